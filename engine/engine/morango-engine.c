/* morango-engine.c: the one object the programs hold
 *
 * Threads: the caller's main context (callbacks, progress, signals);
 * the engine's worker, whose context runs the HTTP server; and one
 * thread per sync or pairing, each opening its own connection to the
 * folder, so that a long stage holds nobody else up.
 *
 * SPDX-License-Identifier: MIT
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <string.h>

#include "morango-certificate.h"
#include "morango-cleanup.h"
#include "morango-engine.h"
#include "morango-engine-private.h"
#include "morango-http-pair.h"
#include "morango-http-push.h"
#include "morango-http-peer-private.h"
#include "morango-http-server.h"
#include "morango-json.h"
#include "morango-monitor-private.h"
#include "morango-session.h"
#include "morango-store.h"
#include "morango-tls.h"
#include "morango-transfer.h"
#include "morango-i18n-private.h"

struct _MorangoEngine
{
  GObject            parent_instance;

  char              *data_dir;
  char              *description;
  char              *instance_id;
  MorangoHostInfo   *host;
  GMainContext      *owner;        /* where callbacks and signals go */

  GThread           *thread;
  GMainContext      *context;      /* the worker's */
  GMainLoop         *loop;

  /* Touched on the worker only, except the copies under @lock. */
  MorangoHttpServer *server;
  guint              cleanup_source;
  GMutex             lock;
  guint              port;
  GStrv              urls;
  char              *tls_fingerprint;

  gboolean           background;   /* syncs and pairings run at a lower priority */
};

G_DEFINE_FINAL_TYPE (MorangoEngine, morango_engine, G_TYPE_OBJECT)

enum { SIGNAL_PEERS_CHANGED, SIGNAL_DATA_CHANGED, SIGNAL_CERTIFICATES_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

static gpointer
worker_main (gpointer data)
{
  MorangoEngine *self = data;
  /* Its own references: the engine may be finalized on this very
   * thread (a task made here held the last reference), and then must
   * not be touched once the loop returns. */
  GMainContext *context = g_main_context_ref (self->context);
  GMainLoop *loop = g_main_loop_ref (self->loop);

  g_main_context_push_thread_default (context);
  g_main_loop_run (loop);
  g_main_context_pop_thread_default (context);
  g_main_loop_unref (loop);
  g_main_context_unref (context);
  return NULL;
}

/* Runs @func on the worker and waits for it. */
typedef struct {
  GSourceFunc func;
  gpointer    data;
  GMutex      lock;
  GCond       cond;
  gboolean    done;
} WorkerCall;

static gboolean
worker_call_run (gpointer data)
{
  WorkerCall *call = data;

  call->func (call->data);
  g_mutex_lock (&call->lock);
  call->done = TRUE;
  g_cond_signal (&call->cond);
  g_mutex_unlock (&call->lock);
  return G_SOURCE_REMOVE;
}

static void
run_on_worker_and_wait (MorangoEngine *self,
                        GSourceFunc    func,
                        gpointer       data)
{
  WorkerCall call = { func, data, { 0 }, { 0 }, FALSE };

  g_mutex_init (&call.lock);
  g_cond_init (&call.cond);
  g_main_context_invoke (self->context, worker_call_run, &call);
  g_mutex_lock (&call.lock);
  while (!call.done)
    g_cond_wait (&call.cond, &call.lock);
  g_mutex_unlock (&call.lock);
  g_mutex_clear (&call.lock);
  g_cond_clear (&call.cond);
}

static gboolean
stop_server_on_worker (gpointer data)
{
  MorangoEngine *self = data;

  if (self->cleanup_source != 0)
    {
      GSource *source = g_main_context_find_source_by_id (self->context, self->cleanup_source);

      if (source != NULL)
        g_source_destroy (source);
      self->cleanup_source = 0;
    }
  if (self->server != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->server, self);
      morango_http_server_disconnect (self->server);
      g_clear_object (&self->server);
    }
  g_mutex_lock (&self->lock);
  self->port = 0;
  g_clear_pointer (&self->urls, g_strfreev);
  g_clear_pointer (&self->tls_fingerprint, g_free);
  g_mutex_unlock (&self->lock);
  return G_SOURCE_REMOVE;
}

static void
morango_engine_finalize (GObject *object)
{
  MorangoEngine *self = (MorangoEngine *)object;

  if (g_thread_self () == self->thread)
    {
      /* The last reference went on the worker (a task made there): it
       * cannot join itself.  It leaves its loop once this returns. */
      stop_server_on_worker (self);
      g_main_loop_quit (self->loop);
      g_thread_unref (self->thread);
    }
  else
    {
      run_on_worker_and_wait (self, stop_server_on_worker, self);
      g_main_loop_quit (self->loop);
      g_thread_join (self->thread);
    }
  g_main_loop_unref (self->loop);
  g_main_context_unref (self->context);
  g_main_context_unref (self->owner);
  g_mutex_clear (&self->lock);
  g_free (self->data_dir);
  g_free (self->description);
  g_free (self->instance_id);
  g_clear_pointer (&self->host, morango_host_info_free);

  G_OBJECT_CLASS (morango_engine_parent_class)->finalize (object);
}

static void
morango_engine_class_init (MorangoEngineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = morango_engine_finalize;

  signals[SIGNAL_PEERS_CHANGED] =
    g_signal_new ("peers-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_DATA_CHANGED] =
    g_signal_new ("data-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_CERTIFICATES_CHANGED] =
    g_signal_new ("certificates-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
morango_engine_init (MorangoEngine *self)
{
  g_mutex_init (&self->lock);
}

MorangoStore *
morango_engine_open_store (MorangoEngine  *self,
                           GError        **error)
{
  g_autoptr(MorangoRandom) random = morango_random_new_secure ();

  return morango_store_open_folder (self->data_dir, self->description, self->host, random, error);
}

MorangoEngine *
morango_engine_new (const char  *data_dir,
                    const char  *description,
                    GError     **error)
{
  g_autoptr(MorangoEngine) self = NULL;
  g_autoptr(MorangoStore) store = NULL;

  g_return_val_if_fail (data_dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (MORANGO_TYPE_ENGINE, NULL);
  self->data_dir = g_strdup (data_dir);
  self->description = g_strdup (description);
  self->host = morango_host_info_new_from_system ();
  self->owner = g_main_context_ref_thread_default ();
  self->context = g_main_context_new ();
  self->loop = g_main_loop_new (self->context, FALSE);
  self->thread = g_thread_new ("morango-engine", worker_main, self);

  store = morango_engine_open_store (self, error);
  if (store == NULL)
    return NULL;
  self->instance_id = g_strdup (morango_store_get_instance_id (store));
  /* Later openings find the folder's own description. */
  g_clear_pointer (&self->description, g_free);
  return g_steal_pointer (&self);
}

const char *
morango_engine_get_data_dir (MorangoEngine *self)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE (self), NULL);
  return self->data_dir;
}

const char *
morango_engine_get_instance_id (MorangoEngine *self)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE (self), NULL);
  return self->instance_id;
}

/* Runs @func on the owner's context, always later.  Not
 * g_main_context_invoke_full(): when the owner is the global default
 * context and nobody holds it at that moment, a thread with no context
 * of its own takes it and runs @func right there, on that thread. */
void
morango_engine_run_on_owner (MorangoEngine  *self,
                             GSourceFunc     func,
                             gpointer        data,
                             GDestroyNotify  destroy)
{
  g_autoptr(GSource) source = g_idle_source_new ();

  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, func, data, destroy);
  g_source_set_static_name (source, "[morango] engine callback");
  g_source_attach (source, self->owner);
}

typedef struct {
  MorangoEngine *engine;
  guint          signal;
} EmitCall;

static void
emit_call_free (gpointer data)
{
  EmitCall *call = data;

  g_object_unref (call->engine);
  g_free (call);
}

static gboolean
emit_signal (gpointer data)
{
  EmitCall *call = data;

  g_signal_emit (call->engine, signals[call->signal], 0);
  return G_SOURCE_REMOVE;
}

static void
emit_later (MorangoEngine *self,
            guint          signal)
{
  EmitCall *call = g_new0 (EmitCall, 1);

  call->engine = g_object_ref (self);
  call->signal = signal;
  morango_engine_run_on_owner (self, emit_signal, call, emit_call_free);
}

void
morango_engine_peers_changed (MorangoEngine *self)
{
  emit_later (self, SIGNAL_PEERS_CHANGED);
}

void
morango_engine_data_changed (MorangoEngine *self)
{
  emit_later (self, SIGNAL_DATA_CHANGED);
}

void
morango_engine_certificates_changed (MorangoEngine *self)
{
  emit_later (self, SIGNAL_CERTIFICATES_CHANGED);
}

/* A pairing or a sync waits on its peer for as long as the peer takes.
 * In GTask's shared pool a handful of them would hold every thread,
 * while the pool's other users (the HTTP server of this very process,
 * GIO's resolver) queue behind them until the pool grows, which it does
 * slowly: so each gets a thread of its own. */
typedef struct {
  GTask           *task;
  GTaskThreadFunc  func;
} OwnThread;

/* How much lower than the process a sync or pairing thread runs. */
#define MORANGO_ENGINE_THREAD_NICE 10

static gpointer
own_thread_main (gpointer data)
{
  OwnThread *run = data;

  MorangoEngine *engine = g_task_get_source_object (run->task);

  /* (On Linux a thread has a nice value of its own.) */
  if (engine->background)
    (void) setpriority (PRIO_PROCESS, (id_t) syscall (SYS_gettid), MORANGO_ENGINE_THREAD_NICE);

  run->func (run->task, g_task_get_source_object (run->task), g_task_get_task_data (run->task),
             g_task_get_cancellable (run->task));
  g_object_unref (run->task);
  g_free (run);
  return NULL;
}

void
morango_engine_run_in_own_thread (GTask           *task,
                                  const char      *name,
                                  GTaskThreadFunc  func)
{
  OwnThread *run = g_new0 (OwnThread, 1);

  run->task = g_object_ref (task);
  run->func = func;
  g_thread_unref (g_thread_new (name, own_thread_main, run));
}

void
morango_engine_set_background (MorangoEngine *self,
                               gboolean       background)
{
  g_return_if_fail (MORANGO_IS_ENGINE (self));
  self->background = background;
}

/* ---- cleanup (§9.10) ---- */

/* Finished and abandoned sessions go with their buffers, so that failed
 * syncs never bloat the folder: after every sync, and every hour while
 * serving (clients that vanish leave sessions behind). */
#define CLEANUP_INTERVAL_SECONDS 3600

static void
clean_up (MorangoStore *store)
{
  g_autoptr(GError) error = NULL;
  MorangoCleanupCounts counts = { 0 };

  if (!morango_cleanup_sessions (morango_store_get_db (store), g_get_real_time (),
                                 MORANGO_CLEANUP_DEFAULT_EXPIRATION, NULL, &counts, &error))
    g_warning ("Cleaning up old sync sessions failed: %s", error->message);
}

static void
cleanup_thread (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = morango_engine_open_store (source_object, &error);

  if (store != NULL)
    clean_up (store);
  else
    g_warning ("Cleaning up old sync sessions failed: %s", error->message);
  g_task_return_boolean (task, TRUE);
}

static gboolean
cleanup_due (gpointer data)
{
  g_autoptr(GTask) task = g_task_new (data, NULL, NULL, NULL);

  g_task_run_in_thread (task, cleanup_thread);
  return G_SOURCE_CONTINUE;
}

/* ---- serving ---- */

static void
record_client_thread (GTask        *task,
                      gpointer      source_object,
                      gpointer      task_data,
                      GCancellable *cancellable)
{
  MorangoEngine *self = source_object;
  const char *instance_id = task_data;
  g_autoptr(MorangoStore) store = NULL;
  g_autoptr(MorangoKnownPeer) peer = NULL;
  g_autoptr(GError) error = NULL;

  store = morango_engine_open_store (self, &error);
  if (store != NULL)
    peer = morango_known_peer_record_client (store, instance_id, NULL, NULL, g_get_real_time (), &error);
  if (peer == NULL)
    g_warning ("A client of the server could not be remembered: %s", error->message);
  else
    morango_engine_peers_changed (self);
  morango_engine_data_changed (self);
  g_task_return_boolean (task, TRUE);
}

/* On the worker: a client closed its sync session. */
static void
on_sync_session_closed (MorangoHttpServer *server,
                        const char        *client_instance_id,
                        const char        *sync_session_id,
                        gpointer           user_data)
{
  MorangoEngine *self = user_data;
  g_autoptr(GTask) task = NULL;

  if (client_instance_id == NULL || *client_instance_id == '\0')
    return;
  task = g_task_new (self, NULL, NULL, NULL);
  g_task_set_task_data (task, g_strdup (client_instance_id), g_free);
  g_task_run_in_thread (task, record_client_thread);
}

typedef struct {
  MorangoEngine *self;
  GTask         *task;
  char          *address;
  guint          port;
  gsize          body_limit;
  gboolean       allow_certificate_push;
  gboolean       accept_new_roots;
  gboolean       tls;
} ServeCall;

/* The addresses others type: every non-loopback address of this
 * machine when serving on all of them, loopback last. */
static GStrv
urls_for (const char *scheme,
          const char *address,
          guint       port)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  if (address != NULL && !g_str_equal (address, "0.0.0.0") && !g_str_equal (address, "::"))
    {
      g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (address);
      g_autofree char *host = NULL;

      if (inet != NULL && g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV6)
        host = g_strdup_printf ("[%s]", address);
      else
        host = g_strdup (address);
      {
        g_autofree char *url = g_strdup_printf ("%s://%s:%u/", scheme, host, port);

        g_strv_builder_add (builder, url);
      }
      return g_strv_builder_end (builder);
    }
  {
    /* The machine's own IPv4 addresses, from its interfaces. */
    struct ifaddrs *list = NULL;

    if (getifaddrs (&list) == 0)
      for (struct ifaddrs *i = list; i != NULL; i = i->ifa_next)
        {
          char text[INET_ADDRSTRLEN];

          if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK) ||
              !(i->ifa_flags & IFF_UP) ||
              inet_ntop (AF_INET, &((struct sockaddr_in *) i->ifa_addr)->sin_addr, text, sizeof text) == NULL)
            continue;
          {
            g_autofree char *url = g_strdup_printf ("%s://%s:%u/", scheme, text, port);

            g_strv_builder_add (builder, url);
          }
        }
    if (list != NULL)
      freeifaddrs (list);
  }
  {
        g_autofree char *url = g_strdup_printf ("%s://127.0.0.1:%u/", scheme, port);

        g_strv_builder_add (builder, url);
      }
  return g_strv_builder_end (builder);
}

static gboolean
serve_on_worker (gpointer data)
{
  ServeCall *call = data;
  MorangoEngine *self = call->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoHttpServer) server = NULL;
  g_autofree char *fingerprint = NULL;

  if (self->server != NULL)
    {
      g_task_return_new_error (call->task, G_IO_ERROR, G_IO_ERROR_EXISTS,
                               _("This data folder is already served on port %u"), self->port);
      goto out;
    }
  server = morango_http_server_new (self->data_dir, NULL, self->host, &error);
  if (server == NULL)
    {
      g_task_return_error (call->task, g_steal_pointer (&error));
      goto out;
    }
  if (call->body_limit > 0)
    morango_http_server_set_body_limit (server, call->body_limit);
  if (call->allow_certificate_push)
    morango_http_server_set_capabilities (server, morango_http_server_get_capabilities (server) |
                                                  MORANGO_WIRE_CAP_ALLOW_CERTIFICATE_PUSHING);
  morango_http_server_set_accept_new_roots (server, call->accept_new_roots);
  if (call->tls)
    {
      g_autoptr(GTlsCertificate) certificate = morango_tls_certificate_ensure (self->data_dir, NULL, &error);

      if (certificate == NULL)
        {
          g_task_return_error (call->task, g_steal_pointer (&error));
          goto out;
        }
      morango_http_server_set_tls_certificate (server, certificate);
      fingerprint = morango_tls_certificate_get_fingerprint (certificate);
    }
  if (!morango_http_server_listen (server, call->address, call->port, &error))
    {
      g_task_return_error (call->task, g_steal_pointer (&error));
      goto out;
    }
  g_signal_connect (server, "sync-session-closed", G_CALLBACK (on_sync_session_closed), self);
  self->server = g_steal_pointer (&server);
  cleanup_due (self);
  {
    /* On the worker's context, which this runs on. */
    g_autoptr(GSource) source = g_timeout_source_new_seconds (CLEANUP_INTERVAL_SECONDS);

    g_source_set_callback (source, cleanup_due, self, NULL);
    self->cleanup_source = g_source_attach (source, self->context);
  }
  g_mutex_lock (&self->lock);
  self->port = morango_http_server_get_port (self->server);
  self->urls = urls_for (call->tls ? "https" : "http", call->address, self->port);
  self->tls_fingerprint = g_steal_pointer (&fingerprint);
  g_mutex_unlock (&self->lock);
  g_task_return_boolean (call->task, TRUE);

out:
  g_object_unref (call->task);
  g_free (call->address);
  g_free (call);
  return G_SOURCE_REMOVE;
}

void
morango_engine_serve_async (MorangoEngine                   *self,
                            const MorangoEngineServeOptions *options,
                            GCancellable                    *cancellable,
                            GAsyncReadyCallback              callback,
                            gpointer                         user_data)
{
  ServeCall *call;

  g_return_if_fail (MORANGO_IS_ENGINE (self));
  g_return_if_fail (options != NULL);

  call = g_new0 (ServeCall, 1);
  call->self = self;
  call->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (call->task, morango_engine_serve_async);
  call->address = g_strdup (options->address);
  call->port = options->port;
  call->body_limit = options->body_limit;
  call->allow_certificate_push = options->allow_certificate_push;
  call->accept_new_roots = options->accept_new_roots;
  call->tls = options->tls;
  g_main_context_invoke (self->context, serve_on_worker, call);
}

gboolean
morango_engine_serve_finish (MorangoEngine  *self,
                             GAsyncResult   *result,
                             GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

guint
morango_engine_get_port (MorangoEngine *self)
{
  guint port;

  g_return_val_if_fail (MORANGO_IS_ENGINE (self), 0);
  g_mutex_lock (&self->lock);
  port = self->port;
  g_mutex_unlock (&self->lock);
  return port;
}

GStrv
morango_engine_get_urls (MorangoEngine *self)
{
  GStrv urls;

  g_return_val_if_fail (MORANGO_IS_ENGINE (self), NULL);
  g_mutex_lock (&self->lock);
  urls = g_strdupv (self->urls);
  g_mutex_unlock (&self->lock);
  return urls;
}

char *
morango_engine_dup_tls_fingerprint (MorangoEngine *self)
{
  char *fingerprint;

  g_return_val_if_fail (MORANGO_IS_ENGINE (self), NULL);
  g_mutex_lock (&self->lock);
  fingerprint = g_strdup (self->tls_fingerprint);
  g_mutex_unlock (&self->lock);
  return fingerprint;
}

void
morango_engine_stop_serving (MorangoEngine *self)
{
  g_return_if_fail (MORANGO_IS_ENGINE (self));
  run_on_worker_and_wait (self, stop_server_on_worker, self);
}

/* ---- confirmations ---- */

/* What the waiting operation and the question share: the question may
 * outlive the wait (a dialog still open after a cancel) or the other
 * way round. */
typedef struct {
  GMutex   lock;
  GCond    cond;
  gboolean answered;
  gboolean accepted;
} ConfirmWait;

static void
confirm_wait_clear (gpointer data)
{
  ConfirmWait *wait = data;

  g_mutex_clear (&wait->lock);
  g_cond_clear (&wait->cond);
}

static ConfirmWait *
confirm_wait_new (void)
{
  ConfirmWait *wait = g_atomic_rc_box_new0 (ConfirmWait);

  g_mutex_init (&wait->lock);
  g_cond_init (&wait->cond);
  return wait;
}

static void
confirm_wait_unref (ConfirmWait *wait)
{
  g_atomic_rc_box_release_full (wait, confirm_wait_clear);
}

static void
confirm_wait_answer (ConfirmWait *wait,
                     gboolean     accept)
{
  g_mutex_lock (&wait->lock);
  if (!wait->answered)
    {
      wait->answered = TRUE;
      wait->accepted = accept;
      g_cond_broadcast (&wait->cond);
    }
  g_mutex_unlock (&wait->lock);
}

struct _MorangoEngineConfirmation
{
  GObject                   parent_instance;

  MorangoEngineConfirmKind  kind;
  char                     *url;
  char                     *fingerprint;
  char                     *root_id;
  char                     *profile;
  char                     *scope_definition;
  char                     *scope_params;
  ConfirmWait              *wait;
  MorangoEngineConfirmFunc  func;
  gpointer                  func_data;
};

G_DEFINE_FINAL_TYPE (MorangoEngineConfirmation, morango_engine_confirmation, G_TYPE_OBJECT)

static void
morango_engine_confirmation_finalize (GObject *object)
{
  MorangoEngineConfirmation *self = (MorangoEngineConfirmation *)object;

  /* Nobody answered: no. */
  confirm_wait_answer (self->wait, FALSE);
  confirm_wait_unref (self->wait);
  g_free (self->url);
  g_free (self->fingerprint);
  g_free (self->root_id);
  g_free (self->profile);
  g_free (self->scope_definition);
  g_free (self->scope_params);

  G_OBJECT_CLASS (morango_engine_confirmation_parent_class)->finalize (object);
}

static void
morango_engine_confirmation_class_init (MorangoEngineConfirmationClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = morango_engine_confirmation_finalize;
}

static void
morango_engine_confirmation_init (MorangoEngineConfirmation *self)
{
}

MorangoEngineConfirmKind
morango_engine_confirmation_get_kind (MorangoEngineConfirmation *self)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE_CONFIRMATION (self), 0);
  return self->kind;
}

const char *
morango_engine_confirmation_get_url (MorangoEngineConfirmation *self)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE_CONFIRMATION (self), NULL);
  return self->url;
}

const char *
morango_engine_confirmation_get_fingerprint (MorangoEngineConfirmation *self)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE_CONFIRMATION (self), NULL);
  return self->fingerprint;
}

const char *
morango_engine_confirmation_get_root_id (MorangoEngineConfirmation *self)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE_CONFIRMATION (self), NULL);
  return self->root_id;
}

const char *
morango_engine_confirmation_get_profile (MorangoEngineConfirmation *self)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE_CONFIRMATION (self), NULL);
  return self->profile;
}

const char *
morango_engine_confirmation_get_scope_definition (MorangoEngineConfirmation *self)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE_CONFIRMATION (self), NULL);
  return self->scope_definition;
}

const char *
morango_engine_confirmation_get_scope_params (MorangoEngineConfirmation *self)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE_CONFIRMATION (self), NULL);
  return self->scope_params;
}

void
morango_engine_confirmation_reply (MorangoEngineConfirmation *self,
                                   gboolean                   accept)
{
  g_return_if_fail (MORANGO_IS_ENGINE_CONFIRMATION (self));
  confirm_wait_answer (self->wait, accept);
}

static MorangoEngineConfirmation *
confirmation_new (MorangoEngineConfirmKind  kind,
                  const char               *url,
                  const char               *fingerprint)
{
  MorangoEngineConfirmation *self = g_object_new (MORANGO_TYPE_ENGINE_CONFIRMATION, NULL);

  self->kind = kind;
  self->url = g_strdup (url);
  self->fingerprint = g_strdup (fingerprint);
  self->wait = confirm_wait_new ();
  return self;
}

/* On the owner's context. */
static gboolean
deliver_confirmation (gpointer data)
{
  MorangoEngineConfirmation *confirmation = data;

  confirmation->func (confirmation, confirmation->func_data);
  return G_SOURCE_REMOVE;
}

static void
on_confirm_cancelled (GCancellable *cancellable,
                      gpointer      data)
{
  confirm_wait_answer (data, FALSE);
}

/* On an operation's thread: hands @confirmation (taken) to @func on the
 * owner's context and waits for the answer, or for @cancellable.  The
 * thread keeps only the shared wait, so that dropping the question
 * answers it. */
static gboolean
ask_owner (MorangoEngine             *self,
           MorangoEngineConfirmation *confirmation,
           MorangoEngineConfirmFunc   func,
           gpointer                   func_data,
           GCancellable              *cancellable)
{
  ConfirmWait *wait = g_atomic_rc_box_acquire (confirmation->wait);
  gulong handler = 0;
  gboolean accepted;

  confirmation->func = func;
  confirmation->func_data = func_data;
  if (cancellable != NULL)
    handler = g_cancellable_connect (cancellable, G_CALLBACK (on_confirm_cancelled), wait, NULL);
  g_main_context_invoke_full (self->owner, G_PRIORITY_DEFAULT, deliver_confirmation, confirmation,
                              g_object_unref);
  g_mutex_lock (&wait->lock);
  while (!wait->answered)
    g_cond_wait (&wait->cond, &wait->lock);
  accepted = wait->accepted;
  g_mutex_unlock (&wait->lock);
  if (handler != 0)
    g_cancellable_disconnect (cancellable, handler);
  confirm_wait_unref (wait);
  return accepted;
}

/* The HTTPS side of a pairing or a sync. */
typedef struct {
  MorangoEngine            *self;
  char                     *url;
  MorangoEngineConfirmFunc  func;
  gpointer                  func_data;
  GCancellable             *cancellable;
} TlsAsk;

static void
tls_ask_free (gpointer data)
{
  TlsAsk *ask = data;

  g_free (ask->url);
  g_clear_object (&ask->cancellable);
  g_free (ask);
}

static gboolean
ask_tls_certificate (MorangoHttpPeer *peer,
                     const char      *fingerprint,
                     gpointer         user_data)
{
  TlsAsk *ask = user_data;

  return ask_owner (ask->self,
                    confirmation_new (MORANGO_ENGINE_CONFIRM_TLS_CERTIFICATE, ask->url, fingerprint),
                    ask->func, ask->func_data, ask->cancellable);
}

/* Sets @peer up to take the TLS certificate of @expected (as a person
 * typed it), else of @pinned, else one @func confirms.  Plain HTTP
 * needs none of it, and an expected fingerprint makes no sense there. */
static gboolean
set_up_tls (MorangoEngine             *self,
            MorangoHttpPeer           *peer,
            const char                *expected,
            const char                *pinned,
            MorangoEngineConfirmFunc   func,
            gpointer                   func_data,
            GCancellable              *cancellable,
            GError                   **error)
{
  const char *url = morango_http_peer_get_base_url (peer);
  g_autofree char *canonical = NULL;

  if (g_ascii_strncasecmp (url, "https:", 6) != 0)
    {
      if (expected == NULL)
        return TRUE;
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("%s is spoken to over plain HTTP, which has no certificate fingerprint to check"), url);
      return FALSE;
    }
  if (expected != NULL && (canonical = morango_tls_fingerprint_normalize (expected, error)) == NULL)
    return FALSE;
  morango_http_peer_set_pin (peer, canonical ? canonical : pinned);
  if (canonical == NULL && pinned == NULL && func != NULL)
    {
      TlsAsk *ask = g_new0 (TlsAsk, 1);

      ask->self = self;
      ask->url = g_strdup (url);
      ask->func = func;
      ask->func_data = func_data;
      ask->cancellable = cancellable ? g_object_ref (cancellable) : NULL;
      morango_http_peer_set_confirm_func (peer, ask_tls_certificate, ask, tls_ask_free);
    }
  return TRUE;
}

/* After a request went through: the certificate taken becomes the
 * peer's pin (one confirmed or expected replaces an older one). */
static gboolean
keep_pin (MorangoStore      *store,
          MorangoKnownPeer  *known,
          MorangoHttpPeer   *peer,
          GError           **error)
{
  g_autofree char *fingerprint = morango_http_peer_dup_fingerprint (peer);

  if (fingerprint == NULL || g_strcmp0 (fingerprint, known->tls_fingerprint) == 0)
    return TRUE;
  return morango_known_peer_set_tls_fingerprint (store, known->id, fingerprint, error);
}

/* A pairing that went through: @url becomes a known peer, paired, with
 * the certificate this device presents (@client_id) and the one it
 * expects of the peer (@server_id), the peer's TLS pin and its instance
 * id when it gave one. */
static gboolean
record_paired (MorangoStore     *store,
               const char       *url,
               MorangoHttpPeer  *peer,
               const char       *client_id,
               const char       *server_id,
               GError          **error)
{
  g_autoptr(MorangoKnownPeer) known = morango_known_peer_add (store, url, g_get_real_time (), error);
  const char *instance_id = morango_http_peer_get_server_instance_id (peer);

  return known != NULL &&
         morango_known_peer_set_certificates (store, known->id, client_id, server_id, error) &&
         morango_known_peer_set_state (store, known->id, MORANGO_PEER_STATE_PAIRED, error) &&
         keep_pin (store, known, peer, error) &&
         (instance_id == NULL || morango_known_peer_set_instance_id (store, known->id, instance_id, error));
}

/* A question the cancel ended is recorded as the cancel (the history
 * tells a cancelled sync from a failed one). */
static void
cancel_wins (GError       **error,
             GCancellable  *cancellable)
{
  if (*error != NULL && g_cancellable_is_cancelled (cancellable) &&
      g_error_matches (*error, MORANGO_ERROR, MORANGO_ERROR_NOT_CONFIRMED))
    {
      g_clear_error (error);
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, _("Cancelled while asking the user"));
    }
}

/* ---- pairing ---- */

typedef struct {
  char       *url;
  char       *scope_definition;
  JsonObject *params;
  char       *parent_id;
  char       *username;
  char       *password;
  gboolean    push;
  char       *expect_fingerprint;
  MorangoEngineConfirmFunc confirm;
  gpointer    confirm_data;
} PairCall;

static void
pair_call_free (PairCall *call)
{
  g_free (call->url);
  g_free (call->scope_definition);
  g_clear_pointer (&call->params, json_object_unref);
  g_free (call->parent_id);
  g_free (call->username);
  if (call->password)
    memset (call->password, 0, strlen (call->password));
  g_free (call->password);
  g_free (call->expect_fingerprint);
  g_free (call);
}

/* The params the definition's templates name: "${key}". */
static gboolean
template_uses (const MorangoScopeDefinition *def,
               const char                   *key)
{
  g_autofree char *needle = g_strdup_printf ("${%s}", key);
  const char *templates[] = { def->read_filter_template, def->write_filter_template,
                              def->read_write_filter_template };

  for (guint i = 0; i < G_N_ELEMENTS (templates); i++)
    if (templates[i] != NULL && strstr (templates[i], needle) != NULL)
      return TRUE;
  return FALSE;
}

/* The params a certificate for @def under @parent gets: those given,
 * and the parent's that @def's templates use and that were not given. */
static JsonObject *
params_under (const MorangoScopeDefinition *def,
              JsonObject                   *given,
              MorangoCertificate           *parent)
{
  g_autoptr(JsonObject) inherited = morango_json_parse_object (morango_certificate_get_scope_params (parent),
                                                               "scope_params", NULL);
  JsonObject *params = json_object_new ();

  if (given != NULL)
    {
      g_autoptr(GList) members = json_object_get_members (given);

      for (GList *l = members; l != NULL; l = l->next)
        json_object_set_member (params, l->data, json_node_copy (json_object_get_member (given, l->data)));
    }
  if (inherited != NULL)
    {
      g_autoptr(GList) members = json_object_get_members (inherited);

      for (GList *l = members; l != NULL; l = l->next)
        if (!json_object_has_member (params, l->data) && template_uses (def, l->data))
          json_object_set_member (params, l->data,
                                  json_node_copy (json_object_get_member (inherited, l->data)));
    }
  return params;
}

/* Whether a certificate for @def with @params may be issued under
 * @parent: its scope inside the parent's. */
static gboolean
can_issue (MorangoDb                    *db,
           MorangoCertificate           *parent,
           const MorangoScopeDefinition *def,
           JsonObject                   *params)
{
  g_autoptr(MorangoScope) parent_scope = NULL;
  g_autoptr(MorangoScope) scope = NULL;
  g_autofree char *params_text = NULL;

  if (g_strcmp0 (morango_certificate_get_profile (parent), def->profile) != 0)
    return FALSE;
  parent_scope = morango_certificate_get_scope (parent, db, NULL);
  if (parent_scope == NULL)
    return FALSE;
  params_text = morango_json_dumps_object (params);
  scope = morango_scope_new (def, params_text, NULL);
  return scope != NULL && morango_scope_is_subset_of (scope, parent_scope);
}

typedef struct {
  MorangoEngine *self;
  PairCall      *call;
  GCancellable  *cancellable;
} RootAsk;

static gboolean
ask_root (MorangoCertificate *root,
          gpointer            user_data)
{
  RootAsk *ask = user_data;
  g_autofree char *fingerprint = morango_key_get_fingerprint (morango_certificate_get_key (root));
  MorangoEngineConfirmation *confirmation =
    confirmation_new (MORANGO_ENGINE_CONFIRM_TRUST_ROOT, ask->call->url, fingerprint);

  confirmation->root_id = g_strdup (morango_certificate_get_id (root));
  confirmation->profile = g_strdup (morango_certificate_get_profile (root));
  confirmation->scope_definition = g_strdup (morango_certificate_get_scope_definition_id (root));
  confirmation->scope_params = g_strdup (morango_certificate_get_scope_params (root));
  return ask_owner (ask->self, confirmation, ask->call->confirm, ask->call->confirm_data, ask->cancellable);
}

static void
pair_thread (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  MorangoEngine *self = source_object;
  PairCall *call = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = NULL;
  g_autoptr(MorangoHttpPeer) peer = NULL;
  g_autoptr(MorangoScopeDefinition) def = NULL;
  g_autoptr(JsonNode) listing = NULL;
  g_autoptr(GPtrArray) candidates = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(JsonObject) params = NULL;
  g_autoptr(MorangoCertificate) issued = NULL;
  g_autofree char *params_text = NULL;
  MorangoCertificate *parent = NULL;
  MorangoDb *db;

  if ((store = morango_engine_open_store (self, &error)) == NULL)
    goto failed;
  db = morango_store_get_db (store);
  if ((def = morango_scope_definition_load (db, call->scope_definition, &error)) == NULL)
    goto failed;
  if ((peer = morango_http_peer_new (call->url, store, NULL, NULL, &error)) == NULL)
    goto failed;
  {
    g_autoptr(MorangoKnownPeer) before = morango_known_peer_lookup_address (store, call->url, NULL);

    if (!set_up_tls (self, peer, call->expect_fingerprint, before ? before->tls_fingerprint : NULL,
                     call->confirm, call->confirm_data, cancellable, &error))
      goto failed;
  }
  if (!morango_http_peer_connect (peer, cancellable, &error))
    goto failed;

  /* The peer's own certificates: those it can sign with. */
  listing = morango_http_peer_call_json (peer, "GET", "certificates/", NULL, NULL, cancellable, &error);
  if (listing == NULL)
    goto failed;
  if (!JSON_NODE_HOLDS_ARRAY (listing))
    {
      g_set_error (&error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("%s did not list its certificates as an array"), call->url);
      goto failed;
    }
  for (guint i = 0; i < json_array_get_length (json_node_get_array (listing)); i++)
    {
      JsonNode *item = json_array_get_element (json_node_get_array (listing), i);
      g_autoptr(MorangoCertificate) cert = NULL;
      g_autoptr(JsonObject) wanted = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (item) ||
          (cert = morango_certificate_new_from_json (json_node_get_object (item), NULL)) == NULL)
        continue;
      if (call->parent_id != NULL && g_strcmp0 (morango_certificate_get_id (cert), call->parent_id) != 0)
        continue;
      wanted = params_under (def, call->params, cert);
      if (call->parent_id != NULL || can_issue (db, cert, def, wanted))
        g_ptr_array_add (candidates, g_steal_pointer (&cert));
    }
  if (candidates->len == 0)
    {
      if (call->parent_id != NULL)
        g_set_error (&error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND,
                     _("%s holds no certificate %s that it can sign with"), call->url, call->parent_id);
      else
        g_set_error (&error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND,
                     _("%s holds no certificate that can issue “%s” with these parameters"),
                     call->url, call->scope_definition);
      goto failed;
    }
  if (candidates->len > 1)
    {
      GString *list = g_string_new (NULL);

      for (guint i = 0; i < candidates->len; i++)
        {
          MorangoCertificate *c = g_ptr_array_index (candidates, i);
          /* One line each, whatever the peer's texts hold. */
          g_autofree char *definition = g_strdelimit (g_strdup (morango_certificate_get_scope_definition_id (c)),
                                                      "\r\n", ' ');
          g_autofree char *their_params = g_strdelimit (g_strdup (morango_certificate_get_scope_params (c)),
                                                        "\r\n", ' ');

          g_string_append_printf (list, "\n  %s  %s  %s", morango_certificate_get_id (c), definition,
                                  their_params);
        }
      g_set_error (&error, MORANGO_ERROR, MORANGO_ERROR_AMBIGUOUS,
                   /* Translators: the peer's address, a count, a scope definition id, then a list of certificates */
                   morango_ngettext ("%s holds %u certificate that can issue “%s”; name one as the parent:%s",
                                     "%s holds %u certificates that can issue “%s”; name one as the parent:%s",
                                     candidates->len),
                   call->url, candidates->len, call->scope_definition, list->str);
      g_string_free (list, TRUE);
      goto failed;
    }
  parent = g_ptr_array_index (candidates, 0);
  params = params_under (def, call->params, parent);
  params_text = morango_json_dumps_object (params);
  {
    RootAsk ask = { self, call, cancellable };

    issued = morango_http_pair_full (peer, morango_certificate_get_id (parent), morango_certificate_get_id (parent),
                                     call->scope_definition, params_text,
                                     call->username ? call->username : "admin", call->password,
                                     call->confirm ? ask_root : NULL, &ask, cancellable, &error);
  }
  if (issued == NULL)
    goto failed;

  if (!record_paired (store, call->url, peer, morango_certificate_get_id (issued),
                      morango_certificate_get_id (parent), &error))
    goto failed;
  morango_engine_peers_changed (self);
  morango_engine_certificates_changed (self);
  g_task_return_pointer (task, g_strdup (morango_certificate_get_id (issued)), g_free);
  return;

failed:
  g_task_return_error (task, g_steal_pointer (&error));
}

/* The certificates of this device, held with their private key, that
 * can issue @def with the params the caller gave (and the parent's
 * others): @parent_id alone when given. */
static GPtrArray *
own_issuers (MorangoDb                    *db,
             const MorangoScopeDefinition *def,
             JsonObject                   *given,
             const char                   *parent_id,
             GError                      **error)
{
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func (g_object_unref);

  if (parent_id != NULL)
    {
      g_autoptr(MorangoCertificate) cert = morango_certificate_load (db, parent_id, error);

      if (cert == NULL)
        return NULL;
      if (!morango_certificate_has_private_key (cert))
        {
          g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED,
                       _("Certificate %s cannot issue certificates: its private key is not on this device"),
                       parent_id);
          return NULL;
        }
      g_ptr_array_add (found, g_steal_pointer (&cert));
      return g_steal_pointer (&found);
    }
  if ((all = morango_certificate_list (db, error)) == NULL)
    return NULL;
  for (guint i = 0; i < all->len; i++)
    {
      MorangoCertificate *cert = g_ptr_array_index (all, i);
      g_autoptr(JsonObject) wanted = NULL;

      if (!morango_certificate_has_private_key (cert))
        continue;
      wanted = params_under (def, given, cert);
      if (can_issue (db, cert, def, wanted))
        g_ptr_array_add (found, g_object_ref (cert));
    }
  return g_steal_pointer (&found);
}

static void
push_thread (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  MorangoEngine *self = source_object;
  PairCall *call = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = NULL;
  g_autoptr(MorangoHttpPeer) peer = NULL;
  g_autoptr(MorangoScopeDefinition) def = NULL;
  g_autoptr(GPtrArray) issuers = NULL;
  g_autoptr(JsonObject) params = NULL;
  g_autoptr(MorangoCertificate) pushed = NULL;
  g_autofree char *params_text = NULL;
  MorangoCertificate *parent;
  MorangoDb *db;

  if ((store = morango_engine_open_store (self, &error)) == NULL)
    goto failed;
  db = morango_store_get_db (store);
  if ((def = morango_scope_definition_load (db, call->scope_definition, &error)) == NULL ||
      (issuers = own_issuers (db, def, call->params, call->parent_id, &error)) == NULL)
    goto failed;
  if (issuers->len == 0)
    {
      g_set_error (&error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND,
                   _("This device holds no certificate with its private key that can issue “%s” "
                   "with these parameters"), call->scope_definition);
      goto failed;
    }
  if (issuers->len > 1)
    {
      GString *list = g_string_new (NULL);

      for (guint i = 0; i < issuers->len; i++)
        {
          MorangoCertificate *c = g_ptr_array_index (issuers, i);

          g_string_append_printf (list, "\n  %s  %s  %s", morango_certificate_get_id (c),
                                  morango_certificate_get_scope_definition_id (c),
                                  morango_certificate_get_scope_params (c));
        }
      g_set_error (&error, MORANGO_ERROR, MORANGO_ERROR_AMBIGUOUS,
                   /* Translators: a count, a scope definition id, then a list of certificates */
                   morango_ngettext ("This device holds %u certificate that can issue “%s”; name one as the parent:%s",
                                     "This device holds %u certificates that can issue “%s”; name one as the parent:%s",
                                     issuers->len),
                   issuers->len, call->scope_definition, list->str);
      g_string_free (list, TRUE);
      goto failed;
    }
  parent = g_ptr_array_index (issuers, 0);
  params = params_under (def, call->params, parent);
  params_text = morango_json_dumps_object (params);
  if ((peer = morango_http_peer_new (call->url, store, NULL, NULL, &error)) == NULL)
    goto failed;
  {
    /* A pushed certificate is as much a secret handed over as a
     * pairing's request: the same pin holds. */
    g_autoptr(MorangoKnownPeer) before = morango_known_peer_lookup_address (store, call->url, NULL);

    if (!set_up_tls (self, peer, call->expect_fingerprint, before ? before->tls_fingerprint : NULL,
                     call->confirm, call->confirm_data, cancellable, &error))
      goto failed;
  }
  if ((pushed = morango_http_push (peer, parent, call->scope_definition, params_text,
                                   cancellable, &error)) == NULL)
    goto failed;

  /* Correction 34: this device's certificate is the parent, the peer's
   * the one it was just given. */
  if (!record_paired (store, call->url, peer, morango_certificate_get_id (parent),
                      morango_certificate_get_id (pushed), &error))
    goto failed;
  morango_engine_peers_changed (self);
  morango_engine_certificates_changed (self);
  g_task_return_pointer (task, g_strdup (morango_certificate_get_id (pushed)), g_free);
  return;

failed:
  g_task_return_error (task, g_steal_pointer (&error));
}

void
morango_engine_pair_async (MorangoEngine                  *self,
                           const char                     *url,
                           const MorangoEnginePairOptions *options,
                           GCancellable                   *cancellable,
                           GAsyncReadyCallback             callback,
                           gpointer                        user_data)
{
  g_autoptr(GTask) task = NULL;
  PairCall *call;

  g_return_if_fail (MORANGO_IS_ENGINE (self));
  g_return_if_fail (url != NULL && options != NULL);
  g_return_if_fail (options->scope_definition != NULL);
  g_return_if_fail (options->push || options->password != NULL);

  call = g_new0 (PairCall, 1);
  call->url = g_strdup (url);
  call->scope_definition = g_strdup (options->scope_definition);
  call->params = options->params ? json_object_ref (options->params) : NULL;
  call->parent_id = g_strdup (options->parent_id);
  call->username = g_strdup (options->username);
  call->password = g_strdup (options->password);
  call->push = options->push;
  call->expect_fingerprint = g_strdup (options->expect_fingerprint);
  call->confirm = options->confirm;
  call->confirm_data = options->confirm_data;
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, morango_engine_pair_async);
  g_task_set_task_data (task, call, (GDestroyNotify) pair_call_free);
  morango_engine_run_in_own_thread (task, "morango-pair", call->push ? push_thread : pair_thread);
}

char *
morango_engine_pair_finish (MorangoEngine  *self,
                            GAsyncResult   *result,
                            GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- syncing ---- */

typedef struct {
  MorangoEngine            *self;
  char                     *url;
  gboolean                  pull;
  gboolean                  push;
  char                     *certificate_id;
  GStrv                     filters;
  guint                     chunk_size;
  MorangoEngineProgressFunc progress;
  gpointer                  progress_data;
  char                     *expect_fingerprint;
  MorangoEngineConfirmFunc  confirm;
  gpointer                  confirm_data;

  /* While it runs, on the sync's thread. */
  MorangoHttpPeer          *peer;
  gboolean                  pushing;
  gint64                    history_entry;
  MorangoEngineSyncResult   result;
} SyncCall;

static void
sync_call_free (SyncCall *call)
{
  g_free (call->url);
  g_free (call->certificate_id);
  g_strfreev (call->filters);
  g_free (call->expect_fingerprint);
  g_clear_object (&call->peer);
  g_free (call);
}

typedef struct {
  SyncCall              *call;
  GTask                 *task;     /* keeps @call alive */
  MorangoEngineProgress  progress;
  char                   stage[32];
} ProgressReport;

static gboolean
deliver_progress (gpointer data)
{
  ProgressReport *report = data;

  report->progress.stage = report->stage;
  report->call->progress (&report->progress, report->call->progress_data);
  return G_SOURCE_REMOVE;
}

static void
progress_report_free (gpointer data)
{
  ProgressReport *report = data;

  g_object_unref (report->task);
  g_free (report);
}

/* On the sync's thread: a copy goes to the owner's context. */
static void
on_progress (MorangoMonitor        *monitor,
             const MorangoProgress *progress,
             gpointer               user_data)
{
  GTask *task = user_data;
  SyncCall *call = g_task_get_task_data (task);
  ProgressReport *report;

  if (call->progress == NULL)
    return;
  report = g_new0 (ProgressReport, 1);
  report->call = call;
  report->task = g_object_ref (task);
  report->progress.push = call->pushing;
  g_strlcpy (report->stage, progress->stage ? progress->stage : "", sizeof report->stage);
  report->progress.done = progress->done;
  report->progress.total = progress->total;
  if (call->peer != NULL)
    morango_http_peer_get_bytes (call->peer, &report->progress.bytes_sent, &report->progress.bytes_received);
  morango_engine_run_on_owner (call->self, deliver_progress, report, progress_report_free);
}

/* The partitions both @a and @b hold: for prefix filters, the entries
 * of each that lie inside the other; NULL when they share none. */
static MorangoFilter *
filter_intersect (MorangoFilter *a,
                  MorangoFilter *b)
{
  g_autoptr(GPtrArray) entries = g_ptr_array_new ();
  MorangoFilter *sides[2] = { a, b };

  for (guint s = 0; s < 2; s++)
    for (guint i = 0; i < morango_filter_get_n_entries (sides[s]); i++)
      {
        const char *entry = morango_filter_get_entry (sides[s], i);
        gboolean known = FALSE;

        for (guint k = 0; k < entries->len && !known; k++)
          known = g_str_equal (entries->pdata[k], entry);
        if (!known && morango_filter_contains (sides[1 - s], entry))
          g_ptr_array_add (entries, (gpointer) entry);
      }
  /* No entries at all would read as "" (everything). */
  if (entries->len == 0)
    return NULL;
  return morango_filter_new_from_entries ((const char * const *) entries->pdata, entries->len);
}

/* The filter of one direction: the one asked for, or what the client
 * certificate allows there (§6.4; the server certificate, its parent,
 * allows at least as much).  A certificate this device pushed the peer
 * (@server_scope not NULL) need not hold all of the client's: then what
 * both allow (pull: the client reads, the server writes; push: the
 * other way round). */
static MorangoFilter *
filter_for (SyncCall      *call,
            MorangoScope  *scope,
            MorangoScope  *server_scope,
            gboolean       push,
            GError       **error)
{
  MorangoFilter *filter;

  if (call->filters != NULL && call->filters[0] != NULL)
    {
      g_autofree char *text = g_strjoinv ("\n", call->filters);

      return morango_filter_parse (text);
    }
  if (server_scope == NULL)
    return morango_filter_ref (push ? morango_scope_get_write (scope) : morango_scope_get_read (scope));
  filter = push ? filter_intersect (morango_scope_get_write (scope), morango_scope_get_read (server_scope))
                : filter_intersect (morango_scope_get_read (scope), morango_scope_get_write (server_scope));
  if (filter == NULL)
    g_set_error_literal (error, MORANGO_ERROR, MORANGO_ERROR_PERMISSION_DENIED,
                         push ? _("The two certificates of this sync share no partition to push")
                              : _("The two certificates of this sync share no partition to pull"));
  return filter;
}

static gboolean
run_transfer (SyncCall        *call,
              MorangoStore    *store,
              MorangoFilter   *filter,
              MorangoFilter   *writable,
              gboolean         push,
              MorangoMonitor  *monitor,
              gint64          *records,
              GError         **error)
{
  MorangoDb *db = morango_store_get_db (store);
  MorangoTransferOptions options = MORANGO_TRANSFER_OPTIONS_INIT;
  MorangoTransferStats stats = { { 0 } };
  g_autofree char *filter_text = morango_filter_to_string (filter);
  g_autofree char *resume = NULL;
  g_autoptr(GError) local_error = NULL;

  if (!morango_transfer_session_find_resumable (db, morango_http_peer_get_base_url (call->peer), push,
                                                filter_text, &resume, error))
    return FALSE;
  options.format = morango_http_peer_get_fsic_format (call->peer);
  options.chunk_size = call->chunk_size ? call->chunk_size : options.chunk_size;
  options.writable = writable;
  options.resume_transfer_session_id = resume;
  call->pushing = push;

  for (;;)
    {
      g_autoptr(MorangoTransferSession) ts = NULL;

      gboolean done;

      memset (&stats, 0, sizeof stats);
      done = morango_transfer (store, MORANGO_PEER (call->peer), filter, push, &options, monitor, &stats,
                               &local_error);
      /* The history shows which transfers a sync took part in, so that a
       * sync that went on with one an earlier run left can be told. */
      if (stats.transfer_session_id[0] != '\0' && call->history_entry > 0)
        {
          g_autoptr(GError) ignored = NULL;

          if (!morango_history_add_transfer_session (store, call->history_entry, stats.transfer_session_id,
                                                     &ignored))
            g_warning ("Transfer session %s was not noted in the history: %s", stats.transfer_session_id,
                       ignored->message);
        }
      if (done)
        {
          *records = stats.records_total > 0 ? stats.records_total : stats.records_transferred;
          call->result.resumed |= options.resume_transfer_session_id != NULL;
          return TRUE;
        }
      /* The server no longer holds what this side would continue (it
       * was cleaned up there, or it errored): start afresh, once.  The
       * old session is closed here, so it is not tried again. */
      if (options.resume_transfer_session_id == NULL ||
          g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
          !(g_error_matches (local_error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND) ||
            g_error_matches (local_error, MORANGO_ERROR, MORANGO_ERROR_INVALID)))
        break;
      g_debug ("Transfer session %s cannot go on (%s); starting a new one", resume, local_error->message);
      g_clear_error (&local_error);
      ts = morango_transfer_session_load (db, resume, NULL);
      if (!morango_transfer_session_close (db, resume, NULL, error) ||
          (ts != NULL && !morango_sync_session_close (db, ts->sync_session_id, error)))
        return FALSE;
      options.resume_transfer_session_id = NULL;
    }
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

/* For tests only (README.md): the process dies as in a crash or a power
 * cut once the receiver committed the chunk that ends the countdown,
 * so that a test can show a sync resumes from there with real processes. */
static gboolean
die_after_chunks (MorangoMonitor  *monitor,
                  const char      *point,
                  gint64           done,
                  gpointer         user_data,
                  GError         **error)
{
  if (g_str_equal (point, "transfer-count") && g_atomic_int_dec_and_test ((gint *) user_data))
    raise (SIGKILL);
  return TRUE;
}

static void
arm_test_kill (MorangoMonitor *monitor)
{
  const char *text = g_getenv ("MORANGO_TEST_KILL_AFTER_CHUNKS");
  guint64 chunks = 0;
  gint *left;

  if (text == NULL || !g_ascii_string_to_unsigned (text, 10, 1, G_MAXINT, &chunks, NULL))
    return;
  left = g_new (gint, 1);
  *left = (gint) chunks;
  morango_monitor_set_fault_func (monitor, die_after_chunks, left, g_free);
}

static void
sync_thread (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  MorangoEngine *self = source_object;
  SyncCall *call = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = NULL;
  g_autoptr(MorangoKnownPeer) known = NULL;
  g_autoptr(MorangoCertificate) cert = NULL;
  g_autoptr(MorangoScope) scope = NULL;
  g_autoptr(MorangoScope) server_scope = NULL;
  g_autoptr(MorangoMonitor) monitor = NULL;
  MorangoSyncCounts counts = { 0 };
  gint64 started = g_get_real_time ();
  gint64 t0 = g_get_monotonic_time ();
  gint64 entry = 0;
  gboolean pull = call->pull || !call->push;
  gboolean push = call->push || !call->pull;
  MorangoDb *db;
  const char *server_cert_id;
  gboolean ok = FALSE;

  if ((store = morango_engine_open_store (self, &error)) == NULL)
    goto out;
  db = morango_store_get_db (store);
  if ((known = morango_known_peer_add (store, call->url, started, &error)) == NULL)
    goto out;

  if (call->certificate_id == NULL && known->client_certificate_id == NULL)
    {
      g_set_error (&error, MORANGO_ERROR, MORANGO_ERROR_NOT_FOUND,
                   _("No certificate for %s: pair with it first, or name one"), known->address);
      goto out;
    }
  cert = morango_certificate_load (db, call->certificate_id ? call->certificate_id
                                                            : known->client_certificate_id, &error);
  if (cert == NULL)
    goto out;
  if (!morango_certificate_has_private_key (cert))
    {
      g_set_error (&error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("Certificate %s cannot open a sync: its private key is not on this device"),
                   morango_certificate_get_id (cert));
      goto out;
    }
  /* The server's certificate is the one ours was issued under (§7.10),
   * or, when this device pushed the peer one, that one (correction 34). */
  server_cert_id = morango_certificate_get_parent_id (cert);
  if (known->server_certificate_id != NULL &&
      g_strcmp0 (morango_certificate_get_id (cert), known->client_certificate_id) == 0 &&
      g_strcmp0 (known->server_certificate_id, server_cert_id) != 0)
    {
      g_autoptr(MorangoCertificate) pushed = morango_certificate_load (db, known->server_certificate_id, &error);

      if (pushed == NULL ||
          (server_scope = morango_certificate_get_scope (pushed, db, &error)) == NULL)
        goto out;
      server_cert_id = known->server_certificate_id;
    }
  if (server_cert_id == NULL)
    {
      g_set_error (&error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("Certificate %s is a root: a sync needs one issued by the peer"),
                   morango_certificate_get_id (cert));
      goto out;
    }
  if ((scope = morango_certificate_get_scope (cert, db, &error)) == NULL)
    goto out;

  entry = morango_history_begin (store, known->id,
                                 pull && push ? MORANGO_SYNC_DIRECTION_BOTH
                                              : pull ? MORANGO_SYNC_DIRECTION_PULL : MORANGO_SYNC_DIRECTION_PUSH,
                                 started, &error);
  if (entry == 0)
    goto out;
  call->history_entry = entry;

  call->peer = morango_http_peer_new (call->url, store, cert, server_cert_id, &error);
  if (call->peer == NULL ||
      !set_up_tls (self, call->peer, call->expect_fingerprint, known->tls_fingerprint,
                   call->confirm, call->confirm_data, cancellable, &error) ||
      !morango_http_peer_connect (call->peer, cancellable, &error) ||
      !keep_pin (store, known, call->peer, &error))
    goto out;
  if (morango_http_peer_get_server_instance_id (call->peer) != NULL &&
      !morango_known_peer_set_instance_id (store, known->id,
                                           morango_http_peer_get_server_instance_id (call->peer), &error))
    goto out;

  monitor = morango_monitor_new (cancellable);
  morango_monitor_set_progress_func (monitor, on_progress, g_object_ref (task), g_object_unref);
  arm_test_kill (monitor);
  if (pull)
    {
      g_autoptr(MorangoFilter) filter = filter_for (call, scope, server_scope, FALSE, &error);

      if (filter == NULL ||
          !run_transfer (call, store, filter, morango_scope_get_write (scope), FALSE, monitor,
                         &call->result.records_pulled, &error))
        goto out;
    }
  if (push)
    {
      g_autoptr(MorangoFilter) filter = filter_for (call, scope, server_scope, TRUE, &error);

      if (filter == NULL ||
          !run_transfer (call, store, filter, morango_scope_get_write (scope), TRUE, monitor,
                         &call->result.records_pushed, &error))
        goto out;
    }
  ok = TRUE;

out:
  cancel_wins (&error, cancellable);
  if (call->peer != NULL)
    morango_http_peer_get_bytes (call->peer, &call->result.bytes_sent, &call->result.bytes_received);
  call->result.seconds = (g_get_monotonic_time () - t0) / 1e6;
  if (entry > 0)
    {
      g_autoptr(GError) ignored = NULL;
      MorangoSyncResult result = ok ? MORANGO_SYNC_RESULT_OK
                               : g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
                                   ? MORANGO_SYNC_RESULT_CANCELLED : MORANGO_SYNC_RESULT_FAILED;

      counts.records_received = call->result.records_pulled;
      counts.records_sent = call->result.records_pushed;
      counts.bytes_sent = call->result.bytes_sent;
      counts.bytes_received = call->result.bytes_received;
      if (!morango_history_finish (store, entry, g_get_real_time (), result, &counts,
                                   error ? error->message : NULL, &ignored))
        g_warning ("The sync with %s was not recorded: %s", call->url, ignored->message);
      morango_engine_peers_changed (self);
      morango_engine_data_changed (self);
    }
  else if (known != NULL && error != NULL)
    {
      g_autoptr(GError) ignored = NULL;

      morango_known_peer_record_failure (store, known->id, g_get_real_time (), error->message, &ignored);
      morango_engine_peers_changed (self);
    }
  /* The peer's session goes with the store's connection, on this thread. */
  g_clear_object (&call->peer);
  if (store != NULL)
    clean_up (store);
  if (ok)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, g_steal_pointer (&error));
}

void
morango_engine_sync_async (MorangoEngine                  *self,
                           const char                     *url,
                           const MorangoEngineSyncOptions *options,
                           GCancellable                   *cancellable,
                           GAsyncReadyCallback             callback,
                           gpointer                        user_data)
{
  static const MorangoEngineSyncOptions defaults = { 0 };
  g_autoptr(GTask) task = NULL;
  SyncCall *call;

  g_return_if_fail (MORANGO_IS_ENGINE (self));
  g_return_if_fail (url != NULL);

  if (options == NULL)
    options = &defaults;
  call = g_new0 (SyncCall, 1);
  call->self = self;
  call->url = g_strdup (url);
  call->pull = options->pull;
  call->push = options->push;
  call->certificate_id = g_strdup (options->certificate_id);
  call->filters = g_strdupv ((char **) options->filters);
  call->chunk_size = options->chunk_size;
  call->progress = options->progress;
  call->progress_data = options->progress_data;
  call->expect_fingerprint = g_strdup (options->expect_fingerprint);
  call->confirm = options->confirm;
  call->confirm_data = options->confirm_data;
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, morango_engine_sync_async);
  g_task_set_task_data (task, call, (GDestroyNotify) sync_call_free);
  /* A cancel is the transfer's to notice (it rolls the stage back and
   * leaves both sides resumable): the task returns when the thread is
   * done, never earlier. */
  morango_engine_run_in_own_thread (task, "morango-sync", sync_thread);
}

gboolean
morango_engine_sync_finish (MorangoEngine            *self,
                            GAsyncResult             *result,
                            MorangoEngineSyncResult  *out,
                            GError                  **error)
{
  SyncCall *call;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  call = g_task_get_task_data (G_TASK (result));
  if (out != NULL)
    *out = call->result;
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- peers ---- */

static void
list_peers_thread (GTask        *task,
                   gpointer      source_object,
                   gpointer      task_data,
                   GCancellable *cancellable)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = morango_engine_open_store (source_object, &error);
  GPtrArray *peers;

  if (store == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  peers = morango_known_peer_list (store, FALSE, &error);
  if (peers == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, peers, (GDestroyNotify) g_ptr_array_unref);
}

void
morango_engine_list_peers_async (MorangoEngine       *self,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MORANGO_IS_ENGINE (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, morango_engine_list_peers_async);
  /* Opening the folder is quick: the shared pool is fine here. */
  g_task_run_in_thread (task, list_peers_thread);
}

GPtrArray *
morango_engine_list_peers_finish (MorangoEngine  *self,
                                  GAsyncResult   *result,
                                  GError        **error)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* For the engine's other files: the HTTPS side of a call to a peer. */
gboolean
morango_engine_set_up_peer_tls (MorangoEngine             *self,
                                MorangoHttpPeer           *peer,
                                const char                *expected,
                                const char                *pinned,
                                MorangoEngineConfirmFunc   func,
                                gpointer                   func_data,
                                GCancellable              *cancellable,
                                GError                   **error)
{
  return set_up_tls (self, peer, expected, pinned, func, func_data, cancellable, error);
}
