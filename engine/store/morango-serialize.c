/* morango-serialize.c: application tables → store (protocol §3.3)
 *
 * SPDX-License-Identifier: MIT
 *
 * The stage streams: a cursor walks the rows to do, one MorangoRow and
 * a few GStrings are reused from record to record, and every write is a
 * cached prepared statement, all inside one transaction.
 */

#include <string.h>

#include "morango-app-private.h"
#include "morango-flat-json.h"
#include "morango-json.h"
#include "morango-pipe-private.h"
#include "morango-serialize.h"
#include "morango-stage-private.h"
#include "morango-i18n-private.h"

/* Rows per statement of the bulk updates. */
#define SLICE 2000

/* Dirty bits cleared at once, after the cursor has moved on: clearing
 * one under the cursor would make it seek again at every step.  The
 * cursor walks in id order, so each batch is too.  A fixed size keeps
 * memory flat (about 300 KiB of ids). */
#define CLEAR_BATCH 8192

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
  MorangoMonitor *monitor;
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

/* The record's history, and its dirty bit to clear; @bytes of record
 * JSON were written for it. */
static gboolean
finish_record (Serializer   *s,
               const char   *id,
               gsize         bytes,
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
  return morango_monitor_advance (s->monitor, 1, bytes, error);
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
                 MorangoDb     *reader,
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
  rc = step_on (db, reader, stmt, error);
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
                       _("Store row %s vanished during serialization"), k.id);
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
  return finish_record (s, k.id, s->r.json->len, error);
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
  MorangoDb     *reader;
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
  int rc = step_on (NULL, r->reader, r->cursor, error);

  if (rc != SQLITE_ROW)
    return rc < 0 ? MORANGO_PIPE_ERROR : MORANGO_PIPE_END;
  morango_row_read (it->row, r->cursor, 0);
  partition = morango_row_get_text (it->row, r->model->partition_col);
  if (r->filter != NULL && !morango_filter_contains (r->filter, partition ? partition : ""))
    return MORANGO_PIPE_SKIP;
  if ((id = morango_row_get_text (it->row, r->model->id_col)) == NULL)
    return MORANGO_PIPE_SKIP;
  if (!lookup_existing (NULL, r->reader, r->lookup, id, &it->found, &it->dirty, r->old,
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
         finish_record (s, k.id, it->json->len, error);
  else if (!insert_store_row (s, it->row, &k, it->json->str, &existed, error))
    return FALSE;
  else
    ok = existed ? serialize_one (s, it->row, error)
                 : finish_record (s, k.id, it->json->len, error);
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

  r.reader = open_reading (s->db, "serializing", m);
  if (!(*piped = r.reader != NULL))
    return TRUE;
  /* Cached statements of the reader: they go with it. */
  if ((r.cursor = morango_db_prepare (r.reader, m->sql_select_dirty, error)) != NULL &&
      (r.lookup = morango_db_prepare (r.reader, LOOKUP_EXISTING_SQL, error)) != NULL)
    {
      r.r.flat = morango_flat_json_new ();
      r.r.parser = json_parser_new_immutable ();
      r.old = g_string_sized_new (1024);
      ok = morango_pipe_run (&se_pipe, r.reader, &r, s, s->monitor, error);
    }

  g_clear_object (&r.reader);
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
      /* Each queued deletion is a record serialized. */
      if (!morango_monitor_advance (s->monitor, morango_db_changes (s->db), 0, error))
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
morango_store_serialize (MorangoStore    *store,
                         MorangoFilter   *filter,
                         MorangoMonitor  *monitor,
                         GError         **error)
{
  MorangoProfile *profile;
  Serializer s = { 0 };
  g_autoptr(MorangoTransaction) tx = NULL;
  gboolean ok = FALSE;

  g_return_val_if_fail (MORANGO_IS_STORE (store), FALSE);
  g_return_val_if_fail (monitor == NULL || MORANGO_IS_MONITOR (monitor), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  s.store = store;
  s.db = morango_store_get_db (store);
  s.monitor = monitor;
  s.filter = filter;
  s.profile = morango_store_get_profile_name (store);
  s.instance = morango_store_get_instance_id (store);
  profile = morango_store_get_profile (store);

  s.nested = morango_db_in_transaction (s.db);
  /* Begun first: a monitor cancelled already reports nothing.  How many
   * rows are dirty would cost a scan of every model: the total stays
   * unknown. */
  if ((tx = morango_transaction_begin (s.db, monitor, error)) == NULL)
    return FALSE;
  morango_monitor_stage_begin (monitor, "serialize", -1);
  /* Python bumps the counter in a transaction of its own; inside ours,
   * a failed stage leaves the counter as it was too. */
  if (!morango_store_next_counter (store, &s.counter, error))
    return FALSE;

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
    return FALSE;

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

  ok = morango_transaction_commit (tx, error);

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
  if (ok)
    morango_monitor_stage_end (monitor);
  return ok;
}
