/* morango-random.c
 *
 * SPDX-License-Identifier: MIT
 */
#include <gnutls/crypto.h>

#include "morango-random.h"

struct _MorangoRandom
{
  gatomicrefcount ref;
  GRand          *rand;   /* NULL: secure */
};

MorangoRandom *
morango_random_new_secure (void)
{
  MorangoRandom *self = g_new0 (MorangoRandom, 1);

  g_atomic_ref_count_init (&self->ref);
  return self;
}

MorangoRandom *
morango_random_new_seeded (guint64 seed)
{
  MorangoRandom *self = g_new0 (MorangoRandom, 1);
  guint32 words[2] = { (guint32) seed, (guint32) (seed >> 32) };

  g_atomic_ref_count_init (&self->ref);
  self->rand = g_rand_new_with_seed_array (words, 2);
  return self;
}

MorangoRandom *
morango_random_ref (MorangoRandom *self)
{
  g_atomic_ref_count_inc (&self->ref);
  return self;
}

void
morango_random_unref (MorangoRandom *self)
{
  if (self != NULL && g_atomic_ref_count_dec (&self->ref))
    {
      g_clear_pointer (&self->rand, g_rand_free);
      g_free (self);
    }
}

gboolean
morango_random_is_seeded (MorangoRandom *self)
{
  return self->rand != NULL;
}

void
morango_random_bytes (MorangoRandom *self,
                      guint8        *buf,
                      gsize          len)
{
  if (self->rand == NULL)
    {
      if (gnutls_rnd (GNUTLS_RND_RANDOM, buf, len) == 0)
        return;
      g_error ("the system random generator failed");
    }
  for (gsize i = 0; i < len; i++)
    buf[i] = (guint8) g_rand_int_range (self->rand, 0, 256);
}

guint32
morango_random_int_range (MorangoRandom *self,
                          guint32        begin,
                          guint32        end)
{
  guint32 v;

  g_return_val_if_fail (end > begin, begin);
  if (self->rand != NULL)
    return (guint32) g_rand_int_range (self->rand, (gint32) begin, (gint32) end);
  morango_random_bytes (self, (guint8 *) &v, sizeof v);
  return begin + v % (end - begin);
}

char *
morango_random_uuid4_hex (MorangoRandom *self)
{
  guint8 b[16];
  char *out = g_malloc (33);

  morango_random_bytes (self, b, sizeof b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  for (guint i = 0; i < 16; i++)
    g_snprintf (out + 2 * i, 3, "%02x", b[i]);
  return out;
}
