/* morango-http-peer.h: another device over HTTP as the other side of a transfer
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "morango-certificate.h"
#include "morango-fsic.h"
#include "morango-peer.h"
#include "morango-store.h"
#include "morango-wire.h"

G_BEGIN_DECLS

/* What a client advertises unless told otherwise (§13.2). */
#define MORANGO_HTTP_CLIENT_CAPABILITIES MORANGO_WIRE_CAPS_DEFAULT

#define MORANGO_TYPE_HTTP_PEER (morango_http_peer_get_type ())
G_DECLARE_FINAL_TYPE (MorangoHttpPeer, morango_http_peer, MORANGO, HTTP_PEER, GObject)

/* The server at @base_url (http or https; a missing final "/" is added,
 * so "http://host:8080/kolibri" and "http://host:8080/kolibri/" are the
 * same server), seen from @store, whose certificate @client_certificate
 * (with its private key; may be NULL for a peer that only pairs) opens
 * sync sessions with the server's certificate @server_certificate_id
 * (may be NULL likewise).
 *
 * Threads: make and configure the peer on one thread, and drop its last
 * reference there; its requests (every MorangoPeer operation) may then
 * come from any thread, one at a time, as a transfer makes them.  Only
 * open_sync_session() uses @store's connection, on the thread that owns
 * it (the transfer's). */
MorangoHttpPeer        *morango_http_peer_new                (const char          *base_url,
                                                              MorangoStore        *store,
                                                              MorangoCertificate  *client_certificate,
                                                              const char          *server_certificate_id,
                                                              GError             **error);
/* What this client advertises (default MORANGO_HTTP_CLIENT_CAPABILITIES);
 * before the first request. */
void                    morango_http_peer_set_capabilities   (MorangoHttpPeer     *self,
                                                              MorangoWireCapabilities capabilities);
/* Tries per request on a network failure (at least 1; default 5) and
 * the wait before the first retry, doubled at each (default 250 ms). */
void                    morango_http_peer_set_retries        (MorangoHttpPeer     *self,
                                                              guint                tries,
                                                              guint                first_delay_ms);
/* The largest response body taken, before and after gzip decoding
 * (default 64 MiB). */
void                    morango_http_peer_set_body_limit     (MorangoHttpPeer     *self,
                                                              gsize                limit);
/* HTTPS.  The server's certificate is taken by its fingerprint alone
 * (morango-tls.h), never by who signed it.  @fingerprint (canonical;
 * NULL: none yet) is the one it must present, or every request fails
 * with MORANGO_ERROR_PIN_MISMATCH, having sent nothing.  Before the
 * first request. */
void                    morango_http_peer_set_pin            (MorangoHttpPeer     *self,
                                                              const char          *fingerprint);
/* With no pin, the first TLS handshake asks @func (on the thread of the
 * request, which waits for its answer) whether to take the certificate
 * of @fingerprint; a yes pins it for the rest of this peer's life, a no
 * (or no @func) fails the request with MORANGO_ERROR_NOT_CONFIRMED,
 * having sent nothing.  Before the first request. */
typedef gboolean (*MorangoHttpPeerConfirmFunc) (MorangoHttpPeer *peer,
                                                const char      *fingerprint,
                                                gpointer         user_data);
void                    morango_http_peer_set_confirm_func   (MorangoHttpPeer            *self,
                                                              MorangoHttpPeerConfirmFunc  func,
                                                              gpointer                    user_data,
                                                              GDestroyNotify              destroy);
/* The fingerprint of the certificate the server presented last, taken
 * or not; NULL over plain HTTP or before the first request. */
char                   *morango_http_peer_dup_fingerprint    (MorangoHttpPeer     *self);
/* GET morangoinfo/1/, once: the server's capabilities and instance.
 * Every operation connects first when this was not called. */
gboolean                morango_http_peer_connect            (MorangoHttpPeer     *self,
                                                              GCancellable        *cancellable,
                                                              GError             **error);
/* After connecting: what the server advertised, its instance id and
 * Morango version. */
MorangoWireCapabilities morango_http_peer_get_server_capabilities (MorangoHttpPeer *self);
const char             *morango_http_peer_get_server_instance_id  (MorangoHttpPeer *self);
const char             *morango_http_peer_get_server_version      (MorangoHttpPeer *self);
/* After connecting: the FSIC format both sides use (v2 when both
 * advertise FSIC_V2_FORMAT, §3.8), for MorangoTransferOptions.format. */
MorangoFsicFormat       morango_http_peer_get_fsic_format    (MorangoHttpPeer     *self);
/* After connecting: whether the server runs its stages when asked
 * (both advertise ASYNC_OPERATIONS) rather than the legacy way (§9.6);
 * the peer's operations hide the difference. */
gboolean                morango_http_peer_is_async           (MorangoHttpPeer     *self);
/* GET syncsessions/<id>/: whether the server still holds sync session
 * @id open (before resuming a transfer of it, §9.8). */
gboolean                morango_http_peer_check_sync_session (MorangoHttpPeer     *self,
                                                              const char          *id,
                                                              GCancellable        *cancellable,
                                                              GError             **error);
/* Bytes sent and received so far (request and status lines, headers and
 * bodies as they crossed the wire); either pointer may be NULL. */
void                    morango_http_peer_get_bytes          (MorangoHttpPeer     *self,
                                                              gint64              *sent,
                                                              gint64              *received);
const char             *morango_http_peer_get_base_url       (MorangoHttpPeer     *self);
MorangoStore           *morango_http_peer_get_store          (MorangoHttpPeer     *self);

G_END_DECLS
