/* morango-dmc.c: the database-max counters: our FSIC from them and
 * their update from a sender's FSIC (protocol §3.6, §3.7, §3.10)
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include "morango-fsic.h"
#include "morango-queue-private.h"

/* ---- calculating our FSIC ----------------------------------------------- */

typedef struct {
  char   *partition;
  char   *instance_id;
  gint64  counter;
} DmcRow;

static void
dmc_row_free (gpointer data)
{
  DmcRow *row = data;

  g_free (row->partition);
  g_free (row->instance_id);
  g_free (row);
}

/* The DMC is small (partitions times instances); the prefix logic runs
 * on it in memory with exact byte comparisons. */
static GPtrArray *
load_dmc (MorangoDb  *db,
          GError    **error)
{
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func (dmc_row_free);
  sqlite3_stmt *stmt;
  int rc;

  stmt = morango_db_prepare (db,
                             "SELECT partition, instance_id, counter "
                             "FROM morango_databasemaxcounter",
                             error);
  if (stmt == NULL)
    return NULL;
  while ((rc = morango_db_step (db, stmt, error)) == SQLITE_ROW)
    {
      DmcRow *row = g_new0 (DmcRow, 1);

      row->partition = g_strdup (morango_db_column_text (stmt, 0));
      row->instance_id = g_strdup (morango_db_column_text (stmt, 1));
      row->counter = sqlite3_column_int64 (stmt, 2);
      g_ptr_array_add (rows, row);
    }
  sqlite3_reset (stmt);
  if (rc < 0)
    return NULL;
  return g_steal_pointer (&rows);
}

static MorangoFsic *
calculate_v1 (GPtrArray          *dmc,
              const char * const *entries,
              gboolean            is_producer)
{
  g_autoptr(MorangoFsic) fsic = morango_fsic_new (MORANGO_FSIC_V1);

  for (guint e = 0; entries[e] != NULL; e++)
    {
      g_autoptr(GHashTable) m = morango_counters_new ();

      /* M_f: max counter per instance over DMC partitions that prefix f. */
      for (guint i = 0; i < dmc->len; i++)
        {
          DmcRow *row = dmc->pdata[i];
          gint64 have;

          if (!morango_partition_has_prefix (entries[e], row->partition))
            continue;
          if (!morango_counters_lookup (m, row->instance_id, &have) || have < row->counter)
            morango_counters_set (m, row->instance_id, row->counter);
        }

      if (is_producer)
        {
          GHashTableIter iter;
          gpointer instance, value;

          g_hash_table_iter_init (&iter, m);
          while (g_hash_table_iter_next (&iter, &instance, &value))
            {
              gint64 have;

              if (!morango_counters_lookup (fsic->counters, instance, &have) ||
                  have < *(gint64 *) value)
                morango_counters_set (fsic->counters, instance, *(gint64 *) value);
            }
        }
      else if (e == 0)
        {
          g_hash_table_unref (fsic->counters);
          fsic->counters = g_steal_pointer (&m);
        }
      else
        {
          /* A receiver claims only what it holds under every entry. */
          GHashTableIter iter;
          gpointer instance, value;

          g_hash_table_iter_init (&iter, fsic->counters);
          while (g_hash_table_iter_next (&iter, &instance, &value))
            {
              gint64 here;

              if (!morango_counters_lookup (m, instance, &here))
                g_hash_table_iter_remove (&iter);
              else if (here < *(gint64 *) value)
                *(gint64 *) value = here;
            }
        }
    }
  return g_steal_pointer (&fsic);
}

static gboolean
dmc_row_relevant (MorangoDb  *db,
                  DmcRow     *row,
                  gboolean    is_producer,
                  gboolean   *relevant,
                  GError    **error)
{
  g_autofree char *upper = morango_prefix_upper_bound (row->partition);
  gint64 found = 0;

  /* Producer: we hold a record of that instance under the partition.
   * Receiver: some record under the partition has that instance in its
   * history. */
  if (is_producer)
    {
      if (!morango_db_query_int64 (db, &found, NULL, error,
                                   "SELECT EXISTS (SELECT 1 FROM morango_store "
                                   "WHERE last_saved_instance = ?1 "
                                   "AND partition >= ?2 AND partition < ?3)",
                                   "sss", row->instance_id, row->partition, upper))
        return FALSE;
    }
  else
    {
      if (!morango_db_query_int64 (db, &found, NULL, error,
                                   "SELECT EXISTS (SELECT 1 FROM morango_recordmaxcounter r "
                                   "JOIN morango_store s ON s.id = r.store_model_id "
                                   "WHERE r.instance_id = ?1 "
                                   "AND s.partition >= ?2 AND s.partition < ?3)",
                                   "sss", row->instance_id, row->partition, upper))
        return FALSE;
    }
  *relevant = found != 0;
  return TRUE;
}

/* For the receiver's relevance test inside the filter: which instances
 * appear in the histories of the records under each partition.  One
 * pass over the filter's records; probing per DMC row instead costs a
 * scan of the instance's whole history for every row that turns out
 * irrelevant.  Returns instance -> array of partitions. */
static GHashTable *
load_history_partitions (MorangoDb          *db,
                         const char * const *entries,
                         GError            **error)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                      (GDestroyNotify) g_ptr_array_unref);
  g_autoptr(GHashTable) pairs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint e = 0; entries[e] != NULL; e++)
    {
      g_autofree char *upper = morango_prefix_upper_bound (entries[e]);
      sqlite3_stmt *stmt;
      int rc;

      stmt = morango_db_prepare (db,
                                 "SELECT DISTINCT s.partition, r.instance_id "
                                 "FROM morango_store s CROSS JOIN morango_recordmaxcounter r "
                                 "  ON r.store_model_id = s.id "
                                 "WHERE s.partition >= ?1 AND s.partition < ?2",
                                 error);
      if (stmt == NULL || !morango_db_bind (db, stmt, error, "ss", entries[e], upper))
        return NULL;
      while ((rc = morango_db_step (db, stmt, error)) == SQLITE_ROW)
        {
          const char *partition = morango_db_column_text (stmt, 0);
          const char *instance = morango_db_column_text (stmt, 1);
          char *pair = g_strconcat (instance, "\t", partition, NULL);
          GPtrArray *parts;

          /* Filter entries may overlap. */
          if (!g_hash_table_add (pairs, pair))
            continue;
          parts = g_hash_table_lookup (seen, instance);
          if (parts == NULL)
            {
              parts = g_ptr_array_new_with_free_func (g_free);
              g_hash_table_insert (seen, g_strdup (instance), parts);
            }
          g_ptr_array_add (parts, g_strdup (partition));
        }
      sqlite3_reset (stmt);
      if (rc < 0)
        return NULL;
    }
  return g_steal_pointer (&seen);
}

static gboolean
history_under (GHashTable *seen,
               DmcRow     *row)
{
  GPtrArray *parts = g_hash_table_lookup (seen, row->instance_id);

  for (guint i = 0; parts != NULL && i < parts->len; i++)
    if (morango_partition_has_prefix (parts->pdata[i], row->partition))
      return TRUE;
  return FALSE;
}

/* A receiver's relevance test for a DMC row under the filter, without
 * the one pass over all of the filter's records (load_history_partitions),
 * which at a million records costs a second or more on every sync, the
 * ones that move nothing included.  Two bounded looks: the instance's
 * history rows (its index) for one whose record lies under the
 * partition, and the partition's records (the store's partition index)
 * for one whose history names the instance.  A hit on either side says
 * relevant; either side read to its end without a hit says not; when
 * both stop at the limit the row stays undecided and the caller makes
 * the pass.  Exact either way: only the cost differs. */
static guint probe_limit = MORANGO_FSIC_PROBE_LIMIT_DEFAULT;

/* Each look-up may read up to four times the limit: a DMC of hundreds
 * of rows (a server that syncs with many tablets) could cost more in
 * look-ups than the pass.  After this many rows, the pass, so that the
 * look-ups add a bounded cost to it at worst. */
static guint probe_rows = MORANGO_FSIC_PROBE_ROWS_DEFAULT;

void
morango_store_fsic_set_probe_limit (guint rows)
{
  probe_limit = rows;
}

void
morango_store_fsic_set_probe_rows (guint dmc_rows)
{
  probe_rows = dmc_rows;
}

typedef enum {
  PROBE_UNDECIDED,
  PROBE_RELEVANT,
  PROBE_IRRELEVANT,
} ProbeAnswer;

static gboolean
probe_side (MorangoDb   *db,
            const char  *hit_sql,
            const char  *count_sql,
            DmcRow      *row,
            const char  *upper,
            ProbeAnswer *answer,
            GError     **error)
{
  gint64 hit = 0, rows = 0;

  if (!morango_db_query_int64 (db, &hit, NULL, error, hit_sql, "sssi",
                               row->instance_id, row->partition, upper, (gint64) probe_limit))
    return FALSE;
  if (hit != 0)
    {
      *answer = PROBE_RELEVANT;
      return TRUE;
    }
  if (!morango_db_query_int64 (db, &rows, NULL, error, count_sql, "sssi",
                               row->instance_id, row->partition, upper, (gint64) probe_limit))
    return FALSE;
  /* Fewer rows than the limit: the side was read whole. */
  *answer = rows < (gint64) probe_limit ? PROBE_IRRELEVANT : PROBE_UNDECIDED;
  return TRUE;
}

static gboolean
probe_relevant (MorangoDb    *db,
                DmcRow       *row,
                ProbeAnswer  *answer,
                GError      **error)
{
  g_autofree char *upper = morango_prefix_upper_bound (row->partition);

  /* The instance's history, in store id order: whether its record lies
   * under the partition.  CROSS JOIN keeps the limited side first and
   * read row by row (a plain JOIN reads all of it into a temporary
   * table before the first look-up), so a hit ends the read. */
  if (!probe_side (db,
                   "SELECT EXISTS (SELECT 1 FROM "
                   "  (SELECT store_model_id FROM morango_recordmaxcounter "
                   "   WHERE instance_id = ?1 LIMIT ?4) h "
                   "  CROSS JOIN morango_store s ON s.id = h.store_model_id "
                   "  WHERE s.partition >= ?2 AND s.partition < ?3)",
                   "SELECT count(*) FROM (SELECT 1 FROM morango_recordmaxcounter "
                   "  WHERE instance_id = ?1 LIMIT ?4)",
                   row, upper, answer, error))
    return FALSE;
  if (*answer != PROBE_UNDECIDED)
    return TRUE;

  /* The partition's records: whether a history names the instance. */
  return probe_side (db,
                     "SELECT EXISTS (SELECT 1 FROM "
                     "  (SELECT id FROM morango_store "
                     "   WHERE partition >= ?2 AND partition < ?3 LIMIT ?4) s "
                     "  CROSS JOIN morango_recordmaxcounter r "
                     "    ON r.store_model_id = s.id AND r.instance_id = ?1)",
                     "SELECT count(*) FROM (SELECT 1 FROM morango_store "
                     "  WHERE partition >= ?2 AND partition < ?3 LIMIT ?4)",
                     row, upper, answer, error);
}

static MorangoFsic *
calculate_v2 (MorangoDb          *db,
              GPtrArray          *dmc,
              const char * const *entries,
              gboolean            is_producer,
              gboolean            reduction,
              GError            **error)
{
  g_autoptr(MorangoFsic) fsic = morango_fsic_new (MORANGO_FSIC_V2);
  g_autoptr(GHashTable) seen = NULL;
  guint probed = 0;

  for (guint i = 0; i < dmc->len; i++)
    {
      DmcRow *row = dmc->pdata[i];
      gboolean in_sub = FALSE, in_super = FALSE;
      gboolean relevant = TRUE;

      for (guint e = 0; entries[e] != NULL; e++)
        {
          if (morango_partition_has_prefix (row->partition, entries[e]))
            in_sub = TRUE;
          if (morango_partition_has_prefix (entries[e], row->partition) &&
              strcmp (entries[e], row->partition) != 0)
            in_super = TRUE;
        }
      if (!in_sub && !in_super)
        continue;

      /* Records under a sub partition are all inside the filter, so a
       * receiver asks the bounded look-ups first, then the history map
       * of one pass over the filter's records: the first row they leave
       * undecided, or the first past probe_rows, pays for the pass,
       * which then answers every row after it for nothing.  A super partition encloses records outside the
       * filter too and is asked of the database. */
      if (reduction && !is_producer && in_sub)
        {
          ProbeAnswer answer = PROBE_UNDECIDED;

          if (seen == NULL && probe_limit > 0 && probed++ < probe_rows &&
              !probe_relevant (db, row, &answer, error))
            return NULL;
          if (answer == PROBE_UNDECIDED)
            {
              if (seen == NULL && !(seen = load_history_partitions (db, entries, error)))
                return NULL;
              relevant = history_under (seen, row);
            }
          else
            relevant = answer == PROBE_RELEVANT;
        }
      else if (reduction && !dmc_row_relevant (db, row, is_producer, &relevant, error))
        return NULL;
      if (!relevant)
        continue;

      if (in_sub)
        morango_counters_set (morango_partition_counters_ensure (fsic->sub, row->partition),
                              row->instance_id, row->counter);
      if (in_super)
        morango_counters_set (morango_partition_counters_ensure (fsic->super_, row->partition),
                              row->instance_id, row->counter);
    }

  morango_fsic_remove_redundant (fsic);
  return g_steal_pointer (&fsic);
}

MorangoFsic *
morango_store_calculate_fsic (MorangoStore      *store,
                              MorangoFilter     *filter,
                              gboolean           is_producer,
                              MorangoFsicFormat  format,
                              gboolean           reduction,
                              GError           **error)
{
  MorangoDb *db;
  g_autoptr(GPtrArray) dmc = NULL;
  const char * const *entries;

  g_return_val_if_fail (MORANGO_IS_STORE (store), NULL);
  g_return_val_if_fail (filter != NULL, NULL);
  g_return_val_if_fail (format == MORANGO_FSIC_V1 || format == MORANGO_FSIC_V2, NULL);

  db = morango_store_get_db (store);
  entries = morango_filter_get_entries (filter);
  if (!(dmc = load_dmc (db, error)))
    return NULL;

  if (format == MORANGO_FSIC_V1)
    return calculate_v1 (dmc, entries, is_producer);
  return calculate_v2 (db, dmc, entries, is_producer, reduction, error);
}

char *
morango_store_calculate_fsic_json (MorangoStore      *store,
                                   MorangoFilter     *filter,
                                   gboolean           is_producer,
                                   MorangoFsicFormat  format,
                                   gboolean           reduction,
                                   GError           **error)
{
  g_autoptr(MorangoFsic) fsic = morango_store_calculate_fsic (store, filter, is_producer,
                                                              format, reduction, error);

  return fsic ? morango_fsic_to_string (fsic) : NULL;
}

/* ---- the DMC update ------------------------------------------------------ */

static gboolean
raise_dmc (MorangoDb   *db,
           const char  *instance_id,
           const char  *partition,
           gint64       counter,
           GError     **error)
{
  /* Python may lower a counter here (quirk 1) and skips 0 (corrections
   * item 26).  Knowledge never shrinks, so keep the maximum; and a 0
   * claims nothing, so it is not written. */
  if (counter <= 0)
    return TRUE;
  return morango_db_execute (db, error,
                             "INSERT INTO morango_databasemaxcounter (instance_id, partition, counter) "
                             "VALUES (?1, ?2, ?3) "
                             "ON CONFLICT (instance_id, partition) "
                             "DO UPDATE SET counter = max(counter, excluded.counter)",
                             "ssi", instance_id, partition, counter);
}

gboolean
morango_store_update_dmc (MorangoStore  *store,
                          MorangoFilter *filter,
                          MorangoFsic   *sender_fsic,
                          GError       **error)
{
  MorangoDb *db;
  const char * const *entries;
  g_autoptr(MorangoTransaction) tx = NULL;
  GHashTableIter iter;
  gpointer key, value;

  g_return_val_if_fail (MORANGO_IS_STORE (store), FALSE);
  g_return_val_if_fail (filter != NULL, FALSE);
  g_return_val_if_fail (sender_fsic != NULL, FALSE);

  db = morango_store_get_db (store);
  entries = morango_filter_get_entries (filter);

  /* Short (one row per FSIC counter), usually a savepoint inside
   * dequeuing's transaction: no monitor of its own. */
  if ((tx = morango_transaction_begin (db, NULL, error)) == NULL)
    return FALSE;

  if (sender_fsic->format == MORANGO_FSIC_V1)
    {
      g_autoptr(GPtrArray) dmc = load_dmc (db, error);
      g_autoptr(MorangoFsic) ours = NULL;

      if (dmc == NULL)
        return FALSE;
      ours = calculate_v1 (dmc, entries, FALSE);

      g_hash_table_iter_init (&iter, sender_fsic->counters);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          gint64 have;

          if (morango_counters_lookup (ours->counters, key, &have) && have >= *(gint64 *) value)
            continue;
          for (guint e = 0; entries[e] != NULL; e++)
            if (!raise_dmc (db, key, entries[e], *(gint64 *) value, error))
              return FALSE;
        }
    }
  else
    {
      /* "sub" (§3.10): the partitions the sender vouches for inside this
       * filter.  The caller checked they are inside it. */
      g_hash_table_iter_init (&iter, sender_fsic->sub);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          GHashTableIter inner;
          gpointer instance, counter;

          g_hash_table_iter_init (&inner, value);
          while (g_hash_table_iter_next (&inner, &instance, &counter))
            if (!raise_dmc (db, instance, key, *(gint64 *) counter, error))
              return FALSE;
        }

      /* Python ignores "super" (quirk 2), so knowledge a sender keeps
       * under an enclosing partition (typically "" after an unfiltered
       * serialization) never reaches the receiver's DMC, and the same
       * records are offered again at every sync.  The sender expanded
       * those counters onto each filter entry they enclose and queued
       * everything the receiver lacked there, so the receiver now holds
       * it: credit them to those entries (the reference allows this; it
       * changes nothing on the wire). */
      g_hash_table_iter_init (&iter, sender_fsic->super_);
      while (g_hash_table_iter_next (&iter, &key, &value))
        for (guint e = 0; entries[e] != NULL; e++)
          {
            GHashTableIter inner;
            gpointer instance, counter;

            if (!morango_partition_has_prefix (entries[e], key))
              continue;
            g_hash_table_iter_init (&inner, value);
            while (g_hash_table_iter_next (&inner, &instance, &counter))
              if (!raise_dmc (db, instance, entries[e], *(gint64 *) counter, error))
                return FALSE;
          }
    }

  return morango_transaction_commit (tx, error);
}
