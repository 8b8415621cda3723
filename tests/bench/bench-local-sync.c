/* bench-local-sync.c: times each stage of a local sync and reports peak RSS
 *
 * Run on demand (not part of the suite):
 *   ./build/tests/bench/bench-local-sync            # 10k and 100k records
 *   ./build/tests/bench/bench-local-sync 50000      # one size
 *   MORANGO_BENCH_KEEP=1 ...                        # keep the two databases
 *   MORANGO_BENCH_PERF_FIFO=ctl perf record --control=fifo:ctl -D -1 ...
 *                                                   # profile the sync alone
 *
 * The sender holds one learner of the test app's profile with N summary
 * logs, all dirty; the receiver is empty.  One push moves everything:
 * serialize, queue, transfer in chunks of 500, dequeue, deserialize.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE 1  /* RUSAGE_THREAD */
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sys/resource.h>

#include "morango-app.h"
#include "morango-local-sync.h"
#include "morango-serialize.h"

/* CPU seconds of this thread so far, in user space and in the kernel. */
static void
thread_cpu (double *user,
            double *sys)
{
  struct rusage ru;

  getrusage (RUSAGE_THREAD, &ru);
  *user = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
  *sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static double
peak_rss_mb (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;
}

/* /proc/@which/io ("self" or "thread-self"), or NULL. */
static char *
read_io (const char *which)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/io", which);
  char *text = NULL;

  return g_file_get_contents (path, &text, NULL, NULL) ? text : NULL;
}

/* The field @name of such a text, in MB (0 when it is not there). */
static double
io_field_mb (const char *text,
             const char *name)
{
  gsize len = strlen (name);
  const char *line = text;

  while (line != NULL)
    {
      if (strncmp (line, name, len) == 0 && line[len] == ':')
        return g_ascii_strtoll (line + len + 1, NULL, 10) / 1e6;
      if ((line = strchr (line, '\n')) != NULL)
        line++;
    }
  return 0;
}

/* Bytes handed to write(2) and pwrite(2) so far, by this thread or by
 * the whole process (the checkpoint threads too): what SQLite wrote to
 * the databases and their logs, whether or not the kernel has sent it
 * to the disk yet. */
static double
written_mb (const char *which)
{
  g_autofree char *text = read_io (which);

  return io_field_mb (text, "wchar");
}

/* MB of page cache this process dirtied so far, less what it dropped
 * dirty before the kernel wrote it out (write_bytes − cancelled_write_bytes):
 * what the sync will make the disk write, as opposed to what it handed
 * to write(2).  A temporary file deleted within seconds (a statement
 * journal's) costs write(2) calls and little or nothing on the disk; a
 * page rewritten while still dirty counts once. */
static double
disk_mb (void)
{
  g_autofree char *text = read_io ("self");

  return io_field_mb (text, "write_bytes") - io_field_mb (text, "cancelled_write_bytes");
}

/* VmHWM of this process in MB, and a new peak started at the current
 * size (Linux 4.0 and later), so that the sync's peak is not the
 * setup's. */
static double
vm_hwm_mb (void)
{
  g_autofree char *text = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &text, NULL, NULL) ||
      (line = strstr (text, "VmHWM:")) == NULL)
    return -1;
  return g_ascii_strtoll (line + 6, NULL, 10) / 1024.0;
}

static void
reset_vm_hwm (void)
{
  FILE *f = fopen ("/proc/self/clear_refs", "w");

  if (f != NULL)
    {
      fputs ("5", f);
      fclose (f);
    }
}

/* Whole-process CPU seconds, all threads (the stage's reading thread and
 * the checkpointer too). */
static void
process_cpu (double *user,
             double *sys)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  *user = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
  *sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* What each stage cost the whole process, from the monitor's first
 * report of a stage to the first report of the next one (the work
 * between two stages counts for the later one). */
#define MAX_STAGES 8
typedef struct {
  char   name[16];
  double written;   /* MB, wchar of the process */
  double disk;      /* MB, disk_mb () of the process */
  double user, sys;
  double peak;      /* MB, VmHWM of the process during the stage */
} StageCost;

typedef struct {
  StageCost stages[MAX_STAGES];
  guint     n;
  double    written0, disk0, user0, sys0;
} StageCosts;

static void
stage_costs_mark (StageCosts *c,
                  const char *next)
{
  double w = written_mb ("self"), d = disk_mb (), u, k;

  process_cpu (&u, &k);
  if (c->n > 0)
    {
      StageCost *s = &c->stages[c->n - 1];
      s->written = w - c->written0;
      s->disk = d - c->disk0;
      s->user = u - c->user0;
      s->sys = k - c->sys0;
      s->peak = vm_hwm_mb ();
    }
  reset_vm_hwm ();
  c->written0 = w;
  c->disk0 = d;
  c->user0 = u;
  c->sys0 = k;
  if (next != NULL && c->n < MAX_STAGES)
    g_strlcpy (c->stages[c->n++].name, next, sizeof c->stages[0].name);
}

static void
on_progress (MorangoMonitor        *monitor,
             const MorangoProgress *p,
             gpointer               data)
{
  StageCosts *c = data;

  if (c->n == 0 || strcmp (c->stages[c->n - 1].name, p->stage) != 0)
    stage_costs_mark (c, p->stage);
}

/* Bytes a record of the file at @path, per table and index (SQLite's
 * dbstat, which Debian's libsqlite3 is built with), after the sync. */
static void
print_footprint (const char *path,
                 gint64      n)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 total = 0, pages = 0, page_size = 0, freelist = 0;

  if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2 (db, "SELECT name, count(*), sum(pgsize), sum(payload) FROM dbstat "
                          "GROUP BY name ORDER BY 3 DESC", -1, &stmt, NULL) != SQLITE_OK)
    {
      printf ("footprint of %s: %s\n", path, sqlite3_errmsg (db));
      sqlite3_close (db);
      return;
    }
  printf ("receiver's database after the sync, per table and index (dbstat):\n");
  printf ("  %-40s %8s %12s %9s %9s\n", "name", "pages", "bytes", "B/record", "payload/r");
  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      gint64 bytes = sqlite3_column_int64 (stmt, 2);
      total += bytes;
      if (bytes < n)  /* under a byte a record: the small tables */
        continue;
      printf ("  %-40s %8lld %12lld %9.1f %9.1f\n", sqlite3_column_text (stmt, 0),
              (long long) sqlite3_column_int64 (stmt, 1), (long long) bytes, (double) bytes / n,
              (double) sqlite3_column_int64 (stmt, 3) / n);
    }
  sqlite3_finalize (stmt);
  if (sqlite3_prepare_v2 (db, "SELECT (SELECT page_count FROM pragma_page_count), "
                          "(SELECT page_size FROM pragma_page_size), "
                          "(SELECT freelist_count FROM pragma_freelist_count)", -1, &stmt,
                          NULL) == SQLITE_OK && sqlite3_step (stmt) == SQLITE_ROW)
    {
      pages = sqlite3_column_int64 (stmt, 0);
      page_size = sqlite3_column_int64 (stmt, 1);
      freelist = sqlite3_column_int64 (stmt, 2);
    }
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  printf ("  in b-trees %.1f MB (%.0f B/record); file %.1f MB (%.0f B/record, %lld pages of %lld B, "
          "%lld free)\n", total / 1e6, (double) total / n, pages * page_size / 1e6,
          (double) pages * page_size / n, (long long) pages, (long long) page_size,
          (long long) freelist);
}

/* Under perf record --control=fifo:PATH -D -1, samples only the sync. */
static void
perf_control (const char *command)
{
  const char *path = g_getenv ("MORANGO_BENCH_PERF_FIFO");
  FILE *fifo;

  if (path == NULL || (fifo = fopen (path, "w")) == NULL)
    return;
  fprintf (fifo, "%s\n", command);
  fclose (fifo);
}

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

static int
run_one (gint64 n)
{
  g_autofree char *dir = g_dir_make_tmp ("morango-bench-XXXXXX", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoProfile) profile = morango_profile_new_by_name ("morango-testapp", &error);
  g_autoptr(MorangoStore) a = NULL;
  g_autoptr(MorangoStore) b = NULL;
  g_autoptr(JsonObject) user = json_object_new ();
  g_autofree char *user_id = NULL;
  g_autofree char *filter_text = NULL;
  g_autoptr(MorangoFilter) filter = NULL;
  MorangoLocalSyncStats stats;
  g_autoptr(MorangoMonitor) monitor = morango_monitor_new (NULL);
  StageCosts costs = { 0 };
  double puser0, psys0, puser1, psys1;
  MorangoDb *adb;
  g_autoptr(MorangoTransaction) tx = NULL;
  double total = 0;
  double written, written_all, disk_all;
  double user0, sys0, user1, sys1;
  double cuser0, csys0, cwritten0;
  gint64 t0;

  if (profile == NULL)
    g_error ("%s", error->message);
  a = open_store (dir, "a.db", profile, 1);
  b = open_store (dir, "b.db", profile, 2);
  adb = morango_store_get_db (a);

  process_cpu (&cuser0, &csys0);
  cwritten0 = written_mb ("self");
  t0 = g_get_monotonic_time ();
  json_object_set_string_member (user, "username", "learner");
  json_object_set_string_member (user, "password", "x");
  if ((tx = morango_transaction_begin (adb, NULL, &error)) == NULL ||
      !morango_app_create (morango_store_get_app (a), "user", user, &user_id, &error))
    g_error ("%s", error->message);
  for (gint64 i = 0; i < n; i++)
    {
      g_autoptr(JsonObject) log = json_object_new ();
      g_autofree char *content = g_strdup_printf ("%032" G_GINT64_MODIFIER "x", i);

      json_object_set_string_member (log, "user_id", user_id);
      json_object_set_string_member (log, "content_id", content);
      if (!morango_app_create (morango_store_get_app (a), "contentsummarylog", log, NULL, &error))
        g_error ("%s", error->message);
    }
  if (!morango_transaction_commit (tx, &error))
    g_error ("%s", error->message);
  {
    double sec = (g_get_monotonic_time () - t0) / 1e6;
    double cuser1, csys1;

    process_cpu (&cuser1, &csys1);
    printf ("%8" G_GINT64_FORMAT " records: created in %.3f s, %.0f rows/s through the "
            "application API, one transaction (setup, not timed below)\n", n, sec, (n + 1) / sec);
    printf ("%8s          creating took %.2f CPU s (%.2f in the kernel), %.0f rows a CPU second, "
            "wrote %.0f MB\n", "", cuser1 - cuser0 + csys1 - csys0, csys1 - csys0,
            (n + 1) / (cuser1 - cuser0 + csys1 - csys0), written_mb ("self") - cwritten0);
  }

  filter_text = g_strdup_printf ("%s:user", user_id);
  filter = morango_filter_parse (filter_text);
  written = written_mb ("thread-self");
  written_all = written_mb ("self");
  disk_all = disk_mb ();
  morango_monitor_set_progress_func (monitor, on_progress, &costs, NULL);
  morango_monitor_set_interval (monitor, G_MAXINT);
  reset_vm_hwm ();
  thread_cpu (&user0, &sys0);
  process_cpu (&puser0, &psys0);
  perf_control ("enable");
  t0 = g_get_monotonic_time ();
  if (!morango_local_sync (a, b, filter, TRUE, NULL, monitor, &stats, &error))
    g_error ("%s", error->message);
  total = (g_get_monotonic_time () - t0) / 1e6;
  perf_control ("disable");
  stage_costs_mark (&costs, NULL);
  thread_cpu (&user1, &sys1);
  process_cpu (&puser1, &psys1);
  written = written_mb ("thread-self") - written;
  written_all = written_mb ("self") - written_all;
  disk_all = disk_mb () - disk_all;

  printf ("%8s %-14s %9s %12s\n", "records", "stage", "seconds", "records/s");
  for (MorangoStage s = MORANGO_STAGE_SERIALIZING; s < MORANGO_N_STAGES; s++)
    {
      double sec = stats.seconds[s];
      printf ("%8" G_GINT64_FORMAT " %-14s %9.3f %12.0f\n", stats.records_total,
              morango_stage_to_string (s), sec, sec > 0 ? stats.records_total / sec : 0);
    }
  printf ("%8" G_GINT64_FORMAT " %-14s %9.3f %12.0f\n", stats.records_total, "whole sync",
          total, stats.records_total / total);
  printf ("syncing thread: %.3f s in user space, %.3f s in the kernel; whole process %.3f s "
          "and %.3f s\n", user1 - user0, sys1 - sys0, puser1 - puser0, psys1 - psys0);
  {
    double peak = vm_hwm_mb ();
    for (guint i = 0; i < costs.n; i++)
      peak = MAX (peak, costs.stages[i].peak);
    printf ("peak RSS during the sync: %.1f MB (VmHWM; over the whole run, setup included: %.1f MB)\n",
            peak, peak_rss_mb ());
  }
  printf ("written during the sync (wchar: bytes handed to write(2), whether or not they reach "
          "the disk): %.0f MB by the syncing thread, %.0f MB with checkpoints, %.2f KB a record\n",
          written, written_all, written_all * 1e3 / n);
  printf ("page cache dirtied during the sync, less what was dropped before write-back "
          "(write_bytes - cancelled_write_bytes, whole process; the rest of a checkpoint's "
          "or a log's pages may still be dirtied after the sync): %.0f MB, %.2f KB a record\n",
          disk_all, disk_all * 1e3 / n);
  printf ("by stage, whole process (from a stage's first progress report to the next's):\n");
  printf ("  %-12s %10s %10s %10s %10s %9s %8s\n", "stage", "written MB", "KB/record",
          "dirtied MB", "user s", "kernel s", "peak MB");
  for (guint i = 0; i < costs.n; i++)
    printf ("  %-12s %10.1f %10.2f %10.1f %10.3f %9.3f %8.1f\n", costs.stages[i].name,
            costs.stages[i].written, costs.stages[i].written * 1e3 / n, costs.stages[i].disk,
            costs.stages[i].user, costs.stages[i].sys, costs.stages[i].peak);

  if (stats.records_total != n + 1 || stats.records_transferred != n + 1)
    g_error ("expected %" G_GINT64_FORMAT " records, moved %" G_GINT64_FORMAT,
             n + 1, stats.records_transferred);

  /* Closing checkpoints what is left in each WAL: reported apart, so
   * that work pushed past the sync shows. */
  t0 = g_get_monotonic_time ();
  g_clear_object (&a);
  g_clear_object (&b);
  printf ("closed in %.3f s (not part of the sync)\n", (g_get_monotonic_time () - t0) / 1e6);
  {
    g_autofree char *b_path = g_build_filename (dir, "b.db", NULL);
    print_footprint (b_path, n + 1);
    printf ("\n");
  }
  /* For looking at the files afterwards (page counts, query plans). */
  if (g_getenv ("MORANGO_BENCH_KEEP") != NULL)
    {
      printf ("kept: %s\n", dir);
      return 0;
    }
  {
    const char *names[] = { "a.db", "a.db-wal", "a.db-shm", "b.db", "b.db-wal", "b.db-shm" };
    for (guint i = 0; i < G_N_ELEMENTS (names); i++)
      {
        g_autofree char *p = g_build_filename (dir, names[i], NULL);
        g_unlink (p);
      }
    g_rmdir (dir);
  }
  return 0;
}

int
main (int   argc,
      char *argv[])
{
  if (argc > 1)
    return run_one (g_ascii_strtoll (argv[1], NULL, 10));

  /* Each size in its own process so that each peak RSS is its own. */
  for (guint i = 0; i < 2; i++)
    {
      const char *sizes[] = { "10000", "100000" };
      char *child[] = { argv[0], (char *) sizes[i], NULL };
      g_autoptr(GError) error = NULL;
      int status = 0;

      fflush (stdout);
      if (!g_spawn_sync (NULL, child, NULL, G_SPAWN_CHILD_INHERITS_STDOUT | G_SPAWN_CHILD_INHERITS_STDERR,
                         NULL, NULL, NULL, NULL, &status, &error) ||
          !g_spawn_check_wait_status (status, &error))
        {
          fprintf (stderr, "bench: %s\n", error->message);
          return 1;
        }
    }
  return 0;
}
