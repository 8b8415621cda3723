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

void
morango_window_import_file (MorangoWindow *self,
                            GFile         *file)
{
  g_return_if_fail (MORANGO_IS_WINDOW (self));
  g_return_if_fail (G_IS_FILE (file));

  morango_window_set_page (self, "certificates");
  morango_certificates_page_import_file (self->certificates_page, file);
}
