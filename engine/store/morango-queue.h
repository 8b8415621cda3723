/* morango-queue.h: the store side of a transfer: FSICs from the
 * database, queuing (store -> buffer) and the DMC update
 * (protocol §3.6–§3.10)
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

/* The DMC update of §3.10 on its own (it runs inside the dequeue).
 * Counters only ever rise, and a counter of 0 is never written. */
gboolean     morango_store_update_dmc          (MorangoStore      *store,
                                                MorangoFilter     *filter,
                                                MorangoFsic       *sender_fsic,
                                                GError           **error);

G_END_DECLS
