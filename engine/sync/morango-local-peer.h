/* morango-local-peer.h: a store in this process as the other side of a transfer
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "morango-peer.h"
#include "morango-dequeue.h"
#include "morango-queue.h"

G_BEGIN_DECLS

#define MORANGO_TYPE_LOCAL_PEER (morango_local_peer_get_type ())
G_DECLARE_FINAL_TYPE (MorangoLocalPeer, morango_local_peer, MORANGO, LOCAL_PEER, GObject)

/* The server role of @store, answering a transfer as the HTTP server
 * would (protocol §9.7): it runs its own stages on its own connection.
 * @format is the negotiated FSIC format, @fsic_reduction the FSIC
 * relevance filter (§3.7), and @writable what this side may write (its
 * certificate's write filter; NULL: everything), which its dequeue
 * respects (morango_store_dequeue_scoped()).
 *
 * The peer answers each request on whichever thread makes it, owning
 * the store's connection only meanwhile: the calling thread must own it
 * when making the peer and hands it over (it belongs to nobody between
 * requests); dropping the peer's last reference takes it back on the
 * thread that drops it. */
MorangoLocalPeer           *morango_local_peer_new                (MorangoStore      *store,
                                                                   MorangoFsicFormat  format,
                                                                   gboolean           fsic_reduction,
                                                                   MorangoFilter     *writable);
MorangoStore               *morango_local_peer_get_store          (MorangoLocalPeer  *self);
/* The monitor the peer's own stages report to and stop on (NULL: none). */
void                        morango_local_peer_set_monitor        (MorangoLocalPeer  *self,
                                                                   MorangoMonitor    *monitor);
/* What the peer's last dequeue did (a push to it); zero before one. */
const MorangoDequeueResult *morango_local_peer_get_dequeue_result (MorangoLocalPeer  *self);

G_END_DECLS
