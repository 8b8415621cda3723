/* morango-ui-test-util.h: what the widget tests share
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* The first widget of @type in the tree under @widget (itself
 * included, depth first), or NULL. */
GtkWidget *morango_ui_test_find_widget     (GtkWidget  *widget,
                                            GType       type);
/* Adds to @out every widget of @type under @widget (itself included),
 * depth first. */
void       morango_ui_test_collect         (GtkWidget  *widget,
                                            GType       type,
                                            GPtrArray  *out);
/* The same, in a new array. */
GPtrArray *morango_ui_test_find_all        (GtkWidget  *widget,
                                            GType       type);
/* Iterates the main loop until @widget's frame clock has painted once
 * more. */
void       morango_ui_test_await_painted   (GtkWidget  *widget);
/* Renders @widget as it is on screen to the PNG file @path; FALSE when
 * the file cannot be written. */
gboolean   morango_ui_test_save_png        (GtkWidget  *widget,
                                            const char *path);
/* The same to the PNG @name in the test's build folder
 * (G_TEST_BUILDDIR), asserting it was written and saying where in the
 * test log. */
void       morango_ui_test_save_screenshot (GtkWidget  *widget,
                                            const char *name);

G_END_DECLS
