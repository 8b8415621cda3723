/* morango-queue.h: queuing, the producer side of a transfer:
 * store -> outgoing buffer (protocol §3.9)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "morango-fsic.h"
#include "morango-store.h"

G_BEGIN_DECLS

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

G_END_DECLS
