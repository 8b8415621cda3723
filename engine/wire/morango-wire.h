/* morango-wire.h: the bodies and headers of the HTTP API, both ways (protocol §8)
 *
 * SPDX-License-Identifier: MIT
 *
 * What the server and the client put on the wire and take off it, with
 * no HTTP: capability flags, gzip with a hard limit, buffer chunks and
 * the session objects.  Everything decoded comes from a peer, so every
 * decoder is strict: a wrong type or a missing key is a
 * MORANGO_ERROR_INVALID error naming the key, never a crash and never a
 * silent default.
 *
 * Two JSON styles exist on the wire (records.json, buffer_record): a
 * Python client writes json.dumps's (", " and ": ", non-ASCII escaped),
 * a Django server writes compact JSON with non-ASCII as it is.  Both
 * parse the same; the encoders write either so that recorded bodies can
 * be compared byte for byte.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "morango-buffer.h"
#include "morango-session.h"

G_BEGIN_DECLS

/* ---- capabilities (§8.1, §8.2) ---- */

typedef enum {
  MORANGO_WIRE_CAP_NONE                      = 0,
  MORANGO_WIRE_CAP_GZIP_BUFFER_POST          = 1 << 0,
  MORANGO_WIRE_CAP_FSIC_V2_FORMAT            = 1 << 1,
  MORANGO_WIRE_CAP_ASYNC_OPERATIONS          = 1 << 2,
  MORANGO_WIRE_CAP_ALLOW_CERTIFICATE_PUSHING = 1 << 3,
} MorangoWireCapabilities;

#define MORANGO_WIRE_CAPABILITIES_HEADER "X-Morango-Capabilities"

/* What a Morango 0.8.2 server advertises by default. */
#define MORANGO_WIRE_CAPS_DEFAULT (MORANGO_WIRE_CAP_GZIP_BUFFER_POST | \
                                   MORANGO_WIRE_CAP_FSIC_V2_FORMAT | \
                                   MORANGO_WIRE_CAP_ASYNC_OPERATIONS)

/* The value of an X-Morango-Capabilities header: names separated by
 * spaces, unknown names ignored.  NULL (no header) is no capability. */
MorangoWireCapabilities morango_wire_capabilities_parse  (const char              *header);
/* The names of @caps separated by single spaces, in a fixed order. */
char                   *morango_wire_capabilities_format (MorangoWireCapabilities  caps);
/* The `capabilities` array of morangoinfo: strings, unknown ignored; an
 * array holding anything else is an error. */
gboolean                morango_wire_capabilities_from_json (JsonNode                *array,
                                                             MorangoWireCapabilities *caps,
                                                             GError                 **error);
JsonNode               *morango_wire_capabilities_to_json   (MorangoWireCapabilities  caps);

/* ---- gzip (§8.7.1) ---- */

/* The level of the gzip this side writes: the chunks it pushes and the
 * answers it serves.  Any level reads back the same; Morango writes 9
 * (its client) and 6 (Django).  On a chunk of 500 records, level 1 takes
 * about a thirtieth of level 9's time and a tenth of level 6's, for a
 * sixth more bytes (65 bytes a record against 56); at 9 and 6 the
 * compression bounded the transfer stage (tests/bench/bench-net-sync). */
#define MORANGO_WIRE_GZIP_LEVEL 1

/* A gzip member of @data at @level (0–9; -1: zlib's default), with
 * mtime 0, as Morango's client writes chunks. */
GBytes   *morango_wire_gzip   (gconstpointer  data,
                               gsize          size,
                               int            level);
/* The content of one gzip member.  A malformed or truncated stream, or
 * data after it, is MORANGO_ERROR_INVALID; content longer than @limit
 * bytes is MORANGO_ERROR_LIMIT_EXCEEDED, found before more than @limit
 * bytes (plus one block) are held, so a bomb costs nothing.  The result
 * is followed by a NUL byte not counted in its size, so it can be read
 * as text. */
GBytes   *morango_wire_gunzip (gconstpointer  data,
                               gsize          size,
                               gsize          limit,
                               GError       **error);

/* ---- JSON text ---- */

typedef enum {
  MORANGO_WIRE_JSON_PYTHON,   /* json.dumps defaults: a Python client's bodies */
  MORANGO_WIRE_JSON_COMPACT,  /* Django REST framework: a server's bodies */
} MorangoWireJsonStyle;

char     *morango_wire_json_to_string (JsonNode             *node,
                                       MorangoWireJsonStyle  style);
/* Parses a body: MORANGO_ERROR_INVALID with json-glib's reason when it
 * is not JSON.  @size -1: NUL-terminated. */
JsonNode *morango_wire_json_parse     (const char           *text,
                                       gssize                size,
                                       GError              **error);

/* ---- buffer chunks (§8.7) ---- */

/* Appends @chunk as the JSON array of buffer records of transfer session
 * @transfer_session_id: the 14 keys in Morango's order, each record's
 * history as its rmcb_list. */
void                morango_wire_chunk_append (GString                  *out,
                                               const MorangoBufferChunk *chunk,
                                               const char               *transfer_session_id,
                                               MorangoWireJsonStyle      style);
char               *morango_wire_chunk_encode (const MorangoBufferChunk *chunk,
                                               const char               *transfer_session_id,
                                               MorangoWireJsonStyle      style);
/* Reads buffer records: an array of them, or one record alone (a Python
 * server accepts both).  Each must have exactly the 14 keys with their
 * types, and its rmcb_list items exactly their 4 keys; every item must
 * name the record's transfer session and model_uuid
 * (MORANGO_ERROR_RECORD_REJECTED with Morango's messages).  All records
 * must name the same transfer session (MORANGO_ERROR_PERMISSION_DENIED
 * otherwise, as Morango answers 403), whose id goes to
 * *@transfer_session_id (NULL for an empty array). */
MorangoBufferChunk *morango_wire_chunk_decode (JsonNode                 *node,
                                               char                    **transfer_session_id,
                                               GError                  **error);
/* A GET buffers/ answer: a paginated object (its `results`, `count` to
 * *@count) or a bare array (its length to *@count).  @count may be NULL.
 * The records are decoded as morango_wire_chunk_decode() does. */
MorangoBufferChunk *morango_wire_page_decode  (JsonNode                 *node,
                                               char                    **transfer_session_id,
                                               gint64                   *count,
                                               GError                  **error);

/* ---- sync sessions (§8.5) ---- */

/* The body of POST syncsessions/.  certificate_chain and instance are
 * JSON texts (the wire carries them as strings). */
typedef struct {
  char *id;
  char *server_certificate_id;
  char *client_certificate_id;
  char *profile;
  char *certificate_chain;
  char *connection_path;
  char *instance;
  char *nonce;
  char *client_ip;
  char *server_ip;
  char *signature;
} MorangoWireSyncSessionRequest;

void      morango_wire_sync_session_request_free   (MorangoWireSyncSessionRequest *request);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MorangoWireSyncSessionRequest, morango_wire_sync_session_request_free)
/* In the client's style (a Python client's key order). */
char     *morango_wire_sync_session_request_encode (const MorangoWireSyncSessionRequest *request);
/* Every key is required but client_ip, server_ip and profile (then "").
 * certificate_chain may also be a plain array (kept as its JSON text);
 * instance must be a string holding a JSON object. */
MorangoWireSyncSessionRequest *morango_wire_sync_session_request_decode (JsonNode  *node,
                                                                         GError   **error);

/* The 201 answer: {"signature", "server_instance"}. */
char     *morango_wire_sync_session_reply_encode   (const char  *signature,
                                                    const char  *server_instance);
gboolean  morango_wire_sync_session_reply_decode   (JsonNode    *node,
                                                    char       **signature,
                                                    char       **server_instance,
                                                    GError     **error);

/* The sync session object of GET syncsessions/<id>/. */
typedef struct {
  char     *id;
  char     *start_timestamp;
  char     *last_activity_timestamp;
  gboolean  active;
  char     *client_certificate_id;   /* may be NULL (null) */
  char     *server_certificate_id;   /* may be NULL (null) */
  char     *profile;
  char     *connection_kind;
  char     *connection_path;
  char     *client_ip;
  char     *server_ip;
  char     *client_instance;         /* JSON text */
  char     *server_instance;         /* JSON text */
} MorangoWireSyncSession;

void                    morango_wire_sync_session_free   (MorangoWireSyncSession *ss);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MorangoWireSyncSession, morango_wire_sync_session_free)
char                   *morango_wire_sync_session_encode (const MorangoWireSyncSession *ss);
MorangoWireSyncSession *morango_wire_sync_session_decode (JsonNode                     *node,
                                                          GError                      **error);

/* ---- transfer sessions (§8.6) ---- */

/* What the transfer session object carries besides MorangoTransferSession. */
typedef struct {
  char   *start_timestamp;
  char   *last_activity_timestamp;
  gint64  bytes_sent;
  gint64  bytes_received;
} MorangoWireTransferInfo;

void                    morango_wire_transfer_info_clear      (MorangoWireTransferInfo *info);

/* The object of every transfer session answer, in the server's style.
 * records_total -1 is written null.  @info may be NULL (timestamps of
 * now, zero bytes). */
char                   *morango_wire_transfer_session_encode  (const MorangoTransferSession *ts,
                                                               const MorangoWireTransferInfo *info);
/* Reads that object (a stage of null reads as initializing/pending);
 * @info may be NULL, else it is filled (clear it after). */
MorangoTransferSession *morango_wire_transfer_session_decode  (JsonNode                      *node,
                                                               MorangoWireTransferInfo       *info,
                                                               GError                       **error);

/* The body of POST transfersessions/ from @request's id, filter, push,
 * sync_session_id, client_fsic (NULL: "{}") and records_total (left out
 * when negative), in the client's style. */
char                   *morango_wire_transfer_request_encode  (const MorangoTransferSession *request);
/* Reads it: id, filter, push and sync_session_id are required;
 * client_fsic (a string, default "{}") and records_total (an integer or
 * null) are not.  The result's stage is initializing/pending. */
MorangoTransferSession *morango_wire_transfer_request_decode  (JsonNode                      *node,
                                                               GError                       **error);

/* The body of PATCH transfersessions/<id>/.  Negative counts and a NULL
 * client_fsic are absent keys. */
typedef struct {
  gboolean      has_stage;
  MorangoStage  stage;
  char         *client_fsic;
  gint64        records_total;
  gint64        records_transferred;
  gint64        bytes_sent;
  gint64        bytes_received;
} MorangoWireTransferUpdate;

#define MORANGO_WIRE_TRANSFER_UPDATE_INIT { FALSE, MORANGO_STAGE_INITIALIZING, NULL, -1, -1, -1, -1 }

void      morango_wire_transfer_update_clear  (MorangoWireTransferUpdate       *update);
char     *morango_wire_transfer_update_encode (const MorangoWireTransferUpdate *update);
/* Unknown keys are ignored (Morango treats them as read-only fields);
 * an unknown stage, a wrong type or a negative count is an error. */
gboolean  morango_wire_transfer_update_decode (JsonNode                        *node,
                                               MorangoWireTransferUpdate       *update,
                                               GError                         **error);

/* ---- time ---- */

/* @unix_usec as Django renders datetimes: UTC, microseconds when not
 * zero, "Z". */
char     *morango_wire_format_time (gint64 unix_usec);

G_END_DECLS
