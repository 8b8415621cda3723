/* test-accounts.c: accounts on the serving side, and the limit on failed attempts
 *
 * The account functions on a database of their own; the rate limit
 * with a clock the test moves; and a coach's account over loopback
 * HTTP: a kolibri-like folder with its own full-facility root, served
 * on 127.0.0.1 port 0 in a thread of its own, and a second folder that
 * pairs with it through morango_http_pair.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "morango-account.h"
#include "morango-http-pair.h"
#include "morango-http-peer.h"
#include "morango-http-server.h"
#include "morango-rate-limit.h"
#include "morango-test-util.h"

#define SEC G_USEC_PER_SEC

/* ---- the account functions ---- */

static MorangoStore *
open_folder (const char *dir,
             const char *system)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoHostInfo) host = morango_host_info_new (system, "node");
  g_autoptr(MorangoRandom) random = morango_random_new_secure ();
  MorangoStore *store = morango_store_open_folder (dir, "kolibri-like", host, random, &error);

  g_assert_no_error (error);
  return store;
}

static MorangoAccount *
account_named (GPtrArray  *accounts,
               const char *name)
{
  for (guint i = 0; i < accounts->len; i++)
    if (g_str_equal (morango_account_get_name (g_ptr_array_index (accounts, i)), name))
      return g_ptr_array_index (accounts, i);
  return NULL;
}

static void
test_add_change_remove (void)
{
  static const char * const coach_scopes[] = { "single-user", NULL };
  static const char * const all[] = { MORANGO_ACCOUNT_ALL_SCOPES, NULL };
  g_autofree char *dir = morango_test_tmpdir ();
  g_autoptr(MorangoStore) store = open_folder (dir, "accounts");
  MorangoDb *db = morango_store_get_db (store);
  MorangoRandom *random = morango_store_get_random (store);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) accounts = NULL;
  g_autoptr(MorangoAccount) checked = NULL;
  MorangoAccount *a;

  accounts = morango_account_list (db, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (accounts->len, ==, 0);
  g_clear_pointer (&accounts, g_ptr_array_unref);

  g_assert_true (morango_account_add (db, random, "coach", "whistle", coach_scopes, &error));
  g_assert_no_error (error);
  g_assert_true (morango_account_add (db, random, "admin", "keys", all, &error));
  g_assert_no_error (error);
  g_assert_true (morango_account_add (db, random, "guest", "nothing", NULL, &error));
  g_assert_no_error (error);

  /* Adding never replaces someone's password. */
  g_assert_false (morango_account_add (db, random, "coach", "taken over", all, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_clear_error (&error);
  checked = morango_account_check (db, "coach", "whistle", &error);
  g_assert_no_error (error);
  g_assert_false (morango_account_may_request (checked, "full-facility"));
  g_clear_object (&checked);

  /* Sorted by name, each with its scopes and when it was made. */
  accounts = morango_account_list (db, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (accounts->len, ==, 3);
  g_assert_cmpstr (morango_account_get_name (g_ptr_array_index (accounts, 0)), ==, "admin");
  g_assert_cmpstr (morango_account_get_name (g_ptr_array_index (accounts, 1)), ==, "coach");
  g_assert_cmpstr (morango_account_get_name (g_ptr_array_index (accounts, 2)), ==, "guest");
  a = account_named (accounts, "coach");
  g_assert_cmpuint (g_strv_length ((GStrv) morango_account_get_scopes (a)), ==, 1);
  g_assert_cmpstr (morango_account_get_scopes (a)[0], ==, "single-user");
  g_assert_true (morango_account_may_request (a, "single-user"));
  g_assert_false (morango_account_may_request (a, "full-facility"));
  g_assert_cmpuint (strlen (morango_account_get_created (a)), ==, strlen ("2024-01-01 00:00:00.000000"));
  a = account_named (accounts, "admin");
  g_assert_true (morango_account_may_request (a, "full-facility"));
  g_assert_cmpuint (g_strv_length ((GStrv) morango_account_get_scopes (account_named (accounts, "guest"))), ==, 0);
  g_clear_pointer (&accounts, g_ptr_array_unref);

  /* A new password, the same scopes; the old password stops working. */
  g_assert_true (morango_account_change_password (db, random, "coach", "new whistle", &error));
  g_assert_no_error (error);
  checked = morango_account_check (db, "coach", "whistle", &error);
  g_assert_null (checked);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED);
  g_clear_error (&error);
  checked = morango_account_check (db, "coach", "new whistle", &error);
  g_assert_no_error (error);
  g_assert_true (morango_account_may_request (checked, "single-user"));
  g_assert_false (morango_account_may_request (checked, "full-facility"));
  g_clear_object (&checked);

  /* Changing a password makes no account. */
  g_assert_false (morango_account_change_password (db, random, "stranger", "pw", &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  checked = morango_account_check (db, "stranger", "pw", &error);
  g_assert_null (checked);
  g_clear_error (&error);

  /* Removed with its scopes: the name added again starts afresh. */
  g_assert_true (morango_account_remove (db, "coach", &error));
  g_assert_no_error (error);
  checked = morango_account_check (db, "coach", "new whistle", &error);
  g_assert_null (checked);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED);
  g_clear_error (&error);
  g_assert_false (morango_account_remove (db, "coach", &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_true (morango_account_set_password (db, random, "coach", "again", NULL, &error));
  g_assert_no_error (error);
  checked = morango_account_check (db, "coach", "again", &error);
  g_assert_no_error (error);
  g_assert_false (morango_account_may_request (checked, "single-user"));
  g_assert_cmpuint (g_strv_length ((GStrv) morango_account_get_scopes (checked)), ==, 0);
  g_clear_object (&checked);

  accounts = morango_account_list (db, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (accounts->len, ==, 3);
  g_clear_pointer (&accounts, g_ptr_array_unref);
  g_assert_true (morango_account_remove (db, "admin", &error));
  g_assert_true (morango_account_remove (db, "coach", &error));
  g_assert_true (morango_account_remove (db, "guest", &error));
  g_assert_no_error (error);
  g_assert_false (morango_account_has_any (db));

  /* Names HTTP Basic could not carry, refused before anything else. */
  g_assert_true (morango_account_name_is_valid ("Ms. Müller", &error));
  g_assert_no_error (error);
  g_assert_false (morango_account_name_is_valid ("a:b", &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (morango_account_name_is_valid ("", &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (morango_account_add (db, random, "user=x", "pw", all, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (morango_account_has_any (db));
}

/* ---- the rate limit ---- */

/* @n failed attempts from @address at @start, @start + @step, … */
static void
fail_times (MorangoRateLimit *limit,
            const char       *address,
            guint             n,
            gint64            start,
            gint64            step)
{
  for (guint i = 0; i < n; i++)
    {
      g_assert_true (morango_rate_limit_begin (limit, address, start + i * step, NULL));
      morango_rate_limit_end (limit, address, start + i * step, TRUE);
    }
}

static void
test_limit_window (void)
{
  g_autoptr(MorangoRateLimit) limit = morango_rate_limit_new (5, 60 * SEC, 16);
  gint64 wait = 0;

  /* Failures at 0, 1, 2, 3 and 4 s. */
  fail_times (limit, "192.0.2.1", 5, 0, SEC);
  g_assert_false (morango_rate_limit_begin (limit, "192.0.2.1", 4 * SEC, &wait));
  g_assert_cmpint (wait, ==, 56 * SEC);
  /* Another address is another count. */
  g_assert_true (morango_rate_limit_begin (limit, "192.0.2.2", 4 * SEC, &wait));
  g_assert_cmpint (wait, ==, 0);
  morango_rate_limit_end (limit, "192.0.2.2", 4 * SEC, FALSE);

  /* The window slides: the first failure leaves it at 60 s, not
   * before. */
  g_assert_false (morango_rate_limit_begin (limit, "192.0.2.1", 60 * SEC - 1, &wait));
  g_assert_cmpint (wait, ==, 1);
  g_assert_true (morango_rate_limit_begin (limit, "192.0.2.1", 60 * SEC, &wait));
  morango_rate_limit_end (limit, "192.0.2.1", 60 * SEC, TRUE);
  /* That failure takes the free place again, until the one at 1 s
   * leaves. */
  g_assert_false (morango_rate_limit_begin (limit, "192.0.2.1", 60 * SEC, &wait));
  g_assert_cmpint (wait, ==, 1 * SEC);
  g_assert_true (morango_rate_limit_begin (limit, "192.0.2.1", 61 * SEC, &wait));
  morango_rate_limit_end (limit, "192.0.2.1", 61 * SEC, FALSE);

  /* A minute after the last failure the address is forgotten. */
  g_assert_cmpuint (morango_rate_limit_get_n_addresses (limit), ==, 1);
  g_assert_true (morango_rate_limit_begin (limit, "192.0.2.1", 121 * SEC, &wait));
  morango_rate_limit_end (limit, "192.0.2.1", 121 * SEC, FALSE);
  g_assert_cmpuint (morango_rate_limit_get_n_addresses (limit), ==, 0);
}

/* Attempts under way count as failures until they end, and a success
 * wipes nothing. */
static void
test_limit_under_way (void)
{
  g_autoptr(MorangoRateLimit) limit = morango_rate_limit_new (5, 60 * SEC, 16);
  gint64 wait = 0;

  for (guint i = 0; i < 5; i++)
    g_assert_true (morango_rate_limit_begin (limit, "198.51.100.7", 0, NULL));
  g_assert_false (morango_rate_limit_begin (limit, "198.51.100.7", 0, &wait));
  /* Nothing has failed yet: the answer is soon. */
  g_assert_cmpint (wait, ==, SEC);
  for (guint i = 0; i < 5; i++)
    morango_rate_limit_end (limit, "198.51.100.7", 0, FALSE);
  g_assert_cmpuint (morango_rate_limit_get_n_addresses (limit), ==, 0);

  /* Four failures, then one attempt that succeeds: the four stay. */
  fail_times (limit, "198.51.100.7", 4, 10 * SEC, 0);
  g_assert_true (morango_rate_limit_begin (limit, "198.51.100.7", 11 * SEC, NULL));
  /* While it is under way, the limit is full. */
  g_assert_false (morango_rate_limit_begin (limit, "198.51.100.7", 11 * SEC, &wait));
  g_assert_cmpint (wait, ==, 59 * SEC);
  morango_rate_limit_end (limit, "198.51.100.7", 11 * SEC, FALSE);
  fail_times (limit, "198.51.100.7", 1, 12 * SEC, 0);
  g_assert_false (morango_rate_limit_begin (limit, "198.51.100.7", 12 * SEC, &wait));
  g_assert_cmpint (wait, ==, 58 * SEC);

  /* With failures and attempts under way together, the wait is for
   * enough failures to leave the window. */
  {
    g_autoptr(MorangoRateLimit) mixed = morango_rate_limit_new (5, 60 * SEC, 16);

    fail_times (mixed, "a", 3, 0, SEC);               /* at 0, 1, 2 s */
    g_assert_true (morango_rate_limit_begin (mixed, "a", 5 * SEC, NULL));
    g_assert_true (morango_rate_limit_begin (mixed, "a", 5 * SEC, NULL));
    g_assert_false (morango_rate_limit_begin (mixed, "a", 5 * SEC, &wait));
    /* One failure must go: the one at 0 s. */
    g_assert_cmpint (wait, ==, 55 * SEC);
    morango_rate_limit_end (mixed, "a", 6 * SEC, TRUE);
    morango_rate_limit_end (mixed, "a", 6 * SEC, TRUE);
    /* Now five failures: wait for the one at 0 s still. */
    g_assert_false (morango_rate_limit_begin (mixed, "a", 6 * SEC, &wait));
    g_assert_cmpint (wait, ==, 54 * SEC);
  }
}

/* The table holds at most its size of addresses; the idle ones go
 * first, then the one whose last failure is the oldest. */
static void
test_limit_bounded (void)
{
  g_autoptr(MorangoRateLimit) limit = morango_rate_limit_new (3, 60 * SEC, 8);
  gint64 wait = 0;

  for (guint i = 0; i < 1000; i++)
    {
      g_autofree char *address = g_strdup_printf ("10.0.%u.%u", i / 256, i % 256);

      fail_times (limit, address, 3, i, 0);
      g_assert_cmpuint (morango_rate_limit_get_n_addresses (limit), <=, 8);
    }
  g_assert_cmpuint (morango_rate_limit_get_n_addresses (limit), ==, 8);
  /* The last eight are still held back; the ones before were let go. */
  g_assert_false (morango_rate_limit_begin (limit, "10.0.3.231", 1000, &wait));
  g_assert_false (morango_rate_limit_begin (limit, "10.0.3.224", 1000, &wait));
  g_assert_true (morango_rate_limit_begin (limit, "10.0.3.223", 1000, &wait));
  morango_rate_limit_end (limit, "10.0.3.223", 1000, FALSE);
  g_assert_cmpuint (morango_rate_limit_get_n_addresses (limit), <=, 8);

  /* Addresses with attempts under way are never let go; when all are,
   * a new one waits. */
  {
    g_autoptr(MorangoRateLimit) busy = morango_rate_limit_new (3, 60 * SEC, 4);

    for (guint i = 0; i < 4; i++)
      {
        g_autofree char *address = g_strdup_printf ("busy-%u", i);

        g_assert_true (morango_rate_limit_begin (busy, address, 0, NULL));
      }
    g_assert_false (morango_rate_limit_begin (busy, "new", 0, &wait));
    g_assert_cmpint (wait, ==, SEC);
    morango_rate_limit_end (busy, "busy-0", 0, FALSE);
    g_assert_true (morango_rate_limit_begin (busy, "new", 0, &wait));
    g_assert_cmpuint (morango_rate_limit_get_n_addresses (busy), ==, 4);
  }

  /* Attempts that succeed leave nothing behind, so a crowd of them
   * pushes out nobody. */
  {
    g_autoptr(MorangoRateLimit) crowd = morango_rate_limit_new (2, 60 * SEC, 4);

    fail_times (crowd, "guesser", 2, 0, 0);
    for (guint i = 0; i < 100; i++)
      {
        g_autofree char *address = g_strdup_printf ("crowd-%u", i);

        g_assert_true (morango_rate_limit_begin (crowd, address, SEC, NULL));
        morango_rate_limit_end (crowd, address, SEC, FALSE);
      }
    g_assert_false (morango_rate_limit_begin (crowd, "guesser", SEC, NULL));
  }
}

static void
test_limit_address_key (void)
{
  static const struct { const char *ip, *key; } cases[] = {
    { "127.0.0.1", "127.0.0.1" },
    { "192.168.1.20", "192.168.1.20" },
    { "::ffff:192.168.1.20", "192.168.1.20" },
    { "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64" },
    { "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64" },
    { "2001:db8:1:3::1", "2001:db8:1:3::/64" },
    { "::1", "::/64" },
    { "not an address", "not an address" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *key = morango_rate_limit_address_key (cases[i].ip);

      g_assert_cmpstr (key, ==, cases[i].key);
    }
}

/* ---- a coach's account over HTTP ---- */

#define COACH_PASSWORD "whistle"

typedef struct {
  char              *dir_server;
  char              *dir_client;
  MorangoStore      *server_store;   /* the test's own connection */
  MorangoStore      *client;
  MorangoHttpServer *server;
  GThread           *thread;
  GMainContext      *context;
  GMainLoop         *loop;
  GMutex             lock;
  GCond              cond;
  gboolean           ready;
  char              *url;
  char              *dataset;
} Fixture;

static gpointer
serve (gpointer data)
{
  Fixture *f = data;
  g_autoptr(GError) error = NULL;

  g_main_context_push_thread_default (f->context);
  g_assert_true (morango_http_server_listen (f->server, "127.0.0.1", 0, &error));
  g_assert_no_error (error);
  g_mutex_lock (&f->lock);
  f->url = g_strdup_printf ("http://127.0.0.1:%u/", morango_http_server_get_port (f->server));
  f->ready = TRUE;
  g_cond_signal (&f->cond);
  g_mutex_unlock (&f->lock);
  g_main_loop_run (f->loop);
  morango_http_server_disconnect (f->server);
  while (g_main_context_iteration (f->context, FALSE))
    ;
  g_main_context_pop_thread_default (f->context);
  return NULL;
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  static const char * const coach_scopes[] = { "single-user", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoCertificate) root = NULL;
  g_autoptr(MorangoHostInfo) host = morango_host_info_new ("facility", "node");

  g_mutex_init (&f->lock);
  g_cond_init (&f->cond);
  f->dir_server = morango_test_tmpdir ();
  f->dir_client = morango_test_tmpdir ();
  f->server_store = open_folder (f->dir_server, "facility");
  f->client = open_folder (f->dir_client, "home");
  root = morango_certificate_create_root (morango_store_get_db (f->server_store), "full-facility", NULL, NULL, &error);
  g_assert_no_error (error);
  f->dataset = g_strdup (morango_certificate_get_id (root));
  g_assert_true (morango_account_add (morango_store_get_db (f->server_store), morango_store_get_random (f->server_store),
                                      "coach", COACH_PASSWORD, coach_scopes, &error));
  g_assert_no_error (error);

  f->server = morango_http_server_new (f->dir_server, "kolibri-like", host, &error);
  g_assert_no_error (error);
  f->context = g_main_context_new ();
  f->loop = g_main_loop_new (f->context, FALSE);
  f->thread = g_thread_new ("server", serve, f);
  g_mutex_lock (&f->lock);
  while (!f->ready)
    g_cond_wait (&f->cond, &f->lock);
  g_mutex_unlock (&f->lock);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_main_loop_quit (f->loop);
  g_thread_join (f->thread);
  g_clear_object (&f->server);
  g_main_loop_unref (f->loop);
  g_main_context_unref (f->context);
  g_clear_object (&f->server_store);
  g_clear_object (&f->client);
  g_free (f->dataset);
  g_free (f->url);
  g_free (f->dir_server);
  g_free (f->dir_client);
  g_mutex_clear (&f->lock);
  g_cond_clear (&f->cond);
}

static MorangoCertificate *
pair_as_coach (Fixture     *f,
               const char  *scope_definition,
               const char  *params,
               const char  *password,
               GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(MorangoHttpPeer) peer = morango_http_peer_new (f->url, f->client, NULL, NULL, &local_error);

  g_assert_no_error (local_error);
  return morango_http_pair (peer, f->dataset, NULL, scope_definition, params, "coach", password, NULL, error);
}

static gint64
certificates_in (MorangoStore *store)
{
  g_autoptr(GError) error = NULL;
  gint64 n = -1;

  g_assert_true (morango_db_query_int64 (morango_store_get_db (store), &n, NULL, &error,
                                         "SELECT count(*) FROM morango_certificate", ""));
  g_assert_no_error (error);
  return n;
}

static void
test_coach (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoCertificate) cert = NULL;
  g_autofree char *facility_params = g_strdup_printf ("{\"dataset_id\": \"%s\"}", f->dataset);
  g_autofree char *learner_params = g_strdup_printf ("{\"dataset_id\": \"%s\", \"user_id\": \"%032x\"}",
                                                     f->dataset, 7);

  /* The whole facility is not the coach's to ask for: 403, and
   * nothing stored on either side. */
  cert = pair_as_coach (f, "full-facility", facility_params, COACH_PASSWORD, &error);
  g_assert_null (cert);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED);
  g_assert_nonnull (strstr (error->message, "403"));
  g_clear_error (&error);
  g_assert_cmpint (certificates_in (f->server_store), ==, 1);
  g_assert_cmpint (certificates_in (f->client), ==, 0);

  /* A wrong password is 401, whatever the scope. */
  cert = pair_as_coach (f, "single-user", learner_params, "whistle!", &error);
  g_assert_null (cert);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED);
  g_assert_nonnull (strstr (error->message, "401"));
  g_clear_error (&error);
  g_assert_cmpint (certificates_in (f->server_store), ==, 1);

  /* One learner's data is: 201, a certificate under the root. */
  cert = pair_as_coach (f, "single-user", learner_params, COACH_PASSWORD, &error);
  g_assert_no_error (error);
  g_assert_nonnull (cert);
  g_assert_cmpstr (morango_certificate_get_scope_definition_id (cert), ==, "single-user");
  g_assert_cmpstr (morango_certificate_get_parent_id (cert), ==, f->dataset);
  g_assert_true (morango_certificate_has_private_key (cert));
  g_assert_cmpint (certificates_in (f->server_store), ==, 2);
  g_assert_cmpint (certificates_in (f->client), ==, 2);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/accounts/add-change-remove", test_add_change_remove);
  g_test_add_func ("/accounts/limit/window", test_limit_window);
  g_test_add_func ("/accounts/limit/under-way", test_limit_under_way);
  g_test_add_func ("/accounts/limit/bounded", test_limit_bounded);
  g_test_add_func ("/accounts/limit/address-key", test_limit_address_key);
  g_test_add ("/accounts/coach", Fixture, NULL, fixture_set_up, test_coach, fixture_tear_down);

  return g_test_run ();
}
