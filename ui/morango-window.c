/* morango-window.c: the main window
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gi18n.h>

#include "morango-certificates-page.h"
#include "morango-peers-page.h"
#include "morango-scopes-page.h"
#include "morango-window.h"

struct _MorangoWindow
{
  AdwApplicationWindow  parent_instance;
  AdwViewStack         *stack;
  MorangoPeersPage     *peers_page;
  MorangoCertificatesPage *certificates_page;
  MorangoScopesPage    *scopes_page;

  MorangoEngine        *engine;
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
      morango_peers_page_set_engine (self->peers_page, self->engine);
      morango_certificates_page_set_engine (self->certificates_page, self->engine);
      morango_scopes_page_set_engine (self->scopes_page, self->engine);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

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
  /* Not from inside the dialog's own response: the dialog goes with
   * the window it belongs to. */
  g_idle_add_full (G_PRIORITY_DEFAULT, destroy_later, g_object_ref (self), g_object_unref);
}

/* Closing would stop a running sync: ask first. */
static gboolean
on_close_request (GtkWindow *window)
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
  G_OBJECT_CLASS (morango_window_parent_class)->dispose (object);
}

static void
morango_window_class_init (MorangoWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->get_property = morango_window_get_property;
  object_class->set_property = morango_window_set_property;
  object_class->dispose = morango_window_dispose;
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
  GTK_WINDOW_CLASS (klass)->close_request = on_close_request;
}

static void
morango_window_init (MorangoWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
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
