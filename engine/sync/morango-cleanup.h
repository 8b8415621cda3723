/* morango-cleanup.h: removing the sessions nobody will use again (protocol §9.10)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "morango-db.h"

G_BEGIN_DECLS

/* Morango's cleanupsyncs default. */
#define MORANGO_CLEANUP_DEFAULT_EXPIRATION (6 * G_TIME_SPAN_HOUR)

/* What one run removed (or, for @abandoned, stopped). */
typedef struct {
  gint64 sync_sessions;       /* sync session rows removed */
  gint64 transfer_sessions;   /* transfer session rows removed */
  gint64 abandoned;           /* active sessions (sync or transfer) this run found expired */
  gint64 buffer_rows;         /* records removed from the transfer buffer */
  gint64 history_rows;        /* rows removed from the history buffer (RMCB) */
} MorangoCleanupCounts;

/* Removes what no sync will use again.  A session is expired when its
 * last activity is older than @now - @expiration (@now in microseconds
 * since the epoch, UTC, as g_get_real_time() gives it; @expiration at
 * least 0).
 *
 *  1. Expired active transfer sessions, and expired active sync
 *     sessions left with no active transfer session, are abandoned:
 *     they are marked inactive, in one transaction, so that none can be
 *     resumed with part of its buffer gone.
 *  2. The buffer and history buffer rows of every transfer session that
 *     is not active (and rows whose session is gone) are deleted, a
 *     bounded batch of records per transaction.
 *  3. Expired inactive transfer sessions with nothing left in the
 *     buffers, then expired inactive sync sessions with no transfer
 *     session left, are deleted.
 *
 * An active session whose last activity is recent, and its buffers, are
 * never touched.  Space freed is left for SQLite to reuse (no VACUUM).
 *
 * Takes @monitor (may be NULL) as the "cleanup" stage, counting buffer
 * records: a cancel or a failure rolls the batch in flight back and
 * returns FALSE (G_IO_ERROR_CANCELLED for a cancel); what earlier
 * transactions removed stays removed, and a later run goes on from
 * there.  @counts (may be NULL) gets what was committed, on failure
 * too. */
gboolean morango_cleanup_sessions (MorangoDb             *db,
                                   gint64                 now,
                                   GTimeSpan              expiration,
                                   MorangoMonitor        *monitor,
                                   MorangoCleanupCounts  *counts,
                                   GError               **error);

G_END_DECLS
