/* store-fixtures.c: loading and dumping Morango tables in the store tests
 *
 * SPDX-License-Identifier: MIT
 */

#include <stdarg.h>
#include <string.h>

#include "morango-instance.h"
#include "morango-monitor-private.h"
#include "morango-test-util.h"
#include "store-fixtures.h"

typedef struct {
  const char *name;     /* as the vectors call it */
  const char *table;
  const char *columns;  /* what to select: the vectors' keys */
  const char *order;
} TableInfo;

#define PAYLOAD "serialized,deleted,hard_deleted,last_saved_instance,last_saved_counter," \
                "partition,source_id,model_name,profile,conflicting_serialized_data,_self_ref_fk"

static const TableInfo tables[] = {
  /* The vectors' dirty_bit is whether the record waits on our pending
   * list. */
  { "store", "morango_store",
    "id," PAYLOAD ",EXISTS (SELECT 1 FROM morango_store_pending p WHERE p.id = morango_store.id) "
    "AS dirty_bit,deserialization_error,last_transfer_session_id", "id" },
  { "rmc", "morango_recordmaxcounter", "store_model_id,instance_id,counter",
    "store_model_id, instance_id" },
  { "dmc", "morango_databasemaxcounter", "instance_id,partition,counter",
    "instance_id, partition" },
  { "buffer", "morango_buffer", "transfer_session_id,model_uuid," PAYLOAD, "id" },
  { "rmcb", "morango_recordmaxcounterbuffer", "transfer_session_id,model_uuid,instance_id,counter",
    "transfer_session_id, model_uuid, instance_id" },
};

static const TableInfo *
table_info (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (tables); i++)
    if (g_str_equal (tables[i].name, name) || g_str_equal (tables[i].table, name))
      return &tables[i];
  g_error ("unknown table %s", name);
  return NULL;
}

static gboolean
is_bool_column (const char *column)
{
  return g_str_equal (column, "deleted") || g_str_equal (column, "hard_deleted") ||
         g_str_equal (column, "dirty_bit");
}

MorangoStore *
fixture_store_new (const char *profile_name,
                   const char *instance_id,
                   gint64      counter)
{
  return fixture_store_new_at (":memory:", profile_name, instance_id, counter);
}

MorangoStore *
fixture_store_new_at (const char *path,
                      const char *profile_name,
                      const char *instance_id,
                      gint64      counter)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoDb) db = morango_db_open (path, &error);
  g_autoptr(MorangoRandom) random = morango_random_new_seeded (1);

  g_assert_no_error (error);
  morango_instance_set_counter (db, instance_id, counter, &error);
  g_assert_no_error (error);
  return morango_store_new_for_db (db, profile_name, NULL, instance_id, random);
}

void
fixture_load_rows (MorangoDb  *db,
                   const char *table,
                   JsonArray  *rows)
{
  const TableInfo *info = table_info (table);
  gboolean is_store = g_str_equal (info->name, "store");
  gboolean is_buffer = g_str_equal (info->name, "buffer");

  for (guint i = 0; rows != NULL && i < json_array_get_length (rows); i++)
    {
      g_autoptr(JsonObject) row = json_object_ref (json_array_get_object_element (rows, i));
      g_autoptr(GString) sql = g_string_new (NULL);
      g_autoptr(GString) marks = g_string_new (NULL);
      g_autoptr(GList) members = NULL;
      g_autoptr(GError) error = NULL;
      sqlite3_stmt *stmt = NULL;
      int idx = 1;
      gboolean pending = FALSE;

      if (is_store || is_buffer)
        {
          /* Defaults of the fsic.json states' partial rows. */
          g_autoptr(JsonObject) full = json_object_new ();
          g_autoptr(GList) keys = json_object_get_members (row);

          json_object_set_string_member (full, "serialized", "{}");
          json_object_set_string_member (full, "source_id", "src");
          json_object_set_string_member (full, "model_name", "contentsummarylog");
          json_object_set_string_member (full, "profile", "facilitydata");
          for (GList *l = keys; l; l = l->next)
            json_object_set_member (full, l->data,
                                    json_node_copy (json_object_get_member (row, l->data)));
          g_clear_pointer (&row, json_object_unref);
          row = g_steal_pointer (&full);
        }
      /* Our own copy by now: the flag goes to the pending list. */
      if (is_store && json_object_has_member (row, "dirty_bit"))
        {
          pending = json_object_get_boolean_member (row, "dirty_bit");
          json_object_remove_member (row, "dirty_bit");
        }

      members = json_object_get_members (row);
      g_string_append_printf (sql, "INSERT INTO %s (", info->table);
      for (GList *l = members; l; l = l->next)
        {
          g_string_append_printf (sql, "%s\"%s\"", l == members ? "" : ", ", (char *) l->data);
          g_string_append_printf (marks, "%s?", l == members ? "" : ", ");
        }
      g_string_append_printf (sql, ") VALUES (%s)", marks->str);

      g_assert_cmpint (sqlite3_prepare_v2 (morango_db_get_handle (db), sql->str, -1, &stmt, NULL),
                       ==, SQLITE_OK);
      for (GList *l = members; l; l = l->next, idx++)
        {
          JsonNode *v = json_object_get_member (row, l->data);

          if (JSON_NODE_HOLDS_NULL (v))
            sqlite3_bind_null (stmt, idx);
          else if (json_node_get_value_type (v) == G_TYPE_STRING)
            sqlite3_bind_text (stmt, idx, json_node_get_string (v), -1, SQLITE_TRANSIENT);
          else if (json_node_get_value_type (v) == G_TYPE_BOOLEAN)
            sqlite3_bind_int (stmt, idx, json_node_get_boolean (v));
          else
            sqlite3_bind_int64 (stmt, idx, json_node_get_int (v));
        }
      if (sqlite3_step (stmt) != SQLITE_DONE)
        g_error ("loading %s: %s", sql->str, sqlite3_errmsg (morango_db_get_handle (db)));
      sqlite3_finalize (stmt);
      if (pending)
        {
          morango_db_execute (db, &error,
                              FIXTURE_MAKE_PENDING " WHERE id = ?",
                              "s", json_object_get_string_member (row, "id"));
          g_assert_no_error (error);
        }
    }
}

JsonArray *
fixture_dump_rows (MorangoDb  *db,
                   const char *table)
{
  const TableInfo *info = table_info (table);
  g_autofree char *sql = g_strdup_printf ("SELECT %s FROM %s ORDER BY %s",
                                          info->columns, info->table, info->order);
  JsonArray *rows = json_array_new ();
  sqlite3_stmt *stmt = NULL;

  g_assert_cmpint (sqlite3_prepare_v2 (morango_db_get_handle (db), sql, -1, &stmt, NULL),
                   ==, SQLITE_OK);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      JsonObject *row = json_object_new ();

      for (int c = 0; c < sqlite3_column_count (stmt); c++)
        {
          const char *name = sqlite3_column_name (stmt, c);

          switch (sqlite3_column_type (stmt, c))
            {
            case SQLITE_NULL:
              json_object_set_null_member (row, name);
              break;
            case SQLITE_INTEGER:
              if (is_bool_column (name))
                json_object_set_boolean_member (row, name, sqlite3_column_int (stmt, c) != 0);
              else
                json_object_set_int_member (row, name, sqlite3_column_int64 (stmt, c));
              break;
            default:
              json_object_set_string_member (row, name, (const char *) sqlite3_column_text (stmt, c));
              break;
            }
        }
      json_array_add_object_element (rows, row);
    }
  sqlite3_finalize (stmt);
  return rows;
}

static char *
node_text (JsonNode *node)
{
  return morango_test_json_to_string (node);
}

void
fixture_assert_rows (const char *what,
                     JsonArray  *actual,
                     JsonArray  *expected)
{
  guint n_actual = json_array_get_length (actual);
  guint n_expected = json_array_get_length (expected);
  g_autofree gboolean *used = g_new0 (gboolean, n_actual);
  gboolean ok = n_actual == n_expected;

  for (guint e = 0; ok && e < n_expected; e++)
    {
      gboolean found = FALSE;

      for (guint a = 0; a < n_actual && !found; a++)
        if (!used[a] && morango_test_json_equal (json_array_get_element (actual, a),
                                                 json_array_get_element (expected, e)))
          used[a] = found = TRUE;
      ok = found;
    }

  if (!ok)
    {
      g_autoptr(JsonNode) an = json_node_init_array (json_node_alloc (), actual);
      g_autoptr(JsonNode) en = json_node_init_array (json_node_alloc (), expected);
      g_autofree char *at = node_text (an);
      g_autofree char *et = node_text (en);

      g_error ("%s rows differ:\n  actual:   %s\n  expected: %s", what, at, et);
    }
}

void
fixture_assert_table (MorangoDb  *db,
                      const char *table,
                      const char *what,
                      JsonArray  *expected)
{
  g_autoptr(JsonArray) actual = fixture_dump_rows (db, table);

  fixture_assert_rows (what, actual, expected);
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

void
fixture_assert_pending (MorangoDb *db,
                        ...)
{
  g_autoptr(GPtrArray) want = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) have = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *want_text = NULL, *have_text = NULL;
  sqlite3_stmt *stmt = NULL;
  const char *profile;
  va_list args;

  va_start (args, db);
  while ((profile = va_arg (args, const char *)) != NULL)
    {
      const char *model = va_arg (args, const char *);
      const char *id = va_arg (args, const char *);

      g_ptr_array_add (want, g_strdup_printf ("%s/%s/%s", profile, model, id));
    }
  va_end (args);
  g_ptr_array_sort (want, compare_strings);
  g_ptr_array_add (want, NULL);

  /* Sorted the way the list above is (bytewise). */
  g_assert_cmpint (sqlite3_prepare_v2 (morango_db_get_handle (db),
                                       "SELECT profile || '/' || model_name || '/' || id "
                                       "FROM morango_store_pending ORDER BY 1", -1, &stmt, NULL),
                   ==, SQLITE_OK);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    g_ptr_array_add (have, g_strdup ((const char *) sqlite3_column_text (stmt, 0)));
  sqlite3_finalize (stmt);
  g_ptr_array_add (have, NULL);

  want_text = g_strjoinv (" ", (char **) want->pdata);
  have_text = g_strjoinv (" ", (char **) have->pdata);
  g_assert_cmpstr (have_text, ==, want_text);
}

char *
fixture_digest_queries (MorangoDb          *db,
                        const char * const *queries,
                        guint               n_queries)
{
  /* To tell states apart, not to resist forgery: MD5 is a quarter
   * cheaper than SHA-256 over the 50,000-record states. */
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_MD5);

  for (guint q = 0; q < n_queries; q++)
    {
      sqlite3_stmt *stmt = NULL;
      int n_columns;

      g_assert_cmpint (sqlite3_prepare_v2 (morango_db_get_handle (db), queries[q], -1, &stmt, NULL),
                       ==, SQLITE_OK);
      g_checksum_update (sum, (const guchar *) queries[q], -1);
      n_columns = sqlite3_column_count (stmt);
      while (sqlite3_step (stmt) == SQLITE_ROW)
        {
          for (int c = 0; c < n_columns; c++)
            {
              guchar type = (guchar) sqlite3_column_type (stmt, c);

              g_checksum_update (sum, &type, 1);
              if (type == SQLITE_INTEGER)
                {
                  /* As it is: asking for its text would print it. */
                  gint64 v = sqlite3_column_int64 (stmt, c);

                  g_checksum_update (sum, (const guchar *) &v, sizeof v);
                }
              else if (type != SQLITE_NULL)
                {
                  const void *blob = sqlite3_column_blob (stmt, c);
                  int len = sqlite3_column_bytes (stmt, c);

                  g_checksum_update (sum, (const guchar *) &len, sizeof len);
                  if (len > 0)
                    g_checksum_update (sum, blob, len);
                }
            }
          g_checksum_update (sum, (const guchar *) "\n", 1);
        }
      sqlite3_finalize (stmt);
    }
  return g_strdup (g_checksum_get_string (sum));
}

char *
fixture_db_digest (MorangoDb *db)
{
  static const char * const queries[] = {
    "SELECT * FROM morango_store ORDER BY id",
    "SELECT * FROM morango_store_pending ORDER BY profile, model_name, id",
    "SELECT * FROM morango_recordmaxcounter ORDER BY store_model_id, instance_id",
    "SELECT * FROM morango_databasemaxcounter ORDER BY instance_id, partition",
    "SELECT * FROM morango_buffer ORDER BY id",
    "SELECT * FROM morango_recordmaxcounterbuffer ORDER BY transfer_session_id, model_uuid, instance_id",
    "SELECT * FROM morango_instanceidmodel ORDER BY id",
    "SELECT * FROM morango_transfersession ORDER BY id",
  };

  return fixture_digest_queries (db, queries, G_N_ELEMENTS (queries));
}

/* See fixture_mixed_store_at(). */
static void
fill_mixed (MorangoDb *db,
            gint64     n,
            gboolean   all_new)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoTransaction) tx = morango_transaction_begin (db, NULL, &error);

  g_assert_no_error (error);
  morango_db_exec (db, "CREATE TEMP TABLE IF NOT EXISTS fill_n (value INTEGER)", &error);
  g_assert_no_error (error);
  morango_db_exec (db, "DELETE FROM temp.fill_n", &error);
  g_assert_no_error (error);
  morango_db_execute (db, &error, "INSERT INTO temp.fill_n VALUES (?)", "i", n);
  g_assert_no_error (error);
  morango_db_exec (db, "CREATE TEMP TABLE IF NOT EXISTS fill_new (value INTEGER)", &error);
  g_assert_no_error (error);
  morango_db_exec (db, "DELETE FROM temp.fill_new", &error);
  g_assert_no_error (error);
  morango_db_execute (db, &error, "INSERT INTO temp.fill_new VALUES (?)", "b", all_new);
  g_assert_no_error (error);

  /* Local rows for i % 4 != 0 (class 1, 2, 3), version (R2, 5); history
   * R2:5 and, for the reverse fast-forwards, R1:9 too. */
  morango_db_exec (db,
    "WITH RECURSIVE seq (i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq"
    "  WHERE i + 1 < (SELECT value FROM temp.fill_n)) "
    "INSERT INTO morango_store (id, profile, serialized, last_saved_instance, last_saved_counter,"
    "  partition, source_id, model_name, conflicting_serialized_data) "
    "SELECT printf ('%032x', i), 'facilitydata', '{\"v\": \"local\", \"i\": ' || i || '}',"
    "  '" FIXTURE_MIXED_R2 "', 5, 'd:u' || (i % 10), 'src', 'm', 'old' "
    "FROM seq WHERE i % 4 <> 0 AND NOT (SELECT value FROM temp.fill_new)", &error);
  g_assert_no_error (error);
  morango_db_exec (db,
    "INSERT INTO morango_recordmaxcounter (instance_id, counter, store_model_id) "
    "SELECT '" FIXTURE_MIXED_R2 "', 5, id FROM morango_store", &error);
  g_assert_no_error (error);
  morango_db_exec (db,
    "INSERT INTO morango_recordmaxcounter (instance_id, counter, store_model_id) "
    "SELECT '" FIXTURE_MIXED_R1 "', 9, id FROM morango_store WHERE json_extract (serialized, '$.i') % 4 = 1", &error);
  g_assert_no_error (error);

  /* Incoming version (R1, 7) for everything; history R1:7, and R2:5 for
   * the fast-forwards (class 2) so that it covers the local version. */
  morango_db_exec (db,
    "WITH RECURSIVE seq (i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq"
    "  WHERE i + 1 < (SELECT value FROM temp.fill_n)) "
    "INSERT INTO morango_buffer (profile, serialized, deleted, hard_deleted, last_saved_instance,"
    "  last_saved_counter, partition, source_id, model_name, conflicting_serialized_data,"
    "  _self_ref_fk, transfer_session_id, model_uuid) "
    "SELECT 'facilitydata', '{\"v\": \"remote\", \"i\": ' || i || '}', i % 7 = 0, i % 11 = 0,"
    "  '" FIXTURE_MIXED_R1 "', 7, 'd:u' || (i % 10), 'src', 'm', '', '', '" FIXTURE_MIXED_TS "', printf ('%032x', i) "
    "FROM seq", &error);
  g_assert_no_error (error);
  morango_db_exec (db,
    "INSERT INTO morango_recordmaxcounterbuffer (instance_id, counter, transfer_session_id, model_uuid) "
    "SELECT '" FIXTURE_MIXED_R1 "', 7, transfer_session_id, model_uuid FROM morango_buffer", &error);
  g_assert_no_error (error);
  morango_db_exec (db,
    "INSERT INTO morango_recordmaxcounterbuffer (instance_id, counter, transfer_session_id, model_uuid) "
    "SELECT '" FIXTURE_MIXED_R2 "', 6, transfer_session_id, model_uuid FROM morango_buffer "
    "WHERE json_extract (serialized, '$.i') % 4 = 2", &error);
  g_assert_no_error (error);

  /* Another session holding one of the same records stays untouched. */
  morango_db_exec (db,
    "INSERT INTO morango_buffer (profile, serialized, last_saved_instance, last_saved_counter,"
    "  partition, source_id, model_name, transfer_session_id, model_uuid) "
    "VALUES ('facilitydata', '{}', '" FIXTURE_MIXED_R1 "', 1, 'd:u1', 'src', 'm', '" FIXTURE_MIXED_OTHER "', printf ('%032x', 1))",
    &error);
  g_assert_no_error (error);
  morango_db_exec (db,
    "INSERT INTO morango_recordmaxcounterbuffer (instance_id, counter, transfer_session_id, model_uuid) "
    "VALUES ('" FIXTURE_MIXED_R1 "', 1, '" FIXTURE_MIXED_OTHER "', printf ('%032x', 1))", &error);
  g_assert_no_error (error);
  morango_db_exec (db,
    "INSERT INTO morango_databasemaxcounter (instance_id, partition, counter) "
    "VALUES ('" FIXTURE_MIXED_R1 "', 'd', 3), ('" FIXTURE_MIXED_R2 "', 'd', 5)", &error);
  g_assert_no_error (error);
  morango_transaction_commit (tx, &error);
  g_assert_no_error (error);
}

MorangoStore *
fixture_mixed_store_at (const char *path,
                        gint64      n,
                        gboolean    all_new)
{
  MorangoStore *store = fixture_store_new_at (path, "facilitydata", FIXTURE_MIXED_LOCAL, 100);

  fill_mixed (morango_store_get_db (store), n, all_new);
  return store;
}

gint64
fixture_counter (MorangoStore *store)
{
  g_autoptr(GError) error = NULL;
  gint64 counter = -1;

  morango_instance_get_counter (morango_store_get_db (store),
                                morango_store_get_instance_id (store), &counter, &error);
  g_assert_no_error (error);
  return counter;
}

MorangoFilter *
fixture_filter_from_json (JsonNode *node)
{
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *a = json_node_get_array (node);
      g_autoptr(GPtrArray) entries = g_ptr_array_new ();

      for (guint i = 0; i < json_array_get_length (a); i++)
        g_ptr_array_add (entries, (gpointer) json_array_get_string_element (a, i));
      return morango_filter_new_from_entries ((const char * const *) entries->pdata, entries->len);
    }
  return morango_filter_parse (json_node_get_string (node));
}

static void
dmc_raise (GHashTable *rows,
           const char *instance_id,
           const char *partition,
           gint64      counter)
{
  char *key = g_strdup_printf ("%s\t%s", instance_id, partition);
  gpointer old = NULL;

  if (counter <= 0)
    {
      g_free (key);
      return;
    }
  if (g_hash_table_lookup_extended (rows, key, NULL, &old) && GPOINTER_TO_SIZE (old) >= (gsize) counter)
    {
      g_free (key);
      return;
    }
  g_hash_table_insert (rows, key, GSIZE_TO_POINTER ((gsize) counter));
}

JsonArray *
fixture_expected_dmc (JsonArray     *before,
                      JsonArray     *python_after,
                      JsonObject    *sender_fsic,
                      MorangoFilter *filter)
{
  g_autoptr(GHashTable) rows = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  JsonArray *out = json_array_new ();
  GHashTableIter iter;
  gpointer key, value;

  for (guint i = 0; i < json_array_get_length (python_after); i++)
    {
      JsonObject *row = json_array_get_object_element (python_after, i);

      dmc_raise (rows, json_object_get_string_member (row, "instance_id"),
                 json_object_get_string_member (row, "partition"),
                 json_object_get_int_member (row, "counter"));
    }
  /* Only rows Python kept can have been lowered. */
  for (guint i = 0; before != NULL && i < json_array_get_length (before); i++)
    {
      JsonObject *row = json_array_get_object_element (before, i);
      g_autofree char *k = g_strdup_printf ("%s\t%s", json_object_get_string_member (row, "instance_id"),
                                            json_object_get_string_member (row, "partition"));

      if (g_hash_table_contains (rows, k))
        dmc_raise (rows, json_object_get_string_member (row, "instance_id"),
                   json_object_get_string_member (row, "partition"),
                   json_object_get_int_member (row, "counter"));
    }
  if (sender_fsic != NULL && json_object_has_member (sender_fsic, "super"))
    {
      JsonObject *super_ = json_object_get_object_member (sender_fsic, "super");
      g_autoptr(GList) parts = json_object_get_members (super_);

      for (GList *p = parts; p; p = p->next)
        for (guint e = 0; e < morango_filter_get_n_entries (filter); e++)
          {
            JsonObject *counters = json_object_get_object_member (super_, p->data);
            g_autoptr(GList) instances = json_object_get_members (counters);

            if (!morango_partition_has_prefix (morango_filter_get_entry (filter, e), p->data))
              continue;
            for (GList *x = instances; x; x = x->next)
              dmc_raise (rows, x->data, morango_filter_get_entry (filter, e),
                         json_object_get_int_member (counters, x->data));
          }
    }

  g_hash_table_iter_init (&iter, rows);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      g_auto(GStrv) parts = g_strsplit (key, "\t", 2);
      JsonObject *row = json_object_new ();

      json_object_set_string_member (row, "instance_id", parts[0]);
      json_object_set_string_member (row, "partition", parts[1]);
      json_object_set_int_member (row, "counter", (gint64) GPOINTER_TO_SIZE (value));
      json_array_add_object_element (out, row);
    }
  return out;
}

void
fixture_assert_same_text (const char *got,
                          const char *expected)
{
  const char *a = got, *b = expected;

  /* A hand-made scan: g_strsplit() searches the rest of the text for
   * every line, which sanitizers make quadratic. */
  while (*a != '\0' || *b != '\0')
    {
      gsize la = 0, lb = 0;

      while (a[la] != '\0' && a[la] != '\n')
        la++;
      while (b[lb] != '\0' && b[lb] != '\n')
        lb++;
      if (la != lb || memcmp (a, b, la) != 0)
        {
          g_autofree char *line_a = g_strndup (a, la);
          g_autofree char *line_b = g_strndup (b, lb);

          g_assert_cmpstr (line_a, ==, line_b);
        }
      a += la + (a[la] == '\n');
      b += lb + (b[lb] == '\n');
    }
}

/* ---- cancelling a stage ---- */

/* The largest number of records between two reports a stage may leave. */
#define MAX_STEP 10000

static void
probe_cancel (FixtureProbe   *probe,
              MorangoMonitor *monitor,
              gint64          done)
{
  if (g_atomic_int_compare_and_exchange (&probe->cancelled, 0, 1))
    {
      probe->done_at_cancel = done;
      morango_monitor_cancel (monitor);
    }
}

static void
probe_progress (MorangoMonitor        *monitor,
                const MorangoProgress *p,
                gpointer               user_data)
{
  FixtureProbe *probe = user_data;

  if (g_atomic_int_get (&probe->cancelled))
    {
      probe->reports_after_cancel++;
      return;
    }
  g_assert_cmpstr (p->stage, ==, probe->stage);
  g_assert_cmpint (p->done, >=, probe->done);
  g_assert_cmpint (p->bytes, >=, 0);
  probe->max_step = MAX (probe->max_step, p->done - probe->done);
  probe->done = p->done;
  if (++probe->reports == probe->cancel_at_report ||
      (probe->cancel_at_done >= 0 && p->done >= probe->cancel_at_done))
    probe_cancel (probe, monitor, p->done);
}

static gboolean
probe_fault (MorangoMonitor  *monitor,
             const char      *point,
             gint64           done,
             gpointer         user_data,
             GError         **error)
{
  FixtureProbe *probe = user_data;

  if (probe->cancel_in_statement >= 0 && done >= probe->cancel_in_statement &&
      g_str_equal (point, "statement"))
    probe_cancel (probe, monitor, done);
  return TRUE;
}

MorangoMonitor *
fixture_probe_monitor (FixtureProbe *probe)
{
  MorangoMonitor *monitor = morango_monitor_new (NULL);

  if (probe->interval > 0)
    morango_monitor_set_interval (monitor, probe->interval);
  morango_monitor_set_progress_func (monitor, probe_progress, probe, NULL);
  morango_monitor_set_fault_func (monitor, probe_fault, probe, NULL);
  return monitor;
}

/* One run that must succeed; returns its probe's final count. */
static gint64
run_whole (const char       *stage,
           FixtureStageFunc  run,
           gpointer          data,
           guint            *reports)
{
  FixtureProbe probe = { .stage = stage, .cancel_at_done = -1, .cancel_in_statement = -1 };
  g_autoptr(MorangoMonitor) monitor = fixture_probe_monitor (&probe);
  g_autoptr(GError) error = NULL;

  g_assert_true (run (data, monitor, &error));
  g_assert_no_error (error);
  g_assert_cmpint (probe.max_step, <=, MAX_STEP);
  /* The first report and the last, at least. */
  g_assert_cmpuint (probe.reports, >=, 2);
  if (reports != NULL)
    *reports = probe.reports;
  return probe.done;
}

void
fixture_check_cancels (const char        *stage,
                       FixtureStageFunc   run,
                       FixtureDumpFunc    dump,
                       gpointer           reference,
                       gpointer           subject,
                       gint64             min_records)
{
  g_autofree char *before = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *after = NULL;
  guint n_reports = 0;
  gint64 n_done;

  g_assert_cmpint (MORANGO_MONITOR_DEFAULT_INTERVAL, <=, MAX_STEP);
  gint64 t0;

  before = dump (subject);
  t0 = g_get_monotonic_time ();
  n_done = run_whole (stage, run, reference, &n_reports);
  g_assert_cmpint (n_done, >=, min_records);
  g_test_message ("%s: %" G_GINT64_FORMAT " records in %.3f s, %u reports", stage, n_done,
                  (g_get_monotonic_time () - t0) / 1e6, n_reports);
  expected = dump (reference);

  for (guint how = 0; how < 3; how++)
    {
      FixtureProbe probe = { .stage = stage, .cancel_at_done = -1, .cancel_in_statement = -1 };
      g_autoptr(MorangoMonitor) monitor = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *now = NULL;

      switch (how)
        {
        case 0:
          probe.interval = 1;
          probe.cancel_at_report = 1;
          break;
        case 1:
          /* Every record is reported: the one after the cancel must
           * stop the stage, not be reported. */
          probe.interval = 1;
          probe.cancel_at_done = n_done / 2;
          break;
        default:
          probe.cancel_in_statement = n_done / 2;
          break;
        }
      monitor = fixture_probe_monitor (&probe);
      t0 = g_get_monotonic_time ();
      g_assert_false (run (subject, monitor, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_test_message ("%s cancelled %s after %" G_GINT64_FORMAT " records: %.3f s", stage,
                      how == 0 ? "at the first report" : how == 1 ? "at a middle report"
                                                                  : "inside a statement",
                      probe.done_at_cancel, (g_get_monotonic_time () - t0) / 1e6);
      g_assert_true (g_atomic_int_get (&probe.cancelled));
      g_assert_cmpuint (probe.reports_after_cancel, ==, 0);
      g_assert_cmpint (probe.max_step, <=, MAX_STEP);
      if (how == 1)
        g_assert_cmpint (probe.done_at_cancel, >, 0);
      if (how >= 1)
        g_assert_cmpint (probe.done_at_cancel, <, n_done);
      now = dump (subject);
      fixture_assert_same_text (now, before);
    }

  /* Nothing of the cancelled runs is left: the next one does it all. */
  g_assert_cmpint (run_whole (stage, run, subject, NULL), ==, n_done);
  after = dump (subject);
  fixture_assert_same_text (after, expected);
}
