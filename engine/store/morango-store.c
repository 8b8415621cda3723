/* morango-store.c: an engine database (the store of one profile)
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <glib/gstdio.h>

#include "morango-store.h"
#include "morango-i18n-private.h"

struct _MorangoStore
{
  GObject         parent_instance;
  MorangoDb      *db;
  MorangoProfile *profile;
  char           *profile_name;
  char           *instance_id;
  MorangoRandom  *random;
  MorangoApp     *app;
};

G_DEFINE_FINAL_TYPE (MorangoStore, morango_store, G_TYPE_OBJECT)

static void
morango_store_finalize (GObject *object)
{
  MorangoStore *self = (MorangoStore *)object;

  g_clear_object (&self->app);
  g_clear_object (&self->db);
  g_clear_object (&self->profile);
  g_clear_pointer (&self->profile_name, g_free);
  g_clear_pointer (&self->instance_id, g_free);
  g_clear_pointer (&self->random, morango_random_unref);

  G_OBJECT_CLASS (morango_store_parent_class)->finalize (object);
}

static void
morango_store_class_init (MorangoStoreClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = morango_store_finalize;
}

static void
morango_store_init (MorangoStore *self)
{
}

MorangoStore *
morango_store_new_for_db (MorangoDb      *db,
                          const char     *profile_name,
                          MorangoProfile *profile,
                          const char     *instance_id,
                          MorangoRandom  *random)
{
  MorangoStore *self;

  g_return_val_if_fail (MORANGO_IS_DB (db), NULL);
  g_return_val_if_fail (profile_name != NULL, NULL);
  g_return_val_if_fail (instance_id != NULL, NULL);
  g_return_val_if_fail (random != NULL, NULL);

  self = g_object_new (MORANGO_TYPE_STORE, NULL);
  self->db = g_object_ref (db);
  self->profile = profile ? g_object_ref (profile) : NULL;
  self->profile_name = g_strdup (profile_name);
  self->instance_id = g_strdup (instance_id);
  self->random = morango_random_ref (random);
  self->app = morango_app_new (db, profile, random);
  return self;
}

MorangoDb *
morango_store_get_db (MorangoStore *self)
{
  g_return_val_if_fail (MORANGO_IS_STORE (self), NULL);
  return self->db;
}

MorangoApp *
morango_store_get_app (MorangoStore *self)
{
  g_return_val_if_fail (MORANGO_IS_STORE (self), NULL);
  return self->app;
}

MorangoProfile *
morango_store_get_profile (MorangoStore *self)
{
  g_return_val_if_fail (MORANGO_IS_STORE (self), NULL);
  return self->profile;
}

const char *
morango_store_get_profile_name (MorangoStore *self)
{
  g_return_val_if_fail (MORANGO_IS_STORE (self), NULL);
  return self->profile_name;
}

const char *
morango_store_get_instance_id (MorangoStore *self)
{
  g_return_val_if_fail (MORANGO_IS_STORE (self), NULL);
  return self->instance_id;
}

MorangoRandom *
morango_store_get_random (MorangoStore *self)
{
  g_return_val_if_fail (MORANGO_IS_STORE (self), NULL);
  return self->random;
}

gboolean
morango_store_next_counter (MorangoStore  *self,
                            gint64        *counter,
                            GError       **error)
{
  g_return_val_if_fail (MORANGO_IS_STORE (self), FALSE);
  return morango_instance_next_counter (self->db, self->instance_id, counter, error);
}

static gboolean
read_meta (MorangoDb   *db,
           const char  *key,
           char       **value,
           GError     **error)
{
  return morango_db_query_text (db, value, error,
                                "SELECT value FROM morango_meta WHERE key = ?", "s", key);
}

/* Records the profile on first use, refuses another one later, and
 * brings tables and scope definitions up to the description. */
static gboolean
bind_profile (MorangoDb       *db,
              MorangoProfile  *profile,
              GError         **error)
{
  g_autofree char *name = NULL;
  g_autofree char *description = NULL;
  g_autoptr(MorangoTransaction) tx = NULL;

  /* Read inside the transaction: another program opening the same new
   * folder may be recording the profile at this very moment.  A database
   * that cannot be written is read as it is, and must already hold it. */
  if (!morango_db_is_read_only (db) &&
      (tx = morango_transaction_begin (db, NULL, error)) == NULL)
    return FALSE;
  if (!read_meta (db, "profile", &name, error) ||
      !read_meta (db, "description", &description, error))
    return FALSE;

  if (name != NULL &&
      (g_strcmp0 (name, morango_profile_get_name (profile)) != 0 ||
       g_strcmp0 (description, morango_profile_get_description_id (profile)) != 0))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_UNKNOWN_PROFILE,
                   _("“%s” holds profile “%s” described by “%s”; it cannot be opened with "
                   "profile “%s” described by “%s”"),
                   morango_db_get_path (db), name, description ? description : "",
                   morango_profile_get_name (profile),
                   morango_profile_get_description_id (profile));
      return FALSE;
    }

  if (tx == NULL)
    return name != NULL || (tx = morango_transaction_begin (db, NULL, error)) != NULL;
  if (name == NULL &&
      (!morango_db_execute (db, error, "INSERT INTO morango_meta (key, value) VALUES ('profile', ?)",
                            "s", morango_profile_get_name (profile)) ||
       !morango_db_execute (db, error, "INSERT INTO morango_meta (key, value) VALUES ('description', ?)",
                            "s", morango_profile_get_description_id (profile))))
    return FALSE;
  return morango_profile_ensure_tables (profile, db, error) &&
         morango_profile_save_scope_definitions (profile, db, error) &&
         morango_transaction_commit (tx, error);
}

MorangoStore *
morango_store_open (const char             *path,
                    MorangoProfile         *profile,
                    const MorangoHostInfo  *host,
                    MorangoRandom          *random,
                    GError                **error)
{
  g_autoptr(MorangoDb) db = NULL;

  g_return_val_if_fail (path != NULL, NULL);

  if (!(db = morango_db_open (path, error)))
    return NULL;
  return morango_store_open_db (db, profile, host, random, error);
}

MorangoStore *
morango_store_open_db (MorangoDb              *db,
                       MorangoProfile         *profile,
                       const MorangoHostInfo  *host,
                       MorangoRandom          *random,
                       GError                **error)
{
  g_autofree char *instance_id = NULL;

  g_return_val_if_fail (MORANGO_IS_DB (db), NULL);
  g_return_val_if_fail (MORANGO_IS_PROFILE (profile), NULL);
  g_return_val_if_fail (host != NULL, NULL);
  g_return_val_if_fail (random != NULL, NULL);

  if (!bind_profile (db, profile, error))
    return NULL;
  if (!(instance_id = morango_instance_resolve (db, host, random, error)))
    return NULL;
  return morango_store_new_for_db (db, morango_profile_get_name (profile), profile,
                                   instance_id, random);
}

MorangoStore *
morango_store_open_folder (const char             *data_dir,
                           const char             *description,
                           const MorangoHostInfo  *host,
                           MorangoRandom          *random,
                           GError                **error)
{
  g_autofree char *path = NULL;
  g_autofree char *stored = NULL;
  g_autoptr(MorangoDb) db = NULL;
  g_autoptr(MorangoProfile) profile = NULL;
  GStatBuf st;

  g_return_val_if_fail (data_dir != NULL, NULL);
  g_return_val_if_fail (host != NULL, NULL);
  g_return_val_if_fail (random != NULL, NULL);

  /* Another program may be making the same folder: EEXIST is fine. */
  if (g_mkdir_with_parents (data_dir, 0700) != 0 && errno != EEXIST)
    {
      int saved = errno;
      if (saved == EACCES || saved == EPERM || saved == EROFS)
        g_set_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_PERMISSION,
                     _("Cannot write “%s”: permission denied"), data_dir);
      else
        g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                     _("Cannot create the data folder “%s”: %s"), data_dir, g_strerror (saved));
      return NULL;
    }
  /* Whoever can write the folder can swap the database for another. */
  if (g_stat (data_dir, &st) != 0 || !S_ISDIR (st.st_mode))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOTDIR,
                   _("The data folder “%s” is not a folder"), data_dir);
      return NULL;
    }
  if ((st.st_mode & 022) != 0)
    {
      g_set_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_INSECURE,
                   _("The data folder “%s” can be written by others (mode %04o), who could "
                   "replace the database and its private keys; it was not used "
                   "(run “chmod go-w %s”)"),
                   data_dir, (unsigned) (st.st_mode & 07777), data_dir);
      return NULL;
    }

  /* An existing database names its own description, and one asked for
   * by name must be that one: opening a folder with another is a
   * mistake to report, not to paper over.  A new database is made only
   * once the description is known to load. */
  path = g_build_filename (data_dir, MORANGO_STORE_FOLDER_DB, NULL);
  if (g_file_test (path, G_FILE_TEST_EXISTS) &&
      ((db = morango_db_open (path, error)) == NULL ||
       !read_meta (db, "description", &stored, error)))
    return NULL;
  if (stored != NULL && description != NULL && !g_str_equal (stored, description))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_UNKNOWN_PROFILE,
                   _("The data folder “%s” holds profile description “%s”, not “%s”; it was not opened"),
                   data_dir, stored, description);
      return NULL;
    }
  if (stored == NULL && description == NULL)
    description = MORANGO_STORE_DEFAULT_DESCRIPTION;
  profile = morango_profile_new_by_name (stored != NULL ? stored : description, error);
  if (profile == NULL)
    return NULL;
  if (db == NULL && (db = morango_db_open (path, error)) == NULL)
    return NULL;
  return morango_store_open_db (db, profile, host, random, error);
}
