/* morango-test-util.h: helpers shared by the engine tests
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "morango-store.h"

#include <json-glib/json-glib.h>

#include "morango-app.h"
#include "morango-certificate.h"
#include "morango-monitor-private.h"
#include "morango-random.h"

G_BEGIN_DECLS

/* Parses tests/vectors/@file (the copy of the captured vectors). */
JsonNode      *morango_test_load_vectors   (const char  *file);
/* The cases of @file whose "kind" is @kind, as a new array of JsonObject*. */
GPtrArray     *morango_test_vector_cases   (const char  *file,
                                            const char  *kind);
/* Compares two JSON values structurally (object key order ignored). */
gboolean       morango_test_json_equal     (JsonNode    *a,
                                            JsonNode    *b);
char          *morango_test_json_to_string (JsonNode    *node);
/* Asserts two JSON texts parse to equal values, printing both if not. */
void           morango_test_assert_json_text_equal (const char *actual,
                                                    const char *expected);
/* The seed for randomized tests: $MORANGO_TEST_SEED or @fallback.
 * Printed so a failing run can be repeated. */
guint64        morango_test_seed           (guint64      fallback);
/* @n content summary logs of @user_id in @dataset (kolibri-like),
 * content ids 0, 1, … as 32 hex digits, as the benchmarks make them. */
gboolean       morango_test_add_summary_logs (MorangoApp  *app,
                                              const char  *dataset,
                                              const char  *user_id,
                                              gint64       n,
                                              GError     **error);
/* A kolibri-like folder at @dir made ready to serve a school: a
 * full-facility root, the admin account with @admin_password, one
 * facility, one learner and @n content summary logs of that learner,
 * created through the application API in one transaction.  Aborts on
 * any error (tests and benchmarks alike). */
void           morango_test_fill_school    (const char  *dir,
                                            gint64       n,
                                            const char  *admin_password);
/* A new empty folder under the test's temporary dir, removed at exit. */
char          *morango_test_tmpdir         (void);

/* Failures the tests inject through a monitor's fault hook. */
#define MORANGO_TEST_ERROR (morango_test_error_quark ())
enum { MORANGO_TEST_ERROR_INJECTED = 1 };
GQuark          morango_test_error_quark        (void);
/* A monitor whose fault hook fails with MORANGO_TEST_ERROR_INJECTED the
 * first time @point is reached with at least @after records done (a
 * stage's own name is checked on each record it counts).  Fails once,
 * then lets everything pass, so the same monitor can resume. */
MorangoMonitor *morango_test_monitor_failing_at (const char *point,
                                                 gint64      after);
/* Arms (or, with a NULL @point, disarms) @monitor the same way. */
void            morango_test_monitor_fail_at    (MorangoMonitor *monitor,
                                                 const char     *point,
                                                 gint64          after);

/* Arms @monitor to cancel itself the first time a statement looks at it
 * (the fault hook's point "statement"), counting each look into *@looks
 * (may be NULL). */
void            morango_test_monitor_cancel_in_statement (MorangoMonitor *monitor,
                                                          int            *looks);

/* A certificate over a text built by hand and signed by @signer, as a
 * peer could send it, so that each rule can be broken alone.  @id NULL:
 * the id computed from @key, @profile and @salt; @parent_id NULL: a root. */
MorangoCertificate *morango_test_forge (const char *id,
                                        const char *parent_id,
                                        const char *profile,
                                        const char *salt,
                                        const char *scope_def,
                                        const char *params,
                                        MorangoKey *key,
                                        MorangoKey *signer);

/* The data folder @dir opened with a fixed host, as the tests' servers
 * open theirs. */
MorangoStore *morango_test_open_server_folder (const char *dir);

/* Puts nonce @id into @store as one issued to 127.0.0.1 at @now_usec
 * (microseconds since the epoch), as a recording's server had issued
 * it: recorded requests were signed over these ids. */
void          morango_test_seed_nonce         (MorangoStore *store,
                                               const char   *id,
                                               gint64        now_usec);

/* UI tests: a sync that ends while its window is not focused (always,
 * under Xvfb with no window manager) sends a notification, and with no
 * notification service on the test's bus GLib warns about it.  That
 * warning is made non-fatal; test-ui-peers checks notifications with a
 * service of its own. */
void morango_test_allow_missing_notifications (void);

G_END_DECLS
