/* morango-test-util.c
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <glib/gstdio.h>
#include <stdlib.h>

#include "morango-account.h"
#include "morango-json.h"
#include "morango-test-util.h"

JsonNode *
morango_test_load_vectors (const char *file)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "vectors", file, NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  return json_node_ref (json_parser_get_root (parser));
}

GPtrArray *
morango_test_vector_cases (const char *file,
                           const char *kind)
{
  g_autoptr(JsonNode) root = morango_test_load_vectors (file);
  JsonArray *cases = json_object_get_array_member (json_node_get_object (root), "cases");
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);

  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      if (g_strcmp0 (json_object_get_string_member (c, "kind"), kind) == 0)
        g_ptr_array_add (out, json_object_ref (c));
    }
  g_assert_cmpuint (out->len, >, 0);
  return out;
}

gboolean
morango_test_json_equal (JsonNode *a,
                         JsonNode *b)
{
  if (a == NULL || b == NULL)
    return a == b;
  if (JSON_NODE_TYPE (a) != JSON_NODE_TYPE (b))
    {
      /* 1 and 1.0 are the same number to Python. */
      return FALSE;
    }
  switch (JSON_NODE_TYPE (a))
    {
    case JSON_NODE_NULL:
      return TRUE;
    case JSON_NODE_VALUE:
      if (json_node_get_value_type (a) == G_TYPE_STRING || json_node_get_value_type (b) == G_TYPE_STRING)
        return json_node_get_value_type (a) == json_node_get_value_type (b) &&
               g_strcmp0 (json_node_get_string (a), json_node_get_string (b)) == 0;
      if (json_node_get_value_type (a) == G_TYPE_BOOLEAN || json_node_get_value_type (b) == G_TYPE_BOOLEAN)
        return json_node_get_value_type (a) == json_node_get_value_type (b) &&
               json_node_get_boolean (a) == json_node_get_boolean (b);
      return json_node_get_double (a) == json_node_get_double (b);
    case JSON_NODE_ARRAY:
      {
        JsonArray *x = json_node_get_array (a), *y = json_node_get_array (b);
        if (json_array_get_length (x) != json_array_get_length (y))
          return FALSE;
        for (guint i = 0; i < json_array_get_length (x); i++)
          if (!morango_test_json_equal (json_array_get_element (x, i), json_array_get_element (y, i)))
            return FALSE;
        return TRUE;
      }
    case JSON_NODE_OBJECT:
      {
        JsonObject *x = json_node_get_object (a), *y = json_node_get_object (b);
        g_autoptr(GList) members = json_object_get_members (x);
        if (json_object_get_size (x) != json_object_get_size (y))
          return FALSE;
        for (GList *l = members; l; l = l->next)
          if (!json_object_has_member (y, l->data) ||
              !morango_test_json_equal (json_object_get_member (x, l->data),
                                        json_object_get_member (y, l->data)))
            return FALSE;
        return TRUE;
      }
    default:
      return FALSE;
    }
}

char *
morango_test_json_to_string (JsonNode *node)
{
  return json_to_string (node, FALSE);
}

void
morango_test_assert_json_text_equal (const char *actual,
                                     const char *expected)
{
  g_autoptr(JsonNode) a = json_from_string (actual, NULL);
  g_autoptr(JsonNode) e = json_from_string (expected, NULL);

  if (a == NULL || e == NULL || !morango_test_json_equal (a, e))
    g_error ("JSON differs:\n  actual:   %s\n  expected: %s", actual, expected);
}

guint64
morango_test_seed (guint64 fallback)
{
  const char *env = g_getenv ("MORANGO_TEST_SEED");
  guint64 seed = fallback;

  if (env != NULL && *env != '\0')
    seed = g_ascii_strtoull (env, NULL, 10);
  g_test_message ("seed %" G_GUINT64_FORMAT " (repeat with MORANGO_TEST_SEED=%" G_GUINT64_FORMAT ")",
                  seed, seed);
  return seed;
}

static GPtrArray *tmpdirs;

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL)
    while ((name = g_dir_read_name (dir)) != NULL)
      {
        g_autofree char *child = g_build_filename (path, name, NULL);
        if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
          remove_tree (child);
        else
          g_unlink (child);
      }
  g_rmdir (path);
}

static void
cleanup_tmpdirs (void)
{
  for (guint i = 0; tmpdirs && i < tmpdirs->len; i++)
    remove_tree (g_ptr_array_index (tmpdirs, i));
  g_clear_pointer (&tmpdirs, g_ptr_array_unref);
}

char *
morango_test_tmpdir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("morango-test-XXXXXX", &error);

  g_assert_no_error (error);
  if (tmpdirs == NULL)
    {
      tmpdirs = g_ptr_array_new_with_free_func (g_free);
      atexit (cleanup_tmpdirs);
    }
  g_ptr_array_add (tmpdirs, g_strdup (dir));
  return dir;
}

G_DEFINE_QUARK (morango-test-error-quark, morango_test_error)

typedef struct {
  char          *point;
  gint64         after;
  volatile gint  fired;
} FailAt;

static void
fail_at_free (gpointer data)
{
  FailAt *f = data;

  g_free (f->point);
  g_free (f);
}

static gboolean
fail_at_hook (MorangoMonitor  *monitor,
              const char      *point,
              gint64           done,
              gpointer         user_data,
              GError         **error)
{
  FailAt *f = user_data;

  if (!g_str_equal (point, f->point) || done < f->after ||
      !g_atomic_int_compare_and_exchange (&f->fired, 0, 1))
    return TRUE;
  g_set_error (error, MORANGO_TEST_ERROR, MORANGO_TEST_ERROR_INJECTED,
               "Failure injected at %s after %" G_GINT64_FORMAT " records", point, done);
  return FALSE;
}

void
morango_test_monitor_fail_at (MorangoMonitor *monitor,
                              const char     *point,
                              gint64          after)
{
  FailAt *f;

  if (point == NULL)
    {
      morango_monitor_set_fault_func (monitor, NULL, NULL, NULL);
      return;
    }
  f = g_new0 (FailAt, 1);
  f->point = g_strdup (point);
  f->after = after;
  morango_monitor_set_fault_func (monitor, fail_at_hook, f, fail_at_free);
}

MorangoMonitor *
morango_test_monitor_failing_at (const char *point,
                                 gint64      after)
{
  MorangoMonitor *monitor = morango_monitor_new (NULL);

  morango_test_monitor_fail_at (monitor, point, after);
  return monitor;
}

static gboolean
cancel_in_statement_hook (MorangoMonitor  *monitor,
                          const char      *point,
                          gint64           done,
                          gpointer         user_data,
                          GError         **error)
{
  int *looks = user_data;

  if (g_str_equal (point, "statement"))
    {
      if (looks != NULL)
        (*looks)++;
      morango_monitor_cancel (monitor);
    }
  return TRUE;
}

void
morango_test_monitor_cancel_in_statement (MorangoMonitor *monitor,
                                          int            *looks)
{
  morango_monitor_set_fault_func (monitor, cancel_in_statement_hook, looks, NULL);
}

MorangoCertificate *
morango_test_forge (const char *id,
                    const char *parent_id,
                    const char *profile,
                    const char *salt,
                    const char *scope_def,
                    const char *params,
                    MorangoKey *key,
                    MorangoKey *signer)
{
  g_autoptr(JsonObject) o = json_object_new ();
  g_autofree char *computed = morango_certificate_compute_id (morango_key_get_public_string (key), profile, salt);
  g_autofree char *text = NULL;
  g_autofree char *sig = NULL;
  g_autoptr(GError) error = NULL;
  MorangoCertificate *c;

  json_object_set_string_member (o, "id", id ? id : computed);
  if (parent_id)
    json_object_set_string_member (o, "parent_id", parent_id);
  else
    json_object_set_null_member (o, "parent_id");
  json_object_set_string_member (o, "profile", profile);
  json_object_set_string_member (o, "salt", salt);
  json_object_set_string_member (o, "scope_definition_id", scope_def);
  json_object_set_int_member (o, "scope_version", 1);
  json_object_set_string_member (o, "scope_params", params);
  json_object_set_string_member (o, "public_key_string", morango_key_get_public_string (key));
  text = morango_json_dumps_object (o);
  sig = morango_key_sign (signer, text, -1, &error);
  g_assert_no_error (error);
  c = morango_certificate_new_from_serialized (text, sig, &error);
  g_assert_no_error (error);
  return c;
}

MorangoStore *
morango_test_open_server_folder (const char *dir)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoHostInfo) host = morango_host_info_new ("test-server-system", "test-server-node");
  g_autoptr(MorangoRandom) random = morango_random_new_secure ();
  MorangoStore *store = morango_store_open_folder (dir, NULL, host, random, &error);

  g_assert_no_error (error);
  return store;
}

void
morango_test_seed_nonce (MorangoStore *store,
                         const char   *id,
                         gint64        now_usec)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDateTime) second = g_date_time_new_from_unix_utc (now_usec / G_USEC_PER_SEC);
  g_autoptr(GDateTime) exact = g_date_time_add (second, now_usec % G_USEC_PER_SEC);
  g_autofree char *stamp = g_date_time_format (exact, "%Y-%m-%dT%H:%M:%S.%fZ");

  g_assert_true (morango_db_execute (morango_store_get_db (store), &error,
                                     "INSERT INTO morango_nonce (id, timestamp, ip) VALUES (?, ?, '127.0.0.1')",
                                     "ss", id, stamp));
  g_assert_no_error (error);
}

/* Drops GLib's warning that no notification service answered; every
 * other warning is written and stops the test, as g_test_init() makes
 * warnings do (GLib's own fatal check cannot be told to spare one
 * message: it is taken off for warnings and done here instead). */
static GLogWriterOutput
write_log (GLogLevelFlags   log_level,
           const GLogField *fields,
           gsize            n_fields,
           gpointer         user_data)
{
  const char *domain = NULL, *message = NULL;
  GLogWriterOutput out;

  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "GLIB_DOMAIN"))
      domain = fields[i].value;
    else if (g_str_equal (fields[i].key, "MESSAGE"))
      message = fields[i].value;
  if (g_strcmp0 (domain, "GLib-GIO") == 0 && message != NULL &&
      strstr (message, "unable to send notifications") != NULL)
    return G_LOG_WRITER_HANDLED;
  out = g_log_writer_default (log_level, fields, n_fields, user_data);
  if (log_level & G_LOG_LEVEL_WARNING)
    G_BREAKPOINT ();
  return out;
}

void
morango_test_allow_missing_notifications (void)
{
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_log_set_writer_func (write_log, NULL, NULL);
}

gboolean
morango_test_add_summary_logs (MorangoApp  *app,
                               const char  *dataset,
                               const char  *user_id,
                               gint64       n,
                               GError     **error)
{
  for (gint64 i = 0; i < n; i++)
    {
      g_autoptr(JsonObject) log = json_object_new ();
      g_autofree char *content = g_strdup_printf ("%032" G_GINT64_MODIFIER "x", i);

      json_object_set_string_member (log, "dataset_id", dataset);
      json_object_set_string_member (log, "user_id", user_id);
      json_object_set_string_member (log, "content_id", content);
      json_object_set_string_member (log, "kind", "video");
      json_object_set_double_member (log, "progress", (i % 101) / 100.0);
      json_object_set_double_member (log, "time_spent", (double) (i % 977));
      if (!morango_app_create (app, "contentsummarylog", log, NULL, error))
        return FALSE;
    }
  return TRUE;
}

void
morango_test_fill_school (const char *dir,
                          gint64      n,
                          const char *admin_password)
{
  static const char * const all[] = { MORANGO_ACCOUNT_ALL_SCOPES, NULL };
  g_autoptr(MorangoHostInfo) host = morango_host_info_new_from_system ();
  g_autoptr(MorangoRandom) random = morango_random_new_secure ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = morango_store_open_folder (dir, "kolibri-like", host, random, &error);
  g_autoptr(MorangoCertificate) root = NULL;
  g_autoptr(MorangoTransaction) tx = NULL;
  g_autoptr(JsonObject) facility = json_object_new ();
  g_autoptr(JsonObject) user = json_object_new ();
  g_autofree char *facility_id = NULL, *user_id = NULL;
  MorangoDb *db;
  MorangoApp *app;
  const char *dataset;

  g_assert_no_error (error);
  db = morango_store_get_db (store);
  app = morango_store_get_app (store);
  root = morango_certificate_create_root (db, "full-facility", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (morango_account_set_password (db, random, MORANGO_ACCOUNT_ADMIN, admin_password, all, &error));
  g_assert_no_error (error);
  dataset = morango_certificate_get_id (root);
  tx = morango_transaction_begin (db, NULL, &error);
  g_assert_no_error (error);
  json_object_set_string_member (facility, "dataset_id", dataset);
  json_object_set_string_member (facility, "name", "Test school");
  g_assert_true (morango_app_create (app, "facility", facility, &facility_id, &error));
  g_assert_no_error (error);
  json_object_set_string_member (user, "dataset_id", dataset);
  json_object_set_string_member (user, "facility_id", facility_id);
  json_object_set_string_member (user, "username", "learner");
  json_object_set_string_member (user, "full_name", "A learner");
  g_assert_true (morango_app_create (app, "facilityuser", user, &user_id, &error));
  g_assert_no_error (error);
  g_assert_true (morango_test_add_summary_logs (app, dataset, user_id, n, &error));
  g_assert_no_error (error);
  g_assert_true (morango_transaction_commit (tx, &error));
  g_assert_no_error (error);
}
