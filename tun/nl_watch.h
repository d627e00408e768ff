/*
 * nl_watch.h - change events from the kernel: a non-blocking netlink socket
 * subscribed to rtnetlink groups (links, addresses, routes, rules), and the
 * drain that empties it. The events are only a hint that something changed:
 * callers read the state again after a quiet time (core/watch.c). The drain
 * also empties the nftables event socket of nft_watch_open (tun/nft.h).
 */
#ifndef TUNRELAY_NL_WATCH_H
#define TUNRELAY_NL_WATCH_H

#include <stdbool.h>

#include "tun/nl.h"

/* What nl_watch_open subscribes to, for IPv4 and IPv6 (IPv6: if there). */
#define NL_WATCH_LINK	0x1	/* links: up, down, new, gone, MTU */
#define NL_WATCH_ADDR	0x2	/* interface addresses */
#define NL_WATCH_ROUTE	0x4	/* routes */
#define NL_WATCH_RULE	0x8	/* ip rules */

struct mnl_socket;

/* A non-blocking socket subscribed to the groups in what; NULL with err. */
struct mnl_socket *nl_watch_open(unsigned int what, char err[ERRLEN]);
/* The socket's file descriptor, for an event loop. */
int nl_watch_fd(struct mnl_socket *);
/* Read every queued event; true when there was any (or some were lost). */
bool nl_watch_drain(struct mnl_socket *);
/* Close a watch socket (NULL is fine). */
void nl_watch_close(struct mnl_socket *);

#endif
