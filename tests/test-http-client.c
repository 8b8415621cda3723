/* test-http-client.c: MorangoHttpPeer against the recordings of a real Morango 0.8.2 server
 *
 * A SoupServer on 127.0.0.1 (its own thread) answers our client with
 * the responses recorded in tests/vectors/http/, put in terms of the ids
 * our client chose, and keeps every request.  Each request is matched to
 * the recorded client's request of the same method, route (and stage,
 * or page), and must have its path, query keys, capability header,
 * content type and body keys with their JSON types, in the recorded
 * order.  A morango_transfer() drives the client through whole pushes
 * and pulls, async and legacy, FSIC v2 and v1.  Further tests break the
 * network or the server: a dropped connection, a refusal, an unreachable
 * port, a gzip bomb, a forged handshake signature, an interrupted push.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <libsoup/soup.h>

#include "morango-app.h"
#include "morango-chain.h"
#include "morango-http-pair.h"
#include "morango-http-peer.h"
#include "morango-test-util.h"
#include "morango-transfer.h"
#include "morango-trust.h"

/* ---- the replaying server ---- */

typedef struct {
  char               *method;
  char               *path;
  char               *query;
  SoupMessageHeaders *headers;
  GBytes             *body;          /* gunzipped when it came gzipped */
  gboolean            gzipped;
  gint                matched;       /* index of the recorded exchange, or -1 */
} Seen;

typedef struct {
  JsonArray    *exchanges;
  JsonObject   *setup;
  gboolean     *used;

  GThread      *thread;
  GMainContext *context;
  gint          stop;
  SoupServer   *server;
  char         *base_url;
  guint16       port;

  GMutex        lock;
  GCond         cond;
  gboolean      ready;
  GPtrArray    *seen;             /* Seen */
  GHashTable   *ids;              /* recorded id -> ours */
  MorangoKey   *server_key;
  char         *session_state;    /* the last transfer session object sent */
  gint64        pushed;

  /* Faults */
  guint         drop;             /* connections to close without an answer */
  guint         fail_status;      /* answer everything with this */
  const char   *fail_body;
  gboolean      forge_signature;
  gsize         bomb;             /* answer morangoinfo with this much gzipped */
  gboolean      plain_pages;      /* pages never gzipped */
  guint         slow;             /* looks at a stage before it is done */
  guint         looks_left;
  guint         looks;

  /* Pairing: the server's store, owning the root's key. */
  MorangoStore *issuer;
} Replay;

static void
seen_free (gpointer data)
{
  Seen *s = data;

  g_free (s->method);
  g_free (s->path);
  g_free (s->query);
  soup_message_headers_unref (s->headers);
  g_clear_pointer (&s->body, g_bytes_unref);
  g_free (s);
}

/* A path with its ids as "<id>". */
static char *
route_of (const char *path)
{
  g_autoptr(GRegex) id = g_regex_new ("[0-9a-f]{32}", 0, 0, NULL);

  return g_regex_replace_literal (id, path, -1, 0, "<id>", 0, NULL);
}

static char *
substitute (GHashTable *ids,
            const char *text,
            gboolean    to_ours)
{
  GHashTableIter iter;
  gpointer recorded, ours;
  g_autoptr(GString) out = g_string_new (text);

  g_hash_table_iter_init (&iter, ids);
  while (g_hash_table_iter_next (&iter, &recorded, &ours))
    g_string_replace (out, to_ours ? recorded : ours, to_ours ? ours : recorded, 0);
  return g_strdup (out->str);
}

static JsonObject *
recorded_request (Replay *r,
                  guint   i)
{
  return json_object_get_object_member (json_array_get_object_element (r->exchanges, i), "request");
}

static JsonObject *
recorded_response (Replay *r,
                   guint   i)
{
  return json_object_get_object_member (json_array_get_object_element (r->exchanges, i), "response");
}

static const char *
query_value (JsonObject *request,
             const char *key)
{
  JsonArray *query = json_object_get_array_member (request, "query");

  for (guint i = 0; i < json_array_get_length (query); i++)
    {
      JsonArray *pair = json_array_get_array_element (query, i);

      if (g_strcmp0 (json_array_get_string_element (pair, 0), key) == 0)
        return json_array_get_string_element (pair, 1);
    }
  return NULL;
}

static const char *
stage_in (JsonNode *body)
{
  JsonObject *o = body && JSON_NODE_HOLDS_OBJECT (body) ? json_node_get_object (body) : NULL;

  return o && json_object_has_member (o, "transfer_stage") ? json_object_get_string_member (o, "transfer_stage")
                                                           : NULL;
}

/* The first unused recorded request like this one. */
static gint
match (Replay      *r,
       const char  *method,
       const char  *path,
       GHashTable  *query,
       JsonNode    *body)
{
  g_autofree char *route = route_of (path);

  for (guint i = 0; i < json_array_get_length (r->exchanges); i++)
    {
      JsonObject *rec = recorded_request (r, i);
      g_autofree char *rec_route = route_of (json_object_get_string_member (rec, "path"));
      JsonNode *rec_body = json_object_get_member (rec, "body_json");

      if (r->used[i] || g_strcmp0 (json_object_get_string_member (rec, "method"), method) != 0 ||
          g_strcmp0 (rec_route, route) != 0)
        continue;
      if (g_str_has_suffix (route, "buffers/") && strcmp (method, "GET") == 0 &&
          g_strcmp0 (query_value (rec, "offset"), query ? g_hash_table_lookup (query, "offset") : NULL) != 0)
        continue;
      if (strcmp (method, "PATCH") == 0 && g_strcmp0 (stage_in (rec_body), stage_in (body)) != 0)
        continue;
      return i;
    }
  return -1;
}

/* Learns the id our client chose where the recorded client chose
 * another. */
static void
learn_id (Replay   *r,
          gint      i,
          JsonNode *body)
{
  JsonNode *rec_body = json_object_get_member (recorded_request (r, i), "body_json");
  const char *ours, *theirs;

  if (body == NULL || !JSON_NODE_HOLDS_OBJECT (body) || rec_body == NULL)
    return;
  ours = json_object_get_string_member_with_default (json_node_get_object (body), "id", NULL);
  theirs = json_object_get_string_member_with_default (json_node_get_object (rec_body), "id", NULL);
  if (ours != NULL && theirs != NULL)
    g_hash_table_replace (r->ids, g_strdup (theirs), g_strdup (ours));
}

/* A push session object as the server would have it now: the chunks it
 * took count, whatever the recording said at that point. */
static char *
session_now (Replay     *r,
             const char *text)
{
  g_autoptr(JsonNode) node = json_from_string (text, NULL);
  JsonObject *o = json_node_get_object (node);
  gint64 total;
  const char *stage;

  if (!json_object_get_boolean_member (o, "push"))
    return g_strdup (text);
  json_object_set_int_member (o, "records_transferred", r->pushed);
  total = json_object_get_null_member (o, "records_total") ? -1 : json_object_get_int_member (o, "records_total");
  stage = json_object_get_string_member (o, "transfer_stage");
  if (r->pushed > 0 && (g_str_equal (stage, "queuing") || g_str_equal (stage, "transferring")))
    {
      json_object_set_string_member (o, "transfer_stage", "transferring");
      json_object_set_string_member (o, "transfer_stage_status",
                                     total >= 0 && r->pushed >= total ? "completed" : "pending");
    }
  return json_to_string (node, FALSE);
}

static void
respond (SoupServerMessage *msg,
         guint              status,
         const char        *content_type,
         const char        *body)
{
  soup_server_message_set_status (msg, status, NULL);
  if (body != NULL && *body != '\0')
    soup_server_message_set_response (msg, content_type ? content_type : "application/json",
                                      SOUP_MEMORY_COPY, body, strlen (body));
}

static char *
issue_for (Replay   *r,
           JsonNode *body)
{
  JsonObject *o = json_node_get_object (body);
  MorangoDb *db = morango_store_get_db (r->issuer);
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoCertificate) parent = NULL;
  g_autoptr(MorangoCertificate) issued = NULL;
  g_autoptr(MorangoKey) key = NULL;
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);

  g_assert_true (morango_db_acquire (db));
  parent = morango_certificate_load (db, json_object_get_string_member (o, "parent"), &error);
  g_assert_no_error (error);
  key = morango_key_new_from_public (json_object_get_string_member (o, "public_key"), &error);
  g_assert_no_error (error);
  issued = morango_certificate_issue (db, parent, json_object_get_string_member (o, "scope_definition"),
                                      json_object_get_int_member (o, "scope_version"),
                                      json_object_get_string_member (o, "scope_params"), key,
                                      "0123456789abcdef0123456789abcdef", &error);
  g_assert_no_error (error);
  morango_db_release (db);
  json_node_take_object (node, morango_certificate_to_json (issued));
  return json_to_string (node, FALSE);
}

static void
handle (SoupServer        *server,
        SoupServerMessage *msg,
        const char        *path,
        GHashTable        *query,
        gpointer           data)
{
  Replay *r = data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  SoupMessageBody *request_body = soup_server_message_get_request_body (msg);
  const char *method = soup_server_message_get_method (msg);
  g_autoptr(GBytes) raw = soup_message_body_flatten (request_body);
  g_autoptr(JsonNode) body = NULL;
  g_autofree char *reply = NULL;
  JsonObject *response;
  Seen *s;
  gint i;

  g_mutex_lock (&r->lock);
  if (r->drop > 0)
    {
      GIOStream *io;

      r->drop--;
      g_mutex_unlock (&r->lock);
      io = soup_server_message_steal_connection (msg);
      g_io_stream_close (io, NULL, NULL);
      g_object_unref (io);
      return;
    }

  s = g_new0 (Seen, 1);
  s->method = g_strdup (method);
  s->path = g_strdup (path);
  s->query = g_strdup (g_uri_get_query (soup_server_message_get_uri (msg)));
  s->headers = soup_message_headers_ref (headers);
  s->matched = -1;
  if (g_strcmp0 (soup_message_headers_get_content_type (headers, NULL), "application/gzip") == 0)
    {
      g_autoptr(GError) error = NULL;

      s->gzipped = TRUE;
      s->body = morango_wire_gunzip (g_bytes_get_data (raw, NULL), g_bytes_get_size (raw), 1 << 24, &error);
      g_assert_no_error (error);
    }
  else
    s->body = g_bytes_ref (raw);
  g_ptr_array_add (r->seen, s);
  if (g_bytes_get_size (s->body) > 0)
    body = json_from_string (g_bytes_get_data (s->body, NULL), NULL);

  if (r->fail_status != 0)
    {
      if (r->fail_status == 301)
        soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Location", path);
      respond (msg, r->fail_status, "application/json", r->fail_body);
      g_mutex_unlock (&r->lock);
      return;
    }
  if (r->bomb > 0 && g_str_has_suffix (path, "morangoinfo/1/"))
    {
      g_autofree char *zeros = g_malloc0 (r->bomb);
      g_autoptr(GBytes) packed = morango_wire_gzip (zeros, r->bomb, 9);

      soup_server_message_set_status (msg, 200, NULL);
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Content-Encoding", "gzip");
      soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY,
                                        g_bytes_get_data (packed, NULL), g_bytes_get_size (packed));
      g_mutex_unlock (&r->lock);
      return;
    }

  i = match (r, method, path, query, body);
  s->matched = i;
  if (i < 0 && !(strcmp (method, "GET") == 0 && g_str_has_prefix (path, "/api/morango/v1/transfersessions/")))
    {
      respond (msg, 404, "application/json", "{\"detail\":\"Not found.\"}");
      g_mutex_unlock (&r->lock);
      return;
    }
  if (i >= 0)
    {
      r->used[i] = TRUE;
      if (strcmp (method, "POST") == 0 &&
          (g_str_has_suffix (path, "/syncsessions/") || g_str_has_suffix (path, "/transfersessions/")))
        learn_id (r, i, body);
    }

  if (strcmp (method, "GET") == 0 && g_str_has_prefix (path, "/api/morango/v1/transfersessions/"))
    {
      /* A GET tells what the server holds now. */
      g_assert_nonnull (r->session_state);
      reply = session_now (r, r->session_state);
      if (r->looks_left > 0)
        {
          g_autoptr(JsonNode) running = json_from_string (reply, NULL);

          r->looks_left--;
          r->looks++;
          json_object_set_string_member (json_node_get_object (running), "transfer_stage_status", "started");
          g_free (reply);
          reply = json_to_string (running, FALSE);
        }
      respond (msg, 200, "application/json", reply);
      g_mutex_unlock (&r->lock);
      return;
    }

  response = recorded_response (r, i);
  reply = substitute (r->ids, json_object_get_string_member_with_default (response, "body", ""), TRUE);
  if (g_str_has_suffix (path, "/syncsessions/") && strcmp (method, "POST") == 0)
    {
      JsonObject *o = json_node_get_object (body);
      g_autofree char *message = g_strdup_printf ("%s:%s", json_object_get_string_member (o, "nonce"),
                                                  json_object_get_string_member (o, "id"));
      g_autofree char *signature = morango_key_sign (r->server_key, r->forge_signature ? "forged" : message,
                                                     -1, NULL);
      g_autoptr(JsonNode) answer = json_from_string (reply, NULL);

      json_object_set_string_member (json_node_get_object (answer), "signature", signature);
      g_free (reply);
      reply = json_to_string (answer, FALSE);
    }
  else if (g_str_has_suffix (path, "/certificates/") && strcmp (method, "POST") == 0 && r->issuer != NULL)
    {
      g_free (reply);
      reply = issue_for (r, body);
    }
  else if (g_str_has_suffix (path, "/buffers/") && strcmp (method, "POST") == 0)
    r->pushed += json_array_get_length (json_node_get_array (body));
  else if (g_str_has_prefix (path, "/api/morango/v1/transfersessions/") && *reply != '\0')
    {
      g_free (r->session_state);
      r->session_state = g_strdup (reply);
      g_free (reply);
      reply = session_now (r, r->session_state);
      /* A server that runs the stage in the background. */
      if (r->slow > 0 && strcmp (method, "PATCH") == 0 && g_strcmp0 (stage_in (body), "transferring") != 0)
        {
          g_autoptr(JsonNode) running = json_from_string (reply, NULL);

          r->looks_left = r->slow;
          json_object_set_string_member (json_node_get_object (running), "transfer_stage_status", "started");
          g_free (reply);
          reply = json_to_string (running, FALSE);
        }
    }

  if (g_str_has_suffix (path, "/buffers/") && strcmp (method, "GET") == 0 && !r->plain_pages &&
      g_strcmp0 (soup_message_headers_get_one (headers, "Accept-Encoding"), "gzip") == 0)
    {
      g_autoptr(GBytes) packed = morango_wire_gzip (reply, strlen (reply), 6);

      soup_server_message_set_status (msg, 200, NULL);
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Content-Encoding", "gzip");
      soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY,
                                        g_bytes_get_data (packed, NULL), g_bytes_get_size (packed));
    }
  else
    respond (msg, json_object_get_int_member (response, "status"),
             json_object_get_string_member_with_default (response, "content_type", NULL), reply);
  g_mutex_unlock (&r->lock);
}

static gpointer
server_thread (gpointer data)
{
  Replay *r = data;
  g_autoptr(GError) error = NULL;
  GSList *uris;

  g_main_context_push_thread_default (r->context);
  r->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (r->server, NULL, handle, r, NULL);
  soup_server_listen_local (r->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (r->server);
  r->port = g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  g_mutex_lock (&r->lock);
  r->ready = TRUE;
  g_cond_signal (&r->cond);
  g_mutex_unlock (&r->lock);

  /* Not g_main_loop_run(): a quit before it starts would be lost. */
  while (!g_atomic_int_get (&r->stop))
    g_main_context_iteration (r->context, TRUE);
  soup_server_disconnect (r->server);
  g_clear_object (&r->server);
  g_main_context_pop_thread_default (r->context);
  return NULL;
}

static Replay *
replay_new (const char *file)
{
  g_autofree char *name = g_strconcat ("http/", file, NULL);
  g_autoptr(JsonNode) root = morango_test_load_vectors (name);
  JsonObject *top = json_node_get_object (root);
  g_autoptr(GError) error = NULL;
  Replay *r = g_new0 (Replay, 1);

  r->exchanges = json_array_ref (json_object_get_array_member (top, "exchanges"));
  r->setup = json_object_ref (json_object_get_object_member (top, "setup"));
  r->used = g_new0 (gboolean, json_array_get_length (r->exchanges));
  r->seen = g_ptr_array_new_with_free_func (seen_free);
  r->ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  r->server_key = morango_key_new_from_private_pem (json_object_get_string_member (r->setup, "root_private_key_pem"),
                                                    &error);
  g_assert_no_error (error);
  g_mutex_init (&r->lock);
  g_cond_init (&r->cond);
  r->context = g_main_context_new ();
  r->thread = g_thread_new ("replay-server", server_thread, r);
  g_mutex_lock (&r->lock);
  while (!r->ready)
    g_cond_wait (&r->cond, &r->lock);
  g_mutex_unlock (&r->lock);
  /* No final slash: the client adds it. */
  r->base_url = g_strdup_printf ("http://127.0.0.1:%u", r->port);
  return r;
}

static void
replay_free (Replay *r)
{
  g_atomic_int_set (&r->stop, TRUE);
  g_main_context_wakeup (r->context);
  g_thread_join (r->thread);
  g_main_context_unref (r->context);
  json_array_unref (r->exchanges);
  json_object_unref (r->setup);
  g_free (r->used);
  g_ptr_array_unref (r->seen);
  g_hash_table_unref (r->ids);
  g_object_unref (r->server_key);
  g_free (r->session_state);
  g_free (r->base_url);
  g_clear_object (&r->issuer);
  g_mutex_clear (&r->lock);
  g_cond_clear (&r->cond);
  g_free (r);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Replay, replay_free)

/* ---- what our client sent, against what the Python client sent ---- */

static int
compare_words (gconstpointer a,
               gconstpointer b)
{
  return g_strcmp0 (*(char * const *) a, *(char * const *) b);
}

static GStrv
sorted_words (const char *text)
{
  g_auto(GStrv) words = g_strsplit (text ? text : "", " ", -1);
  GPtrArray *out = g_ptr_array_new ();

  for (guint i = 0; words[i]; i++)
    if (*words[i])
      g_ptr_array_add (out, g_strdup (words[i]));
  g_ptr_array_sort (out, compare_words);
  g_ptr_array_add (out, NULL);
  return (GStrv) g_ptr_array_free (out, FALSE);
}

static const char *
recorded_header (JsonObject *request,
                 const char *name)
{
  JsonArray *headers = json_object_get_array_member (request, "headers");

  for (guint i = 0; i < json_array_get_length (headers); i++)
    {
      JsonArray *pair = json_array_get_array_element (headers, i);

      if (g_ascii_strcasecmp (json_array_get_string_element (pair, 0), name) == 0)
        return json_array_get_string_element (pair, 1);
    }
  return NULL;
}

/* The same keys with values of the same JSON types. */
static void
assert_same_shape (JsonNode   *ours,
                   JsonNode   *theirs,
                   const char *where)
{
  if (JSON_NODE_TYPE (theirs) != JSON_NODE_TYPE (ours))
    g_error ("%s: a %s where the recorded client sent a %s", where,
             json_node_type_name (ours), json_node_type_name (theirs));
  if (JSON_NODE_HOLDS_VALUE (theirs) && json_node_get_value_type (theirs) != json_node_get_value_type (ours))
    g_error ("%s: a %s where the recorded client sent a %s", where,
             g_type_name (json_node_get_value_type (ours)), g_type_name (json_node_get_value_type (theirs)));
  if (JSON_NODE_HOLDS_OBJECT (theirs))
    {
      JsonObject *a = json_node_get_object (ours), *b = json_node_get_object (theirs);
      g_autoptr(GList) a_keys = json_object_get_members (a);
      g_autoptr(GList) b_keys = json_object_get_members (b);

      g_assert_cmpuint (g_list_length (a_keys), ==, g_list_length (b_keys));
      for (GList *l = b_keys; l; l = l->next)
        {
          g_autofree char *inner = g_strdup_printf ("%s.%s", where, (char *) l->data);

          if (!json_object_has_member (a, l->data))
            g_error ("%s: key missing", inner);
          /* Strings holding JSON are compared as strings. */
          assert_same_shape (json_object_get_member (a, l->data), json_object_get_member (b, l->data), inner);
        }
    }
  if (JSON_NODE_HOLDS_ARRAY (theirs) && json_array_get_length (json_node_get_array (theirs)) > 0)
    {
      JsonArray *a = json_node_get_array (ours);
      JsonNode *first = json_array_get_element (json_node_get_array (theirs), 0);

      g_assert_cmpuint (json_array_get_length (a), >, 0);
      for (guint i = 0; i < json_array_get_length (a); i++)
        assert_same_shape (json_array_get_element (a, i), first, where);
    }
}

static gboolean
in_pull_transfer (JsonObject *rec)
{
  const char *method = json_object_get_string_member (rec, "method");
  JsonNode *body = json_object_get_member (rec, "body_json");

  return (g_str_equal (method, "GET") && g_str_has_suffix (json_object_get_string_member (rec, "path"), "/buffers/")) ||
         (g_str_equal (method, "PATCH") && g_strcmp0 (stage_in (body), "transferring") == 0);
}

/* Every request like the recorded client's, in its order, and every
 * recorded request made.  On a pull, the next page may be asked for
 * before the last one's count is reported (the transfer reads ahead),
 * so pages and counts are each in order but may interleave. */
static void
assert_like_recording (Replay *r)
{
  gint last = -1, last_page = -1, last_count = -1;

  for (guint k = 0; k < r->seen->len; k++)
    {
      Seen *s = g_ptr_array_index (r->seen, k);
      JsonObject *rec;
      g_autofree char *path = NULL;
      g_autofree char *where = NULL;
      g_auto(GStrv) caps = NULL;
      g_auto(GStrv) rec_caps = NULL;
      const char *type, *rec_type;
      JsonArray *rec_query;

      if (s->matched < 0)
        g_error ("request %u, %s %s, is not one the recorded client made", k, s->method, s->path);
      rec = recorded_request (r, s->matched);
      where = g_strdup_printf ("request %u (%s %s, recorded seq %" G_GINT64_FORMAT ")", k, s->method, s->path,
                               json_object_get_int_member (json_array_get_object_element (r->exchanges, s->matched),
                                                           "seq"));
      g_test_message ("%s", where);

      if (in_pull_transfer (rec))
        {
          gint *previous = g_str_equal (s->method, "GET") ? &last_page : &last_count;

          g_assert_cmpint (s->matched, >, *previous);
          g_assert_cmpint (s->matched, >, last);
          *previous = s->matched;
        }
      else
        {
          g_assert_cmpint (s->matched, >, MAX (last, MAX (last_page, last_count)));
          last = s->matched;
        }

      path = substitute (r->ids, s->path, FALSE);
      g_assert_cmpstr (path, ==, json_object_get_string_member (rec, "path"));
      rec_query = json_object_get_array_member (rec, "query");
      {
        g_auto(GStrv) pairs = g_strsplit (s->query ? s->query : "", "&", -1);

        g_assert_cmpuint (s->query ? g_strv_length (pairs) : 0, ==, json_array_get_length (rec_query));
        for (guint q = 0; q < json_array_get_length (rec_query); q++)
          {
            const char *key = json_array_get_string_element (json_array_get_array_element (rec_query, q), 0);

            g_assert_true (g_str_has_prefix (pairs[q], key));
            g_assert_cmpint (pairs[q][strlen (key)], ==, '=');
          }
      }

      caps = sorted_words (soup_message_headers_get_one (s->headers, "X-Morango-Capabilities"));
      rec_caps = sorted_words (recorded_header (rec, "X-Morango-Capabilities"));
      g_assert_cmpstrv (caps, rec_caps);
      g_assert_null (soup_message_headers_get_one (s->headers, "Authorization"));
      g_assert_null (soup_message_headers_get_one (s->headers, "Cookie"));

      type = soup_message_headers_get_content_type (s->headers, NULL);
      rec_type = json_object_get_string_member_with_default (rec, "content_type", NULL);
      g_assert_cmpstr (type, ==, rec_type);
      g_assert_cmpint (s->gzipped, ==, g_strcmp0 (json_object_get_string_member (rec, "body_encoding"), "gzip") == 0);

      if (json_object_has_member (rec, "body_json") && !json_object_get_null_member (rec, "body_json"))
        {
          g_autoptr(JsonNode) ours = json_from_string (g_bytes_get_data (s->body, NULL), NULL);

          g_assert_nonnull (ours);
          assert_same_shape (ours, json_object_get_member (rec, "body_json"), where);
        }
      else
        g_assert_cmpuint (g_bytes_get_size (s->body), ==, 0);
    }

  for (guint i = 0; i < json_array_get_length (r->exchanges); i++)
    if (!r->used[i])
      g_error ("the recorded client's request seq %" G_GINT64_FORMAT " (%s %s) was not made",
               json_object_get_int_member (json_array_get_object_element (r->exchanges, i), "seq"),
               json_object_get_string_member (recorded_request (r, i), "method"),
               json_object_get_string_member (recorded_request (r, i), "path"));
}

/* ---- the client ---- */

typedef struct {
  char               *dir;
  MorangoProfile     *profile;
  MorangoStore       *store;
  MorangoCertificate *cert;
  MorangoFilter      *filter;
  Replay             *replay;
  MorangoHttpPeer    *peer;
} Fixture;

static MorangoStore *
open_store (Fixture    *f,
            const char *name,
            guint64     seed)
{
  g_autofree char *path = g_build_filename (f->dir, name, NULL);
  g_autoptr(MorangoHostInfo) host = morango_host_info_new (name, "");
  g_autoptr(MorangoRandom) random = morango_random_new_seeded (seed);
  g_autoptr(GError) error = NULL;
  MorangoStore *store = morango_store_open (path, f->profile, host, random, &error);

  g_assert_no_error (error);
  return store;
}

/* The recorded client's certificate chain, as its sync session request
 * carried it. */
static const char *
recorded_chain (Replay *r)
{
  for (guint i = 0; i < json_array_get_length (r->exchanges); i++)
    {
      JsonObject *rec = recorded_request (r, i);

      if (g_str_has_suffix (json_object_get_string_member (rec, "path"), "/syncsessions/") &&
          g_str_equal (json_object_get_string_member (rec, "method"), "POST"))
        return json_object_get_string_member (json_object_get_object_member (rec, "body_json"),
                                              "certificate_chain");
    }
  g_assert_not_reached ();
}

/* This side as the recorded client: its certificate and key, the
 * server's root trusted. */
static void
fixture_start (Fixture    *f,
               const char *file)
{
  MorangoDb *db;
  JsonObject *setup;
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoKey) key = NULL;

  f->replay = replay_new (file);
  setup = f->replay->setup;
  db = morango_store_get_db (f->store);
  f->cert = morango_certificate_chain_import_text (db, recorded_chain (f->replay),
                                                   json_object_get_string_member (setup, "client_cert_id"),
                                                   MORANGO_CHAIN_IMPORT_TRUST_ROOT, NULL, &error);
  g_assert_no_error (error);
  key = morango_key_new_from_private_pem (json_object_get_string_member (setup, "client_private_key_pem"), &error);
  g_assert_no_error (error);
  g_assert_true (morango_certificate_set_private_key (f->cert, key, &error));
  g_assert_true (morango_certificate_save (f->cert, db, &error));
  g_assert_no_error (error);
  f->filter = morango_filter_parse (json_object_get_string_member (setup, "filter"));
  f->peer = morango_http_peer_new (f->replay->base_url, f->store, f->cert,
                                   json_object_get_string_member (setup, "root_cert_id"), &error);
  g_assert_no_error (error);
  morango_http_peer_set_retries (f->peer, 3, 1);
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->dir = morango_test_tmpdir ();
  f->profile = morango_profile_new_by_name ("morango-testapp", &error);
  g_assert_no_error (error);
  f->store = open_store (f, "client.db", 21);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_clear_object (&f->peer);
  g_clear_pointer (&f->replay, replay_free);
  g_clear_object (&f->cert);
  g_clear_pointer (&f->filter, morango_filter_unref);
  g_clear_object (&f->store);
  g_clear_object (&f->profile);
  g_clear_pointer (&f->dir, g_free);
}

/* A user and @n - 1 interaction logs of his: @n records under the
 * filter, which becomes his.  (The recorded user's id is not one this
 * profile derives; the server does not look at the filter's value.) */
static void
add_records (Fixture *f,
             guint    n)
{
  MorangoApp *app = morango_store_get_app (f->store);
  g_autoptr(JsonObject) user = json_object_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;

  json_object_set_string_member (user, "username", "bob");
  json_object_set_string_member (user, "password", "x");
  g_assert_true (morango_app_create (app, "user", user, &id, &error));
  g_assert_no_error (error);
  g_clear_pointer (&f->filter, morango_filter_unref);
  {
    g_autofree char *filter = g_strdup_printf ("%s:user", id);

    f->filter = morango_filter_parse (filter);
  }
  /* The server's FSICs name the partitions of its user: ours. */
  g_hash_table_replace (f->replay->ids, g_strdup (json_object_get_string_member (f->replay->setup, "bob_id")),
                        g_strdup (id));
  for (guint i = 1; i < n; i++)
    {
      g_autoptr(JsonObject) log = json_object_new ();
      g_autofree char *content = g_strdup_printf ("%032x", i);
      g_autofree char *log_id = NULL;

      json_object_set_string_member (log, "user_id", id);
      json_object_set_string_member (log, "content_id", content);
      g_assert_true (morango_app_create (app, "contentinteractionlog", log, &log_id, &error));
      g_assert_no_error (error);
    }
}

static gint64
count (MorangoStore *store,
       const char   *sql)
{
  gint64 n = -1;

  g_assert_true (morango_db_query_int64 (morango_store_get_db (store), &n, NULL, NULL, sql, ""));
  return n;
}

static gboolean
run_transfer (Fixture               *f,
              gboolean               push,
              const char            *resume,
              MorangoMonitor        *monitor,
              MorangoTransferStats  *stats,
              GError               **error)
{
  MorangoTransferOptions options = MORANGO_TRANSFER_OPTIONS_INIT;

  if (!morango_http_peer_connect (f->peer, NULL, error))
    return FALSE;
  options.format = morango_http_peer_get_fsic_format (f->peer);
  options.chunk_size = json_object_get_int_member (f->replay->setup, "chunk_size");
  options.resume_transfer_session_id = resume;
  return morango_transfer (f->store, MORANGO_PEER (f->peer), f->filter, push, &options, monitor, stats, error);
}

/* ---- whole transfers against the recordings ---- */

static void
test_push (Fixture       *f,
           gconstpointer  data)
{
  const char *file = data;
  g_autoptr(GError) error = NULL;
  MorangoTransferStats stats;
  gboolean legacy = strstr (file, "legacy") != NULL;
  gint64 sent = 0, received = 0;
  guint records = 0;

  fixture_start (f, file);
  add_records (f, legacy ? 5 : 30);
  run_transfer (f, TRUE, NULL, NULL, &stats, &error);
  g_assert_no_error (error);
  g_assert_cmpint (stats.records_transferred, ==, legacy ? 5 : 30);
  g_assert_cmpint (morango_http_peer_is_async (f->peer), ==, !legacy);
  g_assert_cmpint (morango_http_peer_get_fsic_format (f->peer), ==, legacy ? MORANGO_FSIC_V1 : MORANGO_FSIC_V2);
  assert_like_recording (f->replay);

  /* The chunks are gzipped record lists, every record once. */
  for (guint k = 0; k < f->replay->seen->len; k++)
    {
      Seen *s = g_ptr_array_index (f->replay->seen, k);

      if (g_str_equal (s->method, "POST") && g_str_has_suffix (s->path, "/buffers/"))
        {
          g_autoptr(JsonNode) chunk = json_from_string (g_bytes_get_data (s->body, NULL), NULL);

          g_assert_true (s->gzipped);
          records += json_array_get_length (json_node_get_array (chunk));
        }
    }
  g_assert_cmpuint (records, ==, legacy ? 5 : 30);
  g_assert_cmpint (count (f->store, "SELECT count(*) FROM morango_buffer"), ==, 0);
  g_assert_cmpint (count (f->store, "SELECT count(*) FROM morango_syncsession WHERE active = 1"), ==, 0);

  morango_http_peer_get_bytes (f->peer, &sent, &received);
  g_assert_cmpint (sent, >, 0);
  g_assert_cmpint (received, >, 0);
}

static void
test_pull (Fixture       *f,
           gconstpointer  data)
{
  const char *file = data;
  g_autoptr(GError) error = NULL;
  MorangoTransferStats stats;
  g_autofree char *name = g_strconcat ("http/", file, NULL);
  g_autoptr(JsonNode) root = morango_test_load_vectors (name);
  JsonObject *result = json_object_get_object_member (json_node_get_object (root), "driver_result");
  gint64 total = json_object_get_int_member (result, "records_total");
  gint64 server_sent = 0, server_received = 0, sent = 0, received = 0;

  fixture_start (f, file);
  /* Plain pages of 81 records outweigh what this side sends by far. */
  f->replay->plain_pages = strstr (file, "legacy") != NULL;
  run_transfer (f, FALSE, NULL, NULL, &stats, &error);
  g_assert_no_error (error);
  g_assert_cmpint (stats.records_total, ==, total);
  g_assert_cmpint (stats.records_transferred, ==, total);
  g_assert_cmpint (stats.dequeue.n_new, ==, total);
  g_assert_cmpint (count (f->store, "SELECT count(*) FROM morango_store"), ==, total);
  assert_like_recording (f->replay);

  /* Pages may come gzipped. */
  for (guint k = 0; k < f->replay->seen->len; k++)
    {
      Seen *s = g_ptr_array_index (f->replay->seen, k);

      if (g_str_equal (s->method, "GET") && g_str_has_suffix (s->path, "/buffers/"))
        g_assert_cmpstr (soup_message_headers_get_one (s->headers, "Accept-Encoding"), ==, "gzip");
    }

  /* The FSIC this side sent is in the negotiated format. */
  for (guint k = 0; k < f->replay->seen->len; k++)
    {
      Seen *s = g_ptr_array_index (f->replay->seen, k);
      g_autoptr(JsonNode) body = NULL;
      JsonObject *o;

      if (!g_str_equal (s->method, "PATCH"))
        continue;
      body = json_from_string (g_bytes_get_data (s->body, NULL), NULL);
      o = json_node_get_object (body);
      if (json_object_has_member (o, "client_fsic"))
        {
          g_autoptr(JsonNode) fsic = json_from_string (json_object_get_string_member (o, "client_fsic"), NULL);

          g_assert_cmpint (json_object_has_member (json_node_get_object (fsic), "sub"), ==,
                           morango_http_peer_get_fsic_format (f->peer) == MORANGO_FSIC_V2);
        }
      /* The byte counts go with the page counts, growing, from the
       * server's side: what it sent is what this side received. */
      if (json_object_has_member (o, "records_transferred"))
        {
          g_assert_cmpint (json_object_get_int_member (o, "bytes_sent"), >=, server_sent);
          g_assert_cmpint (json_object_get_int_member (o, "bytes_received"), >=, server_received);
          server_sent = json_object_get_int_member (o, "bytes_sent");
          server_received = json_object_get_int_member (o, "bytes_received");
          g_assert_cmpint (server_sent, >, 0);
        }
    }
  morango_http_peer_get_bytes (f->peer, &sent, &received);
  g_assert_cmpint (server_sent, <=, received);
  g_assert_cmpint (server_received, <=, sent);
  g_assert_cmpint (server_received, >, server_sent / 100);
  if (f->replay->plain_pages)
    g_assert_cmpint (server_sent, >, 2 * server_received);
}

/* A server that answers "started" is looked at again until it is done,
 * with no fixed sleep. */
static void
test_stage_in_background (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  MorangoTransferStats stats;

  fixture_start (f, "pull.json");
  f->replay->slow = 3;
  run_transfer (f, FALSE, NULL, NULL, &stats, &error);
  g_assert_no_error (error);
  g_assert_cmpint (stats.records_transferred, ==, 31);
  /* Four stages (serializing, queuing, dequeuing, deserializing), each
   * looked at three times while it ran. */
  g_assert_cmpuint (f->replay->looks, ==, 4 * 3);
}

/* ---- the network and the server failing ---- */

static void
test_retry_dropped_connection (Fixture       *f,
                               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fixture_start (f, "pull.json");
  f->replay->drop = 2;
  g_assert_true (morango_http_peer_connect (f->peer, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (morango_http_peer_get_fsic_format (f->peer), ==, MORANGO_FSIC_V2);
  g_assert_cmpstr (morango_http_peer_get_server_instance_id (f->peer), ==,
                   json_object_get_string_member (f->replay->setup, "server_instance_id"));
  g_assert_cmpuint (f->replay->drop, ==, 0);
  g_assert_cmpuint (f->replay->seen->len, ==, 1);
}

static void
test_retries_bounded (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fixture_start (f, "pull.json");
  f->replay->drop = 3;
  g_assert_false (morango_http_peer_connect (f->peer, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT);
  g_assert_nonnull (strstr (error->message, "3 tries"));
  g_assert_cmpuint (f->replay->seen->len, ==, 0);
}

static void
test_refused_not_retried (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fixture_start (f, "pull.json");
  f->replay->fail_status = 403;
  f->replay->fail_body = "{\"detail\":\"You do not have permission to perform this action.\"}";
  g_assert_false (morango_http_peer_connect (f->peer, NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED);
  g_assert_nonnull (strstr (error->message, "You do not have permission to perform this action."));
  g_assert_nonnull (strstr (error->message, "403"));
  g_assert_cmpuint (f->replay->seen->len, ==, 1);

  /* Missing is told apart from refused. */
  g_clear_error (&error);
  f->replay->fail_status = 404;
  f->replay->fail_body = "{\"detail\":\"Not found.\"}";
  g_assert_false (morango_http_peer_check_sync_session (f->peer, "0123456789abcdef0123456789abcdef", NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND);
  g_assert_cmpuint (f->replay->seen->len, ==, 2);

  /* A server error page is named, not dumped. */
  g_clear_error (&error);
  f->replay->fail_status = 500;
  f->replay->fail_body = "<!doctype html><title>Server Error (500)</title>";
  g_assert_false (morango_http_peer_check_sync_session (f->peer, "0123456789abcdef0123456789abcdef", NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_FAILED);
  g_assert_null (strstr (error->message, "doctype"));

  /* A redirect is not followed: Django's would turn a POST into a GET
   * (correction 1). */
  g_clear_error (&error);
  f->replay->fail_status = 301;
  f->replay->fail_body = NULL;
  g_assert_false (morango_http_peer_check_sync_session (f->peer, "0123456789abcdef0123456789abcdef", NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_FAILED);
  g_assert_cmpuint (f->replay->seen->len, ==, 4);
}

static void
test_unreachable (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(MorangoHttpPeer) peer = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;

  /* A port bound but not listening refuses connections. */
  g_assert_true (g_socket_bind (socket, any, FALSE, &error));
  bound = g_socket_get_local_address (socket, &error);
  url = g_strdup_printf ("http://127.0.0.1:%u/", g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  peer = morango_http_peer_new (url, f->store, NULL, NULL, &error);
  g_assert_no_error (error);
  morango_http_peer_set_retries (peer, 4, 1);
  g_assert_false (morango_http_peer_connect (peer, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_nonnull (strstr (error->message, "4 tries"));
}

static void
test_cancelled (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;

  fixture_start (f, "pull.json");
  g_cancellable_cancel (cancellable);
  g_assert_false (morango_http_peer_connect (f->peer, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (f->replay->seen->len, ==, 0);
}

static void
test_gzip_bomb (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fixture_start (f, "pull.json");
  f->replay->bomb = 4 << 20;
  morango_http_peer_set_body_limit (f->peer, 1 << 20);
  g_assert_false (morango_http_peer_connect (f->peer, NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_LIMIT_EXCEEDED);
}

static void
test_forged_server_signature (Fixture       *f,
                              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  MorangoTransferStats stats;

  fixture_start (f, "pull.json");
  f->replay->forge_signature = TRUE;
  g_assert_false (run_transfer (f, FALSE, NULL, NULL, &stats, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_SIGNATURE_INVALID);
  /* Nothing was opened on this side. */
  g_assert_cmpint (count (f->store, "SELECT count(*) FROM morango_syncsession"), ==, 0);
  g_assert_cmpint (count (f->store, "SELECT count(*) FROM morango_transfersession"), ==, 0);
}

/* A push that fails after the server took a chunk the client did not
 * count resumes from what the server holds: no record is sent twice. */
static void
test_push_resumes_from_server_count (Fixture       *f,
                                     gconstpointer  data)
{
  g_autoptr(MorangoMonitor) monitor = morango_test_monitor_failing_at ("transfer-count", 10);
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) pushed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  MorangoTransferStats stats;
  char ts_id[33];
  gint64 server_had;

  fixture_start (f, "push.json");
  add_records (f, 30);
  g_assert_false (run_transfer (f, TRUE, NULL, monitor, &stats, &error));
  g_assert_error (error, MORANGO_TEST_ERROR, MORANGO_TEST_ERROR_INJECTED);
  g_clear_error (&error);
  server_had = f->replay->pushed;
  g_assert_cmpint (server_had, >=, 10);
  g_assert_cmpint (stats.records_transferred, <, server_had);
  memcpy (ts_id, stats.transfer_session_id, sizeof ts_id);

  g_assert_true (run_transfer (f, TRUE, ts_id, monitor, &stats, &error));
  g_assert_no_error (error);
  g_assert_cmpint (stats.records_transferred, ==, 30);
  g_assert_cmpint (f->replay->pushed, ==, 30);

  for (guint k = 0; k < f->replay->seen->len; k++)
    {
      Seen *s = g_ptr_array_index (f->replay->seen, k);
      g_autoptr(JsonNode) chunk = NULL;
      JsonArray *records;

      if (!g_str_equal (s->method, "POST") || !g_str_has_suffix (s->path, "/buffers/"))
        continue;
      chunk = json_from_string (g_bytes_get_data (s->body, NULL), NULL);
      records = json_node_get_array (chunk);
      for (guint i = 0; i < json_array_get_length (records); i++)
        g_assert_true (g_hash_table_add (pushed, g_strdup (json_object_get_string_member (
                                                   json_array_get_object_element (records, i), "model_uuid"))));
    }
  g_assert_cmpuint (g_hash_table_size (pushed), ==, 30);
}

/* ---- pairing ---- */

static void
test_pair (Fixture       *f,
           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoCertificate) cert = NULL;
  g_autoptr(MorangoCertificate) root = NULL;
  g_autoptr(MorangoKey) root_key = NULL;
  g_autoptr(MorangoHttpPeer) peer = NULL;
  g_autoptr(JsonNode) listing = NULL;
  MorangoDb *issuer_db;
  const char *root_id;
  g_autofree char *params = NULL;

  f->replay = replay_new ("csr.json");
  root_id = json_object_get_string_member (f->replay->setup, "root_cert_id");

  /* The server: its root with its key, in a store of its own. */
  f->replay->issuer = open_store (f, "server.db", 22);
  issuer_db = morango_store_get_db (f->replay->issuer);
  listing = json_from_string (json_object_get_string_member (recorded_response (f->replay, 1), "body"), NULL);
  root = morango_certificate_chain_import (issuer_db, listing, root_id, MORANGO_CHAIN_IMPORT_TRUST_ROOT, NULL, &error);
  g_assert_no_error (error);
  root_key = morango_key_new_from_private_pem (json_object_get_string_member (f->replay->setup, "root_private_key_pem"),
                                               &error);
  g_assert_true (morango_certificate_set_private_key (root, root_key, &error));
  g_assert_true (morango_certificate_save (root, issuer_db, &error));
  g_assert_no_error (error);
  morango_db_release (issuer_db);

  peer = morango_http_peer_new (f->replay->base_url, f->store, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (morango_trust_is_trusted (morango_store_get_db (f->store), root_id));
  params = g_strdup_printf ("{\"user\": \"%s\"}", root_id);
  cert = morango_http_pair (peer, root_id, NULL, "root_scope", params, "bob", "password", NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (cert);
  g_assert_cmpstr (morango_certificate_get_parent_id (cert), ==, root_id);
  g_assert_true (morango_certificate_has_private_key (cert));
  g_assert_true (morango_trust_is_trusted (morango_store_get_db (f->store), root_id));
  g_assert_cmpint (count (f->store, "SELECT count(*) FROM morango_certificate"), ==, 2);

  /* Credentials on the signing request only, as the recorded client. */
  g_assert_cmpuint (f->replay->seen->len, ==, 4);
  for (guint k = 0; k < f->replay->seen->len; k++)
    {
      Seen *s = g_ptr_array_index (f->replay->seen, k);
      const char *auth = soup_message_headers_get_one (s->headers, "Authorization");

      g_assert_cmpint (s->matched, ==, k);
      if (k == 3)
        g_assert_cmpstr (auth, ==, "Basic Ym9iOnBhc3N3b3Jk");
      else
        g_assert_null (auth);
    }
  g_assert_true (morango_db_acquire (issuer_db));
}

/* A refused signing request stores nothing and trusts nothing. */
static void
test_pair_refused (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoHttpPeer) peer = NULL;
  JsonObject *body;
  const char *root_id;

  f->replay = replay_new ("csr.json");
  root_id = json_object_get_string_member (f->replay->setup, "root_cert_id");
  peer = morango_http_peer_new (f->replay->base_url, f->store, NULL, NULL, &error);
  g_assert_no_error (error);
  /* The recorded answer is what the recorded client asked for, but for
   * its own key, not ours. */
  body = json_object_get_object_member (recorded_request (f->replay, 3), "body_json");
  g_assert_null (morango_http_pair (peer, root_id, NULL, json_object_get_string_member (body, "scope_definition"),
                                    json_object_get_string_member (body, "scope_params"), "bob", "password",
                                    NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_assert_false (morango_trust_is_trusted (morango_store_get_db (f->store), root_id));
  g_assert_cmpint (count (f->store, "SELECT count(*) FROM morango_certificate"), ==, 0);
}

static void
test_base_url (Fixture       *f,
               gconstpointer  data)
{
  static const struct { const char *in, *out; } good[] = {
    { "http://127.0.0.1:8080", "http://127.0.0.1:8080/" },
    { "http://host:8080/kolibri", "http://host:8080/kolibri/" },
    { "https://host/kolibri/", "https://host/kolibri/" },
  };
  static const char *bad[] = { "ftp://host/", "http:///x", "host:8080", "http://u:p@host/", "http://h/?q=1", "" };
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(MorangoHttpPeer) peer = morango_http_peer_new (good[i].in, f->store, NULL, NULL, &error);

      g_assert_no_error (error);
      g_assert_cmpstr (morango_http_peer_get_base_url (peer), ==, good[i].out);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(MorangoHttpPeer) peer = morango_http_peer_new (bad[i], f->store, NULL, NULL, &error);

      g_assert_null (peer);
      g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
      g_clear_error (&error);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn, data) g_test_add ("/http-client/" path, Fixture, data, fixture_set_up, fn, fixture_tear_down)
  ADD ("push", test_push, "push.json");
  ADD ("push-legacy", test_push, "push-legacy.json");
  ADD ("pull", test_pull, "pull.json");
  ADD ("pull-nothing-new", test_pull, "pull-nothing-new.json");
  ADD ("pull-fsic-v1", test_pull, "pull-fsic-v1.json");
  ADD ("pull-legacy", test_pull, "pull-legacy.json");
  ADD ("stage-in-background", test_stage_in_background, NULL);
  ADD ("retry-dropped-connection", test_retry_dropped_connection, NULL);
  ADD ("retries-bounded", test_retries_bounded, NULL);
  ADD ("refused-not-retried", test_refused_not_retried, NULL);
  ADD ("unreachable", test_unreachable, NULL);
  ADD ("cancelled", test_cancelled, NULL);
  ADD ("gzip-bomb", test_gzip_bomb, NULL);
  ADD ("forged-server-signature", test_forged_server_signature, NULL);
  ADD ("push-resumes-from-server-count", test_push_resumes_from_server_count, NULL);
  ADD ("pair", test_pair, NULL);
  ADD ("pair-refused", test_pair_refused, NULL);
  ADD ("base-url", test_base_url, NULL);
#undef ADD

  return g_test_run ();
}
