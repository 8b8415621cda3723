/* test-ui-i18n.c: a translated run from the build tree.  With
 * MORANGO_LOCALEDIR at build/locale and LANGUAGE=pt_BR, the window's
 * page titles and empty states are the Portuguese ones, and with
 * LANGUAGE=es `morango --help` is Spanish: the catalogues are built,
 * found and used, and the strings really go through them.
 *
 * Runs under xvfb-run (see scripts/run-tests.sh).
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gi18n.h>
#include <locale.h>

#include "morango-test-util.h"
#include "morango-ui-test-util.h"
#include "morango-window.h"

/* The programs' domain (po/), which the window's templates use. */
#define APP_DOMAIN "morango-sync"

/* The translation of @english, checked to be one: the same text would
 * pass every comparison below without proving anything. */
static const char *
translated (const char *english)
{
  const char *text = g_dgettext (APP_DOMAIN, english);

  if (g_strcmp0 (text, english) == 0)
    g_error ("“%s” has no Portuguese translation in %s", english, g_getenv ("MORANGO_LOCALEDIR"));
  return text;
}

static void
test_window (void)
{
  static const char * const pages[][2] = {
    { "peers", "Peers" }, { "certificates", "Certificates" }, { "scopes", "Scopes" },
  };
  /* Each page's empty state, as the .ui files write it. */
  static const char * const empty_states[][2] = {
    { "No Peers Yet",
      "Add your school’s server or another device by its address, then pair with it (in a "
      "terminal: “morango pair URL”). Paired peers appear here, ready to sync, and so do "
      "devices that sync with this one." },
    { "No Certificates Yet",
      "A certificate lets this device sync a dataset. Starting a new dataset? Create a root "
      "certificate. Joining one? Pair with the device that holds it, or import the chain file "
      "its owner gave you." },
    { "No Data Held",
      "This device holds no data yet. To get a school’s data, pair with its server on the "
      "Peers page and sync. To start a new dataset here, create a root certificate on the "
      "Certificates page." },
  };
  g_autofree char *dir = morango_test_tmpdir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoEngine) engine = morango_engine_new (dir, NULL, &error);
  g_autoptr(AdwApplication) app = adw_application_new ("org.morango.Sync.I18nTest", G_APPLICATION_NON_UNIQUE);
  g_autoptr(GPtrArray) status_pages = g_ptr_array_new ();
  MorangoWindow *window;
  AdwViewStack *stack = NULL;
  g_autoptr(GPtrArray) stacks = g_ptr_array_new ();

  g_assert_no_error (error);
  /* A word a reader can check, besides "not English". */
  g_assert_cmpstr (translated ("Peers"), ==, "Pares");

  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_assert_no_error (error);
  /* Not presented: the texts come from the templates and the pages'
   * first fill, and a mapped window would take the X focus from the
   * tests running beside this one (their windows would stop being
   * active, and their syncs would send notifications). */
  window = morango_window_new (app, engine);
  while (g_main_context_iteration (NULL, FALSE))
    ;

  morango_ui_test_collect (GTK_WIDGET (window), ADW_TYPE_VIEW_STACK, stacks);
  g_assert_cmpuint (stacks->len, >=, 1);
  stack = g_ptr_array_index (stacks, 0);
  for (guint i = 0; i < G_N_ELEMENTS (pages); i++)
    {
      GtkWidget *child = adw_view_stack_get_child_by_name (stack, pages[i][0]);

      g_assert_nonnull (child);
      g_assert_cmpstr (adw_view_stack_page_get_title (adw_view_stack_get_page (stack, child)), ==,
                       translated (pages[i][1]));
    }

  morango_ui_test_collect (GTK_WIDGET (window), ADW_TYPE_STATUS_PAGE, status_pages);
  for (guint i = 0; i < G_N_ELEMENTS (empty_states); i++)
    {
      gboolean found = FALSE;

      for (guint k = 0; k < status_pages->len && !found; k++)
        {
          AdwStatusPage *page = g_ptr_array_index (status_pages, k);

          if (g_strcmp0 (adw_status_page_get_title (page), translated (empty_states[i][0])) == 0)
            {
              g_assert_cmpstr (adw_status_page_get_description (page), ==, translated (empty_states[i][1]));
              found = TRUE;
            }
        }
      if (!found)
        g_error ("no empty state titled “%s”", translated (empty_states[i][0]));
    }
  gtk_window_destroy (GTK_WINDOW (window));
}

/* The headless peer beside the app in the build tree, in Spanish. */
static void
test_cli_help (void)
{
  g_autofree char *app_dir = g_path_get_dirname (g_getenv ("MORANGO_SYNC"));
  g_autofree char *cli = g_build_filename (app_dir, "morango", NULL);
  char *argv[] = { cli, (char *) "--help", NULL };
  g_auto(GStrv) envp = g_environ_setenv (g_get_environ (), "LANGUAGE", "es", TRUE);
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;
  int wait_status = 0;

  envp = g_environ_setenv (envp, "LC_ALL", "C.UTF-8", TRUE);
  g_spawn_sync (NULL, argv, envp, G_SPAWN_STDIN_FROM_DEV_NULL, NULL, NULL,
                &out, NULL, &wait_status, &error);
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (wait_status, NULL));
  /* The program's own summary, not GLib's "Usage:" (GLib's catalogue is
   * the system's business). */
  g_assert_nonnull (strstr (out, "El par de Morango Sync sin pantalla"));
  g_assert_null (strstr (out, "The Morango Sync peer without a display"));
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *localedir = g_build_filename (g_getenv ("G_TEST_BUILDDIR"), "..", "locale", NULL);

  /* Before anything binds a domain (the engine binds its own on first
   * use and reads this too). */
  g_setenv ("MORANGO_LOCALEDIR", localedir, TRUE);
  g_setenv ("LANGUAGE", "pt_BR", TRUE);
  gtk_test_init (&argc, &argv, NULL);
  /* gtk_test_init forces its own locale; LANGUAGE counts only outside
   * the plain C one. */
  setlocale (LC_ALL, "C.UTF-8");
  bindtextdomain (APP_DOMAIN, localedir);
  bind_textdomain_codeset (APP_DOMAIN, "UTF-8");
  textdomain (APP_DOMAIN);
  adw_init ();
  g_test_add_func ("/ui-i18n/window", test_window);
  g_test_add_func ("/ui-i18n/cli-help", test_cli_help);
  return g_test_run ();
}
