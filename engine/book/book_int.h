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
    uint32_t dead;      /* emptied levels left in place (count 0), never the best:
                         * a level emptied far from the best is not memmoved out
                         * at once; lv_compact() drops them in one pass */
    uint32_t hint_mask; /* hint has hint_mask + 1 entries (a power of two) */
    uint32_t *hint;     /* key & hint_mask -> where that key's level was last
                         * seen: a cache that lv_find() checks (and its
                         * neighbours, since a level inserted or removed
                         * below shifts it by one) before a binary search,
                         * never trusted without comparing the key */
} side_book;

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
    uint64_t cmd_seq, ev_seq, trades;
    ch_event_fn fn;
    void *ctx;
    uint32_t ev_mask; /* event types delivered to fn (bit 1 << type) */
};

#endif
