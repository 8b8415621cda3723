/* pair-fixtures.h: a facility to pair with, for the pairing tests
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "morango-engine.h"

G_BEGIN_DECLS

#define PAIR_FIXTURE_PASSWORD "correct horse"
/* An account that may ask for no scope at all. */
#define PAIR_FIXTURE_NOBODY   "nobody"

typedef struct {
  char          *dir;
  MorangoEngine *engine;
  char          *url;         /* http://127.0.0.1:PORT/ */
  char          *dataset;     /* the root's id */
  char          *learners[2]; /* ids of "ana" and "ben" */
} PairFixture;

/* A kolibri-like folder under @root: the root certificate of a new
 * facility, the admin account (PAIR_FIXTURE_PASSWORD, every scope), the
 * account "nobody" (same password, no scope), a coach and two learners,
 * "ana" (Ana Alves) and "ben" (Ben Bello); served on 127.0.0.1 port 0.
 * Waits on the thread-default main context. */
PairFixture *pair_fixture_new  (const char  *root);
/* The same served over HTTPS (url https://…); *@fingerprint (may be
 * NULL) gets the TLS certificate's fingerprint. */
PairFixture *pair_fixture_new_tls (const char  *root,
                                   char       **fingerprint);
void         pair_fixture_free (PairFixture *fixture);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PairFixture, pair_fixture_free)

G_END_DECLS
