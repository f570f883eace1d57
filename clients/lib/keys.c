/*
 * keys.c - reading a key file for a client (see ch/client.h): chd's
 * DIR/admin.key and DIR/readonly.key hold one key on one line (mode 0600),
 * and callers keep accounts' keys the same way.
 */
#include "ch/client.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define KEY_MAX 255 /* chd treats a longer presented key as a wrong one */

ch_err ch_client_read_key(const char *path, char *key, size_t cap)
{
    if (path == NULL || key == NULL || cap == 0)
        return CH_EINVAL;
    key[0] = '\0';
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return CH_EIO;
    char line[KEY_MAX + 3];
    bool got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    if (!got)
        return CH_EINVAL;
    size_t n = strlen(line), start = 0;
    bool whole = n > 0 && line[n - 1] == '\n';
    while (n > start && isspace((unsigned char)line[n - 1]))
        n--;
    while (start < n && isspace((unsigned char)line[start]))
        start++;
    if (n == start || n - start >= cap || n - start > KEY_MAX ||
        (!whole && strlen(line) == sizeof line - 1))
        return CH_EINVAL;
    memcpy(key, line + start, n - start);
    key[n - start] = '\0';
    return CH_OK;
}

ch_err ch_client_admin_key(const char *data_dir, char *key, size_t cap)
{
    if (data_dir == NULL)
        return CH_EINVAL;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/admin.key", data_dir) >= (int)sizeof path)
        return CH_EINVAL;
    return ch_client_read_key(path, key, cap);
}
