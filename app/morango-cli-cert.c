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
#include <termios.h>
#include <unistd.h>

#include "morango-certificate.h"
#include "morango-chain.h"
#include "morango-cli.h"
#include "morango-store.h"
#include "morango-trust.h"
#include "morango-json.h"

static const char cert_usage[] =
  N_("Usage: morango [--data-dir DIR] [--description NAME] cert SUBCOMMAND [ARGS…]\n"
     "\n"
     "  create-root --scope S [--profile P] [--param KEY=VALUE]…\n"
     "                          make a root certificate (and its key) on this device\n"
     "  list                    list the stored certificates, parents first\n"
     "  show ID                 scope, params, filters and key fingerprint of a certificate\n"
     "  export ID FILE          write the chain of ID (root first, no private key) to FILE (- for stdout)\n"
     "  import FILE             import a chain (FILE or - for stdin) whose root is trusted\n"
     "  trust FILE              import a chain and trust its root from now on\n"
     "  backup ID FILE --passphrase-file F [--force]\n"
     "                          write ID with its private key, encrypted, to FILE (mode 0600,\n"
     "                          - for stdout); --force replaces an existing FILE\n"
     "  restore FILE --passphrase-file F\n"
     "                          bring a backed-up certificate and its key onto this device\n"
     "\n"
     "Exit status: 0 done, 1 failed, 2 bad command line, 3 refused (invalid,\n"
     "untrusted or conflicting input, wrong passphrase), 4 not found.\n");

static int
usage_error (const char *message)
{
  if (message)
    {
      g_autofree char *safe = morango_cli_safe (message);

      fprintf (stderr, "morango cert: %s\n", safe);
    }
  fputs (_(cert_usage), stderr);
  return MORANGO_EXIT_USAGE;
}

/* One exit code per kind of failure, so scripts can tell a refused
 * chain from a missing file. */
static int
fail (GError *error)
{
  int code = MORANGO_EXIT_FAILURE;
  /* Engine messages quote certificate fields, scope definitions and
   * file names. */
  g_autofree char *safe = morango_cli_safe (error->message);

  /* The engine's messages name no command; the hints are ours. */
  if (g_error_matches (error, MORANGO_ERROR, MORANGO_ERROR_CERT_UNTRUSTED))
    fprintf (stderr, "morango cert: %s. If you know where it comes from, trust it with "
             "“morango cert trust FILE” (FILE holding that chain), then try again\n", safe);
  else
    fprintf (stderr, "morango cert: %s\n", safe);
  if (error->domain == G_FILE_ERROR && error->code == G_FILE_ERROR_NOENT)
    code = MORANGO_EXIT_NOTFOUND;
  else if (error->domain == MORANGO_ERROR)
    switch (error->code)
      {
      case MORANGO_ERROR_NOT_FOUND:
        code = MORANGO_EXIT_NOTFOUND;
        break;
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
      case MORANGO_ERROR_PERMISSION_DENIED:
        code = MORANGO_EXIT_REFUSED;
        break;
      default:
        break;
      }
  return code;
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

/* A backup handed to import or trust: a JSON object of the backup
 * format, which restore reads. */
static gboolean
is_backup (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonNode *root;
  JsonObject *o;

  if (!json_parser_load_from_data (parser, text, -1, NULL))
    return FALSE;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return FALSE;
  o = json_node_get_object (root);
  return json_object_has_member (o, "format") &&
         JSON_NODE_HOLDS_VALUE (json_object_get_member (o, "format")) &&
         g_strcmp0 (json_object_get_string_member (o, "format"), "morango-certificate-backup") == 0;
}

/* The passphrase from a file's first line, or typed at a terminal;
 * never a prompt when nobody is there to answer. */
static char *
read_passphrase (const char *file,
                 gboolean    confirm,
                 GError    **error)
{
  g_autofree char *text = NULL;
  struct termios old, quiet;
  char line[1024];
  char *nl;

  if (file != NULL)
    {
      if (!g_file_get_contents (file, &text, NULL, error))
        return NULL;
      nl = strpbrk (text, "\r\n");
      if (nl)
        *nl = '\0';
      return g_steal_pointer (&text);
    }
  if (!isatty (STDIN_FILENO))
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                           "No passphrase: give --passphrase-file (standard input is not a terminal)");
      return NULL;
    }
  fputs (_("Passphrase: "), stderr);
  fflush (stderr);
  tcgetattr (STDIN_FILENO, &old);
  quiet = old;
  quiet.c_lflag &= ~ECHO;
  tcsetattr (STDIN_FILENO, TCSANOW, &quiet);
  nl = fgets (line, sizeof line, stdin);
  tcsetattr (STDIN_FILENO, TCSANOW, &old);
  fputc ('\n', stderr);
  if (nl == NULL)
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_INVALID, "No passphrase given");
      return NULL;
    }
  line[strcspn (line, "\r\n")] = '\0';
  text = g_strdup (line);
  if (confirm)
    {
      char again[1024];

      fputs (_("Passphrase again: "), stderr);
      fflush (stderr);
      tcsetattr (STDIN_FILENO, TCSANOW, &quiet);
      nl = fgets (again, sizeof again, stdin);
      tcsetattr (STDIN_FILENO, TCSANOW, &old);
      fputc ('\n', stderr);
      if (nl)
        again[strcspn (again, "\r\n")] = '\0';
      if (nl == NULL || !g_str_equal (again, text))
        {
          g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_INVALID, "The passphrases differ");
          return NULL;
        }
    }
  return g_steal_pointer (&text);
}

/* Options shared by the subcommands; positional arguments are kept in
 * order. */
typedef struct {
  GPtrArray  *args;
  const char *scope;
  const char *profile;
  const char *passphrase_file;
  JsonObject *params;
  const char *data_dir;
  const char *description;
  gboolean    force;
} CertArgs;

static int
parse_args (CertArgs *a,
            int       argc,
            char    **argv)
{
  for (int i = 0; i < argc; i++)
    {
      const char *arg = argv[i];
      const char **target = NULL;

      if (g_str_equal (arg, "--help") || g_str_equal (arg, "-h"))
        {
          fputs (_(cert_usage), stdout);
          return MORANGO_EXIT_OK;
        }
      if (g_str_equal (arg, "--force"))
        {
          a->force = TRUE;
          continue;
        }
      if (g_str_equal (arg, "--scope"))
        target = &a->scope;
      else if (g_str_equal (arg, "--profile"))
        target = &a->profile;
      else if (g_str_equal (arg, "--passphrase-file"))
        target = &a->passphrase_file;
      else if (g_str_equal (arg, "--data-dir"))
        target = &a->data_dir;
      else if (g_str_equal (arg, "--description"))
        target = &a->description;
      else if (g_str_equal (arg, "--param"))
        {
          const char *eq;

          if (i + 1 >= argc || (eq = strchr (argv[i + 1], '=')) == NULL || eq == argv[i + 1])
            return usage_error ("--param needs KEY=VALUE");
          if (a->params == NULL)
            a->params = json_object_new ();
          {
            g_autofree char *key = g_strndup (argv[i + 1], eq - argv[i + 1]);

            /* The last one would win without a word. */
            if (json_object_has_member (a->params, key))
              {
                g_autofree char *msg = g_strdup_printf ("--param %s is given twice", key);
                return usage_error (msg);
              }
            json_object_set_string_member (a->params, key, eq + 1);
          }
          i++;
          continue;
        }
      else if (arg[0] == '-' && arg[1] != '\0')
        {
          g_autofree char *msg = g_strdup_printf ("unknown option “%s”", arg);
          return usage_error (msg);
        }
      else
        {
          g_ptr_array_add (a->args, (gpointer) arg);
          continue;
        }
      if (i + 1 >= argc)
        {
          g_autofree char *msg = g_strdup_printf ("%s needs a value", arg);
          return usage_error (msg);
        }
      *target = argv[++i];
    }
  return -1;
}

static int
cmd_create_root (MorangoDb *db,
                 CertArgs  *a)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoScopeDefinition) def = NULL;
  g_autoptr(MorangoCertificate) cert = NULL;

  if (a->scope == NULL || a->args->len != 0)
    return usage_error ("create-root needs --scope S and no other arguments");
  def = morango_scope_definition_load (db, a->scope, &error);
  if (def == NULL)
    return fail (error);
  if (a->profile && !g_str_equal (a->profile, def->profile))
    {
      g_autofree char *id = morango_cli_safe (def->id);
      g_autofree char *profile = morango_cli_safe (def->profile);
      g_autofree char *wanted = morango_cli_safe (a->profile);

      fprintf (stderr, "morango cert: scope definition “%s” belongs to profile “%s”, not “%s”\n",
               id, profile, wanted);
      return MORANGO_EXIT_REFUSED;
    }
  /* The engine puts the new root's id there and drops any other value. */
  if (a->params && def->primary_scope_param_key &&
      json_object_has_member (a->params, def->primary_scope_param_key))
    {
      g_autofree char *msg = g_strdup_printf ("--param %s: scope definition “%s” sets %s to the new root's id",
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
    return usage_error ("list takes no arguments");
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
  printf ("%-18s", label);
  for (guint i = 0; i < morango_filter_get_n_entries (filter); i++)
    {
      g_autofree char *e = morango_cli_safe (morango_filter_get_entry (filter, i));

      printf ("%s%s\n", i == 0 ? "" : "                  ", *e ? e : "\"\" (everything)");
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
    return usage_error ("show needs one certificate id");
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
                                                      : g_strdup ("(root)");
  safe_root = morango_cli_safe (root_id);
  safe_profile = morango_cli_safe (morango_certificate_get_profile (c));
  safe_scope = morango_cli_safe (morango_certificate_get_scope_definition_id (c));
  safe_description = morango_cli_safe (description);
  safe_params = morango_cli_safe (morango_certificate_get_scope_params (c));
  safe_salt = *morango_certificate_get_salt (c) ? morango_cli_safe (morango_certificate_get_salt (c))
                                                 : g_strdup ("(none)");

  printf ("%-18s%s\n", "id:", safe_id);
  printf ("%-18s%s\n", "parent:", safe_parent);
  printf ("%-18s%s (%s)\n", "root:", safe_root,
          morango_trust_is_trusted (db, root_id) ? "trusted" : "NOT trusted");
  printf ("%-18s%s\n", "profile:", safe_profile);
  printf ("%-18s%s, version %" G_GINT64_FORMAT "\n", "scope:", safe_scope,
          morango_certificate_get_scope_version (c));
  printf ("%-18s%s\n", "description:", safe_description);
  printf ("%-18s%s\n", "params:", safe_params);
  print_filter ("read:", morango_scope_get_read (scope));
  print_filter ("write:", morango_scope_get_write (scope));
  printf ("%-18s%s\n", "salt:", safe_salt);
  printf ("%-18s%s\n", "fingerprint:", fingerprint);
  printf ("%-18s%s\n", "private key:", morango_certificate_has_private_key (c) ? "held on this device" : "not held");
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
    return usage_error ("export needs a certificate id and a file");
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

      fprintf (stderr, "morango cert: “%s” is a directory\n", safe);
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
  if (is_backup (text))
    {
      g_autofree char *file = morango_cli_safe (g_ptr_array_index (a->args, 0));

      fprintf (stderr, "morango cert: “%s” is a certificate backup, not a chain; bring it onto "
               "this device with “morango cert restore %s --passphrase-file F”\n", file, file);
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
      printf ("Trusted root %s\n", root);
    printf ("Imported %s\n", id);
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
      fprintf (stderr, "morango cert: “%s” is the passphrase file; the backup was not written\n", safe_file);
      return MORANGO_EXIT_REFUSED;
    }
  if (exists && S_ISDIR (target.st_mode))
    {
      fprintf (stderr, "morango cert: “%s” is a directory\n", safe_file);
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
          fprintf (stderr, "morango cert: “%s” exists; give --force to replace it\n", safe_file);
          return MORANGO_EXIT_REFUSED;
        }
      fprintf (stderr, "morango cert: cannot create “%s”: %s\n", safe_file, g_strerror (saved));
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
            fprintf (stderr, "morango cert: cannot write “%s”: %s\n", safe_file, g_strerror (saved));
            return MORANGO_EXIT_FAILURE;
          }
        done += n;
      }
    if (fsync (fd) != 0 || close (fd) != 0)
      {
        int saved = errno;

        g_unlink (file);
        fprintf (stderr, "morango cert: cannot write “%s”: %s\n", safe_file, g_strerror (saved));
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
    return usage_error ("backup needs a certificate id and a file");
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

    printf ("Backed up %s to %s\n", id, safe);
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
    return usage_error ("restore needs one file");
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

    printf ("Restored %s with its private key\n", id);
  }
  return MORANGO_EXIT_OK;
}

/* The argument counts each cmd_*() checks again, and a passphrase that
 * cannot be asked for; -1 when the command line is complete. */
static int
check_args (const char *sub,
            CertArgs   *a)
{
  static const struct { const char *sub; guint n_args; } arity[] = {
    { "create-root", 0 }, { "list", 0 }, { "show", 1 }, { "export", 2 },
    { "import", 1 }, { "trust", 1 }, { "backup", 2 }, { "restore", 1 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (arity); i++)
    if (g_str_equal (sub, arity[i].sub) && a->args->len != arity[i].n_args)
      {
        g_autofree char *msg = g_strdup_printf ("%s takes %u argument%s; see below",
                                                sub, arity[i].n_args,
                                                arity[i].n_args == 1 ? "" : "s");
        return usage_error (msg);
      }
  if (g_str_equal (sub, "create-root") && a->scope == NULL)
    return usage_error ("create-root needs --scope S and no other arguments");
  if ((g_str_equal (sub, "backup") || g_str_equal (sub, "restore")) &&
      a->passphrase_file == NULL && !isatty (STDIN_FILENO))
    return usage_error ("No passphrase: give --passphrase-file (standard input is not a terminal)");
  return -1;
}

int
morango_cli_cert (const char *data_dir,
                  int         argc,
                  char      **argv)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autoptr(MorangoDb) db = NULL;
  g_autoptr(GError) error = NULL;
  CertArgs a = { args, NULL, NULL, NULL, NULL, NULL, NULL, FALSE };
  const char *sub;
  int rc;

  if (argc < 2)
    return usage_error (NULL);
  /* Options may come before or after the subcommand. */
  rc = parse_args (&a, argc - 1, argv + 1);
  if (rc >= 0)
    goto out;
  if (args->len == 0)
    {
      rc = usage_error (NULL);
      goto out;
    }
  sub = g_ptr_array_steal_index (args, 0);
  if (g_str_equal (sub, "help"))
    {
      fputs (_(cert_usage), stdout);
      rc = MORANGO_EXIT_OK;
      goto out;
    }
  if (a.data_dir)
    data_dir = a.data_dir;
  if (a.description)
    morango_cli_set_description (a.description);

  if (!g_str_equal (sub, "create-root") && !g_str_equal (sub, "list") && !g_str_equal (sub, "show") &&
      !g_str_equal (sub, "export") && !g_str_equal (sub, "import") && !g_str_equal (sub, "trust") &&
      !g_str_equal (sub, "backup") && !g_str_equal (sub, "restore"))
    {
      g_autofree char *msg = g_strdup_printf ("unknown subcommand “%s”", sub);
      rc = usage_error (msg);
      goto out;
    }
  if (a.force && !g_str_equal (sub, "backup"))
    {
      rc = usage_error ("--force only goes with backup");
      goto out;
    }
  if (a.params && !g_str_equal (sub, "create-root"))
    {
      rc = usage_error ("--param only goes with create-root");
      goto out;
    }

  /* A bad command line is told before the folder is opened: it must
   * create nothing. */
  rc = check_args (sub, &a);
  if (rc >= 0)
    goto out;

  db = open_db (data_dir, &error);
  if (db == NULL)
    {
      rc = fail (error);
      goto out;
    }

  if (g_str_equal (sub, "create-root"))
    rc = cmd_create_root (db, &a);
  else if (g_str_equal (sub, "list"))
    rc = cmd_list (db, &a);
  else if (g_str_equal (sub, "show"))
    rc = cmd_show (db, &a);
  else if (g_str_equal (sub, "export"))
    rc = cmd_export (db, &a);
  else if (g_str_equal (sub, "import"))
    rc = cmd_import (db, &a, FALSE);
  else if (g_str_equal (sub, "trust"))
    rc = cmd_import (db, &a, TRUE);
  else if (g_str_equal (sub, "backup"))
    rc = cmd_backup (db, &a);
  else
    rc = cmd_restore (db, &a);

out:
  g_clear_pointer (&a.params, json_object_unref);
  return rc;
}
