/*
 * dirlock.h - one writer per data folder (internal to the store).
 *
 * A writer holds an exclusive flock(2) on DIR/chd.lock for as long as its
 * store is open; the file holds the writer's pid as text. flock locks belong
 * to the open file description, so a second open in the same process
 * conflicts too (unlike fcntl record locks), and closing another descriptor
 * of the file does not drop the lock. The file is left in place at close:
 * unlinking it would let a racing opener lock an orphaned inode.
 */
#ifndef CH_STORE_DIRLOCK_H
#define CH_STORE_DIRLOCK_H

#include <stdbool.h>
#include <stddef.h>

#define CHI_DIRLOCK_NAME "chd.lock"

/**
 * Take the lock of @p dir (which must exist). On success returns the
 * descriptor (>= 0) and sets *created when this call created the file. On
 * failure returns -1 and writes why into @p err: held by another process
 * (naming its pid), or the system error. A refused lock changes nothing.
 */
int chi_dirlock_take(const char *dir, bool *created, char *err, size_t cap);

/** Release the lock (close the descriptor); -1 is a no-op. */
void chi_dirlock_release(int fd);

#endif
