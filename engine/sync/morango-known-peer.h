/* morango-known-peer.h: the peers this device knows
 *
 * SPDX-License-Identifier: MIT
 *
 * Every peer this device has been told about or has synced with: the
 * servers it syncs with as a client (known by address) and the clients
 * that synced with its own server (known by instance id, often with no
 * address).  Local bookkeeping, never on the wire.  Times are
 * microseconds since the epoch (UTC), as g_get_real_time() gives them,
 * passed in by the caller so that tests choose the clock; 0 is "never".
 */
#pragma once

#include "morango-store.h"

G_BEGIN_DECLS

typedef enum {
  MORANGO_PEER_STATE_ADDED,      /* told about, not paired yet */
  MORANGO_PEER_STATE_PAIRED,     /* holds a certificate for it */
  MORANGO_PEER_STATE_SYNCED,     /* at least one sync succeeded */
  MORANGO_PEER_STATE_FORGOTTEN,  /* the user forgot it; its history stays */
} MorangoPeerState;

const char *morango_peer_state_to_string   (MorangoPeerState  state);
gboolean    morango_peer_state_from_string (const char       *text,
                                            MorangoPeerState *state);

/* How this device met the peer; a device can be both. */
typedef enum {
  MORANGO_PEER_ROLE_NONE   = 0,
  MORANGO_PEER_ROLE_SERVER = 1 << 0,   /* we sync with it as its client */
  MORANGO_PEER_ROLE_CLIENT = 1 << 1,   /* it synced with our server */
} MorangoPeerRoles;

typedef struct {
  char             *id;                     /* local id, 32 hex digits */
  char             *address;                /* normalised URL; NULL when never given one */
  char             *instance_id;            /* NULL when not known */
  MorangoPeerRoles  roles;
  MorangoPeerState  state;
  char             *client_certificate_id;  /* of the last pairing or sync; NULL: none */
  char             *server_certificate_id;
  gint64            added;
  gint64            last_success;
  gint64            last_failure;
  char             *last_failure_reason;    /* NULL unless it failed once */
  char             *tls_fingerprint;        /* over HTTPS: the pinned certificate
                                             * (morango-tls.h); NULL: none */
} MorangoKnownPeer;

#define MORANGO_TYPE_KNOWN_PEER (morango_known_peer_get_type ())
GType             morango_known_peer_get_type (void) G_GNUC_CONST;
MorangoKnownPeer *morango_known_peer_copy     (const MorangoKnownPeer *peer);
void              morango_known_peer_free     (MorangoKnownPeer       *peer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MorangoKnownPeer, morango_known_peer_free)

/* The one spelling of a peer's base URL, so that one server is one peer:
 * "http://" when no scheme is given (http and https only), scheme and
 * host in lower case, the scheme's default port dropped, percent
 * escapes made canonical, a path ending in "/".  A user name or
 * password, a query or a fragment, control characters, or more than
 * MORANGO_PEER_ADDRESS_MAX bytes are refused (MORANGO_ERROR_INVALID). */
#define MORANGO_PEER_ADDRESS_MAX 1000
char             *morango_peer_address_normalize (const char  *address,
                                                  GError     **error);

/* Adds the server at @address (normalised first) and returns it.  The
 * same address again returns the peer already known, unchanged, except
 * that a forgotten one comes back as added, keeping its history. */
MorangoKnownPeer *morango_known_peer_add          (MorangoStore  *store,
                                                   const char    *address,
                                                   gint64         now,
                                                   GError       **error);
/* Each returns NULL with MORANGO_ERROR_NOT_FOUND when there is no such
 * peer; forgotten peers are found too. */
MorangoKnownPeer *morango_known_peer_lookup       (MorangoStore  *store,
                                                   const char    *id,
                                                   GError       **error);
MorangoKnownPeer *morango_known_peer_lookup_address (MorangoStore *store,
                                                     const char   *address,
                                                     GError      **error);
/* Several addresses may lead to one instance: the peer not forgotten
 * and most recently heard from wins. */
MorangoKnownPeer *morango_known_peer_lookup_instance (MorangoStore *store,
                                                      const char   *instance_id,
                                                      GError      **error);

gboolean          morango_known_peer_set_state    (MorangoStore     *store,
                                                   const char       *id,
                                                   MorangoPeerState  state,
                                                   GError          **error);
/* What the peer said it is (morangoinfo); 32 hex digits. */
gboolean          morango_known_peer_set_instance_id (MorangoStore  *store,
                                                      const char    *id,
                                                      const char    *instance_id,
                                                      GError       **error);
/* The certificates of a pairing or a sync; NULL leaves one as it is. */
gboolean          morango_known_peer_set_certificates (MorangoStore *store,
                                                       const char   *id,
                                                       const char   *client_certificate_id,
                                                       const char   *server_certificate_id,
                                                       GError      **error);
/* Pins the TLS certificate of @fingerprint (canonical, see
 * morango_tls_fingerprint_normalize()) to the peer: its server must
 * present that one from now on.  NULL drops the pin. */
gboolean          morango_known_peer_set_tls_fingerprint (MorangoStore *store,
                                                          const char   *id,
                                                          const char   *fingerprint,
                                                          GError      **error);
/* A sync that succeeded: the time, and the state becomes synced (a
 * forgotten peer that syncs again is known again). */
gboolean          morango_known_peer_record_success (MorangoStore  *store,
                                                     const char    *id,
                                                     gint64         now,
                                                     GError       **error);
/* A sync that failed: the time and why, for the user to read (kept
 * valid UTF-8, at most MORANGO_PEER_REASON_MAX bytes).  The state stays. */
#define MORANGO_PEER_REASON_MAX 1000
gboolean          morango_known_peer_record_failure (MorangoStore  *store,
                                                     const char    *id,
                                                     gint64         now,
                                                     const char    *reason,
                                                     GError       **error);
/* A client that synced with our server: found by @instance_id, or added
 * without an address; it counts as a success of that peer.  The
 * certificate ids may be NULL.  Returns the peer. */
MorangoKnownPeer *morango_known_peer_record_client  (MorangoStore  *store,
                                                     const char    *instance_id,
                                                     const char    *client_certificate_id,
                                                     const char    *server_certificate_id,
                                                     gint64         now,
                                                     GError       **error);
/* Sets the state to forgotten; the row and its history stay, for when
 * the peer is added or syncs again. */
gboolean          morango_known_peer_forget         (MorangoStore  *store,
                                                     const char    *id,
                                                     GError       **error);
/* Every peer, in the order they were first added (MorangoKnownPeer *,
 * owned by the array); forgotten ones only with @include_forgotten. */
GPtrArray        *morango_known_peer_list           (MorangoStore  *store,
                                                     gboolean       include_forgotten,
                                                     GError       **error);

G_END_DECLS
