/* morango-pair-dialog.h: pairing with a peer, step by step
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <adwaita.h>

#include "morango-engine.h"

G_BEGIN_DECLS

#define MORANGO_TYPE_PAIR_DIALOG (morango_pair_dialog_get_type ())
G_DECLARE_FINAL_TYPE (MorangoPairDialog, morango_pair_dialog, MORANGO, PAIR_DIALOG, AdwWindow)

/* A dialog that pairs this device (@engine) with the peer at @url; it
 * starts asking the peer once shown.  @parent may be NULL. */
MorangoPairDialog *morango_pair_dialog_new          (MorangoEngine     *engine,
                                                     const char        *url,
                                                     GtkWindow         *parent);
/* The page shown: "connecting", "credentials", "scope", "working",
 * "confirm", "done" or "failed". */
const char        *morango_pair_dialog_get_page     (MorangoPairDialog *self);
/* What the dialog says went wrong (NULL when nothing did). */
const char        *morango_pair_dialog_get_error    (MorangoPairDialog *self);
/* The certificate obtained, once paired; NULL before. */
const char        *morango_pair_dialog_get_certificate_id (MorangoPairDialog *self);

/* A failure of a pairing step in words a person understands: a wrong
 * password, no permission, an unreachable peer, a root not trusted, a
 * TLS pin that changed, too many attempts; else the engine's message. */
char              *morango_pair_dialog_describe_error (const GError    *error);

G_END_DECLS
