/* morango-trust.c: trust anchors: the roots this device accepts chains from
 *
 * SPDX-License-Identifier: MIT
 */

#include "morango-trust.h"

/* ------------------------------------------------------------------ */
/* Trust */

gboolean
morango_trust_add_root (MorangoDb   *db,
                        const char  *root_id,
                        const char  *reason,
                        GError     **error)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *added = g_date_time_format_iso8601 (now);

  g_return_val_if_fail (MORANGO_IS_DB (db), FALSE);
  g_return_val_if_fail (root_id != NULL, FALSE);

  return morango_db_execute (db, error,
                             "INSERT INTO morango_trustedroot (id, reason, added) VALUES (?, ?, ?) "
                             "ON CONFLICT (id) DO NOTHING",
                             "sss", root_id, reason ? reason : "", added);
}

gboolean
morango_trust_remove_root (MorangoDb   *db,
                           const char  *root_id,
                           GError     **error)
{
  g_return_val_if_fail (MORANGO_IS_DB (db), FALSE);
  g_return_val_if_fail (root_id != NULL, FALSE);

  return morango_db_execute (db, error, "DELETE FROM morango_trustedroot WHERE id = ?", "s", root_id);
}

gboolean
morango_trust_is_trusted (MorangoDb  *db,
                          const char *root_id)
{
  gint64 v = 0;
  gboolean found = FALSE;

  g_return_val_if_fail (MORANGO_IS_DB (db), FALSE);
  g_return_val_if_fail (root_id != NULL, FALSE);

  if (!morango_db_query_int64 (db, &v, &found, NULL,
                               "SELECT 1 FROM morango_trustedroot WHERE id = ?", "s", root_id))
    return FALSE;
  return found;
}
