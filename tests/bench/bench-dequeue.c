/* bench-dequeue.c: the dequeuing rate on a database file
 *
 * Run on demand (not part of the suite):
 *   ./build/tests/bench/bench-dequeue             # 200k records
 *   ./build/tests/bench/bench-dequeue 1000000     # another size
 *
 * Two sessions of N received records (tests/store-fixtures.c,
 * fixture_mixed_store_at), each dequeued into a store in a database file
 * of its own: every record new; then a quarter each new, reverse
 * fast-forward, fast-forward and conflict.  Filling the databases is not
 * timed.  test-dequeue checks what the same sessions leave, at a smaller
 * size.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>

#include "morango-dequeue.h"
#include "morango-test-util.h"
#include "store-fixtures.h"

static void
measure (const char *dir,
         gint64      n,
         gboolean    all_new)
{
  const char *what = all_new ? "all new" : "a quarter each new, reverse-FF, FF, conflict";
  g_autofree char *path = g_build_filename (dir, all_new ? "new.db" : "mixed.db", NULL);
  g_autoptr(MorangoStore) store = NULL;
  g_autoptr(MorangoFilter) filter = morango_filter_parse ("d");
  g_autoptr(GError) error = NULL;
  MorangoDequeueResult r = { 0, };
  gint64 t0;
  double secs;

  t0 = g_get_monotonic_time ();
  store = fixture_mixed_store_at (path, n, all_new);
  printf ("%8" G_GINT64_FORMAT " records (%s): filled in %.3f s (setup, not timed)\n",
          n, what, (g_get_monotonic_time () - t0) / 1e6);

  t0 = g_get_monotonic_time ();
  if (!morango_store_dequeue (store, FIXTURE_MIXED_TS, filter, MORANGO_FSIC_V2, FIXTURE_MIXED_FSIC,
                              &r, NULL, &error))
    g_error ("%s", error->message);
  secs = (g_get_monotonic_time () - t0) / 1e6;
  if (r.n_new + r.n_reverse_fast_forward + r.n_fast_forward + r.n_conflict != n)
    g_error ("expected %" G_GINT64_FORMAT " records, dequeued %" G_GINT64_FORMAT, n,
             r.n_new + r.n_reverse_fast_forward + r.n_fast_forward + r.n_conflict);
  printf ("%8" G_GINT64_FORMAT " records (%s): dequeued in %.3f s = %.0f records/s "
          "(new %" G_GINT64_FORMAT ", reverse-FF %" G_GINT64_FORMAT ", FF %" G_GINT64_FORMAT
          ", conflict %" G_GINT64_FORMAT ")\n",
          n, what, secs, n / secs, r.n_new, r.n_reverse_fast_forward, r.n_fast_forward,
          r.n_conflict);
}

int
main (int   argc,
      char *argv[])
{
  gint64 n = argc > 1 ? g_ascii_strtoll (argv[1], NULL, 10) : 200000;
  g_autofree char *dir = morango_test_tmpdir ();

  if (n <= 0)
    {
      fprintf (stderr, "usage: %s [RECORDS]\n", argv[0]);
      return 2;
    }
  measure (dir, n, TRUE);
  measure (dir, n, FALSE);
  return 0;
}
