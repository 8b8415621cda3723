/* morango-certificate-private.h: what the files of certificates share
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "morango-certificate.h"

G_BEGIN_DECLS

struct _MorangoCertificate
{
  GObject     parent_instance;
  char       *id;
  char       *parent_id;
  char       *profile;
  char       *salt;
  char       *scope_definition_id;
  gint64      scope_version;
  char       *scope_params;
  char       *serialized;
  char       *signature;
  MorangoKey *key;
};

gboolean            invalid          (GError    **error,
                                      const char *format,
                                      ...) G_GNUC_PRINTF (2, 3);
/* A member that is a string, or NULL. */
const char         *object_string    (JsonObject *object,
                                      const char *member);
/* Builds and signs a child (morango-certificate.c). */
MorangoCertificate *build_child      (MorangoDb          *db,
                                      MorangoCertificate *parent,
                                      const char         *profile,
                                      const char         *scope_definition_id,
                                      gint64              scope_version,
                                      const char         *scope_params,
                                      MorangoKey         *key,
                                      const char         *salt,
                                      GError            **error);
/* The stored certificate with @cert's id, if any (morango-certificate.c). */
gboolean            find_stored_twin (MorangoDb           *db,
                                      MorangoCertificate  *cert,
                                      MorangoCertificate **stored,
                                      GError             **error);
/* The links of a chain payload (morango-chain.c). */
JsonArray          *chain_array      (JsonNode  *chain,
                                      JsonNode **owned,
                                      GError   **error);
gboolean            chain_error      (GError    **error,
                                      const char *message);

G_END_DECLS
