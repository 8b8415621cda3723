/* morango-cleanup.c: removing the sessions nobody will use again
 *
 * SPDX-License-Identifier: MIT
 */
#include "morango-cleanup.h"

/* Records removed per transaction: big enough that the commits cost
 * little next to the deletes, small enough that a cancel loses a few
 * milliseconds of work and the write-ahead log stays small while a
 * server keeps answering beside the cleanup. */
#define CLEANUP_BATCH 5000

/* Session times are Morango's naive UTC text, which compares in time
 * order as text.  NULL when @usec lies before year 1: nothing is that
 * old. */
static char *
timestamp_text (gint64 usec)
{
  g_autoptr(GDateTime) epoch = g_date_time_new_from_unix_utc (0);
  g_autoptr(GDateTime) t = g_date_time_add (epoch, usec);

  if (t == NULL)
    return usec > 0 ? g_strdup ("9999-12-31 23:59:59.999999~") : NULL;
  return g_date_time_format (t, "%Y-%m-%d %H:%M:%S.%f");
}

/* Step 1: what has been quiet too long can no longer be resumed. */
static gboolean
abandon_expired (MorangoDb             *db,
                 const char            *cutoff,
                 MorangoMonitor        *monitor,
                 MorangoCleanupCounts  *counts,
                 GError               **error)
{
  g_autoptr(MorangoTransaction) tx = morango_transaction_begin (db, monitor, error);
  gint64 transfers, syncs;

  if (tx == NULL ||
      !morango_db_execute (db, error,
                           "UPDATE morango_transfersession SET active = 0 "
                           "WHERE active = 1 AND last_activity_timestamp < ?", "s", cutoff))
    return FALSE;
  transfers = morango_db_changes (db);
  /* A sync session whose transfer is still going on stays, whatever its
   * own time says. */
  if (!morango_db_execute (db, error,
                           "UPDATE morango_syncsession SET active = 0 "
                           "WHERE active = 1 AND last_activity_timestamp < ? AND NOT EXISTS "
                           "  (SELECT 1 FROM morango_transfersession t "
                           "   WHERE t.sync_session_id = morango_syncsession.id AND t.active = 1)",
                           "s", cutoff))
    return FALSE;
  syncs = morango_db_changes (db);
  if (!morango_transaction_commit (tx, error))
    return FALSE;
  counts->abandoned += transfers + syncs;
  return TRUE;
}

/* The next transfer session id after @after (NULL: from the start) that
 * owns rows in either buffer table, in *@next (NULL when none). */
static gboolean
next_buffered_session (MorangoDb   *db,
                       const char  *after,
                       char       **next,
                       GError     **error)
{
  return morango_db_query_text (db, next, error,
                                "SELECT min (t) FROM ("
                                "  SELECT min (transfer_session_id) AS t FROM morango_buffer "
                                "  WHERE transfer_session_id > ?1 "
                                "  UNION ALL SELECT min (transfer_session_id) "
                                "  FROM morango_recordmaxcounterbuffer WHERE transfer_session_id > ?1)",
                                "s", after ? after : "");
}

/* Deletes rows of the buffer tables without zeroing them: they are
 * copies of records kept in a store somewhere.  @bound NULL: all of
 * the session's. */
static gboolean
delete_rows (MorangoDb   *db,
             const char  *table,
             const char  *id,
             const char  *bound,
             gint64      *deleted,
             GError     **error)
{
  static const struct {
    const char *table, *to_bound, *all;
  } deletes[] = {
    { "morango_buffer",
      "DELETE FROM morango_buffer WHERE transfer_session_id = ? AND model_uuid <= ?",
      "DELETE FROM morango_buffer WHERE transfer_session_id = ?" },
    { "morango_recordmaxcounterbuffer",
      "DELETE FROM morango_recordmaxcounterbuffer WHERE transfer_session_id = ? AND model_uuid <= ?",
      "DELETE FROM morango_recordmaxcounterbuffer WHERE transfer_session_id = ?" },
  };
  guint i = g_str_equal (table, deletes[0].table) ? 0 : 1;
  gboolean ok;

  /* Two statements rather than one with "? IS NULL OR": that one would
   * walk all of the session's rows in every batch. */
  ok = bound ? morango_db_delete_copies (db, error, deletes[i].to_bound, "ss", id, bound)
             : morango_db_delete_copies (db, error, deletes[i].all, "s", id);
  if (!ok)
    return FALSE;
  *deleted = morango_db_changes (db);
  return TRUE;
}

/* Step 2 for one transfer session, unless it is active: its buffers, a
 * batch of records (with their history) per transaction.  A batch ends at a
 * record id, so that a record and its history go together. */
static gboolean
clear_buffers (MorangoDb             *db,
               const char            *id,
               MorangoMonitor        *monitor,
               MorangoCleanupCounts  *counts,
               GError               **error)
{
  for (;;)
    {
      g_autoptr(MorangoTransaction) tx = morango_transaction_begin (db, monitor, error);
      g_autofree char *bound = NULL;
      gint64 records = 0, history = 0, active = 0;

      /* Asked inside each transaction, where the answer holds until
       * the commit, should another program be syncing beside us. */
      if (tx == NULL ||
          !morango_db_query_int64 (db, &active, NULL, error,
                                   "SELECT active FROM morango_transfersession WHERE id = ?", "s", id))
        return FALSE;
      if (active != 0)
        return TRUE;
      if (!morango_db_query_text (db, &bound, error,
                                  "SELECT model_uuid FROM morango_buffer WHERE transfer_session_id = ? "
                                  "ORDER BY model_uuid LIMIT 1 OFFSET ?",
                                  "si", id, (gint64) CLEANUP_BATCH - 1))
        return FALSE;
      /* Few records left, but maybe history rows of records that are
       * gone: those come in batches too. */
      if (bound == NULL &&
          !morango_db_query_text (db, &bound, error,
                                  "SELECT model_uuid FROM morango_recordmaxcounterbuffer "
                                  "WHERE transfer_session_id = ? ORDER BY model_uuid LIMIT 1 OFFSET ?",
                                  "si", id, (gint64) CLEANUP_BATCH - 1))
        return FALSE;
      if (!delete_rows (db, "morango_buffer", id, bound, &records, error) ||
          !delete_rows (db, "morango_recordmaxcounterbuffer", id, bound, &history, error) ||
          !morango_monitor_advance (monitor, records, 0, error) ||
          !morango_transaction_commit (tx, error))
        return FALSE;
      counts->buffer_rows += records;
      counts->history_rows += history;
      if (bound == NULL)
        return TRUE;
    }
}

/* Step 3: the rows of sessions that are over. */
static gboolean
delete_sessions (MorangoDb             *db,
                 const char            *cutoff,
                 MorangoMonitor        *monitor,
                 MorangoCleanupCounts  *counts,
                 GError               **error)
{
  g_autoptr(MorangoTransaction) tx = morango_transaction_begin (db, monitor, error);
  gint64 transfers, syncs;

  /* Buffer rows can only remain here if something wrote them since
   * step 2: then the session waits for the next run. */
  if (tx == NULL ||
      !morango_db_execute (db, error,
                           "DELETE FROM morango_transfersession "
                           "WHERE active = 0 AND last_activity_timestamp < ?1 "
                           "AND NOT EXISTS (SELECT 1 FROM morango_buffer b "
                           "  WHERE b.transfer_session_id = morango_transfersession.id) "
                           "AND NOT EXISTS (SELECT 1 FROM morango_recordmaxcounterbuffer r "
                           "  WHERE r.transfer_session_id = morango_transfersession.id)",
                           "s", cutoff))
    return FALSE;
  transfers = morango_db_changes (db);
  if (!morango_db_execute (db, error,
                           "DELETE FROM morango_syncsession "
                           "WHERE active = 0 AND last_activity_timestamp < ? AND NOT EXISTS "
                           "  (SELECT 1 FROM morango_transfersession t "
                           "   WHERE t.sync_session_id = morango_syncsession.id)",
                           "s", cutoff))
    return FALSE;
  syncs = morango_db_changes (db);
  if (!morango_transaction_commit (tx, error))
    return FALSE;
  counts->transfer_sessions += transfers;
  counts->sync_sessions += syncs;
  return TRUE;
}

gboolean
morango_cleanup_sessions (MorangoDb             *db,
                          gint64                 now,
                          GTimeSpan              expiration,
                          MorangoMonitor        *monitor,
                          MorangoCleanupCounts  *counts,
                          GError               **error)
{
  MorangoCleanupCounts local = { 0 };
  g_autofree char *cutoff = NULL;
  g_autofree char *id = NULL;

  g_return_val_if_fail (MORANGO_IS_DB (db), FALSE);
  g_return_val_if_fail (expiration >= 0, FALSE);
  g_return_val_if_fail (monitor == NULL || MORANGO_IS_MONITOR (monitor), FALSE);

  if (counts == NULL)
    counts = &local;
  *counts = (MorangoCleanupCounts) { 0 };
  /* "" when the cutoff lies before any time: no text is older. */
  cutoff = now < G_MININT64 + expiration ? NULL : timestamp_text (now - expiration);
  if (cutoff == NULL)
    cutoff = g_strdup ("");

  morango_monitor_stage_begin (monitor, "cleanup", -1);
  if (!abandon_expired (db, cutoff, monitor, counts, error))
    return FALSE;

  /* Step 2 walks the session ids found in the buffers, skipping the
   * active ones: a row whose session is gone is as dead as one whose
   * session is over. */
  for (;;)
    {
      g_autofree char *next = NULL;

      if (!next_buffered_session (db, id, &next, error))
        return FALSE;
      if (next == NULL)
        break;
      g_free (id);
      id = g_steal_pointer (&next);
      if (!clear_buffers (db, id, monitor, counts, error))
        return FALSE;
    }

  if (!delete_sessions (db, cutoff, monitor, counts, error))
    return FALSE;
  morango_monitor_stage_end (monitor);
  return TRUE;
}
