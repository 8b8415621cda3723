/* test-peers.c: known peers, the sync history and the cleanup of old sessions (protocol §9.10)
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "morango-cleanup.h"
#include "morango-history.h"
#include "morango-ids.h"
#include "morango-known-peer.h"
#include "morango-session.h"
#include "morango-status.h"
#include "morango-test-util.h"

#define INSTANCE_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define INSTANCE_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define CERT_C     "cccccccccccccccccccccccccccccccc"
#define CERT_D     "dddddddddddddddddddddddddddddddd"

/* A fixed clock: 2026-12-06 10:00:00 UTC. */
#define T0 G_GINT64_CONSTANT (1796551200000000)

static MorangoStore *
new_store (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoDb) db = morango_db_open (":memory:", &error);
  g_autoptr(MorangoRandom) random = morango_random_new_seeded (42);

  g_assert_no_error (error);
  return morango_store_new_for_db (db, "facilitydata", NULL,
                                   "99999999999999999999999999999999", random);
}

static gint64
count (MorangoStore *store,
       const char   *sql)
{
  gint64 n = -1;

  g_assert_true (morango_db_query_int64 (morango_store_get_db (store), &n, NULL, NULL, sql, ""));
  return n;
}

/* ---- addresses ---- */

static void
test_address_normalize (void)
{
  static const struct {
    const char *in, *out;
  } same[] = {
    { "http://facility.local:8000/", "http://facility.local:8000/" },
    { "HTTP://Facility.LOCAL:8000", "http://facility.local:8000/" },
    { "facility.local:8000", "http://facility.local:8000/" },
    { "http://facility.local:80", "http://facility.local/" },
    { "https://cloud.example:443/kolibri", "https://cloud.example/kolibri/" },
    { "https://cloud.example/kolibri/", "https://cloud.example/kolibri/" },
    { "http://192.168.1.5:8000", "http://192.168.1.5:8000/" },
    { "http://[::1]:8000", "http://[::1]:8000/" },
    { "http://host/a%7eb", "http://host/a~b/" },
  };
  static const char *refused[] = {
    "", "ftp://host/", "http://user:pw@host/", "http://host/?q=1", "http://host/#x",
    "http://", "http://host/\n", "http://ho st/", "http://host/\x1b[2J", "http://host:99999/",
  };

  for (guint i = 0; i < G_N_ELEMENTS (same); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *out = morango_peer_address_normalize (same[i].in, &error);

      g_assert_no_error (error);
      g_assert_cmpstr (out, ==, same[i].out);
    }
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *out = morango_peer_address_normalize (refused[i], &error);

      g_assert_null (out);
      g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
    }
  {
    g_autofree char *longer = g_strnfill (MORANGO_PEER_ADDRESS_MAX, 'a');
    g_autofree char *url = g_strconcat ("http://", longer, NULL);
    g_autoptr(GError) error = NULL;

    g_assert_null (morango_peer_address_normalize (url, &error));
    g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  }
}

/* ---- peers ---- */

static void
test_peer_add_idempotent (void)
{
  g_autoptr(MorangoStore) store = new_store ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoKnownPeer) a = NULL, again = NULL, other = NULL, found = NULL;
  g_autoptr(GPtrArray) all = NULL;

  a = morango_known_peer_add (store, "http://Facility.local:8000", T0, &error);
  g_assert_no_error (error);
  g_assert_true (morango_is_hex32 (a->id));
  g_assert_cmpstr (a->address, ==, "http://facility.local:8000/");
  g_assert_null (a->instance_id);
  g_assert_cmpint (a->state, ==, MORANGO_PEER_STATE_ADDED);
  g_assert_cmpint (a->roles, ==, MORANGO_PEER_ROLE_SERVER);
  g_assert_cmpint (a->added, ==, T0);
  g_assert_cmpint (a->last_success, ==, 0);
  g_assert_cmpint (a->last_failure, ==, 0);
  g_assert_null (a->last_failure_reason);

  /* Another spelling of the same address is the same peer, unchanged. */
  again = morango_known_peer_add (store, "facility.local:8000/", T0 + 1000, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (again->id, ==, a->id);
  g_assert_cmpint (again->added, ==, T0);
  other = morango_known_peer_add (store, "https://facility.local:8000/", T0, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (other->id, !=, a->id);
  g_assert_cmpint (count (store, "SELECT count(*) FROM morango_peer"), ==, 2);

  found = morango_known_peer_lookup_address (store, "HTTP://FACILITY.LOCAL:8000", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (found->id, ==, a->id);
  g_clear_pointer (&found, morango_known_peer_free);
  found = morango_known_peer_lookup (store, other->id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (found->address, ==, "https://facility.local:8000/");
  g_clear_pointer (&found, morango_known_peer_free);

  g_assert_null (morango_known_peer_lookup_address (store, "http://nowhere/", &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (morango_known_peer_lookup (store, INSTANCE_A, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* A bad address adds nothing. */
  g_assert_null (morango_known_peer_add (store, "http://user@facility.local/", T0, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpint (count (store, "SELECT count(*) FROM morango_peer"), ==, 2);

  all = morango_known_peer_list (store, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (all->len, ==, 2);
  g_assert_cmpstr (((MorangoKnownPeer *) all->pdata[0])->id, ==, a->id);
  g_assert_cmpstr (((MorangoKnownPeer *) all->pdata[1])->id, ==, other->id);
}

static void
test_peer_states (void)
{
  g_autoptr(MorangoStore) store = new_store ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoKnownPeer) a = NULL, p = NULL, copy = NULL;
  g_autoptr(GPtrArray) all = NULL;
  g_autofree char *long_reason = NULL;

  a = morango_known_peer_add (store, "http://facility.local:8000/", T0, &error);
  g_assert_no_error (error);

  g_assert_true (morango_known_peer_set_instance_id (store, a->id, INSTANCE_A, &error));
  g_assert_true (morango_known_peer_set_certificates (store, a->id, CERT_C, CERT_D, &error));
  g_assert_true (morango_known_peer_set_state (store, a->id, MORANGO_PEER_STATE_PAIRED, &error));
  g_assert_no_error (error);
  p = morango_known_peer_lookup_instance (store, INSTANCE_A, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (p->id, ==, a->id);
  g_assert_cmpint (p->state, ==, MORANGO_PEER_STATE_PAIRED);
  g_assert_cmpstr (p->client_certificate_id, ==, CERT_C);
  g_assert_cmpstr (p->server_certificate_id, ==, CERT_D);
  g_clear_pointer (&p, morango_known_peer_free);

  /* NULL keeps a certificate; ids from outside are checked. */
  g_assert_true (morango_known_peer_set_certificates (store, a->id, NULL, CERT_C, &error));
  g_assert_false (morango_known_peer_set_certificates (store, a->id, "not-an-id", NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (morango_known_peer_set_instance_id (store, a->id, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (morango_known_peer_set_state (store, INSTANCE_B, MORANGO_PEER_STATE_SYNCED, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* A failure keeps the state; a success makes it synced. */
  g_assert_true (morango_known_peer_record_failure (store, a->id, T0 + 10, "Connection refused", &error));
  p = morango_known_peer_lookup (store, a->id, &error);
  g_assert_cmpint (p->state, ==, MORANGO_PEER_STATE_PAIRED);
  g_assert_cmpint (p->last_failure, ==, T0 + 10);
  g_assert_cmpstr (p->last_failure_reason, ==, "Connection refused");
  g_assert_cmpstr (p->client_certificate_id, ==, CERT_C);
  g_assert_cmpstr (p->server_certificate_id, ==, CERT_C);
  g_clear_pointer (&p, morango_known_peer_free);
  g_assert_true (morango_known_peer_record_success (store, a->id, T0 + 20, &error));
  p = morango_known_peer_lookup (store, a->id, &error);
  g_assert_cmpint (p->state, ==, MORANGO_PEER_STATE_SYNCED);
  g_assert_cmpint (p->last_success, ==, T0 + 20);
  g_assert_cmpint (p->last_failure, ==, T0 + 10);
  copy = morango_known_peer_copy (p);
  g_assert_cmpstr (copy->last_failure_reason, ==, p->last_failure_reason);
  g_assert_cmpstr (copy->address, ==, p->address);
  g_clear_pointer (&p, morango_known_peer_free);

  /* A reason that is not UTF-8 or too long is kept readable and short. */
  long_reason = g_strnfill (MORANGO_PEER_REASON_MAX + 50, 'x');
  long_reason[3] = '\xff';
  g_assert_true (morango_known_peer_record_failure (store, a->id, T0 + 30, long_reason, &error));
  p = morango_known_peer_lookup (store, a->id, &error);
  g_assert_true (g_utf8_validate (p->last_failure_reason, -1, NULL));
  g_assert_cmpuint (strlen (p->last_failure_reason), <=, MORANGO_PEER_REASON_MAX);
  g_assert_cmpuint (strlen (p->last_failure_reason), >=, MORANGO_PEER_REASON_MAX - 3);
  g_clear_pointer (&p, morango_known_peer_free);

  /* Forgotten: out of the list, still found, back as added. */
  g_assert_true (morango_known_peer_forget (store, a->id, &error));
  all = morango_known_peer_list (store, FALSE, &error);
  g_assert_cmpuint (all->len, ==, 0);
  g_clear_pointer (&all, g_ptr_array_unref);
  all = morango_known_peer_list (store, TRUE, &error);
  g_assert_cmpuint (all->len, ==, 1);
  g_assert_cmpint (((MorangoKnownPeer *) all->pdata[0])->state, ==, MORANGO_PEER_STATE_FORGOTTEN);
  p = morango_known_peer_add (store, "facility.local:8000", T0 + 40, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (p->id, ==, a->id);
  g_assert_cmpint (p->state, ==, MORANGO_PEER_STATE_ADDED);
  g_assert_cmpint (p->added, ==, T0);
  g_assert_cmpint (p->last_success, ==, T0 + 20);
}

static void
test_peer_clients (void)
{
  g_autoptr(MorangoStore) store = new_store ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoKnownPeer) c = NULL, again = NULL, server = NULL, both = NULL, p = NULL;

  /* A client of our server: no address. */
  c = morango_known_peer_record_client (store, INSTANCE_B, CERT_C, NULL, T0, &error);
  g_assert_no_error (error);
  g_assert_null (c->address);
  g_assert_cmpstr (c->instance_id, ==, INSTANCE_B);
  g_assert_cmpint (c->roles, ==, MORANGO_PEER_ROLE_CLIENT);
  g_assert_cmpint (c->state, ==, MORANGO_PEER_STATE_SYNCED);
  g_assert_cmpint (c->last_success, ==, T0);
  g_assert_cmpstr (c->client_certificate_id, ==, CERT_C);
  g_assert_null (c->server_certificate_id);

  again = morango_known_peer_record_client (store, INSTANCE_B, NULL, CERT_D, T0 + 5, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (again->id, ==, c->id);
  g_assert_cmpint (again->last_success, ==, T0 + 5);
  g_assert_cmpstr (again->client_certificate_id, ==, CERT_C);
  g_assert_cmpstr (again->server_certificate_id, ==, CERT_D);
  g_assert_cmpint (count (store, "SELECT count(*) FROM morango_peer"), ==, 1);

  /* A server we know that also syncs with our server: one peer, both
   * roles. */
  server = morango_known_peer_add (store, "http://city.local:8000/", T0, &error);
  g_assert_true (morango_known_peer_set_instance_id (store, server->id, INSTANCE_A, &error));
  both = morango_known_peer_record_client (store, INSTANCE_A, NULL, NULL, T0 + 7, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (both->id, ==, server->id);
  g_assert_cmpint (both->roles, ==, MORANGO_PEER_ROLE_SERVER | MORANGO_PEER_ROLE_CLIENT);
  g_assert_cmpstr (both->address, ==, "http://city.local:8000/");
  g_assert_cmpint (count (store, "SELECT count(*) FROM morango_peer"), ==, 2);

  /* Hostile ids change nothing. */
  g_assert_null (morango_known_peer_record_client (store, "x'); DROP TABLE morango_peer; --",
                                                   NULL, NULL, T0, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (morango_known_peer_record_client (store, INSTANCE_A, "short", NULL, T0, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpint (count (store, "SELECT count(*) FROM morango_peer"), ==, 2);

  /* Forgotten, then back when it syncs again; a second, live peer of the
   * same instance wins a lookup. */
  g_assert_true (morango_known_peer_forget (store, c->id, &error));
  p = morango_known_peer_record_client (store, INSTANCE_B, NULL, NULL, T0 + 9, &error);
  g_assert_cmpstr (p->id, ==, c->id);
  g_assert_cmpint (p->state, ==, MORANGO_PEER_STATE_SYNCED);
  g_clear_pointer (&p, morango_known_peer_free);
  {
    g_autoptr(MorangoKnownPeer) second = morango_known_peer_add (store, "http://10.0.0.2/", T0 + 1, &error);

    g_assert_true (morango_known_peer_set_instance_id (store, second->id, INSTANCE_A, &error));
    g_assert_true (morango_known_peer_forget (store, server->id, &error));
    p = morango_known_peer_lookup_instance (store, INSTANCE_A, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (p->id, ==, second->id);
  }
}

/* ---- history ---- */

static void
test_history (void)
{
  g_autoptr(MorangoStore) store = new_store ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoKnownPeer) a = NULL, b = NULL, p = NULL;
  g_autoptr(GPtrArray) list = NULL;
  MorangoSyncCounts moved = { 3, 5, 300, 500 };
  MorangoHistoryEntry *e;
  gint64 first, second, third, fourth;

  a = morango_known_peer_add (store, "http://facility.local:8000/", T0, &error);
  b = morango_known_peer_add (store, "http://cloud.example/", T0, &error);
  g_assert_no_error (error);

  first = morango_history_begin (store, a->id, MORANGO_SYNC_DIRECTION_BOTH, T0 + 100, &error);
  g_assert_no_error (error);
  g_assert_cmpint (first, >, 0);
  g_assert_true (morango_history_add_transfer_session (store, first, INSTANCE_A, &error));
  g_assert_true (morango_history_add_transfer_session (store, first, INSTANCE_B, &error));
  g_assert_true (morango_history_add_transfer_session (store, first, INSTANCE_A, &error));
  g_assert_false (morango_history_add_transfer_session (store, first, "nope", &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_clear_error (&error);

  /* Running until finished. */
  list = morango_history_list (store, a->id, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);
  e = list->pdata[0];
  g_assert_cmpint (e->result, ==, MORANGO_SYNC_RESULT_RUNNING);
  g_assert_cmpint (e->duration, ==, 0);
  g_clear_pointer (&list, g_ptr_array_unref);

  g_assert_true (morango_history_finish (store, first, T0 + 2100, MORANGO_SYNC_RESULT_OK,
                                         &moved, NULL, &error));
  g_assert_no_error (error);
  p = morango_known_peer_lookup (store, a->id, &error);
  g_assert_cmpint (p->state, ==, MORANGO_PEER_STATE_SYNCED);
  g_assert_cmpint (p->last_success, ==, T0 + 2100);
  g_clear_pointer (&p, morango_known_peer_free);
  /* Once finished, it stays as it ended. */
  g_assert_false (morango_history_finish (store, first, T0 + 3000, MORANGO_SYNC_RESULT_FAILED,
                                          NULL, "late", &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_clear_error (&error);

  second = morango_history_begin (store, a->id, MORANGO_SYNC_DIRECTION_PULL, T0 + 5000, &error);
  g_assert_true (morango_history_finish (store, second, T0 + 5500, MORANGO_SYNC_RESULT_FAILED,
                                         NULL, "Connection refused", &error));
  p = morango_known_peer_lookup (store, a->id, &error);
  g_assert_cmpint (p->state, ==, MORANGO_PEER_STATE_SYNCED);
  g_assert_cmpint (p->last_success, ==, T0 + 2100);
  g_assert_cmpint (p->last_failure, ==, T0 + 5500);
  g_assert_cmpstr (p->last_failure_reason, ==, "Connection refused");
  g_clear_pointer (&p, morango_known_peer_free);

  /* A cancel is nobody's failure. */
  third = morango_history_begin (store, a->id, MORANGO_SYNC_DIRECTION_PUSH, T0 + 6000, &error);
  g_assert_true (morango_history_finish (store, third, T0 + 6001, MORANGO_SYNC_RESULT_CANCELLED,
                                         NULL, "Operation was cancelled", &error));
  p = morango_known_peer_lookup (store, a->id, &error);
  g_assert_cmpint (p->last_failure, ==, T0 + 5500);
  g_assert_cmpstr (p->last_failure_reason, ==, "Connection refused");
  g_clear_pointer (&p, morango_known_peer_free);

  /* Another peer's entry, started earlier than the last of a's. */
  fourth = morango_history_begin (store, b->id, MORANGO_SYNC_DIRECTION_PULL, T0 + 5800, &error);
  g_assert_cmpint (fourth, >, 0);

  list = morango_history_list (store, a->id, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 3);
  e = list->pdata[0];
  g_assert_cmpint (e->id, ==, third);
  g_assert_cmpint (e->result, ==, MORANGO_SYNC_RESULT_CANCELLED);
  g_assert_cmpint (e->direction, ==, MORANGO_SYNC_DIRECTION_PUSH);
  e = list->pdata[1];
  g_assert_cmpint (e->id, ==, second);
  g_assert_cmpint (e->result, ==, MORANGO_SYNC_RESULT_FAILED);
  g_assert_cmpstr (e->error, ==, "Connection refused");
  g_assert_cmpint (e->duration, ==, 500);
  e = list->pdata[2];
  g_assert_cmpint (e->id, ==, first);
  g_assert_cmpint (e->result, ==, MORANGO_SYNC_RESULT_OK);
  g_assert_cmpint (e->direction, ==, MORANGO_SYNC_DIRECTION_BOTH);
  g_assert_cmpint (e->started, ==, T0 + 100);
  g_assert_cmpint (e->duration, ==, 2000);
  g_assert_cmpint (e->counts.records_sent, ==, 3);
  g_assert_cmpint (e->counts.records_received, ==, 5);
  g_assert_cmpint (e->counts.bytes_sent, ==, 300);
  g_assert_cmpint (e->counts.bytes_received, ==, 500);
  g_assert_null (e->error);
  g_assert_cmpuint (g_strv_length (e->transfer_session_ids), ==, 2);
  g_assert_cmpstr (e->transfer_session_ids[0], ==, INSTANCE_A);
  g_assert_cmpstr (e->transfer_session_ids[1], ==, INSTANCE_B);
  {
    g_autoptr(MorangoHistoryEntry) copy = morango_history_entry_copy (e);

    g_assert_cmpstr (copy->transfer_session_ids[1], ==, INSTANCE_B);
    g_assert_cmpstr (copy->peer_id, ==, a->id);
  }
  g_clear_pointer (&list, g_ptr_array_unref);

  /* A limit keeps the newest; no peer: everybody's. */
  list = morango_history_list (store, a->id, 2, &error);
  g_assert_cmpuint (list->len, ==, 2);
  g_assert_cmpint (((MorangoHistoryEntry *) list->pdata[0])->id, ==, third);
  g_assert_cmpint (((MorangoHistoryEntry *) list->pdata[1])->id, ==, second);
  g_clear_pointer (&list, g_ptr_array_unref);
  list = morango_history_list (store, NULL, 0, &error);
  g_assert_cmpuint (list->len, ==, 4);
  g_assert_cmpint (((MorangoHistoryEntry *) list->pdata[0])->id, ==, third);
  g_assert_cmpint (((MorangoHistoryEntry *) list->pdata[1])->id, ==, fourth);
  g_assert_null (((MorangoHistoryEntry *) list->pdata[1])->transfer_session_ids[0]);
  g_clear_pointer (&list, g_ptr_array_unref);

  /* Same start time: the one begun later is newer. */
  {
    gint64 x = morango_history_begin (store, b->id, MORANGO_SYNC_DIRECTION_PULL, T0, &error);
    gint64 y = morango_history_begin (store, b->id, MORANGO_SYNC_DIRECTION_PULL, T0, &error);

    list = morango_history_list (store, b->id, 0, &error);
    g_assert_cmpuint (list->len, ==, 3);
    g_assert_cmpint (((MorangoHistoryEntry *) list->pdata[1])->id, ==, y);
    g_assert_cmpint (((MorangoHistoryEntry *) list->pdata[2])->id, ==, x);
    g_clear_pointer (&list, g_ptr_array_unref);
  }

  /* Unknown peers and entries. */
  g_assert_cmpint (morango_history_begin (store, INSTANCE_B, MORANGO_SYNC_DIRECTION_PULL, T0, &error), ==, 0);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (morango_history_finish (store, 999, T0, MORANGO_SYNC_RESULT_OK, NULL, NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_cmpint (count (store, "SELECT count(*) FROM morango_sync_history"), ==, 6);
}

/* ---- cleanup (§9.10) ---- */

#define SS_OLD_DONE      "a1000000000000000000000000000000"
#define SS_OLD_ABANDONED "a2000000000000000000000000000000"
#define SS_RECENT        "a3000000000000000000000000000000"
#define SS_OLD_BUSY      "a4000000000000000000000000000000"
#define SS_RECENT_DONE   "a5000000000000000000000000000000"
/* Walked in id order: the abandoned one with many records first. */
#define TS_ABANDONED     "10000000000000000000000000000000"
#define TS_OLD_DONE      "20000000000000000000000000000000"
#define TS_RECENT        "30000000000000000000000000000000"
#define TS_RECENT_OLD    "40000000000000000000000000000000"
#define TS_BUSY          "50000000000000000000000000000000"
#define TS_LEFTOVERS     "60000000000000000000000000000000"
#define TS_ORPHAN        "f0000000000000000000000000000000"

/* T0 is 10:00; six hours back is 04:00. */
#define OLD    "2026-12-06 03:59:59.999999"
#define RECENT "2026-12-06 04:00:00.000000"

static void
add_sync_session (MorangoDb  *db,
                  const char *id,
                  gboolean    active,
                  const char *activity)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (morango_db_execute (db, &error,
                                     "INSERT INTO morango_syncsession (id, start_timestamp, "
                                     "  last_activity_timestamp, active, profile, connection_kind, "
                                     "  connection_path) VALUES (?, ?, ?, ?, 'facilitydata', 'network', '')",
                                     "sssb", id, activity, activity, active));
  g_assert_no_error (error);
}

static void
add_transfer_session (MorangoDb  *db,
                      const char *id,
                      const char *sync_session_id,
                      gboolean    active,
                      const char *activity)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (morango_db_execute (db, &error,
                                     "INSERT INTO morango_transfersession (id, filter, push, active, "
                                     "  sync_session_id, start_timestamp, last_activity_timestamp) "
                                     "VALUES (?, 'p', 1, ?, ?, ?, ?)",
                                     "sbsss", id, active, sync_session_id, activity, activity));
  g_assert_no_error (error);
}

/* @records buffer records of session @id, two history rows each. */
static void
add_buffer (MorangoDb  *db,
            const char *id,
            gint64      records)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (morango_db_execute (db, &error,
                                     "INSERT INTO morango_buffer (profile, last_saved_instance, "
                                     "  last_saved_counter, partition, source_id, model_name, "
                                     "  transfer_session_id, model_uuid) "
                                     "WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                                     "  WHERE i < ?) "
                                     "SELECT 'p', 'a', 1, 'p', 's', 'm', ?, printf ('%032x', i) FROM n",
                                     "is", records, id));
  g_assert_true (morango_db_execute (db, &error,
                                     "INSERT INTO morango_recordmaxcounterbuffer (instance_id, counter, "
                                     "  transfer_session_id, model_uuid) "
                                     "SELECT i.v, 1, transfer_session_id, model_uuid FROM morango_buffer, "
                                     "  (SELECT 'a' AS v UNION ALL SELECT 'b') i "
                                     "WHERE transfer_session_id = ?",
                                     "s", id));
  g_assert_no_error (error);
}

static MorangoDb *
new_db_with_sessions (void)
{
  g_autoptr(GError) error = NULL;
  MorangoDb *db = morango_db_open (":memory:", &error);

  g_assert_no_error (error);
  /* Over and old: goes. */
  add_sync_session (db, SS_OLD_DONE, FALSE, "2026-12-05 10:00:00.000000");
  add_transfer_session (db, TS_OLD_DONE, SS_OLD_DONE, FALSE, "2026-12-05 10:00:00.000000");
  /* Abandoned mid-transfer: goes, with its buffers. */
  add_sync_session (db, SS_OLD_ABANDONED, TRUE, OLD);
  add_transfer_session (db, TS_ABANDONED, SS_OLD_ABANDONED, TRUE, OLD);
  add_buffer (db, TS_ABANDONED, 12000);
  /* In use: stays, and so does its buffer; its other transfer, quiet
   * too long, goes; a finished one stays but its leftovers go. */
  add_sync_session (db, SS_RECENT, TRUE, "2026-12-06 09:00:00.000000");
  add_transfer_session (db, TS_RECENT, SS_RECENT, TRUE, RECENT);
  add_buffer (db, TS_RECENT, 100);
  add_transfer_session (db, TS_RECENT_OLD, SS_RECENT, TRUE, OLD);
  add_buffer (db, TS_RECENT_OLD, 10);
  add_transfer_session (db, TS_LEFTOVERS, SS_RECENT, FALSE, RECENT);
  add_buffer (db, TS_LEFTOVERS, 7);
  /* An old sync session whose transfer is busy: both stay. */
  add_sync_session (db, SS_OLD_BUSY, TRUE, "2026-12-01 00:00:00.000000");
  add_transfer_session (db, TS_BUSY, SS_OLD_BUSY, TRUE, "2026-12-06 09:59:00.000000");
  add_buffer (db, TS_BUSY, 5);
  /* Over, but recent: stays. */
  add_sync_session (db, SS_RECENT_DONE, FALSE, "2026-12-06 08:00:00.000000");
  /* Rows of a session that is gone. */
  add_buffer (db, TS_ORPHAN, 3);
  return db;
}

static gint64
db_count (MorangoDb  *db,
          const char *sql,
          const char *id)
{
  gint64 n = -1;

  g_assert_true (morango_db_query_int64 (db, &n, NULL, NULL, sql, "s", id));
  return n;
}

static gint64
buffered (MorangoDb  *db,
          const char *id)
{
  return db_count (db, "SELECT count(*) FROM morango_buffer WHERE transfer_session_id = ?", id);
}

static gint64
histories (MorangoDb  *db,
           const char *id)
{
  return db_count (db, "SELECT count(*) FROM morango_recordmaxcounterbuffer WHERE transfer_session_id = ?", id);
}

static gboolean
transfer_exists (MorangoDb  *db,
                 const char *id)
{
  return db_count (db, "SELECT count(*) FROM morango_transfersession WHERE id = ?", id) == 1;
}

static gboolean
sync_exists (MorangoDb  *db,
             const char *id)
{
  return db_count (db, "SELECT count(*) FROM morango_syncsession WHERE id = ?", id) == 1;
}

static gboolean
is_active (MorangoDb  *db,
           const char *table,
           const char *id)
{
  g_autofree char *sql = g_strdup_printf ("SELECT active FROM %s WHERE id = ?", table);

  return db_count (db, sql, id) == 1;
}

/* What every complete run leaves, whatever stopped the runs before. */
static void
assert_cleaned (MorangoDb *db)
{
  static const char *gone_transfers[] = { TS_ABANDONED, TS_OLD_DONE, TS_RECENT_OLD };
  static const char *gone_buffers[] = { TS_ABANDONED, TS_RECENT_OLD, TS_LEFTOVERS, TS_ORPHAN };

  for (guint i = 0; i < G_N_ELEMENTS (gone_transfers); i++)
    g_assert_false (transfer_exists (db, gone_transfers[i]));
  for (guint i = 0; i < G_N_ELEMENTS (gone_buffers); i++)
    {
      g_assert_cmpint (buffered (db, gone_buffers[i]), ==, 0);
      g_assert_cmpint (histories (db, gone_buffers[i]), ==, 0);
    }
  g_assert_false (sync_exists (db, SS_OLD_DONE));
  g_assert_false (sync_exists (db, SS_OLD_ABANDONED));

  /* What is in use is untouched. */
  g_assert_true (is_active (db, "morango_syncsession", SS_RECENT));
  g_assert_true (is_active (db, "morango_transfersession", TS_RECENT));
  g_assert_cmpint (buffered (db, TS_RECENT), ==, 100);
  g_assert_cmpint (histories (db, TS_RECENT), ==, 200);
  g_assert_true (is_active (db, "morango_syncsession", SS_OLD_BUSY));
  g_assert_true (is_active (db, "morango_transfersession", TS_BUSY));
  g_assert_cmpint (buffered (db, TS_BUSY), ==, 5);
  g_assert_cmpint (histories (db, TS_BUSY), ==, 10);
  g_assert_true (transfer_exists (db, TS_LEFTOVERS));
  g_assert_true (sync_exists (db, SS_RECENT_DONE));
}

static void
test_cleanup (void)
{
  g_autoptr(MorangoDb) db = new_db_with_sessions ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoMonitor) monitor = morango_monitor_new (NULL);
  MorangoCleanupCounts counts;

  g_assert_true (morango_cleanup_sessions (db, T0, MORANGO_CLEANUP_DEFAULT_EXPIRATION, monitor,
                                           &counts, &error));
  g_assert_no_error (error);
  assert_cleaned (db);
  g_assert_cmpint (counts.sync_sessions, ==, 2);
  g_assert_cmpint (counts.transfer_sessions, ==, 3);
  /* Two transfers and the sync session left with none. */
  g_assert_cmpint (counts.abandoned, ==, 3);
  g_assert_cmpint (counts.buffer_rows, ==, 12000 + 10 + 7 + 3);
  g_assert_cmpint (counts.history_rows, ==, 2 * (12000 + 10 + 7 + 3));

  /* Again: nothing more to do. */
  g_assert_true (morango_cleanup_sessions (db, T0, MORANGO_CLEANUP_DEFAULT_EXPIRATION, NULL,
                                           &counts, &error));
  g_assert_cmpint (counts.sync_sessions + counts.transfer_sessions + counts.abandoned +
                   counts.buffer_rows + counts.history_rows, ==, 0);
  assert_cleaned (db);
}

/* A longer expiration keeps more; a later clock removes more. */
static void
test_cleanup_clock (void)
{
  g_autoptr(MorangoDb) db = new_db_with_sessions ();
  g_autoptr(GError) error = NULL;
  MorangoCleanupCounts counts;

  /* A week back from T0: only the buffers of sessions that are over,
   * or gone, go. */
  g_assert_true (morango_cleanup_sessions (db, T0, 7 * G_TIME_SPAN_DAY, NULL, &counts, &error));
  g_assert_cmpint (counts.sync_sessions, ==, 0);
  g_assert_cmpint (counts.transfer_sessions, ==, 0);
  g_assert_cmpint (counts.abandoned, ==, 0);
  g_assert_cmpint (counts.buffer_rows, ==, 7 + 3);
  g_assert_true (is_active (db, "morango_transfersession", TS_ABANDONED));
  g_assert_cmpint (buffered (db, TS_ABANDONED), ==, 12000);

  /* A day after T0, everything is old. */
  g_assert_true (morango_cleanup_sessions (db, T0 + G_TIME_SPAN_DAY, MORANGO_CLEANUP_DEFAULT_EXPIRATION,
                                           NULL, &counts, &error));
  g_assert_no_error (error);
  g_assert_cmpint (counts.transfer_sessions, ==, 6);
  g_assert_cmpint (counts.sync_sessions, ==, 5);
  g_assert_cmpint (db_count (db, "SELECT count(*) FROM morango_buffer WHERE ? IS NOT NULL", ""), ==, 0);
  g_assert_cmpint (db_count (db, "SELECT count(*) FROM morango_recordmaxcounterbuffer WHERE ? IS NOT NULL", ""), ==, 0);
}

/* A cancel inside a statement: the batch in flight rolls back, nothing
 * in use is touched, and what was abandoned cannot be resumed with
 * part of its buffer gone. */
static void
test_cleanup_cancelled (void)
{
  g_autoptr(MorangoDb) db = new_db_with_sessions ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoMonitor) monitor = morango_monitor_new (NULL);
  g_autoptr(MorangoTransferSession) ts = NULL;
  MorangoCleanupCounts counts;
  int looks = 0;

  morango_test_monitor_cancel_in_statement (monitor, &looks);
  g_assert_false (morango_cleanup_sessions (db, T0, MORANGO_CLEANUP_DEFAULT_EXPIRATION, monitor,
                                            &counts, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_cmpint (looks, >, 0);
  g_assert_cmpint (counts.buffer_rows, ==, 0);
  g_assert_cmpint (buffered (db, TS_ABANDONED), ==, 12000);
  g_assert_cmpint (histories (db, TS_ABANDONED), ==, 24000);
  g_assert_true (transfer_exists (db, TS_ABANDONED));
  ts = morango_transfer_session_load (db, TS_ABANDONED, &error);
  g_assert_no_error (error);
  g_assert_false (ts->active);
  g_assert_true (is_active (db, "morango_transfersession", TS_RECENT));
  g_assert_cmpint (buffered (db, TS_RECENT), ==, 100);

  /* A cancelled monitor stops a run before it starts. */
  g_assert_false (morango_cleanup_sessions (db, T0, MORANGO_CLEANUP_DEFAULT_EXPIRATION, monitor,
                                            &counts, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_cmpint (buffered (db, TS_ABANDONED), ==, 12000);

  g_assert_true (morango_cleanup_sessions (db, T0, MORANGO_CLEANUP_DEFAULT_EXPIRATION, NULL,
                                           &counts, &error));
  g_assert_no_error (error);
  assert_cleaned (db);
  g_assert_cmpint (counts.buffer_rows, ==, 12000 + 10 + 7 + 3);
}

/* A failure in the second batch: the first stays done, the second is
 * rolled back whole, records with their history. */
static void
test_cleanup_failed_batch (void)
{
  g_autoptr(MorangoDb) db = new_db_with_sessions ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoMonitor) monitor = morango_test_monitor_failing_at ("cleanup", 10000);
  MorangoCleanupCounts counts;

  g_assert_false (morango_cleanup_sessions (db, T0, MORANGO_CLEANUP_DEFAULT_EXPIRATION, monitor,
                                            &counts, &error));
  g_assert_error (error, MORANGO_TEST_ERROR, MORANGO_TEST_ERROR_INJECTED);
  g_clear_error (&error);
  g_assert_cmpint (counts.buffer_rows, ==, 5000);
  g_assert_cmpint (counts.history_rows, ==, 10000);
  g_assert_cmpint (buffered (db, TS_ABANDONED), ==, 7000);
  g_assert_cmpint (histories (db, TS_ABANDONED), ==, 14000);
  /* The rest of the run did not happen. */
  g_assert_cmpint (buffered (db, TS_ORPHAN), ==, 3);
  g_assert_true (transfer_exists (db, TS_OLD_DONE));
  g_assert_cmpint (db_count (db, "SELECT count(*) FROM morango_buffer b WHERE transfer_session_id = ? "
                                 "AND NOT EXISTS (SELECT 1 FROM morango_recordmaxcounterbuffer r "
                                 "  WHERE r.transfer_session_id = b.transfer_session_id "
                                 "  AND r.model_uuid = b.model_uuid)", TS_ABANDONED), ==, 0);

  /* The same monitor lets the next run through. */
  g_assert_true (morango_cleanup_sessions (db, T0, MORANGO_CLEANUP_DEFAULT_EXPIRATION, monitor,
                                           &counts, &error));
  g_assert_no_error (error);
  g_assert_cmpint (counts.buffer_rows, ==, 7000 + 10 + 7 + 3);
  assert_cleaned (db);
}

/* ---- status ---- */

static void
test_status (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = morango_test_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "s.db", NULL);
  g_autoptr(MorangoProfile) profile = morango_profile_new_by_name ("morango-testapp", &error);
  g_autoptr(MorangoHostInfo) host = morango_host_info_new ("status-test", "");
  g_autoptr(MorangoRandom) random = morango_random_new_seeded (7);
  g_autoptr(MorangoStore) store = NULL;
  g_autoptr(MorangoStatus) status = NULL;
  g_autoptr(MorangoKnownPeer) p = NULL;
  g_autoptr(MorangoFilter) filter = morango_filter_parse ("abc");
  MorangoDb *db;
  const char * const *names;

  g_assert_no_error (error);
  store = morango_store_open (path, profile, host, random, &error);
  g_assert_no_error (error);
  db = morango_store_get_db (store);

  status = morango_status_collect (store, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (status->instance_id, ==, morango_store_get_instance_id (store));
  g_assert_cmpstr (status->profile, ==, morango_profile_get_name (profile));
  g_assert_cmpstr (status->description, ==, "morango-testapp");
  names = morango_profile_get_model_names (profile);
  g_assert_cmpuint (status->models->len, ==, g_strv_length ((char **) names));
  for (guint i = 0; i < status->models->len; i++)
    {
      MorangoModelCount *c = &g_array_index (status->models, MorangoModelCount, i);

      g_assert_cmpstr (c->model_name, ==, names[i]);
      g_assert_cmpint (c->records, ==, 0);
    }
  g_assert_cmpuint (status->certificates, ==, 0);
  g_assert_cmpint (status->active_sync_sessions, ==, 0);
  g_assert_cmpuint (status->peers, ==, 0);
  g_clear_pointer (&status, morango_status_free);

  /* Two live records of the first model, one deleted; one of a model
   * the profile does not name; sessions; peers, one forgotten. */
  g_assert_true (morango_db_execute (db, &error,
                                     "INSERT INTO morango_store (id, profile, deleted, last_saved_instance, "
                                     "  last_saved_counter, partition, source_id, model_name) VALUES "
                                     "  ('r1', ?1, 0, 'i', 1, 'p', 's', ?2), ('r2', ?1, 0, 'i', 1, 'p', 's', ?2), "
                                     "  ('r3', ?1, 1, 'i', 1, 'p', 's', ?2), ('r4', ?1, 0, 'i', 1, 'p', 's', 'zz'), "
                                     "  ('r5', 'other', 0, 'i', 1, 'p', 's', ?2)",
                                     "ss", morango_profile_get_name (profile), names[0]));
  g_assert_true (morango_sync_session_create (db, SS_RECENT, FALSE, "p", "network", "x", NULL, NULL, &error));
  g_assert_true (morango_transfer_session_create (db, TS_RECENT, SS_RECENT, filter, TRUE, &error));
  g_assert_true (morango_transfer_session_create (db, TS_BUSY, SS_RECENT, filter, FALSE, &error));
  g_assert_true (morango_transfer_session_close (db, TS_BUSY, NULL, &error));
  /* A root made here (its key held, trusted) and another's root,
   * stored but neither owned nor trusted. */
  {
    g_autoptr(MorangoCertificate) own = morango_certificate_create_root (db, "root_scope", NULL, NULL, &error);
    g_autoptr(MorangoKey) key = morango_key_generate (&error);
    g_autoptr(MorangoCertificate) foreign = NULL;

    g_assert_no_error (error);
    foreign = morango_test_forge (NULL, NULL, "facilitydata", "", "root_scope",
                                  "{\"user\": \"x\"}", key, key);
    g_assert_true (morango_certificate_save (foreign, db, &error));
    g_assert_no_error (error);
  }
  g_clear_pointer (&p, morango_known_peer_free);
  p = morango_known_peer_add (store, "http://a/", T0, &error);
  g_clear_pointer (&p, morango_known_peer_free);
  p = morango_known_peer_add (store, "http://b/", T0, &error);
  g_assert_true (morango_known_peer_forget (store, p->id, &error));
  g_assert_no_error (error);

  status = morango_status_collect (store, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_array_index (status->models, MorangoModelCount, 0).records, ==, 2);
  g_assert_cmpint (g_array_index (status->models, MorangoModelCount, 0).deleted, ==, 1);
  g_assert_cmpstr (g_array_index (status->models, MorangoModelCount, status->models->len - 1).model_name, ==, "zz");
  g_assert_cmpint (g_array_index (status->models, MorangoModelCount, status->models->len - 1).records, ==, 1);
  g_assert_cmpint (status->active_sync_sessions, ==, 1);
  g_assert_cmpint (status->active_transfer_sessions, ==, 1);
  g_assert_cmpuint (status->peers, ==, 1);
  g_assert_cmpuint (status->certificates, ==, 2);
  g_assert_cmpuint (status->own_certificates, ==, 1);
  g_assert_cmpuint (status->trusted_roots, ==, 1);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/peers/address-normalize", test_address_normalize);
  g_test_add_func ("/peers/add-idempotent", test_peer_add_idempotent);
  g_test_add_func ("/peers/states", test_peer_states);
  g_test_add_func ("/peers/clients", test_peer_clients);
  g_test_add_func ("/peers/history", test_history);
  g_test_add_func ("/cleanup/sessions", test_cleanup);
  g_test_add_func ("/cleanup/clock", test_cleanup_clock);
  g_test_add_func ("/cleanup/cancelled", test_cleanup_cancelled);
  g_test_add_func ("/cleanup/failed-batch", test_cleanup_failed_batch);
  g_test_add_func ("/status/collect", test_status);
  return g_test_run ();
}
