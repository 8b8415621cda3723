/* morango-window.h
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <adwaita.h>

#include "morango-engine.h"

G_BEGIN_DECLS

#define MORANGO_TYPE_WINDOW (morango_window_get_type ())
G_DECLARE_FINAL_TYPE (MorangoWindow, morango_window, MORANGO, WINDOW, AdwApplicationWindow)

/* The window shows the folder of @engine. */
MorangoWindow *morango_window_new           (AdwApplication *app,
                                             MorangoEngine  *engine);
MorangoEngine *morango_window_get_engine    (MorangoWindow  *self);
/* The page shown: "peers", "certificates" or "scopes". */
const char    *morango_window_get_page      (MorangoWindow  *self);
void           morango_window_set_page      (MorangoWindow  *self,
                                             const char     *name);
/* Shows the Certificates page and offers to import the chain in
 * @file, asking before anything is stored. */
void           morango_window_import_file   (MorangoWindow  *self,
                                             GFile          *file);

/* Gives @app the actions of the primary menu (app.quit, app.about) and
 * the keyboard shortcuts of the window's actions.  Call it once, at
 * start-up. */
void           morango_window_add_app_actions (GtkApplication *app);

G_END_DECLS
