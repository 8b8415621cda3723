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
#include "morango-serve.h"
#include "morango-i18n-private.h"

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

/* The options of the server role (morango-serve.h) this peer plays. */
static MorangoServeOptions
options_of (MorangoLocalPeer *self)
{
  return (MorangoServeOptions) {
    .format = self->format,
    .fsic_reduction = self->fsic_reduction,
    .writable = self->writable,
    .monitor = self->monitor,
    .dequeue = &self->dequeue,
  };
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
                   _("Cannot sync profile “%s” with profile “%s”"), request->profile, profile);
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
                     _("Sync session %s was closed"), request->id);
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
  g_autoptr(MorangoTransferSession) ts = NULL;

  if (lease == NULL)
    return NULL;

  if (g_cancellable_set_error_if_cancelled (cancellable, error) ||
      (ts = morango_serve_create_transfer (self->store, request, error)) == NULL)
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
      (ts = morango_serve_load_active (self->store, id, error)) == NULL)
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
  MorangoServeOptions options = options_of (self);
  g_autoptr(MorangoTransferSession) ts = NULL;

  if (lease == NULL)
    return NULL;

  if (g_cancellable_set_error_if_cancelled (cancellable, error) ||
      (ts = morango_serve_proceed (self->store, &options, id, TRUE, stage, update->client_fsic,
                                   update->records_total, update->records_transferred,
                                   error)) == NULL)
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
  MorangoServeOptions options = options_of (self);
  g_autoptr(MorangoTransferSession) ts = NULL;
  g_autoptr(MorangoFilter) filter = NULL;

  if (lease == NULL || (ts = morango_serve_load_active (self->store, id, error)) == NULL)
    return FALSE;
  /* The filter prepare_chunk() checked the chunk against, so that the
   * checks are not run twice. */
  filter = filter_of (self, ts);
  return morango_serve_receive_chunk (self->store, &options, id, filter, chunk, monitor, NULL, error);
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
      (ts = morango_serve_load_active (self->store, id, error)) == NULL)
    return NULL;
  remember_session (self, ts);
  return morango_serve_fetch_chunk (self->store, id, offset, limit, &self->cursor, error);
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
  MorangoServeOptions options = options_of (self);

  if (lease == NULL)
    return FALSE;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (transfer_session_id != NULL)
    {
      if (!morango_serve_close_transfer (self->store, &options, transfer_session_id, error))
        return FALSE;
      if (g_strcmp0 (self->session_id, transfer_session_id) == 0)
        forget_session (self);
    }
  return sync_session_id == NULL || morango_serve_close_sync (self->store, sync_session_id, error);
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
