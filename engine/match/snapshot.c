/*
 * snapshot.c - the engine's whole state as bytes, and back: what a restart
 * loads instead of replaying the command log from its start.
 *
 * Layout: a header (magic, format, the software version and a layout
 * fingerprint: records are written as they are in memory, so a snapshot is
 * read back by the build that wrote it, and any other build replays the log
 * instead), the engine's configuration as the store encodes it, then the
 * pieces: counters, series, underlyings (with their smiles, inventories and
 * hedge books), accounts with their margin vectors, positions, tranches and
 * LP holdings, the registry and the book; a SHA-256 of everything before it
 * closes it. Restore reads into an engine freshly made with the same
 * configuration, which already holds every table at its size: pointers are
 * never written (they are written as NULL, so that equal states write equal
 * bytes), the fresh engine's stay; the dense position index is rebuilt from
 * the position records.
 */
#include "engine_int.h"

#include "../core/snap.h"
#include "ch/command.h"
#include "ch/sha256.h"
#include "ch/version.h"

#define SNAP_MAGIC  CHI_SNAP_TAG('C', 'H', 'S', 'N')
#define SNAP_FORMAT 1
#define TAG_ENGINE  CHI_SNAP_TAG('E', 'N', 'G', 'N')
#define TAG_SERIES  CHI_SNAP_TAG('S', 'E', 'R', 'S')
#define TAG_UND     CHI_SNAP_TAG('U', 'N', 'D', 'S')
#define TAG_ACCT    CHI_SNAP_TAG('A', 'C', 'C', 'T')
#define TAG_POS     CHI_SNAP_TAG('P', 'O', 'S', 'N')
#define TAG_LP      CHI_SNAP_TAG('L', 'P', 'S', 'H')
#define TAG_END     CHI_SNAP_TAG('E', 'N', 'D', '.')

/* The record sizes this build writes: another build's snapshot is refused. */
static uint64_t layout(void)
{
    const size_t sizes[] = {sizeof(series),
                            sizeof(und_state),
                            sizeof(account),
                            sizeof(position),
                            sizeof(pos_link),
                            sizeof(hold_param),
                            sizeof(tranche),
                            sizeof(lp_holding),
                            sizeof(ch_netting),
                            sizeof(ch_instrument),
                            sizeof(ch_underlying_config),
                            sizeof(ch_time)};
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        h = (h ^ sizes[i]) * 1099511628211ull;
    return h;
}

static void put_header(chi_wr *w, const ch_engine *e)
{
    chi_put(w, SNAP_MAGIC, 4);
    chi_put(w, SNAP_FORMAT, 4);
    chi_put_str(w, 1, CH_VERSION, strlen(CH_VERSION));
    chi_put(w, layout(), 8);
    uint8_t cfg[1024];
    size_t n = ch_config_encode(&e->cfg, cfg, sizeof cfg);
    chi_put(w, n, 4);
    chi_put_bytes(w, cfg, n);
}

static bool check_header(chi_rd *r, const ch_engine *e)
{
    char version[64];
    uint8_t cfg[1024];
    if (chi_get(r, 4) != SNAP_MAGIC || chi_get(r, 4) != SNAP_FORMAT)
        return false;
    chi_get_str(r, 1, version, sizeof version);
    if (r->bad || strcmp(version, CH_VERSION) != 0 || chi_get(r, 8) != layout())
        return false;
    size_t n = ch_config_encode(&e->cfg, cfg, sizeof cfg);
    const uint8_t *theirs = chi_get(r, 4) == n ? chi_take(r, n) : NULL;
    return theirs != NULL && memcmp(theirs, cfg, n) == 0;
}

static void put_counters(chi_wr *w, const ch_engine *e)
{
    chi_snap_tag(w, TAG_ENGINE);
    chi_put(w, e->n_und, 4);
    chi_put(w, e->n_acct, 4);
    chi_put(w, e->n_pos, 4);
    chi_put(w, e->unrecorded, 4);
    chi_put(w, (uint64_t)e->external, 8);
    chi_put(w, (uint64_t)e->pool_shares, 8);
    chi_put(w, e->n_tranches, 4);
    chi_put(w, e->n_holdings, 4);
    chi_put_f64(w, e->house_allocated);
    chi_put(w, e->venue_acct, 4);
    chi_put(w, (uint64_t)e->now, 8);
    chi_put(w, e->pool_epoch, 8);
    chi_put(w, e->base_mark, 8);
    chi_put(w, e->house_mark, 8);
    chi_put(w, e->seq, 8);
    chi_put(w, e->trades, 8);
    chi_put_bytes(w, &e->net, sizeof e->net);
}

/* The underlyings' count goes to *n_und: e->n_und grows as each one's
 * tables exist, so that a failed restore leaves nothing to free twice. */
static bool get_counters(chi_rd *r, ch_engine *e, uint32_t *n_und)
{
    if (!chi_snap_expect(r, TAG_ENGINE))
        return false;
    *n_und = (uint32_t)chi_get(r, 4);
    e->n_acct = (uint32_t)chi_get(r, 4);
    e->n_pos = (uint32_t)chi_get(r, 4);
    e->unrecorded = (uint32_t)chi_get(r, 4);
    e->external = (int64_t)chi_get(r, 8);
    e->pool_shares = (int64_t)chi_get(r, 8);
    e->n_tranches = (uint32_t)chi_get(r, 4);
    e->n_holdings = (uint32_t)chi_get(r, 4);
    e->house_allocated = chi_get_f64(r);
    e->venue_acct = (uint32_t)chi_get(r, 4);
    e->now = (ch_time)chi_get(r, 8);
    e->pool_epoch = chi_get(r, 8);
    e->base_mark = chi_get(r, 8);
    e->house_mark = chi_get(r, 8);
    e->seq = chi_get(r, 8);
    e->trades = chi_get(r, 8);
    chi_snap_take(r, &e->net, 1, sizeof e->net);
    return !r->bad && *n_und <= e->cfg.max_underlyings && e->n_acct <= e->cfg.max_accounts &&
           e->n_acct >= 3 && e->n_pos <= e->cfg.max_positions && e->n_tranches <= CH_TRANCHES_MAX;
}

/* An account's margin region: the blocks of the listed underlyings, then
 * their worst losses (the rest of the region is zero in both engines). */
static size_t region_used(const ch_engine *e)
{
    return (size_t)e->n_und * e->scen_stride;
}

ch_err chi_engine_save(const ch_engine *e, chi_wr *w)
{
    size_t from = w->n; /* appended to what w holds: the SHA-256 covers this part */
    put_header(w, e);
    put_counters(w, e);
    uint32_t n_instr = ch_instruments_count(e->reg);
    chi_snap_tag(w, TAG_SERIES);
    chi_put(w, n_instr, 4);
    for (uint32_t i = 0; i < n_instr; i++) {
        series rec; /* without its pointer: equal states write equal bytes */
        memcpy(&rec, &e->ser[i], sizeof rec);
        rec.scen = NULL;
        chi_put_bytes(w, &rec, sizeof rec);
        chi_put_bytes(w, e->ser[i].scen, e->nscen * sizeof(double));
        chi_put_bytes(w, &e->hold[i], sizeof(hold_param));
    }
    chi_snap_tag(w, TAG_UND);
    for (uint32_t u = 0; u < e->n_und; u++) {
        und_state rec;
        memcpy(&rec, &e->und[u], sizeof rec);
        rec.smile = rec.scratch = NULL;
        rec.pool_inv = rec.house_inv = NULL;
        chi_put_bytes(w, &rec, sizeof rec);
        chi_smile_save(e->und[u].smile, w);
        chi_smile_save(e->und[u].scratch, w);
        chi_inventory_save(e->und[u].pool_inv, w);
        chi_inventory_save(e->und[u].house_inv, w);
    }
    chi_snap_tag(w, TAG_ACCT);
    chi_put_bytes(w, e->names, (e->names_mask + 1) * sizeof *e->names);
    for (uint32_t a = 0; a < e->n_acct; a++) {
        account rec;
        memcpy(&rec, &e->acct[a], sizeof rec);
        rec.M = NULL;
        chi_put_bytes(w, &rec, sizeof rec);
        chi_put_bytes(w, e->acct[a].M, region_used(e) * sizeof(double));
        chi_put_bytes(w, e->acct[a].M + e->worst_off, e->n_und * sizeof(double));
    }
    chi_put_bytes(w, e->sell_bits, (size_t)e->n_acct * e->sell_words * sizeof *e->sell_bits);
    chi_snap_tag(w, TAG_POS);
    chi_put_bytes(w, e->pos, (size_t)e->n_pos * sizeof *e->pos);
    chi_put_bytes(w, e->pos_link, (size_t)e->n_pos * sizeof *e->pos_link);
    chi_snap_tag(w, TAG_LP);
    chi_put_bytes(w, e->tranches, (size_t)e->n_tranches * sizeof *e->tranches);
    chi_put_bytes(w, e->holdings, (size_t)e->n_holdings * sizeof *e->holdings);
    chi_instruments_save(e->reg, w);
    chi_book_save(e->book, w);
    chi_snap_tag(w, TAG_END);
    chi_snap_seal(w, from);
    return w->bad ? CH_ENOMEM : CH_OK;
}

ch_err ch_engine_snapshot(const ch_engine *e, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    chi_wr w = {.grow = true};
    if (chi_engine_save(e, &w) != CH_OK) {
        free(w.buf);
        return CH_ENOMEM;
    }
    *out = w.buf;
    *len = w.n;
    return CH_OK;
}

/* The underlying's tables, as ch_engine_add_underlying makes them. */
static bool und_tables(ch_engine *e, und_state *u)
{
    u->smile = ch_smile_create(CHI_SMILE_EXPIRIES, CHI_SMILE_POINTS);
    u->scratch = ch_smile_create(CHI_SMILE_EXPIRIES, CHI_SMILE_POINTS);
    u->pool_inv = ch_inventory_create(e->cfg.max_instruments);
    u->house_inv = ch_inventory_create(e->cfg.max_instruments);
    return u->smile != NULL && u->scratch != NULL && u->pool_inv != NULL && u->house_inv != NULL;
}

static bool load(ch_engine *e, chi_rd *r)
{
    uint32_t n_und;
    if (!check_header(r, e) || !get_counters(r, e, &n_und) || !chi_snap_expect(r, TAG_SERIES))
        return false;
    uint32_t n_instr = (uint32_t)chi_get(r, 4);
    if (n_instr > e->cfg.max_instruments)
        return false;
    for (uint32_t i = 0; i < n_instr && !r->bad; i++) {
        double *scen = e->ser[i].scen;
        chi_snap_take(r, &e->ser[i], 1, sizeof(series));
        e->ser[i].scen = scen;
        chi_snap_take(r, scen, e->nscen, sizeof(double));
        chi_snap_take(r, &e->hold[i], 1, sizeof(hold_param));
    }
    if (!chi_snap_expect(r, TAG_UND))
        return false;
    for (uint32_t u = 0; u < n_und && !r->bad; u++) {
        und_state *s = &e->und[u];
        chi_snap_take(r, s, 1, sizeof(und_state));
        /* the pointers read are the writer's: replace them before anything */
        s->smile = s->scratch = NULL;
        s->pool_inv = s->house_inv = NULL;
        e->n_und = u + 1;
        if (!und_tables(e, s) || !chi_smile_load(s->smile, r) || !chi_smile_load(s->scratch, r) ||
            !chi_inventory_load(s->pool_inv, r) || !chi_inventory_load(s->house_inv, r))
            return false;
    }
    if (r->bad || e->n_und != n_und || !chi_snap_expect(r, TAG_ACCT))
        return false;
    chi_snap_take(r, e->names, e->names_mask + 1, sizeof *e->names);
    for (uint32_t a = 0; a < e->n_acct && !r->bad; a++) {
        double *M = e->acct[a].M;
        chi_snap_take(r, &e->acct[a], 1, sizeof(account));
        e->acct[a].M = M;
        chi_snap_take(r, M, region_used(e), sizeof(double));
        chi_snap_take(r, M + e->worst_off, e->n_und, sizeof(double));
    }
    chi_snap_take(r, e->sell_bits, (size_t)e->n_acct * e->sell_words, sizeof *e->sell_bits);
    if (!chi_snap_expect(r, TAG_POS))
        return false;
    chi_snap_take(r, e->pos, e->n_pos, sizeof *e->pos);
    chi_snap_take(r, e->pos_link, e->n_pos, sizeof *e->pos_link);
    for (uint32_t k = 0; k < e->n_pos && !r->bad; k++) {
        const position *p = &e->pos[k];
        if (p->account >= e->n_acct || p->instr >= n_instr)
            return false;
        e->pos_index[(size_t)p->account * e->cfg.max_instruments + p->instr] = k + 1;
    }
    if (!chi_snap_expect(r, TAG_LP))
        return false;
    if (e->n_tranches > 0) {
        e->tranches = ch_calloc(CH_TRANCHES_MAX, sizeof *e->tranches);
        if (e->tranches == NULL)
            return false;
        chi_snap_take(r, e->tranches, e->n_tranches, sizeof *e->tranches);
    }
    if (e->n_holdings > 0) {
        e->holdings = ch_calloc(e->n_holdings, sizeof *e->holdings);
        if (e->holdings == NULL)
            return false;
        e->cap_holdings = e->n_holdings;
        chi_snap_take(r, e->holdings, e->n_holdings, sizeof *e->holdings);
    }
    return chi_instruments_load(e->reg, r) && ch_instruments_count(e->reg) == n_instr &&
           chi_book_load(e->book, r) && chi_snap_expect(r, TAG_END);
}

ch_err ch_engine_restore(ch_engine *e, const uint8_t *buf, size_t len)
{
    if (e->n_acct != 3 || e->n_und != 0 || e->seq != 0 || ch_instruments_count(e->reg) != 0)
        return CH_EINVAL; /* not fresh */
    if (!chi_snap_sealed(buf, len))
        return CH_EBADREQ;
    chi_rd r = {.p = buf, .len = len - CH_SHA256_LEN};
    chi_rd h = r;
    if (!check_header(&h, e))
        return CH_EBADCONFIG; /* another build's or another configuration's */
    if (!load(e, &r) || r.n != r.len)
        return CH_EBADREQ; /* e is left half written: the caller destroys it */
    return CH_OK;
}
