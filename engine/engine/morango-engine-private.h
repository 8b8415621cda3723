/* morango-engine-private.h: for the engine's own files
 *
 * SPDX-License-Identifier: MIT
 *
 * The engine's operations live in several files (morango-engine-*.c),
 * each adding async calls on the same object.  These are the pieces
 * they share.
 */
#pragma once

#include "morango-engine.h"
#include "morango-http-peer.h"
#include "morango-store.h"

G_BEGIN_DECLS

/* A connection of its own to the engine's folder, for the calling
 * thread (never the owner's: open it in a task's thread). */
MorangoStore *morango_engine_open_store        (MorangoEngine   *self,
                                                GError         **error);

/* Runs @func on the owner's main context, always later, never inline. */
void          morango_engine_run_on_owner      (MorangoEngine   *self,
                                                GSourceFunc      func,
                                                gpointer         data,
                                                GDestroyNotify   destroy);

/* Runs a task's @func on a thread of its own: for anything that waits
 * on a peer or may take long (GTask's shared pool is small). */
void          morango_engine_run_in_own_thread (GTask           *task,
                                                const char      *name,
                                                GTaskThreadFunc  func);

/* Emit "peers-changed", "data-changed" or "certificates-changed" on the
 * owner's context, later; from any thread. */
void          morango_engine_peers_changed        (MorangoEngine *self);
void          morango_engine_data_changed         (MorangoEngine *self);
void          morango_engine_certificates_changed (MorangoEngine *self);

/* Sets @peer up for HTTPS as a pairing or a sync does: the TLS
 * certificate of @expected (as typed), else of @pinned, else one @func
 * confirms (MORANGO_ENGINE_CONFIRM_TLS_CERTIFICATE).  Nothing to do
 * over plain HTTP.  On the call's thread. */
gboolean      morango_engine_set_up_peer_tls   (MorangoEngine            *self,
                                                MorangoHttpPeer          *peer,
                                                const char               *expected,
                                                const char               *pinned,
                                                MorangoEngineConfirmFunc  func,
                                                gpointer                  func_data,
                                                GCancellable             *cancellable,
                                                GError                  **error);

G_END_DECLS
