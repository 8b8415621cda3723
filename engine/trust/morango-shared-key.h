/* morango-shared-key.h: shared keys and certificate pushing (protocol §1.15, §7.8 (b))
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <json-glib/json-glib.h>

#include "morango-certificate.h"
#include "morango-chain.h"
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

/* Which of the checks of a pushed chain refused it, in the order a
 * Morango 0.8.2 server makes them (correction 34), so that a server can
 * answer as that one does. */
typedef enum {
  MORANGO_PUSH_STEP_SHAPE,        /* not a chain ending in a child certificate */
  MORANGO_PUSH_STEP_CHAIN,        /* the issuer's chain did not import */
  MORANGO_PUSH_STEP_SHARED_KEY,   /* not issued to a current shared key */
  MORANGO_PUSH_STEP_NONCE,        /* the salt is no usable nonce */
  MORANGO_PUSH_STEP_CERTIFICATE,  /* §7.6, or storing it */
} MorangoPushStep;

/* morango_certificate_accept_pushed() with @flags for the import of the
 * issuer's chain (MORANGO_CHAIN_IMPORT_TRUST_NEW_ROOT: a cloud's first
 * push from a dataset it never met) and, on failure, the step that
 * refused it in *@failed_step (may be NULL).  The nonce is used after
 * the key is checked and before the certificate is: a refusal after it
 * leaves the nonce spent and everything else as it was. */
MorangoCertificate *morango_certificate_accept_pushed_full (MorangoDb              *db,
                                                            JsonNode               *chain,
                                                            MorangoChainImportFlags flags,
                                                            gint64                  now_usec,
                                                            MorangoPushStep        *failed_step,
                                                            GError                **error);
/* The current shared key whose row id is @id (publickey/<id>/), public
 * and private halves; MORANGO_ERROR_NOT_FOUND when there is none. */
MorangoKey         *morango_shared_key_lookup             (MorangoDb          *db,
                                                           gint64              id,
                                                           GError            **error);

G_END_DECLS
