/* test-certificates.c: certificates, chains, trust and nonces
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "morango-certificate-request.h"
#include "morango-certificate.h"
#include "morango-chain.h"
#include "morango-json.h"
#include "morango-nonce.h"
#include "morango-shared-key.h"
#include "morango-test-util.h"
#include "morango-trust.h"
#include "test-keys-data.h"

static JsonObject *vectors;   /* certificates.json */

static MorangoKey *
vector_key (guint index)
{
  static MorangoKey *keys[8];
  JsonArray *arr = json_object_get_array_member (vectors, "keys");

  g_assert_cmpuint (index, <, G_N_ELEMENTS (keys));
  if (keys[index] == NULL)
    for (guint i = 0; i < json_array_get_length (arr); i++)
      {
        JsonObject *k = json_array_get_object_element (arr, i);
        g_autoptr(GError) error = NULL;

        if ((guint) json_object_get_int_member (k, "key_index") != index)
          continue;
        keys[index] = morango_key_new_from_private_pem (json_object_get_string_member (k, "private_key_pem"),
                                                        &error);
        g_assert_no_error (error);
        g_assert_cmpstr (morango_key_get_public_string (keys[index]), ==,
                         json_object_get_string_member (k, "public_key_string"));
      }
  g_assert_nonnull (keys[index]);
  return keys[index];
}

/* A fresh database holding the vectors' scope definitions. */
static MorangoDb *
new_db (void)
{
  g_autofree char *dir = morango_test_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "morango.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoDb) db = morango_db_open (path, &error);
  JsonArray *defs = json_object_get_array_member (vectors, "scope_definitions");

  g_assert_no_error (error);
  for (guint i = 0; i < json_array_get_length (defs); i++)
    {
      g_autoptr(MorangoScopeDefinition) def =
        morango_scope_definition_new_from_json (json_array_get_object_element (defs, i), &error);
      g_assert_no_error (error);
      g_assert_true (morango_scope_definition_save (def, db, &error));
      g_assert_no_error (error);
    }
  return g_steal_pointer (&db);
}

/* Every certificate of the vectors' two chains, as API objects. */
static GPtrArray *
vector_chain_certs (void)
{
  JsonArray *chains = json_object_get_array_member (vectors, "chains");
  GPtrArray *out = g_ptr_array_new ();

  for (guint i = 0; i < json_array_get_length (chains); i++)
    {
      JsonArray *certs = json_object_get_array_member (json_array_get_object_element (chains, i),
                                                       "certificates");
      for (guint j = 0; j < json_array_get_length (certs); j++)
        g_ptr_array_add (out, json_array_get_object_element (certs, j));
    }
  return out;
}

static JsonObject *
vector_cert (const char *id)
{
  g_autoptr(GPtrArray) all = vector_chain_certs ();

  for (guint i = 0; i < all->len; i++)
    if (g_str_equal (json_object_get_string_member (g_ptr_array_index (all, i), "id"), id))
      return g_ptr_array_index (all, i);
  g_assert_not_reached ();
}

/* Stores a vector certificate as is, without any check. */
static void
preload (MorangoDb  *db,
         const char *id)
{
  JsonObject *v = vector_cert (id);
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoCertificate) c =
    morango_certificate_new_from_json (json_object_get_object_member (v, "api_object"), &error);

  g_assert_no_error (error);
  g_assert_true (morango_certificate_save (c, db, &error));
  g_assert_no_error (error);
}

static void
trust_vector_roots (MorangoDb *db)
{
  JsonArray *chains = json_object_get_array_member (vectors, "chains");

  for (guint i = 0; i < json_array_get_length (chains); i++)
    {
      JsonArray *certs = json_object_get_array_member (json_array_get_object_element (chains, i),
                                                       "certificates");
      const char *root = json_object_get_string_member (json_array_get_object_element (certs, 0), "id");
      g_autoptr(GError) error = NULL;

      g_assert_true (morango_trust_add_root (db, root, "test vectors", &error));
      g_assert_no_error (error);
    }
}

static int
cmp_strp (gconstpointer a,
          gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static char *
stored_ids (MorangoDb *db)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) all = morango_certificate_list (db, &error);
  g_autoptr(GPtrArray) ids = g_ptr_array_new ();

  g_assert_no_error (error);
  for (guint i = 0; i < all->len; i++)
    g_ptr_array_add (ids, (gpointer) morango_certificate_get_id (g_ptr_array_index (all, i)));
  g_ptr_array_sort (ids, cmp_strp);
  g_ptr_array_add (ids, NULL);
  return g_strjoinv (",", (char **) ids->pdata);
}

static char *
json_string_list (JsonArray *arr)
{
  g_autoptr(GPtrArray) ids = g_ptr_array_new ();

  for (guint i = 0; i < json_array_get_length (arr); i++)
    g_ptr_array_add (ids, (gpointer) json_array_get_string_element (arr, i));
  g_ptr_array_sort (ids, cmp_strp);
  g_ptr_array_add (ids, NULL);
  return g_strjoinv (",", (char **) ids->pdata);
}

/* Morango's exception classes in our codes. */
static int
error_code_for (JsonObject *err)
{
  const char *cls = json_object_get_string_member (err, "class");
  const char *msg = json_object_get_string_member (err, "message");

  if (g_str_equal (cls, "CertificateIDInvalid"))
    return MORANGO_ERROR_CERT_ID_INVALID;
  if (g_str_equal (cls, "CertificateSignatureInvalid"))
    return MORANGO_ERROR_CERT_SIGNATURE_INVALID;
  if (g_str_equal (cls, "CertificateRootScopeInvalid"))
    return MORANGO_ERROR_CERT_ROOT_SCOPE_INVALID;
  if (g_str_equal (cls, "CertificateScopeNotSubset"))
    return MORANGO_ERROR_CERT_SCOPE_NOT_SUBSET;
  if (g_str_equal (cls, "CertificateProfileInvalid"))
    return MORANGO_ERROR_CERT_PROFILE_INVALID;
  if (g_str_equal (cls, "AssertionError"))
    return MORANGO_ERROR_CERT_CHAIN_INVALID;
  if (g_str_equal (cls, "DoesNotExist") && g_str_has_prefix (msg, "ScopeDefinition"))
    return MORANGO_ERROR_UNKNOWN_SCOPE_DEFINITION;
  if (g_str_equal (cls, "DoesNotExist") && g_str_has_prefix (msg, "Certificate"))
    return MORANGO_ERROR_CERT_PARENT_MISSING;
  g_error ("unmapped exception class %s", cls);
}

static void
test_vectors_check_certificate (void)
{
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("certificates.json", "check_certificate");

  for (guint i = 0; i < cases->len; i++)
    {
      JsonObject *c = g_ptr_array_index (cases, i);
      JsonObject *cert = json_object_get_object_member (c, "certificate");
      g_autoptr(MorangoDb) db = new_db ();
      g_autoptr(MorangoCertificate) x = NULL;
      g_autoptr(GError) error = NULL;
      gboolean ok;

      g_test_message ("check_certificate: %s", json_object_get_string_member (c, "name"));
      if (json_object_get_boolean_member (c, "parent_in_db"))
        {
          g_autoptr(GPtrArray) all = vector_chain_certs ();
          for (guint j = 0; j < all->len; j++)
            preload (db, json_object_get_string_member (g_ptr_array_index (all, j), "id"));
        }

      x = morango_certificate_new_from_serialized (json_object_get_string_member (cert, "serialized"),
                                                   json_object_get_string_member (cert, "signature"),
                                                   &error);
      g_assert_no_error (error);
      g_assert_cmpstr (morango_certificate_get_id (x), ==, json_object_get_string_member (cert, "id"));
      ok = morango_certificate_check (x, db, &error);
      if (json_object_get_boolean_member (c, "valid"))
        {
          g_assert_no_error (error);
          g_assert_true (ok);
        }
      else
        {
          JsonObject *err = json_object_get_object_member (c, "error");
          const char *message = json_object_get_string_member (err, "message");

          g_assert_false (ok);
          g_assert_error (error, MORANGO_ERROR, error_code_for (err));
          /* Where Morango's message says something, ours says the same. */
          if (g_str_has_prefix (json_object_get_string_member (err, "module"), "morango.errors") &&
              *message != '\0')
            g_assert_cmpstr (error->message, ==, message);
        }
    }
}

static void
test_vectors_save_certificate_chain (void)
{
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("certificates.json", "save_certificate_chain");

  for (guint i = 0; i < cases->len; i++)
    {
      JsonObject *c = g_ptr_array_index (cases, i);
      const char *name = json_object_get_string_member (c, "name");
      JsonArray *preloaded = json_object_get_array_member (c, "preloaded_ids");
      JsonNode *expected_node = json_object_get_member (c, "expected_last_id");
      const char *expected = JSON_NODE_HOLDS_NULL (expected_node) ? NULL : json_node_get_string (expected_node);
      g_autoptr(MorangoDb) db = new_db ();
      g_autoptr(MorangoCertificate) last = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *before = NULL;
      g_autofree char *after = NULL;
      gboolean python_ok = json_object_get_boolean_member (c, "ok");

      g_test_message ("save_certificate_chain: %s", name);
      trust_vector_roots (db);
      for (guint j = 0; j < json_array_get_length (preloaded); j++)
        preload (db, json_array_get_string_element (preloaded, j));
      if (!python_ok && error_code_for (json_object_get_object_member (c, "error")) ==
          MORANGO_ERROR_UNKNOWN_SCOPE_DEFINITION)
        g_assert_true (morango_db_execute (db, NULL, "DELETE FROM morango_scopedefinition WHERE id = ?",
                                           "s", "single-user"));
      before = stored_ids (db);

      last = morango_certificate_chain_import (db, json_object_get_member (c, "chain"), expected,
                                               MORANGO_CHAIN_IMPORT_DEFAULT, NULL, &error);
      after = stored_ids (db);

      if (strstr (name, "nothing is compared") != NULL)
        {
          /* Quirk 18: Morango returns the stored certificate without
           * looking; we refuse a different text under a stored id. */
          g_assert_true (python_ok);
          g_assert_null (last);
          g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_CONFLICT);
          g_assert_cmpstr (after, ==, before);
        }
      else if (python_ok)
        {
          g_autofree char *want = json_string_list (json_object_get_array_member (c, "stored_ids_after"));

          g_assert_no_error (error);
          g_assert_nonnull (last);
          g_assert_cmpstr (morango_certificate_get_id (last), ==, json_object_get_string_member (c, "returned_id"));
          g_assert_cmpstr (after, ==, want);
        }
      else
        {
          g_assert_null (last);
          g_assert_error (error, MORANGO_ERROR, error_code_for (json_object_get_object_member (c, "error")));
          /* Morango keeps the links saved before the failure
           * (stored_ids_after); we store nothing. */
          g_assert_cmpstr (after, ==, before);
        }
    }
}

/* The vectors' valid chains import, and importing them twice changes
 * nothing. */
static void
test_import_twice (void)
{
  g_autoptr(MorangoDb) db = new_db ();
  JsonArray *chains = json_object_get_array_member (vectors, "chains");

  trust_vector_roots (db);
  for (int round = 0; round < 2; round++)
    for (guint i = 0; i < json_array_get_length (chains); i++)
      {
        JsonArray *certs = json_object_get_array_member (json_array_get_object_element (chains, i), "certificates");
        g_autoptr(JsonArray) api = json_array_new ();
        g_autoptr(JsonNode) node = NULL;
        g_autoptr(MorangoCertificate) last = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *ids = NULL;

        for (guint j = 0; j < json_array_get_length (certs); j++)
          json_array_add_object_element (api, json_object_ref (json_object_get_object_member (
                                                 json_array_get_object_element (certs, j), "api_object")));
        node = json_node_init_array (json_node_alloc (), api);
        last = morango_certificate_chain_import (db, node, NULL, MORANGO_CHAIN_IMPORT_DEFAULT, NULL, &error);
        g_assert_no_error (error);
        ids = stored_ids (db);
        g_assert_cmpuint (strlen (ids), ==, (round == 0 ? (i + 1) * 3 : 6) * 33 - 1);
      }
}

/* A chain whose root nobody trusted is refused, naming the root and the
 * command that trusts it, and nothing is stored. */
static void
test_untrusted_root (void)
{
  g_autoptr(MorangoDb) db = new_db ();
  JsonObject *v = vector_cert ("8fd90aa52ea69b359379227d97f6b712");
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (),
                                                    json_object_get_object_member (v, "api_object"));
  g_autoptr(MorangoCertificate) c = NULL;
  g_autofree char *ids = NULL;

  c = morango_certificate_chain_import (db, node, NULL, MORANGO_CHAIN_IMPORT_DEFAULT, NULL, &error);
  g_assert_null (c);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_UNTRUSTED);
  g_assert_nonnull (strstr (error->message, "8fd90aa52ea69b359379227d97f6b712"));
  /* The engine names no command: each program adds its own hint. */
  g_assert_null (strstr (error->message, "morango"));
  ids = stored_ids (db);
  g_assert_cmpstr (ids, ==, "");
  g_clear_error (&error);

  /* Trusting it on import (what `cert trust` does) lets it in. */
  c = morango_certificate_chain_import (db, node, NULL, MORANGO_CHAIN_IMPORT_TRUST_ROOT, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (morango_trust_is_trusted (db, "8fd90aa52ea69b359379227d97f6b712"));
}

static gint64
count_certificates (MorangoDb *db)
{
  g_autoptr(GError) error = NULL;
  gint64 n = -1;

  g_assert_true (morango_db_query_int64 (db, &n, NULL, &error,
                                         "SELECT count(*) FROM morango_certificate", ""));
  g_assert_no_error (error);
  return n;
}

/* A save failing at any point of a chain's import stores nothing: not
 * the certificates saved before it, nor the trust the import was adding
 * to its root.  The failure is injected from the test alone: a
 * temporary trigger on the test's connection refuses the INSERT of the
 * chain's Nth certificate (root, intermediate, leaf), so the engine
 * needs no hook for it. */
static void
test_import_atomic (void)
{
  JsonArray *chains = json_object_get_array_member (vectors, "chains");
  JsonArray *certs = json_object_get_array_member (json_array_get_object_element (chains, 0), "certificates");
  const char *root = json_object_get_string_member (json_array_get_object_element (certs, 0), "id");
  g_autoptr(MorangoDb) db = new_db ();
  g_autoptr(JsonArray) api = json_array_new ();
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(MorangoCertificate) last = NULL;
  g_autoptr(GError) error = NULL;
  gint64 before;

  g_assert_cmpuint (json_array_get_length (certs), ==, 3);
  for (guint j = 0; j < 3; j++)
    {
      JsonObject *v = json_array_get_object_element (certs, j);

      /* Root, intermediate, leaf: each the parent of the next. */
      if (j > 0)
        g_assert_cmpstr (json_object_get_string_member (v, "parent_id"), ==,
                         json_object_get_string_member (json_array_get_object_element (certs, j - 1), "id"));
      json_array_add_object_element (api, json_object_ref (json_object_get_object_member (v, "api_object")));
    }
  node = json_node_init_array (json_node_alloc (), json_array_ref (api));
  before = count_certificates (db);

  for (guint fail = 0; fail < 3; fail++)
    {
      const char *id = json_object_get_string_member (json_array_get_object_element (certs, fail), "id");
      g_autofree char *message = g_strdup_printf ("injected: save %u fails", fail + 1);
      g_autofree char *trigger = g_strdup_printf ("CREATE TEMP TRIGGER fail_save BEFORE INSERT ON morango_certificate "
                                                  "WHEN NEW.id = '%s' "
                                                  "BEGIN SELECT RAISE (ABORT, '%s'); END",
                                                  id, message);

      g_test_message ("save %u of 3 fails", fail + 1);
      g_assert_true (morango_db_exec (db, trigger, &error));
      g_assert_no_error (error);
      last = morango_certificate_chain_import (db, node, NULL, MORANGO_CHAIN_IMPORT_TRUST_ROOT, NULL, &error);
      g_assert_null (last);
      g_assert_nonnull (error);
      g_assert_nonnull (strstr (error->message, message));
      g_clear_error (&error);
      g_assert_true (morango_db_exec (db, "DROP TRIGGER temp.fail_save", &error));
      g_assert_no_error (error);

      g_assert_false (morango_db_in_transaction (db));
      g_assert_cmpint (count_certificates (db), ==, before);
      g_assert_false (morango_trust_is_trusted (db, root));
    }

  /* Without the failure, the same chain imports whole. */
  last = morango_certificate_chain_import (db, node, NULL, MORANGO_CHAIN_IMPORT_TRUST_ROOT, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (last);
  g_assert_cmpstr (morango_certificate_get_id (last), ==,
                   json_object_get_string_member (json_array_get_object_element (certs, 2), "id"));
  g_assert_cmpint (count_certificates (db), ==, before + 3);
  g_assert_true (morango_trust_is_trusted (db, root));
}

/* What a monitor heard of a chain import, and when it cancelled it. */
typedef struct {
  guint   cancel_at_report;   /* 0: never */
  gboolean cancel_at_commit;
  guint   reports;
  gint64  done;
  gint64  total;
  gboolean cancelled;
  guint   reports_after_cancel;
} ImportProbe;

static void
import_progress (MorangoMonitor        *monitor,
                 const MorangoProgress *p,
                 gpointer               user_data)
{
  ImportProbe *probe = user_data;

  if (probe->cancelled)
    {
      probe->reports_after_cancel++;
      return;
    }
  g_assert_cmpstr (p->stage, ==, "chain-import");
  g_assert_cmpint (p->done, >=, probe->done);
  probe->done = p->done;
  probe->total = p->total;
  if (++probe->reports == probe->cancel_at_report)
    {
      probe->cancelled = TRUE;
      morango_monitor_cancel (monitor);
    }
}

static gboolean
import_fault (MorangoMonitor  *monitor,
              const char      *point,
              gint64           done,
              gpointer         user_data,
              GError         **error)
{
  ImportProbe *probe = user_data;

  if (probe->cancel_at_commit && g_str_equal (point, "commit") && !probe->cancelled)
    {
      probe->cancelled = TRUE;
      morango_monitor_cancel (monitor);
    }
  return TRUE;
}

static MorangoMonitor *
import_monitor (ImportProbe *probe)
{
  MorangoMonitor *monitor = morango_monitor_new (NULL);

  morango_monitor_set_interval (monitor, 1);
  morango_monitor_set_progress_func (monitor, import_progress, probe, NULL);
  morango_monitor_set_fault_func (monitor, import_fault, probe, NULL);
  return monitor;
}

/* A chain import cancelled before it starts, at any report while it
 * checks the certificates, or once it has saved them and would commit,
 * stores nothing (not even the trust it was adding) and hears nothing
 * after the cancel; then it imports whole. */
static void
test_import_cancel (void)
{
  JsonArray *chains = json_object_get_array_member (vectors, "chains");
  JsonArray *certs = json_object_get_array_member (json_array_get_object_element (chains, 0), "certificates");
  const char *root = json_object_get_string_member (json_array_get_object_element (certs, 0), "id");
  g_autoptr(MorangoDb) db = new_db ();
  g_autoptr(JsonArray) api = json_array_new ();
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) error = NULL;
  gint64 before;

  for (guint j = 0; j < json_array_get_length (certs); j++)
    json_array_add_object_element (api, json_object_ref (json_object_get_object_member (
      json_array_get_object_element (certs, j), "api_object")));
  node = json_node_init_array (json_node_alloc (), json_array_ref (api));
  before = count_certificates (db);

  /* 0: cancelled before; 1..4: at the first report (the start) and after
   * each of the three certificates checked; 5: before the commit. */
  for (guint how = 0; how <= 5; how++)
    {
      ImportProbe probe = { 0, };
      g_autoptr(MorangoMonitor) monitor = import_monitor (&probe);
      g_autoptr(MorangoCertificate) last = NULL;

      if (how == 0)
        {
          probe.cancelled = TRUE;
          morango_monitor_cancel (monitor);
        }
      else if (how <= 4)
        probe.cancel_at_report = how;
      else
        probe.cancel_at_commit = TRUE;
      last = morango_certificate_chain_import (db, node, NULL, MORANGO_CHAIN_IMPORT_TRUST_ROOT, monitor,
                                               &error);
      g_assert_null (last);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_clear_error (&error);
      g_assert_cmpuint (probe.reports_after_cancel, ==, 0);
      g_assert_cmpuint (probe.reports, ==, how == 5 ? 4 : how);
      g_assert_false (morango_db_in_transaction (db));
      g_assert_cmpint (count_certificates (db), ==, before);
      g_assert_false (morango_trust_is_trusted (db, root));
    }

  {
    ImportProbe probe = { 0, };
    g_autoptr(MorangoMonitor) monitor = import_monitor (&probe);
    g_autoptr(MorangoCertificate) last = morango_certificate_chain_import (db, node, NULL,
                                                                           MORANGO_CHAIN_IMPORT_TRUST_ROOT,
                                                                           monitor, &error);

    g_assert_no_error (error);
    g_assert_nonnull (last);
    /* The start, each certificate, the end. */
    g_assert_cmpuint (probe.reports, ==, 5);
    g_assert_cmpint (probe.done, ==, 3);
    g_assert_cmpint (probe.total, ==, 3);
    g_assert_cmpint (count_certificates (db), ==, before + 3);
    g_assert_true (morango_trust_is_trusted (db, root));
  }
}

/* --- Certificates we make ---------------------------------------- */


typedef struct {
  MorangoDb          *db;
  MorangoCertificate *root;    /* root_scope, key 4, owned */
  MorangoCertificate *child;   /* subset_scope, key 5, owned */
  char               *root_params;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *child_params = NULL;

  f->db = new_db ();
  f->root = morango_certificate_create_root (f->db, "root_scope", NULL, vector_key (4), &error);
  g_assert_no_error (error);
  f->root_params = g_strdup (morango_certificate_get_scope_params (f->root));
  child_params = g_strdup_printf ("{\"user\": \"%s\", \"sub\": \"s1\"}", morango_certificate_get_id (f->root));
  f->child = morango_certificate_issue (f->db, f->root, "subset_scope", -1, child_params, vector_key (5), NULL, &error);
  g_assert_no_error (error);
  g_assert_true (morango_certificate_save (f->child, f->db, &error));
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->child);
  g_clear_object (&f->root);
  g_clear_object (&f->db);
  g_free (f->root_params);
}

static void
test_create_root (Fixture *f, gconstpointer data)
{
  g_autofree char *expected_params = g_strdup_printf ("{\"user\": \"%s\"}", morango_certificate_get_id (f->root));
  g_autofree char *expected_id = morango_certificate_compute_id (morango_key_get_public_string (vector_key (4)),
                                                                 "facilitydata", "");
  g_autofree char *expected_text = NULL;
  g_autoptr(MorangoCertificate) loaded = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpstr (morango_certificate_get_id (f->root), ==, expected_id);
  g_assert_cmpstr (morango_certificate_get_scope_params (f->root), ==, expected_params);
  g_assert_true (morango_certificate_is_root (f->root));
  g_assert_true (morango_trust_is_trusted (f->db, expected_id));
  /* The text Python's json.dumps would write, key for key. */
  expected_text = g_strdup_printf ("{\"id\": \"%s\", \"parent_id\": null, \"profile\": \"facilitydata\", "
                                   "\"salt\": \"\", \"scope_definition_id\": \"root_scope\", \"scope_version\": 1, "
                                   "\"scope_params\": \"{\\\"user\\\": \\\"%s\\\"}\", \"public_key_string\": \"%s\"}",
                                   expected_id, expected_id, morango_key_get_public_string (vector_key (4)));
  g_assert_cmpstr (morango_certificate_get_serialized (f->root), ==, expected_text);

  loaded = morango_certificate_load (f->db, expected_id, &error);
  g_assert_no_error (error);
  g_assert_true (morango_certificate_has_private_key (loaded));
  g_assert_true (morango_certificate_check (loaded, f->db, &error));
  g_assert_no_error (error);

  /* single-user has no primary scope param: no root from it. */
  {
    g_autoptr(MorangoCertificate) bad = morango_certificate_create_root (f->db, "single-user", NULL,
                                                                         vector_key (6), &error);
    g_assert_null (bad);
    g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  }
}

/* Made with the same keys, params and salts, our certificates are
 * Morango's byte for byte: the same signed text, the same signature. */
static void
test_same_as_morango (void)
{
  JsonArray *chains = json_object_get_array_member (vectors, "chains");
  g_autoptr(MorangoDb) db = new_db ();

  for (guint i = 0; i < json_array_get_length (chains); i++)
    {
      JsonArray *certs = json_object_get_array_member (json_array_get_object_element (chains, i), "certificates");
      g_autoptr(MorangoCertificate) parent = NULL;

      for (guint j = 0; j < json_array_get_length (certs); j++)
        {
          JsonObject *v = json_array_get_object_element (certs, j);
          MorangoKey *key = vector_key (json_object_get_int_member (v, "key_index"));
          g_autoptr(MorangoCertificate) ours = NULL;
          g_autoptr(GError) error = NULL;
          g_autoptr(JsonObject) api = NULL;
          g_autoptr(JsonNode) api_node = NULL;
          g_autoptr(JsonNode) want_node = NULL;

          if (j == 0)
            {
              /* The root's params are its primary key alone here. */
              g_autoptr(JsonObject) want = morango_json_parse_object (json_object_get_string_member (v, "scope_params"),
                                                                      "params", &error);
              g_assert_no_error (error);
              g_assert_cmpuint (json_object_get_size (want), ==, 1);
              ours = morango_certificate_create_root (db, json_object_get_string_member (v, "scope_definition_id"),
                                                      NULL, key, &error);
            }
          else
            {
              ours = morango_certificate_issue (db, parent, json_object_get_string_member (v, "scope_definition_id"),
                                                json_object_get_int_member (v, "scope_version"),
                                                json_object_get_string_member (v, "scope_params"), key,
                                                json_object_get_string_member (v, "salt"), &error);
              g_assert_no_error (error);
              g_assert_true (morango_certificate_save (ours, db, &error));
            }
          g_assert_no_error (error);
          g_assert_cmpstr (morango_certificate_get_id (ours), ==, json_object_get_string_member (v, "id"));
          g_assert_cmpstr (morango_certificate_get_serialized (ours), ==, json_object_get_string_member (v, "serialized"));
          g_assert_cmpstr (morango_certificate_get_signature (ours), ==, json_object_get_string_member (v, "signature"));

          /* The API object carries the same values as Morango's. */
          api = morango_certificate_to_json (ours);
          api_node = json_node_init_object (json_node_alloc (), api);
          want_node = json_node_init_object (json_node_alloc (), json_object_get_object_member (v, "api_object"));
          g_assert_true (morango_test_json_equal (api_node, want_node));

          g_set_object (&parent, ours);
        }
    }
}

/* Our chain goes out as JSON and comes back into another device,
 * validated by the same rules, without private keys. */
static void
test_round_trip (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = morango_certificate_chain_export_text (f->db, morango_certificate_get_id (f->child), &error);
  g_autoptr(MorangoDb) other = new_db ();
  g_autoptr(MorangoCertificate) got = NULL;
  g_autoptr(JsonNode) parsed = NULL;
  g_autoptr(JsonNode) as_string = NULL;

  g_assert_no_error (error);
  g_assert_null (strstr (text, "PRIVATE"));
  g_assert_null (strstr (text, "private"));
  parsed = morango_json_parse (text, "chain", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (json_array_get_length (json_node_get_array (parsed)), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (json_node_get_array (parsed), 0), "id"),
                   ==, morango_certificate_get_id (f->root));

  got = morango_certificate_chain_import_text (other, text, morango_certificate_get_id (f->child),
                                               MORANGO_CHAIN_IMPORT_DEFAULT, NULL, &error);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_UNTRUSTED);
  g_clear_error (&error);

  /* The double-encoded payload form, trusting the root this time. */
  as_string = json_node_init_string (json_node_alloc (), text);
  got = morango_certificate_chain_import (other, as_string, morango_certificate_get_id (f->child),
                                          MORANGO_CHAIN_IMPORT_TRUST_ROOT, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (morango_certificate_has_private_key (got));
  g_assert_cmpstr (morango_certificate_get_serialized (got), ==, morango_certificate_get_serialized (f->child));
  g_assert_cmpstr (morango_certificate_get_signature (got), ==, morango_certificate_get_signature (f->child));
  g_assert_true (morango_certificate_check (got, other, &error));
  g_assert_no_error (error);

  /* Re-importing changes nothing. */
  g_clear_object (&got);
  got = morango_certificate_chain_import_text (other, text, NULL, MORANGO_CHAIN_IMPORT_DEFAULT, NULL, &error);
  g_assert_no_error (error);
  {
    g_autofree char *ids = stored_ids (other);
    g_assert_cmpuint (strlen (ids), ==, 2 * 33 - 1);
  }
}

/* One test per rule of §7.6: each builds a certificate that breaks
 * exactly that rule and passes the others. */
static void
test_rule_id (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoCertificate) x = morango_test_forge ("0123456789abcdef0123456789abcdef", morango_certificate_get_id (f->root),
                                                        "facilitydata", "", "root_scope", f->root_params,
                                                        vector_key (6), vector_key (4));

  g_assert_false (morango_certificate_check (x, f->db, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_ID_INVALID);
}

static void
test_rule_root_signature (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *id = morango_certificate_compute_id (morango_key_get_public_string (vector_key (6)),
                                                        "facilitydata", "");
  g_autofree char *params = g_strdup_printf ("{\"user\": \"%s\"}", id);
  g_autoptr(MorangoCertificate) x = morango_test_forge (NULL, NULL, "facilitydata", "", "root_scope", params,
                                                        vector_key (6), vector_key (7));

  g_assert_false (morango_certificate_check (x, f->db, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_SIGNATURE_INVALID);
}

static void
test_rule_root_scope (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  /* Self-signed, right id, but granting the other root's partitions. */
  g_autoptr(MorangoCertificate) x = morango_test_forge (NULL, NULL, "facilitydata", "", "root_scope", f->root_params,
                                                        vector_key (6), vector_key (6));

  g_assert_false (morango_certificate_check (x, f->db, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_ROOT_SCOPE_INVALID);
}

static void
test_rule_child_signature (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *params = g_strdup_printf ("{\"user\": \"%s\", \"sub\": \"s2\"}", morango_certificate_get_id (f->root));
  g_autoptr(MorangoCertificate) x = morango_test_forge (NULL, morango_certificate_get_id (f->root), "facilitydata", "",
                                                        "subset_scope", params, vector_key (6), vector_key (6));

  g_assert_false (morango_certificate_check (x, f->db, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_SIGNATURE_INVALID);
}

static void
test_rule_subset (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  /* Under the subset_scope child, ask for the whole root scope again. */
  g_autoptr(MorangoCertificate) x = morango_test_forge (NULL, morango_certificate_get_id (f->child), "facilitydata", "",
                                                        "root_scope", f->root_params, vector_key (6), vector_key (5));

  g_assert_false (morango_certificate_check (x, f->db, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_SCOPE_NOT_SUBSET);
}

static void
test_rule_profile (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *params = g_strdup_printf ("{\"user\": \"%s\", \"sub\": \"s2\"}", morango_certificate_get_id (f->root));
  g_autoptr(MorangoCertificate) x = morango_test_forge (NULL, morango_certificate_get_id (f->root), "otherprofile", "",
                                                        "subset_scope", params, vector_key (6), vector_key (4));

  g_assert_false (morango_certificate_check (x, f->db, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_PROFILE_INVALID);
}

/* Not a rule of Morango's: a root's profile is its scope definition's.
 * Everything else about this root is right. */
static void
test_rule_root_profile (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *id = morango_certificate_compute_id (morango_key_get_public_string (vector_key (6)),
                                                        "otherprofile", "");
  g_autofree char *params = g_strdup_printf ("{\"user\": \"%s\"}", id);
  g_autoptr(MorangoCertificate) x = morango_test_forge (NULL, NULL, "otherprofile", "", "root_scope", params,
                                                        vector_key (6), vector_key (6));

  g_assert_false (morango_certificate_check (x, f->db, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_PROFILE_INVALID);
  g_assert_nonnull (strstr (error->message, "otherprofile"));
  g_assert_nonnull (strstr (error->message, "facilitydata"));
}

static void
test_rule_parent_missing (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoCertificate) x = morango_test_forge (NULL, "ffffffffffffffffffffffffffffffff", "facilitydata", "",
                                                        "subset_scope", f->root_params, vector_key (6), vector_key (4));

  g_assert_false (morango_certificate_check (x, f->db, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_PARENT_MISSING);
}

/* Issuing a wider scope than the parent holds is refused. */
static void
test_scope_escalation (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoCertificate) x = NULL;

  x = morango_certificate_issue (f->db, f->child, "root_scope", -1, f->root_params, vector_key (6), NULL, &error);
  g_assert_null (x);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_SCOPE_NOT_SUBSET);
  g_clear_error (&error);

  /* An equal scope is a subset. */
  x = morango_certificate_issue (f->db, f->root, "root_scope", -1, f->root_params, vector_key (6), "aa", &error);
  g_assert_no_error (error);
  g_assert_nonnull (x);
  g_clear_object (&x);

  /* Without the parent's private key nothing can be issued. */
  {
    g_autoptr(MorangoCertificate) pub_only =
      morango_certificate_new_from_serialized (morango_certificate_get_serialized (f->root),
                                               morango_certificate_get_signature (f->root), &error);
    g_assert_no_error (error);
    x = morango_certificate_issue (f->db, pub_only, "root_scope", -1, f->root_params, vector_key (6), NULL, &error);
    g_assert_null (x);
    g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED);
  }
}

/* The same id stored with another text or signature is refused. */
static void
test_conflict (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonArray) chain = morango_certificate_chain_export (f->db, morango_certificate_get_id (f->child), &error);
  JsonObject *leaf = json_array_get_object_element (chain, 1);
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(MorangoCertificate) got = NULL;
  g_autofree char *resigned = morango_key_sign (vector_key (4), "something else", -1, NULL);

  g_assert_no_error (error);
  json_object_set_string_member (leaf, "signature", resigned);
  node = json_node_init_array (json_node_alloc (), chain);
  got = morango_certificate_chain_import (f->db, node, NULL, MORANGO_CHAIN_IMPORT_DEFAULT, NULL, &error);
  g_assert_null (got);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_CONFLICT);
}

/* Bad input: a clear error, nothing stored. */
static void
test_bad_input (void)
{
  const char *bad[] = {
    "",
    "not json",
    "42",
    "[]",
    "[42]",
    "[{}]",
    "{\"id\": \"8fd90aa52ea69b359379227d97f6b712\"}",
    "[{\"id\": \"x\", \"serialized\": \"{}\", \"signature\": \"\"}]",
    "[{\"id\": \"x\", \"serialized\": \"not json\", \"signature\": \"\"}]",
    "\"\\\"nested\\\"\"",
  };
  g_autoptr(MorangoDb) db = new_db ();

  trust_vector_roots (db);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MorangoCertificate) c = morango_certificate_chain_import_text (db, bad[i], NULL,
                                                                               MORANGO_CHAIN_IMPORT_DEFAULT, NULL, &error);
      g_autofree char *ids = stored_ids (db);

      g_test_message ("bad input %u: %s", i, error ? error->message : "(none)");
      g_assert_null (c);
      g_assert_nonnull (error);
      g_assert_true (error->domain == MORANGO_ERROR);
      g_assert_cmpstr (ids, ==, "");
    }

  /* A certificate for a 1024-bit key. */
  {
    g_autoptr(JsonObject) o = json_object_new ();
    g_autoptr(JsonObject) api = json_object_new ();
    g_autoptr(JsonNode) node = NULL;
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(MorangoCertificate) c = NULL;
    g_autofree char *ids = NULL;

    json_object_set_string_member (o, "id", "0123456789abcdef0123456789abcdef");
    json_object_set_null_member (o, "parent_id");
    json_object_set_string_member (o, "profile", "facilitydata");
    json_object_set_string_member (o, "salt", "");
    json_object_set_string_member (o, "scope_definition_id", "root_scope");
    json_object_set_int_member (o, "scope_version", 1);
    json_object_set_string_member (o, "scope_params", "{\"user\": \"0123456789abcdef0123456789abcdef\"}");
    json_object_set_string_member (o, "public_key_string", key_1024_spki);
    text = morango_json_dumps_object (o);
    json_object_set_string_member (api, "id", "0123456789abcdef0123456789abcdef");
    json_object_set_string_member (api, "serialized", text);
    json_object_set_string_member (api, "signature", "AAAA");
    node = json_node_init_object (json_node_alloc (), api);
    c = morango_certificate_chain_import (db, node, NULL, MORANGO_CHAIN_IMPORT_TRUST_ROOT, NULL, &error);
    g_assert_null (c);
    g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_KEY_INVALID);
    g_test_message ("%s", error->message);
    ids = stored_ids (db);
    g_assert_cmpstr (ids, ==, "");
  }

  /* Fields missing from the signed text, and a non-base64 signature. */
  {
    JsonObject *v = vector_cert ("8fd90aa52ea69b359379227d97f6b712");
    const char *serialized = json_object_get_string_member (v, "serialized");
    const char *drop[] = { "\"profile\": \"facilitydata\", ", "\"scope_version\": 1, " };

    for (guint i = 0; i < G_N_ELEMENTS (drop); i++)
      {
        g_autoptr(GError) error = NULL;
        g_autoptr(GString) s = g_string_new (serialized);
        g_autoptr(MorangoCertificate) c = NULL;

        g_assert_cmpint (g_string_replace (s, drop[i], "", 1), ==, 1);
        c = morango_certificate_new_from_serialized (s->str, "", &error);
        g_assert_null (c);
        g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
        g_test_message ("%s", error->message);
      }

    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MorangoCertificate) c = morango_certificate_new_from_serialized (serialized, "%%% not base64 %%%", &error);

      g_assert_no_error (error);
      g_assert_false (morango_certificate_check (c, db, &error));
      g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_SIGNATURE_INVALID);
    }
  }
}

static void
assert_mode_0600 (const char *path)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
}

static void
test_backup_restore (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = morango_test_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "child.backup", NULL);
  g_autofree char *text = NULL;
  g_autoptr(MorangoDb) other = new_db ();
  g_autoptr(MorangoCertificate) restored = NULL;
  g_autofree char *sig = NULL;

  /* The database that holds private keys is only readable by its owner. */
  assert_mode_0600 (morango_db_get_path (f->db));

  g_assert_true (morango_certificate_backup_to_file (f->db, morango_certificate_get_id (f->child),
                                                     "s3cret pass", path, &error));
  g_assert_no_error (error);
  assert_mode_0600 (path);
  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  g_assert_null (strstr (text, "RSA PRIVATE KEY"));
  g_assert_nonnull (strstr (text, "ENCRYPTED PRIVATE KEY"));

  restored = morango_certificate_restore (other, text, "wrong", NULL, &error);
  g_assert_null (restored);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED);
  g_clear_error (&error);
  {
    g_autofree char *ids = stored_ids (other);
    g_assert_cmpstr (ids, ==, "");
  }

  /* A forged chain inside the backup fails inside the transaction:
   * nothing stays, and the database is usable afterwards. */
  {
    g_autoptr(JsonObject) forged = morango_json_parse_object (text, "backup", &error);
    JsonObject *first = json_array_get_object_element (json_object_get_array_member (forged, "chain"), 0);
    g_autofree char *bogus = morango_key_sign (vector_key (7), "x", -1, NULL);
    g_autoptr(JsonNode) node = NULL;
    g_autofree char *forged_text = NULL;
    g_autofree char *ids = NULL;

    g_assert_no_error (error);
    json_object_set_string_member (first, "signature", bogus);
    node = json_node_init_object (json_node_alloc (), forged);
    forged_text = morango_json_dumps (node);
    restored = morango_certificate_restore (other, forged_text, "s3cret pass", NULL, &error);
    g_assert_null (restored);
    g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_SIGNATURE_INVALID);
    g_clear_error (&error);
    ids = stored_ids (other);
    g_assert_cmpstr (ids, ==, "");
    g_assert_false (morango_trust_is_trusted (other, morango_certificate_get_id (f->root)));
    g_assert_false (morango_db_in_transaction (other));
  }

  /* A cancelled restore restores nothing. */
  {
    g_autoptr(MorangoMonitor) cancelled = morango_monitor_new (NULL);
    g_autofree char *ids = NULL;

    morango_monitor_cancel (cancelled);
    restored = morango_certificate_restore (other, text, "s3cret pass", cancelled, &error);
    g_assert_null (restored);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_clear_error (&error);
    ids = stored_ids (other);
    g_assert_cmpstr (ids, ==, "");
    g_assert_false (morango_trust_is_trusted (other, morango_certificate_get_id (f->root)));
  }

  restored = morango_certificate_restore (other, text, "s3cret pass", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (morango_certificate_has_private_key (restored));
  g_clear_object (&restored);
  restored = morango_certificate_load (other, morango_certificate_get_id (f->child), &error);
  g_assert_no_error (error);
  g_assert_true (morango_certificate_has_private_key (restored));
  sig = morango_certificate_sign (restored, "n:s", &error);
  g_assert_no_error (error);
  g_assert_true (morango_certificate_verify (f->child, "n:s", sig));
  g_assert_true (morango_trust_is_trusted (other, morango_certificate_get_id (f->root)));

  /* A certificate without its private key has nothing to back up. */
  {
    g_autofree char *none = NULL;
    g_autoptr(MorangoCertificate) pub = morango_certificate_load (other, morango_certificate_get_id (f->root), &error);
    g_assert_no_error (error);
    g_assert_false (morango_certificate_has_private_key (pub));
    none = morango_certificate_backup (other, morango_certificate_get_id (f->root), "x", &error);
    g_assert_null (none);
    g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED);
  }
}

static void
test_list_order (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) all = morango_certificate_list (f->db, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (all->len, ==, 2);
  g_assert_cmpstr (morango_certificate_get_id (g_ptr_array_index (all, 0)), ==, morango_certificate_get_id (f->root));
  g_assert_cmpstr (morango_certificate_get_id (g_ptr_array_index (all, 1)), ==, morango_certificate_get_id (f->child));
}

/* --- Signing requests ----------------------------------------------- */

static guint
count_certs (MorangoDb *db)
{
  gint64 n = -1;
  gboolean found;

  g_assert_true (morango_db_query_int64 (db, &n, &found, NULL, "SELECT count(*) FROM morango_certificate", ""));
  return (guint) n;
}

static void
test_request_issue (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoRandom) random = morango_random_new_seeded (morango_test_seed (11));
  g_autofree char *params = g_strdup_printf ("{\"user\": \"%s\", \"sub\": \"s9\"}",
                                             morango_certificate_get_id (f->root));
  g_autoptr(MorangoCertificateRequest) req = morango_certificate_request_new (f->root, "subset_scope", params,
                                                                             vector_key (6));
  g_autoptr(JsonObject) body = morango_certificate_request_to_json (req);
  g_autoptr(MorangoCertificateRequest) received = morango_certificate_request_new_from_json (body, &error);
  g_autoptr(MorangoCertificate) issued = NULL;
  g_autoptr(MorangoCertificate) accepted = NULL;
  g_autoptr(JsonObject) response = NULL;
  g_autoptr(MorangoDb) client = new_db ();
  g_autoptr(JsonNode) root_node = NULL;
  g_autoptr(MorangoCertificate) imported_root = NULL;

  g_assert_no_error (error);
  issued = morango_certificate_request_issue (f->db, received, random, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (morango_certificate_get_salt (issued)), ==, 32);
  g_assert_false (morango_certificate_has_private_key (issued));
  g_assert_cmpstr (morango_certificate_get_parent_id (issued), ==, morango_certificate_get_id (f->root));
  g_assert_cmpuint (count_certs (f->db), ==, 3);

  /* The requester imports the parent's chain, then takes the answer. */
  root_node = json_node_init_object (json_node_alloc (), morango_certificate_to_json (f->root));
  imported_root = morango_certificate_chain_import (client, root_node, NULL, MORANGO_CHAIN_IMPORT_TRUST_ROOT, NULL, &error);
  g_assert_no_error (error);
  response = morango_certificate_to_json (issued);
  accepted = morango_certificate_request_accept (client, req, response, vector_key (6), &error);
  g_assert_no_error (error);
  g_assert_true (morango_certificate_has_private_key (accepted));
  /* The wrong key for the answer is refused. */
  {
    g_autoptr(MorangoCertificate) wrong = morango_certificate_request_accept (client, req, response, vector_key (7), &error);
    g_assert_null (wrong);
    g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_KEY_INVALID);
    g_clear_error (&error);
  }
}

static void
test_request_refused (Fixture *f, gconstpointer data)
{
  g_autoptr(MorangoRandom) random = morango_random_new_seeded (morango_test_seed (12));
  g_autofree char *sub = g_strdup_printf ("{\"user\": \"%s\", \"sub\": \"s9\"}", morango_certificate_get_id (f->root));
  const char *pub6 = morango_key_get_public_string (vector_key (6));
  struct {
    const char *parent, *profile, *def, *params, *key;
    int code;
  } cases[] = {
    /* wider than the parent */
    { morango_certificate_get_id (f->child), "facilitydata", "root_scope", f->root_params, pub6,
      MORANGO_ERROR_CERT_SCOPE_NOT_SUBSET },
    { morango_certificate_get_id (f->root), "otherprofile", "subset_scope", sub, pub6,
      MORANGO_ERROR_CERT_PROFILE_INVALID },
    { "ffffffffffffffffffffffffffffffff", "facilitydata", "subset_scope", sub, pub6, MORANGO_ERROR_NOT_FOUND },
    { morango_certificate_get_id (f->root), "facilitydata", "nope", sub, pub6, MORANGO_ERROR_UNKNOWN_SCOPE_DEFINITION },
    { morango_certificate_get_id (f->root), "facilitydata", "subset_scope", sub, "garbage", MORANGO_ERROR_KEY_INVALID },
    { morango_certificate_get_id (f->root), "facilitydata", "subset_scope", "{}", pub6, MORANGO_ERROR_PERMISSION_DENIED },
    { morango_certificate_get_id (f->root), "facilitydata", "subset_scope", "not json", pub6, MORANGO_ERROR_INVALID },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      MorangoCertificateRequest req = {
        (char *) cases[i].parent, (char *) cases[i].profile, (char *) cases[i].def, 1,
        (char *) cases[i].params, (char *) cases[i].key,
      };
      g_autoptr(GError) error = NULL;
      g_autoptr(MorangoCertificate) c = morango_certificate_request_issue (f->db, &req, random, &error);

      g_test_message ("request %u: %s", i, error ? error->message : "(none)");
      g_assert_null (c);
      g_assert_error (error, MORANGO_ERROR, cases[i].code);
      g_assert_cmpuint (count_certs (f->db), ==, 2);
    }

  /* A parent whose private key is elsewhere cannot issue. */
  {
    g_autoptr(MorangoDb) other = new_db ();
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), morango_certificate_to_json (f->root));
    g_autoptr(MorangoCertificate) r = morango_certificate_chain_import (other, node, NULL, MORANGO_CHAIN_IMPORT_TRUST_ROOT, NULL, &error);
    MorangoCertificateRequest req = {
      (char *) morango_certificate_get_id (f->root), "facilitydata", "subset_scope", 1, sub, (char *) pub6,
    };
    g_autoptr(MorangoCertificate) c = NULL;

    g_assert_no_error (error);
    c = morango_certificate_request_issue (other, &req, random, &error);
    g_assert_null (c);
    g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED);
  }

  /* A body with a field missing. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonObject) body = json_object_new ();
    g_autoptr(MorangoCertificateRequest) r = NULL;

    json_object_set_string_member (body, "parent", morango_certificate_get_id (f->root));
    r = morango_certificate_request_new_from_json (body, &error);
    g_assert_null (r);
    g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  }
}

/* --- Certificate pushing -------------------------------------------- */

static JsonNode *
push_chain (Fixture            *f,
            MorangoCertificate *x)
{
  g_autoptr(GError) error = NULL;
  JsonArray *chain = morango_certificate_chain_export (f->db, morango_certificate_get_id (f->child), &error);

  g_assert_no_error (error);
  json_array_add_object_element (chain, morango_certificate_to_json (x));
  return json_node_init_array (json_node_alloc (), chain);
}

static void
test_push (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoDb) server = new_db ();
  g_autoptr(MorangoRandom) random = morango_random_new_seeded (morango_test_seed (21));
  g_autoptr(MorangoKey) shared = NULL;
  g_autoptr(MorangoKey) shared_pub = NULL;
  g_autoptr(MorangoKey) again = NULL;
  g_autofree char *nonce = NULL;
  g_autofree char *nonce2 = NULL;
  g_autofree char *leaf = g_strdup_printf ("{\"user\": \"%s\", \"sub\": \"s1\", \"leaf\": \"l\"}",
                                           morango_certificate_get_id (f->root));
  g_autoptr(MorangoCertificate) x = NULL;
  g_autoptr(MorangoCertificate) wide = NULL;
  g_autoptr(MorangoCertificate) got = NULL;
  g_autoptr(JsonNode) chain = NULL;
  gint64 now = g_get_real_time ();

  shared = morango_shared_key_get_or_create (server, FALSE, &error);
  g_assert_no_error (error);
  again = morango_shared_key_get_or_create (server, FALSE, &error);
  g_assert_no_error (error);
  g_assert_true (morango_key_equal_public (shared, again));
  shared_pub = morango_key_new_from_public (morango_key_get_public_string (shared), &error);
  g_assert_no_error (error);

  /* The client issues the server a certificate under its own child. */
  nonce = morango_nonce_create (server, random, "127.0.0.1", now - G_USEC_PER_SEC, NULL, &error);
  g_assert_no_error (error);
  x = morango_certificate_issue (f->db, f->child, "leaf_scope", -1, leaf, shared_pub, nonce, &error);
  g_assert_no_error (error);
  chain = push_chain (f, x);

  /* The server trusts nobody's root yet. */
  got = morango_certificate_accept_pushed (server, chain, now, &error);
  g_assert_null (got);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_UNTRUSTED);
  g_assert_true (g_str_has_prefix (error->message, "Saving certificate chain has failed: "));
  g_clear_error (&error);
  g_assert_cmpuint (count_certs (server), ==, 0);

  g_assert_true (morango_trust_add_root (server, morango_certificate_get_id (f->root), "paired", &error));
  got = morango_certificate_accept_pushed (server, chain, now, &error);
  g_assert_no_error (error);
  g_assert_true (morango_certificate_has_private_key (got));
  g_assert_cmpuint (count_certs (server), ==, 3);
  g_clear_object (&got);

  /* The nonce is spent. */
  got = morango_certificate_accept_pushed (server, chain, now, &error);
  g_assert_null (got);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NONCE_INVALID);
  g_clear_error (&error);

  /* A key that is not the server's shared key. */
  nonce2 = morango_nonce_create (server, random, NULL, now - G_USEC_PER_SEC, NULL, &error);
  {
    g_autoptr(MorangoCertificate) other = morango_certificate_issue (f->db, f->child, "leaf_scope", -1, leaf,
                                                                     vector_key (7), nonce2, &error);
    g_autoptr(JsonNode) c2 = NULL;

    g_assert_no_error (error);
    c2 = push_chain (f, other);
    got = morango_certificate_accept_pushed (server, c2, now, &error);
    g_assert_null (got);
    g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_KEY_INVALID);
    g_clear_error (&error);
  }

  /* Wider than the issuer: refused, and the nonce is spent anyway. */
  {
    g_autoptr(JsonObject) o = json_object_new ();
    g_autoptr(JsonNode) c3 = NULL;
    g_autofree char *text = NULL;
    g_autofree char *sig = NULL;
    g_autofree char *id = morango_certificate_compute_id (morango_key_get_public_string (shared), "facilitydata", nonce2);

    json_object_set_string_member (o, "id", id);
    json_object_set_string_member (o, "parent_id", morango_certificate_get_id (f->child));
    json_object_set_string_member (o, "profile", "facilitydata");
    json_object_set_string_member (o, "salt", nonce2);
    json_object_set_string_member (o, "scope_definition_id", "root_scope");
    json_object_set_int_member (o, "scope_version", 1);
    json_object_set_string_member (o, "scope_params", f->root_params);
    json_object_set_string_member (o, "public_key_string", morango_key_get_public_string (shared));
    text = morango_json_dumps_object (o);
    sig = morango_key_sign (vector_key (5), text, -1, &error);
    wide = morango_certificate_new_from_serialized (text, sig, &error);
    g_assert_no_error (error);
    c3 = push_chain (f, wide);
    got = morango_certificate_accept_pushed (server, c3, now, &error);
    g_assert_null (got);
    g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_CERT_SCOPE_NOT_SUBSET);
    g_clear_error (&error);
    g_assert_cmpuint (count_certs (server), ==, 3);
    g_assert_false (morango_nonce_use (server, nonce2, now, &error));
    g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NONCE_INVALID);
  }
}

static void
test_subtree (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) all = morango_certificate_list_subtree (f->db, morango_certificate_get_id (f->root), TRUE, &error);
  g_autoptr(GPtrArray) under_child = NULL;
  g_autoptr(GPtrArray) none = NULL;

  g_assert_no_error (error);
  g_assert_cmpuint (all->len, ==, 2);
  under_child = morango_certificate_list_subtree (f->db, morango_certificate_get_id (f->child), FALSE, &error);
  g_assert_cmpuint (under_child->len, ==, 1);
  none = morango_certificate_list_subtree (f->db, "ffffffffffffffffffffffffffffffff", FALSE, &error);
  g_assert_cmpuint (none->len, ==, 0);
}

/* --- Nonces -------------------------------------------------------- */

static void
test_nonces (void)
{
  g_autoptr(MorangoDb) db = new_db ();
  g_autoptr(MorangoRandom) random = morango_random_new_seeded (morango_test_seed (7));
  g_autoptr(GError) error = NULL;
  gint64 t0 = G_GINT64_CONSTANT (1700000000) * G_USEC_PER_SEC;
  g_autofree char *ts = NULL;
  g_autofree char *a = morango_nonce_create (db, random, "10.0.0.1", t0, &ts, &error);
  g_autofree char *b = NULL;
  g_autofree char *c = NULL;
  gint64 left = -1;
  gboolean found;

  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (ts, "2023-11-14T22:13:20"));
  g_assert_cmpuint (strlen (a), ==, 32);

  /* Used once within the minute: fine; a second time: refused. */
  g_assert_true (morango_nonce_use (db, a, t0 + 59 * G_USEC_PER_SEC, &error));
  g_assert_no_error (error);
  g_assert_false (morango_nonce_use (db, a, t0 + 59 * G_USEC_PER_SEC, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NONCE_INVALID);
  g_clear_error (&error);

  /* At 60 seconds it has expired, and it is gone afterwards. */
  b = morango_nonce_create (db, random, NULL, t0, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (morango_nonce_use (db, b, t0 + 60 * G_USEC_PER_SEC, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NONCE_INVALID);
  g_clear_error (&error);
  g_assert_true (morango_db_query_int64 (db, &left, &found, NULL, "SELECT count(*) FROM morango_nonce", ""));
  g_assert_cmpint (left, ==, 0);

  /* Never issued, and not yet valid (same instant). */
  g_assert_false (morango_nonce_use (db, "00000000000000000000000000000000", t0, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NONCE_INVALID);
  g_clear_error (&error);
  c = morango_nonce_create (db, random, NULL, t0, NULL, &error);
  g_assert_false (morango_nonce_use (db, c, t0, &error));
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_NONCE_INVALID);
  g_clear_error (&error);

  /* Purging drops only the old ones. */
  g_clear_pointer (&b, g_free);
  g_clear_pointer (&c, g_free);
  b = morango_nonce_create (db, random, NULL, t0, NULL, &error);
  c = morango_nonce_create (db, random, NULL, t0 + 30 * G_USEC_PER_SEC, NULL, &error);
  g_assert_cmpint (morango_nonce_purge (db, t0 + 61 * G_USEC_PER_SEC, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_true (morango_nonce_use (db, c, t0 + 61 * G_USEC_PER_SEC, &error));
  g_assert_no_error (error);
}

int
main (int argc, char *argv[])
{
  g_autoptr(JsonNode) root = NULL;

  g_test_init (&argc, &argv, NULL);
  root = morango_test_load_vectors ("certificates.json");
  vectors = json_node_get_object (root);

  g_test_add_func ("/certificates/vectors/check-certificate", test_vectors_check_certificate);
  g_test_add_func ("/certificates/vectors/save-certificate-chain", test_vectors_save_certificate_chain);
  g_test_add_func ("/certificates/import-twice", test_import_twice);
  g_test_add_func ("/certificates/untrusted-root", test_untrusted_root);
  g_test_add_func ("/certificates/import-atomic", test_import_atomic);
  g_test_add_func ("/certificates/import-cancel", test_import_cancel);
  g_test_add_func ("/certificates/bad-input", test_bad_input);
  g_test_add_func ("/certificates/same-as-morango", test_same_as_morango);
#define FIXTURE(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  FIXTURE ("/certificates/create-root", test_create_root);
  FIXTURE ("/certificates/round-trip", test_round_trip);
  FIXTURE ("/certificates/list-order", test_list_order);
  FIXTURE ("/certificates/rule/id", test_rule_id);
  FIXTURE ("/certificates/rule/root-signature", test_rule_root_signature);
  FIXTURE ("/certificates/rule/root-scope", test_rule_root_scope);
  FIXTURE ("/certificates/rule/child-signature", test_rule_child_signature);
  FIXTURE ("/certificates/rule/subset", test_rule_subset);
  FIXTURE ("/certificates/rule/profile", test_rule_profile);
  FIXTURE ("/certificates/rule/root-profile", test_rule_root_profile);
  FIXTURE ("/certificates/rule/parent-missing", test_rule_parent_missing);
  FIXTURE ("/certificates/scope-escalation", test_scope_escalation);
  FIXTURE ("/certificates/conflict", test_conflict);
  FIXTURE ("/certificates/backup-restore", test_backup_restore);
  FIXTURE ("/certificates/request/issue", test_request_issue);
  FIXTURE ("/certificates/request/refused", test_request_refused);
  FIXTURE ("/certificates/push", test_push);
  FIXTURE ("/certificates/subtree", test_subtree);
  g_test_add_func ("/certificates/nonces", test_nonces);
  return g_test_run ();
}
