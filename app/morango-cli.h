/* morango-cli.h: shared pieces of the command-line peer
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Exit codes, documented in the README. */
enum {
  MORANGO_EXIT_OK       = 0,
  MORANGO_EXIT_FAILURE  = 1,   /* the operation failed; the message says why */
  MORANGO_EXIT_USAGE    = 2,   /* bad command line */
  MORANGO_EXIT_REFUSED  = 3,   /* input refused: invalid, untrusted or conflicting */
  MORANGO_EXIT_NOTFOUND = 4,   /* no such certificate, file or record */
  MORANGO_EXIT_UNREACHABLE = 5, /* the peer could not be reached, or the connection failed */
};

/* Text from outside (a file, a peer, the profile description, an engine
 * error quoting them) made safe for a terminal: C0 controls and DEL as
 * \xHH, C1 controls (U+0080–U+009F) as \u{HH}, bytes that are not UTF-8
 * as \xHH.  Other text, non-ASCII included, is kept as it is.  NULL gives
 * "(null)". */
char *morango_cli_safe             (const char *text);

/* JSON text for standard output: DEL and the C1 controls, which JSON
 * lets through raw inside strings, written as \u00HH.  The same JSON
 * value, nothing that drives a terminal. */
char *morango_cli_safe_json        (const char *json);

/* @label on standard output, padded with spaces to @width characters
 * (not bytes: "%-18s" would leave a translated label with accents short
 * and its value out of line). */
void  morango_cli_print_label      (const char *label,
                                    guint       width);

typedef struct {
  const char *name;
  const char *summary;
  int (*run) (const char *data_dir, int argc, char **argv);
} MorangoCliCommand;

/* `morango cert …` (morango-cli-cert.c). */
int   morango_cli_cert             (const char *data_dir,
                                    int         argc,
                                    char      **argv);

/* `morango serve`, `morango pair`, `morango sync` (morango-cli-net.c). */
int   morango_cli_serve            (const char *data_dir, int argc, char **argv);
int   morango_cli_pair             (const char *data_dir, int argc, char **argv);
int   morango_cli_sync             (const char *data_dir, int argc, char **argv);

/* `morango data …` (morango-cli-data.c). */
int   morango_cli_data             (const char *data_dir, int argc, char **argv);

/* `morango status`, `morango peers`, `morango cleanup`
 * (morango-cli-status.c). */
int   morango_cli_status           (const char *data_dir,
                                    int         argc,
                                    char      **argv);
int   morango_cli_peers            (const char *data_dir,
                                    int         argc,
                                    char      **argv);
int   morango_cli_cleanup          (const char *data_dir,
                                    int         argc,
                                    char      **argv);

/* `morango account …` (morango-cli-account.c). */
int   morango_cli_account          (const char *data_dir,
                                    int         argc,
                                    char      **argv);

/* Prints @prompt on standard error and reads one line from standard
 * input (a terminal) without echo into @line; a signal that ends the
 * program meanwhile gives the terminal back first.  FALSE at end of
 * input. */
gboolean morango_cli_read_quietly   (const char *prompt,
                                     char       *line,
                                     size_t      size);

/* A --param KEY=VALUE option's value added to *@params (made when
 * NULL); a malformed one, or a key given twice, is a G_OPTION_ERROR. */
gboolean morango_cli_take_param     (const char  *option_name,
                                     const char  *value,
                                     JsonObject **params,
                                     GError     **error);

/* The exit code of a failure (see the README): not found 4, refused 3,
 * a choice left to the user 2, anything else 1.  Network failures are
 * the network commands' to tell (5). */
int   morango_cli_exit_code         (const GError *error);

/* A secret (a passphrase, a password): the first line of @file, or,
 * when @file is NULL, a line typed without echo after @prompt, and
 * typed again after @again_prompt unless that is NULL.  NULL without
 * @error set when there is nothing to read it from (standard input is
 * not a terminal, or ended); NULL with @error set when @file cannot be
 * read, or when the two typed lines differ (MORANGO_ERROR_INVALID with
 * the message @differ).  The caller owns and should wipe the result. */
char *morango_cli_read_secret       (const char  *file,
                                     const char  *prompt,
                                     const char  *again_prompt,
                                     const char  *differ,
                                     GError     **error);

/* "morango @command: MESSAGE" on standard error, outside text in it
 * escaped; returns morango_cli_exit_code(). */
int   morango_cli_fail              (const char   *command,
                                     const GError *error);

/* $XDG_DATA_HOME/morango-sync. */
char *morango_cli_default_data_dir (void);

/* The data folder: the last --data-dir given, before or after the
 * command, else the default. */
const char *morango_cli_get_data_dir (void);

/* A GOptionContext for a command or subcommand: @entries, plus
 * --data-dir and --description, which every command accepts; --help is
 * handled by morango_cli_parse().  Callbacks of @entries get
 * @user_data.  Strings are looked up in the
 * program's translation domain. */
GOptionContext *morango_cli_context_new (const char         *parameter_string,
                                         const char         *summary,
                                         const GOptionEntry *entries,
                                         gpointer            user_data);

/* Ask morango_cli_parse() to end the help with the scope definitions of
 * the folder's profile. */
#define MORANGO_CLI_HELP_SCOPES "\x01scopes"

/* Parses the options of @command ("cert create-root") out of
 * @argc and @argv.  --help (anywhere before "--") prints the help, ended
 * by @help_extra (NULL: nothing; MORANGO_CLI_HELP_SCOPES: the scope
 * definitions), and gives MORANGO_EXIT_OK; a bad option gives
 * morango_cli_usage_error().  -1 when the caller goes on. */
int   morango_cli_parse             (GOptionContext *context,
                                     const char     *command,
                                     const char     *help_extra,
                                     int            *argc,
                                     char         ***argv);

/* One line on standard error, "morango @command: MESSAGE" (outside text
 * in it escaped), and a hint to run "morango @command --help";
 * returns MORANGO_EXIT_USAGE.  @command may be NULL. */
int   morango_cli_usage_error       (const char     *command,
                                     const char     *format,
                                     ...) G_GNUC_PRINTF (2, 3);

/* The scope definitions (MorangoScopeDefinition) of the folder's
 * profile, without creating a folder that does not exist: then those
 * of the description it would get.  The description's name goes to
 * @description (may be NULL). */
GPtrArray *morango_cli_scope_definitions (char   **description,
                                          GError **error);

/* Those definitions as a few lines of text for a help or an error. */
char *morango_cli_describe_scopes   (void);

/* The description named by --description (NULL: none); it wins over
 * $MORANGO_DESCRIPTION. */
void  morango_cli_set_description  (const char *description);

/* Opens (creating it and the folder, mode 0700, on first use) the engine
 * database <data-dir>/morango.db.  A new database takes the description
 * named by --description, else $MORANGO_DESCRIPTION, else
 * "kolibri-like"; an existing one keeps the description it was created
 * with, and one named that differs from it is refused. */
struct _MorangoStore *morango_cli_open_store (const char  *data_dir,
                                              GError     **error);

G_END_DECLS
