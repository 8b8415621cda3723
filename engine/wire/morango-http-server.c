/* morango-http-server.c: a data folder served over HTTP as Morango 0.8.2 serves it
 *
 * The handler runs on the listening context and only reads the request;
 * everything that touches the database runs on a worker thread (a
 * GTask) with a store connection of the server's pool, while the
 * message is paused.  So one client's long PATCH (queuing or dequeuing
 * many records) never keeps another's request waiting for the context.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include <libsoup/soup.h>

#include "morango-certificate.h"
#include "morango-http-server.h"
#include "morango-http-trust.h"
#include "morango-ids.h"
#include "morango-json.h"
#include "morango-rate-limit.h"
#include "morango-serve.h"
#include "morango-shared-key.h"
#include "morango-store.h"
#include "morango-i18n-private.h"

#define API_PREFIX "/api/morango/v1/"
/* Our own calls, beside Morango's API (docs/accounts.md). */
#define LEARNERS_PATH "/api/morango-sync/v1/learners/"

struct _MorangoHttpServer
{
  GObject                  parent_instance;

  char                    *data_dir;
  char                    *description;
  MorangoHostInfo         *host;
  MorangoRandom           *random;
  char                    *instance_id;
  char                    *db_path;
  MorangoWireCapabilities  caps;
  gsize                    body_limit;
  SoupServer              *soup;
  MorangoHttpServerClock   clock;
  gpointer                 clock_data;
  gboolean                 accept_new_roots;
  /* Signing requests per client address, against password guessing. */
  MorangoRateLimit        *csr_attempts;
  GTlsCertificate         *tls_certificate;   /* NULL: plain HTTP */

  /* Store connections nobody uses at the moment, each released (owned
   * by no thread); a worker takes one or opens a new one. */
  GMutex                   lock;
  GPtrArray               *idle;
  /* Where the last page of each pull session ended, so that paging
   * steps on instead of counting rows from the start. */
  GHashTable              *cursors;
};

G_DEFINE_FINAL_TYPE (MorangoHttpServer, morango_http_server, G_TYPE_OBJECT)

enum { SIGNAL_SYNC_SESSION_CLOSED, SIGNAL_NO_ACCOUNT, N_SIGNALS };
static guint signals[N_SIGNALS];

static void
release_store (MorangoStore *store)
{
  morango_db_release (morango_store_get_db (store));
}

static void
morango_http_server_finalize (GObject *object)
{
  MorangoHttpServer *self = (MorangoHttpServer *)object;

  if (self->soup != NULL)
    soup_server_disconnect (self->soup);
  g_clear_object (&self->soup);
  g_clear_object (&self->tls_certificate);
  /* Idle connections belong to nobody: take each back to close it. */
  for (guint i = 0; i < self->idle->len; i++)
    morango_db_acquire (morango_store_get_db (self->idle->pdata[i]));
  g_ptr_array_unref (self->idle);
  g_hash_table_unref (self->cursors);
  morango_rate_limit_free (self->csr_attempts);
  g_mutex_clear (&self->lock);
  g_free (self->data_dir);
  g_free (self->description);
  g_free (self->instance_id);
  g_free (self->db_path);
  g_clear_pointer (&self->host, morango_host_info_free);
  g_clear_pointer (&self->random, morango_random_unref);

  G_OBJECT_CLASS (morango_http_server_parent_class)->finalize (object);
}

static void
morango_http_server_class_init (MorangoHttpServerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = morango_http_server_finalize;

  signals[SIGNAL_SYNC_SESSION_CLOSED] =
    g_signal_new ("sync-session-closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_NO_ACCOUNT] =
    g_signal_new ("no-account", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
morango_http_server_init (MorangoHttpServer *self)
{
  g_mutex_init (&self->lock);
  self->idle = g_ptr_array_new_with_free_func (g_object_unref);
  self->cursors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->caps = MORANGO_WIRE_CAPS_DEFAULT;
  self->body_limit = MORANGO_HTTP_SERVER_BODY_LIMIT;
  self->csr_attempts = morango_rate_limit_new (MORANGO_HTTP_SERVER_CSR_FAILURES,
                                               MORANGO_HTTP_SERVER_CSR_WINDOW * G_USEC_PER_SEC,
                                               MORANGO_HTTP_SERVER_CSR_ADDRESSES);
}

static MorangoStore *
open_store (MorangoHttpServer  *self,
            GError            **error)
{
  return morango_store_open_folder (self->data_dir, self->description, self->host, self->random,
                                    error);
}

MorangoHttpServer *
morango_http_server_new (const char             *data_dir,
                         const char             *description,
                         const MorangoHostInfo  *host,
                         GError                **error)
{
  g_autoptr(MorangoHttpServer) self = NULL;
  g_autoptr(MorangoStore) store = NULL;

  g_return_val_if_fail (data_dir != NULL, NULL);

  self = g_object_new (MORANGO_TYPE_HTTP_SERVER, NULL);
  self->data_dir = g_strdup (data_dir);
  self->description = g_strdup (description);
  self->host = host ? morango_host_info_copy (host) : NULL;
  /* Drawn from by every worker: only the secure source is safe there. */
  self->random = morango_random_new_secure ();
  if ((store = open_store (self, error)) == NULL)
    return NULL;
  self->instance_id = g_strdup (morango_store_get_instance_id (store));
  self->db_path = g_strdup (morango_db_get_path (morango_store_get_db (store)));
  release_store (store);
  g_ptr_array_add (self->idle, g_steal_pointer (&store));
  return g_steal_pointer (&self);
}

void
morango_http_server_set_capabilities (MorangoHttpServer       *self,
                                      MorangoWireCapabilities  caps)
{
  g_return_if_fail (MORANGO_IS_HTTP_SERVER (self));
  self->caps = caps;
}

MorangoWireCapabilities
morango_http_server_get_capabilities (MorangoHttpServer *self)
{
  g_return_val_if_fail (MORANGO_IS_HTTP_SERVER (self), 0);
  return self->caps;
}

void
morango_http_server_set_body_limit (MorangoHttpServer *self,
                                    gsize              limit)
{
  g_return_if_fail (MORANGO_IS_HTTP_SERVER (self));
  self->body_limit = limit;
}

void
morango_http_server_set_clock (MorangoHttpServer      *self,
                               MorangoHttpServerClock  clock,
                               gpointer                data)
{
  g_return_if_fail (MORANGO_IS_HTTP_SERVER (self));
  self->clock = clock;
  self->clock_data = data;
}

void
morango_http_server_set_accept_new_roots (MorangoHttpServer *self,
                                          gboolean           accept)
{
  g_return_if_fail (MORANGO_IS_HTTP_SERVER (self));
  self->accept_new_roots = accept;
}

/* Seconds since the epoch, or 0 for the real clock (which the trust
 * handlers then read to the microsecond). */
static gint64
now_unix (MorangoHttpServer *self)
{
  return self->clock != NULL ? self->clock (self->clock_data) : 0;
}

/* The time the attempt limit counts in: the test clock when one is set,
 * else a clock that never jumps back. */
static gint64
attempt_clock (MorangoHttpServer *self)
{
  return self->clock != NULL ? self->clock (self->clock_data) * G_USEC_PER_SEC : g_get_monotonic_time ();
}

const char *
morango_http_server_get_instance_id (MorangoHttpServer *self)
{
  g_return_val_if_fail (MORANGO_IS_HTTP_SERVER (self), NULL);
  return self->instance_id;
}

/* ---- the store pool ---- */

static MorangoStore *
lease_store (MorangoHttpServer  *self,
             GError            **error)
{
  MorangoStore *store = NULL;

  g_mutex_lock (&self->lock);
  if (self->idle->len > 0)
    store = g_ptr_array_steal_index_fast (self->idle, self->idle->len - 1);
  g_mutex_unlock (&self->lock);
  if (store == NULL)
    return open_store (self, error);
  if (!morango_db_acquire (morango_store_get_db (store)))
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_FAILED,
                           _("A connection of the pool could not be taken over"));
      g_object_unref (store);
      return NULL;
    }
  return store;
}

static void
return_store (MorangoHttpServer *self,
              MorangoStore      *store)
{
  release_store (store);
  g_mutex_lock (&self->lock);
  g_ptr_array_add (self->idle, store);
  g_mutex_unlock (&self->lock);
}

/* ---- a request ---- */

typedef enum {
  ROUTE_SYNC_SESSIONS,
  ROUTE_TRANSFER_SESSIONS,
  ROUTE_BUFFERS,
  ROUTE_CERTIFICATES,
  ROUTE_NONCES,
  ROUTE_PUBLIC_KEY,
  ROUTE_CERTIFICATE_CHAIN,
  ROUTE_LEARNERS,
} Route;

typedef struct {
  MorangoHttpServer       *server;
  SoupServerMessage       *msg;
  gulong                   disconnected_id;
  gboolean                 gone;

  /* What the worker reads. */
  Route                    route;
  char                    *method;
  char                    *id;
  MorangoWireCapabilities  client_caps;
  char                    *content_type;
  GBytes                  *body;
  GHashTable              *query;
  char                    *base_uri;      /* for pagination links */
  char                    *remote_ip;
  char                    *authorization;
  char                    *attempt;       /* a signing request counted under this address */
  gboolean                 gzip_reply;

  /* What the worker answers. */
  guint                    status;
  char                    *reply;         /* NULL: no body */
  char                    *closed_client; /* a sync session was closed */
  char                    *closed_sync;
  char                    *www_authenticate;
  gboolean                 no_account;    /* a CSR came to a device without accounts */
} Request;

static void
request_free (Request *r)
{
  if (r->disconnected_id != 0)
    g_signal_handler_disconnect (r->msg, r->disconnected_id);
  g_object_unref (r->msg);
  g_object_unref (r->server);
  g_free (r->method);
  g_free (r->id);
  g_free (r->content_type);
  g_clear_pointer (&r->body, g_bytes_unref);
  g_clear_pointer (&r->query, g_hash_table_unref);
  g_free (r->base_uri);
  g_free (r->remote_ip);
  if (r->authorization != NULL)
    explicit_bzero (r->authorization, strlen (r->authorization));
  g_free (r->authorization);
  g_free (r->attempt);
  g_free (r->www_authenticate);
  g_free (r->reply);
  g_free (r->closed_client);
  g_free (r->closed_sync);
  g_free (r);
}

static void
answer_text (Request    *r,
             guint       status,
             char       *reply)
{
  r->status = status;
  g_free (r->reply);
  r->reply = reply;
}

static void
answer_node (Request  *r,
             guint     status,
             JsonNode *node)
{
  answer_text (r, status, morango_wire_json_to_string (node, MORANGO_WIRE_JSON_COMPACT));
}

/* A bare JSON string, the shape of Morango's own refusals. */
static void
answer_string (Request    *r,
               guint       status,
               const char *text)
{
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_VALUE);

  json_node_set_string (node, text);
  answer_node (r, status, node);
}

/* {"detail": text}, the shape of Django REST framework's errors. */
static void
answer_detail (Request    *r,
               guint       status,
               const char *text)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "detail");
  json_builder_add_string_value (b, text);
  json_builder_end_object (b);
  node = json_builder_get_root (b);
  answer_node (r, status, node);
}

static void
answer_not_found (Request *r)
{
  answer_detail (r, SOUP_STATUS_NOT_FOUND, "Not found.");
}

/* The status and body a failure of the engine gets. */
static void
answer_error (Request      *r,
              const GError *error)
{
  if (error->domain == MORANGO_ERROR)
    switch (error->code)
      {
      case MORANGO_ERROR_NOT_FOUND:
        answer_not_found (r);
        return;
      case MORANGO_ERROR_RECORD_REJECTED:
        {
          /* Receipt checks: a JSON array holding the message (§8.7). */
          g_autoptr(JsonNode) node = json_node_new (JSON_NODE_ARRAY);
          JsonArray *array = json_array_new ();

          json_array_add_string_element (array, error->message);
          json_node_take_array (node, array);
          answer_node (r, SOUP_STATUS_BAD_REQUEST, node);
        }
        return;
      case MORANGO_ERROR_PERMISSION_DENIED:
        answer_string (r, SOUP_STATUS_FORBIDDEN, error->message);
        return;
      case MORANGO_ERROR_LIMIT_EXCEEDED:
        answer_detail (r, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, error->message);
        return;
      case MORANGO_ERROR_FAILED:
      case MORANGO_ERROR_CANCELLED:
        break;
      default:
        answer_detail (r, SOUP_STATUS_BAD_REQUEST, error->message);
        return;
      }
  if (g_error_matches (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_CONSTRAINT))
    {
      answer_detail (r, SOUP_STATUS_BAD_REQUEST, error->message);
      return;
    }
  if (g_error_matches (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_BUSY))
    {
      answer_detail (r, SOUP_STATUS_SERVICE_UNAVAILABLE, error->message);
      return;
    }
  g_warning ("Answering 500: %s", error->message);
  answer_detail (r, SOUP_STATUS_INTERNAL_SERVER_ERROR, error->message);
}

/* The request body as JSON: a 400 names what is wrong. */
static JsonNode *
body_json (Request *r)
{
  g_autoptr(GError) error = NULL;
  gsize size = 0;
  const char *data = r->body ? g_bytes_get_data (r->body, &size) : NULL;
  JsonNode *node;

  if (data == NULL || size == 0)
    {
      answer_detail (r, SOUP_STATUS_BAD_REQUEST, "JSON parse error - the body is empty");
      return NULL;
    }
  if ((node = morango_wire_json_parse (data, size, &error)) == NULL)
    answer_detail (r, SOUP_STATUS_BAD_REQUEST, error->message);
  return node;
}

/* ---- rows the wire shows but the session API does not carry ---- */

/* A stored time ("YYYY-MM-DD HH:MM:SS.ffffff", UTC) as Django renders it. */
static char *
iso_time (const char *stored)
{
  GString *out = g_string_new (stored);
  char *dot;

  if (out->len > 10 && out->str[10] == ' ')
    out->str[10] = 'T';
  dot = strchr (out->str, '.');
  if (dot != NULL && strspn (dot + 1, "0") == strlen (dot + 1))
    g_string_truncate (out, dot - out->str);
  g_string_append_c (out, 'Z');
  return g_string_free (out, FALSE);
}

static gboolean
load_transfer_info (MorangoDb                *db,
                    const char               *id,
                    MorangoWireTransferInfo  *info,
                    GError                  **error)
{
  sqlite3_stmt *stmt = morango_db_prepare (db,
                                           "SELECT start_timestamp, last_activity_timestamp, "
                                           "  bytes_sent, bytes_received "
                                           "FROM morango_transfersession WHERE id = ?", error);
  int rc;

  if (stmt == NULL || !morango_db_bind (db, stmt, error, "s", id))
    return FALSE;
  if ((rc = morango_db_step (db, stmt, error)) < 0)
    return FALSE;
  if (rc == SQLITE_ROW)
    {
      info->start_timestamp = iso_time (morango_db_column_text (stmt, 0));
      info->last_activity_timestamp = iso_time (morango_db_column_text (stmt, 1));
      info->bytes_sent = sqlite3_column_int64 (stmt, 2);
      info->bytes_received = sqlite3_column_int64 (stmt, 3);
    }
  sqlite3_reset (stmt);
  return TRUE;
}

static void
answer_transfer (Request                *r,
                 MorangoDb              *db,
                 guint                   status,
                 MorangoTransferSession *ts)
{
  MorangoWireTransferInfo info = { 0 };
  g_autoptr(GError) error = NULL;

  if (!load_transfer_info (db, ts->id, &info, &error))
    {
      answer_error (r, error);
      return;
    }
  answer_text (r, status, morango_wire_transfer_session_encode (ts, &info));
  morango_wire_transfer_info_clear (&info);
}

/* The server's sync session @id, active; NULL when there is none. */
static MorangoWireSyncSession *
load_sync (MorangoDb   *db,
           const char  *id,
           GError     **error)
{
  sqlite3_stmt *stmt = morango_db_prepare (db,
                                           "SELECT id, start_timestamp, last_activity_timestamp, active, "
                                           "  client_certificate_id, server_certificate_id, profile, "
                                           "  connection_kind, connection_path, client_ip, server_ip, "
                                           "  client_instance_json, server_instance_json, client_instance_id "
                                           "FROM morango_syncsession "
                                           "WHERE id = ? AND active AND is_server", error);
  MorangoWireSyncSession *ss = NULL;
  int rc;

  if (stmt == NULL || !morango_db_bind (db, stmt, error, "s", id))
    return NULL;
  if ((rc = morango_db_step (db, stmt, error)) < 0)
    return NULL;
  if (rc != SQLITE_ROW)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND, "No sync session %s", id);
      return NULL;
    }
  ss = g_new0 (MorangoWireSyncSession, 1);
  ss->id = g_strdup (morango_db_column_text (stmt, 0));
  ss->start_timestamp = iso_time (morango_db_column_text (stmt, 1));
  ss->last_activity_timestamp = iso_time (morango_db_column_text (stmt, 2));
  ss->active = sqlite3_column_int (stmt, 3) != 0;
  ss->client_certificate_id = g_strdup ((const char *) sqlite3_column_text (stmt, 4));
  ss->server_certificate_id = g_strdup ((const char *) sqlite3_column_text (stmt, 5));
  ss->profile = g_strdup (morango_db_column_text (stmt, 6));
  ss->connection_kind = g_strdup (morango_db_column_text (stmt, 7));
  ss->connection_path = g_strdup (morango_db_column_text (stmt, 8));
  ss->client_ip = g_strdup (morango_db_column_text (stmt, 9));
  ss->server_ip = g_strdup (morango_db_column_text (stmt, 10));
  ss->client_instance = g_strdup (morango_db_column_text (stmt, 11));
  ss->server_instance = g_strdup (morango_db_column_text (stmt, 12));
  sqlite3_reset (stmt);
  return ss;
}

/* The instance JSON this server shows its clients. */
static char *
server_instance_json (MorangoHttpServer *self,
                      MorangoStore      *store)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *database = morango_instance_ensure_database_id (morango_store_get_db (store),
                                                                   self->random, NULL);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, self->instance_id);
  json_builder_set_member_name (b, "platform");
  json_builder_add_string_value (b, self->host && self->host->platform ? self->host->platform : "");
  json_builder_set_member_name (b, "hostname");
  json_builder_add_string_value (b, self->host && self->host->hostname ? self->host->hostname : "");
  json_builder_set_member_name (b, "sysversion");
  json_builder_add_string_value (b, self->host && self->host->sysversion ? self->host->sysversion : "");
  json_builder_set_member_name (b, "database");
  json_builder_add_string_value (b, database ? database : "");
  json_builder_set_member_name (b, "db_path");
  json_builder_add_string_value (b, self->db_path);
  json_builder_end_object (b);
  node = json_builder_get_root (b);
  return morango_json_dumps (node);
}

/* How the server side of a sync works for this request. */
static MorangoServeOptions
options_for (Request *r)
{
  MorangoWireCapabilities both = r->client_caps & r->server->caps;

  return (MorangoServeOptions) {
    .format = (both & MORANGO_WIRE_CAP_FSIC_V2_FORMAT) ? MORANGO_FSIC_V2 : MORANGO_FSIC_V1,
    .fsic_reduction = TRUE,
  };
}

static gboolean
is_async (Request *r)
{
  return (r->client_caps & r->server->caps & MORANGO_WIRE_CAP_ASYNC_OPERATIONS) != 0;
}

/* The scopes of a sync session's two certificates. */
static gboolean
session_scopes (MorangoDb               *db,
                const MorangoWireSyncSession *ss,
                MorangoScope           **client,
                MorangoScope           **server,
                GError                 **error)
{
  g_autoptr(MorangoCertificate) c = NULL;
  g_autoptr(MorangoCertificate) s = NULL;

  if (ss->client_certificate_id == NULL || ss->server_certificate_id == NULL)
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED,
                           "The sync session names no certificates");
      return FALSE;
    }
  if ((c = morango_certificate_load (db, ss->client_certificate_id, error)) == NULL ||
      (s = morango_certificate_load (db, ss->server_certificate_id, error)) == NULL ||
      (*client = morango_certificate_get_scope (c, db, error)) == NULL)
    return FALSE;
  if ((*server = morango_certificate_get_scope (s, db, error)) == NULL)
    {
      g_clear_pointer (client, morango_scope_free);
      return FALSE;
    }
  return TRUE;
}

/* The options of transfer session @ts's sync: what the server may
 * write is its certificate's write scope. */
static gboolean
options_for_transfer (Request                      *r,
                      MorangoDb                    *db,
                      const MorangoTransferSession *ts,
                      MorangoServeOptions          *options,
                      MorangoScope                **keep,
                      GError                      **error)
{
  g_autoptr(MorangoWireSyncSession) ss = load_sync (db, ts->sync_session_id, NULL);
  g_autoptr(MorangoScope) client = NULL;

  *options = options_for (r);
  if (ss == NULL)
    {
      /* Morango's answer word for word; like the two above, only a peer
       * ever reads it, so it is not offered for translation. */
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND,
                           "Requested syncsession does not exist or is no longer active!");
      return FALSE;
    }
  if (!session_scopes (db, ss, &client, keep, error))
    return FALSE;
  options->writable = morango_scope_get_write (*keep);
  return TRUE;
}

/* ---- endpoints (on a worker, owning @store's connection) ---- */

static void
post_sync_session (Request      *r,
                   MorangoStore *store)
{
  MorangoHttpServer *self = r->server;
  MorangoDb *db = morango_store_get_db (store);
  g_autoptr(JsonNode) node = body_json (r);
  g_autoptr(MorangoWireSyncSessionRequest) request = NULL;
  g_autoptr(MorangoCertificate) client = NULL;
  g_autoptr(MorangoCertificate) server = NULL;
  g_autoptr(JsonNode) refusal = NULL;
  g_autoptr(JsonNode) instance = NULL;
  g_autoptr(MorangoTransaction) tx = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoSyncSession) existing = NULL;
  g_autofree char *message = NULL;
  g_autofree char *signature = NULL;
  g_autofree char *own_instance = NULL;
  const char *client_instance_id;
  guint status = 0;

  if (node == NULL)
    return;
  if ((request = morango_wire_sync_session_request_decode (node, &error)) == NULL)
    {
      answer_error (r, error);
      return;
    }
  instance = morango_wire_json_parse (request->instance, -1, NULL);
  client_instance_id = json_object_get_string_member_with_default (json_node_get_object (instance),
                                                                   "id", "");
  if (!morango_is_hex32 (request->id) || !morango_is_hex32 (client_instance_id))
    {
      answer_detail (r, SOUP_STATUS_BAD_REQUEST,
                     "The sync session id and the instance's id must be 32 hex characters");
      return;
    }
  if ((existing = morango_sync_session_load (db, request->id, NULL)) != NULL)
    {
      answer_detail (r, SOUP_STATUS_BAD_REQUEST, "A sync session with this id exists already");
      return;
    }

  if (!morango_http_trust_check_sync_session (store, json_node_get_object (node),
                                              now_unix (self),
                                              &client, &server, &status, &refusal))
    {
      answer_node (r, status, refusal);
      return;
    }

  message = g_strdup_printf ("%s:%s", request->nonce, request->id);
  own_instance = server_instance_json (self, store);
  if ((signature = morango_certificate_sign (server, message, &error)) == NULL ||
      (tx = morango_transaction_begin (db, NULL, &error)) == NULL ||
      !morango_sync_session_create (db, request->id, TRUE, morango_store_get_profile_name (store),
                                    "network", request->connection_path, client_instance_id,
                                    self->instance_id, &error) ||
      !morango_db_execute (db, &error,
                           "UPDATE morango_syncsession SET client_certificate_id = ?, "
                           "  server_certificate_id = ?, client_ip = ?, server_ip = ?, "
                           "  client_instance_json = ?, server_instance_json = ? WHERE id = ?",
                           "sssssss", morango_certificate_get_id (client),
                           morango_certificate_get_id (server), r->remote_ip ? r->remote_ip : "",
                           request->server_ip, request->instance, own_instance, request->id) ||
      !morango_transaction_commit (tx, &error))
    {
      answer_error (r, error);
      return;
    }
  answer_text (r, SOUP_STATUS_CREATED, morango_wire_sync_session_reply_encode (signature, own_instance));
}

static void
sync_session_item (Request      *r,
                   MorangoStore *store)
{
  MorangoDb *db = morango_store_get_db (store);
  g_autoptr(MorangoWireSyncSession) ss = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoSyncSession) row = NULL;

  if ((ss = load_sync (db, r->id, &error)) == NULL)
    {
      answer_error (r, error);
      return;
    }
  if (g_str_equal (r->method, "GET"))
    {
      answer_text (r, SOUP_STATUS_OK, morango_wire_sync_session_encode (ss));
      return;
    }
  row = morango_sync_session_load (db, r->id, &error);
  if (row == NULL || !morango_serve_close_sync (store, r->id, &error))
    {
      answer_error (r, error);
      return;
    }
  r->closed_client = g_strdup (row->client_instance_id);
  r->closed_sync = g_strdup (r->id);
  answer_text (r, SOUP_STATUS_NO_CONTENT, NULL);
}

static void
post_transfer_session (Request      *r,
                       MorangoStore *store)
{
  MorangoDb *db = morango_store_get_db (store);
  g_autoptr(JsonNode) node = body_json (r);
  g_autoptr(MorangoTransferSession) request = NULL;
  g_autoptr(MorangoTransferSession) ts = NULL;
  g_autoptr(MorangoWireSyncSession) ss = NULL;
  g_autoptr(MorangoScope) client = NULL;
  g_autoptr(MorangoScope) server = NULL;
  g_autoptr(MorangoFilter) filter = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *refusal = NULL;
  MorangoServeOptions options;

  if (node == NULL)
    return;
  if ((request = morango_wire_transfer_request_decode (node, &error)) == NULL)
    {
      answer_error (r, error);
      return;
    }
  if (!morango_is_hex32 (request->id))
    {
      answer_detail (r, SOUP_STATUS_BAD_REQUEST, "A transfer session id must be 32 hex characters");
      return;
    }
  if ((ss = load_sync (db, request->sync_session_id, NULL)) == NULL)
    {
      answer_string (r, SOUP_STATUS_BAD_REQUEST,
                     "Requested syncsession does not exist or is no longer active!");
      return;
    }
  /* The client's certificate must allow reading (pull) or writing
   * (push) the filter, the server's the other way (§6.4). */
  filter = morango_filter_parse (request->filter);
  if (!session_scopes (db, ss, &client, &server, &error))
    {
      answer_error (r, error);
      return;
    }
  if (!morango_scope_gate_transfer (client, server, filter, request->push, &refusal))
    {
      answer_string (r, SOUP_STATUS_FORBIDDEN, refusal);
      return;
    }

  if ((ts = morango_serve_create_transfer (store, request, &error)) == NULL)
    {
      answer_error (r, error);
      return;
    }
  /* A legacy client expects the server's FSIC (and, pulling, the
   * records) from the creation alone (§9.6). */
  if (!is_async (r))
    {
      options = options_for (r);
      options.writable = morango_scope_get_write (server);
      if (!morango_serve_run_to (store, &options, ts->id, MORANGO_STAGE_QUEUING, &error))
        {
          answer_error (r, error);
          return;
        }
      g_clear_pointer (&ts, morango_transfer_session_free);
      if ((ts = morango_serve_load_active (store, request->id, &error)) == NULL &&
          (ts = morango_transfer_session_load (db, request->id, &error)) == NULL)
        {
          answer_error (r, error);
          return;
        }
    }
  answer_transfer (r, db, SOUP_STATUS_CREATED, ts);
}

static void
transfer_session_item (Request      *r,
                       MorangoStore *store)
{
  MorangoDb *db = morango_store_get_db (store);
  g_autoptr(MorangoTransferSession) ts = NULL;
  g_autoptr(MorangoScope) server = NULL;
  g_autoptr(GError) error = NULL;
  MorangoServeOptions options;

  if ((ts = morango_serve_load_active (store, r->id, &error)) == NULL)
    {
      answer_error (r, error);
      return;
    }
  if (g_str_equal (r->method, "GET"))
    {
      answer_transfer (r, db, SOUP_STATUS_OK, ts);
      return;
    }
  if (!options_for_transfer (r, db, ts, &options, &server, &error))
    {
      answer_error (r, error);
      return;
    }

  if (g_str_equal (r->method, "PATCH"))
    {
      g_autoptr(JsonNode) node = body_json (r);
      g_autoptr(MorangoTransferSession) after = NULL;
      g_autoptr(JsonNode) fsic = NULL;
      MorangoWireTransferUpdate u = MORANGO_WIRE_TRANSFER_UPDATE_INIT;

      if (node == NULL)
        return;
      if (!morango_wire_transfer_update_decode (node, &u, &error))
        {
          answer_error (r, error);
          return;
        }
      if (u.client_fsic != NULL &&
          ((fsic = morango_wire_json_parse (u.client_fsic, -1, NULL)) == NULL ||
           !JSON_NODE_HOLDS_OBJECT (fsic)))
        {
          morango_wire_transfer_update_clear (&u);
          answer_detail (r, SOUP_STATUS_BAD_REQUEST,
                         "The key “client_fsic” must hold the text of a JSON object");
          return;
        }
      after = morango_serve_proceed (store, &options, r->id, u.has_stage, u.stage, u.client_fsic,
                                     u.records_total, u.records_transferred, &error);
      if (after == NULL && error != NULL && !g_error_matches (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND))
        {
          /* A stage that failed leaves the session errored, which is
           * what the client reads (Morango answers 200 too). */
          g_message ("Transfer session %s: %s", r->id, error->message);
          g_clear_error (&error);
          after = morango_transfer_session_load (db, r->id, &error);
        }
      if (after != NULL && (u.bytes_sent >= 0 || u.bytes_received >= 0))
        {
          g_autofree char *sent = u.bytes_sent >= 0 ? g_strdup_printf ("%" G_GINT64_FORMAT, u.bytes_sent) : NULL;
          g_autofree char *received = u.bytes_received >= 0 ? g_strdup_printf ("%" G_GINT64_FORMAT, u.bytes_received) : NULL;

          if (!morango_db_execute (db, &error,
                                   "UPDATE morango_transfersession SET "
                                   "  bytes_sent = coalesce (CAST (? AS INTEGER), bytes_sent), "
                                   "  bytes_received = coalesce (CAST (? AS INTEGER), bytes_received) "
                                   "WHERE id = ?", "sss", sent, received, r->id))
            g_clear_pointer (&after, morango_transfer_session_free);
        }
      morango_wire_transfer_update_clear (&u);
      if (after == NULL)
        answer_error (r, error);
      else
        answer_transfer (r, db, SOUP_STATUS_OK, after);
      return;
    }

  /* DELETE: the stages up to cleanup.  One that cannot complete (a
   * transfer cut short) does not keep the session open: it closes all
   * the same (correction 15). */
  if (!morango_serve_close_transfer (store, &options, r->id, &error))
    {
      answer_error (r, error);
      return;
    }
  g_clear_pointer (&ts, morango_transfer_session_free);
  if ((ts = morango_transfer_session_load (db, r->id, &error)) == NULL ||
      (ts->active && !morango_transfer_session_close (db, r->id, NULL, &error)))
    {
      answer_error (r, error);
      return;
    }
  g_mutex_lock (&r->server->lock);
  g_hash_table_remove (r->server->cursors, r->id);
  g_mutex_unlock (&r->server->lock);
  answer_text (r, SOUP_STATUS_NO_CONTENT, NULL);
}

static void
post_buffers (Request      *r,
              MorangoStore *store)
{
  MorangoDb *db = morango_store_get_db (store);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(MorangoBufferChunk) chunk = NULL;
  g_autoptr(MorangoTransferSession) ts = NULL;
  g_autoptr(MorangoScope) server = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  MorangoServeOptions options;
  gint64 held = 0;

  if (g_strcmp0 (r->content_type, "application/gzip") == 0)
    {
      gsize size = 0;
      const char *data = r->body ? g_bytes_get_data (r->body, &size) : NULL;

      if ((plain = morango_wire_gunzip (data, size, r->server->body_limit, &error)) == NULL)
        {
          answer_error (r, error);
          return;
        }
      g_bytes_unref (r->body);
      r->body = g_bytes_ref (plain);
    }
  if ((node = body_json (r)) == NULL)
    return;
  if ((chunk = morango_wire_chunk_decode (node, &id, &error)) == NULL)
    {
      answer_error (r, error);
      return;
    }
  if (id == NULL)
    {
      answer_detail (r, SOUP_STATUS_BAD_REQUEST, "A chunk must hold at least one record");
      return;
    }
  if ((ts = morango_serve_load_active (store, id, &error)) == NULL ||
      !options_for_transfer (r, db, ts, &options, &server, &error) ||
      !morango_serve_receive_chunk (store, &options, id, NULL, chunk, NULL, &held, &error))
    {
      answer_error (r, error);
      return;
    }
  /* Whoever runs the server (and the tests that crash its clients) can
   * see that a chunk sent again after a resume is not counted twice. */
  g_debug ("Transfer session %s: stored a chunk of %u records from %s; %" G_GINT64_FORMAT " held, %"
           G_GINT64_FORMAT " before", id, chunk->records->len,
           chunk->records->len > 0 ? g_array_index (chunk->records, MorangoBufferRecord, 0).model_uuid : "-",
           held, ts->records_transferred);
  answer_text (r, SOUP_STATUS_CREATED, NULL);
}

/* A link to another page: the query keys sorted, as Django writes them. */
static char *
page_link (Request    *r,
           gint64      limit,
           gint64      offset,
           const char *id)
{
  g_autofree char *escaped = g_uri_escape_string (id, NULL, FALSE);

  if (offset <= 0)
    return g_strdup_printf ("%sbuffers/?limit=%" G_GINT64_FORMAT "&transfer_session_id=%s",
                            r->base_uri, limit, escaped);
  return g_strdup_printf ("%sbuffers/?limit=%" G_GINT64_FORMAT "&offset=%" G_GINT64_FORMAT
                          "&transfer_session_id=%s", r->base_uri, limit, offset, escaped);
}

static gboolean
query_count (Request     *r,
             const char  *key,
             gint64      *out)
{
  const char *text = r->query ? g_hash_table_lookup (r->query, key) : NULL;
  guint64 value = 0;

  if (text == NULL)
    return TRUE;
  if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXINT32, &value, NULL))
    {
      g_autofree char *message = g_strdup_printf ("The parameter “%s” must be a whole number", key);

      answer_detail (r, SOUP_STATUS_BAD_REQUEST, message);
      return FALSE;
    }
  *out = value;
  return TRUE;
}

/* Where the last page of a pull session ended, and how many records
 * its buffer holds. */
typedef struct {
  MorangoBufferCursor cursor;
  gint64              count;
} PageCursor;

static void
get_buffers (Request      *r,
             MorangoStore *store)
{
  MorangoHttpServer *self = r->server;
  MorangoDb *db = morango_store_get_db (store);
  const char *id = r->query ? g_hash_table_lookup (r->query, "transfer_session_id") : NULL;
  g_autoptr(MorangoTransferSession) ts = NULL;
  g_autoptr(MorangoBufferChunk) page = NULL;
  g_autoptr(GError) error = NULL;
  PageCursor page_cursor = { { 0 }, -1 };
  PageCursor *saved;
  gint64 limit = -1, offset = 0, count = 0;
  GString *out;

  /* Morango's permission check: an active pull session, else 403. */
  if (id == NULL || (ts = morango_serve_load_active (store, id, NULL)) == NULL || ts->push)
    {
      answer_detail (r, SOUP_STATUS_FORBIDDEN, "Authentication credentials were not provided.");
      return;
    }
  if (!query_count (r, "limit", &limit) || !query_count (r, "offset", &offset))
    return;

  g_mutex_lock (&self->lock);
  if ((saved = g_hash_table_lookup (self->cursors, id)) != NULL)
    page_cursor = *saved;
  g_mutex_unlock (&self->lock);
  /* The buffer of a pull does not change once queued: counted once per
   * session, not once per page (a count walks the whole session, which
   * made serving a big pull cost the square of its size). */
  if (page_cursor.count < 0 &&
      !morango_db_query_int64 (db, &page_cursor.count, NULL, &error,
                               "SELECT count(*) FROM morango_buffer WHERE transfer_session_id = ?",
                               "s", id))
    {
      answer_error (r, error);
      return;
    }
  count = page_cursor.count;
  page = morango_serve_fetch_chunk (store, id, offset,
                                    limit < 0 ? (guint) MAX (count - offset, 0) : (guint) limit,
                                    &page_cursor.cursor, &error);
  if (page == NULL)
    {
      answer_error (r, error);
      return;
    }
  g_mutex_lock (&self->lock);
  g_hash_table_insert (self->cursors, g_strdup (id), g_memdup2 (&page_cursor, sizeof page_cursor));
  g_mutex_unlock (&self->lock);
  g_debug ("Transfer session %s: sent %u records from offset %" G_GINT64_FORMAT, id,
           page->records->len, offset);

  out = g_string_sized_new (4096);
  if (limit < 0)
    morango_wire_chunk_append (out, page, id, MORANGO_WIRE_JSON_COMPACT);
  else
    {
      g_autofree char *next = offset + limit < count ? page_link (r, limit, offset + limit, id) : NULL;
      g_autofree char *previous = offset > 0 ? page_link (r, limit, MIN (offset, count) - limit, id) : NULL;

      g_string_append_printf (out, "{\"count\":%" G_GINT64_FORMAT ",\"next\":", count);
      if (next != NULL)
        morango_json_append_string (out, next);
      else
        g_string_append (out, "null");
      g_string_append (out, ",\"previous\":");
      if (previous != NULL)
        morango_json_append_string (out, previous);
      else
        g_string_append (out, "null");
      g_string_append (out, ",\"results\":");
      morango_wire_chunk_append (out, page, id, MORANGO_WIRE_JSON_COMPACT);
      g_string_append_c (out, '}');
    }
  answer_text (r, SOUP_STATUS_OK, g_string_free (out, FALSE));
}

static void
certificates (Request      *r,
              MorangoStore *store)
{
  g_autoptr(JsonNode) answer = NULL;
  guint status = 500;

  if (g_str_equal (r->method, "GET"))
    answer = morango_http_trust_get_certificates (store, r->id, r->query, &status);
  else
    {
      g_autoptr(JsonNode) node = body_json (r);

      if (node == NULL)
        return;
      answer = morango_http_trust_request_certificate (store, r->authorization, node, &status,
                                                       &r->www_authenticate, &r->no_account);
    }
  answer_node (r, status, answer);
}

static void
nonces (Request      *r,
        MorangoStore *store)
{
  g_autoptr(JsonNode) answer = NULL;
  guint status = 500;

  answer = morango_http_trust_create_nonce (store, r->remote_ip, now_unix (r->server), &status);
  answer_node (r, status, answer);
}

static void
public_key (Request      *r,
            MorangoStore *store)
{
  g_autoptr(JsonNode) answer = NULL;
  guint status = 500;

  answer = morango_http_trust_get_public_keys (store, r->id, &status);
  answer_node (r, status, answer);
}

static void
certificate_chain (Request      *r,
                   MorangoStore *store)
{
  g_autoptr(JsonNode) node = body_json (r);
  g_autoptr(JsonNode) answer = NULL;
  guint status = 500;

  if (node == NULL)
    return;
  answer = morango_http_trust_accept_pushed_chain (store, node, r->server->accept_new_roots,
                                                   now_unix (r->server), &status);
  answer_node (r, status, answer);
}

static void
learners (Request      *r,
          MorangoStore *store)
{
  g_autoptr(JsonNode) answer = NULL;
  guint status = 500;

  answer = morango_http_trust_list_learners (store, r->authorization, r->query, &status,
                                             &r->www_authenticate);
  answer_node (r, status, answer);
}

static void
handle_in_thread (GTask        *task,
                  gpointer      source,
                  gpointer      data,
                  GCancellable *cancellable)
{
  Request *r = data;
  g_autoptr(GError) error = NULL;
  /* The engine's messages made while answering become the body a peer
   * reads, and a peer is not in the server user's language: English. */
  gboolean was_wire = morango_i18n_set_wire_thread (TRUE);
  MorangoStore *store = lease_store (r->server, &error);

  if (store == NULL)
    answer_error (r, error);
  else
    {
      switch (r->route)
        {
        case ROUTE_SYNC_SESSIONS:
          if (r->id == NULL)
            post_sync_session (r, store);
          else
            sync_session_item (r, store);
          break;
        case ROUTE_TRANSFER_SESSIONS:
          if (r->id == NULL)
            post_transfer_session (r, store);
          else
            transfer_session_item (r, store);
          break;
        case ROUTE_BUFFERS:
          if (g_str_equal (r->method, "POST"))
            post_buffers (r, store);
          else
            get_buffers (r, store);
          break;
        case ROUTE_CERTIFICATES:
          certificates (r, store);
          break;
        case ROUTE_NONCES:
          nonces (r, store);
          break;
        case ROUTE_PUBLIC_KEY:
          public_key (r, store);
          break;
        case ROUTE_CERTIFICATE_CHAIN:
          certificate_chain (r, store);
          break;
        case ROUTE_LEARNERS:
          learners (r, store);
          break;
        default:
          g_assert_not_reached ();
        }
      return_store (r->server, store);
    }
  morango_i18n_set_wire_thread (was_wire);
  g_task_return_boolean (task, TRUE);
}

/* ---- on the listening context ---- */

static void
set_reply (SoupServerMessage *msg,
           guint              status,
           const char        *reply,
           gboolean           gzip)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  soup_server_message_set_status (msg, status, NULL);
  if (reply == NULL)
    return;
  if (gzip)
    {
      GBytes *packed = morango_wire_gzip (reply, strlen (reply), MORANGO_WIRE_GZIP_LEVEL);

      soup_message_headers_replace (headers, "Content-Encoding", "gzip");
      soup_message_headers_append (headers, "Vary", "Accept-Encoding");
      soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY,
                                        g_bytes_get_data (packed, NULL), g_bytes_get_size (packed));
      g_bytes_unref (packed);
    }
  else
    soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, reply, strlen (reply));
}

static void
on_disconnected (SoupServerMessage *msg,
                 Request           *r)
{
  r->gone = TRUE;
}

static void
handled (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  Request *r = g_task_get_task_data (G_TASK (result));

  /* A 401 to someone who gave credentials is a guess that failed; one
   * without credentials guessed nothing. */
  if (r->attempt != NULL)
    morango_rate_limit_end (r->server->csr_attempts, r->attempt, attempt_clock (r->server),
                            r->status == SOUP_STATUS_UNAUTHORIZED && r->authorization != NULL);
  if (!r->gone)
    {
      if (r->www_authenticate != NULL)
        soup_message_headers_replace (soup_server_message_get_response_headers (r->msg),
                                      "WWW-Authenticate", r->www_authenticate);
      set_reply (r->msg, r->status, r->reply, r->gzip_reply);
      soup_server_message_unpause (r->msg);
    }
  if (r->closed_sync != NULL)
    g_signal_emit (r->server, signals[SIGNAL_SYNC_SESSION_CLOSED], 0, r->closed_client, r->closed_sync);
  if (r->no_account)
    g_signal_emit (r->server, signals[SIGNAL_NO_ACCOUNT], 0);
}

static void
reply_now (SoupServerMessage *msg,
           guint              status,
           const char        *key,
           const char        *text)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *body = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, key);
  json_builder_add_string_value (b, text);
  json_builder_end_object (b);
  node = json_builder_get_root (b);
  body = morango_wire_json_to_string (node, MORANGO_WIRE_JSON_COMPACT);
  set_reply (msg, status, body, FALSE);
}

static void
reply_not_allowed (SoupServerMessage *msg,
                   const char        *method,
                   const char        *allow)
{
  g_autofree char *text = g_strdup_printf ("Method \"%s\" not allowed.", method);

  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", allow);
  reply_now (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "detail", text);
}

static void
morangoinfo (MorangoHttpServer *self,
             SoupServerMessage *msg,
             gboolean           gzip)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *hex8 = g_strndup (self->instance_id, 8);
  g_autofree char *hash = morango_proquint_from_hex (hex8);
  g_autofree char *body = NULL;
  g_autoptr(JsonNode) caps = morango_wire_capabilities_to_json (self->caps);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "instance_hash");
  json_builder_add_string_value (b, hash);
  json_builder_set_member_name (b, "instance_id");
  json_builder_add_string_value (b, self->instance_id);
  json_builder_set_member_name (b, "system_os");
  json_builder_add_string_value (b, "Linux");
  json_builder_set_member_name (b, "version");
  json_builder_add_string_value (b, "0.8.2");
  json_builder_set_member_name (b, "capabilities");
  json_builder_add_value (b, g_steal_pointer (&caps));
  json_builder_end_object (b);
  node = json_builder_get_root (b);
  body = morango_wire_json_to_string (node, MORANGO_WIRE_JSON_COMPACT);
  set_reply (msg, SOUP_STATUS_OK, body, gzip);
}

static gboolean
accepts_gzip (SoupServerMessage *msg)
{
  const char *value = soup_message_headers_get_list (soup_server_message_get_request_headers (msg),
                                                     "Accept-Encoding");
  g_autoptr(GSList) codings = value ? soup_header_parse_quality_list (value, NULL) : NULL;

  for (GSList *l = codings; l != NULL; l = l->next)
    if (g_ascii_strcasecmp (l->data, "gzip") == 0)
      {
        g_slist_free_full (g_steal_pointer (&codings), g_free);
        return TRUE;
      }
  g_slist_free_full (g_steal_pointer (&codings), g_free);
  return FALSE;
}

/* Refuses a body over the limit before it is read. */
static void
early_handler (SoupServer        *soup,
               SoupServerMessage *msg,
               const char        *path,
               GHashTable        *query,
               gpointer           data)
{
  MorangoHttpServer *self = data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);

  if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CHUNKED)
    reply_now (msg, SOUP_STATUS_LENGTH_REQUIRED, "detail", "A request body needs a Content-Length");
  else if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH &&
           (guint64) soup_message_headers_get_content_length (headers) > self->body_limit)
    reply_now (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "detail", "The request body is too large");
}

static void
handler (SoupServer        *soup,
         SoupServerMessage *msg,
         const char        *path,
         GHashTable        *query,
         gpointer           data)
{
  MorangoHttpServer *self = data;
  const char *method = soup_server_message_get_method (msg);
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  g_auto(GStrv) parts = NULL;
  g_autoptr(GTask) task = NULL;
  g_autofree char *content_type = NULL;
  g_autofree char *attempt = NULL;
  const char *name, *id = NULL, *allow;
  gboolean item, gzip = accepts_gzip (msg);
  guint n;
  Request *r;
  Route route;

  if (g_str_equal (path, LEARNERS_PATH))
    {
      if (!g_str_equal (method, "GET"))
        {
          reply_not_allowed (msg, method, "GET");
          return;
        }
      route = ROUTE_LEARNERS;
      goto routed;
    }
  if (!g_str_has_prefix (path, API_PREFIX))
    {
      reply_now (msg, SOUP_STATUS_NOT_FOUND, "detail", "Not found.");
      return;
    }
  if (!g_str_has_suffix (path, "/"))
    {
      /* Django's APPEND_SLASH: a redirect, for every method (correction 1). */
      GUri *uri = soup_server_message_get_uri (msg);
      g_autofree char *location = NULL;

      location = g_uri_get_query (uri)
        ? g_strdup_printf ("%s/?%s", path, g_uri_get_query (uri))
        : g_strdup_printf ("%s/", path);
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Location", location);
      soup_server_message_set_status (msg, SOUP_STATUS_MOVED_PERMANENTLY, NULL);
      soup_server_message_set_response (msg, "text/html; charset=utf-8", SOUP_MEMORY_STATIC, "", 0);
      return;
    }
  parts = g_strsplit (path + strlen (API_PREFIX), "/", -1);
  n = g_strv_length (parts) - 1;   /* the last is the empty text after the final slash */
  if (n < 1 || n > 2 || *parts[0] == '\0' || (n == 2 && (*parts[1] == '\0' || strchr (parts[1], '.'))))
    {
      reply_now (msg, SOUP_STATUS_NOT_FOUND, "detail", "Not found.");
      return;
    }
  name = parts[0];
  item = n == 2;
  if (item)
    id = parts[1];

  if (g_str_equal (name, "morangoinfo") && item)
    {
      if (g_str_equal (method, "GET") || g_str_equal (method, "HEAD"))
        morangoinfo (self, msg, gzip);
      else
        reply_not_allowed (msg, method, "GET, HEAD, OPTIONS");
      return;
    }
  if (g_str_equal (name, "syncsessions"))
    {
      route = ROUTE_SYNC_SESSIONS;
      allow = item ? "GET, DELETE, HEAD, OPTIONS" : "POST, OPTIONS";
      if (item ? !(g_str_equal (method, "GET") || g_str_equal (method, "DELETE"))
               : !g_str_equal (method, "POST"))
        {
          reply_not_allowed (msg, method, allow);
          return;
        }
    }
  else if (g_str_equal (name, "transfersessions"))
    {
      route = ROUTE_TRANSFER_SESSIONS;
      allow = item ? "GET, PUT, PATCH, DELETE, HEAD, OPTIONS" : "POST, OPTIONS";
      if (item && g_str_equal (method, "PUT"))
        {
          g_autoptr(JsonNode) node = json_node_new (JSON_NODE_VALUE);
          g_autofree char *body = NULL;

          json_node_set_string (node, "Only PATCH updates allowed");
          body = morango_wire_json_to_string (node, MORANGO_WIRE_JSON_COMPACT);
          set_reply (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, body, FALSE);
          return;
        }
      if (item ? !(g_str_equal (method, "GET") || g_str_equal (method, "PATCH") ||
                   g_str_equal (method, "DELETE"))
               : !g_str_equal (method, "POST"))
        {
          reply_not_allowed (msg, method, allow);
          return;
        }
    }
  else if (g_str_equal (name, "buffers") && !item)
    {
      route = ROUTE_BUFFERS;
      if (!g_str_equal (method, "GET") && !g_str_equal (method, "POST"))
        {
          reply_not_allowed (msg, method, "GET, POST, HEAD, OPTIONS");
          return;
        }
    }
  else if (g_str_equal (name, "certificates"))
    {
      route = ROUTE_CERTIFICATES;
      if (item ? !g_str_equal (method, "GET")
               : !(g_str_equal (method, "GET") || g_str_equal (method, "POST")))
        {
          reply_not_allowed (msg, method, item ? "GET, HEAD, OPTIONS" : "GET, POST, HEAD, OPTIONS");
          return;
        }
    }
  else if (g_str_equal (name, "nonces") && !item)
    {
      route = ROUTE_NONCES;
      if (!g_str_equal (method, "POST"))
        {
          reply_not_allowed (msg, method, "POST, OPTIONS");
          return;
        }
    }
  else if ((g_str_equal (name, "certificatechain") && !item) || g_str_equal (name, "publickey"))
    {
      gboolean chain = g_str_equal (name, "certificatechain");
      g_autoptr(JsonNode) refusal = NULL;
      g_autofree char *body = NULL;
      guint status = 0;

      if (!g_str_equal (method, chain ? "POST" : "GET"))
        {
          reply_not_allowed (msg, method, chain ? "POST, OPTIONS" : "GET, HEAD, OPTIONS");
          return;
        }
      if (!(self->caps & MORANGO_WIRE_CAP_ALLOW_CERTIFICATE_PUSHING))
        {
          /* Nothing to look up: this device takes no pushed certificates. */
          refusal = morango_http_trust_refuse_pushing (&status);
          body = morango_wire_json_to_string (refusal, MORANGO_WIRE_JSON_COMPACT);
          set_reply (msg, status, body, FALSE);
          return;
        }
      route = chain ? ROUTE_CERTIFICATE_CHAIN : ROUTE_PUBLIC_KEY;
    }
  else
    {
      reply_now (msg, SOUP_STATUS_NOT_FOUND, "detail", "Not found.");
      return;
    }

routed:
  /* A body must say what it is: JSON, or gzip for a chunk (correction 7).
   * POST nonces/ never reads its body (correction 12). */
  if ((g_str_equal (method, "POST") || g_str_equal (method, "PATCH")) && route != ROUTE_NONCES)
    {
      const char *type = soup_message_headers_get_content_type (headers, NULL);

      if (!(g_strcmp0 (type, "application/json") == 0 ||
            (route == ROUTE_BUFFERS && g_strcmp0 (type, "application/gzip") == 0)))
        {
          g_autofree char *text = g_strdup_printf ("Unsupported media type \"%s\" in request.",
                                                   type ? type : "");

          reply_now (msg, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE, "detail", text);
          return;
        }
      content_type = g_strdup (type);
    }

  /* Before any password is checked, so that a blocked address costs no
   * derivation either. */
  if ((route == ROUTE_CERTIFICATES && g_str_equal (method, "POST")) || route == ROUTE_LEARNERS)
    {
      g_autofree char *address = morango_rate_limit_address_key (soup_server_message_get_remote_host (msg));
      gint64 wait = 0;

      if (!morango_rate_limit_begin (self->csr_attempts, address, attempt_clock (self), &wait))
        {
          gint64 seconds = (wait + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC;
          g_autofree char *retry_after = g_strdup_printf ("%" G_GINT64_FORMAT, seconds);
          /* DRF's words for a throttled request. */
          g_autofree char *text = g_strdup_printf ("Request was throttled. Expected available in %" G_GINT64_FORMAT
                                                   " second%s.", seconds, seconds == 1 ? "" : "s");

          g_debug ("Refusing a signing request from %s: too many failed attempts", address);
          soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After", retry_after);
          reply_now (msg, 429, "detail", text);   /* libsoup 3.2 names no 429 */
          return;
        }
      attempt = g_steal_pointer (&address);
    }

  r = g_new0 (Request, 1);
  r->server = g_object_ref (self);
  r->attempt = g_steal_pointer (&attempt);
  r->msg = g_object_ref (msg);
  r->route = route;
  r->method = g_strdup (method);
  r->id = g_strdup (id);
  r->client_caps = morango_wire_capabilities_parse (soup_message_headers_get_one (headers,
                                                                                  MORANGO_WIRE_CAPABILITIES_HEADER));
  r->content_type = g_steal_pointer (&content_type);
  r->body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  r->query = query ? g_hash_table_ref (query) : NULL;
  r->remote_ip = g_strdup (soup_server_message_get_remote_host (msg));
  if (route == ROUTE_CERTIFICATES || route == ROUTE_LEARNERS)
    r->authorization = g_strdup (soup_message_headers_get_one (headers, "Authorization"));
  r->gzip_reply = gzip;
  {
    const char *host = soup_message_headers_get_one (headers, "Host");
    GUri *uri = soup_server_message_get_uri (msg);

    r->base_uri = host != NULL
      ? g_strdup_printf ("%s://%s" API_PREFIX, g_uri_get_scheme (uri), host)
      : g_strdup_printf ("%s://%s:%d" API_PREFIX, g_uri_get_scheme (uri), g_uri_get_host (uri),
                         g_uri_get_port (uri));
  }
  r->disconnected_id = g_signal_connect (msg, "disconnected", G_CALLBACK (on_disconnected), r);

  soup_server_message_pause (msg);
  task = g_task_new (self, NULL, handled, NULL);
  g_task_set_task_data (task, r, (GDestroyNotify) request_free);
  g_task_run_in_thread (task, handle_in_thread);
}

gboolean
morango_http_server_listen (MorangoHttpServer  *self,
                            const char         *address,
                            guint               port,
                            GError            **error)
{
  SoupServerListenOptions options = 0;

  g_return_val_if_fail (MORANGO_IS_HTTP_SERVER (self), FALSE);
  g_return_val_if_fail (self->soup == NULL, FALSE);

  if (self->caps & MORANGO_WIRE_CAP_ALLOW_CERTIFICATE_PUSHING)
    {
      /* A client takes the first shared key listed: there must be one
       * before the first asks (§8.3.4). */
      g_autoptr(MorangoKey) key = NULL;
      MorangoStore *store = lease_store (self, error);

      if (store == NULL)
        return FALSE;
      key = morango_shared_key_get_or_create (morango_store_get_db (store), FALSE, error);
      return_store (self, store);
      if (key == NULL)
        return FALSE;
    }

  self->soup = soup_server_new ("server-header", "morango-sync ",
                                "tls-certificate", self->tls_certificate, NULL);
  if (self->tls_certificate != NULL)
    options |= SOUP_SERVER_LISTEN_HTTPS;
  /* Both at the root: libsoup calls the handlers of the most specific
   * path only. */
  soup_server_add_early_handler (self->soup, NULL, early_handler, self, NULL);
  soup_server_add_handler (self->soup, NULL, handler, self, NULL);
  if (address == NULL)
    return soup_server_listen_all (self->soup, port, options, error);
  {
    g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (address);
    g_autoptr(GSocketAddress) socket_address = NULL;

    if (inet == NULL)
      {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     _("“%s” is not an IP address"), address);
        g_clear_object (&self->soup);
        return FALSE;
      }
    socket_address = g_inet_socket_address_new (inet, port);
    if (!soup_server_listen (self->soup, socket_address, options, error))
      {
        g_clear_object (&self->soup);
        return FALSE;
      }
  }
  return TRUE;
}

void
morango_http_server_set_tls_certificate (MorangoHttpServer *self,
                                         GTlsCertificate   *certificate)
{
  g_return_if_fail (MORANGO_IS_HTTP_SERVER (self));
  g_return_if_fail (certificate == NULL || G_IS_TLS_CERTIFICATE (certificate));
  g_return_if_fail (self->soup == NULL);

  g_set_object (&self->tls_certificate, certificate);
}

guint
morango_http_server_get_port (MorangoHttpServer *self)
{
  GSList *uris;
  guint port = 0;

  g_return_val_if_fail (MORANGO_IS_HTTP_SERVER (self), 0);

  if (self->soup == NULL)
    return 0;
  uris = soup_server_get_uris (self->soup);
  if (uris != NULL)
    port = g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return port;
}

GSList *
morango_http_server_get_uris (MorangoHttpServer *self)
{
  g_return_val_if_fail (MORANGO_IS_HTTP_SERVER (self), NULL);
  return self->soup ? soup_server_get_uris (self->soup) : NULL;
}

void
morango_http_server_disconnect (MorangoHttpServer *self)
{
  g_return_if_fail (MORANGO_IS_HTTP_SERVER (self));
  if (self->soup != NULL)
    soup_server_disconnect (self->soup);
}
