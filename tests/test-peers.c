/* test-peers.c: known peers, the sync history and the cleanup of old sessions (protocol §9.10)
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "morango-history.h"
#include "morango-ids.h"
#include "morango-known-peer.h"
#include "morango-session.h"
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
  return g_test_run ();
}
