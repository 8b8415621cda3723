/* morango-queue-private.h: helpers shared by queuing and the DMC (morango-dmc.c)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

char *morango_prefix_upper_bound (const char *prefix);

/* How many rows a receiver's FSIC looks at, on each side, to tell
 * whether a DMC row is relevant before it falls back to one pass over
 * the filter's records (morango-dmc.c).  0 turns the look-ups off;
 * MORANGO_FSIC_PROBE_LIMIT_DEFAULT puts the default back.  For tests,
 * which compare every setting on the same stores. */
#define MORANGO_FSIC_PROBE_LIMIT_DEFAULT 1024
void  morango_store_fsic_set_probe_limit (guint rows);
/* How many DMC rows one FSIC asks those look-ups about before it makes
 * the pass anyway; MORANGO_FSIC_PROBE_ROWS_DEFAULT puts the default
 * back.  For tests, which switch over in the middle of a DMC. */
#define MORANGO_FSIC_PROBE_ROWS_DEFAULT 64
void  morango_store_fsic_set_probe_rows  (guint dmc_rows);

G_END_DECLS
