/* morango-store-private.h: COMPATIBILITY SHIM, to be removed at the merge
 * with the transfer branch
 *
 * SPDX-License-Identifier: MIT
 *
 * The stages take a MorangoMonitor, whose fault hook is the tests' way
 * to make them fail (morango-monitor-private.h).  The transfer
 * (engine/sync/morango-local-sync.c) and its test still use the old
 * store hook until they take a monitor too: this keeps them building and
 * passing meanwhile.  Nothing else may use it.  It is reached through
 * morango-dequeue.h, which both of them include. */
#pragma once

#include "morango-monitor.h"
#include "morango-store.h"

G_BEGIN_DECLS

/* The code MORANGO_ERROR_INJECTED had in MorangoError. */
#define MORANGO_ERROR_INJECTED ((MorangoError) (MORANGO_ERROR_CANCELLED + 1))

/* Make the named stage fail with MORANGO_ERROR_INJECTED after
 * @after_records records (−1 disarms). */
void            morango_store_inject_failure  (MorangoStore    *self,
                                               const char      *stage,
                                               gint64           after_records);
/* Called by the transfer after each record; fails when armed and due. */
gboolean        morango_store_check_injected  (MorangoStore    *self,
                                               const char      *stage,
                                               gint64           records_done,
                                               GError         **error);
/* For a stage given no monitor while the store is armed for it: a
 * monitor whose fault hook fails as the old hook did.  Otherwise a new
 * reference to @monitor (NULL for NULL). */
MorangoMonitor *morango_store_compat_monitor  (MorangoStore    *self,
                                               const char      *stage,
                                               MorangoMonitor  *monitor);

G_END_DECLS
