/* morango-shared-key.c: shared keys and certificate pushing (protocol §1.15, §7.8 (b))
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include "morango-certificate-private.h"
#include "morango-chain.h"
#include "morango-json.h"
#include "morango-nonce.h"
#include "morango-shared-key.h"
#include "morango-i18n-private.h"

/* ------------------------------------------------------------------ */
/* Shared keys and certificate pushing */

GPtrArray *
morango_shared_key_list (MorangoDb *db,
                         GError   **error)
{
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func (g_object_unref);
  sqlite3_stmt *stmt;
  int rc;

  g_return_val_if_fail (MORANGO_IS_DB (db), NULL);

  stmt = morango_db_prepare (db, "SELECT private_key FROM morango_sharedkey WHERE current = 1 ORDER BY id",
                             error);
  if (stmt == NULL)
    return NULL;
  while ((rc = morango_db_step (db, stmt, error)) == SQLITE_ROW)
    {
      MorangoKey *key = morango_key_new_from_private_pem (morango_db_column_text (stmt, 0), error);

      if (key == NULL)
        {
          sqlite3_reset (stmt);
          g_prefix_error (error, _("A stored shared key is damaged: "));
          return NULL;
        }
      g_ptr_array_add (keys, key);
    }
  if (rc < 0)
    return NULL;
  sqlite3_reset (stmt);
  return g_steal_pointer (&keys);
}

MorangoKey *
morango_shared_key_get_or_create (MorangoDb  *db,
                                  gboolean    force_new,
                                  GError    **error)
{
  g_autoptr(GPtrArray) keys = NULL;
  g_autoptr(MorangoKey) key = NULL;
  g_autofree char *pem = NULL;
  g_autoptr(MorangoTransaction) tx = NULL;

  g_return_val_if_fail (MORANGO_IS_DB (db), NULL);

  if (!force_new)
    {
      keys = morango_shared_key_list (db, error);
      if (keys == NULL)
        return NULL;
      if (keys->len > 0)
        return g_object_ref (g_ptr_array_index (keys, keys->len - 1));
    }
  key = morango_key_generate (error);
  if (key == NULL)
    return NULL;
  pem = morango_key_get_private_pem (key, error);
  if (pem == NULL)
    return NULL;
  if ((tx = morango_transaction_begin (db, NULL, error)) == NULL ||
      !morango_db_execute (db, error, "UPDATE morango_sharedkey SET current = 0", "") ||
      !morango_db_execute (db, error,
                           "INSERT INTO morango_sharedkey (public_key, private_key, current) VALUES (?, ?, 1)",
                           "ss", morango_key_get_public_string (key), pem) ||
      !morango_transaction_commit (tx, error))
    return NULL;
  return g_steal_pointer (&key);
}

MorangoKey *
morango_shared_key_lookup (MorangoDb  *db,
                           gint64      id,
                           GError    **error)
{
  g_autofree char *pem = NULL;
  MorangoKey *key;

  g_return_val_if_fail (MORANGO_IS_DB (db), NULL);

  if (!morango_db_query_text (db, &pem, error,
                              "SELECT private_key FROM morango_sharedkey WHERE id = ? AND current = 1",
                              "i", id))
    return NULL;
  if (pem == NULL)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND, _("No shared key %lld"), (long long) id);
      return NULL;
    }
  key = morango_key_new_from_private_pem (pem, error);
  explicit_bzero (pem, strlen (pem));
  if (key == NULL)
    g_prefix_error (error, _("A stored shared key is damaged: "));
  return key;
}

static void
set_step (MorangoPushStep *out,
          MorangoPushStep  step)
{
  if (out != NULL)
    *out = step;
}

MorangoCertificate *
morango_certificate_accept_pushed_full (MorangoDb               *db,
                                        JsonNode                *chain,
                                        MorangoChainImportFlags  flags,
                                        gint64                   now_usec,
                                        MorangoPushStep         *failed_step,
                                        GError                 **error)
{
  g_autoptr(JsonNode) owned = NULL;
  g_autoptr(JsonArray) arr = NULL;
  g_autoptr(JsonArray) head = NULL;
  g_autoptr(JsonNode) head_node = NULL;
  g_autoptr(MorangoCertificate) x = NULL;
  g_autoptr(MorangoCertificate) parent = NULL;
  g_autoptr(GPtrArray) shared = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(MorangoTransaction) tx = NULL;
  MorangoKey *shared_key = NULL;
  guint n;

  g_return_val_if_fail (MORANGO_IS_DB (db), NULL);
  g_return_val_if_fail (chain != NULL, NULL);

  set_step (failed_step, MORANGO_PUSH_STEP_SHAPE);
  arr = chain_array (chain, &owned, error);
  if (arr == NULL)
    return NULL;
  n = json_array_get_length (arr);
  if (n < 2 || !JSON_NODE_HOLDS_OBJECT (json_array_get_element (arr, n - 1)))
    {
      chain_error (error, _("A pushed chain needs the issuer's chain followed by the new certificate"));
      return NULL;
    }
  x = morango_certificate_new_from_json (json_array_get_object_element (arr, n - 1), error);
  if (x == NULL)
    return NULL;
  if (x->parent_id == NULL)
    {
      chain_error (error, _("A pushed certificate cannot be a root"));
      return NULL;
    }

  set_step (failed_step, MORANGO_PUSH_STEP_CHAIN);
  if ((tx = morango_transaction_begin (db, NULL, error)) == NULL)
    return NULL;

  /* The issuer's chain, up to and including the parent. */
  head = json_array_new ();
  for (guint i = 0; i + 1 < n; i++)
    json_array_add_element (head, json_node_copy (json_array_get_element (arr, i)));
  head_node = json_node_init_array (json_node_alloc (), head);
  parent = morango_certificate_chain_import (db, head_node, x->parent_id,
                                             flags & (MORANGO_CHAIN_IMPORT_TRUST_NEW_ROOT |
                                                      MORANGO_CHAIN_IMPORT_NO_TRUST),
                                             NULL, &local_error);
  if (parent == NULL)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error), _("Saving certificate chain has failed: "));
      return NULL;
    }

  set_step (failed_step, MORANGO_PUSH_STEP_SHARED_KEY);
  shared = morango_shared_key_list (db, error);
  if (shared == NULL)
    return NULL;
  for (guint i = 0; i < shared->len; i++)
    if (morango_key_equal_public (g_ptr_array_index (shared, i), x->key))
      shared_key = g_ptr_array_index (shared, i);
  if (shared_key == NULL)
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_KEY_INVALID, _("Shared public key was not used"));
      return NULL;
    }

  /* The salt is the nonce; using it also deletes it, and that deletion
   * is committed even when the certificate turns out to be invalid. */
  set_step (failed_step, MORANGO_PUSH_STEP_NONCE);
  if (!morango_nonce_use (db, x->salt, now_usec, &local_error))
    {
      /* The import goes; the nonce is deleted for good outside it. */
      g_clear_pointer (&tx, morango_transaction_free);
      if (g_error_matches (local_error, MORANGO_ERROR, MORANGO_ERROR_NONCE_INVALID))
        morango_db_execute (db, NULL, "DELETE FROM morango_nonce WHERE id = ?", "s", x->salt);
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error), _("Nonce (certificate's salt) is not valid: "));
      return NULL;
    }
  set_step (failed_step, MORANGO_PUSH_STEP_CERTIFICATE);
  if (!morango_certificate_check_with_parent (x, parent, db, error) ||
      !morango_certificate_set_private_key (x, shared_key, error) ||
      !morango_certificate_save (x, db, error) ||
      !morango_transaction_commit (tx, error))
    {
      /* Rolled back here, or by the failed commit itself. */
      g_clear_pointer (&tx, morango_transaction_free);
      morango_db_execute (db, NULL, "DELETE FROM morango_nonce WHERE id = ?", "s", x->salt);
      return NULL;
    }
  return g_steal_pointer (&x);
}

MorangoCertificate *
morango_certificate_accept_pushed (MorangoDb *db,
                                   JsonNode  *chain,
                                   gint64     now_usec,
                                   GError   **error)
{
  return morango_certificate_accept_pushed_full (db, chain, MORANGO_CHAIN_IMPORT_DEFAULT, now_usec, NULL, error);
}
