/* morango-certificate.h: certificates, chains and trust (protocol §7.5–§7.8)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <json-glib/json-glib.h>

#include "morango-db.h"
#include "morango-filter.h"
#include "morango-key.h"
#include "morango-random.h"

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

/* A certificate signing request (§7.8 (a), the body of §8.3.2). */
typedef struct {
  char   *parent_id;
  char   *profile;
  char   *scope_definition_id;
  gint64  scope_version;
  char   *scope_params;   /* JSON object text */
  char   *public_key;     /* the requester's, any accepted spelling */
} MorangoCertificateRequest;

/* The requester's side: ask @parent's holder for @scope_params under
 * @scope_definition_id, for @key (the profile and scope version are the
 * parent's). */
MorangoCertificateRequest *morango_certificate_request_new        (MorangoCertificate *parent,
                                                                   const char         *scope_definition_id,
                                                                   const char         *scope_params,
                                                                   MorangoKey         *key);
/* Reads the POST certificates/ body; missing or mistyped fields are
 * MORANGO_ERROR_INVALID. */
MorangoCertificateRequest *morango_certificate_request_new_from_json (JsonObject   *body,
                                                                   GError      **error);
JsonObject                *morango_certificate_request_to_json    (const MorangoCertificateRequest *req);
void                       morango_certificate_request_free       (MorangoCertificateRequest *req);
/* The issuer's decision, after the caller has authenticated the
 * requester and checked their right to the scope: the parent must be
 * stored here with its private key, the scope definition known, the
 * params a non-empty object, the key RSA-2048; the child gets a random
 * salt, is signed by the parent, must pass §7.6 (so a scope wider than
 * the parent's or another profile is refused) and is stored without a
 * private key.  Returns it, or the reason for refusing as @error. */
MorangoCertificate        *morango_certificate_request_issue      (MorangoDb                       *db,
                                                                   const MorangoCertificateRequest *req,
                                                                   MorangoRandom                   *random,
                                                                   GError                         **error);
/* The requester's side once the answer came: the certificate must be
 * what was asked for and for @key (with its private half); it is
 * checked against the stored parent and stored with the key. */
MorangoCertificate        *morango_certificate_request_accept     (MorangoDb                       *db,
                                                                   const MorangoCertificateRequest *req,
                                                                   JsonObject                      *response,
                                                                   MorangoKey                      *key,
                                                                   GError                         **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MorangoCertificateRequest, morango_certificate_request_free)

/* Tree views for the certificates/ endpoint (§8.3.1): @id and its
 * descendants in tree pre-order, only those whose private key is held
 * here when @owned_only.  Empty when @id is not stored. */
GPtrArray          *morango_certificate_list_subtree      (MorangoDb          *db,
                                                           const char         *id,
                                                           gboolean            owned_only,
                                                           GError            **error);

/* Shared keys (§1.15): the key pairs a server publishes so that clients
 * can push certificates to it.  Returns the current one, creating it
 * when there is none; @force_new retires the old ones first. */
MorangoKey         *morango_shared_key_get_or_create      (MorangoDb          *db,
                                                           gboolean            force_new,
                                                           GError            **error);
/* The current shared keys (public and private halves). */
GPtrArray          *morango_shared_key_list               (MorangoDb          *db,
                                                           GError            **error);

/* The receiving side of certificate pushing (§7.8 (b) step 4), without
 * HTTP: @chain ends with a certificate issued to one of this device's
 * shared keys, salted with a nonce this device gave out.  The links
 * before it are imported as by morango_certificate_chain_import() (so
 * their root must be trusted); the last one's key must be a current
 * shared key (MORANGO_ERROR_KEY_INVALID otherwise), its salt a valid
 * nonce (consumed; MORANGO_ERROR_NONCE_INVALID otherwise), and it must
 * pass §7.6.  It is then stored with the shared private key.  Nothing is
 * stored on failure.  @now_usec 0 means now. */
MorangoCertificate *morango_certificate_accept_pushed     (MorangoDb          *db,
                                                           JsonNode           *chain,
                                                           gint64              now_usec,
                                                           GError            **error);

/* Trust anchors: the roots this device accepts chains from. */
gboolean            morango_trust_add_root                (MorangoDb          *db,
                                                           const char         *root_id,
                                                           const char         *reason,
                                                           GError            **error);
gboolean            morango_trust_remove_root             (MorangoDb          *db,
                                                           const char         *root_id,
                                                           GError            **error);
gboolean            morango_trust_is_trusted              (MorangoDb          *db,
                                                           const char         *root_id);

typedef enum {
  MORANGO_CHAIN_IMPORT_DEFAULT    = 0,
  /* Trust the chain's root (the user asked for it: `cert trust`). */
  MORANGO_CHAIN_IMPORT_TRUST_ROOT = 1 << 0,
  /* Skip the trust step (Morango's own behaviour; tests only). */
  MORANGO_CHAIN_IMPORT_NO_TRUST   = 1 << 1,
} MorangoChainImportFlags;

/* Imports a chain as save_certificate_chain does (§7.6), but validates
 * all of it, then checks that its root is trusted, and only then stores
 * the new certificates, all in one transaction: a failure stores
 * nothing.  @chain is a JSON array of API objects root first, a JSON
 * string holding such an array (the certificatechain payload), or a
 * single API object.  @expected_last_id may be NULL.  Returns the last
 * certificate (the stored copy when it was already stored). */
MorangoCertificate *morango_certificate_chain_import      (MorangoDb          *db,
                                                           JsonNode           *chain,
                                                           const char         *expected_last_id,
                                                           MorangoChainImportFlags flags,
                                                           GError            **error);
MorangoCertificate *morango_certificate_chain_import_text (MorangoDb          *db,
                                                           const char         *text,
                                                           const char         *expected_last_id,
                                                           MorangoChainImportFlags flags,
                                                           GError            **error);
/* The chain of @id as a JSON array of API objects, root first, without
 * private keys. */
JsonArray          *morango_certificate_chain_export      (MorangoDb          *db,
                                                           const char         *id,
                                                           GError            **error);
char               *morango_certificate_chain_export_text (MorangoDb          *db,
                                                           const char         *id,
                                                           GError            **error);

/* An explicit backup of an owned certificate: its chain and its private
 * key encrypted with @passphrase (PKCS#8, AES-256), as a JSON text. */
char               *morango_certificate_backup            (MorangoDb          *db,
                                                           const char         *id,
                                                           const char         *passphrase,
                                                           GError            **error);
/* Writes the backup to @path, created with mode 0600. */
gboolean            morango_certificate_backup_to_file    (MorangoDb          *db,
                                                           const char         *id,
                                                           const char         *passphrase,
                                                           const char         *path,
                                                           GError            **error);
/* Restores a backup: the chain is validated as an import, its root is
 * trusted (the user deliberately restores their own identity) and the
 * private key is attached.  Returns the restored certificate. */
MorangoCertificate *morango_certificate_restore           (MorangoDb          *db,
                                                           const char         *backup,
                                                           const char         *passphrase,
                                                           GError            **error);

G_END_DECLS
