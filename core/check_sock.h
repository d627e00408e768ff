/*
 * check_sock.h - the host's own listening sockets, for `tunrelay check`:
 * a local service on a port the front relays never sees its clients again.
 */
#ifndef TUNRELAY_CHECK_SOCK_H
#define TUNRELAY_CHECK_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/errlen.h"

struct conf_front;
struct nat_addr;

/* One TCP socket in LISTEN or one bound UDP socket of this namespace. */
struct check_sock {
	uint8_t proto;		/* NAT_P_TCP or NAT_P_UDP */
	uint8_t family;		/* 4 or 6 */
	uint8_t addr[16];	/* local address; all zero = any */
	uint16_t port;
	unsigned long inode;	/* 0: a kernel socket (no process owns it) */
};

/* Every such socket of this network namespace; free *out. */
int check_sock_list(struct check_sock **out, size_t *n,
    char err[ERRLEN]);
/* Parse one line of /proc/net/{tcp,udp}[6]; 1 when it is a socket we list. */
int check_sock_parse(const char *line, uint8_t proto, uint8_t family,
    struct check_sock *s);
/* "NAME (pid N)" of the process holding socket inode, else "a kernel socket"
 * or "an unknown process". */
const char *check_sock_owner(unsigned long inode, char *buf, size_t len);

/*
 * Whether what socket s would receive on one of the public addresses pub[]
 * (families 4/6 in fam[]) is relayed by a front with config cf and the
 * host's ephemeral ports eph_lo..eph_hi.
 */
bool check_sock_relayed(const struct conf_front *cf, int eph_lo, int eph_hi,
    const struct check_sock *s, const struct nat_addr *pub,
    const uint8_t *fam, size_t npub);

#endif
