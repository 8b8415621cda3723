/* morango-pipe.c: the reading half of a stage on a thread of its own
 *
 * SPDX-License-Identifier: MIT
 */

#include "morango-error.h"
#include "morango-pipe-private.h"
#include "morango-i18n-private.h"

typedef struct {
  gpointer *items;
  guint     len;
  gboolean  last;     /* the reader is done after this batch */
  gboolean  failed;   /* because reading failed, with @error */
  GError   *error;
} Batch;

typedef struct {
  const MorangoPipeFuncs *funcs;
  MorangoDb              *reader;  /* the reading thread's while it runs */
  gpointer                read_data;
  GAsyncQueue            *full;    /* Batch *, reader -> caller */
  GAsyncQueue            *empty;   /* Batch *, caller -> reader */
  gint                    stop;    /* set when applying failed */
  MorangoMonitor         *monitor;
  gboolean                wire;    /* the caller answers a peer */
} Pipe;

static void
fill (Pipe  *p,
      Batch *b)
{
  b->len = 0;
  /* Cancelling is allowed from any thread, and looking costs an atomic
   * read: once per batch, so the reader never reads far past a cancel. */
  if (!morango_monitor_check_cancelled (p->monitor, &b->error))
    {
      b->last = b->failed = TRUE;
      return;
    }
  while (b->len < p->funcs->batch_size)
    {
      if (g_atomic_int_get (&p->stop))
        {
          b->last = TRUE;
          return;
        }
      switch (p->funcs->read (b->items[b->len], p->read_data, &b->error))
        {
        case MORANGO_PIPE_ITEM:
          b->len++;
          break;
        case MORANGO_PIPE_SKIP:
          break;
        case MORANGO_PIPE_END:
          b->last = TRUE;
          return;
        case MORANGO_PIPE_ERROR:
        default:
          b->last = b->failed = TRUE;
          return;
        }
    }
}

static gpointer
read_batches (gpointer data)
{
  Pipe *p = data;
  gboolean last;

  morango_i18n_set_wire_thread (p->wire);
  if (p->reader != NULL)
    morango_db_acquire (p->reader);
  do
    {
      Batch *b = g_async_queue_pop (p->empty);

      fill (p, b);
      last = b->last;
      g_async_queue_push (p->full, b);
    }
  while (!last);
  /* The caller takes the connection back once it has joined us. */
  if (p->reader != NULL)
    morango_db_release (p->reader);
  return NULL;
}

gboolean
morango_pipe_run (const MorangoPipeFuncs *funcs,
                  MorangoDb              *reader,
                  gpointer                read_data,
                  gpointer                apply_data,
                  MorangoMonitor         *monitor,
                  GError                **error)
{
  g_autofree Batch *batches = NULL;
  Pipe p = { funcs, reader, read_data, NULL, NULL, 0, monitor };
  GThread *thread;
  gboolean ok = TRUE, last = FALSE;

  g_return_val_if_fail (funcs->batch_size > 0 && funcs->n_batches > 0, FALSE);
  g_return_val_if_fail (reader == NULL || MORANGO_IS_DB (reader), FALSE);

  batches = g_new0 (Batch, funcs->n_batches);
  p.full = g_async_queue_new ();
  p.empty = g_async_queue_new ();

  for (guint i = 0; i < funcs->n_batches; i++)
    {
      batches[i].items = g_new (gpointer, funcs->batch_size);
      for (guint k = 0; k < funcs->batch_size; k++)
        batches[i].items[k] = funcs->item_new (read_data);
      g_async_queue_push (p.empty, &batches[i]);
    }

  /* The reading thread: joined below, on every path. */
  if (reader != NULL)
    morango_db_release (reader);
  p.wire = morango_i18n_is_wire_thread ();
  thread = g_thread_new (funcs->thread_name, read_batches, &p);
  while (!last)
    {
      Batch *b = g_async_queue_pop (p.full);

      for (guint i = 0; ok && i < b->len; i++)
        ok = funcs->apply (b->items[i], apply_data, error);
      /* Once applying failed, what the reader still hands over is only
       * sent back until it notices. */
      if (!ok)
        g_atomic_int_set (&p.stop, 1);
      else if (b->failed)
        {
          ok = FALSE;
          if (b->error != NULL)
            g_propagate_error (error, g_steal_pointer (&b->error));
          else
            g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_FAILED, _("Reading records failed"));
        }
      last = b->last;
      g_async_queue_push (p.empty, b);
    }
  g_thread_join (thread);
  if (reader != NULL)
    morango_db_acquire (reader);

  for (guint i = 0; i < funcs->n_batches; i++)
    {
      for (guint k = 0; k < funcs->batch_size; k++)
        funcs->item_free (batches[i].items[k]);
      g_free (batches[i].items);
      g_clear_error (&batches[i].error);
    }
  g_async_queue_unref (p.full);
  g_async_queue_unref (p.empty);
  return ok;
}
