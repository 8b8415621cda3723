/* morango-engine-scopes.c: the scopes a device holds, and what is in them
 *
 * SPDX-License-Identifier: MIT
 *
 * One pass over the store groups its records by partition and model; the
 * partitions are then given to the scopes in C, with the byte-prefix
 * test of the filters (never SQL LIKE), so a record in two scopes (a
 * facility and one of its learners) counts in both.
 */
#include "morango-engine-scopes.h"

#include <sqlite3.h>

#include "morango-certificate.h"
#include "morango-engine-private.h"
#include "morango-known-peer.h"

void
morango_scope_count_free (MorangoScopeCount *count)
{
  if (count == NULL)
    return;
  g_free (count->model_name);
  g_free (count->partition);
  g_free (count);
}

void
morango_scope_error_free (MorangoScopeError *error)
{
  if (error == NULL)
    return;
  g_free (error->record_id);
  g_free (error->model_name);
  g_free (error->partition);
  g_free (error->message);
  g_free (error);
}

void
morango_scope_summary_free (MorangoScopeSummary *summary)
{
  if (summary == NULL)
    return;
  g_free (summary->certificate_id);
  g_strfreev (summary->certificate_ids);
  g_free (summary->scope_definition);
  g_free (summary->scope_params);
  g_free (summary->description);
  g_strfreev (summary->read_filter);
  g_clear_pointer (&summary->counts, g_ptr_array_unref);
  g_clear_pointer (&summary->error_list, g_ptr_array_unref);
  g_free (summary->last_peer_id);
  g_free (summary->last_peer_name);
  g_free (summary);
}

/* A summary being built, with what only the reading needs. */
typedef struct {
  MorangoScopeSummary *summary;
  MorangoFilter       *filter;      /* NULL: the records outside every scope */
  GPtrArray           *cert_ids;    /* char * */
} Building;

static void
building_free (Building *b)
{
  morango_scope_summary_free (b->summary);
  g_clear_pointer (&b->filter, morango_filter_unref);
  g_clear_pointer (&b->cert_ids, g_ptr_array_unref);
  g_free (b);
}

static Building *
building_new (MorangoFilter *filter)
{
  Building *b = g_new0 (Building, 1);

  b->summary = g_new0 (MorangoScopeSummary, 1);
  b->summary->counts = g_ptr_array_new_with_free_func ((GDestroyNotify) morango_scope_count_free);
  b->summary->error_list = g_ptr_array_new_with_free_func ((GDestroyNotify) morango_scope_error_free);
  b->filter = filter ? morango_filter_ref (filter) : NULL;
  b->cert_ids = g_ptr_array_new_with_free_func (g_free);
  return b;
}

/* One Building per distinct read filter of the certificates held with
 * their private key, in tree order. */
static gboolean
collect_scopes (MorangoStore  *store,
                GPtrArray     *scopes,
                GError       **error)
{
  MorangoDb *db = morango_store_get_db (store);
  const char *profile = morango_store_get_profile_name (store);
  g_autoptr(GPtrArray) certs = morango_certificate_list (db, error);

  if (certs == NULL)
    return FALSE;
  for (guint i = 0; i < certs->len; i++)
    {
      MorangoCertificate *cert = g_ptr_array_index (certs, i);
      g_autoptr(GError) local = NULL;
      g_autoptr(MorangoScope) scope = NULL;
      g_autoptr(MorangoScopeDefinition) def = NULL;
      g_autoptr(JsonParser) parser = NULL;
      MorangoFilter *read;
      Building *b = NULL;

      if (!morango_certificate_has_private_key (cert) ||
          g_strcmp0 (morango_certificate_get_profile (cert), profile) != 0)
        continue;
      scope = morango_certificate_get_scope (cert, db, &local);
      if (scope == NULL)
        {
          /* A definition this folder lacks: the scope cannot be read, and
           * the other scopes still can. */
          g_debug ("scope of certificate %s unknown: %s", morango_certificate_get_id (cert), local->message);
          continue;
        }
      read = morango_scope_get_read (scope);
      for (guint j = 0; j < scopes->len && b == NULL; j++)
        {
          Building *other = g_ptr_array_index (scopes, j);

          if (morango_filter_equal (other->filter, read))
            b = other;
        }
      if (b != NULL)
        {
          g_ptr_array_add (b->cert_ids, g_strdup (morango_certificate_get_id (cert)));
          continue;
        }

      b = building_new (read);
      g_ptr_array_add (b->cert_ids, g_strdup (morango_certificate_get_id (cert)));
      b->summary->certificate_id = g_strdup (morango_certificate_get_id (cert));
      b->summary->scope_definition = g_strdup (morango_certificate_get_scope_definition_id (cert));
      b->summary->scope_params = g_strdup (morango_certificate_get_scope_params (cert));
      b->summary->read_filter = g_strdupv ((char **) morango_filter_get_entries (read));
      def = morango_scope_definition_load (db, b->summary->scope_definition, NULL);
      parser = json_parser_new ();
      if (def != NULL && json_parser_load_from_data (parser, b->summary->scope_params, -1, NULL) &&
          JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        b->summary->description = morango_scope_definition_describe (def, json_node_get_object (json_parser_get_root (parser)));
      g_ptr_array_add (scopes, b);
    }
  return TRUE;
}

static MorangoScopeCount *
count_new (const char *model_name,
           const char *partition,
           gint64      records,
           gint64      deleted,
           gint64      conflicts,
           gint64      errors)
{
  MorangoScopeCount *c = g_new0 (MorangoScopeCount, 1);

  c->model_name = g_strdup (model_name);
  c->partition = g_strdup (partition);
  c->records = records;
  c->deleted = deleted;
  c->conflicts = conflicts;
  c->errors = errors;
  return c;
}

static void
add_count (Building         *b,
           MorangoScopeCount *c)
{
  g_ptr_array_add (b->summary->counts, c);
  b->summary->records += c->records;
  b->summary->deleted += c->deleted;
  b->summary->conflicts += c->conflicts;
  b->summary->errors += c->errors;
}

static int
compare_counts (gconstpointer a,
                gconstpointer b)
{
  const MorangoScopeCount *x = *(MorangoScopeCount * const *) a;
  const MorangoScopeCount *y = *(MorangoScopeCount * const *) b;
  int order = strcmp (x->model_name, y->model_name);

  return order != 0 ? order : strcmp (x->partition, y->partition);
}

/* Grouping is done here, not by SQL GROUP BY: sorting every record by
 * model and partition in a temporary B-tree took 0.4-0.5 s at 100k
 * records, a plain scan into a hash table of the few groups takes a
 * fraction of that, and needs no index that the sync stages would pay
 * for on every write. */
static gboolean
count_records (MorangoStore  *store,
               GPtrArray     *scopes,
               Building      *outside,
               GError       **error)
{
  MorangoDb *db = morango_store_get_db (store);
  g_autoptr(GHashTable) groups = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) counts = g_ptr_array_new ();
  g_autoptr(GString) key = g_string_new (NULL);
  sqlite3_stmt *stmt;
  int rc;

  stmt = morango_db_prepare (db,
                             "SELECT model_name, partition, deleted != 0 OR hard_deleted != 0,"
                             "  conflicting_serialized_data != '', deserialization_error != ''"
                             " FROM morango_store WHERE profile = ?", error);
  if (stmt == NULL || !morango_db_bind (db, stmt, error, "s", morango_store_get_profile_name (store)))
    return FALSE;
  while ((rc = morango_db_step (db, stmt, error)) == SQLITE_ROW)
    {
      const char *model = (const char *) sqlite3_column_text (stmt, 0);
      const char *partition = (const char *) sqlite3_column_text (stmt, 1);
      MorangoScopeCount *c;

      /* A model name holds no newline (the profile's names are
       * identifiers), so model "\n" partition names one group. */
      g_string_assign (key, model);
      g_string_append_c (key, '\n');
      g_string_append (key, partition);
      c = g_hash_table_lookup (groups, key->str);
      if (c == NULL)
        {
          c = count_new (model, partition, 0, 0, 0, 0);
          g_ptr_array_add (counts, c);
          g_hash_table_insert (groups, g_strdup (key->str), c);
        }
      if (sqlite3_column_int (stmt, 2))
        c->deleted++;
      else
        c->records++;
      c->conflicts += sqlite3_column_int (stmt, 3);
      c->errors += sqlite3_column_int (stmt, 4);
    }
  if (rc < 0)
    {
      g_ptr_array_foreach (counts, (GFunc) morango_scope_count_free, NULL);
      return FALSE;
    }
  sqlite3_reset (stmt);

  /* Each scope's list comes in model, then partition order. */
  g_ptr_array_sort (counts, compare_counts);
  for (guint i = 0; i < counts->len; i++)
    {
      MorangoScopeCount *c = g_ptr_array_index (counts, i);
      gboolean inside = FALSE;

      for (guint j = 0; j < scopes->len; j++)
        {
          Building *b = g_ptr_array_index (scopes, j);

          if (morango_filter_contains (b->filter, c->partition))
            {
              add_count (b, count_new (c->model_name, c->partition, c->records, c->deleted,
                                       c->conflicts, c->errors));
              inside = TRUE;
            }
        }
      if (!inside)
        add_count (outside, count_new (c->model_name, c->partition, c->records, c->deleted,
                                       c->conflicts, c->errors));
      morango_scope_count_free (c);
    }
  return TRUE;
}

static gboolean
wants_errors (Building *b)
{
  return (gint64) b->summary->error_list->len < MIN (b->summary->errors, MORANGO_SCOPE_ERRORS_MAX);
}

static void
add_error (Building     *b,
           sqlite3_stmt *stmt)
{
  MorangoScopeError *e;

  if (b->summary->error_list->len >= MORANGO_SCOPE_ERRORS_MAX)
    return;
  e = g_new0 (MorangoScopeError, 1);
  e->record_id = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  e->model_name = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
  e->partition = g_strdup ((const char *) sqlite3_column_text (stmt, 2));
  e->message = g_strdup ((const char *) sqlite3_column_text (stmt, 3));
  g_ptr_array_add (b->summary->error_list, e);
}

/* The first messages of each scope; the reading stops once every scope
 * that has errors has as many as it will show. */
static gboolean
collect_errors (MorangoStore  *store,
                GPtrArray     *scopes,
                Building      *outside,
                GError       **error)
{
  MorangoDb *db = morango_store_get_db (store);
  sqlite3_stmt *stmt;
  int rc;

  stmt = morango_db_prepare (db,
                             "SELECT id, model_name, partition, deserialization_error"
                             " FROM morango_store WHERE profile = ? AND deserialization_error != ''"
                             " ORDER BY model_name, id", error);
  if (stmt == NULL || !morango_db_bind (db, stmt, error, "s", morango_store_get_profile_name (store)))
    return FALSE;
  while ((rc = morango_db_step (db, stmt, error)) == SQLITE_ROW)
    {
      const char *partition = (const char *) sqlite3_column_text (stmt, 2);
      gboolean inside = FALSE, more = wants_errors (outside);

      for (guint i = 0; i < scopes->len; i++)
        {
          Building *b = g_ptr_array_index (scopes, i);

          if (morango_filter_contains (b->filter, partition))
            {
              add_error (b, stmt);
              inside = TRUE;
            }
          more |= wants_errors (b);
        }
      if (!inside)
        add_error (outside, stmt);
      if (!more)
        break;
    }
  sqlite3_reset (stmt);
  return rc >= 0;
}

/* What a client of our server last synced: the filter of its latest
 * transfer, or NULL.  The server side keeps no certificate per client
 * (morango_known_peer_record_client() gets none), but its sessions name
 * the client's instance and each transfer its filter. */
static gboolean
client_filter (MorangoStore      *store,
               const char        *instance_id,
               MorangoFilter    **filter,
               GError           **error)
{
  MorangoDb *db = morango_store_get_db (store);
  g_autofree char *text = NULL;

  *filter = NULL;
  if (!morango_db_query_text (db, &text, error,
                              "SELECT t.filter FROM morango_transfersession t"
                              " JOIN morango_syncsession s ON s.id = t.sync_session_id"
                              " WHERE s.is_server AND s.client_instance_id = ?"
                              " ORDER BY t.last_activity_timestamp DESC LIMIT 1",
                              "s", instance_id))
    return FALSE;
  if (text != NULL)
    *filter = morango_filter_parse (text);
  return TRUE;
}

/* The peer with the latest success among those whose last pairing or
 * sync used one of the scope's certificates, on either side, or, for a
 * client of our server, whose last transfer stayed inside the scope.
 * @client_filters runs beside @peers (NULL where none is known). */
static void
find_last_peers (GPtrArray *peers,
                 GPtrArray *client_filters,
                 GPtrArray *scopes)
{
  for (guint i = 0; i < scopes->len; i++)
    {
      Building *b = g_ptr_array_index (scopes, i);
      const MorangoKnownPeer *best = NULL;

      for (guint j = 0; j < peers->len; j++)
        {
          const MorangoKnownPeer *peer = g_ptr_array_index (peers, j);
          MorangoFilter *transferred = g_ptr_array_index (client_filters, j);
          gboolean uses = FALSE;

          if (peer->last_success <= 0)
            continue;
          for (guint k = 0; k < b->cert_ids->len && !uses; k++)
            uses = g_strcmp0 (peer->client_certificate_id, b->cert_ids->pdata[k]) == 0 ||
                   g_strcmp0 (peer->server_certificate_id, b->cert_ids->pdata[k]) == 0;
          if (!uses && transferred != NULL)
            uses = morango_filter_is_subset_of (transferred, b->filter);
          if (uses && (best == NULL || peer->last_success > best->last_success))
            best = peer;
        }
      if (best != NULL)
        {
          b->summary->last_peer_id = g_strdup (best->id);
          b->summary->last_peer_name = g_strdup (best->address ? best->address : best->instance_id);
          b->summary->last_synced = best->last_success;
        }
    }
}

static void
list_scopes_thread (GTask        *task,
                    gpointer      source_object,
                    gpointer      task_data,
                    GCancellable *cancellable)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = morango_engine_open_store (source_object, &error);
  g_autoptr(GPtrArray) scopes = g_ptr_array_new_with_free_func ((GDestroyNotify) building_free);
  g_autoptr(GPtrArray) peers = NULL;
  g_autoptr(GPtrArray) client_filters = NULL;
  g_autoptr(GPtrArray) result = NULL;
  Building *outside;

  if (store == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (!collect_scopes (store, scopes, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  outside = building_new (NULL);
  /* No transaction around the readings: a read transaction would pin
   * the WAL while a sync writes, and a sync that commits between them is
   * seen whole at the next reading, which its data-changed asks for. */
  if (!count_records (store, scopes, outside, &error) ||
      !collect_errors (store, scopes, outside, &error) ||
      (peers = morango_known_peer_list (store, TRUE, &error)) == NULL)
    {
      building_free (outside);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  client_filters = g_ptr_array_new_with_free_func ((GDestroyNotify) morango_filter_unref);
  for (guint i = 0; i < peers->len; i++)
    {
      const MorangoKnownPeer *peer = g_ptr_array_index (peers, i);
      MorangoFilter *filter = NULL;

      if ((peer->roles & MORANGO_PEER_ROLE_CLIENT) && peer->instance_id != NULL &&
          !client_filter (store, peer->instance_id, &filter, &error))
        {
          building_free (outside);
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      g_ptr_array_add (client_filters, filter);
    }
  find_last_peers (peers, client_filters, scopes);

  if (g_task_return_error_if_cancelled (task))
    {
      building_free (outside);
      return;
    }
  result = g_ptr_array_new_with_free_func ((GDestroyNotify) morango_scope_summary_free);
  for (guint i = 0; i < scopes->len; i++)
    {
      Building *b = g_ptr_array_index (scopes, i);

      g_ptr_array_add (b->cert_ids, NULL);
      b->summary->certificate_ids = g_strdupv ((char **) b->cert_ids->pdata);
      g_ptr_array_add (result, g_steal_pointer (&b->summary));
    }
  if (outside->summary->counts->len > 0)
    {
      outside->summary->certificate_ids = g_new0 (char *, 1);
      outside->summary->read_filter = g_new0 (char *, 1);
      g_ptr_array_add (result, g_steal_pointer (&outside->summary));
    }
  building_free (outside);
  g_task_return_pointer (task, g_steal_pointer (&result), (GDestroyNotify) g_ptr_array_unref);
}

void
morango_engine_list_scopes_async (MorangoEngine       *self,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MORANGO_IS_ENGINE (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, morango_engine_list_scopes_async);
  g_task_run_in_thread (task, list_scopes_thread);
}

GPtrArray *
morango_engine_list_scopes_finish (MorangoEngine  *self,
                                   GAsyncResult   *result,
                                   GError        **error)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
