/* test-ui-peers.c: the Peers page beyond the list: a sync's detail,
 * and its time left, the history dialog, the serving switch, the
 * notification of a sync that ends unseen (and none while the window
 * has the focus), and closing the window during a sync
 *
 * Runs under xvfb-run -a dbus-run-session (the notification goes to a
 * fake notification service this program puts on that session bus).
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gi18n.h>
#include <gtk/gtk.h>
#include <libsoup/soup.h>
#include <locale.h>
#include <string.h>
#ifdef GDK_WINDOWING_X11
#include <gdk/x11/gdkx.h>
#endif

#include "morango-certificate.h"
#include "morango-engine-history.h"
#include "morango-history-dialog.h"
#include "morango-peer-row.h"
#include "morango-peers-page.h"
#include "morango-serve-row.h"
#include "morango-test-util.h"
#include "morango-ui-test-util.h"
#include "morango-window.h"

#define PASSWORD "correct horse"

/* The programs' domain (po/), which the row's texts are in. */
#define APP_DOMAIN "morango-sync"

/* ------------------------------------------------------------------ */
/* Widgets and the main loop */

static void
drain (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static MorangoPeersPage *
peers_page (MorangoWindow *window)
{
  return MORANGO_PEERS_PAGE (morango_ui_test_find_widget (GTK_WIDGET (window), MORANGO_TYPE_PEERS_PAGE));
}

static void
await_loaded (MorangoWindow *window)
{
  while (morango_peers_page_get_loading (peers_page (window)))
    g_main_context_iteration (NULL, TRUE);
  drain ();
}

static MorangoPeerRow *
first_row (MorangoWindow *window)
{
  MorangoPeerRow *row = MORANGO_PEER_ROW (morango_ui_test_find_widget (GTK_WIDGET (window), MORANGO_TYPE_PEER_ROW));

  g_assert_nonnull (row);
  return row;
}

/* The toplevel of type @type other than @not, or NULL. */
static GtkWindow *
find_toplevel (GType      type,
               GtkWindow *not)
{
  GListModel *toplevels = gtk_window_get_toplevels ();

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWindow) window = g_list_model_get_item (toplevels, i);

      if (window != not && G_TYPE_CHECK_INSTANCE_TYPE (window, type) &&
          gtk_widget_get_visible (GTK_WIDGET (window)))
        return window;
    }
  return NULL;
}

static GtkWidget *
find_button (GtkWidget  *widget,
             const char *label)
{
  if (GTK_IS_BUTTON (widget) && g_strcmp0 (gtk_button_get_label (GTK_BUTTON (widget)), label) == 0)
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_button (child, label);

      if (found != NULL)
        return found;
    }
  return NULL;
}

/* Answers @dialog as a click on its button @label does (activating
 * the button would click it only after its pressed look's timeout). */
static void
choose (AdwMessageDialog *dialog,
        const char       *label)
{
  GtkWidget *button = find_button (GTK_WIDGET (dialog), label);

  g_assert_nonnull (button);
  g_assert_true (gtk_widget_is_sensitive (button));
  g_signal_emit_by_name (button, "clicked");
  drain ();
}

static AdwApplication *
test_app (void)
{
  static guint n;
  g_autofree char *id = g_strdup_printf ("org.morango.Sync.PeersTest%u", n++);
  AdwApplication *app = adw_application_new (id, G_APPLICATION_NON_UNIQUE);
  g_autoptr(GError) error = NULL;

  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_assert_no_error (error);
  return app;
}

static MorangoWindow *
open_window (AdwApplication *app,
             MorangoEngine  *engine)
{
  MorangoWindow *window = morango_window_new (app, engine);

  gtk_window_present (GTK_WINDOW (window));
  await_loaded (window);
  return window;
}

static void
on_done (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static GAsyncResult *
await_result (GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *result;
}

/* ------------------------------------------------------------------ */
/* A server with data: a kolibri-like folder holding a facility, one
 * learner and @n content summary logs, served on 127.0.0.1 by an
 * engine of this process. */

static MorangoEngine *
start_server (gint64   n,
              guint   *port)
{
  g_autofree char *dir = morango_test_tmpdir ();
  g_autoptr(GError) error = NULL;
  MorangoEngineServeOptions serve = { .address = "127.0.0.1" };
  GAsyncResult *result = NULL;
  MorangoEngine *server;

  morango_test_fill_school (dir, n, PASSWORD);
  server = morango_engine_new (dir, "kolibri-like", &error);
  g_assert_no_error (error);
  morango_engine_serve_async (server, &serve, NULL, on_done, &result);
  g_assert_true (morango_engine_serve_finish (server, await_result (&result), &error));
  g_assert_no_error (error);
  g_object_unref (result);
  *port = morango_engine_get_port (server);
  return server;
}

/* A client folder paired with @url. */
static MorangoEngine *
paired_client (const char *url)
{
  g_autofree char *dir = morango_test_tmpdir ();
  g_autoptr(GError) error = NULL;
  g_autofree char *cert = NULL;
  MorangoEnginePairOptions pair = { .scope_definition = "full-facility", .password = PASSWORD };
  GAsyncResult *result = NULL;
  MorangoEngine *client = morango_engine_new (dir, "kolibri-like", &error);

  g_assert_no_error (error);
  morango_engine_pair_async (client, url, &pair, NULL, on_done, &result);
  cert = morango_engine_pair_finish (client, await_result (&result), &error);
  g_assert_no_error (error);
  g_object_unref (result);
  return client;
}

/* ------------------------------------------------------------------ */
/* A TCP relay in front of the server that the test can hold: while
 * held, nothing it receives is passed on, so a sync through it stops
 * mid-transfer, for as long as the test wants. */

typedef struct _Relay Relay;

typedef struct {
  Relay         *relay;
  GInputStream  *from;
  GOutputStream *to;
  guint8         buffer[16384];
  gssize         pending;    /* read, not yet passed on because held */
} Pump;

struct _Relay {
  GSocketService *service;
  guint           port;
  guint           upstream;
  gboolean        held;
  GPtrArray      *pumps;     /* Pump *, and the connections they use */
  GPtrArray      *connections;
};

static void pump_read (Pump *pump);

static void
on_pump_written (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Pump *pump = user_data;

  if (g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL))
    pump_read (pump);
}

static void
pump_write (Pump *pump)
{
  gssize n = pump->pending;

  pump->pending = 0;
  g_output_stream_write_all_async (pump->to, pump->buffer, n, G_PRIORITY_DEFAULT, NULL,
                                   on_pump_written, pump);
}

static void
on_pump_read (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Pump *pump = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

  if (n <= 0)
    {
      g_output_stream_close (pump->to, NULL, NULL);
      return;
    }
  pump->pending = n;
  if (!pump->relay->held)
    pump_write (pump);
}

static void
pump_read (Pump *pump)
{
  g_input_stream_read_async (pump->from, pump->buffer, sizeof pump->buffer, G_PRIORITY_DEFAULT, NULL,
                             on_pump_read, pump);
}

static void
add_pump (Relay     *relay,
          GIOStream *from,
          GIOStream *to)
{
  Pump *pump = g_new0 (Pump, 1);

  pump->relay = relay;
  pump->from = g_io_stream_get_input_stream (from);
  pump->to = g_io_stream_get_output_stream (to);
  g_ptr_array_add (relay->pumps, pump);
  pump_read (pump);
}

static gboolean
on_incoming (GSocketService    *service,
             GSocketConnection *connection,
             GObject           *source,
             Relay             *relay)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GError) error = NULL;
  GSocketConnection *upstream = g_socket_client_connect_to_host (client, "127.0.0.1", relay->upstream, NULL, &error);

  g_assert_no_error (error);
  g_ptr_array_add (relay->connections, g_object_ref (connection));
  g_ptr_array_add (relay->connections, upstream);
  add_pump (relay, G_IO_STREAM (connection), G_IO_STREAM (upstream));
  add_pump (relay, G_IO_STREAM (upstream), G_IO_STREAM (connection));
  return TRUE;
}

static Relay *
relay_new (guint upstream)
{
  Relay *relay = g_new0 (Relay, 1);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  relay->upstream = upstream;
  relay->pumps = g_ptr_array_new_with_free_func (g_free);
  relay->connections = g_ptr_array_new_with_free_func (g_object_unref);
  relay->service = g_socket_service_new ();
  g_socket_listener_add_address (G_SOCKET_LISTENER (relay->service), address, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error);
  g_assert_no_error (error);
  relay->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_signal_connect (relay->service, "incoming", G_CALLBACK (on_incoming), relay);
  g_socket_service_start (relay->service);
  return relay;
}

static void
relay_release (Relay *relay)
{
  relay->held = FALSE;
  for (guint i = 0; i < relay->pumps->len; i++)
    {
      Pump *pump = g_ptr_array_index (relay->pumps, i);

      if (pump->pending > 0)
        pump_write (pump);
    }
}

/* Closing the connections ends the pumps (their reads fail); the pumps
 * themselves stay until the end of the test program. */
static void
relay_stop (Relay *relay)
{
  g_socket_service_stop (relay->service);
  g_socket_listener_close (G_SOCKET_LISTENER (relay->service));
  for (guint i = 0; i < relay->connections->len; i++)
    g_io_stream_close (g_ptr_array_index (relay->connections, i), NULL, NULL);
  drain ();
}

/* ------------------------------------------------------------------ */
/* A sync's detail, and the history */

typedef struct {
  GPtrArray *details;       /* every detail line shown */
  Relay     *relay;         /* held at the first pulled chunk, if any */
} Watch;

static void
on_bar_text (GtkProgressBar *bar,
             GParamSpec     *pspec,
             Watch          *watch)
{
  MorangoPeerRow *row = MORANGO_PEER_ROW (gtk_widget_get_ancestor (GTK_WIDGET (bar), MORANGO_TYPE_PEER_ROW));
  const char *text = gtk_progress_bar_get_text (bar);
  const char *detail = morango_peer_row_get_detail (row);
  gint64 done = 0, total = 0;

  if (detail != NULL && *detail != '\0' &&
      (watch->details->len == 0 || !g_str_equal (g_ptr_array_index (watch->details, watch->details->len - 1), detail)))
    g_ptr_array_add (watch->details, g_strdup (detail));
  if (watch->relay != NULL && !watch->relay->held && text != NULL &&
      sscanf (text, "Pulling: transferring %" G_GINT64_FORMAT " / %" G_GINT64_FORMAT, &done, &total) == 2 &&
      done > 0 && done < total)
    watch->relay->held = TRUE;
}

static MorangoHistoryDialog *
open_history (MorangoWindow  *window,
              MorangoPeerRow *row)
{
  MorangoHistoryDialog *dialog;

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (row), "peer.history", NULL));
  dialog = MORANGO_HISTORY_DIALOG (find_toplevel (MORANGO_TYPE_HISTORY_DIALOG, NULL));
  g_assert_nonnull (dialog);
  g_assert_true (gtk_window_get_transient_for (GTK_WINDOW (dialog)) == GTK_WINDOW (window));
  while (morango_history_dialog_get_loading (dialog))
    g_main_context_iteration (NULL, TRUE);
  drain ();
  return dialog;
}

static guint
count_rows (GtkListBox *list)
{
  guint n = 0;

  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (list)); child;
       child = gtk_widget_get_next_sibling (child))
    n++;
  return n;
}

static const char *
row_text (GtkListBox *list,
          guint       index,
          gboolean    subtitle)
{
  GtkListBoxRow *row = gtk_list_box_get_row_at_index (list, index);

  g_assert_nonnull (row);
  return subtitle ? adw_action_row_get_subtitle (ADW_ACTION_ROW (row))
                  : adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row));
}

static void
await_sync_end (MorangoPeerRow *row)
{
  while (morango_peer_row_is_syncing (row))
    g_main_context_iteration (NULL, TRUE);
}

/* A sync from the row: the detail line shows records and bytes each
 * way as they move; the history lists it, and then a failed one with
 * its reason in words. */
static void
test_progress_and_history (void)
{
  g_autoptr(AdwApplication) app = test_app ();
  g_autoptr(MorangoEngine) server = NULL;
  g_autoptr(MorangoEngine) client = NULL;
  g_autoptr(GPtrArray) details = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *url = NULL;
  Watch watch = { details, NULL };
  MorangoHistoryDialog *dialog;
  MorangoWindow *window;
  MorangoPeerRow *row;
  GtkWidget *bar;
  GtkListBox *list;
  gboolean records_in = FALSE, bytes = FALSE;
  guint port;

  server = start_server (1200, &port);
  url = g_strdup_printf ("http://127.0.0.1:%u/", port);
  client = paired_client (url);
  window = open_window (app, client);
  row = first_row (window);

  /* Before any sync, the history says what will appear there. */
  dialog = open_history (window, row);
  g_assert_cmpuint (count_rows (morango_history_dialog_get_list (dialog)), ==, 0);
  g_assert_true (gtk_widget_get_mapped (morango_ui_test_find_widget (GTK_WIDGET (dialog), ADW_TYPE_STATUS_PAGE)));
  gtk_window_destroy (GTK_WINDOW (dialog));

  bar = morango_ui_test_find_widget (GTK_WIDGET (row), GTK_TYPE_PROGRESS_BAR);
  g_signal_connect (bar, "notify::text", G_CALLBACK (on_bar_text), &watch);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (row), "peer.sync", NULL));
  await_sync_end (row);
  g_signal_handlers_disconnect_by_data (bar, &watch);
  g_assert_true (g_str_has_prefix (morango_peer_row_get_outcome (row), "Synced with"));
  for (guint i = 0; i < details->len; i++)
    {
      const char *text = g_ptr_array_index (details, i);
      gint64 done = 0, total = 0;

      g_test_message ("detail: %s", text);
      if (sscanf (text, "Records in %" G_GINT64_FORMAT " / %" G_GINT64_FORMAT, &done, &total) == 2 &&
          done > 0 && total >= 1200)
        records_in = TRUE;
      if (strstr (text, "kB received") != NULL || strstr (text, "MB received") != NULL)
        bytes = TRUE;
    }
  g_assert_true (records_in);
  g_assert_true (bytes);

  /* The peer goes down: the next sync fails, and says why. */
  morango_engine_stop_serving (server);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (row), "peer.sync", NULL));
  await_sync_end (row);
  await_loaded (window);
  g_assert_nonnull (strstr (morango_peer_row_get_outcome (row), "failed"));

  dialog = open_history (window, row);
  list = morango_history_dialog_get_list (dialog);
  g_assert_cmpuint (count_rows (list), ==, 2);
  g_test_message ("history: %s / %s", row_text (list, 0, FALSE), row_text (list, 0, TRUE));
  g_test_message ("history: %s / %s", row_text (list, 1, FALSE), row_text (list, 1, TRUE));
  /* Newest first: the failure, with the engine's reason. */
  g_assert_nonnull (strstr (row_text (list, 0, FALSE), "Failed"));
  g_assert_nonnull (strstr (row_text (list, 0, FALSE), "Pull and push"));
  g_assert_nonnull (strstr (row_text (list, 0, TRUE), morango_peer_row_get_outcome (row)
                                                      + strlen ("The sync with ") + strlen (url)
                                                      + strlen (" failed: ")));
  g_assert_nonnull (strstr (row_text (list, 1, FALSE), "Finished"));
  g_assert_nonnull (strstr (row_text (list, 1, TRUE), "records in"));
  g_assert_null (strstr (row_text (list, 1, TRUE), "resumed"));
  {
    g_autofree char *received = g_strdup_printf ("%d records in", 1202);

    g_assert_nonnull (strstr (row_text (list, 1, TRUE), received));
  }
  morango_ui_test_save_screenshot (GTK_WIDGET (dialog), "peers-history.png");
  gtk_window_destroy (GTK_WINDOW (dialog));
  gtk_window_destroy (GTK_WINDOW (window));
}

/* ------------------------------------------------------------------ */
/* Closing during a sync */

static AdwMessageDialog *
close_question (MorangoWindow *window)
{
  return ADW_MESSAGE_DIALOG (find_toplevel (ADW_TYPE_MESSAGE_DIALOG, GTK_WINDOW (window)));
}

static void
test_close_during_sync (void)
{
  g_autoptr(AdwApplication) app = test_app ();
  g_autoptr(MorangoEngine) server = NULL;
  g_autoptr(MorangoEngine) client = NULL;
  g_autoptr(GPtrArray) details = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *url = NULL;
  Watch watch = { details, NULL };
  MorangoHistoryDialog *dialog;
  AdwMessageDialog *question;
  MorangoWindow *window;
  MorangoPeerRow *row;
  GtkListBox *list;
  GtkWidget *bar;
  guint port;

  server = start_server (3000, &port);
  watch.relay = relay_new (port);
  url = g_strdup_printf ("http://127.0.0.1:%u/", watch.relay->port);
  client = paired_client (url);
  window = open_window (app, client);
  row = g_object_ref (first_row (window));
  bar = morango_ui_test_find_widget (GTK_WIDGET (row), GTK_TYPE_PROGRESS_BAR);
  g_signal_connect (bar, "notify::text", G_CALLBACK (on_bar_text), &watch);

  /* Held after the first pulled chunk: the sync waits mid-transfer. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (row), "peer.sync", NULL));
  while (!watch.relay->held)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (morango_peer_row_is_syncing (row));
  morango_ui_test_save_screenshot (GTK_WIDGET (window), "peers-syncing.png");

  /* Closing asks; keeping on closes nothing and stops nothing. */
  gtk_window_close (GTK_WINDOW (window));
  question = close_question (window);
  g_assert_nonnull (question);
  g_assert_cmpstr (adw_message_dialog_get_heading (question), ==, "A Sync Is Running");
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (window)));
  choose (question, "_Keep Syncing");
  g_assert_true (morango_peer_row_is_syncing (row));
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (window)));
  g_assert_null (close_question (window));

  /* Stopping closes the window and cancels: the sync rolls back. */
  g_signal_handlers_disconnect_by_data (bar, &watch);
  gtk_window_close (GTK_WINDOW (window));
  question = close_question (window);
  g_assert_nonnull (question);
  choose (question, "_Stop and Close");
  /* The engine tells the peer what it already stored even when
   * cancelled (that request takes no cancellable): let it through. */
  relay_release (watch.relay);
  await_sync_end (row);
  g_assert_nonnull (strstr (morango_peer_row_get_outcome (row), "cancelled"));
  g_object_unref (row);

  /* The next sync, from a new window, continues the one stopped. */
  window = open_window (app, client);
  row = first_row (window);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (row), "peer.sync", NULL));
  await_sync_end (row);
  g_assert_true (g_str_has_prefix (morango_peer_row_get_outcome (row), "Synced with"));
  dialog = open_history (window, row);
  list = morango_history_dialog_get_list (dialog);
  g_assert_cmpuint (count_rows (list), ==, 2);
  g_test_message ("history: %s / %s", row_text (list, 0, FALSE), row_text (list, 0, TRUE));
  g_test_message ("history: %s / %s", row_text (list, 1, FALSE), row_text (list, 1, TRUE));
  g_assert_nonnull (strstr (row_text (list, 0, FALSE), "Finished"));
  g_assert_nonnull (strstr (row_text (list, 0, TRUE), "resumed"));
  g_assert_nonnull (strstr (row_text (list, 1, FALSE), "Stopped"));
  gtk_window_destroy (GTK_WINDOW (dialog));
  gtk_window_destroy (GTK_WINDOW (window));
  relay_stop (watch.relay);
}

/* ------------------------------------------------------------------ */
/* The time left */

static void
assert_time_left (gint64      elapsed_usec,
                  gint64      done,
                  gint64      total,
                  const char *expected)
{
  g_autofree char *text = morango_peer_row_format_time_left (elapsed_usec, done, total);

  g_assert_cmpstr (text, ==, expected);
}

/* Switches the messages to @language, or with NULL back to @locale
 * untranslated. */
static void
use_language (const char *language,
              const char *locale)
{
  if (language != NULL)
    {
      /* LANGUAGE counts only outside the plain C locale. */
      g_assert_nonnull (setlocale (LC_ALL, "C.UTF-8"));
      g_setenv ("LANGUAGE", language, TRUE);
    }
  else
    {
      g_unsetenv ("LANGUAGE");
      g_assert_nonnull (setlocale (LC_ALL, locale));
    }
  /* gettext keeps what it found under the locale's name, which LANGUAGE
   * does not change: setting the domain again tells it to look anew. */
  textdomain (APP_DOMAIN);
}

/* Nothing while the rate says nothing; seconds rounded up under 90 s,
 * minutes to the nearest from there; singular and plural as each
 * language has them. */
static void
test_time_left (void)
{
  g_autofree char *locale = g_strdup (setlocale (LC_ALL, NULL));

  /* Nothing to say: too early, no total, nothing done, all done. */
  assert_time_left (2 * G_USEC_PER_SEC - 1, 1, 4, NULL);
  assert_time_left (-G_USEC_PER_SEC, 1, 4, NULL);
  assert_time_left (60 * G_USEC_PER_SEC, 1, 0, NULL);
  assert_time_left (60 * G_USEC_PER_SEC, 1, -1, NULL);
  assert_time_left (60 * G_USEC_PER_SEC, 0, 4, NULL);
  assert_time_left (60 * G_USEC_PER_SEC, -1, 4, NULL);
  assert_time_left (60 * G_USEC_PER_SEC, 4, 4, NULL);
  assert_time_left (60 * G_USEC_PER_SEC, 5, 4, NULL);

  /* Seconds: 2 s for 1 of 4 leaves 6 s, from the first 2 s on. */
  assert_time_left (2 * G_USEC_PER_SEC, 1, 4, "about 6 s left");
  /* Whole times stay whole: 10 s × 3; 2.1 s × 100 / 7. */
  assert_time_left (10 * G_USEC_PER_SEC, 1, 4, "about 30 s left");
  assert_time_left (2100000, 7, 107, "about 30 s left");
  /* Up: 0.2 s is not over; 30.1 s is more than 30. */
  assert_time_left (2 * G_USEC_PER_SEC, 10, 11, "about 1 s left");
  assert_time_left (2 * G_USEC_PER_SEC, G_MAXINT64 - 1, G_MAXINT64, "about 1 s left");
  assert_time_left (2 * G_USEC_PER_SEC, 2, 3, "about 1 s left");
  assert_time_left (30100000, 1, 2, "about 31 s left");
  assert_time_left (89 * G_USEC_PER_SEC, 1, 2, "about 89 s left");
  assert_time_left (90 * G_USEC_PER_SEC - 1, 1, 2, "about 90 s left");

  /* Minutes from 90 s on, to the nearest. */
  assert_time_left (90 * G_USEC_PER_SEC, 1, 2, "about 2 min left");
  assert_time_left (95 * G_USEC_PER_SEC, 1, 2, "about 2 min left");
  assert_time_left (149 * G_USEC_PER_SEC, 1, 2, "about 2 min left");
  assert_time_left (150 * G_USEC_PER_SEC, 1, 2, "about 3 min left");
  assert_time_left (10 * G_USEC_PER_SEC, 1, 601, "about 100 min left");
  /* A rate from a bare start can promise ages: a count, not garbage. */
  {
    g_autofree char *text = g_strdup_printf ("about %d min left", G_MAXINT);

    assert_time_left (G_MAXINT64, 1, G_MAXINT64, text);
  }

  /* One and more through the catalogues: Portuguese counts 0 and 1 as
   * one, Spanish only 1. */
  use_language ("pt_BR", NULL);
  assert_time_left (2 * G_USEC_PER_SEC, 10, 11, "cerca de 1 s restante");
  assert_time_left (2 * G_USEC_PER_SEC, 1, 2, "cerca de 2 s restantes");
  assert_time_left (95 * G_USEC_PER_SEC, 1, 2, "cerca de 2 min restantes");
  use_language ("es", NULL);
  assert_time_left (2 * G_USEC_PER_SEC, 10, 11, "queda aproximadamente 1 s");
  assert_time_left (2 * G_USEC_PER_SEC, 1, 2, "quedan aproximadamente 2 s");
  assert_time_left (95 * G_USEC_PER_SEC, 1, 2, "quedan aproximadamente 2 min");
  use_language (NULL, locale);
  assert_time_left (2 * G_USEC_PER_SEC, 1, 2, "about 2 s left");
}

/* The row's clock in the test below: it moves only when told. */
static gint64
fake_clock (gpointer user_data)
{
  return *(gint64 *) user_data;
}

typedef struct {
  gint64    *clock;
  gboolean   moved;
  GPtrArray *details;       /* every detail shown */
  char      *first_left;    /* the first one with a time left */
} DetailWatch;

/* Moves the clock 10 s on once the pull's transfer has shown a first
 * chunk: its stage has begun, and the next chunk's line comes 10 s
 * later by the row's clock. */
static void
on_detail (GtkLabel    *label,
           GParamSpec  *pspec,
           DetailWatch *watch)
{
  const char *text = gtk_label_get_text (label);
  gint64 done = 0, total = 0;

  if (*text == '\0')
    return;
  g_ptr_array_add (watch->details, g_strdup (text));
  if (watch->first_left == NULL && strstr (text, " left") != NULL)
    watch->first_left = g_strdup (text);
  if (!watch->moved &&
      sscanf (text, "Records in %" G_GINT64_FORMAT " / %" G_GINT64_FORMAT, &done, &total) == 2 &&
      done > 0 && done < total)
    {
      /* Nothing so far had run 2 s. */
      g_assert_null (watch->first_left);
      *watch->clock += 10 * G_USEC_PER_SEC;
      watch->moved = TRUE;
    }
}

/* The detail line of a sync adds the time left once the stage has run
 * 2 s: with the row's clock held still, none; moved on 10 s during the
 * pull, the next line says what the rate of that line gives. */
static void
test_time_left_shown (void)
{
  g_autoptr(AdwApplication) app = test_app ();
  g_autoptr(MorangoEngine) server = NULL;
  g_autoptr(MorangoEngine) client = NULL;
  g_autoptr(GPtrArray) labels = NULL;
  g_autoptr(GPtrArray) details = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *url = NULL;
  g_autofree char *expected = NULL, *ending = NULL;
  gint64 clock = 1000 * G_USEC_PER_SEC;
  DetailWatch watch = { &clock, FALSE, details, NULL };
  gint64 done = 0, total = 0;
  GtkLabel *label = NULL;
  MorangoWindow *window;
  MorangoPeerRow *row;
  guint port;

  /* 3000 records: pulled in chunks, and after the first more come that
   * still leave some to pull. */
  server = start_server (3000, &port);
  url = g_strdup_printf ("http://127.0.0.1:%u/", port);
  client = paired_client (url);
  window = open_window (app, client);
  row = first_row (window);
  morango_peer_row_set_clock (row, fake_clock, &clock);
  /* The detail label: the one whose text the row gives. */
  labels = morango_ui_test_find_all (GTK_WIDGET (row), GTK_TYPE_LABEL);
  for (guint i = 0; i < labels->len; i++)
    if (gtk_label_get_text (g_ptr_array_index (labels, i)) == morango_peer_row_get_detail (row))
      label = g_ptr_array_index (labels, i);
  g_assert_nonnull (label);
  g_signal_connect (label, "notify::label", G_CALLBACK (on_detail), &watch);

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (row), "peer.sync", NULL));
  await_sync_end (row);
  g_signal_handlers_disconnect_by_data (label, &watch);
  g_assert_true (g_str_has_prefix (morango_peer_row_get_outcome (row), "Synced with"));
  for (guint i = 0; i < details->len; i++)
    g_test_message ("detail: %s", (const char *) g_ptr_array_index (details, i));
  g_assert_true (watch.moved);
  g_assert_nonnull (watch.first_left);
  g_assert_cmpint (sscanf (watch.first_left, "Records in %" G_GINT64_FORMAT " / %" G_GINT64_FORMAT,
                           &done, &total), ==, 2);
  expected = morango_peer_row_format_time_left (10 * G_USEC_PER_SEC, done, total);
  g_assert_nonnull (expected);
  /* After the bytes, as the last part. */
  ending = g_strconcat (" sent · ", expected, NULL);
  g_assert_true (g_str_has_suffix (watch.first_left, ending));

  g_free (watch.first_left);
  gtk_window_destroy (GTK_WINDOW (window));
}

/* ------------------------------------------------------------------ */
/* Serving */

static MorangoServeRow *
serve_row (MorangoWindow *window)
{
  return MORANGO_SERVE_ROW (morango_ui_test_find_widget (GTK_WIDGET (window), MORANGO_TYPE_SERVE_ROW));
}

static GtkSwitch *
serve_switch (MorangoWindow *window)
{
  return GTK_SWITCH (morango_ui_test_find_widget (GTK_WIDGET (serve_row (window)), GTK_TYPE_SWITCH));
}

static void
await_idle (MorangoServeRow *row)
{
  while (morango_serve_row_get_busy (row))
    g_main_context_iteration (NULL, TRUE);
  drain ();
}

/* The addresses listed under the switch, in order. */
static GPtrArray *
shown_urls (MorangoWindow *window)
{
  GPtrArray *urls = g_ptr_array_new ();
  GtkWidget *list = morango_ui_test_find_widget (GTK_WIDGET (serve_row (window)), GTK_TYPE_LIST_BOX);

  for (GtkWidget *child = gtk_widget_get_first_child (list); child;
       child = gtk_widget_get_next_sibling (child))
    {
      const char *title = adw_preferences_row_get_title (ADW_PREFERENCES_ROW (child));

      if (g_str_has_prefix (title, "http://"))
        g_ptr_array_add (urls, (gpointer) title);
    }
  return urls;
}

static guint
http_get (const char *url)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GError) error = NULL;

  /* The server runs on the engine's own thread: the test may wait. */
  body = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  return soup_message_get_status (msg);
}

static void
type_password (AdwMessageDialog *dialog,
               const char       *first,
               const char       *again)
{
  GtkWidget *box = adw_message_dialog_get_extra_child (dialog);
  GtkWidget *rows[2] = { NULL, NULL };
  guint n = 0;

  for (GtkWidget *child = gtk_widget_get_first_child (box); child && n < 2;
       child = gtk_widget_get_next_sibling (child))
    if (ADW_IS_PASSWORD_ENTRY_ROW (child))
      rows[n++] = child;
  g_assert_cmpuint (n, ==, 2);
  gtk_editable_set_text (GTK_EDITABLE (rows[0]), first);
  gtk_editable_set_text (GTK_EDITABLE (rows[1]), again);
}

static gboolean
response_enabled (AdwMessageDialog *dialog,
                  const char       *label)
{
  return gtk_widget_is_sensitive (find_button (GTK_WIDGET (dialog), label));
}

/* The first time, the switch asks for the admin password (twice, the
 * same); then it serves on every interface and lists the addresses,
 * which answer; off stops; on again asks nothing.  A new start with the
 * key on serves again by itself. */
static void
test_serve (void)
{
  g_autoptr(AdwApplication) app = test_app ();
  g_autoptr(GSettings) settings = g_settings_new ("org.morango.Sync");
  g_autofree char *dir = morango_test_tmpdir ();
  g_autoptr(MorangoEngine) engine = NULL;
  g_autoptr(GPtrArray) urls = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *info = NULL;
  AdwMessageDialog *dialog;
  MorangoWindow *window;
  GAsyncResult *result = NULL;
  const char *loopback;
  guint port;

  g_settings_reset (settings, "serve");
  g_settings_set_value (settings, "port", g_variant_new_uint16 (0));
  engine = morango_engine_new (dir, NULL, &error);
  g_assert_no_error (error);
  window = open_window (app, engine);
  g_assert_false (gtk_switch_get_active (serve_switch (window)));
  g_assert_cmpuint (morango_engine_get_port (engine), ==, 0);

  gtk_switch_set_active (serve_switch (window), TRUE);
  await_idle (serve_row (window));
  dialog = morango_serve_row_get_password_dialog (serve_row (window));
  g_assert_nonnull (dialog);
  g_assert_cmpuint (morango_engine_get_port (engine), ==, 0);
  /* Empty, or two that differ: nothing to confirm yet. */
  g_assert_false (response_enabled (dialog, "_Serve"));
  type_password (dialog, "one", "two");
  g_assert_false (response_enabled (dialog, "_Serve"));
  type_password (dialog, PASSWORD, PASSWORD);
  choose (dialog, "_Serve");
  g_assert_null (morango_serve_row_get_password_dialog (serve_row (window)));
  await_idle (serve_row (window));
  await_idle (serve_row (window));
  g_assert_null (morango_serve_row_get_error (serve_row (window)));
  g_assert_true (gtk_switch_get_active (serve_switch (window)));
  g_assert_true (g_settings_get_boolean (settings, "serve"));
  port = morango_engine_get_port (engine);
  g_assert_cmpuint (port, >, 0);

  /* The admin account is set: the engine says so. */
  morango_engine_has_admin_async (engine, NULL, on_done, &result);
  g_assert_true (morango_engine_has_admin_finish (engine, await_result (&result), &error));
  g_assert_no_error (error);
  g_clear_object (&result);

  /* The addresses shown are the engine's, loopback last, and answer. */
  urls = shown_urls (window);
  g_assert_cmpuint (urls->len, >=, 1);
  loopback = g_ptr_array_index (urls, urls->len - 1);
  {
    g_autofree char *expected = g_strdup_printf ("http://127.0.0.1:%u/", port);

    g_assert_cmpstr (loopback, ==, expected);
  }
  info = g_strconcat (loopback, "api/morango/v1/morangoinfo/1/", NULL);
  g_assert_cmpuint (http_get (info), ==, 200);
  morango_ui_test_save_screenshot (GTK_WIDGET (window), "peers-serving.png");

  /* Copy puts the address on the clipboard. */
  {
    GtkWidget *list = morango_ui_test_find_widget (GTK_WIDGET (serve_row (window)), GTK_TYPE_LIST_BOX);
    GtkWidget *last = gtk_widget_get_last_child (list);
    GtkWidget *copy = morango_ui_test_find_widget (last, GTK_TYPE_BUTTON);
    GdkClipboard *clipboard = gtk_widget_get_clipboard (copy);

    g_signal_emit_by_name (copy, "clicked");
    g_assert_true (gdk_clipboard_is_local (clipboard));
    {
      g_auto(GValue) text = G_VALUE_INIT;

      g_value_init (&text, G_TYPE_STRING);
      g_assert_true (gdk_content_provider_get_value (gdk_clipboard_get_content (clipboard), &text, NULL));
      g_assert_cmpstr (g_value_get_string (&text), ==, loopback);
    }
  }

  /* Off: no server, no addresses. */
  gtk_switch_set_active (serve_switch (window), FALSE);
  await_idle (serve_row (window));
  g_assert_cmpuint (morango_engine_get_port (engine), ==, 0);
  g_assert_false (g_settings_get_boolean (settings, "serve"));
  g_clear_pointer (&urls, g_ptr_array_unref);
  urls = shown_urls (window);
  g_assert_cmpuint (urls->len, ==, 0);

  /* On again: the password is set, nothing is asked. */
  gtk_switch_set_active (serve_switch (window), TRUE);
  await_idle (serve_row (window));
  g_assert_null (morango_serve_row_get_password_dialog (serve_row (window)));
  await_idle (serve_row (window));
  g_assert_cmpuint (morango_engine_get_port (engine), >, 0);
  gtk_window_destroy (GTK_WINDOW (window));
  morango_engine_stop_serving (engine);
  g_clear_object (&engine);

  /* The next start serves by itself: the key is on. */
  g_assert_true (g_settings_get_boolean (settings, "serve"));
  engine = morango_engine_new (dir, NULL, &error);
  g_assert_no_error (error);
  window = open_window (app, engine);
  g_assert_true (gtk_switch_get_active (serve_switch (window)));
  await_idle (serve_row (window));
  g_assert_null (morango_serve_row_get_password_dialog (serve_row (window)));
  g_assert_cmpuint (morango_engine_get_port (engine), >, 0);
  gtk_window_destroy (GTK_WINDOW (window));
  morango_engine_stop_serving (engine);
  g_settings_reset (settings, "serve");
  g_settings_reset (settings, "port");
}

/* A port another program holds: the row says so and the switch goes
 * off, the key with it. */
static void
test_serve_port_busy (void)
{
  g_autoptr(AdwApplication) app = test_app ();
  g_autoptr(GSettings) settings = g_settings_new ("org.morango.Sync");
  g_autofree char *dir = morango_test_tmpdir ();
  g_autoptr(MorangoEngine) engine = NULL;
  g_autoptr(GSocketListener) taken = g_socket_listener_new ();
  g_autoptr(GError) error = NULL;
  GAsyncResult *result = NULL;
  MorangoWindow *window;
  const char *message;
  guint16 port;

  port = g_socket_listener_add_any_inet_port (taken, NULL, &error);
  g_assert_no_error (error);
  g_settings_reset (settings, "serve");
  g_settings_set_value (settings, "port", g_variant_new_uint16 (port));
  engine = morango_engine_new (dir, NULL, &error);
  g_assert_no_error (error);
  morango_engine_set_admin_password_async (engine, PASSWORD, NULL, on_done, &result);
  g_assert_true (morango_engine_set_admin_password_finish (engine, await_result (&result), &error));
  g_assert_no_error (error);
  g_clear_object (&result);

  window = open_window (app, engine);
  gtk_switch_set_active (serve_switch (window), TRUE);
  await_idle (serve_row (window));
  await_idle (serve_row (window));
  g_assert_null (morango_serve_row_get_password_dialog (serve_row (window)));
  message = morango_serve_row_get_error (serve_row (window));
  g_assert_nonnull (message);
  g_test_message ("port busy: %s", message);
  g_assert_nonnull (strstr (message, "used by another program"));
  g_assert_false (gtk_switch_get_active (serve_switch (window)));
  g_assert_false (g_settings_get_boolean (settings, "serve"));
  g_assert_cmpuint (morango_engine_get_port (engine), ==, 0);
  {
    const char *subtitle = adw_action_row_get_subtitle (ADW_ACTION_ROW (
        gtk_widget_get_ancestor (GTK_WIDGET (serve_switch (window)), ADW_TYPE_ACTION_ROW)));

    g_assert_nonnull (strstr (subtitle, "Not serving"));
  }
  gtk_window_destroy (GTK_WINDOW (window));
  g_settings_reset (settings, "port");
}

/* ------------------------------------------------------------------ */
/* A fake notification service on the test's session bus: it owns
 * org.freedesktop.Notifications and keeps the summary and body of each
 * notification it is given. */

static const char notifications_xml[] =
  "<node>"
  "  <interface name='org.freedesktop.Notifications'>"
  "    <method name='Notify'>"
  "      <arg type='s' direction='in'/><arg type='u' direction='in'/>"
  "      <arg type='s' direction='in'/><arg type='s' direction='in'/>"
  "      <arg type='s' direction='in'/><arg type='as' direction='in'/>"
  "      <arg type='a{sv}' direction='in'/><arg type='i' direction='in'/>"
  "      <arg type='u' direction='out'/>"
  "    </method>"
  "    <method name='CloseNotification'><arg type='u' direction='in'/></method>"
  "    <method name='GetCapabilities'><arg type='as' direction='out'/></method>"
  "    <method name='GetServerInformation'>"
  "      <arg type='s' direction='out'/><arg type='s' direction='out'/>"
  "      <arg type='s' direction='out'/><arg type='s' direction='out'/>"
  "    </method>"
  "    <signal name='NotificationClosed'><arg type='u'/><arg type='u'/></signal>"
  "    <signal name='ActionInvoked'><arg type='u'/><arg type='s'/></signal>"
  "  </interface>"
  "</node>";

/* "summary\nbody" of each notification received, in order. */
static GPtrArray *notifications;

static void
on_notifications_call (GDBusConnection       *connection,
                       const char            *sender,
                       const char            *path,
                       const char            *interface,
                       const char            *method,
                       GVariant              *parameters,
                       GDBusMethodInvocation *invocation,
                       gpointer               user_data)
{
  if (g_str_equal (method, "Notify"))
    {
      const char *summary = NULL, *body = NULL;

      g_variant_get_child (parameters, 3, "&s", &summary);
      g_variant_get_child (parameters, 4, "&s", &body);
      g_ptr_array_add (notifications, g_strconcat (summary, "\n", body, NULL));
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(u)", notifications->len));
    }
  else if (g_str_equal (method, "GetCapabilities"))
    {
      static const char * const caps[] = { "body", NULL };

      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(^as)", caps));
    }
  else if (g_str_equal (method, "GetServerInformation"))
    g_dbus_method_invocation_return_value (invocation, g_variant_new ("(ssss)", "fake", "test", "1", "1.2"));
  else
    g_dbus_method_invocation_return_value (invocation, NULL);
}

static void
on_name_acquired (GDBusConnection *connection,
                  const char      *name,
                  gpointer         user_data)
{
  *(gboolean *) user_data = TRUE;
}

static void
start_fake_notifications (void)
{
  static const GDBusInterfaceVTable vtable = { on_notifications_call };
  g_autoptr(GDBusNodeInfo) info = g_dbus_node_info_new_for_xml (notifications_xml, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  gboolean owned = FALSE;

  g_assert_no_error (error);
  notifications = g_ptr_array_new_with_free_func (g_free);
  g_dbus_connection_register_object (bus, "/org/freedesktop/Notifications", info->interfaces[0],
                                     &vtable, NULL, NULL, &error);
  g_assert_no_error (error);
  g_bus_own_name_on_connection (bus, "org.freedesktop.Notifications", G_BUS_NAME_OWNER_FLAGS_NONE,
                                on_name_acquired, NULL, &owned, NULL);
  while (!owned)
    g_main_context_iteration (NULL, TRUE);
}

/* A sync that ends while the window is hidden is told on the desktop:
 * the fake service gets "Sync with URL finished" and the counts, and
 * then, the peer down, "… failed" with the reason. */
static void
test_notification (void)
{
  g_autoptr(AdwApplication) app = test_app ();
  g_autoptr(MorangoEngine) server = NULL;
  g_autoptr(MorangoEngine) client = NULL;
  g_autofree char *url = NULL;
  g_autofree char *expected = NULL;
  MorangoWindow *window;
  MorangoPeerRow *row;
  guint port;

  server = start_server (20, &port);
  url = g_strdup_printf ("http://127.0.0.1:%u/", port);
  client = paired_client (url);
  window = open_window (app, client);
  row = first_row (window);
  g_ptr_array_set_size (notifications, 0);

  gtk_widget_set_visible (GTK_WIDGET (window), FALSE);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (row), "peer.sync", NULL));
  await_sync_end (row);
  while (notifications->len < 1)
    g_main_context_iteration (NULL, TRUE);
  expected = g_strdup_printf ("Sync with %s finished\n22 records in, 0 out", url);
  g_assert_cmpstr (g_ptr_array_index (notifications, 0), ==, expected);

  morango_engine_stop_serving (server);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (row), "peer.sync", NULL));
  await_sync_end (row);
  while (notifications->len < 2)
    g_main_context_iteration (NULL, TRUE);
  g_free (expected);
  expected = g_strdup_printf ("Sync with %s failed\n", url);
  g_assert_true (g_str_has_prefix (g_ptr_array_index (notifications, 1), expected));
  g_assert_cmpuint (strlen (g_ptr_array_index (notifications, 1)), >, strlen (expected));
  gtk_window_destroy (GTK_WINDOW (window));
}

/* Gives @window the X input focus, as a window manager does when a
 * person clicks it, and waits until GTK counts it active.  FALSE when
 * the display is not X11. */
static gboolean
make_active (GtkWindow *window)
{
#ifdef GDK_WINDOWING_X11
  GdkDisplay *display = gtk_widget_get_display (GTK_WIDGET (window));
  Display *xdisplay;
  Window xid;
  XWindowAttributes attributes;

  if (!GDK_IS_X11_DISPLAY (display))
    return FALSE;
  xdisplay = gdk_x11_display_get_xdisplay (display);
  xid = gdk_x11_surface_get_xid (gtk_native_get_surface (GTK_NATIVE (window)));
  /* Only a window the server shows can take the focus: painted, it has
   * been mapped (no window manager stands in between here). */
  morango_ui_test_await_painted (GTK_WIDGET (window));
  XSync (xdisplay, False);
  g_assert_true (XGetWindowAttributes (xdisplay, xid, &attributes));
  g_assert_cmpint (attributes.map_state, ==, IsViewable);
  gdk_x11_display_error_trap_push (display);
  XSetInputFocus (xdisplay, xid, RevertToParent, CurrentTime);
  g_assert_cmpint (gdk_x11_display_error_trap_pop (display), ==, 0);
  while (!gtk_window_is_active (window))
    g_main_context_iteration (NULL, TRUE);
  return TRUE;
#else
  return FALSE;
#endif
}

static void
on_server_information (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, NULL);

  g_assert_nonnull (reply);
  *(gboolean *) user_data = TRUE;
}

/* Waits until the fake service has answered everything sent to it so
 * far: a question asked now is answered after any notification already
 * on its way (one connection, in order). */
static void
flush_notifications (void)
{
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  gboolean answered = FALSE;

  g_assert_nonnull (bus);
  g_dbus_connection_call (bus, "org.freedesktop.Notifications", "/org/freedesktop/Notifications",
                          "org.freedesktop.Notifications", "GetServerInformation", NULL,
                          G_VARIANT_TYPE ("(ssss)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                          on_server_information, &answered);
  while (!answered)
    g_main_context_iteration (NULL, TRUE);
}

/* The text of a toast showing in @window: a label with @text. */
static gboolean
shows_label (GtkWidget  *window,
             const char *text)
{
  g_autoptr(GPtrArray) labels = morango_ui_test_find_all (window, GTK_TYPE_LABEL);

  for (guint i = 0; i < labels->len; i++)
    {
      GtkWidget *label = g_ptr_array_index (labels, i);

      if (gtk_widget_is_drawable (label) && g_strcmp0 (gtk_label_get_text (GTK_LABEL (label)), text) == 0)
        return TRUE;
    }
  return FALSE;
}

/* A sync that ends while the window is in front of the person, with
 * the focus, tells it in the toast only: no notification.  Shown but
 * with another window in front, it is told, and its toast replaces the
 * first sync's. */
static void
test_no_notification_when_focused (void)
{
  g_autoptr(AdwApplication) app = test_app ();
  g_autoptr(MorangoEngine) server = NULL;
  g_autoptr(MorangoEngine) client = NULL;
  g_autofree char *url = NULL;
  g_autofree char *first_outcome = NULL;
  MorangoWindow *window;
  MorangoPeerRow *row;
  GtkWindow *other;
  guint port;

  server = start_server (20, &port);
  url = g_strdup_printf ("http://127.0.0.1:%u/", port);
  client = paired_client (url);
  window = open_window (app, client);
  row = first_row (window);

  if (!make_active (GTK_WINDOW (window)))
    {
      gtk_window_destroy (GTK_WINDOW (window));
      g_test_skip ("the window can be given the focus only on X11");
      return;
    }
  flush_notifications ();
  g_ptr_array_set_size (notifications, 0);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (row), "peer.sync", NULL));
  await_sync_end (row);
  g_assert_true (gtk_window_is_active (GTK_WINDOW (window)));
  g_assert_true (g_str_has_prefix (morango_peer_row_get_outcome (row), "Synced with"));
  flush_notifications ();
  g_assert_cmpuint (notifications->len, ==, 0);
  morango_ui_test_await_painted (GTK_WIDGET (window));
  g_assert_true (shows_label (GTK_WIDGET (window), morango_peer_row_get_outcome (row)));
  first_outcome = g_strdup (morango_peer_row_get_outcome (row));

  /* Another window takes the focus: this one is shown, not looked at. */
  other = GTK_WINDOW (gtk_window_new ());
  gtk_window_present (other);
  g_assert_true (make_active (other));
  while (gtk_window_is_active (GTK_WINDOW (window)))
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (window)));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (row), "peer.sync", NULL));
  await_sync_end (row);
  flush_notifications ();
  g_assert_cmpuint (notifications->len, ==, 1);
  g_assert_true (g_str_has_prefix (g_ptr_array_index (notifications, 0), "Sync with"));

  /* One toast a row: the second outcome took the first one's place
   * instead of waiting behind it until someone closed it. */
  g_assert_cmpstr (morango_peer_row_get_outcome (row), !=, first_outcome);
  morango_ui_test_await_painted (GTK_WIDGET (window));
  g_assert_true (shows_label (GTK_WIDGET (window), morango_peer_row_get_outcome (row)));
  g_assert_false (shows_label (GTK_WIDGET (window), first_outcome));
  gtk_window_destroy (other);
  gtk_window_destroy (GTK_WINDOW (window));
}

int
main (int   argc,
      char *argv[])
{
  /* The notification backend GLib would pick depends on what the bus
   * holds (a portal, GNOME Shell): the test's fake speaks freedesktop. */
  g_autofree char *localedir = g_build_filename (g_getenv ("G_TEST_BUILDDIR"), "..", "locale", NULL);

  g_setenv ("GNOTIFICATION_BACKEND", "freedesktop", TRUE);
  gtk_test_init (&argc, &argv, NULL);
  /* The row's texts come from the default domain, as in the app; the
   * catalogues are the build's (the C locale translates nothing until
   * a test asks for a language). */
  bindtextdomain (APP_DOMAIN, localedir);
  bind_textdomain_codeset (APP_DOMAIN, "UTF-8");
  textdomain (APP_DOMAIN);
  adw_init ();
  g_object_set (gtk_settings_get_default (), "gtk-enable-animations", FALSE, NULL);
  start_fake_notifications ();
  /* First: it sets LANGUAGE, best done before engines start threads. */
  g_test_add_func ("/ui-peers/time-left", test_time_left);
  g_test_add_func ("/ui-peers/progress-and-history", test_progress_and_history);
  g_test_add_func ("/ui-peers/time-left-shown", test_time_left_shown);
  g_test_add_func ("/ui-peers/notification", test_notification);
  g_test_add_func ("/ui-peers/no-notification-when-focused", test_no_notification_when_focused);
  g_test_add_func ("/ui-peers/close-during-sync", test_close_during_sync);
  g_test_add_func ("/ui-peers/serve", test_serve);
  g_test_add_func ("/ui-peers/serve-port-busy", test_serve_port_busy);
  return g_test_run ();
}
