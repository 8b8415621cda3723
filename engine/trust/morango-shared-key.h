/* morango-shared-key.h: shared keys and certificate pushing (protocol §1.15, §7.8 (b))
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <json-glib/json-glib.h>

#include "morango-certificate.h"
#include "morango-key.h"

G_BEGIN_DECLS

/* Shared keys (§1.15): the key pairs a server publishes so that clients
 * can push certificates to it.  Returns the current one, creating it
 * when there is none; @force_new retires the old ones first. */
MorangoKey         *morango_shared_key_get_or_create      (MorangoDb          *db,
                                                           gboolean            force_new,
                                                           GError            **error);
/* The current shared keys (public and private halves). */
GPtrArray          *morango_shared_key_list               (MorangoDb          *db,
                                                           GError            **error);

/* The receiving side of certificate pushing (§7.8 (b) step 4), without
 * HTTP: @chain ends with a certificate issued to one of this device's
 * shared keys, salted with a nonce this device gave out.  The links
 * before it are imported as by morango_certificate_chain_import() (so
 * their root must be trusted); the last one's key must be a current
 * shared key (MORANGO_ERROR_KEY_INVALID otherwise), its salt a valid
 * nonce (consumed; MORANGO_ERROR_NONCE_INVALID otherwise), and it must
 * pass §7.6.  It is then stored with the shared private key.  Nothing is
 * stored on failure.  @now_usec 0 means now. */
MorangoCertificate *morango_certificate_accept_pushed     (MorangoDb          *db,
                                                           JsonNode           *chain,
                                                           gint64              now_usec,
                                                           GError            **error);

G_END_DECLS
