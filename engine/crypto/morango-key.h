/* morango-key.h: RSA-2048 keys and PKCS#1 v1.5 SHA-256 signatures (protocol §7.1–§7.4)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <glib-object.h>

#include "morango-error.h"

G_BEGIN_DECLS

#define MORANGO_TYPE_KEY (morango_key_get_type ())
G_DECLARE_FINAL_TYPE (MorangoKey, morango_key, MORANGO, KEY, GObject)

/* A fresh RSA-2048 key pair (e = 65537) from GnuTLS's generator. */
MorangoKey *morango_key_generate              (GError     **error);
/* A public key in any spelling Morango accepts: the canonical string,
 * PEM "RSA PUBLIC KEY" or "PUBLIC KEY", bare SubjectPublicKeyInfo
 * base64, with or without newlines.  Anything but RSA-2048 with
 * e = 65537 is refused (MORANGO_ERROR_KEY_INVALID). */
MorangoKey *morango_key_new_from_public       (const char  *text,
                                               GError     **error);
/* A private key as PEM "RSA PRIVATE KEY" or its bare base64 body. */
MorangoKey *morango_key_new_from_private_pem  (const char  *text,
                                               GError     **error);
/* A private key from morango_key_export_encrypted(). */
MorangoKey *morango_key_new_from_encrypted    (const char  *pem,
                                               const char  *passphrase,
                                               GError     **error);

/* The canonical public key string of §7.2: base64 of the PKCS#1
 * RSAPublicKey DER, one line, 360 characters. */
const char *morango_key_get_public_string     (MorangoKey  *self);
/* The PKCS#1 RSAPublicKey DER (270 bytes). */
GBytes     *morango_key_get_public_der        (MorangoKey  *self);
/* SHA-256 of the public key DER, lowercase hex in colon-separated
 * groups of two ("ab:cd:…"). */
char       *morango_key_get_fingerprint       (MorangoKey  *self);
gboolean    morango_key_has_private           (MorangoKey  *self);
/* PEM "RSA PRIVATE KEY" with a trailing newline, as Morango stores it
 * (correction 30).  Fails when the key has no private part. */
char       *morango_key_get_private_pem       (MorangoKey  *self,
                                               GError     **error);
/* The private key as PKCS#8 PEM encrypted with @passphrase (AES-256). */
char       *morango_key_export_encrypted      (MorangoKey  *self,
                                               const char  *passphrase,
                                               GError     **error);
/* Do both keys have the same public part? */
gboolean    morango_key_equal_public          (MorangoKey  *a,
                                               MorangoKey  *b);

/* RSASSA-PKCS1-v1_5 with SHA-256 over @len bytes of @message (-1 for a
 * NUL-terminated UTF-8 text); standard base64 with padding, no
 * newlines. */
char       *morango_key_sign                  (MorangoKey  *self,
                                               const char  *message,
                                               gssize       len,
                                               GError     **error);
/* Does @signature (base64, decoded as tolerantly as Python does) verify
 * @message?  Undecodable signatures simply do not verify. */
gboolean    morango_key_verify                (MorangoKey  *self,
                                               const char  *message,
                                               gssize       len,
                                               const char  *signature);

/* The canonical public key string of @text (any accepted spelling). */
char       *morango_public_key_normalize      (const char  *text,
                                               GError     **error);
/* Base64 decoding as Python's binascii.a2b_base64 does it: characters
 * outside the alphabet are skipped, decoding stops at complete padding;
 * NULL when the padding is wrong. */
GBytes     *morango_base64_decode_lenient     (const char  *text);

G_END_DECLS
