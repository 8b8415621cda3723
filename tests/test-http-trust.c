/* test-http-trust.c: trust on the wire, against the recordings of a real Morango 0.8.2
 *
 * The client half must reproduce what Morango's client sent, byte for
 * byte where the protocol fixes the bytes (signatures are
 * deterministic); the server half must answer the recorded requests as
 * the recorded server did, except where our rules differ (each such
 * place says so).
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "morango-account.h"
#include "morango-certificate-request.h"
#include "morango-chain.h"
#include "morango-http-trust.h"
#include "morango-json.h"
#include "morango-test-util.h"

/* ------------------------------------------------------------------ */
/* Recordings */

static JsonObject *
recording (const char *file)
{
  static GHashTable *cache;
  g_autofree char *path = g_build_filename ("http", file, NULL);
  JsonNode *node;

  if (cache == NULL)
    cache = g_hash_table_new (g_str_hash, g_str_equal);
  node = g_hash_table_lookup (cache, file);
  if (node == NULL)
    {
      node = morango_test_load_vectors (path);
      g_hash_table_insert (cache, (gpointer) g_intern_string (file), node);
    }
  return json_node_get_object (node);
}

static const char *
setup_string (const char *file,
              const char *member)
{
  return json_object_get_string_member (json_object_get_object_member (recording (file), "setup"), member);
}

/* The exchange numbered @seq. */
static JsonObject *
exchange (const char *file,
          gint64      seq)
{
  JsonArray *all = json_object_get_array_member (recording (file), "exchanges");

  for (guint i = 0; i < json_array_get_length (all); i++)
    {
      JsonObject *e = json_array_get_object_element (all, i);

      if (json_object_get_int_member (e, "seq") == seq)
        return e;
    }
  g_error ("%s has no exchange %" G_GINT64_FORMAT, file, seq);
}

static JsonObject *
request_of (JsonObject *e)
{
  return json_object_get_object_member (e, "request");
}

static JsonObject *
response_of (JsonObject *e)
{
  return json_object_get_object_member (e, "response");
}

static JsonNode *
body_json (JsonObject *message)
{
  return json_object_get_member (message, "body_json");
}

/* A certificate of the recorded chain (from the certificate_chain of
 * the handshake of @file at @seq), with the private key of the setup
 * when @key_member names one. */
static MorangoCertificate *
recorded_certificate (const char *file,
                      gint64      seq,
                      guint       index,
                      const char *key_member)
{
  g_autoptr(GError) error = NULL;
  JsonObject *body = json_node_get_object (body_json (request_of (exchange (file, seq))));
  g_autoptr(JsonNode) chain = morango_json_parse (json_object_get_string_member (body, "certificate_chain"),
                                                  "chain", &error);
  g_autoptr(MorangoCertificate) cert = NULL;

  g_assert_no_error (error);
  cert = morango_certificate_new_from_json (json_array_get_object_element (json_node_get_array (chain), index),
                                            &error);
  g_assert_no_error (error);
  if (key_member != NULL)
    {
      g_autoptr(MorangoKey) key = morango_key_new_from_private_pem (setup_string (file, key_member), &error);

      g_assert_no_error (error);
      g_assert_true (morango_certificate_set_private_key (cert, key, &error));
      g_assert_no_error (error);
    }
  return g_steal_pointer (&cert);
}

/* ------------------------------------------------------------------ */
/* Client side */

/* The recorded handshakes of a push and a pull, rebuilt from the keys
 * of the setup: the same body, and the same signature to the byte. */
static void
test_client_sync_session_body (gconstpointer data)
{
  const char *file = data;
  gint64 seq = g_str_equal (file, "push.json") ? 29 : 7;
  JsonObject *recorded = json_node_get_object (body_json (request_of (exchange (file, seq))));
  g_autoptr(MorangoCertificate) root = recorded_certificate (file, seq, 0, "root_private_key_pem");
  g_autoptr(MorangoCertificate) client = recorded_certificate (file, seq, 1, "client_private_key_pem");
  g_autoptr(GPtrArray) chain = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) built = NULL;
  g_autoptr(JsonNode) built_node = NULL;
  g_autofree char *server_instance = NULL;
  JsonNode *answer = body_json (response_of (exchange (file, seq)));
  GList *keys;
  guint i = 0;

  g_ptr_array_add (chain, root);
  g_ptr_array_add (chain, client);
  built = morango_http_trust_build_sync_session_request (chain, root,
                                                         json_object_get_string_member (recorded, "nonce"),
                                                         json_object_get_string_member (recorded, "id"),
                                                         json_object_get_string_member (recorded, "connection_path"),
                                                         json_object_get_string_member (recorded, "instance"),
                                                         json_object_get_string_member (recorded, "client_ip"),
                                                         json_object_get_string_member (recorded, "server_ip"),
                                                         &error);
  g_assert_no_error (error);
  /* Every member equal, the chain text and the signature byte for byte,
   * and the keys in the order Morango's client sends them. */
  built_node = json_node_init_object (json_node_alloc (), built);
  g_assert_true (morango_test_json_equal (built_node, body_json (request_of (exchange (file, seq)))));
  g_assert_cmpstr (json_object_get_string_member (built, "certificate_chain"), ==,
                   json_object_get_string_member (recorded, "certificate_chain"));
  g_assert_cmpstr (json_object_get_string_member (built, "signature"), ==,
                   json_object_get_string_member (recorded, "signature"));
  keys = json_object_get_members (recorded);
  for (GList *l = keys; l; l = l->next)
    {
      g_autoptr(GList) ours = json_object_get_members (built);

      g_assert_cmpstr (g_list_nth_data (ours, i++), ==, l->data);
    }
  g_list_free (keys);

  /* The recorded server's answer proves its key. */
  g_assert_true (morango_http_trust_check_sync_session_response (root,
                                                                 json_object_get_string_member (recorded, "nonce"),
                                                                 json_object_get_string_member (recorded, "id"),
                                                                 answer, &server_instance, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (server_instance, ==,
                   json_object_get_string_member (json_node_get_object (answer), "server_instance"));

  /* ... and it proves nothing for another session, nor with another key. */
  g_assert_false (morango_http_trust_check_sync_session_response (root,
                                                                  json_object_get_string_member (recorded, "nonce"),
                                                                  "00000000000000000000000000000000",
                                                                  answer, NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_SIGNATURE_INVALID);
  g_clear_error (&error);
  g_assert_false (morango_http_trust_check_sync_session_response (client,
                                                                  json_object_get_string_member (recorded, "nonce"),
                                                                  json_object_get_string_member (recorded, "id"),
                                                                  answer, NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_SIGNATURE_INVALID);
  g_clear_error (&error);
}

static void
test_client_sync_session_refusals (void)
{
  g_autoptr(MorangoCertificate) root = recorded_certificate ("push.json", 29, 0, NULL);
  g_autoptr(MorangoCertificate) client = recorded_certificate ("push.json", 29, 1, "client_private_key_pem");
  g_autoptr(GPtrArray) chain = g_ptr_array_new ();
  g_autoptr(GPtrArray) empty = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) body = NULL;
  g_autoptr(JsonNode) answer = NULL;

  /* The client certificate signs: without its private key, nothing. */
  g_ptr_array_add (chain, root);
  body = morango_http_trust_build_sync_session_request (chain, root, "n", "s", "http://x/", "{}", NULL, NULL, &error);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED);
  g_assert_null (body);
  g_clear_error (&error);
  body = morango_http_trust_build_sync_session_request (empty, root, "n", "s", "http://x/", "{}", NULL, NULL, &error);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_clear_error (&error);

  g_ptr_array_add (chain, client);
  body = morango_http_trust_build_sync_session_request (chain, root, "n", "s", "", "{}", NULL, NULL, &error);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_clear_error (&error);
  body = morango_http_trust_build_sync_session_request (chain, root, "n", "s", "http://x/", "[1]", NULL, NULL, &error);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_clear_error (&error);
  body = morango_http_trust_build_sync_session_request (chain, root, "n", "s", "http://x/", "{}", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (body, "client_ip"), ==, "");
  g_assert_true (morango_http_trust_verify_sync_session (client, "n", "s",
                                                         json_object_get_string_member (body, "signature")));
  g_assert_false (morango_http_trust_verify_sync_session (client, "n", "t",
                                                          json_object_get_string_member (body, "signature")));

  /* Answers that are not what a server sends. */
  answer = json_from_string ("[\"signature\"]", NULL);
  g_assert_false (morango_http_trust_check_sync_session_response (root, "n", "s", answer, NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_clear_error (&error);
  g_clear_pointer (&answer, json_node_unref);
  answer = json_from_string ("{\"signature\": 5}", NULL);
  g_assert_false (morango_http_trust_check_sync_session_response (root, "n", "s", answer, NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_SIGNATURE_INVALID);
  g_clear_error (&error);
}

/* A signed answer without an instance means "{}"; one whose instance is
 * not text is refused. */
static void
test_client_sync_session_instance (void)
{
  g_autoptr(MorangoCertificate) client = recorded_certificate ("push.json", 29, 1, "client_private_key_pem");
  g_autoptr(GError) error = NULL;
  g_autofree char *signature = morango_http_trust_sign_sync_session (client, "n", "s", &error);
  g_autofree char *instance = NULL;
  g_autoptr(JsonObject) o = json_object_new ();
  g_autoptr(JsonNode) answer = NULL;

  g_assert_no_error (error);
  json_object_set_string_member (o, "signature", signature);
  answer = json_node_init_object (json_node_alloc (), o);
  g_assert_true (morango_http_trust_check_sync_session_response (client, "n", "s", answer, &instance, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (instance, ==, "{}");
  json_object_set_int_member (o, "server_instance", 3);
  g_assert_false (morango_http_trust_check_sync_session_response (client, "n", "s", answer, NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
}

/* The recorded CSR body, rebuilt from its parts. */
static void
test_client_csr_body (void)
{
  JsonObject *req = request_of (exchange ("csr.json", 4));
  JsonObject *recorded = json_node_get_object (body_json (req));
  g_autoptr(MorangoCertificate) root = recorded_certificate ("push.json", 29, 0, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoKey) key = morango_key_new_from_public (json_object_get_string_member (recorded, "public_key"),
                                                           &error);
  g_autoptr(JsonObject) built = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *text = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (morango_certificate_get_id (root), ==, setup_string ("csr.json", "root_cert_id"));
  built = morango_http_trust_build_csr (root, "subset_scope",
                                        json_object_get_string_member (recorded, "scope_params"), key);
  node = json_node_init_object (json_node_alloc (), json_object_ref (built));
  /* json.dumps of our object is the recorded body, byte for byte. */
  text = morango_json_dumps (node);
  g_assert_cmpstr (text, ==, json_object_get_string_member (req, "body"));
}

static void
test_client_basic_header (void)
{
  g_autoptr(GError) error = NULL;
  const char *bad[][2] = { { "", NULL }, { "a:b", NULL }, { "a=b", NULL }, { "a&b", "f" },
                           { "a", "f=g" }, { "a", "f&g" }, { "a", "" }, { "a", "f:g" } };
  char *header;

  /* The headers the recordings show for these credentials. */
  header = morango_http_trust_basic_authorization ("bob", NULL, "password", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (header, ==, "Basic Ym9iOnBhc3N3b3Jk");
  g_free (header);
  header = morango_http_trust_basic_authorization ("bob", "x", "password", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (header, ==, "Basic dXNlcm5hbWU9Ym9iJmZhY2lsaXR5PXg6cGFzc3dvcmQ=");
  g_free (header);
  /* The password is everything after the first colon: it may hold any. */
  header = morango_http_trust_basic_authorization ("a&b", NULL, "p:=&", &error);
  g_assert_no_error (error);
  g_free (header);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      header = morango_http_trust_basic_authorization (bad[i][0], bad[i][1], "pw", &error);
      g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
      g_assert_null (header);
      g_clear_error (&error);
    }
}


/* ------------------------------------------------------------------ */
/* Accounts */

static MorangoDb *
new_db (void)
{
  g_autofree char *dir = morango_test_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "morango.db", NULL);
  g_autoptr(GError) error = NULL;
  MorangoDb *db = morango_db_open (path, &error);

  g_assert_no_error (error);
  return db;
}

static void
test_accounts (void)
{
  g_autoptr(MorangoDb) db = new_db ();
  g_autoptr(MorangoRandom) random = morango_random_new_seeded (morango_test_seed (11));
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) unknown_error = NULL;
  g_autoptr(MorangoAccount) admin = NULL;
  g_autoptr(MorangoAccount) alice = NULL;
  const char *all[] = { MORANGO_ACCOUNT_ALL_SCOPES, NULL };
  const char *subset[] = { "subset_scope", "single-user", NULL };
  const char *root_only[] = { "root_scope", NULL };
  const char *bad_names[] = { "", "a:b", "a=b", "a&b", "tab\there" };
  const char *bad_scopes[] = { "", NULL };
  MorangoAccount *none;

  g_assert_false (morango_account_has_any (db));
  g_assert_true (morango_account_set_password (db, random, MORANGO_ACCOUNT_ADMIN, "open sesame", all, &error));
  g_assert_no_error (error);
  g_assert_true (morango_account_has_any (db));

  admin = morango_account_check (db, "admin", "open sesame", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (morango_account_get_name (admin), ==, "admin");
  g_assert_true (morango_account_may_request (admin, "root_scope"));
  g_assert_true (morango_account_may_request (admin, "anything"));
  g_assert_false (morango_account_may_request (admin, NULL));

  /* A wrong password and an unknown name: one answer. */
  none = morango_account_check (db, "admin", "open sesame!", &error);
  g_assert_null (none);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED);
  none = morango_account_check (db, "nobody", "open sesame", &unknown_error);
  g_assert_null (none);
  g_assert_error (unknown_error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED);
  g_assert_cmpstr (error->message, ==, unknown_error->message);
  g_clear_error (&error);

  /* Limited scopes; a new password keeps them when none are given. */
  g_assert_true (morango_account_set_password (db, random, "alice", "first", subset, &error));
  g_assert_no_error (error);
  g_assert_true (morango_account_set_password (db, random, "alice", "second", NULL, &error));
  g_assert_no_error (error);
  none = morango_account_check (db, "alice", "first", &error);
  g_assert_null (none);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED);
  g_clear_error (&error);
  alice = morango_account_check (db, "alice", "second", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length ((GStrv) morango_account_get_scopes (alice)), ==, 2);
  g_assert_true (morango_account_may_request (alice, "subset_scope"));
  g_assert_true (morango_account_may_request (alice, "single-user"));
  g_assert_false (morango_account_may_request (alice, "root_scope"));
  g_assert_false (morango_account_may_request (alice, "*"));
  g_clear_object (&alice);
  /* Scopes given replace the old ones. */
  g_assert_true (morango_account_set_password (db, random, "alice", "second", root_only, &error));
  g_assert_no_error (error);
  alice = morango_account_check (db, "alice", "second", &error);
  g_assert_no_error (error);
  g_assert_true (morango_account_may_request (alice, "root_scope"));
  g_assert_false (morango_account_may_request (alice, "subset_scope"));

  for (guint i = 0; i < G_N_ELEMENTS (bad_names); i++)
    {
      g_assert_false (morango_account_set_password (db, random, bad_names[i], "pw", all, &error));
      g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
      g_clear_error (&error);
    }
  g_assert_false (morango_account_set_password (db, random, "bob", "pw", bad_scopes, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (morango_account_set_password (db, random, "bob", "", all, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_clear_error (&error);
  none = morango_account_check (db, "bob", "pw", &error);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED);
  g_clear_error (&error);

  /* A stored hash weaker than the minimum (Django 3.2's, which would
   * verify at its own count) is not accepted. */
  g_assert_true (morango_db_execute (db, &error, "UPDATE morango_account SET password = ? WHERE name = 'alice'", "s",
                                     "pbkdf2_sha256$260000$vectorsalt0000000000ab$ZCx2GLUSOzHfgNHb7Idn0y7qqRV6VklBBXnaHsKCDDg="));
  none = morango_account_check (db, "alice", "password", &error);
  g_assert_null (none);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_data_func ("/http-trust/client/sync-session-body/push", "push.json", test_client_sync_session_body);
  g_test_add_data_func ("/http-trust/client/sync-session-body/pull", "pull.json", test_client_sync_session_body);
  g_test_add_func ("/http-trust/client/sync-session-refusals", test_client_sync_session_refusals);
  g_test_add_func ("/http-trust/client/sync-session-instance", test_client_sync_session_instance);
  g_test_add_func ("/http-trust/client/csr-body", test_client_csr_body);
  g_test_add_func ("/http-trust/client/basic-header", test_client_basic_header);

  g_test_add_func ("/http-trust/account/basics", test_accounts);

  return g_test_run ();
}
