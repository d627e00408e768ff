/*
 * nft_read.h - what `tunrelay check` reads of netfilter, never changing
 * it: nftables chains and rules (through libnftnl; iptables-nft rules are
 * nftables rules too) and the rule counts of legacy iptables tables.
 */
#ifndef TUNRELAY_NFT_READ_H
#define TUNRELAY_NFT_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/errlen.h"

#define NFT_READ_MAX_CHAINS 128
#define NFT_READ_HANDLES 4

/* One chain, and the NAT rules in it that may touch the relay's traffic. */
struct nft_read_chain {
	uint32_t family;		/* NFPROTO_* */
	char table[64];
	char name[64];
	char type[16];			/* "filter", "nat", "route"; "" = regular chain */
	bool base;			/* hooked into the stack */
	uint32_t hook;			/* NF_INET_* */
	bool drop_policy;		/* base chain with policy drop */
	size_t nat_rules;		/* dnat/snat/masquerade/redirect rules */
	uint64_t handles[NFT_READ_HANDLES];	/* of the first ones */
	char verbs[48];			/* "dnat", "snat,masquerade", ... */
};

/* The interfaces whose traffic is the relay's. */
struct nft_read_ifs {
	const char *names[16];
	size_t n;
};

/*
 * Read every chain and rule (tables named tunrelay* are ours and skipped).
 * A NAT rule counts when it names none of its interfaces at all, or one of
 * ifs; rules limited to other interfaces are left out.
 */
int nft_read_scan(const struct nft_read_ifs *, struct nft_read_chain *,
    size_t max, size_t *n, char err[ERRLEN]);
/* "ip", "ip6", "inet", "arp", "bridge", "netdev" */
const char *nft_read_family(uint32_t);
/* "prerouting", "input", "forward", "output", "postrouting" */
const char *nft_read_hook(uint32_t);

/* A legacy (x_tables) table with more entries than its built-in chains. */
struct nft_read_xt {
	int family;			/* 4 or 6 */
	char table[32];
	unsigned int entries;		/* beyond the built-in policies */
	bool forward_drop;		/* filter: FORWARD policy is DROP */
};

/*
 * Read the legacy tables that are loaded (/proc/net/ip{,6}_tables_names;
 * never loads a module). Only counts and built-in policies are visible.
 */
int nft_read_xt_scan(struct nft_read_xt *, size_t max, size_t *n,
    char err[ERRLEN]);

#endif
