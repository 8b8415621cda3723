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
 * session had queued before, and returns in @records_total how many
 * records it queued (recording it on the transfer session is the
 * caller's).  The FSICs are the wire texts; @format is the negotiated
 * one.  @monitor (may be NULL) hears of stage "queue" and each record
 * queued; once it is cancelled the stage rolls back and fails with
 * G_IO_ERROR_CANCELLED. */
gboolean     morango_store_queue               (MorangoStore      *store,
                                                const char        *transfer_session_id,
                                                MorangoFilter     *filter,
                                                MorangoFsicFormat  format,
                                                const char        *sender_fsic,
                                                const char        *receiver_fsic,
                                                gint64            *records_total,
                                                MorangoMonitor    *monitor,
                                                GError           **error);

G_END_DECLS
