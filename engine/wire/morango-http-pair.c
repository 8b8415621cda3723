/* morango-http-pair.c: getting a certificate from a peer (protocol §7.8 a)
 *
 * The exchanges of the recorded Python client (csr.json): the server's
 * certificates for a dataset, the chosen parent's chain, then the
 * signing request with Basic credentials.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "morango-chain.h"
#include "morango-http-pair.h"
#include "morango-http-peer-private.h"
#include "morango-trust.h"
#include "morango-i18n-private.h"

static char *
query_of (const char *key,
          const char *value)
{
  g_autofree char *escaped = g_uri_escape_string (value, NULL, FALSE);

  return g_strdup_printf ("%s=%s", key, escaped);
}

/* The certificate @id among the API objects of @listing (NULL: the
 * first), parsed. */
static MorangoCertificate *
find_listed (JsonNode    *listing,
             const char  *id,
             const char  *base_url,
             GError     **error)
{
  JsonArray *array;

  if (!JSON_NODE_HOLDS_ARRAY (listing))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   /* Translators: the first %s is the peer's address */
                   _("%s did not list its certificates as an array"), base_url);
      return NULL;
    }
  array = json_node_get_array (listing);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *item = json_array_get_element (array, i);
      g_autoptr(MorangoCertificate) cert = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (item))
        continue;
      cert = morango_certificate_new_from_json (json_node_get_object (item), error);
      if (cert == NULL)
        {
          g_prefix_error (error, _("A certificate %s listed: "), base_url);
          return NULL;
        }
      if (id == NULL || g_strcmp0 (morango_certificate_get_id (cert), id) == 0)
        return g_steal_pointer (&cert);
    }
  if (id != NULL)
    g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND,
                 /* Translators: the first %s is the peer's address */
                 _("%s holds no certificate %s it can sign with"), base_url, id);
  else
    g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND,
                 /* Translators: the first %s is the peer's address */
                 _("%s holds no certificate for that dataset it can sign with"), base_url);
  return NULL;
}

/* The root of the chain @ancestors (root first), checked on its own,
 * shown to the user when it is not trusted yet. */
static gboolean
confirm_chain_root (MorangoDb                   *db,
                    JsonNode                    *ancestors,
                    const char                  *base_url,
                    MorangoHttpPairConfirmFunc   confirm_root,
                    gpointer                     confirm_data,
                    char                       **root_id,
                    GError                     **error)
{
  JsonNode *first = json_array_get_element (json_node_get_array (ancestors), 0);
  g_autoptr(MorangoCertificate) root = NULL;

  if (!JSON_NODE_HOLDS_OBJECT (first) ||
      (root = morango_certificate_new_from_json (json_node_get_object (first), error)) == NULL)
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_CHAIN_INVALID,
                     /* Translators: the first %s is the peer's address */
                     _("%s sent a chain whose first element is not a certificate"), base_url);
      else
        g_prefix_error (error, _("The root certificate %s sent: "), base_url);
      return FALSE;
    }
  if (!morango_certificate_is_root (root))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_CHAIN_INVALID,
                   /* Translators: the first %s is the peer's address */
                   _("%s sent a chain that does not begin with a root certificate"), base_url);
      return FALSE;
    }
  /* What the user is shown must be what it claims to be. */
  if (!morango_certificate_check_with_parent (root, NULL, db, error))
    {
      g_prefix_error (error, _("The root certificate %s sent: "), base_url);
      return FALSE;
    }
  *root_id = g_strdup (morango_certificate_get_id (root));
  if (confirm_root == NULL || morango_trust_is_trusted (db, *root_id))
    return TRUE;
  if (!confirm_root (root, confirm_data))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_CONFIRMED,
                   _("Trusting the root certificate %s of %s was not confirmed; nothing was "
                   "asked of it or stored"), *root_id, base_url);
      return FALSE;
    }
  return TRUE;
}

MorangoCertificate *
morango_http_pair (MorangoHttpPeer  *peer,
                   const char       *primary_partition,
                   const char       *parent_id,
                   const char       *scope_definition_id,
                   const char       *scope_params,
                   const char       *username,
                   const char       *password,
                   GCancellable     *cancellable,
                   GError          **error)
{
  return morango_http_pair_full (peer, primary_partition, parent_id, scope_definition_id, scope_params,
                                 username, password, NULL, NULL, cancellable, error);
}

MorangoCertificate *
morango_http_pair_full (MorangoHttpPeer             *peer,
                        const char                  *primary_partition,
                        const char                  *parent_id,
                        const char                  *scope_definition_id,
                        const char                  *scope_params,
                        const char                  *username,
                        const char                  *password,
                        MorangoHttpPairConfirmFunc   confirm_root,
                        gpointer                     confirm_data,
                        GCancellable                *cancellable,
                        GError                     **error)
{
  const char *base_url;
  MorangoStore *store = NULL;
  MorangoDb *db;
  g_autofree char *query = NULL;
  g_autoptr(JsonNode) listing = NULL;
  g_autoptr(JsonNode) ancestors = NULL;
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(MorangoCertificate) parent = NULL;
  g_autoptr(MorangoCertificate) issued = NULL;
  g_autoptr(MorangoCertificate) stored = NULL;
  g_autoptr(MorangoKey) key = NULL;
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonNode) body_node = NULL;
  g_autoptr(JsonNode) chain = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(MorangoTransaction) tx = NULL;
  g_autofree char *credentials = NULL;
  g_autofree char *encoded = NULL;
  g_autofree char *authorization = NULL;
  g_autofree char *text = NULL;
  g_autofree char *root_id = NULL;
  g_autoptr(GPtrArray) stored_chain = NULL;
  MorangoHttpRequest post = { .method = "POST", .path = "certificates/",
                              .content_type = "application/json", .once = TRUE };

  g_return_val_if_fail (MORANGO_IS_HTTP_PEER (peer), NULL);
  g_return_val_if_fail (primary_partition != NULL && scope_definition_id != NULL, NULL);
  g_return_val_if_fail (scope_params != NULL && username != NULL && password != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  base_url = morango_http_peer_get_base_url (peer);
  store = morango_http_peer_get_store (peer);
  db = morango_store_get_db (store);

  /* Basic credentials are user:password; a colon in the user would move
   * the split (§8.3.2). */
  if (strchr (username, ':') != NULL)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("A user name for pairing cannot hold “:”"));
      return NULL;
    }
  if (!morango_http_peer_connect (peer, cancellable, error))
    return NULL;

  query = query_of ("primary_partition", primary_partition);
  listing = morango_http_peer_call_json (peer, "GET", "certificates/", query, NULL, cancellable, error);
  if (listing == NULL || (parent = find_listed (listing, parent_id, base_url, error)) == NULL)
    return NULL;

  g_clear_pointer (&query, g_free);
  query = query_of ("ancestors_of", morango_certificate_get_id (parent));
  ancestors = morango_http_peer_call_json (peer, "GET", "certificates/", query, NULL, cancellable, error);
  if (ancestors == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_ARRAY (ancestors) || json_array_get_length (json_node_get_array (ancestors)) == 0)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   /* Translators: the first %s is the peer's address */
                   _("%s sent no chain for certificate %s"), base_url, morango_certificate_get_id (parent));
      return NULL;
    }
  if (!confirm_chain_root (db, ancestors, base_url, confirm_root, confirm_data, &root_id, error))
    return NULL;

  if ((key = morango_key_generate (error)) == NULL)
    return NULL;
  builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "parent");
  json_builder_add_string_value (builder, morango_certificate_get_id (parent));
  json_builder_set_member_name (builder, "profile");
  json_builder_add_string_value (builder, morango_certificate_get_profile (parent));
  json_builder_set_member_name (builder, "scope_definition");
  json_builder_add_string_value (builder, scope_definition_id);
  json_builder_set_member_name (builder, "scope_version");
  json_builder_add_int_value (builder, morango_certificate_get_scope_version (parent));
  json_builder_set_member_name (builder, "scope_params");
  json_builder_add_string_value (builder, scope_params);
  json_builder_set_member_name (builder, "public_key");
  json_builder_add_string_value (builder, morango_key_get_public_string (key));
  json_builder_end_object (builder);
  body_node = json_builder_get_root (builder);
  text = morango_wire_json_to_string (body_node, MORANGO_WIRE_JSON_PYTHON);
  body = g_bytes_new (text, strlen (text));
  post.body = body;

  credentials = g_strdup_printf ("%s:%s", username, password);
  encoded = g_base64_encode ((const guchar *) credentials, strlen (credentials));
  authorization = g_strdup_printf ("Basic %s", encoded);
  post.authorization = authorization;
  /* A server that limits signing requests per address (ours: a few at
   * a time) answers 429 to a classroom of tablets behind one address
   * pairing at once: wait a little and ask again, a bounded number of
   * times.  After wrong passwords the wait it asks for is long, and
   * the refusal stands. */
  for (guint delay = 250, tries = 0; ; delay = MIN (delay * 2, 4000), tries++)
    {
      g_autoptr(GError) local_error = NULL;
      guint status = 0;

      reply = morango_http_peer_call (peer, &post, &status, cancellable, &local_error);
      if (reply != NULL)
        break;
      if (status != 429 || tries >= 8)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      if (!morango_http_peer_wait_ms (delay, cancellable, error))
        return NULL;
    }
  if (!JSON_NODE_HOLDS_OBJECT (reply) ||
      (issued = morango_certificate_new_from_json (json_node_get_object (reply), error)) == NULL)
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                     /* Translators: the first %s is the peer's address */
                     _("%s did not answer the signing request with a certificate"), base_url);
      else
        g_prefix_error (error, _("The certificate %s signed: "), base_url);
      return NULL;
    }

  /* What was signed must be what was asked for. */
  if (g_strcmp0 (morango_certificate_get_parent_id (issued), morango_certificate_get_id (parent)) != 0 ||
      g_strcmp0 (morango_certificate_get_public_key_string (issued), morango_key_get_public_string (key)) != 0 ||
      g_strcmp0 (morango_certificate_get_scope_definition_id (issued), scope_definition_id) != 0 ||
      g_strcmp0 (morango_certificate_get_profile (issued), morango_certificate_get_profile (parent)) != 0)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   /* Translators: the first %s is the peer's address */
                   _("%s signed a certificate other than the one asked for"), base_url);
      return NULL;
    }
  {
    g_autoptr(JsonParser) parser = json_parser_new ();
    g_autoptr(JsonParser) expected = json_parser_new ();

    if (!json_parser_load_from_data (parser, scope_params, -1, NULL) ||
        !json_parser_load_from_data (expected, morango_certificate_get_scope_params (issued), -1, NULL) ||
        !json_node_equal (json_parser_get_root (parser), json_parser_get_root (expected)))
      {
        g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                     /* Translators: the first %s is the peer's address */
                     _("%s signed a certificate for other scope parameters than those asked for"), base_url);
        return NULL;
      }
  }

  /* The chain with the new certificate at its end, checked and stored
   * whole, its root trusted, and the private key with it, or nothing. */
  chain = json_node_copy (ancestors);
  json_array_add_object_element (json_node_get_array (chain), morango_certificate_to_json (issued));
  if ((tx = morango_transaction_begin (db, NULL, error)) == NULL)
    return NULL;
  stored = morango_certificate_chain_import (db, chain, morango_certificate_get_id (issued),
                                             MORANGO_CHAIN_IMPORT_TRUST_ROOT, NULL, error);
  if (stored == NULL)
    {
      g_prefix_error (error, _("The certificate %s signed: "), base_url);
      return NULL;
    }
  /* The import trusts the root of the chain as stored, which is the one
   * confirmed unless the server slipped a root in front of a chain that
   * leads elsewhere. */
  if ((stored_chain = morango_certificate_get_chain (db, morango_certificate_get_id (stored), error)) == NULL)
    return NULL;
  if (stored_chain->len == 0 ||
      !g_str_equal (morango_certificate_get_id (g_ptr_array_index (stored_chain, 0)), root_id))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_CHAIN_INVALID,
                   /* Translators: the first %s is the peer's address */
                   _("%s sent a chain whose root is not the certificate %s it showed"), base_url, root_id);
      return NULL;
    }
  if (!morango_certificate_set_private_key (stored, key, error) ||
      !morango_certificate_save (stored, db, error) ||
      !morango_transaction_commit (tx, error))
    return NULL;
  return g_steal_pointer (&stored);
}
