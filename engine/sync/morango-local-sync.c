/* morango-local-sync.c: sync two engine databases in one process
 *
 * The same stages a network sync runs, with buffer rows moved directly
 * between the two databases instead of over HTTP.  Receipt checks are
 * the receiver's, as they would be on the wire.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "morango-deserialize.h"
#include "morango-local-sync.h"
#include "morango-queue.h"
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

  if (!morango_store_serialize (sync->sender, sync->filter, NULL, error))
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
                            sender_fsic_of (sync, ts), receiver_fsic_of (sync, ts), &total, NULL,
                            error))
    return FALSE;
  sync->stats->records_total = total;
  return morango_transfer_session_set_counts (morango_store_get_db (sync->sender), sync->ts_id,
                                              total, -1, error) &&
         morango_transfer_session_set_counts (morango_store_get_db (sync->receiver), sync->ts_id,
                                              total, -1, error);
}

/* SQLite's BINARY collation, which orders the RMCB's key. */
static int
compare_binary (const char *a,
                int         a_len,
                const char *b,
                int         b_len)
{
  int c = memcmp (a, b, MIN (a_len, b_len));

  return c != 0 ? c : a_len - b_len;
}

/* The sender's history rows (RMCB) of one chunk, read with one cursor
 * over its (session, model_uuid, instance) key instead of one lookup per
 * record.  Buffer rows usually come in model_uuid order (queuing walks
 * the store by key), so the cursor mostly just steps on; a record that
 * is not ahead of the previous one, or far ahead, seeks again.  Rows
 * for one record come in the same (index) order either way. */
typedef struct {
  sqlite3_stmt *stmt;
  int           rc;          /* of the last step: SQLITE_ROW or SQLITE_DONE */
  gboolean      open;
  char          last[33];    /* the last record looked up */
} HistoryCursor;

#define HISTORY_MAX_SKIP 16

static gboolean
history_seek (HistoryCursor  *h,
              MorangoDb      *db,
              const char     *ts_id,
              const char     *model_uuid,
              GError        **error)
{
  sqlite3_reset (h->stmt);
  if ((sqlite3_bind_text (h->stmt, 1, ts_id, -1, SQLITE_STATIC) |
       sqlite3_bind_text (h->stmt, 2, model_uuid, -1, SQLITE_TRANSIENT)) != SQLITE_OK)
    return morango_db_set_error (db, error, "binding a value");
  h->open = TRUE;
  h->rc = morango_db_step (db, h->stmt, error);
  return h->rc >= 0;
}

/* Positions @h on the first history row of @model_uuid (32 hex digits,
 * already checked), or past where it would be. */
static gboolean
history_find (HistoryCursor  *h,
              MorangoDb      *db,
              const char     *ts_id,
              const char     *model_uuid,
              GError        **error)
{
  gboolean seek = !h->open || strcmp (model_uuid, h->last) <= 0;

  /* Otherwise every row before the cursor belongs to a uuid up to
   * h->last, or was skipped as below this one: stepping on is safe. */
  for (guint skipped = 0;
       !seek && h->rc == SQLITE_ROW &&
       compare_binary ((const char *) sqlite3_column_text (h->stmt, 0),
                       sqlite3_column_bytes (h->stmt, 0), model_uuid, 32) < 0;
       skipped++)
    {
      if (skipped == HISTORY_MAX_SKIP)
        seek = TRUE;
      else if ((h->rc = morango_db_step (db, h->stmt, error)) < 0)
        return FALSE;
    }
  if (seek && !history_seek (h, db, ts_id, model_uuid, error))
    return FALSE;
  g_strlcpy (h->last, model_uuid, sizeof h->last);
  return TRUE;
}

/* Whether the cursor is on a row of @model_uuid. */
static inline gboolean
history_at (HistoryCursor *h,
            const char    *model_uuid)
{
  return h->rc == SQLITE_ROW &&
         compare_binary ((const char *) sqlite3_column_text (h->stmt, 0),
                         sqlite3_column_bytes (h->stmt, 0), model_uuid, 32) == 0;
}

/* SQLITE_OK is 0, so a chain of these can be ORed. */
static inline int
bind_static (sqlite3_stmt *stmt,
             int           i,
             const char   *text)
{
  return sqlite3_bind_text (stmt, i, text, -1, SQLITE_STATIC);
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

typedef struct {
  guint       record;      /* index into Chunk.records */
  const char *instance;
  gint64      counter;
} HistoryEntry;

typedef struct {
  GStringChunk *texts;     /* every string below */
  GArray       *records;   /* MorangoBufferRecord */
  GArray       *history;   /* HistoryEntry, in record order */
  gint64        last_id;   /* the sender's buffer id of the last record */
  GError       *error;     /* reading or checking failed: store nothing */
} Chunk;

static Chunk *
chunk_new (void)
{
  Chunk *c = g_new0 (Chunk, 1);

  c->texts = g_string_chunk_new (64 * 1024);
  c->records = g_array_new (FALSE, FALSE, sizeof (MorangoBufferRecord));
  c->history = g_array_new (FALSE, FALSE, sizeof (HistoryEntry));
  return c;
}

static void
chunk_free (Chunk *c)
{
  g_string_chunk_free (c->texts);
  g_array_unref (c->records);
  g_array_unref (c->history);
  g_clear_error (&c->error);
  g_free (c);
}

typedef struct {
  Sync        *sync;
  gint64       after_id;   /* the reader's position in the sender's buffer */
  GAsyncQueue *chunks;     /* Chunk *, reader -> writer */
  GAsyncQueue *stored;     /* the writer's answers (see STORED_STOP) */
  GError      *error;      /* the reader's own failure (the sender's counts) */
} Transfer;

static inline const char *
copy_column (GStringChunk *texts,
             sqlite3_stmt *stmt,
             int           col)
{
  const char *text = (const char *) sqlite3_column_text (stmt, col);

  /* NULL reads as "", as morango_db_column_text has it. */
  return text != NULL ? g_string_chunk_insert_len (texts, text, sqlite3_column_bytes (stmt, col))
                      : "";
}

/* Reads and checks the sender's next chunk after t->after_id, walking
 * the rowid (the "+" keeps SQLite off the (session, model_uuid) index,
 * which would sort the whole session again for every chunk). */
static gboolean
read_chunk (Transfer  *t,
            Chunk     *c,
            GError   **error)
{
  Sync *sync = t->sync;
  MorangoDb *sdb = morango_store_get_db (sync->sender);
  sqlite3_stmt *read;
  HistoryCursor hist = { 0 };
  gboolean ok = TRUE;
  int rc;

  /* Each statement has its own SQL text, so the cache hands out the
   * same one for the whole chunk: looked up once here rather than per
   * record (hashing the text costs more than running the inserts). */
  read = morango_db_prepare (sdb,
                             "SELECT id, model_uuid, profile, serialized, deleted, hard_deleted, "
                             "  last_saved_instance, last_saved_counter, partition, source_id, model_name, "
                             "  conflicting_serialized_data, _self_ref_fk "
                             "FROM morango_buffer WHERE +transfer_session_id = ? AND id > ? "
                             "ORDER BY id LIMIT ?", error);
  if (read == NULL || !morango_db_bind (sdb, read, error, "sii", sync->ts_id, t->after_id,
                                        (gint64) sync->options->chunk_size))
    return FALSE;
  hist.stmt = morango_db_prepare (sdb,
                                  "SELECT model_uuid, instance_id, counter "
                                  "FROM morango_recordmaxcounterbuffer "
                                  "WHERE transfer_session_id = ?1 AND model_uuid >= ?2 "
                                  "ORDER BY model_uuid", error);
  if (hist.stmt == NULL)
    {
      sqlite3_reset (read);
      return FALSE;
    }

  while (ok && (rc = morango_db_step (sdb, read, error)) == SQLITE_ROW)
    {
      MorangoBufferRecord rec = {
        .model_uuid = copy_column (c->texts, read, 1),
        .profile = copy_column (c->texts, read, 2),
        .serialized = copy_column (c->texts, read, 3),
        .deleted = sqlite3_column_int (read, 4),
        .hard_deleted = sqlite3_column_int (read, 5),
        .last_saved_instance = copy_column (c->texts, read, 6),
        .last_saved_counter = sqlite3_column_int64 (read, 7),
        .partition = copy_column (c->texts, read, 8),
        .source_id = copy_column (c->texts, read, 9),
        .model_name = copy_column (c->texts, read, 10),
        .conflicting_serialized_data = copy_column (c->texts, read, 11),
        .self_ref_fk = copy_column (c->texts, read, 12),
      };

      c->last_id = sqlite3_column_int64 (read, 0);
      if (!morango_transfer_verify_record (sync->receiver, sync->filter, &rec, error) ||
          !history_find (&hist, sdb, sync->ts_id, rec.model_uuid, error))
        {
          ok = FALSE;
          break;
        }
      for (; history_at (&hist, rec.model_uuid); hist.rc = morango_db_step (sdb, hist.stmt, error))
        {
          const char *instance = morango_db_column_text (hist.stmt, 1);
          HistoryEntry entry = { c->records->len, NULL, sqlite3_column_int64 (hist.stmt, 2) };

          if (!morango_is_hex32 (instance))
            {
              g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_RECORD_REJECTED,
                           "Record %s carries a malformed history entry", rec.model_uuid);
              ok = FALSE;
              break;
            }
          entry.instance = g_string_chunk_insert_len (c->texts, instance, 32);
          g_array_append_val (c->history, entry);
        }
      if (hist.rc < 0)
        ok = FALSE;
      g_array_append_val (c->records, rec);
    }
  sqlite3_reset (read);
  sqlite3_reset (hist.stmt);
  return ok && rc >= 0;
}

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
  guint in_flight = 0;
  gboolean pushed_last = FALSE, stopped = FALSE;

  morango_db_acquire (morango_store_get_db (t->sync->sender));

  while (!stopped && (!pushed_last || in_flight > 0))
    {
      gpointer msg;

      if (!pushed_last && in_flight < CHUNKS_IN_FLIGHT)
        {
          Chunk *c = chunk_new ();

          if (t->error != NULL)
            c->error = g_error_copy (t->error);   /* the sender's count failed */
          else if (read_chunk (t, c, &c->error))
            t->after_id = c->last_id;
          pushed_last = c->error != NULL || c->records->len < t->sync->options->chunk_size;
          g_async_queue_push (t->chunks, c);
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
  morango_db_release (morango_store_get_db (t->sync->sender));
  return NULL;
}

/* Stores one checked chunk on the receiver, with the new transferred
 * count, in one transaction. */
static gboolean
store_chunk (Sync    *sync,
             Chunk   *c,
             gint64   already,
             GError **error)
{
  MorangoDb *rdb = morango_store_get_db (sync->receiver);
  sqlite3_stmt *insert, *insert_rmcb;
  guint h = 0;

  insert = morango_db_prepare (rdb,
                               "INSERT INTO morango_buffer (profile, serialized, deleted, hard_deleted, "
                               "  last_saved_instance, last_saved_counter, partition, source_id, "
                               "  model_name, conflicting_serialized_data, _self_ref_fk, "
                               "  transfer_session_id, model_uuid) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", error);
  insert_rmcb = morango_db_prepare (rdb,
                                    "INSERT INTO morango_recordmaxcounterbuffer (instance_id, counter, "
                                    "  transfer_session_id, model_uuid) VALUES (?, ?, ?, ?) "
                                    "ON CONFLICT DO UPDATE SET counter = max (counter, excluded.counter)",
                                    error);
  if (insert == NULL || insert_rmcb == NULL || !morango_db_begin (rdb, error))
    return FALSE;

  for (guint i = 0; i < c->records->len; i++)
    {
      const MorangoBufferRecord *rec = &g_array_index (c->records, MorangoBufferRecord, i);

      /* The texts live as long as the chunk: bound without a copy. */
      if ((bind_static (insert, 1, rec->profile) | bind_static (insert, 2, rec->serialized) |
           sqlite3_bind_int (insert, 3, rec->deleted ? 1 : 0) |
           sqlite3_bind_int (insert, 4, rec->hard_deleted ? 1 : 0) |
           bind_static (insert, 5, rec->last_saved_instance) |
           sqlite3_bind_int64 (insert, 6, rec->last_saved_counter) |
           bind_static (insert, 7, rec->partition) | bind_static (insert, 8, rec->source_id) |
           bind_static (insert, 9, rec->model_name) |
           bind_static (insert, 10, rec->conflicting_serialized_data) |
           bind_static (insert, 11, rec->self_ref_fk) | bind_static (insert, 12, sync->ts_id) |
           bind_static (insert, 13, rec->model_uuid)) != SQLITE_OK)
        {
          morango_db_set_error (rdb, error, "binding a value");
          goto fail;
        }
      if (!morango_db_run (rdb, insert, error))
        goto fail;

      for (; h < c->history->len && g_array_index (c->history, HistoryEntry, h).record == i; h++)
        {
          const HistoryEntry *e = &g_array_index (c->history, HistoryEntry, h);

          if ((bind_static (insert_rmcb, 1, e->instance) |
               sqlite3_bind_int64 (insert_rmcb, 2, e->counter) |
               bind_static (insert_rmcb, 3, sync->ts_id) |
               bind_static (insert_rmcb, 4, rec->model_uuid)) != SQLITE_OK)
            {
              morango_db_set_error (rdb, error, "binding a value");
              goto fail;
            }
          if (!morango_db_run (rdb, insert_rmcb, error))
            goto fail;
        }

      if (!morango_store_check_injected (sync->receiver, "transfer", already + i + 1, error))
        goto fail;
    }

  if (!morango_transfer_session_set_counts (rdb, sync->ts_id, -1, already + c->records->len, error) ||
      !morango_db_commit (rdb, error))
    goto fail;
  return TRUE;

fail:
  if (morango_db_in_transaction (rdb))
    morango_db_rollback (rdb);
  return FALSE;
}

static gboolean
stage_transferring (Sync    *sync,
                    GError **error)
{
  g_autoptr(MorangoTransferSession) rts = load_ts (sync->receiver, sync->ts_id, error);
  Transfer t = { sync, 0, NULL, NULL, NULL };
  GThread *reader;
  gboolean ok = TRUE, last = FALSE;
  gint64 done;

  if (rts == NULL)
    return FALSE;
  done = rts->records_transferred;

  /* Resuming: skip what the receiver already committed. */
  if (done > 0)
    {
      gboolean found = FALSE;
      if (!morango_db_query_int64 (morango_store_get_db (sync->sender), &t.after_id, &found, error,
                                   "SELECT id FROM morango_buffer WHERE transfer_session_id = ? "
                                   "ORDER BY id LIMIT 1 OFFSET ?", "si", sync->ts_id, done - 1))
        return FALSE;
      if (!found)
        t.after_id = G_MAXINT64;
    }

  t.chunks = g_async_queue_new_full ((GDestroyNotify) chunk_free);
  t.stored = g_async_queue_new ();
  /* The sender's connection is the reader's until stage_transferring()
   * joins it, below. */
  morango_db_release (morango_store_get_db (sync->sender));
  reader = g_thread_new ("morango-transfer", transfer_reader, &t);

  /* Each chunk popped is answered, with its count or with the stop, so
   * the reader never waits for an answer that does not come; chunks it
   * read past a failure are freed with the queue. */
  while (ok && !last)
    {
      Chunk *c = g_async_queue_pop (t.chunks);

      last = c->records->len < sync->options->chunk_size;
      if (c->error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&c->error));
          ok = FALSE;
        }
      else if (!store_chunk (sync, c, done, error))
        ok = FALSE;
      else
        done += c->records->len;
      g_async_queue_push (t.stored, GSIZE_TO_POINTER (ok ? (gsize) done + 1 : STORED_STOP));
      chunk_free (c);
    }
  g_thread_join (reader);
  morango_db_acquire (morango_store_get_db (sync->sender));

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
                                       &sync->stats->dequeue, NULL, error);
}

static gboolean
stage_deserializing (Sync    *sync,
                     GError **error)
{
  if (sync->stats->records_transferred == 0)
    return TRUE;
  /* Local edits made since the last serialization become versions (and
   * win) before incoming data is written over the application rows. */
  return morango_store_serialize (sync->receiver, sync->filter, NULL, error) &&
         morango_store_deserialize (sync->receiver, sync->filter, FALSE, NULL, error);
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
