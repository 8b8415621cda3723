/* morango-engine-history.c: a peer's past syncs, and the admin account
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "morango-account.h"
#include "morango-engine-history.h"
#include "morango-engine-private.h"
#include "morango-error.h"

/* ---- history ---- */

typedef struct {
  char  *peer_id;
  guint  limit;
} HistoryCall;

static void
history_call_free (HistoryCall *call)
{
  g_free (call->peer_id);
  g_free (call);
}

static void
list_history_thread (GTask        *task,
                     gpointer      source_object,
                     gpointer      task_data,
                     GCancellable *cancellable)
{
  HistoryCall *call = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = morango_engine_open_store (source_object, &error);
  GPtrArray *entries;

  if (store == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  entries = morango_history_list (store, call->peer_id, call->limit, &error);
  if (entries == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, entries, (GDestroyNotify) g_ptr_array_unref);
}

void
morango_engine_list_history_async (MorangoEngine       *self,
                                   const char          *peer_id,
                                   guint                limit,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  HistoryCall *call;

  g_return_if_fail (MORANGO_IS_ENGINE (self));
  g_return_if_fail (peer_id != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  call = g_new0 (HistoryCall, 1);
  call->peer_id = g_strdup (peer_id);
  call->limit = limit;
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, morango_engine_list_history_async);
  g_task_set_task_data (task, call, (GDestroyNotify) history_call_free);
  g_task_run_in_thread (task, list_history_thread);
}

GPtrArray *
morango_engine_list_history_finish (MorangoEngine  *self,
                                    GAsyncResult   *result,
                                    GError        **error)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- the admin account ---- */

static void
wipe_password (char *password)
{
  if (password != NULL)
    {
      memset (password, 0, strlen (password));
      g_free (password);
    }
}

static void
set_admin_thread (GTask        *task,
                  gpointer      source_object,
                  gpointer      task_data,
                  GCancellable *cancellable)
{
  static const char * const all[] = { MORANGO_ACCOUNT_ALL_SCOPES, NULL };
  const char *password = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = morango_engine_open_store (source_object, &error);

  if (store == NULL ||
      !morango_account_set_password (morango_store_get_db (store), morango_store_get_random (store),
                                     MORANGO_ACCOUNT_ADMIN, password, all, &error))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

void
morango_engine_set_admin_password_async (MorangoEngine       *self,
                                         const char          *password,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MORANGO_IS_ENGINE (self));
  g_return_if_fail (password != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, morango_engine_set_admin_password_async);
  if (*password == '\0')
    {
      g_task_return_new_error (task, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                               "The admin password is empty");
      return;
    }
  g_task_set_task_data (task, g_strdup (password), (GDestroyNotify) wipe_password);
  /* A password derivation takes a while on purpose: off the caller's
   * context, on the shared pool (it never waits on a peer). */
  g_task_run_in_thread (task, set_admin_thread);
}

gboolean
morango_engine_set_admin_password_finish (MorangoEngine  *self,
                                          GAsyncResult   *result,
                                          GError        **error)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
has_admin_thread (GTask        *task,
                  gpointer      source_object,
                  gpointer      task_data,
                  GCancellable *cancellable)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = morango_engine_open_store (source_object, &error);

  if (store == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, morango_account_has_any (morango_store_get_db (store)));
}

void
morango_engine_has_admin_async (MorangoEngine       *self,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MORANGO_IS_ENGINE (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, morango_engine_has_admin_async);
  g_task_run_in_thread (task, has_admin_thread);
}

gboolean
morango_engine_has_admin_finish (MorangoEngine  *self,
                                 GAsyncResult   *result,
                                 GError        **error)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
