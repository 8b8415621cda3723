/* morango-settings.h: the app's GSettings, installed or not
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define MORANGO_SETTINGS_SCHEMA "org.morango.Sync"

/* The app's settings (schema org.morango.Sync).  Installed, they are the
 * user's.  Run from the build folder (no schema installed), the schema
 * compiled there is used and the values live in memory for that run,
 * so the window, the serving switch and the file choosers work the
 * same, they are just not remembered.  Never NULL. */
GSettings *morango_settings_new (void);

G_END_DECLS
