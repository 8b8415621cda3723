/* morango-monitor.c: what a long stage reports to, and who may stop it
 *
 * SPDX-License-Identifier: MIT
 */

#include "morango-monitor-private.h"
#include "morango-i18n-private.h"

struct _MorangoMonitor
{
  GObject              parent_instance;
  GCancellable        *cancellable;

  MorangoProgressFunc  progress_func;
  gpointer             progress_data;
  GDestroyNotify       progress_destroy;
  guint                interval;

  MorangoFaultFunc     fault_func;
  gpointer             fault_data;
  GDestroyNotify       fault_destroy;

  /* The stage under way; touched only by the thread running it. */
  char                *stage;
  gint64               done;
  gint64               total;
  gint64               bytes;
  gint64               next_report;
  gint                 stopped;       /* cancelled or failed: report nothing more;
                                       * atomic, as a stage's second thread may
                                       * reach a fault point or a cancel check */

  /* Set by the progress handler, taken by db/ when it maps the
   * interrupted statement's error. */
  GError              *interruption;
};

G_DEFINE_FINAL_TYPE (MorangoMonitor, morango_monitor, G_TYPE_OBJECT)

static void
morango_monitor_finalize (GObject *object)
{
  MorangoMonitor *self = (MorangoMonitor *)object;

  if (self->progress_destroy != NULL)
    self->progress_destroy (self->progress_data);
  if (self->fault_destroy != NULL)
    self->fault_destroy (self->fault_data);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->stage, g_free);
  g_clear_error (&self->interruption);

  G_OBJECT_CLASS (morango_monitor_parent_class)->finalize (object);
}

static void
morango_monitor_class_init (MorangoMonitorClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = morango_monitor_finalize;
}

static void
morango_monitor_init (MorangoMonitor *self)
{
  self->interval = MORANGO_MONITOR_DEFAULT_INTERVAL;
  self->total = -1;
}

MorangoMonitor *
morango_monitor_new (GCancellable *cancellable)
{
  MorangoMonitor *self;

  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);

  self = g_object_new (MORANGO_TYPE_MONITOR, NULL);
  self->cancellable = cancellable ? g_object_ref (cancellable) : g_cancellable_new ();
  return self;
}

GCancellable *
morango_monitor_get_cancellable (MorangoMonitor *self)
{
  g_return_val_if_fail (MORANGO_IS_MONITOR (self), NULL);
  return self->cancellable;
}

void
morango_monitor_cancel (MorangoMonitor *self)
{
  g_return_if_fail (MORANGO_IS_MONITOR (self));
  g_cancellable_cancel (self->cancellable);
}

gboolean
morango_monitor_is_cancelled (MorangoMonitor *self)
{
  return self != NULL && g_cancellable_is_cancelled (self->cancellable);
}

void
morango_monitor_set_progress_func (MorangoMonitor      *self,
                                   MorangoProgressFunc  func,
                                   gpointer             user_data,
                                   GDestroyNotify       destroy)
{
  g_return_if_fail (MORANGO_IS_MONITOR (self));

  if (self->progress_destroy != NULL)
    self->progress_destroy (self->progress_data);
  self->progress_func = func;
  self->progress_data = user_data;
  self->progress_destroy = destroy;
}

void
morango_monitor_set_interval (MorangoMonitor *self,
                              guint           records)
{
  g_return_if_fail (MORANGO_IS_MONITOR (self));
  self->interval = MAX (records, 1);
}

void
morango_monitor_set_fault_func (MorangoMonitor   *self,
                                MorangoFaultFunc  func,
                                gpointer          user_data,
                                GDestroyNotify    destroy)
{
  g_return_if_fail (MORANGO_IS_MONITOR (self));

  if (self->fault_destroy != NULL)
    self->fault_destroy (self->fault_data);
  self->fault_func = func;
  self->fault_data = user_data;
  self->fault_destroy = destroy;
}

static void
report (MorangoMonitor *self)
{
  MorangoProgress p = { self->stage, self->done, self->total, self->bytes };

  self->next_report = self->done + self->interval;
  if (self->progress_func != NULL && !g_atomic_int_get (&self->stopped))
    self->progress_func (self, &p, self->progress_data);
}

void
morango_monitor_stage_begin (MorangoMonitor *self,
                             const char     *stage,
                             gint64          total)
{
  if (self == NULL)
    return;
  g_return_if_fail (MORANGO_IS_MONITOR (self));
  g_return_if_fail (stage != NULL);

  g_free (self->stage);
  self->stage = g_strdup (stage);
  self->done = 0;
  self->bytes = 0;
  self->total = total;
  g_atomic_int_set (&self->stopped, FALSE);
  g_clear_error (&self->interruption);
  report (self);
}

void
morango_monitor_set_total (MorangoMonitor *self,
                           gint64          total)
{
  if (self != NULL)
    self->total = total;
}

gboolean
morango_monitor_check_cancelled (MorangoMonitor  *self,
                                 GError         **error)
{
  if (self == NULL || !g_cancellable_set_error_if_cancelled (self->cancellable, error))
    return TRUE;
  g_atomic_int_set (&self->stopped, TRUE);
  return FALSE;
}

static gboolean
run_fault (MorangoMonitor  *self,
           const char      *point,
           gint64           done,
           GError         **error)
{
  if (G_LIKELY (self->fault_func == NULL))
    return TRUE;
  if (self->fault_func (self, point, done, self->fault_data, error))
    return TRUE;
  g_atomic_int_set (&self->stopped, TRUE);
  return FALSE;
}

gboolean
morango_monitor_check_fault (MorangoMonitor  *self,
                             const char      *point,
                             gint64           done,
                             GError         **error)
{
  return self == NULL || run_fault (self, point, done, error);
}

gboolean
morango_monitor_check (MorangoMonitor  *self,
                       const char      *point,
                       gint64           done,
                       GError         **error)
{
  return morango_monitor_check_fault (self, point, done, error) &&
         morango_monitor_check_cancelled (self, error);
}

gboolean
morango_monitor_advance (MorangoMonitor  *self,
                         gint64           records,
                         gint64           bytes,
                         GError         **error)
{
  if (self == NULL)
    return TRUE;

  self->done += records;
  self->bytes += bytes;
  if (!run_fault (self, self->stage ? self->stage : "", self->done, error))
    return FALSE;
  /* Cancellation is looked at when a report is due; between reports the
   * progress handler of the stage's connection watches it. */
  if (self->done >= self->next_report)
    {
      if (!morango_monitor_check_cancelled (self, error))
        return FALSE;
      report (self);
    }
  return TRUE;
}

void
morango_monitor_stage_end (MorangoMonitor *self)
{
  if (self == NULL || g_atomic_int_get (&self->stopped))
    return;
  report (self);
}

gboolean
morango_monitor_interrupt_due (MorangoMonitor *self)
{
  GError *error = NULL;

  if (self == NULL)
    return FALSE;
  if (self->interruption != NULL)
    return TRUE;
  if (!run_fault (self, "statement", self->done, &error) ||
      !morango_monitor_check_cancelled (self, &error))
    {
      self->interruption = error;
      return TRUE;
    }
  return FALSE;
}

gboolean
morango_monitor_take_interruption (MorangoMonitor  *self,
                                   GError         **error)
{
  if (self != NULL && self->interruption != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&self->interruption));
      return FALSE;
    }
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, _("The operation was cancelled"));
  return FALSE;
}
