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

/* The body of POST certificatechain/ (§7.8 (b) step 4, §8.3.3):
 * @chain (MorangoCertificate*, root first, ending with the pushed
 * certificate) as API objects in a JSON array written as json.dumps
 * writes it, then that text encoded once more as a JSON string, as
 * Morango's client sends it (a Python server requires the string). */
char       *morango_http_trust_build_certificate_chain_body (GPtrArray *chain);

/* ------------------------------------------------------------------ */
/* Server side
 *
 * Each handler runs on a worker thread that owns @store's connection.
 * It returns the JSON body of the answer (the caller writes it compact)
 * and sets *@status; a refusal is a 4xx with the body a Morango 0.8.2
 * server gives, and changes nothing.  Where Morango answers 500 (input
 * it never checked), these answer 400 with a body in DRF's shape.
 * Failures of this device (the database) are 500
 * {"detail": "A server error occurred."}, logged as warnings. */

/* GET certificates/ (@id NULL) and GET certificates/<id>/ (§8.3.1).
 * @query (may be NULL) maps parameter names to values: "profile" first
 * restricts the set; "primary_partition" is that certificate and its
 * descendants, only those held with their private key, in tree
 * pre-order; else "ancestors_of" is the chain, root first, of a
 * certificate held with its private key; else all certificates held
 * with their private key.  A reference that does not qualify gives [].
 * An item is looked up in the same set: 404 {"detail":"Not found."}
 * when it is not there. */
JsonNode   *morango_http_trust_get_certificates    (MorangoStore  *store,
                                                    const char    *id,
                                                    GHashTable    *query,
                                                    guint         *status);

/* POST certificates/, a certificate signing request (§8.3.2).
 * @authorization is the Authorization header as received (NULL when
 * absent), decoded here: "Basic" with the base64 of "<user>:<password>",
 * where <user> is an account name or Kolibri's
 * "username=<name>&facility=<dataset id>".  A facility, when given,
 * must be the "dataset_id" of the requested scope params.  Answers:
 * 401 {"detail": …} as DRF words it, with *@www_authenticate set to the
 * header value to send (NULL otherwise); 403 when the account may not
 * request that scope definition, the facility is not the requested
 * dataset or the params are an empty object; 400 {"<field>": […]} for
 * malformed or unknown fields and a parent not held with its private
 * key; 400 {"error_class", "error_message"} when the new certificate
 * fails §7.6; 201 with the new certificate, signed by the parent and
 * stored.  *@no_account (may be NULL) is set to TRUE when this device
 * has no account at all, so nobody can be granted anything: the caller
 * should say so to whoever runs the server. */
JsonNode   *morango_http_trust_request_certificate (MorangoStore  *store,
                                                    const char    *authorization,
                                                    JsonNode      *body,
                                                    guint         *status,
                                                    char         **www_authenticate,
                                                    gboolean      *no_account);

/* GET /api/morango-sync/v1/learners/?dataset_id=… — ours, not
 * Morango's: the people of a dataset (the profile's "people",
 * morango_profile_list_people()) for whom a certificate may be asked,
 * so that a pairing client can offer them by name.  Credentials as for
 * a signing request.  401 as there; 403 when the account may not
 * request the people's scope definition or its Kolibri facility is
 * another dataset; 400 {"dataset_id": […]} for a missing or malformed
 * id (32 hexadecimal digits); 404 {"detail": "Not found."} when the
 * profile names no people; 200 with [{"id", "username", "full_name"}]. */
JsonNode   *morango_http_trust_list_learners      (MorangoStore  *store,
                                                    const char    *authorization,
                                                    GHashTable    *query,
                                                    guint         *status,
                                                    char         **www_authenticate);

/* GET publickey/ (@id NULL) and GET publickey/<id>/ (§8.3.4) on a
 * server that offers certificate pushing: 200 with [{"public_key": …}]
 * for each current shared key (the list, made with a key when there is
 * none yet, so a client never sees it empty), or {"public_key": …} for
 * the key with row id @id; 404 {"detail":"Not found."} when there is no
 * such key. */
JsonNode   *morango_http_trust_get_public_keys     (MorangoStore  *store,
                                                    const char    *id,
                                                    guint         *status);

/* POST certificatechain/ on a server that offers certificate pushing
 * (§7.8 (b) step 4, §8.3.3): @body is the chain, root first, ending with
 * a certificate issued to this device's shared key and salted with one
 * of its nonces (the double-encoded string or a plain array).  Checked
 * in a Morango server's order, each refusal with its status and body:
 * the issuer's chain (403 "Saving certificate chain has failed: …"; 403
 * {"error_class": "CertificateRootUntrusted", …} when it ends in a root
 * this device does not trust, unless @accept_new_roots and the chain
 * brings that root here for the first time, which trusts it from then
 * on); the shared key (400 "Shared public key was not used"); the nonce
 * (403 "Nonce (certificate's salt) is not valid"), spent from here on;
 * §7.6 (400 {"error_class", "error_message"}).  201 "Certificate chain
 * has been saved": the certificate is stored with the shared private
 * key, so that it can be this server's certificate in sync sessions.
 * A body that is no such chain is 400 {"detail": …} (Morango: 500).
 * @now_unix as for morango_http_trust_check_sync_session(). */
JsonNode   *morango_http_trust_accept_pushed_chain (MorangoStore  *store,
                                                    JsonNode      *body,
                                                    gboolean       accept_new_roots,
                                                    gint64         now_unix,
                                                    guint         *status);

/* POST certificatechain/ and GET publickey/ (§8.3.3, §8.3.4): this
 * device does not offer certificate pushing (no
 * ALLOW_CERTIFICATE_PUSHING in its capabilities), and enforces it on
 * both (quirk 5) with the answer a Morango server without the setting
 * gives for publickey/: 403 {"detail": "Authentication credentials
 * were not provided."}. */
JsonNode   *morango_http_trust_refuse_pushing      (guint         *status);

/* POST nonces/ (§8.4): a new nonce for the requester at @client_ip (may
 * be NULL), stamped at @now_unix (seconds since the epoch; 0 for the
 * real clock, to the microsecond).  The body of the request is
 * ignored, as Morango does.  201 {"id", "timestamp", "ip"}. */
JsonNode   *morango_http_trust_create_nonce        (MorangoStore  *store,
                                                    const char    *client_ip,
                                                    gint64         now_unix,
                                                    guint         *status);

/* Checks a POST syncsessions/ body: certificates, chain to a trusted root, signature, nonce.
 * On success returns TRUE and sets *client_cert and *server_cert (the server's own
 * certificate, which holds a private key here); on refusal returns FALSE with *status and
 * *body (the JSON error body) set. Runs on a worker thread owning @store's connection.
 *
 * In Morango's order (§8.5.1), after the body's shape (400 {"<field>":
 * […]}): the chain is imported up to client_certificate_id (403
 * "Saving certificate chain has failed"; 403 {"error_class":
 * "CertificateRootUntrusted", …} when it ends in a root this device
 * does not trust, where Morango accepts any); both certificates must
 * exist, the server's held here with its private key (400); same
 * profile (400); the client's signature of "<nonce>:<id>" (403 "Client
 * certificate failed to verify signature"); the nonce, used once and
 * younger than 60 s (403 "Nonce is not valid").  The chain import and
 * the nonce's use are committed together, only when every check
 * passed.  @now_unix is the time in seconds since the epoch (0: the
 * real clock, to the microsecond); a nonce stamped during that second
 * counts as issued before it.  The caller stores the session and
 * answers with morango_http_trust_sync_session_response(). */
gboolean    morango_http_trust_check_sync_session  (MorangoStore        *store,
                                                    JsonObject          *request,
                                                    gint64               now_unix,
                                                    MorangoCertificate **client_cert,
                                                    MorangoCertificate **server_cert,
                                                    guint               *status,
                                                    JsonNode           **body);
/* The 201 body that proves the server's key back (§7.10):
 * {"signature": @server_cert's signature of "<nonce>:<id>" of @request,
 *  "server_instance": @server_instance_json}. */
JsonNode   *morango_http_trust_sync_session_response (MorangoCertificate *server_cert,
                                                      JsonObject         *request,
                                                      const char         *server_instance_json,
                                                      GError            **error);

G_END_DECLS
