/* SPDX-License-Identifier: MIT */
/*
 * The addresses of libmpx's Redis backend: redis://, redis+unix:// and
 * redis+cluster:// (docs/REDIS.md gives their forms), the user and password
 * in them, and the options after "?" (lease_ms=, wait_replicas=,
 * wait_timeout_ms=). Parsing one fills in the backend's nodes and settings.
 */
#include <stdlib.h>
#include <string.h>

#include "mpx-redis-private.h"

bool redis_address(const char *address) {
        return address && (strncmp(address, "redis://", 8) == 0 || strncmp(address, "redis+unix://", 13) == 0 ||
                           strncmp(address, "redis+cluster://", 16) == 0);
}

/* Add a node of address host:port (port 0: host is a socket path); its index, or -ENOMEM/-EINVAL. */
int redis_node_add(struct redis_backend *rb, const char *host, size_t host_len, int port) {
        struct redis_node *nodes;

        if (host_len == 0 || host_len >= sizeof(rb->nodes[0].host))
                return -EINVAL;
        for (size_t i = 0; i < rb->n_nodes; i++)
                if (rb->nodes[i].port == port && strlen(rb->nodes[i].host) == host_len &&
                    memcmp(rb->nodes[i].host, host, host_len) == 0)
                        return (int) i;
        if (rb->n_nodes >= INT16_MAX)
                return -EUSERS;
        nodes = realloc(rb->nodes, (rb->n_nodes + 1) * sizeof(*nodes));
        if (!nodes)
                return -ENOMEM;
        rb->nodes = nodes;
        memset(&nodes[rb->n_nodes], 0, sizeof(nodes[0]));
        memcpy(nodes[rb->n_nodes].host, host, host_len);
        nodes[rb->n_nodes].port = port;
        return (int) rb->n_nodes++;
}

/* One option of the query string: lease_ms=N. */
static int redis_option(struct redis_backend *rb, const char *opt, size_t len) {
        char buf[64], *end;
        unsigned long v;

        if (len >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, opt, len);
        buf[len] = '\0';
        if (strncmp(buf, "lease_ms=", 9) == 0) {
                v = strtoul(buf + 9, &end, 10);
                if (*end || end == buf + 9 || v < 100 || v > 86400000)
                        return -EINVAL;
                rb->lease_ms = (uint32_t) v;
                return 0;
        }
        if (strncmp(buf, "wait_replicas=", 14) == 0) {
                v = strtoul(buf + 14, &end, 10);
                if (*end || end == buf + 14 || v > 64)
                        return -EINVAL;
                rb->wait_replicas = (unsigned) v;
                return 0;
        }
        if (strncmp(buf, "wait_timeout_ms=", 16) == 0) {
                v = strtoul(buf + 16, &end, 10);
                if (*end || end == buf + 16 || v == 0 || v > 86400000)
                        return -EINVAL;
                rb->wait_timeout_ms = (uint32_t) v;
                return 0;
        }
        return -EINVAL;
}

/* user[:password]@ before the host, if there. */
static int redis_userinfo(struct redis_backend *rb, const char **p, const char *end) {
        const char *at = memchr(*p, '@', (size_t) (end - *p)), *colon;

        if (!at)
                return 0;
        colon = memchr(*p, ':', (size_t) (at - *p));
        if (!colon)
                colon = at;
        if ((size_t) (colon - *p) >= sizeof(rb->user) || (size_t) (at - colon) > sizeof(rb->password))
                return -EINVAL;
        memcpy(rb->user, *p, (size_t) (colon - *p));
        if (colon < at)
                memcpy(rb->password, colon + 1, (size_t) (at - colon - 1));
        *p = at + 1;
        return 0;
}

/* host[:port] */
static int redis_hostport(struct redis_backend *rb, const char *p, const char *end) {
        const char *colon = NULL;
        unsigned long port = 6379;
        char *e;

        for (const char *q = p; q < end; q++)
                if (*q == ':')
                        colon = q;
        if (colon) {
                port = strtoul(colon + 1, &e, 10);
                if (e != end || port == 0 || port > 65535)
                        return -EINVAL;
                end = colon;
        }
        return redis_node_add(rb, p, (size_t) (end - p), (int) port);
}

/*
 * redis://[user[:password]@]host[:port][/db][?opt&...]
 * redis+unix://[user[:password]@]/path/to/socket[?opt&...]
 * redis+cluster://[user[:password]@]host:port[,host:port...][?opt&...]
 */
int redis_parse_address(struct redis_backend *rb, const char *address) {
        const char *p = strchr(address, ':') + 3, *query, *end, *slash;
        int r;

        query = strchr(p, '?');
        end = query ? query : p + strlen(p);
        r = redis_userinfo(rb, &p, end);
        if (r < 0)
                return r;
        if (strncmp(address, "redis+unix://", 13) == 0) {
                if (*p != '/')
                        return -EINVAL;
                r = redis_node_add(rb, p, (size_t) (end - p), 0);
        } else if (strncmp(address, "redis+cluster://", 16) == 0) {
                rb->cluster = true;
                while (p < end && r >= 0) {
                        const char *comma = memchr(p, ',', (size_t) (end - p));

                        r = redis_hostport(rb, p, comma ? comma : end);
                        p = comma ? comma + 1 : end;
                }
        } else {
                slash = memchr(p, '/', (size_t) (end - p));
                r = redis_hostport(rb, p, slash ? slash : end);
                if (r >= 0 && slash && slash + 1 < end) {
                        char *e;

                        rb->db = (int) strtol(slash + 1, &e, 10);
                        if (e != end || rb->db < 0)
                                r = -EINVAL;
                }
        }
        if (r >= 0 && rb->n_nodes == 0)
                r = -EINVAL;
        for (p = query ? query + 1 : NULL; r >= 0 && p && *p;) {
                const char *amp = strchr(p, '&');

                r = redis_option(rb, p, amp ? (size_t) (amp - p) : strlen(p));
                p = amp ? amp + 1 : NULL;
        }
        return r < 0 ? r : 0;
}
