/* morango-serve-row.h: the switch that makes this device serve peers
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <adwaita.h>

#include "morango-engine.h"

G_BEGIN_DECLS

#define MORANGO_TYPE_SERVE_ROW (morango_serve_row_get_type ())
G_DECLARE_FINAL_TYPE (MorangoServeRow, morango_serve_row, MORANGO, SERVE_ROW, AdwBin)

/* With an engine, the row serves at once when the GSettings key "serve"
 * is on (the admin password was set when it was first turned on). */
void          morango_serve_row_set_engine          (MorangoServeRow *self,
                                                     MorangoEngine   *engine);
/* Whether an engine call of the row's is pending ("busy" notifies). */
gboolean      morango_serve_row_get_busy            (MorangoServeRow *self);
/* The dialog asking for the admin password while it is open, or NULL. */
AdwMessageDialog *morango_serve_row_get_password_dialog (MorangoServeRow *self);
/* Why serving failed the last time, or NULL. */
const char   *morango_serve_row_get_error           (MorangoServeRow *self);

G_END_DECLS
