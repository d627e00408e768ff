/*
 * front_rules.c - the policy rules of every side, built from the engine
 * rules and the host facts.
 *
 * Rule order on the public interface (first match wins):
 *   1. exclusions from the config and the host's DHCP client ports: lookup local
 *   2. forwards' listen ports on the public addresses: the public TUN
 *   3. the kernel's ephemeral ports, so the relay's own connections work: lookup local
 *   4. replies from targets reached through this interface: their side's TUN
 *   5. with a backend, every TCP/UDP(/ICMP) packet to a public address: the public TUN
 * On the tunnel (and any other egress) interface:
 *   1. full-NAT replies to the relay's addresses (NAT port range): the inside TUN
 *   2. lookup local: the front's own traffic stays its own
 *   3. replies from targets (keep-source): the inside TUN
 * On hairpin (LAN) interfaces: full-NAT replies, public steps 1-3 and 5 for
 * LAN clients (the public addresses are local: this must come before the
 * lookup local rule), lookup local, then keep-source replies from LAN targets.
 * With [hairpin], full-NAT replies include every target's replies to the
 * hairpin address (LAN clients' flows), on the interface the target is behind.
 * Capture rules always name a protocol (ARP keeps working, BRIEF section 4).
 * Fragments carry no ports in the rule lookup: each port-selected capture
 * has a port-less twin behind guards that keep whole packets off it
 * (front_guard_fragments). ICMP is captured to the front's own addresses
 * (errors from any router, echo) and, past lookup local, from anywhere on an
 * interface with keep-source targets (errors to clients). ICMPv6 to the
 * front's addresses needs proxy_ndp and a tagged proxy entry per address
 * (tun/ndp.h): unicast neighbour discovery then stays with the host.
 */
#include <linux/rtnetlink.h>
#include <netinet/in.h>

#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/front.h"
#include "core/front_guard.h"
#include "core/front_host.h"
#include "core/front_rules.h"

/* The error for a side that needs more rules than it has room for. */
int
front_rules_overflow(char *err)
{
	snprintf(err, ERRLEN, "more than %d routing rules needed on one "
	    "side", FRONT_MAX_RULES);
	return -1;
}

/* Whether a side already has a rule like t (its priority aside). */
bool
front_rules_has(const struct front_side *sd, const struct nl_rule *t)
{
	struct nl_rule a;
	size_t i;

	for (i = 0; i < sd->nrules; i++) {
		a = sd->rules[i];
		a.priority = t->priority;
		if (memcmp(&a, t, sizeof(a)) == 0)
			return true;
	}
	return false;
}

/*
 * Append one rule to a side; false when the side is full. Identical rules
 * (two forwards to one target) are added once. The kernel's rule port
 * ranges end at 65534: a range reaching 65535 is cut there, and one made of
 * 65535 alone cannot be expressed and is left out.
 */
bool
front_rules_add(struct front *f, enum nat_side side,
    const struct nl_rule *tmpl)
{
	struct front_side *sd = &f->side[side];
	struct nl_rule t = *tmpl;

	if (t.dport_hi == 65535)
		t.dport_hi = 65534;
	if (t.sport_hi == 65535)
		t.sport_hi = 65534;
	if (t.dport_lo > t.dport_hi || t.sport_lo > t.sport_hi)
		return true;
	t.priority = 0;
	if (front_rules_has(sd, &t))
		return true;
	if (sd->nrules == FRONT_MAX_RULES)
		return false;
	t.priority = FRONT_PRIO_BASE + (uint32_t)side * 100 + (uint32_t)sd->nrules;
	sd->rules[sd->nrules++] = t;
	return true;
}

/* A rule template: iif, family, protocol, lookup table (0 = our side's). */
struct nl_rule
front_rules_template(const char *iif, uint8_t family, uint8_t proto,
    uint32_t table)
{
	struct nl_rule r;

	memset(&r, 0, sizeof(r));
	r.family = conf_af(family);
	r.ip_proto = proto;
	r.table = table;
	snprintf(r.iif, sizeof(r.iif), "%s", iif);
	return r;
}

/* The ICMP protocol number of a family. */
static uint8_t
front_icmp(uint8_t family)
{
	return family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
}

/* Whether a rule protocol is ICMP or ICMPv6 (no ports). */
static bool
front_is_icmp(uint8_t proto)
{
	return proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6;
}

/*
 * Whether ICMP to the front's own addresses can be captured for a family:
 * always for IPv4; for IPv6 only with proxy_ndp (front_ndp_on), which keeps
 * unicast neighbour discovery to those addresses with the host.
 */
static bool
front_icmp_own(const struct front *f, uint8_t family)
{
	return family == 4 || f->icmp6;
}

/* Protocol numbers of an engine protocol mask (ICMP to own addresses). */
static size_t
front_capture_protos(const struct front *f, uint8_t mask, uint8_t family,
    uint8_t out[3])
{
	size_t n = 0;

	if (mask & NAT_P_TCP)
		out[n++] = IPPROTO_TCP;
	if (mask & NAT_P_UDP)
		out[n++] = IPPROTO_UDP;
	if ((mask & NAT_P_ICMP) && front_icmp_own(f, family))
		out[n++] = front_icmp(family);
	return n;
}

/* Which side an egress interface belongs to. */
static enum nat_side
front_side_of(const struct front *f, const char *ifname)
{
	size_t i;

	if (strcmp(ifname, f->conf.front.public_interface) == 0)
		return NAT_SIDE_PUBLIC;
	for (i = 0; i < f->conf.front.nhairpin; i++)
		if (strcmp(ifname, f->conf.front.hairpin[i]) == 0)
			return NAT_SIDE_LAN;
	return NAT_SIDE_INSIDE;
}

/*
 * Whether an exclude of proto reaches port 65535: no "lookup local" rule can
 * express it (rule port ranges end at 65534), so the catch-all stops at
 * 65534 for that protocol instead and the port stays with the host.
 */
static bool
front_excludes_top(const struct front *f, uint8_t proto)
{
	const struct conf_front *cf = &f->conf.front;
	size_t i;

	for (i = 0; i < cf->nexclude; i++)
		if (cf->exclude[i].port_hi == 65535 &&
		    (cf->exclude[i].protos == NAT_P_TCP) == (proto == IPPROTO_TCP))
			return true;
	return false;
}

/* Rules capturing client traffic to the public addresses (or one address). */
static bool
front_client_rules(struct front *f, enum nat_side side, const char *iif,
    const struct nat_rule *r, bool any_port)
{
	struct nl_rule t;
	uint8_t p[3];
	size_t np = front_capture_protos(f, r->protos, r->family, p), i, a;

	for (i = 0; i < np; i++) {
		for (a = 0; a < f->host.npub_all; a++) {
			if (f->host.pub_all_family[a] != r->family)
				continue;
			if (r->match_dst &&
			    memcmp(&f->host.pub_all[a], &r->dst, 16) != 0)
				continue;
			t = front_rules_template(iif, r->family, p[i], FRONT_TABLE_BASE + side);
			t.dst = front_host_prefix(r->family, &f->host.pub_all[a]);
			if (!any_port && !front_is_icmp(p[i])) {
				t.dport_lo = r->port_lo;
				t.dport_hi = r->port_hi;
			} else if (any_port && !front_is_icmp(p[i]) &&
			    front_excludes_top(f, p[i])) {
				t.dport_lo = 1;
				t.dport_hi = 65534;
			}
			if (!front_rules_add(f, side, &t))
				return false;
		}
	}
	return true;
}

/* A "lookup local" rule for a port range (exclusions). */
static bool
front_local_ports(struct front *f, enum nat_side side, const char *iif,
    uint8_t family, uint8_t proto, uint16_t lo, uint16_t hi)
{
	struct nl_rule t = front_rules_template(iif, family, proto, RT_TABLE_LOCAL);

	t.dport_lo = lo;
	t.dport_hi = hi;
	return front_rules_add(f, side, &t);
}

/* Public side steps 1 and 3: ports that stay with the host. */
static bool
front_public_excludes(struct front *f, enum nat_side side, const char *iif,
    uint8_t family, bool ephemeral)
{
	const struct conf_front *cf = &f->conf.front;
	size_t i;

	if (ephemeral)
		return front_local_ports(f, side, iif, family, IPPROTO_TCP,
		    (uint16_t)f->host.eph_lo, (uint16_t)f->host.eph_hi) &&
		    front_local_ports(f, side, iif, family, IPPROTO_UDP,
		    (uint16_t)f->host.eph_lo, (uint16_t)f->host.eph_hi);
	for (i = 0; i < cf->nexclude; i++)
		if (!front_local_ports(f, side, iif, family,
		    cf->exclude[i].protos == NAT_P_TCP ? IPPROTO_TCP : IPPROTO_UDP,
		    cf->exclude[i].port_lo, cf->exclude[i].port_hi))
			return false;
	/* the host's own DHCP client must keep getting its answers */
	return front_local_ports(f, side, iif, family, IPPROTO_UDP,
	    family == 4 ? 68 : 546, family == 4 ? 68 : 546);
}

/*
 * ICMP (echo, errors) to one of the front's own addresses on an interface.
 * Errors about relayed packets come from anywhere on the path (a router
 * with a smaller MTU, an expired TTL), so no source is named; what no flow
 * claims (the host's own pings and errors) the engine leaves alone and the
 * loop hands back to the host.
 */
static bool
front_icmp_to(struct front *f, enum nat_side side, const char *iif,
    uint8_t family, const struct nat_addr *a)
{
	struct nl_rule t;

	if (!front_icmp_own(f, family))
		return true;
	t = front_rules_template(iif, family, front_icmp(family), FRONT_TABLE_BASE + side);
	t.dst = front_host_prefix(family, a);
	return front_rules_add(f, side, &t);
}

/*
 * Rules catching the replies of one target: keep-source replies come from
 * the target's port range; full-NAT replies come to the relay's NAT ports,
 * and ICMP to the relay's address from anywhere. ICMP errors about
 * keep-source flows go to the client's address: front_transit_icmp catches
 * them, once per side (keep[] says which families need it).
 */
static bool
front_reply_rules(struct front *f, enum nat_side side, const char *iif,
    const struct nat_rule *r, bool natted)
{
	struct nl_rule t;
	uint8_t p[3];
	size_t np = front_capture_protos(f, r->protos & (NAT_P_TCP | NAT_P_UDP),
	    r->family, p), i;

	if (!natted)
		f->side[side].keep[front_family_index(r->family)] = true;
	for (i = 0; i < np; i++) {
		t = front_rules_template(iif, r->family, p[i], FRONT_TABLE_BASE + side);
		t.src = front_host_prefix(r->family, &r->to);
		if (natted) {
			t.dst = front_host_prefix(r->family, &r->relay_src);
			t.dport_lo = f->set.nat_port_lo;
			t.dport_hi = f->set.nat_port_hi;
		} else if (r->to_port) {
			t.sport_lo = r->to_port;
			t.sport_hi = (uint16_t)(r->to_port + (r->port_hi - r->port_lo));
		}
		if (!front_rules_add(f, side, &t))
			return false;
	}
	return !natted || front_icmp_to(f, side, iif, r->family, &r->relay_src);
}

/*
 * ICMP errors from routers between the front and a keep-source target go
 * to the client's address: every ICMP packet arriving on an interface with
 * keep-source targets, past the local ones, is captured. What no flow
 * claims the loop routes (other_traffic = route) or drops.
 */
static bool
front_transit_icmp(struct front *f, enum nat_side side, const char *iif)
{
	struct nl_rule t;
	uint8_t fam;

	for (fam = 4; fam <= 6; fam += 2) {
		if (!f->side[side].keep[front_family_index(fam)])
			continue;
		/* elsewhere a protocol-less lookup local comes first */
		t = front_rules_template(iif, fam, front_icmp(fam), RT_TABLE_LOCAL);
		if (side == NAT_SIDE_PUBLIC && !front_rules_add(f, side, &t))
			return false;
		t.table = FRONT_TABLE_BASE + side;
		if (!front_rules_add(f, side, &t))
			return false;
	}
	return true;
}

/* The egress interface name and side of a rule's target. */
static int
front_target_side(struct front *f, const struct nat_rule *r, char *ifname,
    enum nat_side *side, char *err)
{
	struct nl_route rt;
	struct nl_link l;

	if (front_egress(f, r->family, &r->to, &rt, err) == -1)
		return -1;
	if (nl_link_get(&f->nl, NULL, rt.oif, &l, err) == -1) {
		err_prefix(err, "egress interface %d", rt.oif);
		return -1;
	}
	snprintf(ifname, IFNAMSIZ, "%s", l.name);
	*side = front_side_of(f, l.name);
	return 0;
}

/* A target's replies to hairpinned LAN clients: to the hairpin address. */
static bool
front_hairpin_replies(struct front *f, enum nat_side side, const char *iif,
    const struct nat_rule *r)
{
	struct nat_rule h = *r;

	if (r->family == 4 ? !f->set.hairpin4 : !f->set.hairpin6)
		return true;
	h.relay_src = r->family == 4 ? f->set.hairpin_src4 : f->set.hairpin_src6;
	return front_reply_rules(f, side, iif, &h, true);
}

/*
 * Reply rules for every DNAT rule, on the interface each target is behind:
 * full NAT (natted: source relay, and every target's hairpin replies) or
 * keep-source.
 */
static int
front_replies(struct front *f, bool natted, enum nat_side only, char *err)
{
	char ifname[IFNAMSIZ];
	enum nat_side side;
	struct nat_rule v;
	const struct nat_rule *r;
	size_t i;
	uint32_t j;
	bool relay;

	for (i = 0; i < f->set.nrules; i++) {
		r = &f->rules[i];
		relay = r->source == NAT_SOURCE_RELAY;
		if (r->action != NAT_RULE_DNAT || (relay && !natted))
			continue;
		/* each backend of a rule may be behind its own interface */
		for (j = 0; j < front_ntargets(r); j++) {
			v = front_target(f->set.backends, r, j);
			if (front_target_side(f, &v, ifname, &side, err) == -1)
				return -1;
			if (side != only)
				continue;
			if ((relay || !natted) &&
			    !front_reply_rules(f, side, ifname, &v, natted))
				goto full;
			if (natted && !front_hairpin_replies(f, side, ifname, &v))
				goto full;
		}
	}
	return 0;
full:
	return front_rules_overflow(err);
}

/* Whether any rule of a family translates (DNAT). */
static bool
front_family_dnat(const struct front *f, uint8_t family)
{
	size_t i;

	for (i = 0; i < f->set.nrules; i++)
		if (f->rules[i].family == family &&
		    f->rules[i].action == NAT_RULE_DNAT)
			return true;
	return false;
}

/*
 * Client rules for one family on a client interface: public steps 1-3,
 * then ICMP to the public addresses (errors about relayed packets, echo).
 */
static int
front_public_family(struct front *f, enum nat_side side, const char *iif,
    uint8_t family, char *err)
{
	const struct nat_rule *r;
	size_t i;

	if (!f->host.pub_has[front_family_index(family)])
		return 0;
	if (!front_public_excludes(f, side, iif, family, false))
		goto full;
	for (i = 0; i < f->set.nrules; i++) {
		r = &f->rules[i];
		if (r->family == family &&
		    CONF_RULE_KIND(r->id) == CONF_RULE_FORWARD &&
		    !front_client_rules(f, side, iif, r, false))
			goto full;
	}
	if (!front_public_excludes(f, side, iif, family, true))
		goto full;
	for (i = 0; i < f->host.npub_all && front_family_dnat(f, family); i++)
		if (f->host.pub_all_family[i] == family &&
		    !front_icmp_to(f, side, iif, family, &f->host.pub_all[i]))
			goto full;
	return 0;
full:
	return front_rules_overflow(err);
}

/* Catch-all captures for backends, on one interface and side. */
static bool
front_backend_rules(struct front *f, enum nat_side side, const char *iif)
{
	size_t i;

	for (i = 0; i < f->set.nrules; i++)
		if (CONF_RULE_KIND(f->rules[i].id) == CONF_RULE_BACKEND &&
		    !front_client_rules(f, side, iif, &f->rules[i], true))
			return false;
	return true;
}

/* A "lookup local" rule with no protocol: local traffic stays local. */
bool
front_rules_local_all(struct front *f, enum nat_side side, const char *iif,
    uint8_t family)
{
	struct nl_rule t = front_rules_template(iif, family, 0, RT_TABLE_LOCAL);

	return front_rules_add(f, side, &t);
}

/*
 * Inside and LAN interfaces: replies, LAN clients, their fragments, local
 * traffic, keep-source replies, their fragments and ICMP errors.
 */
static int
front_other_side(struct front *f, enum nat_side side, const char *iif,
    char *err)
{
	size_t from = f->side[side].nrules;

	if (front_replies(f, true, side, err) == -1)
		return -1;
	/* LAN clients go to the public addresses: local, so before lookup local */
	if (side == NAT_SIDE_LAN &&
	    (front_public_family(f, side, iif, 4, err) == -1 ||
	    front_public_family(f, side, iif, 6, err) == -1))
		return -1;
	if (side == NAT_SIDE_LAN && !front_backend_rules(f, side, iif))
		goto full;
	if (!front_guard_fragments(f, side, from, false) ||
	    !front_rules_local_all(f, side, iif, 4) || !front_rules_local_all(f, side, iif, 6))
		goto full;
	if (front_replies(f, false, side, err) == -1)
		return -1;
	if (!front_guard_fragments(f, side, from, true) ||
	    !front_transit_icmp(f, side, iif))
		goto full;
	return 0;
full:
	return front_rules_overflow(err);
}

/* Build every side's rule list from the engine rules and the host. */
int
front_rules(struct front *f, char *err)
{
	size_t i;

	for (i = 0; i < NAT_SIDE_MAX; i++) {
		f->side[i].nrules = 0;
		f->side[i].keep[0] = f->side[i].keep[1] = false;
	}
	if (front_guard_spoof(f, err) == -1)
		return -1;
	if (front_public_family(f, NAT_SIDE_PUBLIC,
	    f->conf.front.public_interface, 4, err) == -1 ||
	    front_public_family(f, NAT_SIDE_PUBLIC,
	    f->conf.front.public_interface, 6, err) == -1 ||
	    front_replies(f, true, NAT_SIDE_PUBLIC, err) == -1 ||
	    front_replies(f, false, NAT_SIDE_PUBLIC, err) == -1)
		return -1;
	if (!front_backend_rules(f, NAT_SIDE_PUBLIC,
	    f->conf.front.public_interface) ||
	    !front_guard_fragments(f, NAT_SIDE_PUBLIC, 0, false) ||
	    !front_guard_fragments(f, NAT_SIDE_PUBLIC, 0, true) ||
	    !front_transit_icmp(f, NAT_SIDE_PUBLIC,
	    f->conf.front.public_interface) ||
	    !front_guard_other(f, NAT_SIDE_PUBLIC,
	    f->conf.front.public_interface))
		return front_rules_overflow(err);
	if (f->conf.front.tunnel_interface != NULL) {
		if (front_other_side(f, NAT_SIDE_INSIDE,
		    f->conf.front.tunnel_interface, err) == -1)
			return -1;
		if (!front_guard_other(f, NAT_SIDE_INSIDE,
		    f->conf.front.tunnel_interface))
			return front_rules_overflow(err);
	}
	for (i = 0; i < f->conf.front.nhairpin; i++)
		if (front_other_side(f, NAT_SIDE_LAN, f->conf.front.hairpin[i],
		    err) == -1)
			return -1;
	return 0;
}
