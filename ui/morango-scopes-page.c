/* morango-scopes-page.c: the Scopes page of the window
 *
 * What the engine reads of the scopes held (never the database here),
 * read again whenever the data, the certificates or the peers change:
 * one group per scope with its records per model, each model's
 * partitions folded under it, conflicts and records that could not be
 * applied, and the peer it last synced with.
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gi18n.h>

#include "morango-engine-scopes.h"
#include "morango-scope-words.h"
#include "morango-scopes-page.h"

struct _MorangoScopesPage
{
  AdwBin         parent_instance;

  GtkStack      *stack;
  GtkBox        *groups;

  MorangoEngine *engine;
  GCancellable  *cancellable;   /* the pending reading, if any */
  gboolean       again;         /* something changed while reading */
  guint          n_scopes;
  GHashTable    *expanded;      /* keys of the expander rows left open */
};

G_DEFINE_FINAL_TYPE (MorangoScopesPage, morango_scopes_page, ADW_TYPE_BIN)

enum { PROP_0, PROP_ENGINE, PROP_LOADING, N_PROPS };
static GParamSpec *properties[N_PROPS];

static void refresh (MorangoScopesPage *self);

static char *
scope_title (const MorangoScopeSummary *summary)
{
  if (summary->certificate_id == NULL)
    return g_strdup (_("Records outside the scopes held"));
  return morango_scope_in_words (summary->scope_definition, summary->scope_params);
}



static char *
format_time (gint64 usec)
{
  g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc (usec / G_USEC_PER_SEC);
  g_autoptr(GDateTime) local = utc ? g_date_time_to_local (utc) : NULL;

  /* TRANSLATORS: the date and time of a sync, in strftime() format */
  return local ? g_date_time_format (local, _("%-d %b %Y, %H:%M")) : g_strdup ("?");
}

/* @format, translated already, with the number for its one "%s":
 * xgettext cannot read a format built with G_GINT64_FORMAT. */
static char *
with_count (const char *format,
            gint64      n)
{
  g_autofree char *number = g_strdup_printf ("%" G_GINT64_FORMAT, n);

  return g_strdup_printf (format, number);
}

/* What else a count holds besides its records, or NULL. */
static char *
count_details (gint64 deleted,
               gint64 conflicts,
               gint64 errors)
{
  g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func (g_free);

  if (deleted > 0)
    g_ptr_array_add (parts, with_count (g_dngettext (GETTEXT_PACKAGE, "%s deleted", "%s deleted", deleted), deleted));
  if (conflicts > 0)
    g_ptr_array_add (parts, with_count (g_dngettext (GETTEXT_PACKAGE, "%s conflict", "%s conflicts", conflicts), conflicts));
  if (errors > 0)
    g_ptr_array_add (parts, with_count (g_dngettext (GETTEXT_PACKAGE, "%s not applied", "%s not applied", errors), errors));
  if (parts->len == 0)
    return NULL;
  g_ptr_array_add (parts, NULL);
  return g_strjoinv (", ", (char **) parts->pdata);
}

/* ---- rows ---- */

static void
add_count_label (AdwActionRow *row,
                 gint64        n)
{
  g_autofree char *text = g_strdup_printf ("%" G_GINT64_FORMAT, n);
  GtkWidget *label = gtk_label_new (text);

  gtk_widget_add_css_class (label, "numeric");
  gtk_widget_add_css_class (label, "scope-count");
  adw_action_row_add_suffix (row, label);
}

static void
add_expander_count_label (AdwExpanderRow *row,
                          gint64          n)
{
  g_autofree char *text = g_strdup_printf ("%" G_GINT64_FORMAT, n);
  GtkWidget *label = gtk_label_new (text);

  gtk_widget_add_css_class (label, "numeric");
  gtk_widget_add_css_class (label, "scope-count");
  adw_expander_row_add_action (row, label);
}

static GtkWidget *
count_row (const char *title,
           const char *subtitle,
           gint64      n)
{
  GtkWidget *row = adw_action_row_new ();

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  if (subtitle != NULL)
    adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  add_count_label (ADW_ACTION_ROW (row), n);
  return row;
}

static void
on_expanded (AdwExpanderRow    *row,
             GParamSpec        *pspec,
             MorangoScopesPage *self)
{
  const char *key = g_object_get_data (G_OBJECT (row), "morango-key");

  if (adw_expander_row_get_expanded (row))
    g_hash_table_add (self->expanded, g_strdup (key));
  else
    g_hash_table_remove (self->expanded, key);
}

/* An expander that stays open across readings: @key names it. */
static GtkWidget *
expander_row (MorangoScopesPage *self,
              const char        *key,
              const char        *title,
              const char        *subtitle)
{
  GtkWidget *row = adw_expander_row_new ();

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  if (subtitle != NULL)
    adw_expander_row_set_subtitle (ADW_EXPANDER_ROW (row), subtitle);
  g_object_set_data_full (G_OBJECT (row), "morango-key", g_strdup (key), g_free);
  adw_expander_row_set_expanded (ADW_EXPANDER_ROW (row), g_hash_table_contains (self->expanded, key));
  g_signal_connect (row, "notify::expanded", G_CALLBACK (on_expanded), self);
  return row;
}

/* One model's row, its partitions folded under it; @counts[@from, @to)
 * are the model's. */
static GtkWidget *
model_row (MorangoScopesPage         *self,
           const MorangoScopeSummary *summary,
           GPtrArray                 *counts,
           guint                      from,
           guint                      to)
{
  const MorangoScopeCount *first = g_ptr_array_index (counts, from);
  gint64 records = 0, deleted = 0, conflicts = 0, errors = 0;
  g_autofree char *key = g_strconcat (summary->certificate_id ? summary->certificate_id : "", "/",
                                      first->model_name, NULL);
  g_autofree char *partitions = NULL;
  g_autofree char *details = NULL;
  g_autofree char *subtitle = NULL;
  g_autofree char *model = NULL;
  GtkWidget *row;

  for (guint i = from; i < to; i++)
    {
      const MorangoScopeCount *c = g_ptr_array_index (counts, i);

      records += c->records;
      deleted += c->deleted;
      conflicts += c->conflicts;
      errors += c->errors;
    }
  partitions = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u partition", "%u partitions", to - from),
                                to - from);
  details = count_details (deleted, conflicts, errors);
  subtitle = details ? g_strconcat (partitions, " · ", details, NULL) : g_strdup (partitions);
  model = g_utf8_make_valid (first->model_name, -1);
  row = expander_row (self, key, model, subtitle);
  add_expander_count_label (ADW_EXPANDER_ROW (row), records);
  for (guint i = from; i < to; i++)
    {
      const MorangoScopeCount *c = g_ptr_array_index (counts, i);
      g_autofree char *shown = morango_shorten_ids (c->partition);
      g_autofree char *part_details = count_details (c->deleted, c->conflicts, c->errors);
      GtkWidget *part = count_row (*shown ? shown : _("(every partition)"), part_details, c->records);

      g_autofree char *whole = g_utf8_make_valid (c->partition, -1);

      gtk_widget_set_tooltip_text (part, whole);
      adw_expander_row_add_row (ADW_EXPANDER_ROW (row), part);
    }
  return row;
}

static GtkWidget *
errors_row (MorangoScopesPage         *self,
            const MorangoScopeSummary *summary)
{
  g_autofree char *key = g_strconcat (summary->certificate_id ? summary->certificate_id : "", "//errors", NULL);
  GtkWidget *row = expander_row (self, key, _("Records not applied"),
                                 _("They arrived but could not be written into this device’s data"));

  add_expander_count_label (ADW_EXPANDER_ROW (row), summary->errors);
  for (guint i = 0; i < summary->error_list->len; i++)
    {
      const MorangoScopeError *e = g_ptr_array_index (summary->error_list, i);
      g_autofree char *id = morango_shorten_ids (e->record_id);
      g_autofree char *model = g_utf8_make_valid (e->model_name, -1);
      g_autofree char *message = g_utf8_make_valid (e->message, -1);
      g_autofree char *where = g_strdup_printf ("%s · %s", model, id);
      GtkWidget *item = adw_action_row_new ();

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (item), message);
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (item), FALSE);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (item), where);
      gtk_widget_add_css_class (item, "scope-error");
      adw_expander_row_add_row (ADW_EXPANDER_ROW (row), item);
    }
  if (summary->errors > (gint64) summary->error_list->len)
    {
      gint64 more = summary->errors - summary->error_list->len;
      g_autofree char *text = with_count (g_dngettext (GETTEXT_PACKAGE, "and %s more", "and %s more", more), more);
      GtkWidget *item = adw_action_row_new ();

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (item), text);
      adw_expander_row_add_row (ADW_EXPANDER_ROW (row), item);
    }
  return row;
}

/* A scope's header is made of labels rather than the group's own
 * title, which ellipsizes: a scope's name with its ids must wrap at
 * 360 px. */
static GtkWidget *
scope_header (const char *title,
              const char *description,
              const char *certificate_id)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  GtkWidget *label = gtk_label_new (title);

  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (label), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_widget_add_css_class (label, "heading");
  gtk_widget_add_css_class (label, "scope-title");
  gtk_widget_set_tooltip_text (label, certificate_id);
  gtk_box_append (GTK_BOX (box), label);
  if (description != NULL)
    {
      label = gtk_label_new (description);
      gtk_label_set_wrap (GTK_LABEL (label), TRUE);
      gtk_label_set_wrap_mode (GTK_LABEL (label), PANGO_WRAP_WORD_CHAR);
      gtk_label_set_xalign (GTK_LABEL (label), 0);
      gtk_widget_add_css_class (label, "dim-label");
      gtk_widget_add_css_class (label, "scope-description");
      gtk_box_append (GTK_BOX (box), label);
    }
  return box;
}

static GtkWidget *
scope_group (MorangoScopesPage         *self,
             const MorangoScopeSummary *summary)
{
  GtkWidget *scope = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  GtkWidget *group = adw_preferences_group_new ();
  g_autofree char *title = scope_title (summary);
  g_autofree char *description = NULL;
  g_autofree char *deleted = NULL;
  GtkWidget *row;
  guint from = 0;

  if (summary->description != NULL)
    description = morango_shorten_ids (summary->description);
  else if (summary->certificate_id == NULL)
    description = g_strdup (_("Held here, but in no scope this device has a certificate for: it cannot sync them."));
  gtk_box_append (GTK_BOX (scope), scope_header (title, description, summary->certificate_id));
  gtk_box_append (GTK_BOX (scope), group);
  gtk_widget_add_css_class (scope, "scope");
  g_object_set_data_full (G_OBJECT (scope), "morango-certificate-id", g_strdup (summary->certificate_id), g_free);

  if (summary->deleted > 0)
    deleted = with_count (g_dngettext (GETTEXT_PACKAGE, "And %s deleted, kept to sync the deletion",
                                       "And %s deleted, kept to sync the deletion", summary->deleted),
                          summary->deleted);
  row = count_row (_("Records"), deleted, summary->records);
  gtk_widget_add_css_class (row, "scope-total");
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), row);

  for (guint i = 1; i <= summary->counts->len; i++)
    {
      const MorangoScopeCount *a = g_ptr_array_index (summary->counts, from);

      if (i == summary->counts->len ||
          !g_str_equal (a->model_name, ((MorangoScopeCount *) g_ptr_array_index (summary->counts, i))->model_name))
        {
          adw_preferences_group_add (ADW_PREFERENCES_GROUP (group),
                                     model_row (self, summary, summary->counts, from, i));
          from = i;
        }
    }

  if (summary->conflicts > 0)
    {
      row = count_row (_("Conflicts"),
                       _("Changed on two devices at once: one version was kept, the other saved beside it"),
                       summary->conflicts);
      gtk_widget_add_css_class (row, "scope-conflicts");
      adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), row);
    }
  if (summary->errors > 0)
    adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), errors_row (self, summary));

  if (summary->certificate_id != NULL)
    {
      g_autofree char *synced = NULL;

      if (summary->last_peer_name != NULL)
        {
          g_autofree char *when = format_time (summary->last_synced);

          /* TRANSLATORS: the peer a scope last synced with, and when */
          synced = g_strdup_printf (_("Last from %s, %s"), summary->last_peer_name, when);
        }
      row = adw_action_row_new ();
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row),
                                     synced ? synced : _("Not synced with any peer yet"));
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      gtk_widget_add_css_class (row, "scope-last-peer");
      adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), row);
    }
  return scope;
}

static void
show_scopes (MorangoScopesPage *self,
             GPtrArray         *scopes)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->groups))) != NULL)
    gtk_box_remove (self->groups, child);
  for (guint i = 0; i < scopes->len; i++)
    gtk_box_append (self->groups, scope_group (self, g_ptr_array_index (scopes, i)));
  self->n_scopes = scopes->len;
  gtk_stack_set_visible_child_name (self->stack, scopes->len > 0 ? "list" : "empty");
}

/* ---- reading ---- */

static void
on_scopes_read (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(MorangoScopesPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) scopes = morango_engine_list_scopes_finish (MORANGO_ENGINE (source), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  g_clear_object (&self->cancellable);
  if (scopes != NULL)
    show_scopes (self, scopes);
  else
    g_warning ("The scopes held could not be read: %s", error->message);
  if (self->again)
    refresh (self);
  else
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOADING]);
}

static void
refresh (MorangoScopesPage *self)
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
  morango_engine_list_scopes_async (self->engine, self->cancellable, on_scopes_read, g_object_ref (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOADING]);
}

void
morango_scopes_page_set_engine (MorangoScopesPage *self,
                                MorangoEngine      *engine)
{
  GtkWidget *child;

  g_return_if_fail (MORANGO_IS_SCOPES_PAGE (self));
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
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->groups))) != NULL)
    gtk_box_remove (self->groups, child);
  self->n_scopes = 0;
  g_hash_table_remove_all (self->expanded);
  gtk_stack_set_visible_child_name (self->stack, "empty");
  g_set_object (&self->engine, engine);
  if (engine != NULL)
    {
      /* Counts change with the data; scopes with the certificates; the
       * last peer with the peers' syncs. */
      g_signal_connect_swapped (engine, "data-changed", G_CALLBACK (refresh), self);
      g_signal_connect_swapped (engine, "certificates-changed", G_CALLBACK (refresh), self);
      g_signal_connect_swapped (engine, "peers-changed", G_CALLBACK (refresh), self);
      refresh (self);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ENGINE]);
}

MorangoEngine *
morango_scopes_page_get_engine (MorangoScopesPage *self)
{
  g_return_val_if_fail (MORANGO_IS_SCOPES_PAGE (self), NULL);
  return self->engine;
}

gboolean
morango_scopes_page_get_loading (MorangoScopesPage *self)
{
  g_return_val_if_fail (MORANGO_IS_SCOPES_PAGE (self), FALSE);
  return self->cancellable != NULL;
}

guint
morango_scopes_page_get_n_scopes (MorangoScopesPage *self)
{
  g_return_val_if_fail (MORANGO_IS_SCOPES_PAGE (self), 0);
  return self->n_scopes;
}

/* ---- object ---- */

static void
morango_scopes_page_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  MorangoScopesPage *self = MORANGO_SCOPES_PAGE (object);

  switch (prop_id)
    {
    case PROP_ENGINE:
      g_value_set_object (value, self->engine);
      break;
    case PROP_LOADING:
      g_value_set_boolean (value, morango_scopes_page_get_loading (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
morango_scopes_page_set_property (GObject      *object,
                                  guint         prop_id,
                                  const GValue *value,
                                  GParamSpec   *pspec)
{
  switch (prop_id)
    {
    case PROP_ENGINE:
      morango_scopes_page_set_engine (MORANGO_SCOPES_PAGE (object), g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
morango_scopes_page_dispose (GObject *object)
{
  MorangoScopesPage *self = MORANGO_SCOPES_PAGE (object);

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->engine != NULL)
    g_signal_handlers_disconnect_by_data (self->engine, self);
  g_clear_object (&self->engine);
  /* The stack is the bin's own child: the bin lets go of it first, or
   * both would unparent it. */
  adw_bin_set_child (ADW_BIN (self), NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), MORANGO_TYPE_SCOPES_PAGE);
  G_OBJECT_CLASS (morango_scopes_page_parent_class)->dispose (object);
}

static void
morango_scopes_page_finalize (GObject *object)
{
  MorangoScopesPage *self = MORANGO_SCOPES_PAGE (object);

  g_clear_pointer (&self->expanded, g_hash_table_unref);
  G_OBJECT_CLASS (morango_scopes_page_parent_class)->finalize (object);
}

static void
morango_scopes_page_class_init (MorangoScopesPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->get_property = morango_scopes_page_get_property;
  object_class->set_property = morango_scopes_page_set_property;
  object_class->dispose = morango_scopes_page_dispose;
  object_class->finalize = morango_scopes_page_finalize;

  properties[PROP_ENGINE] =
    g_param_spec_object ("engine", NULL, NULL, MORANGO_TYPE_ENGINE,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_LOADING] =
    g_param_spec_boolean ("loading", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, "/org/morango/Sync/morango-scopes-page.ui");
  gtk_widget_class_bind_template_child (widget_class, MorangoScopesPage, stack);
  gtk_widget_class_bind_template_child (widget_class, MorangoScopesPage, groups);
}

static void
morango_scopes_page_init (MorangoScopesPage *self)
{
  self->expanded = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  gtk_widget_init_template (GTK_WIDGET (self));
}
