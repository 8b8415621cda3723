/* morango-fsic.c: FSIC algorithms on in-memory maps (protocol §3.6–§3.9)
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include "morango-error.h"
#include "morango-fsic.h"
#include "morango-json.h"
#include "morango-i18n-private.h"

/* ---- counter maps ------------------------------------------------------ */

GHashTable *
morango_counters_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

void
morango_counters_set (GHashTable *counters,
                      const char *instance_id,
                      gint64      counter)
{
  gint64 *value = g_new (gint64, 1);

  *value = counter;
  g_hash_table_insert (counters, g_strdup (instance_id), value);
}

gboolean
morango_counters_lookup (GHashTable *counters,
                         const char *instance_id,
                         gint64     *counter)
{
  gint64 *value;

  if (counters == NULL)
    return FALSE;
  value = g_hash_table_lookup (counters, instance_id);
  if (value == NULL)
    return FALSE;
  if (counter != NULL)
    *counter = *value;
  return TRUE;
}

static GHashTable *
counters_copy (GHashTable *counters)
{
  GHashTable *copy = morango_counters_new ();
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, counters);
  while (g_hash_table_iter_next (&iter, &key, &value))
    morango_counters_set (copy, key, *(gint64 *) value);
  return copy;
}

GHashTable *
morango_partition_counters_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                (GDestroyNotify) g_hash_table_unref);
}

GHashTable *
morango_partition_counters_ensure (GHashTable *map,
                                   const char *partition)
{
  GHashTable *counters = g_hash_table_lookup (map, partition);

  if (counters == NULL)
    {
      counters = morango_counters_new ();
      g_hash_table_insert (map, g_strdup (partition), counters);
    }
  return counters;
}

GHashTable *
morango_partition_counters_copy (GHashTable *map)
{
  GHashTable *copy = morango_partition_counters_new ();
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, map);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_insert (copy, g_strdup (key), counters_copy (value));
  return copy;
}

gsize
morango_partition_counters_size (GHashTable *map)
{
  GHashTableIter iter;
  gpointer value;
  gsize size = 0;

  g_hash_table_iter_init (&iter, map);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    size += 1 + g_hash_table_size (value);
  return size;
}

/* Calls @func for every key of @map that is a prefix of @partition
 * (including @partition itself when @include_self).  Whichever is
 * cheaper: probing each prefix of @partition, or walking the map. */
typedef void (*PrefixFunc) (const char *key, GHashTable *value, gpointer data);

static void
foreach_prefix_key (GHashTable *map,
                    const char *partition,
                    gboolean    include_self,
                    PrefixFunc  func,
                    gpointer    data)
{
  gsize len = strlen (partition);

  if (g_hash_table_size (map) <= len + 1)
    {
      GHashTableIter iter;
      gpointer key, value;

      g_hash_table_iter_init (&iter, map);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          gsize klen = strlen (key);

          if (klen > len || (!include_self && klen == len))
            continue;
          if (memcmp (partition, key, klen) == 0)
            func (key, value, data);
        }
    }
  else
    {
      g_autofree char *probe = g_strdup (partition);
      gsize end = include_self ? len : len - (len > 0 ? 1 : 0);

      if (!include_self && len == 0)
        return;
      for (gsize l = 0; l <= end; l++)
        {
          char saved = probe[l];
          gpointer key, value;

          probe[l] = '\0';
          if (g_hash_table_lookup_extended (map, probe, &key, &value))
            func (key, value, data);
          probe[l] = saved;
        }
    }
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static GPtrArray *
sorted_keys (GHashTable *table)
{
  GPtrArray *keys = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, table);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (keys, key);
  g_ptr_array_sort (keys, compare_strings);
  return keys;
}

/* ---- JSON ------------------------------------------------------------- */

GHashTable *
morango_counters_from_json (JsonNode   *node,
                            const char *what,
                            GError    **error)
{
  g_autoptr(GHashTable) counters = morango_counters_new ();
  JsonObjectIter iter;
  const char *member;
  JsonNode *value;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID_FSIC,
                   _("%s is not a JSON object of instance counters"), what);
      return NULL;
    }

  json_object_iter_init (&iter, json_node_get_object (node));
  while (json_object_iter_next (&iter, &member, &value))
    {
      gint64 n;

      if (!JSON_NODE_HOLDS_VALUE (value) ||
          json_node_get_value_type (value) != G_TYPE_INT64 ||
          (n = json_node_get_int (value)) < 0)
        {
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID_FSIC,
                       _("%s: the counter of instance “%s” is not a non-negative integer"),
                       what, member);
          return NULL;
        }
      morango_counters_set (counters, member, n);
    }
  return g_steal_pointer (&counters);
}

GHashTable *
morango_partition_counters_from_json (JsonNode   *node,
                                      const char *what,
                                      GError    **error)
{
  g_autoptr(GHashTable) map = morango_partition_counters_new ();
  JsonObjectIter iter;
  const char *member;
  JsonNode *value;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID_FSIC,
                   _("%s is not a JSON object of partitions"), what);
      return NULL;
    }

  json_object_iter_init (&iter, json_node_get_object (node));
  while (json_object_iter_next (&iter, &member, &value))
    {
      g_autofree char *inner_what = g_strdup_printf ("%s, partition “%s”,", what, member);
      GHashTable *counters = morango_counters_from_json (value, inner_what, error);

      if (counters == NULL)
        return NULL;
      g_hash_table_insert (map, g_strdup (member), counters);
    }
  return g_steal_pointer (&map);
}

JsonNode *
morango_counters_to_json (GHashTable *counters)
{
  g_autoptr(GPtrArray) keys = sorted_keys (counters);
  JsonObject *object = json_object_new ();

  for (guint i = 0; i < keys->len; i++)
    {
      gint64 n = 0;

      morango_counters_lookup (counters, keys->pdata[i], &n);
      json_object_set_int_member (object, keys->pdata[i], n);
    }
  return json_node_init_object (json_node_alloc (), object);
}

JsonNode *
morango_partition_counters_to_json (GHashTable *map)
{
  g_autoptr(GPtrArray) keys = sorted_keys (map);
  JsonObject *object = json_object_new ();

  for (guint i = 0; i < keys->len; i++)
    json_object_set_member (object, keys->pdata[i],
                            morango_counters_to_json (g_hash_table_lookup (map, keys->pdata[i])));
  return json_node_init_object (json_node_alloc (), object);
}

/* ---- FSIC ------------------------------------------------------------- */

MorangoFsic *
morango_fsic_new (MorangoFsicFormat format)
{
  MorangoFsic *fsic = g_new0 (MorangoFsic, 1);

  g_return_val_if_fail (format == MORANGO_FSIC_V1 || format == MORANGO_FSIC_V2, NULL);

  fsic->format = format;
  if (format == MORANGO_FSIC_V1)
    fsic->counters = morango_counters_new ();
  else
    {
      fsic->super_ = morango_partition_counters_new ();
      fsic->sub = morango_partition_counters_new ();
    }
  return fsic;
}

void
morango_fsic_free (MorangoFsic *fsic)
{
  if (fsic == NULL)
    return;
  g_clear_pointer (&fsic->counters, g_hash_table_unref);
  g_clear_pointer (&fsic->super_, g_hash_table_unref);
  g_clear_pointer (&fsic->sub, g_hash_table_unref);
  g_free (fsic);
}

MorangoFsic *
morango_fsic_new_from_json (JsonNode          *node,
                            MorangoFsicFormat  format,
                            GError           **error)
{
  g_autoptr(MorangoFsic) fsic = NULL;
  JsonObject *object;
  JsonNode *super_node, *sub_node;

  g_return_val_if_fail (format == MORANGO_FSIC_V1 || format == MORANGO_FSIC_V2, NULL);

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_INVALID_FSIC,
                           _("The FSIC is not a JSON object"));
      return NULL;
    }

  fsic = morango_fsic_new (format);
  object = json_node_get_object (node);

  if (format == MORANGO_FSIC_V1)
    {
      g_clear_pointer (&fsic->counters, g_hash_table_unref);
      fsic->counters = morango_counters_from_json (node, _("The v1 FSIC"), error);
      if (fsic->counters == NULL)
        return NULL;
      return g_steal_pointer (&fsic);
    }

  /* A legacy peer sends "{}" and never updates it (quirk 10).  Python
   * fails on it; reading it as "knows nothing" is the safe reading: the
   * sender then offers everything and the receiver drops what it has. */
  if (json_object_get_size (object) == 0)
    return g_steal_pointer (&fsic);

  super_node = json_object_get_member (object, "super");
  sub_node = json_object_get_member (object, "sub");
  if (super_node == NULL || sub_node == NULL)
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_INVALID_FSIC,
                           _("The v2 FSIC lacks its “super” or “sub” section"));
      return NULL;
    }

  g_clear_pointer (&fsic->super_, g_hash_table_unref);
  g_clear_pointer (&fsic->sub, g_hash_table_unref);
  fsic->super_ = morango_partition_counters_from_json (super_node, "The FSIC’s “super” section", error);
  if (fsic->super_ == NULL)
    return NULL;
  fsic->sub = morango_partition_counters_from_json (sub_node, "The FSIC’s “sub” section", error);
  if (fsic->sub == NULL)
    return NULL;
  return g_steal_pointer (&fsic);
}

MorangoFsic *
morango_fsic_parse (const char        *text,
                    MorangoFsicFormat  format,
                    GError           **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (text != NULL, NULL);

  if (!json_parser_load_from_data (parser, text, -1, &local_error))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID_FSIC,
                   _("The FSIC is not valid JSON: %s"), local_error->message);
      return NULL;
    }
  return morango_fsic_new_from_json (json_parser_get_root (parser), format, error);
}

JsonNode *
morango_fsic_to_json (MorangoFsic *fsic)
{
  JsonObject *object;

  g_return_val_if_fail (fsic != NULL, NULL);

  if (fsic->format == MORANGO_FSIC_V1)
    return morango_counters_to_json (fsic->counters);

  /* "super" first, as Python builds it. */
  object = json_object_new ();
  json_object_set_member (object, "super", morango_partition_counters_to_json (fsic->super_));
  json_object_set_member (object, "sub", morango_partition_counters_to_json (fsic->sub));
  return json_node_init_object (json_node_alloc (), object);
}

char *
morango_fsic_to_string (MorangoFsic *fsic)
{
  g_autoptr(JsonNode) node = morango_fsic_to_json (fsic);

  return morango_json_dumps (node);
}

gboolean
morango_fsic_check_partitions (MorangoFsic        *fsic,
                               const char * const *filter_entries,
                               GError            **error)
{
  g_autoptr(GPtrArray) keys = NULL;

  g_return_val_if_fail (fsic != NULL, FALSE);

  if (fsic->format != MORANGO_FSIC_V2)
    return TRUE;

  keys = sorted_keys (fsic->sub);
  for (guint i = 0; i < keys->len; i++)
    {
      const char *partition = keys->pdata[i];
      gboolean inside = FALSE;

      for (guint j = 0; filter_entries[j] != NULL && !inside; j++)
        inside = morango_partition_has_prefix (partition, filter_entries[j]);
      if (!inside)
        {
          /* The text of Python's MorangoInvalidFSICPartition. */
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID_FSIC_PARTITION,
                       _("Partition '%s' is not in filter"), partition);
          return FALSE;
        }
    }
  return TRUE;
}

/* ---- redundancy removal ------------------------------------------------ */

typedef struct {
  const char *instance_id;
  gint64      counter;
  gboolean    covered;
} CoverCheck;

static void
check_cover (const char *key,
             GHashTable *counters,
             gpointer    data)
{
  CoverCheck *check = data;
  gint64 n;

  if (morango_counters_lookup (counters, check->instance_id, &n) && n >= check->counter)
    check->covered = TRUE;
}

static void
remove_covered (GHashTable *section,
                GHashTable *orig_super,
                GHashTable *orig_sub)
{
  GHashTableIter piter;
  gpointer partition, counters;

  g_hash_table_iter_init (&piter, section);
  while (g_hash_table_iter_next (&piter, &partition, &counters))
    {
      GHashTableIter iiter;
      gpointer instance, value;

      g_hash_table_iter_init (&iiter, counters);
      while (g_hash_table_iter_next (&iiter, &instance, &value))
        {
          CoverCheck check = { instance, *(gint64 *) value, FALSE };

          /* Compare against the original maps so that the order of
           * removal cannot matter. */
          foreach_prefix_key (orig_super, partition, FALSE, check_cover, &check);
          if (!check.covered)
            foreach_prefix_key (orig_sub, partition, FALSE, check_cover, &check);
          if (check.covered)
            g_hash_table_iter_remove (&iiter);
        }
    }
}

void
morango_fsic_remove_redundant (MorangoFsic *fsic)
{
  g_autoptr(GHashTable) orig_super = NULL;
  g_autoptr(GHashTable) orig_sub = NULL;

  g_return_if_fail (fsic != NULL && fsic->format == MORANGO_FSIC_V2);

  orig_super = morango_partition_counters_copy (fsic->super_);
  orig_sub = morango_partition_counters_copy (fsic->sub);
  remove_covered (fsic->super_, orig_super, orig_sub);
  remove_covered (fsic->sub, orig_super, orig_sub);
}

/* ---- expansion --------------------------------------------------------- */

static void
raise_from (const char *key,
            GHashTable *super_counters,
            gpointer    data)
{
  GHashTable *target = data;
  GHashTableIter iter;
  gpointer instance, value;

  g_hash_table_iter_init (&iter, super_counters);
  while (g_hash_table_iter_next (&iter, &instance, &value))
    {
      gint64 have;

      if (!morango_counters_lookup (target, instance, &have) || have < *(gint64 *) value)
        morango_counters_set (target, instance, *(gint64 *) value);
    }
}

static void
mark_found (const char *key,
            GHashTable *value,
            gpointer    data)
{
  *(gboolean *) data = TRUE;
}

GHashTable *
morango_fsic_expand (MorangoFsic        *fsic,
                     const char * const *filter_entries)
{
  g_autoptr(GHashTable) expanded = NULL;
  g_autoptr(GPtrArray) parts = NULL;

  g_return_val_if_fail (fsic != NULL && fsic->format == MORANGO_FSIC_V2, NULL);

  expanded = morango_partition_counters_copy (fsic->sub);
  for (guint i = 0; filter_entries[i] != NULL; i++)
    morango_partition_counters_ensure (expanded, filter_entries[i]);

  /* Decide which partitions are subordinate before raising anything, so
   * the outcome does not depend on iteration order. */
  parts = sorted_keys (expanded);
  for (guint i = 0; i < parts->len; i++)
    {
      const char *partition = parts->pdata[i];
      gboolean subordinate = FALSE;

      foreach_prefix_key (expanded, partition, FALSE, mark_found, &subordinate);
      if (subordinate)
        parts->pdata[i] = NULL;
    }
  for (guint i = 0; i < parts->len; i++)
    {
      const char *partition = parts->pdata[i];

      if (partition == NULL)
        continue;
      foreach_prefix_key (fsic->super_, partition, TRUE, raise_from,
                          g_hash_table_lookup (expanded, partition));
    }

  {
    GHashTableIter iter;
    gpointer counters;

    g_hash_table_iter_init (&iter, expanded);
    while (g_hash_table_iter_next (&iter, NULL, &counters))
      if (g_hash_table_size (counters) == 0)
        g_hash_table_iter_remove (&iter);
  }
  return g_steal_pointer (&expanded);
}

/* ---- diffs ------------------------------------------------------------- */

typedef struct {
  const char *instance_id;
  gint64      best;
} BestCounter;

static void
take_best (const char *key,
           GHashTable *counters,
           gpointer    data)
{
  BestCounter *best = data;
  gint64 n;

  if (morango_counters_lookup (counters, best->instance_id, &n) && n > best->best)
    best->best = n;
}

GHashTable *
morango_fsic_diff_v2 (GHashTable *sender,
                      GHashTable *receiver)
{
  GHashTable *diff = morango_partition_counters_new ();
  GHashTableIter piter;
  gpointer partition, counters;

  g_hash_table_iter_init (&piter, sender);
  while (g_hash_table_iter_next (&piter, &partition, &counters))
    {
      GHashTableIter iiter;
      gpointer instance, value;

      g_hash_table_iter_init (&iiter, counters);
      while (g_hash_table_iter_next (&iiter, &instance, &value))
        {
          BestCounter best = { instance, 0 };

          /* Only receiver partitions can contribute a counter; sender-only
           * keys of the union would give 0 anyway. */
          foreach_prefix_key (receiver, partition, TRUE, take_best, &best);
          if (best.best < *(gint64 *) value)
            morango_counters_set (morango_partition_counters_ensure (diff, partition),
                                  instance, best.best);
        }
    }
  return diff;
}

GHashTable *
morango_fsic_diff_v1 (GHashTable *sender,
                      GHashTable *receiver)
{
  GHashTable *diff = morango_counters_new ();
  GHashTableIter iter;
  gpointer instance, value;

  g_hash_table_iter_init (&iter, sender);
  while (g_hash_table_iter_next (&iter, &instance, &value))
    {
      gint64 have = 0;

      morango_counters_lookup (receiver, instance, &have);
      if (have < *(gint64 *) value)
        morango_counters_set (diff, instance, have);
    }
  return diff;
}
