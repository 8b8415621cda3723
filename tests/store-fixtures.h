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
gint64        fixture_counter       (MorangoStore *store);
MorangoFilter *fixture_filter_from_json (JsonNode *node);

G_END_DECLS
