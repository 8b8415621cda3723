/* morango-cli-account.c: `morango account …`, who may ask this device for certificates
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "morango-account.h"
#include "morango-cli.h"
#include "morango-store.h"

/* What the subcommands' options hold. */
typedef struct {
  char **scopes;
  char  *password_file;
} AccountOptions;

static void
account_options_clear (AccountOptions *o)
{
  g_clear_pointer (&o->scopes, g_strfreev);
  g_clear_pointer (&o->password_file, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (AccountOptions, account_options_clear)

enum {
  OPT_SCOPE    = 1 << 0,
  OPT_PASSWORD = 1 << 1,
};

typedef struct {
  const char *name;
  const char *params;     /* positional arguments, for --help */
  const char *summary;
  guint       options;
  guint       n_args;
  int       (*run) (const char *command, AccountOptions *o, char **args);
} AccountCommand;

/* Whether the folder has a database yet: reading commands create
 * nothing for a folder that does not exist. */
static gboolean
folder_exists (void)
{
  g_autofree char *path = g_build_filename (morango_cli_get_data_dir (), MORANGO_STORE_FOLDER_DB, NULL);

  return g_file_test (path, G_FILE_TEST_EXISTS);
}

static void
wipe (char *secret)
{
  if (secret != NULL)
    explicit_bzero (secret, strlen (secret));
}

/* The new password: the first line of @file, or typed twice on a
 * terminal.  NULL with the exit code in *@rc when there is none. */
static char *
read_password (const char *command,
               const char *name,
               const char *file,
               int        *rc)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *safe = morango_cli_safe (name);
  g_autofree char *prompt = g_strdup_printf (_("New password for %s: "), safe);
  char *password;

  if (file == NULL && !isatty (STDIN_FILENO))
    {
      *rc = morango_cli_usage_error (command, _("no password: give --password-file F (standard input "
                                                "is not a terminal)"));
      return NULL;
    }
  password = morango_cli_read_secret (file, prompt, _("Again: "),
                                      _("the two passwords differ; nothing changed"), &error);
  if (password == NULL)
    {
      /* A file that cannot be read, or two typed passwords that differ
       * (refused, 3). */
      *rc = error != NULL ? morango_cli_fail (command, error)
                          : morango_cli_usage_error (command, _("no password given"));
      return NULL;
    }
  if (*password == '\0')
    {
      g_free (password);
      *rc = morango_cli_usage_error (command, _("the password is empty"));
      return NULL;
    }
  return password;
}

/* Each --scope is "*" or a scope definition this folder knows: its
 * profile's, or one stored with a certificate. */
static int
check_scopes (const char  *command,
              char       **scopes)
{
  g_autoptr(GPtrArray) defs = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = NULL;

  defs = morango_cli_scope_definitions (NULL, &error);
  if (defs == NULL)
    return morango_cli_fail (command, error);
  for (guint i = 0; scopes[i] != NULL; i++)
    {
      gboolean known = g_str_equal (scopes[i], MORANGO_ACCOUNT_ALL_SCOPES);

      for (guint d = 0; !known && d < defs->len; d++)
        known = g_str_equal (((MorangoScopeDefinition *) g_ptr_array_index (defs, d))->id, scopes[i]);
      if (!known && folder_exists ())
        {
          g_autoptr(MorangoScopeDefinition) def = NULL;

          if (store == NULL && (store = morango_cli_open_store (NULL, &error)) == NULL)
            return morango_cli_fail (command, error);
          def = morango_scope_definition_load (morango_store_get_db (store), scopes[i], NULL);
          known = def != NULL;
        }
      if (!known)
        {
          g_autofree char *safe = morango_cli_safe (scopes[i]);
          g_autofree char *list = morango_cli_describe_scopes ();

          fprintf (stderr, _("morango %s: unknown scope definition “%s”\n%s\n"), command, safe, list);
          fprintf (stderr, _("Give --scope '*' for all of them.\n"));
          return MORANGO_EXIT_REFUSED;
        }
    }
  return -1;
}

/* ---- the subcommands ---- */

static int
cmd_add (const char     *command,
         AccountOptions *o,
         char          **args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = NULL;
  g_autofree char *password = NULL;
  int rc = MORANGO_EXIT_OK;

  if (o->scopes == NULL)
    return morango_cli_usage_error (command, _("--scope S is needed (repeatable; '*' for every scope "
                                               "definition)"));
  for (guint i = 0; o->scopes[i] != NULL; i++)
    if (*o->scopes[i] == '\0')
      return morango_cli_usage_error (command, _("--scope needs a scope definition"));
  if (!morango_account_name_is_valid (args[0], &error))
    return morango_cli_fail (command, error);
  if ((rc = check_scopes (command, o->scopes)) >= 0)
    return rc;
  /* Taken before the folder is opened: a missing password creates
   * nothing. */
  if ((password = read_password (command, args[0], o->password_file, &rc)) == NULL)
    return rc;

  if ((store = morango_cli_open_store (NULL, &error)) == NULL ||
      !morango_account_add (morango_store_get_db (store), morango_store_get_random (store), args[0], password,
                            (const char * const *) o->scopes, &error))
    rc = morango_cli_fail (command, error);
  else
    rc = MORANGO_EXIT_OK;
  wipe (password);
  return rc;
}

static char *
format_created (const char *created)
{
  /* "YYYY-MM-DD HH:MM:SS.ffffff", UTC: the seconds are enough here. */
  if (created == NULL || strlen (created) < 19)
    return g_strdup ("?");
  return g_strdup_printf ("%.19s UTC", created);
}

static int
cmd_list (const char     *command,
          AccountOptions *o,
          char          **args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = NULL;
  g_autoptr(GPtrArray) accounts = NULL;

  if (folder_exists () &&
      ((store = morango_cli_open_store (NULL, &error)) == NULL ||
       (accounts = morango_account_list (morango_store_get_db (store), &error)) == NULL))
    return morango_cli_fail (command, error);
  if (accounts == NULL || accounts->len == 0)
    {
      fprintf (stderr, _("No accounts: this device refuses every pairing request. Add one with "
                         "“morango account add NAME --scope S”.\n"));
      return MORANGO_EXIT_OK;
    }
  /* For scripts: name, tab, scopes joined by commas, tab, creation time. */
  for (guint i = 0; i < accounts->len; i++)
    {
      MorangoAccount *account = g_ptr_array_index (accounts, i);
      const char * const *scopes = morango_account_get_scopes (account);
      g_autofree char *joined = g_strjoinv (",", (char **) scopes);
      g_autofree char *name = morango_cli_safe (morango_account_get_name (account));
      g_autofree char *safe_scopes = morango_cli_safe (*joined ? joined : _("(none)"));
      g_autofree char *created = format_created (morango_account_get_created (account));

      printf ("%s\t%s\t%s\n", name, safe_scopes, created);
    }
  return MORANGO_EXIT_OK;
}

static int
cmd_remove (const char     *command,
            AccountOptions *o,
            char          **args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = NULL;

  if (!folder_exists ())
    {
      g_set_error (&error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND, _("No account is named “%s”"), args[0]);
      return morango_cli_fail (command, error);
    }
  if ((store = morango_cli_open_store (NULL, &error)) == NULL ||
      !morango_account_remove (morango_store_get_db (store), args[0], &error))
    return morango_cli_fail (command, error);
  if (!morango_account_has_any (morango_store_get_db (store)))
    fprintf (stderr, _("morango %s: no account is left, so this device refuses every pairing request "
                       "until one is added\n"), command);
  return MORANGO_EXIT_OK;
}

static int
cmd_passwd (const char     *command,
            AccountOptions *o,
            char          **args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = NULL;
  g_autoptr(GPtrArray) accounts = NULL;
  g_autofree char *password = NULL;
  gboolean found = FALSE;
  int rc;

  /* Asked before the password is typed, not after. */
  if (folder_exists () &&
      ((store = morango_cli_open_store (NULL, &error)) == NULL ||
       (accounts = morango_account_list (morango_store_get_db (store), &error)) == NULL))
    return morango_cli_fail (command, error);
  for (guint i = 0; accounts != NULL && i < accounts->len; i++)
    found = found || g_str_equal (morango_account_get_name (g_ptr_array_index (accounts, i)), args[0]);
  if (!found)
    {
      g_set_error (&error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND, _("No account is named “%s”"), args[0]);
      return morango_cli_fail (command, error);
    }
  if ((password = read_password (command, args[0], o->password_file, &rc)) == NULL)
    return rc;
  if (!morango_account_change_password (morango_store_get_db (store), morango_store_get_random (store), args[0],
                                        password, &error))
    rc = morango_cli_fail (command, error);
  else
    rc = MORANGO_EXIT_OK;
  wipe (password);
  return rc;
}

static const AccountCommand account_commands[] = {
  { "add", N_("NAME"),
    N_("Adds an account that peers may pair with (HTTP Basic, on the signing request),\n"
       "for the scope definitions given with --scope ('*': all of them)."),
    OPT_SCOPE | OPT_PASSWORD, 1, cmd_add },
  { "list", "",
    N_("Lists the accounts, one a line: name, a tab, the scope definitions it may\n"
       "request (comma-separated), a tab, when it was made."),
    0, 0, cmd_list },
  { "remove", N_("NAME"),
    N_("Removes an account. Certificates it obtained stay valid."),
    0, 1, cmd_remove },
  { "passwd", N_("NAME"),
    N_("Sets a new password for an account; its scope definitions stay."),
    OPT_PASSWORD, 1, cmd_passwd },
};

static void
print_overview (FILE *out)
{
  fprintf (out, "%s\n  morango account %s\n\n%s\n", _("Usage:"), _("SUBCOMMAND [OPTION…] [ARGS…]"),
           _("The accounts whose name and password peers give to pair with this device."));
  fprintf (out, "\n%s\n", _("Subcommands:"));
  fprintf (out, "  add NAME [--scope S]… [--password-file F]\n");
  fprintf (out, "  list\n");
  fprintf (out, "  remove NAME\n");
  fprintf (out, "  passwd NAME [--password-file F]\n");
  fprintf (out, "\n%s\n\n%s\n",
           _("Run “morango account SUBCOMMAND --help” for its options."),
           _("Exit status: 0 done, 1 failed, 2 bad command line, 3 refused (a name that exists "
             "or is not allowed, an unknown scope definition, passwords that differ), 4 no such "
             "account or file."));
}

static int
run_subcommand (const AccountCommand *cmd,
                int                   argc,
                char                **argv)
{
  g_auto(AccountOptions) o = { NULL, NULL };
  const GOptionEntry all[] = {
    { "scope", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.scopes,
      N_("A scope definition the account may request certificates for (repeatable; '*': all)"), N_("S") },
    { "password-file", 0, 0, G_OPTION_ARG_FILENAME, &o.password_file,
      N_("Read the password from the first line of F (default: ask twice on the terminal)"), N_("F") },
  };
  const guint flags[] = { OPT_SCOPE, OPT_PASSWORD };
  g_autoptr(GArray) entries = g_array_new (TRUE, TRUE, sizeof (GOptionEntry));
  g_autoptr(GOptionContext) context = NULL;
  g_autofree char *command = g_strdup_printf ("account %s", cmd->name);
  g_autofree char **args = g_new0 (char *, argc + 1);
  g_autoptr(GPtrArray) positional = g_ptr_array_new ();
  char **parsed = args;
  gboolean dashes = FALSE;
  int n = argc, rc;

  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    if (cmd->options & flags[i])
      g_array_append_val (entries, all[i]);
  context = morango_cli_context_new (*cmd->params ? _(cmd->params) : "", _(cmd->summary),
                                     (GOptionEntry *) entries->data, NULL);
  args[0] = command;
  for (int i = 1; i < argc; i++)
    args[i] = argv[i];
  rc = morango_cli_parse (context, command, cmd->options & OPT_SCOPE ? MORANGO_CLI_HELP_SCOPES : NULL,
                          &n, &parsed);
  if (rc >= 0)
    return rc;
  /* GLib keeps the "--" that ends the options when an argument after
   * it starts with "-": it is no argument of ours. */
  for (int i = 1; i < n; i++)
    {
      if (!dashes && g_str_equal (parsed[i], "--"))
        dashes = TRUE;
      else
        g_ptr_array_add (positional, parsed[i]);
    }
  if (positional->len < cmd->n_args)
    return morango_cli_usage_error (command, _("the account's NAME is needed"));
  if (positional->len > cmd->n_args)
    return morango_cli_usage_error (command, _("unexpected argument “%s”"),
                                    (char *) g_ptr_array_index (positional, cmd->n_args));
  g_ptr_array_add (positional, NULL);
  return cmd->run (command, &o, (char **) positional->pdata);
}

int
morango_cli_account (const char *data_dir,
                     int         argc,
                     char      **argv)
{
  const char *sub;

  (void) data_dir;
  if (argc < 2)
    return morango_cli_usage_error ("account", _("a subcommand is needed: add, list, remove or passwd"));
  sub = argv[1];
  if (g_str_equal (sub, "--help") || g_str_equal (sub, "-h") || g_str_equal (sub, "help"))
    {
      print_overview (stdout);
      return MORANGO_EXIT_OK;
    }
  for (guint i = 0; i < G_N_ELEMENTS (account_commands); i++)
    if (g_str_equal (sub, account_commands[i].name))
      return run_subcommand (&account_commands[i], argc - 1, argv + 1);
  return morango_cli_usage_error ("account", _("unknown subcommand “%s”"), sub);
}
