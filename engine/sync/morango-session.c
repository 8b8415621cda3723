/* morango-session.c: sync and transfer sessions as a persisted state machine
 *
 * SPDX-License-Identifier: MIT
 */
#include "morango-buffer.h"
#include "morango-ids.h"
#include "morango-session.h"
#include "morango-i18n-private.h"

static const char *stage_names[] = {
  "initializing", "serializing", "queuing", "transferring",
  "dequeuing", "deserializing", "cleanup",
};
static const char *status_names[] = { "pending", "started", "completed", "errored" };

G_STATIC_ASSERT (G_N_ELEMENTS (stage_names) == MORANGO_N_STAGES);

const char *
morango_stage_to_string (MorangoStage stage)
{
  g_return_val_if_fail (stage < MORANGO_N_STAGES, NULL);
  return stage_names[stage];
}

gboolean
morango_stage_from_string (const char   *text,
                           MorangoStage *stage)
{
  for (guint i = 0; i < G_N_ELEMENTS (stage_names); i++)
    if (g_strcmp0 (text, stage_names[i]) == 0)
      {
        *stage = i;
        return TRUE;
      }
  return FALSE;
}

const char *
morango_stage_status_to_string (MorangoStageStatus status)
{
  g_return_val_if_fail (status <= MORANGO_STAGE_STATUS_ERRORED, NULL);
  return status_names[status];
}

gboolean
morango_stage_status_from_string (const char         *text,
                                  MorangoStageStatus *status)
{
  for (guint i = 0; i < G_N_ELEMENTS (status_names); i++)
    if (g_strcmp0 (text, status_names[i]) == 0)
      {
        *status = i;
        return TRUE;
      }
  return FALSE;
}

void
morango_transfer_session_free (MorangoTransferSession *ts)
{
  if (ts == NULL)
    return;
  g_free (ts->id);
  g_free (ts->sync_session_id);
  g_free (ts->filter);
  g_free (ts->client_fsic);
  g_free (ts->server_fsic);
  g_free (ts);
}

gboolean
morango_sync_session_create (MorangoDb   *db,
                             const char  *id,
                             gboolean     is_server,
                             const char  *profile,
                             const char  *connection_kind,
                             const char  *connection_path,
                             const char  *client_instance_id,
                             const char  *server_instance_id,
                             GError     **error)
{
  g_autofree char *now = morango_db_now_text ();

  g_return_val_if_fail (morango_is_hex32 (id), FALSE);

  return morango_db_execute (db, error,
                             "INSERT INTO morango_syncsession (id, start_timestamp, "
                             "  last_activity_timestamp, active, is_server, profile, connection_kind, "
                             "  connection_path, client_instance_id, server_instance_id) "
                             "VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?)",
                             "sssbsssss", id, now, now, is_server, profile, connection_kind,
                             connection_path, client_instance_id, server_instance_id);
}

void
morango_sync_session_free (MorangoSyncSession *ss)
{
  if (ss == NULL)
    return;
  g_free (ss->id);
  g_free (ss->profile);
  g_free (ss->connection_kind);
  g_free (ss->connection_path);
  g_free (ss->client_instance_id);
  g_free (ss->server_instance_id);
  g_free (ss);
}

MorangoSyncSession *
morango_sync_session_load (MorangoDb   *db,
                           const char  *id,
                           GError     **error)
{
  g_autoptr(MorangoSyncSession) ss = NULL;
  sqlite3_stmt *stmt;
  int rc;

  stmt = morango_db_prepare (db,
                             "SELECT id, is_server, active, profile, connection_kind, connection_path, "
                             "  client_instance_id, server_instance_id "
                             "FROM morango_syncsession WHERE id = ?", error);
  if (stmt == NULL || !morango_db_bind (db, stmt, error, "s", id))
    return NULL;
  if ((rc = morango_db_step (db, stmt, error)) < 0)
    return NULL;
  if (rc == SQLITE_DONE)
    {
      sqlite3_reset (stmt);
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND, _("No sync session %s"), id);
      return NULL;
    }
  ss = g_new0 (MorangoSyncSession, 1);
  ss->id = g_strdup (morango_db_column_text (stmt, 0));
  ss->is_server = sqlite3_column_int (stmt, 1) != 0;
  ss->active = sqlite3_column_int (stmt, 2) != 0;
  ss->profile = g_strdup (morango_db_column_text (stmt, 3));
  ss->connection_kind = g_strdup (morango_db_column_text (stmt, 4));
  ss->connection_path = g_strdup (morango_db_column_text (stmt, 5));
  ss->client_instance_id = g_strdup (morango_db_column_text (stmt, 6));
  ss->server_instance_id = g_strdup (morango_db_column_text (stmt, 7));
  sqlite3_reset (stmt);
  return g_steal_pointer (&ss);
}

gboolean
morango_sync_session_close (MorangoDb   *db,
                            const char  *id,
                            GError     **error)
{
  g_autofree char *now = morango_db_now_text ();

  return morango_db_execute (db, error,
                             "UPDATE morango_syncsession SET active = 0, last_activity_timestamp = ? "
                             "WHERE id = ?", "ss", now, id);
}

gboolean
morango_transfer_session_create (MorangoDb      *db,
                                 const char     *id,
                                 const char     *sync_session_id,
                                 MorangoFilter  *filter,
                                 gboolean        push,
                                 GError        **error)
{
  g_autofree char *now = morango_db_now_text ();
  g_autofree char *text = NULL;

  g_return_val_if_fail (morango_is_hex32 (id), FALSE);

  if (morango_filter_is_everything (filter))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("A transfer needs a filter that names partitions; an empty filter "
                   "would mean every record"));
      return FALSE;
    }
  text = morango_filter_to_string (filter);
  return morango_db_execute (db, error,
                             "INSERT INTO morango_transfersession (id, filter, push, active, "
                             "  records_transferred, records_total, sync_session_id, start_timestamp, "
                             "  last_activity_timestamp, transfer_stage, transfer_stage_status) "
                             "VALUES (?, ?, ?, 1, 0, NULL, ?, ?, ?, 'initializing', 'started')",
                             "ssbsss", id, text, push, sync_session_id, now, now);
}

MorangoTransferSession *
morango_transfer_session_load (MorangoDb   *db,
                               const char  *id,
                               GError     **error)
{
  g_autoptr(MorangoTransferSession) ts = NULL;
  sqlite3_stmt *stmt;
  int rc;

  stmt = morango_db_prepare (db,
                             "SELECT id, sync_session_id, filter, push, active, records_total, "
                             "  records_transferred, client_fsic, server_fsic, transfer_stage, "
                             "  transfer_stage_status "
                             "FROM morango_transfersession WHERE id = ?", error);
  if (stmt == NULL || !morango_db_bind (db, stmt, error, "s", id))
    return NULL;
  if ((rc = morango_db_step (db, stmt, error)) < 0)
    return NULL;
  if (rc == SQLITE_DONE)
    {
      sqlite3_reset (stmt);
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND,
                   _("No transfer session %s"), id);
      return NULL;
    }
  ts = g_new0 (MorangoTransferSession, 1);
  ts->id = g_strdup (morango_db_column_text (stmt, 0));
  ts->sync_session_id = g_strdup (morango_db_column_text (stmt, 1));
  ts->filter = g_strdup (morango_db_column_text (stmt, 2));
  ts->push = sqlite3_column_int (stmt, 3) != 0;
  ts->active = sqlite3_column_int (stmt, 4) != 0;
  ts->records_total = sqlite3_column_type (stmt, 5) == SQLITE_NULL ? -1 : sqlite3_column_int64 (stmt, 5);
  ts->records_transferred = sqlite3_column_int64 (stmt, 6);
  ts->client_fsic = g_strdup (morango_db_column_text (stmt, 7));
  ts->server_fsic = g_strdup (morango_db_column_text (stmt, 8));
  if (!morango_stage_from_string (morango_db_column_text (stmt, 9), &ts->stage))
    ts->stage = MORANGO_STAGE_INITIALIZING;
  if (!morango_stage_status_from_string (morango_db_column_text (stmt, 10), &ts->status))
    ts->status = MORANGO_STAGE_STATUS_PENDING;
  sqlite3_reset (stmt);
  return g_steal_pointer (&ts);
}

gboolean
morango_transfer_session_find_active (MorangoDb   *db,
                                      const char  *sync_session_id,
                                      gboolean     push,
                                      char       **id,
                                      GError     **error)
{
  g_return_val_if_fail (id != NULL && *id == NULL, FALSE);

  return morango_db_query_text (db, id, error,
                                "SELECT id FROM morango_transfersession "
                                "WHERE sync_session_id = ? AND push = ? AND active = 1 LIMIT 1",
                                "sb", sync_session_id, push);
}

gboolean
morango_transfer_session_find_resumable (MorangoDb   *db,
                                         const char  *connection_path,
                                         gboolean     push,
                                         const char  *filter,
                                         char       **id,
                                         GError     **error)
{
  g_return_val_if_fail (id != NULL && *id == NULL, FALSE);

  /* The newest one: an older one left active is abandoned, and cleanup
   * takes it. */
  return morango_db_query_text (db, id, error,
                                "SELECT t.id FROM morango_transfersession t "
                                "  JOIN morango_syncsession s ON s.id = t.sync_session_id "
                                "WHERE s.is_server = 0 AND s.active = 1 AND s.connection_path = ? "
                                "  AND t.active = 1 AND t.push = ? AND t.filter = ? "
                                "ORDER BY t.last_activity_timestamp DESC LIMIT 1",
                                "sbs", connection_path, push, filter);
}

gboolean
morango_transfer_session_set_stage (MorangoDb           *db,
                                    const char          *id,
                                    MorangoStage         stage,
                                    MorangoStageStatus   status,
                                    GError             **error)
{
  g_autoptr(MorangoTransferSession) ts = morango_transfer_session_load (db, id, error);
  g_autofree char *now = NULL;

  if (ts == NULL)
    return FALSE;
  if (stage < ts->stage)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("Transfer session %s is at %s and cannot go back to %s"),
                   id, morango_stage_to_string (ts->stage), morango_stage_to_string (stage));
      return FALSE;
    }
  if (stage == ts->stage && status == ts->status)
    return TRUE;   /* nothing changed: leave the activity times alone */

  now = morango_db_now_text ();
  return morango_db_execute (db, error,
                             "UPDATE morango_transfersession SET transfer_stage = ?, "
                             "  transfer_stage_status = ?, last_activity_timestamp = ? WHERE id = ?",
                             "ssss", morango_stage_to_string (stage),
                             morango_stage_status_to_string (status), now, id) &&
         morango_db_execute (db, error,
                             "UPDATE morango_syncsession SET last_activity_timestamp = ? WHERE id = ?",
                             "ss", now, ts->sync_session_id);
}

gboolean
morango_transfer_session_set_fsics (MorangoDb   *db,
                                    const char  *id,
                                    const char  *client_fsic,
                                    const char  *server_fsic,
                                    GError     **error)
{
  return morango_db_execute (db, error,
                             "UPDATE morango_transfersession SET "
                             "  client_fsic = coalesce(?, client_fsic), "
                             "  server_fsic = coalesce(?, server_fsic) WHERE id = ?",
                             "sss", client_fsic, server_fsic, id);
}

gboolean
morango_transfer_session_set_counts (MorangoDb   *db,
                                     const char  *id,
                                     gint64       records_total,
                                     gint64       records_transferred,
                                     GError     **error)
{
  return morango_db_execute (db, error,
                             "UPDATE morango_transfersession SET "
                             "  records_total = CASE WHEN ? < 0 THEN records_total ELSE ? END, "
                             "  records_transferred = CASE WHEN ? < 0 THEN records_transferred ELSE ? END "
                             "WHERE id = ?",
                             "iiiis", records_total, records_total,
                             records_transferred, records_transferred, id);
}

gboolean
morango_transfer_session_close (MorangoDb       *db,
                                const char      *id,
                                MorangoMonitor  *monitor,
                                GError         **error)
{
  g_autoptr(MorangoTransaction) tx = morango_transaction_begin (db, monitor, error);

  if (tx == NULL)
    return FALSE;
  morango_monitor_stage_begin (monitor, "cleanup", -1);
  if (!morango_buffer_clear (db, id, error) ||
      !morango_db_execute (db, error,
                           "UPDATE morango_transfersession SET active = 0 WHERE id = ?", "s", id) ||
      !morango_transaction_commit (tx, error))
    return FALSE;
  morango_monitor_stage_end (monitor);
  return TRUE;
}

gboolean
morango_transfer_session_receive_chunk (MorangoStore        *receiver,
                                        const char          *id,
                                        MorangoFilter       *filter,
                                        MorangoBufferChunk  *chunk,
                                        MorangoMonitor      *monitor,
                                        gint64              *records_transferred,
                                        GError             **error)
{
  MorangoDb *db = morango_store_get_db (receiver);
  g_autoptr(MorangoTransaction) tx = NULL;
  gint64 already = 0;
  gboolean found = FALSE;

  g_return_val_if_fail (MORANGO_IS_STORE (receiver), FALSE);
  g_return_val_if_fail (id != NULL, FALSE);
  g_return_val_if_fail (chunk != NULL, FALSE);

  if ((tx = morango_transaction_begin (db, monitor, error)) == NULL ||
      !morango_db_query_int64 (db, &already, &found, error,
                               "SELECT records_transferred FROM morango_transfersession WHERE id = ?",
                               "s", id))
    return FALSE;
  if (!found)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND,
                   _("No transfer session %s to receive records for"), id);
      return FALSE;
    }
  already += chunk->records->len;
  if (!morango_buffer_write_chunk (receiver, id, filter, chunk, monitor, error) ||
      !morango_transfer_session_set_counts (db, id, -1, already, error) ||
      !morango_transaction_commit (tx, error))
    return FALSE;
  if (records_transferred != NULL)
    *records_transferred = already;
  return TRUE;
}
