/* morango-cli.c: the headless peer, `morango`
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gi18n.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "morango-cli.h"
#include "morango-store.h"

static const MorangoCliCommand commands[] = {
  { "cert", N_("certificates, keys and trust (create-root, list, show, export, import, trust, backup, restore)"), morango_cli_cert },
  { "status", N_("what this data folder holds: instance, profile, records, certificates, sessions"), morango_cli_status },
  { "peers", N_("the peers this device knows, with their last sync"), morango_cli_peers },
  { "cleanup", N_("remove finished and abandoned sync sessions and their buffers"), morango_cli_cleanup },
  { NULL, NULL, NULL },
};

/* Issue 13: text from outside never reaches a terminal raw. */
char *
morango_cli_safe (const char *text)
{
  GString *out;
  const char *p, *end;

  if (text == NULL)
    return g_strdup ("(null)");
  out = g_string_sized_new (strlen (text));
  p = text;
  end = text + strlen (text);
  while (p < end)
    {
      const char *valid_end;

      g_utf8_validate (p, end - p, &valid_end);
      while (p < valid_end)
        {
          gunichar c = g_utf8_get_char (p);
          const char *next = g_utf8_next_char (p);

          if (c < 0x20 || c == 0x7f)
            g_string_append_printf (out, "\\x%02x", c);
          else if (c >= 0x80 && c <= 0x9f)
            g_string_append_printf (out, "\\u{%02x}", c);
          else
            g_string_append_len (out, p, next - p);
          p = next;
        }
      if (p < end)
        g_string_append_printf (out, "\\x%02x", (guchar) *p++);
    }
  return g_string_free (out, FALSE);
}

char *
morango_cli_safe_json (const char *json)
{
  GString *out = g_string_sized_new (strlen (json));

  for (const char *p = json; *p; )
    {
      gunichar c = g_utf8_get_char_validated (p, -1);

      if (c == 0x7f || (c >= 0x80 && c <= 0x9f))
        {
          g_string_append_printf (out, "\\u%04x", c);
          p = g_utf8_next_char (p);
        }
      else
        g_string_append_c (out, *p++);
    }
  return g_string_free (out, FALSE);
}

char *
morango_cli_default_data_dir (void)
{
  return g_build_filename (g_get_user_data_dir (), "morango-sync", NULL);
}

static char *cli_description;   /* --description, before or after the command */

void
morango_cli_set_description (const char *description)
{
  g_free (cli_description);
  cli_description = g_strdup (description);
}

MorangoStore *
morango_cli_open_store (const char  *data_dir,
                        GError     **error)
{
  const char *env = g_getenv ("MORANGO_DESCRIPTION");
  const char *description = cli_description ? cli_description : (env && *env ? env : NULL);
  g_autoptr(MorangoHostInfo) host = morango_host_info_new_from_system ();
  g_autoptr(MorangoRandom) random = morango_random_new_secure ();
  MorangoStore *store;

  /* NULL: the folder's own description, or the default for a new one. */
  store = morango_store_open_folder (data_dir, description, host, random, error);
  if (store == NULL && description != NULL && error && *error &&
      g_error_matches (*error, MORANGO_ERROR, MORANGO_ERROR_UNKNOWN_PROFILE))
    g_prefix_error (error, "%s: ", cli_description ? "--description" : "MORANGO_DESCRIPTION");
  return store;
}

static void
print_usage (FILE *out)
{
  fprintf (out,
           _("Usage: morango [--data-dir DIR] COMMAND [ARGS…]\n"
             "\n"
             "The Morango Sync peer without a display: for servers and scripts.\n"
             "\n"
             "Options:\n"
             "  --data-dir DIR   where the database and keys live\n"
             "                   (default: $XDG_DATA_HOME/morango-sync)\n"
             "  --description NAME\n"
             "                   profile description of a new data folder (default:\n"
             "                   $MORANGO_DESCRIPTION, else kolibri-like); an existing\n"
             "                   folder holding another is refused\n"
             "  --help           show this help\n"
             "  --version        print the version\n"
             "\n"
             "Commands:\n"));
  for (guint i = 0; commands[i].name != NULL; i++)
    fprintf (out, "  %-16s %s\n", commands[i].name, _(commands[i].summary));
  fprintf (out, _("\nRun “morango COMMAND --help” for a command's own options.\n"));
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *data_dir = NULL;
  int i;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  /* Global options come before the command; --data-dir is also accepted
   * after it, so each command handles its own copy as well. */
  for (i = 1; i < argc; i++)
    {
      if (g_str_equal (argv[i], "--help") || g_str_equal (argv[i], "-h"))
        {
          print_usage (stdout);
          return MORANGO_EXIT_OK;
        }
      else if (g_str_equal (argv[i], "--version"))
        {
          printf ("morango %s\n", PACKAGE_VERSION);
          return MORANGO_EXIT_OK;
        }
      else if (g_str_equal (argv[i], "--data-dir") && i + 1 < argc)
        {
          g_free (data_dir);
          data_dir = g_strdup (argv[++i]);
        }
      else if (g_str_has_prefix (argv[i], "--data-dir="))
        {
          g_free (data_dir);
          data_dir = g_strdup (argv[i] + strlen ("--data-dir="));
        }
      else if (g_str_equal (argv[i], "--description") && i + 1 < argc)
        morango_cli_set_description (argv[++i]);
      else if (g_str_has_prefix (argv[i], "--description="))
        morango_cli_set_description (argv[i] + strlen ("--description="));
      else if (argv[i][0] == '-')
        {
          g_autofree char *safe = morango_cli_safe (argv[i]);

          fprintf (stderr, _("morango: unknown option “%s”\n"), safe);
          print_usage (stderr);
          return MORANGO_EXIT_USAGE;
        }
      else
        break;
    }

  if (i >= argc)
    {
      print_usage (stderr);
      return MORANGO_EXIT_USAGE;
    }

  for (guint c = 0; commands[c].name != NULL; c++)
    if (g_str_equal (commands[c].name, argv[i]))
      {
        if (data_dir == NULL)
          data_dir = morango_cli_default_data_dir ();
        return commands[c].run (data_dir, argc - i, argv + i);
      }

  {
    g_autofree char *safe = morango_cli_safe (argv[i]);

    fprintf (stderr, _("morango: unknown command “%s”\n"), safe);
  }
  print_usage (stderr);
  return MORANGO_EXIT_USAGE;
}
