/* morango-http-trust-stub.c: a stand-in for the sync session checks
 *
 * Imports the client's chain and loads the two certificates a POST
 * syncsessions/ names, and checks nothing else: no signature, no nonce.
 * The real checks (morango-http-trust.c) replace this file.
 *
 * SPDX-License-Identifier: MIT
 */
#include "morango-chain.h"
#include "morango-http-trust.h"

static gboolean
refuse (guint        code,
        const char  *text,
        guint       *status,
        JsonNode   **body)
{
  *status = code;
  *body = json_node_new (JSON_NODE_VALUE);
  json_node_set_string (*body, text);
  return FALSE;
}

gboolean
morango_http_trust_check_sync_session (MorangoStore        *store,
                                       JsonObject          *request,
                                       gint64               now_unix,
                                       MorangoCertificate **client_cert,
                                       MorangoCertificate **server_cert,
                                       guint               *status,
                                       JsonNode           **body)
{
  MorangoDb *db = morango_store_get_db (store);
  JsonNode *chain = json_object_get_member (request, "certificate_chain");
  const char *client_id = json_object_get_string_member_with_default (request, "client_certificate_id", NULL);
  const char *server_id = json_object_get_string_member_with_default (request, "server_certificate_id", NULL);
  g_autoptr(MorangoCertificate) client = NULL;
  g_autoptr(MorangoCertificate) server = NULL;

  (void) now_unix;
  if (chain == NULL || client_id == NULL || server_id == NULL)
    return refuse (400, "Requested certificate does not exist!", status, body);
  if (JSON_NODE_HOLDS_VALUE (chain) && json_node_get_value_type (chain) == G_TYPE_STRING)
    client = morango_certificate_chain_import_text (db, json_node_get_string (chain), client_id,
                                                    MORANGO_CHAIN_IMPORT_DEFAULT, NULL, NULL);
  else
    client = morango_certificate_chain_import (db, chain, client_id, MORANGO_CHAIN_IMPORT_DEFAULT,
                                               NULL, NULL);
  if (client == NULL)
    return refuse (403, "Saving certificate chain has failed", status, body);
  server = morango_certificate_load (db, server_id, NULL);
  if (server == NULL || !morango_certificate_has_private_key (server))
    return refuse (400, "Requested certificate does not exist!", status, body);
  if (g_strcmp0 (morango_certificate_get_profile (client), morango_certificate_get_profile (server)) != 0)
    return refuse (400, "Certificates must both be associated with the same profile", status, body);
  *client_cert = g_steal_pointer (&client);
  *server_cert = g_steal_pointer (&server);
  return TRUE;
}
