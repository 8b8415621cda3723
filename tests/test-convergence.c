/* test-convergence.c: randomized convergence of five databases (kolibri-like)
 *
 * Two databases hold the full-facility scope of one dataset, three hold
 * single-user scopes (two devices of one learner, one of another).
 * Seeded random creates, updates, soft and hard deletes happen inside
 * each database's own scope; seeded random pairs sync with a filter that
 * both scopes allow (the gate of protocol §6.4 is asserted).  After every
 * sync no database holds a record its scope may not read.  At the end
 * two rounds through the full-facility hub (a spanning tree: two devices
 * of different learners share nothing they may write, so no path through
 * them carries data) make every pair agree on what they share: every
 * column of every store row (but local bookkeeping), its history and
 * conflict log, and every column of every application row.
 *
 * Repeat a run with MORANGO_TEST_SEED=<seed> (printed).
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "morango-app.h"
#include "morango-local-sync.h"
#include "morango-test-util.h"

#define N_DBS 5
#define N_LEARNERS 3

typedef struct {
  MorangoStore *store;
  MorangoScope *scope;
  const char   *learner;      /* NULL for a full-facility device */
  char         *name;
} Device;

typedef struct {
  MorangoRandom *rng;         /* drives the test's choices */
  char          *dir;
  char          *dataset;
  char          *learners[N_LEARNERS];
  Device         dev[N_DBS];
  guint          n_syncs;
  guint          n_skipped;
  guint          n_ops;
} World;

static guint
pick (World *w,
      guint  n)
{
  return morango_random_int_range (w->rng, 0, n);
}

static MorangoScope *
scope_for (MorangoStore *store,
           const char   *definition,
           const char   *params)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoScopeDefinition) def =
    morango_scope_definition_load (morango_store_get_db (store), definition, &error);
  MorangoScope *scope;

  g_assert_no_error (error);
  scope = morango_scope_new (def, params, &error);
  g_assert_no_error (error);
  return scope;
}

/* Entries of @a inside @b, and of @b inside @a: the widest filter both
 * allow.  NULL when they share nothing. */
static MorangoFilter *
intersect (MorangoFilter *a,
           MorangoFilter *b)
{
  g_autoptr(GPtrArray) entries = g_ptr_array_new ();

  for (guint i = 0; i < morango_filter_get_n_entries (a); i++)
    if (morango_filter_contains (b, morango_filter_get_entry (a, i)))
      g_ptr_array_add (entries, (gpointer) morango_filter_get_entry (a, i));
  for (guint i = 0; i < morango_filter_get_n_entries (b); i++)
    {
      const char *e = morango_filter_get_entry (b, i);
      gboolean covered = FALSE;

      for (guint j = 0; j < entries->len && !covered; j++)
        covered = morango_partition_has_prefix (e, g_ptr_array_index (entries, j));
      if (!covered && morango_filter_contains (a, e))
        g_ptr_array_add (entries, (gpointer) e);
    }
  if (entries->len == 0)
    return NULL;
  return morango_filter_new_from_entries ((const char * const *) entries->pdata, entries->len);
}

static char *
random_hex (World *w)
{
  return morango_random_uuid4_hex (w->rng);
}

static gboolean
create (Device     *d,
        const char *model,
        JsonObject *fields,
        char      **out_id)
{
  g_autoptr(GError) error = NULL;
  gboolean ok = morango_app_create (d->store, model, fields, out_id, &error);

  /* A row whose parent this device has deleted (or never received)
   * fails validation: that refusal is correct, the op is skipped. */
  if (!ok)
    g_assert_true (g_error_matches (error, MORANGO_ERROR, MORANGO_ERROR_VALIDATION) ||
                   g_error_matches (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND));
  return ok;
}

/* A random existing row id of @table on @d matching @where (constant
 * SQL with one bound value), or NULL. */
static char *
random_row (World      *w,
            Device     *d,
            const char *sql_count,
            const char *sql_pick,
            const char *value)
{
  MorangoDb *db = morango_store_get_db (d->store);
  gint64 n = 0;
  char *id = NULL;

  g_assert_true (morango_db_query_int64 (db, &n, NULL, NULL, sql_count, "s", value));
  if (n == 0)
    return NULL;
  g_assert_true (morango_db_query_text (db, &id, NULL, sql_pick, "si", value, (gint64) pick (w, n)));
  return id;
}

static void
log_op (World  *w,
        Device *d)
{
  const char *user = d->learner ? d->learner : w->learners[pick (w, N_LEARNERS)];
  gboolean session = pick (w, 2);
  const char *model = session ? "contentsessionlog" : "contentsummarylog";
  const char *table_count = session
    ? "SELECT count(*) FROM kolibri_contentsessionlog WHERE user_id = ?"
    : "SELECT count(*) FROM kolibri_contentsummarylog WHERE user_id = ?";
  const char *table_pick = session
    ? "SELECT id FROM kolibri_contentsessionlog WHERE user_id = ? ORDER BY id LIMIT 1 OFFSET ?"
    : "SELECT id FROM kolibri_contentsummarylog WHERE user_id = ? ORDER BY id LIMIT 1 OFFSET ?";
  g_autofree char *id = NULL;
  g_autoptr(GError) error = NULL;
  guint what = pick (w, 10);

  if (what < 4)
    {
      g_autoptr(JsonObject) f = json_object_new ();
      /* Summary log ids derive from (user, content): a small content
       * pool makes two devices create the same record, a conflict. */
      g_autofree char *content = g_strdup_printf ("%031x%x", 0xc0ffee, pick (w, 6));

      json_object_set_string_member (f, "dataset_id", w->dataset);
      json_object_set_string_member (f, "user_id", user);
      json_object_set_string_member (f, "content_id", content);
      json_object_set_double_member (f, "progress", pick (w, 100) / 100.0);
      create (d, model, f, NULL);
      return;
    }

  id = random_row (w, d, table_count, table_pick, user);
  if (id == NULL)
    return;
  if (what < 8)
    {
      g_autoptr(JsonObject) c = json_object_new ();
      json_object_set_double_member (c, "time_spent", pick (w, 1000) / 4.0);
      json_object_set_double_member (c, "progress", pick (w, 100) / 100.0);
      g_assert_true (morango_app_update (d->store, model, id, c, &error));
    }
  else
    g_assert_true (morango_app_delete (d->store, model, id, what == 9, &error));
  g_assert_no_error (error);
}

static void
coach_op (World  *w,
          Device *d)
{
  g_autoptr(GError) error = NULL;
  guint what = pick (w, 10);

  if (what < 3)
    {
      g_autofree char *classroom = random_row (w, d,
          "SELECT count(*) FROM kolibri_classroom WHERE dataset_id = ?",
          "SELECT id FROM kolibri_classroom WHERE dataset_id = ? ORDER BY id LIMIT 1 OFFSET ?", w->dataset);
      g_autoptr(JsonObject) f = json_object_new ();
      g_autofree char *title = g_strdup_printf ("Lesson %u", pick (w, 1000));

      if (classroom == NULL)
        return;
      json_object_set_string_member (f, "dataset_id", w->dataset);
      json_object_set_string_member (f, "classroom_id", classroom);
      json_object_set_string_member (f, "title", title);
      create (d, "lesson", f, NULL);
    }
  else if (what < 6)
    {
      const char *learner = w->learners[pick (w, N_LEARNERS)];
      g_autofree char *lesson = random_row (w, d,
          "SELECT count(*) FROM kolibri_lesson WHERE dataset_id = ?",
          "SELECT id FROM kolibri_lesson WHERE dataset_id = ? ORDER BY id LIMIT 1 OFFSET ?", w->dataset);
      g_autoptr(JsonObject) f = json_object_new ();

      if (lesson == NULL)
        return;
      json_object_set_string_member (f, "dataset_id", w->dataset);
      json_object_set_string_member (f, "lesson_id", lesson);
      json_object_set_string_member (f, "learner_id", learner);
      json_object_set_string_member (f, "title", "Assigned");
      create (d, "lessonassignment", f, NULL);
    }
  else if (what < 8)
    {
      g_autofree char *lesson = random_row (w, d,
          "SELECT count(*) FROM kolibri_lesson WHERE dataset_id = ?",
          "SELECT id FROM kolibri_lesson WHERE dataset_id = ? ORDER BY id LIMIT 1 OFFSET ?", w->dataset);
      g_autoptr(JsonObject) c = json_object_new ();
      g_autofree char *title = g_strdup_printf ("Edited %u", pick (w, 1000));

      if (lesson == NULL)
        return;
      json_object_set_string_member (c, "title", title);
      json_object_set_boolean_member (c, "is_active", pick (w, 2));
      g_assert_true (morango_app_update (d->store, "lesson", lesson, c, &error));
    }
  else
    {
      g_autofree char *assignment = random_row (w, d,
          "SELECT count(*) FROM kolibri_lessonassignment WHERE dataset_id = ?",
          "SELECT id FROM kolibri_lessonassignment WHERE dataset_id = ? ORDER BY id LIMIT 1 OFFSET ?",
          w->dataset);

      if (assignment == NULL)
        return;
      g_assert_true (morango_app_delete (d->store, "lessonassignment", assignment, what == 9, &error));
    }
  g_assert_no_error (error);
}

static void
random_op (World *w)
{
  Device *d = &w->dev[pick (w, N_DBS)];

  w->n_ops++;
  if (d->learner == NULL && pick (w, 2))
    coach_op (w, d);
  else
    log_op (w, d);
}

/* No database may hold a record outside what its scope may read. */
static void
assert_within_scope (Device *d)
{
  MorangoDb *db = morango_store_get_db (d->store);
  MorangoFilter *read = morango_scope_get_read (d->scope);
  sqlite3_stmt *stmt = morango_db_prepare (db, "SELECT id, partition FROM morango_store", NULL);

  while (sqlite3_step (stmt) == SQLITE_ROW)
    if (!morango_filter_contains (read, morango_db_column_text (stmt, 1)))
      g_error ("%s holds %s in partition %s, outside its read scope", d->name,
               morango_db_column_text (stmt, 0), morango_db_column_text (stmt, 1));
  sqlite3_reset (stmt);
}

static void
sync_pair (World  *w,
           Device *client,
           Device *server,
           gboolean push)
{
  g_autoptr(MorangoFilter) filter = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *refusal = NULL;
  MorangoLocalSyncStats stats;
  MorangoLocalSyncOptions options = MORANGO_LOCAL_SYNC_OPTIONS_INIT;

  options.client_writable = morango_scope_get_write (client->scope);
  options.server_writable = morango_scope_get_write (server->scope);
  filter = push ? intersect (morango_scope_get_write (client->scope), morango_scope_get_read (server->scope))
                : intersect (morango_scope_get_read (client->scope), morango_scope_get_write (server->scope));
  if (filter == NULL)
    {
      w->n_skipped++;
      return;
    }
  g_assert_true (morango_scope_gate_transfer (client->scope, server->scope, filter, push, &refusal));

  if (!morango_local_sync (client->store, server->store, filter, push, &options, &stats, &error))
    g_error ("%s %s %s: %s", client->name, push ? "push to" : "pull from", server->name, error->message);
  w->n_syncs++;
  assert_within_scope (client);
  assert_within_scope (server);
}

static const char * const app_tables[] = {
  "kolibri_facility", "kolibri_facilityuser", "kolibri_classroom", "kolibri_lesson",
  "kolibri_lessonassignment", "kolibri_contentsummarylog", "kolibri_contentsessionlog",
  "kolibri_anonymoussessionlog",
};

/* Datetimes travel with milliseconds (protocol quirk 24): the device
 * that wrote one keeps its microseconds, its peers hold them truncated.
 * Compared to the millisecond. */
static gboolean
is_datetime (const char *t)
{
  return strlen (t) >= 19 && t[4] == '-' && t[7] == '-' && t[10] == ' ' && t[13] == ':' &&
         t[16] == ':' && (t[19] == '\0' || t[19] == '.');
}

static void
append_value (GString      *out,
              sqlite3_stmt *stmt,
              int           col)
{
  const char *text = morango_db_column_text (stmt, col);

  if (sqlite3_column_type (stmt, col) == SQLITE_NULL)
    g_string_append (out, "NULL");
  else if (sqlite3_column_type (stmt, col) == SQLITE_TEXT && is_datetime (text))
    {
      char ms[4] = "000";

      for (guint i = 0; i < 3 && text[19] == '.' && g_ascii_isdigit (text[20 + i]); i++)
        ms[i] = text[20 + i];
      g_string_append_printf (out, "'%.19s.%s'", text, ms);
    }
  else
    {
      /* Conflict logs are lines: keep each row on one. */
      g_autofree char *escaped = g_strescape (text, NULL);
      g_string_append_printf (out, "'%s'", escaped);
    }
}

/* Everything @d holds inside @filter, one line per row: every column of
 * every store row (but the local bookkeeping: deserialization errors,
 * the last transfer session) with its history, then every column of
 * every application row (but the dirty bit). */
static GPtrArray *
dump (Device        *d,
      MorangoFilter *filter,
      gint64        *n_records)
{
  MorangoDb *db = morango_store_get_db (d->store);
  GPtrArray *lines = g_ptr_array_new_with_free_func (g_free);
  sqlite3_stmt *rows = morango_db_prepare (db,
      "SELECT partition, id, profile, serialized, deleted, hard_deleted, last_saved_instance, "
      "  last_saved_counter, source_id, model_name, conflicting_serialized_data, _self_ref_fk "
      "FROM morango_store ORDER BY id", NULL);

  *n_records = 0;
  while (sqlite3_step (rows) == SQLITE_ROW)
    {
      GString *out;
      sqlite3_stmt *rmc;

      if (!morango_filter_contains (filter, morango_db_column_text (rows, 0)))
        continue;
      (*n_records)++;
      out = g_string_new ("store");
      for (int c = 0; c < sqlite3_column_count (rows); c++)
        {
          g_string_append_c (out, ' ');
          append_value (out, rows, c);
        }
      g_string_append (out, " history");
      rmc = morango_db_prepare (db,
          "SELECT instance_id, counter FROM morango_recordmaxcounter WHERE store_model_id = ? "
          "ORDER BY instance_id", NULL);
      g_assert_true (morango_db_bind (db, rmc, NULL, "s", morango_db_column_text (rows, 1)));
      while (sqlite3_step (rmc) == SQLITE_ROW)
        g_string_append_printf (out, " %s=%" G_GINT64_FORMAT, morango_db_column_text (rmc, 0),
                                (gint64) sqlite3_column_int64 (rmc, 1));
      sqlite3_reset (rmc);
      g_ptr_array_add (lines, g_string_free (out, FALSE));
    }
  sqlite3_reset (rows);

  for (guint t = 0; t < G_N_ELEMENTS (app_tables); t++)
    {
      g_autofree char *sql = g_strdup_printf ("SELECT * FROM \"%s\" ORDER BY id", app_tables[t]);
      sqlite3_stmt *stmt = morango_db_prepare (db, sql, NULL);
      int partition_col = -1, dirty_col = -1;

      for (int c = 0; c < sqlite3_column_count (stmt); c++)
        if (g_str_equal (sqlite3_column_name (stmt, c), "_morango_partition"))
          partition_col = c;
        else if (g_str_equal (sqlite3_column_name (stmt, c), "_morango_dirty_bit"))
          dirty_col = c;
      g_assert_cmpint (partition_col, >=, 0);
      g_assert_cmpint (dirty_col, >=, 0);
      while (sqlite3_step (stmt) == SQLITE_ROW)
        {
          GString *out;

          if (!morango_filter_contains (filter, morango_db_column_text (stmt, partition_col)))
            continue;
          out = g_string_new (app_tables[t]);
          for (int c = 0; c < sqlite3_column_count (stmt); c++)
            if (c != dirty_col)
              {
                g_string_append_printf (out, " %s=", sqlite3_column_name (stmt, c));
                append_value (out, stmt, c);
              }
          g_ptr_array_add (lines, g_string_free (out, FALSE));
        }
      sqlite3_reset (stmt);
    }
  return lines;
}

static void
assert_agree (guint64  seed,
              Device  *a,
              Device  *b,
              gint64  *shared_total)
{
  g_autoptr(MorangoFilter) shared = intersect (morango_scope_get_read (a->scope),
                                               morango_scope_get_read (b->scope));
  g_autoptr(GPtrArray) la = NULL;
  g_autoptr(GPtrArray) lb = NULL;
  gint64 na = 0, nb = 0;

  g_assert_nonnull (shared);
  la = dump (a, shared, &na);
  lb = dump (b, shared, &nb);
  for (guint i = 0; i < MAX (la->len, lb->len); i++)
    {
      const char *x = i < la->len ? g_ptr_array_index (la, i) : NULL;
      const char *y = i < lb->len ? g_ptr_array_index (lb, i) : NULL;

      if (x != NULL && y != NULL && g_str_equal (x, y))
        continue;
      g_error ("seed %" G_GUINT64_FORMAT ": %s and %s differ on what they share "
               "(%" G_GINT64_FORMAT " vs %" G_GINT64_FORMAT " records); first difference:\n"
               "%s: %s\n%s: %s", seed, a->name, b->name, na, nb,
               a->name, x ? x : "(end)", b->name, y ? y : "(end)");
    }
  g_assert_cmpint (na, >, 0);
  *shared_total += na;
}

static void
setup_world (World   *w,
             guint64  seed)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoProfile) profile = morango_profile_new_by_name ("kolibri-like", &error);
  g_autofree char *facility = NULL;
  g_autofree char *full_params = NULL;
  Device *hub;

  g_assert_no_error (error);
  w->rng = morango_random_new_seeded (seed);
  w->dir = morango_test_tmpdir ();
  w->dataset = random_hex (w);

  for (guint i = 0; i < N_DBS; i++)
    {
      g_autofree char *path = g_strdup_printf ("%s/db%u.sqlite3", w->dir, i);
      g_autofree char *sys = g_strdup_printf ("machine-%u", i);
      g_autoptr(MorangoHostInfo) host = morango_host_info_new (sys, "");
      g_autoptr(MorangoRandom) random = morango_random_new_seeded (seed * 31 + i + 1);

      w->dev[i].store = morango_store_open (path, profile, host, random, &error);
      g_assert_no_error (error);
      w->dev[i].name = g_strdup_printf ("db%u", i);
    }

  /* The hub creates the facility, three learners and two classrooms. */
  hub = &w->dev[0];
  {
    g_autoptr(JsonObject) f = json_object_new ();
    json_object_set_string_member (f, "dataset_id", w->dataset);
    json_object_set_string_member (f, "name", "Riverside School");
    g_assert_true (morango_app_create (hub->store, "facility", f, &facility, &error));
    g_assert_no_error (error);
  }
  for (guint i = 0; i < N_LEARNERS; i++)
    {
      g_autoptr(JsonObject) u = json_object_new ();
      g_autofree char *username = g_strdup_printf ("learner%u", i);

      json_object_set_string_member (u, "dataset_id", w->dataset);
      json_object_set_string_member (u, "facility_id", facility);
      json_object_set_string_member (u, "username", username);
      g_assert_true (morango_app_create (hub->store, "facilityuser", u, &w->learners[i], &error));
      g_assert_no_error (error);
    }
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(JsonObject) c = json_object_new ();
      json_object_set_string_member (c, "dataset_id", w->dataset);
      json_object_set_string_member (c, "facility_id", facility);
      json_object_set_string_member (c, "name", i ? "Class B" : "Class A");
      g_assert_true (morango_app_create (hub->store, "classroom", c, NULL, &error));
      g_assert_no_error (error);
    }

  full_params = g_strdup_printf ("{\"dataset_id\": \"%s\"}", w->dataset);
  for (guint i = 0; i < N_DBS; i++)
    {
      Device *d = &w->dev[i];

      /* db0, db1: full facility; db2, db4: learner 0; db3: learner 1. */
      if (i < 2)
        d->scope = scope_for (d->store, "full-facility", full_params);
      else
        {
          g_autofree char *params = NULL;
          d->learner = w->learners[i == 3 ? 1 : 0];
          params = g_strdup_printf ("{\"dataset_id\": \"%s\", \"user_id\": \"%s\"}", w->dataset, d->learner);
          d->scope = scope_for (d->store, "single-user", params);
        }
    }
}

static void
teardown_world (World *w)
{
  for (guint i = 0; i < N_DBS; i++)
    {
      g_clear_object (&w->dev[i].store);
      g_clear_pointer (&w->dev[i].scope, morango_scope_free);
      g_clear_pointer (&w->dev[i].name, g_free);
    }
  for (guint i = 0; i < N_LEARNERS; i++)
    g_clear_pointer (&w->learners[i], g_free);
  g_clear_pointer (&w->dataset, g_free);
  g_clear_pointer (&w->dir, g_free);
  g_clear_pointer (&w->rng, morango_random_unref);
}

static void
run_convergence (gconstpointer data)
{
  guint64 seed = morango_test_seed (GPOINTER_TO_SIZE (data));
  guint rounds = 320;
  World w = { 0 };
  gint64 shared_total = 0;

  setup_world (&w, seed);

  for (guint r = 0; r < rounds; r++)
    {
      guint a = pick (&w, N_DBS), b = pick (&w, N_DBS - 1);

      for (guint k = pick (&w, 3); k > 0; k--)
        random_op (&w);
      if (b >= a)
        b++;
      sync_pair (&w, &w.dev[a], &w.dev[b], pick (&w, 2));
    }

  /* Two rounds of pull-then-push through the hub reach everybody. */
  for (guint round = 0; round < 2; round++)
    for (guint i = 1; i < N_DBS; i++)
      {
        sync_pair (&w, &w.dev[i], &w.dev[0], FALSE);
        sync_pair (&w, &w.dev[i], &w.dev[0], TRUE);
      }
  for (guint i = 1; i < N_DBS; i++)
    sync_pair (&w, &w.dev[i], &w.dev[0], FALSE);

  for (guint i = 0; i < N_DBS; i++)
    for (guint j = i + 1; j < N_DBS; j++)
      assert_agree (seed, &w.dev[i], &w.dev[j], &shared_total);

  g_test_message ("seed %" G_GUINT64_FORMAT ": %u ops, %u syncs, %u pairs skipped (nothing shared), "
                  "%" G_GINT64_FORMAT " shared records compared",
                  seed, w.n_ops, w.n_syncs, w.n_skipped, shared_total);
  g_assert_cmpuint (w.n_syncs, >, rounds / 2);
  teardown_world (&w);
}

int
main (int   argc,
      char *argv[])
{
  static const guint64 seeds[] = { 20261126, 4242, 777 };

  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (seeds); i++)
    {
      g_autofree char *path = g_strdup_printf ("/convergence/kolibri-like/seed-%" G_GUINT64_FORMAT, seeds[i]);
      g_test_add_data_func (path, GSIZE_TO_POINTER ((gsize) seeds[i]), run_convergence);
    }
  return g_test_run ();
}
