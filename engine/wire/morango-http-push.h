/* morango-http-push.h: issuing a certificate to a peer that holds no root (protocol §7.8 b)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "morango-http-peer.h"

G_BEGIN_DECLS

/* Pushes the server of @peer a certificate under @parent, a certificate
 * of @peer's store held here with its private key: for scope definition
 * @scope_definition_id with @scope_params (a JSON object text), the
 * parent's profile and scope version, the server's shared public key
 * (GET publickey/, the first listed) and a nonce of the server's as its
 * salt (POST nonces/), signed by @parent.  It is checked by the rules of
 * §7.6 before it leaves, then sent with @parent's chain (POST
 * certificatechain/), as Morango's client does.
 *
 * A server that does not advertise ALLOW_CERTIFICATE_PUSHING is refused
 * before anything but morangoinfo is asked (MORANGO_ERROR_PERMISSION_DENIED,
 * as Morango's client raises MorangoServerDoesNotAllowNewCertPush); the
 * server's refusals are errors quoting it.  Once the server took it, the
 * certificate is stored here without a private key (the server holds
 * it) and returned: it is the server's certificate in the sync sessions
 * this device opens with @parent as its own (correction 34).  Runs on
 * the thread that owns the store's connection. */
MorangoCertificate *morango_http_push (MorangoHttpPeer     *peer,
                                       MorangoCertificate  *parent,
                                       const char          *scope_definition_id,
                                       const char          *scope_params,
                                       GCancellable        *cancellable,
                                       GError             **error);

G_END_DECLS
