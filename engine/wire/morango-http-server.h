/* morango-http-server.h: a data folder served over HTTP as Morango 0.8.2 serves it (protocol §8, §9)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <gio/gio.h>

#include "morango-instance.h"
#include "morango-wire.h"

G_BEGIN_DECLS

#define MORANGO_TYPE_HTTP_SERVER (morango_http_server_get_type ())
G_DECLARE_FINAL_TYPE (MorangoHttpServer, morango_http_server, MORANGO, HTTP_SERVER, GObject)

/* The default limit of a request body, compressed or not. */
#define MORANGO_HTTP_SERVER_BODY_LIMIT (32 * 1024 * 1024)

/* Failed signing requests (POST certificates/ answered 401 although
 * credentials were given) taken from one client address within any
 * MORANGO_HTTP_SERVER_CSR_WINDOW seconds; past that, every signing
 * request from there, right password or not, gets 429 with Retry-After
 * (seconds) and {"detail": …} until enough failures are older than the
 * window.  Requests under way count until answered.  IPv6 clients are
 * counted by /64 network.  At most MORANGO_HTTP_SERVER_CSR_ADDRESSES
 * addresses are remembered at once.  The window follows the clock of
 * morango_http_server_set_clock() when one is set. */
#define MORANGO_HTTP_SERVER_CSR_FAILURES  5
#define MORANGO_HTTP_SERVER_CSR_WINDOW    60
#define MORANGO_HTTP_SERVER_CSR_ADDRESSES 4096

/* A server of the data folder @data_dir (opened as
 * morango_store_open_folder() does with @description and @host, which
 * may be NULL there too).  The folder is opened once here, to fail
 * early; requests then work on connections of their own, one per worker
 * thread in use.  Signals are emitted on the context the server listens
 * on.
 *
 * Signals:
 *   sync-session-closed (const char *client_instance_id,
 *                        const char *sync_session_id):
 *     a client closed a sync session it opened (DELETE syncsessions/).
 *   no-account ():
 *     a certificate signing request came while this device has no
 *     account at all, so it was refused and every other will be; the
 *     program should say so to whoever runs the server (once is enough).
 *
 * Certificate signing requests (POST certificates/) are granted to the
 * accounts of the folder's database: the program makes them with
 * morango_account_set_password() (MORANGO_ACCOUNT_ADMIN with the scopes
 * it may hand out) before or while the server runs; the server reads
 * them at each request. */
MorangoHttpServer       *morango_http_server_new              (const char             *data_dir,
                                                               const char             *description,
                                                               const MorangoHostInfo  *host,
                                                               GError                **error);
/* What the server advertises and uses (default MORANGO_WIRE_CAPS_DEFAULT);
 * set before listening. */
void                     morango_http_server_set_capabilities (MorangoHttpServer       *self,
                                                               MorangoWireCapabilities  caps);
MorangoWireCapabilities  morango_http_server_get_capabilities (MorangoHttpServer       *self);
/* With MORANGO_WIRE_CAP_ALLOW_CERTIFICATE_PUSHING among the
 * capabilities, the server takes pushed certificates (§7.8 (b)): it
 * makes a shared key when listening if it has none, serves it at
 * publickey/, and stores a certificate pushed to certificatechain/ with
 * that key, if the chain ends in a root it trusts.  With
 * @accept (default FALSE), a pushed chain may also end in a root this
 * device has never seen, which it then trusts from that first use on:
 * a cloud hosting the datasets of facilities it never met.  A later
 * chain naming a root id already stored with another key or text is
 * refused all the same.  Set before listening. */
void                     morango_http_server_set_accept_new_roots (MorangoHttpServer *self,
                                                                   gboolean           accept);
/* The largest request body taken, before and after decompression
 * (default MORANGO_HTTP_SERVER_BODY_LIMIT); larger ones get 413. */
void                     morango_http_server_set_body_limit   (MorangoHttpServer       *self,
                                                               gsize                    limit);
/* The time the server gives nonces and checks them against, and counts
 * failed signing requests in, in seconds since the epoch; called on
 * worker threads and on the listening context, so it must be safe
 * there.  For tests only (a nonce's expiry, the end of a rate limit's
 * window, without waiting); NULL restores the real clock. */
typedef gint64 (*MorangoHttpServerClock) (gpointer data);
void                     morango_http_server_set_clock        (MorangoHttpServer       *self,
                                                               MorangoHttpServerClock   clock,
                                                               gpointer                 data);
const char              *morango_http_server_get_instance_id  (MorangoHttpServer       *self);
/* Serves HTTPS with @certificate (which holds its private key; see
 * morango_tls_certificate_ensure()) instead of plain HTTP; NULL: plain
 * HTTP again.  Before listening. */
void                     morango_http_server_set_tls_certificate (MorangoHttpServer *self,
                                                                  GTlsCertificate   *certificate);
/* Listens on @address (an IP address; NULL: every address) and @port
 * (0: any free one), answering on the thread-default main context of
 * the caller, which must keep running it.  Database work runs on worker
 * threads, so a long stage never stops the server answering. */
gboolean                 morango_http_server_listen           (MorangoHttpServer       *self,
                                                               const char              *address,
                                                               guint                    port,
                                                               GError                 **error);
/* The port listened on (the real one when 0 was asked), 0 before. */
guint                    morango_http_server_get_port         (MorangoHttpServer       *self);
/* The base URIs listened on (GUri, free with g_slist_free_full (l, g_uri_unref)). */
GSList                  *morango_http_server_get_uris         (MorangoHttpServer       *self);
/* Stops listening; requests in flight on workers finish. */
void                     morango_http_server_disconnect       (MorangoHttpServer       *self);

G_END_DECLS
