/* test-buffer.c: a store's transfer buffers (protocol §1.7, §1.9, §8.7)
 *
 * SPDX-License-Identifier: MIT
 */
#include "morango-buffer.h"
#include "morango-monitor-private.h"
#include "morango-session.h"
#include "morango-test-util.h"

#define USER     "0123456789abcdef0123456789abcdef"
#define INSTANCE "e45c06595d820f4581e0c82930359592"
#define OTHER    "cccccccccccccccccccccccccccccccc"
#define SS       "11111111111111111111111111111111"
#define TS       "22222222222222222222222222222222"

typedef struct {
  MorangoProfile *profile;
  MorangoStore   *store;
  MorangoFilter  *filter;
} Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = morango_test_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "b.db", NULL);
  g_autoptr(MorangoHostInfo) host = morango_host_info_new ("b", "");
  g_autoptr(MorangoRandom) random = morango_random_new_seeded (7);
  MorangoDb *db;

  f->profile = morango_profile_new_by_name ("morango-testapp", &error);
  g_assert_no_error (error);
  f->store = morango_store_open (path, f->profile, host, random, &error);
  g_assert_no_error (error);
  f->filter = morango_filter_parse (USER ":user");
  db = morango_store_get_db (f->store);
  g_assert_true (morango_sync_session_create (db, SS, FALSE, "facilitydata", "local", path,
                                              INSTANCE, OTHER, &error));
  g_assert_true (morango_transfer_session_create (db, TS, SS, f->filter, FALSE, &error));
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_clear_object (&f->store);
  g_clear_object (&f->profile);
  g_clear_pointer (&f->filter, morango_filter_unref);
}

/* The @n-th summary log of USER as a sender would send it, with two
 * history rows in the order a read gives them (by instance id). */
static void
add_log (MorangoBufferChunk *c,
         MorangoProfile     *profile,
         guint               n)
{
  g_autofree char *source = g_strdup_printf ("%s:%032x", USER, n);
  g_autofree char *id = morango_profile_compute_record_id (profile, "contentsummarylog",
                                                           USER ":user:summary", source);
  g_autofree char *serialized = g_strdup_printf ("{\"id\": \"%s\", \"n\": %u}", id, n);
  MorangoBufferRecord rec = {
    .model_uuid = id, .model_name = "contentsummarylog", .profile = "facilitydata",
    .partition = USER ":user:summary", .source_id = source, .serialized = serialized,
    .conflicting_serialized_data = "", .last_saved_instance = INSTANCE,
    .last_saved_counter = n + 1, .self_ref_fk = "",
  };

  morango_buffer_chunk_add_record (c, &rec);
  morango_buffer_chunk_add_history (c, OTHER, 1);
  morango_buffer_chunk_add_history (c, INSTANCE, n + 1);
}

static MorangoBufferChunk *
logs (MorangoProfile *profile,
      guint           from,
      guint           n)
{
  MorangoBufferChunk *c = morango_buffer_chunk_new ();

  for (guint i = from; i < from + n; i++)
    add_log (c, profile, i);
  return c;
}

static gint64
count_rows (Fixture    *f,
            const char *sql)
{
  gint64 n = -1;

  g_assert_true (morango_db_query_int64 (morango_store_get_db (f->store), &n, NULL, NULL, sql, ""));
  return n;
}

static gint64
transferred (Fixture *f)
{
  return count_rows (f, "SELECT records_transferred FROM morango_transfersession");
}

static void
assert_same_records (MorangoBufferChunk *a,
                     MorangoBufferChunk *b)
{
  g_assert_cmpuint (a->records->len, ==, b->records->len);
  g_assert_cmpuint (a->history->len, ==, b->history->len);
  g_assert_cmpint (a->bytes, ==, b->bytes);
  for (guint i = 0; i < a->records->len; i++)
    {
      const MorangoBufferRecord *x = &g_array_index (a->records, MorangoBufferRecord, i);
      const MorangoBufferRecord *y = &g_array_index (b->records, MorangoBufferRecord, i);

      g_assert_cmpstr (x->model_uuid, ==, y->model_uuid);
      g_assert_cmpstr (x->serialized, ==, y->serialized);
      g_assert_cmpstr (x->source_id, ==, y->source_id);
      g_assert_cmpint (x->last_saved_counter, ==, y->last_saved_counter);
    }
  for (guint i = 0; i < a->history->len; i++)
    {
      const MorangoBufferHistory *x = &g_array_index (a->history, MorangoBufferHistory, i);
      const MorangoBufferHistory *y = &g_array_index (b->history, MorangoBufferHistory, i);

      g_assert_cmpuint (x->record, ==, y->record);
      g_assert_cmpstr (x->instance_id, ==, y->instance_id);
      g_assert_cmpint (x->counter, ==, y->counter);
    }
}

/* Chunks written arrive whole and counted; read back by offset, with a
 * cursor or without, they come out as they went in, in order. */
static void
test_write_then_read (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoBufferChunk) first = logs (f->profile, 0, 5);
  g_autoptr(MorangoBufferChunk) second = logs (f->profile, 5, 3);
  g_autoptr(MorangoBufferChunk) all = logs (f->profile, 0, 8);
  MorangoBufferCursor cursor = { 0 };
  gint64 n = -1;

  g_assert_true (morango_transfer_session_receive_chunk (f->store, TS, f->filter, first, NULL, &n, &error));
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 5);
  g_assert_true (morango_transfer_session_receive_chunk (f->store, TS, f->filter, second, NULL, &n, &error));
  g_assert_cmpint (n, ==, 8);
  g_assert_cmpint (transferred (f), ==, 8);
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM morango_buffer"), ==, 8);
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM morango_recordmaxcounterbuffer"), ==, 16);

  /* Pages of 3 with a cursor, then the same pages without one. */
  for (int pass = 0; pass < 2; pass++)
    {
      g_autoptr(MorangoBufferChunk) back = morango_buffer_chunk_new ();

      for (gint64 offset = 0; offset <= 9; offset += 3)
        {
          g_autoptr(MorangoBufferChunk) page =
            morango_buffer_read_chunk (f->store, TS, offset, 3, pass == 0 ? &cursor : NULL, &error);

          g_assert_no_error (error);
          g_assert_cmpuint (page->records->len, ==, offset < 8 ? MIN (3, 8 - offset) : 0);
          for (guint i = 0; i < page->records->len; i++)
            {
              morango_buffer_chunk_add_record (back, &g_array_index (page->records, MorangoBufferRecord, i));
              for (guint h = 0; h < page->history->len; h++)
                {
                  const MorangoBufferHistory *e = &g_array_index (page->history, MorangoBufferHistory, h);
                  if (e->record == i)
                    morango_buffer_chunk_add_history (back, e->instance_id, e->counter);
                }
            }
        }
      assert_same_records (back, all);
    }

  /* A cursor asked for another offset seeks; past the end is empty. */
  {
    g_autoptr(MorangoBufferChunk) again = morango_buffer_read_chunk (f->store, TS, 5, 10, &cursor, &error);
    g_autoptr(MorangoBufferChunk) past = morango_buffer_read_chunk (f->store, TS, 50, 10, &cursor, &error);
    g_autoptr(MorangoBufferChunk) tail = logs (f->profile, 5, 3);

    assert_same_records (again, tail);
    g_assert_cmpuint (past->records->len, ==, 0);
  }
}

/* One bad record refuses its whole chunk, before anything is written. */
static void
test_write_refuses_whole_chunk (Fixture       *f,
                                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  struct {
    const char *what;
    const char *message;
  } cases[] = {
    { "forged source id", "compute_namespaced_id" },
    { "outside the filter", "is not contained within filter" },
    { "malformed history", "malformed history entry" },
    { "bad JSON", "not a valid JSON object" },
    { "another profile", "belongs to profile" },
  };

  for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      g_autoptr(MorangoBufferChunk) c = logs (f->profile, 0, 3);
      g_autofree char *other_id = morango_profile_compute_record_id (f->profile, "contentsummarylog",
                                                                     OTHER ":user:summary", "s");
      MorangoBufferRecord *last;

      add_log (c, f->profile, 3);
      last = &g_array_index (c->records, MorangoBufferRecord, 3);
      switch (k)
        {
        case 0: last->source_id = "forged"; break;
        case 1:
          last->partition = OTHER ":user:summary";
          last->source_id = "s";
          last->model_uuid = other_id;
          break;
        case 2: g_array_index (c->history, MorangoBufferHistory, 6).instance_id = "nothex"; break;
        case 3: last->serialized = "{\"a\": "; break;
        case 4: last->profile = "kolibri"; break;
        }
      g_test_message ("%s", cases[k].what);
      g_assert_false (morango_transfer_session_receive_chunk (f->store, TS, f->filter, c, NULL, NULL, &error));
      g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_RECORD_REJECTED);
      g_assert_nonnull (strstr (error->message, cases[k].message));
      g_clear_error (&error);
      g_assert_cmpint (count_rows (f, "SELECT count(*) FROM morango_buffer"), ==, 0);
      g_assert_cmpint (count_rows (f, "SELECT count(*) FROM morango_recordmaxcounterbuffer"), ==, 0);
      g_assert_cmpint (transferred (f), ==, 0);
    }
}

/* A chunk checked for one filter is checked again when written for
 * another; one checked for the same is written as it is. */
static void
test_check_is_for_one_filter (Fixture       *f,
                              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoBufferChunk) c = logs (f->profile, 0, 2);
  g_autoptr(MorangoFilter) wide = morango_filter_parse (USER ":user\n" OTHER);
  g_autofree char *source = g_strdup_printf ("%s:%032x", OTHER, 9);
  g_autofree char *id = morango_profile_compute_record_id (f->profile, "contentsummarylog",
                                                           OTHER ":user:summary", source);
  MorangoBufferRecord other = {
    .model_uuid = id, .model_name = "contentsummarylog", .profile = "facilitydata",
    .partition = OTHER ":user:summary", .source_id = source, .serialized = "{}",
    .conflicting_serialized_data = "", .last_saved_instance = INSTANCE,
    .last_saved_counter = 1, .self_ref_fk = "",
  };

  morango_buffer_chunk_add_record (c, &other);
  g_assert_true (morango_buffer_check_chunk (f->store, wide, c, &error));
  g_assert_no_error (error);
  g_assert_false (morango_transfer_session_receive_chunk (f->store, TS, f->filter, c, NULL, NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_RECORD_REJECTED);
  g_clear_error (&error);
  g_assert_cmpint (transferred (f), ==, 0);

  g_assert_true (morango_buffer_check_chunk (f->store, wide, c, &error));
  g_assert_true (morango_transfer_session_receive_chunk (f->store, TS, wide, c, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (transferred (f), ==, 3);
}

typedef struct {
  gint64 done;
  gint64 bytes;
  guint  reports;
} Seen;

static void
seen_progress (MorangoMonitor        *monitor,
               const MorangoProgress *p,
               gpointer               user_data)
{
  Seen *seen = user_data;

  g_assert_cmpint (p->done, >=, seen->done);
  seen->done = p->done;
  seen->bytes = p->bytes;
  seen->reports++;
}

/* The monitor counts every record with its bytes, and failing or
 * cancelling it at any record leaves nothing of the chunk. */
static void
test_write_monitored (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoBufferChunk) c = logs (f->profile, 0, 400);
  g_autoptr(MorangoMonitor) failing = morango_test_monitor_failing_at ("transfer", 250);
  g_autoptr(MorangoMonitor) cancelling = morango_monitor_new (NULL);
  g_autoptr(MorangoMonitor) counting = morango_monitor_new (NULL);
  Seen seen = { 0 };

  morango_monitor_stage_begin (failing, "transfer", 400);
  g_assert_false (morango_transfer_session_receive_chunk (f->store, TS, f->filter, c, failing, NULL, &error));
  g_assert_error (error, MORANGO_TEST_ERROR, MORANGO_TEST_ERROR_INJECTED);
  g_clear_error (&error);
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM morango_buffer"), ==, 0);
  g_assert_cmpint (transferred (f), ==, 0);

  /* Cancelled from inside a statement: SQLite's progress handler. */
  morango_test_monitor_cancel_in_statement (cancelling, NULL);
  morango_monitor_stage_begin (cancelling, "transfer", 400);
  g_assert_false (morango_transfer_session_receive_chunk (f->store, TS, f->filter, c, cancelling, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM morango_buffer"), ==, 0);
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM morango_recordmaxcounterbuffer"), ==, 0);
  g_assert_cmpint (transferred (f), ==, 0);

  morango_monitor_set_interval (counting, 100);
  morango_monitor_set_progress_func (counting, seen_progress, &seen, NULL);
  morango_monitor_stage_begin (counting, "transfer", 400);
  g_assert_true (morango_transfer_session_receive_chunk (f->store, TS, f->filter, c, counting, NULL, &error));
  g_assert_no_error (error);
  morango_monitor_stage_end (counting);
  g_assert_cmpint (seen.done, ==, 400);
  g_assert_cmpint (seen.bytes, ==, c->bytes);
  g_assert_cmpuint (seen.reports, ==, 6);   /* begin, every 100, end */
  g_assert_cmpint (transferred (f), ==, 400);
}

static gint64
rows_of (MorangoDb  *db,
         const char *table,
         const char *ts)
{
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM %s WHERE transfer_session_id = ?", table);
  g_autoptr(GError) error = NULL;
  gint64 n = -1;

  g_assert_true (morango_db_query_int64 (db, &n, NULL, &error, sql, "s", ts));
  return n;
}

/* Clearing one session's buffers leaves other sessions' rows, before
 * and after it in id order; a session alone is cleared whole. */
static void
test_clear_buffers_keeps_other_sessions (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoDb) db = morango_db_open (":memory:", &error);
  const char *sessions[] = { "a", "m", "z" };

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (sessions); i++)
    for (int k = 0; k < 3; k++)
      {
        g_autofree char *uuid = g_strdup_printf ("%s%d", sessions[i], k);
        g_assert_true (morango_db_execute (db, &error,
          "INSERT INTO morango_buffer (profile, last_saved_instance, last_saved_counter,"
          "  partition, source_id, model_name, transfer_session_id, model_uuid) "
          "VALUES ('p', 'i', 1, 'x', 's', 'm', ?1, ?2)", "ss", sessions[i], uuid));
        g_assert_true (morango_db_execute (db, &error,
          "INSERT INTO morango_recordmaxcounterbuffer (instance_id, counter, transfer_session_id,"
          "  model_uuid) VALUES ('i', 1, ?1, ?2)", "ss", sessions[i], uuid));
      }

  g_assert_true (morango_buffer_clear (db, "m", &error));
  g_assert_no_error (error);
  g_assert_cmpint (rows_of (db, "morango_buffer", "m"), ==, 0);
  g_assert_cmpint (rows_of (db, "morango_recordmaxcounterbuffer", "m"), ==, 0);
  g_assert_cmpint (rows_of (db, "morango_buffer", "a"), ==, 3);
  g_assert_cmpint (rows_of (db, "morango_recordmaxcounterbuffer", "z"), ==, 3);

  /* Only a session before it is left, then only one after it. */
  g_assert_true (morango_buffer_clear (db, "z", &error));
  g_assert_cmpint (rows_of (db, "morango_buffer", "a"), ==, 3);
  g_assert_cmpint (rows_of (db, "morango_recordmaxcounterbuffer", "a"), ==, 3);
  g_assert_true (morango_db_execute (db, &error,
    "INSERT INTO morango_buffer (profile, last_saved_instance, last_saved_counter,"
    "  partition, source_id, model_name, transfer_session_id, model_uuid) "
    "VALUES ('p', 'i', 1, 'x', 's', 'm', 'z', 'z9')", ""));
  g_assert_true (morango_buffer_clear (db, "a", &error));
  g_assert_cmpint (rows_of (db, "morango_buffer", "z"), ==, 1);
  g_assert_true (morango_buffer_clear (db, "z", &error));
  g_assert_no_error (error);
  g_assert_cmpint (rows_of (db, "morango_buffer", "z"), ==, 0);
  g_assert_cmpint (rows_of (db, "morango_recordmaxcounterbuffer", "a"), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/buffer/clear-keeps-other-sessions", test_clear_buffers_keeps_other_sessions);
#define ADD(path, fn) g_test_add ("/buffer/" path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("write-then-read", test_write_then_read);
  ADD ("write-refuses-whole-chunk", test_write_refuses_whole_chunk);
  ADD ("check-is-for-one-filter", test_check_is_for_one_filter);
  ADD ("write-monitored", test_write_monitored);
#undef ADD
  return g_test_run ();
}
