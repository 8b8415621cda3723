/* morango-buffer.h: a store's transfer buffers (protocol §1.7, §1.9, §8.7)
 *
 * SPDX-License-Identifier: MIT
 *
 * Records wait in the buffer tables between the store and a peer: the
 * producer queues its outgoing records there (morango-queue.h), the
 * receiver keeps incoming ones there until it dequeues them.  This file
 * owns what a receiver checks of each record it accepts, and clearing a
 * transfer session's rows.
 */
#pragma once

#include "morango-store.h"

G_BEGIN_DECLS

/* One buffer record, as a receiver sees it before accepting a chunk
 * (protocol §2.2 receipt verification, correction 17). */
typedef struct {
  const char *model_uuid;
  const char *model_name;
  const char *profile;
  const char *partition;
  const char *source_id;
  const char *serialized;
  const char *conflicting_serialized_data;
  const char *last_saved_instance;
  gint64      last_saved_counter;
  gboolean    deleted;
  gboolean    hard_deleted;
  const char *self_ref_fk;
} MorangoBufferRecord;

/* Refuses a record whose id does not follow its model's rule, whose
 * partition lies outside @filter, or whose fields are malformed, with
 * Morango's messages.  Reads nothing from the database: safe on any
 * thread. */
gboolean morango_buffer_check_record (MorangoStore              *receiver,
                                      MorangoFilter             *filter,
                                      const MorangoBufferRecord *record,
                                      GError                   **error);

/* Deletes the rows of @transfer_session_id from the buffer and the
 * history buffer, inside the caller's transaction. */
gboolean morango_buffer_clear        (MorangoDb                 *db,
                                      const char                *transfer_session_id,
                                      GError                   **error);

G_END_DECLS
