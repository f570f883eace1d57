/*
 * ch/replog.h - the replicated batch log of a shard on NATS JetStream.
 *
 * A shard (one chd: one underlying or a fixed group of them) appends each
 * batch of commands it commits to a JetStream stream of its own,
 * `CH_<SHARD>` (subjects `ch.<shard>.log` for batches and `ch.<shard>.term`
 * for term markers, file storage, the configured replicas), before the batch is written locally and
 * before any reply leaves. Every append carries ExpectLastSeq = the stream sequence this writer
 * last saw, so only one writer can append: a primary that another took over from (a term marker
 * appended after its last batch) has its next append refused (JetStream error 10071) and must stop
 * taking writes.
 *
 * Records (little-endian), one per stream message:
 *   "CHRL" | u8 version (1) | u8 kind (1 batch, 2 term marker) | u16 part
 *   | u16 parts | u16 reserved (0) | u64 term | u64 first command sequence
 *   | u32 commands in this part | payload
 * A batch payload is the store's records of the batch (ch/store.h,
 * ch_store_replicate_fn): u8 kind (1 a command: ch_command_encode()'s bytes,
 * the bytes the store writes; 3 an account key the batch made), u32 length,
 * the bytes; a batch larger than the server's max_payload is split into
 * parts of whole records (each its own append).
 * A term marker's payload is the new primary's request URL; its first
 * command sequence is the next command the shard will log (so a marker also
 * says where a stream that starts mid-history begins).
 *
 * Functions return CH_OK; CH_ENOT_PRIMARY (fenced: the stream moved on);
 * CH_EUNAVAILABLE (no answer within the timeout: no quorum, servers down);
 * CH_EIO (any other JetStream error; text in ch_replog_error()). The module
 * does not log: chd does.
 */
#ifndef CH_REPLOG_H
#define CH_REPLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch/api.h"
#include "ch/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ch_replog ch_replog;

typedef struct ch_replog_config {
    const char *url;    /**< NATS servers, comma-separated (nats://127.0.0.1:4222,...) */
    const char *shard;  /**< the shard's name: 1 to 31 of [a-z0-9_-] */
    int replicas;       /**< stream replicas when the stream is created (1..5) */
    int64_t timeout_ms; /**< an append or request not answered by then: CH_EUNAVAILABLE */
    bool no_create;     /**< bind an existing stream only (CH_ENOTFOUND if there is none) */
    bool no_stream;     /**< connect only (the directory's readers): no stream bound */
    int64_t lease_ms;   /**< the lease's time to live (the KeyValue bucket's TTL), default 1500 */
} ch_replog_config;

/** What a shard's stream holds (ch_replog_status()). */
typedef struct ch_replog_status {
    uint64_t messages, bytes, first_seq, last_seq;
    uint64_t term;     /**< of the newest term marker */
    uint64_t next_cmd; /**< the command after the last record */
    char primary[256]; /**< the URL in the newest term marker ("" if none) */
    int replicas;      /**< the stream's configured replicas */
    char leader[64];   /**< the NATS server leading the stream ("" on a single server) */
    int current;       /**< replicas other than the leader that are current */
    uint64_t max_lag;  /**< the largest lag of a replica, messages */
} ch_replog_status;

enum { CH_REPLOG_BATCH = 1, CH_REPLOG_TERM = 2 };

/** A record's header, decoded. */
typedef struct ch_replog_rec {
    int kind;
    uint16_t part, parts;
    uint64_t term;
    uint64_t first; /**< first command sequence (a marker: the next command) */
    uint32_t n;     /**< commands in this part */
    const uint8_t *payload;
    size_t len;
} ch_replog_rec;

/**
 * Connect and bind the shard's stream (created if absent); read where it
 * ends: ch_replog_last() is then the stream's last sequence and
 * ch_replog_tail() its last record. On failure *out is NULL and @p err says
 * why.
 */
CH_API ch_err ch_replog_open(const ch_replog_config *cfg, ch_replog **out, char *err, size_t cap);
CH_API void ch_replog_close(ch_replog *r);

/** The stream sequence this writer expects to be last (0: empty). */
CH_API uint64_t ch_replog_last(const ch_replog *r);

/** The highest term seen in the stream's markers (0: none yet). */
CH_API uint64_t ch_replog_term(const ch_replog *r);

/** The command sequence after the stream's last record (1 + its last
 *  command; 0 for an empty stream). */
CH_API uint64_t ch_replog_next_cmd(const ch_replog *r);

/**
 * Take the shard over: append a term marker (term = the highest seen + 1,
 * @p next_cmd, @p url) with ExpectLastSeq = ch_replog_last(). From then on
 * every earlier writer's append is refused.
 */
CH_API ch_err ch_replog_take_over(ch_replog *r, uint64_t next_cmd, const char *url);

/**
 * Append a batch: @p n commands from sequence @p first, as @p recs (the
 * store's records; @p len bytes), split to the server's max_payload. A batch split in parts is
 * visible part by part: a reader applies a batch once it has all its parts.
 */
CH_API ch_err ch_replog_append(ch_replog *r, uint64_t first, uint32_t n, const uint8_t *recs,
                               size_t len);

/**
 * Read stream message @p seq (1-based) into *out (its payload points into
 * memory valid until the next read or close). @return CH_OK; CH_ENOTFOUND
 * (no such message); CH_EBADREQ (not a record of this format); others as
 * above.
 */
CH_API ch_err ch_replog_read(ch_replog *r, uint64_t seq, ch_replog_rec *out);

/**
 * The stream sequence from which command @p cmd can be read: the last record
 * whose first command is at most @p cmd (a binary search: records' first
 * commands never decrease). @return CH_OK; CH_ENOTFOUND (the stream starts
 * after it, or is empty); others as above.
 */
CH_API ch_err ch_replog_find(ch_replog *r, uint64_t cmd, uint64_t *seq);

/** Decode a record's header. @return false if @p len bytes are not one. */
CH_API bool ch_replog_decode(const uint8_t *buf, size_t len, ch_replog_rec *out);

/** The stream's last sequence now (one request; for a standby's staleness). */
CH_API ch_err ch_replog_end(ch_replog *r, uint64_t *last);

/** Read the stream's state now (for `chctl cluster status`). */
CH_API ch_err ch_replog_status_get(ch_replog *r, ch_replog_status *out);

/*
 * The shard's lease: key `lease.<shard>` of the KeyValue bucket CH_LEASES
 * (created with the stream's replicas; TTL lease_ms: a key not renewed by
 * then is gone). The primary creates it (only if absent) and renews it by
 * revision; a standby takes it once it lapsed.
 */

/** Take the lease if no one holds it: CH_OK (held now, @p holder in it);
 *  CH_EBUSY (another holds it: its holder in @p who, if not NULL). */
CH_API ch_err ch_replog_lease_take(ch_replog *r, const char *holder, char *who, size_t cap);

/** Renew the lease this writer holds: CH_OK; CH_ENOT_PRIMARY (it lapsed and
 *  another took it, or it is gone); CH_EUNAVAILABLE. */
CH_API ch_err ch_replog_lease_renew(ch_replog *r);

/** Give the lease up (a clean stop): the standby need not wait for it. */
CH_API void ch_replog_lease_release(ch_replog *r);

/*
 * The directory: the KeyValue bucket CH_DIRECTORY (the stream's replicas)
 * maps `und.<UNDERLYING>` to a shard, `primary.<shard>` to its primary's
 * URL and `member.<shard>.<id>` to each chd of the shard ("role url
 * underlyings", underlyings comma-separated). chd writes its entries when it
 * starts and when it becomes primary; `chctl cluster map` turns them into a
 * shard map for clients.
 */

/** This chd in the directory: its URL, the shard's underlyings
 *  (comma-separated), and whether it is the primary now. */
CH_API ch_err ch_replog_directory_put(ch_replog *r, const char *url, const char *underlyings,
                                      bool primary);

/** Every directory entry: @p fn(ctx, key, value). */
CH_API ch_err ch_replog_directory_list(ch_replog *r,
                                       void (*fn)(void *ctx, const char *key, const char *value),
                                       void *ctx);

/*
 * Transfers between shards: each shard has a transfer stream CH_XFER_<SHARD>
 * (subject ch.xfer.<shard>, file storage, the replicas) of credits other
 * shards owe it. A source appends a credit with a message id (a retry of a
 * stored one is a duplicate, not a second credit); the destination's
 * primary reads them in order by sequence.
 */

/** Append a credit for shard @p to (its stream created if absent). */
CH_API ch_err ch_replog_xfer_put(ch_replog *r, const char *to, const char *msg_id, const char *data,
                                 size_t len);

/** Message @p seq of shard @p shard's transfer stream into @p buf (NUL
 *  ended; CH_ENOTFOUND: none yet; CH_ERANGE: larger than @p cap). */
CH_API ch_err ch_replog_xfer_get(ch_replog *r, const char *shard, uint64_t seq, char *buf,
                                 size_t cap);

/** The text of the last failure ("" if none). */
CH_API const char *ch_replog_error(const ch_replog *r);

#ifdef __cplusplus
}
#endif
#endif
