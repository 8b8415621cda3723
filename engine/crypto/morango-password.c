/* morango-password.c: password hashes (PBKDF2-HMAC-SHA256)
 *
 * SPDX-License-Identifier: MIT
 */

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>

#include "morango-password.h"
#include "morango-i18n-private.h"

#define ALGORITHM "pbkdf2_sha256"
#define SALT_BYTES 16
#define HASH_BYTES 32

GBytes *
morango_password_pbkdf2_sha256 (const void  *password,
                                gsize        password_len,
                                const void  *salt,
                                gsize        salt_len,
                                guint        iterations,
                                gsize        length,
                                GError     **error)
{
  gnutls_datum_t key = { (unsigned char *) password, password_len };
  gnutls_datum_t salt_datum = { (unsigned char *) salt, salt_len };
  g_autofree guint8 *out = NULL;
  int rc;

  g_return_val_if_fail (password != NULL || password_len == 0, NULL);
  g_return_val_if_fail (salt != NULL || salt_len == 0, NULL);
  g_return_val_if_fail (length > 0, NULL);

  if (iterations == 0)
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                           _("PBKDF2 needs at least one iteration"));
      return NULL;
    }
  out = g_malloc (length);
  rc = gnutls_pbkdf2 (GNUTLS_MAC_SHA256, &key, &salt_datum, iterations, out, length);
  if (rc < 0)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_FAILED,
                   _("Could not derive a password hash: %s"), gnutls_strerror (rc));
      return NULL;
    }
  return g_bytes_new_take (g_steal_pointer (&out), length);
}

static char *
derive_b64 (const char  *password,
            const char  *salt,
            guint        iterations,
            GError     **error)
{
  g_autoptr(GBytes) dk = morango_password_pbkdf2_sha256 (password, strlen (password),
                                                         salt, strlen (salt),
                                                         iterations, HASH_BYTES, error);
  gsize len;
  const guint8 *data;

  if (dk == NULL)
    return NULL;
  data = g_bytes_get_data (dk, &len);
  return g_base64_encode (data, len);
}

char *
morango_password_hash_full (const char     *password,
                            guint           iterations,
                            MorangoRandom  *random,
                            GError        **error)
{
  guint8 salt_bytes[SALT_BYTES];
  g_autofree char *salt = NULL;
  g_autofree char *hash = NULL;

  g_return_val_if_fail (password != NULL, NULL);
  g_return_val_if_fail (random != NULL, NULL);

  if (*password == '\0')
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_INVALID, _("The password is empty"));
      return NULL;
    }
  if (!g_utf8_validate (password, -1, NULL))
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                           _("The password is not valid UTF-8 text"));
      return NULL;
    }
  if (iterations < MORANGO_PASSWORD_MIN_ITERATIONS || iterations > MORANGO_PASSWORD_MAX_ITERATIONS)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("A password hash needs between %d and %d iterations, not %u"),
                   MORANGO_PASSWORD_MIN_ITERATIONS, MORANGO_PASSWORD_MAX_ITERATIONS, iterations);
      return NULL;
    }
  morango_random_bytes (random, salt_bytes, sizeof salt_bytes);
  salt = g_base64_encode (salt_bytes, sizeof salt_bytes);
  hash = derive_b64 (password, salt, iterations, error);
  if (hash == NULL)
    return NULL;
  return g_strdup_printf (ALGORITHM "$%u$%s$%s", iterations, salt, hash);
}

char *
morango_password_hash (const char     *password,
                       MorangoRandom  *random,
                       GError        **error)
{
  return morango_password_hash_full (password, MORANGO_PASSWORD_MIN_ITERATIONS, random, error);
}

static gboolean
malformed (GError    **error,
           const char *why)
{
  g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
               _("The stored password hash is unusable: %s"), why);
  return FALSE;
}

gboolean
morango_password_verify (const char  *password,
                         const char  *stored,
                         GError     **error)
{
  g_auto(GStrv) parts = NULL;
  g_autofree char *derived = NULL;
  guint64 iterations = 0;
  gsize derived_len, stored_len;
  const char *expected;
  gboolean equal;

  g_return_val_if_fail (password != NULL, FALSE);
  g_return_val_if_fail (stored != NULL, FALSE);

  parts = g_strsplit (stored, "$", -1);
  if (g_strv_length (parts) != 4)
    return malformed (error, _("it is not four fields separated by “$”"));
  if (!g_str_equal (parts[0], ALGORITHM))
    return malformed (error, _("it is not PBKDF2-HMAC-SHA256"));
  /* Plain digits: GLib refuses signs, spaces and an empty text. */
  if (!g_ascii_string_to_unsigned (parts[1], 10, 0, G_MAXUINT, &iterations, NULL))
    return malformed (error, _("its iteration count is not a number"));
  if (iterations < MORANGO_PASSWORD_MIN_ITERATIONS)
    return malformed (error, _("it has fewer iterations than the minimum"));
  if (iterations > MORANGO_PASSWORD_MAX_ITERATIONS)
    return malformed (error, _("it asks for more iterations than the maximum"));
  if (parts[2][0] == '\0')
    return malformed (error, _("its salt is empty"));
  expected = parts[3];
  {
    g_autofree guchar *raw = NULL;
    gsize raw_len = 0;

    /* g_base64_decode accepts anything; the stored hash must be exactly
     * what we write, the base64 of 32 bytes. */
    if (strlen (expected) != 44 ||
        strspn (expected, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != 44 ||
        (raw = g_base64_decode (expected, &raw_len)) == NULL || raw_len != HASH_BYTES)
      return malformed (error, _("its hash is not the base64 of 32 bytes"));
  }

  derived = derive_b64 (password, parts[2], (guint) iterations, error);
  if (derived == NULL)
    return FALSE;
  derived_len = strlen (derived);
  stored_len = strlen (expected);
  /* Both are 44 characters here; the length test only guards the call. */
  equal = derived_len == stored_len && gnutls_memcmp (derived, expected, derived_len) == 0;
  if (!equal)
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED,
                           _("The password does not match"));
      return FALSE;
    }
  return TRUE;
}
