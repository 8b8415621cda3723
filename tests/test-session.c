/* test-session.c: the transfer session state machine (protocol §1.5, §9.2, §11.3 update_state)
 *
 * SPDX-License-Identifier: MIT
 */
#include "morango-session.h"
#include "morango-test-util.h"

#define SS "11111111111111111111111111111111"
#define TS "22222222222222222222222222222222"

static MorangoDb *
new_db_with_session (void)
{
  g_autoptr(GError) error = NULL;
  MorangoDb *db = morango_db_open (":memory:", &error);
  g_autoptr(MorangoFilter) filter = morango_filter_parse ("abc:user");

  g_assert_no_error (error);
  g_assert_true (morango_sync_session_create (db, SS, FALSE, "facilitydata", "local", "/x",
                                              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                                              "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", &error));
  g_assert_true (morango_transfer_session_create (db, TS, SS, filter, TRUE, &error));
  g_assert_no_error (error);
  return db;
}

static char *
activity (MorangoDb  *db,
          const char *table,
          const char *id)
{
  g_autofree char *sql = g_strdup_printf ("SELECT last_activity_timestamp FROM %s WHERE id = ?", table);
  char *out = NULL;

  g_assert_true (morango_db_query_text (db, &out, NULL, sql, "s", id));
  return out;
}

static void
test_stages_move_forward_only (void)
{
  g_autoptr(MorangoDb) db = new_db_with_session ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoTransferSession) ts = NULL;

  ts = morango_transfer_session_load (db, TS, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ts->stage, ==, MORANGO_STAGE_INITIALIZING);
  g_assert_cmpint (ts->status, ==, MORANGO_STAGE_STATUS_STARTED);
  g_assert_cmpint (ts->records_total, ==, -1);
  g_assert_true (ts->push);
  g_assert_cmpstr (ts->filter, ==, "abc:user");

  g_assert_true (morango_transfer_session_set_stage (db, TS, MORANGO_STAGE_QUEUING,
                                                     MORANGO_STAGE_STATUS_COMPLETED, &error));
  g_assert_false (morango_transfer_session_set_stage (db, TS, MORANGO_STAGE_SERIALIZING,
                                                      MORANGO_STAGE_STATUS_STARTED, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_clear_pointer (&ts, morango_transfer_session_free);
  ts = morango_transfer_session_load (db, TS, NULL);
  g_assert_cmpint (ts->stage, ==, MORANGO_STAGE_QUEUING);
  g_assert_cmpint (ts->status, ==, MORANGO_STAGE_STATUS_COMPLETED);
}

static void
test_activity_timestamps (void)
{
  g_autoptr(MorangoDb) db = new_db_with_session ();
  g_autoptr(GError) error = NULL;
  g_autofree char *ts0 = activity (db, "morango_transfersession", TS);
  g_autofree char *ss0 = activity (db, "morango_syncsession", SS);
  g_autofree char *ts1 = NULL, *ss1 = NULL, *ts2 = NULL;

  g_usleep (2000);
  /* No change: timestamps stay. */
  g_assert_true (morango_transfer_session_set_stage (db, TS, MORANGO_STAGE_INITIALIZING,
                                                     MORANGO_STAGE_STATUS_STARTED, &error));
  ts1 = activity (db, "morango_transfersession", TS);
  g_assert_cmpstr (ts1, ==, ts0);

  g_assert_true (morango_transfer_session_set_stage (db, TS, MORANGO_STAGE_SERIALIZING,
                                                     MORANGO_STAGE_STATUS_STARTED, &error));
  ts2 = activity (db, "morango_transfersession", TS);
  ss1 = activity (db, "morango_syncsession", SS);
  g_assert_cmpstr (ts2, >, ts0);
  g_assert_cmpstr (ss1, >, ss0);
}

static void
test_empty_filter_refused (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoDb) db = morango_db_open (":memory:", &error);
  g_autoptr(MorangoFilter) everything = morango_filter_parse ("  ");
  gint64 n = -1;

  g_assert_false (morango_transfer_session_create (db, TS, SS, everything, FALSE, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_assert_true (morango_db_query_int64 (db, &n, NULL, NULL, "SELECT count(*) FROM morango_transfersession", ""));
  g_assert_cmpint (n, ==, 0);
}

static void
test_counts_fsics_and_close (void)
{
  g_autoptr(MorangoDb) db = new_db_with_session ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoTransferSession) ts = NULL;
  gint64 n = -1;

  g_assert_true (morango_transfer_session_set_counts (db, TS, 5, -1, &error));
  g_assert_true (morango_transfer_session_set_counts (db, TS, -1, 3, &error));
  g_assert_true (morango_transfer_session_set_fsics (db, TS, "{\"super\": {}, \"sub\": {}}", NULL, &error));
  g_assert_true (morango_db_execute (db, &error,
                                     "INSERT INTO morango_buffer (profile, last_saved_instance, last_saved_counter, "
                                     "  partition, source_id, model_name, transfer_session_id, model_uuid) "
                                     "VALUES ('p', 'a', 1, 'abc:user', 's', 'm', ?, 'x')", "s", TS));
  ts = morango_transfer_session_load (db, TS, &error);
  g_assert_cmpint (ts->records_total, ==, 5);
  g_assert_cmpint (ts->records_transferred, ==, 3);
  g_assert_cmpstr (ts->client_fsic, ==, "{\"super\": {}, \"sub\": {}}");
  g_assert_cmpstr (ts->server_fsic, ==, "{}");

  /* Cleanup, cancelled in the middle of its statement, leaves the
   * session open with its buffer; run again, it completes. */
  {
    g_autoptr(MorangoMonitor) monitor = morango_monitor_new (NULL);

    /* Enough rows that deleting them takes many looks at the monitor,
     * and one of another session, so they are not simply all dropped. */
    g_assert_true (morango_db_execute (db, &error,
                                       "INSERT INTO morango_buffer (profile, last_saved_instance, "
                                       "  last_saved_counter, partition, source_id, model_name, "
                                       "  transfer_session_id, model_uuid) "
                                       "VALUES ('p', 'a', 1, 'abc:user', 's', 'm', ?, 'y')",
                                       "s", "44444444444444444444444444444444"));
    g_assert_true (morango_db_execute (db, &error,
                                       "INSERT INTO morango_buffer (profile, last_saved_instance, "
                                       "  last_saved_counter, partition, source_id, model_name, "
                                       "  transfer_session_id, model_uuid) "
                                       "WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                                       "  WHERE i < 20000) "
                                       "SELECT 'p', 'a', 1, 'abc:user', 's', 'm', ?, printf ('%032x', i) FROM n",
                                       "s", TS));
    morango_test_monitor_cancel_in_statement (monitor, NULL);
    g_assert_false (morango_transfer_session_close (db, TS, monitor, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_clear_error (&error);
    g_clear_pointer (&ts, morango_transfer_session_free);
    ts = morango_transfer_session_load (db, TS, &error);
    g_assert_true (ts->active);
    g_assert_true (morango_db_query_int64 (db, &n, NULL, NULL, "SELECT count(*) FROM morango_buffer", ""));
    g_assert_cmpint (n, ==, 20002);
  }
  g_assert_true (morango_transfer_session_close (db, TS, NULL, &error));
  g_clear_pointer (&ts, morango_transfer_session_free);
  ts = morango_transfer_session_load (db, TS, &error);
  g_assert_false (ts->active);
  g_assert_true (morango_db_query_int64 (db, &n, NULL, NULL, "SELECT count(*) FROM morango_buffer", ""));
  g_assert_cmpint (n, ==, 1);
  g_assert_null (morango_transfer_session_load (db, "33333333333333333333333333333333", &error));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/session/stages-forward-only", test_stages_move_forward_only);
  g_test_add_func ("/session/activity-timestamps", test_activity_timestamps);
  g_test_add_func ("/session/empty-filter-refused", test_empty_filter_refused);
  g_test_add_func ("/session/counts-fsics-close", test_counts_fsics_and_close);
  return g_test_run ();
}
