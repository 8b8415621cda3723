/* morango-certificate.h: certificates (protocol §7.5–§7.7)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <json-glib/json-glib.h>

#include "morango-db.h"
#include "morango-filter.h"
#include "morango-key.h"

G_BEGIN_DECLS

#define MORANGO_TYPE_CERTIFICATE (morango_certificate_get_type ())
G_DECLARE_FINAL_TYPE (MorangoCertificate, morango_certificate, MORANGO, CERTIFICATE, GObject)

/* The id rule of §2.6: sha2_uuid of the non-empty values of (canonical
 * public key, profile, salt) joined with ":". */
char               *morango_certificate_compute_id        (const char  *public_key_string,
                                                           const char  *profile,
                                                           const char  *salt);

/* Parses a received certificate from its signed text alone (§7.5); the
 * text and @signature are kept verbatim and never re-encoded.  Nothing
 * is verified here: see morango_certificate_check(). */
MorangoCertificate *morango_certificate_new_from_serialized (const char  *serialized,
                                                             const char  *signature,
                                                             GError     **error);
/* The same from an API object (§8.3): only "id", "serialized" and
 * "signature" are read, and "id" must name the signed id. */
MorangoCertificate *morango_certificate_new_from_json     (JsonObject  *object,
                                                           GError     **error);
/* The API object of §8.3, in its key order; never a private key. */
JsonObject         *morango_certificate_to_json           (MorangoCertificate *self);

const char         *morango_certificate_get_id            (MorangoCertificate *self);
/* NULL for a root. */
const char         *morango_certificate_get_parent_id     (MorangoCertificate *self);
const char         *morango_certificate_get_profile       (MorangoCertificate *self);
const char         *morango_certificate_get_salt          (MorangoCertificate *self);
const char         *morango_certificate_get_scope_definition_id (MorangoCertificate *self);
gint64              morango_certificate_get_scope_version (MorangoCertificate *self);
/* The JSON object text of the params, as signed. */
const char         *morango_certificate_get_scope_params  (MorangoCertificate *self);
const char         *morango_certificate_get_public_key_string (MorangoCertificate *self);
const char         *morango_certificate_get_serialized    (MorangoCertificate *self);
const char         *morango_certificate_get_signature     (MorangoCertificate *self);
MorangoKey         *morango_certificate_get_key           (MorangoCertificate *self);
gboolean            morango_certificate_has_private_key   (MorangoCertificate *self);
gboolean            morango_certificate_is_root           (MorangoCertificate *self);
/* Attaches the private half of the certificate's key (in memory); it
 * must match the certificate's public key. */
gboolean            morango_certificate_set_private_key   (MorangoCertificate *self,
                                                           MorangoKey         *key,
                                                           GError            **error);

/* The certificate's scope from its local scope definition. */
MorangoScope       *morango_certificate_get_scope         (MorangoCertificate *self,
                                                           MorangoDb          *db,
                                                           GError            **error);
/* Signs @message with the certificate's private key. */
char               *morango_certificate_sign              (MorangoCertificate *self,
                                                           const char         *message,
                                                           GError            **error);
gboolean            morango_certificate_verify            (MorangoCertificate *self,
                                                           const char         *message,
                                                           const char         *signature);

/* Every rule of §7.6, in Morango's order: the id; for a root its own
 * signature and every read and write entry under its id; for a child the
 * parent's signature, the subset scope and the same profile.  The parent
 * comes from @db (MORANGO_ERROR_CERT_PARENT_MISSING when absent); the
 * scope definitions always do.  Trust is a separate step. */
gboolean            morango_certificate_check             (MorangoCertificate *self,
                                                           MorangoDb          *db,
                                                           GError            **error);
/* The same with the parent given (NULL for a root). */
gboolean            morango_certificate_check_with_parent (MorangoCertificate *self,
                                                           MorangoCertificate *parent,
                                                           MorangoDb          *db,
                                                           GError            **error);

/* Storage in morango_certificate. */
MorangoCertificate *morango_certificate_load              (MorangoDb          *db,
                                                           const char         *id,
                                                           GError            **error);
/* Stores the certificate, with its private key when it holds one.  A
 * certificate already stored with the same text and signature is left
 * as it is (its private key is added if this copy has one); the same id
 * with another text or signature is refused (quirk 18). */
gboolean            morango_certificate_save              (MorangoCertificate *self,
                                                           MorangoDb          *db,
                                                           GError            **error);
/* All stored certificates in tree order (parents first, siblings in
 * insertion order). */
GPtrArray          *morango_certificate_list              (MorangoDb          *db,
                                                           GError            **error);
/* The certificate @id and its ancestors, root first. */
GPtrArray          *morango_certificate_get_chain         (MorangoDb          *db,
                                                           const char         *id,
                                                           GError            **error);

/* A new root certificate (§7.7) for @scope_definition_id, whose
 * definition must have a primary scope param key; @extra_params (may be
 * NULL) are added after it.  @key NULL generates one.  It is stored with
 * its private key and trusted, in one transaction. */
MorangoCertificate *morango_certificate_create_root       (MorangoDb          *db,
                                                           const char         *scope_definition_id,
                                                           JsonObject         *extra_params,
                                                           MorangoKey         *key,
                                                           GError            **error);
/* A child of @parent (whose private key signs it) with the given scope,
 * for @key (public or private), with @salt (NULL for ""), validated by
 * the rules of §7.6 but not stored.  @scope_version < 0 takes the
 * definition's version. */
MorangoCertificate *morango_certificate_issue             (MorangoDb          *db,
                                                           MorangoCertificate *parent,
                                                           const char         *scope_definition_id,
                                                           gint64              scope_version,
                                                           const char         *scope_params,
                                                           MorangoKey         *key,
                                                           const char         *salt,
                                                           GError            **error);

/* Tree views for the certificates/ endpoint (§8.3.1): @id and its
 * descendants in tree pre-order, only those whose private key is held
 * here when @owned_only.  Empty when @id is not stored. */
GPtrArray          *morango_certificate_list_subtree      (MorangoDb          *db,
                                                           const char         *id,
                                                           gboolean            owned_only,
                                                           GError            **error);

G_END_DECLS
