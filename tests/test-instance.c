/* test-instance.c: database id, instance id resolution and counters (§2.3, §2.4, §3.1, §11.1)
 *
 * SPDX-License-Identifier: MIT
 */
#include "morango-instance.h"
#include "morango-store.h"
#include "morango-test-util.h"

static gint64
count (MorangoDb  *db,
       const char *sql)
{
  gint64 n = -1;
  g_autoptr(GError) error = NULL;

  g_assert_true (morango_db_query_int64 (db, &n, NULL, &error, sql, ""));
  g_assert_no_error (error);
  return n;
}

static void
test_end_to_end_vector (void)
{
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("ids.json", "instance_id_end_to_end");
  JsonObject *c = g_ptr_array_index (cases, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoDb) db = morango_db_open (":memory:", &error);
  g_autoptr(MorangoRandom) random = morango_random_new_seeded (1);
  g_autoptr(MorangoHostInfo) host = NULL;
  g_autofree char *id = NULL;
  g_autofree char *system_id = NULL;
  gint64 counter = -1;

  g_assert_true (morango_db_execute (db, &error,
                                     "INSERT INTO morango_databaseidmodel (id, current, date_generated) "
                                     "VALUES (?, 1, '2026-01-01 00:00:00')",
                                     "s", json_object_get_string_member (c, "database_id")));
  host = morango_host_info_new (json_object_get_string_member (c, "env_MORANGO_SYSTEM_ID"),
                                json_object_get_string_member (c, "env_MORANGO_NODE_ID"));
  id = morango_instance_resolve (db, host, random, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (id, ==, json_object_get_string_member (c, "instance_id"));
  g_assert_true (morango_db_query_text (db, &system_id, &error,
                                        "SELECT system_id FROM morango_instanceidmodel WHERE id = ?", "s", id));
  g_assert_cmpstr (system_id, ==, json_object_get_string_member (c, "system_id"));
  g_assert_true (morango_instance_get_counter (db, id, &counter, &error));
  g_assert_cmpint (counter, ==, json_object_get_int_member (c, "counter"));
}

static void
test_resolution_rules (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoDb) db = morango_db_open (":memory:", &error);
  g_autoptr(MorangoRandom) random = morango_random_new_seeded (morango_test_seed (7));
  g_autoptr(MorangoHostInfo) a = morango_host_info_new ("machine-a", "aa:bb:cc:dd:ee:00");
  g_autoptr(MorangoHostInfo) b = morango_host_info_new ("machine-b", "aa:bb:cc:dd:ee:00");
  g_autofree char *id1 = NULL, *id2 = NULL, *id3 = NULL, *id4 = NULL;
  g_autofree char *dbid1 = NULL, *dbid2 = NULL;
  gint64 c = 0;

  id1 = morango_instance_resolve (db, a, random, &error);
  g_assert_no_error (error);
  dbid1 = morango_instance_ensure_database_id (db, random, &error);
  id2 = morango_instance_resolve (db, a, random, &error);
  g_assert_cmpstr (id1, ==, id2);                 /* same inputs, same single row */
  g_assert_cmpint (count (db, "SELECT count(*) FROM morango_instanceidmodel"), ==, 1);
  g_assert_cmpint (count (db, "SELECT count(*) FROM morango_databaseidmodel WHERE current = 1"), ==, 1);

  g_assert_true (morango_instance_next_counter (db, id1, &c, &error));
  g_assert_cmpint (c, ==, 1);
  g_assert_true (morango_instance_next_counter (db, id1, &c, &error));
  g_assert_cmpint (c, ==, 2);

  /* The machine changes: a new id becomes the only current one. */
  id3 = morango_instance_resolve (db, b, random, &error);
  g_assert_cmpstr (id3, !=, id1);
  g_assert_cmpint (count (db, "SELECT count(*) FROM morango_instanceidmodel WHERE current = 1"), ==, 1);
  g_assert_true (morango_instance_get_counter (db, id3, &c, &error));
  g_assert_cmpint (c, ==, 0);

  /* And back: the old id returns with its counter. */
  id4 = morango_instance_resolve (db, a, random, &error);
  g_assert_cmpstr (id4, ==, id1);
  g_assert_true (morango_instance_get_counter (db, id4, &c, &error));
  g_assert_cmpint (c, ==, 2);
  g_assert_cmpint (count (db, "SELECT count(*) FROM morango_instanceidmodel WHERE current = 1"), ==, 1);

  dbid2 = morango_instance_ensure_database_id (db, random, &error);
  g_assert_cmpstr (dbid1, ==, dbid2);

  g_assert_false (morango_instance_next_counter (db, "00000000000000000000000000000000", &c, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND);
}

static void
test_seeded_database_ids_repeat (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoDb) db1 = morango_db_open (":memory:", &error);
  g_autoptr(MorangoDb) db2 = morango_db_open (":memory:", &error);
  g_autoptr(MorangoRandom) r1 = morango_random_new_seeded (99);
  g_autoptr(MorangoRandom) r2 = morango_random_new_seeded (99);
  g_autoptr(MorangoHostInfo) host = morango_host_info_new ("sys", "node");
  g_autofree char *a = morango_instance_resolve (db1, host, r1, &error);
  g_autofree char *b = morango_instance_resolve (db2, host, r2, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (a, ==, b);
}

static void
test_override_variables (void)
{
  g_autoptr(MorangoHostInfo) host = NULL;

  g_setenv ("MORANGO_SYSTEM_ID", "  magicsysid ", TRUE);
  g_setenv ("MORANGO_NODE_ID", "ab", TRUE);   /* too short: ignored */
  host = morango_host_info_new_from_system ();
  g_assert_cmpstr (host->system_id_input, ==, "  magicsysid ");
  g_assert_cmpstr (host->node_id_input, !=, "ab");
  g_unsetenv ("MORANGO_SYSTEM_ID");
  g_unsetenv ("MORANGO_NODE_ID");
}

/* The stages' fault hook as the tests arm it: a point and a count. */
static void
test_injection_hook (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoMonitor) monitor = morango_monitor_new (NULL);

  g_assert_true (morango_monitor_check (monitor, "dequeue", 100, &error));
  morango_test_monitor_fail_at (monitor, "dequeue", 5);
  g_assert_true (morango_monitor_check (monitor, "queue", 10, &error));
  g_assert_true (morango_monitor_check (monitor, "dequeue", 4, &error));
  g_assert_false (morango_monitor_check (monitor, "dequeue", 5, &error));
  g_assert_error (error, MORANGO_TEST_ERROR, MORANGO_TEST_ERROR_INJECTED);
  morango_test_monitor_fail_at (monitor, NULL, -1);
  g_clear_error (&error);
  g_assert_true (morango_monitor_check (monitor, "dequeue", 5, &error));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/instance/end-to-end-vector", test_end_to_end_vector);
  g_test_add_func ("/instance/resolution-rules", test_resolution_rules);
  g_test_add_func ("/instance/seeded-ids-repeat", test_seeded_database_ids_repeat);
  g_test_add_func ("/instance/override-variables", test_override_variables);
  g_test_add_func ("/instance/injection-hook", test_injection_hook);
  return g_test_run ();
}
