/*
 * accounts.c - accounts (open, deposit, positions) and LP shares of the pool.
 */
#include "engine_int.h"

#include <math.h>
#include <string.h>

/* ---- accounts -------------------------------------------------------------- */

static bool valid_name(const char *s, size_t n)
{
    if (n == 0 || n >= CH_ACCOUNT_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

/* FNV-1a of a name's @p len bytes. */
static size_t name_hash(const char *name, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)name[i]) * 1099511628211ull;
    return (size_t)(h ^ (h >> 32));
}

void chi_account_index(ch_engine *e, uint32_t id)
{
    const char *name = e->acct[id].name;
    size_t k = name_hash(name, strnlen(name, CH_ACCOUNT_NAME_MAX)) & e->names_mask;
    while (e->names[k] != 0) /* never full: twice the accounts */
        k = (k + 1) & e->names_mask;
    e->names[k] = id + 1;
}

uint32_t chi_account_new(ch_engine *e, const char *name, size_t len, bool internal)
{
    if (e->n_acct == e->cfg.max_accounts)
        return NIL;
    uint32_t i = e->n_acct++;
    account *a = &e->acct[i];
    double *M = a->M; /* its margin vector's place in the arena */
    memset(a, 0, sizeof *a);
    a->M = M;
    a->open = true;
    a->internal = internal;
    a->exact = internal; /* internal accounts never have resting orders */
    a->first_pos = NIL;
    memcpy(a->name, name, len < CH_ACCOUNT_NAME_MAX ? len : CH_ACCOUNT_NAME_MAX - 1);
    chi_account_index(e, i);
    return i;
}

/* By name through the index (accounts are never removed: no tombstones). */
ch_err ch_engine_account_find(const ch_engine *e, const char *name, size_t len, ch_account_id *id)
{
    if (len == 0 || len >= CH_ACCOUNT_NAME_MAX)
        return CH_ENOTFOUND;
    for (size_t k = name_hash(name, len) & e->names_mask; e->names[k] != 0;
         k = (k + 1) & e->names_mask) {
        const char *n = e->acct[e->names[k] - 1].name;
        if (strncmp(n, name, len) == 0 && n[len] == '\0') {
            id->v = e->names[k] - 1;
            return CH_OK;
        }
    }
    return CH_ENOTFOUND;
}

ch_err ch_engine_account_open(ch_engine *e, const char *name, int64_t cash, ch_stp stp,
                              ch_account_id *id)
{
    size_t n = strnlen(name, CH_ACCOUNT_NAME_MAX);
    if (!valid_name(name, n) || cash < 0 || cash > INT64_C(1) << 60 ||
        (stp != CH_STP_CANCEL_INCOMING && stp != CH_STP_CANCEL_RESTING &&
         stp != CH_STP_CANCEL_BOTH))
        return CH_EINVAL;
    ch_account_id x;
    /* "venue" is the options venue's internal account, opened at its first
     * fill: reserved from the start, as house, pool and fees are taken */
    if (ch_engine_account_find(e, name, n, &x) == CH_OK ||
        (n == 5 && memcmp(name, "venue", 5) == 0))
        return CH_EEXISTS;
    uint32_t i = chi_account_new(e, name, n, false);
    if (i == NIL)
        return CH_ECAPACITY;
    account *a = &e->acct[i];
    a->stp = stp;
    a->cash = cash;
    e->external += cash;
    e->seq++;
    if (id != NULL)
        id->v = i;
    return CH_OK;
}

/*
 * Can account a sell q more lots of series s? The margin it would need is the
 * worst scenario loss of M - q scen, with M exact. Bounded above by
 * chi_margin_bound(a) + q max(scen, 0) (a little more, for rounding), which needs
 * no vector read: the exact scan runs only when that bound exceeds the free
 * equity (and makes the account exact first). Same answers as always
 * scanning an exact vector.
 */

ch_err ch_engine_deposit(ch_engine *e, ch_account_id id, int64_t amount)
{
    if (id.v >= e->n_acct || e->acct[id.v].internal)
        return CH_EUNAUTHORIZED;
    account *a = &e->acct[id.v];
    if (amount == 0 || amount > INT64_C(1) << 60 || amount < -(INT64_C(1) << 60))
        return CH_EINVAL;
    if (amount < 0) {
        if (a->cash - a->reserved < -amount)
            return CH_EFUNDS;
        /* what stays must still cover the margin of positions and resting sells */
        double left = chi_free_equity(a) + (double)amount / CH_CASH_SCALE;
        if (left < chi_margin_bound(a) * (1 + 1e-9)) {
            chi_materialize(e, a);
            if (left < a->worst)
                return CH_EMARGIN;
        } else {
            SELF_CHECK(left >= chi_exact_worst(e, a), "withdrawal bound");
        }
    }
    e->seq++;
    a->cash += amount;
    e->external += amount;
    return CH_OK;
}

ch_err ch_engine_account(const ch_engine *e, ch_account_id id, ch_account_info *out)
{
    if (id.v >= e->n_acct)
        return CH_ENOTFOUND;
    const account *a = &e->acct[id.v];
    memset(out, 0, sizeof *out);
    out->id = id;
    memcpy(out->name, a->name, CH_ACCOUNT_NAME_MAX);
    out->stp = a->stp;
    out->cash = a->cash;
    out->reserved = a->reserved;
    out->equity = chi_free_equity(a);
    out->margin = chi_exact_worst(e, a);
    out->shares = a->shares;
    out->positions = a->npos;
    return CH_OK;
}

const char *ch_engine_account_name(const ch_engine *e, ch_account_id id)
{
    return id.v < e->n_acct ? e->acct[id.v].name : NULL;
}

ch_err ch_engine_positions(const ch_engine *e, ch_account_id id,
                           void (*fn)(void *ctx, const ch_position_info *p), void *ctx)
{
    if (id.v >= e->n_acct)
        return CH_ENOTFOUND;
    for (uint32_t k = e->acct[id.v].first_pos; k != NIL; k = e->pos_link[k].next_acct) {
        const position *p = &e->pos[k];
        if (p->qty == 0)
            continue;
        const series *s = &e->ser[p->instr];
        ch_position_info pi = {.instr = {p->instr},
                               .qty = p->qty,
                               .avg_price = (double)p->cost / (double)p->qty / CH_CASH_SCALE,
                               .realized = p->realized,
                               .mark = s->unit.price,
                               .unit = s->unit};
        fn(ctx, &pi);
    }
    return CH_OK;
}

int64_t ch_engine_position(const ch_engine *e, ch_account_id acct, ch_instr_id instr)
{
    if (acct.v >= e->n_acct || instr.v >= e->cfg.max_instruments)
        return 0; /* no such account or series: no position (and no read past the index) */
    uint32_t k = chi_pos_find(e, acct.v, instr.v);
    return k == NIL ? 0 : e->pos[k].qty;
}

/* ---- pool shares ------------------------------------------------------------- */

double chi_hedge_value(const und_state *u)
{
    const ch_hedge_book *b = &u->hb;
    return b->realized + ch_hedge_book_unrealized(b, chi_hedge_mark(b)) - b->fees + b->funding;
}

void ch_engine_pool(const ch_engine *e, ch_pool_info *out)
{
    const account *p = &e->acct[CH_ACCOUNT_POOL], *h = &e->acct[CH_ACCOUNT_HOUSE];
    out->cash = p->cash;
    out->inventory_value = p->mtm;
    out->house_value = (double)h->cash / CH_CASH_SCALE + h->mtm;
    out->hedge_value = 0;
    for (uint32_t u = 0; u < e->n_und; u++)
        out->hedge_value += chi_hedge_value(&e->und[u]);
    /* the LPs carry the whole house: options, parity forwards and hedges
     * (shared with the strike tranches by delta contribution) */
    if (e->n_tranches == 0) {
        out->house_share = out->house_value + out->hedge_value;
        out->nav = (double)p->cash / CH_CASH_SCALE + p->mtm + out->house_value + out->hedge_value;
    } else {
        out->house_share = chi_general_house_share(e);
        out->nav = (double)p->cash / CH_CASH_SCALE + p->mtm + out->house_share;
    }
    out->shares = e->pool_shares;
    out->nav_per_share =
        e->pool_shares > 0 ? out->nav * CH_CASH_SCALE / (double)e->pool_shares : 1.0;
}

ch_err ch_engine_pool_deposit(ch_engine *e, ch_account_id lp, int64_t cash, int64_t *shares)
{
    if (lp.v >= e->n_acct || e->acct[lp.v].internal)
        return CH_EUNAUTHORIZED;
    account *a = &e->acct[lp.v];
    if (cash <= 0)
        return CH_EINVAL;
    if (a->cash - a->reserved < cash)
        return CH_EFUNDS;
    ch_pool_info pi;
    ch_engine_pool(e, &pi);
    /* shares are counted in cash units at 1 share = 1e-6 quote ccy initially */
    int64_t minted;
    if (e->pool_shares == 0 || !(pi.nav > 0))
        minted = cash;
    else
        minted = (int64_t)floor((double)cash / pi.nav_per_share);
    if (minted <= 0)
        return CH_EINVAL;
    e->seq++;
    chi_quotes_moved(e);
    a->cash -= cash;
    e->acct[CH_ACCOUNT_POOL].cash += cash;
    a->shares += minted;
    e->pool_shares += minted;
    if (shares != NULL)
        *shares = minted;
    return CH_OK;
}

ch_err ch_engine_pool_withdraw(ch_engine *e, ch_account_id lp, int64_t shares, int64_t *cash)
{
    if (lp.v >= e->n_acct || e->acct[lp.v].internal)
        return CH_EUNAUTHORIZED;
    account *a = &e->acct[lp.v];
    if (shares <= 0)
        return CH_EINVAL;
    if (shares > a->shares)
        return CH_EFUNDS;
    ch_pool_info pi;
    ch_engine_pool(e, &pi);
    double v = floor((double)shares * pi.nav_per_share);
    if (!(v >= 0))
        v = 0;
    int64_t pay = (int64_t)v;
    if (pay > e->acct[CH_ACCOUNT_POOL].cash)
        return CH_EFUNDS;
    e->seq++;
    chi_quotes_moved(e);
    a->shares -= shares;
    e->pool_shares -= shares;
    e->acct[CH_ACCOUNT_POOL].cash -= pay;
    a->cash += pay;
    if (cash != NULL)
        *cash = pay;
    return CH_OK;
}
