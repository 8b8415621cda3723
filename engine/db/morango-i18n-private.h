/* morango-i18n-private.h: the engine's messages in its own gettext domain
 *
 * Included by engine sources only, never from a public header: it
 * replaces gi18n-lib.h's _() so the programs keep their own.
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <glib.h>
#include <glib/gi18n-lib.h>

G_BEGIN_DECLS

void        morango_i18n_init           (void);
const char *morango_gettext             (const char *msgid) G_GNUC_FORMAT (1);
const char *morango_ngettext            (const char *msgid,
                                         const char *msgid_plural,
                                         gulong      n) G_GNUC_FORMAT (1) G_GNUC_FORMAT (2);
gboolean    morango_i18n_set_wire_thread (gboolean    wire);
gboolean    morango_i18n_is_wire_thread  (void);

G_END_DECLS

/* Every translated message goes through morango_gettext(), which binds
 * the domain on first use: the engine has many entry points (a store,
 * a certificate, a server) and none of them all programs pass through. */
#undef _
#define _(String) morango_gettext (String)
