/* bench-serialize.c: serializing and deserializing rates on a database file
 *
 * Run on demand (not part of the suite):
 *   ./build/tests/bench/bench-serialize           # 100k records
 *   ./build/tests/bench/bench-serialize 300000    # another size
 *
 * N summary logs of one learner of the test app's profile, created dirty
 * (not timed), are serialized; then deserialized into the emptied table;
 * then all marked dirty and serialized again.  Each stage prints its
 * wall-clock and CPU rates and the peak RSS so far.  test-serialize
 * (/serialize/counted) checks what the same stages leave, at a smaller
 * size.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

#include "morango-deserialize.h"
#include "morango-serialize.h"
#include "morango-test-util.h"

#define BOB "6b8bd6d2bfa158c4aaab779338a6c3a9"

static double
cpu_seconds (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long
max_rss_kb (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

typedef struct {
  gint64 t;
  double cpu;
} Mark;

static Mark
mark (void)
{
  return (Mark) { g_get_monotonic_time (), cpu_seconds () };
}

static void
report (const char *what,
        gint64      n,
        Mark        m0)
{
  Mark m1 = mark ();
  double secs = (m1.t - m0.t) / 1e6;
  double cpu = m1.cpu - m0.cpu;

  printf ("%-12s %8" G_GINT64_FORMAT " records in %.3f s = %.0f records/s "
          "(CPU %.3f s = %.0f records/s), peak RSS %ld kB\n",
          what, n, secs, n / secs, cpu, n / cpu, max_rss_kb ());
}

static gint64
count (MorangoDb  *db,
       const char *sql)
{
  g_autoptr(GError) error = NULL;
  gint64 n = -1;

  if (!morango_db_query_int64 (db, &n, NULL, &error, sql, ""))
    g_error ("%s", error->message);
  return n;
}

static void
expect (MorangoDb  *db,
        const char *sql,
        gint64      expected)
{
  gint64 n = count (db, sql);

  if (n != expected)
    g_error ("%s: %" G_GINT64_FORMAT " instead of %" G_GINT64_FORMAT, sql, n, expected);
}

int
main (int   argc,
      char *argv[])
{
  gint64 n = argc > 1 ? g_ascii_strtoll (argv[1], NULL, 10) : 100000;
  g_autofree char *dir = morango_test_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "serialize.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoProfile) profile = NULL;
  g_autoptr(MorangoHostInfo) host = morango_host_info_new ("bench", "02:00:00:00:00:01");
  g_autoptr(MorangoRandom) random = morango_random_new_seeded (7);
  g_autoptr(MorangoStore) store = NULL;
  MorangoDb *db;
  MorangoTransaction *tx;
  Mark m0;

  if (n <= 0)
    {
      fprintf (stderr, "usage: %s [RECORDS]\n", argv[0]);
      return 2;
    }
  if ((profile = morango_profile_new_by_name ("morango-testapp", &error)) == NULL ||
      (store = morango_store_open (path, profile, host, random, &error)) == NULL)
    g_error ("%s", error->message);
  db = morango_store_get_db (store);

  m0 = mark ();
  tx = morango_transaction_begin (db, NULL, &error);
  if (tx == NULL)
    g_error ("%s", error->message);
  for (gint64 i = 0; i < n; i++)
    {
      char id[33], content[33];

      g_snprintf (id, sizeof id, "%032" G_GINT64_MODIFIER "x", i + 1);
      g_snprintf (content, sizeof content, "%032" G_GINT64_MODIFIER "x", i * 7 + 3);
      if (!morango_db_execute (db, &error,
                               "INSERT INTO facility_profile_summarylog (id, _morango_source_id, "
                               "_morango_partition, user_id, content_id, _morango_dirty_bit) "
                               "VALUES (?, ?, ?, ?, ?, 1)",
                               "sssss", id, content, BOB ":user:summary", BOB, content))
        g_error ("%s", error->message);
    }
  /* The learner is known to the store only, as a sync would leave him. */
  if (!morango_db_execute (db, &error,
                           "INSERT INTO morango_store (id, profile, serialized, last_saved_instance, "
                           "last_saved_counter, partition, source_id, model_name) "
                           "VALUES (?, 'facilitydata', '{}', ?, 1, ?, ?, 'user')",
                           "ssss", BOB, morango_store_get_instance_id (store), BOB ":user", BOB) ||
      !morango_transaction_commit (tx, &error))
    g_error ("%s", error->message);
  g_clear_pointer (&tx, morango_transaction_free);
  printf ("%-12s %8" G_GINT64_FORMAT " app rows in %.3f s (setup, not timed), peak RSS %ld kB\n",
          "created", n, (g_get_monotonic_time () - m0.t) / 1e6, max_rss_kb ());

  m0 = mark ();
  if (!morango_store_serialize (store, NULL, NULL, &error))
    g_error ("%s", error->message);
  report ("serialize", n, m0);
  expect (db, "SELECT count(*) FROM morango_store WHERE model_name = 'contentsummarylog'", n);

  if (!morango_db_exec (db, "DELETE FROM facility_profile_summarylog; "
                            "INSERT INTO morango_store_pending (profile, model_name, id) "
                            "SELECT profile, model_name, id FROM morango_store "
                            "WHERE model_name = 'contentsummarylog'", &error))
    g_error ("%s", error->message);
  m0 = mark ();
  if (!morango_store_deserialize (store, NULL, FALSE, NULL, &error))
    g_error ("%s", error->message);
  report ("deserialize", n, m0);
  expect (db, "SELECT count(*) FROM facility_profile_summarylog", n);
  expect (db, "SELECT count(*) FROM morango_store_pending", 0);

  if (!morango_db_exec (db, "UPDATE facility_profile_summarylog SET _morango_dirty_bit = 1", &error))
    g_error ("%s", error->message);
  m0 = mark ();
  if (!morango_store_serialize (store, NULL, NULL, &error))
    g_error ("%s", error->message);
  report ("re-serialize", n, m0);
  expect (db, "SELECT count(*) FROM morango_store WHERE last_saved_counter = 2", n);
  return 0;
}
