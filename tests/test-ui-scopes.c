/* test-ui-scopes.c: the scopes a device holds, read by the engine and
 * shown on the Scopes page
 *
 * Runs under xvfb-run (see scripts/run-tests.sh).
 *
 * SPDX-License-Identifier: MIT
 */
#include <signal.h>
#include <sys/prctl.h>
#include <time.h>

#include "morango-account.h"
#include "morango-certificate.h"
#include "morango-engine-scopes.h"
#include "morango-ids.h"
#include "morango-known-peer.h"
#include "morango-peer-row.h"
#include "morango-peers-page.h"
#include "morango-scopes-page.h"
#include "morango-test-util.h"
#include "morango-ui-test-util.h"
#include "morango-window.h"

#define PASSWORD "correct horse battery"

/* ------------------------------------------------------------------ */
/* Helpers */

static MorangoStore *
open_folder (const char *dir)
{
  g_autoptr(MorangoHostInfo) host = morango_host_info_new_from_system ();
  g_autoptr(MorangoRandom) random = morango_random_new_secure ();
  g_autoptr(GError) error = NULL;
  MorangoStore *store = morango_store_open_folder (dir, NULL, host, random, &error);

  g_assert_no_error (error);
  return store;
}

static void
on_done (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static GPtrArray *
list_scopes (MorangoEngine *engine)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *scopes;

  morango_engine_list_scopes_async (engine, NULL, on_done, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  scopes = morango_engine_list_scopes_finish (engine, result, &error);
  g_assert_no_error (error);
  g_assert_nonnull (scopes);
  return scopes;
}

/* Every descendant of @widget of @type (and with @css_class unless
 * NULL), depth first. */
static void
collect (GtkWidget  *widget,
         GType       type,
         const char *css_class,
         GPtrArray  *out)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (widget, type) &&
      (css_class == NULL || gtk_widget_has_css_class (widget, css_class)))
    g_ptr_array_add (out, widget);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child;
       child = gtk_widget_get_next_sibling (child))
    collect (child, type, css_class, out);
}

static GPtrArray *
find_all (GtkWidget  *widget,
          GType       type,
          const char *css_class)
{
  GPtrArray *out = g_ptr_array_new ();

  collect (widget, type, css_class, out);
  return out;
}

/* The number a row shows beside its title. */
static gint64
row_count (GtkWidget *row)
{
  g_autoptr(GPtrArray) labels = find_all (row, GTK_TYPE_LABEL, "scope-count");
  const char *text;
  char *end = NULL;
  gint64 n;

  /* An expander's own label comes before its partitions' ones. */
  g_assert_cmpuint (labels->len, >, 0);
  text = gtk_label_get_text (g_ptr_array_index (labels, 0));
  n = g_ascii_strtoll (text, &end, 10);
  g_assert_true (end != text && *end == '\0');
  return n;
}

/* The row titled @title among @group's rows of @type. */
static GtkWidget *
row_titled (GtkWidget  *group,
            GType       type,
            const char *title)
{
  g_autoptr(GPtrArray) rows = find_all (group, type, NULL);

  for (guint i = 0; i < rows->len; i++)
    if (g_strcmp0 (adw_preferences_row_get_title (g_ptr_array_index (rows, i)), title) == 0)
      return g_ptr_array_index (rows, i);
  return NULL;
}

static void
drain (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
await_scopes (MorangoScopesPage *page)
{
  drain ();
  while (morango_scopes_page_get_loading (page))
    g_main_context_iteration (NULL, TRUE);
  drain ();
}

static AdwApplication *
test_app (void)
{
  static guint n;
  g_autofree char *id = g_strdup_printf ("org.morango.Sync.TestScopes%u", n++);
  AdwApplication *app = adw_application_new (id, G_APPLICATION_NON_UNIQUE);
  g_autoptr(GError) error = NULL;

  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_assert_no_error (error);
  return app;
}

static MorangoWindow *
open_window (AdwApplication *app,
             MorangoEngine  *engine)
{
  MorangoWindow *window = morango_window_new (app, engine);

  gtk_window_set_default_size (GTK_WINDOW (window), 800, 900);
  gtk_window_present (GTK_WINDOW (window));
  morango_window_set_page (window, "scopes");
  await_scopes (MORANGO_SCOPES_PAGE (morango_ui_test_find_widget (GTK_WIDGET (window), MORANGO_TYPE_SCOPES_PAGE)));
  return window;
}

/* ------------------------------------------------------------------ */
/* A folder with known records */

#define N_PLANTED 210
#define N_OUTSIDE_ERRORS 60
#define ERROR_MESSAGE "facility 00000000000000000000000000000001 is missing"

static const char * const planted_models[] = { "facilityuser", "contentsummarylog", "lesson" };

typedef struct {
  char       *id;
  const char *model;
  char       *partition;
  gboolean    deleted;
  gboolean    hard_deleted;
  gboolean    conflict;
  gboolean    error;
} Planted;

typedef struct {
  char      *dir;
  char      *dataset;     /* the root's id */
  char      *root_id;
  char      *child_id;    /* single-user for learner U1 */
  char      *other;       /* a dataset this device holds no scope of */
  GPtrArray *planted;     /* Planted * */
} Folder;

static void
planted_free (Planted *p)
{
  g_free (p->id);
  g_free (p->partition);
  g_free (p);
}

static void
folder_clear (Folder *f)
{
  g_free (f->dir);
  g_free (f->dataset);
  g_free (f->root_id);
  g_free (f->child_id);
  g_free (f->other);
  g_clear_pointer (&f->planted, g_ptr_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Folder, folder_clear)

#define U1 "11111111111111111111111111111111"
#define U2 "22222222222222222222222222222222"

static void
plant (MorangoStore *store,
       Planted      *p)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (morango_db_execute (morango_store_get_db (store), &error,
                                     "INSERT INTO morango_store (id, profile, serialized, deleted, hard_deleted,"
                                     " last_saved_instance, last_saved_counter, partition, source_id, model_name,"
                                     " conflicting_serialized_data, deserialization_error)"
                                     " VALUES (?, 'facilitydata', '{}', ?, ?, ?, 1, ?, ?, ?, ?, ?)",
                                     "sbbssssss", p->id, p->deleted, p->hard_deleted,
                                     morango_store_get_instance_id (store), p->partition, p->id, p->model,
                                     p->conflict ? "{\"name\": \"theirs\"}" : "",
                                     p->error ? ERROR_MESSAGE : ""));
  g_assert_no_error (error);
}

/* A root of the full-facility scope, a single-user certificate under it
 * for learner U1, records in five partitions (one of another dataset),
 * some deleted, one conflict and two records that failed to
 * deserialize, and N_OUTSIDE_ERRORS failed ones outside every scope. */
static void
folder_setup (Folder *f)
{
  g_autoptr(MorangoStore) store = NULL;
  g_autoptr(MorangoCertificate) root = NULL;
  g_autoptr(MorangoCertificate) child = NULL;
  g_autoptr(MorangoKey) key = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *params = NULL;
  const char *parts[5];
  g_autofree char *p0 = NULL, *p1 = NULL, *p2 = NULL, *p3 = NULL, *p4 = NULL;
  MorangoDb *db;

  f->dir = morango_test_tmpdir ();
  store = open_folder (f->dir);
  db = morango_store_get_db (store);
  root = morango_certificate_create_root (db, "full-facility", NULL, NULL, &error);
  g_assert_no_error (error);
  f->root_id = g_strdup (morango_certificate_get_id (root));
  f->dataset = g_strdup (f->root_id);
  f->other = g_strdup ("0123456789abcdef0123456789abcdef");

  key = morango_key_generate (&error);
  g_assert_no_error (error);
  params = g_strdup_printf ("{\"dataset_id\": \"%s\", \"user_id\": \"%s\"}", f->dataset, U1);
  child = morango_certificate_issue (db, root, "single-user", -1, params, key, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (morango_certificate_has_private_key (child));
  g_assert_true (morango_certificate_save (child, db, &error));
  g_assert_no_error (error);
  f->child_id = g_strdup (morango_certificate_get_id (child));

  parts[0] = p0 = g_strdup (f->dataset);
  parts[1] = p1 = g_strconcat (f->dataset, ":allusers-ro", NULL);
  parts[2] = p2 = g_strconcat (f->dataset, ":user-ro:" U1, NULL);
  parts[3] = p3 = g_strconcat (f->dataset, ":user-ro:" U2, NULL);
  parts[4] = p4 = g_strconcat (f->other, ":allusers-ro", NULL);

  f->planted = g_ptr_array_new_with_free_func ((GDestroyNotify) planted_free);
  for (guint i = 0; i < N_PLANTED + N_OUTSIDE_ERRORS; i++)
    {
      Planted *p = g_new0 (Planted, 1);

      p->id = g_strdup_printf ("%032x", 0xa000 + i);
      if (i < N_PLANTED)
        {
          p->model = planted_models[i % G_N_ELEMENTS (planted_models)];
          p->partition = g_strdup (parts[i % G_N_ELEMENTS (parts)]);
          p->deleted = i % 7 == 0;
          p->hard_deleted = i % 11 == 0;
          p->conflict = i == 2;             /* lesson in U1's partition */
          p->error = i == 1 || i == 13;     /* in allusers-ro and in U2's */
        }
      else
        {
          p->model = "facility";
          p->partition = g_strdup (parts[4]);
          p->error = TRUE;
        }
      plant (store, p);
      g_ptr_array_add (f->planted, p);
    }

  /* The school synced the learner's scope last. */
  {
    g_autoptr(MorangoKnownPeer) school = morango_known_peer_add (store, "http://school.example:8000", 1000, &error);

    g_assert_no_error (error);
    g_assert_true (morango_known_peer_set_certificates (store, school->id, f->child_id, NULL, &error));
    g_assert_true (morango_known_peer_record_success (store, school->id, g_get_real_time (), &error));
    g_assert_no_error (error);
  }
}

/* What the test expects of one scope, counted here from the planted
 * records with the scope's filter written out by hand. */
static void
assert_summary (const MorangoScopeSummary *s,
                Folder                    *f,
                const char * const        *prefixes)   /* NULL: outside every scope */
{
  g_autoptr(GHashTable) groups = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  const char * const held[] = { f->dataset, NULL };
  gint64 records = 0, deleted = 0, conflicts = 0, errors = 0;

  for (guint i = 0; i < f->planted->len; i++)
    {
      Planted *p = g_ptr_array_index (f->planted, i);
      gboolean in = FALSE;
      g_autofree char *key = NULL;
      gint64 *c;

      if (prefixes != NULL)
        for (guint k = 0; prefixes[k]; k++)
          in |= g_str_has_prefix (p->partition, prefixes[k]);
      else
        in = !g_str_has_prefix (p->partition, held[0]);
      if (!in)
        continue;
      key = g_strconcat (p->model, "|", p->partition, NULL);
      c = g_hash_table_lookup (groups, key);
      if (c == NULL)
        {
          c = g_new0 (gint64, 4);
          g_hash_table_insert (groups, g_steal_pointer (&key), c);
        }
      if (p->deleted || p->hard_deleted)
        c[1]++, deleted++;
      else
        c[0]++, records++;
      c[2] += p->conflict, conflicts += p->conflict;
      c[3] += p->error, errors += p->error;
    }

  g_assert_cmpint (s->records, ==, records);
  g_assert_cmpint (s->deleted, ==, deleted);
  g_assert_cmpint (s->conflicts, ==, conflicts);
  g_assert_cmpint (s->errors, ==, errors);
  g_assert_cmpuint (s->counts->len, ==, g_hash_table_size (groups));
  for (guint i = 0; i < s->counts->len; i++)
    {
      const MorangoScopeCount *c = g_ptr_array_index (s->counts, i);
      g_autofree char *key = g_strconcat (c->model_name, "|", c->partition, NULL);
      gint64 *e = g_hash_table_lookup (groups, key);

      g_assert_nonnull (e);
      g_assert_cmpint (c->records, ==, e[0]);
      g_assert_cmpint (c->deleted, ==, e[1]);
      g_assert_cmpint (c->conflicts, ==, e[2]);
      g_assert_cmpint (c->errors, ==, e[3]);
      if (i > 0)
        {
          const MorangoScopeCount *b = g_ptr_array_index (s->counts, i - 1);
          int order = strcmp (b->model_name, c->model_name);

          g_assert_true (order < 0 || (order == 0 && strcmp (b->partition, c->partition) < 0));
        }
    }
  g_assert_cmpuint (s->error_list->len, ==, MIN (errors, MORANGO_SCOPE_ERRORS_MAX));
  for (guint i = 0; i < s->error_list->len; i++)
    {
      const MorangoScopeError *e = g_ptr_array_index (s->error_list, i);

      g_assert_cmpstr (e->message, ==, ERROR_MESSAGE);
      g_assert_true (morango_is_hex32 (e->record_id));
      if (prefixes != NULL)
        {
          gboolean in = FALSE;

          for (guint k = 0; prefixes[k]; k++)
            in |= g_str_has_prefix (e->partition, prefixes[k]);
          g_assert_true (in);
        }
    }
}

static void
test_engine_counts (void)
{
  g_auto(Folder) f = { 0 };
  g_autoptr(MorangoEngine) engine = NULL;
  g_autoptr(GPtrArray) scopes = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *rw = NULL, *ro = NULL, *all = NULL;
  const MorangoScopeSummary *root, *child, *outside;

  folder_setup (&f);
  engine = morango_engine_new (f.dir, NULL, &error);
  g_assert_no_error (error);
  scopes = list_scopes (engine);

  /* The root, the learner's scope under it, then what neither holds. */
  g_assert_cmpuint (scopes->len, ==, 3);
  root = g_ptr_array_index (scopes, 0);
  child = g_ptr_array_index (scopes, 1);
  outside = g_ptr_array_index (scopes, 2);

  g_assert_cmpstr (root->certificate_id, ==, f.root_id);
  g_assert_cmpstr (root->scope_definition, ==, "full-facility");
  g_assert_nonnull (strstr (root->description, f.dataset));
  g_assert_cmpuint (g_strv_length (root->certificate_ids), ==, 1);
  g_assert_cmpuint (g_strv_length (root->read_filter), ==, 1);
  g_assert_cmpstr (root->read_filter[0], ==, f.dataset);
  {
    const char * const prefixes[] = { f.dataset, NULL };

    assert_summary (root, &f, prefixes);
  }
  /* Nobody synced the whole facility. */
  g_assert_null (root->last_peer_name);
  g_assert_cmpint (root->last_synced, ==, 0);

  g_assert_cmpstr (child->certificate_id, ==, f.child_id);
  g_assert_cmpstr (child->scope_definition, ==, "single-user");
  rw = g_strconcat (f.dataset, ":user-rw:" U1, NULL);
  ro = g_strconcat (f.dataset, ":user-ro:" U1, NULL);
  all = g_strconcat (f.dataset, ":allusers-ro", NULL);
  {
    const char * const prefixes[] = { rw, all, ro, NULL };

    assert_summary (child, &f, prefixes);
  }
  /* The one conflict is in U1's partition, one error in allusers-ro. */
  g_assert_cmpint (child->conflicts, ==, 1);
  g_assert_cmpint (child->errors, ==, 1);
  g_assert_cmpint (root->errors, ==, 2);
  g_assert_cmpstr (child->last_peer_name, ==, "http://school.example:8000/");
  g_assert_cmpint (child->last_synced, >, 0);

  g_assert_null (outside->certificate_id);
  g_assert_null (outside->scope_definition);
  g_assert_cmpuint (g_strv_length (outside->certificate_ids), ==, 0);
  assert_summary (outside, &f, NULL);
  /* Many failures: the count is whole, the list is bounded. */
  g_assert_cmpint (outside->errors, ==, N_OUTSIDE_ERRORS);
  g_assert_cmpuint (outside->error_list->len, ==, MORANGO_SCOPE_ERRORS_MAX);
}

/* A certificate without its private key is not a scope held: the
 * records it would cover count as outside. */
static void
test_engine_unowned (void)
{
  g_autofree char *dir = morango_test_tmpdir ();
  g_autoptr(MorangoEngine) engine = NULL;
  g_autoptr(GPtrArray) scopes = NULL;
  g_autoptr(GError) error = NULL;

  engine = morango_engine_new (dir, NULL, &error);
  g_assert_no_error (error);
  scopes = list_scopes (engine);
  g_assert_cmpuint (scopes->len, ==, 0);

  {
    g_autoptr(MorangoStore) store = open_folder (dir);
    g_autoptr(MorangoCertificate) root = morango_certificate_create_root (morango_store_get_db (store),
                                                                          "full-facility", NULL, NULL, &error);
    Planted p = { (char *) "abababababababababababababababab", "lesson", NULL, FALSE, FALSE, FALSE, FALSE };

    g_assert_no_error (error);
    p.partition = g_strdup (morango_certificate_get_id (root));
    plant (store, &p);
    g_assert_true (morango_db_execute (morango_store_get_db (store), &error,
                                       "UPDATE morango_certificate SET private_key = NULL", ""));
    g_assert_no_error (error);
    g_free (p.partition);
  }
  g_clear_pointer (&scopes, g_ptr_array_unref);
  scopes = list_scopes (engine);
  g_assert_cmpuint (scopes->len, ==, 1);
  g_assert_null (((MorangoScopeSummary *) g_ptr_array_index (scopes, 0))->certificate_id);
  g_assert_cmpint (((MorangoScopeSummary *) g_ptr_array_index (scopes, 0))->records, ==, 1);
}

/* ------------------------------------------------------------------ */
/* The page */

static GtkWidget *
group_of (MorangoScopesPage *page,
          const char        *certificate_id)
{
  g_autoptr(GPtrArray) groups = find_all (GTK_WIDGET (page), GTK_TYPE_BOX, "scope");

  for (guint i = 0; i < groups->len; i++)
    if (g_strcmp0 (g_object_get_data (groups->pdata[i], "morango-certificate-id"), certificate_id) == 0)
      return groups->pdata[i];
  return NULL;
}

static const char *
scope_title (GtkWidget *group)
{
  g_autoptr(GPtrArray) labels = find_all (group, GTK_TYPE_LABEL, "scope-title");

  g_assert_cmpuint (labels->len, ==, 1);
  return gtk_label_get_text (labels->pdata[0]);
}

static void
test_page_empty (void)
{
  g_autoptr(AdwApplication) app = test_app ();
  g_autofree char *dir = morango_test_tmpdir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoEngine) engine = morango_engine_new (dir, NULL, &error);
  MorangoWindow *window;
  MorangoScopesPage *page;
  GtkWidget *empty;

  g_assert_no_error (error);
  window = open_window (app, engine);
  page = MORANGO_SCOPES_PAGE (morango_ui_test_find_widget (GTK_WIDGET (window), MORANGO_TYPE_SCOPES_PAGE));
  g_assert_cmpuint (morango_scopes_page_get_n_scopes (page), ==, 0);
  empty = morango_ui_test_find_widget (GTK_WIDGET (page), ADW_TYPE_STATUS_PAGE);
  g_assert_true (gtk_widget_get_mapped (empty));
  /* It says where data comes from. */
  g_assert_nonnull (strstr (adw_status_page_get_description (ADW_STATUS_PAGE (empty)), "Peers page"));
  g_assert_nonnull (strstr (adw_status_page_get_description (ADW_STATUS_PAGE (empty)), "Certificates page"));
  morango_ui_test_save_screenshot (GTK_WIDGET (window), "scopes-empty.png");
  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_page_counts (void)
{
  g_autoptr(AdwApplication) app = test_app ();
  g_auto(Folder) f = { 0 };
  g_autoptr(MorangoEngine) engine = NULL;
  g_autoptr(GPtrArray) scopes = NULL;
  g_autoptr(GError) error = NULL;
  MorangoWindow *window;
  MorangoScopesPage *page;
  GtkWidget *group, *row;
  g_autoptr(GPtrArray) errors = NULL;

  folder_setup (&f);
  engine = morango_engine_new (f.dir, NULL, &error);
  g_assert_no_error (error);
  scopes = list_scopes (engine);
  window = open_window (app, engine);
  page = MORANGO_SCOPES_PAGE (morango_ui_test_find_widget (GTK_WIDGET (window), MORANGO_TYPE_SCOPES_PAGE));
  g_assert_cmpuint (morango_scopes_page_get_n_scopes (page), ==, 3);
  g_assert_false (gtk_widget_get_mapped (morango_ui_test_find_widget (GTK_WIDGET (page), ADW_TYPE_STATUS_PAGE)));

  for (guint i = 0; i < scopes->len; i++)
    {
      const MorangoScopeSummary *s = g_ptr_array_index (scopes, i);

      group = group_of (page, s->certificate_id);
      g_assert_nonnull (group);
      row = row_titled (group, ADW_TYPE_ACTION_ROW, "Records");
      g_assert_nonnull (row);
      g_assert_cmpint (row_count (row), ==, s->records);
      /* Each model's row holds the sum of its partitions. */
      for (guint m = 0; m < G_N_ELEMENTS (planted_models); m++)
        {
          gint64 sum = 0;

          for (guint k = 0; k < s->counts->len; k++)
            {
              const MorangoScopeCount *c = g_ptr_array_index (s->counts, k);

              if (g_str_equal (c->model_name, planted_models[m]))
                sum += c->records;
            }
          row = row_titled (group, ADW_TYPE_EXPANDER_ROW, planted_models[m]);
          if (sum == 0 && row == NULL)
            continue;
          g_assert_nonnull (row);
          g_assert_cmpint (row_count (row), ==, sum);
        }
      row = row_titled (group, ADW_TYPE_ACTION_ROW, "Conflicts");
      if (s->conflicts > 0)
        g_assert_cmpint (row_count (row), ==, s->conflicts);
      else
        g_assert_null (row);
      row = row_titled (group, ADW_TYPE_EXPANDER_ROW, "Records not applied");
      if (s->errors > 0)
        g_assert_cmpint (row_count (row), ==, s->errors);
      else
        g_assert_null (row);
    }

  /* The title says the scope in words; the learner's names its peer. */
  group = group_of (page, f.root_id);
  {
    g_autofree char *shortid = g_strndup (f.dataset, 8);
    const char *title = scope_title (group);

    g_assert_true (g_str_has_prefix (title, "Full facility — facility "));
    g_assert_nonnull (strstr (title, shortid));
  }
  group = group_of (page, f.child_id);
  g_assert_true (g_str_has_prefix (scope_title (group),
                                   "Single learner — facility "));
  {
    g_autoptr(GPtrArray) last = find_all (group, ADW_TYPE_ACTION_ROW, "scope-last-peer");

    g_assert_cmpuint (last->len, ==, 1);
    g_assert_true (g_str_has_prefix (adw_preferences_row_get_title (last->pdata[0]),
                                     "Last from http://school.example:8000/, "));
  }
  group = group_of (page, f.root_id);
  {
    g_autoptr(GPtrArray) last = find_all (group, ADW_TYPE_ACTION_ROW, "scope-last-peer");

    g_assert_cmpstr (adw_preferences_row_get_title (last->pdata[0]), ==, "Not synced with any peer yet");
  }

  /* The messages of the records that failed, bounded. */
  group = group_of (page, NULL);
  errors = find_all (group, ADW_TYPE_ACTION_ROW, "scope-error");
  g_assert_cmpuint (errors->len, ==, MORANGO_SCOPE_ERRORS_MAX);
  g_assert_cmpstr (adw_preferences_row_get_title (errors->pdata[0]), ==, ERROR_MESSAGE);
  g_assert_nonnull (row_titled (group, ADW_TYPE_ACTION_ROW, "and 10 more"));

  /* New records show once the engine says the data changed. */
  {
    g_autoptr(MorangoStore) store = open_folder (f.dir);
    g_autofree char *partition = g_strconcat (f.dataset, ":user-ro:" U1, NULL);
    Planted p = { (char *) "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd", "lesson", partition, FALSE, FALSE, FALSE, FALSE };
    const MorangoScopeSummary *s = g_ptr_array_index (scopes, 1);

    plant (store, &p);
    g_signal_emit_by_name (engine, "data-changed");
    await_scopes (page);
    row = row_titled (group_of (page, f.child_id), ADW_TYPE_ACTION_ROW, "Records");
    g_assert_cmpint (row_count (row), ==, s->records + 1);
  }

  /* Open the learner's lessons to show the partitions. */
  row = row_titled (group_of (page, f.child_id), ADW_TYPE_EXPANDER_ROW, "lesson");
  adw_expander_row_set_expanded (ADW_EXPANDER_ROW (row), TRUE);
  morango_ui_test_save_screenshot (GTK_WIDGET (window), "scopes-planted.png");

  /* At 360 px, nothing is wider than the window. */
  gtk_window_set_default_size (GTK_WINDOW (window), 360, 900);
  morango_ui_test_await_painted (GTK_WIDGET (window));
  g_assert_cmpint (gtk_widget_get_width (GTK_WIDGET (window)), <=, 360);
  morango_ui_test_save_screenshot (GTK_WIDGET (window), "scopes-narrow.png");
  gtk_window_destroy (GTK_WINDOW (window));
}

/* ------------------------------------------------------------------ */
/* A full sync from the Peers page with a `morango serve` */

/* Runs `morango --data-dir @dir ARGS…` to its end; its standard output.
 * It must succeed. */
static char *
cli (const char *dir,
     ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;
  const char *a;
  va_list args;

  g_ptr_array_add (argv, (gpointer) g_getenv ("MORANGO_CLI"));
  g_ptr_array_add (argv, (gpointer) "--data-dir");
  g_ptr_array_add (argv, (gpointer) dir);
  va_start (args, dir);
  while ((a = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, (gpointer) a);
  va_end (args);
  g_ptr_array_add (argv, NULL);
  g_assert_nonnull (argv->pdata[0]);
  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_STDIN_FROM_DEV_NULL, NULL, NULL,
                &out, &err, &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("morango %s failed: %s", (char *) argv->pdata[3], err);
  return g_steal_pointer (&out);
}

/* In the server's process: a test that fails leaves no server behind. */
static void
die_with_the_test (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* `morango serve` on @dir at 127.0.0.1, any free port, with the admin
 * password PASSWORD; its URL in @url. */
static GSubprocess *
serve (const char  *dir,
       char       **url)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                        G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autofree char *pw = g_build_filename (dir, "..", "admin-password", NULL);
  g_autofree char *pw_option = g_strconcat ("--admin-password-file=", pw, NULL);
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  GSubprocess *process;
  const char *prefix = "listening on ";

  g_assert_true (g_file_set_contents (pw, PASSWORD "\n", -1, &error));
  g_subprocess_launcher_set_child_setup (launcher, die_with_the_test, NULL, NULL);
  process = g_subprocess_launcher_spawn (launcher, &error, g_getenv ("MORANGO_CLI"), "--data-dir", dir, "serve",
                                         "--address=127.0.0.1", "--port=0", pw_option, NULL);
  g_assert_no_error (error);
  /* Its first line says where it listens, once it does. */
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (process));
  line = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  g_assert_true (g_str_has_prefix (line, "listening on http://127.0.0.1:"));
  *url = g_strdup (line + strlen (prefix));
  return process;
}

static GPtrArray *
peer_rows (GtkWidget *widget)
{
  return find_all (widget, MORANGO_TYPE_PEER_ROW, NULL);
}

static gboolean
subtitle_has (MorangoPeerRow *row,
              const char     *text)
{
  const char *subtitle = adw_action_row_get_subtitle (ADW_ACTION_ROW (row));

  return subtitle != NULL && strstr (subtitle, text) != NULL;
}

/* The held records of each model in @dir's store. */
static GHashTable *
store_counts (const char *dir)
{
  g_autoptr(MorangoStore) store = morango_test_open_server_folder (dir);
  GHashTable *counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  MorangoDb *db = morango_store_get_db (store);
  g_autoptr(GError) error = NULL;
  sqlite3_stmt *stmt;

  stmt = morango_db_prepare (db, "SELECT model_name, count (*) FROM morango_store"
                                 " WHERE deleted = 0 AND hard_deleted = 0 GROUP BY model_name", &error);
  g_assert_no_error (error);
  while (morango_db_step (db, stmt, &error) == SQLITE_ROW)
    {
      gint64 *n = g_new (gint64, 1);

      *n = sqlite3_column_int64 (stmt, 1);
      g_hash_table_insert (counts, g_strdup ((const char *) sqlite3_column_text (stmt, 0)), n);
    }
  g_assert_no_error (error);
  sqlite3_reset (stmt);
  return counts;
}

static void
test_sync_then_counts (void)
{
  g_autoptr(AdwApplication) app = test_app ();
  g_autofree char *tmp = morango_test_tmpdir ();
  g_autofree char *server_dir = g_build_filename (tmp, "server", NULL);
  g_autofree char *dir = g_build_filename (tmp, "app", NULL);
  g_autofree char *dataset = NULL;
  g_autofree char *facility = NULL;
  g_autofree char *partition = NULL;
  g_autofree char *lines_path = g_build_filename (tmp, "facility.jsonl", NULL);
  g_autofree char *url = NULL;
  g_autofree char *cert_id = NULL;
  g_autofree char *ignored = NULL;
  g_autoptr(GString) lines = g_string_new (NULL);
  g_autoptr(GSubprocess) server = NULL;
  g_autoptr(MorangoEngine) engine = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(GHashTable) held = NULL;
  g_autoptr(GError) error = NULL;
  MorangoEnginePairOptions pair = { 0 };
  GAsyncResult *result = NULL;
  MorangoWindow *window;
  MorangoScopesPage *page;
  MorangoPeerRow *row;
  GtkWidget *group;
  GHashTableIter iter;
  gpointer model, n;
  gint64 total = 0;

  /* The school: a facility with users, classrooms and anonymous logs. */
  dataset = cli (server_dir, "cert", "create-root", "--scope", "full-facility", NULL);
  g_strstrip (dataset);
  g_assert_true (morango_is_hex32 (dataset));
  partition = g_strconcat (dataset, ":allusers-ro", NULL);
  facility = morango_sha2_uuid (partition, dataset, "facility", NULL);
  g_string_append_printf (lines, "{\"model\":\"facility\",\"fields\":{\"dataset_id\":\"%s\",\"name\":\"Riverside\"}}\n",
                          dataset);
  for (guint i = 0; i < 3; i++)
    g_string_append_printf (lines, "{\"model\":\"facilityuser\",\"fields\":{\"dataset_id\":\"%s\",\"facility\":\"%s\","
                            "\"username\":\"learner%u\",\"full_name\":\"Learner %u\"}}\n", dataset, facility, i, i);
  for (guint i = 0; i < 2; i++)
    g_string_append_printf (lines, "{\"model\":\"classroom\",\"fields\":{\"dataset_id\":\"%s\",\"facility\":\"%s\","
                            "\"name\":\"Room %u\"}}\n", dataset, facility, i);
  for (guint i = 0; i < 7; i++)
    g_string_append_printf (lines, "{\"model\":\"anonymoussessionlog\",\"fields\":{\"dataset_id\":\"%s\","
                            "\"content_id\":\"%032x\",\"progress\":0.25,\"time_spent\":%u.5}}\n", dataset, i, i);
  g_assert_true (g_file_set_contents (lines_path, lines->str, -1, &error));
  g_assert_no_error (error);
  ignored = cli (server_dir, "data", "import", lines_path, NULL);
  server = serve (server_dir, &url);

  /* The app pairs with it, then syncs from its row on the Peers page. */
  engine = morango_engine_new (dir, NULL, &error);
  g_assert_no_error (error);
  window = morango_window_new (app, engine);
  gtk_window_set_default_size (GTK_WINDOW (window), 800, 900);
  gtk_window_present (GTK_WINDOW (window));
  pair.scope_definition = "full-facility";
  pair.password = PASSWORD;
  morango_engine_pair_async (engine, url, &pair, NULL, on_done, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  cert_id = morango_engine_pair_finish (engine, result, &error);
  g_assert_no_error (error);
  g_clear_object (&result);

  rows = peer_rows (GTK_WIDGET (window));
  while (rows->len == 0)
    {
      g_main_context_iteration (NULL, TRUE);
      g_ptr_array_unref (rows);
      rows = peer_rows (GTK_WIDGET (window));
    }
  g_assert_cmpuint (rows->len, ==, 1);
  row = g_ptr_array_index (rows, 0);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (row), "peer.sync", NULL));
  while (morango_peer_row_is_syncing (row) || !subtitle_has (row, "Synced"))
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (g_str_has_prefix (morango_peer_row_get_outcome (row), "Synced with"));

  /* The server stops; what its store holds is what the page must show. */
  g_subprocess_send_signal (server, SIGTERM);
  g_subprocess_wait (server, NULL, &error);
  g_assert_no_error (error);
  held = store_counts (server_dir);
  g_assert_cmpint (*(gint64 *) g_hash_table_lookup (held, "facility"), ==, 1);
  g_assert_cmpint (*(gint64 *) g_hash_table_lookup (held, "facilityuser"), ==, 3);
  g_assert_cmpint (*(gint64 *) g_hash_table_lookup (held, "classroom"), ==, 2);
  g_assert_cmpint (*(gint64 *) g_hash_table_lookup (held, "anonymoussessionlog"), ==, 7);

  morango_window_set_page (window, "scopes");
  page = MORANGO_SCOPES_PAGE (morango_ui_test_find_widget (GTK_WIDGET (window), MORANGO_TYPE_SCOPES_PAGE));
  await_scopes (page);
  g_assert_cmpuint (morango_scopes_page_get_n_scopes (page), ==, 1);
  group = group_of (page, cert_id);
  g_assert_nonnull (group);
  g_hash_table_iter_init (&iter, held);
  while (g_hash_table_iter_next (&iter, &model, &n))
    {
      GtkWidget *model_row = row_titled (group, ADW_TYPE_EXPANDER_ROW, model);

      g_test_message ("%s: %" G_GINT64_FORMAT, (char *) model, *(gint64 *) n);
      g_assert_nonnull (model_row);
      g_assert_cmpint (row_count (model_row), ==, *(gint64 *) n);
      total += *(gint64 *) n;
    }
  g_assert_cmpint (row_count (row_titled (group, ADW_TYPE_ACTION_ROW, "Records")), ==, total);
  {
    g_autoptr(GPtrArray) last = find_all (group, ADW_TYPE_ACTION_ROW, "scope-last-peer");
    g_autofree char *expected = g_strdup_printf ("Last from %s, ", url);

    g_assert_cmpuint (last->len, ==, 1);
    g_assert_true (g_str_has_prefix (adw_preferences_row_get_title (last->pdata[0]), expected));
  }
  g_assert_null (row_titled (group, ADW_TYPE_ACTION_ROW, "Conflicts"));
  g_assert_null (row_titled (group, ADW_TYPE_EXPANDER_ROW, "Records not applied"));

  /* The server's side: its facility came last from this app, known to
   * it by instance id only. */
  {
    g_autoptr(MorangoEngine) school = morango_engine_new (server_dir, NULL, &error);
    g_autoptr(GPtrArray) served = NULL;
    const MorangoScopeSummary *s;

    g_assert_no_error (error);
    served = list_scopes (school);
    g_assert_cmpuint (served->len, ==, 1);
    s = g_ptr_array_index (served, 0);
    g_assert_cmpstr (s->certificate_id, ==, dataset);
    g_assert_cmpint (s->records, ==, total);
    g_assert_cmpstr (s->last_peer_name, ==, morango_engine_get_instance_id (engine));
    g_assert_cmpint (s->last_synced, >, 0);
  }

  {
    GtkWidget *classrooms = row_titled (group, ADW_TYPE_EXPANDER_ROW, "classroom");

    adw_expander_row_set_expanded (ADW_EXPANDER_ROW (classrooms), TRUE);
  }
  morango_ui_test_save_screenshot (GTK_WIDGET (window), "scopes-page.png");
  gtk_window_destroy (GTK_WINDOW (window));
}

/* On demand (-m perf): the reading at 100k records, as a sync leaves
 * them (a few hundred bytes of serialized fields each). */
static void
test_bench_100k (void)
{
  g_autofree char *dir = morango_test_tmpdir ();
  g_autoptr(MorangoEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *fields = g_strnfill (400, 'x');
  g_autofree char *serialized = g_strdup_printf ("{\"name\": \"%s\"}", fields);
  g_autofree char *dataset = NULL;
  gint64 planted = 0;

  if (!g_test_perf ())
    {
      g_test_skip ("a benchmark: run with -m perf");
      return;
    }
  {
    g_autoptr(MorangoStore) store = open_folder (dir);
    MorangoDb *db = morango_store_get_db (store);
    g_autoptr(MorangoCertificate) root = morango_certificate_create_root (db, "full-facility", NULL, NULL, &error);

    g_assert_no_error (error);
    dataset = g_strdup (morango_certificate_get_id (root));
    g_assert_true (morango_db_exec (db, "BEGIN", &error));
    for (guint i = 0; i < 100000; i++)
      {
        g_autofree char *id = g_strdup_printf ("%032x", 0x100000 + i);
        g_autofree char *user = g_strdup_printf ("%032x", i % 300);
        g_autofree char *partition = NULL;
        const char *kinds[] = { "", ":allusers-ro", ":user-ro:", ":user-rw:", ":anonymous" };

        partition = g_strconcat (dataset, kinds[i % 5], i % 5 == 2 || i % 5 == 3 ? user : "", NULL);
        g_assert_true (morango_db_execute (db, &error,
                                           "INSERT INTO morango_store (id, profile, serialized, deleted, hard_deleted,"
                                           " last_saved_instance, last_saved_counter, partition, source_id, model_name,"
                                           " deserialization_error)"
                                           " VALUES (?, 'facilitydata', ?, ?, 0, ?, ?, ?, ?, ?, ?)",
                                           "ssbsissss", id, serialized, i % 50 == 0, morango_store_get_instance_id (store),
                                           (gint64) i, partition, id, planted_models[i % 3],
                                           i % 777 == 0 ? ERROR_MESSAGE : ""));
        g_assert_no_error (error);
        planted++;
      }
    g_assert_true (morango_db_exec (db, "COMMIT", &error));
  }
  engine = morango_engine_new (dir, NULL, &error);
  g_assert_no_error (error);
  for (guint run = 0; run < 3; run++)
    {
      g_autoptr(GPtrArray) scopes = NULL;
      const MorangoScopeSummary *s;
      gint64 start = g_get_monotonic_time ();
      struct timespec cpu0, cpu1;
      double seconds, cpu;

      /* CPU time as well: the machines running the tests are often
       * busy, and the wall clock then says little. */
      clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &cpu0);
      scopes = list_scopes (engine);
      clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &cpu1);
      seconds = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
      cpu = (cpu1.tv_sec - cpu0.tv_sec) + (cpu1.tv_nsec - cpu0.tv_nsec) / 1e9;
      s = g_ptr_array_index (scopes, 0);
      g_assert_cmpint (s->records + s->deleted, ==, planted);
      g_test_minimized_result (cpu, "list_scopes at 100k records: %.3f s CPU, %.3f s wall, %u groups",
                               cpu, seconds, s->counts->len);
    }
}

/* A peer may have sent bytes that are not UTF-8 in a partition or a
 * model name, and a failure message may quote them: the page shows them
 * made valid (GTK would refuse them with a critical, fatal here). */
static void
test_page_invalid_text (void)
{
  g_autoptr(AdwApplication) app = test_app ();
  g_autofree char *dir = morango_test_tmpdir ();
  g_autoptr(MorangoEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  MorangoWindow *window;
  MorangoScopesPage *page;
  GtkWidget *group, *row;

  {
    g_autoptr(MorangoStore) store = open_folder (dir);
    Planted p = { (char *) "efefefefefefefefefefefefefefefef", "lesson\xff", (char *) "bad\xfe:partition",
                  FALSE, FALSE, FALSE, TRUE };

    plant (store, &p);
    g_assert_true (morango_db_execute (morango_store_get_db (store), &error,
                                       "UPDATE morango_store SET deserialization_error = 'no \xfe'", ""));
    g_assert_no_error (error);
  }
  engine = morango_engine_new (dir, NULL, &error);
  g_assert_no_error (error);
  window = open_window (app, engine);
  page = MORANGO_SCOPES_PAGE (morango_ui_test_find_widget (GTK_WIDGET (window), MORANGO_TYPE_SCOPES_PAGE));
  g_assert_cmpuint (morango_scopes_page_get_n_scopes (page), ==, 1);
  group = group_of (page, NULL);
  row = row_titled (group, ADW_TYPE_EXPANDER_ROW, "lesson\xef\xbf\xbd");
  g_assert_nonnull (row);
  g_assert_cmpint (row_count (row), ==, 1);
  adw_expander_row_set_expanded (ADW_EXPANDER_ROW (row), TRUE);
  row = row_titled (group, ADW_TYPE_EXPANDER_ROW, "Records not applied");
  adw_expander_row_set_expanded (ADW_EXPANDER_ROW (row), TRUE);
  g_assert_nonnull (row_titled (group, ADW_TYPE_ACTION_ROW, "no \xef\xbf\xbd"));
  g_assert_nonnull (row_titled (group, ADW_TYPE_ACTION_ROW, "bad\xef\xbf\xbd:partition"));
  morango_ui_test_save_screenshot (GTK_WIDGET (window), "scopes-invalid.png");
  gtk_window_destroy (GTK_WINDOW (window));
}

int
main (int   argc,
      char *argv[])
{
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();
  morango_test_allow_missing_notifications ();
  /* Animations stay on: with them off, libadwaita 1.2 warns as the
   * header's switcher folds at 360 px. */
  g_test_add_func ("/scopes/engine-counts", test_engine_counts);
  g_test_add_func ("/scopes/engine-unowned", test_engine_unowned);
  g_test_add_func ("/scopes/page-empty", test_page_empty);
  g_test_add_func ("/scopes/page-counts", test_page_counts);
  g_test_add_func ("/scopes/page-invalid-text", test_page_invalid_text);
  g_test_add_func ("/scopes/sync-then-counts", test_sync_then_counts);
  g_test_add_func ("/scopes/bench-100k", test_bench_100k);
  return g_test_run ();
}
