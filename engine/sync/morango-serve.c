/* morango-serve.c: the server's side of a transfer, request by request
 *
 * The server column of §9.4 and the table of §9.7.  Receipt checks are
 * the receiver's own, as on the wire.
 *
 * SPDX-License-Identifier: MIT
 */
#include "morango-deserialize.h"
#include "morango-queue.h"
#include "morango-serialize.h"
#include "morango-serve.h"
#include "morango-i18n-private.h"

MorangoTransferSession *
morango_serve_load_active (MorangoStore  *store,
                           const char    *id,
                           GError       **error)
{
  g_autoptr(MorangoTransferSession) ts = NULL;

  g_return_val_if_fail (MORANGO_IS_STORE (store), NULL);
  g_return_val_if_fail (id != NULL, NULL);

  ts = morango_transfer_session_load (morango_store_get_db (store), id, error);
  if (ts != NULL && !ts->active)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND,
                   _("Transfer session %s is closed"), id);
      return NULL;
    }
  return g_steal_pointer (&ts);
}

MorangoTransferSession *
morango_serve_create_transfer (MorangoStore                  *store,
                               const MorangoTransferSession  *request,
                               GError                       **error)
{
  MorangoDb *db;
  g_autoptr(MorangoSyncSession) ss = NULL;
  g_autoptr(MorangoFilter) filter = NULL;
  g_autoptr(MorangoTransaction) tx = NULL;
  g_autofree char *existing = NULL;

  g_return_val_if_fail (MORANGO_IS_STORE (store), NULL);
  g_return_val_if_fail (request != NULL, NULL);

  db = morango_store_get_db (store);
  ss = morango_sync_session_load (db, request->sync_session_id, NULL);
  if (ss == NULL || !ss->active)
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND,
                           _("Requested syncsession does not exist or is no longer active!"));
      return NULL;
    }

  /* Initializing: the active session of this sync session and
   * direction goes on (a client resuming); else a new one, made whole
   * or not at all. */
  if (!morango_transfer_session_find_active (db, request->sync_session_id, request->push,
                                             &existing, error))
    return NULL;
  if (existing == NULL)
    {
      filter = morango_filter_parse (request->filter);
      if ((tx = morango_transaction_begin (db, NULL, error)) == NULL ||
          !morango_transfer_session_create (db, request->id, request->sync_session_id, filter,
                                            request->push, error) ||
          !morango_transfer_session_set_fsics (db, request->id,
                                               request->client_fsic ? request->client_fsic : "{}",
                                               NULL, error) ||
          (request->push && request->records_total >= 0 &&
           !morango_transfer_session_set_counts (db, request->id, request->records_total, -1, error)) ||
          !morango_transfer_session_set_stage (db, request->id, MORANGO_STAGE_INITIALIZING,
                                               MORANGO_STAGE_STATUS_COMPLETED, error) ||
          !morango_transaction_commit (tx, error))
        return NULL;
    }
  return morango_transfer_session_load (db, existing ? existing : request->id, error);
}

/* Runs the server's operation of @stage for @ts; returns its status. */
static MorangoStageStatus
run_stage (MorangoStore               *store,
           const MorangoServeOptions  *o,
           MorangoTransferSession     *ts,
           MorangoStage                stage,
           GError                    **error)
{
  MorangoDb *db = morango_store_get_db (store);
  g_autoptr(MorangoFilter) filter = morango_filter_parse (ts->filter);
  gboolean producer = !ts->push;
  gboolean ok = TRUE;

  switch (stage)
    {
    case MORANGO_STAGE_INITIALIZING:
      break;

    case MORANGO_STAGE_SERIALIZING:
      {
        g_autofree char *fsic = NULL;

        if (producer && !morango_store_serialize (store, filter, o->monitor, error))
          return MORANGO_STAGE_STATUS_ERRORED;
        fsic = morango_store_calculate_fsic_json (store, filter, producer, o->format,
                                                  o->fsic_reduction, error);
        ok = fsic != NULL &&
             morango_transfer_session_set_fsics (db, ts->id, NULL, fsic, error);
      }
      break;

    case MORANGO_STAGE_QUEUING:
      if (producer)
        {
          gint64 total = 0;

          ok = morango_store_queue (store, ts->id, filter, o->format, ts->server_fsic,
                                    ts->client_fsic, &total, o->monitor, error) &&
               morango_transfer_session_set_counts (db, ts->id, total, -1, error);
        }
      break;

    case MORANGO_STAGE_TRANSFERRING:
      /* A push stores chunks as they come (receive_chunk); a pull's count
       * comes with the PATCH. */
      if (ts->records_total < 0 || ts->records_transferred < ts->records_total)
        return MORANGO_STAGE_STATUS_PENDING;
      break;

    case MORANGO_STAGE_DEQUEUING:
      if (!producer && ts->records_transferred > 0)
        {
          MorangoDequeueResult unused = { 0 };

          ok = morango_store_dequeue_scoped (store, ts->id, filter, o->writable, o->format,
                                             ts->client_fsic, o->dequeue ? o->dequeue : &unused,
                                             o->monitor, error);
        }
      break;

    case MORANGO_STAGE_DESERIALIZING:
      /* Local edits made since the last serialization become versions
       * (and win) before incoming data is written over the rows. */
      if (!producer && ts->records_transferred > 0)
        ok = morango_store_serialize (store, filter, o->monitor, error) &&
             morango_store_deserialize (store, filter, FALSE, o->monitor, error);
      break;

    case MORANGO_STAGE_CLEANUP:
      ok = morango_transfer_session_close (db, ts->id, o->monitor, error);
      break;

    case MORANGO_N_STAGES:
    default:
      g_assert_not_reached ();
    }
  return ok ? MORANGO_STAGE_STATUS_COMPLETED : MORANGO_STAGE_STATUS_ERRORED;
}

gboolean
morango_serve_run_to (MorangoStore               *store,
                      const MorangoServeOptions  *options,
                      const char                 *id,
                      MorangoStage                target,
                      GError                    **error)
{
  MorangoDb *db;
  g_autoptr(MorangoTransferSession) ts = NULL;
  MorangoStage stage;

  g_return_val_if_fail (MORANGO_IS_STORE (store), FALSE);
  g_return_val_if_fail (options != NULL, FALSE);
  g_return_val_if_fail (target < MORANGO_N_STAGES, FALSE);

  db = morango_store_get_db (store);
  if ((ts = morango_transfer_session_load (db, id, error)) == NULL)
    return FALSE;
  if (ts->stage > target)
    return TRUE;
  stage = ts->status == MORANGO_STAGE_STATUS_COMPLETED ? ts->stage + 1 : ts->stage;
  for (; stage <= target; stage++)
    {
      g_autoptr(GError) stage_error = NULL;
      MorangoStageStatus status;

      if (stage != ts->stage &&
          !morango_transfer_session_set_stage (db, id, stage, MORANGO_STAGE_STATUS_STARTED, error))
        return FALSE;
      /* Each operation sees what the ones before it stored. */
      g_clear_pointer (&ts, morango_transfer_session_free);
      if ((ts = morango_transfer_session_load (db, id, error)) == NULL)
        return FALSE;
      status = run_stage (store, options, ts, stage, &stage_error);
      if (!morango_transfer_session_set_stage (db, id, stage, status,
                                               stage_error == NULL ? error : NULL))
        return FALSE;
      if (stage_error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&stage_error));
          return FALSE;
        }
      if (status != MORANGO_STAGE_STATUS_COMPLETED)
        break;
    }
  return TRUE;
}

MorangoTransferSession *
morango_serve_proceed (MorangoStore               *store,
                       const MorangoServeOptions  *options,
                       const char                 *id,
                       gboolean                    has_target,
                       MorangoStage                target,
                       const char                 *client_fsic,
                       gint64                      records_total,
                       gint64                      records_transferred,
                       GError                    **error)
{
  MorangoDb *db;
  g_autoptr(MorangoTransferSession) ts = NULL;

  g_return_val_if_fail (MORANGO_IS_STORE (store), NULL);
  g_return_val_if_fail (options != NULL, NULL);

  db = morango_store_get_db (store);
  if ((ts = morango_serve_load_active (store, id, error)) == NULL)
    return NULL;

  /* The fields first: the stages read them (the client's FSIC when
   * serializing, a pull's count when transferring). */
  if (client_fsic != NULL &&
      !morango_transfer_session_set_fsics (db, id, client_fsic, NULL, error))
    return NULL;
  /* How far a pull's receiver got is recorded even once the transfer is
   * cancelled, so both sides keep the same count; only the fault hook
   * can refuse it. */
  if (records_transferred >= 0 &&
      !morango_monitor_check_fault (options->monitor, "transfer-count", records_transferred, error))
    return NULL;
  if ((records_total >= 0 || records_transferred >= 0) &&
      !morango_transfer_session_set_counts (db, id, records_total, records_transferred, error))
    return NULL;

  if (has_target && !morango_serve_run_to (store, options, id, target, error))
    return NULL;
  return morango_transfer_session_load (db, id, error);
}

/* @chunk without the records @id's buffer already holds, or NULL when
 * it holds none of them. */
static MorangoBufferChunk *
drop_received (MorangoDb           *db,
               const char          *id,
               MorangoBufferChunk  *chunk,
               GError             **error)
{
  g_autoptr(MorangoBufferChunk) rest = NULL;
  g_autoptr(GArray) seen = g_array_sized_new (FALSE, TRUE, sizeof (gboolean), chunk->records->len);
  gboolean any = FALSE;
  guint h = 0;

  g_array_set_size (seen, chunk->records->len);
  for (guint i = 0; i < chunk->records->len; i++)
    {
      const MorangoBufferRecord *r = &g_array_index (chunk->records, MorangoBufferRecord, i);
      gboolean found = FALSE;
      gint64 one = 0;

      if (r->model_uuid == NULL)
        continue;   /* the checks refuse it */
      if (!morango_db_query_int64 (db, &one, &found, error,
                                   "SELECT 1 FROM morango_buffer "
                                   "WHERE transfer_session_id = ? AND model_uuid = ?",
                                   "ss", id, r->model_uuid))
        return NULL;
      g_array_index (seen, gboolean, i) = found;
      any |= found;
    }
  if (!any)
    return NULL;

  rest = morango_buffer_chunk_new ();
  for (guint i = 0; i < chunk->records->len; i++)
    {
      gboolean keep = !g_array_index (seen, gboolean, i);

      if (keep)
        morango_buffer_chunk_add_record (rest, &g_array_index (chunk->records, MorangoBufferRecord, i));
      for (; h < chunk->history->len &&
             g_array_index (chunk->history, MorangoBufferHistory, h).record == i; h++)
        if (keep)
          {
            const MorangoBufferHistory *e = &g_array_index (chunk->history, MorangoBufferHistory, h);

            morango_buffer_chunk_add_history (rest, e->instance_id, e->counter);
          }
    }
  return g_steal_pointer (&rest);
}

gboolean
morango_serve_receive_chunk (MorangoStore               *store,
                             const MorangoServeOptions  *options,
                             const char                 *id,
                             MorangoFilter              *filter,
                             MorangoBufferChunk         *chunk,
                             MorangoMonitor             *monitor,
                             gint64                     *records_transferred,
                             GError                    **error)
{
  MorangoDb *db;
  g_autoptr(MorangoTransferSession) ts = NULL;
  g_autoptr(MorangoFilter) own_filter = NULL;
  g_autoptr(MorangoTransaction) tx = NULL;
  g_autoptr(MorangoBufferChunk) rest = NULL;
  g_autoptr(GError) write_error = NULL;
  MorangoBufferChunk *fresh;
  gint64 transferred = 0;

  g_return_val_if_fail (MORANGO_IS_STORE (store), FALSE);
  g_return_val_if_fail (options != NULL, FALSE);
  g_return_val_if_fail (chunk != NULL, FALSE);

  db = morango_store_get_db (store);
  if ((ts = morango_serve_load_active (store, id, error)) == NULL)
    return FALSE;
  if (!ts->push)
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED,
                           _("Specified TransferSession does not allow pushes."));
      return FALSE;
    }
  if (ts->records_total < 0 || ts->stage > MORANGO_STAGE_TRANSFERRING)
    {
      if (ts->records_total < 0)
        g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                     /* TRANSLATORS: %s is a transfer session id; the peer sent records
                      * before saying how many it would send */
                     _("Transfer session %s takes no records before their total"), id);
      else
        g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                     /* TRANSLATORS: %s is a transfer session id */
                     _("Transfer session %s takes no records after transferring"), id);
      return FALSE;
    }
  if (ts->stage < MORANGO_STAGE_TRANSFERRING &&
      !morango_serve_run_to (store, options, id, MORANGO_STAGE_TRANSFERRING, error))
    return FALSE;
  if (filter == NULL)
    filter = own_filter = morango_filter_parse (ts->filter);

  /* The transferring stage, run once per chunk (§8.7.1): the chunk, its
   * count and the session's status in one commit. */
  if ((tx = morango_transaction_begin (db, monitor, error)) == NULL)
    return FALSE;
  g_clear_pointer (&ts, morango_transfer_session_free);
  if ((ts = morango_transfer_session_load (db, id, error)) == NULL)
    return FALSE;
  transferred = ts->records_transferred;
  if (transferred >= ts->records_total)
    {
      /* Everything arrived: a late chunk changes nothing (Morango takes
       * it and ignores it too). */
      if (records_transferred != NULL)
        *records_transferred = transferred;
      return morango_transfer_session_set_stage (db, id, MORANGO_STAGE_TRANSFERRING,
                                                 MORANGO_STAGE_STATUS_COMPLETED, error) &&
             morango_transaction_commit (tx, error);
    }

  /* A chunk sent again after a resume: what is already here was
   * counted when it came. */
  rest = drop_received (db, id, chunk, &write_error);
  fresh = rest != NULL ? rest : chunk;
  if (write_error == NULL && transferred + (gint64) fresh->records->len > ts->records_total)
    g_set_error (&write_error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                 morango_ngettext ("Transfer session %s expects %lld record, not more",
                                   "Transfer session %s expects %lld records, not more",
                                   (gulong) ts->records_total),
                 id, (long long) ts->records_total);
  if (write_error != NULL ||
      !morango_transfer_session_receive_chunk (store, id, filter, fresh, monitor, &transferred,
                                               &write_error))
    {
      g_clear_pointer (&tx, morango_transaction_free);
      morango_transfer_session_set_stage (db, id, MORANGO_STAGE_TRANSFERRING,
                                          MORANGO_STAGE_STATUS_ERRORED, NULL);
      g_propagate_error (error, g_steal_pointer (&write_error));
      return FALSE;
    }
  if (records_transferred != NULL)
    *records_transferred = transferred;
  return morango_transfer_session_set_stage (db, id, MORANGO_STAGE_TRANSFERRING,
                                             transferred >= ts->records_total
                                               ? MORANGO_STAGE_STATUS_COMPLETED
                                               : MORANGO_STAGE_STATUS_PENDING, error) &&
         morango_transaction_commit (tx, error);
}

MorangoBufferChunk *
morango_serve_fetch_chunk (MorangoStore         *store,
                           const char           *id,
                           gint64                offset,
                           guint                 limit,
                           MorangoBufferCursor  *cursor,
                           GError              **error)
{
  g_autoptr(MorangoTransferSession) ts = NULL;

  g_return_val_if_fail (MORANGO_IS_STORE (store), NULL);

  if ((ts = morango_serve_load_active (store, id, error)) == NULL)
    return NULL;
  if (ts->push)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED,
                   _("Transfer session %s is not a pull"), id);
      return NULL;
    }
  return morango_buffer_read_chunk (store, id, offset, limit, cursor, error);
}

gboolean
morango_serve_close_transfer (MorangoStore               *store,
                              const MorangoServeOptions  *options,
                              const char                 *id,
                              GError                    **error)
{
  g_autoptr(MorangoTransferSession) ts = NULL;

  g_return_val_if_fail (MORANGO_IS_STORE (store), FALSE);

  return (ts = morango_serve_load_active (store, id, error)) != NULL &&
         morango_serve_run_to (store, options, id, MORANGO_STAGE_CLEANUP, error);
}

gboolean
morango_serve_close_sync (MorangoStore  *store,
                          const char    *id,
                          GError       **error)
{
  MorangoDb *db;
  g_autoptr(MorangoSyncSession) ss = NULL;

  g_return_val_if_fail (MORANGO_IS_STORE (store), FALSE);

  db = morango_store_get_db (store);
  if ((ss = morango_sync_session_load (db, id, error)) == NULL)
    return FALSE;
  if (!ss->active)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND, _("Sync session %s is closed"), id);
      return FALSE;
    }
  return morango_sync_session_close (db, id, error);
}
