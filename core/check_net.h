/*
 * check_net.h - findings of `tunrelay check` about what shares the host's
 * packet path with the relay: NAT rules of other tools in nftables or
 * legacy iptables, forward chains that drop, a conntrack table near full.
 */
#ifndef TUNRELAY_CHECK_NET_H
#define TUNRELAY_CHECK_NET_H

#include <stdbool.h>

#include "conf/conf.h"
#include "tun/nft_read.h"

/*
 * netfilter: NAT rules of an old script on the interfaces ifs (errors for
 * a front, warnings for a back), forward chains that drop (a front's).
 * Returns the number of errors.
 */
int check_net_netfilter(const struct conf *, const struct nft_read_ifs *ifs,
    bool front);
/* The kernel's connection table, when loaded, must not run full. */
void check_net_conntrack(const struct conf *);

#endif
