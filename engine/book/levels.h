/*
 * levels.h - one side's price levels (private to engine/book, included by
 * its files): an array, worst first and best LAST, keyed so
 * that a larger key is a better price, in one of two modes:
 *
 *  - sorted (span 0): the levels that hold orders, with the hint that finds
 *    a key's place without a binary search, and the dead levels (emptied far
 *    from the best, left in place with no orders) that spare a memmove of
 *    every better level;
 *  - price-indexed (span > 0): one level per tick of the band, lv[i] at key
 *    base + i, so a key's level is found by a subtraction and a level opens
 *    or closes without moving any other; n is the best level's index + 1,
 *    the empty ticks under it are the side's dead levels, and a bit a tick
 *    (the marks) says which levels hold orders.
 *
 * Both look alike to the book: lv[n - 1] is the best level and holds
 * orders, walks go from the best down with lv_below() and pass over levels
 * with no orders, and n - dead is the number of levels that hold orders.
 */
#ifndef CH_BOOK_LEVELS_H
#define CH_BOOK_LEVELS_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/mem.h"
#include "book_int.h"

#define HINT_MAX 4096u /* entries of a side's level hint, at most (16 KiB) */

/* An emptied level this near the best is removed; deeper it stays dead,
 * and a side compacts once it has LV_DEAD_MIN dead levels, a quarter of its
 * levels at least. (Tests build the book with 1 and 2 too: every path of
 * dead levels on a narrow band.) */
#ifndef CH_BOOK_LV_NEAR
#define CH_BOOK_LV_NEAR 64u
#endif
#ifndef CH_BOOK_LV_DEAD_MIN
#define CH_BOOK_LV_DEAD_MIN 32u
#endif
#define LV_NEAR     CH_BOOK_LV_NEAR
#define LV_DEAD_MIN CH_BOOK_LV_DEAD_MIN

/*
 * An empty side with room for @p max_levels levels and its hint (two
 * entries a level, at most HINT_MAX: prices of one side rarely span more
 * ticks, and a collision only costs a binary search). The pages are
 * touched now, not on the first order at a deep level (0xff: a zero memset
 * after malloc may be turned into a lazy calloc; a hint of 0xffffffff is no
 * place). @return false when out of memory (@p sd then holds what
 * lv_side_close() frees).
 */
static inline bool lv_side_open(side_book *sd, uint32_t max_levels)
{
    uint32_t hints = 1;
    while (hints < 2 * max_levels && hints < HINT_MAX)
        hints *= 2;
    *sd = (side_book){.hint_mask = hints - 1};
    sd->lv = ch_malloc((size_t)max_levels * sizeof(level));
    sd->hint = ch_malloc((size_t)hints * sizeof(uint32_t));
    if (sd->lv == NULL || sd->hint == NULL)
        return false;
    memset(sd->lv, 0xff, (size_t)max_levels * sizeof(level));
    memset(sd->hint, 0xff, (size_t)hints * sizeof(uint32_t));
    return true;
}

/* A price-indexed side's marks, one bit a tick, set where a level holds
 * orders: the next level under an emptied best is found 64 ticks a word.
 * They follow the levels in the same allocation. */
static inline uint64_t *lv_marks(const side_book *sd)
{
    return (uint64_t *)(void *)(sd->lv + sd->span);
}

static inline size_t lv_mark_words(uint32_t span)
{
    return ((size_t)span + 63) / 64;
}

static inline void lv_mark(side_book *sd, uint32_t i, bool on)
{
    uint64_t *w = &lv_marks(sd)[i / 64], bit = UINT64_C(1) << (i % 64);
    *w = on ? *w | bit : *w & ~bit;
}

/*
 * An empty price-indexed side over keys @p base .. @p base + @p span - 1:
 * every level made now, empty and with its key, and its marks, all clear
 * (a table read by price: ch_table_alloc's huge pages when it is large).
 * @return false when out of memory.
 */
static inline bool lv_side_open_indexed(side_book *sd, int64_t base, uint32_t span)
{
    *sd = (side_book){.base = base, .span = span};
    size_t mark_levels =
        (lv_mark_words(span) * sizeof(uint64_t) + sizeof(level) - 1) / sizeof(level);
    sd->lv = ch_table_alloc((size_t)span + mark_levels, sizeof(level));
    if (sd->lv == NULL)
        return false;
    for (uint32_t i = 0; i < span; i++)
        sd->lv[i] = (level){.key = base + i, .head = NIL, .tail = NIL, .head_account = NIL};
    return true;
}

static inline void lv_side_close(side_book *sd)
{
    free(sd->lv);
    if (sd->span == 0)
        free(sd->hint);
    *sd = (side_book){0};
}

/*
 * Index of the level with `key`, or where it would be inserted (above the
 * best: n, in both modes). A price-indexed side's level is at key - base,
 * found without touching a level. On a sorted side the best level is
 * checked first (most traffic is there), then where the hint saw
 * this key last and that place's two neighbours (a level inserted or
 * removed below moves it by one); otherwise a branchless lower bound, since
 * the comparisons of a binary search are unpredictable, which leaves the
 * level's place in the hint. The hint is a cache of the array, written
 * through a const side (it changes nothing the book's state means).
 */
static inline uint32_t lv_find(const side_book *sd, int64_t key, bool *found)
{
    uint32_t n = sd->n;
    if (sd->span != 0) { /* price-indexed: no load (the key is in the band, checked before) */
        uint32_t i = (uint32_t)(key - sd->base);
        *found = i < n; /* under the best: a level, maybe empty */
        return i < n ? i : n;
    }
    if (n == 0 || sd->lv[n - 1].key < key) {
        *found = false;
        return n;
    }
    if (sd->lv[n - 1].key == key) {
        *found = true;
        return n - 1;
    }
    uint32_t *hint = &sd->hint[(uint64_t)key & sd->hint_mask];
    uint32_t h = *hint;
    if (h < n) {
        *found = true;
        if (sd->lv[h].key == key)
            return h;
        if (h + 1 < n && sd->lv[h + 1].key == key)
            return *hint = h + 1;
        if (h > 0 && sd->lv[h - 1].key == key)
            return *hint = h - 1;
    }
    const level *base = sd->lv;
    uint32_t len = n;
    while (len > 1) {
        uint32_t half = len / 2;
        base = base[half].key < key ? base + half : base;
        len -= half;
    }
    uint32_t i = (uint32_t)(base - sd->lv) + (base->key < key);
    *found = sd->lv[i].key == key; /* i < n: lv[n-1].key > key */
    *hint = i;
    return i;
}

static inline void lv_remove(side_book *sd, uint32_t i)
{
    if (i + 1 < sd->n)
        memmove(&sd->lv[i], &sd->lv[i + 1], (size_t)(sd->n - i - 1) * sizeof(level));
    sd->n--;
}

/* Drop every dead level in one pass (levels keep their order). */
static __attribute__((noinline, cold, unused)) void lv_compact(side_book *sd)
{
    uint32_t w = 0;
    for (uint32_t r = 0; r < sd->n; r++)
        if (sd->lv[r].count != 0)
            sd->lv[w++] = sd->lv[r];
    sd->n = w;
    sd->dead = 0;
}

/* A full side with dead levels: compact it and return where @p key's new
 * level goes. */
static __attribute__((noinline, cold, unused)) uint32_t lv_make_room(side_book *sd, int64_t key)
{
    bool found;
    lv_compact(sd);
    return lv_find(sd, key, &found);
}

/*
 * A new level for @p key where lv_find() did not find one (@p i is what it
 * returned); the caller has checked that a level fits (max_levels). Sorted:
 * inserted at i, compacting the dead levels first when the array is full.
 * Price-indexed: the level is at key - base, empty, above the best; the
 * ticks between the old best and it are empty (dead). @return its index.
 */
static inline uint32_t lv_open(side_book *sd, uint32_t i, int64_t key, uint32_t max_levels)
{
    if (sd->span != 0) {
        i = (uint32_t)(key - sd->base);
        assert(i < sd->span && i >= sd->n);
        sd->dead += i - sd->n;
        sd->n = i + 1;
        lv_mark(sd, i, true);
        return i;
    }
    if (sd->n == max_levels)
        i = lv_make_room(sd, key); /* the caller saw room: dead levels hold it */
    if (i < sd->n)
        memmove(&sd->lv[i + 1], &sd->lv[i], (size_t)(sd->n - i) * sizeof(level));
    sd->n++;
    sd->lv[i] = (level){.key = key, .head = NIL, .tail = NIL, .head_account = NIL};
    return i;
}

/* Dead levels on top of a sorted side go (the best level always holds
 * orders; a price-indexed side finds its next best by its marks). */
static __attribute__((noinline, cold, unused)) void lv_pop_dead(side_book *sd)
{
    while (sd->n > 0 && sd->lv[sd->n - 1].count == 0) {
        sd->n--;
        sd->dead--;
    }
}

/*
 * A dead level (@p i, under the best) gets an order again: it counts as a
 * level again, and a price-indexed side marks it.
 */
static inline void lv_revived(side_book *sd, uint32_t i)
{
    sd->dead--;
    if (sd->span != 0)
        lv_mark(sd, i, true);
}

/* The highest marked level under @p li of a price-indexed side, or NIL. */
static __attribute__((noinline, unused)) uint32_t lv_below_marked(const side_book *sd, uint32_t li)
{
    if (li == 0)
        return NIL;
    const uint64_t *marks = lv_marks(sd);
    uint32_t j = li - 1, w = j / 64;
    uint64_t m = marks[w] & (~UINT64_C(0) >> (63 - j % 64)); /* marks j and under */
    while (m == 0 && w > 0)
        m = marks[--w];
    return m != 0 ? w * 64 + 63 - (uint32_t)__builtin_clzll(m) : NIL;
}

/*
 * Where a walk from the best down goes after level @p li (start it at the
 * best, n - 1, which is NIL on an empty side):
 * li - 1 on a sorted side (its dead levels are passed over by the walk),
 * the next level that holds orders on a price-indexed one (empty ticks
 * skipped 64 a word); NIL past the worst.
 */
static inline uint32_t lv_below(const side_book *sd, uint32_t li)
{
    return sd->span == 0 ? li - 1 : lv_below_marked(sd, li); /* 0 - 1 == NIL */
}

/*
 * Level i of a price-indexed side has just been emptied: it is unmarked and
 * counts as dead, or, when it was the best, the best falls to the next
 * marked level (none: the side is empty), and the empty ticks between go
 * from the dead count.
 */
static __attribute__((noinline, unused)) void lv_emptied_by_price(side_book *sd, uint32_t i)
{
    lv_mark(sd, i, false);
    if (i + 1 < sd->n) {
        sd->dead++;
        return;
    }
    uint32_t n = lv_below_marked(sd, i) + 1; /* NIL + 1 == 0: no level left */
    sd->dead -= i - n;                       /* ticks n .. i - 1 were empty */
    sd->n = n;
}

/*
 * Level i has just been emptied (a price-indexed side: see above). Near
 * the best (LV_NEAR levels) it is removed: a short memmove. Deeper, where
 * removing it would move every better level (a stale level of a book whose
 * price has moved away: 64 KiB of memmove under 2,000 levels), it stays as
 * a dead level, which walks pass over (its queue is empty) and rest()
 * revives if an order comes to its price; lv_tidy() compacts them once they
 * are many. Dead levels then on top are dropped, so the best level always
 * holds orders. Inside a walk from the best down, levels above i move or
 * go, and when i was the best, the dead levels under it go too: a walk's
 * index is then past sd->n (see match()).
 */
static inline void lv_emptied(side_book *sd, uint32_t i)
{
    if (sd->span != 0) {
        lv_emptied_by_price(sd, i);
        return;
    }
    if (sd->n - i <= LV_NEAR) {
        lv_remove(sd, i);
        if (sd->dead != 0)
            lv_pop_dead(sd);
    } else {
        sd->dead++;
    }
}

/* Every order of the side has gone (its instrument closed, its levels
 * emptied one by one): no level left, nor a mark. */
static inline void lv_side_emptied(side_book *sd)
{
    sd->n = 0;
    sd->dead = 0;
    if (sd->span != 0)
        memset(lv_marks(sd), 0, lv_mark_words(sd->span) * sizeof(uint64_t));
}

/* Outside any walk: compact once the dead are a quarter of a sorted side
 * (a price-indexed side's dead levels are its empty ticks: they stay). */
static inline void lv_tidy(side_book *sd)
{
    if (sd->dead >= LV_DEAD_MIN && sd->dead * 4 >= sd->n && sd->span == 0)
        lv_compact(sd);
}

/*
 * Loading a snapshot: @p l, a level that holds orders, goes on top of the
 * side (levels come worst first), opened as rest() opens a level. @return
 * false, changing nothing, when it does not: it holds no orders, its key is
 * outside @p key_lo .. @p key_hi (the band) or not above the best, or the
 * side has max_levels levels already.
 */
static inline bool lv_push_loaded(side_book *sd, const level *l, uint32_t max_levels,
                                  int64_t key_lo, int64_t key_hi)
{
    bool found;
    if (l->count == 0 || l->key < key_lo || l->key > key_hi || sd->n - sd->dead >= max_levels ||
        lv_find(sd, l->key, &found) != sd->n) /* above the best: n, in both modes */
        return false;
    sd->lv[lv_open(sd, sd->n, l->key, max_levels)] = *l;
    return true;
}

#endif
