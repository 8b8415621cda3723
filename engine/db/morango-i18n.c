/* morango-i18n.c: the engine's gettext domain
 *
 * SPDX-License-Identifier: MIT
 */
#include "morango-i18n-private.h"

#include <locale.h>

/* Set while this thread answers a peer: what goes on the wire stays in
 * English whatever the language of the person running the server. */
static GPrivate wire_thread;

/* GLib itself binds its domain lazily on the first translated string
 * for the same reason: a library cannot count on a single entry point,
 * and binding twice is harmless but not free. */
void
morango_i18n_init (void)
{
  static gsize bound = 0;

  if (g_once_init_enter (&bound))
    {
      const char *dir = g_getenv ("MORANGO_LOCALEDIR");

      /* MORANGO_LOCALEDIR: the build tree's catalogues (build/locale),
       * so that an uninstalled run can be translated. */
      bindtextdomain (GETTEXT_PACKAGE, dir != NULL && *dir != '\0' ? dir : LOCALEDIR);
      /* GError messages are UTF-8 whatever the locale's charset. */
      bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
      g_once_init_leave (&bound, 1);
    }
}

const char *
morango_gettext (const char *msgid)
{
  if (g_private_get (&wire_thread) != NULL)
    return msgid;
  morango_i18n_init ();
  return g_dgettext (GETTEXT_PACKAGE, msgid);
}

const char *
morango_ngettext (const char *msgid,
                  const char *msgid_plural,
                  gulong      n)
{
  if (g_private_get (&wire_thread) != NULL)
    return n == 1 ? msgid : msgid_plural;
  morango_i18n_init ();
  return g_dngettext (GETTEXT_PACKAGE, msgid, msgid_plural, n);
}

/* Whether messages made on this thread are for a peer: a thread started
 * to do part of the work passes it on. */
gboolean
morango_i18n_is_wire_thread (void)
{
  return g_private_get (&wire_thread) != NULL;
}

/* Messages made on this thread from now on are (wire) or are not
 * translated; returns the previous setting so a caller can restore it. */
gboolean
morango_i18n_set_wire_thread (gboolean wire)
{
  gboolean was = g_private_get (&wire_thread) != NULL;

  g_private_set (&wire_thread, wire ? GINT_TO_POINTER (1) : NULL);
  return was;
}
