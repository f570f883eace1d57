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
    {"call", chctl_call, "send any request: chctl call '{\"op\":\"hello\"}'"},
    {"hello", chctl_hello, "server version and underlyings"},
    {"instruments", chctl_instruments, "listed series [UNDERLYING]"},
    {"instrument", chctl_instrument, "instrument add --symbol SYM (admin)"},
    {"account", chctl_account, "account open --account NAME --cash USD | deposit --account NAME --amount USD"},
    {"pool", chctl_pool, "pool deposit --account NAME --amount USD | withdraw --account NAME --shares N"},
    {"market", chctl_market, "market update --underlying BTC --index 100000 [--time ISO] ..."},
    {"order", chctl_order, "order new|cancel|replace --account A --symbol S --side buy --qty N --price P ..."},
    {"orders", chctl_orders, "open orders of ACCOUNT"},
    {"book", chctl_book, "order book of SYMBOL [--depth N]"},
    {"quote", chctl_quote, "the pool's price: quote SYMBOL --side buy --qty N"},
    {"positions", chctl_positions, "cash and positions of ACCOUNT"},
    {"risk", chctl_risk, "residual inventory, scenarios, netting [UNDERLYING]"},
    {"hedge", chctl_hedge, "the hedge book"},
    {"stats", chctl_stats, "server counters"},
    {"watch", chctl_watch, "print events: watch [TOPIC_PREFIX [COUNT]] (fill.alice, book., risk ...)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: chctl [--url REQ_URL] [--pub PUB_URL] [--json]\n"
               "             [--key KEY | --key-file FILE | --data DIR] COMMAND [ARGS]\n"
               "(defaults tcp://127.0.0.1:7450 and :7451; the key: --key, the file, DIR/admin.key,\n"
               " $CH_KEY, else ./var/admin.key if readable)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; i++)
        fprintf(f, "  %-8s %s\n", k_commands[i].name, k_commands[i].summary);
}

int main(int argc, char **argv)
{
    if (chctl_net_options(&argc, &argv) != 0) {
        usage(stderr);
        return 2;
    }
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
