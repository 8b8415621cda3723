/* test-cli-account.c: `morango account …` end to end, through the built binary
 *
 * Accounts made, listed, changed and removed by the command; its
 * mistakes of usage; the password typed twice on a terminal; only a
 * hash in the database; and accounts the command made for the recorded
 * server's users, deciding the recorded signing requests as that server
 * did.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE   /* memmem */
#include <glib/gstdio.h>
#include <poll.h>
#include <pty.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "morango-account.h"
#include "morango-http-trust.h"
#include "morango-store.h"
#include "morango-test-util.h"
#include "morango-trust.h"

#define PASSWORD "tangerine wombat 42"

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
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Run, run_clear)

static char *
path_in_tmp (const char *name)
{
  return g_build_filename (tmp, name, NULL);
}

/* Runs `morango --data-dir <tmp>/<dev> [--description D] account ARGS…`
 * with standard input from /dev/null, as a script would. */
static void
account_v (Run        *r,
           const char *dev,
           const char *description,
           va_list     args)
{
  const char *cli = g_getenv ("MORANGO_CLI");
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) line = g_string_new ("account");
  const char *a;
  int wait_status = 0;

  g_assert_nonnull (cli);
  g_ptr_array_add (argv, g_strdup (cli));
  g_ptr_array_add (argv, g_strdup ("--data-dir"));
  g_ptr_array_add (argv, path_in_tmp (dev));
  if (description != NULL)
    {
      g_ptr_array_add (argv, g_strdup ("--description"));
      g_ptr_array_add (argv, g_strdup (description));
    }
  g_ptr_array_add (argv, g_strdup ("account"));
  while ((a = va_arg (args, const char *)) != NULL)
    {
      g_ptr_array_add (argv, g_strdup (a));
      g_string_append_printf (line, " %s", a);
    }
  g_ptr_array_add (argv, NULL);
  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_STDIN_FROM_DEV_NULL, NULL, NULL,
                &r->out, &r->err, &wait_status, &error);
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (wait_status));
  r->status = WEXITSTATUS (wait_status);
  g_test_message ("%s → %d\n%s%s", line->str, r->status, r->out, r->err);
}

static void
account (Run        *r,
         const char *dev,
         ...)
{
  va_list args;

  va_start (args, dev);
  account_v (r, dev, NULL, args);
  va_end (args);
}

static void
account_described (Run        *r,
                   const char *dev,
                   const char *description,
                   ...)
{
  va_list args;

  va_start (args, description);
  account_v (r, dev, description, args);
  va_end (args);
}

static char *
password_file (const char *name,
               const char *content)
{
  char *path = path_in_tmp (name);

  g_assert_true (g_file_set_contents (path, content, -1, NULL));
  return path;
}

static MorangoStore *
open_folder (const char *dev)
{
  g_autofree char *dir = path_in_tmp (dev);
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoHostInfo) host = morango_host_info_new ("cli-account", "node");
  g_autoptr(MorangoRandom) random = morango_random_new_secure ();
  MorangoStore *store = morango_store_open_folder (dir, NULL, host, random, &error);

  g_assert_no_error (error);
  return store;
}

/* Whether @password signs in as @name in folder @dev. */
static gboolean
signs_in (const char *dev,
          const char *name,
          const char *password)
{
  g_autoptr(MorangoStore) store = open_folder (dev);
  g_autoptr(MorangoAccount) account = morango_account_check (morango_store_get_db (store), name, password, NULL);

  return account != NULL;
}

/* Whether @needle appears anywhere in the bytes of @path (absent files
 * hold nothing). */
static gboolean
file_holds (const char *path,
            const char *needle)
{
  g_autofree char *data = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &data, &len, NULL))
    return FALSE;
  return memmem (data, len, needle, strlen (needle)) != NULL;
}

static void
test_commands (void)
{
  g_autofree char *pw = password_file ("pw", PASSWORD "\nsecond line ignored\n");
  g_autofree char *pw2 = password_file ("pw2", "another secret\r\n");
  g_auto(Run) r = { 0 };

  account (&r, "a", "add", "coach", "--scope", "single-user", "--password-file", pw, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, "");
  run_clear (&r);
  account (&r, "a", "add", "--scope=*", "--password-file", pw, "admin", NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_clear (&r);
  account (&r, "a", "add", "both", "--scope", "single-user", "--scope", "full-facility",
           "--password-file", pw, NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_clear (&r);

  /* One line each, sorted: name, scopes, when it was made. */
  account (&r, "a", "list", NULL);
  g_assert_cmpint (r.status, ==, 0);
  {
    g_auto(GStrv) lines = g_strsplit (r.out, "\n", -1);

    g_assert_cmpuint (g_strv_length (lines), ==, 4);
    g_assert_true (g_str_has_prefix (lines[0], "admin\t*\t"));
    g_assert_true (g_str_has_prefix (lines[1], "both\tfull-facility,single-user\t"));
    g_assert_true (g_str_has_prefix (lines[2], "coach\tsingle-user\t"));
    g_assert_true (g_str_has_suffix (lines[2], " UTC"));
    g_assert_cmpstr (lines[3], ==, "");
  }
  run_clear (&r);

  /* Only the first line of the file is the password; the database
   * holds a hash of it, never the text. */
  g_assert_true (signs_in ("a", "coach", PASSWORD));
  g_assert_false (signs_in ("a", "coach", PASSWORD "\nsecond line ignored"));
  {
    g_autoptr(MorangoStore) store = open_folder ("a");
    g_autofree char *stored = NULL;
    g_autoptr(GError) error = NULL;

    g_assert_true (morango_db_query_text (morango_store_get_db (store), &stored, &error,
                                          "SELECT password FROM morango_account WHERE name = ?", "s", "coach"));
    g_assert_no_error (error);
    g_assert_true (g_str_has_prefix (stored, "pbkdf2_sha256$"));
    g_assert_null (strstr (stored, PASSWORD));
  }
  {
    g_autofree char *db = path_in_tmp ("a/morango.db");
    g_autofree char *wal = path_in_tmp ("a/morango.db-wal");

    g_assert_true (file_holds (db, "coach") || file_holds (wal, "coach"));
    g_assert_false (file_holds (db, PASSWORD));
    g_assert_false (file_holds (wal, PASSWORD));
  }

  /* passwd: a new password, the same scopes. */
  account (&r, "a", "passwd", "coach", "--password-file", pw2, NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_clear (&r);
  g_assert_false (signs_in ("a", "coach", PASSWORD));
  g_assert_true (signs_in ("a", "coach", "another secret"));
  g_assert_true (signs_in ("a", "admin", PASSWORD));
  account (&r, "a", "list", NULL);
  g_assert_nonnull (strstr (r.out, "coach\tsingle-user\t"));
  run_clear (&r);

  /* remove: gone, the others stay. */
  account (&r, "a", "remove", "coach", NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_clear (&r);
  g_assert_false (signs_in ("a", "coach", "another secret"));
  account (&r, "a", "list", NULL);
  g_assert_null (strstr (r.out, "coach"));
  g_assert_nonnull (strstr (r.out, "admin\t*\t"));
  run_clear (&r);

  /* The last one removed: said, since pairing is now refused. */
  account (&r, "a", "remove", "both", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.err, ==, "");
  run_clear (&r);
  account (&r, "a", "remove", "admin", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.err, "no account is left"));
  run_clear (&r);
  account (&r, "a", "list", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, "");
  g_assert_nonnull (strstr (r.err, "No accounts"));
}

static void
test_usage (void)
{
  g_autofree char *pw = password_file ("usage-pw", PASSWORD "\n");
  g_autofree char *empty = password_file ("usage-empty", "\n");
  g_autofree char *missing = path_in_tmp ("no-such-file");
  g_autofree char *fresh = path_in_tmp ("fresh");
  g_auto(Run) r = { 0 };

  /* Mistakes of the command line, in a folder that does not exist:
   * told in one line and a hint, and nothing is created. */
  {
    static const char *const cases[][6] = {
      { NULL },
      { "frob", NULL },
      { "add", NULL },
      { "add", "x", NULL },                                   /* no --scope */
      { "add", "x", "y", "--scope", "*", NULL },
      { "add", "x", "--scope", NULL },
      { "add", "x", "--scope", "", NULL },
      { "add", "x", "--scope", "*", NULL },                   /* no password, no terminal */
      { "add", "x", "--scope", "*", "--password-file", NULL },
      { "add", "x", "--bogus", NULL },
      { "list", "extra", NULL },
      { "remove", NULL },
      { "remove", "a", "b", NULL },
      { "passwd", NULL },
      { "remove", "x", "--scope", "*", NULL },                /* not an option of remove */
    };

    for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
      {
        const char *const *c = cases[i];

        account (&r, "fresh", c[0], c[1], c[2], c[3], c[4], c[5], NULL);
        g_assert_cmpint (r.status, ==, 2);
        g_assert_nonnull (strstr (r.err, "morango account"));
        g_assert_nonnull (strstr (r.err, "--help"));
        run_clear (&r);
      }
  }
  /* An empty password is no password. */
  account (&r, "fresh", "add", "x", "--scope", "*", "--password-file", empty, NULL);
  g_assert_cmpint (r.status, ==, 2);
  g_assert_nonnull (strstr (r.err, "empty"));
  run_clear (&r);
  account (&r, "fresh", "add", "x", "--scope", "*", "--password-file", missing, NULL);
  g_assert_cmpint (r.status, ==, 4);
  run_clear (&r);
  /* A name HTTP Basic cannot carry. */
  account (&r, "fresh", "add", "a:b", "--scope", "*", "--password-file", pw, NULL);
  g_assert_cmpint (r.status, ==, 3);
  run_clear (&r);
  /* An unknown scope definition: the folder's are listed. */
  account (&r, "fresh", "add", "x", "--scope", "single-user", "--scope", "whole-world", "--password-file", pw, NULL);
  g_assert_cmpint (r.status, ==, 3);
  g_assert_nonnull (strstr (r.err, "unknown scope definition “whole-world”"));
  g_assert_nonnull (strstr (r.err, "full-facility"));
  g_assert_nonnull (strstr (r.err, "single-user"));
  run_clear (&r);
  /* Nothing to remove or change in a folder that is not there. */
  account (&r, "fresh", "remove", "x", NULL);
  g_assert_cmpint (r.status, ==, 4);
  run_clear (&r);
  account (&r, "fresh", "passwd", "x", "--password-file", pw, NULL);
  g_assert_cmpint (r.status, ==, 4);
  run_clear (&r);
  account (&r, "fresh", "list", NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_clear (&r);
  g_assert_false (g_file_test (fresh, G_FILE_TEST_EXISTS));

  /* Help, for the command and each subcommand. */
  account (&r, "fresh", "--help", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "passwd NAME"));
  run_clear (&r);
  account (&r, "fresh", "add", "--help", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "--password-file"));
  g_assert_nonnull (strstr (r.out, "single-user"));
  run_clear (&r);
  g_assert_false (g_file_test (fresh, G_FILE_TEST_EXISTS));

  /* In a folder that exists: a name taken, a name unknown. */
  account (&r, "b", "add", "coach", "--scope", "single-user", "--password-file", pw, NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_clear (&r);
  account (&r, "b", "add", "coach", "--scope", "*", "--password-file", pw, NULL);
  g_assert_cmpint (r.status, ==, 3);
  g_assert_nonnull (strstr (r.err, "exists already"));
  run_clear (&r);
  account (&r, "b", "list", NULL);
  g_assert_nonnull (strstr (r.out, "coach\tsingle-user\t"));
  run_clear (&r);
  account (&r, "b", "remove", "nobody", NULL);
  g_assert_cmpint (r.status, ==, 4);
  run_clear (&r);
  account (&r, "b", "passwd", "nobody", "--password-file", pw, NULL);
  g_assert_cmpint (r.status, ==, 4);
  run_clear (&r);
  account (&r, "b", "list", NULL);
  g_assert_null (strstr (r.out, "nobody"));
  run_clear (&r);
}

/* ---- on a terminal ---- */

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

/* Runs `morango account ARGV…` on a new pseudo-terminal, types @first
 * and @second at the two prompts, and returns the exit status; what it
 * showed goes to @seen. */
static int
typed_twice (const char *const *args,
             const char        *first,
             const char        *second,
             GString           *seen)
{
  struct termios t;
  int master, slave, status = 0;
  pid_t pid;

  g_assert_cmpint (openpty (&master, &slave, NULL, NULL, NULL), ==, 0);
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      g_autoptr(GPtrArray) argv = g_ptr_array_new ();
      const char *cli = g_getenv ("MORANGO_CLI");

      setsid ();
      dup2 (slave, 0);
      dup2 (slave, 1);
      dup2 (slave, 2);
      close (master);
      close (slave);
      g_ptr_array_add (argv, (char *) cli);
      for (guint i = 0; args[i]; i++)
        g_ptr_array_add (argv, (char *) args[i]);
      g_ptr_array_add (argv, NULL);
      execv (cli, (char **) argv->pdata);
      _exit (127);
    }

  g_assert_true (read_until (master, "New password for", seen));
  /* No echo of what is typed. */
  g_assert_cmpint (tcgetattr (slave, &t), ==, 0);
  g_assert_false (t.c_lflag & ECHO);
  g_assert_cmpint (write (master, first, strlen (first)), ==, (gssize) strlen (first));
  g_assert_cmpint (write (master, "\n", 1), ==, 1);
  g_assert_true (read_until (master, "Again: ", seen));
  g_assert_cmpint (write (master, second, strlen (second)), ==, (gssize) strlen (second));
  g_assert_cmpint (write (master, "\n", 1), ==, 1);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  /* Whatever is left to read, for the message. */
  {
    struct pollfd p = { master, POLLIN, 0 };
    char buf[256];
    ssize_t n;

    while (poll (&p, 1, 0) > 0 && (n = read (master, buf, sizeof buf)) > 0)
      g_string_append_len (seen, buf, n);
  }
  close (master);
  close (slave);
  g_assert_true (WIFEXITED (status));
  return WEXITSTATUS (status);
}

static void
test_prompt (void)
{
  g_autofree char *dir = path_in_tmp ("typed");
  const char *add[] = { "--data-dir", dir, "account", "add", "teacher", "--scope", "single-user", NULL };
  const char *passwd[] = { "--data-dir", dir, "account", "passwd", "teacher", NULL };
  g_autoptr(GString) seen = g_string_new (NULL);

  /* Two different passwords: refused, no account. */
  g_assert_cmpint (typed_twice (add, "apple", "apples", seen), ==, 3);
  g_test_message ("%s", seen->str);
  g_assert_nonnull (strstr (seen->str, "differ"));
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
  g_string_truncate (seen, 0);

  g_assert_cmpint (typed_twice (add, "apple pie", "apple pie", seen), ==, 0);
  g_test_message ("%s", seen->str);
  /* What was typed never showed. */
  g_assert_null (strstr (seen->str, "apple"));
  g_assert_true (signs_in ("typed", "teacher", "apple pie"));
  g_string_truncate (seen, 0);

  g_assert_cmpint (typed_twice (passwd, "pear tart", "pear tart", seen), ==, 0);
  g_assert_false (signs_in ("typed", "teacher", "apple pie"));
  g_assert_true (signs_in ("typed", "teacher", "pear tart"));
}

/* ---- the recorded server's users, made by the command ---- */

static JsonObject *
recorded_request (JsonNode *vectors,
                  gint64    seq)
{
  JsonArray *ex = json_object_get_array_member (json_node_get_object (vectors), "exchanges");

  for (guint i = 0; i < json_array_get_length (ex); i++)
    {
      JsonObject *e = json_array_get_object_element (ex, i);

      if (json_object_get_int_member (e, "seq") == seq)
        return e;
    }
  g_assert_not_reached ();
}

static const char *
recorded_authorization (JsonObject *request)
{
  JsonArray *headers = json_object_get_array_member (request, "headers");

  for (guint h = 0; h < json_array_get_length (headers); h++)
    {
      JsonArray *pair = json_array_get_array_element (headers, h);

      if (g_ascii_strcasecmp (json_array_get_string_element (pair, 0), "Authorization") == 0)
        return json_array_get_string_element (pair, 1);
    }
  return NULL;
}

/* bob is a superuser there, so '*' here; alice may not have the subset
 * scope that the recording asks for, so only root_scope. */
static void
test_recorded_users (void)
{
  g_autofree char *pw = password_file ("recorded-pw", "password\n");
  g_autoptr(JsonNode) csr = morango_test_load_vectors ("http/csr.json");
  g_autoptr(JsonNode) errors = morango_test_load_vectors ("http/errors.json");
  static const struct { const char *file; gint64 seq; } cases[] = {
    { "errors.json", 95 },   /* bob, wrong password: 401 */
    { "errors.json", 96 },   /* an unknown user: 401 */
    { "errors.json", 97 },   /* alice, without the permission: 403 */
    { "csr.json", 4 },       /* bob: 201 */
  };
  g_auto(Run) r = { 0 };
  g_autoptr(MorangoStore) store = NULL;

  account_described (&r, "recorded", "morango-testapp", "add", "bob", "--scope", "*", "--password-file", pw, NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_clear (&r);
  account_described (&r, "recorded", "morango-testapp", "add", "alice", "--scope", "root_scope",
                     "--password-file", pw, NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_clear (&r);

  /* The recorded server's root, held with its key. */
  store = open_folder ("recorded");
  {
    JsonObject *setup = json_object_get_object_member (json_node_get_object (csr), "setup");
    JsonObject *listing = json_object_get_object_member (recorded_request (csr, 2), "response");
    JsonArray *certs = json_object_get_array_member (listing, "body_json");
    g_autoptr(GError) error = NULL;
    g_autoptr(MorangoCertificate) root = morango_certificate_new_from_json (json_array_get_object_element (certs, 0),
                                                                            &error);
    g_autoptr(MorangoKey) key = NULL;

    g_assert_no_error (error);
    key = morango_key_new_from_private_pem (json_object_get_string_member (setup, "root_private_key_pem"), &error);
    g_assert_no_error (error);
    g_assert_true (morango_certificate_set_private_key (root, key, &error));
    g_assert_true (morango_certificate_save (root, morango_store_get_db (store), &error));
    g_assert_true (morango_trust_add_root (morango_store_get_db (store), morango_certificate_get_id (root), "test",
                                           &error));
    g_assert_no_error (error);
  }

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      JsonObject *e = recorded_request (g_str_equal (cases[i].file, "csr.json") ? csr : errors, cases[i].seq);
      JsonObject *request = json_object_get_object_member (e, "request");
      JsonObject *response = json_object_get_object_member (e, "response");
      guint recorded = json_object_get_int_member (response, "status");
      g_autoptr(JsonNode) body = json_from_string (json_object_get_string_member (request, "body"), NULL);
      g_autoptr(JsonNode) answer = NULL;
      g_autofree char *www = NULL;
      guint status = 0;

      answer = morango_http_trust_request_certificate (store, recorded_authorization (request), body, &status,
                                                       &www, NULL);
      g_test_message ("%s %" G_GINT64_FORMAT ": %u", cases[i].file, cases[i].seq, status);
      g_assert_cmpuint (status, ==, recorded);
      if (recorded >= 400)
        g_assert_true (morango_test_json_equal (answer, json_object_get_member (response, "body_json")));
      else
        g_assert_cmpstr (json_object_get_string_member (json_node_get_object (answer), "scope_definition"), ==,
                         "subset_scope");
    }
}

int
main (int   argc,
      char *argv[])
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  tmp = morango_test_tmpdir ();

  g_test_add_func ("/cli-account/commands", test_commands);
  g_test_add_func ("/cli-account/usage", test_usage);
  g_test_add_func ("/cli-account/prompt", test_prompt);
  g_test_add_func ("/cli-account/recorded-users", test_recorded_users);

  rc = g_test_run ();
  g_free (tmp);
  return rc;
}
