/* morango-ids.h: the identifier rules of protocol §2
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* First 32 hex characters of SHA-256 over the parts joined with "::". */
char     *morango_sha2_uuid          (const char         *first,
                                      ...) G_GNUC_NULL_TERMINATED;
char     *morango_sha2_uuidv         (const char * const *parts,
                                      gsize               n_parts);
/* The system-id / node-id hash: SHA-1 of lower(value + "::<salt>"),
 * first 20 hex characters; "" for "". */
char     *morango_salted_hash        (const char         *value);
/* RFC 4122 UUIDv5 of @name in @namespace_uuid (any spelling), 32 hex. */
char     *morango_uuid5_hex          (const char         *namespace_uuid,
                                      const char         *name);
/* Parses any UUID spelling Python accepts (dashes, braces, "urn:uuid:",
 * upper case) and returns 32 lowercase hex, or NULL. */
char     *morango_uuid_normalize     (const char         *text);
gboolean  morango_is_hex32           (const char         *text);
/* Proquint of the first 8 hex digits of @hex (protocol §2.5). */
char     *morango_proquint_from_hex  (const char         *hex);
char     *morango_proquint_from_uint (guint32             value);

typedef struct {
  const char *device;  /* interface name */
  const char *ether;   /* "aa:bb:cc:dd:ee:ff" or NULL */
} MorangoInterface;

/* Which MAC Morango uses for the node id: interfaces in preference
 * order, locally administered addresses skipped, then @fallback_mac
 * (uuid.getnode(), may be NULL).  Returns NULL when none qualifies. */
char     *morango_pick_node_mac      (const MorangoInterface *ifs,
                                      gsize                   n_ifs,
                                      const char             *fallback_mac);

G_END_DECLS
