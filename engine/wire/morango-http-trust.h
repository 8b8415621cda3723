/* morango-http-trust.h: trust on the wire — the handshake, certificate requests (protocol §7.8, §7.10, §8.3–§8.5.1)
 *
 * Transport-independent: nothing here touches a socket.  The client
 * half builds request bodies and checks answers; the server half turns
 * a request into an HTTP status and a JSON body.
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <json-glib/json-glib.h>

#include "morango-certificate.h"
#include "morango-store.h"

G_BEGIN_DECLS

/* ------------------------------------------------------------------ */
/* Client side
 *
 * Pure functions over their arguments: no database, no network. */

/* The handshake signature of §7.10: @cert's private key over the text
 * "<nonce>:<sync_session_id>".  Both sides sign the same text. */
char       *morango_http_trust_sign_sync_session   (MorangoCertificate *cert,
                                                    const char         *nonce,
                                                    const char         *sync_session_id,
                                                    GError            **error);
/* Does @signature prove that @cert's key holder signed
 * "<nonce>:<sync_session_id>"? */
gboolean    morango_http_trust_verify_sync_session (MorangoCertificate *cert,
                                                    const char         *nonce,
                                                    const char         *sync_session_id,
                                                    const char         *signature);

/* The body of POST syncsessions/ (§8.5.1), with its keys in the order
 * Morango's client sends them.  @client_chain holds MorangoCertificate*
 * root first; its last one is the client certificate and must hold its
 * private key (it signs).  The chain and @instance_json (the client's
 * instance object as JSON text) travel as strings, as Python servers
 * require.  @client_ip and @server_ip may be NULL (sent as ""). */
JsonObject *morango_http_trust_build_sync_session_request (GPtrArray          *client_chain,
                                                           MorangoCertificate *server_cert,
                                                           const char         *nonce,
                                                           const char         *sync_session_id,
                                                           const char         *connection_path,
                                                           const char         *instance_json,
                                                           const char         *client_ip,
                                                           const char         *server_ip,
                                                           GError            **error);
/* Checks the server's 201 answer to that request: an object whose
 * "signature" is @server_cert's over the same text
 * (MORANGO_ERROR_CERT_SIGNATURE_INVALID otherwise, as Morango's client
 * raises).  *@server_instance_json (may be NULL) gets the server's
 * instance JSON text, "{}" when the answer has none. */
gboolean    morango_http_trust_check_sync_session_response (MorangoCertificate *server_cert,
                                                            const char         *nonce,
                                                            const char         *sync_session_id,
                                                            JsonNode           *response,
                                                            char              **server_instance_json,
                                                            GError            **error);

/* The body of POST certificates/ (§7.8 (a) step 4): ask @parent's holder
 * for a certificate under @scope_definition_id with @scope_params (JSON
 * object text) for @key's public half.  Once the 201 comes back, hand it
 * to morango_certificate_request_accept() with the same request (from
 * morango_certificate_request_new_from_json() on this body). */
JsonObject *morango_http_trust_build_csr           (MorangoCertificate *parent,
                                                    const char         *scope_definition_id,
                                                    const char         *scope_params,
                                                    MorangoKey         *key);
/* The Authorization header of that request: "Basic " and the base64 of
 * "<user>:<password>", where <user> is @username, or Kolibri's
 * "username=<u>&facility=<f>" when @facility is not NULL.  Names a
 * server would split differently (a ':' in the name, '&' or '=' where
 * they would be read as separators) are refused
 * (MORANGO_ERROR_INVALID). */
char       *morango_http_trust_basic_authorization (const char         *username,
                                                    const char         *facility,
                                                    const char         *password,
                                                    GError            **error);

G_END_DECLS
