/* morango-local-sync.h: sync two engine databases in one process
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "morango-dequeue.h"
#include "morango-session.h"

G_BEGIN_DECLS

typedef struct {
  MorangoFsicFormat format;              /* default MORANGO_FSIC_V2 */
  guint             chunk_size;          /* records per transfer chunk; default 500 */
  gboolean          no_fsic_reduction;   /* MORANGO_DISABLE_FSIC_REDUCTION */
  const char       *resume_transfer_session_id;   /* continue this one */
  /* What each side may write (its certificate's write filter; NULL:
   * everything).  A receiver leaves conflicts outside it to the writers
   * (morango_store_dequeue_scoped). */
  MorangoFilter    *client_writable;
  MorangoFilter    *server_writable;
} MorangoLocalSyncOptions;

typedef struct {
  char                 transfer_session_id[33];
  gint64               records_serialized_counter;  /* the sender's counter after serializing */
  gint64               records_total;
  gint64               records_transferred;
  MorangoDequeueResult dequeue;
  double               seconds[MORANGO_N_STAGES];
} MorangoLocalSyncStats;

#define MORANGO_LOCAL_SYNC_OPTIONS_INIT { MORANGO_FSIC_V2, 500, FALSE, NULL, NULL, NULL }

/* Runs one transfer between @client and @server for @filter: a push
 * (client sends) or a pull (server sends), through the stages a network
 * sync uses: serialize, queue, transfer in chunks, dequeue, deserialize,
 * cleanup.  Every stage is atomic on each database, except the transfer,
 * which commits per chunk.  The stage reached is persisted on both
 * sides: after a failure, calling again with
 * @options->resume_transfer_session_id continues where it stopped.
 * @stats may be NULL; its transfer_session_id is filled as soon as the
 * session exists, so a caller can resume after a failure. */
gboolean morango_local_sync (MorangoStore                  *client,
                             MorangoStore                  *server,
                             MorangoFilter                 *filter,
                             gboolean                       push,
                             const MorangoLocalSyncOptions *options,
                             MorangoLocalSyncStats         *stats,
                             GError                       **error);

G_END_DECLS
