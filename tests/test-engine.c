/* test-engine.c: devices of one machine syncing through MorangoEngine over 127.0.0.1
 *
 * Every device is a MorangoEngine on a data folder of its own (kolibri-like),
 * driven through its asynchronous API from this thread's main context:
 * the seed's story (Facility, Home, City; then with Cloud and City 2 too),
 * what a peer may not do, twenty clients at once, and progress and
 * cancel.  Nothing waits on a clock: each await iterates the main context
 * until its callback ran, and a pull is held mid-transfer by a proxy, not
 * by timing.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include <libsoup/soup.h>

#include "morango-account.h"
#include "morango-certificate.h"
#include "morango-engine.h"
#include "morango-http-server.h"
#include "morango-http-trust.h"
#include "morango-json.h"
#include "morango-session.h"
#include "morango-store.h"
#include "morango-test-util.h"
#include "morango-trust.h"

#define PASSWORD "correct horse battery staple"

static GThread *main_thread;

/* The models of kolibri-like and their tables, parents first. */
static const struct {
  const char *model;
  const char *table;
} models[] = {
  { "facility", "kolibri_facility" },
  { "facilityuser", "kolibri_facilityuser" },
  { "classroom", "kolibri_classroom" },
  { "lesson", "kolibri_lesson" },
  { "lessonassignment", "kolibri_lessonassignment" },
  { "contentsummarylog", "kolibri_contentsummarylog" },
  { "contentsessionlog", "kolibri_contentsessionlog" },
  { "anonymoussessionlog", "kolibri_anonymoussessionlog" },
};

/* ------------------------------------------------------------------ */
/* Waiting on the main context */

typedef struct {
  GAsyncResult *result;
} Await;

static void
on_done (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  Await *await = data;

  g_assert_true (g_thread_self () == main_thread);
  g_assert_null (await->result);
  await->result = g_object_ref (result);
}

/* Iterates the main context until the callback ran; the caller owns
 * the result. */
static GAsyncResult *
await_result (Await *await)
{
  while (await->result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return await->result;
}

static void
await_count (guint *counter,
             guint  at_least)
{
  while (*counter < at_least)
    g_main_context_iteration (NULL, TRUE);
}

/* ------------------------------------------------------------------ */
/* Devices */

typedef struct {
  char          *name;
  char          *dir;
  MorangoEngine *engine;
  char          *url;            /* while serving */
  guint          peers_changed;
} Device;

static void
on_peers_changed (MorangoEngine *engine,
                  Device        *device)
{
  g_assert_true (g_thread_self () == main_thread);
  device->peers_changed++;
}

static Device *
device_new (const char *root,
            const char *name)
{
  g_autoptr(GError) error = NULL;
  Device *d = g_new0 (Device, 1);

  d->name = g_strdup (name);
  d->dir = g_build_filename (root, name, NULL);
  d->engine = morango_engine_new (d->dir, "kolibri-like", &error);
  g_assert_no_error (error);
  g_assert_nonnull (d->engine);
  g_signal_connect (d->engine, "peers-changed", G_CALLBACK (on_peers_changed), d);
  return d;
}

static void
device_free (Device *d)
{
  if (d->engine != NULL)
    {
      g_signal_handlers_disconnect_by_data (d->engine, d);
      morango_engine_stop_serving (d->engine);
    }
  g_clear_object (&d->engine);
  g_free (d->name);
  g_free (d->dir);
  g_free (d->url);
  g_free (d);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Device, device_free)

/* The device's folder opened beside its engine, as the engine opens it
 * (same machine inputs, so the same instance). */
static MorangoStore *
device_store (Device *d)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoHostInfo) host = morango_host_info_new_from_system ();
  g_autoptr(MorangoRandom) random = morango_random_new_secure ();
  MorangoStore *store = morango_store_open_folder (d->dir, NULL, host, random, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (morango_store_get_instance_id (store), ==, morango_engine_get_instance_id (d->engine));
  return store;
}

static void
device_serve (Device *d)
{
  MorangoEngineServeOptions options = { "127.0.0.1", 0, 0 };
  g_autoptr(GError) error = NULL;
  Await await = { NULL };

  morango_engine_serve_async (d->engine, &options, NULL, on_done, &await);
  g_assert_true (morango_engine_serve_finish (d->engine, await_result (&await), &error));
  g_assert_no_error (error);
  g_object_unref (await.result);
  g_assert_cmpuint (morango_engine_get_port (d->engine), >, 0);
  d->url = g_strdup_printf ("http://127.0.0.1:%u/", morango_engine_get_port (d->engine));
}

static void
pair_start (Device     *d,
            const char *url,
            const char *scope,
            const char *user_id,
            const char *username,
            const char *password,
            Await      *await)
{
  MorangoEnginePairOptions options = { 0 };
  g_autoptr(JsonObject) params = NULL;

  if (user_id != NULL)
    {
      params = json_object_new ();
      json_object_set_string_member (params, "user_id", user_id);
    }
  options.scope_definition = scope;
  options.params = params;
  options.username = username;
  options.password = password;
  morango_engine_pair_async (d->engine, url, &options, NULL, on_done, await);
}

static char *
pair_finish (Device  *d,
             Await   *await,
             GError **error)
{
  char *id = morango_engine_pair_finish (d->engine, await_result (await), error);

  g_clear_object (&await->result);
  return id;
}

/* Pairs @d with the server at @url for @scope (@user_id: the learner of
 * a single-user certificate); the new certificate's id. */
static char *
device_pair (Device     *d,
             const char *url,
             const char *scope,
             const char *user_id,
             const char *username,
             const char *password,
             GError    **error)
{
  Await await = { NULL };

  pair_start (d, url, scope, user_id, username, password, &await);
  return pair_finish (d, &await, error);
}

static gboolean
sync_finish (Device                  *d,
             Await                   *await,
             MorangoEngineSyncResult *result,
             GError                 **error)
{
  MorangoEngineSyncResult ignored;
  gboolean ok = morango_engine_sync_finish (d->engine, await_result (await), result ? result : &ignored, error);

  g_clear_object (&await->result);
  return ok;
}

static gboolean
device_sync (Device                         *d,
             const char                     *url,
             const MorangoEngineSyncOptions *options,
             GCancellable                   *cancellable,
             MorangoEngineSyncResult        *result,
             GError                        **error)
{
  Await await = { NULL };

  morango_engine_sync_async (d->engine, url, options, cancellable, on_done, &await);
  return sync_finish (d, &await, result, error);
}

static void
device_sync_ok (Device                         *d,
                const char                     *url,
                const MorangoEngineSyncOptions *options,
                MorangoEngineSyncResult        *result)
{
  g_autoptr(GError) error = NULL;

  if (!device_sync (d, url, options, NULL, result, &error))
    g_error ("%s could not sync with %s: %s", d->name, url, error->message);
}

static void
assert_refused (const GError *error,
                GQuark        domain,
                int           code,
                const char   *status,
                const char   *text)
{
  g_assert_nonnull (error);
  g_test_message ("refused: %s", error->message);
  g_assert_error ((GError *) error, domain, code);
  if (status != NULL && strstr (error->message, status) == NULL)
    g_error ("“%s” does not give the status %s", error->message, status);
  if (text != NULL && strstr (error->message, text) == NULL)
    g_error ("“%s” does not say “%s”", error->message, text);
}

/* ------------------------------------------------------------------ */
/* Records: what the test made, deleted and expects */

typedef enum {
  REC_ALIVE,
  REC_DELETED,      /* soft deleted once serialized */
  REC_HARD,         /* hard deleted once serialized */
  REC_GONE,         /* deleted before it was ever serialized: never in a store */
} RecState;

typedef struct {
  char     *model;
  char     *id;
  char     *partition;
  RecState  state;
} Rec;

static void
rec_free (Rec *r)
{
  g_free (r->model);
  g_free (r->id);
  g_free (r->partition);
  g_free (r);
}

/* Every record made by any device of a test, by "model/id". */
typedef GHashTable Ledger;

static Ledger *
ledger_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) rec_free);
}

static Rec *
ledger_get (Ledger     *ledger,
            const char *model,
            const char *id)
{
  g_autofree char *key = g_strdup_printf ("%s/%s", model, id);
  Rec *r = g_hash_table_lookup (ledger, key);

  g_assert_nonnull (r);
  return r;
}

static JsonObject *
parse_object (const char *text)
{
  g_autoptr(GError) error = NULL;
  JsonObject *o = morango_json_parse_object (text, "test fields", &error);

  g_assert_no_error (error);
  return o;
}

/* Creates a row of @model on @store from @fields_json and notes it. */
static char *
make (MorangoStore *store,
      Ledger       *ledger,
      const char   *model,
      const char   *fields_json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) fields = parse_object (fields_json);
  g_autoptr(JsonObject) row = NULL;
  MorangoApp *app = morango_store_get_app (store);
  char *id = NULL;
  Rec *r;

  if (!morango_app_create (app, model, fields, &id, &error))
    g_error ("%s %s: %s", model, fields_json, error->message);
  row = morango_app_get (app, model, id, &error);
  g_assert_no_error (error);
  r = g_new0 (Rec, 1);
  r->model = g_strdup (model);
  r->id = g_strdup (id);
  r->partition = g_strdup (json_object_get_string_member (row, "_morango_partition"));
  r->state = REC_ALIVE;
  g_hash_table_replace (ledger, g_strdup_printf ("%s/%s", model, id), r);
  return id;
}

static void
change (MorangoStore *store,
        const char   *model,
        const char   *id,
        const char   *changes_json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) changes = parse_object (changes_json);

  g_assert_true (morango_app_update (morango_store_get_app (store), model, id, changes, &error));
  g_assert_no_error (error);
}

/* Deletes a row with no dependents; @serialized: whether its store row
 * exists (it was synced since it was made). */
static void
drop (MorangoStore *store,
      Ledger       *ledger,
      const char   *model,
      const char   *id,
      gboolean      hard,
      gboolean      serialized)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (morango_app_delete (morango_store_get_app (store), model, id, hard, &error));
  g_assert_no_error (error);
  ledger_get (ledger, model, id)->state = !serialized ? REC_GONE : hard ? REC_HARD : REC_DELETED;
}

/* How many records under @filter a store should hold (@alive_only: an
 * application table). */
static guint
ledger_count (Ledger        *ledger,
              MorangoFilter *filter,
              gboolean       alive_only)
{
  GHashTableIter iter;
  gpointer value;
  guint n = 0;

  g_hash_table_iter_init (&iter, ledger);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Rec *r = value;

      if (r->state == REC_GONE || (alive_only && r->state != REC_ALIVE))
        continue;
      if (morango_filter_contains (filter, r->partition))
        n++;
    }
  return n;
}

/* ------------------------------------------------------------------ */
/* Digests */

static void
digest_field (GChecksum  *sum,
              const char *text)
{
  g_checksum_update (sum, (const guchar *) (text ? text : "\x01null"), -1);
  g_checksum_update (sum, (const guchar *) "", 1);
}

/* SHA-256 over the sorted (model, id, serialized, deleted, hard_deleted)
 * of the store rows under @filter; *@count gets how many. */
static char *
store_digest (MorangoStore  *store,
              MorangoFilter *filter,
              guint         *count)
{
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr(GError) error = NULL;
  MorangoDb *db = morango_store_get_db (store);
  sqlite3_stmt *stmt;
  int rc;

  *count = 0;
  stmt = morango_db_prepare (db, "SELECT model_name, id, serialized, deleted, hard_deleted, partition "
                                 "FROM morango_store ORDER BY model_name, id", &error);
  g_assert_no_error (error);
  while ((rc = morango_db_step (db, stmt, &error)) == SQLITE_ROW)
    {
      if (!morango_filter_contains (filter, morango_db_column_text (stmt, 5)))
        continue;
      for (int col = 0; col < 3; col++)
        digest_field (sum, morango_db_column_text (stmt, col));
      digest_field (sum, sqlite3_column_int (stmt, 3) ? "1" : "0");
      digest_field (sum, sqlite3_column_int (stmt, 4) ? "1" : "0");
      (*count)++;
    }
  g_assert_no_error (error);
  g_assert_cmpint (rc, ==, SQLITE_DONE);
  sqlite3_reset (stmt);
  return g_strdup (g_checksum_get_string (sum));
}

/* An application row as record JSON would carry it, without the dirty
 * bit.  Datetimes to the millisecond, as every receiver holds them; and
 * as Morango writes them (correction 23) a time of 1 to 999 µs past the
 * second reads ".000Z" where it was made and "Z" everywhere it arrives,
 * which is the same value. */
static char *
app_row_text (MorangoStore *store,
              const char   *model,
              const char   *id)
{
  static GRegex *whole_second;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) row = morango_app_get (morango_store_get_app (store), model, id, &error);
  g_autofree char *text = NULL;

  if (row == NULL)
    return NULL;
  if (whole_second == NULL)
    whole_second = g_regex_new ("(T[0-9]{2}:[0-9]{2}:[0-9]{2})\\.000Z\"", G_REGEX_OPTIMIZE, 0, NULL);
  json_object_remove_member (row, "_morango_dirty_bit");
  text = morango_json_dumps_object (row);
  return g_regex_replace (whole_second, text, -1, 0, "\\1Z\"", 0, NULL);
}

static gint
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* The same digest over the application tables: every row present is
 * alive (deleted 0, hard_deleted 0). */
static char *
app_digest (MorangoStore  *store,
            MorangoFilter *filter,
            guint         *count)
{
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  MorangoDb *db = morango_store_get_db (store);
  g_autoptr(GPtrArray) sorted = g_ptr_array_new_with_free_func (g_free);

  *count = 0;
  for (guint m = 0; m < G_N_ELEMENTS (models); m++)
    {
      g_autoptr(GError) error = NULL;
      /* The table names are this file's constants. */
      g_autofree char *sql = g_strdup_printf ("SELECT id, _morango_partition FROM %s ORDER BY id",
                                              models[m].table);
      sqlite3_stmt *stmt = morango_db_prepare (db, sql, &error);
      int rc;

      g_assert_no_error (error);
      while ((rc = morango_db_step (db, stmt, &error)) == SQLITE_ROW)
        if (morango_filter_contains (filter, morango_db_column_text (stmt, 1)))
          g_ptr_array_add (sorted, g_strdup_printf ("%s\t%s", models[m].model, morango_db_column_text (stmt, 0)));
      g_assert_no_error (error);
      g_assert_cmpint (rc, ==, SQLITE_DONE);
      sqlite3_reset (stmt);
    }
  /* Sorted as the store's rows are: by model name, then id. */
  g_ptr_array_sort (sorted, compare_strings);
  for (guint i = 0; i < sorted->len; i++)
    {
      g_auto(GStrv) parts = g_strsplit (g_ptr_array_index (sorted, i), "\t", 2);
      g_autofree char *text = app_row_text (store, parts[0], parts[1]);

      g_assert_nonnull (text);
      digest_field (sum, parts[0]);
      digest_field (sum, parts[1]);
      digest_field (sum, text);
      digest_field (sum, "0");
      digest_field (sum, "0");
      (*count)++;
    }
  return g_strdup (g_checksum_get_string (sum));
}

/* Both digests of @store, as one text, with the counts. */
static char *
digests (MorangoStore  *store,
         MorangoFilter *filter,
         guint         *n_store,
         guint         *n_app)
{
  guint ignored_store, ignored_app;
  g_autofree char *s = store_digest (store, filter, n_store ? n_store : &ignored_store);
  g_autofree char *a = app_digest (store, filter, n_app ? n_app : &ignored_app);

  return g_strdup_printf ("store %s app %s", s, a);
}

static MorangoFilter *
filter_of (const char *first,
           ...)
{
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func (g_free);
  va_list args;

  va_start (args, first);
  for (const char *e = first; e != NULL; e = va_arg (args, const char *))
    g_ptr_array_add (entries, g_strdup (e));
  va_end (args);
  return morango_filter_new_from_entries ((const char * const *) entries->pdata, entries->len);
}

/* The read filter of a single-user certificate for @learner. */
static MorangoFilter *
learner_filter (const char *dataset,
                const char *learner)
{
  g_autofree char *ro_all = g_strdup_printf ("%s:allusers-ro", dataset);
  g_autofree char *ro = g_strdup_printf ("%s:user-ro:%s", dataset, learner);
  g_autofree char *rw = g_strdup_printf ("%s:user-rw:%s", dataset, learner);

  return filter_of (ro_all, ro, rw, NULL);
}

static gboolean
has_row (MorangoStore *store,
         const char   *model,
         const char   *id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) row = morango_app_get (morango_store_get_app (store), model, id, &error);

  if (row == NULL)
    g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND);
  return row != NULL;
}

/* The (deleted, hard_deleted) of a store row as "dh" digits, NULL when
 * there is none. */
static char *
store_flags (MorangoStore *store,
             const char   *id)
{
  g_autoptr(GError) error = NULL;
  char *flags = NULL;

  g_assert_true (morango_db_query_text (morango_store_get_db (store), &flags, &error,
                                        "SELECT deleted || hard_deleted FROM morango_store WHERE id = ?",
                                        "s", id));
  g_assert_no_error (error);
  return flags;
}

static gint64
count_rows (MorangoStore *store,
            const char   *sql)
{
  g_autoptr(GError) error = NULL;
  gint64 n = -1;

  g_assert_true (morango_db_query_int64 (morango_store_get_db (store), &n, NULL, &error, sql, ""));
  g_assert_no_error (error);
  return n;
}

/* ------------------------------------------------------------------ */
/* The facility: a served device with the root, learners and their data */

typedef struct {
  Device    *device;
  Ledger    *ledger;
  char      *dataset;       /* the root's id */
  char      *facility;
  char      *coach;
  char      *classroom;
  GPtrArray *learners;      /* facilityuser ids */
  GPtrArray *lessons;
  guint      content;       /* the next content id */
} World;

static char *
next_content (World *w)
{
  return g_strdup_printf ("c0%030x", ++w->content);
}

/* @n summary logs and @n session logs of @learner, made on @store; their
 * ids go to @summary_ids and @session_ids (either may be NULL). */
static void
make_logs (World        *w,
           MorangoStore *store,
           const char   *learner,
           guint         n,
           GPtrArray    *summary_ids,
           GPtrArray    *session_ids)
{
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *c1 = next_content (w);
      g_autofree char *c2 = next_content (w);
      g_autofree char *summary = g_strdup_printf ("{\"dataset_id\": \"%s\", \"user_id\": \"%s\", "
                                                  "\"content_id\": \"%s\", \"kind\": \"video\", "
                                                  "\"progress\": %g, \"time_spent\": %u}",
                                                  w->dataset, learner, c1, (i % 10) / 10.0, 30 * i);
      g_autofree char *session = g_strdup_printf ("{\"dataset_id\": \"%s\", \"user_id\": \"%s\", "
                                                  "\"content_id\": \"%s\", \"progress\": 0.5, "
                                                  "\"time_spent\": %u}",
                                                  w->dataset, learner, c2, 10 * i);
      char *a = make (store, w->ledger, "contentsummarylog", summary);
      char *b = make (store, w->ledger, "contentsessionlog", session);

      if (summary_ids != NULL)
        g_ptr_array_add (summary_ids, a);
      else
        g_free (a);
      if (session_ids != NULL)
        g_ptr_array_add (session_ids, b);
      else
        g_free (b);
    }
}

static char *
make_assignment (World        *w,
                 MorangoStore *store,
                 const char   *lesson,
                 const char   *learner,
                 const char   *title)
{
  g_autofree char *fields = g_strdup_printf ("{\"dataset_id\": \"%s\", \"lesson_id\": \"%s\", "
                                             "\"learner_id\": \"%s\", \"title\": \"%s\", "
                                             "\"resources\": \"fractions-1 fractions-2\"}",
                                             w->dataset, lesson, learner, title);

  return make (store, w->ledger, "lessonassignment", fields);
}

/* Facility: the root (full-facility), the admin account, a facility,
 * a coach, @n_learners learners with @n_logs summary and session logs
 * each, a classroom, two lessons assigned to every learner, and three
 * anonymous logs. */
static void
world_init (World      *w,
            const char *root,
            guint       n_learners,
            guint       n_logs)
{
  static const char * const all[] = { MORANGO_ACCOUNT_ALL_SCOPES, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = NULL;
  g_autoptr(MorangoCertificate) cert = NULL;
  g_autoptr(MorangoTransaction) tx = NULL;
  g_autofree char *fields = NULL;
  MorangoDb *db;

  w->ledger = ledger_new ();
  w->learners = g_ptr_array_new_with_free_func (g_free);
  w->lessons = g_ptr_array_new_with_free_func (g_free);
  w->device = device_new (root, "facility");
  store = device_store (w->device);
  db = morango_store_get_db (store);

  cert = morango_certificate_create_root (db, "full-facility", NULL, NULL, &error);
  g_assert_no_error (error);
  w->dataset = g_strdup (morango_certificate_get_id (cert));
  g_assert_true (morango_account_set_password (db, morango_store_get_random (store), MORANGO_ACCOUNT_ADMIN,
                                               PASSWORD, all, &error));
  g_assert_no_error (error);

  tx = morango_transaction_begin (db, NULL, &error);
  g_assert_no_error (error);
  fields = g_strdup_printf ("{\"dataset_id\": \"%s\", \"name\": \"Riverside\"}", w->dataset);
  w->facility = make (store, w->ledger, "facility", fields);
  g_free (fields);
  fields = g_strdup_printf ("{\"dataset_id\": \"%s\", \"facility_id\": \"%s\", \"username\": \"coach\", "
                            "\"full_name\": \"Coach Carter\", \"role\": \"coach\"}", w->dataset, w->facility);
  w->coach = make (store, w->ledger, "facilityuser", fields);
  g_free (fields);
  fields = g_strdup_printf ("{\"dataset_id\": \"%s\", \"facility_id\": \"%s\", \"name\": \"Class 1\"}",
                            w->dataset, w->facility);
  w->classroom = make (store, w->ledger, "classroom", fields);
  for (guint i = 0; i < 2; i++)
    {
      g_free (fields);
      fields = g_strdup_printf ("{\"dataset_id\": \"%s\", \"classroom_id\": \"%s\", \"title\": \"Lesson %u\", "
                                "\"created_by_id\": \"%s\", \"is_active\": true}",
                                w->dataset, w->classroom, i + 1, w->coach);
      g_ptr_array_add (w->lessons, make (store, w->ledger, "lesson", fields));
    }
  for (guint i = 0; i < n_learners; i++)
    {
      char *learner;

      g_free (fields);
      fields = g_strdup_printf ("{\"dataset_id\": \"%s\", \"facility_id\": \"%s\", \"username\": \"learner-%02u\", "
                                "\"full_name\": \"Learner %u\"}", w->dataset, w->facility, i, i);
      learner = make (store, w->ledger, "facilityuser", fields);
      g_ptr_array_add (w->learners, learner);
      for (guint l = 0; l < w->lessons->len; l++)
        {
          g_autofree char *title = g_strdup_printf ("Lesson %u", l + 1);
          g_autofree char *id = make_assignment (w, store, g_ptr_array_index (w->lessons, l), learner, title);
        }
      make_logs (w, store, learner, n_logs, NULL, NULL);
    }
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *content = next_content (w);
      g_autofree char *id = NULL;

      g_free (fields);
      fields = g_strdup_printf ("{\"dataset_id\": \"%s\", \"content_id\": \"%s\", \"progress\": 0.25}",
                                w->dataset, content);
      id = make (store, w->ledger, "anonymoussessionlog", fields);
    }
  g_assert_true (morango_transaction_commit (g_steal_pointer (&tx), &error));
  g_assert_no_error (error);
  device_serve (w->device);
}

static void
world_clear (World *w)
{
  g_clear_pointer (&w->device, device_free);
  g_clear_pointer (&w->ledger, g_hash_table_unref);
  g_clear_pointer (&w->learners, g_ptr_array_unref);
  g_clear_pointer (&w->lessons, g_ptr_array_unref);
  g_clear_pointer (&w->dataset, g_free);
  g_clear_pointer (&w->facility, g_free);
  g_clear_pointer (&w->coach, g_free);
  g_clear_pointer (&w->classroom, g_free);
}

static const char *
learner (World *w,
         guint  i)
{
  return g_ptr_array_index (w->learners, i);
}

/* The id of the assignment of @lesson to @learner_id in @store's
 * application tables; NULL when there is none. */
static char *
find_assignment (MorangoStore *store,
                 const char   *lesson,
                 const char   *learner_id)
{
  g_autoptr(GError) error = NULL;
  char *id = NULL;

  g_assert_true (morango_db_query_text (morango_store_get_db (store), &id, &error,
                                        "SELECT id FROM kolibri_lessonassignment "
                                        "WHERE lesson_id = ? AND learner_id = ?", "ss", lesson, learner_id));
  g_assert_no_error (error);
  return id;
}

/* ------------------------------------------------------------------ */
/* 1. Three devices: the seed's story */

/* Home's week: each day new summary and session logs, anonymous
 * logs, progress on earlier logs, and deletions, soft and hard, of
 * logs already synced and of some made the same day.  A push half way. */
static void
home_week (World     *w,
           Device    *home,
           const char *learner_a,
           GPtrArray *touched)
{
  g_autoptr(GPtrArray) synced_sessions = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) synced_summaries = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;

  /* What Home pulled of A's is synced already. */
  {
    g_autoptr(MorangoStore) store = device_store (home);
    sqlite3_stmt *stmt;

    stmt = morango_db_prepare (morango_store_get_db (store), "SELECT id FROM kolibri_contentsessionlog "
                               "WHERE user_id = ? ORDER BY id", &error);
    g_assert_true (morango_db_bind (morango_store_get_db (store), stmt, &error, "s", learner_a));
    while (morango_db_step (morango_store_get_db (store), stmt, &error) == SQLITE_ROW)
      g_ptr_array_add (synced_sessions, g_strdup (morango_db_column_text (stmt, 0)));
    sqlite3_reset (stmt);
    stmt = morango_db_prepare (morango_store_get_db (store), "SELECT id FROM kolibri_contentsummarylog "
                               "WHERE user_id = ? ORDER BY id", &error);
    g_assert_true (morango_db_bind (morango_store_get_db (store), stmt, &error, "s", learner_a));
    while (morango_db_step (morango_store_get_db (store), stmt, &error) == SQLITE_ROW)
      g_ptr_array_add (synced_summaries, g_strdup (morango_db_column_text (stmt, 0)));
    sqlite3_reset (stmt);
    g_assert_no_error (error);
    g_assert_cmpuint (synced_sessions->len, >=, 4);
    g_assert_cmpuint (synced_summaries->len, >=, 4);
  }

  for (guint day = 0; day < 7; day++)
    {
      g_autoptr(MorangoStore) store = device_store (home);
      g_autoptr(MorangoTransaction) tx = morango_transaction_begin (morango_store_get_db (store), NULL, &error);
      g_autoptr(GPtrArray) summaries = g_ptr_array_new_with_free_func (g_free);
      g_autoptr(GPtrArray) sessions = g_ptr_array_new_with_free_func (g_free);

      g_assert_no_error (error);
      make_logs (w, store, learner_a, 20, summaries, sessions);
      for (guint i = 0; i < 2; i++)
        {
          g_autofree char *content = next_content (w);
          g_autofree char *fields = g_strdup_printf ("{\"dataset_id\": \"%s\", \"content_id\": \"%s\", "
                                                     "\"progress\": 0.75, \"time_spent\": %u}",
                                                     w->dataset, content, 100 + day);

          g_ptr_array_add (touched, make (store, w->ledger, "anonymoussessionlog", fields));
        }
      /* Progress on logs synced earlier. */
      for (guint i = 0; i < 3 && i < synced_summaries->len; i++)
        {
          const char *id = g_ptr_array_index (synced_summaries, (day * 3 + i) % synced_summaries->len);
          g_autofree char *changes = g_strdup_printf ("{\"progress\": %g, \"time_spent\": %u, "
                                                      "\"completion_timestamp\": \"2026-12-0%uT10:00:00Z\"}",
                                                      0.5 + day / 20.0, 600 + day, day + 1);

          change (store, "contentsummarylog", id, changes);
          g_ptr_array_add (touched, g_strdup (id));
        }
      /* Deletions of synced logs: one soft, one hard, while some last. */
      if (synced_sessions->len >= 2)
        {
          g_autofree char *soft = g_ptr_array_steal_index (synced_sessions, 0);
          g_autofree char *hard = g_ptr_array_steal_index (synced_sessions, 0);

          drop (store, w->ledger, "contentsessionlog", soft, FALSE, TRUE);
          drop (store, w->ledger, "contentsessionlog", hard, TRUE, TRUE);
          g_ptr_array_add (touched, g_steal_pointer (&soft));
          g_ptr_array_add (touched, g_steal_pointer (&hard));
        }
      /* A log made and deleted the same day never reaches a store. */
      {
        char *gone = g_ptr_array_steal_index (sessions, sessions->len - 1);

        drop (store, w->ledger, "contentsessionlog", gone, day % 2 == 0, FALSE);
        g_ptr_array_add (touched, gone);
      }
      /* An update of a log made the same day. */
      change (store, "contentsummarylog", g_ptr_array_index (summaries, 0), "{\"progress\": 1.0}");
      g_assert_true (morango_transaction_commit (g_steal_pointer (&tx), &error));
      g_assert_no_error (error);

      for (guint i = 0; i < summaries->len; i++)
        g_ptr_array_add (touched, g_strdup (g_ptr_array_index (summaries, i)));
      for (guint i = 0; i < sessions->len; i++)
        g_ptr_array_add (touched, g_strdup (g_ptr_array_index (sessions, i)));

      /* Mid-week Home meets Facility once: what it made is synced. */
      if (day == 3)
        {
          MorangoEngineSyncOptions push = { .push = TRUE };

          g_clear_object (&store);
          device_sync_ok (home, w->device->url, &push, NULL);
          for (guint i = 0; i < summaries->len; i++)
            g_ptr_array_add (synced_summaries, g_strdup (g_ptr_array_index (summaries, i)));
          for (guint i = 0; i < sessions->len; i++)
            g_ptr_array_add (synced_sessions, g_strdup (g_ptr_array_index (sessions, i)));
        }
    }
}

/* The model of a record the test made. */
static const char *
model_of (Ledger     *ledger,
          const char *id)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, ledger);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (g_str_equal (((Rec *) value)->id, id))
      return ((Rec *) value)->model;
  g_assert_not_reached ();
}

/* @to holds every record of @ids as @from does: alive with the same
 * fields, deleted or hard deleted in the store, or never seen. */
static void
assert_holds (Ledger       *ledger,
              MorangoStore *from,
              MorangoStore *to,
              GPtrArray    *ids)
{
  for (guint i = 0; i < ids->len; i++)
    {
      const char *id = g_ptr_array_index (ids, i);
      const char *model = model_of (ledger, id);
      Rec *r = ledger_get (ledger, model, id);
      g_autofree char *flags = store_flags (to, id);

      switch (r->state)
        {
        case REC_ALIVE:
          {
            g_autofree char *mine = app_row_text (from, model, id);
            g_autofree char *theirs = app_row_text (to, model, id);

            g_assert_nonnull (mine);
            g_assert_cmpstr (theirs, ==, mine);
            g_assert_cmpstr (flags, ==, "00");
          }
          break;
        case REC_DELETED:
          g_assert_false (has_row (to, model, id));
          g_assert_cmpstr (flags, ==, "10");
          break;
        case REC_HARD:
          g_assert_false (has_row (to, model, id));
          g_assert_cmpstr (flags, ==, "11");
          break;
        case REC_GONE:
          g_assert_false (has_row (to, model, id));
          g_assert_null (flags);
          break;
        }
    }
}

static void
test_three_devices (void)
{
  g_autofree char *root = morango_test_tmpdir ();
  World w = { 0 };
  g_autoptr(Device) home = NULL;
  g_autoptr(Device) city = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) touched = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(MorangoFilter) home_filter = NULL;
  g_autoptr(MorangoFilter) facility_filter = NULL;
  g_autofree char *home_cert = NULL;
  g_autofree char *city_cert = NULL;
  g_autofree char *new_lesson = NULL;
  g_autofree char *new_assignment = NULL;
  MorangoEngineSyncOptions pull = { .pull = TRUE };
  MorangoEngineSyncOptions push = { .push = TRUE };
  MorangoEngineSyncResult result = { 0 };
  const char *a, *b;

  world_init (&w, root, 2, 5);
  a = learner (&w, 0);
  b = learner (&w, 1);
  home_filter = learner_filter (w.dataset, a);
  facility_filter = filter_of (w.dataset, NULL);

  /* Home: a single-user certificate for learner A, then a pull. */
  home = device_new (root, "home");
  home_cert = device_pair (home, w.device->url, "single-user", a, NULL, PASSWORD, &error);
  g_assert_no_error (error);
  g_assert_true (morango_is_hex32 (home_cert));
  device_sync_ok (home, w.device->url, &pull, &result);
  g_assert_cmpint (result.records_pulled, ==, ledger_count (w.ledger, home_filter, FALSE));
  g_assert_cmpint (result.records_pushed, ==, 0);
  g_assert_cmpint (result.bytes_received, >, 0);
  {
    g_autoptr(MorangoStore) h = device_store (home);
    g_autoptr(MorangoStore) f = device_store (w.device);
    g_autofree char *assignment_a = find_assignment (h, g_ptr_array_index (w.lessons, 0), a);
    g_autofree char *assignment_b = find_assignment (f, g_ptr_array_index (w.lessons, 0), b);
    g_autofree char *ours = NULL;
    g_autofree char *theirs = NULL;
    g_autofree char *partition = g_strdup_printf ("%s:user-ro:%s", w.dataset, a);
    g_autoptr(JsonObject) row = NULL;

    /* A's own partitions and the shared read-only one, by name. */
    g_assert_true (has_row (h, "facility", w.facility));
    g_assert_true (has_row (h, "classroom", w.classroom));
    g_assert_true (has_row (h, "facilityuser", a));
    g_assert_nonnull (assignment_a);
    row = morango_app_get (morango_store_get_app (h), "lessonassignment", assignment_a, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (json_object_get_string_member (row, "title"), ==, "Lesson 1");
    g_assert_cmpstr (json_object_get_string_member (row, "_morango_partition"), ==, partition);
    /* B's records, the coach's, the lessons and anonymous logs are not. */
    g_assert_false (has_row (h, "facilityuser", b));
    g_assert_false (has_row (h, "facilityuser", w.coach));
    g_assert_nonnull (assignment_b);
    g_assert_false (has_row (h, "lessonassignment", assignment_b));
    g_assert_false (has_row (h, "lesson", g_ptr_array_index (w.lessons, 0)));
    g_assert_cmpint (count_rows (h, "SELECT count(*) FROM kolibri_contentsummarylog"), ==, 5);
    g_assert_cmpint (count_rows (h, "SELECT count(*) FROM kolibri_anonymoussessionlog"), ==, 0);
    {
      gint64 n = -1;

      /* No store row of Home names B in its partition. */
      g_assert_true (morango_db_query_int64 (morango_store_get_db (h), &n, NULL, &error,
                                             "SELECT count(*) FROM morango_store WHERE instr (partition, ?) > 0",
                                             "s", b));
      g_assert_no_error (error);
      g_assert_cmpint (n, ==, 0);
      g_assert_true (morango_db_query_int64 (morango_store_get_db (h), &n, NULL, &error,
                                             "SELECT count(*) FROM morango_store WHERE instr (partition, ?) > 0",
                                             "s", a));
      g_assert_cmpint (n, >, 0);
    }
    ours = digests (h, home_filter, NULL, NULL);
    theirs = digests (f, home_filter, NULL, NULL);
    g_assert_cmpstr (ours, ==, theirs);
  }

  /* A week at home, then a push: Facility holds each record. */
  home_week (&w, home, a, touched);
  g_assert_cmpuint (touched->len, >=, 300);
  device_sync_ok (home, w.device->url, &push, &result);
  g_assert_cmpint (result.records_pushed, >, 0);
  {
    g_autoptr(MorangoStore) h = device_store (home);
    g_autoptr(MorangoStore) f = device_store (w.device);

    assert_holds (w.ledger, h, f, touched);
  }

  /* The coach assigns another lesson to A; Home syncs and gets it. */
  {
    g_autoptr(MorangoStore) f = device_store (w.device);
    g_autofree char *fields = g_strdup_printf ("{\"dataset_id\": \"%s\", \"classroom_id\": \"%s\", "
                                               "\"title\": \"Lesson 3\", \"created_by_id\": \"%s\"}",
                                               w.dataset, w.classroom, w.coach);

    new_lesson = make (f, w.ledger, "lesson", fields);
    new_assignment = make_assignment (&w, f, new_lesson, a, "Lesson 3");
  }
  device_sync_ok (home, w.device->url, NULL, &result);
  g_assert_cmpint (result.records_pulled, >=, 1);
  {
    g_autoptr(MorangoStore) h = device_store (home);

    g_assert_true (has_row (h, "lessonassignment", new_assignment));
    g_assert_false (has_row (h, "lesson", new_lesson));
  }

  /* City: a full-facility certificate, and a sync. */
  city = device_new (root, "city");
  city_cert = device_pair (city, w.device->url, "full-facility", NULL, NULL, PASSWORD, &error);
  g_assert_no_error (error);
  device_sync_ok (city, w.device->url, NULL, &result);
  g_assert_cmpint (result.records_pulled, ==, ledger_count (w.ledger, facility_filter, FALSE));

  {
    g_autoptr(MorangoStore) h = device_store (home);
    g_autoptr(MorangoStore) f = device_store (w.device);
    g_autoptr(MorangoStore) c = device_store (city);
    guint n_store = 0, n_app = 0, n_store_c = 0, n_app_c = 0;
    g_autofree char *facility_all = digests (f, facility_filter, &n_store, &n_app);
    g_autofree char *city_all = digests (c, facility_filter, &n_store_c, &n_app_c);
    g_autofree char *home_a = NULL;
    g_autofree char *facility_a = NULL;

    g_assert_cmpstr (city_all, ==, facility_all);
    g_assert_cmpuint (n_store, ==, ledger_count (w.ledger, facility_filter, FALSE));
    g_assert_cmpuint (n_app, ==, ledger_count (w.ledger, facility_filter, TRUE));
    g_assert_cmpuint (n_store_c, ==, n_store);
    g_assert_cmpuint (n_app_c, ==, n_app);
    g_assert_cmpuint (n_app, >, 300);
    g_assert_cmpuint (n_store, >, n_app);

    home_a = digests (h, home_filter, &n_store, &n_app);
    facility_a = digests (f, home_filter, NULL, NULL);
    g_assert_cmpstr (home_a, ==, facility_a);
    g_assert_cmpuint (n_store, ==, ledger_count (w.ledger, home_filter, FALSE));
    g_assert_cmpuint (n_app, ==, ledger_count (w.ledger, home_filter, TRUE));
    g_assert_cmpuint (n_app, >, 200);

    /* City got what Home made, through Facility. */
    assert_holds (w.ledger, h, c, touched);
  }
  world_clear (&w);
}

/* ------------------------------------------------------------------ */
/* 1b. Five devices: the seed's story across a cloud */

/* Serves @d as a cloud does: it takes pushed certificates, and roots it
 * never saw come with them. */
static void
device_serve_cloud (Device *d)
{
  MorangoEngineServeOptions options = { .address = "127.0.0.1", .port = 0,
                                        .allow_certificate_push = TRUE,
                                        .accept_new_roots = TRUE };
  g_autoptr(GError) error = NULL;
  Await await = { NULL };

  morango_engine_serve_async (d->engine, &options, NULL, on_done, &await);
  g_assert_true (morango_engine_serve_finish (d->engine, await_result (&await), &error));
  g_assert_no_error (error);
  g_object_unref (await.result);
  g_assert_cmpuint (morango_engine_get_port (d->engine), >, 0);
  d->url = g_strdup_printf ("http://127.0.0.1:%u/", morango_engine_get_port (d->engine));
}

/* A day at Home: new logs, progress on synced ones, a soft and a hard
 * deletion of synced logs and a log made and deleted before any sync.
 * Every record touched goes to @touched. */
static void
home_day (World      *w,
          Device     *home,
          const char *learner_a,
          GPtrArray  *touched)
{
  g_autoptr(MorangoStore) store = device_store (home);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) old_summaries = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) old_sessions = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) summaries = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) sessions = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(MorangoTransaction) tx = NULL;
  MorangoDb *db = morango_store_get_db (store);
  const char *tables[] = { "kolibri_contentsummarylog", "kolibri_contentsessionlog" };
  GPtrArray *old[] = { old_summaries, old_sessions };

  for (guint t = 0; t < G_N_ELEMENTS (tables); t++)
    {
      /* The table names are this file's constants. */
      g_autofree char *sql = g_strdup_printf ("SELECT id FROM %s WHERE user_id = ? ORDER BY id", tables[t]);
      sqlite3_stmt *stmt = morango_db_prepare (db, sql, &error);

      g_assert_no_error (error);
      g_assert_true (morango_db_bind (db, stmt, &error, "s", learner_a));
      while (morango_db_step (db, stmt, &error) == SQLITE_ROW)
        g_ptr_array_add (old[t], g_strdup (morango_db_column_text (stmt, 0)));
      g_assert_no_error (error);
      sqlite3_reset (stmt);
      g_assert_cmpuint (old[t]->len, >=, 3);
    }

  tx = morango_transaction_begin (db, NULL, &error);
  g_assert_no_error (error);
  make_logs (w, store, learner_a, 15, summaries, sessions);
  for (guint i = 0; i < 3; i++)
    {
      const char *id = g_ptr_array_index (old_summaries, i);
      g_autofree char *changes = g_strdup_printf ("{\"progress\": 1.0, \"time_spent\": %u}", 900 + i);

      change (store, "contentsummarylog", id, changes);
      g_ptr_array_add (touched, g_strdup (id));
    }
  change (store, "contentsummarylog", g_ptr_array_index (summaries, 0), "{\"progress\": 0.9}");
  drop (store, w->ledger, "contentsessionlog", g_ptr_array_index (old_sessions, 0), FALSE, TRUE);
  drop (store, w->ledger, "contentsessionlog", g_ptr_array_index (old_sessions, 1), TRUE, TRUE);
  drop (store, w->ledger, "contentsessionlog", g_ptr_array_index (sessions, 0), FALSE, FALSE);
  for (guint i = 0; i < 2; i++)
    g_ptr_array_add (touched, g_strdup (g_ptr_array_index (old_sessions, i)));
  g_assert_true (morango_transaction_commit (g_steal_pointer (&tx), &error));
  g_assert_no_error (error);
  for (guint i = 0; i < summaries->len; i++)
    g_ptr_array_add (touched, g_strdup (g_ptr_array_index (summaries, i)));
  for (guint i = 0; i < sessions->len; i++)
    g_ptr_array_add (touched, g_strdup (g_ptr_array_index (sessions, i)));
}

/* Home (single-user for A), Facility (the root), City (full-facility
 * from Facility), Cloud (never meets Facility: City pushes it a
 * certificate) and City 2 (full-facility from Cloud, by an account made
 * on Cloud).  What Home made reaches City 2 by Facility, City and Cloud,
 * and the four facility devices end equal. */
static void
test_five_devices (void)
{
  static const char * const all[] = { MORANGO_ACCOUNT_ALL_SCOPES, NULL };
  g_autofree char *root = morango_test_tmpdir ();
  World w = { 0 };
  g_autoptr(Device) home = NULL;
  g_autoptr(Device) city = NULL;
  g_autoptr(Device) cloud = NULL;
  g_autoptr(Device) city2 = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) touched = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(MorangoFilter) home_filter = NULL;
  g_autoptr(MorangoFilter) facility_filter = NULL;
  g_autofree char *home_cert = NULL;
  g_autofree char *city_cert = NULL;
  g_autofree char *pushed_cert = NULL;
  g_autofree char *city2_cert = NULL;
  g_autofree char *new_lesson = NULL;
  g_autofree char *new_assignment = NULL;
  MorangoEngineSyncOptions pull = { .pull = TRUE };
  MorangoEngineSyncOptions push = { .push = TRUE };
  MorangoEngineSyncResult result = { 0 };
  guint expected_store, expected_app;
  const char *a, *b;

  world_init (&w, root, 2, 5);
  a = learner (&w, 0);
  b = learner (&w, 1);
  home_filter = learner_filter (w.dataset, a);
  facility_filter = filter_of (w.dataset, NULL);

  /* Home: single-user for A, a pull, a day's work, a push. */
  home = device_new (root, "home");
  home_cert = device_pair (home, w.device->url, "single-user", a, NULL, PASSWORD, &error);
  g_assert_no_error (error);
  device_sync_ok (home, w.device->url, &pull, &result);
  g_assert_cmpint (result.records_pulled, ==, ledger_count (w.ledger, home_filter, FALSE));
  home_day (&w, home, a, touched);
  g_assert_cmpuint (touched->len, >=, 30);
  device_sync_ok (home, w.device->url, &push, &result);
  g_assert_cmpint (result.records_pushed, >=, 30);

  /* City: full-facility from Facility, and a sync. */
  city = device_new (root, "city");
  city_cert = device_pair (city, w.device->url, "full-facility", NULL, NULL, PASSWORD, &error);
  g_assert_no_error (error);
  device_sync_ok (city, w.device->url, NULL, &result);
  g_assert_cmpint (result.records_pulled, ==, ledger_count (w.ledger, facility_filter, FALSE));

  /* Cloud: City pushes it a full-facility certificate under City's
   * own, then syncs: Cloud gets everything, by City alone. */
  cloud = device_new (root, "cloud");
  device_serve_cloud (cloud);
  {
    MorangoEnginePairOptions options = { .scope_definition = "full-facility", .push = TRUE };
    Await await = { NULL };

    morango_engine_pair_async (city->engine, cloud->url, &options, NULL, on_done, &await);
    pushed_cert = pair_finish (city, &await, &error);
    g_assert_no_error (error);
    g_assert_true (morango_is_hex32 (pushed_cert));
    g_assert_cmpstr (pushed_cert, !=, city_cert);
  }
  device_sync_ok (city, cloud->url, NULL, &result);
  g_assert_cmpint (result.records_pulled, ==, 0);
  g_assert_cmpint (result.records_pushed, ==, ledger_count (w.ledger, facility_filter, FALSE));

  /* City 2: an account made on Cloud, a full-facility certificate from
   * Cloud under the pushed one, and a sync. */
  {
    g_autoptr(MorangoStore) c = device_store (cloud);

    g_assert_true (morango_account_add (morango_store_get_db (c), morango_store_get_random (c), "city2",
                                        PASSWORD, all, &error));
    g_assert_no_error (error);
  }
  city2 = device_new (root, "city2");
  city2_cert = device_pair (city2, cloud->url, "full-facility", NULL, "city2", PASSWORD, &error);
  g_assert_no_error (error);
  g_assert_true (morango_is_hex32 (city2_cert));
  device_sync_ok (city2, cloud->url, NULL, &result);
  g_assert_cmpint (result.records_pulled, ==, ledger_count (w.ledger, facility_filter, FALSE));
  {
    g_autoptr(MorangoStore) c2 = device_store (city2);
    g_autoptr(MorangoStore) k = device_store (cloud);
    g_autoptr(GPtrArray) chain = morango_certificate_get_chain (morango_store_get_db (c2), city2_cert, &error);
    g_autoptr(MorangoCertificate) pushed = morango_certificate_load (morango_store_get_db (k), pushed_cert,
                                                                      &error);

    /* Facility's root, City's, the one pushed to Cloud, City 2's: Cloud
     * signed under the pushed one with its own key. */
    g_assert_no_error (error);
    g_assert_nonnull (chain);
    g_assert_cmpuint (chain->len, ==, 4);
    g_assert_cmpstr (morango_certificate_get_id (g_ptr_array_index (chain, 0)), ==, w.dataset);
    g_assert_cmpstr (morango_certificate_get_id (g_ptr_array_index (chain, 1)), ==, city_cert);
    g_assert_cmpstr (morango_certificate_get_id (g_ptr_array_index (chain, 2)), ==, pushed_cert);
    g_assert_true (morango_certificate_has_private_key (g_ptr_array_index (chain, 3)));
    g_assert_false (morango_certificate_has_private_key (g_ptr_array_index (chain, 2)));
    g_assert_true (morango_certificate_has_private_key (pushed));
  }

  /* The way back: a lesson for A made at City 2 reaches Home by Cloud,
   * City and Facility; the lesson itself stays out of Home. */
  {
    g_autoptr(MorangoStore) c2 = device_store (city2);
    g_autofree char *fields = g_strdup_printf ("{\"dataset_id\": \"%s\", \"classroom_id\": \"%s\", "
                                               "\"title\": \"Lesson 9\", \"created_by_id\": \"%s\"}",
                                               w.dataset, w.classroom, w.coach);

    new_lesson = make (c2, w.ledger, "lesson", fields);
    new_assignment = make_assignment (&w, c2, new_lesson, a, "Lesson 9");
  }
  device_sync_ok (city2, cloud->url, &push, &result);
  g_assert_cmpint (result.records_pushed, ==, 2);
  device_sync_ok (city, cloud->url, NULL, &result);
  g_assert_cmpint (result.records_pulled, ==, 2);
  device_sync_ok (city, w.device->url, NULL, &result);
  g_assert_cmpint (result.records_pushed, ==, 2);
  device_sync_ok (home, w.device->url, NULL, &result);
  g_assert_cmpint (result.records_pulled, ==, 1);
  g_assert_cmpint (result.records_pushed, ==, 0);
  {
    g_autoptr(MorangoStore) h = device_store (home);

    g_assert_true (has_row (h, "lessonassignment", new_assignment));
    g_assert_false (has_row (h, "lesson", new_lesson));
  }

  /* Facility, City, Cloud and City 2 are one; Home is Facility for A. */
  expected_store = ledger_count (w.ledger, facility_filter, FALSE);
  expected_app = ledger_count (w.ledger, facility_filter, TRUE);
  g_assert_cmpuint (expected_app, >, 50);
  g_assert_cmpuint (expected_store, >, expected_app);
  {
    g_autoptr(MorangoStore) h = device_store (home);
    g_autoptr(MorangoStore) f = device_store (w.device);
    g_autoptr(MorangoStore) c = device_store (city);
    g_autoptr(MorangoStore) k = device_store (cloud);
    g_autoptr(MorangoStore) c2 = device_store (city2);
    MorangoStore *facility_devices[] = { f, c, k, c2 };
    g_autofree char *facility_all = digests (f, facility_filter, NULL, NULL);
    g_autofree char *home_a = NULL;
    g_autofree char *facility_a = NULL;
    guint n_store = 0, n_app = 0;

    for (guint i = 0; i < G_N_ELEMENTS (facility_devices); i++)
      {
        g_autofree char *theirs = digests (facility_devices[i], facility_filter, &n_store, &n_app);

        g_test_message ("facility device %u: %u store rows, %u application rows", i, n_store, n_app);
        g_assert_cmpstr (theirs, ==, facility_all);
        g_assert_cmpuint (n_store, ==, expected_store);
        g_assert_cmpuint (n_app, ==, expected_app);
        /* B, the coach, the lessons and Home's work, by name. */
        g_assert_true (has_row (facility_devices[i], "facilityuser", b));
        g_assert_true (has_row (facility_devices[i], "facilityuser", w.coach));
        g_assert_true (has_row (facility_devices[i], "lesson", g_ptr_array_index (w.lessons, 0)));
        assert_holds (w.ledger, h, facility_devices[i], touched);
        g_assert_true (has_row (facility_devices[i], "lesson", new_lesson));
      }

    home_a = digests (h, home_filter, &n_store, &n_app);
    facility_a = digests (f, home_filter, NULL, NULL);
    g_assert_cmpstr (home_a, ==, facility_a);
    g_assert_cmpuint (n_store, ==, ledger_count (w.ledger, home_filter, FALSE));
    g_assert_cmpuint (n_app, ==, ledger_count (w.ledger, home_filter, TRUE));
    g_assert_cmpuint (n_app, >, 20);
    g_assert_true (has_row (h, "facilityuser", a));
    g_assert_false (has_row (h, "facilityuser", b));
    g_assert_false (has_row (h, "lesson", g_ptr_array_index (w.lessons, 0)));
    {
      gint64 n = -1;

      g_assert_true (morango_db_query_int64 (morango_store_get_db (h), &n, NULL, &error,
                                             "SELECT count(*) FROM morango_store WHERE instr (partition, ?) > 0",
                                             "s", b));
      g_assert_no_error (error);
      g_assert_cmpint (n, ==, 0);
    }
  }
  world_clear (&w);
}

/* ------------------------------------------------------------------ */
/* 2. What a peer may not do */

/* Facility's folder served a second time, by a server whose clock the
 * test sets, on a thread of its own; the test talks HTTP to it. */
typedef struct {
  MorangoHttpServer *server;
  GThread           *thread;
  GMainContext      *context;
  GMainLoop         *loop;
  GMutex             lock;
  GCond              cond;
  char              *api;
  gint64             now;
  SoupSession       *session;
} ClockedServer;

static gint64
clocked_now (gpointer data)
{
  ClockedServer *s = data;

  /* Set by the test only between its requests. */
  return s->now;
}

static gpointer
clocked_serve (gpointer data)
{
  ClockedServer *s = data;
  g_autoptr(GError) error = NULL;

  g_main_context_push_thread_default (s->context);
  g_assert_true (morango_http_server_listen (s->server, "127.0.0.1", 0, &error));
  g_assert_no_error (error);
  g_mutex_lock (&s->lock);
  s->api = g_strdup_printf ("http://127.0.0.1:%u/api/morango/v1/", morango_http_server_get_port (s->server));
  g_cond_signal (&s->cond);
  g_mutex_unlock (&s->lock);
  g_main_loop_run (s->loop);
  morango_http_server_disconnect (s->server);
  while (g_main_context_iteration (s->context, FALSE))
    ;
  g_main_context_pop_thread_default (s->context);
  return NULL;
}

static void
clocked_start (ClockedServer *s,
               const char    *dir,
               gint64         now)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoHostInfo) host = morango_host_info_new_from_system ();

  s->now = now;
  s->server = morango_http_server_new (dir, NULL, host, &error);
  g_assert_no_error (error);
  morango_http_server_set_clock (s->server, clocked_now, s);
  s->context = g_main_context_new ();
  s->loop = g_main_loop_new (s->context, FALSE);
  g_mutex_init (&s->lock);
  g_cond_init (&s->cond);
  g_mutex_lock (&s->lock);
  s->thread = g_thread_new ("clocked-server", clocked_serve, s);
  while (s->api == NULL)
    g_cond_wait (&s->cond, &s->lock);
  g_mutex_unlock (&s->lock);
  s->session = soup_session_new ();
}

static void
clocked_stop (ClockedServer *s)
{
  g_clear_object (&s->session);
  g_main_loop_quit (s->loop);
  g_thread_join (s->thread);
  g_clear_object (&s->server);
  g_main_loop_unref (s->loop);
  g_main_context_unref (s->context);
  g_mutex_clear (&s->lock);
  g_cond_clear (&s->cond);
  g_free (s->api);
}

static JsonNode *
http_post (ClockedServer *s,
           const char    *path,
           JsonObject    *body,
           guint         *status)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *url = g_strconcat (s->api, path, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new ("POST", url);
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(JsonNode) wrapped = NULL;
  g_autofree char *text = NULL;
  JsonNode *node;

  if (body != NULL)
    {
      g_autoptr(GBytes) bytes = NULL;

      wrapped = json_node_new (JSON_NODE_OBJECT);
      json_node_set_object (wrapped, body);
      text = json_to_string (wrapped, FALSE);
      bytes = g_bytes_new (text, strlen (text));
      soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
    }
  reply = soup_session_send_and_read (s->session, msg, NULL, &error);
  g_assert_no_error (error);
  *status = soup_message_get_status (msg);
  node = json_from_string (g_bytes_get_data (reply, NULL), &error);
  g_assert_no_error (error);
  return node;
}

static char *
new_nonce (ClockedServer *s)
{
  guint status = 0;
  g_autoptr(JsonNode) node = http_post (s, "nonces/", NULL, &status);

  g_assert_cmpuint (status, ==, 201);
  return g_strdup (json_object_get_string_member (json_node_get_object (node), "id"));
}

/* A POST syncsessions/ body for @client (chain from @db), signed as
 * Morango's client signs it. */
static JsonObject *
handshake (MorangoDb          *db,
           MorangoCertificate *client,
           MorangoCertificate *server,
           const char         *nonce,
           const char         *session_id,
           const char         *api)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) chain = morango_certificate_get_chain (db, morango_certificate_get_id (client), &error);
  JsonObject *body;

  g_assert_no_error (error);
  /* The last one must be the one holding the private key. */
  g_object_unref (g_ptr_array_index (chain, chain->len - 1));
  g_ptr_array_index (chain, chain->len - 1) = g_object_ref (client);
  body = morango_http_trust_build_sync_session_request (chain, server, nonce, session_id, api,
                                                        "{\"id\": \"0123456789abcdef0123456789abcdef\"}",
                                                        "127.0.0.1", "127.0.0.1", &error);
  g_assert_no_error (error);
  return body;
}

static void
assert_answer (JsonNode   *node,
               guint       status,
               guint       expected_status,
               const char *expected)
{
  g_autofree char *text = morango_test_json_to_string (node);

  if (status != expected_status || (expected != NULL && strstr (text, expected) == NULL))
    g_error ("answered %u %s; expected %u %s", status, text, expected_status, expected ? expected : "");
}

static gint64
count_certificates (Device *d)
{
  g_autoptr(MorangoStore) store = device_store (d);

  return count_rows (store, "SELECT count(*) FROM morango_certificate");
}

static void
test_authorization (void)
{
  g_autofree char *root = morango_test_tmpdir ();
  World w = { 0 };
  g_autoptr(Device) home = NULL;
  g_autoptr(Device) rogue = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoFilter) everything = filter_of ("", NULL);
  g_autofree char *home_cert = NULL;
  g_autofree char *classroom = NULL;
  MorangoEngineSyncOptions pull = { .pull = TRUE };
  const char *a, *b;

  world_init (&w, root, 2, 5);
  a = learner (&w, 0);
  b = learner (&w, 1);
  home = device_new (root, "home");

  /* Wrong credentials at pairing: 401, and nothing stored. */
  {
    gint64 before = count_certificates (home);
    g_autofree char *id = device_pair (home, w.device->url, "single-user", a, NULL, "wrong", &error);

    g_assert_null (id);
    assert_refused (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED, "401", "Invalid credentials.");
    g_clear_error (&error);
    id = device_pair (home, w.device->url, "single-user", a, "nobody", PASSWORD, &error);
    g_assert_null (id);
    assert_refused (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED, "401", "Invalid credentials.");
    g_clear_error (&error);
    g_assert_cmpint (count_certificates (home), ==, before);
  }
  /* An account that may only hand out single-user certificates asks
   * for a full-facility one: 403. */
  {
    static const char * const single[] = { "single-user", NULL };
    g_autoptr(MorangoStore) f = device_store (w.device);
    gint64 before = count_certificates (home);
    g_autofree char *id = NULL;

    g_assert_true (morango_account_set_password (morango_store_get_db (f), morango_store_get_random (f),
                                                 "teacher", "teacher's password", single, &error));
    g_assert_no_error (error);
    id = device_pair (home, w.device->url, "full-facility", NULL, "teacher", "teacher's password", &error);
    g_assert_null (id);
    assert_refused (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED, "403",
                    "You do not have permission to perform this action.");
    g_clear_error (&error);
    g_assert_cmpint (count_certificates (home), ==, before);
  }

  home_cert = device_pair (home, w.device->url, "single-user", a, NULL, PASSWORD, &error);
  g_assert_no_error (error);
  device_sync_ok (home, w.device->url, &pull, NULL);

  /* Pulling B's partition: 403, nothing applied. */
  {
    g_autofree char *b_rw = g_strdup_printf ("%s:user-rw:%s", w.dataset, b);
    g_autofree char *b_ro = g_strdup_printf ("%s:user-ro:%s", w.dataset, b);
    const char *filters[] = { b_rw, NULL };
    const char *filters_ro[] = { b_ro, NULL };
    MorangoEngineSyncOptions options = { .pull = TRUE, .filters = filters };
    g_autoptr(MorangoStore) h = device_store (home);
    g_autofree char *before = digests (h, everything, NULL, NULL);
    g_autofree char *after = NULL;
    g_autofree char *after_ro = NULL;

    g_assert_false (device_sync (home, w.device->url, &options, NULL, NULL, &error));
    assert_refused (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED, "403",
                    "Client certificate scope does not permit pulling for the requested filter.");
    g_clear_error (&error);
    after = digests (h, everything, NULL, NULL);
    g_assert_cmpstr (after, ==, before);
    options.filters = filters_ro;
    g_assert_false (device_sync (home, w.device->url, &options, NULL, NULL, &error));
    assert_refused (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED, "403",
                    "Client certificate scope does not permit pulling for the requested filter.");
    g_clear_error (&error);
    after_ro = digests (h, everything, NULL, NULL);
    g_assert_cmpstr (after_ro, ==, before);
    g_assert_false (has_row (h, "facilityuser", b));
  }

  /* Home makes a classroom (a partition it may read, not write) and
   * pushes it: refused, and the ordinary push leaves it out. */
  {
    g_autoptr(MorangoStore) h = device_store (home);
    g_autofree char *fields = g_strdup_printf ("{\"dataset_id\": \"%s\", \"facility_id\": \"%s\", "
                                               "\"name\": \"Home school\"}", w.dataset, w.facility);

    classroom = make (h, w.ledger, "classroom", fields);
  }
  {
    g_autofree char *ro_all = g_strdup_printf ("%s:allusers-ro", w.dataset);
    g_autofree char *b_rw = g_strdup_printf ("%s:user-rw:%s", w.dataset, b);
    const char *filters[] = { ro_all, NULL };
    const char *filters_b[] = { b_rw, NULL };
    MorangoEngineSyncOptions options = { .push = TRUE, .filters = filters };
    g_autoptr(MorangoStore) f = device_store (w.device);
    g_autofree char *before = digests (f, everything, NULL, NULL);
    g_autofree char *after = NULL;
    MorangoEngineSyncResult result = { 0 };

    g_assert_false (device_sync (home, w.device->url, &options, NULL, NULL, &error));
    assert_refused (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED, "403",
                    "Client certificate scope does not permit pushing for the requested filter.");
    g_clear_error (&error);
    options.filters = filters_b;
    g_assert_false (device_sync (home, w.device->url, &options, NULL, NULL, &error));
    assert_refused (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED, "403",
                    "Client certificate scope does not permit pushing for the requested filter.");
    g_clear_error (&error);
    after = digests (f, everything, NULL, NULL);
    g_assert_cmpstr (after, ==, before);
    g_assert_false (has_row (f, "classroom", classroom));

    options.filters = NULL;
    device_sync_ok (home, w.device->url, &options, &result);
    g_assert_false (has_row (f, "classroom", classroom));
    g_assert_null (store_flags (f, classroom));
  }

  /* The handshake, at the HTTP level, against Facility's folder served
   * with a clock the test sets. */
  {
    const gint64 t0 = g_get_real_time () / G_USEC_PER_SEC;
    ClockedServer s = { 0 };
    g_autoptr(MorangoStore) h = device_store (home);
    MorangoDb *db = morango_store_get_db (h);
    g_autoptr(MorangoCertificate) client = morango_certificate_load (db, home_cert, &error);
    g_autoptr(MorangoCertificate) server = NULL;
    g_autofree char *nonce = NULL;
    g_autofree char *other = NULL;
    g_autofree char *late = NULL;
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;
    guint status = 0;

    g_assert_no_error (error);
    g_assert_true (morango_certificate_has_private_key (client));
    server = morango_certificate_load (db, morango_certificate_get_parent_id (client), &error);
    g_assert_no_error (error);
    clocked_start (&s, w.device->dir, t0);

    nonce = new_nonce (&s);
    {
      /* A forged signature (over another session): 403, and the nonce
       * is not spent. */
      g_autoptr(JsonObject) body = handshake (db, client, server, nonce, "00000000000000000000000000000001", s.api);
      g_autoptr(JsonObject) decoy = handshake (db, client, server, nonce, "00000000000000000000000000000002", s.api);
      g_autoptr(JsonNode) answer = NULL;
      g_autofree char *genuine = g_strdup (json_object_get_string_member (body, "signature"));

      json_object_set_string_member (body, "signature", json_object_get_string_member (decoy, "signature"));
      answer = http_post (&s, "syncsessions/", body, &status);
      assert_answer (answer, status, 403, "Client certificate failed to verify signature");
      g_clear_pointer (&answer, json_node_unref);
      /* The same with the genuine signature goes through. */
      json_object_set_string_member (body, "signature", genuine);
      answer = http_post (&s, "syncsessions/", body, &status);
      assert_answer (answer, status, 201, "signature");
    }
    {
      /* The nonce again, for another session: 403. */
      g_autoptr(JsonObject) body = handshake (db, client, server, nonce, "00000000000000000000000000000003", s.api);
      g_autoptr(JsonNode) answer = http_post (&s, "syncsessions/", body, &status);

      assert_answer (answer, status, 403, "Nonce is not valid");
    }
    {
      /* A nonce never issued: 403. */
      g_autoptr(JsonObject) body = handshake (db, client, server, "ffffffffffffffffffffffffffffffff",
                                              "00000000000000000000000000000004", s.api);
      g_autoptr(JsonNode) answer = http_post (&s, "syncsessions/", body, &status);

      assert_answer (answer, status, 403, "Nonce is not valid");
    }
    {
      /* Two nonces of one second: the first used 59 s later goes
       * through, the second 60 s later is expired. */
      g_autoptr(JsonObject) body = NULL;
      g_autoptr(JsonNode) answer = NULL;

      other = new_nonce (&s);
      late = new_nonce (&s);
      s.now = t0 + 59;
      body = handshake (db, client, server, other, "00000000000000000000000000000005", s.api);
      answer = http_post (&s, "syncsessions/", body, &status);
      assert_answer (answer, status, 201, "signature");
      g_clear_pointer (&answer, json_node_unref);
      g_clear_pointer (&body, json_object_unref);
      s.now = t0 + 60;
      body = handshake (db, client, server, late, "00000000000000000000000000000006", s.api);
      answer = http_post (&s, "syncsessions/", body, &status);
      assert_answer (answer, status, 403, "Nonce is not valid");
    }
    {
      /* A chain ending in a root Facility never trusted: 403, and none
       * of it is stored. */
      g_autoptr(MorangoStore) r = NULL;
      g_autoptr(MorangoCertificate) rogue_root = NULL;
      g_autoptr(MorangoCertificate) rogue_client = NULL;
      g_autoptr(MorangoKey) key = NULL;
      g_autoptr(JsonObject) body = NULL;
      g_autoptr(JsonNode) answer = NULL;
      g_autoptr(MorangoStore) f = device_store (w.device);
      g_autofree char *params = NULL;
      g_autofree char *fresh = new_nonce (&s);

      rogue = device_new (root, "rogue");
      r = device_store (rogue);
      rogue_root = morango_certificate_create_root (morango_store_get_db (r), "full-facility", NULL, NULL, &error);
      g_assert_no_error (error);
      key = morango_key_generate (&error);
      g_assert_no_error (error);
      params = g_strdup_printf ("{\"dataset_id\": \"%s\", \"user_id\": \"%s\"}",
                                morango_certificate_get_id (rogue_root), a);
      rogue_client = morango_certificate_issue (morango_store_get_db (r), rogue_root, "single-user", -1, params,
                                                key, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (morango_certificate_save (rogue_client, morango_store_get_db (r), &error));
      g_assert_no_error (error);
      before = digests (f, everything, NULL, NULL);
      {
        gint64 certs = count_certificates (w.device);

        body = handshake (morango_store_get_db (r), rogue_client, server, fresh,
                          "00000000000000000000000000000007", s.api);
        answer = http_post (&s, "syncsessions/", body, &status);
        assert_answer (answer, status, 403, "CertificateRootUntrusted");
        g_assert_cmpint (count_certificates (w.device), ==, certs);
      }
      after = digests (f, everything, NULL, NULL);
      g_assert_cmpstr (after, ==, before);
      /* The refusal did not spend the nonce. */
      g_clear_pointer (&body, json_object_unref);
      g_clear_pointer (&answer, json_node_unref);
      body = handshake (db, client, server, fresh, "00000000000000000000000000000008", s.api);
      answer = http_post (&s, "syncsessions/", body, &status);
      assert_answer (answer, status, 201, "signature");
    }
    clocked_stop (&s);
  }
  world_clear (&w);
}

/* ------------------------------------------------------------------ */
/* 3. Many clients at once */

#define N_CLIENTS 20
#define CLIENT_LOGS 15

static void
test_many_clients (void)
{
  g_autofree char *root = morango_test_tmpdir ();
  World w = { 0 };
  Device *clients[N_CLIENTS] = { NULL };
  Await awaits[N_CLIENTS] = { { NULL } };
  GPtrArray *made[N_CLIENTS] = { NULL };
  MorangoEngineSyncOptions pull = { .pull = TRUE };
  g_autoptr(MorangoFilter) everything = NULL;

  world_init (&w, root, N_CLIENTS, 2);
  everything = filter_of (w.dataset, NULL);

  for (guint i = 0; i < N_CLIENTS; i++)
    {
      g_autofree char *name = g_strdup_printf ("client-%02u", i);

      clients[i] = device_new (root, name);
      made[i] = g_ptr_array_new_with_free_func (g_free);
    }
  /* All pair at once, then all pull at once. */
  for (guint i = 0; i < N_CLIENTS; i++)
    pair_start (clients[i], w.device->url, "single-user", learner (&w, i), NULL, PASSWORD, &awaits[i]);
  for (guint i = 0; i < N_CLIENTS; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *id = pair_finish (clients[i], &awaits[i], &error);

      g_assert_no_error (error);
      g_assert_true (morango_is_hex32 (id));
    }
  for (guint i = 0; i < N_CLIENTS; i++)
    morango_engine_sync_async (clients[i]->engine, w.device->url, &pull, NULL, on_done, &awaits[i]);
  for (guint i = 0; i < N_CLIENTS; i++)
    {
      g_autoptr(GError) error = NULL;
      g_assert_true (sync_finish (clients[i], &awaits[i], NULL, &error));
      g_assert_no_error (error);
    }

  /* Each learner works on their own device. */
  for (guint i = 0; i < N_CLIENTS; i++)
    {
      g_autoptr(MorangoStore) store = device_store (clients[i]);
      g_autoptr(GError) error = NULL;
      g_autoptr(MorangoTransaction) tx = morango_transaction_begin (morango_store_get_db (store), NULL, &error);

      g_assert_true (has_row (store, "facilityuser", learner (&w, i)));
      make_logs (&w, store, learner (&w, i), CLIENT_LOGS, made[i], made[i]);
      g_assert_true (morango_transaction_commit (g_steal_pointer (&tx), &error));
      g_assert_no_error (error);
    }

  /* All twenty sync at once. */
  for (guint i = 0; i < N_CLIENTS; i++)
    morango_engine_sync_async (clients[i]->engine, w.device->url, NULL, NULL, on_done, &awaits[i]);
  for (guint i = 0; i < N_CLIENTS; i++)
    {
      g_autoptr(GError) error = NULL;
      MorangoEngineSyncResult result = { 0 };

      if (!sync_finish (clients[i], &awaits[i], &result, &error))
        g_error ("client %u: %s", i, error->message);
      g_assert_cmpint (result.records_pushed, ==, 2 * CLIENT_LOGS);
    }

  {
    g_autoptr(MorangoStore) f = device_store (w.device);
    guint n_store = 0, n_app = 0;
    g_autofree char *all = digests (f, everything, &n_store, &n_app);

    for (guint i = 0; i < N_CLIENTS; i++)
      {
        g_autoptr(MorangoStore) c = device_store (clients[i]);
        g_autoptr(MorangoFilter) filter = learner_filter (w.dataset, learner (&w, i));
        guint n_client_store = 0, n_client_app = 0;
        g_autofree char *ours = digests (c, filter, &n_client_store, &n_client_app);
        g_autofree char *theirs = digests (f, filter, NULL, NULL);

        assert_holds (w.ledger, c, f, made[i]);
        g_assert_cmpstr (ours, ==, theirs);
        g_assert_cmpuint (n_client_store, ==, ledger_count (w.ledger, filter, FALSE));
        g_assert_cmpuint (n_client_app, ==, n_client_store);
        g_assert_cmpuint (n_client_app, >=, 2 * CLIENT_LOGS);
      }
    /* Facility's store holds what was synced (its lessons and the
     * coach never were); its tables hold every record. */
    g_assert_cmpuint (n_store, ==, ledger_count (w.ledger, everything, FALSE) - 3);
    g_assert_cmpuint (n_app, ==, ledger_count (w.ledger, everything, TRUE));
    g_assert_cmpuint (n_app, >=, N_CLIENTS * 2 * CLIENT_LOGS);
  }

  for (guint i = 0; i < N_CLIENTS; i++)
    {
      g_ptr_array_unref (made[i]);
      device_free (clients[i]);
    }
  world_clear (&w);
}

/* ------------------------------------------------------------------ */
/* 4. Progress and cancel */

/* A proxy in front of a server that holds, while armed, every chunk
 * request (GET buffers/) from record @hold_from on: a pull then stops
 * there for sure, whatever the timing, until the client gives up. */
typedef struct {
  SoupServer  *soup;
  SoupSession *session;
  guint        target_port;
  char        *url;
  gboolean     armed;
  gint64       hold_from;
  guint        held;
  guint        in_flight;
} Proxy;

typedef struct {
  Proxy             *proxy;
  SoupServerMessage *msg;
  SoupMessage       *out;
  gboolean           gone;     /* the client hung up */
} Forward;

static void
forward_free (Forward *f)
{
  g_clear_object (&f->out);
  g_object_unref (f->msg);
  g_free (f);
}

static void
on_client_gone (SoupServerMessage *msg,
                Forward           *f)
{
  f->gone = TRUE;
}

static void
copy_header (const char *name,
             const char *value,
             gpointer    data)
{
  static const char * const skipped[] = { "Host", "Content-Length", "Connection", "Transfer-Encoding",
                                          "Keep-Alive", "Date", "Server", NULL };

  for (guint i = 0; skipped[i] != NULL; i++)
    if (g_ascii_strcasecmp (name, skipped[i]) == 0)
      return;
  soup_message_headers_append (data, name, value);
}

static void
forwarded (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  Forward *f = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);

  if (!f->gone)
    {
      if (body == NULL)
        soup_server_message_set_status (f->msg, SOUP_STATUS_BAD_GATEWAY, NULL);
      else
        {
          gsize size;
          const char *bytes = g_bytes_get_data (body, &size);

          soup_message_headers_foreach (soup_message_get_response_headers (f->out), copy_header,
                                        soup_server_message_get_response_headers (f->msg));
          soup_server_message_set_status (f->msg, soup_message_get_status (f->out), NULL);
          soup_message_body_append (soup_server_message_get_response_body (f->msg), SOUP_MEMORY_COPY,
                                    bytes, size);
        }
      soup_server_message_unpause (f->msg);
    }
  g_signal_handlers_disconnect_by_data (f->msg, f);
  f->proxy->in_flight--;
  forward_free (f);
}

static void
forward_send (Forward *f)
{
  f->proxy->in_flight++;
  soup_session_send_and_read_async (f->proxy->session, f->out, G_PRIORITY_DEFAULT, NULL, forwarded, f);
}

static GPtrArray *held_requests;

static void
proxy_handler (SoupServer        *server,
               SoupServerMessage *msg,
               const char        *path,
               GHashTable        *query,
               gpointer           data)
{
  Proxy *p = data;
  GUri *uri = soup_server_message_get_uri (msg);
  const char *method = soup_server_message_get_method (msg);
  g_autofree char *target = g_strdup_printf ("http://127.0.0.1:%u%s%s%s", p->target_port, path,
                                             g_uri_get_query (uri) ? "?" : "",
                                             g_uri_get_query (uri) ? g_uri_get_query (uri) : "");
  SoupMessageHeaders *in_headers = soup_server_message_get_request_headers (msg);
  g_autoptr(GBytes) body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  Forward *f = g_new0 (Forward, 1);

  f->proxy = p;
  f->msg = g_object_ref (msg);
  f->out = soup_message_new (method, target);
  soup_message_headers_foreach (in_headers, copy_header, soup_message_get_request_headers (f->out));
  if (g_bytes_get_size (body) > 0)
    soup_message_set_request_body_from_bytes (f->out, soup_message_headers_get_content_type (in_headers, NULL),
                                              body);
  g_signal_connect (msg, "disconnected", G_CALLBACK (on_client_gone), f);
  soup_server_message_pause (msg);

  if (p->armed && g_str_equal (method, "GET") && g_str_has_suffix (path, "/buffers/") && query != NULL &&
      g_hash_table_lookup (query, "offset") != NULL &&
      g_ascii_strtoll (g_hash_table_lookup (query, "offset"), NULL, 10) >= p->hold_from)
    {
      p->held++;
      g_ptr_array_add (held_requests, f);
      return;
    }
  forward_send (f);
}

static void
proxy_start (Proxy *p,
             guint  target_port)
{
  g_autoptr(GError) error = NULL;
  GSList *uris;

  p->target_port = target_port;
  p->soup = soup_server_new ("server-header", "test-proxy", NULL);
  soup_server_add_handler (p->soup, NULL, proxy_handler, p, NULL);
  g_assert_true (soup_server_listen_local (p->soup, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (p->soup);
  p->url = g_strdup_printf ("http://127.0.0.1:%d/", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  /* Bodies pass through as they are, gzip included. */
  p->session = soup_session_new ();
  soup_session_remove_feature_by_type (p->session, SOUP_TYPE_CONTENT_DECODER);
  held_requests = g_ptr_array_new ();
}

/* Disarms the proxy and sends on what it held. */
static void
proxy_release (Proxy *p)
{
  p->armed = FALSE;
  for (guint i = 0; i < held_requests->len; i++)
    forward_send (g_ptr_array_index (held_requests, i));
  g_ptr_array_set_size (held_requests, 0);
}

static void
proxy_stop (Proxy *p)
{
  proxy_release (p);
  /* Let what is in flight finish. */
  while (p->in_flight > 0)
    g_main_context_iteration (NULL, TRUE);
  soup_server_disconnect (p->soup);
  g_clear_object (&p->soup);
  g_clear_object (&p->session);
  g_clear_pointer (&held_requests, g_ptr_array_unref);
  g_free (p->url);
}

typedef struct {
  GCancellable *cancellable;
  guint         reports;
  guint         transfer_reports;
  gboolean      cancelled;
  gint64        done_at_cancel;
  gint64        last_done;          /* within the pull's transfer */
  gint64        last_received;
  gint64        first_received;
  gint64        total;
  char         *last_stage;
  gboolean      last_push;
  gboolean      saw_pull, saw_push;
} Watch;

static void
on_progress (const MorangoEngineProgress *p,
             gpointer                     data)
{
  Watch *watch = data;
  gboolean same_stage = watch->last_stage != NULL && g_str_equal (watch->last_stage, p->stage) &&
                        watch->last_push == p->push;

  /* On the caller's context, never on the sync's thread. */
  g_assert_true (g_thread_self () == main_thread);
  g_assert_nonnull (p->stage);
  watch->reports++;
  if (watch->reports == 1)
    watch->first_received = p->bytes_received;
  /* Bytes only grow, over the whole sync. */
  g_assert_cmpint (p->bytes_received, >=, watch->last_received);
  g_assert_cmpint (p->bytes_sent, >=, 0);
  watch->last_received = p->bytes_received;
  if (p->push)
    watch->saw_push = TRUE;
  else
    watch->saw_pull = TRUE;
  /* Records only grow within a stage. */
  if (same_stage)
    g_assert_cmpint (p->done, >=, watch->last_done);
  watch->last_done = p->done;
  g_free (watch->last_stage);
  watch->last_stage = g_strdup (p->stage);
  watch->last_push = p->push;

  if (!p->push && g_str_equal (p->stage, "transfer"))
    {
      watch->transfer_reports++;
      watch->total = p->total;
      if (p->total >= 0)
        g_assert_cmpint (p->done, <=, p->total);
      /* The first report of the pull's transfer with records in it. */
      if (watch->cancellable != NULL && !watch->cancelled && p->done > 0)
        {
          watch->cancelled = TRUE;
          watch->done_at_cancel = p->done;
          g_cancellable_cancel (watch->cancellable);
        }
    }
}

static MorangoHistoryEntry *
take_entry (GPtrArray *entries,
            guint      i)
{
  return g_ptr_array_index (entries, i);
}

static void
test_progress_cancel (void)
{
  g_autofree char *root = morango_test_tmpdir ();
  World w = { 0 };
  Proxy proxy = { 0 };
  g_autoptr(Device) home = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(MorangoFilter) filter = NULL;
  g_autofree char *cert = NULL;
  Watch watch = { 0 };
  MorangoEngineSyncOptions options = { .pull = TRUE, .chunk_size = 100, .progress = on_progress };
  MorangoEngineSyncResult result = { 0 };
  guint facility_changes, home_changes;
  gint64 expected;

  /* 2 × 1,500 logs of one learner: 30 chunks of 100. */
  world_init (&w, root, 1, 1500);
  filter = learner_filter (w.dataset, learner (&w, 0));
  expected = ledger_count (w.ledger, filter, FALSE);
  g_assert_cmpint (expected, >, 3000);
  proxy_start (&proxy, morango_engine_get_port (w.device->engine));

  home = device_new (root, "home");
  cert = device_pair (home, proxy.url, "single-user", learner (&w, 0), NULL, PASSWORD, &error);
  g_assert_no_error (error);
  home_changes = home->peers_changed;
  g_assert_cmpuint (home_changes, >=, 1);

  /* Cancelled at the first transfer report with records in it; the
   * proxy holds everything from record 2,000 on, so that report comes
   * before the pull could end. */
  proxy.armed = TRUE;
  proxy.hold_from = 2000;
  watch.cancellable = cancellable;
  options.progress_data = &watch;
  g_assert_false (device_sync (home, proxy.url, &options, cancellable, &result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_true (watch.cancelled);
  g_assert_cmpint (watch.done_at_cancel, >, 0);
  g_assert_cmpint (watch.done_at_cancel, <, expected);
  g_assert_cmpint (watch.total, ==, expected);
  /* The proxy's hold is what makes it mid-transfer, whatever the
   * timing: the report came before record 2,000 could. */
  g_assert_cmpint (watch.done_at_cancel, <=, proxy.hold_from);
  g_assert_true (watch.saw_pull);
  g_assert_false (watch.saw_push);
  await_count (&home->peers_changed, home_changes + 1);
  {
    g_autoptr(MorangoStore) h = device_store (home);
    g_autoptr(GPtrArray) entries = morango_history_list (h, NULL, 0, &error);
    g_autoptr(GPtrArray) peers = morango_known_peer_list (h, FALSE, &error);
    MorangoKnownPeer *peer;
    gint64 received = -1;

    g_assert_no_error (error);
    g_assert_cmpuint (entries->len, ==, 1);
    g_assert_cmpint (take_entry (entries, 0)->result, ==, MORANGO_SYNC_RESULT_CANCELLED);
    g_assert_cmpint (take_entry (entries, 0)->direction, ==, MORANGO_SYNC_DIRECTION_PULL);
    g_assert_cmpuint (peers->len, ==, 1);
    peer = g_ptr_array_index (peers, 0);
    g_assert_cmpstr (peer->address, ==, proxy.url);
    /* A cancel is the user's doing: the peer stays paired. */
    g_assert_cmpint (peer->state, ==, MORANGO_PEER_STATE_PAIRED);
    g_assert_cmpint (peer->last_success, ==, 0);
    /* Nothing reached the application tables; some records wait in the
     * incoming buffer, the rest is still to come. */
    g_assert_cmpint (count_rows (h, "SELECT count(*) FROM kolibri_contentsummarylog"), ==, 0);
    g_assert_cmpint (count_rows (h, "SELECT count(*) FROM morango_store"), ==, 0);
    received = count_rows (h, "SELECT count(*) FROM morango_buffer");
    g_assert_cmpint (received, >, 0);
    g_assert_cmpint (received, <, expected);
  }

  /* The next sync takes up where the cancel left it. */
  proxy_release (&proxy);
  home_changes = home->peers_changed;
  facility_changes = w.device->peers_changed;
  memset (&watch, 0, sizeof watch);
  options.progress_data = &watch;
  device_sync_ok (home, proxy.url, &options, &result);
  g_assert_true (result.resumed);
  g_assert_cmpint (result.records_pulled, ==, expected);
  g_assert_cmpint (result.bytes_received, >, 0);
  g_assert_cmpuint (watch.reports, >, 0);
  g_assert_cmpint (watch.last_received, >, watch.first_received);
  g_assert_cmpint (watch.last_received, <=, result.bytes_received);
  await_count (&home->peers_changed, home_changes + 1);
  /* Facility learns of its client when the client closes its session. */
  await_count (&w.device->peers_changed, facility_changes + 1);
  {
    g_autoptr(MorangoStore) h = device_store (home);
    g_autoptr(MorangoStore) f = device_store (w.device);
    g_autoptr(GPtrArray) entries = morango_history_list (h, NULL, 0, &error);
    g_autoptr(GPtrArray) peers = morango_known_peer_list (h, FALSE, &error);
    g_autoptr(MorangoKnownPeer) client = morango_known_peer_lookup_instance (f, morango_engine_get_instance_id (home->engine),
                                                                             &error);
    guint n_store = 0, n_app = 0;
    g_autofree char *ours = digests (h, filter, &n_store, &n_app);
    g_autofree char *theirs = digests (f, filter, NULL, NULL);

    g_assert_no_error (error);
    g_assert_cmpstr (ours, ==, theirs);
    /* Nothing doubled: each record once, the buffers emptied. */
    g_assert_cmpuint (n_store, ==, expected);
    g_assert_cmpuint (n_app, ==, expected);
    g_assert_cmpint (count_rows (h, "SELECT count(*) FROM morango_store"), ==, expected);
    g_assert_cmpint (count_rows (h, "SELECT count(*) FROM morango_buffer"), ==, 0);
    g_assert_cmpuint (entries->len, ==, 2);
    g_assert_cmpint (take_entry (entries, 0)->result, ==, MORANGO_SYNC_RESULT_OK);
    g_assert_cmpint (take_entry (entries, 0)->counts.records_received, ==, expected);
    g_assert_cmpint (take_entry (entries, 1)->result, ==, MORANGO_SYNC_RESULT_CANCELLED);
    g_assert_cmpint (((MorangoKnownPeer *) g_ptr_array_index (peers, 0))->state, ==, MORANGO_PEER_STATE_SYNCED);
    g_assert_cmpint (((MorangoKnownPeer *) g_ptr_array_index (peers, 0))->last_success, >, 0);
    g_assert_nonnull (client);
    g_assert_true (client->roles & MORANGO_PEER_ROLE_CLIENT);
  }

  /* A sync with nothing new moves nothing and does not resume. */
  memset (&watch, 0, sizeof watch);
  options.pull = FALSE;
  device_sync_ok (home, proxy.url, &options, &result);
  g_assert_false (result.resumed);
  g_assert_cmpint (result.records_pulled, ==, 0);
  g_assert_cmpint (result.records_pushed, ==, 0);
  g_assert_true (watch.saw_pull);
  g_assert_true (watch.saw_push);
  g_free (watch.last_stage);

  proxy_stop (&proxy);
  world_clear (&w);
}

/* ------------------------------------------------------------------ */
/* The peers as the desktop app reads them */

static GPtrArray *
list_peers (Device *d)
{
  g_autoptr(GError) error = NULL;
  Await await = { NULL };
  GPtrArray *peers;

  morango_engine_list_peers_async (d->engine, NULL, on_done, &await);
  peers = morango_engine_list_peers_finish (d->engine, await_result (&await), &error);
  g_object_unref (await.result);
  g_assert_no_error (error);
  g_assert_nonnull (peers);
  return peers;
}

static void
test_list_peers (void)
{
  g_autofree char *root = morango_test_tmpdir ();
  g_autoptr(Device) home = device_new (root, "home");
  g_autoptr(MorangoStore) store = device_store (home);
  g_autoptr(GPtrArray) none = list_peers (home);
  g_autoptr(GPtrArray) two = NULL;
  g_autoptr(GPtrArray) one = NULL;
  g_autoptr(MorangoKnownPeer) a = NULL;
  g_autoptr(MorangoKnownPeer) b = NULL;
  g_autoptr(GError) error = NULL;
  MorangoKnownPeer *first, *second;

  g_assert_cmpuint (none->len, ==, 0);
  a = morango_known_peer_add (store, "School.example:8000", 1000, &error);
  g_assert_no_error (error);
  b = morango_known_peer_add (store, "http://127.0.0.1:9/", 2000, &error);
  g_assert_no_error (error);
  g_assert_true (morango_known_peer_record_failure (store, b->id, 3000, "Connection refused", &error));
  g_assert_no_error (error);

  two = list_peers (home);
  g_assert_cmpuint (two->len, ==, 2);
  first = g_ptr_array_index (two, 0);
  second = g_ptr_array_index (two, 1);
  g_assert_cmpstr (first->address, ==, "http://school.example:8000/");
  g_assert_cmpint (first->state, ==, MORANGO_PEER_STATE_ADDED);
  g_assert_cmpstr (second->address, ==, "http://127.0.0.1:9/");
  g_assert_cmpint (second->last_failure, ==, 3000);
  g_assert_cmpstr (second->last_failure_reason, ==, "Connection refused");

  /* A forgotten peer is not one the user has. */
  g_assert_true (morango_known_peer_forget (store, a->id, &error));
  g_assert_no_error (error);
  one = list_peers (home);
  g_assert_cmpuint (one->len, ==, 1);
  g_assert_cmpstr (((MorangoKnownPeer *) g_ptr_array_index (one, 0))->address, ==,
                   "http://127.0.0.1:9/");
}

int
main (int   argc,
      char *argv[])
{
  /* Every engine of the test is on this "machine". */
  g_setenv ("MORANGO_SYSTEM_ID", "test-engine-system", TRUE);
  g_setenv ("MORANGO_NODE_ID", "test-engine-node", TRUE);
  g_test_init (&argc, &argv, NULL);
  main_thread = g_thread_self ();

  g_test_add_func ("/engine/three-devices", test_three_devices);
  g_test_add_func ("/engine/five-devices", test_five_devices);
  g_test_add_func ("/engine/authorization", test_authorization);
  g_test_add_func ("/engine/many-clients", test_many_clients);
  g_test_add_func ("/engine/progress-cancel", test_progress_cancel);
  g_test_add_func ("/engine/list-peers", test_list_peers);
  return g_test_run ();
}
