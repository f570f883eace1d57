/*
 * book_int.h - the book's records (private to engine/book): the order pool,
 * price levels and per-instrument books that book.c works on and
 * book_snap.c writes into a snapshot and reads back.
 */
#ifndef CH_BOOK_INT_H
#define CH_BOOK_INT_H

#include "ch/book.h"

#include <stdint.h>

#define NIL UINT32_MAX

enum { SLOT_FREE = 0, SLOT_RESTING = 1, SLOT_ACTIVE = 2, SLOT_LIVE = -1 /* a query: either */ };
enum { BOOK_ABSENT = 0, BOOK_OPEN = 1, BOOK_CLOSED = 2 };

typedef struct order {
    int64_t price;
    int64_t remaining;
    int64_t filled;
    uint64_t priority;
    uint64_t user;
    uint32_t next, prev;
    uint32_t gen;
    uint32_t instr;
    uint32_t account;
    uint8_t side, stp, post_only, state;
} order;

_Static_assert(sizeof(order) == 64, "an order is one cache line");

typedef struct level {
    int64_t key; /* price for bids, -price for asks: larger is better */
    int64_t qty;
    uint32_t head, tail;
    uint32_t count;
    uint32_t head_account; /* the first order's account (NIL when empty): lets
                            * ch_book_best_other answer without touching orders */
} level;

typedef struct side_book {
    level *lv; /* lv[0] worst .. lv[n-1] best */
    uint32_t n;
    uint32_t dead;      /* levels under the best with no orders (count 0): sorted,
                         * those emptied far from the best, not memmoved out at
                         * once (lv_compact() drops them in one pass); price-
                         * indexed, the empty ticks under the best */
    uint32_t hint_mask; /* sorted: hint has hint_mask + 1 entries (a power of two) */
    uint32_t span;      /* price-indexed: the band's ticks (lv has span levels,
                         * those from n on empty); 0: sorted */
    union {
        uint32_t *hint; /* sorted: key & hint_mask -> where that key's level
                         * was last seen, a cache that lv_find() checks (and
                         * its neighbours, since a level inserted or removed
                         * below shifts it by one) before a binary search,
                         * never trusted without comparing the key */
        int64_t base;   /* price-indexed: lv[i].key == base + i, always */
    };
} side_book;

_Static_assert(sizeof(side_book) == 32, "a side is half a cache line");

typedef struct ibook {
    side_book s[2];
    int64_t min_price, max_price;
    int state;
} ibook;

struct ch_book {
    order *orders;
    uint32_t max_orders;
    uint32_t free_head;
    uint32_t n_free;
    uint32_t open_orders;
    ibook *books;
    uint32_t max_instr;
    uint32_t max_levels;
    ch_level_index level_index; /* how sides are indexed (ch_book_add_instrument) */
    uint64_t cmd_seq, ev_seq, trades;
    ch_event_fn fn;
    void *ctx;
    uint32_t ev_mask; /* event types delivered to fn (bit 1 << type) */
};

/* Keys: price for bids, -price for asks, so that a larger key is a better
 * price on both sides. */
static inline int64_t key_of(int side, int64_t price)
{
    return side == CH_BUY ? price : -price;
}

static inline int64_t price_of(int side, int64_t key)
{
    return side == CH_BUY ? key : -key;
}

static inline ch_order_id make_id(const ch_book *b, uint32_t slot)
{
    ch_order_id id = {((uint64_t)b->orders[slot].gen << 32) | (uint64_t)(slot + 1)};
    return id;
}

/* Slot of a live order id whose slot is in state `want` (SLOT_RESTING,
 * SLOT_ACTIVE, or SLOT_LIVE for either), or NIL. */
static inline uint32_t live_slot(const ch_book *b, ch_order_id id, int want)
{
    uint64_t lo = id.v & 0xffffffffu;
    if (lo == 0 || lo > b->max_orders)
        return NIL;
    uint32_t slot = (uint32_t)(lo - 1);
    const order *o = &b->orders[slot];
    if (o->state == SLOT_FREE || (want != SLOT_LIVE && o->state != want) ||
        o->gen != (uint32_t)(id.v >> 32))
        return NIL;
    return slot;
}

/* Slot of a resting order id, or NIL. */
static inline uint32_t slot_of(const ch_book *b, ch_order_id id)
{
    return live_slot(b, id, SLOT_RESTING);
}

static inline ibook *book_of(const ch_book *b, ch_instr_id id)
{
    if (id.v >= b->max_instr || b->books[id.v].state == BOOK_ABSENT)
        return NULL;
    return &b->books[id.v];
}

#endif
