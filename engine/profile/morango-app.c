/* morango-app.c: create, update, delete and read application rows
 *
 * SPDX-License-Identifier: MIT
 */

#include "morango-app-private.h"
#include "morango-app.h"
#include "morango-ids.h"
#include "morango-row-private.h"
#include "morango-i18n-private.h"

struct _MorangoApp
{
  GObject         parent_instance;
  MorangoDb      *db;
  MorangoProfile *profile;   /* NULL: a relay, which has no application tables */
  MorangoRandom  *random;
};

G_DEFINE_FINAL_TYPE (MorangoApp, morango_app, G_TYPE_OBJECT)

static void
morango_app_finalize (GObject *object)
{
  MorangoApp *self = (MorangoApp *)object;

  g_clear_object (&self->db);
  g_clear_object (&self->profile);
  g_clear_pointer (&self->random, morango_random_unref);
  G_OBJECT_CLASS (morango_app_parent_class)->finalize (object);
}

static void
morango_app_class_init (MorangoAppClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = morango_app_finalize;
}

static void
morango_app_init (MorangoApp *self)
{
}

MorangoApp *
morango_app_new (MorangoDb      *db,
                 MorangoProfile *profile,
                 MorangoRandom  *random)
{
  MorangoApp *self;

  g_return_val_if_fail (MORANGO_IS_DB (db), NULL);
  g_return_val_if_fail (profile == NULL || MORANGO_IS_PROFILE (profile), NULL);
  g_return_val_if_fail (random != NULL, NULL);

  self = g_object_new (MORANGO_TYPE_APP, NULL);
  self->db = g_object_ref (db);
  self->profile = profile ? g_object_ref (profile) : NULL;
  self->random = morango_random_ref (random);
  return self;
}

MorangoDb *
morango_app_get_db (MorangoApp *self)
{
  g_return_val_if_fail (MORANGO_IS_APP (self), NULL);
  return self->db;
}

MorangoProfile *
morango_app_get_profile (MorangoApp *self)
{
  g_return_val_if_fail (MORANGO_IS_APP (self), NULL);
  return self->profile;
}

static MorangoModel *
lookup_model (MorangoApp    *app,
              const char    *model_name,
              GError       **error)
{
  MorangoProfile *profile = app->profile;
  MorangoModel *model;

  if (profile == NULL)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_UNKNOWN_MODEL,
                   _("This database has no profile description, so no application tables"));
      return NULL;
    }
  model = morango_profile_get_model (profile, model_name);
  if (model == NULL)
    g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_UNKNOWN_MODEL,
                 _("Profile “%s” has no model “%s”"), morango_profile_get_name (profile),
                 model_name ? model_name : "(null)");
  return model;
}

/* Fills @row from the caller's JSON; unknown and reserved keys are
 * refused so that a typo does not silently drop a value. */
static gboolean
apply_fields (MorangoRow  *row,
              JsonObject  *fields,
              gboolean     allow_builtin,
              gboolean    *given,
              GError     **error)
{
  MorangoModel *m = row->model;
  g_autoptr(GList) members = fields ? json_object_get_members (fields) : NULL;

  for (GList *l = members; l; l = l->next)
    {
      const char *key = l->data;
      int idx = morango_model_get_field_index (m, key);
      MorangoField *f;
      JsonNode *value = json_object_get_member (fields, key);

      if (idx < 0)
        {
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                       _("The model “%s” has no field “%s”"), m->name, key);
          return FALSE;
        }
      f = g_ptr_array_index (m->fields, idx);
      if (f->type == MORANGO_FIELD_ID || f->type == MORANGO_FIELD_SOURCE_ID ||
          f->type == MORANGO_FIELD_PARTITION)
        {
          if (!allow_builtin)
            {
              g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                           _("“%s” of a %s cannot be changed"), key, m->verbose_name);
              return FALSE;
            }
          if (!JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_STRING)
            {
              g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                           _("“%s” must be a string"), key);
              return FALSE;
            }
        }
      morango_row_set_from_json (row, idx, value);
      if (given)
        given[idx] = TRUE;
    }
  return TRUE;
}

/* Field validation plus existence of foreign key targets among the
 * application rows. */
static gboolean
check_row (MorangoApp    *app,
           MorangoRow    *row,
           GError       **error)
{
  MorangoModel *m = row->model;
  MorangoDb *db = app->db;
  g_autofree char *invalid = morango_row_validate (row);

  /* Validation failures stay in Django's English: they are stored as a
   * record's deserialization error, the text Morango itself would keep. */
  if (invalid != NULL)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_VALIDATION,
                   "Invalid %s: %s", m->verbose_name, invalid);
      return FALSE;
    }
  if (morango_row_has_bad_uuid (row))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_VALIDATION,
                   "Invalid %s: badly formed hexadecimal UUID string", m->verbose_name);
      return FALSE;
    }
  for (guint i = 0; i < m->fields->len; i++)
    {
      MorangoField *f = g_ptr_array_index (m->fields, i);
      const char *target = morango_row_get_text (row, i);
      gboolean found = FALSE;

      if (f->type != MORANGO_FIELD_FOREIGN_KEY || target == NULL)
        continue;
      if (f->fk_self && g_strcmp0 (target, morango_row_get_text (row, m->id_col)) == 0)
        continue;
      if (!morango_db_query_int64 (db, NULL, &found, error, f->fk_model->sql_exists, "s", target))
        return FALSE;
      if (!found)
        {
          g_autoptr(GString) msg = g_string_new (NULL);
          g_autofree char *text = g_strdup_printf ("%s instance with id '%s' does not exist.",
                                                   f->fk_model->verbose_name, target);
          g_string_append_printf (msg, "Invalid %s: {", m->verbose_name);
          morango_py_repr_append (msg, f->name);
          g_string_append (msg, ": [");
          morango_py_repr_append (msg, text);
          g_string_append (msg, "]}");
          g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_VALIDATION, msg->str);
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
morango_app_write_row (MorangoApp    *app,
                       MorangoRow    *row,
                       gboolean       dirty,
                       GError       **error)
{
  MorangoDb *db = app->db;
  sqlite3_stmt *stmt = morango_db_prepare (db, row->model->sql_upsert, error);
  guint n = row->model->fields->len;

  if (stmt == NULL)
    return FALSE;
  morango_row_bind (row, stmt, 1);
  sqlite3_bind_int (stmt, n + 1, dirty ? 1 : 0);
  return morango_db_run (db, stmt, error);
}

gboolean
morango_app_create (MorangoApp    *app,
                    const char    *model_name,
                    JsonObject    *fields,
                    char         **out_id,
                    GError       **error)
{
  MorangoModel *m;
  MorangoDb *db;
  MorangoRow *row;
  g_autofree gboolean *given = NULL;
  g_autofree char *explicit_id = NULL;
  g_autoptr(MorangoTransaction) tx = NULL;
  gboolean ok = FALSE;

  g_return_val_if_fail (MORANGO_IS_APP (app), FALSE);
  g_return_val_if_fail (model_name != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if ((m = lookup_model (app, model_name, error)) == NULL)
    return FALSE;
  db = app->db;
  row = morango_row_new (m);
  given = g_new0 (gboolean, m->fields->len);

  if (!apply_fields (row, fields, TRUE, given, error))
    goto out;
  for (guint i = 0; i < m->fields->len; i++)
    if (!given[i] && i != (guint) m->id_col && i != (guint) m->source_id_col &&
        i != (guint) m->partition_col)
      morango_row_set_default (row, i, app->random);
  /* Ids first, as Django's save() does: an empty source id is an
   * InvalidMorangoSourceId even when the field is also invalid. */
  if (given[m->id_col])
    {
      /* An imported record: its three id values must already agree. */
      const char *id = morango_row_get_text (row, m->id_col);
      const char *sid = morango_row_get_text (row, m->source_id_col);
      const char *part = morango_row_get_text (row, m->partition_col);

      if (!morango_is_hex32 (id) || sid == NULL || part == NULL ||
          !morango_profile_verify_record_id (app->profile, m->name, id, part, sid))
        {
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                       _("An explicit id needs _morango_source_id and _morango_partition "
                       "consistent with it under the %s id rule"), m->verbose_name);
          goto out;
        }
      explicit_id = g_strdup (id);
    }
  else if (!morango_row_compute_ids (row, app->random, error))
    goto out;

  if (m->id_rule == MORANGO_ID_SOURCE_ID && !morango_is_hex32 (morango_row_get_text (row, m->id_col)))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID_SOURCE_ID,
                   _("The source id of a %s is its id, so it must be 32 lowercase hex characters"),
                   m->verbose_name);
      goto out;
    }

  if (!check_row (app, row, error))
    goto out;

  /* The write is one statement, which SQLite applies whole or not at
   * all.  Inside the caller's transaction a savepoint around it adds
   * nothing but its cost: every page the row touches first in a
   * savepoint is copied to the statement journal (16 KiB each, a few per
   * row), which made a bulk creation of 100k rows spend a tenth of its
   * time in memcpy. */
  if (morango_db_in_transaction (db))
    {
      if (!morango_app_write_row (app, row, TRUE, error))
        goto out;
    }
  else if ((tx = morango_transaction_begin (db, NULL, error)) == NULL ||
           !morango_app_write_row (app, row, TRUE, error) ||
           !morango_transaction_commit (tx, error))
    goto out;
  if (out_id)
    *out_id = g_strdup (morango_row_get_text (row, m->id_col));
  ok = TRUE;

out:
  morango_row_free (row);
  return ok;
}

/* Loads the row @id of @m into @row; FALSE with NOT_FOUND when absent. */
static gboolean
load_row (MorangoApp    *app,
          MorangoRow    *row,
          const char    *id,
          gboolean      *dirty,
          GError       **error)
{
  MorangoDb *db = app->db;
  sqlite3_stmt *stmt = morango_db_prepare (db, row->model->sql_select_by_id, error);
  int rc;

  if (stmt == NULL || !morango_db_bind (db, stmt, error, "s", id))
    return FALSE;
  rc = morango_db_step (db, stmt, error);
  if (rc < 0)
    return FALSE;
  if (rc != SQLITE_ROW)
    {
      sqlite3_reset (stmt);
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND,
                   _("There is no %s with id %s"), row->model->verbose_name, id);
      return FALSE;
    }
  morango_row_read (row, stmt, 0);
  if (dirty)
    *dirty = sqlite3_column_int (stmt, row->model->fields->len) != 0;
  sqlite3_reset (stmt);
  return TRUE;
}

gboolean
morango_app_update (MorangoApp    *app,
                    const char    *model_name,
                    const char    *id,
                    JsonObject    *changes,
                    GError       **error)
{
  return morango_app_update_full (app, model_name, id, changes, MORANGO_DIRTY_BIT_SET, error);
}

gboolean
morango_app_update_full (MorangoApp            *app,
                         const char            *model_name,
                         const char            *id,
                         JsonObject            *changes,
                         MorangoDirtyBitUpdate  dirty_bit,
                         GError               **error)
{
  MorangoModel *m;
  MorangoDb *db;
  MorangoRow *row;
  sqlite3_stmt *stmt;
  g_autoptr(MorangoTransaction) tx = NULL;
  gboolean ok = FALSE, was_dirty = FALSE;

  g_return_val_if_fail (MORANGO_IS_APP (app), FALSE);
  g_return_val_if_fail (model_name != NULL && id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if ((m = lookup_model (app, model_name, error)) == NULL)
    return FALSE;
  db = app->db;
  row = morango_row_new (m);
  if (!load_row (app, row, id, &was_dirty, error) ||
      !apply_fields (row, changes, FALSE, NULL, error) ||
      !check_row (app, row, error))
    goto out;
  if ((tx = morango_transaction_begin (db, NULL, error)) == NULL ||
      (stmt = morango_db_prepare (db, m->sql_update, error)) == NULL)
    goto out;
  morango_row_bind (row, stmt, 1);
  sqlite3_bind_int (stmt, m->fields->len + 1,
                    dirty_bit == MORANGO_DIRTY_BIT_SET ||
                    (dirty_bit == MORANGO_DIRTY_BIT_KEEP && was_dirty));
  sqlite3_bind_text (stmt, m->fields->len + 2, id, -1, SQLITE_TRANSIENT);
  ok = morango_db_run (db, stmt, error) && morango_transaction_commit (tx, error);

out:
  morango_row_free (row);
  return ok;
}

static gboolean
track_deletion (MorangoApp    *app,
                const char    *id,
                gboolean       hard,
                GError       **error)
{
  MorangoDb *db = app->db;
  const char *profile = morango_profile_get_name (app->profile);

  if (!morango_db_execute (db, error,
                           "INSERT INTO morango_deletedmodels (id, profile) VALUES (?, ?) "
                           "ON CONFLICT (id) DO UPDATE SET profile = excluded.profile",
                           "ss", id, profile))
    return FALSE;
  if (hard &&
      !morango_db_execute (db, error,
                           "INSERT INTO morango_harddeletedmodels (id, profile) VALUES (?, ?) "
                           "ON CONFLICT (id) DO UPDATE SET profile = excluded.profile",
                           "ss", id, profile))
    return FALSE;
  return TRUE;
}

gboolean
morango_app_delete_cascade (MorangoApp    *app,
                            MorangoModel  *m,
                            const char    *id,
                            gboolean       track_self,
                            gboolean       track_dependents,
                            gboolean       hard,
                            GError       **error)
{
  MorangoDb *db = app->db;

  /* The row goes first, so that a loop of parents in the data ends the
   * recursion instead of feeding it. */
  if (track_self && !track_deletion (app, id, hard, error))
    return FALSE;
  if (!morango_db_execute (db, error, m->sql_delete, "s", id))
    return FALSE;

  for (guint d = 0; d < m->dependents->len; d++)
    {
      MorangoDependent *dep = g_ptr_array_index (m->dependents, d);
      MorangoModel *child = dep->from_model;
      g_autofree char *sql = NULL;

      if (dep->from_field->on_delete == MORANGO_ON_DELETE_SET_NULL)
        {
          /* A changed row: it syncs again with the reference gone. */
          sql = g_strdup_printf ("UPDATE \"%s\" SET \"%s\" = NULL, _morango_dirty_bit = 1 "
                                 "WHERE \"%s\" = ?", child->table, dep->from_field->column,
                                 dep->from_field->column);
          if (!morango_db_execute (db, error, sql, "s", id))
            return FALSE;
          continue;
        }

      if (child->dependents->len == 0)
        {
          /* Leaf models go in three set statements. */
          if (track_dependents)
            {
              g_autofree char *ins = g_strdup_printf (
                "INSERT INTO morango_deletedmodels (id, profile) SELECT id, ? FROM \"%s\" "
                "WHERE \"%s\" = ? ON CONFLICT (id) DO UPDATE SET profile = excluded.profile",
                child->table, dep->from_field->column);
              if (!morango_db_execute (db, error, ins, "ss",
                                       morango_profile_get_name (app->profile), id))
                return FALSE;
              if (hard)
                {
                  g_autofree char *hins = g_strdup_printf (
                    "INSERT INTO morango_harddeletedmodels (id, profile) SELECT id, ? FROM \"%s\" "
                    "WHERE \"%s\" = ? ON CONFLICT (id) DO UPDATE SET profile = excluded.profile",
                    child->table, dep->from_field->column);
                  if (!morango_db_execute (db, error, hins, "ss",
                                           morango_profile_get_name (app->profile), id))
                    return FALSE;
                }
            }
          sql = g_strdup_printf ("DELETE FROM \"%s\" WHERE \"%s\" = ?", child->table,
                                 dep->from_field->column);
          if (!morango_db_execute (db, error, sql, "s", id))
            return FALSE;
        }
      else
        {
          g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
          sqlite3_stmt *stmt;
          int rc;

          sql = g_strdup_printf ("SELECT id FROM \"%s\" WHERE \"%s\" = ?", child->table,
                                 dep->from_field->column);
          if ((stmt = morango_db_prepare (db, sql, error)) == NULL ||
              !morango_db_bind (db, stmt, error, "s", id))
            return FALSE;
          while ((rc = morango_db_step (db, stmt, error)) == SQLITE_ROW)
            g_ptr_array_add (ids, g_strdup (morango_db_column_text (stmt, 0)));
          sqlite3_reset (stmt);
          if (rc < 0)
            return FALSE;
          for (guint k = 0; k < ids->len; k++)
            if (!morango_app_delete_cascade (app, child, g_ptr_array_index (ids, k),
                                             track_dependents, track_dependents, hard, error))
              return FALSE;
        }
    }
  return TRUE;
}

gboolean
morango_app_delete (MorangoApp    *app,
                    const char    *model_name,
                    const char    *id,
                    gboolean       hard,
                    GError       **error)
{
  MorangoModel *m;
  MorangoDb *db;
  gboolean found = FALSE;
  g_autoptr(MorangoTransaction) tx = NULL;

  g_return_val_if_fail (MORANGO_IS_APP (app), FALSE);
  g_return_val_if_fail (model_name != NULL && id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if ((m = lookup_model (app, model_name, error)) == NULL)
    return FALSE;
  db = app->db;
  if ((tx = morango_transaction_begin (db, NULL, error)) == NULL ||
      !morango_db_query_int64 (db, NULL, &found, error, m->sql_exists, "s", id))
    return FALSE;
  if (!found)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND,
                   _("There is no %s with id %s"), m->verbose_name, id);
      return FALSE;
    }
  return morango_app_delete_cascade (app, m, id, TRUE, TRUE, hard, error) &&
         morango_transaction_commit (tx, error);
}

JsonObject *
morango_app_get (MorangoApp    *app,
                 const char    *model_name,
                 const char    *id,
                 GError       **error)
{
  MorangoModel *m;
  MorangoRow *row;
  JsonObject *obj = NULL;
  gboolean dirty = FALSE;

  g_return_val_if_fail (MORANGO_IS_APP (app), NULL);
  g_return_val_if_fail (model_name != NULL && id != NULL, NULL);

  if ((m = lookup_model (app, model_name, error)) == NULL)
    return NULL;
  row = morango_row_new (m);
  if (load_row (app, row, id, &dirty, error))
    {
      obj = json_object_new ();
      for (guint i = 0; i < m->fields->len; i++)
        {
          MorangoField *f = g_ptr_array_index (m->fields, i);
          json_object_set_member (obj, f->column, morango_row_value_to_node (row, i));
        }
      json_object_set_boolean_member (obj, "_morango_dirty_bit", dirty);
    }
  morango_row_free (row);
  return obj;
}

gboolean
morango_app_check_row (MorangoApp    *app,
                       MorangoRow    *row,
                       GError       **error)
{
  return check_row (app, row, error);
}

MorangoRandom *
morango_app_get_random (MorangoApp *app)
{
  return app->random;
}
