/* chctl.h - the subcommands of chctl, one function each (argv[0] = name). */
#ifndef CHCTL_H
#define CHCTL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>

int chctl_price(int argc, char **argv);
int chctl_iv(int argc, char **argv);
int chctl_dump(int argc, char **argv);
/* `chctl cluster status`: a shard's replicated log (cluster.c) */
int chctl_cluster(int argc, char **argv);
int chctl_call(int argc, char **argv);
int chctl_hello(int argc, char **argv);
int chctl_instruments(int argc, char **argv);
int chctl_instrument(int argc, char **argv);
int chctl_book(int argc, char **argv);
int chctl_positions(int argc, char **argv);
int chctl_orders(int argc, char **argv);
int chctl_risk(int argc, char **argv);
int chctl_hedge(int argc, char **argv);
int chctl_stats(int argc, char **argv);
int chctl_quote(int argc, char **argv);
int chctl_market(int argc, char **argv);
int chctl_order(int argc, char **argv);
int chctl_account(int argc, char **argv);
int chctl_pool(int argc, char **argv);
int chctl_pools(int argc, char **argv);
int chctl_watch(int argc, char **argv);
/* `chctl metrics`: the counters and gauges in Prometheus' text format (metrics.c) */
int chctl_metrics(int argc, char **argv);

/**
 * Send op @p op (no fields; the key as every command) and return its
 * successful reply (owned), or NULL with the error printed and the exit
 * status in *@p status (1: refused by chd, 3: no reply).
 */
cJSON *chctl_fetch(const char *op, int *status);

/** chctl's options before the command (read by chctl.c, used by net.c). */
typedef struct chctl_global {
    const char *url, *pub;      /**< NULL: tcp://127.0.0.1:7450 and :7451 */
    const char *shards;         /**< --shards FILE: a shard map (requests routed by underlying) */
    const char *shard;          /**< --shard NAME: where requests naming no underlying go */
    const char *key, *key_file; /**< --key; --key-file FILE or --data DIR's admin.key */
    bool json;                  /**< print replies as they came */
    double wait;                /**< --wait SECONDS: retry a refused connection that long */
} chctl_global;

/** Use @p g for the commands that talk to chd (the strings are kept, not copied). */
void chctl_net_setup(const chctl_global *g);

/**
 * Parse a command that takes no options but --help: "chctl CMD" is @p prog
 * and @p usage prints its usage. @return -1 to go on (operands from optind),
 * else the exit status (0 after --help, 2 after an error, printed).
 */
int chctl_plain_args(const char *prog, int argc, char **argv, void (*usage)(FILE *));

/**
 * The request of protocol op @p op (its row of the message table) from argv
 * (argv[0] = the action's name; @p prog, e.g. "chctl order new", names it in
 * messages): its request fields as options, and the field @p positional (or
 * NULL) also as an operand. @return 0 with *@p out (owned), 0 with *@p out
 * NULL after --help, or 2 after an error (printed, nothing sent).
 */
int chctl_request(const char *op, const char *prog, const char *positional, int argc, char **argv,
                  cJSON **out);

/** The usage of op @p op as `prog` (its options, from the message table). */
void chctl_request_usage(FILE *f, const char *prog, const char *op, const char *positional);

/** The usage of `chctl GROUP`: each action (op GROUP.ACTION) with its options. */
void chctl_group_usage(FILE *f, const char *group);

#endif
