/* morango-engine-scopes.h: the scopes a device holds, and what is in them
 *
 * SPDX-License-Identifier: MIT
 *
 * A scope is held when this device owns a certificate for it (its
 * private key is here): it may sync that scope as a client and serve it
 * to peers.  For each scope the store's records inside its read filter
 * are counted per model and partition, with their conflicts and the
 * records that failed to deserialize, and the peer it last synced with
 * is named.  Records outside every scope held (brought by a relay, or
 * left by a certificate since removed) are summed up apart.
 */
#pragma once

#include "morango-engine.h"

G_BEGIN_DECLS

/* The records of one model in one partition. */
typedef struct {
  char   *model_name;
  char   *partition;
  gint64  records;      /* held: deleted ones left out */
  gint64  deleted;      /* deleted or hard deleted (tombstones kept to sync) */
  gint64  conflicts;    /* holding a conflicting version (merge kept both) */
  gint64  errors;       /* failed to deserialize into the application tables */
} MorangoScopeCount;

void  morango_scope_count_free (MorangoScopeCount *count);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MorangoScopeCount, morango_scope_count_free)

/* One record that failed to deserialize, and why. */
typedef struct {
  char *record_id;
  char *model_name;
  char *partition;
  char *message;        /* as the deserialize stage wrote it */
} MorangoScopeError;

void  morango_scope_error_free (MorangoScopeError *error);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MorangoScopeError, morango_scope_error_free)

/* At most this many MorangoScopeError per scope: the count says how many
 * there are in all. */
#define MORANGO_SCOPE_ERRORS_MAX 50

typedef struct {
  /* NULL for the records outside every scope held (then the definition,
   * params and description are NULL and read_filter is empty). */
  char       *certificate_id;      /* the first certificate (tree order) for it */
  GStrv       certificate_ids;     /* every one held for the same read filter */
  char       *scope_definition;
  char       *scope_params;        /* a JSON object text, as signed */
  char       *description;         /* the definition's description, filled in */
  GStrv       read_filter;         /* its entries (partition prefixes) */
  GPtrArray  *counts;              /* MorangoScopeCount *, by model then partition */
  gint64      records;             /* the sums of @counts */
  gint64      deleted;
  gint64      conflicts;
  gint64      errors;
  GPtrArray  *error_list;          /* MorangoScopeError *, the first
                                    * MORANGO_SCOPE_ERRORS_MAX by model and id */
  /* The peer that last synced it with success: through one of its
   * certificates, either way, or, for a client of this device's server
   * (which records no certificate for it), with a last transfer inside
   * the scope.  NULL / 0 when none did. */
  char       *last_peer_id;
  char       *last_peer_name;      /* its address, else its instance id */
  gint64      last_synced;         /* microseconds since the epoch */
} MorangoScopeSummary;

void  morango_scope_summary_free (MorangoScopeSummary *summary);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MorangoScopeSummary, morango_scope_summary_free)

/* Reads the scopes held, in the order of their certificates (parents
 * first), then the records outside them when there are any: a GPtrArray
 * of MorangoScopeSummary * that the array owns.  Read on a thread with
 * a connection of its own; read-only. */
void        morango_engine_list_scopes_async  (MorangoEngine        *self,
                                               GCancellable         *cancellable,
                                               GAsyncReadyCallback   callback,
                                               gpointer              user_data);
GPtrArray  *morango_engine_list_scopes_finish (MorangoEngine        *self,
                                               GAsyncResult         *result,
                                               GError              **error);

G_END_DECLS
