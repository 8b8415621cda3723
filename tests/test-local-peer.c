/* test-local-peer.c: a store in this process answering as a server (morango-testapp)
 *
 * The peer is driven request by request, as the client sequences of
 * protocol §9.6 drive an HTTP server: what each request leaves on the
 * server's side, and what it refuses.
 *
 * SPDX-License-Identifier: MIT
 */
#include "morango-app.h"
#include "morango-local-peer.h"
#include "morango-test-util.h"

#define SS "11111111111111111111111111111111"
#define TS "22222222222222222222222222222222"
#define T2 "33333333333333333333333333333333"
#define CLIENT "cccccccccccccccccccccccccccccccc"

typedef struct {
  MorangoProfile   *profile;
  MorangoStore     *store;     /* the server */
  MorangoPeer      *peer;
  char             *user;
  char             *filter;
} Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = morango_test_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "server.db", NULL);
  g_autoptr(MorangoHostInfo) host = morango_host_info_new ("server", "");
  g_autoptr(MorangoRandom) random = morango_random_new_seeded (3);
  g_autoptr(JsonObject) user = json_object_new ();

  f->profile = morango_profile_new_by_name ("morango-testapp", &error);
  g_assert_no_error (error);
  f->store = morango_store_open (path, f->profile, host, random, &error);
  g_assert_no_error (error);

  json_object_set_string_member (user, "username", "bob");
  json_object_set_string_member (user, "password", "x");
  g_assert_true (morango_app_create (morango_store_get_app (f->store), "user", user, &f->user, &error));
  for (guint i = 0; i < 6; i++)
    {
      g_autoptr(JsonObject) log = json_object_new ();
      g_autofree char *content = g_strdup_printf ("%032x", i);

      json_object_set_string_member (log, "user_id", f->user);
      json_object_set_string_member (log, "content_id", content);
      g_assert_true (morango_app_create (morango_store_get_app (f->store), "contentsummarylog", log, NULL, &error));
    }
  f->filter = g_strdup_printf ("%s:user", f->user);
  /* From here on the peer lends itself the store's connection. */
  f->peer = MORANGO_PEER (morango_local_peer_new (f->store, MORANGO_FSIC_V2, TRUE, NULL));
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_clear_object (&f->peer);
  g_clear_object (&f->store);
  g_clear_object (&f->profile);
  g_clear_pointer (&f->user, g_free);
  g_clear_pointer (&f->filter, g_free);
}

static void
open_sync_session (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  MorangoSyncSession request = { .id = (char *) SS, .profile = (char *) "facilitydata",
                                 .client_instance_id = (char *) CLIENT };
  g_autoptr(MorangoSyncSession) ss = morango_peer_open_sync_session (f->peer, &request, NULL, &error);

  g_assert_no_error (error);
  g_assert_true (ss->is_server);
  g_assert_cmpstr (ss->server_instance_id, ==, morango_store_get_instance_id (f->store));
  g_assert_cmpstr (ss->client_instance_id, ==, CLIENT);
  g_assert_cmpstr (ss->connection_kind, ==, "local");
}

static MorangoTransferSession *
create (Fixture    *f,
        const char *id,
        gboolean    push)
{
  g_autoptr(GError) error = NULL;
  MorangoTransferSession request = { .id = (char *) id, .sync_session_id = (char *) SS,
                                     .filter = f->filter, .push = push, .records_total = -1 };
  MorangoTransferSession *ts = morango_peer_create_transfer_session (f->peer, &request, NULL, &error);

  g_assert_no_error (error);
  return ts;
}

static MorangoTransferSession *
proceed (Fixture                 *f,
         MorangoStage             stage,
         const MorangoPeerUpdate *update)
{
  g_autoptr(GError) error = NULL;
  MorangoTransferSession *ts = morango_peer_proceed (f->peer, TS, stage, update, NULL, &error);

  g_assert_no_error (error);
  return ts;
}

/* The sync session opens once; the profiles must agree. */
static void
test_sync_session (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  MorangoSyncSession other = { .id = (char *) T2, .profile = (char *) "kolibri",
                               .client_instance_id = (char *) CLIENT };

  open_sync_session (f);
  open_sync_session (f);   /* still open: the same session */
  g_assert_null (morango_peer_open_sync_session (f->peer, &other, NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_clear_error (&error);

  g_assert_true (morango_peer_close (f->peer, NULL, SS, NULL, &error));
  g_assert_false (morango_peer_close (f->peer, NULL, SS, NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND);
}

/* A pull as §9.6 sequences it: the server serializes, queues, pages its
 * buffer out, hears the client's count, and cleans up. */
static void
test_pull_sequence (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoTransferSession) ts = NULL;
  g_autoptr(MorangoTransferSession) again = NULL;
  g_autoptr(MorangoBufferChunk) empty = morango_buffer_chunk_new ();
  MorangoPeerUpdate update = MORANGO_PEER_UPDATE_INIT;
  gint64 got = 0;

  /* No sync session yet. */
  g_assert_null (morango_peer_create_transfer_session (f->peer, &(MorangoTransferSession) {
                   .id = (char *) TS, .sync_session_id = (char *) SS, .filter = f->filter,
                   .records_total = -1 }, NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  open_sync_session (f);
  ts = create (f, TS, FALSE);
  g_assert_cmpstr (ts->id, ==, TS);
  g_assert_cmpint (ts->stage, ==, MORANGO_STAGE_INITIALIZING);
  g_assert_cmpint (ts->status, ==, MORANGO_STAGE_STATUS_COMPLETED);
  g_assert_cmpstr (ts->client_fsic, ==, "{}");
  /* A second create in the same direction continues the first. */
  again = create (f, T2, FALSE);
  g_assert_cmpstr (again->id, ==, TS);
  g_clear_pointer (&ts, morango_transfer_session_free);

  update.client_fsic = "{\"super\": {}, \"sub\": {}}";
  ts = proceed (f, MORANGO_STAGE_SERIALIZING, &update);
  g_assert_cmpint (ts->stage, ==, MORANGO_STAGE_SERIALIZING);
  g_assert_cmpstr (ts->client_fsic, ==, update.client_fsic);
  g_assert_nonnull (strstr (ts->server_fsic, morango_store_get_instance_id (f->store)));
  g_clear_pointer (&ts, morango_transfer_session_free);

  ts = proceed (f, MORANGO_STAGE_QUEUING, NULL);
  g_assert_cmpint (ts->records_total, ==, 7);
  g_clear_pointer (&ts, morango_transfer_session_free);

  /* Not a push session; pages by offset. */
  g_assert_false (morango_peer_push_chunk (f->peer, TS, empty, NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED);
  g_clear_error (&error);
  while (got < 7)
    {
      g_autoptr(MorangoBufferChunk) page = morango_peer_fetch_chunk (f->peer, TS, got, 3, NULL, &error);

      g_assert_no_error (error);
      g_assert_cmpuint (page->records->len, ==, MIN (3, 7 - got));
      g_assert_cmpuint (page->history->len, ==, page->records->len);
      got += page->records->len;
      update = (MorangoPeerUpdate) MORANGO_PEER_UPDATE_INIT;
      update.records_transferred = got;
      ts = proceed (f, MORANGO_STAGE_TRANSFERRING, &update);
      g_assert_cmpint (ts->stage, ==, MORANGO_STAGE_TRANSFERRING);
      g_assert_cmpint (ts->records_transferred, ==, got);
      g_assert_cmpint (ts->status, ==, got < 7 ? MORANGO_STAGE_STATUS_PENDING
                                               : MORANGO_STAGE_STATUS_COMPLETED);
      g_clear_pointer (&ts, morango_transfer_session_free);
    }

  /* The producer has nothing to dequeue or deserialize. */
  ts = proceed (f, MORANGO_STAGE_DESERIALIZING, NULL);
  g_assert_cmpint (ts->stage, ==, MORANGO_STAGE_DESERIALIZING);
  g_assert_cmpint (ts->status, ==, MORANGO_STAGE_STATUS_COMPLETED);
  g_assert_cmpint (morango_local_peer_get_dequeue_result (MORANGO_LOCAL_PEER (f->peer))->n_new, ==, 0);

  g_assert_true (morango_peer_close (f->peer, TS, SS, NULL, &error));
  g_assert_no_error (error);
  g_assert_null (morango_peer_get_transfer_session (f->peer, TS, NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  {
    gint64 n = -1;

    /* Between requests the connection is nobody's: borrowed here. */
    g_assert_true (morango_db_acquire (morango_store_get_db (f->store)));
    g_assert_true (morango_db_query_int64 (morango_store_get_db (f->store), &n, NULL, &error,
                                           "SELECT count(*) FROM morango_buffer", ""));
    morango_db_release (morango_store_get_db (f->store));
    g_assert_cmpint (n, ==, 0);
  }
}

/* A push to the server: records pushed before their total are refused;
 * chunks are checked as the receiver's, stored, and dequeued. */
static void
test_push_sequence (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoTransferSession) ts = NULL;
  g_autoptr(MorangoBufferChunk) chunk = morango_buffer_chunk_new ();
  g_autoptr(MorangoBufferChunk) empty = morango_buffer_chunk_new ();
  g_autofree char *source = g_strdup_printf ("%s:%032x", f->user, 77);
  g_autofree char *partition = g_strdup_printf ("%s:user:summary", f->user);
  g_autofree char *id = morango_profile_compute_record_id (f->profile, "contentsummarylog", partition, source);
  g_autofree char *serialized = g_strdup_printf ("{\"id\": \"%s\", \"user_id\": \"%s\", "
                                                 "\"content_id\": \"%032x\"}", id, f->user, 77);
  MorangoBufferRecord rec = {
    .model_uuid = id, .model_name = "contentsummarylog", .profile = "facilitydata",
    .partition = partition, .source_id = source, .serialized = serialized,
    .conflicting_serialized_data = "", .last_saved_instance = CLIENT,
    .last_saved_counter = 1, .self_ref_fk = "",
  };
  MorangoPeerUpdate update = MORANGO_PEER_UPDATE_INIT;

  morango_buffer_chunk_add_record (chunk, &rec);
  morango_buffer_chunk_add_history (chunk, CLIENT, 1);

  open_sync_session (f);
  g_clear_pointer (&ts, morango_transfer_session_free);
  ts = create (f, TS, TRUE);
  g_clear_pointer (&ts, morango_transfer_session_free);
  g_assert_null (morango_peer_fetch_chunk (f->peer, TS, 0, 10, NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED);
  g_clear_error (&error);

  update.client_fsic = "{\"super\": {}, \"sub\": {}}";
  ts = proceed (f, MORANGO_STAGE_SERIALIZING, &update);
  g_clear_pointer (&ts, morango_transfer_session_free);
  g_assert_false (morango_peer_push_chunk (f->peer, TS, chunk, NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_clear_error (&error);

  update = (MorangoPeerUpdate) MORANGO_PEER_UPDATE_INIT;
  update.records_total = 1;
  ts = proceed (f, MORANGO_STAGE_QUEUING, &update);
  g_assert_cmpint (ts->records_total, ==, 1);
  g_clear_pointer (&ts, morango_transfer_session_free);

  /* Refused whole: the record's id does not match its source. */
  g_array_index (chunk->records, MorangoBufferRecord, 0).source_id = "forged";
  g_assert_false (morango_peer_push_chunk (f->peer, TS, chunk, NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_RECORD_REJECTED);
  g_clear_error (&error);
  g_array_index (chunk->records, MorangoBufferRecord, 0).source_id = source;

  g_assert_true (morango_peer_prepare_chunk (f->peer, TS, chunk, &error));
  g_assert_true (morango_peer_push_chunk (f->peer, TS, chunk, NULL, &error));
  g_assert_no_error (error);
  ts = morango_peer_get_transfer_session (f->peer, TS, NULL, &error);
  g_assert_cmpint (ts->stage, ==, MORANGO_STAGE_TRANSFERRING);
  g_assert_cmpint (ts->status, ==, MORANGO_STAGE_STATUS_COMPLETED);
  g_assert_cmpint (ts->records_transferred, ==, 1);
  g_clear_pointer (&ts, morango_transfer_session_free);

  ts = proceed (f, MORANGO_STAGE_DESERIALIZING, NULL);
  g_assert_cmpint (ts->status, ==, MORANGO_STAGE_STATUS_COMPLETED);
  g_assert_cmpint (morango_local_peer_get_dequeue_result (MORANGO_LOCAL_PEER (f->peer))->n_new, ==, 1);
  {
    gint64 n = -1;

    g_assert_true (morango_db_acquire (morango_store_get_db (f->store)));
    g_assert_true (morango_db_query_int64 (morango_store_get_db (f->store), &n, NULL, &error,
                                           "SELECT count(*) FROM facility_profile_summarylog "
                                           "WHERE id = ?", "s", id));
    morango_db_release (morango_store_get_db (f->store));
    g_assert_cmpint (n, ==, 1);
  }
  /* Past transferring, no more records. */
  g_assert_false (morango_peer_push_chunk (f->peer, TS, chunk, NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_clear_error (&error);
  /* Closing the transfer session leaves the sync session open. */
  g_assert_true (morango_peer_close (f->peer, TS, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (morango_peer_push_chunk (f->peer, TS, empty, NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_true (morango_peer_close (f->peer, NULL, SS, NULL, &error));
}

/* A stage that fails on the peer marks its session errored there;
 * asked again, it runs again. */
static void
test_failed_stage_runs_again (Fixture       *f,
                              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoTransferSession) ts = NULL;
  g_autoptr(MorangoMonitor) failing = NULL;
  MorangoPeerUpdate update = MORANGO_PEER_UPDATE_INIT;

  open_sync_session (f);
  ts = create (f, TS, FALSE);
  g_clear_pointer (&ts, morango_transfer_session_free);
  update.client_fsic = "{\"super\": {}, \"sub\": {}}";
  ts = proceed (f, MORANGO_STAGE_SERIALIZING, &update);
  g_clear_pointer (&ts, morango_transfer_session_free);

  failing = morango_test_monitor_failing_at ("queue", 0);
  morango_local_peer_set_monitor (MORANGO_LOCAL_PEER (f->peer), failing);
  g_assert_null (morango_peer_proceed (f->peer, TS, MORANGO_STAGE_QUEUING, NULL, NULL, &error));
  g_assert_error (error, MORANGO_TEST_ERROR, MORANGO_TEST_ERROR_INJECTED);
  g_clear_error (&error);
  ts = morango_peer_get_transfer_session (f->peer, TS, NULL, &error);
  g_assert_cmpint (ts->stage, ==, MORANGO_STAGE_QUEUING);
  g_assert_cmpint (ts->status, ==, MORANGO_STAGE_STATUS_ERRORED);
  g_clear_pointer (&ts, morango_transfer_session_free);

  morango_local_peer_set_monitor (MORANGO_LOCAL_PEER (f->peer), NULL);
  ts = proceed (f, MORANGO_STAGE_QUEUING, NULL);
  g_assert_cmpint (ts->status, ==, MORANGO_STAGE_STATUS_COMPLETED);
  g_assert_cmpint (ts->records_total, ==, 7);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add ("/local-peer/" path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("sync-session", test_sync_session);
  ADD ("pull-sequence", test_pull_sequence);
  ADD ("push-sequence", test_push_sequence);
  ADD ("failed-stage-runs-again", test_failed_stage_runs_again);
#undef ADD
  return g_test_run ();
}
