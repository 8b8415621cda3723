/* morango-serialize.c: application tables ⇄ store (protocol §3.3, §4.5)
 *
 * SPDX-License-Identifier: MIT
 *
 * Both stages stream: a cursor walks the rows to do, one MorangoRow and
 * a few GStrings are reused from record to record, and every write is a
 * cached prepared statement, all inside one transaction.
 */

#include <string.h>

#include "morango-app-private.h"
#include "morango-flat-json.h"
#include "morango-json.h"
#include "morango-pipe-private.h"
#include "morango-serialize.h"

/* Rows per statement of the bulk updates. */
#define SLICE 2000

/* Dirty bits cleared at once, after the cursor has moved on: clearing
 * one under the cursor would make it seek again at every step.  The
 * cursor walks in id order, so each batch is too.  A fixed size keeps
 * memory flat (about 300 KiB of ids). */
#define CLEAR_BATCH 8192

/* Records taken off the pending list at once while deserializing: few
 * enough that their pages are still in the page cache. */
#define CLEAN_BATCH 2048

/* Stages whose reading half runs on a second thread (morango-pipe-
 * private.h) hand records over in batches of PIPE_BATCH, PIPE_BATCHES of
 * them in circulation.  PIPE_MIN is the number of records of a model
 * from which the thread pays for its connection and start: in
 * bench-local-sync, 1.5k records deserialized in 7 ms on one thread and
 * 8-11 ms on two, 5k in 25 ms and 20 ms.  Batches of 256 records were no
 * faster than 128 and cost 1-1.5 MB more at the peak. */
#define PIPE_BATCH 128
#define PIPE_BATCHES 3
#define PIPE_MIN 4096

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
  StageFilter *sf = g_object_get_data (G_OBJECT (db), "morango-stage-filter");

  if (sf != NULL)
    return sf;
  sf = g_new0 (StageFilter, 1);
  if (sqlite3_create_function_v2 (morango_db_get_handle (db), "morango_stage_filter", 1,
                                  SQLITE_UTF8, sf, stage_filter_func, NULL, NULL,
                                  g_free) != SQLITE_OK)
    {
      morango_db_set_error (db, error, "registering the stage filter");
      return NULL;
    }
  /* The connection frees it (xDestroy) when it closes. */
  g_object_set_data (G_OBJECT (db), "morango-stage-filter", sf);
  return sf;
}

/* ---- serialization --------------------------------------------------------- */

/* What turning an app row into record JSON needs; one per thread. */
typedef struct {
  MorangoFlatJson *flat;
  JsonParser      *parser;
  GString         *json;      /* the result */
} Rendering;

typedef struct {
  MorangoStore  *store;
  MorangoDb     *db;
  MorangoFilter *filter;
  const char    *profile;
  const char    *instance;
  gint64         counter;
  gint64         done;
  Rendering      r;             /* on the stage's thread */
  GString       *old;
  GString       *conflicts;
  /* Prepared once per stage: the statement cache hashes the SQL text,
   * which costs more than the statements themselves at this rate. */
  sqlite3_stmt  *st_insert;
  sqlite3_stmt  *st_lookup;
  sqlite3_stmt  *st_update;
  sqlite3_stmt  *st_rmc;
  sqlite3_stmt  *st_unpend;
  sqlite3_stmt  *st_clear;      /* the current model's */
  GPtrArray     *to_clear;      /* ids of serialized rows still dirty, in @ids */
  GStringChunk  *ids;
  gboolean       expect_existing;
  gboolean       nested;        /* inside a caller's transaction */
} Serializer;

static gboolean
prepare_all (MorangoDb      *db,
             GError        **error,
             sqlite3_stmt  **first,
             const char     *first_sql,
             ...)
{
  va_list args;
  sqlite3_stmt **slot = first;
  const char *sql = first_sql;
  gboolean ok = TRUE;

  va_start (args, first_sql);
  while (slot != NULL)
    {
      if ((*slot = morango_db_prepare (db, sql, error)) == NULL)
        {
          ok = FALSE;
          break;
        }
      slot = va_arg (args, sqlite3_stmt **);
      if (slot != NULL)
        sql = va_arg (args, const char *);
    }
  va_end (args);
  return ok;
}

static inline void
bind_text (sqlite3_stmt *stmt,
           int           i,
           const char   *text)
{
  sqlite3_bind_text (stmt, i, text, -1, SQLITE_STATIC);
}

static gboolean
has_duplicate_keys (MorangoFlatJson *flat)
{
  guint n = morango_flat_json_get_n (flat);

  for (guint i = 1; i < n; i++)
    for (guint j = 0; j < i; j++)
      if (strcmp (morango_flat_json_get (flat, i)->key, morango_flat_json_get (flat, j)->key) == 0)
        return TRUE;
  return FALSE;
}

static int
serialized_field_index (MorangoModel *m,
                        const char   *key)
{
  for (guint i = 0; i < m->fields->len; i++)
    {
      MorangoField *f = g_ptr_array_index (m->fields, i);
      if (f->serialize && strcmp (f->column, key) == 0)
        return i;
    }
  return -1;
}

/* Ends a merged object: the model's fields the stored JSON lacked, in
 * field order, then the closing brace. */
static void
append_unseen_fields (Rendering      *r,
                      MorangoRow     *row,
                      const gboolean *seen,
                      gboolean        first)
{
  MorangoModel *m = row->model;

  for (guint i = 0; i < m->fields->len; i++)
    {
      MorangoField *f = g_ptr_array_index (m->fields, i);

      if (!f->serialize || seen[i])
        continue;
      if (!first)
        g_string_append (r->json, ", ");
      first = FALSE;
      morango_json_append_string (r->json, f->column);
      g_string_append (r->json, ": ");
      morango_row_append_value_json (row, i, r->json);
    }
  g_string_append_c (r->json, '}');
}

/* Python decodes and re-encodes the stored JSON; for a flat object the
 * same text comes from re-encoding each scalar. */
static void
merge_flat (Rendering  *r,
            MorangoRow *row,
            gboolean   *seen)
{
  MorangoModel *m = row->model;
  guint n = morango_flat_json_get_n (r->flat);
  gboolean first = TRUE;

  g_string_append_c (r->json, '{');
  for (guint k = 0; k < n; k++)
    {
      const MorangoFlatMember *mem = morango_flat_json_get (r->flat, k);
      int idx = serialized_field_index (m, mem->key);

      if (!first)
        g_string_append (r->json, ", ");
      first = FALSE;
      morango_json_append_string (r->json, mem->key);
      g_string_append (r->json, ": ");
      if (idx >= 0)
        {
          seen[idx] = TRUE;
          morango_row_append_value_json (row, idx, r->json);
          continue;
        }
      switch (mem->kind)
        {
        case MORANGO_FLAT_NULL:
          g_string_append (r->json, "null");
          break;
        case MORANGO_FLAT_TRUE:
          g_string_append (r->json, "true");
          break;
        case MORANGO_FLAT_FALSE:
          g_string_append (r->json, "false");
          break;
        case MORANGO_FLAT_STRING:
          morango_json_append_string (r->json, mem->text);
          break;
        case MORANGO_FLAT_INT:
          g_string_append_printf (r->json, "%" G_GINT64_FORMAT, mem->i);
          break;
        case MORANGO_FLAT_DOUBLE:
        case MORANGO_FLAT_COMPLEX:   /* not here: has_complex sends those to json-glib */
          morango_json_append_double (r->json, mem->d);
          break;
        }
    }
  append_unseen_fields (r, row, seen, first);
}

/* Overlays the row on the stored JSON (protocol §3.3 step 3a): keys the
 * model does not know, written by a newer peer, are kept in place. */
static void
merge_json (Rendering  *r,
            MorangoRow *row,
            const char *old_text)
{
  MorangoModel *m = row->model;
  JsonNode *root = NULL;
  g_autofree gboolean *seen = g_new0 (gboolean, m->fields->len);
  gboolean first = TRUE;

  /* "" is what a conflict with an incoming hard delete leaves (quirk 20). */
  if (*old_text != '\0' && morango_flat_json_parse (r->flat, old_text) &&
      !morango_flat_json_has_complex (r->flat) && !has_duplicate_keys (r->flat))
    {
      merge_flat (r, row, seen);
      return;
    }
  if (*old_text != '\0' && json_parser_load_from_data (r->parser, old_text, -1, NULL))
    root = json_parser_get_root (r->parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      morango_row_append_json (row, r->json);
      return;
    }

  g_string_append_c (r->json, '{');
  {
    JsonObjectIter iter;
    const char *key;
    JsonNode *value;

    json_object_iter_init_ordered (&iter, json_node_get_object (root));
    while (json_object_iter_next_ordered (&iter, &key, &value))
      {
        int idx = serialized_field_index (m, key);

        if (!first)
          g_string_append (r->json, ", ");
        first = FALSE;
        morango_json_append_string (r->json, key);
        g_string_append (r->json, ": ");
        if (idx >= 0)
          {
            seen[idx] = TRUE;
            morango_row_append_value_json (row, idx, r->json);
          }
        else
          morango_json_append (r->json, value);
      }
  }
  append_unseen_fields (r, row, seen, first);
}

/* The read-only connection of @stage's reading thread for @m, or NULL
 * (a database in memory, or one that would not open, said at debug
 * level) when the stage does it all on its own connection. */
static sqlite3 *
open_reading (MorangoDb    *db,
              const char   *stage,
              MorangoModel *m)
{
  g_autoptr(GError) local_error = NULL;
  sqlite3 *handle = morango_db_open_reader (db, &local_error);

  if (handle != NULL)
    g_debug ("%s %s on two threads", stage, m->name);
  else if (local_error != NULL)
    g_debug ("%s %s on one thread: %s", stage, m->name, local_error->message);
  return handle;
}

/* One step of @stmt on the stage's connection (@db), or on a reader's
 * (@db NULL, @handle). */
static int
step_on (MorangoDb     *db,
         sqlite3       *handle,
         sqlite3_stmt  *stmt,
         GError       **error)
{
  int rc;

  if (db != NULL)
    return morango_db_step (db, stmt, error);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW || rc == SQLITE_DONE)
    return rc;
  g_set_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_FAILED,
               "Reading the database on a second connection: %s", sqlite3_errmsg (handle));
  sqlite3_reset (stmt);
  return -1;
}

/* The columns of a row that name its store row; FALSE without an id. */
typedef struct {
  const char *id;
  const char *partition;
  const char *source_id;
  const char *self_ref;
} RecordKeys;

static gboolean
record_keys (MorangoRow *row,
             RecordKeys *k)
{
  MorangoModel *m = row->model;

  /* No id cannot happen: it is the NOT NULL primary key. */
  if ((k->id = morango_row_get_text (row, m->id_col)) == NULL)
    return FALSE;
  k->partition = morango_row_get_text (row, m->partition_col);
  k->source_id = morango_row_get_text (row, m->source_id_col);
  k->self_ref = m->self_ref_col >= 0 ? morango_row_get_text (row, m->self_ref_col) : NULL;
  if (k->partition == NULL)
    k->partition = "";
  if (k->source_id == NULL)
    k->source_id = "";
  if (k->self_ref == NULL)
    k->self_ref = "";
  return TRUE;
}

/* Inserts a new store row holding @json; *@existed when there was one. */
static gboolean
insert_store_row (Serializer        *s,
                  MorangoRow        *row,
                  const RecordKeys  *k,
                  const char        *json,
                  gboolean          *existed,
                  GError           **error)
{
  sqlite3_stmt *stmt = s->st_insert;

  bind_text (stmt, 1, k->id);
  bind_text (stmt, 2, s->profile);
  bind_text (stmt, 3, json);
  bind_text (stmt, 4, s->instance);
  sqlite3_bind_int64 (stmt, 5, s->counter);
  bind_text (stmt, 6, k->partition);
  bind_text (stmt, 7, k->source_id);
  bind_text (stmt, 8, row->model->name);
  bind_text (stmt, 9, k->self_ref);
  if (!morango_db_run (s->db, stmt, error))
    return FALSE;
  *existed = morango_db_changes (s->db) == 0;
  return TRUE;
}

/* The new version of an existing store row.  @dirty: it held an
 * incoming version never applied, which loses to the local edit (it is
 * at the head of @conflicts) and leaves the pending list. */
static gboolean
update_store_row (Serializer        *s,
                  const RecordKeys  *k,
                  const char        *json,
                  const char        *conflicts,
                  gboolean           dirty,
                  GError           **error)
{
  sqlite3_stmt *stmt = s->st_update;

  if (dirty)
    {
      bind_text (s->st_unpend, 1, k->id);
      if (!morango_db_run (s->db, s->st_unpend, error))
        return FALSE;
    }
  /* _self_ref_fk is refreshed every time (quirk 8). */
  bind_text (stmt, 1, json);
  bind_text (stmt, 2, conflicts);
  bind_text (stmt, 3, s->instance);
  sqlite3_bind_int64 (stmt, 4, s->counter);
  bind_text (stmt, 5, k->self_ref);
  bind_text (stmt, 6, k->id);
  return morango_db_run (s->db, stmt, error);
}

/* The record's history, and its dirty bit to clear. */
static gboolean
finish_record (Serializer   *s,
               const char   *id,
               GError      **error)
{
  sqlite3_stmt *stmt = s->st_rmc;

  bind_text (stmt, 1, s->instance);
  sqlite3_bind_int64 (stmt, 2, s->counter);
  bind_text (stmt, 3, id);
  if (!morango_db_run (s->db, stmt, error))
    return FALSE;
  g_ptr_array_add (s->to_clear, g_string_chunk_insert (s->ids, id));

  s->done++;
  return morango_store_check_injected (s->store, "serialize", s->done, error);
}

#define LOOKUP_EXISTING_SQL \
  "SELECT s.serialized, p.id IS NOT NULL, s.conflicting_serialized_data " \
  "FROM morango_store s LEFT JOIN morango_store_pending p " \
  "  ON p.profile = s.profile AND p.model_name = s.model_name AND p.id = s.id " \
  "WHERE s.id = ?"

/* The store row of @id as it is: its JSON in @old, whether it waits to
 * be deserialized, its conflict log in @conflicts. */
static gboolean
lookup_existing (MorangoDb     *db,
                 sqlite3       *handle,
                 sqlite3_stmt  *stmt,
                 const char    *id,
                 gboolean      *found,
                 gboolean      *dirty,
                 GString       *old,
                 GString       *conflicts,
                 GError       **error)
{
  int rc;

  *found = *dirty = FALSE;
  bind_text (stmt, 1, id);
  rc = step_on (db, handle, stmt, error);
  if (rc < 0)
    return FALSE;
  if (rc == SQLITE_ROW)
    {
      *found = TRUE;
      g_string_assign (old, morango_db_column_text (stmt, 0));
      *dirty = sqlite3_column_int (stmt, 1) != 0;
      g_string_assign (conflicts, morango_db_column_text (stmt, 2));
    }
  sqlite3_reset (stmt);
  return TRUE;
}

/* The record JSON of @row into @r's result: merged onto @old when the
 * store row exists (an unapplied incoming version, @dirty, goes to the
 * head of @conflicts), else from the row alone. */
static void
render_record (Rendering  *r,
               MorangoRow *row,
               gboolean    found,
               gboolean    dirty,
               GString    *old,
               GString    *conflicts)
{
  g_string_truncate (r->json, 0);
  if (!found)
    {
      morango_row_append_json (row, r->json);
      return;
    }
  if (dirty)
    {
      g_string_prepend_c (conflicts, '\n');
      g_string_prepend (conflicts, old->str);
    }
  merge_json (r, row, old->str);
}

static gboolean
serialize_one (Serializer  *s,
               MorangoRow  *row,
               GError     **error)
{
  RecordKeys k;
  gboolean found = FALSE, dirty = FALSE, existed = FALSE;

  if (!record_keys (row, &k))
    return TRUE;

  /* Runs of new rows (a first sync) and runs of known rows (edits) are
   * both common: start with whichever the previous row needed, so the
   * wrong guess costs one index probe only at the turns. */
  if (s->expect_existing &&
      !lookup_existing (s->db, NULL, s->st_lookup, k.id, &found, &dirty, s->old, s->conflicts,
                        error))
    return FALSE;
  if (!found)
    {
      render_record (&s->r, row, FALSE, FALSE, NULL, NULL);
      if (!insert_store_row (s, row, &k, s->r.json->str, &existed, error))
        return FALSE;
      g_assert (!(existed && s->expect_existing));   /* one connection, inside our transaction */
      if (existed &&
          !lookup_existing (s->db, NULL, s->st_lookup, k.id, &found, &dirty, s->old, s->conflicts,
                            error))
        return FALSE;
      if (existed && !found)
        {
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_FAILED,
                       "Store row %s vanished during serialization", k.id);
          return FALSE;
        }
      s->expect_existing = existed;
    }
  if (found)
    {
      render_record (&s->r, row, TRUE, dirty, s->old, s->conflicts);
      if (!update_store_row (s, &k, s->r.json->str, s->conflicts->str, dirty, error))
        return FALSE;
    }
  return finish_record (s, k.id, error);
}

/* Clears the dirty bits of the rows serialized so far.  They are behind
 * the cursor in its partial index, which SQLite handles.  What the
 * rewrite frees (the row as it was, its entry in the dirty index) is
 * still in the table, bit for bit but the dirty bit: nothing to wipe. */
static gboolean
flush_clear (Serializer  *s,
             GError     **error)
{
  gboolean ok = TRUE;

  if (!morango_db_set_zero_freed (s->db, FALSE, error))
    return FALSE;
  for (guint i = 0; ok && i < s->to_clear->len; i++)
    {
      bind_text (s->st_clear, 1, s->to_clear->pdata[i]);
      ok = morango_db_run (s->db, s->st_clear, error);
    }
  if (!morango_db_set_zero_freed (s->db, TRUE, ok ? error : NULL))
    ok = FALSE;
  if (!ok)
    return FALSE;
  g_ptr_array_set_size (s->to_clear, 0);
  g_string_chunk_clear (s->ids);
  return TRUE;
}

/* ---- serializing with the reading half on a thread of its own ----
 *
 * For a database file and a model with many dirty rows, a reader on a
 * read-only connection walks the dirty rows, looks their store rows up
 * and renders the record JSON; the stage's connection writes store rows
 * and histories and clears the dirty bits (morango-pipe-private.h).
 * The reader sees the database as the stage began.  Of what it reads,
 * the stage changes a row's dirty bit, its store row and its pending
 * entry only once the reader is past that row, so what it finds is what
 * the stage would find.  (A store row can only be written earlier in
 * the stage by a record of another model with the same id, which the id
 * rules rule out: the stage's connection still notices a new row that
 * is no longer new and does that record itself.) */

typedef struct {
  MorangoRow *row;
  gboolean    found;
  gboolean    dirty;
  GString    *json;
  GString    *conflicts;
} SeItem;

typedef struct {
  sqlite3       *handle;
  sqlite3_stmt  *cursor;
  sqlite3_stmt  *lookup;
  MorangoFilter *filter;
  MorangoModel  *model;
  Rendering      r;
  GString       *old;
} SeReader;

static gpointer
se_item_new (gpointer data)
{
  SeReader *r = data;
  SeItem *it = g_new0 (SeItem, 1);

  it->row = morango_row_new (r->model);
  it->json = g_string_sized_new (512);
  it->conflicts = g_string_new (NULL);
  return it;
}

static void
se_item_free (gpointer data)
{
  SeItem *it = data;

  morango_row_free (it->row);
  g_string_free (it->json, TRUE);
  g_string_free (it->conflicts, TRUE);
  g_free (it);
}

static MorangoPipeStep
se_read (gpointer   data,
         gpointer   user_data,
         GError   **error)
{
  SeItem *it = data;
  SeReader *r = user_data;
  const char *partition, *id;
  int rc = step_on (NULL, r->handle, r->cursor, error);

  if (rc != SQLITE_ROW)
    return rc < 0 ? MORANGO_PIPE_ERROR : MORANGO_PIPE_END;
  morango_row_read (it->row, r->cursor, 0);
  partition = morango_row_get_text (it->row, r->model->partition_col);
  if (r->filter != NULL && !morango_filter_contains (r->filter, partition ? partition : ""))
    return MORANGO_PIPE_SKIP;
  if ((id = morango_row_get_text (it->row, r->model->id_col)) == NULL)
    return MORANGO_PIPE_SKIP;
  if (!lookup_existing (NULL, r->handle, r->lookup, id, &it->found, &it->dirty, r->old,
                        it->conflicts, error))
    return MORANGO_PIPE_ERROR;
  r->r.json = it->json;
  render_record (&r->r, it->row, it->found, it->dirty, r->old, it->conflicts);
  return MORANGO_PIPE_ITEM;
}

static gboolean
se_apply (gpointer   data,
          gpointer   user_data,
          GError   **error)
{
  SeItem *it = data;
  Serializer *s = user_data;
  RecordKeys k;
  gboolean existed = FALSE, ok;

  record_keys (it->row, &k);
  if (it->found)
    ok = update_store_row (s, &k, it->json->str, it->conflicts->str, it->dirty, error) &&
         finish_record (s, k.id, error);
  else if (!insert_store_row (s, it->row, &k, it->json->str, &existed, error))
    return FALSE;
  else
    ok = existed ? serialize_one (s, it->row, error) : finish_record (s, k.id, error);
  return ok && (s->to_clear->len < CLEAR_BATCH || flush_clear (s, error));
}

static const MorangoPipeFuncs se_pipe = {
  "morango-serialize", PIPE_BATCH, PIPE_BATCHES,
  se_item_new, se_item_free, se_read, se_apply,
};

/* Serializes @m's dirty rows with the reading half on a thread of its
 * own.  *@piped is FALSE when no reading connection could be had. */
static gboolean
serialize_piped (Serializer    *s,
                 MorangoModel  *m,
                 gboolean      *piped,
                 GError       **error)
{
  SeReader r = { .filter = s->filter, .model = m };
  gboolean ok = FALSE;

  r.handle = open_reading (s->db, "serializing", m);
  if (!(*piped = r.handle != NULL))
    return TRUE;
  if (sqlite3_prepare_v2 (r.handle, m->sql_select_dirty, -1, &r.cursor, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2 (r.handle, LOOKUP_EXISTING_SQL, -1, &r.lookup, NULL) != SQLITE_OK)
    g_set_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_FAILED,
                 "Preparing to read %s to serialize: %s", m->table, sqlite3_errmsg (r.handle));
  else
    {
      r.r.flat = morango_flat_json_new ();
      r.r.parser = json_parser_new_immutable ();
      r.old = g_string_sized_new (1024);
      ok = morango_pipe_run (&se_pipe, &r, s, error);
    }

  g_clear_pointer (&r.cursor, sqlite3_finalize);
  g_clear_pointer (&r.lookup, sqlite3_finalize);
  g_clear_pointer (&r.handle, sqlite3_close_v2);
  g_clear_pointer (&r.r.flat, morango_flat_json_free);
  g_clear_object (&r.r.parser);
  if (r.old != NULL)
    g_string_free (r.old, TRUE);
  return ok;
}

/* Whether @m has at least PIPE_MIN dirty rows. */
static gboolean
many_dirty (Serializer    *s,
            MorangoModel  *m,
            gboolean      *many,
            GError       **error)
{
  g_autofree char *sql = g_strdup_printf ("SELECT 1 FROM \"%s\" WHERE _morango_dirty_bit = 1 "
                                          "LIMIT 1 OFFSET ?", m->table);

  return morango_db_query_int64 (s->db, NULL, many, error, sql, "i", (gint64) PIPE_MIN - 1);
}

static gboolean
serialize_model (Serializer    *s,
                 MorangoModel  *m,
                 GError       **error)
{
  sqlite3_stmt *cursor;
  MorangoRow *row;
  gboolean ok = TRUE;
  int rc;

  if ((s->st_clear = morango_db_prepare (s->db, m->sql_clear_dirty, error)) == NULL)
    return FALSE;
  g_ptr_array_set_size (s->to_clear, 0);

  /* Inside a caller's transaction a second connection would not see its
   * writes; few rows do not pay for a thread and a connection. */
  if (!s->nested)
    {
      gboolean many = FALSE, piped = FALSE;

      if (!many_dirty (s, m, &many, error))
        return FALSE;
      if (many)
        {
          ok = serialize_piped (s, m, &piped, error);
          if (piped)
            return ok && flush_clear (s, error);
        }
    }

  /* The cursor is the only user of this SQL text, so the statement
   * cache cannot reset it under our feet.  Clearing dirty bits of rows
   * already visited only takes them out of the partial index the cursor
   * walks, behind it, which SQLite handles. */
  if ((cursor = morango_db_prepare (s->db, m->sql_select_dirty, error)) == NULL)
    return FALSE;
  row = morango_row_new (m);
  while ((rc = morango_db_step (s->db, cursor, error)) == SQLITE_ROW)
    {
      const char *partition;

      morango_row_read (row, cursor, 0);
      partition = morango_row_get_text (row, m->partition_col);
      if (s->filter != NULL && !morango_filter_contains (s->filter, partition ? partition : ""))
        continue;
      if (!serialize_one (s, row, error) ||
          (s->to_clear->len >= CLEAR_BATCH && !flush_clear (s, error)))
        {
          ok = FALSE;
          break;
        }
    }
  if (rc < 0)
    ok = FALSE;
  sqlite3_reset (cursor);
  morango_row_free (row);
  if (ok)
    ok = flush_clear (s, error);
  return ok;
}

/* The first queue row of the profile after @after: *@start, or FALSE in
 * *@found when none is left. */
static gboolean
next_rowid (Serializer  *s,
            const char  *sql,
            gint64       after,
            gint64      *start,
            gboolean    *found,
            GError     **error)
{
  sqlite3_stmt *stmt = morango_db_prepare (s->db, sql, error);

  *found = FALSE;
  if (stmt == NULL || !morango_db_bind (s->db, stmt, error, "si", s->profile, after) ||
      morango_db_step (s->db, stmt, error) != SQLITE_ROW)
    return FALSE;
  if (sqlite3_column_type (stmt, 0) != SQLITE_NULL)
    {
      *found = TRUE;
      *start = sqlite3_column_int64 (stmt, 0);
    }
  sqlite3_reset (stmt);
  return TRUE;
}

/* Deletions are not restricted by the filter (protocol §3.3 steps 4
 * and 5).  They go by slices of the queue, so that a purge of a big
 * subtree does not keep the whole of it in statement journals. */
static gboolean
serialize_deletions (Serializer  *s,
                     GError     **error)
{
  gint64 start = 0, end = G_MININT64;
  gboolean found;

  for (;;)
    {
      if (!next_rowid (s, "SELECT min(rowid) FROM morango_deletedmodels WHERE profile = ? AND rowid > ?",
                       end, &start, &found, error))
        return FALSE;
      if (!found)
        break;
      end = start + SLICE - 1;

      if (!morango_db_execute (s->db, error,
                               "UPDATE morango_store SET deleted = 1, "
                               "last_saved_instance = ?1, last_saved_counter = ?2 "
                               "WHERE id IN (SELECT id FROM morango_deletedmodels WHERE profile = ?3 "
                               "AND rowid BETWEEN ?4 AND ?5)",
                               "sisii", s->instance, s->counter, s->profile, start, end) ||
          /* A local deletion wins over a version never applied. */
          !morango_db_execute (s->db, error,
                               "DELETE FROM morango_store_pending WHERE (profile, model_name, id) IN "
                               "(SELECT s.profile, s.model_name, s.id FROM morango_deletedmodels d "
                               "JOIN morango_store s ON s.id = d.id "
                               "WHERE d.profile = ? AND d.rowid BETWEEN ? AND ?)",
                               "sii", s->profile, start, end) ||
          !morango_db_execute (s->db, error,
                               "INSERT INTO morango_recordmaxcounter (instance_id, counter, store_model_id) "
                               "SELECT ?1, ?2, d.id FROM morango_deletedmodels d "
                               "JOIN morango_store s ON s.id = d.id WHERE d.profile = ?3 "
                               "AND d.rowid BETWEEN ?4 AND ?5 "
                               "ON CONFLICT (store_model_id, instance_id) DO UPDATE SET counter = excluded.counter",
                               "sisii", s->instance, s->counter, s->profile, start, end) ||
          !morango_db_execute (s->db, error,
                               "DELETE FROM morango_deletedmodels WHERE profile = ? AND rowid BETWEEN ? AND ?",
                               "sii", s->profile, start, end))
        return FALSE;
    }

  /* The version bump came with the deletedmodels row the same delete
   * wrote; a hard delete only wipes the data. */
  for (end = G_MININT64;;)
    {
      if (!next_rowid (s, "SELECT min(rowid) FROM morango_harddeletedmodels WHERE profile = ? AND rowid > ?",
                       end, &start, &found, error))
        return FALSE;
      if (!found)
        break;
      end = start + SLICE - 1;

      if (!morango_db_execute (s->db, error,
                               "UPDATE morango_store SET hard_deleted = 1, serialized = '{}', "
                               "conflicting_serialized_data = '' "
                               "WHERE id IN (SELECT id FROM morango_harddeletedmodels WHERE profile = ? "
                               "AND rowid BETWEEN ? AND ?)",
                               "sii", s->profile, start, end) ||
          !morango_db_execute (s->db, error,
                               "DELETE FROM morango_harddeletedmodels WHERE profile = ? AND rowid BETWEEN ? AND ?",
                               "sii", s->profile, start, end))
        return FALSE;
    }
  return TRUE;
}

static gboolean
set_own_dmc (Serializer  *s,
             const char  *partition,
             GError     **error)
{
  return morango_db_execute (s->db, error,
                             "INSERT INTO morango_databasemaxcounter (instance_id, partition, counter) "
                             "VALUES (?, ?, ?) ON CONFLICT (instance_id, partition) "
                             "DO UPDATE SET counter = excluded.counter",
                             "ssi", s->instance, partition, s->counter);
}

gboolean
morango_store_serialize (MorangoStore   *store,
                         MorangoFilter  *filter,
                         GError        **error)
{
  MorangoProfile *profile;
  Serializer s = { 0 };
  gboolean ok = FALSE;

  g_return_val_if_fail (MORANGO_IS_STORE (store), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  s.store = store;
  s.db = morango_store_get_db (store);
  s.filter = filter;
  s.profile = morango_store_get_profile_name (store);
  s.instance = morango_store_get_instance_id (store);
  profile = morango_store_get_profile (store);

  s.nested = morango_db_in_transaction (s.db);
  if (!morango_db_begin (s.db, error))
    return FALSE;
  /* Python bumps the counter in a transaction of its own; inside ours,
   * a failed stage leaves the counter as it was too. */
  if (!morango_store_next_counter (store, &s.counter, error))
    goto out;

  if (!prepare_all (s.db, error,
                    &s.st_insert,
                    "INSERT INTO morango_store (id, profile, serialized, deleted, hard_deleted, "
                    "last_saved_instance, last_saved_counter, partition, source_id, model_name, "
                    "conflicting_serialized_data, _self_ref_fk, deserialization_error, "
                    "last_transfer_session_id) "
                    "VALUES (?, ?, ?, 0, 0, ?, ?, ?, ?, ?, '', ?, '', NULL) "
                    "ON CONFLICT (id) DO NOTHING",
                    &s.st_lookup, LOOKUP_EXISTING_SQL,
                    &s.st_update,
                    "UPDATE morango_store SET serialized = ?, conflicting_serialized_data = ?, "
                    "deleted = 0, hard_deleted = 0, last_saved_instance = ?, "
                    "last_saved_counter = ?, last_transfer_session_id = NULL, _self_ref_fk = ? "
                    "WHERE id = ?",
                    &s.st_rmc,
                    "INSERT INTO morango_recordmaxcounter (instance_id, counter, store_model_id) "
                    "VALUES (?, ?, ?) ON CONFLICT (store_model_id, instance_id) "
                    "DO UPDATE SET counter = excluded.counter",
                    &s.st_unpend,
                    "DELETE FROM morango_store_pending WHERE (profile, model_name, id) IN "
                    "(SELECT profile, model_name, id FROM morango_store WHERE id = ?)",
                    NULL))
    goto out;

  s.r.parser = json_parser_new_immutable ();
  s.r.flat = morango_flat_json_new ();
  s.r.json = g_string_sized_new (1024);
  s.old = g_string_sized_new (1024);
  s.conflicts = g_string_sized_new (256);
  s.to_clear = g_ptr_array_sized_new (1024);
  s.ids = g_string_chunk_new (CLEAR_BATCH * 33);

  if (profile != NULL)
    for (guint i = 0; i < morango_profile_get_n_models (profile); i++)
      if (!serialize_model (&s, morango_profile_get_model_at (profile, i), error))
        goto out;

  if (!serialize_deletions (&s, error))
    goto out;

  if (filter == NULL)
    {
      if (!set_own_dmc (&s, "", error))
        goto out;
    }
  else
    for (guint i = 0; i < morango_filter_get_n_entries (filter); i++)
      if (!set_own_dmc (&s, morango_filter_get_entry (filter, i), error))
        goto out;

  ok = TRUE;

out:
  g_clear_object (&s.r.parser);
  g_clear_pointer (&s.r.flat, morango_flat_json_free);
  if (s.r.json)
    g_string_free (s.r.json, TRUE);
  if (s.old)
    g_string_free (s.old, TRUE);
  if (s.conflicts)
    g_string_free (s.conflicts, TRUE);
  if (s.to_clear)
    g_ptr_array_unref (s.to_clear);
  if (s.ids)
    g_string_chunk_free (s.ids);
  if (!ok)
    {
      morango_db_rollback (s.db);
      return FALSE;
    }
  return morango_db_commit (s.db, error);
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
  sqlite3         *handle;    /* the connection @lookup belongs to */
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
  if (found && !morango_app_delete_cascade (d->store, m, id, FALSE, TRUE, hard, error))
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
  else if (morango_app_write_row (d->store, row, FALSE, &local_error))
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
  rc = step_on (r->db, r->handle, stmt, error);
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
  int rc = step_on (NULL, r->reading.handle, r->cursor, error);

  if (rc != SQLITE_ROW)
    return rc < 0 ? MORANGO_PIPE_ERROR : MORANGO_PIPE_END;
  if (r->filter != NULL &&
      !morango_filter_contains (r->filter, morango_db_column_text (r->cursor, COL_PARTITION)))
    return MORANGO_PIPE_SKIP;
  g_string_assign (it->id, morango_db_column_text (r->cursor, COL_ID));
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
  return morango_store_check_injected (d->store, "deserialize", ++d->done, error);
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

  r.reading.handle = open_reading (d->db, "deserializing", m);
  if (!(*piped = r.reading.handle != NULL))
    return TRUE;
  if (sqlite3_prepare_v2 (r.reading.handle, sql, -1, &r.cursor, NULL) != SQLITE_OK ||
      sqlite3_bind_text (r.cursor, 1, morango_store_get_profile_name (d->store), -1,
                         SQLITE_STATIC) != SQLITE_OK ||
      sqlite3_bind_text (r.cursor, 2, m->name, -1, SQLITE_STATIC) != SQLITE_OK ||
      sqlite3_prepare_v2 (r.reading.handle, LOOKUP_FLAGS_SQL, -1, &r.reading.lookup, NULL)
      != SQLITE_OK)
    g_set_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_FAILED,
                 "Preparing to read the store to deserialize: %s",
                 sqlite3_errmsg (r.reading.handle));
  else
    {
      r.reading.random = morango_store_get_random (d->store);
      r.reading.flat = morango_flat_json_new ();
      r.reading.parser = json_parser_new_immutable ();
      r.reading.msg = g_string_sized_new (256);
      r.reading.fk_cache = g_new0 (FkCache, m->fields->len);
      ok = morango_pipe_run (&de_pipe, &r, d, error);
    }

  g_clear_pointer (&r.cursor, sqlite3_finalize);
  g_clear_pointer (&r.reading.lookup, sqlite3_finalize);
  g_clear_pointer (&r.reading.handle, sqlite3_close_v2);
  g_clear_pointer (&r.reading.flat, morango_flat_json_free);
  g_clear_object (&r.reading.parser);
  if (r.reading.msg != NULL)
    g_string_free (r.reading.msg, TRUE);
  g_clear_pointer (&r.reading.fk_cache, g_free);
  return ok;
}

static gboolean
deserialize_regular (Deserializer  *d,
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
        ok = morango_store_check_injected (d->store, "deserialize", ++d->done, error);
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
        ok = morango_store_check_injected (d->store, "deserialize", ++d->done, error);
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
morango_store_deserialize (MorangoStore   *store,
                           MorangoFilter  *filter,
                           gboolean        skip_erroring,
                           GError        **error)
{
  MorangoProfile *profile;
  Deserializer d = { 0 };
  StageFilter *sf;
  gboolean ok = FALSE;

  g_return_val_if_fail (MORANGO_IS_STORE (store), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  profile = morango_store_get_profile (store);
  if (profile == NULL)
    return TRUE;   /* a relay: records stay in the store */

  d.store = store;
  d.db = morango_store_get_db (store);
  d.filter = filter;
  d.skip_erroring = skip_erroring;

  if ((sf = stage_filter_get (d.db, error)) == NULL)
    return FALSE;
  d.nested = morango_db_in_transaction (d.db);
  if (!morango_db_begin (d.db, error))
    return FALSE;
  if (!morango_db_exec (d.db, "CREATE TEMP TABLE IF NOT EXISTS morango_deserialize_failed "
                        "(id text PRIMARY KEY); DELETE FROM temp.morango_deserialize_failed;", error))
    goto out;

  if (!prepare_all (d.db, error,
                    &d.st_clean,
                    "DELETE FROM morango_store_pending WHERE profile = ? AND model_name = ? AND id = ?",
                    &d.st_clear_error,
                    "UPDATE morango_store SET deserialization_error = '' WHERE id = ?",
                    &d.st_failed_check,
                    "SELECT 1 FROM temp.morango_deserialize_failed WHERE id = ?",
                    &d.reading.lookup, LOOKUP_FLAGS_SQL,
                    NULL))
    goto out;

  sf->filter = filter;
  d.msg = g_string_sized_new (256);
  d.reading.db = d.db;
  d.reading.handle = morango_db_get_handle (d.db);
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
  ok = morango_db_exec (d.db, "DELETE FROM temp.morango_deserialize_failed", error);

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
  if (!ok)
    {
      morango_db_rollback (d.db);
      return FALSE;
    }
  return morango_db_commit (d.db, error);
}
