/* morango-chain.h: certificate chains: import, export, backup and restore (protocol §7.6)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <json-glib/json-glib.h>

#include "morango-certificate.h"

G_BEGIN_DECLS

typedef enum {
  MORANGO_CHAIN_IMPORT_DEFAULT    = 0,
  /* Trust the chain's root (the user asked for it: `cert trust`). */
  MORANGO_CHAIN_IMPORT_TRUST_ROOT = 1 << 0,
  /* Skip the trust step (Morango's own behaviour; tests only). */
  MORANGO_CHAIN_IMPORT_NO_TRUST   = 1 << 1,
  /* Trust the chain's root on first use: when this import brings it (it
   * is not stored here yet), it becomes a trust anchor; a root already
   * stored must be trusted already.  For a server that hosts datasets
   * it never met (a cloud taking pushed certificates): a later chain
   * naming that root's id with another key or text is refused, as any
   * stored certificate is (quirk 18). */
  MORANGO_CHAIN_IMPORT_TRUST_NEW_ROOT = 1 << 2,
} MorangoChainImportFlags;

/* Imports a chain as save_certificate_chain does (§7.6), but validates
 * all of it, then checks that its root is trusted, and only then stores
 * the new certificates, all in one transaction: a failure stores
 * nothing.  @chain is a JSON array of API objects root first, a JSON
 * string holding such an array (the certificatechain payload), or a
 * single API object.  @expected_last_id may be NULL.  Returns the last
 * certificate (the stored copy when it was already stored).  @monitor
 * (may be NULL) hears of stage "chain-import" and of each new
 * certificate checked; once it is cancelled nothing is stored and the
 * import fails with G_IO_ERROR_CANCELLED. */
MorangoCertificate *morango_certificate_chain_import      (MorangoDb          *db,
                                                           JsonNode           *chain,
                                                           const char         *expected_last_id,
                                                           MorangoChainImportFlags flags,
                                                           MorangoMonitor     *monitor,
                                                           GError            **error);
MorangoCertificate *morango_certificate_chain_import_text (MorangoDb          *db,
                                                           const char         *text,
                                                           const char         *expected_last_id,
                                                           MorangoChainImportFlags flags,
                                                           MorangoMonitor     *monitor,
                                                           GError            **error);
/* The chain of @id as a JSON array of API objects, root first, without
 * private keys. */
JsonArray          *morango_certificate_chain_export      (MorangoDb          *db,
                                                           const char         *id,
                                                           GError            **error);
char               *morango_certificate_chain_export_text (MorangoDb          *db,
                                                           const char         *id,
                                                           GError            **error);

/* An explicit backup of an owned certificate: its chain and its private
 * key encrypted with @passphrase (PKCS#8, AES-256), as a JSON text. */
char               *morango_certificate_backup            (MorangoDb          *db,
                                                           const char         *id,
                                                           const char         *passphrase,
                                                           GError            **error);
/* Writes the backup to @path, created with mode 0600. */
gboolean            morango_certificate_backup_to_file    (MorangoDb          *db,
                                                           const char         *id,
                                                           const char         *passphrase,
                                                           const char         *path,
                                                           GError            **error);
/* Whether @text is a backup (of morango_certificate_backup()) rather
 * than a chain: an import is told so, with what to do instead. */
gboolean            morango_certificate_text_is_backup    (const char         *text);

/* Restores a backup: the chain is validated as an import, its root is
 * trusted (the user deliberately restores their own identity) and the
 * private key is attached.  Returns the restored certificate.  @monitor
 * (may be NULL) is the chain import's; a cancel restores nothing.
 * Decrypting the key is not cancellable. */
MorangoCertificate *morango_certificate_restore           (MorangoDb          *db,
                                                           const char         *backup,
                                                           const char         *passphrase,
                                                           MorangoMonitor     *monitor,
                                                           GError            **error);

G_END_DECLS
