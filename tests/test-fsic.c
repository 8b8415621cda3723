/* test-fsic.c: FSIC algorithms, FSICs from the DMC and the DMC update,
 * against tests/vectors/fsic.json
 *
 * SPDX-License-Identifier: MIT
 */

#include "morango-error.h"
#include "morango-fsic.h"
#include "morango-json.h"
#include "morango-queue-private.h"
#include "morango-test-util.h"
#include "store-fixtures.h"

static void
assert_json_equal (const char *what,
                   JsonNode   *actual,
                   JsonNode   *expected)
{
  if (!morango_test_json_equal (actual, expected))
    {
      g_autofree char *a = morango_test_json_to_string (actual);
      g_autofree char *e = morango_test_json_to_string (expected);

      g_error ("%s differs:\n  actual:   %s\n  expected: %s", what, a, e);
    }
}

static char **
entries_from_json (JsonArray *array)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  for (guint i = 0; i < json_array_get_length (array); i++)
    g_strv_builder_add (builder, json_array_get_string_element (array, i));
  return g_strv_builder_end (builder);
}

static MorangoFsic *
fsic_from_member (JsonObject        *object,
                  const char        *member,
                  MorangoFsicFormat  format)
{
  g_autoptr(GError) error = NULL;
  MorangoFsic *fsic = morango_fsic_new_from_json (json_object_get_member (object, member),
                                                  format, &error);

  g_assert_no_error (error);
  return fsic;
}

static gboolean
is_python_quirk (JsonObject *c)
{
  const char *note = json_object_has_member (c, "note")
                     ? json_object_get_string_member (c, "note") : "";

  return json_object_has_member (c, "python_quirk") ||
         g_str_has_prefix (note, "python_quirk") ||
         strstr (json_object_get_string_member_with_default (c, "name", ""), "python_quirk") != NULL;
}

/* ---- pure algorithms ---------------------------------------------------- */

static void
test_remove_redundant (void)
{
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("fsic.json", "remove_redundant_instance_counters");

  for (guint i = 0; i < cases->len; i++)
    {
      JsonObject *c = cases->pdata[i];
      g_autoptr(MorangoFsic) fsic = fsic_from_member (c, "input", MORANGO_FSIC_V2);
      g_autoptr(JsonNode) out = NULL;

      g_test_message ("case: %s", json_object_get_string_member_with_default (c, "name", ""));
      morango_fsic_remove_redundant (fsic);
      out = morango_fsic_to_json (fsic);
      assert_json_equal ("reduced FSIC", out, json_object_get_member (c, "output"));
    }
}

static void
test_expand (void)
{
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("fsic.json", "expand_fsic_for_use");

  for (guint i = 0; i < cases->len; i++)
    {
      JsonObject *c = cases->pdata[i];
      g_autoptr(MorangoFsic) fsic = fsic_from_member (c, "fsic", MORANGO_FSIC_V2);
      g_auto(GStrv) entries = entries_from_json (json_object_get_array_member (c, "filter"));
      g_autoptr(GHashTable) expanded = NULL;
      g_autoptr(JsonNode) out = NULL;

      g_test_message ("case: %s", json_object_get_string_member_with_default (c, "name", ""));
      expanded = morango_fsic_expand (fsic, (const char * const *) entries);
      out = morango_partition_counters_to_json (expanded);
      assert_json_equal ("expanded FSIC", out, json_object_get_member (c, "expanded"));
    }
}

static void
test_diff_v2 (void)
{
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("fsic.json", "diff_v2");

  for (guint i = 0; i < cases->len; i++)
    {
      JsonObject *c = cases->pdata[i];
      g_autoptr(GError) error = NULL;
      g_autoptr(GHashTable) sender = NULL;
      g_autoptr(GHashTable) receiver = NULL;
      g_autoptr(GHashTable) diff = NULL;
      g_autoptr(JsonNode) out = NULL;

      g_test_message ("case: %s", json_object_get_string_member_with_default (c, "name", ""));
      sender = morango_partition_counters_from_json (json_object_get_member (c, "sender"), "sender", &error);
      g_assert_no_error (error);
      receiver = morango_partition_counters_from_json (json_object_get_member (c, "receiver"), "receiver", &error);
      g_assert_no_error (error);
      diff = morango_fsic_diff_v2 (sender, receiver);
      out = morango_partition_counters_to_json (diff);
      assert_json_equal ("v2 diff", out, json_object_get_member (c, "diff"));
    }
}

static void
test_diff_v1 (void)
{
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("fsic.json", "diff_v1");

  for (guint i = 0; i < cases->len; i++)
    {
      JsonObject *c = cases->pdata[i];
      g_autoptr(GError) error = NULL;
      g_autoptr(GHashTable) sender = NULL;
      g_autoptr(GHashTable) receiver = NULL;
      g_autoptr(GHashTable) diff = NULL;
      g_autoptr(JsonNode) out = NULL;

      g_test_message ("case: %s", json_object_get_string_member_with_default (c, "name", ""));
      sender = morango_counters_from_json (json_object_get_member (c, "sender"), "sender", &error);
      g_assert_no_error (error);
      receiver = morango_counters_from_json (json_object_get_member (c, "receiver"), "receiver", &error);
      g_assert_no_error (error);
      diff = morango_fsic_diff_v1 (sender, receiver);
      out = morango_counters_to_json (diff);
      assert_json_equal ("v1 diff", out, json_object_get_member (c, "diff"));
    }
}

static void
test_parse_and_emit (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoFsic) v2 = NULL;
  g_autoptr(MorangoFsic) v1 = NULL;
  g_autoptr(MorangoFsic) legacy = NULL;
  g_autofree char *text = NULL;
  static const char *bad_v2[] = {
    "{\"sub\": {}}",
    "{\"super\": {}}",
    "{\"super\": [], \"sub\": {}}",
    "{\"super\": {}, \"sub\": {\"p\": {\"a\": \"1\"}}}",
    "{\"super\": {}, \"sub\": {\"p\": {\"a\": 1.5}}}",
    "{\"super\": {}, \"sub\": {\"p\": {\"a\": -1}}}",
    "{\"super\": {}, \"sub\": {\"p\": 3}}",
    "[]",
    "{\"super\": {}, \"sub\": {}",
  };
  static const char *bad_v1[] = {
    "{\"a\": true}", "{\"a\": null}", "[1]", "\"x\"", "{\"a\": {}}",
  };

  /* The wire text has Python's separators, "super" before "sub". */
  v2 = morango_fsic_parse ("{\"sub\":{\"p\":{\"b\":2,\"a\":1}},\"super\":{\"\":{\"c\":3}}}",
                           MORANGO_FSIC_V2, &error);
  g_assert_no_error (error);
  text = morango_fsic_to_string (v2);
  g_assert_cmpstr (text, ==, "{\"super\": {\"\": {\"c\": 3}}, \"sub\": {\"p\": {\"a\": 1, \"b\": 2}}}");
  g_clear_pointer (&text, g_free);

  v1 = morango_fsic_parse ("{\"b\": 2, \"a\": 1}", MORANGO_FSIC_V1, &error);
  g_assert_no_error (error);
  text = morango_fsic_to_string (v1);
  g_assert_cmpstr (text, ==, "{\"a\": 1, \"b\": 2}");
  g_clear_pointer (&text, g_free);

  /* Quirk 10: the legacy "{}" reads as an empty v2 FSIC. */
  legacy = morango_fsic_parse ("{}", MORANGO_FSIC_V2, &error);
  g_assert_no_error (error);
  text = morango_fsic_to_string (legacy);
  g_assert_cmpstr (text, ==, "{\"super\": {}, \"sub\": {}}");

  for (guint i = 0; i < G_N_ELEMENTS (bad_v2); i++)
    {
      g_autoptr(MorangoFsic) f = morango_fsic_parse (bad_v2[i], MORANGO_FSIC_V2, &error);

      g_assert_null (f);
      g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID_FSIC);
      g_test_message ("%s -> %s", bad_v2[i], error->message);
      g_clear_error (&error);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad_v1); i++)
    {
      g_autoptr(MorangoFsic) f = morango_fsic_parse (bad_v1[i], MORANGO_FSIC_V1, &error);

      g_assert_null (f);
      g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID_FSIC);
      g_clear_error (&error);
    }
}

static void
test_check_partitions (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoFsic) fsic = morango_fsic_parse (
    "{\"super\": {\"\": {\"a\": 1}, \"elsewhere\": {\"a\": 1}},"
    " \"sub\": {\"d:u1\": {\"a\": 1}, \"d:u1:x\": {}}}", MORANGO_FSIC_V2, &error);
  const char *ok_entries[] = { "d:u1", NULL };
  const char *narrow[] = { "d:u1:x", NULL };
  const char *case_differs[] = { "D:u1", NULL };

  g_assert_no_error (error);
  /* "super" is never checked: it encloses the filter by definition. */
  g_assert_true (morango_fsic_check_partitions (fsic, ok_entries, &error));
  g_assert_no_error (error);
  g_assert_false (morango_fsic_check_partitions (fsic, narrow, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID_FSIC_PARTITION);
  g_assert_cmpstr (error->message, ==, "Partition 'd:u1' is not in filter");
  g_clear_error (&error);
  /* Exact bytes: no case folding. */
  g_assert_false (morango_fsic_check_partitions (fsic, case_differs, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID_FSIC_PARTITION);
}

/* ---- from the database -------------------------------------------------- */

static JsonObject *
find_state (const char *name)
{
  g_autoptr(GPtrArray) states = morango_test_vector_cases ("fsic.json", "state");

  for (guint i = 0; i < states->len; i++)
    if (g_str_equal (json_object_get_string_member (states->pdata[i], "state_name"), name))
      return json_object_ref (states->pdata[i]);
  g_error ("no state %s", name);
  return NULL;
}

static void
load_state (MorangoStore *store,
            JsonObject   *state)
{
  MorangoDb *db = morango_store_get_db (store);

  fixture_load_rows (db, "dmc", json_object_get_array_member (state, "dmc"));
  fixture_load_rows (db, "store", json_object_get_array_member (state, "store"));
  fixture_load_rows (db, "rmc", json_object_get_array_member (state, "rmc"));
}

/* Each case with the receiver's relevance look-ups off (one pass over
 * the filter's records), with limits small enough to leave rows
 * undecided or to read a side to its end, and with the default. */
static const guint probe_limits[] = { 0, 1, 2, 3, MORANGO_FSIC_PROBE_LIMIT_DEFAULT };

static void
test_calculate_fsic (void)
{
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("fsic.json", "calculate_fsic");
  guint n_quirks = 0;

  for (guint n = 0; n < G_N_ELEMENTS (probe_limits) * cases->len; n++)
    {
      guint i = n % cases->len;
      JsonObject *c = cases->pdata[i];
      g_autoptr(JsonObject) state = find_state (json_object_get_string_member (c, "state_name"));
      g_autoptr(MorangoStore) store = fixture_store_new ("facilitydata", "00000000000000000000000000000001", 0);
      g_autoptr(MorangoFilter) filter = fixture_filter_from_json (json_object_get_member (c, "filter_entries"));
      MorangoFsicFormat format = g_str_equal (json_object_get_string_member (c, "format"), "v2")
                                 ? MORANGO_FSIC_V2 : MORANGO_FSIC_V1;
      gboolean producer = json_object_get_boolean_member (c, "is_producer");
      gboolean reduction = json_object_get_boolean_member (c, "fsic_reduction");
      g_autoptr(GError) error = NULL;
      g_autofree char *text = NULL;
      g_autoptr(JsonNode) actual = NULL;
      g_autoptr(JsonNode) expected = NULL;

      load_state (store, state);
      morango_store_fsic_set_probe_limit (probe_limits[n / cases->len]);
      text = morango_store_calculate_fsic_json (store, filter, producer, format, reduction, &error);
      g_assert_no_error (error);
      actual = json_from_string (text, &error);
      g_assert_no_error (error);

      if (is_python_quirk (c))
        {
          /* Python's LIKE takes "a_c" and "ABC" for prefixes of "abc:1";
           * an exact byte-prefix test (quirk 7) finds none. */
          expected = json_from_string (format == MORANGO_FSIC_V2 ? "{\"super\": {}, \"sub\": {}}" : "{}",
                                       NULL);
          n_quirks++;
        }
      else
        expected = json_node_ref (json_object_get_member (c, "fsic"));

      g_test_message ("filter %s, %s, %s, reduction %d, probe limit %u -> %s",
                      json_object_get_string_member (c, "filter"),
                      producer ? "producer" : "receiver",
                      json_object_get_string_member (c, "format"), reduction,
                      probe_limits[n / cases->len], text);
      assert_json_equal ("calculated FSIC", actual, expected);
    }
  morango_store_fsic_set_probe_limit (MORANGO_FSIC_PROBE_LIMIT_DEFAULT);
  g_assert_cmpuint (n_quirks, ==, 2 * G_N_ELEMENTS (probe_limits));
}

/* The receiver's relevance test answers the same whether its bounded
 * look-ups decide a row, read a side to its end, or give up and leave it
 * to the pass over the filter's records, and when they give way to the
 * pass after a few rows: random stores whose partitions
 * prefix one another byte-wise ("D:u1" and "D:u10"), histories of one
 * to three instances, DMC rows for most pairs, filters of one or two
 * entries. */
static void
test_receiver_probes_agree (void)
{
  static const char * const partitions[] = {
    "D", "D:u1", "D:u1:x", "D:u10", "D:u2", "D:u2:x", "E", "E:u1",
  };
  static const char * const instances[] = {
    "11111111111111111111111111111111", "22222222222222222222222222222222",
    "33333333333333333333333333333333", "44444444444444444444444444444444",
  };
  guint64 seed = morango_test_seed (20261206);
  g_autoptr(GRand) rand = g_rand_new_with_seed ((guint32) seed);
  static const guint limits[] = { 1, 2, 3, 5, 8, MORANGO_FSIC_PROBE_LIMIT_DEFAULT };
  /* The look-ups give way to the pass after a few rows, or never. */
  static const guint row_budgets[] = { 1, 3, MORANGO_FSIC_PROBE_ROWS_DEFAULT };
  guint differences_from_no_reduction = 0;

  for (guint round = 0; round < 25; round++)
    {
      g_autoptr(MorangoStore) store = fixture_store_new ("facilitydata", "00000000000000000000000000000001", 0);
      MorangoDb *db = morango_store_get_db (store);
      g_autoptr(GError) error = NULL;
      guint n_records = g_rand_int_range (rand, 0, 60);

      for (guint r = 0; r < n_records; r++)
        {
          g_autofree char *id = g_strdup_printf ("%08x%024x", round, r);
          const char *partition = partitions[g_rand_int_range (rand, 0, G_N_ELEMENTS (partitions))];
          guint first = g_rand_int_range (rand, 0, G_N_ELEMENTS (instances));
          guint n_history = g_rand_int_range (rand, 1, 4);

          g_assert_true (morango_db_execute (db, &error,
                                             "INSERT INTO morango_store (id, profile, serialized, last_saved_instance, "
                                             "last_saved_counter, partition, source_id, model_name) "
                                             "VALUES (?, 'facilitydata', '{}', ?, 1, ?, ?, 'contentsummarylog')",
                                             "ssss", id, instances[first], partition, id));
          for (guint h = 0; h < n_history; h++)
            g_assert_true (morango_db_execute (db, &error,
                                               "INSERT OR IGNORE INTO morango_recordmaxcounter "
                                               "(instance_id, counter, store_model_id) VALUES (?, ?, ?)",
                                               "sis", instances[(first + h * 3) % G_N_ELEMENTS (instances)],
                                               (gint64) g_rand_int_range (rand, 1, 50), id));
        }
      for (guint p = 0; p < G_N_ELEMENTS (partitions); p++)
        for (guint i = 0; i < G_N_ELEMENTS (instances); i++)
          if (g_rand_int_range (rand, 0, 4) != 0)
            g_assert_true (morango_db_execute (db, &error,
                                               "INSERT INTO morango_databasemaxcounter (instance_id, counter, partition) "
                                               "VALUES (?, ?, ?)",
                                               "sis", instances[i], (gint64) g_rand_int_range (rand, 1, 50),
                                               partitions[p]));
      g_assert_no_error (error);

      for (guint f = 0; f < 6; f++)
        {
          const char *entries[3] = { partitions[g_rand_int_range (rand, 0, G_N_ELEMENTS (partitions))], NULL, NULL };
          g_autoptr(MorangoFilter) filter = NULL;
          g_autofree char *whole = NULL;
          g_autofree char *unreduced = NULL;

          if (g_rand_boolean (rand))
            entries[1] = partitions[g_rand_int_range (rand, 0, G_N_ELEMENTS (partitions))];
          filter = morango_filter_new_from_entries (entries, -1);
          morango_store_fsic_set_probe_limit (0);
          whole = morango_store_calculate_fsic_json (store, filter, FALSE, MORANGO_FSIC_V2, TRUE, &error);
          g_assert_no_error (error);
          unreduced = morango_store_calculate_fsic_json (store, filter, FALSE, MORANGO_FSIC_V2, FALSE, &error);
          g_assert_no_error (error);
          if (!g_str_equal (whole, unreduced))
            differences_from_no_reduction++;
          for (guint l = 0; l < G_N_ELEMENTS (limits); l++)
            for (guint r = 0; r < G_N_ELEMENTS (row_budgets); r++)
              {
                g_autofree char *probed = NULL;

                morango_store_fsic_set_probe_limit (limits[l]);
                morango_store_fsic_set_probe_rows (row_budgets[r]);
                probed = morango_store_calculate_fsic_json (store, filter, FALSE, MORANGO_FSIC_V2, TRUE, &error);
                g_assert_no_error (error);
                if (!g_str_equal (probed, whole))
                  g_error ("seed %" G_GUINT64_FORMAT ", round %u, filter %s %s, probe limit %u, rows %u:\n"
                           "  probed: %s\n  one pass: %s", seed, round, entries[0], entries[1] ? entries[1] : "",
                           limits[l], row_budgets[r], probed, whole);
              }
        }
    }
  morango_store_fsic_set_probe_limit (MORANGO_FSIC_PROBE_LIMIT_DEFAULT);
  morango_store_fsic_set_probe_rows (MORANGO_FSIC_PROBE_ROWS_DEFAULT);
  /* The relevance test had rows to drop: the stores are not all
   * relevant everywhere, or the comparison would prove nothing. */
  g_test_message ("%u of 150 FSICs lost rows to the relevance test", differences_from_no_reduction);
  g_assert_cmpuint (differences_from_no_reduction, >, 20);
}

static void
test_update_dmc (void)
{
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("fsic.json", "update_dmc");

  for (guint i = 0; i < cases->len; i++)
    {
      JsonObject *c = cases->pdata[i];
      const char *name = json_object_get_string_member_with_default (c, "name", "");
      g_autoptr(MorangoStore) store = fixture_store_new ("facilitydata", "00000000000000000000000000000001", 0);
      g_autoptr(MorangoFilter) filter = fixture_filter_from_json (json_object_get_member (c, "filter"));
      MorangoFsicFormat format = g_str_equal (json_object_get_string_member (c, "format"), "v2")
                                 ? MORANGO_FSIC_V2 : MORANGO_FSIC_V1;
      g_autoptr(MorangoFsic) sender = fsic_from_member (c, "sender_fsic", format);
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonArray) after = NULL;
      g_autoptr(JsonArray) expected_ours = NULL;
      JsonArray *expected = json_object_get_array_member (c, "dmc_after");

      g_test_message ("case: %s", name);
      fixture_load_rows (morango_store_get_db (store), "dmc", json_object_get_array_member (c, "dmc_before"));
      morango_store_update_dmc (store, filter, sender, &error);
      g_assert_no_error (error);
      after = fixture_dump_rows (morango_store_get_db (store), "dmc");

      /* Python lowers DMC(a, d:u1) from 10 to 3 (quirk 1): we keep the
       * maximum.  Python ignores "super" (quirk 2): we also credit its
       * counters to the filter entries it encloses.  A 0 is never
       * written, as in Python. */
      expected_ours = fixture_expected_dmc (json_object_get_array_member (c, "dmc_before"), expected,
                                            format == MORANGO_FSIC_V2
                                            ? json_object_get_object_member (c, "sender_fsic") : NULL,
                                            filter);
      if (is_python_quirk (c) && strstr (name, "lower") != NULL)
        fixture_assert_rows (name, after, json_object_get_array_member (c, "dmc_before"));
      if (strstr (name, "super ignored") != NULL)
        g_assert_cmpuint (json_array_get_length (expected_ours), >, json_array_get_length (expected));
      expected = expected_ours;
      fixture_assert_rows (name, after, expected);
    }
}

static void
test_update_dmc_never_lowers_v1 (void)
{
  g_autoptr(MorangoStore) store = fixture_store_new ("facilitydata", "00000000000000000000000000000001", 0);
  g_autoptr(MorangoFilter) filter = morango_filter_parse ("f1\nf2");
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoFsic) sender = morango_fsic_parse ("{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": 5, "
                                                      "\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\": 0}",
                                                      MORANGO_FSIC_V1, &error);
  g_autoptr(JsonArray) after = NULL;
  g_autoptr(JsonNode) expected = json_from_string (
    "[{\"instance_id\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", \"partition\": \"f1\", \"counter\": 9},"
    " {\"instance_id\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", \"partition\": \"f2\", \"counter\": 5}]", NULL);

  g_assert_no_error (error);
  /* Ours for the filter is min(9, absent) = absent, so 5 is taken; f1
   * must still not drop from 9 to 5, and a 0 is never written. */
  morango_db_exec (morango_store_get_db (store),
                   "INSERT INTO morango_databasemaxcounter (instance_id, partition, counter) "
                   "VALUES ('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'f1', 9)", &error);
  g_assert_no_error (error);
  morango_store_update_dmc (store, filter, sender, &error);
  g_assert_no_error (error);
  after = fixture_dump_rows (morango_store_get_db (store), "dmc");
  fixture_assert_rows ("dmc", after, json_node_get_array (expected));
}

/* A "super" counter is credited to the filter entries its partition
 * encloses, and to no other (quirk 2).  The vectors only have the ""
 * super partition, which encloses every entry; here "p1" encloses
 * "p1:a" but not "p2:b".  The expected rows are written out by hand. */
static void
test_update_dmc_super_encloses_one (void)
{
  g_autoptr(MorangoStore) store = fixture_store_new ("facilitydata", "00000000000000000000000000000001", 0);
  g_autoptr(MorangoFilter) filter = morango_filter_parse ("p1:a\np2:b");
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoFsic) sender = morango_fsic_parse (
    "{\"super\": {\"p1\": {\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": 7}},"
    " \"sub\": {\"p2:b\": {\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\": 3}}}",
    MORANGO_FSIC_V2, &error);
  g_autoptr(JsonArray) after = NULL;
  g_autoptr(JsonNode) expected = json_from_string (
    "[{\"instance_id\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", \"partition\": \"p1:a\", \"counter\": 7},"
    " {\"instance_id\": \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\", \"partition\": \"p2:b\", \"counter\": 3}]", NULL);

  g_assert_no_error (error);
  g_assert_true (morango_store_update_dmc (store, filter, sender, &error));
  g_assert_no_error (error);
  after = fixture_dump_rows (morango_store_get_db (store), "dmc");
  /* No (aaaa…, p2:b) row: "p1" does not enclose "p2:b". */
  fixture_assert_rows ("dmc", after, json_node_get_array (expected));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/fsic/remove-redundant", test_remove_redundant);
  g_test_add_func ("/fsic/expand", test_expand);
  g_test_add_func ("/fsic/diff-v2", test_diff_v2);
  g_test_add_func ("/fsic/diff-v1", test_diff_v1);
  g_test_add_func ("/fsic/parse-and-emit", test_parse_and_emit);
  g_test_add_func ("/fsic/check-partitions", test_check_partitions);
  g_test_add_func ("/fsic/calculate", test_calculate_fsic);
  g_test_add_func ("/fsic/receiver-probes-agree", test_receiver_probes_agree);
  g_test_add_func ("/fsic/update-dmc", test_update_dmc);
  g_test_add_func ("/fsic/update-dmc-never-lowers-v1", test_update_dmc_never_lowers_v1);
  g_test_add_func ("/fsic/update-dmc-super-encloses-one", test_update_dmc_super_encloses_one);
  return g_test_run ();
}
