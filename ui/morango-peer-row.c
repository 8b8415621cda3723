/* morango-peer-row.c: one known peer on the Peers page
 *
 * The row owns the peer's sync while it runs: the Sync button starts it
 * through the engine, the engine's progress moves the bar, Cancel stops
 * it (the engine leaves it resumable).  The row stays alive until the
 * sync's callback, so a page refresh in between keeps the same row.
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib/gi18n.h>

#include "morango-pair-dialog.h"
#include "morango-history-dialog.h"
#include "morango-peer-row.h"

struct _MorangoPeerRow
{
  AdwActionRow      parent_instance;

  GtkWidget        *progress_box;
  GtkProgressBar   *progress;
  GtkLabel         *detail;
  GtkWidget        *sync_button;
  GtkWidget        *cancel_button;
  GtkWidget        *pair_button;

  MorangoEngine    *engine;
  MorangoKnownPeer *peer;
  GCancellable     *cancellable;   /* non-NULL while syncing */
  char             *outcome;       /* of the last sync, in words */
  GSimpleActionGroup *actions;
  GApplication     *app;           /* held while syncing */
  AdwToast         *toast;         /* the last outcome's, until dismissed */

  /* What the running sync did so far, for the detail line. */
  gboolean          stage_push;
  char             *stage;
  gint64            stage_began;   /* by the row's clock, µs */
  gint64            records[2];    /* transferred: [0] in, [1] out */
  gint64            totals[2];     /* -1 while not known */
  MorangoPeerRowClock clock;       /* NULL: the monotonic clock */
  gpointer          clock_data;
};

G_DEFINE_FINAL_TYPE (MorangoPeerRow, morango_peer_row, ADW_TYPE_ACTION_ROW)

static char *
format_time (gint64 usec)
{
  g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc (usec / G_USEC_PER_SEC);
  g_autoptr(GDateTime) local = utc ? g_date_time_to_local (utc) : NULL;

  /* TRANSLATORS: the date and time of a sync, in strftime() format */
  return local ? g_date_time_format (local, _("%-d %b %Y, %H:%M")) : g_strdup ("?");
}

static const char *
state_in_words (MorangoPeerState state)
{
  switch (state)
    {
    case MORANGO_PEER_STATE_ADDED:
      return _("Not paired yet");
    case MORANGO_PEER_STATE_PAIRED:
      return _("Paired, never synced");
    case MORANGO_PEER_STATE_SYNCED:
      return _("Synced");
    case MORANGO_PEER_STATE_FORGOTTEN:
      return _("Forgotten");
    default:
      return "";
    }
}

static void
update_labels (MorangoPeerRow *self)
{
  const MorangoKnownPeer *peer = self->peer;
  g_autoptr(GString) subtitle = g_string_new (state_in_words (peer->state));
  g_autofree char *title = NULL;

  /* A client of our server may have no address: its instance id is all
   * there is to show. */
  if (peer->address != NULL)
    title = g_strdup (peer->address);
  else if (peer->instance_id != NULL)
    title = g_strdup_printf (_("Device %.8s"), peer->instance_id);
  else
    title = g_strdup (_("Unknown device"));
  {
    g_autofree char *escaped = g_markup_escape_text (title, -1);

    adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self), escaped);
  }
  gtk_widget_set_tooltip_text (GTK_WIDGET (self), peer->instance_id
                                                  ? peer->instance_id : NULL);

  /* The device behind the address, as its instance id begins. */
  if (peer->address != NULL && peer->instance_id != NULL)
    {
      g_string_append (subtitle, " · ");
      g_string_append_printf (subtitle, _("device %.8s"), peer->instance_id);
    }
  if (peer->last_success > 0)
    {
      g_autofree char *when = format_time (peer->last_success);

      g_string_append (subtitle, " · ");
      g_string_append_printf (subtitle, _("last sync %s"), when);
    }
  /* The last failure stays in view after a later success, marked as
   * older, so that a person can still see what went wrong. */
  if (peer->last_failure > 0)
    {
      g_autofree char *when = format_time (peer->last_failure);
      const char *reason = peer->last_failure_reason ? peer->last_failure_reason : _("no reason given");

      g_string_append (subtitle, "\n");
      if (peer->last_failure > peer->last_success)
        g_string_append_printf (subtitle, _("Failed %s: %s"), when, reason);
      else
        g_string_append_printf (subtitle, _("Last failure, before that: %s: %s"), when, reason);
    }
  /* The subtitle is markup: a reason comes from the network. */
  {
    g_autofree char *escaped = g_markup_escape_text (subtitle->str, -1);

    adw_action_row_set_subtitle (ADW_ACTION_ROW (self), escaped);
  }
}

static gboolean can_pair (MorangoPeerRow *self);

static void
update_actions (MorangoPeerRow *self)
{
  gboolean syncing = self->cancellable != NULL;
  GAction *sync = g_action_map_lookup_action (G_ACTION_MAP (self->actions), "sync");
  GAction *cancel = g_action_map_lookup_action (G_ACTION_MAP (self->actions), "cancel");

  /* Only a peer with an address can be synced with from here. */
  g_simple_action_set_enabled (G_SIMPLE_ACTION (sync), !syncing && self->peer->address != NULL);
  g_simple_action_set_enabled (G_SIMPLE_ACTION (cancel), syncing);
  /* A peer not paired yet offers Pair instead: a sync would only fail
   * for want of a certificate. */
  gtk_widget_set_visible (self->sync_button, !syncing && self->peer->address != NULL && !can_pair (self));
  gtk_widget_set_visible (self->cancel_button, syncing);
  gtk_widget_set_visible (self->progress_box, syncing);
  gtk_widget_set_visible (GTK_WIDGET (self->progress), syncing);
}

static void
on_toast_dismissed (AdwToast       *toast,
                    MorangoPeerRow *self)
{
  if (self->toast == toast)
    g_clear_object (&self->toast);
}

/* One toast a row: a sync's outcome replaces the last one's, which would
 * otherwise stay in front of it (toasts without a timeout queue behind
 * the one showing) until the user closes it. */
static void
show_toast (MorangoPeerRow *self,
            const char     *text)
{
  GtkWidget *overlay = gtk_widget_get_ancestor (GTK_WIDGET (self), ADW_TYPE_TOAST_OVERLAY);
  AdwToast *toast;

  if (overlay == NULL)
    return;
  if (self->toast != NULL)
    {
      g_autoptr(AdwToast) old = g_steal_pointer (&self->toast);

      adw_toast_dismiss (old);
    }
  toast = adw_toast_new (text);
  adw_toast_set_timeout (toast, 0);
  self->toast = g_object_ref (toast);
  g_signal_connect_object (toast, "dismissed", G_CALLBACK (on_toast_dismissed), self, 0);
  adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (overlay), toast);
}

/* A stage's name from the engine, in words. */
static const char *
stage_in_words (const char *stage)
{
  if (g_str_equal (stage, "serialize"))
    return _("preparing records");
  if (g_str_equal (stage, "queue"))
    return _("gathering changes");
  if (g_str_equal (stage, "transfer"))
    return _("transferring");
  if (g_str_equal (stage, "dequeue") || g_str_equal (stage, "deserialize"))
    return _("applying changes");
  if (g_str_equal (stage, "cleanup"))
    return _("finishing");
  return stage;
}

static gint64
now (MorangoPeerRow *self)
{
  return self->clock != NULL ? self->clock (self->clock_data) : g_get_monotonic_time ();
}

/* "about 40 s left" once the rate says something: a few seconds into a
 * stage that knows its total and has done some of it. */
char *
morango_peer_row_format_time_left (gint64 elapsed_usec,
                                   gint64 done,
                                   gint64 total)
{
  double left;

  if (total <= 0 || done <= 0 || done >= total || elapsed_usec < 2 * G_USEC_PER_SEC)
    return NULL;
  /* To the nearest microsecond before rounding up to seconds: a time
   * that comes out whole (30 s) but a hair above in floating point must
   * not read 31 s. */
  left = (double) elapsed_usec * (double) (total - done) / (double) done;
  if (left < 90.0 * G_USEC_PER_SEC)
    {
      gint64 usec = (gint64) (left + 0.5);
      /* Up, and at least 1: a stage 0.2 s from its end has not ended. */
      int seconds = (int) MAX ((usec + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC, 1);

      return g_strdup_printf (g_dngettext (NULL, "about %d s left", "about %d s left", seconds), seconds);
    }
  else
    {
      /* Nearest: 95 s is "about 2 min".  A rate from a bare start can
       * promise ages; the count stops where an int does. */
      double minutes = left / (60.0 * G_USEC_PER_SEC) + 0.5;
      int n = minutes >= G_MAXINT ? G_MAXINT : (int) minutes;

      return g_strdup_printf (g_dngettext (NULL, "about %d min left", "about %d min left", n), n);
    }
}

static char *
records_of (gint64 done,
            gint64 total)
{
  if (total >= 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT " / %" G_GINT64_FORMAT, done, total);
  return g_strdup_printf ("%" G_GINT64_FORMAT, done);
}

/* Records each way, bytes each way and the time left, under the bar. */
static void
update_detail (MorangoPeerRow              *self,
               const MorangoEngineProgress *progress)
{
  g_autofree char *in = NULL, *out = NULL, *sent = NULL, *received = NULL, *left = NULL;
  g_autofree char *text = NULL;
  int way = progress->push ? 1 : 0;

  if (self->stage == NULL || !g_str_equal (self->stage, progress->stage) ||
      self->stage_push != progress->push)
    {
      g_free (self->stage);
      self->stage = g_strdup (progress->stage);
      self->stage_push = progress->push;
      self->stage_began = now (self);
    }
  if (g_str_equal (progress->stage, "transfer"))
    {
      self->records[way] = progress->done;
      self->totals[way] = progress->total;
    }
  in = records_of (self->records[0], self->totals[0]);
  out = records_of (self->records[1], self->totals[1]);
  received = g_format_size (MAX (progress->bytes_received, 0));
  sent = g_format_size (MAX (progress->bytes_sent, 0));
  left = morango_peer_row_format_time_left (now (self) - self->stage_began,
                                            progress->done, progress->total);
  /* TRANSLATORS: records received, records sent (each "done / total"),
   * then bytes received and sent */
  text = g_strdup_printf (_("Records in %s, out %s · %s received, %s sent"), in, out, received, sent);
  if (left != NULL)
    {
      char *with = g_strconcat (text, " · ", left, NULL);

      g_free (text);
      text = with;
    }
  gtk_label_set_text (self->detail, text);
}

static void
reset_detail (MorangoPeerRow *self)
{
  g_clear_pointer (&self->stage, g_free);
  self->records[0] = self->records[1] = 0;
  self->totals[0] = self->totals[1] = -1;
  gtk_label_set_text (self->detail, "");
}

static void
on_progress (const MorangoEngineProgress *progress,
             gpointer                     user_data)
{
  MorangoPeerRow *self = user_data;
  g_autofree char *text = NULL;
  const char *direction;

  /* Reports still queued when the sync ended say nothing new, and a
   * row taken down has no bar to move. */
  if (self->cancellable == NULL || self->progress == NULL)
    return;
  direction = progress->push ? _("Pushing") : _("Pulling");
  if (progress->total > 0)
    {
      gtk_progress_bar_set_fraction (self->progress,
                                     CLAMP ((double) progress->done / progress->total, 0.0, 1.0));
      /* TRANSLATORS: direction, stage, records done, records in all */
      text = g_strdup_printf (_("%s: %s %lld / %lld"),
                              direction, stage_in_words (progress->stage),
                              (long long) progress->done, (long long) progress->total);
    }
  else
    {
      gtk_progress_bar_pulse (self->progress);
      /* TRANSLATORS: direction, stage */
      text = g_strdup_printf (_("%s: %s"), direction, stage_in_words (progress->stage));
    }
  gtk_progress_bar_set_text (self->progress, text);
  update_detail (self, progress);
}

/* A sync that ends while nobody looks at the window says so on the
 * desktop: the toast alone would go unseen. */
static void
notify_if_away (MorangoPeerRow                *self,
                const GError                  *error,
                const MorangoEngineSyncResult *out)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkApplication *app = GTK_IS_WINDOW (root) ? gtk_window_get_application (GTK_WINDOW (root)) : NULL;
  g_autoptr(GNotification) notification = NULL;
  g_autofree char *title = NULL, *body = NULL;
  g_autofree char *id = NULL;

  if (app == NULL ||
      (gtk_widget_get_visible (GTK_WIDGET (root)) && gtk_window_is_active (GTK_WINDOW (root))))
    return;
  if (error == NULL)
    {
      /* TRANSLATORS: the peer's address, records received, records sent */
      title = g_strdup_printf (_("Sync with %s finished"), self->peer->address);
      body = g_strdup_printf (_("%lld records in, %lld out"),
                              (long long) out->records_pulled, (long long) out->records_pushed);
    }
  else
    {
      title = g_strdup_printf (_("Sync with %s failed"), self->peer->address);
      body = g_strdup (error->message);
    }
  notification = g_notification_new (title);
  g_notification_set_body (notification, body);
  id = g_strconcat ("sync-", self->peer->id, NULL);
  g_application_send_notification (G_APPLICATION (app), id, notification);
}

/* A sync stopped by closing the window still has to roll back its
 * stage: the application stays until it has. */
static void
hold_app (MorangoPeerRow *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkApplication *app = GTK_IS_WINDOW (root) ? gtk_window_get_application (GTK_WINDOW (root)) : NULL;

  if (app != NULL && self->app == NULL)
    {
      self->app = G_APPLICATION (g_object_ref (app));
      g_application_hold (self->app);
    }
}

static void
release_app (MorangoPeerRow *self)
{
  if (self->app != NULL)
    {
      g_application_release (self->app);
      g_clear_object (&self->app);
    }
}

static void
on_sync_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(MorangoPeerRow) self = user_data;
  g_autoptr(GError) error = NULL;
  MorangoEngineSyncResult out = { 0 };
  g_autofree char *text = NULL;

  g_clear_object (&self->cancellable);
  if (self->progress != NULL)
    update_actions (self);
  release_app (self);
  if (morango_engine_sync_finish (MORANGO_ENGINE (source), result, &out, &error))
    text = g_strdup_printf (_("Synced with %s: %lld records received, %lld sent"),
                            self->peer->address, (long long) out.records_pulled,
                            (long long) out.records_pushed);
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    text = g_strdup (_("Sync cancelled; it continues where it stopped next time"));
  else
    text = g_strdup_printf (_("The sync with %s failed: %s"), self->peer->address, error->message);
  g_free (self->outcome);
  self->outcome = g_steal_pointer (&text);
  if (self->progress != NULL)
    show_toast (self, self->outcome);
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    notify_if_away (self, error, &out);
}

static void
sync_activated (GSimpleAction *action,
                GVariant      *parameter,
                gpointer       user_data)
{
  MorangoPeerRow *self = user_data;
  MorangoEngineSyncOptions options = { 0 };

  if (self->cancellable != NULL || self->peer->address == NULL)
    return;
  options.progress = on_progress;
  options.progress_data = self;
  self->cancellable = g_cancellable_new ();
  gtk_progress_bar_set_fraction (self->progress, 0.0);
  gtk_progress_bar_set_text (self->progress, _("Connecting…"));
  reset_detail (self);
  hold_app (self);
  update_actions (self);
  morango_engine_sync_async (self->engine, self->peer->address, &options, self->cancellable,
                             on_sync_done, g_object_ref (self));
}

static void
history_activated (GSimpleAction *action,
                   GVariant      *parameter,
                   gpointer       user_data)
{
  MorangoPeerRow *self = user_data;
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  MorangoHistoryDialog *dialog = morango_history_dialog_new (self->engine, self->peer);

  if (GTK_IS_WINDOW (root))
    gtk_window_set_transient_for (GTK_WINDOW (dialog), GTK_WINDOW (root));
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
cancel_activated (GSimpleAction *action,
                  GVariant      *parameter,
                  gpointer       user_data)
{
  MorangoPeerRow *self = user_data;

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
}

/* ---- pairing: a peer added but not paired gets a Pair button ---- */

static gboolean
can_pair (MorangoPeerRow *self)
{
  return self->peer->state == MORANGO_PEER_STATE_ADDED && self->peer->address != NULL;
}

static void
update_pair_button (MorangoPeerRow *self)
{
  GAction *pair = g_action_map_lookup_action (G_ACTION_MAP (self->actions), "pair");

  g_simple_action_set_enabled (G_SIMPLE_ACTION (pair), can_pair (self));
  gtk_widget_set_visible (self->pair_button, can_pair (self));
}

static void
pair_activated (GSimpleAction *action,
                GVariant      *parameter,
                gpointer       user_data)
{
  MorangoPeerRow *self = user_data;
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  MorangoPairDialog *dialog;

  if (!can_pair (self))
    return;
  dialog = morango_pair_dialog_new (self->engine, self->peer->address,
                                    GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
morango_peer_row_dispose (GObject *object)
{
  MorangoPeerRow *self = MORANGO_PEER_ROW (object);

  /* A window closed during a sync stops it; the engine leaves it
   * resumable for the next one. */
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->toast);
  gtk_widget_dispose_template (GTK_WIDGET (self), MORANGO_TYPE_PEER_ROW);
  G_OBJECT_CLASS (morango_peer_row_parent_class)->dispose (object);
}

static void
morango_peer_row_finalize (GObject *object)
{
  MorangoPeerRow *self = MORANGO_PEER_ROW (object);

  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->outcome, g_free);
  g_clear_pointer (&self->stage, g_free);
  g_clear_object (&self->actions);
  release_app (self);
  g_clear_object (&self->engine);
  g_clear_pointer (&self->peer, morango_known_peer_free);
  G_OBJECT_CLASS (morango_peer_row_parent_class)->finalize (object);
}

static void
morango_peer_row_class_init (MorangoPeerRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = morango_peer_row_dispose;
  object_class->finalize = morango_peer_row_finalize;
  gtk_widget_class_set_template_from_resource (widget_class, "/org/morango/Sync/morango-peer-row.ui");
  gtk_widget_class_bind_template_child (widget_class, MorangoPeerRow, progress);
  gtk_widget_class_bind_template_child (widget_class, MorangoPeerRow, progress_box);
  gtk_widget_class_bind_template_child (widget_class, MorangoPeerRow, detail);
  gtk_widget_class_bind_template_child (widget_class, MorangoPeerRow, sync_button);
  gtk_widget_class_bind_template_child (widget_class, MorangoPeerRow, cancel_button);
  gtk_widget_class_bind_template_child (widget_class, MorangoPeerRow, pair_button);
}

static void
morango_peer_row_init (MorangoPeerRow *self)
{
  static const GActionEntry entries[] = {
    { .name = "sync", .activate = sync_activated },
    { .name = "cancel", .activate = cancel_activated },
    { .name = "pair", .activate = pair_activated },
    { .name = "history", .activate = history_activated },
  };

  gtk_widget_init_template (GTK_WIDGET (self));
  self->actions = g_simple_action_group_new ();
  g_action_map_add_action_entries (G_ACTION_MAP (self->actions), entries, G_N_ELEMENTS (entries), self);
  gtk_widget_insert_action_group (GTK_WIDGET (self), "peer", G_ACTION_GROUP (self->actions));
}

MorangoPeerRow *
morango_peer_row_new (MorangoEngine          *engine,
                      const MorangoKnownPeer *peer)
{
  MorangoPeerRow *self;

  g_return_val_if_fail (MORANGO_IS_ENGINE (engine), NULL);
  g_return_val_if_fail (peer != NULL, NULL);

  self = g_object_new (MORANGO_TYPE_PEER_ROW, NULL);
  self->engine = g_object_ref (engine);
  morango_peer_row_set_peer (self, peer);
  return self;
}

const MorangoKnownPeer *
morango_peer_row_get_peer (MorangoPeerRow *self)
{
  g_return_val_if_fail (MORANGO_IS_PEER_ROW (self), NULL);
  return self->peer;
}

void
morango_peer_row_set_peer (MorangoPeerRow         *self,
                           const MorangoKnownPeer *peer)
{
  g_return_if_fail (MORANGO_IS_PEER_ROW (self));
  g_return_if_fail (peer != NULL);
  g_return_if_fail (self->peer == NULL || g_str_equal (self->peer->id, peer->id));

  g_clear_pointer (&self->peer, morango_known_peer_free);
  self->peer = morango_known_peer_copy (peer);
  update_labels (self);
  update_actions (self);
  update_pair_button (self);
}

gboolean
morango_peer_row_is_syncing (MorangoPeerRow *self)
{
  g_return_val_if_fail (MORANGO_IS_PEER_ROW (self), FALSE);
  return self->cancellable != NULL;
}

void
morango_peer_row_cancel (MorangoPeerRow *self)
{
  g_return_if_fail (MORANGO_IS_PEER_ROW (self));
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
}

const char *
morango_peer_row_get_detail (MorangoPeerRow *self)
{
  g_return_val_if_fail (MORANGO_IS_PEER_ROW (self), NULL);
  return gtk_label_get_text (self->detail);
}

const char *
morango_peer_row_get_outcome (MorangoPeerRow *self)
{
  g_return_val_if_fail (MORANGO_IS_PEER_ROW (self), NULL);
  return self->outcome;
}

void
morango_peer_row_set_clock (MorangoPeerRow      *self,
                            MorangoPeerRowClock  clock,
                            gpointer             user_data)
{
  g_return_if_fail (MORANGO_IS_PEER_ROW (self));
  self->clock = clock;
  self->clock_data = clock != NULL ? user_data : NULL;
}
