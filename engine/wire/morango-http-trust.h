/* morango-http-trust.h: the checks of POST syncsessions/ (protocol §7.10, §8.5.1)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <json-glib/json-glib.h>

#include "morango-certificate.h"
#include "morango-store.h"

G_BEGIN_DECLS

/* Checks a POST syncsessions/ body: certificates, chain to a trusted root, signature, nonce.
 * On success returns TRUE and sets *client_cert and *server_cert (the server's own
 * certificate, which holds a private key here); on refusal returns FALSE with *status and
 * *body (the JSON error body) set. Runs on a worker thread owning @store's connection. */
gboolean morango_http_trust_check_sync_session (MorangoStore        *store,
                                                JsonObject          *request,
                                                gint64               now_unix,
                                                MorangoCertificate **client_cert,
                                                MorangoCertificate **server_cert,
                                                guint               *status,
                                                JsonNode           **body);

G_END_DECLS
