/* screenshot-window.c: pictures of the window's pages, for the README
 * and the metainfo (see scripts/screenshots.sh, which prepares the data
 * folder and the display).
 *
 *   screenshot-window DATA_DIR WIDTH HEIGHT OUT_DIR [PAGE=NAME …]
 *
 * Without PAGE=NAME pairs, every page of the window is saved as
 * OUT_DIR/PAGE.png; with them, only those pages, as OUT_DIR/NAME.png.
 * Pages are found by name in the window's view stack, so pages added
 * later are pictured without a change here.
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gi18n.h>
#include <stdlib.h>

#include "morango-ui-test-util.h"
#include "morango-window.h"

static gboolean
on_timeout (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* The pages load from the engine in its threads and nothing tells from
 * outside when every page is done, so give them a moment: this is a
 * picture taker, not a test. */
static void
settle (guint ms)
{
  gboolean done = FALSE;

  g_timeout_add (ms, on_timeout, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

static gboolean
shoot (MorangoWindow *window,
       const char    *page,
       const char    *out_dir,
       const char    *name)
{
  g_autofree char *file = g_strconcat (name, ".png", NULL);
  g_autofree char *path = g_build_filename (out_dir, file, NULL);

  morango_window_set_page (window, page);
  if (g_strcmp0 (morango_window_get_page (window), page) != 0)
    {
      g_printerr ("screenshot-window: the window has no page “%s”\n", page);
      return FALSE;
    }
  settle (400);
  if (!morango_ui_test_save_png (GTK_WIDGET (window), path))
    {
      g_printerr ("screenshot-window: cannot write %s\n", path);
      return FALSE;
    }
  g_print ("%s\n", path);
  return TRUE;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(AdwApplication) app = NULL;
  g_autoptr(MorangoEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  MorangoWindow *window;
  AdwViewStack *stack;
  int width, height;
  gboolean ok = TRUE;

  if (argc < 5)
    {
      g_printerr ("usage: screenshot-window DATA_DIR WIDTH HEIGHT OUT_DIR [PAGE=NAME …]\n");
      return 2;
    }
  width = atoi (argv[2]);
  height = atoi (argv[3]);
  if (!gtk_init_check ())
    {
      g_printerr ("screenshot-window: no display\n");
      return 1;
    }
  /* The app's domain, as morango-sync binds it (gtk_init_check set the
   * locale): pictures of a translated run with LANGUAGE and
   * MORANGO_LOCALEDIR (scripts/screenshots.sh --lang). */
  {
    const char *localedir = g_getenv ("MORANGO_LOCALEDIR");

    bindtextdomain ("morango-sync", localedir != NULL && *localedir != '\0' ? localedir : LOCALEDIR);
    bind_textdomain_codeset ("morango-sync", "UTF-8");
    textdomain ("morango-sync");
  }

  app = adw_application_new ("org.morango.Sync.Screenshots", G_APPLICATION_NON_UNIQUE);
  g_application_set_resource_base_path (G_APPLICATION (app), "/org/morango/Sync");
  if (!g_application_register (G_APPLICATION (app), NULL, &error))
    {
      g_printerr ("screenshot-window: %s\n", error->message);
      return 1;
    }
  morango_window_add_app_actions (GTK_APPLICATION (app));
  engine = morango_engine_new (argv[1], NULL, &error);
  if (engine == NULL)
    {
      g_printerr ("screenshot-window: %s: %s\n", argv[1], error->message);
      return 1;
    }

  window = morango_window_new (app, engine);
  gtk_window_set_default_size (GTK_WINDOW (window), width, height);
  gtk_window_present (GTK_WINDOW (window));
  while (!gtk_widget_get_mapped (GTK_WIDGET (window)))
    g_main_context_iteration (NULL, TRUE);
  settle (1000);

  if (argc == 5)
    {
      GtkWidget *w = GTK_WIDGET (window);
      GtkWidget *found = NULL;
      g_autoptr(GPtrArray) todo = g_ptr_array_new ();

      /* The first view stack in the window is the pages'. */
      g_ptr_array_add (todo, w);
      while (found == NULL && todo->len > 0)
        {
          GtkWidget *next = g_ptr_array_steal_index (todo, 0);

          if (ADW_IS_VIEW_STACK (next))
            found = next;
          for (GtkWidget *c = gtk_widget_get_first_child (next); c; c = gtk_widget_get_next_sibling (c))
            g_ptr_array_add (todo, c);
        }
      stack = ADW_VIEW_STACK (found);
      {
        g_autoptr(GtkSelectionModel) pages = adw_view_stack_get_pages (stack);

        for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (pages)) && ok; i++)
          {
            g_autoptr(AdwViewStackPage) page = g_list_model_get_item (G_LIST_MODEL (pages), i);
            const char *name = adw_view_stack_page_get_name (page);

            if (name != NULL)
              ok = shoot (window, name, argv[4], name);
          }
      }
    }
  else
    for (int i = 5; i < argc && ok; i++)
      {
        g_auto(GStrv) pair = g_strsplit (argv[i], "=", 2);

        ok = shoot (window, pair[0], argv[4], pair[1] ? pair[1] : pair[0]);
      }

  gtk_window_destroy (GTK_WINDOW (window));
  return ok ? 0 : 1;
}
