/* morango-create-root-dialog.c: a new root certificate: its scope definition and params
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gi18n.h>

#include "morango-create-root-dialog.h"
#include "morango-engine-certificates.h"

struct _MorangoCreateRootDialog
{
  AdwMessageDialog  parent_instance;

  GtkListBox       *list;
  AdwComboRow      *scope_row;

  GPtrArray        *definitions;
  GPtrArray        *param_rows;   /* AdwEntryRow, owned by @list */
};

G_DEFINE_FINAL_TYPE (MorangoCreateRootDialog, morango_create_root_dialog, ADW_TYPE_MESSAGE_DIALOG)

static const MorangoScopeDefinition *
selected_definition (MorangoCreateRootDialog *self)
{
  guint i = adw_combo_row_get_selected (self->scope_row);

  if (self->definitions == NULL || i >= self->definitions->len)
    return NULL;
  return g_ptr_array_index (self->definitions, i);
}

JsonObject *
morango_create_root_dialog_dup_params (MorangoCreateRootDialog *self)
{
  g_autoptr(JsonObject) params = json_object_new ();

  g_return_val_if_fail (MORANGO_IS_CREATE_ROOT_DIALOG (self), NULL);

  for (guint i = 0; i < self->param_rows->len; i++)
    {
      GtkWidget *row = g_ptr_array_index (self->param_rows, i);
      const char *value = gtk_editable_get_text (GTK_EDITABLE (row));

      if (*value == '\0')
        return NULL;
      json_object_set_string_member (params, g_object_get_data (G_OBJECT (row), "param"), value);
    }
  return g_steal_pointer (&params);
}

static void
update_response (MorangoCreateRootDialog *self)
{
  g_autoptr(JsonObject) params = morango_create_root_dialog_dup_params (self);

  adw_message_dialog_set_response_enabled (ADW_MESSAGE_DIALOG (self), "create",
                                           selected_definition (self) != NULL && params != NULL);
}

/* One entry per param the chosen definition needs besides the root's
 * own id, which the engine fills in. */
static void
on_scope_selected (MorangoCreateRootDialog *self)
{
  const MorangoScopeDefinition *def = selected_definition (self);
  g_auto(GStrv) names = def ? morango_engine_scope_definition_get_params (def) : NULL;

  for (guint i = 0; i < self->param_rows->len; i++)
    gtk_list_box_remove (self->list, g_ptr_array_index (self->param_rows, i));
  g_ptr_array_set_size (self->param_rows, 0);
  for (guint i = 0; names && names[i]; i++)
    {
      GtkWidget *row = adw_entry_row_new ();

      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), names[i]);
      g_object_set_data_full (G_OBJECT (row), "param", g_strdup (names[i]), g_free);
      g_signal_connect_swapped (row, "changed", G_CALLBACK (update_response), self);
      gtk_list_box_append (self->list, row);
      g_ptr_array_add (self->param_rows, row);
    }
  update_response (self);
}

static void
morango_create_root_dialog_dispose (GObject *object)
{
  MorangoCreateRootDialog *self = MORANGO_CREATE_ROOT_DIALOG (object);

  if (self->param_rows != NULL)
    g_ptr_array_set_size (self->param_rows, 0);
  gtk_widget_dispose_template (GTK_WIDGET (self), MORANGO_TYPE_CREATE_ROOT_DIALOG);
  g_clear_pointer (&self->definitions, g_ptr_array_unref);
  G_OBJECT_CLASS (morango_create_root_dialog_parent_class)->dispose (object);
}

static void
morango_create_root_dialog_finalize (GObject *object)
{
  MorangoCreateRootDialog *self = MORANGO_CREATE_ROOT_DIALOG (object);

  g_clear_pointer (&self->param_rows, g_ptr_array_unref);
  G_OBJECT_CLASS (morango_create_root_dialog_parent_class)->finalize (object);
}

static void
morango_create_root_dialog_class_init (MorangoCreateRootDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = morango_create_root_dialog_dispose;
  object_class->finalize = morango_create_root_dialog_finalize;
  gtk_widget_class_set_template_from_resource (widget_class, "/org/morango/Sync/morango-create-root-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, MorangoCreateRootDialog, list);
  gtk_widget_class_bind_template_child (widget_class, MorangoCreateRootDialog, scope_row);
  gtk_widget_class_bind_template_callback (widget_class, on_scope_selected);
}

static void
morango_create_root_dialog_init (MorangoCreateRootDialog *self)
{
  self->param_rows = g_ptr_array_new ();
  gtk_widget_init_template (GTK_WIDGET (self));
}

MorangoCreateRootDialog *
morango_create_root_dialog_new (GtkWindow *parent,
                                GPtrArray *definitions)
{
  MorangoCreateRootDialog *self;
  g_autoptr(GtkStringList) names = gtk_string_list_new (NULL);

  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (definitions != NULL && definitions->len > 0, NULL);

  self = g_object_new (MORANGO_TYPE_CREATE_ROOT_DIALOG, "transient-for", parent, NULL);
  self->definitions = g_ptr_array_ref (definitions);
  for (guint i = 0; i < definitions->len; i++)
    {
      const MorangoScopeDefinition *def = g_ptr_array_index (definitions, i);

      gtk_string_list_append (names, def->id);
    }
  adw_combo_row_set_model (self->scope_row, G_LIST_MODEL (names));
  adw_combo_row_set_selected (self->scope_row, 0);
  on_scope_selected (self);
  return self;
}

const char *
morango_create_root_dialog_get_scope_definition (MorangoCreateRootDialog *self)
{
  const MorangoScopeDefinition *def;

  g_return_val_if_fail (MORANGO_IS_CREATE_ROOT_DIALOG (self), NULL);
  def = selected_definition (self);
  return def ? def->id : NULL;
}
