/* morango-data.c: importing and exporting application rows as JSON lines
 *
 * SPDX-License-Identifier: MIT
 */

#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "morango-app-private.h"
#include "morango-data.h"
#include "morango-flat-json.h"
#include "morango-ids.h"
#include "morango-row-private.h"
#include "morango-i18n-private.h"

#define READ_CHUNK   (64 * 1024)
#define WRITE_CHUNK  (64 * 1024)

/* ---- reading lines ------------------------------------------------------ */

/* A file of many lines is read in chunks, never whole: only the line
 * being applied and the rest of its chunk are held. */
typedef struct {
  GInputStream *input;
  GCancellable *cancellable;
  GByteArray   *buf;
  gsize         start;     /* the first byte not handed out yet */
  gsize         scanned;   /* bytes from @start known to hold no newline */
  gboolean      eof;
  gboolean      too_long;
} LineReader;

/* 1 with the next line (without its newline, NUL-terminated in place,
 * valid until the next call), 0 at the end, -1 on error (@too_long set
 * when the line is at fault). */
static int
read_line (LineReader  *r,
           char       **line,
           gsize       *len,
           GError     **error)
{
  for (;;)
    {
      guint8 *data = r->buf->data + r->start;
      gsize avail = r->buf->len - r->start;
      guint8 *nl = avail > r->scanned ? memchr (data + r->scanned, '\n', avail - r->scanned) : NULL;
      gsize old;
      gssize n;

      if (nl != NULL)
        avail = nl - data;
      if (avail > MORANGO_DATA_MAX_LINE)
        {
          r->too_long = TRUE;
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                       morango_ngettext ("the line is longer than %d byte",
                                         "the line is longer than %d bytes", MORANGO_DATA_MAX_LINE),
                       MORANGO_DATA_MAX_LINE);
          return -1;
        }
      if (nl != NULL)
        {
          *nl = '\0';
          *line = (char *) data;
          *len = avail;
          r->start += avail + 1;
          r->scanned = 0;
          return 1;
        }
      r->scanned = avail;
      if (r->eof)
        {
          if (avail == 0)
            return 0;
          /* The last line has no newline: terminate it ourselves. */
          g_byte_array_append (r->buf, (const guint8 *) "", 1);
          *line = (char *) r->buf->data + r->start;
          *len = avail;
          r->start = r->buf->len;
          r->scanned = 0;
          return 1;
        }
      if (r->start > 0)
        {
          g_byte_array_remove_range (r->buf, 0, r->start);
          r->start = 0;
        }
      old = r->buf->len;
      g_byte_array_set_size (r->buf, old + READ_CHUNK);
      n = g_input_stream_read (r->input, r->buf->data + old, READ_CHUNK, r->cancellable, error);
      g_byte_array_set_size (r->buf, old + MAX (n, 0));
      if (n < 0)
        return -1;
      if (n == 0)
        r->eof = TRUE;
    }
}

/* ---- applying a line ---------------------------------------------------- */

typedef struct {
  MorangoApp             *app;
  MorangoDb              *db;
  MorangoFlatJson        *outer;
  MorangoFlatJson        *inner;
  MorangoDataImportStats *stats;
} Import;

static gboolean G_GNUC_PRINTF (3, 4)
refuse (GError     **error,
        int          code,
        const char  *format,
        ...)
{
  va_list args;
  GError *e;

  va_start (args, format);
  e = g_error_new_valist (MORANGO_ERROR, code, format, args);
  va_end (args);
  g_propagate_error (error, e);
  return FALSE;
}

/* Errors that the content of the line caused, as opposed to the
 * database or the reader failing under it. */
static gboolean
is_input_fault (const GError *error)
{
  if (error->domain == MORANGO_DB_ERROR)
    return error->code == MORANGO_DB_ERROR_CONSTRAINT;
  if (error->domain != MORANGO_ERROR)
    return FALSE;
  switch (error->code)
    {
    case MORANGO_ERROR_INVALID:
    case MORANGO_ERROR_NOT_FOUND:
    case MORANGO_ERROR_INVALID_SOURCE_ID:
    case MORANGO_ERROR_UNKNOWN_MODEL:
    case MORANGO_ERROR_VALIDATION:
      return TRUE;
    default:
      return FALSE;
    }
}

/* The flat reader says only yes or no; json-glib says where. */
static gboolean
refuse_bad_json (const char  *line,
                 gsize        len,
                 GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) detail = NULL;

  if (!json_parser_load_from_data (parser, line, len, &detail))
    return refuse (error, MORANGO_ERROR_INVALID, _("not valid JSON (%s)"), detail->message);
  return refuse (error, MORANGO_ERROR_INVALID, _("not one JSON object"));
}

static const char *
kind_name (MorangoFlatKind kind)
{
  switch (kind)
    {
    case MORANGO_FLAT_NULL:
      return N_("null");
    case MORANGO_FLAT_TRUE:
    case MORANGO_FLAT_FALSE:
      return N_("a boolean");
    case MORANGO_FLAT_STRING:
      return N_("a string");
    case MORANGO_FLAT_INT:
    case MORANGO_FLAT_DOUBLE:
      return N_("a number");
    case MORANGO_FLAT_COMPLEX:
    default:
      return N_("an object or array");
    }
}

/* The JSON type each field takes; the C API would turn a number into
 * text or text into a number, an import says no. */
static gboolean
check_type (MorangoModel            *m,
            MorangoField            *f,
            const MorangoFlatMember *v,
            GError                 **error)
{
  const char *want = NULL;
  gboolean builtin = f->type == MORANGO_FIELD_ID || f->type == MORANGO_FIELD_SOURCE_ID ||
                     f->type == MORANGO_FIELD_PARTITION;

  if (v->kind == MORANGO_FLAT_NULL && !builtin)
    return TRUE;   /* whether null is allowed is validation's question */
  switch (f->type)
    {
    case MORANGO_FIELD_INTEGER:
      if (v->kind == MORANGO_FLAT_INT)
        return TRUE;
      want = v->kind == MORANGO_FLAT_DOUBLE ? N_("an integer of at most 64 bits") : N_("an integer");
      break;
    case MORANGO_FIELD_FLOAT:
      if (v->kind == MORANGO_FLAT_INT || (v->kind == MORANGO_FLAT_DOUBLE && isfinite (v->d)))
        return TRUE;
      want = N_("a finite number");
      break;
    case MORANGO_FIELD_BOOLEAN:
      if (v->kind == MORANGO_FLAT_TRUE || v->kind == MORANGO_FLAT_FALSE)
        return TRUE;
      want = N_("true or false");
      break;
    default:
      if (v->kind == MORANGO_FLAT_STRING)
        return TRUE;
      want = builtin ? N_("a string") : N_("a string or null");
      break;
    }
  /* TRANSLATORS: a field name, a model name, then two of the phrases
   * "an integer", "a finite number", "true or false", "a string", "a
   * string or null", "null", "a boolean", "a number", "an object or
   * array" (each translated on its own): what the field takes, what the
   * import file gave. */
  return refuse (error, MORANGO_ERROR_INVALID, _("field “%s” of model “%s” must be %s, not %s"),
                 v->key, m->name, _(want), _(kind_name (v->kind)));
}

static gboolean
row_exists (Import       *imp,
            MorangoModel *m,
            const char   *id,
            gboolean     *found,
            GError      **error)
{
  return morango_db_query_int64 (imp->db, NULL, found, error, m->sql_exists, "s", id);
}

static JsonNode *
flat_to_node (const MorangoFlatMember *v)
{
  JsonNode *node = json_node_alloc ();

  switch (v->kind)
    {
    case MORANGO_FLAT_STRING:
      return json_node_init_string (node, v->text);
    case MORANGO_FLAT_INT:
      return json_node_init_int (node, v->i);
    case MORANGO_FLAT_DOUBLE:
      return json_node_init_double (node, v->d);
    case MORANGO_FLAT_TRUE:
    case MORANGO_FLAT_FALSE:
      return json_node_init_boolean (node, v->kind == MORANGO_FLAT_TRUE);
    case MORANGO_FLAT_NULL:
    case MORANGO_FLAT_COMPLEX:   /* refused by check_type() */
    default:
      return json_node_init_null (node);
    }
}

static gboolean
is_builtin (MorangoModel *m,
            guint         i)
{
  return i == (guint) m->id_col || i == (guint) m->source_id_col || i == (guint) m->partition_col;
}

/* The row @id exists: the given fields change it through the C API;
 * its id, source id and partition never change, so given ones must be
 * the stored ones. */
static gboolean
update_row (Import                   *imp,
            MorangoModel             *m,
            const char               *id,
            const MorangoFlatMember **given,
            GError                  **error)
{
  g_autoptr(JsonObject) changes = json_object_new ();
  const int builtins[] = { m->source_id_col, m->partition_col };
  sqlite3_stmt *stmt;
  MorangoRow *stored;
  gboolean ok = TRUE;
  int rc;

  if ((stmt = morango_db_prepare (imp->db, m->sql_select_by_id, error)) == NULL ||
      !morango_db_bind (imp->db, stmt, error, "s", id))
    return FALSE;
  if ((rc = morango_db_step (imp->db, stmt, error)) < 0)
    return FALSE;
  g_assert (rc == SQLITE_ROW);   /* the caller found it in this transaction */
  stored = morango_row_new (m);
  morango_row_read (stored, stmt, 0);
  sqlite3_reset (stmt);
  for (guint k = 0; k < G_N_ELEMENTS (builtins) && ok; k++)
    {
      const MorangoFlatMember *v = given[builtins[k]];
      const char *now = morango_row_get_text (stored, builtins[k]);

      if (v != NULL && g_strcmp0 (v->text, now) != 0)
        ok = refuse (error, MORANGO_ERROR_INVALID,
                     _("“%s” is “%s”, but %s %s has “%s”, which never changes"),
                     v->key, v->text, m->name, id, now ? now : "");
    }
  morango_row_free (stored);
  if (!ok)
    return FALSE;

  for (guint i = 0; i < m->fields->len; i++)
    if (given[i] != NULL && !is_builtin (m, i))
      {
        MorangoField *f = g_ptr_array_index (m->fields, i);
        json_object_set_member (changes, f->column, flat_to_node (given[i]));
      }
  if (!morango_app_update (imp->app, m->name, id, changes, error))
    return FALSE;
  imp->stats->updated++;
  return TRUE;
}

/* A line with "fields": an update when its id names a row, else a new
 * row built as morango_app_create() builds one. */
static gboolean
apply_fields (Import                  *imp,
              MorangoModel            *m,
              const MorangoFlatMember *fields,
              GError                 **error)
{
  guint n = m->fields->len;
  g_autofree const MorangoFlatMember **given = g_new0 (const MorangoFlatMember *, n);
  const MorangoFlatMember *given_id, *given_partition, *given_source;
  MorangoRandom *random = morango_app_get_random (imp->app);
  MorangoRow *row = NULL;
  const char *id;
  gboolean found = FALSE, ok = FALSE;

  if (fields->kind != MORANGO_FLAT_COMPLEX || fields->text[0] != '{')
    /* TRANSLATORS: %s is "an array" or one of the phrases of "field “%s” of
     * model “%s” must be %s, not %s" */
    return refuse (error, MORANGO_ERROR_INVALID, _("“fields” must be an object, not %s"),
                   fields->kind == MORANGO_FLAT_COMPLEX ? _("an array") : _(kind_name (fields->kind)));
  if (!morango_flat_json_parse (imp->inner, fields->text))
    return refuse (error, MORANGO_ERROR_INVALID, _("“fields” is not a valid JSON object"));

  for (guint k = 0; k < morango_flat_json_get_n (imp->inner); k++)
    {
      const MorangoFlatMember *v = morango_flat_json_get (imp->inner, k);
      int idx = morango_model_get_field_index (m, v->key);

      if (idx < 0)
        return refuse (error, MORANGO_ERROR_INVALID, _("model “%s” has no field “%s”"),
                       m->name, v->key);
      if (given[idx] != NULL)
        return refuse (error, MORANGO_ERROR_INVALID, _("field “%s” of model “%s” is given twice"),
                       ((MorangoField *) g_ptr_array_index (m->fields, idx))->name, m->name);
      if (!check_type (m, g_ptr_array_index (m->fields, idx), v, error))
        return FALSE;
      given[idx] = v;
    }
  given_id = given[m->id_col];
  given_partition = given[m->partition_col];
  given_source = given[m->source_id_col];

  if (given_id != NULL)
    {
      if (!row_exists (imp, m, given_id->text, &found, error))
        return FALSE;
      if (found)
        return update_row (imp, m, given_id->text, given, error);
    }

  row = morango_row_new (m);
  for (guint i = 0; i < n; i++)
    {
      if (i == (guint) m->id_col || i == (guint) m->partition_col)
        continue;   /* computed below, then compared */
      if (given[i] != NULL)
        morango_row_set_from_flat (row, i, given[i]);
      else if (i != (guint) m->source_id_col)
        morango_row_set_default (row, i, random);
    }
  if (!morango_row_compute_ids (row, random, error))
    goto out;
  id = morango_row_get_text (row, m->id_col);
  {
    const MorangoFlatMember *check[] = { given_source, given_partition, given_id };
    const int cols[] = { m->source_id_col, m->partition_col, m->id_col };

    for (guint k = 0; k < G_N_ELEMENTS (check); k++)
      {
        const char *computed = morango_row_get_text (row, cols[k]);

        if (check[k] != NULL && g_strcmp0 (check[k]->text, computed) != 0)
          {
            refuse (error, MORANGO_ERROR_INVALID,
                    _("“%s” is “%s”, but the rules of model “%s” give “%s”"),
                    check[k]->key, check[k]->text, m->name, computed);
            goto out;
          }
      }
  }
  if (m->id_rule == MORANGO_ID_SOURCE_ID && !morango_is_hex32 (id))
    {
      refuse (error, MORANGO_ERROR_INVALID_SOURCE_ID,
              _("The source id of a %s is its id, so it must be 32 lowercase hex characters"),
              m->verbose_name);
      goto out;
    }
  if (!row_exists (imp, m, id, &found, error))
    goto out;
  if (found)
    ok = update_row (imp, m, id, given, error);
  else if (morango_app_check_row (imp->app, row, error) &&
           morango_app_write_row (imp->app, row, TRUE, error))
    {
      imp->stats->created++;
      ok = TRUE;
    }

out:
  morango_row_free (row);
  return ok;
}

static gboolean
is_blank (const char *line,
          gsize       len)
{
  for (gsize k = 0; k < len; k++)
    if (line[k] != ' ' && line[k] != '\t' && line[k] != '\r')
      return FALSE;
  return TRUE;
}

static gboolean
apply_line (Import      *imp,
            const char  *line,
            gsize        len,
            GError     **error)
{
  static const char *const keys[] = { "model", "fields", "id", "delete", "hard_delete" };
  const MorangoFlatMember *got[G_N_ELEMENTS (keys)] = { NULL };
  const MorangoFlatMember *model_v, *fields_v, *id_v, *delete_v, *hard_v;
  MorangoProfile *profile = morango_app_get_profile (imp->app);
  MorangoModel *m;

  if (memchr (line, '\0', len) != NULL)
    return refuse (error, MORANGO_ERROR_INVALID, _("the line holds a NUL byte"));
  if (!g_utf8_validate (line, len, NULL))
    return refuse (error, MORANGO_ERROR_INVALID, _("the line is not UTF-8 text"));
  if (!morango_flat_json_parse (imp->outer, line))
    return refuse_bad_json (line, len, error);

  for (guint k = 0; k < morango_flat_json_get_n (imp->outer); k++)
    {
      const MorangoFlatMember *v = morango_flat_json_get (imp->outer, k);
      guint j;

      for (j = 0; j < G_N_ELEMENTS (keys); j++)
        if (g_str_equal (v->key, keys[j]))
          break;
      if (j == G_N_ELEMENTS (keys))
        return refuse (error, MORANGO_ERROR_INVALID,
                       _("unknown key “%s” (a line holds “model” and “fields”, or “model”, "
                       "“id” and “delete” or “hard_delete”)"), v->key);
      if (got[j] != NULL)
        return refuse (error, MORANGO_ERROR_INVALID, _("key “%s” is given twice"), v->key);
      got[j] = v;
    }
  model_v = got[0];
  fields_v = got[1];
  id_v = got[2];
  delete_v = got[3];
  hard_v = got[4];

  if (model_v == NULL)
    return refuse (error, MORANGO_ERROR_INVALID, _("“model” is missing"));
  if (model_v->kind != MORANGO_FLAT_STRING)
    /* TRANSLATORS: %s is one of the phrases of "field “%s” of model “%s”
     * must be %s, not %s" */
    return refuse (error, MORANGO_ERROR_INVALID, _("“model” must be a string, not %s"),
                   _(kind_name (model_v->kind)));
  m = profile ? morango_profile_get_model (profile, model_v->text) : NULL;
  if (m == NULL)
    return refuse (error, MORANGO_ERROR_UNKNOWN_MODEL, _("profile “%s” has no model “%s”"),
                   profile ? morango_profile_get_name (profile) : "(none)", model_v->text);

  if (delete_v != NULL || hard_v != NULL)
    {
      if ((delete_v && delete_v->kind != MORANGO_FLAT_TRUE) ||
          (hard_v && hard_v->kind != MORANGO_FLAT_TRUE))
        return refuse (error, MORANGO_ERROR_INVALID, _("“%s” can only be true"),
                       (delete_v && delete_v->kind != MORANGO_FLAT_TRUE) ? "delete" : "hard_delete");
      if (fields_v != NULL)
        return refuse (error, MORANGO_ERROR_INVALID, _("a deletion takes no “fields”"));
      if (id_v == NULL || id_v->kind != MORANGO_FLAT_STRING)
        return refuse (error, MORANGO_ERROR_INVALID, _("a deletion needs the “id” of the row, as a string"));
      if (!morango_app_delete (imp->app, m->name, id_v->text, hard_v != NULL, error))
        return FALSE;
      imp->stats->deleted++;
      return TRUE;
    }
  if (id_v != NULL)
    return refuse (error, MORANGO_ERROR_INVALID,
                   _("“id” beside “model” goes with “delete” or “hard_delete”; "
                   "the row to change is named by the “id” in “fields”"));
  if (fields_v == NULL)
    return refuse (error, MORANGO_ERROR_INVALID, _("“fields” is missing"));
  return apply_fields (imp, m, fields_v, error);
}

gboolean
morango_data_import (MorangoApp             *app,
                     GInputStream           *input,
                     MorangoMonitor         *monitor,
                     MorangoDataImportStats *stats,
                     GError                **error)
{
  MorangoDataImportStats counted = { 0 };
  Import imp = { app, NULL, NULL, NULL, &counted };
  LineReader reader = { input, NULL, NULL, 0, 0, FALSE, FALSE };
  g_autoptr(MorangoTransaction) tx = NULL;
  g_autoptr(GError) local_error = NULL;
  gboolean ok = FALSE;

  g_return_val_if_fail (MORANGO_IS_APP (app), FALSE);
  g_return_val_if_fail (G_IS_INPUT_STREAM (input), FALSE);
  g_return_val_if_fail (monitor == NULL || MORANGO_IS_MONITOR (monitor), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  imp.db = morango_app_get_db (app);
  imp.outer = morango_flat_json_new ();
  imp.inner = morango_flat_json_new ();
  reader.cancellable = monitor ? morango_monitor_get_cancellable (monitor) : NULL;
  reader.buf = g_byte_array_sized_new (READ_CHUNK);

  if ((tx = morango_transaction_begin (imp.db, monitor, &local_error)) == NULL)
    goto out;
  morango_monitor_stage_begin (monitor, "data-import", -1);
  for (;;)
    {
      char *line = NULL;
      gsize len = 0;
      int rc = read_line (&reader, &line, &len, &local_error);

      if (rc == 0)
        break;
      counted.lines++;
      if (rc < 0)
        {
          if (reader.too_long)
            counted.bad_line = counted.lines;
          g_prefix_error (&local_error, _("Line %llu: "), (unsigned long long) counted.lines);
          goto out;
        }
      /* A byte order mark is not part of the first object. */
      if (counted.lines == 1 && len >= 3 && memcmp (line, "\xef\xbb\xbf", 3) == 0)
        {
          line += 3;
          len -= 3;
        }
      if (!is_blank (line, len) && !apply_line (&imp, line, len, &local_error))
        {
          if (is_input_fault (local_error))
            counted.bad_line = counted.lines;
          g_prefix_error (&local_error, _("Line %llu: "), (unsigned long long) counted.lines);
          goto out;
        }
      if (!morango_monitor_advance (monitor, 1, len + 1, &local_error))
        goto out;
    }
  if (!morango_transaction_commit (tx, &local_error))
    goto out;
  morango_monitor_stage_end (monitor);
  ok = TRUE;

out:
  g_clear_pointer (&tx, morango_transaction_free);
  morango_flat_json_free (imp.outer);
  morango_flat_json_free (imp.inner);
  g_byte_array_unref (reader.buf);
  if (!ok)
    {
      /* Rolled back: nothing was created, updated or deleted. */
      counted.created = counted.updated = counted.deleted = 0;
      g_propagate_error (error, g_steal_pointer (&local_error));
    }
  if (stats != NULL)
    *stats = counted;
  return ok;
}

/* ---- export ------------------------------------------------------------- */

/* A JSON string with text as it is, but for what JSON must escape and
 * what would drive a terminal (DEL, C1 controls); FALSE for text that
 * is not UTF-8, which no JSON can hold. */
static gboolean
append_text (GString    *out,
             const char *text,
             gsize       len)
{
  const char *run = text, *p = text, *end = text + len;

  if (!g_utf8_validate (text, len, NULL))
    return FALSE;
  g_string_append_c (out, '"');
  while (p < end)
    {
      guchar c = (guchar) *p;
      const char *esc = NULL;
      gunichar u = 0;
      int width = 1;

      if (c == '"')
        esc = "\\\"";
      else if (c == '\\')
        esc = "\\\\";
      else if (c == '\n')
        esc = "\\n";
      else if (c == '\r')
        esc = "\\r";
      else if (c == '\t')
        esc = "\\t";
      else if (c == '\b')
        esc = "\\b";
      else if (c == '\f')
        esc = "\\f";
      else if (c < 0x20 || c == 0x7f)
        u = c;
      else if (c == 0xc2 && p + 1 < end && (guchar) p[1] >= 0x80 && (guchar) p[1] <= 0x9f)
        {
          u = (guchar) p[1];
          width = 2;
        }
      else
        {
          p++;
          continue;
        }
      g_string_append_len (out, run, p - run);
      if (esc != NULL)
        g_string_append (out, esc);
      else
        g_string_append_printf (out, "\\u%04x", u);
      p += width;
      run = p;
    }
  g_string_append_len (out, run, p - run);
  g_string_append_c (out, '"');
  return TRUE;
}

static gboolean
append_row (GString      *out,
            MorangoModel *m,
            MorangoRow   *row,
            GError      **error)
{
  gboolean first = TRUE;

  g_string_append (out, "{\"model\":");
  append_text (out, m->name, strlen (m->name));
  g_string_append (out, ",\"fields\":{");
  for (guint i = 0; i < m->fields->len; i++)
    {
      MorangoField *f = g_ptr_array_index (m->fields, i);
      MorangoCell *c = &row->cells[i];

      if (!f->serialize)
        continue;
      if (!first)
        g_string_append_c (out, ',');
      first = FALSE;
      append_text (out, f->column, strlen (f->column));
      g_string_append_c (out, ':');
      if (c->kind == MORANGO_CELL_TEXT)
        {
          gsize mark = out->len;

          if (f->type == MORANGO_FIELD_DATETIME)
            {
              g_string_append_c (out, '"');
              if (morango_datetime_db_to_json (c->text->str, out))
                {
                  g_string_append_c (out, '"');
                  continue;
                }
              g_string_truncate (out, mark);
            }
          if (!append_text (out, c->text->str, c->text->len))
            return refuse (error, MORANGO_ERROR_INVALID,
                           _("field “%s” of %s %s holds text that is not UTF-8"),
                           f->name, m->name, morango_row_get_text (row, m->id_col));
        }
      else if (c->kind == MORANGO_CELL_REAL && !isfinite (c->d))
        return refuse (error, MORANGO_ERROR_INVALID,
                       _("field “%s” of %s %s holds a number JSON cannot write"),
                       f->name, m->name, morango_row_get_text (row, m->id_col));
      else
        morango_row_append_value_json (row, i, out);
    }
  g_string_append (out, "}}\n");
  return TRUE;
}

/* Rows by id; in a model that refers to itself, a row whose parent is
 * in the table comes after it (level by level), so that importing the
 * lines in order finds every parent.  Rows on a loop of references
 * have no level and come last. */
static char *
export_sql (MorangoModel *m)
{
  g_autoptr(GString) cols = g_string_new (NULL);
  const char *ref;

  for (guint i = 0; i < m->fields->len; i++)
    {
      MorangoField *f = g_ptr_array_index (m->fields, i);
      g_string_append_printf (cols, "%st.\"%s\"", i ? ", " : "", f->column);
    }
  if (m->self_ref_col < 0)
    return g_strdup_printf ("SELECT %s FROM \"%s\" AS t ORDER BY t.id", cols->str, m->table);
  ref = ((MorangoField *) g_ptr_array_index (m->fields, m->self_ref_col))->column;
  return g_strdup_printf (
    "WITH RECURSIVE lvl (id, depth) AS ("
    " SELECT id, 0 FROM \"%s\" WHERE \"%s\" IS NULL OR \"%s\" = id"
    "   OR \"%s\" NOT IN (SELECT id FROM \"%s\")"
    " UNION ALL"
    " SELECT c.id, lvl.depth + 1 FROM \"%s\" AS c JOIN lvl ON c.\"%s\" = lvl.id"
    "   WHERE c.\"%s\" <> c.id)"
    " SELECT %s FROM \"%s\" AS t LEFT JOIN lvl ON lvl.id = t.id"
    " ORDER BY lvl.depth IS NULL, lvl.depth, t.id",
    m->table, ref, ref, ref, m->table, m->table, ref, ref, cols->str, m->table);
}

static gboolean
flush (GOutputStream  *output,
       GString        *out,
       GCancellable   *cancellable,
       GError        **error)
{
  if (out->len == 0)
    return TRUE;
  if (!g_output_stream_write_all (output, out->str, out->len, NULL, cancellable, error))
    return FALSE;
  g_string_truncate (out, 0);
  return TRUE;
}

static gboolean
export_model (MorangoDb      *db,
              MorangoModel   *m,
              GOutputStream  *output,
              MorangoMonitor *monitor,
              GString        *out,
              guint64        *n_rows,
              GError        **error)
{
  g_autofree char *sql = export_sql (m);
  GCancellable *cancellable = monitor ? morango_monitor_get_cancellable (monitor) : NULL;
  sqlite3_stmt *stmt = morango_db_prepare (db, sql, error);
  MorangoRow *row;
  gboolean ok = TRUE;
  int rc = SQLITE_DONE;

  if (stmt == NULL)
    return FALSE;
  row = morango_row_new (m);
  while (ok && (rc = morango_db_step (db, stmt, error)) == SQLITE_ROW)
    {
      gsize before = out->len;

      morango_row_read (row, stmt, 0);
      ok = append_row (out, m, row, error) &&
           (out->len < WRITE_CHUNK || flush (output, out, cancellable, error)) &&
           morango_monitor_advance (monitor, 1, out->len > before ? out->len - before : 0, error);
      if (ok)
        (*n_rows)++;
    }
  if (ok && rc < 0)
    ok = FALSE;
  /* A statement left in the middle would hold the snapshot open. */
  sqlite3_reset (stmt);
  morango_row_free (row);
  return ok;
}

gboolean
morango_data_export (MorangoApp          *app,
                     const char * const  *models,
                     GOutputStream       *output,
                     MorangoMonitor      *monitor,
                     guint64             *n_rows,
                     GError             **error)
{
  MorangoProfile *profile;
  MorangoDb *db;
  g_autofree gboolean *selected = NULL;
  g_autoptr(GString) out = NULL;
  GCancellable *cancellable = monitor ? morango_monitor_get_cancellable (monitor) : NULL;
  gboolean snapshot = FALSE, ok = TRUE;
  guint64 rows = 0;
  guint n;

  g_return_val_if_fail (MORANGO_IS_APP (app), FALSE);
  g_return_val_if_fail (G_IS_OUTPUT_STREAM (output), FALSE);
  g_return_val_if_fail (monitor == NULL || MORANGO_IS_MONITOR (monitor), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  profile = morango_app_get_profile (app);
  db = morango_app_get_db (app);
  if (n_rows)
    *n_rows = 0;
  if (profile == NULL)
    return refuse (error, MORANGO_ERROR_UNKNOWN_MODEL,
                   _("This database has no profile description, so no application tables"));
  n = morango_profile_get_n_models (profile);
  selected = g_new0 (gboolean, n);
  for (guint i = 0; models != NULL && models[i] != NULL; i++)
    {
      MorangoModel *m = morango_profile_get_model (profile, models[i]);

      if (m == NULL)
        return refuse (error, MORANGO_ERROR_UNKNOWN_MODEL, _("Profile “%s” has no model “%s”"),
                       morango_profile_get_name (profile), models[i]);
      selected[m->index] = TRUE;
    }
  if (models == NULL || models[0] == NULL)
    for (guint i = 0; i < n; i++)
      selected[i] = TRUE;

  /* One snapshot for every model, without the write lock a
   * MorangoTransaction takes: an export also runs on a read-only
   * folder.  Inside a caller's transaction, that one is the snapshot. */
  if (!morango_db_in_transaction (db))
    {
      if (!morango_db_exec (db, "BEGIN DEFERRED", error))
        return FALSE;
      snapshot = TRUE;
    }
  morango_monitor_stage_begin (monitor, "data-export", -1);
  out = g_string_sized_new (WRITE_CHUNK * 2);
  for (guint i = 0; i < n && ok; i++)
    if (selected[i])
      ok = export_model (db, morango_profile_get_model_at (profile, i), output, monitor, out,
                         &rows, error);
  ok = ok && flush (output, out, cancellable, error);
  if (snapshot && !morango_db_exec (db, ok ? "COMMIT" : "ROLLBACK", ok ? error : NULL))
    ok = FALSE;
  if (ok)
    morango_monitor_stage_end (monitor);
  if (n_rows)
    *n_rows = rows;
  return ok;
}

/* ---- count -------------------------------------------------------------- */

gboolean
morango_data_count (MorangoApp  *app,
                    const char  *model,
                    gint64      *count,
                    GError     **error)
{
  MorangoProfile *profile;
  MorangoModel *m;
  g_autofree char *sql = NULL;
  gboolean found = FALSE;

  g_return_val_if_fail (MORANGO_IS_APP (app), FALSE);
  g_return_val_if_fail (model != NULL && count != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  profile = morango_app_get_profile (app);
  m = profile ? morango_profile_get_model (profile, model) : NULL;
  if (m == NULL)
    return refuse (error, MORANGO_ERROR_UNKNOWN_MODEL, _("Profile “%s” has no model “%s”"),
                   profile ? morango_profile_get_name (profile) : "(none)", model);
  sql = g_strdup_printf ("SELECT count(*) FROM \"%s\"", m->table);
  return morango_db_query_int64 (morango_app_get_db (app), count, &found, error, sql, "");
}
