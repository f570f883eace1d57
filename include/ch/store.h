/*
 * ch/store.h - persistence in LMDB: the command log, fill records, group
 * commit and exact recovery.
 *
 * The engine is deterministic, so its state is a function of its inputs: the
 * store keeps every command (ch/command.h) in order, with the engine
 * configuration they ran under, and recovery replays them into a fresh
 * engine, which rebuilds books with time priority, positions, cash, the pool,
 * order ids and sequence numbers exactly. Every fill is also written as a
 * record (for audits and `chctl dump`), and a replay can be checked against
 * those records.
 *
 * Group commit: commands and fills of a batch are buffered and written in ONE
 * LMDB write transaction by ch_store_commit(); the caller releases replies and
 * events of the batch only after it returns CH_OK.
 *
 * Durability (ch_store_config.durability):
 *   CH_DURABLE_SYNC    (default) the commit is flushed to disk before
 *                      ch_store_commit() returns: an acknowledged batch
 *                      survives a process crash and a power loss (on a device
 *                      that honours flushes).
 *   CH_DURABLE_NOSYNC  the commit is in the OS page cache when it returns: it
 *                      survives a process crash (kill -9) but the last batches
 *                      may be lost on power loss or an OS crash.
 *
 * Failures: a full map is grown (doubled, up to map_max) and the batch
 * retried; a map that cannot grow, and any other
 * commit failure halts the store: that commit and every later one return
 * CH_EUNAVAILABLE (intake must stop), and ch_store_error() says why. Stale
 * reader slots of dead processes are cleared at open. A database written by
 * another schema version is refused.
 *
 * One writer: a store is used by one thread; one process opens a directory
 * once.
 */
#ifndef CH_STORE_H
#define CH_STORE_H

#include <stddef.h>

#include "ch/api.h"
#include "ch/command.h"
#include "ch/engine.h"
#include "ch/sha256.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CH_STORE_SCHEMA 1

typedef enum ch_durability { CH_DURABLE_SYNC = 0, CH_DURABLE_NOSYNC = 1 } ch_durability;

typedef struct ch_store_config {
    const char *dir; /**< created if missing (mode 0700) */
    ch_durability durability;
    size_t map_size; /**< initial map size in bytes (0: 64 MiB); grows on demand */
    size_t map_max;  /**< the map never grows beyond this (0: no bound); a batch
                          that does not fit then halts the store (MDB_MAP_FULL) */
} ch_store_config;

typedef struct ch_store ch_store;

/**
 * Open (or create) the store in cfg->dir.
 *
 * One writer per folder: a writer open (@p adopt false) takes an exclusive
 * lock on DIR/chd.lock (the holder's pid written in it) before it touches
 * anything, and keeps it until ch_store_close(); a second writer, in this
 * process or another, gets CH_EBUSY with the holder's pid in
 * ch_store_open_error(), and its refused open creates and changes nothing.
 * An @p adopt open is read-only (LMDB MDB_RDONLY): it takes no lock, creates
 * nothing and works beside a running writer (chctl dump).
 * @param engine_cfg  in: the configuration to run with; a new store records
 *                    it. For an existing store it must equal the recorded one
 *                    (else CH_EBADCONFIG) unless @p adopt is true, in which
 *                    case the recorded one is copied out (for tools).
 * @return CH_OK; CH_EBADCONFIG (schema or configuration mismatch, or no
 *         store to adopt: see ch_store_open_error()); CH_EBUSY (another
 *         writer holds the folder); CH_EIO (directory, LMDB).
 */
CH_API ch_err ch_store_open(const ch_store_config *cfg, ch_engine_config *engine_cfg, bool adopt,
                            ch_store **out);

/** Why the last ch_store_open() failed (static buffer, this thread's last call). */
CH_API const char *ch_store_open_error(void);

/** Close; NULL is a no-op. Buffered, uncommitted records are dropped. */
CH_API void ch_store_close(ch_store *st);

/**
 * Close and remove what this open created: the folder with everything in it
 * if the open made the folder, else the LMDB files if it made them, and the
 * lock file if it made it. For a start that fails after opening (a port in
 * use): it leaves the disk as it found it. NULL is a no-op.
 */
CH_API void ch_store_abandon(ch_store *st);

/** Sequence number of the last committed command (0 for none). */
CH_API uint64_t ch_store_last_seq(const ch_store *st);

/** True if the store halted after a failed commit. */
CH_API bool ch_store_halted(const ch_store *st);

/** Human text of the failure that halted the store ("" if none). */
CH_API const char *ch_store_error(const ch_store *st);

/**
 * Buffer a command for the current batch; @p seq (may be NULL) receives the
 * sequence number it will have. @return CH_OK; CH_EUNAVAILABLE (halted);
 * CH_EBADREQ (cannot encode); CH_ENOMEM.
 */
CH_API ch_err ch_store_log(ch_store *st, const ch_command *c, uint64_t *seq);

/** Buffer a fill record for the current batch. */
CH_API ch_err ch_store_record_fill(ch_store *st, const ch_fill *f);

/**
 * Write the batch in one transaction. @return CH_OK (durable per the mode);
 * CH_EUNAVAILABLE (the store halted, now or before; the batch is not stored
 * and must not be acknowledged); with a replicator, its refusal
 * (CH_ENOT_PRIMARY, CH_EUNAVAILABLE...), the store halted likewise.
 */
CH_API ch_err ch_store_commit(ch_store *st);

/**
 * A replicated log's append (ch/replog.h), called by ch_store_commit() before
 * the batch is written, with the batch's @p n commands from sequence
 * @p first, and the account keys and client order id replies written with
 * them, as records: u8 kind, u32 length (little-endian), the bytes:
 * CH_STORE_REC_COMMAND the encoded command (the bytes the store writes);
 * CH_STORE_REC_KEY u16 name length, the name, the key's SHA-256;
 * CH_STORE_REC_COID u16 key length, the key, the first reply. Fill records
 * are not sent: applying the commands makes them. Non-CH_OK: nothing is
 * written, the store halts and ch_store_commit() returns that code.
 */
enum { CH_STORE_REC_COMMAND = 1, CH_STORE_REC_KEY = 3, CH_STORE_REC_COID = 4 };
typedef ch_err (*ch_store_replicate_fn)(void *ctx, uint64_t first, uint32_t n, const uint8_t *recs,
                                        size_t len);

/**
 * Take writes again after a halt that only the replicator caused (nothing
 * failed locally: the batch it refused was not written). @return CH_OK;
 * CH_EUNAVAILABLE (the halt came from the disk: a restart is needed).
 */
CH_API ch_err ch_store_resume(ch_store *st);

/** Replicate every batch through @p fn before it is written (NULL: none). */
CH_API void ch_store_set_replicator(ch_store *st, ch_store_replicate_fn fn, void *ctx);

/** Drop the buffered batch. */
CH_API void ch_store_discard(ch_store *st);

/** Called for each replayed command with its sequence number and result (borrowed). */
typedef void (*ch_replay_fn)(void *ctx, uint64_t seq, const ch_command *c,
                             const ch_command_result *r);

/**
 * Replay every committed command, in order, into @p e (a fresh engine made
 * with the store's configuration); @p fn (may be NULL) sees each result.
 * @p n (may be NULL) receives how many. Commands that the engine rejected
 * when they ran are rejected again, the same way. @return CH_OK; CH_EBADREQ
 * (a damaged record: nothing after it is applied); CH_EIO.
 */
CH_API ch_err ch_store_replay(ch_store *st, ch_engine *e, ch_replay_fn fn, void *ctx, uint64_t *n);

/** As ch_store_replay(), from the command after @p after (a snapshot's
 *  sequence number; @p e holds that snapshot's state). */
CH_API ch_err ch_store_replay_from(ch_store *st, ch_engine *e, uint64_t after, ch_replay_fn fn,
                                   void *ctx, uint64_t *n);

/**
 * Store @p buf (ch_engine_snapshot() and whatever the caller adds) as the
 * state after command @p seq, in its own write transaction, and drop all but
 * the newest @p keep (>= 1) snapshots. Only between batches: @p seq must be
 * ch_store_last_seq() and nothing buffered. A snapshot is never needed for
 * correctness (the command log keeps every command): one that cannot be
 * written changes nothing else.
 * @return CH_OK; CH_EINVAL (a batch is buffered, a stale seq, keep 0, a
 * read-only open); CH_EUNAVAILABLE (halted); CH_EIO (not written: see
 * ch_store_snapshot_error()).
 */
CH_API ch_err ch_store_put_snapshot(ch_store *st, uint64_t seq, const uint8_t *buf, size_t len,
                                    unsigned keep);

/** Why the last ch_store_put_snapshot() failed ("" if none did). */
CH_API const char *ch_store_snapshot_error(const ch_store *st);

/**
 * The newest snapshot taken after a command before @p before (UINT64_MAX:
 * the newest of all): *buf malloc'ed (free()), its command's sequence number
 * in *seq; *buf NULL and *seq 0 if there is none. @return CH_OK; CH_EIO;
 * CH_ENOMEM.
 */
CH_API ch_err ch_store_get_snapshot(ch_store *st, uint64_t before, uint64_t *seq, uint8_t **buf,
                                    size_t *len);

/**
 * The engine's part of a snapshot as chd stores it: the blob begins with that
 * part's length (8 bytes, little-endian) and ch_engine_snapshot()'s bytes,
 * then the writer's own part. For readers of a pruned log (chctl dump).
 * @return false if @p len cannot hold it.
 */
CH_API bool ch_store_snapshot_engine(const uint8_t *blob, size_t len, const uint8_t **eng,
                                     size_t *elen);

/**
 * Drop the log's commands up to the oldest kept snapshot (each kept snapshot
 * can still be replayed forward; the whole log no longer can), in write
 * transactions of at most 65,536 commands. Fill records, keys and client
 * order ids are kept. Only between batches; @p removed (may be NULL) counts
 * the commands dropped. @return CH_OK (nothing to drop included); CH_EINVAL
 * (a batch buffered, a read-only open); CH_EUNAVAILABLE (halted); CH_EIO.
 */
CH_API ch_err ch_store_prune(ch_store *st, uint64_t *removed);

/**
 * Sequence number of the first command the log holds: 1 for a log never
 * pruned, 0 for an empty one. A log whose first command is after 1 can only
 * be replayed from a snapshot taken at or after the command before it.
 */
CH_API uint64_t ch_store_first_seq(ch_store *st);

/**
 * Buffer the digest of @p account's access key for the current batch; it is
 * written with the batch (so it is durable exactly when the account.open
 * that made it is). A later digest for the same name replaces it.
 * @return CH_OK; CH_EUNAVAILABLE (halted); CH_EINVAL (name not 1..31 bytes);
 * CH_ENOMEM.
 */
CH_API ch_err ch_store_put_key(ch_store *st, const char *account,
                               const uint8_t digest[CH_SHA256_LEN]);

/**
 * The client order id index: @p reply (the order's reply, as JSON text) under
 * @p key (the account and the id, 1..511 bytes), buffered for the current
 * batch and written with it, so a repeat is recognised however old it is.
 * The first reply for a key is the one a repeat gets (chd looks it up before
 * it writes). @return CH_OK; CH_EUNAVAILABLE; CH_EINVAL; CH_ENOMEM.
 */
CH_API ch_err ch_store_put_coid(ch_store *st, const char *key, const char *reply);

/** The reply under @p key, committed or in the current batch: *reply
 *  malloc'ed (free()), or NULL if none. @return CH_OK or CH_EIO / CH_ENOMEM. */
CH_API ch_err ch_store_get_coid(ch_store *st, const char *key, char **reply);

/** True when this open created the index on a store that has a log: the
 *  replay should write every client order id of the log into it. */
CH_API bool ch_store_coid_backfill(const ch_store *st);

/** Entries and bytes (pages x page size) of the client order id index. */
CH_API ch_err ch_store_coid_stat(ch_store *st, uint64_t *entries, uint64_t *bytes);

/** Called with each stored key digest: @p account and @p digest are borrowed for the call. */
typedef void (*ch_store_key_fn)(void *ctx, const char *account, const uint8_t *digest);

/** Call @p fn for every stored key digest. @return CH_OK; CH_EBADREQ (damaged); CH_EIO. */
CH_API ch_err ch_store_foreach_key(ch_store *st, ch_store_key_fn fn, void *ctx);

/** Call @p fn for every stored fill in trade order. @return CH_OK or CH_EIO. */
CH_API ch_err ch_store_foreach_fill(ch_store *st, void (*fn)(void *ctx, const ch_fill *f),
                                    void *ctx);

typedef struct ch_store_stats {
    uint64_t commits, commands, fills, map_grows;
    size_t map_size;
    uint64_t snapshots;    /**< written by this open */
    size_t snapshot_bytes; /**< the last one's size */
} ch_store_stats;

CH_API void ch_store_get_stats(const ch_store *st, ch_store_stats *out);

/** Test hook: make the next commit fail as if the disk had (CH_EIO). */
CH_API void ch_store_inject_commit_failure(ch_store *st);

#ifdef __cplusplus
}
#endif
#endif
