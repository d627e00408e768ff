/*
 * ndp.h - the relay's IPv6 proxy neighbour entries as one tagged,
 * reconcilable set, like route.h does for rules.
 *
 * A capture rule that sends ICMPv6 to one of the front's own addresses into
 * a TUN device would take the unicast neighbour discovery to that address
 * with it (solicitations checking reachability, advertisements answering
 * the front's own solicitations): forwarded, their hop limit is no longer
 * 255, and handed back through the TUN they arrive on the wrong device. With
 * net.ipv6.conf.all.proxy_ndp on and a proxy entry for the address on the
 * interface, the kernel gives neighbour discovery to a proxied address to
 * its own input path, on the interface it came in on with its hop limit
 * intact, before it would forward it; echo and errors still follow the rule.
 */
#ifndef TUNRELAY_NDP_H
#define TUNRELAY_NDP_H

#include <stdbool.h>
#include <stddef.h>

#include "nat/errlen.h"
#include "tun/nl.h"

/*
 * Make the tagged proxy entries match want[0..n): add the missing ones
 * (an entry someone else made for the same address and device is left
 * alone: it already does the job), and with prune delete tagged entries
 * not wanted. note (may be NULL) is told about each change.
 */
int ndp_sync(struct nl *, const struct nl_proxy *want, size_t n, bool prune,
    void (*note)(void *, const char *), void *arg, char err[ERRLEN]);
/* Delete every tagged proxy entry (a crashed instance's too). */
int ndp_remove(struct nl *, void (*note)(void *, const char *), void *arg,
    char err[ERRLEN]);
/* Count the tagged proxy entries. */
int ndp_count(struct nl *, size_t *, char err[ERRLEN]);

#endif
