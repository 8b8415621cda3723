/* morango-engine-history.h: a peer's past syncs, and the account peers
 * pair with
 *
 * SPDX-License-Identifier: MIT
 *
 * More asynchronous calls on MorangoEngine (morango-engine.h), each
 * run on a thread with a connection of its own to the folder.
 */
#pragma once

#include "morango-engine.h"

G_BEGIN_DECLS

/* The history of the syncs with known peer @peer_id (morango-history.h),
 * newest first, at most @limit entries (0: all): a GPtrArray of
 * MorangoHistoryEntry * that the array owns.  An unknown peer has no
 * entries (an empty array, not an error). */
void       morango_engine_list_history_async  (MorangoEngine        *self,
                                               const char           *peer_id,
                                               guint                 limit,
                                               GCancellable         *cancellable,
                                               GAsyncReadyCallback   callback,
                                               gpointer              user_data);
GPtrArray *morango_engine_list_history_finish (MorangoEngine        *self,
                                               GAsyncResult         *result,
                                               GError              **error);

/* Sets the password of the "admin" account that peers present to pair
 * with this device (creating it, allowed every scope), as `morango
 * serve` does the first time.  An empty password is refused
 * (MORANGO_ERROR_INVALID).  The password is copied at once and the copy
 * wiped after use. */
void       morango_engine_set_admin_password_async  (MorangoEngine       *self,
                                                     const char          *password,
                                                     GCancellable        *cancellable,
                                                     GAsyncReadyCallback  callback,
                                                     gpointer             user_data);
gboolean   morango_engine_set_admin_password_finish (MorangoEngine       *self,
                                                     GAsyncResult        *result,
                                                     GError             **error);

/* Whether any account exists that peers can pair with (the admin one,
 * or one made with `morango account`): without one, every pairing
 * request is refused, so the first time serving should ask for the
 * admin password. */
void       morango_engine_has_admin_async  (MorangoEngine       *self,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data);
/* FALSE with @error unset: no account yet. */
gboolean   morango_engine_has_admin_finish (MorangoEngine       *self,
                                            GAsyncResult        *result,
                                            GError             **error);

G_END_DECLS
