/*
 * fuzz_config.c - chd's configuration file: any bytes either load into a
 * configuration whose every field is inside its documented range, or are
 * refused with a message; nothing in between, no crash, no leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ch/server.h"

static void require(bool ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ch_server_config c;
    ch_server_defaults(&c);
    char err[256] = "";
    ch_err e = ch_server_config_parse(&c, (const char *)data, size, err, sizeof err);
    if (e != CH_OK) {
        require(e == CH_EBADCONFIG && err[0] != '\0');
        return 0;
    }
    require(memchr(c.req_url, '\0', sizeof c.req_url) != NULL && c.req_url[0] != '\0');
    require(memchr(c.pub_url, '\0', sizeof c.pub_url) != NULL && c.pub_url[0] != '\0');
    require(memchr(c.data_dir, '\0', sizeof c.data_dir) != NULL && c.data_dir[0] != '\0');
    require(c.max_request >= 1024 && c.max_request <= (size_t)64 << 20);
    require(c.contexts >= 1 && c.contexts <= 4096);
    require(c.max_clients >= 1 && c.max_clients <= 65536);
    require(c.conn_rate >= 0 && c.account_rate >= 0 && c.conn_burst >= 1 && c.account_burst >= 1);
    require(c.max_batch >= 1);
    require(c.n_und >= 1 && c.n_und <= CH_SERVER_MAX_UNDERLYINGS && c.lp_cash >= 0);
    for (size_t k = 0; k < c.n_und; k++) {
        const ch_server_underlying *u = &c.und[k];
        require(u->n_strikes >= 1 && u->n_strikes <= CH_SERVER_MAX_STRIKES && u->n_expiries >= 1 &&
                u->n_expiries <= 52);
        for (size_t i = 0; i < u->n_strikes; i++)
            require(u->strikes[i] >= 1 && u->smile[i] >= 0 && u->smile[i] <= 10);
        require(u->vol >= 0.01 && u->vol <= 10 && u->index > 0);
        require(memchr(u->u.name, '\0', sizeof u->u.name) != NULL && u->u.name[0] != '\0');
        require(u->u.contract_size > 0);
        for (size_t j = k + 1; j < c.n_und; j++)
            require(strcmp(u->u.name, c.und[j].u.name) != 0);
    }
    return 0;
}
