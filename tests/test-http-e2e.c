/* test-http-e2e.c: a client and a server of this engine, end to end over loopback HTTP
 *
 * Folder A (kolibri-like, its own full-facility root, an admin account)
 * is served by a MorangoHttpServer on 127.0.0.1 port 0 in a thread of
 * its own; folder B pairs with it (morango_http_pair) and syncs with
 * morango_transfer over a MorangoHttpPeer.  Every variant of the wire
 * (FSIC v2, v1, the legacy flow) carries the same data, and what arrives
 * is compared row for row.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "morango-account.h"
#include "morango-app.h"
#include "morango-http-pair.h"
#include "morango-http-peer.h"
#include "morango-http-server.h"
#include "morango-monitor-private.h"
#include "morango-test-util.h"
#include "morango-transfer.h"
#include "morango-trust.h"

#define ADMIN_PASSWORD "correct horse"
#define CHUNK 7
#define N_LEARNERS 3
#define LOGS_PER_LEARNER 12

typedef struct {
  char              *dir_a;
  char              *dir_b;
  MorangoStore      *a;          /* the test's own connection to A */
  MorangoStore      *b;          /* the client's store */

  MorangoHttpServer *server;
  GThread           *thread;
  GMainContext      *context;
  GMainLoop         *loop;
  GMutex             lock;
  GCond              cond;
  gboolean           ready;
  char              *url;
  MorangoWireCapabilities caps;

  char              *dataset;    /* A's root id, the dataset */
  char              *facility;
  char              *learners[N_LEARNERS];
  MorangoCertificate *cert;      /* B's, from pairing */
} Fixture;

/* ---- the server's thread ---- */

static gpointer
serve (gpointer data)
{
  Fixture *f = data;
  g_autoptr(GError) error = NULL;

  g_main_context_push_thread_default (f->context);
  morango_http_server_set_capabilities (f->server, f->caps);
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

static char *
create (MorangoStore *store,
        const char   *model,
        JsonObject   *fields)
{
  g_autoptr(GError) error = NULL;
  char *id = NULL;

  g_assert_true (morango_app_create (morango_store_get_app (store), model, fields, &id, &error));
  g_assert_no_error (error);
  return id;
}

static char *
add_log (Fixture      *f,
         MorangoStore *store,
         const char   *user,
         guint         n)
{
  g_autoptr(JsonObject) log = json_object_new ();
  g_autofree char *content = g_strdup_printf ("%032x", n);

  json_object_set_string_member (log, "dataset_id", f->dataset);
  json_object_set_string_member (log, "user_id", user);
  json_object_set_string_member (log, "content_id", content);
  json_object_set_double_member (log, "progress", (n % 10) / 10.0);
  return create (store, "contentsummarylog", log);
}

static char *
add_anonymous (Fixture      *f,
               MorangoStore *store,
               guint         n)
{
  g_autoptr(JsonObject) log = json_object_new ();
  g_autofree char *content = g_strdup_printf ("%032x", 1000 + n);

  json_object_set_string_member (log, "dataset_id", f->dataset);
  json_object_set_string_member (log, "content_id", content);
  json_object_set_double_member (log, "progress", 0.5);
  return create (store, "anonymoussessionlog", log);
}

/* A's facility: three learners with their logs, a classroom,
 * anonymous logs. */
static void
seed_facility (Fixture *f)
{
  g_autoptr(JsonObject) facility = json_object_new ();
  g_autoptr(JsonObject) classroom = json_object_new ();

  json_object_set_string_member (facility, "dataset_id", f->dataset);
  json_object_set_string_member (facility, "name", "Riverside School");
  f->facility = create (f->a, "facility", facility);
  for (guint i = 0; i < N_LEARNERS; i++)
    {
      g_autoptr(JsonObject) u = json_object_new ();
      g_autofree char *name = g_strdup_printf ("learner%u", i);

      json_object_set_string_member (u, "dataset_id", f->dataset);
      json_object_set_string_member (u, "facility_id", f->facility);
      json_object_set_string_member (u, "username", name);
      f->learners[i] = create (f->a, "facilityuser", u);
      for (guint n = 0; n < LOGS_PER_LEARNER; n++)
        g_free (add_log (f, f->a, f->learners[i], i * 100 + n));
    }
  json_object_set_string_member (classroom, "dataset_id", f->dataset);
  json_object_set_string_member (classroom, "facility_id", f->facility);
  json_object_set_string_member (classroom, "name", "Class A");
  g_free (create (f->a, "classroom", classroom));
  for (guint n = 0; n < 4; n++)
    g_free (add_anonymous (f, f->a, n));
}

static void
start (Fixture                 *f,
       MorangoWireCapabilities  caps)
{
  static const char *const all[] = { MORANGO_ACCOUNT_ALL_SCOPES, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoCertificate) root = NULL;
  g_autoptr(MorangoHostInfo) host = morango_host_info_new ("system-a", "node");

  g_mutex_init (&f->lock);
  g_cond_init (&f->cond);
  f->dir_a = morango_test_tmpdir ();
  f->dir_b = morango_test_tmpdir ();
  f->a = open_folder (f->dir_a, "system-a");
  f->b = open_folder (f->dir_b, "system-b");

  root = morango_certificate_create_root (morango_store_get_db (f->a), "full-facility", NULL, NULL, &error);
  g_assert_no_error (error);
  f->dataset = g_strdup (morango_certificate_get_id (root));
  g_assert_true (morango_account_set_password (morango_store_get_db (f->a), morango_store_get_random (f->a),
                                               MORANGO_ACCOUNT_ADMIN, ADMIN_PASSWORD, all, &error));
  g_assert_no_error (error);
  seed_facility (f);

  f->caps = caps;
  f->server = morango_http_server_new (f->dir_a, "kolibri-like", host, &error);
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
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  start (f, data ? (MorangoWireCapabilities) GPOINTER_TO_UINT (data) : MORANGO_WIRE_CAPS_DEFAULT);
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
  g_clear_object (&f->cert);
  g_clear_object (&f->a);
  g_clear_object (&f->b);
  for (guint i = 0; i < N_LEARNERS; i++)
    g_free (f->learners[i]);
  g_free (f->facility);
  g_free (f->dataset);
  g_free (f->url);
  g_free (f->dir_a);
  g_free (f->dir_b);
  g_mutex_clear (&f->lock);
  g_cond_clear (&f->cond);
}

/* ---- the client ---- */

static MorangoHttpPeer *
new_peer (Fixture            *f,
          MorangoCertificate *cert)
{
  g_autoptr(GError) error = NULL;
  MorangoHttpPeer *peer = morango_http_peer_new (f->url, f->b, cert, cert ? f->dataset : NULL, &error);

  g_assert_no_error (error);
  return peer;
}

static MorangoCertificate *
pair (Fixture     *f,
      const char  *scope_definition,
      const char  *params,
      const char  *password,
      GError     **error)
{
  g_autoptr(MorangoHttpPeer) peer = new_peer (f, NULL);

  return morango_http_pair (peer, f->dataset, NULL, scope_definition, params, MORANGO_ACCOUNT_ADMIN,
                            password, NULL, error);
}

static void
pair_full_facility (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *params = g_strdup_printf ("{\"dataset_id\": \"%s\"}", f->dataset);

  f->cert = pair (f, "full-facility", params, ADMIN_PASSWORD, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->cert);
}

static void
pair_single_user (Fixture    *f,
                  const char *learner)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *params = g_strdup_printf ("{\"dataset_id\": \"%s\", \"user_id\": \"%s\"}",
                                             f->dataset, learner);

  f->cert = pair (f, "single-user", params, ADMIN_PASSWORD, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->cert);
}

/* The filter a pull (the certificate's read side) or a push (its write
 * side) of B's certificate covers. */
static MorangoFilter *
scope_filter (Fixture  *f,
              gboolean  push)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoScope) scope = morango_certificate_get_scope (f->cert, morango_store_get_db (f->b), &error);

  g_assert_no_error (error);
  return morango_filter_ref (push ? morango_scope_get_write (scope) : morango_scope_get_read (scope));
}

static gboolean
transfer (Fixture               *f,
          MorangoFilter         *filter,
          gboolean               push,
          const char            *resume,
          MorangoMonitor        *monitor,
          MorangoTransferStats  *stats,
          GError               **error)
{
  g_autoptr(MorangoHttpPeer) peer = new_peer (f, f->cert);
  g_autoptr(MorangoFilter) writable = scope_filter (f, TRUE);
  MorangoTransferOptions options = MORANGO_TRANSFER_OPTIONS_INIT;

  if (!morango_http_peer_connect (peer, NULL, error))
    return FALSE;
  options.format = morango_http_peer_get_fsic_format (peer);
  options.chunk_size = CHUNK;
  options.resume_transfer_session_id = resume;
  options.writable = writable;
  return morango_transfer (f->b, MORANGO_PEER (peer), filter, push, &options, monitor, stats, error);
}

static MorangoTransferStats
sync_ok (Fixture  *f,
         gboolean  push)
{
  g_autoptr(MorangoFilter) filter = scope_filter (f, push);
  g_autoptr(GError) error = NULL;
  MorangoTransferStats stats;

  g_assert_true (transfer (f, filter, push, NULL, NULL, &stats, &error));
  g_assert_no_error (error);
  return stats;
}

/* ---- comparing the two folders ---- */

static gint64
count (MorangoStore *store,
       const char   *sql)
{
  gint64 n = -1;

  g_assert_true (morango_db_query_int64 (morango_store_get_db (store), &n, NULL, NULL, sql, ""));
  return n;
}

/* Every store row of @filter with its history, one text per row, by id. */
static GPtrArray *
store_rows (MorangoStore  *store,
            MorangoFilter *filter,
            GHashTable    *ids)
{
  MorangoDb *db = morango_store_get_db (store);
  GPtrArray *rows = g_ptr_array_new_with_free_func (g_free);
  sqlite3_stmt *stmt = morango_db_prepare (db,
      "SELECT s.id, s.partition, s.serialized, s.deleted, s.hard_deleted, s.last_saved_instance, "
      "  s.last_saved_counter, s.model_name, s.conflicting_serialized_data, "
      "  (SELECT group_concat (instance_id || '=' || counter, ',') FROM "
      "     (SELECT instance_id, counter FROM morango_recordmaxcounter r "
      "      WHERE r.store_model_id = s.id ORDER BY instance_id)) "
      "FROM morango_store s ORDER BY s.id", NULL);

  g_assert_nonnull (stmt);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      const char *partition = (const char *) sqlite3_column_text (stmt, 1);

      if (!morango_filter_contains (filter, partition))
        continue;
      if (ids != NULL)
        g_hash_table_add (ids, g_strdup ((const char *) sqlite3_column_text (stmt, 0)));
      g_ptr_array_add (rows, g_strdup_printf ("%s|%s|%s|%d|%d|%s|%" G_GINT64_FORMAT "|%s|%s|%s",
                                              sqlite3_column_text (stmt, 0), partition,
                                              sqlite3_column_text (stmt, 2), sqlite3_column_int (stmt, 3),
                                              sqlite3_column_int (stmt, 4), sqlite3_column_text (stmt, 5),
                                              (gint64) sqlite3_column_int64 (stmt, 6),
                                              sqlite3_column_text (stmt, 7), sqlite3_column_text (stmt, 8),
                                              sqlite3_column_text (stmt, 9)));
    }
  sqlite3_reset (stmt);
  return rows;
}

static const char *app_tables[] = {
  "kolibri_facility", "kolibri_facilityuser", "kolibri_classroom", "kolibri_lesson",
  "kolibri_lessonassignment", "kolibri_contentsummarylog", "kolibri_contentsessionlog",
  "kolibri_anonymoussessionlog",
};

/* The rows of app table @table whose id is in @ids (NULL: all), every
 * column, by id. */
static GPtrArray *
app_rows (MorangoStore *store,
          const char   *table,
          GHashTable   *ids)
{
  MorangoDb *db = morango_store_get_db (store);
  GPtrArray *rows = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *sql = g_strdup_printf ("SELECT * FROM \"%s\" ORDER BY id", table);
  sqlite3_stmt *stmt = morango_db_prepare (db, sql, NULL);

  g_assert_nonnull (stmt);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      GString *row = g_string_new (NULL);

      if (ids != NULL && !g_hash_table_contains (ids, sqlite3_column_text (stmt, 0)))
        {
          g_string_free (row, TRUE);
          continue;
        }
      for (int c = 0; c < sqlite3_column_count (stmt); c++)
        {
          const char *value = (const char *) sqlite3_column_text (stmt, c);
          int len = value ? (int) strlen (value) : 0;

          /* A datetime travels to the millisecond (§5, as Morango
           * serializes it): the writer's own row keeps microseconds. */
          if (len == 26 && value[4] == '-' && value[10] == ' ' && value[19] == '.')
            len = 23;
          g_string_append_printf (row, "%s=%.*s|", sqlite3_column_name (stmt, c),
                                  value ? len : 4, value ? value : "NULL");
        }
      g_ptr_array_add (rows, g_string_free (row, FALSE));
    }
  sqlite3_reset (stmt);
  return rows;
}

static void
assert_same_rows (const char *what,
                  GPtrArray  *a,
                  GPtrArray  *b)
{
  for (guint i = 0; i < MIN (a->len, b->len); i++)
    if (g_strcmp0 (a->pdata[i], b->pdata[i]) != 0)
      g_error ("%s, row %u:\n  A: %s\n  B: %s", what, i, (char *) a->pdata[i], (char *) b->pdata[i]);
  if (a->len != b->len)
    g_error ("%s: A holds %u rows, B %u", what, a->len, b->len);
}

/* Both folders hold the same records of @filter, and the application
 * rows of those records are the same on both.  Returns how many. */
static guint
assert_same (Fixture       *f,
             MorangoFilter *filter)
{
  g_autoptr(GHashTable) ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) ids_b = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) in_a = store_rows (f->a, filter, ids);
  g_autoptr(GPtrArray) in_b = store_rows (f->b, filter, ids_b);

  assert_same_rows ("store", in_a, in_b);
  for (guint t = 0; t < G_N_ELEMENTS (app_tables); t++)
    {
      g_autoptr(GPtrArray) app_a = app_rows (f->a, app_tables[t], ids);
      g_autoptr(GPtrArray) app_b = app_rows (f->b, app_tables[t], ids_b);

      assert_same_rows (app_tables[t], app_a, app_b);
    }
  return in_a->len;
}

/* ---- the tests ---- */

/* Pull, push, then both again with nothing new: whatever the wire
 * variant, B ends with A's facility and A with B's new records. */
static void
test_full_facility (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(MorangoFilter) everything = NULL;
  MorangoTransferStats stats;
  guint n;

  pair_full_facility (f);
  everything = scope_filter (f, FALSE);

  stats = sync_ok (f, FALSE);
  n = 1 + N_LEARNERS * (1 + LOGS_PER_LEARNER) + 1 + 4;
  g_assert_cmpint (stats.records_total, ==, n);
  g_assert_cmpint (stats.records_transferred, ==, n);
  g_assert_cmpint (n / CHUNK, >=, 3);
  g_assert_cmpuint (assert_same (f, everything), ==, n);

  /* B's own work goes back. */
  for (guint i = 0; i < 9; i++)
    g_free (add_log (f, f->b, f->learners[i % N_LEARNERS], 500 + i));
  g_free (add_anonymous (f, f->b, 50));
  stats = sync_ok (f, TRUE);
  g_assert_cmpint (stats.records_transferred, ==, 10);
  g_assert_cmpuint (assert_same (f, everything), ==, n + 10);

  /* Nothing new either way.  The legacy flow cannot tell: its server
   * only sees the "{}" FSIC of the creation request, so it sends what
   * its FSIC covers again, and a legacy push leaves the server's DMC as
   * it was (§9.6); nothing changes on either side all the same. */
  {
    g_autoptr(GPtrArray) a_before = store_rows (f->a, everything, NULL);
    g_autoptr(GPtrArray) b_before = store_rows (f->b, everything, NULL);
    g_autoptr(GPtrArray) a_after = NULL;
    g_autoptr(GPtrArray) b_after = NULL;
    gboolean legacy = (f->caps & MORANGO_WIRE_CAP_ASYNC_OPERATIONS) == 0;

    stats = sync_ok (f, FALSE);
    g_assert_cmpint (stats.records_transferred, ==, legacy ? n : 0);
    g_assert_cmpint (stats.dequeue.n_new + stats.dequeue.n_fast_forward + stats.dequeue.n_conflict, ==, 0);
    stats = sync_ok (f, TRUE);
    g_assert_cmpint (stats.records_transferred, ==, legacy ? 10 : 0);
    a_after = store_rows (f->a, everything, NULL);
    b_after = store_rows (f->b, everything, NULL);
    assert_same_rows ("A before and after", a_before, a_after);
    assert_same_rows ("B before and after", b_before, b_after);
  }
  g_assert_cmpuint (assert_same (f, everything), ==, n + 10);
  /* Sessions closed, buffers gone, on both sides. */
  g_assert_cmpint (count (f->a, "SELECT count(*) FROM morango_transfersession WHERE active"), ==, 0);
  g_assert_cmpint (count (f->a, "SELECT count(*) FROM morango_buffer"), ==, 0);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM morango_buffer"), ==, 0);
}

/* A learner's device: it receives that learner's records and what all
 * users read, nothing of the other learners or the anonymous logs, and
 * may write only its learner's records and anonymous logs. */
static void
test_single_user (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(MorangoFilter) readable = NULL;
  g_autoptr(MorangoFilter) dataset = NULL;
  g_autoptr(MorangoFilter) others = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  MorangoTransferStats stats;
  guint n;

  pair_single_user (f, f->learners[1]);
  readable = scope_filter (f, FALSE);

  stats = sync_ok (f, FALSE);
  /* The facility, the classroom, the learner and the learner's logs. */
  n = 1 + 1 + 1 + LOGS_PER_LEARNER;
  g_assert_cmpint (stats.records_transferred, ==, n);
  g_assert_cmpuint (assert_same (f, readable), ==, n);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM kolibri_contentsummarylog"), ==, LOGS_PER_LEARNER);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM kolibri_anonymoussessionlog"), ==, 0);

  for (guint i = 0; i < 3; i++)
    g_free (add_log (f, f->b, f->learners[1], 700 + i));
  g_free (add_anonymous (f, f->b, 70));
  stats = sync_ok (f, TRUE);
  /* A v1 FSIC is one counter per instance, the least over the filter's
   * partitions: A never counted its records under the anonymous
   * partition of the push filter, so B's v1 diff sends A's records of
   * the learner back too (they change nothing there).  v2 counts per
   * partition. */
  g_assert_cmpint (stats.records_transferred, ==,
                   (f->caps & MORANGO_WIRE_CAP_FSIC_V2_FORMAT) ? 4 : 4 + LOGS_PER_LEARNER);
  g_assert_cmpuint (assert_same (f, readable), ==, n + 3);
  g_assert_cmpint (count (f->a, "SELECT count(*) FROM kolibri_anonymoussessionlog"), ==, 5);

  /* A push of the whole dataset is outside the write scope: refused,
   * nothing applied on A. */
  dataset = morango_filter_parse (f->dataset);
  g_free (add_log (f, f->b, f->learners[1], 800));
  before = g_strdup_printf ("%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT,
                            count (f->a, "SELECT count(*) FROM morango_store"),
                            count (f->a, "SELECT count(*) FROM morango_transfersession"));
  g_assert_false (transfer (f, dataset, TRUE, NULL, NULL, &stats, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED);
  g_test_message ("%s", error->message);
  after = g_strdup_printf ("%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT,
                           count (f->a, "SELECT count(*) FROM morango_store"),
                           count (f->a, "SELECT count(*) FROM morango_transfersession"));
  g_assert_cmpstr (after, ==, before);
  g_clear_error (&error);

  /* Pulling another learner's records is refused as well. */
  others = morango_filter_parse (f->dataset);
  g_assert_false (transfer (f, others, FALSE, NULL, NULL, &stats, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM kolibri_contentsummarylog"), ==, LOGS_PER_LEARNER + 4);
}

/* A wrong password: refused, and B stores and trusts nothing. */
static void
test_wrong_password (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *params = g_strdup_printf ("{\"dataset_id\": \"%s\"}", f->dataset);
  g_autoptr(MorangoCertificate) cert = pair (f, "full-facility", params, "wrong", &error);

  g_assert_null (cert);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM morango_certificate"), ==, 0);
  g_assert_false (morango_trust_is_trusted (morango_store_get_db (f->b), f->dataset));
  g_assert_cmpint (count (f->a, "SELECT count(*) FROM morango_certificate"), ==, 1);
}

/* B opens a sync session with a root of its own, which A never agreed
 * to trust: 403 CertificateRootUntrusted, and A keeps nothing of it. */
static void
test_untrusted_root (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoFilter) filter = NULL;
  g_autoptr(MorangoCertificate) own = NULL;
  g_autofree char *params = NULL;
  MorangoTransferStats stats;

  pair_full_facility (f);   /* so that B trusts A's root */
  own = morango_certificate_create_root (morango_store_get_db (f->b), "full-facility", NULL, NULL, &error);
  g_assert_no_error (error);
  g_set_object (&f->cert, own);
  params = g_strdup (morango_certificate_get_id (own));
  filter = morango_filter_parse (params);
  g_assert_false (transfer (f, filter, FALSE, NULL, NULL, &stats, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED);
  g_assert_nonnull (strstr (error->message, "CertificateRootUntrusted"));
  g_assert_cmpint (count (f->a, "SELECT count(*) FROM morango_syncsession"), ==, 0);
  g_assert_cmpint (count (f->a, "SELECT count(*) FROM morango_certificate"), ==, 2);
}

typedef struct {
  guint    at;       /* cancel as the @at-th chunk is counted */
  guint    seen;
} CancelAt;

static gboolean
cancel_at_chunk (MorangoMonitor  *monitor,
                 const char      *point,
                 gint64           done,
                 gpointer         user_data,
                 GError         **error)
{
  CancelAt *c = user_data;

  /* The client counts each chunk committed on the receiving side. */
  if (g_strcmp0 (point, "transfer-count") == 0 && ++c->seen == c->at)
    morango_monitor_cancel (monitor);
  return TRUE;
}

/* A transfer cancelled at its k-th chunk, then resumed: complete, with
 * nothing lost or doubled. */
static void
cancel_and_resume (Fixture  *f,
                   gboolean  push,
                   guint     expected)
{
  g_autoptr(MorangoFilter) filter = scope_filter (f, push);
  g_autoptr(MorangoMonitor) monitor = morango_monitor_new (NULL);
  g_autoptr(GError) error = NULL;
  CancelAt at = { .at = 2 };
  MorangoTransferStats stats, resumed;
  char id[33];

  morango_monitor_set_fault_func (monitor, cancel_at_chunk, &at, NULL);
  g_assert_false (transfer (f, filter, push, NULL, monitor, &stats, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (at.seen, >=, 2);   /* chunks committed meanwhile are still counted */
  g_assert_cmpint (stats.records_transferred, <, expected);
  memcpy (id, stats.transfer_session_id, sizeof id);
  g_clear_error (&error);

  g_assert_true (transfer (f, filter, push, id, NULL, &resumed, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (resumed.transfer_session_id, ==, id);
  g_assert_cmpint (resumed.records_total, ==, expected);
  g_assert_cmpint (resumed.records_transferred, ==, expected);
}

static void
test_cancel_resume (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(MorangoFilter) everything = NULL;
  guint n = 1 + N_LEARNERS * (1 + LOGS_PER_LEARNER) + 1 + 4;

  pair_full_facility (f);
  everything = scope_filter (f, FALSE);

  cancel_and_resume (f, FALSE, n);
  g_assert_cmpuint (assert_same (f, everything), ==, n);

  for (guint i = 0; i < 20; i++)
    g_free (add_log (f, f->b, f->learners[0], 900 + i));
  cancel_and_resume (f, TRUE, 20);
  g_assert_cmpuint (assert_same (f, everything), ==, n + 20);
  g_assert_cmpint (count (f->a, "SELECT count(*) FROM kolibri_contentsummarylog"),
                   ==, N_LEARNERS * LOGS_PER_LEARNER + 20);
}

int
main (int   argc,
      char *argv[])
{
  static const struct { const char *name; MorangoWireCapabilities caps; } variants[] = {
    { "fsic-v2", MORANGO_WIRE_CAPS_DEFAULT },
    { "fsic-v1", MORANGO_WIRE_CAP_GZIP_BUFFER_POST | MORANGO_WIRE_CAP_ASYNC_OPERATIONS },
    { "legacy", MORANGO_WIRE_CAP_GZIP_BUFFER_POST },
  };

  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (variants); i++)
    {
      g_autofree char *full = g_strdup_printf ("/http-e2e/full-facility/%s", variants[i].name);
      g_autofree char *single = g_strdup_printf ("/http-e2e/single-user/%s", variants[i].name);
      gconstpointer caps = GUINT_TO_POINTER (variants[i].caps);

      g_test_add (full, Fixture, caps, fixture_set_up, test_full_facility, fixture_tear_down);
      g_test_add (single, Fixture, caps, fixture_set_up, test_single_user, fixture_tear_down);
    }
  g_test_add ("/http-e2e/wrong-password", Fixture, NULL, fixture_set_up, test_wrong_password, fixture_tear_down);
  g_test_add ("/http-e2e/untrusted-root", Fixture, NULL, fixture_set_up, test_untrusted_root, fixture_tear_down);
  g_test_add ("/http-e2e/cancel-resume", Fixture, NULL, fixture_set_up, test_cancel_resume, fixture_tear_down);

  return g_test_run ();
}
