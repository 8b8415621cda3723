/* test-ui-certificates.c: the Certificates page and its dialogs, and
 * `morango-sync FILE.json`
 *
 * Runs under xvfb-run and dbus-run-session (see scripts/run-tests.sh).
 * The file choosers are skipped: the page's actions take a path.
 *
 * SPDX-License-Identifier: MIT
 */
#include <signal.h>
#include <string.h>

#include "morango-certificate.h"
#include "morango-certificates-page.h"
#include "morango-chain.h"
#include "morango-create-root-dialog.h"
#include "morango-engine-certificates.h"
#include "morango-import-dialog.h"
#include "morango-passphrase-dialog.h"
#include "morango-test-util.h"
#include "morango-ui-test-util.h"
#include "morango-window.h"

/* ------------------------------------------------------------------ */
/* Folders, windows and waiting */

static MorangoStore *
open_folder (const char *dir)
{
  g_autoptr(MorangoHostInfo) host = morango_host_info_new_from_system ();
  g_autoptr(MorangoRandom) random = morango_random_new_secure ();
  g_autoptr(GError) error = NULL;
  MorangoStore *store = morango_store_open_folder (dir, NULL, host, random, &error);

  g_assert_no_error (error);
  return store;
}

/* A folder holding a root of its own; its id in *@root_id. */
static char *
folder_with_root (char **root_id)
{
  g_autofree char *dir = morango_test_tmpdir ();
  g_autoptr(MorangoStore) store = open_folder (dir);
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoCertificate) root = morango_certificate_create_root (morango_store_get_db (store),
                                                                        "full-facility", NULL, NULL, &error);

  g_assert_no_error (error);
  *root_id = g_strdup (morango_certificate_get_id (root));
  return g_steal_pointer (&dir);
}

/* A chain file of a root and a learner's certificate under it, made in
 * a folder of its own (so a root this device does not trust); the
 * root's id and fingerprint in *@root_id and *@fingerprint. */
static char *
chain_file (char **root_id,
            char **fingerprint)
{
  g_autofree char *dir = NULL;
  g_autofree char *out = morango_test_tmpdir ();
  g_autofree char *path = g_build_filename (out, "school-chain.json", NULL);
  g_autoptr(MorangoStore) store = NULL;
  g_autoptr(MorangoCertificate) root = NULL;
  g_autoptr(MorangoCertificate) child = NULL;
  g_autoptr(MorangoKey) key = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *params = NULL;
  g_autofree char *text = NULL;
  g_autofree char *id = NULL;

  dir = folder_with_root (&id);
  store = open_folder (dir);
  root = morango_certificate_load (morango_store_get_db (store), id, &error);
  g_assert_no_error (error);
  key = morango_key_generate (&error);
  g_assert_no_error (error);
  params = g_strdup_printf ("{\"dataset_id\": \"%s\", \"user_id\": \"0123456789abcdef0123456789abcdef\"}", id);
  child = morango_certificate_issue (morango_store_get_db (store), root, "single-user", -1, params, key, NULL,
                                     &error);
  g_assert_no_error (error);
  g_assert_true (morango_certificate_save (child, morango_store_get_db (store), &error));
  g_assert_no_error (error);
  text = morango_certificate_chain_export_text (morango_store_get_db (store), morango_certificate_get_id (child),
                                                &error);
  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (path, text, -1, &error));
  g_assert_no_error (error);
  *root_id = g_steal_pointer (&id);
  *fingerprint = morango_key_get_fingerprint (morango_certificate_get_key (root));
  return g_steal_pointer (&path);
}

/* The subtitle of the mapped AdwActionRow titled @title under @widget. */
static const char *
row_subtitle (GtkWidget  *widget,
              const char *title)
{
  g_autoptr(GPtrArray) rows = g_ptr_array_new ();

  morango_ui_test_collect (widget, ADW_TYPE_ACTION_ROW, rows);
  for (guint i = 0; i < rows->len; i++)
    {
      AdwPreferencesRow *row = g_ptr_array_index (rows, i);

      if (g_str_equal (adw_preferences_row_get_title (row), title) && gtk_widget_get_visible (GTK_WIDGET (row)))
        return adw_action_row_get_subtitle (ADW_ACTION_ROW (row));
    }
  return NULL;
}

static void
drain (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* Until the page has shown the engine's latest reading and no
 * operation runs. */
static void
await_idle (MorangoCertificatesPage *page)
{
  while (morango_certificates_page_get_loading (page) || morango_certificates_page_get_busy (page))
    g_main_context_iteration (NULL, TRUE);
  drain ();
}

/* Until the page shows a dialog (or has nothing left to do). */
static AdwMessageDialog *
await_dialog (MorangoCertificatesPage *page)
{
  while (morango_certificates_page_get_dialog (page) == NULL && morango_certificates_page_get_busy (page))
    g_main_context_iteration (NULL, TRUE);
  drain ();
  return morango_certificates_page_get_dialog (page);
}

static AdwApplication *
test_app (void)
{
  static guint n;
  g_autofree char *id = g_strdup_printf ("org.morango.Sync.CertificatesTest%u", n++);
  AdwApplication *app = adw_application_new (id, G_APPLICATION_NON_UNIQUE);
  g_autoptr(GError) error = NULL;

  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_assert_no_error (error);
  return app;
}

typedef struct {
  AdwApplication          *app;
  MorangoWindow           *window;
  MorangoCertificatesPage *page;
} Fixture;

static void
fixture_open (Fixture    *f,
              const char *dir)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoEngine) engine = morango_engine_new (dir, NULL, &error);

  g_assert_no_error (error);
  f->app = test_app ();
  f->window = morango_window_new (f->app, engine);
  morango_window_set_page (f->window, "certificates");
  gtk_window_present (GTK_WINDOW (f->window));
  f->page = MORANGO_CERTIFICATES_PAGE (morango_ui_test_find_widget (GTK_WIDGET (f->window), MORANGO_TYPE_CERTIFICATES_PAGE));
  await_idle (f->page);
}

static void
fixture_close (Fixture *f)
{
  gtk_window_destroy (GTK_WINDOW (f->window));
  drain ();
  g_clear_object (&f->app);
}

static guint
n_listed (Fixture *f)
{
  return g_list_model_get_n_items (morango_certificates_page_get_certificates (f->page));
}

/* What the engine holds, read apart from the page. */
static guint
n_stored (const char *dir)
{
  g_autoptr(MorangoStore) store = open_folder (dir);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) all = morango_certificate_list (morango_store_get_db (store), &error);

  g_assert_no_error (error);
  return all->len;
}

static void
activate_with_path (Fixture    *f,
                    const char *action,
                    const char *path)
{
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->page), action, "s", path));
}

/* An error dialog is there, saying @text; closed. */
static void
assert_refused (Fixture    *f,
                const char *text)
{
  AdwMessageDialog *dialog = await_dialog (f->page);

  g_assert_nonnull (dialog);
  g_test_message ("refused: %s", adw_message_dialog_get_body (dialog));
  g_assert_nonnull (strstr (adw_message_dialog_get_body (dialog), text));
  g_assert_nonnull (strstr (morango_certificates_page_get_last_error (f->page), text));
  adw_message_dialog_response (dialog, "close");
  g_assert_null (morango_certificates_page_get_dialog (f->page));
  await_idle (f->page);
}

/* ------------------------------------------------------------------ */
/* Screenshots (as test-ui.c takes them) */

/* ------------------------------------------------------------------ */
/* The tests */

static void
test_empty_state (void)
{
  g_autofree char *dir = morango_test_tmpdir ();
  Fixture f = { 0 };
  AdwStatusPage *empty;

  fixture_open (&f, dir);
  empty = ADW_STATUS_PAGE (morango_ui_test_find_widget (GTK_WIDGET (f.page), ADW_TYPE_STATUS_PAGE));
  g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (empty)));
  g_assert_cmpstr (adw_status_page_get_title (empty), ==, "No Certificates Yet");
  g_assert_nonnull (strstr (adw_status_page_get_description (empty), "Create a root"));
  g_assert_nonnull (strstr (adw_status_page_get_description (empty), "import"));
  g_assert_nonnull (strstr (adw_status_page_get_description (empty), "Pair"));
  g_assert_cmpuint (n_listed (&f), ==, 0);
  morango_ui_test_save_screenshot (GTK_WIDGET (f.window), "certificates-empty.png");

  /* Its pairing button leads to the Peers page. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f.page), "certificates.show-peers", NULL));
  g_assert_cmpstr (morango_window_get_page (f.window), ==, "peers");
  fixture_close (&f);
}

/* The folder holds a root: the page lists it, with its details. */
static void
test_lists_root (void)
{
  g_autofree char *id = NULL;
  g_autofree char *dir = folder_with_root (&id);
  g_autofree char *fingerprint = NULL;
  Fixture f = { 0 };
  GtkWidget *empty;
  const char *scope;

  {
    g_autoptr(MorangoStore) store = open_folder (dir);
    g_autoptr(MorangoCertificate) root = morango_certificate_load (morango_store_get_db (store), id, NULL);

    fingerprint = morango_key_get_fingerprint (morango_certificate_get_key (root));
  }
  fixture_open (&f, dir);
  empty = morango_ui_test_find_widget (GTK_WIDGET (f.page), ADW_TYPE_STATUS_PAGE);
  g_assert_false (gtk_widget_get_mapped (empty));
  g_assert_cmpuint (n_listed (&f), ==, 1);
  g_assert_cmpstr (morango_certificates_page_get_selected_id (f.page), ==, id);
  /* The row says it is a trusted root with its key here. */
  g_assert_cmpstr (row_subtitle (GTK_WIDGET (f.page), "Certificate ID"), ==, id);
  g_assert_cmpstr (row_subtitle (GTK_WIDGET (f.page), "Key Fingerprint"), ==, fingerprint);
  scope = row_subtitle (GTK_WIDGET (f.page), "Scope");
  g_assert_nonnull (scope);
  g_assert_true (g_str_has_prefix (scope, "full-facility"));
  g_assert_cmpstr (row_subtitle (GTK_WIDGET (f.page), "Private Key"), ==, "Held on this device");
  g_assert_cmpstr (row_subtitle (GTK_WIDGET (f.page), "Reads"), ==, id);
  g_assert_nonnull (strstr (row_subtitle (GTK_WIDGET (f.page), "Root"), "(trusted)"));
  fixture_close (&f);
}

/* While the list is read, the page does not claim there is nothing. */
static void
test_never_looks_empty (void)
{
  g_autofree char *id = NULL;
  g_autofree char *dir = folder_with_root (&id);
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoEngine) engine = morango_engine_new (dir, NULL, &error);
  g_autoptr(AdwApplication) app = test_app ();
  MorangoWindow *window;
  MorangoCertificatesPage *page;
  GtkWidget *empty;
  gboolean seen_loading = FALSE;

  g_assert_no_error (error);
  window = morango_window_new (app, engine);
  morango_window_set_page (window, "certificates");
  gtk_window_present (GTK_WINDOW (window));
  page = MORANGO_CERTIFICATES_PAGE (morango_ui_test_find_widget (GTK_WIDGET (window), MORANGO_TYPE_CERTIFICATES_PAGE));
  empty = morango_ui_test_find_widget (GTK_WIDGET (page), ADW_TYPE_STATUS_PAGE);
  while (morango_certificates_page_get_loading (page))
    {
      seen_loading = TRUE;
      g_assert_false (gtk_widget_get_mapped (empty));
      g_main_context_iteration (NULL, TRUE);
    }
  g_assert_true (seen_loading);
  drain ();
  g_assert_false (gtk_widget_get_mapped (empty));
  g_assert_cmpuint (g_list_model_get_n_items (morango_certificates_page_get_certificates (page)), ==, 1);
  gtk_window_destroy (GTK_WINDOW (window));
  drain ();
}

/* Import shows what the file holds and what becomes trusted; only the
 * confirmation stores it. */
static void
test_import_confirm (void)
{
  g_autofree char *own = NULL, *root_id = NULL, *fingerprint = NULL;
  g_autofree char *dir = folder_with_root (&own);
  g_autofree char *file = chain_file (&root_id, &fingerprint);
  Fixture f = { 0 };
  AdwMessageDialog *dialog;
  MorangoEngineChainPreview *preview;

  fixture_open (&f, dir);
  activate_with_path (&f, "certificates.import", file);
  dialog = await_dialog (f.page);
  g_assert_true (MORANGO_IS_IMPORT_DIALOG (dialog));
  preview = morango_import_dialog_get_preview (MORANGO_IMPORT_DIALOG (dialog));
  g_assert_cmpuint (g_list_model_get_n_items (morango_engine_chain_preview_get_certificates (preview)), ==, 2);
  g_assert_true (morango_import_dialog_get_trusts_root (MORANGO_IMPORT_DIALOG (dialog)));
  /* What will become trusted, shown. */
  g_assert_cmpstr (row_subtitle (GTK_WIDGET (dialog), "Root certificate"), ==, root_id);
  g_assert_cmpstr (row_subtitle (GTK_WIDGET (dialog), "Key fingerprint"), ==, fingerprint);
  g_assert_nonnull (strstr (adw_message_dialog_get_body (dialog), "does not trust"));
  g_assert_nonnull (strstr (adw_message_dialog_get_body (dialog), "2 certificates"));
  morango_ui_test_save_screenshot (GTK_WIDGET (dialog), "certificates-import-dialog.png");
  /* Nothing is stored before the answer. */
  g_assert_cmpuint (n_stored (dir), ==, 1);

  adw_message_dialog_response (dialog, "import");
  g_assert_null (morango_certificates_page_get_dialog (f.page));
  await_idle (f.page);
  /* Until listed, or refused (then the assertions below fail). */
  while (n_listed (&f) < 3 && morango_certificates_page_get_dialog (f.page) == NULL)
    {
      g_main_context_iteration (NULL, TRUE);
      await_idle (f.page);
    }
  g_assert_cmpuint (n_stored (dir), ==, 3);
  g_assert_cmpuint (n_listed (&f), ==, 3);
  {
    g_autoptr(MorangoEngineCertificate) imported_root = g_list_model_get_item (
        morango_certificates_page_get_certificates (f.page), 1);
    g_autoptr(MorangoEngineCertificate) leaf = g_list_model_get_item (
        morango_certificates_page_get_certificates (f.page), 2);

    g_assert_cmpstr (morango_engine_certificate_get_id (imported_root), ==, root_id);
    g_assert_true (morango_engine_certificate_is_trust_anchor (imported_root));
    g_assert_false (morango_engine_certificate_has_private_key (imported_root));
    g_assert_cmpuint (morango_engine_certificate_get_depth (leaf), ==, 1);
    /* The imported certificate is the one shown. */
    g_assert_cmpstr (morango_certificates_page_get_selected_id (f.page), ==,
                     morango_engine_certificate_get_id (leaf));
  }
  g_assert_cmpstr (row_subtitle (GTK_WIDGET (f.page), "Issuer"), ==, root_id);
  g_assert_cmpstr (row_subtitle (GTK_WIDGET (f.page), "Private Key"), ==, "Not on this device");

  /* The page with a root of its own and the imported chain. */
  gtk_window_set_default_size (GTK_WINDOW (f.window), 900, 620);
  morango_ui_test_save_screenshot (GTK_WIDGET (f.window), "certificates-page.png");
  fixture_close (&f);
}

static void
test_import_cancel (void)
{
  g_autofree char *own = NULL, *root_id = NULL, *fingerprint = NULL;
  g_autofree char *dir = folder_with_root (&own);
  g_autofree char *file = chain_file (&root_id, &fingerprint);
  Fixture f = { 0 };
  AdwMessageDialog *dialog;

  fixture_open (&f, dir);
  activate_with_path (&f, "certificates.import", file);
  dialog = await_dialog (f.page);
  g_assert_true (MORANGO_IS_IMPORT_DIALOG (dialog));
  adw_message_dialog_response (dialog, "cancel");
  g_assert_null (morango_certificates_page_get_dialog (f.page));
  await_idle (f.page);
  g_assert_cmpuint (n_stored (dir), ==, 1);
  g_assert_cmpuint (n_listed (&f), ==, 1);
  fixture_close (&f);
}

/* Files that hold no acceptable chain: their error, nothing stored. */
static void
test_import_refused (void)
{
  g_autofree char *own = NULL;
  g_autofree char *dir = folder_with_root (&own);
  g_autofree char *tmp = morango_test_tmpdir ();
  g_autofree char *garbage = g_build_filename (tmp, "garbage.json", NULL);
  g_autofree char *forged = g_build_filename (tmp, "forged.json", NULL);
  g_autofree char *backup = g_build_filename (tmp, "backup.json", NULL);
  g_autofree char *missing = g_build_filename (tmp, "missing.json", NULL);
  g_autoptr(GError) error = NULL;
  Fixture f = { 0 };

  g_assert_true (g_file_set_contents (garbage, "this is not a chain {", -1, &error));
  g_assert_no_error (error);
  /* A chain whose signature does not hold. */
  {
    g_autofree char *root_id = NULL, *fingerprint = NULL;
    g_autofree char *good = chain_file (&root_id, &fingerprint);
    g_autofree char *text = NULL;
    char *sig;

    g_assert_true (g_file_get_contents (good, &text, NULL, &error));
    sig = strstr (text, "\"signature\": \"");
    if (sig == NULL)
      sig = strstr (text, "\"signature\":\"");
    g_assert_nonnull (sig);
    sig = strchr (sig + strlen ("\"signature\":"), '"') + 1;
    *sig = *sig == 'A' ? 'B' : 'A';
    g_assert_true (g_file_set_contents (forged, text, -1, &error));
  }
  {
    g_autoptr(MorangoStore) store = open_folder (dir);

    g_assert_true (morango_certificate_backup_to_file (morango_store_get_db (store), own, "a passphrase", backup,
                                                       &error));
    g_assert_no_error (error);
  }

  fixture_open (&f, dir);
  activate_with_path (&f, "certificates.import", garbage);
  assert_refused (&f, "not valid JSON");
  activate_with_path (&f, "certificates.import", forged);
  assert_refused (&f, "ignature");
  activate_with_path (&f, "certificates.import", backup);
  assert_refused (&f, "is a certificate backup");
  activate_with_path (&f, "certificates.import", missing);
  assert_refused (&f, "missing.json");
  g_assert_cmpuint (n_stored (dir), ==, 1);
  g_assert_cmpuint (n_listed (&f), ==, 1);
  fixture_close (&f);
}

static void
test_export (void)
{
  g_autofree char *id = NULL;
  g_autofree char *dir = folder_with_root (&id);
  g_autofree char *other = morango_test_tmpdir ();
  g_autofree char *tmp = morango_test_tmpdir ();
  g_autofree char *path = g_build_filename (tmp, "exported.json", NULL);
  g_autoptr(GError) error = NULL;
  Fixture f = { 0 };

  fixture_open (&f, dir);
  activate_with_path (&f, "certificates.export", path);
  await_idle (f.page);
  g_assert_null (morango_certificates_page_get_last_error (f.page));
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  fixture_close (&f);

  /* Another folder takes it, as `morango cert trust` would. */
  {
    g_autoptr(MorangoStore) store = open_folder (other);
    g_autofree char *text = NULL;
    g_autoptr(MorangoCertificate) c = NULL;

    g_assert_true (g_file_get_contents (path, &text, NULL, &error));
    c = morango_certificate_chain_import_text (morango_store_get_db (store), text, NULL,
                                               MORANGO_CHAIN_IMPORT_TRUST_ROOT, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (morango_certificate_get_id (c), ==, id);
  }
}

static void
test_create_root (void)
{
  g_autofree char *dir = morango_test_tmpdir ();
  Fixture f = { 0 };
  AdwMessageDialog *dialog;

  fixture_open (&f, dir);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f.page), "certificates.create-root", NULL));
  dialog = await_dialog (f.page);
  g_assert_true (MORANGO_IS_CREATE_ROOT_DIALOG (dialog));
  g_assert_cmpstr (morango_create_root_dialog_get_scope_definition (MORANGO_CREATE_ROOT_DIALOG (dialog)), ==,
                   "full-facility");
  g_assert_true (adw_message_dialog_get_response_enabled (dialog, "create"));
  /* Nothing before the answer. */
  g_assert_cmpuint (n_stored (dir), ==, 0);
  adw_message_dialog_response (dialog, "create");
  while (n_listed (&f) == 0 && morango_certificates_page_get_dialog (f.page) == NULL)
    {
      g_main_context_iteration (NULL, TRUE);
      await_idle (f.page);
    }
  g_assert_cmpuint (n_stored (dir), ==, 1);
  {
    g_autoptr(MorangoEngineCertificate) c = g_list_model_get_item (morango_certificates_page_get_certificates (f.page), 0);

    g_assert_true (morango_engine_certificate_is_trust_anchor (c));
    g_assert_true (morango_engine_certificate_has_private_key (c));
    g_assert_cmpstr (morango_engine_certificate_get_scope_definition (c), ==, "full-facility");
  }
  fixture_close (&f);
}

static void
fill_passphrases (AdwMessageDialog *dialog,
                  const char       *first,
                  const char       *second)
{
  g_autoptr(GPtrArray) entries = g_ptr_array_new ();

  morango_ui_test_collect (GTK_WIDGET (dialog), GTK_TYPE_PASSWORD_ENTRY, entries);
  g_assert_cmpuint (entries->len, ==, 2);
  gtk_editable_set_text (g_ptr_array_index (entries, 0), first);
  if (second != NULL)
    gtk_editable_set_text (g_ptr_array_index (entries, 1), second);
}

static void
test_backup_restore (void)
{
  g_autofree char *id = NULL;
  g_autofree char *dir = folder_with_root (&id);
  g_autofree char *other = morango_test_tmpdir ();
  g_autofree char *tmp = morango_test_tmpdir ();
  g_autofree char *path = g_build_filename (tmp, "backup.json", NULL);
  Fixture f = { 0 };
  AdwMessageDialog *dialog;

  fixture_open (&f, dir);

  /* Passphrases that differ: the button stays off, and forcing the
   * answer still writes nothing. */
  activate_with_path (&f, "certificates.backup", path);
  dialog = await_dialog (f.page);
  g_assert_true (MORANGO_IS_PASSPHRASE_DIALOG (dialog));
  fill_passphrases (dialog, "correct horse", "correct hose");
  g_assert_false (adw_message_dialog_get_response_enabled (dialog, "accept"));
  adw_message_dialog_response (dialog, "accept");
  assert_refused (&f, "The passphrases differ");
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));

  activate_with_path (&f, "certificates.backup", path);
  dialog = await_dialog (f.page);
  fill_passphrases (dialog, "correct horse", "correct horse");
  g_assert_true (adw_message_dialog_get_response_enabled (dialog, "accept"));
  adw_message_dialog_response (dialog, "accept");
  await_idle (f.page);
  g_assert_null (morango_certificates_page_get_dialog (f.page));
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  fixture_close (&f);

  /* Another device: a wrong passphrase changes nothing; the right one
   * brings the certificate with its key. */
  fixture_open (&f, other);
  activate_with_path (&f, "certificates.restore", path);
  dialog = await_dialog (f.page);
  g_assert_true (MORANGO_IS_PASSPHRASE_DIALOG (dialog));
  fill_passphrases (dialog, "wrong horse", NULL);
  adw_message_dialog_response (dialog, "accept");
  assert_refused (&f, "passphrase is wrong");
  g_assert_cmpuint (n_stored (other), ==, 0);
  g_assert_cmpuint (n_listed (&f), ==, 0);

  activate_with_path (&f, "certificates.restore", path);
  dialog = await_dialog (f.page);
  fill_passphrases (dialog, "correct horse", NULL);
  adw_message_dialog_response (dialog, "accept");
  while (n_listed (&f) == 0 && morango_certificates_page_get_dialog (f.page) == NULL)
    {
      g_main_context_iteration (NULL, TRUE);
      await_idle (f.page);
    }
  g_assert_null (morango_certificates_page_get_dialog (f.page));
  g_assert_cmpstr (morango_certificates_page_get_selected_id (f.page), ==, id);
  g_assert_cmpstr (row_subtitle (GTK_WIDGET (f.page), "Private Key"), ==, "Held on this device");
  fixture_close (&f);
}

/* The file chooser opens where the last file came from. */
static void
test_last_folder (void)
{
  g_autofree char *dir = morango_test_tmpdir ();
  g_autofree char *tmp = morango_test_tmpdir ();
  g_autofree char *path = g_build_filename (tmp, "nothing.json", NULL);
  g_autoptr(GSettings) settings = g_settings_new ("org.morango.Sync");
  g_autofree char *last = NULL;
  Fixture f = { 0 };

  fixture_open (&f, dir);
  activate_with_path (&f, "certificates.import", path);
  assert_refused (&f, "nothing.json");
  last = g_settings_get_string (settings, "last-folder");
  g_assert_cmpstr (last, ==, tmp);
  fixture_close (&f);
}

/* The window's entry point for `morango-sync FILE.json`. */
static void
test_window_import_file (void)
{
  g_autofree char *dir = morango_test_tmpdir ();
  g_autofree char *root_id = NULL, *fingerprint = NULL;
  g_autofree char *file = chain_file (&root_id, &fingerprint);
  g_autoptr(GFile) gfile = g_file_new_for_path (file);
  Fixture f = { 0 };
  AdwMessageDialog *dialog;

  fixture_open (&f, dir);
  morango_window_set_page (f.window, "peers");
  morango_window_import_file (f.window, gfile);
  g_assert_cmpstr (morango_window_get_page (f.window), ==, "certificates");
  dialog = await_dialog (f.page);
  g_assert_true (MORANGO_IS_IMPORT_DIALOG (dialog));
  g_assert_cmpstr (row_subtitle (GTK_WIDGET (dialog), "Root certificate"), ==, root_id);
  adw_message_dialog_response (dialog, "cancel");
  await_idle (f.page);
  g_assert_cmpuint (n_stored (dir), ==, 0);
  fixture_close (&f);
}

/* The folded layout: at 360 px the list and the details take turns. */
static void
test_narrow (void)
{
  g_autofree char *id = NULL;
  g_autofree char *dir = folder_with_root (&id);
  Fixture f = { 0 };
  AdwLeaflet *leaflet;

  fixture_open (&f, dir);
  gtk_window_set_default_size (GTK_WINDOW (f.window), 360, 640);
  leaflet = ADW_LEAFLET (morango_ui_test_find_widget (GTK_WIDGET (f.page), ADW_TYPE_LEAFLET));
  while (!adw_leaflet_get_folded (leaflet))
    g_main_context_iteration (NULL, TRUE);
  drain ();
  activate_with_path (&f, "certificates.select", id);
  drain ();
  g_assert_cmpstr (adw_leaflet_get_visible_child_name (leaflet), ==, "details");
  morango_ui_test_save_screenshot (GTK_WIDGET (f.window), "certificates-narrow.png");
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f.page), "certificates.back", NULL));
  drain ();
  g_assert_cmpstr (adw_leaflet_get_visible_child_name (leaflet), !=, "details");
  fixture_close (&f);
}

/* ------------------------------------------------------------------ */
/* `morango-sync FILE.json`, the real program */

static void
on_name_appeared (GDBusConnection *connection,
                  const char      *name,
                  const char      *owner,
                  gpointer         data)
{
  *(gboolean *) data = TRUE;
}

static void
on_call_done (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, NULL);

  *(gboolean *) data = TRUE;
}

static void
on_child_exited (GPid     pid,
                 int      status,
                 gpointer data)
{
  *(int *) data = status;
}

/* A bus of this test's own: an instance of the app started by another
 * test program running meanwhile on the shared session bus would
 * otherwise take this one's file, or give it its own. */
static char *
start_private_bus (GPid *pid)
{
  const char *argv[] = { "dbus-daemon", "--session", "--nofork", "--print-address=1", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GIOChannel) channel = NULL;
  g_autofree char *line = NULL;
  int out_fd;

  g_assert_true (g_spawn_async_with_pipes (NULL, (char **) argv, NULL,
                                           G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
                                           NULL, NULL, pid, NULL, &out_fd, NULL, &error));
  g_assert_no_error (error);
  channel = g_io_channel_unix_new (out_fd);
  g_io_channel_set_close_on_unref (channel, TRUE);
  /* The daemon prints its address once it listens. */
  g_assert_cmpint (g_io_channel_read_line (channel, &line, NULL, NULL, &error), ==, G_IO_STATUS_NORMAL);
  g_assert_no_error (error);
  return g_strstrip (g_steal_pointer (&line));
}

static void
test_app_opens_file (void)
{
  g_autofree char *dir = morango_test_tmpdir ();
  g_autofree char *root_id = NULL, *fingerprint = NULL;
  g_autofree char *file = chain_file (&root_id, &fingerprint);
  g_autofree char *option = g_strconcat ("--data-dir=", dir, NULL);
  const char *argv[] = { g_getenv ("MORANGO_SYNC"), option, file, NULL };
  g_auto(GStrv) envp = g_get_environ ();
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GIOChannel) channel = NULL;
  g_autofree char *err = NULL;
  g_autofree char *address = NULL;
  gboolean appeared = FALSE, answered = FALSE;
  GPid pid, bus_pid;
  int err_fd, exited = -1, bus_exited = -1;
  guint watch;

  address = start_private_bus (&bus_pid);
  g_child_watch_add (bus_pid, on_child_exited, &bus_exited);
  envp = g_environ_setenv (envp, "DBUS_SESSION_BUS_ADDRESS", address, TRUE);
  bus = g_dbus_connection_new_for_address_sync (address,
                                                G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                NULL, NULL, &error);
  g_assert_no_error (error);
  watch = g_bus_watch_name_on_connection (bus, "org.morango.Sync", G_BUS_NAME_WATCHER_FLAGS_NONE,
                                          on_name_appeared, NULL, &appeared, NULL);
  g_assert_true (g_spawn_async_with_pipes (NULL, (char **) argv, envp, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                           &pid, NULL, NULL, &err_fd, &error));
  g_assert_no_error (error);
  g_child_watch_add (pid, on_child_exited, &exited);
  /* An app that cannot open files says so and exits. */
  while (!appeared && exited < 0)
    g_main_context_iteration (NULL, TRUE);
  if (exited >= 0)
    {
      g_autoptr(GIOChannel) early = g_io_channel_unix_new (err_fd);
      g_autofree char *text = NULL;

      g_io_channel_read_to_end (early, &text, NULL, NULL);
      g_test_message ("exited at once: %s", text ? text : "");
      g_assert_cmpint (exited, <, 0);
    }
  /* Answered from the app's main loop, so only once its "open" handler
   * has run. */
  g_dbus_connection_call (bus, "org.morango.Sync", "/org/morango/Sync", "org.gtk.Actions", "List", NULL,
                          NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, on_call_done, &answered);
  while (!answered)
    g_main_context_iteration (NULL, TRUE);
  g_bus_unwatch_name (watch);

  kill (pid, SIGTERM);
  while (exited < 0)
    g_main_context_iteration (NULL, TRUE);
  g_spawn_close_pid (pid);
  channel = g_io_channel_unix_new (err_fd);
  g_io_channel_set_close_on_unref (channel, TRUE);
  g_io_channel_read_to_end (channel, &err, NULL, &error);
  g_assert_no_error (error);
  g_test_message ("stderr: %s", err ? err : "");
  g_assert_null (strstr (err ? err : "", "CRITICAL"));
  g_assert_null (strstr (err ? err : "", "can not open"));
  g_assert_null (strstr (err ? err : "", "WARNING"));
  /* The file was only offered: nothing imported without a yes. */
  g_assert_cmpuint (n_stored (dir), ==, 0);

  g_dbus_connection_close_sync (bus, NULL, NULL);
  kill (bus_pid, SIGTERM);
  while (bus_exited < 0)
    g_main_context_iteration (NULL, TRUE);
  g_spawn_close_pid (bus_pid);
}

int
main (int   argc,
      char *argv[])
{
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();
  /* Animations stay on: with them off, libadwaita 1.2 warns as the
   * header's switcher folds at 360 px. */
  g_test_add_func ("/certificates/empty-state", test_empty_state);
  g_test_add_func ("/certificates/lists-root", test_lists_root);
  g_test_add_func ("/certificates/never-looks-empty", test_never_looks_empty);
  g_test_add_func ("/certificates/import-confirm", test_import_confirm);
  g_test_add_func ("/certificates/import-cancel", test_import_cancel);
  g_test_add_func ("/certificates/import-refused", test_import_refused);
  g_test_add_func ("/certificates/export", test_export);
  g_test_add_func ("/certificates/create-root", test_create_root);
  g_test_add_func ("/certificates/backup-restore", test_backup_restore);
  g_test_add_func ("/certificates/last-folder", test_last_folder);
  g_test_add_func ("/certificates/window-import-file", test_window_import_file);
  g_test_add_func ("/certificates/narrow", test_narrow);
  g_test_add_func ("/certificates/app-opens-file", test_app_opens_file);
  return g_test_run ();
}
