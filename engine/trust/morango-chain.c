/* morango-chain.c: certificate chains: import, export, backup and restore (protocol §7.6)
 *
 * SPDX-License-Identifier: MIT
 */

#include "morango-certificate-private.h"
#include "morango-chain.h"
#include "morango-json.h"
#include "morango-trust.h"
#include "morango-i18n-private.h"

/* ------------------------------------------------------------------ */
/* Chains */

JsonArray *
chain_array (JsonNode  *chain,
             JsonNode **owned,
             GError   **error)
{
  if (JSON_NODE_HOLDS_VALUE (chain) && json_node_get_value_type (chain) == G_TYPE_STRING)
    {
      /* The certificatechain payload: an array encoded once more as a
       * JSON string (§8.3.3). */
      *owned = morango_json_parse (json_node_get_string (chain), _("The certificate chain"), error);
      if (*owned == NULL)
        return NULL;
      chain = *owned;
      if (JSON_NODE_HOLDS_VALUE (chain) && json_node_get_value_type (chain) == G_TYPE_STRING)
        {
          invalid (error, _("The certificate chain is encoded as a string more than once"));
          return NULL;
        }
    }
  if (JSON_NODE_HOLDS_OBJECT (chain))
    {
      JsonArray *arr = json_array_new ();

      json_array_add_element (arr, json_node_copy (chain));
      return arr;
    }
  if (!JSON_NODE_HOLDS_ARRAY (chain))
    {
      invalid (error, _("A certificate chain must be a JSON array of certificates, root first"));
      return NULL;
    }
  if (json_array_get_length (json_node_get_array (chain)) == 0)
    {
      invalid (error, _("The certificate chain is empty"));
      return NULL;
    }
  return json_array_ref (json_node_get_array (chain));
}

gboolean
chain_error (GError    **error,
             const char *message)
{
  g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_CERT_CHAIN_INVALID, message);
  return FALSE;
}

MorangoCertificate *
morango_certificate_chain_import (MorangoDb               *db,
                                  JsonNode                *chain,
                                  const char              *expected_last_id,
                                  MorangoChainImportFlags  flags,
                                  MorangoMonitor          *monitor,
                                  GError                 **error)
{
  g_autoptr(MorangoTransaction) tx = NULL;
  g_autoptr(JsonNode) owned = NULL;
  g_autoptr(JsonArray) arr = NULL;
  g_autoptr(GPtrArray) pending = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(MorangoCertificate) base = NULL;
  /* Like Morango, an empty expected id means "no expectation". */
  g_autofree char *expected = expected_last_id && *expected_last_id ? g_strdup (expected_last_id) : NULL;
  g_autofree char *root_id = NULL;
  gboolean root_is_new = FALSE;
  gboolean trust_new;
  guint n;

  g_return_val_if_fail (MORANGO_IS_DB (db), NULL);
  g_return_val_if_fail (chain != NULL, NULL);
  g_return_val_if_fail (monitor == NULL || MORANGO_IS_MONITOR (monitor), NULL);

  /* A monitor cancelled already hears nothing. */
  if (!morango_monitor_check_cancelled (monitor, error))
    return NULL;
  morango_monitor_stage_begin (monitor, "chain-import", -1);

  arr = chain_array (chain, &owned, error);
  if (arr == NULL)
    return NULL;
  n = json_array_get_length (arr);
  if (n > 64)
    {
      chain_error (error, _("The certificate chain is too long"));
      return NULL;
    }

  /* Morango's recursion, walked from the leaf towards the root: each
   * link must be the parent the next one names, and the walk stops at
   * the first certificate already stored here. */
  for (guint k = n; k-- > 0; )
    {
      JsonNode *element = json_array_get_element (arr, k);
      g_autoptr(MorangoCertificate) x = NULL;
      g_autoptr(MorangoCertificate) stored = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (element))
        {
          invalid (error, _("Element %u of the certificate chain is not an object"), k);
          return NULL;
        }
      x = morango_certificate_new_from_json (json_node_get_object (element), error);
      if (x == NULL)
        return NULL;
      if (expected != NULL && !g_str_equal (x->id, expected))
        {
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_CHAIN_INVALID,
                       _("ID does not match expected value: the chain has %s where %s was expected"),
                       x->id, expected);
          return NULL;
        }
      if (!find_stored_twin (db, x, &stored, error))
        {
          g_prefix_error (error, _("Refusing the chain: "));
          return NULL;
        }
      if (stored != NULL)
        {
          base = g_steal_pointer (&stored);
          break;
        }
      if (k > 0)
        {
          if (x->parent_id == NULL)
            {
              chain_error (error, _("A root certificate can only be the first of a chain"));
              return NULL;
            }
          g_free (expected);
          expected = g_strdup (x->parent_id);
        }
      else if (x->parent_id != NULL)
        {
          chain_error (error, _("First cert in chain must be a root cert (no parent)"));
          return NULL;
        }
      g_ptr_array_insert (pending, 0, g_steal_pointer (&x));
    }

  /* Every rule of §7.6, root side first, before anything is stored.
   * Checking a signature is the long part: each certificate checked is
   * one done. */
  morango_monitor_set_total (monitor, pending->len);
  for (guint i = 0; i < pending->len; i++)
    {
      MorangoCertificate *x = g_ptr_array_index (pending, i);
      MorangoCertificate *parent = i > 0 ? g_ptr_array_index (pending, i - 1) : base;

      if (!morango_certificate_check_with_parent (x, x->parent_id ? parent : NULL, db, error) ||
          !morango_monitor_advance (monitor, 1, 0, error))
        return NULL;
    }

  /* Trust, a step Morango does not have: the chain must end in a root
   * this device created or its user chose to trust. */
  if (pending->len > 0 && morango_certificate_is_root (g_ptr_array_index (pending, 0)))
    {
      root_id = g_strdup (((MorangoCertificate *) g_ptr_array_index (pending, 0))->id);
      root_is_new = TRUE;
    }
  else
    {
      g_autoptr(GPtrArray) stored_chain = morango_certificate_get_chain (db, base->id, error);

      if (stored_chain == NULL)
        return NULL;
      root_id = g_strdup (((MorangoCertificate *) g_ptr_array_index (stored_chain, 0))->id);
    }
  trust_new = root_is_new && (flags & MORANGO_CHAIN_IMPORT_TRUST_NEW_ROOT) != 0;
  if (!(flags & (MORANGO_CHAIN_IMPORT_TRUST_ROOT | MORANGO_CHAIN_IMPORT_NO_TRUST)) && !trust_new &&
      !morango_trust_is_trusted (db, root_id))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_UNTRUSTED,
                   _("The chain ends in root certificate %s, which this device does not trust"),
                   root_id);
      return NULL;
    }

  /* A cancel from here on rolls the saves back, at the latest when the
   * transaction would commit. */
  if ((tx = morango_transaction_begin (db, monitor, error)) == NULL)
    return NULL;
  if ((flags & MORANGO_CHAIN_IMPORT_TRUST_ROOT) &&
      !morango_trust_add_root (db, root_id, "trusted by the user", error))
    return NULL;
  if (trust_new && !(flags & MORANGO_CHAIN_IMPORT_TRUST_ROOT) &&
      !morango_trust_add_root (db, root_id, "trusted on first use", error))
    return NULL;
  for (guint i = 0; i < pending->len; i++)
    if (!morango_certificate_save (g_ptr_array_index (pending, i), db, error))
      return NULL;
  if (!morango_transaction_commit (tx, error))
    return NULL;

  morango_monitor_stage_end (monitor);
  if (pending->len > 0)
    return g_object_ref (g_ptr_array_index (pending, pending->len - 1));
  return g_steal_pointer (&base);
}

MorangoCertificate *
morango_certificate_chain_import_text (MorangoDb               *db,
                                       const char              *text,
                                       const char              *expected_last_id,
                                       MorangoChainImportFlags  flags,
                                       MorangoMonitor          *monitor,
                                       GError                 **error)
{
  g_autoptr(JsonNode) node = NULL;

  g_return_val_if_fail (MORANGO_IS_DB (db), NULL);
  g_return_val_if_fail (text != NULL, NULL);

  node = morango_json_parse (text, _("The certificate chain"), error);
  if (node == NULL)
    return NULL;
  return morango_certificate_chain_import (db, node, expected_last_id, flags, monitor, error);
}

JsonArray *
morango_certificate_chain_export (MorangoDb   *db,
                                  const char  *id,
                                  GError     **error)
{
  g_autoptr(GPtrArray) chain = NULL;
  JsonArray *arr;

  g_return_val_if_fail (MORANGO_IS_DB (db), NULL);
  g_return_val_if_fail (id != NULL, NULL);

  chain = morango_certificate_get_chain (db, id, error);
  if (chain == NULL)
    return NULL;
  arr = json_array_new ();
  for (guint i = 0; i < chain->len; i++)
    json_array_add_object_element (arr, morango_certificate_to_json (g_ptr_array_index (chain, i)));
  return arr;
}

char *
morango_certificate_chain_export_text (MorangoDb   *db,
                                       const char  *id,
                                       GError     **error)
{
  g_autoptr(JsonArray) arr = morango_certificate_chain_export (db, id, error);
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *text = NULL;

  if (arr == NULL)
    return NULL;
  node = json_node_init_array (json_node_alloc (), arr);
  text = morango_json_dumps (node);
  return g_strconcat (text, "\n", NULL);
}

/* ------------------------------------------------------------------ */
/* Backup */

#define BACKUP_FORMAT "morango-certificate-backup"
#define BACKUP_VERSION 1

char *
morango_certificate_backup (MorangoDb   *db,
                            const char  *id,
                            const char  *passphrase,
                            GError     **error)
{
  g_autoptr(MorangoCertificate) self = NULL;
  g_autoptr(JsonArray) chain = NULL;
  g_autoptr(JsonObject) o = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *encrypted = NULL;
  g_autofree char *text = NULL;

  g_return_val_if_fail (MORANGO_IS_DB (db), NULL);
  g_return_val_if_fail (id != NULL, NULL);
  g_return_val_if_fail (passphrase != NULL, NULL);

  self = morango_certificate_load (db, id, error);
  if (self == NULL)
    return NULL;
  if (!morango_key_has_private (self->key))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED,
                   _("This device does not hold the private key of certificate %s: there is nothing to back up"),
                   id);
      return NULL;
    }
  encrypted = morango_key_export_encrypted (self->key, passphrase, error);
  if (encrypted == NULL)
    return NULL;
  chain = morango_certificate_chain_export (db, id, error);
  if (chain == NULL)
    return NULL;

  o = json_object_new ();
  json_object_set_string_member (o, "format", BACKUP_FORMAT);
  json_object_set_int_member (o, "version", BACKUP_VERSION);
  json_object_set_string_member (o, "certificate_id", id);
  json_object_set_array_member (o, "chain", json_array_ref (chain));
  json_object_set_string_member (o, "encrypted_private_key", encrypted);
  node = json_node_init_object (json_node_alloc (), o);
  text = morango_json_dumps (node);
  return g_strconcat (text, "\n", NULL);
}

gboolean
morango_certificate_backup_to_file (MorangoDb   *db,
                                    const char  *id,
                                    const char  *passphrase,
                                    const char  *path,
                                    GError     **error)
{
  g_autofree char *text = NULL;

  g_return_val_if_fail (path != NULL, FALSE);

  text = morango_certificate_backup (db, id, passphrase, error);
  if (text == NULL)
    return FALSE;
  /* Encrypted or not, a private key only goes to a file only its owner
   * can read. */
  return g_file_set_contents_full (path, text, -1,
                                   G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_ONLY_EXISTING,
                                   0600, error);
}

gboolean
morango_certificate_text_is_backup (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonNode *root, *format;

  g_return_val_if_fail (text != NULL, FALSE);

  if (!json_parser_load_from_data (parser, text, -1, NULL))
    return FALSE;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return FALSE;
  format = json_object_get_member (json_node_get_object (root), "format");
  return format != NULL && JSON_NODE_HOLDS_VALUE (format) &&
         json_node_get_value_type (format) == G_TYPE_STRING &&
         g_str_equal (json_node_get_string (format), BACKUP_FORMAT);
}

MorangoCertificate *
morango_certificate_restore (MorangoDb       *db,
                             const char      *backup,
                             const char      *passphrase,
                             MorangoMonitor  *monitor,
                             GError         **error)
{
  g_autoptr(MorangoTransaction) tx = NULL;
  g_autoptr(JsonObject) o = NULL;
  g_autoptr(MorangoKey) key = NULL;
  g_autoptr(MorangoCertificate) last = NULL;
  g_autoptr(MorangoCertificate) leaf = NULL;
  g_autoptr(JsonNode) chain = NULL;
  const char *format, *id, *encrypted;
  JsonNode *chain_member;
  JsonArray *arr;

  g_return_val_if_fail (MORANGO_IS_DB (db), NULL);
  g_return_val_if_fail (backup != NULL, NULL);
  g_return_val_if_fail (passphrase != NULL, NULL);
  g_return_val_if_fail (monitor == NULL || MORANGO_IS_MONITOR (monitor), NULL);

  o = morango_json_parse_object (backup, _("The backup"), error);
  if (o == NULL)
    return NULL;
  format = object_string (o, "format");
  id = object_string (o, "certificate_id");
  encrypted = object_string (o, "encrypted_private_key");
  chain_member = json_object_get_member (o, "chain");
  if (g_strcmp0 (format, BACKUP_FORMAT) != 0 || id == NULL || encrypted == NULL ||
      chain_member == NULL || !JSON_NODE_HOLDS_ARRAY (chain_member))
    {
      invalid (error, _("The file is not a Morango Sync certificate backup"));
      return NULL;
    }
  /* A later format may hold what this one cannot read: refuse it
   * whole rather than half understood. */
  {
    JsonNode *version = json_object_get_member (o, "version");

    if (version == NULL || !JSON_NODE_HOLDS_VALUE (version) ||
        json_node_get_value_type (version) != G_TYPE_INT64 ||
        json_node_get_int (version) != BACKUP_VERSION)
      {
        g_autofree char *shown = version ? morango_json_dumps (version) : NULL;

        if (shown == NULL)
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                       _("The backup names no version; this Morango Sync reads version %d only"),
                       BACKUP_VERSION);
        else
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                       _("The backup is of version %s; this Morango Sync reads version %d only"),
                       shown, BACKUP_VERSION);
        return NULL;
      }
  }
  arr = json_node_get_array (chain_member);
  if (json_array_get_length (arr) == 0)
    {
      invalid (error, _("The backup holds no certificate"));
      return NULL;
    }

  /* The passphrase first, so that a wrong one changes nothing. */
  key = morango_key_new_from_encrypted (encrypted, passphrase, error);
  if (key == NULL)
    return NULL;
  leaf = morango_certificate_new_from_json (json_array_get_object_element (arr, json_array_get_length (arr) - 1),
                                            error);
  if (leaf == NULL)
    return NULL;
  if (!morango_certificate_set_private_key (leaf, key, error))
    return NULL;

  if ((tx = morango_transaction_begin (db, monitor, error)) == NULL)
    return NULL;
  chain = json_node_init_array (json_node_alloc (), arr);
  last = morango_certificate_chain_import (db, chain, id, MORANGO_CHAIN_IMPORT_TRUST_ROOT, monitor,
                                           error);
  if (last == NULL ||
      !morango_certificate_save (leaf, db, error) ||
      !morango_transaction_commit (tx, error))
    return NULL;
  return g_steal_pointer (&leaf);
}
