/* test-profile.c: profile descriptions, application rows and the id rules (ids.json)
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gstdio.h>
#include "morango-app.h"
#include "morango-store.h"
#include "morango-profile-private.h"
#include "morango-test-util.h"

#define INSTANCE "8d3faaa29f6d9b76592b053391a2b751"

/* Objects made inline for calls; freed with the fixture. */
static GPtrArray *pool;

typedef struct {
  MorangoDb      *db;
  MorangoProfile *profile;
  MorangoStore   *store;
} Fixture;

static void
fixture_setup (Fixture *fx, gconstpointer data)
{
  const char *description = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoRandom) random = morango_random_new_seeded (morango_test_seed (42));

  fx->profile = morango_profile_new_by_name (description, &error);
  g_assert_no_error (error);
  fx->db = morango_db_open (":memory:", &error);
  g_assert_no_error (error);
  g_assert_true (morango_profile_ensure_tables (fx->profile, fx->db, &error));
  g_assert_no_error (error);
  g_assert_true (morango_instance_set_counter (fx->db, INSTANCE, 0, &error));
  fx->store = morango_store_new_for_db (fx->db, morango_profile_get_name (fx->profile),
                                       fx->profile, INSTANCE, random);
}

static void
fixture_teardown (Fixture *fx, gconstpointer data)
{
  g_clear_pointer (&pool, g_ptr_array_unref);
  g_clear_object (&fx->store);
  g_clear_object (&fx->profile);
  g_clear_object (&fx->db);
}


static JsonObject *
obj (const char *json)
{
  g_autoptr(JsonNode) node = json_from_string (json, NULL);
  JsonObject *o;

  g_assert_nonnull (node);
  o = json_object_ref (json_node_get_object (node));
  if (pool == NULL)
    pool = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  g_ptr_array_add (pool, o);
  return o;
}

static gint64
count (MorangoDb *db, const char *sql)
{
  gint64 n = -1;
  g_autoptr(GError) error = NULL;

  g_assert_true (morango_db_query_int64 (db, &n, NULL, &error, sql, ""));
  g_assert_no_error (error);
  return n;
}

/* ---- descriptions ---- */

static void
test_load_testapp (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoProfile) profile = morango_profile_new_by_name ("morango-testapp", &error);
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("records.json", "model_order");
  JsonArray *order = json_object_get_array_member (g_ptr_array_index (cases, 0), "morango_model_names");
  const char * const *names;
  MorangoModel *user;
  GPtrArray *defs;

  g_assert_no_error (error);
  g_assert_cmpstr (morango_profile_get_name (profile), ==, "facilitydata");
  g_assert_cmpstr (morango_profile_get_description_id (profile), ==, "morango-testapp");
  names = morango_profile_get_model_names (profile);
  g_assert_cmpuint (g_strv_length ((char **) names), ==, json_array_get_length (order));
  for (guint i = 0; i < json_array_get_length (order); i++)
    g_assert_cmpstr (names[i], ==, json_array_get_string_element (order, i));
  g_assert_true (morango_profile_has_model (profile, "facility"));
  g_assert_false (morango_profile_has_model (profile, "notamodel"));

  /* MyUser keeps Django's field order: AbstractBaseUser's fields first. */
  user = morango_profile_get_model (profile, "user");
  g_assert_cmpstr (((MorangoField *) g_ptr_array_index (user->fields, 0))->name, ==, "password");
  g_assert_cmpint (user->id_col, ==, 2);
  g_assert_cmpint (morango_profile_get_model (profile, "facility")->self_ref_col, >=, 0);
  g_assert_cmpint (user->self_ref_col, ==, -1);

  defs = morango_profile_get_scope_definitions (profile);
  g_assert_cmpuint (defs->len, ==, 2);
  g_assert_cmpstr (((MorangoScopeDefinition *) g_ptr_array_index (defs, 0))->id, ==, "root_scope");

  {
    g_autoptr(MorangoDb) db = morango_db_open (":memory:", &error);
    g_autoptr(MorangoScopeDefinition) def = NULL;

    g_assert_true (morango_profile_save_scope_definitions (profile, db, &error));
    g_assert_no_error (error);
    def = morango_scope_definition_load (db, "subset_scope", &error);
    g_assert_no_error (error);
    g_assert_cmpstr (def->write_filter_template, ==, "${user}:${sub}");
  }
}

/* The scope definitions a description ships are those of
 * certificates.json, text for text. */
static void
test_scope_definitions_match_vectors (void)
{
  g_autoptr(JsonNode) root = morango_test_load_vectors ("certificates.json");
  JsonArray *vec = json_object_get_array_member (json_node_get_object (root), "scope_definitions");
  const char *descriptions[] = { "morango-testapp", "kolibri-like" };

  for (guint d = 0; d < G_N_ELEMENTS (descriptions); d++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MorangoProfile) profile = morango_profile_new_by_name (descriptions[d], &error);
      GPtrArray *defs;

      g_assert_no_error (error);
      defs = morango_profile_get_scope_definitions (profile);
      g_assert_cmpuint (defs->len, >, 0);
      for (guint i = 0; i < defs->len; i++)
        {
          MorangoScopeDefinition *def = g_ptr_array_index (defs, i);
          gboolean matched = FALSE;

          for (guint j = 0; j < json_array_get_length (vec); j++)
            {
              JsonObject *v = json_array_get_object_element (vec, j);
              if (!g_str_equal (json_object_get_string_member (v, "id"), def->id))
                continue;
              matched = TRUE;
              g_assert_cmpstr (def->profile, ==, json_object_get_string_member (v, "profile"));
              g_assert_cmpint (def->version, ==, json_object_get_int_member (v, "version"));
              g_assert_cmpstr (def->primary_scope_param_key, ==,
                               json_object_get_string_member (v, "primary_scope_param_key"));
              g_assert_cmpstr (def->description, ==, json_object_get_string_member (v, "description"));
              g_assert_cmpstr (def->read_filter_template, ==,
                               json_object_get_string_member (v, "read_filter_template"));
              g_assert_cmpstr (def->write_filter_template, ==,
                               json_object_get_string_member (v, "write_filter_template"));
              g_assert_cmpstr (def->read_write_filter_template, ==,
                               json_object_get_string_member (v, "read_write_filter_template"));
            }
          g_assert_true (matched);
        }
    }
}

static const char *base_model =
  "{\"name\": \"thing\", \"table\": \"app_thing\", \"source_id\": {\"rule\": \"random\"}, "
  "\"partition\": \"p\", \"fields\": [{\"name\": \"label\", \"type\": \"text\"}]}";

static void
test_bad_descriptions (void)
{
  struct {
    const char *json;
    const char *needle;
  } cases[] = {
    { "not json", "not JSON" },
    { "[]", "top level is not a JSON object" },
    { "{\"profile\": \"p\", \"models\": []}", "has no \"description_id\"" },
    { "{\"description_id\": \"d\", \"profile\": \"p\", \"models\": []}", "no non-empty \"models\"" },
    { "{\"description_id\": \"d\", \"profile\": \"p\", \"models\": [%s], \"extra\": 1}", "the description has unknown key \"extra\"" },
    { "{\"description_id\": \"d\", \"profile\": \"p\", \"models\": [{\"name\": \"Bad Name\"}]}", "lowercase identifier" },
    { "{\"description_id\": \"d\", \"profile\": \"p\", \"models\": [%s, %s]}", "described twice" },
    { "{\"description_id\": \"d\", \"profile\": \"p\", \"models\": [{\"name\": \"x\", \"table\": \"x; drop table y\", "
      "\"partition\": \"\", \"source_id\": {\"rule\": \"random\"}, \"fields\": []}]}", "must be a lowercase identifier" },
    { "{\"description_id\": \"d\", \"profile\": \"p\", \"models\": [{\"name\": \"x\", \"table\": \"morango_store\", "
      "\"partition\": \"\", \"source_id\": {\"rule\": \"random\"}, \"fields\": []}]}", "outside morango_" },
    { "{\"description_id\": \"d\", \"profile\": \"p\", \"models\": [{\"name\": \"x\", \"table\": \"t\", "
      "\"partition\": \"\", \"source_id\": {\"rule\": \"random\"}, \"fields\": [{\"name\": \"a\", \"type\": \"blob\"}]}]}",
      "unknown type \"blob\"" },
    { "{\"description_id\": \"d\", \"profile\": \"p\", \"models\": [{\"name\": \"x\", \"table\": \"t\", "
      "\"partition\": \"\", \"source_id\": {\"rule\": \"random\"}, \"fields\": [{\"name\": \"a\", \"type\": \"string\"}]}]}",
      "needs a max_length" },
    { "{\"description_id\": \"d\", \"profile\": \"p\", \"models\": [{\"name\": \"x\", \"table\": \"t\", "
      "\"partition\": \"\", \"source_id\": {\"rule\": \"random\"}, \"fields\": [{\"name\": \"u\", \"type\": \"foreign_key\", \"to\": \"later\"}]}]}",
      "must be described before it" },
    { "{\"description_id\": \"d\", \"profile\": \"p\", \"models\": [{\"name\": \"x\", \"table\": \"t\", "
      "\"partition\": \"${nope}:x\", \"source_id\": {\"rule\": \"random\"}, \"fields\": []}]}",
      "refers to unknown field \"nope\"" },
    { "{\"description_id\": \"d\", \"profile\": \"p\", \"models\": [{\"name\": \"x\", \"table\": \"t\", "
      "\"partition\": \"\", \"source_id\": {\"rule\": \"fields\", \"fields\": [\"ghost\"]}, \"fields\": []}]}",
      "source id of model \"x\" refers to unknown field \"ghost\"" },
    { "{\"description_id\": \"d\", \"profile\": \"p\", \"models\": [{\"name\": \"x\", \"table\": \"t\", "
      "\"partition\": \"\", \"source_id\": {\"rule\": \"magic\"}, \"fields\": []}]}", "unknown source id rule" },
    { "{\"description_id\": \"d\", \"profile\": \"p\", \"models\": [{\"name\": \"x\", \"table\": \"t\", "
      "\"partition\": \"\", \"source_id\": {\"rule\": \"random\"}, \"fields\": [], \"oops\": 1}]}",
      "model \"x\" has unknown key \"oops\"" },
    { "{\"description_id\": \"d\", \"profile\": \"p\", \"models\": [{\"name\": \"x\", \"table\": \"t\", "
      "\"partition\": \"\", \"source_id\": {\"rule\": \"random\"}, \"fields\": [{\"name\": \"a\", \"type\": \"integer\", \"default\": \"x\"}]}]}",
      "does not fit the type" },
    { "{\"description_id\": \"d\", \"profile\": \"p\", \"models\": [{\"name\": \"x\", \"table\": \"t\", "
      "\"partition\": \"\", \"source_id\": {\"rule\": \"random\"}, \"fields\": [{\"name\": \"id\", \"type\": \"text\"}]}]}",
      "is built in" },
    { "{\"description_id\": \"d\", \"profile\": \"p\", \"models\": [{\"name\": \"x\", \"table\": \"t\", "
      "\"partition\": \"\", \"source_id\": {\"rule\": \"random\"}, \"fields\": [{\"name\": \"p\", \"type\": \"foreign_key\", \"to\": \"x\"}, "
      "{\"name\": \"q\", \"type\": \"foreign_key\", \"to\": \"x\"}]}]}",
      "two foreign keys to itself" },
    { "{\"description_id\": \"d\", \"profile\": \"p\", \"models\": [{\"name\": \"x\", \"table\": \"t\", "
      "\"partition\": \"a b\", \"source_id\": {\"rule\": \"random\"}, \"fields\": []}]}", "whitespace" },
    { "{\"description_id\": \"d\", \"profile\": \"p\", \"models\": [%s], \"scope_definitions\": [{\"id\": \"s\", "
      "\"profile\": \"other\", \"version\": 1, \"read_filter_template\": \"\", \"write_filter_template\": \"\", "
      "\"read_write_filter_template\": \"\"}]}", "belongs to profile \"other\"" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *json = g_strdup_printf (cases[i].json, base_model, base_model);
      g_autoptr(MorangoProfile) profile = morango_profile_new_from_data (json, -1, &error);

      g_assert_null (profile);
      g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
      if (strstr (error->message, cases[i].needle) == NULL)
        g_error ("case %u: expected “%s” in “%s”", i, cases[i].needle, error->message);
      g_assert_true (g_str_has_prefix (error->message, "Invalid profile description: "));
    }

  {
    g_autoptr(GError) error = NULL;
    g_assert_null (morango_profile_new_by_name ("no-such-description", &error));
    g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_UNKNOWN_PROFILE);
    g_clear_error (&error);
    g_assert_null (morango_profile_new_by_name ("../etc/passwd", &error));
    g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_UNKNOWN_PROFILE);
  }
}

static void
test_tables (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  /* Idempotent, with the dirty-bit column defaulting to 1. */
  g_assert_true (morango_profile_ensure_tables (fx->profile, fx->db, &error));
  g_assert_no_error (error);
  g_assert_cmpint (count (fx->db, "SELECT count(*) FROM pragma_table_info('facility_profile_myuser') "
                                  "WHERE name = '_morango_dirty_bit' AND dflt_value = '1'"), ==, 1);
  g_assert_cmpint (count (fx->db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' "
                                  "AND name = 'facility_profile_summarylog_morango_dirty'"), ==, 1);
  g_assert_cmpint (count (fx->db, "SELECT count(*) FROM pragma_table_info('facility_profile_summarylog') "
                                  "WHERE name IN ('_morango_source_id', '_morango_partition', 'user_id', 'content_id')"), ==, 4);

  /* A table left by another description is named in a clear error. */
  g_assert_true (morango_db_exec (fx->db, "ALTER TABLE facility_profile_facility DROP COLUMN now_date", &error));
  g_assert_false (morango_profile_ensure_tables (fx->profile, fx->db, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "“facility_profile_facility” has no column “now_date”"));
}

/* ---- ids.json ---- */

static void
test_record_ids (Fixture *fx, gconstpointer data)
{
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("ids.json", "record_id");
  g_autoptr(GError) error = NULL;

  /* The logs refer to these two users; create them first. */
  g_assert_true (morango_app_create (morango_store_get_app (fx->store), "user", obj ("{\"password\": \"x\", \"username\": \"bob\"}"), NULL, &error));
  g_assert_no_error (error);
  g_assert_true (morango_app_create (morango_store_get_app (fx->store), "user",
                                     obj ("{\"password\": \"x\", \"username\": \"rooted\", \"_morango_source_id\": "
                                          "\"c0ffee00c0ffee00c0ffee00c0ffee00\"}"), NULL, &error));
  g_assert_no_error (error);

  for (guint i = 0; i < cases->len; i++)
    {
      JsonObject *c = g_ptr_array_index (cases, i);
      g_autofree char *id = NULL;
      g_autoptr(JsonObject) row = NULL;
      g_autoptr(JsonObject) inputs = json_object_ref (json_object_get_object_member (c, "inputs"));

      g_test_message ("%s", json_object_get_string_member (c, "name"));
      /* Django's password is a required field the vectors leave out. */
      if (g_str_equal (json_object_get_string_member (c, "morango_model_name"), "user"))
        json_object_set_string_member (inputs, "password", "x");
      g_assert_true (morango_app_create (morango_store_get_app (fx->store), json_object_get_string_member (c, "morango_model_name"),
                                         inputs, &id, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (id, ==, json_object_get_string_member (c, "id"));
      row = morango_app_get (morango_store_get_app (fx->store), json_object_get_string_member (c, "morango_model_name"), id, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (json_object_get_string_member (row, "_morango_source_id"), ==,
                       json_object_get_string_member (c, "source_id"));
      g_assert_cmpstr (json_object_get_string_member (row, "_morango_partition"), ==,
                       json_object_get_string_member (c, "partition"));
      g_assert_true (json_object_get_boolean_member (row, "_morango_dirty_bit"));
      /* The receiver's check accepts what the creator computed. */
      g_assert_true (morango_profile_verify_record_id (fx->profile,
                                                       json_object_get_string_member (c, "morango_model_name"),
                                                       id, json_object_get_string_member (c, "partition"),
                                                       json_object_get_string_member (c, "source_id")));
      {
        g_autofree char *again = morango_profile_compute_record_id (
          fx->profile, json_object_get_string_member (c, "morango_model_name"),
          json_object_get_string_member (c, "partition_template"),
          json_object_get_string_member (c, "source_id"));
        g_assert_cmpstr (again, ==, id);
      }
    }
}

static void
test_record_id_errors (Fixture *fx, gconstpointer data)
{
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("ids.json", "record_id_error");

  for (guint i = 0; i < cases->len; i++)
    {
      JsonObject *c = g_ptr_array_index (cases, i);
      JsonObject *err = json_object_get_object_member (c, "error");
      g_autoptr(GError) error = NULL;
      MorangoModel *m = NULL;
      g_autoptr(JsonObject) inputs = json_object_ref (json_object_get_object_member (c, "inputs"));

      for (guint k = 0; k < morango_profile_get_n_models (fx->profile); k++)
        if (g_str_equal (morango_profile_get_model_at (fx->profile, k)->class_name,
                         json_object_get_string_member (c, "model")))
          m = morango_profile_get_model_at (fx->profile, k);
      g_assert_nonnull (m);
      g_assert_cmpstr (json_object_get_string_member (err, "class"), ==, "InvalidMorangoSourceId");
      g_assert_false (morango_app_create (morango_store_get_app (fx->store), m->name, inputs, NULL, &error));
      g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID_SOURCE_ID);
      g_assert_cmpstr (error->message, ==, json_object_get_string_member (err, "message"));
    }
  g_assert_cmpint (count (fx->db, "SELECT count(*) FROM facility_profile_facility"), ==, 0);
}

static void
test_receipt_verification (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoProfile) profile = morango_profile_new_by_name ("morango-testapp", &error);
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("ids.json", "receipt_verification");

  g_assert_no_error (error);
  for (guint i = 0; i < cases->len; i++)
    {
      JsonObject *c = g_ptr_array_index (cases, i);
      JsonObject *record = json_object_get_object_member (c, "record");
      g_autoptr(MorangoFilter) filter = morango_filter_parse (json_object_get_string_member (c, "transfer_filter"));
      gboolean ok;

      g_test_message ("%s", json_object_get_string_member (c, "name"));
      ok = morango_profile_check_received_record (profile, filter,
                                                  json_object_get_string_member (c, "transfer_session_id"),
                                                  record, &error);
      g_assert_cmpint (ok, ==, json_object_get_boolean_member (c, "accepted"));
      if (ok)
        g_assert_no_error (error);
      else
        {
          g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_RECORD_REJECTED);
          g_assert_cmpstr (error->message, ==,
                           json_object_get_string_member (json_object_get_object_member (c, "error"), "message"));
          g_clear_error (&error);
        }

      /* The bare id check agrees whenever the rest of the record is fine. */
      if (ok)
        g_assert_true (morango_profile_verify_record_id (profile,
                                                         json_object_get_string_member (record, "model_name"),
                                                         json_object_get_string_member (record, "model_uuid"),
                                                         json_object_get_string_member (record, "partition"),
                                                         json_object_get_string_member (record, "source_id")));
    }
}


/* Correction 17: the id is checked first, then the partition, then the
 * RMCB items; a relay without models uses the default id rule. */
static void
test_receipt_check_order (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoProfile) profile = morango_profile_new_by_name ("morango-testapp", &error);
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("ids.json", "receipt_verification");
  g_autoptr(MorangoFilter) elsewhere = morango_filter_parse ("someotherprefix");
  JsonObject *valid = json_object_get_object_member (g_ptr_array_index (cases, 0), "record");
  const char *ts = json_object_get_string_member (g_ptr_array_index (cases, 0), "transfer_session_id");
  /* A deep copy: json_node_copy would share the object. */
  g_autofree char *text = json_to_string (json_object_get_member (g_ptr_array_index (cases, 0), "record"), FALSE);
  g_autoptr(JsonNode) copy = json_from_string (text, NULL);
  JsonObject *bad = json_node_get_object (copy);
  JsonObject *rmcb = json_array_get_object_element (json_object_get_array_member (bad, "rmcb_list"), 0);

  g_assert_cmpstr (json_object_get_string_member (valid, "model_name"), ==, "contentsummarylog");

  /* A wrong history item and a partition outside the filter: the partition speaks. */
  json_object_set_string_member (rmcb, "model_uuid", "99999999999999999999999999999999");
  g_assert_false (morango_profile_check_received_record (profile, elsewhere, ts, bad, &error));
  g_assert_nonnull (strstr (error->message, "is not contained within filter"));
  g_clear_error (&error);

  /* And a wrong source id on top: the id speaks. */
  json_object_set_string_member (bad, "source_id", "forged");
  g_assert_false (morango_profile_check_received_record (profile, elsewhere, ts, bad, &error));
  g_assert_cmpstr (error->message, ==, "Does not match results of calling ModelBase.compute_namespaced_id");
  g_clear_error (&error);

  /* Without a profile, the default rule: the summary log's hash id passes. */
  g_assert_true (morango_profile_check_record_origin (NULL, NULL,
                                                      json_object_get_string_member (valid, "model_name"),
                                                      json_object_get_string_member (valid, "model_uuid"),
                                                      json_object_get_string_member (valid, "partition"),
                                                      json_object_get_string_member (valid, "source_id"),
                                                      &error));
  g_assert_false (morango_profile_check_record_origin (NULL, NULL, "contentsummarylog",
                                                       json_object_get_string_member (valid, "model_uuid"),
                                                       json_object_get_string_member (valid, "partition"),
                                                       "forged", &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_RECORD_REJECTED);
}

/* ---- application rows ---- */

static void
test_create_validation (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *bob = NULL;

  g_assert_false (morango_app_create (morango_store_get_app (fx->store), "user", obj ("{\"password\": \"x\", \"username\": \"\"}"), NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_VALIDATION);
  g_assert_cmpstr (error->message, ==, "Invalid my user: {'username': ['This field cannot be blank.']}");
  g_clear_error (&error);

  g_assert_false (morango_app_create (morango_store_get_app (fx->store), "user", obj ("{\"password\": \"x\", \"username\": \"xxxxxxxxxxxxxxxxxxxxx\"}"),
                                      NULL, &error));
  g_assert_nonnull (strstr (error->message, "Ensure this value has at most 20 characters (it has 21)."));
  g_clear_error (&error);

  g_assert_false (morango_app_create (morango_store_get_app (fx->store), "user", obj ("{\"password\": \"x\", \"username\": \"a\", \"shoe_size\": 4}"),
                                      NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "no field “shoe_size”"));
  g_clear_error (&error);

  g_assert_false (morango_app_create (morango_store_get_app (fx->store), "nobody", obj ("{}"), NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_UNKNOWN_MODEL);
  g_clear_error (&error);

  g_assert_false (morango_app_create (morango_store_get_app (fx->store), "user", obj ("{\"password\": \"x\", \"username\": \"a\", \"is_staff\": \"maybe\"}"),
                                      NULL, &error));
  g_assert_nonnull (strstr (error->message, "{'is_staff': ['“maybe” value must be either True or False.']}"));
  g_clear_error (&error);

  /* A summary log needs its user among the app rows. */
  g_assert_false (morango_app_create (morango_store_get_app (fx->store), "contentsummarylog",
                                      obj ("{\"user_id\": \"6b8bd6d2bfa158c4aaab779338a6c3a9\"}"), NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_VALIDATION);
  g_assert_nonnull (strstr (error->message, "my user instance with id '6b8bd6d2bfa158c4aaab779338a6c3a9' does not exist"));
  g_clear_error (&error);
  g_assert_false (morango_app_create (morango_store_get_app (fx->store), "contentsummarylog", obj ("{}"), NULL, &error));
  g_assert_nonnull (strstr (error->message, "{'user': ['This field cannot be null.']}"));
  g_clear_error (&error);
  g_assert_false (morango_app_create (morango_store_get_app (fx->store), "contentsummarylog",
                                      obj ("{\"user\": \"6b8bd6d2bfa158c4aaab779338a6c3a9\", \"content_id\": \"nope\"}"),
                                      NULL, &error));
  g_assert_nonnull (strstr (error->message, "badly formed hexadecimal UUID string"));
  g_clear_error (&error);

  g_assert_cmpint (count (fx->db, "SELECT count(*) FROM facility_profile_myuser"), ==, 0);

  /* Values are normalised: dashed upper-case UUIDs, datetimes with an
   * offset (stored as naive UTC, Django's way). */
  g_assert_true (morango_app_create (morango_store_get_app (fx->store), "user", obj ("{\"password\": \"x\", \"username\": \"bob\", "
                                     "\"last_login\": \"2024-10-24T15:00:00.5+05:30\"}"), &bob, &error));
  g_assert_no_error (error);
  {
    g_autofree char *text = NULL;
    g_assert_true (morango_db_query_text (fx->db, &text, &error,
                                          "SELECT last_login FROM facility_profile_myuser WHERE id = ?", "s", bob));
    g_assert_cmpstr (text, ==, "2024-10-24 09:30:00.500000");
  }
  g_assert_true (morango_app_create (morango_store_get_app (fx->store), "contentsummarylog",
                                     obj ("{\"user\": \"6B8BD6D2-BFA1-58C4-AAAB-779338A6C3A9\", "
                                          "\"content_id\": \"CCCCCCCC-CCCC-CCCC-CCCC-CCCCCCCCCCCC\"}"), NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (count (fx->db, "SELECT count(*) FROM facility_profile_summarylog WHERE "
                                  "id = '0cba71a3638609d7be8bf26d1286bec6'"), ==, 1);
}

/* Datetimes are held to the millisecond, the most a sync carries, so
 * the device that made a record and the devices that received it hold
 * the same value; the "now" default follows the same rule. */
static void
test_datetime_milliseconds (Fixture *fx, gconstpointer data)
{
  struct { const char *in, *stored; } cases[] = {
    { "2024-01-02T03:04:05.000999Z", "2024-01-02 03:04:05" },
    { "2024-01-02T03:04:05.123456Z", "2024-01-02 03:04:05.123000" },
    { "2024-01-02 03:04:05.999999", "2024-01-02 03:04:05.999000" },
    { "2024-01-02T03:04:05.5+01:00", "2024-01-02 02:04:05.500000" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *json = g_strdup_printf ("{\"password\": \"x\", \"username\": \"u%u\", \"last_login\": \"%s\"}",
                                               i, cases[i].in);
      g_autofree char *id = NULL;
      g_autofree char *text = NULL;

      g_assert_true (morango_app_create (morango_store_get_app (fx->store), "user", obj (json), &id, &error));
      g_assert_no_error (error);
      g_assert_true (morango_db_query_text (fx->db, &text, &error,
                                            "SELECT last_login FROM facility_profile_myuser WHERE id = ?", "s", id));
      g_test_message ("%s -> %s", cases[i].in, text);
      g_assert_cmpstr (text, ==, cases[i].stored);
    }

  /* Twenty rows stamped by the clock: each value is whole milliseconds
   * (a clock read to the microsecond leaves digits 999 times in 1000). */
  for (guint i = 0; i < 20; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *id = NULL;
      g_autofree char *text = NULL;
      g_autofree char *name = g_strdup_printf ("{\"name\": \"F%u\"}", i);

      g_assert_true (morango_app_create (morango_store_get_app (fx->store), "facility", obj (name), &id, &error));
      g_assert_no_error (error);
      g_assert_true (morango_db_query_text (fx->db, &text, &error,
                                            "SELECT now_date FROM facility_profile_facility WHERE id = ?", "s", id));
      g_assert_true (g_regex_match_simple ("^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d(\\.\\d{3}000)?$", text, 0, 0));
      g_assert_false (g_str_has_suffix (text, ".000000"));
      g_usleep (G_USEC_PER_SEC / 1000 + 37);
    }
}

static void
test_update (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *bob = NULL;
  g_autoptr(JsonObject) row = NULL;

  g_assert_true (morango_app_create (morango_store_get_app (fx->store), "user", obj ("{\"password\": \"x\", \"username\": \"bob\"}"), &bob, &error));
  g_assert_true (morango_db_execute (fx->db, &error, "UPDATE facility_profile_myuser SET _morango_dirty_bit = 0", ""));
  g_assert_true (morango_app_update (morango_store_get_app (fx->store), "user", bob, obj ("{\"is_staff\": true}"), &error));
  g_assert_no_error (error);
  row = morango_app_get (morango_store_get_app (fx->store), "user", bob, &error);
  g_assert_true (json_object_get_boolean_member (row, "is_staff"));
  g_assert_true (json_object_get_boolean_member (row, "_morango_dirty_bit"));
  g_assert_cmpstr (json_object_get_string_member (row, "username"), ==, "bob");

  /* update_dirty_bit_to: False clears, None keeps, True sets. */
  g_assert_true (morango_app_update_full (morango_store_get_app (fx->store), "user", bob, obj ("{\"is_staff\": false}"),
                                          MORANGO_DIRTY_BIT_CLEAR, &error));
  g_assert_cmpint (count (fx->db, "SELECT _morango_dirty_bit FROM facility_profile_myuser"), ==, 0);
  g_assert_true (morango_app_update_full (morango_store_get_app (fx->store), "user", bob, obj ("{\"is_staff\": true}"),
                                          MORANGO_DIRTY_BIT_KEEP, &error));
  g_assert_cmpint (count (fx->db, "SELECT _morango_dirty_bit FROM facility_profile_myuser"), ==, 0);
  g_assert_cmpint (count (fx->db, "SELECT is_staff FROM facility_profile_myuser"), ==, 1);
  g_assert_true (morango_app_update_full (morango_store_get_app (fx->store), "user", bob, obj ("{}"), MORANGO_DIRTY_BIT_SET, &error));
  g_assert_true (morango_app_update_full (morango_store_get_app (fx->store), "user", bob, obj ("{\"is_staff\": true}"),
                                          MORANGO_DIRTY_BIT_KEEP, &error));
  g_assert_cmpint (count (fx->db, "SELECT _morango_dirty_bit FROM facility_profile_myuser"), ==, 1);
  g_assert_no_error (error);

  g_assert_false (morango_app_update (morango_store_get_app (fx->store), "user", bob, obj ("{\"_morango_partition\": \"x\"}"), &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (morango_app_update (morango_store_get_app (fx->store), "user", bob, obj ("{\"password\": \"x\", \"username\": \"\"}"), &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_VALIDATION);
  g_clear_error (&error);
  g_assert_false (morango_app_update (morango_store_get_app (fx->store), "user", "ffffffffffffffffffffffffffffffff",
                                      obj ("{\"is_staff\": true}"), &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (morango_app_get (morango_store_get_app (fx->store), "user", "ffffffffffffffffffffffffffffffff", &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND);
}

/* §4.6: every deleted row, cascades included, is queued; a hard delete
 * queues all of them twice. */
static void
test_delete_tracking (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *bob = NULL, *alice = NULL, *log1 = NULL, *log2 = NULL, *ilog = NULL, *alog = NULL;

  g_assert_true (morango_app_create (morango_store_get_app (fx->store), "user", obj ("{\"password\": \"x\", \"username\": \"bob\"}"), &bob, &error));
  g_assert_true (morango_app_create (morango_store_get_app (fx->store), "user", obj ("{\"password\": \"x\", \"username\": \"alice\"}"), &alice, &error));
  g_assert_true (morango_app_create (morango_store_get_app (fx->store), "contentsummarylog",
                                     obj ("{\"user\": \"6b8bd6d2bfa158c4aaab779338a6c3a9\"}"), &log1, &error));
  g_assert_true (morango_app_create (morango_store_get_app (fx->store), "contentsummarylog",
                                     obj ("{\"user\": \"6b8bd6d2bfa158c4aaab779338a6c3a9\"}"), &log2, &error));
  g_assert_true (morango_app_create (morango_store_get_app (fx->store), "contentinteractionlog",
                                     obj ("{\"user\": \"6b8bd6d2bfa158c4aaab779338a6c3a9\"}"), &ilog, &error));
  g_assert_true (morango_app_create (morango_store_get_app (fx->store), "contentinteractionlog", obj ("{\"user_id\": null}"), NULL, &error));
  g_assert_true (morango_app_create (morango_store_get_app (fx->store), "contentsummarylog", obj ("{\"user_id\": \"663553a58518570baea6873a7c73dfd7\"}"),
                                     &alog, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (alice, ==, "663553a58518570baea6873a7c73dfd7");

  g_assert_true (morango_app_delete (morango_store_get_app (fx->store), "user", bob, FALSE, &error));
  g_assert_no_error (error);
  g_assert_cmpint (count (fx->db, "SELECT count(*) FROM morango_deletedmodels WHERE profile = 'facilitydata'"), ==, 4);
  g_assert_cmpint (count (fx->db, "SELECT count(*) FROM morango_harddeletedmodels"), ==, 0);
  g_assert_cmpint (count (fx->db, "SELECT count(*) FROM facility_profile_summarylog"), ==, 1);
  g_assert_cmpint (count (fx->db, "SELECT count(*) FROM facility_profile_interactionlog"), ==, 1);

  g_assert_true (morango_app_delete (morango_store_get_app (fx->store), "user", alice, TRUE, &error));
  g_assert_no_error (error);
  g_assert_cmpint (count (fx->db, "SELECT count(*) FROM morango_deletedmodels"), ==, 6);
  g_assert_cmpint (count (fx->db, "SELECT count(*) FROM morango_harddeletedmodels"), ==, 2);
  g_assert_cmpint (count (fx->db, "SELECT count(*) FROM facility_profile_summarylog"), ==, 0);

  g_assert_false (morango_app_delete (morango_store_get_app (fx->store), "user", alice, FALSE, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND);
}

/* A facility tree goes down with its root; every node is queued. */
static void
test_delete_tree (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *root = NULL, *child = NULL;
  JsonObject *c, *g;

  g_assert_true (morango_app_create (morango_store_get_app (fx->store), "facility", obj ("{\"name\": \"root\"}"), &root, &error));
  c = obj ("{\"name\": \"child\"}");
  json_object_set_string_member (c, "parent", root);
  g_assert_true (morango_app_create (morango_store_get_app (fx->store), "facility", c, &child, &error));
  g = obj ("{\"name\": \"grandchild\"}");
  json_object_set_string_member (g, "parent_id", child);
  g_assert_true (morango_app_create (morango_store_get_app (fx->store), "facility", g, NULL, &error));
  g_assert_true (morango_app_create (morango_store_get_app (fx->store), "facility", obj ("{\"name\": \"other\"}"), NULL, &error));
  g_assert_no_error (error);

  g_assert_true (morango_app_delete (morango_store_get_app (fx->store), "facility", root, TRUE, &error));
  g_assert_no_error (error);
  g_assert_cmpint (count (fx->db, "SELECT count(*) FROM facility_profile_facility"), ==, 1);
  g_assert_cmpint (count (fx->db, "SELECT count(*) FROM morango_deletedmodels"), ==, 3);
  g_assert_cmpint (count (fx->db, "SELECT count(*) FROM morango_harddeletedmodels"), ==, 3);
}

static void
test_create_overwrites_and_explicit_ids (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *a = NULL, *b = NULL;
  JsonObject *good, *bad;

  /* Same name, same id: the second save overwrites, as Django's does. */
  g_assert_true (morango_app_create (morango_store_get_app (fx->store), "facility", obj ("{\"name\": \"Fac 1\", "
                                     "\"now_date\": \"2024-10-24T12:34:56.789Z\"}"), &a, &error));
  g_assert_true (morango_app_create (morango_store_get_app (fx->store), "facility", obj ("{\"name\": \"Fac 1\", "
                                     "\"now_date\": \"2025-01-01T00:00:00Z\"}"), &b, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (a, ==, "612c166fa89890aa4cae8e6d37c32ec9");
  g_assert_cmpstr (a, ==, b);
  g_assert_cmpint (count (fx->db, "SELECT count(*) FROM facility_profile_facility "
                                  "WHERE now_date = '2025-01-01 00:00:00'"), ==, 1);

  good = obj ("{\"id\": \"1e1ae3f93f6081456265a9a75c17d328\", \"_morango_source_id\": \"a\", "
              "\"_morango_partition\": \"\", \"name\": \"a\"}");
  g_assert_true (morango_app_create (morango_store_get_app (fx->store), "facility", good, NULL, &error));
  g_assert_no_error (error);
  bad = obj ("{\"id\": \"1e1ae3f93f6081456265a9a75c17d329\", \"_morango_source_id\": \"a\", "
             "\"_morango_partition\": \"\", \"name\": \"a\"}");
  g_assert_false (morango_app_create (morango_store_get_app (fx->store), "facility", bad, NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
}

/* A data folder is made for the description asked for, and later keeps
 * the one it was made with, whatever is asked. */
static void
test_open_folder (void)
{
  g_autofree char *dir = morango_test_tmpdir ();
  g_autofree char *folder = g_build_filename (dir, "data", "sub", NULL);
  g_autofree char *db_path = g_build_filename (folder, MORANGO_STORE_FOLDER_DB, NULL);
  g_autoptr(MorangoHostInfo) host = morango_host_info_new ("system-id-test", "00:11:22:33:44:55");
  g_autoptr(MorangoRandom) random = morango_random_new_seeded (morango_test_seed (7));
  g_autoptr(GError) error = NULL;
  GStatBuf st;

  {
    g_autoptr(MorangoStore) store = morango_store_open_folder (folder, "morango-testapp", host,
                                                               random, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (morango_profile_get_description_id (morango_store_get_profile (store)), ==,
                     "morango-testapp");
  }
  g_assert_cmpint (g_stat (folder, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);
  g_assert_true (g_file_test (db_path, G_FILE_TEST_IS_REGULAR));
  /* No description named: the stored one. */
  {
    g_autoptr(MorangoStore) store = morango_store_open_folder (folder, NULL, host, random, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (morango_profile_get_description_id (morango_store_get_profile (store)), ==,
                     "morango-testapp");
  }
  /* Another one named: refused, and the message names both. */
  g_assert_null (morango_store_open_folder (folder, "kolibri-like", host, random, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_UNKNOWN_PROFILE);
  g_assert_nonnull (strstr (error->message, "morango-testapp"));
  g_assert_nonnull (strstr (error->message, "kolibri-like"));
  g_clear_error (&error);
  /* A new folder without a name gets the default. */
  {
    g_autofree char *fresh = g_build_filename (dir, "fresh", NULL);
    g_autoptr(MorangoStore) store = morango_store_open_folder (fresh, NULL, host, random, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (morango_profile_get_description_id (morango_store_get_profile (store)), ==,
                     MORANGO_STORE_DEFAULT_DESCRIPTION);
  }
  /* A description that does not exist makes nothing. */
  {
    g_autofree char *other = g_build_filename (dir, "other", NULL);
    g_autofree char *other_db = g_build_filename (other, MORANGO_STORE_FOLDER_DB, NULL);

    g_assert_null (morango_store_open_folder (other, "no-such-description", host, random, &error));
    g_assert_nonnull (error);
    g_assert_false (g_file_test (other_db, G_FILE_TEST_EXISTS));
  }
}

/* The "people" of a description: who a single-user certificate may be
 * asked for, read with the dataset bound, never spliced. */
static void
test_people (Fixture *fx, gconstpointer data)
{
  const char *ds = "d6f7b0aa11a1bb22cc33dd44ee55ff66";
  const char *other = "0000000000000000000000000000000a";
  const MorangoProfilePeople *people = morango_profile_get_people (fx->profile);
  MorangoApp *app = morango_store_get_app (fx->store);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autofree char *facility = NULL;
  g_autofree char *json = NULL;

  g_assert_nonnull (people);
  g_assert_cmpstr (people->model, ==, "facilityuser");
  g_assert_cmpstr (people->scope_definition, ==, "single-user");
  g_assert_cmpstr (people->scope_param, ==, "user_id");

  json = g_strdup_printf ("{\"dataset_id\": \"%s\", \"name\": \"School\"}", ds);
  g_assert_true (morango_app_create (app, "facility", obj (json), &facility, &error));
  g_assert_no_error (error);
  {
    const char *rows[][4] = { { "zoe", "Zoe Z", "learner", NULL }, { "ana", "Ana A", "learner", NULL },
                              { "boss", "The Admin", "admin", NULL } };

    for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
      {
        g_autofree char *row = g_strdup_printf ("{\"dataset_id\": \"%s\", \"facility_id\": \"%s\", "
                                                "\"username\": \"%s\", \"full_name\": \"%s\", "
                                                "\"role\": \"%s\"}", ds, facility, rows[i][0], rows[i][1],
                                                rows[i][2]);

        g_assert_true (morango_app_create (app, "facilityuser", obj (row), NULL, &error));
        g_assert_no_error (error);
      }
  }

  list = morango_profile_list_people (fx->profile, fx->db, ds, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 2);   /* the admin is no learner */
  g_assert_cmpstr (((MorangoPerson *) list->pdata[0])->name, ==, "ana");
  g_assert_cmpstr (((MorangoPerson *) list->pdata[0])->full_name, ==, "Ana A");
  g_assert_cmpuint (strlen (((MorangoPerson *) list->pdata[0])->id), ==, 32);
  g_assert_cmpstr (((MorangoPerson *) list->pdata[1])->name, ==, "zoe");
  g_clear_pointer (&list, g_ptr_array_unref);

  list = morango_profile_list_people (fx->profile, fx->db, other, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 0);
  g_clear_pointer (&list, g_ptr_array_unref);
  /* A dataset id that would widen the query if it were spliced in. */
  list = morango_profile_list_people (fx->profile, fx->db, "x' OR '1'='1", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 0);
}

static void
test_people_bad (void)
{
  const char *cases[][2] = {
    { "\"people\": 3", "\"people\" is not an object" },
    { "\"people\": {\"model\": \"nobody\", \"dataset_field\": \"a\", \"name_field\": \"a\", "
      "\"scope_definition\": \"s\", \"scope_param\": \"p\"}", "names the model \"nobody\"" },
    { "\"people\": {\"model\": \"x\", \"dataset_field\": \"a\", \"name_field\": \"no_such\", "
      "\"scope_definition\": \"s\", \"scope_param\": \"p\"}", "names the field \"no_such\"" },
    { "\"people\": {\"model\": \"x\", \"dataset_field\": \"a\", \"name_field\": \"a\", "
      "\"scope_definition\": \"nope\", \"scope_param\": \"p\"}", "scope definition \"nope\"" },
    { "\"people\": {\"model\": \"x\", \"dataset_field\": \"a\", \"name_field\": \"a\", "
      "\"filter_field\": \"a\", \"scope_definition\": \"s\", \"scope_param\": \"p\"}", "no \"filter_value\"" },
    { "\"people\": {\"model\": \"x\", \"dataset_field\": \"a\", \"name_field\": \"a\", \"extra\": 1, "
      "\"scope_definition\": \"s\", \"scope_param\": \"p\"}", "unknown key \"extra\"" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *json = g_strdup_printf (
        "{\"description_id\": \"d\", \"profile\": \"p\", \"models\": [{\"name\": \"x\", \"table\": \"t\", "
        "\"partition\": \"\", \"source_id\": {\"rule\": \"random\"}, \"fields\": [{\"name\": \"a\", "
        "\"type\": \"uuid\"}]}], \"scope_definitions\": [{\"id\": \"s\", \"profile\": \"p\", \"version\": 1, "
        "\"primary_scope_param_key\": \"\", \"description\": \"\", \"read_filter_template\": \"\", "
        "\"write_filter_template\": \"\", \"read_write_filter_template\": \"${a}\"}], %s}", cases[i][0]);
      g_autoptr(GError) error = NULL;
      g_autoptr(MorangoProfile) profile = morango_profile_new_from_data (json, -1, &error);

      g_assert_null (profile);
      g_assert_nonnull (error);
      if (strstr (error->message, cases[i][1]) == NULL)
        g_error ("case %u: “%s” lacks “%s”", i, error->message, cases[i][1]);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/profile/load-testapp", test_load_testapp);
  g_test_add_func ("/profile/open-folder", test_open_folder);
  g_test_add_func ("/profile/scope-definitions", test_scope_definitions_match_vectors);
  g_test_add_func ("/profile/bad-descriptions", test_bad_descriptions);
  g_test_add_func ("/profile/receipt-verification", test_receipt_verification);
  g_test_add_func ("/profile/receipt-check-order", test_receipt_check_order);
#define ADD(path, fn) \
  g_test_add (path, Fixture, "morango-testapp", fixture_setup, fn, fixture_teardown)
  ADD ("/profile/tables", test_tables);
  ADD ("/profile/record-ids", test_record_ids);
  ADD ("/profile/record-id-errors", test_record_id_errors);
  ADD ("/profile/create-validation", test_create_validation);
  ADD ("/profile/datetime-milliseconds", test_datetime_milliseconds);
  ADD ("/profile/update", test_update);
  ADD ("/profile/delete-tracking", test_delete_tracking);
  ADD ("/profile/delete-tree", test_delete_tree);
  ADD ("/profile/create-overwrites", test_create_overwrites_and_explicit_ids);
#undef ADD
  g_test_add_func ("/profile/people-bad", test_people_bad);
  g_test_add ("/profile/people", Fixture, "kolibri-like", fixture_setup, test_people, fixture_teardown);
  return g_test_run ();
}
