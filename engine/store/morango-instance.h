/* morango-instance.h: database id, instance id and instance counter (protocol §2.3, §2.4, §3.1)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "morango-db.h"
#include "morango-ids.h"
#include "morango-random.h"

G_BEGIN_DECLS

/* What the instance id is derived from.  The engine never reads the
 * machine itself: the programs fill this from the machine and the
 * override variables, tests fill it with fixed values. */
typedef struct {
  char *system_id_input;   /* raw machine id (MORANGO_SYSTEM_ID or /etc/machine-id), "" if none */
  char *node_id_input;     /* raw MAC (MORANGO_NODE_ID or the chosen interface), "" if none */
  char *platform;          /* informational */
  char *hostname;          /* informational */
  char *sysversion;        /* informational */
} MorangoHostInfo;

MorangoHostInfo *morango_host_info_new          (const char *system_id_input,
                                                 const char *node_id_input);
/* Reads MORANGO_SYSTEM_ID / MORANGO_NODE_ID (used when at least 3
 * characters after stripping), else /etc/machine-id and the interfaces
 * under /sys/class/net.  Only the programs call this. */
MorangoHostInfo *morango_host_info_new_from_system (void);
MorangoHostInfo *morango_host_info_copy         (const MorangoHostInfo *info);
void             morango_host_info_free         (MorangoHostInfo *info);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MorangoHostInfo, morango_host_info_free)

/* The current database id, created (random UUID4 from @random) when
 * there is none. */
char     *morango_instance_ensure_database_id   (MorangoDb             *db,
                                                 MorangoRandom         *random,
                                                 GError               **error);
/* Morango's get_or_create_current_instance: recomputes the instance id
 * from the database id and @host, makes it the only current row, keeps
 * the counter of an id seen before.  Returns the instance id. */
char     *morango_instance_resolve              (MorangoDb             *db,
                                                 const MorangoHostInfo *host,
                                                 MorangoRandom         *random,
                                                 GError               **error);
/* counter = counter + 1 for @instance_id, returning the new value. */
gboolean  morango_instance_next_counter         (MorangoDb             *db,
                                                 const char            *instance_id,
                                                 gint64                *counter,
                                                 GError               **error);
gboolean  morango_instance_get_counter          (MorangoDb             *db,
                                                 const char            *instance_id,
                                                 gint64                *counter,
                                                 GError               **error);
/* Sets the counter (tests loading a captured state). */
gboolean  morango_instance_set_counter          (MorangoDb             *db,
                                                 const char            *instance_id,
                                                 gint64                 counter,
                                                 GError               **error);

G_END_DECLS
