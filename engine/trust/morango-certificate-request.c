/* morango-certificate-request.c: certificate signing requests (protocol §7.8 (a), §8.3.2)
 *
 * SPDX-License-Identifier: MIT
 */

#include "morango-certificate-private.h"
#include "morango-certificate-request.h"
#include "morango-json.h"
#include "morango-i18n-private.h"

/* ------------------------------------------------------------------ */
/* Signing requests (§7.8 (a), §8.3.2) */

MorangoCertificateRequest *
morango_certificate_request_new (MorangoCertificate *parent,
                                 const char         *scope_definition_id,
                                 const char         *scope_params,
                                 MorangoKey         *key)
{
  MorangoCertificateRequest *req;

  g_return_val_if_fail (MORANGO_IS_CERTIFICATE (parent), NULL);
  g_return_val_if_fail (scope_definition_id != NULL, NULL);
  g_return_val_if_fail (scope_params != NULL, NULL);
  g_return_val_if_fail (MORANGO_IS_KEY (key), NULL);

  req = g_new0 (MorangoCertificateRequest, 1);
  req->parent_id = g_strdup (parent->id);
  req->profile = g_strdup (parent->profile);
  req->scope_definition_id = g_strdup (scope_definition_id);
  req->scope_version = parent->scope_version;
  req->scope_params = g_strdup (scope_params);
  req->public_key = g_strdup (morango_key_get_public_string (key));
  return req;
}

void
morango_certificate_request_free (MorangoCertificateRequest *req)
{
  if (req == NULL)
    return;
  g_free (req->parent_id);
  g_free (req->profile);
  g_free (req->scope_definition_id);
  g_free (req->scope_params);
  g_free (req->public_key);
  g_free (req);
}

MorangoCertificateRequest *
morango_certificate_request_new_from_json (JsonObject  *body,
                                           GError     **error)
{
  static const char *fields[] = { "parent", "profile", "scope_definition", "scope_params", "public_key" };
  g_autoptr(MorangoCertificateRequest) req = NULL;
  JsonNode *version;

  g_return_val_if_fail (body != NULL, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    if (object_string (body, fields[i]) == NULL)
      {
        invalid (error, _("The certificate request needs “%s” as a string"), fields[i]);
        return NULL;
      }
  version = json_object_get_member (body, "scope_version");
  if (version == NULL || !JSON_NODE_HOLDS_VALUE (version) ||
      json_node_get_value_type (version) != G_TYPE_INT64)
    {
      invalid (error, _("The certificate request needs “scope_version” as an integer"));
      return NULL;
    }
  req = g_new0 (MorangoCertificateRequest, 1);
  req->parent_id = g_strdup (object_string (body, "parent"));
  req->profile = g_strdup (object_string (body, "profile"));
  req->scope_definition_id = g_strdup (object_string (body, "scope_definition"));
  req->scope_version = json_node_get_int (version);
  req->scope_params = g_strdup (object_string (body, "scope_params"));
  req->public_key = g_strdup (object_string (body, "public_key"));
  return g_steal_pointer (&req);
}

JsonObject *
morango_certificate_request_to_json (const MorangoCertificateRequest *req)
{
  JsonObject *o;

  g_return_val_if_fail (req != NULL, NULL);

  o = json_object_new ();
  json_object_set_string_member (o, "parent", req->parent_id);
  json_object_set_string_member (o, "profile", req->profile);
  json_object_set_string_member (o, "scope_definition", req->scope_definition_id);
  json_object_set_int_member (o, "scope_version", req->scope_version);
  json_object_set_string_member (o, "scope_params", req->scope_params);
  json_object_set_string_member (o, "public_key", req->public_key);
  return o;
}

MorangoCertificate *
morango_certificate_request_issue (MorangoDb                       *db,
                                   const MorangoCertificateRequest *req,
                                   MorangoRandom                   *random,
                                   GError                         **error)
{
  g_autoptr(MorangoCertificate) parent = NULL;
  g_autoptr(MorangoScopeDefinition) def = NULL;
  g_autoptr(JsonObject) params = NULL;
  g_autoptr(MorangoKey) key = NULL;
  g_autoptr(MorangoCertificate) issued = NULL;
  g_autofree char *salt = NULL;

  g_return_val_if_fail (MORANGO_IS_DB (db), NULL);
  g_return_val_if_fail (req != NULL, NULL);
  g_return_val_if_fail (random != NULL, NULL);

  /* The order of Morango's server: params, then the referenced rows,
   * then the parent's key, then building and checking. */
  params = morango_json_parse_object (req->scope_params, "scope_params", error);
  if (params == NULL)
    return NULL;
  if (json_object_get_size (params) == 0)
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED,
                           _("The requested scope has no parameters"));
      return NULL;
    }
  parent = morango_certificate_load (db, req->parent_id, error);
  if (parent == NULL)
    return NULL;
  def = morango_scope_definition_load (db, req->scope_definition_id, error);
  if (def == NULL)
    return NULL;
  if (!morango_key_has_private (parent->key))
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED,
                           _("Server does not have private key for requested parent certificate!"));
      return NULL;
    }
  key = morango_key_new_from_public (req->public_key, error);
  if (key == NULL)
    return NULL;
  salt = morango_random_uuid4_hex (random);
  issued = build_child (db, parent, req->profile, req->scope_definition_id, req->scope_version,
                        req->scope_params, key, salt, error);
  if (issued == NULL)
    return NULL;
  if (!morango_certificate_save (issued, db, error))
    return NULL;
  return g_steal_pointer (&issued);
}

MorangoCertificate *
morango_certificate_request_accept (MorangoDb                       *db,
                                    const MorangoCertificateRequest *req,
                                    JsonObject                      *response,
                                    MorangoKey                      *key,
                                    GError                         **error)
{
  g_autoptr(MorangoCertificate) cert = NULL;

  g_return_val_if_fail (MORANGO_IS_DB (db), NULL);
  g_return_val_if_fail (req != NULL, NULL);
  g_return_val_if_fail (response != NULL, NULL);
  g_return_val_if_fail (MORANGO_IS_KEY (key), NULL);

  cert = morango_certificate_new_from_json (response, error);
  if (cert == NULL)
    return NULL;
  /* The server must have certified what was asked for, not something
   * else signed by the same parent. */
  if (g_strcmp0 (cert->parent_id, req->parent_id) != 0 ||
      !g_str_equal (cert->scope_definition_id, req->scope_definition_id) ||
      !g_str_equal (cert->scope_params, req->scope_params) ||
      !g_str_equal (cert->profile, req->profile))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_CHAIN_INVALID,
                   _("The issued certificate %s is not the one requested"), cert->id);
      return NULL;
    }
  if (!morango_certificate_set_private_key (cert, key, error))
    return NULL;
  if (!morango_certificate_check (cert, db, error) ||
      !morango_certificate_save (cert, db, error))
    return NULL;
  return g_steal_pointer (&cert);
}
