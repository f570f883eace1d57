/*
 * chctl - the clearinghouse command line. Commands are a table; each one is a
 * function taking its own argv (argv[0] = the command name).
 */
#include <stdio.h>
#include <string.h>

#include "chctl.h"

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command k_commands[] = {
    {"price", chctl_price, "price options: CSV type,S,K,T,r,q,sigma on stdin -> price and Greeks"},
    {"iv", chctl_iv, "implied vols: CSV type,S,K,T,r,q,price on stdin -> sigma (nan if none)"},
    {"dump", chctl_dump, "dump a store (--db DIR): accounts, positions, open orders, fills as JSON"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: chctl COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; i++)
        fprintf(f, "  %-8s %s\n", k_commands[i].name, k_commands[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; i++)
        if (strcmp(argv[1], k_commands[i].name) == 0)
            return k_commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "chctl: unknown command \"%s\"\n", argv[1]);
    usage(stderr);
    return 2;
}
