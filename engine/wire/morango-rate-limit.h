/* morango-rate-limit.h: failed attempts counted per client address, so a password cannot be guessed
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* At most @max_failures failed attempts from one address within any
 * @window_usec (a sliding window); an attempt still under way counts as
 * failed until it ends, so that many sent at once are not all let
 * through while the first ones are checked.  A success does not wipe
 * the address's failures: someone who knows one account's password
 * could otherwise reset the count between guesses at another's.
 *
 * At most @max_addresses addresses are remembered: an address whose
 * failures have all left the window is forgotten first, then the one
 * whose last failure is the oldest.  Safe to use from several threads. */
typedef struct _MorangoRateLimit MorangoRateLimit;

MorangoRateLimit *morango_rate_limit_new            (guint              max_failures,
                                                     gint64             window_usec,
                                                     guint              max_addresses);
void              morango_rate_limit_free           (MorangoRateLimit  *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MorangoRateLimit, morango_rate_limit_free)

/* Whether an attempt from @address may begin at @now_usec (any clock
 * that only moves forward, the same for every call).  TRUE: it is under
 * way until morango_rate_limit_end().  FALSE: refused, and
 * *@retry_after_usec (may be NULL) is how long until one may begin. */
gboolean          morango_rate_limit_begin          (MorangoRateLimit  *self,
                                                     const char        *address,
                                                     gint64             now_usec,
                                                     gint64            *retry_after_usec);
/* Ends an attempt that morango_rate_limit_begin() let begin, as a
 * failure at @now_usec when @failed. */
void              morango_rate_limit_end            (MorangoRateLimit  *self,
                                                     const char        *address,
                                                     gint64             now_usec,
                                                     gboolean           failed);
/* How many addresses are remembered now. */
guint             morango_rate_limit_get_n_addresses (MorangoRateLimit *self);

/* The address a client's attempts are counted under, from the text of
 * its IP address: an IPv4 address as it is (also when it comes mapped
 * into IPv6), an IPv6 address as its /64 network, which one client
 * usually holds whole.  Text that is no IP address is kept as it is. */
char             *morango_rate_limit_address_key    (const char        *ip);

G_END_DECLS
