/* morango-scope-words.h: scopes and ids as a person reads them
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* @raw with each 32-hex-digit id cut to its first 8 digits and "…",
 * made valid UTF-8 (it may come from a peer). */
char *morango_shorten_ids    (const char *raw);
/* A scope in the user's language: "Full facility — facility 1a2b3c4d…"
 * for the known definitions and parameters, the raw names otherwise.
 * @params_json: the scope parameters (a JSON object text) or NULL. */
char *morango_scope_in_words (const char *definition,
                              const char *params_json);

G_END_DECLS
