/* morango-cli.c: the headless peer, `morango`
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gi18n.h>
#include <locale.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

#include "morango-cli.h"
#include "morango-profile.h"
#include "morango-store.h"

static const MorangoCliCommand commands[] = {
  { "cert", N_("certificates, keys and trust (create-root, list, show, export, import, trust, backup, restore)"), morango_cli_cert },
  { "serve", N_("serve this data folder to peers over HTTP"), morango_cli_serve },
  { "pair", N_("ask a peer for a certificate, the first step to sync with it"), morango_cli_pair },
  { "sync", N_("sync with a paired peer: pull, then push"), morango_cli_sync },
  { "data", N_("application rows as JSON lines (import, export, count)"), morango_cli_data },
  { "status", N_("what this data folder holds: instance, profile, records, certificates, sessions"), morango_cli_status },
  { "peers", N_("the peers this device knows, with their last sync"), morango_cli_peers },
  { "cleanup", N_("remove finished and abandoned sync sessions and their buffers"), morango_cli_cleanup },
  { "account", N_("who may pair with this device (add, list, remove, passwd)"), morango_cli_account },
  { NULL, NULL, NULL },
};

void
morango_cli_print_label (const char *label,
                         guint       width)
{
  glong length = g_utf8_strlen (label, -1);

  fputs (label, stdout);
  for (glong i = length; i < (glong) width; i++)
    putchar (' ');
}

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
          /* Bidirectional overrides and line separators reorder or
           * break what is shown around them. */
          else if (c == 0x200e || c == 0x200f || (c >= 0x202a && c <= 0x202e) ||
                   (c >= 0x2066 && c <= 0x2069) || c == 0x2028 || c == 0x2029)
            g_string_append_printf (out, "\\u{%04x}", c);
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

/* The terminal as it was before echo went off, for a signal that ends
 * the program at the prompt. */
static struct termios saved_terminal;
static volatile sig_atomic_t terminal_quiet;

static void
restore_terminal_and_die (int signum)
{
  /* Only async-signal-safe calls here. */
  if (terminal_quiet)
    tcsetattr (STDIN_FILENO, TCSANOW, &saved_terminal);
  signal (signum, SIG_DFL);
  raise (signum);
}

static const int prompt_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

/* One line typed without echo; Ctrl+C (or any other way the program is
 * ended meanwhile) gives the terminal back as it was. */
gboolean
morango_cli_read_quietly (const char *prompt,
              char       *line,
              size_t      size)
{
  struct sigaction quiet_action = { 0 }, old_actions[G_N_ELEMENTS (prompt_signals)];
  struct termios quiet;
  char *got;

  if (tcgetattr (STDIN_FILENO, &saved_terminal) != 0)
    {
      fputs (prompt, stderr);
      fflush (stderr);
      return fgets (line, size, stdin) != NULL;
    }
  quiet_action.sa_handler = restore_terminal_and_die;
  sigemptyset (&quiet_action.sa_mask);
  for (guint i = 0; i < G_N_ELEMENTS (prompt_signals); i++)
    sigaction (prompt_signals[i], &quiet_action, &old_actions[i]);
  quiet = saved_terminal;
  quiet.c_lflag &= ~ECHO;
  terminal_quiet = 1;
  tcsetattr (STDIN_FILENO, TCSANOW, &quiet);
  /* Echo goes off before the prompt shows: nothing typed after it is
   * seen. */
  fputs (prompt, stderr);
  fflush (stderr);
  got = fgets (line, size, stdin);
  tcsetattr (STDIN_FILENO, TCSANOW, &saved_terminal);
  terminal_quiet = 0;
  for (guint i = 0; i < G_N_ELEMENTS (prompt_signals); i++)
    sigaction (prompt_signals[i], &old_actions[i], NULL);
  fputc ('\n', stderr);
  return got != NULL;
}

char *
morango_cli_read_secret (const char  *file,
                         const char  *prompt,
                         const char  *again_prompt,
                         const char  *differ,
                         GError     **error)
{
  char line[1024], again[1024];
  char *secret = NULL;

  if (file != NULL)
    {
      char *text = NULL;

      if (!g_file_get_contents (file, &text, NULL, error))
        return NULL;
      text[strcspn (text, "\r\n")] = '\0';
      secret = g_strdup (text);
      explicit_bzero (text, strlen (text));
      g_free (text);
      return secret;
    }
  /* Never a prompt when nobody is there to answer. */
  if (!isatty (STDIN_FILENO) || !morango_cli_read_quietly (prompt, line, sizeof line))
    return NULL;
  line[strcspn (line, "\r\n")] = '\0';
  if (again_prompt == NULL)
    secret = g_strdup (line);
  else if (morango_cli_read_quietly (again_prompt, again, sizeof again))
    {
      again[strcspn (again, "\r\n")] = '\0';
      if (g_str_equal (line, again))
        secret = g_strdup (line);
      else
        g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_INVALID, differ);
      explicit_bzero (again, sizeof again);
    }
  explicit_bzero (line, sizeof line);
  return secret;
}

gboolean
morango_cli_take_param (const char  *option_name,
                        const char  *value,
                        JsonObject **params,
                        GError     **error)
{
  const char *eq = strchr (value, '=');
  g_autofree char *key = NULL;

  if (eq == NULL || eq == value)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("%s needs KEY=VALUE, not “%s”"), option_name, value);
      return FALSE;
    }
  key = g_strndup (value, eq - value);
  if (*params == NULL)
    *params = json_object_new ();
  /* The last one would win without a word. */
  if (json_object_has_member (*params, key))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("%s %s is given twice"), option_name, key);
      return FALSE;
    }
  json_object_set_string_member (*params, key, eq + 1);
  return TRUE;
}

int
morango_cli_exit_code (const GError *error)
{
  if ((error->domain == G_FILE_ERROR && error->code == G_FILE_ERROR_NOENT) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    return MORANGO_EXIT_NOTFOUND;
  if (error->domain != MORANGO_ERROR)
    return MORANGO_EXIT_FAILURE;
  switch (error->code)
    {
    case MORANGO_ERROR_NOT_FOUND:
      return MORANGO_EXIT_NOTFOUND;
    case MORANGO_ERROR_AMBIGUOUS:
      return MORANGO_EXIT_USAGE;
    case MORANGO_ERROR_INVALID:
    case MORANGO_ERROR_UNKNOWN_SCOPE_DEFINITION:
    case MORANGO_ERROR_CERT_ID_INVALID:
    case MORANGO_ERROR_CERT_SIGNATURE_INVALID:
    case MORANGO_ERROR_CERT_ROOT_SCOPE_INVALID:
    case MORANGO_ERROR_CERT_SCOPE_NOT_SUBSET:
    case MORANGO_ERROR_CERT_PROFILE_INVALID:
    case MORANGO_ERROR_CERT_PARENT_MISSING:
    case MORANGO_ERROR_CERT_CHAIN_INVALID:
    case MORANGO_ERROR_CERT_CONFLICT:
    case MORANGO_ERROR_CERT_UNTRUSTED:
    case MORANGO_ERROR_KEY_INVALID:
    case MORANGO_ERROR_NONCE_INVALID:
    case MORANGO_ERROR_RECORD_REJECTED:
    case MORANGO_ERROR_PERMISSION_DENIED:
    case MORANGO_ERROR_PIN_MISMATCH:
    case MORANGO_ERROR_NOT_CONFIRMED:
      return MORANGO_EXIT_REFUSED;
    default:
      return MORANGO_EXIT_FAILURE;
    }
}

int
morango_cli_fail (const char   *command,
                  const GError *error)
{
  /* Engine messages quote file names, certificate fields and what
   * peers sent. */
  g_autofree char *safe = morango_cli_safe (error->message);

  fprintf (stderr, "morango %s: %s\n", command, safe);
  return morango_cli_exit_code (error);
}

char *
morango_cli_default_data_dir (void)
{
  return g_build_filename (g_get_user_data_dir (), "morango-sync", NULL);
}

/* --data-dir and --description, before or after the command: the last
 * one given wins. */
static char *cli_data_dir;
static char *cli_description;

void
morango_cli_set_description (const char *description)
{
  g_free (cli_description);
  cli_description = g_strdup (description);
}

static gboolean
take_data_dir (const char  *option_name,
               const char  *value,
               gpointer     data,
               GError     **error)
{
  if (*value == '\0')
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("%s needs a directory"), option_name);
      return FALSE;
    }
  g_free (cli_data_dir);
  cli_data_dir = g_strdup (value);
  return TRUE;
}

static gboolean
take_description (const char  *option_name,
                  const char  *value,
                  gpointer     data,
                  GError     **error)
{
  if (*value == '\0')
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("%s needs a description name"), option_name);
      return FALSE;
    }
  morango_cli_set_description (value);
  return TRUE;
}

static const GOptionEntry folder_entries[] = {
  { "data-dir", 0, 0, G_OPTION_ARG_CALLBACK, take_data_dir,
    N_("Where the database and keys live (default: $XDG_DATA_HOME/morango-sync)"), N_("DIR") },
  { "description", 0, 0, G_OPTION_ARG_CALLBACK, take_description,
    N_("Profile description of a new data folder (default: $MORANGO_DESCRIPTION, else "
       "kolibri-like); an existing folder holding another is refused"), N_("NAME") },
  { NULL }
};

const char *
morango_cli_get_data_dir (void)
{
  if (cli_data_dir == NULL)
    cli_data_dir = morango_cli_default_data_dir ();
  return cli_data_dir;
}

/* The description a new folder would get. */
static const char *
wanted_description (void)
{
  const char *env = g_getenv ("MORANGO_DESCRIPTION");

  if (cli_description)
    return cli_description;
  return env && *env ? env : NULL;
}

MorangoStore *
morango_cli_open_store (const char  *data_dir,
                        GError     **error)
{
  const char *description = wanted_description ();
  g_autoptr(MorangoHostInfo) host = morango_host_info_new_from_system ();
  g_autoptr(MorangoRandom) random = morango_random_new_secure ();
  MorangoStore *store;

  /* A --data-dir given after the command wins over the one before it. */
  if (cli_data_dir)
    data_dir = cli_data_dir;
  /* NULL: the folder's own description, or the default for a new one. */
  store = morango_store_open_folder (data_dir, description, host, random, error);
  if (store == NULL && description != NULL && error && *error &&
      g_error_matches (*error, MORANGO_ERROR, MORANGO_ERROR_UNKNOWN_PROFILE))
    g_prefix_error (error, "%s: ", cli_description ? "--description" : "MORANGO_DESCRIPTION");
  return store;
}

GPtrArray *
morango_cli_scope_definitions (char   **description,
                               GError **error)
{
  g_autofree char *db_path = g_build_filename (morango_cli_get_data_dir (), MORANGO_STORE_FOLDER_DB, NULL);
  g_autoptr(MorangoProfile) profile = NULL;
  GPtrArray *defs, *out;

  /* An existing folder names its own description; a new one is not
   * made just to answer. */
  if (g_file_test (db_path, G_FILE_TEST_EXISTS))
    {
      g_autoptr(MorangoStore) store = morango_cli_open_store (NULL, error);

      if (store == NULL)
        return NULL;
      profile = g_object_ref (morango_store_get_profile (store));
    }
  else
    {
      const char *name = wanted_description ();

      profile = morango_profile_new_by_name (name ? name : MORANGO_STORE_DEFAULT_DESCRIPTION, error);
      if (profile == NULL)
        return NULL;
    }
  if (description)
    *description = g_strdup (morango_profile_get_description_id (profile));
  defs = morango_profile_get_scope_definitions (profile);
  out = g_ptr_array_new_with_free_func ((GDestroyNotify) morango_scope_definition_free);
  for (guint i = 0; defs && i < defs->len; i++)
    g_ptr_array_add (out, morango_scope_definition_copy (g_ptr_array_index (defs, i)));
  return out;
}

char *
morango_cli_describe_scopes (void)
{
  g_autoptr(GPtrArray) defs = NULL;
  g_autofree char *description = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *safe_description = NULL;
  GString *text;

  defs = morango_cli_scope_definitions (&description, &error);
  if (defs == NULL)
    {
      g_autofree char *safe = morango_cli_safe (error->message);

      return g_strdup_printf (_("The scope definitions are not known: %s"), safe);
    }
  safe_description = morango_cli_safe (description);
  text = g_string_new (NULL);
  g_string_append_printf (text, _("Scope definitions of this folder's profile (%s):"), safe_description);
  for (guint i = 0; i < defs->len; i++)
    {
      MorangoScopeDefinition *def = g_ptr_array_index (defs, i);
      g_autofree char *id = morango_cli_safe (def->id);

      g_string_append_printf (text, "\n  %-16s %s", id,
                              def->primary_scope_param_key && *def->primary_scope_param_key
                                ? _("(can be a root)") : "");
    }
  return g_string_free (text, FALSE);
}

int
morango_cli_usage_error (const char *command,
                         const char *format,
                         ...)
{
  g_autofree char *message = NULL;
  g_autofree char *safe = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  safe = morango_cli_safe (message);
  fprintf (stderr, "morango%s%s: %s\n", command ? " " : "", command ? command : "", safe);
  fprintf (stderr, _("Try “morango%s%s --help”.\n"), command ? " " : "", command ? command : "");
  return MORANGO_EXIT_USAGE;
}

GOptionContext *
morango_cli_context_new (const char         *parameter_string,
                         const char         *summary,
                         const GOptionEntry *entries,
                         gpointer            user_data)
{
  GOptionContext *context = g_option_context_new (parameter_string);
  GOptionGroup *main_group = g_option_group_new (NULL, NULL, NULL, user_data, NULL);

  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  /* --help is ours: it may need the folder named after it. */
  g_option_context_set_help_enabled (context, FALSE);
  if (summary)
    g_option_context_set_summary (context, summary);
  g_option_group_set_translation_domain (main_group, GETTEXT_PACKAGE);
  if (entries)
    g_option_group_add_entries (main_group, entries);
  g_option_group_add_entries (main_group, folder_entries);
  g_option_context_set_main_group (context, main_group);
  return context;
}

static gboolean
wants_help (int    argc,
            char **argv)
{
  for (int i = 1; i < argc; i++)
    {
      if (g_str_equal (argv[i], "--"))
        break;
      if (g_str_equal (argv[i], "--help") || g_str_equal (argv[i], "-h"))
        return TRUE;
    }
  return FALSE;
}

int
morango_cli_parse (GOptionContext *context,
                   const char     *command,
                   const char     *help_extra,
                   int            *argc,
                   char         ***argv)
{
  g_autoptr(GError) error = NULL;

  if (wants_help (*argc, *argv))
    {
      g_autofree char *prgname = g_strdup_printf ("morango %s", command);
      g_autofree char *help = NULL;
      g_autofree char *extra = NULL;

      /* The folder options still count, so the help can describe the
       * right folder; anything else on the line is ignored. */
      g_option_context_set_ignore_unknown_options (context, TRUE);
      g_option_context_parse (context, argc, argv, NULL);
      g_set_prgname (prgname);
      if (help_extra && g_str_equal (help_extra, MORANGO_CLI_HELP_SCOPES))
        extra = morango_cli_describe_scopes ();
      else if (help_extra)
        extra = g_strdup (help_extra);
      if (extra)
        g_option_context_set_description (context, extra);
      help = g_option_context_get_help (context, TRUE, NULL);
      fputs (help, stdout);
      return MORANGO_EXIT_OK;
    }
  if (!g_option_context_parse (context, argc, argv, &error))
    return morango_cli_usage_error (command, "%s", error->message);
  return -1;
}

static const GOptionEntry main_entries[] = {
  { "version", 0, 0, G_OPTION_ARG_NONE, NULL, N_("Print the version"), NULL },
  { NULL }
};

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GString) commands_help = g_string_new (NULL);
  const char *localedir;
  gboolean version = FALSE;
  GOptionEntry entries[G_N_ELEMENTS (main_entries)];

  setlocale (LC_ALL, "");
  /* MORANGO_LOCALEDIR: the build tree's catalogues, for translated runs
   * before installing (tests, screenshots); the engine reads it too. */
  localedir = g_getenv ("MORANGO_LOCALEDIR");
  bindtextdomain (GETTEXT_PACKAGE, localedir != NULL && *localedir != '\0' ? localedir : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  g_set_prgname ("morango");

  memcpy (entries, main_entries, sizeof entries);
  entries[0].arg_data = &version;
  g_string_append (commands_help, _("Commands:"));
  for (guint i = 0; commands[i].name != NULL; i++)
    g_string_append_printf (commands_help, "\n  %-10s %s", commands[i].name, _(commands[i].summary));
  g_string_append (commands_help, "\n\n");
  g_string_append (commands_help, _("Run “morango COMMAND --help” for a command's own options."));
  g_string_append (commands_help, "\n\n");
  g_string_append (commands_help, _("Exit status: 0 done, 1 failed, 2 bad command line, 3 refused "
                                    "(invalid, untrusted or conflicting input), 4 not found."));

  context = morango_cli_context_new (_("COMMAND [ARGS…]"),
                                     _("The Morango Sync peer without a display: for servers and scripts."),
                                     entries, NULL);
  /* Options after the command belong to the command. */
  g_option_context_set_strict_posix (context, TRUE);
  g_option_context_set_description (context, commands_help->str);

  /* Only what comes before the command decides whether this is a
   * request for the program's own help. */
  {
    int n = 1;

    while (n < argc && argv[n][0] == '-' && !g_str_equal (argv[n], "--"))
      n++;
    if (wants_help (n, argv))
      {
        g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);

        fputs (help, stdout);
        return MORANGO_EXIT_OK;
      }
  }
  {
    g_autoptr(GError) error = NULL;

    if (!g_option_context_parse (context, &argc, &argv, &error))
      return morango_cli_usage_error (NULL, "%s", error->message);
  }
  if (version)
    {
      printf ("morango %s\n", PACKAGE_VERSION);
      return MORANGO_EXIT_OK;
    }
  if (argc < 2)
    return morango_cli_usage_error (NULL, _("a command is needed"));

  for (guint c = 0; commands[c].name != NULL; c++)
    if (g_str_equal (commands[c].name, argv[1]))
      return commands[c].run (morango_cli_get_data_dir (), argc - 1, argv + 1);

  return morango_cli_usage_error (NULL, _("unknown command “%s”"), argv[1]);
}
