/* test-cli-folder.c: the data folder, shared by programs started
 * together and guarded like an ssh key, through the built binary
 *
 * SPDX-License-Identifier: MIT
 */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "morango-test-util.h"

static char *tmp;           /* one folder for the whole run, mode 0755 */
static char *profiles;      /* a copy of the profile descriptions that nobody can read */

/* argv for `morango --data-dir DIR cert ARGS…`, behind `setpriv` to run
 * as nobody when as_nobody is set. */
static GPtrArray *
command (gboolean    as_nobody,
         const char *dir,
         va_list     args)
{
  const char *cli = g_getenv ("MORANGO_CLI");
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);
  const char *a;

  g_assert_nonnull (cli);
  if (as_nobody)
    {
      g_ptr_array_add (argv, g_strdup ("setpriv"));
      g_ptr_array_add (argv, g_strdup ("--reuid=nobody"));
      g_ptr_array_add (argv, g_strdup ("--regid=nogroup"));
      g_ptr_array_add (argv, g_strdup ("--clear-groups"));
    }
  g_ptr_array_add (argv, g_strdup (cli));
  if (dir != NULL)
    {
      g_ptr_array_add (argv, g_strdup ("--data-dir"));
      g_ptr_array_add (argv, g_strdup (dir));
    }
  while ((a = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, g_strdup (a));
  g_ptr_array_add (argv, NULL);
  return argv;
}

static GSubprocess *
start_v (gboolean    as_nobody,
         const char *dir,
         va_list     args)
{
  g_autoptr(GPtrArray) argv = command (as_nobody, dir, args);
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GError) error = NULL;
  GSubprocess *p;

  g_subprocess_launcher_unsetenv (launcher, "MORANGO_DESCRIPTION");
  if (as_nobody)
    g_subprocess_launcher_setenv (launcher, "MORANGO_PROFILES_DIR", profiles, TRUE);
  p = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  return p;
}

static GSubprocess *
start (const char *dir,
       ...)
{
  va_list args;
  GSubprocess *p;

  va_start (args, dir);
  p = start_v (FALSE, dir, args);
  va_end (args);
  return p;
}

/* Waits for p; returns its exit status, and its standard error in *err. */
static int
finish (GSubprocess  *p,
        char        **err)
{
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;

  g_subprocess_communicate_utf8 (p, NULL, NULL, &out, err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (p));
  return g_subprocess_get_exit_status (p);
}

static int
run_as (gboolean     as_nobody,
        char       **err,
        const char  *dir,
        ...)
{
  g_autoptr(GSubprocess) p = NULL;
  va_list args;
  int status;

  va_start (args, dir);
  p = start_v (as_nobody, dir, args);
  va_end (args);
  status = finish (p, err);
  g_test_message ("%s → %d: %s", dir, status, *err);
  return status;
}

/* N programs started together on a folder nobody has made yet, again
 * and again: every one of them succeeds. */
static void
race (guint n,
      guint rounds)
{
  for (guint round = 0; round < rounds; round++)
    {
      g_autofree char *name = g_strdup_printf ("race-%u-%u", n, round);
      g_autofree char *dir = g_build_filename (tmp, name, "data", NULL);
      GSubprocess *p[8];

      g_assert_cmpuint (n, <=, G_N_ELEMENTS (p));
      for (guint i = 0; i < n; i++)
        p[i] = start (dir, "cert", "list", NULL);
      for (guint i = 0; i < n; i++)
        {
          g_autofree char *err = NULL;
          int status = finish (p[i], &err);

          if (status != 0)
            g_test_message ("round %u, program %u: %s", round, i, err);
          g_assert_cmpint (status, ==, 0);
          g_object_unref (p[i]);
        }
    }
}

static void
test_race_two (void)
{
  race (2, 20);
}

static void
test_race_eight (void)
{
  race (8, 20);
}

static char *
make_folder (const char *name)
{
  char *dir = g_build_filename (tmp, name, NULL);
  g_autofree char *err = NULL;

  g_assert_cmpint (run_as (FALSE, &err, dir, "cert", "list", NULL), ==, 0);
  return dir;
}

/* Others may neither read the database nor write the folder: refused
 * with exit 1 and the chmod that fixes it, and used once fixed. */
static void
test_insecure (void)
{
  g_autofree char *dir = make_folder ("insecure");
  g_autofree char *db = g_build_filename (dir, "morango.db", NULL);
  g_autofree char *hint_db = g_strdup_printf ("chmod 600 %s", db);
  g_autofree char *hint_dir = g_strdup_printf ("chmod go-w %s", dir);
  g_autofree char *err = NULL;
  g_autofree char *touched = g_build_filename (tmp, "touched", NULL);
  g_autofree char *touched_db = g_build_filename (touched, "morango.db", NULL);

  g_assert_cmpint (g_chmod (db, 0640), ==, 0);
  g_assert_cmpint (run_as (FALSE, &err, dir, "cert", "list", NULL), ==, 1);
  g_assert_nonnull (strstr (err, hint_db));
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (g_chmod (db, 0606), ==, 0);
  g_assert_cmpint (run_as (FALSE, &err, dir, "cert", "list", NULL), ==, 1);
  g_assert_nonnull (strstr (err, hint_db));
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (g_chmod (db, 0600), ==, 0);

  g_assert_cmpint (g_chmod (dir, 0777), ==, 0);
  g_assert_cmpint (run_as (FALSE, &err, dir, "cert", "list", NULL), ==, 1);
  g_assert_nonnull (strstr (err, hint_dir));
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (g_chmod (dir, 0720), ==, 0);
  g_assert_cmpint (run_as (FALSE, &err, dir, "cert", "list", NULL), ==, 1);
  g_assert_nonnull (strstr (err, hint_dir));
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (g_chmod (dir, 0755), ==, 0);
  g_assert_cmpint (run_as (FALSE, &err, dir, "cert", "list", NULL), ==, 0);
  g_clear_pointer (&err, g_free);

  /* An empty file someone made with the usual umask is not adopted. */
  g_assert_cmpint (g_mkdir (touched, 0700), ==, 0);
  g_assert_true (g_file_set_contents (touched_db, "", 0, NULL));
  g_assert_cmpint (g_chmod (touched_db, 0644), ==, 0);
  g_assert_cmpint (run_as (FALSE, &err, touched, "cert", "list", NULL), ==, 1);
  g_assert_nonnull (strstr (err, "chmod 600"));
  g_assert_cmpint (g_chmod (touched_db, 0600), ==, 0);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_as (FALSE, &err, touched, "cert", "list", NULL), ==, 0);
}

/* Owns path (and what is in it) by nobody, as the folder of the user
 * the commands run as. */
static void
give_to_nobody (const char *path)
{
  g_autofree char *out = NULL, *err = NULL;
  const char *argv[] = { "chown", "-R", "nobody:nogroup", path, NULL };
  int status = 0;
  g_autoptr(GError) error = NULL;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                &out, &err, &status, &error);
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
}

static void
assert_no_sidecars (const char *dir)
{
  g_autofree char *wal = g_build_filename (dir, "morango.db-wal", NULL);
  g_autofree char *shm = g_build_filename (dir, "morango.db-shm", NULL);

  g_assert_false (g_file_test (wal, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (shm, G_FILE_TEST_EXISTS));
}

/* Permissions only bind an unprivileged user: run as nobody, and fail
 * (not skip) where that cannot be done. */
static void
test_read_only (void)
{
  g_autofree char *dir = g_build_filename (tmp, "read-only", NULL);
  g_autofree char *db = g_build_filename (dir, "morango.db", NULL);
  g_autofree char *ro_new = g_build_filename (tmp, "read-only-parent", NULL);
  g_autofree char *ro_new_dir = g_build_filename (ro_new, "data", NULL);
  g_autofree char *err = NULL;

  /* The binary and the test's folder are reachable by nobody. */
  g_assert_cmpint (run_as (TRUE, &err, NULL, "--version", NULL), ==, 0);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  give_to_nobody (dir);
  g_assert_cmpint (run_as (TRUE, &err, dir, "cert", "create-root", "--scope", "full-facility",
                           "--profile", "facilitydata", NULL), ==, 0);
  g_clear_pointer (&err, g_free);

  /* A read-only folder: reading works, writing says why it cannot. */
  g_assert_cmpint (g_chmod (dir, 0500), ==, 0);
  g_assert_cmpint (run_as (TRUE, &err, dir, "cert", "list", NULL), ==, 0);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_as (TRUE, &err, dir, "cert", "create-root", "--scope", "full-facility",
                           "--profile", "facilitydata", NULL), ==, 1);
  g_assert_nonnull (strstr (err, "permission denied"));
  g_assert_nonnull (strstr (err, "Cannot write"));
  g_assert_null (strstr (err, "not a Morango Sync database"));
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (g_chmod (dir, 0700), ==, 0);
  assert_no_sidecars (dir);

  /* A read-only database in a writable folder: the same, and nothing is
   * left behind that would break the next run once it is fixed. */
  g_assert_cmpint (g_chmod (db, 0400), ==, 0);
  g_assert_cmpint (run_as (TRUE, &err, dir, "cert", "list", NULL), ==, 0);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_as (TRUE, &err, dir, "cert", "create-root", "--scope", "full-facility",
                           "--profile", "facilitydata", NULL), ==, 1);
  g_assert_nonnull (strstr (err, "Cannot write"));
  g_assert_nonnull (strstr (err, "permission denied"));
  g_clear_pointer (&err, g_free);
  assert_no_sidecars (dir);

  /* Fixed: every command works again. */
  g_assert_cmpint (g_chmod (db, 0600), ==, 0);
  g_assert_cmpint (run_as (TRUE, &err, dir, "cert", "create-root", "--scope", "full-facility",
                           "--profile", "facilitydata", NULL), ==, 0);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_as (TRUE, &err, dir, "cert", "list", NULL), ==, 0);
  g_clear_pointer (&err, g_free);

  /* A new folder where none can be made. */
  g_assert_cmpint (g_mkdir (ro_new, 0755), ==, 0);
  g_assert_cmpint (run_as (TRUE, &err, ro_new_dir, "cert", "list", NULL), ==, 1);
  g_assert_nonnull (strstr (err, "Cannot write"));
  g_assert_nonnull (strstr (err, "permission denied"));
  g_clear_pointer (&err, g_free);
}

/* A bad command line creates nothing. */
static void
test_usage_creates_nothing (void)
{
  g_autofree char *dir = g_build_filename (tmp, "usage", NULL);
  g_autofree char *err = NULL;
  const char *bad[][6] = {
    { "cert", "frobnicate", NULL },
    { "cert", "create-root", "--scope", "full-facility", "--param", "dataset_id=x" },
    { "cert", "create-root", NULL },
    { "cert", "show", NULL },
    { "cert", "export", "x", NULL },
    { "cert", "backup", "x", "y" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_assert_cmpint (run_as (FALSE, &err, dir, bad[i][0], bad[i][1], bad[i][2], bad[i][3],
                               bad[i][4], bad[i][5], NULL),
                       ==, 2);
      g_clear_pointer (&err, g_free);
      g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
    }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  tmp = morango_test_tmpdir ();
  /* nobody must be able to reach the folders the tests make. */
  g_assert_cmpint (g_chmod (tmp, 0755), ==, 0);
  /* ... and the profile descriptions, which live in the source tree: a
   * clone may sit in a folder only its owner can enter (mktemp -d). */
  profiles = g_build_filename (tmp, "profiles", NULL);
  g_assert_cmpint (g_mkdir (profiles, 0755), ==, 0);
  {
    const char *source = g_getenv ("MORANGO_PROFILES_DIR");
    g_autoptr(GDir) listing = NULL;
    g_autoptr(GError) error = NULL;
    const char *name;

    g_assert_nonnull (source);
    listing = g_dir_open (source, 0, &error);
    g_assert_no_error (error);
    while ((name = g_dir_read_name (listing)) != NULL)
      {
        g_autofree char *from = g_build_filename (source, name, NULL);
        g_autofree char *to = g_build_filename (profiles, name, NULL);
        g_autofree char *text = NULL;
        gsize length = 0;

        if (!g_str_has_suffix (name, ".json"))
          continue;
        g_assert_true (g_file_get_contents (from, &text, &length, &error));
        g_assert_true (g_file_set_contents_full (to, text, length, G_FILE_SET_CONTENTS_NONE, 0644, &error));
        g_assert_no_error (error);
      }
  }

  g_test_add_func ("/cli/folder/race-two", test_race_two);
  g_test_add_func ("/cli/folder/race-eight", test_race_eight);
  g_test_add_func ("/cli/folder/insecure", test_insecure);
  g_test_add_func ("/cli/folder/read-only", test_read_only);
  g_test_add_func ("/cli/folder/usage-creates-nothing", test_usage_creates_nothing);
  return g_test_run ();
}
