/* morango-transfer.h: one transfer session, driven from the client's side
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "morango-peer.h"
#include "morango-dequeue.h"
#include "morango-queue.h"

G_BEGIN_DECLS

typedef struct {
  MorangoFsicFormat  format;              /* default MORANGO_FSIC_V2 */
  guint              chunk_size;          /* records per chunk; default 500 */
  gboolean           no_fsic_reduction;   /* MORANGO_DISABLE_FSIC_REDUCTION */
  const char        *resume_transfer_session_id;   /* continue this one */
  /* What this side may write (its certificate's write filter; NULL:
   * everything); its dequeue leaves conflicts outside it to the writers
   * (morango_store_dequeue_scoped). */
  MorangoFilter     *writable;
} MorangoTransferOptions;

#define MORANGO_TRANSFER_OPTIONS_INIT { MORANGO_FSIC_V2, 500, FALSE, NULL, NULL }

typedef struct {
  char                 transfer_session_id[33];
  gint64               records_total;
  gint64               records_transferred;
  MorangoDequeueResult dequeue;             /* this side's dequeue (a pull) */
  double               seconds[MORANGO_N_STAGES];
} MorangoTransferStats;

/* Runs one transfer session for @filter between @store (the client) and
 * @peer (the server): a push (@store sends) or a pull (@peer sends),
 * through the stages of protocol §9: initializing, serializing,
 * queuing, transferring in chunks, dequeuing, deserializing, cleanup.
 * In each stage @store does its own part, then asks @peer to do its.
 * Every stage is atomic on each side, except the transfer, which
 * commits per chunk.  The stage reached is persisted: after a failure,
 * calling again with @options->resume_transfer_session_id continues
 * where it stopped.
 *
 * @monitor (may be NULL) sees the transferring stage as "transfer" with
 * the records received and the bytes of their serialized texts, and may
 * cancel it (G_IO_ERROR_CANCELLED) at any record: the chunk in flight
 * rolls back, and both sides keep the count of what was committed.
 * @stats may be NULL; its transfer_session_id is filled as soon as the
 * session exists, so a caller can resume after a failure.
 *
 * Blocks: run it on a worker thread.  The transferring stage reads
 * chunks on a second thread ("morango-chunk-source", started and joined
 * by morango_pipe_run() within the stage) while this one stores them. */
gboolean morango_transfer (MorangoStore                 *store,
                           MorangoPeer                  *peer,
                           MorangoFilter                *filter,
                           gboolean                      push,
                           const MorangoTransferOptions *options,
                           MorangoMonitor               *monitor,
                           MorangoTransferStats         *stats,
                           GError                      **error);

G_END_DECLS
