/* morango-db-private.h: for tests only
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "morango-db.h"

G_BEGIN_DECLS

/* A process checks each database file for damage once, the first time
 * it opens it; this forgets which files were checked, so that a test
 * that damages a file it has opened sees the next open check it again. */
void morango_db_forget_checked_files (void);

G_END_DECLS
