/* morango-monitor-private.h: the fault hook, for tests only
 *
 * SPDX-License-Identifier: MIT
 *
 * Nothing in the programs sets a fault hook.  Tests use it to make a
 * stage fail, or to cancel it, at a chosen point: the named points the
 * stages pass to morango_monitor_check(), each stage's own name on
 * every morango_monitor_advance(), "statement" from inside a running
 * SQLite statement, and "commit" before a transaction commits.
 */
#pragma once

#include "morango-monitor.h"

G_BEGIN_DECLS

/* FALSE with @error set makes the stage fail with that error.  May be
 * called from a stage's second thread, so it must be thread-safe. */
typedef gboolean (*MorangoFaultFunc) (MorangoMonitor  *monitor,
                                      const char      *point,
                                      gint64           done,
                                      gpointer         user_data,
                                      GError         **error);

void morango_monitor_set_fault_func (MorangoMonitor   *self,
                                     MorangoFaultFunc  func,
                                     gpointer          user_data,
                                     GDestroyNotify    destroy);

G_END_DECLS
