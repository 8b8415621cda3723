/* morango-http-trust.c: trust on the wire — the handshake, certificate requests
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include "morango-certificate-request.h"
#include "morango-http-trust.h"
#include "morango-json.h"

/* ------------------------------------------------------------------ */
/* Client side */

static char *
handshake_text (const char *nonce,
                const char *sync_session_id)
{
  return g_strconcat (nonce, ":", sync_session_id, NULL);
}

char *
morango_http_trust_sign_sync_session (MorangoCertificate  *cert,
                                      const char          *nonce,
                                      const char          *sync_session_id,
                                      GError             **error)
{
  g_autofree char *text = NULL;

  g_return_val_if_fail (MORANGO_IS_CERTIFICATE (cert), NULL);
  g_return_val_if_fail (nonce != NULL, NULL);
  g_return_val_if_fail (sync_session_id != NULL, NULL);

  text = handshake_text (nonce, sync_session_id);
  return morango_certificate_sign (cert, text, error);
}

gboolean
morango_http_trust_verify_sync_session (MorangoCertificate *cert,
                                        const char         *nonce,
                                        const char         *sync_session_id,
                                        const char         *signature)
{
  g_autofree char *text = NULL;

  g_return_val_if_fail (MORANGO_IS_CERTIFICATE (cert), FALSE);
  g_return_val_if_fail (nonce != NULL, FALSE);
  g_return_val_if_fail (sync_session_id != NULL, FALSE);

  if (signature == NULL)
    return FALSE;
  text = handshake_text (nonce, sync_session_id);
  return morango_certificate_verify (cert, text, signature);
}

JsonObject *
morango_http_trust_build_sync_session_request (GPtrArray          *client_chain,
                                               MorangoCertificate *server_cert,
                                               const char         *nonce,
                                               const char         *sync_session_id,
                                               const char         *connection_path,
                                               const char         *instance_json,
                                               const char         *client_ip,
                                               const char         *server_ip,
                                               GError            **error)
{
  g_autoptr(JsonArray) links = NULL;
  g_autoptr(JsonNode) chain_node = NULL;
  g_autoptr(JsonObject) instance = NULL;
  g_autoptr(JsonObject) body = NULL;
  g_autofree char *chain_text = NULL;
  g_autofree char *signature = NULL;
  MorangoCertificate *client_cert;

  g_return_val_if_fail (client_chain != NULL, NULL);
  g_return_val_if_fail (MORANGO_IS_CERTIFICATE (server_cert), NULL);
  g_return_val_if_fail (nonce != NULL, NULL);
  g_return_val_if_fail (sync_session_id != NULL, NULL);
  g_return_val_if_fail (connection_path != NULL, NULL);
  g_return_val_if_fail (instance_json != NULL, NULL);

  if (client_chain->len == 0)
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                           "A sync session needs the client certificate's chain");
      return NULL;
    }
  client_cert = g_ptr_array_index (client_chain, client_chain->len - 1);
  if (!morango_certificate_has_private_key (client_cert))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED,
                   "This device does not hold the private key of certificate %s, so it "
                   "cannot open a sync session with it", morango_certificate_get_id (client_cert));
      return NULL;
    }
  /* A Python server stores the instance text and reads its id: an empty
   * path or an instance that is not an object would fail there with a
   * 500, long after our nonce is spent. */
  if (*connection_path == '\0')
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                           "A sync session needs the address the server was reached at");
      return NULL;
    }
  instance = morango_json_parse_object (instance_json, "The instance description", error);
  if (instance == NULL)
    return NULL;

  links = json_array_new ();
  for (guint i = 0; i < client_chain->len; i++)
    json_array_add_object_element (links, morango_certificate_to_json (g_ptr_array_index (client_chain, i)));
  chain_node = json_node_init_array (json_node_alloc (), links);
  chain_text = morango_json_dumps (chain_node);

  signature = morango_http_trust_sign_sync_session (client_cert, nonce, sync_session_id, error);
  if (signature == NULL)
    return NULL;

  body = json_object_new ();
  json_object_set_string_member (body, "id", sync_session_id);
  json_object_set_string_member (body, "server_certificate_id", morango_certificate_get_id (server_cert));
  json_object_set_string_member (body, "client_certificate_id", morango_certificate_get_id (client_cert));
  json_object_set_string_member (body, "profile", morango_certificate_get_profile (client_cert));
  json_object_set_string_member (body, "certificate_chain", chain_text);
  json_object_set_string_member (body, "connection_path", connection_path);
  json_object_set_string_member (body, "instance", instance_json);
  json_object_set_string_member (body, "nonce", nonce);
  json_object_set_string_member (body, "client_ip", client_ip ? client_ip : "");
  json_object_set_string_member (body, "server_ip", server_ip ? server_ip : "");
  json_object_set_string_member (body, "signature", signature);
  return g_steal_pointer (&body);
}

gboolean
morango_http_trust_check_sync_session_response (MorangoCertificate  *server_cert,
                                                const char          *nonce,
                                                const char          *sync_session_id,
                                                JsonNode            *response,
                                                char               **server_instance_json,
                                                GError             **error)
{
  JsonObject *object;
  JsonNode *member;
  const char *signature = NULL;
  const char *instance = "{}";

  g_return_val_if_fail (MORANGO_IS_CERTIFICATE (server_cert), FALSE);
  g_return_val_if_fail (nonce != NULL, FALSE);
  g_return_val_if_fail (sync_session_id != NULL, FALSE);

  if (response == NULL || !JSON_NODE_HOLDS_OBJECT (response))
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                           "The server's answer to the sync session request is not a JSON object");
      return FALSE;
    }
  object = json_node_get_object (response);
  member = json_object_get_member (object, "signature");
  if (member != NULL && JSON_NODE_HOLDS_VALUE (member) && json_node_get_value_type (member) == G_TYPE_STRING)
    signature = json_node_get_string (member);
  if (!morango_http_trust_verify_sync_session (server_cert, nonce, sync_session_id, signature))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_SIGNATURE_INVALID,
                   "The server did not prove it holds the key of certificate %s: its "
                   "signature of the sync session does not verify",
                   morango_certificate_get_id (server_cert));
      return FALSE;
    }
  member = json_object_get_member (object, "server_instance");
  if (member != NULL && !JSON_NODE_HOLDS_NULL (member))
    {
      if (!JSON_NODE_HOLDS_VALUE (member) || json_node_get_value_type (member) != G_TYPE_STRING)
        {
          g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                               "The server's instance description is not a JSON string");
          return FALSE;
        }
      if (*json_node_get_string (member) != '\0')
        instance = json_node_get_string (member);
    }
  if (server_instance_json)
    *server_instance_json = g_strdup (instance);
  return TRUE;
}

JsonObject *
morango_http_trust_build_csr (MorangoCertificate *parent,
                              const char         *scope_definition_id,
                              const char         *scope_params,
                              MorangoKey         *key)
{
  g_autoptr(MorangoCertificateRequest) req = NULL;

  g_return_val_if_fail (MORANGO_IS_CERTIFICATE (parent), NULL);
  g_return_val_if_fail (scope_definition_id != NULL, NULL);
  g_return_val_if_fail (scope_params != NULL, NULL);
  g_return_val_if_fail (MORANGO_IS_KEY (key), NULL);

  req = morango_certificate_request_new (parent, scope_definition_id, scope_params, key);
  return morango_certificate_request_to_json (req);
}

static gboolean
check_credential_part (const char  *what,
                       const char  *value,
                       const char  *forbidden,
                       GError     **error)
{
  if (*value == '\0')
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID, "The %s is empty", what);
      return FALSE;
    }
  if (strpbrk (value, forbidden) != NULL)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   "The %s “%s” cannot be sent: a server would split it at one of “%s”",
                   what, value, forbidden);
      return FALSE;
    }
  return TRUE;
}

char *
morango_http_trust_basic_authorization (const char  *username,
                                        const char  *facility,
                                        const char  *password,
                                        GError     **error)
{
  g_autofree char *userargs = NULL;
  g_autofree char *plain = NULL;
  g_autofree char *encoded = NULL;

  g_return_val_if_fail (username != NULL, NULL);
  g_return_val_if_fail (password != NULL, NULL);

  /* The server splits the decoded text at its first ':' and, when the
   * user part holds an '=', reads it as key=value pairs joined by '&'
   * (§8.3.2), with no escaping. */
  if (facility == NULL)
    {
      if (!check_credential_part ("user name", username, ":=", error))
        return NULL;
      userargs = g_strdup (username);
    }
  else
    {
      if (!check_credential_part ("user name", username, ":=&", error) ||
          !check_credential_part ("facility", facility, ":=&", error))
        return NULL;
      userargs = g_strdup_printf ("username=%s&facility=%s", username, facility);
    }
  plain = g_strconcat (userargs, ":", password, NULL);
  encoded = g_base64_encode ((const guchar *) plain, strlen (plain));
  return g_strconcat ("Basic ", encoded, NULL);
}
