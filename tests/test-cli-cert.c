/* test-cli-cert.c: `morango cert …` end to end, through the built binary
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "morango-certificate.h"
#include "morango-test-util.h"

static char *tmp;           /* one folder for the whole run */
static char *profiles_dir;  /* the vectors' scope definitions */

typedef struct {
  int   status;
  char *out;
  char *err;
} Run;

static void
run_clear (Run *r)
{
  g_clear_pointer (&r->out, g_free);
  g_clear_pointer (&r->err, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Run, run_clear)

/* Runs `morango --data-dir <tmp>/<dev> cert ARGS…` with standard input
 * from /dev/null, as a script would. */
static void
morango_v (Run        *r,
           const char *description,
           const char *global,
           const char *dev,
           va_list     args)
{
  const char *cli = g_getenv ("MORANGO_CLI");
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_auto(GStrv) envp = g_get_environ ();
  g_autoptr(GError) error = NULL;
  const char *a;
  int wait_status = 0;

  g_assert_nonnull (cli);
  g_ptr_array_add (argv, g_strdup (cli));
  g_ptr_array_add (argv, g_strdup ("--data-dir"));
  g_ptr_array_add (argv, g_build_filename (tmp, dev, NULL));
  if (global)
    {
      g_ptr_array_add (argv, g_strdup ("--description"));
      g_ptr_array_add (argv, g_strdup (global));
    }
  g_ptr_array_add (argv, g_strdup ("cert"));
  while ((a = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, g_strdup (a));
  g_ptr_array_add (argv, NULL);

  envp = g_environ_setenv (envp, "MORANGO_PROFILES_DIR", profiles_dir, TRUE);
  if (description)
    envp = g_environ_setenv (envp, "MORANGO_DESCRIPTION", description, TRUE);
  else
    envp = g_environ_unsetenv (envp, "MORANGO_DESCRIPTION");
  g_spawn_sync (NULL, (char **) argv->pdata, envp, G_SPAWN_STDIN_FROM_DEV_NULL, NULL, NULL,
                &r->out, &r->err, &wait_status, &error);
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (wait_status));
  r->status = WEXITSTATUS (wait_status);
  {
    /* The TAP log wants UTF-8, even when a test passes other bytes. */
    g_autofree char *sub = g_strescape (argv->pdata[global ? 6 : 4], NULL);

    g_test_message ("cert %s → %d\n%s%s", sub, r->status, r->out, r->err);
  }
}

static void
morango (Run        *r,
         const char *dev,
         ...)
{
  va_list args;

  va_start (args, dev);
  morango_v (r, "cli-vectors", NULL, dev, args);
  va_end (args);
}

/* The same with $MORANGO_DESCRIPTION set to @description (NULL: unset)
 * and, when @global is not NULL, "--description @global" before
 * "cert". */
static void
morango_described (Run        *r,
                   const char *description,
                   const char *global,
                   const char *dev,
                   ...)
{
  va_list args;

  va_start (args, dev);
  morango_v (r, description, global, dev, args);
  va_end (args);
}

static char *
path_in_tmp (const char *name)
{
  return g_build_filename (tmp, name, NULL);
}

static int
file_mode (const char *path)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return st.st_mode & 0777;
}

static char *root_id;

static void
test_create_root (void)
{
  g_auto(Run) r = { 0 };
  g_autofree char *dir = path_in_tmp ("a");
  g_autofree char *db = path_in_tmp ("a/morango.db");

  morango (&r, "a", "create-root", "--scope", "root_scope", "--profile", "facilitydata", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_strstrip (r.out);
  g_assert_cmpuint (strlen (r.out), ==, 32);
  root_id = g_strdup (r.out);
  g_assert_cmpint (file_mode (dir), ==, 0700);
  g_assert_cmpint (file_mode (db), ==, 0600);
  run_clear (&r);

  /* Refusals: unknown definition, one that cannot be a root, another
   * profile; a missing --scope is a usage error. */
  morango (&r, "a", "create-root", "--scope", "nope", NULL);
  g_assert_cmpint (r.status, ==, 3);
  run_clear (&r);
  morango (&r, "a", "create-root", "--scope", "single-user", NULL);
  g_assert_cmpint (r.status, ==, 3);
  g_assert_nonnull (strstr (r.err, "primary scope param"));
  run_clear (&r);
  morango (&r, "a", "create-root", "--scope", "root_scope", "--profile", "otherprofile", NULL);
  g_assert_cmpint (r.status, ==, 3);
  run_clear (&r);
  morango (&r, "a", "create-root", NULL);
  g_assert_cmpint (r.status, ==, 2);
  run_clear (&r);
  morango (&r, "a", "frobnicate", NULL);
  g_assert_cmpint (r.status, ==, 2);
  run_clear (&r);

  /* Issue 13 point 5: a --param that would be dropped is a usage error:
   * the primary scope param key (the root's id goes there) and a key
   * given twice.  No root is made. */
  morango (&r, "a", "create-root", "--scope", "root_scope", "--param", "user=me", NULL);
  g_assert_cmpint (r.status, ==, 2);
  g_assert_nonnull (strstr (r.err, "user"));
  run_clear (&r);
  morango (&r, "a", "create-root", "--scope", "root_scope", "--param", "note=1", "--param", "note=2", NULL);
  g_assert_cmpint (r.status, ==, 2);
  g_assert_nonnull (strstr (r.err, "twice"));
  run_clear (&r);
  morango (&r, "a", "list", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (strchr (r.out, '\n'), ==, "\n");
  run_clear (&r);
  /* Other keys are kept. */
  morango (&r, "f", "create-root", "--scope", "root_scope", "--param", "note=kept", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_strstrip (r.out);
  {
    g_autofree char *id = g_strdup (r.out);

    run_clear (&r);
    morango (&r, "f", "show", id, NULL);
    g_assert_nonnull (strstr (r.out, "\"note\": \"kept\""));
  }
}

static void
test_list_show (void)
{
  g_auto(Run) r = { 0 };

  morango (&r, "a", "list", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, root_id));
  g_assert_nonnull (strstr (r.out, "own-key"));
  g_assert_nonnull (strstr (r.out, "trusted"));
  run_clear (&r);

  morango (&r, "a", "show", root_id, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "fingerprint:"));
  g_assert_nonnull (strstr (r.out, "read:"));
  g_assert_nonnull (strstr (r.out, "write:"));
  g_assert_nonnull (strstr (r.out, "root_scope"));
  run_clear (&r);

  morango (&r, "a", "show", "0123456789abcdef0123456789abcdef", NULL);
  g_assert_cmpint (r.status, ==, 4);
  run_clear (&r);

  /* --data-dir after the subcommand wins over the one before. */
  {
    g_autofree char *dir = path_in_tmp ("a");
    g_autofree char *unused = path_in_tmp ("unused");

    morango (&r, "unused", "list", "--data-dir", dir, NULL);
    g_assert_cmpint (r.status, ==, 0);
    g_assert_nonnull (strstr (r.out, root_id));
    g_assert_false (g_file_test (unused, G_FILE_TEST_EXISTS));
  }
}

static void
test_export_import_trust (void)
{
  g_auto(Run) r = { 0 };
  g_autofree char *file = path_in_tmp ("a-chain.json");
  g_autofree char *text = NULL;

  morango (&r, "a", "export", root_id, file, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_true (g_file_get_contents (file, &text, NULL, NULL));
  g_assert_null (strstr (text, "PRIVATE"));
  g_assert_true (text[0] == '[');
  run_clear (&r);

  /* Another device refuses a root it was not told to trust, says which
   * and how, and keeps nothing. */
  morango (&r, "b", "import", file, NULL);
  g_assert_cmpint (r.status, ==, 3);
  g_assert_nonnull (strstr (r.err, root_id));
  g_assert_nonnull (strstr (r.err, "morango cert trust"));
  run_clear (&r);
  morango (&r, "b", "list", NULL);
  g_assert_cmpstr (r.out, ==, "");
  run_clear (&r);

  morango (&r, "b", "trust", file, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, root_id));
  run_clear (&r);
  /* Twice is fine and changes nothing. */
  morango (&r, "b", "import", file, NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_clear (&r);
  morango (&r, "b", "list", NULL);
  g_assert_nonnull (strstr (r.out, root_id));
  g_assert_null (strstr (r.out, "own-key"));
  /* One line: the root, nothing else. */
  g_assert_nonnull (strchr (r.out, '\n'));
  g_assert_cmpstr (strchr (r.out, '\n'), ==, "\n");
  run_clear (&r);

  morango (&r, "b", "import", "/nonexistent/chain.json", NULL);
  g_assert_cmpint (r.status, ==, 4);
}

/* Morango's chain K, as the API sends it (root first). */
static char *
write_vector_chain (const char *name,
                    gboolean    tamper)
{
  g_autoptr(JsonNode) root = morango_test_load_vectors ("certificates.json");
  JsonArray *chains = json_object_get_array_member (json_node_get_object (root), "chains");
  JsonArray *certs = json_object_get_array_member (json_array_get_object_element (chains, 0), "certificates");
  g_autoptr(JsonArray) out = json_array_new ();
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *text = NULL;
  char *path = path_in_tmp (name);

  for (guint i = 0; i < json_array_get_length (certs); i++)
    {
      JsonNode *copy = json_node_copy (json_object_get_member (json_array_get_object_element (certs, i),
                                                               "api_object"));

      /* The leaf carrying its parent's signature. */
      if (tamper && i == 2)
        json_object_set_string_member (json_node_get_object (copy), "signature",
                                       json_object_get_string_member (json_object_get_object_member (
                                         json_array_get_object_element (certs, 1), "api_object"), "signature"));
      json_array_add_element (out, copy);
    }
  node = json_node_init_array (json_node_alloc (), out);
  text = json_to_string (node, TRUE);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  return path;
}

static void
test_vector_chain (void)
{
  g_auto(Run) r = { 0 };
  g_autofree char *bad = write_vector_chain ("k-bad.json", TRUE);
  g_autofree char *good = write_vector_chain ("k.json", FALSE);

  /* A forged link is refused even when asked to trust the root, and
   * nothing of the chain stays. */
  morango (&r, "c", "trust", bad, NULL);
  g_assert_cmpint (r.status, ==, 3);
  run_clear (&r);
  morango (&r, "c", "list", NULL);
  g_assert_cmpstr (r.out, ==, "");
  run_clear (&r);

  morango (&r, "c", "trust", good, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "8fd90aa52ea69b359379227d97f6b712"));
  run_clear (&r);
  morango (&r, "c", "list", NULL);
  g_assert_nonnull (strstr (r.out, "4d67e9688591a7fedc87805d9cd0bdb8"));
  run_clear (&r);
  morango (&r, "c", "show", "4d67e9688591a7fedc87805d9cd0bdb8", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, ":user-rw:"));
}

static void
test_backup_restore (void)
{
  g_auto(Run) r = { 0 };
  g_autofree char *backup = path_in_tmp ("a.backup");
  g_autofree char *pass = path_in_tmp ("pass");
  g_autofree char *wrong = path_in_tmp ("wrong");

  g_assert_true (g_file_set_contents (pass, "long enough passphrase\n", -1, NULL));
  g_assert_true (g_file_set_contents (wrong, "not it\n", -1, NULL));

  /* No prompt without a terminal: a usage error instead. */
  morango (&r, "a", "backup", root_id, backup, NULL);
  g_assert_cmpint (r.status, ==, 2);
  g_assert_false (g_file_test (backup, G_FILE_TEST_EXISTS));
  run_clear (&r);

  morango (&r, "a", "backup", root_id, backup, "--passphrase-file", pass, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpint (file_mode (backup), ==, 0600);
  run_clear (&r);

  morango (&r, "d", "restore", backup, "--passphrase-file", wrong, NULL);
  g_assert_cmpint (r.status, ==, 3);
  run_clear (&r);
  morango (&r, "d", "list", NULL);
  g_assert_cmpstr (r.out, ==, "");
  run_clear (&r);

  morango (&r, "d", "restore", backup, "--passphrase-file", pass, NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_clear (&r);
  morango (&r, "d", "list", NULL);
  g_assert_nonnull (strstr (r.out, root_id));
  g_assert_nonnull (strstr (r.out, "own-key"));
  g_assert_nonnull (strstr (r.out, "trusted"));
  run_clear (&r);

  /* A device without the private key has nothing to back up. */
  morango (&r, "b", "backup", root_id, backup, "--passphrase-file", pass, NULL);
  g_assert_cmpint (r.status, ==, 3);
}

static void
assert_file_is (const char *path,
                const char *expected)
{
  g_autofree char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  g_assert_cmpstr (text, ==, expected);
}

/* Issue 13 point 5: backup never overwrites without --force, never its
 * own passphrase file, and "-" is standard output. */
static void
test_backup_files (void)
{
  g_auto(Run) r = { 0 };
  g_autofree char *pass = path_in_tmp ("pass5");
  g_autofree char *sym = path_in_tmp ("pass5-link");
  g_autofree char *hard = path_in_tmp ("pass5-hard");
  g_autofree char *existing = path_in_tmp ("existing.backup");
  g_autofree char *fresh = path_in_tmp ("fresh.backup");
  g_autofree char *dir = path_in_tmp ("a-dir");
  g_autofree char *text = NULL;

  g_assert_true (g_file_set_contents (pass, "long enough passphrase\n", -1, NULL));
  g_assert_true (g_file_set_contents (existing, "keep me\n", -1, NULL));
  g_assert_cmpint (symlink (pass, sym), ==, 0);
  g_assert_cmpint (link (pass, hard), ==, 0);

  /* An existing file stays as it is without --force. */
  morango (&r, "a", "backup", root_id, existing, "--passphrase-file", pass, NULL);
  g_assert_cmpint (r.status, ==, 3);
  g_assert_nonnull (strstr (r.err, "--force"));
  assert_file_is (existing, "keep me\n");
  run_clear (&r);
  morango (&r, "a", "backup", root_id, existing, "--passphrase-file", pass, "--force", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpint (file_mode (existing), ==, 0600);
  g_assert_true (g_file_get_contents (existing, &text, NULL, NULL));
  g_assert_nonnull (strstr (text, "morango-certificate-backup"));
  g_clear_pointer (&text, g_free);
  run_clear (&r);

  /* The passphrase file, by any name, even with --force. */
  morango (&r, "a", "backup", root_id, pass, "--passphrase-file", pass, "--force", NULL);
  g_assert_cmpint (r.status, ==, 3);
  g_assert_nonnull (strstr (r.err, "passphrase file"));
  run_clear (&r);
  morango (&r, "a", "backup", root_id, hard, "--passphrase-file", sym, "--force", NULL);
  g_assert_cmpint (r.status, ==, 3);
  g_assert_nonnull (strstr (r.err, "passphrase file"));
  run_clear (&r);
  assert_file_is (pass, "long enough passphrase\n");

  /* A new file is made, mode 0600. */
  morango (&r, "a", "backup", root_id, fresh, "--passphrase-file", pass, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpint (file_mode (fresh), ==, 0600);
  run_clear (&r);

  /* "-" is standard output, as for export, and restores elsewhere. */
  morango (&r, "a", "backup", root_id, "-", "--passphrase-file", pass, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "\"morango-certificate-backup\""));
  {
    g_autofree char *copy = path_in_tmp ("stdout.backup");

    g_assert_true (g_file_set_contents (copy, r.out, -1, NULL));
    run_clear (&r);
    morango (&r, "h", "restore", copy, "--passphrase-file", pass, NULL);
    g_assert_cmpint (r.status, ==, 0);
  }
  run_clear (&r);

  /* A directory is not written into. */
  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  morango (&r, "a", "backup", root_id, dir, "--passphrase-file", pass, "--force", NULL);
  g_assert_cmpint (r.status, ==, 1);
  g_assert_nonnull (strstr (r.err, "is a directory"));
  run_clear (&r);

  /* --force belongs to backup alone. */
  morango (&r, "a", "export", root_id, "-", "--force", NULL);
  g_assert_cmpint (r.status, ==, 2);
}

/* A copy of @backup with its "version" set to @version (NULL: removed). */
static char *
backup_with_version (const char *backup,
                     const char *name,
                     const char *version)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *text = NULL;
  char *path = path_in_tmp (name);
  JsonObject *o;

  g_assert_true (json_parser_load_from_file (parser, backup, NULL));
  o = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpint (json_object_get_int_member (o, "version"), ==, 1);
  if (version == NULL)
    json_object_remove_member (o, "version");
  else
    json_object_set_member (o, "version", json_from_string (version, NULL));
  text = json_to_string (json_parser_get_root (parser), FALSE);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  return path;
}

/* Issue 13 point 5: a backup of another version, a backup given to
 * import or trust, a directory given as a file. */
static void
test_file_kinds (void)
{
  g_auto(Run) r = { 0 };
  g_autofree char *backup = path_in_tmp ("fresh.backup");
  g_autofree char *pass = path_in_tmp ("pass5");
  g_autofree char *dir = path_in_tmp ("a-dir");
  g_autofree char *v2 = backup_with_version (backup, "v2.backup", "2");
  g_autofree char *vs = backup_with_version (backup, "vs.backup", "\"1\"");
  g_autofree char *v0 = backup_with_version (backup, "v0.backup", NULL);
  const char *versions[] = { v2, vs, v0 };
  const char *chain_cmds[] = { "import", "trust" };

  for (guint i = 0; i < G_N_ELEMENTS (versions); i++)
    {
      morango (&r, "g", "restore", versions[i], "--passphrase-file", pass, NULL);
      g_assert_cmpint (r.status, ==, 3);
      g_assert_nonnull (strstr (r.err, "version"));
      run_clear (&r);
    }
  morango (&r, "g", "list", NULL);
  g_assert_cmpstr (r.out, ==, "");
  run_clear (&r);

  for (guint i = 0; i < G_N_ELEMENTS (chain_cmds); i++)
    {
      morango (&r, "g", chain_cmds[i], backup, NULL);
      g_assert_cmpint (r.status, ==, 3);
      g_assert_nonnull (strstr (r.err, "cert restore"));
      run_clear (&r);
    }
  morango (&r, "g", "list", NULL);
  g_assert_cmpstr (r.out, ==, "");
  run_clear (&r);

  /* A directory is not a file: exit 1, a plain message. */
  morango (&r, "g", "import", dir, NULL);
  g_assert_cmpint (r.status, ==, 1);
  g_assert_nonnull (strstr (r.err, "is a directory"));
  run_clear (&r);
  morango (&r, "g", "trust", dir, NULL);
  g_assert_cmpint (r.status, ==, 1);
  g_assert_nonnull (strstr (r.err, "is a directory"));
  run_clear (&r);
  morango (&r, "g", "restore", dir, "--passphrase-file", pass, NULL);
  g_assert_cmpint (r.status, ==, 1);
  g_assert_nonnull (strstr (r.err, "is a directory"));
  run_clear (&r);
  morango (&r, "a", "export", root_id, dir, NULL);
  g_assert_cmpint (r.status, ==, 1);
  g_assert_nonnull (strstr (r.err, "is a directory"));
}

/* Issue 13 point 5: a description named (MORANGO_DESCRIPTION or
 * --description) must be the folder's; none named means the folder's. */
static void
test_description (void)
{
  g_auto(Run) r = { 0 };
  g_autofree char *new_db = path_in_tmp ("i/morango.db");

  morango_described (&r, "kolibri-like", NULL, "a", "list", NULL);
  g_assert_cmpint (r.status, ==, 1);
  g_assert_nonnull (strstr (r.err, "MORANGO_DESCRIPTION"));
  g_assert_nonnull (strstr (r.err, "“cli-vectors”"));
  g_assert_nonnull (strstr (r.err, "“kolibri-like”"));
  g_assert_cmpstr (r.out, ==, "");
  run_clear (&r);

  morango_described (&r, NULL, NULL, "a", "list", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, root_id));
  run_clear (&r);
  morango_described (&r, "", NULL, "a", "list", NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_clear (&r);

  /* --description, after or before "cert", wins over the variable. */
  morango_described (&r, "cli-vectors", NULL, "a", "list", "--description", "kolibri-like", NULL);
  g_assert_cmpint (r.status, ==, 1);
  g_assert_nonnull (strstr (r.err, "--description"));
  run_clear (&r);
  morango_described (&r, "cli-vectors", "kolibri-like", "a", "list", NULL);
  g_assert_cmpint (r.status, ==, 1);
  g_assert_nonnull (strstr (r.err, "--description"));
  run_clear (&r);
  morango_described (&r, "kolibri-like", NULL, "a", "list", "--description", "cli-vectors", NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_clear (&r);

  /* A new folder takes the description named, and keeps it. */
  morango_described (&r, NULL, "morango-testapp", "i", "list", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_true (g_file_test (new_db, G_FILE_TEST_EXISTS));
  run_clear (&r);
  morango_described (&r, "cli-vectors", NULL, "i", "list", NULL);
  g_assert_cmpint (r.status, ==, 1);
  g_assert_nonnull (strstr (r.err, "“morango-testapp”"));
  run_clear (&r);
  morango_described (&r, NULL, NULL, "i", "list", "--description", "morango-testapp", NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_clear (&r);
  /* A usage error with --description still makes nothing. */
  morango_described (&r, NULL, NULL, "j", "frobnicate", "--description", "morango-testapp", NULL);
  g_assert_cmpint (r.status, ==, 2);
  {
    g_autofree char *j = path_in_tmp ("j");
    g_assert_false (g_file_test (j, G_FILE_TEST_EXISTS));
  }
}

/* --- Issue 13: outside text never reaches the terminal raw ------- */

/* ESC (a screen clear and a title change), BEL, CR, the C1 CSI U+009B,
 * DEL, a right-to-left override and a newline. */
#define EVIL "\x1b[2J\x1b]0;pwned\x07\r\xc2\x9b" "31m\x7f\xe2\x80\xae\n"

/* A certificate signed by @signer over a text built by hand, as a peer
 * could send it; its API object. */
static JsonObject *
evil_cert (const char *parent_id,
           const char *profile,
           const char *salt,
           const char *scope_def,
           const char *params,
           MorangoKey *key,
           MorangoKey *signer,
           char      **id_out)
{
  g_autoptr(MorangoCertificate) c = morango_test_forge (NULL, parent_id, profile, salt, scope_def,
                                                        params, key, signer);

  if (id_out)
    *id_out = g_strdup (morango_certificate_get_id (c));
  return morango_certificate_to_json (c);
}

static char *
write_chain (const char *name,
             JsonObject *first,
             JsonObject *second)
{
  g_autoptr(JsonArray) out = json_array_new ();
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *text = NULL;
  char *path = path_in_tmp (name);

  json_array_add_object_element (out, first);
  if (second)
    json_array_add_object_element (out, second);
  node = json_node_init_array (json_node_alloc (), json_array_ref (out));
  text = json_to_string (node, TRUE);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  return path;
}

/* None of the injected bytes, and no control character but the CLI's
 * own newlines and tabs. */
static void
assert_clean (const char *what,
              const char *text)
{
  g_test_message ("checking %s", what);
  for (const guchar *p = (const guchar *) text; *p; p++)
    {
      if (*p < 0x20 && *p != '\n' && *p != '\t')
        g_error ("%s: control byte 0x%02x at offset %td", what, *p, (const char *) p - text);
      g_assert_cmpint (*p, !=, 0x7f);
      if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
        g_error ("%s: C1 control U+%04X at offset %td", what, p[1], (const char *) p - text);
      if (p[0] == 0xe2 && p[1] == 0x80 && p[2] == 0xae)
        g_error ("%s: right-to-left override at offset %td", what, (const char *) p - text);
    }
}

static void
assert_run_clean (Run *r, const char *what)
{
  g_autofree char *out = g_strdup_printf ("%s (stdout)", what);
  g_autofree char *err = g_strdup_printf ("%s (stderr)", what);

  assert_clean (out, r->out);
  assert_clean (err, r->err);
}

#define ESCAPED_EVIL "\\x1b[2J\\x1b]0;pwned\\x07\\x0d\\u{9b}31m\\x7f\\u{202e}\\x0a"

static void
test_escape (void)
{
  g_auto(Run) r = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoKey) root_key = morango_key_generate (&error);
  g_autoptr(MorangoKey) child_key = morango_key_generate (&error);
  g_autofree char *root_id = NULL, *child_id = NULL, *bad_id = NULL;
  g_autofree char *root_params = NULL, *child_params = NULL, *id = NULL;
  g_autofree char *good = NULL, *bad = NULL, *exported = NULL, *text = NULL;
  /* A root's profile must be its scope definition's (issue 13 point 5),
   * so the stored chain keeps "facilitydata"; the control characters in
   * a profile are checked in the message refusing them. */
  const char *profile = "facilitydata";
  const char *evil_profile = "fac" EVIL "école";
  JsonObject *root, *child;

  g_assert_no_error (error);
  id = morango_certificate_compute_id (morango_key_get_public_string (root_key), profile, EVIL "salt");
  /* Extra params are carried along; the child's "sub" lands in its
   * filters and description (no CR or newline there: those split a
   * filter into entries). */
  root_params = g_strdup_printf ("{\"user\": \"%s\", \"note\": \"\\u001b[2J\\u0007\\r\\u009b\\nécole\"}", id);
  root = evil_cert (NULL, profile, EVIL "salt", "root_scope", root_params, root_key, root_key, &root_id);
  g_assert_cmpstr (root_id, ==, id);
  child_params = g_strdup_printf ("{\"user\": \"%s\", \"sub\": \"\\u001b[31m\\u0007\\u009bécole\"}", root_id);
  child = evil_cert (root_id, profile, EVIL "child salt", "subset_scope", child_params, child_key, root_key,
                     &child_id);
  good = write_chain ("evil.json", root, child);

  /* A root whose profile is not its scope definition's is refused, even
   * when asked to trust it; the message quotes both, escaped. */
  {
    g_autofree char *other_id = NULL;
    g_autofree char *other_params = NULL;
    g_autofree char *other = NULL;
    g_autofree char *other_expected = morango_certificate_compute_id (morango_key_get_public_string (root_key),
                                                                      evil_profile, "p");

    other_params = g_strdup_printf ("{\"user\": \"%s\"}", other_expected);
    other = write_chain ("evil-profile.json",
                         evil_cert (NULL, evil_profile, "p", "root_scope", other_params, root_key, root_key,
                                    &other_id),
                         NULL);
    morango (&r, "e", "trust", other, NULL);
    assert_run_clean (&r, "trust evil profile");
    g_assert_cmpint (r.status, ==, 3);
    g_assert_nonnull (strstr (r.err, "fac" ESCAPED_EVIL "école"));
    g_assert_nonnull (strstr (r.err, "belongs to profile “facilitydata”"));
    run_clear (&r);
    morango (&r, "e", "list", NULL);
    g_assert_cmpstr (r.out, ==, "");
    run_clear (&r);
  }

  /* Not trusted yet: refused, the message names the root. */
  morango (&r, "e", "import", good, NULL);
  assert_run_clean (&r, "import untrusted");
  g_assert_cmpint (r.status, ==, 3);
  g_assert_nonnull (strstr (r.err, root_id));
  run_clear (&r);

  morango (&r, "e", "trust", good, NULL);
  assert_run_clean (&r, "trust");
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, child_id));
  run_clear (&r);
  morango (&r, "e", "import", good, NULL);
  assert_run_clean (&r, "import again");
  g_assert_cmpint (r.status, ==, 0);
  run_clear (&r);

  morango (&r, "e", "list", NULL);
  assert_run_clean (&r, "list");
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "facilitydata"));
  g_assert_nonnull (strstr (r.out, "trusted"));
  run_clear (&r);

  morango (&r, "e", "show", root_id, NULL);
  assert_run_clean (&r, "show root");
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "facilitydata"));
  g_assert_nonnull (strstr (r.out, ESCAPED_EVIL "salt"));
  run_clear (&r);

  morango (&r, "e", "show", child_id, NULL);
  assert_run_clean (&r, "show child");
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "facilitydata"));
  g_assert_nonnull (strstr (r.out, ESCAPED_EVIL "child salt"));
  /* The description and the write filter quote "sub". */
  g_assert_nonnull (strstr (r.out, "for :\\x1b[31m\\x07\\u{9b}école."));
  g_assert_nonnull (strstr (r.out, ":\\x1b[31m\\x07\\u{9b}école\n"));
  run_clear (&r);

  /* Standard output gets the same JSON, written without C1 bytes. */
  morango (&r, "e", "export", child_id, "-", NULL);
  assert_run_clean (&r, "export -");
  g_assert_cmpint (r.status, ==, 0);
  {
    g_autoptr(JsonParser) parser = json_parser_new ();
    JsonArray *arr;

    g_assert_true (json_parser_load_from_data (parser, r.out, -1, NULL));
    arr = json_node_get_array (json_parser_get_root (parser));
    g_assert_cmpuint (json_array_get_length (arr), ==, 2);
    g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (arr, 0), "profile"), ==,
                     profile);
  }
  run_clear (&r);
  /* A file is written as before, and reads back. */
  exported = path_in_tmp ("evil-export.json");
  morango (&r, "e", "export", child_id, exported, NULL);
  assert_run_clean (&r, "export FILE");
  g_assert_cmpint (r.status, ==, 0);
  run_clear (&r);
  morango (&r, "e", "import", exported, NULL);
  assert_run_clean (&r, "import exported");
  g_assert_cmpint (r.status, ==, 0);
  run_clear (&r);

  /* A scope definition with control characters is refused, and the
   * message quoting it is escaped. */
  bad = write_chain ("evil-scope.json",
                     evil_cert (NULL, "facilitydata", "other", "root_scope" EVIL, "{}", root_key, root_key, &bad_id),
                     NULL);
  morango (&r, "e", "trust", bad, NULL);
  assert_run_clean (&r, "trust bad scope");
  g_assert_cmpint (r.status, ==, 3);
  g_assert_nonnull (strstr (r.err, "root_scope" ESCAPED_EVIL));
  g_assert_null (strstr (r.out, "Imported"));
  run_clear (&r);
  morango (&r, "e", "import", bad, NULL);
  assert_run_clean (&r, "import bad scope");
  g_assert_cmpint (r.status, ==, 3);
  run_clear (&r);

  /* Invalid UTF-8 in a message (here an unknown subcommand) is escaped
   * byte by byte. */
  morango (&r, "e", "\xff\x1b[2Jécole", NULL);
  assert_run_clean (&r, "bad subcommand");
  g_assert_cmpint (r.status, ==, 2);
  g_assert_nonnull (strstr (r.err, "\\xff\\x1b[2Jécole"));
}

int
main (int argc, char *argv[])
{
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(JsonObject) profile = json_object_new ();
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *text = NULL;
  g_autofree char *path = NULL;
  int rc;

  g_test_init (&argc, &argv, NULL);
  tmp = morango_test_tmpdir ();
  profiles_dir = g_build_filename (tmp, "profiles", NULL);
  g_assert_cmpint (g_mkdir (profiles_dir, 0700), ==, 0);
  /* A description with the test app's models and every scope
   * definition of the certificate vectors. */
  root = morango_test_load_vectors ("certificates.json");
  {
    g_autofree char *testapp_path = g_build_filename (g_getenv ("MORANGO_PROFILES_DIR"),
                                                      "morango-testapp.json", NULL);
    g_autoptr(JsonParser) parser = json_parser_new ();
    JsonArray *defs = json_object_get_array_member (json_node_get_object (root), "scope_definitions");
    g_autoptr(JsonArray) same_profile = json_array_new ();
    g_autoptr(GError) error = NULL;

    json_parser_load_from_file (parser, testapp_path, &error);
    g_assert_no_error (error);
    json_object_unref (profile);
    profile = json_object_ref (json_node_get_object (json_parser_get_root (parser)));
    for (guint i = 0; i < json_array_get_length (defs); i++)
      {
        JsonObject *def = json_array_get_object_element (defs, i);
        if (g_str_equal (json_object_get_string_member (def, "profile"), "facilitydata"))
          json_array_add_object_element (same_profile, json_object_ref (def));
      }
    json_object_set_string_member (profile, "description_id", "cli-vectors");
    json_object_set_array_member (profile, "scope_definitions", json_array_ref (same_profile));
  }
  node = json_node_init_object (json_node_alloc (), profile);
  text = json_to_string (node, TRUE);
  path = g_build_filename (profiles_dir, "cli-vectors.json", NULL);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));

  /* Steps share devices, so they run in this order. */
  g_test_add_func ("/cli/cert/create-root", test_create_root);
  g_test_add_func ("/cli/cert/list-show", test_list_show);
  g_test_add_func ("/cli/cert/export-import-trust", test_export_import_trust);
  g_test_add_func ("/cli/cert/vector-chain", test_vector_chain);
  g_test_add_func ("/cli/cert/backup-restore", test_backup_restore);
  g_test_add_func ("/cli/cert/backup-files", test_backup_files);
  g_test_add_func ("/cli/cert/file-kinds", test_file_kinds);
  g_test_add_func ("/cli/cert/description", test_description);
  g_test_add_func ("/cli/cert/escape", test_escape);
  rc = g_test_run ();
  g_free (root_id);
  g_free (profiles_dir);
  g_free (tmp);
  return rc;
}
