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

G_GNUC_UNUSED static int
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

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  tmp = morango_test_tmpdir ();
  /* nobody must be able to reach the folders the tests make. */
  g_assert_cmpint (g_chmod (tmp, 0755), ==, 0);

  g_test_add_func ("/cli/folder/race-two", test_race_two);
  g_test_add_func ("/cli/folder/race-eight", test_race_eight);
  return g_test_run ();
}
