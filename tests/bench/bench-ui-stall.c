/* bench-ui-stall.c: how long the window's main loop stalls during a
 * big sync
 *
 * Run on demand (not part of the suite), with a display:
 *   xvfb-run -a dbus-run-session -- ./build/tests/bench/bench-ui-stall          # 100k records
 *   xvfb-run -a dbus-run-session -- ./build/tests/bench/bench-ui-stall 10000    # another size
 *
 * A server folder (kolibri-like, a facility with one learner and N
 * content summary logs) is made and served on 127.0.0.1 by an engine of
 * this process (the server works on the engine's own thread, never on
 * the main context).  A client folder pairs with it; the window is
 * opened on the client and the Sync button of the peer's row is pressed,
 * as a person would.  Meanwhile a high-priority 1 ms timeout notes the
 * gap between its runs: any gap well above 1 ms is the main loop being
 * busy with something else (progress, list refreshes, drawing).  The
 * longest gap and a histogram are printed, and the frame clock's gaps
 * between frames too.  Drawing is done with cairo (GSK_RENDERER), as in
 * the UI tests: Xvfb's GL is a software one.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "morango-certificate.h"
#include "morango-peer-row.h"
#include "morango-peers-page.h"
#include "morango-store.h"
#include "morango-test-util.h"
#include "morango-window.h"
#include "morango-ui-test-util.h"

#define PASSWORD "bench-password"

static const double bucket_ms[] = { 2, 5, 10, 20, 50, 100, 200, 500 };
#define N_BUCKETS (G_N_ELEMENTS (bucket_ms) + 1)

typedef struct {
  gint64 last;          /* monotonic µs of the previous run, 0 before */
  gint64 last_cpu;      /* the main thread's CPU time then, µs */
  gint64 longest;       /* µs */
  gint64 longest_cpu;   /* of which the main thread ran, µs */
  gint64 busiest_cpu;   /* the most CPU the main thread used in one gap */
  guint  histogram[N_BUCKETS];
  guint  samples;
} Gaps;

/* CPU time of the calling thread: a gap the main thread spent running
 * is work of its own; the rest of a gap it spent waiting (for the X
 * server, or for a CPU the sync's threads hold). */
static gint64
thread_cpu_usec (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static void
gaps_add (Gaps   *gaps,
          gint64  now)
{
  gint64 cpu = thread_cpu_usec ();

  if (gaps->last > 0)
    {
      gint64 gap = now - gaps->last;
      guint i = 0;

      if (gap > gaps->longest)
        {
          gaps->longest = gap;
          gaps->longest_cpu = cpu - gaps->last_cpu;
        }
      gaps->busiest_cpu = MAX (gaps->busiest_cpu, cpu - gaps->last_cpu);
      while (i < G_N_ELEMENTS (bucket_ms) && gap / 1000.0 >= bucket_ms[i])
        i++;
      gaps->histogram[i]++;
      gaps->samples++;
    }
  gaps->last = now;
  gaps->last_cpu = cpu;
}

static void
gaps_print (const char *what,
            const Gaps *gaps)
{
  printf ("%s: %u gaps, longest %.1f ms (main thread running %.1f ms of it); "
          "most CPU in one gap %.1f ms\n", what, gaps->samples, gaps->longest / 1000.0,
          gaps->longest_cpu / 1000.0, gaps->busiest_cpu / 1000.0);
  for (guint i = 0; i < N_BUCKETS; i++)
    {
      if (i == 0)
        printf ("  < %5.0f ms", bucket_ms[0]);
      else if (i < G_N_ELEMENTS (bucket_ms))
        printf ("  %3.0f-%3.0f ms", bucket_ms[i - 1], bucket_ms[i]);
      else
        printf ("  >=%4.0f ms", bucket_ms[i - 1]);
      printf (" %8u\n", gaps->histogram[i]);
    }
}

static gboolean
on_timeout (gpointer data)
{
  gaps_add (data, g_get_monotonic_time ());
  return G_SOURCE_CONTINUE;
}

static gboolean
on_tick (GtkWidget     *widget,
         GdkFrameClock *clock,
         gpointer       data)
{
  gaps_add (data, g_get_monotonic_time ());
  return G_SOURCE_CONTINUE;
}

static void
on_done (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static GAsyncResult *
await_result (GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *result;
}

static void
check (GError *error)
{
  if (error != NULL)
    g_error ("%s", error->message);
}

static void
remove_tree (const char *path)
{
  g_autofree char *quoted = g_shell_quote (path);
  g_autofree char *command = g_strconcat ("rm -rf ", quoted, NULL);

  if (system (command) != 0)
    g_printerr ("could not remove %s\n", path);
}

int
main (int   argc,
      char *argv[])
{
  gint64 n = argc > 1 ? g_ascii_strtoll (argv[1], NULL, 10) : 100000;
  g_autofree char *tmp = g_dir_make_tmp ("morango-bench-ui-XXXXXX", NULL);
  g_autofree char *server_dir = g_build_filename (tmp, "server", NULL);
  g_autofree char *client_dir = g_build_filename (tmp, "client", NULL);
  g_autofree char *url = NULL;
  g_autofree char *cert = NULL;
  g_autoptr(MorangoEngine) server = NULL;
  g_autoptr(MorangoEngine) client = NULL;
  g_autoptr(AdwApplication) app = NULL;
  g_autoptr(GError) error = NULL;
  MorangoEngineServeOptions serve = { .address = "127.0.0.1" };
  MorangoEnginePairOptions pair = { .scope_definition = "full-facility", .password = PASSWORD };
  GAsyncResult *result = NULL;
  MorangoWindow *window;
  MorangoPeerRow *row;
  Gaps loop = { 0 }, frames = { 0 };
  gint64 t0;
  guint timeout;

  if (n < 1)
    {
      g_printerr ("usage: bench-ui-stall [RECORDS]\n");
      return 2;
    }
  /* Under Xvfb, GL would be the software driver, whose threads take
   * the CPU the sync needs and measure that driver, not the app: draw
   * with cairo as the UI tests do, unless told otherwise. */
  g_setenv ("GSK_RENDERER", "cairo", FALSE);
  g_setenv ("GDK_DEBUG", "gl-disable", FALSE);
  if (!gtk_init_check ())
    {
      g_printerr ("bench-ui-stall needs a display: run it under xvfb-run -a dbus-run-session\n");
      return 2;
    }
  adw_init ();

  t0 = g_get_monotonic_time ();
  g_mkdir_with_parents (server_dir, 0700);
  morango_test_fill_school (server_dir, n, PASSWORD);
  printf ("==== %" G_GINT64_FORMAT " records ====\n", n);
  printf ("server folder filled in %.1f s (not measured below)\n", (g_get_monotonic_time () - t0) / 1e6);

  server = morango_engine_new (server_dir, "kolibri-like", &error);
  check (error);
  morango_engine_serve_async (server, &serve, NULL, on_done, &result);
  morango_engine_serve_finish (server, await_result (&result), &error);
  check (error);
  g_clear_object (&result);
  url = g_strdup_printf ("http://127.0.0.1:%u/", morango_engine_get_port (server));

  client = morango_engine_new (client_dir, "kolibri-like", &error);
  check (error);
  morango_engine_pair_async (client, url, &pair, NULL, on_done, &result);
  cert = morango_engine_pair_finish (client, await_result (&result), &error);
  check (error);
  g_clear_object (&result);

  app = adw_application_new ("org.morango.Sync.BenchStall", G_APPLICATION_NON_UNIQUE);
  g_application_register (G_APPLICATION (app), NULL, &error);
  check (error);
  window = morango_window_new (app, client);
  gtk_window_present (GTK_WINDOW (window));
  while ((row = MORANGO_PEER_ROW (morango_ui_test_find_widget (GTK_WIDGET (window), MORANGO_TYPE_PEER_ROW))) == NULL)
    g_main_context_iteration (NULL, TRUE);
  while (g_main_context_iteration (NULL, FALSE))
    ;

  timeout = g_timeout_add_full (G_PRIORITY_HIGH, 1, on_timeout, &loop, NULL);
  gtk_widget_add_tick_callback (GTK_WIDGET (window), on_tick, &frames, NULL);
  t0 = g_get_monotonic_time ();
  if (!gtk_widget_activate_action (GTK_WIDGET (row), "peer.sync", NULL))
    g_error ("the row would not sync");
  while (morango_peer_row_is_syncing (row))
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (timeout);

  printf ("sync from the window: %.1f s; %s\n", (g_get_monotonic_time () - t0) / 1e6,
          morango_peer_row_get_outcome (row));
  gaps_print ("main loop (1 ms high-priority timeout)", &loop);
  gaps_print ("frames (tick callback)", &frames);
  printf ("longest main-loop stall: %.1f ms (target < 50 ms)\n", loop.longest / 1000.0);

  gtk_window_destroy (GTK_WINDOW (window));
  morango_engine_stop_serving (server);
  g_clear_object (&server);
  g_clear_object (&client);
  if (g_getenv ("MORANGO_BENCH_KEEP") == NULL)
    remove_tree (tmp);
  else
    printf ("kept %s\n", tmp);
  return 0;
}
