/* morango-passphrase-dialog.c: asks for a passphrase, twice when it protects a new backup
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gi18n.h>

#include "morango-passphrase-dialog.h"

struct _MorangoPassphraseDialog
{
  AdwMessageDialog  parent_instance;

  GtkEditable      *first;
  GtkEditable      *second;
  GtkWidget        *mismatch;
  gboolean          confirm;
};

G_DEFINE_FINAL_TYPE (MorangoPassphraseDialog, morango_passphrase_dialog, ADW_TYPE_MESSAGE_DIALOG)

const char *
morango_passphrase_dialog_get_passphrase (MorangoPassphraseDialog *self)
{
  const char *first;

  g_return_val_if_fail (MORANGO_IS_PASSPHRASE_DIALOG (self), NULL);

  if (self->first == NULL)
    return NULL;
  first = gtk_editable_get_text (self->first);
  if (*first == '\0')
    return NULL;
  if (self->confirm && !g_str_equal (first, gtk_editable_get_text (self->second)))
    return NULL;
  return first;
}

static void
on_changed (MorangoPassphraseDialog *self)
{
  const char *second;

  if (self->second == NULL)
    return;
  second = gtk_editable_get_text (self->second);

  /* Only once something was typed in the second field: a difference
   * while it is still empty is no mistake yet. */
  gtk_widget_set_visible (self->mismatch,
                          self->confirm && *second && !g_str_equal (second, gtk_editable_get_text (self->first)));
  adw_message_dialog_set_response_enabled (ADW_MESSAGE_DIALOG (self), "accept",
                                           morango_passphrase_dialog_get_passphrase (self) != NULL);
}

static void
on_entry_activated (MorangoPassphraseDialog *self)
{
  if (morango_passphrase_dialog_get_passphrase (self) != NULL)
    adw_message_dialog_response (ADW_MESSAGE_DIALOG (self), "accept");
  else if (self->confirm && gtk_widget_has_focus (GTK_WIDGET (self->first)))
    gtk_widget_grab_focus (GTK_WIDGET (self->second));
}

static void
morango_passphrase_dialog_class_init (MorangoPassphraseDialogClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  /* No gtk_widget_dispose_template() here: with GTK 4.8 it disposes the
   * password entries while the window still holds handlers of theirs,
   * which then run on freed entries when the window is finalized. */
  gtk_widget_class_set_template_from_resource (widget_class, "/org/morango/Sync/morango-passphrase-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, MorangoPassphraseDialog, first);
  gtk_widget_class_bind_template_child (widget_class, MorangoPassphraseDialog, second);
  gtk_widget_class_bind_template_child (widget_class, MorangoPassphraseDialog, mismatch);
  gtk_widget_class_bind_template_callback (widget_class, on_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_entry_activated);
}

static void
morango_passphrase_dialog_init (MorangoPassphraseDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

MorangoPassphraseDialog *
morango_passphrase_dialog_new (GtkWindow  *parent,
                               gboolean    confirm,
                               const char *heading,
                               const char *body,
                               const char *accept_label)
{
  MorangoPassphraseDialog *self;

  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (heading != NULL, NULL);

  self = g_object_new (MORANGO_TYPE_PASSPHRASE_DIALOG,
                       "transient-for", parent,
                       "heading", heading,
                       "body", body,
                       NULL);
  self->confirm = confirm;
  gtk_widget_set_visible (GTK_WIDGET (self->second), confirm);
  if (accept_label != NULL)
    adw_message_dialog_set_response_label (ADW_MESSAGE_DIALOG (self), "accept", accept_label);
  return self;
}
