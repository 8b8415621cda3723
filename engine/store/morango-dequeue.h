/* morango-dequeue.h: dequeuing, buffer -> store, with the merge,
 * conflict and deletion rules (protocol §5)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "morango-fsic.h"
#include "morango-store.h"

G_BEGIN_DECLS

/* What a dequeue did, per class of incoming record (§5.1). */
typedef struct {
  gint64 n_new;
  gint64 n_fast_forward;
  gint64 n_reverse_fast_forward;
  gint64 n_conflict;
  gint64 n_conflict_read_only;  /* conflicts outside our write filter: incoming kept */
  gint64 counter;  /* the local version stamped on conflicts */
} MorangoDequeueResult;

/* Receiver side (§5.2): merges the buffered records of
 * @transfer_session_id into the store, then updates the DMC from the
 * sender's FSIC (§3.10), all in one transaction.  Malformed buffer rows
 * are refused (MORANGO_ERROR_INVALID, naming the record) before anything
 * changes; any failure rolls the whole dequeue back.  @result may be
 * NULL.  @monitor (may be NULL) hears of stage "dequeue" and of the
 * records merged, a round of up to 1000 at a time; once it is cancelled
 * the stage rolls back and fails with G_IO_ERROR_CANCELLED. */
gboolean     morango_store_dequeue             (MorangoStore         *store,
                                                const char           *transfer_session_id,
                                                MorangoFilter        *filter,
                                                MorangoFsicFormat     format,
                                                const char           *sender_fsic,
                                                MorangoDequeueResult *result,
                                                MorangoMonitor       *monitor,
                                                GError              **error);
/* The same for a receiver that may write only the partitions of
 * @writable (its certificate's write filter; NULL: everything).  A
 * conflict on a record outside @writable is not resolved here: the
 * incoming version is taken as it is and the histories merge by maximum,
 * with the displaced local data kept in the conflict log.  A device that
 * cannot send its resolution back to the writers would otherwise keep
 * its own version forever (Morango 0.8 resolves it locally all the same;
 * a deliberate difference). */
gboolean     morango_store_dequeue_scoped      (MorangoStore         *store,
                                                const char           *transfer_session_id,
                                                MorangoFilter        *filter,
                                                MorangoFilter        *writable,
                                                MorangoFsicFormat     format,
                                                const char           *sender_fsic,
                                                MorangoDequeueResult *result,
                                                MorangoMonitor       *monitor,
                                                GError              **error);

G_END_DECLS
