/* morango-local-peer.c: a store in this process as the other side of a transfer
 *
 * The server's half of the protocol (§9.4, server column; §9.7), on a
 * store of this process: what the HTTP server will do for each request,
 * minus the HTTP.  Receipt checks are the receiver's own, as on the wire.
 *
 * SPDX-License-Identifier: MIT
 */
#include "morango-local-peer.h"
#include "morango-deserialize.h"
#include "morango-serialize.h"

struct _MorangoLocalPeer
{
  GObject               parent_instance;
  MorangoStore         *store;
  MorangoFsicFormat     format;
  gboolean              fsic_reduction;
  MorangoFilter        *writable;
  MorangoDequeueResult  dequeue;
  MorangoMonitor       *monitor;

  /* The transfer session last created, looked up or paged, and its
   * filter: prepare_chunk() runs on the transfer's chunk thread and must
   * not touch the connection, so it finds the filter here.  Changed only
   * by operations that a push does not call while its chunks move. */
  char                 *session_id;
  MorangoFilter        *session_filter;
  /* Where the last GET buffers/ page of that session ended. */
  MorangoBufferCursor   cursor;
};

static void morango_local_peer_iface_init (MorangoPeerInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MorangoLocalPeer, morango_local_peer, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MORANGO_TYPE_PEER, morango_local_peer_iface_init))

static void
forget_session (MorangoLocalPeer *self)
{
  g_clear_pointer (&self->session_id, g_free);
  g_clear_pointer (&self->session_filter, morango_filter_unref);
  self->cursor = (MorangoBufferCursor) { 0 };
}

static void
remember_session (MorangoLocalPeer             *self,
                  const MorangoTransferSession *ts)
{
  if (g_strcmp0 (self->session_id, ts->id) == 0)
    return;
  forget_session (self);
  self->session_id = g_strdup (ts->id);
  self->session_filter = morango_filter_parse (ts->filter);
}

static void
morango_local_peer_finalize (GObject *object)
{
  MorangoLocalPeer *self = (MorangoLocalPeer *)object;

  forget_session (self);
  morango_db_acquire (morango_store_get_db (self->store));
  g_clear_object (&self->store);
  g_clear_object (&self->monitor);
  g_clear_pointer (&self->writable, morango_filter_unref);

  G_OBJECT_CLASS (morango_local_peer_parent_class)->finalize (object);
}

static void
morango_local_peer_class_init (MorangoLocalPeerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = morango_local_peer_finalize;
}

static void
morango_local_peer_init (MorangoLocalPeer *self)
{
}

MorangoLocalPeer *
morango_local_peer_new (MorangoStore      *store,
                        MorangoFsicFormat  format,
                        gboolean           fsic_reduction,
                        MorangoFilter     *writable)
{
  MorangoLocalPeer *self;

  g_return_val_if_fail (MORANGO_IS_STORE (store), NULL);

  self = g_object_new (MORANGO_TYPE_LOCAL_PEER, NULL);
  self->store = g_object_ref (store);
  self->format = format;
  self->fsic_reduction = fsic_reduction;
  self->writable = writable ? morango_filter_ref (writable) : NULL;
  morango_db_release (morango_store_get_db (store));
  return self;
}

MorangoStore *
morango_local_peer_get_store (MorangoLocalPeer *self)
{
  g_return_val_if_fail (MORANGO_IS_LOCAL_PEER (self), NULL);
  return self->store;
}

const MorangoDequeueResult *
morango_local_peer_get_dequeue_result (MorangoLocalPeer *self)
{
  g_return_val_if_fail (MORANGO_IS_LOCAL_PEER (self), NULL);
  return &self->dequeue;
}

void
morango_local_peer_set_monitor (MorangoLocalPeer *self,
                                MorangoMonitor   *monitor)
{
  g_return_if_fail (MORANGO_IS_LOCAL_PEER (self));
  g_set_object (&self->monitor, monitor);
}

static MorangoDb *
db_of (MorangoLocalPeer *self)
{
  return morango_store_get_db (self->store);
}

/* Like a server answering requests, the peer owns its store's
 * connection only while it answers one: a transfer asks for chunks from
 * its second thread and for stages from its calling thread.  Each
 * request leases the connection, declared first so that it is given
 * back last; between requests it belongs to nobody (see
 * morango_local_peer_new()). */
typedef MorangoDb PeerLease;

static PeerLease *
lease_db (MorangoLocalPeer *self)
{
  return morango_db_acquire (db_of (self)) ? db_of (self) : NULL;
}

static void
lease_end (PeerLease *db)
{
  morango_db_release (db);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PeerLease, lease_end)

/* An active session, as every request but the creation needs (404). */
static MorangoTransferSession *
load_active (MorangoLocalPeer  *self,
             const char        *id,
             GError           **error)
{
  g_autoptr(MorangoTransferSession) ts = morango_transfer_session_load (db_of (self), id, error);

  if (ts != NULL && !ts->active)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND,
                   "Transfer session %s is closed", id);
      return NULL;
    }
  return g_steal_pointer (&ts);
}

/* The session's filter, without parsing it again for the session the
 * transfer works on. */
static MorangoFilter *
filter_of (MorangoLocalPeer             *self,
           const MorangoTransferSession *ts)
{
  if (g_strcmp0 (self->session_id, ts->id) == 0)
    return morango_filter_ref (self->session_filter);
  return morango_filter_parse (ts->filter);
}

/* ---- the server's stages (§9.4, server column) ---- */

/* Runs the server's operation of @stage for @ts; returns its status. */
static MorangoStageStatus
run_stage (MorangoLocalPeer        *self,
           MorangoTransferSession  *ts,
           MorangoStage             stage,
           GError                 **error)
{
  MorangoDb *db = db_of (self);
  g_autoptr(MorangoFilter) filter = filter_of (self, ts);
  gboolean producer = !ts->push;
  gboolean ok = TRUE;

  switch (stage)
    {
    case MORANGO_STAGE_INITIALIZING:
      break;

    case MORANGO_STAGE_SERIALIZING:
      {
        g_autofree char *fsic = NULL;

        if (producer && !morango_store_serialize (self->store, filter, self->monitor, error))
          return MORANGO_STAGE_STATUS_ERRORED;
        fsic = morango_store_calculate_fsic_json (self->store, filter, producer, self->format,
                                                  self->fsic_reduction, error);
        ok = fsic != NULL &&
             morango_transfer_session_set_fsics (db, ts->id, NULL, fsic, error);
      }
      break;

    case MORANGO_STAGE_QUEUING:
      if (producer)
        {
          gint64 total = 0;

          ok = morango_store_queue (self->store, ts->id, filter, self->format, ts->server_fsic,
                                    ts->client_fsic, &total, self->monitor, error) &&
               morango_transfer_session_set_counts (db, ts->id, total, -1, error);
        }
      break;

    case MORANGO_STAGE_TRANSFERRING:
      /* A push stores chunks as they come (push_chunk); a pull's count
       * comes with the PATCH. */
      if (ts->records_total < 0 || ts->records_transferred < ts->records_total)
        return MORANGO_STAGE_STATUS_PENDING;
      break;

    case MORANGO_STAGE_DEQUEUING:
      if (!producer && ts->records_transferred > 0)
        ok = morango_store_dequeue_scoped (self->store, ts->id, filter, self->writable, self->format,
                                           ts->client_fsic, &self->dequeue, self->monitor,
                                           error);
      break;

    case MORANGO_STAGE_DESERIALIZING:
      /* Local edits made since the last serialization become versions
       * (and win) before incoming data is written over the rows. */
      if (!producer && ts->records_transferred > 0)
        ok = morango_store_serialize (self->store, filter, self->monitor, error) &&
             morango_store_deserialize (self->store, filter, FALSE, self->monitor, error);
      break;

    case MORANGO_STAGE_CLEANUP:
      ok = morango_transfer_session_close (db, ts->id, self->monitor, error);
      break;

    case MORANGO_N_STAGES:
    default:
      g_assert_not_reached ();
    }
  return ok ? MORANGO_STAGE_STATUS_COMPLETED : MORANGO_STAGE_STATUS_ERRORED;
}

/* The stage engine's "proceed to" (§9.3): the stages from where @id
 * stands up to and including @target.  A stage that errored or was left
 * started (a crash) runs again: this server lets a client resume. */
static gboolean
run_to (MorangoLocalPeer  *self,
        const char        *id,
        MorangoStage       target,
        GError           **error)
{
  MorangoDb *db = db_of (self);
  g_autoptr(MorangoTransferSession) ts = morango_transfer_session_load (db, id, error);
  MorangoStage stage;

  if (ts == NULL)
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
      status = run_stage (self, ts, stage, &stage_error);
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

/* ---- the requests ---- */

static MorangoSyncSession *
morango_local_peer_open_sync_session (MorangoPeer               *peer,
                                      const MorangoSyncSession  *request,
                                      GCancellable              *cancellable,
                                      GError                   **error)
{
  MorangoLocalPeer *self = MORANGO_LOCAL_PEER (peer);
  g_autoptr(PeerLease) lease = lease_db (self);
  MorangoDb *db = db_of (self);
  const char *profile = morango_store_get_profile_name (self->store);
  g_autoptr(MorangoSyncSession) ss = NULL;
  g_autoptr(GError) missing = NULL;

  if (lease == NULL)
    return NULL;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;
  if (g_strcmp0 (request->profile, profile) != 0)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   "Cannot sync profile “%s” with profile “%s”", request->profile, profile);
      return NULL;
    }
  ss = morango_sync_session_load (db, request->id, &missing);
  if (ss != NULL && ss->active)
    return g_steal_pointer (&ss);
  if (ss != NULL || !g_error_matches (missing, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND))
    {
      if (missing != NULL)
        g_propagate_error (error, g_steal_pointer (&missing));
      else
        g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                     "Sync session %s was closed", request->id);
      return NULL;
    }
  if (!morango_sync_session_create (db, request->id, TRUE, profile, "local", morango_db_get_path (db),
                                    request->client_instance_id,
                                    morango_store_get_instance_id (self->store), error))
    return NULL;
  return morango_sync_session_load (db, request->id, error);
}

static MorangoTransferSession *
morango_local_peer_create_transfer_session (MorangoPeer                   *peer,
                                            const MorangoTransferSession  *request,
                                            GCancellable                  *cancellable,
                                            GError                       **error)
{
  MorangoLocalPeer *self = MORANGO_LOCAL_PEER (peer);
  g_autoptr(PeerLease) lease = lease_db (self);
  MorangoDb *db = db_of (self);
  g_autoptr(MorangoSyncSession) ss = NULL;
  g_autoptr(MorangoTransferSession) ts = NULL;
  g_autoptr(MorangoFilter) filter = NULL;
  g_autofree char *existing = NULL;

  if (lease == NULL)
    return NULL;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;
  ss = morango_sync_session_load (db, request->sync_session_id, NULL);
  if (ss == NULL || !ss->active)
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND,
                           "Requested syncsession does not exist or is no longer active!");
      return NULL;
    }

  /* Initializing: the active session of this sync session and
   * direction goes on (a client resuming); else a new one. */
  if (!morango_transfer_session_find_active (db, request->sync_session_id, request->push,
                                             &existing, error))
    return NULL;
  if (existing == NULL)
    {
      filter = morango_filter_parse (request->filter);
      if (!morango_transfer_session_create (db, request->id, request->sync_session_id, filter,
                                            request->push, error) ||
          !morango_transfer_session_set_fsics (db, request->id,
                                               request->client_fsic ? request->client_fsic : "{}",
                                               NULL, error) ||
          (request->push && request->records_total >= 0 &&
           !morango_transfer_session_set_counts (db, request->id, request->records_total, -1, error)) ||
          !morango_transfer_session_set_stage (db, request->id, MORANGO_STAGE_INITIALIZING,
                                               MORANGO_STAGE_STATUS_COMPLETED, error))
        return NULL;
    }
  if ((ts = morango_transfer_session_load (db, existing ? existing : request->id, error)) == NULL)
    return NULL;
  remember_session (self, ts);
  return g_steal_pointer (&ts);
}

static MorangoTransferSession *
morango_local_peer_get_transfer_session (MorangoPeer   *peer,
                                         const char    *id,
                                         GCancellable  *cancellable,
                                         GError       **error)
{
  MorangoLocalPeer *self = MORANGO_LOCAL_PEER (peer);
  g_autoptr(PeerLease) lease = lease_db (self);
  g_autoptr(MorangoTransferSession) ts = NULL;

  if (lease == NULL)
    return NULL;

  if (g_cancellable_set_error_if_cancelled (cancellable, error) ||
      (ts = load_active (self, id, error)) == NULL)
    return NULL;
  remember_session (self, ts);
  return g_steal_pointer (&ts);
}

static MorangoTransferSession *
morango_local_peer_proceed (MorangoPeer              *peer,
                            const char               *id,
                            MorangoStage              stage,
                            const MorangoPeerUpdate  *update,
                            GCancellable             *cancellable,
                            GError                  **error)
{
  MorangoLocalPeer *self = MORANGO_LOCAL_PEER (peer);
  g_autoptr(PeerLease) lease = lease_db (self);
  MorangoDb *db = db_of (self);
  g_autoptr(MorangoTransferSession) ts = NULL;

  if (lease == NULL)
    return NULL;

  if (g_cancellable_set_error_if_cancelled (cancellable, error) ||
      (ts = load_active (self, id, error)) == NULL)
    return NULL;

  /* The fields first: the stages read them (the client's FSIC when
   * serializing, a pull's count when transferring). */
  if (update->client_fsic != NULL &&
      !morango_transfer_session_set_fsics (db, id, update->client_fsic, NULL, error))
    return NULL;
  /* How far a pull's receiver got is recorded even once the transfer is
   * cancelled, so both sides keep the same count; only the fault hook
   * can refuse it. */
  if (update->records_transferred >= 0 &&
      !morango_monitor_check_fault (self->monitor, "transfer-count", update->records_transferred,
                                    error))
    return NULL;
  if ((update->records_total >= 0 || update->records_transferred >= 0) &&
      !morango_transfer_session_set_counts (db, id, update->records_total,
                                            update->records_transferred, error))
    return NULL;

  if (!run_to (self, id, stage, error))
    return NULL;
  g_clear_pointer (&ts, morango_transfer_session_free);
  if ((ts = morango_transfer_session_load (db, id, error)) == NULL)
    return NULL;
  remember_session (self, ts);
  return g_steal_pointer (&ts);
}

/* On the transfer's chunk thread: the receiver's checks, which read
 * nothing from the database, done while the last chunk is stored. */
static gboolean
morango_local_peer_prepare_chunk (MorangoPeer         *peer,
                                  const char          *id,
                                  MorangoBufferChunk  *chunk,
                                  GError             **error)
{
  MorangoLocalPeer *self = MORANGO_LOCAL_PEER (peer);

  if (g_strcmp0 (self->session_id, id) != 0)
    return TRUE;   /* push_chunk() checks it */
  return morango_buffer_check_chunk (self->store, self->session_filter, chunk, error);
}

static gboolean
morango_local_peer_push_chunk (MorangoPeer         *peer,
                               const char          *id,
                               MorangoBufferChunk  *chunk,
                               MorangoMonitor      *monitor,
                               GError             **error)
{
  MorangoLocalPeer *self = MORANGO_LOCAL_PEER (peer);
  g_autoptr(PeerLease) lease = lease_db (self);
  MorangoDb *db = db_of (self);
  g_autoptr(MorangoTransferSession) ts = NULL;
  g_autoptr(MorangoFilter) filter = NULL;
  g_autoptr(MorangoTransaction) tx = NULL;
  g_autoptr(GError) write_error = NULL;
  gint64 transferred = 0;

  if (lease == NULL || (ts = load_active (self, id, error)) == NULL)
    return FALSE;
  if (!ts->push)
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED,
                           "Specified TransferSession does not allow pushes.");
      return FALSE;
    }
  if (ts->records_total < 0 || ts->stage > MORANGO_STAGE_TRANSFERRING)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   "Transfer session %s takes no records %s", id,
                   ts->records_total < 0 ? "before their total" : "after transferring");
      return FALSE;
    }
  if (ts->stage < MORANGO_STAGE_TRANSFERRING && !run_to (self, id, MORANGO_STAGE_TRANSFERRING, error))
    return FALSE;

  /* The transferring stage, run once per chunk (§8.7.1): the chunk, its
   * count and the session's status in one commit. */
  filter = filter_of (self, ts);
  if ((tx = morango_transaction_begin (db, monitor, error)) == NULL)
    return FALSE;
  if (!morango_transfer_session_receive_chunk (self->store, id, filter, chunk, monitor, &transferred,
                                               &write_error))
    {
      g_clear_pointer (&tx, morango_transaction_free);
      morango_transfer_session_set_stage (db, id, MORANGO_STAGE_TRANSFERRING,
                                          MORANGO_STAGE_STATUS_ERRORED, NULL);
      g_propagate_error (error, g_steal_pointer (&write_error));
      return FALSE;
    }
  return morango_transfer_session_set_stage (db, id, MORANGO_STAGE_TRANSFERRING,
                                             transferred >= ts->records_total
                                               ? MORANGO_STAGE_STATUS_COMPLETED
                                               : MORANGO_STAGE_STATUS_PENDING, error) &&
         morango_transaction_commit (tx, error);
}

static MorangoBufferChunk *
morango_local_peer_fetch_chunk (MorangoPeer   *peer,
                                const char    *id,
                                gint64         offset,
                                guint          limit,
                                GCancellable  *cancellable,
                                GError       **error)
{
  MorangoLocalPeer *self = MORANGO_LOCAL_PEER (peer);
  g_autoptr(PeerLease) lease = lease_db (self);
  g_autoptr(MorangoTransferSession) ts = NULL;

  if (lease == NULL)
    return NULL;

  if (g_cancellable_set_error_if_cancelled (cancellable, error) ||
      (ts = load_active (self, id, error)) == NULL)
    return NULL;
  if (ts->push)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED,
                   "Transfer session %s is not a pull", id);
      return NULL;
    }
  remember_session (self, ts);
  return morango_buffer_read_chunk (self->store, id, offset, limit, &self->cursor, error);
}

static gboolean
morango_local_peer_close (MorangoPeer   *peer,
                          const char    *transfer_session_id,
                          const char    *sync_session_id,
                          GCancellable  *cancellable,
                          GError       **error)
{
  MorangoLocalPeer *self = MORANGO_LOCAL_PEER (peer);
  g_autoptr(PeerLease) lease = lease_db (self);
  MorangoDb *db = db_of (self);

  if (lease == NULL)
    return FALSE;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (transfer_session_id != NULL)
    {
      g_autoptr(MorangoTransferSession) ts = load_active (self, transfer_session_id, error);

      if (ts == NULL || !run_to (self, transfer_session_id, MORANGO_STAGE_CLEANUP, error))
        return FALSE;
      if (g_strcmp0 (self->session_id, transfer_session_id) == 0)
        forget_session (self);
    }
  if (sync_session_id != NULL)
    {
      g_autoptr(MorangoSyncSession) ss = morango_sync_session_load (db, sync_session_id, error);

      if (ss == NULL)
        return FALSE;
      if (!ss->active)
        {
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND,
                       "Sync session %s is closed", sync_session_id);
          return FALSE;
        }
      if (!morango_sync_session_close (db, sync_session_id, error))
        return FALSE;
    }
  return TRUE;
}

static void
morango_local_peer_iface_init (MorangoPeerInterface *iface)
{
  iface->open_sync_session = morango_local_peer_open_sync_session;
  iface->create_transfer_session = morango_local_peer_create_transfer_session;
  iface->get_transfer_session = morango_local_peer_get_transfer_session;
  iface->proceed = morango_local_peer_proceed;
  iface->prepare_chunk = morango_local_peer_prepare_chunk;
  iface->push_chunk = morango_local_peer_push_chunk;
  iface->fetch_chunk = morango_local_peer_fetch_chunk;
  iface->close = morango_local_peer_close;
}
