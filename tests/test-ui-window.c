/* test-ui-window.c: the window's chrome: the page switchers at every
 * width, the primary menu, shortcuts, About, the remembered size,
 * accessible labels, and the app's command line.
 *
 * Runs under xvfb-run (see scripts/run-tests.sh).
 *
 * SPDX-License-Identifier: MIT
 */
#include "morango-add-peer-dialog.h"
#include "morango-certificates-page.h"
#include "morango-peers-page.h"
#include "morango-settings.h"
#include "morango-test-util.h"
#include "morango-ui-test-util.h"
#include "morango-window.h"

static const char * const pages[] = { "peers", "certificates", "scopes" };

static void
drain (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* An id per test, with the real app's resource base path, so that the
 * shortcuts window is found where GtkApplication looks for it. */
static AdwApplication *
test_app (void)
{
  static guint n;
  g_autofree char *id = g_strdup_printf ("org.morango.Sync.WindowTest%u", n++);
  AdwApplication *app = adw_application_new (id, G_APPLICATION_NON_UNIQUE);
  g_autoptr(GError) error = NULL;

  g_application_set_resource_base_path (G_APPLICATION (app), "/org/morango/Sync");
  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_assert_no_error (error);
  morango_window_add_app_actions (GTK_APPLICATION (app));
  return app;
}

/* The size on screen, decorations included: what a person resizes. */
static int
surface_width (MorangoWindow *window)
{
  GdkSurface *surface = gtk_native_get_surface (GTK_NATIVE (window));

  return surface != NULL ? gdk_surface_get_width (surface) : 0;
}

static MorangoWindow *
open_window (AdwApplication *app,
             int             width,
             int             height)
{
  g_autofree char *dir = morango_test_tmpdir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoEngine) engine = morango_engine_new (dir, NULL, &error);
  MorangoWindow *window;

  g_assert_no_error (error);
  window = morango_window_new (app, engine);
  if (width > 0)
    gtk_window_set_default_size (GTK_WINDOW (window), width, height);
  gtk_window_present (GTK_WINDOW (window));
  while (!gtk_widget_get_mapped (GTK_WIDGET (window)) ||
         (width > 0 && surface_width (window) != width))
    g_main_context_iteration (NULL, TRUE);
  drain ();
  return window;
}

static gboolean
label_is (GtkWidget  *widget,
          const char *text)
{
  g_autoptr(GPtrArray) labels = morango_ui_test_find_all (widget, GTK_TYPE_LABEL);

  for (guint i = 0; i < labels->len; i++)
    if (g_strcmp0 (gtk_label_get_label (g_ptr_array_index (labels, i)), text) == 0)
      return TRUE;
  return FALSE;
}

/* The bar's button for the page titled @title. */
static GtkWidget *
switcher_button (GtkWidget  *switcher,
                 const char *title)
{
  g_autoptr(GPtrArray) buttons = morango_ui_test_find_all (switcher, GTK_TYPE_TOGGLE_BUTTON);

  for (guint i = 0; i < buttons->len; i++)
    if (label_is (g_ptr_array_index (buttons, i), title))
      return g_ptr_array_index (buttons, i);
  return NULL;
}

static const char *
page_title (MorangoWindow *window,
            const char    *name)
{
  AdwViewStack *stack = ADW_VIEW_STACK (morango_ui_test_find_widget (GTK_WIDGET (window), ADW_TYPE_VIEW_STACK));
  GtkWidget *child = adw_view_stack_get_child_by_name (stack, name);

  g_assert_nonnull (child);
  return adw_view_stack_page_get_title (adw_view_stack_get_page (stack, child));
}

/* Below the width where the header's switcher fits, the pages are still
 * in reach: through the bar at the bottom. */
static void
test_narrow (void)
{
  g_autoptr(AdwApplication) app = test_app ();
  MorangoWindow *window = open_window (app, 360, 640);
  GtkWidget *title = morango_ui_test_find_widget (GTK_WIDGET (window), ADW_TYPE_VIEW_SWITCHER_TITLE);
  GtkWidget *bar = morango_ui_test_find_widget (GTK_WIDGET (window), ADW_TYPE_VIEW_SWITCHER_BAR);
  int min_width = 0;

  gtk_widget_measure (GTK_WIDGET (window), GTK_ORIENTATION_HORIZONTAL, -1, &min_width, NULL, NULL, NULL);
  g_assert_cmpint (min_width, <=, 360);
  g_assert_cmpint (surface_width (window), ==, 360);
  g_assert_true (adw_view_switcher_title_get_title_visible (ADW_VIEW_SWITCHER_TITLE (title)));
  g_assert_true (adw_view_switcher_bar_get_reveal (ADW_VIEW_SWITCHER_BAR (bar)));

  /* Last first, so that each click changes the page. */
  for (int i = G_N_ELEMENTS (pages) - 1; i >= 0; i--)
    {
      GtkWidget *button = switcher_button (bar, page_title (window, pages[i]));

      g_assert_nonnull (button);
      /* The bar slides in. */
      while (!gtk_widget_get_mapped (button))
        g_main_context_iteration (NULL, TRUE);
      g_assert_true (gtk_widget_activate (button));
      /* A button shows itself pressed for a moment before it acts. */
      while (g_strcmp0 (morango_window_get_page (window), pages[i]) != 0)
        g_main_context_iteration (NULL, TRUE);
    }
  gtk_window_destroy (GTK_WINDOW (window));
}

/* Wide, the header holds the switcher and the bar stays out of the way. */
static void
test_wide (void)
{
  g_autoptr(AdwApplication) app = test_app ();
  /* As wide as xvfb-run's screen allows. */
  MorangoWindow *window = open_window (app, 640, 480);
  GtkWidget *title = morango_ui_test_find_widget (GTK_WIDGET (window), ADW_TYPE_VIEW_SWITCHER_TITLE);
  GtkWidget *bar = morango_ui_test_find_widget (GTK_WIDGET (window), ADW_TYPE_VIEW_SWITCHER_BAR);

  g_assert_false (adw_view_switcher_title_get_title_visible (ADW_VIEW_SWITCHER_TITLE (title)));
  g_assert_false (adw_view_switcher_bar_get_reveal (ADW_VIEW_SWITCHER_BAR (bar)));
  g_assert_nonnull (switcher_button (title, page_title (window, "scopes")));
  gtk_window_destroy (GTK_WINDOW (window));
}

static gboolean
menu_has (GMenuModel *menu,
          const char *action)
{
  for (int i = 0; i < g_menu_model_get_n_items (menu); i++)
    {
      g_autofree char *name = NULL;
      g_autoptr(GMenuModel) section = g_menu_model_get_item_link (menu, i, G_MENU_LINK_SECTION);

      if (section != NULL && menu_has (section, action))
        return TRUE;
      if (g_menu_model_get_item_attribute (menu, i, G_MENU_ATTRIBUTE_ACTION, "s", &name) &&
          g_str_equal (name, action))
        return TRUE;
    }
  return FALSE;
}

static void
assert_accel (GtkApplication *app,
              const char     *action,
              const char     *accel)
{
  g_auto(GStrv) accels = gtk_application_get_accels_for_action (app, action);

  g_assert_true (g_strv_contains ((const char * const *) accels, accel));
}

static GtkWindow *find_toplevel (GType type);

static void
test_menu_and_shortcuts (void)
{
  g_autoptr(AdwApplication) app = test_app ();
  MorangoWindow *window = open_window (app, 0, 0);
  GtkMenuButton *button = GTK_MENU_BUTTON (morango_ui_test_find_widget (GTK_WIDGET (window), GTK_TYPE_MENU_BUTTON));
  GMenuModel *menu = gtk_menu_button_get_menu_model (button);

  g_assert_cmpstr (gtk_menu_button_get_icon_name (button), ==, "open-menu-symbolic");
  g_assert_true (menu_has (menu, "win.show-help-overlay"));
  g_assert_true (menu_has (menu, "app.about"));
  g_assert_true (menu_has (menu, "app.quit"));

  assert_accel (GTK_APPLICATION (app), "app.quit", "<Control>q");
  assert_accel (GTK_APPLICATION (app), "window.close", "<Control>w");
  assert_accel (GTK_APPLICATION (app), "win.show-help-overlay", "<Control>question");
  assert_accel (GTK_APPLICATION (app), "win.show-page::peers", "<Alt>1");
  assert_accel (GTK_APPLICATION (app), "win.show-page::certificates", "<Alt>2");
  assert_accel (GTK_APPLICATION (app), "win.show-page::scopes", "<Alt>3");
  assert_accel (GTK_APPLICATION (app), "win.add-peer", "<Control>n");
  assert_accel (GTK_APPLICATION (app), "win.import", "<Control>i");
  assert_accel (GTK_APPLICATION (app), "win.sync-all", "F5");

  /* The page shortcuts bring each page forward. */
  for (int i = G_N_ELEMENTS (pages) - 1; i >= 0; i--)
    {
      g_action_group_activate_action (G_ACTION_GROUP (window), "show-page", g_variant_new_string (pages[i]));
      g_assert_cmpstr (morango_window_get_page (window), ==, pages[i]);
    }
  /* An unknown page name leaves the page as it is. */
  g_action_group_activate_action (G_ACTION_GROUP (window), "show-page", g_variant_new_string ("nowhere"));
  g_assert_cmpstr (morango_window_get_page (window), ==, "peers");

  /* Each shortcut for a page's action shows that page. */
  morango_window_set_page (window, "scopes");
  g_action_group_activate_action (G_ACTION_GROUP (window), "sync-all", NULL);
  g_assert_cmpstr (morango_window_get_page (window), ==, "peers");

  /* The pages have their actions: the shortcuts open their dialogs. */
  g_assert_null (find_toplevel (MORANGO_TYPE_ADD_PEER_DIALOG));
  morango_window_set_page (window, "scopes");
  g_action_group_activate_action (G_ACTION_GROUP (window), "add-peer", NULL);
  g_assert_cmpstr (morango_window_get_page (window), ==, "peers");
  {
    GtkWindow *dialog;

    while ((dialog = find_toplevel (MORANGO_TYPE_ADD_PEER_DIALOG)) == NULL)
      g_main_context_iteration (NULL, TRUE);
    gtk_window_destroy (dialog);
  }
  g_assert_null (find_toplevel (GTK_TYPE_FILE_CHOOSER_DIALOG));
  g_action_group_activate_action (G_ACTION_GROUP (window), "import", NULL);
  g_assert_cmpstr (morango_window_get_page (window), ==, "certificates");
  {
    GtkWindow *chooser;

    /* No portal on the test's bus: the native chooser is GTK's dialog. */
    while ((chooser = find_toplevel (GTK_TYPE_FILE_CHOOSER_DIALOG)) == NULL)
      g_main_context_iteration (NULL, TRUE);
    gtk_dialog_response (GTK_DIALOG (chooser), GTK_RESPONSE_CANCEL);
  }

  gtk_window_destroy (GTK_WINDOW (window));
}

static GtkWindow *
find_toplevel (GType type)
{
  g_autoptr(GList) windows = gtk_window_list_toplevels ();

  for (GList *l = windows; l != NULL; l = l->next)
    if (G_TYPE_CHECK_INSTANCE_TYPE (l->data, type) && gtk_widget_get_visible (l->data))
      return l->data;
  return NULL;
}

static void
test_help_overlay (void)
{
  g_autoptr(AdwApplication) app = test_app ();
  MorangoWindow *window = open_window (app, 0, 0);
  GtkWindow *overlay;

  g_assert_null (find_toplevel (GTK_TYPE_SHORTCUTS_WINDOW));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.show-help-overlay", NULL));
  while ((overlay = find_toplevel (GTK_TYPE_SHORTCUTS_WINDOW)) == NULL || !gtk_widget_get_mapped (GTK_WIDGET (overlay)))
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (gtk_window_get_transient_for (overlay) == GTK_WINDOW (window));
  /* The shortcuts it lists are the ones the application has. */
  g_assert_true (label_is (GTK_WIDGET (overlay), "Add Peer"));
  g_assert_true (label_is (GTK_WIDGET (overlay), "Import Certificate"));
  gtk_window_close (overlay);
  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_about (void)
{
  g_autoptr(AdwApplication) app = test_app ();
  MorangoWindow *window = open_window (app, 0, 0);
  AdwAboutWindow *about;

  g_assert_null (find_toplevel (ADW_TYPE_ABOUT_WINDOW));
  g_action_group_activate_action (G_ACTION_GROUP (app), "about", NULL);
  about = ADW_ABOUT_WINDOW (find_toplevel (ADW_TYPE_ABOUT_WINDOW));
  g_assert_nonnull (about);
  g_assert_cmpstr (adw_about_window_get_version (about), ==, PACKAGE_VERSION);
  g_assert_cmpstr (adw_about_window_get_application_name (about), ==, "Morango Sync");
  g_assert_cmpstr (adw_about_window_get_application_icon (about), ==, "org.morango.Sync");
  g_assert_cmpint (adw_about_window_get_license_type (about), ==, GTK_LICENSE_MIT_X11);
  /* There is no website yet: no link to a placeholder. */
  g_assert_cmpstr (adw_about_window_get_website (about), ==, "");
  g_assert_true (gtk_window_get_transient_for (GTK_WINDOW (about)) == GTK_WINDOW (window));
  gtk_window_destroy (GTK_WINDOW (about));
  gtk_window_destroy (GTK_WINDOW (window));
}

static void
on_destroy (GtkWidget *widget,
            gboolean  *destroyed)
{
  *destroyed = TRUE;
}

static void
test_close_and_quit (void)
{
  g_autoptr(AdwApplication) app = test_app ();
  MorangoWindow *window = open_window (app, 0, 0);
  gboolean destroyed = FALSE;

  /* Ctrl+W's action closes the window. */
  g_signal_connect (window, "destroy", G_CALLBACK (on_destroy), &destroyed);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "window.close", NULL));
  drain ();
  g_assert_true (destroyed);

  /* Ctrl+Q's closes every window of the application. */
  {
    MorangoWindow *one = open_window (app, 0, 0);
    MorangoWindow *two = open_window (app, 0, 0);
    gboolean one_gone = FALSE, two_gone = FALSE;

    g_signal_connect (one, "destroy", G_CALLBACK (on_destroy), &one_gone);
    g_signal_connect (two, "destroy", G_CALLBACK (on_destroy), &two_gone);
    g_assert_cmpuint (g_list_length (gtk_application_get_windows (GTK_APPLICATION (app))), ==, 2);
    g_action_group_activate_action (G_ACTION_GROUP (app), "quit", NULL);
    drain ();
    g_assert_true (one_gone);
    g_assert_true (two_gone);
    g_assert_null (gtk_application_get_windows (GTK_APPLICATION (app)));
  }
}

/* The size a person left the window at is the one it opens at. */
static void
test_size_remembered (void)
{
  g_autoptr(AdwApplication) app = test_app ();
  g_autoptr(GSettings) settings = g_settings_new (MORANGO_SETTINGS_SCHEMA);
  MorangoWindow *window;
  int width = 0, height = 0;

  g_settings_set_int (settings, "window-width", 600);
  g_settings_set_int (settings, "window-height", 400);
  g_settings_set_boolean (settings, "window-maximized", FALSE);
  window = open_window (app, 0, 0);
  gtk_window_get_default_size (GTK_WINDOW (window), &width, &height);
  g_assert_cmpint (width, ==, 600);
  g_assert_cmpint (height, ==, 400);
  while (surface_width (window) != 600)
    g_main_context_iteration (NULL, TRUE);

  gtk_window_set_default_size (GTK_WINDOW (window), 620, 450);
  while (surface_width (window) != 620)
    g_main_context_iteration (NULL, TRUE);
  gtk_window_close (GTK_WINDOW (window));
  drain ();
  g_assert_cmpint (g_settings_get_int (settings, "window-width"), ==, 620);
  g_assert_cmpint (g_settings_get_int (settings, "window-height"), ==, 450);
  g_assert_false (g_settings_get_boolean (settings, "window-maximized"));

  g_settings_reset (settings, "window-width");
  g_settings_reset (settings, "window-height");
}

/* A button that shows only an icon tells a screen reader what it does. */
static void
assert_icon_buttons_labelled (GtkWidget *root)
{
  g_autoptr(GPtrArray) buttons = morango_ui_test_find_all (root, GTK_TYPE_BUTTON);
  g_autoptr(GPtrArray) menus = morango_ui_test_find_all (root, GTK_TYPE_MENU_BUTTON);
  guint checked = 0;

  for (guint i = 0; i < buttons->len; i++)
    {
      GtkButton *button = g_ptr_array_index (buttons, i);

      if (gtk_button_get_icon_name (button) == NULL || gtk_button_get_label (button) != NULL)
        continue;
      /* A spin button's own − and + are GTK's, not ours to label. */
      if (gtk_widget_get_ancestor (GTK_WIDGET (button), GTK_TYPE_SPIN_BUTTON) != NULL)
        continue;
      g_test_message ("icon button %s", gtk_button_get_icon_name (button));
      g_assert_true (gtk_test_accessible_has_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL));
      checked++;
    }
  for (guint i = 0; i < menus->len; i++)
    {
      GtkMenuButton *button = g_ptr_array_index (menus, i);

      if (gtk_menu_button_get_icon_name (button) == NULL || gtk_menu_button_get_label (button) != NULL)
        continue;
      g_test_message ("icon menu button %s", gtk_menu_button_get_icon_name (button));
      g_assert_true (gtk_test_accessible_has_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL));
      checked++;
    }
  g_assert_cmpuint (checked, >, 0);
}

static void
test_accessible_labels (void)
{
  g_autoptr(AdwApplication) app = test_app ();
  MorangoWindow *window = open_window (app, 0, 0);

  for (guint i = 0; i < G_N_ELEMENTS (pages); i++)
    {
      morango_window_set_page (window, pages[i]);
      drain ();
      assert_icon_buttons_labelled (GTK_WIDGET (window));
    }
  gtk_window_destroy (GTK_WINDOW (window));
}

static void
run_app (char     **args,
         gboolean   without_display,
         int       *status,
         char     **err)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_auto(GStrv) envp = g_get_environ ();
  g_autoptr(GError) error = NULL;
  int wait_status = 0;

  g_ptr_array_add (argv, (gpointer) g_getenv ("MORANGO_SYNC"));
  for (guint i = 0; args[i]; i++)
    g_ptr_array_add (argv, args[i]);
  g_ptr_array_add (argv, NULL);
  if (without_display)
    {
      envp = g_environ_unsetenv (envp, "DISPLAY");
      envp = g_environ_unsetenv (envp, "WAYLAND_DISPLAY");
    }
  g_spawn_sync (NULL, (char **) argv->pdata, envp, G_SPAWN_STDIN_FROM_DEV_NULL, NULL, NULL,
                NULL, err, &wait_status, &error);
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (wait_status));
  *status = WEXITSTATUS (wait_status);
}

/* A mistyped option is reported as that, display or not. */
static void
test_unknown_option (void)
{
  char *bogus[] = { (char *) "--bogus", NULL };
  char *valid[] = { (char *) "--data-dir=/nonexistent/morango", NULL };
  gboolean displays[] = { TRUE, FALSE };

  for (guint i = 0; i < G_N_ELEMENTS (displays); i++)
    {
      g_autofree char *err = NULL;
      int status = 0;

      run_app (bogus, displays[i], &status, &err);
      g_assert_cmpint (status, ==, 1);
      g_assert_nonnull (strstr (err, "Unknown option --bogus"));
      g_assert_null (strstr (err, "no display"));
    }

  /* Good options without a display still say what to do instead. */
  {
    g_autofree char *err = NULL;
    int status = 0;

    run_app (valid, TRUE, &status, &err);
    g_assert_cmpint (status, ==, 1);
    g_assert_nonnull (strstr (err, "no display"));
  }
}

int
main (int   argc,
      char *argv[])
{
  /* The accessible properties are kept only for a real or a test
   * accessibility backend, not for the suite's GTK_A11Y=none. */
  g_setenv ("GTK_A11Y", "test", TRUE);
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();
  /* Animations stay on: with them off, libadwaita 1.2's view switcher
   * title allocates its hidden switcher a height of -1 when it folds,
   * a warning the test would take for a failure. */
  g_test_add_func ("/ui-window/narrow", test_narrow);
  g_test_add_func ("/ui-window/wide", test_wide);
  g_test_add_func ("/ui-window/menu-and-shortcuts", test_menu_and_shortcuts);
  g_test_add_func ("/ui-window/help-overlay", test_help_overlay);
  g_test_add_func ("/ui-window/about", test_about);
  g_test_add_func ("/ui-window/close-and-quit", test_close_and_quit);
  g_test_add_func ("/ui-window/size-remembered", test_size_remembered);
  g_test_add_func ("/ui-window/accessible-labels", test_accessible_labels);
  g_test_add_func ("/ui-window/unknown-option", test_unknown_option);
  return g_test_run ();
}
