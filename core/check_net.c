/*
 * check_net.c - findings of `tunrelay check` about netfilter beside the
 * relay: NAT rules left by an old script in nftables or legacy iptables
 * (read through tun/nft_read.c, never changed), forward chains and
 * policies that drop relayed packets, and the conntrack table's fill.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>

#include "core/check.h"
#include "core/check_net.h"
#include "tun/nft_read.h"
#include "tun/sysctl.h"

/* "nft delete rule ..." commands for the first handles of a chain. */
static void
check_net_nft_fix(const struct nft_read_chain *ch, char *buf, size_t len)
{
	size_t i, off = 0;
	int m;

	buf[0] = '\0';
	for (i = 0; i < ch->nat_rules && i < NFT_READ_HANDLES; i++) {
		m = snprintf(buf + off, len - off, "%snft delete rule %s %s %s "
		    "handle %llu", i ? "; " : "", nft_read_family(ch->family),
		    ch->table, ch->name, (unsigned long long)ch->handles[i]);
		if (m < 0 || (size_t)m >= len - off)
			return;
		off += (size_t)m;
	}
}

/* One nftables chain with NAT rules that touch the relay's traffic. */
static int
check_net_nft_nat(const struct conf *c, enum check_level lvl,
    const struct nft_read_chain *ch)
{
	char fix[512];

	check_net_nft_fix(ch, fix, sizeof(fix));
	return check_say(c, lvl, "nftables chain %s %s %s (%s%s) holds %zu "
	    "%s rule%s for the relay's interfaces or for all, left by an old "
	    "netfilter script? They rewrite packets before tunrelay sees them "
	    "or hide the client's address from the backend (inspect: nft -a "
	    "list chain %s %s %s; remove: %s%s)", nft_read_family(ch->family),
	    ch->table, ch->name, ch->base ? "hook " : "regular chain",
	    ch->base ? nft_read_hook(ch->hook) : "", ch->nat_rules, ch->verbs,
	    ch->nat_rules > 1 ? "s" : "", nft_read_family(ch->family),
	    ch->table, ch->name, fix, ch->nat_rules > NFT_READ_HANDLES ?
	    "; ..." : "");
}

/* A forward chain that drops by default (keep-client-ip: "FORWARD policy"). */
static void
check_net_nft_forward(const struct conf *c, const struct nft_read_chain *ch)
{
	const char *f = nft_read_family(ch->family);

	check_say(c, CHECK_WARNING, "nftables chain %s %s %s (hook forward) "
	    "drops by default; every relayed packet is forwarded twice, through "
	    "tunrelay's TUN devices, so the chain must accept them (fix: nft "
	    "insert rule %s %s %s iifname \"trl-*\" accept; nft insert rule %s "
	    "%s %s oifname \"trl-*\" accept)", f, ch->table, ch->name, f,
	    ch->table, ch->name, f, ch->table, ch->name);
}

/* Legacy iptables tables, as far as they can be seen. */
static void
check_net_xt(const struct conf *c, bool front)
{
	struct nft_read_xt x[4];
	char e[ERRLEN];
	const char *cmd;
	size_t n, i;

	if (nft_read_xt_scan(x, 4, &n, e) == -1) {
		check_say(c, CHECK_NOTE, "%s; legacy iptables rules are not "
		    "checked", e);
		return;
	}
	for (i = 0; i < n; i++) {
		cmd = x[i].family == 4 ? "iptables-legacy" : "ip6tables-legacy";
		if (strcmp(x[i].table, "nat") == 0 && x[i].entries > 0)
			check_say(c, CHECK_WARNING, "the legacy iptables nat table "
			    "(IPv%d) holds %u entries (rules or chains); tunrelay cannot "
			    "tell which interfaces they match, and DNAT, SNAT or "
			    "MASQUERADE rules left by an old script would compete "
			    "with the relay (inspect: %s -t nat -S; remove: %s "
			    "-t nat -D CHAIN RULE-NUMBER, or %s -t nat -F to "
			    "remove them all)", x[i].family, x[i].entries, cmd,
			    cmd, cmd);
		if (front && x[i].forward_drop)
			check_say(c, CHECK_WARNING, "the legacy iptables FORWARD "
			    "policy is DROP; every relayed packet is forwarded "
			    "twice, through tunrelay's TUN devices (fix: %s -I "
			    "FORWARD -i trl-+ -j ACCEPT; %s -I FORWARD -o trl-+ "
			    "-j ACCEPT)", cmd, cmd);
	}
}

/* netfilter: NAT rules of an old script, forward chains that drop. */
int
check_net_netfilter(const struct conf *c, const struct nft_read_ifs *ifs,
    bool front)
{
	struct nft_read_chain *ch;
	char e[ERRLEN];
	size_t n, i;
	int bad = 0;

	if ((ch = calloc(NFT_READ_MAX_CHAINS, sizeof(*ch))) == NULL)
		return 0;
	if (nft_read_scan(ifs, ch, NFT_READ_MAX_CHAINS, &n, e) == -1) {
		check_say(c, CHECK_NOTE, "cannot read nftables (%s); NAT rules "
		    "of other tools are not checked", e);
		n = 0;
	}
	for (i = 0; i < n; i++) {
		if (ch[i].nat_rules > 0)
			bad += check_net_nft_nat(c, front ? CHECK_ERROR :
			    CHECK_WARNING, &ch[i]);
		if (front && ch[i].base && ch[i].hook == NF_INET_FORWARD &&
		    ch[i].drop_policy)
			check_net_nft_forward(c, &ch[i]);
	}
	free(ch);
	check_net_xt(c, front);
	return bad;
}

/* The kernel's connection table, when loaded, must not run full. */
void
check_net_conntrack(const struct conf *c)
{
	char se[ERRLEN];
	int count, max;

	if (sysctl_get_int("net/netfilter/nf_conntrack_count", &count, se) == -1 ||
	    sysctl_get_int("net/netfilter/nf_conntrack_max", &max, se) == -1 ||
	    max <= 0 || count < max / 10 * 8)
		return;
	check_say(c, CHECK_WARNING, "the kernel's conntrack table is %d%% "
	    "full (%d of %d); when it is full the kernel drops new "
	    "connections, relayed ones too (fix: sysctl -w "
	    "net.netfilter.nf_conntrack_max=%d, or remove the rules that "
	    "load conntrack if nothing needs it)", count * 100 / max, count,
	    max, max * 2);
}
