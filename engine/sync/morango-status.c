/* morango-status.c: what a data folder holds, at a glance
 *
 * SPDX-License-Identifier: MIT
 */
#include "morango-certificate.h"
#include "morango-known-peer.h"
#include "morango-status.h"
#include "morango-trust.h"

static void
model_count_clear (gpointer data)
{
  MorangoModelCount *count = data;

  g_free (count->model_name);
}

void
morango_status_free (MorangoStatus *status)
{
  if (status == NULL)
    return;
  g_free (status->instance_id);
  g_free (status->profile);
  g_free (status->description);
  g_clear_pointer (&status->models, g_array_unref);
  g_free (status);
}

static MorangoModelCount *
find_model (GArray     *models,
            const char *name)
{
  for (guint i = 0; i < models->len; i++)
    {
      MorangoModelCount *count = &g_array_index (models, MorangoModelCount, i);

      if (g_str_equal (count->model_name, name))
        return count;
    }
  return NULL;
}

static gboolean
count_records (MorangoStore  *store,
               GArray        *models,
               GError       **error)
{
  MorangoDb *db = morango_store_get_db (store);
  MorangoProfile *profile = morango_store_get_profile (store);
  sqlite3_stmt *stmt;
  int rc;

  /* Every model of the profile shows, even with nothing stored yet. */
  if (profile != NULL)
    for (const char * const *name = morango_profile_get_model_names (profile); *name; name++)
      {
        MorangoModelCount count = { g_strdup (*name), 0, 0 };

        g_array_append_val (models, count);
      }

  stmt = morango_db_prepare (db,
                             "SELECT model_name, sum (deleted = 0), sum (deleted != 0) FROM morango_store "
                             "WHERE profile = ? GROUP BY model_name ORDER BY model_name", error);
  if (stmt == NULL ||
      !morango_db_bind (db, stmt, error, "s", morango_store_get_profile_name (store)))
    return FALSE;
  while ((rc = morango_db_step (db, stmt, error)) == SQLITE_ROW)
    {
      const char *name = morango_db_column_text (stmt, 0);
      MorangoModelCount *count = find_model (models, name);

      if (count == NULL)
        {
          MorangoModelCount other = { g_strdup (name), 0, 0 };

          g_array_append_val (models, other);
          count = &g_array_index (models, MorangoModelCount, models->len - 1);
        }
      count->records = sqlite3_column_int64 (stmt, 1);
      count->deleted = sqlite3_column_int64 (stmt, 2);
    }
  if (rc < 0)
    return FALSE;
  sqlite3_reset (stmt);
  return TRUE;
}

MorangoStatus *
morango_status_collect (MorangoStore  *store,
                        GError       **error)
{
  g_autoptr(MorangoStatus) status = NULL;
  g_autoptr(GPtrArray) certificates = NULL;
  g_autoptr(GPtrArray) peers = NULL;
  MorangoProfile *profile;
  MorangoDb *db;

  g_return_val_if_fail (MORANGO_IS_STORE (store), NULL);

  db = morango_store_get_db (store);
  profile = morango_store_get_profile (store);
  status = g_new0 (MorangoStatus, 1);
  status->instance_id = g_strdup (morango_store_get_instance_id (store));
  status->profile = g_strdup (morango_store_get_profile_name (store));
  status->description = profile ? g_strdup (morango_profile_get_description_id (profile)) : NULL;
  status->models = g_array_new (FALSE, TRUE, sizeof (MorangoModelCount));
  g_array_set_clear_func (status->models, model_count_clear);
  if (!count_records (store, status->models, error))
    return NULL;

  if ((certificates = morango_certificate_list (db, error)) == NULL)
    return NULL;
  status->certificates = certificates->len;
  for (guint i = 0; i < certificates->len; i++)
    {
      MorangoCertificate *c = g_ptr_array_index (certificates, i);

      if (morango_certificate_has_private_key (c))
        status->own_certificates++;
      if (morango_certificate_get_parent_id (c) == NULL &&
          morango_trust_is_trusted (db, morango_certificate_get_id (c)))
        status->trusted_roots++;
    }

  if (!morango_db_query_int64 (db, &status->active_sync_sessions, NULL, error,
                               "SELECT count(*) FROM morango_syncsession WHERE active = 1", "") ||
      !morango_db_query_int64 (db, &status->active_transfer_sessions, NULL, error,
                               "SELECT count(*) FROM morango_transfersession WHERE active = 1", ""))
    return NULL;

  if ((peers = morango_known_peer_list (store, FALSE, error)) == NULL)
    return NULL;
  status->peers = peers->len;
  return g_steal_pointer (&status);
}
