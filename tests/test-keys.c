/* test-keys.c: keys and signatures against keys-and-signatures.json
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gstdio.h>
#include <string.h>

#include "morango-key.h"
#include "morango-test-util.h"
#include "test-keys-data.h"

/* The vectors' private keys by index (from certificates.json, which
 * holds all eight; keys-and-signatures.json uses the first four). */
static MorangoKey *
vector_key (guint index)
{
  static MorangoKey *keys[8];

  g_assert_cmpuint (index, <, G_N_ELEMENTS (keys));
  if (keys[index] == NULL)
    {
      g_autoptr(JsonNode) root = morango_test_load_vectors ("certificates.json");
      JsonArray *arr = json_object_get_array_member (json_node_get_object (root), "keys");
      g_autoptr(GError) error = NULL;

      for (guint i = 0; i < json_array_get_length (arr); i++)
        {
          JsonObject *k = json_array_get_object_element (arr, i);
          if ((guint) json_object_get_int_member (k, "key_index") != index)
            continue;
          keys[index] = morango_key_new_from_private_pem (json_object_get_string_member (k, "private_key_pem"),
                                                          &error);
          g_assert_no_error (error);
        }
      g_assert_nonnull (keys[index]);
    }
  return keys[index];
}

static void
test_key_cases (void)
{
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("keys-and-signatures.json", "key");

  for (guint i = 0; i < cases->len; i++)
    {
      JsonObject *c = g_ptr_array_index (cases, i);
      const char *pem = json_object_get_string_member (c, "private_key_pem");
      const char *expected = json_object_get_string_member (c, "public_key_string");
      g_autoptr(GError) error = NULL;
      g_autoptr(MorangoKey) key = morango_key_new_from_private_pem (pem, &error);
      g_autoptr(MorangoKey) pub1 = NULL, pub2 = NULL;
      g_autoptr(GBytes) der = NULL;
      g_autofree char *der_hex = NULL;
      g_autofree char *pem_out = NULL;
      GString *hex;

      g_assert_no_error (error);
      g_assert_true (morango_key_has_private (key));
      g_assert_cmpstr (morango_key_get_public_string (key), ==, expected);
      g_assert_cmpstr (morango_key_get_public_string (key), ==,
                       json_object_get_string_member (c, "python_rsa_backend_public_key_string"));
      g_assert_cmpuint (strlen (expected), ==, 360);
      g_assert_true (g_str_has_prefix (expected, "MIIBCgKCAQEA"));

      der = morango_key_get_public_der (key);
      hex = g_string_new (NULL);
      for (gsize j = 0; j < g_bytes_get_size (der); j++)
        g_string_append_printf (hex, "%02x", ((const guint8 *) g_bytes_get_data (der, NULL))[j]);
      der_hex = g_string_free (hex, FALSE);
      g_assert_cmpstr (der_hex, ==, json_object_get_string_member (c, "public_key_der_hex"));
      g_assert_true (strstr (der_hex, json_object_get_string_member (c, "modulus_hex")) != NULL);
      g_assert_cmpint (json_object_get_int_member (c, "public_exponent"), ==, 65537);

      /* What we store must be what Morango stores, trailing newline included. */
      pem_out = morango_key_get_private_pem (key, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (pem_out, ==, pem);

      pub1 = morango_key_new_from_public (json_object_get_string_member (c, "public_key_pem_pkcs1"), &error);
      g_assert_no_error (error);
      g_assert_false (morango_key_has_private (pub1));
      g_assert_cmpstr (morango_key_get_public_string (pub1), ==, expected);
      pub2 = morango_key_new_from_public (json_object_get_string_member (c, "public_key_pem_spki"), &error);
      g_assert_no_error (error);
      g_assert_cmpstr (morango_key_get_public_string (pub2), ==, expected);
      g_assert_true (morango_key_equal_public (pub1, key));
    }
}

static void
test_public_key_forms (void)
{
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("keys-and-signatures.json", "public_key_form");

  for (guint i = 0; i < cases->len; i++)
    {
      JsonObject *c = g_ptr_array_index (cases, i);
      g_autoptr(GError) error = NULL;
      g_autofree char *got = morango_public_key_normalize (json_object_get_string_member (c, "input"), &error);

      g_test_message ("form: %s", json_object_get_string_member (c, "name"));
      g_assert_no_error (error);
      g_assert_cmpstr (got, ==, json_object_get_string_member (c, "canonical"));
    }
}

static void
test_private_key_forms (void)
{
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("keys-and-signatures.json", "private_key_form");

  for (guint i = 0; i < cases->len; i++)
    {
      JsonObject *c = g_ptr_array_index (cases, i);
      g_autoptr(GError) error = NULL;
      g_autoptr(MorangoKey) key = morango_key_new_from_private_pem (json_object_get_string_member (c, "input"),
                                                                    &error);

      g_test_message ("form: %s", json_object_get_string_member (c, "name"));
      g_assert_no_error (error);
      g_assert_cmpstr (morango_key_get_public_string (key), ==,
                       json_object_get_string_member (c, "public_key_string"));
    }
}

static GBytes *
hex_to_bytes (const char *hex)
{
  gsize n = strlen (hex) / 2;
  guint8 *buf = g_malloc (n);

  for (gsize i = 0; i < n; i++)
    buf[i] = (g_ascii_xdigit_value (hex[2 * i]) << 4) | g_ascii_xdigit_value (hex[2 * i + 1]);
  return g_bytes_new_take (buf, n);
}

static void
test_sign (void)
{
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("keys-and-signatures.json", "sign");

  for (guint i = 0; i < cases->len; i++)
    {
      JsonObject *c = g_ptr_array_index (cases, i);
      MorangoKey *key = vector_key (json_object_get_int_member (c, "key_index"));
      g_autoptr(GBytes) msg = hex_to_bytes (json_object_get_string_member (c, "message_utf8_hex"));
      const char *message = json_object_get_string_member (c, "message");
      const char *expected = json_object_get_string_member (c, "signature");
      g_autoptr(GError) error = NULL;
      g_autofree char *sig = NULL;
      g_autofree char *sig_text = NULL;

      sig = morango_key_sign (key, g_bytes_get_data (msg, NULL), g_bytes_get_size (msg), &error);
      g_assert_no_error (error);
      g_assert_cmpstr (sig, ==, expected);
      g_assert_cmpuint (strlen (sig), ==, 344);
      g_assert_true (morango_key_verify (key, g_bytes_get_data (msg, NULL), g_bytes_get_size (msg), sig) ==
                     json_object_get_boolean_member (c, "verifies"));

      /* The message text is its UTF-8 bytes (json-glib cannot hold the
       * case with a NUL inside, which the bytes above cover). */
      if (strlen (message) == g_bytes_get_size (msg))
        {
          g_assert_cmpmem (message, strlen (message), g_bytes_get_data (msg, NULL), g_bytes_get_size (msg));
          sig_text = morango_key_sign (key, message, -1, &error);
          g_assert_no_error (error);
          g_assert_cmpstr (sig_text, ==, expected);
        }
    }
}

static void
test_verify (void)
{
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("keys-and-signatures.json", "verify");

  for (guint i = 0; i < cases->len; i++)
    {
      JsonObject *c = g_ptr_array_index (cases, i);
      MorangoKey *priv = vector_key (json_object_get_int_member (c, "key_index"));
      g_autoptr(MorangoKey) key = NULL;
      g_autoptr(GError) error = NULL;
      JsonNode *result = json_object_get_member (c, "result");
      /* Where Python raised (bad padding), ours simply does not verify. */
      gboolean expected = JSON_NODE_HOLDS_NULL (result) ? FALSE : json_node_get_boolean (result);

      g_test_message ("verify: %s", json_object_get_string_member (c, "name"));
      /* Verify with the public half only, as a receiver does. */
      key = morango_key_new_from_public (morango_key_get_public_string (priv), &error);
      g_assert_no_error (error);
      g_assert_cmpint (morango_key_verify (key, json_object_get_string_member (c, "message"), -1,
                                           json_object_get_string_member (c, "signature")), ==, expected);
    }
}

static void
test_lenient_base64 (void)
{
  g_autoptr(GBytes) a = morango_base64_decode_lenient ("aGVs bG8=");
  g_autoptr(GBytes) b = morango_base64_decode_lenient ("!!!!");
  g_autoptr(GBytes) c = morango_base64_decode_lenient ("aGVsbG8");
  g_autoptr(GBytes) d = morango_base64_decode_lenient ("aGVsbA==trailing");

  g_assert_cmpmem (g_bytes_get_data (a, NULL), g_bytes_get_size (a), "hello", 5);
  g_assert_cmpuint (g_bytes_get_size (b), ==, 0);
  g_assert_null (c);
  g_assert_cmpmem (g_bytes_get_data (d, NULL), g_bytes_get_size (d), "hell", 4);
}

static void
test_bad_keys (void)
{
  MorangoKey *good = vector_key (0);
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoKey) k = NULL;
  g_autofree char *pem = morango_key_get_private_pem (good, NULL);
  g_autofree char *truncated = g_strndup (pem, strlen (pem) / 2);
  g_autofree char *truncated_armoured = g_strconcat (truncated, "\n-----END RSA PRIVATE KEY-----\n", NULL);
  const char *pub = morango_key_get_public_string (good);
  g_autofree char *pub_short = g_strndup (pub, 200);

  k = morango_key_new_from_private_pem (truncated, &error);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_KEY_INVALID);
  g_assert_null (k);
  g_clear_error (&error);

  k = morango_key_new_from_private_pem (truncated_armoured, &error);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_KEY_INVALID);
  g_assert_null (k);
  g_clear_error (&error);

  k = morango_key_new_from_public (pub_short, &error);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_KEY_INVALID);
  g_clear_error (&error);

  k = morango_key_new_from_public ("not a key at all", &error);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_KEY_INVALID);
  g_clear_error (&error);

  k = morango_key_new_from_public ("", &error);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_KEY_INVALID);
  g_clear_error (&error);
}

static void
test_wrong_size_and_exponent (void)
{
  const char *texts[] = { key_1024_pem, key_e3_pem };
  const char *pubs[] = { key_1024_spki, key_e3_spki };

  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MorangoKey) k = morango_key_new_from_private_pem (texts[i], &error);
      g_autoptr(MorangoKey) p = NULL;

      g_assert_null (k);
      g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_KEY_INVALID);
      g_test_message ("%s", error->message);
      g_clear_error (&error);
      p = morango_key_new_from_public (pubs[i], &error);
      g_assert_null (p);
      g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_KEY_INVALID);
      g_test_message ("%s", error->message);
    }
}

static void
test_generate_and_encrypt (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoKey) key = morango_key_generate (&error);
  g_autoptr(MorangoKey) back = NULL;
  g_autoptr(MorangoKey) wrong = NULL;
  g_autofree char *sig = NULL;
  g_autofree char *enc = NULL;
  g_autofree char *fp = NULL;

  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (morango_key_get_public_string (key), "MIIBCgKCAQEA"));
  sig = morango_key_sign (key, "hello", -1, &error);
  g_assert_no_error (error);
  g_assert_true (morango_key_verify (key, "hello", -1, sig));
  g_assert_false (morango_key_verify (key, "hellO", -1, sig));

  enc = morango_key_export_encrypted (key, "correct horse", &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (enc, "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
  back = morango_key_new_from_encrypted (enc, "correct horse", &error);
  g_assert_no_error (error);
  g_assert_true (morango_key_equal_public (key, back));
  g_assert_true (morango_key_has_private (back));
  wrong = morango_key_new_from_encrypted (enc, "wrong horse", &error);
  g_assert_null (wrong);
  g_assert_nonnull (error);
  g_clear_error (&error);

  fp = morango_key_get_fingerprint (key);
  g_assert_cmpuint (strlen (fp), ==, 32 * 3 - 1);
  g_assert_true (fp[2] == ':');

  /* A public key signs nothing. */
  {
    g_autoptr(MorangoKey) pub = morango_key_new_from_public (morango_key_get_public_string (key), NULL);
    g_autofree char *s = morango_key_sign (pub, "x", -1, &error);
    g_assert_null (s);
    g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_KEY_INVALID);
  }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/keys/vectors/key", test_key_cases);
  g_test_add_func ("/keys/vectors/public-key-form", test_public_key_forms);
  g_test_add_func ("/keys/vectors/private-key-form", test_private_key_forms);
  g_test_add_func ("/keys/vectors/sign", test_sign);
  g_test_add_func ("/keys/vectors/verify", test_verify);
  g_test_add_func ("/keys/base64-lenient", test_lenient_base64);
  g_test_add_func ("/keys/bad-input", test_bad_keys);
  g_test_add_func ("/keys/wrong-size", test_wrong_size_and_exponent);
  g_test_add_func ("/keys/generate-and-encrypt", test_generate_and_encrypt);
  return g_test_run ();
}
