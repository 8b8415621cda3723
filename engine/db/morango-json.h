/* morango-json.h: JSON text exactly as Python's json.dumps writes it
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* json.dumps defaults: ", " and ": " separators, non-ASCII escaped as
 * \uXXXX (surrogate pairs above the BMP), object members in insertion
 * order, floats in Python's shortest round-trip form ("1.0", "1e+16"). */
char     *morango_json_dumps            (JsonNode   *node);
char     *morango_json_dumps_object     (JsonObject *object);
void      morango_json_append           (GString    *out,
                                         JsonNode   *node);
/* A quoted, escaped string literal. */
void      morango_json_append_string    (GString    *out,
                                         const char *text);
/* Python's repr of a float, as json.dumps writes it. */
void      morango_json_append_double    (GString    *out,
                                         double      value);

/* Parses @text, which must hold a JSON object; a clear
 * MORANGO_ERROR_INVALID error otherwise.  @what names the text in the
 * message ("the record", "scope_params"). */
JsonObject *morango_json_parse_object   (const char *text,
                                         const char *what,
                                         GError    **error);
JsonNode   *morango_json_parse          (const char *text,
                                         const char *what,
                                         GError    **error);

G_END_DECLS
