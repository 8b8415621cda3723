/* morango-cli-status.c: `morango status`, `morango peers` and `morango cleanup`
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gi18n.h>
#include <math.h>
#include <stdio.h>

#include "morango-cleanup.h"
#include "morango-cli.h"
#include "morango-known-peer.h"
#include "morango-status.h"
#include "morango-store.h"

static int
failure (const char *command,
         GError     *error)
{
  /* Engine messages quote file names and what peers sent. */
  g_autofree char *safe = morango_cli_safe (error->message);

  fprintf (stderr, "morango %s: %s\n", command, safe);
  return MORANGO_EXIT_FAILURE;
}

/* Parses @argv (argv[0] the command's name) with the command's own
 * @entries and the common ones.  Returns -1 to go on, or the exit code
 * when the command line was bad or --help was asked for; either way
 * nothing has been opened yet. */
static int
parse_command_line (const char          *command,
                    const char          *summary,
                    const GOptionEntry  *entries,
                    int                  argc,
                    char               **argv)
{
  g_autoptr(GOptionContext) context = morango_cli_context_new (NULL, summary, entries, NULL);
  g_autofree char **args = g_new0 (char *, argc + 1);
  char **parsed = args;
  int n = argc, rc;

  for (int i = 0; i < argc; i++)
    args[i] = argv[i];
  rc = morango_cli_parse (context, command, NULL, &n, &parsed);
  if (rc >= 0)
    return rc;
  if (n > 1)
    return morango_cli_usage_error (command, _("unexpected argument “%s”"), parsed[1]);
  return -1;
}


/* ---- status ---- */

int
morango_cli_status (const char *data_dir,
                    int         argc,
                    char      **argv)
{
  g_autoptr(MorangoStore) store = NULL;
  g_autoptr(MorangoStatus) status = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *instance = NULL, *profile = NULL, *description = NULL;
  int rc;

  rc = parse_command_line ("status", _("What this data folder holds: its instance, profile, "
                                       "records per model, certificates, sessions and peers."),
                           NULL, argc, argv);
  if (rc >= 0)
    return rc;
  if ((store = morango_cli_open_store (data_dir, &error)) == NULL ||
      (status = morango_status_collect (store, &error)) == NULL)
    return failure ("status", error);

  instance = morango_cli_safe (status->instance_id);
  profile = morango_cli_safe (status->profile);
  morango_cli_print_label (_("Instance:"), 18);
  printf ("%s\n", instance);
  if (status->description != NULL)
    {
      description = morango_cli_safe (status->description);
      morango_cli_print_label (_("Profile:"), 18);
      printf ("%s ", profile);
      printf (_("(description %s)\n"), description);
    }
  else
    {
      morango_cli_print_label (_("Profile:"), 18);
      printf ("%s\n", profile);
    }

  printf ("%s\n", _("Records:"));
  for (guint i = 0; i < status->models->len; i++)
    {
      MorangoModelCount *count = &g_array_index (status->models, MorangoModelCount, i);
      g_autofree char *model = morango_cli_safe (count->model_name);

      printf ("  %-24s %lld", model, (long long) count->records);
      if (count->deleted > 0)
        printf (_(" (and %lld deleted)"), (long long) count->deleted);
      putchar ('\n');
    }
  if (status->models->len == 0)
    printf ("  %s\n", _("none"));

  morango_cli_print_label (_("Certificates:"), 18);
  printf (_("%u (%u with their private key here, %u trusted roots)\n"),
          status->certificates, status->own_certificates, status->trusted_roots);
  morango_cli_print_label (_("Active sessions:"), 18);
  printf (_("%lld sync, %lld transfer\n"),
          (long long) status->active_sync_sessions, (long long) status->active_transfer_sessions);
  printf ("%-18s%u\n", _("Peers:"), status->peers);
  return MORANGO_EXIT_OK;
}

/* ---- peers ---- */

static char *
format_time (gint64 usec)
{
  g_autoptr(GDateTime) t = NULL;

  if (usec <= 0)
    return g_strdup (_("never"));
  t = g_date_time_new_from_unix_local (usec / G_USEC_PER_SEC);
  if (t == NULL)
    return g_strdup ("?");
  return g_date_time_format (t, "%Y-%m-%d %H:%M:%S");
}

int
morango_cli_peers (const char *data_dir,
                   int         argc,
                   char      **argv)
{
  gboolean all = FALSE;
  const GOptionEntry entries[] = {
    { "all", 'a', 0, G_OPTION_ARG_NONE, &all, N_("also list the peers that were forgotten"), NULL },
    { NULL },
  };
  g_autoptr(MorangoStore) store = NULL;
  g_autoptr(GPtrArray) peers = NULL;
  g_autoptr(GError) error = NULL;
  int rc;

  rc = parse_command_line ("peers", _("The peers this device knows, one a line: state, address, "
                                      "instance id, last success, last failure and why."),
                           entries, argc, argv);
  if (rc >= 0)
    return rc;
  if ((store = morango_cli_open_store (data_dir, &error)) == NULL ||
      (peers = morango_known_peer_list (store, all, &error)) == NULL)
    return failure ("peers", error);

  if (peers->len == 0)
    {
      printf (_("No peers known yet. Pair with one to add it: “morango pair URL …”.\n"));
      return MORANGO_EXIT_OK;
    }
  for (guint i = 0; i < peers->len; i++)
    {
      MorangoKnownPeer *p = g_ptr_array_index (peers, i);
      g_autofree char *address = p->address ? morango_cli_safe (p->address)
                                            : g_strdup (_("(a client of this device)"));
      g_autofree char *instance = p->instance_id ? morango_cli_safe (p->instance_id)
                                                 : g_strdup (_("unknown"));
      g_autofree char *success = format_time (p->last_success);
      g_autofree char *failure_time = format_time (p->last_failure);

      printf ("%-9s  %s  ", morango_peer_state_to_string (p->state), address);
      printf (_("instance %s  last success %s  last failure %s"), instance, success, failure_time);
      if (p->last_failure > 0 && p->last_failure_reason != NULL)
        {
          g_autofree char *reason = morango_cli_safe (p->last_failure_reason);

          printf (" (%s)", reason);
        }
      /* What an https:// peer's certificate must match from now on. */
      if (p->tls_fingerprint != NULL)
        {
          g_autofree char *pin = morango_cli_safe (p->tls_fingerprint);

          printf (_("  TLS pin %s"), pin);
        }
      putchar ('\n');
    }
  return MORANGO_EXIT_OK;
}

/* ---- cleanup ---- */

/* More than a century is surely a typing error, and keeps the span in
 * range. */
#define MAX_EXPIRATION_HOURS (100.0 * 365 * 24)

int
morango_cli_cleanup (const char *data_dir,
                     int         argc,
                     char      **argv)
{
  double hours = (double) MORANGO_CLEANUP_DEFAULT_EXPIRATION / G_TIME_SPAN_HOUR;
  const GOptionEntry entries[] = {
    { "expiration", 0, 0, G_OPTION_ARG_DOUBLE, &hours,
      N_("remove sessions quiet for longer than this (default: 6)"), N_("HOURS") },
    { NULL },
  };
  g_autoptr(MorangoStore) store = NULL;
  g_autoptr(GError) error = NULL;
  MorangoCleanupCounts counts = { 0 };
  int rc;

  rc = parse_command_line ("cleanup", _("Removes finished sync sessions and those quiet for too long, "
                                        "with their buffered records. Sessions in use are left alone."),
                           entries, argc, argv);
  if (rc >= 0)
    return rc;
  /* Zero would stop every sync now running. */
  if (!isfinite (hours) || hours <= 0 || hours > MAX_EXPIRATION_HOURS)
    return morango_cli_usage_error ("cleanup", "%s", _("--expiration takes a number of hours above 0"));

  if ((store = morango_cli_open_store (data_dir, &error)) == NULL ||
      !morango_cleanup_sessions (morango_store_get_db (store), g_get_real_time (),
                                 (GTimeSpan) (hours * G_TIME_SPAN_HOUR), NULL, &counts, &error))
    return failure ("cleanup", error);

  printf (_("Removed %lld sync sessions, %lld transfer sessions, %lld buffered records and "
            "%lld record histories; %lld sessions were abandoned.\n"),
          (long long) counts.sync_sessions, (long long) counts.transfer_sessions,
          (long long) counts.buffer_rows, (long long) counts.history_rows,
          (long long) counts.abandoned);
  return MORANGO_EXIT_OK;
}
