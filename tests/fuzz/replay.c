/*
 * replay.c - runs a fuzz target over every file of a corpus directory (and
 * its built-in edge cases), so that ctest replays the checked-in corpora in
 * every build, without clang. Usage: fuzz_replay_X DIR
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    DIR *d = opendir(argv[1]);
    if (d == NULL) {
        perror(argv[1]);
        return 2;
    }
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], e->d_name);
        FILE *f = fopen(path, "rb");
        if (f == NULL)
            continue;
        uint8_t *buf = malloc(1 << 21);
        size_t len = buf != NULL ? fread(buf, 1, 1 << 21, f) : 0;
        fclose(f);
        /* exact-size copy: reads past the end are caught by ASan */
        uint8_t *exact = malloc(len ? len : 1);
        if (exact != NULL && buf != NULL) {
            memcpy(exact, buf, len);
            LLVMFuzzerTestOneInput(exact, len);
            /* and every prefix of small inputs */
            for (size_t cut = 0; len <= 512 && cut < len; cut++)
                LLVMFuzzerTestOneInput(exact, cut);
        }
        free(exact);
        free(buf);
        n++;
    }
    closedir(d);
    LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
    printf("%ld passed, 0 failed (corpus %s)\n", n, argv[1]);
    return n > 0 ? 0 : 1;
}
