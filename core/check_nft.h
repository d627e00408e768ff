/*
 * check_nft.h - what `tunrelay check` reads of netfilter, never changing
 * it: nftables chains and rules (through libnftnl; iptables-nft rules are
 * nftables rules too) and the rule counts of legacy iptables tables.
 */
#ifndef TUNRELAY_CHECK_NFT_H
#define TUNRELAY_CHECK_NFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHECK_NFT_ERRLEN 256
#define CHECK_NFT_MAX_CHAINS 128
#define CHECK_NFT_HANDLES 4

/* One chain, and the NAT rules in it that may touch the relay's traffic. */
struct check_nft_chain {
	uint32_t family;		/* NFPROTO_* */
	char table[64];
	char name[64];
	char type[16];			/* "filter", "nat", "route"; "" = regular chain */
	bool base;			/* hooked into the stack */
	uint32_t hook;			/* NF_INET_* */
	bool drop_policy;		/* base chain with policy drop */
	size_t nat_rules;		/* dnat/snat/masquerade/redirect rules */
	uint64_t handles[CHECK_NFT_HANDLES];	/* of the first ones */
	char verbs[48];			/* "dnat", "snat,masquerade", ... */
};

/* The interfaces whose traffic is the relay's. */
struct check_nft_ifs {
	const char *names[16];
	size_t n;
};

/*
 * Read every chain and rule (tables named tunrelay* are ours and skipped).
 * A NAT rule counts when it names none of its interfaces at all, or one of
 * ifs; rules limited to other interfaces are left out.
 */
int check_nft_scan(const struct check_nft_ifs *, struct check_nft_chain *,
    size_t max, size_t *n, char err[CHECK_NFT_ERRLEN]);
/* "ip", "ip6", "inet", "arp", "bridge", "netdev" */
const char *check_nft_family(uint32_t);
/* "prerouting", "input", "forward", "output", "postrouting" */
const char *check_nft_hook(uint32_t);

/* A legacy (x_tables) table with more entries than its built-in chains. */
struct check_xt {
	int family;			/* 4 or 6 */
	char table[32];
	unsigned int entries;		/* beyond the built-in policies */
	bool forward_drop;		/* filter: FORWARD policy is DROP */
};

/*
 * Read the legacy tables that are loaded (/proc/net/ip{,6}_tables_names;
 * never loads a module). Only counts and built-in policies are visible.
 */
int check_xt_scan(struct check_xt *, size_t max, size_t *n,
    char err[CHECK_NFT_ERRLEN]);

#endif
