/* test-cli-data.c: `morango data …` end to end, through the built binary
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "morango-test-util.h"

#define BOB   "6b8bd6d2bfa158c4aaab779338a6c3a9"   /* uuid5 of "bob": his id (§10.2) */
#define SLOG  "0cba71a3638609d7be8bf26d1286bec6"   /* bob's summary log of cccc… (§10.2) */
#define FAC1  "612c166fa89890aa4cae8e6d37c32ec9"   /* sha2_uuid ("", "Fac 1", "facility") */
#define CCC   "cccccccccccccccccccccccccccccccc"

static char *tmp;

typedef struct {
  int   status;
  char *out;
  gsize out_len;
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
take_text (GBytes *bytes,
           gsize  *len)
{
  gsize n = 0;
  const char *data = bytes ? g_bytes_get_data (bytes, &n) : NULL;
  char *text = g_malloc (n + 1);

  if (n)
    memcpy (text, data, n);
  text[n] = '\0';
  if (len)
    *len = n;
  return text;
}

/* Runs `morango --data-dir <tmp>/<dev> data ARGS…` with @input (NULL:
 * nothing) on standard input, for the test app's description. */
static void
morango_v (Run        *r,
           const char *input,
           const char *dev,
           va_list     args)
{
  const char *cli = g_getenv ("MORANGO_CLI");
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) p = NULL;
  /* Nothing to say: standard input ends at once, as from /dev/null. */
  g_autoptr(GBytes) in = g_bytes_new (input ? input : "", input ? strlen (input) : 0);
  g_autoptr(GBytes) out = NULL;
  g_autoptr(GBytes) err = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) shown = g_string_new ("data");
  const char *a;

  g_assert_nonnull (cli);
  g_ptr_array_add (argv, g_strdup (cli));
  if (dev != NULL)
    {
      g_ptr_array_add (argv, g_strdup ("--data-dir"));
      g_ptr_array_add (argv, g_build_filename (tmp, dev, NULL));
    }
  g_ptr_array_add (argv, g_strdup ("data"));
  while ((a = va_arg (args, const char *)) != NULL)
    {
      g_ptr_array_add (argv, g_strdup (a));
      g_string_append_printf (shown, " %s", a);
    }
  g_ptr_array_add (argv, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_setenv (launcher, "MORANGO_DESCRIPTION", "morango-testapp", TRUE);
  p = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate (p, in, NULL, &out, &err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (p));
  r->status = g_subprocess_get_exit_status (p);
  r->out = take_text (out, &r->out_len);
  r->err = take_text (err, NULL);
  {
    /* The TAP log wants UTF-8 without controls. */
    g_autofree char *o = g_strescape (r->out, "\xc3\xa9");
    g_autofree char *e = g_strescape (r->err, NULL);
    g_autofree char *s = g_strescape (shown->str, NULL);

    g_test_message ("%s → %d\nout: %.2000s\nerr: %s", s, r->status, o, e);
  }
}

static void
morango (Run        *r,
         const char *dev,
         ...)
{
  va_list args;

  va_start (args, dev);
  morango_v (r, NULL, dev, args);
  va_end (args);
}

static void
morango_in (Run        *r,
            const char *input,
            const char *dev,
            ...)
{
  va_list args;

  va_start (args, dev);
  morango_v (r, input, dev, args);
  va_end (args);
}

static char *
path_in_tmp (const char *name)
{
  return g_build_filename (tmp, name, NULL);
}

static char *
write_tmp (const char *name,
           const char *text)
{
  char *path = path_in_tmp (name);

  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  return path;
}

static char *
read_file (const char *path)
{
  char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return text;
}

/* A usage error: exit 2, one line saying what, one saying where the
 * help is. */
static void
assert_usage (Run        *r,
              const char *sub)
{
  g_autofree char *try = sub ? g_strdup_printf ("Try “morango data %s --help”.\n", sub)
                             : g_strdup ("Try “morango data --help”.\n");
  const char *nl = strchr (r->err, '\n');

  g_assert_cmpint (r->status, ==, 2);
  g_assert_nonnull (nl);
  g_assert_cmpstr (nl + 1, ==, try);
  g_assert_cmpstr (r->out, ==, "");
}

/* Written the way a person would: keys in any order, spaces, ids left
 * out, an offset, escapes, a blank line; parents first. */
static const char input[] =
  "{\"model\": \"user\", \"fields\": {\"username\": \"bob\", \"password\": \"p\\u00e9 \xf0\x9f\x98\x80 \\u0085\\u001b\", "
    "\"last_login\": \"2024-10-24T14:34:56.789+02:00\"}}\n"
  "\n"
  "{\"fields\": {\"name\": \"Fac 1\", \"now_date\": \"2024-01-02T03:04:05Z\"}, \"model\": \"facility\"}\n"
  "{\"model\": \"contentsummarylog\", \"fields\": {\"user\": \"" BOB "\", \"content_id\": \"" CCC "\"}}\n";

/* Compact, profile order, fields in the model's order, text as it is
 * but for JSON's escapes and the C1 control. */
static const char expected_user[] =
  "{\"model\":\"user\",\"fields\":{\"password\":\"p\xc3\xa9 \xf0\x9f\x98\x80 \\u0085\\u001b\","
    "\"last_login\":\"2024-10-24T12:34:56.789Z\",\"id\":\"" BOB "\",\"_morango_source_id\":\"" BOB "\","
    "\"_morango_partition\":\"" BOB ":user\",\"is_staff\":false,\"is_superuser\":false,\"username\":\"bob\"}}\n";
static const char expected_rest[] =
  "{\"model\":\"contentsummarylog\",\"fields\":{\"id\":\"" SLOG "\",\"_morango_source_id\":\"" BOB ":" CCC "\","
    "\"_morango_partition\":\"" BOB ":user:summary\",\"user_id\":\"" BOB "\",\"content_id\":\"" CCC "\"}}\n"
  "{\"model\":\"facility\",\"fields\":{\"id\":\"" FAC1 "\",\"_morango_source_id\":\"Fac 1\",\"_morango_partition\":\"\","
    "\"name\":\"Fac 1\",\"now_date\":\"2024-01-02T03:04:05Z\",\"parent_id\":null}}\n";

static char *
expected (void)
{
  return g_strconcat (expected_user, expected_rest, NULL);
}

static const char counts[] =
  "user\t1\ncontentinteractionlog\t0\ncontentsummarylog\t1\nfacility\t1\n";

static void
test_import_export (void)
{
  g_auto(Run) r = { 0 };
  g_autofree char *file = write_tmp ("input.jsonl", input);
  g_autofree char *out = path_in_tmp ("a.jsonl");
  g_autofree char *want = expected ();
  g_autofree char *text = NULL;
  GStatBuf st;

  morango (&r, "a", "import", file, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "3 rows created"));
  run_clear (&r);

  /* Standard output, by default and with "-". */
  morango (&r, "a", "export", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, want);
  g_assert_cmpuint (r.out_len, ==, strlen (want));
  g_assert_cmpstr (r.err, ==, "");
  run_clear (&r);
  morango (&r, "a", "export", "-", NULL);
  g_assert_cmpstr (r.out, ==, want);
  run_clear (&r);

  /* A file: the same bytes, readable by its owner only. */
  morango (&r, "a", "export", out, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, "");
  text = read_file (out);
  g_assert_cmpstr (text, ==, want);
  g_assert_cmpint (g_stat (out, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  run_clear (&r);

  morango (&r, "a", "count", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, counts);
}

/* Two folders (two instance ids) fed the same file export the same
 * bytes; so does a third fed the export. */
static void
test_two_folders (void)
{
  g_auto(Run) r = { 0 };
  g_autofree char *file = write_tmp ("input2.jsonl", input);
  g_autofree char *out_b = path_in_tmp ("b.jsonl");
  g_autofree char *out_c = path_in_tmp ("c.jsonl");
  g_autofree char *want = expected ();
  g_autofree char *b = NULL;
  g_autofree char *c = NULL;

  morango (&r, "b", "import", file, NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_clear (&r);
  morango (&r, "b", "export", out_b, NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_clear (&r);
  morango (&r, "c", "import", out_b, NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_clear (&r);
  morango (&r, "c", "export", out_c, NULL);
  g_assert_cmpint (r.status, ==, 0);
  b = read_file (out_b);
  c = read_file (out_c);
  g_assert_cmpstr (b, ==, want);
  g_assert_cmpstr (c, ==, b);
}

/* A bad line: exit 3, its number and what is wrong, and nothing of the
 * file applied. */
static void
test_bad_line (void)
{
  static const struct { const char *line; const char *says; } cases[] = {
    { "{\"model\": \"facility\", \"fields\": {\"name\": ", "not valid JSON" },
    { "{\"model\": \"classroom\", \"fields\": {}}", "no model “classroom”" },
    { "{\"model\": \"facility\", \"fields\": {\"name\": \"X\", \"colour\": \"red\"}}", "no field “colour”" },
    { "{\"model\": \"facility\", \"fields\": {\"name\": 7}}", "must be a string" },
    { "{\"model\": \"facility\", \"fields\": {\"name\": \"Fac 2\", \"id\": \"" CCC "\"}}", "the rules of model “facility” give" },
    { "{\"model\": \"facility\", \"fields\": {\"name\": \"Fac 2\", \"_morango_partition\": \"p\"}}", "“_morango_partition” is “p”" },
    { "{\"model\": \"user\", \"id\": \"" CCC "\", \"delete\": true}", CCC },
  };
  g_auto(Run) r = { 0 };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = g_strconcat ("{\"model\": \"facility\", \"fields\": {\"name\": \"Fac 3\"}}\n"
                                           "{\"model\": \"user\", \"id\": \"" BOB "\", \"delete\": true}\n",
                                           cases[i].line,
                                           "\n{\"model\": \"facility\", \"fields\": {\"name\": \"Fac 4\"}}\n", NULL);
      g_autofree char *file = write_tmp ("bad.jsonl", text);

      morango (&r, "a", "import", file, NULL);
      g_assert_cmpint (r.status, ==, 3);
      g_assert_true (g_str_has_prefix (r.err, "morango data import: Line 3: "));
      g_assert_nonnull (strstr (r.err, cases[i].says));
      g_assert_nonnull (strstr (r.err, "nothing was imported"));
      g_assert_cmpstr (r.out, ==, "");
      run_clear (&r);
      morango (&r, "a", "count", NULL);
      g_assert_cmpstr (r.out, ==, counts);
      run_clear (&r);
    }

  /* Outside text reaches the terminal escaped. */
  morango_in (&r, "{\"model\": \"x\\u001b[31m\\u009b\", \"fields\": {}}\n", "a", "import", "-", NULL);
  g_assert_cmpint (r.status, ==, 3);
  g_assert_null (strchr (r.err, '\x1b'));
  g_assert_null (strstr (r.err, "\xc2\x9b"));
  g_assert_nonnull (strstr (r.err, "x\\x1b[31m\\u{9b}"));
}

/* Standard input; updates by id; deletions soft and hard. */
static void
test_update_delete (void)
{
  g_auto(Run) r = { 0 };
  g_autofree char *file = write_tmp ("input3.jsonl", input);

  morango (&r, "d", "import", file, NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_clear (&r);

  morango_in (&r,
              "{\"model\": \"user\", \"fields\": {\"id\": \"" BOB "\", \"is_staff\": true}}\n"
              "{\"model\": \"facility\", \"fields\": {\"name\": \"Fac 1\", \"now_date\": \"2025-05-05T05:05:05Z\"}}\n",
              "d", "import", "-", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "0 rows created, 2 updated, 0 deleted"));
  run_clear (&r);
  morango (&r, "d", "export", "--model", "user", NULL);
  g_assert_nonnull (strstr (r.out, "\"is_staff\":true"));
  g_assert_nonnull (strstr (r.out, "\"password\":\"p\xc3\xa9 "));   /* kept */
  run_clear (&r);
  morango (&r, "d", "export", "--model=facility", NULL);
  g_assert_nonnull (strstr (r.out, "\"now_date\":\"2025-05-05T05:05:05Z\""));
  run_clear (&r);

  morango_in (&r, "{\"model\": \"facility\", \"id\": \"" FAC1 "\", \"hard_delete\": true}\n", "d", "import", "-", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "1 deleted"));
  run_clear (&r);
  morango_in (&r, "{\"model\": \"user\", \"id\": \"" BOB "\", \"delete\": true}", "d", "import", "-", NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_clear (&r);
  /* bob's summary log went with him. */
  morango (&r, "d", "count", NULL);
  g_assert_cmpstr (r.out, ==, "user\t0\ncontentinteractionlog\t0\ncontentsummarylog\t0\nfacility\t0\n");
  run_clear (&r);
  morango (&r, "d", "export", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, "");
}

static void
test_models (void)
{
  g_auto(Run) r = { 0 };
  g_autofree char *out = path_in_tmp ("models.jsonl");
  g_autofree char *text = NULL;
  g_autofree char *want = expected ();

  /* Selected models, in profile order whatever the order given. */
  morango (&r, "a", "export", "--model=facility", "--model", "user", NULL);
  g_assert_cmpint (r.status, ==, 0);
  {
    g_autofree char *fac = g_strdup (strstr (expected_rest, "{\"model\":\"facility\""));
    g_autofree char *both = g_strconcat (expected_user, fac, NULL);
    g_assert_cmpstr (r.out, ==, both);
  }
  run_clear (&r);
  morango (&r, "a", "count", "--model", "facility", "--model=user", NULL);
  g_assert_cmpstr (r.out, ==, "user\t1\nfacility\t1\n");
  run_clear (&r);

  /* An unknown model: exit 4, nothing written, an existing FILE left
   * alone and no file beside it. */
  g_assert_true (g_file_set_contents (out, "old", -1, NULL));
  morango (&r, "a", "export", "--model", "user", "--model", "classroom", out, NULL);
  g_assert_cmpint (r.status, ==, 4);
  g_assert_nonnull (strstr (r.err, "classroom"));
  text = read_file (out);
  g_assert_cmpstr (text, ==, "old");
  {
    g_autoptr(GDir) dir = g_dir_open (tmp, 0, NULL);
    const char *name;

    while ((name = g_dir_read_name (dir)) != NULL)
      g_assert_false (g_str_has_prefix (name, ".models.jsonl."));
  }
  run_clear (&r);
  morango (&r, "a", "export", "--model", "classroom", NULL);
  g_assert_cmpint (r.status, ==, 4);
  g_assert_cmpstr (r.out, ==, "");
  run_clear (&r);
  morango (&r, "a", "count", "--model", "classroom", NULL);
  g_assert_cmpint (r.status, ==, 4);
  g_assert_cmpstr (r.out, ==, "");
  run_clear (&r);

  /* A replaced FILE holds the whole export. */
  morango (&r, "a", "export", out, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_clear_pointer (&text, g_free);
  text = read_file (out);
  g_assert_cmpstr (text, ==, want);
}

static void
test_files (void)
{
  g_auto(Run) r = { 0 };
  g_autofree char *missing = path_in_tmp ("no-such.jsonl");
  g_autofree char *in_missing_dir = path_in_tmp ("no-such-dir/out.jsonl");
  g_autofree char *never = path_in_tmp ("never");

  morango (&r, "never", "import", missing, NULL);
  g_assert_cmpint (r.status, ==, 4);
  /* A missing file creates no folder. */
  g_assert_false (g_file_test (never, G_FILE_TEST_EXISTS));
  run_clear (&r);
  morango (&r, "a", "import", tmp, NULL);
  g_assert_cmpint (r.status, ==, 1);
  run_clear (&r);
  morango (&r, "a", "export", in_missing_dir, NULL);
  g_assert_cmpint (r.status, ==, 4);
  run_clear (&r);
  morango (&r, "a", "export", tmp, NULL);
  g_assert_cmpint (r.status, ==, 1);
  g_assert_nonnull (strstr (r.err, "directory"));
  run_clear (&r);
  /* An empty input is fine and changes nothing; "--" ends the options. */
  morango_in (&r, "", "a", "import", "-", NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_clear (&r);
  morango_in (&r, "", "a", "import", "--", "-", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "0 lines read"));
  run_clear (&r);
  morango (&r, "a", "count", NULL);
  g_assert_cmpstr (r.out, ==, counts);
}

static void
test_usage (void)
{
  g_auto(Run) r = { 0 };
  g_autofree char *never = path_in_tmp ("never");
  g_autofree char *dir_a = path_in_tmp ("a");

  morango (&r, "never", "import", NULL);
  assert_usage (&r, "import");
  run_clear (&r);
  morango (&r, "never", "import", "x", "y", NULL);
  assert_usage (&r, "import");
  run_clear (&r);
  morango (&r, "never", "import", "--model", "user", "x", NULL);
  assert_usage (&r, "import");
  run_clear (&r);
  morango (&r, "never", "export", "--frob", NULL);
  assert_usage (&r, "export");
  run_clear (&r);
  morango (&r, "never", "export", "x", "y", NULL);
  assert_usage (&r, "export");
  run_clear (&r);
  morango (&r, "never", "export", "--model", NULL);
  assert_usage (&r, "export");
  run_clear (&r);
  morango (&r, "never", "export", "--model=", NULL);
  assert_usage (&r, "export");
  run_clear (&r);
  morango (&r, "never", "count", "extra", NULL);
  assert_usage (&r, "count");
  run_clear (&r);
  morango (&r, "never", NULL);
  assert_usage (&r, NULL);
  run_clear (&r);
  morango (&r, "never", "frobnicate", NULL);
  assert_usage (&r, NULL);
  run_clear (&r);
  g_assert_false (g_file_test (never, G_FILE_TEST_EXISTS));

  /* Help: the whole command, and each subcommand with its options. */
  morango (&r, NULL, "--help", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "export [--model M]"));
  run_clear (&r);
  morango (&r, NULL, "import", "--help", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "morango data import [OPTION…] FILE"));
  g_assert_nonnull (strstr (r.out, "--data-dir"));
  g_assert_null (strstr (r.out, "--model"));
  run_clear (&r);
  morango (&r, NULL, "export", "--help", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "--model=M"));
  run_clear (&r);
  morango (&r, NULL, "count", "--help", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "--model=M"));
  run_clear (&r);

  /* --data-dir after the subcommand, in both spellings. */
  morango (&r, "never", "count", "--data-dir", dir_a, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, counts);
  run_clear (&r);
  {
    g_autofree char *opt = g_strdup_printf ("--data-dir=%s", dir_a);

    morango (&r, NULL, "count", opt, "--description", "morango-testapp", NULL);
    g_assert_cmpint (r.status, ==, 0);
    g_assert_cmpstr (r.out, ==, counts);
    run_clear (&r);
    /* A description that is not the folder's is refused. */
    morango (&r, NULL, "count", opt, "--description=kolibri-like", NULL);
    g_assert_cmpint (r.status, ==, 1);
    g_assert_cmpstr (r.out, ==, "");
  }
  g_assert_false (g_file_test (never, G_FILE_TEST_EXISTS));
}

int
main (int argc, char *argv[])
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  tmp = morango_test_tmpdir ();

  /* Steps share folders, so they run in this order. */
  g_test_add_func ("/cli/data/import-export", test_import_export);
  g_test_add_func ("/cli/data/two-folders", test_two_folders);
  g_test_add_func ("/cli/data/bad-line", test_bad_line);
  g_test_add_func ("/cli/data/update-delete", test_update_delete);
  g_test_add_func ("/cli/data/models", test_models);
  g_test_add_func ("/cli/data/files", test_files);
  g_test_add_func ("/cli/data/usage", test_usage);
  rc = g_test_run ();
  g_free (tmp);
  return rc;
}
