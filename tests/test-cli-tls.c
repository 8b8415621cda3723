/* test-cli-tls.c: `morango serve --tls`, and `pair` and `sync` over https://, through the built binary
 *
 * S serves HTTPS on 127.0.0.1 (port 0, then the same port again after
 * its key files are deleted); clients pair and sync as scripts do
 * (standard input not a terminal) and, for the questions, as a person
 * does, on a pseudo-terminal.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "morango-app.h"
#include "morango-known-peer.h"
#include "morango-test-util.h"
#include "morango-tls.h"
#include "morango-trust.h"

#define N_LEARNERS 3

static char *tmp;
static char *password_file;

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

static GSubprocessLauncher *
launcher_new (GSubprocessFlags flags)
{
  GSubprocessLauncher *launcher = g_subprocess_launcher_new (flags);

  g_subprocess_launcher_unsetenv (launcher, "MORANGO_DESCRIPTION");
  g_subprocess_launcher_setenv (launcher, "LC_ALL", "C.UTF-8", TRUE);
  return launcher;
}

static GPtrArray *
argv_for (const char *dev,
          va_list     args)
{
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);
  const char *a;

  g_assert_nonnull (g_getenv ("MORANGO_CLI"));
  g_ptr_array_add (argv, g_strdup (g_getenv ("MORANGO_CLI")));
  g_ptr_array_add (argv, g_strdup ("--data-dir"));
  g_ptr_array_add (argv, g_build_filename (tmp, dev, NULL));
  while ((a = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, g_strdup (a));
  g_ptr_array_add (argv, NULL);
  return argv;
}

/* Runs `morango --data-dir <tmp>/<dev> ARGS…` with @input typed on a
 * terminal, or (@input NULL) with standard input from /dev/null, as a
 * script runs it. */
static void
morango_typing (Run        *r,
                const char *input,
                const char *dev,
                ...)
{
  g_autoptr(GSubprocessLauncher) launcher =
    launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GPtrArray) argv = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  int master = -1;
  va_list args;

  run_clear (r);
  va_start (args, dev);
  argv = argv_for (dev, args);
  va_end (args);

  if (input != NULL)
    {
      int slave;

      master = posix_openpt (O_RDWR | O_NOCTTY);
      g_assert_cmpint (master, >=, 0);
      g_assert_cmpint (grantpt (master), ==, 0);
      g_assert_cmpint (unlockpt (master), ==, 0);
      slave = open (ptsname (master), O_RDWR | O_NOCTTY);
      g_assert_cmpint (slave, >=, 0);
      /* A terminal hands over a line at a time, as typed. */
      g_assert_cmpint (write (master, input, strlen (input)), ==, (gssize) strlen (input));
      g_subprocess_launcher_take_stdin_fd (launcher, slave);
    }
  else
    {
      int null = open ("/dev/null", O_RDONLY);

      g_assert_cmpint (null, >=, 0);
      g_subprocess_launcher_take_stdin_fd (launcher, null);
    }
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (process, NULL, NULL, &r->out, &r->err, &error));
  g_assert_no_error (error);
  if (master >= 0)
    close (master);
  g_assert_true (g_subprocess_get_if_exited (process));
  r->status = g_subprocess_get_exit_status (process);
  line = g_strjoinv (" ", (char **) argv->pdata + 3);
  g_test_message ("%s%s → %d\n%s%s", line, input ? " (on a terminal)" : "", r->status, r->out, r->err);
}

#define morango(r, ...) morango_typing ((r), NULL, __VA_ARGS__)

static void
assert_contains (const char *text,
                 const char *part)
{
  if (strstr (text, part) == NULL)
    g_error ("“%s” is not in:\n%s", part, text);
}

static MorangoStore *
open_folder (const char *dev)
{
  g_autofree char *dir = g_build_filename (tmp, dev, NULL);
  g_autoptr(MorangoHostInfo) host = morango_host_info_new (dev, "");
  g_autoptr(MorangoRandom) random = morango_random_new_secure ();
  g_autoptr(GError) error = NULL;
  MorangoStore *store = morango_store_open_folder (dir, NULL, host, random, &error);

  g_assert_no_error (error);
  return store;
}

static gint64
count (const char *dev,
       const char *sql,
       const char *value)
{
  g_autoptr(MorangoStore) store = open_folder (dev);
  g_autoptr(GError) error = NULL;
  gint64 n = -1;

  if (value != NULL)
    g_assert_true (morango_db_query_int64 (morango_store_get_db (store), &n, NULL, &error, sql, "s", value));
  else
    g_assert_true (morango_db_query_int64 (morango_store_get_db (store), &n, NULL, &error, sql, ""));
  g_assert_no_error (error);
  return n;
}

static char *
add_record (const char *dev,
            const char *model,
            JsonObject *fields)
{
  g_autoptr(MorangoStore) store = open_folder (dev);
  g_autoptr(GError) error = NULL;
  char *id = NULL;

  g_assert_true (morango_app_create (morango_store_get_app (store), model, fields, &id, &error));
  g_assert_no_error (error);
  return id;
}

static char *
add_learner (const char *dataset,
             const char *facility,
             const char *name)
{
  g_autoptr(JsonObject) u = json_object_new ();

  json_object_set_string_member (u, "dataset_id", dataset);
  json_object_set_string_member (u, "facility_id", facility);
  json_object_set_string_member (u, "username", name);
  return add_record ("s", "facilityuser", u);
}

/* A client folder with nothing of the server in it. */
static void
assert_nothing_stored (const char *dev,
                       const char *root_id)
{
  g_autoptr(MorangoStore) store = open_folder (dev);

  g_assert_false (morango_trust_is_trusted (morango_store_get_db (store), root_id));
  g_clear_object (&store);
  g_assert_cmpint (count (dev, "SELECT count(*) FROM morango_certificate", NULL), ==, 0);
  g_assert_cmpint (count (dev, "SELECT count(*) FROM morango_peer", NULL), ==, 0);
}

/* A server left behind by a failed assertion would hold the test's
 * output open: it goes with the test. */
static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* `morango serve --tls` in the background. */
typedef struct {
  GSubprocess *process;
  char        *url;
  char        *fingerprint;
} Server;

static void
server_start (Server *server,
              guint   port)
{
  g_autoptr(GSubprocessLauncher) launcher = launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autofree char *dir = g_build_filename (tmp, "s", NULL);
  g_autofree char *port_text = g_strdup_printf ("%u", port);
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *listening = NULL;
  g_autofree char *fingerprint = NULL;
  const char *argv[] = { g_getenv ("MORANGO_CLI"), "--data-dir", dir, "serve", "--tls",
                         "--address", "127.0.0.1", "--port", port_text,
                         "--admin-password-file", password_file, NULL };

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  server->process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (server->process));
  /* The first two lines say where and with which certificate. */
  listening = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
  g_assert_no_error (error);
  fingerprint = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_test_message ("%s\n%s", listening, fingerprint);
  g_assert_true (g_str_has_prefix (listening, "listening on https://127.0.0.1:"));
  g_assert_true (g_str_has_prefix (fingerprint, "fingerprint SHA256:"));
  server->url = g_strdup (listening + strlen ("listening on "));
  server->fingerprint = g_strdup (fingerprint + strlen ("fingerprint "));
  g_assert_cmpuint (strlen (server->fingerprint), ==, MORANGO_TLS_FINGERPRINT_LEN);
}

static guint
server_port (Server *server)
{
  g_autoptr(GUri) uri = g_uri_parse (server->url, G_URI_FLAGS_NONE, NULL);

  g_assert_nonnull (uri);
  return g_uri_get_port (uri);
}

static void
server_stop (Server *server)
{
  g_autoptr(GError) error = NULL;

  g_subprocess_send_signal (server->process, SIGTERM);
  g_assert_true (g_subprocess_wait (server->process, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_successful (server->process));
  g_clear_object (&server->process);
  g_clear_pointer (&server->url, g_free);
  g_clear_pointer (&server->fingerprint, g_free);
}

/* Another fingerprint of the right shape: the first byte changed. */
static char *
wrong_fingerprint (const char *fingerprint)
{
  char *wrong = g_strdup (fingerprint);
  char *first = wrong + strlen ("SHA256:");

  *first = *first == '0' ? '1' : '0';
  return wrong;
}

static void
test_tls (void)
{
  g_auto(Run) r = { 0 };
  Server server = { 0 };
  g_autofree char *root_id = NULL;
  g_autofree char *facility = NULL;
  g_autofree char *wrong = NULL;
  g_autofree char *old_fingerprint = NULL;
  g_autofree char *newcomer = NULL;
  g_autofree char *http_url = NULL;
  g_autofree char *expected_pull = g_strdup_printf ("pulled %d pushed 0 ", 1 + N_LEARNERS);
  g_autofree char *key_file = g_build_filename (tmp, "s", MORANGO_TLS_KEY_FILE, NULL);
  g_autofree char *cert_file = g_build_filename (tmp, "s", MORANGO_TLS_CERTIFICATE_FILE, NULL);
  guint port;

  /* S: a facility under its own root. */
  morango (&r, "s", "status", "--description", "kolibri-like", NULL);
  g_assert_cmpint (r.status, ==, 0);
  morango (&r, "s", "cert", "create-root", "--scope", "full-facility", NULL);
  g_assert_cmpint (r.status, ==, 0);
  root_id = g_strstrip (g_strdup (r.out));
  {
    g_autoptr(JsonObject) f = json_object_new ();

    json_object_set_string_member (f, "dataset_id", root_id);
    json_object_set_string_member (f, "name", "Riverside School");
    facility = add_record ("s", "facility", f);
  }
  for (guint i = 0; i < N_LEARNERS; i++)
    {
      g_autofree char *name = g_strdup_printf ("learner%u", i);

      g_free (add_learner (root_id, facility, name));
    }
  morango (&r, "c", "status", "--description", "kolibri-like", NULL);
  g_assert_cmpint (r.status, ==, 0);

  server_start (&server, 0);
  {
    g_autofree char *key_path = g_build_filename (tmp, "s", MORANGO_TLS_KEY_FILE, NULL);
    GStatBuf st;

    g_assert_cmpint (g_stat (key_path, &st), ==, 0);
    g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  }
  wrong = wrong_fingerprint (server.fingerprint);
  http_url = g_strdup_printf ("http://127.0.0.1:%u/", server_port (&server));

  /* A script must say it trusts the root. */
  morango (&r, "c", "pair", server.url, "--scope", "full-facility", "--password-file", password_file,
           "--expect-fingerprint", server.fingerprint, NULL);
  g_assert_cmpint (r.status, ==, 2);
  assert_contains (r.err, "--yes");
  assert_nothing_stored ("c", root_id);

  /* Nor can it confirm a certificate it was not told about. */
  morango (&r, "c", "pair", server.url, "--scope", "full-facility", "--password-file", password_file,
           "--yes", NULL);
  g_assert_cmpint (r.status, ==, 3);
  assert_contains (r.err, server.fingerprint);
  assert_contains (r.err, "--expect-fingerprint");
  assert_nothing_stored ("c", root_id);

  /* The wrong fingerprint: refused. */
  morango (&r, "c", "pair", server.url, "--scope", "full-facility", "--password-file", password_file,
           "--yes", "--expect-fingerprint", wrong, NULL);
  g_assert_cmpint (r.status, ==, 3);
  assert_contains (r.err, wrong);
  assert_contains (r.err, server.fingerprint);
  assert_nothing_stored ("c", root_id);

  /* Not a fingerprint, or no TLS to check it against: usage errors. */
  morango (&r, "c", "pair", server.url, "--scope", "full-facility", "--password-file", password_file,
           "--yes", "--expect-fingerprint", "SHA256:12:34", NULL);
  g_assert_cmpint (r.status, ==, 2);
  morango (&r, "c", "sync", http_url, "--expect-fingerprint", server.fingerprint, NULL);
  g_assert_cmpint (r.status, ==, 2);

  /* The right one: paired, pinned, synced. */
  morango (&r, "c", "pair", server.url, "--scope", "full-facility", "--password-file", password_file,
           "--yes", "--expect-fingerprint", server.fingerprint, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpuint (strlen (g_strstrip (r.out)), ==, 32);
  morango (&r, "c", "sync", server.url, NULL);
  g_assert_cmpint (r.status, ==, 0);
  assert_contains (r.out, expected_pull);
  g_assert_cmpint (count ("c", "SELECT count(*) FROM morango_store", NULL), ==, 1 + N_LEARNERS);
  g_assert_cmpint (count ("c", "SELECT count(*) FROM morango_peer WHERE tls_fingerprint = ?",
                          server.fingerprint), ==, 1);

  /* --expect-fingerprint with the wrong value: exit 3, the pin stays. */
  morango (&r, "c", "sync", server.url, "--expect-fingerprint", wrong, NULL);
  g_assert_cmpint (r.status, ==, 3);
  g_assert_cmpint (count ("c", "SELECT count(*) FROM morango_peer WHERE tls_fingerprint = ?",
                          server.fingerprint), ==, 1);

  /* The server's key replaced, a newcomer on it: refused, nothing synced. */
  port = server_port (&server);
  old_fingerprint = g_strdup (server.fingerprint);
  server_stop (&server);
  g_assert_cmpint (g_unlink (key_file), ==, 0);
  g_assert_cmpint (g_unlink (cert_file), ==, 0);
  newcomer = add_learner (root_id, facility, "newcomer");
  server_start (&server, port);
  g_assert_cmpstr (server.fingerprint, !=, old_fingerprint);
  morango (&r, "c", "sync", server.url, NULL);
  g_assert_cmpint (r.status, ==, 3);
  assert_contains (r.err, old_fingerprint);
  assert_contains (r.err, server.fingerprint);
  assert_contains (r.err, "nothing was sent");
  g_assert_cmpstr (r.out, ==, "");
  g_assert_cmpint (count ("c", "SELECT count(*) FROM morango_store WHERE id = ?", newcomer), ==, 0);
  g_assert_cmpint (count ("c", "SELECT count(*) FROM morango_store", NULL), ==, 1 + N_LEARNERS);

  /* Its owner says the new one is right: pinned instead. */
  morango (&r, "c", "sync", server.url, "--expect-fingerprint", server.fingerprint, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpint (count ("c", "SELECT count(*) FROM morango_store WHERE id = ?", newcomer), ==, 1);
  g_assert_cmpint (count ("c", "SELECT count(*) FROM morango_peer WHERE tls_fingerprint = ?",
                          server.fingerprint), ==, 1);

  /* On a terminal: the root shown and refused, nothing stored. */
  morango (&r, "t", "status", "--description", "kolibri-like", NULL);
  g_assert_cmpint (r.status, ==, 0);
  morango_typing (&r, "n\n", "t", "pair", server.url, "--scope", "full-facility",
                  "--password-file", password_file, "--expect-fingerprint", server.fingerprint, NULL);
  g_assert_cmpint (r.status, ==, 3);
  assert_contains (r.err, root_id);
  assert_contains (r.err, "full-facility");
  assert_contains (r.err, "facilitydata");
  assert_contains (r.err, "Trust this root?");
  assert_nothing_stored ("t", root_id);

  /* The certificate refused at first contact: nothing stored either. */
  morango_typing (&r, "n\n", "t", "pair", server.url, "--scope", "full-facility",
                  "--password-file", password_file, NULL);
  g_assert_cmpint (r.status, ==, 3);
  assert_contains (r.err, server.fingerprint);
  assert_nothing_stored ("t", root_id);

  /* Both confirmed: paired and pinned. */
  morango_typing (&r, "y\ny\n", "t", "pair", server.url, "--scope", "full-facility",
                  "--password-file", password_file, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpint (count ("t", "SELECT count(*) FROM morango_peer WHERE tls_fingerprint = ?",
                          server.fingerprint), ==, 1);
  morango (&r, "t", "sync", server.url, "--pull", NULL);
  g_assert_cmpint (r.status, ==, 0);

  server_stop (&server);
}

int
main (int    argc,
      char **argv)
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  tmp = morango_test_tmpdir ();
  password_file = g_build_filename (tmp, "password", NULL);
  g_assert_true (g_file_set_contents (password_file, "correct horse\n", -1, NULL));
  g_test_add_func ("/cli-tls/serve-pair-sync", test_tls);
  rc = g_test_run ();
  g_free (password_file);
  g_free (tmp);
  return rc;
}
