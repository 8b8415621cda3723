/* test-http-push.c: certificate pushing (protocol §7.8 b, §8.3.3, §8.3.4; corrections 19, 34)
 *
 * The server half replays Morango's recorded pushes (http/cert-push.json,
 * http/cert-push-errors.json) against a MorangoHttpServer on 127.0.0.1
 * port 0; the client half pushes to a small server answering with the
 * recorded responses and its requests are compared with the recorded
 * client's; last, two engines push and sync end to end.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include <libsoup/soup.h>

#include "morango-app.h"
#include "morango-chain.h"
#include "morango-data.h"
#include "morango-engine.h"
#include "morango-http-push.h"
#include "morango-http-server.h"
#include "morango-http-trust.h"
#include "morango-json.h"
#include "morango-shared-key.h"
#include "morango-store.h"
#include "morango-test-util.h"
#include "morango-trust.h"
#include "morango-wire.h"

#define CLIENT_ROOT "425e6e1daf4b4bfb599b4e077cd91204"
#define PUSHED      "4df7d6b43c06ec95e23b20e387e5a0af"
#define PUSH_NONCE  "733297783d694ddb8cd7bd63c2495933"
#define CAPS        "ASYNC_OPERATIONS FSIC_V2_FORMAT GZIP_BUFFER_POST"

/* How a test's server runs. */
typedef struct {
  gboolean push;              /* offers ALLOW_CERTIFICATE_PUSHING */
  gboolean accept_new_roots;
} Mode;

static const Mode pushing = { TRUE, TRUE };
static const Mode pushing_trusted_only = { TRUE, FALSE };
static const Mode not_pushing = { FALSE, FALSE };

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
  JsonNode          *vectors;    /* cert-push.json */
  JsonNode          *errors;     /* cert-push-errors.json */
  gint64             now;        /* the server's clock; 0: the real one */
  MorangoWireCapabilities caps;
} Fixture;

/* ---- the server, on a thread of its own ---- */

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
exchanges_of (JsonNode *vectors)
{
  return json_object_get_array_member (json_node_get_object (vectors), "exchanges");
}

/* The recorded exchange @seq of @vectors. */
static JsonObject *
exchange (JsonNode *vectors,
          gint64    seq)
{
  JsonArray *ex = exchanges_of (vectors);

  for (guint i = 0; i < json_array_get_length (ex); i++)
    if (json_object_get_int_member (json_array_get_object_element (ex, i), "seq") == seq)
      return json_array_get_object_element (ex, i);
  g_assert_not_reached ();
}

static MorangoStore *
folder_store (Fixture *f)
{
  return morango_test_open_server_folder (f->dir);
}

/* A nonce the server gave out just now (by its clock): the recorded
 * pushes are salted with these ids. */
static void
seed_nonce (Fixture    *f,
            const char *id)
{
  g_autoptr(MorangoStore) store = folder_store (f);

  morango_test_seed_nonce (store, id, fixture_clock (f) != 0 ? fixture_clock (f) * G_USEC_PER_SEC
                                                              : g_get_real_time ());
}

static gboolean
nonce_unused (Fixture    *f,
              const char *id)
{
  g_autoptr(MorangoStore) store = folder_store (f);
  gint64 v = 0;
  gboolean found = FALSE;

  g_assert_true (morango_db_query_int64 (morango_store_get_db (store), &v, &found, NULL,
                                         "SELECT 1 FROM morango_nonce WHERE id = ?", "s", id));
  return found;
}

static gint64
count_rows (Fixture    *f,
            const char *sql)
{
  g_autoptr(MorangoStore) store = folder_store (f);
  gint64 v = -1;
  gboolean found = FALSE;

  g_assert_true (morango_db_query_int64 (morango_store_get_db (store), &v, &found, NULL, sql, ""));
  return v;
}

static void
start (Fixture    *f,
       const Mode *mode)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoHostInfo) host = morango_host_info_new ("test-server-system", "test-server-node");

  g_mutex_init (&f->lock);
  g_cond_init (&f->cond);
  f->dir = morango_test_tmpdir ();
  f->vectors = morango_test_load_vectors ("http/cert-push.json");
  f->errors = morango_test_load_vectors ("http/cert-push-errors.json");
  f->caps = MORANGO_WIRE_CAPS_DEFAULT | (mode->push ? MORANGO_WIRE_CAP_ALLOW_CERTIFICATE_PUSHING : 0);
  f->server = morango_http_server_new (f->dir, "morango-testapp", host, &error);
  g_assert_no_error (error);
  morango_http_server_set_clock (f->server, fixture_clock, f);
  morango_http_server_set_accept_new_roots (f->server, mode->accept_new_roots);
  {
    /* The recorded server's shared key, so that the recorded pushes are
     * issued to this one. */
    g_autoptr(MorangoStore) store = folder_store (f);
    JsonObject *setup = setup_of (f);

    g_assert_true (morango_db_execute (morango_store_get_db (store), &error,
                                       "INSERT INTO morango_sharedkey (public_key, private_key, current) "
                                       "VALUES (?, ?, 1)", "ss",
                                       json_object_get_string_member (setup, "shared_public_key"),
                                       json_object_get_string_member (setup, "shared_private_key_pem")));
    g_assert_no_error (error);
  }
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
  start (f, data);
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
  json_node_unref (f->errors);
  g_free (f->base);
  g_free (f->dir);
  g_mutex_clear (&f->lock);
  g_cond_clear (&f->cond);
}

/* ---- requests ---- */

typedef struct {
  guint   status;
  char   *body;          /* NUL-terminated */
  char   *content_type;
} Reply;

static void
reply_clear (Reply *r)
{
  g_clear_pointer (&r->body, g_free);
  g_clear_pointer (&r->content_type, g_free);
}

static Reply
send_bytes (Fixture      *f,
            const char   *method,
            const char   *target,       /* below the API base */
            const char   *type,
            const guchar *body,         /* may be NULL */
            gsize         size)
{
  g_autofree char *uri = g_strconcat (f->base, target, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new (method, uri);
  g_autoptr(GBytes) answer = NULL;
  g_autoptr(GError) error = NULL;
  Reply r = { 0 };

  g_assert_nonnull (msg);
  soup_message_headers_replace (soup_message_get_request_headers (msg), MORANGO_WIRE_CAPABILITIES_HEADER, CAPS);
  if (body != NULL)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (body, size);

      soup_message_set_request_body_from_bytes (msg, type, bytes);
    }
  answer = soup_session_send_and_read (f->session, msg, NULL, &error);
  g_assert_no_error (error);
  r.status = soup_message_get_status (msg);
  r.body = g_bytes_get_size (answer) > 0 ? g_strndup (g_bytes_get_data (answer, NULL), g_bytes_get_size (answer))
                                          : g_strdup ("");
  r.content_type = g_strdup (soup_message_headers_get_content_type (soup_message_get_response_headers (msg), NULL));
  return r;
}

static Reply
send_request (Fixture    *f,
              const char *method,
              const char *target,
              const char *type,
              const char *body)
{
  return send_bytes (f, method, target, type, (const guchar *) body, body ? strlen (body) : 0);
}

/* A recorded request, sent as it was (body and Content-Type). */
static Reply
send_recorded (Fixture    *f,
               JsonObject *e)
{
  JsonObject *request = json_object_get_object_member (e, "request");
  const char *target = json_object_get_string_member (request, "target");
  const char *body = json_object_get_string_member_with_default (request, "body", "");
  g_autofree guchar *raw = NULL;
  gsize size = strlen (body);

  if (json_object_has_member (request, "body_raw_base64"))
    raw = g_base64_decode (json_object_get_string_member (request, "body_raw_base64"), &size);
  else
    raw = (guchar *) g_strdup (body);
  g_assert_true (g_str_has_prefix (target, "/api/morango/v1/"));
  return send_bytes (f, json_object_get_string_member (request, "method"), target + strlen ("/api/morango/v1/"),
                     json_object_get_string_member_with_default (request, "content_type", NULL),
                     size > 0 ? raw : NULL, size);
}

static JsonNode *
reply_json (const Reply *r)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node;

  g_assert_cmpstr (r->content_type, ==, "application/json");
  node = morango_wire_json_parse (r->body, -1, &error);
  g_assert_no_error (error);
  return node;
}

/* Same keys with the same kinds of values; arrays by length and their
 * first element. */
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

      if (json_object_get_size (a) != json_object_get_size (b))
        g_error ("%s: %u keys, not %u", where, json_object_get_size (a), json_object_get_size (b));
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

/* The recorded answer of exchange @seq, byte for byte. */
static void
assert_recorded_answer (Fixture  *f,
                        JsonNode *vectors,
                        gint64    seq)
{
  JsonObject *e = exchange (vectors, seq);
  JsonObject *response = json_object_get_object_member (e, "response");
  Reply r = send_recorded (f, e);

  if (r.status != json_object_get_int_member (response, "status"))
    g_error ("exchange %" G_GINT64_FORMAT ": %u, not %" G_GINT64_FORMAT ": %s", seq, r.status,
             json_object_get_int_member (response, "status"), r.body);
  g_assert_cmpstr (r.body, ==, json_object_get_string_member (response, "body"));
  g_assert_cmpstr (r.content_type, ==, "application/json");
  reply_clear (&r);
}

/* ---- the server ---- */

/* morangoinfo advertises pushing exactly when it is offered. */
static gboolean
advertises_pushing (Fixture *f)
{
  Reply r = send_request (f, "GET", "morangoinfo/1/", NULL, NULL);
  g_autoptr(JsonNode) node = reply_json (&r);
  MorangoWireCapabilities caps = 0;

  g_assert_cmpuint (r.status, ==, 200);
  g_assert_true (morango_wire_capabilities_from_json (json_object_get_member (json_node_get_object (node),
                                                                              "capabilities"),
                                                      &caps, NULL));
  reply_clear (&r);
  return (caps & MORANGO_WIRE_CAP_ALLOW_CERTIFICATE_PUSHING) != 0;
}

/* cert-push.json from the server's side: the push, then a sync session
 * whose server certificate is the pushed one, and a push of 5 records. */
static void
test_replay (Fixture       *f,
             gconstpointer  data)
{
  JsonArray *ex = exchanges_of (f->vectors);
  g_autoptr(MorangoStore) store = NULL;
  g_autoptr(MorangoCertificate) pushed = NULL;
  g_autoptr(GError) error = NULL;
  guint replayed = 0;

  g_assert_true (advertises_pushing (f));
  /* The recorded push is salted with this nonce, and the handshake
   * signed the other: both must be the server's, and fresh. */
  seed_nonce (f, PUSH_NONCE);
  seed_nonce (f, "d56d0729121e4d63b458cee882383483");

  for (guint i = 0; i < json_array_get_length (ex); i++)
    {
      JsonObject *e = json_array_get_object_element (ex, i);
      JsonObject *request = json_object_get_object_member (e, "request");
      JsonObject *response = json_object_get_object_member (e, "response");
      const char *path = json_object_get_string_member (request, "path");
      g_autofree char *where = g_strdup_printf ("exchange %" G_GINT64_FORMAT " (%s %s)",
                                                json_object_get_int_member (e, "seq"),
                                                json_object_get_string_member (request, "method"), path);
      Reply r;

      if (strstr (path, "/morangoinfo/") != NULL)
        continue;
      r = send_recorded (f, e);
      if (r.status != json_object_get_int_member (response, "status"))
        g_error ("%s: %u, not %" G_GINT64_FORMAT ": %s", where, r.status,
                 json_object_get_int_member (response, "status"), r.body);
      if (strstr (path, "/publickey/") != NULL || strstr (path, "/certificatechain/") != NULL)
        /* The same shared key, the same words: the same bytes. */
        g_assert_cmpstr (r.body, ==, json_object_get_string_member (response, "body"));
      if (json_object_has_member (response, "body_json"))
        {
          g_autoptr(JsonNode) ours = reply_json (&r);
          JsonNode *recorded = json_object_get_member (response, "body_json");

          assert_same_shape (ours, recorded, where);
          if (JSON_NODE_HOLDS_OBJECT (ours) && json_object_has_member (json_node_get_object (ours), "transfer_stage"))
            {
              JsonObject *a = json_node_get_object (ours), *b = json_node_get_object (recorded);

              g_assert_cmpstr (json_object_get_string_member (a, "transfer_stage"), ==,
                               json_object_get_string_member (b, "transfer_stage"));
              g_assert_cmpstr (json_object_get_string_member (a, "transfer_stage_status"), ==,
                               json_object_get_string_member (b, "transfer_stage_status"));
              g_assert_cmpint (json_object_get_int_member (a, "records_transferred"), ==,
                               json_object_get_int_member (b, "records_transferred"));
            }
        }
      else
        g_assert_cmpstr (r.body, ==, "");
      reply_clear (&r);
      replayed++;
    }
  g_assert_cmpuint (replayed, ==, json_array_get_length (ex) - 1);

  /* What the server keeps: the pushed certificate with the shared
   * private key, the client's root, trusted from its first push on. */
  store = folder_store (f);
  pushed = morango_certificate_load (morango_store_get_db (store), PUSHED, &error);
  g_assert_no_error (error);
  g_assert_true (morango_certificate_has_private_key (pushed));
  g_assert_cmpstr (morango_certificate_get_public_key_string (pushed), ==,
                   json_object_get_string_member (setup_of (f), "shared_public_key"));
  g_assert_true (morango_trust_is_trusted (morango_store_get_db (store), CLIENT_ROOT));
  g_assert_false (nonce_unused (f, PUSH_NONCE));
  /* The 5 records of the recorded push arrived. */
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM morango_store"), ==, 5);
}

/* cert-push-errors.json: each refusal with its status and body, and the
 * nonce it fetched spent or not as Morango left it. */
static void
test_refusals (Fixture       *f,
               gconstpointer  data)
{
  JsonObject *result = json_object_get_object_member (json_node_get_object (f->errors), "driver_result");
  JsonArray *cases = json_object_get_array_member (result, "cases");
  JsonArray *ex = exchanges_of (f->errors);
  gint64 certs;

  /* The accepted push first: the replay case sends it again. */
  seed_nonce (f, PUSH_NONCE);
  assert_recorded_answer (f, f->vectors, 53);
  certs = count_rows (f, "SELECT count(*) FROM morango_certificate");
  g_assert_cmpint (certs, ==, 2);

  for (guint c = 0; c < json_array_get_length (cases); c++)
    {
      JsonObject *k = json_array_get_object_element (cases, c);
      const char *name = json_object_get_string_member (k, "case");
      const char *nonce = json_object_get_string_member (k, "nonce_fetched");
      JsonObject *push = NULL;
      Reply r;

      for (guint i = 0; i < json_array_get_length (ex); i++)
        {
          JsonObject *e = json_array_get_object_element (ex, i);

          if (g_str_equal (json_object_get_string_member (e, "case"), name) &&
              strstr (json_object_get_string_member (json_object_get_object_member (e, "request"), "path"),
                      "/certificatechain/") != NULL)
            push = e;
        }
      g_assert_nonnull (push);
      /* The nonce the client fetched for this case. */
      seed_nonce (f, nonce);
      r = send_recorded (f, push);
      if (r.status != json_object_get_int_member (k, "status"))
        g_error ("%s: %u, not %" G_GINT64_FORMAT ": %s", name, r.status,
                 json_object_get_int_member (k, "status"), r.body);
      g_assert_cmpstr (r.body, ==, json_object_get_string_member (k, "body"));
      g_assert_cmpint (nonce_unused (f, nonce), ==, !json_object_get_boolean_member (k, "nonce_fetched_consumed_by_server"));
      reply_clear (&r);
      /* Nothing was stored by a refusal. */
      g_assert_cmpint (count_rows (f, "SELECT count(*) FROM morango_certificate"), ==, certs);
    }
  g_assert_cmpuint (json_array_get_length (cases), ==, 3);
}

/* Without the setting: not advertised, and both routes refused
 * (enforced on certificatechain/ too, quirk 5). */
static void
test_not_offered (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(JsonNode) errors = morango_test_load_vectors ("http/errors.json");
  Reply r;

  g_assert_false (advertises_pushing (f));
  assert_recorded_answer (f, errors, 269);
  seed_nonce (f, PUSH_NONCE);
  r = send_recorded (f, exchange (f->vectors, 53));
  g_assert_cmpuint (r.status, ==, 403);
  reply_clear (&r);
  g_assert_true (nonce_unused (f, PUSH_NONCE));
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM morango_certificate"), ==, 0);
  r = send_request (f, "GET", "publickey/1/", NULL, NULL);
  g_assert_cmpuint (r.status, ==, 403);
  reply_clear (&r);
}

/* A chain of a root this server does not trust: 403, nothing stored,
 * the nonce unused; once the root is trusted, the same push goes in. */
static void
test_untrusted_root (Fixture       *f,
                     gconstpointer  data)
{
  Reply r;

  seed_nonce (f, PUSH_NONCE);
  r = send_recorded (f, exchange (f->vectors, 53));
  g_assert_cmpuint (r.status, ==, 403);
  {
    g_autoptr(JsonNode) node = reply_json (&r);

    g_assert_cmpstr (json_object_get_string_member (json_node_get_object (node), "error_class"), ==,
                     "CertificateRootUntrusted");
  }
  reply_clear (&r);
  g_assert_true (nonce_unused (f, PUSH_NONCE));
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM morango_certificate"), ==, 0);
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM morango_trustedroot"), ==, 0);

  {
    g_autoptr(MorangoStore) store = folder_store (f);
    g_autoptr(GError) error = NULL;

    g_assert_true (morango_trust_add_root (morango_store_get_db (store), CLIENT_ROOT, "test", &error));
    g_assert_no_error (error);
  }
  assert_recorded_answer (f, f->vectors, 53);
}

/* The nonce salting a push expires 60 s after the server gave it, by
 * the server's clock. */
static void
test_expired_nonce (Fixture       *f,
                    gconstpointer  data)
{
  gint64 t = g_get_real_time () / G_USEC_PER_SEC;
  Reply r;

  set_clock (f, t);
  seed_nonce (f, PUSH_NONCE);
  set_clock (f, t + 61);
  r = send_recorded (f, exchange (f->vectors, 53));
  g_assert_cmpuint (r.status, ==, 403);
  g_assert_cmpstr (r.body, ==, "\"Nonce (certificate's salt) is not valid\"");
  reply_clear (&r);
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM morango_certificate"), ==, 0);
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM morango_trustedroot"), ==, 0);
  /* Spent all the same. */
  g_assert_false (nonce_unused (f, PUSH_NONCE));

  /* Given again, and used within the minute. */
  set_clock (f, t);
  seed_nonce (f, PUSH_NONCE);
  set_clock (f, t + 59);
  assert_recorded_answer (f, f->vectors, 53);
}

static MorangoKey *
setup_key (Fixture    *f,
           const char *member)
{
  g_autoptr(GError) error = NULL;
  MorangoKey *key = morango_key_new_from_private_pem (json_object_get_string_member (setup_of (f), member), &error);

  g_assert_no_error (error);
  return key;
}

/* The double-encoded body of a push of @x under @root. */
static char *
push_body (MorangoCertificate *root,
           MorangoCertificate *x)
{
  g_autoptr(GPtrArray) chain = g_ptr_array_new ();

  g_ptr_array_add (chain, root);
  g_ptr_array_add (chain, x);
  return morango_http_trust_build_certificate_chain_body (chain);
}

/* With new roots accepted, each new root is trusted on its first push;
 * a chain reusing a stored root's id with another key is refused. */
static void
test_new_roots (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(MorangoKey) shared = setup_key (f, "shared_private_key_pem");
  g_autoptr(MorangoKey) other = setup_key (f, "client_private_key_pem");
  g_autoptr(MorangoCertificate) impostor = NULL;
  g_autoptr(MorangoCertificate) x = NULL;
  g_autoptr(MorangoCertificate) root2 = NULL;
  g_autoptr(MorangoCertificate) x2 = NULL;
  g_autofree char *params = g_strdup_printf ("{\"user\": \"%s\"}", CLIENT_ROOT);
  g_autofree char *sub = g_strdup_printf ("{\"user\": \"%s\", \"sub\": \"user\"}", CLIENT_ROOT);
  g_autofree char *body = NULL;
  g_autofree char *params2 = NULL;
  g_autofree char *sub2 = NULL;
  const char *nonce = "0badc0de0badc0de0badc0de0badc0de";
  const char *nonce2 = "5ec0d0005ec0d0005ec0d0005ec0d000";
  Reply r;

  seed_nonce (f, PUSH_NONCE);
  assert_recorded_answer (f, f->vectors, 53);
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM morango_certificate"), ==, 2);

  /* The same root id, another key: the chain is the impostor's own,
   * signed as it should be, but the id is taken. */
  impostor = morango_test_forge (CLIENT_ROOT, NULL, "facilitydata", "", "root_scope", params, other, other);
  x = morango_test_forge (NULL, CLIENT_ROOT, "facilitydata", nonce, "subset_scope", sub, shared, other);
  seed_nonce (f, nonce);
  body = push_body (impostor, x);
  r = send_request (f, "POST", "certificatechain/", "application/json", body);
  g_assert_cmpuint (r.status, ==, 403);
  g_assert_true (g_str_has_prefix (r.body, "\"Saving certificate chain has failed: "));
  reply_clear (&r);
  g_assert_true (nonce_unused (f, nonce));
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM morango_certificate"), ==, 2);
  g_clear_pointer (&body, g_free);

  /* A root of its own id is another dataset: trusted on first use. */
  {
    g_autofree char *id = morango_certificate_compute_id (morango_key_get_public_string (other), "facilitydata", "");

    params2 = g_strdup_printf ("{\"user\": \"%s\"}", id);
    sub2 = g_strdup_printf ("{\"user\": \"%s\", \"sub\": \"user\"}", id);
    root2 = morango_test_forge (NULL, NULL, "facilitydata", "", "root_scope", params2, other, other);
    x2 = morango_test_forge (NULL, id, "facilitydata", nonce2, "subset_scope", sub2, shared, other);
    seed_nonce (f, nonce2);
    body = push_body (root2, x2);
    r = send_request (f, "POST", "certificatechain/", "application/json", body);
    g_assert_cmpuint (r.status, ==, 201);
    reply_clear (&r);
    g_assert_cmpint (count_rows (f, "SELECT count(*) FROM morango_certificate"), ==, 4);
    g_assert_cmpint (count_rows (f, "SELECT count(*) FROM morango_trustedroot"), ==, 2);
  }

  /* Only a root never seen is trusted on first use: one stored here
   * whose trust was taken back stays untrusted. */
  {
    g_autoptr(MorangoStore) store = folder_store (f);
    g_autoptr(GError) error = NULL;
    g_autoptr(MorangoKey) root_key = setup_key (f, "push_client_root_private_key_pem");
    g_autoptr(MorangoCertificate) root = morango_certificate_load (morango_store_get_db (store), CLIENT_ROOT, &error);
    g_autoptr(MorangoCertificate) x3 = NULL;
    const char *nonce3 = "7e5700007e5700007e5700007e570000";

    g_assert_no_error (error);
    g_assert_true (morango_trust_remove_root (morango_store_get_db (store), CLIENT_ROOT, &error));
    x3 = morango_test_forge (NULL, CLIENT_ROOT, "facilitydata", nonce3, "subset_scope", sub, shared, root_key);
    seed_nonce (f, nonce3);
    g_clear_pointer (&body, g_free);
    body = push_body (root, x3);
    r = send_request (f, "POST", "certificatechain/", "application/json", body);
    g_assert_cmpuint (r.status, ==, 403);
    g_assert_nonnull (strstr (r.body, "CertificateRootUntrusted"));
    reply_clear (&r);
    g_assert_true (nonce_unused (f, nonce3));
    g_assert_false (morango_trust_is_trusted (morango_store_get_db (store), CLIENT_ROOT));
  }
}

/* publickey/<id>/ is one shared key by its row id; anything else is not
 * found. */
static void
test_public_key_item (Fixture       *f,
                      gconstpointer  data)
{
  gint64 id = count_rows (f, "SELECT max(id) FROM morango_sharedkey");
  g_autofree char *target = g_strdup_printf ("publickey/%" G_GINT64_FORMAT "/", id);
  g_autofree char *expected = g_strdup_printf ("{\"public_key\":\"%s\"}",
                                               json_object_get_string_member (setup_of (f), "shared_public_key"));
  const char *missing[] = { "publickey/999/", "publickey/abc/", "publickey/-1/" };
  Reply r = send_request (f, "GET", target, NULL, NULL);

  g_assert_cmpuint (r.status, ==, 200);
  g_assert_cmpstr (r.body, ==, expected);
  reply_clear (&r);
  for (guint i = 0; i < G_N_ELEMENTS (missing); i++)
    {
      r = send_request (f, "GET", missing[i], NULL, NULL);
      g_assert_cmpuint (r.status, ==, 404);
      g_assert_cmpstr (r.body, ==, "{\"detail\":\"Not found.\"}");
      reply_clear (&r);
    }
  /* The server made no key of its own: the recorded one was there. */
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM morango_sharedkey"), ==, 1);
}

/* Bodies that are no pushed chain: 400 with a JSON body, nothing
 * changes, the server goes on. */
static void
test_hostile (Fixture       *f,
              gconstpointer  data)
{
  const char *bodies[] = { "{}", "\"[]\"", "[1, 2]", "\"[{}]\"", "\"\\\"[]\\\"\"", "17", "\"not json\"" };

  for (guint i = 0; i < G_N_ELEMENTS (bodies); i++)
    {
      Reply r = send_request (f, "POST", "certificatechain/", "application/json", bodies[i]);
      g_autoptr(JsonNode) node = NULL;

      if (r.status != 400)
        g_error ("%s: %u %s", bodies[i], r.status, r.body);
      node = reply_json (&r);
      reply_clear (&r);
    }
  {
    /* A chain of one certificate: there is no issuer. */
    JsonObject *push = json_object_get_object_member (exchange (f->vectors, 53), "request");
    g_autoptr(JsonNode) chain = morango_wire_json_parse (json_object_get_string_member (push, "body"), -1, NULL);
    g_autoptr(JsonNode) inner = morango_wire_json_parse (json_node_get_string (chain), -1, NULL);
    g_autoptr(JsonNode) one = json_node_init_array (json_node_alloc (), json_array_new ());
    g_autofree char *text = NULL;
    g_autoptr(JsonNode) wrapped = NULL;
    g_autofree char *body = NULL;
    Reply r;

    json_array_add_element (json_node_get_array (one),
                            json_node_copy (json_array_get_element (json_node_get_array (inner), 1)));
    text = morango_json_dumps (one);
    wrapped = json_node_init_string (json_node_alloc (), text);
    body = morango_json_dumps (wrapped);
    seed_nonce (f, PUSH_NONCE);
    r = send_request (f, "POST", "certificatechain/", "application/json", body);
    g_assert_cmpuint (r.status, ==, 400);
    reply_clear (&r);
    g_assert_true (nonce_unused (f, PUSH_NONCE));
  }
  {
    Reply r = send_request (f, "POST", "certificatechain/", "text/plain", "\"[]\"");

    g_assert_cmpuint (r.status, ==, 415);
    reply_clear (&r);
  }
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM morango_certificate"), ==, 0);
  /* Still serving: the recorded push goes in. */
  assert_recorded_answer (f, f->vectors, 53);
}

/* ---- the client ---- */

/* A server answering each request with the recorded response to the
 * same route of cert-push.json, keeping what it was sent. */
typedef struct {
  char       *method;
  char       *path;
  char       *caps;
  char       *authorization;
  char       *content_type;
  char       *body;
} Seen;

static void
seen_free (Seen *s)
{
  g_free (s->method);
  g_free (s->path);
  g_free (s->caps);
  g_free (s->authorization);
  g_free (s->content_type);
  g_free (s->body);
  g_free (s);
}

typedef struct {
  JsonNode     *vectors;
  gboolean      offers_push;
  gboolean      refuses_chain;
  GMainContext *context;
  GMainLoop    *loop;
  GThread      *thread;
  SoupServer   *soup;
  GMutex        lock;
  GCond         cond;
  char         *url;
  GPtrArray    *seen;
} Mock;

static void
mock_handler (SoupServer        *soup,
              SoupServerMessage *msg,
              const char        *path,
              GHashTable        *query,
              gpointer           data)
{
  Mock *m = data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  g_autoptr(GBytes) body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  Seen *s = g_new0 (Seen, 1);
  gint64 seq = 0;
  JsonObject *response;
  g_autofree char *answer = NULL;
  gboolean refuses_chain;
  guint status;

  s->method = g_strdup (soup_server_message_get_method (msg));
  s->path = g_strdup (path);
  s->caps = g_strdup (soup_message_headers_get_one (headers, MORANGO_WIRE_CAPABILITIES_HEADER));
  s->authorization = g_strdup (soup_message_headers_get_one (headers, "Authorization"));
  s->content_type = g_strdup (soup_message_headers_get_content_type (headers, NULL));
  s->body = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  g_mutex_lock (&m->lock);
  g_ptr_array_add (m->seen, s);
  refuses_chain = m->refuses_chain;
  g_mutex_unlock (&m->lock);

  if (g_str_has_suffix (path, "/morangoinfo/1/"))
    seq = 49;
  else if (g_str_has_suffix (path, "/publickey/"))
    seq = 51;
  else if (g_str_has_suffix (path, "/nonces/"))
    seq = 52;
  else if (g_str_has_suffix (path, "/certificatechain/"))
    seq = 53;
  if (seq == 0)
    {
      soup_server_message_set_status (msg, 404, NULL);
      return;
    }
  response = json_object_get_object_member (exchange (m->vectors, seq), "response");
  status = json_object_get_int_member (response, "status");
  answer = g_strdup (json_object_get_string_member (response, "body"));
  if (seq == 49 && !m->offers_push)
    {
      /* The same server with the setting off. */
      g_autoptr(JsonNode) info = morango_wire_json_parse (answer, -1, NULL);

      json_object_set_member (json_node_get_object (info), "capabilities",
                              morango_wire_capabilities_to_json (MORANGO_WIRE_CAPS_DEFAULT));
      g_free (answer);
      answer = morango_wire_json_to_string (info, MORANGO_WIRE_JSON_COMPACT);
    }
  if (seq == 53 && refuses_chain)
    {
      status = 400;
      g_free (answer);
      answer = g_strdup ("\"Shared public key was not used\"");
    }
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, answer, strlen (answer));
}

static gpointer
mock_serve (gpointer data)
{
  Mock *m = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  GSList *uris;

  g_main_context_push_thread_default (m->context);
  m->soup = soup_server_new (NULL, NULL);
  soup_server_add_handler (m->soup, NULL, mock_handler, m, NULL);
  g_assert_true (soup_server_listen (m->soup, address, 0, &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (m->soup);
  g_mutex_lock (&m->lock);
  m->url = g_strdup_printf ("http://127.0.0.1:%d/", g_uri_get_port (uris->data));
  g_cond_signal (&m->cond);
  g_mutex_unlock (&m->lock);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  g_main_loop_run (m->loop);
  soup_server_disconnect (m->soup);
  g_clear_object (&m->soup);
  g_main_context_pop_thread_default (m->context);
  return NULL;
}

static Mock *
mock_start (gboolean offers_push,
            gboolean refuses_chain)
{
  Mock *m = g_new0 (Mock, 1);

  m->vectors = morango_test_load_vectors ("http/cert-push.json");
  m->offers_push = offers_push;
  m->refuses_chain = refuses_chain;
  m->seen = g_ptr_array_new_with_free_func ((GDestroyNotify) seen_free);
  g_mutex_init (&m->lock);
  g_cond_init (&m->cond);
  m->context = g_main_context_new ();
  m->loop = g_main_loop_new (m->context, FALSE);
  m->thread = g_thread_new ("mock", mock_serve, m);
  g_mutex_lock (&m->lock);
  while (m->url == NULL)
    g_cond_wait (&m->cond, &m->lock);
  g_mutex_unlock (&m->lock);
  return m;
}

static void
mock_stop (Mock *m)
{
  g_main_loop_quit (m->loop);
  g_thread_join (m->thread);
  g_main_loop_unref (m->loop);
  g_main_context_unref (m->context);
  g_ptr_array_unref (m->seen);
  json_node_unref (m->vectors);
  g_mutex_clear (&m->lock);
  g_cond_clear (&m->cond);
  g_free (m->url);
  g_free (m);
}

/* A client folder of the test app's profile owning a root_scope root,
 * as the recorded client did. */
static MorangoStore *
client_store (MorangoCertificate **root)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = morango_test_tmpdir ();
  g_autoptr(MorangoHostInfo) host = morango_host_info_new ("test-client-system", "test-client-node");
  g_autoptr(MorangoRandom) random = morango_random_new_secure ();
  MorangoStore *store = morango_store_open_folder (dir, "morango-testapp", host, random, &error);

  g_assert_no_error (error);
  *root = morango_certificate_create_root (morango_store_get_db (store), "root_scope", NULL, NULL, &error);
  g_assert_no_error (error);
  return store;
}

static char *
subset_params (MorangoCertificate *root)
{
  return g_strdup_printf ("{\"user\": \"%s\", \"sub\": \"user\"}", morango_certificate_get_id (root));
}

/* Our client's push has the recorded client's requests: the same
 * routes in the same order, the capability header on each, no
 * credentials, and a double-encoded chain of the same shape, written as
 * json.dumps writes it. */
static void
test_client_shape (void)
{
  Mock *m = mock_start (TRUE, FALSE);
  g_autoptr(JsonNode) vectors = morango_test_load_vectors ("http/cert-push.json");
  g_autoptr(MorangoCertificate) root = NULL;
  g_autoptr(MorangoStore) store = client_store (&root);
  g_autoptr(MorangoHttpPeer) peer = NULL;
  g_autoptr(MorangoCertificate) pushed = NULL;
  g_autoptr(MorangoCertificate) kept = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *params = subset_params (root);
  static const gint64 recorded[] = { 49, 51, 52, 53 };
  JsonObject *setup = json_object_get_object_member (json_node_get_object (vectors), "setup");

  peer = morango_http_peer_new (m->url, store, NULL, NULL, &error);
  g_assert_no_error (error);
  pushed = morango_http_push (peer, root, "subset_scope", params, NULL, &error);
  g_assert_no_error (error);

  g_assert_cmpuint (m->seen->len, ==, G_N_ELEMENTS (recorded));
  for (guint i = 0; i < m->seen->len; i++)
    {
      Seen *s = g_ptr_array_index (m->seen, i);
      JsonObject *request = json_object_get_object_member (exchange (vectors, recorded[i]), "request");

      g_assert_cmpstr (s->method, ==, json_object_get_string_member (request, "method"));
      g_assert_cmpstr (s->path, ==, json_object_get_string_member (request, "path"));
      g_assert_nonnull (s->caps);
      g_assert_cmpuint (morango_wire_capabilities_parse (s->caps), ==, MORANGO_WIRE_CAPS_DEFAULT);
      g_assert_null (s->authorization);
      if (recorded[i] == 53)
        {
          g_autoptr(JsonNode) ours = morango_wire_json_parse (s->body, -1, &error);
          g_autoptr(JsonNode) theirs = morango_wire_json_parse (json_object_get_string_member (request, "body"), -1, NULL);
          g_autoptr(JsonNode) ours_inner = NULL;
          g_autoptr(JsonNode) theirs_inner = NULL;
          g_autofree char *redumped = NULL;
          g_autofree char *reencoded = NULL;
          JsonArray *chain;
          JsonObject *x;

          g_assert_no_error (error);
          g_assert_cmpstr (s->content_type, ==, json_object_get_string_member (request, "content_type"));
          g_assert_true (JSON_NODE_HOLDS_VALUE (ours) && json_node_get_value_type (ours) == G_TYPE_STRING);
          ours_inner = morango_wire_json_parse (json_node_get_string (ours), -1, &error);
          g_assert_no_error (error);
          theirs_inner = morango_wire_json_parse (json_node_get_string (theirs), -1, NULL);
          assert_same_shape (ours_inner, theirs_inner, "certificatechain/");
          /* Python's separators and escapes, inside and out. */
          redumped = morango_json_dumps (ours_inner);
          g_assert_cmpstr (redumped, ==, json_node_get_string (ours));
          reencoded = morango_json_dumps (ours);
          g_assert_cmpstr (reencoded, ==, s->body);

          chain = json_node_get_array (ours_inner);
          g_assert_cmpuint (json_array_get_length (chain), ==, 2);
          g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (chain, 0), "id"), ==,
                           morango_certificate_get_id (root));
          x = json_array_get_object_element (chain, 1);
          g_assert_cmpstr (json_object_get_string_member (x, "parent"), ==, morango_certificate_get_id (root));
          g_assert_cmpstr (json_object_get_string_member (x, "public_key"), ==,
                           json_object_get_string_member (setup, "shared_public_key"));
          /* The nonce the server gave is the salt. */
          g_assert_cmpstr (json_object_get_string_member (x, "salt"), ==, PUSH_NONCE);
          g_assert_cmpstr (json_object_get_string_member (x, "scope_definition"), ==, "subset_scope");
          g_assert_cmpint (json_object_get_int_member (x, "scope_version"), ==,
                           morango_certificate_get_scope_version (root));
          g_assert_cmpstr (json_object_get_string_member (x, "id"), ==, morango_certificate_get_id (pushed));
        }
    }

  /* Kept here without a private key: the server holds it. */
  kept = morango_certificate_load (morango_store_get_db (store), morango_certificate_get_id (pushed), &error);
  g_assert_no_error (error);
  g_assert_false (morango_certificate_has_private_key (kept));
  g_assert_true (morango_certificate_check (kept, morango_store_get_db (store), &error));
  g_assert_no_error (error);
  mock_stop (m);
}

/* A server without the capability: refused after morangoinfo, with
 * nothing else asked (as Morango's client raises
 * MorangoServerDoesNotAllowNewCertPush). */
static void
test_client_not_offered (void)
{
  Mock *m = mock_start (FALSE, FALSE);
  g_autoptr(MorangoCertificate) root = NULL;
  g_autoptr(MorangoStore) store = client_store (&root);
  g_autoptr(MorangoHttpPeer) peer = NULL;
  g_autoptr(MorangoCertificate) pushed = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *params = subset_params (root);

  peer = morango_http_peer_new (m->url, store, NULL, NULL, &error);
  g_assert_no_error (error);
  pushed = morango_http_push (peer, root, "subset_scope", params, NULL, &error);
  g_assert_null (pushed);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED);
  g_assert_cmpuint (m->seen->len, ==, 1);
  g_assert_cmpstr (((Seen *) g_ptr_array_index (m->seen, 0))->path, ==, "/api/morango/v1/morangoinfo/1/");
  mock_stop (m);
}

/* A refused push is an error quoting the server, and nothing is kept. */
static void
test_client_refused (void)
{
  Mock *m = mock_start (TRUE, TRUE);
  g_autoptr(MorangoCertificate) root = NULL;
  g_autoptr(MorangoStore) store = client_store (&root);
  g_autoptr(MorangoHttpPeer) peer = NULL;
  g_autoptr(MorangoCertificate) pushed = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *params = subset_params (root);
  gint64 n = 0;
  gboolean found = FALSE;

  peer = morango_http_peer_new (m->url, store, NULL, NULL, &error);
  g_assert_no_error (error);
  pushed = morango_http_push (peer, root, "subset_scope", params, NULL, &error);
  g_assert_null (pushed);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "Shared public key was not used"));
  g_assert_true (morango_db_query_int64 (morango_store_get_db (store), &n, &found, NULL,
                                         "SELECT count(*) FROM morango_certificate", ""));
  g_assert_cmpint (n, ==, 1);
  g_clear_error (&error);

  /* A scope the parent cannot issue never leaves: its nonce would be
   * spent for nothing. */
  g_mutex_lock (&m->lock);
  g_ptr_array_set_size (m->seen, 0);
  m->refuses_chain = FALSE;
  g_mutex_unlock (&m->lock);
  g_clear_object (&peer);
  peer = morango_http_peer_new (m->url, store, NULL, NULL, &error);
  pushed = morango_http_push (peer, root, "subset_scope",
                              "{\"user\": \"8fd90aa52ea69b359379227d97f6b712\", \"sub\": \"user\"}", NULL, &error);
  g_assert_null (pushed);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_SCOPE_NOT_SUBSET);
  for (guint i = 0; i < m->seen->len; i++)
    g_assert_null (strstr (((Seen *) g_ptr_array_index (m->seen, i))->path, "certificatechain"));
  mock_stop (m);
}

/* ---- end to end: two engines ---- */

typedef struct {
  GMainLoop    *loop;
  GAsyncResult *result;
} Wait;

static void
got_result (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  Wait *w = data;

  w->result = g_object_ref (result);
  g_main_loop_quit (w->loop);
}

static void
wait_for (Wait *w)
{
  w->loop = g_main_loop_new (NULL, FALSE);
  g_main_loop_run (w->loop);
  g_main_loop_unref (w->loop);
}

static char *
serve_engine (MorangoEngine *engine,
              gboolean       accept_new_roots)
{
  MorangoEngineServeOptions options = { .address = "127.0.0.1", .port = 0,
                                        .allow_certificate_push = TRUE,
                                        .accept_new_roots = accept_new_roots };
  g_autoptr(GError) error = NULL;
  Wait w = { 0 };

  morango_engine_serve_async (engine, &options, NULL, got_result, &w);
  wait_for (&w);
  g_assert_true (morango_engine_serve_finish (engine, w.result, &error));
  g_assert_no_error (error);
  g_object_unref (w.result);
  return g_strdup_printf ("http://127.0.0.1:%u/", morango_engine_get_port (engine));
}

static char *
pair_by_push (MorangoEngine *engine,
              const char    *url,
              GError       **error)
{
  MorangoEnginePairOptions options = { .scope_definition = "full-facility", .push = TRUE };
  Wait w = { 0 };
  char *id;

  morango_engine_pair_async (engine, url, &options, NULL, got_result, &w);
  wait_for (&w);
  id = morango_engine_pair_finish (engine, w.result, error);
  g_object_unref (w.result);
  return id;
}

static char *
export_data (const char *dir)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoHostInfo) host = morango_host_info_new ("system", "node");
  g_autoptr(MorangoRandom) random = morango_random_new_secure ();
  g_autoptr(MorangoStore) store = morango_store_open_folder (dir, NULL, host, random, &error);
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
  guint64 rows = 0;

  g_assert_no_error (error);
  g_assert_true (morango_data_export (morango_store_get_app (store), NULL, out, NULL, &rows, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (rows, >, 0);
  g_assert_true (g_output_stream_write_all (out, "", 1, NULL, NULL, &error));
  g_assert_true (g_output_stream_close (out, NULL, &error));
  return g_memory_output_stream_steal_data (G_MEMORY_OUTPUT_STREAM (out));
}

static void
create_row (MorangoStore *store,
            const char   *model,
            JsonObject   *fields,
            char        **id)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (morango_app_create (morango_store_get_app (store), model, fields, id, &error));
  g_assert_no_error (error);
}

/* Device A owns a facility's root; server C (a cloud, taking pushes and
 * new roots) never met it.  A pushes C a full-facility certificate, then
 * syncs with C: C holds A's data.  A server that takes no new roots
 * refuses the same push. */
static void
test_end_to_end (void)
{
  g_autofree char *dir_a = morango_test_tmpdir ();
  g_autofree char *dir_c = morango_test_tmpdir ();
  g_autofree char *dir_d = morango_test_tmpdir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoEngine) a = NULL;
  g_autoptr(MorangoEngine) c = NULL;
  g_autoptr(MorangoEngine) d = NULL;
  g_autofree char *url = NULL;
  g_autofree char *url_d = NULL;
  g_autofree char *pushed = NULL;
  g_autofree char *refused = NULL;
  g_autofree char *root_id = NULL;
  g_autofree char *data_a = NULL;
  g_autofree char *data_c = NULL;
  MorangoEngineSyncResult result = { 0 };
  guint records = 0;

  {
    g_autoptr(MorangoHostInfo) host = morango_host_info_new ("system-a", "node");
    g_autoptr(MorangoRandom) random = morango_random_new_secure ();
    g_autoptr(MorangoStore) store = morango_store_open_folder (dir_a, "kolibri-like", host, random, &error);
    g_autoptr(MorangoCertificate) root = NULL;
    g_autoptr(JsonObject) facility = json_object_new ();
    g_autofree char *facility_id = NULL;

    g_assert_no_error (error);
    root = morango_certificate_create_root (morango_store_get_db (store), "full-facility", NULL, NULL, &error);
    g_assert_no_error (error);
    root_id = g_strdup (morango_certificate_get_id (root));
    json_object_set_string_member (facility, "dataset_id", root_id);
    json_object_set_string_member (facility, "name", "Riverside School");
    create_row (store, "facility", facility, &facility_id);
    records++;
    for (guint i = 0; i < 3; i++)
      {
        g_autoptr(JsonObject) user = json_object_new ();
        g_autofree char *name = g_strdup_printf ("learner%u", i);
        g_autofree char *user_id = NULL;
        g_autoptr(JsonObject) log = json_object_new ();
        g_autofree char *content = g_strdup_printf ("%032x", i + 1);
        g_autofree char *log_id = NULL;

        json_object_set_string_member (user, "dataset_id", root_id);
        json_object_set_string_member (user, "facility_id", facility_id);
        json_object_set_string_member (user, "username", name);
        create_row (store, "facilityuser", user, &user_id);
        json_object_set_string_member (log, "dataset_id", root_id);
        json_object_set_string_member (log, "user_id", user_id);
        json_object_set_string_member (log, "content_id", content);
        json_object_set_double_member (log, "progress", 0.5);
        create_row (store, "contentsummarylog", log, &log_id);
        records += 2;
      }
  }

  c = morango_engine_new (dir_c, "kolibri-like", &error);
  g_assert_no_error (error);
  url = serve_engine (c, TRUE);
  a = morango_engine_new (dir_a, NULL, &error);
  g_assert_no_error (error);

  pushed = pair_by_push (a, url, &error);
  g_assert_no_error (error);
  {
    g_autoptr(MorangoHostInfo) host = morango_host_info_new ("system-a", "node");
    g_autoptr(MorangoRandom) random = morango_random_new_secure ();
    g_autoptr(MorangoStore) store = morango_store_open_folder (dir_a, NULL, host, random, &error);
    g_autoptr(MorangoKnownPeer) peer = morango_known_peer_lookup_address (store, url, &error);

    g_assert_no_error (error);
    /* Correction 34: ours is the parent, the peer's the pushed one. */
    g_assert_cmpint (peer->state, ==, MORANGO_PEER_STATE_PAIRED);
    g_assert_cmpstr (peer->client_certificate_id, ==, root_id);
    g_assert_cmpstr (peer->server_certificate_id, ==, pushed);
    g_assert_cmpstr (peer->instance_id, ==, morango_engine_get_instance_id (c));
  }

  {
    Wait w = { 0 };

    morango_engine_sync_async (a, url, NULL, NULL, got_result, &w);
    wait_for (&w);
    g_assert_true (morango_engine_sync_finish (a, w.result, &result, &error));
    g_assert_no_error (error);
    g_object_unref (w.result);
  }
  g_assert_cmpint (result.records_pushed, ==, records);
  g_assert_cmpint (result.records_pulled, ==, 0);

  /* C holds A's data, row for row, and the pushed certificate with its
   * own shared key. */
  data_a = export_data (dir_a);
  data_c = export_data (dir_c);
  g_assert_cmpstr (data_c, ==, data_a);
  {
    g_autoptr(MorangoHostInfo) host = morango_host_info_new ("system-c", "node");
    g_autoptr(MorangoRandom) random = morango_random_new_secure ();
    g_autoptr(MorangoStore) store = morango_store_open_folder (dir_c, NULL, host, random, &error);
    g_autoptr(MorangoCertificate) x = morango_certificate_load (morango_store_get_db (store), pushed, &error);

    g_assert_no_error (error);
    g_assert_true (morango_certificate_has_private_key (x));
    g_assert_true (morango_trust_is_trusted (morango_store_get_db (store), root_id));
  }

  /* A second sync moves nothing. */
  {
    Wait w = { 0 };

    morango_engine_sync_async (a, url, NULL, NULL, got_result, &w);
    wait_for (&w);
    g_assert_true (morango_engine_sync_finish (a, w.result, &result, &error));
    g_assert_no_error (error);
    g_object_unref (w.result);
    g_assert_cmpint (result.records_pushed, ==, 0);
    g_assert_cmpint (result.records_pulled, ==, 0);
  }

  /* A server that trusts only its own roots refuses the same push. */
  d = morango_engine_new (dir_d, "kolibri-like", &error);
  g_assert_no_error (error);
  url_d = serve_engine (d, FALSE);
  refused = pair_by_push (a, url_d, &error);
  g_assert_null (refused);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED);
  g_assert_nonnull (strstr (error->message, "CertificateRootUntrusted"));

  morango_engine_stop_serving (c);
  morango_engine_stop_serving (d);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/http-push/server/replay", Fixture, &pushing, fixture_set_up, test_replay, fixture_tear_down);
  g_test_add ("/http-push/server/refusals", Fixture, &pushing, fixture_set_up, test_refusals, fixture_tear_down);
  g_test_add ("/http-push/server/not-offered", Fixture, &not_pushing, fixture_set_up, test_not_offered,
              fixture_tear_down);
  g_test_add ("/http-push/server/untrusted-root", Fixture, &pushing_trusted_only, fixture_set_up,
              test_untrusted_root, fixture_tear_down);
  g_test_add ("/http-push/server/expired-nonce", Fixture, &pushing, fixture_set_up, test_expired_nonce,
              fixture_tear_down);
  g_test_add ("/http-push/server/new-roots", Fixture, &pushing, fixture_set_up, test_new_roots, fixture_tear_down);
  g_test_add ("/http-push/server/public-key-item", Fixture, &pushing, fixture_set_up, test_public_key_item,
              fixture_tear_down);
  g_test_add ("/http-push/server/hostile", Fixture, &pushing, fixture_set_up, test_hostile, fixture_tear_down);

  g_test_add_func ("/http-push/client/shape", test_client_shape);
  g_test_add_func ("/http-push/client/not-offered", test_client_not_offered);
  g_test_add_func ("/http-push/client/refused", test_client_refused);
  g_test_add_func ("/http-push/end-to-end", test_end_to_end);

  return g_test_run ();
}
