/* morango-profile.h: the syncable models of a profile, read from a description
 *
 * SPDX-License-Identifier: MIT
 *
 * (Interface agreed between the layers; the profile layer implements it
 * and may extend it.)
 */
#pragma once

#include <json-glib/json-glib.h>

#include "morango-db.h"
#include "morango-filter.h"

G_BEGIN_DECLS

#define MORANGO_TYPE_PROFILE (morango_profile_get_type ())
G_DECLARE_FINAL_TYPE (MorangoProfile, morango_profile, MORANGO, PROFILE, GObject)

MorangoProfile *morango_profile_new_from_file   (const char     *path,
                                                 GError        **error);
MorangoProfile *morango_profile_new_from_data   (const char     *data,
                                                 gssize          length,
                                                 GError        **error);
/* Looks @name up as "<name>.json" under $MORANGO_PROFILES_DIR, then the
 * installed data folder, then data/profiles of the source tree. */
MorangoProfile *morango_profile_new_by_name     (const char     *name,
                                                 GError        **error);
const char     *morango_profile_get_name        (MorangoProfile *self);
/* The description's own id ("morango-testapp", "kolibri-like"): two
 * descriptions of one profile name are told apart by it. */
const char     *morango_profile_get_description_id (MorangoProfile *self);
/* The scope definitions the description ships, in order. */
GPtrArray      *morango_profile_get_scope_definitions (MorangoProfile *self);
/* CREATE TABLE IF NOT EXISTS for every model (and its indexes). */
gboolean        morango_profile_ensure_tables   (MorangoProfile *self,
                                                 MorangoDb      *db,
                                                 GError        **error);
/* Saves the description's scope definitions into morango_scopedefinition. */
gboolean        morango_profile_save_scope_definitions (MorangoProfile *self,
                                                        MorangoDb      *db,
                                                        GError        **error);
/* Model names in parent-before-child (registry) order. */
const char * const *morango_profile_get_model_names (MorangoProfile *self);
gboolean        morango_profile_has_model       (MorangoProfile *self,
                                                 const char     *model_name);
/* Receipt verification of protocol §2.2: is @model_uuid the id the
 * model's rule gives for (@partition with @model_uuid replaced by
 * ${id}, @source_id)?  Unknown models use the default rule. */
gboolean        morango_profile_verify_record_id (MorangoProfile *self,
                                                  const char     *model_name,
                                                  const char     *model_uuid,
                                                  const char     *partition,
                                                  const char     *source_id);
/* The id the model's rule gives (protocol §2.2 step 3) for a partition
 * template still holding the literal ${id}.  Unknown models use the
 * default rule, as does every model when @self is NULL. */
char           *morango_profile_compute_record_id (MorangoProfile *self,
                                                   const char     *model_name,
                                                   const char     *partition_template,
                                                   const char     *source_id);
/* Where a received record says it belongs, checked in Morango's order
 * (correction 17): its id follows its model's rule for its partition and
 * source id, then its partition lies inside @filter (NULL: no filter).
 * @self may be NULL for a relay that knows no models: every model then
 * takes the default rule.  Fails with MORANGO_ERROR_RECORD_REJECTED and
 * Morango's message. */
gboolean        morango_profile_check_record_origin (MorangoProfile *self,
                                                     MorangoFilter  *filter,
                                                     const char     *model_name,
                                                     const char     *model_uuid,
                                                     const char     *partition,
                                                     const char     *source_id,
                                                     GError        **error);
/* The whole per-record check a receiver runs on a buffer record
 * (@record as on the wire, with its "rmcb_list"): the checks of
 * morango_profile_check_record_origin, then every RMCB item names this
 * transfer session and this record.  Fails with
 * MORANGO_ERROR_RECORD_REJECTED and Morango's message. */
gboolean        morango_profile_check_received_record (MorangoProfile *self,
                                                       MorangoFilter  *filter,
                                                       const char     *transfer_session_id,
                                                       JsonObject     *record,
                                                       GError        **error);

/* The people of a dataset, as the optional "people" object of a
 * description names them: the model holding them, its fields that hold
 * the dataset, the sign-in name and the display name, an optional
 * field=value that picks learners among them, and the scope definition
 * (with the parameter that takes a person's id) of a certificate for
 * one of them.  Lets a server list whom a single-user certificate may
 * be asked for without knowing the application. */
typedef struct {
  const char *model;
  const char *dataset_field;
  const char *name_field;
  const char *full_name_field;     /* may be NULL */
  const char *filter_field;        /* may be NULL: everyone */
  const char *filter_value;
  const char *scope_definition;
  const char *scope_param;
} MorangoProfilePeople;

/* NULL when the description names no people. */
const MorangoProfilePeople *morango_profile_get_people (MorangoProfile *self);

typedef struct {
  char *id;
  char *name;
  char *full_name;   /* "" when the model has none */
} MorangoPerson;

void            morango_person_free             (MorangoPerson  *person);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MorangoPerson, morango_person_free)

/* The people of dataset @dataset_id in @db (MorangoPerson*, by name),
 * read through the description's "people"; an empty array when it has
 * none.  @dataset_id is only ever bound, never spliced. */
GPtrArray      *morango_profile_list_people     (MorangoProfile *self,
                                                 MorangoDb      *db,
                                                 const char     *dataset_id,
                                                 GError        **error);

G_END_DECLS
