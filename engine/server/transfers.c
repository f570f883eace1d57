/*
 * transfers.c - cash moved between an account's shards (account.transfer;
 * config `cluster`).
 *
 * On the source shard, the request logs TRANSFER_OUT (the engine withdraws
 * the cash, margin checked) and is answered once that batch is appended to
 * the shard's stream and stored: from then on the transfer cannot be lost.
 * The primary then appends the credit to the destination's transfer stream
 * (CH_XFER_<TO>, ch/replog.h) with the message id "<source>:<command>", and
 * logs TRANSFER_SENT: a transfer whose TRANSFER_SENT is not in the log yet
 * (a crash, a failover, NATS away) is appended again by whoever is primary,
 * and the message id makes a second append a duplicate. On the destination,
 * the primary reads its transfer stream in order and logs TRANSFER_IN with
 * the message's sequence (the engine deposits the cash): the sequence read
 * up to is derived from the log, so a credit is applied once, on a standby
 * and after a failover too. A credit for an account the destination does
 * not have waits (logged) until the account is opened there.
 *
 * So a transfer acknowledged is durable on both sides (the debit now, the
 * credit as soon as the destination's primary runs); one refused changes
 * nothing. Between the two, the cash is in flight: counted in
 * stats.cluster.transfers_pending on the source.
 */
#include "server_int.h"

#include <inttypes.h>
#include <math.h>

/* A transfer's id: "<source shard>:<its TRANSFER_OUT's command>". */
static void xfer_id(const ch_server *s, uint64_t seq, char *out, size_t cap)
{
    snprintf(out, cap, "%s:%" PRIu64, s->cfg.shard, seq);
}

static void pending_add(ch_server *s, uint64_t seq, ch_account_id account, int64_t amount,
                        const char *to)
{
    if (s->n_xfer_out == CHI_XFER_MAX)
        return; /* the request refuses before: only a replayed log could */
    chi_xfer *x = &s->xfer_out[s->n_xfer_out++];
    *x = (chi_xfer){.seq = seq, .account = account, .amount = amount};
    snprintf(x->to, sizeof x->to, "%s", to);
}

void chi_transfer_replay(ch_server *s, uint64_t seq, const ch_command *c, ch_err err)
{
    if (c->type == CH_C_TRANSFER_OUT && err == CH_OK) {
        pending_add(s, seq, c->account, c->amount, c->transfer.shard);
    } else if (c->type == CH_C_TRANSFER_SENT) {
        for (size_t i = 0; i < s->n_xfer_out; i++)
            if (s->xfer_out[i].seq == c->transfer.seq) {
                s->xfer_out[i] = s->xfer_out[--s->n_xfer_out];
                break;
            }
    } else if (c->type == CH_C_TRANSFER_IN && c->transfer.seq > s->xfer_in_seq) {
        s->xfer_in_seq = c->transfer.seq;
    }
}

void chi_transfers_clear(ch_server *s)
{
    s->n_xfer_out = 0;
    s->xfer_in_seq = 0;
}

ch_err chi_op_account_transfer(ch_server *s, req_ctx *r)
{
    if (s->replog == NULL)
        FAIL(CH_EBADREQ, "transfers move cash between shards: this chd has no cluster");
    ch_command c = ch_command_make(CH_C_TRANSFER_OUT);
    ch_err e = chi_get_account(s, r, "account", &c.account);
    if (e != CH_OK)
        return e;
    double d;
    if (ch_proto_number(FIELD(r, "amount"), true, &d, NULL) != CH_OK || !(d > 0) || d > 1e12)
        FAIL(CH_EBADREQ, "\"amount\" must be a positive number of USD");
    c.amount = (int64_t)llround(d * CH_CASH_SCALE);
    if (ch_proto_string(FIELD(r, "to_shard"), true, c.transfer.shard, sizeof c.transfer.shard) !=
            CH_OK ||
        c.transfer.shard[0] == '\0' ||
        strspn(c.transfer.shard, "abcdefghijklmnopqrstuvwxyz0123456789_-") !=
            strlen(c.transfer.shard))
        FAIL(CH_EBADREQ, "\"to_shard\" must name a shard (1 to 31 of a-z 0-9 _ -)");
    if (strcmp(c.transfer.shard, s->cfg.shard) == 0)
        FAIL(CH_EBADREQ, "\"to_shard\" is this shard");
    if (s->n_xfer_out == CHI_XFER_MAX)
        FAIL(CH_EUNAVAILABLE, "too many transfers in flight: retry once they are sent");
    e = chi_exec(s, &c, NULL);
    if (e != CH_OK)
        FAIL(e, ch_strerror(e));
    pending_add(s, s->last_cmd_seq, c.account, c.amount, c.transfer.shard);
    char id[64];
    xfer_id(s, s->last_cmd_seq, id, sizeof id);
    cJSON_AddStringToObject(r->out, "transfer_id", id);
    ch_account_info ai;
    ch_engine_account(s->e, c.account, &ai);
    cJSON_AddNumberToObject(r->out, "cash", (double)ai.cash / CH_CASH_SCALE);
    return CH_OK;
}

/* A command of the transfers' own, logged and committed (replicated) now,
 * between batches. */
static bool exec_commit(ch_server *s, const ch_command *c)
{
    ch_command_result res;
    if (chi_exec(s, c, &res) != CH_OK && s->halted)
        return false;
    if (ch_store_commit(s->st) != CH_OK) {
        chi_halt(s);
        return false;
    }
    return true;
}

/* The credits this shard owes others, appended to their transfer streams. */
static void send_pending(ch_server *s)
{
    while (s->n_xfer_out > 0 && !s->halted) {
        chi_xfer x = s->xfer_out[0];
        char id[64], body[256];
        xfer_id(s, x.seq, id, sizeof id);
        const char *name = ch_engine_account_name(s->e, x.account);
        int n =
            snprintf(body, sizeof body,
                     "{\"id\":\"%s\",\"from\":\"%s\",\"account\":\"%s\",\"amount\":%" PRId64 "}",
                     id, s->cfg.shard, name != NULL ? name : "", x.amount);
        ch_err e = ch_replog_xfer_put(s->replog, x.to, id, body, (size_t)n);
        if (e != CH_OK) { /* again at the next tick */
            CH_LOG(CH_LOG_WARN, "transfer_not_sent", "id=%s to=%s reason=\"%s\"", id, x.to,
                   ch_replog_error(s->replog));
            return;
        }
        ch_command c = ch_command_make(CH_C_TRANSFER_SENT);
        c.transfer.seq = x.seq;
        if (!exec_commit(s, &c))
            return;
        chi_transfer_replay(s, x.seq, &c, CH_OK); /* off the pending list */
        s->xfers_sent++;
        CH_LOG(CH_LOG_INFO, "transfer_sent", "id=%s to=%s amount=%.2f", id, x.to,
               (double)x.amount / CH_CASH_SCALE);
    }
}

/* The credits other shards sent this one, applied in order. */
static void receive(ch_server *s)
{
    for (int k = 0; k < 100 && !s->halted; k++) {
        char buf[512];
        uint64_t seq = s->xfer_in_seq + 1;
        ch_err e = ch_replog_xfer_get(s->replog, s->cfg.shard, seq, buf, sizeof buf);
        if (e != CH_OK)
            return; /* none yet (or NATS away: again at the next tick) */
        cJSON *j = cJSON_Parse(buf);
        const cJSON *acct = cJSON_GetObjectItemCaseSensitive(j, "account");
        const cJSON *amount = cJSON_GetObjectItemCaseSensitive(j, "amount");
        const cJSON *from = cJSON_GetObjectItemCaseSensitive(j, "from");
        ch_command c = ch_command_make(CH_C_TRANSFER_IN);
        bool ok = cJSON_IsString(acct) && cJSON_IsNumber(amount) && cJSON_IsString(from) &&
                  amount->valuedouble > 0 &&
                  ch_engine_account_find(s->e, acct->valuestring, strlen(acct->valuestring),
                                         &c.account) == CH_OK;
        if (!ok) { /* waits: an account to open here, or a message to look at */
            if (chi_due(&s->xfer_warned_at, mono_now(), 10 * CH_NS_PER_SEC)) {
                CH_LOG(CH_LOG_WARN, "transfer_waiting",
                       "seq=%" PRIu64 " message=%s reason=\"no such account here, or not a "
                       "transfer\"",
                       seq, buf);
            }
            cJSON_Delete(j);
            return;
        }
        c.amount = (int64_t)amount->valuedouble;
        snprintf(c.transfer.shard, sizeof c.transfer.shard, "%s", from->valuestring);
        c.transfer.seq = seq;
        cJSON_Delete(j);
        if (!exec_commit(s, &c))
            return;
        chi_transfer_replay(s, seq, &c, CH_OK);
        s->xfers_received++;
    }
}

void chi_transfers_tick(ch_server *s)
{
    int64_t now = mono_now();
    if (s->replog == NULL || s->standby || s->halted || now - s->xfer_at < 100 * 1000000LL)
        return;
    s->xfer_at = now;
    send_pending(s);
    receive(s);
}
