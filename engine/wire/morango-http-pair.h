/* morango-http-pair.h: getting a certificate from a peer (protocol §7.8 a)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "morango-http-peer.h"

G_BEGIN_DECLS

/* Pairs with the server of @peer: lists its certificates for the
 * dataset @primary_partition (GET certificates/?primary_partition=…),
 * takes @parent_id among them (NULL: the first listed, the dataset's
 * own), generates a key and asks the server to sign a certificate for
 * @scope_definition_id with @scope_params (a JSON object text) under
 * that parent, with @username and @password (HTTP Basic, on this
 * request only; @username may be Kolibri's "username=…&facility=…").
 *
 * The certificate that comes back must be the one asked for and valid
 * under the parent's chain; the chain and the new certificate with its
 * private key are then stored in @peer's store in one transaction, and
 * the chain's root becomes a trust anchor: pairing is the user's
 * deliberate choice to trust that peer.  Nothing is stored on any
 * failure.  Runs on the thread that owns the store's connection. */
MorangoCertificate *morango_http_pair (MorangoHttpPeer  *peer,
                                       const char       *primary_partition,
                                       const char       *parent_id,
                                       const char       *scope_definition_id,
                                       const char       *scope_params,
                                       const char       *username,
                                       const char       *password,
                                       GCancellable     *cancellable,
                                       GError          **error);

/* Asked, before the signing request, whether the root of the chain the
 * server sent (checked alone: its id, its signature, its scope) may
 * become a trust anchor; only when this device does not trust it yet.
 * On the thread of the pairing, which waits for the answer. */
typedef gboolean (*MorangoHttpPairConfirmFunc) (MorangoCertificate *root,
                                                gpointer            user_data);

/* morango_http_pair() with @confirm_root (may be NULL: the root is
 * trusted without asking).  A no fails with MORANGO_ERROR_NOT_CONFIRMED
 * before anything is asked of the server or stored. */
MorangoCertificate *morango_http_pair_full (MorangoHttpPeer            *peer,
                                            const char                 *primary_partition,
                                            const char                 *parent_id,
                                            const char                 *scope_definition_id,
                                            const char                 *scope_params,
                                            const char                 *username,
                                            const char                 *password,
                                            MorangoHttpPairConfirmFunc  confirm_root,
                                            gpointer                    confirm_data,
                                            GCancellable               *cancellable,
                                            GError                    **error);

G_END_DECLS
