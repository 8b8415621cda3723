/* morango-data.h: application rows as JSON lines, in and out
 *
 * SPDX-License-Identifier: MIT
 *
 * The format, one JSON object a line (UTF-8):
 *
 *   {"model":M,"fields":{…}}                create, or update the row the id names
 *   {"model":M,"id":ID,"delete":true}       soft delete (cascades as the C API does)
 *   {"model":M,"id":ID,"hard_delete":true}  hard delete
 *
 * "fields" holds record JSON values (protocol §4.1) keyed by field or
 * column name ("user" or "user_id").  Exports write what imports read,
 * so an export imported into another folder gives the same rows.
 */
#pragma once

#include <gio/gio.h>

#include "morango-app.h"
#include "morango-monitor.h"

G_BEGIN_DECLS

/* Longest line an import reads (bytes, newline excluded): a longer one
 * is refused rather than buffered. */
#define MORANGO_DATA_MAX_LINE (16 * 1024 * 1024)

typedef struct {
  guint64 lines;     /* lines read, blank ones included */
  guint64 created;   /* rows created */
  guint64 updated;   /* rows updated */
  guint64 deleted;   /* delete lines applied (cascaded rows not counted) */
  guint64 bad_line;  /* after a failure: the line whose content is at fault,
                      * or 0 when the failure is not the input's (reading,
                      * the database, a cancel) */
} MorangoDataImportStats;

/* Applies every line of @input in order, in one transaction: all of
 * them or none.  A line with fields whose id (given, or computed by the
 * model's rules from the fields) names an existing row of the model
 * updates the given fields of that row, as morango_app_update() does;
 * otherwise it creates a row as morango_app_create() does.  A given
 * "id" or "_morango_partition" must be what the rules compute, and a
 * given "_morango_source_id" is kept (protocol §2.2 step 1); on an
 * update all three must be the stored ones.  Values must have their
 * field's JSON type (a string for text, uuid, foreign key, date and
 * datetime fields, an integer, a number, true/false; null where the
 * field allows it).  Blank lines are skipped.  Change tracking is the C
 * API's: rows written are dirty, deletions are queued.  The error
 * message starts with "Line N: " for a line at fault, and @stats (may
 * be NULL) says which.  @monitor (may be NULL) gets the stage
 * "data-import", one record a line. */
gboolean morango_data_import (MorangoApp             *app,
                              GInputStream           *input,
                              MorangoMonitor         *monitor,
                              MorangoDataImportStats *stats,
                              GError                **error);

/* Writes the rows of @models (NULL or empty: every model; an unknown
 * one fails with MORANGO_ERROR_UNKNOWN_MODEL before anything is
 * written) to @output, one line each, as
 * {"model":M,"fields":{…}}: models in profile order, rows by id (in a
 * model that refers to itself, a row after the row it refers to: by
 * depth, then id), the serialized fields in the model's order, compact
 * JSON with non-ASCII text as it is (controls, DEL and C1 controls
 * escaped), datetimes as record JSON writes them.  The same rows give
 * the same bytes.  Reads one snapshot of the database.  @n_rows (may
 * be NULL) gets the number of rows written.  @monitor (may be NULL)
 * gets the stage "data-export". */
gboolean morango_data_export (MorangoApp             *app,
                              const char * const     *models,
                              GOutputStream          *output,
                              MorangoMonitor         *monitor,
                              guint64                *n_rows,
                              GError                **error);

/* The number of rows of @model (MORANGO_ERROR_UNKNOWN_MODEL when the
 * profile has none of that name). */
gboolean morango_data_count  (MorangoApp             *app,
                              const char             *model,
                              gint64                 *count,
                              GError                **error);

G_END_DECLS
