/* morango-error.c
 *
 * SPDX-License-Identifier: MIT
 */
#include "morango-error.h"

G_DEFINE_QUARK (morango-db-error-quark, morango_db_error)
G_DEFINE_QUARK (morango-error-quark, morango_error)
