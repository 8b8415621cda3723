/* morango-buffer.h: a store's transfer buffers (protocol §1.7, §1.9, §8.7)
 *
 * SPDX-License-Identifier: MIT
 *
 * Records wait in the buffer tables between the store and a peer: the
 * producer queues its outgoing records there (morango-queue.h) and reads
 * them out in chunks; the receiver checks each chunk, writes it there
 * and keeps it until it dequeues it.  Data flows one way: store ->
 * outgoing buffer -> chunk -> (peer) -> incoming buffer -> store.
 */
#pragma once

#include "morango-monitor.h"
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

/* One history row (RMCB) of a record in a chunk. */
typedef struct {
  guint       record;        /* index of its record in the chunk */
  const char *instance_id;
  gint64      counter;
} MorangoBufferHistory;

/* Records with their history, in the order of the sender's buffer: what
 * one POST buffers/ carries or one GET buffers/ answers (protocol §8.7).
 * Every text lives as long as the chunk. */
typedef struct {
  GStringChunk *texts;       /* the texts of the records and history */
  GArray       *records;     /* MorangoBufferRecord */
  GArray       *history;     /* MorangoBufferHistory, in record order */
  gint64        bytes;       /* the length of the records' serialized texts */
  /*< private >*/
  gconstpointer checked_by;  /* morango_buffer_check_chunk() passed for */
  gconstpointer checked_in;  /* this receiver and this filter */
} MorangoBufferChunk;

MorangoBufferChunk *morango_buffer_chunk_new         (void);
void                morango_buffer_chunk_free        (MorangoBufferChunk        *chunk);
/* Appends a record, copying its texts. */
void                morango_buffer_chunk_add_record  (MorangoBufferChunk        *chunk,
                                                      const MorangoBufferRecord *record);
/* Appends a history row of the last record appended. */
void                morango_buffer_chunk_add_history (MorangoBufferChunk        *chunk,
                                                      const char                *instance_id,
                                                      gint64                     counter);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MorangoBufferChunk, morango_buffer_chunk_free)

/* Where a reader of a session's outgoing buffer stopped.  Chunks are
 * asked for by offset, as GET buffers/ pages; a read at the offset where
 * the last one ended steps on from there instead of counting rows from
 * the start again.  Zero-initialize. */
typedef struct {
  gint64 offset;     /* records read so far */
  gint64 after_id;   /* the buffer id of the last of them */
} MorangoBufferCursor;

/* Up to @limit records of @transfer_session_id's outgoing buffer with
 * their history, from the @offset-th on, in buffer order.  @cursor may be
 * NULL. */
MorangoBufferChunk *morango_buffer_read_chunk        (MorangoStore              *store,
                                                      const char                *transfer_session_id,
                                                      gint64                     offset,
                                                      guint                      limit,
                                                      MorangoBufferCursor       *cursor,
                                                      GError                   **error);
/* The receiver's checks of every record of @chunk and its history
 * (morango_buffer_check_record()), all or nothing.  Reads nothing from
 * the database: safe on any thread, so a transfer runs it on its second
 * thread while the last chunk is written. */
gboolean            morango_buffer_check_chunk       (MorangoStore              *receiver,
                                                      MorangoFilter             *filter,
                                                      MorangoBufferChunk        *chunk,
                                                      GError                   **error);
/* Stores a received chunk for @transfer_session_id: checks it unless
 * morango_buffer_check_chunk() passed it for @receiver and @filter, then
 * writes its records and history to the incoming buffer in one
 * transaction (a level of the caller's, which also records how far the
 * transfer got): nothing of the chunk stays when anything fails.  Counts
 * each record on @monitor (may be NULL) with the length of its
 * serialized text, so the monitor can cancel or fail the write at any
 * record. */
gboolean            morango_buffer_write_chunk       (MorangoStore              *receiver,
                                                      const char                *transfer_session_id,
                                                      MorangoFilter             *filter,
                                                      MorangoBufferChunk        *chunk,
                                                      MorangoMonitor            *monitor,
                                                      GError                   **error);
/* Deletes the rows of @transfer_session_id from the buffer and the
 * history buffer, inside the caller's transaction. */
gboolean morango_buffer_clear        (MorangoDb                 *db,
                                      const char                *transfer_session_id,
                                      GError                   **error);

G_END_DECLS
