/* morango-profile.c: the syncable models of a profile, read from a description
 *
 * SPDX-License-Identifier: MIT
 *
 * The description (docs/profiles.md) holds everything model-specific:
 * the C code below knows no model by name.
 */

#include <string.h>

#include "morango-ids.h"
#include "morango-profile-private.h"
#include "morango-i18n-private.h"

struct _MorangoProfile
{
  GObject     parent_instance;
  char       *description_id;
  char       *name;
  GPtrArray  *models;             /* MorangoModel*, registry order */
  GHashTable *models_by_name;     /* borrowed name -> MorangoModel* */
  char      **model_names;        /* NULL-terminated, borrowed strings */
  GPtrArray  *scope_definitions;  /* MorangoScopeDefinition* */
  JsonObject *people_object;      /* keeps the strings of people */
  MorangoProfilePeople people;
  char       *sql_people;         /* NULL: no "people" */
};

G_DEFINE_FINAL_TYPE (MorangoProfile, morango_profile, G_TYPE_OBJECT)

#define RECEIPT_ID_MISMATCH "Does not match results of calling ModelBase.compute_namespaced_id"

static void
field_free (MorangoField *field)
{
  g_free (field->name);
  g_free (field->column);
  g_clear_pointer (&field->default_value, json_node_unref);
  g_free (field->fk_target);
  g_free (field);
}

static void
model_free (MorangoModel *model)
{
  g_free (model->name);
  g_free (model->class_name);
  g_free (model->table);
  g_free (model->verbose_name);
  g_clear_pointer (&model->fields, g_ptr_array_unref);
  g_clear_pointer (&model->source_id_fields, g_ptr_array_unref);
  g_free (model->source_id_separator);
  g_free (model->uuid5_namespace);
  g_free (model->partition_template);
  g_clear_pointer (&model->dependents, g_ptr_array_unref);
  g_free (model->sql_select_columns);
  g_free (model->sql_select_dirty);
  g_free (model->sql_select_by_id);
  g_free (model->sql_exists);
  g_free (model->sql_upsert);
  g_free (model->sql_update);
  g_free (model->sql_clear_dirty);
  g_free (model->sql_delete);
  g_free (model);
}

static void
morango_profile_finalize (GObject *object)
{
  MorangoProfile *self = MORANGO_PROFILE (object);

  g_free (self->description_id);
  g_free (self->name);
  g_clear_pointer (&self->models_by_name, g_hash_table_unref);
  g_clear_pointer (&self->models, g_ptr_array_unref);
  g_free (self->model_names);
  g_clear_pointer (&self->scope_definitions, g_ptr_array_unref);
  g_clear_pointer (&self->people_object, json_object_unref);
  g_free (self->sql_people);

  G_OBJECT_CLASS (morango_profile_parent_class)->finalize (object);
}

static void
morango_profile_class_init (MorangoProfileClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = morango_profile_finalize;
}

static void
morango_profile_init (MorangoProfile *self)
{
  self->models = g_ptr_array_new_with_free_func ((GDestroyNotify) model_free);
  self->models_by_name = g_hash_table_new (g_str_hash, g_str_equal);
  self->scope_definitions =
    g_ptr_array_new_with_free_func ((GDestroyNotify) morango_scope_definition_free);
}

/* Identifiers from the description are spliced into SQL (quoted), so
 * they are held to a narrow alphabet. */
static gboolean
is_identifier (const char *s)
{
  if (s == NULL || *s == '\0' || strlen (s) > 63)
    return FALSE;
  if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
    return FALSE;
  for (const char *p = s + 1; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
      return FALSE;
  return TRUE;
}

static gboolean G_GNUC_PRINTF (2, 3)
fail (GError    **error,
      const char *format,
      ...)
{
  va_list args;
  g_autofree char *msg = NULL;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
               _("Invalid profile description: %s"), msg);
  return FALSE;
}

/* Reads an optional member of the expected JSON type. */
static gboolean
get_string (JsonObject  *obj,
            const char  *member,
            gboolean     required,
            const char **out,
            const char  *where,
            GError     **error)
{
  JsonNode *node = json_object_get_member (obj, member);

  *out = NULL;
  if (node == NULL)
    {
      if (required)
        return fail (error, _("%s has no \"%s\""), where, member);
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return fail (error, _("\"%s\" of %s must be a string"), member, where);
  *out = json_node_get_string (node);
  return TRUE;
}

static gboolean
get_bool (JsonObject  *obj,
          const char  *member,
          gboolean     fallback,
          gboolean    *out,
          const char  *where,
          GError     **error)
{
  JsonNode *node = json_object_get_member (obj, member);

  *out = fallback;
  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return fail (error, _("\"%s\" of %s must be true or false"), member, where);
  *out = json_node_get_boolean (node);
  return TRUE;
}

static gboolean
check_known_keys (JsonObject         *obj,
                  const char * const *known,
                  const char         *where,
                  GError            **error)
{
  g_autoptr(GList) members = json_object_get_members (obj);

  for (GList *l = members; l != NULL; l = l->next)
    if (!g_strv_contains (known, l->data))
      return fail (error, _("%s has unknown key \"%s\""), where, (const char *) l->data);
  return TRUE;
}

static const struct {
  const char       *name;
  MorangoFieldType  type;
} field_types[] = {
  { "uuid", MORANGO_FIELD_UUID },
  { "string", MORANGO_FIELD_STRING },
  { "text", MORANGO_FIELD_TEXT },
  { "integer", MORANGO_FIELD_INTEGER },
  { "float", MORANGO_FIELD_FLOAT },
  { "boolean", MORANGO_FIELD_BOOLEAN },
  { "datetime", MORANGO_FIELD_DATETIME },
  { "date", MORANGO_FIELD_DATE },
  { "foreign_key", MORANGO_FIELD_FOREIGN_KEY },
};

static gboolean
literal_fits (MorangoFieldType  type,
              JsonNode         *node)
{
  GType vt;

  if (JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  vt = json_node_get_value_type (node);
  switch (type)
    {
    case MORANGO_FIELD_BOOLEAN:
      return vt == G_TYPE_BOOLEAN;
    case MORANGO_FIELD_INTEGER:
      return vt == G_TYPE_INT64;
    case MORANGO_FIELD_FLOAT:
      return vt == G_TYPE_INT64 || vt == G_TYPE_DOUBLE;
    default:
      return vt == G_TYPE_STRING;
    }
}

static MorangoField *
parse_field (JsonNode    *node,
             const char  *model_where,
             GError     **error)
{
  g_autoptr(GPtrArray) holder = g_ptr_array_new_with_free_func ((GDestroyNotify) field_free);
  MorangoField *field;
  JsonObject *obj;
  const char *name, *type_name = NULL, *target = NULL, *on_delete = NULL;
  g_autofree char *where = NULL;
  JsonNode *def, *len;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return fail (error, _("a field of %s is not an object"), model_where), NULL;
  obj = json_node_get_object (node);
  if (!get_string (obj, "name", TRUE, &name, model_where, error))
    return NULL;
  if (!is_identifier (name))
    return fail (error, _("field name \"%s\" of %s is not a lowercase identifier"), name, model_where), NULL;
  /* TRANSLATORS: where a profile description goes wrong, put in front
   * of the error: a field name, then "model %u" or "model "%s"" */
  where = g_strdup_printf (_("field \"%s\" of %s"), name, model_where);

  field = g_new0 (MorangoField, 1);
  g_ptr_array_add (holder, field);
  field->name = g_strdup (name);
  field->serialize = TRUE;

  if (g_str_equal (name, "id") || g_str_equal (name, "_morango_source_id") ||
      g_str_equal (name, "_morango_partition"))
    {
      if (json_object_get_size (obj) != 1)
        return fail (error, _("%s is built in: give only its name, to place it"), where), NULL;
      field->column = g_strdup (name);
      if (g_str_equal (name, "id"))
        field->type = MORANGO_FIELD_ID, field->max_length = 32;
      else if (g_str_equal (name, "_morango_source_id"))
        field->type = MORANGO_FIELD_SOURCE_ID, field->max_length = 96, field->blank = TRUE;
      else
        field->type = MORANGO_FIELD_PARTITION, field->max_length = 128, field->blank = TRUE;
      return g_ptr_array_steal_index (holder, 0);
    }
  if (g_str_has_prefix (name, "_morango_"))
    return fail (error, _("%s: names starting with _morango_ are reserved"), where), NULL;

  if (!get_string (obj, "type", TRUE, &type_name, where, error))
    return NULL;
  field->type = (MorangoFieldType) -1;
  for (guint i = 0; i < G_N_ELEMENTS (field_types); i++)
    if (g_str_equal (type_name, field_types[i].name))
      field->type = field_types[i].type;
  if (field->type == (MorangoFieldType) -1)
    return fail (error, _("%s has unknown type \"%s\" (known: uuid, string, text, integer, "
                 "float, boolean, datetime, date, foreign_key)"), where, type_name), NULL;

  if (!get_bool (obj, "null", FALSE, &field->null, where, error) ||
      !get_bool (obj, "blank", FALSE, &field->blank, where, error) ||
      !get_bool (obj, "unique", FALSE, &field->unique, where, error) ||
      !get_bool (obj, "index", FALSE, &field->index, where, error) ||
      !get_bool (obj, "serialize", TRUE, &field->serialize, where, error))
    return NULL;

  if ((len = json_object_get_member (obj, "max_length")) != NULL)
    {
      if (!JSON_NODE_HOLDS_VALUE (len) || json_node_get_value_type (len) != G_TYPE_INT64 ||
          json_node_get_int (len) <= 0)
        return fail (error, _("\"max_length\" of %s must be a positive integer"), where), NULL;
      if (field->type != MORANGO_FIELD_STRING)
        return fail (error, _("%s: only string fields take a max_length"), where), NULL;
      field->max_length = json_node_get_int (len);
    }
  else if (field->type == MORANGO_FIELD_STRING)
    return fail (error, _("%s: a string field needs a max_length (use text for unbounded)"), where), NULL;
  if (field->type == MORANGO_FIELD_UUID || field->type == MORANGO_FIELD_FOREIGN_KEY)
    field->max_length = 32;

  if (field->type == MORANGO_FIELD_FOREIGN_KEY)
    {
      if (!get_string (obj, "to", TRUE, &target, where, error) ||
          !get_string (obj, "on_delete", FALSE, &on_delete, where, error))
        return NULL;
      field->fk_target = g_strdup (target);
      if (on_delete == NULL || g_str_equal (on_delete, "cascade"))
        field->on_delete = MORANGO_ON_DELETE_CASCADE;
      else if (g_str_equal (on_delete, "set_null"))
        field->on_delete = MORANGO_ON_DELETE_SET_NULL;
      else
        return fail (error, _("%s: on_delete must be \"cascade\" or \"set_null\""), where), NULL;
      if (field->on_delete == MORANGO_ON_DELETE_SET_NULL && !field->null)
        return fail (error, _("%s: on_delete set_null needs \"null\": true"), where), NULL;
      field->column = g_strconcat (name, "_id", NULL);
    }
  else
    field->column = g_strdup (name);

  if ((def = json_object_get_member (obj, "default")) != NULL)
    {
      if (JSON_NODE_HOLDS_VALUE (def) && json_node_get_value_type (def) == G_TYPE_STRING &&
          g_str_equal (json_node_get_string (def), "random_uuid"))
        {
          if (field->type != MORANGO_FIELD_UUID)
            return fail (error, _("%s: the default random_uuid is for uuid fields"), where), NULL;
          field->default_kind = MORANGO_DEFAULT_RANDOM_UUID;
        }
      else if (JSON_NODE_HOLDS_VALUE (def) && json_node_get_value_type (def) == G_TYPE_STRING &&
               g_str_equal (json_node_get_string (def), "now"))
        {
          if (field->type != MORANGO_FIELD_DATETIME && field->type != MORANGO_FIELD_DATE)
            return fail (error, _("%s: the default now is for datetime and date fields"), where), NULL;
          field->default_kind = MORANGO_DEFAULT_NOW;
        }
      else if (field->type == MORANGO_FIELD_FOREIGN_KEY && !JSON_NODE_HOLDS_NULL (def))
        return fail (error, _("%s: a foreign key can only default to null"), where), NULL;
      else if (!literal_fits (field->type, def))
        return fail (error, _("%s: the default does not fit the type %s"), where, type_name), NULL;
      else
        {
          field->default_kind = MORANGO_DEFAULT_LITERAL;
          field->default_value = json_node_copy (def);
        }
    }

  {
    static const char *known[] = { "name", "type", "null", "blank", "unique", "index",
                                   "serialize", "max_length", "to", "on_delete", "default",
                                   "comment", NULL };
    if (!check_known_keys (obj, known, where, error))
      return NULL;
  }

  return g_ptr_array_steal_index (holder, 0);
}

static char *
quoted_columns (MorangoModel *model,
                const char   *prefix)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < model->fields->len; i++)
    {
      MorangoField *f = g_ptr_array_index (model->fields, i);
      g_string_append_printf (s, "%s%s\"%s\"", i ? ", " : "", prefix, f->column);
    }
  return g_string_free (s, FALSE);
}

static void
build_model_sql (MorangoModel *model)
{
  GString *s;
  guint n = model->fields->len;

  model->sql_select_columns = quoted_columns (model, "");
  /* In id order: the table is stored in it, and the store and RMC
   * inserts that follow are keyed by it. */
  model->sql_select_dirty = g_strdup_printf ("SELECT %s FROM \"%s\" WHERE _morango_dirty_bit = 1 "
                                             "ORDER BY id",
                                             model->sql_select_columns, model->table);
  model->sql_select_by_id = g_strdup_printf ("SELECT %s, _morango_dirty_bit FROM \"%s\" WHERE id = ?",
                                             model->sql_select_columns, model->table);
  model->sql_exists = g_strdup_printf ("SELECT 1 FROM \"%s\" WHERE id = ?", model->table);
  model->sql_clear_dirty = g_strdup_printf ("UPDATE \"%s\" SET _morango_dirty_bit = 0 WHERE id = ?",
                                            model->table);
  model->sql_delete = g_strdup_printf ("DELETE FROM \"%s\" WHERE id = ?", model->table);

  s = g_string_new (NULL);
  g_string_append_printf (s, "INSERT INTO \"%s\" (%s, _morango_dirty_bit) VALUES (",
                          model->table, model->sql_select_columns);
  for (guint i = 0; i <= n; i++)
    g_string_append (s, i ? ", ?" : "?");
  g_string_append (s, ") ON CONFLICT (id) DO UPDATE SET ");
  for (guint i = 0; i < n; i++)
    {
      MorangoField *f = g_ptr_array_index (model->fields, i);
      g_string_append_printf (s, "\"%s\" = excluded.\"%s\", ", f->column, f->column);
    }
  g_string_append (s, "_morango_dirty_bit = excluded._morango_dirty_bit");
  model->sql_upsert = g_string_free (s, FALSE);

  /* Same parameter order as the upsert (columns, dirty bit), then the id. */
  s = g_string_new (NULL);
  g_string_append_printf (s, "UPDATE \"%s\" SET ", model->table);
  for (guint i = 0; i < n; i++)
    {
      MorangoField *f = g_ptr_array_index (model->fields, i);
      g_string_append_printf (s, "\"%s\" = ?%u, ", f->column, i + 1);
    }
  g_string_append_printf (s, "_morango_dirty_bit = ?%u WHERE id = ?%u", n + 1, n + 2);
  model->sql_update = g_string_free (s, FALSE);
}

/* Checks that every ${name} of the template names a column of the model
 * (or is ${id}). */
static gboolean
check_partition_template (MorangoModel  *model,
                          const char    *tmpl,
                          const char    *where,
                          GError       **error)
{
  for (const char *p = tmpl; (p = strstr (p, "${")) != NULL; )
    {
      const char *end = strchr (p, '}');
      g_autofree char *name = NULL;
      MorangoField *f;

      if (end == NULL)
        return fail (error, _("partition template of %s has an unclosed ${"), where);
      name = g_strndup (p + 2, end - p - 2);
      if (!g_str_equal (name, "id"))
        {
          f = morango_model_get_field (model, name);
          if (f == NULL || f->type == MORANGO_FIELD_PARTITION)
            return fail (error, _("partition template of %s refers to unknown field \"%s\""), where, name);
        }
      p = end + 1;
    }
  if (strchr (tmpl, ' ') || strchr (tmpl, '\n') || strchr (tmpl, '\t') || strchr (tmpl, '\r'))
    return fail (error, _("partition template of %s contains whitespace (filters split on it)"), where);
  return TRUE;
}

static MorangoModel *
parse_model (MorangoProfile  *self,
             JsonNode        *node,
             guint            index,
             GError         **error)
{
  g_autoptr(GPtrArray) holder = g_ptr_array_new_with_free_func ((GDestroyNotify) model_free);
  MorangoModel *model;
  JsonObject *obj, *sid;
  JsonArray *fields;
  JsonNode *sid_node, *fields_node;
  const char *name, *table, *verbose, *class_name, *id_rule = NULL, *partition, *rule;
  g_autofree char *where = NULL;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return fail (error, _("model %u is not an object"), index + 1), NULL;
  obj = json_node_get_object (node);
  where = g_strdup_printf (_("model %u"), index + 1);
  if (!get_string (obj, "name", TRUE, &name, where, error))
    return NULL;
  g_free (where);
  /* TRANSLATORS: where a profile description goes wrong: a model name */
  where = g_strdup_printf (_("model \"%s\""), name);
  if (!is_identifier (name) || strlen (name) > 40)
    return fail (error, _("%s: the name must be a lowercase identifier of at most 40 characters"), where), NULL;
  if (g_hash_table_contains (self->models_by_name, name))
    return fail (error, _("%s is described twice"), where), NULL;
  if (!get_string (obj, "table", TRUE, &table, where, error) ||
      !get_string (obj, "verbose_name", FALSE, &verbose, where, error) ||
      !get_string (obj, "class_name", FALSE, &class_name, where, error) ||
      !get_string (obj, "id", FALSE, &id_rule, where, error) ||
      !get_string (obj, "partition", TRUE, &partition, where, error))
    return NULL;
  if (!is_identifier (table) || g_str_has_prefix (table, "morango_") || g_str_has_prefix (table, "sqlite_"))
    return fail (error, _("%s: table \"%s\" must be a lowercase identifier outside morango_ and sqlite_"),
                 where, table), NULL;

  model = g_new0 (MorangoModel, 1);
  g_ptr_array_add (holder, model);
  model->name = g_strdup (name);
  model->table = g_strdup (table);
  model->verbose_name = g_strdup (verbose ? verbose : name);
  model->class_name = g_strdup (class_name ? class_name : name);
  model->index = index;
  model->fields = g_ptr_array_new_with_free_func ((GDestroyNotify) field_free);
  model->source_id_fields = g_ptr_array_new ();
  model->dependents = g_ptr_array_new_with_free_func (g_free);
  model->id_col = model->source_id_col = model->partition_col = model->self_ref_col = -1;

  fields_node = json_object_get_member (obj, "fields");
  if (fields_node == NULL || !JSON_NODE_HOLDS_ARRAY (fields_node))
    return fail (error, _("%s has no \"fields\" array"), where), NULL;
  fields = json_node_get_array (fields_node);
  for (guint i = 0; i < json_array_get_length (fields); i++)
    {
      MorangoField *f = parse_field (json_array_get_element (fields, i), where, error);

      if (f == NULL)
        return NULL;
      if (morango_model_get_field (model, f->name) || morango_model_get_field (model, f->column))
        {
          fail (error, _("%s has two fields named \"%s\""), where, f->name);
          field_free (f);
          return NULL;
        }
      g_ptr_array_add (model->fields, f);
    }
  /* The built-in columns come first unless the description places them
   * (Django puts inherited fields where the class hierarchy says). */
  {
    static const char *builtins[] = { "_morango_partition", "_morango_source_id", "id" };
    for (guint b = 0; b < G_N_ELEMENTS (builtins); b++)
      if (morango_model_get_field (model, builtins[b]) == NULL)
        {
          g_autoptr(JsonNode) n = json_from_string ("{}", NULL);
          MorangoField *f;
          json_object_set_string_member (json_node_get_object (n), "name", builtins[b]);
          f = parse_field (n, where, NULL);
          g_ptr_array_insert (model->fields, 0, f);
        }
  }
  for (guint i = 0; i < model->fields->len; i++)
    {
      MorangoField *f = g_ptr_array_index (model->fields, i);
      if (f->type == MORANGO_FIELD_ID)
        model->id_col = i;
      else if (f->type == MORANGO_FIELD_SOURCE_ID)
        model->source_id_col = i;
      else if (f->type == MORANGO_FIELD_PARTITION)
        model->partition_col = i;
      else if (f->type == MORANGO_FIELD_FOREIGN_KEY)
        {
          if (g_str_equal (f->fk_target, name))
            {
              if (model->self_ref_col >= 0)
                return fail (error, _("%s has two foreign keys to itself (Morango allows one)"), where), NULL;
              model->self_ref_col = i;
              f->fk_self = TRUE;
              f->fk_model = model;
            }
          else
            {
              f->fk_model = g_hash_table_lookup (self->models_by_name, f->fk_target);
              if (f->fk_model == NULL)
                return fail (error, _("field \"%s\" of %s refers to model \"%s\", which must be "
                             "described before it (models are listed parents first)"),
                             f->name, where, f->fk_target), NULL;
            }
        }
    }

  /* Source id rule. */
  sid_node = json_object_get_member (obj, "source_id");
  if (sid_node == NULL || !JSON_NODE_HOLDS_OBJECT (sid_node))
    return fail (error, _("%s has no \"source_id\" object"), where), NULL;
  sid = json_node_get_object (sid_node);
  if (!get_string (sid, "rule", TRUE, &rule, where, error))
    return NULL;
  if (g_str_equal (rule, "fields"))
    {
      JsonNode *list = json_object_get_member (sid, "fields");
      const char *sep = NULL;

      model->source_id_rule = MORANGO_SOURCE_ID_FIELDS;
      if (list == NULL || !JSON_NODE_HOLDS_ARRAY (list) ||
          json_array_get_length (json_node_get_array (list)) == 0)
        return fail (error, _("source id rule \"fields\" of %s needs a non-empty \"fields\" list"), where), NULL;
      for (guint i = 0; i < json_array_get_length (json_node_get_array (list)); i++)
        {
          const char *fname = json_array_get_string_element (json_node_get_array (list), i);
          MorangoField *f = fname ? morango_model_get_field (model, fname) : NULL;

          if (f == NULL || f->type == MORANGO_FIELD_ID || f->type == MORANGO_FIELD_SOURCE_ID ||
              f->type == MORANGO_FIELD_PARTITION)
            return fail (error, _("source id of %s refers to unknown field \"%s\""), where,
                         fname ? fname : "(not a string)"), NULL;
          g_ptr_array_add (model->source_id_fields, f);
        }
      if (!get_string (sid, "separator", FALSE, &sep, where, error))
        return NULL;
      model->source_id_separator = g_strdup (sep ? sep : ":");
    }
  else if (g_str_equal (rule, "random"))
    model->source_id_rule = MORANGO_SOURCE_ID_RANDOM;
  else if (g_str_equal (rule, "uuid5"))
    {
      const char *fname, *ns;
      MorangoField *f;
      g_autofree char *norm = NULL;

      model->source_id_rule = MORANGO_SOURCE_ID_UUID5;
      if (!get_string (sid, "field", TRUE, &fname, where, error) ||
          !get_string (sid, "namespace", TRUE, &ns, where, error))
        return NULL;
      f = morango_model_get_field (model, fname);
      if (f == NULL || f->type == MORANGO_FIELD_ID || f->type == MORANGO_FIELD_SOURCE_ID ||
          f->type == MORANGO_FIELD_PARTITION)
        return fail (error, _("source id of %s refers to unknown field \"%s\""), where, fname), NULL;
      if ((norm = morango_uuid_normalize (ns)) == NULL)
        return fail (error, _("source id namespace \"%s\" of %s is not a UUID"), ns, where), NULL;
      g_ptr_array_add (model->source_id_fields, f);
      model->uuid5_namespace = g_steal_pointer (&norm);
    }
  else
    return fail (error, _("%s: unknown source id rule \"%s\" (known: fields, random, uuid5)"), where, rule), NULL;

  if (id_rule == NULL || g_str_equal (id_rule, "hash"))
    model->id_rule = MORANGO_ID_HASH;
  else if (g_str_equal (id_rule, "source_id"))
    {
      if (model->source_id_rule != MORANGO_SOURCE_ID_UUID5)
        return fail (error, _("%s: \"id\": \"source_id\" needs a uuid5 source id (ids are 32 hex)"), where), NULL;
      model->id_rule = MORANGO_ID_SOURCE_ID;
    }
  else
    return fail (error, _("%s: unknown id rule \"%s\" (known: hash, source_id)"), where, id_rule), NULL;

  if (!check_partition_template (model, partition, where, error))
    return NULL;
  model->partition_template = g_strdup (partition);

  {
    static const char *known[] = { "name", "class_name", "table", "verbose_name", "fields",
                                   "source_id", "id", "partition", "comment", NULL };
    if (!check_known_keys (obj, known, where, error))
      return NULL;
  }

  build_model_sql (model);
  return g_ptr_array_steal_index (holder, 0);
}

/* The optional "people" object: every name must be a field of the model
 * (so that the SQL built from them holds only checked identifiers) and
 * the scope definition one of this description's. */
static gboolean
parse_people (MorangoProfile  *self,
              JsonNode        *node,
              GError         **error)
{
  static const char *known[] = { "model", "dataset_field", "name_field", "full_name_field",
                                 "filter_field", "filter_value", "scope_definition",
                                 "scope_param", "comment", NULL };
  const char *where = "\"people\"";
  MorangoProfilePeople *p = &self->people;
  MorangoModel *model;
  JsonObject *obj;
  gboolean known_def = FALSE;
  const char *fields[4];

  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return fail (error, "\"people\" is not an object");
  obj = json_node_get_object (node);
  if (!check_known_keys (obj, known, where, error) ||
      !get_string (obj, "model", TRUE, &p->model, where, error) ||
      !get_string (obj, "dataset_field", TRUE, &p->dataset_field, where, error) ||
      !get_string (obj, "name_field", TRUE, &p->name_field, where, error) ||
      !get_string (obj, "full_name_field", FALSE, &p->full_name_field, where, error) ||
      !get_string (obj, "filter_field", FALSE, &p->filter_field, where, error) ||
      !get_string (obj, "filter_value", p->filter_field != NULL, &p->filter_value, where, error) ||
      !get_string (obj, "scope_definition", TRUE, &p->scope_definition, where, error) ||
      !get_string (obj, "scope_param", TRUE, &p->scope_param, where, error))
    goto invalid;
  model = morango_profile_get_model (self, p->model);
  if (model == NULL)
    {
      fail (error, "\"people\" names the model \"%s\", which the description has not", p->model);
      goto invalid;
    }
  fields[0] = p->dataset_field;
  fields[1] = p->name_field;
  fields[2] = p->full_name_field;
  fields[3] = p->filter_field;
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    if (fields[i] != NULL && morango_model_get_field (model, fields[i]) == NULL)
      {
        fail (error, "\"people\" names the field \"%s\", which model \"%s\" has not",
              fields[i], model->name);
        goto invalid;
      }
  for (guint i = 0; i < self->scope_definitions->len; i++)
    if (g_str_equal (((MorangoScopeDefinition *) g_ptr_array_index (self->scope_definitions, i))->id,
                     p->scope_definition))
      known_def = TRUE;
  if (!known_def)
    {
      fail (error, "\"people\" names the scope definition \"%s\", which the description has not",
            p->scope_definition);
      goto invalid;
    }

  self->people_object = json_object_ref (obj);
  {
    MorangoField *name = morango_model_get_field (model, p->name_field);
    MorangoField *full = p->full_name_field ? morango_model_get_field (model, p->full_name_field) : NULL;
    MorangoField *dataset = morango_model_get_field (model, p->dataset_field);
    MorangoField *filter = p->filter_field ? morango_model_get_field (model, p->filter_field) : NULL;

    self->sql_people = g_strdup_printf ("SELECT id, \"%s\", %s%s%s FROM \"%s\" WHERE \"%s\" = ?%s%s%s "
                                        "ORDER BY \"%s\", id",
                                        name->column, full ? "\"" : "", full ? full->column : "''",
                                        full ? "\"" : "", model->table, dataset->column,
                                        filter ? " AND \"" : "", filter ? filter->column : "",
                                        filter ? "\" = ?" : "", name->column);
  }
  return TRUE;

invalid:
  memset (p, 0, sizeof *p);
  return FALSE;
}

static gboolean
morango_profile_load (MorangoProfile  *self,
                      JsonNode        *root,
                      GError         **error)
{
  JsonObject *obj;
  JsonNode *models, *defs;
  const char *did, *name;

  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return fail (error, _("the top level is not a JSON object"));
  obj = json_node_get_object (root);
  if (!get_string (obj, "description_id", TRUE, &did, "the description", error) ||
      !get_string (obj, "profile", TRUE, &name, "the description", error))
    return FALSE;
  if (*did == '\0' || *name == '\0' || strlen (name) > 20)
    return fail (error, _("\"description_id\" and \"profile\" must be non-empty "
                 "(a profile name has at most 20 characters)"));
  self->description_id = g_strdup (did);
  self->name = g_strdup (name);

  models = json_object_get_member (obj, "models");
  if (models == NULL || !JSON_NODE_HOLDS_ARRAY (models) ||
      json_array_get_length (json_node_get_array (models)) == 0)
    return fail (error, _("there is no non-empty \"models\" array"));
  for (guint i = 0; i < json_array_get_length (json_node_get_array (models)); i++)
    {
      MorangoModel *m = parse_model (self, json_array_get_element (json_node_get_array (models), i),
                                     i, error);
      if (m == NULL)
        return FALSE;
      for (guint j = 0; j < self->models->len; j++)
        if (g_str_equal (((MorangoModel *) g_ptr_array_index (self->models, j))->table, m->table))
          {
            fail (error, _("models \"%s\" and \"%s\" share the table \"%s\""),
                  ((MorangoModel *) g_ptr_array_index (self->models, j))->name, m->name, m->table);
            model_free (m);
            return FALSE;
          }
      g_ptr_array_add (self->models, m);
      g_hash_table_insert (self->models_by_name, m->name, m);
    }

  self->model_names = g_new0 (char *, self->models->len + 1);
  for (guint i = 0; i < self->models->len; i++)
    {
      MorangoModel *m = g_ptr_array_index (self->models, i);

      self->model_names[i] = m->name;
      for (guint j = 0; j < m->fields->len; j++)
        {
          MorangoField *f = g_ptr_array_index (m->fields, j);
          if (f->type == MORANGO_FIELD_FOREIGN_KEY)
            {
              MorangoDependent *d = g_new0 (MorangoDependent, 1);
              d->from_model = m;
              d->from_field = f;
              g_ptr_array_add (f->fk_model->dependents, d);
            }
        }
    }

  defs = json_object_get_member (obj, "scope_definitions");
  if (defs != NULL)
    {
      if (!JSON_NODE_HOLDS_ARRAY (defs))
        return fail (error, _("\"scope_definitions\" is not an array"));
      for (guint i = 0; i < json_array_get_length (json_node_get_array (defs)); i++)
        {
          JsonNode *d = json_array_get_element (json_node_get_array (defs), i);
          g_autoptr(GError) local_error = NULL;
          MorangoScopeDefinition *def;

          if (!JSON_NODE_HOLDS_OBJECT (d))
            return fail (error, _("scope definition %u is not an object"), i + 1);
          def = morango_scope_definition_new_from_json (json_node_get_object (d), &local_error);
          if (def == NULL)
            return fail (error, _("scope definition %u: %s"), i + 1, local_error->message);
          if (g_strcmp0 (def->profile, self->name) != 0)
            {
              fail (error, _("scope definition \"%s\" belongs to profile \"%s\", not \"%s\""),
                    def->id, def->profile, self->name);
              morango_scope_definition_free (def);
              return FALSE;
            }
          g_ptr_array_add (self->scope_definitions, def);
        }
    }

  if (!parse_people (self, json_object_get_member (obj, "people"), error))
    return FALSE;

  {
    static const char *known[] = { "description_id", "profile", "models",
                                   "scope_definitions", "people", "comment", NULL };
    if (!check_known_keys (obj, known, "the description", error))
      return FALSE;
  }
  return TRUE;
}

MorangoProfile *
morango_profile_new_from_data (const char  *data,
                               gssize       length,
                               GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(MorangoProfile) self = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (data != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!json_parser_load_from_data (parser, data, length, &local_error))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("Invalid profile description: not JSON: %s"), local_error->message);
      return NULL;
    }
  self = g_object_new (MORANGO_TYPE_PROFILE, NULL);
  if (!morango_profile_load (self, json_parser_get_root (parser), error))
    return NULL;
  return g_steal_pointer (&self);
}

MorangoProfile *
morango_profile_new_from_file (const char  *path,
                               GError     **error)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr(GError) local_error = NULL;
  MorangoProfile *self;

  g_return_val_if_fail (path != NULL, NULL);

  if (!g_file_get_contents (path, &data, &len, error))
    return NULL;
  self = morango_profile_new_from_data (data, len, &local_error);
  if (self == NULL)
    {
      g_set_error (error, local_error->domain, local_error->code, "%s: %s", path,
                   local_error->message);
      return NULL;
    }
  return self;
}

MorangoProfile *
morango_profile_new_by_name (const char  *name,
                             GError     **error)
{
  g_autofree char *file = NULL;
  const char *env = g_getenv ("MORANGO_PROFILES_DIR");
  const char *dirs[4] = { NULL };
  guint n = 0;

  g_return_val_if_fail (name != NULL, NULL);

  if (!is_identifier (name) && !g_regex_match_simple ("^[a-z0-9][a-z0-9_-]*$", name, 0, 0))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_UNKNOWN_PROFILE,
                   _("“%s” is not a profile description name"), name);
      return NULL;
    }
  file = g_strconcat (name, ".json", NULL);
  if (env != NULL && *env != '\0')
    dirs[n++] = env;
#ifdef MORANGO_DATADIR
  dirs[n++] = MORANGO_DATADIR "/morango-sync/profiles";
#endif
  dirs[n++] = MORANGO_SOURCE_DIR "/data/profiles";
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *path = g_build_filename (dirs[i], file, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        return morango_profile_new_from_file (path, error);
    }
  g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_UNKNOWN_PROFILE,
               _("No profile description “%s” (looked for %s in $MORANGO_PROFILES_DIR, the "
               "installed data and the source tree)"), name, file);
  return NULL;
}

const char *
morango_profile_get_name (MorangoProfile *self)
{
  g_return_val_if_fail (MORANGO_IS_PROFILE (self), NULL);
  return self->name;
}

const char *
morango_profile_get_description_id (MorangoProfile *self)
{
  g_return_val_if_fail (MORANGO_IS_PROFILE (self), NULL);
  return self->description_id;
}

GPtrArray *
morango_profile_get_scope_definitions (MorangoProfile *self)
{
  g_return_val_if_fail (MORANGO_IS_PROFILE (self), NULL);
  return self->scope_definitions;
}

const char * const *
morango_profile_get_model_names (MorangoProfile *self)
{
  g_return_val_if_fail (MORANGO_IS_PROFILE (self), NULL);
  return (const char * const *) self->model_names;
}

gboolean
morango_profile_has_model (MorangoProfile *self,
                           const char     *model_name)
{
  g_return_val_if_fail (MORANGO_IS_PROFILE (self), FALSE);
  return model_name != NULL && g_hash_table_contains (self->models_by_name, model_name);
}

MorangoModel *
morango_profile_get_model (MorangoProfile *self,
                           const char     *model_name)
{
  return model_name ? g_hash_table_lookup (self->models_by_name, model_name) : NULL;
}

guint
morango_profile_get_n_models (MorangoProfile *self)
{
  return self->models->len;
}

MorangoModel *
morango_profile_get_model_at (MorangoProfile *self,
                              guint           i)
{
  return g_ptr_array_index (self->models, i);
}

int
morango_model_get_field_index (MorangoModel *model,
                               const char   *name_or_column)
{
  for (guint i = 0; i < model->fields->len; i++)
    {
      MorangoField *f = g_ptr_array_index (model->fields, i);
      if (g_str_equal (f->name, name_or_column) || g_str_equal (f->column, name_or_column))
        return i;
    }
  return -1;
}

MorangoField *
morango_model_get_field (MorangoModel *model,
                         const char   *name_or_column)
{
  int i = morango_model_get_field_index (model, name_or_column);
  return i < 0 ? NULL : g_ptr_array_index (model->fields, i);
}

static const char *
sql_type (MorangoField *f,
          char          buf[32])
{
  switch (f->type)
    {
    case MORANGO_FIELD_ID:
    case MORANGO_FIELD_UUID:
    case MORANGO_FIELD_FOREIGN_KEY:
      return "char(32)";
    case MORANGO_FIELD_SOURCE_ID:
      return "varchar(96)";
    case MORANGO_FIELD_PARTITION:
      return "varchar(128)";
    case MORANGO_FIELD_STRING:
      g_snprintf (buf, 32, "varchar(%" G_GINT64_FORMAT ")", f->max_length);
      return buf;
    case MORANGO_FIELD_TEXT:
      return "text";
    case MORANGO_FIELD_INTEGER:
      return "integer";
    case MORANGO_FIELD_FLOAT:
      return "real";
    case MORANGO_FIELD_BOOLEAN:
      return "bool";
    case MORANGO_FIELD_DATETIME:
      return "datetime";
    case MORANGO_FIELD_DATE:
      return "date";
    default:
      g_assert_not_reached ();
    }
}

gboolean
morango_profile_ensure_tables (MorangoProfile  *self,
                               MorangoDb       *db,
                               GError         **error)
{
  g_return_val_if_fail (MORANGO_IS_PROFILE (self), FALSE);
  g_return_val_if_fail (MORANGO_IS_DB (db), FALSE);

  for (guint i = 0; i < self->models->len; i++)
    {
      MorangoModel *m = g_ptr_array_index (self->models, i);
      g_autoptr(GString) sql = g_string_new (NULL);

      g_string_append_printf (sql, "CREATE TABLE IF NOT EXISTS \"%s\" (", m->table);
      for (guint j = 0; j < m->fields->len; j++)
        {
          MorangoField *f = g_ptr_array_index (m->fields, j);
          char buf[32];

          g_string_append_printf (sql, "\"%s\" %s", f->column, sql_type (f, buf));
          if (f->type == MORANGO_FIELD_ID)
            g_string_append (sql, " NOT NULL PRIMARY KEY");
          else if (f->type == MORANGO_FIELD_SOURCE_ID || f->type == MORANGO_FIELD_PARTITION)
            g_string_append (sql, " NOT NULL DEFAULT ''");
          else if (!f->null)
            g_string_append (sql, " NOT NULL");
          if (f->unique)
            g_string_append (sql, " UNIQUE");
          g_string_append (sql, ", ");
        }
      /* Stored in id order (WITHOUT ROWID): ids are random, so a rowid
       * table keeps rows in insertion order and every walk in id order
       * (serializing dirty rows; writing rows that arrive sorted by id
       * from the store) jumps around the file.  The id is the key, so
       * the table needs no separate index on it either. */
      g_string_append (sql, "\"_morango_dirty_bit\" bool NOT NULL DEFAULT 1) WITHOUT ROWID;");
      /* Serialization looks for dirty rows only: a partial index keeps
       * that cheap however big the table. */
      g_string_append_printf (sql, "CREATE INDEX IF NOT EXISTS \"%s_morango_dirty\" ON \"%s\" (id) "
                              "WHERE _morango_dirty_bit = 1;", m->table, m->table);
      for (guint j = 0; j < m->fields->len; j++)
        {
          MorangoField *f = g_ptr_array_index (m->fields, j);
          /* Cascades look dependents up by their FK column. */
          if ((f->index || f->type == MORANGO_FIELD_FOREIGN_KEY) && !f->unique)
            g_string_append_printf (sql, "CREATE INDEX IF NOT EXISTS \"%s_%s\" ON \"%s\" (\"%s\");",
                                    m->table, f->column, m->table, f->column);
        }
      if (!morango_db_exec (db, sql->str, error))
        return FALSE;

      /* A table made from another description keeps its old shape under
       * CREATE IF NOT EXISTS: say so instead of failing later. */
      for (guint j = 0; j <= m->fields->len; j++)
        {
          const char *column = j < m->fields->len
                               ? ((MorangoField *) g_ptr_array_index (m->fields, j))->column
                               : "_morango_dirty_bit";
          gboolean found = FALSE;

          if (!morango_db_query_int64 (db, NULL, &found, error,
                                       "SELECT 1 FROM pragma_table_info (?) WHERE name = ?",
                                       "ss", m->table, column))
            return FALSE;
          if (!found)
            {
              g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                           _("The table “%s” has no column “%s”, which the profile description "
                           "“%s” needs: the database was made with another description"),
                           m->table, column, self->description_id);
              return FALSE;
            }
        }
    }
  return TRUE;
}

gboolean
morango_profile_save_scope_definitions (MorangoProfile  *self,
                                        MorangoDb       *db,
                                        GError         **error)
{
  g_return_val_if_fail (MORANGO_IS_PROFILE (self), FALSE);
  g_return_val_if_fail (MORANGO_IS_DB (db), FALSE);

  for (guint i = 0; i < self->scope_definitions->len; i++)
    if (!morango_scope_definition_save (g_ptr_array_index (self->scope_definitions, i), db, error))
      return FALSE;
  return TRUE;
}

char *
morango_profile_compute_record_id (MorangoProfile *self,
                                   const char     *model_name,
                                   const char     *partition_template,
                                   const char     *source_id)
{
  MorangoModel *model;

  g_return_val_if_fail (self == NULL || MORANGO_IS_PROFILE (self), NULL);
  g_return_val_if_fail (partition_template != NULL && source_id != NULL, NULL);

  model = self ? morango_profile_get_model (self, model_name) : NULL;
  if (model != NULL && model->id_rule == MORANGO_ID_SOURCE_ID)
    return g_strdup (source_id);
  {
    const char *parts[] = { partition_template, source_id, model_name ? model_name : "" };
    return morango_sha2_uuidv (parts, G_N_ELEMENTS (parts));
  }
}

static char *
replace_all (const char *text,
             const char *what,
             const char *with)
{
  g_autoptr(GString) s = g_string_new (text);

  if (*what != '\0')
    g_string_replace (s, what, with, 0);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

gboolean
morango_profile_verify_record_id (MorangoProfile *self,
                                  const char     *model_name,
                                  const char     *model_uuid,
                                  const char     *partition,
                                  const char     *source_id)
{
  g_autofree char *tmpl = NULL;
  g_autofree char *expected = NULL;

  g_return_val_if_fail (self == NULL || MORANGO_IS_PROFILE (self), FALSE);

  if (model_uuid == NULL || partition == NULL || source_id == NULL)
    return FALSE;
  /* Most partitions do not hold their record's own id: no copy then. */
  if (*model_uuid != '\0' && strstr (partition, model_uuid) != NULL)
    tmpl = replace_all (partition, model_uuid, "${id}");
  expected = morango_profile_compute_record_id (self, model_name, tmpl ? tmpl : partition,
                                                source_id);
  return g_strcmp0 (expected, model_uuid) == 0;
}

gboolean
morango_profile_check_record_origin (MorangoProfile *self,
                                     MorangoFilter  *filter,
                                     const char     *model_name,
                                     const char     *model_uuid,
                                     const char     *partition,
                                     const char     *source_id,
                                     GError        **error)
{
  if (!morango_profile_verify_record_id (self, model_name, model_uuid, partition, source_id))
    {
      g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_RECORD_REJECTED,
                           RECEIPT_ID_MISMATCH);
      return FALSE;
    }
  if (filter != NULL && !morango_filter_contains (filter, partition))
    {
      g_autofree char *text = morango_filter_to_string (filter);
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_RECORD_REJECTED,
                   _("Partition %s is not contained within filter for TransferSession (%s)"),
                   partition, text);
      return FALSE;
    }
  return TRUE;
}

static const char *
member_string (JsonObject *obj,
               const char *name)
{
  JsonNode *n = json_object_get_member (obj, name);

  if (n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING)
    return json_node_get_string (n);
  return NULL;
}

gboolean
morango_profile_check_received_record (MorangoProfile *self,
                                       MorangoFilter  *filter,
                                       const char     *transfer_session_id,
                                       JsonObject     *record,
                                       GError        **error)
{
  const char *model_uuid, *partition, *source_id, *model_name;
  JsonNode *rmcb;

  g_return_val_if_fail (MORANGO_IS_PROFILE (self), FALSE);
  g_return_val_if_fail (record != NULL, FALSE);

  model_uuid = member_string (record, "model_uuid");
  partition = member_string (record, "partition");
  source_id = member_string (record, "source_id");
  model_name = member_string (record, "model_name");
  if (model_uuid == NULL || partition == NULL || source_id == NULL || model_name == NULL)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_RECORD_REJECTED,
                   _("A record lacks one of model_uuid, partition, source_id, model_name"));
      return FALSE;
    }

  /* Same order of checks as Morango's BufferSerializer. */
  if (!morango_profile_check_record_origin (self, filter, model_name, model_uuid, partition,
                                            source_id, error))
    return FALSE;
  rmcb = json_object_get_member (record, "rmcb_list");
  if (rmcb != NULL && JSON_NODE_HOLDS_ARRAY (rmcb))
    {
      JsonArray *list = json_node_get_array (rmcb);
      for (guint i = 0; i < json_array_get_length (list); i++)
        {
          JsonNode *item = json_array_get_element (list, i);
          const char *ts, *uuid;

          if (!JSON_NODE_HOLDS_OBJECT (item))
            {
              g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_RECORD_REJECTED,
                           _("An RMCB item of record %s is not an object"), model_uuid);
              return FALSE;
            }
          ts = member_string (json_node_get_object (item), "transfer_session");
          uuid = member_string (json_node_get_object (item), "model_uuid");
          if (transfer_session_id != NULL && g_strcmp0 (ts, transfer_session_id) != 0)
            {
              g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_RECORD_REJECTED,
                           _("Transfer session on RMCB (%s) does not match Buffer's "
                           "TransferSession (TransferSession object (%s))"),
                           ts ? ts : "None", transfer_session_id);
              return FALSE;
            }
          if (g_strcmp0 (uuid, model_uuid) != 0)
            {
              g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_RECORD_REJECTED,
                           _("Model UUID on RMCB (%s) does not match Buffer's Model UUID (%s)"),
                           uuid ? uuid : "None", model_uuid);
              return FALSE;
            }
        }
    }

  return TRUE;
}

const MorangoProfilePeople *
morango_profile_get_people (MorangoProfile *self)
{
  g_return_val_if_fail (MORANGO_IS_PROFILE (self), NULL);
  return self->sql_people != NULL ? &self->people : NULL;
}

void
morango_person_free (MorangoPerson *person)
{
  if (person == NULL)
    return;
  g_free (person->id);
  g_free (person->name);
  g_free (person->full_name);
  g_free (person);
}

GPtrArray *
morango_profile_list_people (MorangoProfile  *self,
                             MorangoDb       *db,
                             const char      *dataset_id,
                             GError         **error)
{
  g_autoptr(GPtrArray) people = g_ptr_array_new_with_free_func ((GDestroyNotify) morango_person_free);
  sqlite3_stmt *stmt;
  int rc;

  g_return_val_if_fail (MORANGO_IS_PROFILE (self), NULL);
  g_return_val_if_fail (db != NULL, NULL);
  g_return_val_if_fail (dataset_id != NULL, NULL);

  if (self->sql_people == NULL)
    return g_steal_pointer (&people);
  if ((stmt = morango_db_prepare (db, self->sql_people, error)) == NULL)
    return NULL;
  if (!(self->people.filter_field != NULL
        ? morango_db_bind (db, stmt, error, "ss", dataset_id, self->people.filter_value)
        : morango_db_bind (db, stmt, error, "s", dataset_id)))
    return NULL;
  while ((rc = morango_db_step (db, stmt, error)) == SQLITE_ROW)
    {
      MorangoPerson *person = g_new0 (MorangoPerson, 1);

      person->id = g_strdup (morango_db_column_text (stmt, 0));
      person->name = g_strdup (morango_db_column_text (stmt, 1));
      person->full_name = g_strdup (morango_db_column_text (stmt, 2));
      g_ptr_array_add (people, person);
    }
  if (rc != SQLITE_DONE)
    return NULL;
  sqlite3_reset (stmt);
  return g_steal_pointer (&people);
}
