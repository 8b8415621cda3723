/* morango-tls.h: the server's own TLS certificate and the fingerprints peers are pinned by
 *
 * SPDX-License-Identifier: MIT
 *
 * `morango serve --tls` speaks HTTPS with a self-signed certificate made
 * on first use and kept in the data folder.  Nobody vouches for it: a
 * client checks it by its fingerprint, shown to the user on first
 * contact and pinned afterwards (like an SSH host key).
 *
 * A fingerprint is written "SHA256:" and the SHA-256 of the
 * certificate's DER in lowercase hex, two digits per byte separated by
 * colons ("SHA256:3f:a0:…", 32 bytes).  What people type is read more
 * loosely: any case, with or without the prefix and the colons.
 */
#pragma once

#include <gio/gio.h>

#include "morango-error.h"

G_BEGIN_DECLS

/* The files in the data folder; the key is created with mode 0600. */
#define MORANGO_TLS_CERTIFICATE_FILE "tls-certificate.pem"
#define MORANGO_TLS_KEY_FILE         "tls-key.pem"

/* The length of a canonical fingerprint, without its NUL. */
#define MORANGO_TLS_FINGERPRINT_LEN (7 + 32 * 3 - 1)

/* The certificate of the folder @dir with its private key, made (an
 * ECDSA P-256 key and a self-signed certificate) when either file is
 * missing; *@created (may be NULL) says whether it was.  A key file
 * that others may read is refused, as is a pair that does not load. */
GTlsCertificate *morango_tls_certificate_ensure          (const char       *dir,
                                                          gboolean         *created,
                                                          GError          **error);
/* The canonical fingerprint of @certificate. */
char            *morango_tls_certificate_get_fingerprint (GTlsCertificate  *certificate);
/* The canonical spelling of a fingerprint a person gave; NULL with
 * MORANGO_ERROR_INVALID when it is not 32 bytes of hex in the loose
 * forms above. */
char            *morango_tls_fingerprint_normalize       (const char       *text,
                                                          GError          **error);

G_END_DECLS
