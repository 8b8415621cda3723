/* morango-add-peer-dialog.h: adding a peer by its address
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <adwaita.h>

#include "morango-engine.h"

G_BEGIN_DECLS

#define MORANGO_TYPE_ADD_PEER_DIALOG (morango_add_peer_dialog_get_type ())
G_DECLARE_FINAL_TYPE (MorangoAddPeerDialog, morango_add_peer_dialog, MORANGO, ADD_PEER_DIALOG, AdwWindow)

/* Asks for an address, has the engine remember the peer, then offers
 * to pair with it at once (a MorangoPairDialog).  @parent may be NULL. */
MorangoAddPeerDialog   *morango_add_peer_dialog_new      (MorangoEngine        *engine,
                                                          GtkWindow            *parent);
/* Why the address was refused; NULL when it was not. */
const char             *morango_add_peer_dialog_get_error (MorangoAddPeerDialog *self);
/* The peer added, once it is; NULL before. */
const MorangoKnownPeer *morango_add_peer_dialog_get_peer  (MorangoAddPeerDialog *self);

G_END_DECLS
