/* morango-session.h: sync and transfer sessions as a persisted state machine (protocol §1.4, §1.5, §9)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "morango-buffer.h"
#include "morango-db.h"
#include "morango-filter.h"

G_BEGIN_DECLS

typedef enum {
  MORANGO_STAGE_INITIALIZING,
  MORANGO_STAGE_SERIALIZING,
  MORANGO_STAGE_QUEUING,
  MORANGO_STAGE_TRANSFERRING,
  MORANGO_STAGE_DEQUEUING,
  MORANGO_STAGE_DESERIALIZING,
  MORANGO_STAGE_CLEANUP,
  MORANGO_N_STAGES
} MorangoStage;

typedef enum {
  MORANGO_STAGE_STATUS_PENDING,
  MORANGO_STAGE_STATUS_STARTED,
  MORANGO_STAGE_STATUS_COMPLETED,
  MORANGO_STAGE_STATUS_ERRORED,
} MorangoStageStatus;

const char *morango_stage_to_string         (MorangoStage        stage);
gboolean    morango_stage_from_string       (const char         *text,
                                             MorangoStage       *stage);
const char *morango_stage_status_to_string  (MorangoStageStatus  status);
gboolean    morango_stage_status_from_string (const char        *text,
                                              MorangoStageStatus *status);

/* A sync session as a side keeps it (protocol §1.4; the object of
 * GET syncsessions/<id>/). */
typedef struct {
  char     *id;
  gboolean  is_server;
  gboolean  active;
  char     *profile;
  char     *connection_kind;     /* "local", "network" */
  char     *connection_path;     /* the server's database file, or its URL */
  char     *client_instance_id;
  char     *server_instance_id;
} MorangoSyncSession;

void     morango_sync_session_free           (MorangoSyncSession *ss);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MorangoSyncSession, morango_sync_session_free)

typedef struct {
  char               *id;
  char               *sync_session_id;
  char               *filter;
  gboolean            push;
  gboolean            active;
  gint64              records_total;       /* -1: not queued yet */
  gint64              records_transferred;
  char               *client_fsic;
  char               *server_fsic;
  MorangoStage        stage;
  MorangoStageStatus  status;
} MorangoTransferSession;

void     morango_transfer_session_free       (MorangoTransferSession *ts);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MorangoTransferSession, morango_transfer_session_free)

gboolean morango_sync_session_create         (MorangoDb   *db,
                                              const char  *id,
                                              gboolean     is_server,
                                              const char  *profile,
                                              const char  *connection_kind,
                                              const char  *connection_path,
                                              const char  *client_instance_id,
                                              const char  *server_instance_id,
                                              GError     **error);
/* MORANGO_ERROR_NOT_FOUND when there is no such session. */
MorangoSyncSession *morango_sync_session_load (MorangoDb  *db,
                                               const char *id,
                                               GError    **error);
gboolean morango_sync_session_close          (MorangoDb   *db,
                                              const char  *id,
                                              GError     **error);

/* A new transfer session at initializing/started.  An empty filter is
 * refused (quirk 15: it would mean everything). */
gboolean morango_transfer_session_create     (MorangoDb     *db,
                                              const char    *id,
                                              const char    *sync_session_id,
                                              MorangoFilter *filter,
                                              gboolean       push,
                                              GError       **error);
MorangoTransferSession *morango_transfer_session_load (MorangoDb  *db,
                                                       const char *id,
                                                       GError    **error);
/* The id of the active transfer session of @sync_session_id in the
 * direction @push, in *@id; NULL there when it has none. */
gboolean morango_transfer_session_find_active (MorangoDb   *db,
                                               const char  *sync_session_id,
                                               gboolean     push,
                                               char       **id,
                                               GError     **error);
/* The id of this side's active transfer session with the server at
 * @connection_path, in the direction @push, for the filter whose text
 * is @filter (morango_filter_to_string()), in *@id; NULL there when
 * there is none.  What a client resumes after an interruption (§9.8). */
gboolean morango_transfer_session_find_resumable (MorangoDb   *db,
                                                  const char  *connection_path,
                                                  gboolean     push,
                                                  const char  *filter,
                                                  char       **id,
                                                  GError     **error);
/* Moves the session to (@stage, @status).  A stage never moves back;
 * each change bumps the activity time here and on the sync session. */
gboolean morango_transfer_session_set_stage  (MorangoDb          *db,
                                              const char         *id,
                                              MorangoStage        stage,
                                              MorangoStageStatus  status,
                                              GError            **error);
/* NULL leaves a value as it is. */
gboolean morango_transfer_session_set_fsics  (MorangoDb   *db,
                                              const char  *id,
                                              const char  *client_fsic,
                                              const char  *server_fsic,
                                              GError     **error);
/* A negative value leaves a count as it is. */
gboolean morango_transfer_session_set_counts (MorangoDb   *db,
                                              const char  *id,
                                              gint64       records_total,
                                              gint64       records_transferred,
                                              GError     **error);
/* The cleanup stage: deletes the session's buffers and marks it
 * inactive, in one transaction; stops on @monitor (may be NULL). */
gboolean morango_transfer_session_close      (MorangoDb       *db,
                                              const char      *id,
                                              MorangoMonitor  *monitor,
                                              GError         **error);

/* The receiving half of the transferring stage, once per chunk: writes
 * @chunk to @receiver's incoming buffer (morango_buffer_write_chunk())
 * and adds its records to the session's records_transferred, in one
 * transaction.  The new count goes to @records_transferred (may be
 * NULL). */
gboolean morango_transfer_session_receive_chunk (MorangoStore        *receiver,
                                                 const char          *id,
                                                 MorangoFilter       *filter,
                                                 MorangoBufferChunk  *chunk,
                                                 MorangoMonitor      *monitor,
                                                 gint64              *records_transferred,
                                                 GError             **error);

G_END_DECLS
