/*
 * levels.h - one side's price levels (private to engine/book, included by
 * book.c only): a sorted array, worst first and best LAST, keyed so that a
 * larger key is a better price; the hint that finds a key's place without a
 * binary search; and the dead levels (emptied far from the best, left in
 * place with no orders) that spare a memmove of every better level.
 */
#ifndef CH_BOOK_LEVELS_H
#define CH_BOOK_LEVELS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
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

static inline void lv_side_close(side_book *sd)
{
    free(sd->lv);
    free(sd->hint);
    sd->lv = NULL;
    sd->hint = NULL;
}

/*
 * Index of the level with `key`, or where it would be inserted. The best
 * level is checked first (most traffic is there), then where the hint saw
 * this key last and that place's two neighbours (a level inserted or
 * removed below moves it by one); otherwise a branchless lower bound, since
 * the comparisons of a binary search are unpredictable, which leaves the
 * level's place in the hint. The hint is a cache of the array, written
 * through a const side (it changes nothing the book's state means).
 */
static inline uint32_t lv_find(const side_book *sd, int64_t key, bool *found)
{
    uint32_t n = sd->n;
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

/* Dead levels on top of a side go (the best level always holds orders). */
static __attribute__((noinline, cold, unused)) void lv_pop_dead(side_book *sd)
{
    while (sd->n > 0 && sd->lv[sd->n - 1].count == 0) {
        sd->n--;
        sd->dead--;
    }
}

/*
 * Level i has just been emptied. Near the best (LV_NEAR levels) it is
 * removed: a short memmove. Deeper, where removing it would move every
 * better level (a stale level of a book whose price has moved away: 64 KiB
 * of memmove under 2,000 levels), it stays as a dead level, which walks
 * pass over (its queue is empty) and rest() revives if an order comes to
 * its price; lv_tidy() compacts them once they are many. Dead levels then
 * on top are dropped, so the best level always holds orders. Inside a walk
 * from the best down, levels above i move or go, and when i was the best,
 * the dead levels under it go too: a walk's index is then past sd->n (see
 * match()).
 */
static inline void lv_emptied(side_book *sd, uint32_t i)
{
    if (sd->n - i <= LV_NEAR) {
        lv_remove(sd, i);
        if (sd->dead != 0)
            lv_pop_dead(sd);
    } else {
        sd->dead++;
    }
}

/* Outside any walk: compact once the dead are a quarter of a side. */
static inline void lv_tidy(side_book *sd)
{
    if (sd->dead >= LV_DEAD_MIN && sd->dead * 4 >= sd->n)
        lv_compact(sd);
}

#endif
