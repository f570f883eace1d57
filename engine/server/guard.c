/*
 * guard.c - access keys, rate limits and resource bounds of chd (see
 * guard.h for the model).
 *
 * Keys: 128 random bits for an account, 256 for the admin, as hex text. Only
 * SHA-256 digests are kept; the keys are long random strings, so a plain
 * digest (no salt, no stretching) is enough to make a leaked store useless
 * for logging in. A request's key is hashed once; each check compares
 * digests with ch_ct_equal(), against a fixed dummy when the account is
 * unknown or has no key, so that both cases cost the same and answer the
 * same.
 *
 * Open orders per account are tracked as a list of order ids that rested;
 * ids of orders that have since left the book (filled, cancelled, expired)
 * are pruned only when the list reaches the cap, so the common path is one
 * comparison and the cap is exact when it matters.
 *
 * Connections: an open-addressing table keyed by NNG pipe id (backward-shift
 * deletion), filled and emptied by NNG's pipe callbacks under the lock.
 */
#include "guard.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ch/log.h"

#define MAX_KEY_TEXT 256 /* longer presented keys are wrong keys */

typedef struct conn {
    uint32_t pipe; /* 0: empty slot */
    bool over;     /* beyond max_clients: answered UNAVAILABLE */
    bool exempt;   /* from the admin endpoint: not counted against max_clients */
    uint8_t bound; /* 0 none, 1 admin, 2 account */
    uint32_t account;
    chi_bucket bucket;
    /* I/O: requests received whose reply is not sent yet, replies handed to
     * the transport and not written yet, and the last request or reply */
    uint32_t inflight, sending;
    int64_t last;
} conn;

typedef struct acct {
    bool has_key;
    uint8_t digest[CH_SHA256_LEN];
    chi_bucket orders;
    uint64_t *open;
    uint32_t n_open, cap_open;
} acct;

struct chi_guard {
    chi_guard_config cfg;
    bool has_admin, has_readonly;
    uint8_t admin[CH_SHA256_LEN], readonly[CH_SHA256_LEN];
    acct *accts;
    uint32_t n_accts;
    /* the current request (engine thread) */
    uint32_t cur_pipe;
    bool cur_has_key, cur_admin, cur_readonly;
    uint8_t cur_digest[CH_SHA256_LEN];
    /* connections */
    pthread_mutex_t mu;
    conn *conns;
    size_t cap_conns; /* a power of two */
    uint32_t n_conns, n_served;
    chi_bucket stray; /* a request whose connection is not (or no longer) in the table */
    chi_guard_stats stats;
};

bool chi_bucket_take(chi_bucket *b, double rate, double burst, int64_t now, double n)
{
    if (rate <= 0)
        return true;
    if (burst < 1)
        burst = 1;
    if (!b->started) {
        b->started = true;
        b->tokens = burst;
        b->last = now;
    }
    if (now > b->last) {
        b->tokens += (double)(now - b->last) * 1e-9 * rate;
        if (b->tokens > burst)
            b->tokens = burst;
        b->last = now;
    }
    if (b->tokens < n)
        return false;
    b->tokens -= n;
    return true;
}

chi_access chi_op_access(const char *op)
{
    static const struct {
        const char *name;
        chi_access access;
    } table[] = {
        {"hello", CHI_PUBLIC},         {"instruments", CHI_PUBLIC},
        {"book", CHI_PUBLIC},          {"quote", CHI_PUBLIC},
        {"order.new", CHI_ACCOUNT},    {"order.batch", CHI_ACCOUNT},
        {"order.cancel", CHI_ACCOUNT}, {"order.replace", CHI_ACCOUNT},
        {"orders", CHI_ACCOUNT},       {"positions", CHI_ACCOUNT},
        {"pool.deposit", CHI_ACCOUNT}, {"pool.withdraw", CHI_ACCOUNT},
        {"pools", CHI_PUBLIC},         {"risk", CHI_READ},
        {"hedge", CHI_READ},           {"stats", CHI_READ},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(op, table[i].name) == 0)
            return table[i].access;
    return CHI_ADMIN;
}

chi_guard *chi_guard_create(const chi_guard_config *cfg, uint32_t max_accounts)
{
    chi_guard *g = calloc(1, sizeof *g);
    if (g == NULL)
        return NULL;
    g->cfg = *cfg;
    g->n_accts = max_accounts;
    g->accts = calloc(max_accounts ? max_accounts : 1, sizeof *g->accts);
    size_t want = 4 * (size_t)(cfg->max_clients ? cfg->max_clients : 1024) * 2;
    g->cap_conns = 64;
    while (g->cap_conns < want)
        g->cap_conns *= 2;
    g->conns = calloc(g->cap_conns, sizeof *g->conns);
    if (g->accts == NULL || g->conns == NULL) {
        free(g->accts);
        free(g->conns);
        free(g);
        return NULL;
    }
    pthread_mutex_init(&g->mu, NULL);
    return g;
}

void chi_guard_destroy(chi_guard *g)
{
    if (g == NULL)
        return;
    for (uint32_t i = 0; i < g->n_accts; i++)
        free(g->accts[i].open);
    free(g->accts);
    free(g->conns);
    pthread_mutex_destroy(&g->mu);
    free(g);
}

bool chi_guard_auth(const chi_guard *g)
{
    return !g->cfg.no_auth;
}

/* ---- keys ---- */

static ch_err random_hex(char *hex, size_t n_bytes)
{
    uint8_t raw[64];
    if (n_bytes > sizeof raw)
        return CH_EINVAL;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return CH_EIO;
    ssize_t got = read(fd, raw, n_bytes);
    close(fd);
    if (got != (ssize_t)n_bytes)
        return CH_EIO;
    for (size_t i = 0; i < n_bytes; i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    return CH_OK;
}

ch_err chi_key_new(char *hex, uint8_t digest[CH_SHA256_LEN])
{
    ch_err e = random_hex(hex, CHI_ACCOUNT_KEY_HEX / 2);
    if (e == CH_OK)
        ch_sha256_digest(hex, CHI_ACCOUNT_KEY_HEX, digest);
    return e;
}

static ch_err key_fail(char *err, size_t cap, const char *what, const char *path)
{
    snprintf(err, cap, "%s %s: %s", what, path, strerror(errno));
    return CH_EIO;
}

const char *chi_key_file(chi_key_kind kind)
{
    return kind == CHI_KEY_ADMIN ? "admin.key" : "readonly.key";
}

ch_err chi_guard_load_key(chi_guard *g, const char *dir, chi_key_kind kind, char *err, size_t cap)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, chi_key_file(kind));
    const char *what = kind == CHI_KEY_ADMIN ? "admin" : "readonly";
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) { /* first start: a new key */
        char hex[CHI_ADMIN_KEY_HEX + 2];
        if (random_hex(hex, CHI_ADMIN_KEY_HEX / 2) != CH_OK) {
            close(fd);
            unlink(path);
            snprintf(err, cap, "no random source for the %s key", what);
            return CH_EIO;
        }
        hex[CHI_ADMIN_KEY_HEX] = '\n';
        bool ok = write(fd, hex, CHI_ADMIN_KEY_HEX + 1) == CHI_ADMIN_KEY_HEX + 1 && fsync(fd) == 0;
        close(fd);
        if (!ok) {
            unlink(path);
            return key_fail(err, cap, "cannot write", path);
        }
        CH_LOG(CH_LOG_INFO, "key_created", "kind=%s path=%s mode=0600", what, path);
    } else if (errno != EEXIST) {
        return key_fail(err, cap, "cannot create", path);
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return key_fail(err, cap, "cannot read", path);
    struct stat sb;
    if (fstat(fd, &sb) == 0 && (sb.st_mode & 077) != 0)
        CH_LOG(CH_LOG_WARN, "key_exposed", "kind=%s path=%s mode=%03o hint=\"chmod 600\"", what,
               path, (unsigned)(sb.st_mode & 0777));
    char text[MAX_KEY_TEXT + 2];
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
        n--;
    if (n < 16 || n > MAX_KEY_TEXT) {
        snprintf(err, cap, "%s must hold one key of 16..%d characters", path, MAX_KEY_TEXT);
        return CH_EIO;
    }
    if (kind == CHI_KEY_ADMIN) {
        ch_sha256_digest(text, (size_t)n, g->admin);
        g->has_admin = true;
    } else {
        ch_sha256_digest(text, (size_t)n, g->readonly);
        g->has_readonly = true;
    }
    if (g->has_admin && g->has_readonly && ch_ct_equal(g->admin, g->readonly, CH_SHA256_LEN)) {
        snprintf(err, cap, "%s/admin.key and %s/readonly.key hold the same key", dir, dir);
        return CH_EIO;
    }
    return CH_OK;
}

void chi_guard_set_key(chi_guard *g, ch_account_id a, const uint8_t digest[CH_SHA256_LEN])
{
    if (a.v >= g->n_accts)
        return;
    memcpy(g->accts[a.v].digest, digest, CH_SHA256_LEN);
    g->accts[a.v].has_key = true;
}

void chi_guard_reset_accounts(chi_guard *g)
{
    for (uint32_t i = 0; i < g->n_accts; i++) {
        g->accts[i].has_key = false;
        g->accts[i].n_open = 0;
    }
}

/* ---- connections ---- */

static size_t conn_home(const chi_guard *g, uint32_t pipe)
{
    return (size_t)(pipe * 2654435761u) & (g->cap_conns - 1);
}

static conn *conn_find(chi_guard *g, uint32_t pipe)
{
    if (pipe == 0) /* no pipe (NNG ids start at 1): not in the table */
        return NULL;
    for (size_t i = conn_home(g, pipe);; i = (i + 1) & (g->cap_conns - 1)) {
        if (g->conns[i].pipe == pipe)
            return &g->conns[i];
        if (g->conns[i].pipe == 0)
            return NULL;
    }
}

bool chi_guard_conn_added_at(chi_guard *g, uint32_t pipe, bool exempt, int64_t now)
{
    bool keep = true;
    pthread_mutex_lock(&g->mu);
    uint32_t hard = g->cfg.max_clients ? 2 * g->cfg.max_clients : (uint32_t)(g->cap_conns / 4);
    if (pipe == 0 || (!exempt && g->n_conns >= hard) || g->n_conns >= g->cap_conns / 2) {
        keep = false;
        g->stats.refused_clients++;
    } else {
        size_t i = conn_home(g, pipe);
        while (g->conns[i].pipe != 0)
            i = (i + 1) & (g->cap_conns - 1);
        bool over = !exempt && g->cfg.max_clients != 0 && g->n_served >= g->cfg.max_clients;
        g->conns[i] = (conn){.pipe = pipe, .over = over, .exempt = exempt, .last = now};
        g->n_conns++;
        g->n_served += !over && !exempt;
    }
    pthread_mutex_unlock(&g->mu);
    return keep;
}

void chi_guard_conn_request(chi_guard *g, uint32_t pipe, int64_t now)
{
    pthread_mutex_lock(&g->mu);
    conn *c = conn_find(g, pipe);
    if (c != NULL) {
        c->inflight++;
        c->last = now;
    }
    pthread_mutex_unlock(&g->mu);
}

uint32_t chi_guard_conn_sending(chi_guard *g, uint32_t pipe)
{
    uint32_t n = 0;
    pthread_mutex_lock(&g->mu);
    conn *c = conn_find(g, pipe);
    if (c != NULL)
        n = ++c->sending;
    pthread_mutex_unlock(&g->mu);
    return n;
}

void chi_guard_conn_done(chi_guard *g, uint32_t pipe, bool was_sending, int64_t now)
{
    pthread_mutex_lock(&g->mu);
    conn *c = conn_find(g, pipe);
    if (c != NULL) {
        c->inflight -= c->inflight > 0;
        if (was_sending)
            c->sending -= c->sending > 0;
        c->last = now;
    }
    pthread_mutex_unlock(&g->mu);
}

size_t chi_guard_idle(chi_guard *g, int64_t now, int64_t idle, uint32_t *pipes, size_t cap)
{
    size_t n = 0;
    pthread_mutex_lock(&g->mu);
    for (size_t i = 0; i < g->cap_conns && n < cap; i++) {
        const conn *c = &g->conns[i];
        if (c->pipe != 0 && c->inflight == 0 && now - c->last > idle)
            pipes[n++] = c->pipe;
    }
    pthread_mutex_unlock(&g->mu);
    return n;
}

void chi_guard_conn_removed(chi_guard *g, uint32_t pipe)
{
    pthread_mutex_lock(&g->mu);
    conn *c = pipe != 0 ? conn_find(g, pipe) : NULL;
    if (c != NULL) {
        g->n_conns--;
        g->n_served -= !c->over && !c->exempt;
        /* backward-shift deletion keeps every probe chain unbroken */
        size_t m = g->cap_conns - 1, hole = (size_t)(c - g->conns);
        for (size_t j = (hole + 1) & m; g->conns[j].pipe != 0; j = (j + 1) & m) {
            size_t home = conn_home(g, g->conns[j].pipe);
            if (((j - home) & m) >= ((j - hole) & m)) {
                g->conns[hole] = g->conns[j];
                hole = j;
            }
        }
        g->conns[hole].pipe = 0;
    }
    pthread_mutex_unlock(&g->mu);
}

uint32_t chi_guard_conns(chi_guard *g)
{
    pthread_mutex_lock(&g->mu);
    uint32_t n = g->n_conns;
    pthread_mutex_unlock(&g->mu);
    return n;
}

static void bind_conn(chi_guard *g, uint8_t how, uint32_t account)
{
    pthread_mutex_lock(&g->mu);
    conn *c = conn_find(g, g->cur_pipe);
    if (c != NULL) {
        c->bound = how;
        c->account = account;
    }
    pthread_mutex_unlock(&g->mu);
}

/* ---- requests ---- */

ch_err chi_guard_begin(chi_guard *g, uint32_t pipe, const char *key, int64_t now, const char **msg)
{
    g->cur_pipe = pipe;
    size_t n = key != NULL ? strlen(key) : 0;
    g->cur_has_key = n > 0 && n <= MAX_KEY_TEXT;
    g->cur_admin = g->cur_readonly = false;
    if (g->cur_has_key) {
        ch_sha256_digest(key, n, g->cur_digest);
        g->cur_admin = g->has_admin && ch_ct_equal(g->cur_digest, g->admin, CH_SHA256_LEN);
        g->cur_readonly = g->has_readonly && ch_ct_equal(g->cur_digest, g->readonly, CH_SHA256_LEN);
    }
    pthread_mutex_lock(&g->mu);
    conn *c = conn_find(g, pipe);
    bool over = c != NULL && c->over;
    bool ok = over || chi_bucket_take(c != NULL ? &c->bucket : &g->stray, g->cfg.conn_rate,
                                      g->cfg.conn_burst, now, 1);
    pthread_mutex_unlock(&g->mu);
    if (over) {
        g->stats.refused_clients++;
        *msg = "too many clients are connected (max_clients): reconnect later";
        return CH_EUNAVAILABLE;
    }
    if (!ok) {
        g->stats.rate_limited++;
        *msg = "too many requests on this connection (conn_rate per second): slow down";
        return CH_ERATE_LIMITED;
    }
    return CH_OK;
}

/* A refused request also clears what its connection was authorized for, so
 * that a compact binary batch follows the last keyed request, successful or
 * not (the safer reading). */
static ch_err unauthorized(chi_guard *g, const char **msg, const char *text)
{
    bind_conn(g, 0, 0);
    g->stats.unauthorized++;
    *msg = text;
    return CH_EUNAUTHORIZED;
}

ch_err chi_guard_op(chi_guard *g, chi_access access, const char **msg)
{
    if (access == CHI_PUBLIC || access == CHI_ACCOUNT || g->cfg.no_auth)
        return CH_OK;
    if (access == CHI_READ && g->cur_readonly)
        return CH_OK; /* binds nothing: a read-only key never sends binary batches */
    if (!g->cur_admin)
        return unauthorized(g, msg,
                            access == CHI_READ ? "this op needs the admin key or the read-only key"
                                               : "this op needs the admin key");
    bind_conn(g, 1, 0);
    return CH_OK;
}

#define ACCOUNT_DENIED "unknown account or wrong key"

ch_err chi_guard_account(chi_guard *g, bool found, ch_account_id a, const char **msg)
{
    if (g->cfg.no_auth)
        return found ? CH_OK : unauthorized(g, msg, ACCOUNT_DENIED);
    if (g->cur_admin) {
        bind_conn(g, 1, 0);
        return found ? CH_OK : unauthorized(g, msg, ACCOUNT_DENIED);
    }
    static const uint8_t dummy[CH_SHA256_LEN];
    const acct *ac = found && a.v < g->n_accts ? &g->accts[a.v] : NULL;
    bool keyed = ac != NULL && ac->has_key;
    bool eq = ch_ct_equal(g->cur_digest, keyed ? ac->digest : dummy, CH_SHA256_LEN);
    if (!(g->cur_has_key && keyed && eq))
        return unauthorized(g, msg, ACCOUNT_DENIED);
    bind_conn(g, 2, a.v);
    return CH_OK;
}

ch_err chi_guard_account_view(chi_guard *g, bool found, ch_account_id a, bool house_account,
                              const char **msg)
{
    if (house_account && found && g->cur_readonly && !g->cfg.no_auth)
        return CH_OK;
    return chi_guard_account(g, found, a, msg);
}

ch_err chi_guard_binary(chi_guard *g, uint32_t pipe, bool found, ch_account_id a, const char **msg)
{
    static const char denied[] = ACCOUNT_DENIED " (a compact binary order.batch is accepted on "
                                                "a connection whose last keyed request "
                                                "succeeded with the account's key or the "
                                                "admin key)";
    if (g->cfg.no_auth)
        return found ? CH_OK : unauthorized(g, msg, denied);
    pthread_mutex_lock(&g->mu);
    conn *c = conn_find(g, pipe);
    bool ok = c != NULL && (c->bound == 1 || (c->bound == 2 && c->account == a.v));
    pthread_mutex_unlock(&g->mu);
    return ok && found ? CH_OK : unauthorized(g, msg, denied);
}

/* ---- orders ---- */

static void prune_open(acct *ac, ch_account_id a, const ch_book *book)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < ac->n_open; i++) {
        ch_order_info oi;
        if (ch_book_order(book, (ch_order_id){ac->open[i]}, &oi) == CH_OK && oi.account.v == a.v)
            ac->open[k++] = ac->open[i];
    }
    ac->n_open = k;
}

ch_err chi_guard_order(chi_guard *g, ch_account_id a, bool may_rest, const ch_book *book,
                       int64_t now, const char **msg)
{
    if (a.v >= g->n_accts)
        return CH_OK;
    acct *ac = &g->accts[a.v];
    if (may_rest && g->cfg.max_open_orders != 0 && ac->n_open >= g->cfg.max_open_orders) {
        prune_open(ac, a, book);
        if (ac->n_open >= g->cfg.max_open_orders) {
            g->stats.open_order_cap++;
            *msg = "the account has max_open_orders resting orders: cancel some first";
            return CH_ECAPACITY;
        }
    }
    if (!chi_bucket_take(&ac->orders, g->cfg.account_rate, g->cfg.account_burst, now, 1)) {
        g->stats.rate_limited++;
        *msg = "too many orders for this account (account_rate per second): slow down";
        return CH_ERATE_LIMITED;
    }
    return CH_OK;
}

void chi_guard_order_rests(chi_guard *g, ch_account_id a, ch_order_id id, const ch_book *book)
{
    if (a.v >= g->n_accts || g->cfg.max_open_orders == 0)
        return;
    acct *ac = &g->accts[a.v];
    if (ac->n_open == ac->cap_open && ac->cap_open >= g->cfg.max_open_orders)
        prune_open(ac, a, book); /* replay: many rested, most have left since */
    if (ac->n_open == ac->cap_open) {
        uint32_t nc = ac->cap_open ? 2 * ac->cap_open : 16;
        uint64_t *no = realloc(ac->open, nc * sizeof *no);
        if (no == NULL)
            return; /* not counted: the cap errs on the generous side */
        ac->open = no;
        ac->cap_open = nc;
    }
    ac->open[ac->n_open++] = id.v;
}

void chi_guard_get_stats(const chi_guard *g, chi_guard_stats *out)
{
    *out = g->stats;
}
