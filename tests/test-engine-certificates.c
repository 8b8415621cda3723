/* test-engine-certificates.c: the engine's certificate calls
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <sys/stat.h>

#include "morango-engine-certificates.h"
#include "morango-error.h"
#include "morango-test-util.h"
#include "morango-trust.h"

static void
on_done (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static GAsyncResult *
await (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *slot;
}

static MorangoEngine *
new_engine (char **dir_out)
{
  g_autofree char *dir = morango_test_tmpdir ();
  g_autoptr(GError) error = NULL;
  MorangoEngine *engine = morango_engine_new (dir, NULL, &error);

  g_assert_no_error (error);
  if (dir_out)
    *dir_out = g_steal_pointer (&dir);
  return engine;
}

static GListModel *
list (MorangoEngine *engine)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GListModel *model;

  morango_engine_list_certificates_async (engine, NULL, on_done, &result);
  model = morango_engine_list_certificates_finish (engine, await (&result), &error);
  g_assert_no_error (error);
  return model;
}

static guint
n_certificates (MorangoEngine *engine)
{
  g_autoptr(GListModel) model = list (engine);

  return g_list_model_get_n_items (model);
}

static char *
create_root (MorangoEngine *engine)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  char *id;

  morango_engine_create_root_async (engine, "full-facility", NULL, NULL, on_done, &result);
  id = morango_engine_create_root_finish (engine, await (&result), &error);
  g_assert_no_error (error);
  return id;
}

static GFile *
temp_file (const char *name)
{
  g_autofree char *dir = morango_test_tmpdir ();
  g_autofree char *path = g_build_filename (dir, name, NULL);

  return g_file_new_for_path (path);
}

static void
export_chain (MorangoEngine *engine,
              const char    *id,
              GFile         *file)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  morango_engine_export_chain_async (engine, id, file, NULL, on_done, &result);
  g_assert_true (morango_engine_export_chain_finish (engine, await (&result), &error));
  g_assert_no_error (error);
}

static MorangoEngineChainPreview *
preview (MorangoEngine *engine,
         GFile         *file,
         GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  morango_engine_preview_chain_async (engine, file, NULL, on_done, &result);
  return morango_engine_preview_chain_finish (engine, await (&result), error);
}

static char *
import (MorangoEngine *engine,
        GFile         *file,
        gboolean       trust,
        GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  morango_engine_import_chain_async (engine, file, trust, NULL, on_done, &result);
  return morango_engine_import_chain_finish (engine, await (&result), error);
}

static void
on_changed (MorangoEngine *engine,
            int           *count)
{
  (*count)++;
}

static void
test_list_and_details (void)
{
  g_autoptr(MorangoEngine) engine = new_engine (NULL);
  g_autofree char *id = NULL;
  g_autoptr(GListModel) model = NULL;
  g_autoptr(MorangoEngineCertificate) c = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GPtrArray) defs = NULL;
  g_autoptr(GError) error = NULL;
  int changed = 0;

  g_assert_cmpuint (n_certificates (engine), ==, 0);
  g_signal_connect (engine, "certificates-changed", G_CALLBACK (on_changed), &changed);
  id = create_root (engine);
  while (changed == 0)
    g_main_context_iteration (NULL, TRUE);

  model = list (engine);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 1);
  c = g_list_model_get_item (model, 0);
  g_assert_cmpstr (morango_engine_certificate_get_id (c), ==, id);
  g_assert_null (morango_engine_certificate_get_parent_id (c));
  g_assert_cmpstr (morango_engine_certificate_get_root_id (c), ==, id);
  g_assert_cmpuint (morango_engine_certificate_get_depth (c), ==, 0);
  g_assert_cmpstr (morango_engine_certificate_get_scope_definition (c), ==, "full-facility");
  g_assert_true (morango_engine_certificate_is_trust_anchor (c));
  g_assert_true (morango_engine_certificate_has_private_key (c));
  g_assert_true (g_str_has_prefix (morango_engine_certificate_get_fingerprint (c), "SHA256:") ||
                 strlen (morango_engine_certificate_get_fingerprint (c)) > 10);
  /* The filters are expanded with the root's own id. */
  g_assert_nonnull (morango_engine_certificate_get_read_filter (c));
  g_assert_cmpstr (morango_engine_certificate_get_read_filter (c)[0], ==, id);
  g_assert_cmpstr (morango_engine_certificate_get_write_filter (c)[0], ==, id);
  g_assert_nonnull (strstr (morango_engine_certificate_get_scope_params (c), id));
  g_assert_nonnull (morango_engine_certificate_get_description (c));

  /* Only definitions that can be a root are offered for one. */
  morango_engine_list_root_scopes_async (engine, NULL, on_done, &result);
  defs = morango_engine_list_root_scopes_finish (engine, await (&result), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (defs->len, ==, 1);
  g_assert_cmpstr (((MorangoScopeDefinition *) g_ptr_array_index (defs, 0))->id, ==, "full-facility");
  g_signal_handlers_disconnect_by_data (engine, &changed);
}

static void
test_template_params (void)
{
  MorangoScopeDefinition def = {
    (char *) "x", (char *) "p", 1, (char *) "dataset_id", (char *) "",
    (char *) "${dataset_id}:a:${user_id}\n${user_id}", (char *) "${b}", (char *) "${dataset_id}",
  };
  g_auto(GStrv) names = morango_engine_scope_definition_get_params (&def);

  g_assert_cmpuint (g_strv_length (names), ==, 2);
  g_assert_cmpstr (names[0], ==, "user_id");
  g_assert_cmpstr (names[1], ==, "b");
}

static void
test_preview_and_import (void)
{
  g_autoptr(MorangoEngine) a = new_engine (NULL);
  g_autoptr(MorangoEngine) b = new_engine (NULL);
  g_autoptr(GFile) file = temp_file ("chain.json");
  g_autoptr(MorangoEngineChainPreview) p = NULL;
  g_autoptr(MorangoEngineChainPreview) again = NULL;
  g_autoptr(GListModel) model = NULL;
  g_autoptr(MorangoEngineCertificate) c = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *id = create_root (a);
  g_autofree char *imported = NULL;
  g_autofree char *fingerprint = NULL;

  export_chain (a, id, file);
  {
    g_autoptr(GListModel) in_a = list (a);
    g_autoptr(MorangoEngineCertificate) root = g_list_model_get_item (in_a, 0);

    fingerprint = g_strdup (morango_engine_certificate_get_fingerprint (root));
  }

  /* What would be trusted, with why a plain import is refused, and
   * nothing stored. */
  p = preview (b, file, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (morango_engine_chain_preview_get_root_id (p), ==, id);
  g_assert_cmpstr (morango_engine_chain_preview_get_last_id (p), ==, id);
  g_assert_cmpstr (morango_engine_chain_preview_get_root_fingerprint (p), ==, fingerprint);
  g_assert_cmpstr (morango_engine_chain_preview_get_root_scope_definition (p), ==, "full-facility");
  g_assert_false (morango_engine_chain_preview_is_root_trusted (p));
  g_assert_nonnull (strstr (morango_engine_chain_preview_get_untrusted_reason (p), "does not trust"));
  g_assert_cmpuint (morango_engine_chain_preview_get_n_new (p), ==, 1);
  g_assert_cmpuint (g_list_model_get_n_items (morango_engine_chain_preview_get_certificates (p)), ==, 1);
  g_assert_cmpuint (n_certificates (b), ==, 0);

  /* `cert import` of an untrusted root: refused, nothing stored. */
  imported = import (b, file, FALSE, &error);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_UNTRUSTED);
  g_assert_null (imported);
  g_clear_error (&error);
  g_assert_cmpuint (n_certificates (b), ==, 0);

  /* `cert trust`. */
  imported = import (b, file, TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (imported, ==, id);
  model = list (b);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 1);
  c = g_list_model_get_item (model, 0);
  g_assert_true (morango_engine_certificate_is_trust_anchor (c));
  g_assert_false (morango_engine_certificate_has_private_key (c));

  again = preview (b, file, &error);
  g_assert_no_error (error);
  g_assert_true (morango_engine_chain_preview_is_root_trusted (again));
  g_assert_null (morango_engine_chain_preview_get_untrusted_reason (again));
  g_assert_cmpuint (morango_engine_chain_preview_get_n_new (again), ==, 0);
}

static void
test_bad_files (void)
{
  g_autoptr(MorangoEngine) engine = new_engine (NULL);
  g_autoptr(GFile) garbage = temp_file ("garbage.json");
  g_autoptr(GFile) missing = temp_file ("missing.json");
  g_autoptr(GFile) backup = temp_file ("backup.json");
  g_autoptr(GError) error = NULL;
  g_autofree char *id = create_root (engine);
  const char *bad[] = { "{ not json", "[]", "[1, 2]", "{\"id\": 3}", "\"x\"" };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(MorangoEngineChainPreview) p = NULL;
      g_autofree char *imported = NULL;

      g_assert_true (g_file_replace_contents (garbage, bad[i], strlen (bad[i]), NULL, FALSE, 0, NULL, NULL, &error));
      g_assert_no_error (error);
      p = preview (engine, garbage, &error);
      g_assert_null (p);
      g_assert_nonnull (error);
      g_test_message ("%s: %s", bad[i], error->message);
      g_clear_error (&error);
      imported = import (engine, garbage, TRUE, &error);
      g_assert_null (imported);
      g_assert_nonnull (error);
      g_clear_error (&error);
    }
  g_assert_null (preview (engine, missing, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* Far too big to be a chain: not even read. */
  {
    g_autofree char *huge = g_strnfill (2 * 1024 * 1024, ' ');
    g_autofree char *imported = NULL;

    g_assert_true (g_file_replace_contents (garbage, huge, strlen (huge), NULL, FALSE, 0, NULL, NULL, &error));
    g_assert_no_error (error);
    g_assert_null (preview (engine, garbage, &error));
    g_assert_nonnull (strstr (error->message, "too big"));
    g_clear_error (&error);
    imported = import (engine, garbage, TRUE, &error);
    g_assert_null (imported);
    g_assert_nonnull (strstr (error->message, "too big"));
    g_clear_error (&error);
  }

  /* A backup is said to be one. */
  {
    g_autoptr(GAsyncResult) result = NULL;

    morango_engine_backup_certificate_async (engine, id, "pass word", backup, NULL, on_done, &result);
    g_assert_true (morango_engine_backup_certificate_finish (engine, await (&result), &error));
    g_assert_no_error (error);
  }
  g_assert_null (preview (engine, backup, &error));
  g_assert_nonnull (strstr (error->message, "is a certificate backup"));
  g_clear_error (&error);
  g_assert_cmpuint (n_certificates (engine), ==, 1);
}

static void
test_backup_restore (void)
{
  g_autoptr(MorangoEngine) a = new_engine (NULL);
  g_autoptr(MorangoEngine) b = new_engine (NULL);
  g_autoptr(GFile) file = temp_file ("backup.json");
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GListModel) model = NULL;
  g_autoptr(MorangoEngineCertificate) c = NULL;
  g_autofree char *id = create_root (a);
  g_autofree char *restored = NULL;
  g_autofree char *path = g_file_get_path (file);
  struct stat st;

  morango_engine_backup_certificate_async (a, id, "correct horse", file, NULL, on_done, &result);
  g_assert_true (morango_engine_backup_certificate_finish (a, await (&result), &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_cmpint (stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  morango_engine_restore_certificate_async (b, file, "wrong horse", NULL, on_done, &result);
  restored = morango_engine_restore_certificate_finish (b, await (&result), &error);
  g_assert_null (restored);
  g_assert_nonnull (error);
  g_test_message ("wrong passphrase: %s", error->message);
  g_clear_error (&error);
  g_clear_object (&result);
  g_assert_cmpuint (n_certificates (b), ==, 0);

  morango_engine_restore_certificate_async (b, file, "correct horse", NULL, on_done, &result);
  restored = morango_engine_restore_certificate_finish (b, await (&result), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (restored, ==, id);
  model = list (b);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 1);
  c = g_list_model_get_item (model, 0);
  g_assert_true (morango_engine_certificate_has_private_key (c));
  g_assert_true (morango_engine_certificate_is_trust_anchor (c));
}

/* A root held but no longer trusted is no trust anchor, and its
 * chain says so. */
static void
test_untrusted_root (void)
{
  g_autofree char *dir = NULL;
  g_autoptr(MorangoEngine) engine = new_engine (&dir);
  g_autofree char *id = create_root (engine);
  g_autoptr(GListModel) model = NULL;
  g_autoptr(MorangoEngineCertificate) c = NULL;
  g_autoptr(GError) error = NULL;

  {
    g_autoptr(MorangoStore) store = morango_test_open_server_folder (dir);

    g_assert_true (morango_trust_remove_root (morango_store_get_db (store), id, &error));
    g_assert_no_error (error);
  }
  model = list (engine);
  c = g_list_model_get_item (model, 0);
  g_assert_cmpstr (morango_engine_certificate_get_id (c), ==, id);
  g_assert_false (morango_engine_certificate_is_trust_anchor (c));
  g_assert_false (morango_engine_certificate_is_root_trusted (c));
  g_assert_true (morango_engine_certificate_has_private_key (c));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine-certificates/list-and-details", test_list_and_details);
  g_test_add_func ("/engine-certificates/template-params", test_template_params);
  g_test_add_func ("/engine-certificates/preview-and-import", test_preview_and_import);
  g_test_add_func ("/engine-certificates/bad-files", test_bad_files);
  g_test_add_func ("/engine-certificates/backup-restore", test_backup_restore);
  g_test_add_func ("/engine-certificates/untrusted-root", test_untrusted_root);
  return g_test_run ();
}
