/* morango-key.c: RSA-2048 keys and signatures through GnuTLS
 *
 * SPDX-License-Identifier: MIT
 */

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <string.h>

#include "morango-key.h"
#include "morango-i18n-private.h"

/* Morango puts the PKCS#1 RSAPublicKey on the wire, GnuTLS speaks
 * SubjectPublicKeyInfo.  For a 2048-bit key with e = 65537 the SPKI DER
 * is exactly these 24 bytes followed by the PKCS#1 DER, so converting
 * between the two is adding or stripping this checked header. */
static const guint8 spki_header[24] = {
  0x30, 0x82, 0x01, 0x22, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
  0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00, 0x03, 0x82, 0x01, 0x0f, 0x00,
};
#define PKCS1_DER_LEN 270
#define SPKI_DER_LEN (sizeof spki_header + PKCS1_DER_LEN)

struct _MorangoKey
{
  GObject              parent_instance;
  gnutls_pubkey_t      pub;
  gnutls_x509_privkey_t x509;   /* NULL for a public key only */
  gnutls_privkey_t     priv;
  GBytes              *der;      /* PKCS#1 RSAPublicKey */
  char                *public_string;
};

G_DEFINE_FINAL_TYPE (MorangoKey, morango_key, G_TYPE_OBJECT)

static void
morango_key_finalize (GObject *object)
{
  MorangoKey *self = MORANGO_KEY (object);

  g_clear_pointer (&self->pub, gnutls_pubkey_deinit);
  g_clear_pointer (&self->priv, gnutls_privkey_deinit);
  g_clear_pointer (&self->x509, gnutls_x509_privkey_deinit);
  g_clear_pointer (&self->der, g_bytes_unref);
  g_clear_pointer (&self->public_string, g_free);
  G_OBJECT_CLASS (morango_key_parent_class)->finalize (object);
}

static void
morango_key_class_init (MorangoKeyClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = morango_key_finalize;
}

static void
morango_key_init (MorangoKey *self)
{
}

static gboolean
key_error (GError    **error,
           int         ret,
           const char *what)
{
  g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_KEY_INVALID,
               "%s: %s", what, gnutls_strerror (ret));
  return FALSE;
}

/* Takes ownership of @pub; checks that it is RSA-2048 with e = 65537 and
 * derives the canonical forms. */
static gboolean
key_set_public (MorangoKey      *self,
                gnutls_pubkey_t  pub,
                GError         **error)
{
  gnutls_datum_t spki = { NULL, 0 };
  gnutls_datum_t m = { NULL, 0 }, e = { NULL, 0 };
  unsigned int bits = 0;
  gboolean e_ok;
  int ret;

  self->pub = pub;
  if (gnutls_pubkey_get_pk_algorithm (pub, &bits) != GNUTLS_PK_RSA)
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_KEY_INVALID,
                           _("The key is not an RSA key; Morango uses RSA-2048 only"));
      return FALSE;
    }
  if (bits != 2048)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_KEY_INVALID,
                   _("The key is a %u-bit RSA key; Morango uses 2048-bit keys only"), bits);
      return FALSE;
    }
  ret = gnutls_pubkey_export_rsa_raw2 (pub, &m, &e, GNUTLS_EXPORT_FLAG_NO_LZ);
  if (ret < 0)
    return key_error (error, ret, _("Could not read the RSA public key"));
  e_ok = e.size == 3 && e.data[0] == 0x01 && e.data[1] == 0x00 && e.data[2] == 0x01;
  gnutls_free (m.data);
  gnutls_free (e.data);
  if (!e_ok)
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_KEY_INVALID,
                           _("The RSA key's public exponent is not 65537"));
      return FALSE;
    }

  ret = gnutls_pubkey_export2 (pub, GNUTLS_X509_FMT_DER, &spki);
  if (ret < 0)
    return key_error (error, ret, _("Could not export the RSA public key"));
  if (spki.size != SPKI_DER_LEN || memcmp (spki.data, spki_header, sizeof spki_header) != 0)
    {
      gnutls_free (spki.data);
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_KEY_INVALID,
                           _("The RSA public key does not have the layout of a 2048-bit key"));
      return FALSE;
    }
  self->der = g_bytes_new (spki.data + sizeof spki_header, PKCS1_DER_LEN);
  self->public_string = g_base64_encode (spki.data + sizeof spki_header, PKCS1_DER_LEN);
  gnutls_free (spki.data);
  return TRUE;
}

/* Takes ownership of @x509. */
static gboolean
key_set_private (MorangoKey            *self,
                 gnutls_x509_privkey_t  x509,
                 GError               **error)
{
  gnutls_pubkey_t pub = NULL;
  int ret;

  self->x509 = x509;
  if (gnutls_x509_privkey_get_pk_algorithm (x509) != GNUTLS_PK_RSA)
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_KEY_INVALID,
                           _("The private key is not an RSA key; Morango uses RSA-2048 only"));
      return FALSE;
    }
  ret = gnutls_x509_privkey_verify_params (x509);
  if (ret < 0)
    return key_error (error, ret, _("The RSA private key is inconsistent"));
  if ((ret = gnutls_privkey_init (&self->priv)) < 0 ||
      (ret = gnutls_privkey_import_x509 (self->priv, x509, 0)) < 0)
    return key_error (error, ret, _("Could not load the RSA private key"));
  if ((ret = gnutls_pubkey_init (&pub)) < 0)
    return key_error (error, ret, _("Could not load the RSA private key"));
  if ((ret = gnutls_pubkey_import_privkey (pub, self->priv, 0, 0)) < 0)
    {
      gnutls_pubkey_deinit (pub);
      return key_error (error, ret, _("Could not derive the public key"));
    }
  return key_set_public (self, pub, error);
}

MorangoKey *
morango_key_generate (GError **error)
{
  g_autoptr(MorangoKey) self = g_object_new (MORANGO_TYPE_KEY, NULL);
  gnutls_x509_privkey_t x509 = NULL;
  int ret;

  if ((ret = gnutls_x509_privkey_init (&x509)) < 0)
    {
      key_error (error, ret, _("Could not create an RSA key"));
      return NULL;
    }
  ret = gnutls_x509_privkey_generate (x509, GNUTLS_PK_RSA, 2048, 0);
  if (ret < 0)
    {
      gnutls_x509_privkey_deinit (x509);
      key_error (error, ret, _("Could not generate an RSA-2048 key"));
      return NULL;
    }
  if (!key_set_private (self, x509, error))
    return NULL;
  return g_steal_pointer (&self);
}

/* Python's binascii.a2b_base64 in its default (non-strict) mode: used
 * for everything a peer sends, so that what verifies there verifies
 * here (correction 29). */
GBytes *
morango_base64_decode_lenient (const char *text)
{
  GByteArray *out;
  guint quad_pos = 0, pads = 0;
  guint8 left = 0;

  g_return_val_if_fail (text != NULL, NULL);

  out = g_byte_array_sized_new (strlen (text) * 3 / 4 + 3);
  for (const char *p = text; *p; p++)
    {
      int v;
      char c = *p;

      if (c == '=')
        {
          if (quad_pos >= 2 && quad_pos + ++pads >= 4)
            goto done;
          continue;
        }
      if (c >= 'A' && c <= 'Z')
        v = c - 'A';
      else if (c >= 'a' && c <= 'z')
        v = c - 'a' + 26;
      else if (c >= '0' && c <= '9')
        v = c - '0' + 52;
      else if (c == '+')
        v = 62;
      else if (c == '/')
        v = 63;
      else
        continue;
      pads = 0;
      switch (quad_pos)
        {
        case 0:
          left = v;
          quad_pos = 1;
          break;
        case 1:
          g_byte_array_append (out, (guint8[]) { (guint8) ((left << 2) | (v >> 4)) }, 1);
          left = v & 0x0f;
          quad_pos = 2;
          break;
        case 2:
          g_byte_array_append (out, (guint8[]) { (guint8) ((left << 4) | (v >> 2)) }, 1);
          left = v & 0x03;
          quad_pos = 3;
          break;
        default:
          g_byte_array_append (out, (guint8[]) { (guint8) ((left << 6) | v) }, 1);
          quad_pos = 0;
          break;
        }
    }
  if (quad_pos != 0)
    {
      g_byte_array_unref (out);
      return NULL;
    }
done:
  return g_byte_array_free_to_bytes (out);
}

/* The textual clean-up Python applies before decoding a key: PEM
 * armour lines dropped. */
static char *
strip_pem_armour (const char *text)
{
  g_autofree char *trimmed = g_strstrip (g_strdup (text));
  g_auto(GStrv) lines = NULL;
  GString *body;

  if (!g_str_has_prefix (trimmed, "-----"))
    return g_steal_pointer (&trimmed);
  lines = g_strsplit (trimmed, "\n", -1);
  body = g_string_new (NULL);
  for (guint i = 0; lines[i]; i++)
    if (!g_str_has_prefix (lines[i], "---"))
      g_string_append (body, lines[i]);
  return g_string_free (body, FALSE);
}

MorangoKey *
morango_key_new_from_public (const char  *text,
                             GError     **error)
{
  g_autoptr(MorangoKey) self = NULL;
  g_autofree char *body = NULL;
  g_autoptr(GBytes) der = NULL;
  g_autofree guint8 *spki = NULL;
  gnutls_datum_t datum;
  gnutls_pubkey_t pub = NULL;
  const guint8 *data;
  gsize len, spki_len;
  int ret;

  g_return_val_if_fail (text != NULL, NULL);

  body = strip_pem_armour (text);
  der = morango_base64_decode_lenient (body);
  if (der == NULL || g_bytes_get_size (der) == 0)
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_KEY_INVALID,
                           _("The public key is not valid base64 text"));
      return NULL;
    }
  data = g_bytes_get_data (der, &len);
  if (len >= sizeof spki_header && memcmp (data, spki_header, sizeof spki_header) == 0)
    {
      spki = g_memdup2 (data, len);
      spki_len = len;
    }
  else if (len >= 4 && data[0] == 0x30 && data[1] == 0x82 && data[2] == 0x01 && data[3] == 0x0a)
    {
      spki_len = sizeof spki_header + len;
      spki = g_malloc (spki_len);
      memcpy (spki, spki_header, sizeof spki_header);
      memcpy (spki + sizeof spki_header, data, len);
    }
  else
    {
      /* Some other SubjectPublicKeyInfo (another size or algorithm):
       * loading it lets the message say what it is. */
      spki = g_memdup2 (data, len);
      spki_len = len;
    }

  if ((ret = gnutls_pubkey_init (&pub)) < 0)
    {
      key_error (error, ret, _("Could not load the public key"));
      return NULL;
    }
  datum.data = spki;
  datum.size = spki_len;
  ret = gnutls_pubkey_import (pub, &datum, GNUTLS_X509_FMT_DER);
  if (ret < 0)
    {
      gnutls_pubkey_deinit (pub);
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_KEY_INVALID,
                           _("The text is not an RSA-2048 public key (PKCS#1 or SubjectPublicKeyInfo)"));
      return NULL;
    }
  self = g_object_new (MORANGO_TYPE_KEY, NULL);
  if (!key_set_public (self, pub, error))
    return NULL;
  return g_steal_pointer (&self);
}

MorangoKey *
morango_key_new_from_private_pem (const char  *text,
                                  GError     **error)
{
  g_autoptr(MorangoKey) self = NULL;
  g_autofree char *trimmed = NULL;
  g_autoptr(GBytes) der = NULL;
  gnutls_x509_privkey_t x509 = NULL;
  gnutls_datum_t datum;
  int ret;

  g_return_val_if_fail (text != NULL, NULL);

  trimmed = g_strstrip (g_strdup (text));
  if (g_str_has_prefix (trimmed, "-----"))
    {
      if (!g_str_has_prefix (trimmed, "-----BEGIN RSA PRIVATE KEY-----") ||
          !g_str_has_suffix (trimmed, "-----END RSA PRIVATE KEY-----"))
        {
          g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_KEY_INVALID,
                               _("The private key is not a complete PEM “RSA PRIVATE KEY” block"));
          return NULL;
        }
      g_autofree char *body = strip_pem_armour (trimmed);
      der = morango_base64_decode_lenient (body);
    }
  else
    {
      /* Python accepts the body alone and adds the armour itself. */
      der = morango_base64_decode_lenient (trimmed);
    }
  if (der == NULL || g_bytes_get_size (der) == 0)
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_KEY_INVALID,
                           _("The private key is not valid base64 text (truncated?)"));
      return NULL;
    }

  if ((ret = gnutls_x509_privkey_init (&x509)) < 0)
    {
      key_error (error, ret, _("Could not load the private key"));
      return NULL;
    }
  datum.data = (unsigned char *) g_bytes_get_data (der, NULL);
  datum.size = g_bytes_get_size (der);
  ret = gnutls_x509_privkey_import (x509, &datum, GNUTLS_X509_FMT_DER);
  if (ret < 0)
    {
      gnutls_x509_privkey_deinit (x509);
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_KEY_INVALID,
                   _("The text is not a PKCS#1 RSA private key (truncated or damaged?): %s"),
                   gnutls_strerror (ret));
      return NULL;
    }
  self = g_object_new (MORANGO_TYPE_KEY, NULL);
  if (!key_set_private (self, x509, error))
    return NULL;
  return g_steal_pointer (&self);
}

MorangoKey *
morango_key_new_from_encrypted (const char  *pem,
                                const char  *passphrase,
                                GError     **error)
{
  g_autoptr(MorangoKey) self = NULL;
  gnutls_x509_privkey_t x509 = NULL;
  gnutls_datum_t datum;
  int ret;

  g_return_val_if_fail (pem != NULL, NULL);
  g_return_val_if_fail (passphrase != NULL, NULL);

  if ((ret = gnutls_x509_privkey_init (&x509)) < 0)
    {
      key_error (error, ret, _("Could not load the private key"));
      return NULL;
    }
  datum.data = (unsigned char *) pem;
  datum.size = strlen (pem);
  ret = gnutls_x509_privkey_import_pkcs8 (x509, &datum, GNUTLS_X509_FMT_PEM, passphrase, 0);
  if (ret < 0)
    {
      gnutls_x509_privkey_deinit (x509);
      if (ret == GNUTLS_E_DECRYPTION_FAILED)
        g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED,
                             _("The passphrase is wrong: the private key could not be decrypted"));
      else
        g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_KEY_INVALID,
                     _("The encrypted private key could not be read: %s"), gnutls_strerror (ret));
      return NULL;
    }
  self = g_object_new (MORANGO_TYPE_KEY, NULL);
  if (!key_set_private (self, x509, error))
    return NULL;
  return g_steal_pointer (&self);
}

const char *
morango_key_get_public_string (MorangoKey *self)
{
  g_return_val_if_fail (MORANGO_IS_KEY (self), NULL);
  return self->public_string;
}

GBytes *
morango_key_get_public_der (MorangoKey *self)
{
  g_return_val_if_fail (MORANGO_IS_KEY (self), NULL);
  return g_bytes_ref (self->der);
}

char *
morango_key_get_fingerprint (MorangoKey *self)
{
  g_autofree char *hex = NULL;
  GString *out;

  g_return_val_if_fail (MORANGO_IS_KEY (self), NULL);

  hex = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, self->der);
  out = g_string_sized_new (96);
  for (guint i = 0; hex[i]; i += 2)
    {
      if (i > 0)
        g_string_append_c (out, ':');
      g_string_append_len (out, hex + i, 2);
    }
  return g_string_free (out, FALSE);
}

gboolean
morango_key_has_private (MorangoKey *self)
{
  g_return_val_if_fail (MORANGO_IS_KEY (self), FALSE);
  return self->priv != NULL;
}

static gboolean
require_private (MorangoKey *self,
                 GError    **error)
{
  if (self->priv != NULL)
    return TRUE;
  g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_KEY_INVALID,
                       _("This device does not hold the private key"));
  return FALSE;
}

char *
morango_key_get_private_pem (MorangoKey *self,
                             GError    **error)
{
  gnutls_datum_t out = { NULL, 0 };
  char *pem;
  int ret;

  g_return_val_if_fail (MORANGO_IS_KEY (self), NULL);

  if (!require_private (self, error))
    return NULL;
  ret = gnutls_x509_privkey_export2 (self->x509, GNUTLS_X509_FMT_PEM, &out);
  if (ret < 0)
    {
      key_error (error, ret, _("Could not export the private key"));
      return NULL;
    }
  if (out.size > 0 && out.data[out.size - 1] == '\n')
    pem = g_strndup ((const char *) out.data, out.size);
  else
    pem = g_strdup_printf ("%.*s\n", (int) out.size, (const char *) out.data);
  gnutls_memset (out.data, 0, out.size);
  gnutls_free (out.data);
  return pem;
}

char *
morango_key_export_encrypted (MorangoKey *self,
                              const char *passphrase,
                              GError    **error)
{
  gnutls_datum_t out = { NULL, 0 };
  char *pem;
  int ret;

  g_return_val_if_fail (MORANGO_IS_KEY (self), NULL);
  g_return_val_if_fail (passphrase != NULL, NULL);

  if (!require_private (self, error))
    return NULL;
  if (*passphrase == '\0')
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                           _("An empty passphrase would leave the private key unprotected"));
      return NULL;
    }
  ret = gnutls_x509_privkey_export2_pkcs8 (self->x509, GNUTLS_X509_FMT_PEM, passphrase,
                                           GNUTLS_PKCS_PBES2_AES_256, &out);
  if (ret < 0)
    {
      key_error (error, ret, _("Could not encrypt the private key"));
      return NULL;
    }
  pem = g_strndup ((const char *) out.data, out.size);
  gnutls_free (out.data);
  return pem;
}

gboolean
morango_key_equal_public (MorangoKey *a,
                          MorangoKey *b)
{
  g_return_val_if_fail (MORANGO_IS_KEY (a), FALSE);
  g_return_val_if_fail (MORANGO_IS_KEY (b), FALSE);
  return g_bytes_equal (a->der, b->der);
}

char *
morango_key_sign (MorangoKey *self,
                  const char *message,
                  gssize      len,
                  GError    **error)
{
  gnutls_datum_t data, sig = { NULL, 0 };
  char *b64;
  int ret;

  g_return_val_if_fail (MORANGO_IS_KEY (self), NULL);
  g_return_val_if_fail (message != NULL || len == 0, NULL);

  if (!require_private (self, error))
    return NULL;
  data.data = (unsigned char *) message;
  data.size = len < 0 ? strlen (message) : (gsize) len;
  ret = gnutls_privkey_sign_data (self->priv, GNUTLS_DIG_SHA256, 0, &data, &sig);
  if (ret < 0)
    {
      key_error (error, ret, _("Could not sign"));
      return NULL;
    }
  b64 = g_base64_encode (sig.data, sig.size);
  gnutls_free (sig.data);
  return b64;
}

gboolean
morango_key_verify (MorangoKey *self,
                    const char *message,
                    gssize      len,
                    const char *signature)
{
  g_autoptr(GBytes) raw = NULL;
  gnutls_datum_t data, sig;

  g_return_val_if_fail (MORANGO_IS_KEY (self), FALSE);
  g_return_val_if_fail (message != NULL || len == 0, FALSE);

  if (signature == NULL)
    return FALSE;
  raw = morango_base64_decode_lenient (signature);
  if (raw == NULL || g_bytes_get_size (raw) == 0)
    return FALSE;
  data.data = (unsigned char *) message;
  data.size = len < 0 ? strlen (message) : (gsize) len;
  sig.data = (unsigned char *) g_bytes_get_data (raw, NULL);
  sig.size = g_bytes_get_size (raw);
  return gnutls_pubkey_verify_data2 (self->pub, GNUTLS_SIGN_RSA_SHA256, 0, &data, &sig) >= 0;
}

char *
morango_public_key_normalize (const char  *text,
                              GError     **error)
{
  g_autoptr(MorangoKey) key = morango_key_new_from_public (text, error);

  if (key == NULL)
    return NULL;
  return g_strdup (key->public_string);
}
