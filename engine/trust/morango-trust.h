/* morango-trust.h: trust anchors (protocol §7.6)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "morango-db.h"

G_BEGIN_DECLS

/* Trust anchors: the roots this device accepts chains from. */
gboolean            morango_trust_add_root                (MorangoDb          *db,
                                                           const char         *root_id,
                                                           const char         *reason,
                                                           GError            **error);
gboolean            morango_trust_remove_root             (MorangoDb          *db,
                                                           const char         *root_id,
                                                           GError            **error);
gboolean            morango_trust_is_trusted              (MorangoDb          *db,
                                                           const char         *root_id);

G_END_DECLS
