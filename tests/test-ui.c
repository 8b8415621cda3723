/* test-ui.c: the desktop app's window and its start without a display
 *
 * Runs under xvfb-run (see scripts/run-tests.sh).
 *
 * SPDX-License-Identifier: MIT
 */
#include "morango-window.h"

static void
test_window_pages (void)
{
  g_autoptr(AdwApplication) app = adw_application_new ("org.morango.Sync.Test", G_APPLICATION_NON_UNIQUE);
  g_autoptr(GError) error = NULL;
  MorangoWindow *window;

  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_assert_no_error (error);
  window = morango_window_new (app);
  gtk_window_present (GTK_WINDOW (window));
  while (g_main_context_iteration (NULL, FALSE))
    ;

  g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (window)), ==, "Morango Sync");
  g_assert_cmpstr (morango_window_get_page (window), ==, "peers");
  morango_window_set_page (window, "certificates");
  g_assert_cmpstr (morango_window_get_page (window), ==, "certificates");
  morango_window_set_page (window, "scopes");
  g_assert_cmpstr (morango_window_get_page (window), ==, "scopes");
  gtk_window_destroy (GTK_WINDOW (window));
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
  g_test_add_func ("/ui/window-pages", test_window_pages);
  g_test_add_func ("/ui/no-display-points-to-cli", test_no_display_points_to_cli);
  g_test_add_func ("/ui/versions-and-help", test_versions_and_help);
  return g_test_run ();
}
