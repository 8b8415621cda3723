/* morango-random.h: the engine's one source of randomness
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Everything random in the engine (database ids, session ids, nonces,
 * salts, random source ids) is drawn from a MorangoRandom handed in by
 * the caller.  The programs use a secure one (GnuTLS's generator); tests
 * use a seeded one so that a printed seed reproduces a run exactly.
 * RSA key generation always uses GnuTLS's own generator. */
typedef struct _MorangoRandom MorangoRandom;

MorangoRandom *morango_random_new_secure  (void);
MorangoRandom *morango_random_new_seeded  (guint64        seed);
MorangoRandom *morango_random_ref         (MorangoRandom *self);
void           morango_random_unref       (MorangoRandom *self);
gboolean       morango_random_is_seeded   (MorangoRandom *self);
void           morango_random_bytes       (MorangoRandom *self,
                                           guint8        *buf,
                                           gsize          len);
guint32        morango_random_int_range   (MorangoRandom *self,
                                           guint32        begin,
                                           guint32        end);
/* A random UUID4 as 32 lowercase hex characters. */
char          *morango_random_uuid4_hex   (MorangoRandom *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MorangoRandom, morango_random_unref)

G_END_DECLS
