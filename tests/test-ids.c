/* test-ids.c: identifier rules against the captured vectors (ids.json)
 *
 * SPDX-License-Identifier: MIT
 */
#include "morango-ids.h"
#include "morango-test-util.h"

static void
test_sha2_uuid (void)
{
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("ids.json", "sha2_uuid");

  for (guint i = 0; i < cases->len; i++)
    {
      JsonObject *c = g_ptr_array_index (cases, i);
      JsonArray *args = json_object_get_array_member (c, "args");
      g_autoptr(GPtrArray) parts = g_ptr_array_new ();
      g_autofree char *got = NULL;

      for (guint j = 0; j < json_array_get_length (args); j++)
        g_ptr_array_add (parts, (gpointer) json_array_get_string_element (args, j));
      got = morango_sha2_uuidv ((const char * const *) parts->pdata, parts->len);
      g_assert_cmpstr (got, ==, json_object_get_string_member (c, "result"));
    }
}

static void
test_salted_hash (void)
{
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("ids.json", "salted_hash");

  for (guint i = 0; i < cases->len; i++)
    {
      JsonObject *c = g_ptr_array_index (cases, i);
      g_autofree char *got = morango_salted_hash (json_object_get_string_member (c, "value"));
      g_assert_cmpstr (got, ==, json_object_get_string_member (c, "result"));
    }
}

static void
test_uuid5 (void)
{
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("ids.json", "uuid5_username");

  for (guint i = 0; i < cases->len; i++)
    {
      JsonObject *c = g_ptr_array_index (cases, i);
      g_autofree char *got = morango_uuid5_hex (json_object_get_string_member (c, "namespace"),
                                                json_object_get_string_member (c, "username"));
      g_assert_cmpstr (got, ==, json_object_get_string_member (c, "result"));
    }
}

static void
test_proquint (void)
{
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("ids.json", "proquint");

  for (guint i = 0; i < cases->len; i++)
    {
      JsonObject *c = g_ptr_array_index (cases, i);
      g_autofree char *got = morango_proquint_from_hex (json_object_get_string_member (c, "hex8"));
      g_assert_cmpstr (got, ==, json_object_get_string_member (c, "proquint"));
    }
}

static void
test_instance_id_rule (void)
{
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("ids.json", "instance_id");

  for (guint i = 0; i < cases->len; i++)
    {
      JsonObject *c = g_ptr_array_index (cases, i);
      g_autofree char *sys = morango_salted_hash (json_object_get_string_member (c, "system_id_input"));
      g_autofree char *node = morango_salted_hash (json_object_get_string_member (c, "node_id_input"));
      g_autofree char *id = NULL;
      g_autofree char *hash = NULL;

      g_assert_cmpstr (sys, ==, json_object_get_string_member (c, "system_id"));
      g_assert_cmpstr (node, ==, json_object_get_string_member (c, "node_id"));
      id = morango_sha2_uuid (json_object_get_string_member (c, "database_id"), sys, node, NULL);
      g_assert_cmpstr (id, ==, json_object_get_string_member (c, "instance_id"));
      if (json_object_has_member (c, "instance_hash"))
        {
          hash = morango_proquint_from_hex (id);
          g_assert_cmpstr (hash, ==, json_object_get_string_member (c, "instance_hash"));
        }
    }
}

static char *
getnode_to_mac (const char *text)
{
  /* "0x001122334455 (...)" -> "00:11:22:33:44:55" */
  guint64 v = g_ascii_strtoull (text, NULL, 16);
  return g_strdup_printf ("%02x:%02x:%02x:%02x:%02x:%02x",
                          (guint) (v >> 40) & 0xff, (guint) (v >> 32) & 0xff,
                          (guint) (v >> 24) & 0xff, (guint) (v >> 16) & 0xff,
                          (guint) (v >> 8) & 0xff, (guint) v & 0xff);
}

static void
test_node_id_from_interfaces (void)
{
  g_autoptr(GPtrArray) cases = morango_test_vector_cases ("ids.json", "node_id_from_interfaces");

  for (guint i = 0; i < cases->len; i++)
    {
      JsonObject *c = g_ptr_array_index (cases, i);
      JsonArray *ifs = json_object_get_array_member (c, "interfaces");
      g_autoptr(GArray) arr = g_array_new (FALSE, TRUE, sizeof (MorangoInterface));
      g_autofree char *fallback = getnode_to_mac (json_object_get_string_member (c, "uuid_getnode"));
      g_autofree char *mac = NULL;
      g_autofree char *node = NULL;

      for (guint j = 0; j < json_array_get_length (ifs); j++)
        {
          JsonObject *o = json_array_get_object_element (ifs, j);
          MorangoInterface iface = {
            json_object_get_string_member (o, "device"),
            json_object_get_string_member_with_default (o, "ether", NULL),
          };
          g_array_append_val (arr, iface);
        }
      mac = morango_pick_node_mac ((MorangoInterface *) arr->data, arr->len, fallback);
      node = morango_salted_hash (mac ? mac : "");
      g_test_message ("%s: %s", json_object_get_string_member (c, "name"), mac ? mac : "(none)");
      g_assert_cmpstr (node, ==, json_object_get_string_member (c, "node_id"));
    }
}

static void
test_uuid_normalize (void)
{
  g_autofree char *a = morango_uuid_normalize ("{6B8BD6D2-BFA1-58C4-AAAB-779338A6C3A9}");
  g_autofree char *b = morango_uuid_normalize ("urn:uuid:6b8bd6d2-bfa1-58c4-aaab-779338a6c3a9");
  g_autofree char *c = morango_uuid_normalize ("invalid");
  g_autofree char *d = morango_uuid_normalize ("6b8bd6d2bfa158c4aaab779338a6c3a9aa");

  g_assert_cmpstr (a, ==, "6b8bd6d2bfa158c4aaab779338a6c3a9");
  g_assert_cmpstr (b, ==, "6b8bd6d2bfa158c4aaab779338a6c3a9");
  g_assert_null (c);
  g_assert_null (d);
  g_assert_true (morango_is_hex32 (a));
  g_assert_false (morango_is_hex32 ("6B8BD6D2bfa158c4aaab779338a6c3a9"));
}

static void
test_random_is_reproducible (void)
{
  g_autoptr(MorangoRandom) a = morango_random_new_seeded (42);
  g_autoptr(MorangoRandom) b = morango_random_new_seeded (42);
  g_autoptr(MorangoRandom) s = morango_random_new_secure ();
  g_autofree char *x = morango_random_uuid4_hex (a);
  g_autofree char *y = morango_random_uuid4_hex (b);
  g_autofree char *z = morango_random_uuid4_hex (s);

  g_assert_cmpstr (x, ==, y);
  g_assert_true (morango_is_hex32 (z));
  g_assert_cmpint (x[12], ==, '4');
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ids/sha2-uuid", test_sha2_uuid);
  g_test_add_func ("/ids/salted-hash", test_salted_hash);
  g_test_add_func ("/ids/uuid5", test_uuid5);
  g_test_add_func ("/ids/proquint", test_proquint);
  g_test_add_func ("/ids/instance-id-rule", test_instance_id_rule);
  g_test_add_func ("/ids/node-id-from-interfaces", test_node_id_from_interfaces);
  g_test_add_func ("/ids/uuid-normalize", test_uuid_normalize);
  g_test_add_func ("/ids/random-reproducible", test_random_is_reproducible);
  return g_test_run ();
}
