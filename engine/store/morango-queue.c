/* morango-queue.c: queuing, store -> outgoing buffer (protocol §3.9)
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include "morango-queue.h"
#include "morango-queue-private.h"
#include "morango-buffer.h"
#include "morango-i18n-private.h"

/* ---- prefix ranges ----------------------------------------------------- */

/* The smallest string above every string that starts with @prefix, under
 * SQLite's BINARY (memcmp) collation.  "partition >= prefix AND partition
 * < upper" is then an exact byte-prefix test that an index can serve
 * (quirk 7: never LIKE). */
char *
morango_prefix_upper_bound (const char *prefix)
{
  gsize len = strlen (prefix);
  char *upper = g_strdup (prefix);

  while (len > 0 && (guchar) upper[len - 1] == 0xff)
    upper[--len] = '\0';
  if (len == 0)
    {
      /* Valid UTF-8 never contains 0xF8..0xFF, so this is above every
       * text SQLite can hold for us. */
      g_free (upper);
      return g_strdup ("\xff\xff\xff\xff");
    }
  upper[len - 1] = (char) ((guchar) upper[len - 1] + 1);
  return upper;
}

/* ---- queuing ----------------------------------------------------------- */

static gboolean
add_diff_row (MorangoDb   *db,
              const char  *partition,
              const char  *instance_id,
              gint64       counter,
              GError     **error)
{
  g_autofree char *upper = morango_prefix_upper_bound (partition);

  return morango_db_execute (db, error,
                             "INSERT INTO temp.morango_queue_diff (partition, upper, instance_id, counter) "
                             "VALUES (?1, ?2, ?3, ?4)",
                             "sssi", partition, upper, instance_id, counter);
}

/* Works out the (partition, instance, counter) triples the receiver
 * lacks and loads them into temp.morango_queue_diff. */
static gboolean
fill_diff_table (MorangoDb          *db,
                 const char * const *entries,
                 MorangoFsic        *sender,
                 MorangoFsic        *receiver,
                 gboolean           *empty,
                 GError            **error)
{
  GHashTableIter iter;
  gpointer key, value;

  if (sender->format == MORANGO_FSIC_V1)
    {
      g_autoptr(GHashTable) diff = morango_fsic_diff_v1 (sender->counters, receiver->counters);

      if (g_hash_table_size (diff) >= MORANGO_FSIC_V1_LIMIT)
        {
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_LIMIT_EXCEEDED,
                       morango_ngettext ("The FSIC difference names %u instance; at most %u can be queued",
                                         "The FSIC difference names %u instances; at most %u can be queued",
                                         g_hash_table_size (diff)),
                       g_hash_table_size (diff), MORANGO_FSIC_V1_LIMIT - 1);
          return FALSE;
        }
      *empty = g_hash_table_size (diff) == 0;

      g_hash_table_iter_init (&iter, diff);
      while (g_hash_table_iter_next (&iter, &key, &value))
        for (guint e = 0; entries[e] != NULL; e++)
          if (!add_diff_row (db, entries[e], key, *(gint64 *) value, error))
            return FALSE;
    }
  else
    {
      g_autoptr(GHashTable) send_x = morango_fsic_expand (sender, entries);
      g_autoptr(GHashTable) recv_x = morango_fsic_expand (receiver, entries);
      g_autoptr(GHashTable) diff = morango_fsic_diff_v2 (send_x, recv_x);
      gsize size = morango_partition_counters_size (diff);

      if (size >= MORANGO_FSIC_V2_LIMIT)
        {
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_LIMIT_EXCEEDED,
                       morango_ngettext ("The FSIC difference has %zu partition and counter; "
                                         "at most %u can be queued",
                                         "The FSIC difference has %zu partitions and counters; "
                                         "at most %u can be queued", size), size, MORANGO_FSIC_V2_LIMIT - 1);
          return FALSE;
        }
      *empty = size == 0;

      g_hash_table_iter_init (&iter, diff);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          GHashTableIter inner;
          gpointer instance, counter;

          g_hash_table_iter_init (&inner, value);
          while (g_hash_table_iter_next (&inner, &instance, &counter))
            if (!add_diff_row (db, key, instance, *(gint64 *) counter, error))
              return FALSE;
        }
    }
  return TRUE;
}

/* ---- progress inside the one statement --------------------------------
 *
 * Queuing copies the records with one INSERT…SELECT.  Given a monitor,
 * the SELECT passes each record through morango_queue_count(), which
 * counts it on the monitor, so progress comes per record as in the
 * other stages and the fault hook can stop the stage at any record.  (A
 * cancel stops the statement through the connection's progress handler
 * too.)  Without a monitor the plain statement runs: nothing to pay. */

typedef struct {
  MorangoMonitor *monitor;   /* set only while a statement runs */
  GError         *error;     /* why morango_queue_count() failed */
} QueueCount;

/* morango_queue_count (x): x, once the record it comes with is counted. */
static void
queue_count_func (sqlite3_context  *ctx,
                  int               argc,
                  sqlite3_value   **argv)
{
  QueueCount *qc = sqlite3_user_data (ctx);

  if (qc->error == NULL && !morango_monitor_advance (qc->monitor, 1, 0, &qc->error))
    {
      sqlite3_result_error (ctx, qc->error->message, -1);
      return;
    }
  sqlite3_result_value (ctx, argv[0]);
}

static QueueCount *
queue_count_get (MorangoDb  *db,
                 GError    **error)
{
  QueueCount *qc = morango_db_get_function_data (db, "morango_queue_count");

  if (qc != NULL)
    return qc;
  /* Once per connection, which frees it when it closes: redefining a
   * function is refused while a statement is active. */
  qc = g_new0 (QueueCount, 1);
  if (!morango_db_register_function (db, "morango_queue_count", 1, queue_count_func, qc, g_free,
                                     error))
    {
      g_free (qc);
      return NULL;
    }
  return qc;
}

/* The diff drives the join (CROSS JOIN fixes the order) and each triple
 * seeks the store by instance and partition range.  A record matching
 * several triples is queued once: the buffer's unique
 * (transfer_session_id, model_uuid) turns the repeats into no-ops (they
 * are counted twice). */
#define QUEUE_RECORDS_SQL(DELETED) \
  "INSERT OR IGNORE INTO morango_buffer (" \
  "  profile, serialized, deleted, hard_deleted, last_saved_instance," \
  "  last_saved_counter, partition, source_id, model_name," \
  "  conflicting_serialized_data, _self_ref_fk, transfer_session_id, model_uuid) " \
  "SELECT s.profile, s.serialized, " DELETED ", s.hard_deleted, s.last_saved_instance," \
  "  s.last_saved_counter, s.partition, s.source_id, s.model_name," \
  "  s.conflicting_serialized_data, s._self_ref_fk, ?1, s.id " \
  "FROM temp.morango_queue_diff d CROSS JOIN morango_store s " \
  "WHERE s.last_saved_instance = d.instance_id " \
  "  AND s.partition >= d.partition AND s.partition < d.upper " \
  "  AND s.last_saved_counter > d.counter " \
  "  AND s.profile = ?2"

static gboolean
queue_records (MorangoDb       *db,
               const char      *transfer_session_id,
               const char      *profile,
               MorangoMonitor  *monitor,
               GError         **error)
{
  QueueCount *qc;
  gboolean ok;

  if (monitor == NULL)
    return morango_db_execute (db, error, QUEUE_RECORDS_SQL ("s.deleted"),
                               "ss", transfer_session_id, profile);

  if ((qc = queue_count_get (db, error)) == NULL)
    return FALSE;
  qc->monitor = monitor;
  ok = morango_db_execute (db, error, QUEUE_RECORDS_SQL ("morango_queue_count (s.deleted)"),
                           "ss", transfer_session_id, profile);
  qc->monitor = NULL;
  if (qc->error != NULL)
    {
      /* Say why the count stopped, not that a function failed. */
      g_clear_error (error);
      g_propagate_error (error, g_steal_pointer (&qc->error));
      ok = FALSE;
    }
  return ok;
}

gboolean
morango_store_queue (MorangoStore      *store,
                     const char        *transfer_session_id,
                     MorangoFilter     *filter,
                     MorangoFsicFormat  format,
                     const char        *sender_fsic,
                     const char        *receiver_fsic,
                     gint64            *records_total,
                     MorangoMonitor    *monitor,
                     GError           **error)
{
  MorangoDb *db;
  const char * const *entries;
  g_autoptr(MorangoFsic) sender = NULL;
  g_autoptr(MorangoFsic) receiver = NULL;
  g_autoptr(MorangoTransaction) tx = NULL;
  gboolean empty = TRUE;
  gint64 total = 0;

  g_return_val_if_fail (MORANGO_IS_STORE (store), FALSE);
  g_return_val_if_fail (transfer_session_id != NULL, FALSE);
  g_return_val_if_fail (filter != NULL, FALSE);
  g_return_val_if_fail (sender_fsic != NULL && receiver_fsic != NULL, FALSE);
  g_return_val_if_fail (monitor == NULL || MORANGO_IS_MONITOR (monitor), FALSE);

  db = morango_store_get_db (store);
  entries = morango_filter_get_entries (filter);

  /* Everything about the FSICs is checked before the database is
   * touched. */
  if (!(sender = morango_fsic_parse (sender_fsic, format, error)) ||
      !(receiver = morango_fsic_parse (receiver_fsic, format, error)))
    return FALSE;
  if (!morango_fsic_check_partitions (sender, entries, error) ||
      !morango_fsic_check_partitions (receiver, entries, error))
    return FALSE;

  /* Begun first: a monitor cancelled already reports nothing.  The
   * total is known only once the records are queued. */
  if ((tx = morango_transaction_begin (db, monitor, error)) == NULL)
    return FALSE;
  morango_monitor_stage_begin (monitor, "queue", -1);

  /* Queuing again (a resumed session) starts from scratch. */
  if (!morango_buffer_clear (db, transfer_session_id, error))
    return FALSE;

  if (!morango_db_exec (db,
                        "CREATE TEMP TABLE IF NOT EXISTS morango_queue_diff ("
                        "  partition TEXT NOT NULL, upper TEXT NOT NULL,"
                        "  instance_id TEXT NOT NULL, counter INTEGER NOT NULL)",
                        error) ||
      !morango_db_exec (db, "DELETE FROM temp.morango_queue_diff", error))
    return FALSE;

  if (!fill_diff_table (db, entries, sender, receiver, &empty, error))
    return FALSE;

  if (!empty)
    {
      if (!queue_records (db, transfer_session_id, morango_store_get_profile_name (store),
                          monitor, error))
        return FALSE;

      /* The histories of what was queued: no record is counted again,
       * but a cancel still stops the statement. */
      if (!morango_db_execute (db, error,
                               "INSERT INTO morango_recordmaxcounterbuffer ("
                               "  instance_id, counter, transfer_session_id, model_uuid) "
                               "SELECT r.instance_id, r.counter, b.transfer_session_id, b.model_uuid "
                               "FROM morango_buffer b CROSS JOIN morango_recordmaxcounter r "
                               "WHERE b.transfer_session_id = ?1 AND r.store_model_id = b.model_uuid",
                               "s", transfer_session_id))
        return FALSE;
    }

  if (!morango_db_exec (db, "DELETE FROM temp.morango_queue_diff", error))
    return FALSE;

  /* The total goes back to the caller: the transfer session that
   * records it belongs to the sync layer. */
  if (!morango_db_query_int64 (db, &total, NULL, error,
                               "SELECT count(*) FROM morango_buffer WHERE transfer_session_id = ?1",
                               "s", transfer_session_id) ||
      !morango_transaction_commit (tx, error))
    return FALSE;

  morango_monitor_stage_end (monitor);
  if (records_total != NULL)
    *records_total = total;
  return TRUE;
}
