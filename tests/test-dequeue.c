/* test-dequeue.c: dequeuing (incoming buffer -> store) with the merge,
 * conflict and deletion rules of protocol §5, against
 * tests/vectors/merge.json, plus interruption and bad input
 *
 * SPDX-License-Identifier: MIT
 */

#include "morango-dequeue.h"
#include "morango-error.h"
#include "morango-instance.h"
#include "morango-queue.h"
#include "morango-test-util.h"
#include "store-fixtures.h"

#define TS    FIXTURE_MIXED_TS
#define OTHER FIXTURE_MIXED_OTHER
#define LOCAL FIXTURE_MIXED_LOCAL
#define R1    FIXTURE_MIXED_R1
#define R2    FIXTURE_MIXED_R2
#define MIXED_FSIC FIXTURE_MIXED_FSIC

/* ---- merge.json -------------------------------------------------------- */

typedef enum {
  PHASE_DEQUEUE,
  /* after_deserializing_stage needs the profile layer; a later phase
   * runs serialize + deserialize here and compares that section. */
  PHASE_DESERIALIZING_STAGE,
} MergePhase;

static JsonArray *
rows_not_of_session (JsonArray  *rows,
                     const char *ts)
{
  JsonArray *out = json_array_new ();

  for (guint i = 0; i < json_array_get_length (rows); i++)
    {
      JsonObject *row = json_array_get_object_element (rows, i);

      if (!g_str_equal (json_object_get_string_member (row, "transfer_session_id"), ts))
        json_array_add_object_element (out, json_object_ref (row));
    }
  return out;
}

static void
run_merge_case (JsonObject *c,
                MergePhase  last_phase)
{
  const char *name = json_object_get_string_member (c, "name");
  const char *ts = json_object_get_string_member (c, "transfer_session_id");
  const char *quirk = json_object_get_string_member_with_default (c, "python_quirk", NULL);
  JsonObject *before = json_object_get_object_member (c, "before");
  JsonObject *after = json_object_get_object_member (c, "after_dequeue");
  g_autoptr(MorangoStore) store = fixture_store_new ("facilitydata",
                                                     json_object_get_string_member (c, "local_instance_id"),
                                                     json_object_get_int_member (c, "local_counter_before"));
  MorangoDb *db = morango_store_get_db (store);
  g_autoptr(MorangoFilter) filter = fixture_filter_from_json (json_object_get_member (c, "filter"));
  MorangoFsicFormat format = g_str_equal (json_object_get_string_member (c, "fsic_format"), "v2")
                             ? MORANGO_FSIC_V2 : MORANGO_FSIC_V1;
  g_autofree char *sender = morango_test_json_to_string (json_object_get_member (c, "sender_fsic"));
  g_autoptr(GError) error = NULL;
  MorangoDequeueResult result = { 0, };
  g_autoptr(JsonArray) want_buffer = NULL;
  g_autoptr(JsonArray) want_rmcb = NULL;
  g_autoptr(JsonArray) want_dmc = NULL;
  const char *tables[] = { "store", "rmc", "buffer", "rmcb", "dmc" };

  g_test_message ("case: %s", name);
  for (guint t = 0; t < G_N_ELEMENTS (tables); t++)
    fixture_load_rows (db, tables[t], json_object_get_array_member (before, tables[t]));

  g_assert_true (morango_store_dequeue (store, ts, filter, format, sender, &result, NULL, &error));
  g_assert_no_error (error);
  g_test_message ("  new %" G_GINT64_FORMAT ", fast-forward %" G_GINT64_FORMAT
                  ", reverse fast-forward %" G_GINT64_FORMAT ", conflict %" G_GINT64_FORMAT,
                  result.n_new, result.n_fast_forward, result.n_reverse_fast_forward, result.n_conflict);

  /* Whatever Python leaves of other sessions, we leave all of it
   * (quirk 3: Python also drops a reverse fast-forward record's rows of
   * other sessions). */
  want_buffer = rows_not_of_session (json_object_get_array_member (before, "buffer"), ts);
  want_rmcb = rows_not_of_session (json_object_get_array_member (before, "rmcb"), ts);
  if (quirk == NULL || strstr (name, "other transfer sessions") == NULL)
    {
      fixture_assert_table (db, "buffer", "buffer (vector)",
                           json_object_get_array_member (after, "buffer"));
      fixture_assert_table (db, "rmcb", "rmcb (vector)",
                           json_object_get_array_member (after, "rmcb"));
    }
  else
    g_assert_cmpuint (json_array_get_length (want_buffer), >, 0);
  fixture_assert_table (db, "buffer", "buffer", want_buffer);
  fixture_assert_table (db, "rmcb", "rmcb", want_rmcb);

  fixture_assert_table (db, "store", "store", json_object_get_array_member (after, "store"));
  fixture_assert_table (db, "rmc", "rmc", json_object_get_array_member (after, "rmc"));

  /* Quirk 1: Python lowers DMC(R1) from 12 to 5; we keep 12.  Quirk 2:
   * we also credit the sender's "super" counters to the filter. */
  want_dmc = fixture_expected_dmc (json_object_get_array_member (before, "dmc"),
                                   json_object_get_array_member (after, "dmc"),
                                   format == MORANGO_FSIC_V2
                                   ? json_object_get_object_member (c, "sender_fsic") : NULL,
                                   filter);
  if (quirk != NULL && strstr (name, "DMC update") != NULL)
    {
      g_autoptr(JsonNode) mine = json_node_init_array (json_node_alloc (), want_dmc);

      g_assert_false (morango_test_json_equal (mine, json_object_get_member (after, "dmc")));
    }
  fixture_assert_table (db, "dmc", "dmc", want_dmc);

  g_assert_cmpint (fixture_counter (store), ==, json_object_get_int_member (after, "local_counter"));
  g_assert_cmpint (result.counter, ==, json_object_get_int_member (after, "local_counter"));

  if (last_phase < PHASE_DESERIALIZING_STAGE)
    return;
  g_test_incomplete ("after_deserializing_stage needs the profile layer");
}

static void
test_merge_vectors (void)
{
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("merge.json", "dequeue");

  g_assert_cmpuint (cases->len, >=, 17);
  for (guint i = 0; i < cases->len; i++)
    run_merge_case (cases->pdata[i], PHASE_DEQUEUE);
}

/* ---- a synthetic mixed session ------------------------------------------ */

/* The mixed session of store-fixtures.c, in memory. */
static MorangoStore *
mixed_store (gint64 n)
{
  return fixture_mixed_store_at (":memory:", n, FALSE);
}

static void
test_mixed_classes (void)
{
  g_autoptr(MorangoStore) store = mixed_store (40);
  MorangoDb *db = morango_store_get_db (store);
  g_autoptr(MorangoFilter) filter = morango_filter_parse ("d");
  g_autoptr(GError) error = NULL;
  MorangoDequeueResult r = { 0, };
  g_autofree char *text = NULL;
  gint64 n = -1;

  g_assert_true (morango_store_dequeue (store, TS, filter, MORANGO_FSIC_V2, MIXED_FSIC, &r, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (r.n_new, ==, 10);
  g_assert_cmpint (r.n_reverse_fast_forward, ==, 10);
  g_assert_cmpint (r.n_fast_forward, ==, 10);
  g_assert_cmpint (r.n_conflict, ==, 10);
  g_assert_cmpint (r.counter, ==, 101);

  /* A conflict (i = 3): local data, incoming on top of the log, our
   * version, deletions ORed (3 is neither). */
  morango_db_query_text (db, &text, &error,
    "SELECT serialized || '|' || conflicting_serialized_data || '|' || last_saved_instance || ':' ||"
    "  last_saved_counter || '|' || (" FIXTURE_IS_PENDING ") || '|' || last_transfer_session_id "
    "FROM morango_store WHERE id = printf ('%032x', 3)", "", NULL);
  g_assert_no_error (error);
  g_assert_cmpstr (text, ==, "{\"v\": \"local\", \"i\": 3}|{\"v\": \"remote\", \"i\": 3}\nold|"
                   LOCAL ":101|1|" TS);
  g_clear_pointer (&text, g_free);
  /* Its history: R2:5 merged with R1:7, plus our new version. */
  morango_db_query_text (db, &text, &error,
    "SELECT group_concat (substr (instance_id, 1, 2) || ':' || counter, ' ') FROM "
    "(SELECT * FROM morango_recordmaxcounter WHERE store_model_id = printf ('%032x', 3) ORDER BY instance_id)",
    "", NULL);
  g_assert_no_error (error);
  g_assert_cmpstr (text, ==, "e1:7 e2:5 fe:101");
  g_clear_pointer (&text, g_free);

  /* A conflict with a hard delete (i = 11, class 3): data and log wiped. */
  morango_db_query_text (db, &text, &error,
    "SELECT '[' || serialized || '|' || conflicting_serialized_data || '|' || deleted || hard_deleted || ']' "
    "FROM morango_store WHERE id = printf ('%032x', 11)", "", NULL);
  g_assert_no_error (error);
  g_assert_cmpstr (text, ==, "[||01]");
  g_clear_pointer (&text, g_free);

  /* A fast-forward (i = 14, deleted): the incoming row whole. */
  morango_db_query_text (db, &text, &error,
    "SELECT serialized || '|' || conflicting_serialized_data || '|' || deleted || '|' || "
    "  last_saved_instance || ':' || last_saved_counter "
    "FROM morango_store WHERE id = printf ('%032x', 14)", "", NULL);
  g_assert_no_error (error);
  g_assert_cmpstr (text, ==, "{\"v\": \"remote\", \"i\": 14}||1|" R1 ":7");
  g_clear_pointer (&text, g_free);
  morango_db_query_text (db, &text, &error,
    "SELECT group_concat (substr (instance_id, 1, 2) || ':' || counter, ' ') FROM "
    "(SELECT * FROM morango_recordmaxcounter WHERE store_model_id = printf ('%032x', 14) ORDER BY instance_id)",
    "", NULL);
  g_assert_no_error (error);
  /* Replaced by the incoming counters (R2 5 -> 6). */
  g_assert_cmpstr (text, ==, "e1:7 e2:6");
  g_clear_pointer (&text, g_free);

  /* A reverse fast-forward (i = 1) is untouched and not tagged. */
  morango_db_query_text (db, &text, &error,
    "SELECT serialized || '|' || (" FIXTURE_IS_PENDING ") || '|' || ifnull (last_transfer_session_id, 'NULL') "
    "FROM morango_store WHERE id = printf ('%032x', 1)", "", NULL);
  g_assert_no_error (error);
  g_assert_cmpstr (text, ==, "{\"v\": \"local\", \"i\": 1}|0|NULL");

  /* Nothing of this session is left; the other session is intact. */
  morango_db_query_int64 (db, &n, NULL, &error,
    "SELECT (SELECT count (*) FROM morango_buffer WHERE transfer_session_id = '" TS "') +"
    "  (SELECT count (*) FROM morango_recordmaxcounterbuffer WHERE transfer_session_id = '" TS "')",
    "", NULL);
  g_assert_cmpint (n, ==, 0);
  morango_db_query_int64 (db, &n, NULL, &error,
    "SELECT (SELECT count (*) FROM morango_buffer WHERE transfer_session_id = '" OTHER "') +"
    "  (SELECT count (*) FROM morango_recordmaxcounterbuffer WHERE transfer_session_id = '" OTHER "')",
    "", NULL);
  g_assert_cmpint (n, ==, 2);
  /* DMC raised from the sender's sub. */
  morango_db_query_int64 (db, &n, NULL, &error,
    "SELECT counter FROM morango_databasemaxcounter WHERE instance_id = '" R1 "' AND partition = 'd'",
    "", NULL);
  g_assert_cmpint (n, ==, 7);
}

/* ---- interrupted dequeue ------------------------------------------------- */

static void
test_interrupted (void)
{
  const gint64 n = 2500;  /* more than two rounds of 1000 */
  const gint64 ks[] = { 0, 1, 2, 999, 1000, 1001, 1999, 2000, 2499, 2500 };
  g_autoptr(MorangoFilter) filter = morango_filter_parse ("d");
  g_autoptr(MorangoStore) reference = mixed_store (n);
  g_autofree char *expected = NULL;
  g_autoptr(GError) error = NULL;

  /* What an uninterrupted run leaves. */
  g_assert_true (morango_store_dequeue (reference, TS, filter, MORANGO_FSIC_V2, MIXED_FSIC, NULL, NULL,
                                        &error));
  g_assert_no_error (error);
  expected = fixture_db_digest (morango_store_get_db (reference));

  for (guint i = 0; i < G_N_ELEMENTS (ks); i++)
    {
      g_autoptr(MorangoStore) store = mixed_store (n);
      g_autofree char *before = fixture_db_digest (morango_store_get_db (store));
      g_autofree char *after_failure = NULL;
      g_autofree char *after = NULL;
      g_autoptr(MorangoMonitor) failing = morango_test_monitor_failing_at ("dequeue", ks[i]);

      g_test_message ("failure injected after %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " records",
                      ks[i], n);
      g_assert_false (morango_store_dequeue (store, TS, filter, MORANGO_FSIC_V2, MIXED_FSIC, NULL,
                                             failing, &error));
      g_assert_error (error, MORANGO_TEST_ERROR, MORANGO_TEST_ERROR_INJECTED);
      g_test_message ("  %s", error->message);
      g_clear_error (&error);
      g_assert_false (morango_db_in_transaction (morango_store_get_db (store)));

      /* Store, RMC, DMC, buffers and the instance counter as they were. */
      after_failure = fixture_db_digest (morango_store_get_db (store));
      g_assert_cmpstr (after_failure, ==, before);

      g_assert_true (morango_store_dequeue (store, TS, filter, MORANGO_FSIC_V2, MIXED_FSIC, NULL, NULL,
                                            &error));
      g_assert_no_error (error);
      after = fixture_db_digest (morango_store_get_db (store));
      g_assert_cmpstr (after, ==, expected);
    }

  /* k beyond the record count never fires. */
  {
    g_autoptr(MorangoStore) store = mixed_store (n);
    g_autofree char *after = NULL;
    g_autoptr(MorangoMonitor) failing = morango_test_monitor_failing_at ("dequeue", n + 1);

    g_assert_true (morango_store_dequeue (store, TS, filter, MORANGO_FSIC_V2, MIXED_FSIC, NULL, failing,
                                          &error));
    g_assert_no_error (error);
    after = fixture_db_digest (morango_store_get_db (store));
    g_assert_cmpstr (after, ==, expected);
  }
}

/* ---- bad input ------------------------------------------------------------ */

static void
expect_refused (const char *what,
                const char *sql,
                GQuark      domain,
                int         code,
                const char *fsic)
{
  g_autoptr(MorangoStore) store = mixed_store (20);
  MorangoDb *db = morango_store_get_db (store);
  g_autoptr(MorangoFilter) filter = morango_filter_parse ("d");
  g_autoptr(GError) error = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;

  if (sql != NULL)
    {
      morango_db_exec (db, sql, &error);
      g_assert_no_error (error);
    }
  before = fixture_db_digest (db);
  g_assert_false (morango_store_dequeue (store, TS, filter, MORANGO_FSIC_V2, fsic ? fsic : MIXED_FSIC,
                                         NULL, NULL, &error));
  g_assert_error (error, domain, code);
  g_test_message ("%s: %s", what, error->message);
  after = fixture_db_digest (db);
  g_assert_cmpstr (after, ==, before);
}

static void
test_bad_input (void)
{
  struct {
    const char *what;
    const char *sql;
    const char *in_message;
  } cases[] = {
    { "malformed JSON",
      "UPDATE morango_buffer SET serialized = '{\"v\": ' WHERE model_uuid = printf ('%032x', 13)",
      "not valid JSON" },
    { "JSON that is not an object",
      "UPDATE morango_buffer SET serialized = '[1, 2]' WHERE model_uuid = printf ('%032x', 13)",
      "not a JSON object" },
    { "empty data on a record that is not purged",
      "UPDATE morango_buffer SET serialized = '', hard_deleted = 0 WHERE model_uuid = printf ('%032x', 13)",
      "not valid JSON" },
    { "an id that is not hex",
      "UPDATE morango_buffer SET model_uuid = 'zz' || substr (model_uuid, 3) WHERE model_uuid = printf ('%032x', 13)",
      "32 lowercase" },
    { "an upper-case instance id",
      "UPDATE morango_buffer SET last_saved_instance = upper (last_saved_instance) WHERE model_uuid = printf ('%032x', 13)",
      "last_saved_instance" },
    { "a text counter",
      "UPDATE morango_buffer SET last_saved_counter = 'seven' WHERE model_uuid = printf ('%032x', 13)",
      "last_saved_counter" },
    { "a bad history row",
      "UPDATE morango_recordmaxcounterbuffer SET counter = -3 WHERE model_uuid = printf ('%032x', 13)",
      "history" },
  };

  g_autofree char *dir = morango_test_tmpdir ();

  /* In memory the check runs before the rounds; in a file it runs on a
   * thread of its own beside them, and must undo them all the same. */
  for (guint i = 0; i < 2 * G_N_ELEMENTS (cases); i++)
    {
      guint c = i % G_N_ELEMENTS (cases);
      g_autofree char *path = g_strdup_printf ("%s/bad-%u.db", dir, i);
      g_autoptr(MorangoStore) store = i < G_N_ELEMENTS (cases) ? mixed_store (20)
                                                               : fixture_mixed_store_at (path, 20, FALSE);
      MorangoDb *db = morango_store_get_db (store);
      g_autoptr(MorangoFilter) filter = morango_filter_parse ("d");
      g_autoptr(GError) error = NULL;
      g_autofree char *before = NULL;
      g_autofree char *after = NULL;

      morango_db_exec (db, cases[c].sql, &error);
      g_assert_no_error (error);
      before = fixture_db_digest (db);
      g_assert_false (morango_store_dequeue (store, TS, filter, MORANGO_FSIC_V2, MIXED_FSIC, NULL, NULL,
                                             &error));
      g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
      g_test_message ("%s (%s): %s", cases[c].what, i < G_N_ELEMENTS (cases) ? "memory" : "file",
                      error->message);
      /* The message names the record and the problem. */
      g_assert_nonnull (strstr (error->message, "0000000000000000000000000d"));
      g_assert_nonnull (strstr (error->message, cases[c].in_message));
      after = fixture_db_digest (db);
      g_assert_cmpstr (after, ==, before);
    }

  /* The sender's FSIC may only vouch for partitions inside the filter. */
  expect_refused ("sub partition outside the filter", NULL,
                  MORANGO_ERROR, MORANGO_ERROR_INVALID_FSIC_PARTITION,
                  "{\"super\": {}, \"sub\": {\"e\": {\"" R1 "\": 7}}}");
  expect_refused ("FSIC without sub", NULL, MORANGO_ERROR, MORANGO_ERROR_INVALID_FSIC,
                  "{\"super\": {}}");
}

static void
test_unknown_model_is_kept (void)
{
  g_autoptr(MorangoStore) store = mixed_store (8);
  MorangoDb *db = morango_store_get_db (store);
  g_autoptr(MorangoFilter) filter = morango_filter_parse ("d");
  g_autoptr(GError) error = NULL;
  g_autofree char *model = NULL;

  /* A model this peer has never heard of (a newer application): kept in
   * the store and forwarded later (§4.5), not an error. */
  morango_db_exec (db, "UPDATE morango_buffer SET model_name = 'futuremodel' "
                       "WHERE model_uuid = printf ('%032x', 4)", &error);
  g_assert_no_error (error);
  g_assert_true (morango_store_dequeue (store, TS, filter, MORANGO_FSIC_V2, MIXED_FSIC, NULL, NULL, &error));
  g_assert_no_error (error);
  morango_db_query_text (db, &model, &error,
                         "SELECT model_name || '|' || (" FIXTURE_IS_PENDING ") FROM morango_store "
                         "WHERE id = printf ('%032x', 4)", "", NULL);
  g_assert_cmpstr (model, ==, "futuremodel|1");
}


/* ---- the pending list ------------------------------------------------------ */

#define PA "a0000000000000000000000000000000"
#define PB "b0000000000000000000000000000000"
#define PC "c0000000000000000000000000000000"
#define PD "d0000000000000000000000000000000"
#define PE "e0000000000000000000000000000000"
#define PF "f0000000000000000000000000000000"
#define PG "f1000000000000000000000000000000"

/* A local record in model "m", version (R2, 5); on the pending list
 * when @pending; with R1:9 in its history when @seen_r1. */
static void
add_pending_test_row (MorangoDb  *db,
                      const char *id,
                      gboolean    pending,
                      gboolean    seen_r1)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (morango_db_execute (db, &error,
      "INSERT INTO morango_store (id, profile, serialized, last_saved_instance, last_saved_counter,"
      "  partition, source_id, model_name) VALUES (?, 'facilitydata', '{\"v\": \"local\"}', '" R2 "', 5,"
      "  'd:u1', 'src', 'm')", "s", id));
  g_assert_true (morango_db_execute (db, &error,
      "INSERT INTO morango_recordmaxcounter (instance_id, counter, store_model_id) "
      "VALUES ('" R2 "', 5, ?)", "s", id));
  if (seen_r1)
    g_assert_true (morango_db_execute (db, &error,
        "INSERT INTO morango_recordmaxcounter (instance_id, counter, store_model_id) "
        "VALUES ('" R1 "', 9, ?)", "s", id));
  if (pending)
    g_assert_true (morango_db_execute (db, &error, FIXTURE_MAKE_PENDING " WHERE id = ?", "s", id));
  g_assert_no_error (error);
}

/* The incoming version (R1, 7) of @id under @profile and @model; its
 * history covers the local version (R2, 5) when @covers_local. */
static void
add_pending_test_incoming (MorangoDb  *db,
                           const char *id,
                           const char *profile,
                           const char *model,
                           gboolean    covers_local)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (morango_db_execute (db, &error,
      "INSERT INTO morango_buffer (profile, serialized, last_saved_instance, last_saved_counter,"
      "  partition, source_id, model_name, transfer_session_id, model_uuid) "
      "VALUES (?, '{\"v\": \"remote\"}', '" R1 "', 7, 'd:u1', 'src', ?, '" TS "', ?)",
      "sss", profile, model, id));
  g_assert_true (morango_db_execute (db, &error,
      "INSERT INTO morango_recordmaxcounterbuffer (instance_id, counter, transfer_session_id, model_uuid) "
      "VALUES ('" R1 "', 7, '" TS "', ?)", "s", id));
  if (covers_local)
    g_assert_true (morango_db_execute (db, &error,
        "INSERT INTO morango_recordmaxcounterbuffer (instance_id, counter, transfer_session_id, model_uuid) "
        "VALUES ('" R2 "', 6, '" TS "', ?)", "s", id));
  g_assert_no_error (error);
}

/* A fast-forward takes the incoming profile and model name (step 9): the
 * record's pending entry moves to them, and none is left under the old
 * names.  Every other record keeps its entry, or lack of one, as it was. */
static void
test_fast_forward_renames_pending (void)
{
  g_autoptr(MorangoStore) store = fixture_store_new ("facilitydata", LOCAL, 100);
  MorangoDb *db = morango_store_get_db (store);
  g_autoptr(MorangoFilter) filter = morango_filter_parse ("d");
  g_autoptr(GError) error = NULL;
  g_autofree char *names = NULL;
  MorangoDequeueResult r = { 0, };

  add_pending_test_row (db, PA, TRUE, FALSE);   /* fast-forward to model m2 */
  add_pending_test_incoming (db, PA, "facilitydata", "m2", TRUE);
  add_pending_test_row (db, PB, TRUE, FALSE);   /* fast-forward to another profile */
  add_pending_test_incoming (db, PB, "otherprofile", "m", TRUE);
  add_pending_test_row (db, PC, TRUE, FALSE);   /* fast-forward, same names */
  add_pending_test_incoming (db, PC, "facilitydata", "m", TRUE);
  add_pending_test_row (db, PD, FALSE, FALSE);  /* not pending, fast-forward to m2 */
  add_pending_test_incoming (db, PD, "facilitydata", "m2", TRUE);
  add_pending_test_row (db, PE, TRUE, FALSE);   /* not received */
  add_pending_test_row (db, PF, TRUE, TRUE);    /* reverse fast-forward, names ignored */
  add_pending_test_incoming (db, PF, "facilitydata", "m2", FALSE);
  add_pending_test_row (db, PG, TRUE, FALSE);   /* conflict: the local names stay */
  add_pending_test_incoming (db, PG, "facilitydata", "m2", FALSE);
  fixture_assert_pending (db,
                          "facilitydata", "m", PA, "facilitydata", "m", PB, "facilitydata", "m", PC,
                          "facilitydata", "m", PE, "facilitydata", "m", PF, "facilitydata", "m", PG,
                          NULL);

  g_assert_true (morango_store_dequeue (store, TS, filter, MORANGO_FSIC_V2, MIXED_FSIC, &r, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (r.n_fast_forward, ==, 4);
  g_assert_cmpint (r.n_reverse_fast_forward, ==, 1);
  g_assert_cmpint (r.n_conflict, ==, 1);
  g_assert_cmpint (r.n_new, ==, 0);

  g_assert_true (morango_db_query_text (db, &names, &error,
      "SELECT group_concat (x, ' ') FROM (SELECT substr (id, 1, 2) || '=' || profile || '/' || model_name "
      "AS x FROM morango_store ORDER BY id)", "", NULL));
  g_assert_no_error (error);
  g_assert_cmpstr (names, ==, "a0=facilitydata/m2 b0=otherprofile/m c0=facilitydata/m d0=facilitydata/m2 "
                   "e0=facilitydata/m f0=facilitydata/m f1=facilitydata/m");
  fixture_assert_pending (db,
                          "facilitydata", "m2", PA, "otherprofile", "m", PB, "facilitydata", "m", PC,
                          "facilitydata", "m2", PD, "facilitydata", "m", PE, "facilitydata", "m", PF,
                          "facilitydata", "m", PG,
                          NULL);
}

#define RO_LOCAL "11111111111111111111111111111111"
#define RO_REMOTE "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define RO_OTHER "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static void
insert_conflicting_pair (MorangoDb  *db,
                         const char *id,
                         const char *partition)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (morango_db_execute (db, &error,
      "INSERT INTO morango_store (id, profile, serialized, last_saved_instance, last_saved_counter,"
      "  partition, source_id, model_name) VALUES (?, 'facilitydata', '{\"v\": \"local\"}', ?, 5, ?, 's', 'm')",
      "sss", id, RO_LOCAL, partition));
  g_assert_true (morango_db_execute (db, &error,
      "INSERT INTO morango_recordmaxcounter (instance_id, counter, store_model_id) VALUES (?, 5, ?), (?, 2, ?)",
      "ssss", RO_LOCAL, id, RO_OTHER, id));
  g_assert_true (morango_db_execute (db, &error,
      "INSERT INTO morango_buffer (profile, serialized, last_saved_instance, last_saved_counter, partition,"
      "  source_id, model_name, transfer_session_id, model_uuid)"
      " VALUES ('facilitydata', '{\"v\": \"remote\"}', ?, 7, ?, 's', 'm', ?, ?)",
      "ssss", RO_REMOTE, partition, TS, id));
  g_assert_true (morango_db_execute (db, &error,
      "INSERT INTO morango_recordmaxcounterbuffer (instance_id, counter, transfer_session_id, model_uuid)"
      " VALUES (?, 7, ?, ?), (?, 3, ?, ?)",
      "ssssss", RO_REMOTE, TS, id, RO_OTHER, TS, id));
  g_assert_no_error (error);
}

static char *
row_summary (MorangoDb  *db,
             const char *id)
{
  char *out = NULL;

  g_assert_true (morango_db_query_text (db, &out, NULL,
      "SELECT serialized || '|' || last_saved_instance || ':' || last_saved_counter || '|' ||"
      "  replace (conflicting_serialized_data, char (10), '/') || '|' ||"
      "  (SELECT group_concat (instance_id || '=' || counter, ',') FROM"
      "    (SELECT instance_id, counter FROM morango_recordmaxcounter WHERE store_model_id = ?1"
      "     ORDER BY instance_id)) FROM morango_store WHERE id = ?1", "s", id));
  return out;
}

static void
test_read_only_conflict (void)
{
  g_autoptr(MorangoStore) store = fixture_store_new ("facilitydata", RO_LOCAL, 40);
  MorangoDb *db = morango_store_get_db (store);
  g_autoptr(MorangoFilter) filter = morango_filter_parse ("d");
  g_autoptr(MorangoFilter) writable = morango_filter_parse ("d:rw");
  g_autoptr(GError) error = NULL;
  g_autofree char *rw = NULL, *ro = NULL;
  MorangoDequeueResult result = { 0, };

  insert_conflicting_pair (db, "00000000000000000000000000000001", "d:ro:x");
  insert_conflicting_pair (db, "00000000000000000000000000000002", "d:rw:x");
  g_assert_true (morango_store_dequeue_scoped (store, TS, filter, writable, MORANGO_FSIC_V2,
                                               "{\"super\": {}, \"sub\": {}}", &result, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (result.n_conflict, ==, 1);
  g_assert_cmpint (result.n_conflict_read_only, ==, 1);
  g_assert_cmpint (result.counter, ==, 41);

  /* Writable: resolved here, local data wins, a new local version. */
  rw = row_summary (db, "00000000000000000000000000000002");
  g_assert_cmpstr (rw, ==, "{\"v\": \"local\"}|" RO_LOCAL ":41|{\"v\": \"remote\"}/|"
                   RO_LOCAL "=41," RO_OTHER "=3," RO_REMOTE "=7");
  /* Read-only: the writers' version is kept, the local one logged, and
   * no version of ours enters the history. */
  ro = row_summary (db, "00000000000000000000000000000001");
  g_assert_cmpstr (ro, ==, "{\"v\": \"remote\"}|" RO_REMOTE ":7|{\"v\": \"local\"}/|"
                   RO_LOCAL "=5," RO_OTHER "=3," RO_REMOTE "=7");
}

/* A conflict meeting a record purged here (hard-deleted, its data and
 * log already wiped) keeps it purged: the incoming data does not go into
 * its log, from where it would be queued to every peer. */
static void
test_conflict_with_local_purge (void)
{
  g_autoptr(MorangoStore) store = fixture_store_new ("facilitydata", RO_LOCAL, 40);
  MorangoDb *db = morango_store_get_db (store);
  g_autoptr(MorangoFilter) filter = morango_filter_parse ("d");
  g_autoptr(GError) error = NULL;
  g_autofree char *row = NULL;
  MorangoDequeueResult result = { 0, };
  gint64 flags = -1;

  insert_conflicting_pair (db, "00000000000000000000000000000003", "d:rw:x");
  g_assert_true (morango_db_execute (db, &error,
      "UPDATE morango_store SET serialized = '{}', deleted = 1, hard_deleted = 1,"
      "  conflicting_serialized_data = '' WHERE id = ?", "s", "00000000000000000000000000000003"));
  g_assert_true (morango_store_dequeue (store, TS, filter, MORANGO_FSIC_V2,
                                        "{\"super\": {}, \"sub\": {}}", &result, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (result.n_conflict, ==, 1);
  row = row_summary (db, "00000000000000000000000000000003");
  g_assert_cmpstr (row, ==, "{}|" RO_LOCAL ":41||" RO_LOCAL "=41," RO_OTHER "=3," RO_REMOTE "=7");
  g_assert_true (morango_db_query_int64 (db, &flags, NULL, &error,
                                         "SELECT deleted * 2 + hard_deleted FROM morango_store WHERE id = ?",
                                         "s", "00000000000000000000000000000003"));
  g_assert_cmpint (flags, ==, 3);
}

static void
test_v1_dmc (void)
{
  g_autoptr(MorangoStore) store = mixed_store (8);
  MorangoDb *db = morango_store_get_db (store);
  g_autoptr(MorangoFilter) filter = morango_filter_parse ("d:u1\nd:u2");
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) want = json_from_string (
    "[{\"instance_id\": \"" R1 "\", \"partition\": \"d\", \"counter\": 3},"
    " {\"instance_id\": \"" R2 "\", \"partition\": \"d\", \"counter\": 5},"
    " {\"instance_id\": \"" R1 "\", \"partition\": \"d:u1\", \"counter\": 9},"
    " {\"instance_id\": \"" R1 "\", \"partition\": \"d:u2\", \"counter\": 7}]", NULL);

  /* v1: every (X, n) the sender has beyond what we hold for the whole
   * filter goes to every entry; never lower, never 0. */
  morango_db_exec (db, "INSERT INTO morango_databasemaxcounter (instance_id, partition, counter) "
                       "VALUES ('" R1 "', 'd:u1', 9)", &error);
  g_assert_no_error (error);
  g_assert_true (morango_store_dequeue (store, TS, filter, MORANGO_FSIC_V1,
                                        "{\"" R1 "\": 7, \"" R2 "\": 4, "
                                        "\"e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3\": 0}",
                                        NULL, NULL, &error));
  g_assert_no_error (error);
  /* R2: ours is min(5 via "d", 5 via "d") = 5 >= 4, so nothing. */
  fixture_assert_table (db, "dmc", "dmc", json_node_get_array (want));
}

static void
test_empty_session (void)
{
  g_autoptr(MorangoStore) store = fixture_store_new ("facilitydata", LOCAL, 4);
  g_autoptr(MorangoFilter) filter = morango_filter_parse ("d");
  g_autoptr(GError) error = NULL;
  MorangoDequeueResult r = { 0, };

  /* Python bumps the counter on every dequeue. */
  g_assert_true (morango_store_dequeue (store, TS, filter, MORANGO_FSIC_V1, "{\"" R1 "\": 3}", &r, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (r.n_new + r.n_conflict + r.n_fast_forward + r.n_reverse_fast_forward, ==, 0);
  g_assert_cmpint (fixture_counter (store), ==, 5);
}

/* ---- queue on one store, dequeue on another ------------------------------ */

static void
copy_session (MorangoDb  *from,
              MorangoDb  *to,
              const char *ts)
{
  g_autoptr(JsonArray) buffer = fixture_dump_rows (from, "buffer");
  g_autoptr(JsonArray) rmcb = fixture_dump_rows (from, "rmcb");

  /* What the transfer stage does, minus the wire. */
  fixture_load_rows (to, "buffer", buffer);
  fixture_load_rows (to, "rmcb", rmcb);
}

static gint64
queue_between (MorangoStore      *sender,
               MorangoStore      *receiver,
               MorangoFilter     *filter,
               MorangoFsicFormat  format,
               const char        *ts)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *send_fsic = morango_store_calculate_fsic_json (sender, filter, TRUE, format, TRUE, &error);
  g_autofree char *recv_fsic = NULL;
  gint64 total = -1;

  g_assert_no_error (error);
  recv_fsic = morango_store_calculate_fsic_json (receiver, filter, FALSE, format, TRUE, &error);
  g_assert_no_error (error);
  g_assert_true (morango_store_queue (sender, ts, filter, format, send_fsic, recv_fsic, &total, NULL, &error));
  g_assert_no_error (error);
  copy_session (morango_store_get_db (sender), morango_store_get_db (receiver), ts);
  g_assert_true (morango_store_dequeue (receiver, ts, filter, format, send_fsic, NULL, NULL, &error));
  g_assert_no_error (error);
  morango_db_execute (morango_store_get_db (sender), &error,
                      "DELETE FROM morango_buffer WHERE transfer_session_id = ?", "s", ts);
  morango_db_execute (morango_store_get_db (sender), &error,
                      "DELETE FROM morango_recordmaxcounterbuffer WHERE transfer_session_id = ?", "s", ts);
  g_assert_no_error (error);
  return total;
}

static void
add_local_record (MorangoStore *store,
                  const char   *id,
                  const char   *partition,
                  const char   *data)
{
  g_autoptr(GError) error = NULL;
  MorangoDb *db = morango_store_get_db (store);
  const char *instance = morango_store_get_instance_id (store);
  gint64 counter = 0;

  /* A stand-in for serialization: a new version of our own, DMC too. */
  g_assert_true (morango_store_next_counter (store, &counter, &error));
  morango_db_execute (db, &error,
                      "INSERT INTO morango_store (id, profile, serialized, last_saved_instance,"
                      "  last_saved_counter, partition, source_id, model_name) "
                      "VALUES (?1, 'facilitydata', ?2, ?3, ?4, ?5, 'src', 'm') "
                      "ON CONFLICT (id) DO UPDATE SET serialized = excluded.serialized,"
                      "  last_saved_instance = excluded.last_saved_instance,"
                      "  last_saved_counter = excluded.last_saved_counter",
                      "sssis", id, data, instance, counter, partition);
  g_assert_no_error (error);
  morango_db_execute (db, &error,
                      "INSERT INTO morango_recordmaxcounter (instance_id, counter, store_model_id) "
                      "VALUES (?1, ?2, ?3) ON CONFLICT (store_model_id, instance_id) "
                      "DO UPDATE SET counter = excluded.counter",
                      "sis", instance, counter, id);
  g_assert_no_error (error);
  morango_db_execute (db, &error,
                      "INSERT INTO morango_databasemaxcounter (instance_id, partition, counter) "
                      "VALUES (?1, '', ?2) ON CONFLICT (instance_id, partition) "
                      "DO UPDATE SET counter = excluded.counter",
                      "si", instance, counter);
  g_assert_no_error (error);
}

static char *
store_summary (MorangoStore *store)
{
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;

  morango_db_query_text (morango_store_get_db (store), &text, &error,
                         "SELECT group_concat (x, ' ') FROM (SELECT substr (id, 1, 4) || '=' || serialized"
                         "  || '@' || substr (last_saved_instance, 1, 2) AS x FROM morango_store ORDER BY id)",
                         "", NULL);
  g_assert_no_error (error);
  return g_steal_pointer (&text);
}

static void
round_trip (MorangoFsicFormat format)
{
  g_autoptr(MorangoStore) a = fixture_store_new ("facilitydata", "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", 0);
  g_autoptr(MorangoStore) b = fixture_store_new ("facilitydata", "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2", 0);
  g_autoptr(MorangoFilter) filter = morango_filter_parse ("d");
  g_autofree char *sa = NULL, *sb = NULL;

  add_local_record (a, "10000000000000000000000000000000", "d:u1", "{\"v\": 1}");
  add_local_record (a, "20000000000000000000000000000000", "d:u2", "{\"v\": 2}");
  add_local_record (b, "30000000000000000000000000000000", "d:u1", "{\"v\": 3}");

  /* Each side sends what the other lacks, then nothing more. */
  g_assert_cmpint (queue_between (a, b, filter, format, "01010101010101010101010101010101"), ==, 2);
  g_assert_cmpint (queue_between (b, a, filter, format, "02020202020202020202020202020202"), ==, 1);
  g_assert_cmpint (queue_between (a, b, filter, format, "03030303030303030303030303030303"), ==, 0);
  g_assert_cmpint (queue_between (b, a, filter, format, "04040404040404040404040404040404"), ==, 0);
  sa = store_summary (a);
  sb = store_summary (b);
  g_assert_cmpstr (sa, ==, sb);

  /* Both edit record 1: b receives a's edit as a conflict (its own
   * wins), a then fast-forwards to b's merged version. */
  add_local_record (a, "10000000000000000000000000000000", "d:u1", "{\"v\": \"a\"}");
  add_local_record (b, "10000000000000000000000000000000", "d:u1", "{\"v\": \"b\"}");
  g_assert_cmpint (queue_between (a, b, filter, format, "05050505050505050505050505050505"), ==, 1);
  g_assert_cmpint (queue_between (b, a, filter, format, "06060606060606060606060606060606"), ==, 1);
  g_assert_cmpint (queue_between (a, b, filter, format, "07070707070707070707070707070707"), ==, 0);
  g_clear_pointer (&sa, g_free);
  g_clear_pointer (&sb, g_free);
  sa = store_summary (a);
  sb = store_summary (b);
  g_test_message ("%s", sa);
  g_assert_cmpstr (sa, ==, sb);
  g_assert_nonnull (strstr (sa, "1000={\"v\": \"b\"}@b2"));
}

static void
test_round_trip_v2 (void)
{
  round_trip (MORANGO_FSIC_V2);
}

static void
test_round_trip_v1 (void)
{
  round_trip (MORANGO_FSIC_V1);
}

/* A session of several rounds, dequeued from a database file (where the
 * check of the received records runs on a thread of its own), all new or
 * mixed: the counts each class leaves, worked out here from the way
 * fixture_mixed_store_at() draws the records rather than read back from
 * the stage.  (Its rates: tests/bench/bench-dequeue.) */
static void
dequeue_counted (gboolean all_new)
{
  const gint64 n = 2 * 1000 + 601;  /* three rounds, the last one short */
  g_autofree char *dir = morango_test_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "counted.db", NULL);
  g_autoptr(MorangoStore) store = fixture_mixed_store_at (path, n, all_new);
  MorangoDb *db = morango_store_get_db (store);
  g_autoptr(MorangoFilter) filter = morango_filter_parse ("d");
  g_autoptr(GError) error = NULL;
  MorangoDequeueResult r = { 0, };
  gint64 classes[4] = { 0, }, deleted = 0, hard = 0, rmc = 0, logged = 0;

  for (gint64 i = 0; i < n; i++)
    {
      int c = all_new ? 0 : i % 4;
      /* The incoming history: R1:7, and R2:6 for every fourth record. */
      gint64 incoming = i % 4 == 2 ? 2 : 1;

      classes[c]++;
      /* A new record or a fast-forward takes the incoming history; a
       * reverse fast-forward keeps its R2:5 and R1:9; a conflict merges
       * R2:5 and R1:7 and adds our new version. */
      rmc += c == 1 ? 2 : c == 3 ? 3 : incoming;
      /* The reverse fast-forwards keep the local row, never deleted. */
      deleted += c != 1 && i % 7 == 0;
      hard += c != 1 && i % 11 == 0;
      /* A conflict logs the incoming data over the old log, unless the
       * incoming version is a hard delete. */
      logged += c == 3 && i % 11 != 0;
    }
  g_assert_cmpint (classes[0] + classes[1] + classes[2] + classes[3], ==, n);

  g_assert_true (morango_store_dequeue (store, TS, filter, MORANGO_FSIC_V2, MIXED_FSIC, &r, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (r.n_new, ==, classes[0]);
  g_assert_cmpint (r.n_reverse_fast_forward, ==, classes[1]);
  g_assert_cmpint (r.n_fast_forward, ==, classes[2]);
  g_assert_cmpint (r.n_conflict, ==, classes[3]);
  g_assert_cmpint (r.n_conflict_read_only, ==, 0);
  g_assert_cmpint (r.counter, ==, 101);
  g_assert_cmpint (fixture_counter (store), ==, 101);

#define COUNT(sql, expected) G_STMT_START { \
    gint64 got_ = -1; \
    g_assert_true (morango_db_query_int64 (db, &got_, NULL, &error, sql, "", NULL)); \
    g_assert_no_error (error); \
    g_assert_cmpint (got_, ==, (expected)); \
  } G_STMT_END
  COUNT ("SELECT count(*) FROM morango_store", n);
  /* Every record merged but the reverse fast-forwards waits, once. */
  COUNT ("SELECT count(*) FROM morango_store_pending", n - classes[1]);
  COUNT ("SELECT count(*) FROM morango_store WHERE " FIXTURE_IS_PENDING, n - classes[1]);
  COUNT ("SELECT count(*) FROM morango_store WHERE last_transfer_session_id = '" TS "'", n - classes[1]);
  COUNT ("SELECT count(*) FROM morango_store WHERE deleted = 1", deleted);
  COUNT ("SELECT count(*) FROM morango_store WHERE hard_deleted = 1", hard);
  COUNT ("SELECT count(*) FROM morango_store WHERE conflicting_serialized_data LIKE '{\"v\": \"remote\"%old'",
         logged);
  COUNT ("SELECT count(*) FROM morango_store WHERE last_saved_instance = '" LOCAL "' AND last_saved_counter = 101",
         classes[3]);
  COUNT ("SELECT count(*) FROM morango_store WHERE last_saved_instance = '" R1 "' AND last_saved_counter = 7",
         classes[0] + classes[2]);
  COUNT ("SELECT count(*) FROM morango_recordmaxcounter", rmc);
  COUNT ("SELECT count(*) FROM morango_recordmaxcounter WHERE instance_id = '" LOCAL "'", classes[3]);
  /* The session is gone from the buffers; the other one is whole. */
  COUNT ("SELECT count(*) FROM morango_buffer WHERE transfer_session_id = '" TS "'", 0);
  COUNT ("SELECT count(*) FROM morango_recordmaxcounterbuffer WHERE transfer_session_id = '" TS "'", 0);
  COUNT ("SELECT count(*) FROM morango_buffer WHERE transfer_session_id = '" OTHER "'", 1);
  COUNT ("SELECT count(*) FROM morango_recordmaxcounterbuffer WHERE transfer_session_id = '" OTHER "'", 1);
#undef COUNT
}

static void
test_counted_all_new (void)
{
  dequeue_counted (TRUE);
}

static void
test_counted_mixed (void)
{
  dequeue_counted (FALSE);
}

/* ---- cancelling ---------------------------------------------------------- */

#define BIG_RECORDS 50000

static gboolean
run_dequeue (gpointer         data,
             MorangoMonitor  *monitor,
             GError         **error)
{
  g_autoptr(MorangoFilter) filter = morango_filter_parse ("d");

  return morango_store_dequeue (data, TS, filter, MORANGO_FSIC_V2, MIXED_FSIC, NULL, monitor, error);
}

static char *
digest_store (gpointer data)
{
  return fixture_db_digest (morango_store_get_db (data));
}

/* Dequeuing BIG_RECORDS records of every class into a file, cancelled at
 * its first report, at a middle one and inside a statement, rolls back
 * each time (the buffer check on its second connection stops too), then
 * runs whole. */
static void
test_cancel (void)
{
  g_autofree char *dir = morango_test_tmpdir ();
  g_autofree char *reference_path = g_build_filename (dir, "reference.db", NULL);
  g_autofree char *path = g_build_filename (dir, "cancelled.db", NULL);
  g_autoptr(MorangoStore) reference = fixture_mixed_store_at (reference_path, BIG_RECORDS, FALSE);
  g_autoptr(MorangoStore) subject = fixture_mixed_store_at (path, BIG_RECORDS, FALSE);

  fixture_check_cancels ("dequeue", run_dequeue, digest_store, reference, subject, BIG_RECORDS);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/dequeue/merge-vectors", test_merge_vectors);
  g_test_add_func ("/dequeue/mixed-classes", test_mixed_classes);
  g_test_add_func ("/dequeue/interrupted", test_interrupted);
  g_test_add_func ("/dequeue/bad-input", test_bad_input);
  g_test_add_func ("/dequeue/unknown-model-is-kept", test_unknown_model_is_kept);
  g_test_add_func ("/dequeue/read-only-conflict", test_read_only_conflict);
  g_test_add_func ("/dequeue/fast-forward-renames-pending", test_fast_forward_renames_pending);
  g_test_add_func ("/dequeue/empty-session", test_empty_session);
  g_test_add_func ("/dequeue/v1-dmc", test_v1_dmc);
  g_test_add_func ("/dequeue/round-trip-v2", test_round_trip_v2);
  g_test_add_func ("/dequeue/round-trip-v1", test_round_trip_v1);
  g_test_add_func ("/dequeue/counted-all-new", test_counted_all_new);
  g_test_add_func ("/dequeue/counted-mixed", test_counted_mixed);
  g_test_add_func ("/dequeue/cancel", test_cancel);
  g_test_add_func ("/dequeue/conflict-with-local-purge", test_conflict_with_local_purge);
  return g_test_run ();
}
