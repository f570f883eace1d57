/*
 * store_int.h - the store's internals shared by its files: store.c (open,
 * the batch, commit, replay) and store_snap.c (snapshots, pruning the log).
 */
#ifndef CH_STORE_INT_H
#define CH_STORE_INT_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch/store.h"

#define KIND_CMD  1
#define KIND_FILL 2
#define KIND_KEY  3 /* data: the account name (key bytes long), then the digest */
#define KIND_COID 4 /* data: the client order id's key (key bytes long), then the reply */

typedef struct rec {
    uint8_t kind;
    uint64_t key;
    size_t off, len; /* in the batch buffer */
} rec;

struct ch_store {
    MDB_env *env;
    MDB_dbi meta, cmd, fill, key, coid, snap;
    bool no_key_db;       /* a read-only open of a store older than the key database */
    bool no_coid_db;      /* ... older than the client order id index */
    bool coid_new;        /* the client order id index was created by this open */
    bool no_snap_db;      /* ... older than snapshots (read-only open) */
    char snap_error[128]; /* why the last snapshot was not written */
    ch_durability durability;
    size_t map_size, map_max;
    uint64_t last_seq;
    uint8_t *buf;
    size_t buf_n, buf_cap;
    rec *recs;
    size_t n_recs, cap_recs;
    /* the batch's client order ids by hash (slot: generation, record + 1),
     * emptied by moving to the next generation at commit or discard */
    struct coid_slot {
        uint32_t gen, rec;
    } * coid_t;
    size_t coid_cap, coid_n;
    uint32_t coid_gen;
    uint64_t pending_cmds;
    bool halted, inject_fail;
    bool halted_by_replication; /* nothing went wrong locally: ch_store_resume() may undo it */
    char error[256];
    ch_store_stats stats;
    ch_store_replicate_fn replicate; /* a replicated log's append, before each write */
    void *replicate_ctx;
    uint8_t *rep_buf; /* the batch's commands as the replicator takes them */
    size_t rep_cap;
    /* the writer's lock (dirlock.h; -1 for a read-only open) and what this
     * open created, for ch_store_abandon */
    int lock_fd;
    bool read_only, created_dir, created_lock, created_env;
    char dir[4096];
};

/* Big-endian u64 keys: cursor order is numeric order. */
static inline void be64(uint8_t *out, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(v >> (56 - 8 * i));
}

static inline uint64_t from_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* Double the map (up to map_max): 0 or an LMDB code. */
int chi_store_grow_map(ch_store *st);

#endif
