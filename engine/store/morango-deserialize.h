/* morango-deserialize.h: the deserializing stage (protocol §4.5)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "morango-filter.h"
#include "morango-store.h"

G_BEGIN_DECLS

/* Dirty store rows of the profile's models → application tables, in
 * one transaction, parents before children.  A record that cannot be
 * applied keeps its dirty bit and gets Morango's error text in
 * deserialization_error; that is not an error of the stage.  With
 * @skip_erroring, records that failed before are not retried.
 * @monitor (may be NULL) hears of stage "deserialize", each record
 * applied (or refused) and the bytes of its stored JSON; once it is
 * cancelled the stage rolls back and fails with G_IO_ERROR_CANCELLED. */
gboolean morango_store_deserialize (MorangoStore    *store,
                                    MorangoFilter   *filter,
                                    gboolean         skip_erroring,
                                    MorangoMonitor  *monitor,
                                    GError         **error);

G_END_DECLS
