/* morango-import-dialog.c: what a chain file holds and what it would make trusted
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gi18n.h>

#include "morango-import-dialog.h"

struct _MorangoImportDialog
{
  AdwMessageDialog           parent_instance;

  GtkListBox                *certificates;
  GtkWidget                 *trust_heading;
  GtkWidget                 *trust;
  AdwActionRow              *root_row;
  AdwActionRow              *fingerprint_row;
  AdwActionRow              *scope_row;

  GFile                     *file;
  MorangoEngineChainPreview *preview;
};

G_DEFINE_FINAL_TYPE (MorangoImportDialog, morango_import_dialog, ADW_TYPE_MESSAGE_DIALOG)

static void
morango_import_dialog_dispose (GObject *object)
{
  MorangoImportDialog *self = MORANGO_IMPORT_DIALOG (object);

  gtk_widget_dispose_template (GTK_WIDGET (self), MORANGO_TYPE_IMPORT_DIALOG);
  g_clear_object (&self->file);
  g_clear_object (&self->preview);
  G_OBJECT_CLASS (morango_import_dialog_parent_class)->dispose (object);
}

static void
morango_import_dialog_class_init (MorangoImportDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = morango_import_dialog_dispose;
  gtk_widget_class_set_template_from_resource (widget_class, "/org/morango/Sync/morango-import-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, MorangoImportDialog, certificates);
  gtk_widget_class_bind_template_child (widget_class, MorangoImportDialog, trust_heading);
  gtk_widget_class_bind_template_child (widget_class, MorangoImportDialog, trust);
  gtk_widget_class_bind_template_child (widget_class, MorangoImportDialog, root_row);
  gtk_widget_class_bind_template_child (widget_class, MorangoImportDialog, fingerprint_row);
  gtk_widget_class_bind_template_child (widget_class, MorangoImportDialog, scope_row);
}

static void
morango_import_dialog_init (MorangoImportDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

/* Everything shown comes from a file someone handed over: set as plain
 * text, never as markup. */
static GtkWidget *
certificate_row (MorangoEngineCertificate *c)
{
  GtkWidget *row = adw_action_row_new ();
  const char *description = morango_engine_certificate_get_description (c);
  g_autofree char *subtitle = NULL;

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row),
                                 description && *description ? description
                                                             : morango_engine_certificate_get_scope_definition (c));
  /* TRANSLATORS: a certificate's id, scope definition and profile */
  subtitle = g_strdup_printf (_("%s\nScope %s, profile %s"),
                              morango_engine_certificate_get_id (c),
                              morango_engine_certificate_get_scope_definition (c),
                              morango_engine_certificate_get_profile (c));
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  return row;
}

static void
show_preview (MorangoImportDialog *self)
{
  GListModel *certs = morango_engine_chain_preview_get_certificates (self->preview);
  guint n = g_list_model_get_n_items (certs);
  gboolean trusts = morango_import_dialog_get_trusts_root (self);
  g_autofree char *name = g_file_get_basename (self->file);
  g_autofree char *scope = NULL;
  GString *body = g_string_new (NULL);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(MorangoEngineCertificate) c = g_list_model_get_item (certs, i);

      gtk_list_box_append (self->certificates, certificate_row (c));
    }

  g_string_append_printf (body, g_dngettext (NULL, "“%s” holds a chain of %u certificate.",
                                             "“%s” holds a chain of %u certificates.", n),
                          name, n);
  g_string_append (body, " ");
  if (morango_engine_chain_preview_get_n_new (self->preview) == 0)
    g_string_append (body, _("This device holds all of them already."));
  else
    g_string_append_printf (body, g_dngettext (NULL, "%u of them is new here.", "%u of them are new here.",
                                               morango_engine_chain_preview_get_n_new (self->preview)),
                            morango_engine_chain_preview_get_n_new (self->preview));
  g_string_append (body, "\n\n");
  if (trusts)
    {
      /* The engine's refusal says why trust is needed; what trusting
       * means follows in words. */
      g_string_append_printf (body, _("%s. Importing it trusts that root from now on: this device will "
                                      "accept every chain that ends in it. Compare the key fingerprint "
                                      "with the one its owner gives you before you confirm."),
                              morango_engine_chain_preview_get_untrusted_reason (self->preview));
      adw_message_dialog_set_response_label (ADW_MESSAGE_DIALOG (self), "import", _("_Trust and Import"));
      adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (self), "import",
                                                  ADW_RESPONSE_DESTRUCTIVE);
    }
  else
    g_string_append (body, _("Its root is trusted on this device already; nothing new becomes trusted."));
  adw_message_dialog_set_body (ADW_MESSAGE_DIALOG (self), body->str);
  g_string_free (body, TRUE);

  gtk_widget_set_visible (self->trust_heading, trusts);
  gtk_widget_set_visible (self->trust, trusts);
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (self->root_row), FALSE);
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (self->fingerprint_row), FALSE);
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (self->scope_row), FALSE);
  adw_action_row_set_subtitle (self->root_row, morango_engine_chain_preview_get_root_id (self->preview));
  adw_action_row_set_subtitle (self->fingerprint_row,
                               morango_engine_chain_preview_get_root_fingerprint (self->preview));
  scope = g_strdup_printf ("%s %s", morango_engine_chain_preview_get_root_scope_definition (self->preview),
                           morango_engine_chain_preview_get_root_scope_params (self->preview));
  adw_action_row_set_subtitle (self->scope_row, scope);
}

MorangoImportDialog *
morango_import_dialog_new (GtkWindow                 *parent,
                           GFile                     *file,
                           MorangoEngineChainPreview *preview)
{
  MorangoImportDialog *self;

  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (G_IS_FILE (file), NULL);
  g_return_val_if_fail (MORANGO_IS_ENGINE_CHAIN_PREVIEW (preview), NULL);

  self = g_object_new (MORANGO_TYPE_IMPORT_DIALOG, "transient-for", parent, NULL);
  self->file = g_object_ref (file);
  self->preview = g_object_ref (preview);
  show_preview (self);
  return self;
}

GFile *
morango_import_dialog_get_file (MorangoImportDialog *self)
{
  g_return_val_if_fail (MORANGO_IS_IMPORT_DIALOG (self), NULL);
  return self->file;
}

MorangoEngineChainPreview *
morango_import_dialog_get_preview (MorangoImportDialog *self)
{
  g_return_val_if_fail (MORANGO_IS_IMPORT_DIALOG (self), NULL);
  return self->preview;
}

gboolean
morango_import_dialog_get_trusts_root (MorangoImportDialog *self)
{
  g_return_val_if_fail (MORANGO_IS_IMPORT_DIALOG (self), FALSE);
  return !morango_engine_chain_preview_is_root_trusted (self->preview);
}
