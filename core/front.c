/*
 * front.c - the front relay: builds the engine's settings, the TUN devices
 * (one per side, so the engine knows where a packet came from) and the
 * policy routing that steers traffic into them.
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
 * (front_frag_rules). ICMP is captured to the front's own addresses (errors
 * from any router, echo) and, past lookup local, from anywhere on an
 * interface with keep-source targets (errors to clients). ICMPv6 to the
 * front's addresses needs proxy_ndp and a tagged proxy entry per address
 * (tun/ndp.h): unicast neighbour discovery then stays with the host.
 */
#include <sys/random.h>

#include <arpa/inet.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "core/front.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/reexec.h"
#include "tun/ndp.h"
#include "tun/sysctl.h"

static const char *const front_devname[NAT_SIDE_MAX] = {
	"trl-pub", "trl-in", "trl-lan"
};

/* Index 0/1 of an engine family. */
static int
front_fi(uint8_t family)
{
	return family == 4 ? 0 : 1;
}

/* A host prefix (/32 or /128) for an engine address. */
static struct nl_prefix
front_host_prefix(uint8_t family, const struct nat_addr *a)
{
	struct nl_prefix p;

	memset(&p, 0, sizeof(p));
	p.family = conf_af(family);
	p.len = family == 4 ? 32 : 128;
	memcpy(p.addr, a->b, family == 4 ? 4 : 16);
	return p;
}

/* Read the public and tunnel interfaces: index, MTU, addresses. */
static int
front_host_links(struct front *f, const struct conf_front *cf, char *err)
{
	struct front_host *h = &f->host;
	struct nl_link l;
	char e[NL_ERRLEN];

	if (nl_link_get(&f->nl, cf->public_interface, 0, &l, e) == -1) {
		snprintf(err, FRONT_ERRLEN, "public_interface %s: %s",
		    cf->public_interface, e);
		return -1;
	}
	h->pub_ifindex = l.ifindex;
	h->pub_mtu = l.mtu;
	if (cf->tunnel_interface == NULL)
		return 0;
	if (nl_link_get(&f->nl, cf->tunnel_interface, 0, &l, e) == -1) {
		snprintf(err, FRONT_ERRLEN, "tunnel_interface %s: %s",
		    cf->tunnel_interface, e);
		return -1;
	}
	h->tun_ifindex = l.ifindex;
	h->tun_mtu = l.mtu;
	return 0;
}

/* Collect the public interface's global addresses. */
static int
front_host_addrs(struct front *f, char *err)
{
	struct front_host *h = &f->host;
	struct nl_ifaddr *a = NULL;
	size_t n = 0, i;
	char e[NL_ERRLEN];
	int fi;

	if (nl_addr_list(&f->nl, h->pub_ifindex, 0, &a, &n, e) == -1) {
		snprintf(err, FRONT_ERRLEN, "addresses of %s: %s",
		    f->conf.front.public_interface, e);
		return -1;
	}
	for (i = 0; i < n && h->npub_all < 16; i++) {
		if (a[i].scope != RT_SCOPE_UNIVERSE)
			continue;
		fi = a[i].family == AF_INET ? 0 : 1;
		memset(&h->pub_all[h->npub_all], 0, sizeof(struct nat_addr));
		memcpy(h->pub_all[h->npub_all].b, a[i].addr, fi ? 16 : 4);
		h->pub_all_family[h->npub_all] = fi ? 6 : 4;
		if (!h->pub_has[fi]) {
			h->pub_has[fi] = true;
			h->pub_addr[fi] = h->pub_all[h->npub_all];
		}
		h->npub_all++;
	}
	free(a);
	if (h->npub_all == 0) {
		snprintf(err, FRONT_ERRLEN, "public_interface %s has no global "
		    "address", f->conf.front.public_interface);
		return -1;
	}
	return 0;
}

/* Everything the config needs to know about the host. */
static int
front_host(struct front *f, char *err)
{
	char e[SYSCTL_ERRLEN];

	memset(&f->host, 0, sizeof(f->host));
	if (front_host_links(f, &f->conf.front, err) == -1 ||
	    front_host_addrs(f, err) == -1)
		return -1;
	if (sysctl_local_port_range(&f->host.eph_lo, &f->host.eph_hi, e) == -1) {
		log_warnx("ip_local_port_range: %s; assuming 32768-60999", e);
		f->host.eph_lo = 32768;
		f->host.eph_hi = 60999;
	}
	return 0;
}

/* The interface and source address the kernel uses to reach a target. */
static int
front_egress(struct front *f, uint8_t family, const struct nat_addr *to,
    struct nl_route *rt, char *err)
{
	struct nl_route_query q;
	char e[NL_ERRLEN], a[64];

	memset(&q, 0, sizeof(q));
	q.family = conf_af(family);
	memcpy(q.dst, to->b, 16);
	if (nl_route_get(&f->nl, &q, rt, e) == -1) {
		snprintf(err, FRONT_ERRLEN, "no route to %s: %s",
		    conf_ntop(family, to, a, sizeof(a)), e);
		return -1;
	}
	return 0;
}

/* The first address of a family on an interface. */
static int
front_if_addr(struct front *f, int ifindex, uint8_t family,
    struct nat_addr *out)
{
	struct nl_ifaddr *a = NULL;
	size_t n = 0, i;
	char e[NL_ERRLEN];
	int rc = -1;

	if (nl_addr_list(&f->nl, ifindex, conf_af(family), &a, &n, e) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (a[i].scope != RT_SCOPE_UNIVERSE)
			continue;
		memset(out, 0, sizeof(*out));
		memcpy(out->b, a[i].addr, family == 4 ? 4 : 16);
		rc = 0;
		break;
	}
	free(a);
	return rc;
}

_Static_assert(sizeof(struct nat_rule) % _Alignof(struct nat_backend) == 0,
    "backends follow the rules in one allocation");

/* The number of targets of a rule: its backends, or its one target. */
static uint32_t
front_ntargets(const struct nat_rule *r)
{
	return r->backend_count ? r->backend_count : 1;
}

/* Rule r as if its target j (of backends bk) were its only one. */
static struct nat_rule
front_target(const struct nat_backend *bk, const struct nat_rule *r,
    uint32_t j)
{
	struct nat_rule v = *r;

	if (r->backend_count == 0)
		return v;
	v.to = bk[r->backend_first + j].addr;
	v.to_port = bk[r->backend_first + j].port;
	v.backend_count = 0;
	return v;
}

/*
 * Fill the full-NAT source address of a rule from its egress route (of its
 * first target, with several).
 */
static int
front_relay_src(struct front *f, struct nat_rule *r, char *err)
{
	struct nl_route rt;
	char a[64];

	if (front_egress(f, r->family, &r->to, &rt, err) == -1)
		return -1;
	if (rt.prefsrc.family != 0) {
		memset(&r->relay_src, 0, sizeof(r->relay_src));
		memcpy(r->relay_src.b, rt.prefsrc.addr, r->family == 4 ? 4 : 16);
		return 0;
	}
	if (front_if_addr(f, rt.oif, r->family, &r->relay_src) == 0)
		return 0;
	snprintf(err, FRONT_ERRLEN, "no address to use as the source towards "
	    "%s", conf_ntop(r->family, &r->to, a, sizeof(a)));
	return -1;
}

/*
 * The MTU of the link towards a rule's target, for the engine's "too big"
 * answers (0, unchecked, when the route or link cannot be read: the kernel's
 * own error still goes out then).
 */
static void
front_rule_mtu(struct front *f, struct nat_rule *r,
    const struct nat_backend *bk)
{
	struct nl_route rt;
	struct nl_link l;
	struct nat_rule v;
	char err[FRONT_ERRLEN], e[NL_ERRLEN];
	uint32_t j;

	r->mtu = 0;
	/* with several targets, the smallest MTU toward any of them */
	for (j = 0; j < front_ntargets(r); j++) {
		v = front_target(bk, r, j);
		if (front_egress(f, v.family, &v.to, &rt, err) == -1 ||
		    nl_link_get(&f->nl, NULL, rt.oif, &l, e) == -1)
			return;
		if (l.mtu < (r->family == 4 ? 576u : 1280u) || l.mtu > 65535) {
			r->mtu = 0;
			return;
		}
		if (r->mtu == 0 || l.mtu < r->mtu)
			r->mtu = (uint16_t)l.mtu;
	}
}

/*
 * The public address a keep-mode rule's replies answer when they come with
 * no flow (reply-side pickup): the rule's own address, or the public
 * interface's one address of the family. With several, a reply does not say
 * which one the client used, and the rule's flows are not rebuilt from it.
 */
static void
front_rule_pub(const struct front *f, struct nat_rule *r)
{
	size_t a, n = 0;

	memset(&r->pub, 0, sizeof(r->pub));
	if (r->match_dst)
		return;
	for (a = 0; a < f->host.npub_all; a++) {
		if (f->host.pub_all_family[a] != r->family)
			continue;
		r->pub = f->host.pub_all[a];
		n++;
	}
	if (n != 1)
		memset(&r->pub, 0, sizeof(r->pub));
}

/* Hairpin source addresses: the first LAN interface's addresses. */
static int
front_hairpin_src(struct front *f, struct nat_settings *s, char *err)
{
	struct nl_link l;
	char e[NL_ERRLEN];
	size_t i;

	for (i = 0; i < f->conf.front.nhairpin; i++) {
		if (nl_link_get(&f->nl, f->conf.front.hairpin[i], 0, &l, e) == -1) {
			snprintf(err, FRONT_ERRLEN, "[hairpin] interfaces %s: %s",
			    f->conf.front.hairpin[i], e);
			return -1;
		}
		if (!s->hairpin4 &&
		    front_if_addr(f, l.ifindex, 4, &s->hairpin_src4) == 0)
			s->hairpin4 = true;
		if (!s->hairpin6 &&
		    front_if_addr(f, l.ifindex, 6, &s->hairpin_src6) == 0)
			s->hairpin6 = true;
	}
	if (f->conf.front.nhairpin && !s->hairpin4 && !s->hairpin6) {
		snprintf(err, FRONT_ERRLEN, "[hairpin] interfaces have no "
		    "address to hairpin from");
		return -1;
	}
	return 0;
}

/* The MTU MSS clamping derives from: the smallest of the relay's paths. */
static uint16_t
front_mtu(const struct front *f)
{
	unsigned int m = f->host.pub_mtu;

	if (f->host.tun_ifindex && f->host.tun_mtu < m)
		m = f->host.tun_mtu;
	return (uint16_t)(m > 65535 ? 65535 : m);
}

/* A pass rule for ports lo..hi of one protocol bit and family. */
static struct nat_rule
front_host_rule(uint8_t family, uint8_t proto, uint16_t lo, uint16_t hi)
{
	struct nat_rule h;

	memset(&h, 0, sizeof(h));
	h.family = family;
	h.action = NAT_RULE_PASS;
	h.protos = proto;
	h.port_lo = lo;
	h.port_hi = hi;
	h.id = CONF_RULE_HOST;
	return h;
}

/*
 * Put the ports the host keeps (its ephemeral range, its DHCP client) as
 * pass rules in front of the first backend catch-all, as the capture rules
 * do (front_public_family): the engine's rules then say what the capture
 * really delivers, so reply-side pickup never takes a host port for one of a
 * backend's (a backend's own datagram from such a port is not a reply).
 * r has room for FRONT_HOST_RULES more than *n.
 */
#define FRONT_HOST_RULES 6
static void
front_host_rules(const struct front *f, struct nat_rule *r, size_t *n)
{
	struct nat_rule h[FRONT_HOST_RULES];
	size_t i, first = *n, nh = 0;
	bool fam[2] = { false, false };
	uint8_t fi;

	for (i = *n; i-- > 0;)
		if (CONF_RULE_KIND(r[i].id) == CONF_RULE_BACKEND) {
			first = i;
			fam[front_fi(r[i].family)] = true;
		}
	if (first == *n)
		return;
	for (fi = 0; fi < 2; fi++) {
		uint8_t fam_ = fi ? 6 : 4;

		if (!fam[fi])
			continue;
		h[nh++] = front_host_rule(fam_, NAT_P_TCP,
		    (uint16_t)f->host.eph_lo, (uint16_t)f->host.eph_hi);
		h[nh++] = front_host_rule(fam_, NAT_P_UDP,
		    (uint16_t)f->host.eph_lo, (uint16_t)f->host.eph_hi);
		h[nh++] = front_host_rule(fam_, NAT_P_UDP, fi ? 546 : 68,
		    fi ? 546 : 68);
	}
	memmove(&r[first + nh], &r[first], (*n - first) * sizeof(*r));
	memcpy(&r[first], h, nh * sizeof(*r));
	*n += nh;
}

/*
 * Turn the config into engine settings and rules. The backends of rules
 * with several follow the rules in the same allocation (*rp), so that
 * freeing the rules frees them too.
 */
static int
front_settings(struct front *f, struct nat_settings *s, struct nat_rule **rp,
    char *err)
{
	size_t n = conf_nat_nrules(&f->conf), i;
	size_t cap = n + FRONT_HOST_RULES, nb = conf_nat_nbackends(&f->conf);
	struct nat_backend *bk;
	struct nat_rule *r;
	char e[NAT_ERRLEN];

	if ((r = calloc(1, cap * sizeof(*r) + nb * sizeof(*bk))) == NULL) {
		snprintf(err, FRONT_ERRLEN, "no memory for %zu rules", n);
		return -1;
	}
	if (conf_nat_settings(&f->conf, s, r, &n, e) == -1) {
		snprintf(err, FRONT_ERRLEN, "%s", e);
		goto fail;
	}
	front_host_rules(f, r, &n);
	s->nrules = n;
	/* both are 4-byte aligned structs: the backends may follow the rules */
	bk = (struct nat_backend *)(void *)(r + cap);
	if (conf_nat_backends(&f->conf, s, r, bk, &nb, e) == -1) {
		snprintf(err, FRONT_ERRLEN, "%s", e);
		goto fail;
	}
	for (i = 0; i < n; i++) {
		if (r[i].action == NAT_RULE_DNAT &&
		    r[i].source == NAT_SOURCE_RELAY &&
		    front_relay_src(f, &r[i], err) == -1)
			goto fail;
		if (r[i].action == NAT_RULE_DNAT)
			front_rule_mtu(f, &r[i], bk);
		if (r[i].action == NAT_RULE_DNAT &&
		    r[i].source == NAT_SOURCE_KEEP)
			front_rule_pub(f, &r[i]);
	}
	if (front_hairpin_src(f, s, err) == -1)
		goto fail;
	if (f->conf.front.mss_mode == CONF_MSS_PMTU)
		s->mtu = front_mtu(f);
	if (s->nat_port_hi > 65534) {
		/* the kernel's rule port ranges stop at 65534 */
		log_info("nat_ports: using %u-65534 (replies to port 65535 "
		    "cannot be captured)", s->nat_port_lo);
		s->nat_port_hi = 65534;
	}
	if (getrandom(s->hash_key, sizeof(s->hash_key), 0) !=
	    (ssize_t)sizeof(s->hash_key) ||
	    getrandom(&s->port_seed, sizeof(s->port_seed), 0) !=
	    (ssize_t)sizeof(s->port_seed)) {
		snprintf(err, FRONT_ERRLEN, "getrandom: %s", strerror(errno));
		goto fail;
	}
	s->ttl_mode = NAT_TTL_RESTORE;
	*rp = r;
	return 0;
fail:
	free(r);
	return -1;
}

/* The error for a side that needs more rules than it has room for. */
static int
front_full(char *err)
{
	snprintf(err, FRONT_ERRLEN, "more than %d routing rules needed on one "
	    "side", FRONT_MAX_RULES);
	return -1;
}

/* Whether a side already has a rule like t (its priority aside). */
static bool
front_has_rule(const struct front_side *sd, const struct nl_rule *t)
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
static bool
front_add(struct front *f, enum nat_side side, const struct nl_rule *tmpl)
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
	if (front_has_rule(sd, &t))
		return true;
	if (sd->nrules == FRONT_MAX_RULES)
		return false;
	t.priority = FRONT_PRIO_BASE + (uint32_t)side * 100 + (uint32_t)sd->nrules;
	sd->rules[sd->nrules++] = t;
	return true;
}

/* A rule template: iif, family, protocol, lookup table (0 = our side's). */
static struct nl_rule
front_rule(const char *iif, uint8_t family, uint8_t proto, uint32_t table)
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
front_protos(const struct front *f, uint8_t mask, uint8_t family,
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
	size_t np = front_protos(f, r->protos, r->family, p), i, a;

	for (i = 0; i < np; i++) {
		for (a = 0; a < f->host.npub_all; a++) {
			if (f->host.pub_all_family[a] != r->family)
				continue;
			if (r->match_dst &&
			    memcmp(&f->host.pub_all[a], &r->dst, 16) != 0)
				continue;
			t = front_rule(iif, r->family, p[i], FRONT_TABLE_BASE + side);
			t.dst = front_host_prefix(r->family, &f->host.pub_all[a]);
			if (!any_port && !front_is_icmp(p[i])) {
				t.dport_lo = r->port_lo;
				t.dport_hi = r->port_hi;
			} else if (any_port && !front_is_icmp(p[i]) &&
			    front_excludes_top(f, p[i])) {
				t.dport_lo = 1;
				t.dport_hi = 65534;
			}
			if (!front_add(f, side, &t))
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
	struct nl_rule t = front_rule(iif, family, proto, RT_TABLE_LOCAL);

	t.dport_lo = lo;
	t.dport_hi = hi;
	return front_add(f, side, &t);
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
	t = front_rule(iif, family, front_icmp(family), FRONT_TABLE_BASE + side);
	t.dst = front_host_prefix(family, a);
	return front_add(f, side, &t);
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
	size_t np = front_protos(f, r->protos & (NAT_P_TCP | NAT_P_UDP),
	    r->family, p), i;

	if (!natted)
		f->side[side].keep[front_fi(r->family)] = true;
	for (i = 0; i < np; i++) {
		t = front_rule(iif, r->family, p[i], FRONT_TABLE_BASE + side);
		t.src = front_host_prefix(r->family, &r->to);
		if (natted) {
			t.dst = front_host_prefix(r->family, &r->relay_src);
			t.dport_lo = f->set.nat_port_lo;
			t.dport_hi = f->set.nat_port_hi;
		} else if (r->to_port) {
			t.sport_lo = r->to_port;
			t.sport_hi = (uint16_t)(r->to_port + (r->port_hi - r->port_lo));
		}
		if (!front_add(f, side, &t))
			return false;
	}
	return !natted || front_icmp_to(f, side, iif, r->family, &r->relay_src);
}

/* Whether rule t is in c[0..n) (priorities aside). */
static bool
front_in(const struct nl_rule *c, size_t n, const struct nl_rule *t)
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
	if (!front_add(f, side, &g))
		return false;
	g = front_frag_guard(f, side, c, local, false);
	return front_add(f, side, &g);
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
static bool
front_frag_rules(struct front *f, enum nat_side side, size_t from,
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
		if (!front_has_rule(sd, &g) && !front_in(c, n, &g))
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
		if (!front_add(f, side, &c[i]))
			return false;
	return true;
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
		if (!f->side[side].keep[front_fi(fam)])
			continue;
		/* elsewhere a protocol-less lookup local comes first */
		t = front_rule(iif, fam, front_icmp(fam), RT_TABLE_LOCAL);
		if (side == NAT_SIDE_PUBLIC && !front_add(f, side, &t))
			return false;
		t.table = FRONT_TABLE_BASE + side;
		if (!front_add(f, side, &t))
			return false;
	}
	return true;
}

/* Whether the config sends every port of a family to a backend. */
static bool
front_has_backend(const struct front *f, uint8_t family)
{
	size_t i;

	for (i = 0; i < f->set.nrules; i++)
		if (CONF_RULE_KIND(f->rules[i].id) == CONF_RULE_BACKEND &&
		    f->rules[i].family == family)
			return true;
	return false;
}

/* The egress interface name and side of a rule's target. */
static int
front_target_side(struct front *f, const struct nat_rule *r, char *ifname,
    enum nat_side *side, char *err)
{
	struct nl_route rt;
	struct nl_link l;
	char e[NL_ERRLEN];

	if (front_egress(f, r->family, &r->to, &rt, err) == -1)
		return -1;
	if (nl_link_get(&f->nl, NULL, rt.oif, &l, e) == -1) {
		snprintf(err, FRONT_ERRLEN, "egress interface %d: %s", rt.oif, e);
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
	return front_full(err);
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

	if (!f->host.pub_has[front_fi(family)])
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
	return front_full(err);
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
static bool
front_local_all(struct front *f, enum nat_side side, const char *iif,
    uint8_t family)
{
	struct nl_rule t = front_rule(iif, family, 0, RT_TABLE_LOCAL);

	return front_add(f, side, &t);
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
	if (!front_frag_rules(f, side, from, false) ||
	    !front_local_all(f, side, iif, 4) || !front_local_all(f, side, iif, 6))
		goto full;
	if (front_replies(f, false, side, err) == -1)
		return -1;
	if (!front_frag_rules(f, side, from, true) ||
	    !front_transit_icmp(f, side, iif))
		goto full;
	return 0;
full:
	return front_full(err);
}

/* A prefix of len bits with the host bits cleared. */
static struct nl_prefix
front_net(uint8_t af, const uint8_t *addr, uint8_t len)
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
	char e[NL_ERRLEN];
	int rc = 0;

	if (nl_link_get(&f->nl, ifname, 0, &l, e) == -1 ||
	    nl_addr_list(&f->nl, l.ifindex, 0, &a, &n, e) == -1) {
		snprintf(err, FRONT_ERRLEN, "addresses of %s: %s", ifname, e);
		return -1;
	}
	for (i = 0; i < n && rc == 0; i++) {
		if (a[i].scope != RT_SCOPE_UNIVERSE)
			continue;
		t = front_rule(f->conf.front.public_interface,
		    a[i].family == AF_INET ? 4 : 6, 0, RT_TABLE_MAIN);
		t.action = FR_ACT_BLACKHOLE;
		t.src = front_net(a[i].family, a[i].addr, a[i].prefixlen);
		if (!front_add(f, NAT_SIDE_PUBLIC, &t))
			rc = front_full(err);
	}
	free(a);
	return rc;
}

/* The anti-spoofing rules of the tunnel and every [hairpin] interface. */
static int
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
static bool
front_guard_other(struct front *f, enum nat_side side, const char *iif)
{
	struct nl_rule t;
	uint8_t fam;

	if (f->conf.front.route_other)
		return true;
	for (fam = 4; fam <= 6; fam += 2) {
		if (!front_local_all(f, side, iif, fam))
			return false;
		t = front_rule(iif, fam, 0, RT_TABLE_MAIN);
		t.action = FR_ACT_BLACKHOLE;
		if (!front_add(f, side, &t))
			return false;
	}
	return true;
}

/* Build every side's rule list from the engine rules and the host. */
static int
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
	    !front_frag_rules(f, NAT_SIDE_PUBLIC, 0, false) ||
	    !front_frag_rules(f, NAT_SIDE_PUBLIC, 0, true) ||
	    !front_transit_icmp(f, NAT_SIDE_PUBLIC,
	    f->conf.front.public_interface) ||
	    !front_guard_other(f, NAT_SIDE_PUBLIC,
	    f->conf.front.public_interface))
		return front_full(err);
	if (f->conf.front.tunnel_interface != NULL) {
		if (front_other_side(f, NAT_SIDE_INSIDE,
		    f->conf.front.tunnel_interface, err) == -1)
			return -1;
		if (!front_guard_other(f, NAT_SIDE_INSIDE,
		    f->conf.front.tunnel_interface))
			return front_full(err);
	}
	for (i = 0; i < f->conf.front.nhairpin; i++)
		if (front_other_side(f, NAT_SIDE_LAN, f->conf.front.hairpin[i],
		    err) == -1)
			return -1;
	return 0;
}

/* Log a routing change. */
static void
front_note(void *arg, const char *msg)
{
	(void)arg;
	log_info("%s", msg);
}

/*
 * Each table also gets a blackhole default below the TUN route. While the
 * relay is down between a crash and its restart its TUN devices are gone
 * with their routes, and the captured traffic would otherwise fall through
 * to the host: the host's stack would answer clients with resets (nothing
 * listens there) and route the backend's replies to them untranslated. Held
 * in the blackhole, the packets are lost instead, and the endpoints'
 * retransmissions reach the restarted relay, which picks the flows up.
 */
static void
front_hold(struct front_side *sd)
{
	int i;

	for (i = 0; i < 2; i++) {
		memset(&sd->hold[i], 0, sizeof(sd->hold[i]));
		sd->hold[i].family = i == 0 ? AF_INET : AF_INET6;
		sd->hold[i].type = RTN_BLACKHOLE;
		sd->hold[i].table = sd->spec.table;
		sd->hold[i].metric = FRONT_HOLD_METRIC;
	}
	sd->spec.routes = sd->hold;
	sd->spec.nroutes = 2;
}

/* The route spec of a side (scope only when rules is false). */
static void
front_spec(struct front_side *sd, enum nat_side side, int ifindex)
{
	struct route_spec *s = &sd->spec;

	memset(s, 0, sizeof(*s));
	s->tun_ifindex = ifindex;
	s->table = FRONT_TABLE_BASE + (uint32_t)side;
	s->prio_lo = FRONT_PRIO_BASE + (uint32_t)side * 100;
	s->prio_hi = s->prio_lo + 99;
	s->local_prio = side == NAT_SIDE_PUBLIC ? FRONT_PRIO_LOCAL : 0;
	s->protocol = NL_PROTO_TUNRELAY;
	s->rules = sd->rules;
	s->nrules = sd->nrules;
	s->note = front_note;
	front_hold(sd);
}

/*
 * The kernel applies max(all, interface) for rp_filter, so a non-zero "all"
 * would override the TUN's 0. Move its value onto every interface that has a
 * lower one (their filtering stays the same), then set "all" to 0.
 */
static int
front_rp_filter_all(char *err)
{
	char se[SYSCTL_ERRLEN];
	struct if_nameindex *ifs, *i;
	int all, v, old;

	if (sysctl_rp_filter_get("all", &all, se) == -1) {
		snprintf(err, FRONT_ERRLEN, "rp_filter: %s", se);
		return -1;
	}
	if (all == 0)
		return 0;
	if ((ifs = if_nameindex()) == NULL) {
		snprintf(err, FRONT_ERRLEN, "if_nameindex: %s", strerror(errno));
		return -1;
	}
	for (i = ifs; i->if_index != 0; i++) {
		if (strncmp(i->if_name, "trl-", 4) == 0 ||
		    sysctl_rp_filter_get(i->if_name, &v, se) == -1 || v >= all)
			continue;
		if (sysctl_rp_filter(i->if_name, all, &old, se) == -1)
			log_warnx("rp_filter of %s: %s", i->if_name, se);
	}
	if_freenameindex(ifs);
	/* interfaces made later (container veths) start from "default" */
	if (sysctl_rp_filter_get("default", &v, se) == 0 && v < all)
		sysctl_rp_filter("default", all, &old, se);
	if (sysctl_rp_filter("all", 0, &old, se) == -1) {
		snprintf(err, FRONT_ERRLEN, "rp_filter: %s", se);
		return -1;
	}
	log_info("net.ipv4.conf.all.rp_filter was %d: set it on each interface "
	    "instead and set all to 0, so that the TUN devices need none", all);
	return 0;
}

/*
 * Take over the side's device from the image that executed this one (a
 * restart): the same device, its routes and the packets queued in it while
 * the binary was executed again. 0 when taken over.
 */
static int
front_inherit_dev(struct front_side *sd, const struct tundev_opts *o)
{
	int fds[TUNDEV_MAXQUEUES];
	char e[TUNDEV_ERRLEN];
	unsigned int n;

	n = reexec_take_tun(o->name, fds, TUNDEV_MAXQUEUES);
	if (n == 0)
		return -1;
	if (tundev_inherit(&sd->dev, o, fds, n, e) == -1) {
		log_warnx("TUN device %s not taken over (%s): opening it again",
		    o->name, e);
		return -1;
	}
	log_info("took over %s from the previous image (%u queues handed "
	    "over)", sd->dev.name, n);
	return 0;
}

/* Open a side's TUN device and set the sysctls it needs. */
static int
front_open_dev(struct front *f, enum nat_side side, bool wait, char *err)
{
	struct front_side *sd = &f->side[side];
	struct tundev_opts o;
	char e[TUNDEV_ERRLEN], se[SYSCTL_ERRLEN], off[64];
	int old, tries;

	memset(&o, 0, sizeof(o));
	o.name = front_devname[side];
	o.vnet_hdr = true;
	o.queues = f->nqueues;
	o.mtu = f->host.pub_mtu > f->host.tun_mtu ? f->host.pub_mtu :
	    f->host.tun_mtu;
	if (front_inherit_dev(sd, &o) == 0)
		goto opened;
	/* a killed instance's device goes away asynchronously: at start, wait
	 * for it (never in a reload, the packet loop would stall) */
	for (tries = 0; tundev_open(&sd->dev, &o, e) == -1; tries++) {
		if (!wait || tries == 20) {
			snprintf(err, FRONT_ERRLEN, "TUN device %s: %s", o.name, e);
			return -1;
		}
		usleep(100 * 1000);
	}
opened:
	/*
	 * rewritten packets re-enter from the TUN with a remote or the relay's
	 * own source; the TUN has no IPv4 address, and the kernel's
	 * reverse-path check (even loose) rejects every source on such a
	 * device: no check there, local sources accepted
	 */
	if (front_rp_filter_all(err) == -1) {
		tundev_close(&sd->dev);
		return -1;
	}
	if (sysctl_rp_filter(sd->dev.name, 0, &old, se) == -1 ||
	    sysctl_accept_local(sd->dev.name, 1, &old, se) == -1) {
		snprintf(err, FRONT_ERRLEN, "%s: %s", sd->dev.name, se);
		tundev_close(&sd->dev);
		return -1;
	}
	log_info("opened %s (offloads: %s, queues: %u)", sd->dev.name,
	    tundev_offload_str(sd->dev.offloads, off, sizeof(off)),
	    sd->dev.nfds);
	return 0;
}

/* Turn on forwarding for the families in use, saying so. */
static int
front_forwarding(const struct front *f, char *err)
{
	char se[SYSCTL_ERRLEN];
	bool fam[2] = { false, false };
	size_t i;
	int old, fi;

	for (i = 0; i < f->set.nrules; i++)
		fam[front_fi(f->rules[i].family)] = true;
	for (fi = 0; fi < 2; fi++) {
		if (!fam[fi])
			continue;
		if (sysctl_forwarding(fi ? AF_INET6 : AF_INET, 1, &old, se) == -1) {
			snprintf(err, FRONT_ERRLEN, "forwarding: %s", se);
			return -1;
		}
		if (old != 1)
			log_info("enabled IPv%d forwarding (was %d)", fi ? 6 : 4, old);
	}
	return 0;
}

/*
 * IPv6 neighbour discovery to the front's own addresses must stay with the
 * host while ICMPv6 to them is captured (tun/ndp.h): proxy_ndp on, when any
 * rule is IPv6. Without it (a read-only /proc/sys), ICMPv6 to those
 * addresses is not captured at all.
 */
static void
front_ndp_on(struct front *f)
{
	char se[SYSCTL_ERRLEN];
	size_t i;
	int old;

	f->icmp6 = false;
	for (i = 0; i < f->set.nrules && !f->icmp6; i++)
		f->icmp6 = f->rules[i].family == 6 &&
		    f->rules[i].action == NAT_RULE_DNAT;
	if (!f->icmp6)
		return;
	if (sysctl_proxy_ndp(1, &old, se) == -1) {
		log_warnx("%s: ICMPv6 to the front's addresses stays with the "
		    "host (no IPv6 ping to targets, no packet too big relayed)",
		    se);
		f->icmp6 = false;
	} else if (old != 1)
		log_info("enabled net.ipv6.conf.all.proxy_ndp (was %d): "
		    "neighbour discovery stays with the host", old);
}

/*
 * The proxy entries the rules need: one per captured ICMPv6 destination of
 * the front's own (a host prefix) on the interface it is captured on.
 */
static size_t
front_proxies(const struct front *f, struct nl_proxy *out, size_t max)
{
	const struct nl_rule *r;
	size_t n = 0, i;
	unsigned int ifx;
	int s;

	for (s = 0; s < NAT_SIDE_MAX; s++) {
		for (i = 0; i < f->side[s].nrules && n < max; i++) {
			r = &f->side[s].rules[i];
			if (r->family != AF_INET6 || r->ip_proto != IPPROTO_ICMPV6 ||
			    r->action != 0 || r->dst.len != 128 ||
			    r->table != FRONT_TABLE_BASE + (uint32_t)s ||
			    (ifx = if_nametoindex(r->iif)) == 0)
				continue;
			memset(&out[n], 0, sizeof(out[n]));
			out[n].family = AF_INET6;
			out[n].ifindex = (int)ifx;
			memcpy(out[n].addr, r->dst.addr, 16);
			n++;
		}
	}
	return n;
}

/*
 * Install the proxy entries and rules of every side (entries first, so
 * that neighbour discovery never meets a capture rule alone); on error take
 * back what was added. Entries no rule needs go last.
 */
static int
front_apply(struct front *f, char *err)
{
	struct nl_proxy px[NAT_SIDE_MAX * FRONT_MAX_RULES];
	struct route_result res;
	char e[ROUTE_ERRLEN];
	size_t npx;
	int i;

	npx = front_proxies(f, px, sizeof(px) / sizeof(px[0]));
	if (ndp_sync(&f->nl, px, npx, false, front_note, NULL, e) == -1) {
		snprintf(err, FRONT_ERRLEN, "proxy neighbour entries: %s", e);
		return -1;
	}
	for (i = 0; i < NAT_SIDE_MAX; i++) {
		front_spec(&f->side[i], (enum nat_side)i, f->side[i].dev.ifindex);
		if (!f->side[i].used)
			continue;
		if (route_apply(&f->nl, &f->side[i].spec, &res, e) == -1) {
			snprintf(err, FRONT_ERRLEN, "routing for %s: %s",
			    front_devname[i], e);
			return -1;
		}
	}
	if (ndp_sync(&f->nl, px, npx, true, front_note, NULL, e) == -1)
		log_warnx("removing proxy neighbour entries: %s", e);
	return 0;
}

/* Remove our rules and routes of every side (scope only: no config needed). */
static int
front_unroute(struct nl *nl, char *err)
{
	struct front_side sd;
	struct route_result res;
	char e[ROUTE_ERRLEN];
	int i, rc = 0;

	for (i = NAT_SIDE_MAX - 1; i >= 0; i--) {
		memset(&sd, 0, sizeof(sd));
		front_spec(&sd, (enum nat_side)i, 0);
		sd.spec.local_prio = FRONT_PRIO_LOCAL;
		if (route_remove(nl, &sd.spec, &res, e) == -1) {
			snprintf(err, FRONT_ERRLEN, "%s", e);
			rc = -1;
		}
	}
	/* after the rules: no capture rule is left without its entry */
	if (ndp_remove(nl, front_note, NULL, e) == -1) {
		snprintf(err, FRONT_ERRLEN, "proxy neighbour entries: %s", e);
		rc = -1;
	}
	return rc;
}

/*
 * At start, remove an earlier instance's rules and routes of the sides this
 * one does not use. The sides it uses are reconciled by front_apply, which
 * adds before it removes: a packet that arrives in between meets the old
 * rules (and the blackhole route of a side whose device is gone), never the
 * host's own stack, which would answer a relayed connection with a reset.
 */
static void
front_unroute_unused(struct front *f)
{
	struct front_side sd;
	struct route_result res;
	char e[ROUTE_ERRLEN];
	int i;

	for (i = NAT_SIDE_MAX - 1; i >= 0; i--) {
		if (f->side[i].used)
			continue;
		/* the moved local rule belongs to the public side's scope */
		memset(&sd, 0, sizeof(sd));
		front_spec(&sd, (enum nat_side)i, 0);
		if (route_remove(&f->nl, &sd.spec, &res, e) == -1)
			log_warnx("removing leftover rules of %s: %s",
			    front_devname[i], e);
	}
}

/* Log what the relay captures, once. */
static void
front_describe(const struct front *f)
{
	char a[64], buf[128];
	size_t i;

	for (i = 0; i < f->host.npub_all; i++)
		log_info("public address %s",
		    conf_ntop(f->host.pub_all_family[i], &f->host.pub_all[i],
		    a, sizeof(a)));
	if (front_has_backend(f, 4) || front_has_backend(f, 6))
		log_info("ports %d-%d stay with the host (ip_local_port_range) "
		    "so its own connections keep working", f->host.eph_lo,
		    f->host.eph_hi);
	for (i = 0; i < f->set.nrules; i++)
		log_info("rule: %s", conf_nat_rule_name(&f->conf,
		    f->rules[i].id, buf, sizeof(buf)));
}

/* Whether addr (of engine family fam) is one of the front's own addresses. */
static bool
front_own(const struct front *f, uint8_t fam, const uint8_t *addr)
{
	size_t alen = fam == 4 ? 4 : 16, i;
	const struct nat_rule *r;

	for (i = 0; i < f->host.npub_all; i++)
		if (f->host.pub_all_family[i] == fam &&
		    memcmp(f->host.pub_all[i].b, addr, alen) == 0)
			return true;
	for (i = 0; i < f->set.nrules; i++) {
		r = &f->rules[i];
		if (r->family == fam && r->action == NAT_RULE_DNAT &&
		    r->source == NAT_SOURCE_RELAY &&
		    memcmp(r->relay_src.b, addr, alen) == 0)
			return true;
	}
	if (fam == 4)
		return f->set.hairpin4 &&
		    memcmp(f->set.hairpin_src4.b, addr, 4) == 0;
	return f->set.hairpin6 && memcmp(f->set.hairpin_src6.b, addr, 16) == 0;
}

/*
 * Whether an IP packet goes to one of the front's own addresses (the
 * public ones, the relay and hairpin sources): the only destinations of
 * the captures that come before "lookup local".
 */
bool
front_own_dst(const struct front *f, const uint8_t *p, size_t len)
{
	if (len >= 20 && (p[0] >> 4) == 4)
		return front_own(f, 4, p + 16);
	if (len >= 40 && (p[0] >> 4) == 6)
		return front_own(f, 6, p + 24);
	return false;
}

/* The number of queues of a [front]: auto (0) = online CPUs, capped. */
unsigned int
front_queues(const struct conf_front *cf)
{
	long n = cf->queues;

	if (n == 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;		/* sysconf failed: one queue works everywhere */
	return n > TUNDEV_MAXQUEUES ? TUNDEV_MAXQUEUES : (unsigned int)n;
}

/* Take the engine lock. */
void
front_lock(struct front *f)
{
	pthread_mutex_lock(&f->lock);
}

/* Take the engine lock if it is free: 0 taken, else nonzero. */
int
front_trylock(struct front *f)
{
	return pthread_mutex_trylock(&f->lock);
}

/* Release the engine lock. */
void
front_unlock(struct front *f)
{
	pthread_mutex_unlock(&f->lock);
}

/* Set up the engine, devices and routes; takes ownership of *c on success. */
int
front_start(struct front *f, struct conf *c, char err[FRONT_ERRLEN])
{
	char e[NL_ERRLEN], ne[NAT_ERRLEN];
	int i;

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	f->conf = *c;
	f->nqueues = front_queues(&c->front);
	log_info("%u queue%s per TUN device%s", f->nqueues,
	    f->nqueues == 1 ? "" : "s",
	    c->front.queues == 0 ? " (queues = auto: one per online CPU)" : "");
	sysctl_undo_start();	/* what we change is put back by front_stop */
	if (nl_open(&f->nl, e) == -1) {
		snprintf(err, FRONT_ERRLEN, "netlink: %s", e);
		return -1;
	}
	if (front_host(f, err) == -1 ||
	    front_settings(f, &f->set, &f->rules, err) == -1)
		goto fail;
	if ((f->nat = nat_create(&f->set, ne)) == NULL) {
		snprintf(err, FRONT_ERRLEN, "engine: %s", ne);
		goto fail;
	}
	/* before any device exists: the first packet read finds its flow */
	statefile_open(&f->state, f->conf.front.state_file, f->nat, loop_now());
	front_ndp_on(f);
	if (front_rules(f, err) == -1 || front_forwarding(f, err) == -1)
		goto fail;
	for (i = 0; i < NAT_SIDE_MAX; i++)
		f->side[i].used = f->side[i].nrules > 0;
	front_unroute_unused(f);	/* leftovers of an earlier instance */
	for (i = 0; i < NAT_SIDE_MAX; i++) {
		if (f->side[i].used &&
		    front_open_dev(f, (enum nat_side)i, true, err) == -1)
			goto fail;
	}
	if (front_apply(f, err) == -1)
		goto fail;
	front_describe(f);
	memset(c, 0, sizeof(*c));	/* the front owns the config now */
	return 0;
fail:
	memset(c, 0, sizeof(*c));
	*c = f->conf;
	memset(&f->conf, 0, sizeof(f->conf));
	front_stop(f);
	return -1;
}

/* Tear down: routes first (traffic falls back to the host), then devices. */
void
front_stop(struct front *f)
{
	char e[FRONT_ERRLEN];
	int i;

	/* a restart leaves the rules to the next image: it reconciles them */
	if (!f->handover && f->nl.sock != NULL && front_unroute(&f->nl, e) == -1)
		log_warnx("removing routing rules: %s", e);
	for (i = 0; i < NAT_SIDE_MAX; i++) {
		if (f->side[i].dev.nfds == 0)
			continue;
		/* a restart keeps the device, its routes and queued packets */
		if (f->handover && reexec_hand_tun(&f->side[i].dev) == -1)
			log_warnx("restart: %s closed, not handed over (too "
			    "many queues)", front_devname[i]);
		if (!f->handover)
			tundev_close(&f->side[i].dev);
	}
	if (f->nl.sock != NULL)
		nl_close(&f->nl);
	if (!f->handover && sysctl_undo_restore(log_note, NULL) > 0)
		log_warnx("some sysctls could not be put back (logged above)");
	nat_destroy(f->nat);
	statefile_close(&f->state, f->clean_stop && !f->handover);
	free(f->rules);
	conf_free(&f->conf);
	pthread_mutex_destroy(&f->lock);
	memset(f, 0, sizeof(*f));
}

/*
 * The control socket is made once, at start: a reload keeps its path and
 * group (the new file's values are logged, and apply after a restart).
 */
static void
front_keep_ctl(struct conf *nc, struct conf *oc)
{
	char *t;

	if (strcmp(nc->control_socket, oc->control_socket) != 0 ||
	    (nc->control_group == NULL) != (oc->control_group == NULL) ||
	    (nc->control_group != NULL &&
	    strcmp(nc->control_group, oc->control_group) != 0))
		log_warnx("reload: control_socket and control_group need a "
		    "restart; keeping %s", oc->control_socket);
	t = nc->control_socket;
	nc->control_socket = oc->control_socket;
	oc->control_socket = t;
	t = nc->control_group;
	nc->control_group = oc->control_group;
	oc->control_group = t;
}

/* The state file is opened once, at start: a reload keeps it. */
static void
front_keep_state(const struct conf *nc, const struct conf *oc)
{
	const char *n = nc->front.state_file, *o = oc->front.state_file;

	if ((n == NULL) != (o == NULL) || (n != NULL && strcmp(n, o) != 0))
		log_warnx("reload: state_file needs a restart; keeping %s",
		    o != NULL ? o : "off");
}

/*
 * Apply a new config: new engine settings (flows kept), new devices where a
 * side appears, new rules. The old config stays when anything fails.
 */
int
front_reload(struct front *f, struct conf *c, char err[FRONT_ERRLEN])
{
	struct front old = *f;
	struct nat_settings s;
	struct nat_rule *r = NULL;
	char ne[NAT_ERRLEN], re[FRONT_ERRLEN];
	bool reapply = false;
	int i;

	f->conf = *c;
	if (front_host(f, err) == -1 || front_settings(f, &s, &r, err) == -1)
		goto fail;
	if (s.max_flows != old.set.max_flows)
		log_warnx("reload: max_flows %u needs a restart; keeping %u",
		    s.max_flows, old.set.max_flows);
	s.max_flows = old.set.max_flows;
	if (front_queues(&c->front) != f->nqueues)
		log_warnx("reload: queues %u needs a restart; keeping %u",
		    front_queues(&c->front), f->nqueues);
	memcpy(s.hash_key, old.set.hash_key, sizeof(s.hash_key));
	f->set = s;
	f->rules = r;
	front_ndp_on(f);
	if (front_rules(f, err) == -1 || front_forwarding(f, err) == -1)
		goto fail;
	for (i = 0; i < NAT_SIDE_MAX; i++) {
		if (f->side[i].nrules > 0 && !f->side[i].used) {
			if (front_open_dev(f, (enum nat_side)i, false, err) == -1)
				goto fail;
			f->side[i].used = true;
		}
	}
	if (nat_reconfigure(f->nat, &f->set, ne) == -1) {
		snprintf(err, FRONT_ERRLEN, "engine: %s", ne);
		goto fail;
	}
	if (front_apply(f, err) == -1) {
		nat_reconfigure(f->nat, &old.set, ne);
		reapply = true;
		goto fail;
	}
	front_keep_ctl(&f->conf, &old.conf);
	front_keep_state(&f->conf, &old.conf);
	if (f->set.nat_port_lo != old.set.nat_port_lo ||
	    f->set.nat_port_hi != old.set.nat_port_hi)
		statefile_refresh(&f->state, f->nat);
	free(old.rules);
	conf_free(&old.conf);
	memset(c, 0, sizeof(*c));
	front_describe(f);
	return 0;
fail:
	free(r);
	for (i = 0; i < NAT_SIDE_MAX; i++)
		if (f->side[i].used && !old.side[i].used)
			tundev_close(&f->side[i].dev);
	*c = f->conf;
	memcpy(f->side, old.side, sizeof(f->side));
	f->conf = old.conf;
	f->set = old.set;
	f->rules = old.rules;
	f->host = old.host;
	f->icmp6 = old.icmp6;
	for (i = 0; i < NAT_SIDE_MAX; i++)
		front_spec(&f->side[i], (enum nat_side)i, f->side[i].dev.ifindex);
	/* sides applied before the failure carry new rules: put the old back */
	if (reapply && front_apply(f, re) == -1)
		log_warnx("reload: restoring the running rules: %s", re);
	return -1;
}

/* Remove what a killed instance left: our rules and routes. */
int
front_cleanup(char err[FRONT_ERRLEN])
{
	struct nl nl;
	char e[NL_ERRLEN];
	int rc;

	if (nl_open(&nl, e) == -1) {
		snprintf(err, FRONT_ERRLEN, "netlink: %s", e);
		return -1;
	}
	rc = front_unroute(&nl, err);
	nl_close(&nl);
	return rc;
}

/* Remove a killed instance's state file unless a restart will take it over. */
int
front_cleanup_state(const struct conf *c, char err[FRONT_ERRLEN])
{
	const char *result = getenv("SERVICE_RESULT");

	if (c->front.state_file == NULL)
		return 0;
	/* systemd runs ExecStopPost before Restart=on-failure starts again */
	if (result != NULL && strcmp(result, "success") != 0) {
		log_info("cleanup: keeping %s (service result %s: a restart "
		    "takes its flows over)", c->front.state_file, result);
		return 0;
	}
	if (statefile_remove(c->front.state_file) == -1) {
		snprintf(err, FRONT_ERRLEN, "%s: %s", c->front.state_file,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Count our rules and routes. */
int
front_count(struct nl *nl, size_t *rules, size_t *routes,
    char err[FRONT_ERRLEN])
{
	struct front_side sd;
	char e[ROUTE_ERRLEN];
	size_t r, t;
	int i;

	*rules = *routes = 0;
	for (i = 0; i < NAT_SIDE_MAX; i++) {
		memset(&sd, 0, sizeof(sd));
		front_spec(&sd, (enum nat_side)i, 0);
		sd.spec.local_prio = FRONT_PRIO_LOCAL;
		if (route_count(nl, &sd.spec, &r, &t, e) == -1) {
			snprintf(err, FRONT_ERRLEN, "%s", e);
			return -1;
		}
		*rules += r;
		*routes += t;
	}
	return 0;
}

/* For `tunrelay check` (core/check_front.c): the host as run reads it. */
int
front_probe_host(struct front *f, char err[FRONT_ERRLEN])
{
	return front_host(f, err);
}

/* For `tunrelay check`: the engine settings and rules run would build. */
int
front_probe_settings(struct front *f, char err[FRONT_ERRLEN])
{
	return front_settings(f, &f->set, &f->rules, err);
}

/* For `tunrelay check`: the route the kernel takes to an address. */
int
front_probe_egress(struct front *f, uint8_t family, const struct nat_addr *to,
    struct nl_route *rt, char err[FRONT_ERRLEN])
{
	return front_egress(f, family, to, rt, err);
}

/*
 * tunrelay show-rules: the policy rules and routes run would install for
 * a [front], computed as run does (from the host's interfaces and
 * addresses) and printed in ip(8) syntax; nothing is installed. 0, or -1
 * with a message.
 */
int
front_show(const struct conf *c, FILE *out, char err[FRONT_ERRLEN])
{
	struct front f;
	char e[NL_ERRLEN], buf[256];
	size_t i, j;
	int rc = -1;

	memset(&f, 0, sizeof(f));
	f.conf = *c;
	if (nl_open(&f.nl, e) == -1) {
		snprintf(err, FRONT_ERRLEN, "netlink: %s", e);
		return -1;
	}
	if (front_host(&f, err) == -1 ||
	    front_settings(&f, &f.set, &f.rules, err) == -1 ||
	    front_rules(&f, err) == -1)
		goto out;
	for (i = 0; i < NAT_SIDE_MAX; i++) {
		if (f.side[i].nrules == 0)
			continue;
		front_spec(&f.side[i], (enum nat_side)i, 0);
		fprintf(out, "# TUN device %s: table %u, rule priorities %u-%u, "
		    "tagged proto %d\n", front_devname[i], f.side[i].spec.table,
		    f.side[i].spec.prio_lo, f.side[i].spec.prio_hi,
		    NL_PROTO_TUNRELAY);
		fprintf(out, "route default dev %s table %u (IPv4 and IPv6 as "
		    "relayed)\n", front_devname[i], f.side[i].spec.table);
		for (j = 0; j < f.side[i].nrules; j++)
			fprintf(out, "%s rule %s\n", f.side[i].rules[j].family ==
			    AF_INET6 ? "ip -6" : "ip", nl_rule_str(
			    &f.side[i].rules[j], buf, sizeof(buf)));
	}
	if (f.side[NAT_SIDE_PUBLIC].nrules > 0)
		fprintf(out, "# the kernel's priority-0 \"lookup local\" rule "
		    "moves to priority %d\n", FRONT_PRIO_LOCAL);
	for (i = 0; i < f.set.nrules; i++)
		fprintf(out, "# engine rule: %s\n", conf_nat_rule_name(&f.conf,
		    f.rules[i].id, buf, sizeof(buf)));
	rc = 0;
out:
	free(f.rules);
	nl_close(&f.nl);
	return rc;
}
