/* morango-queue-private.h: helpers shared by queuing and the DMC (morango-dmc.c)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

char *morango_prefix_upper_bound (const char *prefix);

G_END_DECLS
