/* morango-known-peer-private.h: what the peers and the history share
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* @reason (may be NULL) as a user may read it later: valid UTF-8 (it
 * may quote a server's bytes) and at most MORANGO_PEER_REASON_MAX
 * bytes. */
char *morango_known_peer_clean_reason (const char *reason);

G_END_DECLS
