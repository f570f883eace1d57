/* chctl.h - the subcommands of chctl, one function each (argv[0] = name). */
#ifndef CHCTL_H
#define CHCTL_H

#include <stdbool.h>

int chctl_price(int argc, char **argv);
int chctl_iv(int argc, char **argv);
int chctl_dump(int argc, char **argv);
int chctl_net_options(int *argc, char ***argv);
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
int chctl_watch(int argc, char **argv);

#endif
