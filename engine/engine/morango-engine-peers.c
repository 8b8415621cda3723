/* morango-engine-peers.c: adding a peer, and what a pairing dialog asks a peer first
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "morango-certificate.h"
#include "morango-engine-peers.h"
#include "morango-engine-private.h"
#include "morango-i18n-private.h"
#include "morango-http-peer-private.h"
#include "morango-json.h"

/* Beside Morango's API: see docs/accounts.md. */
#define LEARNERS_PATH "/api/morango-sync/v1/learners/"

char *
morango_engine_normalize_peer_address (const char  *address,
                                       GError     **error)
{
  g_autofree char *trimmed = NULL;

  g_return_val_if_fail (address != NULL, NULL);

  trimmed = g_strstrip (g_strdup (address));
  if (*trimmed == '\0')
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                           _("Type the peer's address, such as 192.168.1.10:8080"));
      return NULL;
    }
  return morango_peer_address_normalize (trimmed, error);
}

/* ---- adding ---- */

static void
add_peer_thread (GTask        *task,
                 gpointer      source_object,
                 gpointer      task_data,
                 GCancellable *cancellable)
{
  MorangoEngine *self = source_object;
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = morango_engine_open_store (self, &error);
  g_autoptr(MorangoKnownPeer) before = NULL;
  MorangoKnownPeer *peer;

  if (store == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  before = morango_known_peer_lookup_address (store, task_data, NULL);
  peer = morango_known_peer_add (store, task_data, g_get_real_time (), &error);
  if (peer == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (before == NULL || before->state == MORANGO_PEER_STATE_FORGOTTEN)
    morango_engine_peers_changed (self);
  g_task_return_pointer (task, peer, (GDestroyNotify) morango_known_peer_free);
}

void
morango_engine_add_peer_async (MorangoEngine        *self,
                               const char           *address,
                               GCancellable         *cancellable,
                               GAsyncReadyCallback   callback,
                               gpointer              user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  char *normal;

  g_return_if_fail (MORANGO_IS_ENGINE (self));
  g_return_if_fail (address != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, morango_engine_add_peer_async);
  /* Garbage never reaches the store. */
  normal = morango_engine_normalize_peer_address (address, &error);
  if (normal == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_set_task_data (task, normal, g_free);
  g_task_run_in_thread (task, add_peer_thread);
}

MorangoKnownPeer *
morango_engine_add_peer_finish (MorangoEngine  *self,
                                GAsyncResult   *result,
                                GError        **error)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- asking a peer ---- */

typedef struct {
  char                     *url;
  char                     *dataset_id;
  char                     *username;
  char                     *password;
  char                     *expect_fingerprint;
  MorangoEngineConfirmFunc  confirm;
  gpointer                  confirm_data;
} PeerCall;

static void
peer_call_free (PeerCall *call)
{
  g_free (call->url);
  g_free (call->dataset_id);
  g_free (call->username);
  if (call->password)
    explicit_bzero (call->password, strlen (call->password));
  g_free (call->password);
  g_free (call->expect_fingerprint);
  g_free (call);
}

static PeerCall *
peer_call_new (const char                     *url,
               const MorangoEnginePeerOptions *options)
{
  PeerCall *call = g_new0 (PeerCall, 1);

  call->url = g_strdup (url);
  if (options != NULL)
    {
      call->expect_fingerprint = g_strdup (options->expect_fingerprint);
      call->confirm = options->confirm;
      call->confirm_data = options->confirm_data;
    }
  return call;
}

/* The peer at the call's address, ready for requests (TLS as pairing
 * sets it up); the store stays the caller's. */
static MorangoHttpPeer *
open_peer (MorangoEngine  *self,
           MorangoStore   *store,
           PeerCall       *call,
           GCancellable   *cancellable,
           GError        **error)
{
  g_autoptr(MorangoHttpPeer) peer = NULL;
  g_autoptr(MorangoKnownPeer) known = NULL;

  if ((peer = morango_http_peer_new (call->url, store, NULL, NULL, error)) == NULL)
    return NULL;
  known = morango_known_peer_lookup_address (store, call->url, NULL);
  if (!morango_engine_set_up_peer_tls (self, peer, call->expect_fingerprint,
                                       known ? known->tls_fingerprint : NULL,
                                       call->confirm, call->confirm_data, cancellable, error))
    return NULL;
  return g_steal_pointer (&peer);
}

void
morango_engine_peer_certificates_free (MorangoEnginePeerCertificates *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->certificates, g_ptr_array_unref);
  g_strfreev (self->datasets);
  g_free (self->tls_fingerprint);
  g_free (self->person_scope_definition);
  g_free (self->person_scope_param);
  g_free (self);
}

/* The value of @cert's primary scope parameter, "" when its definition
 * (as this device knows it) has none. */
static char *
dataset_of (MorangoDb          *db,
            MorangoCertificate *cert)
{
  g_autoptr(MorangoScopeDefinition) def =
    morango_scope_definition_load (db, morango_certificate_get_scope_definition_id (cert), NULL);
  g_autoptr(JsonObject) params = NULL;
  JsonNode *value;

  if (def == NULL || def->primary_scope_param_key == NULL || *def->primary_scope_param_key == '\0')
    return g_strdup ("");
  params = morango_json_parse_object (morango_certificate_get_scope_params (cert), "scope_params", NULL);
  value = params ? json_object_get_member (params, def->primary_scope_param_key) : NULL;
  if (value == NULL || !JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_STRING)
    return g_strdup ("");
  return g_strdup (json_node_get_string (value));
}

static void
fetch_certificates_thread (GTask        *task,
                           gpointer      source_object,
                           gpointer      task_data,
                           GCancellable *cancellable)
{
  MorangoEngine *self = source_object;
  PeerCall *call = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = NULL;
  g_autoptr(MorangoHttpPeer) peer = NULL;
  g_autoptr(JsonNode) listing = NULL;
  g_autoptr(MorangoEnginePeerCertificates) out = g_new0 (MorangoEnginePeerCertificates, 1);
  g_autoptr(GPtrArray) datasets = g_ptr_array_new_with_free_func (g_free);
  MorangoProfile *profile;
  const MorangoProfilePeople *people;
  JsonArray *array;

  if ((store = morango_engine_open_store (self, &error)) == NULL ||
      (peer = open_peer (self, store, call, cancellable, &error)) == NULL ||
      !morango_http_peer_connect (peer, cancellable, &error))
    goto failed;
  listing = morango_http_peer_call_json (peer, "GET", "certificates/", NULL, NULL, cancellable, &error);
  if (listing == NULL)
    goto failed;
  if (!JSON_NODE_HOLDS_ARRAY (listing))
    {
      g_set_error (&error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("%s did not list its certificates as an array"), call->url);
      goto failed;
    }

  out->certificates = g_ptr_array_new_with_free_func (g_object_unref);
  array = json_node_get_array (listing);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *item = json_array_get_element (array, i);
      g_autoptr(MorangoCertificate) cert = NULL;

      /* What this device cannot read or use is left out, not fatal: a
       * peer may serve several profiles. */
      if (!JSON_NODE_HOLDS_OBJECT (item) ||
          (cert = morango_certificate_new_from_json (json_node_get_object (item), NULL)) == NULL ||
          g_strcmp0 (morango_certificate_get_profile (cert), morango_store_get_profile_name (store)) != 0)
        continue;
      g_ptr_array_add (datasets, dataset_of (morango_store_get_db (store), cert));
      g_ptr_array_add (out->certificates, g_steal_pointer (&cert));
    }
  g_ptr_array_add (datasets, NULL);
  out->datasets = (GStrv) g_ptr_array_steal (datasets, NULL);
  out->tls_fingerprint = morango_http_peer_dup_fingerprint (peer);
  profile = morango_store_get_profile (store);
  people = profile ? morango_profile_get_people (profile) : NULL;
  if (people != NULL)
    {
      out->person_scope_definition = g_strdup (people->scope_definition);
      out->person_scope_param = g_strdup (people->scope_param);
    }
  g_task_return_pointer (task, g_steal_pointer (&out), (GDestroyNotify) morango_engine_peer_certificates_free);
  return;

failed:
  g_task_return_error (task, g_steal_pointer (&error));
}

void
morango_engine_fetch_peer_certificates_async (MorangoEngine                  *self,
                                              const char                     *url,
                                              const MorangoEnginePeerOptions *options,
                                              GCancellable                   *cancellable,
                                              GAsyncReadyCallback             callback,
                                              gpointer                        user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MORANGO_IS_ENGINE (self));
  g_return_if_fail (url != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, morango_engine_fetch_peer_certificates_async);
  g_task_set_task_data (task, peer_call_new (url, options), (GDestroyNotify) peer_call_free);
  /* It waits on the network, and maybe on the user (a TLS pin). */
  morango_engine_run_in_own_thread (task, "morango-peer-certs", fetch_certificates_thread);
}

MorangoEnginePeerCertificates *
morango_engine_fetch_peer_certificates_finish (MorangoEngine  *self,
                                               GAsyncResult   *result,
                                               GError        **error)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* One text field of a learner as the peer sent it. */
static const char *
text_member (JsonObject *o,
             const char *name)
{
  JsonNode *node = json_object_get_member (o, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static void
fetch_learners_thread (GTask        *task,
                       gpointer      source_object,
                       gpointer      task_data,
                       GCancellable *cancellable)
{
  MorangoEngine *self = source_object;
  PeerCall *call = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = NULL;
  g_autoptr(MorangoHttpPeer) peer = NULL;
  g_autoptr(JsonNode) answer = NULL;
  g_autoptr(GPtrArray) people = g_ptr_array_new_with_free_func ((GDestroyNotify) morango_person_free);
  g_autofree char *credentials = NULL;
  g_autofree char *encoded = NULL;
  g_autofree char *authorization = NULL;
  g_autofree char *escaped = g_uri_escape_string (call->dataset_id, NULL, FALSE);
  g_autofree char *query = g_strconcat ("dataset_id=", escaped, NULL);
  MorangoHttpRequest request = { 0 };
  JsonArray *array;

  if ((store = morango_engine_open_store (self, &error)) == NULL ||
      (peer = open_peer (self, store, call, cancellable, &error)) == NULL)
    goto failed;
  credentials = g_strdup_printf ("%s:%s", call->username ? call->username : "admin", call->password);
  encoded = g_base64_encode ((const guchar *) credentials, strlen (credentials));
  authorization = g_strconcat ("Basic ", encoded, NULL);
  explicit_bzero (credentials, strlen (credentials));
  request.method = "GET";
  request.path = LEARNERS_PATH;
  request.query = query;
  request.authorization = authorization;
  answer = morango_http_peer_call (peer, &request, NULL, cancellable, &error);
  explicit_bzero (authorization, strlen (authorization));
  if (answer == NULL)
    goto failed;
  if (!JSON_NODE_HOLDS_ARRAY (answer))
    {
      g_set_error (&error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("%s did not list the learners as an array"), call->url);
      goto failed;
    }
  array = json_node_get_array (answer);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *item = json_array_get_element (array, i);
      JsonObject *o = JSON_NODE_HOLDS_OBJECT (item) ? json_node_get_object (item) : NULL;
      const char *id = o ? text_member (o, "id") : NULL;
      const char *name = o ? text_member (o, "username") : NULL;
      const char *full_name = o ? text_member (o, "full_name") : NULL;
      MorangoPerson *person;

      if (id == NULL || name == NULL)
        {
          g_set_error (&error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                       _("%s listed a learner without an id or a user name (item %u)"), call->url, i + 1);
          goto failed;
        }
      person = g_new0 (MorangoPerson, 1);
      person->id = g_strdup (id);
      person->name = g_strdup (name);
      person->full_name = g_strdup (full_name ? full_name : "");
      g_ptr_array_add (people, person);
    }
  g_task_return_pointer (task, g_steal_pointer (&people), (GDestroyNotify) g_ptr_array_unref);
  return;

failed:
  g_task_return_error (task, g_steal_pointer (&error));
}

void
morango_engine_fetch_learners_async (MorangoEngine                  *self,
                                     const char                     *url,
                                     const char                     *dataset_id,
                                     const char                     *username,
                                     const char                     *password,
                                     const MorangoEnginePeerOptions *options,
                                     GCancellable                   *cancellable,
                                     GAsyncReadyCallback             callback,
                                     gpointer                        user_data)
{
  g_autoptr(GTask) task = NULL;
  PeerCall *call;

  g_return_if_fail (MORANGO_IS_ENGINE (self));
  g_return_if_fail (url != NULL);
  g_return_if_fail (dataset_id != NULL);
  g_return_if_fail (password != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  call = peer_call_new (url, options);
  call->dataset_id = g_strdup (dataset_id);
  call->username = g_strdup (username);
  call->password = g_strdup (password);
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, morango_engine_fetch_learners_async);
  g_task_set_task_data (task, call, (GDestroyNotify) peer_call_free);
  morango_engine_run_in_own_thread (task, "morango-learners", fetch_learners_thread);
}

GPtrArray *
morango_engine_fetch_learners_finish (MorangoEngine  *self,
                                      GAsyncResult   *result,
                                      GError        **error)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

guint
morango_engine_error_get_http_status (const GError *error)
{
  const char *refused, *open;
  guint64 status;
  char *end;

  if (error == NULL || error->domain != MORANGO_ERROR)
    return 0;
  /* The wire layer's words: "<url> refused <METHOD> <path> (<status> <phrase>): …".
   * The first "refused" counts: a URL holds no space, and the peer's
   * own words come after the status. */
  refused = strstr (error->message, " refused ");
  if (refused == NULL || (open = strstr (refused, " (")) == NULL)
    return 0;
  status = g_ascii_strtoull (open + 2, &end, 10);
  if (end == open + 2 || *end != ' ' || status < 100 || status > 599)
    return 0;
  return (guint) status;
}
