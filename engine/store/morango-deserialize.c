/* morango-deserialize.c: store → application tables (protocol §4.5)
 *
 * SPDX-License-Identifier: MIT
 *
 * The stage streams: a cursor walks the records to do, one MorangoRow and
 * a few GStrings are reused from record to record, and every write is a
 * cached prepared statement, all inside one transaction.
 */

#include <string.h>

#include "morango-app-private.h"
#include "morango-deserialize.h"
#include "morango-flat-json.h"
#include "morango-json.h"
#include "morango-pipe-private.h"
#include "morango-stage-private.h"

/* Records taken off the pending list at once while deserializing: few
 * enough that their pages are still in the page cache. */
#define CLEAN_BATCH 2048

/* ---- the stage filter as an SQL function ---------------------------------
 *
 * Queries that need the filter inside SQL (the parent-first order of
 * self-referencing models) call morango_stage_filter(partition).  It is
 * registered once per connection; each stage points it at its filter, so
 * redefining the function never expires cached statements. */

typedef struct {
  MorangoFilter *filter;   /* NULL: everything */
} StageFilter;

static void
stage_filter_func (sqlite3_context  *ctx,
                   int               argc,
                   sqlite3_value   **argv)
{
  StageFilter *sf = sqlite3_user_data (ctx);
  const char *p = (const char *) sqlite3_value_text (argv[0]);

  sqlite3_result_int (ctx, sf->filter == NULL ||
                           (p != NULL && morango_filter_contains (sf->filter, p)));
}

static StageFilter *
stage_filter_get (MorangoDb  *db,
                  GError    **error)
{
  StageFilter *sf = morango_db_get_function_data (db, "morango_stage_filter");

  if (sf != NULL)
    return sf;
  /* The connection frees it once neither it nor a reader has it. */
  sf = g_new0 (StageFilter, 1);
  if (!morango_db_register_function (db, "morango_stage_filter", 1, stage_filter_func, sf,
                                     g_free, error))
    g_clear_pointer (&sf, g_free);
  return sf;
}

/* ---- deserialization ------------------------------------------------------- */

/* The last store lookup of one foreign key column: logs of one user
 * come one after the other in partition order.  Store flags do not
 * change while deserializing, so the answer stays good for the stage. */
typedef struct {
  char      id[33];
  gboolean  found;
  gboolean  deleted;
  gboolean  hard;
} FkCache;

/* The half of deserializing a regular record that only reads: building
 * the app row from the store row, and looking up in the store what its
 * references point to.  Of what it reads, the stage writes only what
 * the reader is past, so for a database in a file it can run on a
 * thread and a read-only connection of its own (see deserialize_piped)
 * while the stage's connection writes. */
typedef struct {
  MorangoDb       *db;        /* the stage's connection, or NULL */
  MorangoDb       *reader;    /* the reading thread's connection, when @db is NULL */
  sqlite3_stmt    *lookup;    /* deleted, hard_deleted of a store row */
  MorangoRandom   *random;    /* defaults; no other thread draws meanwhile */
  MorangoFlatJson *flat;
  JsonParser      *parser;
  GString         *msg;
  FkCache         *fk_cache;  /* one entry per field of the model, or NULL */
} Reading;

/* What Reading.lookup asks of a store row. */
#define LOOKUP_FLAGS_SQL "SELECT deleted, hard_deleted FROM morango_store WHERE id = ?"

/* What reading found out about a record, in the texts Python writes. */
typedef struct {
  char     *invalid;      /* the row does not validate */
  char     *missing;      /* a reference to a record the store lacks */
  gboolean  divert;       /* a reference to a deleted record */
  gboolean  divert_hard;
} Verdict;

static void
verdict_clear (Verdict *v)
{
  g_clear_pointer (&v->invalid, g_free);
  g_clear_pointer (&v->missing, g_free);
  v->divert = v->divert_hard = FALSE;
}

typedef struct {
  MorangoStore  *store;
  MorangoDb     *db;
  MorangoMonitor *monitor;
  MorangoFilter *filter;
  gboolean       skip_erroring;
  gboolean       nested;        /* inside a caller's transaction */
  gint64         done;
  Reading        reading;       /* on the stage's connection */
  GString       *msg;
  const char    *model_name;    /* the model being deserialized */
  sqlite3_stmt  *st_clean;      /* takes a record off the pending list */
  sqlite3_stmt  *st_clear_error;
  sqlite3_stmt  *st_failed_check;
  gboolean       defer_clean;   /* batch the cleaning (regular models) */
  GPtrArray     *to_clean;      /* ids applied but still pending, in @clean_ids */
  GStringChunk  *clean_ids;
  sqlite3_stmt  *st_upsert;     /* the current model's, or NULL */
  gint64         n_failed;      /* rows in temp.morango_deserialize_failed */
} Deserializer;

/* Columns every cursor below returns, in this order. */
enum { COL_ID, COL_SERIALIZED, COL_DELETED, COL_HARD, COL_PARTITION, COL_SOURCE_ID, COL_SELF_REF,
       COL_ERROR };

static inline gboolean
cursor_had_error (sqlite3_stmt *cursor)
{
  return *morango_db_column_text (cursor, COL_ERROR) != '\0';
}

static gboolean
unpend (Deserializer  *d,
        const char    *id,
        GError       **error)
{
  bind_text (d->st_clean, 1, morango_store_get_profile_name (d->store));
  bind_text (d->st_clean, 2, d->model_name);
  bind_text (d->st_clean, 3, id);
  return morango_db_run (d->db, d->st_clean, error);
}

/* Takes the records batched so far off the pending list.  They are
 * behind the cursor in the index it walks, which SQLite handles; doing
 * it one record at a time would make the cursor seek again at every
 * step. */
static gboolean
flush_clean (Deserializer  *d,
             GError       **error)
{
  gboolean ok = TRUE;

  /* An entry holds ids and names the store row has too: nothing to
   * wipe. */
  if (!morango_db_set_zero_freed (d->db, FALSE, error))
    return FALSE;
  for (guint i = 0; ok && i < d->to_clean->len; i++)
    ok = unpend (d, d->to_clean->pdata[i], error);
  if (!morango_db_set_zero_freed (d->db, TRUE, ok ? error : NULL))
    ok = FALSE;
  g_ptr_array_set_size (d->to_clean, 0);
  g_string_chunk_clear (d->clean_ids);
  return ok;
}

/* Record @id was applied: it leaves the pending list, and its store row
 * loses the error an earlier run left (@had_error). */
static gboolean
mark_clean (Deserializer  *d,
            const char    *id,
            gboolean       had_error,
            GError       **error)
{
  if (had_error)
    {
      bind_text (d->st_clear_error, 1, id);
      if (!morango_db_run (d->db, d->st_clear_error, error))
        return FALSE;
    }
  if (d->defer_clean)
    {
      g_ptr_array_add (d->to_clean, g_string_chunk_insert (d->clean_ids, id));
      return d->to_clean->len < CLEAN_BATCH || flush_clean (d, error);
    }
  return unpend (d, id, error);
}

/* A record that cannot be applied stays dirty with the reason; records
 * referring to it later in this run fail too. */
static gboolean
mark_failed (Deserializer  *d,
             const char    *id,
             const char    *message,
             GError       **error)
{
  d->n_failed++;
  return morango_db_execute (d->db, error,
                             "INSERT INTO temp.morango_deserialize_failed (id) VALUES (?) "
                             "ON CONFLICT (id) DO NOTHING", "s", id) &&
         morango_db_execute (d->db, error,
                             "UPDATE morango_store SET deserialization_error = ? WHERE id = ?",
                             "ss", message, id);
}

static gboolean
queue_deletion (Deserializer  *d,
                const char    *id,
                gboolean       hard,
                GError       **error)
{
  const char *profile = morango_store_get_profile_name (d->store);

  return morango_db_execute (d->db, error,
                             "INSERT INTO morango_deletedmodels (id, profile) VALUES (?, ?) "
                             "ON CONFLICT (id) DO UPDATE SET profile = excluded.profile",
                             "ss", id, profile) &&
         (!hard ||
          morango_db_execute (d->db, error,
                              "INSERT INTO morango_harddeletedmodels (id, profile) VALUES (?, ?) "
                              "ON CONFLICT (id) DO UPDATE SET profile = excluded.profile",
                              "ss", id, profile));
}

/* An incoming delete: the app row goes with its dependents.  The row
 * itself is not queued again (deletions caused by sync are not
 * re-tracked), but its dependents are — a deliberate difference from
 * Morango 0.8.2 (corrections item 25, docs/profiles.md), so that their
 * store rows become deleted instead of staying alive everywhere. */
static gboolean
apply_delete (Deserializer  *d,
              MorangoModel  *m,
              const char    *id,
              gboolean       hard,
              gboolean       had_error,
              GError       **error)
{
  gboolean found = FALSE;

  if (!morango_db_query_int64 (d->db, NULL, &found, error, m->sql_exists, "s", id))
    return FALSE;
  if (found && !morango_app_delete_cascade (morango_store_get_app (d->store), m, id, FALSE, TRUE, hard, error))
    return FALSE;
  return mark_clean (d, id, had_error, error);
}

/* Builds the app row from a store row (protocol §4.3); *@invalid gets a
 * validation failure. */
static void
build_row (Reading       *r,
           MorangoRow    *row,
           sqlite3_stmt  *cursor,
           char         **invalid)
{
  MorangoModel *m = row->model;
  const char *text = morango_db_column_text (cursor, COL_SERIALIZED);
  JsonObject *obj = NULL;

  *invalid = NULL;
  if (morango_flat_json_parse (r->flat, text))
    {
      for (guint i = 0; i < m->fields->len; i++)
        {
          MorangoField *f = g_ptr_array_index (m->fields, i);
          const MorangoFlatMember *mem;

          if ((int) i == m->id_col)
            morango_row_set_text (row, i, morango_db_column_text (cursor, COL_ID));
          else if ((int) i == m->source_id_col)
            morango_row_set_text (row, i, morango_db_column_text (cursor, COL_SOURCE_ID));
          else if ((int) i == m->partition_col)
            morango_row_set_text (row, i, morango_db_column_text (cursor, COL_PARTITION));
          else if ((mem = morango_flat_json_lookup (r->flat, f->column)) != NULL)
            morango_row_set_from_flat (row, i, mem);
          else
            morango_row_set_default (row, i, r->random);
        }
      *invalid = morango_row_validate (row);
      return;
    }
  if (*text != '\0' && json_parser_load_from_data (r->parser, text, -1, NULL))
    {
      JsonNode *root = json_parser_get_root (r->parser);
      if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
        obj = json_node_get_object (root);
    }
  if (obj == NULL)
    {
      *invalid = g_strdup ("The stored record is not a JSON object");
      return;
    }

  for (guint i = 0; i < m->fields->len; i++)
    {
      MorangoField *f = g_ptr_array_index (m->fields, i);
      JsonNode *value;

      if ((int) i == m->id_col)
        morango_row_set_text (row, i, morango_db_column_text (cursor, COL_ID));
      else if ((int) i == m->source_id_col)
        morango_row_set_text (row, i, morango_db_column_text (cursor, COL_SOURCE_ID));
      else if ((int) i == m->partition_col)
        morango_row_set_text (row, i, morango_db_column_text (cursor, COL_PARTITION));
      else if ((value = json_object_get_member (obj, f->column)) != NULL)
        morango_row_set_from_json (row, i, value);
      else
        morango_row_set_default (row, i, r->random);
    }
  *invalid = morango_row_validate (row);
}

/* Writes the row; a constraint of the app table (a unique column) is a
 * failure of this record, not of the stage. */
static gboolean
write_row (Deserializer  *d,
           MorangoRow    *row,
           char         **failure,
           GError       **error)
{
  g_autoptr(GError) local_error = NULL;

  if (d->st_upsert != NULL)
    {
      morango_row_bind (row, d->st_upsert, 1);
      sqlite3_bind_int (d->st_upsert, row->model->fields->len + 1, 0);
      if (morango_db_run (d->db, d->st_upsert, &local_error))
        return TRUE;
    }
  else if (morango_app_write_row (morango_store_get_app (d->store), row, FALSE, &local_error))
    return TRUE;
  if (g_error_matches (local_error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_CONSTRAINT))
    {
      *failure = g_strdup (sqlite3_errmsg (morango_db_get_handle (d->db)));
      return TRUE;
    }
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

static gboolean
lookup_store (Reading     *r,
              const char  *id,
              gboolean    *found,
              gboolean    *deleted,
              gboolean    *hard,
              GError     **error)
{
  sqlite3_stmt *stmt = r->lookup;
  int rc;

  *found = *deleted = *hard = FALSE;
  bind_text (stmt, 1, id);
  rc = step_on (r->db, r->reader, stmt, error);
  if (rc < 0)
    return FALSE;
  if (rc == SQLITE_ROW)
    {
      *found = TRUE;
      *deleted = sqlite3_column_int (stmt, 0) != 0;
      *hard = sqlite3_column_int (stmt, 1) != 0;
    }
  sqlite3_reset (stmt);
  return TRUE;
}

/* The reading half of path B of protocol §4.5: build and validate, then
 * look the references up in the store. */
static gboolean
read_regular (Reading       *r,
              MorangoRow    *row,
              sqlite3_stmt  *cursor,
              Verdict       *v,
              GError       **error)
{
  MorangoModel *m = row->model;

  build_row (r, row, cursor, &v->invalid);
  if (v->invalid != NULL)
    return TRUE;

  for (guint i = 0; i < m->fields->len; i++)
    {
      MorangoField *f = g_ptr_array_index (m->fields, i);
      const char *to_pk = morango_row_get_text (row, i);
      gboolean found, deleted, hard;

      if (f->type != MORANGO_FIELD_FOREIGN_KEY || to_pk == NULL)
        continue;
      if (r->fk_cache != NULL && strcmp (r->fk_cache[i].id, to_pk) == 0)
        {
          found = r->fk_cache[i].found;
          deleted = r->fk_cache[i].deleted;
          hard = r->fk_cache[i].hard;
        }
      else
        {
          if (!lookup_store (r, to_pk, &found, &deleted, &hard, error))
            return FALSE;
          if (r->fk_cache != NULL && strlen (to_pk) < sizeof r->fk_cache[i].id)
            {
              strcpy (r->fk_cache[i].id, to_pk);
              r->fk_cache[i].found = found;
              r->fk_cache[i].deleted = deleted;
              r->fk_cache[i].hard = hard;
            }
        }
      if (!found)
        {
          g_autofree char *text = g_strdup_printf ("%s instance with id '%s' does not exist",
                                                   f->fk_model->verbose_name, to_pk);
          g_string_assign (r->msg, "{");
          morango_py_repr_append (r->msg, f->column);
          g_string_append (r->msg, ": ");
          morango_py_repr_append (r->msg, text);
          g_string_append (r->msg, "}");
          v->missing = g_strdup (r->msg->str);
          return TRUE;
        }
      if (deleted || hard)
        {
          v->divert = TRUE;
          v->divert_hard |= hard;
        }
    }
  return TRUE;
}

/* The writing half: refuse references to records that failed in this
 * run (they come first, as in Python), divert references to deleted
 * records into the deletion queues, write. */
static gboolean
apply_regular (Deserializer  *d,
               const char    *id,
               gboolean       had_error,
               MorangoRow    *row,
               Verdict       *v,
               GError       **error)
{
  MorangoModel *m = row->model;
  g_autofree char *failure = g_steal_pointer (&v->invalid);

  for (guint i = 0; failure == NULL && d->n_failed > 0 && i < m->fields->len; i++)
    {
      MorangoField *f = g_ptr_array_index (m->fields, i);
      const char *to_pk = morango_row_get_text (row, i);
      gboolean failed = FALSE;

      if (f->type != MORANGO_FIELD_FOREIGN_KEY || to_pk == NULL)
        continue;
      bind_text (d->st_failed_check, 1, to_pk);
      switch (morango_db_step (d->db, d->st_failed_check, error))
        {
        case SQLITE_ROW:
          failed = TRUE;
          break;
        case SQLITE_DONE:
          break;
        default:
          return FALSE;
        }
      sqlite3_reset (d->st_failed_check);
      if (failed)
        {
          g_autofree char *text = g_strdup_printf ("%s with id %s failed to deserialize",
                                                   f->fk_model->verbose_name, to_pk);
          g_string_assign (d->msg, "[");
          morango_py_repr_append (d->msg, text);
          g_string_append (d->msg, "]");
          failure = g_strdup (d->msg->str);
        }
    }
  if (failure == NULL)
    failure = g_steal_pointer (&v->missing);

  if (failure == NULL && v->divert)
    {
      /* Not written: the next serialization gives it a deletion version
       * of its own, which carries the cascade to peers. */
      return queue_deletion (d, id, v->divert_hard, error) && mark_clean (d, id, had_error, error);
    }
  if (failure == NULL && morango_row_has_bad_uuid (row))
    failure = g_strdup ("badly formed hexadecimal UUID string");
  if (failure == NULL && !write_row (d, row, &failure, error))
    return FALSE;
  if (failure != NULL)
    return mark_failed (d, id, failure, error);
  return mark_clean (d, id, had_error, error);
}

/* ---- the reading half on a thread of its own ----
 *
 * The reader walks the model's pending list on a read-only connection,
 * builds rows and looks references up; the stage's connection applies
 * them (morango-pipe-private.h).  The reader sees the database as the
 * stage found it: the pending entries, store rows and flags it reads
 * are ones the stage has not written yet, or never writes. */

typedef struct {
  GString    *id;
  gsize       bytes;      /* of the stored record JSON */
  gboolean    is_delete;
  gboolean    hard;
  gboolean    had_error;
  MorangoRow *row;
  Verdict     verdict;
} DeItem;

typedef struct {
  Reading        reading;
  sqlite3_stmt  *cursor;
  MorangoFilter *filter;
  MorangoModel  *model;
} DeReader;

static gpointer
de_item_new (gpointer data)
{
  DeReader *r = data;
  DeItem *it = g_new0 (DeItem, 1);

  it->id = g_string_sized_new (33);
  it->row = morango_row_new (r->model);
  return it;
}

static void
de_item_free (gpointer data)
{
  DeItem *it = data;

  g_string_free (it->id, TRUE);
  morango_row_free (it->row);
  verdict_clear (&it->verdict);
  g_free (it);
}

static MorangoPipeStep
de_read (gpointer   data,
         gpointer   user_data,
         GError   **error)
{
  DeItem *it = data;
  DeReader *r = user_data;
  int rc = step_on (NULL, r->reading.reader, r->cursor, error);

  if (rc != SQLITE_ROW)
    return rc < 0 ? MORANGO_PIPE_ERROR : MORANGO_PIPE_END;
  if (r->filter != NULL &&
      !morango_filter_contains (r->filter, morango_db_column_text (r->cursor, COL_PARTITION)))
    return MORANGO_PIPE_SKIP;
  g_string_assign (it->id, morango_db_column_text (r->cursor, COL_ID));
  it->bytes = sqlite3_column_bytes (r->cursor, COL_SERIALIZED);
  it->hard = sqlite3_column_int (r->cursor, COL_HARD) != 0;
  it->is_delete = it->hard || sqlite3_column_int (r->cursor, COL_DELETED) != 0;
  it->had_error = cursor_had_error (r->cursor);
  verdict_clear (&it->verdict);
  if (!it->is_delete && !read_regular (&r->reading, it->row, r->cursor, &it->verdict, error))
    return MORANGO_PIPE_ERROR;
  return MORANGO_PIPE_ITEM;
}

static gboolean
de_apply (gpointer   data,
          gpointer   user_data,
          GError   **error)
{
  DeItem *it = data;
  Deserializer *d = user_data;

  if (!(it->is_delete
        ? apply_delete (d, it->row->model, it->id->str, it->hard, it->had_error, error)
        : apply_regular (d, it->id->str, it->had_error, it->row, &it->verdict, error)))
    return FALSE;
  d->done++;
  return morango_monitor_advance (d->monitor, 1, it->bytes, error);
}

static const MorangoPipeFuncs de_pipe = {
  "morango-deserialize", PIPE_BATCH, PIPE_BATCHES,
  de_item_new, de_item_free, de_read, de_apply,
};

/* Deserializes a regular model with the reading half on a thread of its
 * own.  *@piped is FALSE when no reading connection could be had; the
 * caller then does it all on the stage's connection. */
static gboolean
deserialize_piped (Deserializer  *d,
                   MorangoModel  *m,
                   const char    *sql,
                   gboolean      *piped,
                   GError       **error)
{
  DeReader r = { .filter = d->filter, .model = m };
  gboolean ok = FALSE;

  r.reading.reader = open_reading (d->db, "deserializing", m);
  if (!(*piped = r.reading.reader != NULL))
    return TRUE;
  /* Cached statements of the reader: they go with it. */
  if ((r.cursor = morango_db_prepare (r.reading.reader, sql, error)) != NULL &&
      morango_db_bind (r.reading.reader, r.cursor, error, "ss",
                       morango_store_get_profile_name (d->store), m->name) &&
      (r.reading.lookup = morango_db_prepare (r.reading.reader, LOOKUP_FLAGS_SQL, error)) != NULL)
    {
      r.reading.random = morango_store_get_random (d->store);
      r.reading.flat = morango_flat_json_new ();
      r.reading.parser = json_parser_new_immutable ();
      r.reading.msg = g_string_sized_new (256);
      r.reading.fk_cache = g_new0 (FkCache, m->fields->len);
      ok = morango_pipe_run (&de_pipe, r.reading.reader, &r, d, d->monitor, error);
    }

  g_clear_object (&r.reading.reader);
  g_clear_pointer (&r.reading.flat, morango_flat_json_free);
  g_clear_object (&r.reading.parser);
  if (r.reading.msg != NULL)
    g_string_free (r.reading.msg, TRUE);
  g_clear_pointer (&r.reading.fk_cache, g_free);
  return ok;
}

/* ---- the bulk path: secondary indexes rebuilt, not maintained ---------
 *
 * An app table's own indexes (a content id, say) take records in an
 * order unrelated to the id order this stage writes in.  Once such an
 * index outgrows the page cache, every insert reads one of its pages
 * and, the cache being full of dirty pages, spills another: a page
 * written per record (16 KiB).  When a model has many records to apply
 * and they are most of its table, the indexes that the stage never
 * reads (neither unique nor partial: no insert can fail on them, and
 * no lookup of this stage goes through them) are dropped inside the
 * stage's transaction and created again from their own SQL at its end;
 * CREATE INDEX sorts, then writes each page once.  A failure rolls the
 * drop back with everything else. */

/* From about this many records an index of two text ids (~75 B an entry) outgrows
 * the 12 MB page cache, and maintaining one in random order starts to
 * cost a page a record.  Below it a rebuild only costs: it sorts an
 * index that may be in id order anyway (a user's logs by user), and the
 * sort's room took 3-5 MB more at the peak of a 100k-record sync of the
 * kolibri-like profile. */
#define BULK_MIN_DEFAULT 150000
static guint bulk_min = BULK_MIN_DEFAULT;

void
morango_store_deserialize_set_bulk_min (guint records)
{
  bulk_min = records > 0 ? records : BULK_MIN_DEFAULT;
}

/* The SQL of the indexes of @m's table that the stage may rebuild, or an
 * empty array when the bulk path does not pay.  Those indexes are
 * dropped. */
static gboolean
defer_indexes (Deserializer  *d,
               MorangoModel  *m,
               GPtrArray    **deferred,
               GError       **error)
{
  const char *profile = morango_store_get_profile_name (d->store);
  gint64 pending = 0, existing = 0;
  sqlite3_stmt *stmt;
  int rc;

  *deferred = g_ptr_array_new_with_free_func (g_free);
  if (!morango_db_query_int64 (d->db, &pending, NULL, error,
                               "SELECT count(*) FROM (SELECT 1 FROM morango_store_pending "
                               "WHERE profile = ? AND model_name = ? LIMIT ?)",
                               "ssi", profile, m->name, (gint64) bulk_min))
    return FALSE;
  if (pending < bulk_min)
    return TRUE;
  if (!morango_db_query_int64 (d->db, &pending, NULL, error,
                               "SELECT count(*) FROM morango_store_pending "
                               "WHERE profile = ? AND model_name = ?", "ss", profile, m->name))
    return FALSE;
  /* Rebuilding sorts every row of the table: worth it while the rows
   * already there are no more than those coming. */
  {
    char *sql = sqlite3_mprintf ("SELECT count(*) FROM (SELECT 1 FROM \"%w\" LIMIT ?)", m->table);
    sqlite3_stmt *count = NULL;

    rc = sqlite3_prepare_v2 (morango_db_get_handle (d->db), sql, -1, &count, NULL);
    sqlite3_free (sql);
    if (rc != SQLITE_OK)
      return morango_db_set_error (d->db, error, "counting an app table");
    sqlite3_bind_int64 (count, 1, pending + 1);
    rc = morango_db_step (d->db, count, error);
    if (rc == SQLITE_ROW)
      existing = sqlite3_column_int64 (count, 0);
    sqlite3_finalize (count);
    if (rc < 0)
      return FALSE;
    if (existing > pending)
      return TRUE;
  }

  if ((stmt = morango_db_prepare (d->db,
                                  "SELECT s.name, s.sql FROM sqlite_schema s "
                                  "JOIN pragma_index_list (?1) l ON l.name = s.name "
                                  "WHERE s.type = 'index' AND s.tbl_name = ?1 AND s.sql IS NOT NULL "
                                  "AND l.\"unique\" = 0 AND l.partial = 0 ORDER BY s.name",
                                  error)) == NULL ||
      !morango_db_bind (d->db, stmt, error, "s", m->table))
    return FALSE;
  while ((rc = morango_db_step (d->db, stmt, error)) == SQLITE_ROW)
    {
      g_ptr_array_add (*deferred, g_strdup (morango_db_column_text (stmt, 0)));
      g_ptr_array_add (*deferred, g_strdup (morango_db_column_text (stmt, 1)));
    }
  sqlite3_reset (stmt);
  if (rc < 0)
    return FALSE;
  for (guint i = 0; i < (*deferred)->len; i += 2)
    {
      char *drop = sqlite3_mprintf ("DROP INDEX \"%w\"", (char *) g_ptr_array_index (*deferred, i));
      gboolean ok = morango_db_exec (d->db, drop, error);

      sqlite3_free (drop);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

/* CREATE INDEX sorts in memory up to the size of the page cache, then
 * in runs written to temporary files (temp_store = FILE) that it merges.
 * While it sorts, the cache gives up most of its room to it, so that the
 * process does not hold both: the pages it had are written once at the
 * commit anyway.  At 2 MB the 100k-record sync above peaked 2 MB higher
 * than at 1 MB. */
#define REBUILD_CACHE_KIB 1000

static gboolean
restore_indexes (Deserializer  *d,
                 GPtrArray     *deferred,
                 GError       **error)
{
  gint64 cache = 0;
  gboolean ok = TRUE;

  if (deferred->len == 0)
    return TRUE;
  if (!morango_db_query_int64 (d->db, &cache, NULL, error, "PRAGMA cache_size", ""))
    return FALSE;
  if (cache < 0 && -cache > REBUILD_CACHE_KIB &&
      !morango_db_exec (d->db, "PRAGMA cache_size = -" G_STRINGIFY (REBUILD_CACHE_KIB), error))
    return FALSE;
  for (guint i = 0; ok && i < deferred->len; i += 2)
    ok = morango_db_exec (d->db, g_ptr_array_index (deferred, i + 1), error);
  if (cache < 0 && -cache > REBUILD_CACHE_KIB)
    {
      g_autofree char *pragma = g_strdup_printf ("PRAGMA cache_size = %" G_GINT64_FORMAT, cache);
      /* Put back even after a failure: the connection outlives the stage. */
      if (!morango_db_exec (d->db, pragma, ok ? error : NULL))
        ok = FALSE;
    }
  return ok;
}

static gboolean deserialize_regular_rows (Deserializer  *d,
                                          MorangoModel  *m,
                                          GError       **error);

static gboolean
deserialize_regular (Deserializer  *d,
                     MorangoModel  *m,
                     GError       **error)
{
  g_autoptr(GPtrArray) deferred = NULL;

  return defer_indexes (d, m, &deferred, error) &&
         deserialize_regular_rows (d, m, error) &&
         restore_indexes (d, deferred, error);
}

static gboolean
deserialize_regular_rows (Deserializer  *d,
                          MorangoModel  *m,
                          GError       **error)
{
  /* The model's pending list, in id order, drives the join. */
#define PENDING_WALK(ERR) \
  "SELECT s.id, s.serialized, s.deleted, s.hard_deleted, s.partition, s.source_id, " \
  "  s._self_ref_fk, s.deserialization_error " \
  "FROM morango_store_pending p CROSS JOIN morango_store s ON s.id = p.id " \
  "WHERE p.profile = ? AND p.model_name = ?" ERR
  const char *sql = d->skip_erroring ? PENDING_WALK (" AND s.deserialization_error = ''")
                                     : PENDING_WALK ("");
#undef PENDING_WALK
  sqlite3_stmt *cursor;
  MorangoRow *row;
  gboolean ok = TRUE, piped = FALSE;
  int rc;

  if ((d->st_upsert = morango_db_prepare (d->db, m->sql_upsert, error)) == NULL)
    return FALSE;

  /* A caller's transaction may hold writes a second connection cannot
   * see: then everything happens here.  So do models with few records
   * to apply, for which a thread and a connection cost more than they
   * save. */
  if (!d->nested)
    {
      gboolean many = FALSE;

      if (!morango_db_query_int64 (d->db, NULL, &many, error,
                                   "SELECT 1 FROM morango_store_pending "
                                   "WHERE profile = ? AND model_name = ? LIMIT 1 OFFSET ?",
                                   "ssi", morango_store_get_profile_name (d->store), m->name,
                                   (gint64) PIPE_MIN - 1))
        return FALSE;
      if (many)
        {
          ok = deserialize_piped (d, m, sql, &piped, error);
          if (piped)
            {
              d->st_upsert = NULL;
              return ok && flush_clean (d, error);
            }
        }
    }

  if ((cursor = morango_db_prepare (d->db, sql, error)) == NULL ||
      !morango_db_bind (d->db, cursor, error, "ss",
                        morango_store_get_profile_name (d->store), m->name))
    return FALSE;
  row = morango_row_new (m);
  d->reading.fk_cache = g_new0 (FkCache, m->fields->len);
  while ((rc = morango_db_step (d->db, cursor, error)) == SQLITE_ROW)
    {
      const char *id = morango_db_column_text (cursor, COL_ID);
      gboolean hard = sqlite3_column_int (cursor, COL_HARD) != 0;
      gsize bytes = sqlite3_column_bytes (cursor, COL_SERIALIZED);

      if (d->filter != NULL &&
          !morango_filter_contains (d->filter, morango_db_column_text (cursor, COL_PARTITION)))
        continue;
      if (hard || sqlite3_column_int (cursor, COL_DELETED))
        ok = apply_delete (d, m, id, hard, cursor_had_error (cursor), error);
      else
        {
          Verdict v = { 0 };

          ok = read_regular (&d->reading, row, cursor, &v, error) &&
               apply_regular (d, id, cursor_had_error (cursor), row, &v, error);
          verdict_clear (&v);
        }
      if (ok)
        {
          d->done++;
          ok = morango_monitor_advance (d->monitor, 1, bytes, error);
        }
      if (!ok)
        break;
    }
  if (rc < 0)
    ok = FALSE;
  sqlite3_reset (cursor);
  morango_row_free (row);
  g_clear_pointer (&d->reading.fk_cache, g_free);
  d->st_upsert = NULL;
  if (!ok)
    return FALSE;

  /* What is left of the batch. */
  return flush_clean (d, error);
}

/* Path A of protocol §4.5: self-referencing models, one record at a
 * time, parents first.  Instead of Python's rounds (quadratic) one
 * recursive query orders the dirty rows by depth below a clean (or no)
 * parent; a row is applied only once its parent is clean. */
static gboolean
apply_self_ref (Deserializer  *d,
                MorangoRow    *row,
                sqlite3_stmt  *cursor,
                GError       **error)
{
  MorangoModel *m = row->model;
  const char *id = morango_db_column_text (cursor, COL_ID);
  g_autofree char *failure = NULL;
  gboolean divert = FALSE, divert_hard = FALSE;

  build_row (&d->reading, row, cursor, &failure);
  if (failure == NULL && morango_row_has_bad_uuid (row))
    failure = g_strdup ("badly formed hexadecimal UUID string");

  /* Full validation checks references among the app rows. */
  for (guint i = 0; failure == NULL && i < m->fields->len; i++)
    {
      MorangoField *f = g_ptr_array_index (m->fields, i);
      const char *to_pk = morango_row_get_text (row, i);
      gboolean exists = FALSE, found, deleted, hard;

      if (f->type != MORANGO_FIELD_FOREIGN_KEY || to_pk == NULL)
        continue;
      if (!morango_db_query_int64 (d->db, NULL, &exists, error, f->fk_model->sql_exists, "s", to_pk))
        return FALSE;
      if (exists)
        continue;
      if (!lookup_store (&d->reading, to_pk, &found, &deleted, &hard, error))
        return FALSE;
      if (found && (deleted || hard))
        {
          divert = TRUE;
          divert_hard |= hard;
          continue;
        }
      {
        g_autofree char *text = g_strdup_printf ("%s instance with id '%s' does not exist.",
                                                 f->fk_model->verbose_name, to_pk);
        g_string_assign (d->msg, "{");
        morango_py_repr_append (d->msg, f->name);
        g_string_append (d->msg, ": [");
        morango_py_repr_append (d->msg, text);
        g_string_append (d->msg, "]}");
        failure = g_strdup (d->msg->str);
      }
    }

  if (failure == NULL && divert)
    return queue_deletion (d, id, divert_hard, error) &&
           mark_clean (d, id, cursor_had_error (cursor), error);
  if (failure == NULL && !write_row (d, row, &failure, error))
    return FALSE;
  if (failure != NULL)
    return mark_failed (d, id, failure, error);
  return mark_clean (d, id, cursor_had_error (cursor), error);
}

static gboolean
deserialize_self_ref (Deserializer  *d,
                      MorangoModel  *m,
                      GError       **error)
{
  const char *profile = morango_store_get_profile_name (d->store);
  /* Only pending rows take part; a parent no longer pending is looked
   * up by id. */
#define SELF_REF_ORDER(ERR, PERR) \
  "WITH RECURSIVE " \
  "ws (id, parent) AS (SELECT s.id, s._self_ref_fk " \
  "  FROM morango_store_pending q CROSS JOIN morango_store s ON s.id = q.id " \
  "  WHERE q.profile = ?1 AND q.model_name = ?2 " ERR \
  "  AND morango_stage_filter (s.partition)), " \
  "lvl (id, depth) AS (" \
  "  SELECT id, 0 FROM ws WHERE parent = '' OR EXISTS (SELECT 1 FROM morango_store p " \
  "    WHERE p.id = ws.parent AND p.profile = ?1 AND p.model_name = ?2 " PERR \
  "    AND morango_stage_filter (p.partition) " \
  "    AND NOT EXISTS (SELECT 1 FROM morango_store_pending q " \
  "      WHERE q.profile = ?1 AND q.model_name = ?2 AND q.id = p.id)) " \
  "  UNION ALL " \
  "  SELECT ws.id, lvl.depth + 1 FROM ws JOIN lvl ON ws.parent = lvl.id " \
  "    WHERE lvl.depth < 1000000) " \
  "SELECT s.id, s.serialized, s.deleted, s.hard_deleted, s.partition, s.source_id, s._self_ref_fk, " \
  "  s.deserialization_error " \
  "FROM lvl JOIN morango_store s ON s.id = lvl.id ORDER BY lvl.depth"
  const char *sql = d->skip_erroring
    ? SELF_REF_ORDER ("AND s.deserialization_error = ''", "AND p.deserialization_error = ''")
    : SELF_REF_ORDER ("", "");
#undef SELF_REF_ORDER
  sqlite3_stmt *cursor;
  MorangoRow *row;
  gboolean ok = TRUE;
  int rc;

  if ((cursor = morango_db_prepare (d->db, sql, error)) == NULL ||
      !morango_db_bind (d->db, cursor, error, "ss", profile, m->name))
    return FALSE;
  row = morango_row_new (m);
  /* The ORDER BY makes SQLite compute the whole order before the first
   * row comes back, so the writes below cannot disturb it. */
  while ((rc = morango_db_step (d->db, cursor, error)) == SQLITE_ROW)
    {
      const char *parent = morango_db_column_text (cursor, COL_SELF_REF);
      gsize bytes = sqlite3_column_bytes (cursor, COL_SERIALIZED);

      if (*parent != '\0')
        {
          gint64 parent_dirty = 1;
          gboolean found = FALSE;

          if (!morango_db_query_int64 (d->db, &parent_dirty, &found, error,
                                       "SELECT EXISTS (SELECT 1 FROM morango_store_pending q "
                                       "WHERE q.profile = s.profile AND q.model_name = s.model_name "
                                       "AND q.id = s.id) FROM morango_store s WHERE s.id = ?",
                                       "s", parent))
            {
              ok = FALSE;
              break;
            }
          if (!found || parent_dirty)
            continue;   /* its parent failed in this run */
        }
      if (sqlite3_column_int (cursor, COL_DELETED) || sqlite3_column_int (cursor, COL_HARD))
        ok = apply_delete (d, m, morango_db_column_text (cursor, COL_ID),
                           sqlite3_column_int (cursor, COL_HARD) != 0, cursor_had_error (cursor),
                           error);
      else
        ok = apply_self_ref (d, row, cursor, error);
      if (ok)
        {
          d->done++;
          ok = morango_monitor_advance (d->monitor, 1, bytes, error);
        }
      if (!ok)
        break;
    }
  if (rc < 0)
    ok = FALSE;
  sqlite3_reset (cursor);
  morango_row_free (row);
  if (!ok)
    return FALSE;

  /* What is still dirty waited for a parent that never became clean. */
  return morango_db_execute (d->db, error,
                             d->skip_erroring
                             ? "UPDATE morango_store SET deserialization_error = CASE "
                               "WHEN EXISTS (SELECT 1 FROM morango_store p WHERE p.id = morango_store._self_ref_fk) "
                               "THEN 'Parent is dirty; could not deserialize.' "
                               "ELSE 'Parent does not exist in Store; could not deserialize.' END "
                               "WHERE profile = ?1 AND model_name = ?2 AND id IN (SELECT id "
                               "FROM morango_store_pending WHERE profile = ?1 AND model_name = ?2) "
                               "AND deserialization_error = '' AND morango_stage_filter (partition) "
                               "AND id NOT IN (SELECT id FROM temp.morango_deserialize_failed)"
                             : "UPDATE morango_store SET deserialization_error = CASE "
                               "WHEN EXISTS (SELECT 1 FROM morango_store p WHERE p.id = morango_store._self_ref_fk) "
                               "THEN 'Parent is dirty; could not deserialize.' "
                               "ELSE 'Parent does not exist in Store; could not deserialize.' END "
                               "WHERE profile = ?1 AND model_name = ?2 AND id IN (SELECT id "
                               "FROM morango_store_pending WHERE profile = ?1 AND model_name = ?2) "
                               "AND morango_stage_filter (partition) "
                               "AND id NOT IN (SELECT id FROM temp.morango_deserialize_failed)",
                             "ss", profile, m->name);
}

gboolean
morango_store_deserialize (MorangoStore    *store,
                           MorangoFilter   *filter,
                           gboolean         skip_erroring,
                           MorangoMonitor  *monitor,
                           GError         **error)
{
  MorangoProfile *profile;
  Deserializer d = { 0 };
  StageFilter *sf;
  g_autoptr(MorangoTransaction) tx = NULL;
  gboolean ok = FALSE;

  g_return_val_if_fail (MORANGO_IS_STORE (store), FALSE);
  g_return_val_if_fail (monitor == NULL || MORANGO_IS_MONITOR (monitor), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  profile = morango_store_get_profile (store);
  if (profile == NULL)
    {
      /* A relay: records stay in the store. */
      if (!morango_monitor_check_cancelled (monitor, error))
        return FALSE;
      morango_monitor_stage_begin (monitor, "deserialize", 0);
      morango_monitor_stage_end (monitor);
      return TRUE;
    }

  d.store = store;
  d.db = morango_store_get_db (store);
  d.monitor = monitor;
  d.filter = filter;
  d.skip_erroring = skip_erroring;

  if ((sf = stage_filter_get (d.db, error)) == NULL)
    return FALSE;
  d.nested = morango_db_in_transaction (d.db);
  /* Begun first: a monitor cancelled already reports nothing.  How many
   * records wait would cost a scan: the total stays unknown. */
  if ((tx = morango_transaction_begin (d.db, monitor, error)) == NULL)
    return FALSE;
  morango_monitor_stage_begin (monitor, "deserialize", -1);
  if (!morango_db_exec (d.db, "CREATE TEMP TABLE IF NOT EXISTS morango_deserialize_failed "
                        "(id text PRIMARY KEY); DELETE FROM temp.morango_deserialize_failed;", error))
    return FALSE;

  if (!prepare_all (d.db, error,
                    &d.st_clean,
                    "DELETE FROM morango_store_pending WHERE profile = ? AND model_name = ? AND id = ?",
                    &d.st_clear_error,
                    "UPDATE morango_store SET deserialization_error = '' WHERE id = ?",
                    &d.st_failed_check,
                    "SELECT 1 FROM temp.morango_deserialize_failed WHERE id = ?",
                    &d.reading.lookup, LOOKUP_FLAGS_SQL,
                    NULL))
    return FALSE;

  sf->filter = filter;
  d.msg = g_string_sized_new (256);
  d.reading.db = d.db;
  d.reading.random = morango_store_get_random (store);
  d.reading.parser = json_parser_new_immutable ();
  d.reading.flat = morango_flat_json_new ();
  d.reading.msg = d.msg;
  d.to_clean = g_ptr_array_sized_new (CLEAN_BATCH);
  d.clean_ids = g_string_chunk_new (CLEAN_BATCH * 33);

  for (guint i = 0; i < morango_profile_get_n_models (profile); i++)
    {
      MorangoModel *m = morango_profile_get_model_at (profile, i);

      d.defer_clean = m->self_ref_col < 0;
      d.model_name = m->name;
      if (!(m->self_ref_col >= 0 ? deserialize_self_ref (&d, m, error)
                                 : deserialize_regular (&d, m, error)))
        goto out;
    }
  ok = morango_db_exec (d.db, "DELETE FROM temp.morango_deserialize_failed", error) &&
       morango_transaction_commit (tx, error);

out:
  sf->filter = NULL;
  g_clear_object (&d.reading.parser);
  g_clear_pointer (&d.reading.flat, morango_flat_json_free);
  if (d.msg)
    g_string_free (d.msg, TRUE);
  if (d.to_clean)
    g_ptr_array_unref (d.to_clean);
  if (d.clean_ids)
    g_string_chunk_free (d.clean_ids);
  if (ok)
    morango_monitor_stage_end (monitor);
  return ok;
}
