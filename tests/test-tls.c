/* test-tls.c: HTTPS with pinned peers, and pairing that asks before it trusts a root
 *
 * The folder's own TLS certificate and fingerprints; then two engines on
 * 127.0.0.1: S (kolibri-like, its own full-facility root, an admin
 * account, a facility with learners) serves, C pairs and syncs, and each
 * question the engine asks goes to a callback on this thread that
 * answers as the test says.
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gstdio.h>
#include <gnutls/x509.h>
#include <string.h>

#include "morango-account.h"
#include "morango-app.h"
#include "morango-engine.h"
#include "morango-known-peer.h"
#include "morango-test-util.h"
#include "morango-tls.h"
#include "morango-trust.h"

#define PASSWORD "correct horse"
#define N_LEARNERS 3

/* ---- fingerprints ---- */

#define FP_HEX "3fa0b1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f5061728394a5b6c7d8e"
#define FP_CANONICAL "SHA256:3f:a0:b1:c2:d3:e4:f5:06:17:28:39:4a:5b:6c:7d:8e:" \
                     "9f:a0:b1:c2:d3:e4:f5:06:17:28:39:4a:5b:6c:7d:8e"

static void
test_fingerprint_normalize (void)
{
  static const char *good[] = {
    FP_CANONICAL,
    FP_HEX,
    "sha256:" FP_HEX,
    "SHA256:3F:A0:B1:C2:D3:E4:F5:06:17:28:39:4A:5B:6C:7D:8E:9F:A0:B1:C2:D3:E4:F5:06:17:28:39:4A:5B:6C:7D:8E",
    "3f:a0:b1:c2:d3:e4:f5:06:17:28:39:4a:5b:6c:7d:8e:9f:a0:b1:c2:d3:e4:f5:06:17:28:39:4a:5b:6c:7d:8e",
  };
  static const char *bad[] = {
    "",
    "SHA256:",
    FP_HEX "00",                                    /* 33 bytes */
    "3fa0b1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f5061728394a5b6c7d",  /* 31 bytes */
    "3fa0b1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f5061728394a5b6c7d8",   /* half a byte short */
    "3fa0b1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f5061728394a5b6c7d8g",  /* not hex */
    "3:fa0b1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f5061728394a5b6c7d8e", /* colon inside a byte */
    ":" FP_HEX,
    FP_HEX ":",
    "3f::a0b1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f5061728394a5b6c7d8e",
    "SHA1:" FP_HEX,
    " " FP_HEX,
    "MD5:" FP_HEX,
  };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *canonical = morango_tls_fingerprint_normalize (good[i], &error);

      g_assert_no_error (error);
      g_assert_cmpstr (canonical, ==, FP_CANONICAL);
      g_assert_cmpuint (strlen (canonical), ==, MORANGO_TLS_FINGERPRINT_LEN);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *canonical = morango_tls_fingerprint_normalize (bad[i], &error);

      g_test_message ("refused: “%s”", bad[i]);
      g_assert_null (canonical);
      g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
    }
}

/* The fingerprint of a PEM file as GnuTLS computes it, apart from ours. */
static char *
file_fingerprint (const char *path)
{
  g_autofree char *pem = NULL;
  gnutls_x509_crt_t crt;
  gnutls_datum_t datum;
  guint8 digest[32];
  size_t len = sizeof digest;
  GString *text = g_string_new ("SHA256:");

  g_assert_true (g_file_get_contents (path, &pem, NULL, NULL));
  datum.data = (unsigned char *) pem;
  datum.size = strlen (pem);
  g_assert_cmpint (gnutls_x509_crt_init (&crt), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_import (crt, &datum, GNUTLS_X509_FMT_PEM), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_get_fingerprint (crt, GNUTLS_DIG_SHA256, digest, &len), ==, 0);
  gnutls_x509_crt_deinit (crt);
  for (gsize i = 0; i < len; i++)
    g_string_append_printf (text, i ? ":%02x" : "%02x", digest[i]);
  return g_string_free (text, FALSE);
}

static void
test_certificate_ensure (void)
{
  g_autofree char *dir = morango_test_tmpdir ();
  g_autofree char *key_path = g_build_filename (dir, MORANGO_TLS_KEY_FILE, NULL);
  g_autofree char *cert_path = g_build_filename (dir, MORANGO_TLS_CERTIFICATE_FILE, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GTlsCertificate) first = NULL;
  g_autoptr(GTlsCertificate) again = NULL;
  g_autoptr(GTlsCertificate) renewed = NULL;
  g_autofree char *fp_first = NULL;
  g_autofree char *fp_again = NULL;
  g_autofree char *fp_renewed = NULL;
  g_autofree char *fp_file = NULL;
  gboolean created = FALSE;
  GStatBuf st;

  /* Made on first use, the key private. */
  first = morango_tls_certificate_ensure (dir, &created, &error);
  g_assert_no_error (error);
  g_assert_true (created);
  g_assert_cmpint (g_stat (key_path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  fp_first = morango_tls_certificate_get_fingerprint (first);
  fp_file = file_fingerprint (cert_path);
  g_assert_cmpstr (fp_first, ==, fp_file);
  {
    g_autofree char *canonical = morango_tls_fingerprint_normalize (fp_first, NULL);

    g_assert_cmpstr (canonical, ==, fp_first);
  }

  /* Kept: the same certificate next time. */
  again = morango_tls_certificate_ensure (dir, &created, &error);
  g_assert_no_error (error);
  g_assert_false (created);
  fp_again = morango_tls_certificate_get_fingerprint (again);
  g_assert_cmpstr (fp_again, ==, fp_first);

  /* A key others may read is not used. */
  g_assert_cmpint (g_chmod (key_path, 0644), ==, 0);
  g_assert_null (morango_tls_certificate_ensure (dir, NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED);
  g_clear_error (&error);
  g_assert_cmpint (g_chmod (key_path, 0600), ==, 0);

  /* Without its key the certificate is made anew: a new identity. */
  g_assert_cmpint (g_unlink (key_path), ==, 0);
  renewed = morango_tls_certificate_ensure (dir, &created, &error);
  g_assert_no_error (error);
  g_assert_true (created);
  fp_renewed = morango_tls_certificate_get_fingerprint (renewed);
  g_assert_cmpstr (fp_renewed, !=, fp_first);
  g_clear_pointer (&fp_file, g_free);
  fp_file = file_fingerprint (cert_path);
  g_assert_cmpstr (fp_renewed, ==, fp_file);
}

/* ---- two engines ---- */

typedef struct {
  char          *dir_s;
  char          *dir_c;
  char          *root_id;       /* S's root, the dataset */
  char          *root_key_fingerprint;
  char          *facility;
  MorangoEngine *s;
  MorangoEngine *c;
  char          *url;
  char          *fingerprint;   /* S's TLS certificate */
  guint          port;

  /* How the callback answers, and what it saw. */
  gboolean       accept_tls;
  gboolean       accept_root;
  gboolean       drop_unanswered;   /* neither answer nor keep the question */
  GCancellable  *cancel_on_ask;     /* cancelled instead of answering */
  guint          tls_asked;
  guint          root_asked;
  guint          dropped;
  GPtrArray     *seen;              /* MorangoEngineConfirmation * */
  MorangoEngineConfirmation *pending;  /* answered later, from an idle */
} Fixture;

static MorangoStore *
open_folder (const char *dir)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoHostInfo) host = morango_host_info_new (dir, "node");
  g_autoptr(MorangoRandom) random = morango_random_new_secure ();
  MorangoStore *store = morango_store_open_folder (dir, "kolibri-like", host, random, &error);

  g_assert_no_error (error);
  return store;
}

static char *
create (MorangoStore *store,
        const char   *model,
        JsonObject   *fields)
{
  g_autoptr(GError) error = NULL;
  char *id = NULL;

  g_assert_true (morango_app_create (morango_store_get_app (store), model, fields, &id, &error));
  g_assert_no_error (error);
  return id;
}

static char *
add_learner (Fixture      *f,
             MorangoStore *store,
             const char   *name)
{
  g_autoptr(JsonObject) u = json_object_new ();

  json_object_set_string_member (u, "dataset_id", f->root_id);
  json_object_set_string_member (u, "facility_id", f->facility);
  json_object_set_string_member (u, "username", name);
  return create (store, "facilityuser", u);
}

static gint64
count (const char *dir,
       const char *sql,
       const char *value)
{
  g_autoptr(MorangoStore) store = open_folder (dir);
  g_autoptr(GError) error = NULL;
  gint64 n = -1;

  if (value != NULL)
    g_assert_true (morango_db_query_int64 (morango_store_get_db (store), &n, NULL, &error, sql, "s", value));
  else
    g_assert_true (morango_db_query_int64 (morango_store_get_db (store), &n, NULL, &error, sql, ""));
  g_assert_no_error (error);
  return n;
}

static GAsyncResult *
await (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *slot;
}

static void
got (GObject      *source,
     GAsyncResult *result,
     gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static void
serve (Fixture  *f,
       gboolean  tls,
       guint     port)
{
  GAsyncResult *result = NULL;
  g_autoptr(GError) error = NULL;
  MorangoEngineServeOptions options = { .address = "127.0.0.1", .port = port, .tls = tls };

  morango_engine_serve_async (f->s, &options, NULL, got, &result);
  g_assert_true (morango_engine_serve_finish (f->s, await (&result), &error));
  g_assert_no_error (error);
  g_object_unref (result);
  f->port = morango_engine_get_port (f->s);
  g_free (f->url);
  f->url = g_strdup_printf ("%s://127.0.0.1:%u/", tls ? "https" : "http", f->port);
  g_free (f->fingerprint);
  f->fingerprint = morango_engine_dup_tls_fingerprint (f->s);
  g_assert_true (tls == (f->fingerprint != NULL));
  {
    g_auto(GStrv) urls = morango_engine_get_urls (f->s);

    g_assert_cmpstr (urls[0], ==, f->url);
  }
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  static const char *const all[] = { MORANGO_ACCOUNT_ALL_SCOPES, NULL };
  gboolean tls = GPOINTER_TO_INT (data);
  g_autoptr(MorangoStore) s = NULL;
  g_autoptr(MorangoCertificate) root = NULL;
  g_autoptr(JsonObject) facility = json_object_new ();
  g_autoptr(GError) error = NULL;

  f->dir_s = morango_test_tmpdir ();
  f->dir_c = morango_test_tmpdir ();
  f->seen = g_ptr_array_new_with_free_func (g_object_unref);
  f->accept_tls = TRUE;
  f->accept_root = TRUE;

  s = open_folder (f->dir_s);
  root = morango_certificate_create_root (morango_store_get_db (s), "full-facility", NULL, NULL, &error);
  g_assert_no_error (error);
  f->root_id = g_strdup (morango_certificate_get_id (root));
  f->root_key_fingerprint = morango_key_get_fingerprint (morango_certificate_get_key (root));
  g_assert_true (morango_account_set_password (morango_store_get_db (s), morango_store_get_random (s),
                                               MORANGO_ACCOUNT_ADMIN, PASSWORD, all, &error));
  g_assert_no_error (error);
  json_object_set_string_member (facility, "dataset_id", f->root_id);
  json_object_set_string_member (facility, "name", "Riverside School");
  f->facility = create (s, "facility", facility);
  for (guint i = 0; i < N_LEARNERS; i++)
    {
      g_autofree char *name = g_strdup_printf ("learner%u", i);

      g_free (add_learner (f, s, name));
    }
  g_clear_object (&s);

  f->s = morango_engine_new (f->dir_s, NULL, &error);
  g_assert_no_error (error);
  f->c = morango_engine_new (f->dir_c, "kolibri-like", &error);
  g_assert_no_error (error);
  serve (f, tls, 0);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_clear_object (&f->pending);
  g_clear_object (&f->s);
  g_clear_object (&f->c);
  g_ptr_array_unref (f->seen);
  g_free (f->dir_s);
  g_free (f->dir_c);
  g_free (f->root_id);
  g_free (f->root_key_fingerprint);
  g_free (f->facility);
  g_free (f->url);
  g_free (f->fingerprint);
}

static gboolean
answer_later (gpointer data)
{
  Fixture *f = data;
  g_autoptr(MorangoEngineConfirmation) c = g_steal_pointer (&f->pending);

  morango_engine_confirmation_reply (c, f->accept_tls);
  /* Only the first answer counts. */
  morango_engine_confirmation_reply (c, !f->accept_tls);
  return G_SOURCE_REMOVE;
}

static GThread *main_thread;

/* Answers the engine's questions as the fixture says.  A TLS question is
 * answered from an idle, as a dialog would: the engine must wait. */
static void
confirm (MorangoEngineConfirmation *confirmation,
         gpointer                   user_data)
{
  Fixture *f = user_data;

  g_assert_true (g_thread_self () == main_thread);
  if (f->drop_unanswered)
    {
      f->dropped++;
      return;
    }
  g_ptr_array_add (f->seen, g_object_ref (confirmation));
  if (f->cancel_on_ask != NULL)
    {
      g_cancellable_cancel (f->cancel_on_ask);
      f->pending = g_object_ref (confirmation);   /* kept, never answered */
      return;
    }
  switch (morango_engine_confirmation_get_kind (confirmation))
    {
    case MORANGO_ENGINE_CONFIRM_TLS_CERTIFICATE:
      f->tls_asked++;
      g_assert_null (f->pending);
      f->pending = g_object_ref (confirmation);
      g_idle_add (answer_later, f);
      break;
    case MORANGO_ENGINE_CONFIRM_TRUST_ROOT:
      f->root_asked++;
      morango_engine_confirmation_reply (confirmation, f->accept_root);
      break;
    default:
      g_assert_not_reached ();
    }
}

/* Pairs C with S for @scope (NULL: full-facility); NULL and *@error when
 * it fails. */
static char *
pair (Fixture      *f,
      const char   *scope,
      JsonObject   *params,
      const char   *expected,
      gboolean      with_confirm,
      GCancellable *cancellable,
      GError      **error)
{
  GAsyncResult *result = NULL;
  MorangoEnginePairOptions options = {
    .scope_definition = scope ? scope : "full-facility",
    .params = params,
    .password = PASSWORD,
    .expect_fingerprint = expected,
    .confirm = with_confirm ? confirm : NULL,
    .confirm_data = f,
  };
  char *id;

  morango_engine_pair_async (f->c, f->url, &options, cancellable, got, &result);
  id = morango_engine_pair_finish (f->c, await (&result), error);
  g_object_unref (result);
  return id;
}

static gboolean
sync_with (Fixture                 *f,
           const char              *expected,
           MorangoEngineSyncResult *out,
           GError                 **error)
{
  GAsyncResult *result = NULL;
  MorangoEngineSyncOptions options = {
    .expect_fingerprint = expected,
    .confirm = confirm,
    .confirm_data = f,
  };
  gboolean ok;

  morango_engine_sync_async (f->c, f->url, &options, f->cancel_on_ask, got, &result);
  ok = morango_engine_sync_finish (f->c, await (&result), out, error);
  g_object_unref (result);
  return ok;
}

static char *
pin_of (Fixture *f)
{
  g_autoptr(MorangoStore) c = open_folder (f->dir_c);
  g_autoptr(MorangoKnownPeer) known = morango_known_peer_lookup_address (c, f->url, NULL);

  return known ? g_strdup (known->tls_fingerprint) : NULL;
}

static gint64
records_in_c (Fixture *f)
{
  return count (f->dir_c, "SELECT count(*) FROM morango_store", NULL);
}

/* Nothing of a pairing is on C: no certificate, no trust, no peer. */
static void
assert_nothing_stored (Fixture *f)
{
  g_autoptr(MorangoStore) c = open_folder (f->dir_c);
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoKnownPeer) known = morango_known_peer_lookup_address (c, f->url, &error);

  g_assert_null (known);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND);
  g_assert_false (morango_trust_is_trusted (morango_store_get_db (c), f->root_id));
  g_clear_object (&c);
  g_assert_cmpint (count (f->dir_c, "SELECT count(*) FROM morango_certificate", NULL), ==, 0);
}

/* A sync over https:// with the fingerprint given, pinned from then on;
 * the server's key replaced → refused, nothing synced, until the new
 * fingerprint is given. */
static void
test_https_pinned (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *pin = NULL;
  g_autofree char *typed = NULL;
  g_autofree char *old_fingerprint = NULL;
  g_autofree char *newcomer = NULL;
  g_autofree char *tls_dir_key = g_build_filename (f->dir_s, MORANGO_TLS_KEY_FILE, NULL);
  g_autofree char *tls_dir_cert = g_build_filename (f->dir_s, MORANGO_TLS_CERTIFICATE_FILE, NULL);
  MorangoEngineSyncResult result = { 0 };
  MorangoEngineConfirmation *asked;
  gint64 server_sessions;

  g_assert_true (g_str_has_prefix (f->url, "https://"));
  /* As a person might type it: capitals, no colons. */
  {
    g_auto(GStrv) parts = g_strsplit (f->fingerprint + strlen ("SHA256:"), ":", -1);
    g_autofree char *joined = g_strjoinv ("", parts);

    typed = g_ascii_strup (joined, -1);
  }

  id = pair (f, NULL, NULL, typed, TRUE, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (id);
  /* The expected fingerprint needs no question; the new root does. */
  g_assert_cmpuint (f->tls_asked, ==, 0);
  g_assert_cmpuint (f->root_asked, ==, 1);
  asked = g_ptr_array_index (f->seen, 0);
  g_assert_cmpint (morango_engine_confirmation_get_kind (asked), ==, MORANGO_ENGINE_CONFIRM_TRUST_ROOT);
  g_assert_cmpstr (morango_engine_confirmation_get_url (asked), ==, f->url);
  g_assert_cmpstr (morango_engine_confirmation_get_root_id (asked), ==, f->root_id);
  g_assert_cmpstr (morango_engine_confirmation_get_fingerprint (asked), ==, f->root_key_fingerprint);
  g_assert_cmpstr (morango_engine_confirmation_get_profile (asked), ==, "facilitydata");
  g_assert_cmpstr (morango_engine_confirmation_get_scope_definition (asked), ==, "full-facility");
  g_assert_nonnull (strstr (morango_engine_confirmation_get_scope_params (asked), f->root_id));
  pin = pin_of (f);
  g_assert_cmpstr (pin, ==, f->fingerprint);

  /* The pin is enough now: no question, the data comes. */
  g_assert_true (sync_with (f, NULL, &result, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (f->tls_asked, ==, 0);
  g_assert_cmpint (result.records_pulled, ==, 1 + N_LEARNERS);
  g_assert_cmpint (records_in_c (f), ==, 1 + N_LEARNERS);

  /* The server's key replaced: same address, new certificate, and a
   * newcomer on the server that must not reach C. */
  old_fingerprint = g_strdup (f->fingerprint);
  morango_engine_stop_serving (f->s);
  g_assert_cmpint (g_unlink (tls_dir_key), ==, 0);
  g_assert_cmpint (g_unlink (tls_dir_cert), ==, 0);
  {
    g_autoptr(MorangoStore) s = open_folder (f->dir_s);

    newcomer = add_learner (f, s, "newcomer");
  }
  serve (f, TRUE, f->port);
  g_assert_cmpstr (f->fingerprint, !=, old_fingerprint);
  server_sessions = count (f->dir_s, "SELECT count(*) FROM morango_syncsession", NULL);

  g_assert_false (sync_with (f, NULL, &result, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_PIN_MISMATCH);
  g_assert_nonnull (strstr (error->message, old_fingerprint));
  g_assert_nonnull (strstr (error->message, f->fingerprint));
  g_clear_error (&error);
  g_assert_cmpuint (f->tls_asked, ==, 0);
  g_assert_cmpint (count (f->dir_c, "SELECT count(*) FROM morango_store WHERE id = ?", newcomer), ==, 0);
  g_assert_cmpint (records_in_c (f), ==, 1 + N_LEARNERS);
  g_assert_cmpint (count (f->dir_s, "SELECT count(*) FROM morango_syncsession", NULL), ==, server_sessions);
  g_clear_pointer (&pin, g_free);
  pin = pin_of (f);
  g_assert_cmpstr (pin, ==, old_fingerprint);

  /* The old fingerprint given explicitly is refused the same way. */
  g_assert_false (sync_with (f, old_fingerprint, &result, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_PIN_MISMATCH);
  g_clear_error (&error);

  /* The new one, given by the user, is pinned instead. */
  g_assert_true (sync_with (f, f->fingerprint, &result, &error));
  g_assert_no_error (error);
  g_assert_cmpint (count (f->dir_c, "SELECT count(*) FROM morango_store WHERE id = ?", newcomer), ==, 1);
  g_clear_pointer (&pin, g_free);
  pin = pin_of (f);
  g_assert_cmpstr (pin, ==, f->fingerprint);
}

/* First contact without a fingerprint: the user is asked, on this
 * thread, and the engine waits for the answer given later. */
static void
test_https_first_contact (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *pin = NULL;
  MorangoEngineConfirmation *asked;

  /* Refused: nothing is stored. */
  f->accept_tls = FALSE;
  id = pair (f, NULL, NULL, NULL, TRUE, NULL, &error);
  g_assert_null (id);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_CONFIRMED);
  g_clear_error (&error);
  g_assert_cmpuint (f->tls_asked, ==, 1);
  g_assert_cmpuint (f->root_asked, ==, 0);
  asked = g_ptr_array_index (f->seen, 0);
  g_assert_cmpint (morango_engine_confirmation_get_kind (asked), ==, MORANGO_ENGINE_CONFIRM_TLS_CERTIFICATE);
  g_assert_cmpstr (morango_engine_confirmation_get_url (asked), ==, f->url);
  g_assert_cmpstr (morango_engine_confirmation_get_fingerprint (asked), ==, f->fingerprint);
  g_assert_null (morango_engine_confirmation_get_root_id (asked));
  assert_nothing_stored (f);

  /* No way to ask: refused too. */
  id = pair (f, NULL, NULL, NULL, FALSE, NULL, &error);
  g_assert_null (id);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_CONFIRMED);
  g_clear_error (&error);
  assert_nothing_stored (f);

  /* Accepted: asked once, pinned. */
  f->accept_tls = TRUE;
  id = pair (f, NULL, NULL, NULL, TRUE, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (id);
  g_assert_cmpuint (f->tls_asked, ==, 2);
  g_assert_cmpuint (f->root_asked, ==, 1);
  pin = pin_of (f);
  g_assert_cmpstr (pin, ==, f->fingerprint);
}

/* Pairing refused at the root's confirmation: nothing stored on either
 * side; a question dropped unanswered is a no; a root already trusted is
 * not asked about again.  Over plain HTTP: the root's question does not
 * depend on TLS. */
static void
test_pair_root_refused (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *again = NULL;
  g_autoptr(JsonObject) learner = json_object_new ();
  gint64 server_certs = count (f->dir_s, "SELECT count(*) FROM morango_certificate", NULL);

  g_assert_true (g_str_has_prefix (f->url, "http://"));
  f->accept_root = FALSE;
  id = pair (f, NULL, NULL, NULL, TRUE, NULL, &error);
  g_assert_null (id);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_CONFIRMED);
  g_clear_error (&error);
  g_assert_cmpuint (f->root_asked, ==, 1);
  g_assert_cmpuint (f->tls_asked, ==, 0);
  assert_nothing_stored (f);
  g_assert_cmpint (count (f->dir_s, "SELECT count(*) FROM morango_certificate", NULL), ==, server_certs);

  f->drop_unanswered = TRUE;
  id = pair (f, NULL, NULL, NULL, TRUE, NULL, &error);
  g_assert_null (id);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_CONFIRMED);
  g_clear_error (&error);
  g_assert_cmpuint (f->dropped, ==, 1);
  assert_nothing_stored (f);
  f->drop_unanswered = FALSE;

  f->accept_root = TRUE;
  id = pair (f, NULL, NULL, NULL, TRUE, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (f->root_asked, ==, 2);
  {
    g_autoptr(MorangoStore) c = open_folder (f->dir_c);

    g_assert_true (morango_trust_is_trusted (morango_store_get_db (c), f->root_id));
  }

  /* Trusted already: a second pairing asks nothing. */
  {
    g_autoptr(MorangoStore) s = open_folder (f->dir_s);
    g_autofree char *user = add_learner (f, s, "solo");

    json_object_set_string_member (learner, "user_id", user);
  }
  again = pair (f, "single-user", learner, NULL, TRUE, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (again);
  g_assert_cmpuint (f->root_asked, ==, 2);

  /* A fingerprint cannot be checked over plain HTTP. */
  g_assert_false (sync_with (f, f->root_key_fingerprint, NULL, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
}

/* A root whose signature does not hold is refused before the user is
 * asked about it: what is shown must be what it claims to be. */
static void
test_pair_forged_root (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoKey) key = morango_key_generate (NULL);
  g_autoptr(MorangoKey) other = morango_key_generate (NULL);
  g_autofree char *forged_id = morango_certificate_compute_id (morango_key_get_public_string (key),
                                                               "facilitydata", "forged");
  g_autofree char *params = g_strdup_printf ("{\"dataset_id\": \"%s\"}", forged_id);
  g_autoptr(MorangoCertificate) forged = morango_test_forge (NULL, NULL, "facilitydata", "forged",
                                                             "full-facility", params, key, other);
  g_autofree char *id = NULL;
  GAsyncResult *result = NULL;
  MorangoEnginePairOptions options = {
    .scope_definition = "full-facility", .parent_id = forged_id, .password = PASSWORD,
    .confirm = confirm, .confirm_data = f,
  };

  {
    g_autoptr(MorangoStore) s = open_folder (f->dir_s);

    g_assert_true (morango_certificate_set_private_key (forged, key, &error));
    g_assert_true (morango_certificate_save (forged, morango_store_get_db (s), &error));
    g_assert_no_error (error);
  }
  morango_engine_pair_async (f->c, f->url, &options, NULL, got, &result);
  id = morango_engine_pair_finish (f->c, await (&result), &error);
  g_object_unref (result);
  g_assert_null (id);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_SIGNATURE_INVALID);
  g_assert_cmpuint (f->root_asked, ==, 0);
  assert_nothing_stored (f);
}

/* A cancel while the question is open ends the wait: nothing is
 * stored, and a sync is recorded as cancelled. */
static void
test_cancelled_while_asking (Fixture       *f,
                             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GCancellable) sync_cancellable = g_cancellable_new ();
  g_autofree char *id = NULL;
  g_autofree char *last = NULL;

  f->cancel_on_ask = cancellable;
  id = pair (f, NULL, NULL, NULL, TRUE, cancellable, &error);
  g_assert_null (id);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_cmpuint (f->seen->len, ==, 1);
  assert_nothing_stored (f);
  /* An answer after the fact changes nothing. */
  morango_engine_confirmation_reply (f->pending, TRUE);
  assert_nothing_stored (f);
  g_clear_object (&f->pending);

  /* Paired, but its pin dropped: the next sync asks again. */
  f->cancel_on_ask = NULL;
  id = pair (f, NULL, NULL, f->fingerprint, TRUE, NULL, &error);
  g_assert_no_error (error);
  {
    g_autoptr(MorangoStore) c = open_folder (f->dir_c);
    g_autoptr(MorangoKnownPeer) known = morango_known_peer_lookup_address (c, f->url, &error);

    g_assert_no_error (error);
    g_assert_true (morango_known_peer_set_tls_fingerprint (c, known->id, NULL, &error));
    g_assert_no_error (error);
  }
  f->cancel_on_ask = sync_cancellable;
  g_assert_false (sync_with (f, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (f->seen->len, ==, 3);
  {
    g_autoptr(MorangoStore) c = open_folder (f->dir_c);

    g_assert_true (morango_db_query_text (morango_store_get_db (c), &last, NULL,
                                          "SELECT result FROM morango_sync_history ORDER BY id DESC LIMIT 1", ""));
  }
  g_assert_cmpstr (last, ==, "cancelled");
  g_assert_cmpint (records_in_c (f), ==, 0);
}

/* Pushing a certificate to an https:// peer (§7.8 b) is held to the
 * same pin as pairing: a wrong fingerprint or a refused first contact
 * sends nothing; an accepted one is pinned. */
static void
test_push_pinned (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoCertificate) own = NULL;
  g_autofree char *own_id = NULL;
  g_autofree char *pushed = NULL;
  g_autofree char *pin = NULL;
  GAsyncResult *result = NULL;
  MorangoEngineServeOptions serve_options = {
    .address = "127.0.0.1", .port = f->port, .tls = TRUE,
    .allow_certificate_push = TRUE, .accept_new_roots = TRUE,
  };
  MorangoEnginePairOptions options = {
    .scope_definition = "full-facility",
    .push = TRUE,
    .confirm = confirm,
    .confirm_data = f,
  };
  const char *wrong = "SHA256:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:"
                      "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff";

  /* C holds a root of its own; S takes pushed chains. */
  {
    g_autoptr(MorangoStore) c = open_folder (f->dir_c);

    own = morango_certificate_create_root (morango_store_get_db (c), "full-facility", NULL, NULL, &error);
    g_assert_no_error (error);
    own_id = g_strdup (morango_certificate_get_id (own));
  }
  morango_engine_stop_serving (f->s);
  morango_engine_serve_async (f->s, &serve_options, NULL, got, &result);
  g_assert_true (morango_engine_serve_finish (f->s, await (&result), &error));
  g_assert_no_error (error);
  g_clear_object (&result);

  /* Another certificate than the one expected: refused before sending. */
  options.expect_fingerprint = wrong;
  morango_engine_pair_async (f->c, f->url, &options, NULL, got, &result);
  pushed = morango_engine_pair_finish (f->c, await (&result), &error);
  g_clear_object (&result);
  g_assert_null (pushed);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_PIN_MISMATCH);
  g_clear_error (&error);
  g_assert_cmpint (count (f->dir_s, "SELECT count(*) FROM morango_certificate WHERE id = ?", own_id), ==, 0);

  /* First contact refused by the user: nothing sent either. */
  options.expect_fingerprint = NULL;
  f->accept_tls = FALSE;
  morango_engine_pair_async (f->c, f->url, &options, NULL, got, &result);
  pushed = morango_engine_pair_finish (f->c, await (&result), &error);
  g_clear_object (&result);
  g_assert_null (pushed);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_CONFIRMED);
  g_clear_error (&error);
  g_assert_cmpuint (f->tls_asked, ==, 1);
  g_assert_cmpint (count (f->dir_s, "SELECT count(*) FROM morango_certificate WHERE id = ?", own_id), ==, 0);

  /* Accepted: the chain reaches S and the fingerprint is pinned. */
  f->accept_tls = TRUE;
  morango_engine_pair_async (f->c, f->url, &options, NULL, got, &result);
  pushed = morango_engine_pair_finish (f->c, await (&result), &error);
  g_clear_object (&result);
  g_assert_no_error (error);
  g_assert_nonnull (pushed);
  g_assert_cmpuint (f->tls_asked, ==, 2);
  g_assert_cmpint (count (f->dir_s, "SELECT count(*) FROM morango_certificate WHERE id = ?", own_id), ==, 1);
  g_assert_cmpint (count (f->dir_s, "SELECT count(*) FROM morango_certificate WHERE id = ?", pushed), ==, 1);
  pin = pin_of (f);
  g_assert_cmpstr (pin, ==, f->fingerprint);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  main_thread = g_thread_self ();

  g_test_add_func ("/tls/fingerprint/normalize", test_fingerprint_normalize);
  g_test_add_func ("/tls/certificate/ensure", test_certificate_ensure);
  g_test_add ("/tls/engine/https-pinned", Fixture, GINT_TO_POINTER (TRUE),
              fixture_set_up, test_https_pinned, fixture_tear_down);
  g_test_add ("/tls/engine/first-contact", Fixture, GINT_TO_POINTER (TRUE),
              fixture_set_up, test_https_first_contact, fixture_tear_down);
  g_test_add ("/tls/engine/root-refused", Fixture, GINT_TO_POINTER (FALSE),
              fixture_set_up, test_pair_root_refused, fixture_tear_down);
  g_test_add ("/tls/engine/forged-root", Fixture, GINT_TO_POINTER (FALSE),
              fixture_set_up, test_pair_forged_root, fixture_tear_down);
  g_test_add ("/tls/engine/cancelled-while-asking", Fixture, GINT_TO_POINTER (TRUE),
              fixture_set_up, test_cancelled_while_asking, fixture_tear_down);
  g_test_add ("/tls/engine/push-pinned", Fixture, GINT_TO_POINTER (TRUE),
              fixture_set_up, test_push_pinned, fixture_tear_down);
  return g_test_run ();
}
