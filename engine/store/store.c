/*
 * store.c - the command log and fill records in LMDB (see ch/store.h).
 *
 * Layout: one environment, four named databases:
 *   meta  "schema" -> u32 (CH_STORE_SCHEMA), "config" -> the engine
 *         configuration, "seq" -> u64 last committed command
 *   cmd   big-endian u64 sequence -> encoded command (appended)
 *   fill  big-endian u64 trade id -> encoded fill (appended)
 *   key   account name -> SHA-256 of its access key (written in the batch
 *         of the account.open that made it; a store without it gets it
 *         created empty, so older stores open unchanged)
 * Big-endian keys make cursor order numeric order, and MDB_APPEND is valid.
 *
 * A batch is buffered in memory (one growable byte buffer of records) and
 * written in one transaction; on MDB_MAP_FULL the transaction is aborted,
 * the map doubled and the whole batch written again. Any other failure
 * halts the store (the caller stops intake): we never answer as if we had
 * stored. Only this module (and the daemon) log; the store returns codes and
 * keeps the error text for the operator.
 */
#include "ch/store.h"

#include <dirent.h>
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirlock.h"
#include "store_int.h"
#include "../core/alloc.h"

static _Thread_local char g_open_error[256];

const char *ch_store_open_error(void)
{
    return g_open_error;
}

static ch_err open_fail(ch_store *st, ch_err e, const char *what, int rc)
{
    snprintf(g_open_error, sizeof g_open_error, "%s: %s", what,
             rc != 0 ? mdb_strerror(rc) : "invalid");
    ch_store_abandon(st);
    return e;
}

static int read_meta(MDB_txn *txn, MDB_dbi dbi, const char *key, MDB_val *out)
{
    MDB_val k = {strlen(key), (void *)(uintptr_t)key};
    return mdb_get(txn, dbi, &k, out);
}

static int write_meta(MDB_txn *txn, MDB_dbi dbi, const char *key, const void *v, size_t n)
{
    MDB_val k = {strlen(key), (void *)(uintptr_t)key};
    MDB_val d = {n, (void *)(uintptr_t)v};
    return mdb_put(txn, dbi, &k, &d, 0);
}

ch_err ch_store_open(const ch_store_config *cfg, ch_engine_config *engine_cfg, bool adopt,
                     ch_store **out)
{
    g_open_error[0] = '\0';
    if (cfg == NULL || cfg->dir == NULL || engine_cfg == NULL) {
        snprintf(g_open_error, sizeof g_open_error, "no directory or configuration");
        return CH_EINVAL;
    }
    if (strlen(cfg->dir) >= sizeof((ch_store *)0)->dir) {
        snprintf(g_open_error, sizeof g_open_error, "data folder path too long");
        return CH_EINVAL;
    }
    /* a tool's read-only open (adopt) creates nothing and takes no lock, so
     * it works beside a running writer; a writer locks the folder first */
    bool created_dir = false;
    if (!adopt) {
        if (mkdir(cfg->dir, 0700) == 0)
            created_dir = true;
        else if (errno != EEXIST) {
            snprintf(g_open_error, sizeof g_open_error, "cannot create %s: %s", cfg->dir,
                     strerror(errno));
            return CH_EIO;
        }
    }
    bool created_lock = false;
    int lock_fd = -1;
    if (!adopt && (lock_fd = chi_dirlock_take(cfg->dir, &created_lock, g_open_error,
                                              sizeof g_open_error)) < 0) {
        if (created_dir)
            rmdir(cfg->dir);
        return CH_EBUSY;
    }
    char data_path[4200];
    snprintf(data_path, sizeof data_path, "%s/data.mdb", cfg->dir);
    struct stat sb;
    bool created_env = !adopt && stat(data_path, &sb) != 0 && errno == ENOENT;
    ch_store *st = ch_calloc(1, sizeof *st);
    if (st == NULL) {
        chi_dirlock_release(lock_fd);
        return CH_ENOMEM;
    }
    st->lock_fd = lock_fd;
    st->read_only = adopt;
    st->created_dir = created_dir;
    st->created_lock = created_lock;
    st->created_env = created_env;
    snprintf(st->dir, sizeof st->dir, "%s", cfg->dir);
    st->durability = cfg->durability;
    st->map_size = cfg->map_size ? cfg->map_size : (size_t)64 << 20;
    st->map_max = cfg->map_max;
    int rc;
    if ((rc = mdb_env_create(&st->env)) != 0)
        return open_fail(st, CH_EIO, "mdb_env_create", rc);
    mdb_env_set_maxdbs(st->env, 8);
    mdb_env_set_mapsize(st->env, st->map_size);
    unsigned flags = st->durability == CH_DURABLE_NOSYNC ? MDB_NOSYNC : 0;
    if (adopt)
        flags = MDB_RDONLY;
    if ((rc = mdb_env_open(st->env, cfg->dir, flags, 0600)) != 0) {
        if (adopt && rc == ENOENT)
            snprintf(g_open_error, sizeof g_open_error, "%s holds no clearinghouse store",
                     cfg->dir);
        else
            snprintf(g_open_error, sizeof g_open_error, "mdb_env_open: %s", mdb_strerror(rc));
        ch_store_abandon(st);
        return adopt && rc == ENOENT ? CH_EBADCONFIG : CH_EIO;
    }
    MDB_envinfo info;
    mdb_env_info(st->env, &info);
    st->map_size = info.me_mapsize; /* an existing file may be larger */
    int dead = 0;
    mdb_reader_check(st->env, &dead); /* slots of readers that died */
    MDB_txn *txn;
    if ((rc = mdb_txn_begin(st->env, NULL, adopt ? MDB_RDONLY : 0, &txn)) != 0)
        return open_fail(st, CH_EIO, "mdb_txn_begin", rc);
    unsigned dflags = adopt ? 0 : MDB_CREATE;
    if ((rc = mdb_dbi_open(txn, "meta", dflags, &st->meta)) != 0 ||
        (rc = mdb_dbi_open(txn, "cmd", dflags, &st->cmd)) != 0 ||
        (rc = mdb_dbi_open(txn, "fill", dflags, &st->fill)) != 0) {
        mdb_txn_abort(txn);
        if (adopt && rc == MDB_NOTFOUND) {
            snprintf(g_open_error, sizeof g_open_error, "%s holds no clearinghouse store",
                     cfg->dir);
            ch_store_abandon(st);
            return CH_EBADCONFIG;
        }
        return open_fail(st, CH_EIO, "mdb_dbi_open", rc);
    }
    /* "key" came later: an older store opened read-only may lack it */
    if ((rc = mdb_dbi_open(txn, "key", dflags, &st->key)) != 0) {
        if (!(adopt && rc == MDB_NOTFOUND)) {
            mdb_txn_abort(txn);
            return open_fail(st, CH_EIO, "mdb_dbi_open", rc);
        }
        st->no_key_db = true;
    }
    /* "coid" came later still: a store that lacks it gets it, filled by the
     * first replay (ch_store_coid_backfill) */
    if ((rc = mdb_dbi_open(txn, "coid", 0, &st->coid)) == MDB_NOTFOUND) {
        if (adopt) {
            st->no_coid_db = true;
        } else {
            st->coid_new = true;
            rc = mdb_dbi_open(txn, "coid", MDB_CREATE, &st->coid);
        }
    }
    if (rc != 0 && !(adopt && rc == MDB_NOTFOUND)) {
        mdb_txn_abort(txn);
        return open_fail(st, CH_EIO, "mdb_dbi_open", rc);
    }
    /* "snap": engine snapshots by the sequence number they follow */
    if ((rc = mdb_dbi_open(txn, "snap", adopt ? 0 : MDB_CREATE, &st->snap)) != 0) {
        if (!(adopt && rc == MDB_NOTFOUND)) {
            mdb_txn_abort(txn);
            return open_fail(st, CH_EIO, "mdb_dbi_open", rc);
        }
        st->no_snap_db = true;
    }
    uint8_t cbuf[1024];
    size_t clen = ch_config_encode(engine_cfg, cbuf, sizeof cbuf);
    MDB_val v;
    rc = read_meta(txn, st->meta, "schema", &v);
    if (rc == MDB_NOTFOUND) {
        uint8_t schema[4] = {CH_STORE_SCHEMA, 0, 0, 0};
        if (adopt || clen == 0 || (rc = write_meta(txn, st->meta, "schema", schema, 4)) != 0 ||
            (rc = write_meta(txn, st->meta, "config", cbuf, clen)) != 0) {
            mdb_txn_abort(txn);
            if (adopt)
                snprintf(g_open_error, sizeof g_open_error, "%s holds no clearinghouse store",
                         cfg->dir);
            return adopt ? (ch_store_abandon(st), CH_EBADCONFIG)
                         : open_fail(st, CH_EIO, "writing the schema", rc);
        }
    } else if (rc != 0) {
        mdb_txn_abort(txn);
        return open_fail(st, CH_EIO, "reading the schema", rc);
    } else {
        const uint8_t *p = v.mv_data;
        uint32_t schema = v.mv_size == 4 ? (uint32_t)p[0] | (uint32_t)p[1] << 8 |
                                               (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
                                         : 0;
        if (schema != CH_STORE_SCHEMA) {
            mdb_txn_abort(txn);
            snprintf(g_open_error, sizeof g_open_error,
                     "%s was written with store schema %u; this build reads schema %d: "
                     "refusing to open it",
                     cfg->dir, schema, CH_STORE_SCHEMA);
            ch_store_abandon(st);
            return CH_EBADCONFIG;
        }
        if ((rc = read_meta(txn, st->meta, "config", &v)) != 0) {
            mdb_txn_abort(txn);
            return open_fail(st, CH_EIO, "reading the configuration", rc);
        }
        if (adopt) {
            if (ch_config_decode(v.mv_data, v.mv_size, engine_cfg) != CH_OK) {
                mdb_txn_abort(txn);
                snprintf(g_open_error, sizeof g_open_error, "the stored configuration is damaged");
                ch_store_abandon(st);
                return CH_EBADCONFIG;
            }
        } else if (v.mv_size != clen || memcmp(v.mv_data, cbuf, clen) != 0) {
            mdb_txn_abort(txn);
            snprintf(g_open_error, sizeof g_open_error,
                     "%s was written with another engine configuration; replaying it under "
                     "this one would not reproduce its state",
                     cfg->dir);
            ch_store_abandon(st);
            return CH_EBADCONFIG;
        }
        if (read_meta(txn, st->meta, "seq", &v) == 0 && v.mv_size == 8)
            st->last_seq = from_be64(v.mv_data);
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        return open_fail(st, CH_EIO, "mdb_txn_commit", rc);
    st->stats.map_size = st->map_size;
    *out = st;
    return CH_OK;
}

void ch_store_close(ch_store *st)
{
    if (st == NULL)
        return;
    if (st->env != NULL) {
        if (st->durability == CH_DURABLE_NOSYNC && !st->halted && !st->read_only)
            mdb_env_sync(st->env, 1);
        mdb_env_close(st->env);
    }
    chi_dirlock_release(st->lock_fd);
    free(st->buf);
    free(st->rep_buf);
    free(st->recs);
    free(st->coid_t);
    free(st);
}

static void unlink_in(const char *dir, const char *name)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

void ch_store_abandon(ch_store *st)
{
    if (st == NULL)
        return;
    char dir[sizeof st->dir];
    memcpy(dir, st->dir, sizeof dir);
    bool created_dir = st->created_dir, created_lock = st->created_lock;
    bool created_env = st->created_env;
    /* the files go while the lock is still held, the lock last */
    if (st->env != NULL) {
        mdb_env_close(st->env);
        st->env = NULL;
    }
    if (created_dir) {
        /* everything in a folder this open made is this start's */
        DIR *d = opendir(dir);
        for (struct dirent *de; d != NULL && (de = readdir(d)) != NULL;)
            if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                unlink_in(dir, de->d_name);
        if (d != NULL)
            closedir(d);
    } else {
        if (created_env) {
            unlink_in(dir, "data.mdb");
            unlink_in(dir, "lock.mdb");
        }
        if (created_lock)
            unlink_in(dir, CHI_DIRLOCK_NAME);
    }
    st->halted = true; /* nothing to sync */
    ch_store_close(st);
    if (created_dir)
        rmdir(dir);
}

uint64_t ch_store_last_seq(const ch_store *st)
{
    return st->last_seq;
}

bool ch_store_halted(const ch_store *st)
{
    return st->halted;
}

const char *ch_store_error(const ch_store *st)
{
    return st->error;
}

static ch_err add_rec(ch_store *st, uint8_t kind, uint64_t key, const uint8_t *data, size_t len)
{
    if (st->buf_n + len > st->buf_cap) {
        size_t nc = st->buf_cap ? st->buf_cap : 1 << 16;
        while (nc < st->buf_n + len)
            nc *= 2;
        uint8_t *nb = ch_realloc(st->buf, nc);
        if (nb == NULL)
            return CH_ENOMEM;
        st->buf = nb;
        st->buf_cap = nc;
    }
    if (st->n_recs == st->cap_recs) {
        size_t nc = st->cap_recs ? st->cap_recs * 2 : 1024;
        rec *nr = ch_realloc(st->recs, nc * sizeof *nr);
        if (nr == NULL)
            return CH_ENOMEM;
        st->recs = nr;
        st->cap_recs = nc;
    }
    memcpy(st->buf + st->buf_n, data, len);
    st->recs[st->n_recs++] = (rec){.kind = kind, .key = key, .off = st->buf_n, .len = len};
    st->buf_n += len;
    return CH_OK;
}

ch_err ch_store_log(ch_store *st, const ch_command *c, uint64_t *seq)
{
    if (st->halted)
        return CH_EUNAVAILABLE;
    uint8_t b[sizeof(ch_command) + 64];
    size_t n = ch_command_encode(c, b, sizeof b);
    if (n == 0)
        return CH_EBADREQ;
    uint64_t s = st->last_seq + st->pending_cmds + 1;
    ch_err e = add_rec(st, KIND_CMD, s, b, n);
    if (e != CH_OK)
        return e;
    st->pending_cmds++;
    if (seq != NULL)
        *seq = s;
    return CH_OK;
}

ch_err ch_store_record_fill(ch_store *st, const ch_fill *f)
{
    if (st->halted)
        return CH_EUNAVAILABLE;
    uint8_t b[128];
    size_t n = ch_fill_encode(f, b, sizeof b);
    if (n == 0)
        return CH_EBADREQ;
    return add_rec(st, KIND_FILL, f->trade_id, b, n);
}

ch_err ch_store_put_key(ch_store *st, const char *account, const uint8_t digest[CH_SHA256_LEN])
{
    if (st->halted)
        return CH_EUNAVAILABLE;
    size_t n = strlen(account);
    uint8_t b[CH_ACCOUNT_NAME_MAX + CH_SHA256_LEN];
    if (n == 0 || n >= CH_ACCOUNT_NAME_MAX)
        return CH_EINVAL;
    memcpy(b, account, n);
    memcpy(b + n, digest, CH_SHA256_LEN);
    return add_rec(st, KIND_KEY, n, b, n + CH_SHA256_LEN);
}

static uint64_t coid_hash(const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
    return h;
}

/* The batch's slot of key: its record's, or the empty one it would take (coid_cap > 0). */
static struct coid_slot *coid_slot_of(ch_store *st, const char *key, size_t kn)
{
    size_t m = st->coid_cap - 1;
    for (size_t i = coid_hash(key, kn) & m;; i = (i + 1) & m) {
        struct coid_slot *sl = &st->coid_t[i];
        if (sl->gen != st->coid_gen)
            return sl;
        const rec *r = &st->recs[sl->rec - 1];
        if (r->key == kn && memcmp(st->buf + r->off, key, kn) == 0)
            return sl;
    }
}

/* Room for one more id in the batch's hash. */
static ch_err coid_reserve(ch_store *st)
{
    if ((st->coid_n + 1) * 2 <= st->coid_cap)
        return CH_OK;
    size_t nc = st->coid_cap ? st->coid_cap * 2 : 1024;
    struct coid_slot *old = st->coid_t, *nt = ch_calloc(nc, sizeof *nt);
    if (nt == NULL)
        return CH_ENOMEM;
    size_t oc = st->coid_cap;
    uint32_t gen = st->coid_gen ? st->coid_gen : 1;
    st->coid_t = nt;
    st->coid_cap = nc;
    st->coid_gen = gen;
    for (size_t i = 0; i < oc; i++)
        if (old[i].gen == gen) {
            const rec *r = &st->recs[old[i].rec - 1];
            *coid_slot_of(st, (const char *)st->buf + r->off, r->key) = old[i];
        }
    free(old);
    return CH_OK;
}

ch_err ch_store_put_coid(ch_store *st, const char *key, const char *reply)
{
    if (st->halted)
        return CH_EUNAVAILABLE;
    size_t kn = strlen(key), rn = strlen(reply);
    if (kn == 0 || kn > 511) /* LMDB's key limit */
        return CH_EINVAL;
    if (coid_reserve(st) != CH_OK)
        return CH_ENOMEM;
    struct coid_slot *sl = coid_slot_of(st, key, kn);
    if (sl->gen == st->coid_gen)
        return CH_OK; /* already in this batch: the first reply stays */
    char *b = ch_malloc(kn + rn);
    if (b == NULL)
        return CH_ENOMEM;
    memcpy(b, key, kn);
    memcpy(b + kn, reply, rn);
    ch_err e = add_rec(st, KIND_COID, kn, (const uint8_t *)b, kn + rn);
    free(b);
    if (e == CH_OK) {
        /* add_rec may have moved buf, not the hash: the slot is still key's */
        *sl = (struct coid_slot){st->coid_gen, (uint32_t)st->n_recs};
        st->coid_n++;
    }
    return e;
}

ch_err ch_store_get_coid(ch_store *st, const char *key, char **reply)
{
    *reply = NULL;
    size_t kn = strlen(key);
    if (st->coid_n > 0) { /* the batch not yet committed */
        const struct coid_slot *sl = coid_slot_of(st, key, kn);
        if (sl->gen == st->coid_gen) {
            const rec *r = &st->recs[sl->rec - 1];
            *reply = ch_malloc(r->len - kn + 1);
            if (*reply == NULL)
                return CH_ENOMEM;
            memcpy(*reply, st->buf + r->off + kn, r->len - kn);
            (*reply)[r->len - kn] = '\0';
            return CH_OK;
        }
    }
    if (st->no_coid_db)
        return CH_OK;
    MDB_txn *txn;
    if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn) != 0)
        return CH_EIO;
    MDB_val k = {kn, (void *)(uintptr_t)key}, v;
    int rc = mdb_get(txn, st->coid, &k, &v);
    ch_err e = CH_OK;
    if (rc == 0) {
        *reply = ch_malloc(v.mv_size + 1);
        if (*reply == NULL) {
            e = CH_ENOMEM;
        } else {
            memcpy(*reply, v.mv_data, v.mv_size);
            (*reply)[v.mv_size] = '\0';
        }
    } else if (rc != MDB_NOTFOUND) {
        e = CH_EIO;
    }
    mdb_txn_abort(txn);
    return e;
}

bool ch_store_coid_backfill(const ch_store *st)
{
    return st->coid_new && st->last_seq > 0;
}

ch_err ch_store_coid_stat(ch_store *st, uint64_t *entries, uint64_t *bytes)
{
    *entries = *bytes = 0;
    if (st->no_coid_db)
        return CH_OK;
    MDB_txn *txn;
    MDB_stat ms;
    if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn) != 0)
        return CH_EIO;
    int rc = mdb_stat(txn, st->coid, &ms);
    mdb_txn_abort(txn);
    if (rc != 0)
        return CH_EIO;
    *entries = ms.ms_entries;
    *bytes = (uint64_t)ms.ms_psize * (ms.ms_branch_pages + ms.ms_leaf_pages + ms.ms_overflow_pages);
    return CH_OK;
}

/* Called for each record of a database in key order; false: damaged, stop. */
typedef bool (*rec_fn)(void *ctx, const MDB_val *k, const MDB_val *v);

/* Every record of @p dbi in one read transaction: CH_OK, CH_EBADREQ, CH_EIO. */
static ch_err foreach_rec(ch_store *st, MDB_dbi dbi, rec_fn fn, void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn) != 0)
        return CH_EIO;
    if (mdb_cursor_open(txn, dbi, &cur) != 0) {
        mdb_txn_abort(txn);
        return CH_EIO;
    }
    MDB_val k, v;
    ch_err out = CH_OK;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        if (!fn(ctx, &k, &v)) {
            out = CH_EBADREQ;
            break;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (out == CH_OK && rc != MDB_NOTFOUND)
        out = CH_EIO;
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return out;
}

typedef struct key_visit {
    ch_store_key_fn fn;
    void *ctx;
} key_visit;

static bool visit_key(void *ctx, const MDB_val *k, const MDB_val *v)
{
    key_visit *kv = ctx;
    char name[CH_ACCOUNT_NAME_MAX];
    if (k->mv_size == 0 || k->mv_size >= sizeof name || v->mv_size != CH_SHA256_LEN)
        return false;
    memcpy(name, k->mv_data, k->mv_size);
    name[k->mv_size] = '\0';
    kv->fn(kv->ctx, name, v->mv_data);
    return true;
}

ch_err ch_store_foreach_key(ch_store *st, ch_store_key_fn fn, void *ctx)
{
    key_visit kv = {fn, ctx};
    if (st->no_key_db)
        return CH_OK;
    return foreach_rec(st, st->key, visit_key, &kv);
}

void ch_store_discard(ch_store *st)
{
    st->buf_n = 0;
    st->n_recs = 0;
    st->pending_cmds = 0;
    st->coid_n = 0;
    if (++st->coid_gen == 0) { /* wrapped: old stamps could look current */
        if (st->coid_t != NULL)
            memset(st->coid_t, 0, st->coid_cap * sizeof *st->coid_t);
        st->coid_gen = 1;
    }
}

static ch_err halt(ch_store *st, const char *what, int rc)
{
    st->halted = true;
    snprintf(st->error, sizeof st->error, "%s: %s", what, rc != 0 ? mdb_strerror(rc) : "failed");
    ch_store_discard(st);
    return CH_EUNAVAILABLE;
}

/* One attempt: 0, MDB_MAP_FULL (retry after growing), or another error. */
static int write_batch(ch_store *st)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(st->env, NULL, 0, &txn);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < st->n_recs && rc == 0; i++) {
        const rec *r = &st->recs[i];
        if (r->kind == KIND_KEY || r->kind == KIND_COID) {
            MDB_val k = {r->key, st->buf + r->off};
            MDB_val v = {r->len - r->key, st->buf + r->off + r->key};
            if (r->kind == KIND_KEY) {
                rc = mdb_put(txn, st->key, &k, &v, 0);
            } else if ((rc = mdb_put(txn, st->coid, &k, &v, MDB_NOOVERWRITE)) == MDB_KEYEXIST) {
                rc = 0; /* the first reply for an id stays */
            }
            continue;
        }
        uint8_t key[8];
        be64(key, r->key);
        MDB_val k = {8, key}, v = {r->len, st->buf + r->off};
        rc = mdb_put(txn, r->kind == KIND_CMD ? st->cmd : st->fill, &k, &v, MDB_APPEND);
        if (rc == MDB_KEYEXIST) /* not increasing: a duplicate trade id would be a bug */
            rc = mdb_put(txn, r->kind == KIND_CMD ? st->cmd : st->fill, &k, &v, 0);
    }
    if (rc == 0 && st->pending_cmds > 0) {
        uint8_t seq[8];
        be64(seq, st->last_seq + st->pending_cmds);
        MDB_val k = {3, (void *)(uintptr_t) "seq"}, v = {8, seq};
        rc = mdb_put(txn, st->meta, &k, &v, 0);
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    if (st->inject_fail) {
        st->inject_fail = false;
        mdb_txn_abort(txn);
        return EIO;
    }
    return mdb_txn_commit(txn);
}

/* Double the map (no transaction open): 0, or why not (the map at its
 * configured maximum: MDB_MAP_FULL). */
int chi_store_grow_map(ch_store *st)
{
    size_t grow = st->map_size * 2;
    if (st->map_max != 0 && grow > st->map_max)
        return MDB_MAP_FULL;
    int rc = mdb_env_set_mapsize(st->env, grow);
    if (rc != 0)
        return rc;
    st->map_size = grow;
    st->stats.map_grows++;
    st->stats.map_size = grow;
    return 0;
}

ch_err ch_store_resume(ch_store *st)
{
    if (!st->halted || !st->halted_by_replication)
        return st->halted ? CH_EUNAVAILABLE : CH_OK;
    st->halted = false;
    st->halted_by_replication = false;
    st->error[0] = '\0';
    return CH_OK;
}

void ch_store_set_replicator(ch_store *st, ch_store_replicate_fn fn, void *ctx)
{
    st->replicate = fn;
    st->replicate_ctx = ctx;
}

/* The batch to the replicator (its commands, and the account keys and
 * client order id replies they made, which no command carries): CH_OK, or
 * its refusal. */
static ch_err replicate(ch_store *st)
{
    size_t need = 0;
    for (size_t i = 0; i < st->n_recs; i++)
        if (st->recs[i].kind != KIND_FILL) /* fills follow from the commands */
            need += 7 + st->recs[i].len;
    if (need == 0)
        return CH_OK;
    if (need > st->rep_cap) {
        uint8_t *nb = realloc(st->rep_buf, need);
        if (nb == NULL)
            return CH_ENOMEM;
        st->rep_buf = nb;
        st->rep_cap = need;
    }
    size_t at = 0;
    for (size_t i = 0; i < st->n_recs; i++) {
        const rec *r = &st->recs[i];
        if (r->kind == KIND_FILL)
            continue;
        bool keyed = r->kind != KIND_CMD; /* a key or an id: its key's length first */
        size_t len = r->len + (keyed ? 2 : 0);
        st->rep_buf[at++] = r->kind == KIND_CMD   ? CH_STORE_REC_COMMAND
                            : r->kind == KIND_KEY ? CH_STORE_REC_KEY
                                                  : CH_STORE_REC_COID;
        for (int b = 0; b < 4; b++)
            st->rep_buf[at++] = (uint8_t)(len >> (8 * b));
        if (keyed) {
            st->rep_buf[at++] = (uint8_t)r->key;
            st->rep_buf[at++] = (uint8_t)(r->key >> 8);
        }
        memcpy(st->rep_buf + at, st->buf + r->off, r->len);
        at += r->len;
    }
    return st->replicate(st->replicate_ctx, st->last_seq + 1, (uint32_t)st->pending_cmds,
                         st->rep_buf, at);
}

ch_err ch_store_commit(ch_store *st)
{
    if (st->halted)
        return CH_EUNAVAILABLE;
    if (st->n_recs == 0)
        return CH_OK;
    if (st->replicate != NULL) { /* replicated first: the local log never holds more */
        ch_err e = replicate(st);
        if (e != CH_OK) {
            halt(st, "replication", 0);
            snprintf(st->error, sizeof st->error, "replication refused the batch: %s",
                     ch_strerror(e));
            st->halted_by_replication = true;
            return e;
        }
    }
    for (int attempt = 0;; attempt++) {
        int rc = write_batch(st);
        if (rc == 0)
            break;
        if (rc == MDB_MAP_FULL && attempt < 16) {
            /* no transaction is open here: the map may be resized */
            int g = chi_store_grow_map(st);
            if (g == MDB_MAP_FULL)
                return halt(st, "commit (the map is at its configured maximum)", rc);
            if (g != 0)
                return halt(st, "growing the map", g);
            continue;
        }
        return halt(st, "commit", rc);
    }
    st->stats.commits++;
    st->stats.commands += st->pending_cmds;
    for (size_t i = 0; i < st->n_recs; i++)
        st->stats.fills += st->recs[i].kind == KIND_FILL;
    st->last_seq += st->pending_cmds;
    st->coid_new = false; /* written with this batch (a backfill, or ids from now on) */
    ch_store_discard(st);
    return CH_OK;
}

ch_err ch_store_replay(ch_store *st, ch_engine *e, ch_replay_fn fn, void *ctx, uint64_t *n)
{
    return ch_store_replay_from(st, e, 0, fn, ctx, n);
}

ch_err ch_store_replay_from(ch_store *st, ch_engine *e, uint64_t after, ch_replay_fn fn, void *ctx,
                            uint64_t *n)
{
    if (n != NULL)
        *n = 0;
    MDB_txn *txn;
    MDB_cursor *cur;
    if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn) != 0)
        return CH_EIO;
    if (mdb_cursor_open(txn, st->cmd, &cur) != 0) {
        mdb_txn_abort(txn);
        return CH_EIO;
    }
    ch_command *c = ch_malloc(sizeof *c);
    if (c == NULL) {
        mdb_cursor_close(cur);
        mdb_txn_abort(txn);
        return CH_ENOMEM;
    }
    MDB_val k, v;
    ch_err out = CH_OK;
    uint64_t expect = after + 1;
    uint8_t first[8];
    be64(first, expect);
    k = (MDB_val){8, first};
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0) {
        if (k.mv_size != 8 || from_be64(k.mv_data) != expect ||
            ch_command_decode(v.mv_data, v.mv_size, c) != CH_OK) {
            out = CH_EBADREQ;
            break;
        }
        ch_command_result res;
        /* rejects replay as rejects; memory that runs out now did not
         * then: the state would differ from the one acknowledged */
        if (ch_command_apply(e, c, &res) == CH_ENOMEM) {
            out = CH_ENOMEM;
            break;
        }
        if (fn != NULL)
            fn(ctx, expect, c, &res);
        expect++;
        if (n != NULL)
            (*n)++;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (out == CH_OK && rc != MDB_NOTFOUND)
        out = CH_EIO;
    free(c);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return out;
}

typedef struct fill_visit {
    void (*fn)(void *ctx, const ch_fill *f);
    void *ctx;
} fill_visit;

static bool visit_fill(void *ctx, const MDB_val *k, const MDB_val *v)
{
    (void)k;
    fill_visit *fv = ctx;
    ch_fill f;
    if (ch_fill_decode(v->mv_data, v->mv_size, &f) != CH_OK)
        return false;
    fv->fn(fv->ctx, &f);
    return true;
}

ch_err ch_store_foreach_fill(ch_store *st, void (*fn)(void *ctx, const ch_fill *f), void *ctx)
{
    fill_visit fv = {fn, ctx};
    return foreach_rec(st, st->fill, visit_fill, &fv);
}

void ch_store_get_stats(const ch_store *st, ch_store_stats *out)
{
    *out = st->stats;
}

void ch_store_inject_commit_failure(ch_store *st)
{
    st->inject_fail = true;
}
