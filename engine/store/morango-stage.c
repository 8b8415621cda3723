/* morango-stage.c: helpers the serializing and deserializing stages share
 *
 * SPDX-License-Identifier: MIT
 */

#include "morango-stage-private.h"

gboolean
prepare_all (MorangoDb      *db,
             GError        **error,
             sqlite3_stmt  **first,
             const char     *first_sql,
             ...)
{
  va_list args;
  sqlite3_stmt **slot = first;
  const char *sql = first_sql;
  gboolean ok = TRUE;

  va_start (args, first_sql);
  while (slot != NULL)
    {
      if ((*slot = morango_db_prepare (db, sql, error)) == NULL)
        {
          ok = FALSE;
          break;
        }
      slot = va_arg (args, sqlite3_stmt **);
      if (slot != NULL)
        sql = va_arg (args, const char *);
    }
  va_end (args);
  return ok;
}

/* The read-only connection of @stage's reading thread for @m, or NULL
 * (a database in memory, or one that would not open, said at debug
 * level) when the stage does it all on its own connection. */
MorangoDb *
open_reading (MorangoDb    *db,
              const char   *stage,
              MorangoModel *m)
{
  g_autoptr(GError) local_error = NULL;
  MorangoDb *reader = morango_db_open_reader (db, &local_error);

  if (reader != NULL)
    g_debug ("%s %s on two threads", stage, m->name);
  else if (local_error != NULL)
    g_debug ("%s %s on one thread: %s", stage, m->name, local_error->message);
  return reader;
}

int
step_on (MorangoDb     *db,
         MorangoDb     *reader,
         sqlite3_stmt  *stmt,
         GError       **error)
{
  return morango_db_step (db != NULL ? db : reader, stmt, error);
}
