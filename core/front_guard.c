/*
 * front_guard.c - the guard rules of the front: fragment catchers behind
 * guards that keep whole packets off them, anti-spoofing on the public
 * interface and the other_traffic = drop blackhole.
 */
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/front.h"
#include "core/front_guard.h"
#include "core/front_rules.h"

/* Whether rule t is in c[0..n) (priorities aside). */
static bool
front_rule_listed(const struct nl_rule *c, size_t n, const struct nl_rule *t)
{
	struct nl_rule a;
	size_t i;

	for (i = 0; i < n; i++) {
		a = c[i];
		a.priority = t->priority;
		if (memcmp(&a, t, sizeof(a)) == 0)
			return true;
	}
	return false;
}

/* Whether an interface ends in the other_traffic = drop blackhole. */
static bool
front_drops_other(const struct front *f, enum nat_side side)
{
	return !f->conf.front.route_other && side != NAT_SIDE_LAN;
}

/*
 * A guard ahead of the fragment catchers of catcher c: the same protocol
 * with any destination port (by_dport) or any source port, which no
 * fragment matches (its ports are 0 in the rule lookup), keeps whole packets
 * on the path they took before. Rule port ranges end at 65534, so one
 * selector alone would let every whole packet to (or from) port 65535 onto
 * the catcher: the two guards together miss only packets with both ports
 * 65535. local: lookup local, where packets to the front's own addresses
 * fell through to. Else (replies to remote clients) the end of the
 * interface's rules: the blackhole of other_traffic = drop or, past all of
 * ours, the host's routing (goto the moved local rule).
 */
static struct nl_rule
front_frag_guard(const struct front *f, enum nat_side side,
    const struct nl_rule *c, bool local, bool by_dport)
{
	struct nl_rule g;

	memset(&g, 0, sizeof(g));
	g.family = c->family;
	g.ip_proto = c->ip_proto;
	memcpy(g.iif, c->iif, sizeof(g.iif));
	if (by_dport) {
		g.dport_lo = 1;
		g.dport_hi = NL_RULE_PORT_MAX;
	} else {
		g.sport_lo = 1;
		g.sport_hi = NL_RULE_PORT_MAX;
	}
	if (local) {
		g.table = RT_TABLE_LOCAL;
		return g;
	}
	g.table = RT_TABLE_MAIN;
	if (front_drops_other(f, side))
		g.action = FR_ACT_BLACKHOLE;
	else {
		g.action = FR_ACT_GOTO;
		g.goto_prio = FRONT_PRIO_LOCAL;
	}
	return g;
}

/* Both guards (front_frag_guard) of catcher c. */
static bool
front_frag_guards(struct front *f, enum nat_side side,
    const struct nl_rule *c, bool local)
{
	struct nl_rule g;

	g = front_frag_guard(f, side, c, local, true);
	if (!front_rules_add(f, side, &g))
		return false;
	g = front_frag_guard(f, side, c, local, false);
	return front_rules_add(f, side, &g);
}

/*
 * Fragments carry no ports in the kernel's rule lookup (BRIEF section 4):
 * the side's port-selected captures (from rule index from on) miss them.
 * For each, the same rule without its ports catches them, after guards
 * (front_frag_guards) that keep whole packets of the protocol off it.
 * by_sport: captures by source port (keep-source replies, to remote
 * clients), else by destination port (clients to forwarded ports, full-NAT
 * replies: to the front's own addresses). On the public interface, remote
 * destinations come after local ones: the local guards go first there too.
 */
bool
front_guard_fragments(struct front *f, enum nat_side side, size_t from,
    bool by_sport)
{
	struct front_side *sd = &f->side[side];
	struct nl_rule c[FRONT_MAX_RULES], g;
	size_t n = 0, i, j, end = sd->nrules;

	for (i = from; i < end; i++) {
		g = sd->rules[i];
		if (g.table != FRONT_TABLE_BASE + (uint32_t)side || g.action != 0 ||
		    (g.ip_proto != IPPROTO_TCP && g.ip_proto != IPPROTO_UDP) ||
		    (by_sport ? g.sport_lo : g.dport_lo) == 0)
			continue;
		g.sport_lo = g.sport_hi = g.dport_lo = g.dport_hi = 0;
		g.priority = 0;
		if (!front_rules_has(sd, &g) && !front_rule_listed(c, n, &g))
			c[n++] = g;
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < i; j++)
			if (c[j].family == c[i].family &&
			    c[j].ip_proto == c[i].ip_proto)
				break;
		if (j < i)
			continue;	/* one set of guards per family and protocol */
		if ((!by_sport || side == NAT_SIDE_PUBLIC) &&
		    !front_frag_guards(f, side, &c[i], true))
			return false;
		if (by_sport && !front_frag_guards(f, side, &c[i], false))
			return false;
	}
	for (i = 0; i < n; i++)
		if (!front_rules_add(f, side, &c[i]))
			return false;
	return true;
}

/* A prefix of len bits with the host bits cleared. */
static struct nl_prefix
front_net_prefix(uint8_t af, const uint8_t *addr, uint8_t len)
{
	struct nl_prefix p;
	unsigned int i, alen = af == AF_INET ? 4 : 16;

	memset(&p, 0, sizeof(p));
	p.family = af;
	p.len = len;
	for (i = 0; i < alen && i * 8 < len; i++)
		p.addr[i] = len >= (i + 1) * 8 ? addr[i] :
		    (uint8_t)(addr[i] & (0xff00 >> (len - i * 8)));
	return p;
}

/*
 * Drop packets arriving on the public interface with a source address of
 * one of ifname's networks (the tunnel, a LAN): they are spoofed, and
 * relayed they would reach the backend as if they came from inside.
 */
static int
front_guard_if(struct front *f, const char *ifname, char *err)
{
	struct nl_ifaddr *a = NULL;
	struct nl_link l;
	struct nl_rule t;
	size_t n = 0, i;
	int rc = 0;

	if (nl_link_get(&f->nl, ifname, 0, &l, err) == -1 ||
	    nl_addr_list(&f->nl, l.ifindex, 0, &a, &n, err) == -1) {
		err_prefix(err, "addresses of %s", ifname);
		return -1;
	}
	for (i = 0; i < n && rc == 0; i++) {
		if (a[i].scope != RT_SCOPE_UNIVERSE)
			continue;
		t = front_rules_template(f->conf.front.public_interface,
		    a[i].family == AF_INET ? 4 : 6, 0, RT_TABLE_MAIN);
		t.action = FR_ACT_BLACKHOLE;
		t.src = front_net_prefix(a[i].family, a[i].addr,
		    a[i].prefixlen);
		if (!front_rules_add(f, NAT_SIDE_PUBLIC, &t))
			rc = front_rules_overflow(err);
	}
	free(a);
	return rc;
}

/* The anti-spoofing rules of the tunnel and every [hairpin] interface. */
int
front_guard_spoof(struct front *f, char *err)
{
	const struct conf_front *cf = &f->conf.front;
	size_t i;

	if (cf->tunnel_interface != NULL &&
	    front_guard_if(f, cf->tunnel_interface, err) == -1)
		return -1;
	for (i = 0; i < cf->nhairpin; i++)
		if (front_guard_if(f, cf->hairpin[i], err) == -1)
			return -1;
	return 0;
}

/*
 * Last rules of an interface (other_traffic = drop): what is not for the
 * host itself and was not captured is dropped, not routed, so the front
 * is no open router. The "lookup local" rule has no protocol and comes
 * first, so ARP and neighbour discovery still see the local addresses.
 */
bool
front_guard_other(struct front *f, enum nat_side side, const char *iif)
{
	struct nl_rule t;
	uint8_t fam;

	if (f->conf.front.route_other)
		return true;
	for (fam = 4; fam <= 6; fam += 2) {
		if (!front_rules_local_all(f, side, iif, fam))
			return false;
		t = front_rules_template(iif, fam, 0, RT_TABLE_MAIN);
		t.action = FR_ACT_BLACKHOLE;
		if (!front_rules_add(f, side, &t))
			return false;
	}
	return true;
}
