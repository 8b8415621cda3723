/* morango-certificates-page.c: the Certificates page of the window
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gi18n.h>

#include "morango-certificates-page.h"

struct _MorangoCertificatesPage
{
  AdwBin         parent_instance;

  MorangoEngine *engine;
};

G_DEFINE_FINAL_TYPE (MorangoCertificatesPage, morango_certificates_page, ADW_TYPE_BIN)

static void
morango_certificates_page_dispose (GObject *object)
{
  MorangoCertificatesPage *self = MORANGO_CERTIFICATES_PAGE (object);

  gtk_widget_dispose_template (GTK_WIDGET (self), MORANGO_TYPE_CERTIFICATES_PAGE);
  g_clear_object (&self->engine);
  G_OBJECT_CLASS (morango_certificates_page_parent_class)->dispose (object);
}

static void
morango_certificates_page_class_init (MorangoCertificatesPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = morango_certificates_page_dispose;
  gtk_widget_class_set_template_from_resource (widget_class, "/org/morango/Sync/morango-certificates-page.ui");
}

static void
morango_certificates_page_init (MorangoCertificatesPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

void
morango_certificates_page_set_engine (MorangoCertificatesPage *self,
                                MorangoEngine      *engine)
{
  g_return_if_fail (MORANGO_IS_CERTIFICATES_PAGE (self));
  g_return_if_fail (engine == NULL || MORANGO_IS_ENGINE (engine));
  g_set_object (&self->engine, engine);
}

MorangoEngine *
morango_certificates_page_get_engine (MorangoCertificatesPage *self)
{
  g_return_val_if_fail (MORANGO_IS_CERTIFICATES_PAGE (self), NULL);
  return self->engine;
}
