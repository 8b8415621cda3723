/* morango-http-peer.c: another device over HTTP as the other side of a transfer
 *
 * The second implementation of MorangoPeer: each operation is the
 * request of protocol §8 that a Python client sends, in the sequences of
 * §9.6, so a network sync is the same transfer as a local one.  What the
 * server answers is hostile until checked: every field is typed before
 * use, bodies are size-limited (before and after gzip), and a refusal
 * becomes an error that quotes the server.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <libsoup/soup.h>

#include "morango-chain.h"
#include "morango-http-peer-private.h"
#include "morango-http-trust.h"
#include "morango-instance.h"
#include "morango-tls.h"
#include "morango-wire.h"
#include "morango-i18n-private.h"

#define DEFAULT_TRIES        5
#define DEFAULT_DELAY_MS     250
#define MAX_DELAY_MS         8000
#define DEFAULT_BODY_LIMIT   (64 * 1024 * 1024)
/* How long the server may keep a stage running in the background. */
#define MAX_POLLS            4000

struct _MorangoHttpPeer
{
  GObject                  parent_instance;

  SoupSession             *session;
  char                    *base_url;
  char                    *api_url;       /* base_url + "api/morango/v1/" */
  char                    *host;
  MorangoStore            *store;
  MorangoCertificate      *client_cert;
  char                    *server_cert_id;
  MorangoWireCapabilities  own_caps;
  guint                    tries;
  guint                    first_delay_ms;
  gsize                    body_limit;
  gboolean                 https;
  MorangoHttpPeerConfirmFunc confirm;
  gpointer                 confirm_data;
  GDestroyNotify           confirm_destroy;
  /* Only one request at a time asks the user about a certificate. */
  GMutex                   confirm_lock;

  /* Everything below may change on any thread the requests come from. */
  GMutex                   lock;
  gboolean                 connected;
  MorangoWireCapabilities  server_caps;
  char                    *server_instance_id;
  char                    *server_version;
  char                    *server_address;
  gint64                   bytes_sent;
  gint64                   bytes_received;
  char                    *pin;           /* the fingerprint the server must present */
  char                    *presented;     /* the last one it presented */
  /* In the legacy flow (§9.6), the server runs several stages in one
   * request and others at the DELETE; the transfer still proceeds stage
   * by stage.  What the peer reports of each session is kept here: the
   * server's row with the stage the transfer has reached. */
  GHashTable              *legacy;        /* id -> MorangoTransferSession */
  /* Bodies prepare_chunk() encoded on the chunk thread, oldest first. */
  GQueue                   prepared;      /* of Prepared */
};

typedef struct {
  gconstpointer  chunk;
  guint          n_records;
  char          *first_uuid;
  GBytes        *body;
} Prepared;

static void morango_http_peer_iface_init (MorangoPeerInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MorangoHttpPeer, morango_http_peer, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MORANGO_TYPE_PEER, morango_http_peer_iface_init))

static void
prepared_free (gpointer data)
{
  Prepared *p = data;

  g_free (p->first_uuid);
  g_bytes_unref (p->body);
  g_free (p);
}

static void
morango_http_peer_finalize (GObject *object)
{
  MorangoHttpPeer *self = (MorangoHttpPeer *)object;

  g_clear_object (&self->session);
  g_clear_object (&self->store);
  g_clear_object (&self->client_cert);
  g_free (self->base_url);
  g_free (self->api_url);
  g_free (self->host);
  g_free (self->server_cert_id);
  g_free (self->server_instance_id);
  g_free (self->server_version);
  g_free (self->server_address);
  g_free (self->pin);
  g_free (self->presented);
  if (self->confirm_destroy != NULL)
    self->confirm_destroy (self->confirm_data);
  g_mutex_clear (&self->confirm_lock);
  g_hash_table_unref (self->legacy);
  g_queue_clear_full (&self->prepared, prepared_free);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (morango_http_peer_parent_class)->finalize (object);
}

static void
morango_http_peer_class_init (MorangoHttpPeerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = morango_http_peer_finalize;
}

static void
morango_http_peer_init (MorangoHttpPeer *self)
{
  g_mutex_init (&self->lock);
  g_mutex_init (&self->confirm_lock);
  self->own_caps = MORANGO_HTTP_CLIENT_CAPABILITIES;
  self->tries = DEFAULT_TRIES;
  self->first_delay_ms = DEFAULT_DELAY_MS;
  self->body_limit = DEFAULT_BODY_LIMIT;
  self->legacy = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify) morango_transfer_session_free);
  g_queue_init (&self->prepared);
}

MorangoHttpPeer *
morango_http_peer_new (const char          *base_url,
                       MorangoStore        *store,
                       MorangoCertificate  *client_certificate,
                       const char          *server_certificate_id,
                       GError             **error)
{
  g_autoptr(MorangoHttpPeer) self = NULL;
  g_autoptr(GUri) uri = NULL;
  g_autoptr(GUri) api = NULL;
  g_autofree char *normal = NULL;
  const char *scheme;

  g_return_val_if_fail (base_url != NULL, NULL);
  g_return_val_if_fail (MORANGO_IS_STORE (store), NULL);
  g_return_val_if_fail (client_certificate == NULL || MORANGO_IS_CERTIFICATE (client_certificate), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  uri = g_uri_parse (base_url, G_URI_FLAGS_ENCODED, NULL);
  scheme = uri ? g_uri_get_scheme (uri) : NULL;
  if (uri == NULL || g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0' ||
      (g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0) ||
      g_uri_get_query (uri) != NULL || g_uri_get_fragment (uri) != NULL ||
      g_uri_get_userinfo (uri) != NULL)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("“%s” is not the address of a peer: it must look like "
                   "http://host:port/ (no user, query or fragment)"), base_url);
      return NULL;
    }

  /* Python resolves "api/morango/v1/…" against the base, so a base
   * without its final slash would lose its last segment (§8.1). */
  if (!g_str_has_suffix (g_uri_get_path (uri), "/"))
    {
      g_autofree char *path = g_strconcat (g_uri_get_path (uri), "/", NULL);
      GUri *fixed = g_uri_build (G_URI_FLAGS_ENCODED, g_uri_get_scheme (uri), NULL,
                                 g_uri_get_host (uri), g_uri_get_port (uri), path, NULL, NULL);

      g_uri_unref (uri);
      uri = fixed;
    }
  normal = g_uri_to_string (uri);
  api = g_uri_parse_relative (uri, "api/morango/v1/", G_URI_FLAGS_ENCODED, error);
  if (api == NULL)
    return NULL;

  self = g_object_new (MORANGO_TYPE_HTTP_PEER, NULL);
  self->base_url = g_steal_pointer (&normal);
  self->api_url = g_uri_to_string (api);
  self->host = g_strdup (g_uri_get_host (uri));
  self->store = g_object_ref (store);
  self->client_cert = client_certificate ? g_object_ref (client_certificate) : NULL;
  self->server_cert_id = g_strdup (server_certificate_id);

  /* No content decoder: it would inflate any body without a limit, and
   * the bytes counted are those on the wire. */
  self->session = soup_session_new_with_options ("user-agent", "morango/0.8.2 morango-sync/" PACKAGE_VERSION " ",
                                                 "timeout", 120,
                                                 "idle-timeout", 60,
                                                 NULL);
  soup_session_remove_feature_by_type (self->session, SOUP_TYPE_CONTENT_DECODER);
  soup_session_remove_feature_by_type (self->session, SOUP_TYPE_COOKIE_JAR);
  /* Without a database no certificate is valid by itself, so every one
   * comes to on_accept_certificate(): a peer over HTTPS is trusted by
   * its pinned fingerprint alone, whoever signed its certificate. */
  self->https = g_ascii_strcasecmp (scheme, "https") == 0;
  if (self->https)
    g_object_set (self->session, "tls-database", NULL, NULL);
  return g_steal_pointer (&self);
}

void
morango_http_peer_set_pin (MorangoHttpPeer *self,
                           const char      *fingerprint)
{
  g_return_if_fail (MORANGO_IS_HTTP_PEER (self));

  g_mutex_lock (&self->lock);
  g_free (self->pin);
  self->pin = g_strdup (fingerprint);
  g_mutex_unlock (&self->lock);
}

void
morango_http_peer_set_confirm_func (MorangoHttpPeer            *self,
                                    MorangoHttpPeerConfirmFunc  func,
                                    gpointer                    user_data,
                                    GDestroyNotify              destroy)
{
  g_return_if_fail (MORANGO_IS_HTTP_PEER (self));

  if (self->confirm_destroy != NULL)
    self->confirm_destroy (self->confirm_data);
  self->confirm = func;
  self->confirm_data = user_data;
  self->confirm_destroy = destroy;
}

char *
morango_http_peer_dup_fingerprint (MorangoHttpPeer *self)
{
  char *fingerprint;

  g_return_val_if_fail (MORANGO_IS_HTTP_PEER (self), NULL);

  g_mutex_lock (&self->lock);
  fingerprint = g_strdup (self->presented);
  g_mutex_unlock (&self->lock);
  return fingerprint;
}

#define REFUSAL_KEY "morango-tls-refusal"

/* During each TLS handshake, on the thread sending @msg: the server's
 * certificate is taken when it is the pinned one, or, with no pin yet,
 * when the user confirms it (it is then pinned for this peer's life).
 * Why it was not taken goes with @msg, for send_once() to report
 * instead of TLS's own words. */
static gboolean
on_accept_certificate (SoupMessage          *msg,
                       GTlsCertificate      *certificate,
                       GTlsCertificateFlags  errors,
                       gpointer              user_data)
{
  MorangoHttpPeer *self = user_data;
  g_autofree char *fingerprint = morango_tls_certificate_get_fingerprint (certificate);
  g_autofree char *pin = NULL;
  GError *refusal = NULL;
  gboolean accepted;

  g_mutex_lock (&self->confirm_lock);
  g_mutex_lock (&self->lock);
  g_free (self->presented);
  self->presented = g_strdup (fingerprint);
  pin = g_strdup (self->pin);
  g_mutex_unlock (&self->lock);

  if (pin != NULL)
    {
      accepted = g_str_equal (pin, fingerprint);
      if (!accepted)
        refusal = g_error_new (MORANGO_ERROR, MORANGO_ERROR_PIN_MISMATCH,
                               _("%s presented a TLS certificate other than the one expected "
                               "(expected %s, presented %s), so nothing was sent to it. Either "
                               "its key was replaced, or another machine stands in its place: "
                               "ask whoever runs it which fingerprint it shows now"),
                               self->base_url, pin, fingerprint);
    }
  else
    {
      accepted = self->confirm != NULL && self->confirm (self, fingerprint, self->confirm_data);
      if (accepted)
        morango_http_peer_set_pin (self, fingerprint);
      else
        refusal = g_error_new (MORANGO_ERROR, MORANGO_ERROR_NOT_CONFIRMED,
                               _("%s presents a TLS certificate never seen before (%s), and it "
                               "was not confirmed; nothing was sent to it"),
                               self->base_url, fingerprint);
    }
  g_mutex_unlock (&self->confirm_lock);
  if (refusal != NULL)
    g_object_set_data_full (G_OBJECT (msg), REFUSAL_KEY, refusal, (GDestroyNotify) g_error_free);
  return accepted;
}

void
morango_http_peer_set_capabilities (MorangoHttpPeer         *self,
                                    MorangoWireCapabilities  capabilities)
{
  g_return_if_fail (MORANGO_IS_HTTP_PEER (self));
  self->own_caps = capabilities;
}

void
morango_http_peer_set_retries (MorangoHttpPeer *self,
                               guint            tries,
                               guint            first_delay_ms)
{
  g_return_if_fail (MORANGO_IS_HTTP_PEER (self));
  self->tries = MAX (tries, 1);
  self->first_delay_ms = first_delay_ms;
}

void
morango_http_peer_set_body_limit (MorangoHttpPeer *self,
                                  gsize            limit)
{
  g_return_if_fail (MORANGO_IS_HTTP_PEER (self));
  g_return_if_fail (limit > 0);
  self->body_limit = limit;
}

const char *
morango_http_peer_get_base_url (MorangoHttpPeer *self)
{
  g_return_val_if_fail (MORANGO_IS_HTTP_PEER (self), NULL);
  return self->base_url;
}

MorangoStore *
morango_http_peer_get_store (MorangoHttpPeer *self)
{
  g_return_val_if_fail (MORANGO_IS_HTTP_PEER (self), NULL);
  return self->store;
}

void
morango_http_peer_get_bytes (MorangoHttpPeer *self,
                             gint64          *sent,
                             gint64          *received)
{
  g_return_if_fail (MORANGO_IS_HTTP_PEER (self));

  g_mutex_lock (&self->lock);
  if (sent != NULL)
    *sent = self->bytes_sent;
  if (received != NULL)
    *received = self->bytes_received;
  g_mutex_unlock (&self->lock);
}

/* The capabilities both sides have. */
static MorangoWireCapabilities
shared_caps (MorangoHttpPeer *self)
{
  MorangoWireCapabilities caps;

  g_mutex_lock (&self->lock);
  caps = self->server_caps & self->own_caps;
  g_mutex_unlock (&self->lock);
  return caps;
}

MorangoWireCapabilities
morango_http_peer_get_server_capabilities (MorangoHttpPeer *self)
{
  MorangoWireCapabilities caps;

  g_return_val_if_fail (MORANGO_IS_HTTP_PEER (self), 0);
  g_mutex_lock (&self->lock);
  caps = self->server_caps;
  g_mutex_unlock (&self->lock);
  return caps;
}

const char *
morango_http_peer_get_server_instance_id (MorangoHttpPeer *self)
{
  g_return_val_if_fail (MORANGO_IS_HTTP_PEER (self), NULL);
  return self->server_instance_id;
}

const char *
morango_http_peer_get_server_version (MorangoHttpPeer *self)
{
  g_return_val_if_fail (MORANGO_IS_HTTP_PEER (self), NULL);
  return self->server_version;
}

MorangoFsicFormat
morango_http_peer_get_fsic_format (MorangoHttpPeer *self)
{
  g_return_val_if_fail (MORANGO_IS_HTTP_PEER (self), MORANGO_FSIC_V1);
  return (shared_caps (self) & MORANGO_WIRE_CAP_FSIC_V2_FORMAT) ? MORANGO_FSIC_V2 : MORANGO_FSIC_V1;
}

gboolean
morango_http_peer_is_async (MorangoHttpPeer *self)
{
  g_return_val_if_fail (MORANGO_IS_HTTP_PEER (self), FALSE);
  return (shared_caps (self) & MORANGO_WIRE_CAP_ASYNC_OPERATIONS) != 0;
}

/* ---- waiting ---- */

typedef struct {
  GMutex   lock;
  GCond    cond;
  gboolean cancelled;
} Waiter;

static void
waiter_cancelled (GCancellable *cancellable,
                  gpointer      data)
{
  Waiter *w = data;

  g_mutex_lock (&w->lock);
  w->cancelled = TRUE;
  g_cond_signal (&w->cond);
  g_mutex_unlock (&w->lock);
}

/* Waits @ms milliseconds, or less when @cancellable fires. */
gboolean
morango_http_peer_wait_ms (guint          ms,
         GCancellable  *cancellable,
         GError       **error)
{
  Waiter w = { 0 };
  gint64 until = g_get_monotonic_time () + (gint64) ms * G_TIME_SPAN_MILLISECOND;
  gulong handler = 0;

  g_mutex_init (&w.lock);
  g_cond_init (&w.cond);
  if (cancellable != NULL)
    handler = g_cancellable_connect (cancellable, G_CALLBACK (waiter_cancelled), &w, NULL);
  g_mutex_lock (&w.lock);
  while (!w.cancelled && g_cond_wait_until (&w.cond, &w.lock, until))
    ;
  g_mutex_unlock (&w.lock);
  if (cancellable != NULL)
    g_cancellable_disconnect (cancellable, handler);
  g_mutex_clear (&w.lock);
  g_cond_clear (&w.cond);
  return !g_cancellable_set_error_if_cancelled (cancellable, error);
}

/* ---- one request ---- */

static void
count_header (const char *name,
              const char *value,
              gpointer    data)
{
  *(gint64 *) data += strlen (name) + 2 + strlen (value) + 2;
}

static gint64
header_bytes (SoupMessageHeaders *headers)
{
  gint64 n = 2;

  soup_message_headers_foreach (headers, count_header, &n);
  return n;
}

static void
add_bytes (MorangoHttpPeer *self,
           gint64           sent,
           gint64           received)
{
  g_mutex_lock (&self->lock);
  self->bytes_sent += sent;
  self->bytes_received += received;
  g_mutex_unlock (&self->lock);
}

/* Reads at most @limit bytes of @stream; more is an error. */
static GBytes *
read_limited (GInputStream  *stream,
              gsize          limit,
              GCancellable  *cancellable,
              GError       **error)
{
  g_autoptr(GByteArray) data = g_byte_array_new ();
  guint8 buffer[16384];

  for (;;)
    {
      gssize n = g_input_stream_read (stream, buffer, sizeof buffer, cancellable, error);

      if (n < 0)
        return NULL;
      if (n == 0)
        break;
      if (data->len + (gsize) n > limit)
        {
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_LIMIT_EXCEEDED,
                       morango_ngettext ("The server's answer is larger than %zu byte",
                                         "The server's answer is larger than %zu bytes", limit), limit);
          return NULL;
        }
      g_byte_array_append (data, buffer, n);
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&data));
}

/* A failure of the transport that trying again may cure.  *@unsent
 * tells whether the request surely never reached the server. */
static gboolean
is_network_error (const GError *error,
                  gboolean     *unsent)
{
  *unsent = FALSE;
  if (error->domain == G_RESOLVER_ERROR)
    return (*unsent = error->code == G_RESOLVER_ERROR_TEMPORARY_FAILURE);
  if (error->domain != G_IO_ERROR)
    return FALSE;
  switch (error->code)
    {
    case G_IO_ERROR_CONNECTION_REFUSED:
    case G_IO_ERROR_HOST_UNREACHABLE:
    case G_IO_ERROR_NETWORK_UNREACHABLE:
      *unsent = TRUE;
      return TRUE;
    case G_IO_ERROR_CONNECTION_CLOSED:
    case G_IO_ERROR_PARTIAL_INPUT:
    case G_IO_ERROR_TIMED_OUT:
    case G_IO_ERROR_NOT_CONNECTED:
      return TRUE;
    default:
      return FALSE;
    }
}

typedef struct {
  guint   status;
  char   *content_type;
  GBytes *body;          /* decoded */
} Answer;

static void
answer_clear (Answer *a)
{
  g_clear_pointer (&a->content_type, g_free);
  g_clear_pointer (&a->body, g_bytes_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Answer, answer_clear)

static gboolean
send_once (MorangoHttpPeer           *self,
           const MorangoHttpRequest  *request,
           const char                *url,
           const char                *caps_header,
           Answer                    *answer,
           GCancellable              *cancellable,
           GError                   **error)
{
  g_autoptr(SoupMessage) msg = soup_message_new (request->method, url);
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GBytes) raw = NULL;
  g_autoptr(GError) local_error = NULL;
  SoupMessageHeaders *headers;
  const char *encoding;
  gint64 sent, received;

  if (msg == NULL)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID, _("Cannot build a request for “%s”"), url);
      return FALSE;
    }
  /* Django answers a missing slash with a redirect that turns a POST
   * into a GET (correction 1): never follow one. */
  soup_message_add_flags (msg, SOUP_MESSAGE_NO_REDIRECT);
  headers = soup_message_get_request_headers (msg);
  soup_message_headers_replace (headers, "Accept", "*/*");
  soup_message_headers_replace (headers, "X-Morango-Capabilities", caps_header);
  if (request->accept_gzip)
    soup_message_headers_replace (headers, "Accept-Encoding", "gzip");
  if (request->authorization != NULL)
    soup_message_headers_replace (headers, "Authorization", request->authorization);
  if (request->body != NULL)
    soup_message_set_request_body_from_bytes (msg, request->content_type, request->body);
  else if (g_strcmp0 (request->method, "POST") == 0)
    soup_message_headers_set_content_length (headers, 0);

  if (self->https)
    g_signal_connect (msg, "accept-certificate", G_CALLBACK (on_accept_certificate), self);
  stream = soup_session_send (self->session, msg, cancellable, &local_error);
  if (stream == NULL && g_object_get_data (G_OBJECT (msg), REFUSAL_KEY) != NULL)
    {
      g_clear_error (&local_error);
      local_error = g_error_copy (g_object_get_data (G_OBJECT (msg), REFUSAL_KEY));
    }

  /* What crossed the wire, refused or not. */
  sent = strlen (request->method) + 1 + strlen (url) + 11 + header_bytes (headers) +
         (request->body ? (gint64) g_bytes_get_size (request->body) : 0);
  if (stream == NULL)
    {
      add_bytes (self, sent, 0);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  raw = read_limited (stream, self->body_limit, cancellable, &local_error);
  received = 15 + strlen (soup_message_get_reason_phrase (msg) ? soup_message_get_reason_phrase (msg) : "") +
             header_bytes (soup_message_get_response_headers (msg)) +
             (raw ? (gint64) g_bytes_get_size (raw) : 0);
  add_bytes (self, sent, received);
  g_input_stream_close (stream, NULL, NULL);
  if (raw == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  if (self->server_address == NULL && soup_message_get_remote_address (msg) != NULL)
    {
      GSocketAddress *address = soup_message_get_remote_address (msg);

      if (G_IS_INET_SOCKET_ADDRESS (address))
        {
          g_mutex_lock (&self->lock);
          if (self->server_address == NULL)
            self->server_address =
              g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address)));
          g_mutex_unlock (&self->lock);
        }
    }

  answer->status = soup_message_get_status (msg);
  answer->content_type = g_strdup (soup_message_headers_get_content_type (soup_message_get_response_headers (msg), NULL));
  encoding = soup_message_headers_get_one (soup_message_get_response_headers (msg), "Content-Encoding");
  if (encoding == NULL || g_ascii_strcasecmp (encoding, "identity") == 0)
    answer->body = g_steal_pointer (&raw);
  else if (g_ascii_strcasecmp (encoding, "gzip") == 0)
    {
      answer->body = morango_wire_gunzip (g_bytes_get_data (raw, NULL), g_bytes_get_size (raw),
                                          self->body_limit, error);
      if (answer->body == NULL)
        {
          g_prefix_error (error, _("The server's answer to %s %s: "), request->method, request->path);
          return FALSE;
        }
    }
  else
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("The server answered %s %s in an encoding this client did not ask for (“%s”)"),
                   request->method, request->path, encoding);
      return FALSE;
    }
  return TRUE;
}

/* The server's answer to a refusal, as a person can read it: its JSON
 * text (escaped by whoever shows it), or what kind of body it was. */
static char *
describe_refusal (const Answer *answer)
{
  gsize size = answer->body ? g_bytes_get_size (answer->body) : 0;
  const char *data = answer->body ? g_bytes_get_data (answer->body, NULL) : NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();

  if (size == 0)
    return g_strdup (_("no explanation"));
  if (g_utf8_validate (data, size, NULL) && json_parser_load_from_data (parser, data, size, NULL))
    {
      g_autofree char *text = json_to_string (json_parser_get_root (parser), FALSE);

      if (strlen (text) > 2000)
        {
          g_autofree char *cut = g_utf8_substring (text, 0, 2000);
          return g_strdup_printf ("%s…", cut);
        }
      return g_steal_pointer (&text);
    }
  if (answer->content_type == NULL)
    return g_strdup (_("a body that is not JSON and has no type"));
  /* Translators: a media type such as “text/html” */
  return g_strdup_printf (_("a %s body that is not JSON"), answer->content_type);
}

JsonNode *
morango_http_peer_call (MorangoHttpPeer           *self,
                        const MorangoHttpRequest  *request,
                        guint                     *status,
                        GCancellable              *cancellable,
                        GError                   **error)
{
  g_autofree char *url = NULL;
  g_autofree char *caps = morango_wire_capabilities_format (self->own_caps);
  g_auto(Answer) answer = { 0 };
  guint delay = self->first_delay_ms;
  gsize size;
  const char *data;

  g_return_val_if_fail (MORANGO_IS_HTTP_PEER (self), NULL);
  g_return_val_if_fail (request != NULL && request->method != NULL && request->path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* A path from "/" is one of our own calls beside Morango's API, under
   * the peer's base URL. */
  url = g_strconcat (request->path[0] == '/' ? self->base_url : self->api_url,
                     request->path[0] == '/' ? request->path + 1 : request->path,
                     request->query ? "?" : "", request->query, NULL);

  /* Retries cover the network only: a status is the server's answer,
   * and asking again would get the same one or do the work twice. */
  for (guint attempt = 1; ; attempt++)
    {
      g_autoptr(GError) failure = NULL;
      gboolean unsent = FALSE;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;
      if (send_once (self, request, url, caps, &answer, cancellable, &failure))
        break;
      if (attempt >= self->tries || !is_network_error (failure, &unsent) ||
          (request->once && !unsent))
        {
          if (failure->domain == G_IO_ERROR && failure->code != G_IO_ERROR_CANCELLED)
            /* Translators: the peer's address, the HTTP method and path, and how many times it was tried */
            g_prefix_error (&failure, morango_ngettext ("Cannot reach %s (%s %s, %u try): ",
                                                        "Cannot reach %s (%s %s, %u tries): ", attempt),
                            self->base_url, request->method, request->path, attempt);
          g_propagate_error (error, g_steal_pointer (&failure));
          return NULL;
        }
      g_debug ("%s %s failed (%s); trying again in %u ms", request->method, url, failure->message, delay);
      if (!morango_http_peer_wait_ms (delay, cancellable, error))
        return NULL;
      delay = MIN (MAX (delay * 2, 1), MAX_DELAY_MS);
    }

  if (status != NULL)
    *status = answer.status;
  if (!SOUP_STATUS_IS_SUCCESSFUL (answer.status))
    {
      g_autofree char *why = describe_refusal (&answer);
      int code = answer.status == 401 || answer.status == 403 ? MORANGO_ERROR_PERMISSION_DENIED
               : answer.status == 404 ? MORANGO_ERROR_NOT_FOUND
               : answer.status >= 400 && answer.status < 500 ? MORANGO_ERROR_INVALID
               : MORANGO_ERROR_FAILED;

      /* Translators: the peer's address, the HTTP method and path, the HTTP
       * status code and phrase, then the peer's own explanation */
      g_set_error (error, MORANGO_ERROR, code, _("%s refused %s %s (%u %s): %s"), self->base_url,
                   request->method, request->path, answer.status,
                   soup_status_get_phrase (answer.status) ? soup_status_get_phrase (answer.status) : "",
                   why);
      return NULL;
    }

  data = g_bytes_get_data (answer.body, &size);
  if (size == 0)
    return json_node_new (JSON_NODE_NULL);
  {
    g_autoptr(JsonParser) parser = json_parser_new_immutable ();
    g_autoptr(GError) parse_error = NULL;

    if (!g_utf8_validate (data, size, NULL) ||
        !json_parser_load_from_data (parser, data, size, &parse_error))
      {
        if (parse_error != NULL)
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                       /* Translators: the peer's address, the HTTP method and path, then why the body is not JSON */
                       _("%s answered %s %s with a body that is not JSON: %s"), self->base_url,
                       request->method, request->path, parse_error->message);
        else
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                       /* Translators: the peer's address, then the HTTP method and path */
                       _("%s answered %s %s with a body that is not JSON"), self->base_url,
                       request->method, request->path);
        return NULL;
      }
    return json_parser_steal_root (parser);
  }
}

JsonNode *
morango_http_peer_call_json (MorangoHttpPeer  *self,
                             const char       *method,
                             const char       *path,
                             const char       *query,
                             JsonNode         *body,
                             GCancellable     *cancellable,
                             GError          **error)
{
  MorangoHttpRequest request = { .method = method, .path = path, .query = query };
  g_autoptr(GBytes) bytes = NULL;

  g_return_val_if_fail (MORANGO_IS_HTTP_PEER (self), NULL);

  if (body != NULL)
    {
      /* json.dumps's separators, as the Python client sends them. */
      char *text = morango_wire_json_to_string (body, MORANGO_WIRE_JSON_PYTHON);

      bytes = g_bytes_new_take (text, strlen (text));
      request.body = bytes;
      request.content_type = "application/json";
    }
  /* A sync session spends its nonce: sent again, it would be refused
   * for that, whatever happened to the first. */
  request.once = g_strcmp0 (method, "POST") == 0 && g_strcmp0 (path, "syncsessions/") == 0;
  return morango_http_peer_call (self, &request, NULL, cancellable, error);
}

/* ---- connecting ---- */

gboolean
morango_http_peer_connect (MorangoHttpPeer  *self,
                           GCancellable     *cancellable,
                           GError          **error)
{
  g_autoptr(JsonNode) info = NULL;
  MorangoWireCapabilities caps = MORANGO_WIRE_CAP_NONE;
  JsonObject *object;
  JsonNode *member;
  const char *instance_id, *version = NULL;
  gboolean connected;

  g_return_val_if_fail (MORANGO_IS_HTTP_PEER (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_mutex_lock (&self->lock);
  connected = self->connected;
  g_mutex_unlock (&self->lock);
  if (connected)
    return TRUE;

  /* Once per connection, as Python's client does: its capabilities hold
   * for every request after. */
  info = morango_http_peer_call_json (self, "GET", "morangoinfo/1/", NULL, NULL, cancellable, error);
  if (info == NULL)
    return FALSE;
  object = JSON_NODE_HOLDS_OBJECT (info) ? json_node_get_object (info) : NULL;
  member = object ? json_object_get_member (object, "instance_id") : NULL;
  instance_id = member && JSON_NODE_HOLDS_VALUE (member) &&
                json_node_get_value_type (member) == G_TYPE_STRING ? json_node_get_string (member) : NULL;
  if (instance_id == NULL || *instance_id == '\0')
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   /* Translators: the first %s is the peer's address */
                   _("%s does not look like a Morango peer: its morangoinfo names no instance"),
                   self->base_url);
      return FALSE;
    }
  member = json_object_get_member (object, "version");
  if (member != NULL && JSON_NODE_HOLDS_VALUE (member) && json_node_get_value_type (member) == G_TYPE_STRING)
    version = json_node_get_string (member);
  /* A peer older than 0.6 may list none: no capability. */
  member = json_object_get_member (object, "capabilities");
  if (member != NULL && !JSON_NODE_HOLDS_NULL (member) &&
      !morango_wire_capabilities_from_json (member, &caps, error))
    {
      g_prefix_error (error, _("The capabilities %s advertises: "), self->base_url);
      return FALSE;
    }

  g_mutex_lock (&self->lock);
  if (!self->connected)
    {
      self->server_caps = caps;
      self->server_instance_id = g_strdup (instance_id);
      self->server_version = g_strdup (version);
      self->connected = TRUE;
    }
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/* ---- the transfer session objects ---- */

static MorangoTransferSession *
ts_copy (const MorangoTransferSession *ts)
{
  MorangoTransferSession *copy = g_memdup2 (ts, sizeof *ts);

  copy->id = g_strdup (ts->id);
  copy->sync_session_id = g_strdup (ts->sync_session_id);
  copy->filter = g_strdup (ts->filter);
  copy->client_fsic = g_strdup (ts->client_fsic);
  copy->server_fsic = g_strdup (ts->server_fsic);
  return copy;
}

static char *
session_path (const char *collection,
              const char *id)
{
  g_autofree char *escaped = g_uri_escape_string (id, NULL, FALSE);

  return g_strdup_printf ("%s/%s/", collection, escaped);
}

/* Reads the transfer session object of an answer about session @id
 * (NULL: any). */
static MorangoTransferSession *
session_of (MorangoHttpPeer  *self,
            JsonNode         *node,
            const char       *id,
            GError          **error)
{
  g_autoptr(MorangoTransferSession) ts = morango_wire_transfer_session_decode (node, NULL, error);

  if (ts == NULL)
    {
      g_prefix_error (error, _("The transfer session %s sent: "), self->base_url);
      return NULL;
    }
  if (id != NULL && g_strcmp0 (ts->id, id) != 0)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   /* Translators: the first %s is the peer's address */
                   _("%s answered about transfer session %s when asked about %s"),
                   self->base_url, ts->id, id);
      return NULL;
    }
  return g_steal_pointer (&ts);
}

static MorangoTransferSession *
get_session (MorangoHttpPeer  *self,
             const char       *id,
             GCancellable     *cancellable,
             GError          **error)
{
  g_autofree char *path = session_path ("transfersessions", id);
  g_autoptr(JsonNode) node = morango_http_peer_call_json (self, "GET", path, NULL, NULL, cancellable, error);

  return node ? session_of (self, node, id, error) : NULL;
}

/* PATCH transfersessions/<id>/ with @update's fields, and the stage
 * unless @stage is MORANGO_N_STAGES.  The byte counts go with a pull's
 * count, swapped to be the server's view (§9.5). */
static MorangoTransferSession *
patch_session (MorangoHttpPeer          *self,
               const char               *id,
               MorangoStage              stage,
               const MorangoPeerUpdate  *update,
               GCancellable             *cancellable,
               GError                  **error)
{
  MorangoWireTransferUpdate body = MORANGO_WIRE_TRANSFER_UPDATE_INIT;
  g_autofree char *path = session_path ("transfersessions", id);
  g_autofree char *text = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(JsonNode) node = NULL;
  MorangoHttpRequest request = { .method = "PATCH", .path = path, .content_type = "application/json" };

  body.has_stage = stage < MORANGO_N_STAGES;
  body.stage = body.has_stage ? stage : MORANGO_STAGE_INITIALIZING;
  body.client_fsic = (char *) update->client_fsic;
  body.records_total = update->records_total;
  body.records_transferred = update->records_transferred;
  if (update->records_transferred >= 0)
    morango_http_peer_get_bytes (self, &body.bytes_received, &body.bytes_sent);
  text = morango_wire_transfer_update_encode (&body);
  bytes = g_bytes_new (text, strlen (text));
  request.body = bytes;
  node = morango_http_peer_call (self, &request, NULL, cancellable, error);
  return node ? session_of (self, node, id, error) : NULL;
}

static gboolean
ensure_connected (MorangoHttpPeer  *self,
                  GCancellable     *cancellable,
                  GError          **error)
{
  return morango_http_peer_connect (self, cancellable, error);
}

/* ---- the legacy flow ---- */

/* Records what the peer reports of legacy session @ts: the server's row
 * as it last came, at (@stage, @status) of the transfer's stages. */
static MorangoTransferSession *
legacy_report (MorangoHttpPeer              *self,
               const MorangoTransferSession *ts,
               MorangoStage                  stage,
               MorangoStageStatus            status)
{
  MorangoTransferSession *view = ts_copy (ts);

  view->stage = stage;
  view->status = status;
  g_mutex_lock (&self->lock);
  g_hash_table_replace (self->legacy, g_strdup (view->id), ts_copy (view));
  g_mutex_unlock (&self->lock);
  return view;
}

static MorangoTransferSession *
legacy_lookup (MorangoHttpPeer *self,
               const char      *id)
{
  MorangoTransferSession *view;

  g_mutex_lock (&self->lock);
  view = g_hash_table_lookup (self->legacy, id);
  view = view ? ts_copy (view) : NULL;
  g_mutex_unlock (&self->lock);
  return view;
}

/* A legacy server ran its initializing, serializing and queuing stages
 * in POST transfersessions/, and runs dequeuing and deserializing in the
 * DELETE; in between it only counts (§9.6).  So the stages the transfer
 * asks for cost no request but these: a push's total, and a pull's
 * count after each page. */
static MorangoTransferSession *
legacy_proceed (MorangoHttpPeer          *self,
                const char               *id,
                MorangoStage              stage,
                const MorangoPeerUpdate  *update,
                GCancellable             *cancellable,
                GError                  **error)
{
  g_autoptr(MorangoTransferSession) view = legacy_lookup (self, id);
  g_autoptr(MorangoTransferSession) ts = NULL;
  MorangoStageStatus status = MORANGO_STAGE_STATUS_COMPLETED;

  if (stage == MORANGO_STAGE_QUEUING && update->records_total >= 0)
    {
      MorangoPeerUpdate total = MORANGO_PEER_UPDATE_INIT;

      total.records_total = update->records_total;
      ts = patch_session (self, id, MORANGO_N_STAGES, &total, cancellable, error);
    }
  else if (stage == MORANGO_STAGE_TRANSFERRING)
    {
      ts = patch_session (self, id, MORANGO_STAGE_TRANSFERRING, update, cancellable, error);
      if (ts != NULL)
        status = ts->status;
    }
  else if (view != NULL)
    ts = ts_copy (view);
  else
    ts = get_session (self, id, cancellable, error);
  if (ts == NULL)
    return NULL;

  /* Stages never move back. */
  if (view != NULL && view->stage > stage)
    return legacy_report (self, ts, view->stage, view->status);
  return legacy_report (self, ts, stage, status);
}

/* ---- the operations ---- */

/* What the instance serializer of the client sends (§8.5.1); only "id"
 * matters to the server, the rest is informational. */
static char *
instance_json (MorangoHttpPeer  *self,
               GError          **error)
{
  MorangoDb *db = morango_store_get_db (self->store);
  g_autofree char *database_id = morango_instance_ensure_database_id (db, morango_store_get_random (self->store),
                                                                      error);
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;

  if (database_id == NULL)
    return NULL;
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, morango_store_get_instance_id (self->store));
  json_builder_set_member_name (builder, "platform");
  json_builder_add_string_value (builder, "morango-sync");
  json_builder_set_member_name (builder, "hostname");
  json_builder_add_string_value (builder, g_get_host_name ());
  json_builder_set_member_name (builder, "sysversion");
  json_builder_add_string_value (builder, PACKAGE_VERSION);
  json_builder_set_member_name (builder, "database");
  json_builder_add_string_value (builder, database_id);
  json_builder_set_member_name (builder, "db_path");
  json_builder_add_string_value (builder, morango_db_get_path (db) ? morango_db_get_path (db) : "");
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);
  return morango_wire_json_to_string (node, MORANGO_WIRE_JSON_PYTHON);
}

/* This side's address on the route to the server (informational): a
 * connected UDP socket sends nothing but knows it. */
static char *
local_address_towards (const char *server_address)
{
  g_autoptr(GInetAddress) remote = server_address ? g_inet_address_new_from_string (server_address) : NULL;
  g_autoptr(GSocketAddress) target = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) local = NULL;

  if (remote == NULL)
    return g_strdup ("");
  socket = g_socket_new (g_inet_address_get_family (remote), G_SOCKET_TYPE_DATAGRAM,
                         G_SOCKET_PROTOCOL_UDP, NULL);
  target = g_inet_socket_address_new (remote, 9);
  if (socket == NULL || !g_socket_connect (socket, target, NULL, NULL) ||
      (local = g_socket_get_local_address (socket, NULL)) == NULL ||
      !G_IS_INET_SOCKET_ADDRESS (local))
    return g_strdup ("");
  return g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (local)));
}

/* The server's certificate, fetched with its chain when it is not here
 * yet; the chain must end in a root this device trusts (paired). */
static MorangoCertificate *
server_certificate (MorangoHttpPeer  *self,
                    GCancellable     *cancellable,
                    GError          **error)
{
  MorangoDb *db = morango_store_get_db (self->store);
  g_autoptr(GError) missing = NULL;
  g_autoptr(JsonNode) chain = NULL;
  g_autofree char *query = NULL;
  g_autofree char *escaped = NULL;
  MorangoCertificate *cert = morango_certificate_load (db, self->server_cert_id, &missing);

  if (cert != NULL)
    return cert;
  if (!g_error_matches (missing, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND))
    {
      g_propagate_error (error, g_steal_pointer (&missing));
      return NULL;
    }
  escaped = g_uri_escape_string (self->server_cert_id, NULL, FALSE);
  query = g_strdup_printf ("ancestors_of=%s", escaped);
  chain = morango_http_peer_call_json (self, "GET", "certificates/", query, NULL, cancellable, error);
  if (chain == NULL)
    return NULL;
  if (JSON_NODE_HOLDS_ARRAY (chain) && json_array_get_length (json_node_get_array (chain)) == 0)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND,
                   /* Translators: the first %s is the peer's address */
                   _("%s holds no certificate %s of its own"), self->base_url, self->server_cert_id);
      return NULL;
    }
  cert = morango_certificate_chain_import (db, chain, self->server_cert_id, MORANGO_CHAIN_IMPORT_DEFAULT,
                                           NULL, error);
  if (cert == NULL)
    g_prefix_error (error, _("The certificate chain of %s: "), self->base_url);
  return cert;
}

static MorangoSyncSession *
morango_http_peer_open_sync_session (MorangoPeer               *peer,
                                     const MorangoSyncSession  *request,
                                     GCancellable              *cancellable,
                                     GError                   **error)
{
  MorangoHttpPeer *self = MORANGO_HTTP_PEER (peer);
  g_autoptr(MorangoCertificate) server_cert = NULL;
  g_autoptr(GPtrArray) chain = NULL;
  g_autoptr(JsonObject) body = NULL;
  g_autoptr(JsonNode) body_node = NULL;
  g_autoptr(JsonNode) nonce_node = NULL;
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) instance = NULL;
  g_autoptr(GError) refused = NULL;
  g_autofree char *own_instance = NULL;
  g_autofree char *client_ip = NULL;
  g_autofree char *server_ip = NULL;
  g_autofree char *server_instance = NULL;
  g_autoptr(GBytes) bytes = NULL;
  MorangoHttpRequest post = { .method = "POST", .path = "syncsessions/",
                              .content_type = "application/json", .once = TRUE };
  MorangoSyncSession *ss;
  JsonObject *object;
  const char *nonce, *server_instance_id;
  char *text;

  if (self->client_cert == NULL || self->server_cert_id == NULL ||
      !morango_certificate_has_private_key (self->client_cert))
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                           _("Opening a sync session takes this device's certificate with its "
                           "private key and the server's certificate"));
      return NULL;
    }
  if (g_strcmp0 (request->profile, morango_certificate_get_profile (self->client_cert)) != 0)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("Certificate %s is for profile “%s”, not “%s”"),
                   morango_certificate_get_id (self->client_cert),
                   morango_certificate_get_profile (self->client_cert), request->profile);
      return NULL;
    }
  if (!ensure_connected (self, cancellable, error) ||
      (server_cert = server_certificate (self, cancellable, error)) == NULL)
    return NULL;

  /* §7.10: each side proves it holds its key by signing "<nonce>:<id>". */
  nonce_node = morango_http_peer_call_json (self, "POST", "nonces/", NULL, NULL, cancellable, error);
  if (nonce_node == NULL)
    return NULL;
  object = JSON_NODE_HOLDS_OBJECT (nonce_node) ? json_node_get_object (nonce_node) : NULL;
  nonce = object && json_object_has_member (object, "id") &&
          JSON_NODE_HOLDS_VALUE (json_object_get_member (object, "id")) &&
          json_node_get_value_type (json_object_get_member (object, "id")) == G_TYPE_STRING
            ? json_object_get_string_member (object, "id") : NULL;
  if (nonce == NULL || *nonce == '\0' || strchr (nonce, ':') != NULL)
    {
      /* Translators: the first %s is the peer's address */
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID, _("%s sent no usable nonce"), self->base_url);
      return NULL;
    }
  if ((chain = morango_certificate_get_chain (morango_store_get_db (self->store),
                                              morango_certificate_get_id (self->client_cert), error)) == NULL ||
      (own_instance = instance_json (self, error)) == NULL)
    return NULL;
  /* The copy this peer was given holds the key that signs. */
  g_ptr_array_remove_index (chain, chain->len - 1);
  g_ptr_array_add (chain, g_object_ref (self->client_cert));

  g_mutex_lock (&self->lock);
  server_ip = g_strdup (self->server_address ? self->server_address : self->host);
  g_mutex_unlock (&self->lock);
  client_ip = local_address_towards (server_ip);

  body = morango_http_trust_build_sync_session_request (chain, server_cert, nonce, request->id, self->base_url,
                                                        own_instance, client_ip, server_ip, error);
  if (body == NULL)
    return NULL;
  body_node = json_node_init_object (json_node_alloc (), body);
  text = morango_wire_json_to_string (body_node, MORANGO_WIRE_JSON_PYTHON);
  bytes = g_bytes_new_take (text, strlen (text));
  post.body = bytes;
  if ((reply = morango_http_peer_call (self, &post, NULL, cancellable, error)) == NULL)
    return NULL;

  if (!morango_http_trust_check_sync_session_response (server_cert, nonce, request->id, reply,
                                                       &server_instance, &refused))
    {
      if (g_error_matches (refused, MORANGO_ERROR, MORANGO_ERROR_CERT_SIGNATURE_INVALID))
        {
          g_autofree char *path = session_path ("syncsessions", request->id);
          g_autoptr(JsonNode) closed = NULL;

          /* Nothing goes on with an impostor: the session it opened, if
           * it is the server at all, is closed again. */
          closed = morango_http_peer_call_json (self, "DELETE", path, NULL, NULL, NULL, NULL);
        }
      g_propagate_prefixed_error (error, g_steal_pointer (&refused), "%s: ", self->base_url);
      return NULL;
    }
  instance = morango_wire_json_parse (server_instance, -1, NULL);
  server_instance_id = instance && JSON_NODE_HOLDS_OBJECT (instance) &&
                       json_object_has_member (json_node_get_object (instance), "id") &&
                       json_node_get_value_type (json_object_get_member (json_node_get_object (instance), "id")) == G_TYPE_STRING
                         ? json_object_get_string_member (json_node_get_object (instance), "id")
                         : self->server_instance_id;

  ss = g_new0 (MorangoSyncSession, 1);
  ss->id = g_strdup (request->id);
  ss->is_server = TRUE;
  ss->active = TRUE;
  ss->profile = g_strdup (request->profile);
  ss->connection_kind = g_strdup ("network");
  ss->connection_path = g_strdup (self->base_url);
  ss->client_instance_id = g_strdup (request->client_instance_id);
  ss->server_instance_id = g_strdup (server_instance_id);
  return ss;
}

gboolean
morango_http_peer_check_sync_session (MorangoHttpPeer  *self,
                                      const char       *id,
                                      GCancellable     *cancellable,
                                      GError          **error)
{
  g_autofree char *path = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(MorangoWireSyncSession) ss = NULL;

  g_return_val_if_fail (MORANGO_IS_HTTP_PEER (self), FALSE);
  g_return_val_if_fail (id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  path = session_path ("syncsessions", id);
  if (!ensure_connected (self, cancellable, error) ||
      (node = morango_http_peer_call_json (self, "GET", path, NULL, NULL, cancellable, error)) == NULL)
    return FALSE;
  if ((ss = morango_wire_sync_session_decode (node, error)) == NULL)
    return FALSE;
  if (g_strcmp0 (ss->id, id) != 0 || !ss->active)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND,
                   /* Translators: the first %s is the peer's address */
                   _("%s no longer holds sync session %s open"), self->base_url, id);
      return FALSE;
    }
  return TRUE;
}

static MorangoTransferSession *
morango_http_peer_create_transfer_session (MorangoPeer                   *peer,
                                           const MorangoTransferSession  *request,
                                           GCancellable                  *cancellable,
                                           GError                       **error)
{
  MorangoHttpPeer *self = MORANGO_HTTP_PEER (peer);
  g_autofree char *text = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(MorangoTransferSession) ts = NULL;
  MorangoHttpRequest post = { .method = "POST", .path = "transfersessions/",
                              .content_type = "application/json" };

  if (!ensure_connected (self, cancellable, error))
    return NULL;
  text = morango_wire_transfer_request_encode (request);
  bytes = g_bytes_new (text, strlen (text));
  post.body = bytes;
  /* Sent again after a network failure, it finds the session the first
   * one created (the server goes on with an active one, §8.6.1). */
  if ((node = morango_http_peer_call (self, &post, NULL, cancellable, error)) == NULL ||
      (ts = session_of (self, node, NULL, error)) == NULL)
    return NULL;
  if (!morango_http_peer_is_async (self))
    return legacy_report (self, ts, MORANGO_STAGE_INITIALIZING, MORANGO_STAGE_STATUS_COMPLETED);
  return g_steal_pointer (&ts);
}

/* Drops the chunk bodies prepared for a transfer that stopped. */
static void
forget_prepared (MorangoHttpPeer *self)
{
  g_mutex_lock (&self->lock);
  g_queue_clear_full (&self->prepared, prepared_free);
  g_mutex_unlock (&self->lock);
}

static MorangoTransferSession *
morango_http_peer_get_transfer_session (MorangoPeer   *peer,
                                        const char    *id,
                                        GCancellable  *cancellable,
                                        GError       **error)
{
  MorangoHttpPeer *self = MORANGO_HTTP_PEER (peer);
  g_autoptr(MorangoTransferSession) view = NULL;
  g_autoptr(MorangoTransferSession) ts = NULL;

  /* A transfer looks its session up before it moves chunks (§9.8). */
  forget_prepared (self);
  if (!ensure_connected (self, cancellable, error))
    return NULL;
  if (morango_http_peer_is_async (self))
    return get_session (self, id, cancellable, error);

  /* Legacy: the stage the transfer reached.  The server's row says
   * nothing new between the requests that change it (a Python client
   * sends no GET there), except to a transfer that resumes. */
  if ((view = legacy_lookup (self, id)) != NULL)
    return g_steal_pointer (&view);
  if ((ts = get_session (self, id, cancellable, error)) == NULL)
    return NULL;
  return legacy_report (self, ts, MORANGO_STAGE_INITIALIZING, MORANGO_STAGE_STATUS_COMPLETED);
}

/* The server may run a stage in the background and answer "pending" or
 * "started" at first; it is asked again until it is done.  Python's
 * client sleeps 0.3 s, then 0.9 s, then 1 s between such looks, so a
 * stage that takes a few milliseconds costs it a third of a second:
 * starting at 2 ms and doubling, a look comes soon after a short stage
 * ends, and a long one costs a number of looks that grows only with the
 * logarithm of its length. */
static MorangoTransferSession *
await_stage (MorangoHttpPeer         *self,
             MorangoTransferSession  *ts,
             MorangoStage             stage,
             GCancellable            *cancellable,
             GError                 **error)
{
  g_autoptr(MorangoTransferSession) current = ts;
  guint delay = 2;

  for (guint polls = 0;
       current->stage == stage && (current->status == MORANGO_STAGE_STATUS_PENDING ||
                                   current->status == MORANGO_STAGE_STATUS_STARTED);
       polls++)
    {
      g_autofree char *id = g_strdup (current->id);

      if (polls >= MAX_POLLS)
        {
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_FAILED,
                       /* Translators: the first %s is the peer's address, the second
                        * the protocol's name of a stage, kept in English
                        * ("initializing", "serializing", "queuing", "transferring",
                        * "dequeuing", "deserializing", "cleanup") */
                       _("%s is still running its %s stage"), self->base_url, morango_stage_to_string (stage));
          return NULL;
        }
      if (!morango_http_peer_wait_ms (delay, cancellable, error))
        return NULL;
      delay = MIN (delay * 2, 1000);
      g_clear_pointer (&current, morango_transfer_session_free);
      if ((current = get_session (self, id, cancellable, error)) == NULL)
        return NULL;
    }
  return g_steal_pointer (&current);
}

static MorangoTransferSession *
morango_http_peer_proceed (MorangoPeer              *peer,
                           const char               *id,
                           MorangoStage              stage,
                           const MorangoPeerUpdate  *update,
                           GCancellable             *cancellable,
                           GError                  **error)
{
  MorangoHttpPeer *self = MORANGO_HTTP_PEER (peer);
  MorangoTransferSession *ts;

  if (stage != MORANGO_STAGE_TRANSFERRING)
    forget_prepared (self);
  if (!ensure_connected (self, cancellable, error))
    return NULL;
  if (!morango_http_peer_is_async (self))
    return legacy_proceed (self, id, stage, update, cancellable, error);

  if ((ts = patch_session (self, id, stage, update, cancellable, error)) == NULL)
    return NULL;
  /* A pull's transfer is pending until its last page: the client's
   * count moves it, not time. */
  if (stage == MORANGO_STAGE_TRANSFERRING)
    return ts;
  return await_stage (self, ts, stage, cancellable, error);
}

static gboolean
gzip_chunks (MorangoHttpPeer *self)
{
  return (shared_caps (self) & MORANGO_WIRE_CAP_GZIP_BUFFER_POST) != 0;
}

/* The body of POST buffers/ for @chunk: the records as a Python client
 * writes them, gzipped when both sides take it (§8.7.1; Python's level
 * is 9, ours MORANGO_WIRE_GZIP_LEVEL). */
static GBytes *
encode_chunk (MorangoHttpPeer    *self,
              const char         *id,
              MorangoBufferChunk *chunk)
{
  g_autofree char *text = morango_wire_chunk_encode (chunk, id, MORANGO_WIRE_JSON_PYTHON);
  gsize size = strlen (text);

  if (gzip_chunks (self))
    return morango_wire_gzip (text, size, MORANGO_WIRE_GZIP_LEVEL);
  return g_bytes_new_take (g_steal_pointer (&text), size);
}

static const char *
first_uuid (MorangoBufferChunk *chunk)
{
  return chunk->records->len ? g_array_index (chunk->records, MorangoBufferRecord, 0).model_uuid : "";
}

/* On the transfer's chunk thread: the encoding and the compression,
 * which take longer than anything but the request, done while the last
 * chunk travels. */
static gboolean
morango_http_peer_prepare_chunk (MorangoPeer         *peer,
                                 const char          *id,
                                 MorangoBufferChunk  *chunk,
                                 GError             **error)
{
  MorangoHttpPeer *self = MORANGO_HTTP_PEER (peer);
  Prepared *p = g_new0 (Prepared, 1);

  p->chunk = chunk;
  p->n_records = chunk->records->len;
  p->first_uuid = g_strdup (first_uuid (chunk));
  p->body = encode_chunk (self, id, chunk);
  g_mutex_lock (&self->lock);
  g_queue_push_tail (&self->prepared, p);
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/* The body prepared for @chunk, if any.  Chunks are pushed in the order
 * they were prepared; older bodies belong to chunks that were not
 * pushed, and go. */
static GBytes *
take_prepared (MorangoHttpPeer    *self,
               MorangoBufferChunk *chunk)
{
  GBytes *body = NULL;

  g_mutex_lock (&self->lock);
  while (body == NULL && !g_queue_is_empty (&self->prepared))
    {
      Prepared *p = g_queue_pop_head (&self->prepared);

      if (p->chunk == chunk && p->n_records == chunk->records->len &&
          g_strcmp0 (p->first_uuid, first_uuid (chunk)) == 0)
        body = g_bytes_ref (p->body);
      prepared_free (p);
    }
  g_mutex_unlock (&self->lock);
  return body;
}

static gboolean
morango_http_peer_push_chunk (MorangoPeer         *peer,
                              const char          *id,
                              MorangoBufferChunk  *chunk,
                              MorangoMonitor      *monitor,
                              GError             **error)
{
  MorangoHttpPeer *self = MORANGO_HTTP_PEER (peer);
  GCancellable *cancellable = monitor ? morango_monitor_get_cancellable (monitor) : NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(JsonNode) node = NULL;
  MorangoHttpRequest post = { .method = "POST", .path = "buffers/", .once = TRUE };

  if (!morango_monitor_check_cancelled (monitor, error) ||
      !ensure_connected (self, cancellable, error))
    return FALSE;
  if ((body = take_prepared (self, chunk)) == NULL)
    body = encode_chunk (self, id, chunk);
  post.body = body;
  /* Python servers take gzip only as this content type, never as a
   * Content-Encoding (correction 17). */
  post.content_type = gzip_chunks (self) ? "application/gzip" : "application/json";
  /* Sent twice, a chunk the server already took fails it (correction
   * 17): after a failure the transfer asks the server what it holds. */
  if ((node = morango_http_peer_call (self, &post, NULL, cancellable, error)) == NULL)
    return FALSE;

  /* The server holds the chunk now: a cancel from here on is for the
   * next one, so the count stays what the server has. */
  morango_monitor_advance (monitor, chunk->records->len, chunk->bytes, NULL);

  if (!morango_http_peer_is_async (self))
    {
      g_autoptr(MorangoTransferSession) view = legacy_lookup (self, id);

      if (view != NULL)
        {
          g_autoptr(MorangoTransferSession) done = NULL;

          view->records_transferred += chunk->records->len;
          done = legacy_report (self, view, MORANGO_STAGE_TRANSFERRING,
                                view->records_total >= 0 && view->records_transferred >= view->records_total
                                  ? MORANGO_STAGE_STATUS_COMPLETED : MORANGO_STAGE_STATUS_PENDING);
        }
    }
  return TRUE;
}

static MorangoBufferChunk *
morango_http_peer_fetch_chunk (MorangoPeer   *peer,
                               const char    *id,
                               gint64         offset,
                               guint          limit,
                               GCancellable  *cancellable,
                               GError       **error)
{
  MorangoHttpPeer *self = MORANGO_HTTP_PEER (peer);
  g_autofree char *escaped = g_uri_escape_string (id, NULL, FALSE);
  g_autofree char *query = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(MorangoBufferChunk) chunk = NULL;
  g_autofree char *named = NULL;
  MorangoHttpRequest get = { .method = "GET", .path = "buffers/", .accept_gzip = TRUE };

  if (!ensure_connected (self, cancellable, error))
    return NULL;
  /* The keys in the order Python's client sends them. */
  query = g_strdup_printf ("limit=%u&offset=%" G_GINT64_FORMAT "&transfer_session_id=%s",
                           limit, offset, escaped);
  get.query = query;
  if ((node = morango_http_peer_call (self, &get, NULL, cancellable, error)) == NULL)
    return NULL;
  if ((chunk = morango_wire_page_decode (node, &named, NULL, error)) == NULL)
    {
      g_prefix_error (error, _("The records %s sent: "), self->base_url);
      return NULL;
    }
  if (named != NULL && strcmp (named, id) != 0)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_RECORD_REJECTED,
                   /* Translators: the first %s is the peer's address */
                   _("%s sent records of transfer session %s for transfer session %s"),
                   self->base_url, named, id);
      return NULL;
    }
  if (chunk->records->len > limit)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   /* Translators: the peer's address, the number of records it
                    * sent, the most it was asked for; the form goes by this
                    * last number */
                   morango_ngettext ("%s sent %u records when asked for %u at most",
                                     "%s sent %u records when asked for %u at most", limit), self->base_url,
                   chunk->records->len, limit);
      return NULL;
    }
  return g_steal_pointer (&chunk);
}

/* DELETE of something already gone is done. */
static gboolean
delete_session (MorangoHttpPeer  *self,
                const char       *collection,
                const char       *id,
                GCancellable     *cancellable,
                GError          **error)
{
  g_autofree char *path = session_path (collection, id);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(JsonNode) node = morango_http_peer_call_json (self, "DELETE", path, NULL, NULL,
                                                          cancellable, &local_error);

  if (node == NULL && !g_error_matches (local_error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return TRUE;
}

static gboolean
morango_http_peer_close (MorangoPeer   *peer,
                         const char    *transfer_session_id,
                         const char    *sync_session_id,
                         GCancellable  *cancellable,
                         GError       **error)
{
  MorangoHttpPeer *self = MORANGO_HTTP_PEER (peer);

  if (!ensure_connected (self, cancellable, error))
    return FALSE;
  /* A legacy server dequeues and deserializes a push here (§9.6). */
  if (transfer_session_id != NULL)
    {
      if (!delete_session (self, "transfersessions", transfer_session_id, cancellable, error))
        return FALSE;
      g_mutex_lock (&self->lock);
      g_hash_table_remove (self->legacy, transfer_session_id);
      g_mutex_unlock (&self->lock);
    }
  return sync_session_id == NULL ||
         delete_session (self, "syncsessions", sync_session_id, cancellable, error);
}

static void
morango_http_peer_iface_init (MorangoPeerInterface *iface)
{
  iface->open_sync_session = morango_http_peer_open_sync_session;
  iface->create_transfer_session = morango_http_peer_create_transfer_session;
  iface->get_transfer_session = morango_http_peer_get_transfer_session;
  iface->proceed = morango_http_peer_proceed;
  iface->prepare_chunk = morango_http_peer_prepare_chunk;
  iface->push_chunk = morango_http_peer_push_chunk;
  iface->fetch_chunk = morango_http_peer_fetch_chunk;
  iface->close = morango_http_peer_close;
}
