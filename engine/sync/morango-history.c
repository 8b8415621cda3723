/* morango-history.c: what each sync with a peer did
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "morango-history.h"
#include "morango-ids.h"
#include "morango-known-peer-private.h"
#include "morango-i18n-private.h"

static const char *result_names[] = { "running", "ok", "failed", "cancelled" };

const char *
morango_sync_direction_to_string (MorangoSyncDirection direction)
{
  switch (direction)
    {
    case MORANGO_SYNC_DIRECTION_PULL:
      return "pull";
    case MORANGO_SYNC_DIRECTION_PUSH:
      return "push";
    case MORANGO_SYNC_DIRECTION_BOTH:
      return "both";
    default:
      g_return_val_if_reached (NULL);
    }
}

gboolean
morango_sync_direction_from_string (const char           *text,
                                    MorangoSyncDirection *direction)
{
  for (MorangoSyncDirection d = MORANGO_SYNC_DIRECTION_PULL; d <= MORANGO_SYNC_DIRECTION_BOTH; d++)
    if (g_strcmp0 (text, morango_sync_direction_to_string (d)) == 0)
      {
        *direction = d;
        return TRUE;
      }
  return FALSE;
}

const char *
morango_sync_result_to_string (MorangoSyncResult result)
{
  g_return_val_if_fail (result <= MORANGO_SYNC_RESULT_CANCELLED, NULL);
  return result_names[result];
}

gboolean
morango_sync_result_from_string (const char        *text,
                                 MorangoSyncResult *result)
{
  for (guint i = 0; i < G_N_ELEMENTS (result_names); i++)
    if (g_strcmp0 (text, result_names[i]) == 0)
      {
        *result = i;
        return TRUE;
      }
  return FALSE;
}

MorangoHistoryEntry *
morango_history_entry_copy (const MorangoHistoryEntry *entry)
{
  MorangoHistoryEntry *copy;

  g_return_val_if_fail (entry != NULL, NULL);

  copy = g_memdup2 (entry, sizeof *entry);
  copy->peer_id = g_strdup (entry->peer_id);
  copy->error = g_strdup (entry->error);
  copy->transfer_session_ids = g_strdupv (entry->transfer_session_ids);
  return copy;
}

void
morango_history_entry_free (MorangoHistoryEntry *entry)
{
  if (entry == NULL)
    return;
  g_free (entry->peer_id);
  g_free (entry->error);
  g_strfreev (entry->transfer_session_ids);
  g_free (entry);
}

G_DEFINE_BOXED_TYPE (MorangoHistoryEntry, morango_history_entry,
                     morango_history_entry_copy, morango_history_entry_free)

#define ENTRY_COLUMNS \
  "id, peer_id, started, duration, direction, records_sent, records_received, " \
  "bytes_sent, bytes_received, result, error, transfer_session_ids"

static MorangoHistoryEntry *
entry_from_row (sqlite3_stmt *stmt)
{
  MorangoHistoryEntry *entry = g_new0 (MorangoHistoryEntry, 1);
  const char *ids = morango_db_column_text (stmt, 11);

  entry->id = sqlite3_column_int64 (stmt, 0);
  entry->peer_id = g_strdup (morango_db_column_text (stmt, 1));
  entry->started = sqlite3_column_int64 (stmt, 2);
  entry->duration = sqlite3_column_int64 (stmt, 3);
  if (!morango_sync_direction_from_string (morango_db_column_text (stmt, 4), &entry->direction))
    entry->direction = MORANGO_SYNC_DIRECTION_BOTH;
  entry->counts.records_sent = sqlite3_column_int64 (stmt, 5);
  entry->counts.records_received = sqlite3_column_int64 (stmt, 6);
  entry->counts.bytes_sent = sqlite3_column_int64 (stmt, 7);
  entry->counts.bytes_received = sqlite3_column_int64 (stmt, 8);
  if (!morango_sync_result_from_string (morango_db_column_text (stmt, 9), &entry->result))
    entry->result = MORANGO_SYNC_RESULT_FAILED;
  if (sqlite3_column_type (stmt, 10) != SQLITE_NULL)
    entry->error = g_strdup (morango_db_column_text (stmt, 10));
  entry->transfer_session_ids = *ids ? g_strsplit (ids, " ", -1) : g_new0 (char *, 1);
  return entry;
}

static MorangoHistoryEntry *
load_entry (MorangoDb  *db,
            gint64      id,
            GError    **error)
{
  sqlite3_stmt *stmt = morango_db_prepare (db, "SELECT " ENTRY_COLUMNS " FROM morango_sync_history "
                                               "WHERE id = ?", error);
  MorangoHistoryEntry *entry;
  int rc;

  if (stmt == NULL || !morango_db_bind (db, stmt, error, "i", id) ||
      (rc = morango_db_step (db, stmt, error)) < 0)
    return NULL;
  if (rc == SQLITE_DONE)
    {
      sqlite3_reset (stmt);
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND,
                   _("No sync history entry %lld"), (long long) id);
      return NULL;
    }
  entry = entry_from_row (stmt);
  sqlite3_reset (stmt);
  return entry;
}

gint64
morango_history_begin (MorangoStore          *store,
                       const char            *peer_id,
                       MorangoSyncDirection   direction,
                       gint64                 started,
                       GError               **error)
{
  MorangoDb *db;
  g_autoptr(MorangoTransaction) tx = NULL;
  g_autoptr(MorangoKnownPeer) peer = NULL;
  gint64 id = 0;

  g_return_val_if_fail (MORANGO_IS_STORE (store), 0);
  g_return_val_if_fail (peer_id != NULL, 0);
  g_return_val_if_fail (direction >= MORANGO_SYNC_DIRECTION_PULL &&
                        direction <= MORANGO_SYNC_DIRECTION_BOTH, 0);

  db = morango_store_get_db (store);
  if ((tx = morango_transaction_begin (db, NULL, error)) == NULL ||
      (peer = morango_known_peer_lookup (store, peer_id, error)) == NULL ||
      !morango_db_query_int64 (db, &id, NULL, error,
                               "INSERT INTO morango_sync_history (peer_id, started, direction, result) "
                               "VALUES (?, ?, ?, 'running') RETURNING id",
                               "sis", peer_id, started, morango_sync_direction_to_string (direction)) ||
      !morango_transaction_commit (tx, error))
    return 0;
  return id;
}

gboolean
morango_history_add_transfer_session (MorangoStore  *store,
                                      gint64         entry_id,
                                      const char    *transfer_session_id,
                                      GError       **error)
{
  MorangoDb *db;
  g_autoptr(MorangoTransaction) tx = NULL;
  g_autoptr(MorangoHistoryEntry) entry = NULL;
  g_autofree char *joined = NULL;
  g_autoptr(GStrvBuilder) ids = NULL;
  g_auto(GStrv) all = NULL;

  g_return_val_if_fail (MORANGO_IS_STORE (store), FALSE);
  g_return_val_if_fail (transfer_session_id != NULL, FALSE);

  if (!morango_is_hex32 (transfer_session_id))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("A transfer session id must be 32 lowercase hex digits"));
      return FALSE;
    }
  db = morango_store_get_db (store);
  if ((tx = morango_transaction_begin (db, NULL, error)) == NULL ||
      (entry = load_entry (db, entry_id, error)) == NULL)
    return FALSE;
  if (g_strv_contains ((const char * const *) entry->transfer_session_ids, transfer_session_id))
    return TRUE;
  ids = g_strv_builder_new ();
  g_strv_builder_addv (ids, (const char **) entry->transfer_session_ids);
  g_strv_builder_add (ids, transfer_session_id);
  all = g_strv_builder_end (ids);
  joined = g_strjoinv (" ", all);
  return morango_db_execute (db, error,
                             "UPDATE morango_sync_history SET transfer_session_ids = ? WHERE id = ?",
                             "si", joined, entry_id) &&
         morango_transaction_commit (tx, error);
}

gboolean
morango_history_finish (MorangoStore             *store,
                        gint64                    entry_id,
                        gint64                    now,
                        MorangoSyncResult         result,
                        const MorangoSyncCounts  *counts,
                        const char               *error_text,
                        GError                  **error)
{
  static const MorangoSyncCounts nothing = { 0 };
  MorangoDb *db;
  g_autoptr(MorangoTransaction) tx = NULL;
  g_autoptr(MorangoHistoryEntry) entry = NULL;
  g_autofree char *clean = NULL;

  g_return_val_if_fail (MORANGO_IS_STORE (store), FALSE);
  g_return_val_if_fail (result > MORANGO_SYNC_RESULT_RUNNING &&
                        result <= MORANGO_SYNC_RESULT_CANCELLED, FALSE);

  if (counts == NULL)
    counts = &nothing;
  if (counts->records_sent < 0 || counts->records_received < 0 ||
      counts->bytes_sent < 0 || counts->bytes_received < 0)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("A sync cannot move a negative number of records or bytes"));
      return FALSE;
    }
  db = morango_store_get_db (store);
  if ((tx = morango_transaction_begin (db, NULL, error)) == NULL ||
      (entry = load_entry (db, entry_id, error)) == NULL)
    return FALSE;
  if (entry->result != MORANGO_SYNC_RESULT_RUNNING)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("Sync history entry %lld is already finished (%s)"),
                   (long long) entry_id, morango_sync_result_to_string (entry->result));
      return FALSE;
    }
  if (error_text != NULL)
    clean = morango_known_peer_clean_reason (error_text);
  if (!morango_db_execute (db, error,
                           "UPDATE morango_sync_history SET duration = max (? - started, 0), "
                           "  result = ?, error = ?, records_sent = ?, records_received = ?, "
                           "  bytes_sent = ?, bytes_received = ? WHERE id = ?",
                           "issiiiii", now, morango_sync_result_to_string (result), clean,
                           counts->records_sent, counts->records_received,
                           counts->bytes_sent, counts->bytes_received, entry_id))
    return FALSE;
  if (result == MORANGO_SYNC_RESULT_OK &&
      !morango_known_peer_record_success (store, entry->peer_id, now, error))
    return FALSE;
  if (result == MORANGO_SYNC_RESULT_FAILED &&
      !morango_known_peer_record_failure (store, entry->peer_id, now, error_text, error))
    return FALSE;
  return morango_transaction_commit (tx, error);
}

GPtrArray *
morango_history_list (MorangoStore  *store,
                      const char    *peer_id,
                      guint          limit,
                      GError       **error)
{
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func ((GDestroyNotify) morango_history_entry_free);
  MorangoDb *db;
  sqlite3_stmt *stmt;
  int rc;

  g_return_val_if_fail (MORANGO_IS_STORE (store), NULL);

  db = morango_store_get_db (store);
  /* Two entries may start in the same microsecond (a clock that
   * stepped back, a test's fixed clock): the later one written is the
   * newer. */
  stmt = morango_db_prepare (db, "SELECT " ENTRY_COLUMNS " FROM morango_sync_history "
                                 "WHERE ?1 IS NULL OR peer_id = ?1 "
                                 "ORDER BY started DESC, id DESC LIMIT ?2", error);
  if (stmt == NULL ||
      !morango_db_bind (db, stmt, error, "si", peer_id, limit == 0 ? (gint64) -1 : (gint64) limit))
    return NULL;
  while ((rc = morango_db_step (db, stmt, error)) == SQLITE_ROW)
    g_ptr_array_add (entries, entry_from_row (stmt));
  if (rc < 0)
    return NULL;
  sqlite3_reset (stmt);
  return g_steal_pointer (&entries);
}
