/*
 * dirlock.c - one writer per data folder (see dirlock.h).
 */
#include "dirlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* The pid the holder wrote, or 0 when the file holds none (yet). */
static long holder_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *end;
    long pid = strtol(buf, &end, 10);
    return end != buf && pid > 0 ? pid : 0;
}

int chi_dirlock_take(const char *dir, bool *created, char *err, size_t cap)
{
    char path[4200];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, CHI_DIRLOCK_NAME) >= sizeof path) {
        snprintf(err, cap, "data folder path too long");
        return -1;
    }
    *created = false;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        *created = fd >= 0;
        if (fd < 0 && errno == EEXIST) /* another opener made it just now */
            fd = open(path, O_RDWR | O_CLOEXEC);
    }
    if (fd < 0) {
        snprintf(err, cap, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int why = errno;
        long pid = holder_pid(fd);
        if (why == EWOULDBLOCK && pid > 0)
            snprintf(err, cap, "data folder %s is in use by another chd (pid %ld, lock %s)", dir,
                     pid, path);
        else if (why == EWOULDBLOCK)
            snprintf(err, cap, "data folder %s is in use by another process (lock %s)", dir, path);
        else
            snprintf(err, cap, "cannot lock %s: %s", path, strerror(why));
        close(fd);
        return -1;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        snprintf(err, cap, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        if (*created)
            unlink(path);
        return -1;
    }
    return fd;
}

void chi_dirlock_release(int fd)
{
    if (fd >= 0)
        close(fd);
}
