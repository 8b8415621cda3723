/* morango-account.h: accounts that may ask this device for certificates (protocol §8.3.2)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "morango-db.h"
#include "morango-random.h"

G_BEGIN_DECLS

/* The scope list entry that allows every scope definition. */
#define MORANGO_ACCOUNT_ALL_SCOPES "*"
/* The account made when a device is set up. */
#define MORANGO_ACCOUNT_ADMIN "admin"

#define MORANGO_TYPE_ACCOUNT (morango_account_get_type ())
G_DECLARE_FINAL_TYPE (MorangoAccount, morango_account, MORANGO, ACCOUNT, GObject)

const char         *morango_account_get_name     (MorangoAccount *self);
/* The scope definition ids the account may request, sorted; "*" stands
 * for all. */
const char * const *morango_account_get_scopes   (MorangoAccount *self);

/* Creates account @name with @password, or replaces the password of an
 * existing one.  @scopes (NULL-terminated) replaces the scope
 * definitions the account may request; NULL keeps an existing
 * account's and gives a new one none.  A name must be something HTTP
 * Basic can carry: not empty, at most 150 characters, no control
 * characters and none of ':', '=', '&' (MORANGO_ERROR_INVALID).  The
 * salt comes from @random. */
gboolean            morango_account_set_password (MorangoDb          *db,
                                                  MorangoRandom      *random,
                                                  const char         *name,
                                                  const char         *password,
                                                  const char * const *scopes,
                                                  GError            **error);
/* The account @name if @password is its password.  An unknown name and
 * a wrong password are the same MORANGO_ERROR_PERMISSION_DENIED, and
 * both cost one password derivation, so neither the answer nor its
 * time tells whether the name exists.  A stored hash that cannot be
 * used is MORANGO_ERROR_INVALID (after the same derivation). */
MorangoAccount     *morango_account_check        (MorangoDb          *db,
                                                  const char         *name,
                                                  const char         *password,
                                                  GError            **error);
/* Whether any account exists: without one, no signing request can be
 * granted.  FALSE on a database error too. */
gboolean            morango_account_has_any      (MorangoDb          *db);
/* Whether @self may request certificates of @scope_definition_id. */
gboolean            morango_account_may_request  (MorangoAccount     *self,
                                                  const char         *scope_definition_id);

G_END_DECLS
