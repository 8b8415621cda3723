/* morango-history-dialog.c: the syncs with one peer, newest first
 *
 * The entries come from the engine (morango-engine-history.h); the
 * dialog reads them once when it opens.
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gi18n.h>

#include "morango-engine-history.h"
#include "morango-history-dialog.h"

struct _MorangoHistoryDialog
{
  AdwWindow        parent_instance;

  AdwWindowTitle  *window_title;
  GtkStack        *stack;
  GtkListBox      *list;

  MorangoEngine   *engine;
  GCancellable    *cancellable;   /* while reading */
};

G_DEFINE_FINAL_TYPE (MorangoHistoryDialog, morango_history_dialog, ADW_TYPE_WINDOW)

enum { PROP_0, PROP_LOADING, N_PROPS };
static GParamSpec *properties[N_PROPS];

static char *
format_time (gint64 usec)
{
  g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc (usec / G_USEC_PER_SEC);
  g_autoptr(GDateTime) local = utc ? g_date_time_to_local (utc) : NULL;

  /* TRANSLATORS: the date and time a sync began, in strftime() format */
  return local ? g_date_time_format (local, _("%-d %b %Y, %H:%M:%S")) : g_strdup ("?");
}

static const char *
result_in_words (MorangoSyncResult result)
{
  switch (result)
    {
    case MORANGO_SYNC_RESULT_RUNNING:
      return _("Running, or stopped without an end");
    case MORANGO_SYNC_RESULT_OK:
      return _("Finished");
    case MORANGO_SYNC_RESULT_FAILED:
      return _("Failed");
    case MORANGO_SYNC_RESULT_CANCELLED:
      return _("Stopped; the next sync continues it");
    default:
      return "";
    }
}

static const char *
direction_in_words (MorangoSyncDirection direction)
{
  switch (direction)
    {
    case MORANGO_SYNC_DIRECTION_PULL:
      return _("Pull");
    case MORANGO_SYNC_DIRECTION_PUSH:
      return _("Push");
    case MORANGO_SYNC_DIRECTION_BOTH:
      return _("Pull and push");
    default:
      return "";
    }
}

/* Whether @entry went on with a transfer an older entry (later in the
 * newest-first @entries) had begun: a resumed sync keeps its ids. */
static gboolean
is_resumed (GPtrArray *entries,
            guint      index)
{
  const MorangoHistoryEntry *entry = g_ptr_array_index (entries, index);

  for (guint i = index + 1; i < entries->len; i++)
    {
      const MorangoHistoryEntry *older = g_ptr_array_index (entries, i);

      for (guint j = 0; entry->transfer_session_ids[j] != NULL; j++)
        if (g_strv_contains ((const char * const *) older->transfer_session_ids,
                             entry->transfer_session_ids[j]))
          return TRUE;
    }
  return FALSE;
}

static GtkWidget *
entry_row (GPtrArray *entries,
           guint      index)
{
  const MorangoHistoryEntry *entry = g_ptr_array_index (entries, index);
  GtkWidget *row = adw_action_row_new ();
  g_autofree char *when = format_time (entry->started);
  g_autofree char *title = NULL;
  g_autofree char *in = g_format_size (entry->counts.bytes_received);
  g_autofree char *out = g_format_size (entry->counts.bytes_sent);
  g_autoptr(GString) subtitle = g_string_new (NULL);
  g_autofree char *escaped = NULL;

  /* TRANSLATORS: when, direction ("Pull and push"), result in words */
  title = g_strdup_printf (_("%s · %s · %s"), when, direction_in_words (entry->direction),
                           result_in_words (entry->result));
  g_string_append_printf (subtitle,
                          /* TRANSLATORS: records received, records sent, bytes received, bytes sent */
                          _("%lld records in, %lld out · %s received, %s sent"),
                          (long long) entry->counts.records_received,
                          (long long) entry->counts.records_sent, in, out);
  if (entry->result != MORANGO_SYNC_RESULT_RUNNING)
    g_string_append_printf (subtitle, _(" · took %.1f s"), entry->duration / (double) G_USEC_PER_SEC);
  if (is_resumed (entries, index))
    g_string_append_printf (subtitle, " · %s", _("resumed where an earlier sync stopped"));
  if (entry->error != NULL && entry->result == MORANGO_SYNC_RESULT_FAILED)
    g_string_append_printf (subtitle, "\n%s", entry->error);
  escaped = g_markup_escape_text (title, -1);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), escaped);
  g_free (escaped);
  /* The error text comes from the network: markup would be its to set. */
  escaped = g_markup_escape_text (subtitle->str, -1);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), escaped);
  adw_action_row_set_subtitle_lines (ADW_ACTION_ROW (row), 0);
  adw_action_row_add_prefix (ADW_ACTION_ROW (row),
                             gtk_image_new_from_icon_name (entry->result == MORANGO_SYNC_RESULT_OK
                                                             ? "emblem-ok-symbolic"
                                                             : entry->result == MORANGO_SYNC_RESULT_FAILED
                                                                 ? "dialog-error-symbolic"
                                                                 : "media-playback-pause-symbolic"));
  return row;
}

static void
on_history_read (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(MorangoHistoryDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) entries = morango_engine_list_history_finish (MORANGO_ENGINE (source), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  g_clear_object (&self->cancellable);
  if (entries == NULL)
    {
      GtkWidget *empty = gtk_stack_get_child_by_name (self->stack, "empty");

      adw_status_page_set_title (ADW_STATUS_PAGE (empty), _("The History Could Not Be Read"));
      adw_status_page_set_description (ADW_STATUS_PAGE (empty), error->message);
      gtk_stack_set_visible_child_name (self->stack, "empty");
    }
  else
    {
      for (guint i = 0; i < entries->len; i++)
        gtk_list_box_append (self->list, entry_row (entries, i));
      gtk_stack_set_visible_child_name (self->stack, entries->len > 0 ? "list" : "empty");
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOADING]);
}

gboolean
morango_history_dialog_get_loading (MorangoHistoryDialog *self)
{
  g_return_val_if_fail (MORANGO_IS_HISTORY_DIALOG (self), FALSE);
  return self->cancellable != NULL;
}

GtkListBox *
morango_history_dialog_get_list (MorangoHistoryDialog *self)
{
  g_return_val_if_fail (MORANGO_IS_HISTORY_DIALOG (self), NULL);
  return self->list;
}

static void
morango_history_dialog_get_property (GObject    *object,
                                     guint       prop_id,
                                     GValue     *value,
                                     GParamSpec *pspec)
{
  switch (prop_id)
    {
    case PROP_LOADING:
      g_value_set_boolean (value, morango_history_dialog_get_loading (MORANGO_HISTORY_DIALOG (object)));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
morango_history_dialog_dispose (GObject *object)
{
  MorangoHistoryDialog *self = MORANGO_HISTORY_DIALOG (object);

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->engine);
  gtk_widget_dispose_template (GTK_WIDGET (self), MORANGO_TYPE_HISTORY_DIALOG);
  G_OBJECT_CLASS (morango_history_dialog_parent_class)->dispose (object);
}

static void
morango_history_dialog_class_init (MorangoHistoryDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->get_property = morango_history_dialog_get_property;
  object_class->dispose = morango_history_dialog_dispose;
  properties[PROP_LOADING] =
    g_param_spec_boolean ("loading", NULL, NULL, FALSE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, "/org/morango/Sync/morango-history-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, MorangoHistoryDialog, window_title);
  gtk_widget_class_bind_template_child (widget_class, MorangoHistoryDialog, stack);
  gtk_widget_class_bind_template_child (widget_class, MorangoHistoryDialog, list);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
morango_history_dialog_init (MorangoHistoryDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

MorangoHistoryDialog *
morango_history_dialog_new (MorangoEngine          *engine,
                            const MorangoKnownPeer *peer)
{
  MorangoHistoryDialog *self;

  g_return_val_if_fail (MORANGO_IS_ENGINE (engine), NULL);
  g_return_val_if_fail (peer != NULL, NULL);

  self = g_object_new (MORANGO_TYPE_HISTORY_DIALOG, NULL);
  self->engine = g_object_ref (engine);
  adw_window_title_set_subtitle (self->window_title, peer->address ? peer->address : peer->instance_id);
  self->cancellable = g_cancellable_new ();
  gtk_stack_set_visible_child_name (self->stack, "loading");
  morango_engine_list_history_async (engine, peer->id, 100, self->cancellable, on_history_read,
                                     g_object_ref (self));
  return self;
}
