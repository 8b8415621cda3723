/* morango-nonce.h: single-use nonces (protocol §7.9)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "morango-db.h"
#include "morango-random.h"

G_BEGIN_DECLS

/* How long a nonce stays usable. */
#define MORANGO_NONCE_LIFETIME_USEC (60 * G_USEC_PER_SEC)

/* Creates and stores a nonce for a requester at @ip (may be NULL) at
 * time @now_usec (g_get_real_time() microseconds; 0 for now).  Returns
 * its id, 32 hex characters; *@timestamp_out (may be NULL) gets its
 * ISO 8601 creation time. */
char     *morango_nonce_create (MorangoDb     *db,
                                MorangoRandom *random,
                                const char    *ip,
                                gint64         now_usec,
                                char         **timestamp_out,
                                GError       **error);
/* Consumes nonce @id at @now_usec (0 for now): it must exist and be
 * younger than 60 seconds; it is deleted either way.  Fails with
 * MORANGO_ERROR_NONCE_INVALID. */
gboolean  morango_nonce_use    (MorangoDb     *db,
                                const char    *id,
                                gint64         now_usec,
                                GError       **error);
/* Deletes nonces too old to be used (quirk 17).  Returns how many, or
 * -1 on error. */
gint64    morango_nonce_purge  (MorangoDb     *db,
                                gint64         now_usec,
                                GError       **error);

G_END_DECLS
