/* morango-engine-peers.h: adding a peer, and what a pairing dialog asks a peer first
 *
 * SPDX-License-Identifier: MIT
 *
 * Calls on MorangoEngine for the steps before morango_engine_pair_async():
 * remember a peer by its address, list the certificates it can issue
 * ours under, and list the learners of a dataset it serves (our own
 * endpoint, docs/accounts.md).  Same rules as the rest of the engine:
 * asynchronous, a thread and a connection of their own.
 */
#pragma once

#include "morango-engine.h"
#include "morango-profile.h"

G_BEGIN_DECLS

/* The one spelling of a peer's address ("host:port" gets "http://",
 * the path ends in "/"), or MORANGO_ERROR_INVALID with a message a
 * person can act on.  Quick and pure: for checking as the user types. */
char             *morango_engine_normalize_peer_address (const char    *address,
                                                         GError       **error);

/* Remembers the peer at @address (normalised), not paired yet; the same
 * address again gives the peer already known.  "peers-changed" follows
 * a new one. */
void              morango_engine_add_peer_async  (MorangoEngine        *self,
                                                  const char           *address,
                                                  GCancellable         *cancellable,
                                                  GAsyncReadyCallback   callback,
                                                  gpointer              user_data);
MorangoKnownPeer *morango_engine_add_peer_finish (MorangoEngine        *self,
                                                  GAsyncResult         *result,
                                                  GError              **error);

/* How to speak to a peer over HTTPS, as for pairing: the fingerprint
 * expected (NULL: the one pinned for that peer, else @confirm's answer
 * at first contact). */
typedef struct {
  const char               *expect_fingerprint;
  MorangoEngineConfirmFunc  confirm;
  gpointer                  confirm_data;
} MorangoEnginePeerOptions;

typedef struct {
  /* The peer's own certificates of this device's profile, as it lists
   * them (GET certificates/), and for each the dataset it covers (the
   * value of its definition's primary parameter; "" when it has none). */
  GPtrArray *certificates;      /* MorangoCertificate* */
  GStrv      datasets;
  /* https: the TLS certificate the peer presented (now confirmed): give
   * it as the pairing's expect_fingerprint so as not to ask twice.
   * NULL over plain HTTP. */
  char      *tls_fingerprint;
  /* This device's profile: the scope definition and parameter of a
   * certificate for one person (its "people"); NULL when it has none. */
  char      *person_scope_definition;
  char      *person_scope_param;
} MorangoEnginePeerCertificates;

void morango_engine_peer_certificates_free (MorangoEnginePeerCertificates *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MorangoEnginePeerCertificates, morango_engine_peer_certificates_free)

void                           morango_engine_fetch_peer_certificates_async  (MorangoEngine                  *self,
                                                                              const char                     *url,
                                                                              const MorangoEnginePeerOptions *options,
                                                                              GCancellable                   *cancellable,
                                                                              GAsyncReadyCallback             callback,
                                                                              gpointer                        user_data);
MorangoEnginePeerCertificates *morango_engine_fetch_peer_certificates_finish (MorangoEngine                  *self,
                                                                              GAsyncResult                   *result,
                                                                              GError                        **error);

/* The learners of dataset @dataset_id on the peer at @url, asked with
 * the account @username (NULL: "admin"; Kolibri's
 * "username=U&facility=F" is sent as it is) and @password: a GPtrArray
 * of MorangoPerson*.  A peer without our endpoint (Morango, Kolibri)
 * fails with MORANGO_ERROR_NOT_FOUND: the user types the id then. */
void       morango_engine_fetch_learners_async  (MorangoEngine                  *self,
                                                 const char                     *url,
                                                 const char                     *dataset_id,
                                                 const char                     *username,
                                                 const char                     *password,
                                                 const MorangoEnginePeerOptions *options,
                                                 GCancellable                   *cancellable,
                                                 GAsyncReadyCallback             callback,
                                                 gpointer                        user_data);
GPtrArray *morango_engine_fetch_learners_finish (MorangoEngine                  *self,
                                                 GAsyncResult                   *result,
                                                 GError                        **error);

/* The HTTP status a peer refused a call with, read from an engine error
 * (its message says "… refused METHOD PATH (STATUS …)"); 0 when the
 * error is no refusal by a peer. */
guint      morango_engine_error_get_http_status (const GError *error);

G_END_DECLS
