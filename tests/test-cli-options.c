/* test-cli-options.c: the habits of the command line (issue 13, point 4)
 *
 * Through the real `morango` binary: one GOptionContext per subcommand,
 * --scope=S and --scope S alike, a missing value named, help per
 * command with the folder's scope definitions, usage mistakes in one
 * line and a hint, and a terminal given back when Ctrl+C ends a
 * passphrase prompt.
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "morango-test-util.h"

static char *tmp;

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
  r->status = -1;
}

static void run_auto (Run *r) { run_clear (r); }
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Run, run_auto)

/* morango ARGS… with standard input from /dev/null. */
static void
morango (Run *r,
         ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  const char *a;
  int wait_status = 0;
  va_list args;

  run_clear (r);
  g_ptr_array_add (argv, (gpointer) g_getenv ("MORANGO_CLI"));
  va_start (args, r);
  while ((a = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, (gpointer) a);
  va_end (args);
  g_ptr_array_add (argv, NULL);
  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_STDIN_FROM_DEV_NULL, NULL, NULL,
                &r->out, &r->err, &wait_status, &error);
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (wait_status));
  r->status = WEXITSTATUS (wait_status);
  g_test_message ("→ %d\n%s%s", r->status, r->out, r->err);
}

static guint
count_lines (const char *text)
{
  guint n = 0;

  for (const char *p = text; *p; p++)
    n += *p == '\n';
  return n;
}

/* A usage mistake: exit 2, two lines on standard error — what is wrong
 * and where the help is — and nothing on standard output. */
static void
assert_usage_mistake (Run        *r,
                      const char *says,
                      const char *help_of)
{
  g_autofree char *hint = g_strdup_printf ("Try “morango%s%s --help”.", help_of ? " " : "",
                                           help_of ? help_of : "");

  g_assert_cmpint (r->status, ==, 2);
  g_assert_cmpuint (count_lines (r->err), ==, 2);
  g_assert_nonnull (strstr (r->err, says));
  g_assert_nonnull (strstr (r->err, hint));
  g_assert_cmpstr (r->out, ==, "");
}

static char *
folder (const char *name)
{
  return g_build_filename (tmp, name, NULL);
}

static void
test_scope_forms (void)
{
  g_autofree char *a = folder ("forms-a");
  g_autofree char *b = folder ("forms-b");
  g_auto(Run) r = { 0 };

  /* --scope=S and --scope S; options before or after the subcommand. */
  morango (&r, "cert", "create-root", "--scope=full-facility", "--data-dir", a, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpuint (strlen (r.out), ==, 33);
  morango (&r, "cert", "--scope", "full-facility", "--data-dir", b, "create-root", NULL);
  g_assert_cmpint (r.status, ==, 0);
  morango (&r, "--data-dir", b, "cert", "list", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpuint (count_lines (r.out), ==, 1);
  /* The last --data-dir wins, wherever it is. */
  morango (&r, "--data-dir", b, "cert", "list", "--data-dir", a, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpuint (count_lines (r.out), ==, 1);
  morango (&r, "--data-dir", a, "cert", "create-root", "--scope", "full-facility", "--param=note=x", NULL);
  g_assert_cmpint (r.status, ==, 0);
  morango (&r, "--data-dir", a, "cert", "list", NULL);
  g_assert_cmpuint (count_lines (r.out), ==, 2);
}

static void
test_missing_values (void)
{
  g_autofree char *dir = folder ("missing");
  g_autofree char *cwd = g_get_current_dir ();
  g_auto(Run) r = { 0 };

  g_assert_cmpint (g_chdir (tmp), ==, 0);
  morango (&r, "cert", "list", "--data-dir", NULL);
  assert_usage_mistake (&r, "--data-dir", "cert list");
  morango (&r, "--data-dir", NULL);
  assert_usage_mistake (&r, "--data-dir", NULL);
  morango (&r, "cert", "list", "--data-dir=", NULL);
  assert_usage_mistake (&r, "--data-dir needs a directory", "cert list");
  morango (&r, "--data-dir", dir, "cert", "create-root", "--scope", NULL);
  assert_usage_mistake (&r, "--scope", "cert create-root");
  morango (&r, "--data-dir", dir, "cert", "create-root", NULL);
  assert_usage_mistake (&r, "--scope S is needed", "cert create-root");
  morango (&r, "--data-dir", dir, "cert", "create-root", "--scope", "full-facility", "--param", "novalue", NULL);
  assert_usage_mistake (&r, "KEY=VALUE", "cert create-root");
  morango (&r, "--data-dir", dir, "cert", "list", "--bogus", NULL);
  assert_usage_mistake (&r, "--bogus", "cert list");
  morango (&r, "--data-dir", dir, "cert", "list", "extra", NULL);
  assert_usage_mistake (&r, "takes no arguments", "cert list");
  morango (&r, "--data-dir", dir, "cert", "export", "x", NULL);
  assert_usage_mistake (&r, "ID FILE", "cert export");
  morango (&r, "--data-dir", dir, "cert", "frobnicate", NULL);
  assert_usage_mistake (&r, "frobnicate", "cert");
  morango (&r, "--data-dir", dir, "cert", NULL);
  assert_usage_mistake (&r, "subcommand", "cert");
  morango (&r, "--data-dir", dir, "frobnicate", NULL);
  assert_usage_mistake (&r, "frobnicate", NULL);
  morango (&r, "--data-dir", dir, "cert", "list", "--force", NULL);
  assert_usage_mistake (&r, "--force", "cert list");
  /* None of it made a folder, named or the default one. */
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
  {
    g_autofree char *xdg = folder ("xdg");

    g_assert_false (g_file_test (xdg, G_FILE_TEST_EXISTS));
  }
  g_assert_cmpint (g_chdir (cwd), ==, 0);
}

static void
test_help (void)
{
  g_autofree char *fresh = folder ("help-fresh");
  g_autofree char *testapp = folder ("help-testapp");
  g_auto(Run) r = { 0 };

  morango (&r, "--help", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "cert"));
  g_assert_nonnull (strstr (r.out, "--data-dir"));

  morango (&r, "cert", "--help", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "create-root"));
  g_assert_nonnull (strstr (r.out, "restore"));

  /* A subcommand's own options, and only those. */
  morango (&r, "cert", "backup", "--help", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "morango cert backup"));
  g_assert_nonnull (strstr (r.out, "--passphrase-file"));
  g_assert_nonnull (strstr (r.out, "--force"));
  g_assert_null (strstr (r.out, "--scope"));
  morango (&r, "cert", "list", "-h", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_null (strstr (r.out, "--passphrase-file"));
  g_assert_nonnull (strstr (r.out, "--data-dir"));

  /* create-root lists the scope definitions of the folder's profile:
   * for a folder not made yet, those of the description it would get,
   * without making it. */
  morango (&r, "cert", "create-root", "--help", "--data-dir", fresh, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "(kolibri-like)"));
  g_assert_nonnull (strstr (r.out, "full-facility"));
  g_assert_nonnull (strstr (r.out, "single-user"));
  g_assert_false (g_file_test (fresh, G_FILE_TEST_EXISTS));
  morango (&r, "--description", "morango-testapp", "cert", "create-root", "--help", "--data-dir", fresh, NULL);
  g_assert_nonnull (strstr (r.out, "root_scope"));
  g_assert_null (strstr (r.out, "full-facility"));
  g_assert_false (g_file_test (fresh, G_FILE_TEST_EXISTS));

  /* An existing folder: its own description's. */
  morango (&r, "--description", "morango-testapp", "--data-dir", testapp, "cert", "list", NULL);
  g_assert_cmpint (r.status, ==, 0);
  morango (&r, "--data-dir", testapp, "cert", "create-root", "--help", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "(morango-testapp)"));
  g_assert_nonnull (strstr (r.out, "subset_scope"));
}

static void
test_unknown_scope (void)
{
  g_autofree char *fresh = folder ("scope-fresh");
  g_autofree char *existing = folder ("scope-existing");
  g_auto(Run) r = { 0 };

  morango (&r, "--data-dir", fresh, "cert", "create-root", "--scope", "everything", NULL);
  g_assert_cmpint (r.status, ==, 3);
  g_assert_nonnull (strstr (r.err, "“everything”"));
  g_assert_nonnull (strstr (r.err, "full-facility"));
  g_assert_nonnull (strstr (r.err, "single-user"));
  g_assert_false (g_file_test (fresh, G_FILE_TEST_EXISTS));

  morango (&r, "--data-dir", existing, "cert", "list", NULL);
  g_assert_cmpint (r.status, ==, 0);
  morango (&r, "--data-dir", existing, "cert", "create-root", "--scope=everything", NULL);
  g_assert_cmpint (r.status, ==, 3);
  g_assert_nonnull (strstr (r.err, "full-facility"));
  g_assert_nonnull (strstr (r.err, "single-user"));
}

/* Reads the pty until @want shows up (or the child closes it). */
static gboolean
read_until (int         master,
            const char *want,
            GString    *seen)
{
  while (strstr (seen->str, want) == NULL)
    {
      struct pollfd p = { master, POLLIN, 0 };
      char buf[256];
      ssize_t n;

      /* A guard against a hang, not a measure of time. */
      if (poll (&p, 1, 60000) <= 0)
        return FALSE;
      n = read (master, buf, sizeof buf);
      if (n <= 0)
        return FALSE;
      g_string_append_len (seen, buf, n);
    }
  return TRUE;
}

static void
test_interrupted_prompt (void)
{
  g_autofree char *dir = folder ("prompt-dir");
  g_autofree char *out = folder ("prompt-backup.json");
  g_autoptr(GString) seen = g_string_new (NULL);
  g_auto(Run) r = { 0 };
  g_autofree char *id = NULL;
  struct termios t;
  int master, slave, status = 0;
  pid_t pid;

  morango (&r, "--data-dir", dir, "cert", "create-root", "--scope", "full-facility", NULL);
  g_assert_cmpint (r.status, ==, 0);
  id = g_strstrip (g_strdup (r.out));

  g_assert_cmpint (openpty (&master, &slave, NULL, NULL, NULL), ==, 0);
  g_assert_cmpint (tcgetattr (slave, &t), ==, 0);
  g_assert_true (t.c_lflag & ECHO);
  g_assert_true (t.c_lflag & ISIG);

  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      const char *cli = g_getenv ("MORANGO_CLI");

      /* The pty becomes the controlling terminal, so Ctrl+C typed on it
       * signals the program. */
      setsid ();
      ioctl (slave, TIOCSCTTY, 0);
      dup2 (slave, 0);
      dup2 (slave, 1);
      dup2 (slave, 2);
      close (master);
      close (slave);
      execl (cli, cli, "--data-dir", dir, "cert", "backup", id, out, (char *) NULL);
      _exit (127);
    }

  g_assert_true (read_until (master, "Passphrase: ", seen));
  /* Echo is off while it asks… */
  g_assert_cmpint (tcgetattr (slave, &t), ==, 0);
  g_assert_false (t.c_lflag & ECHO);
  /* …and Ctrl+C ends the program with the terminal as it was. */
  g_assert_cmpint (write (master, "\x03", 1), ==, 1);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFSIGNALED (status));
  g_assert_cmpint (WTERMSIG (status), ==, SIGINT);
  g_assert_cmpint (tcgetattr (slave, &t), ==, 0);
  g_assert_true (t.c_lflag & ECHO);
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
  close (master);
  close (slave);
}

/* What people read goes through gettext; what scripts read does not. */
static void
test_translatable (void)
{
  g_autofree char *pot = g_build_filename (tmp, "cli.pot", NULL);
  g_autofree char *cli = g_test_build_filename (G_TEST_DIST, "..", "app", "morango-cli.c", NULL);
  g_autofree char *cert = g_test_build_filename (G_TEST_DIST, "..", "app", "morango-cli-cert.c", NULL);
  g_autofree char *text = NULL;
  const char *argv[] = { "xgettext", "--from-code=UTF-8", "-k_", "-kN_", "-o", pot, cli, cert, NULL };
  g_autoptr(GError) error = NULL;
  int status = 0;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status, &error);
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_true (g_file_get_contents (pot, &text, NULL, NULL));
  g_assert_nonnull (strstr (text, "msgid \"Try “morango%s%s --help”.\\n\""));
  g_assert_nonnull (strstr (text, "\"morango cert: unknown scope definition “%s”\\n"));
  g_assert_nonnull (strstr (text, "msgid \"Passphrase: \""));
  g_assert_nonnull (strstr (text, "is a directory"));
  g_assert_nonnull (strstr (text, "msgid \"fingerprint:\""));
  /* `cert list` is read by scripts: its words stay as they are. */
  g_assert_null (strstr (text, "msgid \"child of %s\""));
  g_assert_null (strstr (text, "msgid \"  own-key\""));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  tmp = morango_test_tmpdir ();
  g_setenv ("MORANGO_DESCRIPTION", "", TRUE);
  {
    /* Where the default folder would go: never made by these tests. */
    g_autofree char *xdg = folder ("xdg");

    g_setenv ("XDG_DATA_HOME", xdg, TRUE);
  }

  g_test_add_func ("/cli/options/scope-forms", test_scope_forms);
  g_test_add_func ("/cli/options/missing-values", test_missing_values);
  g_test_add_func ("/cli/options/help", test_help);
  g_test_add_func ("/cli/options/unknown-scope", test_unknown_scope);
  g_test_add_func ("/cli/options/interrupted-prompt", test_interrupted_prompt);
  g_test_add_func ("/cli/options/translatable", test_translatable);
  return g_test_run ();
}
