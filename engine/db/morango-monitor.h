/* morango-monitor.h: what a long stage reports to, and who may stop it
 *
 * SPDX-License-Identifier: MIT
 *
 * Every long stage (serialize, queue, transfer, dequeue, deserialize,
 * cleanup, chain import) takes a monitor, or NULL for none.  The monitor
 * carries a GCancellable and a progress callback.  A stage announces
 * itself with morango_monitor_stage_begin(), counts what it did with
 * morango_monitor_advance(), and closes with morango_monitor_stage_end()
 * when it succeeded.  A cancelled stage rolls back and fails with
 * G_IO_ERROR_CANCELLED; after that no more progress is reported.
 *
 * While a transaction begun with a monitor is open, its connection
 * checks the monitor every few thousand SQLite instructions (SQLite's
 * progress handler), so a cancel stops even one long statement.
 *
 * Threads: the progress callback runs on the thread that runs the stage;
 * a caller that wants it on its main context dispatches it there.
 * Cancelling is allowed from any thread.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define MORANGO_TYPE_MONITOR (morango_monitor_get_type ())
G_DECLARE_FINAL_TYPE (MorangoMonitor, morango_monitor, MORANGO, MONITOR, GObject)

typedef struct {
  const char *stage;   /* the name given to morango_monitor_stage_begin() */
  gint64      done;    /* records done so far in this stage */
  gint64      total;   /* records the stage expects; -1 when not known yet */
  gint64      bytes;   /* bytes moved so far in this stage; 0 where none move */
} MorangoProgress;

typedef void (*MorangoProgressFunc) (MorangoMonitor        *monitor,
                                     const MorangoProgress *progress,
                                     gpointer               user_data);

/* Records between two progress reports unless set otherwise. */
#define MORANGO_MONITOR_DEFAULT_INTERVAL 1000

/* @cancellable may be NULL: the monitor then makes its own. */
MorangoMonitor *morango_monitor_new                (GCancellable        *cancellable);
GCancellable   *morango_monitor_get_cancellable    (MorangoMonitor      *self);
void            morango_monitor_cancel             (MorangoMonitor      *self);
gboolean        morango_monitor_is_cancelled       (MorangoMonitor      *self);
void            morango_monitor_set_progress_func  (MorangoMonitor      *self,
                                                    MorangoProgressFunc  func,
                                                    gpointer             user_data,
                                                    GDestroyNotify       destroy);
/* Report at least every @records records (at least 1). */
void            morango_monitor_set_interval       (MorangoMonitor      *self,
                                                    guint                records);

/* ---- for the stages; every function accepts a NULL monitor ---- */

/* Starts counting a stage: done and bytes go back to 0 and a first
 * report goes out.  @total is -1 when not known; set it later with
 * morango_monitor_set_total(). */
void            morango_monitor_stage_begin        (MorangoMonitor      *self,
                                                    const char          *stage,
                                                    gint64               total);
void            morango_monitor_set_total          (MorangoMonitor      *self,
                                                    gint64               total);
/* Counts @records more records and @bytes more bytes, reports when a
 * report is due, and checks the fault hook at the stage's name and for
 * cancellation.  FALSE with @error set when the stage must stop. */
gboolean        morango_monitor_advance            (MorangoMonitor      *self,
                                                    gint64               records,
                                                    gint64               bytes,
                                                    GError             **error);
/* Checks the fault hook at the named point (and cancellation), counting
 * nothing.  @done is what the caller has done at that point. */
gboolean        morango_monitor_check              (MorangoMonitor      *self,
                                                    const char          *point,
                                                    gint64               done,
                                                    GError             **error);
/* Asks the fault hook only, at @point: for work that must be done even
 * once the stage is cancelled, such as recording what a peer already
 * committed. */
gboolean        morango_monitor_check_fault        (MorangoMonitor      *self,
                                                    const char          *point,
                                                    gint64               done,
                                                    GError             **error);
/* Sets G_IO_ERROR_CANCELLED and returns FALSE when cancelled. */
gboolean        morango_monitor_check_cancelled    (MorangoMonitor      *self,
                                                    GError             **error);
/* The last report of a stage that succeeded. */
void            morango_monitor_stage_end          (MorangoMonitor      *self);

/* ---- for db/: SQLite's progress handler ---- */

/* Called by the progress handler of a connection working for @self:
 * TRUE to interrupt the statement (cancelled, or the fault hook failed
 * at the point "statement"); the reason is kept for
 * morango_monitor_take_interruption(). */
gboolean        morango_monitor_interrupt_due      (MorangoMonitor      *self);
/* Why the last statement was interrupted: G_IO_ERROR_CANCELLED or the
 * fault hook's error.  Sets @error and returns FALSE. */
gboolean        morango_monitor_take_interruption  (MorangoMonitor      *self,
                                                    GError             **error);

G_END_DECLS
