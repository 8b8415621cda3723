/* morango-window.c: the main window
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gi18n.h>

#include "morango-certificates-page.h"
#include "morango-peers-page.h"
#include "morango-scopes-page.h"
#include "morango-settings.h"
#include "morango-window.h"

struct _MorangoWindow
{
  AdwApplicationWindow  parent_instance;
  AdwViewStack         *stack;
  MorangoPeersPage     *peers_page;
  MorangoCertificatesPage *certificates_page;
  MorangoScopesPage    *scopes_page;
  AdwViewSwitcherBar   *switcher_bar;

  MorangoEngine        *engine;
  GSettings            *settings;
};

G_DEFINE_FINAL_TYPE (MorangoWindow, morango_window, ADW_TYPE_APPLICATION_WINDOW)

enum { PROP_0, PROP_ENGINE, N_PROPS };
static GParamSpec *properties[N_PROPS];

static void
morango_window_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  MorangoWindow *self = MORANGO_WINDOW (object);

  switch (prop_id)
    {
    case PROP_ENGINE:
      g_value_set_object (value, self->engine);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
morango_window_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  MorangoWindow *self = MORANGO_WINDOW (object);

  switch (prop_id)
    {
    case PROP_ENGINE:
      /* Construct-only: the pages are built for one folder. */
      self->engine = g_value_dup_object (value);
      /* A person is in front of this window: syncs yield to it. */
      if (self->engine != NULL)
        morango_engine_set_background (self->engine, TRUE);
      morango_peers_page_set_engine (self->peers_page, self->engine);
      morango_certificates_page_set_engine (self->certificates_page, self->engine);
      morango_scopes_page_set_engine (self->scopes_page, self->engine);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void save_size (MorangoWindow *self);

static gboolean
destroy_later (gpointer data)
{
  gtk_window_destroy (data);
  return G_SOURCE_REMOVE;
}

static void
on_close_response (AdwMessageDialog *dialog,
                   const char       *response,
                   MorangoWindow    *self)
{
  if (!g_str_equal (response, "stop"))
    return;
  /* Each row keeps the application alive until its cancelled sync has
   * rolled back, so the next one resumes it. */
  morango_peers_page_stop_syncs (self->peers_page);
  save_size (self);
  /* Not from inside the dialog's own response: the dialog goes with
   * the window it belongs to. */
  g_idle_add_full (G_PRIORITY_DEFAULT, destroy_later, g_object_ref (self), g_object_unref);
}

/* Closing would stop a running sync: ask first.  TRUE when asking. */
static gboolean
ask_before_closing (GtkWindow *window)
{
  MorangoWindow *self = MORANGO_WINDOW (window);
  GtkWidget *dialog;

  if (!morango_peers_page_is_syncing (self->peers_page))
    return FALSE;
  dialog = adw_message_dialog_new (window, _("A Sync Is Running"),
                                   _("Closing stops it. Nothing is lost: the next sync with that peer "
                                     "continues where this one stopped."));
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "keep", _("_Keep Syncing"),
                                    "stop", _("_Stop and Close"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "stop", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "keep");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "keep");
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_close_response), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
  return TRUE;
}

static void
morango_window_dispose (GObject *object)
{
  MorangoWindow *self = MORANGO_WINDOW (object);

  gtk_widget_dispose_template (GTK_WIDGET (self), MORANGO_TYPE_WINDOW);
  g_clear_object (&self->engine);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (morango_window_parent_class)->dispose (object);
}

static void
save_size (MorangoWindow *self)
{
  GtkWindow *window = GTK_WINDOW (self);
  int width = 0, height = 0;

  /* A maximized window's default size is still the size it had
   * before, which is the one to come back to. */
  gtk_window_get_default_size (window, &width, &height);
  g_settings_delay (self->settings);
  g_settings_set_int (self->settings, "window-width", width);
  g_settings_set_int (self->settings, "window-height", height);
  g_settings_set_boolean (self->settings, "window-maximized", gtk_window_is_maximized (window));
  g_settings_apply (self->settings);
}

static gboolean
morango_window_close_request (GtkWindow *window)
{
  if (ask_before_closing (window))
    return TRUE;
  save_size (MORANGO_WINDOW (window));
  return GTK_WINDOW_CLASS (morango_window_parent_class)->close_request (window);
}

static void
show_page (GSimpleAction *action,
           GVariant      *parameter,
           gpointer       data)
{
  MorangoWindow *self = data;
  const char *name = g_variant_get_string (parameter, NULL);

  if (adw_view_stack_get_child_by_name (self->stack, name) != NULL)
    adw_view_stack_set_visible_child_name (self->stack, name);
}

/* The pages own what they do; the window's shortcuts only bring a page
 * forward and ask it.  A page without the action yet leaves it at that. */
static void
forward_to_page (MorangoWindow *self,
                 const char    *page,
                 GtkWidget     *widget,
                 const char    *action,
                 GVariant      *parameter)
{
  adw_view_stack_set_visible_child_name (self->stack, page);
  if (!gtk_widget_activate_action_variant (widget, action, parameter))
    g_debug ("the %s page has no action %s yet", page, action);
}

static void
add_peer (GSimpleAction *action,
          GVariant      *parameter,
          gpointer       data)
{
  MorangoWindow *self = data;

  forward_to_page (self, "peers", GTK_WIDGET (self->peers_page), "peers.add-peer", NULL);
}

static void
sync_all (GSimpleAction *action,
          GVariant      *parameter,
          gpointer       data)
{
  MorangoWindow *self = data;

  forward_to_page (self, "peers", GTK_WIDGET (self->peers_page), "peers.sync-all", NULL);
}

static void
import_certificate (GSimpleAction *action,
                    GVariant      *parameter,
                    gpointer       data)
{
  MorangoWindow *self = data;

  forward_to_page (self, "certificates", GTK_WIDGET (self->certificates_page), "certificates.import",
                   /* An empty path: the page asks for the file. */
                   g_variant_new_string (""));
}

static const GActionEntry window_actions[] = {
  { "show-page", show_page, "s", NULL, NULL },
  { "add-peer", add_peer, NULL, NULL, NULL },
  { "sync-all", sync_all, NULL, NULL, NULL },
  { "import", import_certificate, NULL, NULL, NULL },
};

static void
morango_window_class_init (MorangoWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->get_property = morango_window_get_property;
  object_class->set_property = morango_window_set_property;
  object_class->dispose = morango_window_dispose;
  GTK_WINDOW_CLASS (klass)->close_request = morango_window_close_request;
  properties[PROP_ENGINE] =
    g_param_spec_object ("engine", NULL, NULL, MORANGO_TYPE_ENGINE,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (MORANGO_TYPE_PEERS_PAGE);
  g_type_ensure (MORANGO_TYPE_CERTIFICATES_PAGE);
  g_type_ensure (MORANGO_TYPE_SCOPES_PAGE);

  gtk_widget_class_set_template_from_resource (widget_class, "/org/morango/Sync/morango-window.ui");
  gtk_widget_class_bind_template_child (widget_class, MorangoWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, MorangoWindow, peers_page);
  gtk_widget_class_bind_template_child (widget_class, MorangoWindow, certificates_page);
  gtk_widget_class_bind_template_child (widget_class, MorangoWindow, scopes_page);
  gtk_widget_class_bind_template_child (widget_class, MorangoWindow, switcher_bar);
}

static void
morango_window_init (MorangoWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  g_action_map_add_action_entries (G_ACTION_MAP (self), window_actions, G_N_ELEMENTS (window_actions), self);

  self->settings = morango_settings_new ();
  gtk_window_set_default_size (GTK_WINDOW (self),
                               g_settings_get_int (self->settings, "window-width"),
                               g_settings_get_int (self->settings, "window-height"));
  if (g_settings_get_boolean (self->settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));
}

MorangoWindow *
morango_window_new (AdwApplication *app,
                    MorangoEngine  *engine)
{
  g_return_val_if_fail (ADW_IS_APPLICATION (app), NULL);
  g_return_val_if_fail (MORANGO_IS_ENGINE (engine), NULL);
  return g_object_new (MORANGO_TYPE_WINDOW, "application", app, "engine", engine, NULL);
}

MorangoEngine *
morango_window_get_engine (MorangoWindow *self)
{
  g_return_val_if_fail (MORANGO_IS_WINDOW (self), NULL);
  return self->engine;
}

const char *
morango_window_get_page (MorangoWindow *self)
{
  g_return_val_if_fail (MORANGO_IS_WINDOW (self), NULL);
  return adw_view_stack_get_visible_child_name (self->stack);
}

void
morango_window_set_page (MorangoWindow *self,
                         const char    *name)
{
  g_return_if_fail (MORANGO_IS_WINDOW (self));
  adw_view_stack_set_visible_child_name (self->stack, name);
}

static void
quit (GSimpleAction *action,
      GVariant      *parameter,
      gpointer       data)
{
  GtkApplication *app = data;
  g_autoptr(GList) windows = g_list_copy (gtk_application_get_windows (app));

  /* Closed, not destroyed: a window may save its size or ask first.  The
   * application ends when its last window is gone. */
  for (GList *l = windows; l != NULL; l = l->next)
    gtk_window_close (l->data);
  if (windows == NULL)
    g_application_quit (G_APPLICATION (app));
}

static void
about (GSimpleAction *action,
       GVariant      *parameter,
       gpointer       data)
{
  GtkApplication *app = data;
  static const char *developers[] = { "The Morango Sync developers", NULL };
  GtkWidget *window;

  window = g_object_new (ADW_TYPE_ABOUT_WINDOW,
                         "transient-for", gtk_application_get_active_window (app),
                         "modal", TRUE,
                         "application", app,
                         "application-name", _("Morango Sync"),
                         "application-icon", "org.morango.Sync",
                         "version", PACKAGE_VERSION,
                         "developer-name", "The Morango Sync developers",
                         "developers", developers,
                         "license-type", GTK_LICENSE_MIT_X11,
                         "comments", _("Sync school and clinic data between devices, even offline."),
                         /* TRANSLATORS: your names, one a line, shown in the About window */
                         "translator-credits", _("translator-credits"),
                         NULL);
  gtk_window_present (GTK_WINDOW (window));
}

static const GActionEntry app_actions[] = {
  { "quit", quit, NULL, NULL, NULL },
  { "about", about, NULL, NULL, NULL },
};

void
morango_window_add_app_actions (GtkApplication *app)
{
  static const struct { const char *action; const char *accels[3]; } accels[] = {
    { "app.quit", { "<Control>q", NULL } },
    { "window.close", { "<Control>w", NULL } },
    { "win.show-page::peers", { "<Alt>1", NULL } },
    { "win.show-page::certificates", { "<Alt>2", NULL } },
    { "win.show-page::scopes", { "<Alt>3", NULL } },
    { "win.add-peer", { "<Control>n", NULL } },
    { "win.sync-all", { "<Control>r", "F5", NULL } },
    { "win.import", { "<Control>i", NULL } },
  };

  g_return_if_fail (GTK_IS_APPLICATION (app));

  g_action_map_add_action_entries (G_ACTION_MAP (app), app_actions, G_N_ELEMENTS (app_actions), app);
  for (guint i = 0; i < G_N_ELEMENTS (accels); i++)
    gtk_application_set_accels_for_action (app, accels[i].action, accels[i].accels);
}

void
morango_window_import_file (MorangoWindow *self,
                            GFile         *file)
{
  g_return_if_fail (MORANGO_IS_WINDOW (self));
  g_return_if_fail (G_IS_FILE (file));

  morango_window_set_page (self, "certificates");
  morango_certificates_page_import_file (self->certificates_page, file);
}
