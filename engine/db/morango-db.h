/* morango-db.h: one SQLite connection
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <glib-object.h>
#include <sqlite3.h>

#include "morango-error.h"
#include "morango-monitor.h"

G_BEGIN_DECLS

#define MORANGO_TYPE_DB (morango_db_get_type ())
G_DECLARE_FINAL_TYPE (MorangoDb, morango_db, MORANGO, DB, GObject)

/* The schema version this build writes (PRAGMA user_version). */
#define MORANGO_DB_SCHEMA_VERSION 10

MorangoDb     *morango_db_open             (const char    *path,
                                            GError       **error);
const char    *morango_db_get_path         (MorangoDb     *self);
int            morango_db_get_schema_version (MorangoDb   *self);
/* The raw SQLite connection: the one way out of db/ for code that needs
 * SQLite's C API itself, such as a hot loop (today: tests, and
 * deserializing, which keeps SQLite's own text of a constraint failure
 * as a record's error).  Everything else goes through the calls below,
 * which check the thread and map errors; whoever takes the handle keeps
 * to this connection's thread rule (see "Threads") and never closes it.
 * NULL, with a critical, on a thread that does not own the connection. */
sqlite3       *morango_db_get_handle       (MorangoDb     *self);

/* ---- threads ----
 *
 * A MorangoDb, and every statement it prepared, is used by one thread
 * at a time: its owner, at first the thread that opened it.  Every call
 * below that reaches the connection checks this, in every build type
 * (it compares g_thread_self() with the owner, one load): on another
 * thread it logs a critical and fails, with MORANGO_DB_ERROR_WRONG_THREAD
 * where it takes a GError.  The check sits in morango_db_step() too,
 * so a statement prepared on one thread and stepped on another without
 * a hand-over is caught as well; it costs about 5 ns a step, and a
 * 100k-record bench-local-sync (setup included) steps 1.4 M times:
 * some 7 ms against 2.5 s of CPU time.  morango_db_column_text() and
 * SQLite's own sqlite3_column_*, sqlite3_bind_* and sqlite3_reset() on
 * a statement are not checked: they follow a checked prepare, bind or
 * step on the same thread.  Finalizing (the last unref) is not checked:
 * nobody else holds the connection then.
 *
 * To let another thread use a connection, hand it over: the owner
 * releases it, and the thread that takes it acquires it before its
 * first call, and gives it back the same way:
 *
 *   owning thread                         other thread
 *   -------------                         ------------
 *   morango_db_release (db);
 *   g_thread_new (…) / push to a queue ─▶ morango_db_acquire (db);
 *                                         … prepare, step, query …
 *                                         morango_db_release (db);
 *   g_thread_join (…) / pop a reply   ◀─
 *   morango_db_acquire (db);
 *
 * Whatever passes the connection from one thread to the other (thread
 * creation and join, a GAsyncQueue) also orders the memory.  Release
 * only with no transaction open: a transaction belongs to the thread
 * that began it.  Released, a connection belongs to no thread until one
 * acquires it. */

/* Gives up the calling thread's ownership; a critical if the calling
 * thread does not own the connection or a transaction is open. */
void           morango_db_release          (MorangoDb     *self);
/* Makes the calling thread the owner of a released connection; a
 * critical and FALSE if another thread still owns it. */
gboolean       morango_db_acquire          (MorangoDb     *self);

/* A second, read-only connection to the same file, for a thread that
 * reads while this connection writes: it sees what the last commit
 * left, and refuses transactions (MORANGO_DB_ERROR_READ_ONLY) and
 * writes.  It has the SQL functions of this connection (morango_hex32
 * and those registered with morango_db_register_function()).  NULL
 * without an error for a database in memory, which no other connection
 * sees.  It belongs to the calling thread, like any connection: hand it
 * over (above) to the thread that reads, and unref it when done. */
MorangoDb     *morango_db_open_reader      (MorangoDb     *self,
                                            GError       **error);
/* A reader's statements stop with G_IO_ERROR_CANCELLED once
 * @cancellable (NULL: none) is cancelled; a stage's transaction does the
 * same for its own connection through its monitor. */
void           morango_db_stop_on_cancel   (MorangoDb     *self,
                                            GCancellable  *cancellable);
gboolean       morango_db_is_read_only     (MorangoDb     *self);

/* ---- SQL functions ----
 *
 * Every connection, readers included, has morango_hex32 (x): whether x
 * is text of exactly 32 lowercase hex digits.
 *
 * A layer above db/ adds its own with morango_db_register_function():
 * on this connection, and on every reader opened from it afterwards,
 * with the same @user_data.  @user_data lives until the last of them is
 * closed, then @destroy frees it; when registering fails it stays the
 * caller's.  A name is registered once per
 * connection: SQLite refuses to redefine a function while a statement
 * runs, and a redefinition expires every cached statement.  To change
 * what the function does from stage to stage, register it once with a
 * struct as @user_data and change the struct (found again with
 * morango_db_get_function_data()).  The function runs on the thread
 * stepping the statement; a reader's runs on the reading thread, so
 * change @user_data only while no reader of the connection is open. */
typedef void (*MorangoDbFunction) (sqlite3_context  *context,
                                   int               n_args,
                                   sqlite3_value   **args);

gboolean       morango_db_register_function (MorangoDb        *self,
                                             const char       *name,
                                             int               n_args,
                                             MorangoDbFunction func,
                                             gpointer          user_data,
                                             GDestroyNotify    destroy,
                                             GError          **error);
/* The @user_data @name was registered with, or NULL if it was not. */
gpointer       morango_db_get_function_data (MorangoDb        *self,
                                             const char       *name);

/* Cached prepared statement for constant SQL text.  The statement comes
 * back reset with its bindings cleared; do not finalize it. */
sqlite3_stmt  *morango_db_prepare          (MorangoDb     *self,
                                            const char    *sql,
                                            GError       **error);
/* Runs constant SQL (no values): DDL, PRAGMAs, temp tables. */
gboolean       morango_db_exec             (MorangoDb     *self,
                                            const char    *sql,
                                            GError       **error);

/* Steps once: returns SQLITE_ROW or SQLITE_DONE, or -1 with @error set
 * (the statement is then reset). */
int            morango_db_step             (MorangoDb     *self,
                                            sqlite3_stmt  *stmt,
                                            GError       **error);
/* Steps to SQLITE_DONE and resets. */
gboolean       morango_db_run              (MorangoDb     *self,
                                            sqlite3_stmt  *stmt,
                                            GError       **error);

/* Binding in one call.  @types has one letter per value:
 *   's' const char * (NULL binds NULL)   'i' gint64   'b' gboolean (int)
 *   'd' double                            'n' NULL (no argument consumed)
 * Values are always bound, never pasted into SQL. */
gboolean       morango_db_bind             (MorangoDb     *self,
                                            sqlite3_stmt  *stmt,
                                            GError       **error,
                                            const char    *types,
                                            ...);
gboolean       morango_db_bind_valist      (MorangoDb     *self,
                                            sqlite3_stmt  *stmt,
                                            GError       **error,
                                            const char    *types,
                                            va_list        args);
/* Prepare (cached), bind, run to completion. */
gboolean       morango_db_execute          (MorangoDb     *self,
                                            GError       **error,
                                            const char    *sql,
                                            const char    *types,
                                            ...);
/* FALSE: cells freed from now on are not zeroed, even where SQLite was
 * built to zero them; TRUE: back to how it was built.  Only around
 * writes that free copies of data kept elsewhere. */
gboolean       morango_db_set_zero_freed   (MorangoDb     *self,
                                            gboolean       zero,
                                            GError       **error);
/* Like morango_db_execute() for a DELETE of rows that are copies of
 * data kept elsewhere (the transfer buffers): the freed space is not
 * zeroed even where SQLite was built to zero it. */
gboolean       morango_db_delete_copies    (MorangoDb     *self,
                                            GError       **error,
                                            const char    *sql,
                                            const char    *types,
                                            ...);
/* Prepare, bind, step once.  Returns TRUE and sets *@found to whether a
 * row came back; the value of column 0 is stored in @out. */
gboolean       morango_db_query_int64      (MorangoDb     *self,
                                            gint64        *out,
                                            gboolean      *found,
                                            GError       **error,
                                            const char    *sql,
                                            const char    *types,
                                            ...);
gboolean       morango_db_query_text       (MorangoDb     *self,
                                            char         **out,
                                            GError       **error,
                                            const char    *sql,
                                            const char    *types,
                                            ...);

/* Whether a transaction is open: a stage that runs inside a caller's
 * sees writes a second connection cannot. */
gboolean       morango_db_in_transaction   (MorangoDb     *self);

/* One owner per transaction.  morango_transaction_begin() opens a level
 * (BEGIN IMMEDIATE outermost, a savepoint inside another);
 * morango_transaction_commit() commits it, and on failure rolls that
 * level back itself, so the caller never rolls back after it; freeing a
 * transaction that was not committed rolls its level back.  Levels end
 * innermost first.  Use as
 *
 *   g_autoptr(MorangoTransaction) tx = morango_transaction_begin (db, monitor, error);
 *   if (tx == NULL || !work (...) || !morango_transaction_commit (tx, error))
 *     return FALSE;
 *
 * With a @monitor (may be NULL), statements run while the level is open
 * are interrupted when it is cancelled (G_IO_ERROR_CANCELLED) or its
 * fault hook fails; the fault hook is also asked at "commit". */
typedef struct _MorangoTransaction MorangoTransaction;

MorangoTransaction *morango_transaction_begin  (MorangoDb           *db,
                                                MorangoMonitor      *monitor,
                                                GError             **error);
gboolean            morango_transaction_commit (MorangoTransaction  *self,
                                                GError             **error);
void                morango_transaction_free   (MorangoTransaction  *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MorangoTransaction, morango_transaction_free)

/* Fills @error from the connection's last error; always returns FALSE. */
gboolean       morango_db_set_error        (MorangoDb     *self,
                                            GError       **error,
                                            const char    *context);
gint64         morango_db_changes          (MorangoDb     *self);

/* The time now as Morango's tables store it: naive UTC text,
 * "YYYY-MM-DD HH:MM:SS.ffffff" (protocol §1.1). */
char          *morango_db_now_text         (void);

/* Column helpers that never return NULL for text. */
static inline const char *
morango_db_column_text (sqlite3_stmt *stmt, int col)
{
  const unsigned char *t = sqlite3_column_text (stmt, col);
  return t ? (const char *) t : "";
}

G_END_DECLS
