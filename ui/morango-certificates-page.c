/* morango-certificates-page.c: the Certificates page of the window
 *
 * The certificates are read through the engine, never from the folder
 * here, and read again whenever the engine says they changed.  Every
 * action that stores something first shows what will happen; the
 * engine's refusals are shown in its own words, the ones `morango cert`
 * prints.
 *
 * The actions take a file path so that tests (and the window's "open"
 * handler) can skip the file chooser: an empty path asks for one.
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gi18n.h>
#include <string.h>

#include "morango-certificates-page.h"
#include "morango-scope-words.h"
#include "morango-settings.h"
#include "morango-create-root-dialog.h"
#include "morango-engine-certificates.h"
#include "morango-import-dialog.h"
#include "morango-passphrase-dialog.h"

struct _MorangoCertificatesPage
{
  AdwBin            parent_instance;

  AdwToastOverlay  *toast_overlay;
  GtkStack         *stack;
  AdwLeaflet       *leaflet;
  GtkListBox       *list;
  GtkWidget        *details;
  GtkWidget        *back_button;
  GtkLabel         *details_title;
  GtkListBox       *details_list;

  MorangoEngine    *engine;
  GCancellable     *cancellable;    /* the pending reading, if any */
  gboolean          again;          /* certificates changed while reading */
  GListModel       *certificates;
  char             *selected_id;
  guint             busy;           /* operations running */
  GCancellable     *operations;     /* cancelled when the page goes */
  AdwMessageDialog *dialog;         /* weak */
  char             *last_error;
  GSettings        *settings;
  GtkFileChooserNative *chooser;
};

G_DEFINE_FINAL_TYPE (MorangoCertificatesPage, morango_certificates_page, ADW_TYPE_BIN)

enum { PROP_0, PROP_LOADING, PROP_BUSY, N_PROPS };
static GParamSpec *properties[N_PROPS];

static void refresh (MorangoCertificatesPage *self);

/* ------------------------------------------------------------------ */
/* What an operation carries from one step to the next */

typedef struct {
  MorangoCertificatesPage *self;
  GFile                   *file;
  char                    *id;
  char                    *passphrase;
} Op;

static Op *
op_new (MorangoCertificatesPage *self)
{
  Op *op = g_new0 (Op, 1);

  op->self = g_object_ref (self);
  if (self->busy++ == 0)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
  return op;
}

static void
op_free (Op *op)
{
  MorangoCertificatesPage *self = op->self;

  if (--self->busy == 0)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
  g_clear_object (&op->file);
  g_free (op->id);
  if (op->passphrase)
    memset (op->passphrase, 0, strlen (op->passphrase));
  g_free (op->passphrase);
  g_object_unref (self);
  g_free (op);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Op, op_free)

/* ------------------------------------------------------------------ */
/* Dialogs, toasts and files */

static GtkWindow *
parent_window (MorangoCertificatesPage *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  return GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL;
}

/* @dialog becomes the page's current one until its response, which
 * takes @op (may be NULL) back with take_op(); a dialog destroyed
 * unanswered frees it. */
static void
present_dialog (MorangoCertificatesPage *self,
                AdwMessageDialog        *dialog,
                GCallback                on_response,
                Op                      *op)
{
  if (self->dialog != NULL)
    g_object_remove_weak_pointer (G_OBJECT (self->dialog), (gpointer *) &self->dialog);
  self->dialog = dialog;
  g_object_add_weak_pointer (G_OBJECT (dialog), (gpointer *) &self->dialog);
  if (op != NULL)
    g_object_set_data_full (G_OBJECT (dialog), "op", op, (GDestroyNotify) op_free);
  g_signal_connect (dialog, "response", on_response, self);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* NULL when the dialog was answered already. */
static Op *
take_op (gpointer dialog)
{
  return g_object_steal_data (G_OBJECT (dialog), "op");
}

/* A response not given by a button (adw_message_dialog_response())
 * leaves the dialog open: it goes here, whatever the path. */
static void
finish_dialog (MorangoCertificatesPage *self,
               AdwMessageDialog        *dialog)
{
  if (self->dialog == dialog)
    {
      g_object_remove_weak_pointer (G_OBJECT (dialog), (gpointer *) &self->dialog);
      self->dialog = NULL;
    }
  if (gtk_widget_get_visible (GTK_WIDGET (dialog)))
    gtk_window_destroy (GTK_WINDOW (dialog));
}

static void
on_error_response (AdwMessageDialog        *dialog,
                   const char              *response,
                   MorangoCertificatesPage *self)
{
  finish_dialog (self, dialog);
}

static void
show_error (MorangoCertificatesPage *self,
            const char              *heading,
            const char              *message)
{
  AdwMessageDialog *dialog;

  g_free (self->last_error);
  self->last_error = g_strdup (message);
  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (parent_window (self), heading, message));
  adw_message_dialog_add_response (dialog, "close", _("_Close"));
  present_dialog (self, dialog, G_CALLBACK (on_error_response), NULL);
}

static void
show_toast (MorangoCertificatesPage *self,
            const char              *text)
{
  /* Toast titles are markup; ids and file names are not. */
  g_autofree char *escaped = g_markup_escape_text (text, -1);

  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (escaped));
}

static void
remember_folder (MorangoCertificatesPage *self,
                 GFile                   *file)
{
  g_autoptr(GFile) parent = g_file_get_parent (file);
  g_autofree char *path = parent ? g_file_get_path (parent) : NULL;

  if (path != NULL)
    g_settings_set_string (self->settings, "last-folder", path);
}

typedef void (*FileChosen) (Op *op);

typedef struct {
  Op         *op;
  FileChosen  then;
} Choice;

static void
choice_free (Choice *choice)
{
  g_clear_pointer (&choice->op, op_free);
  g_free (choice);
}

static void
on_chooser_response (GtkNativeDialog *chooser,
                     int              response,
                     gpointer         data)
{
  Choice *choice = g_object_steal_data (G_OBJECT (chooser), "choice");
  g_autoptr(Op) op = choice ? g_steal_pointer (&choice->op) : NULL;
  FileChosen then = choice ? choice->then : NULL;

  if (choice == NULL)
    return;
  choice_free (choice);
  if (op->self->chooser == GTK_FILE_CHOOSER_NATIVE (chooser))
    g_clear_object (&op->self->chooser);
  if (response != GTK_RESPONSE_ACCEPT)
    return;
  op->file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
  if (op->file == NULL)
    return;
  remember_folder (op->self, op->file);
  then (g_steal_pointer (&op));
}

/* Asks for a file, starting in the last folder used, then goes on
 * with @then, which takes @op. */
static void
choose_file (Op                   *op,
             GtkFileChooserAction  action,
             const char           *title,
             const char           *accept,
             const char           *suggested_name,
             FileChosen            then)
{
  MorangoCertificatesPage *self = op->self;
  g_autoptr(GtkFileFilter) json = gtk_file_filter_new ();
  g_autoptr(GtkFileFilter) all = gtk_file_filter_new ();
  g_autofree char *last = self->settings ? g_settings_get_string (self->settings, "last-folder") : NULL;
  Choice *choice = g_new0 (Choice, 1);

  if (self->chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
  g_clear_object (&self->chooser);
  self->chooser = gtk_file_chooser_native_new (title, parent_window (self), action, accept, NULL);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->chooser), TRUE);
  gtk_file_filter_set_name (json, _("Certificate files (*.json)"));
  gtk_file_filter_add_pattern (json, "*.json");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (self->chooser), json);
  gtk_file_filter_set_name (all, _("All files"));
  gtk_file_filter_add_pattern (all, "*");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (self->chooser), all);
  gtk_file_chooser_set_filter (GTK_FILE_CHOOSER (self->chooser), json);
  if (last != NULL && *last)
    {
      g_autoptr(GFile) folder = g_file_new_for_path (last);

      gtk_file_chooser_set_current_folder (GTK_FILE_CHOOSER (self->chooser), folder, NULL);
    }
  if (suggested_name != NULL)
    gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (self->chooser), suggested_name);
  choice->op = op;
  choice->then = then;
  /* Freed with the chooser when it goes unanswered. */
  g_object_set_data_full (G_OBJECT (self->chooser), "choice", choice, (GDestroyNotify) choice_free);
  g_signal_connect (self->chooser, "response", G_CALLBACK (on_chooser_response), NULL);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

/* The file an action names, or NULL to ask for one. */
static GFile *
action_file (MorangoCertificatesPage *self,
             GVariant                *parameter)
{
  const char *path = parameter ? g_variant_get_string (parameter, NULL) : "";
  GFile *file;

  if (*path == '\0')
    return NULL;
  file = g_file_new_for_path (path);
  remember_folder (self, file);
  return file;
}

static MorangoEngineCertificate *
find_certificate (MorangoCertificatesPage *self,
                  const char              *id)
{
  for (guint i = 0; id && self->certificates && i < g_list_model_get_n_items (self->certificates); i++)
    {
      g_autoptr(MorangoEngineCertificate) c = g_list_model_get_item (self->certificates, i);

      if (g_str_equal (morango_engine_certificate_get_id (c), id))
        return c;   /* the model keeps it */
    }
  return NULL;
}

/* ------------------------------------------------------------------ */
/* The list and the details */

static char *
filter_text (const char * const *entries)
{
  GString *text = g_string_new (NULL);

  if (entries == NULL)
    return g_string_free (text, FALSE);
  for (guint i = 0; entries[i]; i++)
    {
      if (i > 0)
        g_string_append_c (text, '\n');
      g_string_append (text, *entries[i] ? entries[i] : _("everything"));
    }
  return g_string_free (text, FALSE);
}

static void
add_detail (MorangoCertificatesPage *self,
            const char              *title,
            const char              *value)
{
  GtkWidget *row = adw_action_row_new ();

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), value && *value ? value : _("(unknown)"));
  gtk_widget_add_css_class (row, "property");
  gtk_list_box_append (self->details_list, row);
}

/* The scope in the user's words; the profile's own description (text
 * of the dataset's owner, not translated) is one of the details. */
static char *
certificate_title (MorangoEngineCertificate *c)
{
  return morango_scope_in_words (morango_engine_certificate_get_scope_definition (c),
                                 morango_engine_certificate_get_scope_params (c));
}

static void
show_details (MorangoCertificatesPage *self)
{
  MorangoEngineCertificate *c = find_certificate (self, self->selected_id);
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->details_list))) != NULL)
    gtk_list_box_remove (self->details_list, child);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "certificates.export", c != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "certificates.backup",
                                 c != NULL && morango_engine_certificate_has_private_key (c));
  if (c == NULL)
    {
      gtk_label_set_text (self->details_title, "");
      return;
    }
  {
    g_autofree char *title = certificate_title (c);

    gtk_label_set_text (self->details_title, title);
  }
  {
    g_autofree char *scope = g_strdup_printf (_("%s, version %lld"),
                                              morango_engine_certificate_get_scope_definition (c),
                                              (long long) morango_engine_certificate_get_scope_version (c));
    g_autofree char *read = filter_text (morango_engine_certificate_get_read_filter (c));
    g_autofree char *write = filter_text (morango_engine_certificate_get_write_filter (c));
    g_autofree char *root = g_strdup_printf ("%s (%s)", morango_engine_certificate_get_root_id (c),
                                             morango_engine_certificate_is_root_trusted (c)
                                               ? _("trusted") : _("not trusted"));

    add_detail (self, _("Scope"), scope);
    if (morango_engine_certificate_get_description (c) != NULL &&
        *morango_engine_certificate_get_description (c) != '\0')
      add_detail (self, _("Description"), morango_engine_certificate_get_description (c));
    add_detail (self, _("Profile"), morango_engine_certificate_get_profile (c));
    add_detail (self, _("Parameters"), morango_engine_certificate_get_scope_params (c));
    add_detail (self, _("Reads"), read);
    add_detail (self, _("Writes"), write);
    add_detail (self, _("Certificate ID"), morango_engine_certificate_get_id (c));
    add_detail (self, _("Issuer"), morango_engine_certificate_get_parent_id (c)
                                     ? morango_engine_certificate_get_parent_id (c)
                                     : _("None: this is a root certificate"));
    add_detail (self, _("Root"), root);
    add_detail (self, _("Key Fingerprint"), morango_engine_certificate_get_fingerprint (c));
    add_detail (self, _("Private Key"), morango_engine_certificate_has_private_key (c)
                                          ? _("Held on this device") : _("Not on this device"));
  }
}

static GtkWidget *
certificate_row (MorangoEngineCertificate *c)
{
  GtkWidget *row = adw_action_row_new ();
  guint depth = morango_engine_certificate_get_depth (c);
  GtkWidget *icon;

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  {
    g_autofree char *title = certificate_title (c);

    adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  }
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), morango_engine_certificate_get_id (c));
  adw_action_row_set_subtitle_lines (ADW_ACTION_ROW (row), 1);
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), TRUE);
  g_object_set_data_full (G_OBJECT (row), "certificate", g_object_ref (c), g_object_unref);

  /* Children sit under their parent, a step to the right per level. */
  icon = gtk_image_new_from_icon_name (depth == 0 ? "security-high-symbolic" : "application-certificate-symbolic");
  gtk_widget_set_margin_start (icon, 18 * MIN (depth, 6));
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), icon);

  if (morango_engine_certificate_is_trust_anchor (c))
    {
      GtkWidget *label = gtk_label_new (_("Trusted root"));

      gtk_widget_add_css_class (label, "caption");
      gtk_widget_add_css_class (label, "accent");
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), label);
    }
  if (morango_engine_certificate_has_private_key (c))
    {
      GtkWidget *key = gtk_image_new_from_icon_name ("dialog-password-symbolic");

      gtk_widget_set_tooltip_text (key, _("The private key is on this device"));
      gtk_accessible_update_property (GTK_ACCESSIBLE (key), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                      _("Private key here"), -1);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), key);
    }
  return row;
}

static void
select_row (MorangoCertificatesPage *self)
{
  for (GtkWidget *row = gtk_widget_get_first_child (GTK_WIDGET (self->list)); row;
       row = gtk_widget_get_next_sibling (row))
    {
      MorangoEngineCertificate *c = g_object_get_data (G_OBJECT (row), "certificate");

      if (c != NULL && g_strcmp0 (morango_engine_certificate_get_id (c), self->selected_id) == 0)
        {
          gtk_list_box_select_row (self->list, GTK_LIST_BOX_ROW (row));
          return;
        }
    }
  gtk_list_box_unselect_all (self->list);
}

/* After an import, restore or new root: that certificate is the one to
 * show.  The list may already hold it (the engine's "changed" can be
 * read before this call's own result arrives), or will on its next
 * reading. */
static void
select_new (MorangoCertificatesPage *self,
            char                    *id)
{
  g_free (self->selected_id);
  self->selected_id = id;
  if (find_certificate (self, id) != NULL)
    {
      select_row (self);
      show_details (self);
    }
}

static void
show_certificates (MorangoCertificatesPage *self,
                   GListModel              *certificates)
{
  guint n = g_list_model_get_n_items (certificates);
  GtkWidget *child;

  g_set_object (&self->certificates, certificates);
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->list))) != NULL)
    gtk_list_box_remove (self->list, child);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(MorangoEngineCertificate) c = g_list_model_get_item (certificates, i);

      gtk_list_box_append (self->list, certificate_row (c));
    }
  /* The one shown before stays shown; else the first. */
  if (find_certificate (self, self->selected_id) == NULL)
    {
      g_autoptr(MorangoEngineCertificate) first = n > 0 ? g_list_model_get_item (certificates, 0) : NULL;

      g_free (self->selected_id);
      self->selected_id = first ? g_strdup (morango_engine_certificate_get_id (first)) : NULL;
    }
  select_row (self);
  show_details (self);
  gtk_stack_set_visible_child_name (self->stack, n > 0 ? "list" : "empty");
}

static void
on_certificates_read (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(MorangoCertificatesPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GListModel) certificates = morango_engine_list_certificates_finish (MORANGO_ENGINE (source),
                                                                                result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  g_clear_object (&self->cancellable);
  if (certificates != NULL)
    show_certificates (self, certificates);
  else
    show_error (self, _("Cannot Read the Certificates"), error->message);
  if (self->again)
    refresh (self);
  else
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOADING]);
}

static void
refresh (MorangoCertificatesPage *self)
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
  morango_engine_list_certificates_async (self->engine, self->cancellable, on_certificates_read,
                                          g_object_ref (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOADING]);
}

static void
select_certificate (MorangoCertificatesPage *self,
                    const char              *id)
{
  g_free (self->selected_id);
  self->selected_id = g_strdup (id);
  select_row (self);
  show_details (self);
  if (find_certificate (self, id) != NULL)
    adw_leaflet_set_visible_child (self->leaflet, self->details);
}

static void
on_row_activated (MorangoCertificatesPage *self,
                  GtkListBoxRow           *row)
{
  MorangoEngineCertificate *c = g_object_get_data (G_OBJECT (row), "certificate");

  if (c != NULL)
    select_certificate (self, morango_engine_certificate_get_id (c));
}

/* ------------------------------------------------------------------ */
/* Import */

static void
on_imported (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  g_autoptr(Op) op = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *id = morango_engine_import_chain_finish (MORANGO_ENGINE (source), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (id == NULL)
    {
      show_error (op->self, _("Import Refused"), error->message);
      return;
    }
  {
    g_autofree char *text = g_strdup_printf (_("Imported certificate %s"), id);

    show_toast (op->self, text);
  }
  select_new (op->self, g_steal_pointer (&id));
}

static void
on_import_response (MorangoImportDialog     *dialog,
                    const char              *response,
                    MorangoCertificatesPage *self)
{
  g_autoptr(Op) op = take_op (dialog);

  if (op != NULL && g_str_equal (response, "import") && self->engine != NULL)
    {
      Op *next = op_new (self);

      next->file = g_object_ref (morango_import_dialog_get_file (dialog));
      morango_engine_import_chain_async (self->engine, next->file, morango_import_dialog_get_trusts_root (dialog),
                                         self->operations, on_imported, next);
    }
  finish_dialog (self, ADW_MESSAGE_DIALOG (dialog));
}

static void
on_previewed (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  Op *op = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoEngineChainPreview) preview = morango_engine_preview_chain_finish (MORANGO_ENGINE (source),
                                                                                      result, &error);
  MorangoImportDialog *dialog;

  if (preview == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        show_error (op->self, _("Cannot Import"), error->message);
      op_free (op);
      return;
    }
  /* The operation lasts until the dialog is answered. */
  dialog = morango_import_dialog_new (parent_window (op->self), op->file, preview);
  present_dialog (op->self, ADW_MESSAGE_DIALOG (dialog), G_CALLBACK (on_import_response), op);
}

static void
preview_file (Op *op)
{
  morango_engine_preview_chain_async (op->self->engine, op->file, op->self->operations, on_previewed, op);
}

void
morango_certificates_page_import_file (MorangoCertificatesPage *self,
                                       GFile                   *file)
{
  Op *op;

  g_return_if_fail (MORANGO_IS_CERTIFICATES_PAGE (self));
  g_return_if_fail (G_IS_FILE (file));

  if (self->engine == NULL)
    return;
  op = op_new (self);
  op->file = g_object_ref (file);
  remember_folder (self, file);
  preview_file (op);
}

static void
import_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  MorangoCertificatesPage *self = MORANGO_CERTIFICATES_PAGE (widget);
  g_autoptr(GFile) file = action_file (self, parameter);

  if (self->engine == NULL)
    return;
  if (file != NULL)
    morango_certificates_page_import_file (self, file);
  else
    choose_file (op_new (self), GTK_FILE_CHOOSER_ACTION_OPEN, _("Import a Certificate Chain"), _("_Open"),
                 NULL, preview_file);
}

/* ------------------------------------------------------------------ */
/* Export */

static void
on_exported (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  g_autoptr(Op) op = data;
  g_autoptr(GError) error = NULL;

  if (!morango_engine_export_chain_finish (MORANGO_ENGINE (source), result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        show_error (op->self, _("Cannot Export"), error->message);
      return;
    }
  {
    g_autofree char *name = g_file_get_basename (op->file);
    g_autofree char *text = g_strdup_printf (_("Chain exported to “%s”"), name);

    show_toast (op->self, text);
  }
}

static void
export_to_file (Op *op)
{
  morango_engine_export_chain_async (op->self->engine, op->id, op->file, op->self->operations, on_exported, op);
}

/* A name that says what the file holds. */
static char *
suggested_name (MorangoEngineCertificate *c,
                const char              *what)
{
  g_autofree char *prefix = g_strndup (morango_engine_certificate_get_id (c), 8);

  return g_strdup_printf ("%s-%s%s.json", morango_engine_certificate_get_scope_definition (c), prefix, what);
}

static void
export_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  MorangoCertificatesPage *self = MORANGO_CERTIFICATES_PAGE (widget);
  MorangoEngineCertificate *c = find_certificate (self, self->selected_id);
  g_autoptr(GFile) file = action_file (self, parameter);
  Op *op;

  if (self->engine == NULL || c == NULL)
    return;
  op = op_new (self);
  op->id = g_strdup (morango_engine_certificate_get_id (c));
  if (file != NULL)
    {
      op->file = g_steal_pointer (&file);
      export_to_file (op);
    }
  else
    {
      g_autofree char *name = suggested_name (c, "");

      choose_file (op, GTK_FILE_CHOOSER_ACTION_SAVE, _("Export the Certificate Chain"), _("_Export"), name,
                   export_to_file);
    }
}

/* ------------------------------------------------------------------ */
/* Backup and restore */

static void
on_backed_up (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  g_autoptr(Op) op = data;
  g_autoptr(GError) error = NULL;

  if (!morango_engine_backup_certificate_finish (MORANGO_ENGINE (source), result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        show_error (op->self, _("Not Backed Up"), error->message);
      return;
    }
  {
    g_autofree char *name = g_file_get_basename (op->file);
    g_autofree char *text = g_strdup_printf (_("Backed up to “%s”: keep it and its passphrase safe"), name);

    show_toast (op->self, text);
  }
}

static void
backup_to_file (Op *op)
{
  morango_engine_backup_certificate_async (op->self->engine, op->id, op->passphrase, op->file,
                                           op->self->operations, on_backed_up, op);
}

static void
on_backup_passphrase (MorangoPassphraseDialog *dialog,
                      const char              *response,
                      MorangoCertificatesPage *self)
{
  Op *op = take_op (dialog);
  const char *passphrase = morango_passphrase_dialog_get_passphrase (dialog);

  if (op == NULL || !g_str_equal (response, "accept"))
    {
      finish_dialog (self, ADW_MESSAGE_DIALOG (dialog));
      g_clear_pointer (&op, op_free);
      return;
    }
  if (passphrase == NULL)
    {
      /* Only reachable around the disabled button: still refused. */
      finish_dialog (self, ADW_MESSAGE_DIALOG (dialog));
      op_free (op);
      show_error (self, _("Not Backed Up"), _("The passphrases differ"));
      return;
    }
  op->passphrase = g_strdup (passphrase);
  finish_dialog (self, ADW_MESSAGE_DIALOG (dialog));
  if (op->file != NULL)
    backup_to_file (op);
  else
    {
      MorangoEngineCertificate *c = find_certificate (self, op->id);
      g_autofree char *name = c ? suggested_name (c, "-backup") : g_strdup ("backup.json");

      choose_file (op, GTK_FILE_CHOOSER_ACTION_SAVE, _("Save the Backup"), _("_Save"), name, backup_to_file);
    }
}

static void
backup_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  MorangoCertificatesPage *self = MORANGO_CERTIFICATES_PAGE (widget);
  MorangoEngineCertificate *c = find_certificate (self, self->selected_id);
  MorangoPassphraseDialog *dialog;
  Op *op;

  if (self->engine == NULL || c == NULL)
    return;
  if (!morango_engine_certificate_has_private_key (c))
    {
      show_error (self, _("Not Backed Up"),
                  _("Only a certificate whose private key is on this device can be backed up."));
      return;
    }
  op = op_new (self);
  op->id = g_strdup (morango_engine_certificate_get_id (c));
  op->file = action_file (self, parameter);
  dialog = morango_passphrase_dialog_new (parent_window (self), TRUE, _("Back Up the Certificate?"),
                                          _("The backup holds the certificate’s private key, encrypted with "
                                            "this passphrase. Anyone with the file and the passphrase can "
                                            "act as this device: choose a long one and keep it apart from "
                                            "the file."),
                                          _("_Back Up"));
  present_dialog (self, ADW_MESSAGE_DIALOG (dialog), G_CALLBACK (on_backup_passphrase), op);
}

static void
on_restored (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  g_autoptr(Op) op = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *id = morango_engine_restore_certificate_finish (MORANGO_ENGINE (source), result, &error);

  if (id == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        show_error (op->self, _("Not Restored"), error->message);
      return;
    }
  {
    g_autofree char *text = g_strdup_printf (_("Restored %s with its private key"), id);

    show_toast (op->self, text);
  }
  select_new (op->self, g_steal_pointer (&id));
}

static void
on_restore_passphrase (MorangoPassphraseDialog *dialog,
                       const char              *response,
                       MorangoCertificatesPage *self)
{
  Op *op = take_op (dialog);
  const char *passphrase = morango_passphrase_dialog_get_passphrase (dialog);

  if (op != NULL && g_str_equal (response, "accept") && passphrase != NULL && self->engine != NULL)
    {
      morango_engine_restore_certificate_async (self->engine, op->file, passphrase, self->operations,
                                                on_restored, op);
      op = NULL;
    }
  finish_dialog (self, ADW_MESSAGE_DIALOG (dialog));
  if (op != NULL)
    op_free (op);
}

static void
ask_restore_passphrase (Op *op)
{
  MorangoPassphraseDialog *dialog;
  g_autofree char *name = g_file_get_basename (op->file);
  g_autofree char *body = g_strdup_printf (_("Type the passphrase “%s” was saved with."), name);

  dialog = morango_passphrase_dialog_new (parent_window (op->self), FALSE, _("Restore the Backup?"), body,
                                          _("_Restore"));
  present_dialog (op->self, ADW_MESSAGE_DIALOG (dialog), G_CALLBACK (on_restore_passphrase), op);
}

static void
restore_action (GtkWidget  *widget,
                const char *action_name,
                GVariant   *parameter)
{
  MorangoCertificatesPage *self = MORANGO_CERTIFICATES_PAGE (widget);
  g_autoptr(GFile) file = action_file (self, parameter);
  Op *op;

  if (self->engine == NULL)
    return;
  op = op_new (self);
  if (file != NULL)
    {
      op->file = g_steal_pointer (&file);
      ask_restore_passphrase (op);
    }
  else
    choose_file (op, GTK_FILE_CHOOSER_ACTION_OPEN, _("Restore a Certificate Backup"), _("_Open"), NULL,
                 ask_restore_passphrase);
}

/* ------------------------------------------------------------------ */
/* New roots */

static void
on_root_created (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  g_autoptr(Op) op = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *id = morango_engine_create_root_finish (MORANGO_ENGINE (source), result, &error);

  if (id == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        show_error (op->self, _("No Root Created"), error->message);
      return;
    }
  {
    g_autofree char *text = g_strdup_printf (_("Created root certificate %s"), id);

    show_toast (op->self, text);
  }
  select_new (op->self, g_steal_pointer (&id));
}

static void
on_create_root_response (MorangoCreateRootDialog *dialog,
                         const char              *response,
                         MorangoCertificatesPage *self)
{
  Op *op = take_op (dialog);
  g_autoptr(JsonObject) params = morango_create_root_dialog_dup_params (dialog);
  const char *scope = morango_create_root_dialog_get_scope_definition (dialog);

  if (op != NULL && g_str_equal (response, "create") && self->engine != NULL)
    {
      if (scope == NULL || params == NULL)
        show_error (self, _("No Root Created"), _("Fill in every parameter of the scope."));
      else
        {
          morango_engine_create_root_async (self->engine, scope, params, self->operations, on_root_created, op);
          op = NULL;
        }
    }
  finish_dialog (self, ADW_MESSAGE_DIALOG (dialog));
  if (op != NULL)
    op_free (op);
}

static void
on_root_scopes (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  Op *op = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) defs = morango_engine_list_root_scopes_finish (MORANGO_ENGINE (source), result, &error);
  MorangoCreateRootDialog *dialog;

  if (defs == NULL || defs->len == 0)
    {
      if (defs != NULL)
        show_error (op->self, _("No Root Possible"),
                    _("No scope definition of this folder’s profile can make a root certificate."));
      else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        show_error (op->self, _("No Root Created"), error->message);
      op_free (op);
      return;
    }
  dialog = morango_create_root_dialog_new (parent_window (op->self), defs);
  present_dialog (op->self, ADW_MESSAGE_DIALOG (dialog), G_CALLBACK (on_create_root_response), op);
}

static void
create_root_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  MorangoCertificatesPage *self = MORANGO_CERTIFICATES_PAGE (widget);
  Op *op;

  if (self->engine == NULL)
    return;
  op = op_new (self);
  morango_engine_list_root_scopes_async (self->engine, self->operations, on_root_scopes, op);
}

/* ------------------------------------------------------------------ */
/* Navigation */

static void
select_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  select_certificate (MORANGO_CERTIFICATES_PAGE (widget), g_variant_get_string (parameter, NULL));
}

static void
back_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  adw_leaflet_navigate (MORANGO_CERTIFICATES_PAGE (widget)->leaflet, ADW_NAVIGATION_DIRECTION_BACK);
}

/* Pairing lives on the Peers page. */
static void
show_peers_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  GtkWidget *stack = gtk_widget_get_ancestor (widget, ADW_TYPE_VIEW_STACK);

  if (stack != NULL)
    adw_view_stack_set_visible_child_name (ADW_VIEW_STACK (stack), "peers");
}

/* ------------------------------------------------------------------ */
/* The object */

static void
morango_certificates_page_get_property (GObject    *object,
                                        guint       prop_id,
                                        GValue     *value,
                                        GParamSpec *pspec)
{
  MorangoCertificatesPage *self = MORANGO_CERTIFICATES_PAGE (object);

  switch (prop_id)
    {
    case PROP_LOADING:
      g_value_set_boolean (value, morango_certificates_page_get_loading (self));
      break;
    case PROP_BUSY:
      g_value_set_boolean (value, morango_certificates_page_get_busy (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
morango_certificates_page_dispose (GObject *object)
{
  MorangoCertificatesPage *self = MORANGO_CERTIFICATES_PAGE (object);

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_cancellable_cancel (self->operations);
  if (self->engine != NULL)
    g_signal_handlers_disconnect_by_data (self->engine, self);
  g_clear_object (&self->engine);
  if (self->chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
  g_clear_object (&self->chooser);
  if (self->dialog != NULL)
    {
      AdwMessageDialog *dialog = self->dialog;

      g_object_remove_weak_pointer (G_OBJECT (dialog), (gpointer *) &self->dialog);
      self->dialog = NULL;
      gtk_window_destroy (GTK_WINDOW (dialog));
    }
  g_clear_object (&self->certificates);
  g_clear_object (&self->settings);
  gtk_widget_dispose_template (GTK_WIDGET (self), MORANGO_TYPE_CERTIFICATES_PAGE);
  G_OBJECT_CLASS (morango_certificates_page_parent_class)->dispose (object);
}

static void
morango_certificates_page_finalize (GObject *object)
{
  MorangoCertificatesPage *self = MORANGO_CERTIFICATES_PAGE (object);

  g_clear_object (&self->operations);
  g_free (self->selected_id);
  g_free (self->last_error);
  G_OBJECT_CLASS (morango_certificates_page_parent_class)->finalize (object);
}

static void
morango_certificates_page_class_init (MorangoCertificatesPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->get_property = morango_certificates_page_get_property;
  object_class->dispose = morango_certificates_page_dispose;
  object_class->finalize = morango_certificates_page_finalize;

  properties[PROP_LOADING] =
    g_param_spec_boolean ("loading", NULL, NULL, FALSE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_BUSY] =
    g_param_spec_boolean ("busy", NULL, NULL, FALSE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, "/org/morango/Sync/morango-certificates-page.ui");
  gtk_widget_class_bind_template_child (widget_class, MorangoCertificatesPage, stack);
  gtk_widget_class_bind_template_child (widget_class, MorangoCertificatesPage, leaflet);
  gtk_widget_class_bind_template_child (widget_class, MorangoCertificatesPage, list);
  gtk_widget_class_bind_template_child (widget_class, MorangoCertificatesPage, details);
  gtk_widget_class_bind_template_child (widget_class, MorangoCertificatesPage, back_button);
  gtk_widget_class_bind_template_child (widget_class, MorangoCertificatesPage, details_title);
  gtk_widget_class_bind_template_child (widget_class, MorangoCertificatesPage, details_list);
  gtk_widget_class_bind_template_callback (widget_class, on_row_activated);

  gtk_widget_class_install_action (widget_class, "certificates.import", "s", import_action);
  gtk_widget_class_install_action (widget_class, "certificates.export", "s", export_action);
  gtk_widget_class_install_action (widget_class, "certificates.backup", "s", backup_action);
  gtk_widget_class_install_action (widget_class, "certificates.restore", "s", restore_action);
  gtk_widget_class_install_action (widget_class, "certificates.create-root", NULL, create_root_action);
  gtk_widget_class_install_action (widget_class, "certificates.select", "s", select_action);
  gtk_widget_class_install_action (widget_class, "certificates.back", NULL, back_action);
  gtk_widget_class_install_action (widget_class, "certificates.show-peers", NULL, show_peers_action);
}

static void
morango_certificates_page_init (MorangoCertificatesPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  /* Not a template child: dispose_template would unparent it behind
   * AdwBin's back. */
  self->toast_overlay = ADW_TOAST_OVERLAY (adw_bin_get_child (ADW_BIN (self)));
  self->operations = g_cancellable_new ();
  self->settings = morango_settings_new ();
  g_object_bind_property (self->leaflet, "folded", self->back_button, "visible", G_BINDING_SYNC_CREATE);
  show_details (self);
}

void
morango_certificates_page_set_engine (MorangoCertificatesPage *self,
                                      MorangoEngine           *engine)
{
  g_return_if_fail (MORANGO_IS_CERTIFICATES_PAGE (self));
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
  g_set_object (&self->engine, engine);
  {
    g_autoptr(GListStore) none = g_list_store_new (MORANGO_TYPE_ENGINE_CERTIFICATE);

    show_certificates (self, G_LIST_MODEL (none));
  }
  if (engine != NULL)
    {
      /* Neither "no certificates" nor an empty list until they are
       * read: a folder holding some must never look empty. */
      gtk_stack_set_visible_child_name (self->stack, "loading");
      g_signal_connect_swapped (engine, "certificates-changed", G_CALLBACK (refresh), self);
      refresh (self);
    }
}

MorangoEngine *
morango_certificates_page_get_engine (MorangoCertificatesPage *self)
{
  g_return_val_if_fail (MORANGO_IS_CERTIFICATES_PAGE (self), NULL);
  return self->engine;
}

GListModel *
morango_certificates_page_get_certificates (MorangoCertificatesPage *self)
{
  g_return_val_if_fail (MORANGO_IS_CERTIFICATES_PAGE (self), NULL);
  return self->certificates;
}

const char *
morango_certificates_page_get_selected_id (MorangoCertificatesPage *self)
{
  g_return_val_if_fail (MORANGO_IS_CERTIFICATES_PAGE (self), NULL);
  return find_certificate (self, self->selected_id) ? self->selected_id : NULL;
}

gboolean
morango_certificates_page_get_loading (MorangoCertificatesPage *self)
{
  g_return_val_if_fail (MORANGO_IS_CERTIFICATES_PAGE (self), FALSE);
  return self->cancellable != NULL;
}

gboolean
morango_certificates_page_get_busy (MorangoCertificatesPage *self)
{
  g_return_val_if_fail (MORANGO_IS_CERTIFICATES_PAGE (self), FALSE);
  return self->busy > 0;
}

AdwMessageDialog *
morango_certificates_page_get_dialog (MorangoCertificatesPage *self)
{
  g_return_val_if_fail (MORANGO_IS_CERTIFICATES_PAGE (self), NULL);
  return self->dialog;
}

const char *
morango_certificates_page_get_last_error (MorangoCertificatesPage *self)
{
  g_return_val_if_fail (MORANGO_IS_CERTIFICATES_PAGE (self), NULL);
  return self->last_error;
}
