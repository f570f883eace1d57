/*
 * sub.c - libchclient's event subscriber (ch_sub_*, see ch/client.h).
 *
 * On ipc:// and tcp:// the subscriber speaks the SP wire protocol itself
 * over a plain socket, as a SUB0 peer of chd's PUB0 endpoint, instead of
 * using an NNG SUB socket: NNG 1.5.2 (Debian 12) can deadlock in nng_close()
 * of a SUB socket whose pipe receives a message while it closes (upstream
 * #1543, fixed after 1.5.2), and once that happens its reaper is stuck and
 * every later close in the process hangs too. A plain socket closes at once.
 * tls+tcp:// (and any other scheme) still goes through NNG, with that risk.
 *
 * The wire (as NNG's transports write it): each side first sends 8 bytes,
 * 0x00 'S' 'P' 0x00, its protocol number (16 bits, big endian; SUB0 is
 * 0x21, PUB0 0x20) and two zero bytes. Then every message is its length
 * (64 bits, big endian) and its bytes; on ipc:// the length is preceded by
 * one byte, 1 for a message. SUB0 sends nothing after the header: topics are
 * filtered on the subscriber's side, here by the prefix.
 *
 * Like an NNG dialer, a subscriber whose connection drops (chd restarted)
 * reconnects by itself inside ch_sub_recv(), 50 ms after the drop and then
 * backing off to 1 s; events published meanwhile are lost (PUB/SUB is best
 * effort).
 */
#include <errno.h>
#include <netdb.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ch/client.h"
#include "internal.h"

#define SP_SUB0          0x21
#define SP_PUB0          0x20
#define SUB_MAX_MSG      (16u << 20) /* larger is no event of chd's: the stream is bad */
#define SUB_CONNECT_MS   5000        /* connect and header exchange, each */
#define SUB_RETRY_MIN_MS 50
#define SUB_RETRY_MAX_MS 1000

struct ch_sub {
    bool plain;   /* our own SP reader (else an NNG SUB socket) */
    nng_socket s; /* !plain */
    int fd;       /* plain: -1 while disconnected */
    bool ipc;     /* ipc framing: a type byte before each length */
    char url[512];
    char *prefix;
    size_t prefix_len;
    /* the message being read: header, then body */
    uint8_t head[9];
    size_t head_have;
    uint8_t *body;
    size_t body_len, body_have;
    bool in_body;
    int64_t retry_at; /* ms (monotonic) of the next reconnect attempt */
    int retry_ms;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for fd to be readable (POLLIN) or writable (POLLOUT) until `deadline`
 * (ms, monotonic): 0, or NNG_ETIMEDOUT. */
static int wait_fd(int fd, short ev, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left < 0)
            left = 0;
        struct pollfd p = {.fd = fd, .events = ev};
        int n = poll(&p, 1, (int)(left > INT32_MAX ? INT32_MAX : left));
        if (n > 0)
            return 0;
        if (n == 0)
            return NNG_ETIMEDOUT;
        if (errno != EINTR)
            return NNG_ESYSERR + errno;
    }
}

/* Read exactly n bytes by `deadline`: 0, NNG_ETIMEDOUT, NNG_ECLOSED (EOF). */
static int read_all(int fd, uint8_t *buf, size_t n, int64_t deadline)
{
    size_t have = 0;
    while (have < n) {
        int rv = wait_fd(fd, POLLIN, deadline);
        if (rv != 0)
            return rv;
        ssize_t k = recv(fd, buf + have, n - have, 0);
        if (k == 0)
            return NNG_ECLOSED;
        if (k < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return NNG_ESYSERR + errno;
        }
        have += (size_t)k;
    }
    return 0;
}

/* For tcp://, tcp4:// and tcp6:// URLs: what follows the scheme (HOST:PORT)
 * and the address family it asks for; NULL for any other scheme. */
static const char *tcp_hostport(const char *url, int *family)
{
    *family = AF_UNSPEC;
    if (strncmp(url, "tcp://", 6) == 0)
        return url + 6;
    if (strncmp(url, "tcp4://", 7) == 0) {
        *family = AF_INET;
        return url + 7;
    }
    if (strncmp(url, "tcp6://", 7) == 0) {
        *family = AF_INET6;
        return url + 7;
    }
    return NULL;
}

/* The URLs this file speaks SP on itself (the rest go through NNG). */
static bool plain_url(const char *url)
{
    int family;
    return strncmp(url, "ipc://", 6) == 0 || tcp_hostport(url, &family) != NULL;
}

/* A connected stream socket for the URL (ipc:// or tcp://), non-blocking,
 * by `deadline`. */
static int connect_url(const char *url, bool *ipc, int *out, int64_t deadline)
{
    if (strncmp(url, "ipc://", 6) == 0) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        const char *path = url + 6;
        if (path[0] == '\0' || strlen(path) >= sizeof sa.sun_path)
            return NNG_EADDRINVAL;
        memcpy(sa.sun_path, path, strlen(path) + 1);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return NNG_ESYSERR + errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS &&
            errno != EAGAIN) {
            int e = errno;
            close(fd);
            return e == ENOENT || e == ECONNREFUSED ? NNG_ECONNREFUSED : NNG_ESYSERR + e;
        }
        int rv = wait_fd(fd, POLLOUT, deadline);
        if (rv != 0) {
            close(fd);
            return rv;
        }
        *ipc = true;
        *out = fd;
        return 0;
    }
    /* tcp://HOST:PORT, tcp4:// or tcp6://; HOST may be [v6] */
    int family;
    const char *hp = tcp_hostport(url, &family);
    if (hp == NULL)
        return NNG_ENOTSUP;
    char host[256], port[16];
    const char *colon;
    if (hp[0] == '[') {
        const char *end = strchr(hp, ']');
        if (end == NULL || end[1] != ':' || (size_t)(end - hp - 1) >= sizeof host)
            return NNG_EADDRINVAL;
        memcpy(host, hp + 1, (size_t)(end - hp - 1));
        host[end - hp - 1] = '\0';
        colon = end + 1;
    } else {
        colon = strrchr(hp, ':');
        if (colon == NULL || (size_t)(colon - hp) >= sizeof host)
            return NNG_EADDRINVAL;
        memcpy(host, hp, (size_t)(colon - hp));
        host[colon - hp] = '\0';
    }
    if (strlen(colon + 1) == 0 || strlen(colon + 1) >= sizeof port || host[0] == '\0')
        return NNG_EADDRINVAL;
    strcpy(port, colon + 1);
    struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        return NNG_EADDRINVAL;
    int rv = NNG_ECONNREFUSED;
    for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
        int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
            close(fd);
            continue;
        }
        int err = 0;
        socklen_t el = sizeof err;
        if ((rv = wait_fd(fd, POLLOUT, deadline)) != 0 ||
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
            if (rv == 0)
                rv = NNG_ECONNREFUSED;
            close(fd);
            continue;
        }
        *ipc = false;
        *out = fd;
        freeaddrinfo(res);
        return 0;
    }
    freeaddrinfo(res);
    return rv;
}

/* Connect and exchange the SP headers by `deadline`: 0, or an NNG error
 * (NNG_EPROTO: the peer is no PUB0). */
static int sp_connect(ch_sub *s, int64_t deadline)
{
    int fd;
    int rv = connect_url(s->url, &s->ipc, &fd, deadline);
    if (rv != 0)
        return rv;
    static const uint8_t hello[8] = {0x00, 'S', 'P', 0x00, 0x00, SP_SUB0, 0x00, 0x00};
    size_t sent = 0;
    while (sent < sizeof hello) {
        if ((rv = wait_fd(fd, POLLOUT, deadline)) != 0)
            break;
        ssize_t k = send(fd, hello + sent, sizeof hello - sent, MSG_NOSIGNAL);
        if (k < 0 && errno != EINTR && errno != EAGAIN) {
            rv = NNG_ECLOSED;
            break;
        }
        if (k > 0)
            sent += (size_t)k;
    }
    uint8_t peer[8];
    if (rv == 0)
        rv = read_all(fd, peer, sizeof peer, deadline);
    if (rv == 0 && (peer[0] != 0x00 || peer[1] != 'S' || peer[2] != 'P' || peer[3] != 0x00 ||
                    peer[4] != 0x00 || peer[5] != SP_PUB0))
        rv = NNG_EPROTO;
    if (rv != 0) {
        close(fd);
        return rv == NNG_ECLOSED ? NNG_ECONNREFUSED : rv;
    }
    s->fd = fd;
    s->head_have = 0;
    s->in_body = false;
    s->retry_ms = SUB_RETRY_MIN_MS;
    return 0;
}

/* The connection is gone (or its stream is bad): drop it and what was half
 * read; ch_sub_recv reconnects. */
static void sp_drop(ch_sub *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    free(s->body);
    s->body = NULL;
    s->in_body = false;
    s->head_have = 0;
    s->retry_at = now_ms() + s->retry_ms;
    s->retry_ms = s->retry_ms * 2 > SUB_RETRY_MAX_MS ? SUB_RETRY_MAX_MS : s->retry_ms * 2;
}

/* Read what has arrived. 1: a whole message is in s->body; 0: not yet;
 * < 0: the connection is gone or its stream is bad (dropped). */
static int sp_pump(ch_sub *s)
{
    for (;;) {
        uint8_t *dst;
        size_t want;
        size_t head_len = s->ipc ? 9 : 8;
        if (!s->in_body) {
            dst = s->head + s->head_have;
            want = head_len - s->head_have;
        } else {
            dst = s->body + s->body_have;
            want = s->body_len - s->body_have;
        }
        if (want > 0) {
            ssize_t k = recv(s->fd, dst, want, 0);
            if (k == 0) {
                sp_drop(s);
                return -1;
            }
            if (k < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    return 0;
                sp_drop(s);
                return -1;
            }
            if (!s->in_body)
                s->head_have += (size_t)k;
            else
                s->body_have += (size_t)k;
            if ((size_t)k < want)
                continue;
        }
        if (!s->in_body) {
            const uint8_t *h = s->head;
            if (s->ipc && *h++ != 1) { /* only messages are defined */
                sp_drop(s);
                return -1;
            }
            uint64_t n = 0;
            for (int i = 0; i < 8; i++)
                n = n << 8 | h[i];
            if (n > SUB_MAX_MSG) {
                sp_drop(s);
                return -1;
            }
            s->body = malloc(n + 1);
            if (s->body == NULL) {
                sp_drop(s);
                return -1;
            }
            s->body_len = (size_t)n;
            s->body_have = 0;
            s->in_body = true;
            continue;
        }
        /* a whole message */
        s->in_body = false;
        s->head_have = 0;
        return 1;
    }
}

static int sub_open(const char *url, const char *prefix, ch_sub **out)
{
    if (url == NULL || prefix == NULL || out == NULL)
        return NNG_EINVAL;
    ch_sub *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NNG_ENOMEM;
    s->fd = -1;
    s->prefix_len = strlen(prefix);
    s->prefix = malloc(s->prefix_len + 1);
    if (s->prefix == NULL || strlen(url) >= sizeof s->url) {
        int rv = s->prefix == NULL ? NNG_ENOMEM : NNG_EADDRINVAL;
        free(s->prefix);
        free(s);
        return rv;
    }
    memcpy(s->prefix, prefix, s->prefix_len + 1);
    memcpy(s->url, url, strlen(url) + 1);
    s->plain = plain_url(url);
    int rv;
    if (s->plain) {
        s->retry_ms = SUB_RETRY_MIN_MS;
        /* synchronous, as ch_client_open(): chd must be there */
        rv = sp_connect(s, now_ms() + SUB_CONNECT_MS);
    } else {
        rv = nng_sub0_open(&s->s);
        if (rv == 0)
            rv = nng_socket_set(s->s, NNG_OPT_SUB_SUBSCRIBE, prefix, s->prefix_len);
        if (rv == 0) {
            nng_socket_set_int(s->s, NNG_OPT_RECVBUF, 8192);
            nng_socket_set_ms(s->s, NNG_OPT_RECONNMINT, SUB_RETRY_MIN_MS);
            rv = ch_dial(s->s, url);
        }
        if (rv != 0)
            nng_close(s->s);
    }
    if (rv != 0) {
        free(s->prefix);
        free(s);
        return rv;
    }
    *out = s;
    return 0;
}

ch_err ch_sub_open(const char *url, const char *prefix, ch_sub **out)
{
    return ch_nng_err(sub_open(url, prefix, out));
}

void ch_sub_close(ch_sub *s)
{
    if (s == NULL)
        return;
    if (s->plain) {
        if (s->fd >= 0)
            close(s->fd);
        free(s->body);
    } else {
        nng_close(s->s);
    }
    free(s->prefix);
    free(s);
}

static int sub_recv(ch_sub *s, int timeout_ms, char **event, size_t *len)
{
    if (s == NULL || event == NULL)
        return NNG_EINVAL;
    if (!s->plain) {
        nng_socket_set_ms(s->s, NNG_OPT_RECVTIMEO, timeout_ms);
        return ch_recv_copy(s->s, event, len);
    }
    int64_t deadline = now_ms() + (timeout_ms < 0 ? INT32_MAX : timeout_ms);
    for (;;) {
        if (s->fd < 0) { /* reconnect, no sooner than the back-off allows */
            int64_t t = now_ms();
            if (t >= s->retry_at) {
                /* by the caller's deadline, but a handshake gets a second at
                 * least: one abandoned half way can leave NNG 1.5.2's ipc
                 * listener deaf (upstream #1518) */
                int64_t by = deadline > t + 1000 ? deadline : t + 1000;
                if (sp_connect(s, by < t + SUB_CONNECT_MS ? by : t + SUB_CONNECT_MS) != 0)
                    sp_drop(s); /* sets the next attempt */
                continue;
            }
            int64_t until = s->retry_at < deadline ? s->retry_at : deadline;
            if (t >= deadline)
                return NNG_ETIMEDOUT;
            struct timespec ts = {.tv_sec = (until - t) / 1000,
                                  .tv_nsec = (long)((until - t) % 1000) * 1000000};
            nanosleep(&ts, NULL);
            continue;
        }
        int got = sp_pump(s);
        if (got > 0) {
            uint8_t *b = s->body;
            size_t n = s->body_len;
            s->body = NULL;
            if (n >= s->prefix_len && memcmp(b, s->prefix, s->prefix_len) == 0) {
                b[n] = '\0';
                *event = (char *)b;
                if (len != NULL)
                    *len = n;
                return 0;
            }
            free(b); /* another topic */
            continue;
        }
        if (got < 0)
            continue; /* dropped: reconnect */
        if (now_ms() >= deadline)
            return NNG_ETIMEDOUT;
        int rv = wait_fd(s->fd, POLLIN, deadline);
        if (rv == NNG_ETIMEDOUT)
            return rv;
        if (rv != 0)
            sp_drop(s);
    }
}

ch_err ch_sub_recv(ch_sub *s, int timeout_ms, char **event, size_t *len)
{
    return ch_nng_err(sub_recv(s, timeout_ms, event, len));
}
