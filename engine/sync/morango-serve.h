/* morango-serve.h: the server's side of a transfer, request by request (protocol §9.4, §9.7)
 *
 * SPDX-License-Identifier: MIT
 *
 * What a server does for each request of a transfer, minus the
 * transport: the in-process peer (morango-local-peer) and the HTTP
 * server (wire/) both call these.  Nothing is kept between calls: every
 * one takes the store, the session id and the options of the sync, and
 * reads the rest from the session row.  Each runs on the thread that
 * owns @store's connection.
 */
#pragma once

#include "morango-dequeue.h"
#include "morango-fsic.h"
#include "morango-session.h"

G_BEGIN_DECLS

/* How the server side of one sync works. */
typedef struct {
  MorangoFsicFormat     format;          /* negotiated FSIC format */
  gboolean              fsic_reduction;  /* the FSIC relevance filter (§3.7) */
  MorangoFilter        *writable;        /* what this side may write; NULL: everything */
  MorangoMonitor       *monitor;         /* the stages report to it (may be NULL) */
  MorangoDequeueResult *dequeue;         /* what a dequeue did goes here (may be NULL) */
} MorangoServeOptions;

/* The active transfer session @id (MORANGO_ERROR_NOT_FOUND when there is
 * none or it is closed). */
MorangoTransferSession *morango_serve_load_active       (MorangoStore                 *store,
                                                         const char                   *id,
                                                         GError                      **error);
/* POST transfersessions/, the initializing stage: the active session of
 * @request's sync session and direction goes on (a client resuming),
 * else @request's id is created with its filter, push, client_fsic and
 * (push) records_total.  The sync session must be active
 * (MORANGO_ERROR_NOT_FOUND).  Returns the session. */
MorangoTransferSession *morango_serve_create_transfer   (MorangoStore                 *store,
                                                         const MorangoTransferSession *request,
                                                         GError                      **error);
/* The stage engine's "proceed to" (§9.3): runs the server's stages of
 * @id from where it stands up to and including @target.  A stage that
 * errored or was left started runs again, so a client can resume.
 * Returns FALSE only with @error set; a stage left pending is TRUE. */
gboolean                morango_serve_run_to            (MorangoStore                 *store,
                                                         const MorangoServeOptions    *options,
                                                         const char                   *id,
                                                         MorangoStage                  target,
                                                         GError                      **error);
/* PATCH transfersessions/<id>/: stores the given fields (NULL or
 * negative: left as they are), then runs the stages up to @target
 * (@has_target FALSE: none), and returns the session. */
MorangoTransferSession *morango_serve_proceed           (MorangoStore                 *store,
                                                         const MorangoServeOptions    *options,
                                                         const char                   *id,
                                                         gboolean                      has_target,
                                                         MorangoStage                  target,
                                                         const char                   *client_fsic,
                                                         gint64                        records_total,
                                                         gint64                        records_transferred,
                                                         GError                      **error);
/* POST buffers/: runs the transferring stage of push session @id once
 * with @chunk: the receiver's checks (against @filter, the session's
 * own when NULL), then the chunk, its count and the stage's status in
 * one commit; nothing of the chunk stays when anything fails, and the
 * session is then errored.  Records of @chunk the session's buffer
 * already holds (a client resending a chunk after a resume) are taken
 * as received, not counted again.  Once every record arrived, a chunk
 * is accepted and ignored, as Morango does.  The new count goes to
 * *@records_transferred (may be NULL). */
gboolean                morango_serve_receive_chunk     (MorangoStore                 *store,
                                                         const MorangoServeOptions    *options,
                                                         const char                   *id,
                                                         MorangoFilter                *filter,
                                                         MorangoBufferChunk           *chunk,
                                                         MorangoMonitor               *monitor,
                                                         gint64                       *records_transferred,
                                                         GError                      **error);
/* GET buffers/: up to @limit records of pull session @id's outgoing
 * buffer from the @offset-th on (@cursor may be NULL).  A push session
 * is MORANGO_ERROR_PERMISSION_DENIED. */
MorangoBufferChunk     *morango_serve_fetch_chunk       (MorangoStore                 *store,
                                                         const char                   *id,
                                                         gint64                        offset,
                                                         guint                         limit,
                                                         MorangoBufferCursor          *cursor,
                                                         GError                      **error);
/* DELETE transfersessions/<id>/: runs the stages up to cleanup. */
gboolean                morango_serve_close_transfer    (MorangoStore                 *store,
                                                         const MorangoServeOptions    *options,
                                                         const char                   *id,
                                                         GError                      **error);
/* DELETE syncsessions/<id>/ (MORANGO_ERROR_NOT_FOUND when closed). */
gboolean                morango_serve_close_sync        (MorangoStore                 *store,
                                                         const char                   *id,
                                                         GError                      **error);

G_END_DECLS
