/* test-engine-peers.c: adding a peer, the calls before a pairing, and our learners endpoint
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include <libsoup/soup.h>

#include "morango-account.h"
#include "morango-certificate.h"
#include "morango-engine-peers.h"
#include "morango-http-server.h"
#include "morango-store.h"
#include "morango-test-util.h"
#include "pair-fixtures.h"

/* ------------------------------------------------------------------ */

static void
got (GObject      *source,
     GAsyncResult *result,
     gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static GAsyncResult *
await_result (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *slot;
}

typedef struct {
  char          *root;
  PairFixture   *facility;
  MorangoEngine *client;
  guint          peers_changed;
} Fixture;

static void
on_peers_changed (MorangoEngine *engine,
                  Fixture       *fx)
{
  fx->peers_changed++;
}

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;

  fx->root = morango_test_tmpdir ();
  fx->facility = pair_fixture_new (fx->root);
  dir = g_build_filename (fx->root, "tablet", NULL);
  fx->client = morango_engine_new (dir, "kolibri-like", &error);
  g_assert_no_error (error);
  g_signal_connect (fx->client, "peers-changed", G_CALLBACK (on_peers_changed), fx);
}

static void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  g_signal_handlers_disconnect_by_data (fx->client, fx);
  g_clear_object (&fx->client);
  g_clear_pointer (&fx->facility, pair_fixture_free);
  g_free (fx->root);
}

/* A raw GET of the learners endpoint; the status, the body in *@body. */
static guint
get_learners (Fixture     *fx,
              const char  *method,
              const char  *query,
              const char  *user,
              const char  *password,
              char       **body,
              char       **www_authenticate)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autofree char *url = g_strdup_printf ("%sapi/morango-sync/v1/learners/%s%s", fx->facility->url,
                                          query ? "?" : "", query ? query : "");
  g_autoptr(SoupMessage) msg = soup_message_new (method, url);
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GError) error = NULL;

  if (user != NULL)
    {
      g_autofree char *pair = g_strdup_printf ("%s:%s", user, password);
      g_autofree char *encoded = g_base64_encode ((const guchar *) pair, strlen (pair));
      g_autofree char *header = g_strconcat ("Basic ", encoded, NULL);

      soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", header);
    }
  reply = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  if (body)
    *body = g_strndup (g_bytes_get_data (reply, NULL), g_bytes_get_size (reply));
  if (www_authenticate)
    *www_authenticate = g_strdup (soup_message_headers_get_one (soup_message_get_response_headers (msg),
                                                                "WWW-Authenticate"));
  return soup_message_get_status (msg);
}

static void
test_endpoint (Fixture       *fx,
               gconstpointer  data)
{
  g_autofree char *query = g_strdup_printf ("dataset_id=%s", fx->facility->dataset);
  g_autofree char *shouted = g_ascii_strup (fx->facility->dataset, -1);
  g_autofree char *upper = g_strdup_printf ("dataset_id=%s", shouted);
  g_autofree char *body = NULL;
  g_autofree char *challenge = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonArray *array;

  /* Who asks comes first. */
  g_assert_cmpuint (get_learners (fx, "GET", query, NULL, NULL, &body, &challenge), ==, 401);
  g_assert_cmpstr (challenge, ==, "Basic realm=\"api\"");
  g_assert_nonnull (strstr (body, "Authentication credentials were not provided."));
  g_clear_pointer (&body, g_free);
  g_assert_cmpuint (get_learners (fx, "GET", query, "admin", "wrong", &body, NULL), ==, 401);
  g_assert_nonnull (strstr (body, "Invalid credentials."));
  g_clear_pointer (&body, g_free);
  g_assert_cmpuint (get_learners (fx, "GET", query, PAIR_FIXTURE_NOBODY, PAIR_FIXTURE_PASSWORD, &body, NULL),
                    ==, 403);
  g_clear_pointer (&body, g_free);
  /* Kolibri's user part: a facility that is another dataset is refused. */
  g_assert_cmpuint (get_learners (fx, "GET", query, "username=admin&facility=0123456789abcdef0123456789abcdef",
                                  PAIR_FIXTURE_PASSWORD, NULL, NULL), ==, 403);

  /* The dataset: required, and a UUID, never spliced into SQL. */
  g_assert_cmpuint (get_learners (fx, "GET", NULL, "admin", PAIR_FIXTURE_PASSWORD, &body, NULL), ==, 400);
  g_assert_nonnull (strstr (body, "\"dataset_id\""));
  g_clear_pointer (&body, g_free);
  g_assert_cmpuint (get_learners (fx, "GET", "dataset_id=x%27%20OR%20%271%27%3D%271", "admin",
                                  PAIR_FIXTURE_PASSWORD, &body, NULL), ==, 400);
  g_assert_null (strstr (body, "ana"));
  g_clear_pointer (&body, g_free);
  g_assert_cmpuint (get_learners (fx, "POST", query, "admin", PAIR_FIXTURE_PASSWORD, NULL, NULL), ==, 405);

  /* The list: learners only (no coach), by name, three fields each. */
  g_assert_cmpuint (get_learners (fx, "GET", upper, "admin", PAIR_FIXTURE_PASSWORD, &body, NULL), ==, 200);
  g_assert_true (json_parser_load_from_data (parser, body, -1, &error));
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (json_parser_get_root (parser)));
  array = json_node_get_array (json_parser_get_root (parser));
  g_assert_cmpuint (json_array_get_length (array), ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      JsonObject *o = json_array_get_object_element (array, i);

      g_assert_cmpuint (json_object_get_size (o), ==, 3);
      g_assert_cmpstr (json_object_get_string_member (o, "id"), ==, fx->facility->learners[i]);
    }
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (array, 0), "username"), ==, "ana");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (array, 0), "full_name"), ==,
                   "Ana Alves");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (array, 1), "username"), ==, "ben");
  g_clear_pointer (&body, g_free);

  /* Another dataset: nobody. */
  g_assert_cmpuint (get_learners (fx, "GET", "dataset_id=0123456789abcdef0123456789abcdef", "admin",
                                  PAIR_FIXTURE_PASSWORD, &body, NULL), ==, 200);
  g_assert_cmpstr (body, ==, "[]");
}

/* Guessing passwords here costs as much as at the signing request. */
static void
test_endpoint_rate_limit (Fixture       *fx,
                          gconstpointer  data)
{
  g_autofree char *query = g_strdup_printf ("dataset_id=%s", fx->facility->dataset);
  guint status = 0;

  for (guint i = 0; i < MORANGO_HTTP_SERVER_CSR_FAILURES; i++)
    g_assert_cmpuint (get_learners (fx, "GET", query, "admin", "guess", NULL, NULL), ==, 401);
  status = get_learners (fx, "GET", query, "admin", PAIR_FIXTURE_PASSWORD, NULL, NULL);
  g_assert_cmpuint (status, ==, 429);
}

static void
test_normalize (void)
{
  const char *good[][2] = {
    { "192.168.1.10:8080", "http://192.168.1.10:8080/" },
    { "  http://Server.Local:8080  ", "http://server.local:8080/" },
    { "https://cloud.example/kolibri", "https://cloud.example/kolibri/" },
  };
  const char *bad[][2] = {
    { "", "Type the peer's address" },
    { "   ", "Type the peer's address" },
    { "hello world", "holds a space" },
    { "ftp://x/", "Not a peer address" },
    { "http://user:pw@host/", "" },
    { "http://host/?q=1", "" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *normal = morango_engine_normalize_peer_address (good[i][0], &error);

      g_assert_no_error (error);
      g_assert_cmpstr (normal, ==, good[i][1]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *normal = morango_engine_normalize_peer_address (bad[i][0], &error);

      g_assert_null (normal);
      g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
      g_assert_nonnull (strstr (error->message, bad[i][1]));
    }
}

static GPtrArray *
list_peers (MorangoEngine *engine)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  GPtrArray *peers;

  morango_engine_list_peers_async (engine, NULL, got, &result);
  peers = morango_engine_list_peers_finish (engine, await_result (&result), &error);
  g_assert_no_error (error);
  return peers;
}

static void
test_add_peer (Fixture       *fx,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(MorangoKnownPeer) peer = NULL;
  g_autoptr(GPtrArray) peers = NULL;

  morango_engine_add_peer_async (fx->client, "not an address", NULL, got, &result);
  g_assert_null (morango_engine_add_peer_finish (fx->client, await_result (&result), &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_clear_error (&error);
  g_clear_object (&result);
  peers = list_peers (fx->client);
  g_assert_cmpuint (peers->len, ==, 0);
  g_clear_pointer (&peers, g_ptr_array_unref);

  morango_engine_add_peer_async (fx->client, "127.0.0.1:9", NULL, got, &result);
  peer = morango_engine_add_peer_finish (fx->client, await_result (&result), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (peer->address, ==, "http://127.0.0.1:9/");
  g_assert_cmpint (peer->state, ==, MORANGO_PEER_STATE_ADDED);
  while (fx->peers_changed < 1)
    g_main_context_iteration (NULL, TRUE);
  peers = list_peers (fx->client);
  g_assert_cmpuint (peers->len, ==, 1);
  g_clear_pointer (&peers, g_ptr_array_unref);
  g_clear_object (&result);
  g_clear_pointer (&peer, morango_known_peer_free);

  /* Again: the same peer, not a second one. */
  morango_engine_add_peer_async (fx->client, "http://127.0.0.1:9", NULL, got, &result);
  peer = morango_engine_add_peer_finish (fx->client, await_result (&result), &error);
  g_assert_no_error (error);
  peers = list_peers (fx->client);
  g_assert_cmpuint (peers->len, ==, 1);
}

static void
test_fetch_certificates (Fixture       *fx,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(MorangoEnginePeerCertificates) certs = NULL;

  morango_engine_fetch_peer_certificates_async (fx->client, fx->facility->url, NULL, NULL, got, &result);
  certs = morango_engine_fetch_peer_certificates_finish (fx->client, await_result (&result), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (certs->certificates->len, ==, 1);
  g_assert_cmpstr (morango_certificate_get_id (certs->certificates->pdata[0]), ==, fx->facility->dataset);
  g_assert_cmpstr (certs->datasets[0], ==, fx->facility->dataset);
  g_assert_null (certs->datasets[1]);
  g_assert_null (certs->tls_fingerprint);
  g_assert_cmpstr (certs->person_scope_definition, ==, "single-user");
  g_assert_cmpstr (certs->person_scope_param, ==, "user_id");
}

static GPtrArray *
fetch_learners (Fixture     *fx,
                const char  *url,
                const char  *user,
                const char  *password,
                GError     **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  morango_engine_fetch_learners_async (fx->client, url, fx->facility->dataset, user, password, NULL, NULL,
                                       got, &result);
  return morango_engine_fetch_learners_finish (fx->client, await_result (&result), error);
}

static void
not_found (SoupServer        *server,
           SoupServerMessage *msg,
           const char        *path,
           GHashTable        *query,
           gpointer           data)
{
  soup_server_message_set_status (msg, 404, NULL);
  soup_server_message_set_response (msg, "text/html", SOUP_MEMORY_STATIC, "<h1>Not Found</h1>", 18);
}

static void
test_fetch_learners (Fixture       *fx,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) people = NULL;
  g_autoptr(SoupServer) morango_like = soup_server_new (NULL, NULL);
  g_autofree char *other = NULL;
  GSList *uris;

  people = fetch_learners (fx, fx->facility->url, NULL, PAIR_FIXTURE_PASSWORD, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (people->len, ==, 2);
  g_assert_cmpstr (((MorangoPerson *) people->pdata[1])->full_name, ==, "Ben Bello");
  g_assert_cmpstr (((MorangoPerson *) people->pdata[1])->id, ==, fx->facility->learners[1]);
  g_clear_pointer (&people, g_ptr_array_unref);

  g_assert_null (fetch_learners (fx, fx->facility->url, "admin", "wrong", &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED);
  g_assert_cmpuint (morango_engine_error_get_http_status (error), ==, 401);
  g_clear_error (&error);
  g_assert_null (fetch_learners (fx, fx->facility->url, PAIR_FIXTURE_NOBODY, PAIR_FIXTURE_PASSWORD, &error));
  g_assert_cmpuint (morango_engine_error_get_http_status (error), ==, 403);
  g_clear_error (&error);

  /* A Morango or Kolibri peer has no such endpoint. */
  soup_server_add_handler (morango_like, NULL, not_found, NULL, NULL);
  g_assert_true (soup_server_listen_local (morango_like, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  uris = soup_server_get_uris (morango_like);
  other = g_strdup_printf ("http://127.0.0.1:%d/", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  g_assert_null (fetch_learners (fx, other, NULL, PAIR_FIXTURE_PASSWORD, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND);
  g_assert_cmpuint (morango_engine_error_get_http_status (error), ==, 404);
  g_clear_error (&error);
  soup_server_disconnect (morango_like);

  /* A peer that is down. */
  g_assert_null (fetch_learners (fx, other, NULL, PAIR_FIXTURE_PASSWORD, &error));
  g_assert_true (error->domain == G_IO_ERROR);
  g_assert_cmpuint (morango_engine_error_get_http_status (error), ==, 0);
}

static void
test_error_status (void)
{
  g_autoptr(GError) a = g_error_new_literal (MORANGO_ERROR, MORANGO_ERROR_INVALID,
                                            "http://h:1/ refused POST certificates/ (429 ): Request was throttled");
  /* The peer's own words come after the status and do not count. */
  g_autoptr(GError) c = g_error_new_literal (MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED,
                                            "http://h:1/ refused GET x/ (403 Forbidden): \"a refused b (401 c)\"");
  g_autoptr(GError) d = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "x refused y (401 z)");

  g_assert_cmpuint (morango_engine_error_get_http_status (a), ==, 429);
  g_assert_cmpuint (morango_engine_error_get_http_status (c), ==, 403);
  g_assert_cmpuint (morango_engine_error_get_http_status (d), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/engine-peers/normalize", test_normalize);
  g_test_add_func ("/engine-peers/error-status", test_error_status);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/engine-peers/learners-endpoint", test_endpoint);
  ADD ("/engine-peers/learners-rate-limit", test_endpoint_rate_limit);
  ADD ("/engine-peers/add-peer", test_add_peer);
  ADD ("/engine-peers/fetch-certificates", test_fetch_certificates);
  ADD ("/engine-peers/fetch-learners", test_fetch_learners);
#undef ADD
  return g_test_run ();
}
