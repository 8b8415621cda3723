/* morango-rate-limit.c: failed attempts counted per client address
 *
 * SPDX-License-Identifier: MIT
 */
#include <gio/gio.h>
#include <string.h>

#include "morango-rate-limit.h"

typedef struct {
  guint   in_flight;
  guint   n_failures;
  /* The failures still inside the window, oldest first; never more
   * than max_failures, since no attempt begins once that many count. */
  gint64  failures[];
} Entry;

struct _MorangoRateLimit
{
  GMutex       lock;
  guint        max_failures;
  gint64       window;
  guint        max_addresses;
  GHashTable  *entries;   /* address key → Entry */
};

MorangoRateLimit *
morango_rate_limit_new (guint  max_failures,
                        gint64 window_usec,
                        guint  max_addresses)
{
  MorangoRateLimit *self;

  g_return_val_if_fail (max_failures > 0, NULL);
  g_return_val_if_fail (window_usec > 0, NULL);
  g_return_val_if_fail (max_addresses > 0, NULL);

  self = g_new0 (MorangoRateLimit, 1);
  g_mutex_init (&self->lock);
  self->max_failures = max_failures;
  self->window = window_usec;
  self->max_addresses = max_addresses;
  self->entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return self;
}

void
morango_rate_limit_free (MorangoRateLimit *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref (self->entries);
  g_mutex_clear (&self->lock);
  g_free (self);
}

/* Forgets the failures that have left the window. */
static void
prune (MorangoRateLimit *self,
       Entry            *e,
       gint64            now)
{
  guint gone = 0;

  while (gone < e->n_failures && e->failures[gone] + self->window <= now)
    gone++;
  if (gone == 0)
    return;
  memmove (e->failures, e->failures + gone, (e->n_failures - gone) * sizeof (gint64));
  e->n_failures -= gone;
}

static gboolean
is_idle (Entry *e)
{
  return e->in_flight == 0 && e->n_failures == 0;
}

/* Room for one more address: the idle ones go first, then the one
 * whose last failure is the oldest.  FALSE when every address has an
 * attempt under way. */
static gboolean
make_room (MorangoRateLimit *self,
           gint64            now)
{
  GHashTableIter iter;
  gpointer key, value;
  const char *oldest = NULL;
  gint64 oldest_time = G_MAXINT64;

  g_hash_table_iter_init (&iter, self->entries);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      prune (self, value, now);
      if (is_idle (value))
        g_hash_table_iter_remove (&iter);
    }
  if (g_hash_table_size (self->entries) < self->max_addresses)
    return TRUE;

  g_hash_table_iter_init (&iter, self->entries);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      Entry *e = value;

      if (e->in_flight == 0 && e->failures[e->n_failures - 1] < oldest_time)
        {
          oldest = key;
          oldest_time = e->failures[e->n_failures - 1];
        }
    }
  if (oldest == NULL)
    return FALSE;
  g_hash_table_remove (self->entries, oldest);
  return TRUE;
}

gboolean
morango_rate_limit_begin (MorangoRateLimit *self,
                          const char       *address,
                          gint64            now_usec,
                          gint64           *retry_after_usec)
{
  Entry *e;
  gboolean ok = TRUE;
  gint64 wait = 0;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (address != NULL, FALSE);

  g_mutex_lock (&self->lock);
  e = g_hash_table_lookup (self->entries, address);
  if (e != NULL)
    {
      prune (self, e, now_usec);
      if (e->in_flight + e->n_failures >= self->max_failures)
        {
          /* The failures that must leave the window before the count
           * drops below the limit; when attempts under way fill it
           * alone, the next check comes soon anyway. */
          guint must_expire = e->in_flight + e->n_failures - self->max_failures + 1;

          ok = FALSE;
          wait = must_expire <= e->n_failures
                 ? e->failures[must_expire - 1] + self->window - now_usec
                 : G_USEC_PER_SEC;
        }
    }
  else if (g_hash_table_size (self->entries) >= self->max_addresses && !make_room (self, now_usec))
    {
      ok = FALSE;
      wait = G_USEC_PER_SEC;
    }
  else
    {
      e = g_malloc0 (sizeof (Entry) + self->max_failures * sizeof (gint64));
      g_hash_table_insert (self->entries, g_strdup (address), e);
    }
  if (ok)
    e->in_flight++;
  g_mutex_unlock (&self->lock);

  if (retry_after_usec != NULL)
    *retry_after_usec = ok ? 0 : MAX (wait, 1);
  return ok;
}

void
morango_rate_limit_end (MorangoRateLimit *self,
                        const char       *address,
                        gint64            now_usec,
                        gboolean          failed)
{
  Entry *e;

  g_return_if_fail (self != NULL);
  g_return_if_fail (address != NULL);

  g_mutex_lock (&self->lock);
  /* Gone when the table made room for others meanwhile: nothing to
   * count it against. */
  e = g_hash_table_lookup (self->entries, address);
  if (e != NULL)
    {
      if (e->in_flight > 0)
        e->in_flight--;
      prune (self, e, now_usec);
      if (failed)
        {
          if (e->n_failures == self->max_failures)
            {
              memmove (e->failures, e->failures + 1, (e->n_failures - 1) * sizeof (gint64));
              e->n_failures--;
            }
          e->failures[e->n_failures++] = now_usec;
        }
      if (is_idle (e))
        g_hash_table_remove (self->entries, address);
    }
  g_mutex_unlock (&self->lock);
}

guint
morango_rate_limit_get_n_addresses (MorangoRateLimit *self)
{
  guint n;

  g_return_val_if_fail (self != NULL, 0);

  g_mutex_lock (&self->lock);
  n = g_hash_table_size (self->entries);
  g_mutex_unlock (&self->lock);
  return n;
}

char *
morango_rate_limit_address_key (const char *ip)
{
  g_autoptr(GInetAddress) address = NULL;
  guint8 bytes[16];
  static const guint8 v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

  if (ip == NULL)
    return g_strdup ("");
  address = g_inet_address_new_from_string (ip);
  if (address == NULL)
    return g_strdup (ip);
  if (g_inet_address_get_family (address) != G_SOCKET_FAMILY_IPV6)
    return g_inet_address_to_string (address);

  memcpy (bytes, g_inet_address_to_bytes (address), sizeof bytes);
  if (memcmp (bytes, v4_mapped, sizeof v4_mapped) == 0)
    return g_strdup_printf ("%u.%u.%u.%u", bytes[12], bytes[13], bytes[14], bytes[15]);
  memset (bytes + 8, 0, 8);
  {
    g_autoptr(GInetAddress) network = g_inet_address_new_from_bytes (bytes, G_SOCKET_FAMILY_IPV6);
    g_autofree char *text = g_inet_address_to_string (network);

    return g_strconcat (text, "/64", NULL);
  }
}
