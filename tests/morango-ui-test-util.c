/* morango-ui-test-util.c: what the widget tests share
 *
 * SPDX-License-Identifier: MIT
 */
#include "morango-ui-test-util.h"

GtkWidget *
morango_ui_test_find_widget (GtkWidget *widget,
                             GType      type)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (widget, type))
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = morango_ui_test_find_widget (child, type);

      if (found != NULL)
        return found;
    }
  return NULL;
}

void
morango_ui_test_collect (GtkWidget *widget,
                         GType      type,
                         GPtrArray *out)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (widget, type))
    g_ptr_array_add (out, widget);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child;
       child = gtk_widget_get_next_sibling (child))
    morango_ui_test_collect (child, type, out);
}

GPtrArray *
morango_ui_test_find_all (GtkWidget *widget,
                          GType      type)
{
  GPtrArray *found = g_ptr_array_new ();

  morango_ui_test_collect (widget, type, found);
  return found;
}

static void
on_after_paint (GdkFrameClock *clock,
                gboolean      *painted)
{
  *painted = TRUE;
}

void
morango_ui_test_await_painted (GtkWidget *widget)
{
  GdkFrameClock *clock = gtk_widget_get_frame_clock (widget);
  gboolean painted = FALSE;
  gulong id;

  g_assert_nonnull (clock);
  id = g_signal_connect (clock, "after-paint", G_CALLBACK (on_after_paint), &painted);
  gtk_widget_queue_draw (widget);
  while (!painted)
    g_main_context_iteration (NULL, TRUE);
  g_signal_handler_disconnect (clock, id);
}

gboolean
morango_ui_test_save_png (GtkWidget  *widget,
                          const char *path)
{
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  int width = 0, height = 0;

  /* A window just mapped may have no drawing to copy yet: draw again
   * until there is one. */
  while (node == NULL)
    {
      g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();

      morango_ui_test_await_painted (widget);
      width = gtk_widget_get_width (widget);
      height = gtk_widget_get_height (widget);
      gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot), width, height);
      node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
    }
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (gtk_widget_get_native (widget)), node,
                                         &GRAPHENE_RECT_INIT (0, 0, width, height));
  return gdk_texture_save_to_png (texture, path);
}

void
morango_ui_test_save_screenshot (GtkWidget  *widget,
                                 const char *name)
{
  g_autofree char *path = g_build_filename (g_getenv ("G_TEST_BUILDDIR") ? g_getenv ("G_TEST_BUILDDIR") : ".",
                                            name, NULL);

  g_assert_true (morango_ui_test_save_png (widget, path));
  g_test_message ("screenshot: %s", path);
}
