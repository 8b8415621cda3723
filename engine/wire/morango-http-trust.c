/* morango-http-trust.c: trust on the wire — the handshake, certificate requests
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include "morango-account.h"
#include "morango-certificate-request.h"
#include "morango-chain.h"
#include "morango-http-trust.h"
#include "morango-json.h"
#include "morango-nonce.h"
#include "morango-shared-key.h"
#include "morango-i18n-private.h"

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
                           _("A sync session needs the client certificate's chain"));
      return NULL;
    }
  client_cert = g_ptr_array_index (client_chain, client_chain->len - 1);
  if (!morango_certificate_has_private_key (client_cert))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED,
                   _("This device does not hold the private key of certificate %s, so it "
                   "cannot open a sync session with it"), morango_certificate_get_id (client_cert));
      return NULL;
    }
  /* A Python server stores the instance text and reads its id: an empty
   * path or an instance that is not an object would fail there with a
   * 500, long after our nonce is spent. */
  if (*connection_path == '\0')
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                           _("A sync session needs the address the server was reached at"));
      return NULL;
    }
  instance = morango_json_parse_object (instance_json, _("The instance description"), error);
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
                           _("The server's answer to the sync session request is not a JSON object"));
      return FALSE;
    }
  object = json_node_get_object (response);
  member = json_object_get_member (object, "signature");
  if (member != NULL && JSON_NODE_HOLDS_VALUE (member) && json_node_get_value_type (member) == G_TYPE_STRING)
    signature = json_node_get_string (member);
  if (!morango_http_trust_verify_sync_session (server_cert, nonce, sync_session_id, signature))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_SIGNATURE_INVALID,
                   _("The server did not prove it holds the key of certificate %s: its "
                   "signature of the sync session does not verify"),
                   morango_certificate_get_id (server_cert));
      return FALSE;
    }
  member = json_object_get_member (object, "server_instance");
  if (member != NULL && !JSON_NODE_HOLDS_NULL (member))
    {
      if (!JSON_NODE_HOLDS_VALUE (member) || json_node_get_value_type (member) != G_TYPE_STRING)
        {
          g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                               _("The server's instance description is not a JSON string"));
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
      /* Translators: %s is “user name” or “facility”, translated below */
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID, _("The %s is empty"), what);
      return FALSE;
    }
  if (strpbrk (value, forbidden) != NULL)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   /* Translators: “user name” or “facility”, its value, then the characters refused */
                   _("The %s “%s” cannot be sent: a server would split it at one of “%s”"),
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
      if (!check_credential_part (_("user name"), username, ":=", error))
        return NULL;
      userargs = g_strdup (username);
    }
  else
    {
      if (!check_credential_part (_("user name"), username, ":=&", error) ||
          !check_credential_part (_("facility"), facility, ":=&", error))
        return NULL;
      userargs = g_strdup_printf ("username=%s&facility=%s", username, facility);
    }
  plain = g_strconcat (userargs, ":", password, NULL);
  encoded = g_base64_encode ((const guchar *) plain, strlen (plain));
  return g_strconcat ("Basic ", encoded, NULL);
}

/* ------------------------------------------------------------------ */
/* Server side: bodies */

static JsonNode *
string_body (const char *text)
{
  return json_node_init_string (json_node_alloc (), text);
}

/* DRF's {"detail": …}. */
static JsonNode *
detail_body (const char *text)
{
  JsonObject *o = json_object_new ();

  json_object_set_string_member (o, "detail", text);
  return json_node_init_object (json_node_alloc (), o);
}

char *
morango_http_trust_build_certificate_chain_body (GPtrArray *chain)
{
  g_autoptr(JsonNode) array = json_node_init_array (json_node_alloc (), json_array_new ());
  g_autoptr(JsonNode) outer = NULL;
  g_autofree char *inner = NULL;

  g_return_val_if_fail (chain != NULL && chain->len > 0, NULL);

  for (guint i = 0; i < chain->len; i++)
    json_array_add_object_element (json_node_get_array (array),
                                   morango_certificate_to_json (g_ptr_array_index (chain, i)));
  inner = morango_json_dumps (array);
  outer = json_node_init_string (json_node_alloc (), inner);
  return morango_json_dumps (outer);
}

/* DRF's field errors, {"<field>": ["<message>"]}, merged into @into
 * when given. */
static JsonNode *
field_body (JsonNode   *into,
            const char *field,
            const char *message)
{
  JsonObject *o;
  JsonArray *messages = json_array_new ();

  if (into == NULL)
    into = json_node_init_object (json_node_alloc (), json_object_new ());
  o = json_node_get_object (into);
  json_array_add_string_element (messages, message);
  json_object_set_array_member (o, field, messages);
  return into;
}

static JsonNode *
error_class_body (const char *error_class,
                  const char *message)
{
  JsonObject *o = json_object_new ();

  json_object_set_string_member (o, "error_class", error_class);
  json_object_set_string_member (o, "error_message", message);
  return json_node_init_object (json_node_alloc (), o);
}

/* The device failed, not the peer: the peer learns nothing of why. */
static JsonNode *
internal_error (guint      *status,
                const char *what,
                GError     *error)
{
  g_warning ("%s: %s", what, error ? error->message : "unknown error");
  *status = 500;
  return detail_body ("A server error occurred.");
}

static gboolean
is_internal (GError *error)
{
  return error == NULL || error->domain != MORANGO_ERROR ||
         error->code == MORANGO_ERROR_FAILED || error->code == MORANGO_ERROR_CANCELLED;
}

/* Morango's exception class for a §7.6 failure, with the message it
 * raises it with ("" for the classes it raises bare). */
static JsonNode *
certificate_error_body (GError *error)
{
  static const struct { int code; const char *name; gboolean bare; } classes[] = {
    { MORANGO_ERROR_CERT_ID_INVALID, "CertificateIDInvalid", FALSE },
    { MORANGO_ERROR_CERT_SIGNATURE_INVALID, "CertificateSignatureInvalid", TRUE },
    { MORANGO_ERROR_CERT_ROOT_SCOPE_INVALID, "CertificateRootScopeInvalid", FALSE },
    { MORANGO_ERROR_CERT_SCOPE_NOT_SUBSET, "CertificateScopeNotSubset", TRUE },
    { MORANGO_ERROR_CERT_PROFILE_INVALID, "CertificateProfileInvalid", FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (classes); i++)
    if (error->domain == MORANGO_ERROR && error->code == classes[i].code)
      return error_class_body (classes[i].name, classes[i].bare ? "" : error->message);
  return NULL;
}

/* A member of @o that must be a string: NULL with *@why set to DRF's
 * message when it is missing or of another type. */
static const char *
required_string (JsonObject  *o,
                 const char  *member,
                 const char **why)
{
  JsonNode *node = json_object_get_member (o, member);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      *why = node == NULL ? "This field is required." : "This field may not be null.";
      return NULL;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      *why = "Not a valid string.";
      return NULL;
    }
  return json_node_get_string (node);
}

/* Python's name for the type of a JSON value, as DRF's messages use it. */
static const char *
python_type_name (JsonNode *node)
{
  if (JSON_NODE_HOLDS_ARRAY (node))
    return "list";
  if (JSON_NODE_HOLDS_NULL (node))
    return "NoneType";
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_STRING: return "str";
    case G_TYPE_BOOLEAN: return "bool";
    case G_TYPE_DOUBLE: return "float";
    default: return "int";
    }
}

/* ------------------------------------------------------------------ */
/* GET certificates/ */

JsonNode *
morango_http_trust_get_certificates (MorangoStore  *store,
                                     const char    *id,
                                     GHashTable    *query,
                                     guint         *status)
{
  MorangoDb *db;
  const char *profile = NULL;
  const char *ref;
  g_autoptr(GPtrArray) set = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoCertificate) cert = NULL;
  JsonArray *arr;

  g_return_val_if_fail (MORANGO_IS_STORE (store), NULL);
  g_return_val_if_fail (status != NULL, NULL);

  db = morango_store_get_db (store);
  if (query != NULL)
    profile = g_hash_table_lookup (query, "profile");

  if (query != NULL && (ref = g_hash_table_lookup (query, "primary_partition")) != NULL)
    {
      /* The referenced certificate itself need not be held with its key;
       * only what is listed must. */
      cert = morango_certificate_load (db, ref, &error);
      if (cert != NULL && (profile == NULL || g_str_equal (profile, morango_certificate_get_profile (cert))))
        set = morango_certificate_list_subtree (db, ref, TRUE, &error);
    }
  else if (query != NULL && (ref = g_hash_table_lookup (query, "ancestors_of")) != NULL)
    {
      cert = morango_certificate_load (db, ref, &error);
      if (cert != NULL && morango_certificate_has_private_key (cert) &&
          (profile == NULL || g_str_equal (profile, morango_certificate_get_profile (cert))))
        set = morango_certificate_get_chain (db, ref, &error);
    }
  else
    {
      g_autoptr(GPtrArray) all = morango_certificate_list (db, &error);

      if (all != NULL)
        {
          set = g_ptr_array_new_with_free_func (g_object_unref);
          for (guint i = 0; i < all->len; i++)
            {
              MorangoCertificate *c = g_ptr_array_index (all, i);

              if (morango_certificate_has_private_key (c) &&
                  (profile == NULL || g_str_equal (profile, morango_certificate_get_profile (c))))
                g_ptr_array_add (set, g_object_ref (c));
            }
        }
    }
  if (error != NULL && !g_error_matches (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND))
    return internal_error (status, "Listing certificates", error);

  if (id != NULL)
    {
      for (guint i = 0; set != NULL && i < set->len; i++)
        if (g_str_equal (morango_certificate_get_id (g_ptr_array_index (set, i)), id))
          {
            *status = 200;
            return json_node_init_object (json_node_alloc (),
                                          morango_certificate_to_json (g_ptr_array_index (set, i)));
          }
      *status = 404;
      return detail_body ("Not found.");
    }

  arr = json_array_new ();
  for (guint i = 0; set != NULL && i < set->len; i++)
    json_array_add_object_element (arr, morango_certificate_to_json (g_ptr_array_index (set, i)));
  *status = 200;
  return json_node_init_array (json_node_alloc (), arr);
}

/* ------------------------------------------------------------------ */
/* POST certificates/ */

#define REALM "Basic realm=\"api\""

typedef struct {
  char *name;
  char *facility;   /* NULL: none given */
  char *password;
} Credentials;

static void
credentials_clear (Credentials *c)
{
  g_free (c->name);
  g_free (c->facility);
  if (c->password)
    explicit_bzero (c->password, strlen (c->password));
  g_free (c->password);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Credentials, credentials_clear)

typedef enum {
  AUTH_OK,
  AUTH_NONE,        /* no Basic credentials at all */
  AUTH_MALFORMED,   /* a Basic header DRF refuses; *message says how */
  AUTH_INVALID,     /* credentials that cannot name an account */
} AuthParse;

/* DRF's BasicAuthentication, with Morango's key=value user part. */
static AuthParse
parse_authorization (const char   *header,
                     Credentials  *out,
                     const char  **message)
{
  g_auto(GStrv) tokens = NULL;
  g_autoptr(GBytes) raw = NULL;
  g_autofree char *text = NULL;
  g_autofree char *user = NULL;
  const char *colon;
  gsize len;
  const char *data;

  if (header == NULL)
    return AUTH_NONE;
  tokens = g_strsplit_set (header, " \t\r\n\v\f", -1);
  {
    /* Python's bytes.split(): runs of whitespace, no empty tokens. */
    guint n = 0;

    for (guint i = 0; tokens[i]; i++)
      if (*tokens[i] != '\0')
        {
          char *t = tokens[i];

          tokens[i] = tokens[n];
          tokens[n++] = t;
        }
    for (guint i = n; tokens[i]; i++)
      g_clear_pointer (&tokens[i], g_free);
  }
  if (tokens[0] == NULL || g_ascii_strcasecmp (tokens[0], "basic") != 0)
    return AUTH_NONE;
  if (tokens[1] == NULL)
    {
      *message = "Invalid basic header. No credentials provided.";
      return AUTH_MALFORMED;
    }
  if (tokens[2] != NULL)
    {
      *message = "Invalid basic header. Credentials string should not contain spaces.";
      return AUTH_MALFORMED;
    }
  raw = morango_base64_decode_lenient (tokens[1]);
  if (raw == NULL)
    {
      *message = "Invalid basic header. Credentials not correctly base64 encoded.";
      return AUTH_MALFORMED;
    }
  data = g_bytes_get_data (raw, &len);
  if (memchr (data, '\0', len) != NULL)
    return AUTH_INVALID;
  if (g_utf8_validate_len (data, len, NULL))
    text = g_strndup (data, len);
  else
    text = g_convert (data, len, "UTF-8", "ISO-8859-1", NULL, NULL, NULL);
  if (text == NULL)
    return AUTH_INVALID;

  colon = strchr (text, ':');
  user = colon ? g_strndup (text, colon - text) : g_strdup (text);
  out->password = g_strdup (colon ? colon + 1 : "");
  if (strchr (user, '=') == NULL)
    {
      out->name = g_steal_pointer (&user);
      return AUTH_OK;
    }
  {
    g_auto(GStrv) pairs = g_strsplit (user, "&", -1);

    for (guint i = 0; pairs[i]; i++)
      {
        g_auto(GStrv) kv = g_strsplit (pairs[i], "=", -1);

        if (g_strv_length (kv) != 2)
          return AUTH_INVALID;
        if (g_str_equal (kv[0], "username"))
          {
            g_free (out->name);
            out->name = g_strdup (kv[1]);
          }
        else if (g_str_equal (kv[0], "facility"))
          {
            g_free (out->facility);
            out->facility = g_strdup (kv[1]);
          }
        /* Other keys go to Kolibri's authentication backend; we have
         * none that reads them. */
      }
  }
  return out->name != NULL ? AUTH_OK : AUTH_INVALID;
}

static JsonNode *
unauthorized (guint       *status,
              char       **www_authenticate,
              const char  *message)
{
  *status = 401;
  if (www_authenticate)
    *www_authenticate = g_strdup (REALM);
  return detail_body (message);
}

static JsonNode *
forbidden (guint *status)
{
  *status = 403;
  return detail_body ("You do not have permission to perform this action.");
}

JsonNode *
morango_http_trust_request_certificate (MorangoStore  *store,
                                        const char    *authorization,
                                        JsonNode      *body,
                                        guint         *status,
                                        char         **www_authenticate,
                                        gboolean      *no_account)
{
  static const char *strings[] = { "parent", "profile", "scope_definition", "scope_params", "public_key" };
  g_auto(Credentials) cred = { NULL, NULL, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoAccount) account = NULL;
  g_autoptr(JsonObject) params = NULL;
  g_autoptr(MorangoCertificateRequest) req = NULL;
  g_autoptr(MorangoCertificate) parent = NULL;
  g_autoptr(MorangoScopeDefinition) def = NULL;
  g_autoptr(MorangoCertificate) issued = NULL;
  g_autoptr(MorangoKey) key = NULL;
  JsonNode *fields = NULL;
  JsonObject *o;
  JsonNode *version;
  const char *why = NULL;
  const char *def_id, *params_text;
  MorangoDb *db;

  g_return_val_if_fail (MORANGO_IS_STORE (store), NULL);
  g_return_val_if_fail (status != NULL, NULL);

  db = morango_store_get_db (store);
  if (www_authenticate)
    *www_authenticate = NULL;
  if (no_account)
    *no_account = !morango_account_has_any (db);

  /* 1. Who asks (401). */
  switch (parse_authorization (authorization, &cred, &why))
    {
    case AUTH_NONE:
      return unauthorized (status, www_authenticate, "Authentication credentials were not provided.");
    case AUTH_MALFORMED:
      return unauthorized (status, www_authenticate, why);
    case AUTH_INVALID:
      return unauthorized (status, www_authenticate, "Invalid credentials.");
    case AUTH_OK:
    default:
      break;
    }
  account = morango_account_check (db, cred.name, cred.password, &error);
  if (account == NULL)
    {
      if (is_internal (error))
        return internal_error (status, "Checking credentials", error);
      if (!g_error_matches (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED))
        g_warning ("%s", error->message);
      return unauthorized (status, www_authenticate, "Invalid credentials.");
    }

  /* 2. May they ask for this (403)?  Morango's permission class reads
   * the scope before the body is validated. */
  if (body == NULL || !JSON_NODE_HOLDS_OBJECT (body))
    {
      g_autofree char *message =
        g_strdup_printf ("Invalid data. Expected a dictionary, but got %s.",
                         body ? python_type_name (body) : "NoneType");

      *status = 400;
      return field_body (NULL, "non_field_errors", message);
    }
  o = json_node_get_object (body);
  def_id = required_string (o, "scope_definition", &why);
  if (def_id == NULL || !morango_account_may_request (account, def_id))
    return forbidden (status);
  params_text = required_string (o, "scope_params", &why);
  if (params_text == NULL)
    {
      *status = 400;
      return field_body (NULL, "scope_params", why);
    }
  params = morango_json_parse_object (params_text, "scope_params", NULL);
  if (params == NULL)
    {
      *status = 400;
      return field_body (NULL, "scope_params", "Value must be a JSON object.");
    }
  if (json_object_get_size (params) == 0)
    return forbidden (status);
  if (cred.facility != NULL)
    {
      JsonNode *dataset = json_object_get_member (params, "dataset_id");

      /* Kolibri names the facility the admin signs in to; a certificate
       * for another dataset is not theirs to ask for. */
      if (dataset == NULL || !JSON_NODE_HOLDS_VALUE (dataset) ||
          json_node_get_value_type (dataset) != G_TYPE_STRING ||
          !g_str_equal (json_node_get_string (dataset), cred.facility))
        return forbidden (status);
    }

  /* 3. Fields (400), every failing one at once as DRF lists them. */
  for (guint i = 0; i < G_N_ELEMENTS (strings); i++)
    if (required_string (o, strings[i], &why) == NULL)
      fields = field_body (fields, strings[i], why);
  version = json_object_get_member (o, "scope_version");
  if (version == NULL)
    fields = field_body (fields, "scope_version", "This field is required.");
  else if (!JSON_NODE_HOLDS_VALUE (version) || json_node_get_value_type (version) != G_TYPE_INT64)
    fields = field_body (fields, "scope_version", "A valid integer is required.");
  if (fields != NULL)
    {
      *status = 400;
      return fields;
    }
  req = morango_certificate_request_new_from_json (o, &error);
  if (req == NULL)
    {
      *status = 400;
      return field_body (NULL, "non_field_errors", error->message);
    }

  parent = morango_certificate_load (db, req->parent_id, &error);
  if (parent == NULL)
    {
      g_autofree char *message = NULL;

      if (!g_error_matches (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND))
        return internal_error (status, "Loading the requested parent", error);
      message = g_strdup_printf ("Invalid pk \"%s\" - object does not exist.", req->parent_id);
      fields = field_body (fields, "parent", message);
      g_clear_error (&error);
    }
  else if (!morango_certificate_has_private_key (parent))
    fields = field_body (fields, "parent", "Server does not have private key for requested parent certificate!");
  def = morango_scope_definition_load (db, req->scope_definition_id, &error);
  if (def == NULL)
    {
      g_autofree char *message = NULL;

      if (is_internal (error))
        return internal_error (status, "Loading the requested scope definition", error);
      message = g_strdup_printf ("Invalid pk \"%s\" - object does not exist.", req->scope_definition_id);
      fields = field_body (fields, "scope_definition", message);
      g_clear_error (&error);
    }
  key = morango_key_new_from_public (req->public_key, &error);
  if (key == NULL)
    {
      fields = field_body (fields, "public_key", error->message);
      g_clear_error (&error);
    }
  if (fields != NULL)
    {
      *status = 400;
      return fields;
    }

  /* 4. Sign, check (§7.6) and store. */
  issued = morango_certificate_request_issue (db, req, morango_store_get_random (store), &error);
  if (issued == NULL)
    {
      JsonNode *cert_body = certificate_error_body (error);

      if (cert_body != NULL)
        {
          *status = 400;
          return cert_body;
        }
      if (is_internal (error))
        return internal_error (status, "Issuing a certificate", error);
      *status = 400;
      return field_body (NULL, "non_field_errors", error->message);
    }
  *status = 201;
  return json_node_init_object (json_node_alloc (), morango_certificate_to_json (issued));
}

/* ------------------------------------------------------------------ */
/* certificatechain/, publickey/ */

static JsonNode *
public_key_object (MorangoKey *key)
{
  JsonObject *o = json_object_new ();

  json_object_set_string_member (o, "public_key", morango_key_get_public_string (key));
  return json_node_init_object (json_node_alloc (), o);
}

JsonNode *
morango_http_trust_get_public_keys (MorangoStore *store,
                                    const char   *id,
                                    guint        *status)
{
  g_autoptr(GError) error = NULL;
  MorangoDb *db;

  g_return_val_if_fail (MORANGO_IS_STORE (store), NULL);
  g_return_val_if_fail (status != NULL, NULL);

  db = morango_store_get_db (store);
  if (id != NULL)
    {
      g_autoptr(MorangoKey) key = NULL;
      guint64 row = 0;

      /* Django looks the row up by its integer key: anything else is
       * simply not there. */
      if (!g_ascii_string_to_unsigned (id, 10, 1, G_MAXINT64, &row, NULL))
        {
          *status = 404;
          return detail_body ("Not found.");
        }
      key = morango_shared_key_lookup (db, (gint64) row, &error);
      if (key == NULL)
        {
          if (!g_error_matches (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND))
            return internal_error (status, "Reading a shared key", error);
          *status = 404;
          return detail_body ("Not found.");
        }
      *status = 200;
      return public_key_object (key);
    }
  else
    {
      g_autoptr(GPtrArray) keys = morango_shared_key_list (db, &error);
      JsonArray *arr;

      if (keys != NULL && keys->len == 0)
        {
          /* A Python client takes the first key of the list. */
          g_autoptr(MorangoKey) made = morango_shared_key_get_or_create (db, FALSE, &error);

          g_clear_pointer (&keys, g_ptr_array_unref);
          if (made != NULL)
            keys = morango_shared_key_list (db, &error);
        }
      if (keys == NULL)
        return internal_error (status, "Listing the shared keys", error);
      arr = json_array_new ();
      for (guint i = 0; i < keys->len; i++)
        json_array_add_element (arr, public_key_object (g_ptr_array_index (keys, i)));
      *status = 200;
      return json_node_init_array (json_node_alloc (), arr);
    }
}

JsonNode *
morango_http_trust_accept_pushed_chain (MorangoStore *store,
                                        JsonNode     *body,
                                        gboolean      accept_new_roots,
                                        gint64        now_unix,
                                        guint        *status)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoCertificate) saved = NULL;
  MorangoPushStep step = MORANGO_PUSH_STEP_SHAPE;
  gint64 now_usec;

  g_return_val_if_fail (MORANGO_IS_STORE (store), NULL);
  g_return_val_if_fail (body != NULL, NULL);
  g_return_val_if_fail (status != NULL, NULL);

  /* As for the handshake: a clock in whole seconds stands for the end
   * of that second. */
  now_usec = now_unix != 0 ? now_unix * G_USEC_PER_SEC + (G_USEC_PER_SEC - 1) : g_get_real_time ();
  saved = morango_certificate_accept_pushed_full (morango_store_get_db (store), body,
                                                  accept_new_roots ? MORANGO_CHAIN_IMPORT_TRUST_NEW_ROOT
                                                                   : MORANGO_CHAIN_IMPORT_DEFAULT,
                                                  now_usec, &step, &error);
  if (saved != NULL)
    {
      *status = 201;
      return string_body ("Certificate chain has been saved");
    }
  if (is_internal (error))
    return internal_error (status, "Taking a pushed certificate", error);
  g_debug ("Refusing a pushed certificate: %s", error->message);
  switch (step)
    {
    case MORANGO_PUSH_STEP_SHAPE:
      *status = 400;
      return detail_body (error->message);
    case MORANGO_PUSH_STEP_CHAIN:
      *status = 403;
      if (g_error_matches (error, MORANGO_ERROR, MORANGO_ERROR_CERT_UNTRUSTED))
        return error_class_body ("CertificateRootUntrusted", error->message);
      /* The message already begins with Morango's words. */
      return string_body (error->message);
    case MORANGO_PUSH_STEP_SHARED_KEY:
      *status = 400;
      return string_body ("Shared public key was not used");
    case MORANGO_PUSH_STEP_NONCE:
      *status = 403;
      return string_body ("Nonce (certificate's salt) is not valid");
    case MORANGO_PUSH_STEP_CERTIFICATE:
    default:
      {
        JsonNode *cert_body = certificate_error_body (error);

        *status = 400;
        return cert_body != NULL ? cert_body : detail_body (error->message);
      }
    }
}

JsonNode *
morango_http_trust_refuse_pushing (guint *status)
{
  g_return_val_if_fail (status != NULL, NULL);

  *status = 403;
  return detail_body ("Authentication credentials were not provided.");
}

/* ------------------------------------------------------------------ */
/* POST nonces/ */

JsonNode *
morango_http_trust_create_nonce (MorangoStore  *store,
                                 const char    *client_ip,
                                 gint64         now_unix,
                                 guint         *status)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *timestamp = NULL;
  gint64 now_usec = now_unix != 0 ? now_unix * G_USEC_PER_SEC : g_get_real_time ();
  JsonObject *o;

  g_return_val_if_fail (MORANGO_IS_STORE (store), NULL);
  g_return_val_if_fail (status != NULL, NULL);

  id = morango_nonce_create (morango_store_get_db (store), morango_store_get_random (store),
                             client_ip, now_usec, &timestamp, &error);
  if (id == NULL)
    return internal_error (status, "Creating a nonce", error);
  /* Python's isoformat leaves out a fraction of zero. */
  if (g_str_has_suffix (timestamp, ".000000Z"))
    strcpy (timestamp + strlen (timestamp) - strlen (".000000Z"), "Z");
  o = json_object_new ();
  json_object_set_string_member (o, "id", id);
  json_object_set_string_member (o, "timestamp", timestamp);
  json_object_set_string_member (o, "ip", client_ip ? client_ip : "");
  *status = 201;
  return json_node_init_object (json_node_alloc (), o);
}

/* ------------------------------------------------------------------ */
/* POST syncsessions/ */

static gboolean
refuse (guint       *status,
        JsonNode   **body,
        guint        code,
        JsonNode    *refusal)
{
  *status = code;
  *body = refusal;
  return FALSE;
}

static gboolean
is_hex32 (const char *s)
{
  if (strlen (s) != 32)
    return FALSE;
  for (; *s; s++)
    if (!g_ascii_isdigit (*s) && !(*s >= 'a' && *s <= 'f'))
      return FALSE;
  return TRUE;
}

/* The body's shape, before anything is looked up: every failing field,
 * in DRF's shape. */
static JsonNode *
check_sync_session_shape (JsonObject *request)
{
  static const char *required[] = { "id", "server_certificate_id", "client_certificate_id",
                                    "connection_path", "instance", "nonce", "signature" };
  static const char *optional[] = { "profile", "client_ip", "server_ip" };
  static const char *blankable[] = { "server_certificate_id", "client_certificate_id", "connection_path" };
  JsonNode *fields = NULL;
  JsonNode *chain;
  const char *why = NULL;
  const char *value;

  for (guint i = 0; i < G_N_ELEMENTS (required); i++)
    if (required_string (request, required[i], &why) == NULL)
      fields = field_body (fields, required[i], why);
  for (guint i = 0; i < G_N_ELEMENTS (optional); i++)
    if (json_object_has_member (request, optional[i]) &&
        required_string (request, optional[i], &why) == NULL &&
        !JSON_NODE_HOLDS_NULL (json_object_get_member (request, optional[i])))
      fields = field_body (fields, optional[i], why);

  chain = json_object_get_member (request, "certificate_chain");
  if (chain == NULL)
    fields = field_body (fields, "certificate_chain", "This field is required.");
  else if (!JSON_NODE_HOLDS_ARRAY (chain) &&
           !(JSON_NODE_HOLDS_VALUE (chain) && json_node_get_value_type (chain) == G_TYPE_STRING))
    fields = field_body (fields, "certificate_chain", "Expected a list of certificates or a string holding one.");

  value = required_string (request, "id", &why);
  if (value != NULL && !is_hex32 (value))
    fields = field_body (fields, "id", "Must be a valid UUID.");
  /* A blank id would be "no expectation" to the chain import. */
  for (guint i = 0; i < G_N_ELEMENTS (blankable); i++)
    {
      value = required_string (request, blankable[i], &why);
      if (value != NULL && *value == '\0')
        fields = field_body (fields, blankable[i], "This field may not be blank.");
    }
  value = required_string (request, "instance", &why);
  if (value != NULL)
    {
      /* Stored as received, but its id becomes the client instance id. */
      g_autoptr(JsonObject) instance = morango_json_parse_object (value, "instance", NULL);

      if (instance == NULL || required_string (instance, "id", &why) == NULL)
        fields = field_body (fields, "instance", "Expected the JSON text of an object with an \"id\".");
    }
  return fields;
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
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoTransaction) tx = NULL;
  g_autoptr(MorangoCertificate) client = NULL;
  g_autoptr(MorangoCertificate) server = NULL;
  JsonNode *refusal;
  const char *id, *nonce, *signature;
  MorangoDb *db;
  gint64 now_usec;

  g_return_val_if_fail (MORANGO_IS_STORE (store), FALSE);
  g_return_val_if_fail (client_cert != NULL && server_cert != NULL, FALSE);
  g_return_val_if_fail (status != NULL && body != NULL, FALSE);

  *client_cert = NULL;
  *server_cert = NULL;
  *body = NULL;
  db = morango_store_get_db (store);

  if (request == NULL)
    return refuse (status, body, 400, field_body (NULL, "non_field_errors",
                                                  "Invalid data. Expected a dictionary."));
  if ((refusal = check_sync_session_shape (request)) != NULL)
    return refuse (status, body, 400, refusal);
  id = json_object_get_string_member (request, "id");
  nonce = json_object_get_string_member (request, "nonce");
  signature = json_object_get_string_member (request, "signature");

  /* Whatever a refusal leaves undone: the chain stays unstored and the
   * nonce unused. */
  if ((tx = morango_transaction_begin (db, NULL, &error)) == NULL)
    return refuse (status, body, 500, internal_error (status, "Checking a sync session", error));

  /* 1. The client's chain, up to the certificate it names. */
  client = morango_certificate_chain_import (db, json_object_get_member (request, "certificate_chain"),
                                             json_object_get_string_member (request, "client_certificate_id"),
                                             MORANGO_CHAIN_IMPORT_DEFAULT, NULL, &error);
  if (client == NULL)
    {
      if (g_error_matches (error, MORANGO_ERROR, MORANGO_ERROR_CERT_UNTRUSTED))
        return refuse (status, body, 403, error_class_body ("CertificateRootUntrusted", error->message));
      if (is_internal (error))
        return refuse (status, body, 500, internal_error (status, "Importing a client's chain", error));
      g_debug ("Refusing a sync session: %s", error->message);
      return refuse (status, body, 403, string_body ("Saving certificate chain has failed"));
    }

  /* 2. The server's certificate, which must be this device's own: it
   * signs the answer. */
  server = morango_certificate_load (db, json_object_get_string_member (request, "server_certificate_id"), &error);
  if (server == NULL)
    {
      if (!g_error_matches (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND))
        return refuse (status, body, 500, internal_error (status, "Loading the server certificate", error));
      return refuse (status, body, 400, string_body ("Requested certificate does not exist!"));
    }
  if (!morango_certificate_has_private_key (server))
    return refuse (status, body, 400,
                   string_body ("Requested server certificate is not held here with its private key!"));

  /* 3. */
  if (!g_str_equal (morango_certificate_get_profile (client), morango_certificate_get_profile (server)))
    return refuse (status, body, 400, string_body ("Certificates must both be associated with the same profile"));

  /* 4. The client holds its certificate's key. */
  if (!morango_http_trust_verify_sync_session (client, nonce, id, signature))
    return refuse (status, body, 403, string_body ("Client certificate failed to verify signature"));

  /* 5. The signature is fresh.  A clock given in whole seconds stands
   * for the end of that second, so that a nonce issued during it is
   * older than "now". */
  now_usec = now_unix != 0 ? now_unix * G_USEC_PER_SEC + (G_USEC_PER_SEC - 1) : g_get_real_time ();
  if (!morango_nonce_use (db, nonce, now_usec, &error))
    {
      if (!g_error_matches (error, MORANGO_ERROR, MORANGO_ERROR_NONCE_INVALID))
        return refuse (status, body, 500, internal_error (status, "Using a nonce", error));
      g_debug ("Refusing a sync session: %s", error->message);
      return refuse (status, body, 403, string_body ("Nonce is not valid"));
    }

  if (!morango_transaction_commit (tx, &error))
    return refuse (status, body, 500, internal_error (status, "Checking a sync session", error));
  *client_cert = g_steal_pointer (&client);
  *server_cert = g_steal_pointer (&server);
  return TRUE;
}

JsonNode *
morango_http_trust_sync_session_response (MorangoCertificate  *server_cert,
                                          JsonObject          *request,
                                          const char          *server_instance_json,
                                          GError             **error)
{
  g_autofree char *signature = NULL;
  JsonObject *o;

  g_return_val_if_fail (MORANGO_IS_CERTIFICATE (server_cert), NULL);
  g_return_val_if_fail (request != NULL, NULL);
  g_return_val_if_fail (server_instance_json != NULL, NULL);

  signature = morango_http_trust_sign_sync_session (server_cert,
                                                    json_object_get_string_member (request, "nonce"),
                                                    json_object_get_string_member (request, "id"),
                                                    error);
  if (signature == NULL)
    return NULL;
  o = json_object_new ();
  json_object_set_string_member (o, "signature", signature);
  json_object_set_string_member (o, "server_instance", server_instance_json);
  return json_node_init_object (json_node_alloc (), o);
}

/* ------------------------------------------------------------------ */
/* GET /api/morango-sync/v1/learners/ */

JsonNode *
morango_http_trust_list_learners (MorangoStore  *store,
                                  const char    *authorization,
                                  GHashTable    *query,
                                  guint         *status,
                                  char         **www_authenticate)
{
  g_auto(Credentials) cred = { NULL, NULL, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoAccount) account = NULL;
  g_autoptr(GPtrArray) people = NULL;
  g_autoptr(JsonBuilder) b = NULL;
  g_autofree char *dataset = NULL;
  MorangoProfile *profile;
  const MorangoProfilePeople *described;
  const char *why = NULL;
  const char *given;
  MorangoDb *db;

  g_return_val_if_fail (MORANGO_IS_STORE (store), NULL);
  g_return_val_if_fail (status != NULL, NULL);

  db = morango_store_get_db (store);
  if (www_authenticate)
    *www_authenticate = NULL;

  /* Who asks comes first, as for a signing request: nobody learns
   * whether this device lists people before they are known. */
  switch (parse_authorization (authorization, &cred, &why))
    {
    case AUTH_NONE:
      return unauthorized (status, www_authenticate, "Authentication credentials were not provided.");
    case AUTH_MALFORMED:
      return unauthorized (status, www_authenticate, why);
    case AUTH_INVALID:
      return unauthorized (status, www_authenticate, "Invalid credentials.");
    case AUTH_OK:
    default:
      break;
    }
  account = morango_account_check (db, cred.name, cred.password, &error);
  if (account == NULL)
    {
      if (is_internal (error))
        return internal_error (status, "Checking credentials", error);
      return unauthorized (status, www_authenticate, "Invalid credentials.");
    }

  profile = morango_store_get_profile (store);
  described = profile ? morango_profile_get_people (profile) : NULL;
  if (described == NULL)
    {
      *status = 404;
      return detail_body ("Not found.");
    }
  if (!morango_account_may_request (account, described->scope_definition))
    return forbidden (status);

  given = query ? g_hash_table_lookup (query, "dataset_id") : NULL;
  if (given == NULL || *given == '\0')
    {
      *status = 400;
      return field_body (NULL, "dataset_id", "This field is required.");
    }
  dataset = g_ascii_strdown (given, -1);
  if (!is_hex32 (dataset))
    {
      *status = 400;
      return field_body (NULL, "dataset_id", "Must be a valid UUID.");
    }
  if (cred.facility != NULL && g_ascii_strcasecmp (cred.facility, dataset) != 0)
    return forbidden (status);

  people = morango_profile_list_people (profile, db, dataset, &error);
  if (people == NULL)
    return internal_error (status, "Listing learners", error);
  b = json_builder_new ();
  json_builder_begin_array (b);
  for (guint i = 0; i < people->len; i++)
    {
      MorangoPerson *person = g_ptr_array_index (people, i);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "id");
      json_builder_add_string_value (b, person->id);
      json_builder_set_member_name (b, "username");
      json_builder_add_string_value (b, person->name);
      json_builder_set_member_name (b, "full_name");
      json_builder_add_string_value (b, person->full_name);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  *status = 200;
  return json_builder_get_root (b);
}
