/* morango-row.c: application rows in memory, conversions and Django-style checks
 *
 * SPDX-License-Identifier: MIT
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "morango-ids.h"
#include "morango-json.h"
#include "morango-row-private.h"

MorangoRow *
morango_row_new (MorangoModel *model)
{
  MorangoRow *row = g_new0 (MorangoRow, 1);

  row->model = model;
  row->cells = g_new0 (MorangoCell, model->fields->len);
  for (guint i = 0; i < model->fields->len; i++)
    row->cells[i].text = g_string_sized_new (32);
  row->scratch = g_string_sized_new (64);
  return row;
}

void
morango_row_free (MorangoRow *row)
{
  if (row == NULL)
    return;
  for (guint i = 0; i < row->model->fields->len; i++)
    {
      g_string_free (row->cells[i].text, TRUE);
      g_free (row->cells[i].error);
    }
  g_free (row->cells);
  g_string_free (row->scratch, TRUE);
  g_free (row);
}

static inline void
cell_clear (MorangoCell *c)
{
  c->kind = MORANGO_CELL_NULL;
  g_string_truncate (c->text, 0);
  g_clear_pointer (&c->error, g_free);
  c->bad_uuid = FALSE;
}

void
morango_row_reset (MorangoRow *row)
{
  for (guint i = 0; i < row->model->fields->len; i++)
    cell_clear (&row->cells[i]);
}

void
morango_row_set_null (MorangoRow *row,
                      guint       i)
{
  cell_clear (&row->cells[i]);
}

void
morango_row_set_text (MorangoRow *row,
                      guint       i,
                      const char *text)
{
  MorangoCell *c = &row->cells[i];

  cell_clear (c);
  if (text != NULL)
    {
      c->kind = MORANGO_CELL_TEXT;
      g_string_assign (c->text, text);
    }
}

gboolean
morango_row_is_null (MorangoRow *row,
                     guint       i)
{
  return row->cells[i].kind == MORANGO_CELL_NULL;
}

/* Text of a cell as Python's str() would give it (None for NULL), for
 * source ids and partitions built from fields. */
static const char *
cell_str (MorangoRow *row,
          guint       i,
          GString    *buf)
{
  MorangoCell *c = &row->cells[i];
  MorangoField *f = g_ptr_array_index (row->model->fields, i);

  switch (c->kind)
    {
    case MORANGO_CELL_NULL:
      return "None";
    case MORANGO_CELL_TEXT:
      return c->text->str;
    case MORANGO_CELL_INT:
      g_string_truncate (buf, 0);
      if (f->type == MORANGO_FIELD_BOOLEAN)
        g_string_append (buf, c->i ? "True" : "False");
      else
        g_string_append_printf (buf, "%" G_GINT64_FORMAT, c->i);
      return buf->str;
    case MORANGO_CELL_REAL:
      g_string_truncate (buf, 0);
      morango_json_append_double (buf, c->d);
      return buf->str;
    default:
      g_assert_not_reached ();
    }
}

const char *
morango_row_get_text (MorangoRow *row,
                      guint       i)
{
  MorangoCell *c = &row->cells[i];

  return c->kind == MORANGO_CELL_TEXT ? c->text->str : NULL;
}

void
morango_row_read (MorangoRow   *row,
                  sqlite3_stmt *stmt,
                  int           first_col)
{
  for (guint i = 0; i < row->model->fields->len; i++)
    {
      MorangoCell *c = &row->cells[i];
      int col = first_col + i;

      cell_clear (c);
      switch (sqlite3_column_type (stmt, col))
        {
        case SQLITE_NULL:
          break;
        case SQLITE_INTEGER:
          c->kind = MORANGO_CELL_INT;
          c->i = sqlite3_column_int64 (stmt, col);
          break;
        case SQLITE_FLOAT:
          c->kind = MORANGO_CELL_REAL;
          c->d = sqlite3_column_double (stmt, col);
          break;
        default:
          c->kind = MORANGO_CELL_TEXT;
          g_string_append_len (c->text, (const char *) sqlite3_column_text (stmt, col),
                               sqlite3_column_bytes (stmt, col));
          break;
        }
    }
}

void
morango_row_bind (MorangoRow   *row,
                  sqlite3_stmt *stmt,
                  int           first_param)
{
  for (guint i = 0; i < row->model->fields->len; i++)
    {
      MorangoCell *c = &row->cells[i];
      int p = first_param + i;

      switch (c->kind)
        {
        case MORANGO_CELL_NULL:
          sqlite3_bind_null (stmt, p);
          break;
        case MORANGO_CELL_INT:
          sqlite3_bind_int64 (stmt, p, c->i);
          break;
        case MORANGO_CELL_REAL:
          sqlite3_bind_double (stmt, p, c->d);
          break;
        case MORANGO_CELL_TEXT:
          sqlite3_bind_text (stmt, p, c->text->str, c->text->len, SQLITE_STATIC);
          break;
        }
    }
}

/* ---- datetimes ---------------------------------------------------------- */

static gboolean
read_digits (const char **p,
             int          min,
             int          max,
             int         *out)
{
  int n = 0, v = 0;

  while (n < max && g_ascii_isdigit ((*p)[n]))
    v = v * 10 + ((*p)[n++] - '0');
  if (n < min)
    return FALSE;
  *p += n;
  *out = v;
  return TRUE;
}

/* Django's parse_datetime (and parse_date as a fallback): date, [T ]
 * time with optional seconds and fraction, optional Z or offset. */
static gboolean
parse_datetime (const char *text,
                int        *ymdhms,   /* 6 ints */
                int        *micro,
                int        *offset_minutes)
{
  const char *p = text;
  int frac = 0, ndigits = 0, sign, oh = 0, om = 0;

  memset (ymdhms, 0, 6 * sizeof (int));
  *micro = 0;
  *offset_minutes = 0;
  if (!read_digits (&p, 4, 4, &ymdhms[0]) || *p++ != '-' ||
      !read_digits (&p, 1, 2, &ymdhms[1]) || *p++ != '-' ||
      !read_digits (&p, 1, 2, &ymdhms[2]))
    return FALSE;
  if (*p == '\0')
    return TRUE;
  if (*p != 'T' && *p != ' ')
    return FALSE;
  p++;
  if (!read_digits (&p, 1, 2, &ymdhms[3]) || *p++ != ':' ||
      !read_digits (&p, 1, 2, &ymdhms[4]))
    return FALSE;
  if (*p == ':')
    {
      p++;
      if (!read_digits (&p, 1, 2, &ymdhms[5]))
        return FALSE;
      if (*p == '.' || *p == ',')
        {
          p++;
          while (g_ascii_isdigit (*p) && ndigits < 12)
            {
              if (ndigits < 6)
                frac = frac * 10 + (*p - '0');
              ndigits++;
              p++;
            }
          if (ndigits == 0)
            return FALSE;
          for (int k = ndigits; k < 6; k++)
            frac *= 10;
          *micro = frac;
        }
    }
  while (*p == ' ')
    p++;
  if (*p == 'Z')
    p++;
  else if (*p == '+' || *p == '-')
    {
      sign = *p++ == '-' ? -1 : 1;
      if (!read_digits (&p, 2, 2, &oh))
        return FALSE;
      if (*p == ':')
        p++;
      if (g_ascii_isdigit (*p) && !read_digits (&p, 2, 2, &om))
        return FALSE;
      *offset_minutes = sign * (oh * 60 + om);
    }
  return *p == '\0';
}

gboolean
morango_datetime_parse_to_db (const char *text,
                              GString    *out)
{
  int v[6], micro, offset;
  g_autoptr(GDateTime) dt = NULL;

  if (!parse_datetime (text, v, &micro, &offset))
    return FALSE;
  dt = g_date_time_new_utc (v[0], v[1], v[2], v[3], v[4], v[5]);
  if (dt == NULL)
    return FALSE;
  if (offset != 0)
    {
      GDateTime *shifted = g_date_time_add_minutes (dt, -offset);
      g_date_time_unref (dt);
      dt = shifted;
      if (dt == NULL)
        return FALSE;
    }
  /* Held to the millisecond, the most a sync carries (DjangoJSONEncoder
   * writes milliseconds): a finer value would read differently on the
   * device that made it and on every device that received it. */
  micro -= micro % 1000;
  g_string_truncate (out, 0);
  g_string_append_printf (out, "%04d-%02d-%02d %02d:%02d:%02d",
                          g_date_time_get_year (dt), g_date_time_get_month (dt),
                          g_date_time_get_day_of_month (dt), g_date_time_get_hour (dt),
                          g_date_time_get_minute (dt), g_date_time_get_second (dt));
  if (micro != 0)
    g_string_append_printf (out, ".%06d", micro);
  return TRUE;
}

gboolean
morango_datetime_db_to_json (const char *db,
                             GString    *out)
{
  int v[6], micro, offset;

  if (!parse_datetime (db, v, &micro, &offset) || offset != 0)
    return FALSE;
  g_string_append_printf (out, "%04d-%02d-%02dT%02d:%02d:%02d", v[0], v[1], v[2], v[3], v[4], v[5]);
  /* DjangoJSONEncoder: milliseconds, truncated, whenever there are
   * microseconds at all (corrections item 23). */
  if (micro != 0)
    g_string_append_printf (out, ".%03d", micro / 1000);
  g_string_append_c (out, 'Z');
  return TRUE;
}

static gboolean
parse_date (const char *text,
            GString    *out)
{
  const char *p = text;
  int y, m, d;

  if (!read_digits (&p, 4, 4, &y) || *p++ != '-' || !read_digits (&p, 1, 2, &m) ||
      *p++ != '-' || !read_digits (&p, 1, 2, &d) || *p != '\0' || !g_date_valid_dmy (d, m, y))
    return FALSE;
  g_string_truncate (out, 0);
  g_string_append_printf (out, "%04d-%02d-%02d", y, m, d);
  return TRUE;
}

/* ---- conversions ------------------------------------------------------- */

static void
set_error (MorangoCell *c,
           const char  *format,
           const char  *value)
{
  g_free (c->error);
  /* Django's messages quote the offending value with curly quotes. */
  c->error = g_strdup_printf (format, value);
}

/* A decoded JSON value, from json-glib or from the flat reader. */
typedef struct {
  GType        vt;      /* G_TYPE_NONE: null; G_TYPE_INVALID: object or array */
  const char  *s;       /* string value, or the raw text of a nested value */
  gint64       i;
  double       d;
  gboolean     b;
} Value;

/* str() of the value, as Python would print the decoded value. */
static const char *
value_str (const Value *v,
           GString     *buf)
{
  g_string_truncate (buf, 0);
  switch (v->vt)
    {
    case G_TYPE_NONE:
      return "None";
    case G_TYPE_STRING:
    case G_TYPE_INVALID:
      return v->s;
    case G_TYPE_BOOLEAN:
      return v->b ? "True" : "False";
    case G_TYPE_INT64:
      g_string_append_printf (buf, "%" G_GINT64_FORMAT, v->i);
      return buf->str;
    default:
      morango_json_append_double (buf, v->d);
      return buf->str;
    }
}

static void
set_value (MorangoRow  *row,
           guint        i,
           const Value *v)
{
  MorangoField *f = g_ptr_array_index (row->model->fields, i);
  MorangoCell *c = &row->cells[i];
  GType vt = v->vt;
  const char *s;

  cell_clear (c);
  if (vt == G_TYPE_NONE)
    return;

  switch (f->type)
    {
    case MORANGO_FIELD_ID:
    case MORANGO_FIELD_SOURCE_ID:
    case MORANGO_FIELD_PARTITION:
    case MORANGO_FIELD_STRING:
    case MORANGO_FIELD_TEXT:
      c->kind = MORANGO_CELL_TEXT;
      g_string_assign (c->text, value_str (v, row->scratch));
      break;

    case MORANGO_FIELD_UUID:
    case MORANGO_FIELD_FOREIGN_KEY:
      c->kind = MORANGO_CELL_TEXT;
      s = value_str (v, row->scratch);
      if (vt == G_TYPE_STRING && morango_is_hex32 (s))
        g_string_assign (c->text, s);   /* the usual spelling: nothing to do */
      else
        {
          g_autofree char *norm = vt == G_TYPE_STRING ? morango_uuid_normalize (s) : NULL;

          if (norm != NULL)
            g_string_assign (c->text, norm);
          else
            {
              /* Kept as given: validation reports its length or blankness
               * the way Django's CharField would, and the write then fails
               * as Python's uuid.UUID() does. */
              g_string_assign (c->text, s);
              c->bad_uuid = TRUE;
            }
        }
      break;

    case MORANGO_FIELD_INTEGER:
      if (vt == G_TYPE_INT64 || vt == G_TYPE_BOOLEAN)
        {
          c->kind = MORANGO_CELL_INT;
          c->i = vt == G_TYPE_INT64 ? v->i : v->b;
        }
      else if (vt == G_TYPE_DOUBLE)
        {
          c->kind = MORANGO_CELL_INT;
          c->i = (gint64) v->d;
        }
      else
        {
          char *end = NULL;
          gint64 n;

          s = value_str (v, row->scratch);
          errno = 0;
          n = g_ascii_strtoll (s, &end, 10);
          if (vt == G_TYPE_STRING && *s != '\0' && end && *end == '\0' && errno == 0)
            {
              c->kind = MORANGO_CELL_INT;
              c->i = n;
            }
          else
            set_error (c, "“%s” value must be an integer.", s);
        }
      break;

    case MORANGO_FIELD_FLOAT:
      if (vt == G_TYPE_INT64 || vt == G_TYPE_DOUBLE)
        {
          c->kind = MORANGO_CELL_REAL;
          c->d = vt == G_TYPE_INT64 ? (double) v->i : v->d;
        }
      else
        {
          char *end = NULL;
          double n;

          s = value_str (v, row->scratch);
          n = g_ascii_strtod (s, &end);
          if (vt == G_TYPE_STRING && *s != '\0' && end && *end == '\0')
            {
              c->kind = MORANGO_CELL_REAL;
              c->d = n;
            }
          else
            set_error (c, "“%s” value must be a float.", s);
        }
      break;

    case MORANGO_FIELD_BOOLEAN:
      c->kind = MORANGO_CELL_INT;
      if (vt == G_TYPE_BOOLEAN)
        c->i = v->b;
      else if (vt == G_TYPE_INT64 && (v->i == 0 || v->i == 1))
        c->i = v->i;
      else
        {
          static const char *yes[] = { "t", "True", "1", NULL };
          static const char *no[] = { "f", "False", "0", NULL };

          s = value_str (v, row->scratch);
          if (vt == G_TYPE_STRING && g_strv_contains (yes, s))
            c->i = 1;
          else if (vt == G_TYPE_STRING && g_strv_contains (no, s))
            c->i = 0;
          else
            {
              c->kind = MORANGO_CELL_NULL;
              set_error (c, "“%s” value must be either True or False.", s);
            }
        }
      break;

    case MORANGO_FIELD_DATETIME:
      s = value_str (v, row->scratch);
      if (vt == G_TYPE_STRING && morango_datetime_parse_to_db (s, c->text))
        c->kind = MORANGO_CELL_TEXT;
      else
        set_error (c, "“%s” value has an invalid format. It must be in "
                   "YYYY-MM-DD HH:MM[:ss[.uuuuuu]][TZ] format.", s);
      break;

    case MORANGO_FIELD_DATE:
      s = value_str (v, row->scratch);
      if (vt == G_TYPE_STRING && parse_date (s, c->text))
        c->kind = MORANGO_CELL_TEXT;
      else
        set_error (c, "“%s” value has an invalid date format. It must be in YYYY-MM-DD format.", s);
      break;
    }
}

void
morango_row_set_from_json (MorangoRow *row,
                           guint       i,
                           JsonNode   *value)
{
  Value v = { G_TYPE_NONE, NULL, 0, 0, FALSE };
  g_autofree char *raw = NULL;

  if (value != NULL && JSON_NODE_HOLDS_VALUE (value))
    {
      v.vt = json_node_get_value_type (value);
      switch (v.vt)
        {
        case G_TYPE_STRING:
          v.s = json_node_get_string (value);
          break;
        case G_TYPE_BOOLEAN:
          v.b = json_node_get_boolean (value);
          break;
        case G_TYPE_INT64:
          v.i = json_node_get_int (value);
          break;
        default:
          v.vt = G_TYPE_DOUBLE;
          v.d = json_node_get_double (value);
        }
    }
  else if (value != NULL && !JSON_NODE_HOLDS_NULL (value))
    {
      v.vt = G_TYPE_INVALID;
      v.s = raw = json_to_string (value, FALSE);
    }
  set_value (row, i, &v);
}

void
morango_row_set_from_flat (MorangoRow              *row,
                           guint                    i,
                           const MorangoFlatMember *m)
{
  Value v = { G_TYPE_NONE, NULL, 0, 0, FALSE };

  switch (m->kind)
    {
    case MORANGO_FLAT_NULL:
      break;
    case MORANGO_FLAT_TRUE:
    case MORANGO_FLAT_FALSE:
      v.vt = G_TYPE_BOOLEAN;
      v.b = m->kind == MORANGO_FLAT_TRUE;
      break;
    case MORANGO_FLAT_STRING:
      v.vt = G_TYPE_STRING;
      v.s = m->text;
      break;
    case MORANGO_FLAT_INT:
      v.vt = G_TYPE_INT64;
      v.i = m->i;
      break;
    case MORANGO_FLAT_DOUBLE:
      v.vt = G_TYPE_DOUBLE;
      v.d = m->d;
      break;
    case MORANGO_FLAT_COMPLEX:
      v.vt = G_TYPE_INVALID;
      v.s = m->text;
      break;
    }
  set_value (row, i, &v);
}

void
morango_row_set_default (MorangoRow    *row,
                         guint          i,
                         MorangoRandom *random)
{
  MorangoField *f = g_ptr_array_index (row->model->fields, i);
  MorangoCell *c = &row->cells[i];

  cell_clear (c);
  switch (f->default_kind)
    {
    case MORANGO_DEFAULT_LITERAL:
      morango_row_set_from_json (row, i, f->default_value);
      break;
    case MORANGO_DEFAULT_RANDOM_UUID:
      {
        g_autofree char *u = morango_random_uuid4_hex (random);
        morango_row_set_text (row, i, u);
      }
      break;
    case MORANGO_DEFAULT_NOW:
      {
        g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
        g_autoptr(GString) held = g_string_new (NULL);
        g_autofree char *text = NULL;

        if (f->type == MORANGO_FIELD_DATE)
          text = g_date_time_format (now, "%Y-%m-%d");
        else
          text = g_date_time_format (now, "%Y-%m-%d %H:%M:%S.%f");
        /* A datetime goes through the rule of every datetime that comes
         * in: held to the millisecond (it cannot fail on this text). */
        if (f->type != MORANGO_FIELD_DATE && morango_datetime_parse_to_db (text, held))
          morango_row_set_text (row, i, held->str);
        else
          morango_row_set_text (row, i, text);
      }
      break;
    case MORANGO_DEFAULT_NONE:
      /* Django: fields that store strings default to "", others to None. */
      if (f->type == MORANGO_FIELD_STRING || f->type == MORANGO_FIELD_TEXT ||
          f->type == MORANGO_FIELD_SOURCE_ID || f->type == MORANGO_FIELD_PARTITION)
        if (!f->null)
          morango_row_set_text (row, i, "");
      break;
    }
}

/* ---- validation -------------------------------------------------------- */

void
morango_py_repr_append (GString    *out,
                        const char *text)
{
  char quote = (strchr (text, '\'') && !strchr (text, '"')) ? '"' : '\'';

  g_string_append_c (out, quote);
  for (const char *p = text; *p; p++)
    {
      unsigned char ch = *p;

      if (ch == '\\' || ch == (unsigned char) quote)
        g_string_append_printf (out, "\\%c", ch);
      else if (ch == '\n')
        g_string_append (out, "\\n");
      else if (ch == '\r')
        g_string_append (out, "\\r");
      else if (ch == '\t')
        g_string_append (out, "\\t");
      else if (ch < 0x20 || ch == 0x7f)
        g_string_append_printf (out, "\\x%02x", ch);
      else
        g_string_append_c (out, ch);
    }
  g_string_append_c (out, quote);
}

static gboolean
cell_is_empty (MorangoCell *c)
{
  return c->kind == MORANGO_CELL_NULL || (c->kind == MORANGO_CELL_TEXT && c->text->len == 0);
}

char *
morango_row_validate (MorangoRow *row)
{
  GString *out = NULL;

  for (guint i = 0; i < row->model->fields->len; i++)
    {
      MorangoField *f = g_ptr_array_index (row->model->fields, i);
      MorangoCell *c = &row->cells[i];
      g_autofree char *msg = NULL;

      if (f->type == MORANGO_FIELD_ID || f->type == MORANGO_FIELD_SOURCE_ID ||
          f->type == MORANGO_FIELD_PARTITION)
        continue;
      if (c->error != NULL)
        msg = g_strdup (c->error);
      else if (f->blank && cell_is_empty (c))
        continue;
      else if (c->kind == MORANGO_CELL_NULL && !f->null)
        msg = g_strdup ("This field cannot be null.");
      else if (!f->blank && cell_is_empty (c))
        msg = g_strdup ("This field cannot be blank.");
      else if (f->max_length > 0 && c->kind == MORANGO_CELL_TEXT)
        {
          glong n = g_utf8_strlen (c->text->str, c->text->len);
          if (n > f->max_length)
            msg = g_strdup_printf ("Ensure this value has at most %" G_GINT64_FORMAT
                                   " characters (it has %ld).", f->max_length, n);
        }
      if (msg == NULL)
        continue;
      if (out == NULL)
        out = g_string_new ("{");
      else
        g_string_append (out, ", ");
      morango_py_repr_append (out, f->name);
      g_string_append (out, ": [");
      morango_py_repr_append (out, msg);
      g_string_append (out, "]");
    }
  if (out == NULL)
    return NULL;
  g_string_append_c (out, '}');
  return g_string_free (out, FALSE);
}

gboolean
morango_row_has_bad_uuid (MorangoRow *row)
{
  for (guint i = 0; i < row->model->fields->len; i++)
    if (row->cells[i].bad_uuid && row->cells[i].kind == MORANGO_CELL_TEXT)
      return TRUE;
  return FALSE;
}

/* ---- record JSON ------------------------------------------------------- */

/* Ids, partitions and most values are plain printable ASCII, which JSON
 * takes as it is; anything else goes through the full escaper. */
static inline void
append_json_string (GString    *out,
                    const char *text,
                    gsize       len)
{
  for (gsize k = 0; k < len; k++)
    {
      guchar c = (guchar) text[k];
      if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
        {
          morango_json_append_string (out, text);
          return;
        }
    }
  g_string_append_c (out, '"');
  g_string_append_len (out, text, len);
  g_string_append_c (out, '"');
}

void
morango_row_append_value_json (MorangoRow *row,
                               guint       i,
                               GString    *out)
{
  MorangoField *f = g_ptr_array_index (row->model->fields, i);
  MorangoCell *c = &row->cells[i];

  switch (c->kind)
    {
    case MORANGO_CELL_NULL:
      g_string_append (out, "null");
      return;
    case MORANGO_CELL_INT:
      if (f->type == MORANGO_FIELD_BOOLEAN)
        g_string_append (out, c->i ? "true" : "false");
      else if (f->type == MORANGO_FIELD_FLOAT)
        morango_json_append_double (out, (double) c->i);
      else if (f->type == MORANGO_FIELD_INTEGER)
        g_string_append_printf (out, "%" G_GINT64_FORMAT, c->i);
      else
        {
          char buf[32];
          g_snprintf (buf, sizeof buf, "%" G_GINT64_FORMAT, c->i);
          morango_json_append_string (out, buf);
        }
      return;
    case MORANGO_CELL_REAL:
      if (f->type == MORANGO_FIELD_INTEGER)
        g_string_append_printf (out, "%" G_GINT64_FORMAT, (gint64) c->d);
      else
        morango_json_append_double (out, c->d);
      return;
    case MORANGO_CELL_TEXT:
      if (f->type == MORANGO_FIELD_DATETIME)
        {
          gsize mark = out->len;

          g_string_append_c (out, '"');
          if (morango_datetime_db_to_json (c->text->str, out))
            {
              g_string_append_c (out, '"');
              return;
            }
          g_string_truncate (out, mark);
        }
      append_json_string (out, c->text->str, c->text->len);
      return;
    }
}

void
morango_row_append_json (MorangoRow *row,
                         GString    *out)
{
  gboolean first = TRUE;

  g_string_append_c (out, '{');
  for (guint i = 0; i < row->model->fields->len; i++)
    {
      MorangoField *f = g_ptr_array_index (row->model->fields, i);

      if (!f->serialize)
        continue;
      if (!first)
        g_string_append (out, ", ");
      first = FALSE;
      append_json_string (out, f->column, strlen (f->column));
      g_string_append (out, ": ");
      morango_row_append_value_json (row, i, out);
    }
  g_string_append_c (out, '}');
}

JsonNode *
morango_row_value_to_node (MorangoRow *row,
                           guint       i)
{
  MorangoField *f = g_ptr_array_index (row->model->fields, i);
  MorangoCell *c = &row->cells[i];
  JsonNode *node = json_node_alloc ();

  switch (c->kind)
    {
    case MORANGO_CELL_NULL:
      return json_node_init_null (node);
    case MORANGO_CELL_INT:
      if (f->type == MORANGO_FIELD_BOOLEAN)
        return json_node_init_boolean (node, c->i != 0);
      if (f->type == MORANGO_FIELD_FLOAT)
        return json_node_init_double (node, c->i);
      return json_node_init_int (node, c->i);
    case MORANGO_CELL_REAL:
      return json_node_init_double (node, c->d);
    case MORANGO_CELL_TEXT:
      if (f->type == MORANGO_FIELD_DATETIME)
        {
          g_autoptr(GString) s = g_string_new (NULL);
          if (morango_datetime_db_to_json (c->text->str, s))
            return json_node_init_string (node, s->str);
        }
      return json_node_init_string (node, c->text->str);
    }
  g_assert_not_reached ();
}

/* ---- ids --------------------------------------------------------------- */

static char *
expand_partition_template (MorangoRow *row)
{
  const char *tmpl = row->model->partition_template;
  GString *out = g_string_new (NULL);
  g_autoptr(GString) buf = g_string_new (NULL);

  for (const char *p = tmpl; *p; )
    {
      const char *start = strstr (p, "${");
      const char *end;
      g_autofree char *name = NULL;
      int idx;

      if (start == NULL)
        {
          g_string_append (out, p);
          break;
        }
      g_string_append_len (out, p, start - p);
      end = strchr (start, '}');   /* present: checked at load */
      name = g_strndup (start + 2, end - start - 2);
      if (g_str_equal (name, "id"))
        g_string_append (out, "${id}");
      else if ((idx = morango_model_get_field_index (row->model, name)) >= 0)
        g_string_append (out, cell_str (row, idx, buf));
      p = end + 1;
    }
  return g_string_free (out, FALSE);
}

gboolean
morango_row_compute_ids (MorangoRow     *row,
                         MorangoRandom  *random,
                         GError        **error)
{
  MorangoModel *m = row->model;
  g_autofree char *source_id = NULL;
  g_autofree char *tmpl = NULL;
  g_autofree char *id = NULL;
  g_autoptr(GString) partition = NULL;
  const char *preset = morango_row_get_text (row, m->source_id_col);
  g_autoptr(GString) buf = g_string_new (NULL);

  if (preset != NULL && *preset != '\0')
    source_id = g_strdup (preset);
  else
    switch (m->source_id_rule)
      {
      case MORANGO_SOURCE_ID_RANDOM:
        source_id = morango_random_uuid4_hex (random);
        break;
      case MORANGO_SOURCE_ID_UUID5:
        {
          MorangoField *f = g_ptr_array_index (m->source_id_fields, 0);
          int idx = morango_model_get_field_index (m, f->name);
          source_id = morango_uuid5_hex (m->uuid5_namespace, cell_str (row, idx, buf));
        }
        break;
      case MORANGO_SOURCE_ID_FIELDS:
        {
          GString *s = g_string_new (NULL);
          for (guint k = 0; k < m->source_id_fields->len; k++)
            {
              MorangoField *f = g_ptr_array_index (m->source_id_fields, k);
              int idx = morango_model_get_field_index (m, f->name);
              if (k > 0)
                g_string_append (s, m->source_id_separator);
              g_string_append (s, cell_str (row, idx, buf));
            }
          source_id = g_string_free (s, FALSE);
        }
        break;
      }
  if (source_id == NULL || *source_id == '\0')
    {
      /* Morango's own words, kept as the deserialization error Morango would store. */
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID_SOURCE_ID,
                   "%s.calculate_source_id() returned empty string", m->class_name);
      return FALSE;
    }

  tmpl = expand_partition_template (row);
  id = m->id_rule == MORANGO_ID_SOURCE_ID
       ? g_strdup (source_id)
       : morango_sha2_uuid (tmpl, source_id, m->name, NULL);
  partition = g_string_new (tmpl);
  g_string_replace (partition, "${id}", id, 0);

  morango_row_set_text (row, m->source_id_col, source_id);
  morango_row_set_text (row, m->partition_col, partition->str);
  morango_row_set_text (row, m->id_col, id);
  return TRUE;
}
