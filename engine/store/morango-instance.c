/* morango-instance.c: database id, instance id and instance counter
 *
 * SPDX-License-Identifier: MIT
 */
#include <sys/utsname.h>

#include "morango-instance.h"
#include "morango-i18n-private.h"

MorangoHostInfo *
morango_host_info_new (const char *system_id_input,
                       const char *node_id_input)
{
  MorangoHostInfo *info = g_new0 (MorangoHostInfo, 1);

  info->system_id_input = g_strdup (system_id_input ? system_id_input : "");
  info->node_id_input = g_strdup (node_id_input ? node_id_input : "");
  info->platform = g_strdup ("Linux");
  info->hostname = g_strdup ("localhost");
  info->sysversion = g_strdup ("morango-sync " PACKAGE_VERSION);
  return info;
}

MorangoHostInfo *
morango_host_info_copy (const MorangoHostInfo *info)
{
  MorangoHostInfo *copy = g_new0 (MorangoHostInfo, 1);

  copy->system_id_input = g_strdup (info->system_id_input);
  copy->node_id_input = g_strdup (info->node_id_input);
  copy->platform = g_strdup (info->platform);
  copy->hostname = g_strdup (info->hostname);
  copy->sysversion = g_strdup (info->sysversion);
  return copy;
}

void
morango_host_info_free (MorangoHostInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->system_id_input);
  g_free (info->node_id_input);
  g_free (info->platform);
  g_free (info->hostname);
  g_free (info->sysversion);
  g_free (info);
}

/* An override counts when it has at least three characters once
 * stripped, as in Morango. */
static char *
usable_override (const char *name)
{
  const char *value = g_getenv (name);
  g_autofree char *stripped = NULL;

  if (value == NULL)
    return NULL;
  stripped = g_strstrip (g_strdup (value));
  if (strlen (stripped) < 3)
    return NULL;
  return g_strdup (value);
}

static char *
read_machine_id (void)
{
  char *contents = NULL;

  if (!g_file_get_contents ("/etc/machine-id", &contents, NULL, NULL))
    return g_strdup ("");
  return g_strstrip (contents);
}

static char *
read_node_mac (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/sys/class/net", 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) macs = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GArray) ifs = g_array_new (FALSE, TRUE, sizeof (MorangoInterface));
  const char *name;

  if (dir == NULL)
    return NULL;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename ("/sys/class/net", name, "address", NULL);
      char *mac = NULL;

      if (!g_file_get_contents (path, &mac, NULL, NULL))
        continue;
      g_strstrip (mac);
      if (strlen (mac) != 17 || g_str_equal (mac, "00:00:00:00:00:00"))
        {
          g_free (mac);
          continue;
        }
      g_ptr_array_add (names, g_strdup (name));
      g_ptr_array_add (macs, mac);
    }
  for (guint i = 0; i < names->len; i++)
    {
      MorangoInterface iface = { g_ptr_array_index (names, i), g_ptr_array_index (macs, i) };
      g_array_append_val (ifs, iface);
    }
  return morango_pick_node_mac ((MorangoInterface *) ifs->data, ifs->len, NULL);
}

MorangoHostInfo *
morango_host_info_new_from_system (void)
{
  MorangoHostInfo *info = g_new0 (MorangoHostInfo, 1);
  struct utsname un;
  char *mac;

  info->system_id_input = usable_override ("MORANGO_SYSTEM_ID");
  if (info->system_id_input == NULL)
    info->system_id_input = read_machine_id ();

  info->node_id_input = usable_override ("MORANGO_NODE_ID");
  if (info->node_id_input == NULL)
    {
      mac = read_node_mac ();
      info->node_id_input = mac ? mac : g_strdup ("");
    }

  if (uname (&un) == 0)
    info->platform = g_strdup_printf ("%s-%s-%s", un.sysname, un.release, un.machine);
  else
    info->platform = g_strdup ("Linux");
  info->hostname = g_strdup (g_get_host_name ());
  info->sysversion = g_strdup ("morango-sync " PACKAGE_VERSION);
  return info;
}

char *
morango_instance_ensure_database_id (MorangoDb      *db,
                                     MorangoRandom  *random,
                                     GError        **error)
{
  g_autofree char *id = NULL;
  g_autofree char *now = NULL;
  g_autoptr(MorangoTransaction) tx = NULL;

  if (!morango_db_query_text (db, &id, error,
                              "SELECT id FROM morango_databaseidmodel WHERE current = 1 "
                              "ORDER BY date_generated DESC LIMIT 1", ""))
    return NULL;
  if (id != NULL)
    return g_steal_pointer (&id);

  /* Look again under the write lock: two programs opening a new folder
   * together must not each make an id. */
  if ((tx = morango_transaction_begin (db, NULL, error)) == NULL ||
      !morango_db_query_text (db, &id, error,
                              "SELECT id FROM morango_databaseidmodel WHERE current = 1 "
                              "ORDER BY date_generated DESC LIMIT 1", ""))
    return NULL;
  if (id != NULL)
    return morango_transaction_commit (tx, error) ? g_steal_pointer (&id) : NULL;
  id = morango_random_uuid4_hex (random);
  now = morango_db_now_text ();
  if (!morango_db_execute (db, error, "UPDATE morango_databaseidmodel SET current = 0", "") ||
      !morango_db_execute (db, error,
                           "INSERT INTO morango_databaseidmodel (id, current, date_generated) "
                           "VALUES (?, 1, ?)", "ss", id, now) ||
      !morango_transaction_commit (tx, error))
    return NULL;
  return g_steal_pointer (&id);
}

char *
morango_instance_resolve (MorangoDb              *db,
                          const MorangoHostInfo  *host,
                          MorangoRandom          *random,
                          GError                **error)
{
  g_autofree char *database_id = NULL;
  g_autofree char *system_id = NULL;
  g_autofree char *node_id = NULL;
  g_autofree char *instance_id = NULL;
  g_autoptr(MorangoTransaction) tx = NULL;

  g_return_val_if_fail (MORANGO_IS_DB (db), NULL);
  g_return_val_if_fail (host != NULL, NULL);

  database_id = morango_instance_ensure_database_id (db, random, error);
  if (database_id == NULL)
    return NULL;
  system_id = morango_salted_hash (host->system_id_input);
  node_id = morango_salted_hash (host->node_id_input);
  instance_id = morango_sha2_uuid (database_id, system_id, node_id, NULL);
  /* Read-only: the instance row is brought up to date by the next
   * program that can write. */
  if (morango_db_is_read_only (db))
    return g_steal_pointer (&instance_id);

  if ((tx = morango_transaction_begin (db, NULL, error)) == NULL ||
      !morango_db_execute (db, error,
                           "UPDATE morango_instanceidmodel SET current = 0 "
                           "WHERE current = 1 AND id != ?", "s", instance_id) ||
      !morango_db_execute (db, error,
                           "INSERT INTO morango_instanceidmodel (id, platform, hostname, sysversion, "
                           "  node_id, database_id, counter, current, db_path, system_id) "
                           "VALUES (?, ?, ?, ?, ?, ?, 0, 1, ?, ?) "
                           "ON CONFLICT (id) DO UPDATE SET platform = excluded.platform, "
                           "  hostname = excluded.hostname, sysversion = excluded.sysversion, "
                           "  node_id = excluded.node_id, database_id = excluded.database_id, "
                           "  current = 1, db_path = excluded.db_path, system_id = excluded.system_id",
                           "ssssssss", instance_id,
                           host->platform ? host->platform : "",
                           host->hostname ? host->hostname : "",
                           host->sysversion ? host->sysversion : "",
                           node_id, database_id, morango_db_get_path (db), system_id) ||
      !morango_transaction_commit (tx, error))
    return NULL;
  return g_steal_pointer (&instance_id);
}

gboolean
morango_instance_next_counter (MorangoDb   *db,
                               const char  *instance_id,
                               gint64      *counter,
                               GError     **error)
{
  gboolean found = FALSE;

  if (!morango_db_query_int64 (db, counter, &found, error,
                               "UPDATE morango_instanceidmodel SET counter = counter + 1 "
                               "WHERE id = ? RETURNING counter", "s", instance_id))
    return FALSE;
  if (!found)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND,
                   _("Instance %s is not known to this database"), instance_id);
      return FALSE;
    }
  return TRUE;
}

gboolean
morango_instance_get_counter (MorangoDb   *db,
                              const char  *instance_id,
                              gint64      *counter,
                              GError     **error)
{
  gboolean found = FALSE;

  if (!morango_db_query_int64 (db, counter, &found, error,
                               "SELECT counter FROM morango_instanceidmodel WHERE id = ?",
                               "s", instance_id))
    return FALSE;
  if (!found)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND,
                   _("Instance %s is not known to this database"), instance_id);
      return FALSE;
    }
  return TRUE;
}

gboolean
morango_instance_set_counter (MorangoDb   *db,
                              const char  *instance_id,
                              gint64       counter,
                              GError     **error)
{
  /* Used when loading a captured state: make the row exist too. */
  return morango_db_execute (db, error,
                             "INSERT INTO morango_instanceidmodel (id, platform, hostname, sysversion, "
                             "  database_id, counter, current, db_path) "
                             "VALUES (?, '', '', '', '', ?, 1, '') "
                             "ON CONFLICT (id) DO UPDATE SET counter = excluded.counter",
                             "si", instance_id, counter);
}
