/* morango-cli-cert.c: `morango cert …`, certificates and trust from the command line
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "morango-certificate.h"
#include "morango-chain.h"
#include "morango-cli.h"
#include "morango-store.h"
#include "morango-trust.h"
#include "morango-json.h"

/* "cert create-root" while a subcommand runs: usage errors point to
 * its own help. */
static const char *current_command = "cert";

static int
usage_error (const char *message)
{
  return morango_cli_usage_error (current_command, "%s", message);
}

/* One exit code per kind of failure, so scripts can tell a refused
 * chain from a missing file. */
static int
fail (GError *error)
{
  /* The engine's messages name no command; the hints are ours. */
  if (g_error_matches (error, MORANGO_ERROR, MORANGO_ERROR_CERT_UNTRUSTED))
    {
      g_autofree char *safe = morango_cli_safe (error->message);

      fprintf (stderr, _("morango cert: %s. If you know where it comes from, trust it with "
                         "“morango cert trust FILE” (FILE holding that chain), then try again\n"), safe);
      return morango_cli_exit_code (error);
    }
  return morango_cli_fail ("cert", error);
}

/* The certificates live in the engine database of the data folder,
 * whose profile description also supplies the scope definitions. */
static MorangoDb *
open_db (const char *data_dir,
         GError    **error)
{
  g_autoptr(MorangoStore) store = morango_cli_open_store (data_dir, error);

  if (store == NULL)
    return NULL;
  return g_object_ref (morango_store_get_db (store));
}

static char *
read_input (const char *file,
            GError    **error)
{
  char *text = NULL;

  if (g_str_equal (file, "-"))
    {
      GString *s = g_string_new (NULL);
      char buf[4096];
      size_t n;

      while ((n = fread (buf, 1, sizeof buf, stdin)) > 0)
        g_string_append_len (s, buf, n);
      return g_string_free (s, FALSE);
    }
  if (g_file_test (file, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_ISDIR, "“%s” is a directory", file);
      return NULL;
    }
  if (!g_file_get_contents (file, &text, NULL, error))
    return NULL;
  return text;
}

/* The passphrase from a file's first line, or typed at a terminal;
 * never a prompt when nobody is there to answer. */
static char *
read_passphrase (const char *file,
                 gboolean    confirm,
                 GError    **error)
{
  char *text = morango_cli_read_secret (file, _("Passphrase: "), confirm ? _("Passphrase again: ") : NULL,
                                        _("The passphrases differ"), error);

  if (text == NULL && error != NULL && *error == NULL)
    g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                         isatty (STDIN_FILENO) ? _("No passphrase given")
                                               : _("No passphrase: give --passphrase-file (standard input is not a terminal)"));
  return text;
}

/* What the subcommands' options hold; positional arguments are kept in
 * order. */
typedef struct {
  GPtrArray  *args;
  char       *scope;
  char       *profile;
  char       *passphrase_file;
  JsonObject *params;
  gboolean    force;
} CertArgs;

static gboolean
take_param (const char  *option_name,
            const char  *value,
            gpointer     data,
            GError     **error)
{
  return morango_cli_take_param (option_name, value, &((CertArgs *) data)->params, error);
}

static int
cmd_create_root (MorangoDb *db,
                 CertArgs  *a)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoScopeDefinition) def = NULL;
  g_autoptr(MorangoCertificate) cert = NULL;

  if (a->scope == NULL || a->args->len != 0)
    return usage_error (_("create-root needs --scope S and no other arguments"));
  def = morango_scope_definition_load (db, a->scope, &error);
  if (def == NULL)
    {
      int rc = fail (error);

      if (g_error_matches (error, MORANGO_ERROR, MORANGO_ERROR_UNKNOWN_SCOPE_DEFINITION))
        {
          g_autofree char *list = morango_cli_describe_scopes ();

          fprintf (stderr, "%s\n", list);
        }
      return rc;
    }
  if (a->profile && !g_str_equal (a->profile, def->profile))
    {
      g_autofree char *id = morango_cli_safe (def->id);
      g_autofree char *profile = morango_cli_safe (def->profile);
      g_autofree char *wanted = morango_cli_safe (a->profile);

      fprintf (stderr, _("morango cert: scope definition “%s” belongs to profile “%s”, not “%s”\n"),
               id, profile, wanted);
      return MORANGO_EXIT_REFUSED;
    }
  /* The engine puts the new root's id there and drops any other value. */
  if (a->params && def->primary_scope_param_key &&
      json_object_has_member (a->params, def->primary_scope_param_key))
    {
      g_autofree char *msg = g_strdup_printf (_("--param %s: scope definition “%s” sets %s to the new root's id"),
                                              def->primary_scope_param_key, def->id,
                                              def->primary_scope_param_key);
      return usage_error (msg);
    }
  cert = morango_certificate_create_root (db, a->scope, a->params, NULL, &error);
  if (cert == NULL)
    return fail (error);
  {
    g_autofree char *id = morango_cli_safe (morango_certificate_get_id (cert));

    printf ("%s\n", id);
  }
  return MORANGO_EXIT_OK;
}

static int
cmd_list (MorangoDb *db,
          CertArgs  *a)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) all = NULL;

  if (a->args->len != 0)
    return usage_error (_("list takes no arguments"));
  all = morango_certificate_list (db, &error);
  if (all == NULL)
    return fail (error);
  for (guint i = 0; i < all->len; i++)
    {
      MorangoCertificate *c = g_ptr_array_index (all, i);
      const char *parent = morango_certificate_get_parent_id (c);
      g_autofree char *id = morango_cli_safe (morango_certificate_get_id (c));
      g_autofree char *parent_prefix = parent ? g_strndup (parent, 8) : NULL;
      g_autofree char *safe_parent = parent ? morango_cli_safe (parent_prefix) : NULL;
      g_autofree char *where = parent ? g_strdup_printf ("child of %s", safe_parent) : g_strdup ("root");
      g_autofree char *profile = morango_cli_safe (morango_certificate_get_profile (c));
      g_autofree char *scope = morango_cli_safe (morango_certificate_get_scope_definition_id (c));

      printf ("%s  %-17s  %-14s  %-20s%s%s\n",
              id, where, profile, scope,
              morango_certificate_has_private_key (c) ? "  own-key" : "",
              parent == NULL && morango_trust_is_trusted (db, morango_certificate_get_id (c)) ? "  trusted" : "");
    }
  return MORANGO_EXIT_OK;
}

static void
print_filter (const char    *label,
              MorangoFilter *filter)
{
  morango_cli_print_label (label, 18);
  for (guint i = 0; i < morango_filter_get_n_entries (filter); i++)
    {
      g_autofree char *e = morango_cli_safe (morango_filter_get_entry (filter, i));

      printf ("%s%s\n", i == 0 ? "" : "                  ", *e ? e : _("\"\" (everything)"));
    }
}

static int
cmd_show (MorangoDb *db,
          CertArgs  *a)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoCertificate) c = NULL;
  g_autoptr(GPtrArray) chain = NULL;
  g_autoptr(MorangoScope) scope = NULL;
  g_autoptr(MorangoScopeDefinition) def = NULL;
  g_autoptr(JsonObject) params = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *description = NULL;
  g_autofree char *safe_id = NULL, *safe_parent = NULL, *safe_root = NULL, *safe_profile = NULL;
  g_autofree char *safe_scope = NULL, *safe_description = NULL, *safe_params = NULL, *safe_salt = NULL;
  const char *root_id;

  if (a->args->len != 1)
    return usage_error (_("show needs one certificate id"));
  c = morango_certificate_load (db, g_ptr_array_index (a->args, 0), &error);
  if (c == NULL)
    return fail (error);
  chain = morango_certificate_get_chain (db, morango_certificate_get_id (c), &error);
  if (chain == NULL)
    return fail (error);
  root_id = morango_certificate_get_id (g_ptr_array_index (chain, 0));
  scope = morango_certificate_get_scope (c, db, &error);
  if (scope == NULL)
    return fail (error);
  def = morango_scope_definition_load (db, morango_certificate_get_scope_definition_id (c), &error);
  if (def == NULL)
    return fail (error);
  params = morango_json_parse_object (morango_certificate_get_scope_params (c), "scope_params", NULL);
  description = morango_scope_definition_describe (def, params);
  fingerprint = morango_key_get_fingerprint (morango_certificate_get_key (c));

  /* Every field but the fingerprint comes from the certificate or the
   * scope definition: escaped. */
  safe_id = morango_cli_safe (morango_certificate_get_id (c));
  safe_parent = morango_certificate_get_parent_id (c) ? morango_cli_safe (morango_certificate_get_parent_id (c))
                                                      : g_strdup (_("(root)"));
  safe_root = morango_cli_safe (root_id);
  safe_profile = morango_cli_safe (morango_certificate_get_profile (c));
  safe_scope = morango_cli_safe (morango_certificate_get_scope_definition_id (c));
  safe_description = morango_cli_safe (description);
  safe_params = morango_cli_safe (morango_certificate_get_scope_params (c));
  safe_salt = *morango_certificate_get_salt (c) ? morango_cli_safe (morango_certificate_get_salt (c))
                                                 : g_strdup (_("(none)"));

  morango_cli_print_label (_("id:"), 18);
  printf ("%s\n", safe_id);
  morango_cli_print_label (_("parent:"), 18);
  printf ("%s\n", safe_parent);
  morango_cli_print_label (_("root:"), 18);
  printf ("%s (%s)\n", safe_root,
          morango_trust_is_trusted (db, root_id) ? _("trusted") : _("NOT trusted"));
  morango_cli_print_label (_("profile:"), 18);
  printf ("%s\n", safe_profile);
  morango_cli_print_label (_("scope:"), 18);
  printf (_("%s, version %lld\n"), safe_scope,
          (long long) morango_certificate_get_scope_version (c));
  morango_cli_print_label (_("description:"), 18);
  printf ("%s\n", safe_description);
  morango_cli_print_label (_("params:"), 18);
  printf ("%s\n", safe_params);
  print_filter (_("read:"), morango_scope_get_read (scope));
  print_filter (_("write:"), morango_scope_get_write (scope));
  morango_cli_print_label (_("salt:"), 18);
  printf ("%s\n", safe_salt);
  morango_cli_print_label (_("fingerprint:"), 18);
  printf ("%s\n", fingerprint);
  morango_cli_print_label (_("private key:"), 18);
  printf ("%s\n", morango_certificate_has_private_key (c) ? _("held on this device") : _("not held"));
  return MORANGO_EXIT_OK;
}

static int
cmd_export (MorangoDb *db,
            CertArgs  *a)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  const char *file;

  if (a->args->len != 2)
    return usage_error (_("export needs a certificate id and a file"));
  text = morango_certificate_chain_export_text (db, g_ptr_array_index (a->args, 0), &error);
  if (text == NULL)
    return fail (error);
  file = g_ptr_array_index (a->args, 1);
  if (g_str_equal (file, "-"))
    {
      /* The same JSON, without the raw C1 controls JSON allows. */
      g_autofree char *safe = morango_cli_safe_json (text);

      fputs (safe, stdout);
    }
  else if (g_file_test (file, G_FILE_TEST_IS_DIR))
    {
      g_autofree char *safe = morango_cli_safe (file);

      fprintf (stderr, _("morango cert: “%s” is a directory\n"), safe);
      return MORANGO_EXIT_FAILURE;
    }
  else if (!g_file_set_contents (file, text, -1, &error))
    return fail (error);
  return MORANGO_EXIT_OK;
}

static int
cmd_import (MorangoDb *db,
            CertArgs  *a,
            gboolean   trust)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autoptr(MorangoCertificate) last = NULL;
  g_autoptr(GPtrArray) chain = NULL;

  if (a->args->len != 1)
    return usage_error (trust ? "trust needs one file" : "import needs one file");
  text = read_input (g_ptr_array_index (a->args, 0), &error);
  if (text == NULL)
    return fail (error);
  if (morango_certificate_text_is_backup (text))
    {
      g_autofree char *file = morango_cli_safe (g_ptr_array_index (a->args, 0));

      fprintf (stderr, _("morango cert: “%s” is a certificate backup, not a chain; bring it onto "
                         "this device with “morango cert restore %s --passphrase-file F”\n"), file, file);
      return MORANGO_EXIT_REFUSED;
    }
  last = morango_certificate_chain_import_text (db, text, NULL,
                                                trust ? MORANGO_CHAIN_IMPORT_TRUST_ROOT
                                                      : MORANGO_CHAIN_IMPORT_DEFAULT,
                                                NULL, &error);
  if (last == NULL)
    return fail (error);
  chain = morango_certificate_get_chain (db, morango_certificate_get_id (last), &error);
  if (chain == NULL)
    return fail (error);
  {
    g_autofree char *root = morango_cli_safe (morango_certificate_get_id (g_ptr_array_index (chain, 0)));
    g_autofree char *id = morango_cli_safe (morango_certificate_get_id (last));

    if (trust)
      printf (_("Trusted root %s\n"), root);
    printf (_("Imported %s\n"), id);
  }
  return MORANGO_EXIT_OK;
}

/* Where a backup goes: never onto an existing file unless --force,
 * never onto the passphrase file (the same file by device and inode,
 * whatever the names), standard output for "-". */
static int
write_backup (const char *file,
              const char *text,
              const char *passphrase_file,
              gboolean    force)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *safe_file = morango_cli_safe (file);
  GStatBuf target, pass;
  gboolean exists;
  int fd;

  if (g_str_equal (file, "-"))
    {
      g_autofree char *safe = morango_cli_safe_json (text);

      fputs (safe, stdout);
      return fflush (stdout) == 0 ? MORANGO_EXIT_OK : MORANGO_EXIT_FAILURE;
    }
  exists = g_stat (file, &target) == 0;
  if (exists && passphrase_file != NULL && g_stat (passphrase_file, &pass) == 0 &&
      target.st_dev == pass.st_dev && target.st_ino == pass.st_ino)
    {
      fprintf (stderr, _("morango cert: “%s” is the passphrase file; the backup was not written\n"), safe_file);
      return MORANGO_EXIT_REFUSED;
    }
  if (exists && S_ISDIR (target.st_mode))
    {
      fprintf (stderr, _("morango cert: “%s” is a directory\n"), safe_file);
      return MORANGO_EXIT_FAILURE;
    }
  if (force)
    {
      /* Encrypted or not, a private key only goes to a file only its
       * owner can read. */
      if (!g_file_set_contents_full (file, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
        return fail (error);
      return MORANGO_EXIT_OK;
    }
  /* O_EXCL: a file that appears meanwhile is not overwritten either. */
  fd = g_open (file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int saved = errno;

      if (saved == EEXIST)
        {
          fprintf (stderr, _("morango cert: “%s” exists; give --force to replace it\n"), safe_file);
          return MORANGO_EXIT_REFUSED;
        }
      fprintf (stderr, _("morango cert: cannot create “%s”: %s\n"), safe_file, g_strerror (saved));
      return saved == ENOENT ? MORANGO_EXIT_NOTFOUND : MORANGO_EXIT_FAILURE;
    }
  {
    size_t len = strlen (text), done = 0;

    while (done < len)
      {
        ssize_t n = write (fd, text + done, len - done);

        if (n < 0 && errno == EINTR)
          continue;
        if (n <= 0)
          {
            int saved = errno;

            close (fd);
            g_unlink (file);
            fprintf (stderr, _("morango cert: cannot write “%s”: %s\n"), safe_file, g_strerror (saved));
            return MORANGO_EXIT_FAILURE;
          }
        done += n;
      }
    if (fsync (fd) != 0 || close (fd) != 0)
      {
        int saved = errno;

        g_unlink (file);
        fprintf (stderr, _("morango cert: cannot write “%s”: %s\n"), safe_file, g_strerror (saved));
        return MORANGO_EXIT_FAILURE;
      }
  }
  return MORANGO_EXIT_OK;
}

static int
cmd_backup (MorangoDb *db,
            CertArgs  *a)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *passphrase = NULL;
  g_autofree char *text = NULL;
  const char *file;
  int rc;

  if (a->args->len != 2)
    return usage_error (_("backup needs a certificate id and a file"));
  file = g_ptr_array_index (a->args, 1);
  passphrase = read_passphrase (a->passphrase_file, TRUE, &error);
  if (passphrase == NULL)
    return a->passphrase_file ? fail (error) : usage_error (error->message);
  text = morango_certificate_backup (db, g_ptr_array_index (a->args, 0), passphrase, &error);
  if (text == NULL)
    return fail (error);
  rc = write_backup (file, text, a->passphrase_file, a->force);
  if (rc != MORANGO_EXIT_OK || g_str_equal (file, "-"))
    return rc;
  {
    g_autofree char *id = morango_cli_safe (g_ptr_array_index (a->args, 0));
    g_autofree char *safe = morango_cli_safe (file);

    printf (_("Backed up %s to %s\n"), id, safe);
  }
  return MORANGO_EXIT_OK;
}

static int
cmd_restore (MorangoDb *db,
             CertArgs  *a)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *passphrase = NULL;
  g_autofree char *text = NULL;
  g_autoptr(MorangoCertificate) c = NULL;

  if (a->args->len != 1)
    return usage_error (_("restore needs one file"));
  text = read_input (g_ptr_array_index (a->args, 0), &error);
  if (text == NULL)
    return fail (error);
  passphrase = read_passphrase (a->passphrase_file, FALSE, &error);
  if (passphrase == NULL)
    return a->passphrase_file ? fail (error) : usage_error (error->message);
  c = morango_certificate_restore (db, text, passphrase, NULL, &error);
  if (c == NULL)
    return fail (error);
  {
    g_autofree char *id = morango_cli_safe (morango_certificate_get_id (c));

    printf (_("Restored %s with its private key\n"), id);
  }
  return MORANGO_EXIT_OK;
}

enum {
  OPT_SCOPE      = 1 << 0,
  OPT_PROFILE    = 1 << 1,
  OPT_PARAM      = 1 << 2,
  OPT_PASSPHRASE = 1 << 3,
  OPT_FORCE      = 1 << 4,
};

typedef struct {
  const char *name;
  const char *parameters;    /* for the usage line */
  const char *summary;
  guint       n_args;
  guint       options;
  int       (*run) (MorangoDb *db, CertArgs *a);
} CertCommand;

static int cmd_import_only (MorangoDb *db, CertArgs *a) { return cmd_import (db, a, FALSE); }
static int cmd_trust       (MorangoDb *db, CertArgs *a) { return cmd_import (db, a, TRUE); }

static const CertCommand cert_commands[] = {
  { "create-root", "",        N_("Make a root certificate, and its key, on this device."),
    0, OPT_SCOPE | OPT_PROFILE | OPT_PARAM, cmd_create_root },
  { "list",        "",        N_("List the stored certificates, parents first."), 0, 0, cmd_list },
  { "show",        N_("ID"),  N_("Scope, params, filters and key fingerprint of a certificate."), 1, 0, cmd_show },
  { "export",      N_("ID FILE"), N_("Write the chain of ID (root first, no private key) to FILE (- for "
                                     "standard output)."), 2, 0, cmd_export },
  { "import",      N_("FILE"), N_("Import a chain (FILE, or - for standard input) whose root is trusted."),
    1, 0, cmd_import_only },
  { "trust",       N_("FILE"), N_("Import a chain and trust its root from now on."), 1, 0, cmd_trust },
  { "backup",      N_("ID FILE"), N_("Write ID with its private key, encrypted with a passphrase, to FILE "
                                     "(mode 0600, - for standard output)."),
    2, OPT_PASSPHRASE | OPT_FORCE, cmd_backup },
  { "restore",     N_("FILE"), N_("Bring a backed-up certificate and its key onto this device."),
    1, OPT_PASSPHRASE, cmd_restore },
};

static const CertCommand *
find_command (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (cert_commands); i++)
    if (g_str_equal (cert_commands[i].name, name))
      return &cert_commands[i];
  return NULL;
}

/* The subcommand: the first argument that is neither an option nor an
 * option's value, so options may come before it as well. */
static int
find_subcommand (int    argc,
                 char **argv)
{
  static const char *takes_value[] = {
    "--scope", "--profile", "--param", "--passphrase-file", "--data-dir", "--description",
  };

  for (int i = 1; i < argc; i++)
    {
      if (g_str_equal (argv[i], "--"))
        return i + 1 < argc ? i + 1 : -1;
      if (argv[i][0] != '-' || argv[i][1] == '\0')
        return i;
      for (guint k = 0; k < G_N_ELEMENTS (takes_value); k++)
        if (g_str_equal (argv[i], takes_value[k]))
          {
            i++;
            break;
          }
    }
  return -1;
}

static void
print_overview (FILE *out)
{
  fprintf (out, "%s\n  morango cert %s\n\n%s\n", _("Usage:"), _("SUBCOMMAND [OPTION…] [ARGS…]"),
           _("Certificates, keys and trust."));
  fprintf (out, "\n%s\n", _("Subcommands:"));
  for (guint i = 0; i < G_N_ELEMENTS (cert_commands); i++)
    fprintf (out, "  %-12s %s\n", cert_commands[i].name, _(cert_commands[i].summary));
  fprintf (out, "\n%s\n\n%s\n",
           _("Run “morango cert SUBCOMMAND --help” for its options."),
           _("Exit status: 0 done, 1 failed, 2 bad command line, 3 refused (invalid, untrusted or "
             "conflicting input, wrong passphrase), 4 not found."));
}

/* An unknown scope is refused before a new folder is made for it, with
 * the definitions that exist. */
static int
check_scope (const char *scope,
             JsonObject *params)
{
  g_autoptr(GPtrArray) defs = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *db_path = g_build_filename (morango_cli_get_data_dir (), MORANGO_STORE_FOLDER_DB, NULL);

  /* An existing folder may also know definitions that came with
   * imported chains: the engine decides there. */
  if (g_file_test (db_path, G_FILE_TEST_EXISTS))
    return -1;
  defs = morango_cli_scope_definitions (NULL, &error);
  if (defs == NULL)
    return fail (error);
  for (guint i = 0; i < defs->len; i++)
    {
      MorangoScopeDefinition *def = g_ptr_array_index (defs, i);

      if (!g_str_equal (def->id, scope))
        continue;
      /* The usage error cmd_create_root() gives, before a folder is
       * made for it. */
      if (params && def->primary_scope_param_key &&
          json_object_has_member (params, def->primary_scope_param_key))
        return morango_cli_usage_error (current_command,
                                        _("--param %s: scope definition “%s” sets %s to the new root's id"),
                                        def->primary_scope_param_key, def->id, def->primary_scope_param_key);
      return -1;
    }
  {
    g_autofree char *safe = morango_cli_safe (scope);
    g_autofree char *list = morango_cli_describe_scopes ();

    fprintf (stderr, _("morango cert: unknown scope definition “%s”\n%s\n"), safe, list);
  }
  return MORANGO_EXIT_REFUSED;
}

int
morango_cli_cert (const char *data_dir,
                  int         argc,
                  char      **argv)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autoptr(GPtrArray) sub_argv = g_ptr_array_new ();
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(MorangoDb) db = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *command = NULL;
  g_autoptr(GArray) entries = g_array_new (TRUE, TRUE, sizeof (GOptionEntry));
  CertArgs a = { args, NULL, NULL, NULL, NULL, FALSE };
  const CertCommand *cmd;
  int sub, rc, n;
  char **v;

  (void) data_dir;
  sub = find_subcommand (argc, argv);
  if (sub < 0)
    {
      for (int i = 1; i < argc; i++)
        if (g_str_equal (argv[i], "--help") || g_str_equal (argv[i], "-h"))
          {
            print_overview (stdout);
            return MORANGO_EXIT_OK;
          }
      return morango_cli_usage_error ("cert", _("a subcommand is needed"));
    }
  if (g_str_equal (argv[sub], "help"))
    {
      print_overview (stdout);
      return MORANGO_EXIT_OK;
    }
  cmd = find_command (argv[sub]);
  if (cmd == NULL)
    return morango_cli_usage_error ("cert", _("unknown subcommand “%s”"), argv[sub]);

  command = g_strdup_printf ("cert %s", cmd->name);
  current_command = command;
  {
    const GOptionEntry all[] = {
      { "scope", 0, 0, G_OPTION_ARG_STRING, &a.scope, N_("Scope definition of the new root"), N_("S") },
      { "profile", 0, 0, G_OPTION_ARG_STRING, &a.profile, N_("Refuse a scope definition of another profile"), N_("PROFILE") },
      { "param", 0, 0, G_OPTION_ARG_CALLBACK, take_param, N_("A scope parameter (repeatable)"), N_("KEY=VALUE") },
      { "passphrase-file", 0, 0, G_OPTION_ARG_FILENAME, &a.passphrase_file,
        N_("Read the passphrase from the first line of F (default: ask on the terminal)"), N_("F") },
      { "force", 0, 0, G_OPTION_ARG_NONE, &a.force, N_("Replace an existing FILE"), NULL },
    };
    const guint flags[] = { OPT_SCOPE, OPT_PROFILE, OPT_PARAM, OPT_PASSPHRASE, OPT_FORCE };

    for (guint i = 0; i < G_N_ELEMENTS (all); i++)
      if (cmd->options & flags[i])
        g_array_append_val (entries, all[i]);
  }
  {
    g_autofree char *parameters = *cmd->parameters ? g_strdup (_(cmd->parameters)) : g_strdup ("");

    context = morango_cli_context_new (parameters, _(cmd->summary), (GOptionEntry *) entries->data, &a);
  }
  /* argv without the subcommand. */
  g_ptr_array_add (sub_argv, command);
  for (int i = 1; i < argc; i++)
    if (i != sub)
      g_ptr_array_add (sub_argv, argv[i]);
  g_ptr_array_add (sub_argv, NULL);
  n = sub_argv->len - 1;
  v = (char **) sub_argv->pdata;

  rc = morango_cli_parse (context, command, cmd->options & OPT_SCOPE ? MORANGO_CLI_HELP_SCOPES : NULL, &n, &v);
  if (rc >= 0)
    goto out;
  for (int i = 1; i < n; i++)
    if (!g_str_equal (v[i], "--"))
      g_ptr_array_add (args, v[i]);

  /* A bad command line is told before the folder is opened: it must
   * create nothing. */
  if (args->len != cmd->n_args)
    {
      rc = cmd->n_args == 0 ? usage_error (_("takes no arguments"))
                            : morango_cli_usage_error (command, _("needs %s"), _(cmd->parameters));
      goto out;
    }
  if ((cmd->options & OPT_SCOPE) && a.scope == NULL)
    {
      rc = usage_error (_("--scope S is needed"));
      goto out;
    }
  if ((cmd->options & OPT_PASSPHRASE) && a.passphrase_file == NULL && !isatty (STDIN_FILENO))
    {
      rc = usage_error (_("no passphrase: give --passphrase-file (standard input is not a terminal)"));
      goto out;
    }
  if (a.scope && (rc = check_scope (a.scope, a.params)) >= 0)
    goto out;

  db = open_db (morango_cli_get_data_dir (), &error);
  if (db == NULL)
    {
      rc = fail (error);
      goto out;
    }
  rc = cmd->run (db, &a);

out:
  current_command = "cert";
  g_clear_pointer (&a.params, json_object_unref);
  g_free (a.scope);
  g_free (a.profile);
  g_free (a.passphrase_file);
  return rc;
}
