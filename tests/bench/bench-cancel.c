/* bench-cancel.c: how soon a cancelled stage returns, and what watching a
 * stage costs
 *
 * Run on demand (not part of the suite):
 *   ./build/tests/bench/bench-cancel                   # 100k records
 *   ./build/tests/bench/bench-cancel 50000             # one size
 *   ./build/tests/bench/bench-cancel --whole 100000    # each stage run whole once,
 *   ./build/tests/bench/bench-cancel --whole --no-monitor 100000   # with or without a monitor
 *
 * A sender holds one learner with N summary logs, all dirty; a receiver is
 * empty.  Each long stage of a push (serialize and queue on the sender,
 * dequeue and deserialize on the receiver, database files both) runs on a
 * thread of its own.  When its progress passes a fifth, two fifths, three
 * and four fifths of the records, the main thread cancels its monitor and
 * times how long the stage takes to return (it rolls back, so the next try
 * starts from the same state).  Then the stage runs whole, with a monitor,
 * and the next stage starts from what it left.
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "morango-app.h"
#include "morango-dequeue.h"
#include "morango-deserialize.h"
#include "morango-queue.h"
#include "morango-serialize.h"

#define TS "7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a"

typedef struct {
  gint64          n;
  MorangoStore   *a;       /* the sender */
  MorangoStore   *b;       /* the receiver */
  MorangoFilter  *filter;
  char           *fsic;    /* the sender's, for the receiver's DMC */
} Bench;

typedef gboolean (*StageFunc) (Bench           *bench,
                               MorangoMonitor  *monitor,
                               GError         **error);

static gboolean
run_serialize (Bench           *bench,
               MorangoMonitor  *monitor,
               GError         **error)
{
  return morango_store_serialize (bench->a, bench->filter, monitor, error);
}

static gboolean
run_queue (Bench           *bench,
           MorangoMonitor  *monitor,
           GError         **error)
{
  g_autofree char *sender = NULL;

  sender = morango_store_calculate_fsic_json (bench->a, bench->filter, TRUE, MORANGO_FSIC_V2, TRUE,
                                              error);
  if (sender == NULL)
    return FALSE;
  g_free (bench->fsic);
  bench->fsic = g_strdup (sender);
  return morango_store_queue (bench->a, TS, bench->filter, MORANGO_FSIC_V2, sender,
                              "{\"super\": {}, \"sub\": {}}", NULL, monitor, error);
}

static gboolean
run_dequeue (Bench           *bench,
             MorangoMonitor  *monitor,
             GError         **error)
{
  return morango_store_dequeue (bench->b, TS, bench->filter, MORANGO_FSIC_V2, bench->fsic, NULL,
                                monitor, error);
}

static gboolean
run_deserialize (Bench           *bench,
                 MorangoMonitor  *monitor,
                 GError         **error)
{
  return morango_store_deserialize (bench->b, bench->filter, FALSE, monitor, error);
}

/* ---- one cancelled run ---- */

typedef struct {
  Bench          *bench;
  StageFunc       func;
  MorangoMonitor *monitor;
  gint64          cancel_at;     /* records done when the cancel is due */
  GMutex          lock;
  GCond           cond;
  gboolean        reached;
  gboolean        finished;
  gint64          done_at_cancel;
  gint64          reports_after_cancel;
  gint            cancelled;
  gboolean        ok;
  GError         *error;
  gint64          returned_at;
} Run;

static void
on_progress (MorangoMonitor        *monitor,
             const MorangoProgress *p,
             gpointer               user_data)
{
  Run *run = user_data;

  if (g_atomic_int_get (&run->cancelled))
    run->reports_after_cancel++;
  if (run->reached || p->done < run->cancel_at)
    return;
  g_mutex_lock (&run->lock);
  run->reached = TRUE;
  run->done_at_cancel = p->done;
  g_cond_signal (&run->cond);
  g_mutex_unlock (&run->lock);
}

static gpointer
stage_thread (gpointer data)
{
  Run *run = data;
  gboolean ok;

  /* Lent both connections by measure(), which takes them back once it
   * has joined this thread. */
  morango_db_acquire (morango_store_get_db (run->bench->a));
  morango_db_acquire (morango_store_get_db (run->bench->b));
  ok = run->func (run->bench, run->monitor, &run->error);
  morango_db_release (morango_store_get_db (run->bench->a));
  morango_db_release (morango_store_get_db (run->bench->b));

  g_mutex_lock (&run->lock);
  run->returned_at = g_get_monotonic_time ();
  run->ok = ok;
  run->finished = TRUE;
  g_cond_signal (&run->cond);
  g_mutex_unlock (&run->lock);
  return NULL;
}

static int
compare_gint64 (gconstpointer a,
                gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

/* Cancels @func at 1/5 .. 4/5 of @expected records and prints the
 * latencies, then runs it whole. */
static void
measure (const char *stage,
         StageFunc   func,
         Bench      *bench,
         gint64      expected)
{
  gint64 latency[4];
  guint n_latency = 0;
  g_autoptr(GError) error = NULL;
  gint64 t0;

  for (guint k = 1; k <= 4; k++)
    {
      Run run = { bench, func, morango_monitor_new (NULL), expected * k / 5, };
      GThread *thread;
      gint64 cancelled_at;

      g_mutex_init (&run.lock);
      g_cond_init (&run.cond);
      morango_monitor_set_progress_func (run.monitor, on_progress, &run, NULL);
      morango_db_release (morango_store_get_db (bench->a));
      morango_db_release (morango_store_get_db (bench->b));
      thread = g_thread_new ("stage", stage_thread, &run);

      g_mutex_lock (&run.lock);
      while (!run.reached && !run.finished)
        g_cond_wait (&run.cond, &run.lock);
      g_mutex_unlock (&run.lock);
      g_atomic_int_set (&run.cancelled, 1);
      cancelled_at = g_get_monotonic_time ();
      morango_monitor_cancel (run.monitor);
      g_thread_join (thread);
      morango_db_acquire (morango_store_get_db (bench->a));
      morango_db_acquire (morango_store_get_db (bench->b));

      if (run.ok || !g_error_matches (run.error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_error ("%s was not cancelled after %" G_GINT64_FORMAT " records: %s", stage,
                 run.done_at_cancel, run.error ? run.error->message : "it finished");
      /* The report that woke us may still be on its way out. */
      if (run.reports_after_cancel > 1)
        g_error ("%s reported %" G_GINT64_FORMAT " times after the cancel", stage,
                 run.reports_after_cancel);
      latency[n_latency++] = MAX (0, run.returned_at - cancelled_at);
      printf ("%-12s cancelled after %7" G_GINT64_FORMAT " records: returned in %7.2f ms\n",
              stage, run.done_at_cancel, latency[n_latency - 1] / 1e3);
      g_clear_error (&run.error);
      g_clear_object (&run.monitor);
      g_mutex_clear (&run.lock);
      g_cond_clear (&run.cond);
    }
  qsort (latency, n_latency, sizeof latency[0], compare_gint64);
  printf ("%-12s cancel latency: median %.2f ms, max %.2f ms\n", stage,
          (latency[1] + latency[2]) / 2e3, latency[3] / 1e3);

  {
    g_autoptr(MorangoMonitor) monitor = morango_monitor_new (NULL);

    t0 = g_get_monotonic_time ();
    if (!func (bench, monitor, &error))
      g_error ("%s: %s", stage, error->message);
    printf ("%-12s whole, with a monitor: %.3f s\n\n", stage, (g_get_monotonic_time () - t0) / 1e6);
  }
}

/* ---- the data ---- */

static MorangoStore *
open_store (const char     *dir,
            const char     *name,
            MorangoProfile *profile,
            guint64         seed)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr(MorangoHostInfo) host = morango_host_info_new (name, "02:00:00:00:00:01");
  g_autoptr(MorangoRandom) random = morango_random_new_seeded (seed);
  g_autoptr(GError) error = NULL;
  MorangoStore *store = morango_store_open (path, profile, host, random, &error);

  if (store == NULL)
    g_error ("%s", error->message);
  return store;
}

/* One learner and @n summary logs of theirs, dirty, written with one
 * statement (through the app layer they would take seconds). */
static char *
fill (MorangoStore *store,
      gint64        n)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) user = json_object_new ();
  char *user_id = NULL;

  json_object_set_string_member (user, "username", "learner");
  json_object_set_string_member (user, "password", "x");
  if (!morango_app_create (morango_store_get_app (store), "user", user, &user_id, &error) ||
      !morango_db_execute (morango_store_get_db (store), &error,
                           "WITH RECURSIVE seq (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?1) "
                           "INSERT INTO facility_profile_summarylog (id, _morango_source_id,"
                           "  _morango_partition, user_id, content_id, _morango_dirty_bit) "
                           "SELECT printf ('%032x', i), ?2 || ':' || printf ('%032x', i),"
                           "  ?2 || ':user:summary', ?2, printf ('%032x', i), 1 FROM seq",
                           "is", n, user_id))
    g_error ("%s", error->message);
  return user_id;
}

/* What a transfer would do: the sender's buffer, copied to the receiver. */
static void
transfer (Bench *bench)
{
  g_autoptr(GError) error = NULL;
  MorangoDb *bdb = morango_store_get_db (bench->b);

  if (!morango_db_execute (bdb, &error, "ATTACH DATABASE ? AS sender", "s",
                           morango_db_get_path (morango_store_get_db (bench->a))) ||
      !morango_db_exec (bdb,
                        "BEGIN;"
                        "INSERT INTO morango_buffer SELECT * FROM sender.morango_buffer;"
                        "INSERT INTO morango_recordmaxcounterbuffer"
                        "  SELECT * FROM sender.morango_recordmaxcounterbuffer;"
                        "COMMIT;"
                        "DETACH DATABASE sender", &error))
    g_error ("%s", error->message);
}

static void
remove_dir (const char *dir)
{
  const char *names[] = { "a.db", "a.db-wal", "a.db-shm", "b.db", "b.db-wal", "b.db-shm" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *p = g_build_filename (dir, names[i], NULL);
      g_unlink (p);
    }
  g_rmdir (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *dir = g_dir_make_tmp ("morango-bench-XXXXXX", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoProfile) profile = NULL;
  g_autofree char *user_id = NULL;
  g_autofree char *filter_text = NULL;
  gboolean whole = FALSE, no_monitor = FALSE;
  Bench bench = { 100000, };
  const struct {
    const char *name;
    StageFunc   func;
  } stages[] = {
    { "serialize", run_serialize },
    { "queue", run_queue },
    { "dequeue", run_dequeue },
    { "deserialize", run_deserialize },
  };

  for (int i = 1; i < argc; i++)
    if (g_str_equal (argv[i], "--whole"))
      whole = TRUE;
    else if (g_str_equal (argv[i], "--no-monitor"))
      no_monitor = TRUE;
    else
      bench.n = g_ascii_strtoll (argv[i], NULL, 10);

  profile = morango_profile_new_by_name ("morango-testapp", &error);
  if (profile == NULL)
    g_error ("%s", error->message);
  bench.a = open_store (dir, "a.db", profile, 1);
  bench.b = open_store (dir, "b.db", profile, 2);
  user_id = fill (bench.a, bench.n);
  filter_text = g_strdup_printf ("%s:user", user_id);
  bench.filter = morango_filter_parse (filter_text);
  printf ("%" G_GINT64_FORMAT " records; cancelling from another thread at 1/5 .. 4/5 of each stage\n\n",
          bench.n);

  for (guint s = 0; s < G_N_ELEMENTS (stages); s++)
    {
      if (whole)
        {
          g_autoptr(MorangoMonitor) monitor = no_monitor ? NULL : morango_monitor_new (NULL);
          gint64 t0 = g_get_monotonic_time ();

          if (!stages[s].func (&bench, monitor, &error))
            g_error ("%s: %s", stages[s].name, error->message);
          printf ("%-12s whole, %s: %.3f s\n", stages[s].name,
                  no_monitor ? "no monitor" : "with a monitor", (g_get_monotonic_time () - t0) / 1e6);
        }
      else
        measure (stages[s].name, stages[s].func, &bench, bench.n);
      if (g_str_equal (stages[s].name, "queue"))
        transfer (&bench);
    }

  g_clear_object (&bench.a);
  g_clear_object (&bench.b);
  g_clear_pointer (&bench.filter, morango_filter_unref);
  g_free (bench.fsic);
  remove_dir (dir);
  return 0;
}
