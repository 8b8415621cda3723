/* morango-transfer.c: sync two engine databases in one process
 *
 * The same stages a network sync runs, with buffer rows moved directly
 * between the two databases instead of over HTTP.  Receipt checks are
 * the receiver's, as they would be on the wire.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "morango-buffer.h"
#include "morango-local-sync.h"
#include "morango-serialize.h"

typedef struct {
  MorangoStore                  *client;
  MorangoStore                  *server;
  MorangoStore                  *sender;
  MorangoStore                  *receiver;
  MorangoFilter                 *filter;
  gboolean                       push;
  const MorangoLocalSyncOptions *options;
  MorangoLocalSyncStats         *stats;
  char                          *ts_id;
} Sync;

static gboolean
set_stage_both (Sync               *sync,
                MorangoStage        stage,
                MorangoStageStatus  status,
                GError            **error)
{
  return morango_transfer_session_set_stage (morango_store_get_db (sync->client), sync->ts_id,
                                             stage, status, error) &&
         morango_transfer_session_set_stage (morango_store_get_db (sync->server), sync->ts_id,
                                             stage, status, error);
}

static gboolean
create_sessions (Sync    *sync,
                 GError **error)
{
  MorangoRandom *random = morango_store_get_random (sync->client);
  g_autofree char *ss_id = morango_random_uuid4_hex (random);
  MorangoDb *cdb = morango_store_get_db (sync->client);
  MorangoDb *sdb = morango_store_get_db (sync->server);
  const char *profile = morango_store_get_profile_name (sync->client);

  if (g_strcmp0 (profile, morango_store_get_profile_name (sync->server)) != 0)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   "Cannot sync profile “%s” with profile “%s”",
                   profile, morango_store_get_profile_name (sync->server));
      return FALSE;
    }

  sync->ts_id = morango_random_uuid4_hex (random);
  if (!morango_sync_session_create (cdb, ss_id, FALSE, profile, "local",
                                    morango_db_get_path (sdb),
                                    morango_store_get_instance_id (sync->client),
                                    morango_store_get_instance_id (sync->server), error) ||
      !morango_sync_session_create (sdb, ss_id, TRUE, profile, "local",
                                    morango_db_get_path (sdb),
                                    morango_store_get_instance_id (sync->client),
                                    morango_store_get_instance_id (sync->server), error) ||
      !morango_transfer_session_create (cdb, sync->ts_id, ss_id, sync->filter, sync->push, error) ||
      !morango_transfer_session_create (sdb, sync->ts_id, ss_id, sync->filter, sync->push, error))
    return FALSE;
  return set_stage_both (sync, MORANGO_STAGE_INITIALIZING, MORANGO_STAGE_STATUS_COMPLETED, error);
}

static gboolean
stage_serializing (Sync    *sync,
                   GError **error)
{
  gboolean reduction = !sync->options->no_fsic_reduction;
  g_autofree char *sender_fsic = NULL;
  g_autofree char *receiver_fsic = NULL;

  if (!morango_store_serialize (sync->sender, sync->filter, error))
    return FALSE;
  if (!morango_instance_get_counter (morango_store_get_db (sync->sender),
                                     morango_store_get_instance_id (sync->sender),
                                     &sync->stats->records_serialized_counter, error))
    return FALSE;

  sender_fsic = morango_store_calculate_fsic_json (sync->sender, sync->filter, TRUE,
                                                   sync->options->format, reduction, error);
  if (sender_fsic == NULL)
    return FALSE;
  receiver_fsic = morango_store_calculate_fsic_json (sync->receiver, sync->filter, FALSE,
                                                     sync->options->format, reduction, error);
  if (receiver_fsic == NULL)
    return FALSE;

  {
    const char *client_fsic = sync->push ? sender_fsic : receiver_fsic;
    const char *server_fsic = sync->push ? receiver_fsic : sender_fsic;

    return morango_transfer_session_set_fsics (morango_store_get_db (sync->client), sync->ts_id,
                                               client_fsic, server_fsic, error) &&
           morango_transfer_session_set_fsics (morango_store_get_db (sync->server), sync->ts_id,
                                               client_fsic, server_fsic, error);
  }
}

static MorangoTransferSession *
load_ts (MorangoStore  *store,
         const char    *id,
         GError       **error)
{
  return morango_transfer_session_load (morango_store_get_db (store), id, error);
}

static const char *
sender_fsic_of (Sync                   *sync,
                MorangoTransferSession *ts)
{
  return sync->push ? ts->client_fsic : ts->server_fsic;
}

static const char *
receiver_fsic_of (Sync                   *sync,
                  MorangoTransferSession *ts)
{
  return sync->push ? ts->server_fsic : ts->client_fsic;
}

static gboolean
stage_queuing (Sync    *sync,
               GError **error)
{
  g_autoptr(MorangoTransferSession) ts = load_ts (sync->sender, sync->ts_id, error);
  gint64 total = 0;

  if (ts == NULL)
    return FALSE;
  if (!morango_store_queue (sync->sender, sync->ts_id, sync->filter, sync->options->format,
                            sender_fsic_of (sync, ts), receiver_fsic_of (sync, ts), &total, error))
    return FALSE;
  sync->stats->records_total = total;
  return morango_transfer_session_set_counts (morango_store_get_db (sync->sender), sync->ts_id,
                                              total, -1, error) &&
         morango_transfer_session_set_counts (morango_store_get_db (sync->receiver), sync->ts_id,
                                              total, -1, error);
}

/* ---- the transfer: the sender's side reads, the receiver's side writes --
 *
 * As over the network, where the sender prepares the next chunk while
 * the receiver stores the last one, the two sides run on two threads:
 * a reader thread owns the sender's connection for the stage (reading
 * a chunk, checking every record as the receiver, copying it out), and
 * the calling thread stores each checked chunk on the receiver in one
 * transaction.  At most CHUNKS_IN_FLIGHT chunks are held in memory.
 * The sender learns of a chunk (its transferred count) only once the
 * receiver has committed it, from the reader thread, which owns that
 * connection. */

#define CHUNKS_IN_FLIGHT 2

/* A chunk on its way from the reader to the writer. */
typedef struct {
  MorangoBufferChunk *chunk;   /* NULL when reading or checking failed */
  GError             *error;
} Piece;

static void
piece_free (Piece *p)
{
  morango_buffer_chunk_free (p->chunk);
  g_clear_error (&p->error);
  g_free (p);
}

typedef struct {
  Sync                *sync;
  gint64               offset;   /* the next record the reader reads */
  MorangoBufferCursor  cursor;   /* and where it stands in the sender's buffer */
  GAsyncQueue         *chunks;   /* Piece *, reader -> writer */
  GAsyncQueue         *stored;   /* the writer's answers (see STORED_STOP) */
  GError              *error;    /* the reader's own failure (the sender's counts) */
} Transfer;

/* Tells the sender how far the receiver got. */
static gboolean
apply_stored (Transfer  *t,
              gint64     count,
              GError   **error)
{
  return morango_store_check_injected (t->sync->sender, "transfer-count", count, error) &&
         morango_transfer_session_set_counts (morango_store_get_db (t->sync->sender),
                                              t->sync->ts_id, -1, count, error);
}

/* What the writer tells the reader after each chunk: the receiver's
 * transferred count plus one, or that it stopped. */
#define STORED_STOP G_MAXSIZE

/* The reader thread: chunks out, up to a short one (the last) or one
 * carrying an error; stored counts in, each applied to the sender. */
static gpointer
transfer_reader (gpointer data)
{
  Transfer *t = data;
  Sync *sync = t->sync;
  guint in_flight = 0;
  gboolean pushed_last = FALSE, stopped = FALSE;

  while (!stopped && (!pushed_last || in_flight > 0))
    {
      gpointer msg;

      if (!pushed_last && in_flight < CHUNKS_IN_FLIGHT)
        {
          Piece *p = g_new0 (Piece, 1);

          if (t->error != NULL)
            p->error = g_error_copy (t->error);   /* the sender's count failed */
          else if ((p->chunk = morango_buffer_read_chunk (sync->sender, sync->ts_id, t->offset,
                                                          sync->options->chunk_size, &t->cursor,
                                                          &p->error)) != NULL &&
                   !morango_buffer_check_chunk (sync->receiver, sync->filter, p->chunk, &p->error))
            g_clear_pointer (&p->chunk, morango_buffer_chunk_free);
          if (p->chunk != NULL)
            t->offset += p->chunk->records->len;
          pushed_last = p->chunk == NULL || p->chunk->records->len < sync->options->chunk_size;
          g_async_queue_push (t->chunks, p);
          in_flight++;
          if ((msg = g_async_queue_try_pop (t->stored)) == NULL)
            continue;
        }
      else
        msg = g_async_queue_pop (t->stored);

      if (GPOINTER_TO_SIZE (msg) == STORED_STOP)
        stopped = TRUE;
      else
        {
          in_flight--;
          if (t->error == NULL)
            apply_stored (t, (gint64) GPOINTER_TO_SIZE (msg) - 1, &t->error);
        }
    }
  return NULL;
}

static gboolean
stage_transferring (Sync    *sync,
                    GError **error)
{
  g_autoptr(MorangoTransferSession) rts = load_ts (sync->receiver, sync->ts_id, error);
  Transfer t = { sync, 0, { 0 }, NULL, NULL, NULL };
  GThread *reader;
  gboolean ok = TRUE, last = FALSE;
  gint64 done;

  if (rts == NULL)
    return FALSE;
  /* Resuming: skip what the receiver already committed. */
  done = t.offset = rts->records_transferred;

  t.chunks = g_async_queue_new_full ((GDestroyNotify) piece_free);
  t.stored = g_async_queue_new ();
  reader = g_thread_new ("morango-transfer", transfer_reader, &t);

  /* Each chunk popped is answered, with its count or with the stop, so
   * the reader never waits for an answer that does not come; chunks it
   * read past a failure are freed with the queue. */
  while (ok && !last)
    {
      Piece *p = g_async_queue_pop (t.chunks);

      last = p->chunk == NULL || p->chunk->records->len < sync->options->chunk_size;
      if (p->error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&p->error));
          ok = FALSE;
        }
      else if (!morango_buffer_write_chunk (sync->receiver, sync->ts_id, sync->filter, p->chunk,
                                            NULL, &done, error))
        ok = FALSE;
      g_async_queue_push (t.stored, GSIZE_TO_POINTER (ok ? (gsize) done + 1 : STORED_STOP));
      piece_free (p);
    }
  g_thread_join (reader);

  if (ok && t.error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&t.error));
      ok = FALSE;
    }
  g_clear_error (&t.error);
  g_async_queue_unref (t.chunks);
  g_async_queue_unref (t.stored);
  if (!ok)
    return FALSE;

  sync->stats->records_transferred = done;
  return TRUE;
}

static gboolean
stage_dequeuing (Sync    *sync,
                 GError **error)
{
  g_autoptr(MorangoTransferSession) ts = load_ts (sync->receiver, sync->ts_id, error);

  if (ts == NULL)
    return FALSE;
  sync->stats->records_transferred = ts->records_transferred;
  if (ts->records_transferred == 0)
    return TRUE;
  return morango_store_dequeue_scoped (sync->receiver, sync->ts_id, sync->filter,
                                       sync->push ? sync->options->server_writable
                                                  : sync->options->client_writable,
                                       sync->options->format, sender_fsic_of (sync, ts),
                                       &sync->stats->dequeue, error);
}

static gboolean
stage_deserializing (Sync    *sync,
                     GError **error)
{
  if (sync->stats->records_transferred == 0)
    return TRUE;
  /* Local edits made since the last serialization become versions (and
   * win) before incoming data is written over the application rows. */
  return morango_store_serialize (sync->receiver, sync->filter, error) &&
         morango_store_deserialize (sync->receiver, sync->filter, FALSE, error);
}

static gboolean
stage_cleanup (Sync    *sync,
               GError **error)
{
  g_autoptr(MorangoTransferSession) ts = load_ts (sync->client, sync->ts_id, error);

  if (ts == NULL)
    return FALSE;
  return morango_transfer_session_close (morango_store_get_db (sync->client), sync->ts_id, error) &&
         morango_transfer_session_close (morango_store_get_db (sync->server), sync->ts_id, error) &&
         morango_sync_session_close (morango_store_get_db (sync->client), ts->sync_session_id, error) &&
         morango_sync_session_close (morango_store_get_db (sync->server), ts->sync_session_id, error);
}

typedef gboolean (*StageFunc) (Sync *sync, GError **error);

gboolean
morango_local_sync (MorangoStore                   *client,
                    MorangoStore                   *server,
                    MorangoFilter                  *filter,
                    gboolean                        push,
                    const MorangoLocalSyncOptions  *options,
                    MorangoLocalSyncStats          *stats,
                    GError                        **error)
{
  static const MorangoLocalSyncOptions defaults = MORANGO_LOCAL_SYNC_OPTIONS_INIT;
  static const StageFunc stages[MORANGO_N_STAGES] = {
    NULL, stage_serializing, stage_queuing, stage_transferring,
    stage_dequeuing, stage_deserializing, stage_cleanup,
  };
  MorangoLocalSyncStats local_stats = { { 0 } };
  g_autoptr(MorangoTransferSession) ts = NULL;
  Sync sync = { 0 };
  MorangoStage start = MORANGO_STAGE_SERIALIZING;

  g_return_val_if_fail (MORANGO_IS_STORE (client), FALSE);
  g_return_val_if_fail (MORANGO_IS_STORE (server), FALSE);
  /* The transfer uses the two connections from two threads. */
  g_return_val_if_fail (client != server, FALSE);
  g_return_val_if_fail (filter != NULL, FALSE);

  sync.client = client;
  sync.server = server;
  sync.sender = push ? client : server;
  sync.receiver = push ? server : client;
  sync.filter = filter;
  sync.push = push;
  sync.options = options ? options : &defaults;
  sync.stats = stats ? stats : &local_stats;
  memset (sync.stats, 0, sizeof *sync.stats);
  if (sync.options->chunk_size == 0)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID, "The chunk size must be positive");
      return FALSE;
    }

  if (sync.options->resume_transfer_session_id != NULL)
    {
      g_autoptr(MorangoFilter) stored = NULL;

      sync.ts_id = g_strdup (sync.options->resume_transfer_session_id);
      ts = load_ts (client, sync.ts_id, error);
      if (ts == NULL)
        goto out;
      stored = morango_filter_parse (ts->filter);
      if (!ts->active || ts->push != push || !morango_filter_equal (stored, filter))
        {
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                       "Transfer session %s cannot be resumed: it is closed or was for "
                       "another direction or filter", sync.ts_id);
          goto out;
        }
      start = ts->status == MORANGO_STAGE_STATUS_COMPLETED ? ts->stage + 1 : ts->stage;
      if (start == MORANGO_STAGE_INITIALIZING)
        start = MORANGO_STAGE_SERIALIZING;
      /* A later stage still needs what the serializing stage counted. */
      if (start > MORANGO_STAGE_TRANSFERRING)
        {
          g_autoptr(MorangoTransferSession) rts = load_ts (sync.receiver, sync.ts_id, error);
          if (rts == NULL)
            goto out;
          sync.stats->records_transferred = rts->records_transferred;
          sync.stats->records_total = rts->records_total;
        }
    }
  else if (!create_sessions (&sync, error))
    goto out;

  g_strlcpy (sync.stats->transfer_session_id, sync.ts_id, sizeof sync.stats->transfer_session_id);

  for (MorangoStage stage = start; stage < MORANGO_N_STAGES; stage++)
    {
      gint64 t0 = g_get_monotonic_time ();
      g_autoptr(GError) stage_error = NULL;

      if (!set_stage_both (&sync, stage, MORANGO_STAGE_STATUS_STARTED, error))
        goto out;
      if (!stages[stage] (&sync, &stage_error))
        {
          g_autoptr(GError) ignored = NULL;
          /* The stage rolled back; record where it stopped. */
          set_stage_both (&sync, stage, MORANGO_STAGE_STATUS_ERRORED, &ignored);
          g_propagate_prefixed_error (error, g_steal_pointer (&stage_error), "%s: ",
                                      morango_stage_to_string (stage));
          goto out;
        }
      sync.stats->seconds[stage] = (g_get_monotonic_time () - t0) / 1e6;
      if (!set_stage_both (&sync, stage, MORANGO_STAGE_STATUS_COMPLETED, error))
        goto out;
    }

  g_free (sync.ts_id);
  return TRUE;

out:
  g_clear_pointer (&sync.ts_id, g_free);
  return FALSE;
}
