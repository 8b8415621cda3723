/* morango-row-private.h: one application row in memory, its conversions and checks
 *
 * SPDX-License-Identifier: MIT
 *
 * A MorangoRow is reused from record to record by the stages, so that
 * streaming many records does not allocate per record.
 */
#pragma once

#include <sqlite3.h>

#include "morango-flat-json.h"
#include "morango-profile-private.h"
#include "morango-random.h"

G_BEGIN_DECLS

typedef enum {
  MORANGO_CELL_NULL,
  MORANGO_CELL_TEXT,
  MORANGO_CELL_INT,
  MORANGO_CELL_REAL,
} MorangoCellKind;

typedef struct {
  MorangoCellKind  kind;
  gint64           i;
  double           d;
  GString         *text;
  char            *error;     /* a conversion error for this field, or NULL */
  gboolean         bad_uuid;  /* text that does not parse as a UUID */
} MorangoCell;

typedef struct {
  MorangoModel *model;
  MorangoCell  *cells;        /* one per field, in field order */
  GString      *scratch;
} MorangoRow;

MorangoRow *morango_row_new            (MorangoModel *model);
void        morango_row_free           (MorangoRow   *row);
void        morango_row_reset          (MorangoRow   *row);

void        morango_row_set_null       (MorangoRow   *row,
                                        guint         i);
void        morango_row_set_text       (MorangoRow   *row,
                                        guint         i,
                                        const char   *text);
const char *morango_row_get_text       (MorangoRow   *row,
                                        guint         i);
gboolean    morango_row_is_null        (MorangoRow   *row,
                                        guint         i);

/* Columns of @stmt from @first_col on, in field order. */
void        morango_row_read           (MorangoRow   *row,
                                        sqlite3_stmt *stmt,
                                        int           first_col);
/* Binds every field from parameter @first_param on.  The row must stay
 * unchanged until the statement has run. */
void        morango_row_bind           (MorangoRow   *row,
                                        sqlite3_stmt *stmt,
                                        int           first_param);

/* Converts a record JSON value (Django's to_python); a failure is kept
 * in the cell and reported by morango_row_validate(). */
void        morango_row_set_from_json  (MorangoRow   *row,
                                        guint         i,
                                        JsonNode     *value);
void        morango_row_set_from_flat  (MorangoRow   *row,
                                        guint         i,
                                        const MorangoFlatMember *member);
/* The field's default (Django's get_default()). */
void        morango_row_set_default    (MorangoRow   *row,
                                        guint         i,
                                        MorangoRandom *random);

/* Django's clean_fields() over the ordinary fields: NULL when valid,
 * else the error dict as Python prints it,
 * e.g. {'username': ['This field cannot be blank.']}. */
char       *morango_row_validate       (MorangoRow   *row);
/* Does some uuid-like field hold text that is not a UUID? */
gboolean    morango_row_has_bad_uuid   (MorangoRow   *row);

/* The record JSON (protocol §4.1) of the serialized fields. */
void        morango_row_append_json    (MorangoRow   *row,
                                        GString      *out);
void        morango_row_append_value_json (MorangoRow *row,
                                           guint       i,
                                           GString    *out);
JsonNode   *morango_row_value_to_node  (MorangoRow   *row,
                                        guint         i);

/* Source id, partition and id by the model's rules (protocol §2.2). */
gboolean    morango_row_compute_ids    (MorangoRow   *row,
                                        MorangoRandom *random,
                                        GError      **error);

/* Python's repr() of a str. */
void        morango_py_repr_append     (GString      *out,
                                        const char   *text);

/* "YYYY-MM-DD HH:MM:SS[.ffffff]" (naive UTC) -> record JSON text
 * "YYYY-MM-DDTHH:MM:SS[.mmm]Z"; FALSE when @db is not such a text. */
gboolean    morango_datetime_db_to_json (const char  *db,
                                         GString     *out);
/* ISO 8601 / Django text, with or without an offset -> naive UTC, to the
 * millisecond (what a sync carries; finer digits are dropped). */
gboolean    morango_datetime_parse_to_db (const char *text,
                                          GString    *out);

G_END_DECLS
