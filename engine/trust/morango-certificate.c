/* morango-certificate.c: certificates (protocol §7.5–§7.7)
 *
 * A certificate is its signed text: everything here is read from
 * `serialized`, which is kept byte for byte as received, so a chain made
 * by a Python peer verifies here and ours verifies there.
 *
 * SPDX-License-Identifier: MIT
 */

#include <glib/gstdio.h>
#include <string.h>

#include "morango-certificate-private.h"
#include "morango-ids.h"
#include "morango-json.h"
#include "morango-trust.h"
#include "morango-i18n-private.h"

G_DEFINE_FINAL_TYPE (MorangoCertificate, morango_certificate, G_TYPE_OBJECT)

static void
morango_certificate_finalize (GObject *object)
{
  MorangoCertificate *self = MORANGO_CERTIFICATE (object);

  g_free (self->id);
  g_free (self->parent_id);
  g_free (self->profile);
  g_free (self->salt);
  g_free (self->scope_definition_id);
  g_free (self->scope_params);
  g_free (self->serialized);
  g_free (self->signature);
  g_clear_object (&self->key);
  G_OBJECT_CLASS (morango_certificate_parent_class)->finalize (object);
}

static void
morango_certificate_class_init (MorangoCertificateClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = morango_certificate_finalize;
}

static void
morango_certificate_init (MorangoCertificate *self)
{
}

char *
morango_certificate_compute_id (const char *public_key_string,
                                const char *profile,
                                const char *salt)
{
  g_autoptr(GPtrArray) parts = g_ptr_array_new ();
  g_autofree char *joined = NULL;

  if (public_key_string && *public_key_string)
    g_ptr_array_add (parts, (gpointer) public_key_string);
  if (profile && *profile)
    g_ptr_array_add (parts, (gpointer) profile);
  if (salt && *salt)
    g_ptr_array_add (parts, (gpointer) salt);
  g_ptr_array_add (parts, NULL);
  joined = g_strjoinv (":", (char **) parts->pdata);
  return morango_sha2_uuid (joined, NULL);
}

gboolean
invalid (GError    **error,
         const char *format,
         ...)
{
  va_list args;
  char *msg;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_INVALID, msg);
  g_free (msg);
  return FALSE;
}

/* A member that must be a string (or, when @nullable, null or absent). */
static gboolean
take_string (JsonObject  *object,
             const char  *member,
             gboolean     nullable,
             char       **out,
             GError     **error)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      if (nullable)
        {
          *out = NULL;
          return TRUE;
        }
      return invalid (error, _("The certificate's signed text has no “%s”"), member);
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return invalid (error, _("The certificate's “%s” is not a string"), member);
  *out = g_strdup (json_node_get_string (node));
  return TRUE;
}

MorangoCertificate *
morango_certificate_new_from_serialized (const char  *serialized,
                                         const char  *signature,
                                         GError     **error)
{
  g_autoptr(MorangoCertificate) self = NULL;
  g_autoptr(JsonObject) object = NULL;
  g_autofree char *public_key = NULL;
  JsonNode *version;

  g_return_val_if_fail (serialized != NULL, NULL);
  g_return_val_if_fail (signature != NULL, NULL);

  object = morango_json_parse_object (serialized, _("The certificate's signed text"), error);
  if (object == NULL)
    return NULL;

  self = g_object_new (MORANGO_TYPE_CERTIFICATE, NULL);
  if (!take_string (object, "id", FALSE, &self->id, error) ||
      !take_string (object, "parent_id", TRUE, &self->parent_id, error) ||
      !take_string (object, "profile", FALSE, &self->profile, error) ||
      !take_string (object, "salt", TRUE, &self->salt, error) ||
      !take_string (object, "scope_definition_id", FALSE, &self->scope_definition_id, error) ||
      !take_string (object, "scope_params", FALSE, &self->scope_params, error) ||
      !take_string (object, "public_key_string", FALSE, &public_key, error))
    return NULL;
  /* A missing or null salt is the empty salt (§7.5). */
  if (self->salt == NULL)
    self->salt = g_strdup ("");
  /* Ids end up in file names, messages and queries: only the shape
   * Morango itself produces is let in. */
  if (!morango_is_hex32 (self->id))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_ID_INVALID,
                   _("Certificate ID “%.40s” is not 32 lowercase hex characters"), self->id);
      return NULL;
    }
  if (self->parent_id && !morango_is_hex32 (self->parent_id))
    {
      invalid (error, _("The parent id of certificate %s is not 32 lowercase hex characters"), self->id);
      return NULL;
    }

  version = json_object_get_member (object, "scope_version");
  if (version == NULL || !JSON_NODE_HOLDS_VALUE (version) ||
      json_node_get_value_type (version) != G_TYPE_INT64)
    {
      invalid (error, _("The certificate's “scope_version” is missing or not an integer"));
      return NULL;
    }
  self->scope_version = json_node_get_int (version);

  self->key = morango_key_new_from_public (public_key, error);
  if (self->key == NULL)
    {
      g_prefix_error (error, _("Certificate %s: "), self->id);
      return NULL;
    }
  self->serialized = g_strdup (serialized);
  self->signature = g_strdup (signature);
  return g_steal_pointer (&self);
}

const char *
object_string (JsonObject *object,
               const char *member)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

MorangoCertificate *
morango_certificate_new_from_json (JsonObject  *object,
                                   GError     **error)
{
  const char *id, *serialized, *signature;
  g_autoptr(MorangoCertificate) self = NULL;

  g_return_val_if_fail (object != NULL, NULL);

  id = object_string (object, "id");
  serialized = object_string (object, "serialized");
  signature = object_string (object, "signature");
  if (id == NULL || serialized == NULL || signature == NULL)
    {
      invalid (error, _("A certificate needs the strings “id”, “serialized” and “signature”"));
      return NULL;
    }
  self = morango_certificate_new_from_serialized (serialized, signature, error);
  if (self == NULL)
    return NULL;
  if (!g_str_equal (id, self->id))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_CHAIN_INVALID,
                   _("Serialized ID does not match: the certificate claims id %s but its signed text says %s"),
                   id, self->id);
      return NULL;
    }
  return g_steal_pointer (&self);
}

JsonObject *
morango_certificate_to_json (MorangoCertificate *self)
{
  JsonObject *o;

  g_return_val_if_fail (MORANGO_IS_CERTIFICATE (self), NULL);

  o = json_object_new ();
  json_object_set_string_member (o, "id", self->id);
  if (self->parent_id)
    json_object_set_string_member (o, "parent", self->parent_id);
  else
    json_object_set_null_member (o, "parent");
  json_object_set_string_member (o, "profile", self->profile);
  json_object_set_string_member (o, "scope_definition", self->scope_definition_id);
  json_object_set_int_member (o, "scope_version", self->scope_version);
  json_object_set_string_member (o, "scope_params", self->scope_params);
  json_object_set_string_member (o, "public_key", morango_key_get_public_string (self->key));
  json_object_set_string_member (o, "serialized", self->serialized);
  json_object_set_string_member (o, "signature", self->signature);
  json_object_set_string_member (o, "salt", self->salt);
  return o;
}

#define GETTER(type, name, expr) \
  type morango_certificate_get_##name (MorangoCertificate *self) \
  { \
    g_return_val_if_fail (MORANGO_IS_CERTIFICATE (self), 0); \
    return expr; \
  }
GETTER (const char *, id, self->id)
GETTER (const char *, parent_id, self->parent_id)
GETTER (const char *, profile, self->profile)
GETTER (const char *, salt, self->salt)
GETTER (const char *, scope_definition_id, self->scope_definition_id)
GETTER (gint64, scope_version, self->scope_version)
GETTER (const char *, scope_params, self->scope_params)
GETTER (const char *, public_key_string, morango_key_get_public_string (self->key))
GETTER (const char *, serialized, self->serialized)
GETTER (const char *, signature, self->signature)
GETTER (MorangoKey *, key, self->key)
#undef GETTER

gboolean
morango_certificate_has_private_key (MorangoCertificate *self)
{
  g_return_val_if_fail (MORANGO_IS_CERTIFICATE (self), FALSE);
  return morango_key_has_private (self->key);
}

gboolean
morango_certificate_is_root (MorangoCertificate *self)
{
  g_return_val_if_fail (MORANGO_IS_CERTIFICATE (self), FALSE);
  return self->parent_id == NULL;
}

gboolean
morango_certificate_set_private_key (MorangoCertificate *self,
                                     MorangoKey         *key,
                                     GError            **error)
{
  g_return_val_if_fail (MORANGO_IS_CERTIFICATE (self), FALSE);
  g_return_val_if_fail (MORANGO_IS_KEY (key), FALSE);

  if (!morango_key_has_private (key))
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_KEY_INVALID,
                           _("The key has no private part"));
      return FALSE;
    }
  if (!morango_key_equal_public (key, self->key))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_KEY_INVALID,
                   _("The private key does not belong to certificate %s"), self->id);
      return FALSE;
    }
  g_set_object (&self->key, key);
  return TRUE;
}

MorangoScope *
morango_certificate_get_scope (MorangoCertificate *self,
                               MorangoDb          *db,
                               GError            **error)
{
  g_autoptr(MorangoScopeDefinition) def = NULL;
  MorangoScope *scope;

  g_return_val_if_fail (MORANGO_IS_CERTIFICATE (self), NULL);
  g_return_val_if_fail (MORANGO_IS_DB (db), NULL);

  def = morango_scope_definition_load (db, self->scope_definition_id, error);
  if (def == NULL)
    return NULL;
  scope = morango_scope_new (def, self->scope_params, error);
  if (scope == NULL)
    g_prefix_error (error, _("Certificate %s: "), self->id);
  return scope;
}

char *
morango_certificate_sign (MorangoCertificate *self,
                          const char         *message,
                          GError            **error)
{
  g_return_val_if_fail (MORANGO_IS_CERTIFICATE (self), NULL);
  g_return_val_if_fail (message != NULL, NULL);

  if (!morango_key_has_private (self->key))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED,
                   _("This device does not hold the private key of certificate %s"), self->id);
      return NULL;
    }
  return morango_key_sign (self->key, message, -1, error);
}

gboolean
morango_certificate_verify (MorangoCertificate *self,
                            const char         *message,
                            const char         *signature)
{
  g_return_val_if_fail (MORANGO_IS_CERTIFICATE (self), FALSE);
  g_return_val_if_fail (message != NULL, FALSE);

  return morango_key_verify (self->key, message, -1, signature);
}

/* ------------------------------------------------------------------ */
/* §7.6 */

gboolean
morango_certificate_check_with_parent (MorangoCertificate *self,
                                       MorangoCertificate *parent,
                                       MorangoDb          *db,
                                       GError            **error)
{
  g_autofree char *expected_id = NULL;
  g_autoptr(MorangoScope) scope = NULL;
  g_autoptr(MorangoScope) parent_scope = NULL;
  g_autoptr(MorangoScopeDefinition) def = NULL;

  g_return_val_if_fail (MORANGO_IS_CERTIFICATE (self), FALSE);
  g_return_val_if_fail (parent == NULL || MORANGO_IS_CERTIFICATE (parent), FALSE);
  g_return_val_if_fail (MORANGO_IS_DB (db), FALSE);

  /* Rule 1: the id is bound to the key, the profile and the salt. */
  expected_id = morango_certificate_compute_id (morango_key_get_public_string (self->key),
                                                self->profile, self->salt);
  if (!g_str_equal (expected_id, self->id))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_ID_INVALID,
                   _("Certificate ID is %s but should be %s"), self->id, expected_id);
      return FALSE;
    }

  if (self->parent_id == NULL)
    {
      MorangoFilter *sides[2];

      /* Rule 2: a root signs itself, and may only grant rights inside
       * the partitions named by its own id. */
      if (!morango_key_verify (self->key, self->serialized, -1, self->signature))
        {
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_SIGNATURE_INVALID,
                       _("The signature of root certificate %s does not verify with its own key"),
                       self->id);
          return FALSE;
        }
      /* Not in Morango: a root names a profile, and its scope definition
       * belongs to one; both must be the same, or the root grants rights
       * in a profile its definition does not describe. */
      def = morango_scope_definition_load (db, self->scope_definition_id, error);
      if (def == NULL)
        return FALSE;
      if (g_strcmp0 (self->profile, def->profile) != 0)
        {
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_PROFILE_INVALID,
                       _("Root certificate %s has profile “%s”, but its scope definition “%s” "
                       "belongs to profile “%s”"),
                       self->id, self->profile, def->id, def->profile);
          return FALSE;
        }
      scope = morango_certificate_get_scope (self, db, error);
      if (scope == NULL)
        return FALSE;
      sides[0] = morango_scope_get_read (scope);
      sides[1] = morango_scope_get_write (scope);
      for (guint s = 0; s < G_N_ELEMENTS (sides); s++)
        for (guint i = 0; i < morango_filter_get_n_entries (sides[s]); i++)
          {
            const char *entry = morango_filter_get_entry (sides[s], i);

            if (!morango_partition_has_prefix (entry, self->id))
              {
                g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_ROOT_SCOPE_INVALID,
                             _("Scope entry %s does not start with primary partition %s"),
                             entry, self->id);
                return FALSE;
              }
          }
      return TRUE;
    }

  /* Rule 3: a child is signed by its parent, within its parent's scope
   * and profile. */
  if (parent == NULL)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_PARENT_MISSING,
                   _("The parent %s of certificate %s is not stored on this device"),
                   self->parent_id, self->id);
      return FALSE;
    }
  if (!g_str_equal (parent->id, self->parent_id))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_CHAIN_INVALID,
                   _("Certificate %s names parent %s, not %s"), self->id, self->parent_id, parent->id);
      return FALSE;
    }
  if (!morango_key_verify (parent->key, self->serialized, -1, self->signature))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_SIGNATURE_INVALID,
                   _("The signature of certificate %s does not verify with its parent's key (%s)"),
                   self->id, parent->id);
      return FALSE;
    }
  scope = morango_certificate_get_scope (self, db, error);
  if (scope == NULL)
    return FALSE;
  parent_scope = morango_certificate_get_scope (parent, db, error);
  if (parent_scope == NULL)
    return FALSE;
  if (!morango_scope_is_subset_of (scope, parent_scope))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_SCOPE_NOT_SUBSET,
                   _("The scope of certificate %s is wider than the scope of its parent %s"),
                   self->id, parent->id);
      return FALSE;
    }
  if (!g_str_equal (self->profile, parent->profile))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_PROFILE_INVALID,
                   _("Certificate profile is %s but parent's is %s"), self->profile, parent->profile);
      return FALSE;
    }
  return TRUE;
}

gboolean
morango_certificate_check (MorangoCertificate *self,
                           MorangoDb          *db,
                           GError            **error)
{
  g_autoptr(MorangoCertificate) parent = NULL;

  g_return_val_if_fail (MORANGO_IS_CERTIFICATE (self), FALSE);
  g_return_val_if_fail (MORANGO_IS_DB (db), FALSE);

  if (self->parent_id != NULL)
    {
      g_autoptr(GError) local_error = NULL;

      parent = morango_certificate_load (db, self->parent_id, &local_error);
      if (parent == NULL && !g_error_matches (local_error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
    }
  return morango_certificate_check_with_parent (self, parent, db, error);
}

/* ------------------------------------------------------------------ */
/* Storage */

static MorangoCertificate *
certificate_from_row (sqlite3_stmt *stmt,
                      GError      **error)
{
  g_autoptr(MorangoCertificate) self = NULL;
  const char *pem;

  self = morango_certificate_new_from_serialized (morango_db_column_text (stmt, 1),
                                                  morango_db_column_text (stmt, 2), error);
  if (self == NULL)
    {
      g_prefix_error (error, _("Stored certificate %s is damaged: "), morango_db_column_text (stmt, 0));
      return NULL;
    }
  pem = (const char *) sqlite3_column_text (stmt, 3);
  if (pem != NULL)
    {
      g_autoptr(MorangoKey) key = morango_key_new_from_private_pem (pem, error);

      if (key == NULL || !morango_certificate_set_private_key (self, key, error))
        {
          g_prefix_error (error, _("The stored private key of certificate %s is damaged: "), self->id);
          return NULL;
        }
    }
  return g_steal_pointer (&self);
}

MorangoCertificate *
morango_certificate_load (MorangoDb   *db,
                          const char  *id,
                          GError     **error)
{
  sqlite3_stmt *stmt;
  MorangoCertificate *self;
  int rc;

  g_return_val_if_fail (MORANGO_IS_DB (db), NULL);
  g_return_val_if_fail (id != NULL, NULL);

  stmt = morango_db_prepare (db,
                             "SELECT id, serialized, signature, private_key "
                             "FROM morango_certificate WHERE id = ?", error);
  if (stmt == NULL || !morango_db_bind (db, stmt, error, "s", id))
    return NULL;
  rc = morango_db_step (db, stmt, error);
  if (rc < 0)
    return NULL;
  if (rc == SQLITE_DONE)
    {
      sqlite3_reset (stmt);
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND,
                   _("No certificate %s is stored on this device"), id);
      return NULL;
    }
  self = certificate_from_row (stmt, error);
  sqlite3_reset (stmt);
  return self;
}

/* The stored certificate with @cert's id, if any, in *@stored.  Quirk
 * 18: Morango trusts any stored id; we require the same signed text and
 * signature, or two different certificates would share an id. */
gboolean
find_stored_twin (MorangoDb           *db,
                  MorangoCertificate  *cert,
                  MorangoCertificate **stored,
                  GError             **error)
{
  g_autoptr(GError) local_error = NULL;

  *stored = morango_certificate_load (db, cert->id, &local_error);
  if (*stored == NULL)
    {
      if (g_error_matches (local_error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (!g_str_equal ((*stored)->serialized, cert->serialized) ||
      !g_str_equal ((*stored)->signature, cert->signature))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_CONFLICT,
                   _("Certificate %s is already stored with a different signed text or signature"),
                   cert->id);
      g_clear_object (stored);
      return FALSE;
    }
  return TRUE;
}

gboolean
morango_certificate_save (MorangoCertificate *self,
                          MorangoDb          *db,
                          GError            **error)
{
  g_autoptr(MorangoCertificate) stored = NULL;
  g_autofree char *pem = NULL;

  g_return_val_if_fail (MORANGO_IS_CERTIFICATE (self), FALSE);
  g_return_val_if_fail (MORANGO_IS_DB (db), FALSE);

  if (morango_key_has_private (self->key))
    {
      pem = morango_key_get_private_pem (self->key, error);
      if (pem == NULL)
        return FALSE;
    }

  if (!find_stored_twin (db, self, &stored, error))
    return FALSE;
  if (stored != NULL)
    {
      if (pem != NULL && !morango_key_has_private (stored->key))
        return morango_db_execute (db, error,
                                   "UPDATE morango_certificate SET private_key = ? WHERE id = ?",
                                   "ss", pem, self->id);
      return TRUE;
    }

  return morango_db_execute (db, error,
                             "INSERT INTO morango_certificate (id, parent_id, profile, "
                             "  scope_definition_id, scope_version, scope_params, public_key, salt, "
                             "  serialized, signature, private_key, seq) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                             "  (SELECT coalesce(max(seq), 0) + 1 FROM morango_certificate))",
                             "ssssissssss",
                             self->id, self->parent_id, self->profile, self->scope_definition_id,
                             self->scope_version, self->scope_params,
                             morango_key_get_public_string (self->key), self->salt,
                             self->serialized, self->signature, pem);
}

static void
append_subtree (GPtrArray  *out,
                GHashTable *children,
                const char *id)
{
  GPtrArray *kids = g_hash_table_lookup (children, id ? id : "");

  if (kids == NULL)
    return;
  for (guint i = 0; i < kids->len; i++)
    {
      MorangoCertificate *c = g_ptr_array_index (kids, i);

      g_ptr_array_add (out, g_object_ref (c));
      append_subtree (out, children, c->id);
    }
}

GPtrArray *
morango_certificate_list (MorangoDb *db,
                          GError   **error)
{
  g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GHashTable) children = NULL;
  g_autoptr(GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);
  GPtrArray *out;
  sqlite3_stmt *stmt;
  int rc;

  g_return_val_if_fail (MORANGO_IS_DB (db), NULL);

  stmt = morango_db_prepare (db,
                             "SELECT id, serialized, signature, private_key "
                             "FROM morango_certificate ORDER BY seq", error);
  if (stmt == NULL)
    return NULL;
  while ((rc = morango_db_step (db, stmt, error)) == SQLITE_ROW)
    {
      MorangoCertificate *c = certificate_from_row (stmt, error);

      if (c == NULL)
        {
          sqlite3_reset (stmt);
          return NULL;
        }
      g_ptr_array_add (all, c);
      g_hash_table_add (ids, c->id);
    }
  if (rc < 0)
    return NULL;
  sqlite3_reset (stmt);

  /* Parents before children, siblings in insertion order: the order
   * Morango's tree gives (§8.3.1). */
  children = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) g_ptr_array_unref);
  for (guint i = 0; i < all->len; i++)
    {
      MorangoCertificate *c = g_ptr_array_index (all, i);
      /* An orphan (parent not stored) is listed among the roots. */
      const char *key = c->parent_id && g_hash_table_contains (ids, c->parent_id) ? c->parent_id : "";
      GPtrArray *kids = g_hash_table_lookup (children, key);

      if (kids == NULL)
        {
          kids = g_ptr_array_new ();
          g_hash_table_insert (children, (gpointer) key, kids);
        }
      g_ptr_array_add (kids, c);
    }
  out = g_ptr_array_new_with_free_func (g_object_unref);
  append_subtree (out, children, NULL);
  return out;
}

GPtrArray *
morango_certificate_get_chain (MorangoDb   *db,
                               const char  *id,
                               GError     **error)
{
  g_autoptr(GPtrArray) chain = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree char *next = NULL;

  g_return_val_if_fail (MORANGO_IS_DB (db), NULL);
  g_return_val_if_fail (id != NULL, NULL);

  next = g_strdup (id);
  while (next != NULL)
    {
      MorangoCertificate *c = morango_certificate_load (db, next, error);

      if (c == NULL)
        return NULL;
      g_ptr_array_insert (chain, 0, c);
      g_free (next);
      next = g_strdup (c->parent_id);
      if (chain->len > 64)
        {
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_CHAIN_INVALID,
                       _("The chain of certificate %s is too long or loops"), id);
          return NULL;
        }
    }
  return g_steal_pointer (&chain);
}

GPtrArray *
morango_certificate_list_subtree (MorangoDb   *db,
                                  const char  *id,
                                  gboolean     owned_only,
                                  GError     **error)
{
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GHashTable) inside = g_hash_table_new (g_str_hash, g_str_equal);
  GPtrArray *out;

  g_return_val_if_fail (MORANGO_IS_DB (db), NULL);
  g_return_val_if_fail (id != NULL, NULL);

  /* The full list is in pre-order, so a certificate is inside the
   * subtree exactly when it is @id or its parent already is. */
  all = morango_certificate_list (db, error);
  if (all == NULL)
    return NULL;
  out = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < all->len; i++)
    {
      MorangoCertificate *c = g_ptr_array_index (all, i);

      if (!g_str_equal (c->id, id) &&
          !(c->parent_id && g_hash_table_contains (inside, c->parent_id)))
        continue;
      g_hash_table_add (inside, c->id);
      if (!owned_only || morango_key_has_private (c->key))
        g_ptr_array_add (out, g_object_ref (c));
    }
  return out;
}

/* ------------------------------------------------------------------ */
/* Creating certificates (§7.7) */

/* The signed text in Python's json.dumps format and key order (§7.5). */
static char *
serialize (MorangoCertificate *self)
{
  g_autoptr(JsonObject) o = json_object_new ();

  json_object_set_string_member (o, "id", self->id);
  if (self->parent_id)
    json_object_set_string_member (o, "parent_id", self->parent_id);
  else
    json_object_set_null_member (o, "parent_id");
  json_object_set_string_member (o, "profile", self->profile);
  json_object_set_string_member (o, "salt", self->salt);
  json_object_set_string_member (o, "scope_definition_id", self->scope_definition_id);
  json_object_set_int_member (o, "scope_version", self->scope_version);
  json_object_set_string_member (o, "scope_params", self->scope_params);
  json_object_set_string_member (o, "public_key_string", morango_key_get_public_string (self->key));
  return morango_json_dumps_object (o);
}

MorangoCertificate *
morango_certificate_create_root (MorangoDb   *db,
                                 const char  *scope_definition_id,
                                 JsonObject  *extra_params,
                                 MorangoKey  *key,
                                 GError     **error)
{
  g_autoptr(MorangoScopeDefinition) def = NULL;
  g_autoptr(MorangoCertificate) self = NULL;
  g_autoptr(JsonObject) params = NULL;
  g_autoptr(MorangoKey) own_key = NULL;
  g_autoptr(MorangoTransaction) tx = NULL;

  g_return_val_if_fail (MORANGO_IS_DB (db), NULL);
  g_return_val_if_fail (scope_definition_id != NULL, NULL);
  g_return_val_if_fail (key == NULL || MORANGO_IS_KEY (key), NULL);

  def = morango_scope_definition_load (db, scope_definition_id, error);
  if (def == NULL)
    return NULL;
  if (def->primary_scope_param_key == NULL || *def->primary_scope_param_key == '\0')
    {
      invalid (error, _("Scope definition “%s” has no primary scope param key, so it cannot make a root certificate"),
               def->id);
      return NULL;
    }
  if (key == NULL)
    {
      own_key = morango_key_generate (error);
      if (own_key == NULL)
        return NULL;
      key = own_key;
    }
  if (!morango_key_has_private (key))
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_KEY_INVALID,
                           _("A root certificate needs a private key to sign itself"));
      return NULL;
    }

  self = g_object_new (MORANGO_TYPE_CERTIFICATE, NULL);
  self->key = g_object_ref (key);
  self->profile = g_strdup (def->profile);
  self->salt = g_strdup ("");
  self->scope_definition_id = g_strdup (def->id);
  self->scope_version = def->version;
  self->id = morango_certificate_compute_id (morango_key_get_public_string (key), self->profile, "");

  params = json_object_new ();
  json_object_set_string_member (params, def->primary_scope_param_key, self->id);
  if (extra_params != NULL)
    {
      g_autoptr(GList) members = json_object_get_members (extra_params);

      for (GList *l = members; l; l = l->next)
        if (!g_str_equal (l->data, def->primary_scope_param_key))
          json_object_set_member (params, l->data,
                                  json_node_copy (json_object_get_member (extra_params, l->data)));
    }
  self->scope_params = morango_json_dumps_object (params);
  self->serialized = serialize (self);
  self->signature = morango_key_sign (key, self->serialized, -1, error);
  if (self->signature == NULL)
    return NULL;

  if (!morango_certificate_check_with_parent (self, NULL, db, error) ||
      (tx = morango_transaction_begin (db, NULL, error)) == NULL ||
      !morango_certificate_save (self, db, error) ||
      !morango_trust_add_root (db, self->id, "created on this device", error) ||
      !morango_transaction_commit (tx, error))
    return NULL;
  return g_steal_pointer (&self);
}

/* Builds and signs a child; shared by local issuing and by the issuer's
 * side of a signing request, which takes the profile from the request
 * so that check_certificate can refuse a different one. */
MorangoCertificate *
build_child (MorangoDb          *db,
             MorangoCertificate *parent,
             const char         *profile,
             const char         *scope_definition_id,
             gint64              scope_version,
             const char         *scope_params,
             MorangoKey         *key,
             const char         *salt,
             GError            **error)
{
  g_autoptr(MorangoScopeDefinition) def = NULL;
  g_autoptr(MorangoCertificate) self = NULL;
  g_autoptr(JsonObject) params = NULL;

  if (!morango_key_has_private (parent->key))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED,
                   _("This device does not hold the private key of certificate %s, so it cannot issue certificates under it"),
                   parent->id);
      return NULL;
    }
  def = morango_scope_definition_load (db, scope_definition_id, error);
  if (def == NULL)
    return NULL;
  /* Only a JSON object is a valid scope_params text. */
  params = morango_json_parse_object (scope_params, "scope_params", error);
  if (params == NULL)
    return NULL;

  self = g_object_new (MORANGO_TYPE_CERTIFICATE, NULL);
  self->key = g_object_ref (key);
  self->parent_id = g_strdup (parent->id);
  self->profile = g_strdup (profile);
  self->salt = g_strdup (salt ? salt : "");
  self->scope_definition_id = g_strdup (def->id);
  self->scope_version = scope_version < 0 ? def->version : scope_version;
  self->scope_params = g_strdup (scope_params);
  self->id = morango_certificate_compute_id (morango_key_get_public_string (key), self->profile, self->salt);
  self->serialized = serialize (self);
  self->signature = morango_key_sign (parent->key, self->serialized, -1, error);
  if (self->signature == NULL)
    return NULL;
  if (!morango_certificate_check_with_parent (self, parent, db, error))
    return NULL;
  return g_steal_pointer (&self);
}

MorangoCertificate *
morango_certificate_issue (MorangoDb          *db,
                           MorangoCertificate *parent,
                           const char         *scope_definition_id,
                           gint64              scope_version,
                           const char         *scope_params,
                           MorangoKey         *key,
                           const char         *salt,
                           GError            **error)
{
  g_return_val_if_fail (MORANGO_IS_DB (db), NULL);
  g_return_val_if_fail (MORANGO_IS_CERTIFICATE (parent), NULL);
  g_return_val_if_fail (scope_definition_id != NULL, NULL);
  g_return_val_if_fail (scope_params != NULL, NULL);
  g_return_val_if_fail (MORANGO_IS_KEY (key), NULL);

  return build_child (db, parent, parent->profile, scope_definition_id, scope_version,
                      scope_params, key, salt, error);
}
