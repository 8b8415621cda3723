/* morango-pipe-private.h: the reading half of a stage on a thread of its own
 *
 * SPDX-License-Identifier: MIT
 *
 * A stage that walks many records, and whose reading does not depend
 * on what it writes, can read on a second thread (with a connection of
 * its own) while the calling thread writes.  The reader fills items,
 * the caller applies them in the order they were read.  Items travel
 * in batches, a fixed number of which circulate, so memory stays flat.
 * When applying fails, the reader stops at its next item and nothing
 * more is applied.
 *
 * The reading thread ("thread_name") is started and joined by
 * morango_pipe_run(), which hands the reading connection over to it and
 * back (morango-db.h, "Threads").
 */
#pragma once

#include "morango-db.h"
#include "morango-monitor.h"

G_BEGIN_DECLS

typedef enum {
  MORANGO_PIPE_ITEM,    /* the item holds a record */
  MORANGO_PIPE_SKIP,    /* nothing to apply for this step */
  MORANGO_PIPE_END,     /* nothing left to read */
  MORANGO_PIPE_ERROR,   /* reading failed, *error says why */
} MorangoPipeStep;

typedef struct {
  const char       *thread_name;
  guint             batch_size;
  guint             n_batches;
  /* Called on the calling thread with @read_data, before and after. */
  gpointer        (*item_new)  (gpointer  read_data);
  void            (*item_free) (gpointer  item);
  /* On the reader thread. */
  MorangoPipeStep (*read)      (gpointer  item,
                                gpointer  read_data,
                                GError  **error);
  /* On the calling thread. */
  gboolean        (*apply)     (gpointer  item,
                                gpointer  apply_data,
                                GError  **error);
} MorangoPipeFuncs;

/* Reads until the end and applies every item read; FALSE with the first
 * error of either half.  @reader is the connection @funcs->read uses
 * (a read-only one from morango_db_open_reader(), or NULL when reading
 * takes none of the caller's): owned by the calling thread, it is handed
 * to the reading thread while that runs and comes back before this
 * returns.  Once @monitor (may be NULL) is cancelled the
 * reader stops at its next batch and the run fails with
 * G_IO_ERROR_CANCELLED. */
gboolean morango_pipe_run (const MorangoPipeFuncs *funcs,
                           MorangoDb              *reader,
                           gpointer                read_data,
                           gpointer                apply_data,
                           MorangoMonitor         *monitor,
                           GError                **error);

G_END_DECLS
