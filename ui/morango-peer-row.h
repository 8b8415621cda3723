/* morango-peer-row.h: one known peer on the Peers page
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <adwaita.h>

#include "morango-engine.h"

G_BEGIN_DECLS

#define MORANGO_TYPE_PEER_ROW (morango_peer_row_get_type ())
G_DECLARE_FINAL_TYPE (MorangoPeerRow, morango_peer_row, MORANGO, PEER_ROW, AdwActionRow)

MorangoPeerRow         *morango_peer_row_new        (MorangoEngine          *engine,
                                                     const MorangoKnownPeer *peer);
const MorangoKnownPeer *morango_peer_row_get_peer   (MorangoPeerRow         *self);
/* A newer reading of the same peer (same id). */
void                    morango_peer_row_set_peer   (MorangoPeerRow         *self,
                                                     const MorangoKnownPeer *peer);
gboolean                morango_peer_row_is_syncing (MorangoPeerRow         *self);
/* Stops the sync running, if any; the engine leaves it resumable. */
void                    morango_peer_row_cancel     (MorangoPeerRow         *self);
/* The last sync's outcome as the toast said it; NULL before one. */
const char             *morango_peer_row_get_outcome (MorangoPeerRow        *self);
/* While syncing: records each way, bytes each way, time left. */
const char             *morango_peer_row_get_detail  (MorangoPeerRow        *self);

/* Where the row reads the time, in microseconds, to measure how long a
 * stage has run (for the time left): g_get_monotonic_time() unless set.
 * Tests set their own, before a sync, so that they can move it instead
 * of waiting. */
typedef gint64        (*MorangoPeerRowClock)         (gpointer               user_data);
/* @clock NULL goes back to the monotonic clock. */
void                    morango_peer_row_set_clock   (MorangoPeerRow        *self,
                                                      MorangoPeerRowClock    clock,
                                                      gpointer               user_data);

/* The time a stage still needs at the rate so far, @done of @total
 * records in @elapsed_usec: "about N s left" (rounded up) under 90 s,
 * "about N min left" (to the nearest minute) from there.  NULL while
 * the rate says nothing: under 2 s into the stage, no total, nothing
 * done yet or all of it done.  Free with g_free(). */
char                   *morango_peer_row_format_time_left (gint64            elapsed_usec,
                                                           gint64            done,
                                                           gint64            total);

G_END_DECLS
