/* morango-scope-words.c: scopes and ids as a person reads them
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "morango-scope-words.h"


static gboolean
is_hex32_at (const char *p)
{
  for (guint i = 0; i < 32; i++)
    if (!g_ascii_isxdigit (p[i]))
      return FALSE;
  return !g_ascii_isxdigit (p[32]);
}

/* Ids are 32 hex digits: their first 8 tell them apart for a person and
 * keep a partition on one line at 360 px; tooltips carry the whole. */
char *
morango_shorten_ids (const char *raw)
{
  /* Partitions come from peers: bytes that are not UTF-8 must not
   * reach a label. */
  g_autofree char *text = g_utf8_make_valid (raw, -1);
  GString *out = g_string_new (NULL);

  for (const char *p = text; *p != '\0';)
    {
      if ((p == text || !g_ascii_isxdigit (p[-1])) && is_hex32_at (p))
        {
          g_string_append_len (out, p, 8);
          g_string_append (out, "…");
          p += 32;
        }
      else
        g_string_append_c (out, *p++);
    }
  return g_string_free (out, FALSE);
}

static const char *
definition_in_words (const char *definition)
{
  if (g_strcmp0 (definition, "full-facility") == 0)
    return _("Full facility");
  if (g_strcmp0 (definition, "single-user") == 0)
    return _("Single learner");
  return definition;
}

static const char *
param_in_words (const char *key)
{
  if (g_str_equal (key, "dataset_id"))
    return _("facility");
  if (g_str_equal (key, "user_id"))
    return _("learner");
  return key;
}

char *
morango_scope_in_words (const char *definition,
                        const char *params_json)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GString) params = g_string_new (NULL);

  if (params_json != NULL &&
      json_parser_load_from_data (parser, params_json, -1, NULL) &&
      JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      JsonObject *object = json_node_get_object (json_parser_get_root (parser));
      g_autoptr(GList) members = json_object_get_members (object);

      for (GList *l = members; l != NULL; l = l->next)
        {
          JsonNode *value = json_object_get_member (object, l->data);
          g_autofree char *shown = NULL;

          if (!JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_STRING)
            continue;
          shown = morango_shorten_ids (json_node_get_string (value));
          g_string_append_printf (params, "%s%s %s", params->len > 0 ? ", " : "",
                                  param_in_words (l->data), shown);
        }
    }
  if (params->len == 0)
    return g_strdup (definition_in_words (definition));
  /* TRANSLATORS: a scope: its kind, then its parameters ("Full facility — facility 1a2b3c4d…") */
  return g_strdup_printf (_("%s — %s"), definition_in_words (definition), params->str);
}
