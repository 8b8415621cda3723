/* morango-local-sync.c: sync two engine databases in one process
 *
 * A transfer on the client's store driving the server's store through a
 * MorangoLocalPeer: the stages of a network sync, with chunks handed
 * over in memory instead of over HTTP.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "morango-local-peer.h"
#include "morango-local-sync.h"

gboolean
morango_local_sync (MorangoStore                   *client,
                    MorangoStore                   *server,
                    MorangoFilter                  *filter,
                    gboolean                        push,
                    const MorangoLocalSyncOptions  *options,
                    MorangoMonitor                 *monitor,
                    MorangoLocalSyncStats          *stats,
                    GError                        **error)
{
  static const MorangoLocalSyncOptions defaults = MORANGO_LOCAL_SYNC_OPTIONS_INIT;
  g_autoptr(MorangoLocalPeer) peer = NULL;
  MorangoTransferOptions transfer_options = MORANGO_TRANSFER_OPTIONS_INIT;
  MorangoTransferStats transfer_stats;
  MorangoDequeueResult dequeue = { 0 };
  MorangoStore *sender = push ? client : server;
  gboolean ok;

  g_return_val_if_fail (MORANGO_IS_STORE (client), FALSE);
  g_return_val_if_fail (MORANGO_IS_STORE (server), FALSE);
  /* The transfer uses the two connections from two threads. */
  g_return_val_if_fail (client != server, FALSE);
  g_return_val_if_fail (filter != NULL, FALSE);

  if (options == NULL)
    options = &defaults;
  transfer_options.format = options->format;
  transfer_options.chunk_size = options->chunk_size;
  transfer_options.no_fsic_reduction = options->no_fsic_reduction;
  transfer_options.resume_transfer_session_id = options->resume_transfer_session_id;
  transfer_options.writable = options->client_writable;
  peer = morango_local_peer_new (server, options->format, !options->no_fsic_reduction,
                                 options->server_writable);
  /* One monitor for both sides: their stages report to it, and its
   * cancel and fault hook reach them all. */
  morango_local_peer_set_monitor (peer, monitor);

  ok = morango_transfer (client, MORANGO_PEER (peer), filter, push, &transfer_options, monitor,
                         &transfer_stats, error);
  if (push)
    dequeue = *morango_local_peer_get_dequeue_result (peer);
  /* The peer lent itself the server's connection: this thread's again. */
  g_clear_object (&peer);

  if (stats != NULL)
    {
      memset (stats, 0, sizeof *stats);
      memcpy (stats->transfer_session_id, transfer_stats.transfer_session_id,
              sizeof stats->transfer_session_id);
      stats->records_total = transfer_stats.records_total;
      stats->records_transferred = transfer_stats.records_transferred;
      stats->dequeue = push ? dequeue : transfer_stats.dequeue;
      memcpy (stats->seconds, transfer_stats.seconds, sizeof stats->seconds);
      /* Only serializing moves the sender's counter during a transfer. */
      morango_instance_get_counter (morango_store_get_db (sender),
                                    morango_store_get_instance_id (sender),
                                    &stats->records_serialized_counter, NULL);
    }
  return ok;
}
