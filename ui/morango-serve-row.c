/* morango-serve-row.c: the switch that makes this device serve peers
 *
 * On: the first time, the admin password peers present to pair is
 * asked (twice) and kept by the engine; then the engine serves on every
 * interface at the port of the GSettings key "port", and the addresses
 * others should type are listed, each with a copy button.  A failure
 * (a port taken) is said in the row and turns the switch off again.
 * The key "serve" remembers the choice for the next start.
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gi18n.h>
#include <string.h>

#include "morango-engine-history.h"
#include "morango-serve-row.h"
#include "morango-settings.h"

struct _MorangoServeRow
{
  AdwBin            parent_instance;

  GtkListBox       *list;
  AdwActionRow     *switch_row;
  GtkSwitch        *serve_switch;
  AdwActionRow     *port_row;
  GtkSpinButton    *port_spin;

  MorangoEngine    *engine;
  GSettings        *settings;
  GCancellable     *cancellable;   /* non-NULL while an engine call runs */
  AdwMessageDialog *password_dialog;
  GPtrArray        *url_rows;
  char             *error;
  gboolean          quiet;         /* the switch is moved by the row itself */
};

G_DEFINE_FINAL_TYPE (MorangoServeRow, morango_serve_row, ADW_TYPE_BIN)

enum { PROP_0, PROP_BUSY, N_PROPS };
static GParamSpec *properties[N_PROPS];

static void
set_busy (MorangoServeRow *self,
          gboolean         busy)
{
  if (busy == (self->cancellable != NULL))
    return;
  if (busy)
    self->cancellable = g_cancellable_new ();
  else
    g_clear_object (&self->cancellable);
  gtk_widget_set_sensitive (GTK_WIDGET (self->serve_switch), !busy);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
}

/* The key is a uint16 ('q'), which g_settings_get_uint() does not read. */
static guint
settings_port (MorangoServeRow *self)
{
  g_autoptr(GVariant) value = g_settings_get_value (self->settings, "port");

  return g_variant_get_uint16 (value);
}

static void
move_switch (MorangoServeRow *self,
             gboolean         active)
{
  self->quiet = TRUE;
  gtk_switch_set_active (self->serve_switch, active);
  self->quiet = FALSE;
}

static void
on_copy_clicked (GtkButton  *button,
                 const char *url)
{
  gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (button)), url);
}

/* The subtitle and the address rows, from what the engine does now. */
static void
update (MorangoServeRow *self)
{
  g_auto(GStrv) urls = self->engine ? morango_engine_get_urls (self->engine) : NULL;

  for (guint i = 0; i < self->url_rows->len; i++)
    gtk_list_box_remove (self->list, g_ptr_array_index (self->url_rows, i));
  g_ptr_array_set_size (self->url_rows, 0);
  gtk_widget_set_sensitive (GTK_WIDGET (self->port_spin), urls == NULL);

  if (self->error != NULL)
    {
      g_autofree char *text = g_strdup_printf (_("Not serving: %s"), self->error);
      g_autofree char *escaped = g_markup_escape_text (text, -1);

      adw_action_row_set_subtitle (self->switch_row, escaped);
    }
  else if (urls != NULL)
    adw_action_row_set_subtitle (self->switch_row,
                                 _("Serving. On another device, add this one as a peer by one of these addresses"));
  else
    adw_action_row_set_subtitle (self->switch_row,
                                 _("Other devices can pair and sync with this one while the app runs"));

  for (guint i = 0; urls != NULL && urls[i] != NULL; i++)
    {
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *copy = gtk_button_new_from_icon_name ("edit-copy-symbolic");
      g_autofree char *escaped = g_markup_escape_text (urls[i], -1);

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), escaped);
      adw_action_row_set_title_lines (ADW_ACTION_ROW (row), 1);
      adw_preferences_row_set_title_selectable (ADW_PREFERENCES_ROW (row), TRUE);
      gtk_widget_set_valign (copy, GTK_ALIGN_CENTER);
      gtk_widget_add_css_class (copy, "flat");
      gtk_widget_set_tooltip_text (copy, _("Copy the address"));
      gtk_accessible_update_property (GTK_ACCESSIBLE (copy), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                      _("Copy the address"), -1);
      g_signal_connect_data (copy, "clicked", G_CALLBACK (on_copy_clicked), g_strdup (urls[i]),
                             (GClosureNotify) (void (*) (void)) g_free, 0);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), copy);
      gtk_list_box_append (self->list, row);
      g_ptr_array_add (self->url_rows, row);
    }
}

/* A reply that comes after the row was taken down, or for a call it
 * cancelled, has nowhere to go. */
static gboolean
gone (MorangoServeRow *self,
      const GError    *error)
{
  return self->engine == NULL || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static void
fail (MorangoServeRow *self,
      const char      *message)
{
  g_free (self->error);
  self->error = g_strdup (message);
  move_switch (self, FALSE);
  g_settings_set_boolean (self->settings, "serve", FALSE);
  update (self);
}

static void
on_served (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(MorangoServeRow) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!morango_engine_serve_finish (MORANGO_ENGINE (source), result, &error))
    {
      if (gone (self, error))
        return;
      set_busy (self, FALSE);
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
        {
          g_autofree char *text = g_strdup_printf (_("port %u is used by another program; choose another "
                                                     "port"), settings_port (self));

          fail (self, text);
        }
      else
        fail (self, error->message);
      return;
    }
  if (gone (self, NULL))
    return;
  set_busy (self, FALSE);
  /* Turned off while the server was starting: it stops again. */
  if (!gtk_switch_get_active (self->serve_switch))
    morango_engine_stop_serving (self->engine);
  else
    g_settings_set_boolean (self->settings, "serve", TRUE);
  update (self);
}

static void
serve (MorangoServeRow *self)
{
  MorangoEngineServeOptions options = { 0 };

  /* Every interface: the point is that others on the LAN reach it. */
  options.address = NULL;
  options.port = settings_port (self);
  set_busy (self, TRUE);
  morango_engine_serve_async (self->engine, &options, self->cancellable, on_served, g_object_ref (self));
}

static void
on_password_set (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(MorangoServeRow) self = user_data;
  g_autoptr(GError) error = NULL;
  gboolean set = morango_engine_set_admin_password_finish (MORANGO_ENGINE (source), result, &error);

  if (gone (self, error))
    return;
  set_busy (self, FALSE);
  if (!set)
    fail (self, error->message);
  else if (gtk_switch_get_active (self->serve_switch))
    serve (self);
}

static AdwPasswordEntryRow *
password_entry (AdwMessageDialog *dialog,
                const char       *name)
{
  return g_object_get_data (G_OBJECT (dialog), name);
}

static void
on_password_changed (AdwMessageDialog *dialog)
{
  const char *first = gtk_editable_get_text (GTK_EDITABLE (password_entry (dialog, "first")));
  const char *again = gtk_editable_get_text (GTK_EDITABLE (password_entry (dialog, "again")));

  adw_message_dialog_set_response_enabled (dialog, "set", *first != '\0' && g_str_equal (first, again));
}

/* An entry row that still has the focus when its window goes reacts to
 * losing it after its text widget is gone (libadwaita 1.2): take the
 * focus away first. */
static void
destroy_dialog (AdwMessageDialog *dialog)
{
  gtk_window_set_focus (GTK_WINDOW (dialog), NULL);
  gtk_window_destroy (GTK_WINDOW (dialog));
}

static void
on_password_response (AdwMessageDialog *dialog,
                      const char       *response,
                      MorangoServeRow  *self)
{
  g_autofree char *password = NULL;

  self->password_dialog = NULL;
  if (g_str_equal (response, "set"))
    password = g_strdup (gtk_editable_get_text (GTK_EDITABLE (password_entry (dialog, "first"))));
  /* The entries keep no copy once the dialog goes. */
  gtk_editable_set_text (GTK_EDITABLE (password_entry (dialog, "first")), "");
  gtk_editable_set_text (GTK_EDITABLE (password_entry (dialog, "again")), "");
  destroy_dialog (dialog);
  if (password == NULL || *password == '\0')
    {
      move_switch (self, FALSE);
      update (self);
      return;
    }
  set_busy (self, TRUE);
  morango_engine_set_admin_password_async (self->engine, password, self->cancellable, on_password_set,
                                           g_object_ref (self));
  memset (password, 0, strlen (password));
}

static void
ask_password (MorangoServeRow *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkWidget *dialog = adw_message_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                              _("Choose the Admin Password"),
                                              _("Peers give this password to pair with this device. "
                                                "Type it twice; tell it only to people who may copy "
                                                "this device’s data."));
  GtkWidget *box = gtk_list_box_new ();
  GtkWidget *first = adw_password_entry_row_new ();
  GtkWidget *again = adw_password_entry_row_new ();

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (first), _("Admin password"));
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (again), _("Again"));
  gtk_list_box_set_selection_mode (GTK_LIST_BOX (box), GTK_SELECTION_NONE);
  gtk_widget_add_css_class (box, "boxed-list");
  gtk_list_box_append (GTK_LIST_BOX (box), first);
  gtk_list_box_append (GTK_LIST_BOX (box), again);
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), box);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "set", _("_Serve"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "set", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_response_enabled (ADW_MESSAGE_DIALOG (dialog), "set", FALSE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "set");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_object_set_data (G_OBJECT (dialog), "first", first);
  g_object_set_data (G_OBJECT (dialog), "again", again);
  g_signal_connect_swapped (first, "changed", G_CALLBACK (on_password_changed), dialog);
  g_signal_connect_swapped (again, "changed", G_CALLBACK (on_password_changed), dialog);
  g_signal_connect (dialog, "response", G_CALLBACK (on_password_response), self);
  /* The dialog closes itself before it says which response it was:
   * hidden only, its entries can still be read then. */
  gtk_window_set_hide_on_close (GTK_WINDOW (dialog), TRUE);
  self->password_dialog = ADW_MESSAGE_DIALOG (dialog);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
on_has_admin (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(MorangoServeRow) self = user_data;
  g_autoptr(GError) error = NULL;
  gboolean has = morango_engine_has_admin_finish (MORANGO_ENGINE (source), result, &error);

  if (gone (self, error))
    return;
  set_busy (self, FALSE);
  if (error != NULL)
    fail (self, error->message);
  else if (!gtk_switch_get_active (self->serve_switch))
    update (self);
  else if (has)
    serve (self);
  else
    ask_password (self);
}

static void
on_switch_active (MorangoServeRow *self)
{
  if (self->quiet || self->engine == NULL)
    return;
  g_clear_pointer (&self->error, g_free);
  if (gtk_switch_get_active (self->serve_switch))
    {
      set_busy (self, TRUE);
      morango_engine_has_admin_async (self->engine, self->cancellable, on_has_admin, g_object_ref (self));
    }
  else
    {
      morango_engine_stop_serving (self->engine);
      g_settings_set_boolean (self->settings, "serve", FALSE);
      update (self);
    }
}

void
morango_serve_row_set_engine (MorangoServeRow *self,
                              MorangoEngine   *engine)
{
  g_return_if_fail (MORANGO_IS_SERVE_ROW (self));
  g_return_if_fail (engine == NULL || MORANGO_IS_ENGINE (engine));

  if (self->engine == engine)
    return;
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  set_busy (self, FALSE);
  g_set_object (&self->engine, engine);
  move_switch (self, engine != NULL && morango_engine_get_port (engine) > 0);
  /* The choice of the last run: the password was set then. */
  if (engine != NULL && morango_engine_get_port (engine) == 0 && g_settings_get_boolean (self->settings, "serve"))
    {
      move_switch (self, TRUE);
      serve (self);
    }
  update (self);
}

gboolean
morango_serve_row_get_busy (MorangoServeRow *self)
{
  g_return_val_if_fail (MORANGO_IS_SERVE_ROW (self), FALSE);
  return self->cancellable != NULL;
}

AdwMessageDialog *
morango_serve_row_get_password_dialog (MorangoServeRow *self)
{
  g_return_val_if_fail (MORANGO_IS_SERVE_ROW (self), NULL);
  return self->password_dialog;
}

const char *
morango_serve_row_get_error (MorangoServeRow *self)
{
  g_return_val_if_fail (MORANGO_IS_SERVE_ROW (self), NULL);
  return self->error;
}

static void
morango_serve_row_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  switch (prop_id)
    {
    case PROP_BUSY:
      g_value_set_boolean (value, morango_serve_row_get_busy (MORANGO_SERVE_ROW (object)));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
morango_serve_row_dispose (GObject *object)
{
  MorangoServeRow *self = MORANGO_SERVE_ROW (object);

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->password_dialog != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->password_dialog, self);
      destroy_dialog (self->password_dialog);
      self->password_dialog = NULL;
    }
  g_clear_object (&self->engine);
  g_clear_object (&self->settings);
  gtk_widget_dispose_template (GTK_WIDGET (self), MORANGO_TYPE_SERVE_ROW);
  G_OBJECT_CLASS (morango_serve_row_parent_class)->dispose (object);
}

static void
morango_serve_row_finalize (GObject *object)
{
  MorangoServeRow *self = MORANGO_SERVE_ROW (object);

  g_clear_pointer (&self->url_rows, g_ptr_array_unref);
  g_clear_pointer (&self->error, g_free);
  G_OBJECT_CLASS (morango_serve_row_parent_class)->finalize (object);
}

static void
morango_serve_row_class_init (MorangoServeRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->get_property = morango_serve_row_get_property;
  object_class->dispose = morango_serve_row_dispose;
  object_class->finalize = morango_serve_row_finalize;
  properties[PROP_BUSY] =
    g_param_spec_boolean ("busy", NULL, NULL, FALSE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, "/org/morango/Sync/morango-serve-row.ui");
  gtk_widget_class_bind_template_child (widget_class, MorangoServeRow, list);
  gtk_widget_class_bind_template_child (widget_class, MorangoServeRow, switch_row);
  gtk_widget_class_bind_template_child (widget_class, MorangoServeRow, serve_switch);
  gtk_widget_class_bind_template_child (widget_class, MorangoServeRow, port_row);
  gtk_widget_class_bind_template_child (widget_class, MorangoServeRow, port_spin);
}

static void
morango_serve_row_init (MorangoServeRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->url_rows = g_ptr_array_new ();
  self->settings = morango_settings_new ();
  g_settings_bind (self->settings, "port", self->port_spin, "value", G_SETTINGS_BIND_DEFAULT);
  g_signal_connect_swapped (self->serve_switch, "notify::active", G_CALLBACK (on_switch_active), self);
}
