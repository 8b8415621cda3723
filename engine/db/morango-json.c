/* morango-json.c: JSON text as Python's json.dumps writes it
 *
 * Morango keeps several JSON texts opaque (record bodies, FSICs,
 * certificate texts), so what we write should read the same to a Python
 * peer and to a person diffing the two.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "morango-error.h"
#include "morango-json.h"
#include "morango-i18n-private.h"

void
morango_json_append_string (GString    *out,
                            const char *text)
{
  g_string_append_c (out, '"');
  for (const char *p = text; *p != '\0'; )
    {
      guchar c = (guchar) *p;

      if (c < 0x80)
        {
          switch (c)
            {
            case '"':  g_string_append (out, "\\\""); break;
            case '\\': g_string_append (out, "\\\\"); break;
            case '\n': g_string_append (out, "\\n"); break;
            case '\r': g_string_append (out, "\\r"); break;
            case '\t': g_string_append (out, "\\t"); break;
            case '\b': g_string_append (out, "\\b"); break;
            case '\f': g_string_append (out, "\\f"); break;
            default:
              if (c < 0x20)
                g_string_append_printf (out, "\\u%04x", c);
              else
                g_string_append_c (out, (char) c);
            }
          p++;
          continue;
        }

      {
        gunichar u = g_utf8_get_char_validated (p, -1);

        if (u == (gunichar) -1 || u == (gunichar) -2)
          {
            /* Not UTF-8: Python would have failed earlier; write the
             * replacement character rather than invalid JSON. */
            g_string_append (out, "\\ufffd");
            p++;
            continue;
          }
        if (u >= 0x10000)
          {
            gunichar v = u - 0x10000;
            g_string_append_printf (out, "\\u%04x\\u%04x",
                                    0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
          }
        else
          g_string_append_printf (out, "\\u%04x", u);
        p = g_utf8_next_char (p);
      }
    }
  g_string_append_c (out, '"');
}

void
morango_json_append_double (GString *out,
                            double   value)
{
  char buf[64];
  char digits[32];
  int ndigits = 0;
  int exp10;
  char *e;

  if (isnan (value))
    {
      g_string_append (out, "NaN");
      return;
    }
  if (isinf (value))
    {
      g_string_append (out, value > 0 ? "Infinity" : "-Infinity");
      return;
    }
  if (value == 0)
    {
      g_string_append (out, signbit (value) ? "-0.0" : "0.0");
      return;
    }

  /* The shortest mantissa that reads back as the same double. */
  for (int prec = 1; prec <= 17; prec++)
    {
      g_snprintf (buf, sizeof buf, "%.*e", prec - 1, value);
      if (g_ascii_strtod (buf, NULL) == value)
        break;
    }

  e = strchr (buf, 'e');
  exp10 = atoi (e + 1);
  for (char *p = buf; p < e; p++)
    if (g_ascii_isdigit (*p))
      digits[ndigits++] = *p;
  while (ndigits > 1 && digits[ndigits - 1] == '0')
    ndigits--;
  digits[ndigits] = '\0';

  if (value < 0)
    g_string_append_c (out, '-');

  /* Python's repr switches to exponent form outside 1e-4 <= |x| < 1e16. */
  if (exp10 < -4 || exp10 >= 16)
    {
      g_string_append_c (out, digits[0]);
      if (ndigits > 1)
        {
          g_string_append_c (out, '.');
          g_string_append (out, digits + 1);
        }
      g_string_append_printf (out, "e%c%02d", exp10 < 0 ? '-' : '+', ABS (exp10));
    }
  else if (exp10 < 0)
    {
      g_string_append (out, "0.");
      for (int i = 0; i < -exp10 - 1; i++)
        g_string_append_c (out, '0');
      g_string_append (out, digits);
    }
  else
    {
      for (int i = 0; i <= exp10; i++)
        g_string_append_c (out, i < ndigits ? digits[i] : '0');
      g_string_append_c (out, '.');
      if (ndigits > exp10 + 1)
        g_string_append (out, digits + exp10 + 1);
      else
        g_string_append_c (out, '0');
    }
}

void
morango_json_append (GString  *out,
                     JsonNode *node)
{
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      g_string_append (out, "null");
      return;
    }

  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObject *object = json_node_get_object (node);
        g_autoptr(GList) members = json_object_get_members (object);
        gboolean first = TRUE;

        g_string_append_c (out, '{');
        for (GList *l = members; l != NULL; l = l->next)
          {
            if (!first)
              g_string_append (out, ", ");
            first = FALSE;
            morango_json_append_string (out, l->data);
            g_string_append (out, ": ");
            morango_json_append (out, json_object_get_member (object, l->data));
          }
        g_string_append_c (out, '}');
      }
      break;

    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);

        g_string_append_c (out, '[');
        for (guint i = 0; i < json_array_get_length (array); i++)
          {
            if (i > 0)
              g_string_append (out, ", ");
            morango_json_append (out, json_array_get_element (array, i));
          }
        g_string_append_c (out, ']');
      }
      break;

    case JSON_NODE_VALUE:
      switch (json_node_get_value_type (node))
        {
        case G_TYPE_STRING:
          morango_json_append_string (out, json_node_get_string (node));
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

    case JSON_NODE_NULL:
    default:
      g_string_append (out, "null");
      break;
    }
}

char *
morango_json_dumps (JsonNode *node)
{
  GString *out = g_string_new (NULL);

  morango_json_append (out, node);
  return g_string_free (out, FALSE);
}

char *
morango_json_dumps_object (JsonObject *object)
{
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);

  json_node_set_object (node, object);
  return morango_json_dumps (node);
}

JsonNode *
morango_json_parse (const char  *text,
                    const char  *what,
                    GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) local_error = NULL;
  JsonNode *root;

  if (text == NULL || !json_parser_load_from_data (parser, text, -1, &local_error))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("%s is not valid JSON: %s"), what,
                   local_error ? local_error->message : "no text");
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID, _("%s is empty"), what);
      return NULL;
    }
  return json_node_ref (root);
}

JsonObject *
morango_json_parse_object (const char  *text,
                           const char  *what,
                           GError     **error)
{
  g_autoptr(JsonNode) root = morango_json_parse (text, what, error);

  if (root == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("%s must be a JSON object"), what);
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}
