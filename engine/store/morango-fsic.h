/* morango-fsic.h: filter-specific instance counters (protocol §3.5–§3.10)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <json-glib/json-glib.h>

#include "morango-filter.h"
#include "morango-store.h"

G_BEGIN_DECLS

typedef enum {
  MORANGO_FSIC_V1 = 1,
  MORANGO_FSIC_V2 = 2,
} MorangoFsicFormat;

/* Python refuses to queue from diffs this large (MorangoLimitExceeded). */
#define MORANGO_FSIC_V1_LIMIT 100000
#define MORANGO_FSIC_V2_LIMIT 99800

/* Counter maps.  A "counters" table maps an instance id (char *) to a
 * gint64 *; a "partition counters" table maps a partition (char *) to a
 * counters table.  Both own their keys and values. */
GHashTable  *morango_counters_new            (void);
void         morango_counters_set            (GHashTable  *counters,
                                              const char  *instance_id,
                                              gint64       counter);
gboolean     morango_counters_lookup         (GHashTable  *counters,
                                              const char  *instance_id,
                                              gint64      *counter);
GHashTable  *morango_partition_counters_new  (void);
/* The counters of @partition, created empty when missing. */
GHashTable  *morango_partition_counters_ensure (GHashTable *map,
                                                const char *partition);
GHashTable  *morango_partition_counters_copy (GHashTable  *map);
/* Number of partitions plus number of (partition, instance) entries. */
gsize        morango_partition_counters_size (GHashTable  *map);

/* JSON objects, both ways: {"inst": n} and {"part": {"inst": n}}.
 * Parsing is strict: values must be non-negative integers. */
GHashTable  *morango_counters_from_json      (JsonNode    *node,
                                              const char  *what,
                                              GError     **error);
GHashTable  *morango_partition_counters_from_json (JsonNode   *node,
                                                   const char *what,
                                                   GError    **error);
/* Keys are emitted sorted (code-point order) so output is stable. */
JsonNode    *morango_counters_to_json        (GHashTable  *counters);
JsonNode    *morango_partition_counters_to_json (GHashTable *map);

/* One FSIC as exchanged in client_fsic / server_fsic. */
typedef struct {
  MorangoFsicFormat format;
  GHashTable *counters;  /* v1: instance -> counter */
  GHashTable *super_;    /* v2: partitions that strictly prefix a filter entry */
  GHashTable *sub;       /* v2: partitions inside the filter */
} MorangoFsic;

MorangoFsic *morango_fsic_new                (MorangoFsicFormat format);
void         morango_fsic_free               (MorangoFsic *fsic);
/* Parses the JSON text of an FSIC in the negotiated @format.  A v2 FSIC
 * must have "super" and "sub" objects (MORANGO_ERROR_INVALID_FSIC),
 * except that the bare "{}" a legacy peer sends is read as an empty v2
 * FSIC (protocol quirk 10). */
MorangoFsic *morango_fsic_parse              (const char  *text,
                                              MorangoFsicFormat format,
                                              GError     **error);
MorangoFsic *morango_fsic_new_from_json      (JsonNode    *node,
                                              MorangoFsicFormat format,
                                              GError     **error);
JsonNode    *morango_fsic_to_json            (MorangoFsic *fsic);
/* The wire text, in the shape Python's json.dumps gives. */
char        *morango_fsic_to_string          (MorangoFsic *fsic);

/* v2: every "sub" partition must lie inside the filter, else
 * MORANGO_ERROR_INVALID_FSIC_PARTITION ("Partition 'x' is not in filter"). */
gboolean     morango_fsic_check_partitions   (MorangoFsic        *fsic,
                                              const char * const *filter_entries,
                                              GError            **error);

/* v2 redundancy removal (§3.7 step 4), in place: drops a partition's
 * counter when a prefix partition holds an equal or higher one. */
void         morango_fsic_remove_redundant   (MorangoFsic *fsic);
/* v2 expansion for diffing (§3.9.2 step 3). */
GHashTable  *morango_fsic_expand             (MorangoFsic        *fsic,
                                              const char * const *filter_entries);
/* Directional diffs: what the receiver lacks, keyed like the sender, the
 * values being the receiver's counters (0 when it has none). */
GHashTable  *morango_fsic_diff_v2            (GHashTable *sender_expanded,
                                              GHashTable *receiver_expanded);
GHashTable  *morango_fsic_diff_v1            (GHashTable *sender,
                                              GHashTable *receiver);

/* ---- the store's FSIC and DMC (morango-dmc.c) ---- */

/* Our FSIC for @filter from the DMC (§3.6, §3.7).  @reduction is the
 * relevance filter of §3.7 step 3 (Python's MORANGO_DISABLE_FSIC_REDUCTION
 * switches it off); v1 ignores it. */
MorangoFsic *morango_store_calculate_fsic      (MorangoStore      *store,
                                                MorangoFilter     *filter,
                                                gboolean           is_producer,
                                                MorangoFsicFormat  format,
                                                gboolean           reduction,
                                                GError           **error);
/* The same as wire text (what goes into client_fsic / server_fsic). */
char        *morango_store_calculate_fsic_json (MorangoStore      *store,
                                                MorangoFilter     *filter,
                                                gboolean           is_producer,
                                                MorangoFsicFormat  format,
                                                gboolean           reduction,
                                                GError           **error);

/* The DMC update of §3.10 on its own (it runs inside the dequeue).
 * Counters only ever rise, and a counter of 0 is never written. */
gboolean     morango_store_update_dmc          (MorangoStore      *store,
                                                MorangoFilter     *filter,
                                                MorangoFsic       *sender_fsic,
                                                GError           **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MorangoFsic, morango_fsic_free)

G_END_DECLS
