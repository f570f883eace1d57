/* chctl.h - the subcommands of chctl, one function each (argv[0] = name). */
#ifndef CHCTL_H
#define CHCTL_H

#include <stdbool.h>

int chctl_price(int argc, char **argv);
int chctl_iv(int argc, char **argv);
int chctl_dump(int argc, char **argv);

#endif
