/*
 * chctl - the clearinghouse command line. Commands are a table; each one is a
 * function taking its own argv (argv[0] = the command name) and parsing it
 * with getopt_long (ch/cli.h): `chctl [GLOBAL OPTIONS] COMMAND [ARGS]`, where
 * the global options stop at the command's name and each command (and each
 * action of order, account, pool, market, instrument) takes its own options
 * only. An unknown option anywhere is an error naming it (exit 2), before
 * anything is sent; `chctl --help`, `chctl COMMAND --help` and
 * `chctl GROUP ACTION --help` print the usage, `chctl --version` the version.
 */
#include <stdio.h>
#include <string.h>

#include "ch/cli.h"
#include "chctl.h"

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command k_commands[] = {
    {"price", chctl_price, "price options: CSV type,S,K,T,r,q,sigma on stdin -> price and Greeks"},
    {"iv", chctl_iv, "implied vols: CSV type,S,K,T,r,q,price on stdin -> sigma (nan if none)"},
    {"dump", chctl_dump,
     "dump a store (--db DIR): accounts, positions, open orders, fills as JSON"},
    {"cluster", chctl_cluster,
     "cluster status --nats URL [--shard NAME]: a shard's replicated batch log"},
    {"call", chctl_call, "send any request: chctl call '{\"op\":\"hello\"}'"},
    {"hello", chctl_hello, "server version and underlyings"},
    {"instruments", chctl_instruments, "listed series [UNDERLYING]"},
    {"instrument", chctl_instrument, "instrument add --symbol SYM (admin)"},
    {"account", chctl_account,
     "account open --account NAME --cash USD | deposit --account NAME --amount USD"},
    {"pool", chctl_pool,
     "pool deposit|withdraw|tranche-add ...: the pools' shares and strike tranches"},
    {"pools", chctl_pools, "the general pool and the strike tranches [UNDERLYING]"},
    {"market", chctl_market, "market update --underlying BTC --index 100000 [--time ISO] ..."},
    {"order", chctl_order,
     "order new|batch|cancel|replace --account A --symbol S --side buy --qty N --price P ..."},
    {"orders", chctl_orders, "open orders of ACCOUNT"},
    {"book", chctl_book, "order book of SYMBOL [--depth N]"},
    {"quote", chctl_quote, "the pool's price: quote SYMBOL --side buy --qty N"},
    {"positions", chctl_positions, "cash and positions of ACCOUNT"},
    {"risk", chctl_risk, "residual inventory, scenarios, netting [UNDERLYING]"},
    {"hedge", chctl_hedge, "the hedge book"},
    {"stats", chctl_stats, "server counters"},
    {"metrics", chctl_metrics,
     "counters and netting gauges in Prometheus' text format (read-only key suffices)"},
    {"watch", chctl_watch,
     "print events: watch [TOPIC_PREFIX [COUNT]] (fill.alice, book., risk ...)"},
};

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: chctl [--url REQ_URL | --shards FILE [--shard NAME]] [--pub PUB_URL] [--json]\n"
        "             [--key KEY | --key-file FILE | --data DIR] [--wait SECONDS] COMMAND [ARGS]\n"
        "       chctl --help | --version | COMMAND --help\n"
        "(defaults tcp://127.0.0.1:7450 and :7451; the key: --key, the file, DIR/admin.key,\n"
        " $CH_KEY, else ./var/admin.key if readable; --shards: a shard map, each request\n"
        " to the primary of its underlying's shard, --shard for those naming none; --wait:\n"
        " while chd refuses the connection (not started yet), retry that long)\n"
        "\ncommands:\n");
    int w = 0; /* the summaries in one column, after the longest name */
    for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; i++)
        if ((int)strlen(k_commands[i].name) > w)
            w = (int)strlen(k_commands[i].name);
    for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; i++)
        fprintf(f, "  %-*s %s\n", w, k_commands[i].name, k_commands[i].summary);
}

int chctl_plain_args(const char *prog, int argc, char **argv, void (*usage_fn)(FILE *))
{
    static const struct option lo[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    ch_cli_reset();
    while ((c = ch_cli_next(prog, argc, argv, "h", lo)) != -1) {
        if (c != 'h')
            return CH_CLI_USAGE;
        usage_fn(stdout);
        return 0;
    }
    return -1;
}

enum {
    O_URL = 256,
    O_PUB,
    O_JSON,
    O_KEY,
    O_KEY_FILE,
    O_DATA,
    O_VERSION,
    O_SHARDS,
    O_SHARD,
    O_WAIT
};

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"url", required_argument, NULL, O_URL},
        {"shards", required_argument, NULL, O_SHARDS},
        {"shard", required_argument, NULL, O_SHARD},
        {"pub", required_argument, NULL, O_PUB},
        {"json", no_argument, NULL, O_JSON},
        {"key", required_argument, NULL, O_KEY},
        {"key-file", required_argument, NULL, O_KEY_FILE},
        {"data", required_argument, NULL, O_DATA},
        {"wait", required_argument, NULL, O_WAIT},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0},
    };
    static char data_key[600];
    chctl_global g = {0};
    int c;
    /* '+': the global options end at the command's name */
    while ((c = ch_cli_next("chctl", argc, argv, "+h", lo)) != -1) {
        switch (c) {
        case O_URL:
            g.url = optarg;
            break;
        case O_SHARDS:
            g.shards = optarg;
            break;
        case O_SHARD:
            g.shard = optarg;
            break;
        case O_PUB:
            g.pub = optarg;
            break;
        case O_JSON:
            g.json = true;
            break;
        case O_KEY:
            g.key = optarg;
            break;
        case O_KEY_FILE:
            g.key_file = optarg;
            break;
        case O_DATA:
            if (!ch_cli_fits("chctl", "--data", optarg, sizeof data_key - sizeof "/admin.key" + 1))
                return CH_CLI_USAGE;
            snprintf(data_key, sizeof data_key, "%s/admin.key", optarg);
            g.key_file = data_key;
            break;
        case O_WAIT:
            if (!ch_cli_double("chctl", "--wait", optarg, 0, 3600, &g.wait))
                return CH_CLI_USAGE;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case O_VERSION:
            ch_cli_version("chctl");
            return 0;
        default:
            return CH_CLI_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return CH_CLI_USAGE;
    }
    chctl_net_setup(&g);
    argc -= optind;
    argv += optind;
    if (strcmp(argv[0], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; i++)
        if (strcmp(argv[0], k_commands[i].name) == 0)
            return k_commands[i].fn(argc, argv);
    fprintf(stderr, "chctl: unknown command \"%s\"\n", argv[0]);
    usage(stderr);
    return CH_CLI_USAGE;
}
