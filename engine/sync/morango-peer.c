/* morango-peer.c: the other side of a transfer
 *
 * SPDX-License-Identifier: MIT
 */
#include "morango-peer.h"

G_DEFINE_INTERFACE (MorangoPeer, morango_peer, G_TYPE_OBJECT)

static gboolean
morango_peer_real_prepare_chunk (MorangoPeer         *self,
                                 const char          *id,
                                 MorangoBufferChunk  *chunk,
                                 GError             **error)
{
  return TRUE;
}

static void
morango_peer_default_init (MorangoPeerInterface *iface)
{
  iface->prepare_chunk = morango_peer_real_prepare_chunk;
}

MorangoSyncSession *
morango_peer_open_sync_session (MorangoPeer               *self,
                                const MorangoSyncSession  *request,
                                GCancellable              *cancellable,
                                GError                   **error)
{
  g_return_val_if_fail (MORANGO_IS_PEER (self), NULL);
  g_return_val_if_fail (request != NULL && request->id != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return MORANGO_PEER_GET_IFACE (self)->open_sync_session (self, request, cancellable, error);
}

MorangoTransferSession *
morango_peer_create_transfer_session (MorangoPeer                   *self,
                                      const MorangoTransferSession  *request,
                                      GCancellable                  *cancellable,
                                      GError                       **error)
{
  g_return_val_if_fail (MORANGO_IS_PEER (self), NULL);
  g_return_val_if_fail (request != NULL && request->id != NULL, NULL);
  g_return_val_if_fail (request->sync_session_id != NULL && request->filter != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return MORANGO_PEER_GET_IFACE (self)->create_transfer_session (self, request, cancellable, error);
}

MorangoTransferSession *
morango_peer_get_transfer_session (MorangoPeer   *self,
                                   const char    *id,
                                   GCancellable  *cancellable,
                                   GError       **error)
{
  g_return_val_if_fail (MORANGO_IS_PEER (self), NULL);
  g_return_val_if_fail (id != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return MORANGO_PEER_GET_IFACE (self)->get_transfer_session (self, id, cancellable, error);
}

MorangoTransferSession *
morango_peer_proceed (MorangoPeer              *self,
                      const char               *id,
                      MorangoStage              stage,
                      const MorangoPeerUpdate  *update,
                      GCancellable             *cancellable,
                      GError                  **error)
{
  static const MorangoPeerUpdate nothing = MORANGO_PEER_UPDATE_INIT;

  g_return_val_if_fail (MORANGO_IS_PEER (self), NULL);
  g_return_val_if_fail (id != NULL, NULL);
  g_return_val_if_fail (stage < MORANGO_N_STAGES, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return MORANGO_PEER_GET_IFACE (self)->proceed (self, id, stage, update ? update : &nothing,
                                                 cancellable, error);
}

gboolean
morango_peer_prepare_chunk (MorangoPeer         *self,
                            const char          *id,
                            MorangoBufferChunk  *chunk,
                            GError             **error)
{
  g_return_val_if_fail (MORANGO_IS_PEER (self), FALSE);
  g_return_val_if_fail (id != NULL && chunk != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return MORANGO_PEER_GET_IFACE (self)->prepare_chunk (self, id, chunk, error);
}

gboolean
morango_peer_push_chunk (MorangoPeer         *self,
                         const char          *id,
                         MorangoBufferChunk  *chunk,
                         MorangoMonitor      *monitor,
                         GError             **error)
{
  g_return_val_if_fail (MORANGO_IS_PEER (self), FALSE);
  g_return_val_if_fail (id != NULL && chunk != NULL, FALSE);
  g_return_val_if_fail (monitor == NULL || MORANGO_IS_MONITOR (monitor), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return MORANGO_PEER_GET_IFACE (self)->push_chunk (self, id, chunk, monitor, error);
}

MorangoBufferChunk *
morango_peer_fetch_chunk (MorangoPeer   *self,
                          const char    *id,
                          gint64         offset,
                          guint          limit,
                          GCancellable  *cancellable,
                          GError       **error)
{
  g_return_val_if_fail (MORANGO_IS_PEER (self), NULL);
  g_return_val_if_fail (id != NULL, NULL);
  g_return_val_if_fail (offset >= 0 && limit > 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return MORANGO_PEER_GET_IFACE (self)->fetch_chunk (self, id, offset, limit, cancellable, error);
}

gboolean
morango_peer_close (MorangoPeer   *self,
                    const char    *transfer_session_id,
                    const char    *sync_session_id,
                    GCancellable  *cancellable,
                    GError       **error)
{
  g_return_val_if_fail (MORANGO_IS_PEER (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return MORANGO_PEER_GET_IFACE (self)->close (self, transfer_session_id, sync_session_id,
                                               cancellable, error);
}
