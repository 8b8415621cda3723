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
/* When the account was made, as the database keeps times: naive UTC
 * "YYYY-MM-DD HH:MM:SS.ffffff"; NULL for an account from
 * morango_account_check(). */
const char         *morango_account_get_created  (MorangoAccount *self);

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
/* Whether @name can name an account (the rules of
 * morango_account_set_password()); MORANGO_ERROR_INVALID saying why if
 * not.  For asking before a password is typed. */
gboolean            morango_account_name_is_valid (const char        *name,
                                                  GError            **error);
/* Creates account @name, as morango_account_set_password() does, but
 * refuses a name that exists (MORANGO_ERROR_INVALID): adding never
 * replaces someone's password.  @scopes NULL: none. */
gboolean            morango_account_add          (MorangoDb          *db,
                                                  MorangoRandom      *random,
                                                  const char         *name,
                                                  const char         *password,
                                                  const char * const *scopes,
                                                  GError            **error);
/* Replaces the password of account @name, keeping its scopes;
 * MORANGO_ERROR_NOT_FOUND when there is no such account. */
gboolean            morango_account_change_password (MorangoDb       *db,
                                                  MorangoRandom      *random,
                                                  const char         *name,
                                                  const char         *password,
                                                  GError            **error);
/* Removes account @name and its scopes; MORANGO_ERROR_NOT_FOUND when
 * there is no such account.  Certificates it obtained stay valid. */
gboolean            morango_account_remove       (MorangoDb          *db,
                                                  const char         *name,
                                                  GError            **error);
/* Every account (MorangoAccount*, with its scopes and creation time),
 * sorted by name; NULL on a database error. */
GPtrArray          *morango_account_list         (MorangoDb          *db,
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
