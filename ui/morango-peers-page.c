/* morango-peers-page.c: the Peers page of the window
 *
 * The peers are read through the engine (never from the database here)
 * and read again whenever the engine says they changed.  Rows are kept
 * by peer id across readings, so a sync running in a row survives the
 * refresh its own progress causes.
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gi18n.h>

#include "morango-add-peer-dialog.h"
#include "morango-peer-row.h"
#include "morango-peers-page.h"
#include "morango-serve-row.h"

struct _MorangoPeersPage
{
  AdwBin         parent_instance;

  GtkStack      *stack;
  GtkListBox    *list;
  MorangoServeRow *serve_row;

  MorangoEngine *engine;
  GCancellable  *cancellable;   /* the pending reading, if any */
  gboolean       again;         /* peers changed while reading */
  GHashTable    *rows;          /* peer id → MorangoPeerRow (owned by @list) */
};

G_DEFINE_FINAL_TYPE (MorangoPeersPage, morango_peers_page, ADW_TYPE_BIN)

enum { PROP_0, PROP_ENGINE, PROP_LOADING, N_PROPS };
static GParamSpec *properties[N_PROPS];

static void refresh (MorangoPeersPage *self);

static void
show_peers (MorangoPeersPage *self,
            GPtrArray        *peers)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTableIter iter;
  gpointer key, value;

  for (guint i = 0; i < peers->len; i++)
    {
      const MorangoKnownPeer *peer = g_ptr_array_index (peers, i);
      MorangoPeerRow *row = g_hash_table_lookup (self->rows, peer->id);

      if (row != NULL)
        morango_peer_row_set_peer (row, peer);
      else
        {
          row = morango_peer_row_new (self->engine, peer);
          gtk_list_box_append (self->list, GTK_WIDGET (row));
          g_hash_table_insert (self->rows, g_strdup (peer->id), row);
        }
      g_hash_table_add (seen, (gpointer) morango_peer_row_get_peer (row)->id);
    }
  /* Forgotten peers go; a sync still running in one ends in its row,
   * which its callback keeps alive. */
  g_hash_table_iter_init (&iter, self->rows);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!g_hash_table_contains (seen, key))
      {
        gtk_list_box_remove (self->list, value);
        g_hash_table_iter_remove (&iter);
      }
  gtk_stack_set_visible_child_name (self->stack, peers->len > 0 ? "list" : "empty");
}

static void
on_peers_read (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(MorangoPeersPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) peers = morango_engine_list_peers_finish (MORANGO_ENGINE (source), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  g_clear_object (&self->cancellable);
  if (peers != NULL)
    show_peers (self, peers);
  else
    g_warning ("The known peers could not be read: %s", error->message);
  if (self->again)
    refresh (self);
  else
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOADING]);
}

static void
refresh (MorangoPeersPage *self)
{
  if (self->engine == NULL)
    return;
  /* One reading at a time; a change during it asks for one more. */
  if (self->cancellable != NULL)
    {
      self->again = TRUE;
      return;
    }
  self->again = FALSE;
  self->cancellable = g_cancellable_new ();
  morango_engine_list_peers_async (self->engine, self->cancellable, on_peers_read, g_object_ref (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOADING]);
}

void
morango_peers_page_set_engine (MorangoPeersPage *self,
                               MorangoEngine    *engine)
{
  g_return_if_fail (MORANGO_IS_PEERS_PAGE (self));
  g_return_if_fail (engine == NULL || MORANGO_IS_ENGINE (engine));

  if (self->engine == engine)
    return;
  if (self->cancellable != NULL)
    {
      g_cancellable_cancel (self->cancellable);
      g_clear_object (&self->cancellable);
    }
  if (self->engine != NULL)
    g_signal_handlers_disconnect_by_data (self->engine, self);
  g_hash_table_remove_all (self->rows);
  {
    GtkWidget *child;

    while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->list))) != NULL)
      gtk_list_box_remove (self->list, child);
  }
  gtk_stack_set_visible_child_name (self->stack, "empty");
  g_set_object (&self->engine, engine);
  morango_serve_row_set_engine (self->serve_row, engine);
  if (engine != NULL)
    {
      g_signal_connect_swapped (engine, "peers-changed", G_CALLBACK (refresh), self);
      refresh (self);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ENGINE]);
}

MorangoEngine *
morango_peers_page_get_engine (MorangoPeersPage *self)
{
  g_return_val_if_fail (MORANGO_IS_PEERS_PAGE (self), NULL);
  return self->engine;
}

gboolean
morango_peers_page_is_syncing (MorangoPeersPage *self)
{
  GHashTableIter iter;
  gpointer row;

  g_return_val_if_fail (MORANGO_IS_PEERS_PAGE (self), FALSE);
  g_hash_table_iter_init (&iter, self->rows);
  while (g_hash_table_iter_next (&iter, NULL, &row))
    if (morango_peer_row_is_syncing (row))
      return TRUE;
  return FALSE;
}

void
morango_peers_page_stop_syncs (MorangoPeersPage *self)
{
  GHashTableIter iter;
  gpointer row;

  g_return_if_fail (MORANGO_IS_PEERS_PAGE (self));
  g_hash_table_iter_init (&iter, self->rows);
  while (g_hash_table_iter_next (&iter, NULL, &row))
    morango_peer_row_cancel (row);
}

gboolean
morango_peers_page_get_loading (MorangoPeersPage *self)
{
  g_return_val_if_fail (MORANGO_IS_PEERS_PAGE (self), FALSE);
  return self->cancellable != NULL;
}

static void
morango_peers_page_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  MorangoPeersPage *self = MORANGO_PEERS_PAGE (object);

  switch (prop_id)
    {
    case PROP_ENGINE:
      g_value_set_object (value, self->engine);
      break;
    case PROP_LOADING:
      g_value_set_boolean (value, morango_peers_page_get_loading (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
morango_peers_page_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  switch (prop_id)
    {
    case PROP_ENGINE:
      morango_peers_page_set_engine (MORANGO_PEERS_PAGE (object), g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
morango_peers_page_dispose (GObject *object)
{
  MorangoPeersPage *self = MORANGO_PEERS_PAGE (object);

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->engine != NULL)
    g_signal_handlers_disconnect_by_data (self->engine, self);
  g_clear_object (&self->engine);
  if (self->rows != NULL)
    {
      GHashTableIter iter;
      gpointer row;

      /* The window is closing: its syncs stop, resumable. */
      g_hash_table_iter_init (&iter, self->rows);
      while (g_hash_table_iter_next (&iter, NULL, &row))
        morango_peer_row_cancel (row);
      g_hash_table_remove_all (self->rows);
    }
  gtk_widget_dispose_template (GTK_WIDGET (self), MORANGO_TYPE_PEERS_PAGE);
  G_OBJECT_CLASS (morango_peers_page_parent_class)->dispose (object);
}

static void
morango_peers_page_finalize (GObject *object)
{
  MorangoPeersPage *self = MORANGO_PEERS_PAGE (object);

  g_clear_pointer (&self->rows, g_hash_table_unref);
  G_OBJECT_CLASS (morango_peers_page_parent_class)->finalize (object);
}

/* The dialog that adds a peer by address, over the page's window. */
/* Ctrl+R: every paired peer with an address that is not syncing now.
 * Each row runs its own sync, with its own bar, side by side. */
static void
sync_all_activated (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  MorangoPeersPage *self = MORANGO_PEERS_PAGE (widget);
  GHashTableIter iter;
  gpointer row;

  g_hash_table_iter_init (&iter, self->rows);
  while (g_hash_table_iter_next (&iter, NULL, &row))
    {
      const MorangoKnownPeer *peer = morango_peer_row_get_peer (row);

      if (peer->address != NULL && peer->state != MORANGO_PEER_STATE_ADDED &&
          !morango_peer_row_is_syncing (row))
        gtk_widget_activate_action (GTK_WIDGET (row), "peer.sync", NULL);
    }
}

static void
add_peer_activated (GtkWidget  *widget,
                    const char *action,
                    GVariant   *parameter)
{
  MorangoPeersPage *self = MORANGO_PEERS_PAGE (widget);
  GtkRoot *root = gtk_widget_get_root (widget);
  MorangoAddPeerDialog *dialog;

  if (self->engine == NULL)
    return;
  dialog = morango_add_peer_dialog_new (self->engine, GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
morango_peers_page_class_init (MorangoPeersPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->get_property = morango_peers_page_get_property;
  object_class->set_property = morango_peers_page_set_property;
  object_class->dispose = morango_peers_page_dispose;
  object_class->finalize = morango_peers_page_finalize;

  properties[PROP_ENGINE] =
    g_param_spec_object ("engine", NULL, NULL, MORANGO_TYPE_ENGINE,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_LOADING] =
    g_param_spec_boolean ("loading", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, "/org/morango/Sync/morango-peers-page.ui");
  gtk_widget_class_bind_template_child (widget_class, MorangoPeersPage, stack);
  gtk_widget_class_bind_template_child (widget_class, MorangoPeersPage, list);
  gtk_widget_class_install_action (widget_class, "peers.add-peer", NULL, add_peer_activated);
  gtk_widget_class_install_action (widget_class, "peers.sync-all", NULL, sync_all_activated);
  gtk_widget_class_bind_template_child (widget_class, MorangoPeersPage, serve_row);
}

static void
morango_peers_page_init (MorangoPeersPage *self)
{
  self->rows = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_type_ensure (MORANGO_TYPE_SERVE_ROW);
  gtk_widget_init_template (GTK_WIDGET (self));
}
