/* morango-window.c: the main window
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gi18n.h>

#include "morango-window.h"

struct _MorangoWindow
{
  AdwApplicationWindow  parent_instance;
  AdwViewStack         *stack;
};

G_DEFINE_FINAL_TYPE (MorangoWindow, morango_window, ADW_TYPE_APPLICATION_WINDOW)

static void
morango_window_class_init (MorangoWindowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  gtk_widget_class_set_template_from_resource (widget_class, "/org/morango/Sync/morango-window.ui");
  gtk_widget_class_bind_template_child (widget_class, MorangoWindow, stack);
}

static void
morango_window_init (MorangoWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

MorangoWindow *
morango_window_new (AdwApplication *app)
{
  return g_object_new (MORANGO_TYPE_WINDOW, "application", app, NULL);
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
