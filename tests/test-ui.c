/* test-ui.c: the desktop app's window and its start without a display
 *
 * Runs under xvfb-run (see scripts/run-tests.sh).
 *
 * SPDX-License-Identifier: MIT
 */
#include "morango-account.h"
#include "morango-certificate.h"
#include "morango-peer-row.h"
#include "morango-peers-page.h"
#include "morango-test-util.h"
#include "morango-ui-test-util.h"
#include "morango-window.h"

/* ------------------------------------------------------------------ */
/* A window on a data folder of its own */

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

static void
collect_rows (GtkWidget *widget,
              GPtrArray *rows)
{
  if (MORANGO_IS_PEER_ROW (widget))
    g_ptr_array_add (rows, widget);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child;
       child = gtk_widget_get_next_sibling (child))
    collect_rows (child, rows);
}

static GPtrArray *
peer_rows (MorangoWindow *window)
{
  GPtrArray *rows = g_ptr_array_new ();

  collect_rows (GTK_WIDGET (window), rows);
  return rows;
}

static void
drain (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* Until the page has shown the engine's latest reading. */
static void
await_loaded (MorangoWindow *window)
{
  MorangoPeersPage *page = MORANGO_PEERS_PAGE (morango_ui_test_find_widget (GTK_WIDGET (window), MORANGO_TYPE_PEERS_PAGE));

  while (morango_peers_page_get_loading (page))
    g_main_context_iteration (NULL, TRUE);
  drain ();
}

static MorangoWindow *
open_window (AdwApplication *app,
             const char     *dir)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoEngine) engine = morango_engine_new (dir, NULL, &error);
  MorangoWindow *window;

  g_assert_no_error (error);
  window = morango_window_new (app, engine);
  gtk_window_present (GTK_WINDOW (window));
  await_loaded (window);
  return window;
}

/* An id per test: an application object left on the session bus by
 * the one before would refuse the same path. */
static AdwApplication *
test_app (void)
{
  static guint n;
  g_autofree char *id = g_strdup_printf ("org.morango.Sync.Test%u", n++);
  AdwApplication *app = adw_application_new (id, G_APPLICATION_NON_UNIQUE);
  g_autoptr(GError) error = NULL;

  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_assert_no_error (error);
  return app;
}

static void
test_window_pages (void)
{
  g_autoptr(AdwApplication) app = test_app ();
  g_autofree char *dir = morango_test_tmpdir ();
  MorangoWindow *window = open_window (app, dir);

  g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (window)), ==, "Morango Sync");
  g_assert_cmpstr (morango_window_get_page (window), ==, "peers");
  morango_window_set_page (window, "certificates");
  g_assert_cmpstr (morango_window_get_page (window), ==, "certificates");
  morango_window_set_page (window, "scopes");
  g_assert_cmpstr (morango_window_get_page (window), ==, "scopes");
  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_peers_empty (void)
{
  g_autoptr(AdwApplication) app = test_app ();
  g_autofree char *dir = morango_test_tmpdir ();
  MorangoWindow *window = open_window (app, dir);
  GtkWidget *empty = morango_ui_test_find_widget (GTK_WIDGET (window), ADW_TYPE_STATUS_PAGE);
  g_autoptr(GPtrArray) rows = peer_rows (window);

  /* A first-time user sees what to do, not an empty list. */
  g_assert_nonnull (empty);
  g_assert_true (gtk_widget_get_mapped (empty));
  g_assert_cmpstr (adw_status_page_get_title (ADW_STATUS_PAGE (empty)), ==, "No Peers Yet");
  g_assert_nonnull (strstr (adw_status_page_get_description (ADW_STATUS_PAGE (empty)), "morango pair"));
  g_assert_cmpuint (rows->len, ==, 0);
  morango_ui_test_save_screenshot (GTK_WIDGET (window), "peers-empty.png");
  gtk_window_destroy (GTK_WINDOW (window));
}

static gboolean
subtitle_has (MorangoPeerRow *row,
              const char     *text)
{
  const char *subtitle = adw_action_row_get_subtitle (ADW_ACTION_ROW (row));

  return subtitle != NULL && strstr (subtitle, text) != NULL;
}

static void
test_peers_listed (void)
{
  g_autoptr(AdwApplication) app = test_app ();
  g_autofree char *dir = morango_test_tmpdir ();
  g_autoptr(MorangoStore) store = open_folder (dir);
  g_autoptr(MorangoKnownPeer) school = NULL;
  g_autoptr(MorangoKnownPeer) down = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(GPtrArray) more = NULL;
  g_autoptr(GError) error = NULL;
  GtkWidget *empty;
  MorangoWindow *window;
  MorangoPeerRow *row;

  school = morango_known_peer_add (store, "http://school.example:8000", g_get_real_time (), &error);
  g_assert_no_error (error);
  g_assert_true (morango_known_peer_set_instance_id (store, school->id, "5c0015c0015c0015c0015c0015c0015c", &error));
  g_assert_true (morango_known_peer_record_failure (store, school->id, g_get_real_time () - 60 * G_USEC_PER_SEC,
                                                    "the school's server was off", &error));
  g_assert_true (morango_known_peer_record_success (store, school->id, g_get_real_time (), &error));
  g_assert_no_error (error);

  window = open_window (app, dir);
  empty = morango_ui_test_find_widget (GTK_WIDGET (window), ADW_TYPE_STATUS_PAGE);
  g_assert_false (gtk_widget_get_mapped (empty));
  rows = peer_rows (window);
  g_assert_cmpuint (rows->len, ==, 1);
  row = g_ptr_array_index (rows, 0);
  g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (row)));
  g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)), ==, "http://school.example:8000/");
  g_assert_true (subtitle_has (row, "Synced"));
  g_assert_true (subtitle_has (row, "last sync"));
  /* The device's instance id, and the older failure with its reason. */
  g_assert_true (subtitle_has (row, "device 5c0015c0"));
  g_assert_true (subtitle_has (row, "Last failure, before that"));
  g_assert_true (subtitle_has (row, "the school&apos;s server was off") ||
                 subtitle_has (row, "the school's server was off"));

  /* A peer added elsewhere appears when the engine says peers changed. */
  down = morango_known_peer_add (store, "http://127.0.0.1:1/", g_get_real_time (), &error);
  g_assert_no_error (error);
  g_signal_emit_by_name (morango_window_get_engine (window), "peers-changed");
  await_loaded (window);
  more = peer_rows (window);
  g_assert_cmpuint (more->len, ==, 2);
  g_assert_true (g_ptr_array_index (more, 0) == row);
  row = g_ptr_array_index (more, 1);
  g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)), ==, "http://127.0.0.1:1/");
  g_assert_true (subtitle_has (row, "Not paired yet"));

  /* Sync with a peer that is down: the row says why, in its own words. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (row), "peer.sync", NULL));
  g_assert_true (morango_peer_row_is_syncing (row));
  while (morango_peer_row_is_syncing (row) || !subtitle_has (row, "Failed"))
    g_main_context_iteration (NULL, TRUE);
  await_loaded (window);
  g_assert_true (subtitle_has (row, "pair with it first"));
  g_assert_nonnull (strstr (morango_peer_row_get_outcome (row), "pair with it first"));
  g_assert_true (subtitle_has (row, "Not paired yet"));
  g_assert_false (gtk_widget_get_visible (morango_ui_test_find_widget (GTK_WIDGET (row), GTK_TYPE_PROGRESS_BAR)));

  morango_ui_test_save_screenshot (GTK_WIDGET (window), "peers-page.png");
  gtk_window_destroy (GTK_WINDOW (window));
}

static void
on_done (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static void
on_progress_text (GtkProgressBar *bar,
                  GParamSpec     *pspec,
                  GPtrArray      *texts)
{
  const char *text = gtk_progress_bar_get_text (bar);

  if (text != NULL && (texts->len == 0 || !g_str_equal (g_ptr_array_index (texts, texts->len - 1), text)))
    g_ptr_array_add (texts, g_strdup (text));
}

/* A real sync from the Peers page with a server on 127.0.0.1: the bar
 * follows the engine's progress both ways, the row ends synced. */
static void
test_peers_sync (void)
{
  static const char * const all[] = { MORANGO_ACCOUNT_ALL_SCOPES, NULL };
  g_autoptr(AdwApplication) app = test_app ();
  g_autofree char *server_dir = morango_test_tmpdir ();
  g_autofree char *dir = morango_test_tmpdir ();
  g_autoptr(MorangoEngine) server = NULL;
  g_autoptr(MorangoCertificate) root = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  g_autofree char *cert_id = NULL;
  MorangoEngineServeOptions serve = { "127.0.0.1", 0, 0 };
  MorangoEnginePairOptions pair = { 0 };
  GAsyncResult *result = NULL;
  MorangoWindow *window;
  MorangoPeerRow *row;
  GtkWidget *bar;
  gboolean pulled = FALSE, pushed = FALSE;

  server = morango_engine_new (server_dir, NULL, &error);
  g_assert_no_error (error);
  {
    g_autoptr(MorangoStore) store = open_folder (server_dir);
    MorangoDb *db = morango_store_get_db (store);

    root = morango_certificate_create_root (db, "full-facility", NULL, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (morango_account_set_password (db, morango_store_get_random (store), MORANGO_ACCOUNT_ADMIN,
                                                 "correct horse", all, &error));
    g_assert_no_error (error);
  }
  morango_engine_serve_async (server, &serve, NULL, on_done, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (morango_engine_serve_finish (server, result, &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  url = g_strdup_printf ("http://127.0.0.1:%u/", morango_engine_get_port (server));

  window = open_window (app, dir);
  pair.scope_definition = "full-facility";
  pair.password = "correct horse";
  morango_engine_pair_async (morango_window_get_engine (window), url, &pair, NULL, on_done, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  cert_id = morango_engine_pair_finish (morango_window_get_engine (window), result, &error);
  g_assert_no_error (error);
  g_clear_object (&result);
  await_loaded (window);

  rows = peer_rows (window);
  g_assert_cmpuint (rows->len, ==, 1);
  row = g_ptr_array_index (rows, 0);
  g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)), ==, url);
  g_assert_true (subtitle_has (row, "Paired"));
  bar = morango_ui_test_find_widget (GTK_WIDGET (row), GTK_TYPE_PROGRESS_BAR);
  g_signal_connect (bar, "notify::text", G_CALLBACK (on_progress_text), texts);

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (row), "peer.sync", NULL));
  g_assert_true (gtk_widget_get_visible (bar));
  while (morango_peer_row_is_syncing (row) || !subtitle_has (row, "Synced"))
    g_main_context_iteration (NULL, TRUE);
  await_loaded (window);
  g_assert_false (gtk_widget_get_visible (bar));
  for (guint i = 0; i < texts->len; i++)
    {
      const char *text = g_ptr_array_index (texts, i);

      g_test_message ("progress: %s", text);
      pulled |= g_str_has_prefix (text, "Pulling");
      pushed |= g_str_has_prefix (text, "Pushing");
    }
  g_assert_true (pulled);
  g_assert_true (pushed);
  g_assert_true (subtitle_has (row, "last sync"));
  g_assert_true (g_str_has_prefix (morango_peer_row_get_outcome (row), "Synced with"));

  g_signal_handlers_disconnect_by_data (bar, texts);

  /* Ctrl+R (sync every peer) starts the paired one; closing the window
   * during that sync stops it. */
  g_object_ref (row);
  morango_window_set_page (window, "scopes");
  g_action_group_activate_action (G_ACTION_GROUP (window), "sync-all", NULL);
  g_assert_cmpstr (morango_window_get_page (window), ==, "peers");
  g_assert_true (morango_peer_row_is_syncing (row));
  gtk_window_destroy (GTK_WINDOW (window));
  while (morango_peer_row_is_syncing (row))
    g_main_context_iteration (NULL, TRUE);
  g_assert_nonnull (strstr (morango_peer_row_get_outcome (row), "cancelled"));
  g_object_unref (row);
  morango_engine_stop_serving (server);
}

static void
run_program (const char  *program,
             char       **argv_tail,
             gboolean     without_display,
             int         *status,
             char       **out,
             char       **err)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_auto(GStrv) envp = g_get_environ ();
  g_autoptr(GError) error = NULL;
  int wait_status = 0;

  g_ptr_array_add (argv, (gpointer) program);
  for (guint i = 0; argv_tail && argv_tail[i]; i++)
    g_ptr_array_add (argv, argv_tail[i]);
  g_ptr_array_add (argv, NULL);
  if (without_display)
    {
      envp = g_environ_unsetenv (envp, "DISPLAY");
      envp = g_environ_unsetenv (envp, "WAYLAND_DISPLAY");
    }
  g_spawn_sync (NULL, (char **) argv->pdata, envp, G_SPAWN_STDIN_FROM_DEV_NULL, NULL, NULL,
                out, err, &wait_status, &error);
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (wait_status));
  *status = WEXITSTATUS (wait_status);
}

static void
test_no_display_points_to_cli (void)
{
  g_autofree char *out = NULL, *err = NULL;
  int status = -1;

  run_program (g_getenv ("MORANGO_SYNC"), NULL, TRUE, &status, &out, &err);
  g_assert_cmpint (status, ==, 1);
  g_assert_nonnull (strstr (err, "no display"));
  g_assert_nonnull (strstr (err, "morango --help"));
}

/* A data folder that cannot be opened is named, with why, and the app
 * exits with an error instead of showing an empty window. */
static void
test_bad_data_dir (void)
{
  g_autofree char *dir = morango_test_tmpdir ();
  g_autofree char *file = g_build_filename (dir, "not-a-folder", NULL);
  g_autofree char *option = g_strconcat ("--data-dir=", file, NULL);
  char *args[] = { option, NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr(GError) error = NULL;
  int status = -1;

  g_assert_true (g_file_set_contents (file, "not a folder", -1, &error));
  g_assert_no_error (error);
  run_program (g_getenv ("MORANGO_SYNC"), args, FALSE, &status, &out, &err);
  g_assert_cmpint (status, ==, 1);
  g_assert_nonnull (strstr (err, "cannot open the data folder"));
  g_assert_nonnull (strstr (err, file));
}

static void
test_versions_and_help (void)
{
  char *version[] = { (char *) "--version", NULL };
  char *help[] = { (char *) "--help", NULL };
  const char *programs[] = { g_getenv ("MORANGO_SYNC"), g_getenv ("MORANGO_CLI") };

  for (guint i = 0; i < G_N_ELEMENTS (programs); i++)
    {
      g_autofree char *out = NULL, *err = NULL;
      g_autofree char *hout = NULL, *herr = NULL;
      int status = -1;

      run_program (programs[i], version, TRUE, &status, &out, &err);
      g_assert_cmpint (status, ==, 0);
      g_assert_nonnull (strstr (out, PACKAGE_VERSION));
      run_program (programs[i], help, TRUE, &status, &hout, &herr);
      g_assert_cmpint (status, ==, 0);
      g_assert_nonnull (strstr (hout, "Usage"));
    }
}

int
main (int   argc,
      char *argv[])
{
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();
  morango_test_allow_missing_notifications ();
  /* Toasts and rows at rest, so that the screenshot shows them whole. */
  g_object_set (gtk_settings_get_default (), "gtk-enable-animations", FALSE, NULL);
  g_test_add_func ("/ui/window-pages", test_window_pages);
  g_test_add_func ("/ui/peers-empty", test_peers_empty);
  g_test_add_func ("/ui/peers-listed", test_peers_listed);
  g_test_add_func ("/ui/peers-sync", test_peers_sync);
  g_test_add_func ("/ui/no-display-points-to-cli", test_no_display_points_to_cli);
  g_test_add_func ("/ui/bad-data-dir", test_bad_data_dir);
  g_test_add_func ("/ui/versions-and-help", test_versions_and_help);
  return g_test_run ();
}
