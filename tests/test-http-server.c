/* test-http-server.c: the HTTP server against Morango's recorded conversations (protocol §8, §9)
 *
 * The server runs on a thread of its own with its own main context, on
 * 127.0.0.1 port 0; the test talks to it with a plain SoupSession.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include <libsoup/soup.h>

#include "morango-account.h"
#include "morango-chain.h"
#include "morango-http-server.h"
#include "morango-http-trust.h"
#include "morango-json.h"
#include "morango-store.h"
#include "morango-test-util.h"
#include "morango-trust.h"
#include "morango-wire.h"

#define ROOT   "8fd90aa52ea69b359379227d97f6b712"
#define CAPS   "GZIP_BUFFER_POST FSIC_V2_FORMAT ASYNC_OPERATIONS"

typedef struct {
  char              *dir;
  MorangoHttpServer *server;
  GThread           *thread;
  GMainContext      *context;
  GMainLoop         *loop;
  GMutex             lock;
  GCond              cond;
  gboolean           ready;
  char              *base;
  SoupSession       *session;
  JsonNode          *vectors;      /* the recording the test replays */
  char              *closed;       /* the last sync session closed */
  guint              no_account;   /* "no-account" signals heard */
  gint64             now;          /* the server's clock; 0: the real one */
  MorangoWireCapabilities caps;
} Fixture;

static gint64
fixture_clock (gpointer data)
{
  Fixture *f = data;
  gint64 now;

  g_mutex_lock (&f->lock);
  now = f->now;
  g_mutex_unlock (&f->lock);
  return now;
}

static void
set_clock (Fixture *f,
           gint64   now)
{
  g_mutex_lock (&f->lock);
  f->now = now;
  g_mutex_unlock (&f->lock);
}

static void
on_no_account (MorangoHttpServer *server,
               Fixture           *f)
{
  g_mutex_lock (&f->lock);
  f->no_account++;
  g_mutex_unlock (&f->lock);
}

static void
on_closed (MorangoHttpServer *server,
           const char        *client,
           const char        *sync,
           Fixture           *f)
{
  g_mutex_lock (&f->lock);
  g_free (f->closed);
  f->closed = g_strdup (sync);
  g_mutex_unlock (&f->lock);
}

static gpointer
serve (gpointer data)
{
  Fixture *f = data;
  g_autoptr(GError) error = NULL;

  g_main_context_push_thread_default (f->context);
  morango_http_server_set_capabilities (f->server, f->caps);
  g_assert_true (morango_http_server_listen (f->server, "127.0.0.1", 0, &error));
  g_assert_no_error (error);
  g_mutex_lock (&f->lock);
  f->base = g_strdup_printf ("http://127.0.0.1:%u/api/morango/v1/", morango_http_server_get_port (f->server));
  f->ready = TRUE;
  g_cond_signal (&f->cond);
  g_mutex_unlock (&f->lock);
  g_main_loop_run (f->loop);
  morango_http_server_disconnect (f->server);
  /* Let workers that finish late deliver their answers before the
   * context goes. */
  while (g_main_context_iteration (f->context, FALSE))
    ;
  g_main_context_pop_thread_default (f->context);
  return NULL;
}

static JsonObject *
setup_of (Fixture *f)
{
  return json_object_get_object_member (json_node_get_object (f->vectors), "setup");
}

static JsonArray *
exchanges_of (Fixture *f)
{
  return json_object_get_array_member (json_node_get_object (f->vectors), "exchanges");
}

/* The recorded POST syncsessions/ body (parsed) of the first session
 * the server opened, or NULL when the recording opens none. */
static JsonObject *
recorded_sync_request (Fixture *f)
{
  JsonArray *ex = exchanges_of (f);

  for (guint i = 0; i < json_array_get_length (ex); i++)
    {
      JsonObject *e = json_array_get_object_element (ex, i);
      JsonObject *request = json_object_get_object_member (e, "request");
      JsonObject *response = json_object_get_object_member (e, "response");

      if (g_str_equal (json_object_get_string_member (request, "method"), "POST") &&
          g_str_has_suffix (json_object_get_string_member (request, "path"), "/syncsessions/") &&
          json_object_get_int_member (response, "status") == 201)
        return json_object_get_object_member (request, "body_json");
    }
  return NULL;
}

/* The recorded client chain (root first) of the first sync session
 * opened; a recording without one (csr.json) gives the server's listing
 * of its own certificates. */
static JsonArray *
recorded_chain (Fixture *f)
{
  JsonObject *body = recorded_sync_request (f);
  JsonArray *ex = exchanges_of (f);

  if (body != NULL)
    {
      g_autoptr(JsonNode) chain = morango_wire_json_parse (json_object_get_string_member (body, "certificate_chain"),
                                                           -1, NULL);

      return json_array_ref (json_node_get_array (chain));
    }
  for (guint i = 0; i < json_array_get_length (ex); i++)
    {
      JsonObject *e = json_array_get_object_element (ex, i);
      JsonObject *request = json_object_get_object_member (e, "request");
      JsonObject *response = json_object_get_object_member (e, "response");

      if (g_str_equal (json_object_get_string_member (request, "method"), "GET") &&
          g_str_has_suffix (json_object_get_string_member (request, "path"), "/certificates/") &&
          json_object_get_int_member (response, "status") == 200)
        return json_array_ref (json_object_get_array_member (response, "body_json"));
    }
  g_assert_not_reached ();
}

static MorangoStore *
folder_store (Fixture *f)
{
  return morango_test_open_server_folder (f->dir);
}

/* A nonce the server issued just now, as a fixture may put it there:
 * the recorded handshakes signed these ids. */
static void
seed_nonce (Fixture    *f,
            const char *id)
{
  g_autoptr(MorangoStore) store = folder_store (f);

  morango_test_seed_nonce (store, id, fixture_clock (f) != 0 ? fixture_clock (f) * G_USEC_PER_SEC
                                                              : g_get_real_time ());
}

/* The nonces of every recorded sync session request. */
static void
seed_recorded_nonces (Fixture *f)
{
  JsonArray *ex = exchanges_of (f);

  for (guint i = 0; i < json_array_get_length (ex); i++)
    {
      JsonObject *request = json_object_get_object_member (json_array_get_object_element (ex, i), "request");

      if (g_str_equal (json_object_get_string_member (request, "method"), "POST") &&
          g_str_has_suffix (json_object_get_string_member (request, "path"), "/syncsessions/") &&
          json_object_has_member (request, "body_json"))
        seed_nonce (f, json_object_get_string_member (json_object_get_object_member (request, "body_json"),
                                                      "nonce"));
    }
}

/* The recorded client's chain with its private key, as a client holds it. */
static GPtrArray *
client_chain (Fixture *f)
{
  g_autoptr(JsonArray) chain = recorded_chain (f);
  g_autoptr(GPtrArray) certs = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(MorangoKey) key = NULL;
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < json_array_get_length (chain); i++)
    {
      MorangoCertificate *c = morango_certificate_new_from_json (json_array_get_object_element (chain, i), &error);

      g_assert_no_error (error);
      g_ptr_array_add (certs, c);
    }
  key = morango_key_new_from_private_pem (json_object_get_string_member (setup_of (f), "client_private_key_pem"),
                                          &error);
  g_assert_no_error (error);
  g_assert_true (morango_certificate_set_private_key (g_ptr_array_index (certs, certs->len - 1), key, &error));
  g_assert_no_error (error);
  return g_steal_pointer (&certs);
}

/* The server's folder: the recording's root with its private key, trusted. */
static void
seed_root (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = folder_store (f);
  g_autoptr(JsonArray) chain = recorded_chain (f);
  g_autoptr(MorangoCertificate) root = NULL;
  g_autoptr(MorangoKey) key = NULL;
  MorangoDb *db = morango_store_get_db (store);

  root = morango_certificate_new_from_json (json_array_get_object_element (chain, 0), &error);
  g_assert_no_error (error);
  key = morango_key_new_from_private_pem (json_object_get_string_member (setup_of (f), "root_private_key_pem"),
                                          &error);
  g_assert_no_error (error);
  g_assert_true (morango_certificate_set_private_key (root, key, &error));
  g_assert_true (morango_certificate_save (root, db, &error));
  g_assert_true (morango_trust_add_root (db, ROOT, "test", &error));
  g_assert_no_error (error);
}

static void
start (Fixture                 *f,
       const char              *file,
       MorangoWireCapabilities  caps)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoHostInfo) host = morango_host_info_new ("test-server-system", "test-server-node");
  g_autofree char *path = g_build_filename ("http", file, NULL);

  f->dir = morango_test_tmpdir ();
  f->vectors = morango_test_load_vectors (path);
  f->caps = caps;
  f->server = morango_http_server_new (f->dir, "morango-testapp", host, &error);
  g_assert_no_error (error);
  g_signal_connect (f->server, "sync-session-closed", G_CALLBACK (on_closed), f);
  g_signal_connect (f->server, "no-account", G_CALLBACK (on_no_account), f);
  morango_http_server_set_clock (f->server, fixture_clock, f);
  seed_root (f);
  f->context = g_main_context_new ();
  f->loop = g_main_loop_new (f->context, FALSE);
  f->thread = g_thread_new ("server", serve, f);
  g_mutex_lock (&f->lock);
  while (!f->ready)
    g_cond_wait (&f->cond, &f->lock);
  g_mutex_unlock (&f->lock);
  f->session = soup_session_new_with_options ("proxy-resolver", NULL, NULL);
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_mutex_init (&f->lock);
  g_cond_init (&f->cond);
  start (f, data ? data : "push.json", MORANGO_WIRE_CAPS_DEFAULT);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_clear_object (&f->session);
  g_main_loop_quit (f->loop);
  g_thread_join (f->thread);
  g_clear_object (&f->server);
  g_main_loop_unref (f->loop);
  g_main_context_unref (f->context);
  json_node_unref (f->vectors);
  g_free (f->base);
  g_free (f->dir);
  g_free (f->closed);
  g_mutex_clear (&f->lock);
  g_cond_clear (&f->cond);
}

typedef struct {
  guint       status;
  GBytes     *body;
  char       *content_type;
  char       *encoding;
  char       *www_authenticate;
} Reply;

static void
reply_clear (Reply *r)
{
  g_clear_pointer (&r->body, g_bytes_unref);
  g_clear_pointer (&r->content_type, g_free);
  g_clear_pointer (&r->encoding, g_free);
  g_clear_pointer (&r->www_authenticate, g_free);
}

static SoupMessage *
make (Fixture    *f,
      const char *method,
      const char *target,      /* below the API's base, or an absolute path */
      const char *type,
      const void *body,
      gsize       size)
{
  g_autofree char *uri = NULL;
  SoupMessage *msg;

  if (target[0] == '/')
    {
      g_autoptr(GUri) base = g_uri_parse (f->base, G_URI_FLAGS_NONE, NULL);

      uri = g_strdup_printf ("http://127.0.0.1:%d%s", g_uri_get_port (base), target);
    }
  else
    uri = g_strconcat (f->base, target, NULL);
  msg = soup_message_new (method, uri);
  g_assert_nonnull (msg);
  soup_message_headers_replace (soup_message_get_request_headers (msg), MORANGO_WIRE_CAPABILITIES_HEADER, CAPS);
  if (type != NULL)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (body, size);

      soup_message_set_request_body_from_bytes (msg, type, bytes);
    }
  return msg;
}

static Reply
send_msg (Fixture     *f,
          SoupMessage *msg)
{
  g_autoptr(GError) error = NULL;
  Reply r = { 0 };
  SoupMessageHeaders *headers;

  r.body = soup_session_send_and_read (f->session, msg, NULL, &error);
  g_assert_no_error (error);
  r.status = soup_message_get_status (msg);
  headers = soup_message_get_response_headers (msg);
  r.content_type = g_strdup (soup_message_headers_get_content_type (headers, NULL));
  r.encoding = g_strdup (soup_message_headers_get_one (headers, "Content-Encoding"));
  r.www_authenticate = g_strdup (soup_message_headers_get_one (headers, "WWW-Authenticate"));
  g_object_unref (msg);
  return r;
}

static Reply
request (Fixture    *f,
         const char *method,
         const char *target,
         const char *json)
{
  return send_msg (f, make (f, method, target, json ? "application/json" : NULL, json,
                            json ? strlen (json) : 0));
}

static JsonNode *
reply_json (const Reply *r)
{
  g_autoptr(GError) error = NULL;
  gsize size = 0;
  const char *data = g_bytes_get_data (r->body, &size);
  JsonNode *node;

  g_assert_cmpstr (r->content_type, ==, "application/json");
  node = morango_wire_json_parse (data, size, &error);
  g_assert_no_error (error);
  return node;
}

/* An error answer: the status, and a JSON body. */
static void
assert_refused (Reply  r,
                guint  status)
{
  g_autoptr(JsonNode) node = NULL;

  if (r.status != status)
    g_error ("answered %u, not %u: %.*s", r.status, status, (int) g_bytes_get_size (r.body),
             (const char *) g_bytes_get_data (r.body, NULL));
  node = reply_json (&r);
  reply_clear (&r);
}

/* Same keys with the same kinds of values; arrays compared by length
 * and their first element. */
static void
assert_same_shape (JsonNode   *ours,
                   JsonNode   *recorded,
                   const char *where)
{
  if (JSON_NODE_TYPE (ours) != JSON_NODE_TYPE (recorded))
    g_error ("%s: %s, not %s", where, json_node_type_name (ours), json_node_type_name (recorded));
  if (JSON_NODE_HOLDS_VALUE (ours) && json_node_get_value_type (ours) != json_node_get_value_type (recorded))
    g_error ("%s: %s, not %s", where, g_type_name (json_node_get_value_type (ours)),
             g_type_name (json_node_get_value_type (recorded)));
  if (JSON_NODE_HOLDS_OBJECT (ours))
    {
      JsonObject *a = json_node_get_object (ours), *b = json_node_get_object (recorded);
      JsonObjectIter iter;
      const char *key;
      JsonNode *member;

      g_assert_cmpuint (json_object_get_size (a), ==, json_object_get_size (b));
      json_object_iter_init (&iter, b);
      while (json_object_iter_next (&iter, &key, &member))
        {
          g_autofree char *inner = g_strdup_printf ("%s.%s", where, key);

          if (!json_object_has_member (a, key))
            g_error ("%s: missing", inner);
          assert_same_shape (json_object_get_member (a, key), member, inner);
        }
    }
  else if (JSON_NODE_HOLDS_ARRAY (ours))
    {
      JsonArray *a = json_node_get_array (ours), *b = json_node_get_array (recorded);

      g_assert_cmpuint (json_array_get_length (a), ==, json_array_get_length (b));
      if (json_array_get_length (b) > 0)
        assert_same_shape (json_array_get_element (a, 0), json_array_get_element (b, 0), where);
    }
}

/* The records of every page the recording pulled, once each. */
static char *
recorded_pull_records (Fixture    *f,
                       const char *new_session,
                       guint      *n,
                       char      **fsic)
{
  g_autoptr(GHashTable) counters = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  JsonArray *ex = exchanges_of (f);
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(MorangoBufferChunk) all = morango_buffer_chunk_new ();

  for (guint i = 0; i < json_array_get_length (ex); i++)
    {
      JsonObject *e = json_array_get_object_element (ex, i);
      JsonObject *request = json_object_get_object_member (e, "request");
      JsonObject *response = json_object_get_object_member (e, "response");
      g_autoptr(GError) error = NULL;
      g_autoptr(MorangoBufferChunk) page = NULL;
      g_autoptr(JsonNode) node = NULL;
      guint h = 0;

      if (!g_str_equal (json_object_get_string_member (request, "method"), "GET") ||
          !g_str_has_suffix (json_object_get_string_member (request, "path"), "/buffers/") ||
          json_object_get_int_member (response, "status") != 200)
        continue;
      node = morango_wire_json_parse (json_object_get_string_member (response, "body"), -1, &error);
      page = morango_wire_page_decode (node, NULL, NULL, &error);
      g_assert_no_error (error);
      for (guint r = 0; r < page->records->len; r++)
        {
          const MorangoBufferRecord *rec = &g_array_index (page->records, MorangoBufferRecord, r);
          gboolean fresh = !g_hash_table_contains (seen, rec->model_uuid);

          if (fresh)
            {
              g_hash_table_add (seen, (gpointer) g_string_chunk_insert (all->texts, rec->model_uuid));
              morango_buffer_chunk_add_record (all, rec);
            }
          for (; h < page->history->len && g_array_index (page->history, MorangoBufferHistory, h).record == r; h++)
            {
              const MorangoBufferHistory *item = &g_array_index (page->history, MorangoBufferHistory, h);
              gint64 known = GPOINTER_TO_SIZE (g_hash_table_lookup (counters, item->instance_id));

              if (!fresh)
                continue;
              morango_buffer_chunk_add_history (all, item->instance_id, item->counter);
              if (item->counter > known)
                g_hash_table_insert (counters, g_strdup (item->instance_id), GSIZE_TO_POINTER (item->counter));
            }
        }
    }
  /* What the sender claims to hold: every counter it sends, so that the
   * server's own FSIC covers the records afterwards. */
  {
    GString *out = g_string_new (NULL);
    GHashTableIter iter;
    gpointer key, value;
    gboolean first = TRUE;
    gboolean v2 = (f->caps & MORANGO_WIRE_CAP_FSIC_V2_FORMAT) != 0;

    if (v2)
      g_string_append_printf (out, "{\"super\": {}, \"sub\": {\"%s\": {",
                              json_object_get_string_member (setup_of (f), "filter"));
    else
      g_string_append_c (out, '{');
    g_hash_table_iter_init (&iter, counters);
    while (g_hash_table_iter_next (&iter, &key, &value))
      {
        g_string_append_printf (out, "%s\"%s\": %" G_GSIZE_FORMAT, first ? "" : ", ", (char *) key,
                                GPOINTER_TO_SIZE (value));
        first = FALSE;
      }
    g_string_append (out, v2 ? "}}}" : "}");
    *fsic = g_string_free (out, FALSE);
  }
  *n = all->records->len;
  return *n > 0 ? morango_wire_chunk_encode (all, new_session, MORANGO_WIRE_JSON_PYTHON) : NULL;
}

/* A fresh nonce from the server. */
static char *
new_nonce (Fixture *f)
{
  Reply r = request (f, "POST", "nonces/", NULL);
  g_autoptr(JsonNode) node = NULL;
  char *id;

  g_assert_cmpuint (r.status, ==, 201);
  node = reply_json (&r);
  id = g_strdup (json_object_get_string_member (json_node_get_object (node), "id"));
  reply_clear (&r);
  return id;
}

/* A sync session request as the recorded client would make it for
 * session @id, over @nonce, signed by @signer's key (NULL: the client
 * certificate's own). */
static char *
sync_session_body_signed (Fixture    *f,
                          const char *id,
                          const char *nonce,
                          MorangoKey *signer)
{
  g_autoptr(GPtrArray) chain = client_chain (f);
  JsonObject *recorded = recorded_sync_request (f);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) body = NULL;
  g_autoptr(JsonNode) node = NULL;

  body = morango_http_trust_build_sync_session_request (chain, g_ptr_array_index (chain, 0), nonce, id,
                                                        json_object_get_string_member (recorded, "connection_path"),
                                                        json_object_get_string_member (recorded, "instance"),
                                                        "127.0.0.1", "127.0.0.1", &error);
  g_assert_no_error (error);
  if (signer != NULL)
    {
      g_autofree char *text = g_strdup_printf ("%s:%s", nonce, id);
      g_autofree char *forged = morango_key_sign (signer, text, -1, &error);

      g_assert_no_error (error);
      json_object_set_string_member (body, "signature", forged);
    }
  node = json_node_init_object (json_node_alloc (), body);
  return morango_json_dumps (node);
}

/* The same over a nonce fresh from the server. */
static char *
sync_session_body (Fixture    *f,
                   const char *id)
{
  g_autofree char *nonce = new_nonce (f);

  return sync_session_body_signed (f, id, nonce, NULL);
}

#define SEED_SS "5eed0000000000000000000000000001"
#define SEED_TS "5eed0000000000000000000000000002"

/* Brings the records the recording pulled into the server by a push of
 * our own, so that a replayed pull finds what Morango's server had. */
static void
seed_pull (Fixture *f)
{
  guint n = 0;
  g_autofree char *fsic = NULL;
  g_autofree char *records = recorded_pull_records (f, SEED_TS, &n, &fsic);
  g_autoptr(JsonNode) fsic_node = json_node_new (JSON_NODE_VALUE);
  g_autofree char *fsic_text = NULL;
  g_autofree char *ss = NULL;
  g_autofree char *ts = NULL;
  Reply r;

  if (records == NULL)
    return;
  ss = sync_session_body (f, SEED_SS);
  r = request (f, "POST", "syncsessions/", ss);
  g_assert_cmpuint (r.status, ==, 201);
  reply_clear (&r);
  json_node_set_string (fsic_node, fsic);
  fsic_text = morango_json_dumps (fsic_node);
  ts = g_strdup_printf ("{\"id\": \"" SEED_TS "\", \"filter\": \"%s\", \"push\": true, "
                        "\"sync_session_id\": \"" SEED_SS "\", \"client_fsic\": %s, \"records_total\": %u}",
                        json_object_get_string_member (setup_of (f), "filter"), fsic_text, n);
  r = request (f, "POST", "transfersessions/", ts);
  g_assert_cmpuint (r.status, ==, 201);
  reply_clear (&r);
  r = request (f, "POST", "buffers/", records);
  g_assert_cmpuint (r.status, ==, 201);
  reply_clear (&r);
  r = request (f, "DELETE", "transfersessions/" SEED_TS "/", NULL);
  g_assert_cmpuint (r.status, ==, 204);
  reply_clear (&r);
  r = request (f, "DELETE", "syncsessions/" SEED_SS "/", NULL);
  g_assert_cmpuint (r.status, ==, 204);
  reply_clear (&r);
}

static gboolean
skipped (const char *path)
{
  /* morangoinfo's values are another test's. */
  return strstr (path, "/morangoinfo/") != NULL;
}

/* Sends a recorded request as it was: body, Content-Type, and the
 * client's capabilities and credentials as recorded (a legacy client
 * sends no capabilities). */
static Reply
send_recorded (Fixture    *f,
               JsonObject *request)
{
  const char *method = json_object_get_string_member (request, "method");
  const char *type = json_object_get_string_member_with_default (request, "content_type", NULL);
  JsonArray *headers = json_object_get_array_member (request, "headers");
  g_autofree guchar *raw = NULL;
  gsize raw_len = 0;
  SoupMessage *msg;

  if (json_object_has_member (request, "body_raw_base64"))
    raw = g_base64_decode (json_object_get_string_member (request, "body_raw_base64"), &raw_len);
  else if (json_object_get_string_member_with_default (request, "body", NULL) != NULL)
    {
      const char *body = json_object_get_string_member (request, "body");

      raw = (guchar *) g_strdup (body);
      raw_len = strlen (body);
    }
  msg = make (f, method, json_object_get_string_member (request, "target"),
              raw_len > 0 ? type : NULL, raw, raw_len);
  soup_message_headers_remove (soup_message_get_request_headers (msg), MORANGO_WIRE_CAPABILITIES_HEADER);
  for (guint h = 0; h < json_array_get_length (headers); h++)
    {
      JsonArray *pair = json_array_get_array_element (headers, h);
      const char *name = json_array_get_string_element (pair, 0);

      if (g_ascii_strcasecmp (name, MORANGO_WIRE_CAPABILITIES_HEADER) == 0 ||
          g_ascii_strcasecmp (name, "Authorization") == 0)
        soup_message_headers_replace (soup_message_get_request_headers (msg), name,
                                      json_array_get_string_element (pair, 1));
    }
  return send_msg (f, msg);
}

/* Sends every recorded sync request as it was and compares each answer
 * with the recorded one: status, shape, and the transfer session's
 * stage, status and counts. */
static void
test_replay (Fixture       *f,
             gconstpointer  data)
{
  JsonArray *ex = exchanges_of (f);
  guint replayed = 0;

  seed_pull (f);
  /* The recorded handshake signed the recorded nonce: the server must
   * have issued it, and lately. */
  seed_recorded_nonces (f);
  for (guint i = 0; i < json_array_get_length (ex); i++)
    {
      JsonObject *e = json_array_get_object_element (ex, i);
      JsonObject *request = json_object_get_object_member (e, "request");
      JsonObject *response = json_object_get_object_member (e, "response");
      const char *method = json_object_get_string_member (request, "method");
      g_autofree char *where = NULL;
      Reply r;

      if (skipped (json_object_get_string_member (request, "path")))
        continue;
      where = g_strdup_printf ("exchange %" G_GINT64_FORMAT " (%s %s)", json_object_get_int_member (e, "seq"),
                               method, json_object_get_string_member (request, "path"));
      r = send_recorded (f, request);
      if (strstr (json_object_get_string_member (request, "path"), "/nonces/") != NULL)
        {
          g_autoptr(JsonNode) ours = reply_json (&r);

          /* The requester's address, as the server saw it. */
          g_assert_cmpstr (json_object_get_string_member (json_node_get_object (ours), "ip"), ==, "127.0.0.1");
        }
      if (r.status != json_object_get_int_member (response, "status"))
        g_error ("%s: %u, not %" G_GINT64_FORMAT ": %.*s", where, r.status,
                 json_object_get_int_member (response, "status"), (int) g_bytes_get_size (r.body),
                 (const char *) g_bytes_get_data (r.body, NULL));
      if (json_object_has_member (response, "body_json"))
        {
          g_autoptr(JsonNode) ours = reply_json (&r);
          JsonNode *recorded = json_object_get_member (response, "body_json");

          assert_same_shape (ours, recorded, where);
          if (JSON_NODE_HOLDS_OBJECT (ours) && json_object_has_member (json_node_get_object (ours), "transfer_stage"))
            {
              JsonObject *a = json_node_get_object (ours), *b = json_node_get_object (recorded);
              static const char *keys[] = { "transfer_stage", "transfer_stage_status", "push", "filter", "active" };

              for (guint k = 0; k < G_N_ELEMENTS (keys); k++)
                {
                  g_autofree char *va = morango_test_json_to_string (json_object_get_member (a, keys[k]));
                  g_autofree char *vb = morango_test_json_to_string (json_object_get_member (b, keys[k]));

                  if (g_strcmp0 (va, vb) != 0)
                    g_error ("%s: %s is %s, not %s", where, keys[k], va, vb);
                }
              g_assert_cmpint (json_object_get_int_member (a, "records_transferred"), ==,
                               json_object_get_int_member (b, "records_transferred"));
              if (!JSON_NODE_HOLDS_NULL (json_object_get_member (b, "records_total")))
                g_assert_cmpint (json_object_get_int_member (a, "records_total"), ==,
                                 json_object_get_int_member (b, "records_total"));
            }
        }
      else
        g_assert_cmpuint (g_bytes_get_size (r.body), ==, 0);
      reply_clear (&r);
      replayed++;
    }
  g_assert_cmpuint (replayed, >=, 5);
  /* The client closed its sync session: the engine heard of it. */
  g_mutex_lock (&f->lock);
  g_assert_nonnull (f->closed);
  g_mutex_unlock (&f->lock);
}

static void
legacy_set_up (Fixture       *f,
               gconstpointer  data)
{
  g_mutex_init (&f->lock);
  g_cond_init (&f->cond);
  start (f, data, MORANGO_WIRE_CAP_GZIP_BUFFER_POST);
}

static void
v1_set_up (Fixture       *f,
           gconstpointer  data)
{
  g_mutex_init (&f->lock);
  g_cond_init (&f->cond);
  start (f, data, MORANGO_WIRE_CAP_GZIP_BUFFER_POST | MORANGO_WIRE_CAP_ASYNC_OPERATIONS);
}

/* ---- errors ---- */

#define SS "0123456789abcdef0123456789abcdef"
#define TS "00000000000000000000000000000aaa"

static void
open_sync (Fixture *f)
{
  g_autofree char *body = sync_session_body (f, SS);
  Reply r = request (f, "POST", "syncsessions/", body);

  g_assert_cmpuint (r.status, ==, 201);
  reply_clear (&r);
}

static void
assert_still_serving (Fixture *f)
{
  Reply r = request (f, "GET", "morangoinfo/1/", NULL);
  g_autoptr(JsonNode) node = NULL;

  g_assert_cmpuint (r.status, ==, 200);
  node = reply_json (&r);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (node), "version"), ==, "0.8.2");
  reply_clear (&r);
}

static void
test_info_and_routes (Fixture       *f,
                      gconstpointer  data)
{
  Reply r = request (f, "GET", "morangoinfo/anything/", NULL);
  g_autoptr(JsonNode) node = reply_json (&r);
  JsonObject *info = json_node_get_object (node);
  MorangoWireCapabilities caps = 0;
  SoupMessage *msg;

  g_assert_cmpuint (r.status, ==, 200);
  g_assert_cmpstr (json_object_get_string_member (info, "instance_id"), ==,
                   morango_http_server_get_instance_id (f->server));
  g_assert_true (morango_wire_capabilities_from_json (json_object_get_member (info, "capabilities"), &caps, NULL));
  g_assert_cmpint (caps, ==, MORANGO_WIRE_CAPS_DEFAULT);
  g_assert_cmpuint (strlen (json_object_get_string_member (info, "instance_hash")), ==, 11);
  reply_clear (&r);

  /* 301 for a missing slash, whatever the method. */
  soup_session_remove_feature_by_type (f->session, SOUP_TYPE_CONTENT_DECODER);
  msg = make (f, "POST", "syncsessions", "application/json", "{}", 2);
  soup_message_add_flags (msg, SOUP_MESSAGE_NO_REDIRECT);
  r = send_msg (f, msg);
  g_assert_cmpuint (r.status, ==, 301);
  reply_clear (&r);

  assert_refused (request (f, "GET", "nothing/", NULL), 404);
  assert_refused (request (f, "GET", "/elsewhere/", NULL), 404);
  assert_refused (request (f, "GET", "syncsessions/", NULL), 405);
  assert_refused (request (f, "GET", "transfersessions/", NULL), 405);
  assert_refused (request (f, "PUT", "transfersessions/" TS "/", "{}"), 405);
  assert_refused (request (f, "DELETE", "buffers/", NULL), 405);
  assert_refused (request (f, "GET", "syncsessions/" SS "/", NULL), 404);
  assert_refused (request (f, "DELETE", "syncsessions/" SS "/", NULL), 404);
  assert_refused (request (f, "GET", "transfersessions/" TS "/", NULL), 404);
  assert_refused (request (f, "PATCH", "transfersessions/" TS "/", "{}"), 404);
  assert_refused (request (f, "DELETE", "transfersessions/" TS "/", NULL), 404);
  assert_refused (request (f, "GET", "buffers/", NULL), 403);
  assert_refused (send_msg (f, make (f, "POST", "syncsessions/", "text/plain", "{}", 2)), 415);

  /* A client that takes gzip gets gzip. */
  msg = make (f, "GET", "morangoinfo/1/", NULL, NULL, 0);
  soup_message_headers_replace (soup_message_get_request_headers (msg), "Accept-Encoding", "gzip, deflate");
  r = send_msg (f, msg);
  g_assert_cmpstr (r.encoding, ==, "gzip");
  {
    g_autoptr(GBytes) plain = morango_wire_gunzip (g_bytes_get_data (r.body, NULL), g_bytes_get_size (r.body),
                                                   4096, NULL);

    g_assert_nonnull (plain);
    g_assert_nonnull (strstr (g_bytes_get_data (plain, NULL), "\"0.8.2\""));
  }
  reply_clear (&r);
}

static void
test_hostile_bodies (Fixture       *f,
                     gconstpointer  data)
{
  gsize big = 4 * 1024 * 1024;
  g_autofree char *zeros = g_malloc0 (big);
  g_autoptr(GBytes) bomb = morango_wire_gzip (zeros, big, 9);
  g_autofree char *huge = g_malloc (2 * 1024 * 1024 + 1);
  g_autofree char *push = NULL;

  morango_http_server_set_body_limit (f->server, 1024 * 1024);
  open_sync (f);
  push = g_strdup_printf ("{\"id\": \"" TS "\", \"filter\": \"" ROOT ":user\", \"push\": true, "
                          "\"sync_session_id\": \"" SS "\", \"client_fsic\": \"{}\", \"records_total\": 3}");

  assert_refused (request (f, "POST", "syncsessions/", "{\"id\": "), 400);
  assert_refused (request (f, "POST", "syncsessions/", "[1, 2]"), 400);
  assert_refused (request (f, "POST", "syncsessions/", ""), 400);
  assert_refused (request (f, "POST", "transfersessions/", "{\"id\": \"" TS "\", \"filter\": 3}"), 400);
  assert_refused (request (f, "POST", "transfersessions/",
                           "{\"id\": \"" TS "\", \"filter\": \"" ROOT ":user\", \"push\": true, "
                           "\"sync_session_id\": \"ffffffffffffffffffffffffffffffff\"}"), 400);
  {
    Reply r = request (f, "POST", "transfersessions/", push);

    g_assert_cmpuint (r.status, ==, 201);
    reply_clear (&r);
  }
  assert_refused (request (f, "PATCH", "transfersessions/" TS "/", "{\"transfer_stage\": \"bogus\"}"), 400);
  assert_refused (request (f, "PATCH", "transfersessions/" TS "/", "{\"records_total\": \"9\"}"), 400);
  assert_refused (request (f, "PATCH", "transfersessions/" TS "/", "{\"client_fsic\": \"not json\"}"), 400);
  assert_refused (request (f, "POST", "buffers/", "[{\"serialized\": 1}]"), 400);
  assert_refused (request (f, "POST", "buffers/", "[]"), 400);
  assert_refused (request (f, "POST", "buffers/", "{"), 400);
  /* Not gzip; a bomb; too large before anything is read. */
  assert_refused (send_msg (f, make (f, "POST", "buffers/", "application/gzip", "[{}]", 4)), 400);
  assert_refused (send_msg (f, make (f, "POST", "buffers/", "application/gzip", g_bytes_get_data (bomb, NULL),
                                     g_bytes_get_size (bomb))), 413);
  memset (huge, ' ', 2 * 1024 * 1024);
  huge[2 * 1024 * 1024] = '\0';
  assert_refused (request (f, "POST", "buffers/", huge), 413);
  /* The session was left as it was, and the server still answers. */
  {
    Reply r = request (f, "GET", "transfersessions/" TS "/", NULL);
    g_autoptr(JsonNode) node = reply_json (&r);

    g_assert_cmpuint (r.status, ==, 200);
    g_assert_cmpint (json_object_get_int_member (json_node_get_object (node), "records_transferred"), ==, 0);
    reply_clear (&r);
  }
  assert_still_serving (f);
}

/* ---- authorization, idempotence ---- */

static char *
first_recorded_chunk (Fixture *f)
{
  JsonArray *ex = exchanges_of (f);

  for (guint i = 0; i < json_array_get_length (ex); i++)
    {
      JsonObject *request = json_object_get_object_member (json_array_get_object_element (ex, i), "request");

      if (g_str_equal (json_object_get_string_member (request, "method"), "POST") &&
          g_str_has_suffix (json_object_get_string_member (request, "path"), "/buffers/"))
        {
          g_autoptr(JsonNode) node = morango_wire_json_parse (json_object_get_string_member (request, "body"), -1, NULL);
          g_autoptr(MorangoBufferChunk) chunk = morango_wire_chunk_decode (node, NULL, NULL);

          return morango_wire_chunk_encode (chunk, TS, MORANGO_WIRE_JSON_PYTHON);
        }
    }
  g_assert_not_reached ();
}

static gint64
count_buffered (Fixture *f)
{
  Reply r = request (f, "GET", "transfersessions/" TS "/", NULL);
  g_autoptr(JsonNode) node = reply_json (&r);
  gint64 n = json_object_get_int_member (json_node_get_object (node), "records_transferred");

  reply_clear (&r);
  return n;
}

static void
test_authorization (Fixture       *f,
                    gconstpointer  data)
{
  g_autofree char *chunk = first_recorded_chunk (f);
  g_autofree char *forged = NULL;
  Reply r;

  open_sync (f);
  /* The client's certificate reads ROOT and writes ROOT:user only. */
  assert_refused (request (f, "POST", "transfersessions/",
                           "{\"id\": \"" TS "\", \"filter\": \"ffffffffffffffffffffffffffffffff\", \"push\": false, "
                           "\"sync_session_id\": \"" SS "\"}"), 403);
  assert_refused (request (f, "POST", "transfersessions/",
                           "{\"id\": \"" TS "\", \"filter\": \"" ROOT "\", \"push\": true, "
                           "\"sync_session_id\": \"" SS "\"}"), 403);
  r = request (f, "POST", "transfersessions/",
               "{\"id\": \"" TS "\", \"filter\": \"" ROOT ":user:interaction\", \"push\": true, "
               "\"sync_session_id\": \"" SS "\", \"records_total\": 20}");
  g_assert_cmpuint (r.status, ==, 201);
  reply_clear (&r);

  /* A record of the right partition with a forged id: nothing stored. */
  forged = g_strdup (chunk);
  memcpy (strstr (forged, "\"model_uuid\": \"") + strlen ("\"model_uuid\": \""), "00000000", 8);
  assert_refused (request (f, "POST", "buffers/", forged), 400);
  g_assert_cmpint (count_buffered (f), ==, 0);

  /* The same chunk twice counts once. */
  r = request (f, "POST", "buffers/", chunk);
  g_assert_cmpuint (r.status, ==, 201);
  reply_clear (&r);
  g_assert_cmpint (count_buffered (f), ==, 10);
  r = request (f, "POST", "buffers/", chunk);
  g_assert_cmpuint (r.status, ==, 201);
  reply_clear (&r);
  g_assert_cmpint (count_buffered (f), ==, 10);
}

static void
test_outside_filter (Fixture       *f,
                     gconstpointer  data)
{
  g_autofree char *chunk = first_recorded_chunk (f);
  Reply r;

  open_sync (f);
  /* The push filter is a partition the records are not in. */
  r = request (f, "POST", "transfersessions/",
               "{\"id\": \"" TS "\", \"filter\": \"" ROOT ":user:summary\", \"push\": true, "
               "\"sync_session_id\": \"" SS "\", \"records_total\": 20}");
  g_assert_cmpuint (r.status, ==, 201);
  reply_clear (&r);
  assert_refused (request (f, "POST", "buffers/", chunk), 400);
  g_assert_cmpint (count_buffered (f), ==, 0);
}

/* A chunk bringing more records than announced is refused whole. */
static void
test_too_many (Fixture       *f,
               gconstpointer  data)
{
  g_autofree char *chunk = first_recorded_chunk (f);
  Reply r;

  open_sync (f);
  r = request (f, "POST", "transfersessions/",
               "{\"id\": \"" TS "\", \"filter\": \"" ROOT ":user\", \"push\": true, "
               "\"sync_session_id\": \"" SS "\", \"records_total\": 9}");
  g_assert_cmpuint (r.status, ==, 201);
  reply_clear (&r);
  assert_refused (request (f, "POST", "buffers/", chunk), 400);
  g_assert_cmpint (count_buffered (f), ==, 0);
}

/* A DELETE in the middle of a transfer closes the session all the same
 * (correction 15), and its buffer goes. */
static void
test_delete_early (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *chunk = first_recorded_chunk (f);
  Reply r;

  open_sync (f);
  r = request (f, "POST", "transfersessions/",
               "{\"id\": \"" TS "\", \"filter\": \"" ROOT ":user\", \"push\": true, "
               "\"sync_session_id\": \"" SS "\", \"records_total\": 20}");
  g_assert_cmpuint (r.status, ==, 201);
  reply_clear (&r);
  r = request (f, "POST", "buffers/", chunk);
  g_assert_cmpuint (r.status, ==, 201);
  reply_clear (&r);
  r = request (f, "DELETE", "transfersessions/" TS "/", NULL);
  g_assert_cmpuint (r.status, ==, 204);
  reply_clear (&r);
  assert_refused (request (f, "GET", "transfersessions/" TS "/", NULL), 404);
  assert_refused (request (f, "POST", "buffers/", chunk), 404);
}

/* ---- concurrency ---- */

static void
sent (GObject      *source,
      GAsyncResult *result,
      gpointer      data)
{
  GBytes **out = data;

  *out = soup_session_send_and_read_finish (SOUP_SESSION (source), result, NULL);
  if (*out == NULL)
    *out = g_bytes_new (NULL, 0);
}

static void
wrote (SoupMessage *msg,
       gboolean    *flag)
{
  *flag = TRUE;
}

static void
test_long_patch (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) blocker = NULL;
  g_autoptr(MorangoTransaction) tx = NULL;
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(SoupSession) other = NULL;
  g_autoptr(GBytes) patched = NULL;
  SoupMessage *patch;
  gboolean written = FALSE;
  const char *body = "{\"client_fsic\": \"{\\\"super\\\": {}, \\\"sub\\\": {}}\", "
                     "\"transfer_stage\": \"queuing\"}";
  Reply r;

  open_sync (f);
  r = request (f, "POST", "transfersessions/",
               "{\"id\": \"" TS "\", \"filter\": \"" ROOT ":user\", \"push\": false, "
               "\"sync_session_id\": \"" SS "\"}");
  g_assert_cmpuint (r.status, ==, 201);
  reply_clear (&r);

  /* Another writer holds the database: the PATCH waits on a worker. */
  blocker = folder_store (f);
  tx = morango_transaction_begin (morango_store_get_db (blocker), NULL, &error);
  g_assert_no_error (error);

  g_main_context_push_thread_default (context);
  other = soup_session_new_with_options ("proxy-resolver", NULL, NULL);
  patch = make (f, "PATCH", "transfersessions/" TS "/", "application/json", body, strlen (body));
  g_signal_connect (patch, "wrote-body", G_CALLBACK (wrote), &written);
  soup_session_send_and_read_async (other, patch, G_PRIORITY_DEFAULT, NULL, sent, &patched);
  /* Until the request is on the server's side... */
  while (!written && patched == NULL)
    g_main_context_iteration (context, TRUE);
  g_assert_null (patched);
  g_main_context_pop_thread_default (context);

  /* ...another client is answered meanwhile. */
  assert_still_serving (f);

  morango_transaction_free (g_steal_pointer (&tx));
  g_main_context_push_thread_default (context);
  while (patched == NULL)
    g_main_context_iteration (context, TRUE);
  g_main_context_pop_thread_default (context);
  g_assert_cmpuint (soup_message_get_status (patch), ==, 200);
  g_assert_nonnull (strstr (g_bytes_get_data (patched, NULL), "\"transfer_stage\":\"queuing\""));
  g_object_unref (patch);
}

/* ---- trust: certificates, nonces, the handshake ---- */

/* The recording's users: bob is a superuser (any scope), alice is not. */
static void
add_accounts (Fixture *f)
{
  static const char *const all[] = { MORANGO_ACCOUNT_ALL_SCOPES, NULL };
  static const char *const none[] = { NULL };
  g_autoptr(MorangoStore) store = folder_store (f);
  g_autoptr(GError) error = NULL;

  g_assert_true (morango_account_set_password (morango_store_get_db (store), morango_store_get_random (store),
                                               "bob", "password", all, &error));
  g_assert_true (morango_account_set_password (morango_store_get_db (store), morango_store_get_random (store),
                                               "alice", "password", none, &error));
  g_assert_no_error (error);
}

/* Replays exchange @e and compares: the status (@status when not 0: a
 * deliberate difference), an error's body exactly, a success's shape. */
static void
replay_one (Fixture    *f,
            JsonObject *e,
            guint       status)
{
  JsonObject *request = json_object_get_object_member (e, "request");
  JsonObject *response = json_object_get_object_member (e, "response");
  guint recorded = json_object_get_int_member (response, "status");
  g_autofree char *where = g_strdup_printf ("exchange %" G_GINT64_FORMAT " (%s %s)",
                                            json_object_get_int_member (e, "seq"),
                                            json_object_get_string_member (request, "method"),
                                            json_object_get_string_member (request, "target"));
  Reply r = send_recorded (f, request);
  g_autoptr(JsonNode) ours = NULL;
  JsonNode *theirs = json_object_get_member (response, "body_json");

  if (status == 0)
    status = recorded;
  if (r.status != status)
    g_error ("%s: %u, not %u: %.*s", where, r.status, status, (int) g_bytes_get_size (r.body),
             (const char *) g_bytes_get_data (r.body, NULL));
  ours = reply_json (&r);
  /* DRF's BasicAuthentication names its realm on every 401. */
  if (status == 401)
    g_assert_cmpstr (r.www_authenticate, ==, "Basic realm=\"api\"");
  else
    g_assert_null (r.www_authenticate);
  if (status == recorded && theirs != NULL)
    {
      if (status >= 400)
        {
          g_autofree char *a = morango_test_json_to_string (ours);
          g_autofree char *b = morango_test_json_to_string (theirs);

          if (!morango_test_json_equal (ours, theirs))
            g_error ("%s: answered %s, not %s", where, a, b);
        }
      else
        assert_same_shape (ours, theirs, where);
    }
  reply_clear (&r);
}

/* csr.json: the client lists the server's certificates, fetches the
 * root's chain and asks, as bob, for a certificate under it. */
static void
test_replay_csr (Fixture       *f,
                 gconstpointer  data)
{
  JsonArray *ex = exchanges_of (f);
  guint replayed = 0;

  add_accounts (f);
  for (guint i = 0; i < json_array_get_length (ex); i++)
    {
      JsonObject *e = json_array_get_object_element (ex, i);
      JsonObject *request = json_object_get_object_member (e, "request");

      if (skipped (json_object_get_string_member (request, "path")))
        continue;
      replay_one (f, e, 0);
      replayed++;
    }
  g_assert_cmpuint (replayed, ==, 3);

  /* The new certificate (its salt, so its id, is ours) is stored under
   * the root, without a key: the listing of owned ones leaves it out. */
  {
    g_autoptr(MorangoStore) store = folder_store (f);
    g_autoptr(GPtrArray) all = morango_certificate_list (morango_store_get_db (store), NULL);
    MorangoCertificate *issued;

    g_assert_cmpuint (all->len, ==, 2);
    issued = g_ptr_array_index (all, 1);
    g_assert_cmpstr (morango_certificate_get_parent_id (issued), ==, ROOT);
    g_assert_cmpstr (morango_certificate_get_scope_definition_id (issued), ==, "subset_scope");
    g_assert_false (morango_certificate_has_private_key (issued));
  }
}

/* errors.json's cases about certificates, nonces and pushing.  Where we
 * answer otherwise on purpose (wire/README.md), the status we give: */
static const struct { gint64 seq; guint status; } cert_cases[] = {
  { 87, 0 }, { 88, 0 }, { 89, 0 }, { 90, 0 }, { 91, 0 }, { 92, 0 }, { 93, 0 },
  { 94, 0 }, { 95, 0 }, { 96, 0 }, { 97, 0 }, { 98, 0 }, { 99, 0 }, { 100, 0 },
  { 101, 0 }, { 102, 0 }, { 103, 0 },
  { 104, 400 },   /* scope_params not JSON: Morango fails with a 500 */
  { 105, 400 },   /* a public key that does not parse: 500 */
  { 106, 403 },   /* "username=bob&facility=x": the facility must be the requested dataset */
  { 107, 400 },   /* a JSON string for a body: 500 */
  { 111, 0 },
  { 112, 201 },   /* credentials are read on the CSR only, so bad ones elsewhere change nothing */
  { 113, 0 },
  { 269, 0 },
  { 270, 0 },
  { 271, 403 },   /* certificate pushing refused as such, not for the key (quirk 5) */
};

static void
test_replay_certificate_errors (Fixture       *f,
                                gconstpointer  data)
{
  JsonArray *ex = exchanges_of (f);
  g_autoptr(JsonArray) chain = recorded_chain (f);
  guint replayed = 0;

  add_accounts (f);
  /* The recorded server held the client's certificate, without its key. */
  {
    g_autoptr(MorangoStore) store = folder_store (f);
    g_autoptr(GError) error = NULL;
    g_autoptr(MorangoCertificate) client =
      morango_certificate_new_from_json (json_array_get_object_element (chain, 1), &error);

    g_assert_no_error (error);
    g_assert_true (morango_certificate_save (client, morango_store_get_db (store), &error));
    g_assert_no_error (error);
  }
  for (guint c = 0; c < G_N_ELEMENTS (cert_cases); c++)
    for (guint i = 0; i < json_array_get_length (ex); i++)
      {
        JsonObject *e = json_array_get_object_element (ex, i);

        if (json_object_get_int_member (e, "seq") != cert_cases[c].seq)
          continue;
        replay_one (f, e, cert_cases[c].status);
        replayed++;
      }
  g_assert_cmpuint (replayed, ==, G_N_ELEMENTS (cert_cases));
}

static gint64
count_rows (Fixture    *f,
            const char *sql)
{
  g_autoptr(MorangoStore) store = folder_store (f);
  g_autoptr(GError) error = NULL;
  gint64 n = -1;

  g_assert_true (morango_db_query_int64 (morango_store_get_db (store), &n, NULL, &error, sql, ""));
  g_assert_no_error (error);
  return n;
}

/* The handshake's checks, each refusal leaving nothing behind: no
 * session, no imported chain, and the nonce spent. */
static void
test_handshake (Fixture       *f,
                gconstpointer  data)
{
  static const gint64 T = 1800000000;
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoKey) other = morango_key_generate (&error);
  g_autofree char *n1 = NULL;
  g_autofree char *n2 = NULL;
  g_autofree char *n3 = NULL;
  g_autofree char *body = NULL;
  Reply r;

  g_assert_no_error (error);
  set_clock (f, T);

  /* A nonce 60 s old has expired. */
  n1 = new_nonce (f);
  set_clock (f, T + 60);
  body = sync_session_body_signed (f, SS, n1, NULL);
  assert_refused (request (f, "POST", "syncsessions/", body), 403);
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM morango_syncsession"), ==, 0);
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM morango_certificate"), ==, 1);
  g_clear_pointer (&body, g_free);

  /* Signed by a key that is not the client certificate's. */
  n2 = new_nonce (f);
  body = sync_session_body_signed (f, SS, n2, other);
  assert_refused (request (f, "POST", "syncsessions/", body), 403);
  g_clear_pointer (&body, g_free);
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM morango_syncsession"), ==, 0);
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM morango_certificate"), ==, 1);

  /* A nonce never issued here. */
  body = sync_session_body_signed (f, SS, "0000000000000000000000000000dead", NULL);
  assert_refused (request (f, "POST", "syncsessions/", body), 403);
  g_clear_pointer (&body, g_free);

  /* 59 s is still young enough; then the nonce is spent. */
  n3 = new_nonce (f);
  set_clock (f, T + 60 + 59);
  body = sync_session_body_signed (f, SS, n3, NULL);
  r = request (f, "POST", "syncsessions/", body);
  g_assert_cmpuint (r.status, ==, 201);
  {
    g_autoptr(JsonNode) node = reply_json (&r);
    g_autoptr(GPtrArray) chain = client_chain (f);

    /* The server proves its key over the same text. */
    g_assert_true (morango_http_trust_check_sync_session_response (g_ptr_array_index (chain, 0), n3, SS, node,
                                                                   NULL, &error));
    g_assert_no_error (error);
  }
  reply_clear (&r);
  g_clear_pointer (&body, g_free);
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM morango_certificate"), ==, 2);
  body = sync_session_body_signed (f, "0123456789abcdef0123456789abcde0", n3, NULL);
  {
    Reply again = request (f, "POST", "syncsessions/", body);
    g_autoptr(JsonNode) node = NULL;

    g_assert_cmpuint (again.status, ==, 403);
    node = reply_json (&again);
    g_assert_cmpstr (json_node_get_string (node), ==, "Nonce is not valid");
    reply_clear (&again);
  }
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM morango_syncsession"), ==, 1);
}

/* A signing request to a device without accounts: refused, and the
 * program hears of it. */
static void
test_no_account (Fixture       *f,
                 gconstpointer  data)
{
  JsonArray *ex = exchanges_of (f);
  JsonObject *csr = NULL;
  guint heard;

  for (guint i = 0; i < json_array_get_length (ex); i++)
    {
      JsonObject *request = json_object_get_object_member (json_array_get_object_element (ex, i), "request");

      if (g_str_equal (json_object_get_string_member (request, "method"), "POST") &&
          g_str_has_suffix (json_object_get_string_member (request, "path"), "/certificates/"))
        csr = request;
    }
  g_assert_nonnull (csr);
  assert_refused (send_recorded (f, csr), 401);
  g_mutex_lock (&f->lock);
  heard = f->no_account;
  g_mutex_unlock (&f->lock);
  g_assert_cmpuint (heard, ==, 1);
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM morango_certificate"), ==, 1);

  /* Once the program sets a password, the server takes it at once. */
  add_accounts (f);
  {
    Reply r = send_recorded (f, csr);

    g_assert_cmpuint (r.status, ==, 201);
    reply_clear (&r);
  }
  g_mutex_lock (&f->lock);
  heard = f->no_account;
  g_mutex_unlock (&f->lock);
  g_assert_cmpuint (heard, ==, 1);
}

/* The recorded signing request of csr.json, sent as @user with
 * @password (NULL: no credentials).  *@retry_after gets the header's
 * value, NULL when there is none. */
static Reply
csr_as (Fixture     *f,
        const char  *user,
        const char  *password,
        char       **retry_after)
{
  JsonArray *ex = exchanges_of (f);
  const char *body = NULL;
  g_autoptr(GError) error = NULL;
  SoupMessage *msg;
  Reply r = { 0 };

  for (guint i = 0; i < json_array_get_length (ex) && body == NULL; i++)
    {
      JsonObject *request = json_object_get_object_member (json_array_get_object_element (ex, i), "request");

      if (g_str_equal (json_object_get_string_member (request, "method"), "POST"))
        body = json_object_get_string_member (request, "body");
    }
  g_assert_nonnull (body);
  msg = make (f, "POST", "certificates/", "application/json", body, strlen (body));
  if (user != NULL)
    {
      g_autofree char *header = morango_http_trust_basic_authorization (user, NULL, password, &error);

      g_assert_no_error (error);
      soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", header);
    }
  r.body = soup_session_send_and_read (f->session, msg, NULL, &error);
  g_assert_no_error (error);
  r.status = soup_message_get_status (msg);
  r.content_type = g_strdup (soup_message_headers_get_content_type (soup_message_get_response_headers (msg), NULL));
  *retry_after = g_strdup (soup_message_headers_get_one (soup_message_get_response_headers (msg), "Retry-After"));
  g_object_unref (msg);
  return r;
}

static void
assert_throttled (Reply        r,
                  const char  *retry_after,
                  const char  *expected_retry_after)
{
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *detail = NULL;

  g_assert_cmpuint (r.status, ==, 429);
  g_assert_cmpstr (retry_after, ==, expected_retry_after);
  node = reply_json (&r);
  detail = g_strdup_printf ("Request was throttled. Expected available in %s second%s.", expected_retry_after,
                            g_str_equal (expected_retry_after, "1") ? "" : "s");
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (node), "detail"), ==, detail);
  reply_clear (&r);
}

/* Five wrong passwords within a minute from one address: then every
 * signing request from there gets 429, even with the right password,
 * until the first failure is a minute old.  The server's clock drives
 * the window. */
static void
test_csr_rate_limit (Fixture       *f,
                     gconstpointer  data)
{
  static const gint64 T = 1800000000;
  g_autofree char *retry = NULL;
  Reply r;

  add_accounts (f);
  set_clock (f, T);
  /* Without credentials nothing was guessed: not counted. */
  for (guint i = 0; i < 3; i++)
    {
      r = csr_as (f, NULL, NULL, &retry);
      g_assert_null (retry);
      assert_refused (r, 401);
    }
  /* Failures at T, T+1, …, T+4. */
  for (guint i = 0; i < MORANGO_HTTP_SERVER_CSR_FAILURES; i++)
    {
      set_clock (f, T + i);
      r = csr_as (f, i % 2 ? "nobody" : "bob", "wrong", &retry);
      g_assert_null (retry);
      assert_refused (r, 401);
      g_clear_pointer (&retry, g_free);
    }
  r = csr_as (f, "bob", "password", &retry);
  assert_throttled (r, retry, "56");
  g_clear_pointer (&retry, g_free);
  r = csr_as (f, NULL, NULL, &retry);
  assert_throttled (r, retry, "56");
  g_clear_pointer (&retry, g_free);
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM morango_certificate"), ==, 1);

  /* Only the signing request is held back. */
  assert_refused (request (f, "GET", "certificates/" ROOT "/", NULL), 200);
  assert_refused (request (f, "POST", "nonces/", NULL), 201);

  /* A refusal adds no failure: the window still ends at T+60. */
  set_clock (f, T + 59);
  r = csr_as (f, "bob", "password", &retry);
  assert_throttled (r, retry, "1");
  g_clear_pointer (&retry, g_free);

  /* The failure at T has left the window: one attempt is free again,
   * and the right password gets its certificate. */
  set_clock (f, T + 60);
  r = csr_as (f, "bob", "password", &retry);
  g_assert_cmpuint (r.status, ==, 201);
  g_assert_null (retry);
  reply_clear (&r);
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM morango_certificate"), ==, 2);

  /* A success wipes nothing: the failures at T+1…T+4 still count, so
   * one more wrong password closes the door until T+61. */
  r = csr_as (f, "bob", "wrong", &retry);
  assert_refused (r, 401);
  g_clear_pointer (&retry, g_free);
  r = csr_as (f, "bob", "password", &retry);
  assert_throttled (r, retry, "1");
  g_clear_pointer (&retry, g_free);
  set_clock (f, T + 61);
  r = csr_as (f, "bob", "password", &retry);
  g_assert_cmpuint (r.status, ==, 201);
  reply_clear (&r);
}

/* This device takes no pushed certificates; nonces have no GET. */
static void
test_pushing_refused (Fixture       *f,
                      gconstpointer  data)
{
  assert_refused (request (f, "GET", "publickey/", NULL), 403);
  assert_refused (request (f, "GET", "publickey/1/", NULL), 403);
  assert_refused (request (f, "POST", "certificatechain/", "\"[]\""), 403);
  assert_refused (request (f, "POST", "publickey/", "{}"), 405);
  assert_refused (request (f, "GET", "certificatechain/", NULL), 405);
  assert_refused (request (f, "GET", "nonces/", NULL), 405);
  assert_refused (request (f, "GET", "nonces/x/", NULL), 404);
  assert_refused (request (f, "DELETE", "certificates/" ROOT "/", NULL), 405);
  assert_refused (request (f, "POST", "certificates/", "{"), 400);
  assert_refused (send_msg (f, make (f, "POST", "certificates/", "text/plain", "{}", 2)), 415);
}

int
main (int   argc,
      char *argv[])
{
  static const char *async_files[] = { "push.json", "pull.json", "pull-nothing-new.json",
                                       "pull-resumed.json", "push-resumed.json" };
  static const char *v1_files[] = { "pull-fsic-v1.json", "push-fsic-v1.json" };
  static const char *legacy_files[] = { "push-legacy.json", "pull-legacy.json" };

  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (async_files); i++)
    {
      g_autofree char *name = g_strdup_printf ("/http-server/replay/%s", async_files[i]);

      g_test_add (name, Fixture, async_files[i], fixture_set_up, test_replay, fixture_tear_down);
    }
  for (guint i = 0; i < G_N_ELEMENTS (v1_files); i++)
    {
      g_autofree char *name = g_strdup_printf ("/http-server/replay/%s", v1_files[i]);

      g_test_add (name, Fixture, v1_files[i], v1_set_up, test_replay, fixture_tear_down);
    }
  for (guint i = 0; i < G_N_ELEMENTS (legacy_files); i++)
    {
      g_autofree char *name = g_strdup_printf ("/http-server/replay/%s", legacy_files[i]);

      g_test_add (name, Fixture, legacy_files[i], legacy_set_up, test_replay, fixture_tear_down);
    }
  g_test_add ("/http-server/routes", Fixture, NULL, fixture_set_up, test_info_and_routes, fixture_tear_down);
  g_test_add ("/http-server/hostile-bodies", Fixture, NULL, fixture_set_up, test_hostile_bodies, fixture_tear_down);
  g_test_add ("/http-server/authorization", Fixture, NULL, fixture_set_up, test_authorization, fixture_tear_down);
  g_test_add ("/http-server/outside-filter", Fixture, NULL, fixture_set_up, test_outside_filter, fixture_tear_down);
  g_test_add ("/http-server/too-many", Fixture, NULL, fixture_set_up, test_too_many, fixture_tear_down);
  g_test_add ("/http-server/delete-early", Fixture, NULL, fixture_set_up, test_delete_early, fixture_tear_down);
  g_test_add ("/http-server/long-patch", Fixture, NULL, fixture_set_up, test_long_patch, fixture_tear_down);
  g_test_add ("/http-server/replay/csr.json", Fixture, "csr.json", fixture_set_up, test_replay_csr, fixture_tear_down);
  g_test_add ("/http-server/replay/errors.json-certificates", Fixture, "errors.json", fixture_set_up,
              test_replay_certificate_errors, fixture_tear_down);
  g_test_add ("/http-server/handshake", Fixture, NULL, fixture_set_up, test_handshake, fixture_tear_down);
  g_test_add ("/http-server/no-account", Fixture, "csr.json", fixture_set_up, test_no_account, fixture_tear_down);
  g_test_add ("/http-server/pushing-refused", Fixture, NULL, fixture_set_up, test_pushing_refused, fixture_tear_down);
  g_test_add ("/http-server/csr-rate-limit", Fixture, "csr.json", fixture_set_up, test_csr_rate_limit,
              fixture_tear_down);

  return g_test_run ();
}
