/* morango-peer-row.h: one known peer on the Peers page
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <adwaita.h>

#include "morango-engine.h"

G_BEGIN_DECLS

#define MORANGO_TYPE_PEER_ROW (morango_peer_row_get_type ())
G_DECLARE_FINAL_TYPE (MorangoPeerRow, morango_peer_row, MORANGO, PEER_ROW, AdwActionRow)

MorangoPeerRow         *morango_peer_row_new        (MorangoEngine          *engine,
                                                     const MorangoKnownPeer *peer);
const MorangoKnownPeer *morango_peer_row_get_peer   (MorangoPeerRow         *self);
/* A newer reading of the same peer (same id). */
void                    morango_peer_row_set_peer   (MorangoPeerRow         *self,
                                                     const MorangoKnownPeer *peer);
gboolean                morango_peer_row_is_syncing (MorangoPeerRow         *self);
/* Stops the sync running, if any; the engine leaves it resumable. */
void                    morango_peer_row_cancel     (MorangoPeerRow         *self);
/* The last sync's outcome as the toast said it; NULL before one. */
const char             *morango_peer_row_get_outcome (MorangoPeerRow        *self);
/* While syncing: records each way, bytes each way, time left. */
const char             *morango_peer_row_get_detail  (MorangoPeerRow        *self);

G_END_DECLS
