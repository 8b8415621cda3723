/* morango-transfer.c: one transfer session, driven from the client's side
 *
 * The client's column of protocol §9.4: in each stage this side does its
 * own part on its store, then has the peer do its part ("remote
 * proceed").  The peer is the server: a store in this process
 * (MorangoLocalPeer) or another device over HTTP, one code path.
 * Receipt checks are the receiver's, as on the wire.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "morango-pipe-private.h"
#include "morango-deserialize.h"
#include "morango-serialize.h"
#include "morango-transfer.h"
#include "morango-i18n-private.h"

typedef struct {
  MorangoStore                 *store;
  MorangoPeer                  *peer;
  MorangoFilter                *filter;
  gboolean                      push;
  const MorangoTransferOptions *options;
  MorangoMonitor               *monitor;
  GCancellable                 *cancellable;
  MorangoTransferStats         *stats;
  char                         *ts_id;
  char                         *ss_id;
  MorangoStage                  start;       /* the stage this run began at */
} Transfer;

static MorangoDb *
db_of (Transfer *t)
{
  return morango_store_get_db (t->store);
}

static MorangoTransferSession *
load_local (Transfer  *t,
            GError   **error)
{
  return morango_transfer_session_load (db_of (t), t->ts_id, error);
}

/* Whether the peer's session has done @stage. */
static gboolean
remote_done (const MorangoTransferSession *remote,
             MorangoStage                  stage)
{
  return remote->stage > stage ||
         (remote->stage == stage && remote->status == MORANGO_STAGE_STATUS_COMPLETED);
}

/* Remote proceed (§9.4): asks the peer to run its stages up to @stage
 * unless it has done so already (a resumed transfer), and returns its
 * session.  Unlike Python's client, a stage the peer left errored or
 * unfinished is asked for again, so that a peer that allows it can
 * resume too. */
static MorangoTransferSession *
remote_proceed (Transfer                 *t,
                MorangoStage              stage,
                const MorangoPeerUpdate  *update,
                GError                  **error)
{
  g_autoptr(MorangoTransferSession) remote = NULL;

  remote = morango_peer_get_transfer_session (t->peer, t->ts_id, t->cancellable, error);
  if (remote == NULL)
    return NULL;
  if (remote_done (remote, stage))
    return g_steal_pointer (&remote);

  g_clear_pointer (&remote, morango_transfer_session_free);
  remote = morango_peer_proceed (t->peer, t->ts_id, stage, update, t->cancellable, error);
  if (remote == NULL)
    return NULL;
  if (!remote_done (remote, stage))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_FAILED,
                   _("The peer did not finish its %s stage: it is at %s, %s"),
                   morango_stage_to_string (stage), morango_stage_to_string (remote->stage),
                   morango_stage_status_to_string (remote->status));
      return NULL;
    }
  return g_steal_pointer (&remote);
}

/* POST syncsessions/, then this side's sync and transfer sessions. */
static gboolean
open_sessions (Transfer  *t,
               GError   **error)
{
  MorangoRandom *random = morango_store_get_random (t->store);
  MorangoSyncSession request = { 0 };
  g_autoptr(MorangoSyncSession) remote = NULL;

  /* Refused before the peer opens anything (quirk 15). */
  if (morango_filter_is_everything (t->filter))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("A transfer needs a filter that names partitions; an empty filter "
                   "would mean every record"));
      return FALSE;
    }

  t->ss_id = morango_random_uuid4_hex (random);
  request.id = t->ss_id;
  request.profile = (char *) morango_store_get_profile_name (t->store);
  request.client_instance_id = (char *) morango_store_get_instance_id (t->store);
  remote = morango_peer_open_sync_session (t->peer, &request, t->cancellable, error);
  if (remote == NULL)
    return FALSE;

  t->ts_id = morango_random_uuid4_hex (random);
  return morango_sync_session_create (db_of (t), t->ss_id, FALSE, request.profile,
                                      remote->connection_kind, remote->connection_path,
                                      request.client_instance_id, remote->server_instance_id,
                                      error) &&
         morango_transfer_session_create (db_of (t), t->ts_id, t->ss_id, t->filter, t->push, error);
}

/* ---- the stages: this side's part, then the peer's ---- */

static gboolean
stage_initializing (Transfer  *t,
                    GError   **error)
{
  g_autofree char *filter = morango_filter_to_string (t->filter);
  MorangoTransferSession request = {
    .id = t->ts_id, .sync_session_id = t->ss_id, .filter = filter, .push = t->push,
    .client_fsic = (char *) "{}", .records_total = -1,
  };
  g_autoptr(MorangoTransferSession) remote = NULL;

  remote = morango_peer_create_transfer_session (t->peer, &request, t->cancellable, error);
  if (remote == NULL)
    return FALSE;
  if (g_strcmp0 (remote->id, t->ts_id) != 0)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("The peer goes on with transfer session %s of this sync session, not %s"),
                   remote->id, t->ts_id);
      return FALSE;
    }
  return TRUE;
}

static gboolean
stage_serializing (Transfer  *t,
                   GError   **error)
{
  MorangoPeerUpdate update = MORANGO_PEER_UPDATE_INIT;
  g_autofree char *fsic = NULL;
  g_autoptr(MorangoTransferSession) remote = NULL;

  /* The producer serializes; either side then counts what it holds. */
  if (t->push && !morango_store_serialize (t->store, t->filter, t->monitor, error))
    return FALSE;
  fsic = morango_store_calculate_fsic_json (t->store, t->filter, t->push, t->options->format,
                                            !t->options->no_fsic_reduction, error);
  if (fsic == NULL ||
      !morango_transfer_session_set_fsics (db_of (t), t->ts_id, fsic, NULL, error))
    return FALSE;

  update.client_fsic = fsic;
  if ((remote = remote_proceed (t, MORANGO_STAGE_SERIALIZING, &update, error)) == NULL)
    return FALSE;
  return morango_transfer_session_set_fsics (db_of (t), t->ts_id, NULL, remote->server_fsic, error);
}

static gboolean
stage_queuing (Transfer  *t,
               GError   **error)
{
  g_autoptr(MorangoTransferSession) ts = load_local (t, error);
  g_autoptr(MorangoTransferSession) remote = NULL;
  MorangoPeerUpdate update = MORANGO_PEER_UPDATE_INIT;
  gint64 total = 0;

  if (ts == NULL)
    return FALSE;
  /* The producer queues, records how many records it holds, and tells
   * the receiver how many to expect. */
  if (t->push)
    {
      if (!morango_store_queue (t->store, t->ts_id, t->filter, t->options->format,
                                ts->client_fsic, ts->server_fsic, &total, t->monitor, error) ||
          !morango_transfer_session_set_counts (db_of (t), t->ts_id, total, -1, error))
        return FALSE;
      update.records_total = total;
    }
  if ((remote = remote_proceed (t, MORANGO_STAGE_QUEUING, &update, error)) == NULL)
    return FALSE;
  if (!t->push)
    {
      total = MAX (remote->records_total, 0);
      if (!morango_transfer_session_set_counts (db_of (t), t->ts_id, total, -1, error))
        return FALSE;
    }
  t->stats->records_total = total;
  return TRUE;
}

/* ---- the transferring stage ----
 *
 * As over the network, where the sender prepares the next chunk while
 * the receiver stores the last one, chunks move on two threads, through
 * morango_pipe_run() (which starts the reading thread,
 * "morango-chunk-source", and joins it before it returns):
 *
 * - The chunk source owns the sending side for the stage.  Push: it
 *   reads each chunk from this store's outgoing buffer and has the peer
 *   prepare it (the in-process peer runs its receipt checks there).
 *   Pull: it fetches each chunk from the peer and runs this store's
 *   receipt checks on it.  Before each chunk it tells the sender of each
 *   chunk the receiver committed since: this store's count on a push, a
 *   PATCH to the peer on a pull.
 * - The chunk sink, on the calling thread, stores each checked chunk on
 *   the receiving side in one transaction (push: the peer's POST
 *   buffers/; pull: this store's incoming buffer), counting its records
 *   on the monitor.
 *
 * So each side is used by one thread: on a push this store by the source
 * and the peer by the sink (but for prepare_chunk(), which touches no
 * connection), on a pull the other way round.  Two chunks are in flight
 * at most.  Once the pipe has stopped, for any reason but a failure to
 * tell the sender, the calling thread tells it of the chunks committed
 * since the source last looked. */

typedef struct {
  Transfer            *t;
  gint64               total;
  gint64               offset;      /* source: the next record to ask for */
  MorangoBufferCursor  cursor;      /* source, push: where it stands in the buffer */
  gint64               committed;   /* sink: the receiver's count */
  GAsyncQueue         *stored;      /* sink -> source: each count committed, plus one */
  gboolean             untold;      /* source: telling the sender failed */
} Chunks;

static gpointer
chunk_item_new (gpointer data)
{
  return g_new0 (MorangoBufferChunk *, 1);
}

static void
chunk_item_free (gpointer item)
{
  MorangoBufferChunk **slot = item;

  morango_buffer_chunk_free (*slot);
  g_free (slot);
}

/* Tells the sender that the receiver committed @count records.  A
 * cancel does not keep it from hearing: both sides keep the same count.
 * Only the fault hook fails here. */
static gboolean
tell_sender (Chunks  *c,
             gint64   count,
             GError **error)
{
  Transfer *t = c->t;
  MorangoPeerUpdate update = MORANGO_PEER_UPDATE_INIT;
  g_autoptr(MorangoTransferSession) remote = NULL;

  if (!morango_monitor_check_fault (t->monitor, "transfer-count", count, error))
    return FALSE;
  if (t->push)
    return morango_transfer_session_set_counts (db_of (t), t->ts_id, -1, count, error);

  update.records_transferred = count;
  remote = morango_peer_proceed (t->peer, t->ts_id, MORANGO_STAGE_TRANSFERRING, &update, NULL, error);
  return remote != NULL;
}

/* Tells the sender of each chunk the receiver committed since the last
 * call, in order. */
static gboolean
tell_sender_stored (Chunks  *c,
                    GError **error)
{
  gpointer count;

  while ((count = g_async_queue_try_pop (c->stored)) != NULL)
    if (!tell_sender (c, (gint64) GPOINTER_TO_SIZE (count) - 1, error))
      return FALSE;
  return TRUE;
}

/* On the source's thread: the next chunk, checked or prepared. */
static MorangoPipeStep
source_read (gpointer   item,
             gpointer   data,
             GError   **error)
{
  Chunks *c = data;
  Transfer *t = c->t;
  MorangoBufferChunk **slot = item;
  MorangoBufferChunk *chunk;

  g_clear_pointer (slot, morango_buffer_chunk_free);
  if (!tell_sender_stored (c, error))
    {
      c->untold = TRUE;
      return MORANGO_PIPE_ERROR;
    }
  if (c->offset >= c->total)
    return MORANGO_PIPE_END;
  if (g_cancellable_set_error_if_cancelled (t->cancellable, error))
    return MORANGO_PIPE_ERROR;

  if (t->push)
    chunk = morango_buffer_read_chunk (t->store, t->ts_id, c->offset, t->options->chunk_size,
                                       &c->cursor, error);
  else
    chunk = morango_peer_fetch_chunk (t->peer, t->ts_id, c->offset, t->options->chunk_size,
                                      t->cancellable, error);
  if (chunk == NULL)
    return MORANGO_PIPE_ERROR;
  *slot = chunk;

  /* Python would ask again forever (§9.5). */
  if (chunk->records->len == 0)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_FAILED,
                   /* Translators: a record offset, then the count of records the
                    * sender announced; the form goes by this count */
                   morango_ngettext ("The sender has no records from %lld of its %lld",
                                     "The sender has no records from %lld of its %lld", (gulong) c->total),
                   (long long) c->offset, (long long) c->total);
      return MORANGO_PIPE_ERROR;
    }
  if (!(t->push ? morango_peer_prepare_chunk (t->peer, t->ts_id, chunk, error)
                : morango_buffer_check_chunk (t->store, t->filter, chunk, error)))
    return MORANGO_PIPE_ERROR;
  c->offset += chunk->records->len;
  return MORANGO_PIPE_ITEM;
}

/* On the calling thread: stores one chunk on the receiving side. */
static gboolean
sink_store (gpointer   item,
            gpointer   data,
            GError   **error)
{
  Chunks *c = data;
  Transfer *t = c->t;
  MorangoBufferChunk *chunk = *(MorangoBufferChunk **) item;
  gint64 done = c->committed;

  if (t->push)
    {
      if (!morango_peer_push_chunk (t->peer, t->ts_id, chunk, t->monitor, error))
        return FALSE;
      done += chunk->records->len;
    }
  else if (!morango_transfer_session_receive_chunk (t->store, t->ts_id, t->filter, chunk, t->monitor,
                                                        &done, error))
    return FALSE;

  c->committed = done;
  g_async_queue_push (c->stored, GSIZE_TO_POINTER ((gsize) done + 1));
  return TRUE;
}

static const MorangoPipeFuncs chunk_pipe = {
  .thread_name = "morango-chunk-source",
  .batch_size = 1,     /* a chunk is a batch already */
  .n_batches = 2,      /* one read while the other is stored */
  .item_new = chunk_item_new,
  .item_free = chunk_item_free,
  .read = source_read,
  .apply = sink_store,
};

/* Moves the records from *@done on up to @total, and leaves in *@done
 * how many the receiver committed. */
static gboolean
move_chunks (Transfer  *t,
             gint64    *done,
             gint64     total,
             GError   **error)
{
  Chunks c = { t, total, *done, { 0 }, *done, g_async_queue_new (), FALSE };
  g_autoptr(GError) moving = NULL;
  g_autoptr(GError) telling = NULL;

  /* On a push the source reads this store's outgoing buffer, so its
   * connection goes with it; on a pull the source asks the peer and this
   * thread keeps the connection to write what arrives. */
  morango_pipe_run (&chunk_pipe, t->push ? db_of (t) : NULL, &c, &c, t->monitor, &moving);
  /* The source is gone: its side is this thread's now.  Unless telling
   * the sender is what failed, it hears of the rest. */
  if (!c.untold)
    tell_sender_stored (&c, &telling);
  g_async_queue_unref (c.stored);

  *done = c.committed;
  if (moving != NULL || telling != NULL)
    {
      g_propagate_error (error, moving != NULL ? g_steal_pointer (&moving) : g_steal_pointer (&telling));
      return FALSE;
    }
  return TRUE;
}

static gboolean
stage_transferring (Transfer  *t,
                    GError   **error)
{
  g_autoptr(MorangoTransferSession) ts = load_local (t, error);
  gint64 total, done;

  if (ts == NULL)
    return FALSE;
  total = MAX (ts->records_total, 0);
  done = ts->records_transferred;

  /* Resuming here, the peer must still hold the session (§9.8), and
   * what it reports it holds wins: on a push it may have committed
   * chunks this side never heard of, which are not sent again.  A run
   * that just queued knows the peer's state, and asks nothing more
   * before the first chunk, as Python's client does (correction 22). */
  if (t->start == MORANGO_STAGE_TRANSFERRING)
    {
      g_autoptr(MorangoTransferSession) remote =
        morango_peer_get_transfer_session (t->peer, t->ts_id, t->cancellable, error);

      if (remote == NULL)
        return FALSE;
      if (t->push && remote->records_transferred != done &&
          !morango_transfer_session_set_counts (db_of (t), t->ts_id, -1,
                                                (done = remote->records_transferred), error))
        return FALSE;
    }

  morango_monitor_stage_begin (t->monitor, "transfer", total);
  if (done > 0 && !morango_monitor_advance (t->monitor, done, 0, error))
    return FALSE;

  if (done < total)
    {
      if (!move_chunks (t, &done, total, error))
        return FALSE;
    }
  else if (!t->push)
    {
      /* Nothing to fetch (§9.6: one PATCH with the count). */
      MorangoPeerUpdate update = MORANGO_PEER_UPDATE_INIT;
      g_autoptr(MorangoTransferSession) remote = NULL;

      update.records_transferred = done;
      remote = morango_peer_proceed (t->peer, t->ts_id, MORANGO_STAGE_TRANSFERRING, &update,
                                     t->cancellable, error);
      if (remote == NULL)
        return FALSE;
    }

  morango_monitor_stage_end (t->monitor);
  t->stats->records_transferred = done;
  return TRUE;
}

static gboolean
stage_dequeuing (Transfer  *t,
                 GError   **error)
{
  g_autoptr(MorangoTransferSession) ts = load_local (t, error);
  g_autoptr(MorangoTransferSession) remote = NULL;

  if (ts == NULL)
    return FALSE;
  if (!t->push && ts->records_transferred > 0 &&
      !morango_store_dequeue_scoped (t->store, t->ts_id, t->filter, t->options->writable,
                                     t->options->format, ts->server_fsic, &t->stats->dequeue, t->monitor,
                                     error))
    return FALSE;
  remote = remote_proceed (t, MORANGO_STAGE_DEQUEUING, NULL, error);
  return remote != NULL;
}

static gboolean
stage_deserializing (Transfer  *t,
                     GError   **error)
{
  g_autoptr(MorangoTransferSession) ts = load_local (t, error);
  g_autoptr(MorangoTransferSession) remote = NULL;

  if (ts == NULL)
    return FALSE;
  /* Local edits made since the last serialization become versions (and
   * win) before incoming data is written over the application rows. */
  if (!t->push && ts->records_transferred > 0 &&
      !(morango_store_serialize (t->store, t->filter, t->monitor, error) &&
        morango_store_deserialize (t->store, t->filter, FALSE, t->monitor, error)))
    return FALSE;
  remote = remote_proceed (t, MORANGO_STAGE_DESERIALIZING, NULL, error);
  return remote != NULL;
}

/* This side's buffers go and its session closes, then the peer's
 * transfer and sync sessions, then this side's sync session. */
static gboolean
stage_cleanup (Transfer  *t,
               GError   **error)
{
  return morango_transfer_session_close (db_of (t), t->ts_id, t->monitor, error) &&
         morango_peer_close (t->peer, t->ts_id, t->ss_id, t->cancellable, error) &&
         morango_sync_session_close (db_of (t), t->ss_id, error);
}

typedef gboolean (*StageFunc) (Transfer *t, GError **error);

static const StageFunc stages[MORANGO_N_STAGES] = {
  stage_initializing, stage_serializing, stage_queuing, stage_transferring,
  stage_dequeuing, stage_deserializing, stage_cleanup,
};

/* The stage a resumed transfer starts at. */
static gboolean
resume (Transfer      *t,
        MorangoStage  *start,
        GError       **error)
{
  g_autoptr(MorangoTransferSession) ts = NULL;
  g_autoptr(MorangoFilter) stored = NULL;

  t->ts_id = g_strdup (t->options->resume_transfer_session_id);
  if ((ts = load_local (t, error)) == NULL)
    return FALSE;
  stored = morango_filter_parse (ts->filter);
  if (!ts->active || ts->push != t->push || !morango_filter_equal (stored, t->filter))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("Transfer session %s cannot be resumed: it is closed or was for "
                   "another direction or filter"), t->ts_id);
      return FALSE;
    }
  t->ss_id = g_strdup (ts->sync_session_id);
  *start = ts->status == MORANGO_STAGE_STATUS_COMPLETED ? ts->stage + 1 : ts->stage;
  return TRUE;
}

gboolean
morango_transfer (MorangoStore                  *store,
                  MorangoPeer                   *peer,
                  MorangoFilter                 *filter,
                  gboolean                       push,
                  const MorangoTransferOptions  *options,
                  MorangoMonitor                *monitor,
                  MorangoTransferStats          *stats,
                  GError                       **error)
{
  static const MorangoTransferOptions defaults = MORANGO_TRANSFER_OPTIONS_INIT;
  MorangoTransferStats local_stats = { { 0 } };
  Transfer t = { 0 };
  MorangoStage start = MORANGO_STAGE_INITIALIZING;
  gboolean ok = FALSE;

  g_return_val_if_fail (MORANGO_IS_STORE (store), FALSE);
  g_return_val_if_fail (MORANGO_IS_PEER (peer), FALSE);
  g_return_val_if_fail (filter != NULL, FALSE);
  g_return_val_if_fail (monitor == NULL || MORANGO_IS_MONITOR (monitor), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  t.store = store;
  t.peer = peer;
  t.filter = filter;
  t.push = push;
  t.options = options ? options : &defaults;
  t.monitor = monitor;
  t.cancellable = monitor ? morango_monitor_get_cancellable (monitor) : NULL;
  t.stats = stats ? stats : &local_stats;
  memset (t.stats, 0, sizeof *t.stats);
  if (t.options->chunk_size == 0)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID, _("The chunk size must be positive"));
      return FALSE;
    }

  if (t.options->resume_transfer_session_id != NULL ? !resume (&t, &start, error)
                                                    : !open_sessions (&t, error))
    goto out;
  if (t.ts_id != NULL)
    g_strlcpy (t.stats->transfer_session_id, t.ts_id, sizeof t.stats->transfer_session_id);

  t.start = start;
  for (MorangoStage stage = start; stage < MORANGO_N_STAGES; stage++)
    {
      gint64 t0 = g_get_monotonic_time ();
      g_autoptr(GError) stage_error = NULL;

      if (!morango_monitor_check_cancelled (monitor, error) ||
          !morango_transfer_session_set_stage (db_of (&t), t.ts_id, stage,
                                               MORANGO_STAGE_STATUS_STARTED, error))
        goto out;
      if (!stages[stage] (&t, &stage_error))
        {
          g_autoptr(GError) ignored = NULL;

          /* The stage rolled back; record where it stopped. */
          morango_transfer_session_set_stage (db_of (&t), t.ts_id, stage,
                                              MORANGO_STAGE_STATUS_ERRORED, &ignored);
          g_propagate_prefixed_error (error, g_steal_pointer (&stage_error), "%s: ",
                                      morango_stage_to_string (stage));
          goto out;
        }
      t.stats->seconds[stage] = (g_get_monotonic_time () - t0) / 1e6;
      if (!morango_transfer_session_set_stage (db_of (&t), t.ts_id, stage,
                                               MORANGO_STAGE_STATUS_COMPLETED, error))
        goto out;
    }
  ok = TRUE;

out:
  if (t.ts_id != NULL)
    {
      g_autoptr(MorangoTransferSession) ts = load_local (&t, NULL);

      if (ts != NULL)
        {
          t.stats->records_total = MAX (ts->records_total, 0);
          t.stats->records_transferred = ts->records_transferred;
        }
    }
  g_free (t.ts_id);
  g_free (t.ss_id);
  return ok;
}
