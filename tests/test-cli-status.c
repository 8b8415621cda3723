/* test-cli-status.c: `morango status`, `peers` and `cleanup` end to end, through the built binary
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gstdio.h>
#include <string.h>

#include "morango-known-peer.h"
#include "morango-session.h"
#include "morango-test-util.h"

/* 2026-12-06 10:00:00 UTC; the commands run with TZ=UTC. */
#define T0 G_GINT64_CONSTANT (1796551200000000)

static char *tmp;

typedef struct {
  int   status;
  char *out;
  char *err;
} Run;

static void
run_clear (Run *r)
{
  g_clear_pointer (&r->out, g_free);
  g_clear_pointer (&r->err, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Run, run_clear)

/* Runs `morango --data-dir <tmp>/<dev> ARGS…` as a script would. */
static void
morango (Run        *r,
         const char *dev,
         ...)
{
  const char *cli = g_getenv ("MORANGO_CLI");
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_auto(GStrv) envp = g_get_environ ();
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  const char *a;
  int wait_status = 0;
  va_list args;

  run_clear (r);
  g_assert_nonnull (cli);
  g_ptr_array_add (argv, g_strdup (cli));
  g_ptr_array_add (argv, g_strdup ("--data-dir"));
  g_ptr_array_add (argv, g_build_filename (tmp, dev, NULL));
  va_start (args, dev);
  while ((a = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, g_strdup (a));
  va_end (args);
  g_ptr_array_add (argv, NULL);

  envp = g_environ_unsetenv (envp, "MORANGO_DESCRIPTION");
  envp = g_environ_setenv (envp, "TZ", "UTC", TRUE);
  envp = g_environ_setenv (envp, "LC_ALL", "C.UTF-8", TRUE);
  g_spawn_sync (NULL, (char **) argv->pdata, envp, G_SPAWN_STDIN_FROM_DEV_NULL, NULL, NULL,
                &r->out, &r->err, &wait_status, &error);
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (wait_status));
  r->status = WEXITSTATUS (wait_status);
  line = g_strjoinv (" ", (char **) argv->pdata + 3);
  g_test_message ("%s → %d\n%s%s", line, r->status, r->out, r->err);
}

static MorangoStore *
open_folder (const char *dev)
{
  g_autofree char *dir = g_build_filename (tmp, dev, NULL);
  g_autoptr(MorangoHostInfo) host = morango_host_info_new ("cli-status", "");
  g_autoptr(MorangoRandom) random = morango_random_new_seeded (3);
  g_autoptr(GError) error = NULL;
  MorangoStore *store = morango_store_open_folder (dir, NULL, host, random, &error);

  g_assert_no_error (error);
  return store;
}

static gint64
count (MorangoStore *store,
       const char   *sql)
{
  gint64 n = -1;

  g_assert_true (morango_db_query_int64 (morango_store_get_db (store), &n, NULL, NULL, sql, ""));
  return n;
}

static void
assert_contains (const char *text,
                 const char *part)
{
  if (strstr (text, part) == NULL)
    g_error ("“%s” is not in:\n%s", part, text);
}

static void
test_status (void)
{
  g_auto(Run) r = { 0 };
  g_autoptr(MorangoStore) store = NULL;

  /* A new folder, made with the description named after the command. */
  morango (&r, "s", "status", "--description", "morango-testapp", NULL);
  g_assert_cmpint (r.status, ==, 0);
  assert_contains (r.out, "(description morango-testapp)");
  assert_contains (r.out, "Certificates:     0 (0 with their private key here, 0 trusted roots)");
  assert_contains (r.out, "Active sessions:  0 sync, 0 transfer");
  assert_contains (r.out, "Peers:            0");

  morango (&r, "s", "cert", "create-root", "--scope", "root_scope", NULL);
  g_assert_cmpint (r.status, ==, 0);

  store = open_folder ("s");
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(MorangoFilter) filter = morango_filter_parse ("abc");
    MorangoDb *db = morango_store_get_db (store);

    g_assert_true (morango_db_execute (db, &error,
                                       "INSERT INTO morango_store (id, profile, deleted, last_saved_instance, "
                                       "  last_saved_counter, partition, source_id, model_name) VALUES "
                                       "  ('r1', ?1, 0, 'i', 1, 'p', 's', 'user'), "
                                       "  ('r2', ?1, 1, 'i', 1, 'p', 's', 'user'), "
                                       "  ('r3', ?1, 0, 'i', 1, 'p', 's', 'contentsummarylog')",
                                       "s", morango_store_get_profile_name (store)));
    g_assert_true (morango_sync_session_create (db, "11111111111111111111111111111111", TRUE, "p",
                                                "network", "", NULL, NULL, &error));
    g_assert_true (morango_transfer_session_create (db, "22222222222222222222222222222222",
                                                    "11111111111111111111111111111111", filter, TRUE,
                                                    &error));
    g_assert_no_error (error);
  }
  g_clear_object (&store);

  morango (&r, "s", "status", NULL);
  g_assert_cmpint (r.status, ==, 0);
  /* The instance id the binary works out for this machine. */
  g_assert_true (g_regex_match_simple ("^Instance:         [0-9a-f]{32}$", r.out, G_REGEX_MULTILINE, 0));
  assert_contains (r.out, "Profile:          facilitydata (description morango-testapp)");
  assert_contains (r.out, "  user                     1 (and 1 deleted)\n");
  assert_contains (r.out, "  contentsummarylog        1\n");
  assert_contains (r.out, "  facility                 0\n");
  assert_contains (r.out, "Certificates:     1 (1 with their private key here, 1 trusted roots)");
  assert_contains (r.out, "Active sessions:  1 sync, 1 transfer");

  /* Another description named for an existing folder is refused. */
  morango (&r, "s", "status", "--description", "kolibri-like", NULL);
  g_assert_cmpint (r.status, ==, 1);
  assert_contains (r.err, "--description");
}

static void
test_peers (void)
{
  g_auto(Run) r = { 0 };
  g_autoptr(MorangoStore) store = NULL;
  g_autoptr(GError) error = NULL;

  morango (&r, "p", "peers", NULL);
  g_assert_cmpint (r.status, ==, 0);
  assert_contains (r.out, "No peers known yet");
  assert_contains (r.out, "morango pair URL");

  store = open_folder ("p");
  {
    g_autoptr(MorangoKnownPeer) a = morango_known_peer_add (store, "Facility.local:8000", T0, &error);
    g_autoptr(MorangoKnownPeer) b = morango_known_peer_add (store, "https://cloud.example/", T0, &error);
    g_autoptr(MorangoKnownPeer) c = NULL;

    g_assert_true (morango_known_peer_set_instance_id (store, a->id, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &error));
    g_assert_true (morango_known_peer_record_success (store, a->id, T0 + 60 * G_USEC_PER_SEC, &error));
    /* What a server said, with a line break and an escape sequence. */
    g_assert_true (morango_known_peer_record_failure (store, a->id, T0 + 120 * G_USEC_PER_SEC,
                                                      "refused\n\x1b[2Jfaked line", &error));
    g_assert_true (morango_known_peer_set_tls_fingerprint (store, b->id, "SHA256:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab", &error));
    g_assert_true (morango_known_peer_forget (store, b->id, &error));
    c = morango_known_peer_record_client (store, "cccccccccccccccccccccccccccccccc", NULL, NULL, T0, &error);
    g_assert_no_error (error);
  }
  g_clear_object (&store);

  morango (&r, "p", "peers", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==,
                   "synced     http://facility.local:8000/  instance aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa  "
                   "last success 2026-12-06 10:01:00  last failure 2026-12-06 10:02:00 "
                   "(refused\\x0a\\x1b[2Jfaked line)\n"
                   "synced     (a client of this device)  instance cccccccccccccccccccccccccccccccc  "
                   "last success 2026-12-06 10:00:00  last failure never\n");

  /* --all shows the forgotten one too. */
  morango (&r, "p", "peers", "--all", NULL);
  g_assert_cmpint (r.status, ==, 0);
  assert_contains (r.out, "forgotten  https://cloud.example/  instance unknown  last success never");
  assert_contains (r.out, "last failure never  TLS pin SHA256:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab\n");
}

/* Old sessions with buffers go, recent active ones stay; the
 * expiration is honoured. */
static void
test_cleanup (void)
{
  g_auto(Run) r = { 0 };
  g_autoptr(MorangoStore) store = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *now = morango_db_now_text ();
  MorangoDb *db;

  store = open_folder ("c");
  db = morango_store_get_db (store);
  g_assert_true (morango_db_execute (db, &error,
                                     "INSERT INTO morango_syncsession (id, start_timestamp, "
                                     "  last_activity_timestamp, active, profile, connection_kind, "
                                     "  connection_path) VALUES "
                                     "  ('old', '2020-01-01 00:00:00.000000', '2020-01-01 00:00:00.000000', 1, "
                                     "   'p', 'network', ''), "
                                     "  ('new', ?1, ?1, 1, 'p', 'network', '')",
                                     "s", now));
  g_assert_true (morango_db_execute (db, &error,
                                     "INSERT INTO morango_transfersession (id, filter, push, active, "
                                     "  sync_session_id, start_timestamp, last_activity_timestamp) VALUES "
                                     "  ('t-old', 'p', 1, 1, 'old', '2020-01-01 00:00:00.000000', "
                                     "   '2020-01-01 00:00:00.000000'), "
                                     "  ('t-new', 'p', 1, 1, 'new', ?1, ?1)",
                                     "s", now));
  g_assert_true (morango_db_execute (db, &error,
                                     "INSERT INTO morango_buffer (profile, last_saved_instance, "
                                     "  last_saved_counter, partition, source_id, model_name, "
                                     "  transfer_session_id, model_uuid) "
                                     "WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                                     "  WHERE i < 10) "
                                     "SELECT 'p', 'a', 1, 'p', 's', 'm', t.id, printf ('%032x', i) "
                                     "FROM n, (SELECT 't-old' AS id UNION ALL SELECT 't-new') t", ""));
  g_assert_no_error (error);
  g_clear_object (&store);

  /* Usage errors touch nothing. */
  morango (&r, "c", "cleanup", "--expiration", "0", NULL);
  g_assert_cmpint (r.status, ==, 2);
  assert_contains (r.err, "Try “morango cleanup --help”.");
  morango (&r, "c", "cleanup", "--expiration", "-3", NULL);
  g_assert_cmpint (r.status, ==, 2);
  morango (&r, "c", "cleanup", "--expiration", "six", NULL);
  g_assert_cmpint (r.status, ==, 2);
  {
    /* One line, and the hint. */
    g_auto(GStrv) lines = g_strsplit (g_strstrip (r.err), "\n", -1);

    g_assert_cmpuint (g_strv_length (lines), ==, 2);
  }
  morango (&r, "c", "cleanup", "--bogus", NULL);
  g_assert_cmpint (r.status, ==, 2);
  assert_contains (r.err, "Try “morango cleanup --help”.");

  /* A century is longer than six years: nothing is old enough. */
  morango (&r, "c", "cleanup", "--expiration=876000", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, "Removed 0 sync sessions, 0 transfer sessions, 0 buffered records and "
                              "0 record histories; 0 sessions were abandoned.\n");

  morango (&r, "c", "cleanup", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, "Removed 1 sync sessions, 1 transfer sessions, 10 buffered records and "
                              "0 record histories; 2 sessions were abandoned.\n");

  store = open_folder ("c");
  g_assert_cmpint (count (store, "SELECT count(*) FROM morango_buffer WHERE transfer_session_id = 't-new'"), ==, 10);
  g_assert_cmpint (count (store, "SELECT count(*) FROM morango_buffer"), ==, 10);
  g_assert_cmpint (count (store, "SELECT count(*) FROM morango_transfersession WHERE id = 't-new' AND active = 1"), ==, 1);
  g_assert_cmpint (count (store, "SELECT count(*) FROM morango_syncsession"), ==, 1);
}

/* --help for each, and bad command lines creating nothing. */
static void
test_usage (void)
{
  static const char *commands[] = { "status", "peers", "cleanup" };
  g_autofree char *none = g_build_filename (tmp, "none", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      g_auto(Run) r = { 0 };
      g_autofree char *usage = g_strdup_printf ("morango %s [OPTION…]", commands[i]);
      g_autofree char *hint = g_strdup_printf ("Try “morango %s --help”.", commands[i]);

      morango (&r, "none", commands[i], "--help", NULL);
      g_assert_cmpint (r.status, ==, 0);
      assert_contains (r.out, usage);
      assert_contains (r.out, "--data-dir");
      assert_contains (r.out, "--description");

      morango (&r, "none", commands[i], "surplus", NULL);
      g_assert_cmpint (r.status, ==, 2);
      assert_contains (r.err, "unexpected argument “surplus”");
      assert_contains (r.err, hint);

      morango (&r, "none", commands[i], "--nonsense\x1b[2J", NULL);
      g_assert_cmpint (r.status, ==, 2);
      assert_contains (r.err, "\\x1b[2J");
      g_assert_null (strchr (r.err, '\x1b'));
    }
  g_assert_false (g_file_test (none, G_FILE_TEST_EXISTS));

  /* --data-dir after the command wins. */
  {
    g_auto(Run) r = { 0 };
    g_autofree char *other = g_build_filename (tmp, "after", NULL);
    g_autofree char *db = g_build_filename (other, "morango.db", NULL);

    morango (&r, "none", "peers", "--data-dir", other, NULL);
    g_assert_cmpint (r.status, ==, 0);
    g_assert_true (g_file_test (db, G_FILE_TEST_EXISTS));
    g_assert_false (g_file_test (none, G_FILE_TEST_EXISTS));
  }
}

int
main (int argc, char *argv[])
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  tmp = morango_test_tmpdir ();
  g_test_add_func ("/cli/status/status", test_status);
  g_test_add_func ("/cli/status/peers", test_peers);
  g_test_add_func ("/cli/status/cleanup", test_cleanup);
  g_test_add_func ("/cli/status/usage", test_usage);
  rc = g_test_run ();
  g_free (tmp);
  return rc;
}
