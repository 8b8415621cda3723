/* morango-pair-dialog.c: pairing with a peer, step by step
 *
 * The peer's certificates first (the engine asks it), then the account
 * on the peer, then what to sync: the whole facility under the peer's
 * certificate, or one learner, picked from the list our server gives or
 * typed for a peer without it.  The engine's questions (the root to
 * trust, the TLS certificate at first contact) are shown on a page of
 * their own and answered from its buttons.  Nothing is stored unless
 * the engine's pairing succeeds.
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gi18n.h>
#include <string.h>

#include "morango-certificate.h"
#include "morango-engine-peers.h"
#include "morango-pair-dialog.h"

struct _MorangoPairDialog
{
  AdwWindow          parent_instance;

  GtkWidget         *back_button;
  GtkWidget         *next_button;
  GtkStack          *stack;
  AdwStatusPage     *connecting_status;
  GtkLabel          *peer_label;
  AdwPreferencesGroup *issuers_group;
  AdwEntryRow       *username_row;
  AdwEntryRow       *password_row;
  GtkLabel          *credentials_error;
  GtkWidget         *learner_row;
  GtkCheckButton    *facility_check;
  GtkCheckButton    *learner_check;
  AdwPreferencesGroup *learners_group;
  GtkWidget         *typed_group;
  AdwEntryRow       *user_id_row;
  GtkLabel          *scope_error;
  AdwStatusPage     *working_status;
  GtkLabel          *confirm_title;
  GtkLabel          *confirm_text;
  GtkLabel          *confirm_details;
  GtkWidget         *refuse_button;
  AdwStatusPage     *done_status;
  AdwStatusPage     *failed_status;

  MorangoEngine     *engine;
  char              *url;
  GCancellable      *cancellable;     /* the engine call under way */
  MorangoEnginePeerCertificates *peer;
  GPtrArray         *issuer_checks;   /* GtkCheckButton*, one per peer certificate */
  GPtrArray         *learners;        /* MorangoPerson*, as the peer listed them */
  GPtrArray         *learner_checks;  /* GtkCheckButton*, one per learner */
  gboolean           learners_typed;  /* the peer lists none: the id is typed */
  MorangoEngineConfirmation *question;
  char              *error;
  char              *certificate_id;
  gboolean           started;
};

G_DEFINE_FINAL_TYPE (MorangoPairDialog, morango_pair_dialog, ADW_TYPE_WINDOW)

/* ---- words for failures ---- */

char *
morango_pair_dialog_describe_error (const GError *error)
{
  guint status;

  g_return_val_if_fail (error != NULL, NULL);

  status = morango_engine_error_get_http_status (error);
  if (status == 401)
    return g_strdup (_("The peer refused the user name or password. Check them with whoever runs the peer."));
  if (status == 403)
    return g_strdup (_("This account on the peer has no permission to pair for that scope. Ask whoever runs "
                       "the peer for an account that may, or choose another scope."));
  if (status == 429)
    return g_strdup (_("Too many wrong passwords were tried from this device. Wait a minute, then try again."));
  if (g_error_matches (error, MORANGO_ERROR, MORANGO_ERROR_PIN_MISMATCH))
    return g_strdup (_("The peer presented another TLS certificate than the one this device knows for it. "
                       "Someone may stand in between; if the peer was reinstalled, ask whoever runs it for "
                       "its new fingerprint."));
  if (g_error_matches (error, MORANGO_ERROR, MORANGO_ERROR_NOT_CONFIRMED))
    return g_strdup (_("Nothing was trusted: you did not confirm the peer’s certificate, so this device did "
                       "not pair with it."));
  if (g_error_matches (error, MORANGO_ERROR, MORANGO_ERROR_CERT_UNTRUSTED))
    return g_strdup (_("The peer’s certificates lead to a root this device does not trust."));
  if (error->domain == G_RESOLVER_ERROR ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_HOST_NOT_FOUND))
    return g_strdup (_("The peer cannot be reached. Check the address, that the peer is on and serving, "
                       "and that both devices are on the same network."));
  if (error->domain == G_TLS_ERROR)
    return g_strdup_printf (_("The secure connection to the peer failed: %s"), error->message);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return g_strdup (_("Pairing was cancelled."));
  if (g_error_matches (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND) && status == 0)
    return g_strdup_printf (_("The peer cannot give a certificate for that scope: %s"), error->message);
  return g_strdup (error->message);
}

/* ---- pages ---- */

static void
show_page (MorangoPairDialog *self,
           const char        *page)
{
  const char *back = _("_Cancel"), *next = NULL;

  if (g_str_equal (page, "credentials"))
    next = _("_Next");
  else if (g_str_equal (page, "scope"))
    {
      back = _("_Back");
      next = _("_Pair");
    }
  else if (g_str_equal (page, "done"))
    {
      back = NULL;
      next = _("_Done");
    }
  else if (g_str_equal (page, "failed"))
    {
      back = self->peer != NULL ? _("_Back") : NULL;
      next = _("_Close");
    }
  gtk_widget_set_visible (self->back_button, back != NULL);
  if (back != NULL)
    gtk_button_set_label (GTK_BUTTON (self->back_button), back);
  gtk_widget_set_visible (self->next_button, next != NULL);
  if (next != NULL)
    gtk_button_set_label (GTK_BUTTON (self->next_button), next);
  gtk_stack_set_visible_child_name (self->stack, page);
}

static void
set_error (MorangoPairDialog *self,
           const char        *text)
{
  g_free (self->error);
  self->error = g_strdup (text);
}

static void
fail (MorangoPairDialog *self,
      const GError      *error)
{
  g_autofree char *text = morango_pair_dialog_describe_error (error);

  set_error (self, text);
  adw_status_page_set_description (self->failed_status, text);
  show_page (self, "failed");
}

/* A message under the fields of the page shown, which stays. */
static void
complain (MorangoPairDialog *self,
          GtkLabel          *where,
          const char        *text)
{
  set_error (self, text);
  gtk_label_set_text (where, text);
  gtk_widget_set_visible (GTK_WIDGET (where), TRUE);
}

static void
clear_complaints (MorangoPairDialog *self)
{
  g_clear_pointer (&self->error, g_free);
  gtk_widget_set_visible (GTK_WIDGET (self->credentials_error), FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self->scope_error), FALSE);
}

/* Markup-safe text of a row title or subtitle. */
static void
row_set_texts (AdwActionRow *row,
               const char   *title,
               const char   *subtitle)
{
  g_autofree char *t = g_markup_escape_text (title, -1);
  g_autofree char *s = g_markup_escape_text (subtitle, -1);

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), t);
  adw_action_row_set_subtitle (row, s);
}

/* A row with a check button in the group of @group (NULL: starts one). */
static GtkCheckButton *
add_choice (AdwPreferencesGroup *where,
            GtkCheckButton      *group,
            const char          *title,
            const char          *subtitle)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *check = gtk_check_button_new ();

  gtk_widget_set_valign (check, GTK_ALIGN_CENTER);
  if (group != NULL)
    gtk_check_button_set_group (GTK_CHECK_BUTTON (check), group);
  else
    gtk_check_button_set_active (GTK_CHECK_BUTTON (check), TRUE);
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), check);
  adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), check);
  row_set_texts (ADW_ACTION_ROW (row), title, subtitle);
  adw_preferences_group_add (where, row);
  return GTK_CHECK_BUTTON (check);
}

static int
chosen_index (GPtrArray *checks)
{
  for (guint i = 0; checks != NULL && i < checks->len; i++)
    if (gtk_check_button_get_active (g_ptr_array_index (checks, i)))
      return (int) i;
  return -1;
}

static MorangoCertificate *
chosen_issuer (MorangoPairDialog *self)
{
  int i = chosen_index (self->issuer_checks);

  if (self->peer == NULL || self->peer->certificates->len == 0)
    return NULL;
  return g_ptr_array_index (self->peer->certificates, i < 0 ? 0 : i);
}

static const char *
chosen_dataset (MorangoPairDialog *self)
{
  int i = chosen_index (self->issuer_checks);

  return self->peer->datasets[i < 0 ? 0 : i];
}

/* ---- the engine's questions ---- */

static void
on_confirm (MorangoEngineConfirmation *question,
            gpointer                   user_data)
{
  MorangoPairDialog *self = user_data;
  g_autoptr(GString) details = g_string_new (NULL);
  g_autofree char *url = g_markup_escape_text (morango_engine_confirmation_get_url (question), -1);
  g_autofree char *fingerprint = g_markup_escape_text (morango_engine_confirmation_get_fingerprint (question), -1);

  /* A dialog closed meanwhile answers no by dropping the question. */
  if (self->engine == NULL)
    return;
  g_set_object (&self->question, question);
  if (morango_engine_confirmation_get_kind (question) == MORANGO_ENGINE_CONFIRM_TLS_CERTIFICATE)
    {
      gtk_label_set_text (self->confirm_title, _("Is This the Peer?"));
      gtk_label_set_text (self->confirm_text,
                          _("This device has never spoken to this peer over a secure connection. Compare the "
                            "fingerprint below with the one the peer shows (“morango serve --tls” prints it). "
                            "If they differ, someone may stand in between: do not trust it."));
      g_string_append_printf (details, "<b>%s</b>\n%s\n\n<b>%s</b>\n<tt>%s</tt>", _("Peer"), url,
                              _("TLS certificate fingerprint"), fingerprint);
    }
  else
    {
      g_autofree char *root = g_markup_escape_text (morango_engine_confirmation_get_root_id (question), -1);
      g_autofree char *scope = g_markup_escape_text (morango_engine_confirmation_get_scope_definition (question), -1);
      g_autofree char *params = g_markup_escape_text (morango_engine_confirmation_get_scope_params (question), -1);

      gtk_label_set_text (self->confirm_title, _("Trust This Root Certificate?"));
      gtk_label_set_text (self->confirm_text,
                          _("Pairing makes the peer’s root certificate trusted on this device: every "
                            "certificate issued under it will be believed here. Check the fingerprint with "
                            "whoever runs the peer before you trust it."));
      g_string_append_printf (details, "<b>%s</b>\n%s\n\n<b>%s</b>\n<tt>%s</tt>\n\n<b>%s</b>\n<tt>%s</tt>\n\n<b>%s</b>\n%s %s",
                              _("Peer"), url, _("Root certificate"), root, _("Key fingerprint"), fingerprint,
                              _("Scope"), scope, params);
    }
  gtk_label_set_markup (self->confirm_details, details->str);
  show_page (self, "confirm");
  gtk_widget_set_visible (self->back_button, TRUE);
  gtk_widget_set_visible (self->next_button, FALSE);
  /* Trusting is a choice, never the default; and focus on the details
   * would select them all. */
  gtk_widget_grab_focus (self->refuse_button);
  gtk_label_select_region (self->confirm_details, 0, 0);
}

static void
answer (MorangoPairDialog *self,
        gboolean           yes)
{
  g_autoptr(MorangoEngineConfirmation) question = g_steal_pointer (&self->question);

  if (question == NULL)
    return;
  show_page (self, "working");
  gtk_widget_set_visible (self->next_button, FALSE);
  morango_engine_confirmation_reply (question, yes);
}

static MorangoEnginePeerOptions
peer_options (MorangoPairDialog *self)
{
  MorangoEnginePeerOptions options = { 0 };

  options.expect_fingerprint = self->peer ? self->peer->tls_fingerprint : NULL;
  options.confirm = on_confirm;
  options.confirm_data = self;
  return options;
}

/* ---- step 1: the peer's certificates ---- */

static void
on_certificates (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(MorangoPairDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoEnginePeerCertificates) peer =
    morango_engine_fetch_peer_certificates_finish (MORANGO_ENGINE (source), result, &error);

  /* A dialog closed meanwhile has nothing left to show it on. */
  if (self->engine == NULL)
    return;
  g_clear_object (&self->cancellable);
  if (peer == NULL)
    {
      fail (self, error);
      return;
    }
  if (peer->certificates->len == 0)
    {
      g_autofree char *text = g_strdup_printf (_("%s holds no certificate of this device’s kind of data, so "
                                                 "it cannot give this device one."), self->url);

      set_error (self, text);
      adw_status_page_set_description (self->failed_status, text);
      show_page (self, "failed");
      gtk_widget_set_visible (self->back_button, FALSE);
      return;
    }
  self->peer = g_steal_pointer (&peer);
  if (self->peer->certificates->len > 1)
    {
      GtkCheckButton *first = NULL;

      for (guint i = 0; i < self->peer->certificates->len; i++)
        {
          MorangoCertificate *cert = g_ptr_array_index (self->peer->certificates, i);
          g_autofree char *title = g_strdup_printf ("%s %s", morango_certificate_get_scope_definition_id (cert),
                                                    morango_certificate_get_scope_params (cert));
          GtkCheckButton *check = add_choice (self->issuers_group, first, title, morango_certificate_get_id (cert));

          if (first == NULL)
            first = check;
          g_ptr_array_add (self->issuer_checks, check);
        }
      gtk_widget_set_visible (GTK_WIDGET (self->issuers_group), TRUE);
    }
  gtk_widget_set_visible (self->learner_row, self->peer->person_scope_definition != NULL);
  show_page (self, "credentials");
  gtk_widget_grab_focus (GTK_WIDGET (self->password_row));
}

static void
start (MorangoPairDialog *self)
{
  MorangoEnginePeerOptions options = peer_options (self);
  g_autofree char *text = g_strdup_printf (_("Asking %s which certificates it can give…"), self->url);

  self->started = TRUE;
  adw_status_page_set_description (self->connecting_status, text);
  show_page (self, "connecting");
  gtk_widget_set_visible (self->next_button, FALSE);
  self->cancellable = g_cancellable_new ();
  morango_engine_fetch_peer_certificates_async (self->engine, self->url, &options, self->cancellable,
                                                on_certificates, g_object_ref (self));
}

/* ---- step 2: the account, and the learners it may see ---- */

static void
show_learners (MorangoPairDialog *self,
               GPtrArray         *learners)
{
  GtkWidget *child;
  GtkCheckButton *first = NULL;

  /* Rows of an earlier listing go: the account may have changed. */
  for (guint i = 0; self->learner_checks != NULL && i < self->learner_checks->len; i++)
    {
      child = gtk_widget_get_ancestor (g_ptr_array_index (self->learner_checks, i), ADW_TYPE_ACTION_ROW);
      adw_preferences_group_remove (self->learners_group, child);
    }
  g_ptr_array_set_size (self->learner_checks, 0);
  g_clear_pointer (&self->learners, g_ptr_array_unref);
  self->learners = learners ? g_ptr_array_ref (learners) : NULL;
  self->learners_typed = learners == NULL;
  for (guint i = 0; learners != NULL && i < learners->len; i++)
    {
      MorangoPerson *person = g_ptr_array_index (learners, i);
      GtkCheckButton *check = add_choice (self->learners_group, first,
                                          *person->full_name ? person->full_name : person->name, person->name);

      if (first == NULL)
        first = check;
      g_ptr_array_add (self->learner_checks, check);
    }
  adw_preferences_group_set_description (self->learners_group,
                                         learners != NULL && learners->len == 0
                                         ? _("The peer lists no learners in this dataset.") : NULL);
}

static void
update_scope_page (MorangoPairDialog *self)
{
  gboolean one = gtk_check_button_get_active (self->learner_check);

  gtk_widget_set_visible (GTK_WIDGET (self->learners_group), one && !self->learners_typed);
  gtk_widget_set_visible (self->typed_group, one && self->learners_typed);
}

static void
on_learners (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(MorangoPairDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) learners = morango_engine_fetch_learners_finish (MORANGO_ENGINE (source), result, &error);

  /* A dialog closed meanwhile has nothing left to show it on. */
  if (self->engine == NULL)
    return;
  g_clear_object (&self->cancellable);
  if (learners == NULL && !g_error_matches (error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND))
    {
      g_autofree char *text = morango_pair_dialog_describe_error (error);
      guint status = morango_engine_error_get_http_status (error);

      /* The account's mistakes are fixed where it was typed. */
      if (status == 401 || status == 403 || status == 429)
        {
          show_page (self, "credentials");
          complain (self, self->credentials_error, text);
        }
      else
        fail (self, error);
      return;
    }
  /* NULL: a Morango or Kolibri peer, which lists nobody (404). */
  show_learners (self, learners);
  update_scope_page (self);
  show_page (self, "scope");
}

static void
credentials_next (MorangoPairDialog *self)
{
  const char *password = gtk_editable_get_text (GTK_EDITABLE (self->password_row));
  const char *username = gtk_editable_get_text (GTK_EDITABLE (self->username_row));
  const char *dataset = chosen_dataset (self);
  MorangoEnginePeerOptions options = peer_options (self);

  clear_complaints (self);
  if (*password == '\0')
    {
      complain (self, self->credentials_error, _("Type the password of the account on the peer."));
      return;
    }
  if (*username == '\0')
    {
      complain (self, self->credentials_error, _("Type the user name of the account on the peer."));
      return;
    }
  if (self->peer->person_scope_definition == NULL || *dataset == '\0')
    {
      /* Nobody to list: the whole facility is the only choice. */
      gtk_check_button_set_active (self->facility_check, TRUE);
      gtk_widget_set_visible (self->learner_row, FALSE);
      update_scope_page (self);
      show_page (self, "scope");
      return;
    }
  adw_status_page_set_description (self->working_status, _("Checking the account with the peer…"));
  show_page (self, "working");
  gtk_widget_set_visible (self->next_button, FALSE);
  self->cancellable = g_cancellable_new ();
  morango_engine_fetch_learners_async (self->engine, self->url, dataset, username, password, &options,
                                       self->cancellable, on_learners, g_object_ref (self));
}

/* ---- step 3: the pairing ---- */

static void
on_paired (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(MorangoPairDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *id = morango_engine_pair_finish (MORANGO_ENGINE (source), result, &error);

  /* A dialog closed meanwhile has nothing left to show it on. */
  if (self->engine == NULL)
    return;
  g_clear_object (&self->cancellable);
  g_clear_object (&self->question);
  if (id == NULL)
    {
      fail (self, error);
      return;
    }
  self->certificate_id = g_steal_pointer (&id);
  {
    g_autofree char *what = NULL;
    g_autofree char *text = NULL;

    if (gtk_check_button_get_active (self->learner_check))
      {
        int i = chosen_index (self->learner_checks);

        if (!self->learners_typed && i >= 0)
          {
            MorangoPerson *person = g_ptr_array_index (self->learners, i);

            what = g_strdup_printf (_("the data of %s (%s)"),
                                    *person->full_name ? person->full_name : person->name, person->id);
          }
        else
          what = g_strdup_printf (_("the data of learner %s"),
                                  gtk_editable_get_text (GTK_EDITABLE (self->user_id_row)));
      }
    else
      what = g_strdup (_("the whole facility"));
    text = g_strdup_printf (_("This device now holds certificate %s from %s, for %s. It is ready to sync "
                              "with the peer."), self->certificate_id, self->url, what);
    adw_status_page_set_description (self->done_status, text);
  }
  show_page (self, "done");
}

static void
scope_next (MorangoPairDialog *self)
{
  MorangoEnginePairOptions options = { 0 };
  MorangoCertificate *issuer = chosen_issuer (self);
  g_autoptr(JsonObject) params = NULL;
  g_autofree char *password = g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->password_row)));

  clear_complaints (self);
  options.parent_id = morango_certificate_get_id (issuer);
  if (gtk_check_button_get_active (self->learner_check))
    {
      const char *user_id = NULL;

      if (self->learners_typed)
        {
          user_id = gtk_editable_get_text (GTK_EDITABLE (self->user_id_row));
          if (*user_id == '\0')
            {
              complain (self, self->scope_error, _("Type the learner’s user id."));
              return;
            }
        }
      else
        {
          int i = chosen_index (self->learner_checks);

          if (i < 0)
            {
              complain (self, self->scope_error, _("Choose a learner."));
              return;
            }
          user_id = ((MorangoPerson *) g_ptr_array_index (self->learners, i))->id;
        }
      params = json_object_new ();
      json_object_set_string_member (params, self->peer->person_scope_param, user_id);
      options.scope_definition = self->peer->person_scope_definition;
      options.params = params;
    }
  else
    /* The issuer's own scope: the params it holds come along. */
    options.scope_definition = morango_certificate_get_scope_definition_id (issuer);
  options.username = gtk_editable_get_text (GTK_EDITABLE (self->username_row));
  options.password = password;
  options.expect_fingerprint = self->peer->tls_fingerprint;
  options.confirm = on_confirm;
  options.confirm_data = self;
  adw_status_page_set_description (self->working_status, _("Asking the peer for a certificate…"));
  show_page (self, "working");
  gtk_widget_set_visible (self->next_button, FALSE);
  self->cancellable = g_cancellable_new ();
  morango_engine_pair_async (self->engine, self->url, &options, self->cancellable, on_paired,
                             g_object_ref (self));
  explicit_bzero (password, strlen (password));
}

/* ---- actions ---- */

static void
next_activated (GtkWidget  *widget,
                const char *action,
                GVariant   *parameter)
{
  MorangoPairDialog *self = MORANGO_PAIR_DIALOG (widget);
  const char *page = morango_pair_dialog_get_page (self);

  if (self->cancellable != NULL)
    return;
  if (g_str_equal (page, "credentials"))
    credentials_next (self);
  else if (g_str_equal (page, "scope"))
    scope_next (self);
  else if (g_str_equal (page, "done") || g_str_equal (page, "failed"))
    gtk_window_close (GTK_WINDOW (self));
}

static void
back_activated (GtkWidget  *widget,
                const char *action,
                GVariant   *parameter)
{
  MorangoPairDialog *self = MORANGO_PAIR_DIALOG (widget);
  const char *page = morango_pair_dialog_get_page (self);

  if (g_str_equal (page, "scope") || (g_str_equal (page, "failed") && self->peer != NULL))
    {
      clear_complaints (self);
      show_page (self, "credentials");
    }
  else
    gtk_window_close (GTK_WINDOW (self));
}

static void
trust_activated (GtkWidget  *widget,
                 const char *action,
                 GVariant   *parameter)
{
  answer (MORANGO_PAIR_DIALOG (widget), TRUE);
}

static void
refuse_activated (GtkWidget  *widget,
                  const char *action,
                  GVariant   *parameter)
{
  answer (MORANGO_PAIR_DIALOG (widget), FALSE);
}

/* ---- the object ---- */

static void
morango_pair_dialog_map (GtkWidget *widget)
{
  MorangoPairDialog *self = MORANGO_PAIR_DIALOG (widget);

  GTK_WIDGET_CLASS (morango_pair_dialog_parent_class)->map (widget);
  if (!self->started)
    start (self);
}

static gboolean
morango_pair_dialog_close_request (GtkWindow *window)
{
  MorangoPairDialog *self = MORANGO_PAIR_DIALOG (window);

  /* Closing says no to a question and stops the call under way; a
   * pairing stopped stores nothing. */
  if (self->question != NULL)
    answer (self, FALSE);
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->engine);
  return GTK_WINDOW_CLASS (morango_pair_dialog_parent_class)->close_request (window);
}

static void
morango_pair_dialog_dispose (GObject *object)
{
  MorangoPairDialog *self = MORANGO_PAIR_DIALOG (object);

  if (self->question != NULL)
    morango_engine_confirmation_reply (self->question, FALSE);
  g_clear_object (&self->question);
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->engine);
  gtk_widget_dispose_template (GTK_WIDGET (self), MORANGO_TYPE_PAIR_DIALOG);
  G_OBJECT_CLASS (morango_pair_dialog_parent_class)->dispose (object);
}

static void
morango_pair_dialog_finalize (GObject *object)
{
  MorangoPairDialog *self = MORANGO_PAIR_DIALOG (object);

  g_free (self->url);
  g_clear_pointer (&self->peer, morango_engine_peer_certificates_free);
  g_clear_pointer (&self->issuer_checks, g_ptr_array_unref);
  g_clear_pointer (&self->learners, g_ptr_array_unref);
  g_clear_pointer (&self->learner_checks, g_ptr_array_unref);
  g_free (self->error);
  g_free (self->certificate_id);
  G_OBJECT_CLASS (morango_pair_dialog_parent_class)->finalize (object);
}

static void
morango_pair_dialog_class_init (MorangoPairDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = morango_pair_dialog_dispose;
  object_class->finalize = morango_pair_dialog_finalize;
  widget_class->map = morango_pair_dialog_map;
  window_class->close_request = morango_pair_dialog_close_request;

  gtk_widget_class_set_template_from_resource (widget_class, "/org/morango/Sync/morango-pair-dialog.ui");
#define CHILD(name) gtk_widget_class_bind_template_child (widget_class, MorangoPairDialog, name)
  CHILD (back_button);
  CHILD (next_button);
  CHILD (stack);
  CHILD (connecting_status);
  CHILD (peer_label);
  CHILD (issuers_group);
  CHILD (username_row);
  CHILD (password_row);
  CHILD (credentials_error);
  CHILD (learner_row);
  CHILD (facility_check);
  CHILD (learner_check);
  CHILD (learners_group);
  CHILD (typed_group);
  CHILD (user_id_row);
  CHILD (scope_error);
  CHILD (working_status);
  CHILD (confirm_title);
  CHILD (confirm_text);
  CHILD (confirm_details);
  CHILD (refuse_button);
  CHILD (done_status);
  CHILD (failed_status);
#undef CHILD

  gtk_widget_class_install_action (widget_class, "pair.next", NULL, next_activated);
  gtk_widget_class_install_action (widget_class, "pair.back", NULL, back_activated);
  gtk_widget_class_install_action (widget_class, "pair.trust", NULL, trust_activated);
  gtk_widget_class_install_action (widget_class, "pair.refuse", NULL, refuse_activated);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "pair.back", NULL);
}

static void
morango_pair_dialog_init (MorangoPairDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->issuer_checks = g_ptr_array_new ();
  self->learner_checks = g_ptr_array_new ();
  g_signal_connect_swapped (self->learner_check, "toggled", G_CALLBACK (update_scope_page), self);
}

MorangoPairDialog *
morango_pair_dialog_new (MorangoEngine *engine,
                         const char    *url,
                         GtkWindow     *parent)
{
  MorangoPairDialog *self;
  g_autofree char *text = NULL;

  g_return_val_if_fail (MORANGO_IS_ENGINE (engine), NULL);
  g_return_val_if_fail (url != NULL, NULL);
  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);

  self = g_object_new (MORANGO_TYPE_PAIR_DIALOG, "transient-for", parent, NULL);
  self->engine = g_object_ref (engine);
  self->url = g_strdup (url);
  text = g_strdup_printf (_("Pairing asks %s for a certificate that lets this device sync with it. The peer "
                            "gives one to an account it knows."), url);
  gtk_label_set_text (self->peer_label, text);
  return self;
}

const char *
morango_pair_dialog_get_page (MorangoPairDialog *self)
{
  g_return_val_if_fail (MORANGO_IS_PAIR_DIALOG (self), NULL);
  return gtk_stack_get_visible_child_name (self->stack);
}

const char *
morango_pair_dialog_get_error (MorangoPairDialog *self)
{
  g_return_val_if_fail (MORANGO_IS_PAIR_DIALOG (self), NULL);
  return self->error;
}

const char *
morango_pair_dialog_get_certificate_id (MorangoPairDialog *self)
{
  g_return_val_if_fail (MORANGO_IS_PAIR_DIALOG (self), NULL);
  return self->certificate_id;
}
