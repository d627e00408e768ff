/*
 * check_back.c - the findings of `tunrelay check` for a [back]: first what
 * run needs to start (each tunnel there, up and addressed, the fronts
 * reached through it, nftables for mark = connmark; run stops on these
 * too), then the host's state: rules of others before tunrelay's, an old
 * manual keep-client-ip recipe, netfilter NAT rules on the tunnels. It
 * reads the host and never changes it.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/back.h"
#include "core/check.h"
#include "core/check_back.h"
#include "core/check_net.h"
#include "tun/nft.h"
#include "tun/nl.h"
#include "tun/sysctl.h"

/* What a back check looks at. */
struct check_back {
	const struct conf *c;
	struct nl nl;
	struct back_probe tun[BACK_TUNNELS];	/* as back_probe_tunnel found */
};

/* Report one host finding ("note:" when it does not fail the check). */
#define check_back_problem(c, counts, ...) \
	check_say((c), (counts) ? CHECK_ERROR : CHECK_NOTE, __VA_ARGS__)

/* The front's address must be reached through tunnel t's interface. */
static int
check_back_front_route(struct check_back *b, size_t t,
    const struct conf_addr *f, const struct nl_ifaddr *a, size_t na)
{
	const struct conf_back_tunnel *ct = &b->c->back.tunnel[t];
	const char *tif = ct->tunnel_interface;
	struct nl_route_query q;
	struct nl_route rt;
	char e[ERRLEN], s[64];
	size_t i;
	bool addressed = false;

	conf_addr_str(f, s, sizeof(s));
	for (i = 0; i < na; i++)
		addressed |= a[i].family == conf_af(f->family);
	if (!addressed)
		return check_back_problem(b->c, true, "[%s] tunnel_interface %s "
		    "has no IPv%d address (fix: ip addr add ADDRESS/PREFIX dev %s)",
		    ct->name, tif, f->family, tif);
	memset(&q, 0, sizeof(q));
	q.family = conf_af(f->family);
	memcpy(q.dst, f->addr.b, 16);
	if (nl_route_get(&b->nl, &q, &rt, e) == -1 ||
	    rt.oif != b->tun[t].ifindex)
		return check_back_problem(b->c, true, "[%s] front: %s is not "
		    "reached through %s (fix: ip route add %s dev %s, or give %s "
		    "an address in the front's subnet)", ct->name, s, tif, s,
		    tif, tif);
	return 0;
}

/* rp_filter findings (the daemon sets loose mode itself). */
static void
check_back_rp_filter(const struct conf *c, const char *tif)
{
	char se[ERRLEN];
	int all, v;

	if (sysctl_rp_filter_get("all", &all, se) == -1 ||
	    sysctl_rp_filter_get(tif, &v, se) == -1)
		return;
	if ((all > v ? all : v) == 1)
		check_back_problem(c, false, "rp_filter of %s is strict (1); tunrelay "
		    "run sets loose mode (or: sysctl -w net.ipv4.conf.all."
		    "rp_filter=0 net.ipv4.conf.%s.rp_filter=2)", tif, tif);
}

/*
 * Rules of others that come before ours (1..BACK_PRIO_LO-1) and send packets
 * to a table other than local: they may catch the replies of tunnel flows
 * before ours do (a leftover of an old policy-routing script, typically).
 */
static void
check_back_foreign_rules(struct check_back *b)
{
	static const int fams[] = { AF_INET, AF_INET6 };
	struct nl_rule *r;
	char e[ERRLEN], s[256];
	size_t n, i;
	int f;

	for (f = 0; f < 2; f++) {
		if (nl_rule_list(&b->nl, fams[f], &r, &n, e) == -1)
			continue;	/* no IPv6: nothing there to conflict */
		for (i = 0; i < n; i++) {
			if (r[i].protocol == NL_PROTO_TUNRELAY ||
			    r[i].priority == 0 || r[i].priority >= BACK_PRIO_LO ||
			    (r[i].action != 0 && r[i].action != FR_ACT_TO_TBL) ||
			    r[i].table == RT_TABLE_LOCAL)
				continue;
			check_back_problem(b->c, false, "rule \"%s\" is not "
			    "tunrelay's and comes before its rules (%d..%d): it "
			    "may send replies of tunnel flows elsewhere (if it is "
			    "left from an old script: ip %srule del priority %u)",
			    nl_rule_str(&r[i], s, sizeof(s)), BACK_PRIO_LO,
			    BACK_PRIO_HI, fams[f] == AF_INET6 ? "-6 " : "",
			    r[i].priority);
		}
		free(r);
	}
}

/* The mark mode's findings. */
static int
check_back_mark_mode(const struct conf *c)
{
	const struct conf_back *cb = &c->back;
	char e[ERRLEN];
	bool nft = nft_probe(e) == 0;
	int bad = 0;

	if (cb->mark == CONF_MARK_CONNMARK && !nft)
		bad += check_back_problem(c, true, "[back] mark = connmark needs "
		    "nftables (%s); fix: modprobe nf_tables, or use mark = "
		    "source", e);
	if (cb->mark == CONF_MARK_AUTO)
		check_back_problem(c, false, "mark = auto will use %s", nft ?
		    "connmark (nftables is usable)" : "source (nftables is not "
		    "usable)");
	if (cb->mark == CONF_MARK_SOURCE || (cb->mark == CONF_MARK_AUTO && !nft)) {
		check_back_problem(c, false, "mark = source: UDP services bound to "
		    "0.0.0.0 or :: that answer without IP_PKTINFO reply from the "
		    "uplink's address and their replies do not go back through "
		    "the tunnel; bind them to the tunnel address or use mark = "
		    "connmark");
		check_back_problem(c, false, "mark = source: services behind this "
		    "host reached through a forwarded port (containers, "
		    "namespaces) reply from their own address; list it in "
		    "service_addresses (then all its traffic leaves by the "
		    "tunnel) or use mark = connmark");
		if (cb->mss_mode != CONF_MSS_OFF)
			check_back_problem(c, false, "mss_clamp needs nftables "
			    "(mark = connmark); it is not applied with source "
			    "rules");
	}
	return bad;
}

/*
 * mark = source with several tunnels: two tunnels that carry the same
 * address cannot be told apart by the replies' source address.
 */
static int
check_back_shared(struct check_back *b, size_t t, const struct nl_ifaddr *a,
    size_t na, struct nl_ifaddr seen[][BACK_MAX_ADDRS], const size_t *nseen)
{
	const struct conf_back *cb = &b->c->back;
	char s[INET6_ADDRSTRLEN];
	size_t o, i, j;
	int bad = 0;

	for (o = 0; o < t; o++)
		for (i = 0; i < na; i++)
			for (j = 0; j < nseen[o]; j++) {
				if (a[i].family != seen[o][j].family ||
				    memcmp(a[i].addr, seen[o][j].addr, 16) != 0)
					continue;
				nl_ntop(a[i].family, a[i].addr, s, sizeof(s));
				bad += check_back_problem(b->c, cb->mark ==
				    CONF_MARK_SOURCE, "[%s] and [%s]: both "
				    "tunnels carry %s; mark = source picks a "
				    "reply's tunnel by its source address and "
				    "cannot tell them apart: its replies all "
				    "leave through %s (fix: give each tunnel "
				    "its own address, or use mark = connmark)",
				    cb->tunnel[o].name, cb->tunnel[t].name, s,
				    cb->tunnel[o].tunnel_interface);
			}
	return bad;
}

/* Tunnels that are there and up (run routes them). */
static size_t
check_back_usable(struct check_back *b)
{
	struct nl_ifaddr a[BACK_MAX_ADDRS];
	char err[ERRLEN];
	size_t t, na, n = 0;

	for (t = 0; t < b->c->back.ntunnel; t++)
		if (back_probe_tunnel(b->c, &b->nl, t, &b->tun[t], a,
		    &na, err) == 0 && b->tun[t].ifindex != 0 && b->tun[t].up)
			n++;
	return n;
}

/*
 * The findings of one tunnel; its addresses go into a/na. A tunnel that is
 * missing or down fails the check only when no tunnel is usable: run starts
 * with the others and leaves it out until it is up.
 */
static int
check_back_tunnel(struct check_back *b, size_t t, size_t usable,
    struct nl_ifaddr *a, size_t *na)
{
	const struct conf_back_tunnel *ct = &b->c->back.tunnel[t];
	enum check_level lvl = usable > 0 ? CHECK_WARNING : CHECK_ERROR;
	const char *later = usable > 0 ? "; tunrelay run leaves it out until "
	    "it is up" : "";
	char err[ERRLEN];
	size_t i;
	int bad = 0;

	if (back_probe_tunnel(b->c, &b->nl, t, &b->tun[t], a, na, err) == -1)
		return check_back_problem(b->c, true, "[%s] %s", ct->name, err);
	if (b->tun[t].ifindex == 0)
		return check_say(b->c, lvl, "[%s] %s%s (fix: bring the "
		    "tunnel up first, e.g. wg-quick up %s)", ct->name, err,
		    later, ct->tunnel_interface);
	if (!b->tun[t].up)
		return check_say(b->c, lvl, "[%s] tunnel_interface %s is "
		    "down%s (fix: ip link set %s up)", ct->name,
		    ct->tunnel_interface, later, ct->tunnel_interface);
	for (i = 0; i < ct->nfront; i++)
		bad += check_back_front_route(b, t, &ct->front[i], a, *na);
	check_back_rp_filter(b->c, ct->tunnel_interface);
	return bad;
}

/* What several fronts mean for the mark mode. */
static void
check_back_fronts(const struct conf *c, bool nft)
{
	const struct conf_back *cb = &c->back;

	if (cb->ntunnel < 2)
		return;
	if (cb->mark == CONF_MARK_SOURCE || (cb->mark == CONF_MARK_AUTO &&
	    !nft))
		check_back_problem(c, false, "mark = source with %zu tunnels: a "
		    "reply's tunnel is picked by its source address alone (the "
		    "tunnel's own addresses and its section's "
		    "service_addresses); each front must send its clients to "
		    "an address of its own tunnel. An address reached through "
		    "two fronts (the same client through both, or an anycast "
		    "service address) cannot be told apart: its replies leave "
		    "through one tunnel only; use mark = connmark, which "
		    "follows each connection", cb->ntunnel);
	else
		check_back_problem(c, false, "mark = connmark with %zu tunnels: each "
		    "connection's replies leave through the tunnel it arrived "
		    "on (each its own mark and table, from 0x%x and %d; a "
		    "tunnel keeps its number while its section is there: "
		    "tunrelay status shows them)", cb->ntunnel, BACK_MARK,
		    BACK_TABLE);
}

/* What run needs of the host for a back config; the number of errors. */
static int
check_back_start(const struct conf *c)
{
	struct check_back *b;
	struct nl_ifaddr a[BACK_TUNNELS][BACK_MAX_ADDRS];
	size_t na[BACK_TUNNELS], t, usable;
	char e[ERRLEN];
	int bad = 0;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return check_back_problem(c, true, "out of memory");
	b->c = c;
	if (nl_open(&b->nl, e) == -1) {
		free(b);
		return check_back_problem(c, true, "netlink: %s", e);
	}
	usable = check_back_usable(b);
	for (t = 0; t < c->back.ntunnel; t++) {
		na[t] = 0;
		bad += check_back_tunnel(b, t, usable, a[t], &na[t]);
		bad += check_back_shared(b, t, a[t], na[t], a, na);
	}
	check_back_foreign_rules(b);
	bad += check_back_mark_mode(c);
	check_back_fronts(c, nft_probe(e) == 0);
	nl_close(&b->nl);
	free(b);
	return bad;
}

/* Rules of an old manual keep-client-ip recipe (fwmark) on the backend. */
static void
check_back_recipe_rules(const struct conf *c)
{
	struct nl nl;
	struct nl_rule *r;
	char e[ERRLEN], s[256];
	size_t n, i;
	int f;

	if (nl_open(&nl, e) == -1)
		return;
	for (f = 0; f < 2; f++) {
		if (nl_rule_list(&nl, f ? AF_INET6 : AF_INET, &r, &n, e) == -1)
			continue;
		for (i = 0; i < n; i++) {
			if (r[i].protocol == NL_PROTO_TUNRELAY ||
			    !r[i].has_fwmark || r[i].table == RT_TABLE_MAIN ||
			    r[i].table == RT_TABLE_LOCAL)
				continue;
			nl_rule_str(&r[i], s, sizeof(s));
			check_say(c, CHECK_WARNING, "%s rule \"%s\" looks like "
			    "the manual keep-client-ip recipe (fwmark rule and "
			    "CONNMARK); tunrelay's back half does the same with "
			    "its own mark 0x%x, and two recipes at once fight "
			    "over the marks (fix: %s rule del pref %u, and remove "
			    "the old CONNMARK rules)", f ? "ip -6" : "ip", s,
			    BACK_MARK, f ? "ip -6" : "ip", r[i].priority);
		}
		free(r);
	}
	nl_close(&nl);
}

/* The host findings for a back config (beyond what run needs). */
static int
check_back_findings(const struct conf *c)
{
	struct nft_read_ifs ifs;
	int bad;

	for (ifs.n = 0; ifs.n < c->back.ntunnel &&
	    ifs.n < sizeof(ifs.names) / sizeof(ifs.names[0]); ifs.n++)
		ifs.names[ifs.n] = c->back.tunnel[ifs.n].tunnel_interface;
	check_back_recipe_rules(c);
	bad = check_net_netfilter(c, &ifs, false);
	check_net_conntrack(c);
	return bad;
}

/* Findings for a back config as far as scope says; the number of errors. */
int
check_back(const struct conf *c, enum check_scope scope)
{
	int bad;

	bad = check_back_start(c);
	if (scope == CHECK_SCOPE_ALL)
		bad += check_back_findings(c);
	return bad;
}
