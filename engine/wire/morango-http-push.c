/* morango-http-push.c: issuing a certificate to a peer that holds no root (protocol §7.8 b)
 *
 * The exchanges of the recorded Python client (cert-push.json): the
 * server's shared key, a nonce, then the chain with the new certificate
 * at its end.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "morango-http-peer-private.h"
#include "morango-http-push.h"
#include "morango-http-trust.h"
#include "morango-i18n-private.h"

/* The first shared key a publickey/ answer lists. */
static MorangoKey *
first_shared_key (JsonNode    *answer,
                  const char  *base_url,
                  GError     **error)
{
  JsonNode *first, *member;
  MorangoKey *key;

  if (!JSON_NODE_HOLDS_ARRAY (answer) || json_array_get_length (json_node_get_array (answer)) == 0 ||
      !JSON_NODE_HOLDS_OBJECT (first = json_array_get_element (json_node_get_array (answer), 0)) ||
      (member = json_object_get_member (json_node_get_object (first), "public_key")) == NULL ||
      !JSON_NODE_HOLDS_VALUE (member) || json_node_get_value_type (member) != G_TYPE_STRING)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   /* Translators: the first %s is the peer's address */
                   _("%s did not list a shared public key to push a certificate for"), base_url);
      return NULL;
    }
  key = morango_key_new_from_public (json_node_get_string (member), error);
  if (key == NULL)
    g_prefix_error (error, _("The shared public key of %s: "), base_url);
  return key;
}

/* The id of a POST nonces/ answer: it becomes a salt, so only plain
 * hex is taken. */
static char *
nonce_of (JsonNode    *answer,
          const char  *base_url,
          GError     **error)
{
  JsonNode *member = JSON_NODE_HOLDS_OBJECT (answer)
                       ? json_object_get_member (json_node_get_object (answer), "id") : NULL;
  const char *id;

  if (member == NULL || !JSON_NODE_HOLDS_VALUE (member) || json_node_get_value_type (member) != G_TYPE_STRING)
    goto bad;
  id = json_node_get_string (member);
  if (*id == '\0' || strlen (id) > 64 || strspn (id, "0123456789abcdef") != strlen (id))
    goto bad;
  return g_strdup (id);

bad:
  /* Translators: the first %s is the peer's address */
  g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID, _("%s sent no usable nonce"), base_url);
  return NULL;
}

MorangoCertificate *
morango_http_push (MorangoHttpPeer     *peer,
                   MorangoCertificate  *parent,
                   const char          *scope_definition_id,
                   const char          *scope_params,
                   GCancellable        *cancellable,
                   GError             **error)
{
  const char *base_url;
  MorangoDb *db;
  g_autoptr(JsonNode) keys = NULL;
  g_autoptr(JsonNode) nonce_answer = NULL;
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(MorangoKey) shared = NULL;
  g_autoptr(MorangoCertificate) pushed = NULL;
  g_autoptr(GPtrArray) chain = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autofree char *nonce = NULL;
  char *text;
  MorangoHttpRequest post = { .method = "POST", .path = "certificatechain/",
                              .content_type = "application/json", .once = TRUE };

  g_return_val_if_fail (MORANGO_IS_HTTP_PEER (peer), NULL);
  g_return_val_if_fail (MORANGO_IS_CERTIFICATE (parent), NULL);
  g_return_val_if_fail (scope_definition_id != NULL && scope_params != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  base_url = morango_http_peer_get_base_url (peer);
  db = morango_store_get_db (morango_http_peer_get_store (peer));

  if (!morango_certificate_has_private_key (parent))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED,
                   _("Certificate %s cannot issue a certificate: its private key is not on this device"),
                   morango_certificate_get_id (parent));
      return NULL;
    }
  if (!morango_http_peer_connect (peer, cancellable, error))
    return NULL;
  if (!(morango_http_peer_get_server_capabilities (peer) & MORANGO_WIRE_CAP_ALLOW_CERTIFICATE_PUSHING))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED,
                   /* Translators: the first %s is the peer's address */
                   _("%s does not allow certificate pushing"), base_url);
      return NULL;
    }

  keys = morango_http_peer_call_json (peer, "GET", "publickey/", NULL, NULL, cancellable, error);
  if (keys == NULL || (shared = first_shared_key (keys, base_url, error)) == NULL)
    return NULL;
  nonce_answer = morango_http_peer_call_json (peer, "POST", "nonces/", NULL, NULL, cancellable, error);
  if (nonce_answer == NULL || (nonce = nonce_of (nonce_answer, base_url, error)) == NULL)
    return NULL;

  /* Checked here by §7.6 as the server will check it: a certificate the
   * server would refuse spends its nonce for nothing. */
  pushed = morango_certificate_issue (db, parent, scope_definition_id,
                                      morango_certificate_get_scope_version (parent),
                                      scope_params, shared, nonce, error);
  if (pushed == NULL)
    return NULL;
  if ((chain = morango_certificate_get_chain (db, morango_certificate_get_id (parent), error)) == NULL)
    return NULL;
  g_ptr_array_add (chain, g_object_ref (pushed));
  text = morango_http_trust_build_certificate_chain_body (chain);
  body = g_bytes_new_take (text, strlen (text));
  post.body = body;
  reply = morango_http_peer_call (peer, &post, NULL, cancellable, error);
  if (reply == NULL)
    return NULL;

  /* The server holds its private key; this device keeps the certificate
   * to name it as the server's in sync sessions. */
  if (!morango_certificate_save (pushed, db, error))
    return NULL;
  return g_steal_pointer (&pushed);
}
