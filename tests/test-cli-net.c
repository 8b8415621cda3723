/* test-cli-net.c: `morango serve`, `pair` and `sync` as separate processes, with faults
 *
 * Every peer is a real process of the built binary on loopback.  The
 * server runs with G_MESSAGES_DEBUG=morango-wire, so its standard
 * output says which chunks it stored and which pages it sent: that is
 * how the tests see that nothing arrives twice.  Clients are killed
 * with SIGKILL by the engine's test hook (MORANGO_TEST_KILL_AFTER_CHUNKS,
 * engine/engine/README.md); a proxy in this process cuts connections in
 * the middle of a request body, or holds a request back while the test
 * kills the server.  The test's main context turns while a command
 * runs, so the proxy and the server's log are served meanwhile.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE   /* memmem */
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#include "morango-ids.h"
#include "morango-store.h"
#include "morango-test-util.h"

#define PASSWORD "s3cret pass"

static char *tmp;

/* ---- running the command line ---- */

typedef struct {
  int   status;     /* the exit status, or -1 when a signal ended it */
  int   signal;     /* that signal, or 0 */
  char *out;
  char *err;
} Run;

static void
run_clear (Run *r)
{
  g_clear_pointer (&r->out, g_free);
  g_clear_pointer (&r->err, g_free);
  r->status = r->signal = 0;
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Run, run_clear)

static char *
folder (const char *dev)
{
  return g_build_filename (tmp, dev, NULL);
}

static char *
take_text (GBytes *bytes)
{
  gsize n = 0;
  const char *data = bytes ? g_bytes_get_data (bytes, &n) : NULL;

  return g_strndup (data ? data : "", n);
}

static const char * const proxy_variables[] = {
  "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY",
};

static GSubprocessLauncher *
launcher_new (GSubprocessFlags flags,
              const char      *env)
{
  GSubprocessLauncher *launcher = g_subprocess_launcher_new (flags);

  g_subprocess_launcher_unsetenv (launcher, "MORANGO_DESCRIPTION");
  g_subprocess_launcher_unsetenv (launcher, "G_MESSAGES_DEBUG");
  g_subprocess_launcher_unsetenv (launcher, "MORANGO_TEST_KILL_AFTER_CHUNKS");
  /* Loopback only, never through a proxy of the machine's. */
  for (guint i = 0; i < G_N_ELEMENTS (proxy_variables); i++)
    g_subprocess_launcher_unsetenv (launcher, proxy_variables[i]);
  g_subprocess_launcher_setenv (launcher, "TZ", "UTC", TRUE);
  g_subprocess_launcher_setenv (launcher, "LC_ALL", "C.UTF-8", TRUE);
  if (env != NULL)
    {
      g_auto(GStrv) kv = g_strsplit (env, "=", 2);

      g_subprocess_launcher_setenv (launcher, kv[0], kv[1], TRUE);
    }
  return launcher;
}

static GPtrArray *
argv_for (const char *dev,
          va_list     args)
{
  const char *cli = g_getenv ("MORANGO_CLI");
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);
  const char *a;

  g_assert_nonnull (cli);
  g_ptr_array_add (argv, g_strdup (cli));
  g_ptr_array_add (argv, g_strdup ("--data-dir"));
  g_ptr_array_add (argv, folder (dev));
  while ((a = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, g_strdup (a));
  g_ptr_array_add (argv, NULL);
  return argv;
}

static void
communicated (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

/* Runs `morango --data-dir <tmp>/<dev> ARGS…` with @env ("KEY=VALUE" or
 * NULL) added to the environment, standard input empty.  The default
 * main context turns until it ends: the proxy and the server's log are
 * served meanwhile. */
static void
morango_env (Run        *r,
             const char *env,
             const char *dev,
             ...)
{
  g_autoptr(GPtrArray) argv = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) p = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GBytes) out = NULL;
  g_autoptr(GBytes) err = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  va_list args;

  run_clear (r);
  va_start (args, dev);
  argv = argv_for (dev, args);
  va_end (args);
  launcher = launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, env);
  p = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_async (p, NULL, NULL, communicated, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  /* What a server logged before it answered is in its pipe by now:
   * read it all before the test looks. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_subprocess_communicate_finish (p, result, &out, &err, &error);
  g_assert_no_error (error);
  if (g_subprocess_get_if_signaled (p))
    {
      r->status = -1;
      r->signal = g_subprocess_get_term_sig (p);
    }
  else
    {
      g_assert_true (g_subprocess_get_if_exited (p));
      r->status = g_subprocess_get_exit_status (p);
    }
  r->out = take_text (out);
  r->err = take_text (err);
  line = g_strjoinv (" ", (char **) argv->pdata + 3);
  {
    g_autofree char *o = g_strescape (r->out, NULL);
    g_autofree char *e = g_strescape (r->err, NULL);

    g_test_message ("%s%s%s → %d (signal %d)\nout: %.3000s\nerr: %.3000s", env ? env : "", env ? " " : "",
                    line, r->status, r->signal, o, e);
  }
}

#define morango(r, ...) morango_env ((r), NULL, __VA_ARGS__)

static void
assert_contains (const char *text,
                 const char *part)
{
  if (strstr (text, part) == NULL)
    g_error ("“%s” is not in “%s”", part, text);
}

static char *
write_tmp (const char *name,
           const char *text)
{
  char *path = g_build_filename (tmp, name, NULL);

  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  return path;
}

/* Imports @lines into @dev, all of them. */
static void
import (const char *dev,
        const char *lines)
{
  g_auto(Run) r = { 0 };
  g_autofree char *path = write_tmp ("import.jsonl", lines);

  morango (&r, dev, "data", "import", path, NULL);
  g_assert_cmpint (r.status, ==, 0);
}

static char *
export (const char *dev)
{
  g_auto(Run) r = { 0 };

  morango (&r, dev, "data", "export", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.err, ==, "");
  return g_steal_pointer (&r.out);
}

/* Both folders' rows, byte for byte. */
static void
assert_same_rows (const char *a,
                  const char *b)
{
  g_autofree char *ea = export (a);
  g_autofree char *eb = export (b);

  g_assert_cmpstr (ea, ==, eb);
}

/* The ids of @model's rows in @dev, in export order. */
static GPtrArray *
ids_of (const char *dev,
        const char *model)
{
  g_auto(Run) r = { 0 };
  g_auto(GStrv) lines = NULL;
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);

  morango (&r, dev, "data", "export", "--model", model, NULL);
  g_assert_cmpint (r.status, ==, 0);
  lines = g_strsplit (r.out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      JsonObject *fields;

      if (*lines[i] == '\0')
        continue;
      g_assert_true (json_parser_load_from_data (parser, lines[i], -1, NULL));
      fields = json_object_get_object_member (json_node_get_object (json_parser_get_root (parser)), "fields");
      g_ptr_array_add (ids, g_strdup (json_object_get_string_member (fields, "id")));
    }
  return ids;
}

/* A folder with a root certificate of the full-facility scope; its id,
 * which is the dataset id of the facility's records. */
static char *
create_root (const char *dev)
{
  g_auto(Run) r = { 0 };

  morango (&r, dev, "cert", "create-root", "--scope", "full-facility", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_strstrip (r.out);
  g_assert_true (morango_is_hex32 (r.out));
  return g_steal_pointer (&r.out);
}

/* @n anonymous session logs of dataset @dataset, contents numbered from
 * @first, as import lines. */
static char *
anonymous_logs (const char *dataset,
                guint       first,
                guint       n)
{
  GString *lines = g_string_new (NULL);

  for (guint i = first; i < first + n; i++)
    g_string_append_printf (lines, "{\"model\":\"anonymoussessionlog\",\"fields\":{\"dataset_id\":\"%s\","
                            "\"content_id\":\"%032x\",\"progress\":0.25,\"time_spent\":%u.5}}\n",
                            dataset, i, i);
  return g_string_free (lines, FALSE);
}

/* A facility of dataset @dataset with two users and their summary logs,
 * two classrooms and @n_anonymous anonymous logs, in @dev. */
static void
make_facility (const char *dev,
               const char *dataset,
               guint       n_anonymous)
{
  g_autofree char *partition = g_strconcat (dataset, ":allusers-ro", NULL);
  g_autofree char *facility = morango_sha2_uuid (partition, dataset, "facility", NULL);
  g_autofree char *anonymous = anonymous_logs (dataset, 0, n_anonymous);
  g_autoptr(GString) lines = g_string_new (NULL);
  g_autoptr(GPtrArray) users = NULL;

  g_string_append_printf (lines, "{\"model\":\"facility\",\"fields\":{\"dataset_id\":\"%s\",\"name\":\"Riverside\"}}\n",
                          dataset);
  for (guint i = 0; i < 2; i++)
    g_string_append_printf (lines, "{\"model\":\"facilityuser\",\"fields\":{\"dataset_id\":\"%s\",\"facility\":\"%s\","
                            "\"username\":\"learner%u\",\"full_name\":\"Learner %u \xc3\xa9\"}}\n",
                            dataset, facility, i, i);
  for (guint i = 0; i < 2; i++)
    g_string_append_printf (lines, "{\"model\":\"classroom\",\"fields\":{\"dataset_id\":\"%s\",\"facility\":\"%s\","
                            "\"name\":\"Room %u\"}}\n", dataset, facility, i);
  g_string_append (lines, anonymous);
  import (dev, lines->str);

  /* The users' ids come from their rows. */
  g_string_truncate (lines, 0);
  users = ids_of (dev, "facilityuser");
  g_assert_cmpuint (users->len, ==, 2);
  for (guint u = 0; u < users->len; u++)
    for (guint i = 0; i < 3; i++)
      g_string_append_printf (lines, "{\"model\":\"contentsummarylog\",\"fields\":{\"dataset_id\":\"%s\","
                              "\"user\":\"%s\",\"content_id\":\"%032x\",\"kind\":\"video\",\"progress\":0.5}}\n",
                              dataset, (char *) users->pdata[u], 0xc0000 + i);
  import (dev, lines->str);
}

/* The number of @model's rows in @dev. */
static gint64
count_rows (const char *dev,
            const char *model)
{
  g_auto(Run) r = { 0 };
  gint64 n;

  morango (&r, dev, "data", "count", "--model", model, NULL);
  g_assert_cmpint (r.status, ==, 0);
  assert_contains (r.out, model);
  n = g_ascii_strtoll (strchr (r.out, '\t') + 1, NULL, 10);
  return n;
}

/* `sync`'s last line: "pulled N pushed M sent B received B seconds S[ resumed]". */
typedef struct {
  gint64   pulled;
  gint64   pushed;
  gboolean resumed;
} Synced;

static Synced
parse_synced (const char *out)
{
  g_autofree char *copy = g_strdup (out);
  g_auto(GStrv) lines = g_strsplit (g_strstrip (copy), "\n", -1);
  const char *last = lines[g_strv_length (lines) - 1];
  Synced s = { 0 };
  gint64 sent = -1, received = -1;
  double seconds = -1;
  int n;

  n = sscanf (last, "pulled %" G_GINT64_FORMAT " pushed %" G_GINT64_FORMAT " sent %" G_GINT64_FORMAT
              " received %" G_GINT64_FORMAT " seconds %lf", &s.pulled, &s.pushed, &sent, &received, &seconds);
  if (n != 5)
    g_error ("Not a sync's last line: “%s”", last);
  g_assert_cmpint (sent, >, 0);
  g_assert_cmpint (received, >, 0);
  g_assert_cmpfloat (seconds, >=, 0);
  s.resumed = g_str_has_suffix (last, " resumed");
  return s;
}

/* ---- a server process and what it logs ---- */

/* A chunk the server stored (POST buffers/). */
typedef struct {
  char   *ts;
  guint   n;
  char   *first;
  gint64  held;      /* the session's count after it */
  gint64  before;    /* and before */
} Stored;

/* A page the server sent (GET buffers/). */
typedef struct {
  char   *ts;
  guint   n;
  gint64  offset;
} Sent;

static void
stored_free (Stored *s)
{
  g_free (s->ts);
  g_free (s->first);
  g_free (s);
}

static void
sent_free (Sent *s)
{
  g_free (s->ts);
  g_free (s);
}

typedef struct {
  GSubprocess      *process;
  GDataInputStream *out;
  gboolean          reading;
  char             *dev;
  guint             port;
  char             *url;
  char             *err_path;
  /* Kept across restarts. */
  GPtrArray        *stored;
  GPtrArray        *sent;
  gboolean          killed;
} Server;

static void
parse_log_line (Server     *s,
                const char *line)
{
  const char *at = strstr (line, "Transfer session ");
  char ts[33], first[33];
  guint n;
  gint64 held, before, offset;

  if (at == NULL)
    return;
  if (sscanf (at, "Transfer session %32[0-9a-f]: stored a chunk of %u records from %32[0-9a-f]; %"
              G_GINT64_FORMAT " held, %" G_GINT64_FORMAT " before", ts, &n, first, &held, &before) == 5)
    {
      Stored *st = g_new0 (Stored, 1);

      st->ts = g_strdup (ts);
      st->n = n;
      st->first = g_strdup (first);
      st->held = held;
      st->before = before;
      g_ptr_array_add (s->stored, st);
    }
  else if (sscanf (at, "Transfer session %32[0-9a-f]: sent %u records from offset %" G_GINT64_FORMAT,
                   ts, &n, &offset) == 3)
    {
      Sent *se = g_new0 (Sent, 1);

      se->ts = g_strdup (ts);
      se->n = n;
      se->offset = offset;
      g_ptr_array_add (s->sent, se);
    }
}

static void
got_line (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  Server *s = user_data;
  g_autofree char *line = g_data_input_stream_read_line_finish (G_DATA_INPUT_STREAM (source), result, NULL, NULL);

  if (line == NULL)
    {
      s->reading = FALSE;
      return;
    }
  parse_log_line (s, line);
  g_data_input_stream_read_line_async (s->out, G_PRIORITY_DEFAULT, NULL, got_line, s);
}

static char *
read_err (Server *s)
{
  char *text = NULL;

  if (!g_file_get_contents (s->err_path, &text, NULL, NULL))
    return g_strdup ("");
  return text;
}

/* In the server's process before it runs: a test that fails leaves no
 * server behind. */
static void
die_with_the_test (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* Starts `morango serve` on @dev, on 127.0.0.1:@port (0: any free port),
 * with the admin password PASSWORD and @max_body (NULL: the default). */
static void
server_start (Server     *s,
              const char *dev,
              guint       port,
              const char *max_body)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_autofree char *pw = write_tmp ("admin-password", PASSWORD "\n");
  g_autofree char *line = NULL;
  g_autofree char *expected = NULL;
  const char *cli = g_getenv ("MORANGO_CLI");

  g_assert_null (s->process);
  if (s->stored == NULL)
    {
      s->stored = g_ptr_array_new_with_free_func ((GDestroyNotify) stored_free);
      s->sent = g_ptr_array_new_with_free_func ((GDestroyNotify) sent_free);
    }
  g_free (s->dev);
  s->dev = g_strdup (dev);
  s->killed = FALSE;
  g_ptr_array_add (argv, g_strdup (cli));
  g_ptr_array_add (argv, g_strdup ("--data-dir"));
  g_ptr_array_add (argv, folder (dev));
  g_ptr_array_add (argv, g_strdup ("serve"));
  g_ptr_array_add (argv, g_strdup ("--address=127.0.0.1"));
  g_ptr_array_add (argv, g_strdup_printf ("--port=%u", port));
  g_ptr_array_add (argv, g_strdup_printf ("--admin-password-file=%s", pw));
  if (max_body != NULL)
    g_ptr_array_add (argv, g_strdup_printf ("--max-body=%s", max_body));
  g_ptr_array_add (argv, NULL);

  launcher = launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, "G_MESSAGES_DEBUG=morango-wire");
  g_clear_pointer (&s->err_path, g_free);
  s->err_path = g_strdup_printf ("%s/%s-serve.err", tmp, dev);
  g_subprocess_launcher_set_stderr_file_path (launcher, s->err_path);
  g_subprocess_launcher_set_child_setup (launcher, die_with_the_test, NULL, NULL);
  s->process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  s->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (s->process));

  /* The first line, at once: where it listens. */
  line = g_data_input_stream_read_line (s->out, NULL, NULL, &error);
  g_assert_no_error (error);
  if (line == NULL)
    {
      g_autofree char *err = read_err (s);

      g_error ("morango serve said nothing: %s", err);
    }
  g_assert_true (g_str_has_prefix (line, "listening on http://127.0.0.1:"));
  s->port = (guint) g_ascii_strtoull (line + strlen ("listening on http://127.0.0.1:"), NULL, 10);
  g_assert_cmpuint (s->port, >, 0);
  if (port != 0)
    g_assert_cmpuint (s->port, ==, port);
  expected = g_strdup_printf ("listening on http://127.0.0.1:%u/", s->port);
  g_assert_cmpstr (line, ==, expected);
  g_free (s->url);
  s->url = g_strdup_printf ("http://127.0.0.1:%u/", s->port);
  g_test_message ("%s served at %s", dev, s->url);

  s->reading = TRUE;
  g_data_input_stream_read_line_async (s->out, G_PRIORITY_DEFAULT, NULL, got_line, s);
}

/* Waits for the server's end and the last of its log. */
static void
server_reap (Server *s)
{
  g_autoptr(GError) error = NULL;

  while (s->reading)
    g_main_context_iteration (NULL, TRUE);
  g_subprocess_wait (s->process, NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&s->out);
  g_clear_object (&s->process);
}

/* SIGKILL now, as a crash or a power cut would. */
static void
server_kill (Server *s)
{
  g_subprocess_send_signal (s->process, SIGKILL);
  s->killed = TRUE;
  server_reap (s);
}

/* SIGTERM: a clean stop. */
static void
server_stop (Server *s)
{
  g_autofree char *err = NULL;

  if (s->process == NULL)
    return;
  g_subprocess_send_signal (s->process, SIGTERM);
  while (s->reading)
    g_main_context_iteration (NULL, TRUE);
  g_subprocess_wait (s->process, NULL, NULL);
  err = read_err (s);
  g_test_message ("server of %s: %s", s->dev, err);
  g_assert_true (g_subprocess_get_if_exited (s->process));
  g_assert_cmpint (g_subprocess_get_exit_status (s->process), ==, 0);
  assert_contains (err, "morango serve: stopped");
  g_clear_object (&s->out);
  g_clear_object (&s->process);
}

static void
server_clear (Server *s)
{
  if (s->process != NULL)
    server_kill (s);
  g_clear_pointer (&s->stored, g_ptr_array_unref);
  g_clear_pointer (&s->sent, g_ptr_array_unref);
  g_clear_pointer (&s->dev, g_free);
  g_clear_pointer (&s->url, g_free);
  g_clear_pointer (&s->err_path, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Server, server_clear)

/* The chunks of transfer session @ts the server stored: each brought
 * only records it did not hold (none arrived twice), none was stored
 * twice, and they join up from @start to @end records.  The number of
 * chunks. */
static guint
assert_chunks_stored (Server     *s,
                      const char *ts,
                      gint64      start,
                      gint64      end)
{
  g_autoptr(GHashTable) firsts = g_hash_table_new (g_str_hash, g_str_equal);
  gint64 held = start;
  guint chunks = 0;

  for (guint i = 0; i < s->stored->len; i++)
    {
      Stored *st = s->stored->pdata[i];

      if (!g_str_equal (st->ts, ts))
        continue;
      g_test_message ("stored %u records from %s: %" G_GINT64_FORMAT " → %" G_GINT64_FORMAT,
                      st->n, st->first, st->before, st->held);
      g_assert_false (g_hash_table_contains (firsts, st->first));
      g_hash_table_add (firsts, st->first);
      g_assert_cmpint (st->held - st->before, ==, st->n);
      g_assert_cmpint (st->before, ==, held);
      held = st->held;
      chunks++;
    }
  g_assert_cmpint (held, ==, end);
  return chunks;
}

/* The single transfer session of the chunks logged from the @from-th. */
static const char *
stored_session (Server *s,
                guint   from)
{
  g_assert_cmpuint (s->stored->len, >, from);
  for (guint i = from; i < s->stored->len; i++)
    g_assert_cmpstr (((Stored *) s->stored->pdata[i])->ts, ==, ((Stored *) s->stored->pdata[from])->ts);
  return ((Stored *) s->stored->pdata[from])->ts;
}

static const char *
sent_session (Server *s,
              guint   from)
{
  g_assert_cmpuint (s->sent->len, >, from);
  for (guint i = from; i < s->sent->len; i++)
    g_assert_cmpstr (((Sent *) s->sent->pdata[i])->ts, ==, ((Sent *) s->sent->pdata[from])->ts);
  return ((Sent *) s->sent->pdata[from])->ts;
}

/* Pairs @dev with @url for the full-facility scope: the new
 * certificate's id. */
static char *
pair (const char *dev,
      const char *url)
{
  g_auto(Run) r = { 0 };
  g_autofree char *pw = write_tmp ("password", PASSWORD "\n");

  morango (&r, dev, "pair", url, "--yes", "--scope", "full-facility", "--password-file", pw, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_strstrip (r.out);
  g_assert_true (morango_is_hex32 (r.out));
  return g_steal_pointer (&r.out);
}

/* The number on the line of `status` that starts with @label. */
static gint64
status_number (const char *status,
               const char *label)
{
  g_auto(GStrv) lines = g_strsplit (status, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *line = lines[i];

      while (*line == ' ')
        line++;
      if (g_str_has_prefix (line, label) && line[strlen (label)] == ' ')
        return g_ascii_strtoll (line + strlen (label), NULL, 10);
    }
  g_error ("No “%s” in the status: %s", label, status);
}

/* ---- a proxy that cuts or holds a request ---- */

#define PUSH_MARK "POST /api/morango/v1/buffers/"
#define PULL_MARK "GET /api/morango/v1/buffers/"

typedef struct {
  GSocketService *service;
  guint           port;
  char           *url;
  guint           target;       /* the server's port */
  const char     *mark;         /* the requests to count (NULL: PUSH_MARK) */
  guint           skip;         /* how many of them go through whole first */
  gint            cuts_left;    /* then this many are cut; -1: every one */
  gsize           cut_after;    /* body bytes let through before a cut */
  /* Non-NULL: instead of cutting its body, a request is held back whole
   * and this runs before its connection closes (the test kills the
   * server there, at a known point of the transfer). */
  void          (*on_hold) (gpointer data);
  gpointer        hold_data;
  guint           seen;         /* requests counted */
  guint           cuts;         /* connections cut */
  guint           links;        /* connections open */
} Proxy;

typedef struct {
  Proxy             *proxy;
  GSocketConnection *client;
  GSocketConnection *server;
  int                pumps;      /* directions still going */
  GByteArray        *seen;       /* what the client sent so far */
  gsize              scan_from;
  gssize             armed;      /* where the request to cut starts, or -1 */
} Link;

typedef struct {
  Link          *link;
  gboolean       up;             /* client → server */
  GInputStream  *from;
  GOutputStream *to;
  GBytes        *bytes;          /* being written */
  gboolean       cut;            /* close both ends once written */
} Pump;

static void
link_shut (Link *link)
{
  /* Both ends at once: each pump then reads the end of its stream. */
  g_socket_shutdown (g_socket_connection_get_socket (link->client), TRUE, TRUE, NULL);
  g_socket_shutdown (g_socket_connection_get_socket (link->server), TRUE, TRUE, NULL);
}

static void
pump_end (Pump *pump)
{
  Link *link = pump->link;

  link_shut (link);
  g_clear_pointer (&pump->bytes, g_bytes_unref);
  g_free (pump);
  if (--link->pumps == 0)
    {
      link->proxy->links--;
      g_object_unref (link->client);
      g_object_unref (link->server);
      g_byte_array_unref (link->seen);
      g_free (link);
    }
}

/* How much of what the client just sent goes on: all of it, or up to
 * the cut in the body of the request to cut (*@cut set). */
static gsize
inspect (Link          *link,
         const guint8  *data,
         gsize          size,
         gboolean      *cut)
{
  Proxy *proxy = link->proxy;
  const char *mark_text = proxy->mark ? proxy->mark : PUSH_MARK;
  gsize before = link->seen->len;
  gsize mark = strlen (mark_text);

  g_byte_array_append (link->seen, data, size);
  for (;;)
    {
      const guint8 *found;

      if (link->armed < 0)
        {
          found = memmem (link->seen->data + link->scan_from, link->seen->len - link->scan_from, mark_text, mark);
          if (found == NULL)
            {
              /* The mark may be split between two reads. */
              if (link->seen->len >= mark)
                link->scan_from = MAX (link->scan_from, link->seen->len - mark + 1);
              return size;
            }
          link->scan_from = (found - link->seen->data) + mark;
          proxy->seen++;
          if (proxy->seen <= proxy->skip || proxy->cuts_left == 0)
            continue;
          link->armed = found - link->seen->data;
          if (proxy->on_hold != NULL)
            {
              /* Nothing of it goes on. */
              *cut = TRUE;
              proxy->cuts++;
              if (proxy->cuts_left > 0)
                proxy->cuts_left--;
              return MAX ((gsize) link->armed, before) - before;
            }
        }
      found = memmem (link->seen->data + link->armed, link->seen->len - link->armed, "\r\n\r\n", 4);
      if (found == NULL)
        return size;
      {
        gsize at = (found - link->seen->data) + 4 + proxy->cut_after;

        if (at > link->seen->len)
          return size;
        g_assert_cmpuint (at, >=, before);
        *cut = TRUE;
        proxy->cuts++;
        if (proxy->cuts_left > 0)
          proxy->cuts_left--;
        return at - before;
      }
    }
}

static void pump_read (Pump *pump);

static void
pump_wrote (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Pump *pump = user_data;
  g_autoptr(GError) error = NULL;

  g_clear_pointer (&pump->bytes, g_bytes_unref);
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error) || pump->cut)
    {
      Proxy *proxy = pump->link->proxy;

      if (pump->cut && proxy->on_hold != NULL)
        {
          g_test_message ("proxy: holding request %u back", proxy->seen);
          proxy->on_hold (proxy->hold_data);
        }
      else if (pump->cut)
        g_test_message ("proxy: cut a request after %" G_GSIZE_FORMAT " bytes of its body", proxy->cut_after);
      pump_end (pump);
      return;
    }
  pump_read (pump);
}

static void
pump_got (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  Pump *pump = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  gsize size = bytes ? g_bytes_get_size (bytes) : 0;
  gsize forward = size;

  if (size == 0)
    {
      pump_end (pump);
      return;
    }
  if (pump->up)
    forward = inspect (pump->link, g_bytes_get_data (bytes, NULL), size, &pump->cut);
  pump->bytes = g_bytes_new_from_bytes (bytes, 0, forward);
  g_output_stream_write_all_async (pump->to, g_bytes_get_data (pump->bytes, NULL), forward, G_PRIORITY_DEFAULT,
                                   NULL, pump_wrote, pump);
}

static void
pump_read (Pump *pump)
{
  g_input_stream_read_bytes_async (pump->from, 65536, G_PRIORITY_DEFAULT, NULL, pump_got, pump);
}

static void
pump_start (Link     *link,
            gboolean  up)
{
  Pump *pump = g_new0 (Pump, 1);
  GIOStream *from = G_IO_STREAM (up ? link->client : link->server);
  GIOStream *to = G_IO_STREAM (up ? link->server : link->client);

  pump->link = link;
  pump->up = up;
  pump->from = g_io_stream_get_input_stream (from);
  pump->to = g_io_stream_get_output_stream (to);
  link->pumps++;
  pump_read (pump);
}

static gboolean
on_incoming (GSocketService    *service,
             GSocketConnection *client,
             GObject           *source,
             gpointer           user_data)
{
  Proxy *proxy = user_data;
  g_autoptr(GSocketClient) connector = g_socket_client_new ();
  g_autoptr(GError) error = NULL;
  GSocketConnection *server;
  Link *link;

  /* Loopback, to another process: quick enough to wait for here. */
  g_socket_client_set_enable_proxy (connector, FALSE);
  server = g_socket_client_connect_to_host (connector, "127.0.0.1", proxy->target, NULL, &error);
  if (server == NULL)
    {
      g_test_message ("proxy: %s", error->message);
      return TRUE;
    }
  link = g_new0 (Link, 1);
  link->proxy = proxy;
  link->client = g_object_ref (client);
  link->server = server;
  link->seen = g_byte_array_new ();
  link->armed = -1;
  proxy->links++;
  pump_start (link, TRUE);
  pump_start (link, FALSE);
  return TRUE;
}

/* A proxy on 127.0.0.1 in front of 127.0.0.1:@target, cutting nothing
 * until told. */
static void
proxy_start (Proxy *proxy,
             guint  target)
{
  g_autoptr(GError) error = NULL;

  proxy->target = target;
  proxy->service = g_socket_service_new ();
  {
    g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
    g_autoptr(GSocketAddress) bound = NULL;

    g_assert_true (g_socket_listener_add_address (G_SOCKET_LISTENER (proxy->service), address,
                                                  G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
                                                  &bound, &error));
    g_assert_no_error (error);
    proxy->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  }
  proxy->url = g_strdup_printf ("http://127.0.0.1:%u/", proxy->port);
  g_signal_connect (proxy->service, "incoming", G_CALLBACK (on_incoming), proxy);
  g_socket_service_start (proxy->service);
}

static void
proxy_clear (Proxy *proxy)
{
  if (proxy->service == NULL)
    return;
  g_socket_service_stop (proxy->service);
  g_socket_listener_close (G_SOCKET_LISTENER (proxy->service));
  /* The clients are gone: their links end. */
  while (proxy->links > 0)
    g_main_context_iteration (NULL, TRUE);
  g_clear_object (&proxy->service);
  g_clear_pointer (&proxy->url, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Proxy, proxy_clear)

/* ---- the tests ---- */

/* Serve, pair, sync, change both sides, sync again: the same rows on
 * both, byte for byte; the client knows the server as synced, and the
 * server its client. */
static void
test_end_to_end (void)
{
  g_auto(Server) server = { 0 };
  g_auto(Run) r = { 0 };
  g_autofree char *dataset = create_root ("e2e-a");
  g_autofree char *cert = NULL;
  g_autofree char *b_instance = NULL;
  g_autofree char *rows = NULL;
  g_autoptr(GPtrArray) rooms = NULL;
  g_autoptr(GPtrArray) logs = NULL;
  g_autoptr(GString) lines = g_string_new (NULL);
  Synced synced;

  make_facility ("e2e-a", dataset, 20);
  server_start (&server, "e2e-a", 0, NULL);
  cert = pair ("e2e-b", server.url);
  morango (&r, "e2e-b", "cert", "list", NULL);
  g_assert_cmpint (r.status, ==, 0);
  assert_contains (r.out, cert);
  assert_contains (r.out, dataset);

  /* Everything comes over: a facility, 2 users, 2 classrooms, 20
   * anonymous and 6 summary logs. */
  morango (&r, "e2e-b", "sync", server.url, NULL);
  g_assert_cmpint (r.status, ==, 0);
  synced = parse_synced (r.out);
  g_assert_cmpint (synced.pulled, ==, 31);
  g_assert_cmpint (synced.pushed, ==, 0);
  g_assert_false (synced.resumed);
  assert_same_rows ("e2e-a", "e2e-b");
  g_assert_cmpint (count_rows ("e2e-b", "contentsummarylog"), ==, 6);

  /* A change on each side, and deletions. */
  rooms = ids_of ("e2e-a", "classroom");
  logs = ids_of ("e2e-a", "anonymoussessionlog");
  g_assert_cmpuint (rooms->len, ==, 2);
  g_assert_cmpuint (logs->len, ==, 20);
  {
    g_autofree char *more = anonymous_logs (dataset, 100, 3);

    g_string_printf (lines, "{\"model\":\"classroom\",\"fields\":{\"id\":\"%s\",\"name\":\"Renamed on a\"}}\n%s",
                     (char *) rooms->pdata[0], more);
    import ("e2e-a", lines->str);
  }
  {
    g_autofree char *more = anonymous_logs (dataset, 200, 2);

    g_string_printf (lines, "{\"model\":\"classroom\",\"fields\":{\"id\":\"%s\",\"name\":\"Renamed on b\"}}\n"
                     "{\"model\":\"anonymoussessionlog\",\"id\":\"%s\",\"delete\":true}\n%s",
                     (char *) rooms->pdata[1], (char *) logs->pdata[5], more);
    import ("e2e-b", lines->str);
  }
  morango (&r, "e2e-b", "sync", server.url, NULL);
  g_assert_cmpint (r.status, ==, 0);
  synced = parse_synced (r.out);
  g_assert_cmpint (synced.pulled, ==, 4);
  g_assert_cmpint (synced.pushed, ==, 4);
  assert_same_rows ("e2e-a", "e2e-b");
  rows = export ("e2e-a");
  assert_contains (rows, "\"Renamed on a\"");
  assert_contains (rows, "\"Renamed on b\"");
  g_assert_null (strstr (rows, logs->pdata[5]));
  g_assert_cmpint (count_rows ("e2e-a", "anonymoussessionlog"), ==, 24);

  /* Nothing more to move. */
  morango (&r, "e2e-b", "sync", server.url, NULL);
  g_assert_cmpint (r.status, ==, 0);
  synced = parse_synced (r.out);
  g_assert_cmpint (synced.pulled, ==, 0);
  g_assert_cmpint (synced.pushed, ==, 0);

  morango (&r, "e2e-b", "peers", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_true (g_str_has_prefix (r.out, "synced "));
  assert_contains (r.out, server.url);
  g_assert_null (strstr (r.out, "last success never"));
  assert_contains (r.out, "last failure never");
  morango (&r, "e2e-b", "status", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpint (status_number (r.out, "anonymoussessionlog"), ==, 24);
  g_assert_cmpint (status_number (r.out, "classroom"), ==, 2);
  g_assert_cmpint (status_number (r.out, "Peers:"), ==, 1);
  assert_contains (r.out, "Active sessions:  0 sync, 0 transfer");
  {
    const char *at = strstr (r.out, "Instance:");

    g_assert_nonnull (at);
    at += strlen ("Instance:");
    b_instance = g_strndup (at + strspn (at, " "), 32);
  }
  g_assert_true (morango_is_hex32 (b_instance));

  morango (&r, "e2e-a", "peers", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_true (g_str_has_prefix (r.out, "synced "));
  assert_contains (r.out, b_instance);
  server_stop (&server);
}

/* What pair and sync say when it goes wrong, and their exit codes. */
static void
test_refusals (void)
{
  g_auto(Server) server = { 0 };
  g_auto(Run) r = { 0 };
  g_autofree char *root1 = create_root ("ref-a");
  g_autofree char *root2 = create_root ("ref-a");
  g_autofree char *wrong = write_tmp ("wrong-password", "not the password\n");
  g_autofree char *pw = write_tmp ("password", PASSWORD "\n");
  g_autofree char *nowhere = NULL;
  g_autofree char *parent_option = NULL;
  g_autofree char *cert = NULL;

  server_start (&server, "ref-a", 0, NULL);

  /* A wrong password is refused: 3. */
  morango (&r, "ref-b", "pair", server.url, "--yes", "--scope", "full-facility", "--parent", root1,
           "--password-file", wrong, NULL);
  g_assert_cmpint (r.status, ==, 3);
  g_assert_cmpstr (r.out, ==, "");
  assert_contains (r.err, "morango pair: ");

  /* A scope the profile does not have: not found, with the list. */
  morango (&r, "ref-b", "pair", server.url, "--yes", "--scope", "no-such-scope", "--password-file", pw, NULL);
  g_assert_true (r.status == 4 || r.status == 3);
  g_assert_cmpstr (r.out, ==, "");
  assert_contains (r.err, "no-such-scope");
  assert_contains (r.err, "full-facility");
  assert_contains (r.err, "single-user");

  /* Two roots could issue it: a usage error listing both, one a line. */
  morango (&r, "ref-b", "pair", server.url, "--yes", "--scope", "full-facility", "--password-file", pw, NULL);
  g_assert_cmpint (r.status, ==, 2);
  g_assert_cmpstr (r.out, ==, "");
  {
    g_autofree char *line1 = g_strdup_printf ("\n  %s  full-facility  ", root1);
    g_autofree char *line2 = g_strdup_printf ("\n  %s  full-facility  ", root2);

    assert_contains (r.err, line1);
    assert_contains (r.err, line2);
    g_assert_true (g_str_has_prefix (r.err, "morango pair: "));
  }

  /* None of these left a certificate or a sync behind. */
  morango (&r, "ref-b", "cert", "list", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, "");

  /* Naming the parent settles it. */
  parent_option = g_strdup_printf ("--parent=%s", root2);
  morango (&r, "ref-b", "pair", server.url, "--yes", "--scope", "full-facility", parent_option, "--password-file", pw, NULL);
  g_assert_cmpint (r.status, ==, 0);
  cert = g_strdup (g_strstrip (r.out));
  morango (&r, "ref-b", "cert", "show", cert, NULL);
  g_assert_cmpint (r.status, ==, 0);
  assert_contains (r.out, root2);
  morango (&r, "ref-b", "sync", server.url, NULL);
  g_assert_cmpint (r.status, ==, 0);
  server_stop (&server);

  /* A port nobody listens on: unreachable, 5, after the retries. */
  {
    g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
    g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
    g_autoptr(GSocketAddress) bound = NULL;

    g_assert_true (g_socket_bind (socket, any, FALSE, NULL));
    bound = g_socket_get_local_address (socket, NULL);
    nowhere = g_strdup_printf ("http://127.0.0.1:%u/",
                               g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
    /* Bound but not listening: connections are refused. */
    morango (&r, "ref-c", "pair", nowhere, "--yes", "--scope", "full-facility", "--password-file", pw, NULL);
    g_assert_cmpint (r.status, ==, 5);
    assert_contains (r.err, nowhere);
    /* The server's address with the server gone: the same. */
    morango (&r, "ref-b", "sync", server.url, NULL);
    g_assert_cmpint (r.status, ==, 5);
  }
  morango (&r, "ref-b", "peers", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_null (strstr (r.out, "last failure never"));
}

/* Pages the server sent from the @from-th log entry on: each once, in
 * order, with no gap, from record @start to record @end. */
static void
assert_pages_sent (Server *s,
                   guint   from,
                   gint64  start,
                   gint64  end)
{
  gint64 offset = start;

  for (guint i = from; i < s->sent->len; i++)
    {
      Sent *se = s->sent->pdata[i];

      g_test_message ("sent %u records from %" G_GINT64_FORMAT, se->n, se->offset);
      g_assert_cmpint (se->offset, ==, offset);
      offset += se->n;
    }
  g_assert_cmpint (offset, ==, end);
}

/* How many records of transfer session @ts @dev's side holds as
 * committed. */
static gint64
committed_in (const char *dev,
              const char *ts)
{
  g_autofree char *path = g_build_filename (tmp, dev, MORANGO_STORE_FOLDER_DB, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoDb) db = morango_db_open (path, &error);
  gint64 count = -1;

  g_assert_no_error (error);
  g_assert_true (morango_db_query_int64 (db, &count, NULL, &error,
                                         "SELECT records_transferred FROM morango_transfersession WHERE id = ?",
                                         "s", ts));
  g_assert_no_error (error);
  return count;
}

#define TOTAL_PULLED (1 + 2 + 2 + 6 + 120)   /* make_facility (…, 120) */

/* `morango sync` killed by SIGKILL after 3 chunks, then run again: it
 * continues the same transfer, the server sends (pull) or stores
 * (push) nothing twice, and nothing is lost. */
static void
test_kill_client (void)
{
  g_auto(Server) server = { 0 };
  g_auto(Run) r = { 0 };
  g_autofree char *dataset = create_root ("kc-a");
  g_autofree char *cert = NULL;
  g_autofree char *more = NULL;
  const char *ts;
  guint from, first_run;
  gint64 committed;
  Synced synced;

  make_facility ("kc-a", dataset, 120);
  server_start (&server, "kc-a", 0, NULL);
  cert = pair ("kc-b", server.url);

  /* Pulling. */
  from = server.sent->len;
  morango_env (&r, "MORANGO_TEST_KILL_AFTER_CHUNKS=3", "kc-b", "sync", server.url, "--pull", "--chunk-size=10", NULL);
  g_assert_cmpint (r.status, ==, -1);
  g_assert_cmpint (r.signal, ==, SIGKILL);
  ts = sent_session (&server, from);
  /* Three pages committed, and up to two more fetched meanwhile (the
   * one stored beside the hook may have been committed too). */
  first_run = server.sent->len - from;
  g_assert_cmpuint (first_run, >=, 3);
  g_assert_cmpuint (first_run, <=, 5);
  assert_pages_sent (&server, from, 0, first_run * 10);
  committed = committed_in ("kc-b", ts);
  g_assert_cmpint (committed, >=, 30);
  g_assert_cmpint (committed, <=, 40);
  g_assert_cmpint (count_rows ("kc-b", "anonymoussessionlog"), ==, 0);

  from = server.sent->len;
  morango (&r, "kc-b", "sync", server.url, "--pull", "--chunk-size=10", NULL);
  g_assert_cmpint (r.status, ==, 0);
  synced = parse_synced (r.out);
  g_assert_true (synced.resumed);
  g_assert_cmpint (synced.pulled, ==, TOTAL_PULLED);
  /* The same session, from the first record the client had not
   * committed: the pages it fetched but never stored come again, those
   * it stored do not. */
  g_assert_cmpstr (sent_session (&server, from), ==, ts);
  assert_pages_sent (&server, from, committed, TOTAL_PULLED);
  assert_same_rows ("kc-a", "kc-b");

  /* Pushing. */
  more = anonymous_logs (dataset, 1000, 100);
  import ("kc-b", more);
  from = server.stored->len;
  morango_env (&r, "MORANGO_TEST_KILL_AFTER_CHUNKS=3", "kc-b", "sync", server.url, "--push", "--chunk-size=10", NULL);
  g_assert_cmpint (r.status, ==, -1);
  g_assert_cmpint (r.signal, ==, SIGKILL);
  ts = stored_session (&server, from);
  /* Three chunks, and maybe the one on its way when the client died. */
  first_run = assert_chunks_stored (&server, ts, 0, (server.stored->len - from) * 10);
  g_assert_cmpuint (first_run, >=, 3);
  g_assert_cmpuint (first_run, <=, 4);
  g_assert_cmpint (count_rows ("kc-a", "anonymoussessionlog"), ==, 120);

  morango (&r, "kc-b", "sync", server.url, "--push", "--chunk-size=10", NULL);
  g_assert_cmpint (r.status, ==, 0);
  synced = parse_synced (r.out);
  g_assert_true (synced.resumed);
  g_assert_cmpint (synced.pushed, ==, 100);
  g_assert_cmpstr (stored_session (&server, from), ==, ts);
  g_assert_cmpuint (assert_chunks_stored (&server, ts, 0, 100), ==, 10);
  assert_same_rows ("kc-a", "kc-b");
  g_assert_cmpint (count_rows ("kc-a", "anonymoussessionlog"), ==, 220);
  server_stop (&server);
}

/* Run by the proxy as it holds a request back: the server dies. */
static void
kill_server_now (gpointer data)
{
  Server *s = data;

  g_subprocess_send_signal (s->process, SIGKILL);
  s->killed = TRUE;
  g_subprocess_wait (s->process, NULL, NULL);
}

/* The server killed by SIGKILL in the middle of a transfer: the client
 * gives up once its retries find nobody (exit 5); the server comes
 * back on the same port, and the next sync continues the transfer and
 * completes, nothing lost or doubled.  The client goes through a proxy
 * that holds its fourth request for a page or a chunk back and kills
 * the server meanwhile, so the server dies at a known point: after
 * three pages sent, or three chunks stored. */
static void
test_kill_server (void)
{
  g_auto(Server) server = { 0 };
  g_auto(Proxy) proxy = { 0 };
  g_auto(Run) r = { 0 };
  g_autofree char *dataset = create_root ("ks-a");
  g_autofree char *cert = NULL;
  g_autofree char *more = NULL;
  const char *ts;
  guint from, port;
  gint64 committed;
  Synced synced;

  make_facility ("ks-a", dataset, 120);
  server_start (&server, "ks-a", 0, NULL);
  port = server.port;
  proxy_start (&proxy, port);
  proxy.hold_data = &server;
  cert = pair ("ks-b", proxy.url);

  /* Pulling: killed once it sent three pages. */
  proxy.mark = PULL_MARK;
  proxy.seen = 0;
  proxy.skip = 3;
  proxy.cuts_left = 1;
  proxy.on_hold = kill_server_now;
  from = server.sent->len;
  morango (&r, "ks-b", "sync", proxy.url, "--pull", "--chunk-size=10", NULL);
  g_assert_cmpint (r.status, ==, 5);
  assert_contains (r.err, proxy.url);
  g_assert_true (server.killed);
  server_reap (&server);
  g_assert_cmpuint (server.sent->len - from, ==, 3);
  ts = sent_session (&server, from);
  /* The third page was stored or not when the fetch of the fourth failed. */
  committed = committed_in ("ks-b", ts);
  g_assert_cmpint (committed, >=, 20);
  g_assert_cmpint (committed, <=, 30);
  g_assert_cmpint (count_rows ("ks-b", "anonymoussessionlog"), ==, 0);

  server_start (&server, "ks-a", port, NULL);
  from = server.sent->len;
  morango (&r, "ks-b", "sync", proxy.url, "--pull", "--chunk-size=10", NULL);
  g_assert_cmpint (r.status, ==, 0);
  synced = parse_synced (r.out);
  g_assert_true (synced.resumed);
  g_assert_cmpint (synced.pulled, ==, TOTAL_PULLED);
  /* From what the client committed on, each page once. */
  g_assert_cmpstr (sent_session (&server, from), ==, ts);
  assert_pages_sent (&server, from, committed, TOTAL_PULLED);
  assert_same_rows ("ks-a", "ks-b");

  /* Pushing: killed once it stored three chunks. */
  more = anonymous_logs (dataset, 1000, 100);
  import ("ks-b", more);
  proxy.mark = PUSH_MARK;
  proxy.seen = 0;
  proxy.skip = 3;
  proxy.cuts_left = 1;
  from = server.stored->len;
  morango (&r, "ks-b", "sync", proxy.url, "--push", "--chunk-size=10", NULL);
  g_assert_cmpint (r.status, ==, 5);
  g_assert_true (server.killed);
  server_reap (&server);
  ts = stored_session (&server, from);
  g_assert_cmpuint (assert_chunks_stored (&server, ts, 0, 30), ==, 3);

  server_start (&server, "ks-a", port, NULL);
  morango (&r, "ks-b", "sync", proxy.url, "--push", "--chunk-size=10", NULL);
  g_assert_cmpint (r.status, ==, 0);
  synced = parse_synced (r.out);
  g_assert_true (synced.resumed);
  g_assert_cmpint (synced.pushed, ==, 100);
  g_assert_cmpstr (stored_session (&server, from), ==, ts);
  g_assert_cmpuint (assert_chunks_stored (&server, ts, 0, 100), ==, 10);
  assert_same_rows ("ks-a", "ks-b");
  g_assert_cmpint (count_rows ("ks-a", "anonymoussessionlog"), ==, 220);
  server_stop (&server);
}

/* A proxy closes the connection in the middle of a chunk's body.  The
 * client does not send a chunk again (correction 17: a Python server
 * would refuse the second copy), so the sync fails as unreachable (5)
 * with the chunks before stored whole; the next sync asks the server
 * what it holds and continues from there. */
static void
test_cut_connection (void)
{
  g_auto(Server) server = { 0 };
  g_auto(Proxy) proxy = { 0 };
  g_auto(Run) r = { 0 };
  g_autofree char *dataset = create_root ("cut-a");
  g_autofree char *cert = NULL;
  g_autofree char *more = NULL;
  const char *ts;
  guint from;
  Synced synced;

  make_facility ("cut-a", dataset, 0);
  server_start (&server, "cut-a", 0, NULL);
  proxy_start (&proxy, server.port);
  proxy.cut_after = 100;
  cert = pair ("cut-b", proxy.url);
  morango (&r, "cut-b", "sync", proxy.url, NULL);
  g_assert_cmpint (r.status, ==, 0);
  assert_same_rows ("cut-a", "cut-b");

  /* Cut in the third chunk. */
  more = anonymous_logs (dataset, 0, 100);
  import ("cut-b", more);
  proxy.skip = proxy.seen + 2;
  proxy.cuts_left = 1;
  from = server.stored->len;
  morango (&r, "cut-b", "sync", proxy.url, "--push", "--chunk-size=10", NULL);
  g_assert_cmpint (proxy.cuts, ==, 1);
  g_assert_cmpint (r.status, ==, 5);
  assert_contains (r.err, proxy.url);
  ts = stored_session (&server, from);
  g_assert_cmpuint (assert_chunks_stored (&server, ts, 0, 20), ==, 2);
  g_assert_cmpint (count_rows ("cut-a", "anonymoussessionlog"), ==, 0);

  morango (&r, "cut-b", "sync", proxy.url, "--push", "--chunk-size=10", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpint (proxy.cuts, ==, 1);
  synced = parse_synced (r.out);
  g_assert_true (synced.resumed);
  g_assert_cmpint (synced.pushed, ==, 100);
  g_assert_cmpstr (stored_session (&server, from), ==, ts);
  g_assert_cmpuint (assert_chunks_stored (&server, ts, 0, 100), ==, 10);
  assert_same_rows ("cut-a", "cut-b");
  g_assert_cmpint (count_rows ("cut-a", "anonymoussessionlog"), ==, 100);
  server_stop (&server);
}

/* ---- hostile bodies ---- */

static GBytes *
gzip_bytes (const void *data,
            gsize       size)
{
  g_autoptr(GZlibCompressor) z = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP, 9);
  g_autoptr(GOutputStream) memory = g_memory_output_stream_new_resizable ();
  g_autoptr(GOutputStream) out = g_converter_output_stream_new (memory, G_CONVERTER (z));
  g_autoptr(GError) error = NULL;

  g_output_stream_write_all (out, data, size, NULL, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_close (out, NULL, &error);
  g_assert_no_error (error);
  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (memory));
}

/* Sends @method @path (under the API) with @body of @content_type to
 * @server, and returns the status; the body of the answer goes to
 * *@answer (may be NULL). */
static guint
request (SoupSession *session,
         Server      *server,
         const char  *method,
         const char  *path,
         const char  *content_type,
         GBytes      *body,
         JsonNode   **answer)
{
  g_autofree char *url = g_strdup_printf ("%sapi/morango/v1/%s", server->url, path);
  g_autoptr(SoupMessage) msg = soup_message_new (method, url);
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  const char *type;
  gsize size;

  g_assert_nonnull (msg);
  if (body != NULL)
    soup_message_set_request_body_from_bytes (msg, content_type, body);
  reply = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  type = soup_message_headers_get_content_type (soup_message_get_response_headers (msg), NULL);
  {
    const char *data = g_bytes_get_data (reply, &size);
    g_autofree char *shown = g_strndup (data, MIN (size, 500));
    g_autofree char *safe = g_strescape (shown, NULL);

    g_test_message ("%s %s (%" G_GSIZE_FORMAT " bytes) → %u %s: %s", method, path,
                    body ? g_bytes_get_size (body) : 0, soup_message_get_status (msg), type, safe);
  }
  /* Every answer is JSON, a refusal included. */
  g_assert_cmpstr (type, ==, "application/json");
  g_assert_true (json_parser_load_from_data (parser, g_bytes_get_data (reply, NULL), g_bytes_get_size (reply), &error));
  g_assert_no_error (error);
  if (answer != NULL)
    *answer = json_parser_steal_root (parser);
  return soup_message_get_status (msg);
}

static void
assert_refused (SoupSession *session,
                Server      *server,
                guint        expected,
                const char  *method,
                const char  *path,
                const char  *content_type,
                GBytes      *body)
{
  guint status = request (session, server, method, path, content_type, body, NULL);

  if (expected != 0)
    g_assert_cmpuint (status, ==, expected);
  g_assert_cmpuint (status, >=, 400);
  g_assert_cmpuint (status, <, 500);
}

static GBytes *
text_bytes (const char *text)
{
  return g_bytes_new (text, strlen (text));
}

/* Against a running `morango serve --max-body 16384`: malformed JSON,
 * wrong types, unknown ids, a body over the limit, bodies that are not
 * gzip, and one that inflates past the limit all get a 4xx with a JSON
 * body; the server goes on serving, a real sync included. */
static void
test_hostile_bodies (void)
{
  g_auto(Server) server = { 0 };
  g_auto(Run) r = { 0 };
  g_autoptr(SoupSession) session = soup_session_new_with_options ("proxy-resolver", NULL, NULL);
  g_autofree char *dataset = create_root ("hb-a");
  g_autofree char *cert = NULL;
  g_autofree char *big = NULL;
  g_autofree char *err = NULL;
  g_autofree char *stray_chunk = NULL;
  g_autoptr(JsonNode) info = NULL;
  const char *unknown = "0123456789abcdef0123456789abcdef";
  const char *json = "application/json";
  const char *gz = "application/gzip";

  make_facility ("hb-a", dataset, 5);
  server_start (&server, "hb-a", 0, "16384");

  /* Malformed JSON, and JSON of the wrong shape. */
  {
    const char *bodies[] = {
      "{\"id\": ", "[1, 2, 3]", "\"text\"", "{\"id\": 7, \"profile\": false}", "\xff\xfe{}", "",
      "{\"id\": \"0123456789abcdef0123456789abcdef\", \"profile\": [], \"certificate_id\": {}}",
    };

    for (guint i = 0; i < G_N_ELEMENTS (bodies); i++)
      {
        g_autoptr(GBytes) body = text_bytes (bodies[i]);

        assert_refused (session, &server, 400, "POST", "syncsessions/", json, body);
        assert_refused (session, &server, 0, "POST", "transfersessions/", json, body);
        assert_refused (session, &server, 0, "POST", "buffers/", json, body);
        assert_refused (session, &server, 0, "POST", "certificates/", json, body);
      }
  }

  /* Ids nobody holds. */
  {
    g_autofree char *path = g_strdup_printf ("transfersessions/%s/", unknown);
    g_autofree char *sync_path = g_strdup_printf ("syncsessions/%s/", unknown);
    g_autofree char *ts = g_strdup_printf ("{\"id\": \"%s\", \"sync_session_id\": \"%s\", \"filter\": \"%s\", "
                                           "\"push\": true, \"records_total\": 1, \"client_fsic\": \"{}\"}",
                                           unknown, unknown, dataset);
    g_autofree char *records = g_strdup_printf ("[{\"transfer_session\": \"%s\", \"model_uuid\": \"%s\", "
                                                "\"serialized\": \"{}\", \"deleted\": false, \"hard_deleted\": false, "
                                                "\"last_saved_instance\": \"%s\", \"last_saved_counter\": 1, "
                                                "\"partition\": \"%s\", \"source_id\": \"x\", "
                                                "\"model_name\": \"facility\", \"conflicting_serialized_data\": \"\", "
                                                "\"_self_ref_fk\": \"\", \"profile\": \"facilitydata\", "
                                                "\"rmcb_list\": []}]", unknown, unknown, unknown, dataset);
    g_autoptr(GBytes) ts_body = text_bytes (ts);
    g_autoptr(GBytes) records_body = text_bytes (records);
    g_autoptr(GBytes) patch = text_bytes ("{\"records_transferred\": \"many\"}");
    g_autofree char *certificate = g_strdup_printf ("certificates/%s/", unknown);
    g_autofree char *pages = g_strdup_printf ("buffers/?transfer_session_id=%s&limit=10", unknown);

    assert_refused (session, &server, 404, "GET", path, NULL, NULL);
    assert_refused (session, &server, 0, "PATCH", path, json, patch);
    assert_refused (session, &server, 0, "DELETE", path, NULL, NULL);
    assert_refused (session, &server, 404, "GET", sync_path, NULL, NULL);
    assert_refused (session, &server, 0, "POST", "transfersessions/", json, ts_body);
    assert_refused (session, &server, 0, "POST", "buffers/", json, records_body);
    assert_refused (session, &server, 0, "GET", pages, NULL, NULL);
    assert_refused (session, &server, 404, "GET", certificate, NULL, NULL);
    stray_chunk = g_steal_pointer (&records);
  }

  /* Over the limit as sent. */
  {
    g_autoptr(GBytes) body = NULL;

    big = g_malloc (20000 + 1);
    memset (big, ' ', 20000);
    big[0] = '[';
    big[19999] = ']';
    big[20000] = '\0';
    body = text_bytes (big);
    assert_refused (session, &server, 413, "POST", "syncsessions/", json, body);
    assert_refused (session, &server, 413, "POST", "buffers/", json, body);
  }

  /* Not gzip, cut gzip, and gzip that inflates past the limit. */
  {
    g_autoptr(GBytes) not_gzip = text_bytes ("this is not gzip at all");
    g_autoptr(GBytes) whole = gzip_bytes (stray_chunk, strlen (stray_chunk));
    g_autoptr(GBytes) cut = g_bytes_new_from_bytes (whole, 0, g_bytes_get_size (whole) / 2);
    g_autoptr(GBytes) garbled = NULL;
    g_autofree char *spaces = g_malloc (8 * 1024 * 1024);
    g_autoptr(GBytes) bomb = NULL;
    guint8 *copy;
    gsize size;

    assert_refused (session, &server, 400, "POST", "buffers/", gz, not_gzip);
    assert_refused (session, &server, 400, "POST", "buffers/", gz, cut);
    /* A flipped byte in the deflated data or its checksum. */
    copy = g_bytes_unref_to_data (g_bytes_ref (whole), &size);
    copy[size - 6] ^= 0x55;
    garbled = g_bytes_new_take (copy, size);
    assert_refused (session, &server, 400, "POST", "buffers/", gz, garbled);
    /* Well-formed gzip of a record for a session nobody holds. */
    assert_refused (session, &server, 0, "POST", "buffers/", gz, whole);

    memset (spaces, ' ', 8 * 1024 * 1024);
    spaces[0] = '[';
    bomb = gzip_bytes (spaces, 8 * 1024 * 1024);
    g_assert_cmpuint (g_bytes_get_size (bomb), <, 16384);
    assert_refused (session, &server, 413, "POST", "buffers/", gz, bomb);
  }

  /* Still serving. */
  g_assert_cmpuint (request (session, &server, "GET", "morangoinfo/1/", NULL, NULL, &info), ==, 200);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (info));
  g_assert_true (morango_is_hex32 (json_object_get_string_member (json_node_get_object (info), "instance_id")));
  cert = pair ("hb-b", server.url);
  morango (&r, "hb-b", "sync", server.url, NULL);
  g_assert_cmpint (r.status, ==, 0);
  assert_same_rows ("hb-a", "hb-b");
  g_assert_cmpint (count_rows ("hb-a", "anonymoussessionlog"), ==, 5);

  /* Nothing of it was a failure of the server's own. */
  server_stop (&server);
  err = read_err (&server);
  g_assert_null (strstr (err, "WARNING"));
  g_assert_null (strstr (err, "CRITICAL"));
}

int
main (int argc, char *argv[])
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  tmp = morango_test_tmpdir ();
  g_test_add_func ("/cli-net/end-to-end", test_end_to_end);
  g_test_add_func ("/cli-net/refusals", test_refusals);
  g_test_add_func ("/cli-net/kill-client", test_kill_client);
  g_test_add_func ("/cli-net/kill-server", test_kill_server);
  g_test_add_func ("/cli-net/cut-connection", test_cut_connection);
  g_test_add_func ("/cli-net/hostile-bodies", test_hostile_bodies);
  rc = g_test_run ();
  g_free (tmp);
  return rc;
}
