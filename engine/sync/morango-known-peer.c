/* morango-known-peer.c: the peers this device knows
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "morango-ids.h"
#include "morango-known-peer.h"
#include "morango-known-peer-private.h"
#include "morango-tls.h"
#include "morango-i18n-private.h"

static const char *state_names[] = { "added", "paired", "synced", "forgotten" };

const char *
morango_peer_state_to_string (MorangoPeerState state)
{
  g_return_val_if_fail (state <= MORANGO_PEER_STATE_FORGOTTEN, NULL);
  return state_names[state];
}

gboolean
morango_peer_state_from_string (const char       *text,
                                MorangoPeerState *state)
{
  for (guint i = 0; i < G_N_ELEMENTS (state_names); i++)
    if (g_strcmp0 (text, state_names[i]) == 0)
      {
        *state = i;
        return TRUE;
      }
  return FALSE;
}

MorangoKnownPeer *
morango_known_peer_copy (const MorangoKnownPeer *peer)
{
  MorangoKnownPeer *copy;

  g_return_val_if_fail (peer != NULL, NULL);

  copy = g_memdup2 (peer, sizeof *peer);
  copy->id = g_strdup (peer->id);
  copy->address = g_strdup (peer->address);
  copy->instance_id = g_strdup (peer->instance_id);
  copy->client_certificate_id = g_strdup (peer->client_certificate_id);
  copy->server_certificate_id = g_strdup (peer->server_certificate_id);
  copy->last_failure_reason = g_strdup (peer->last_failure_reason);
  copy->tls_fingerprint = g_strdup (peer->tls_fingerprint);
  return copy;
}

void
morango_known_peer_free (MorangoKnownPeer *peer)
{
  if (peer == NULL)
    return;
  g_free (peer->id);
  g_free (peer->address);
  g_free (peer->instance_id);
  g_free (peer->client_certificate_id);
  g_free (peer->server_certificate_id);
  g_free (peer->last_failure_reason);
  g_free (peer->tls_fingerprint);
  g_free (peer);
}

G_DEFINE_BOXED_TYPE (MorangoKnownPeer, morango_known_peer, morango_known_peer_copy, morango_known_peer_free)

static char *
address_invalid (GError    **error,
                 const char *why)
{
  g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID, _("Not a peer address: %s"), why);
  return NULL;
}

char *
morango_peer_address_normalize (const char  *address,
                                GError     **error)
{
  g_autofree char *text = NULL;
  g_autofree char *scheme = NULL;
  g_autofree char *host = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GUri) uri = NULL;
  g_autoptr(GError) local_error = NULL;
  char *joined;
  int port;

  g_return_val_if_fail (address != NULL, NULL);

  if (*address == '\0')
    return address_invalid (error, _("it is empty"));
  if (strlen (address) > MORANGO_PEER_ADDRESS_MAX)
    return address_invalid (error, _("it is too long"));
  /* A line break or an escape sequence in an address could fake output
   * wherever the address is shown; a space is no part of a URL. */
  for (const char *p = address; *p; p++)
    if ((guchar) *p <= 0x20 || *p == 0x7f)
      return address_invalid (error, _("it holds a space or a control character"));

  /* "192.168.1.5:8000" is what people type: without a scheme, the
   * address is a host (and port, and path) spoken to over http. */
  text = strstr (address, "://") ? g_strdup (address) : g_strconcat ("http://", address, NULL);
  uri = g_uri_parse (text, G_URI_FLAGS_NONE, &local_error);
  if (uri == NULL)
    return address_invalid (error, local_error->message);

  scheme = g_ascii_strdown (g_uri_get_scheme (uri), -1);
  if (!g_str_equal (scheme, "http") && !g_str_equal (scheme, "https"))
    return address_invalid (error, _("only http and https are spoken"));
  if (g_uri_get_userinfo (uri) != NULL)
    return address_invalid (error, _("it must not carry a user name or password"));
  if (g_uri_get_query (uri) != NULL || g_uri_get_fragment (uri) != NULL)
    return address_invalid (error, _("it must not carry a query or a fragment"));
  if (g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    return address_invalid (error, _("it names no host"));

  host = g_ascii_strdown (g_uri_get_host (uri), -1);
  port = g_uri_get_port (uri);
  if ((g_str_equal (scheme, "http") && port == 80) || (g_str_equal (scheme, "https") && port == 443))
    port = -1;
  path = g_str_has_suffix (g_uri_get_path (uri), "/")
    ? g_strdup (g_uri_get_path (uri))
    : g_strconcat (g_uri_get_path (uri), "/", NULL);

  joined = g_uri_join (G_URI_FLAGS_NONE, scheme, NULL, host, port, path, NULL, NULL);
  if (strlen (joined) > MORANGO_PEER_ADDRESS_MAX)
    {
      g_free (joined);
      return address_invalid (error, _("it is too long"));
    }
  return joined;
}

/* ---- rows ---- */

#define PEER_COLUMNS \
  "id, address, instance_id, roles, state, client_certificate_id, server_certificate_id, " \
  "added, last_success, last_failure, last_failure_reason, tls_fingerprint"

static char *
column_text_or_null (sqlite3_stmt *stmt,
                     int           col)
{
  return sqlite3_column_type (stmt, col) == SQLITE_NULL
    ? NULL
    : g_strdup (morango_db_column_text (stmt, col));
}

static MorangoKnownPeer *
peer_from_row (sqlite3_stmt *stmt)
{
  MorangoKnownPeer *peer = g_new0 (MorangoKnownPeer, 1);

  peer->id = g_strdup (morango_db_column_text (stmt, 0));
  peer->address = column_text_or_null (stmt, 1);
  peer->instance_id = column_text_or_null (stmt, 2);
  peer->roles = sqlite3_column_int (stmt, 3) & (MORANGO_PEER_ROLE_SERVER | MORANGO_PEER_ROLE_CLIENT);
  if (!morango_peer_state_from_string (morango_db_column_text (stmt, 4), &peer->state))
    peer->state = MORANGO_PEER_STATE_ADDED;
  peer->client_certificate_id = column_text_or_null (stmt, 5);
  peer->server_certificate_id = column_text_or_null (stmt, 6);
  peer->added = sqlite3_column_int64 (stmt, 7);
  peer->last_success = sqlite3_column_int64 (stmt, 8);
  peer->last_failure = sqlite3_column_int64 (stmt, 9);
  peer->last_failure_reason = column_text_or_null (stmt, 10);
  peer->tls_fingerprint = column_text_or_null (stmt, 11);
  return peer;
}

/* The first row @sql (which selects PEER_COLUMNS) gives for one text
 * value; NULL with MORANGO_ERROR_NOT_FOUND when none, its message
 * @not_found (an N_() format with one %s, @value) translated whole. */
static MorangoKnownPeer *
query_peer (MorangoDb   *db,
            const char  *sql,
            const char  *value,
            const char  *not_found,
            GError     **error)
{
  sqlite3_stmt *stmt = morango_db_prepare (db, sql, error);
  MorangoKnownPeer *peer;
  int rc;

  if (stmt == NULL || !morango_db_bind (db, stmt, error, "s", value))
    return NULL;
  if ((rc = morango_db_step (db, stmt, error)) < 0)
    return NULL;
  if (rc == SQLITE_DONE)
    {
      sqlite3_reset (stmt);
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND, _(not_found), value);
      return NULL;
    }
  peer = peer_from_row (stmt);
  sqlite3_reset (stmt);
  return peer;
}

static MorangoKnownPeer *
lookup_id (MorangoDb   *db,
           const char  *id,
           GError     **error)
{
  return query_peer (db, "SELECT " PEER_COLUMNS " FROM morango_peer WHERE id = ?",
                     /* TRANSLATORS: %s is a peer's id in this data folder */
                     id, N_("No peer with id %s"), error);
}

/* An UPDATE of one peer by id that must find it. */
static gboolean
update_peer (MorangoDb   *db,
             const char  *id,
             GError     **error,
             const char  *sql,
             const char  *types,
             ...)
{
  sqlite3_stmt *stmt = morango_db_prepare (db, sql, error);
  va_list args;
  gboolean bound;

  if (stmt == NULL)
    return FALSE;
  va_start (args, types);
  bound = morango_db_bind_valist (db, stmt, error, types, args);
  va_end (args);
  if (!bound || !morango_db_run (db, stmt, error))
    return FALSE;
  if (morango_db_changes (db) == 0)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND, _("No peer with id %s"), id);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_hex32 (const char  *value,
             const char  *what,
             GError     **error)
{
  if (value == NULL || morango_is_hex32 (value))
    return TRUE;
  g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
               /* Translators: %s is “instance id” or “certificate id”, translated below */
               _("A %s must be 32 lowercase hex digits"), what);
  return FALSE;
}

MorangoKnownPeer *
morango_known_peer_add (MorangoStore  *store,
                        const char    *address,
                        gint64         now,
                        GError       **error)
{
  MorangoDb *db;
  g_autofree char *normal = NULL;
  g_autofree char *id = NULL;
  g_autoptr(MorangoTransaction) tx = NULL;
  g_autoptr(MorangoKnownPeer) peer = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (MORANGO_IS_STORE (store), NULL);
  g_return_val_if_fail (address != NULL, NULL);

  db = morango_store_get_db (store);
  if ((normal = morango_peer_address_normalize (address, error)) == NULL ||
      (tx = morango_transaction_begin (db, NULL, error)) == NULL)
    return NULL;
  peer = query_peer (db, "SELECT " PEER_COLUMNS " FROM morango_peer WHERE address = ?",
                     /* TRANSLATORS: %s is a peer's address, a URL */
                     normal, N_("No peer at %s"), &local_error);
  if (peer == NULL && !g_error_matches (local_error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  if (peer != NULL)
    {
      if (peer->state != MORANGO_PEER_STATE_FORGOTTEN && (peer->roles & MORANGO_PEER_ROLE_SERVER))
        return g_steal_pointer (&peer);
      if (!morango_db_execute (db, error,
                               "UPDATE morango_peer SET roles = roles | ?, "
                               "  state = CASE state WHEN 'forgotten' THEN 'added' ELSE state END "
                               "WHERE id = ?",
                               "is", (gint64) MORANGO_PEER_ROLE_SERVER, peer->id))
        return NULL;
      id = g_strdup (peer->id);
    }
  else
    {
      id = morango_random_uuid4_hex (morango_store_get_random (store));
      if (!morango_db_execute (db, error,
                               "INSERT INTO morango_peer (id, address, roles, state, added) "
                               "VALUES (?, ?, ?, 'added', ?)",
                               "ssii", id, normal, (gint64) MORANGO_PEER_ROLE_SERVER, now))
        return NULL;
    }
  g_clear_pointer (&peer, morango_known_peer_free);
  if ((peer = lookup_id (db, id, error)) == NULL ||
      !morango_transaction_commit (tx, error))
    return NULL;
  return g_steal_pointer (&peer);
}

MorangoKnownPeer *
morango_known_peer_lookup (MorangoStore  *store,
                           const char    *id,
                           GError       **error)
{
  g_return_val_if_fail (MORANGO_IS_STORE (store), NULL);
  g_return_val_if_fail (id != NULL, NULL);

  return lookup_id (morango_store_get_db (store), id, error);
}

MorangoKnownPeer *
morango_known_peer_lookup_address (MorangoStore  *store,
                                   const char    *address,
                                   GError       **error)
{
  g_autofree char *normal = NULL;

  g_return_val_if_fail (MORANGO_IS_STORE (store), NULL);
  g_return_val_if_fail (address != NULL, NULL);

  if ((normal = morango_peer_address_normalize (address, error)) == NULL)
    return NULL;
  return query_peer (morango_store_get_db (store),
                     "SELECT " PEER_COLUMNS " FROM morango_peer WHERE address = ?",
                     /* TRANSLATORS: %s is a peer's address, a URL */
                     normal, N_("No peer at %s"), error);
}

MorangoKnownPeer *
morango_known_peer_lookup_instance (MorangoStore  *store,
                                    const char    *instance_id,
                                    GError       **error)
{
  g_return_val_if_fail (MORANGO_IS_STORE (store), NULL);
  g_return_val_if_fail (instance_id != NULL, NULL);

  return query_peer (morango_store_get_db (store),
                     "SELECT " PEER_COLUMNS " FROM morango_peer WHERE instance_id = ? "
                     "ORDER BY state = 'forgotten', max (added, last_success, last_failure) DESC, "
                     "  rowid DESC LIMIT 1",
                     /* TRANSLATORS: %s is a Morango instance id (32 hex digits) */
                     instance_id, N_("No peer of instance %s"), error);
}

gboolean
morango_known_peer_set_state (MorangoStore      *store,
                              const char        *id,
                              MorangoPeerState   state,
                              GError           **error)
{
  g_return_val_if_fail (MORANGO_IS_STORE (store), FALSE);
  g_return_val_if_fail (id != NULL, FALSE);
  g_return_val_if_fail (state <= MORANGO_PEER_STATE_FORGOTTEN, FALSE);

  return update_peer (morango_store_get_db (store), id, error,
                      "UPDATE morango_peer SET state = ? WHERE id = ?",
                      "ss", morango_peer_state_to_string (state), id);
}

gboolean
morango_known_peer_set_instance_id (MorangoStore  *store,
                                    const char    *id,
                                    const char    *instance_id,
                                    GError       **error)
{
  g_return_val_if_fail (MORANGO_IS_STORE (store), FALSE);
  g_return_val_if_fail (id != NULL, FALSE);
  g_return_val_if_fail (instance_id != NULL, FALSE);

  return check_hex32 (instance_id, _("instance id"), error) &&
         update_peer (morango_store_get_db (store), id, error,
                      "UPDATE morango_peer SET instance_id = ? WHERE id = ?",
                      "ss", instance_id, id);
}

gboolean
morango_known_peer_set_certificates (MorangoStore  *store,
                                     const char    *id,
                                     const char    *client_certificate_id,
                                     const char    *server_certificate_id,
                                     GError       **error)
{
  g_return_val_if_fail (MORANGO_IS_STORE (store), FALSE);
  g_return_val_if_fail (id != NULL, FALSE);

  return check_hex32 (client_certificate_id, _("certificate id"), error) &&
         check_hex32 (server_certificate_id, _("certificate id"), error) &&
         update_peer (morango_store_get_db (store), id, error,
                      "UPDATE morango_peer SET "
                      "  client_certificate_id = coalesce (?, client_certificate_id), "
                      "  server_certificate_id = coalesce (?, server_certificate_id) WHERE id = ?",
                      "sss", client_certificate_id, server_certificate_id, id);
}

gboolean
morango_known_peer_set_tls_fingerprint (MorangoStore  *store,
                                        const char    *id,
                                        const char    *fingerprint,
                                        GError       **error)
{
  g_autofree char *canonical = NULL;

  g_return_val_if_fail (MORANGO_IS_STORE (store), FALSE);
  g_return_val_if_fail (id != NULL, FALSE);

  if (fingerprint != NULL)
    {
      canonical = morango_tls_fingerprint_normalize (fingerprint, error);
      if (canonical == NULL)
        return FALSE;
      /* A pin is compared as text: only the one spelling is kept. */
      if (!g_str_equal (canonical, fingerprint))
        {
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                       _("A pinned fingerprint must be written as %s"), canonical);
          return FALSE;
        }
    }
  return update_peer (morango_store_get_db (store), id, error,
                      "UPDATE morango_peer SET tls_fingerprint = ? WHERE id = ?",
                      "ss", fingerprint, id);
}

gboolean
morango_known_peer_record_success (MorangoStore  *store,
                                   const char    *id,
                                   gint64         now,
                                   GError       **error)
{
  g_return_val_if_fail (MORANGO_IS_STORE (store), FALSE);
  g_return_val_if_fail (id != NULL, FALSE);

  return update_peer (morango_store_get_db (store), id, error,
                      "UPDATE morango_peer SET last_success = ?, state = 'synced' WHERE id = ?",
                      "is", now, id);
}

char *
morango_known_peer_clean_reason (const char *reason)
{
  g_autofree char *valid = g_utf8_make_valid (reason ? reason : "", -1);
  const char *end;

  if (strlen (valid) <= MORANGO_PEER_REASON_MAX)
    return g_steal_pointer (&valid);
  end = g_utf8_find_prev_char (valid, valid + MORANGO_PEER_REASON_MAX + 1);
  return g_strndup (valid, end - valid);
}

gboolean
morango_known_peer_record_failure (MorangoStore  *store,
                                   const char    *id,
                                   gint64         now,
                                   const char    *reason,
                                   GError       **error)
{
  g_autofree char *clean = NULL;

  g_return_val_if_fail (MORANGO_IS_STORE (store), FALSE);
  g_return_val_if_fail (id != NULL, FALSE);

  clean = morango_known_peer_clean_reason (reason);
  return update_peer (morango_store_get_db (store), id, error,
                      "UPDATE morango_peer SET last_failure = ?, last_failure_reason = ? "
                      "WHERE id = ?",
                      "iss", now, clean, id);
}

MorangoKnownPeer *
morango_known_peer_record_client (MorangoStore  *store,
                                  const char    *instance_id,
                                  const char    *client_certificate_id,
                                  const char    *server_certificate_id,
                                  gint64         now,
                                  GError       **error)
{
  MorangoDb *db;
  g_autoptr(MorangoTransaction) tx = NULL;
  g_autoptr(MorangoKnownPeer) peer = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *id = NULL;

  g_return_val_if_fail (MORANGO_IS_STORE (store), NULL);
  g_return_val_if_fail (instance_id != NULL, NULL);

  db = morango_store_get_db (store);
  if (!check_hex32 (instance_id, _("instance id"), error) ||
      !check_hex32 (client_certificate_id, _("certificate id"), error) ||
      !check_hex32 (server_certificate_id, _("certificate id"), error) ||
      (tx = morango_transaction_begin (db, NULL, error)) == NULL)
    return NULL;
  peer = morango_known_peer_lookup_instance (store, instance_id, &local_error);
  if (peer == NULL && !g_error_matches (local_error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  if (peer != NULL)
    id = g_strdup (peer->id);
  else
    {
      id = morango_random_uuid4_hex (morango_store_get_random (store));
      if (!morango_db_execute (db, error,
                               "INSERT INTO morango_peer (id, instance_id, roles, state, added) "
                               "VALUES (?, ?, 0, 'added', ?)",
                               "ssi", id, instance_id, now))
        return NULL;
    }
  g_clear_pointer (&peer, morango_known_peer_free);
  if (!morango_db_execute (db, error,
                           "UPDATE morango_peer SET roles = roles | ?, state = 'synced', "
                           "  last_success = ?, "
                           "  client_certificate_id = coalesce (?, client_certificate_id), "
                           "  server_certificate_id = coalesce (?, server_certificate_id) "
                           "WHERE id = ?",
                           "iisss", (gint64) MORANGO_PEER_ROLE_CLIENT, now,
                           client_certificate_id, server_certificate_id, id) ||
      (peer = lookup_id (db, id, error)) == NULL ||
      !morango_transaction_commit (tx, error))
    return NULL;
  return g_steal_pointer (&peer);
}

gboolean
morango_known_peer_forget (MorangoStore  *store,
                           const char    *id,
                           GError       **error)
{
  return morango_known_peer_set_state (store, id, MORANGO_PEER_STATE_FORGOTTEN, error);
}

GPtrArray *
morango_known_peer_list (MorangoStore  *store,
                         gboolean       include_forgotten,
                         GError       **error)
{
  g_autoptr(GPtrArray) peers = g_ptr_array_new_with_free_func ((GDestroyNotify) morango_known_peer_free);
  MorangoDb *db;
  sqlite3_stmt *stmt;
  int rc;

  g_return_val_if_fail (MORANGO_IS_STORE (store), NULL);

  db = morango_store_get_db (store);
  stmt = morango_db_prepare (db, "SELECT " PEER_COLUMNS " FROM morango_peer "
                                 "WHERE ? OR state != 'forgotten' ORDER BY rowid", error);
  if (stmt == NULL || !morango_db_bind (db, stmt, error, "b", include_forgotten))
    return NULL;
  while ((rc = morango_db_step (db, stmt, error)) == SQLITE_ROW)
    g_ptr_array_add (peers, peer_from_row (stmt));
  if (rc < 0)
    return NULL;
  sqlite3_reset (stmt);
  return g_steal_pointer (&peers);
}
