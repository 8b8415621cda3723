/* test-filters.c: filters, scopes and the scope gate against filters-and-scopes.json
 *
 * SPDX-License-Identifier: MIT
 */
#include "morango-filter.h"
#include "morango-json.h"
#include "morango-test-util.h"

static void
assert_entries (MorangoFilter *f,
                JsonArray     *expected)
{
  g_assert_cmpuint (morango_filter_get_n_entries (f), ==, json_array_get_length (expected));
  for (guint i = 0; i < json_array_get_length (expected); i++)
    g_assert_cmpstr (morango_filter_get_entry (f, i), ==, json_array_get_string_element (expected, i));
}

static void
test_parse (void)
{
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("filters-and-scopes.json", "filter_parse");

  for (guint i = 0; i < cases->len; i++)
    {
      JsonObject *c = g_ptr_array_index (cases, i);
      const char *tmpl = json_object_get_string_member (c, "template");
      JsonNode *params = json_object_get_member (c, "params");
      g_autoptr(MorangoFilter) f = NULL;
      g_autofree char *subst = NULL;
      g_autofree char *str = NULL;
      g_autoptr(GError) error = NULL;

      g_test_message ("%s", json_object_get_string_member (c, "name"));
      if (params != NULL && JSON_NODE_HOLDS_VALUE (params))
        f = morango_filter_new_with_json (tmpl, json_node_get_string (params), &error);
      else
        f = morango_filter_new (tmpl, params ? json_node_get_object (params) : NULL);
      g_assert_no_error (error);
      if (params == NULL || JSON_NODE_HOLDS_OBJECT (params))
        {
          subst = morango_template_substitute (tmpl, params ? json_node_get_object (params) : NULL);
          g_assert_cmpstr (subst, ==, json_object_get_string_member (c, "substituted"));
        }
      assert_entries (f, json_object_get_array_member (c, "entries"));
      str = morango_filter_to_string (f);
      g_assert_cmpstr (str, ==, json_object_get_string_member (c, "str"));
    }
}

static void
test_contains (void)
{
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("filters-and-scopes.json", "filter_contains");

  for (guint i = 0; i < cases->len; i++)
    {
      JsonObject *c = g_ptr_array_index (cases, i);
      g_autoptr(MorangoFilter) f = morango_filter_parse (json_object_get_string_member (c, "filter"));

      g_assert_cmpint (morango_filter_contains (f, json_object_get_string_member (c, "partition")), ==,
                       json_object_get_boolean_member (c, "result"));
    }
}

static void
test_subset (void)
{
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("filters-and-scopes.json", "filter_is_subset_of");

  for (guint i = 0; i < cases->len; i++)
    {
      JsonObject *c = g_ptr_array_index (cases, i);
      g_autoptr(MorangoFilter) a = morango_filter_parse (json_object_get_string_member (c, "a"));
      g_autoptr(MorangoFilter) b = morango_filter_parse (json_object_get_string_member (c, "b"));

      assert_entries (a, json_object_get_array_member (c, "a_entries"));
      g_assert_cmpint (morango_filter_is_subset_of (a, b), ==, json_object_get_boolean_member (c, "result"));
    }
}

static void
test_add_and_equal (void)
{
  g_autoptr(GPtrArray) adds = morango_test_vector_cases ("filters-and-scopes.json", "filter_add");
  g_autoptr(GPtrArray) eqs = morango_test_vector_cases ("filters-and-scopes.json", "filter_equal");

  for (guint i = 0; i < adds->len; i++)
    {
      JsonObject *c = g_ptr_array_index (adds, i);
      g_autoptr(MorangoFilter) a = morango_filter_parse (json_object_get_string_member (c, "a"));
      g_autoptr(MorangoFilter) b = morango_filter_parse (json_object_get_string_member (c, "b"));
      g_autoptr(MorangoFilter) sum = morango_filter_add (a, b);
      g_autofree char *str = morango_filter_to_string (sum);

      assert_entries (sum, json_object_get_array_member (c, "entries"));
      g_assert_cmpstr (str, ==, json_object_get_string_member (c, "str"));
    }
  for (guint i = 0; i < eqs->len; i++)
    {
      JsonObject *c = g_ptr_array_index (eqs, i);
      g_autoptr(MorangoFilter) a = morango_filter_parse (json_object_get_string_member (c, "a"));
      g_autoptr(MorangoFilter) b = morango_filter_parse (json_object_get_string_member (c, "b"));

      g_assert_cmpint (morango_filter_equal (a, b), ==, json_object_get_boolean_member (c, "result"));
    }
}

static GHashTable *
load_definitions (void)
{
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("filters-and-scopes.json", "scope_definitions");
  JsonArray *defs = json_object_get_array_member (g_ptr_array_index (cases, 0), "definitions");
  GHashTable *out = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                           (GDestroyNotify) morango_scope_definition_free);

  for (guint i = 0; i < json_array_get_length (defs); i++)
    {
      g_autoptr(GError) error = NULL;
      MorangoScopeDefinition *def =
        morango_scope_definition_new_from_json (json_array_get_object_element (defs, i), &error);

      g_assert_no_error (error);
      g_hash_table_insert (out, def->id, def);
    }
  return out;
}

static MorangoScope *
scope_from (GHashTable *defs,
            JsonObject *spec)
{
  g_autoptr(GError) error = NULL;
  MorangoScopeDefinition *def = g_hash_table_lookup (defs, json_object_get_string_member (spec, "scope_definition_id"));
  MorangoScope *scope;

  g_assert_nonnull (def);
  scope = morango_scope_new (def, json_object_get_string_member (spec, "scope_params"), &error);
  g_assert_no_error (error);
  return scope;
}

static void
test_scopes (void)
{
  g_autoptr(GHashTable) defs = load_definitions ();
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("filters-and-scopes.json", "scope");
  g_autoptr(GPtrArray) subsets = morango_test_vector_cases ("filters-and-scopes.json", "scope_is_subset_of");

  for (guint i = 0; i < cases->len; i++)
    {
      JsonObject *c = g_ptr_array_index (cases, i);
      g_autoptr(MorangoScope) scope = scope_from (defs, c);
      g_autofree char *r = morango_filter_to_string (morango_scope_get_read (scope));
      g_autofree char *w = morango_filter_to_string (morango_scope_get_write (scope));
      g_autoptr(JsonObject) params = morango_json_parse_object (json_object_get_string_member (c, "scope_params"), "p", NULL);
      g_autofree char *desc = morango_scope_definition_describe (
          g_hash_table_lookup (defs, json_object_get_string_member (c, "scope_definition_id")), params);

      assert_entries (morango_scope_get_read (scope), json_object_get_array_member (c, "read_filter"));
      assert_entries (morango_scope_get_write (scope), json_object_get_array_member (c, "write_filter"));
      g_assert_cmpstr (r, ==, json_object_get_string_member (c, "read_filter_str"));
      g_assert_cmpstr (w, ==, json_object_get_string_member (c, "write_filter_str"));
      g_assert_cmpstr (desc, ==, json_object_get_string_member (c, "description"));
    }

  for (guint i = 0; i < subsets->len; i++)
    {
      JsonObject *c = g_ptr_array_index (subsets, i);
      g_autoptr(MorangoScope) a = scope_from (defs, json_object_get_object_member (c, "a"));
      g_autoptr(MorangoScope) b = scope_from (defs, json_object_get_object_member (c, "b"));

      g_assert_cmpint (morango_scope_is_subset_of (a, b), ==, json_object_get_boolean_member (c, "result"));
      g_assert_cmpint (morango_scope_equal (a, b), ==, json_object_get_boolean_member (c, "equal"));
    }
}

static void
test_transfer_gate (void)
{
  g_autoptr(GHashTable) defs = load_definitions ();
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("filters-and-scopes.json", "transfer_scope_gate");

  for (guint i = 0; i < cases->len; i++)
    {
      JsonObject *c = g_ptr_array_index (cases, i);
      g_autoptr(MorangoScope) client = scope_from (defs, json_object_get_object_member (c, "client_scope"));
      g_autoptr(MorangoScope) server = scope_from (defs, json_object_get_object_member (c, "server_scope"));
      g_autoptr(MorangoFilter) filter = morango_filter_parse (json_object_get_string_member (c, "filter"));
      g_autofree char *push_msg = NULL;
      g_autofree char *pull_msg = NULL;

      g_assert_cmpint (morango_scope_gate_transfer (client, server, filter, TRUE, &push_msg), ==,
                       json_object_get_boolean_member (c, "push_allowed"));
      g_assert_cmpstr (push_msg, ==, json_object_get_string_member_with_default (c, "push_403_body", NULL));
      g_assert_cmpint (morango_scope_gate_transfer (client, server, filter, FALSE, &pull_msg), ==,
                       json_object_get_boolean_member (c, "pull_allowed"));
      g_assert_cmpstr (pull_msg, ==, json_object_get_string_member_with_default (c, "pull_403_body", NULL));
    }
}

static void
test_scope_definition_storage (void)
{
  g_autoptr(GHashTable) defs = load_definitions ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoDb) db = morango_db_open (":memory:", &error);
  g_autoptr(MorangoScopeDefinition) back = NULL;
  MorangoScopeDefinition *su = g_hash_table_lookup (defs, "single-user");

  g_assert_true (morango_scope_definition_save (su, db, &error));
  back = morango_scope_definition_load (db, "single-user", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back->read_filter_template, ==, su->read_filter_template);
  g_assert_cmpstr (back->primary_scope_param_key, ==, "");
  g_assert_cmpint (back->version, ==, su->version);
  g_assert_null (morango_scope_definition_load (db, "nope", &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_UNKNOWN_SCOPE_DEFINITION);
}

static void
test_json_dumps (void)
{
  static const struct { const char *in, *out; } cases[] = {
    { "{\"a\":1,\"b\":[true,false,null],\"c\":\"x\"}", "{\"a\": 1, \"b\": [true, false, null], \"c\": \"x\"}" },
    { "\"\\u00e9t\\u00e9 \\u2603 \\ud83d\\ude00\"", "\"\\u00e9t\\u00e9 \\u2603 \\ud83d\\ude00\"" },
    { "\"tab\\t nl\\n quote\\\" back\\\\ ctl\\u0001 del\x7f\"", "\"tab\\t nl\\n quote\\\" back\\\\ ctl\\u0001 del\x7f\"" },
    { "[1.5, 1.0, 0.1, 1e16, 1e-5, 123456789.125, -2.5e-07, 0.0001]",
      "[1.5, 1.0, 0.1, 1e+16, 1e-05, 123456789.125, -2.5e-07, 0.0001]" },
    { "{\"z\":{},\"a\":[]}", "{\"z\": {}, \"a\": []}" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) node = morango_json_parse (cases[i].in, "case", &error);
      g_autofree char *out = NULL;

      g_assert_no_error (error);
      out = morango_json_dumps (node);
      g_assert_cmpstr (out, ==, cases[i].out);
    }
}

static void
test_json_bad_input (void)
{
  g_autoptr(GError) error = NULL;

  g_assert_null (morango_json_parse_object ("{\"a\": ", "the record", &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "the record"));
  g_clear_error (&error);
  g_assert_null (morango_json_parse_object ("[1]", "scope_params", &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/filters/parse", test_parse);
  g_test_add_func ("/filters/contains", test_contains);
  g_test_add_func ("/filters/subset", test_subset);
  g_test_add_func ("/filters/add-and-equal", test_add_and_equal);
  g_test_add_func ("/filters/scopes", test_scopes);
  g_test_add_func ("/filters/transfer-gate", test_transfer_gate);
  g_test_add_func ("/filters/scope-definition-storage", test_scope_definition_storage);
  g_test_add_func ("/json/dumps", test_json_dumps);
  g_test_add_func ("/json/bad-input", test_json_bad_input);
  return g_test_run ();
}
