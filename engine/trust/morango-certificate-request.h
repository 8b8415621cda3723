/* morango-certificate-request.h: certificate signing requests (protocol §7.8 (a), §8.3.2)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <json-glib/json-glib.h>

#include "morango-certificate.h"
#include "morango-random.h"

G_BEGIN_DECLS

/* A certificate signing request (§7.8 (a), the body of §8.3.2). */
typedef struct {
  char   *parent_id;
  char   *profile;
  char   *scope_definition_id;
  gint64  scope_version;
  char   *scope_params;   /* JSON object text */
  char   *public_key;     /* the requester's, any accepted spelling */
} MorangoCertificateRequest;

/* The requester's side: ask @parent's holder for @scope_params under
 * @scope_definition_id, for @key (the profile and scope version are the
 * parent's). */
MorangoCertificateRequest *morango_certificate_request_new        (MorangoCertificate *parent,
                                                                   const char         *scope_definition_id,
                                                                   const char         *scope_params,
                                                                   MorangoKey         *key);
/* Reads the POST certificates/ body; missing or mistyped fields are
 * MORANGO_ERROR_INVALID. */
MorangoCertificateRequest *morango_certificate_request_new_from_json (JsonObject   *body,
                                                                   GError      **error);
JsonObject                *morango_certificate_request_to_json    (const MorangoCertificateRequest *req);
void                       morango_certificate_request_free       (MorangoCertificateRequest *req);
/* The issuer's decision, after the caller has authenticated the
 * requester and checked their right to the scope: the parent must be
 * stored here with its private key, the scope definition known, the
 * params a non-empty object, the key RSA-2048; the child gets a random
 * salt, is signed by the parent, must pass §7.6 (so a scope wider than
 * the parent's or another profile is refused) and is stored without a
 * private key.  Returns it, or the reason for refusing as @error. */
MorangoCertificate        *morango_certificate_request_issue      (MorangoDb                       *db,
                                                                   const MorangoCertificateRequest *req,
                                                                   MorangoRandom                   *random,
                                                                   GError                         **error);
/* The requester's side once the answer came: the certificate must be
 * what was asked for and for @key (with its private half); it is
 * checked against the stored parent and stored with the key. */
MorangoCertificate        *morango_certificate_request_accept     (MorangoDb                       *db,
                                                                   const MorangoCertificateRequest *req,
                                                                   JsonObject                      *response,
                                                                   MorangoKey                      *key,
                                                                   GError                         **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MorangoCertificateRequest, morango_certificate_request_free)

G_END_DECLS
