/* morango-stage-private.h: what the serializing and deserializing stages share
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "morango-db.h"
#include "morango-profile-private.h"

G_BEGIN_DECLS

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

/* Deserializing rebuilds an app table's plain indexes instead of
 * maintaining them when a model has at least this many records to apply
 * (and its table no more rows than that already); 0 puts the default
 * back.  For tests, which run both paths on the same small input. */
void      morango_store_deserialize_set_bulk_min (guint records);

/* Prepares the statements of (slot, sql) pairs up to a NULL slot. */
gboolean  prepare_all  (MorangoDb      *db,
                        GError        **error,
                        sqlite3_stmt  **first,
                        const char     *first_sql,
                        ...);

/* The read-only connection of a stage's reading thread, or NULL.  It
 * belongs to the calling thread; morango_pipe_run() lends it to the
 * reading thread. */
MorangoDb *open_reading (MorangoDb    *db,
                         const char   *stage,
                         MorangoModel *m);

/* One step of @stmt on the stage's connection (@db) or, when that is
 * NULL, on the reading thread's (@reader). */
int        step_on      (MorangoDb     *db,
                         MorangoDb     *reader,
                         sqlite3_stmt  *stmt,
                         GError       **error);

static inline void
bind_text (sqlite3_stmt *stmt,
           int           i,
           const char   *text)
{
  sqlite3_bind_text (stmt, i, text, -1, SQLITE_STATIC);
}

G_END_DECLS
