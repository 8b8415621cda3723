/* test-local-sync.c: two engine databases synced in one process (morango-testapp)
 *
 * The demo scenarios of protocol §10.4 run through morango_local_sync:
 * fresh pull, push, conflict, delete, re-create, hard delete, repeated
 * sync moving nothing, interruption and resumption, tampered records,
 * and a transfer cancelled and resumed.
 *
 * SPDX-License-Identifier: MIT
 */
#include "morango-app.h"
#include "morango-local-sync.h"
#include "morango-monitor-private.h"
#include "morango-serialize.h"
#include "morango-test-util.h"

typedef struct {
  char           *dir;
  MorangoProfile *profile;
  MorangoStore   *a;      /* the "server" */
  MorangoStore   *b;      /* the "client" */
  char           *user;
  MorangoFilter  *filter;
} Fixture;

static MorangoStore *
open_store (Fixture    *f,
            const char *name,
            guint64     seed)
{
  g_autofree char *path = g_build_filename (f->dir, name, NULL);
  g_autoptr(MorangoHostInfo) host = morango_host_info_new (name, "");
  g_autoptr(MorangoRandom) random = morango_random_new_seeded (seed);
  g_autoptr(GError) error = NULL;
  MorangoStore *store = morango_store_open (path, f->profile, host, random, &error);

  g_assert_no_error (error);
  return store;
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) user = json_object_new ();
  g_autofree char *filter = NULL;

  f->dir = morango_test_tmpdir ();
  f->profile = morango_profile_new_by_name ("morango-testapp", &error);
  g_assert_no_error (error);
  f->a = open_store (f, "a.db", 11);
  f->b = open_store (f, "b.db", 12);

  json_object_set_string_member (user, "username", "bob");
  json_object_set_string_member (user, "password", "x");
  g_assert_true (morango_app_create (morango_store_get_app (f->a), "user", user, &f->user, &error));
  g_assert_no_error (error);
  filter = g_strdup_printf ("%s:user", f->user);
  f->filter = morango_filter_parse (filter);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_clear_object (&f->a);
  g_clear_object (&f->b);
  g_clear_object (&f->profile);
  g_clear_pointer (&f->filter, morango_filter_unref);
  g_clear_pointer (&f->user, g_free);
  g_clear_pointer (&f->dir, g_free);
}

static char *
add_log (MorangoStore *store,
         const char   *user,
         guint         n)
{
  g_autoptr(JsonObject) log = json_object_new ();
  g_autofree char *content = g_strdup_printf ("%032x", n);
  g_autoptr(GError) error = NULL;
  char *id = NULL;

  json_object_set_string_member (log, "user_id", user);
  json_object_set_string_member (log, "content_id", content);
  g_assert_true (morango_app_create (morango_store_get_app (store), "contentsummarylog", log, &id, &error));
  g_assert_no_error (error);
  return id;
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
sync_ok (MorangoStore                  *client,
         MorangoStore                  *server,
         MorangoFilter                 *filter,
         gboolean                       push,
         const MorangoLocalSyncOptions *options,
         MorangoLocalSyncStats         *stats)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (morango_local_sync (client, server, filter, push, options, NULL, stats, &error));
  g_assert_no_error (error);
}

/* App rows and store data of both sides, for comparing outcomes. */
static char *
app_digest (MorangoStore *store)
{
  MorangoDb *db = morango_store_get_db (store);
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  sqlite3_stmt *stmt = morango_db_prepare (db,
      "SELECT id || '|' || user_id || '|' || content_id FROM facility_profile_summarylog ORDER BY id", NULL);

  while (sqlite3_step (stmt) == SQLITE_ROW)
    g_checksum_update (sum, sqlite3_column_text (stmt, 0), -1);
  sqlite3_reset (stmt);
  stmt = morango_db_prepare (db, "SELECT id || serialized || deleted || hard_deleted FROM morango_store "
                                 "ORDER BY id", NULL);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    g_checksum_update (sum, sqlite3_column_text (stmt, 0), -1);
  sqlite3_reset (stmt);
  return g_strdup (g_checksum_get_string (sum));
}

static gint64
pragma (MorangoStore *store,
        const char   *sql)
{
  return count (store, sql);
}

/* Dequeuing deletes each round's buffer rows as it goes, so the store
 * rows and histories of the next rounds take their pages: a sync leaves
 * the receiver's file about as large as what it holds, not that plus a
 * copy of the transfer.  What a sync still frees is taken by the next
 * one before the file grows: no VACUUM is needed. */
static void
test_freed_pages_reused (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  MorangoLocalSyncStats stats;
  gint64 pages1 = 0, free1 = 0, used1, pages2, free2, used2;
  const guint n = 4000;

  for (guint round = 0; round < 2; round++)
    {
      g_autoptr(MorangoTransaction) tx = morango_transaction_begin (morango_store_get_db (f->a),
                                                                    NULL, &error);
      g_assert_no_error (error);
      for (guint i = 0; i < n; i++)
        g_free (add_log (f->a, f->user, round * n + i));
      g_assert_true (morango_transaction_commit (tx, &error));
      g_assert_no_error (error);
      sync_ok (f->a, f->b, f->filter, TRUE, NULL, &stats);
      g_assert_cmpint (count (f->b, "SELECT count(*) FROM morango_buffer"), ==, 0);
      g_assert_cmpint (count (f->b, "SELECT count(*) FROM morango_recordmaxcounterbuffer"), ==, 0);
      if (round == 0)
        {
          pages1 = pragma (f->b, "PRAGMA page_count");
          free1 = pragma (f->b, "PRAGMA freelist_count");
        }
    }
  pages2 = pragma (f->b, "PRAGMA page_count");
  free2 = pragma (f->b, "PRAGMA freelist_count");
  used1 = pages1 - free1;
  used2 = pages2 - free2;
  g_test_message ("pages %" G_GINT64_FORMAT " -> %" G_GINT64_FORMAT ", free %" G_GINT64_FORMAT
                  " -> %" G_GINT64_FORMAT, pages1, pages2, free1, free2);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM facility_profile_summarylog"), ==, 2 * n);

  /* The buffer held a third of what the store keeps, or more; after the
   * sync, free pages are a small part of the file. */
  g_assert_cmpint (free1 * 20, <, pages1);
  /* The second sync took what the first left free before it grew the
   * file (free pages do not pile up): the file grew by what it holds
   * more. */
  g_assert_cmpint (pages2 - pages1, <=, (used2 - used1) + free1 / 2 + 2);
}

static void
test_pull_then_nothing_new (Fixture       *f,
                            gconstpointer  data)
{
  MorangoLocalSyncStats stats;
  g_autofree char *da = NULL, *db = NULL;

  for (guint i = 0; i < 25; i++)
    g_free (add_log (f->a, f->user, i));

  sync_ok (f->b, f->a, f->filter, FALSE, NULL, &stats);
  g_assert_cmpint (stats.records_total, ==, 26);
  g_assert_cmpint (stats.records_transferred, ==, 26);
  g_assert_cmpint (stats.dequeue.n_new, ==, 26);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM facility_profile_summarylog"), ==, 25);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM facility_profile_myuser"), ==, 1);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM morango_store_pending"), ==, 0);
  /* Sessions are closed and buffers gone on both sides. */
  g_assert_cmpint (count (f->a, "SELECT count(*) FROM morango_buffer"), ==, 0);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM morango_recordmaxcounterbuffer"), ==, 0);
  g_assert_cmpint (count (f->a, "SELECT count(*) FROM morango_transfersession WHERE active = 1"), ==, 0);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM morango_syncsession WHERE active = 1"), ==, 0);

  /* Repeats move nothing, either way (§10.4 h, §11.9 full flow). */
  sync_ok (f->b, f->a, f->filter, TRUE, NULL, &stats);
  g_assert_cmpint (stats.records_total, ==, 0);
  sync_ok (f->b, f->a, f->filter, FALSE, NULL, &stats);
  g_assert_cmpint (stats.records_total, ==, 0);

  da = app_digest (f->a);
  db = app_digest (f->b);
  g_assert_cmpstr (da, ==, db);
}

static void
test_push_edit_conflict (Fixture       *f,
                         gconstpointer  data)
{
  g_autofree char *log = add_log (f->a, f->user, 1);
  g_autoptr(JsonObject) change = json_object_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *conflicts = NULL;
  g_autofree char *serialized = NULL;
  MorangoLocalSyncStats stats;

  sync_ok (f->b, f->a, f->filter, FALSE, NULL, &stats);

  /* An edit on b pushed to a: a fast-forward there. */
  json_object_set_string_member (change, "content_id", "abababababababababababababababab");
  g_assert_true (morango_app_update (morango_store_get_app (f->b), "contentsummarylog", log, change, &error));
  sync_ok (f->b, f->a, f->filter, TRUE, NULL, &stats);
  g_assert_cmpint (stats.records_total, ==, 1);
  g_assert_cmpint (stats.dequeue.n_fast_forward, ==, 1);

  /* Both edit: the receiver keeps its data and logs the other. */
  json_object_set_string_member (change, "content_id", "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1");
  g_assert_true (morango_app_update (morango_store_get_app (f->a), "contentsummarylog", log, change, &error));
  json_object_set_string_member (change, "content_id", "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2");
  g_assert_true (morango_app_update (morango_store_get_app (f->b), "contentsummarylog", log, change, &error));
  g_assert_true (morango_store_serialize (f->a, NULL, NULL, &error));
  sync_ok (f->b, f->a, f->filter, TRUE, NULL, &stats);
  g_assert_cmpint (stats.dequeue.n_conflict, ==, 1);
  g_assert_true (morango_db_query_text (morango_store_get_db (f->a), &conflicts, &error,
                                        "SELECT conflicting_serialized_data FROM morango_store WHERE id = ?",
                                        "s", log));
  g_assert_nonnull (strstr (conflicts, "b2b2b2b2"));
  g_assert_true (morango_db_query_text (morango_store_get_db (f->a), &serialized, &error,
                                        "SELECT serialized FROM morango_store WHERE id = ?", "s", log));
  g_assert_nonnull (strstr (serialized, "a1a1a1a1"));

  /* Pulling back: b fast-forwards to a's resolution; they agree. */
  sync_ok (f->b, f->a, f->filter, FALSE, NULL, &stats);
  g_assert_cmpint (stats.dequeue.n_fast_forward, ==, 1);
  {
    g_autofree char *da = app_digest (f->a);
    g_autofree char *db = app_digest (f->b);
    g_assert_cmpstr (da, ==, db);
  }
}

static void
test_delete_recreate_hard_delete (Fixture       *f,
                                  gconstpointer  data)
{
  g_autofree char *log = add_log (f->a, f->user, 7);
  g_autoptr(GError) error = NULL;
  MorangoLocalSyncStats stats;
  g_autofree char *hard = NULL;

  sync_ok (f->b, f->a, f->filter, FALSE, NULL, &stats);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM facility_profile_summarylog"), ==, 1);

  /* (d) delete on a, pull: gone on b. */
  g_assert_true (morango_app_delete (morango_store_get_app (f->a), "contentsummarylog", log, FALSE, &error));
  sync_ok (f->b, f->a, f->filter, FALSE, NULL, &stats);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM facility_profile_summarylog"), ==, 0);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM morango_store WHERE deleted = 1"), ==, 1);

  /* (e) the same id re-created: back on b. */
  g_free (add_log (f->a, f->user, 7));
  sync_ok (f->b, f->a, f->filter, FALSE, NULL, &stats);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM facility_profile_summarylog"), ==, 1);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM morango_store WHERE deleted = 1"), ==, 0);

  /* (f) hard delete of the user: user and logs gone, data purged. */
  g_assert_true (morango_app_delete (morango_store_get_app (f->a), "user", f->user, TRUE, &error));
  g_assert_no_error (error);
  sync_ok (f->b, f->a, f->filter, FALSE, NULL, &stats);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM facility_profile_myuser"), ==, 0);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM facility_profile_summarylog"), ==, 0);
  g_assert_true (morango_db_query_text (morango_store_get_db (f->b), &hard, &error,
                                        "SELECT group_concat (hard_deleted || serialized, ',') FROM morango_store", ""));
  g_assert_cmpstr (hard, ==, "1{},1{}");
}

static char *
purge_state (MorangoStore *store,
             const char   *id)
{
  g_autoptr(GError) error = NULL;
  char *text = NULL;

  g_assert_true (morango_db_query_text (morango_store_get_db (store), &text, &error,
                                        "SELECT hard_deleted || '|' || serialized || '|' || "
                                        "replace (conflicting_serialized_data, char (10), '/') "
                                        "FROM morango_store WHERE id = ?", "s", id));
  g_assert_no_error (error);
  return text;
}

static void
assert_purged (MorangoStore *store,
               const char   *id)
{
  g_autofree char *state = purge_state (store, id);

  g_assert_cmpstr (state, ==, "1|{}|");
}

/* A hard delete of a record with a conflict log, on either side: after
 * syncing both ways, no peer holds its data or its log (§4.6).  The
 * logs come from real conflicts, and reach both peers as a sync does. */
static void
test_hard_delete_purges_conflict_logs (Fixture       *f,
                                       gconstpointer  data)
{
  g_autofree char *on_a = add_log (f->a, f->user, 1);
  g_autofree char *on_b = add_log (f->a, f->user, 2);
  const char *logs[] = { on_a, on_b };
  g_autoptr(JsonObject) change = json_object_new ();
  g_autoptr(GError) error = NULL;
  MorangoLocalSyncStats stats;

  sync_ok (f->b, f->a, f->filter, FALSE, NULL, &stats);

  /* Both sides edit both logs: a resolves the conflicts, logging b's
   * versions, and b fast-forwards to a's resolution, log included. */
  for (guint i = 0; i < G_N_ELEMENTS (logs); i++)
    {
      json_object_set_string_member (change, "content_id", "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1");
      g_assert_true (morango_app_update (morango_store_get_app (f->a), "contentsummarylog", logs[i], change, &error));
      g_assert_no_error (error);
      json_object_set_string_member (change, "content_id", "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2");
      g_assert_true (morango_app_update (morango_store_get_app (f->b), "contentsummarylog", logs[i], change, &error));
      g_assert_no_error (error);
    }
  g_assert_true (morango_store_serialize (f->a, NULL, NULL, &error));
  g_assert_no_error (error);
  sync_ok (f->b, f->a, f->filter, TRUE, NULL, &stats);
  g_assert_cmpint (stats.dequeue.n_conflict, ==, 2);
  sync_ok (f->b, f->a, f->filter, FALSE, NULL, &stats);
  g_assert_cmpint (stats.dequeue.n_fast_forward, ==, 2);
  for (guint i = 0; i < G_N_ELEMENTS (logs); i++)
    {
      g_autofree char *state_a = purge_state (f->a, logs[i]);
      g_autofree char *state_b = purge_state (f->b, logs[i]);

      g_assert_nonnull (strstr (state_a, "b2b2b2b2"));
      g_assert_cmpstr (state_b, ==, state_a);
    }

  /* One hard delete on each side, then a pull, a push and a pull. */
  g_assert_true (morango_app_delete (morango_store_get_app (f->a), "contentsummarylog", on_a, TRUE, &error));
  g_assert_no_error (error);
  g_assert_true (morango_app_delete (morango_store_get_app (f->b), "contentsummarylog", on_b, TRUE, &error));
  g_assert_no_error (error);
  sync_ok (f->b, f->a, f->filter, FALSE, NULL, &stats);
  sync_ok (f->b, f->a, f->filter, TRUE, NULL, &stats);
  sync_ok (f->b, f->a, f->filter, FALSE, NULL, &stats);

  for (guint i = 0; i < G_N_ELEMENTS (logs); i++)
    {
      assert_purged (f->a, logs[i]);
      assert_purged (f->b, logs[i]);
    }
  g_assert_cmpint (count (f->a, "SELECT count(*) FROM facility_profile_summarylog"), ==, 0);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM facility_profile_summarylog"), ==, 0);
  /* Nothing else was purged: the user keeps its data. */
  g_assert_cmpint (count (f->a, "SELECT count(*) FROM morango_store WHERE hard_deleted = 0 "
                                "AND serialized <> '{}'"), ==, 1);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM morango_store WHERE hard_deleted = 0 "
                                "AND serialized <> '{}'"), ==, 1);
}

static void
test_fsic_v1_equal_scopes (Fixture       *f,
                           gconstpointer  data)
{
  MorangoLocalSyncOptions options = MORANGO_LOCAL_SYNC_OPTIONS_INIT;
  MorangoLocalSyncStats stats;

  options.format = MORANGO_FSIC_V1;
  for (guint i = 0; i < 5; i++)
    g_free (add_log (f->a, f->user, i));
  sync_ok (f->b, f->a, f->filter, FALSE, &options, &stats);
  g_assert_cmpint (stats.records_transferred, ==, 6);
  g_free (add_log (f->b, f->user, 99));
  sync_ok (f->b, f->a, f->filter, TRUE, &options, &stats);
  g_assert_cmpint (stats.records_transferred, ==, 1);
  sync_ok (f->b, f->a, f->filter, FALSE, &options, &stats);
  g_assert_cmpint (stats.records_total, ==, 0);
  g_assert_cmpint (count (f->a, "SELECT count(*) FROM facility_profile_summarylog"), ==, 6);
}

static void
test_outside_filter_stays (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(JsonObject) other = json_object_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *alice = NULL;
  MorangoLocalSyncStats stats;

  json_object_set_string_member (other, "username", "alice");
  json_object_set_string_member (other, "password", "y");
  g_assert_true (morango_app_create (morango_store_get_app (f->a), "user", other, &alice, &error));
  g_free (add_log (f->a, alice, 1));
  g_free (add_log (f->a, f->user, 2));

  sync_ok (f->b, f->a, f->filter, FALSE, NULL, &stats);
  g_assert_cmpint (stats.records_transferred, ==, 2);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM morango_store WHERE partition NOT LIKE '' || "
                                "(SELECT id FROM facility_profile_myuser LIMIT 1) || '%'"), ==, 0);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM facility_profile_myuser"), ==, 1);
}

static void
test_interrupted_transfer_resumes (Fixture       *f,
                                   gconstpointer  data)
{
  MorangoLocalSyncOptions options = MORANGO_LOCAL_SYNC_OPTIONS_INIT;
  MorangoLocalSyncStats stats;
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoTransferSession) ts = NULL;
  g_autoptr(MorangoMonitor) failing = morango_test_monitor_failing_at ("transfer", 25);

  for (guint i = 0; i < 40; i++)
    g_free (add_log (f->a, f->user, i));
  options.chunk_size = 10;

  /* The receiver fails inside the third chunk: two chunks stay committed. */
  g_assert_false (morango_local_sync (f->b, f->a, f->filter, FALSE, &options, failing, &stats, &error));
  g_assert_error (error, MORANGO_TEST_ERROR, MORANGO_TEST_ERROR_INJECTED);
  g_clear_error (&error);
  ts = morango_transfer_session_load (morango_store_get_db (f->b), stats.transfer_session_id, &error);
  g_assert_nonnull (ts);
  g_assert_cmpint (ts->records_transferred, ==, 20);
  g_assert_cmpint (ts->stage, ==, MORANGO_STAGE_TRANSFERRING);
  g_assert_cmpint (ts->status, ==, MORANGO_STAGE_STATUS_ERRORED);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM morango_buffer"), ==, 20);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM morango_store"), ==, 0);
  /* The sender heard of the two committed chunks, and of nothing more. */
  g_clear_pointer (&ts, morango_transfer_session_free);
  ts = morango_transfer_session_load (morango_store_get_db (f->a), stats.transfer_session_id, &error);
  g_assert_nonnull (ts);
  g_assert_cmpint (ts->records_transferred, ==, 20);

  /* Resuming sends only the rest. */
  options.resume_transfer_session_id = ts->id;
  sync_ok (f->b, f->a, f->filter, FALSE, &options, &stats);
  g_assert_cmpint (stats.records_transferred, ==, 41);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM facility_profile_summarylog"), ==, 40);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM morango_buffer"), ==, 0);
}

/* The sender fails to note how far the receiver got: the stage stops,
 * and resuming sends what the receiver lacks, once. */
static void
test_sender_count_failure_resumes (Fixture       *f,
                                   gconstpointer  data)
{
  MorangoLocalSyncOptions options = MORANGO_LOCAL_SYNC_OPTIONS_INIT;
  MorangoLocalSyncStats stats;
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoTransferSession) sent = NULL, received = NULL;
  g_autoptr(MorangoMonitor) failing = morango_test_monitor_failing_at ("transfer-count", 20);

  for (guint i = 0; i < 40; i++)
    g_free (add_log (f->a, f->user, i));
  options.chunk_size = 10;

  g_assert_false (morango_local_sync (f->b, f->a, f->filter, FALSE, &options, failing, &stats, &error));
  g_assert_error (error, MORANGO_TEST_ERROR, MORANGO_TEST_ERROR_INJECTED);
  g_clear_error (&error);
  sent = morango_transfer_session_load (morango_store_get_db (f->a), stats.transfer_session_id, &error);
  received = morango_transfer_session_load (morango_store_get_db (f->b), stats.transfer_session_id, &error);
  g_assert_nonnull (sent);
  g_assert_nonnull (received);
  /* The sender heard of the first chunk only; the receiver kept what it
   * stored, whole chunks, at least the second. */
  g_assert_cmpint (sent->records_transferred, ==, 10);
  g_assert_cmpint (received->records_transferred, >=, 20);
  g_assert_cmpint (received->records_transferred % 10, ==, 0);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM morango_buffer"), ==, received->records_transferred);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM morango_store"), ==, 0);

  options.resume_transfer_session_id = received->id;
  sync_ok (f->b, f->a, f->filter, FALSE, &options, &stats);
  g_assert_cmpint (stats.records_transferred, ==, 41);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM facility_profile_summarylog"), ==, 40);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM morango_store"), ==, 41);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM morango_buffer"), ==, 0);
}

/* The same two faults on a push, where the receiver is the peer: a
 * record failing there rolls back the peer's chunk in flight, and the
 * sender (this side) failing to note a count leaves the peer ahead; a
 * resumed push starts from what the peer committed and sends it once. */
static void
test_push_faults_resume (Fixture       *f,
                         gconstpointer  data)
{
  MorangoLocalSyncOptions options = MORANGO_LOCAL_SYNC_OPTIONS_INIT;
  MorangoLocalSyncStats stats;
  const char *points[] = { "transfer", "transfer-count" };

  /* b gets the user, then writes the logs it pushes. */
  sync_ok (f->b, f->a, f->filter, FALSE, NULL, &stats);
  options.chunk_size = 10;

  for (guint k = 0; k < G_N_ELEMENTS (points); k++)
    {
      g_autoptr(MorangoMonitor) failing = morango_test_monitor_failing_at (points[k], 25);
      g_autoptr(MorangoTransferSession) sent = NULL, received = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *id = NULL;

      g_test_message ("failing at %s", points[k]);
      for (guint i = 0; i < 40; i++)
        g_free (add_log (f->b, f->user, 100 * k + i));
      options.resume_transfer_session_id = NULL;
      g_assert_false (morango_local_sync (f->b, f->a, f->filter, TRUE, &options, failing, &stats, &error));
      g_assert_error (error, MORANGO_TEST_ERROR, MORANGO_TEST_ERROR_INJECTED);
      g_clear_error (&error);
      id = g_strdup (stats.transfer_session_id);
      sent = morango_transfer_session_load (morango_store_get_db (f->b), id, &error);
      received = morango_transfer_session_load (morango_store_get_db (f->a), id, &error);
      g_assert_no_error (error);
      g_assert_cmpint (sent->records_transferred, ==, 20);
      if (k == 0)
        g_assert_cmpint (received->records_transferred, ==, 20);
      else
        g_assert_cmpint (received->records_transferred, >=, 30);
      g_assert_cmpint (count (f->a, "SELECT count(*) FROM morango_buffer"), ==, received->records_transferred);
      g_assert_cmpint (count (f->a, "SELECT count(*) FROM facility_profile_summarylog"), ==, 40 * k);

      options.resume_transfer_session_id = id;
      sync_ok (f->b, f->a, f->filter, TRUE, &options, &stats);
      g_assert_cmpint (stats.records_total, ==, 40);
      g_assert_cmpint (stats.records_transferred, ==, 40);
      g_assert_cmpint (count (f->a, "SELECT count(*) FROM morango_buffer"), ==, 0);
      g_assert_cmpint (count (f->a, "SELECT count(*) FROM facility_profile_summarylog"), ==, 40 * (k + 1));
    }
  {
    g_autofree char *da = app_digest (f->a);
    g_autofree char *db = app_digest (f->b);

    g_assert_cmpstr (da, ==, db);
  }
}

static void
test_interrupted_dequeue_resumes (Fixture       *f,
                                  gconstpointer  data)
{
  MorangoLocalSyncOptions options = MORANGO_LOCAL_SYNC_OPTIONS_INIT;
  MorangoLocalSyncStats stats;
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoMonitor) failing = NULL;
  g_autofree char *id = NULL;

  for (guint i = 0; i < 12; i++)
    g_free (add_log (f->a, f->user, i));
  failing = morango_test_monitor_failing_at ("dequeue", 5);
  g_assert_false (morango_local_sync (f->b, f->a, f->filter, FALSE, &options, failing, &stats, &error));
  g_assert_error (error, MORANGO_TEST_ERROR, MORANGO_TEST_ERROR_INJECTED);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM morango_store"), ==, 0);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM morango_buffer"), ==, 13);

  id = g_strdup (stats.transfer_session_id);
  options.resume_transfer_session_id = id;
  sync_ok (f->b, f->a, f->filter, FALSE, &options, &stats);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM facility_profile_summarylog"), ==, 12);
}

static void
test_tampered_record_refused (Fixture       *f,
                              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  MorangoLocalSyncOptions options = MORANGO_LOCAL_SYNC_OPTIONS_INIT;
  MorangoLocalSyncStats stats;
  g_autofree char *log = add_log (f->a, f->user, 3);

  /* a's store claims a record's id under another source id: the
   * receiver recomputes the id and refuses the whole chunk. */
  g_assert_true (morango_store_serialize (f->a, NULL, NULL, &error));
  g_assert_true (morango_db_execute (morango_store_get_db (f->a), &error,
                                     "UPDATE morango_store SET source_id = 'forged' WHERE id = ?", "s", log));
  options.chunk_size = 100;
  g_assert_false (morango_local_sync (f->b, f->a, f->filter, FALSE, &options, NULL, &stats, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_RECORD_REJECTED);
  g_assert_nonnull (strstr (error->message, "Does not match results of calling ModelBase.compute_namespaced_id"));
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM morango_buffer"), ==, 0);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM morango_store"), ==, 0);

  /* Malformed record data is refused the same way, before it is stored. */
  {
    g_autofree char *source = g_strdup_printf ("%s:%032x", f->user, 3);

    g_clear_error (&error);
    g_assert_true (morango_db_execute (morango_store_get_db (f->a), &error,
                                       "UPDATE morango_store SET source_id = ?, serialized = '{\"a\": ' "
                                       "WHERE id = ?", "ss", source, log));
    g_assert_false (morango_local_sync (f->b, f->a, f->filter, FALSE, &options, NULL, &stats, &error));
    g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_RECORD_REJECTED);
    g_assert_nonnull (strstr (error->message, "not a valid JSON object"));
    g_assert_cmpint (count (f->b, "SELECT count(*) FROM morango_buffer"), ==, 0);
  }
}

/* A record refused in the middle of a transfer: the chunks before it
 * stay stored on both sides' counts, the refused chunk leaves nothing,
 * and once the sender's data is right again the sync resumes there. */
static void
test_refused_mid_transfer (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoTransferSession) rts = NULL;
  g_autoptr(MorangoTransferSession) sts = NULL;
  MorangoLocalSyncOptions options = MORANGO_LOCAL_SYNC_OPTIONS_INIT;
  MorangoLocalSyncStats stats;
  g_autofree char *forged = NULL;
  g_autofree char *source = NULL;
  MorangoDb *adb = morango_store_get_db (f->a);

  for (guint i = 0; i < 40; i++)
    g_free (add_log (f->a, f->user, i));
  options.chunk_size = 10;
  g_assert_true (morango_store_serialize (f->a, NULL, NULL, &error));
  g_assert_no_error (error);
  /* The 26th record the sender queues (its buffer follows the store's
   * rowid order) claims another source id. */
  g_assert_true (morango_db_query_text (adb, &forged, &error,
                                        "SELECT id FROM morango_store "
                                        "WHERE model_name = 'contentsummarylog' "
                                        "ORDER BY last_saved_counter, id LIMIT 1 OFFSET 24", ""));
  g_assert_true (morango_db_query_text (adb, &source, &error,
                                        "SELECT source_id FROM morango_store WHERE id = ?", "s", forged));
  g_assert_true (morango_db_execute (adb, &error,
                                     "UPDATE morango_store SET source_id = 'forged' WHERE id = ?",
                                     "s", forged));

  g_assert_false (morango_local_sync (f->b, f->a, f->filter, FALSE, &options, NULL, &stats, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_RECORD_REJECTED);
  g_clear_error (&error);
  rts = morango_transfer_session_load (morango_store_get_db (f->b), stats.transfer_session_id, &error);
  sts = morango_transfer_session_load (adb, stats.transfer_session_id, &error);
  g_assert_nonnull (rts);
  g_assert_nonnull (sts);
  g_assert_cmpint (rts->records_transferred, ==, 20);
  g_assert_cmpint (sts->records_transferred, ==, 20);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM morango_buffer"), ==, 20);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM morango_store"), ==, 0);

  /* The sender's buffer holds the forged copy: mend it there, resume. */
  g_assert_true (morango_db_execute (adb, &error,
                                     "UPDATE morango_buffer SET source_id = ? WHERE model_uuid = ?",
                                     "ss", source, forged));
  options.resume_transfer_session_id = rts->id;
  sync_ok (f->b, f->a, f->filter, FALSE, &options, &stats);
  g_assert_cmpint (stats.records_transferred, ==, 41);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM facility_profile_summarylog"), ==, 40);
}

/* ---- cancelling the transfer ---- */

#define MANY_LOGS 50000

/* contentsummarylog's id rule, for filling a table in one statement. */
static void
summarylog_id (sqlite3_context  *ctx,
               int               argc,
               sqlite3_value   **argv)
{
  MorangoProfile *profile = sqlite3_user_data (ctx);
  g_autofree char *id =
    morango_profile_compute_record_id (profile, "contentsummarylog",
                                       (const char *) sqlite3_value_text (argv[0]),
                                       (const char *) sqlite3_value_text (argv[1]));

  sqlite3_result_text (ctx, id, -1, SQLITE_TRANSIENT);
}

/* @n new dirty summary logs of @user, as morango_app_create() would
 * write them, in one statement (creating them one by one would take
 * most of the test's time). */
static void
add_many_logs (Fixture      *f,
               MorangoStore *store,
               const char   *user,
               guint         n)
{
  MorangoDb *db = morango_store_get_db (store);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (sqlite3_create_function_v2 (morango_db_get_handle (db), "test_summarylog_id", 2,
                                               SQLITE_UTF8 | SQLITE_DETERMINISTIC, f->profile,
                                               summarylog_id, NULL, NULL, NULL), ==, SQLITE_OK);
  g_assert_true (morango_db_execute (db, &error,
                                     "INSERT INTO facility_profile_summarylog (id, _morango_source_id, "
                                     "  _morango_partition, user_id, content_id, _morango_dirty_bit) "
                                     "WITH RECURSIVE n (i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?2 - 1), "
                                     "  logs (source, content) AS (SELECT ?1 || ':' || printf ('%032x', i), "
                                     "    printf ('%032x', i) FROM n) "
                                     "SELECT test_summarylog_id (?1 || ':user:summary', source), source, "
                                     "  ?1 || ':user:summary', ?1, content, 1 FROM logs",
                                     "si", user, (gint64) n));
  g_assert_no_error (error);
  g_assert_cmpint (morango_db_changes (db), ==, n);
}

typedef enum {
  CANCEL_AT_FIRST_REPORT,
  CANCEL_AT_MIDDLE_REPORT,
  CANCEL_AT_COUNT,            /* as the sender hears of a committed chunk */
  CANCEL_IN_STATEMENT,
  CANCEL_NEVER,
} CancelAt;

typedef struct {
  CancelAt  at;
  gboolean  in_transfer;      /* the transfer stage has begun */
  gboolean  cancelled;
  guint     reports;          /* of the transfer stage */
  guint     after_cancel;     /* reports that came after the cancel */
  gint64    last_done;
  gint64    total;
} CancelRun;

static void
cancel_on_report (MorangoMonitor        *monitor,
                  const MorangoProgress *p,
                  gpointer               user_data)
{
  CancelRun *run = user_data;

  if (g_strcmp0 (p->stage, "transfer") != 0)
    {
      run->in_transfer = FALSE;
      return;
    }
  if (run->cancelled)
    run->after_cancel++;
  if (run->reports == 0 || !run->in_transfer)
    run->last_done = 0;
  /* Monotonic within the stage. */
  g_assert_cmpint (p->done, >=, run->last_done);
  g_assert_cmpint (p->bytes, >=, 0);
  run->in_transfer = TRUE;
  run->last_done = p->done;
  run->total = p->total;
  run->reports++;

  if ((run->at == CANCEL_AT_FIRST_REPORT && run->reports == 1) ||
      (run->at == CANCEL_AT_MIDDLE_REPORT && p->done >= p->total / 2 && p->done < p->total))
    {
      run->cancelled = TRUE;
      morango_monitor_cancel (monitor);
    }
}

/* Called on the transfer's two threads, but only one of them ever
 * reaches each point: it cancels the running transfer stage from inside
 * one of its statements, or as the sender hears of a committed chunk. */
static gboolean
cancel_at_point (MorangoMonitor  *monitor,
                 const char      *point,
                 gint64           done,
                 gpointer         user_data,
                 GError         **error)
{
  CancelRun *run = user_data;

  if (run->in_transfer && !run->cancelled &&
      ((run->at == CANCEL_IN_STATEMENT && g_strcmp0 (point, "statement") == 0) ||
       (run->at == CANCEL_AT_COUNT && g_strcmp0 (point, "transfer-count") == 0)))
    {
      run->cancelled = TRUE;
      morango_monitor_cancel (monitor);
    }
  return TRUE;
}

/* The records the receiver holds in its incoming buffer: as many as
 * both sides count as transferred, in whole chunks. */
static gint64
assert_buffer_at_last_chunk (Fixture      *f,
                             MorangoStore *receiver,
                             MorangoStore *sender,
                             const char   *id,
                             guint         chunk_size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoTransferSession) received =
    morango_transfer_session_load (morango_store_get_db (receiver), id, &error);
  g_autoptr(MorangoTransferSession) sent =
    morango_transfer_session_load (morango_store_get_db (sender), id, &error);
  g_autoptr(MorangoTransferSession) client =
    morango_transfer_session_load (morango_store_get_db (f->b), id, &error);

  g_assert_no_error (error);
  g_assert_cmpint (count (receiver, "SELECT count(*) FROM morango_buffer"), ==, received->records_transferred);
  g_assert_cmpint (received->records_transferred, ==, sent->records_transferred);
  g_assert_cmpint (received->records_transferred % chunk_size, ==, 0);
  g_assert_cmpint (client->stage, ==, MORANGO_STAGE_TRANSFERRING);
  g_assert_cmpint (client->status, ==, MORANGO_STAGE_STATUS_ERRORED);
  return received->records_transferred;
}

/* One transfer of MANY_LOGS records on file databases, cancelled four
 * times: from the progress callback at its first report and at one in
 * the middle, then from the fault hook as the sender hears of a
 * committed chunk ("transfer-count") and inside a statement
 * ("statement").  Each time the sync fails with G_IO_ERROR_CANCELLED, no
 * report comes after the cancel, and the receiver holds what its last
 * committed chunk left, as both sides count it.  Resumed once more, the
 * transfer ends and the two stores agree. */
static void
test_cancel_transfer (Fixture       *f,
                      gconstpointer  data)
{
  gboolean push = GPOINTER_TO_INT (data);
  MorangoStore *sender = push ? f->b : f->a;
  MorangoStore *receiver = push ? f->a : f->b;
  MorangoLocalSyncOptions options = MORANGO_LOCAL_SYNC_OPTIONS_INIT;
  MorangoLocalSyncStats stats;
  g_autofree char *id = NULL;
  gint64 committed = 0, total = MANY_LOGS + (push ? 0 : 1);

  if (push)
    sync_ok (f->b, f->a, f->filter, FALSE, NULL, &stats);   /* b gets the user */
  add_many_logs (f, sender, f->user, MANY_LOGS);

  for (CancelAt at = CANCEL_AT_FIRST_REPORT; at <= CANCEL_NEVER; at++)
    {
      g_autoptr(MorangoMonitor) monitor = morango_monitor_new (NULL);
      g_autoptr(GError) error = NULL;
      CancelRun run = { .at = at };
      gboolean ok;

      morango_monitor_set_progress_func (monitor, cancel_on_report, &run, NULL);
      morango_monitor_set_fault_func (monitor, cancel_at_point, &run, NULL);
      options.resume_transfer_session_id = id;
      ok = morango_local_sync (f->b, f->a, f->filter, push, &options, monitor, &stats, &error);
      g_test_message ("cancel %d: %u reports, the last at %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT,
                      at, run.reports, run.last_done, run.total);
      g_assert_cmpuint (run.after_cancel, ==, 0);
      g_assert_cmpint (run.total, ==, total);
      if (at == CANCEL_NEVER)
        {
          g_assert_no_error (error);
          g_assert_true (ok);
          g_assert_cmpint (run.last_done, ==, total);
          break;
        }

      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_assert_false (ok);
      g_assert_true (run.cancelled);
      if (id == NULL)
        id = g_strdup (stats.transfer_session_id);
      g_assert_cmpstr (stats.transfer_session_id, ==, id);
      {
        gint64 now = assert_buffer_at_last_chunk (f, receiver, sender, id, options.chunk_size);

        switch (at)
          {
          case CANCEL_AT_FIRST_REPORT:
            g_assert_cmpint (now, ==, 0);
            break;
          case CANCEL_AT_MIDDLE_REPORT:
            g_assert_cmpint (now, >=, total / 2 - (gint64) options.chunk_size);
            g_assert_cmpint (now, <, total);
            break;
          case CANCEL_AT_COUNT:
            /* The chunk being told of stays, and the sender heard of it. */
            g_assert_cmpint (now, >, committed);
            g_assert_cmpint (now, <, total);
            break;
          case CANCEL_IN_STATEMENT:
          case CANCEL_NEVER:
          default:
            g_assert_cmpint (now, ==, committed);   /* its first chunk rolled back */
            break;
          }
        committed = now;
      }
      g_assert_cmpint (count (receiver, "SELECT count(*) FROM facility_profile_summarylog"), ==, 0);
    }

  g_assert_cmpint (stats.records_transferred, ==, total);
  g_assert_cmpint (count (receiver, "SELECT count(*) FROM facility_profile_summarylog"), ==, MANY_LOGS);
  g_assert_cmpint (count (receiver, "SELECT count(*) FROM morango_buffer"), ==, 0);
  {
    g_autofree char *da = app_digest (f->a);
    g_autofree char *db = app_digest (f->b);

    g_assert_cmpstr (da, ==, db);
  }
}

/* A record outside the transfer's filter, planted in the sender's
 * buffer once queuing is done (as a misbehaving sender would offer
 * it), is refused by the receiver's check against the transfer's
 * filter: the chunk holding it leaves nothing on the receiver, the
 * chunk before it stays, and without it the sync resumes and ends. */
static void
test_out_of_filter_record_refused (Fixture       *f,
                                   gconstpointer  data)
{
  MorangoLocalSyncOptions options = MORANGO_LOCAL_SYNC_OPTIONS_INIT;
  MorangoLocalSyncStats stats;
  g_autoptr(MorangoMonitor) failing = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) other = json_object_new ();
  g_autoptr(MorangoTransferSession) rts = NULL;
  g_autoptr(MorangoTransferSession) sts = NULL;
  g_autofree char *alice = NULL;
  g_autofree char *planted = NULL;
  g_autofree char *id = NULL;
  MorangoDb *adb = morango_store_get_db (f->a);
  MorangoDb *bdb = morango_store_get_db (f->b);
  gint64 n = -1;

  for (guint i = 0; i < 5; i++)
    g_free (add_log (f->a, f->user, i));
  options.chunk_size = 4;

  /* Queuing completes (bob and his five logs); the receiver fails on
   * the transfer's first record, so nothing has moved yet. */
  failing = morango_test_monitor_failing_at ("transfer", 1);
  g_assert_false (morango_local_sync (f->b, f->a, f->filter, FALSE, &options, failing, &stats, &error));
  g_assert_error (error, MORANGO_TEST_ERROR, MORANGO_TEST_ERROR_INJECTED);
  g_clear_error (&error);
  id = g_strdup (stats.transfer_session_id);
  rts = morango_transfer_session_load (bdb, id, &error);
  g_assert_no_error (error);
  g_assert_cmpint (rts->stage, ==, MORANGO_STAGE_TRANSFERRING);
  g_assert_cmpint (rts->records_total, ==, 6);
  g_assert_cmpint (rts->records_transferred, ==, 0);
  g_clear_pointer (&rts, morango_transfer_session_free);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM morango_buffer"), ==, 0);

  /* Alice is outside bob's filter.  Her log, a valid record of a's
   * store, is appended to the session's buffer on a with its history:
   * it comes seventh, in the second chunk with bob's last two. */
  json_object_set_string_member (other, "username", "alice");
  json_object_set_string_member (other, "password", "y");
  g_assert_true (morango_app_create (morango_store_get_app (f->a), "user", other, &alice, &error));
  g_assert_no_error (error);
  planted = add_log (f->a, alice, 1);
  g_assert_true (morango_store_serialize (f->a, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (morango_db_execute (adb, &error,
                                     "INSERT INTO morango_buffer (profile, serialized, deleted, hard_deleted, "
                                     "  last_saved_instance, last_saved_counter, partition, source_id, model_name, "
                                     "  conflicting_serialized_data, _self_ref_fk, transfer_session_id, model_uuid) "
                                     "SELECT profile, serialized, deleted, hard_deleted, last_saved_instance, "
                                     "  last_saved_counter, partition, source_id, model_name, "
                                     "  conflicting_serialized_data, _self_ref_fk, ?1, id "
                                     "FROM morango_store WHERE id = ?2", "ss", id, planted));
  g_assert_cmpint (morango_db_changes (adb), ==, 1);
  g_assert_true (morango_db_execute (adb, &error,
                                     "INSERT INTO morango_recordmaxcounterbuffer (instance_id, counter, "
                                     "  transfer_session_id, model_uuid) "
                                     "SELECT instance_id, counter, ?1, store_model_id "
                                     "FROM morango_recordmaxcounter WHERE store_model_id = ?2", "ss", id, planted));
  g_assert_cmpint (morango_db_changes (adb), ==, 1);
  g_assert_true (morango_db_query_int64 (adb, &n, NULL, &error,
                                         "SELECT count(*) FROM morango_buffer WHERE transfer_session_id = ?",
                                         "s", id));
  g_assert_cmpint (n, ==, 7);

  /* Resumed: the first chunk is stored, the second refused whole. */
  options.resume_transfer_session_id = id;
  g_assert_false (morango_local_sync (f->b, f->a, f->filter, FALSE, &options, NULL, &stats, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_RECORD_REJECTED);
  g_assert_nonnull (strstr (error->message, "is not contained within filter"));
  g_clear_error (&error);
  rts = morango_transfer_session_load (bdb, id, &error);
  sts = morango_transfer_session_load (adb, id, &error);
  g_assert_no_error (error);
  g_assert_cmpint (rts->records_transferred, ==, 4);
  g_assert_cmpint (sts->records_transferred, ==, 4);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM morango_buffer"), ==, 4);
  g_assert_true (morango_db_query_int64 (bdb, &n, NULL, &error,
                                         "SELECT (SELECT count(*) FROM morango_buffer WHERE model_uuid = ?1) + "
                                         "  (SELECT count(*) FROM morango_recordmaxcounterbuffer "
                                         "   WHERE model_uuid = ?1) + "
                                         "  (SELECT count(*) FROM morango_store WHERE id = ?1)",
                                         "s", planted));
  g_assert_cmpint (n, ==, 0);
  /* No history of the refused chunk's records either. */
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM morango_recordmaxcounterbuffer "
                                "WHERE model_uuid NOT IN (SELECT model_uuid FROM morango_buffer)"), ==, 0);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM morango_store"), ==, 0);

  /* Without the planted record the transfer resumes and ends: bob's
   * data arrives, nothing of alice's. */
  g_assert_true (morango_db_execute (adb, &error,
                                     "DELETE FROM morango_buffer WHERE model_uuid = ?", "s", planted));
  g_assert_true (morango_db_execute (adb, &error,
                                     "DELETE FROM morango_recordmaxcounterbuffer WHERE model_uuid = ?",
                                     "s", planted));
  sync_ok (f->b, f->a, f->filter, FALSE, &options, &stats);
  g_assert_cmpint (stats.records_transferred, ==, 6);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM facility_profile_summarylog"), ==, 5);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM facility_profile_myuser"), ==, 1);
  g_assert_cmpint (count (f->b, "SELECT count(*) FROM morango_store"), ==, 6);
}

static void
test_reopen_and_profile_mismatch (Fixture       *f,
                                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoProfile) kolibri = morango_profile_new_by_name ("kolibri-like", &error);
  g_autofree char *path = g_build_filename (f->dir, "a.db", NULL);
  g_autoptr(MorangoHostInfo) host = morango_host_info_new ("a.db", "");
  g_autoptr(MorangoRandom) random = morango_random_new_seeded (11);
  g_autofree char *instance = g_strdup (morango_store_get_instance_id (f->a));
  g_autoptr(MorangoStore) again = NULL;
  g_autoptr(MorangoStore) wrong = NULL;

  g_clear_object (&f->a);
  wrong = morango_store_open (path, kolibri, host, random, &error);
  g_assert_null (wrong);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_UNKNOWN_PROFILE);
  g_assert_nonnull (strstr (error->message, "morango-testapp"));
  g_clear_error (&error);

  again = morango_store_open (path, f->profile, host, random, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (morango_store_get_instance_id (again), ==, instance);
  g_assert_cmpint (count (again, "SELECT count(*) FROM facility_profile_myuser"), ==, 1);
  g_assert_cmpint (count (again, "SELECT count(*) FROM morango_scopedefinition"), ==, 2);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add ("/local-sync/" path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("freed-pages-reused", test_freed_pages_reused);
  ADD ("pull-then-nothing-new", test_pull_then_nothing_new);
  ADD ("push-edit-conflict", test_push_edit_conflict);
  ADD ("delete-recreate-hard-delete", test_delete_recreate_hard_delete);
  ADD ("hard-delete-purges-conflict-logs", test_hard_delete_purges_conflict_logs);
  ADD ("fsic-v1-equal-scopes", test_fsic_v1_equal_scopes);
  ADD ("outside-filter-stays", test_outside_filter_stays);
  ADD ("interrupted-transfer-resumes", test_interrupted_transfer_resumes);
  ADD ("sender-count-failure-resumes", test_sender_count_failure_resumes);
  ADD ("push-faults-resume", test_push_faults_resume);
  ADD ("interrupted-dequeue-resumes", test_interrupted_dequeue_resumes);
  ADD ("tampered-record-refused", test_tampered_record_refused);
  ADD ("refused-mid-transfer", test_refused_mid_transfer);
  ADD ("out-of-filter-record-refused", test_out_of_filter_record_refused);
  ADD ("reopen-and-profile-mismatch", test_reopen_and_profile_mismatch);
#undef ADD
  g_test_add ("/local-sync/cancel-transfer/pull", Fixture, GINT_TO_POINTER (FALSE),
              fixture_set_up, test_cancel_transfer, fixture_tear_down);
  g_test_add ("/local-sync/cancel-transfer/push", Fixture, GINT_TO_POINTER (TRUE),
              fixture_set_up, test_cancel_transfer, fixture_tear_down);
  return g_test_run ();
}
