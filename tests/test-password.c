/* test-password.c: password hashes
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "morango-password.h"
#include "morango-test-util.h"

static char *
hex (GBytes *bytes)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  GString *out = g_string_new (NULL);

  for (gsize i = 0; i < len; i++)
    g_string_append_printf (out, "%02x", data[i]);
  return g_string_free (out, FALSE);
}

/* RFC 7914 §11, the PBKDF2-HMAC-SHA256 vectors: the primitive is the
 * standard one. */
static void
test_primitive_rfc7914 (void)
{
  static const struct { const char *password, *salt; guint iterations; const char *dk; } cases[] = {
    { "passwd", "salt", 1,
      "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
      "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783" },
    { "Password", "NaCl", 80000,
      "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
      "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) dk = morango_password_pbkdf2_sha256 (cases[i].password, strlen (cases[i].password),
                                                             cases[i].salt, strlen (cases[i].salt),
                                                             cases[i].iterations, 64, &error);
      g_autofree char *text = NULL;

      g_assert_no_error (error);
      text = hex (dk);
      g_assert_cmpstr (text, ==, cases[i].dk);
    }
}

/* records.json: Django's hashes of the test users.  The primitive over
 * the salt text gives Django's key; the stored texts themselves have
 * 260000 iterations, fewer than we accept, so they are refused without
 * being checked. */
static void
test_django_vectors (void)
{
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("records.json", "password_hash");

  g_assert_cmpuint (cases->len, >, 0);
  for (guint i = 0; i < cases->len; i++)
    {
      JsonObject *c = g_ptr_array_index (cases, i);
      const char *password = json_object_get_string_member (c, "password");
      const char *salt = json_object_get_string_member (c, "salt");
      const char *encoded = json_object_get_string_member (c, "encoded");
      g_auto(GStrv) parts = g_strsplit (encoded, "$", -1);
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) dk = morango_password_pbkdf2_sha256 (password, strlen (password), salt, strlen (salt),
                                                             260000, 32, &error);
      g_autofree char *b64 = NULL;

      g_assert_no_error (error);
      b64 = g_base64_encode (g_bytes_get_data (dk, NULL), g_bytes_get_size (dk));
      g_assert_cmpstr (parts[1], ==, "260000");
      g_assert_cmpstr (b64, ==, parts[3]);

      g_assert_false (morango_password_verify (password, encoded, &error));
      g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
      g_assert_nonnull (strstr (error->message, "fewer iterations"));
    }
}

/* A hash made elsewhere (Python's hashlib, Django's format, the salt
 * text as salt) at the minimum count verifies here. */
static void
test_verify_foreign (void)
{
  const char *stored = "pbkdf2_sha256$600000$c2FsdHNhbHRzYWx0c2FsdA==$03wcyrnMT9WEqMtI10ykR8sBQOLmmHG2W0dXbCTFJSE=";
  g_autoptr(GError) error = NULL;

  g_assert_true (morango_password_verify ("correct horse ☃", stored, &error));
  g_assert_no_error (error);
  g_assert_false (morango_password_verify ("correct horse", stored, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED);
}

static void
test_hash_and_verify (void)
{
  g_autoptr(MorangoRandom) random = morango_random_new_seeded (morango_test_seed (7));
  g_autoptr(GError) error = NULL;
  g_autofree char *stored = morango_password_hash ("s3crét", random, &error);
  g_autofree char *again = NULL;
  g_auto(GStrv) parts = NULL;
  g_autofree guchar *salt = NULL;
  gsize salt_len = 0;

  g_assert_no_error (error);
  parts = g_strsplit (stored, "$", -1);
  g_assert_cmpuint (g_strv_length (parts), ==, 4);
  g_assert_cmpstr (parts[0], ==, "pbkdf2_sha256");
  g_assert_cmpstr (parts[1], ==, "600000");
  salt = g_base64_decode (parts[2], &salt_len);
  g_assert_cmpuint (salt_len, >=, 16);
  g_assert_cmpuint (strlen (parts[3]), ==, 44);

  g_assert_true (morango_password_verify ("s3crét", stored, &error));
  g_assert_no_error (error);
  g_assert_false (morango_password_verify ("s3cret", stored, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED);
  g_clear_error (&error);

  /* A new salt each time. */
  again = morango_password_hash_full ("s3crét", MORANGO_PASSWORD_MIN_ITERATIONS, random, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (again, !=, stored);
}

static void
test_hash_refusals (void)
{
  g_autoptr(MorangoRandom) random = morango_random_new_seeded (1);
  g_autoptr(GError) error = NULL;
  char *stored;

  stored = morango_password_hash_full ("pw", MORANGO_PASSWORD_MIN_ITERATIONS - 1, random, &error);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_assert_null (stored);
  g_clear_error (&error);
  stored = morango_password_hash ("", random, &error);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_assert_null (stored);
  g_clear_error (&error);
  stored = morango_password_hash ("\xff\xfe", random, &error);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_assert_null (stored);
}

/* Stored texts that are not ours are refused before any derivation
 * (so none of these takes the time of a hash). */
static void
test_verify_malformed (void)
{
  static const char *bad[] = {
    "",
    "pbkdf2_sha256$600000$salt",
    "pbkdf2_sha256$600000$salt$03wcyrnMT9WEqMtI10ykR8sBQOLmmHG2W0dXbCTFJSE=$x",
    "pbkdf2_sha1$600000$salt$03wcyrnMT9WEqMtI10ykR8sBQOLmmHG2W0dXbCTFJSE=",
    "pbkdf2_sha256$599999$salt$03wcyrnMT9WEqMtI10ykR8sBQOLmmHG2W0dXbCTFJSE=",
    "pbkdf2_sha256$$salt$03wcyrnMT9WEqMtI10ykR8sBQOLmmHG2W0dXbCTFJSE=",
    "pbkdf2_sha256$+600000$salt$03wcyrnMT9WEqMtI10ykR8sBQOLmmHG2W0dXbCTFJSE=",
    "pbkdf2_sha256$ 600000$salt$03wcyrnMT9WEqMtI10ykR8sBQOLmmHG2W0dXbCTFJSE=",
    "pbkdf2_sha256$6e5$salt$03wcyrnMT9WEqMtI10ykR8sBQOLmmHG2W0dXbCTFJSE=",
    "pbkdf2_sha256$99999999999$salt$03wcyrnMT9WEqMtI10ykR8sBQOLmmHG2W0dXbCTFJSE=",
    "pbkdf2_sha256$600000$$03wcyrnMT9WEqMtI10ykR8sBQOLmmHG2W0dXbCTFJSE=",
    "pbkdf2_sha256$600000$salt$",
    "pbkdf2_sha256$600000$salt$03wcyrnMT9WEqMtI10ykR8sBQOLmmHG2W0dXbCTFJSE",
    "pbkdf2_sha256$600000$salt$03wcyrnMT9WEqMtI10ykR8sBQOLmmHG2W0dXbCTFJS!=",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_false (morango_password_verify ("correct horse ☃", bad[i], &error));
      g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
    }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/password/primitive-rfc7914", test_primitive_rfc7914);
  g_test_add_func ("/password/django-vectors", test_django_vectors);
  g_test_add_func ("/password/verify-foreign", test_verify_foreign);
  g_test_add_func ("/password/hash-and-verify", test_hash_and_verify);
  g_test_add_func ("/password/hash-refusals", test_hash_refusals);
  g_test_add_func ("/password/verify-malformed", test_verify_malformed);

  return g_test_run ();
}
