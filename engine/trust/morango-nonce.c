/* morango-nonce.c: single-use nonces
 *
 * SPDX-License-Identifier: MIT
 */

#include "morango-nonce.h"
#include "morango-i18n-private.h"

/* Timestamps are stored as ISO 8601 UTC text (what the wire shows) but
 * compared as microseconds, so that parsing never decides validity. */
static char *
format_usec (gint64 usec)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (usec / G_USEC_PER_SEC);
  g_autoptr(GDateTime) full = g_date_time_add (dt, usec % G_USEC_PER_SEC);

  return g_date_time_format (full, "%Y-%m-%dT%H:%M:%S.%fZ");
}

static gboolean
parse_usec (const char *text,
            gint64     *out)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601 (text, NULL);

  if (dt == NULL)
    return FALSE;
  *out = g_date_time_to_unix (dt) * G_USEC_PER_SEC + g_date_time_get_microsecond (dt);
  return TRUE;
}

char *
morango_nonce_create (MorangoDb     *db,
                      MorangoRandom *random,
                      const char    *ip,
                      gint64         now_usec,
                      char         **timestamp_out,
                      GError       **error)
{
  g_autofree char *id = NULL;
  g_autofree char *ts = NULL;

  g_return_val_if_fail (MORANGO_IS_DB (db), NULL);
  g_return_val_if_fail (random != NULL, NULL);

  if (now_usec == 0)
    now_usec = g_get_real_time ();
  /* Old nonces are dropped whenever new ones are made, so the table
   * stays small without a timer. */
  if (morango_nonce_purge (db, now_usec, error) < 0)
    return NULL;
  id = morango_random_uuid4_hex (random);
  ts = format_usec (now_usec);
  if (!morango_db_execute (db, error,
                           "INSERT INTO morango_nonce (id, timestamp, ip) VALUES (?, ?, ?)",
                           "sss", id, ts, ip ? ip : ""))
    return NULL;
  if (timestamp_out)
    *timestamp_out = g_steal_pointer (&ts);
  return g_steal_pointer (&id);
}

gboolean
morango_nonce_use (MorangoDb   *db,
                   const char  *id,
                   gint64       now_usec,
                   GError     **error)
{
  g_autofree char *ts = NULL;
  g_autoptr(MorangoTransaction) tx = NULL;
  gint64 created, age;

  g_return_val_if_fail (MORANGO_IS_DB (db), FALSE);

  if (now_usec == 0)
    now_usec = g_get_real_time ();
  if (id == NULL)
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_NONCE_INVALID, _("Nonce is not valid: none given"));
      return FALSE;
    }
  if ((tx = morango_transaction_begin (db, NULL, error)) == NULL ||
      !morango_db_query_text (db, &ts, error, "SELECT timestamp FROM morango_nonce WHERE id = ?", "s", id))
    return FALSE;
  if (ts == NULL)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_NONCE_INVALID,
                   _("Nonce is not valid: %s was never issued here or was already used"), id);
      return FALSE;
    }
  /* Single use: gone whatever the outcome. */
  if (!morango_db_execute (db, error, "DELETE FROM morango_nonce WHERE id = ?", "s", id) ||
      !morango_transaction_commit (tx, error))
    return FALSE;
  if (!parse_usec (ts, &created))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_NONCE_INVALID,
                   _("Nonce is not valid: %s has a damaged timestamp"), id);
      return FALSE;
    }
  age = now_usec - created;
  if (age <= 0 || age >= MORANGO_NONCE_LIFETIME_USEC)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_NONCE_INVALID,
                   _("Nonce is not valid: %s has expired"), id);
      return FALSE;
    }
  return TRUE;
}

gint64
morango_nonce_purge (MorangoDb  *db,
                     gint64      now_usec,
                     GError    **error)
{
  g_autofree char *cutoff = NULL;

  g_return_val_if_fail (MORANGO_IS_DB (db), -1);

  if (now_usec == 0)
    now_usec = g_get_real_time ();
  /* The fixed-width format sorts as text in time order. */
  cutoff = format_usec (now_usec - MORANGO_NONCE_LIFETIME_USEC);
  if (!morango_db_execute (db, error, "DELETE FROM morango_nonce WHERE timestamp <= ?", "s", cutoff))
    return -1;
  return morango_db_changes (db);
}
