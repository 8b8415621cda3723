/* test-wire.c: the codec of the HTTP API against Morango's recorded bodies (protocol §8)
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "morango-test-util.h"
#include "morango-wire.h"

/* The exchanges of tests/vectors/http/@file. */
static JsonArray *
exchanges (JsonNode  **keep,
           const char *file)
{
  g_autofree char *path = g_build_filename ("http", file, NULL);

  *keep = morango_test_load_vectors (path);
  return json_object_get_array_member (json_node_get_object (*keep), "exchanges");
}

static JsonObject *
side_of (JsonArray  *ex,
         guint       i,
         const char *side)
{
  return json_object_get_object_member (json_array_get_object_element (ex, i), side);
}

static JsonNode *
parse (const char *text)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = morango_wire_json_parse (text, -1, &error);

  g_assert_no_error (error);
  return node;
}

static gboolean
is_endpoint (JsonObject *request,
             const char *method,
             const char *name)
{
  return g_str_equal (json_object_get_string_member (request, "method"), method) &&
         strstr (json_object_get_string_member (request, "path"), name) != NULL;
}

/* ---- capabilities ---- */

static void
test_capabilities (void)
{
  g_autoptr(JsonNode) keep = NULL;
  JsonArray *ex = exchanges (&keep, "push.json");
  g_autoptr(GError) error = NULL;
  MorangoWireCapabilities caps = 0;
  g_autofree char *text = NULL;
  guint seen = 0;

  g_assert_cmpint (morango_wire_capabilities_parse (NULL), ==, 0);
  g_assert_cmpint (morango_wire_capabilities_parse (""), ==, 0);
  g_assert_cmpint (morango_wire_capabilities_parse ("FSIC_V2_FORMAT NOPE  ASYNC_OPERATIONS"), ==,
                   MORANGO_WIRE_CAP_FSIC_V2_FORMAT | MORANGO_WIRE_CAP_ASYNC_OPERATIONS);
  /* A name is a whole word, not a prefix. */
  g_assert_cmpint (morango_wire_capabilities_parse ("GZIP_BUFFER_POSTX FSIC_V2"), ==, 0);
  g_assert_cmpint (morango_wire_capabilities_parse ("ALLOW_CERTIFICATE_PUSHING"), ==,
                   MORANGO_WIRE_CAP_ALLOW_CERTIFICATE_PUSHING);
  text = morango_wire_capabilities_format (MORANGO_WIRE_CAPS_DEFAULT);
  g_assert_cmpstr (text, ==, "GZIP_BUFFER_POST FSIC_V2_FORMAT ASYNC_OPERATIONS");
  g_assert_cmpint (morango_wire_capabilities_parse (text), ==, MORANGO_WIRE_CAPS_DEFAULT);

  for (guint i = 0; i < json_array_get_length (ex); i++)
    {
      JsonObject *request = side_of (ex, i, "request");
      JsonArray *headers = json_object_get_array_member (request, "headers");

      for (guint h = 0; h < json_array_get_length (headers); h++)
        {
          JsonArray *pair = json_array_get_array_element (headers, h);

          if (g_ascii_strcasecmp (json_array_get_string_element (pair, 0),
                                  MORANGO_WIRE_CAPABILITIES_HEADER) == 0)
            {
              g_assert_cmpint (morango_wire_capabilities_parse (json_array_get_string_element (pair, 1)),
                               ==, MORANGO_WIRE_CAPS_DEFAULT);
              seen++;
            }
        }
      if (is_endpoint (request, "GET", "/morangoinfo/"))
        {
          g_autoptr(JsonNode) body = parse (json_object_get_string_member (side_of (ex, i, "response"),
                                                                           "body"));
          JsonNode *array = json_object_get_member (json_node_get_object (body), "capabilities");
          g_autoptr(JsonNode) again = NULL;

          g_assert_true (morango_wire_capabilities_from_json (array, &caps, &error));
          g_assert_no_error (error);
          g_assert_cmpint (caps, ==, MORANGO_WIRE_CAPS_DEFAULT);
          again = morango_wire_capabilities_to_json (caps);
          g_assert_cmpint (json_array_get_length (json_node_get_array (again)), ==, 3);
        }
    }
  g_assert_cmpuint (seen, >, 10);

  {
    g_autoptr(JsonNode) bad = parse ("[\"GZIP_BUFFER_POST\", 3]");
    g_autoptr(JsonNode) not_array = parse ("{\"a\": 1}");

    g_assert_false (morango_wire_capabilities_from_json (bad, &caps, &error));
    g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
    g_clear_error (&error);
    g_assert_false (morango_wire_capabilities_from_json (not_array, &caps, &error));
    g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  }
}

/* ---- gzip ---- */

static void
test_gzip_recorded (void)
{
  g_autoptr(JsonNode) keep = NULL;
  JsonArray *ex = exchanges (&keep, "push.json");
  guint chunks = 0;

  for (guint i = 0; i < json_array_get_length (ex); i++)
    {
      JsonObject *request = side_of (ex, i, "request");
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) content = NULL;
      g_autoptr(GBytes) again = NULL;
      g_autoptr(GBytes) back = NULL;
      g_autofree guchar *raw = NULL;
      const char *body;
      gsize raw_len;

      if (!json_object_has_member (request, "body_raw_base64"))
        continue;
      raw = g_base64_decode (json_object_get_string_member (request, "body_raw_base64"), &raw_len);
      body = json_object_get_string_member (request, "body");
      content = morango_wire_gunzip (raw, raw_len, 32 * 1024 * 1024, &error);
      g_assert_no_error (error);
      g_assert_cmpmem (g_bytes_get_data (content, NULL), g_bytes_get_size (content), body, strlen (body));
      /* Readable as text: a NUL follows. */
      g_assert_cmpint (((const char *) g_bytes_get_data (content, NULL))[g_bytes_get_size (content)], ==, 0);

      /* Ours: a gzip header with mtime 0, and what it holds comes back. */
      again = morango_wire_gzip (body, strlen (body), 9);
      g_assert_cmpuint (g_bytes_get_size (again), >, 10);
      g_assert_cmpmem (g_bytes_get_data (again, NULL), 8, "\x1f\x8b\x08\x00\x00\x00\x00\x00", 8);
      back = morango_wire_gunzip (g_bytes_get_data (again, NULL), g_bytes_get_size (again),
                                  strlen (body), &error);
      g_assert_no_error (error);
      g_assert_true (g_bytes_equal (back, content));
      chunks++;
    }
  g_assert_cmpuint (chunks, ==, 3);
}

static void
test_gzip_hostile (void)
{
  gsize big = 8 * 1024 * 1024;
  g_autofree char *zeros = g_malloc0 (big);
  g_autoptr(GBytes) bomb = morango_wire_gzip (zeros, big, 9);
  g_autoptr(GBytes) small = morango_wire_gzip ("[1, 2, 3]", 9, 6);
  const guint8 *data = g_bytes_get_data (small, NULL);
  gsize size = g_bytes_get_size (small);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) out = NULL;
  g_autofree guint8 *extra = NULL;
  g_autofree guint8 *flipped = NULL;

  /* A bomb: 8 MiB of zeros in a few KiB; a limit of 1 MiB stops it. */
  g_assert_cmpuint (g_bytes_get_size (bomb), <, 64 * 1024);
  out = morango_wire_gunzip (g_bytes_get_data (bomb, NULL), g_bytes_get_size (bomb), 1024 * 1024, &error);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_LIMIT_EXCEEDED);
  g_assert_null (out);
  g_clear_error (&error);

  /* The limit is inclusive: exactly the content's size passes, one less fails. */
  out = morango_wire_gunzip (data, size, 9, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (out), ==, 9);
  g_clear_pointer (&out, g_bytes_unref);
  out = morango_wire_gunzip (data, size, 8, &error);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_LIMIT_EXCEEDED);
  g_clear_error (&error);

  /* Not gzip at all. */
  out = morango_wire_gunzip ("[{\"a\": 1}]", 10, 1024, &error);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_assert_null (out);
  g_clear_error (&error);

  /* Cut short, at every length. */
  for (gsize cut = 0; cut < size; cut++)
    {
      out = morango_wire_gunzip (data, cut, 1024, &error);
      g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
      g_assert_null (out);
      g_clear_error (&error);
    }

  /* Something after the stream. */
  extra = g_malloc (size + 3);
  memcpy (extra, data, size);
  memcpy (extra + size, "xyz", 3);
  out = morango_wire_gunzip (extra, size + 3, 1024, &error);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_clear_error (&error);

  /* A damaged checksum. */
  flipped = g_memdup2 (data, size);
  flipped[size - 6] ^= 0xff;
  out = morango_wire_gunzip (flipped, size, 1024, &error);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_clear_error (&error);
}

/* ---- buffer records ---- */

static void
assert_chunk_round_trip (const char *client_json,
                         const char *server_json,
                         guint       n_records,
                         const char *expected_ts)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = parse (client_json);
  g_autofree char *ts = NULL;
  g_autoptr(MorangoBufferChunk) chunk = morango_wire_chunk_decode (node, &ts, &error);
  g_autofree char *python = NULL;
  g_autofree char *compact = NULL;
  gboolean single = JSON_NODE_HOLDS_OBJECT (node);

  g_assert_no_error (error);
  g_assert_cmpuint (chunk->records->len, ==, n_records);
  if (expected_ts != NULL)
    g_assert_cmpstr (ts, ==, expected_ts);

  python = morango_wire_chunk_encode (chunk, ts, MORANGO_WIRE_JSON_PYTHON);
  compact = morango_wire_chunk_encode (chunk, ts, MORANGO_WIRE_JSON_COMPACT);
  if (single)
    {
      /* One record alone: the array holds exactly that text. */
      g_assert_cmpuint (strlen (python), ==, strlen (client_json) + 2);
      g_assert_cmpint (strncmp (python + 1, client_json, strlen (client_json)), ==, 0);
      if (server_json != NULL)
        g_assert_cmpint (strncmp (compact + 1, server_json, strlen (server_json)), ==, 0);
    }
  else
    {
      g_assert_cmpstr (python, ==, client_json);
      if (server_json != NULL)
        g_assert_cmpstr (compact, ==, server_json);
    }
}

static void
test_chunk_vectors (void)
{
  g_autoptr(GPtrArray) records = morango_test_vector_cases ("records.json", "buffer_record");
  g_autoptr(GPtrArray) chunks = morango_test_vector_cases ("records.json", "buffer_chunk");

  g_assert_cmpuint (records->len, >, 5);
  for (guint i = 0; i < records->len; i++)
    {
      JsonObject *c = records->pdata[i];

      assert_chunk_round_trip (json_object_get_string_member (c, "client_json"),
                               json_object_get_string_member (c, "server_json"), 1, NULL);
    }
  g_assert_cmpuint (chunks->len, ==, 1);
  assert_chunk_round_trip (json_object_get_string_member (chunks->pdata[0], "client_json"),
                           json_object_get_string_member (chunks->pdata[0], "server_json"),
                           json_object_get_int_member (chunks->pdata[0], "record_count"),
                           json_object_get_string_member (chunks->pdata[0], "transfer_session_id"));
}

/* Every chunk pushed and every page pulled in the recordings. */
static void
test_chunk_recorded (void)
{
  const char *files[] = { "push.json", "pull.json", "push-resumed.json", "pull-resumed.json",
                          "push-legacy.json", "pull-legacy.json" };
  guint pushed = 0, pulled = 0;

  for (guint f = 0; f < G_N_ELEMENTS (files); f++)
    {
      g_autoptr(JsonNode) keep = NULL;
      JsonArray *ex = exchanges (&keep, files[f]);

      for (guint i = 0; i < json_array_get_length (ex); i++)
        {
          JsonObject *request = side_of (ex, i, "request");
          JsonObject *response = side_of (ex, i, "response");
          g_autoptr(GError) error = NULL;

          if (is_endpoint (request, "POST", "/buffers/"))
            {
              const char *body = json_object_get_string_member (request, "body");
              g_autoptr(JsonNode) node = parse (body);

              assert_chunk_round_trip (body, NULL, json_array_get_length (json_node_get_array (node)),
                                       NULL);
              pushed++;
            }
          else if (is_endpoint (request, "GET", "/buffers/") &&
                   json_object_get_int_member (response, "status") == 200)
            {
              g_autoptr(JsonNode) node = parse (json_object_get_string_member (response, "body"));
              JsonObject *page = json_node_get_object (node);
              JsonNode *results = json_object_get_member (page, "results");
              g_autofree char *ts = NULL;
              gint64 count = -1;
              g_autoptr(MorangoBufferChunk) chunk = morango_wire_page_decode (node, &ts, &count, &error);
              g_autofree char *compact = NULL;
              g_autofree char *expected = NULL;

              g_assert_no_error (error);
              g_assert_cmpint (count, ==, json_object_get_int_member (page, "count"));
              g_assert_cmpuint (chunk->records->len, ==,
                                json_array_get_length (json_node_get_array (results)));
              /* The page's records, byte for byte as the server wrote them. */
              if (chunk->records->len > 0)
                {
                  compact = morango_wire_chunk_encode (chunk, ts, MORANGO_WIRE_JSON_COMPACT);
                  expected = morango_wire_json_to_string (results, MORANGO_WIRE_JSON_COMPACT);
                  g_assert_cmpstr (compact, ==, expected);
                  g_assert_nonnull (strstr (json_object_get_string_member (response, "body"), compact));
                }
              pulled++;
            }
        }
    }
  g_assert_cmpuint (pushed, >=, 8);
  g_assert_cmpuint (pulled, >=, 8);
}

#define TS_A "83fc0bd376474a73b81fc503408d567f"
#define TS_B "93fc0bd376474a73b81fc503408d567f"
#define UUID "e8054f5c6899fa5ef66b66d5e2844974"

static char *
record_text (const char *replace_key,
             const char *replace_value)
{
  static const char *members[][2] = {
    { "serialized", "\"{\\\"id\\\": \\\"" UUID "\\\"}\"" },
    { "deleted", "false" },
    { "last_saved_instance", "\"d681b669edb2bdfb67cb392789d236a4\"" },
    { "last_saved_counter", "3" },
    { "hard_deleted", "false" },
    { "partition", "\"8fd90aa52ea69b359379227d97f6b712:user:interaction\"" },
    { "source_id", "\"3a03a7d3565ff6111b066edccc2771f0\"" },
    { "model_name", "\"contentinteractionlog\"" },
    { "conflicting_serialized_data", "\"\"" },
    { "model_uuid", "\"" UUID "\"" },
    { "transfer_session", "\"" TS_A "\"" },
    { "profile", "\"facilitydata\"" },
    { "rmcb_list", "[{\"transfer_session\": \"" TS_A "\", \"model_uuid\": \"" UUID "\", "
                   "\"instance_id\": \"d681b669edb2bdfb67cb392789d236a4\", \"counter\": 3}]" },
    { "_self_ref_fk", "\"\"" },
  };
  GString *out = g_string_new ("{");
  gboolean first = TRUE;

  for (guint i = 0; i < G_N_ELEMENTS (members); i++)
    {
      const char *value = members[i][1];

      if (g_strcmp0 (replace_key, members[i][0]) == 0)
        {
          if (replace_value == NULL)
            continue;
          value = replace_value;
        }
      g_string_append_printf (out, "%s\"%s\": %s", first ? "" : ", ", members[i][0], value);
      first = FALSE;
    }
  if (g_strcmp0 (replace_key, "surprise") == 0)
    g_string_append_printf (out, ", \"surprise\": %s", replace_value);
  g_string_append_c (out, '}');
  return g_string_free (out, FALSE);
}

static void
assert_refused (const char *body,
                int         code,
                const char *in_message)
{
  g_autoptr(JsonNode) node = parse (body);
  g_autoptr(GError) error = NULL;
  g_autofree char *ts = NULL;
  g_autoptr(MorangoBufferChunk) chunk = morango_wire_chunk_decode (node, &ts, &error);

  g_assert_null (chunk);
  g_assert_error (error, MORANGO_ERROR, code);
  if (strstr (error->message, in_message) == NULL)
    g_error ("“%s” does not say “%s”", error->message, in_message);
}

static void
test_chunk_strict (void)
{
  static const char *keys[] = {
    "serialized", "deleted", "last_saved_instance", "last_saved_counter", "hard_deleted",
    "partition", "source_id", "model_name", "conflicting_serialized_data", "model_uuid",
    "transfer_session", "profile", "rmcb_list", "_self_ref_fk",
  };
  g_autofree char *good = record_text (NULL, NULL);

  assert_chunk_round_trip (good, NULL, 1, TS_A);

  /* Each key missing, each key of the wrong type, named in the message. */
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      g_autofree char *missing = record_text (keys[i], NULL);
      g_autofree char *wrong = record_text (keys[i], g_str_equal (keys[i], "serialized") ? "{}" :
                                                     g_str_has_suffix (keys[i], "deleted") ? "\"no\"" :
                                                     "1.5");
      g_autofree char *quoted = g_strdup_printf ("“%s”", keys[i]);

      assert_refused (missing, MORANGO_ERROR_INVALID, quoted);
      assert_refused (wrong, MORANGO_ERROR_INVALID, quoted);
    }
  {
    g_autofree char *nulled = record_text ("conflicting_serialized_data", "null");
    g_autofree char *negative = record_text ("last_saved_counter", "-1");
    g_autofree char *unknown = record_text ("surprise", "1");
    g_autofree char *two = g_strdup_printf ("[%s, %s]", good, good);
    g_autofree char *other_ts = NULL;
    g_autofree char *two_sessions = NULL;
    g_autofree char *items_extra = record_text ("rmcb_list", "[{\"transfer_session\": \"" TS_A "\", "
                                                "\"model_uuid\": \"" UUID "\", \"instance_id\": "
                                                "\"d681b669edb2bdfb67cb392789d236a4\", \"counter\": 3, "
                                                "\"x\": 1}]");
    g_autofree char *items_missing = record_text ("rmcb_list", "[{\"transfer_session\": \"" TS_A "\", "
                                                  "\"model_uuid\": \"" UUID "\", \"counter\": 3}]");
    g_autofree char *items_other_ts = record_text ("rmcb_list", "[{\"transfer_session\": \"" TS_B "\", "
                                                   "\"model_uuid\": \"" UUID "\", \"instance_id\": "
                                                   "\"d681b669edb2bdfb67cb392789d236a4\", \"counter\": 3}]");
    g_autofree char *items_other_uuid = record_text ("rmcb_list", "[{\"transfer_session\": \"" TS_A "\", "
                                                     "\"model_uuid\": \"" TS_B "\", \"instance_id\": "
                                                     "\"d681b669edb2bdfb67cb392789d236a4\", \"counter\": 3}]");
    g_autofree char *items_not_objects = record_text ("rmcb_list", "[3]");

    assert_refused (nulled, MORANGO_ERROR_INVALID, "“conflicting_serialized_data”");
    assert_refused (negative, MORANGO_ERROR_INVALID, "“last_saved_counter”");
    assert_refused (unknown, MORANGO_ERROR_INVALID, "“surprise”");
    assert_refused (items_extra, MORANGO_ERROR_INVALID, "“x”");
    assert_refused (items_missing, MORANGO_ERROR_INVALID, "“instance_id”");
    assert_refused (items_other_ts, MORANGO_ERROR_RECORD_REJECTED,
                    "Transfer session on RMCB (" TS_B ") does not match Buffer's TransferSession "
                    "(TransferSession object (" TS_A "))");
    assert_refused (items_other_uuid, MORANGO_ERROR_RECORD_REJECTED,
                    "Model UUID on RMCB (" TS_B ") does not match Buffer's Model UUID (" UUID ")");
    assert_refused (items_not_objects, MORANGO_ERROR_INVALID, "History item 0");
    assert_refused ("3", MORANGO_ERROR_INVALID, "array");
    assert_refused ("[3]", MORANGO_ERROR_INVALID, "Buffer record 0");
    assert_chunk_round_trip (two, NULL, 2, TS_A);

    other_ts = record_text ("transfer_session", "\"" TS_B "\"");
    two_sessions = g_strdup_printf ("[%s, %s]", good, other_ts);
    assert_refused (two_sessions, MORANGO_ERROR_PERMISSION_DENIED,
                    "All pushed records must be associated with the same TransferSession.");
  }
  {
    g_autoptr(JsonNode) empty = parse ("[]");
    g_autoptr(GError) error = NULL;
    g_autofree char *ts = g_strdup ("x");
    g_autoptr(MorangoBufferChunk) chunk = morango_wire_chunk_decode (empty, &ts, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (chunk->records->len, ==, 0);
    g_assert_null (ts);
  }
}

/* ---- sessions ---- */

static void
test_sessions_recorded (void)
{
  const char *files[] = { "push.json", "pull.json", "push-legacy.json", "pull-legacy.json",
                          "pull-fsic-v1.json", "push-fsic-v1.json", "pull-nothing-new.json",
                          "pull-resumed.json", "push-resumed.json" };
  guint requests = 0, replies = 0, objects = 0, updates = 0, creations = 0, sync_objects = 0;

  for (guint f = 0; f < G_N_ELEMENTS (files); f++)
    {
      g_autoptr(JsonNode) keep = NULL;
      JsonArray *ex = exchanges (&keep, files[f]);

      for (guint i = 0; i < json_array_get_length (ex); i++)
        {
          JsonObject *request = side_of (ex, i, "request");
          JsonObject *response = side_of (ex, i, "response");
          const char *req_body = json_object_get_string_member_with_default (request, "body", "");
          const char *resp_body = json_object_get_string_member_with_default (response, "body", "");
          gint64 status = json_object_get_int_member (response, "status");
          g_autoptr(GError) error = NULL;

          if (is_endpoint (request, "POST", "/syncsessions/"))
            {
              g_autoptr(JsonNode) node = parse (req_body);
              g_autoptr(JsonNode) reply = parse (resp_body);
              g_autoptr(MorangoWireSyncSessionRequest) r =
                morango_wire_sync_session_request_decode (node, &error);
              g_autofree char *again = NULL;
              g_autofree char *signature = NULL;
              g_autofree char *instance = NULL;
              g_autofree char *reply_again = NULL;

              g_assert_no_error (error);
              again = morango_wire_sync_session_request_encode (r);
              g_assert_cmpstr (again, ==, req_body);
              requests++;

              g_assert_true (morango_wire_sync_session_reply_decode (reply, &signature, &instance,
                                                                     &error));
              g_assert_no_error (error);
              reply_again = morango_wire_sync_session_reply_encode (signature, instance);
              g_assert_cmpstr (reply_again, ==, resp_body);
              replies++;
            }
          else if (is_endpoint (request, "GET", "/syncsessions/") && status == 200)
            {
              g_autoptr(JsonNode) node = parse (resp_body);
              g_autoptr(MorangoWireSyncSession) ss = morango_wire_sync_session_decode (node, &error);
              g_autofree char *again = NULL;

              g_assert_no_error (error);
              g_assert_true (ss->active);
              again = morango_wire_sync_session_encode (ss);
              g_assert_cmpstr (again, ==, resp_body);
              sync_objects++;
            }
          else if (strstr (json_object_get_string_member (request, "path"), "/transfersessions/") &&
                   (status == 200 || status == 201))
            {
              g_autoptr(JsonNode) node = parse (resp_body);
              MorangoWireTransferInfo info = { 0 };
              g_autoptr(MorangoTransferSession) ts = morango_wire_transfer_session_decode (node, &info,
                                                                                          &error);
              g_autofree char *again = NULL;

              g_assert_no_error (error);
              again = morango_wire_transfer_session_encode (ts, &info);
              g_assert_cmpstr (again, ==, resp_body);
              morango_wire_transfer_info_clear (&info);
              objects++;

              if (is_endpoint (request, "POST", "/transfersessions/"))
                {
                  g_autoptr(JsonNode) body = parse (req_body);
                  g_autoptr(MorangoTransferSession) rq = morango_wire_transfer_request_decode (body,
                                                                                              &error);
                  g_autofree char *rq_again = NULL;

                  g_assert_no_error (error);
                  rq_again = morango_wire_transfer_request_encode (rq);
                  g_assert_cmpstr (rq_again, ==, req_body);
                  creations++;
                }
              else if (is_endpoint (request, "PATCH", "/transfersessions/"))
                {
                  g_autoptr(JsonNode) body = parse (req_body);
                  MorangoWireTransferUpdate u = MORANGO_WIRE_TRANSFER_UPDATE_INIT;
                  g_autofree char *u_again = NULL;

                  g_assert_true (morango_wire_transfer_update_decode (body, &u, &error));
                  g_assert_no_error (error);
                  u_again = morango_wire_transfer_update_encode (&u);
                  g_assert_cmpstr (u_again, ==, req_body);
                  morango_wire_transfer_update_clear (&u);
                  updates++;
                }
            }
        }
    }
  g_assert_cmpuint (requests, ==, 9);
  g_assert_cmpuint (replies, ==, 9);
  g_assert_cmpuint (sync_objects, >=, 2);
  g_assert_cmpuint (creations, >=, 9);
  g_assert_cmpuint (objects, >, 50);
  g_assert_cmpuint (updates, >, 20);
}

static void
assert_invalid (JsonNode *node,
                int       kind,
                const char *in_message)
{
  g_autoptr(GError) error = NULL;
  gpointer result = NULL;
  gboolean ok = FALSE;

  switch (kind)
    {
    case 0:
      result = morango_wire_sync_session_request_decode (node, &error);
      morango_wire_sync_session_request_free (result);
      break;
    case 1:
      result = morango_wire_transfer_request_decode (node, &error);
      morango_transfer_session_free (result);
      break;
    case 2:
      {
        MorangoWireTransferUpdate u = MORANGO_WIRE_TRANSFER_UPDATE_INIT;

        ok = morango_wire_transfer_update_decode (node, &u, &error);
        morango_wire_transfer_update_clear (&u);
      }
      break;
    case 3:
      result = morango_wire_transfer_session_decode (node, NULL, &error);
      morango_transfer_session_free (result);
      break;
    default:
      g_assert_not_reached ();
    }
  g_assert_null (result);
  g_assert_false (ok);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  if (strstr (error->message, in_message) == NULL)
    g_error ("“%s” does not say “%s”", error->message, in_message);
}

static void
test_sessions_strict (void)
{
  static const struct {
    int         kind;
    const char *body;
    const char *says;
  } cases[] = {
    { 0, "[]", "JSON object" },
    { 0, "{\"id\": \"a\"}", "“server_certificate_id”" },
    { 0, "{\"id\": \"a\", \"server_certificate_id\": \"b\", \"client_certificate_id\": \"c\", "
         "\"certificate_chain\": \"[]\", \"connection_path\": \"http://x/\", \"instance\": {\"id\": 1}, "
         "\"nonce\": \"n\", \"signature\": \"s\"}", "“instance”" },
    { 0, "{\"id\": \"a\", \"server_certificate_id\": \"b\", \"client_certificate_id\": \"c\", "
         "\"certificate_chain\": \"[]\", \"connection_path\": \"http://x/\", \"instance\": \"[1]\", "
         "\"nonce\": \"n\", \"signature\": \"s\"}", "“instance”" },
    { 0, "{\"id\": \"a\", \"server_certificate_id\": \"b\", \"client_certificate_id\": \"c\", "
         "\"certificate_chain\": 5, \"connection_path\": \"http://x/\", \"instance\": \"{}\", "
         "\"nonce\": \"n\", \"signature\": \"s\"}", "“certificate_chain”" },
    { 0, "{\"id\": \"a\", \"server_certificate_id\": \"b\", \"client_certificate_id\": \"c\", "
         "\"certificate_chain\": \"[]\", \"connection_path\": \"http://x/\", \"instance\": \"{}\", "
         "\"signature\": \"s\"}", "“nonce”" },
    { 1, "{\"id\": \"a\", \"filter\": \"f\", \"push\": \"yes\", \"sync_session_id\": \"s\"}", "“push”" },
    { 1, "{\"id\": \"a\", \"filter\": \"f\", \"push\": true}", "“sync_session_id”" },
    { 1, "{\"id\": \"a\", \"filter\": [\"f\"], \"push\": true, \"sync_session_id\": \"s\"}", "“filter”" },
    { 1, "{\"id\": \"a\", \"filter\": \"f\", \"push\": true, \"sync_session_id\": \"s\", "
         "\"client_fsic\": {}}", "“client_fsic”" },
    { 1, "{\"id\": \"a\", \"filter\": \"f\", \"push\": true, \"sync_session_id\": \"s\", "
         "\"records_total\": \"3\"}", "“records_total”" },
    { 2, "{\"transfer_stage\": \"bogus\"}", "bogus" },
    { 2, "{\"transfer_stage\": 3}", "“transfer_stage”" },
    { 2, "{\"records_transferred\": -3}", "“records_transferred”" },
    { 2, "{\"records_total\": 1.5}", "“records_total”" },
    { 2, "{\"bytes_sent\": \"1\"}", "“bytes_sent”" },
    { 2, "{\"client_fsic\": null}", "“client_fsic”" },
    { 2, "\"serializing\"", "JSON object" },
    { 3, "{\"id\": \"a\", \"active\": true, \"filter\": \"f\", \"push\": true, "
         "\"records_transferred\": 0, \"sync_session\": \"s\", \"transfer_stage\": \"later\"}", "later" },
    { 3, "{\"id\": \"a\", \"active\": true, \"filter\": \"f\", \"push\": true, "
         "\"sync_session\": \"s\"}", "“records_transferred”" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(JsonNode) node = parse (cases[i].body);

      assert_invalid (node, cases[i].kind, cases[i].says);
    }

  {
    /* Counters left out stay out; unknown keys are read-only fields. */
    g_autoptr(JsonNode) node = parse ("{\"filter\": \"x\", \"records_total\": 5}");
    g_autoptr(GError) error = NULL;
    MorangoWireTransferUpdate u = MORANGO_WIRE_TRANSFER_UPDATE_INIT;

    g_assert_true (morango_wire_transfer_update_decode (node, &u, &error));
    g_assert_no_error (error);
    g_assert_false (u.has_stage);
    g_assert_cmpint (u.records_total, ==, 5);
    g_assert_cmpint (u.records_transferred, ==, -1);
    g_assert_null (u.client_fsic);
  }
  {
    /* A chain sent as a plain array is kept as its text. */
    g_autoptr(JsonNode) node = parse ("{\"id\": \"a\", \"server_certificate_id\": \"b\", "
                                      "\"client_certificate_id\": \"c\", \"certificate_chain\": "
                                      "[{\"id\": \"r\"}], \"connection_path\": \"http://x/\", "
                                      "\"instance\": \"{}\", \"nonce\": \"n\", \"signature\": \"s\"}");
    g_autoptr(GError) error = NULL;
    g_autoptr(MorangoWireSyncSessionRequest) r = morango_wire_sync_session_request_decode (node, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (r->certificate_chain, ==, "[{\"id\": \"r\"}]");
    g_assert_cmpstr (r->client_ip, ==, "");
  }
}

static void
test_time (void)
{
  g_autofree char *a = morango_wire_format_time (G_GINT64_CONSTANT (1795693422295911));
  g_autofree char *b = morango_wire_format_time (G_GINT64_CONSTANT (1795693422000000));

  g_assert_cmpstr (a, ==, "2026-11-26T11:43:42.295911Z");
  g_assert_cmpstr (b, ==, "2026-11-26T11:43:42Z");
}

static void
test_json_parse (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = morango_wire_json_parse ("{\"a\": ", -1, &error);

  g_assert_null (node);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
  g_assert_true (g_str_has_prefix (error->message, "JSON parse error - "));
  g_clear_error (&error);
  node = morango_wire_json_parse ("", 0, &error);
  g_assert_null (node);
  g_assert_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/wire/capabilities", test_capabilities);
  g_test_add_func ("/wire/gzip/recorded", test_gzip_recorded);
  g_test_add_func ("/wire/gzip/hostile", test_gzip_hostile);
  g_test_add_func ("/wire/chunk/vectors", test_chunk_vectors);
  g_test_add_func ("/wire/chunk/recorded", test_chunk_recorded);
  g_test_add_func ("/wire/chunk/strict", test_chunk_strict);
  g_test_add_func ("/wire/sessions/recorded", test_sessions_recorded);
  g_test_add_func ("/wire/sessions/strict", test_sessions_strict);
  g_test_add_func ("/wire/time", test_time);
  g_test_add_func ("/wire/json-parse", test_json_parse);

  return g_test_run ();
}
