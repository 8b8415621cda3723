/* test-buffer.c: a store's transfer buffers (protocol §1.7, §1.9, §8.7)
 *
 * SPDX-License-Identifier: MIT
 */
#include "morango-buffer.h"
#include "morango-test-util.h"

static gint64
rows_of (MorangoDb  *db,
         const char *table,
         const char *ts)
{
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM %s WHERE transfer_session_id = ?", table);
  g_autoptr(GError) error = NULL;
  gint64 n = -1;

  g_assert_true (morango_db_query_int64 (db, &n, NULL, &error, sql, "s", ts));
  return n;
}

/* Clearing one session's buffers leaves other sessions' rows, before
 * and after it in id order; a session alone is cleared whole. */
static void
test_clear_buffers_keeps_other_sessions (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoDb) db = morango_db_open (":memory:", &error);
  const char *sessions[] = { "a", "m", "z" };

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (sessions); i++)
    for (int k = 0; k < 3; k++)
      {
        g_autofree char *uuid = g_strdup_printf ("%s%d", sessions[i], k);
        g_assert_true (morango_db_execute (db, &error,
          "INSERT INTO morango_buffer (profile, last_saved_instance, last_saved_counter,"
          "  partition, source_id, model_name, transfer_session_id, model_uuid) "
          "VALUES ('p', 'i', 1, 'x', 's', 'm', ?1, ?2)", "ss", sessions[i], uuid));
        g_assert_true (morango_db_execute (db, &error,
          "INSERT INTO morango_recordmaxcounterbuffer (instance_id, counter, transfer_session_id,"
          "  model_uuid) VALUES ('i', 1, ?1, ?2)", "ss", sessions[i], uuid));
      }

  g_assert_true (morango_buffer_clear (db, "m", &error));
  g_assert_no_error (error);
  g_assert_cmpint (rows_of (db, "morango_buffer", "m"), ==, 0);
  g_assert_cmpint (rows_of (db, "morango_recordmaxcounterbuffer", "m"), ==, 0);
  g_assert_cmpint (rows_of (db, "morango_buffer", "a"), ==, 3);
  g_assert_cmpint (rows_of (db, "morango_recordmaxcounterbuffer", "z"), ==, 3);

  /* Only a session before it is left, then only one after it. */
  g_assert_true (morango_buffer_clear (db, "z", &error));
  g_assert_cmpint (rows_of (db, "morango_buffer", "a"), ==, 3);
  g_assert_cmpint (rows_of (db, "morango_recordmaxcounterbuffer", "a"), ==, 3);
  g_assert_true (morango_db_execute (db, &error,
    "INSERT INTO morango_buffer (profile, last_saved_instance, last_saved_counter,"
    "  partition, source_id, model_name, transfer_session_id, model_uuid) "
    "VALUES ('p', 'i', 1, 'x', 's', 'm', 'z', 'z9')", ""));
  g_assert_true (morango_buffer_clear (db, "a", &error));
  g_assert_cmpint (rows_of (db, "morango_buffer", "z"), ==, 1);
  g_assert_true (morango_buffer_clear (db, "z", &error));
  g_assert_no_error (error);
  g_assert_cmpint (rows_of (db, "morango_buffer", "z"), ==, 0);
  g_assert_cmpint (rows_of (db, "morango_recordmaxcounterbuffer", "a"), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/buffer/clear-keeps-other-sessions", test_clear_buffers_keeps_other_sessions);
  return g_test_run ();
}
