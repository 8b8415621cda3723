/* test-db.c: the SQLite layer
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE   /* memmem */
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "morango-db.h"
#include "morango-monitor-private.h"
#include "morango-test-util.h"

static char *
file_digest (const char *path)
{
  g_autofree char *contents = NULL;
  gsize len = 0;

  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) contents, len);
}

static void
test_create_and_reopen (void)
{
  g_autofree char *dir = morango_test_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "a.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoDb) db = NULL;
  GStatBuf st;
  gint64 n = 0;
  gboolean found = FALSE;

  db = morango_db_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (morango_db_get_schema_version (db), ==, MORANGO_DB_SCHEMA_VERSION);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  g_assert_true (morango_db_execute (db, &error,
                                     "INSERT INTO morango_deletedmodels (id, profile) VALUES (?, ?)",
                                     "ss", "0123456789abcdef0123456789abcdef", "p"));
  g_assert_no_error (error);
  g_clear_object (&db);

  db = morango_db_open (path, &error);
  g_assert_no_error (error);
  g_assert_true (morango_db_query_int64 (db, &n, &found, &error,
                                         "SELECT count(*) FROM morango_deletedmodels WHERE profile = ?",
                                         "s", "p"));
  g_assert_true (found);
  g_assert_cmpint (n, ==, 1);
}

static void
test_bound_values_are_data (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoDb) db = morango_db_open (":memory:", &error);
  const char *evil = "x'); DROP TABLE morango_store; --";
  g_autofree char *back = NULL;

  g_assert_no_error (error);
  g_assert_true (morango_db_execute (db, &error,
                                     "INSERT INTO morango_deletedmodels (id, profile) VALUES (?, ?)",
                                     "ss", evil, evil));
  g_assert_true (morango_db_query_text (db, &back, &error,
                                        "SELECT profile FROM morango_deletedmodels WHERE id = ?", "s", evil));
  g_assert_cmpstr (back, ==, evil);
  g_assert_true (morango_db_exec (db, "SELECT count(*) FROM morango_store", &error));
  g_assert_no_error (error);
}

static void
test_transactions_nest_and_roll_back (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoDb) db = morango_db_open (":memory:", &error);
  gint64 n = -1;

  {
    g_autoptr(MorangoTransaction) outer = morango_transaction_begin (db, NULL, &error);

    g_assert_true (morango_db_execute (db, &error, "INSERT INTO morango_meta VALUES (?, ?)", "ss", "a", "1"));
    {
      g_autoptr(MorangoTransaction) inner = morango_transaction_begin (db, NULL, &error);

      g_assert_true (morango_db_execute (db, &error, "INSERT INTO morango_meta VALUES (?, ?)", "ss", "b", "2"));
      /* dropped without a commit: only b goes */
    }
    g_assert_true (morango_transaction_commit (outer, &error));
  }
  g_assert_true (morango_db_query_int64 (db, &n, NULL, &error, "SELECT count(*) FROM morango_meta", ""));
  g_assert_cmpint (n, ==, 1);

  {
    g_autoptr(MorangoTransaction) tx = morango_transaction_begin (db, NULL, &error);

    g_assert_true (morango_db_execute (db, &error, "INSERT INTO morango_meta VALUES (?, ?)", "ss", "c", "3"));
  }
  g_assert_true (morango_db_query_int64 (db, &n, NULL, &error, "SELECT count(*) FROM morango_meta", ""));
  g_assert_cmpint (n, ==, 1);
  g_assert_false (morango_db_in_transaction (db));

  /* A constraint failure is a clear error. */
  g_assert_false (morango_db_execute (db, &error, "INSERT INTO morango_meta VALUES (?, ?)", "ss", "a", "x"));
  g_assert_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_CONSTRAINT);
}

static int
secure_delete_of (MorangoDb *db)
{
  sqlite3_stmt *stmt = NULL;
  int on;

  /* Not through the statement cache: the pragma acts when compiled. */
  g_assert_cmpint (sqlite3_prepare_v2 (morango_db_get_handle (db), "PRAGMA secure_delete", -1,
                                       &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  on = sqlite3_column_int (stmt, 0);
  sqlite3_finalize (stmt);
  return on;
}

static gboolean
image_contains (MorangoDb  *db,
                const char *text)
{
  sqlite3_int64 size = 0;
  unsigned char *image = sqlite3_serialize (morango_db_get_handle (db), "main", &size, 0);
  gboolean found;

  g_assert_nonnull (image);
  found = memmem (image, size, text, strlen (text)) != NULL;
  sqlite3_free (image);
  return found;
}

/* Deleting buffer copies skips zeroing; every other deletion after it
 * still wipes what it deletes, where this SQLite wipes at all. */
static void
test_delete_copies_keeps_wiping (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoDb) db = morango_db_open (":memory:", &error);
  const char *secret = "secret-of-a-hard-deleted-record";
  const char *copy = "copy-of-a-record-in-the-buffer";

  g_assert_no_error (error);
  if (!secure_delete_of (db))
    {
      g_test_skip ("this SQLite is built not to zero deleted content");
      return;
    }
  g_assert_true (morango_db_execute (db, &error,
                                     "INSERT INTO morango_deletedmodels (id, profile) "
                                     "VALUES ('a', ?), ('b', ?)", "ss", secret, copy));
  g_assert_true (image_contains (db, secret));

  g_assert_true (morango_db_delete_copies (db, &error,
                                           "DELETE FROM morango_deletedmodels WHERE id = ?",
                                           "s", "b"));
  g_assert_no_error (error);
  g_assert_cmpint (secure_delete_of (db), ==, 1);

  g_assert_true (morango_db_execute (db, &error,
                                     "DELETE FROM morango_deletedmodels WHERE id = ?", "s", "a"));
  g_assert_no_error (error);
  g_assert_false (image_contains (db, secret));
}

/* The history and buffer tables as schema version 4 had them, with
 * AUTOINCREMENT ids, and rows in them, one history buffer pair twice;
 * the store with its dirty_bit column and partial index, one of its two
 * rows dirty; none of the tables later versions add. */
static const char schema_4_tables[] =
  "DROP TABLE morango_peer; DROP TABLE morango_sync_history;"
  "DROP TABLE morango_account_scope; DROP TABLE morango_account;"
  "DROP TABLE morango_store_pending;"
  "ALTER TABLE morango_store ADD COLUMN dirty_bit integer NOT NULL DEFAULT 0;"
  "CREATE INDEX idx_morango_deserialize ON morango_store(profile, model_name, partition, dirty_bit) "
  "  WHERE dirty_bit = 1;"
  "INSERT INTO morango_store (id, profile, last_saved_instance, last_saved_counter, partition,"
  "  source_id, model_name, dirty_bit) "
  "  VALUES ('s1', 'p', 'i1', 3, 'a', 's', 'm', 1), ('s2', 'p', 'i1', 3, 'b', 's', 'm', 0);"
  "DROP TABLE morango_recordmaxcounter; DROP TABLE morango_buffer;"
  "DROP TABLE morango_recordmaxcounterbuffer;"
  "CREATE TABLE morango_recordmaxcounter ("
  "  id integer PRIMARY KEY AUTOINCREMENT, instance_id char(32) NOT NULL, counter integer NOT NULL,"
  "  store_model_id char(32) NOT NULL REFERENCES morango_store(id),"
  "  UNIQUE (store_model_id, instance_id));"
  "CREATE INDEX morango_rmc_instance ON morango_recordmaxcounter(instance_id);"
  "CREATE TABLE morango_buffer ("
  "  id integer PRIMARY KEY AUTOINCREMENT, profile varchar(40) NOT NULL,"
  "  serialized text NOT NULL DEFAULT '', deleted integer NOT NULL DEFAULT 0,"
  "  hard_deleted integer NOT NULL DEFAULT 0, last_saved_instance char(32) NOT NULL,"
  "  last_saved_counter integer NOT NULL, partition text NOT NULL, source_id varchar(96) NOT NULL,"
  "  model_name varchar(40) NOT NULL, conflicting_serialized_data text NOT NULL DEFAULT '',"
  "  _self_ref_fk varchar(32) NOT NULL DEFAULT '',"
  "  transfer_session_id char(32) NOT NULL REFERENCES morango_transfersession(id),"
  "  model_uuid char(32) NOT NULL, UNIQUE (transfer_session_id, model_uuid));"
  "CREATE TABLE morango_recordmaxcounterbuffer ("
  "  id integer PRIMARY KEY AUTOINCREMENT, instance_id char(32) NOT NULL, counter integer NOT NULL,"
  "  transfer_session_id char(32) NOT NULL REFERENCES morango_transfersession(id),"
  "  model_uuid char(32) NOT NULL);"
  "CREATE INDEX morango_rmcb_ts ON morango_recordmaxcounterbuffer(transfer_session_id, model_uuid);"
  "INSERT INTO morango_recordmaxcounter (id, instance_id, counter, store_model_id) "
  "  VALUES (7, 'i1', 3, 's1'), (9, 'i2', 4, 's1');"
  "INSERT INTO morango_buffer (id, profile, serialized, last_saved_instance, last_saved_counter,"
  "  partition, source_id, model_name, transfer_session_id, model_uuid) "
  "  VALUES (5, 'p', '{}', 'i1', 3, 'a', 's', 'm', 't1', 's1');"
  "INSERT INTO morango_recordmaxcounterbuffer (id, instance_id, counter, transfer_session_id, model_uuid) "
  "  VALUES (11, 'i1', 3, 't1', 's1'), (12, 'i2', 2, 't1', 's1'), (13, 'i2', 6, 't1', 's1');"
  "PRAGMA user_version = 4;";

/* A database of schema version 4 goes through the migrations that copy
 * the history and buffer tables (5: no AUTOINCREMENT; 6: the histories
 * keyed WITHOUT ROWID) and move the store's dirty bits (7): every row
 * survives, the buffer keeps its ids, the constraints and the indexes
 * queries use come along, the history buffer refuses a pair it already
 * holds, and the dirty store row is the one left pending. */
static void
test_migration_keeps_rows (void)
{
  g_autofree char *dir = morango_test_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "m.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoDb) db = morango_db_open (path, &error);
  g_autofree char *text = NULL;
  sqlite3 *raw = NULL;
  gint64 n = 0;

  g_assert_no_error (error);
  g_clear_object (&db);
  g_assert_cmpint (sqlite3_open (path, &raw), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (raw, schema_4_tables, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (raw);

  db = morango_db_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (morango_db_get_schema_version (db), ==, MORANGO_DB_SCHEMA_VERSION);
  g_assert_true (morango_db_query_text (db, &text, &error,
    "SELECT group_concat (x, ' ') FROM ("
    "  SELECT * FROM (SELECT store_model_id || ':' || instance_id || ':' || counter AS x "
    "    FROM morango_recordmaxcounter ORDER BY store_model_id, instance_id) UNION ALL "
    "  SELECT id || ':' || model_uuid || ':' || transfer_session_id FROM morango_buffer UNION ALL "
    "  SELECT * FROM (SELECT model_uuid || ':' || instance_id || ':' || counter "
    "    FROM morango_recordmaxcounterbuffer ORDER BY transfer_session_id, model_uuid, instance_id))",
    ""));
  /* The pair listed twice keeps its higher counter. */
  g_assert_cmpstr (text, ==, "s1:i1:3 s1:i2:4 5:s1:t1 s1:i1:3 s1:i2:6");
  g_clear_pointer (&text, g_free);
  g_assert_true (morango_db_query_text (db, &text, &error,
    "SELECT group_concat (x, ' ') FROM (SELECT id || ':' || profile || ':' || model_name "
    "  AS x FROM morango_store_pending ORDER BY id)", ""));
  g_assert_cmpstr (text, ==, "s1:p:m");
  g_clear_pointer (&text, g_free);
  g_assert_true (morango_db_query_int64 (db, &n, NULL, &error,
    "SELECT count(*) FROM pragma_table_info ('morango_store') WHERE name = 'dirty_bit'", ""));
  g_assert_cmpint (n, ==, 0);
  g_assert_true (morango_db_query_int64 (db, &n, NULL, &error,
    "SELECT count(*) FROM morango_store", ""));
  g_assert_cmpint (n, ==, 2);
  /* A WITHOUT ROWID table is its own key index: what is left to
   * maintain besides the three tables is one index each for the history
   * and the buffer. */
  g_assert_true (morango_db_query_text (db, &text, &error,
    "SELECT group_concat (name, ' ') FROM (SELECT name FROM sqlite_schema WHERE type = 'index' "
    "  AND tbl_name IN ('morango_recordmaxcounter', 'morango_buffer', 'morango_recordmaxcounterbuffer') "
    "  ORDER BY name)", ""));
  g_assert_cmpstr (text, ==, "morango_rmc_instance sqlite_autoindex_morango_buffer_1");
  /* No table of the three is left with an AUTOINCREMENT counter, and the
   * two histories have no rowid. */
  g_assert_true (morango_db_query_int64 (db, &n, NULL, &error,
    "SELECT count(*) FROM sqlite_schema WHERE name LIKE 'morango_recordmaxcounter%' "
    "  AND type = 'table' AND sql LIKE '%WITHOUT ROWID'", ""));
  g_assert_cmpint (n, ==, 2);
  g_assert_true (morango_db_query_int64 (db, &n, NULL, &error,
    "SELECT count(*) FROM sqlite_schema WHERE sql LIKE '%AUTOINCREMENT%' "
    "  AND name IN ('morango_recordmaxcounter', 'morango_buffer', 'morango_recordmaxcounterbuffer')", ""));
  g_assert_cmpint (n, ==, 0);
  /* Unique constraints came along, and the history buffer has one now. */
  g_assert_false (morango_db_execute (db, &error,
    "INSERT INTO morango_recordmaxcounter (instance_id, counter, store_model_id) VALUES ('i1', 1, 's1')", ""));
  g_assert_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_CONSTRAINT);
  g_clear_error (&error);
  g_assert_false (morango_db_execute (db, &error,
    "INSERT INTO morango_buffer (profile, last_saved_instance, last_saved_counter, partition,"
    "  source_id, model_name, transfer_session_id, model_uuid) "
    "  VALUES ('p', 'i1', 3, 'a', 's', 'm', 't1', 's1')", ""));
  g_assert_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_CONSTRAINT);
  g_clear_error (&error);
  g_assert_false (morango_db_execute (db, &error,
    "INSERT INTO morango_recordmaxcounterbuffer (instance_id, counter, transfer_session_id, model_uuid) "
    "  VALUES ('i1', 9, 't1', 's1')", ""));
  g_assert_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_CONSTRAINT);
}

static void
test_refuses_garbage (void)
{
  g_autofree char *dir = morango_test_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "garbage.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *before = NULL, *after = NULL;
  g_autoptr(MorangoDb) db = NULL;
  GString *junk = g_string_new (NULL);

  for (guint i = 0; i < 8192; i++)
    g_string_append_c (junk, (char) (i * 7 + 3));
  g_assert_true (g_file_set_contents (path, junk->str, junk->len, NULL));
  g_assert_cmpint (g_chmod (path, 0600), ==, 0);
  g_string_free (junk, TRUE);
  before = file_digest (path);

  db = morango_db_open (path, &error);
  g_assert_null (db);
  g_assert_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_CORRUPT);
  g_assert_nonnull (strstr (error->message, "not a Morango Sync database"));
  after = file_digest (path);
  g_assert_cmpstr (before, ==, after);
  g_assert_false (g_file_test (g_strconcat (path, "-wal", NULL), G_FILE_TEST_EXISTS));
}

static void
test_refuses_foreign_sqlite (void)
{
  g_autofree char *dir = morango_test_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "other.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *before = NULL, *after = NULL;
  g_autoptr(MorangoDb) db = NULL;
  sqlite3 *h = NULL;

  g_assert_cmpint (sqlite3_open (path, &h), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (h, "CREATE TABLE notes (t text); INSERT INTO notes VALUES ('mine')",
                                 NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (h);
  g_assert_cmpint (g_chmod (path, 0600), ==, 0);
  before = file_digest (path);

  db = morango_db_open (path, &error);
  g_assert_null (db);
  g_assert_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_NOT_MORANGO);
  g_assert_nonnull (strstr (error->message, "left untouched"));
  after = file_digest (path);
  g_assert_cmpstr (before, ==, after);
}

static void
test_refuses_damaged_pages (void)
{
  g_autofree char *dir = morango_test_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "damaged.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoDb) db = NULL;
  g_autofree char *contents = NULL;
  gsize len = 0, page;
  MorangoTransaction *tx;

  db = morango_db_open (path, &error);
  g_assert_no_error (error);
  tx = morango_transaction_begin (db, NULL, &error);
  for (int i = 0; i < 2000; i++)
    {
      g_autofree char *id = g_strdup_printf ("%032x", i);
      g_assert_true (morango_db_execute (db, &error,
                                         "INSERT INTO morango_deletedmodels (id, profile) VALUES (?, ?)",
                                         "ss", id, "some profile name that takes space"));
    }
  g_assert_true (morango_transaction_commit (tx, &error));
  morango_transaction_free (tx);
  g_assert_true (morango_db_exec (db, "PRAGMA wal_checkpoint(TRUNCATE)", &error));
  g_clear_object (&db);

  /* Scribble over the third page (the header says how big pages are). */
  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  page = ((guchar) contents[16] << 8) | (guchar) contents[17];
  if (page == 1)
    page = 65536;
  g_assert_cmpuint (len, >, 3 * page);
  for (gsize i = 2 * page; i < 3 * page; i++)
    contents[i] = (char) 0xa5;
  g_assert_true (g_file_set_contents (path, contents, len, NULL));
  g_assert_cmpint (g_chmod (path, 0600), ==, 0);

  db = morango_db_open (path, &error);
  g_assert_null (db);
  g_assert_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_CORRUPT);
  g_test_message ("%s", error->message);
}

/* SQLite 3.40's quick_check calls every row of the history table (a
 * WITHOUT ROWID table whose key is not its first columns) a NULL; a
 * folder with history opens all the same, while a real NULL in a NOT
 * NULL column still counts as damage. */
static void
test_reopens_history (void)
{
  g_autofree char *dir = morango_test_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "history.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoDb) db = NULL;
  sqlite3 *raw = NULL;

  db = morango_db_open (path, &error);
  g_assert_no_error (error);
  g_assert_true (morango_db_execute (db, &error,
                                     "INSERT INTO morango_store (id, profile, last_saved_instance, "
                                     "  last_saved_counter, partition, source_id, model_name) "
                                     "VALUES ('00000000000000000000000000000001', 'p', "
                                     "  '00000000000000000000000000000002', 1, 'x', 's', 'm')", ""));
  g_assert_true (morango_db_execute (db, &error,
                                     "INSERT INTO morango_recordmaxcounter (instance_id, counter, store_model_id) "
                                     "VALUES ('00000000000000000000000000000002', 1, '00000000000000000000000000000001')",
                                     ""));
  g_assert_no_error (error);
  g_clear_object (&db);

  db = morango_db_open (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (db);
  g_clear_object (&db);

  /* A table whose NOT NULL column does hold a NULL. */
  g_assert_cmpint (sqlite3_open (path, &raw), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (raw,
                                 "CREATE TABLE t_damaged (a, b);"
                                 "INSERT INTO t_damaged VALUES (NULL, 1);"
                                 "PRAGMA writable_schema = ON;"
                                 "UPDATE sqlite_schema SET sql = 'CREATE TABLE t_damaged (a NOT NULL, b)' "
                                 "  WHERE name = 't_damaged';"
                                 "PRAGMA writable_schema = OFF;", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (raw);
  db = morango_db_open (path, &error);
  g_assert_null (db);
  g_assert_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_CORRUPT);
}

static gint64
count_meta (MorangoDb *db)
{
  g_autoptr(GError) error = NULL;
  gint64 n = -1;

  g_assert_true (morango_db_query_int64 (db, &n, NULL, &error, "SELECT count(*) FROM morango_meta", ""));
  g_assert_no_error (error);
  return n;
}

static gboolean
fail_at_commit (MorangoMonitor  *monitor,
                const char      *point,
                gint64           done,
                gpointer         user_data,
                GError         **error)
{
  if (g_strcmp0 (point, "commit") != 0)
    return TRUE;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "commit refused by the test");
  return FALSE;
}

/* A COMMIT that fails rolls back its own level, once: the caller does not
 * roll back again, the outer level keeps its work, and nothing CRITICAL
 * is logged (criticals abort a test). */
static void
test_transaction_commit_fails_inside_outer (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoDb) db = morango_db_open (":memory:", &error);
  g_autoptr(MorangoMonitor) refusing = morango_monitor_new (NULL);
  gint64 before = count_meta (db);

  morango_monitor_set_fault_func (refusing, fail_at_commit, NULL, NULL);
  {
    g_autoptr(MorangoTransaction) outer = morango_transaction_begin (db, NULL, &error);

    g_assert_nonnull (outer);
    g_assert_true (morango_db_execute (db, &error, "INSERT INTO morango_meta VALUES (?, ?)", "ss", "outer", "1"));
    {
      g_autoptr(MorangoTransaction) inner = morango_transaction_begin (db, refusing, &error);

      g_assert_nonnull (inner);
      g_assert_true (morango_db_execute (db, &error, "INSERT INTO morango_meta VALUES (?, ?)", "ss", "inner", "2"));
      g_assert_false (morango_transaction_commit (inner, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
      g_clear_error (&error);
      /* inner is dropped here: already ended, it must not roll back again */
    }
    g_assert_true (morango_db_in_transaction (db));
    g_assert_cmpint (count_meta (db), ==, before + 1);
    g_assert_true (morango_db_execute (db, &error, "INSERT INTO morango_meta VALUES (?, ?)", "ss", "outer2", "3"));
    g_assert_true (morango_transaction_commit (outer, &error));
    g_assert_no_error (error);
  }
  g_assert_false (morango_db_in_transaction (db));
  g_assert_cmpint (count_meta (db), ==, before + 2);
}

/* A real COMMIT failure (a deferred foreign key) ends the transaction
 * and leaves the connection usable; dropping a transaction that was never
 * committed rolls it back. */
static void
test_transaction_real_commit_failure (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoDb) db = morango_db_open (":memory:", &error);
  gint64 before = count_meta (db);

  g_assert_true (morango_db_exec (db, "PRAGMA foreign_keys = ON; "
                                      "CREATE TEMP TABLE p (id INTEGER PRIMARY KEY); "
                                      "CREATE TEMP TABLE c (pid INTEGER REFERENCES p (id) "
                                      "  DEFERRABLE INITIALLY DEFERRED)", &error));
  {
    g_autoptr(MorangoTransaction) tx = morango_transaction_begin (db, NULL, &error);

    g_assert_true (morango_db_execute (db, &error, "INSERT INTO morango_meta VALUES (?, ?)", "ss", "x", "1"));
    g_assert_true (morango_db_execute (db, &error, "INSERT INTO c VALUES (?)", "i", (gint64) 42));
    g_assert_false (morango_transaction_commit (tx, &error));
    g_assert_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_CONSTRAINT);
    g_clear_error (&error);
  }
  g_assert_false (morango_db_in_transaction (db));
  g_assert_cmpint (count_meta (db), ==, before);

  {
    g_autoptr(MorangoTransaction) tx = morango_transaction_begin (db, NULL, &error);

    g_assert_true (morango_db_execute (db, &error, "INSERT INTO morango_meta VALUES (?, ?)", "ss", "y", "2"));
    /* dropped without a commit */
  }
  g_assert_false (morango_db_in_transaction (db));
  g_assert_cmpint (count_meta (db), ==, before);
}

/* A cancel reaches into one long statement: it stops with
 * G_IO_ERROR_CANCELLED and its level rolls back. */
static void
test_transaction_cancel_long_statement (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoDb) db = morango_db_open (":memory:", &error);
  g_autoptr(MorangoMonitor) monitor = morango_monitor_new (NULL);
  gint64 before = count_meta (db);
  int calls = 0;

  morango_test_monitor_cancel_in_statement (monitor, &calls);
  {
    g_autoptr(MorangoTransaction) tx = morango_transaction_begin (db, monitor, &error);

    g_assert_nonnull (tx);
    g_assert_true (morango_db_execute (db, &error, "INSERT INTO morango_meta VALUES (?, ?)", "ss", "z", "1"));
    /* About ten million rows: far longer than one look at the monitor. */
    g_assert_false (morango_db_execute (db, &error,
                                        "INSERT INTO morango_meta "
                                        "WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                                        "  WHERE i < 10000000) SELECT 'k' || i, i FROM n", ""));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_clear_error (&error);
  }
  g_assert_cmpint (calls, ==, 1);
  g_assert_false (morango_db_in_transaction (db));
  g_assert_cmpint (count_meta (db), ==, before);

  /* A transaction begun on a cancelled monitor does not start. */
  g_assert_null (morango_transaction_begin (db, monitor, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* SQLite ends the whole transaction when a write is interrupted, every
 * level of it.  The inner level's drop then logs nothing (warnings abort
 * a test), nothing more runs in the outer one (it would commit on its
 * own), and the outer commit fails cleanly. */
static void
test_transaction_cancel_nested_write (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoDb) db = morango_db_open (":memory:", &error);
  g_autoptr(MorangoMonitor) monitor = morango_monitor_new (NULL);
  gint64 before = count_meta (db);
  int calls = 0;

  morango_test_monitor_cancel_in_statement (monitor, &calls);
  {
    g_autoptr(MorangoTransaction) outer = morango_transaction_begin (db, NULL, &error);

    g_assert_true (morango_db_execute (db, &error, "INSERT INTO morango_meta VALUES (?, ?)", "ss", "o", "1"));
    {
      g_autoptr(MorangoTransaction) inner = morango_transaction_begin (db, monitor, &error);

      g_assert_nonnull (inner);
      g_assert_false (morango_db_execute (db, &error,
                                          "INSERT INTO morango_meta "
                                          "WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                                          "  WHERE i < 10000000) SELECT 'k' || i, i FROM n", ""));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_clear_error (&error);
    }
    g_assert_true (morango_db_in_transaction (db));
    g_assert_false (morango_db_execute (db, &error, "INSERT INTO morango_meta VALUES (?, ?)", "ss", "p", "2"));
    g_assert_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_FAILED);
    g_clear_error (&error);
    g_assert_false (morango_transaction_commit (outer, &error));
    g_assert_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_FAILED);
    g_clear_error (&error);
  }
  g_assert_cmpint (calls, ==, 1);
  g_assert_false (morango_db_in_transaction (db));
  g_assert_cmpint (count_meta (db), ==, before);
  /* The connection goes on as usual. */
  g_assert_true (morango_db_execute (db, &error, "INSERT INTO morango_meta VALUES (?, ?)", "ss", "q", "3"));
  g_assert_cmpint (count_meta (db), ==, before + 1);
}

typedef struct {
  GArray *done;
  gint64  total;
} Reports;

static void
record_progress (MorangoMonitor        *monitor,
                 const MorangoProgress *p,
                 gpointer               user_data)
{
  Reports *r = user_data;

  g_assert_cmpstr (p->stage, ==, "count");
  r->total = p->total;
  g_array_append_val (r->done, p->done);
}

/* Reports come at the interval, are monotonic, and stop once cancelled. */
static void
test_monitor_reports (void)
{
  g_autoptr(MorangoMonitor) monitor = morango_monitor_new (NULL);
  g_autoptr(GError) error = NULL;
  Reports r = { g_array_new (FALSE, FALSE, sizeof (gint64)), 0 };
  guint n;

  morango_monitor_set_interval (monitor, 100);
  morango_monitor_set_progress_func (monitor, record_progress, &r, NULL);
  morango_monitor_stage_begin (monitor, "count", 1000);
  for (int i = 0; i < 1000; i++)
    g_assert_true (morango_monitor_advance (monitor, 1, 10, &error));
  morango_monitor_stage_end (monitor);
  g_assert_cmpint (r.total, ==, 1000);
  /* 0, 100, ..., 1000 from advance, 1000 again from the end */
  g_assert_cmpuint (r.done->len, ==, 12);
  for (guint i = 1; i < r.done->len; i++)
    g_assert_cmpint (g_array_index (r.done, gint64, i), >=, g_array_index (r.done, gint64, i - 1));

  g_array_set_size (r.done, 0);
  morango_monitor_stage_begin (monitor, "count", -1);
  for (int i = 0; i < 150; i++)
    g_assert_true (morango_monitor_advance (monitor, 1, 0, &error));
  morango_monitor_cancel (monitor);
  n = r.done->len;
  g_assert_false (morango_monitor_advance (monitor, 50, 0, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  morango_monitor_stage_end (monitor);
  g_assert_cmpuint (r.done->len, ==, n);
  g_array_unref (r.done);

  /* A NULL monitor is no monitor. */
  g_assert_true (morango_monitor_advance (NULL, 1, 0, NULL));
  g_assert_true (morango_monitor_check (NULL, "x", 1, NULL));
}

/* ---- one thread at a time ---- */

static gpointer
run_in_thread (GThreadFunc func,
               gpointer    data)
{
  GThread *thread = g_thread_new ("test-db-other", func, data);

  return g_thread_join (thread);
}

static void
expect_wrong_thread (guint n)
{
  for (guint i = 0; i < n; i++)
    g_test_expect_message ("morango-db", G_LOG_LEVEL_CRITICAL, "*used by thread*");
}

typedef struct {
  MorangoDb    *db;
  sqlite3_stmt *stmt;   /* prepared by the owner */
} Borrowed;

/* Every entry point that reaches the connection refuses a thread it was
 * not handed to, and says so; the owner goes on as if nothing happened. */
static gpointer
use_without_hand_over (gpointer data)
{
  Borrowed *b = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoTransaction) tx = NULL;
  gint64 n = -1;

  g_assert_false (morango_db_exec (b->db, "SELECT 1", &error));
  g_assert_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_WRONG_THREAD);
  g_clear_error (&error);
  g_assert_null (morango_db_prepare (b->db, "SELECT 1", &error));
  g_assert_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_WRONG_THREAD);
  g_clear_error (&error);
  g_assert_false (morango_db_query_int64 (b->db, &n, NULL, &error, "SELECT count(*) FROM morango_meta", ""));
  g_assert_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_WRONG_THREAD);
  g_clear_error (&error);
  g_assert_false (morango_db_bind (b->db, b->stmt, &error, "s", "a"));
  g_assert_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_WRONG_THREAD);
  g_clear_error (&error);
  g_assert_cmpint (morango_db_step (b->db, b->stmt, &error), ==, -1);
  g_assert_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_WRONG_THREAD);
  g_clear_error (&error);
  tx = morango_transaction_begin (b->db, NULL, &error);
  g_assert_null (tx);
  g_assert_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_WRONG_THREAD);
  g_clear_error (&error);
  /* Taking it is no better than using it. */
  g_assert_false (morango_db_acquire (b->db));
  return NULL;
}

static void
test_thread_without_hand_over (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoDb) db = morango_db_open (":memory:", &error);
  Borrowed b = { db, NULL };

  g_assert_no_error (error);
  b.stmt = morango_db_prepare (db, "SELECT count(*) FROM morango_meta WHERE key = ?", &error);
  g_assert_nonnull (b.stmt);

  expect_wrong_thread (6);
  g_test_expect_message ("morango-db", G_LOG_LEVEL_CRITICAL, "*acquired by thread*still owns it*");
  run_in_thread (use_without_hand_over, &b);
  g_test_assert_expected_messages ();

  /* The owner's connection and statement are as they were. */
  g_assert_true (morango_db_bind (db, b.stmt, &error, "s", "a"));
  g_assert_cmpint (morango_db_step (db, b.stmt, &error), ==, SQLITE_ROW);
  g_assert_no_error (error);
  sqlite3_reset (b.stmt);
  g_assert_true (morango_db_execute (db, &error, "INSERT INTO morango_meta VALUES (?, ?)", "ss", "x", "1"));
  g_assert_no_error (error);
}

static gpointer
write_after_acquire (gpointer data)
{
  MorangoDb *db = data;
  g_autoptr(GError) error = NULL;

  g_assert_true (morango_db_acquire (db));
  {
    g_autoptr(MorangoTransaction) tx = morango_transaction_begin (db, NULL, &error);

    g_assert_nonnull (tx);
    g_assert_true (morango_db_execute (db, &error, "INSERT INTO morango_meta VALUES (?, ?)",
                                       "ss", "from-thread", "1"));
    g_assert_true (morango_transaction_commit (tx, &error));
  }
  g_assert_no_error (error);
  morango_db_release (db);
  return NULL;
}

/* Handed over, the connection works on the other thread and comes back;
 * released and not acquired again, it belongs to no thread. */
static void
test_thread_hand_over (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoDb) db = morango_db_open (":memory:", &error);
  gint64 before = count_meta (db);

  morango_db_release (db);
  run_in_thread (write_after_acquire, db);

  g_test_expect_message ("morango-db", G_LOG_LEVEL_CRITICAL, "*released and not acquired again*");
  g_assert_false (morango_db_exec (db, "SELECT 1", &error));
  g_test_assert_expected_messages ();
  g_assert_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_WRONG_THREAD);
  g_clear_error (&error);

  g_assert_true (morango_db_acquire (db));
  g_assert_cmpint (count_meta (db), ==, before + 1);

  /* A transaction is not handed over. */
  {
    g_autoptr(MorangoTransaction) tx = morango_transaction_begin (db, NULL, &error);

    g_test_expect_message ("morango-db", G_LOG_LEVEL_CRITICAL, "*released with a transaction open*");
    morango_db_release (db);
    g_test_assert_expected_messages ();
    g_assert_true (morango_transaction_commit (tx, &error));
  }
}

typedef struct {
  MorangoDb *reader;
  gint64     n;
  gint64     hex;
  gint64     doubled;
} ReaderRun;

static gpointer
read_after_acquire (gpointer data)
{
  ReaderRun *r = data;
  g_autoptr(GError) error = NULL;

  g_assert_true (morango_db_acquire (r->reader));
  g_assert_true (morango_db_query_int64 (r->reader, &r->n, NULL, &error,
                                         "SELECT count(*) FROM morango_meta", ""));
  g_assert_true (morango_db_query_int64 (r->reader, &r->hex, NULL, &error,
                                         "SELECT morango_hex32 (?)", "s",
                                         "0123456789abcdef0123456789abcdef"));
  g_assert_true (morango_db_query_int64 (r->reader, &r->doubled, NULL, &error,
                                         "SELECT test_double (21) = 42", ""));
  g_assert_no_error (error);
  morango_db_release (r->reader);
  return NULL;
}

static void
sql_double (sqlite3_context  *ctx,
            int               argc,
            sqlite3_value   **argv)
{
  int *calls = sqlite3_user_data (ctx);

  g_atomic_int_inc (calls);
  sqlite3_result_int64 (ctx, sqlite3_value_int64 (argv[0]) * 2);
}

static void
count_destroy (gpointer data)
{
  int *calls = data;

  *calls = -1;
}

/* A reader is a MorangoDb that reads what the writer committed, has the
 * writer's SQL functions, refuses to write, and moves between threads
 * like any connection; a function's data lives as long as the last
 * connection that has it. */
static void
test_reader (void)
{
  g_autofree char *dir = morango_test_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "r.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoDb) memory = morango_db_open (":memory:", &error);
  g_autoptr(MorangoDb) db = morango_db_open (path, &error);
  ReaderRun r = { NULL, };
  int calls = 0;
  gint64 one = 0;

  g_assert_no_error (error);
  g_assert_null (morango_db_open_reader (memory, &error));
  g_assert_no_error (error);

  g_assert_true (morango_db_register_function (db, "test_double", 1, sql_double, &calls,
                                               count_destroy, &error));
  g_assert_true (morango_db_get_function_data (db, "test_double") == &calls);
  g_assert_null (morango_db_get_function_data (db, "no_such_function"));
  g_test_expect_message ("morango-db", G_LOG_LEVEL_CRITICAL, "*already registered*");
  g_assert_false (morango_db_register_function (db, "test_double", 1, sql_double, &calls,
                                                NULL, &error));
  g_test_assert_expected_messages ();
  g_clear_error (&error);
  g_assert_true (morango_db_execute (db, &error, "INSERT INTO morango_meta VALUES (?, ?)", "ss", "w", "1"));

  r.reader = morango_db_open_reader (db, &error);
  g_assert_no_error (error);
  g_assert_nonnull (r.reader);
  g_assert_true (morango_db_is_read_only (r.reader));
  g_assert_false (morango_db_is_read_only (db));

  /* It refuses to write, and has no transactions. */
  g_assert_false (morango_db_execute (r.reader, &error, "INSERT INTO morango_meta VALUES (?, ?)",
                                      "ss", "r", "1"));
  g_assert_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_READ_ONLY);
  g_clear_error (&error);
  g_test_expect_message ("morango-db", G_LOG_LEVEL_CRITICAL, "*reading connection*");
  g_assert_null (morango_transaction_begin (r.reader, NULL, &error));
  g_test_assert_expected_messages ();
  g_assert_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_READ_ONLY);
  g_clear_error (&error);

  /* Handed to a reading thread, it reads there. */
  morango_db_release (r.reader);
  run_in_thread (read_after_acquire, &r);
  g_assert_true (morango_db_acquire (r.reader));
  g_assert_cmpint (r.n, ==, count_meta (db));
  g_assert_cmpint (r.hex, ==, 1);
  g_assert_cmpint (r.doubled, ==, 1);
  g_assert_cmpint (calls, ==, 1);

  /* The writer keeps the function after its reader is gone; the data
   * goes with the last of them. */
  g_clear_object (&r.reader);
  g_assert_true (morango_db_query_int64 (db, &one, NULL, &error, "SELECT test_double (1) = 2", ""));
  g_assert_cmpint (one, ==, 1);
  g_assert_cmpint (calls, ==, 2);
  g_clear_object (&db);
  g_assert_cmpint (calls, ==, -1);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/db/create-and-reopen", test_create_and_reopen);
  g_test_add_func ("/db/bound-values-are-data", test_bound_values_are_data);
  g_test_add_func ("/db/transactions", test_transactions_nest_and_roll_back);
  g_test_add_func ("/db/transaction/commit-fails-inside-outer", test_transaction_commit_fails_inside_outer);
  g_test_add_func ("/db/transaction/real-commit-failure", test_transaction_real_commit_failure);
  g_test_add_func ("/db/transaction/cancel-long-statement", test_transaction_cancel_long_statement);
  g_test_add_func ("/db/transaction/cancel-nested-write", test_transaction_cancel_nested_write);
  g_test_add_func ("/db/monitor/reports", test_monitor_reports);
  g_test_add_func ("/db/thread/without-hand-over", test_thread_without_hand_over);
  g_test_add_func ("/db/thread/hand-over", test_thread_hand_over);
  g_test_add_func ("/db/reader", test_reader);
  g_test_add_func ("/db/delete-copies-keeps-wiping", test_delete_copies_keeps_wiping);
  g_test_add_func ("/db/migration-keeps-rows", test_migration_keeps_rows);
  g_test_add_func ("/db/refuses-garbage", test_refuses_garbage);
  g_test_add_func ("/db/refuses-foreign-sqlite", test_refuses_foreign_sqlite);
  g_test_add_func ("/db/refuses-damaged-pages", test_refuses_damaged_pages);
  g_test_add_func ("/db/reopens-history", test_reopens_history);
  return g_test_run ();
}
