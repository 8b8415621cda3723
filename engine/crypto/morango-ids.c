/* morango-ids.c: the identifier rules of protocol §2
 *
 * SPDX-License-Identifier: MIT
 */
#include <gnutls/crypto.h>
#include <string.h>

#include "morango-ids.h"

#define SALT_SUFFIX "::b88281f3-302c-4def-bb87-043f681e4183"

/* Every received record's id is checked with this, so it goes through
 * GnuTLS (whose SHA-256 uses the CPU's instructions for it, several
 * times faster than GChecksum's) on one buffer, on the stack when the
 * parts are short as record ids' are. */
char *
morango_sha2_uuidv (const char * const *parts,
                    gsize               n_parts)
{
  static const char hex[] = "0123456789abcdef";
  char stack_buf[512];
  g_autofree char *heap_buf = NULL;
  char *buf = stack_buf;
  unsigned char digest[32];
  char *out;
  gsize len = 0;

  for (gsize i = 0; i < n_parts; i++)
    len += (i > 0 ? 2 : 0) + strlen (parts[i]);
  if (len > sizeof stack_buf)
    buf = heap_buf = g_malloc (len);
  len = 0;
  for (gsize i = 0; i < n_parts; i++)
    {
      gsize n = strlen (parts[i]);

      if (i > 0)
        {
          memcpy (buf + len, "::", 2);
          len += 2;
        }
      memcpy (buf + len, parts[i], n);
      len += n;
    }
  if (gnutls_hash_fast (GNUTLS_DIG_SHA256, buf, len, digest) < 0)
    g_error ("SHA-256 is not available");

  out = g_malloc (33);
  for (guint i = 0; i < 16; i++)
    {
      out[2 * i] = hex[digest[i] >> 4];
      out[2 * i + 1] = hex[digest[i] & 0xf];
    }
  out[32] = '\0';
  return out;
}

char *
morango_sha2_uuid (const char *first,
                   ...)
{
  g_autoptr(GPtrArray) parts = g_ptr_array_new ();
  va_list args;

  va_start (args, first);
  for (const char *p = first; p != NULL; p = va_arg (args, const char *))
    g_ptr_array_add (parts, (gpointer) p);
  va_end (args);
  return morango_sha2_uuidv ((const char * const *) parts->pdata, parts->len);
}

char *
morango_salted_hash (const char *value)
{
  g_autofree char *joined = NULL;
  g_autofree char *lower = NULL;
  g_autoptr(GChecksum) sum = NULL;

  if (value == NULL || *value == '\0')
    return g_strdup ("");
  joined = g_strconcat (value, SALT_SUFFIX, NULL);
  /* Python lowers the UTF-8 bytes: ASCII letters only. */
  lower = g_ascii_strdown (joined, -1);
  sum = g_checksum_new (G_CHECKSUM_SHA1);
  g_checksum_update (sum, (const guchar *) lower, strlen (lower));
  return g_strndup (g_checksum_get_string (sum), 20);
}

gboolean
morango_is_hex32 (const char *text)
{
  if (text == NULL)
    return FALSE;
  for (guint i = 0; i < 32; i++)
    if (!g_ascii_isxdigit (text[i]) || g_ascii_isupper (text[i]))
      return FALSE;
  return text[32] == '\0';
}

char *
morango_uuid_normalize (const char *text)
{
  GString *out;
  const char *p;
  gsize len;

  if (text == NULL)
    return NULL;
  p = text;
  if (g_ascii_strncasecmp (p, "urn:", 4) == 0)
    p += 4;
  if (g_ascii_strncasecmp (p, "uuid:", 5) == 0)
    p += 5;
  len = strlen (p);
  while (len > 0 && (*p == '{'))
    p++, len--;
  while (len > 0 && p[len - 1] == '}')
    len--;

  out = g_string_sized_new (32);
  for (gsize i = 0; i < len; i++)
    {
      if (p[i] == '-')
        continue;
      if (!g_ascii_isxdigit (p[i]) || out->len >= 32)
        {
          g_string_free (out, TRUE);
          return NULL;
        }
      g_string_append_c (out, g_ascii_tolower (p[i]));
    }
  if (out->len != 32)
    {
      g_string_free (out, TRUE);
      return NULL;
    }
  return g_string_free (out, FALSE);
}

char *
morango_uuid5_hex (const char *namespace_uuid,
                   const char *name)
{
  g_autofree char *ns = morango_uuid_normalize (namespace_uuid);
  g_autoptr(GChecksum) sum = NULL;
  guint8 bytes[16];
  guint8 digest[20];
  gsize digest_len = sizeof digest;
  char *out;

  g_return_val_if_fail (ns != NULL, NULL);

  for (guint i = 0; i < 16; i++)
    {
      char pair[3] = { ns[2 * i], ns[2 * i + 1], 0 };
      bytes[i] = (guint8) g_ascii_strtoull (pair, NULL, 16);
    }
  sum = g_checksum_new (G_CHECKSUM_SHA1);
  g_checksum_update (sum, bytes, sizeof bytes);
  g_checksum_update (sum, (const guchar *) name, strlen (name));
  g_checksum_get_digest (sum, digest, &digest_len);
  digest[6] = (digest[6] & 0x0f) | 0x50;
  digest[8] = (digest[8] & 0x3f) | 0x80;

  out = g_malloc (33);
  for (guint i = 0; i < 16; i++)
    g_snprintf (out + 2 * i, 3, "%02x", digest[i]);
  return out;
}

char *
morango_proquint_from_uint (guint32 value)
{
  static const char consonants[] = "bdfghjklmnprstvz";
  static const char vowels[] = "aiou";
  GString *out = g_string_new (NULL);
  guint16 words[2] = { value >> 16, value & 0xffff };

  for (guint w = 0; w < 2; w++)
    {
      guint16 x = words[w];

      if (w == 0 && x == 0)
        continue;   /* leading zero words are dropped */
      if (out->len > 0)
        g_string_append_c (out, '-');
      g_string_append_c (out, consonants[(x >> 12) & 0xf]);
      g_string_append_c (out, vowels[(x >> 10) & 0x3]);
      g_string_append_c (out, consonants[(x >> 6) & 0xf]);
      g_string_append_c (out, vowels[(x >> 4) & 0x3]);
      g_string_append_c (out, consonants[x & 0xf]);
    }
  return g_string_free (out, FALSE);
}

char *
morango_proquint_from_hex (const char *hex)
{
  char buf[9] = { 0 };

  g_return_val_if_fail (hex != NULL && strlen (hex) >= 8, NULL);
  memcpy (buf, hex, 8);
  return morango_proquint_from_uint ((guint32) g_ascii_strtoull (buf, NULL, 16));
}

static int
interface_group (const char *name)
{
  if (g_str_has_prefix (name, "eth") || g_str_has_prefix (name, "en"))
    return 0;
  if (g_str_has_prefix (name, "wl"))
    return 1;
  if (name[0] == 'e' || name[0] == 'w')
    return 2;
  return 3;
}

static int
compare_interfaces (gconstpointer a,
                    gconstpointer b)
{
  const MorangoInterface *ia = *(const MorangoInterface * const *) a;
  const MorangoInterface *ib = *(const MorangoInterface * const *) b;
  int ga = interface_group (ia->device), gb = interface_group (ib->device);

  if (ga != gb)
    return ga - gb;
  return strcmp (ia->device, ib->device);
}

static gboolean
parse_first_octet (const char *mac,
                   guint      *octet)
{
  char pair[3] = { 0 };

  if (mac == NULL || !g_ascii_isxdigit (mac[0]) || !g_ascii_isxdigit (mac[1]))
    return FALSE;
  pair[0] = mac[0];
  pair[1] = mac[1];
  *octet = (guint) g_ascii_strtoull (pair, NULL, 16);
  return TRUE;
}

char *
morango_pick_node_mac (const MorangoInterface *ifs,
                       gsize                   n_ifs,
                       const char             *fallback_mac)
{
  g_autoptr(GPtrArray) sorted = g_ptr_array_new ();
  guint octet;

  for (gsize i = 0; i < n_ifs; i++)
    if (ifs[i].device != NULL && ifs[i].ether != NULL)
      g_ptr_array_add (sorted, (gpointer) &ifs[i]);
  g_ptr_array_sort (sorted, compare_interfaces);

  for (guint i = 0; i < sorted->len; i++)
    {
      const MorangoInterface *iface = g_ptr_array_index (sorted, i);

      /* Locally administered addresses are often random: skip them. */
      if (parse_first_octet (iface->ether, &octet) && (octet & 0x02) == 0)
        return g_ascii_strdown (iface->ether, -1);
    }

  /* uuid.getnode() marks a random address with the multicast bit. */
  if (parse_first_octet (fallback_mac, &octet) && (octet & 0x01) == 0)
    return g_ascii_strdown (fallback_mac, -1);
  return NULL;
}
