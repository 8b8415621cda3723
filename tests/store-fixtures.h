/* store-fixtures.h: loading and dumping Morango tables in the store tests
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <json-glib/json-glib.h>

#include "morango-fsic.h"
#include "morango-store.h"

G_BEGIN_DECLS

/* SQL for the store's pending list (records waiting to be deserialized,
 * Morango's store dirty_bit): a condition on morango_store rows, and a
 * statement that puts the rows it selects on the list (append WHERE). */
#define FIXTURE_IS_PENDING "id IN (SELECT id FROM morango_store_pending)"
#define FIXTURE_MAKE_PENDING \
  "INSERT OR IGNORE INTO morango_store_pending (profile, model_name, id) " \
  "SELECT profile, model_name, id FROM morango_store"

/* A store on a fresh in-memory database whose instance row exists with
 * @counter. */
MorangoStore *fixture_store_new     (const char  *profile_name,
                                     const char  *instance_id,
                                     gint64       counter);
/* The same on a database file (for measuring rates as deployed). */
MorangoStore *fixture_store_new_at  (const char  *path,
                                     const char  *profile_name,
                                     const char  *instance_id,
                                     gint64       counter);
/* Inserts vector rows (objects keyed by column name) into @table.
 * Store rows missing payload columns get the defaults the fsic.json
 * states use (serialized "{}", source_id "src", model_name
 * "contentsummarylog", profile "facilitydata"). */
void          fixture_load_rows     (MorangoDb   *db,
                                     const char  *table,
                                     JsonArray   *rows);
/* Rows of @table as vector-shaped objects: the columns the vectors use,
 * booleans as JSON booleans. */
JsonArray    *fixture_dump_rows     (MorangoDb   *db,
                                     const char  *table);
/* Asserts that two row lists hold the same rows, in any order. */
void          fixture_assert_rows   (const char  *what,
                                     JsonArray   *actual,
                                     JsonArray   *expected);
/* Dumps @table and asserts it holds @expected, in any order. */
void          fixture_assert_table  (MorangoDb   *db,
                                     const char  *table,
                                     const char  *what,
                                     JsonArray   *expected);
/* The DMC rows our update leaves where Python left @python_after: no
 * counter below its value in @before (quirk 1), and each (X, n) of the
 * sender's "super" partitions credited to the filter entries they
 * enclose (quirk 2).  @sender_fsic is the v2 FSIC object or NULL. */
JsonArray    *fixture_expected_dmc  (JsonArray     *before,
                                     JsonArray     *python_after,
                                     JsonObject    *sender_fsic,
                                     MorangoFilter *filter);
/* Asserts that the pending list holds exactly the entries given as
 * (profile, model_name, id) triples, ended by NULL. */
void          fixture_assert_pending (MorangoDb   *db,
                                      ...) G_GNUC_NULL_TERMINATED;
/* A digest over every row of every table the store stages touch, in a
 * fixed order: equal digests mean byte-identical contents. */
char         *fixture_db_digest     (MorangoDb   *db);
/* A synthetic transfer session FIXTURE_MIXED_TS of @n records
 * (model_uuid printf ('%032x', i), partition "d:u" i % 10): for i % 4 =
 * 0, 1, 2, 3 a new record, a reverse fast-forward, a fast-forward and a
 * conflict (all new when @all_new); incoming version (R1, 7), local
 * (R2, 5); incoming deleted when i % 7 = 0, hard deleted when i % 11 =
 * 0.  Plus one record of session FIXTURE_MIXED_OTHER and DMC rows (R1, d,
 * 3) and (R2, d, 5).  The store is FIXTURE_MIXED_LOCAL's, counter 100,
 * on @path (":memory:" or a file). */
#define FIXTURE_MIXED_TS    "7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a"
#define FIXTURE_MIXED_OTHER "7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b"
#define FIXTURE_MIXED_LOCAL "fe22594c03d08035584336dd5a316275"
#define FIXTURE_MIXED_R1    "e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1"
#define FIXTURE_MIXED_R2    "e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2"
/* The sender's FSIC that goes with it. */
#define FIXTURE_MIXED_FSIC  "{\"super\": {}, \"sub\": {\"d\": {\"" FIXTURE_MIXED_R1 "\": 7}}}"
MorangoStore *fixture_mixed_store_at (const char *path,
                                      gint64      n,
                                      gboolean    all_new);
/* The same over the rows of @queries, in their order. */
char         *fixture_digest_queries (MorangoDb          *db,
                                      const char * const *queries,
                                      guint               n_queries);
gint64        fixture_counter       (MorangoStore *store);
/* Fails naming the first line where two texts differ, not both whole. */
void          fixture_assert_same_text (const char *got,
                                        const char *expected);

/* ---- cancelling a stage ---- */

/* What a monitor heard of a stage, and when it cancelled it. */
typedef struct {
  const char *stage;                 /* the name every report must carry */
  guint       interval;              /* records between reports; 0: the default */
  guint       cancel_at_report;      /* cancel from the progress callback at
                                      * this report (1: the first); 0: never */
  gint64      cancel_at_done;        /* or at the first report with this many
                                      * records done; -1: never */
  gint64      cancel_in_statement;   /* cancel from the fault hook at
                                      * "statement" once this many records are
                                      * done; -1: never */
  guint       reports;
  gint64      done;                  /* as the last report said */
  gint64      max_step;              /* most records between two reports */
  gint64      done_at_cancel;
  gint        cancelled;             /* atomic */
  guint       reports_after_cancel;
} FixtureProbe;

/* A new monitor that fills @probe (which must outlive it). */
MorangoMonitor *fixture_probe_monitor (FixtureProbe *probe);

/* Runs a stage on the fixture @data with @monitor. */
typedef gboolean (*FixtureStageFunc) (gpointer         data,
                                      MorangoMonitor  *monitor,
                                      GError         **error);
/* Everything the stage may change in @data, as text. */
typedef char    *(*FixtureDumpFunc)  (gpointer         data);

/* Cancels the stage @stage on @subject from the progress callback at its
 * first report and at a middle one (reporting every record, so that the
 * next record must see the cancel), and from the fault hook at
 * "statement" half way: each time it must fail with G_IO_ERROR_CANCELLED,
 * report nothing after the cancel and leave @subject as it was.  Then a
 * run with a new monitor must leave @subject as an uncancelled run left
 * @reference (a fixture built the same).  Every run's progress must be
 * monotonic and come at least every 10,000 records; the uncancelled
 * runs must count at least @min_records. */
void            fixture_check_cancels (const char        *stage,
                                       FixtureStageFunc   run,
                                       FixtureDumpFunc    dump,
                                       gpointer           reference,
                                       gpointer           subject,
                                       gint64             min_records);
MorangoFilter *fixture_filter_from_json (JsonNode *node);

G_END_DECLS
