/* morango-http-peer-private.h: the requests of the HTTP peer, for the other clients of the wire layer
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <json-glib/json-glib.h>

#include "morango-http-peer.h"

G_BEGIN_DECLS

typedef struct {
  const char *method;
  const char *path;            /* under api/morango/v1/, ending in "/"; from "/":
                                * under the base URL (our own calls) */
  const char *query;           /* encoded, without "?"; may be NULL */
  GBytes     *body;            /* may be NULL */
  const char *content_type;    /* of @body */
  const char *authorization;   /* the whole header value; the CSR only */
  gboolean    accept_gzip;     /* a body that may be large */
  gboolean    once;            /* never sent again once it may have reached the server */
} MorangoHttpRequest;

/* Sends @request (retrying on network failures, see
 * morango_http_peer_set_retries()) and returns the parsed JSON answer
 * of a 2xx (a JSON null for an empty body), the status in *@status (may
 * be NULL).  Any other status is an error quoting the server's answer:
 * MORANGO_ERROR_PERMISSION_DENIED (401, 403), MORANGO_ERROR_NOT_FOUND
 * (404), MORANGO_ERROR_INVALID (other 4xx), MORANGO_ERROR_FAILED (the
 * rest); a transport failure is a G_IO_ERROR. */
JsonNode *morango_http_peer_call      (MorangoHttpPeer          *self,
                                       const MorangoHttpRequest *request,
                                       guint                    *status,
                                       GCancellable             *cancellable,
                                       GError                  **error);
/* The same with @body (may be NULL) sent as JSON. */
JsonNode *morango_http_peer_call_json (MorangoHttpPeer          *self,
                                       const char               *method,
                                       const char               *path,
                                       const char               *query,
                                       JsonNode                 *body,
                                       GCancellable             *cancellable,
                                       GError                  **error);

/* Waits @ms milliseconds, or less when @cancellable fires (FALSE with
 * G_IO_ERROR_CANCELLED then). */
gboolean  morango_http_peer_wait_ms   (guint                     ms,
                                       GCancellable             *cancellable,
                                       GError                  **error);

G_END_DECLS
