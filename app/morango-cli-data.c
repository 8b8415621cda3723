/* morango-cli-data.c: `morango data …`, application rows as JSON lines
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <fcntl.h>
#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "morango-cli.h"
#include "morango-data.h"
#include "morango-store.h"

static const char data_usage[] =
  N_("Usage: morango [--data-dir DIR] [--description NAME] data SUBCOMMAND [ARGS…]\n"
     "\n"
     "  import FILE               apply the lines of FILE (- for stdin), all or none\n"
     "  export [--model M]… [FILE]\n"
     "                            write the rows as JSON lines to FILE (default and -: stdout)\n"
     "  count [--model M]…        rows per model\n"
     "\n"
     "Run “morango data SUBCOMMAND --help” for a subcommand's options.\n"
     "\n"
     "Exit status: 0 done, 1 failed, 2 bad command line, 3 refused (a bad input\n"
     "line; nothing was imported), 4 not found (file, model).\n");

/* What the subcommands' options hold. */
typedef struct {
  char        **models;
  GInputStream *input;    /* import: FILE, opened before the folder */
} DataOptions;

static void
data_options_clear (DataOptions *o)
{
  g_clear_object (&o->input);
  g_clear_pointer (&o->models, g_strfreev);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (DataOptions, data_options_clear)

typedef struct {
  const char *name;
  const char *params;       /* positional arguments, for --help */
  const char *summary;
  gboolean    with_model;
  guint       min_args;
  guint       max_args;
  int       (*run) (MorangoStore *store, DataOptions *o, char **args);
  /* Opened before the folder, so that a missing file creates nothing. */
  gboolean    opens_input;
} DataCommand;

/* "morango data [SUB]: MESSAGE" and the hint to that help. */
static int
usage_error (const char *sub,
             const char *message)
{
  g_autofree char *command = sub ? g_strdup_printf ("data %s", sub) : g_strdup ("data");

  return morango_cli_usage_error (command, "%s", message);
}

/* One exit code per kind of failure, for scripts. */
static int
fail (const char   *sub,
      const GError *error)
{
  g_autofree char *safe = morango_cli_safe (error->message);

  fprintf (stderr, "morango data %s: %s\n", sub, safe);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ||
      g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT) ||
      g_error_matches (error, MORANGO_ERROR, MORANGO_ERROR_UNKNOWN_MODEL))
    return MORANGO_EXIT_NOTFOUND;
  return MORANGO_EXIT_FAILURE;
}

/* ---- import ---- */

static int
cmd_import (MorangoStore *store,
            DataOptions  *o,
            char        **args)
{
  g_autoptr(GError) error = NULL;
  MorangoDataImportStats st = { 0 };

  if (!morango_data_import (morango_store_get_app (store), o->input, NULL, &st, &error))
    {
      g_autofree char *safe = morango_cli_safe (error->message);

      fprintf (stderr, _("morango data import: %s; nothing was imported\n"), safe);
      return st.bad_line > 0 ? MORANGO_EXIT_REFUSED : MORANGO_EXIT_FAILURE;
    }
  printf (_("%llu lines read: %llu rows created, %llu updated, %llu deleted\n"),
          (unsigned long long) st.lines, (unsigned long long) st.created,
          (unsigned long long) st.updated, (unsigned long long) st.deleted);
  return MORANGO_EXIT_OK;
}

static GInputStream *
open_input (const char   *file,
            GError      **error)
{
  g_autoptr(GFile) gfile = NULL;

  if (g_str_equal (file, "-"))
    return g_unix_input_stream_new (STDIN_FILENO, FALSE);
  gfile = g_file_new_for_path (file);
  return (GInputStream *) g_file_read (gfile, NULL, error);
}

/* ---- export ---- */

/* The rows go to a new file beside FILE, which replaces FILE only once
 * it is whole: a failure leaves FILE as it was. */
static int
cmd_export (MorangoStore *store,
            DataOptions  *o,
            char        **args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GOutputStream) out = NULL;
  g_autofree char *tmp = NULL;
  g_autofree char *safe_file = NULL;
  const char *file = args[0];
  const char * const *models = (const char * const *) o->models;
  int fd;

  if (file == NULL || g_str_equal (file, "-"))
    {
      out = g_unix_output_stream_new (STDOUT_FILENO, FALSE);
      if (!morango_data_export (morango_store_get_app (store), models, out, NULL, NULL, &error))
        return fail ("export", error);
      return MORANGO_EXIT_OK;
    }

  safe_file = morango_cli_safe (file);
  if (g_file_test (file, G_FILE_TEST_IS_DIR))
    {
      fprintf (stderr, _("morango data export: “%s” is a directory\n"), safe_file);
      return MORANGO_EXIT_FAILURE;
    }
  {
    g_autofree char *dir = g_path_get_dirname (file);
    g_autofree char *base = g_path_get_basename (file);
    g_autofree char *name = g_strdup_printf (".%s.XXXXXX", base);

    tmp = g_build_filename (dir, name, NULL);
  }
  /* Mode 0600: the rows are the folder's data, which only its owner
   * reads. */
  fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int saved = errno;

      fprintf (stderr, _("morango data export: cannot create a file beside “%s”: %s\n"),
               safe_file, g_strerror (saved));
      return saved == ENOENT ? MORANGO_EXIT_NOTFOUND : MORANGO_EXIT_FAILURE;
    }
  out = g_unix_output_stream_new (fd, TRUE);
  if (!morango_data_export (morango_store_get_app (store), models, out, NULL, NULL, &error) ||
      !g_output_stream_flush (out, NULL, &error))
    goto failed;
  if (fsync (fd) != 0)
    {
      int saved = errno;

      g_set_error (&error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Cannot write “%s”: %s", file, g_strerror (saved));
      goto failed;
    }
  if (!g_output_stream_close (out, NULL, &error))
    goto failed;
  if (g_rename (tmp, file) != 0)
    {
      int saved = errno;

      g_set_error (&error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Cannot replace “%s”: %s", file, g_strerror (saved));
      goto failed;
    }
  return MORANGO_EXIT_OK;

failed:
  g_output_stream_close (out, NULL, NULL);
  g_unlink (tmp);
  return fail ("export", error);
}

/* ---- count ---- */

static int
cmd_count (MorangoStore *store,
           DataOptions  *o,
           char        **args)
{
  MorangoApp *app = morango_store_get_app (store);
  MorangoProfile *profile = morango_store_get_profile (store);
  const char * const *names = profile ? morango_profile_get_model_names (profile) : NULL;
  g_autoptr(GArray) counts = g_array_new (FALSE, TRUE, sizeof (gint64));
  g_autoptr(GPtrArray) shown = g_ptr_array_new ();

  /* Every selected model is checked before a line is printed. */
  if (o->models != NULL)
    for (guint i = 0; o->models[i] != NULL; i++)
      if (profile == NULL || !morango_profile_has_model (profile, o->models[i]))
        {
          g_autoptr(GError) error = NULL;
          gint64 unused = 0;

          morango_data_count (app, o->models[i], &unused, &error);
          return fail ("count", error);
        }
  for (guint i = 0; names != NULL && names[i] != NULL; i++)
    {
      g_autoptr(GError) error = NULL;
      gint64 n = 0;

      if (o->models != NULL && !g_strv_contains ((const char * const *) o->models, names[i]))
        continue;
      if (!morango_data_count (app, names[i], &n, &error))
        return fail ("count", error);
      g_ptr_array_add (shown, (gpointer) names[i]);
      g_array_append_val (counts, n);
    }
  /* For scripts: model, tab, count. */
  for (guint i = 0; i < shown->len; i++)
    {
      g_autofree char *safe = morango_cli_safe (g_ptr_array_index (shown, i));

      printf ("%s\t%" G_GINT64_FORMAT "\n", safe, g_array_index (counts, gint64, i));
    }
  return MORANGO_EXIT_OK;
}

/* ---- the subcommands ---- */

static const DataCommand data_commands[] = {
  { "import", N_("FILE"),
    N_("Applies the JSON lines of FILE (- for standard input) in one transaction:\n"
       "all of them, or none when a line is refused."),
    FALSE, 1, 1, cmd_import, TRUE },
  { "export", N_("[FILE]"),
    N_("Writes the rows, model by model, as JSON lines to FILE (standard output\n"
       "when FILE is - or not given). FILE is replaced only once it is whole."),
    TRUE, 0, 1, cmd_export, FALSE },
  { "count", "",
    N_("Prints each model's number of rows: the model, a tab, the number."),
    TRUE, 0, 0, cmd_count, FALSE },
};

static int
run_subcommand (const DataCommand *cmd,
                const char        *data_dir,
                int                argc,
                char             **argv)
{
  g_auto(DataOptions) o = { NULL, NULL };
  const GOptionEntry model_entry[] = {
    { "model", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.models,
      N_("only the rows of model M (may be repeated)"), "M" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = NULL;
  g_autofree char **args = NULL;
  char **positional;
  guint n_args;
  int rc;

  context = morango_cli_context_new (*cmd->params ? _(cmd->params) : "", _(cmd->summary),
                                     cmd->with_model ? model_entry : NULL, NULL);
  {
    g_autofree char *command = g_strdup_printf ("data %s", cmd->name);

    args = g_new0 (char *, argc + 1);
    args[0] = command;
    for (int i = 1; i < argc; i++)
      args[i] = argv[i];
    {
      int n = argc;
      char **parsed = args;

      /* Parsing takes the options out of the array, in place. */
      rc = morango_cli_parse (context, command, NULL, &n, &parsed);
      if (rc >= 0)
        return rc;
      n_args = n - 1;
      positional = parsed + 1;
    }
    /* GLib keeps the "--" that ends the options when an argument after
     * it starts with "-": it is no argument of ours. */
    for (guint i = 0; i < n_args; i++)
      if (g_str_equal (positional[i], "--"))
        {
          memmove (positional + i, positional + i + 1, (n_args - i) * sizeof (char *));
          n_args--;
          break;
        }
  }
  if (n_args < cmd->min_args)
    return usage_error (cmd->name, _("FILE is missing"));
  if (n_args > cmd->max_args)
    return usage_error (cmd->name, _("too many arguments"));
  if (o.models != NULL)
    for (guint i = 0; o.models[i] != NULL; i++)
      if (*o.models[i] == '\0')
        return usage_error (cmd->name, _("--model needs a model name"));

  if (cmd->opens_input && (o.input = open_input (positional[0], &error)) == NULL)
    return fail (cmd->name, error);
  store = morango_cli_open_store (data_dir, &error);
  if (store == NULL)
    {
      g_autofree char *safe = morango_cli_safe (error->message);

      fprintf (stderr, "morango data %s: %s\n", cmd->name, safe);
      rc = MORANGO_EXIT_FAILURE;
    }
  else
    rc = cmd->run (store, &o, positional);
  return rc;
}

int
morango_cli_data (const char *data_dir,
                  int         argc,
                  char      **argv)
{
  const char *sub;

  if (argc < 2)
    return usage_error (NULL, _("a subcommand is needed: import, export or count"));
  sub = argv[1];
  if (g_str_equal (sub, "--help") || g_str_equal (sub, "-h") || g_str_equal (sub, "help"))
    {
      fputs (_(data_usage), stdout);
      return MORANGO_EXIT_OK;
    }
  for (guint i = 0; i < G_N_ELEMENTS (data_commands); i++)
    if (g_str_equal (sub, data_commands[i].name))
      return run_subcommand (&data_commands[i], data_dir, argc - 1, argv + 1);
  {
    g_autofree char *msg = g_strdup_printf (_("unknown subcommand “%s”"), sub);

    return usage_error (NULL, msg);
  }
}
