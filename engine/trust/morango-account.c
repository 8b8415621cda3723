/* morango-account.c: accounts that may ask this device for certificates
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include "morango-account.h"
#include "morango-password.h"
#include "morango-i18n-private.h"

struct _MorangoAccount
{
  GObject  parent_instance;
  char    *name;
  GStrv    scopes;
  char    *created;
};

G_DEFINE_FINAL_TYPE (MorangoAccount, morango_account, G_TYPE_OBJECT)

/* Checked against when the name is unknown, so that an unknown name
 * costs what a wrong password costs.  No password derives to this hash
 * that anyone knows of, and the result is thrown away anyway. */
#define DUMMY_HASH "pbkdf2_sha256$600000$bm8gc3VjaCBhY2NvdW50IQ==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

static void
morango_account_finalize (GObject *object)
{
  MorangoAccount *self = MORANGO_ACCOUNT (object);

  g_free (self->name);
  g_strfreev (self->scopes);
  g_free (self->created);
  G_OBJECT_CLASS (morango_account_parent_class)->finalize (object);
}

static void
morango_account_class_init (MorangoAccountClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = morango_account_finalize;
}

static void
morango_account_init (MorangoAccount *self)
{
}

const char *
morango_account_get_name (MorangoAccount *self)
{
  g_return_val_if_fail (MORANGO_IS_ACCOUNT (self), NULL);
  return self->name;
}

const char * const *
morango_account_get_scopes (MorangoAccount *self)
{
  g_return_val_if_fail (MORANGO_IS_ACCOUNT (self), NULL);
  return (const char * const *) self->scopes;
}

const char *
morango_account_get_created (MorangoAccount *self)
{
  g_return_val_if_fail (MORANGO_IS_ACCOUNT (self), NULL);
  return self->created;
}

static gboolean
valid_name (const char  *name,
            GError     **error)
{
  if (*name == '\0' || !g_utf8_validate (name, -1, NULL) || g_utf8_strlen (name, -1) > 150)
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                           _("An account name must be UTF-8 text of 1 to 150 characters"));
      return FALSE;
    }
  for (const char *p = name; *p; p++)
    if (g_ascii_iscntrl (*p) || *p == ':' || *p == '=' || *p == '&')
      {
        /* HTTP Basic splits at the first ':', and a Morango server reads
         * a user part holding '=' as key=value pairs joined by '&'. */
        g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                     _("An account name cannot hold control characters, “:”, “=” or “&”"));
        return FALSE;
      }
  return TRUE;
}

gboolean
morango_account_name_is_valid (const char  *name,
                               GError     **error)
{
  g_return_val_if_fail (name != NULL, FALSE);
  return valid_name (name, error);
}

/* What storing a password may do to the account of that name. */
typedef enum {
  STORE_CREATE_OR_UPDATE,
  STORE_CREATE_ONLY,   /* an existing name is refused */
  STORE_UPDATE_ONLY,   /* an unknown name is refused */
} StoreMode;

static gboolean
store_account (MorangoDb          *db,
               MorangoRandom      *random,
               const char         *name,
               const char         *password,
               const char * const *scopes,
               StoreMode           mode,
               GError            **error)
{
  g_autofree char *hash = NULL;
  g_autofree char *now = NULL;
  g_autoptr(MorangoTransaction) tx = NULL;
  gint64 one = 0;
  gboolean exists = FALSE;

  if (!valid_name (name, error))
    return FALSE;
  for (guint i = 0; scopes && scopes[i]; i++)
    if (*scopes[i] == '\0' || strpbrk (scopes[i], " \t\r\n") != NULL)
      {
        g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                     _("“%s” is not a scope definition id"), scopes[i]);
        return FALSE;
      }
  /* The slow part, before the write lock is taken. */
  hash = morango_password_hash (password, random, error);
  if (hash == NULL)
    return FALSE;
  now = morango_db_now_text ();

  if ((tx = morango_transaction_begin (db, NULL, error)) == NULL)
    return FALSE;
  if (mode != STORE_CREATE_OR_UPDATE)
    {
      /* Asked inside the write transaction, so that nobody adds or
       * removes the name between the question and the write. */
      if (!morango_db_query_int64 (db, &one, &exists, error,
                                   "SELECT 1 FROM morango_account WHERE name = ?", "s", name))
        return FALSE;
      if (mode == STORE_CREATE_ONLY && exists)
        {
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                       _("An account named “%s” exists already"), name);
          return FALSE;
        }
      if (mode == STORE_UPDATE_ONLY && !exists)
        {
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND, _("No account is named “%s”"), name);
          return FALSE;
        }
    }
  if (!morango_db_execute (db, error,
                           "INSERT INTO morango_account (name, password, created) VALUES (?, ?, ?) "
                           "ON CONFLICT (name) DO UPDATE SET password = excluded.password",
                           "sss", name, hash, now))
    return FALSE;
  if (scopes != NULL)
    {
      if (!morango_db_execute (db, error, "DELETE FROM morango_account_scope WHERE account = ?", "s", name))
        return FALSE;
      for (guint i = 0; scopes[i]; i++)
        if (!morango_db_execute (db, error,
                                 "INSERT INTO morango_account_scope (account, scope_definition_id) "
                                 "VALUES (?, ?) ON CONFLICT DO NOTHING",
                                 "ss", name, scopes[i]))
          return FALSE;
    }
  return morango_transaction_commit (tx, error);
}

gboolean
morango_account_set_password (MorangoDb          *db,
                              MorangoRandom      *random,
                              const char         *name,
                              const char         *password,
                              const char * const *scopes,
                              GError            **error)
{
  g_return_val_if_fail (MORANGO_IS_DB (db), FALSE);
  g_return_val_if_fail (random != NULL, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (password != NULL, FALSE);

  return store_account (db, random, name, password, scopes, STORE_CREATE_OR_UPDATE, error);
}

gboolean
morango_account_add (MorangoDb          *db,
                     MorangoRandom      *random,
                     const char         *name,
                     const char         *password,
                     const char * const *scopes,
                     GError            **error)
{
  static const char * const none[] = { NULL };

  g_return_val_if_fail (MORANGO_IS_DB (db), FALSE);
  g_return_val_if_fail (random != NULL, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (password != NULL, FALSE);

  return store_account (db, random, name, password, scopes ? scopes : none, STORE_CREATE_ONLY, error);
}

gboolean
morango_account_change_password (MorangoDb      *db,
                                 MorangoRandom  *random,
                                 const char     *name,
                                 const char     *password,
                                 GError        **error)
{
  g_return_val_if_fail (MORANGO_IS_DB (db), FALSE);
  g_return_val_if_fail (random != NULL, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (password != NULL, FALSE);

  return store_account (db, random, name, password, NULL, STORE_UPDATE_ONLY, error);
}

gboolean
morango_account_remove (MorangoDb   *db,
                        const char  *name,
                        GError     **error)
{
  g_autoptr(MorangoTransaction) tx = NULL;

  g_return_val_if_fail (MORANGO_IS_DB (db), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  if ((tx = morango_transaction_begin (db, NULL, error)) == NULL ||
      !morango_db_execute (db, error, "DELETE FROM morango_account_scope WHERE account = ?", "s", name) ||
      !morango_db_execute (db, error, "DELETE FROM morango_account WHERE name = ?", "s", name))
    return FALSE;
  if (morango_db_changes (db) == 0)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND, _("No account is named “%s”"), name);
      return FALSE;
    }
  return morango_transaction_commit (tx, error);
}

static GStrv
load_scopes (MorangoDb   *db,
             const char  *name,
             GError     **error)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  sqlite3_stmt *stmt;
  int rc;

  stmt = morango_db_prepare (db, "SELECT scope_definition_id FROM morango_account_scope "
                                 "WHERE account = ? ORDER BY scope_definition_id", error);
  if (stmt == NULL || !morango_db_bind (db, stmt, error, "s", name))
    return NULL;
  while ((rc = morango_db_step (db, stmt, error)) == SQLITE_ROW)
    g_strv_builder_add (builder, morango_db_column_text (stmt, 0));
  if (rc < 0)
    return NULL;
  sqlite3_reset (stmt);
  return g_strv_builder_end (builder);
}

MorangoAccount *
morango_account_check (MorangoDb   *db,
                       const char  *name,
                       const char  *password,
                       GError     **error)
{
  g_autofree char *stored = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(MorangoAccount) account = NULL;

  g_return_val_if_fail (MORANGO_IS_DB (db), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (password != NULL, NULL);

  if (!morango_db_query_text (db, &stored, error,
                              "SELECT password FROM morango_account WHERE name = ?", "s", name))
    return NULL;
  if (stored == NULL)
    {
      /* Same work as a known name, same answer. */
      morango_password_verify (password, DUMMY_HASH, NULL);
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED, _("Invalid credentials"));
      return NULL;
    }
  if (!morango_password_verify (password, stored, &local_error))
    {
      if (g_error_matches (local_error, MORANGO_ERROR, MORANGO_ERROR_INVALID))
        {
          morango_password_verify (password, DUMMY_HASH, NULL);
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                       _("Account “%s” cannot sign in: %s"), name, local_error->message);
        }
      else
        g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED, _("Invalid credentials"));
      return NULL;
    }

  account = g_object_new (MORANGO_TYPE_ACCOUNT, NULL);
  account->name = g_strdup (name);
  account->scopes = load_scopes (db, name, error);
  if (account->scopes == NULL)
    return NULL;
  return g_steal_pointer (&account);
}

GPtrArray *
morango_account_list (MorangoDb  *db,
                      GError    **error)
{
  g_autoptr(GPtrArray) accounts = g_ptr_array_new_with_free_func (g_object_unref);
  sqlite3_stmt *stmt;
  int rc;

  g_return_val_if_fail (MORANGO_IS_DB (db), NULL);

  stmt = morango_db_prepare (db, "SELECT name, created FROM morango_account ORDER BY name", error);
  if (stmt == NULL)
    return NULL;
  while ((rc = morango_db_step (db, stmt, error)) == SQLITE_ROW)
    {
      MorangoAccount *account = g_object_new (MORANGO_TYPE_ACCOUNT, NULL);

      account->name = g_strdup (morango_db_column_text (stmt, 0));
      account->created = g_strdup (morango_db_column_text (stmt, 1));
      g_ptr_array_add (accounts, account);
    }
  if (rc < 0)
    return NULL;
  sqlite3_reset (stmt);
  /* Scopes after the names: one statement steps at a time. */
  for (guint i = 0; i < accounts->len; i++)
    {
      MorangoAccount *account = g_ptr_array_index (accounts, i);

      if ((account->scopes = load_scopes (db, account->name, error)) == NULL)
        return NULL;
    }
  return g_steal_pointer (&accounts);
}

gboolean
morango_account_has_any (MorangoDb *db)
{
  gint64 v = 0;
  gboolean found = FALSE;

  g_return_val_if_fail (MORANGO_IS_DB (db), FALSE);

  if (!morango_db_query_int64 (db, &v, &found, NULL, "SELECT 1 FROM morango_account LIMIT 1", ""))
    return FALSE;
  return found;
}

gboolean
morango_account_may_request (MorangoAccount *self,
                             const char     *scope_definition_id)
{
  g_return_val_if_fail (MORANGO_IS_ACCOUNT (self), FALSE);

  if (scope_definition_id == NULL)
    return FALSE;
  for (guint i = 0; self->scopes[i]; i++)
    if (g_str_equal (self->scopes[i], MORANGO_ACCOUNT_ALL_SCOPES) ||
        g_str_equal (self->scopes[i], scope_definition_id))
      return TRUE;
  return FALSE;
}
