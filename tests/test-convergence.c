/* test-convergence.c: randomized convergence of five databases (kolibri-like)
 *
 * Two databases hold the full-facility scope of one dataset, three hold
 * single-user scopes (two devices of one learner, one of another).
 * Seeded random creates, updates, soft and hard deletes happen inside
 * each database's own scope: learners' logs, anonymous logs (which a
 * single-user device may write but not read), lessons, assignments,
 * classrooms, users and the facility itself; deleting a classroom or a
 * user cascades, and one learner with a device of its own is deleted
 * part way through.  Seeded random pairs sync with a filter that both
 * scopes allow (the gate of protocol §6.4 is asserted).  After every
 * sync no database holds a record its scope may neither read nor write.
 * At the end two rounds through the full-facility hub (a spanning tree:
 * two devices of different learners share nothing they may write, so no
 * path through them carries data) make every pair agree on what they
 * share: every column of every store row, its history and conflict log,
 * and every column of every application row.
 *
 * Agreeing is not being right, so the test keeps its own log of every
 * edit and checks the end state against it, without asking the engine
 * how it merges:
 *   - a record deleted anywhere (or whose parent was: cascades) ends
 *     deleted, with no application row, on every device that may read
 *     it: deletion wins over any edit made elsewhere meanwhile;
 *   - a record hard-deleted anywhere ends empty there: no data, flags
 *     set; its deleter, once it serialized the delete, holds no
 *     conflict log either;
 *   - a record that one device alone wrote ends, on every device that
 *     may read it, alive and with the values that device wrote last;
 *   - a record its one writer created and deleted before serializing
 *     it never existed anywhere else;
 *   - the store and the application agree: no application row for a
 *     deleted store row, one for every live store row it may read.
 * A deletion counts once its device serialized it (a deletion of a
 * record the device's store never held is void).  A record with a
 * computed id is never created again once deleted (re-creating it is a
 * newer version and legitimately revives it).  Once a run, staged
 * between the random rounds: a conflict whose outcome the log knows
 * (local data wins, the incoming version goes on the log), a deletion
 * meeting an edit in a merge (deletion wins), and a read-only conflict.
 *
 * Each seed runs in three variants: FSIC v2 with the default chunk
 * size, FSIC v1, and chunks of 3 records with failures injected into
 * random stages (on the side that runs them), each failed sync resumed
 * from its transfer session.  The run asserts that conflicts, read-only
 * conflicts (outside the receiver's write filter, README "Deliberate
 * differences"), hard deletes (of records with a conflict log too),
 * cascades, deletions of records another device wrote and (in their
 * variants) injected failures and v1 syncs all happened, and prints
 * how many.
 *
 * Three engine behaviours break what this test asserts; they are
 * reported, not fixed here, so by default the test counts them (and
 * prints the counts) instead of failing.  MORANGO_TEST_STRICT=1 fails on
 * them.  Everything else about those records is still checked.  (A
 * fourth, a purged record keeping incoming data in its conflict log, is
 * fixed, and checked at the end of every run.)
 *
 * 1. A device may stamp a deletion version of its own on a record it may
 *    not write.  Deserializing an incoming delete queues the deleted
 *    record's dependents (README, "Cascades of incoming deletes") even
 *    when they arrived deleted in the same transfer, or lie outside the
 *    device's write filter (a learner's assignments, on the learner's
 *    own device): it can never send that version, so its history of the
 *    record differs from its peers' for good, and a later version from
 *    a writer meets it as a read-only conflict that logs the displaced
 *    data there only.  Such a row is compared without its version and
 *    conflict log.
 * 2. Deletion wins only in a merge.  An edit not yet serialized when an
 *    incoming deletion arrives is serialized over it (protocol §5.3,
 *    "serialization conflict"; Python does the same) and revives the
 *    record everywhere, a hard-deleted one with its data, after which a
 *    later soft delete leaves it soft-deleted for good.  The edit may be
 *    the engine's own: deleting a lesson's creator clears the reference
 *    (set null) on every device that hears of it.  A deletion that may
 *    have met such an edit (note_serialized, rec_fate) may end either
 *    way.
 * 3. FSIC v1 loses records under a filter of several partitions.  The
 *    sender's v1 FSIC takes, per instance, the highest counter it holds
 *    under any filter entry, and the receiver raises its counters for
 *    every entry to that (protocol §3.6, §3.10, as Python does): it then
 *    claims records the sender never had, and no later sync, v1 or v2,
 *    sends them.  The v1 variant speaks v1 only where the filter is one
 *    partition (fsic_format); strict mode speaks it everywhere.
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
#define N_SLOTS 4         /* summary logs per user alive at a time */

typedef struct {
  const char        *name;
  MorangoFsicFormat  format;
  guint              chunk_size;
  gboolean           failures;
  guint              rounds;
} Variant;

static const Variant variants[] = {
  { "v2", MORANGO_FSIC_V2, 500, FALSE, 80 },
  { "v1", MORANGO_FSIC_V1, 500, FALSE, 80 },
  { "chunk3-failures", MORANGO_FSIC_V2, 3, TRUE, 80 },
};

/* What the test knows of one record, from its own edits. */
typedef struct {
  char       *id;
  const char *model;
  char       *partition;
  char       *parent;      /* the record a cascade deletes it with */
  char       *creator;     /* lesson.created_by (set null on delete) */
  char       *key;         /* for computed ids: retired once deleted */
  guint       writers;     /* devices that created or updated it */
  guint       dirty;       /* devices where that is not serialized yet */
  guint       deleters;
  guint       purgers;     /* deleters that hard-deleted it */
  guint       voiders;     /* deleted it before it was ever serialized there */
  JsonObject *expected;    /* the fields as the last writer left them */
  gboolean    marked;      /* a device deleted it, maybe not serialized yet */
  gboolean    deleted;     /* a device serialized its deletion */
  gboolean    hard;
  gboolean    racy;        /* see note_serialized */
} Rec;

typedef struct {
  MorangoStore *store;
  MorangoScope *scope;
  const char   *learner;      /* NULL for a full-facility device */
  char         *name;
  GArray       *deletions;    /* Deletion: made here, not serialized yet */
} Device;

typedef struct {
  const Variant *variant;
  guint64        seed;
  MorangoRandom *rng;         /* drives the test's choices */
  char          *dir;
  char          *dataset;
  char          *facility;
  char          *learners[N_LEARNERS];
  Device         dev[N_DBS];
  GHashTable    *recs;        /* id -> Rec */
  GPtrArray     *users;       /* Rec of every user ever created */
  GHashTable    *retired;     /* keys of deleted records with computed ids */
  guint          n_usernames;
  guint          n_syncs;
  guint          n_skipped;
  guint          n_ops;
  gboolean       final_rounds;
  guint          n_v1;            /* syncs that spoke FSIC v1 */
  /* what happened, asserted at the end */
  gint64         n_conflicts;
  gint64         n_read_only;
  guint          n_deleted;
  guint          n_hard;
  guint          n_hard_logged;   /* hard deletes of a record with a conflict log */
  guint          n_cascaded;
  guint          n_delete_edit;   /* deleted records a non-deleter wrote */
  guint          n_anonymous;
  guint          n_shared_edits;  /* facility, classroom and user edits */
  guint          n_failures;
  guint          n_purges_checked;
  guint          n_void_deletions;  /* of records never serialized */
  /* known engine issues, tolerated unless MORANGO_TEST_STRICT is set */
  guint          n_own_deletions;
  guint          n_racy;          /* deletions that may have met an unserialized edit */
  guint          n_revived;       /* copies alive at the end */
} World;

static guint
pick (World *w,
      guint  n)
{
  return morango_random_int_range (w->rng, 0, n);
}

static guint
bit (World  *w,
     Device *d)
{
  return 1u << (guint) (d - w->dev);
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

static gboolean
may_read (Device     *d,
          const char *partition)
{
  return morango_filter_contains (morango_scope_get_read (d->scope), partition);
}

/* ---- the test's log of edits ------------------------------------------ */

static void
rec_free (gpointer data)
{
  Rec *r = data;

  g_free (r->id);
  g_free (r->partition);
  g_free (r->parent);
  g_free (r->creator);
  g_free (r->key);
  g_clear_pointer (&r->expected, json_object_unref);
  g_free (r);
}

static Rec *
rec_get (World      *w,
         const char *id)
{
  return id ? g_hash_table_lookup (w->recs, id) : NULL;
}

/* Deleted somewhere (serialized or not), or a parent is: no more
 * records with computed ids below it (see mark_deleted). */
static gboolean
rec_doomed (World *w,
            Rec   *r)
{
  for (; r != NULL; r = rec_get (w, r->parent))
    if (r->marked)
      return TRUE;
  return FALSE;
}

/* Fail on the known engine issues too (see the top of the file). */
static gboolean strict;

typedef enum {
  FATE_ALIVE,
  FATE_DELETED,
  FATE_EITHER,    /* a deletion that an unserialized edit may undo */
} Fate;

/* Whether a deletion of @r may have met an edit not yet serialized
 * (known issue 2): one in the log (note_serialized), or the engine's
 * own, as deleting a lesson's creator clears the reference (set null)
 * on every device that hears of it, at a time the log does not know. */
static gboolean
rec_racy (World *w,
          Rec   *r)
{
  Rec *creator = rec_get (w, r->creator);

  return !strict && (r->racy || (creator != NULL && creator->deleted));
}

/* How @r must end: deleted when the log deletes it, or a parent (the
 * cascade, at the deleter or at every device the deletion reaches);
 * either way when the deletion may have met an edit not yet serialized
 * (rec_racy), or the parent may live or not. */
static Fate
rec_fate (World *w,
          Rec   *r)
{
  Fate parent = r->parent ? rec_fate (w, rec_get (w, r->parent)) : FATE_ALIVE;

  if (parent == FATE_DELETED)
    return FATE_DELETED;
  if (r->deleted)
    return rec_racy (w, r) ? FATE_EITHER : FATE_DELETED;
  return parent;
}

static void
merge_fields (JsonObject *into,
              JsonObject *from)
{
  g_autoptr(GList) members = json_object_get_members (from);

  for (GList *l = members; l != NULL; l = l->next)
    json_object_set_member (into, l->data, json_node_copy (json_object_get_member (from, l->data)));
}

/* @d created @id from @fields (a create of an existing id overwrites it,
 * as Django's save() does). */
static Rec *
note_create (World      *w,
             Device     *d,
             const char *model,
             const char *id,
             JsonObject *fields,
             const char *parent,
             const char *creator,
             const char *key)
{
  Rec *r = rec_get (w, id);

  if (r == NULL)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonObject) row = morango_app_get (morango_store_get_app (d->store), model, id, &error);

      g_assert_no_error (error);
      r = g_new0 (Rec, 1);
      r->id = g_strdup (id);
      r->model = model;
      r->partition = g_strdup (json_object_get_string_member (row, "_morango_partition"));
      r->parent = g_strdup (parent);
      r->creator = g_strdup (creator);
      r->key = g_strdup (key);
      g_hash_table_insert (w->recs, r->id, r);
    }
  /* Creating anew what the log holds as deleted would revive it: the
   * ops never do (see mark_deleted). */
  g_assert_false (r->deleted);
  g_assert_cmpstr (r->model, ==, model);
  r->writers |= bit (w, d);
  r->dirty |= bit (w, d);
  g_clear_pointer (&r->expected, json_object_unref);
  r->expected = json_object_new ();
  merge_fields (r->expected, fields);
  return r;
}

static void
note_update (World      *w,
             Device     *d,
             const char *id,
             JsonObject *changes)
{
  Rec *r = rec_get (w, id);

  g_assert_nonnull (r);
  r->writers |= bit (w, d);
  r->dirty |= bit (w, d);
  merge_fields (r->expected, changes);
}

static gboolean
app_holds (Device     *d,
           const char *model,
           const char *id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) row = morango_app_get (morango_store_get_app (d->store), model, id, &error);

  if (row == NULL)
    g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND);
  return row != NULL;
}

static char *
store_text (Device     *d,
            const char *column_sql,
            const char *id)
{
  char *text = NULL;

  g_assert_true (morango_db_query_text (morango_store_get_db (d->store), &text, NULL,
                                        column_sql, "s", id));
  return text;
}

/* A deletion made on a device, and not serialized yet. */
typedef struct {
  Rec      *rec;
  gboolean  hard;
  gboolean  cascaded;
} Deletion;

/* Queues the deletion of @r by @d and, as the profile's cascading
 * foreign keys do, of the records @d holds below it; adds them to
 * @gone.  The log holds them as deleted once @d serializes (see
 * note_deletions). */
static void
mark_deleted (World     *w,
              Device    *d,
              Rec       *r,
              gboolean   hard,
              gboolean   cascaded,
              GPtrArray *gone)
{
  Deletion del = { r, hard, cascaded };
  GHashTableIter iter;
  gpointer value;

  if (hard)
    {
      g_autofree char *log = store_text (d, "SELECT conflicting_serialized_data FROM morango_store WHERE id = ?",
                                         r->id);
      w->n_hard_logged += log != NULL && *log != '\0';
    }
  g_array_append_val (d->deletions, del);
  r->marked = TRUE;
  r->dirty &= ~bit (w, d);   /* the row is gone: nothing left to serialize */
  /* Never created again (a newer version would revive it). */
  if (r->key != NULL)
    g_hash_table_add (w->retired, g_strdup (r->key));
  g_ptr_array_add (gone, r);

  g_hash_table_iter_init (&iter, w->recs);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Rec *child = value;

      if (g_strcmp0 (child->parent, r->id) == 0 && app_holds (d, child->model, child->id))
        mark_deleted (w, d, child, hard, TRUE, gone);
    }
}

static void
delete_row (World      *w,
            Device     *d,
            const char *model,
            const char *id,
            gboolean    hard)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) gone = g_ptr_array_new ();
  Rec *r = rec_get (w, id);

  g_assert_nonnull (r);
  mark_deleted (w, d, r, hard, FALSE, gone);
  g_assert_true (morango_app_delete (morango_store_get_app (d->store), model, id, hard, &error));
  g_assert_no_error (error);
  /* The engine cascaded as the log says. */
  for (guint i = 0; i < gone->len; i++)
    {
      Rec *g = g_ptr_array_index (gone, i);
      g_assert_false (app_holds (d, g->model, g->id));
    }
}

/* ---- random edits ------------------------------------------------------ */

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
  gboolean ok = morango_app_create (morango_store_get_app (d->store), model, fields, out_id, &error);

  /* A row whose parent this device has deleted (or never received)
   * fails validation: that refusal is correct, the op is skipped. */
  if (!ok)
    g_assert_true (g_error_matches (error, MORANGO_ERROR, MORANGO_ERROR_VALIDATION) ||
                   g_error_matches (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND));
  return ok;
}

static void
update (World      *w,
        Device     *d,
        const char *model,
        const char *id,
        JsonObject *changes)
{
  g_autoptr(GError) error = NULL;

  if (!morango_app_update (morango_store_get_app (d->store), model, id, changes, &error))
    g_error ("%s: update of %s %s: %s", d->name, model, id, error->message);
  note_update (w, d, id, changes);
}

/* A random row id of @table on @d, among those whose @column is @value
 * (all rows when @column is NULL), or NULL.  With @logged, only rows
 * whose record holds a conflict log here. */
static char *
random_row_full (World      *w,
                 Device     *d,
                 const char *table,
                 const char *column,
                 const char *value,
                 gboolean    logged)
{
  MorangoDb *db = morango_store_get_db (d->store);
  g_autoptr(GString) where = g_string_new ("WHERE ");
  g_autofree char *sql_count = NULL;
  g_autofree char *sql_pick = NULL;
  gint64 n = 0;
  char *id = NULL;

  if (column != NULL)
    g_string_append_printf (where, "\"%s\" = ?1", column);
  else
    g_string_append (where, "?1 IS NULL");
  if (logged)
    g_string_append (where, " AND id IN (SELECT id FROM morango_store WHERE conflicting_serialized_data <> '')");
  sql_count = g_strdup_printf ("SELECT count(*) FROM \"%s\" %s", table, where->str);
  sql_pick = g_strdup_printf ("SELECT id FROM \"%s\" %s ORDER BY id LIMIT 1 OFFSET ?2", table, where->str);

  g_assert_true (morango_db_query_int64 (db, &n, NULL, NULL, sql_count, "s", value));
  if (n == 0)
    return NULL;
  g_assert_true (morango_db_query_text (db, &id, NULL, sql_pick, "si", value, (gint64) pick (w, n)));
  return id;
}

static char *
random_row (World      *w,
            Device     *d,
            const char *table,
            const char *column,
            const char *value)
{
  return random_row_full (w, d, table, column, value, FALSE);
}

/* The content of summary log slot @slot of @user: summary log ids derive
 * from (user, content), so a few slots make two devices create the same
 * record, a conflict; a slot whose record was deleted moves on to a new
 * content instead of reviving it. */
static char *
slot_content (World      *w,
              const char *user,
              guint       slot,
              char      **key)
{
  for (guint64 gen = 0;; gen++)
    {
      g_autofree char *content = g_strdup_printf ("00c0ffee%08x%016" G_GINT64_MODIFIER "x", slot, gen);
      g_autofree char *k = g_strdup_printf ("summary:%s:%s", user, content);

      if (!g_hash_table_contains (w->retired, k))
        {
          *key = g_steal_pointer (&k);
          return g_steal_pointer (&content);
        }
    }
}

static void
log_op (World      *w,
        Device     *d,
        const char *user)
{
  gboolean session = pick (w, 2);
  const char *model = session ? "contentsessionlog" : "contentsummarylog";
  const char *table = session ? "kolibri_contentsessionlog" : "kolibri_contentsummarylog";
  g_autofree char *id = NULL;
  guint what = pick (w, 10);

  if (what < 4)
    {
      g_autoptr(JsonObject) f = json_object_new ();
      g_autofree char *content = NULL;
      g_autofree char *key = NULL;

      if (session)
        content = random_hex (w);   /* random id: may race the user's deletion */
      else if (rec_doomed (w, rec_get (w, user)))
        return;
      else
        content = slot_content (w, user, pick (w, N_SLOTS), &key);
      json_object_set_string_member (f, "dataset_id", w->dataset);
      json_object_set_string_member (f, "user_id", user);
      json_object_set_string_member (f, "content_id", content);
      json_object_set_double_member (f, "progress", pick (w, 100) / 100.0);
      if (create (d, model, f, &id))
        note_create (w, d, model, id, f, user, NULL, key);
      return;
    }

  /* Deleting, half the time a record that met a conflict, mostly
   * hard: a hard delete must purge its conflict log too. */
  if (what >= 8 && pick (w, 2) && (id = random_row_full (w, d, table, "user_id", user, TRUE)) != NULL)
    {
      delete_row (w, d, model, id, pick (w, 4) > 0);
      return;
    }
  id = random_row (w, d, table, "user_id", user);
  if (id == NULL)
    return;
  if (what < 8)
    {
      g_autoptr(JsonObject) c = json_object_new ();
      json_object_set_double_member (c, "time_spent", pick (w, 1000) / 4.0);
      json_object_set_double_member (c, "progress", pick (w, 100) / 100.0);
      update (w, d, model, id, c);
    }
  else
    delete_row (w, d, model, id, what == 9);
}

/* Anonymous logs: any device of the facility writes them, only
 * full-facility devices read them. */
static void
anonymous_op (World  *w,
              Device *d)
{
  const char *model = "anonymoussessionlog";
  g_autofree char *id = NULL;
  guint what = pick (w, 10);

  if (what < 5)
    {
      g_autoptr(JsonObject) f = json_object_new ();
      g_autofree char *content = random_hex (w);

      json_object_set_string_member (f, "dataset_id", w->dataset);
      json_object_set_string_member (f, "content_id", content);
      json_object_set_double_member (f, "progress", pick (w, 100) / 100.0);
      g_assert_true (create (d, model, f, &id));
      note_create (w, d, model, id, f, NULL, NULL, NULL);
      w->n_anonymous++;
      return;
    }
  id = random_row (w, d, "kolibri_anonymoussessionlog", NULL, NULL);
  if (id == NULL)
    return;
  if (what < 8)
    {
      g_autoptr(JsonObject) c = json_object_new ();
      json_object_set_double_member (c, "time_spent", pick (w, 1000) / 4.0);
      update (w, d, model, id, c);
    }
  else
    delete_row (w, d, model, id, what == 9);
}

static void
new_user (World  *w,
          Device *d)
{
  g_autoptr(JsonObject) u = json_object_new ();
  g_autofree char *username = g_strdup_printf ("user%u", w->n_usernames++);
  g_autofree char *id = NULL;

  json_object_set_string_member (u, "dataset_id", w->dataset);
  json_object_set_string_member (u, "facility_id", w->facility);
  json_object_set_string_member (u, "username", username);
  json_object_set_string_member (u, "full_name", "New");
  if (create (d, "facilityuser", u, &id))
    g_ptr_array_add (w->users, note_create (w, d, "facilityuser", id, u, w->facility, NULL, NULL));
}

/* An edit of a record that single-user devices read (the facility, a
 * classroom, a learner).  Mostly the other full-facility device edits
 * it too before they sync, so a learner's device may receive
 * both versions: a conflict it may not resolve (read-only). */
static void
shared_edit (World      *w,
             Device     *d,
             const char *model,
             const char *id,
             const char *field,
             const char *prefix)
{
  Device *other = &w->dev[d == &w->dev[0] ? 1 : 0];

  for (Device *e = d; e != NULL; e = e == d && pick (w, 3) ? other : NULL)
    {
      g_autoptr(JsonObject) c = json_object_new ();
      g_autofree char *value = g_strdup_printf ("%s %u", prefix, pick (w, 1000));

      if (!app_holds (e, model, id))   /* not received yet, or deleted */
        continue;
      json_object_set_string_member (c, field, value);
      update (w, e, model, id, c);
      w->n_shared_edits++;
    }
}

static void
coach_op (World  *w,
          Device *d)
{
  guint what = pick (w, 28);
  g_autofree char *id = NULL;

  if (what < 3)
    {
      g_autofree char *classroom = random_row (w, d, "kolibri_classroom", NULL, NULL);
      g_autofree char *creator = pick (w, 2) ? random_row (w, d, "kolibri_facilityuser", NULL, NULL) : NULL;
      g_autoptr(JsonObject) f = json_object_new ();
      g_autofree char *title = g_strdup_printf ("Lesson %u", pick (w, 1000));

      if (classroom == NULL)
        return;
      json_object_set_string_member (f, "dataset_id", w->dataset);
      json_object_set_string_member (f, "classroom_id", classroom);
      json_object_set_string_member (f, "title", title);
      if (creator != NULL)
        json_object_set_string_member (f, "created_by_id", creator);
      if (create (d, "lesson", f, &id))
        note_create (w, d, "lesson", id, f, classroom, creator, NULL);
    }
  else if (what < 6)
    {
      g_autofree char *lesson = random_row (w, d, "kolibri_lesson", NULL, NULL);
      g_autofree char *learner = random_row (w, d, "kolibri_facilityuser", NULL, NULL);
      g_autofree char *key = NULL;
      g_autofree char *resources = g_strdup_printf ("r%u", pick (w, 100));
      g_autoptr(JsonObject) f = json_object_new ();

      if (lesson == NULL || learner == NULL || rec_doomed (w, rec_get (w, learner)))
        return;
      key = g_strdup_printf ("assignment:%s:%s", lesson, learner);
      if (g_hash_table_contains (w->retired, key))
        return;
      json_object_set_string_member (f, "dataset_id", w->dataset);
      json_object_set_string_member (f, "lesson_id", lesson);
      json_object_set_string_member (f, "learner_id", learner);
      json_object_set_string_member (f, "title", "Assigned");
      json_object_set_string_member (f, "resources", resources);
      if (create (d, "lessonassignment", f, &id))
        note_create (w, d, "lessonassignment", id, f, learner, NULL, key);
    }
  else if (what < 8)
    {
      g_autoptr(JsonObject) c = json_object_new ();
      g_autofree char *title = g_strdup_printf ("Edited %u", pick (w, 1000));

      if ((id = random_row (w, d, "kolibri_lesson", NULL, NULL)) == NULL)
        return;
      json_object_set_string_member (c, "title", title);
      json_object_set_boolean_member (c, "is_active", pick (w, 2));
      update (w, d, "lesson", id, c);
    }
  else if (what < 9)
    {
      if ((id = random_row (w, d, "kolibri_lesson", NULL, NULL)) != NULL)
        delete_row (w, d, "lesson", id, pick (w, 2));
    }
  else if (what < 11)
    {
      if ((id = random_row (w, d, "kolibri_lessonassignment", NULL, NULL)) != NULL)
        delete_row (w, d, "lessonassignment", id, pick (w, 2));
    }
  else if (what < 15)
    shared_edit (w, d, "facility", w->facility, "name", "Riverside");
  else if (what < 19)
    {
      if ((id = random_row (w, d, "kolibri_classroom", NULL, NULL)) != NULL)
        shared_edit (w, d, "classroom", id, "name", "Class");
    }
  else if (what < 20)
    {
      g_autoptr(JsonObject) f = json_object_new ();
      g_autofree char *name = g_strdup_printf ("Class %u", pick (w, 1000));

      json_object_set_string_member (f, "dataset_id", w->dataset);
      json_object_set_string_member (f, "facility_id", w->facility);
      json_object_set_string_member (f, "name", name);
      if (create (d, "classroom", f, &id))   /* fails before the facility came */
        note_create (w, d, "classroom", id, f, w->facility, NULL, NULL);
    }
  else if (what < 21)
    {
      /* Cascades to the classroom's lessons. */
      if ((id = random_row (w, d, "kolibri_classroom", NULL, NULL)) != NULL)
        delete_row (w, d, "classroom", id, pick (w, 2));
    }
  else if (what < 22)
    new_user (w, d);
  else if (what < 27)
    {
      /* Mostly the learners whose devices read their own records. */
      id = pick (w, 3) ? g_strdup (w->learners[pick (w, 2)]) : random_row (w, d, "kolibri_facilityuser", NULL, NULL);
      if (id != NULL)
        shared_edit (w, d, "facilityuser", id, "full_name", "Name");
    }
  else
    {
      /* Cascades to the user's logs and assignments, and clears the
       * creator of the user's lessons.  The learners with devices stay
       * (learner 1 goes at a set time). */
      if ((id = random_row (w, d, "kolibri_facilityuser", NULL, NULL)) == NULL ||
          g_str_equal (id, w->learners[0]) || g_str_equal (id, w->learners[1]))
        return;
      delete_row (w, d, "facilityuser", id, pick (w, 2));
    }
}

static void
random_op (World *w)
{
  Device *d = &w->dev[pick (w, N_DBS)];
  guint what = pick (w, 20);

  w->n_ops++;
  if (d->learner != NULL)
    {
      if (what < 14)
        log_op (w, d, d->learner);
      else
        anonymous_op (w, d);
    }
  else if (what < 12)
    coach_op (w, d);
  else if (what < 17)
    {
      Rec *user = g_ptr_array_index (w->users, pick (w, w->users->len));
      log_op (w, d, user->id);
    }
  else
    anonymous_op (w, d);
}

/* ---- syncing ------------------------------------------------------------ */

/* No database may hold a record outside what its scope may read, except
 * what it wrote itself where it may write but not read (anonymous logs
 * on a single-user device). */
static void
assert_within_scope (Device *d)
{
  MorangoDb *db = morango_store_get_db (d->store);
  MorangoFilter *read = morango_scope_get_read (d->scope);
  MorangoFilter *write = morango_scope_get_write (d->scope);
  sqlite3_stmt *stmt = morango_db_prepare (db, "SELECT id, partition FROM morango_store", NULL);

  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      const char *partition = morango_db_column_text (stmt, 1);

      if (!morango_filter_contains (read, partition) && !morango_filter_contains (write, partition))
        g_error ("%s holds %s in partition %s, outside its scope", d->name,
                 morango_db_column_text (stmt, 0), partition);
    }
  sqlite3_reset (stmt);
}

/* @d has just serialized, and nothing changed its store since.  Each
 * deletion it made since became a version of the record, if its store
 * held the record: the log now holds it as deleted.  A record created
 * and deleted here before any serialization never existed elsewhere:
 * its deletion is void, even if another device created the same
 * (computed) id meanwhile.  A hard delete is now a purged store row,
 * flags set, data and conflict log gone: checked here, on the deleter,
 * before a later sync can change the row. */
static void
note_deletions (World  *w,
                Device *d)
{
  MorangoDb *db = morango_store_get_db (d->store);
  sqlite3_stmt *stmt = morango_db_prepare (db,
      "SELECT serialized, deleted, hard_deleted, conflicting_serialized_data FROM morango_store "
      "WHERE id = ?", NULL);

  for (guint i = 0; i < d->deletions->len; i++)
    {
      Deletion *del = &g_array_index (d->deletions, Deletion, i);
      Rec *r = del->rec;

      g_assert_true (morango_db_bind (db, stmt, NULL, "s", r->id));
      if (sqlite3_step (stmt) != SQLITE_ROW)
        {
          w->n_void_deletions++;
          r->voiders |= bit (w, d);
          sqlite3_reset (stmt);
          continue;
        }
      if (sqlite3_column_int (stmt, 1) != 1)
        g_error ("seed %" G_GUINT64_FORMAT " (%s): %s serialized its deletion of %s %s as deleted=0",
                 w->seed, w->variant->name, d->name, r->model, r->id);
      if (del->hard)
        {
          if (!g_str_equal (morango_db_column_text (stmt, 0), "{}") || sqlite3_column_int (stmt, 2) != 1 ||
              *morango_db_column_text (stmt, 3) != '\0')
            g_error ("seed %" G_GUINT64_FORMAT " (%s): %s serialized its hard delete of %s %s "
                     "as hard_deleted=%d serialized=%s conflict log=%s",
                     w->seed, w->variant->name, d->name, r->model, r->id, sqlite3_column_int (stmt, 2),
                     morango_db_column_text (stmt, 0), morango_db_column_text (stmt, 3));
          w->n_purges_checked++;
        }
      sqlite3_reset (stmt);

      if (!r->deleted)
        {
          w->n_deleted++;
          w->n_cascaded += del->cascaded;
        }
      if (del->hard && !r->hard)
        w->n_hard++;
      r->deleted = TRUE;
      r->hard |= del->hard;
      r->deleters |= bit (w, d);
      if (del->hard)
        r->purgers |= bit (w, d);
    }
  g_array_set_size (d->deletions, 0);
}

/* @d serialized @filter.  On a receiver that comes after merging what
 * it received: an edit of a record that was still waiting to be
 * serialized then wins over an incoming version not yet applied, even
 * a deletion (protocol §5.3, "serialization conflict"; Python does the
 * same, and so revives the record).  So a deletion in the log that may
 * have met an edit that way may be undone (known issue 2). */
static void
note_serialized (World         *w,
                 Device        *d,
                 MorangoFilter *filter,
                 gboolean       after_merge)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, w->recs);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Rec *r = value;

      if (!(r->dirty & bit (w, d)) || !morango_filter_contains (filter, r->partition))
        continue;
      if (after_merge && r->deleted)
        r->racy = TRUE;
      r->dirty &= ~bit (w, d);
    }
}

/* The FSIC format of a sync.  FSIC v1 is unsound for a filter of more
 * than one entry (known issue 3), which every sync between a learner's
 * device and another device has: the v1 variant speaks v1 wherever the
 * filter is one partition (between full-facility devices, between two
 * devices of one learner) and v2 elsewhere, as a single-user device
 * (which needs a v2-capable Morango anyway) would.  v1 also never
 * passes on over a wider filter what a device learned through a
 * narrower one, so the final rounds through the hub speak v2. */
static MorangoFsicFormat
fsic_format (World         *w,
             MorangoFilter *filter)
{
  if (w->variant->format != MORANGO_FSIC_V1)
    return w->variant->format;
  if (strict || (!w->final_rounds && morango_filter_get_n_entries (filter) == 1))
    return MORANGO_FSIC_V1;
  return MORANGO_FSIC_V2;
}

/* Where a failure can be injected, and on which side. */
static const struct {
  const char *stage;
  gboolean    on_sender;
} failure_points[] = {
  { "serialize", TRUE },       /* the sender's serializing stage */
  { "serialize", FALSE },      /* the receiver's, before deserializing */
  { "queue", TRUE },
  { "transfer", FALSE },
  { "transfer-count", TRUE },
  { "dequeue", FALSE },
  { "deserialize", FALSE },
};

/* One failure, injected through the sync's monitor at a failure point.
 * The same names reach the monitor from both sides, except serializing,
 * which the sender does first and the receiver again before
 * deserializing: told apart by whether the transfer has begun. */
typedef struct {
  const char   *point;
  gboolean      on_sender;
  gint64        after;
  gboolean      transferring;   /* the calling thread's only */
  volatile gint fired;
} Fault;

static gboolean
fault_hook (MorangoMonitor  *monitor,
            const char      *point,
            gint64           done,
            gpointer         user_data,
            GError         **error)
{
  Fault *f = user_data;

  if (g_str_equal (point, "transfer") || g_str_equal (point, "dequeue") ||
      g_str_equal (point, "deserialize"))
    f->transferring = TRUE;
  if (!g_str_equal (point, f->point) || done < f->after ||
      (g_str_equal (point, "serialize") && f->on_sender == f->transferring) ||
      !g_atomic_int_compare_and_exchange (&f->fired, 0, 1))
    return TRUE;
  g_set_error (error, MORANGO_TEST_ERROR, MORANGO_TEST_ERROR_INJECTED,
               "Failure injected at %s after %" G_GINT64_FORMAT " records", point, done);
  return FALSE;
}

static void
sync_pair (World  *w,
           Device *client,
           Device *server,
           gboolean push)
{
  g_autoptr(MorangoFilter) filter = NULL;
  g_autofree char *refusal = NULL;
  g_autofree char *resume = NULL;
  MorangoLocalSyncOptions options = MORANGO_LOCAL_SYNC_OPTIONS_INIT;
  MorangoLocalSyncStats stats;

  options.chunk_size = w->variant->chunk_size;
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
  options.format = fsic_format (w, filter);
  w->n_v1 += options.format == MORANGO_FSIC_V1;

  /* With failures, up to two attempts fail somewhere; each failed one
   * is resumed from where it stopped. */
  for (guint attempt = 0;; attempt++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MorangoMonitor) armed = NULL;
      Fault fault = { 0 };
      gboolean ok;

      if (w->variant->failures && attempt < 2 && pick (w, 3) == 0)
        {
          guint p = pick (w, G_N_ELEMENTS (failure_points));

          fault.point = failure_points[p].stage;
          fault.on_sender = failure_points[p].on_sender;
          fault.after = pick (w, 4);
          armed = morango_monitor_new (NULL);
          morango_monitor_set_fault_func (armed, fault_hook, &fault, NULL);
        }
      ok = morango_local_sync (client->store, server->store, filter, push, &options, armed, &stats,
                               &error);
      /* A dequeue that committed counts, even if a later stage failed. */
      w->n_conflicts += stats.dequeue.n_conflict;
      w->n_read_only += stats.dequeue.n_conflict_read_only;
      if (ok)
        break;
      if (armed == NULL || !g_error_matches (error, MORANGO_TEST_ERROR, MORANGO_TEST_ERROR_INJECTED))
        g_error ("seed %" G_GUINT64_FORMAT ": %s %s %s: %s", w->seed, client->name,
                 push ? "push to" : "pull from", server->name, error->message);
      w->n_failures++;
      g_free (resume);
      resume = g_strdup (stats.transfer_session_id);
      options.resume_transfer_session_id = resume;
    }
  w->n_syncs++;
  /* Each side's store changed last by serializing: the sender's in its
   * first stage, the receiver's before deserializing (after merging),
   * if anything came. */
  note_deletions (w, push ? client : server);
  note_serialized (w, push ? client : server, filter, FALSE);
  if (stats.records_transferred > 0)
    {
      note_serialized (w, push ? server : client, filter, TRUE);
      note_deletions (w, push ? server : client);
    }
  assert_within_scope (client);
  assert_within_scope (server);
}

/* Once a run, for certain: both full-facility devices edit learner 0's
 * own record, and one of learner 0's devices pulls from each before
 * they sync with each other.  Two versions, neither descending from the
 * other, reach a device that may not write the record: a read-only
 * conflict, left to the writers. */
static void
staged_read_only_conflict (World *w)
{
  Device *learner = &w->dev[2];

  /* The second full-facility device may not have met the learner yet. */
  sync_pair (w, &w->dev[1], &w->dev[0], FALSE);
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(JsonObject) c = json_object_new ();
      g_autofree char *name = g_strdup_printf ("Staged %u", i);

      if (!app_holds (&w->dev[i], "facilityuser", w->learners[0]))
        return;
      json_object_set_string_member (c, "full_name", name);
      update (w, &w->dev[i], "facilityuser", w->learners[0], c);
    }
  sync_pair (w, learner, &w->dev[0], FALSE);
  sync_pair (w, learner, &w->dev[1], FALSE);
}

static double
app_double (Device     *d,
            const char *model,
            const char *id,
            const char *field)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) row = morango_app_get (morango_store_get_app (d->store), model, id, &error);

  g_assert_no_error (error);
  return json_object_get_double_member (row, field);
}

/* Once a run, for certain: a conflict whose outcome the log knows, then
 * a hard delete of the record it left a conflict log on.  Learner 0's
 * two devices create the same summary log (one id per user and
 * content) with different progress; each pushes it to the hub, which
 * received the first as new and meets the second as a conflict: its own
 * data (the first device's) must win, the second's goes on the log.
 * The hub then purges the record (checked when it serializes). */
static void
staged_conflict_then_purge (World *w)
{
  Device *hub = &w->dev[0], *first = &w->dev[2], *second = &w->dev[4];
  const char *user = w->learners[0];
  g_autofree char *content = random_hex (w);
  g_autofree char *key = g_strdup_printf ("summary:%s:%s", user, content);
  g_autofree char *id = NULL;
  g_autofree char *log = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  const double progress[2] = { 0.25, 0.75 };

  sync_pair (w, first, hub, FALSE);    /* both hold the learner */
  sync_pair (w, second, hub, FALSE);
  for (guint i = 0; i < 2; i++)
    {
      Device *d = i ? second : first;
      g_autoptr(JsonObject) f = json_object_new ();
      g_autofree char *made = NULL;

      json_object_set_string_member (f, "dataset_id", w->dataset);
      json_object_set_string_member (f, "user_id", user);
      json_object_set_string_member (f, "content_id", content);
      json_object_set_double_member (f, "progress", progress[i]);
      g_assert_true (create (d, "contentsummarylog", f, &made));
      note_create (w, d, "contentsummarylog", made, f, user, NULL, key);
      g_assert_true (id == NULL || g_str_equal (id, made));
      g_free (id);
      id = g_steal_pointer (&made);
    }
  sync_pair (w, first, hub, TRUE);
  g_assert_cmpfloat (app_double (hub, "contentsummarylog", id, "progress"), ==, progress[0]);
  sync_pair (w, second, hub, TRUE);

  /* Local data wins; the incoming version tops the log. */
  if (app_double (hub, "contentsummarylog", id, "progress") != progress[0])
    g_error ("seed %" G_GUINT64_FORMAT " (%s): after a conflict %s holds progress %g, not its own %g",
             w->seed, w->variant->name, hub->name,
             app_double (hub, "contentsummarylog", id, "progress"), progress[0]);
  log = store_text (hub, "SELECT conflicting_serialized_data FROM morango_store WHERE id = ?", id);
  g_assert_nonnull (strchr (log, '\n'));
  *strchr (log, '\n') = '\0';
  g_assert_true (json_parser_load_from_data (parser, log, -1, &error));
  g_assert_no_error (error);
  if (json_object_get_double_member (json_node_get_object (json_parser_get_root (parser)), "progress") != progress[1])
    g_error ("seed %" G_GUINT64_FORMAT " (%s): after a conflict %s logged %s, not the incoming version",
             w->seed, w->variant->name, hub->name, log);

  delete_row (w, hub, "contentsummarylog", id, TRUE);
}

/* Once a run, for certain: deletion wins a conflict.  A learner's
 * device creates a summary log and pushes it to the hub; the hub edits
 * it and serializes the edit (pushing to the other full-facility
 * device); the learner's device deletes it and pushes the deletion,
 * which the hub meets as a conflict: the record must end deleted there,
 * its application row gone. */
static void
staged_deletion_wins (World *w)
{
  Device *hub = &w->dev[0], *learner = &w->dev[2];
  const char *user = w->learners[0];
  g_autofree char *content = random_hex (w);
  g_autofree char *key = g_strdup_printf ("summary:%s:%s", user, content);
  g_autofree char *id = NULL;
  g_autofree char *deleted = NULL;
  g_autoptr(JsonObject) f = json_object_new ();
  g_autoptr(JsonObject) c = json_object_new ();

  json_object_set_string_member (f, "dataset_id", w->dataset);
  json_object_set_string_member (f, "user_id", user);
  json_object_set_string_member (f, "content_id", content);
  json_object_set_double_member (f, "progress", 0.25);
  g_assert_true (create (learner, "contentsummarylog", f, &id));
  note_create (w, learner, "contentsummarylog", id, f, user, NULL, key);
  sync_pair (w, learner, hub, TRUE);

  json_object_set_double_member (c, "progress", 0.5);
  update (w, hub, "contentsummarylog", id, c);
  sync_pair (w, hub, &w->dev[1], TRUE);

  delete_row (w, learner, "contentsummarylog", id, FALSE);
  sync_pair (w, learner, hub, TRUE);
  deleted = store_text (hub, "SELECT deleted FROM morango_store WHERE id = ?", id);
  if (g_strcmp0 (deleted, "1") != 0 || app_holds (hub, "contentsummarylog", id))
    g_error ("seed %" G_GUINT64_FORMAT " (%s): %s kept its edit of %s over a deletion (deleted=%s)",
             w->seed, w->variant->name, hub->name, id, deleted);
}

/* ---- comparing peers ---------------------------------------------------- */

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

/* One row as dump() renders it. */
typedef struct {
  char *text;
  char *tolerant;   /* known issue 1: the row without its version, or NULL */
} Line;

static void
line_free (gpointer data)
{
  Line *l = data;

  g_free (l->text);
  g_free (l->tolerant);
  g_free (l);
}

/* Everything @d holds inside @filter, one line per row: every column of
 * every store row (but the local bookkeeping: deserialization errors,
 * the last transfer session) with its history, then every column of
 * every application row (but the dirty bit).  A deleted store row in a
 * partition that @d or its peer may not write also gets a line without
 * its version (last saved, history) and conflict log, and with an
 * empty hard-deleted body spelled one way (known issue 1). */
static GPtrArray *
dump (Device        *d,
      Device        *peer,
      MorangoFilter *filter,
      gint64        *n_records)
{
  MorangoDb *db = morango_store_get_db (d->store);
  GPtrArray *lines = g_ptr_array_new_with_free_func (line_free);
  sqlite3_stmt *rows = morango_db_prepare (db,
      "SELECT partition, id, profile, serialized, deleted, hard_deleted, last_saved_instance, "
      "  last_saved_counter, source_id, model_name, conflicting_serialized_data, _self_ref_fk "
      "FROM morango_store ORDER BY id", NULL);

  *n_records = 0;
  while (sqlite3_step (rows) == SQLITE_ROW)
    {
      const char *partition = morango_db_column_text (rows, 0);
      GString *out = g_string_new ("store");
      Line *line = g_new0 (Line, 1);
      sqlite3_stmt *rmc;

      if (!morango_filter_contains (filter, partition))
        {
          g_string_free (out, TRUE);
          g_free (line);
          continue;
        }
      (*n_records)++;
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
      line->text = g_string_free (out, FALSE);

      if (sqlite3_column_int (rows, 4) &&
          (!morango_filter_contains (morango_scope_get_write (d->scope), partition) ||
           !morango_filter_contains (morango_scope_get_write (peer->scope), partition)))
        {
          gboolean hard = sqlite3_column_int (rows, 5);

          line->tolerant = g_strdup_printf ("store '%s' '%s' deleted hard=%d '%s' %s %s",
                                            partition, morango_db_column_text (rows, 1), hard,
                                            hard ? "{}" : morango_db_column_text (rows, 3),
                                            morango_db_column_text (rows, 8),
                                            morango_db_column_text (rows, 9));
        }
      g_ptr_array_add (lines, line);
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
          Line *line;

          if (!morango_filter_contains (filter, morango_db_column_text (stmt, partition_col)))
            continue;
          out = g_string_new (app_tables[t]);
          for (int c = 0; c < sqlite3_column_count (stmt); c++)
            if (c != dirty_col)
              {
                g_string_append_printf (out, " %s=", sqlite3_column_name (stmt, c));
                append_value (out, stmt, c);
              }
          line = g_new0 (Line, 1);
          line->text = g_string_free (out, FALSE);
          g_ptr_array_add (lines, line);
        }
      sqlite3_reset (stmt);
    }
  return lines;
}

static void
assert_agree (World  *w,
              Device *a,
              Device *b,
              gint64 *shared_total)
{
  g_autoptr(MorangoFilter) shared = intersect (morango_scope_get_read (a->scope),
                                               morango_scope_get_read (b->scope));
  g_autoptr(GPtrArray) la = NULL;
  g_autoptr(GPtrArray) lb = NULL;
  gint64 na = 0, nb = 0;

  g_assert_nonnull (shared);
  la = dump (a, b, shared, &na);
  lb = dump (b, a, shared, &nb);
  for (guint i = 0; i < MAX (la->len, lb->len); i++)
    {
      Line *x = i < la->len ? g_ptr_array_index (la, i) : NULL;
      Line *y = i < lb->len ? g_ptr_array_index (lb, i) : NULL;

      if (x != NULL && y != NULL && g_str_equal (x->text, y->text))
        continue;
      if (!strict && x != NULL && y != NULL && x->tolerant != NULL && y->tolerant != NULL &&
          g_str_equal (x->tolerant, y->tolerant))
        {
          w->n_own_deletions++;
          continue;
        }
      g_error ("seed %" G_GUINT64_FORMAT " (%s): %s and %s differ on what they share "
               "(%" G_GINT64_FORMAT " vs %" G_GINT64_FORMAT " records); first difference:\n"
               "%s: %s\n%s: %s", w->seed, w->variant->name, a->name, b->name, na, nb,
               a->name, x ? x->text : "(end)", b->name, y ? y->text : "(end)");
    }
  g_assert_cmpint (na, >, 0);
  *shared_total += na;
}

/* ---- the oracle ----------------------------------------------------------- */

static void G_GNUC_PRINTF (4, 5)
oracle_fail (World      *w,
             Device     *d,
             Rec        *r,
             const char *format,
             ...)
{
  va_list args;
  g_autofree char *what = NULL;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  g_error ("seed %" G_GUINT64_FORMAT " (%s): %s %s %s (writers 0x%x, deleters 0x%x%s): %s",
           w->seed, w->variant->name, d->name, r->model, r->id, r->writers, r->deleters,
           r->hard ? ", hard" : r->deleted ? ", soft" : "", what);
}

/* The end state of @r on @d against the log. */
static void
check_record (World  *w,
              Device *d,
              Rec    *r)
{
  MorangoDb *db = morango_store_get_db (d->store);
  sqlite3_stmt *stmt = morango_db_prepare (db,
      "SELECT serialized, deleted, hard_deleted, conflicting_serialized_data FROM morango_store "
      "WHERE id = ?", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) row = morango_app_get (morango_store_get_app (d->store), r->model, r->id, &error);
  gboolean held, deleted = FALSE, hard = FALSE;
  g_autofree char *serialized = NULL, *log = NULL;
  Rec *creator = rec_get (w, r->creator);
  gboolean purge = r->hard && !rec_racy (w, r);   /* a revival may have undone it */

  if (row == NULL)
    g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND);
  g_assert_true (morango_db_bind (db, stmt, NULL, "s", r->id));
  held = sqlite3_step (stmt) == SQLITE_ROW;
  if (held)
    {
      serialized = g_strdup (morango_db_column_text (stmt, 0));
      deleted = sqlite3_column_int (stmt, 1);
      hard = sqlite3_column_int (stmt, 2);
      log = g_strdup (morango_db_column_text (stmt, 3));
    }
  sqlite3_reset (stmt);

  /* Whatever the log says, the store and the application agree. */
  if (held && deleted && row != NULL)
    oracle_fail (w, d, r, "deleted in the store, still an application row");
  if (held && !deleted && row == NULL && may_read (d, r->partition))
    oracle_fail (w, d, r, "alive in the store, no application row");
  if (held && hard && !deleted)
    oracle_fail (w, d, r, "hard-deleted but not deleted");

  switch (rec_fate (w, r))
    {
    case FATE_EITHER:
      /* Known issue 2: the edit may have won. */
      if (held && !deleted && may_read (d, r->partition))
        w->n_revived++;
      return;
    case FATE_ALIVE:
      break;
    case FATE_DELETED:
      /* A device that may not read the record (but wrote it) hears of
       * nothing done elsewhere. */
      if (!may_read (d, r->partition))
        {
          if (!(r->deleters & bit (w, d)))
            return;
          purge = (r->purgers & bit (w, d)) != 0;
        }
      if (row != NULL)
        oracle_fail (w, d, r, "deleted (or its parent was), still an application row");
      if (held && !deleted)
        oracle_fail (w, d, r, "deleted (or its parent was), alive in the store");
      if (purge && held && !hard)
        oracle_fail (w, d, r, "hard-deleted, only soft-deleted in the store");
      if (purge && held && (!g_str_equal (serialized, "{}") && !g_str_equal (serialized, "")))
        oracle_fail (w, d, r, "hard-deleted, still holds data: %s", serialized);
      if (purge && held && *log != '\0')
        oracle_fail (w, d, r, "hard-deleted, still holds a conflict log: %s", log);
      return;
    }

  /* Deleting a lesson's creator clears the reference on every device:
   * an edit of their own, so such lessons have more than one writer. */
  if (r->writers != bit (w, d) && !may_read (d, r->partition))
    return;
  if (creator != NULL && rec_fate (w, creator) != FATE_ALIVE)
    {
      if (rec_fate (w, creator) == FATE_DELETED && row != NULL &&
          !json_object_get_null_member (row, "created_by_id"))
        oracle_fail (w, d, r, "its creator was deleted, still refers to it");
      return;
    }
  if ((r->writers & (r->writers - 1)) != 0)
    return;
  if (r->voiders != 0)
    {
      /* Its one writer deleted it before serializing it: it never was. */
      if (held || row != NULL)
        oracle_fail (w, d, r, "created and deleted before any sync, still %s",
                     held ? "in the store" : "an application row");
      return;
    }

  /* One device alone wrote it: its last values everywhere. */
  if (!held || deleted)
    oracle_fail (w, d, r, "written by one device only, %s", held ? "deleted" : "missing from the store");
  if (row == NULL)
    oracle_fail (w, d, r, "written by one device only, no application row");
  {
    g_autoptr(GList) members = json_object_get_members (r->expected);

    for (GList *l = members; l != NULL; l = l->next)
      if (!json_object_has_member (row, l->data) ||
          !morango_test_json_equal (json_object_get_member (r->expected, l->data),
                                    json_object_get_member (row, l->data)))
        {
          g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), row);
          g_autofree char *text = morango_test_json_to_string (node);
          oracle_fail (w, d, r, "written by one device only, %s differs: %s",
                       (const char *) l->data, text);
        }
  }
}

/* ---- the run ---------------------------------------------------------------- */

static Rec *
setup_create (World      *w,
              const char *model,
              JsonObject *fields,
              const char *parent)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;

  g_assert_true (morango_app_create (morango_store_get_app (w->dev[0].store), model, fields, &id, &error));
  g_assert_no_error (error);
  return note_create (w, &w->dev[0], model, id, fields, parent, NULL, NULL);
}

static void
setup_world (World   *w,
             guint64  seed)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoProfile) profile = morango_profile_new_by_name ("kolibri-like", &error);
  g_autofree char *full_params = NULL;

  g_assert_no_error (error);
  w->seed = seed;
  w->rng = morango_random_new_seeded (seed);
  w->dir = morango_test_tmpdir ();
  w->dataset = random_hex (w);
  w->recs = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, rec_free);
  w->users = g_ptr_array_new ();
  w->retired = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < N_DBS; i++)
    {
      g_autofree char *path = g_strdup_printf ("%s/db%u.sqlite3", w->dir, i);
      g_autofree char *sys = g_strdup_printf ("machine-%u", i);
      g_autoptr(MorangoHostInfo) host = morango_host_info_new (sys, "");
      g_autoptr(MorangoRandom) random = morango_random_new_seeded (seed * 31 + i + 1);

      w->dev[i].store = morango_store_open (path, profile, host, random, &error);
      g_assert_no_error (error);
      w->dev[i].name = g_strdup_printf ("db%u", i);
      w->dev[i].deletions = g_array_new (FALSE, FALSE, sizeof (Deletion));
    }

  /* The hub creates the facility, three learners and two classrooms. */
  {
    g_autoptr(JsonObject) f = json_object_new ();
    json_object_set_string_member (f, "dataset_id", w->dataset);
    json_object_set_string_member (f, "name", "Riverside School");
    w->facility = g_strdup (setup_create (w, "facility", f, NULL)->id);
  }
  for (guint i = 0; i < N_LEARNERS; i++)
    {
      g_autoptr(JsonObject) u = json_object_new ();
      g_autofree char *username = g_strdup_printf ("learner%u", i);
      Rec *r;

      json_object_set_string_member (u, "dataset_id", w->dataset);
      json_object_set_string_member (u, "facility_id", w->facility);
      json_object_set_string_member (u, "username", username);
      r = setup_create (w, "facilityuser", u, w->facility);
      w->learners[i] = g_strdup (r->id);
      g_ptr_array_add (w->users, r);
    }
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(JsonObject) c = json_object_new ();
      json_object_set_string_member (c, "dataset_id", w->dataset);
      json_object_set_string_member (c, "facility_id", w->facility);
      json_object_set_string_member (c, "name", i ? "Class B" : "Class A");
      setup_create (w, "classroom", c, w->facility);
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
      g_clear_pointer (&w->dev[i].deletions, g_array_unref);
    }
  for (guint i = 0; i < N_LEARNERS; i++)
    g_clear_pointer (&w->learners[i], g_free);
  g_clear_pointer (&w->users, g_ptr_array_unref);
  g_clear_pointer (&w->recs, g_hash_table_unref);
  g_clear_pointer (&w->retired, g_hash_table_unref);
  g_clear_pointer (&w->facility, g_free);
  g_clear_pointer (&w->dataset, g_free);
  g_clear_pointer (&w->dir, g_free);
  g_clear_pointer (&w->rng, morango_random_unref);
}

typedef struct {
  const Variant *variant;
  guint64        seed;
} Case;

static void
run_convergence (gconstpointer data)
{
  const Case *c = data;
  guint64 seed = morango_test_seed (c->seed);
  guint rounds = c->variant->rounds;
  World w = { .variant = c->variant };
  gint64 shared_total = 0;
  GHashTableIter iter;
  gpointer value;

  setup_world (&w, seed);

  for (guint r = 0; r < rounds; r++)
    {
      guint a = pick (&w, N_DBS), b = pick (&w, N_DBS - 1);

      for (guint k = pick (&w, 5); k > 0; k--)
        random_op (&w);
      if (r == rounds / 3)
        staged_read_only_conflict (&w);
      if (r == rounds / 2)
        {
          staged_conflict_then_purge (&w);
          staged_deletion_wins (&w);
        }
      /* Learner 1, who has a device of their own, leaves: a coach
       * takes in what the learner's device holds, then deletes the
       * learner, which cascades to those logs; the device hears of it
       * as an incoming delete that cascades there too. */
      if (r == rounds * 3 / 5)
        {
          Device *d = &w.dev[pick (&w, 2)];

          if (!app_holds (d, "facilityuser", w.learners[1]))
            d = &w.dev[0];
          sync_pair (&w, d, &w.dev[3], FALSE);
          delete_row (&w, d, "facilityuser", w.learners[1], pick (&w, 2));
        }
      if (b >= a)
        b++;
      sync_pair (&w, &w.dev[a], &w.dev[b], pick (&w, 2));
    }

  /* Two rounds of pull-then-push through the hub reach everybody. */
  w.final_rounds = TRUE;
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
      assert_agree (&w, &w.dev[i], &w.dev[j], &shared_total);

  g_hash_table_iter_init (&iter, w.recs);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Rec *r = value;

      for (guint i = 0; i < N_DBS; i++)
        check_record (&w, &w.dev[i], r);
      w.n_delete_edit += r->deleted && (r->writers & ~r->deleters) != 0;
      w.n_racy += r->deleted && rec_racy (&w, r);
    }

  g_test_message ("seed %" G_GUINT64_FORMAT " (%s): %u ops, %u syncs, %u pairs skipped (nothing shared), "
                  "%" G_GINT64_FORMAT " shared records compared, %u records in the log",
                  seed, c->variant->name, w.n_ops, w.n_syncs, w.n_skipped, shared_total,
                  g_hash_table_size (w.recs));
  g_test_message ("seed %" G_GUINT64_FORMAT " (%s): %" G_GINT64_FORMAT " conflicts, %" G_GINT64_FORMAT
                  " read-only conflicts, %u deleted (%u by cascade, %u written elsewhere, %u void), "
                  "%u hard-deleted (%u with a conflict log), %u anonymous logs, %u shared edits, "
                  "%u purges checked on the deleter, %u injected failures resumed, %u syncs in FSIC v1",
                  seed, c->variant->name, w.n_conflicts, w.n_read_only, w.n_deleted, w.n_cascaded,
                  w.n_delete_edit, w.n_void_deletions, w.n_hard, w.n_hard_logged, w.n_anonymous,
                  w.n_shared_edits, w.n_purges_checked, w.n_failures, w.n_v1);
  if (w.n_own_deletions > 0 || w.n_racy > 0)
    g_test_message ("seed %" G_GUINT64_FORMAT " (%s): known issues tolerated (MORANGO_TEST_STRICT=1 "
                    "fails on them): %u deleted rows whose versions differ between two peers, "
                    "%u deletions that may have met an unserialized edit (%u copies alive)",
                    seed, c->variant->name, w.n_own_deletions, w.n_racy, w.n_revived);
  g_assert_cmpuint (w.n_syncs, >, rounds / 2);
  g_assert_cmpint (w.n_conflicts, >, 0);
  g_assert_cmpint (w.n_read_only, >, 0);
  g_assert_cmpuint (w.n_hard, >, 0);
  g_assert_cmpuint (w.n_hard_logged, >, 0);
  g_assert_cmpuint (w.n_purges_checked, >, 0);
  g_assert_cmpuint (w.n_cascaded, >, 0);
  g_assert_cmpuint (w.n_delete_edit, >, 0);
  g_assert_cmpuint (w.n_anonymous, >, 0);
  g_assert_cmpuint (w.n_shared_edits, >, 0);
  if (c->variant->failures)
    g_assert_cmpuint (w.n_failures, >, 0);
  if (c->variant->format == MORANGO_FSIC_V1)
    g_assert_cmpuint (w.n_v1, >, 0);
  teardown_world (&w);
}

int
main (int   argc,
      char *argv[])
{
  static const guint64 seeds[] = { 20261126, 4242, 777 };
  static Case cases[G_N_ELEMENTS (variants) * G_N_ELEMENTS (seeds)];
  guint n = 0;

  g_test_init (&argc, &argv, NULL);
  strict = g_strcmp0 (g_getenv ("MORANGO_TEST_STRICT"), "1") == 0;
  for (guint v = 0; v < G_N_ELEMENTS (variants); v++)
    for (guint i = 0; i < G_N_ELEMENTS (seeds); i++)
      {
        g_autofree char *path = g_strdup_printf ("/convergence/kolibri-like/%s/seed-%" G_GUINT64_FORMAT,
                                                 variants[v].name, seeds[i]);
        cases[n] = (Case) { &variants[v], seeds[i] };
        g_test_add_data_func (path, &cases[n++], run_convergence);
      }
  return g_test_run ();
}
