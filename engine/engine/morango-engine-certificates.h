/* morango-engine-certificates.h: certificates, chains and backups, asynchronously
 *
 * SPDX-License-Identifier: MIT
 *
 * What `morango cert` does, for programs with a main loop: each call
 * runs on a thread with a database connection of its own and ends on
 * the engine's main context.  A call that stores something emits
 * "certificates-changed".  Refusals carry the engine's own messages,
 * the ones `morango cert` prints.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "morango-engine.h"
#include "morango-filter.h"

G_BEGIN_DECLS

/* ---- one certificate, as the folder holds it ---- */

#define MORANGO_TYPE_ENGINE_CERTIFICATE (morango_engine_certificate_get_type ())
G_DECLARE_FINAL_TYPE (MorangoEngineCertificate, morango_engine_certificate,
                      MORANGO, ENGINE_CERTIFICATE, GObject)

const char         *morango_engine_certificate_get_id               (MorangoEngineCertificate *self);
/* NULL for a root. */
const char         *morango_engine_certificate_get_parent_id        (MorangoEngineCertificate *self);
/* The root of its chain (its own id for a root). */
const char         *morango_engine_certificate_get_root_id          (MorangoEngineCertificate *self);
/* 0 for a root, 1 for its children, … */
guint               morango_engine_certificate_get_depth            (MorangoEngineCertificate *self);
const char         *morango_engine_certificate_get_profile          (MorangoEngineCertificate *self);
const char         *morango_engine_certificate_get_scope_definition (MorangoEngineCertificate *self);
gint64              morango_engine_certificate_get_scope_version    (MorangoEngineCertificate *self);
/* The params as signed: a JSON object text. */
const char         *morango_engine_certificate_get_scope_params     (MorangoEngineCertificate *self);
/* The scope definition's description filled with the params; NULL
 * when this folder does not know the definition. */
const char         *morango_engine_certificate_get_description      (MorangoEngineCertificate *self);
/* The expanded filters ("" is everything); NULL when the definition
 * is not known here. */
const char * const *morango_engine_certificate_get_read_filter      (MorangoEngineCertificate *self);
const char * const *morango_engine_certificate_get_write_filter     (MorangoEngineCertificate *self);
/* The public key's fingerprint (morango_key_get_fingerprint()). */
const char         *morango_engine_certificate_get_fingerprint      (MorangoEngineCertificate *self);
gboolean            morango_engine_certificate_has_private_key      (MorangoEngineCertificate *self);
/* A root that this device trusts: chains ending in it are accepted. */
gboolean            morango_engine_certificate_is_trust_anchor      (MorangoEngineCertificate *self);
/* Whether the root of its chain is trusted here. */
gboolean            morango_engine_certificate_is_root_trusted      (MorangoEngineCertificate *self);

/* Every certificate of the folder in tree order (parents first, each
 * followed by its children): a GListModel of MorangoEngineCertificate. */
void        morango_engine_list_certificates_async  (MorangoEngine        *self,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);
GListModel *morango_engine_list_certificates_finish (MorangoEngine        *self,
                                                     GAsyncResult         *result,
                                                     GError              **error);

/* ---- importing a chain ---- */

#define MORANGO_TYPE_ENGINE_CHAIN_PREVIEW (morango_engine_chain_preview_get_type ())
G_DECLARE_FINAL_TYPE (MorangoEngineChainPreview, morango_engine_chain_preview,
                      MORANGO, ENGINE_CHAIN_PREVIEW, GObject)

/* The chain the file holds, root first (MorangoEngineCertificate, as
 * they would be once imported). */
GListModel *morango_engine_chain_preview_get_certificates     (MorangoEngineChainPreview *self);
/* The last certificate of the chain: what the import brings. */
const char *morango_engine_chain_preview_get_last_id          (MorangoEngineChainPreview *self);
/* The chain's root: what would become trusted. */
const char *morango_engine_chain_preview_get_root_id          (MorangoEngineChainPreview *self);
const char *morango_engine_chain_preview_get_root_fingerprint (MorangoEngineChainPreview *self);
const char *morango_engine_chain_preview_get_root_scope_definition (MorangoEngineChainPreview *self);
const char *morango_engine_chain_preview_get_root_scope_params     (MorangoEngineChainPreview *self);
/* TRUE when the root is trusted already: a plain import is accepted. */
gboolean    morango_engine_chain_preview_is_root_trusted      (MorangoEngineChainPreview *self);
/* Why an import without trusting the root is refused (the engine's
 * message); NULL when it would be accepted. */
const char *morango_engine_chain_preview_get_untrusted_reason (MorangoEngineChainPreview *self);
/* How many of its certificates this folder does not hold yet. */
guint       morango_engine_chain_preview_get_n_new            (MorangoEngineChainPreview *self);

/* Reads the chain in @file and checks it as an import trusting its
 * root would, storing nothing.  Fails with the refusal an import would
 * give whatever the trust (a file that is no chain, a bad signature, a
 * certificate backup, …); a chain whose root is not trusted yet is no
 * failure here: see _get_untrusted_reason(). */
void                       morango_engine_preview_chain_async  (MorangoEngine        *self,
                                                                GFile                *file,
                                                                GCancellable         *cancellable,
                                                                GAsyncReadyCallback   callback,
                                                                gpointer              user_data);
MorangoEngineChainPreview *morango_engine_preview_chain_finish (MorangoEngine        *self,
                                                                GAsyncResult         *result,
                                                                GError              **error);

/* Imports the chain in @file (`morango cert import`), with @trust_root
 * also trusting its root from now on (`morango cert trust`).  All or
 * nothing.  Returns the id of the chain's last certificate. */
void  morango_engine_import_chain_async  (MorangoEngine        *self,
                                          GFile                *file,
                                          gboolean              trust_root,
                                          GCancellable         *cancellable,
                                          GAsyncReadyCallback   callback,
                                          gpointer              user_data);
char *morango_engine_import_chain_finish (MorangoEngine        *self,
                                          GAsyncResult         *result,
                                          GError              **error);

/* ---- export, new roots, backups ---- */

/* Writes the chain of @id (root first, no private key) to @file. */
void     morango_engine_export_chain_async  (MorangoEngine        *self,
                                             const char           *id,
                                             GFile                *file,
                                             GCancellable         *cancellable,
                                             GAsyncReadyCallback   callback,
                                             gpointer              user_data);
gboolean morango_engine_export_chain_finish (MorangoEngine        *self,
                                             GAsyncResult         *result,
                                             GError              **error);

/* The scope definitions of the folder's profile that can make a root
 * (they have a primary scope param key): a GPtrArray of
 * MorangoScopeDefinition *, which the array owns. */
void       morango_engine_list_root_scopes_async  (MorangoEngine        *self,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
GPtrArray *morango_engine_list_root_scopes_finish (MorangoEngine        *self,
                                                   GAsyncResult         *result,
                                                   GError              **error);
/* The params a new root of @def needs from the user: every ${name} its
 * filter templates use, but the primary key (the root's own id), in
 * the order first used. */
GStrv      morango_engine_scope_definition_get_params (const MorangoScopeDefinition *def);

/* Makes a root certificate and its key (`morango cert create-root`)
 * for @scope_definition with @params (may be NULL) besides the primary
 * key, stored and trusted.  Returns its id. */
void  morango_engine_create_root_async  (MorangoEngine        *self,
                                         const char           *scope_definition,
                                         JsonObject           *params,
                                         GCancellable         *cancellable,
                                         GAsyncReadyCallback   callback,
                                         gpointer              user_data);
char *morango_engine_create_root_finish (MorangoEngine        *self,
                                         GAsyncResult         *result,
                                         GError              **error);

/* Writes certificate @id with its private key, encrypted with
 * @passphrase, to @file (mode 0600) (`morango cert backup`). */
void     morango_engine_backup_certificate_async  (MorangoEngine        *self,
                                                   const char           *id,
                                                   const char           *passphrase,
                                                   GFile                *file,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
gboolean morango_engine_backup_certificate_finish (MorangoEngine        *self,
                                                   GAsyncResult         *result,
                                                   GError              **error);

/* Brings the certificate backed up in @file, with its key, onto this
 * device (`morango cert restore`); a wrong passphrase changes nothing.
 * Returns its id. */
void  morango_engine_restore_certificate_async  (MorangoEngine        *self,
                                                 GFile                *file,
                                                 const char           *passphrase,
                                                 GCancellable         *cancellable,
                                                 GAsyncReadyCallback   callback,
                                                 gpointer              user_data);
char *morango_engine_restore_certificate_finish (MorangoEngine        *self,
                                                 GAsyncResult         *result,
                                                 GError              **error);

G_END_DECLS
