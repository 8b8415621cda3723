/* morango-engine.h: the one object the programs hold
 *
 * SPDX-License-Identifier: MIT
 *
 * A data folder with a worker thread of its own.  The worker's
 * GMainContext hosts the HTTP server; a sync or a pairing runs on a
 * thread of its own with a database connection of its own, so neither
 * the caller's main context nor the server ever waits for it, and a big
 * sync never stops the server answering.
 *
 * Every operation is asynchronous (…_async / …_finish with a
 * GCancellable).  Callbacks, progress and signals come on the main
 * context that was the thread-default one when the engine was made.
 *
 * Signals:
 *   peers-changed (): a peer was added, paired, synced, or a client of
 *     our server finished a sync.
 *   data-changed (): records may have come in or gone (a sync ended, a
 *     client of our server finished one, data was imported).
 *   certificates-changed (): a certificate was stored, trusted or
 *     removed (pairing, import, creation, restore).
 */
#pragma once

#include <gio/gio.h>

#include "morango-history.h"
#include "morango-known-peer.h"

G_BEGIN_DECLS

#define MORANGO_TYPE_ENGINE (morango_engine_get_type ())
G_DECLARE_FINAL_TYPE (MorangoEngine, morango_engine, MORANGO, ENGINE, GObject)

/* Opens (creating it on first use) the data folder @data_dir; a new one
 * gets @description (NULL: the default), an existing one must hold it
 * when one is named (morango_store_open_folder()).  The folder is
 * opened once here, so that a bad folder fails at once. */
MorangoEngine *morango_engine_new             (const char     *data_dir,
                                               const char     *description,
                                               GError        **error);
const char    *morango_engine_get_data_dir    (MorangoEngine  *self);
const char    *morango_engine_get_instance_id (MorangoEngine  *self);

/* Syncs and pairings started from now on run their threads at a lower
 * priority (nice +10) than the rest of the process, so that a window
 * drawing on a busy machine goes first.  For programs with a user in
 * front of them; off by default (a server's syncs are its work). */
void           morango_engine_set_background  (MorangoEngine  *self,
                                               gboolean        background);

/* ---- serving ---- */

typedef struct {
  const char *address;       /* an IP address; NULL: every interface */
  guint       port;          /* 0: any free port */
  gsize       body_limit;    /* 0: the server's default (32 MiB) */
  gboolean    allow_certificate_push;  /* offer ALLOW_CERTIFICATE_PUSHING (§7.8 b) */
  gboolean    accept_new_roots;        /* pushed chains may bring roots never seen (a cloud) */
  gboolean    tls;           /* HTTPS with the folder's own certificate,
                              * made on first use (morango-tls.h) */
} MorangoEngineServeOptions;

/* Starts serving the folder over HTTP (or HTTPS) on the engine's worker
 * thread. */
void      morango_engine_serve_async   (MorangoEngine                   *self,
                                        const MorangoEngineServeOptions *options,
                                        GCancellable                    *cancellable,
                                        GAsyncReadyCallback              callback,
                                        gpointer                         user_data);
gboolean  morango_engine_serve_finish  (MorangoEngine                   *self,
                                        GAsyncResult                    *result,
                                        GError                         **error);
/* While serving: the port (the real one when 0 was asked), 0 otherwise. */
guint     morango_engine_get_port      (MorangoEngine                   *self);
/* While serving: the base URLs the server is reached at
 * ("http://ADDRESS:PORT/"); for every interface, one per address of
 * this machine, loopback last.  NULL when not serving. */
GStrv     morango_engine_get_urls      (MorangoEngine                   *self);
/* Stops serving (transfers in flight on the server's workers finish).
 * Waits for the worker to let go of the port. */
void      morango_engine_stop_serving  (MorangoEngine                   *self);

/* While serving over HTTPS: the fingerprint of the certificate
 * ("SHA256:…", see morango-tls.h) that clients will be asked to
 * confirm; NULL otherwise. */
char     *morango_engine_dup_tls_fingerprint (MorangoEngine              *self);

/* ---- confirmations ---- */

/* What a pairing or a sync asks the user before it trusts something. */
typedef enum {
  /* First contact with a peer over HTTPS: its TLS certificate, known by
   * its fingerprint, becomes the one pinned for that peer. */
  MORANGO_ENGINE_CONFIRM_TLS_CERTIFICATE,
  /* Pairing: the peer's root certificate becomes a trust anchor. */
  MORANGO_ENGINE_CONFIRM_TRUST_ROOT,
} MorangoEngineConfirmKind;

#define MORANGO_TYPE_ENGINE_CONFIRMATION (morango_engine_confirmation_get_type ())
G_DECLARE_FINAL_TYPE (MorangoEngineConfirmation, morango_engine_confirmation,
                      MORANGO, ENGINE_CONFIRMATION, GObject)

/* A question, handed to a MorangoEngineConfirmFunc on the engine's main
 * context.  The operation waits until it is answered with
 * morango_engine_confirmation_reply(), at once or later (a dialog keeps
 * a reference until the user chooses), or until it is cancelled.  A
 * question dropped without an answer counts as a no. */
MorangoEngineConfirmKind morango_engine_confirmation_get_kind             (MorangoEngineConfirmation *self);
/* The peer's address. */
const char              *morango_engine_confirmation_get_url              (MorangoEngineConfirmation *self);
/* TLS_CERTIFICATE: the certificate's fingerprint ("SHA256:…", compare
 * it with what `morango serve --tls` printed on the peer).  TRUST_ROOT:
 * the root's public key fingerprint (morango_key_get_fingerprint()). */
const char              *morango_engine_confirmation_get_fingerprint      (MorangoEngineConfirmation *self);
/* TRUST_ROOT only (NULL otherwise): the root certificate's id, profile,
 * scope definition and scope parameters (a JSON object text). */
const char              *morango_engine_confirmation_get_root_id          (MorangoEngineConfirmation *self);
const char              *morango_engine_confirmation_get_profile          (MorangoEngineConfirmation *self);
const char              *morango_engine_confirmation_get_scope_definition (MorangoEngineConfirmation *self);
const char              *morango_engine_confirmation_get_scope_params     (MorangoEngineConfirmation *self);
/* The answer; from any thread; only the first counts. */
void                     morango_engine_confirmation_reply                (MorangoEngineConfirmation *self,
                                                                           gboolean                   accept);

typedef void (*MorangoEngineConfirmFunc) (MorangoEngineConfirmation *confirmation,
                                          gpointer                   user_data);

/* ---- pairing (§7.8 a and b) ---- */

typedef struct {
  const char *scope_definition;   /* required */
  JsonObject *params;             /* may be NULL; the parent's fill the gaps */
  const char *parent_id;          /* NULL: the peer's one certificate that can issue it
                                   * (with @push: this device's own one) */
  const char *username;           /* NULL: "admin" */
  const char *password;           /* required, unless @push */
  gboolean    push;               /* issue the peer a certificate instead (§7.8 b) */
  /* https:// only: the fingerprint the peer's TLS certificate must have
   * (any spelling morango_tls_fingerprint_normalize() takes); NULL: the
   * one pinned for that peer, or, at first contact, @confirm's answer. */
  const char *expect_fingerprint;
  /* May be NULL: a first HTTPS contact without @expect_fingerprint is
   * then refused, and the root is trusted without asking. */
  MorangoEngineConfirmFunc confirm;
  gpointer    confirm_data;
} MorangoEnginePairOptions;

/* Asks the peer at @url for a certificate, stores it with its chain and
 * trusts the chain's root.  Before the signing request, a root this
 * device does not trust yet is shown to @confirm (TRUST_ROOT); over
 * HTTPS, the peer's TLS certificate is checked against its pin first
 * (see the options).  The peer becomes known, paired, with that
 * certificate, and over HTTPS pinned.  MORANGO_ERROR_NOT_CONFIRMED when
 * the user said no, MORANGO_ERROR_PIN_MISMATCH when the peer presented
 * another TLS certificate than the one expected: nothing is stored then.
 * MORANGO_ERROR_AMBIGUOUS when @parent_id is NULL and the peer has
 * several certificates that could issue the scope: the error message
 * lists them.
 *
 * With @push, the other way round, for a peer that holds no root (a
 * cloud): this device issues the peer a certificate for the scope under
 * one of its own held with the private key (@parent_id, or the one that
 * can issue it; several: MORANGO_ERROR_AMBIGUOUS), for the peer's shared
 * key, and pushes it (morango_http_push()).  The peer becomes known,
 * paired, with the parent as this device's certificate and the pushed
 * one as the peer's in later syncs (correction 34).  Nothing is trusted
 * here: the root is this device's. */
void                 morango_engine_pair_async  (MorangoEngine                  *self,
                                                 const char                     *url,
                                                 const MorangoEnginePairOptions *options,
                                                 GCancellable                   *cancellable,
                                                 GAsyncReadyCallback             callback,
                                                 gpointer                        user_data);
/* The new certificate's id (with push: the one pushed). */
char                *morango_engine_pair_finish (MorangoEngine                  *self,
                                                 GAsyncResult                   *result,
                                                 GError                        **error);

/* ---- syncing ---- */

typedef struct {
  gboolean    push;          /* which transfer of the sync */
  const char *stage;         /* the stage's name: "serialize", "queue", "transfer", … */
  gint64      done;          /* records so far in that stage */
  gint64      total;         /* -1 when not known */
  gint64      bytes_sent;    /* on the wire since the sync began, both transfers */
  gint64      bytes_received;
} MorangoEngineProgress;

typedef void (*MorangoEngineProgressFunc) (const MorangoEngineProgress *progress,
                                           gpointer                     user_data);

typedef struct {
  gboolean     pull;                  /* both FALSE: pull then push */
  gboolean     push;
  const char  *certificate_id;        /* NULL: the one obtained from that peer */
  const char * const *filters;        /* NULL: what the certificates allow (§6.4) */
  guint        chunk_size;            /* 0: 500 */
  MorangoEngineProgressFunc progress; /* may be NULL; on the engine's main context */
  gpointer     progress_data;
  /* https:// only, as for pairing: the fingerprint expected (it becomes
   * the peer's pin), else the pin, else at first contact @confirm. */
  const char  *expect_fingerprint;
  MorangoEngineConfirmFunc confirm;   /* may be NULL */
  gpointer     confirm_data;
} MorangoEngineSyncOptions;

typedef struct {
  gint64 records_pulled;
  gint64 records_pushed;
  gint64 bytes_sent;
  gint64 bytes_received;
  double seconds;
  gboolean resumed;           /* continued a transfer an earlier run left */
} MorangoEngineSyncResult;

/* Syncs with the peer at @url: a pull, then a push, each continuing a
 * transfer an earlier run left unfinished with that peer (§9.8).  A
 * history entry records it.  Cancelling stops at once and leaves both
 * sides resumable.  Over HTTPS a peer whose certificate is not the one
 * pinned (or expected) is refused with MORANGO_ERROR_PIN_MISMATCH before
 * anything is sent. */
void      morango_engine_sync_async    (MorangoEngine                  *self,
                                        const char                     *url,
                                        const MorangoEngineSyncOptions *options,
                                        GCancellable                   *cancellable,
                                        GAsyncReadyCallback             callback,
                                        gpointer                        user_data);
gboolean  morango_engine_sync_finish   (MorangoEngine                  *self,
                                        GAsyncResult                   *result,
                                        MorangoEngineSyncResult        *out,
                                        GError                        **error);

/* ---- peers ---- */

/* The known peers, forgotten ones left out, in the order they were first
 * added: a GPtrArray of MorangoKnownPeer * that the array owns, read on
 * a thread with a connection of its own. */
void       morango_engine_list_peers_async  (MorangoEngine        *self,
                                             GCancellable         *cancellable,
                                             GAsyncReadyCallback   callback,
                                             gpointer              user_data);
GPtrArray *morango_engine_list_peers_finish (MorangoEngine        *self,
                                             GAsyncResult         *result,
                                             GError              **error);

G_END_DECLS
