/* morango-store.h: an engine database (the store of one profile)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "morango-app.h"
#include "morango-db.h"
#include "morango-filter.h"
#include "morango-instance.h"
#include "morango-profile.h"
#include "morango-random.h"

G_BEGIN_DECLS

#define MORANGO_TYPE_STORE (morango_store_get_type ())
G_DECLARE_FINAL_TYPE (MorangoStore, morango_store, MORANGO, STORE, GObject)

/* Opens or creates the engine database at @path for @profile.  The
 * profile is fixed when the database is created; opening it later with a
 * description of another profile name is refused.  Creates the
 * application tables the description names and loads its scope
 * definitions, then resolves the instance id (protocol §2.4). */
MorangoStore   *morango_store_open             (const char            *path,
                                                MorangoProfile        *profile,
                                                const MorangoHostInfo *host,
                                                MorangoRandom         *random,
                                                GError               **error);
/* The database file of a data folder. */
#define MORANGO_STORE_FOLDER_DB "morango.db"

/* The description of a new data folder when none is named. */
#define MORANGO_STORE_DEFAULT_DESCRIPTION "kolibri-like"

/* Opens the data folder @data_dir (created with mode 0700 if missing):
 * its database, which names the profile description it was created
 * with, or, for a new folder, a database made for @description (the
 * name of a description found by morango_profile_new_by_name()).
 * @description NULL means the stored one, or
 * MORANGO_STORE_DEFAULT_DESCRIPTION for a new folder; a @description
 * that differs from an existing folder's is refused
 * (MORANGO_ERROR_UNKNOWN_PROFILE) and the folder is not opened.  The
 * one way the programs open their data. */
MorangoStore   *morango_store_open_folder      (const char            *data_dir,
                                                const char            *description,
                                                const MorangoHostInfo *host,
                                                MorangoRandom         *random,
                                                GError               **error);
/* The same for a database already open (to read its description first). */
MorangoStore   *morango_store_open_db          (MorangoDb             *db,
                                                MorangoProfile        *profile,
                                                const MorangoHostInfo *host,
                                                MorangoRandom         *random,
                                                GError               **error);
/* Wraps an open db whose instance id is already known (tests loading a
 * captured state).  @profile may be NULL for a relay that has no
 * application tables. */
MorangoStore   *morango_store_new_for_db       (MorangoDb             *db,
                                                const char            *profile_name,
                                                MorangoProfile        *profile,
                                                const char            *instance_id,
                                                MorangoRandom         *random);

MorangoDb      *morango_store_get_db           (MorangoStore *self);
MorangoProfile *morango_store_get_profile      (MorangoStore *self);
/* The application tables of the store's profile. */
MorangoApp     *morango_store_get_app          (MorangoStore *self);
const char     *morango_store_get_profile_name (MorangoStore *self);
const char     *morango_store_get_instance_id  (MorangoStore *self);
MorangoRandom  *morango_store_get_random       (MorangoStore *self);
/* The instance counter bumped once: the version of what a run stamps. */
gboolean        morango_store_next_counter     (MorangoStore *self,
                                                gint64       *counter,
                                                GError      **error);

G_END_DECLS
