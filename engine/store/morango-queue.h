/* morango-queue.h: the store side of a transfer: FSICs from the
 * database, queuing (store -> buffer), dequeuing (buffer -> store) and
 * the DMC update (protocol §3.6–§3.10, §5)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "morango-fsic.h"
#include "morango-store.h"

G_BEGIN_DECLS

/* Our FSIC for @filter from the DMC (§3.6, §3.7).  @reduction is the
 * relevance filter of §3.7 step 3 (Python's MORANGO_DISABLE_FSIC_REDUCTION
 * switches it off); v1 ignores it. */
MorangoFsic *morango_store_calculate_fsic      (MorangoStore      *store,
                                                MorangoFilter     *filter,
                                                gboolean           is_producer,
                                                MorangoFsicFormat  format,
                                                gboolean           reduction,
                                                GError           **error);
/* The same as wire text (what goes into client_fsic / server_fsic). */
char        *morango_store_calculate_fsic_json (MorangoStore      *store,
                                                MorangoFilter     *filter,
                                                gboolean           is_producer,
                                                MorangoFsicFormat  format,
                                                gboolean           reduction,
                                                GError           **error);

/* Producer side (§3.9): puts the store rows of this store's profile that
 * the receiver lacks into morango_buffer / morango_recordmaxcounterbuffer
 * for @transfer_session_id, in one transaction, replacing whatever that
 * session had queued before.  Sets records_total on the transfer session
 * row when there is one and returns it in @records_total.  The FSICs are
 * the wire texts; @format is the negotiated one. */
gboolean     morango_store_queue               (MorangoStore      *store,
                                                const char        *transfer_session_id,
                                                MorangoFilter     *filter,
                                                MorangoFsicFormat  format,
                                                const char        *sender_fsic,
                                                const char        *receiver_fsic,
                                                gint64            *records_total,
                                                GError           **error);

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
 * NULL. */
gboolean     morango_store_dequeue             (MorangoStore         *store,
                                                const char           *transfer_session_id,
                                                MorangoFilter        *filter,
                                                MorangoFsicFormat     format,
                                                const char           *sender_fsic,
                                                MorangoDequeueResult *result,
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
                                                GError              **error);

/* The DMC update of §3.10 on its own (it runs inside the dequeue).
 * Counters only ever rise, and a counter of 0 is never written. */
gboolean     morango_store_update_dmc          (MorangoStore      *store,
                                                MorangoFilter     *filter,
                                                MorangoFsic       *sender_fsic,
                                                GError           **error);

G_END_DECLS
