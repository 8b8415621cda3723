/* morango-password.h: password hashes (PBKDF2-HMAC-SHA256)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <glib.h>

#include "morango-error.h"
#include "morango-random.h"

G_BEGIN_DECLS

/* The fewest iterations a stored hash may have (OWASP's figure for
 * PBKDF2-HMAC-SHA256); weaker stored texts are refused, not verified. */
#define MORANGO_PASSWORD_MIN_ITERATIONS 600000
/* The most a stored text may ask for: past this a hash is a way to
 * stall the device, not a safer one. */
#define MORANGO_PASSWORD_MAX_ITERATIONS 100000000

/* The primitive: PBKDF2 with HMAC-SHA256 over the bytes given, @length
 * bytes of output (GnuTLS's gnutls_pbkdf2). */
GBytes   *morango_password_pbkdf2_sha256 (const void  *password,
                                          gsize        password_len,
                                          const void  *salt,
                                          gsize        salt_len,
                                          guint        iterations,
                                          gsize        length,
                                          GError     **error);

/* A stored hash of @password (UTF-8, not empty):
 * "pbkdf2_sha256$<iterations>$<salt>$<hash>", where <salt> is the base64
 * of 16 bytes from @random and <hash> the base64 of the 32-byte key
 * derived with the salt text as salt.  That is Django's format, so a
 * Django hash with enough iterations verifies here. */
char     *morango_password_hash          (const char     *password,
                                          MorangoRandom  *random,
                                          GError        **error);
/* The same with @iterations, at least MORANGO_PASSWORD_MIN_ITERATIONS. */
char     *morango_password_hash_full     (const char     *password,
                                          guint           iterations,
                                          MorangoRandom  *random,
                                          GError        **error);
/* Whether @password matches @stored, compared in constant time.  A
 * mismatch is MORANGO_ERROR_PERMISSION_DENIED; a stored text that is
 * malformed, of another algorithm, or with fewer iterations than the
 * minimum is MORANGO_ERROR_INVALID, and nothing is derived for it. */
gboolean  morango_password_verify        (const char     *password,
                                          const char     *stored,
                                          GError        **error);

G_END_DECLS
