/* morango-buffer.c: a store's transfer buffers
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "morango-buffer.h"
#include "morango-flat-json.h"
#include "morango-ids.h"
#include "morango-i18n-private.h"

/* The two tables a transfer session's rows wait in: how to tell whether
 * another session has rows there (both tables' indexes lead with the
 * session id, so that is two probes), and how to delete the session's
 * rows, or all of them when the session is alone. */
static const struct {
  const char *others;
  const char *delete_session;
  const char *delete_all;
} buffer_tables[] = {
  { "SELECT EXISTS (SELECT 1 FROM morango_recordmaxcounterbuffer WHERE transfer_session_id < ?1) "
    "OR EXISTS (SELECT 1 FROM morango_recordmaxcounterbuffer WHERE transfer_session_id > ?1)",
    "DELETE FROM morango_recordmaxcounterbuffer WHERE transfer_session_id = ?1",
    "DELETE FROM morango_recordmaxcounterbuffer" },
  { "SELECT EXISTS (SELECT 1 FROM morango_buffer WHERE transfer_session_id < ?1) "
    "OR EXISTS (SELECT 1 FROM morango_buffer WHERE transfer_session_id > ?1)",
    "DELETE FROM morango_buffer WHERE transfer_session_id = ?1",
    "DELETE FROM morango_buffer" },
};

gboolean
morango_buffer_clear (MorangoDb   *db,
                      const char  *id,
                      GError     **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (buffer_tables); i++)
    {
      gint64 others = 1;

      /* Usually the session is alone there: then the table is emptied
       * whole, which SQLite does page by page instead of row by row
       * through the index. */
      if (!morango_db_query_int64 (db, &others, NULL, error, buffer_tables[i].others, "s", id))
        return FALSE;
      if (!(others ? morango_db_delete_copies (db, error, buffer_tables[i].delete_session, "s", id)
                   : morango_db_delete_copies (db, error, buffer_tables[i].delete_all, "")))
        return FALSE;
    }
  return TRUE;
}

/* One reader per thread checking records: made once, not per record. */
static GPrivate verify_body = G_PRIVATE_INIT ((GDestroyNotify) morango_flat_json_free);

gboolean
morango_buffer_check_record (MorangoStore               *receiver,
                             MorangoFilter              *filter,
                             const MorangoBufferRecord  *record,
                             GError                    **error)
{
  if (!morango_is_hex32 (record->model_uuid) || !morango_is_hex32 (record->last_saved_instance) ||
      record->last_saved_counter < 0 || record->model_name == NULL || record->partition == NULL ||
      record->source_id == NULL || record->serialized == NULL)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_RECORD_REJECTED,
                   _("Record %s is malformed: ids must be 32 lowercase hex characters and "
                   "every field must be present"), record->model_uuid ? record->model_uuid : "(no id)");
      return FALSE;
    }
  if (g_strcmp0 (record->profile, morango_store_get_profile_name (receiver)) != 0)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_RECORD_REJECTED,
                   _("Record %s belongs to profile “%s”, not “%s”"), record->model_uuid,
                   record->profile ? record->profile : "", morango_store_get_profile_name (receiver));
      return FALSE;
    }

  if (!morango_profile_check_record_origin (morango_store_get_profile (receiver), filter,
                                            record->model_name, record->model_uuid,
                                            record->partition, record->source_id, error))
    return FALSE;
  if (*record->serialized != '\0')
    {
      MorangoFlatJson *body = g_private_get (&verify_body);
      gboolean valid;

      if (body == NULL)
        g_private_set (&verify_body, (body = morango_flat_json_new ()));
      valid = morango_flat_json_parse (body, record->serialized);
      if (!valid)
        {
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_RECORD_REJECTED,
                       _("Record %s: its data is not a valid JSON object"), record->model_uuid);
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
morango_buffer_check_chunk (MorangoStore        *receiver,
                            MorangoFilter       *filter,
                            MorangoBufferChunk  *chunk,
                            GError             **error)
{
  guint h = 0;

  g_return_val_if_fail (MORANGO_IS_STORE (receiver), FALSE);
  g_return_val_if_fail (chunk != NULL, FALSE);

  chunk->checked_by = chunk->checked_in = NULL;
  for (guint i = 0; i < chunk->records->len; i++)
    {
      const MorangoBufferRecord *rec = &g_array_index (chunk->records, MorangoBufferRecord, i);

      if (!morango_buffer_check_record (receiver, filter, rec, error))
        return FALSE;
      for (; h < chunk->history->len && g_array_index (chunk->history, MorangoBufferHistory, h).record == i; h++)
        if (!morango_is_hex32 (g_array_index (chunk->history, MorangoBufferHistory, h).instance_id))
          {
            g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_RECORD_REJECTED,
                         _("Record %s carries a malformed history entry"), rec->model_uuid);
            return FALSE;
          }
    }
  if (h != chunk->history->len)
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_RECORD_REJECTED,
                           _("A chunk carries history rows out of the order of its records"));
      return FALSE;
    }
  chunk->checked_by = receiver;
  chunk->checked_in = filter;
  return TRUE;
}

/* ---- chunks ---- */

MorangoBufferChunk *
morango_buffer_chunk_new (void)
{
  MorangoBufferChunk *c = g_new0 (MorangoBufferChunk, 1);

  c->texts = g_string_chunk_new (64 * 1024);
  c->records = g_array_new (FALSE, FALSE, sizeof (MorangoBufferRecord));
  c->history = g_array_new (FALSE, FALSE, sizeof (MorangoBufferHistory));
  return c;
}

void
morango_buffer_chunk_free (MorangoBufferChunk *chunk)
{
  if (chunk == NULL)
    return;
  g_string_chunk_free (chunk->texts);
  g_array_unref (chunk->records);
  g_array_unref (chunk->history);
  g_free (chunk);
}

static inline const char *
copy_text (GStringChunk *texts,
           const char   *text)
{
  return text != NULL ? g_string_chunk_insert (texts, text) : NULL;
}

void
morango_buffer_chunk_add_record (MorangoBufferChunk        *chunk,
                                 const MorangoBufferRecord *record)
{
  MorangoBufferRecord copy = *record;

  g_return_if_fail (chunk != NULL);

  copy.model_uuid = copy_text (chunk->texts, record->model_uuid);
  copy.model_name = copy_text (chunk->texts, record->model_name);
  copy.profile = copy_text (chunk->texts, record->profile);
  copy.partition = copy_text (chunk->texts, record->partition);
  copy.source_id = copy_text (chunk->texts, record->source_id);
  copy.serialized = copy_text (chunk->texts, record->serialized);
  copy.conflicting_serialized_data = copy_text (chunk->texts, record->conflicting_serialized_data);
  copy.last_saved_instance = copy_text (chunk->texts, record->last_saved_instance);
  copy.self_ref_fk = copy_text (chunk->texts, record->self_ref_fk);
  if (copy.serialized != NULL)
    chunk->bytes += strlen (copy.serialized);
  chunk->checked_by = chunk->checked_in = NULL;
  g_array_append_val (chunk->records, copy);
}

void
morango_buffer_chunk_add_history (MorangoBufferChunk *chunk,
                                  const char         *instance_id,
                                  gint64              counter)
{
  MorangoBufferHistory entry = { 0, NULL, counter };

  g_return_if_fail (chunk != NULL);
  g_return_if_fail (chunk->records->len > 0);

  entry.record = chunk->records->len - 1;
  entry.instance_id = copy_text (chunk->texts, instance_id);
  chunk->checked_by = chunk->checked_in = NULL;
  g_array_append_val (chunk->history, entry);
}

/* ---- reading the outgoing buffer ---- */

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

/* Puts @cursor where @offset records of the session's buffer end. */
static gboolean
cursor_seek (MorangoDb            *db,
             const char           *ts_id,
             gint64                offset,
             MorangoBufferCursor  *cursor,
             GError              **error)
{
  gboolean found = FALSE;

  cursor->offset = offset;
  cursor->after_id = 0;
  if (offset == 0)
    return TRUE;
  if (!morango_db_query_int64 (db, &cursor->after_id, &found, error,
                               "SELECT id FROM morango_buffer WHERE transfer_session_id = ? "
                               "ORDER BY id LIMIT 1 OFFSET ?", "si", ts_id, offset - 1))
    return FALSE;
  if (!found)
    cursor->after_id = G_MAXINT64;   /* past the end */
  return TRUE;
}

MorangoBufferChunk *
morango_buffer_read_chunk (MorangoStore         *store,
                           const char           *transfer_session_id,
                           gint64                offset,
                           guint                 limit,
                           MorangoBufferCursor  *cursor,
                           GError              **error)
{
  g_autoptr(MorangoBufferChunk) c = NULL;
  MorangoBufferCursor own = { 0 };
  MorangoDb *db;
  sqlite3_stmt *read;
  HistoryCursor hist = { 0 };
  gboolean ok = TRUE;
  int rc;

  g_return_val_if_fail (MORANGO_IS_STORE (store), NULL);
  g_return_val_if_fail (transfer_session_id != NULL, NULL);
  g_return_val_if_fail (offset >= 0, NULL);

  db = morango_store_get_db (store);
  if (cursor == NULL)
    cursor = &own;
  if ((cursor->offset != offset || (offset > 0 && cursor->after_id == 0)) &&
      !cursor_seek (db, transfer_session_id, offset, cursor, error))
    return NULL;

  /* Walks the rowid: the "+" keeps SQLite off the (session, model_uuid)
   * index, which would sort the whole session again for every chunk.
   * Each statement has its own SQL text, so the cache hands out the
   * same one for the whole chunk: looked up once here rather than per
   * record (hashing the text costs more than running the inserts). */
  read = morango_db_prepare (db,
                             "SELECT id, model_uuid, profile, serialized, deleted, hard_deleted, "
                             "  last_saved_instance, last_saved_counter, partition, source_id, model_name, "
                             "  conflicting_serialized_data, _self_ref_fk "
                             "FROM morango_buffer WHERE +transfer_session_id = ? AND id > ? "
                             "ORDER BY id LIMIT ?", error);
  if (read == NULL || !morango_db_bind (db, read, error, "sii", transfer_session_id,
                                        cursor->after_id, (gint64) limit))
    return NULL;
  hist.stmt = morango_db_prepare (db,
                                  "SELECT model_uuid, instance_id, counter "
                                  "FROM morango_recordmaxcounterbuffer "
                                  "WHERE transfer_session_id = ?1 AND model_uuid >= ?2 "
                                  "ORDER BY model_uuid", error);
  if (hist.stmt == NULL)
    {
      sqlite3_reset (read);
      return NULL;
    }

  c = morango_buffer_chunk_new ();
  while (ok && (rc = morango_db_step (db, read, error)) == SQLITE_ROW)
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

      c->bytes += sqlite3_column_bytes (read, 3);
      cursor->after_id = sqlite3_column_int64 (read, 0);
      cursor->offset++;
      /* A malformed id has no history to look up; the receiver refuses
       * the record. */
      if (morango_is_hex32 (rec.model_uuid))
        {
          if (!history_find (&hist, db, transfer_session_id, rec.model_uuid, error))
            {
              ok = FALSE;
              break;
            }
          for (; history_at (&hist, rec.model_uuid); hist.rc = morango_db_step (db, hist.stmt, error))
            {
              MorangoBufferHistory entry = {
                c->records->len, copy_column (c->texts, hist.stmt, 1), sqlite3_column_int64 (hist.stmt, 2)
              };

              g_array_append_val (c->history, entry);
            }
          if (hist.rc < 0)
            ok = FALSE;
        }
      g_array_append_val (c->records, rec);
    }
  sqlite3_reset (read);
  sqlite3_reset (hist.stmt);
  if (!ok || rc < 0)
    {
      /* Where the cursor stands is not known any more. */
      cursor->offset = -1;
      return NULL;
    }
  return g_steal_pointer (&c);
}

/* ---- writing the incoming buffer ---- */

/* SQLITE_OK is 0, so a chain of these can be ORed. */
static inline int
bind_static (sqlite3_stmt *stmt,
             int           i,
             const char   *text)
{
  return sqlite3_bind_text (stmt, i, text, -1, SQLITE_STATIC);
}

gboolean
morango_buffer_write_chunk (MorangoStore        *receiver,
                            const char          *transfer_session_id,
                            MorangoFilter       *filter,
                            MorangoBufferChunk  *chunk,
                            MorangoMonitor      *monitor,
                            GError             **error)
{
  g_autoptr(MorangoTransaction) tx = NULL;
  MorangoDb *db;
  sqlite3_stmt *insert, *insert_rmcb;
  guint h = 0;

  g_return_val_if_fail (MORANGO_IS_STORE (receiver), FALSE);
  g_return_val_if_fail (transfer_session_id != NULL, FALSE);
  g_return_val_if_fail (chunk != NULL, FALSE);

  /* Every record is checked before anything is written. */
  if ((chunk->checked_by != receiver || chunk->checked_in != filter) &&
      !morango_buffer_check_chunk (receiver, filter, chunk, error))
    return FALSE;

  db = morango_store_get_db (receiver);
  insert = morango_db_prepare (db,
                               "INSERT INTO morango_buffer (profile, serialized, deleted, hard_deleted, "
                               "  last_saved_instance, last_saved_counter, partition, source_id, "
                               "  model_name, conflicting_serialized_data, _self_ref_fk, "
                               "  transfer_session_id, model_uuid) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", error);
  insert_rmcb = morango_db_prepare (db,
                                    "INSERT INTO morango_recordmaxcounterbuffer (instance_id, counter, "
                                    "  transfer_session_id, model_uuid) VALUES (?, ?, ?, ?) "
                                    "ON CONFLICT DO UPDATE SET counter = max (counter, excluded.counter)",
                                    error);
  if (insert == NULL || insert_rmcb == NULL ||
      (tx = morango_transaction_begin (db, monitor, error)) == NULL)
    return FALSE;

  for (guint i = 0; i < chunk->records->len; i++)
    {
      const MorangoBufferRecord *rec = &g_array_index (chunk->records, MorangoBufferRecord, i);

      /* The texts live as long as the chunk: bound without a copy. */
      if ((bind_static (insert, 1, rec->profile) | bind_static (insert, 2, rec->serialized) |
           sqlite3_bind_int (insert, 3, rec->deleted ? 1 : 0) |
           sqlite3_bind_int (insert, 4, rec->hard_deleted ? 1 : 0) |
           bind_static (insert, 5, rec->last_saved_instance) |
           sqlite3_bind_int64 (insert, 6, rec->last_saved_counter) |
           bind_static (insert, 7, rec->partition) | bind_static (insert, 8, rec->source_id) |
           bind_static (insert, 9, rec->model_name) |
           bind_static (insert, 10, rec->conflicting_serialized_data) |
           bind_static (insert, 11, rec->self_ref_fk) | bind_static (insert, 12, transfer_session_id) |
           bind_static (insert, 13, rec->model_uuid)) != SQLITE_OK)
        return morango_db_set_error (db, error, "binding a value");
      if (!morango_db_run (db, insert, error))
        return FALSE;

      for (; h < chunk->history->len && g_array_index (chunk->history, MorangoBufferHistory, h).record == i; h++)
        {
          const MorangoBufferHistory *e = &g_array_index (chunk->history, MorangoBufferHistory, h);

          if ((bind_static (insert_rmcb, 1, e->instance_id) |
               sqlite3_bind_int64 (insert_rmcb, 2, e->counter) |
               bind_static (insert_rmcb, 3, transfer_session_id) |
               bind_static (insert_rmcb, 4, rec->model_uuid)) != SQLITE_OK)
            return morango_db_set_error (db, error, "binding a value");
          if (!morango_db_run (db, insert_rmcb, error))
            return FALSE;
        }

      if (!morango_monitor_advance (monitor, 1, strlen (rec->serialized), error))
        return FALSE;
    }

  return morango_transaction_commit (tx, error);
}
