/* morango-status.h: what a data folder holds, at a glance
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "morango-store.h"

G_BEGIN_DECLS

typedef struct {
  char   *model_name;
  gint64  records;   /* store records of the model, deleted ones not counted */
  gint64  deleted;   /* deleted records the store still tracks */
} MorangoModelCount;

typedef struct {
  char   *instance_id;
  char   *profile;                  /* the profile name */
  char   *description;              /* the description's id; NULL for a relay */
  GArray *models;                   /* MorangoModelCount: the profile's models in
                                     * order, then any others the store holds */
  guint   certificates;
  guint   own_certificates;         /* with their private key on this device */
  guint   trusted_roots;
  gint64  active_sync_sessions;
  gint64  active_transfer_sessions;
  guint   peers;                    /* known and not forgotten */
} MorangoStatus;

void           morango_status_free    (MorangoStatus *status);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MorangoStatus, morango_status_free)

/* Reads the status of @store; nothing is written. */
MorangoStatus *morango_status_collect (MorangoStore  *store,
                                       GError       **error);

G_END_DECLS
