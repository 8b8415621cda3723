/* morango-peers-page.h: the Peers page of the window
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <adwaita.h>

#include "morango-engine.h"

G_BEGIN_DECLS

#define MORANGO_TYPE_PEERS_PAGE (morango_peers_page_get_type ())
G_DECLARE_FINAL_TYPE (MorangoPeersPage, morango_peers_page, MORANGO, PEERS_PAGE, AdwBin)

/* Reads the engine's peers now and again on each "peers-changed". */
void           morango_peers_page_set_engine  (MorangoPeersPage *self,
                                               MorangoEngine    *engine);
MorangoEngine *morango_peers_page_get_engine  (MorangoPeersPage *self);
/* TRUE while a reading of the peers is on its way (property "loading"). */
gboolean       morango_peers_page_get_loading (MorangoPeersPage *self);
/* Whether a peer's sync runs in one of the rows. */
gboolean       morango_peers_page_is_syncing  (MorangoPeersPage *self);
/* Stops every sync running; the engine leaves each resumable. */
void           morango_peers_page_stop_syncs  (MorangoPeersPage *self);

G_END_DECLS
