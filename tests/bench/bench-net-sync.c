/* bench-net-sync.c: a sync over HTTP with a `morango serve` of its own
 *
 * Run on demand (not part of the suite):
 *   ./build/tests/bench/bench-net-sync            # 10k and 100k records
 *   ./build/tests/bench/bench-net-sync 1000000    # one size
 *   MORANGO_CLI=path/to/morango ...               # another server binary
 *   MORANGO_BENCH_KEEP=1 ...                      # keep both data folders
 *
 * The server is the built `morango serve` on 127.0.0.1 (port 0), a
 * process of its own over a data folder that holds a facility (kolibri-
 * like profile, full-facility root certificate) with one learner and N
 * content summary logs.  The client is a MorangoEngine in this process,
 * on an empty folder; it pairs, then:
 *
 *   initial pull   the N + 2 records, client empty
 *   incremental    100 of them changed on the client, then a sync (pull
 *                  then push, as `morango sync URL` does)
 *   nothing to do  the same sync again
 *   initial push   a second learner with N logs of its own, made on the
 *                  client, pushed
 *
 * Each is timed from the call of morango_engine_sync_async() to its
 * callback.  Peak RSS is VmHWM, reset (/proc/PID/clear_refs) before
 * each sync, for both processes; the client's getrusage figure, which
 * cannot be reset, is printed at the end.  Data is made by child
 * processes of this program, so that neither process's peak holds it.
 * The in-process sync of the same data (morango_local_sync(), what
 * bench-local-sync times) runs in a child too, for the ratio.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "morango-certificate.h"
#include "morango-engine.h"
#include "morango-local-sync.h"
#include "morango-store.h"
#include "morango-test-util.h"
#include "morango-wire.h"

#define PASSWORD "bench-password"
#define CHANGED 100

/* ---- memory ---- */

/* VmHWM of a process ("self" or a pid), in MB. */
static double
peak_mb (const char *pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/status", pid);
  g_autofree char *text = NULL;
  const char *line;

  if (!g_file_get_contents (path, &text, NULL, NULL) ||
      (line = strstr (text, "VmHWM:")) == NULL)
    return -1;
  return g_ascii_strtoll (line + 6, NULL, 10) / 1024.0;
}

/* Starts a new peak at the current size (Linux 4.0 and later). */
static void
reset_peak (const char *pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/clear_refs", pid);
  FILE *f = fopen (path, "w");

  if (f == NULL)
    g_error ("%s: %s", path, g_strerror (errno));
  fputs ("5", f);
  fclose (f);
}

/* CPU seconds (user and kernel, all threads) of a process so far. */
static double
cpu_seconds (const char *pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/stat", pid);
  g_autofree char *text = NULL;
  g_auto(GStrv) fields = NULL;
  const char *end;

  /* The name, in parentheses, may hold spaces: count from after it. */
  if (!g_file_get_contents (path, &text, NULL, NULL) || (end = strrchr (text, ')')) == NULL)
    return -1;
  fields = g_strsplit (end + 2, " ", 0);
  if (g_strv_length (fields) < 13)
    return -1;
  /* utime and stime, fields 14 and 15 of the line. */
  return (g_ascii_strtod (fields[11], NULL) + g_ascii_strtod (fields[12], NULL)) / sysconf (_SC_CLK_TCK);
}

/* Kernel CPU seconds (all threads) of a process so far. */
static double
kernel_seconds (const char *pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/stat", pid);
  g_autofree char *text = NULL;
  g_auto(GStrv) fields = NULL;
  const char *end;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (end = strrchr (text, ')')) == NULL)
    return -1;
  fields = g_strsplit (end + 2, " ", 0);
  if (g_strv_length (fields) < 13)
    return -1;
  return g_ascii_strtod (fields[12], NULL) / sysconf (_SC_CLK_TCK);
}

/* MB a process handed to write(2) so far (wchar of /proc/PID/io: the
 * databases, their logs and checkpoints, and the sockets too). */
static double
written_mb (const char *pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/io", pid);
  g_autofree char *text = NULL;
  const char *line;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (line = strstr (text, "wchar: ")) == NULL)
    return -1;
  return g_ascii_strtoll (line + 7, NULL, 10) / 1e6;
}

/* What the database files of a data folder hold, without their logs:
 * pages as SQLite counts them (what is still only in a log included;
 * the file on disk lags until a checkpoint has copied everything), and
 * how many of those pages are free. */
static void
folder_db_pages (const char *dir,
                 gint64     *bytes,
                 gint64     *free_bytes)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  *bytes = *free_bytes = 0;
  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    if (g_str_has_suffix (name, ".db") || g_str_has_suffix (name, ".sqlite3"))
      {
        g_autofree char *path = g_build_filename (dir, name, NULL);
        sqlite3 *handle = NULL;
        sqlite3_stmt *stmt = NULL;

        if (sqlite3_open_v2 (path, &handle, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
            sqlite3_prepare_v2 (handle,
                                "SELECT p.page_count * s.page_size, f.freelist_count * s.page_size "
                                "FROM pragma_page_count () p, pragma_page_size () s, "
                                "pragma_freelist_count () f",
                                -1, &stmt, NULL) == SQLITE_OK &&
            sqlite3_step (stmt) == SQLITE_ROW)
          {
            *bytes += sqlite3_column_int64 (stmt, 0);
            *free_bytes += sqlite3_column_int64 (stmt, 1);
          }
        sqlite3_finalize (stmt);
        sqlite3_close_v2 (handle);
      }
}

/* ---- data ---- */

static MorangoStore *
open_folder (const char  *dir,
             GError     **error)
{
  g_autoptr(MorangoHostInfo) host = morango_host_info_new_from_system ();
  g_autoptr(MorangoRandom) random = morango_random_new_secure ();

  return morango_store_open_folder (dir, "kolibri-like", host, random, error);
}

/* Gives @store a learner @username with @n content summary logs in the
 * facility of @dataset; with @dataset NULL, first a new facility: a
 * full-facility root certificate, whose id is the dataset id, and its
 * facility row.  Returns the dataset id. */
static char *
fill (MorangoStore  *store,
      gint64         n,
      const char    *dataset,
      const char    *username,
      GError       **error)
{
  MorangoDb *db = morango_store_get_db (store);
  MorangoApp *app = morango_store_get_app (store);
  g_autofree char *dataset_id = g_strdup (dataset);
  g_autofree char *facility = NULL;
  g_autofree char *user = NULL;
  g_autoptr(MorangoTransaction) tx = NULL;
  g_autoptr(JsonObject) u = json_object_new ();

  if (dataset_id == NULL)
    {
      g_autoptr(MorangoCertificate) root = morango_certificate_create_root (db, "full-facility", NULL,
                                                                             NULL, error);

      if (root == NULL)
        return NULL;
      dataset_id = g_strdup (morango_certificate_get_id (root));
    }
  if ((tx = morango_transaction_begin (db, NULL, error)) == NULL ||
      !morango_db_query_text (db, &facility, error, "SELECT id FROM kolibri_facility WHERE dataset_id = ?",
                              "s", dataset_id))
    return NULL;
  if (facility == NULL)
    {
      g_autoptr(JsonObject) f = json_object_new ();

      json_object_set_string_member (f, "dataset_id", dataset_id);
      json_object_set_string_member (f, "name", "Bench school");
      if (!morango_app_create (app, "facility", f, &facility, error))
        return NULL;
    }
  json_object_set_string_member (u, "dataset_id", dataset_id);
  json_object_set_string_member (u, "facility_id", facility);
  json_object_set_string_member (u, "username", username);
  json_object_set_string_member (u, "full_name", "A learner");
  if (!morango_app_create (app, "facilityuser", u, &user, error))
    return NULL;
  if (!morango_test_add_summary_logs (app, dataset_id, user, n, error) ||
      !morango_transaction_commit (tx, error))
    return NULL;
  return g_steal_pointer (&dataset_id);
}

/* Changes @n content summary logs of @store (the first by id). */
static gboolean
touch (MorangoStore  *store,
       gint64         n,
       GError       **error)
{
  MorangoDb *db = morango_store_get_db (store);
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(MorangoTransaction) tx = NULL;
  sqlite3_stmt *stmt;
  int rc;

  stmt = morango_db_prepare (db, "SELECT id FROM kolibri_contentsummarylog ORDER BY id LIMIT ?", error);
  if (stmt == NULL || !morango_db_bind (db, stmt, error, "i", n))
    return FALSE;
  while ((rc = morango_db_step (db, stmt, error)) == SQLITE_ROW)
    g_ptr_array_add (ids, g_strdup (morango_db_column_text (stmt, 0)));
  sqlite3_reset (stmt);
  if (rc < 0 || (tx = morango_transaction_begin (db, NULL, error)) == NULL)
    return FALSE;
  for (guint i = 0; i < ids->len; i++)
    {
      g_autoptr(JsonObject) change = json_object_new ();

      json_object_set_double_member (change, "progress", 1.0);
      json_object_set_double_member (change, "time_spent", 1000.0 + i);
      if (!morango_app_update (morango_store_get_app (store), "contentsummarylog", ids->pdata[i],
                               change, error))
        return FALSE;
    }
  return morango_transaction_commit (tx, error);
}

/* ---- child processes ---- */

/* --fill DIR N DATASET|- USERNAME: prints the dataset id. */
static int
fill_main (char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = open_folder (argv[0], &error);
  const char *dataset = g_str_equal (argv[2], "-") ? NULL : argv[2];
  g_autofree char *id = NULL;

  if (store == NULL ||
      (id = fill (store, g_ascii_strtoll (argv[1], NULL, 10), dataset, argv[3], &error)) == NULL)
    g_error ("%s", error->message);
  printf ("%s\n", id);
  return 0;
}

/* --touch DIR N */
static int
touch_main (char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = open_folder (argv[0], &error);

  if (store == NULL || !touch (store, g_ascii_strtoll (argv[1], NULL, 10), &error))
    g_error ("%s", error->message);
  return 0;
}

/* --in-process DIR N: the same data pushed from one folder to another
 * in this process.  Prints "seconds S records R peak P" and, before
 * that, the time of each stage. */
static int
in_process_main (char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *a_dir = g_build_filename (argv[0], "a", NULL);
  g_autofree char *b_dir = g_build_filename (argv[0], "b", NULL);
  g_autoptr(MorangoStore) a = open_folder (a_dir, &error);
  g_autoptr(MorangoStore) b = NULL;
  g_autoptr(MorangoFilter) filter = NULL;
  g_autofree char *dataset = NULL;
  MorangoLocalSyncStats stats;
  gint64 t0;
  double seconds, cpu;

  if (a == NULL || (b = open_folder (b_dir, &error)) == NULL ||
      (dataset = fill (a, g_ascii_strtoll (argv[1], NULL, 10), NULL, "learner", &error)) == NULL)
    g_error ("%s", error->message);
  filter = morango_filter_parse (dataset);
  reset_peak ("self");
  cpu = cpu_seconds ("self");
  t0 = g_get_monotonic_time ();
  if (!morango_local_sync (a, b, filter, TRUE, NULL, NULL, &stats, &error))
    g_error ("%s", error->message);
  seconds = (g_get_monotonic_time () - t0) / 1e6;
  cpu = cpu_seconds ("self") - cpu;
  for (MorangoStage s = MORANGO_STAGE_SERIALIZING; s < MORANGO_N_STAGES; s++)
    printf ("stage %s %.3f\n", morango_stage_to_string (s), stats.seconds[s]);
  printf ("seconds %.6f records %" G_GINT64_FORMAT " peak %.1f cpu %.3f\n", seconds,
          stats.records_transferred, peak_mb ("self"), cpu);
  return 0;
}

/* Runs this program with @args; returns its standard output. */
static char *
run_child (const char * const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  char *out = NULL;
  int status = 0;

  g_ptr_array_add (argv, "/proc/self/exe");
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  if (!g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_CHILD_INHERITS_STDERR, NULL, NULL,
                     &out, NULL, &status, &error) ||
      !g_spawn_check_wait_status (status, &error))
    g_error ("bench child %s: %s", args[0], error->message);
  return out;
}

/* ---- the server ---- */

static const char *
cli_path (void)
{
  const char *env = g_getenv ("MORANGO_CLI");

  return env != NULL ? env : MORANGO_CLI_BUILT;
}

static void
die_with_parent (gpointer data)
{
  /* A bench that aborts leaves no server behind. */
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

/* Starts `morango serve` on @dir; *@url gets the address it printed. */
static GSubprocess *
start_server (const char  *dir,
              const char  *password_file,
              char       **url)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GSubprocess) server = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  const char *prefix = "listening on ";

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  server = g_subprocess_launcher_spawn (launcher, &error, cli_path (), "--data-dir", dir, "serve",
                                        "--address", "127.0.0.1", "--port", "0",
                                        "--admin-password-file", password_file, NULL);
  if (server == NULL)
    g_error ("%s: %s", cli_path (), error->message);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (server));
  line = g_data_input_stream_read_line (out, NULL, NULL, &error);
  if (line == NULL || !g_str_has_prefix (line, prefix))
    g_error ("morango serve said “%s” (%s)", line ? line : "", error ? error->message : "no line");
  *url = g_strdup (line + strlen (prefix));
  return g_steal_pointer (&server);
}

/* ---- one measured sync ---- */

#define MAX_MARKS 16

typedef struct {
  gboolean push;
  char     stage[32];
  double   first;     /* seconds since the sync began */
  double   last;
  gint64   done;
  double   peak;      /* the client's VmHWM from this stage's first report to the next's */
} Mark;

typedef struct {
  const char *name;
  gint64      t0;
  Mark        marks[MAX_MARKS];
  guint       n_marks;
  guint       reports;
  gboolean    finished;
  GAsyncResult *result;

  /* The outcome. */
  double      seconds;
  MorangoEngineSyncResult r;
  double      client_peak;
  double      client_peak_before;  /* of the parts of the sync before the last reset */
  double      client_start;        /* the client's RSS as the sync began */
  double      server_peak;
  double      client_cpu;    /* CPU seconds, all threads */
  double      server_cpu;
  double      client_sys;    /* of which in the kernel */
  double      server_sys;
  double      client_written;  /* MB handed to write(2) */
  double      server_written;
} Phase;

static void
on_progress (const MorangoEngineProgress *p,
             gpointer                     user_data)
{
  Phase *phase = user_data;
  double now = (g_get_monotonic_time () - phase->t0) / 1e6;
  Mark *m = NULL;

  phase->reports++;
  for (guint i = 0; i < phase->n_marks; i++)
    if (phase->marks[i].push == p->push && g_str_equal (phase->marks[i].stage, p->stage))
      m = &phase->marks[i];
  if (m == NULL && phase->n_marks < MAX_MARKS)
    {
      /* Each stage's own peak: the process's is reset as the next begins. */
      double peak = peak_mb ("self");

      if (phase->n_marks > 0)
        phase->marks[phase->n_marks - 1].peak = peak;
      phase->client_peak_before = MAX (phase->client_peak_before, peak);
      reset_peak ("self");
      m = &phase->marks[phase->n_marks++];
      m->push = p->push;
      g_strlcpy (m->stage, p->stage, sizeof m->stage);
      m->first = now;
    }
  if (m != NULL)
    {
      m->last = now;
      m->done = p->done;
    }
}

static void
on_synced (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Phase *phase = user_data;

  phase->result = g_object_ref (result);
  phase->finished = TRUE;
}

static void
measure (Phase         *phase,
         MorangoEngine *engine,
         const char    *url,
         GSubprocess   *server,
         gboolean       pull,
         gboolean       push)
{
  const char *server_pid = g_subprocess_get_identifier (server);
  MorangoEngineSyncOptions options = { 0 };
  g_autoptr(GError) error = NULL;
  gint64 t1;

  options.pull = pull;
  options.push = push;
  options.progress = on_progress;
  options.progress_data = phase;
  reset_peak ("self");
  reset_peak (server_pid);
  phase->client_start = peak_mb ("self");
  phase->client_cpu = cpu_seconds ("self");
  phase->server_cpu = cpu_seconds (server_pid);
  phase->client_sys = kernel_seconds ("self");
  phase->server_sys = kernel_seconds (server_pid);
  phase->client_written = written_mb ("self");
  phase->server_written = written_mb (server_pid);
  phase->t0 = g_get_monotonic_time ();
  morango_engine_sync_async (engine, url, &options, NULL, on_synced, phase);
  while (!phase->finished)
    g_main_context_iteration (NULL, TRUE);
  t1 = g_get_monotonic_time ();
  phase->client_cpu = cpu_seconds ("self") - phase->client_cpu;
  phase->server_cpu = cpu_seconds (server_pid) - phase->server_cpu;
  phase->client_sys = kernel_seconds ("self") - phase->client_sys;
  phase->server_sys = kernel_seconds (server_pid) - phase->server_sys;
  phase->client_written = written_mb ("self") - phase->client_written;
  phase->server_written = written_mb (server_pid) - phase->server_written;
  phase->client_peak = peak_mb ("self");
  if (phase->n_marks > 0)
    phase->marks[phase->n_marks - 1].peak = phase->client_peak;
  phase->client_peak = MAX (phase->client_peak, phase->client_peak_before);
  phase->server_peak = peak_mb (server_pid);
  phase->seconds = (t1 - phase->t0) / 1e6;
  if (!morango_engine_sync_finish (engine, phase->result, &phase->r, &error))
    g_error ("%s: %s", phase->name, error->message);
  g_clear_object (&phase->result);
  /* Reports still queued were sent before the end. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
print_phase (const Phase *phase)
{
  gint64 records = phase->r.records_pulled + phase->r.records_pushed;

  printf ("\n%s: pulled %" G_GINT64_FORMAT ", pushed %" G_GINT64_FORMAT " in %.3f s (the sync's "
          "thread: %.3f s), %u progress reports\n",
          phase->name, phase->r.records_pulled, phase->r.records_pushed, phase->seconds,
          phase->r.seconds, phase->reports);
  printf ("  wire: %" G_GINT64_FORMAT " B sent, %" G_GINT64_FORMAT " B received", phase->r.bytes_sent,
          phase->r.bytes_received);
  if (records > 0)
    printf (", %.1f B a record (%.1f sent, %.1f received)",
            (double) (phase->r.bytes_sent + phase->r.bytes_received) / records,
            (double) phase->r.bytes_sent / records, (double) phase->r.bytes_received / records);
  printf ("\n  CPU: client %.3f s, server %.3f s (in the kernel: %.3f s, %.3f s)\n", phase->client_cpu,
          phase->server_cpu, phase->client_sys, phase->server_sys);
  printf ("  written (wchar, sockets included): client %.1f MB, server %.1f MB", phase->client_written,
          phase->server_written);
  if (records > 0)
    printf (", %.2f KB a record", (phase->client_written + phase->server_written) * 1e3 / records);
  printf ("\n");
  printf ("  peak RSS: client %.1f MB (%.1f MB as the sync began), server %.1f MB\n", phase->client_peak,
          phase->client_start, phase->server_peak);
  printf ("  stages (first report – last report, seconds since the start; the client's peak RSS "
          "from the stage's first report to the next stage's):\n");
  for (guint i = 0; i < phase->n_marks; i++)
    {
      const Mark *m = &phase->marks[i];

      printf ("    %-4s %-12s %8.3f – %8.3f  %" G_GINT64_FORMAT " records  %.1f MB\n",
              m->push ? "push" : "pull", m->stage, m->first, m->last, m->done, m->peak);
    }
}

/* ---- one size ---- */

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

static int
run_one (gint64 n)
{
  g_autofree char *tmp = g_dir_make_tmp ("morango-bench-net-XXXXXX", NULL);
  g_autofree char *server_dir = g_build_filename (tmp, "server", NULL);
  g_autofree char *client_dir = g_build_filename (tmp, "client", NULL);
  g_autofree char *local_dir = g_build_filename (tmp, "local", NULL);
  g_autofree char *password_file = g_build_filename (tmp, "password", NULL);
  g_autofree char *n_text = g_strdup_printf ("%" G_GINT64_FORMAT, n);
  g_autofree char *changed_text = g_strdup_printf ("%d", CHANGED);
  g_autofree char *local_out = NULL;
  g_autofree char *dataset = NULL;
  g_autofree char *url = NULL;
  g_autofree char *cert = NULL;
  g_autoptr(GSubprocess) server = NULL;
  g_autoptr(MorangoEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) local_lines = NULL;
  double local_seconds = 0, local_peak = 0, local_cpu = 0, server_peak = 0;
  gint64 local_records = 0;
  Phase phases[4] = {
    { .name = "initial pull" }, { .name = "incremental" },
    { .name = "nothing to do" }, { .name = "initial push" },
  };
  gint64 t0;

  printf ("==== %" G_GINT64_FORMAT " records ====\n", n);
  printf ("gzip level of chunks and answers: %d\n", MORANGO_WIRE_GZIP_LEVEL);

  /* The in-process sync first: the machine is quietest then. */
  g_mkdir_with_parents (local_dir, 0700);
  local_out = run_child ((const char *[]) { "--in-process", local_dir, n_text, NULL });
  local_lines = g_strsplit (local_out, "\n", -1);
  printf ("in-process push (morango_local_sync):\n");
  for (guint i = 0; local_lines[i] != NULL; i++)
    if (g_str_has_prefix (local_lines[i], "stage "))
      printf ("  %s\n", local_lines[i] + 6);
    else if (sscanf (local_lines[i], "seconds %lf records %" G_GINT64_FORMAT " peak %lf cpu %lf",
                     &local_seconds, &local_records, &local_peak, &local_cpu) == 4)
      printf ("  whole sync %.3f s (CPU %.3f s), %" G_GINT64_FORMAT " records, %.0f records/s, "
              "peak RSS %.1f MB\n", local_seconds, local_cpu, local_records, local_records / local_seconds,
              local_peak);
  remove_tree (local_dir);

  t0 = g_get_monotonic_time ();
  dataset = run_child ((const char *[]) { "--fill", server_dir, n_text, "-", "learner", NULL });
  g_strstrip (dataset);
  printf ("server folder filled in %.1f s (not timed below)\n", (g_get_monotonic_time () - t0) / 1e6);
  if (!g_file_set_contents (password_file, PASSWORD "\n", -1, &error))
    g_error ("%s", error->message);
  server = start_server (server_dir, password_file, &url);
  printf ("server: %s (pid %s)\n", url, g_subprocess_get_identifier (server));

  engine = morango_engine_new (client_dir, "kolibri-like", &error);
  if (engine == NULL)
    g_error ("%s", error->message);
  {
    MorangoEnginePairOptions pair = { .scope_definition = "full-facility", .password = PASSWORD };
    Phase wait = { 0 };

    morango_engine_pair_async (engine, url, &pair, NULL, on_synced, &wait);
    while (!wait.finished)
      g_main_context_iteration (NULL, TRUE);
    cert = morango_engine_pair_finish (engine, wait.result, &error);
    g_clear_object (&wait.result);
    if (cert == NULL)
      g_error ("pairing: %s", error->message);
  }

  measure (&phases[0], engine, url, server, TRUE, FALSE);
  {
    gint64 bytes, free_bytes;

    folder_db_pages (client_dir, &bytes, &free_bytes);
    printf ("client's databases after the initial pull (their pages, logs not counted): %.1f MB, "
            "%.0f B a record, %.0f B of it in free pages\n",
            bytes / 1e6, (double) bytes / (n + 2), (double) free_bytes / (n + 2));
  }
  g_free (run_child ((const char *[]) { "--touch", client_dir, changed_text, NULL }));
  measure (&phases[1], engine, url, server, FALSE, FALSE);
  measure (&phases[2], engine, url, server, FALSE, FALSE);
  g_free (run_child ((const char *[]) { "--fill", client_dir, n_text, dataset, "learner2", NULL }));
  measure (&phases[3], engine, url, server, FALSE, TRUE);

  for (guint i = 0; i < G_N_ELEMENTS (phases); i++)
    {
      print_phase (&phases[i]);
      server_peak = MAX (server_peak, phases[i].server_peak);
    }

  if (phases[0].r.records_pulled != n + 2 || phases[1].r.records_pushed != CHANGED ||
      phases[1].r.records_pulled != 0 || phases[2].r.records_pulled + phases[2].r.records_pushed != 0 ||
      phases[3].r.records_pushed != n + 1)
    g_error ("unexpected record counts");

  g_object_unref (engine);
  engine = NULL;
  g_subprocess_send_signal (server, SIGTERM);
  if (!g_subprocess_wait_check (server, NULL, &error))
    g_error ("morango serve: %s", error->message);

  {
    struct rusage ru;

    getrusage (RUSAGE_SELF, &ru);
    printf ("\nclient process peak RSS over the whole run (getrusage): %.1f MB; "
            "server's highest per-sync peak: %.1f MB\n", ru.ru_maxrss / 1024.0, server_peak);
  }
  /* CPU seconds beside wall seconds: on a busy machine the second
   * measures the load too. */
  printf ("\n| %" G_GINT64_FORMAT " records | seconds | records/s | × in-process | CPU s client + server "
          "| × in-process CPU | sent B | received B | B/record | client MB | server MB |\n", n);
  printf ("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  printf ("| in-process push | %.3f | %.0f | 1.00 | %.2f | 1.00 | | | | %.1f | |\n", local_seconds,
          local_records / local_seconds, local_cpu, local_peak);
  for (guint i = 0; i < G_N_ELEMENTS (phases); i++)
    {
      const Phase *p = &phases[i];
      gint64 records = p->r.records_pulled + p->r.records_pushed;
      gboolean whole = i == 0 || i == 3;

      printf ("| %s | %.3f | ", p->name, p->seconds);
      if (records > 0)
        printf ("%.0f | ", records / p->seconds);
      else
        printf ("– | ");
      if (whole)
        printf ("%.2f | ", p->seconds / local_seconds);
      else
        printf (" | ");
      printf ("%.2f + %.2f | ", p->client_cpu, p->server_cpu);
      if (whole)
        printf ("%.2f | ", (p->client_cpu + p->server_cpu) / local_cpu);
      else
        printf (" | ");
      printf ("%" G_GINT64_FORMAT " | %" G_GINT64_FORMAT " | ", p->r.bytes_sent, p->r.bytes_received);
      if (records > 0)
        printf ("%.1f | ", (double) (p->r.bytes_sent + p->r.bytes_received) / records);
      else
        printf ("– | ");
      printf ("%.1f | %.1f |\n", p->client_peak, p->server_peak);
    }
  printf ("\n");

  if (g_getenv ("MORANGO_BENCH_KEEP") != NULL)
    printf ("kept: %s\n", tmp);
  else
    remove_tree (tmp);
  return 0;
}

int
main (int   argc,
      char *argv[])
{
  setvbuf (stdout, NULL, _IOLBF, 0);
  if (argc == 6 && g_str_equal (argv[1], "--fill"))
    return fill_main (argv + 2);
  if (argc == 4 && g_str_equal (argv[1], "--touch"))
    return touch_main (argv + 2);
  if (argc == 4 && g_str_equal (argv[1], "--in-process"))
    return in_process_main (argv + 2);
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
