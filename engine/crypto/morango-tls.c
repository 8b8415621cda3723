/* morango-tls.c: the server's own TLS certificate and the fingerprints peers are pinned by
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <glib/gstdio.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <string.h>
#include <time.h>

#include "morango-tls.h"
#include "morango-i18n-private.h"

#define PREFIX "SHA256:"

G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_x509_privkey_t, gnutls_x509_privkey_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_x509_crt_t, gnutls_x509_crt_deinit, NULL)

static gboolean
tls_error (GError    **error,
           int         ret,
           const char *what)
{
  g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_FAILED, "%s: %s", what, gnutls_strerror (ret));
  return FALSE;
}

static char *
datum_to_string (gnutls_datum_t *datum)
{
  char *text = g_strndup ((const char *) datum->data, datum->size);

  gnutls_free (datum->data);
  datum->data = NULL;
  return text;
}

/* A new key and a certificate for it, signed by itself, both as PEM.
 * ECDSA P-256: made in a moment, and every TLS stack takes it.  Nobody
 * checks names or dates of a pinned certificate, so it names the
 * program and has no well-defined end (RFC 5280, 4.1.2.5). */
static gboolean
make_pair (char   **certificate_pem,
           char   **key_pem,
           GError **error)
{
  g_auto(gnutls_x509_privkey_t) key = NULL;
  g_auto(gnutls_x509_crt_t) crt = NULL;
  gnutls_datum_t out = { NULL, 0 };
  static const char name[] = "morango-sync";
  guint8 serial[16];
  time_t now = time (NULL);
  int ret;

  if ((ret = gnutls_x509_privkey_init (&key)) < 0 ||
      (ret = gnutls_x509_privkey_generate (key, GNUTLS_PK_ECDSA,
                                           GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1), 0)) < 0)
    return tls_error (error, ret, _("Cannot make a TLS key"));
  if ((ret = gnutls_rnd (GNUTLS_RND_NONCE, serial, sizeof serial)) < 0)
    return tls_error (error, ret, _("Cannot make a certificate serial number"));
  /* Positive and of full length, as RFC 5280 asks. */
  serial[0] = (serial[0] & 0x7f) | 0x40;
  if ((ret = gnutls_x509_crt_init (&crt)) < 0 ||
      (ret = gnutls_x509_crt_set_version (crt, 3)) < 0 ||
      (ret = gnutls_x509_crt_set_serial (crt, serial, sizeof serial)) < 0 ||
      (ret = gnutls_x509_crt_set_activation_time (crt, now - 60 * 60)) < 0 ||
      (ret = gnutls_x509_crt_set_expiration_time (crt, GNUTLS_X509_NO_WELL_DEFINED_EXPIRATION)) < 0 ||
      (ret = gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0, name, strlen (name))) < 0 ||
      (ret = gnutls_x509_crt_set_key (crt, key)) < 0 ||
      (ret = gnutls_x509_crt_set_basic_constraints (crt, 0, -1)) < 0 ||
      (ret = gnutls_x509_crt_set_key_usage (crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
      (ret = gnutls_x509_crt_set_key_purpose_oid (crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0 ||
      (ret = gnutls_x509_crt_sign2 (crt, crt, key, GNUTLS_DIG_SHA256, 0)) < 0)
    return tls_error (error, ret, _("Cannot make the TLS certificate"));
  if ((ret = gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_PEM, &out)) < 0)
    return tls_error (error, ret, _("Cannot write the TLS certificate"));
  *certificate_pem = datum_to_string (&out);
  if ((ret = gnutls_x509_privkey_export2_pkcs8 (key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &out)) < 0)
    {
      g_clear_pointer (certificate_pem, g_free);
      return tls_error (error, ret, _("Cannot write the TLS key"));
    }
  *key_pem = datum_to_string (&out);
  return TRUE;
}

GTlsCertificate *
morango_tls_certificate_ensure (const char  *dir,
                                gboolean    *created,
                                GError     **error)
{
  g_autofree char *certificate_path = NULL;
  g_autofree char *key_path = NULL;
  GTlsCertificate *certificate;
  GStatBuf st;

  g_return_val_if_fail (dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  certificate_path = g_build_filename (dir, MORANGO_TLS_CERTIFICATE_FILE, NULL);
  key_path = g_build_filename (dir, MORANGO_TLS_KEY_FILE, NULL);
  if (created != NULL)
    *created = FALSE;

  /* A certificate without its key is of no use, and a key without its
   * certificate has no fingerprint anyone pinned: either way, a new
   * pair, which clients will see as a new identity. */
  if (!g_file_test (certificate_path, G_FILE_TEST_EXISTS) || !g_file_test (key_path, G_FILE_TEST_EXISTS))
    {
      g_autofree char *certificate_pem = NULL;
      g_autofree char *key_pem = NULL;
      gboolean written;

      if (g_mkdir_with_parents (dir, 0700) != 0)
        {
          int saved = errno;

          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                       _("Cannot make the folder %s: %s"), dir, g_strerror (saved));
          return NULL;
        }
      if (!make_pair (&certificate_pem, &key_pem, error))
        return NULL;
      written = g_file_set_contents_full (key_path, key_pem, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error) &&
                g_file_set_contents_full (certificate_path, certificate_pem, -1,
                                          G_FILE_SET_CONTENTS_CONSISTENT, 0644, error);
      memset (key_pem, 0, strlen (key_pem));
      if (!written)
        return NULL;
      if (created != NULL)
        *created = TRUE;
    }

  /* Whoever else can read the key can pass for this device. */
  if (g_stat (key_path, &st) == 0 && (st.st_mode & 077) != 0)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED,
                   _("%s may be read by other users: make it private (chmod 600) or delete it "
                   "to make a new one"), key_path);
      return NULL;
    }
  certificate = g_tls_certificate_new_from_files (certificate_path, key_path, error);
  if (certificate == NULL)
    g_prefix_error (error, _("The TLS certificate in %s: "), dir);
  return certificate;
}

char *
morango_tls_certificate_get_fingerprint (GTlsCertificate *certificate)
{
  g_autoptr(GByteArray) der = NULL;
  g_autoptr(GChecksum) checksum = NULL;
  guint8 digest[32];
  gsize len = sizeof digest;
  GString *text;

  g_return_val_if_fail (G_IS_TLS_CERTIFICATE (certificate), NULL);

  g_object_get (certificate, "certificate", &der, NULL);
  g_return_val_if_fail (der != NULL, NULL);
  checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (checksum, der->data, der->len);
  g_checksum_get_digest (checksum, digest, &len);
  text = g_string_sized_new (MORANGO_TLS_FINGERPRINT_LEN + 1);
  g_string_append (text, PREFIX);
  for (gsize i = 0; i < len; i++)
    g_string_append_printf (text, i ? ":%02x" : "%02x", digest[i]);
  return g_string_free (text, FALSE);
}

char *
morango_tls_fingerprint_normalize (const char  *text,
                                   GError     **error)
{
  GString *out;
  const char *p;
  guint digits = 0;

  g_return_val_if_fail (text != NULL, NULL);

  p = text;
  if (g_ascii_strncasecmp (p, PREFIX, strlen (PREFIX)) == 0)
    p += strlen (PREFIX);
  out = g_string_new (PREFIX);
  for (; *p != '\0'; p++)
    {
      if (*p == ':')
        {
          /* Colons only between whole bytes. */
          if (digits == 0 || digits % 2 != 0 || p[1] == '\0' || p[1] == ':')
            break;
          continue;
        }
      if (!g_ascii_isxdigit (*p) || digits == 64)
        break;
      if (digits > 0 && digits % 2 == 0)
        g_string_append_c (out, ':');
      g_string_append_c (out, g_ascii_tolower (*p));
      digits++;
    }
  if (*p != '\0' || digits != 64)
    {
      g_string_free (out, TRUE);
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   /* Translators: the text given, then twice the prefix “SHA256:” */
                   _("“%s” is not a certificate fingerprint: one is 32 bytes of hex, "
                     "as “%s3f:a0:…” (%s and the colons may be left out)"), text, PREFIX, PREFIX);
      return NULL;
    }
  return g_string_free (out, FALSE);
}
