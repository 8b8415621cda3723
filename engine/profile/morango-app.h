/* morango-app.h: reading and writing application rows of syncable models
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <json-glib/json-glib.h>

#include "morango-db.h"
#include "morango-profile.h"
#include "morango-random.h"

G_BEGIN_DECLS

/* The application tables of one profile in one database: what the
 * application itself reads and writes.  A MorangoStore holds one
 * (morango_store_get_app()). */
#define MORANGO_TYPE_APP (morango_app_get_type ())
G_DECLARE_FINAL_TYPE (MorangoApp, morango_app, MORANGO, APP, GObject)

/* @profile may be NULL for a relay, which has no application tables:
 * every call then fails with MORANGO_ERROR_UNKNOWN_MODEL.  @random gives
 * new ids and defaults. */
MorangoApp     *morango_app_new         (MorangoDb      *db,
                                         MorangoProfile *profile,
                                         MorangoRandom  *random);
MorangoDb      *morango_app_get_db      (MorangoApp     *self);
MorangoProfile *morango_app_get_profile (MorangoApp     *self);

/* Creates a row of @model from @fields (keys: field names, or column
 * names such as "user_id" for a foreign key "user"; values as in the
 * record JSON, datetimes as ISO 8601 text).  Missing fields take their
 * defaults.  The source id, partition and id follow the model's rules
 * (protocol §2.2) unless "_morango_source_id" is given (kept as the
 * source id).  An explicit "id" is accepted only together with
 * "_morango_source_id" and "_morango_partition" that the model's rule
 * confirms.  As with Django's save(), a row whose id already exists is
 * overwritten.  The row is marked dirty.  *@out_id (may be NULL) gets
 * the id. */
gboolean    morango_app_create  (MorangoApp    *app,
                                 const char    *model,
                                 JsonObject    *fields,
                                 char         **out_id,
                                 GError       **error);
/* Changes the given fields of an existing row (the id, source id and
 * partition never change) and marks it dirty. */
gboolean    morango_app_update  (MorangoApp    *app,
                                 const char    *model,
                                 const char    *id,
                                 JsonObject    *changes,
                                 GError       **error);
/* What an update does to the row's dirty bit (Morango's
 * update_dirty_bit_to = True, False, None). */
typedef enum {
  MORANGO_DIRTY_BIT_SET,     /* the change will be serialized (the default) */
  MORANGO_DIRTY_BIT_CLEAR,   /* the row counts as synced as it now is */
  MORANGO_DIRTY_BIT_KEEP,    /* left as it was */
} MorangoDirtyBitUpdate;

gboolean    morango_app_update_full (MorangoApp            *app,
                                     const char            *model,
                                     const char            *id,
                                     JsonObject            *changes,
                                     MorangoDirtyBitUpdate  dirty_bit,
                                     GError               **error);
/* Deletes a row and, by the model's foreign keys, its dependents
 * (cascade, or set null).  Every deleted row is queued in
 * morango_deletedmodels, and with @hard also in
 * morango_harddeletedmodels (protocol §4.6). */
gboolean    morango_app_delete  (MorangoApp    *app,
                                 const char    *model,
                                 const char    *id,
                                 gboolean       hard,
                                 GError       **error);
/* The row as a JSON object keyed by column (all columns, including
 * "_morango_dirty_bit"; datetimes as record JSON writes them), or NULL
 * with MORANGO_ERROR_NOT_FOUND. */
JsonObject *morango_app_get     (MorangoApp    *app,
                                 const char    *model,
                                 const char    *id,
                                 GError       **error);

G_END_DECLS
