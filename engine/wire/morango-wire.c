/* morango-wire.c: the bodies and headers of the HTTP API, both ways
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include <gio/gio.h>

#include "morango-json.h"
#include "morango-wire.h"
#include "morango-i18n-private.h"

/* ---- capabilities ---- */

static const struct {
  MorangoWireCapabilities  flag;
  const char              *name;
} cap_names[] = {
  { MORANGO_WIRE_CAP_GZIP_BUFFER_POST, "GZIP_BUFFER_POST" },
  { MORANGO_WIRE_CAP_FSIC_V2_FORMAT, "FSIC_V2_FORMAT" },
  { MORANGO_WIRE_CAP_ASYNC_OPERATIONS, "ASYNC_OPERATIONS" },
  { MORANGO_WIRE_CAP_ALLOW_CERTIFICATE_PUSHING, "ALLOW_CERTIFICATE_PUSHING" },
};

static MorangoWireCapabilities
cap_from_name (const char *name,
               gsize       len)
{
  for (guint i = 0; i < G_N_ELEMENTS (cap_names); i++)
    if (strlen (cap_names[i].name) == len && memcmp (cap_names[i].name, name, len) == 0)
      return cap_names[i].flag;
  return MORANGO_WIRE_CAP_NONE;
}

MorangoWireCapabilities
morango_wire_capabilities_parse (const char *header)
{
  MorangoWireCapabilities caps = MORANGO_WIRE_CAP_NONE;
  const char *p = header;

  if (header == NULL)
    return caps;
  /* Python splits on single spaces; being lenient about runs of spaces
   * and tabs loses nothing. */
  while (*p != '\0')
    {
      const char *end;

      while (*p == ' ' || *p == '\t')
        p++;
      end = p;
      while (*end != '\0' && *end != ' ' && *end != '\t')
        end++;
      if (end > p)
        caps |= cap_from_name (p, end - p);
      p = end;
    }
  return caps;
}

char *
morango_wire_capabilities_format (MorangoWireCapabilities caps)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < G_N_ELEMENTS (cap_names); i++)
    if (caps & cap_names[i].flag)
      {
        if (out->len > 0)
          g_string_append_c (out, ' ');
        g_string_append (out, cap_names[i].name);
      }
  return g_string_free (out, FALSE);
}

gboolean
morango_wire_capabilities_from_json (JsonNode                 *node,
                                     MorangoWireCapabilities  *caps,
                                     GError                  **error)
{
  JsonArray *array;

  g_return_val_if_fail (caps != NULL, FALSE);

  *caps = MORANGO_WIRE_CAP_NONE;
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                           _("The key “capabilities” must hold an array of strings"));
      return FALSE;
    }
  array = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *item = json_array_get_element (array, i);
      const char *name;

      if (!JSON_NODE_HOLDS_VALUE (item) || json_node_get_value_type (item) != G_TYPE_STRING)
        {
          g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                               _("The key “capabilities” must hold an array of strings"));
          *caps = MORANGO_WIRE_CAP_NONE;
          return FALSE;
        }
      name = json_node_get_string (item);
      *caps |= cap_from_name (name, strlen (name));
    }
  return TRUE;
}

JsonNode *
morango_wire_capabilities_to_json (MorangoWireCapabilities caps)
{
  JsonArray *array = json_array_new ();
  JsonNode *node = json_node_new (JSON_NODE_ARRAY);

  for (guint i = 0; i < G_N_ELEMENTS (cap_names); i++)
    if (caps & cap_names[i].flag)
      json_array_add_string_element (array, cap_names[i].name);
  json_node_take_array (node, array);
  return node;
}

/* ---- gzip ---- */

GBytes *
morango_wire_gzip (gconstpointer data,
                   gsize         size,
                   int           level)
{
  g_autoptr(GZlibCompressor) compressor = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP,
                                                                 CLAMP (level, -1, 9));
  GByteArray *out = g_byte_array_sized_new (size / 4 + 64);
  const guint8 *in = data;
  gsize in_left = size;

  g_return_val_if_fail (data != NULL || size == 0, NULL);

  /* Without a GFileInfo the compressor writes no name and mtime 0. */
  for (;;)
    {
      guint8 buf[16384];
      gsize read = 0, written = 0;
      GConverterResult result;
      g_autoptr(GError) error = NULL;

      result = g_converter_convert (G_CONVERTER (compressor), in, in_left, buf, sizeof buf,
                                    G_CONVERTER_INPUT_AT_END, &read, &written, &error);
      /* Compressing memory into memory cannot fail but for a bug. */
      g_assert_no_error (error);
      in += read;
      in_left -= read;
      g_byte_array_append (out, buf, written);
      if (result == G_CONVERTER_FINISHED)
        break;
    }
  return g_byte_array_free_to_bytes (out);
}

GBytes *
morango_wire_gunzip (gconstpointer   data,
                     gsize           size,
                     gsize           limit,
                     GError        **error)
{
  g_autoptr(GZlibDecompressor) decompressor = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP);
  g_autoptr(GByteArray) out = g_byte_array_new ();
  const guint8 *in = data;
  gsize in_left = size;

  g_return_val_if_fail (data != NULL || size == 0, NULL);

  for (;;)
    {
      guint8 buf[16384];
      gsize read = 0, written = 0;
      GConverterResult result;
      g_autoptr(GError) local = NULL;

      result = g_converter_convert (G_CONVERTER (decompressor), in, in_left, buf, sizeof buf,
                                    G_CONVERTER_INPUT_AT_END, &read, &written, &local);
      if (result == G_CONVERTER_ERROR)
        {
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                       _("The gzip body is malformed: %s"), local->message);
          return NULL;
        }
      in += read;
      in_left -= read;
      if (written > limit - MIN (limit, out->len))
        {
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_LIMIT_EXCEEDED,
                       morango_ngettext ("The gzip body holds more than %zu byte",
                                         "The gzip body holds more than %zu bytes", limit), limit);
          return NULL;
        }
      g_byte_array_append (out, buf, written);
      if (result == G_CONVERTER_FINISHED)
        break;
      if (read == 0 && written == 0)
        {
          /* zlib wants input there is none of: the stream was cut. */
          g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                               _("The gzip body is malformed: it ends before its stream does"));
          return NULL;
        }
    }
  if (in_left > 0)
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                           _("The gzip body is malformed: data follows its stream"));
      return NULL;
    }
  g_byte_array_append (out, (const guint8 *) "", 1);
  g_byte_array_set_size (out, out->len - 1);
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

/* ---- JSON text ---- */

/* A string as Python's json.dumps (ensure_ascii=False) writes it, which
 * is what Django REST framework renders: quotes, backslashes and
 * control characters escaped, everything else as it is. */
static void
append_string_raw (GString    *out,
                   const char *text)
{
  g_string_append_c (out, '"');
  for (const guchar *p = (const guchar *) text; *p != '\0'; p++)
    switch (*p)
      {
      case '"':  g_string_append (out, "\\\""); break;
      case '\\': g_string_append (out, "\\\\"); break;
      case '\n': g_string_append (out, "\\n"); break;
      case '\r': g_string_append (out, "\\r"); break;
      case '\t': g_string_append (out, "\\t"); break;
      case '\b': g_string_append (out, "\\b"); break;
      case '\f': g_string_append (out, "\\f"); break;
      default:
        if (*p < 0x20)
          g_string_append_printf (out, "\\u%04x", *p);
        else
          g_string_append_c (out, *p);
      }
  g_string_append_c (out, '"');
}

static void
append_string (GString              *out,
               const char           *text,
               MorangoWireJsonStyle  style)
{
  if (text == NULL)
    g_string_append (out, "null");
  else if (style == MORANGO_WIRE_JSON_PYTHON)
    morango_json_append_string (out, text);
  else
    append_string_raw (out, text);
}

static void
append_compact (GString  *out,
                JsonNode *node)
{
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_NULL:
      g_string_append (out, "null");
      break;
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);

        g_string_append_c (out, '[');
        for (guint i = 0; i < json_array_get_length (array); i++)
          {
            if (i > 0)
              g_string_append_c (out, ',');
            append_compact (out, json_array_get_element (array, i));
          }
        g_string_append_c (out, ']');
      }
      break;
    case JSON_NODE_OBJECT:
      {
        JsonObjectIter iter;
        const char *key;
        JsonNode *member;
        gboolean first = TRUE;

        g_string_append_c (out, '{');
        json_object_iter_init_ordered (&iter, json_node_get_object (node));
        while (json_object_iter_next_ordered (&iter, &key, &member))
          {
            if (!first)
              g_string_append_c (out, ',');
            first = FALSE;
            append_string_raw (out, key);
            g_string_append_c (out, ':');
            append_compact (out, member);
          }
        g_string_append_c (out, '}');
      }
      break;
    case JSON_NODE_VALUE:
      switch (json_node_get_value_type (node))
        {
        case G_TYPE_STRING:
          append_string_raw (out, json_node_get_string (node));
          break;
        case G_TYPE_BOOLEAN:
          g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
          break;
        case G_TYPE_DOUBLE:
          morango_json_append_double (out, json_node_get_double (node));
          break;
        default:
          g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
          break;
        }
      break;
    default:
      g_assert_not_reached ();
    }
}

char *
morango_wire_json_to_string (JsonNode             *node,
                             MorangoWireJsonStyle  style)
{
  GString *out;

  g_return_val_if_fail (node != NULL, NULL);

  if (style == MORANGO_WIRE_JSON_PYTHON)
    return morango_json_dumps (node);
  out = g_string_new (NULL);
  append_compact (out, node);
  return g_string_free (out, FALSE);
}

JsonNode *
morango_wire_json_parse (const char  *text,
                         gssize       size,
                         GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) local = NULL;
  JsonNode *root;

  g_return_val_if_fail (text != NULL, NULL);

  if (!json_parser_load_from_data (parser, text, size, &local))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID, _("JSON parse error - %s"),
                   local->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL)
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                           _("JSON parse error - the body is empty"));
      return NULL;
    }
  return json_node_ref (root);
}

/* ---- strict readers ---- */

static gboolean
node_is (JsonNode *node,
         GType     type)
{
  return node != NULL && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == type;
}

static const char *type_names[] = { N_("a string"), N_("a boolean"), N_("an integer") };
enum { WANT_STRING, WANT_BOOLEAN, WANT_INT };

static gboolean
wrong_type (const char  *what,
            const char  *key,
            int          want,
            GError     **error)
{
  /* Translators: what was read (“The sync session”), a JSON key, then
   * “a string”, “a boolean” or “an integer” */
  g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID, _("%s: the key “%s” must hold %s"),
               what, key, _(type_names[want]));
  return FALSE;
}

static gboolean
missing_key (const char  *what,
             const char  *key,
             GError     **error)
{
  g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID, _("%s lacks the key “%s”"), what, key);
  return FALSE;
}

/* @key of @obj as a string.  @required: absence is an error (else
 * *@out is left as it is); @nullable: null reads as NULL. */
static gboolean
read_string (JsonObject   *obj,
             const char   *what,
             const char   *key,
             gboolean      required,
             gboolean      nullable,
             const char  **out,
             GError      **error)
{
  JsonNode *node = json_object_get_member (obj, key);

  if (node == NULL)
    return required ? missing_key (what, key, error) : TRUE;
  if (nullable && JSON_NODE_HOLDS_NULL (node))
    {
      *out = NULL;
      return TRUE;
    }
  if (!node_is (node, G_TYPE_STRING))
    return wrong_type (what, key, WANT_STRING, error);
  *out = json_node_get_string (node);
  return TRUE;
}

static gboolean
read_dup (JsonObject   *obj,
          const char   *what,
          const char   *key,
          gboolean      required,
          gboolean      nullable,
          char        **out,
          GError      **error)
{
  const char *text = *out;

  if (!read_string (obj, what, key, required, nullable, &text, error))
    return FALSE;
  if (text != *out)
    {
      g_free (*out);
      *out = g_strdup (text);
    }
  return TRUE;
}

static gboolean
read_boolean (JsonObject  *obj,
              const char  *what,
              const char  *key,
              gboolean     required,
              gboolean    *out,
              GError     **error)
{
  JsonNode *node = json_object_get_member (obj, key);

  if (node == NULL)
    return required ? missing_key (what, key, error) : TRUE;
  if (!node_is (node, G_TYPE_BOOLEAN))
    return wrong_type (what, key, WANT_BOOLEAN, error);
  *out = json_node_get_boolean (node);
  return TRUE;
}

/* A count: a non-negative integer, or with @nullable null (-1). */
static gboolean
read_count (JsonObject  *obj,
            const char  *what,
            const char  *key,
            gboolean     required,
            gboolean     nullable,
            gint64      *out,
            GError     **error)
{
  JsonNode *node = json_object_get_member (obj, key);

  if (node == NULL)
    return required ? missing_key (what, key, error) : TRUE;
  if (nullable && JSON_NODE_HOLDS_NULL (node))
    {
      *out = -1;
      return TRUE;
    }
  if (!node_is (node, G_TYPE_INT64))
    return wrong_type (what, key, WANT_INT, error);
  if (json_node_get_int (node) < 0)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("%s: the key “%s” must not be negative"), what, key);
      return FALSE;
    }
  *out = json_node_get_int (node);
  return TRUE;
}

static JsonObject *
object_of (JsonNode    *node,
           const char  *what,
           GError     **error)
{
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID, _("%s must be a JSON object"), what);
      return NULL;
    }
  return json_node_get_object (node);
}

/* Refuses a member of @obj outside @keys (which @obj holds all of). */
static gboolean
only_keys (JsonObject         *obj,
           const char         *what,
           const char * const *keys,
           guint               n_keys,
           GError            **error)
{
  JsonObjectIter iter;
  const char *key;
  JsonNode *member;

  if (json_object_get_size (obj) == n_keys)
    return TRUE;
  json_object_iter_init (&iter, obj);
  while (json_object_iter_next (&iter, &key, &member))
    {
      gboolean known = FALSE;

      for (guint i = 0; i < n_keys && !known; i++)
        known = strcmp (keys[i], key) == 0;
      if (!known)
        {
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID, _("%s has an unknown key “%s”"),
                       what, key);
          return FALSE;
        }
    }
  g_assert_not_reached ();
}

/* ---- buffer chunks ---- */

static const char * const record_keys[] = {
  "serialized", "deleted", "last_saved_instance", "last_saved_counter", "hard_deleted",
  "partition", "source_id", "model_name", "conflicting_serialized_data", "model_uuid",
  "transfer_session", "profile", "rmcb_list", "_self_ref_fk",
};
static const char * const rmcb_keys[] = { "transfer_session", "model_uuid", "instance_id", "counter" };

static void
append_key (GString              *out,
            const char           *key,
            gboolean              first,
            MorangoWireJsonStyle  style)
{
  gboolean python = style == MORANGO_WIRE_JSON_PYTHON;

  if (first)
    g_string_append_c (out, '{');
  else
    g_string_append (out, python ? ", " : ",");
  g_string_append_c (out, '"');
  g_string_append (out, key);   /* our own keys: nothing to escape */
  g_string_append (out, python ? "\": " : "\":");
}

void
morango_wire_chunk_append (GString                  *out,
                           const MorangoBufferChunk *chunk,
                           const char               *transfer_session_id,
                           MorangoWireJsonStyle      style)
{
  const char *comma = style == MORANGO_WIRE_JSON_PYTHON ? ", " : ",";
  guint h = 0;

  g_return_if_fail (out != NULL);
  g_return_if_fail (chunk != NULL);
  g_return_if_fail (transfer_session_id != NULL);

  g_string_append_c (out, '[');
  for (guint i = 0; i < chunk->records->len; i++)
    {
      const MorangoBufferRecord *r = &g_array_index (chunk->records, MorangoBufferRecord, i);
      gboolean first_item = TRUE;

      if (i > 0)
        g_string_append (out, comma);
      append_key (out, "serialized", TRUE, style);
      append_string (out, r->serialized ? r->serialized : "", style);
      append_key (out, "deleted", FALSE, style);
      g_string_append (out, r->deleted ? "true" : "false");
      append_key (out, "last_saved_instance", FALSE, style);
      append_string (out, r->last_saved_instance, style);
      append_key (out, "last_saved_counter", FALSE, style);
      g_string_append_printf (out, "%" G_GINT64_FORMAT, r->last_saved_counter);
      append_key (out, "hard_deleted", FALSE, style);
      g_string_append (out, r->hard_deleted ? "true" : "false");
      append_key (out, "partition", FALSE, style);
      append_string (out, r->partition, style);
      append_key (out, "source_id", FALSE, style);
      append_string (out, r->source_id, style);
      append_key (out, "model_name", FALSE, style);
      append_string (out, r->model_name, style);
      append_key (out, "conflicting_serialized_data", FALSE, style);
      append_string (out, r->conflicting_serialized_data ? r->conflicting_serialized_data : "", style);
      append_key (out, "model_uuid", FALSE, style);
      append_string (out, r->model_uuid, style);
      append_key (out, "transfer_session", FALSE, style);
      append_string (out, transfer_session_id, style);
      append_key (out, "profile", FALSE, style);
      append_string (out, r->profile, style);
      append_key (out, "rmcb_list", FALSE, style);
      g_string_append_c (out, '[');
      for (; h < chunk->history->len &&
             g_array_index (chunk->history, MorangoBufferHistory, h).record == i; h++)
        {
          const MorangoBufferHistory *e = &g_array_index (chunk->history, MorangoBufferHistory, h);

          if (!first_item)
            g_string_append (out, comma);
          first_item = FALSE;
          append_key (out, "transfer_session", TRUE, style);
          append_string (out, transfer_session_id, style);
          append_key (out, "model_uuid", FALSE, style);
          append_string (out, r->model_uuid, style);
          append_key (out, "instance_id", FALSE, style);
          append_string (out, e->instance_id, style);
          append_key (out, "counter", FALSE, style);
          g_string_append_printf (out, "%" G_GINT64_FORMAT "}", e->counter);
        }
      g_string_append_c (out, ']');
      append_key (out, "_self_ref_fk", FALSE, style);
      append_string (out, r->self_ref_fk ? r->self_ref_fk : "", style);
      g_string_append_c (out, '}');
    }
  g_string_append_c (out, ']');
}

char *
morango_wire_chunk_encode (const MorangoBufferChunk *chunk,
                           const char               *transfer_session_id,
                           MorangoWireJsonStyle      style)
{
  GString *out = g_string_sized_new (1024);

  morango_wire_chunk_append (out, chunk, transfer_session_id, style);
  return g_string_free (out, FALSE);
}

G_STATIC_ASSERT (G_N_ELEMENTS (record_keys) == 14);

static gboolean
decode_record (MorangoBufferChunk  *chunk,
               JsonNode            *node,
               guint                index,
               const char         **session,
               GError             **error)
{
  g_autofree char *what = g_strdup_printf (_("Buffer record %u"), index);
  MorangoBufferRecord r = { 0 };
  const char *ts = NULL;
  JsonObject *obj;
  JsonNode *list;
  JsonArray *items;

  if ((obj = object_of (node, what, error)) == NULL)
    return FALSE;
  /* Missing keys first, each by name, then anything else. */
  for (guint k = 0; k < G_N_ELEMENTS (record_keys); k++)
    if (!json_object_has_member (obj, record_keys[k]))
      return missing_key (what, record_keys[k], error);
  if (!only_keys (obj, what, record_keys, G_N_ELEMENTS (record_keys), error))
    return FALSE;

  if (!read_string (obj, what, "serialized", TRUE, FALSE, &r.serialized, error) ||
      !read_boolean (obj, what, "deleted", TRUE, &r.deleted, error) ||
      !read_string (obj, what, "last_saved_instance", TRUE, FALSE, &r.last_saved_instance, error) ||
      !read_count (obj, what, "last_saved_counter", TRUE, FALSE, &r.last_saved_counter, error) ||
      !read_boolean (obj, what, "hard_deleted", TRUE, &r.hard_deleted, error) ||
      !read_string (obj, what, "partition", TRUE, FALSE, &r.partition, error) ||
      !read_string (obj, what, "source_id", TRUE, FALSE, &r.source_id, error) ||
      !read_string (obj, what, "model_name", TRUE, FALSE, &r.model_name, error) ||
      !read_string (obj, what, "conflicting_serialized_data", TRUE, FALSE,
                    &r.conflicting_serialized_data, error) ||
      !read_string (obj, what, "model_uuid", TRUE, FALSE, &r.model_uuid, error) ||
      !read_string (obj, what, "transfer_session", TRUE, FALSE, &ts, error) ||
      !read_string (obj, what, "profile", TRUE, FALSE, &r.profile, error) ||
      !read_string (obj, what, "_self_ref_fk", TRUE, FALSE, &r.self_ref_fk, error))
    return FALSE;
  list = json_object_get_member (obj, "rmcb_list");
  if (!JSON_NODE_HOLDS_ARRAY (list))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("%s: the key “rmcb_list” must hold an array"), what);
      return FALSE;
    }

  if (*session == NULL)
    *session = ts;
  else if (strcmp (*session, ts) != 0)
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED,
                           _("All pushed records must be associated with the same TransferSession."));
      return FALSE;
    }

  morango_buffer_chunk_add_record (chunk, &r);
  items = json_node_get_array (list);
  for (guint i = 0; i < json_array_get_length (items); i++)
    {
      g_autofree char *item_what = g_strdup_printf (_("History item %u of buffer record %u"), i, index);
      const char *item_ts = NULL, *item_uuid = NULL, *instance = NULL;
      gint64 counter = 0;
      JsonObject *item;

      if ((item = object_of (json_array_get_element (items, i), item_what, error)) == NULL)
        return FALSE;
      for (guint k = 0; k < G_N_ELEMENTS (rmcb_keys); k++)
        if (!json_object_has_member (item, rmcb_keys[k]))
          return missing_key (item_what, rmcb_keys[k], error);
      if (!only_keys (item, item_what, rmcb_keys, G_N_ELEMENTS (rmcb_keys), error) ||
          !read_string (item, item_what, "transfer_session", TRUE, FALSE, &item_ts, error) ||
          !read_string (item, item_what, "model_uuid", TRUE, FALSE, &item_uuid, error) ||
          !read_string (item, item_what, "instance_id", TRUE, FALSE, &instance, error) ||
          !read_count (item, item_what, "counter", TRUE, FALSE, &counter, error))
        return FALSE;
      /* Morango's receipt checks of the history (correction 17). */
      if (strcmp (item_ts, ts) != 0)
        {
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_RECORD_REJECTED,
                       _("Transfer session on RMCB (%s) does not match Buffer's TransferSession "
                       "(TransferSession object (%s))"), item_ts, ts);
          return FALSE;
        }
      if (strcmp (item_uuid, r.model_uuid) != 0)
        {
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_RECORD_REJECTED,
                       _("Model UUID on RMCB (%s) does not match Buffer's Model UUID (%s)"),
                       item_uuid, r.model_uuid);
          return FALSE;
        }
      morango_buffer_chunk_add_history (chunk, instance, counter);
    }
  return TRUE;
}

static MorangoBufferChunk *
decode_records (JsonArray  *array,
                JsonNode   *single,
                char      **transfer_session_id,
                GError    **error)
{
  g_autoptr(MorangoBufferChunk) chunk = morango_buffer_chunk_new ();
  const char *session = NULL;
  guint n = array ? json_array_get_length (array) : 1;

  for (guint i = 0; i < n; i++)
    if (!decode_record (chunk, array ? json_array_get_element (array, i) : single, i, &session,
                        error))
      return NULL;
  if (transfer_session_id != NULL)
    *transfer_session_id = g_strdup (session);
  return g_steal_pointer (&chunk);
}

MorangoBufferChunk *
morango_wire_chunk_decode (JsonNode  *node,
                           char     **transfer_session_id,
                           GError   **error)
{
  g_return_val_if_fail (node != NULL, NULL);

  if (transfer_session_id != NULL)
    *transfer_session_id = NULL;
  if (JSON_NODE_HOLDS_ARRAY (node))
    return decode_records (json_node_get_array (node), NULL, transfer_session_id, error);
  if (JSON_NODE_HOLDS_OBJECT (node))
    return decode_records (NULL, node, transfer_session_id, error);
  g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                       _("A chunk must be an array of buffer records"));
  return NULL;
}

MorangoBufferChunk *
morango_wire_page_decode (JsonNode  *node,
                          char     **transfer_session_id,
                          gint64    *count,
                          GError   **error)
{
  const char *what = _("A page of buffer records");
  JsonObject *obj;
  JsonNode *results;
  const char *link = NULL;
  gint64 total = 0;

  g_return_val_if_fail (node != NULL, NULL);

  if (transfer_session_id != NULL)
    *transfer_session_id = NULL;
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      if (count != NULL)
        *count = json_array_get_length (json_node_get_array (node));
      return decode_records (json_node_get_array (node), NULL, transfer_session_id, error);
    }
  if ((obj = object_of (node, what, error)) == NULL ||
      !read_count (obj, what, "count", TRUE, FALSE, &total, error) ||
      !read_string (obj, what, "next", TRUE, TRUE, &link, error) ||
      !read_string (obj, what, "previous", TRUE, TRUE, &link, error))
    return NULL;
  results = json_object_get_member (obj, "results");
  if (results == NULL)
    {
      missing_key (what, "results", error);
      return NULL;
    }
  if (!JSON_NODE_HOLDS_ARRAY (results))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("%s: the key “results” must hold an array"), what);
      return NULL;
    }
  if (count != NULL)
    *count = total;
  return decode_records (json_node_get_array (results), NULL, transfer_session_id, error);
}

/* ---- building bodies ---- */

static void
add_string (JsonObject *obj,
            const char *key,
            const char *value)
{
  if (value != NULL)
    json_object_set_string_member (obj, key, value);
  else
    json_object_set_null_member (obj, key);
}

static char *
object_to_string (JsonObject           *obj,
                  MorangoWireJsonStyle  style)
{
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);

  json_node_take_object (node, obj);
  return morango_wire_json_to_string (node, style);
}

/* ---- sync sessions ---- */

void
morango_wire_sync_session_request_free (MorangoWireSyncSessionRequest *request)
{
  if (request == NULL)
    return;
  g_free (request->id);
  g_free (request->server_certificate_id);
  g_free (request->client_certificate_id);
  g_free (request->profile);
  g_free (request->certificate_chain);
  g_free (request->connection_path);
  g_free (request->instance);
  g_free (request->nonce);
  g_free (request->client_ip);
  g_free (request->server_ip);
  g_free (request->signature);
  g_free (request);
}

char *
morango_wire_sync_session_request_encode (const MorangoWireSyncSessionRequest *request)
{
  JsonObject *obj = json_object_new ();

  g_return_val_if_fail (request != NULL, NULL);

  /* The Python client's order (push.json, POST syncsessions/). */
  add_string (obj, "id", request->id);
  add_string (obj, "server_certificate_id", request->server_certificate_id);
  add_string (obj, "client_certificate_id", request->client_certificate_id);
  add_string (obj, "profile", request->profile);
  add_string (obj, "certificate_chain", request->certificate_chain);
  add_string (obj, "connection_path", request->connection_path);
  add_string (obj, "instance", request->instance);
  add_string (obj, "nonce", request->nonce);
  add_string (obj, "client_ip", request->client_ip ? request->client_ip : "");
  add_string (obj, "server_ip", request->server_ip ? request->server_ip : "");
  add_string (obj, "signature", request->signature);
  return object_to_string (obj, MORANGO_WIRE_JSON_PYTHON);
}

MorangoWireSyncSessionRequest *
morango_wire_sync_session_request_decode (JsonNode  *node,
                                          GError   **error)
{
  const char *what = _("The sync session request");
  g_autoptr(MorangoWireSyncSessionRequest) r = g_new0 (MorangoWireSyncSessionRequest, 1);
  g_autoptr(JsonNode) instance = NULL;
  JsonObject *obj;
  JsonNode *chain;

  if ((obj = object_of (node, what, error)) == NULL ||
      !read_dup (obj, what, "id", TRUE, FALSE, &r->id, error) ||
      !read_dup (obj, what, "server_certificate_id", TRUE, FALSE, &r->server_certificate_id, error) ||
      !read_dup (obj, what, "client_certificate_id", TRUE, FALSE, &r->client_certificate_id, error) ||
      !read_dup (obj, what, "profile", FALSE, FALSE, &r->profile, error) ||
      !read_dup (obj, what, "connection_path", TRUE, FALSE, &r->connection_path, error) ||
      !read_dup (obj, what, "instance", TRUE, FALSE, &r->instance, error) ||
      !read_dup (obj, what, "nonce", TRUE, FALSE, &r->nonce, error) ||
      !read_dup (obj, what, "client_ip", FALSE, FALSE, &r->client_ip, error) ||
      !read_dup (obj, what, "server_ip", FALSE, FALSE, &r->server_ip, error) ||
      !read_dup (obj, what, "signature", TRUE, FALSE, &r->signature, error))
    return NULL;

  chain = json_object_get_member (obj, "certificate_chain");
  if (chain == NULL)
    {
      missing_key (what, "certificate_chain", error);
      return NULL;
    }
  if (JSON_NODE_HOLDS_ARRAY (chain))
    r->certificate_chain = morango_json_dumps (chain);
  else if (node_is (chain, G_TYPE_STRING))
    r->certificate_chain = g_strdup (json_node_get_string (chain));
  else
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("%s: the key “certificate_chain” must hold a string or an array"), what);
      return NULL;
    }

  /* Both sides keep the instance as text; it must still be an object. */
  if ((instance = morango_wire_json_parse (r->instance, -1, NULL)) == NULL ||
      !JSON_NODE_HOLDS_OBJECT (instance))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("%s: the key “instance” must hold the text of a JSON object"), what);
      return NULL;
    }
  if (r->profile == NULL)
    r->profile = g_strdup ("");
  if (r->client_ip == NULL)
    r->client_ip = g_strdup ("");
  if (r->server_ip == NULL)
    r->server_ip = g_strdup ("");
  return g_steal_pointer (&r);
}

char *
morango_wire_sync_session_reply_encode (const char *signature,
                                        const char *server_instance)
{
  JsonObject *obj = json_object_new ();

  g_return_val_if_fail (signature != NULL, NULL);
  g_return_val_if_fail (server_instance != NULL, NULL);

  add_string (obj, "signature", signature);
  add_string (obj, "server_instance", server_instance);
  return object_to_string (obj, MORANGO_WIRE_JSON_COMPACT);
}

gboolean
morango_wire_sync_session_reply_decode (JsonNode  *node,
                                        char     **signature,
                                        char     **server_instance,
                                        GError   **error)
{
  const char *what = _("The sync session answer");
  g_autofree char *sig = NULL;
  g_autofree char *instance = NULL;
  JsonObject *obj;

  if ((obj = object_of (node, what, error)) == NULL ||
      !read_dup (obj, what, "signature", TRUE, FALSE, &sig, error) ||
      !read_dup (obj, what, "server_instance", FALSE, FALSE, &instance, error))
    return FALSE;
  if (signature != NULL)
    *signature = g_steal_pointer (&sig);
  if (server_instance != NULL)
    *server_instance = instance ? g_steal_pointer (&instance) : g_strdup ("{}");
  return TRUE;
}

void
morango_wire_sync_session_free (MorangoWireSyncSession *ss)
{
  if (ss == NULL)
    return;
  g_free (ss->id);
  g_free (ss->start_timestamp);
  g_free (ss->last_activity_timestamp);
  g_free (ss->client_certificate_id);
  g_free (ss->server_certificate_id);
  g_free (ss->profile);
  g_free (ss->connection_kind);
  g_free (ss->connection_path);
  g_free (ss->client_ip);
  g_free (ss->server_ip);
  g_free (ss->client_instance);
  g_free (ss->server_instance);
  g_free (ss);
}

char *
morango_wire_sync_session_encode (const MorangoWireSyncSession *ss)
{
  JsonObject *obj = json_object_new ();

  g_return_val_if_fail (ss != NULL, NULL);

  add_string (obj, "id", ss->id);
  add_string (obj, "start_timestamp", ss->start_timestamp);
  add_string (obj, "last_activity_timestamp", ss->last_activity_timestamp);
  json_object_set_boolean_member (obj, "active", ss->active);
  add_string (obj, "client_certificate", ss->client_certificate_id);
  add_string (obj, "server_certificate", ss->server_certificate_id);
  add_string (obj, "profile", ss->profile);
  add_string (obj, "connection_kind", ss->connection_kind);
  add_string (obj, "connection_path", ss->connection_path);
  add_string (obj, "client_ip", ss->client_ip);
  add_string (obj, "server_ip", ss->server_ip);
  add_string (obj, "client_instance", ss->client_instance);
  add_string (obj, "server_instance", ss->server_instance);
  return object_to_string (obj, MORANGO_WIRE_JSON_COMPACT);
}

MorangoWireSyncSession *
morango_wire_sync_session_decode (JsonNode  *node,
                                  GError   **error)
{
  const char *what = _("The sync session");
  g_autoptr(MorangoWireSyncSession) ss = g_new0 (MorangoWireSyncSession, 1);
  JsonObject *obj;

  if ((obj = object_of (node, what, error)) == NULL ||
      !read_dup (obj, what, "id", TRUE, FALSE, &ss->id, error) ||
      !read_dup (obj, what, "start_timestamp", FALSE, TRUE, &ss->start_timestamp, error) ||
      !read_dup (obj, what, "last_activity_timestamp", FALSE, TRUE, &ss->last_activity_timestamp,
                 error) ||
      !read_boolean (obj, what, "active", TRUE, &ss->active, error) ||
      !read_dup (obj, what, "client_certificate", FALSE, TRUE, &ss->client_certificate_id, error) ||
      !read_dup (obj, what, "server_certificate", FALSE, TRUE, &ss->server_certificate_id, error) ||
      !read_dup (obj, what, "profile", TRUE, FALSE, &ss->profile, error) ||
      !read_dup (obj, what, "connection_kind", FALSE, TRUE, &ss->connection_kind, error) ||
      !read_dup (obj, what, "connection_path", FALSE, TRUE, &ss->connection_path, error) ||
      !read_dup (obj, what, "client_ip", FALSE, TRUE, &ss->client_ip, error) ||
      !read_dup (obj, what, "server_ip", FALSE, TRUE, &ss->server_ip, error) ||
      !read_dup (obj, what, "client_instance", FALSE, TRUE, &ss->client_instance, error) ||
      !read_dup (obj, what, "server_instance", FALSE, TRUE, &ss->server_instance, error))
    return NULL;
  return g_steal_pointer (&ss);
}

/* ---- transfer sessions ---- */

void
morango_wire_transfer_info_clear (MorangoWireTransferInfo *info)
{
  g_clear_pointer (&info->start_timestamp, g_free);
  g_clear_pointer (&info->last_activity_timestamp, g_free);
  info->bytes_sent = info->bytes_received = 0;
}

char *
morango_wire_format_time (gint64 unix_usec)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (unix_usec / G_USEC_PER_SEC);
  g_autofree char *base = NULL;
  int usec = unix_usec % G_USEC_PER_SEC;

  if (dt == NULL)
    return g_strdup ("1970-01-01T00:00:00Z");
  base = g_date_time_format (dt, "%Y-%m-%dT%H:%M:%S");
  return usec != 0 ? g_strdup_printf ("%s.%06dZ", base, usec) : g_strdup_printf ("%sZ", base);
}

char *
morango_wire_transfer_session_encode (const MorangoTransferSession *ts,
                                      const MorangoWireTransferInfo *info)
{
  JsonObject *obj = json_object_new ();
  g_autofree char *now = NULL;

  g_return_val_if_fail (ts != NULL, NULL);

  if (info == NULL || info->start_timestamp == NULL || info->last_activity_timestamp == NULL)
    now = morango_wire_format_time (g_get_real_time ());
  /* Django REST framework's order (push.json). */
  add_string (obj, "id", ts->id);
  add_string (obj, "start_timestamp", info && info->start_timestamp ? info->start_timestamp : now);
  add_string (obj, "last_activity_timestamp",
              info && info->last_activity_timestamp ? info->last_activity_timestamp : now);
  json_object_set_boolean_member (obj, "active", ts->active);
  add_string (obj, "filter", ts->filter);
  json_object_set_boolean_member (obj, "push", ts->push);
  json_object_set_int_member (obj, "records_transferred", ts->records_transferred);
  if (ts->records_total >= 0)
    json_object_set_int_member (obj, "records_total", ts->records_total);
  else
    json_object_set_null_member (obj, "records_total");
  json_object_set_int_member (obj, "bytes_received", info ? info->bytes_received : 0);
  json_object_set_int_member (obj, "bytes_sent", info ? info->bytes_sent : 0);
  add_string (obj, "sync_session", ts->sync_session_id);
  add_string (obj, "server_fsic", ts->server_fsic ? ts->server_fsic : "{}");
  add_string (obj, "client_fsic", ts->client_fsic ? ts->client_fsic : "{}");
  add_string (obj, "transfer_stage", morango_stage_to_string (ts->stage));
  add_string (obj, "transfer_stage_status", morango_stage_status_to_string (ts->status));
  return object_to_string (obj, MORANGO_WIRE_JSON_COMPACT);
}

MorangoTransferSession *
morango_wire_transfer_session_decode (JsonNode                 *node,
                                      MorangoWireTransferInfo  *info,
                                      GError                  **error)
{
  const char *what = _("The transfer session");
  g_autoptr(MorangoTransferSession) ts = g_new0 (MorangoTransferSession, 1);
  const char *stage = NULL, *status = NULL;
  gint64 bytes_sent = 0, bytes_received = 0;
  JsonObject *obj;

  ts->records_total = -1;
  if ((obj = object_of (node, what, error)) == NULL ||
      !read_dup (obj, what, "id", TRUE, FALSE, &ts->id, error) ||
      !read_boolean (obj, what, "active", TRUE, &ts->active, error) ||
      !read_dup (obj, what, "filter", TRUE, FALSE, &ts->filter, error) ||
      !read_boolean (obj, what, "push", TRUE, &ts->push, error) ||
      !read_count (obj, what, "records_transferred", TRUE, FALSE, &ts->records_transferred, error) ||
      !read_count (obj, what, "records_total", FALSE, TRUE, &ts->records_total, error) ||
      !read_count (obj, what, "bytes_sent", FALSE, TRUE, &bytes_sent, error) ||
      !read_count (obj, what, "bytes_received", FALSE, TRUE, &bytes_received, error) ||
      !read_dup (obj, what, "sync_session", TRUE, FALSE, &ts->sync_session_id, error) ||
      !read_dup (obj, what, "server_fsic", FALSE, FALSE, &ts->server_fsic, error) ||
      !read_dup (obj, what, "client_fsic", FALSE, FALSE, &ts->client_fsic, error) ||
      !read_string (obj, what, "transfer_stage", FALSE, TRUE, &stage, error) ||
      !read_string (obj, what, "transfer_stage_status", FALSE, TRUE, &status, error))
    return NULL;

  ts->stage = MORANGO_STAGE_INITIALIZING;
  ts->status = MORANGO_STAGE_STATUS_PENDING;
  if (stage != NULL && !morango_stage_from_string (stage, &ts->stage))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID, _("%s is at an unknown stage “%s”"),
                   what, stage);
      return NULL;
    }
  if (status != NULL && !morango_stage_status_from_string (status, &ts->status))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID, _("%s has an unknown status “%s”"),
                   what, status);
      return NULL;
    }
  if (ts->server_fsic == NULL)
    ts->server_fsic = g_strdup ("{}");
  if (ts->client_fsic == NULL)
    ts->client_fsic = g_strdup ("{}");

  if (info != NULL)
    {
      const char *start = NULL, *last = NULL;

      /* Informational: a wrong type there is ignored, not refused. */
      read_string (obj, what, "start_timestamp", FALSE, TRUE, &start, NULL);
      read_string (obj, what, "last_activity_timestamp", FALSE, TRUE, &last, NULL);
      info->start_timestamp = g_strdup (start);
      info->last_activity_timestamp = g_strdup (last);
      info->bytes_sent = MAX (bytes_sent, 0);
      info->bytes_received = MAX (bytes_received, 0);
    }
  return g_steal_pointer (&ts);
}

char *
morango_wire_transfer_request_encode (const MorangoTransferSession *request)
{
  JsonObject *obj = json_object_new ();

  g_return_val_if_fail (request != NULL, NULL);

  add_string (obj, "id", request->id);
  add_string (obj, "filter", request->filter);
  json_object_set_boolean_member (obj, "push", request->push);
  add_string (obj, "sync_session_id", request->sync_session_id);
  add_string (obj, "client_fsic", request->client_fsic ? request->client_fsic : "{}");
  if (request->records_total >= 0)
    json_object_set_int_member (obj, "records_total", request->records_total);
  return object_to_string (obj, MORANGO_WIRE_JSON_PYTHON);
}

MorangoTransferSession *
morango_wire_transfer_request_decode (JsonNode  *node,
                                      GError   **error)
{
  const char *what = _("The transfer session request");
  g_autoptr(MorangoTransferSession) ts = g_new0 (MorangoTransferSession, 1);
  JsonObject *obj;

  ts->records_total = -1;
  ts->active = TRUE;
  if ((obj = object_of (node, what, error)) == NULL ||
      !read_dup (obj, what, "id", TRUE, FALSE, &ts->id, error) ||
      !read_dup (obj, what, "filter", TRUE, FALSE, &ts->filter, error) ||
      !read_boolean (obj, what, "push", TRUE, &ts->push, error) ||
      !read_dup (obj, what, "sync_session_id", TRUE, FALSE, &ts->sync_session_id, error) ||
      !read_dup (obj, what, "client_fsic", FALSE, FALSE, &ts->client_fsic, error) ||
      !read_count (obj, what, "records_total", FALSE, TRUE, &ts->records_total, error))
    return NULL;
  if (ts->client_fsic == NULL)
    ts->client_fsic = g_strdup ("{}");
  ts->server_fsic = g_strdup ("{}");
  ts->stage = MORANGO_STAGE_INITIALIZING;
  ts->status = MORANGO_STAGE_STATUS_PENDING;
  return g_steal_pointer (&ts);
}

void
morango_wire_transfer_update_clear (MorangoWireTransferUpdate *update)
{
  g_clear_pointer (&update->client_fsic, g_free);
}

char *
morango_wire_transfer_update_encode (const MorangoWireTransferUpdate *update)
{
  JsonObject *obj = json_object_new ();

  g_return_val_if_fail (update != NULL, NULL);

  /* The Python client's order: what it sends, then the stage. */
  if (update->client_fsic != NULL)
    add_string (obj, "client_fsic", update->client_fsic);
  if (update->records_total >= 0)
    json_object_set_int_member (obj, "records_total", update->records_total);
  if (update->has_stage)
    add_string (obj, "transfer_stage", morango_stage_to_string (update->stage));
  if (update->records_transferred >= 0)
    json_object_set_int_member (obj, "records_transferred", update->records_transferred);
  if (update->bytes_received >= 0)
    json_object_set_int_member (obj, "bytes_received", update->bytes_received);
  if (update->bytes_sent >= 0)
    json_object_set_int_member (obj, "bytes_sent", update->bytes_sent);
  return object_to_string (obj, MORANGO_WIRE_JSON_PYTHON);
}

gboolean
morango_wire_transfer_update_decode (JsonNode                   *node,
                                     MorangoWireTransferUpdate  *update,
                                     GError                    **error)
{
  const char *what = _("The transfer session update");
  MorangoWireTransferUpdate u = MORANGO_WIRE_TRANSFER_UPDATE_INIT;
  const char *stage = NULL;
  JsonObject *obj;

  g_return_val_if_fail (update != NULL, FALSE);

  if ((obj = object_of (node, what, error)) == NULL ||
      !read_string (obj, what, "transfer_stage", FALSE, FALSE, &stage, error) ||
      !read_dup (obj, what, "client_fsic", FALSE, FALSE, &u.client_fsic, error))
    goto fail;
  if (!read_count (obj, what, "records_total", FALSE, FALSE, &u.records_total, error) ||
      !read_count (obj, what, "records_transferred", FALSE, FALSE, &u.records_transferred, error) ||
      !read_count (obj, what, "bytes_sent", FALSE, FALSE, &u.bytes_sent, error) ||
      !read_count (obj, what, "bytes_received", FALSE, FALSE, &u.bytes_received, error))
    goto fail;
  if (stage != NULL)
    {
      if (!morango_stage_from_string (stage, &u.stage))
        {
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID, _("Unknown transfer stage “%s”"),
                       stage);
          goto fail;
        }
      u.has_stage = TRUE;
    }
  *update = u;
  return TRUE;

fail:
  morango_wire_transfer_update_clear (&u);
  return FALSE;
}
