/*
 * commands.c - the command path: apply a command to the engine and log it
 * for the batch's commit (client order ids: coids.c).
 */
#include "server_int.h"
#include <stdio.h>
#include <stdlib.h>

/* ---- commands ------------------------------------------------------------ */

/* Apply a command and log it (the batch is committed later). */
ch_err chi_exec(ch_server *s, const ch_command *c, ch_command_result *r)
{
    if (s->standby) /* a standby applies the stream's commands, never its own */
        return CH_ENOT_PRIMARY;
    if (s->halted)
        return s->halt_code == CH_ENOT_PRIMARY ? CH_ENOT_PRIMARY : CH_EUNAVAILABLE;
    ch_err e = ch_command_apply(s->e, c, r);
    if (e == CH_ENOMEM) /* changed nothing, and a replay with memory would not fail it */
        return e;
    if (ch_store_log(s->st, c, &s->last_cmd_seq) != CH_OK) {
        s->halted = true;
        return CH_EUNAVAILABLE;
    }
    return e;
}

ch_err chi_exec_collect(ch_server *s, const ch_command *c, ch_command_result *r, chi_collect *k)
{
    s->collect = k;
    ch_err e = chi_exec(s, c, r);
    s->collect = NULL;
    return e;
}
