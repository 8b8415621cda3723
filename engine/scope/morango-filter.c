/* morango-filter.c: partitions, filters, scope definitions and scopes (protocol §6)
 *
 * SPDX-License-Identifier: MIT
 */
#include "morango-filter.h"
#include "morango-json.h"
#include "morango-i18n-private.h"

struct _MorangoFilter
{
  gatomicrefcount  ref;
  char            *text;      /* after substitution: what "+" concatenates */
  GPtrArray       *entries;   /* NULL-terminated */
};

struct _MorangoScope
{
  MorangoFilter *read;
  MorangoFilter *write;
};

G_DEFINE_BOXED_TYPE (MorangoFilter, morango_filter, morango_filter_ref, morango_filter_unref)

/* ---- templates ---------------------------------------------------------- */

static void
append_python_repr (GString  *out,
                    JsonNode *node,
                    gboolean  top);

static void
append_python_str_literal (GString    *out,
                           const char *s)
{
  /* Python's repr of a str: single quotes unless the text holds a single
   * quote and no double quote. */
  char q = (strchr (s, '\'') && !strchr (s, '"')) ? '"' : '\'';

  g_string_append_c (out, q);
  for (const char *p = s; *p; p++)
    {
      if (*p == '\\' || *p == q)
        g_string_append_c (out, '\\');
      if (*p == '\n')
        g_string_append (out, "\\n");
      else if (*p == '\t')
        g_string_append (out, "\\t");
      else
        g_string_append_c (out, *p);
    }
  g_string_append_c (out, q);
}

static void
append_python_repr (GString  *out,
                    JsonNode *node,
                    gboolean  top)
{
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_NULL:
      g_string_append (out, "None");
      break;
    case JSON_NODE_VALUE:
      switch (json_node_get_value_type (node))
        {
        case G_TYPE_STRING:
          if (top)
            g_string_append (out, json_node_get_string (node));
          else
            append_python_str_literal (out, json_node_get_string (node));
          break;
        case G_TYPE_BOOLEAN:
          g_string_append (out, json_node_get_boolean (node) ? "True" : "False");
          break;
        case G_TYPE_DOUBLE:
          morango_json_append_double (out, json_node_get_double (node));
          break;
        default:
          g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
        }
      break;
    case JSON_NODE_ARRAY:
      {
        JsonArray *a = json_node_get_array (node);
        g_string_append_c (out, '[');
        for (guint i = 0; i < json_array_get_length (a); i++)
          {
            if (i)
              g_string_append (out, ", ");
            append_python_repr (out, json_array_get_element (a, i), FALSE);
          }
        g_string_append_c (out, ']');
      }
      break;
    case JSON_NODE_OBJECT:
      {
        JsonObject *o = json_node_get_object (node);
        g_autoptr(GList) members = json_object_get_members (o);
        g_string_append_c (out, '{');
        for (GList *l = members; l; l = l->next)
          {
            if (l != members)
              g_string_append (out, ", ");
            append_python_str_literal (out, l->data);
            g_string_append (out, ": ");
            append_python_repr (out, json_object_get_member (o, l->data), FALSE);
          }
        g_string_append_c (out, '}');
      }
      break;
    }
}

static gboolean
is_ident_start (char c)
{
  return g_ascii_isalpha (c) || c == '_';
}

static gboolean
is_ident_char (char c)
{
  return g_ascii_isalnum (c) || c == '_';
}

char *
morango_template_substitute (const char *tmpl,
                             JsonObject *params)
{
  GString *out = g_string_sized_new (strlen (tmpl) + 32);
  const char *p = tmpl;

  while (*p)
    {
      const char *name = NULL;
      gsize name_len = 0;
      gsize consumed = 0;

      if (*p != '$')
        {
          g_string_append_c (out, *p++);
          continue;
        }

      if (p[1] == '$')
        {
          g_string_append_c (out, '$');
          p += 2;
          continue;
        }
      if (p[1] == '{' && is_ident_start (p[2]))
        {
          const char *q = p + 2;
          while (is_ident_char (*q))
            q++;
          if (*q == '}')
            {
              name = p + 2;
              name_len = q - name;
              consumed = q + 1 - p;
            }
        }
      else if (is_ident_start (p[1]))
        {
          const char *q = p + 1;
          while (is_ident_char (*q))
            q++;
          name = p + 1;
          name_len = q - name;
          consumed = q - p;
        }

      if (name != NULL)
        {
          g_autofree char *key = g_strndup (name, name_len);

          if (params != NULL && json_object_has_member (params, key))
            {
              append_python_repr (out, json_object_get_member (params, key), TRUE);
              p += consumed;
              continue;
            }
          /* Unknown placeholder: keep it verbatim. */
          g_string_append_len (out, p, consumed);
          p += consumed;
          continue;
        }

      /* A "$" that starts nothing valid stays as it is. */
      g_string_append_c (out, '$');
      p++;
    }
  return g_string_free (out, FALSE);
}

/* ---- filters ------------------------------------------------------------ */

/* Python's str.split() separators: Unicode white space plus the ASCII
 * information separators 0x1c-0x1f. */
static gboolean
is_split_space (gunichar c)
{
  return g_unichar_isspace (c) || (c >= 0x1c && c <= 0x1f) || c == 0x85;
}

static MorangoFilter *
filter_from_substituted (char *text /* owned */)
{
  MorangoFilter *self = g_new0 (MorangoFilter, 1);
  const char *p = text;
  const char *start = NULL;

  g_atomic_ref_count_init (&self->ref);
  self->text = text;
  self->entries = g_ptr_array_new_with_free_func (g_free);

  while (TRUE)
    {
      gunichar c = *p ? g_utf8_get_char_validated (p, -1) : 0;
      gboolean space = *p && c < (gunichar) -2 && is_split_space (c);

      if (*p == '\0' || space)
        {
          if (start != NULL)
            g_ptr_array_add (self->entries, g_strndup (start, p - start));
          start = NULL;
          if (*p == '\0')
            break;
        }
      else if (start == NULL)
        start = p;

      if (c >= (gunichar) -2)
        p++;
      else
        p = g_utf8_next_char (p);
    }

  if (self->entries->len == 0)
    g_ptr_array_add (self->entries, g_strdup (""));
  g_ptr_array_add (self->entries, NULL);
  return self;
}

MorangoFilter *
morango_filter_new (const char *tmpl,
                    JsonObject *params)
{
  g_return_val_if_fail (tmpl != NULL, NULL);

  return filter_from_substituted (morango_template_substitute (tmpl, params));
}

MorangoFilter *
morango_filter_new_with_json (const char  *tmpl,
                              const char  *params_json,
                              GError     **error)
{
  g_autoptr(JsonObject) params = NULL;

  if (params_json != NULL && *params_json != '\0')
    {
      params = morango_json_parse_object (params_json, "scope_params", error);
      if (params == NULL)
        return NULL;
    }
  return morango_filter_new (tmpl, params);
}

MorangoFilter *
morango_filter_parse (const char *text)
{
  return morango_filter_new (text ? text : "", NULL);
}

MorangoFilter *
morango_filter_new_from_entries (const char * const *entries,
                                 gssize              n_entries)
{
  g_autofree char *joined = NULL;
  g_autoptr(GPtrArray) list = g_ptr_array_new ();

  for (gssize i = 0; n_entries < 0 ? entries[i] != NULL : i < n_entries; i++)
    g_ptr_array_add (list, (gpointer) entries[i]);
  g_ptr_array_add (list, NULL);
  joined = g_strjoinv ("\n", (char **) list->pdata);
  return filter_from_substituted (g_steal_pointer (&joined));
}

MorangoFilter *
morango_filter_ref (MorangoFilter *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_ref_count_inc (&self->ref);
  return self;
}

void
morango_filter_unref (MorangoFilter *self)
{
  if (self != NULL && g_atomic_ref_count_dec (&self->ref))
    {
      g_ptr_array_unref (self->entries);
      g_free (self->text);
      g_free (self);
    }
}

guint
morango_filter_get_n_entries (MorangoFilter *self)
{
  return self->entries->len - 1;
}

const char *
morango_filter_get_entry (MorangoFilter *self,
                          guint          i)
{
  g_return_val_if_fail (i < self->entries->len - 1, NULL);
  return g_ptr_array_index (self->entries, i);
}

const char * const *
morango_filter_get_entries (MorangoFilter *self)
{
  return (const char * const *) self->entries->pdata;
}

gboolean
morango_filter_contains (MorangoFilter *self,
                         const char    *partition)
{
  g_return_val_if_fail (self != NULL && partition != NULL, FALSE);

  for (guint i = 0; i + 1 < self->entries->len; i++)
    if (morango_partition_has_prefix (partition, g_ptr_array_index (self->entries, i)))
      return TRUE;
  return FALSE;
}

gboolean
morango_filter_is_subset_of (MorangoFilter *self,
                             MorangoFilter *other)
{
  g_return_val_if_fail (self != NULL && other != NULL, FALSE);

  for (guint i = 0; i + 1 < self->entries->len; i++)
    if (!morango_filter_contains (other, g_ptr_array_index (self->entries, i)))
      return FALSE;
  return TRUE;
}

MorangoFilter *
morango_filter_add (MorangoFilter *a,
                    MorangoFilter *b)
{
  g_autofree char *text = NULL;

  g_return_val_if_fail (a != NULL && b != NULL, NULL);

  /* Python rebuilds a Filter from the two substituted texts, which runs
   * the substitution once more ("$$" collapses again). */
  text = g_strconcat (a->text, "\n", b->text, NULL);
  return morango_filter_new (text, NULL);
}

static gboolean
entries_cover (MorangoFilter *a,
               MorangoFilter *b)
{
  for (guint i = 0; i + 1 < a->entries->len; i++)
    {
      gboolean found = FALSE;
      for (guint j = 0; j + 1 < b->entries->len && !found; j++)
        found = g_str_equal (g_ptr_array_index (a->entries, i), g_ptr_array_index (b->entries, j));
      if (!found)
        return FALSE;
    }
  return TRUE;
}

gboolean
morango_filter_equal (MorangoFilter *a,
                      MorangoFilter *b)
{
  return entries_cover (a, b) && entries_cover (b, a);
}

char *
morango_filter_to_string (MorangoFilter *self)
{
  return g_strjoinv ("\n", (char **) self->entries->pdata);
}

gboolean
morango_filter_is_everything (MorangoFilter *self)
{
  for (guint i = 0; i + 1 < self->entries->len; i++)
    if (*(const char *) g_ptr_array_index (self->entries, i) == '\0')
      return TRUE;
  return FALSE;
}

/* ---- scope definitions -------------------------------------------------- */

static const char *
member_string (JsonObject *o,
               const char *name,
               gboolean    required,
               GError    **error)
{
  JsonNode *n = json_object_get_member (o, name);

  if (n == NULL || JSON_NODE_HOLDS_NULL (n))
    {
      if (required)
        g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                     _("scope definition: “%s” is missing"), name);
      return required ? NULL : "";
    }
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("scope definition: “%s” must be a string"), name);
      return NULL;
    }
  return json_node_get_string (n);
}

MorangoScopeDefinition *
morango_scope_definition_new_from_json (JsonObject  *object,
                                        GError     **error)
{
  g_autoptr(MorangoScopeDefinition) def = g_new0 (MorangoScopeDefinition, 1);
  const char *s;
  JsonNode *version;

#define TAKE(field, required) \
  if (!(s = member_string (object, #field, required, error))) return NULL; \
  def->field = g_strdup (s);
  TAKE (id, TRUE)
  TAKE (profile, TRUE)
  TAKE (primary_scope_param_key, FALSE)
  TAKE (description, FALSE)
  TAKE (read_filter_template, TRUE)
  TAKE (write_filter_template, TRUE)
  TAKE (read_write_filter_template, TRUE)
#undef TAKE

  version = json_object_get_member (object, "version");
  if (version == NULL || !JSON_NODE_HOLDS_VALUE (version) ||
      json_node_get_value_type (version) != G_TYPE_INT64)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("scope definition “%s”: “version” must be an integer"), def->id);
      return NULL;
    }
  def->version = json_node_get_int (version);
  if (*def->id == '\0' || strlen (def->id) > 20)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("scope definition id “%s” must have 1 to 20 characters"), def->id);
      return NULL;
    }
  return g_steal_pointer (&def);
}

MorangoScopeDefinition *
morango_scope_definition_copy (const MorangoScopeDefinition *def)
{
  MorangoScopeDefinition *copy = g_new0 (MorangoScopeDefinition, 1);

  copy->id = g_strdup (def->id);
  copy->profile = g_strdup (def->profile);
  copy->version = def->version;
  copy->primary_scope_param_key = g_strdup (def->primary_scope_param_key);
  copy->description = g_strdup (def->description);
  copy->read_filter_template = g_strdup (def->read_filter_template);
  copy->write_filter_template = g_strdup (def->write_filter_template);
  copy->read_write_filter_template = g_strdup (def->read_write_filter_template);
  return copy;
}

void
morango_scope_definition_free (MorangoScopeDefinition *def)
{
  if (def == NULL)
    return;
  g_free (def->id);
  g_free (def->profile);
  g_free (def->primary_scope_param_key);
  g_free (def->description);
  g_free (def->read_filter_template);
  g_free (def->write_filter_template);
  g_free (def->read_write_filter_template);
  g_free (def);
}

gboolean
morango_scope_definition_save (const MorangoScopeDefinition  *def,
                               MorangoDb                     *db,
                               GError                       **error)
{
  return morango_db_execute (db, error,
                             "INSERT INTO morango_scopedefinition (id, profile, version, "
                             "  primary_scope_param_key, description, read_filter_template, "
                             "  write_filter_template, read_write_filter_template) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                             "ON CONFLICT (id) DO UPDATE SET profile = excluded.profile, "
                             "  version = excluded.version, "
                             "  primary_scope_param_key = excluded.primary_scope_param_key, "
                             "  description = excluded.description, "
                             "  read_filter_template = excluded.read_filter_template, "
                             "  write_filter_template = excluded.write_filter_template, "
                             "  read_write_filter_template = excluded.read_write_filter_template",
                             "ssisssss", def->id, def->profile, def->version,
                             def->primary_scope_param_key, def->description,
                             def->read_filter_template, def->write_filter_template,
                             def->read_write_filter_template);
}

MorangoScopeDefinition *
morango_scope_definition_load (MorangoDb   *db,
                               const char  *id,
                               GError     **error)
{
  sqlite3_stmt *stmt;
  MorangoScopeDefinition *def;
  int rc;

  stmt = morango_db_prepare (db,
                             "SELECT id, profile, version, primary_scope_param_key, description, "
                             "  read_filter_template, write_filter_template, read_write_filter_template "
                             "FROM morango_scopedefinition WHERE id = ?", error);
  if (stmt == NULL || !morango_db_bind (db, stmt, error, "s", id))
    return NULL;
  rc = morango_db_step (db, stmt, error);
  if (rc < 0)
    return NULL;
  if (rc == SQLITE_DONE)
    {
      sqlite3_reset (stmt);
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_UNKNOWN_SCOPE_DEFINITION,
                   _("Unknown scope definition “%s”: this device's profile descriptions do not define it"),
                   id);
      return NULL;
    }
  def = g_new0 (MorangoScopeDefinition, 1);
  def->id = g_strdup (morango_db_column_text (stmt, 0));
  def->profile = g_strdup (morango_db_column_text (stmt, 1));
  def->version = sqlite3_column_int64 (stmt, 2);
  def->primary_scope_param_key = g_strdup (morango_db_column_text (stmt, 3));
  def->description = g_strdup (morango_db_column_text (stmt, 4));
  def->read_filter_template = g_strdup (morango_db_column_text (stmt, 5));
  def->write_filter_template = g_strdup (morango_db_column_text (stmt, 6));
  def->read_write_filter_template = g_strdup (morango_db_column_text (stmt, 7));
  sqlite3_reset (stmt);
  return def;
}

char *
morango_scope_definition_describe (const MorangoScopeDefinition *def,
                                   JsonObject                   *params)
{
  return morango_template_substitute (def->description ? def->description : "", params);
}

/* ---- scopes ------------------------------------------------------------- */

MorangoScope *
morango_scope_new_from_filters (MorangoFilter *read,
                                MorangoFilter *write)
{
  MorangoScope *self = g_new0 (MorangoScope, 1);

  self->read = morango_filter_ref (read);
  self->write = morango_filter_ref (write);
  return self;
}

MorangoScope *
morango_scope_new (const MorangoScopeDefinition  *def,
                   const char                    *params_json,
                   GError                       **error)
{
  g_autoptr(JsonObject) params = NULL;
  g_autoptr(MorangoFilter) rw = NULL;
  g_autoptr(MorangoFilter) r = NULL;
  g_autoptr(MorangoFilter) w = NULL;
  g_autoptr(MorangoFilter) read = NULL;
  g_autoptr(MorangoFilter) write = NULL;

  g_return_val_if_fail (def != NULL, NULL);

  params = morango_json_parse_object (params_json ? params_json : "{}", "scope_params", error);
  if (params == NULL)
    return NULL;
  rw = morango_filter_new (def->read_write_filter_template, params);
  r = morango_filter_new (def->read_filter_template, params);
  w = morango_filter_new (def->write_filter_template, params);
  read = morango_filter_add (rw, r);
  write = morango_filter_add (rw, w);
  return morango_scope_new_from_filters (read, write);
}

void
morango_scope_free (MorangoScope *self)
{
  if (self == NULL)
    return;
  morango_filter_unref (self->read);
  morango_filter_unref (self->write);
  g_free (self);
}

MorangoFilter *
morango_scope_get_read (MorangoScope *self)
{
  return self->read;
}

MorangoFilter *
morango_scope_get_write (MorangoScope *self)
{
  return self->write;
}

gboolean
morango_scope_is_subset_of (MorangoScope *self,
                            MorangoScope *other)
{
  return morango_filter_is_subset_of (self->read, other->read) &&
         morango_filter_is_subset_of (self->write, other->write);
}

gboolean
morango_scope_equal (MorangoScope *a,
                     MorangoScope *b)
{
  return morango_filter_equal (a->read, b->read) && morango_filter_equal (a->write, b->write);
}

gboolean
morango_scope_gate_transfer (MorangoScope   *client,
                             MorangoScope   *server,
                             MorangoFilter  *filter,
                             gboolean        push,
                             char          **message)
{
  const char *refusal = NULL;

  /* The server's side is checked first: when both refuse, Morango
   * reports the server's reason. */
  if (push)
    {
      if (!morango_filter_is_subset_of (filter, server->read))
        refusal = "Server certificate scope does not permit receiving pushes for the requested filter.";
      else if (!morango_filter_is_subset_of (filter, client->write))
        refusal = "Client certificate scope does not permit pushing for the requested filter.";
    }
  else
    {
      if (!morango_filter_is_subset_of (filter, server->write))
        refusal = "Server certificate scope does not permit responding to pulls for the requested filter.";
      else if (!morango_filter_is_subset_of (filter, client->read))
        refusal = "Client certificate scope does not permit pulling for the requested filter.";
    }

  if (message != NULL)
    *message = g_strdup (refusal);
  return refusal == NULL;
}
