/* morango-serialize.h: the serializing and deserializing stages (protocol §3.3, §4.5)
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
 * rolls the whole stage back. */
gboolean morango_store_serialize   (MorangoStore  *store,
                                    MorangoFilter *filter,
                                    GError       **error);
/* Dirty store rows of the profile's models → application tables, in
 * one transaction, parents before children.  A record that cannot be
 * applied keeps its dirty bit and gets Morango's error text in
 * deserialization_error; that is not an error of the stage.  With
 * @skip_erroring, records that failed before are not retried. */
gboolean morango_store_deserialize (MorangoStore  *store,
                                    MorangoFilter *filter,
                                    gboolean       skip_erroring,
                                    GError       **error);

G_END_DECLS
