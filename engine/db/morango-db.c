/* morango-db.c: one SQLite connection
 *
 * SPDX-License-Identifier: MIT
 */

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "morango-db.h"
#include "morango-db-private.h"
#include "morango-monitor.h"
#include "morango-i18n-private.h"

/* Written into the file header so that we recognise our own databases
 * and refuse anybody else's ("MRNG"). */
#define MORANGO_APPLICATION_ID 0x4d524e47

/* WAL frames after which a checkpoint is due: SQLite's own default. */
#define CHECKPOINT_PAGES 1000

/* The WAL only starts over when a writer finds it wholly copied, which
 * a checkpoint running beside a busy writer may never manage: past this
 * many frames (about 320 MB of 16 KiB pages) the committing thread waits for
 * the checkpoint under way and copies the rest itself, as SQLite's
 * automatic checkpoint would, so that the log stays bounded. */
#define CHECKPOINT_PAGES_MAX 20000

/* Checkpoints run on a thread of their own ("morango-checkpoint",
 * started by the first commit that finds a checkpoint due, joined by
 * checkpointer_free() when the MorangoDb is finalized), with a raw
 * connection of its own that never leaves this file, instead of inside
 * whichever commit crossed the threshold.  A
 * passive checkpoint copies committed frames into the database file
 * (and syncs both, as synchronous=NORMAL asks) while the writer goes
 * on; on a big sync this took a tenth of the time of every stage.
 * Commits are written exactly as before and each checkpoint syncs as
 * before; only the moment of the sync moves, a checkpoint's length
 * later at most.  Under synchronous=NORMAL a commit is durable once a
 * later sync covers it, so after a power cut (not a crash) the last
 * commits may be lost over that slightly longer window, as they already
 * could; atomicity is untouched. */
typedef struct {
  char     *path;
  GThread  *thread;
  GMutex    lock;
  GCond     cond;
  gboolean  due;
  gboolean  running;
  gboolean  quit;
} Checkpointer;

struct _MorangoDb
{
  GObject       parent_instance;
  sqlite3      *handle;
  char         *path;
  GThread      *owner;        /* the one thread that may use it; NULL when released */
  gboolean      read_only;    /* a reader: no transactions, no writes */
  GPtrArray    *functions;    /* Function *, registered on readers too */
  GHashTable   *stmts;        /* const char *sql -> sqlite3_stmt * */
  guint         depth;        /* transaction nesting */
  int           schema_version;
  int           secure_delete; /* as SQLite was built: 1 zeroes deleted content */
  Checkpointer *checkpointer; /* NULL in memory */
  MorangoMonitor *monitor;    /* of the outermost transaction begun with one */
  guint         monitor_depth; /* the depth that transaction holds */
  GCancellable *cancellable;  /* a reader's: stops its statements */
  gboolean      write_denied; /* read-only because the file or folder cannot be written */
  char         *open_name;    /* what SQLite opens: the path, or an immutable URI */
};

G_DEFINE_FINAL_TYPE (MorangoDb, morango_db, G_TYPE_OBJECT)

/* Each entry moves the schema from version i to i + 1.  Tables follow
 * the protocol reference (§1.17) so that the SQL there applies as is,
 * with the extra indexes its §12 recommends. */
static const char *migrations[] = {
  /* 0 -> 1 */
  "CREATE TABLE morango_meta ("
  "  key text PRIMARY KEY, value text NOT NULL);"
  "CREATE TABLE morango_databaseidmodel ("
  "  id char(32) PRIMARY KEY, current integer NOT NULL DEFAULT 1,"
  "  date_generated text NOT NULL, initial_instance_id varchar(32) NOT NULL DEFAULT '');"
  "CREATE TABLE morango_instanceidmodel ("
  "  id char(32) PRIMARY KEY, platform text NOT NULL, hostname text NOT NULL,"
  "  sysversion text NOT NULL, node_id varchar(20) NOT NULL DEFAULT '',"
  "  database_id char(32) NOT NULL REFERENCES morango_databaseidmodel(id),"
  "  counter integer NOT NULL DEFAULT 0, current integer NOT NULL DEFAULT 1,"
  "  db_path varchar(1000) NOT NULL, system_id varchar(100) NOT NULL DEFAULT '');"
  "CREATE TABLE morango_scopedefinition ("
  "  id varchar(20) PRIMARY KEY, profile varchar(20) NOT NULL, version integer NOT NULL,"
  "  primary_scope_param_key varchar(20) NOT NULL DEFAULT '', description text NOT NULL,"
  "  read_filter_template text NOT NULL, write_filter_template text NOT NULL,"
  "  read_write_filter_template text NOT NULL);"
  "CREATE TABLE morango_certificate ("
  "  id char(32) PRIMARY KEY, parent_id char(32) REFERENCES morango_certificate(id),"
  "  profile varchar(20) NOT NULL,"
  "  scope_definition_id varchar(20) NOT NULL,"
  "  scope_version integer NOT NULL, scope_params text NOT NULL, public_key text NOT NULL,"
  "  salt varchar(32) NOT NULL DEFAULT '', serialized text NOT NULL, signature text NOT NULL,"
  "  private_key text, seq integer NOT NULL);"
  "CREATE INDEX morango_certificate_parent ON morango_certificate(parent_id);"
  "CREATE TABLE morango_trustedroot ("
  "  id char(32) PRIMARY KEY, reason text NOT NULL, added text NOT NULL);"
  "CREATE TABLE morango_nonce (id char(32) PRIMARY KEY, timestamp text NOT NULL,"
  "  ip varchar(100) NOT NULL DEFAULT '');"
  "CREATE TABLE morango_sharedkey (id integer PRIMARY KEY AUTOINCREMENT,"
  "  public_key text NOT NULL, private_key text NOT NULL, current integer NOT NULL DEFAULT 1);"
  "CREATE TABLE morango_syncsession ("
  "  id char(32) PRIMARY KEY, start_timestamp text NOT NULL, last_activity_timestamp text NOT NULL,"
  "  active integer NOT NULL DEFAULT 1, is_server integer NOT NULL DEFAULT 0,"
  "  client_certificate_id char(32), server_certificate_id char(32),"
  "  profile varchar(40) NOT NULL, connection_kind varchar(10) NOT NULL,"
  "  connection_path varchar(1000) NOT NULL, client_ip varchar(100) NOT NULL DEFAULT '',"
  "  server_ip varchar(100) NOT NULL DEFAULT '', client_instance_id char(32),"
  "  client_instance_json text NOT NULL DEFAULT '{}', server_instance_id char(32),"
  "  server_instance_json text NOT NULL DEFAULT '{}', extra_fields text NOT NULL DEFAULT '{}',"
  "  process_id integer);"
  "CREATE TABLE morango_transfersession ("
  "  id char(32) PRIMARY KEY, filter text NOT NULL, push integer NOT NULL,"
  "  active integer NOT NULL DEFAULT 1, records_transferred integer NOT NULL DEFAULT 0,"
  "  records_total integer, bytes_sent integer DEFAULT 0, bytes_received integer DEFAULT 0,"
  "  sync_session_id char(32) NOT NULL REFERENCES morango_syncsession(id),"
  "  start_timestamp text NOT NULL, last_activity_timestamp text NOT NULL,"
  "  client_fsic text NOT NULL DEFAULT '{}', server_fsic text NOT NULL DEFAULT '{}',"
  "  transfer_stage varchar(20), transfer_stage_status varchar(20));"
  "CREATE INDEX morango_transfersession_ss ON morango_transfersession(sync_session_id);"
  "CREATE TABLE morango_deletedmodels (id char(32) PRIMARY KEY, profile varchar(40) NOT NULL);"
  "CREATE TABLE morango_harddeletedmodels (id char(32) PRIMARY KEY, profile varchar(40) NOT NULL);"
  "CREATE TABLE morango_store ("
  "  id char(32) PRIMARY KEY, profile varchar(40) NOT NULL, serialized text NOT NULL DEFAULT '',"
  "  deleted integer NOT NULL DEFAULT 0, hard_deleted integer NOT NULL DEFAULT 0,"
  "  last_saved_instance char(32) NOT NULL, last_saved_counter integer NOT NULL,"
  "  partition text NOT NULL, source_id varchar(96) NOT NULL, model_name varchar(40) NOT NULL,"
  "  conflicting_serialized_data text NOT NULL DEFAULT '', _self_ref_fk varchar(32) NOT NULL DEFAULT '',"
  "  dirty_bit integer NOT NULL DEFAULT 0, deserialization_error text NOT NULL DEFAULT '',"
  "  last_transfer_session_id char(32));"
  "CREATE INDEX idx_morango_store_partition ON morango_store(partition);"
  "CREATE INDEX idx_morango_deserialize ON morango_store(profile, model_name, partition, dirty_bit) WHERE dirty_bit = 1;"
  "CREATE INDEX morango_store_lts ON morango_store(last_transfer_session_id);"
  "CREATE INDEX morango_store_lsi ON morango_store(last_saved_instance, last_saved_counter);"
  "CREATE TABLE morango_recordmaxcounter ("
  "  id integer PRIMARY KEY AUTOINCREMENT, instance_id char(32) NOT NULL, counter integer NOT NULL,"
  "  store_model_id char(32) NOT NULL REFERENCES morango_store(id),"
  "  UNIQUE (store_model_id, instance_id));"
  "CREATE INDEX morango_rmc_instance ON morango_recordmaxcounter(instance_id);"
  "CREATE TABLE morango_databasemaxcounter ("
  "  id integer PRIMARY KEY AUTOINCREMENT, instance_id char(32) NOT NULL, counter integer NOT NULL,"
  "  partition varchar(128) NOT NULL DEFAULT '', UNIQUE (instance_id, partition));"
  "CREATE TABLE morango_buffer ("
  "  id integer PRIMARY KEY AUTOINCREMENT, profile varchar(40) NOT NULL,"
  "  serialized text NOT NULL DEFAULT '', deleted integer NOT NULL DEFAULT 0,"
  "  hard_deleted integer NOT NULL DEFAULT 0, last_saved_instance char(32) NOT NULL,"
  "  last_saved_counter integer NOT NULL, partition text NOT NULL, source_id varchar(96) NOT NULL,"
  "  model_name varchar(40) NOT NULL, conflicting_serialized_data text NOT NULL DEFAULT '',"
  "  _self_ref_fk varchar(32) NOT NULL DEFAULT '',"
  "  transfer_session_id char(32) NOT NULL REFERENCES morango_transfersession(id),"
  "  model_uuid char(32) NOT NULL, UNIQUE (transfer_session_id, model_uuid));"
  "CREATE TABLE morango_recordmaxcounterbuffer ("
  "  id integer PRIMARY KEY AUTOINCREMENT, instance_id char(32) NOT NULL, counter integer NOT NULL,"
  "  transfer_session_id char(32) NOT NULL REFERENCES morango_transfersession(id),"
  "  model_uuid char(32) NOT NULL);"
  "CREATE INDEX morango_rmcb_model_uuid ON morango_recordmaxcounterbuffer(model_uuid);"
  "CREATE INDEX morango_rmcb_ts ON morango_recordmaxcounterbuffer(transfer_session_id, model_uuid);",
  /* 1 -> 2: the FSIC relevance test and queuing look store rows up by
   * instance and partition range, then test the counter.  One index with
   * all three serves both (the counter test stays inside the index) and
   * replaces (instance, counter): every index costs dequeue writes. */
  "DROP INDEX morango_store_lsi;"
  "CREATE INDEX morango_store_lsi ON morango_store(last_saved_instance, partition, last_saved_counter);",
  /* 2 -> 3: every query on the RMCB names the transfer session, which
   * (transfer_session_id, model_uuid) serves; the model_uuid index only
   * cost a random insert per history row in queuing and transferring
   * and a delete in dequeuing and cleanup. */
  "DROP INDEX morango_rmcb_model_uuid;",
  /* 3 -> 4: no query reads last_transfer_session_id (Morango keeps it
   * for hooks that list what a transfer touched, which we do not have),
   * and its index cost a write for every record serialized or dequeued.
   * The column stays and is still written. */
  "DROP INDEX morango_store_lts;",
  /* 4 -> 5: the history, buffer and history buffer tables take plain
   * integer keys instead of AUTOINCREMENT.  Nothing relies on an id never
   * coming back once its row is gone (the transfer walks a session's
   * buffer by id, and a session's rows are only ever appended), while
   * AUTOINCREMENT reads and writes sqlite_sequence for every row inserted
   * one at a time: each record serialized and each one transferred.
   * SQLite cannot drop AUTOINCREMENT in place, so the tables are copied. */
  "CREATE TABLE morango_recordmaxcounter_v5 ("
  "  id integer PRIMARY KEY, instance_id char(32) NOT NULL, counter integer NOT NULL,"
  "  store_model_id char(32) NOT NULL REFERENCES morango_store(id),"
  "  UNIQUE (store_model_id, instance_id));"
  "INSERT INTO morango_recordmaxcounter_v5 (id, instance_id, counter, store_model_id)"
  "  SELECT id, instance_id, counter, store_model_id FROM morango_recordmaxcounter;"
  "DROP TABLE morango_recordmaxcounter;"
  "ALTER TABLE morango_recordmaxcounter_v5 RENAME TO morango_recordmaxcounter;"
  "CREATE INDEX morango_rmc_instance ON morango_recordmaxcounter(instance_id);"
  "CREATE TABLE morango_buffer_v5 ("
  "  id integer PRIMARY KEY, profile varchar(40) NOT NULL,"
  "  serialized text NOT NULL DEFAULT '', deleted integer NOT NULL DEFAULT 0,"
  "  hard_deleted integer NOT NULL DEFAULT 0, last_saved_instance char(32) NOT NULL,"
  "  last_saved_counter integer NOT NULL, partition text NOT NULL, source_id varchar(96) NOT NULL,"
  "  model_name varchar(40) NOT NULL, conflicting_serialized_data text NOT NULL DEFAULT '',"
  "  _self_ref_fk varchar(32) NOT NULL DEFAULT '',"
  "  transfer_session_id char(32) NOT NULL REFERENCES morango_transfersession(id),"
  "  model_uuid char(32) NOT NULL, UNIQUE (transfer_session_id, model_uuid));"
  "INSERT INTO morango_buffer_v5 (id, profile, serialized, deleted, hard_deleted,"
  "  last_saved_instance, last_saved_counter, partition, source_id, model_name,"
  "  conflicting_serialized_data, _self_ref_fk, transfer_session_id, model_uuid)"
  "  SELECT id, profile, serialized, deleted, hard_deleted,"
  "  last_saved_instance, last_saved_counter, partition, source_id, model_name,"
  "  conflicting_serialized_data, _self_ref_fk, transfer_session_id, model_uuid FROM morango_buffer;"
  "DROP TABLE morango_buffer;"
  "ALTER TABLE morango_buffer_v5 RENAME TO morango_buffer;"
  "CREATE TABLE morango_recordmaxcounterbuffer_v5 ("
  "  id integer PRIMARY KEY, instance_id char(32) NOT NULL, counter integer NOT NULL,"
  "  transfer_session_id char(32) NOT NULL REFERENCES morango_transfersession(id),"
  "  model_uuid char(32) NOT NULL);"
  "INSERT INTO morango_recordmaxcounterbuffer_v5 (id, instance_id, counter, transfer_session_id, model_uuid)"
  "  SELECT id, instance_id, counter, transfer_session_id, model_uuid FROM morango_recordmaxcounterbuffer;"
  "DROP TABLE morango_recordmaxcounterbuffer;"
  "ALTER TABLE morango_recordmaxcounterbuffer_v5 RENAME TO morango_recordmaxcounterbuffer;"
  "CREATE INDEX morango_rmcb_ts ON morango_recordmaxcounterbuffer(transfer_session_id, model_uuid);",
  /* 5 -> 6: the history and history buffer tables are keyed by what
   * every query looks them up by, WITHOUT ROWID.  A history row is then
   * one entry in one B-tree instead of a row plus one index entry
   * carrying the same ids again: serializing, queuing, transferring and
   * dequeuing write one B-tree less per record, and about a fifth fewer
   * bytes in all.  Nothing read the integer ids.  The history buffer
   * gains a key, (session, record, instance): should a peer list one
   * instance twice in a record's history, the buffer keeps the higher
   * counter, as dequeuing a conflict did before. */
  "CREATE TABLE morango_recordmaxcounter_v6 ("
  "  instance_id char(32) NOT NULL, counter integer NOT NULL,"
  "  store_model_id char(32) NOT NULL REFERENCES morango_store(id),"
  "  PRIMARY KEY (store_model_id, instance_id)) WITHOUT ROWID;"
  "INSERT INTO morango_recordmaxcounter_v6 (store_model_id, instance_id, counter)"
  "  SELECT store_model_id, instance_id, counter FROM morango_recordmaxcounter;"
  "DROP TABLE morango_recordmaxcounter;"
  "ALTER TABLE morango_recordmaxcounter_v6 RENAME TO morango_recordmaxcounter;"
  "CREATE INDEX morango_rmc_instance ON morango_recordmaxcounter(instance_id);"
  "CREATE TABLE morango_recordmaxcounterbuffer_v6 ("
  "  instance_id char(32) NOT NULL, counter integer NOT NULL,"
  "  transfer_session_id char(32) NOT NULL REFERENCES morango_transfersession(id),"
  "  model_uuid char(32) NOT NULL,"
  "  PRIMARY KEY (transfer_session_id, model_uuid, instance_id)) WITHOUT ROWID;"
  "INSERT INTO morango_recordmaxcounterbuffer_v6 (instance_id, counter, transfer_session_id,"
  "  model_uuid)"
  "  SELECT instance_id, counter, transfer_session_id, model_uuid FROM morango_recordmaxcounterbuffer"
  "  WHERE true ON CONFLICT DO UPDATE SET counter = max (counter, excluded.counter);"
  "DROP TABLE morango_recordmaxcounterbuffer;"
  "ALTER TABLE morango_recordmaxcounterbuffer_v6 RENAME TO morango_recordmaxcounterbuffer;",
  /* 6 -> 7: which store rows still wait to be deserialized moves from
   * the store's dirty_bit column into a table of its own.  Clearing the
   * bit rewrote every store row a sync brought in, and its entry in a
   * partial index, in the stage that otherwise only reads the store:
   * more than half the pages deserializing wrote.  Deleting a small
   * entry instead leaves the store rows alone.  An entry names the
   * record by its store row's profile and model, so that deserializing
   * walks one model's entries in id order with no second index. */
  "CREATE TABLE morango_store_pending ("
  "  profile varchar(40) NOT NULL, model_name varchar(40) NOT NULL, id char(32) NOT NULL,"
  "  PRIMARY KEY (profile, model_name, id)) WITHOUT ROWID;"
  "INSERT INTO morango_store_pending (profile, model_name, id)"
  "  SELECT profile, model_name, id FROM morango_store WHERE dirty_bit = 1;"
  "DROP INDEX idx_morango_deserialize;"
  "ALTER TABLE morango_store DROP COLUMN dirty_bit;",
  /* 7 -> 8: the peers this device knows and the history of its syncs
   * (sync/morango-known-peer, sync/morango-history).  Local bookkeeping,
   * never on the wire, so times are plain microseconds since the epoch.
   * A peer seen only as a client of our server has no address; one
   * address is one peer. */
  "CREATE TABLE morango_peer ("
  "  id char(32) PRIMARY KEY, address text UNIQUE, instance_id char(32),"
  "  roles integer NOT NULL DEFAULT 0, state text NOT NULL,"
  "  client_certificate_id char(32), server_certificate_id char(32),"
  "  added integer NOT NULL, last_success integer NOT NULL DEFAULT 0,"
  "  last_failure integer NOT NULL DEFAULT 0, last_failure_reason text);"
  "CREATE INDEX morango_peer_instance ON morango_peer(instance_id);"
  "CREATE TABLE morango_sync_history ("
  "  id integer PRIMARY KEY, peer_id char(32) NOT NULL, started integer NOT NULL,"
  "  duration integer NOT NULL DEFAULT 0, direction text NOT NULL,"
  "  records_sent integer NOT NULL DEFAULT 0, records_received integer NOT NULL DEFAULT 0,"
  "  bytes_sent integer NOT NULL DEFAULT 0, bytes_received integer NOT NULL DEFAULT 0,"
  "  result text NOT NULL, error text, transfer_session_ids text NOT NULL DEFAULT '');"
  "CREATE INDEX morango_sync_history_peer ON morango_sync_history(peer_id, started);",
  /* 8 -> 9: accounts that may ask this device for certificates (the
   * CSR's HTTP Basic credentials): a name, a password hash, and the
   * scope definitions the account may request, '*' for all of them. */
  "CREATE TABLE morango_account ("
  "  name text PRIMARY KEY, password text NOT NULL, created text NOT NULL);"
  "CREATE TABLE morango_account_scope ("
  "  account text NOT NULL REFERENCES morango_account(name),"
  "  scope_definition_id text NOT NULL,"
  "  PRIMARY KEY (account, scope_definition_id)) WITHOUT ROWID;",
  /* 9 -> 10: the fingerprint of the TLS certificate a peer served over
   * HTTPS showed when it was first trusted (its pin). */
  "ALTER TABLE morango_peer ADD COLUMN tls_fingerprint text;",
};

static gpointer
checkpointer_run (gpointer data)
{
  Checkpointer *c = data;
  sqlite3 *handle = NULL;

  /* A read first, so that the connection finds the WAL; while other
   * programs set the file up or write it, the read waits as theirs do. */
  if (sqlite3_open_v2 (c->path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                       NULL) != SQLITE_OK ||
      sqlite3_busy_timeout (handle, 30000) != SQLITE_OK ||
      sqlite3_exec (handle, "PRAGMA schema_version", NULL, NULL, NULL) != SQLITE_OK)
    {
      g_warning ("checkpoints of %s will wait for the database to close: %s", c->path,
                 handle ? sqlite3_errmsg (handle) : "out of memory");
      sqlite3_close_v2 (handle);
      return NULL;
    }

  g_mutex_lock (&c->lock);
  for (;;)
    {
      while (!c->due && !c->quit)
        g_cond_wait (&c->cond, &c->lock);
      if (c->quit)
        break;
      c->due = FALSE;
      c->running = TRUE;
      g_mutex_unlock (&c->lock);
      /* Passive: it never waits, and never makes the writer wait.
       * Busy (another checkpoint in the way) is fine: the next commit
       * asks again. */
      sqlite3_wal_checkpoint_v2 (handle, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
      g_mutex_lock (&c->lock);
      c->running = FALSE;
      g_cond_broadcast (&c->cond);
    }
  g_mutex_unlock (&c->lock);
  sqlite3_close_v2 (handle);
  return NULL;
}

/* Called by SQLite after every commit, with the WAL size in frames.
 * Replaces the automatic checkpoint. */
static int
wal_hook (void       *data,
          sqlite3    *handle,
          const char *name,
          int         n_frames)
{
  Checkpointer *c = data;

  if (n_frames < CHECKPOINT_PAGES)
    return SQLITE_OK;
  g_mutex_lock (&c->lock);
  if (n_frames >= CHECKPOINT_PAGES_MAX)
    {
      while (c->running)
        g_cond_wait (&c->cond, &c->lock);
      g_mutex_unlock (&c->lock);
      sqlite3_wal_checkpoint_v2 (handle, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
      return SQLITE_OK;
    }
  /* Joined by checkpointer_free(). */
  if (c->thread == NULL)
    c->thread = g_thread_new ("morango-checkpoint", checkpointer_run, c);
  c->due = TRUE;
  g_cond_signal (&c->cond);
  g_mutex_unlock (&c->lock);
  return SQLITE_OK;
}

static Checkpointer *
checkpointer_new (const char *path)
{
  Checkpointer *c = g_new0 (Checkpointer, 1);

  c->path = g_strdup (path);
  g_mutex_init (&c->lock);
  g_cond_init (&c->cond);
  return c;
}

/* Stops the thread (after the checkpoint under way, if any) and closes
 * its connection, so that ours is the last to close and, as before,
 * checkpoints everything and removes the WAL. */
static void
checkpointer_free (Checkpointer *c)
{
  g_mutex_lock (&c->lock);
  c->quit = TRUE;
  g_cond_signal (&c->cond);
  g_mutex_unlock (&c->lock);
  if (c->thread != NULL)
    g_thread_join (c->thread);
  g_mutex_clear (&c->lock);
  g_cond_clear (&c->cond);
  g_free (c->path);
  g_free (c);
}

/* ---- one thread at a time ---- */

static gboolean G_GNUC_NO_INLINE
wrong_thread (MorangoDb   *self,
              GThread     *owner,
              const char  *func,
              GError     **error)
{
  if (owner == NULL)
    g_critical ("%s: database %s used by thread %p, but it was released and not acquired "
                "again; a thread takes a connection with morango_db_acquire()",
                func, self->path, (void *) g_thread_self ());
  else
    g_critical ("%s: database %s used by thread %p, but it belongs to thread %p; hand it "
                "over with morango_db_release() and morango_db_acquire()",
                func, self->path, (void *) g_thread_self (), (void *) owner);
  g_set_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_WRONG_THREAD,
               _("The database %s was used by a thread it was not handed over to (%s)"),
               self->path, func);
  return FALSE;
}

/* Whether the calling thread owns @self; a critical and @error if not.
 * In every build type: one thread-local read and one compare. */
static inline gboolean
owned (MorangoDb   *self,
       const char  *func,
       GError     **error)
{
  GThread *owner = g_atomic_pointer_get (&self->owner);

  if (G_LIKELY (owner == g_thread_self ()))
    return TRUE;
  return wrong_thread (self, owner, func, error);
}

void
morango_db_release (MorangoDb *self)
{
  g_return_if_fail (MORANGO_IS_DB (self));

  if (!owned (self, G_STRFUNC, NULL))
    return;
  if (self->depth > 0)
    {
      g_critical ("%s: database %s released with a transaction open; a transaction "
                  "belongs to the thread that began it", G_STRFUNC, self->path);
      return;
    }
  g_atomic_pointer_set (&self->owner, NULL);
}

gboolean
morango_db_acquire (MorangoDb *self)
{
  GThread *owner;

  g_return_val_if_fail (MORANGO_IS_DB (self), FALSE);

  if (g_atomic_pointer_compare_and_exchange_full (&self->owner, NULL, g_thread_self (), &owner) ||
      owner == g_thread_self ())
    return TRUE;
  g_critical ("%s: database %s acquired by thread %p while thread %p still owns it; "
              "the owner must release it first", G_STRFUNC, self->path,
              (void *) g_thread_self (), (void *) owner);
  return FALSE;
}

/* ---- SQL functions ---- */

/* One registration, shared by a connection and the readers opened from
 * it: the last of them to close frees @user_data. */
typedef struct {
  char              *name;
  int                n_args;
  MorangoDbFunction  func;
  gpointer           user_data;
  GDestroyNotify     destroy;
} Function;

static void
function_clear (gpointer data)
{
  Function *f = data;

  if (f->destroy != NULL)
    f->destroy (f->user_data);
  g_free (f->name);
}

static void
function_unref (gpointer data)
{
  g_atomic_rc_box_release_full (data, function_clear);
}

static Function *
find_function (MorangoDb  *self,
               const char *name)
{
  for (guint i = 0; i < self->functions->len; i++)
    {
      Function *f = g_ptr_array_index (self->functions, i);

      if (g_ascii_strcasecmp (f->name, name) == 0)
        return f;
    }
  return NULL;
}

/* morango_hex32 (x): is x text of exactly 32 lowercase hex digits?  As
 * an SQL function it checks a whole transfer session's ids in one scan,
 * far faster than GLOB. */
static void
sql_hex32 (sqlite3_context *ctx,
           int              argc,
           sqlite3_value  **argv)
{
  const unsigned char *text;
  gboolean ok = FALSE;

  if (sqlite3_value_type (argv[0]) == SQLITE_TEXT &&
      sqlite3_value_bytes (argv[0]) == 32 &&
      (text = sqlite3_value_text (argv[0])) != NULL)
    {
      ok = TRUE;
      for (int i = 0; i < 32 && ok; i++)
        ok = g_ascii_isdigit (text[i]) || (text[i] >= 'a' && text[i] <= 'f');
    }
  sqlite3_result_int (ctx, ok);
}

/* The functions every connection has, and those registered on @self
 * (a reader's parent), onto @self->handle. */
static gboolean
add_functions (MorangoDb  *self,
               GPtrArray  *functions,
               GError    **error)
{
  if (sqlite3_create_function_v2 (self->handle, "morango_hex32", 1,
                                  SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
                                  NULL, sql_hex32, NULL, NULL, NULL) != SQLITE_OK)
    return morango_db_set_error (self, error, "registering morango_hex32");
  for (guint i = 0; functions != NULL && i < functions->len; i++)
    {
      Function *f = g_ptr_array_index (functions, i);

      if (sqlite3_create_function_v2 (self->handle, f->name, f->n_args, SQLITE_UTF8,
                                      f->user_data, f->func, NULL, NULL, NULL) != SQLITE_OK)
        return morango_db_set_error (self, error, "registering an SQL function");
      g_ptr_array_add (self->functions, g_atomic_rc_box_acquire (f));
    }
  return TRUE;
}

gboolean
morango_db_register_function (MorangoDb          *self,
                              const char         *name,
                              int                 n_args,
                              MorangoDbFunction   func,
                              gpointer            user_data,
                              GDestroyNotify      destroy,
                              GError            **error)
{
  Function *f;

  g_return_val_if_fail (MORANGO_IS_DB (self), FALSE);
  g_return_val_if_fail (name != NULL && func != NULL, FALSE);

  if (!owned (self, G_STRFUNC, error))
    return FALSE;
  if (find_function (self, name) != NULL || g_ascii_strcasecmp (name, "morango_hex32") == 0)
    {
      g_critical ("%s: %s is already registered on %s", G_STRFUNC, name, self->path);
      g_set_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_FAILED,
                   _("The SQL function %s is already registered (%s)"), name, self->path);
      return FALSE;
    }
  /* xDestroy stays NULL: the registration frees @user_data once no
   * connection has it. */
  if (sqlite3_create_function_v2 (self->handle, name, n_args, SQLITE_UTF8, user_data, func,
                                  NULL, NULL, NULL) != SQLITE_OK)
    return morango_db_set_error (self, error, "registering an SQL function");
  f = g_atomic_rc_box_new0 (Function);
  f->name = g_strdup (name);
  f->n_args = n_args;
  f->func = func;
  f->user_data = user_data;
  f->destroy = destroy;
  g_ptr_array_add (self->functions, f);
  return TRUE;
}

gpointer
morango_db_get_function_data (MorangoDb  *self,
                              const char *name)
{
  Function *f;

  g_return_val_if_fail (MORANGO_IS_DB (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  f = find_function (self, name);
  return f != NULL ? f->user_data : NULL;
}

static void
morango_db_finalize (GObject *object)
{
  MorangoDb *self = (MorangoDb *)object;

  g_clear_pointer (&self->stmts, g_hash_table_unref);
  g_clear_object (&self->cancellable);
  if (self->handle != NULL)
    sqlite3_wal_hook (self->handle, NULL, NULL);
  g_clear_pointer (&self->checkpointer, checkpointer_free);
  if (self->handle != NULL)
    sqlite3_close_v2 (self->handle);
  /* After the close: no statement can call a function any more. */
  g_clear_pointer (&self->functions, g_ptr_array_unref);
  g_clear_pointer (&self->path, g_free);
  g_clear_pointer (&self->open_name, g_free);

  G_OBJECT_CLASS (morango_db_parent_class)->finalize (object);
}

static void
morango_db_class_init (MorangoDbClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = morango_db_finalize;
}

static void
morango_db_init (MorangoDb *self)
{
  self->stmts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify) sqlite3_finalize);
  self->functions = g_ptr_array_new_with_free_func (function_unref);
  self->owner = g_thread_self ();
}

static gboolean
write_denied_error (MorangoDb  *self,
                    GError    **error)
{
  g_set_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_PERMISSION,
               _("Cannot write “%s”: permission denied"), self->path);
  return FALSE;
}

static int
code_for (int rc)
{
  switch (rc & 0xff)
    {
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return MORANGO_DB_ERROR_CORRUPT;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return MORANGO_DB_ERROR_BUSY;
    case SQLITE_CONSTRAINT:
      return MORANGO_DB_ERROR_CONSTRAINT;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
      return MORANGO_DB_ERROR_OPEN;
    default:
      return MORANGO_DB_ERROR_FAILED;
    }
}

gboolean
morango_db_set_error (MorangoDb   *self,
                      GError     **error,
                      const char  *context)
{
  int rc = sqlite3_extended_errcode (self->handle);

  /* A statement stopped by the progress handler: say why (a cancel, or
   * a test's fault hook), not that SQLite was interrupted. */
  if ((rc & 0xff) == SQLITE_INTERRUPT && self->monitor != NULL)
    return morango_monitor_take_interruption (self->monitor, error);
  if ((rc & 0xff) == SQLITE_INTERRUPT &&
      g_cancellable_set_error_if_cancelled (self->cancellable, error))
    return FALSE;

  if (self->write_denied && (rc & 0xff) == SQLITE_READONLY)
    return write_denied_error (self, error);
  g_set_error (error, MORANGO_DB_ERROR,
               self->read_only && (rc & 0xff) == SQLITE_READONLY ? MORANGO_DB_ERROR_READ_ONLY
                                                                 : code_for (rc),
               "%s%s%s (%s)",
               context ? context : "", context ? ": " : "",
               sqlite3_errmsg (self->handle), self->path);
  return FALSE;
}

/* Inside a level whose transaction SQLite rolled back (an interrupted
 * write), nothing more may run: each statement would commit on its own. */
static gboolean
transaction_intact (MorangoDb  *self,
                    GError    **error)
{
  if (G_LIKELY (self->depth == 0 || !sqlite3_get_autocommit (self->handle)))
    return TRUE;
  g_set_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_FAILED,
               _("The transaction was rolled back by an interrupted statement; "
               "nothing more runs in it (%s)"), self->path);
  return FALSE;
}

gboolean
morango_db_exec (MorangoDb   *self,
                 const char  *sql,
                 GError     **error)
{
  g_return_val_if_fail (MORANGO_IS_DB (self), FALSE);

  if (!owned (self, G_STRFUNC, error) || !transaction_intact (self, error))
    return FALSE;
  if (sqlite3_exec (self->handle, sql, NULL, NULL, NULL) != SQLITE_OK)
    return morango_db_set_error (self, error, NULL);
  return TRUE;
}

sqlite3_stmt *
morango_db_prepare (MorangoDb   *self,
                    const char  *sql,
                    GError     **error)
{
  sqlite3_stmt *stmt;

  g_return_val_if_fail (MORANGO_IS_DB (self), NULL);

  if (!owned (self, G_STRFUNC, error) || !transaction_intact (self, error))
    return NULL;
  stmt = g_hash_table_lookup (self->stmts, sql);
  if (stmt != NULL)
    {
      sqlite3_reset (stmt);
      sqlite3_clear_bindings (stmt);
      return stmt;
    }

  if (sqlite3_prepare_v3 (self->handle, sql, -1, SQLITE_PREPARE_PERSISTENT,
                          &stmt, NULL) != SQLITE_OK)
    {
      morango_db_set_error (self, error, "preparing a statement");
      return NULL;
    }
  g_hash_table_insert (self->stmts, g_strdup (sql), stmt);
  return stmt;
}

int
morango_db_step (MorangoDb     *self,
                 sqlite3_stmt  *stmt,
                 GError       **error)
{
  int rc;

  if (!owned (self, G_STRFUNC, error))
    return -1;
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW || rc == SQLITE_DONE)
    return rc;
  morango_db_set_error (self, error, NULL);
  sqlite3_reset (stmt);
  return -1;
}

gboolean
morango_db_run (MorangoDb     *self,
                sqlite3_stmt  *stmt,
                GError       **error)
{
  int rc;

  while ((rc = morango_db_step (self, stmt, error)) == SQLITE_ROW)
    ;
  sqlite3_reset (stmt);
  return rc == SQLITE_DONE;
}

gboolean
morango_db_bind_valist (MorangoDb     *self,
                        sqlite3_stmt  *stmt,
                        GError       **error,
                        const char    *types,
                        va_list        args)
{
  int idx = 1;
  int rc = SQLITE_OK;

  if (!owned (self, G_STRFUNC, error))
    return FALSE;
  for (const char *t = types; t != NULL && *t != '\0'; t++, idx++)
    {
      switch (*t)
        {
        case 's':
          {
            const char *s = va_arg (args, const char *);
            rc = s ? sqlite3_bind_text (stmt, idx, s, -1, SQLITE_TRANSIENT)
                   : sqlite3_bind_null (stmt, idx);
          }
          break;
        case 'i':
          rc = sqlite3_bind_int64 (stmt, idx, va_arg (args, gint64));
          break;
        case 'b':
          rc = sqlite3_bind_int (stmt, idx, va_arg (args, int) ? 1 : 0);
          break;
        case 'd':
          rc = sqlite3_bind_double (stmt, idx, va_arg (args, double));
          break;
        case 'n':
          rc = sqlite3_bind_null (stmt, idx);
          break;
        default:
          g_return_val_if_reached (FALSE);
        }
      if (rc != SQLITE_OK)
        return morango_db_set_error (self, error, "binding a value");
    }
  return TRUE;
}

gboolean
morango_db_bind (MorangoDb     *self,
                 sqlite3_stmt  *stmt,
                 GError       **error,
                 const char    *types,
                 ...)
{
  va_list args;
  gboolean ret;

  va_start (args, types);
  ret = morango_db_bind_valist (self, stmt, error, types, args);
  va_end (args);
  return ret;
}

/* The cached statement for @sql with @args bound, or NULL with @error set. */
static sqlite3_stmt *
prepare_bound (MorangoDb   *self,
               GError     **error,
               const char  *sql,
               const char  *types,
               va_list      args)
{
  sqlite3_stmt *stmt = morango_db_prepare (self, sql, error);

  if (stmt == NULL || !morango_db_bind_valist (self, stmt, error, types, args))
    return NULL;
  return stmt;
}

gboolean
morango_db_execute (MorangoDb   *self,
                    GError     **error,
                    const char  *sql,
                    const char  *types,
                    ...)
{
  sqlite3_stmt *stmt;
  va_list args;

  va_start (args, types);
  stmt = prepare_bound (self, error, sql, types, args);
  va_end (args);
  return stmt != NULL && morango_db_run (self, stmt, error);
}

/* Debian builds SQLite with SECURE_DELETE, which zeroes every cell a
 * write frees; deleting or shrinking cell after cell on a page zeroes the
 * growing free block each time.  Where what is freed is a copy of data
 * kept elsewhere (the transfer buffers; entries of the list of store
 * rows waiting to be deserialized; the old version of an app row whose
 * dirty bit is cleared), the zeroing protects nothing and costs a fifth
 * of dequeuing.  Every other write keeps the library's setting, so
 * that a hard-deleted record's content is still wiped. */
gboolean
morango_db_set_zero_freed (MorangoDb  *self,
                           gboolean    zero,
                           GError    **error)
{
  g_return_val_if_fail (MORANGO_IS_DB (self), FALSE);

  if (!owned (self, G_STRFUNC, error))
    return FALSE;
  if (!self->secure_delete)
    return TRUE;
  /* The pragma acts when it is compiled: never a cached statement. */
  if (sqlite3_exec (self->handle, zero ? "PRAGMA secure_delete = 1" : "PRAGMA secure_delete = 0",
                    NULL, NULL, NULL) != SQLITE_OK)
    return morango_db_set_error (self, error, "switching secure_delete");
  return TRUE;
}

gboolean
morango_db_delete_copies (MorangoDb    *self,
                          GError      **error,
                          const char   *sql,
                          const char   *types,
                          ...)
{
  sqlite3_stmt *stmt;
  va_list args;
  gboolean ok;

  g_return_val_if_fail (MORANGO_IS_DB (self), FALSE);
  g_return_val_if_fail (g_ascii_strncasecmp (sql, "DELETE ", 7) == 0, FALSE);

  va_start (args, types);
  stmt = prepare_bound (self, error, sql, types, args);
  va_end (args);
  if (stmt == NULL)
    return FALSE;
  if (!morango_db_set_zero_freed (self, FALSE, error))
    {
      sqlite3_reset (stmt);
      return FALSE;
    }
  ok = morango_db_run (self, stmt, error);
  if (!morango_db_set_zero_freed (self, TRUE, NULL))
    g_warning ("could not restore secure_delete on %s: %s", self->path,
               sqlite3_errmsg (self->handle));
  return ok;
}

gboolean
morango_db_query_int64 (MorangoDb   *self,
                        gint64      *out,
                        gboolean    *found,
                        GError     **error,
                        const char  *sql,
                        const char  *types,
                        ...)
{
  sqlite3_stmt *stmt;
  va_list args;
  int rc;

  if (found)
    *found = FALSE;
  va_start (args, types);
  stmt = prepare_bound (self, error, sql, types, args);
  va_end (args);
  if (stmt == NULL || (rc = morango_db_step (self, stmt, error)) < 0)
    return FALSE;
  if (rc == SQLITE_ROW)
    {
      if (out)
        *out = sqlite3_column_int64 (stmt, 0);
      if (found)
        *found = TRUE;
    }
  sqlite3_reset (stmt);
  return TRUE;
}

gboolean
morango_db_query_text (MorangoDb   *self,
                       char       **out,
                       GError     **error,
                       const char  *sql,
                       const char  *types,
                       ...)
{
  sqlite3_stmt *stmt;
  va_list args;
  int rc;

  *out = NULL;
  va_start (args, types);
  stmt = prepare_bound (self, error, sql, types, args);
  va_end (args);
  if (stmt == NULL || (rc = morango_db_step (self, stmt, error)) < 0)
    return FALSE;
  if (rc == SQLITE_ROW && sqlite3_column_type (stmt, 0) != SQLITE_NULL)
    *out = g_strdup (morango_db_column_text (stmt, 0));
  sqlite3_reset (stmt);
  return TRUE;
}

/* ---- scoped transactions ---- */

struct _MorangoTransaction
{
  MorangoDb *db;
  guint      level;        /* depth once begun: 1 is the outermost */
  gboolean   finished;     /* committed or rolled back */
};

/* SQLite instructions between two looks at the monitor: a few tens of
 * microseconds of work. */
#define PROGRESS_OPS 4096

static int
progress_handler (void *data)
{
  MorangoDb *self = data;

  return morango_monitor_interrupt_due (self->monitor) ? 1 : 0;
}

static void
set_progress_handler (MorangoDb *self,
                      gboolean   on)
{
  if (on && self->monitor != NULL)
    sqlite3_progress_handler (self->handle, PROGRESS_OPS, progress_handler, self);
  else
    sqlite3_progress_handler (self->handle, 0, NULL, NULL);
}

/* Ends the innermost level without committing it.  A cancelled monitor
 * must not interrupt the rollback itself. */
static void
rollback_level (MorangoDb *self)
{
  g_autofree char *sql = NULL;

  set_progress_handler (self, FALSE);
  /* SQLite itself may have ended the whole transaction, every level of
   * it: a failed COMMIT can, and so does an INSERT, UPDATE or DELETE
   * that is interrupted (a cancel).  Then there is nothing to roll back. */
  if (sqlite3_get_autocommit (self->handle))
    ;
  else if (self->depth == 1)
    {
      if (sqlite3_exec (self->handle, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
        g_warning ("Rolling back failed: %s (%s)", sqlite3_errmsg (self->handle), self->path);
    }
  else
    {
      sql = g_strdup_printf ("ROLLBACK TO morango_sp%u; RELEASE morango_sp%u",
                             self->depth - 1, self->depth - 1);
      if (sqlite3_exec (self->handle, sql, NULL, NULL, NULL) != SQLITE_OK)
        g_warning ("Rolling back a savepoint failed: %s (%s)",
                   sqlite3_errmsg (self->handle), self->path);
    }
  self->depth--;
  set_progress_handler (self, TRUE);
}

/* Opens a level: BEGIN IMMEDIATE outermost, a savepoint inside another. */
static gboolean
begin_level (MorangoDb   *self,
             const char  *func,
             GError     **error)
{
  g_autofree char *sql = NULL;

  if (!owned (self, func, error))
    return FALSE;
  if (self->write_denied)
    return write_denied_error (self, error);
  if (self->read_only)
    {
      g_critical ("%s: %s is a reading connection; it has no transactions", func, self->path);
      g_set_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_READ_ONLY,
                   _("A reading connection cannot begin a transaction (%s)"), self->path);
      return FALSE;
    }
  if (self->depth == 0)
    sql = g_strdup ("BEGIN IMMEDIATE");
  else
    sql = g_strdup_printf ("SAVEPOINT morango_sp%u", self->depth);
  if (sqlite3_exec (self->handle, sql, NULL, NULL, NULL) != SQLITE_OK)
    return morango_db_set_error (self, error, self->depth == 0 ? "beginning a transaction"
                                                                : "opening a savepoint");
  self->depth++;
  return TRUE;
}

/* The transaction that installed the monitor takes it away as it ends. */
static void
drop_monitor (MorangoDb *self,
              guint      level)
{
  if (self->monitor != NULL && self->monitor_depth == level)
    {
      set_progress_handler (self, FALSE);
      g_clear_object (&self->monitor);
      self->monitor_depth = 0;
    }
}

MorangoTransaction *
morango_transaction_begin (MorangoDb       *db,
                           MorangoMonitor  *monitor,
                           GError         **error)
{
  MorangoTransaction *self;

  g_return_val_if_fail (MORANGO_IS_DB (db), NULL);
  g_return_val_if_fail (monitor == NULL || MORANGO_IS_MONITOR (monitor), NULL);

  if (!morango_monitor_check_cancelled (monitor, error) ||
      !begin_level (db, G_STRFUNC, error))
    return NULL;

  self = g_new0 (MorangoTransaction, 1);
  self->db = g_object_ref (db);
  self->level = db->depth;
  if (monitor != NULL && db->monitor == NULL)
    {
      db->monitor = g_object_ref (monitor);
      db->monitor_depth = self->level;
      set_progress_handler (db, TRUE);
    }
  return self;
}

gboolean
morango_transaction_commit (MorangoTransaction  *self,
                            GError             **error)
{
  MorangoDb *db;
  g_autofree char *sql = NULL;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (!self->finished, FALSE);
  db = self->db;
  if (!owned (db, G_STRFUNC, error))
    return FALSE;
  g_return_val_if_fail (db->depth == self->level, FALSE);

  self->finished = TRUE;
  if (!morango_monitor_check (db->monitor, "commit", 0, error))
    {
      rollback_level (db);
      drop_monitor (db, self->level);
      return FALSE;
    }

  /* A statement of this level or a nested one was interrupted, and
   * SQLite rolled the whole transaction back: the level cannot commit. */
  if (sqlite3_get_autocommit (db->handle))
    {
      g_set_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_FAILED,
                   _("The transaction was rolled back by an interrupted statement (%s)"), db->path);
      rollback_level (db);
      drop_monitor (db, self->level);
      return FALSE;
    }

  /* Nothing can interrupt the commit itself. */
  set_progress_handler (db, FALSE);
  if (self->level == 1)
    sql = g_strdup ("COMMIT");
  else
    sql = g_strdup_printf ("RELEASE morango_sp%u", self->level - 1);
  if (sqlite3_exec (db->handle, sql, NULL, NULL, NULL) != SQLITE_OK)
    {
      morango_db_set_error (db, error, self->level == 1 ? "committing" : "releasing a savepoint");
      rollback_level (db);
      drop_monitor (db, self->level);
      return FALSE;
    }
  db->depth--;
  drop_monitor (db, self->level);
  set_progress_handler (db, TRUE);
  return TRUE;
}

void
morango_transaction_free (MorangoTransaction *self)
{
  if (self == NULL)
    return;
  /* On the wrong thread the level stays open: only its thread may end it. */
  if (!self->finished && owned (self->db, G_STRFUNC, NULL))
    {
      if (self->db->depth == self->level)
        rollback_level (self->db);
      else
        g_critical ("A transaction was dropped while a nested one was still open (%s)",
                    self->db->path);
      drop_monitor (self->db, self->level);
    }
  g_object_unref (self->db);
  g_free (self);
}

gboolean
morango_db_in_transaction (MorangoDb *self)
{
  return self->depth > 0;
}

char *
morango_db_now_text (void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();

  return g_date_time_format (now, "%Y-%m-%d %H:%M:%S.%f");
}

gint64
morango_db_changes (MorangoDb *self)
{
  if (!owned (self, G_STRFUNC, NULL))
    return 0;
  return sqlite3_changes64 (self->handle);
}

const char *
morango_db_get_path (MorangoDb *self)
{
  return self->path;
}

MorangoDb *
morango_db_open_reader (MorangoDb  *self,
                        GError    **error)
{
  g_autoptr(MorangoDb) reader = NULL;

  g_return_val_if_fail (MORANGO_IS_DB (self), NULL);

  if (!owned (self, G_STRFUNC, error))
    return NULL;
  if (g_str_equal (self->path, ":memory:"))
    return NULL;
  reader = g_object_new (MORANGO_TYPE_DB, NULL);
  reader->path = g_strdup (self->path);
  reader->read_only = TRUE;
  reader->schema_version = self->schema_version;
  reader->secure_delete = self->secure_delete;
  reader->open_name = g_strdup (self->open_name ? self->open_name : self->path);
  if (sqlite3_open_v2 (reader->open_name, &reader->handle,
                       SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE |
                       SQLITE_OPEN_URI, NULL)
      != SQLITE_OK)
    {
      g_set_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_OPEN,
                   _("Cannot open “%s” for reading: %s"), self->path,
                   reader->handle ? sqlite3_errmsg (reader->handle) : "out of memory");
      return NULL;
    }
  sqlite3_busy_timeout (reader->handle, 5000);
  sqlite3_extended_result_codes (reader->handle, 1);
  /* Readers walk tables in order; a small page cache is enough. */
  if (!morango_db_exec (reader, "PRAGMA cache_size = -512", error) ||
      !add_functions (reader, self->functions, error))
    return NULL;
  return g_steal_pointer (&reader);
}

sqlite3 *
morango_db_get_handle (MorangoDb *self)
{
  g_return_val_if_fail (MORANGO_IS_DB (self), NULL);

  if (!owned (self, G_STRFUNC, NULL))
    return NULL;
  return self->handle;
}

static int
reader_progress (void *data)
{
  MorangoDb *self = data;

  return g_cancellable_is_cancelled (self->cancellable) ? 1 : 0;
}

void
morango_db_stop_on_cancel (MorangoDb    *self,
                           GCancellable *cancellable)
{
  g_return_if_fail (MORANGO_IS_DB (self));
  g_return_if_fail (self->read_only);

  g_set_object (&self->cancellable, cancellable);
  if (cancellable != NULL)
    sqlite3_progress_handler (self->handle, PROGRESS_OPS, reader_progress, self);
  else
    sqlite3_progress_handler (self->handle, 0, NULL, NULL);
}

gboolean
morango_db_is_read_only (MorangoDb *self)
{
  g_return_val_if_fail (MORANGO_IS_DB (self), FALSE);

  return self->read_only;
}

int
morango_db_get_schema_version (MorangoDb *self)
{
  return self->schema_version;
}

static gboolean
pragma_int (MorangoDb   *self,
            const char  *sql,
            int         *out,
            GError     **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc;

  if (sqlite3_prepare_v2 (self->handle, sql, -1, &stmt, NULL) != SQLITE_OK)
    return morango_db_set_error (self, error, NULL);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    *out = sqlite3_column_int (stmt, 0);
  sqlite3_finalize (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return morango_db_set_error (self, error, NULL);
  return TRUE;
}

/* The database holds private keys: like ssh with a key, refuse a file
 * that others may read or write rather than use it as it is.  A file or
 * folder this process cannot write is opened read-only and immutable
 * (SQLite then creates no -shm or -wal next to it, which would keep the
 * file's read-only mode once the owner fixes it), so that commands that
 * only read still work; writing says why it cannot. */
static gboolean
check_access (MorangoDb  *self,
              GError    **error)
{
  GStatBuf st;
  g_autofree char *dir = g_path_get_dirname (self->path);
  g_autofree char *wal = g_strconcat (self->path, "-wal", NULL);
  g_autofree char *escaped = NULL;

  if (g_stat (self->path, &st) != 0)
    {
      int saved = errno;
      g_set_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_OPEN,
                   _("Cannot open “%s”: %s"), self->path, g_strerror (saved));
      return FALSE;
    }
  if ((st.st_mode & 077) != 0)
    {
      g_set_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_INSECURE,
                   _("“%s” can be read or written by others (mode %04o), and it holds private "
                   "keys; it was not used (run “chmod 600 %s”)"),
                   self->path, (unsigned) (st.st_mode & 07777), self->path);
      return FALSE;
    }
  if (g_access (self->path, W_OK) == 0 && g_access (dir, W_OK) == 0)
    return TRUE;

  /* Changes still in the log would be missed by an immutable reader. */
  if (g_stat (wal, &st) == 0 && st.st_size > 0)
    {
      g_set_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_PERMISSION,
                   _("Cannot write “%s”: permission denied; it cannot be read either, as "
                   "changes are still in “%s”, which only a program that can write it "
                   "brings into the database"), self->path, wal);
      return FALSE;
    }
  self->read_only = TRUE;
  self->write_denied = TRUE;
  escaped = g_uri_escape_string (self->path, "/", FALSE);
  self->open_name = g_strconcat ("file:", escaped, "?immutable=1", NULL);
  return TRUE;
}

/* SQLite 3.40's quick_check reports "NULL value in <table>.<column>"
 * for every row of a WITHOUT ROWID table whose primary key columns are
 * not its first ones (the history tables since schema 6), whatever the
 * row holds.  Such a report is believed only when the column really
 * holds a NULL.  The names come from SQLite's own message about the
 * file's schema, are checked to name a column, and are quoted as
 * identifiers. */
static gboolean
is_false_null_report (MorangoDb  *self,
                      const char *line)
{
  static const char prefix[] = "NULL value in ";
  g_autofree char *table = NULL;
  g_autofree char *column = NULL;
  g_autofree char *sql = NULL;
  g_autoptr(GString) quoted_table = NULL;
  g_autoptr(GString) quoted_column = NULL;
  sqlite3_stmt *stmt = NULL;
  const char *dot;
  gboolean false_report = FALSE;

  if (line == NULL || !g_str_has_prefix (line, prefix) ||
      (dot = strchr (line + strlen (prefix), '.')) == NULL)
    return FALSE;
  table = g_strndup (line + strlen (prefix), dot - (line + strlen (prefix)));
  column = g_strdup (dot + 1);
  if (sqlite3_table_column_metadata (self->handle, "main", table, column,
                                     NULL, NULL, NULL, NULL, NULL) != SQLITE_OK)
    return FALSE;
  quoted_table = g_string_new (table);
  g_string_replace (quoted_table, "\"", "\"\"", 0);
  quoted_column = g_string_new (column);
  g_string_replace (quoted_column, "\"", "\"\"", 0);
  /* typeof(), because SQLite folds "IS NULL" on a NOT NULL column to
   * false without looking. */
  sql = g_strdup_printf ("SELECT NOT EXISTS (SELECT 1 FROM \"%s\" WHERE typeof (\"%s\") = 'null')",
                         quoted_table->str, quoted_column->str);
  if (sqlite3_prepare_v2 (self->handle, sql, -1, &stmt, NULL) == SQLITE_OK &&
      sqlite3_step (stmt) == SQLITE_ROW)
    false_report = sqlite3_column_int (stmt, 0) != 0;
  sqlite3_finalize (stmt);
  return false_report;
}

/* The files this process found healthy, by device and inode.  The
 * check reads every page, so its cost grows with the file (0.3 s for
 * 200k records): a server's pool, and every sync of an engine, would pay
 * it again and again for a file this process has been writing all
 * along.  A file replaced under the same name has another inode. */
static GMutex checked_lock;
static GHashTable *checked_files;

static char *
file_key (const char *path)
{
  GStatBuf st;

  if (g_stat (path, &st) != 0)
    return NULL;
  return g_strdup_printf ("%llu:%llu", (unsigned long long) st.st_dev, (unsigned long long) st.st_ino);
}

static gboolean
already_checked (const char *path)
{
  g_autofree char *key = file_key (path);
  gboolean found;

  if (key == NULL)
    return FALSE;
  g_mutex_lock (&checked_lock);
  found = checked_files != NULL && g_hash_table_contains (checked_files, key);
  g_mutex_unlock (&checked_lock);
  return found;
}

void
morango_db_forget_checked_files (void)
{
  g_mutex_lock (&checked_lock);
  g_clear_pointer (&checked_files, g_hash_table_unref);
  g_mutex_unlock (&checked_lock);
}

static void
remember_checked (const char *path)
{
  char *key = file_key (path);

  if (key == NULL)
    return;
  g_mutex_lock (&checked_lock);
  if (checked_files == NULL)
    checked_files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_hash_table_add (checked_files, key);
  g_mutex_unlock (&checked_lock);
}

/* Looks at the file before anything is written to it, so that a foreign
 * or damaged file stays exactly as it was. */
static gboolean
check_file (MorangoDb  *self,
            gboolean   *is_new,
            GError    **error)
{
  int app_id = 0, n_tables = 0, version = 0;
  g_autoptr(GError) local_error = NULL;

  gboolean read;

  /* One read transaction, so that the three answers come from the same
   * moment: read one by one, they could straddle another program's
   * setting up of the file and look like somebody else's database. */
  sqlite3_exec (self->handle, "BEGIN", NULL, NULL, NULL);
  read = pragma_int (self, "PRAGMA application_id", &app_id, &local_error) &&
         pragma_int (self, "SELECT count(*) FROM sqlite_schema", &n_tables, &local_error) &&
         pragma_int (self, "PRAGMA user_version", &version, &local_error);
  if (!sqlite3_get_autocommit (self->handle))
    sqlite3_exec (self->handle, "COMMIT", NULL, NULL, NULL);
  if (!read)
    {
      /* Another program holding the file past the timeout (setting it
       * up, say) says nothing about what the file is. */
      if (g_error_matches (local_error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_BUSY))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      g_set_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_CORRUPT,
                   _("“%s” is not a Morango Sync database: the file is not an SQLite "
                   "database or it is damaged (%s)"), self->path, local_error->message);
      return FALSE;
    }

  if (app_id == 0 && n_tables == 0 && version == 0)
    {
      *is_new = TRUE;
      return TRUE;
    }
  if (app_id != MORANGO_APPLICATION_ID)
    {
      g_set_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_NOT_MORANGO,
                   _("“%s” is an SQLite database, but not a Morango Sync database; "
                   "it was left untouched"), self->path);
      return FALSE;
    }
  if (version > MORANGO_DB_SCHEMA_VERSION)
    {
      g_set_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_TOO_NEW,
                   _("“%s” was written by a newer Morango Sync (schema %d, this build knows %d)"),
                   self->path, version, MORANGO_DB_SCHEMA_VERSION);
      return FALSE;
    }

  if (already_checked (self->path))
    {
      *is_new = FALSE;
      self->schema_version = version;
      return TRUE;
    }
  {
    sqlite3_stmt *stmt = NULL;
    g_autofree char *verdict = NULL;
    /* The same report comes once per row, and the check stops at the
     * 100th: each column is looked at once (a scan of its table), not
     * once per report.  All of it reads one snapshot, so the answer
     * cannot change between two reports. */
    g_autoptr(GHashTable) false_reports = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    int rc;

    if (sqlite3_prepare_v2 (self->handle, "PRAGMA quick_check(100)", -1, &stmt, NULL) != SQLITE_OK)
      return morango_db_set_error (self, error, NULL);
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
      {
        const char *line = (const char *) sqlite3_column_text (stmt, 0);

        if (g_strcmp0 (line, "ok") == 0 || (line != NULL && g_hash_table_contains (false_reports, line)))
          continue;
        if (is_false_null_report (self, line))
          {
            g_hash_table_add (false_reports, g_strdup (line));
            continue;
          }
        verdict = g_strdup (line ? line : "");
        break;
      }
    if (verdict == NULL && rc != SQLITE_DONE)
      verdict = g_strdup (sqlite3_errmsg (self->handle));
    sqlite3_finalize (stmt);
    if (verdict != NULL)
      {
        g_set_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_CORRUPT,
                     _("“%s” is damaged (%s); restore it from a backup"), self->path, verdict);
        return FALSE;
      }
  }
  remember_checked (self->path);

  *is_new = FALSE;
  self->schema_version = version;
  return TRUE;
}

static gboolean
migrate (MorangoDb  *self,
         GError    **error)
{
  g_autofree char *pragma = NULL;
  g_autoptr(MorangoTransaction) tx = NULL;

  if (self->schema_version >= MORANGO_DB_SCHEMA_VERSION)
    return TRUE;

  /* BEGIN IMMEDIATE: whoever gets the write lock first sets the file up
   * or migrates it; everybody else waits (the busy timeout) and then
   * finds the work done.  What check_file() saw before the lock may be
   * stale by now, so look again inside it. */
  if ((tx = morango_transaction_begin (self, NULL, error)) == NULL)
    return FALSE;
  {
    int app_id = 0, n_tables = 0, version = 0;

    if (!pragma_int (self, "PRAGMA application_id", &app_id, error) ||
        !pragma_int (self, "SELECT count(*) FROM sqlite_schema", &n_tables, error) ||
        !pragma_int (self, "PRAGMA user_version", &version, error))
      return FALSE;
    if (!(app_id == 0 && n_tables == 0 && version == 0) && app_id != MORANGO_APPLICATION_ID)
      {
        g_set_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_NOT_MORANGO,
                     _("“%s” is an SQLite database, but not a Morango Sync database; "
                     "it was left untouched"), self->path);
        return FALSE;
      }
    if (version > MORANGO_DB_SCHEMA_VERSION)
      {
        g_set_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_TOO_NEW,
                     _("“%s” was written by a newer Morango Sync (schema %d, this build knows %d)"),
                     self->path, version, MORANGO_DB_SCHEMA_VERSION);
        return FALSE;
      }
    self->schema_version = version;
  }
  if (self->schema_version == MORANGO_DB_SCHEMA_VERSION)
    return morango_transaction_commit (tx, error);
  for (int v = self->schema_version; v < MORANGO_DB_SCHEMA_VERSION; v++)
    if (!morango_db_exec (self, migrations[v], error))
      return FALSE;
  pragma = g_strdup_printf ("PRAGMA application_id = %d; PRAGMA user_version = %d",
                            MORANGO_APPLICATION_ID, MORANGO_DB_SCHEMA_VERSION);
  if (!morango_db_exec (self, pragma, error) ||
      !morango_transaction_commit (tx, error))
    return FALSE;
  self->schema_version = MORANGO_DB_SCHEMA_VERSION;
  return TRUE;
}

G_STATIC_ASSERT (G_N_ELEMENTS (migrations) == MORANGO_DB_SCHEMA_VERSION);

/* Switching a file to WAL takes an exclusive lock, which SQLite gives
 * up on at once (no busy handler) when another program is reading or
 * switching the same new file; it then answers with the mode it kept.
 * Try again for as long as the busy timeout, until the file says WAL. */
static gboolean
set_wal (MorangoDb  *self,
         GError    **error)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  for (;;)
    {
      sqlite3_stmt *stmt = NULL;
      gboolean wal = FALSE;
      int rc;

      rc = sqlite3_prepare_v2 (self->handle, "PRAGMA journal_mode = WAL", -1, &stmt, NULL);
      if (rc == SQLITE_OK)
        {
          rc = sqlite3_step (stmt);
          if (rc == SQLITE_ROW)
            wal = g_ascii_strcasecmp ((const char *) sqlite3_column_text (stmt, 0), "wal") == 0;
          sqlite3_finalize (stmt);
        }
      if (wal)
        return TRUE;
      if (rc != SQLITE_ROW && (rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
        return morango_db_set_error (self, error, "switching to WAL");
      if (g_get_monotonic_time () > deadline)
        {
          g_set_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_BUSY,
                       _("switching to WAL: the database stayed locked (%s)"), self->path);
          return FALSE;
        }
      g_usleep (2000 + g_random_int_range (0, 8000));
    }
}

/**
 * morango_db_open:
 * @path: a file path, or ":memory:"
 *
 * Opens or creates an engine database.  A new file is created with mode
 * 0600.  A file that is not ours, or is damaged, is refused and left as
 * it was.
 */
static gsize sqlite_configured;

MorangoDb *
morango_db_open (const char  *path,
                 GError     **error)
{
  g_autoptr(MorangoDb) self = NULL;
  gboolean in_memory;
  gboolean is_new = FALSE;

  g_return_val_if_fail (path != NULL, NULL);

  /* SQLite's memory statistics take a global mutex around every
   * allocation, a few percent of a sync; we never read them.  This only
   * works before SQLite initializes (otherwise it is refused, harmlessly,
   * and the statistics stay on). */
  if (g_once_init_enter (&sqlite_configured))
    {
      sqlite3_config (SQLITE_CONFIG_MEMSTATUS, 0);
      /* Statement journals keep SQLite's default: in memory up to
       * 64 KiB, then in a temporary file.  A stage's big INSERT…SELECT
       * journals every page it changes that the database held before
       * it, so held in memory they grow with what a peer holds: a
       * server taking a 1M-record push beside 1M records of its own
       * peaked at 123 MB with them in memory, 44 MB (at 300k: 60 and
       * 42) with the default.  It hands write(2) a fifth more bytes, but
       * the disk writes only about 2% more: the files are deleted when
       * their statement ends, before write-back (README, "The push's
       * server peak").  Thresholds of 256 KiB and more fail those
       * statements with SQLITE_FULL on Debian 12's SQLite 3.40.1. */
      /* A sort keeps up to the page cache's size in memory before it
       * writes a sorted run, but never less than this many pages (250
       * by default: 4 MB of 16 KiB pages), which a stage that lends its
       * cache to a sort (deserializing's index rebuild) could not go
       * below. */
      sqlite3_config (SQLITE_CONFIG_PMASZ, 64);
      g_once_init_leave (&sqlite_configured, 1);
    }

  in_memory = g_str_equal (path, ":memory:");
  self = g_object_new (MORANGO_TYPE_DB, NULL);
  self->path = g_strdup (path);

  if (!in_memory && !g_file_test (path, G_FILE_TEST_EXISTS))
    {
      int fd = g_open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

      if (fd < 0 && (errno == EACCES || errno == EPERM || errno == EROFS))
        {
          write_denied_error (self, error);
          return NULL;
        }
      if (fd < 0 && errno != EEXIST)
        {
          int saved = errno;
          g_set_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_OPEN,
                       _("Cannot create “%s”: %s"), path, g_strerror (saved));
          return NULL;
        }
      if (fd >= 0)
        close (fd);
    }

  if (!in_memory && !check_access (self, error))
    return NULL;

  if (sqlite3_open_v2 (self->open_name ? self->open_name : path, &self->handle,
                       (self->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
                       (in_memory ? SQLITE_OPEN_CREATE : 0) |
                       SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE | SQLITE_OPEN_URI,
                       NULL) != SQLITE_OK)
    {
      g_set_error (error, MORANGO_DB_ERROR, MORANGO_DB_ERROR_OPEN,
                   _("Cannot open “%s”: %s"), path,
                   self->handle ? sqlite3_errmsg (self->handle) : "out of memory");
      return NULL;
    }

  sqlite3_busy_timeout (self->handle, 5000);
  sqlite3_extended_result_codes (self->handle, 1);

  if (!check_file (self, &is_new, error) ||
      !add_functions (self, NULL, error))
    return NULL;

  /* Read-only: what reads it needs is there, or nothing can be done. */
  if (self->write_denied)
    {
      if (is_new || self->schema_version < MORANGO_DB_SCHEMA_VERSION)
        {
          write_denied_error (self, error);
          return NULL;
        }
      if (!morango_db_exec (self, "PRAGMA temp_store = MEMORY; PRAGMA cache_size = -12000", error))
        return NULL;
      return g_steal_pointer (&self);
    }

  /* Only now that the file is known to be ours (or empty) do we write. */
  /* A sync writes every record through several tables and indexes, and
   * WAL writes each dirty page twice (log, then checkpoint).  Bigger
   * pages mean fewer page reads, writes and B-tree levels for the same
   * cache memory.  bench-local-sync, 100k records, median of interleaved
   * runs: 4 KiB 4.54 s, 8 KiB 3.81 s, 16 KiB 3.18 s, 64 KiB 3.20 s.
   * 32 KiB came out level with 16 KiB at 100k and slower to dequeue and
   * deserialize at 300k, while every small transaction would log frames
   * twice as big, so 16 KiB it is.  The size can only be set before the
   * first table is created (and before WAL mode), so existing files keep
   * theirs. */
  if (is_new && !morango_db_exec (self, "PRAGMA page_size = 16384", error))
    return NULL;
  if ((!in_memory && !set_wal (self, error)) ||
      !morango_db_exec (self, "PRAGMA synchronous = NORMAL", error))
    return NULL;
  /* 12 MB of page cache per connection.  An index filled in random order
   * (a record's content id, say) keeps being written back and read in
   * again once its pages no longer fit: at 8 MB, deserializing 100k
   * records wrote 8,776 pages where 6,095 hold the result; at 12 MB it
   * writes 6,095, and creating the same records beforehand writes a
   * third less.  A local sync holds two connections, so the process
   * peaks at 35 MB instead of 27 MB; the target is 40 MB.
   *
   * Temporary tables and sorts go to files (unlinked on creation), so
   * that a sort bigger than the cache (a 1M-record index rebuilt by
   * deserializing) writes sorted runs instead of holding everything in
   * memory: temp_store = MEMORY never spills a sort.  The stages' temp
   * tables are small and stay in their own cache; statement journals
   * spill to files past 64 KiB (see the sqlite3_config() calls). */
  if (!morango_db_exec (self, "PRAGMA temp_store = FILE; PRAGMA cache_size = -12000", error))
    return NULL;
  {
    int on = 0;
    if (!pragma_int (self, "PRAGMA secure_delete", &on, error))
      return NULL;
    self->secure_delete = on != 0;
  }

  if (!migrate (self, error))
    return NULL;

  if (!in_memory)
    {
      self->checkpointer = checkpointer_new (path);
      sqlite3_wal_hook (self->handle, wal_hook, self->checkpointer);
    }

  return g_steal_pointer (&self);
}
