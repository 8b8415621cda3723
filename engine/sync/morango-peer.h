/* morango-peer.h: the other side of a transfer
 *
 * SPDX-License-Identifier: MIT
 *
 * A transfer runs on the client's own store and drives the server
 * through this interface.  Each operation is one request of the HTTP
 * API (protocol §8.5–§8.7; the sequences of §9.6):
 *
 *   open_sync_session        POST   syncsessions/
 *   create_transfer_session  POST   transfersessions/
 *   get_transfer_session     GET    transfersessions/<id>/
 *   proceed                  PATCH  transfersessions/<id>/
 *   push_chunk               POST   buffers/
 *   fetch_chunk              GET    buffers/?transfer_session_id=<id>&limit=<n>&offset=<k>
 *   close                    DELETE transfersessions/<id>/, then DELETE syncsessions/<id>/
 *
 * and prepare_chunk, which sends nothing: it readies a chunk for
 * push_chunk on the transfer's second thread (an HTTP peer encodes the
 * body there, the in-process peer runs the receiver's checks).
 *
 * The server's side of each request is the peer's business: it runs
 * its own stages (the server column of §9.4) when asked to proceed, and
 * keeps its own transfer session row.  What comes back is the peer's
 * view of the session, as the JSON object of §8.6 carries it.
 *
 * Every operation is synchronous and may block on the disk or the
 * network: call them from a worker thread, never the main thread.  A
 * transfer calls its peer from one thread at a time, except that
 * prepare_chunk() may run on the transfer's chunk thread while
 * push_chunk() of the previous chunk runs on the calling thread.
 * Failures come back as GErrors; a peer whose own stage failed marks its
 * session errored there.
 */
#pragma once

#include "morango-buffer.h"
#include "morango-session.h"

G_BEGIN_DECLS

#define MORANGO_TYPE_PEER (morango_peer_get_type ())
G_DECLARE_INTERFACE (MorangoPeer, morango_peer, MORANGO, PEER, GObject)

/* The fields of a PATCH transfersessions/<id>/ besides the stage.  NULL
 * or a negative count leaves a field out. */
typedef struct {
  const char *client_fsic;
  gint64      records_total;
  gint64      records_transferred;
} MorangoPeerUpdate;

#define MORANGO_PEER_UPDATE_INIT { NULL, -1, -1 }

struct _MorangoPeerInterface
{
  GTypeInterface parent_iface;

  MorangoSyncSession     *(*open_sync_session)       (MorangoPeer                  *self,
                                                      const MorangoSyncSession     *request,
                                                      GCancellable                 *cancellable,
                                                      GError                      **error);
  MorangoTransferSession *(*create_transfer_session) (MorangoPeer                  *self,
                                                      const MorangoTransferSession *request,
                                                      GCancellable                 *cancellable,
                                                      GError                      **error);
  MorangoTransferSession *(*get_transfer_session)    (MorangoPeer                  *self,
                                                      const char                   *id,
                                                      GCancellable                 *cancellable,
                                                      GError                      **error);
  MorangoTransferSession *(*proceed)                 (MorangoPeer                  *self,
                                                      const char                   *id,
                                                      MorangoStage                  stage,
                                                      const MorangoPeerUpdate      *update,
                                                      GCancellable                 *cancellable,
                                                      GError                      **error);
  gboolean                (*prepare_chunk)           (MorangoPeer                  *self,
                                                      const char                   *id,
                                                      MorangoBufferChunk           *chunk,
                                                      GError                      **error);
  gboolean                (*push_chunk)              (MorangoPeer                  *self,
                                                      const char                   *id,
                                                      MorangoBufferChunk           *chunk,
                                                      MorangoMonitor               *monitor,
                                                      GError                      **error);
  MorangoBufferChunk     *(*fetch_chunk)             (MorangoPeer                  *self,
                                                      const char                   *id,
                                                      gint64                        offset,
                                                      guint                         limit,
                                                      GCancellable                 *cancellable,
                                                      GError                      **error);
  gboolean                (*close)                   (MorangoPeer                  *self,
                                                      const char                   *transfer_session_id,
                                                      const char                   *sync_session_id,
                                                      GCancellable                 *cancellable,
                                                      GError                      **error);
};

/* POST syncsessions/: opens sync session @request->id on the peer for a
 * client of profile @request->profile whose instance is
 * @request->client_instance_id.  Returns the peer's row, which names the
 * peer's instance and how it was reached, for the client's own row.  A
 * session with that id still open there is returned as it is. */
MorangoSyncSession     *morango_peer_open_sync_session       (MorangoPeer                  *self,
                                                              const MorangoSyncSession     *request,
                                                              GCancellable                 *cancellable,
                                                              GError                      **error);
/* POST transfersessions/ with @request's id, sync_session_id, filter,
 * push and client_fsic (NULL: "{}"), and records_total when not
 * negative.  The peer runs its initializing stage: it continues the
 * active session of that sync session and direction if there is one
 * (then with that one's id), else creates @request->id. */
MorangoTransferSession *morango_peer_create_transfer_session (MorangoPeer                  *self,
                                                              const MorangoTransferSession *request,
                                                              GCancellable                 *cancellable,
                                                              GError                      **error);
/* GET transfersessions/<id>/: the peer's stage, status, counts and
 * FSICs.  MORANGO_ERROR_NOT_FOUND when it has no active session @id. */
MorangoTransferSession *morango_peer_get_transfer_session    (MorangoPeer                  *self,
                                                              const char                   *id,
                                                              GCancellable                 *cancellable,
                                                              GError                      **error);
/* PATCH transfersessions/<id>/: stores @update's fields (may be NULL),
 * then runs the peer's stages up to and including @stage (none it has
 * completed already), and returns its session.  On a pull, the
 * transferring stage completes once @update->records_transferred
 * reaches records_total; until then its status is pending. */
MorangoTransferSession *morango_peer_proceed                 (MorangoPeer                  *self,
                                                              const char                   *id,
                                                              MorangoStage                  stage,
                                                              const MorangoPeerUpdate      *update,
                                                              GCancellable                 *cancellable,
                                                              GError                      **error);
/* Readies @chunk for morango_peer_push_chunk() without a request; may
 * run on another thread than the other operations (see above).  The
 * default does nothing. */
gboolean                morango_peer_prepare_chunk           (MorangoPeer                  *self,
                                                              const char                   *id,
                                                              MorangoBufferChunk           *chunk,
                                                              GError                      **error);
/* POST buffers/: the peer checks @chunk as the receiver of push session
 * @id and stores it whole or not at all.  Its records are counted on
 * @monitor (may be NULL) as the peer takes them, which also cancels the
 * request. */
gboolean                morango_peer_push_chunk              (MorangoPeer                  *self,
                                                              const char                   *id,
                                                              MorangoBufferChunk           *chunk,
                                                              MorangoMonitor               *monitor,
                                                              GError                      **error);
/* GET buffers/: up to @limit records of pull session @id's outgoing
 * buffer, from the @offset-th on, in buffer order.  Unchecked: the
 * receiver checks them before storing them. */
MorangoBufferChunk     *morango_peer_fetch_chunk             (MorangoPeer                  *self,
                                                              const char                   *id,
                                                              gint64                        offset,
                                                              guint                         limit,
                                                              GCancellable                 *cancellable,
                                                              GError                      **error);
/* DELETE transfersessions/<id>/ (the peer runs its cleanup stage), then
 * DELETE syncsessions/<id>/.  Either id may be NULL to leave that one
 * open (a sync session holds a pull and a push). */
gboolean                morango_peer_close                   (MorangoPeer                  *self,
                                                              const char                   *transfer_session_id,
                                                              const char                   *sync_session_id,
                                                              GCancellable                 *cancellable,
                                                              GError                      **error);

G_END_DECLS
