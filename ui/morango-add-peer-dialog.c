/* morango-add-peer-dialog.c: adding a peer by its address
 *
 * The address is checked as it would be stored before the engine is
 * asked, so that garbage gets its reason at once and nothing is added.
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gi18n.h>

#include "morango-add-peer-dialog.h"
#include "morango-engine-peers.h"
#include "morango-pair-dialog.h"

struct _MorangoAddPeerDialog
{
  AdwWindow         parent_instance;

  GtkStack         *stack;
  GtkWidget        *add_button;
  GtkWidget        *cancel_button;
  AdwEntryRow      *address_row;
  GtkLabel         *error_label;
  AdwStatusPage    *added_status;

  MorangoEngine    *engine;
  GCancellable     *cancellable;
  MorangoKnownPeer *peer;
  char             *error;
};

G_DEFINE_FINAL_TYPE (MorangoAddPeerDialog, morango_add_peer_dialog, ADW_TYPE_WINDOW)

static void
show_error (MorangoAddPeerDialog *self,
            const char           *text)
{
  g_free (self->error);
  self->error = g_strdup (text);
  gtk_label_set_text (self->error_label, text ? text : "");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), text != NULL);
  if (text != NULL)
    gtk_widget_add_css_class (GTK_WIDGET (self->address_row), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->address_row), "error");
}

static void
on_added (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(MorangoAddPeerDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  MorangoKnownPeer *peer = morango_engine_add_peer_finish (MORANGO_ENGINE (source), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  g_clear_object (&self->cancellable);
  gtk_widget_set_sensitive (GTK_WIDGET (self->address_row), TRUE);
  if (peer == NULL)
    {
      show_error (self, error->message);
      return;
    }
  self->peer = peer;
  {
    g_autofree char *text = g_strdup_printf (_("%s is now known to this device. Pair with it to sync: it "
                                               "asks the peer for a certificate, with the password of an "
                                               "account there."), peer->address);

    adw_status_page_set_description (self->added_status, text);
  }
  gtk_widget_set_visible (self->add_button, FALSE);
  gtk_widget_set_visible (self->cancel_button, FALSE);
  gtk_stack_set_visible_child_name (self->stack, "added");
}

static void
add_activated (GtkWidget  *widget,
               const char *action,
               GVariant   *parameter)
{
  MorangoAddPeerDialog *self = MORANGO_ADD_PEER_DIALOG (widget);
  const char *address = gtk_editable_get_text (GTK_EDITABLE (self->address_row));
  g_autoptr(GError) error = NULL;
  g_autofree char *normal = NULL;

  if (self->cancellable != NULL || self->peer != NULL)
    return;
  /* The engine's own check, the engine's own words. */
  normal = morango_engine_normalize_peer_address (address, &error);
  if (normal == NULL)
    {
      show_error (self, error->message);
      return;
    }
  show_error (self, NULL);
  gtk_widget_set_sensitive (GTK_WIDGET (self->address_row), FALSE);
  self->cancellable = g_cancellable_new ();
  morango_engine_add_peer_async (self->engine, normal, self->cancellable, on_added, g_object_ref (self));
}

static void
on_entry_activated (MorangoAddPeerDialog *self)
{
  gtk_widget_activate_action (GTK_WIDGET (self), "add-peer.add", NULL);
}

static void
pair_activated (GtkWidget  *widget,
                const char *action,
                GVariant   *parameter)
{
  MorangoAddPeerDialog *self = MORANGO_ADD_PEER_DIALOG (widget);
  MorangoPairDialog *dialog;

  if (self->peer == NULL)
    return;
  dialog = morango_pair_dialog_new (self->engine, self->peer->address,
                                    gtk_window_get_transient_for (GTK_WINDOW (self)));
  gtk_window_present (GTK_WINDOW (dialog));
  gtk_window_close (GTK_WINDOW (self));
}

static void
cancel_activated (GtkWidget  *widget,
                  const char *action,
                  GVariant   *parameter)
{
  gtk_window_close (GTK_WINDOW (widget));
}

static void
morango_add_peer_dialog_dispose (GObject *object)
{
  MorangoAddPeerDialog *self = MORANGO_ADD_PEER_DIALOG (object);

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->engine);
  gtk_widget_dispose_template (GTK_WIDGET (self), MORANGO_TYPE_ADD_PEER_DIALOG);
  G_OBJECT_CLASS (morango_add_peer_dialog_parent_class)->dispose (object);
}

static void
morango_add_peer_dialog_finalize (GObject *object)
{
  MorangoAddPeerDialog *self = MORANGO_ADD_PEER_DIALOG (object);

  g_clear_pointer (&self->peer, morango_known_peer_free);
  g_free (self->error);
  G_OBJECT_CLASS (morango_add_peer_dialog_parent_class)->finalize (object);
}

static void
morango_add_peer_dialog_class_init (MorangoAddPeerDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = morango_add_peer_dialog_dispose;
  object_class->finalize = morango_add_peer_dialog_finalize;

  gtk_widget_class_set_template_from_resource (widget_class, "/org/morango/Sync/morango-add-peer-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, MorangoAddPeerDialog, stack);
  gtk_widget_class_bind_template_child (widget_class, MorangoAddPeerDialog, add_button);
  gtk_widget_class_bind_template_child (widget_class, MorangoAddPeerDialog, cancel_button);
  gtk_widget_class_bind_template_child (widget_class, MorangoAddPeerDialog, address_row);
  gtk_widget_class_bind_template_child (widget_class, MorangoAddPeerDialog, error_label);
  gtk_widget_class_bind_template_child (widget_class, MorangoAddPeerDialog, added_status);
  gtk_widget_class_bind_template_callback (widget_class, on_entry_activated);

  gtk_widget_class_install_action (widget_class, "add-peer.add", NULL, add_activated);
  gtk_widget_class_install_action (widget_class, "add-peer.pair", NULL, pair_activated);
  gtk_widget_class_install_action (widget_class, "add-peer.cancel", NULL, cancel_activated);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "add-peer.cancel", NULL);
}

static void
morango_add_peer_dialog_init (MorangoAddPeerDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

MorangoAddPeerDialog *
morango_add_peer_dialog_new (MorangoEngine *engine,
                             GtkWindow     *parent)
{
  MorangoAddPeerDialog *self;

  g_return_val_if_fail (MORANGO_IS_ENGINE (engine), NULL);
  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);

  self = g_object_new (MORANGO_TYPE_ADD_PEER_DIALOG, "transient-for", parent, NULL);
  self->engine = g_object_ref (engine);
  return self;
}

const char *
morango_add_peer_dialog_get_error (MorangoAddPeerDialog *self)
{
  g_return_val_if_fail (MORANGO_IS_ADD_PEER_DIALOG (self), NULL);
  return self->error;
}

const MorangoKnownPeer *
morango_add_peer_dialog_get_peer (MorangoAddPeerDialog *self)
{
  g_return_val_if_fail (MORANGO_IS_ADD_PEER_DIALOG (self), NULL);
  return self->peer;
}
