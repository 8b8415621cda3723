/* morango-dequeue.c: merging received records into the store (protocol §5)
 *
 * SPDX-License-Identifier: MIT
 */

#include "morango-buffer.h"
#include "morango-dequeue.h"
#include "morango-fsic.h"
#include "morango-i18n-private.h"

/* Buffer rows handled per round.  Each round classifies its rows once,
 * applies them with a few set-based statements and deletes them, so
 * memory stays flat however many records arrived.  Records are
 * independent of each other (one buffer row per record and session), so
 * rounds give the same result as one pass over everything. */
#define DEQUEUE_BATCH 1000

enum {
  CLASS_NEW = 0,
  CLASS_REVERSE_FF = 1,
  CLASS_FAST_FORWARD = 2,
  CLASS_CONFLICT = 3,
  CLASS_CONFLICT_READ_ONLY = 4,
};

/* morango_hex32 (x), which the checks below call, is one of the SQL
 * functions every connection has (morango-db.h). */

static const char check_records_sql[] =
  "SELECT model_uuid, problem FROM ("
  "  SELECT b.model_uuid AS model_uuid, CASE"
  "    WHEN NOT morango_hex32 (b.model_uuid)"
  "      THEN 'its id is not 32 lowercase hexadecimal digits'"
  "    WHEN NOT morango_hex32 (b.last_saved_instance)"
  "      THEN 'last_saved_instance is not 32 lowercase hexadecimal digits'"
  "    WHEN typeof (b.last_saved_counter) <> 'integer' OR b.last_saved_counter < 0"
  "      THEN 'last_saved_counter is not a non-negative integer'"
  "    WHEN b.deleted NOT IN (0, 1) OR b.hard_deleted NOT IN (0, 1)"
  "         OR typeof (b.deleted) <> 'integer' OR typeof (b.hard_deleted) <> 'integer'"
  "      THEN 'deleted or hard_deleted is not a boolean'"
  "    WHEN typeof (b.serialized) <> 'text'"
  "      THEN 'its serialized data is not text'"
  /* A purged record travels as \"{}\", or \"\" after a conflict. */
  "    WHEN b.hard_deleted = 1 AND b.serialized = '' THEN NULL"
  "    WHEN NOT json_valid (b.serialized)"
  "      THEN 'its serialized data is not valid JSON'"
  /* Valid JSON whose first non-blank character is "{" is an object;
   * this spares a second parse. */
  "    WHEN substr (ltrim (b.serialized, ' ' || char (9, 10, 13)), 1, 1) <> '{'"
  "      THEN 'its serialized data is not a JSON object'"
  "    WHEN typeof (b.partition) <> 'text' OR typeof (b.model_name) <> 'text'"
  "         OR typeof (b.profile) <> 'text' OR typeof (b.source_id) <> 'text'"
  "         OR typeof (b.conflicting_serialized_data) <> 'text'"
  "         OR typeof (b._self_ref_fk) <> 'text'"
  "      THEN 'a text field holds another type'"
  "    END AS problem"
  "  FROM morango_buffer b WHERE b.transfer_session_id = ?1"
  ") WHERE problem IS NOT NULL LIMIT 1";

static const char check_history_sql[] =
  "SELECT model_uuid FROM morango_recordmaxcounterbuffer "
  "WHERE transfer_session_id = ?1 AND ("
  "  NOT morango_hex32 (instance_id)"
  "  OR typeof (counter) <> 'integer' OR counter < 0) "
  "LIMIT 1";

/* Runs one of the checks above on @db: the first bad record's id and,
 * for the records check, what is wrong with it. */
static gboolean
find_malformed (MorangoDb   *db,
                const char  *sql,
                const char  *transfer_session_id,
                char       **id,
                char       **problem,
                GError     **error)
{
  sqlite3_stmt *stmt = morango_db_prepare (db, sql, error);
  int rc = -1;

  if (stmt != NULL && morango_db_bind (db, stmt, error, "s", transfer_session_id) &&
      (rc = morango_db_step (db, stmt, error)) == SQLITE_ROW)
    {
      *id = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
      if (problem != NULL)
        *problem = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
    }
  if (stmt != NULL)
    sqlite3_reset (stmt);
  if (rc < 0)
    g_prefix_error (error, _("Checking the received records: "));
  return rc >= 0;
}

/* Refuses the session's buffer if any row is malformed, naming the first
 * bad record. */
static gboolean
check_buffer (MorangoDb   *db,
              const char  *transfer_session_id,
              GError     **error)
{
  g_autofree char *id = NULL;
  g_autofree char *problem = NULL;

  if (!find_malformed (db, check_records_sql, transfer_session_id, &id, &problem, error))
    return FALSE;
  if (id != NULL)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("Received record “%s” of transfer session %s is malformed: %s; "
                   "nothing was dequeued"),
                   id, transfer_session_id, problem);
      return FALSE;
    }
  if (!find_malformed (db, check_history_sql, transfer_session_id, &id, NULL, error))
    return FALSE;
  if (id != NULL)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("The history of received record “%s” of transfer session %s is malformed "
                   "(an instance id that is not 32 hexadecimal digits, or a counter that is "
                   "not a non-negative integer); nothing was dequeued"),
                   id, transfer_session_id);
      return FALSE;
    }
  return TRUE;
}

/* The check is a fifth of dequeuing and reads only the buffer, which
 * the stage leaves in place until its end: for a database in a file it
 * runs on a thread of its own, with a read-only connection, while the
 * rounds merge.  The stage commits only once it passed, so a malformed
 * buffer still changes nothing. */
typedef struct {
  MorangoDb      *reader;
  const char     *transfer_session_id;
  MorangoMonitor *monitor;
  GThread        *thread;
  GError         *error;
  gboolean        wire;   /* its verdict is for a peer */
} BufferCheck;

static gpointer
buffer_check_run (gpointer data)
{
  BufferCheck *c = data;

  morango_i18n_set_wire_thread (c->wire);
  morango_db_acquire (c->reader);
  check_buffer (c->reader, c->transfer_session_id, &c->error);
  morango_db_release (c->reader);
  return NULL;
}

/* Starts the check, or runs it here: for a database in memory, or when
 * the stage is nested in a caller's transaction. */
static gboolean
buffer_check_start (BufferCheck     *c,
                    MorangoDb       *db,
                    const char      *transfer_session_id,
                    gboolean         nested,
                    MorangoMonitor  *monitor,
                    GError         **error)
{
  g_autoptr(GError) local_error = NULL;

  c->transfer_session_id = transfer_session_id;
  c->monitor = monitor;
  if (!nested)
    c->reader = morango_db_open_reader (db, &local_error);
  if (c->reader == NULL)
    {
      if (local_error != NULL)
        g_debug ("checking received records before merging: %s", local_error->message);
      return check_buffer (db, transfer_session_id, error);
    }
  /* The checking thread, lent the reader: joined by buffer_check_finish(),
   * which every path of the stage calls.  Its statements stop once the
   * stage is cancelled: nobody waits for a verdict then. */
  if (monitor != NULL)
    morango_db_stop_on_cancel (c->reader, morango_monitor_get_cancellable (monitor));
  morango_db_release (c->reader);
  c->wire = morango_i18n_is_wire_thread ();
  c->thread = g_thread_new ("morango-check", buffer_check_run, c);
  return TRUE;
}

/* Waits for the check.  Its verdict, when it found a malformed record,
 * replaces whatever went wrong meanwhile: it says why. */
static gboolean
buffer_check_finish (BufferCheck  *c,
                     GError      **error)
{
  if (c->thread == NULL)
    return TRUE;
  g_thread_join (g_steal_pointer (&c->thread));
  morango_db_acquire (c->reader);
  g_clear_object (&c->reader);
  if (c->error == NULL)
    return TRUE;
  if (error != NULL && *error != NULL)
    g_clear_error (error);
  g_propagate_error (error, g_steal_pointer (&c->error));
  return FALSE;
}

/* One round: classify up to DEQUEUE_BATCH rows, apply them, delete them.
 * Sets *n_done to the number of buffer rows handled (0 when none left). */
static gboolean
dequeue_batch (MorangoDb            *db,
               const char           *ts,
               const char           *instance_id,
               gint64                counter,
               char                **after,
               MorangoDequeueResult *result,
               gint64               *n_done,
               GError              **error)
{
  sqlite3_stmt *stmt;
  int rc;

  *n_done = 0;

  if (!morango_db_exec (db, "DELETE FROM temp.morango_dequeue_class", error))
    return FALSE;

  /* §5.1, evaluated once per record: reverse fast-forward when our
   * history already has the incoming version; fast-forward when the
   * incoming history has our current version; conflict otherwise.  The
   * buffer's (transfer_session_id, model_uuid) index yields rows in
   * model_uuid order without sorting. */
  if (!morango_db_execute (db, error,
        "INSERT INTO temp.morango_dequeue_class (model_uuid, buffer_id, class) "
        "SELECT b.model_uuid, b.id, CASE"
        "  WHEN s.id IS NULL THEN ?4"
        "  WHEN EXISTS (SELECT 1 FROM morango_recordmaxcounter r"
        "               WHERE r.store_model_id = s.id"
        "                 AND r.instance_id = b.last_saved_instance"
        "                 AND r.counter >= b.last_saved_counter) THEN ?5"
        "  WHEN EXISTS (SELECT 1 FROM morango_recordmaxcounterbuffer rb"
        "               WHERE rb.transfer_session_id = ?1"
        "                 AND rb.model_uuid = b.model_uuid"
        "                 AND rb.instance_id = s.last_saved_instance"
        "                 AND rb.counter >= s.last_saved_counter) THEN ?6"
        "  WHEN EXISTS (SELECT 1 FROM temp.morango_dequeue_writable w"
        "               WHERE substr (s.partition, 1, length (w.prefix)) = w.prefix) THEN ?7"
        "  ELSE ?8 END "
        "FROM morango_buffer b LEFT JOIN morango_store s ON s.id = b.model_uuid "
        "WHERE b.transfer_session_id = ?1 AND b.model_uuid > ?3 "
        "ORDER BY b.model_uuid LIMIT ?2",
        "sisiiiii", ts, (gint64) DEQUEUE_BATCH, *after,
        (gint64) CLASS_NEW, (gint64) CLASS_REVERSE_FF, (gint64) CLASS_FAST_FORWARD,
        (gint64) CLASS_CONFLICT, (gint64) CLASS_CONFLICT_READ_ONLY))
    return FALSE;

  stmt = morango_db_prepare (db,
                             "SELECT class, count(*) FROM temp.morango_dequeue_class GROUP BY class",
                             error);
  if (stmt == NULL)
    return FALSE;
  while ((rc = morango_db_step (db, stmt, error)) == SQLITE_ROW)
    {
      gint64 n = sqlite3_column_int64 (stmt, 1);

      *n_done += n;
      switch (sqlite3_column_int (stmt, 0))
        {
        case CLASS_NEW: result->n_new += n; break;
        case CLASS_REVERSE_FF: result->n_reverse_fast_forward += n; break;
        case CLASS_FAST_FORWARD: result->n_fast_forward += n; break;
        case CLASS_CONFLICT_READ_ONLY: result->n_conflict_read_only += n; break;
        default: result->n_conflict += n; break;
        }
    }
  sqlite3_reset (stmt);
  if (rc < 0)
    return FALSE;
  if (*n_done == 0)
    return TRUE;

  /* Conflicts (§5.2 step 4): local data wins, deletions win, a hard
   * delete wipes data and log; the incoming data goes on top of the log;
   * a new local version dominates both histories.  hard_deleted is ORed
   * as the SQLite backend does (quirk 4), and so is the wipe: a record
   * purged here keeps no incoming data in its log (Morango keeps it, and
   * passes it on). */
  if (!morango_db_execute (db, error,
        "UPDATE morango_store AS s SET"
        "  serialized = CASE WHEN b.hard_deleted THEN '' ELSE s.serialized END,"
        "  deleted = (s.deleted OR b.deleted),"
        "  hard_deleted = (s.hard_deleted OR b.hard_deleted),"
        "  conflicting_serialized_data = CASE WHEN b.hard_deleted OR s.hard_deleted THEN ''"
        "    ELSE b.serialized || char (10) || s.conflicting_serialized_data END,"
        "  last_saved_instance = ?2, last_saved_counter = ?3,"
        "  deserialization_error = '', last_transfer_session_id = ?1 "
        "FROM temp.morango_dequeue_class q CROSS JOIN morango_buffer b ON b.id = q.buffer_id "
        "WHERE q.class = ?4 AND s.id = q.model_uuid",
        "ssii", ts, instance_id, counter, (gint64) CLASS_CONFLICT))
    return FALSE;

  /* Conflicts we may not resolve: the incoming version is kept as it is,
   * and what it displaces goes on top of the conflict log, so nothing
   * is lost locally. */
  if (!morango_db_execute (db, error,
        "UPDATE morango_store AS s SET"
        "  serialized = b.serialized, deleted = b.deleted, hard_deleted = b.hard_deleted,"
        "  conflicting_serialized_data = CASE WHEN b.hard_deleted THEN ''"
        "    ELSE s.serialized || char (10) || b.conflicting_serialized_data END,"
        "  last_saved_instance = b.last_saved_instance, last_saved_counter = b.last_saved_counter,"
        "  deserialization_error = '', last_transfer_session_id = ?1 "
        "FROM temp.morango_dequeue_class q CROSS JOIN morango_buffer b ON b.id = q.buffer_id "
        "WHERE q.class = ?2 AND s.id = q.model_uuid",
        "si", ts, (gint64) CLASS_CONFLICT_READ_ONLY))
    return FALSE;

  /* A fast-forward may carry another profile or model name than the
   * store row it replaces: a pending entry under the old names would
   * no longer name the row. */
  if (!morango_db_execute (db, error,
        "DELETE FROM morango_store_pending WHERE (profile, model_name, id) IN ("
        "  SELECT s.profile, s.model_name, s.id"
        "  FROM temp.morango_dequeue_class q CROSS JOIN morango_buffer b ON b.id = q.buffer_id"
        "  CROSS JOIN morango_store s ON s.id = q.model_uuid"
        "  WHERE q.class = ?1 AND (s.profile <> b.profile OR s.model_name <> b.model_name))",
        "i", (gint64) CLASS_FAST_FORWARD))
    return FALSE;

  /* New and fast-forwarded records take the incoming row whole (step 9). */
  if (!morango_db_execute (db, error,
        "INSERT INTO morango_store (id, profile, serialized, deleted, hard_deleted,"
        "  last_saved_instance, last_saved_counter, partition, source_id, model_name,"
        "  conflicting_serialized_data, _self_ref_fk, deserialization_error,"
        "  last_transfer_session_id) "
        "SELECT b.model_uuid, b.profile, b.serialized, b.deleted, b.hard_deleted,"
        "  b.last_saved_instance, b.last_saved_counter, b.partition, b.source_id, b.model_name,"
        "  b.conflicting_serialized_data, b._self_ref_fk, '', ?1 "
        "FROM temp.morango_dequeue_class q JOIN morango_buffer b ON b.id = q.buffer_id "
        "WHERE q.class IN (?2, ?3) "
        "ON CONFLICT (id) DO UPDATE SET"
        "  profile = excluded.profile, serialized = excluded.serialized,"
        "  deleted = excluded.deleted, hard_deleted = excluded.hard_deleted,"
        "  last_saved_instance = excluded.last_saved_instance,"
        "  last_saved_counter = excluded.last_saved_counter,"
        "  partition = excluded.partition, source_id = excluded.source_id,"
        "  model_name = excluded.model_name,"
        "  conflicting_serialized_data = excluded.conflicting_serialized_data,"
        "  _self_ref_fk = excluded._self_ref_fk,"
        "  deserialization_error = '', last_transfer_session_id = excluded.last_transfer_session_id",
        "sii", ts, (gint64) CLASS_NEW, (gint64) CLASS_FAST_FORWARD))
    return FALSE;

  /* Every record merged but a reverse fast-forward now holds a version
   * its app table lacks: it waits for deserializing.  New and
   * fast-forwarded rows took the buffer's profile and model. */
  if (!morango_db_execute (db, error,
        "INSERT INTO morango_store_pending (profile, model_name, id) "
        "SELECT b.profile, b.model_name, b.model_uuid "
        "FROM temp.morango_dequeue_class q CROSS JOIN morango_buffer b ON b.id = q.buffer_id "
        "WHERE q.class IN (?1, ?2) "
        "UNION ALL "
        "SELECT s.profile, s.model_name, s.id "
        "FROM temp.morango_dequeue_class q CROSS JOIN morango_store s ON s.id = q.model_uuid "
        "WHERE q.class IN (?3, ?4) "
        "ON CONFLICT DO NOTHING",
        "iiii", (gint64) CLASS_NEW, (gint64) CLASS_FAST_FORWARD,
        (gint64) CLASS_CONFLICT, (gint64) CLASS_CONFLICT_READ_ONLY))
    return FALSE;

  /* Histories (steps 5, 7, 10).  The round's rows drive the join
   * (CROSS JOIN), not the session's whole RMCB.  Conflicts merge by
   * maximum; new and fast-forwarded records take the incoming counters
   * even when lower (the replacement Morango's tests rely on) and keep
   * local-only instances.  An honest history names each instance once;
   * should a peer repeat one, the history buffer's key has already kept
   * the highest counter (Python's REPLACE would keep the last row sent). */
  if (!morango_db_execute (db, error,
        "INSERT INTO morango_recordmaxcounter (instance_id, counter, store_model_id) "
        "SELECT rb.instance_id, rb.counter, rb.model_uuid "
        "FROM temp.morango_dequeue_class q CROSS JOIN morango_recordmaxcounterbuffer rb"
        "  ON rb.transfer_session_id = ?1 AND rb.model_uuid = q.model_uuid "
        "WHERE q.class IN (?2, ?3) "
        "ON CONFLICT (store_model_id, instance_id) DO UPDATE SET"
        "  counter = max (counter, excluded.counter)",
        "sii", ts, (gint64) CLASS_CONFLICT, (gint64) CLASS_CONFLICT_READ_ONLY) ||
      !morango_db_execute (db, error,
        "INSERT INTO morango_recordmaxcounter (instance_id, counter, store_model_id) "
        "SELECT rb.instance_id, rb.counter, rb.model_uuid "
        "FROM temp.morango_dequeue_class q CROSS JOIN morango_recordmaxcounterbuffer rb"
        "  ON rb.transfer_session_id = ?1 AND rb.model_uuid = q.model_uuid "
        "WHERE q.class IN (?2, ?3) "
        "ON CONFLICT (store_model_id, instance_id) DO UPDATE SET"
        "  counter = excluded.counter",
        "sii", ts, (gint64) CLASS_NEW, (gint64) CLASS_FAST_FORWARD))
    return FALSE;

  /* Our new version of each conflict (step 6), after the merge so that
   * it is what remains for our instance. */
  if (!morango_db_execute (db, error,
        "INSERT INTO morango_recordmaxcounter (instance_id, counter, store_model_id) "
        "SELECT ?1, ?2, model_uuid FROM temp.morango_dequeue_class WHERE class = ?3 "
        "ON CONFLICT (store_model_id, instance_id) DO UPDATE SET counter = excluded.counter",
        "sii", instance_id, counter, (gint64) CLASS_CONFLICT))
    return FALSE;

  /* The round's buffer rows go now rather than at the end of the run:
   * their pages are free again for the store rows and histories the
   * next rounds write, so the file grows by what the store keeps instead
   * of that plus a copy of the transfer.  The deletes commit or roll
   * back with the rest of the stage.  (The history buffer, a seventh of
   * the size, goes at the end: deserializing takes its pages.)  The
   * round is the session's rows from just after *after to its last id;
   * named as that range, SQLite deletes each row as its index walk meets
   * it instead of collecting their ids first.  The next round starts
   * after this one. */
  {
    g_autofree char *last = NULL;

    if (!morango_db_query_text (db, &last, error,
                                "SELECT max (model_uuid) FROM temp.morango_dequeue_class", "", NULL) ||
        !morango_db_delete_copies (db, error,
                                   "DELETE FROM morango_buffer WHERE transfer_session_id = ? "
                                   "AND model_uuid > ? AND model_uuid <= ?",
                                   "sss", ts, *after, last))
      return FALSE;
    g_free (*after);
    *after = g_steal_pointer (&last);
  }
  return TRUE;
}

gboolean
morango_store_dequeue (MorangoStore         *store,
                       const char           *transfer_session_id,
                       MorangoFilter        *filter,
                       MorangoFsicFormat     format,
                       const char           *sender_fsic,
                       MorangoDequeueResult *result,
                       MorangoMonitor       *monitor,
                       GError              **error)
{
  return morango_store_dequeue_scoped (store, transfer_session_id, filter, NULL, format,
                                       sender_fsic, result, monitor, error);
}

static gboolean
fill_writable (MorangoDb      *db,
               MorangoFilter  *writable,
               GError        **error)
{
  const char * const *entries;

  if (!morango_db_exec (db,
                        "CREATE TEMP TABLE IF NOT EXISTS morango_dequeue_writable (prefix TEXT NOT NULL);"
                        "DELETE FROM temp.morango_dequeue_writable",
                        error))
    return FALSE;
  if (writable == NULL)
    return morango_db_execute (db, error, "INSERT INTO temp.morango_dequeue_writable VALUES ('')", "");
  entries = morango_filter_get_entries (writable);
  for (guint i = 0; entries[i] != NULL; i++)
    if (!morango_db_execute (db, error, "INSERT INTO temp.morango_dequeue_writable VALUES (?)",
                             "s", entries[i]))
      return FALSE;
  return TRUE;
}

gboolean
morango_store_dequeue_scoped (MorangoStore         *store,
                              const char           *transfer_session_id,
                              MorangoFilter        *filter,
                              MorangoFilter        *writable,
                              MorangoFsicFormat     format,
                              const char           *sender_fsic,
                              MorangoDequeueResult *result,
                              MorangoMonitor       *monitor,
                              GError              **error)
{
  MorangoDb *db;
  g_autoptr(MorangoFsic) sender = NULL;
  g_autoptr(MorangoTransaction) tx = NULL;
  MorangoDequeueResult local = { 0, };
  gint64 counter = 0;
  g_autofree char *after = g_strdup ("");
  BufferCheck check = { NULL, };
  gboolean nested;

  g_return_val_if_fail (MORANGO_IS_STORE (store), FALSE);
  g_return_val_if_fail (transfer_session_id != NULL, FALSE);
  g_return_val_if_fail (filter != NULL, FALSE);
  g_return_val_if_fail (sender_fsic != NULL, FALSE);
  g_return_val_if_fail (monitor == NULL || MORANGO_IS_MONITOR (monitor), FALSE);

  db = morango_store_get_db (store);
  /* The sender's FSIC becomes our DMC: it must only vouch for partitions
   * inside the transfer filter. */
  if (!(sender = morango_fsic_parse (sender_fsic, format, error)) ||
      !morango_fsic_check_partitions (sender, morango_filter_get_entries (filter), error))
    return FALSE;

  /* A second connection sees only what is committed: inside a caller's
   * transaction the buffer may hold rows it cannot see. */
  nested = morango_db_in_transaction (db);
  /* Begun first: a monitor cancelled already reports nothing.  The
   * number of buffered records would cost a scan of the buffer: the
   * session knows it (records_total), the stage does not ask. */
  if ((tx = morango_transaction_begin (db, monitor, error)) == NULL)
    return FALSE;
  morango_monitor_stage_begin (monitor, "dequeue", -1);

  if (!buffer_check_start (&check, db, transfer_session_id, nested, monitor, error))
    goto fail;

  if (!morango_db_exec (db,
                        "CREATE TEMP TABLE IF NOT EXISTS morango_dequeue_class ("
                        "  buffer_id INTEGER PRIMARY KEY, model_uuid TEXT NOT NULL,"
                        "  class INTEGER NOT NULL)",
                        error) ||
      !fill_writable (db, writable, error))
    goto fail;

  /* One new local version for the whole run (§3.1, §5.2 step 3). */
  if (!morango_store_next_counter (store, &counter, error))
    goto fail;
  local.counter = counter;

  for (;;)
    {
      gint64 n = 0;

      if (!dequeue_batch (db, transfer_session_id, morango_store_get_instance_id (store),
                          counter, &after, &local, &n, error))
        goto fail;
      if (n == 0)
        break;
      /* A round is a few set-based statements: progress, cancelling and
       * the fault hook are looked at between rounds (and the connection
       * watches for a cancel inside them). */
      if (!morango_monitor_advance (monitor, n, 0, error))
        goto fail;
    }

  /* The session's buffer is done with, reverse fast-forwards included
   * (quirk 3: Python also drops them from other sessions), and so are
   * history rows without a record in it (step 11). */
  if (!morango_buffer_clear (db, transfer_session_id, error) ||
      !morango_db_exec (db, "DELETE FROM temp.morango_dequeue_class", error))
    goto fail;

  /* Step 12, same transaction. */
  if (!morango_store_update_dmc (store, filter, sender, error) ||
      !buffer_check_finish (&check, error) ||
      !morango_transaction_commit (tx, error))
    goto fail;

  morango_monitor_stage_end (monitor);
  if (result != NULL)
    *result = local;
  return TRUE;

fail:
  buffer_check_finish (&check, error);
  return FALSE;
}
