/* morango-cli-net.c: `morango serve`, `morango pair` and `morango sync`
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib-unix.h>
#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "morango-account.h"
#include "morango-cli.h"
#include "morango-engine.h"
#include "morango-engine-history.h"
#include "morango-json.h"
#include "morango-store.h"
#include "morango-tls.h"

/* Network failures are 5; the rest as every command has them. */
static int
exit_code_for (const GError *error)
{
  if (error->domain == G_RESOLVER_ERROR || error->domain == G_TLS_ERROR ||
      (error->domain == G_IO_ERROR && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) &&
       !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)))
    return MORANGO_EXIT_UNREACHABLE;
  return morango_cli_exit_code (error);
}

static int
fail (const char   *command,
      const GError *error)
{
  /* Peers' answers are quoted in messages, so each line is made safe.
   * Only a choice to make keeps its line breaks: the engine lists the
   * choices one a line, with no line break of the peer's in them. */
  const char *whole[] = { error->message, NULL };
  g_auto(GStrv) lines = g_error_matches (error, MORANGO_ERROR, MORANGO_ERROR_AMBIGUOUS)
                        ? g_strsplit (error->message, "\n", -1) : g_strdupv ((char **) whole);

  fprintf (stderr, "morango %s: ", command);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autofree char *safe = morango_cli_safe (lines[i]);

      fprintf (stderr, "%s%s", i > 0 ? "\n" : "", safe);
    }
  fputc ('\n', stderr);
  if (g_error_matches (error, MORANGO_ERROR, MORANGO_ERROR_PIN_MISMATCH))
    fprintf (stderr, _("morango %s: if the peer's new certificate is expected, give "
                       "--expect-fingerprint with the fingerprint it shows now, to pin that one\n"),
             command);
  return exit_code_for (error);
}

/* ---- confirmations ---- */

typedef struct {
  const char *command;
  gboolean    yes;        /* --yes: trust the peer's root without asking */
} Confirming;

/* A y/n question on the terminal; anything but yes is no.  The answer
 * starting with "y" is yes in every language, so that a script or a
 * habit typing "y" keeps working in a translated run. */
static gboolean
ask_yes_no (const char *question)
{
  char line[64];
  const char *yes;
  gunichar answer;

  /* TRANSLATORS: after a yes/no question on the terminal; the capital
   * letter is the answer taken when the user just presses Enter (no).
   * Keep the brackets, and use the first letter of your "yes" word,
   * the same letter as the next message. */
  fprintf (stderr, "%s %s ", question, _("[y/N]"));
  fflush (stderr);
  if (fgets (line, sizeof line, stdin) == NULL)
    return FALSE;
  g_strchomp (line);
  if (!g_utf8_validate (line, -1, NULL) || line[0] == '\0')
    return FALSE;
  answer = g_unichar_tolower (g_utf8_get_char (line));
  if (answer == 'y')
    return TRUE;
  /* TRANSLATORS: the letter that answers yes to a [y/N] question, the
   * first of your "yes" word, lower case, exactly one letter ("s" for
   * "sim" or "sí").  "y" is accepted as well. */
  yes = _("y");
  return g_utf8_strlen (yes, -1) == 1 && answer == g_unichar_tolower (g_utf8_get_char (yes));
}

/* The engine's questions, on the terminal (standard error, so that
 * standard output stays what scripts read). */
static void
confirm_on_terminal (MorangoEngineConfirmation *confirmation,
                     gpointer                   user_data)
{
  Confirming *c = user_data;
  g_autofree char *url = morango_cli_safe (morango_engine_confirmation_get_url (confirmation));
  const char *fingerprint = morango_engine_confirmation_get_fingerprint (confirmation);
  gboolean terminal = isatty (STDIN_FILENO);

  if (morango_engine_confirmation_get_kind (confirmation) == MORANGO_ENGINE_CONFIRM_TLS_CERTIFICATE)
    {
      if (!terminal)
        {
          fprintf (stderr, _("morango %s: %s is new to this device; its TLS certificate is\n"
                             "  %s\ncheck it with whoever runs that peer (`morango serve --tls` "
                             "prints it) and give --expect-fingerprint\n"), c->command, url, fingerprint);
          morango_engine_confirmation_reply (confirmation, FALSE);
          return;
        }
      fprintf (stderr, _("%s is new to this device. Its TLS certificate has the fingerprint\n"
                         "  %s\nCompare it with the one `morango serve --tls` printed on that peer: "
                         "if they differ, someone may stand in between.\n"), url, fingerprint);
      morango_engine_confirmation_reply (confirmation, ask_yes_no (_("Is it the same?")));
      return;
    }

  if (c->yes)
    {
      morango_engine_confirmation_reply (confirmation, TRUE);
      return;
    }
  {
    g_autofree char *root = morango_cli_safe (morango_engine_confirmation_get_root_id (confirmation));
    g_autofree char *profile = morango_cli_safe (morango_engine_confirmation_get_profile (confirmation));
    g_autofree char *scope = morango_cli_safe (morango_engine_confirmation_get_scope_definition (confirmation));
    g_autofree char *params = morango_cli_safe (morango_engine_confirmation_get_scope_params (confirmation));

    fprintf (stderr, _("Pairing with %s makes its root certificate a trust anchor of this device:\n"
                       "  id           %s\n  fingerprint  %s\n  profile      %s\n  scope        %s %s\n"
                       "Every certificate issued under it will be believed here.\n"),
             url, root, fingerprint, profile, scope, params);
    morango_engine_confirmation_reply (confirmation, terminal && ask_yes_no (_("Trust this root?")));
  }
}

/* --expect-fingerprint: a fingerprint, for an https:// URL. */
static int
check_expected (const char  *command,
                const char  *url,
                const char  *expected)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *canonical = NULL;

  if (expected == NULL)
    return -1;
  if (g_ascii_strncasecmp (url, "https://", 8) != 0)
    return morango_cli_usage_error (command, _("--expect-fingerprint is for https:// URLs"));
  canonical = morango_tls_fingerprint_normalize (expected, &error);
  if (canonical == NULL)
    {
      g_autofree char *safe = morango_cli_safe (error->message);

      return morango_cli_usage_error (command, "%s", safe);
    }
  return -1;
}

/* Waits on the default main context for an async call. */
typedef struct {
  GMainLoop    *loop;
  GAsyncResult *result;
} Wait;

static void
got_result (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Wait *wait = user_data;

  wait->result = g_object_ref (result);
  g_main_loop_quit (wait->loop);
}

static gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_CONTINUE;
}

/* ---- serve ---- */

int
morango_cli_serve (const char *data_dir,
                   int         argc,
                   char      **argv)
{
  g_autofree char *address = NULL;
  g_autofree char *password_file = NULL;
  gint port = 8080;
  gint64 max_body = 32 * 1024 * 1024;
  gboolean allow_push = FALSE, accept_new_roots = FALSE;
  gboolean tls = FALSE;
  const GOptionEntry entries[] = {
    { "address", 0, 0, G_OPTION_ARG_STRING, &address, N_("Listen on this IP address only (default: all)"), N_("A") },
    { "port", 0, 0, G_OPTION_ARG_INT, &port, N_("TCP port (default 8080; 0: any free one)"), N_("PORT") },
    { "admin-password-file", 0, 0, G_OPTION_ARG_FILENAME, &password_file,
      N_("Set the password peers give to pair, from the first line of F"), N_("F") },
    { "max-body", 0, 0, G_OPTION_ARG_INT64, &max_body,
      N_("Largest request body taken, compressed or not, in bytes (default 32 MiB)"), N_("N") },
    { "allow-certificate-push", 0, 0, G_OPTION_ARG_NONE, &allow_push,
      N_("Let peers push this device certificates for their datasets (a server that holds no root)"), NULL },
    { "accept-new-roots", 0, 0, G_OPTION_ARG_NONE, &accept_new_roots,
      N_("With --allow-certificate-push: trust the root of a pushed chain on first use (a cloud)"), NULL },
    { "tls", 0, 0, G_OPTION_ARG_NONE, &tls,
      N_("Serve HTTPS with this folder's own certificate (made the first time); "
         "prints its fingerprint for clients to check"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = morango_cli_context_new (NULL, _("Serve this data folder to "
                                                                       "peers over HTTP, as a Morango "
                                                                       "server does."), entries, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoEngine) engine = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_auto(GStrv) urls = NULL;
  MorangoEngineServeOptions options = { 0 };
  Wait wait = { 0 };
  int rc;

  rc = morango_cli_parse (context, "serve", NULL, &argc, &argv);
  if (rc >= 0)
    return rc;
  if (argc > 1)
    return morango_cli_usage_error ("serve", _("unexpected argument “%s”"), argv[1]);
  if (port < 0 || port > 65535)
    return morango_cli_usage_error ("serve", _("--port takes a number from 0 to 65535"));
  if (max_body < 1024)
    return morango_cli_usage_error ("serve", _("--max-body takes a number of bytes, at least 1024"));
  if (accept_new_roots && !allow_push)
    return morango_cli_usage_error ("serve", _("--accept-new-roots goes with --allow-certificate-push"));
  if (address != NULL)
    {
      g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (address);

      if (inet == NULL)
        return morango_cli_usage_error ("serve", _("--address takes an IP address, not “%s”"), address);
    }

  engine = morango_engine_new (morango_cli_get_data_dir (), NULL, &error);
  if (engine == NULL)
    return fail ("serve", error);
  loop = g_main_loop_new (NULL, FALSE);
  wait.loop = loop;

  /* The admin account: from the file, or asked the first time.  The
   * engine keeps it, as it does for the desktop app's serving switch. */
  {
    g_autofree char *password = NULL;
    gboolean has_admin;

    morango_engine_has_admin_async (engine, NULL, got_result, &wait);
    g_main_loop_run (loop);
    has_admin = morango_engine_has_admin_finish (engine, wait.result, &error);
    g_clear_object (&wait.result);
    if (error != NULL)
      return fail ("serve", error);
    if (password_file != NULL || !has_admin)
      {
        if (password_file == NULL && isatty (STDIN_FILENO))
          fputs (_("Peers give an admin password to pair with this device. Choose one.\n"), stderr);
        password = morango_cli_read_secret (password_file, _("Admin password: "),
                                            password_file == NULL ? _("Again: ") : NULL,
                                            _("The two differ"), &error);
        if (password == NULL && error != NULL)
          return fail ("serve", error);
      }
    if (password != NULL)
      {
        gboolean set;

        if (*password == '\0')
          {
            fprintf (stderr, _("morango serve: the admin password is empty\n"));
            return MORANGO_EXIT_USAGE;
          }
        morango_engine_set_admin_password_async (engine, password, NULL, got_result, &wait);
        memset (password, 0, strlen (password));
        g_main_loop_run (loop);
        set = morango_engine_set_admin_password_finish (engine, wait.result, &error);
        g_clear_object (&wait.result);
        if (!set)
          return fail ("serve", error);
      }
    else if (!has_admin)
      fprintf (stderr, _("morango serve: no admin password is set, so pairing requests are refused "
                         "(401); give --admin-password-file F to set one\n"));
  }

  options.address = address;
  options.port = port;
  options.body_limit = max_body;
  options.allow_certificate_push = allow_push;
  options.accept_new_roots = accept_new_roots;
  options.tls = tls;
  morango_engine_serve_async (engine, &options, NULL, got_result, &wait);
  g_main_loop_run (loop);
  if (!morango_engine_serve_finish (engine, wait.result, &error))
    {
      g_object_unref (wait.result);
      return fail ("serve", error);
    }
  g_object_unref (wait.result);

  /* For scripts: one plain line, at once. */
  printf ("listening on %s://%s:%u/\n", tls ? "https" : "http", address ? address : "0.0.0.0",
          morango_engine_get_port (engine));
  if (tls)
    {
      g_autofree char *fingerprint = morango_engine_dup_tls_fingerprint (engine);

      printf ("fingerprint %s\n", fingerprint);
    }
  urls = morango_engine_get_urls (engine);
  if (address == NULL)
    for (guint i = 0; urls != NULL && urls[i] != NULL; i++)
      printf ("  %s\n", urls[i]);
  fflush (stdout);

  g_unix_signal_add (SIGINT, quit_loop, loop);
  g_unix_signal_add (SIGTERM, quit_loop, loop);
  g_main_loop_run (loop);
  morango_engine_stop_serving (engine);
  fprintf (stderr, _("morango serve: stopped\n"));
  return MORANGO_EXIT_OK;
}

/* ---- pair ---- */

typedef struct {
  JsonObject *params;
} PairArgs;

static gboolean
take_param (const char  *option_name,
            const char  *value,
            gpointer     data,
            GError     **error)
{
  return morango_cli_take_param (option_name, value, &((PairArgs *) data)->params, error);
}

int
morango_cli_pair (const char *data_dir,
                  int         argc,
                  char      **argv)
{
  PairArgs a = { NULL };
  g_autofree char *scope = NULL;
  g_autofree char *parent = NULL;
  g_autofree char *username = NULL;
  g_autofree char *password_file = NULL;
  gboolean push = FALSE;
  g_autofree char *expected = NULL;
  Confirming confirming = { "pair", FALSE };
  const GOptionEntry entries[] = {
    { "scope", 0, 0, G_OPTION_ARG_STRING, &scope, N_("Scope definition of the certificate to ask for"), N_("S") },
    { "push", 0, 0, G_OPTION_ARG_NONE, &push,
      N_("Issue the peer a certificate under one of this device's instead, for a peer that holds "
         "no root (it must allow certificate pushing)"), NULL },
    { "param", 0, 0, G_OPTION_ARG_CALLBACK, take_param,
      N_("A scope parameter (repeatable); the parent's fill the others"), N_("KEY=VALUE") },
    { "parent", 0, 0, G_OPTION_ARG_STRING, &parent,
      N_("The peer's certificate to issue it (default: its one that can; with --push, this device's)"),
      N_("ID") },
    { "username", 0, 0, G_OPTION_ARG_STRING, &username,
      N_("Account on the peer (default admin; Kolibri: username=U&facility=F)"), N_("U") },
    { "password-file", 0, 0, G_OPTION_ARG_FILENAME, &password_file,
      N_("Read the account's password from the first line of F (default: ask)"), N_("F") },
    { "expect-fingerprint", 0, 0, G_OPTION_ARG_STRING, &expected,
      N_("https: the peer's TLS certificate fingerprint, as its `serve --tls` printed it "
         "(default: the one pinned, or ask)"), N_("FP") },
    { "yes", 0, 0, G_OPTION_ARG_NONE, &confirming.yes,
      N_("Trust the peer's root certificate without asking (needed without a terminal)"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = morango_cli_context_new (_("URL"),
                                                               _("Ask a peer for a certificate and trust "
                                                                 "its root, or with --push give it one: the "
                                                                 "first step to sync with it."),
                                                               entries, &a);
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoEngine) engine = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autofree char *password = NULL;
  g_autofree char *id = NULL;
  MorangoEnginePairOptions options = { 0 };
  Wait wait = { 0 };
  int rc;

  rc = morango_cli_parse (context, "pair", MORANGO_CLI_HELP_SCOPES, &argc, &argv);
  if (rc >= 0)
    goto out;
  if (argc != 2)
    {
      rc = argc < 2 ? morango_cli_usage_error ("pair", "%s", _("the peer's URL is needed"))
                    : morango_cli_usage_error ("pair", _("unexpected argument “%s”"), argv[2]);
      goto out;
    }
  if (scope == NULL)
    {
      rc = morango_cli_usage_error ("pair", _("--scope S is needed"));
      goto out;
    }
  if (push && (username != NULL || password_file != NULL))
    {
      rc = morango_cli_usage_error ("pair", _("--push takes no account on the peer (--username, --password-file)"));
      goto out;
    }
  if ((rc = check_expected ("pair", argv[1], expected)) >= 0)
    goto out;
  /* Trusting a root is the user's choice: a script says so.  A push
   * trusts nothing here. */
  if (!push && !confirming.yes && !isatty (STDIN_FILENO))
    {
      rc = morango_cli_usage_error ("pair", _("pairing trusts the peer's root certificate, which is "
                                              "confirmed on a terminal; give --yes to trust it "
                                              "without asking"));
      goto out;
    }
  if (!push)
    password = morango_cli_read_secret (password_file, _("Password on the peer: "), NULL, NULL, &error);
  if (!push && password == NULL)
    {
      rc = error ? fail ("pair", error)
                 : morango_cli_usage_error ("pair", _("no password: give --password-file (standard input "
                                                      "is not a terminal)"));
      goto out;
    }

  engine = morango_engine_new (morango_cli_get_data_dir (), NULL, &error);
  if (engine == NULL)
    {
      rc = fail ("pair", error);
      goto out;
    }
  loop = g_main_loop_new (NULL, FALSE);
  wait.loop = loop;
  options.scope_definition = scope;
  options.params = a.params;
  options.parent_id = parent;
  options.username = username;
  options.password = password;
  options.push = push;
  options.expect_fingerprint = expected;
  options.confirm = confirm_on_terminal;
  options.confirm_data = &confirming;
  morango_engine_pair_async (engine, argv[1], &options, NULL, got_result, &wait);
  g_main_loop_run (loop);
  id = morango_engine_pair_finish (engine, wait.result, &error);
  g_object_unref (wait.result);
  if (id == NULL)
    {
      rc = fail ("pair", error);
      if (g_error_matches (error, MORANGO_ERROR, MORANGO_ERROR_UNKNOWN_SCOPE_DEFINITION))
        {
          g_autofree char *list = morango_cli_describe_scopes ();

          fprintf (stderr, "%s\n", list);
        }
      goto out;
    }
  printf ("%s\n", id);
  fflush (stdout);
  rc = MORANGO_EXIT_OK;

out:
  if (password)
    memset (password, 0, strlen (password));
  g_clear_pointer (&a.params, json_object_unref);
  return rc;
}

/* ---- sync ---- */

typedef struct {
  gboolean  terminal;
  char     *last_stage;
  gboolean  last_push;
  gint64    started;
} SyncView;

static const char *
direction_word (gboolean push)
{
  return push ? _("push") : _("pull");
}

static void
show_progress (const MorangoEngineProgress *p,
               gpointer                     user_data)
{
  SyncView *view = user_data;
  gboolean new_stage = g_strcmp0 (view->last_stage, p->stage) != 0 || view->last_push != p->push;

  if (view->terminal)
    {
      /* One line redrawn in place, on standard error. */
      int width = 30, filled = 0;
      char bar[31], total[32] = "?";

      if (p->total > 0)
        filled = (int) MIN (width, p->done * width / p->total);
      memset (bar, '#', filled);
      memset (bar + filled, '.', width - filled);
      bar[width] = '\0';
      if (new_stage && view->last_stage != NULL)
        fputc ('\n', stderr);
      if (p->total >= 0)
        g_snprintf (total, sizeof total, "%" G_GINT64_FORMAT, p->total);
      fprintf (stderr, "\r%-4s %-12s [%s] %" G_GINT64_FORMAT "/%s  %.1f MB ↑ %.1f MB ↓",
               direction_word (p->push), p->stage, bar, p->done, total,
               p->bytes_sent / 1e6, p->bytes_received / 1e6);
      fflush (stderr);
    }
  else if (new_stage)
    {
      fprintf (stderr, "%s %s\n", direction_word (p->push), p->stage);
      fflush (stderr);
    }
  g_free (view->last_stage);
  view->last_stage = g_strdup (p->stage);
  view->last_push = p->push;
}

static gboolean
cancel_sync (gpointer data)
{
  if (!g_cancellable_is_cancelled (data))
    fprintf (stderr, _("\nmorango sync: stopping; run the same command again to continue\n"));
  g_cancellable_cancel (data);
  return G_SOURCE_CONTINUE;
}

int
morango_cli_sync (const char *data_dir,
                  int         argc,
                  char      **argv)
{
  gboolean pull = FALSE, push = FALSE;
  g_autofree char *certificate = NULL;
  g_auto(GStrv) filters = NULL;
  gint chunk_size = 500;
  g_autofree char *expected = NULL;
  Confirming confirming = { "sync", FALSE };
  const GOptionEntry entries[] = {
    { "pull", 0, 0, G_OPTION_ARG_NONE, &pull, N_("Only receive (default: pull, then push)"), NULL },
    { "push", 0, 0, G_OPTION_ARG_NONE, &push, N_("Only send"), NULL },
    { "certificate", 0, 0, G_OPTION_ARG_STRING, &certificate,
      N_("Client certificate (default: the one obtained from that peer)"), N_("ID") },
    { "filter", 0, 0, G_OPTION_ARG_STRING_ARRAY, &filters,
      N_("A partition prefix to sync (repeatable; default: what the certificates allow)"), N_("F") },
    { "chunk-size", 0, 0, G_OPTION_ARG_INT, &chunk_size, N_("Records per chunk (default 500)"), N_("N") },
    { "expect-fingerprint", 0, 0, G_OPTION_ARG_STRING, &expected,
      N_("https: the peer's TLS certificate fingerprint (default: the one pinned, or ask)"), N_("FP") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = morango_cli_context_new (_("URL"),
                                                               _("Sync with a paired peer: pull, then push."),
                                                               entries, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoEngine) engine = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  MorangoEngineSyncOptions options = { 0 };
  MorangoEngineSyncResult result = { 0 };
  SyncView view = { 0 };
  Wait wait = { 0 };
  guint sigint, sigterm;
  gboolean ok;
  int rc;

  rc = morango_cli_parse (context, "sync", NULL, &argc, &argv);
  if (rc >= 0)
    return rc;
  if (argc != 2)
    return argc < 2 ? morango_cli_usage_error ("sync", "%s", _("the peer's URL is needed"))
                    : morango_cli_usage_error ("sync", _("unexpected argument “%s”"), argv[2]);
  if (pull && push)
    return morango_cli_usage_error ("sync", _("--pull and --push go alone; give neither for both"));
  if (chunk_size < 1)
    return morango_cli_usage_error ("sync", _("--chunk-size takes a number of records above 0"));
  for (guint i = 0; filters != NULL && filters[i] != NULL; i++)
    if (*filters[i] == '\0' || strchr (filters[i], '\n') != NULL)
      return morango_cli_usage_error ("sync", _("--filter takes one partition prefix, not empty"));
  if ((rc = check_expected ("sync", argv[1], expected)) >= 0)
    return rc;

  engine = morango_engine_new (morango_cli_get_data_dir (), NULL, &error);
  if (engine == NULL)
    return fail ("sync", error);
  loop = g_main_loop_new (NULL, FALSE);
  wait.loop = loop;
  view.terminal = isatty (STDERR_FILENO);
  options.pull = pull;
  options.push = push;
  options.certificate_id = certificate;
  options.filters = (const char * const *) filters;
  options.chunk_size = chunk_size;
  options.progress = show_progress;
  options.progress_data = &view;
  options.expect_fingerprint = expected;
  options.confirm = confirm_on_terminal;
  options.confirm_data = &confirming;
  sigint = g_unix_signal_add (SIGINT, cancel_sync, cancellable);
  sigterm = g_unix_signal_add (SIGTERM, cancel_sync, cancellable);
  morango_engine_sync_async (engine, argv[1], &options, cancellable, got_result, &wait);
  g_main_loop_run (loop);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  ok = morango_engine_sync_finish (engine, wait.result, &result, &error);
  g_object_unref (wait.result);
  if (view.terminal && view.last_stage != NULL)
    fputc ('\n', stderr);
  g_free (view.last_stage);
  if (!ok)
    return fail ("sync", error);
  /* For scripts: one plain line. */
  printf ("pulled %" G_GINT64_FORMAT " pushed %" G_GINT64_FORMAT " sent %" G_GINT64_FORMAT
          " received %" G_GINT64_FORMAT " seconds %.3f%s\n",
          result.records_pulled, result.records_pushed, result.bytes_sent, result.bytes_received,
          result.seconds, result.resumed ? " resumed" : "");
  fflush (stdout);
  return MORANGO_EXIT_OK;
}
