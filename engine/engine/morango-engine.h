/* morango-engine.h: the one object the programs hold
 *
 * SPDX-License-Identifier: MIT
 *
 * A data folder with a worker thread of its own: its GMainContext hosts
 * the HTTP server, and long work (a sync, pairing, cleanup) runs on
 * threads of its own with connections of its own, so the caller's main
 * context never waits on the disk or the network and the server keeps
 * answering during a big sync.
 *
 * Every operation is asynchronous (…_async / …_finish with a
 * GCancellable); callbacks and signals come on the main context that was
 * the thread-default one when the engine was made.
 */
#pragma once

#include <gio/gio.h>

#include "morango-certificate.h"
#include "morango-session.h"

G_BEGIN_DECLS

#define MORANGO_TYPE_ENGINE (morango_engine_get_type ())
G_DECLARE_FINAL_TYPE (MorangoEngine, morango_engine, MORANGO, ENGINE, GObject)

/* Opens (creating it on first use) the data folder @data_dir; a new one
 * gets @description (NULL: the default), an existing one must hold it
 * when it is named (see morango_store_open_folder()).  The folder is
 * opened once here, so that a bad folder fails at once. */
MorangoEngine *morango_engine_new             (const char     *data_dir,
                                               const char     *description,
                                               GError        **error);
const char    *morango_engine_get_data_dir    (MorangoEngine  *self);
const char    *morango_engine_get_instance_id (MorangoEngine  *self);
const char    *morango_engine_get_description (MorangoEngine  *self);

/* ---- serving ---- */

typedef struct {
  const char *address;       /* an IP address; NULL: every interface */
  guint       port;          /* 0: any free port */
  gsize       body_limit;    /* 0: the server's default (32 MiB) */
} MorangoServeOptions2;

/* Starts serving the folder over HTTP on the engine's worker thread. */
void      morango_engine_serve_async   (MorangoEngine               *self,
                                        const MorangoServeOptions2  *options,
                                        GCancellable                *cancellable,
                                        GAsyncReadyCallback          callback,
                                        gpointer                     user_data);
gboolean  morango_engine_serve_finish  (MorangoEngine               *self,
                                        GAsyncResult                *result,
                                        GError                     **error);
/* While serving: the port (the real one when 0 was asked) and the base
 * URLs others can use ("http://ADDRESS:PORT/"). */
guint     morango_engine_get_port      (MorangoEngine               *self);
GStrv     morango_engine_get_urls      (MorangoEngine               *self);
/* Stops serving; transfers in flight on the server's workers finish. */
void      morango_engine_stop_serving  (MorangoEngine               *self);

G_END_DECLS
