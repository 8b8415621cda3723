/* test-ui-pair.c: adding a peer and pairing with it from the desktop app
 *
 * Against an in-process engine serving a facility on 127.0.0.1 (two
 * learners, an admin password).  Runs under xvfb-run.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include <glib/gstdio.h>

#include <libsoup/soup.h>

#include "morango-add-peer-dialog.h"
#include "morango-certificate.h"
#include "morango-engine-peers.h"
#include "morango-pair-dialog.h"
#include "morango-peer-row.h"
#include "morango-peers-page.h"
#include "morango-store.h"
#include "morango-test-util.h"
#include "morango-ui-test-util.h"
#include "morango-window.h"
#include "pair-fixtures.h"

/* ------------------------------------------------------------------ */
/* Helpers */

static void
got (GObject      *source,
     GAsyncResult *result,
     gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static void
drain (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static GPtrArray *
list_peers (MorangoEngine *engine)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  GPtrArray *peers;

  morango_engine_list_peers_async (engine, NULL, got, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  peers = morango_engine_list_peers_finish (engine, result, &error);
  g_assert_no_error (error);
  return peers;
}

static guint
count_certificates (MorangoEngine *engine)
{
  g_autoptr(MorangoHostInfo) host = morango_host_info_new_from_system ();
  g_autoptr(MorangoRandom) random = morango_random_new_secure ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = morango_store_open_folder (morango_engine_get_data_dir (engine), NULL, host,
                                                             random, &error);
  g_autoptr(GPtrArray) certs = NULL;

  g_assert_no_error (error);
  certs = morango_certificate_list (morango_store_get_db (store), &error);
  g_assert_no_error (error);
  return certs->len;
}

static MorangoCertificate *
load_certificate (MorangoEngine *engine,
                  const char    *id)
{
  g_autoptr(MorangoHostInfo) host = morango_host_info_new_from_system ();
  g_autoptr(MorangoRandom) random = morango_random_new_secure ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = morango_store_open_folder (morango_engine_get_data_dir (engine), NULL, host,
                                                             random, &error);
  MorangoCertificate *cert;

  g_assert_no_error (error);
  cert = morango_certificate_load (morango_store_get_db (store), id, &error);
  g_assert_no_error (error);
  return cert;
}

/* A toplevel of @type, NULL when none is open. */
static GtkWindow *
find_toplevel (GType type)
{
  GListModel *toplevels = gtk_window_get_toplevels ();

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWindow) window = g_list_model_get_item (toplevels, i);

      if (G_TYPE_CHECK_INSTANCE_TYPE (window, type))
        return window;
    }
  return NULL;
}

static GObject *
child (MorangoPairDialog *dialog,
       const char        *name)
{
  GObject *object = gtk_widget_get_template_child (GTK_WIDGET (dialog), MORANGO_TYPE_PAIR_DIALOG, name);

  g_assert_nonnull (object);
  return object;
}

/* Until the dialog shows @page; a failure meanwhile ends the test. */
static void
await_page (MorangoPairDialog *dialog,
            const char        *page)
{
  while (!g_str_equal (morango_pair_dialog_get_page (dialog), page))
    {
      if (g_str_equal (morango_pair_dialog_get_page (dialog), "failed"))
        g_error ("waiting for “%s”, the dialog failed: %s", page, morango_pair_dialog_get_error (dialog));
      g_main_context_iteration (NULL, TRUE);
    }
  drain ();
}

/* The rows titled @title under @where. */
static AdwActionRow *
row_titled (GtkWidget  *where,
            const char *title)
{
  g_autoptr(GPtrArray) rows = g_ptr_array_new ();

  morango_ui_test_collect (where, ADW_TYPE_ACTION_ROW, rows);
  for (guint i = 0; i < rows->len; i++)
    if (g_strcmp0 (adw_preferences_row_get_title (rows->pdata[i]), title) == 0)
      return rows->pdata[i];
  return NULL;
}

static AdwApplication *
test_app (void)
{
  static guint n;
  g_autofree char *id = g_strdup_printf ("org.morango.Sync.PairTest%u", n++);
  AdwApplication *app = adw_application_new (id, G_APPLICATION_NON_UNIQUE);
  g_autoptr(GError) error = NULL;

  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_assert_no_error (error);
  return app;
}

/* ------------------------------------------------------------------ */
/* A facility to pair with, and this device */

typedef struct {
  char          *root;
  PairFixture   *facility;
  MorangoEngine *engine;
} Fixture;

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;

  fx->root = morango_test_tmpdir ();
  fx->facility = pair_fixture_new (fx->root);
  dir = g_build_filename (fx->root, "tablet", NULL);
  fx->engine = morango_engine_new (dir, "kolibri-like", &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  GtkWindow *window;

  while ((window = find_toplevel (GTK_TYPE_WINDOW)) != NULL)
    gtk_window_destroy (window);
  drain ();
  g_clear_object (&fx->engine);
  g_clear_pointer (&fx->facility, pair_fixture_free);
  g_free (fx->root);
}

static MorangoPairDialog *
open_pair_dialog (Fixture    *fx,
                  const char *url)
{
  MorangoPairDialog *dialog = morango_pair_dialog_new (fx->engine, url, NULL);

  gtk_window_set_default_size (GTK_WINDOW (dialog), 360, 640);
  gtk_window_present (GTK_WINDOW (dialog));
  return dialog;
}

/* Up to the scope page, with @password. */
static void
through_credentials (MorangoPairDialog *dialog,
                     const char        *password)
{
  await_page (dialog, "credentials");
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (child (dialog, "username_row"))), ==, "admin");
  gtk_editable_set_text (GTK_EDITABLE (child (dialog, "password_row")), password);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dialog), "pair.next", NULL));
}

static void
trust_and_finish (MorangoPairDialog *dialog,
                  gboolean           screenshot)
{
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dialog), "pair.next", NULL));
  await_page (dialog, "confirm");
  if (screenshot)
    morango_ui_test_save_screenshot (GTK_WIDGET (dialog), "pair-dialog-confirm.png");
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dialog), "pair.trust", NULL));
  await_page (dialog, "done");
  g_assert_nonnull (morango_pair_dialog_get_certificate_id (dialog));
}

static void
assert_paired (Fixture           *fx,
               MorangoPairDialog *dialog,
               const char        *url)
{
  g_autoptr(GPtrArray) peers = list_peers (fx->engine);
  const MorangoKnownPeer *peer;

  g_assert_cmpuint (peers->len, ==, 1);
  peer = peers->pdata[0];
  g_assert_cmpstr (peer->address, ==, url);
  g_assert_cmpint (peer->state, ==, MORANGO_PEER_STATE_PAIRED);
  g_assert_cmpstr (peer->client_certificate_id, ==, morango_pair_dialog_get_certificate_id (dialog));
}

/* ------------------------------------------------------------------ */
/* Tests */

static void
test_describe_error (void)
{
  struct {
    GQuark      domain;
    int         code;
    const char *message;
    const char *needle;
  } cases[] = {
    { MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED,
      "http://h:1/ refused POST certificates/ (401 Unauthorized): Invalid credentials.", "user name or password" },
    { MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED,
      "http://h:1/ refused POST certificates/ (403 Forbidden): no", "no permission" },
    { MORANGO_ERROR, MORANGO_ERROR_INVALID,
      "http://h:1/ refused POST certificates/ (429 ): Request was throttled.", "Too many wrong passwords" },
    { G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED, "Cannot reach http://h:1/: refused", "cannot be reached" },
    { G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND, "no such host", "cannot be reached" },
    { MORANGO_ERROR, MORANGO_ERROR_NOT_CONFIRMED, "the user said no", "did not confirm" },
    { MORANGO_ERROR, MORANGO_ERROR_CERT_UNTRUSTED, "untrusted root", "does not trust" },
    { MORANGO_ERROR, MORANGO_ERROR_PIN_MISMATCH, "pin", "another TLS certificate" },
    { MORANGO_ERROR, MORANGO_ERROR_FAILED, "something else entirely", "something else entirely" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = g_error_new_literal (cases[i].domain, cases[i].code, cases[i].message);
      g_autofree char *text = morango_pair_dialog_describe_error (error);

      if (strstr (text, cases[i].needle) == NULL)
        g_error ("case %u: “%s” lacks “%s”", i, text, cases[i].needle);
    }
}

static void
test_add_peer (Fixture       *fx,
               gconstpointer  data)
{
  g_autoptr(AdwApplication) app = test_app ();
  MorangoWindow *window = morango_window_new (app, fx->engine);
  GtkWidget *page = morango_ui_test_find_widget (GTK_WIDGET (window), MORANGO_TYPE_PEERS_PAGE);
  g_autoptr(GPtrArray) peers = NULL;
  g_autofree char *host_port = g_strndup (fx->facility->url + strlen ("http://"),
                                          strlen (fx->facility->url) - strlen ("http://") - 1);
  MorangoAddPeerDialog *dialog;
  GtkEditable *address;
  GtkWidget *error_label;
  GPtrArray *rows;
  MorangoPeerRow *row;

  gtk_window_present (GTK_WINDOW (window));
  while (morango_peers_page_get_loading (MORANGO_PEERS_PAGE (page)))
    g_main_context_iteration (NULL, TRUE);
  drain ();

  g_assert_true (gtk_widget_activate_action (page, "peers.add-peer", NULL));
  dialog = MORANGO_ADD_PEER_DIALOG (find_toplevel (MORANGO_TYPE_ADD_PEER_DIALOG));
  g_assert_nonnull (dialog);
  g_assert_true (gtk_window_get_transient_for (GTK_WINDOW (dialog)) == GTK_WINDOW (window));
  address = GTK_EDITABLE (gtk_widget_get_template_child (GTK_WIDGET (dialog), MORANGO_TYPE_ADD_PEER_DIALOG,
                                                         "address_row"));
  error_label = GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (dialog), MORANGO_TYPE_ADD_PEER_DIALOG,
                                                           "error_label"));

  /* Garbage: its reason, and nothing added. */
  gtk_editable_set_text (address, "school server please");
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dialog), "add-peer.add", NULL));
  drain ();
  g_assert_nonnull (morango_add_peer_dialog_get_error (dialog));
  g_assert_nonnull (strstr (morango_add_peer_dialog_get_error (dialog), "holds a space"));
  g_assert_true (gtk_widget_get_visible (error_label));
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (error_label)), ==, morango_add_peer_dialog_get_error (dialog));
  gtk_window_set_default_size (GTK_WINDOW (dialog), 360, 420);
  morango_ui_test_save_screenshot (GTK_WIDGET (dialog), "add-peer-dialog-error.png");
  peers = list_peers (fx->engine);
  g_assert_cmpuint (peers->len, ==, 0);
  g_clear_pointer (&peers, g_ptr_array_unref);
  gtk_editable_set_text (address, "ftp://server/");
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dialog), "add-peer.add", NULL));
  drain ();
  g_assert_nonnull (strstr (morango_add_peer_dialog_get_error (dialog), "Not a peer address"));
  peers = list_peers (fx->engine);
  g_assert_cmpuint (peers->len, ==, 0);
  g_clear_pointer (&peers, g_ptr_array_unref);

  /* host:port, as a person types it. */
  gtk_editable_set_text (address, host_port);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dialog), "add-peer.add", NULL));
  while (morango_add_peer_dialog_get_peer (dialog) == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_null (morango_add_peer_dialog_get_error (dialog));
  g_assert_cmpstr (morango_add_peer_dialog_get_peer (dialog)->address, ==, fx->facility->url);

  /* The page lists it, not paired, with a Pair button. */
  rows = g_ptr_array_new ();
  while (rows->len == 0)
    {
      g_main_context_iteration (NULL, TRUE);
      morango_ui_test_collect (GTK_WIDGET (window), MORANGO_TYPE_PEER_ROW, rows);
    }
  row = rows->pdata[0];
  g_ptr_array_unref (rows);
  morango_ui_test_save_screenshot (GTK_WIDGET (dialog), "add-peer-dialog-added.png");
  g_assert_cmpint (morango_peer_row_get_peer (row)->state, ==, MORANGO_PEER_STATE_ADDED);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (row),
                                                                                    MORANGO_TYPE_PEER_ROW,
                                                                                    "pair_button"))));

  /* Pair right away: the pairing dialog opens over the window. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dialog), "add-peer.pair", NULL));
  drain ();
  g_assert_null (find_toplevel (MORANGO_TYPE_ADD_PEER_DIALOG));
  {
    GtkWindow *pair = find_toplevel (MORANGO_TYPE_PAIR_DIALOG);

    g_assert_nonnull (pair);
    g_assert_true (gtk_window_get_transient_for (pair) == GTK_WINDOW (window));
    await_page (MORANGO_PAIR_DIALOG (pair), "credentials");
    gtk_window_close (pair);
  }
  /* The row's own Pair opens one too. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (row), "peer.pair", NULL));
  g_assert_nonnull (find_toplevel (MORANGO_TYPE_PAIR_DIALOG));
}

static void
test_whole_facility (Fixture       *fx,
                     gconstpointer  data)
{
  MorangoPairDialog *dialog = open_pair_dialog (fx, fx->facility->url);
  g_autoptr(MorangoCertificate) cert = NULL;

  through_credentials (dialog, PAIR_FIXTURE_PASSWORD);
  await_page (dialog, "scope");
  g_assert_true (gtk_check_button_get_active (GTK_CHECK_BUTTON (child (dialog, "facility_check"))));
  trust_and_finish (dialog, TRUE);
  assert_paired (fx, dialog, fx->facility->url);

  cert = load_certificate (fx->engine, morango_pair_dialog_get_certificate_id (dialog));
  g_assert_cmpstr (morango_certificate_get_scope_definition_id (cert), ==, "full-facility");
  g_assert_cmpstr (morango_certificate_get_parent_id (cert), ==, fx->facility->dataset);
  g_assert_nonnull (strstr (adw_status_page_get_description (ADW_STATUS_PAGE (child (dialog, "done_status"))),
                            morango_pair_dialog_get_certificate_id (dialog)));
}

static void
test_one_learner (Fixture       *fx,
                  gconstpointer  data)
{
  MorangoPairDialog *dialog = open_pair_dialog (fx, fx->facility->url);
  GtkWidget *learners = GTK_WIDGET (child (dialog, "learners_group"));
  g_autoptr(MorangoCertificate) cert = NULL;
  g_autofree char *want = NULL;
  AdwActionRow *ana, *ben;

  through_credentials (dialog, PAIR_FIXTURE_PASSWORD);
  await_page (dialog, "scope");
  gtk_check_button_set_active (GTK_CHECK_BUTTON (child (dialog, "learner_check")), TRUE);
  drain ();
  /* The learners by name, as the facility's server listed them; no coach. */
  g_assert_true (gtk_widget_get_visible (learners));
  ana = row_titled (learners, "Ana Alves");
  ben = row_titled (learners, "Ben Bello");
  g_assert_nonnull (ana);
  g_assert_nonnull (ben);
  g_assert_null (row_titled (learners, "Carla Coach"));
  g_assert_cmpstr (adw_action_row_get_subtitle (ben), ==, "ben");
  adw_action_row_activate (ben);
  drain ();
  g_assert_true (gtk_check_button_get_active (GTK_CHECK_BUTTON (adw_action_row_get_activatable_widget (ben))));
  morango_ui_test_save_screenshot (GTK_WIDGET (dialog), "pair-dialog-scope.png");
  trust_and_finish (dialog, FALSE);
  assert_paired (fx, dialog, fx->facility->url);

  cert = load_certificate (fx->engine, morango_pair_dialog_get_certificate_id (dialog));
  g_assert_cmpstr (morango_certificate_get_scope_definition_id (cert), ==, "single-user");
  want = g_strdup_printf ("\"user_id\": \"%s\"", fx->facility->learners[1]);
  if (strstr (morango_certificate_get_scope_params (cert), fx->facility->learners[1]) == NULL)
    g_error ("params %s lack %s", morango_certificate_get_scope_params (cert), want);
}

/* A Morango-like peer: everything forwarded to the facility except our
 * learners endpoint, which it answers 404 as Morango would. */
typedef struct {
  SoupServer  *server;
  SoupSession *session;
  char        *target;
  char        *url;
} Proxy;

static void
proxy_handler (SoupServer        *server,
               SoupServerMessage *msg,
               const char        *path,
               GHashTable        *query,
               gpointer           data)
{
  Proxy *p = data;
  GUri *uri = soup_server_message_get_uri (msg);
  g_autofree char *url = NULL;
  g_autoptr(SoupMessage) out = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GBytes) reply = NULL;
  SoupMessageHeaders *in_headers = soup_server_message_get_request_headers (msg);
  const char *value;

  if (g_str_has_prefix (path, "/api/morango-sync/"))
    {
      soup_server_message_set_status (msg, 404, NULL);
      soup_server_message_set_response (msg, "text/html", SOUP_MEMORY_STATIC, "<h1>Not Found</h1>", 18);
      return;
    }
  url = g_strdup_printf ("%s%s%s%s", p->target, path + 1, g_uri_get_query (uri) ? "?" : "",
                         g_uri_get_query (uri) ? g_uri_get_query (uri) : "");
  out = soup_message_new (soup_server_message_get_method (msg), url);
  body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  if (g_bytes_get_size (body) > 0)
    soup_message_set_request_body_from_bytes (out, soup_message_headers_get_content_type (in_headers, NULL), body);
  if ((value = soup_message_headers_get_one (in_headers, "Authorization")) != NULL)
    soup_message_headers_replace (soup_message_get_request_headers (out), "Authorization", value);
  reply = soup_session_send_and_read (p->session, out, NULL, NULL);
  soup_server_message_set_status (msg, soup_message_get_status (out), NULL);
  soup_server_message_set_response (msg, soup_message_headers_get_content_type (soup_message_get_response_headers (out), NULL),
                                    SOUP_MEMORY_COPY, reply ? g_bytes_get_data (reply, NULL) : "",
                                    reply ? g_bytes_get_size (reply) : 0);
}

static void
test_typed_id (Fixture       *fx,
               gconstpointer  data)
{
  Proxy p = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoCertificate) cert = NULL;
  MorangoPairDialog *dialog;
  GSList *uris;

  p.server = soup_server_new (NULL, NULL);
  p.session = soup_session_new ();
  p.target = fx->facility->url;
  soup_server_add_handler (p.server, NULL, proxy_handler, &p, NULL);
  g_assert_true (soup_server_listen_local (p.server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (p.server);
  p.url = g_strdup_printf ("http://127.0.0.1:%d/", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  dialog = open_pair_dialog (fx, p.url);
  through_credentials (dialog, PAIR_FIXTURE_PASSWORD);
  await_page (dialog, "scope");
  gtk_check_button_set_active (GTK_CHECK_BUTTON (child (dialog, "learner_check")), TRUE);
  drain ();
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (child (dialog, "learners_group"))));
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (child (dialog, "typed_group"))));
  /* Nothing typed: said so, nothing asked. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dialog), "pair.next", NULL));
  g_assert_cmpstr (morango_pair_dialog_get_page (dialog), ==, "scope");
  g_assert_nonnull (morango_pair_dialog_get_error (dialog));
  gtk_editable_set_text (GTK_EDITABLE (child (dialog, "user_id_row")), fx->facility->learners[0]);
  trust_and_finish (dialog, FALSE);
  assert_paired (fx, dialog, p.url);
  cert = load_certificate (fx->engine, morango_pair_dialog_get_certificate_id (dialog));
  g_assert_cmpstr (morango_certificate_get_scope_definition_id (cert), ==, "single-user");
  g_assert_nonnull (strstr (morango_certificate_get_scope_params (cert), fx->facility->learners[0]));

  gtk_window_destroy (GTK_WINDOW (dialog));
  drain ();
  soup_server_disconnect (p.server);
  g_object_unref (p.server);
  g_object_unref (p.session);
  g_free (p.url);
}

/* Over HTTPS: first the peer's TLS certificate, asked once, then its
 * root; both pages show what is about to be trusted. */
static void
test_https_pin (Fixture       *fx,
                gconstpointer  data)
{
  g_autofree char *fingerprint = NULL;
  g_autofree char *dir = g_build_filename (fx->root, "secure", NULL);
  g_autoptr(PairFixture) secure = NULL;
  g_autoptr(GPtrArray) peers = NULL;
  MorangoPairDialog *dialog;
  GtkLabel *details;

  g_mkdir (dir, 0700);
  secure = pair_fixture_new_tls (dir, &fingerprint);
  g_assert_nonnull (fingerprint);
  dialog = open_pair_dialog (fx, secure->url);
  details = GTK_LABEL (child (dialog, "confirm_details"));
  await_page (dialog, "confirm");
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (child (dialog, "confirm_title"))), ==, "Is This the Peer?");
  g_assert_nonnull (strstr (gtk_label_get_text (details), fingerprint));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dialog), "pair.trust", NULL));
  through_credentials (dialog, PAIR_FIXTURE_PASSWORD);
  await_page (dialog, "scope");
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dialog), "pair.next", NULL));
  await_page (dialog, "confirm");
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (child (dialog, "confirm_title"))), ==,
                   "Trust This Root Certificate?");
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dialog), "pair.trust", NULL));
  await_page (dialog, "done");
  peers = list_peers (fx->engine);
  g_assert_cmpuint (peers->len, ==, 1);
  g_assert_cmpstr (((MorangoKnownPeer *) peers->pdata[0])->tls_fingerprint, ==, fingerprint);
  gtk_window_destroy (GTK_WINDOW (dialog));
  drain ();
}

/* A TLS certificate refused: nothing asked of the peer, nothing stored. */
static void
test_https_pin_refused (Fixture       *fx,
                        gconstpointer  data)
{
  g_autofree char *dir = g_build_filename (fx->root, "secure", NULL);
  g_autoptr(PairFixture) secure = NULL;
  g_autoptr(GPtrArray) peers = NULL;
  MorangoPairDialog *dialog;

  g_mkdir (dir, 0700);
  secure = pair_fixture_new_tls (dir, NULL);
  dialog = open_pair_dialog (fx, secure->url);
  await_page (dialog, "confirm");
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dialog), "pair.refuse", NULL));
  while (!g_str_equal (morango_pair_dialog_get_page (dialog), "failed") &&
         !g_str_equal (morango_pair_dialog_get_page (dialog), "credentials"))
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (morango_pair_dialog_get_page (dialog), ==, "failed");
  g_test_message ("refused pin: %s", morango_pair_dialog_get_error (dialog));
  peers = list_peers (fx->engine);
  g_assert_cmpuint (peers->len, ==, 0);
  gtk_window_destroy (GTK_WINDOW (dialog));
  drain ();
}

/* Closing at the trust question says no: the pairing ends, nothing is
 * stored, and the dialog goes once the engine lets go of it. */
static void
test_close_while_asked (Fixture       *fx,
                        gconstpointer  data)
{
  MorangoPairDialog *dialog = open_pair_dialog (fx, fx->facility->url);
  g_autoptr(GPtrArray) peers = NULL;
  guint before = count_certificates (fx->engine);

  through_credentials (dialog, PAIR_FIXTURE_PASSWORD);
  await_page (dialog, "scope");
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dialog), "pair.next", NULL));
  await_page (dialog, "confirm");
  g_object_add_weak_pointer (G_OBJECT (dialog), (gpointer *) &dialog);
  gtk_window_close (GTK_WINDOW (dialog));
  while (dialog != NULL)
    g_main_context_iteration (NULL, TRUE);
  peers = list_peers (fx->engine);
  g_assert_cmpuint (peers->len, ==, 0);
  g_assert_cmpuint (count_certificates (fx->engine), ==, before);
}

static void
test_wrong_password (Fixture       *fx,
                     gconstpointer  data)
{
  MorangoPairDialog *dialog = open_pair_dialog (fx, fx->facility->url);
  g_autoptr(GPtrArray) peers = NULL;
  GtkWidget *label = GTK_WIDGET (child (dialog, "credentials_error"));
  guint before = count_certificates (fx->engine);

  through_credentials (dialog, "not the password");
  while (morango_pair_dialog_get_error (dialog) == NULL)
    g_main_context_iteration (NULL, TRUE);
  drain ();
  g_assert_cmpstr (morango_pair_dialog_get_page (dialog), ==, "credentials");
  g_assert_true (gtk_widget_get_visible (label));
  g_assert_nonnull (strstr (gtk_label_get_text (GTK_LABEL (label)), "refused the user name or password"));
  peers = list_peers (fx->engine);
  g_assert_cmpuint (peers->len, ==, 0);
  g_assert_cmpuint (count_certificates (fx->engine), ==, before);
}

static void
test_decline_root (Fixture       *fx,
                   gconstpointer  data)
{
  MorangoPairDialog *dialog = open_pair_dialog (fx, fx->facility->url);
  g_autoptr(GPtrArray) peers = NULL;
  GtkLabel *details = GTK_LABEL (child (dialog, "confirm_details"));
  guint before = count_certificates (fx->engine);

  through_credentials (dialog, PAIR_FIXTURE_PASSWORD);
  await_page (dialog, "scope");
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dialog), "pair.next", NULL));
  await_page (dialog, "confirm");
  /* What is about to be trusted: the root and its fingerprint. */
  g_assert_nonnull (strstr (gtk_label_get_text (details), fx->facility->dataset));
  {
    g_autoptr(MorangoEngine) facility = g_object_ref (fx->facility->engine);
    g_autoptr(MorangoCertificate) root = load_certificate (facility, fx->facility->dataset);
    g_autofree char *fingerprint = morango_key_get_fingerprint (morango_certificate_get_key (root));

    g_assert_nonnull (strstr (gtk_label_get_text (details), fingerprint));
  }
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dialog), "pair.refuse", NULL));
  while (!g_str_equal (morango_pair_dialog_get_page (dialog), "failed") &&
         !g_str_equal (morango_pair_dialog_get_page (dialog), "done"))
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (morango_pair_dialog_get_page (dialog), ==, "failed");
  g_assert_nonnull (strstr (morango_pair_dialog_get_error (dialog), "did not confirm"));
  peers = list_peers (fx->engine);
  g_assert_cmpuint (peers->len, ==, 0);
  g_assert_cmpuint (count_certificates (fx->engine), ==, before);
}

static void
test_peer_down (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(SoupServer) server = soup_server_new (NULL, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  g_autoptr(GPtrArray) peers = NULL;
  MorangoPairDialog *dialog;
  GSList *uris;

  /* A port that was just free: nobody listens there now. */
  g_assert_true (soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  uris = soup_server_get_uris (server);
  url = g_strdup_printf ("http://127.0.0.1:%d/", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  soup_server_disconnect (server);

  dialog = open_pair_dialog (fx, url);
  while (!g_str_equal (morango_pair_dialog_get_page (dialog), "failed"))
    g_main_context_iteration (NULL, TRUE);
  drain ();
  g_assert_nonnull (strstr (morango_pair_dialog_get_error (dialog), "cannot be reached"));
  g_assert_cmpstr (adw_status_page_get_description (ADW_STATUS_PAGE (child (dialog, "failed_status"))), ==,
                   morango_pair_dialog_get_error (dialog));
  peers = list_peers (fx->engine);
  g_assert_cmpuint (peers->len, ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();
  g_object_set (gtk_settings_get_default (), "gtk-enable-animations", FALSE, NULL);

  g_test_add_func ("/ui-pair/describe-error", test_describe_error);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/ui-pair/add-peer", test_add_peer);
  ADD ("/ui-pair/whole-facility", test_whole_facility);
  ADD ("/ui-pair/one-learner", test_one_learner);
  ADD ("/ui-pair/typed-id", test_typed_id);
  ADD ("/ui-pair/wrong-password", test_wrong_password);
  ADD ("/ui-pair/decline-root", test_decline_root);
  ADD ("/ui-pair/peer-down", test_peer_down);
  ADD ("/ui-pair/close-while-asked", test_close_while_asked);
  ADD ("/ui-pair/https-pin", test_https_pin);
  ADD ("/ui-pair/https-pin-refused", test_https_pin_refused);
#undef ADD
  return g_test_run ();
}
