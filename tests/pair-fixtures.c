/* pair-fixtures.c: a facility to pair with, for the pairing tests
 *
 * SPDX-License-Identifier: MIT
 */
#include "pair-fixtures.h"

#include "morango-account.h"
#include "morango-certificate.h"
#include "morango-json.h"
#include "morango-store.h"

static void
got (GObject      *source,
     GAsyncResult *result,
     gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static char *
make (MorangoStore *store,
      const char   *model,
      const char   *json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) fields = morango_json_parse_object (json, "fields", &error);
  char *id = NULL;

  g_assert_no_error (error);
  if (!morango_app_create (morango_store_get_app (store), model, fields, &id, &error))
    g_error ("%s %s: %s", model, json, error->message);
  return id;
}

static PairFixture *
fixture_new (const char  *root,
             gboolean     tls,
             char       **fingerprint)
{
  static const char * const all[] = { MORANGO_ACCOUNT_ALL_SCOPES, NULL };
  MorangoEngineServeOptions options = { "127.0.0.1", 0, 0, .tls = tls };
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = NULL;
  g_autoptr(MorangoCertificate) cert = NULL;
  g_autoptr(MorangoHostInfo) host = morango_host_info_new_from_system ();
  g_autoptr(MorangoRandom) random = morango_random_new_secure ();
  g_autofree char *facility = NULL;
  g_autofree char *json = NULL;
  GAsyncResult *result = NULL;
  PairFixture *f = g_new0 (PairFixture, 1);
  MorangoDb *db;
  const char *people[][3] = { { "ana", "Ana Alves", "learner" }, { "ben", "Ben Bello", "learner" },
                              { "carla", "Carla Coach", "coach" } };

  f->dir = g_build_filename (root, "facility", NULL);
  f->engine = morango_engine_new (f->dir, "kolibri-like", &error);
  g_assert_no_error (error);
  store = morango_store_open_folder (f->dir, NULL, host, random, &error);
  g_assert_no_error (error);
  db = morango_store_get_db (store);
  cert = morango_certificate_create_root (db, "full-facility", NULL, NULL, &error);
  g_assert_no_error (error);
  f->dataset = g_strdup (morango_certificate_get_id (cert));
  g_assert_true (morango_account_set_password (db, random, MORANGO_ACCOUNT_ADMIN, PAIR_FIXTURE_PASSWORD,
                                               all, &error));
  g_assert_true (morango_account_set_password (db, random, PAIR_FIXTURE_NOBODY, PAIR_FIXTURE_PASSWORD,
                                               NULL, &error));
  g_assert_no_error (error);
  json = g_strdup_printf ("{\"dataset_id\": \"%s\", \"name\": \"Riverside\"}", f->dataset);
  facility = make (store, "facility", json);
  for (guint i = 0; i < G_N_ELEMENTS (people); i++)
    {
      g_autofree char *row = g_strdup_printf ("{\"dataset_id\": \"%s\", \"facility_id\": \"%s\", "
                                              "\"username\": \"%s\", \"full_name\": \"%s\", \"role\": \"%s\"}",
                                              f->dataset, facility, people[i][0], people[i][1], people[i][2]);
      char *id = make (store, "facilityuser", row);

      if (i < G_N_ELEMENTS (f->learners))
        f->learners[i] = id;
      else
        g_free (id);
    }

  morango_engine_serve_async (f->engine, &options, NULL, got, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (morango_engine_serve_finish (f->engine, result, &error));
  g_assert_no_error (error);
  g_object_unref (result);
  f->url = g_strdup_printf ("%s://127.0.0.1:%u/", tls ? "https" : "http", morango_engine_get_port (f->engine));
  if (fingerprint != NULL)
    *fingerprint = morango_engine_dup_tls_fingerprint (f->engine);
  return f;
}

PairFixture *
pair_fixture_new (const char *root)
{
  return fixture_new (root, FALSE, NULL);
}

PairFixture *
pair_fixture_new_tls (const char  *root,
                      char       **fingerprint)
{
  return fixture_new (root, TRUE, fingerprint);
}

void
pair_fixture_free (PairFixture *f)
{
  if (f == NULL)
    return;
  morango_engine_stop_serving (f->engine);
  g_object_unref (f->engine);
  g_free (f->dir);
  g_free (f->url);
  g_free (f->dataset);
  for (guint i = 0; i < G_N_ELEMENTS (f->learners); i++)
    g_free (f->learners[i]);
  g_free (f);
}
