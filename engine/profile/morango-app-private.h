/* morango-app-private.h: application-row helpers shared with the store stages
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "morango-row-private.h"
#include "morango-app.h"

G_BEGIN_DECLS

/* Upserts every column of @row with the given dirty bit. */
gboolean morango_app_write_row      (MorangoApp    *app,
                                     MorangoRow    *row,
                                     gboolean       dirty,
                                     GError       **error);
/* Deletes the row and its dependents by the description's foreign keys.
 * @track_self / @track_dependents: queue the deletions in
 * morango_deletedmodels (and morango_harddeletedmodels with @hard). */
gboolean morango_app_delete_cascade (MorangoApp    *app,
                                     MorangoModel  *model,
                                     const char    *id,
                                     gboolean       track_self,
                                     gboolean       track_dependents,
                                     gboolean       hard,
                                     GError       **error);
/* The random source new ids and defaults come from. */
MorangoRandom *morango_app_get_random (MorangoApp *app);
/* The checks morango_app_create() runs before it writes: field
 * validation, then every foreign key names an existing row. */
gboolean morango_app_check_row      (MorangoApp    *app,
                                     MorangoRow    *row,
                                     GError       **error);

G_END_DECLS
