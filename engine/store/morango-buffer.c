/* morango-buffer.c: a store's transfer buffers
 *
 * SPDX-License-Identifier: MIT
 */
#include "morango-buffer.h"
#include "morango-flat-json.h"
#include "morango-ids.h"

/* The two tables a transfer session's rows wait in: how to tell whether
 * another session has rows there (both tables' indexes lead with the
 * session id, so that is two probes), and how to delete the session's
 * rows, or all of them when the session is alone. */
static const struct {
  const char *others;
  const char *delete_session;
  const char *delete_all;
} buffer_tables[] = {
  { "SELECT EXISTS (SELECT 1 FROM morango_recordmaxcounterbuffer WHERE transfer_session_id < ?1) "
    "OR EXISTS (SELECT 1 FROM morango_recordmaxcounterbuffer WHERE transfer_session_id > ?1)",
    "DELETE FROM morango_recordmaxcounterbuffer WHERE transfer_session_id = ?1",
    "DELETE FROM morango_recordmaxcounterbuffer" },
  { "SELECT EXISTS (SELECT 1 FROM morango_buffer WHERE transfer_session_id < ?1) "
    "OR EXISTS (SELECT 1 FROM morango_buffer WHERE transfer_session_id > ?1)",
    "DELETE FROM morango_buffer WHERE transfer_session_id = ?1",
    "DELETE FROM morango_buffer" },
};

gboolean
morango_buffer_clear (MorangoDb   *db,
                      const char  *id,
                      GError     **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (buffer_tables); i++)
    {
      gint64 others = 1;

      /* Usually the session is alone there: then the table is emptied
       * whole, which SQLite does page by page instead of row by row
       * through the index. */
      if (!morango_db_query_int64 (db, &others, NULL, error, buffer_tables[i].others, "s", id))
        return FALSE;
      if (!(others ? morango_db_delete_copies (db, error, buffer_tables[i].delete_session, "s", id)
                   : morango_db_delete_copies (db, error, buffer_tables[i].delete_all, "")))
        return FALSE;
    }
  return TRUE;
}

/* One reader per thread checking records: made once, not per record. */
static GPrivate verify_body = G_PRIVATE_INIT ((GDestroyNotify) morango_flat_json_free);

gboolean
morango_buffer_check_record (MorangoStore               *receiver,
                             MorangoFilter              *filter,
                             const MorangoBufferRecord  *record,
                             GError                    **error)
{
  if (!morango_is_hex32 (record->model_uuid) || !morango_is_hex32 (record->last_saved_instance) ||
      record->last_saved_counter < 0 || record->model_name == NULL || record->partition == NULL ||
      record->source_id == NULL || record->serialized == NULL)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_RECORD_REJECTED,
                   "Record %s is malformed: ids must be 32 lowercase hex characters and "
                   "every field must be present", record->model_uuid ? record->model_uuid : "(no id)");
      return FALSE;
    }
  if (g_strcmp0 (record->profile, morango_store_get_profile_name (receiver)) != 0)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_RECORD_REJECTED,
                   "Record %s belongs to profile “%s”, not “%s”", record->model_uuid,
                   record->profile ? record->profile : "", morango_store_get_profile_name (receiver));
      return FALSE;
    }

  if (!morango_profile_check_record_origin (morango_store_get_profile (receiver), filter,
                                            record->model_name, record->model_uuid,
                                            record->partition, record->source_id, error))
    return FALSE;
  if (*record->serialized != '\0')
    {
      MorangoFlatJson *body = g_private_get (&verify_body);
      gboolean valid;

      if (body == NULL)
        g_private_set (&verify_body, (body = morango_flat_json_new ()));
      valid = morango_flat_json_parse (body, record->serialized);
      if (!valid)
        {
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_RECORD_REJECTED,
                       "Record %s: its data is not a valid JSON object", record->model_uuid);
          return FALSE;
        }
    }
  return TRUE;
}
