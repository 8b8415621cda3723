/* test-data.c: application rows as JSON lines (morango-data)
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "morango-data.h"
#include "morango-serialize.h"
#include "morango-store.h"
#include "morango-test-util.h"
#include "store-fixtures.h"

#define BOB   "6b8bd6d2bfa158c4aaab779338a6c3a9"   /* uuid5 of "bob": his id (§10.2) */
#define ZOE   "9bfe728201d55e22ae768ec3d3fa3553"   /* uuid5 of "zoë" */
#define SLOG  "0cba71a3638609d7be8bf26d1286bec6"   /* bob's summary log of cccc… (§10.2) */
#define ILOG  "d4a94affdfa4d165cdb7504337fa3a97"   /* bob's interaction log, source dddd… */
#define FAC1  "612c166fa89890aa4cae8e6d37c32ec9"   /* sha2_uuid ("", name, "facility") */
#define FAC2  "927550df4e8bd98b784ea1a3419d3ffe"
#define FAC3  "b5ceb024345aaf73e7a9b76df50368d5"
#define WING  "294b3ea272eb209adcedf8932bfecd54"
#define CCC   "cccccccccccccccccccccccccccccccc"
#define DDD   "dddddddddddddddddddddddddddddddd"

typedef struct {
  char         *dir;
  MorangoStore *a;
  MorangoStore *b;
} Fixture;

static MorangoStore *
open_store (Fixture    *f,
            const char *name,
            guint64     seed)
{
  g_autofree char *path = g_build_filename (f->dir, name, NULL);
  g_autoptr(MorangoHostInfo) host = morango_host_info_new (name, "");
  g_autoptr(MorangoRandom) random = morango_random_new_seeded (seed);
  g_autoptr(MorangoProfile) profile = NULL;
  g_autoptr(GError) error = NULL;
  MorangoStore *store;

  profile = morango_profile_new_by_name ("morango-testapp", &error);
  g_assert_no_error (error);
  store = morango_store_open (path, profile, host, random, &error);
  g_assert_no_error (error);
  return store;
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  f->dir = morango_test_tmpdir ();
  f->a = open_store (f, "a.db", 11);
  f->b = open_store (f, "b.db", 12);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_clear_object (&f->a);
  g_clear_object (&f->b);
  g_free (f->dir);
}

static gboolean
import_len (MorangoStore           *store,
            const char             *text,
            gssize                  len,
            MorangoMonitor         *monitor,
            MorangoDataImportStats *stats,
            GError                **error)
{
  g_autoptr(GInputStream) in = g_memory_input_stream_new_from_data (text, len < 0 ? (gssize) strlen (text) : len, NULL);

  return morango_data_import (morango_store_get_app (store), in, monitor, stats, error);
}

static gboolean
import (MorangoStore           *store,
        const char             *text,
        MorangoDataImportStats *stats,
        GError                **error)
{
  return import_len (store, text, -1, NULL, stats, error);
}

static void
import_ok (MorangoStore *store,
           const char   *text)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (import (store, text, NULL, &error));
  g_assert_no_error (error);
}

static char *
export (MorangoStore       *store,
        const char * const *models)
{
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
  g_autoptr(GError) error = NULL;
  guint64 n = 0;

  g_assert_true (morango_data_export (morango_store_get_app (store), models, out, NULL, &n, &error));
  g_assert_no_error (error);
  g_assert_true (g_output_stream_write_all (out, "", 1, NULL, NULL, NULL));
  g_assert_true (g_output_stream_close (out, NULL, NULL));
  return g_memory_output_stream_steal_data (G_MEMORY_OUTPUT_STREAM (out));
}

static gint64
count (MorangoStore *store,
       const char   *model)
{
  g_autoptr(GError) error = NULL;
  gint64 n = -1;

  g_assert_true (morango_data_count (morango_store_get_app (store), model, &n, &error));
  g_assert_no_error (error);
  return n;
}

static gint64
query (MorangoStore *store,
       const char   *sql)
{
  g_autoptr(GError) error = NULL;
  gint64 n = -1;

  g_assert_true (morango_db_query_int64 (morango_store_get_db (store), &n, NULL, &error, sql, ""));
  g_assert_no_error (error);
  return n;
}

/* Everything an import may change: the application rows with their
 * dirty bits, and the deletion queues. */
static char *
digest (MorangoStore *store)
{
  static const char * const queries[] = {
    "SELECT * FROM facility_profile_myuser ORDER BY id",
    "SELECT * FROM facility_profile_interactionlog ORDER BY id",
    "SELECT * FROM facility_profile_summarylog ORDER BY id",
    "SELECT * FROM facility_profile_facility ORDER BY id",
    "SELECT * FROM morango_deletedmodels ORDER BY id",
    "SELECT * FROM morango_harddeletedmodels ORDER BY id",
  };

  return fixture_digest_queries (morango_store_get_db (store), queries, G_N_ELEMENTS (queries));
}

/* Written the way a person would: keys in any order, spaces, ids left
 * out, a datetime with an offset, escapes, a CRLF line, blank lines;
 * parents before children. */
static const char input[] =
  "{\"model\": \"facility\", \"fields\": {\"name\": \"Fac 3\", \"now_date\": \"2024-01-02T03:04:05Z\"}}\n"
  "\n"
  "{\"fields\": {\"name\": \"Wing\", \"parent\": \"" FAC3 "\", \"now_date\": \"2024-01-02 03:04:05.5\"}, \"model\": \"facility\"}\r\n"
  "{\"model\": \"facility\", \"fields\": {\"name\": \"Fac 1\", \"parent_id\": \"" WING "\", "
    "\"now_date\": \"2024-10-24T14:34:56.789123+02:00\", \"id\": \"" FAC1 "\"}}\n"
  "{\"model\": \"facility\", \"fields\": {\"name\": \"Fac 2\", \"now_date\": \"2024-01-02T03:04:05.000001Z\"}}\n"
  "{\"model\": \"user\", \"fields\": {\"username\": \"bob\", \"password\": \"pbkdf2_sha256$x\", \"is_staff\": true, "
    "\"last_login\": \"2024-10-24T12:34:56Z\"}}\n"
  "   \n"
  "{\"model\": \"user\", \"fields\": {\"username\": \"zo\\u00eb\", \"password\": \"\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87 \xe2\x9c\x93 "
    "\\u0085\\u0007\\u007f\\t\\\"\\\\/\\ud83d\\ude00\"}}\n"
  "{\"model\": \"contentsummarylog\", \"fields\": {\"user\": \"" BOB "\", \"content_id\": \"" CCC "\"}}\n"
  "{\"model\": \"contentinteractionlog\", \"fields\": {\"user_id\": \"" BOB "\", \"content_id\": \"" CCC "\", "
    "\"_morango_source_id\": \"" DDD "\"}}";

/* Profile order (user, interaction log, summary log, facility), rows by
 * id but for facilities, which come parents first (Fac 2 and Fac 3,
 * then Wing, then Fac 1), fields in the model's order, compact, text as
 * it is but for JSON's escapes and DEL and C1 controls. */
static const char expected[] =
  "{\"model\":\"user\",\"fields\":{\"password\":\"pbkdf2_sha256$x\",\"last_login\":\"2024-10-24T12:34:56Z\","
    "\"id\":\"" BOB "\",\"_morango_source_id\":\"" BOB "\",\"_morango_partition\":\"" BOB ":user\","
    "\"is_staff\":true,\"is_superuser\":false,\"username\":\"bob\"}}\n"
  "{\"model\":\"user\",\"fields\":{\"password\":\"\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87 \xe2\x9c\x93 "
    "\\u0085\\u0007\\u007f\\t\\\"\\\\/\xf0\x9f\x98\x80\",\"last_login\":null,"
    "\"id\":\"" ZOE "\",\"_morango_source_id\":\"" ZOE "\",\"_morango_partition\":\"" ZOE ":user\","
    "\"is_staff\":false,\"is_superuser\":false,\"username\":\"zo\xc3\xab\"}}\n"
  "{\"model\":\"contentinteractionlog\",\"fields\":{\"id\":\"" ILOG "\",\"_morango_source_id\":\"" DDD "\","
    "\"_morango_partition\":\"" BOB ":user:interaction\",\"user_id\":\"" BOB "\",\"content_id\":\"" CCC "\"}}\n"
  "{\"model\":\"contentsummarylog\",\"fields\":{\"id\":\"" SLOG "\",\"_morango_source_id\":\"" BOB ":" CCC "\","
    "\"_morango_partition\":\"" BOB ":user:summary\",\"user_id\":\"" BOB "\",\"content_id\":\"" CCC "\"}}\n"
  "{\"model\":\"facility\",\"fields\":{\"id\":\"" FAC2 "\",\"_morango_source_id\":\"Fac 2\",\"_morango_partition\":\"\","
    "\"name\":\"Fac 2\",\"now_date\":\"2024-01-02T03:04:05Z\",\"parent_id\":null}}\n"
  "{\"model\":\"facility\",\"fields\":{\"id\":\"" FAC3 "\",\"_morango_source_id\":\"Fac 3\",\"_morango_partition\":\"\","
    "\"name\":\"Fac 3\",\"now_date\":\"2024-01-02T03:04:05Z\",\"parent_id\":null}}\n"
  "{\"model\":\"facility\",\"fields\":{\"id\":\"" WING "\",\"_morango_source_id\":\"Wing\",\"_morango_partition\":\"\","
    "\"name\":\"Wing\",\"now_date\":\"2024-01-02T03:04:05.500Z\",\"parent_id\":\"" FAC3 "\"}}\n"
  "{\"model\":\"facility\",\"fields\":{\"id\":\"" FAC1 "\",\"_morango_source_id\":\"Fac 1\",\"_morango_partition\":\"\","
    "\"name\":\"Fac 1\",\"now_date\":\"2024-10-24T12:34:56.789Z\",\"parent_id\":\"" WING "\"}}\n";

static void
test_round_trip (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  MorangoDataImportStats st = { 0 };
  g_autofree char *out_a = NULL;
  g_autofree char *out_b = NULL;
  g_autofree char *again = NULL;

  g_assert_true (import (f->a, input, &st, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (st.lines, ==, 10);
  g_assert_cmpuint (st.created, ==, 8);
  g_assert_cmpuint (st.updated, ==, 0);
  g_assert_cmpuint (st.deleted, ==, 0);
  g_assert_cmpuint (st.bad_line, ==, 0);
  out_a = export (f->a, NULL);
  fixture_assert_same_text (out_a, expected);

  /* The export, imported into an empty folder, gives the same bytes:
   * Fac 2's one microsecond was dropped on the way in, as a sync would
   * drop it, so nothing reads differently on the second folder. */
  import_ok (f->b, out_a);
  out_b = export (f->b, NULL);
  fixture_assert_same_text (out_b, expected);

  /* Imported again where the rows are: eight updates, nothing new. */
  g_assert_true (import (f->a, out_a, &st, &error));
  g_assert_cmpuint (st.created, ==, 0);
  g_assert_cmpuint (st.updated, ==, 8);
  again = export (f->a, NULL);
  fixture_assert_same_text (again, expected);
  g_assert_cmpint (count (f->a, "user"), ==, 2);
  g_assert_cmpint (count (f->a, "facility"), ==, 4);
  g_assert_cmpint (count (f->a, "contentsummarylog"), ==, 1);
  g_assert_cmpint (count (f->a, "contentinteractionlog"), ==, 1);
}

/* Two folders fed the same lines hold the same rows, whatever their
 * instance ids and random sources. */
static void
test_same_bytes (Fixture       *f,
                 gconstpointer  data)
{
  g_autofree char *out_a = NULL;
  g_autofree char *out_b = NULL;

  import_ok (f->a, input);
  import_ok (f->b, input);
  out_a = export (f->a, NULL);
  out_b = export (f->b, NULL);
  g_assert_cmpstr (out_a, ==, out_b);
  g_assert_cmpstr (morango_store_get_instance_id (f->a), !=, morango_store_get_instance_id (f->b));
}

static void
test_models (Fixture       *f,
             gconstpointer  data)
{
  const char * const users[] = { "user", NULL };
  const char * const logs[] = { "contentsummarylog", NULL };
  const char * const two[] = { "facility", "user", "facility", NULL };
  const char * const none[] = { NULL };
  const char * const bad[] = { "user", "nope", NULL };
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
  g_autoptr(GError) error = NULL;
  g_autofree char *u = NULL;
  g_autofree char *uf = NULL;
  g_autofree char *all = NULL;
  guint64 n = 99;

  import_ok (f->a, input);
  u = export (f->a, users);
  g_assert_true (g_str_has_prefix (expected, u));
  g_assert_cmpuint (strlen (u), >, 0);
  g_assert_null (strstr (u, "facility"));
  /* A selection, in profile order, each model once. */
  uf = export (f->a, two);
  g_assert_true (g_str_has_prefix (uf, u));
  g_assert_cmpstr (uf + strlen (u), ==, strstr (expected, "{\"model\":\"facility\""));
  {
    g_autofree char *l = export (f->a, logs);
    const char *start = strstr (expected, "{\"model\":\"contentsummarylog\"");
    g_autofree char *want = g_strndup (start, strstr (start, "{\"model\":\"facility\"") - start);

    g_assert_cmpstr (l, ==, want);
  }
  all = export (f->a, none);
  g_assert_cmpstr (all, ==, expected);

  /* An unknown model: nothing written. */
  g_assert_false (morango_data_export (morango_store_get_app (f->a), bad, out, NULL, &n, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_UNKNOWN_MODEL);
  g_assert_nonnull (strstr (error->message, "nope"));
  g_assert_cmpuint (n, ==, 0);
  g_assert_cmpuint (g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (out)), ==, 0);
  g_clear_error (&error);
  {
    gint64 c = 7;

    g_assert_false (morango_data_count (morango_store_get_app (f->a), "nope", &c, &error));
    g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_UNKNOWN_MODEL);
  }
}

/* Text that is not UTF-8 cannot be written as JSON: the export says
 * where it is.  Inside a caller's transaction the export reads what the
 * transaction sees. */
static void
test_export_edges (Fixture       *f,
                   gconstpointer  data)
{
  MorangoDb *db = morango_store_get_db (f->a);
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
  g_autoptr(GError) error = NULL;

  import_ok (f->a, input);
  {
    g_autoptr(MorangoTransaction) tx = morango_transaction_begin (db, NULL, &error);
    g_autofree char *inside = NULL;

    g_assert_no_error (error);
    g_assert_true (morango_db_execute (db, &error, "DELETE FROM facility_profile_facility", ""));
    inside = export (f->a, NULL);
    g_assert_null (strstr (inside, "facility"));
    g_assert_nonnull (strstr (inside, "\"model\":\"user\""));
    /* Dropped: rolled back. */
  }
  g_assert_cmpint (count (f->a, "facility"), ==, 4);

  g_assert_true (morango_db_execute (db, &error, "UPDATE facility_profile_myuser SET password = "
                                     "CAST (x'41ff' AS TEXT) WHERE id = ?", "s", ZOE));
  g_assert_no_error (error);
  g_assert_false (morango_data_export (morango_store_get_app (f->a), NULL, out, NULL, NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "“password”"));
  g_assert_nonnull (strstr (error->message, ZOE));
  g_assert_nonnull (strstr (error->message, "not UTF-8"));
  g_clear_error (&error);
  /* The snapshot was closed: writing works again. */
  import_ok (f->a, "{\"model\": \"user\", \"fields\": {\"id\": \"" ZOE "\", \"password\": \"ok\"}}");
}

typedef struct {
  const char *line;
  int         code;       /* MORANGO_ERROR code, or -1 for the db's constraint */
  const char *says;       /* part of the message */
} BadLine;

/* Each bad line comes third, after two good ones: the error names line
 * 3 and nothing of the file stays. */
static void
test_bad_lines (Fixture       *f,
                gconstpointer  data)
{
  static const BadLine cases[] = {
    { "{\"model\": \"user\", \"fields\": {\"username\": \"x\"", MORANGO_ERROR_INVALID, "not valid JSON" },
    { "{\"model\": \"user\", \"fields\": {}} {}", MORANGO_ERROR_INVALID, "not one JSON object" },
    { "[1, 2]", MORANGO_ERROR_INVALID, "not one JSON object" },
    { "{\"model\": 'user'}", MORANGO_ERROR_INVALID, "JSON" },
    { "{\"model\": \"nope\", \"fields\": {}}", MORANGO_ERROR_UNKNOWN_MODEL, "no model “nope”" },
    { "{\"fields\": {}}", MORANGO_ERROR_INVALID, "“model” is missing" },
    { "{\"model\": 3, \"fields\": {}}", MORANGO_ERROR_INVALID, "“model” must be a string" },
    { "{\"model\": \"user\"}", MORANGO_ERROR_INVALID, "“fields” is missing" },
    { "{\"model\": \"user\", \"fields\": [1]}", MORANGO_ERROR_INVALID, "“fields” must be an object" },
    { "{\"model\": \"user\", \"fields\": \"x\"}", MORANGO_ERROR_INVALID, "“fields” must be an object" },
    { "{\"model\": \"user\", \"model\": \"facility\", \"fields\": {}}", MORANGO_ERROR_INVALID, "“model” is given twice" },
    { "{\"model\": \"user\", \"fields\": {}, \"extra\": 1}", MORANGO_ERROR_INVALID, "unknown key “extra”" },
    { "{\"model\": \"user\", \"fields\": {\"username\": \"x\", \"nick\": \"y\"}}", MORANGO_ERROR_INVALID, "no field “nick”" },
    { "{\"model\": \"user\", \"fields\": {\"username\": \"x\", \"username\": \"y\"}}", MORANGO_ERROR_INVALID, "given twice" },
    { "{\"model\": \"contentsummarylog\", \"fields\": {\"user\": \"" BOB "\", \"user_id\": \"" BOB "\"}}", MORANGO_ERROR_INVALID, "given twice" },
    { "{\"model\": \"user\", \"fields\": {\"username\": 5, \"password\": \"p\"}}", MORANGO_ERROR_INVALID, "must be a string or null, not a number" },
    { "{\"model\": \"user\", \"fields\": {\"username\": \"x\", \"password\": \"p\", \"is_staff\": \"yes\"}}", MORANGO_ERROR_INVALID, "must be true or false, not a string" },
    { "{\"model\": \"user\", \"fields\": {\"username\": \"x\", \"password\": \"p\", \"is_staff\": 1}}", MORANGO_ERROR_INVALID, "must be true or false" },
    { "{\"model\": \"user\", \"fields\": {\"username\": {\"a\": 1}, \"password\": \"p\"}}", MORANGO_ERROR_INVALID, "not an object or array" },
    { "{\"model\": \"user\", \"fields\": {\"username\": \"x\", \"password\": \"p\", \"last_login\": \"yesterday\"}}", MORANGO_ERROR_VALIDATION, "invalid format" },
    { "{\"model\": \"user\", \"fields\": {\"username\": \"x\", \"password\": null}}", MORANGO_ERROR_VALIDATION, "cannot be null" },
    { "{\"model\": \"user\", \"fields\": {\"username\": \"x\", \"password\": \"p\", \"id\": null}}", MORANGO_ERROR_INVALID, "must be a string, not null" },
    /* Ids, partitions and source ids the rules do not give. */
    { "{\"model\": \"user\", \"fields\": {\"username\": \"x\", \"password\": \"p\", \"id\": \"" CCC "\"}}", MORANGO_ERROR_INVALID, "the rules of model “user” give" },
    { "{\"model\": \"facility\", \"fields\": {\"name\": \"Fac 2\", \"_morango_partition\": \"x\"}}", MORANGO_ERROR_INVALID, "“_morango_partition” is “x”" },
    { "{\"model\": \"contentsummarylog\", \"fields\": {\"user\": \"" BOB "\", \"content_id\": \"" CCC "\", "
      "\"_morango_partition\": \"" ZOE ":user:summary\"}}", MORANGO_ERROR_INVALID, "_morango_partition" },
    { "{\"model\": \"user\", \"fields\": {\"username\": \"x\", \"password\": \"p\", \"_morango_source_id\": \"\"}}", MORANGO_ERROR_INVALID, "_morango_source_id" },
    { "{\"model\": \"user\", \"fields\": {\"username\": \"x\", \"password\": \"p\", \"_morango_source_id\": \"not hex\"}}", MORANGO_ERROR_INVALID_SOURCE_ID, "32 lowercase hex" },
    /* On an existing row, the stored ones. */
    { "{\"model\": \"user\", \"fields\": {\"id\": \"" BOB "\", \"_morango_partition\": \"" BOB ":other\"}}", MORANGO_ERROR_INVALID, "never changes" },
    { "{\"model\": \"facility\", \"fields\": {\"id\": \"" FAC3 "\", \"_morango_source_id\": \"Fac 9\"}}", MORANGO_ERROR_INVALID, "never changes" },
    /* References and uniqueness. */
    { "{\"model\": \"contentsummarylog\", \"fields\": {\"user\": \"" ZOE "\"}}", MORANGO_ERROR_VALIDATION, "does not exist" },
    { "{\"model\": \"user\", \"fields\": {\"username\": \"bob\", \"password\": \"p\", \"_morango_source_id\": \"" CCC "\"}}", -1, "UNIQUE" },
    /* Deletions. */
    { "{\"model\": \"user\", \"id\": \"" ZOE "\", \"delete\": true}", MORANGO_ERROR_NOT_FOUND, ZOE },
    { "{\"model\": \"user\", \"id\": \"" BOB "\", \"delete\": false}", MORANGO_ERROR_INVALID, "“delete” can only be true" },
    { "{\"model\": \"user\", \"id\": \"" BOB "\", \"hard_delete\": 1}", MORANGO_ERROR_INVALID, "“hard_delete” can only be true" },
    { "{\"model\": \"user\", \"delete\": true}", MORANGO_ERROR_INVALID, "needs the “id”" },
    { "{\"model\": \"user\", \"id\": 5, \"delete\": true}", MORANGO_ERROR_INVALID, "needs the “id”" },
    { "{\"model\": \"user\", \"id\": \"" BOB "\", \"delete\": true, \"fields\": {}}", MORANGO_ERROR_INVALID, "takes no “fields”" },
    { "{\"model\": \"user\", \"id\": \"" BOB "\", \"fields\": {\"is_staff\": true}}", MORANGO_ERROR_INVALID, "goes with “delete”" },
    /* Bytes that are not text. */
    { "{\"model\": \"user\", \"fields\": {\"username\": \"\xff\"}}", MORANGO_ERROR_INVALID, "not UTF-8" },
  };
  const char *head =
    "{\"model\": \"user\", \"fields\": {\"username\": \"bob\", \"password\": \"p\"}}\n"
    "{\"model\": \"facility\", \"fields\": {\"name\": \"Fac 3\"}}\n";
  g_autofree char *before = NULL;

  /* Something there already, which must stay as it is. */
  import_ok (f->a, "{\"model\": \"user\", \"fields\": {\"username\": \"bob\", \"password\": \"old\"}}\n"
                   "{\"model\": \"facility\", \"fields\": {\"name\": \"Fac 3\"}}\n");
  before = digest (f->a);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = g_strconcat (head, cases[i].line, "\n{\"model\": \"facility\", \"fields\": {\"name\": \"Fac 2\"}}\n", NULL);
      g_autoptr(GError) error = NULL;
      g_autofree char *after = NULL;
      MorangoDataImportStats st = { 0 };

      g_autofree char *shown = g_strescape (cases[i].line, NULL);

      g_test_message ("case %u: %s", i, shown);
      g_assert_false (import (f->a, text, &st, &error));
      g_assert_nonnull (error);
      g_test_message ("→ %s", error->message);
      if (cases[i].code < 0)
        g_assert_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_CONSTRAINT);
      else
        g_assert_error (error, MORANGO_ERROR, cases[i].code);
      g_assert_true (g_str_has_prefix (error->message, "Line 3: "));
      g_assert_nonnull (strstr (error->message, cases[i].says));
      g_assert_cmpuint (st.bad_line, ==, 3);
      g_assert_cmpuint (st.lines, ==, 3);
      g_assert_cmpuint (st.created + st.updated + st.deleted, ==, 0);
      after = digest (f->a);
      g_assert_cmpstr (after, ==, before);
    }

  /* A NUL byte, and a line too long to hold. */
  {
    static const char nul[] = "{\"model\": \"facility\", \"fields\": {\"name\": \"Fac 2\"}}\n{\"model\"\0: 1}\n";
    g_autoptr(GError) error = NULL;
    MorangoDataImportStats st = { 0 };

    g_assert_false (import_len (f->a, nul, sizeof nul - 1, NULL, &st, &error));
    g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
    g_assert_cmpstr (error->message, ==, "Line 2: the line holds a NUL byte");
    g_assert_cmpuint (st.bad_line, ==, 2);
  }
  {
    gsize len = MORANGO_DATA_MAX_LINE + 1000;
    g_autofree char *huge = g_malloc (len + 1);
    g_autoptr(GError) error = NULL;
    MorangoDataImportStats st = { 0 };

    memset (huge, ' ', len);
    memcpy (huge, head, strlen (head));
    huge[len] = '\0';
    g_assert_false (import_len (f->a, huge, len, NULL, &st, &error));
    g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
    g_assert_nonnull (strstr (error->message, "Line 3: the line is longer than"));
    g_assert_cmpuint (st.bad_line, ==, 3);
  }
  {
    g_autofree char *after = digest (f->a);
    g_assert_cmpstr (after, ==, before);
  }
}

/* Updates: by the id in "fields", or by the id the rules compute; only
 * the given fields change. */
static void
test_update (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) bob = NULL;
  g_autoptr(JsonObject) fac = NULL;
  MorangoDataImportStats st = { 0 };

  import_ok (f->a, input);
  g_assert_true (morango_store_serialize (f->a, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (query (f->a, "SELECT count(*) FROM facility_profile_myuser WHERE _morango_dirty_bit"), ==, 0);

  g_assert_true (import (f->a,
                         "{\"model\": \"user\", \"fields\": {\"id\": \"" BOB "\", \"is_superuser\": true}}\n"
                         "{\"model\": \"facility\", \"fields\": {\"name\": \"Fac 3\", \"parent\": \"" FAC2 "\"}}\n",
                         &st, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (st.updated, ==, 2);
  g_assert_cmpuint (st.created, ==, 0);

  bob = morango_app_get (morango_store_get_app (f->a), "user", BOB, &error);
  g_assert_no_error (error);
  g_assert_true (json_object_get_boolean_member (bob, "is_superuser"));
  g_assert_true (json_object_get_boolean_member (bob, "is_staff"));   /* kept */
  g_assert_cmpstr (json_object_get_string_member (bob, "password"), ==, "pbkdf2_sha256$x");
  g_assert_true (json_object_get_boolean_member (bob, "_morango_dirty_bit"));
  fac = morango_app_get (morango_store_get_app (f->a), "facility", FAC3, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (fac, "parent_id"), ==, FAC2);
  g_assert_cmpstr (json_object_get_string_member (fac, "now_date"), ==, "2024-01-02T03:04:05Z");
  g_assert_true (json_object_get_boolean_member (fac, "_morango_dirty_bit"));
  /* Only those two. */
  g_assert_cmpint (query (f->a, "SELECT (SELECT count(*) FROM facility_profile_myuser WHERE _morango_dirty_bit) + "
                                "(SELECT count(*) FROM facility_profile_facility WHERE _morango_dirty_bit) + "
                                "(SELECT count(*) FROM facility_profile_summarylog WHERE _morango_dirty_bit)"), ==, 2);

  /* An update that breaks validation is refused like any other line. */
  g_assert_false (import (f->a, "{\"model\": \"user\", \"fields\": {\"id\": \"" BOB "\", \"username\": \"\"}}", &st, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_VALIDATION);
  g_assert_cmpuint (st.bad_line, ==, 1);
}

/* Deletions go through the C API: cascades, and the queues. */
static void
test_delete (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  MorangoDataImportStats st = { 0 };

  import_ok (f->a, input);
  g_assert_true (import (f->a,
                         "{\"model\": \"user\", \"id\": \"" BOB "\", \"delete\": true}\n"
                         "{\"model\": \"facility\", \"id\": \"" FAC2 "\", \"hard_delete\": true}\n"
                         "{\"model\": \"facility\", \"hard_delete\": true, \"delete\": true, \"id\": \"" FAC3 "\"}\n",
                         &st, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (st.deleted, ==, 3);
  g_assert_cmpint (count (f->a, "user"), ==, 1);
  g_assert_cmpint (count (f->a, "contentsummarylog"), ==, 0);
  g_assert_cmpint (count (f->a, "contentinteractionlog"), ==, 0);
  g_assert_cmpint (count (f->a, "facility"), ==, 0);   /* Wing and Fac 1 went with Fac 3 */
  /* bob, his two logs, and four facilities, queued; two deletions hard
   * (FAC2, then FAC3 with its two descendants). */
  g_assert_cmpint (query (f->a, "SELECT count(*) FROM morango_deletedmodels"), ==, 7);
  g_assert_cmpint (query (f->a, "SELECT count(*) FROM morango_harddeletedmodels"), ==, 4);
  g_assert_cmpint (query (f->a, "SELECT count(*) FROM morango_deletedmodels WHERE id = '" SLOG "'"), ==, 1);
  g_assert_cmpint (query (f->a, "SELECT count(*) FROM morango_harddeletedmodels WHERE id = '" BOB "'"), ==, 0);

  /* Deleted rows are not exported. */
  {
    g_autofree char *out = export (f->a, NULL);
    g_assert_null (strstr (out, BOB "\""));
    g_assert_nonnull (strstr (out, ZOE));
  }
}

/* Rows an import writes are serialized like rows the C API writes:
 * dirty, then stamped with the instance counter, which moves on. */
static void
test_change_tracking (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  gint64 first, second;

  import_ok (f->a, input);
  g_assert_cmpint (query (f->a, "SELECT count(*) FROM facility_profile_facility WHERE _morango_dirty_bit"), ==, 4);
  g_assert_cmpint (query (f->a, "SELECT count(*) FROM facility_profile_myuser WHERE _morango_dirty_bit"), ==, 2);
  g_assert_cmpint (query (f->a, "SELECT count(*) FROM morango_store"), ==, 0);
  g_assert_true (morango_store_serialize (f->a, NULL, NULL, &error));
  g_assert_no_error (error);
  first = fixture_counter (f->a);
  g_assert_cmpint (query (f->a, "SELECT count(*) FROM morango_store"), ==, 8);
  {
    g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM morango_store WHERE last_saved_counter = %"
                                            G_GINT64_FORMAT " AND last_saved_instance = '%s'",
                                            first, morango_store_get_instance_id (f->a));
    g_assert_cmpint (query (f->a, sql), ==, 8);
  }
  g_assert_cmpint (query (f->a, "SELECT count(*) FROM morango_recordmaxcounter"), ==, 8);

  /* One line changes one record: only it moves to the next counter. */
  import_ok (f->a, "{\"model\": \"user\", \"fields\": {\"id\": \"" ZOE "\", \"is_staff\": true}}\n");
  g_assert_cmpint (query (f->a, "SELECT count(*) FROM facility_profile_myuser WHERE _morango_dirty_bit"), ==, 1);
  g_assert_true (morango_store_serialize (f->a, NULL, NULL, &error));
  g_assert_no_error (error);
  second = fixture_counter (f->a);
  g_assert_cmpint (second, >, first);
  g_assert_cmpint (query (f->a, "SELECT last_saved_counter FROM morango_store WHERE id = '" ZOE "'"), ==, second);
  g_assert_cmpint (query (f->a, "SELECT last_saved_counter FROM morango_store WHERE id = '" BOB "'"), ==, first);
  g_assert_cmpint (query (f->a, "SELECT count(*) FROM morango_store WHERE serialized LIKE '%\"is_staff\": true%' "
                                "AND id = '" ZOE "'"), ==, 1);

  /* A deletion reaches the store at the next serialization. */
  import_ok (f->a, "{\"model\": \"contentsummarylog\", \"id\": \"" SLOG "\", \"delete\": true}\n");
  g_assert_true (morango_store_serialize (f->a, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (query (f->a, "SELECT deleted FROM morango_store WHERE id = '" SLOG "'"), ==, 1);
}

/* A monitor sees one record a line; a failure or a cancel at any line
 * leaves nothing. */
static void
test_monitor (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *before = digest (f->a);
  FixtureProbe probe = { .stage = "data-import", .interval = 1, .cancel_at_done = -1,
                         .cancel_in_statement = -1 };
  MorangoDataImportStats st = { 0 };

  {
    g_autoptr(MorangoMonitor) failing = morango_test_monitor_failing_at ("data-import", 4);
    g_autofree char *after = NULL;

    g_assert_false (import_len (f->a, input, -1, failing, &st, &error));
    g_assert_error (error, MORANGO_TEST_ERROR, MORANGO_TEST_ERROR_INJECTED);
    g_assert_cmpuint (st.bad_line, ==, 0);
    g_clear_error (&error);
    after = digest (f->a);
    g_assert_cmpstr (after, ==, before);
  }
  {
    g_autoptr(MorangoMonitor) monitor = NULL;
    g_autofree char *after = NULL;

    probe.cancel_at_report = 3;
    monitor = fixture_probe_monitor (&probe);
    g_assert_false (import_len (f->a, input, -1, monitor, &st, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_clear_error (&error);
    g_assert_cmpuint (probe.reports_after_cancel, ==, 0);
    after = digest (f->a);
    g_assert_cmpstr (after, ==, before);
  }
  {
    FixtureProbe whole = { .stage = "data-import", .interval = 1, .cancel_at_done = -1,
                           .cancel_in_statement = -1 };
    g_autoptr(MorangoMonitor) monitor = fixture_probe_monitor (&whole);

    g_assert_true (import_len (f->a, input, -1, monitor, &st, &error));
    g_assert_no_error (error);
    g_assert_cmpint (whole.done, ==, 10);
  }
}

/* ---- streaming ---- */

/* An input stream that makes its lines as it is read, so that a test
 * can tell how far the reader is ahead of the import. */
#define TEST_TYPE_LINES (test_lines_get_type ())
G_DECLARE_FINAL_TYPE (TestLines, test_lines, TEST, LINES, GInputStream)

struct _TestLines
{
  GInputStream parent_instance;
  guint        n;        /* lines to make */
  guint        next;
  GString     *pending;
  guint64      given;    /* bytes handed out */
};

G_DEFINE_TYPE (TestLines, test_lines, G_TYPE_INPUT_STREAM)

static gssize
test_lines_read (GInputStream  *stream,
                 void          *buffer,
                 gsize          count,
                 GCancellable  *cancellable,
                 GError       **error)
{
  TestLines *self = TEST_LINES (stream);
  gsize n;

  while (self->pending->len < count && self->next < self->n)
    {
      /* Summary logs of bob, content ids 0…n. */
      g_string_append_printf (self->pending,
                              "{\"model\":\"contentsummarylog\",\"fields\":{\"user_id\":\"" BOB "\","
                              "\"content_id\":\"%032x\"}}\n", self->next);
      self->next++;
    }
  n = MIN (count, self->pending->len);
  memcpy (buffer, self->pending->str, n);
  g_string_erase (self->pending, 0, n);
  self->given += n;
  return n;
}

static void
test_lines_finalize (GObject *object)
{
  g_string_free (TEST_LINES (object)->pending, TRUE);
  G_OBJECT_CLASS (test_lines_parent_class)->finalize (object);
}

static void
test_lines_class_init (TestLinesClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_lines_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = test_lines_read;
}

static void
test_lines_init (TestLines *self)
{
  self->pending = g_string_new (NULL);
}

typedef struct {
  TestLines *lines;
  guint64    most_ahead;
  guint      reports;
} Ahead;

static void
on_progress (MorangoMonitor        *monitor,
             const MorangoProgress *progress,
             gpointer               user_data)
{
  Ahead *ahead = user_data;

  ahead->reports++;
  if (ahead->lines->given - progress->bytes > ahead->most_ahead)
    ahead->most_ahead = ahead->lines->given - progress->bytes;
}

/* Counts and sizes the writes an export makes. */
#define TEST_TYPE_SINK (test_sink_get_type ())
G_DECLARE_FINAL_TYPE (TestSink, test_sink, TEST, SINK, GOutputStream)

struct _TestSink
{
  GOutputStream parent_instance;
  guint         writes;
  gsize         largest;
  guint64       total;
  GChecksum    *sum;
};

G_DEFINE_TYPE (TestSink, test_sink, G_TYPE_OUTPUT_STREAM)

static gssize
test_sink_write (GOutputStream  *stream,
                 const void     *buffer,
                 gsize           count,
                 GCancellable   *cancellable,
                 GError        **error)
{
  TestSink *self = TEST_SINK (stream);

  self->writes++;
  self->largest = MAX (self->largest, count);
  self->total += count;
  g_checksum_update (self->sum, buffer, count);
  return count;
}

static void
test_sink_finalize (GObject *object)
{
  g_checksum_free (TEST_SINK (object)->sum);
  G_OBJECT_CLASS (test_sink_parent_class)->finalize (object);
}

static void
test_sink_class_init (TestSinkClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_sink_finalize;
  G_OUTPUT_STREAM_CLASS (klass)->write_fn = test_sink_write;
}

static void
test_sink_init (TestSink *self)
{
  self->sum = g_checksum_new (G_CHECKSUM_SHA256);
}

/* 100k lines go in while the reader stays within a few chunks of the
 * line being applied, and come out in bounded writes. */
static void
test_streaming (Fixture       *f,
                gconstpointer  data)
{
  const guint n = 100000;
  g_autoptr(TestLines) lines = g_object_new (TEST_TYPE_LINES, NULL);
  g_autoptr(MorangoMonitor) monitor = morango_monitor_new (NULL);
  g_autoptr(TestSink) sink = g_object_new (TEST_TYPE_SINK, NULL);
  g_autoptr(GError) error = NULL;
  MorangoDataImportStats st = { 0 };
  Ahead ahead = { lines, 0, 0 };
  guint64 rows = 0;

  import_ok (f->a, "{\"model\": \"user\", \"fields\": {\"username\": \"bob\", \"password\": \"p\"}}\n");
  lines->n = n;
  morango_monitor_set_progress_func (monitor, on_progress, &ahead, NULL);
  g_assert_true (morango_data_import (morango_store_get_app (f->a), G_INPUT_STREAM (lines), monitor, &st, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (st.created, ==, n);
  g_assert_cmpint (count (f->a, "contentsummarylog"), ==, n);
  g_assert_cmpuint (ahead.reports, >=, n / MORANGO_MONITOR_DEFAULT_INTERVAL);
  g_assert_cmpuint (ahead.most_ahead, <=, 2 * 64 * 1024);
  g_test_message ("reader ahead by at most %" G_GUINT64_FORMAT " bytes", ahead.most_ahead);

  g_assert_true (morango_data_export (morango_store_get_app (f->a), NULL, G_OUTPUT_STREAM (sink), NULL, &rows, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (rows, ==, n + 1);
  g_assert_cmpuint (sink->writes, >, 100);
  g_assert_cmpuint (sink->largest, <=, 2 * 64 * 1024);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/data/round-trip", test_round_trip);
  ADD ("/data/same-bytes", test_same_bytes);
  ADD ("/data/models", test_models);
  ADD ("/data/export-edges", test_export_edges);
  ADD ("/data/bad-lines", test_bad_lines);
  ADD ("/data/update", test_update);
  ADD ("/data/delete", test_delete);
  ADD ("/data/change-tracking", test_change_tracking);
  ADD ("/data/monitor", test_monitor);
  ADD ("/data/streaming", test_streaming);
#undef ADD
  return g_test_run ();
}
