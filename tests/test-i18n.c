/* test-i18n.c: the engine's messages in its own gettext domain
 *
 * A test catalogue (tests/i18n/libmorango-test.po, compiled at build
 * time) translates a few engine messages into Brazilian Portuguese.  A
 * person using the engine gets them translated; a peer asking the
 * engine's server gets the same failure in English.
 *
 * SPDX-License-Identifier: MIT
 */
#include <locale.h>
#include <string.h>

#include <glib/gstdio.h>
#include <libsoup/soup.h>

#define GETTEXT_PACKAGE "libmorango"
#include "morango-http-server.h"
#include "morango-i18n-private.h"
#include "morango-pipe-private.h"
#include "morango-random.h"
#include "morango-store.h"
#include "morango-test-util.h"
#include "morango-wire.h"

/* The compiled test catalogue, in a locale tree of its own. */
static void
bind_test_catalogue (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *mo = g_test_build_filename (G_TEST_BUILT, "libmorango-test.mo", NULL);
  g_autofree char *root = morango_test_tmpdir ();
  g_autofree char *dir = g_build_filename (root, "pt_BR", "LC_MESSAGES", NULL);
  g_autofree char *target = g_build_filename (dir, "libmorango.mo", NULL);
  g_autofree char *contents = NULL;
  gsize length = 0;

  g_assert_true (g_file_get_contents (mo, &contents, &length, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (target, contents, length, &error));
  g_assert_no_error (error);
  /* The engine binds its domain to the installed catalogues once; this
   * binding comes after it, so it is the one gettext uses. */
  morango_i18n_init ();
  bindtextdomain (GETTEXT_PACKAGE, root);
}

/* A data folder that cannot be made: the store says so in Portuguese. */
static void
test_local_error_translated (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = morango_test_tmpdir ();
  g_autofree char *file = g_build_filename (dir, "not-a-folder", NULL);
  g_autofree char *expected = g_strdup_printf ("Não foi possível criar a pasta de dados “%s”: ", file);
  g_autoptr(MorangoHostInfo) host = morango_host_info_new ("i18n", "");
  g_autoptr(MorangoRandom) random = morango_random_new_seeded (7);
  g_autoptr(MorangoStore) store = NULL;

  g_assert_true (g_file_set_contents (file, "x", 1, &error));
  g_assert_no_error (error);
  store = morango_store_open_folder (file, NULL, host, random, &error);
  g_assert_null (store);
  g_assert_nonnull (error);
  /* What follows is the system's reason, in the system's words. */
  g_assert_true (g_str_has_prefix (error->message, expected));
  g_clear_error (&error);

  g_assert_null (morango_wire_json_parse ("  ", 2, &error));
  g_assert_nonnull (error);
  g_assert_cmpstr (error->message, ==, "Erro ao ler o JSON: o corpo está vazio");
}

/* A count in a message takes the plural form the language asks for. */
static void
test_plural_forms (void)
{
  static const char text[] = "0123456789";
  g_autoptr(GBytes) gz = morango_wire_gzip (text, sizeof text - 1, -1);
  g_autoptr(GError) error = NULL;
  gsize size = 0;
  gconstpointer data;

  g_assert_nonnull (gz);
  data = g_bytes_get_data (gz, &size);
  g_assert_null (morango_wire_gunzip (data, size, 1, &error));
  g_assert_nonnull (error);
  g_assert_cmpstr (error->message, ==, "O corpo gzip tem mais de 1 byte");
  g_clear_error (&error);
  g_assert_null (morango_wire_gunzip (data, size, 2, &error));
  g_assert_nonnull (error);
  g_assert_cmpstr (error->message, ==, "O corpo gzip tem mais de 2 bytes");
}

static void
on_answer (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  GBytes **body = data;
  g_autoptr(GError) error = NULL;

  *body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  g_assert_no_error (error);
}

/* The same failure the test above sees in Portuguese reaches a peer in
 * English: the wire body is what Morango's Django answers. */
static void
test_wire_stays_english (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = morango_test_tmpdir ();
  g_autoptr(MorangoHostInfo) host = morango_host_info_new ("i18n", "");
  g_autoptr(MorangoHttpServer) server = morango_http_server_new (dir, NULL, host, &error);
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GBytes) request_body = g_bytes_new_static ("  ", 2);
  g_autoptr(GBytes) body = NULL;
  g_autofree char *url = NULL;
  g_autofree char *text = NULL;

  g_assert_no_error (error);
  g_assert_true (morango_http_server_listen (server, "127.0.0.1", 0, &error));
  g_assert_no_error (error);
  url = g_strdup_printf ("http://127.0.0.1:%u/api/morango/v1/transfersessions/",
                         morango_http_server_get_port (server));
  msg = soup_message_new ("POST", url);
  soup_message_set_request_body_from_bytes (msg, "application/json", request_body);
  soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL, on_answer, &body);
  while (body == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (soup_message_get_status (msg), ==, SOUP_STATUS_BAD_REQUEST);
  text = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  morango_test_assert_json_text_equal (text, "{\"detail\": \"JSON parse error - the body is empty\"}");
  morango_http_server_disconnect (server);
}

static gpointer
item_new (gpointer read_data)
{
  return g_new0 (int, 1);
}

static MorangoPipeStep
read_fails (gpointer   item,
            gpointer   read_data,
            GError   **error)
{
  g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                       _("JSON parse error - the body is empty"));
  return MORANGO_PIPE_ERROR;
}

static gboolean
apply_nothing (gpointer   item,
               gpointer   apply_data,
               GError   **error)
{
  return TRUE;
}

/* A stage answering a peer reads on a thread of its own: what that
 * thread says is for the peer as well. */
static void
test_reader_thread_follows (void)
{
  static const MorangoPipeFuncs funcs = {
    "i18n-reader", 1, 1, item_new, g_free, read_fails, apply_nothing,
  };
  g_autoptr(GError) error = NULL;
  gboolean was;

  was = morango_i18n_set_wire_thread (TRUE);
  g_assert_false (morango_pipe_run (&funcs, NULL, NULL, NULL, NULL, &error));
  morango_i18n_set_wire_thread (was);
  g_assert_nonnull (error);
  g_assert_cmpstr (error->message, ==, "JSON parse error - the body is empty");
  g_clear_error (&error);

  g_assert_false (morango_pipe_run (&funcs, NULL, NULL, NULL, NULL, &error));
  g_assert_nonnull (error);
  g_assert_cmpstr (error->message, ==, "Erro ao ler o JSON: o corpo está vazio");
}

int
main (int    argc,
      char **argv)
{
  /* gettext ignores LANGUAGE in the "C" locale, but not in C.UTF-8,
   * the one locale every glibc has built in. */
  g_setenv ("LC_ALL", "C.UTF-8", TRUE);
  g_setenv ("LANGUAGE", "pt_BR", TRUE);
  setlocale (LC_ALL, "");
  g_test_init (&argc, &argv, NULL);
  bind_test_catalogue ();

  g_test_add_func ("/i18n/local-error-translated", test_local_error_translated);
  g_test_add_func ("/i18n/plural-forms", test_plural_forms);
  g_test_add_func ("/i18n/wire-stays-english", test_wire_stays_english);
  g_test_add_func ("/i18n/reader-thread-follows", test_reader_thread_follows);
  return g_test_run ();
}
