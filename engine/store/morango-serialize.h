/* morango-serialize.h: the serializing stage (protocol §3.3)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "morango-filter.h"
#include "morango-store.h"

G_BEGIN_DECLS

/* Dirty application rows → store, in one transaction: bumps the
 * instance counter once, stamps every serialized record with it (RMC
 * too), applies the queued deletions and hard deletions, and sets the
 * DMC of our own instance for @filter (NULL: everything).  Any error
 * rolls the whole stage back.  @monitor (may be NULL) hears of stage
 * "serialize", each record serialized and the bytes of its JSON; once
 * it is cancelled the stage rolls back and fails with
 * G_IO_ERROR_CANCELLED. */
gboolean morango_store_serialize   (MorangoStore    *store,
                                    MorangoFilter   *filter,
                                    MorangoMonitor  *monitor,
                                    GError         **error);

G_END_DECLS
