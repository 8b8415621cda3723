/* morango-history.h: what each sync with a peer did
 *
 * SPDX-License-Identifier: MIT
 *
 * Each sync with a known peer (morango-known-peer.h) leaves one entry:
 * begun when the sync starts, finished when it ends, so a sync that
 * never ended (the program was killed) shows as running.  Times are
 * microseconds since the epoch (UTC), passed in by the caller.
 */
#pragma once

#include "morango-known-peer.h"

G_BEGIN_DECLS

typedef enum {
  MORANGO_SYNC_DIRECTION_PULL = 1 << 0,
  MORANGO_SYNC_DIRECTION_PUSH = 1 << 1,
  MORANGO_SYNC_DIRECTION_BOTH = MORANGO_SYNC_DIRECTION_PULL | MORANGO_SYNC_DIRECTION_PUSH,
} MorangoSyncDirection;

const char *morango_sync_direction_to_string   (MorangoSyncDirection  direction);
gboolean    morango_sync_direction_from_string (const char           *text,
                                                MorangoSyncDirection *direction);

typedef enum {
  MORANGO_SYNC_RESULT_RUNNING,     /* begun, not finished (yet, or ever) */
  MORANGO_SYNC_RESULT_OK,
  MORANGO_SYNC_RESULT_FAILED,
  MORANGO_SYNC_RESULT_CANCELLED,
} MorangoSyncResult;

const char *morango_sync_result_to_string   (MorangoSyncResult  result);
gboolean    morango_sync_result_from_string (const char        *text,
                                             MorangoSyncResult *result);

/* What moved, from this device's point of view. */
typedef struct {
  gint64 records_sent;
  gint64 records_received;
  gint64 bytes_sent;
  gint64 bytes_received;
} MorangoSyncCounts;

typedef struct {
  gint64                id;                     /* > 0 */
  char                 *peer_id;
  gint64                started;
  gint64                duration;               /* 0 while running */
  MorangoSyncDirection  direction;
  MorangoSyncCounts     counts;
  MorangoSyncResult     result;
  char                 *error;                  /* NULL when none was given */
  GStrv                 transfer_session_ids;   /* never NULL; in the order added */
} MorangoHistoryEntry;

#define MORANGO_TYPE_HISTORY_ENTRY (morango_history_entry_get_type ())
GType                morango_history_entry_get_type (void) G_GNUC_CONST;
MorangoHistoryEntry *morango_history_entry_copy     (const MorangoHistoryEntry *entry);
void                 morango_history_entry_free     (MorangoHistoryEntry       *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MorangoHistoryEntry, morango_history_entry_free)

/* A new running entry for a sync with @peer_id (which must be known:
 * MORANGO_ERROR_NOT_FOUND otherwise) that starts at @started.  Returns
 * its id, or 0 with @error set. */
gint64   morango_history_begin                (MorangoStore          *store,
                                               const char            *peer_id,
                                               MorangoSyncDirection   direction,
                                               gint64                 started,
                                               GError               **error);
/* Notes a transfer session of the sync (32 hex digits), once each. */
gboolean morango_history_add_transfer_session (MorangoStore          *store,
                                               gint64                 entry_id,
                                               const char            *transfer_session_id,
                                               GError               **error);
/* Ends a running entry at @now with @result (not running), @counts (may
 * be NULL: nothing moved) and @error_text (may be NULL; kept as
 * morango_known_peer_record_failure() keeps a reason).  In the same
 * transaction the peer records it: a success on OK, a failure with
 * @error_text on FAILED; a cancel is the user's doing, not the peer's,
 * and leaves the peer as it is.  An entry already finished is refused
 * (MORANGO_ERROR_INVALID), an unknown one is not found. */
gboolean morango_history_finish               (MorangoStore             *store,
                                               gint64                    entry_id,
                                               gint64                    now,
                                               MorangoSyncResult         result,
                                               const MorangoSyncCounts  *counts,
                                               const char               *error_text,
                                               GError                  **error);
/* The entries of @peer_id (NULL: of every peer), newest first, at most
 * @limit of them (0: all).  MorangoHistoryEntry *, owned by the array. */
GPtrArray *morango_history_list               (MorangoStore          *store,
                                               const char            *peer_id,
                                               guint                  limit,
                                               GError               **error);

G_END_DECLS
