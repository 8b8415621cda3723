/* morango-scopes-page.c: the Scopes page of the window
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gi18n.h>

#include "morango-scopes-page.h"

struct _MorangoScopesPage
{
  AdwBin         parent_instance;

  MorangoEngine *engine;
};

G_DEFINE_FINAL_TYPE (MorangoScopesPage, morango_scopes_page, ADW_TYPE_BIN)

static void
morango_scopes_page_dispose (GObject *object)
{
  MorangoScopesPage *self = MORANGO_SCOPES_PAGE (object);

  gtk_widget_dispose_template (GTK_WIDGET (self), MORANGO_TYPE_SCOPES_PAGE);
  g_clear_object (&self->engine);
  G_OBJECT_CLASS (morango_scopes_page_parent_class)->dispose (object);
}

static void
morango_scopes_page_class_init (MorangoScopesPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = morango_scopes_page_dispose;
  gtk_widget_class_set_template_from_resource (widget_class, "/org/morango/Sync/morango-scopes-page.ui");
}

static void
morango_scopes_page_init (MorangoScopesPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

void
morango_scopes_page_set_engine (MorangoScopesPage *self,
                                MorangoEngine      *engine)
{
  g_return_if_fail (MORANGO_IS_SCOPES_PAGE (self));
  g_return_if_fail (engine == NULL || MORANGO_IS_ENGINE (engine));
  g_set_object (&self->engine, engine);
}

MorangoEngine *
morango_scopes_page_get_engine (MorangoScopesPage *self)
{
  g_return_val_if_fail (MORANGO_IS_SCOPES_PAGE (self), NULL);
  return self->engine;
}
