/* morango-sync.c: the desktop app
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gi18n.h>
#include <locale.h>
#include <stdio.h>

#include "morango-engine.h"
#include "morango-window.h"

/* --data-dir, or the folder the command line uses by default. */
static char *data_dir;
/* The folder could not be opened: the exit status says so. */
static gboolean folder_failed;

static void
on_activate (AdwApplication *app)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (app));

  if (window == NULL)
    {
      g_autoptr(MorangoEngine) engine = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *dir = data_dir ? g_strdup (data_dir)
                                      : g_build_filename (g_get_user_data_dir (), "morango-sync", NULL);

      engine = morango_engine_new (dir, NULL, &error);
      if (engine == NULL)
        {
          g_printerr (_("morango-sync: cannot open the data folder %s: %s\n"), dir, error->message);
          folder_failed = TRUE;
          g_application_quit (G_APPLICATION (app));
          return;
        }
      window = GTK_WINDOW (morango_window_new (app, engine));
    }
  gtk_window_present (window);
}

static void
on_startup (AdwApplication *app)
{
  morango_window_add_app_actions (GTK_APPLICATION (app));
}

/* `morango-sync FILE.json`: the window, offering to import the chain
 * the first file holds. */
static void
on_open (AdwApplication  *app,
         GFile          **files,
         int              n_files,
         const char      *hint)
{
  GtkWindow *window;

  on_activate (app);
  window = gtk_application_get_active_window (GTK_APPLICATION (app));
  if (window != NULL && n_files > 0 && MORANGO_IS_WINDOW (window))
    morango_window_import_file (MORANGO_WINDOW (window), files[0]);
}

static int
on_handle_local_options (GApplication *app,
                         GVariantDict *options)
{
  if (g_variant_dict_contains (options, "version"))
    {
      g_print ("morango-sync %s\n", PACKAGE_VERSION);
      return 0;
    }
  g_variant_dict_lookup (options, "data-dir", "^ay", &data_dir);
  /* Only now that the options are known to be good: a typo is reported
   * as a typo even where no display is available.  GTK's own start-up
   * later finds the display already open. */
  if (!gtk_init_check ())
    {
      fprintf (stderr,
               _("morango-sync: no display is available, so the desktop app cannot open.\n"
                 "Run the headless peer instead; “morango --help” lists its commands.\n"));
      return 1;
    }
  return -1;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(AdwApplication) app = NULL;
  int status;
  const char *localedir;
  static const GOptionEntry entries[] = {
    { "version", 0, 0, G_OPTION_ARG_NONE, NULL, N_("Print the version and exit"), NULL },
    { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, NULL,
      N_("The data folder (default: ~/.local/share/morango-sync)"), N_("DIR") },
    { NULL }
  };

  setlocale (LC_ALL, "");
  /* MORANGO_LOCALEDIR: the build tree's catalogues, for translated runs
   * before installing (tests, screenshots); the engine reads it too. */
  localedir = g_getenv ("MORANGO_LOCALEDIR");
  bindtextdomain (GETTEXT_PACKAGE, localedir != NULL && *localedir != '\0' ? localedir : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  app = adw_application_new ("org.morango.Sync", G_APPLICATION_HANDLES_OPEN);
  g_application_add_main_option_entries (G_APPLICATION (app), entries);
  g_application_set_option_context_summary (G_APPLICATION (app),
      _("Sync school and clinic data between devices."));
  g_application_set_option_context_description (G_APPLICATION (app),
      _("Without a display, run the headless peer instead: see “morango --help”."));
  g_signal_connect (app, "handle-local-options", G_CALLBACK (on_handle_local_options), NULL);
  g_signal_connect (app, "startup", G_CALLBACK (on_startup), NULL);
  g_signal_connect (app, "activate", G_CALLBACK (on_activate), NULL);
  g_signal_connect (app, "open", G_CALLBACK (on_open), NULL);

  status = g_application_run (G_APPLICATION (app), argc, argv);
  return folder_failed ? 1 : status;
}
