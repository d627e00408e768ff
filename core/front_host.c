/*
 * front_host.c - what the host looks like to the front (its interfaces,
 * addresses, routes, MTUs and ephemeral ports) and the engine settings
 * built from the config and those facts (relay and hairpin sources, MSS).
 */
#include <sys/random.h>

#include <linux/rtnetlink.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/front.h"
#include "core/front_host.h"
#include "core/log.h"
#include "tun/sysctl.h"

/* A host prefix (/32 or /128) for an engine address. */
struct nl_prefix
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

	if (nl_link_get(&f->nl, cf->public_interface, 0, &l, err) == -1) {
		err_prefix(err, "public_interface %s", cf->public_interface);
		return -1;
	}
	h->pub_ifindex = l.ifindex;
	h->pub_mtu = l.mtu;
	if (cf->tunnel_interface == NULL)
		return 0;
	if (nl_link_get(&f->nl, cf->tunnel_interface, 0, &l, err) == -1) {
		err_prefix(err, "tunnel_interface %s", cf->tunnel_interface);
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
	int fi;

	if (nl_addr_list(&f->nl, h->pub_ifindex, 0, &a, &n, err) == -1) {
		err_prefix(err, "addresses of %s",
		    f->conf.front.public_interface);
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
		snprintf(err, ERRLEN, "public_interface %s has no global "
		    "address", f->conf.front.public_interface);
		return -1;
	}
	return 0;
}

/* Everything the config needs to know about the host. */
int
front_host(struct front *f, char *err)
{
	char e[ERRLEN];

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
int
front_egress(struct front *f, uint8_t family, const struct nat_addr *to,
    struct nl_route *rt, char *err)
{
	struct nl_route_query q;
	char a[64];

	memset(&q, 0, sizeof(q));
	q.family = conf_af(family);
	memcpy(q.dst, to->b, 16);
	if (nl_route_get(&f->nl, &q, rt, err) == -1) {
		err_prefix(err, "no route to %s",
		    conf_ntop(family, to, a, sizeof(a)));
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
	char e[ERRLEN];
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
uint32_t
front_ntargets(const struct nat_rule *r)
{
	return r->backend_count ? r->backend_count : 1;
}

/* Rule r as if its target j (of backends bk) were its only one. */
struct nat_rule
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
	snprintf(err, ERRLEN, "no address to use as the source towards "
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
	char err[ERRLEN], e[ERRLEN];
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
	size_t i;

	for (i = 0; i < f->conf.front.nhairpin; i++) {
		if (nl_link_get(&f->nl, f->conf.front.hairpin[i], 0, &l, err) == -1) {
			err_prefix(err, "[hairpin] interfaces %s",
			    f->conf.front.hairpin[i]);
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
		snprintf(err, ERRLEN, "[hairpin] interfaces have no "
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
			fam[front_family_index(r[i].family)] = true;
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
int
front_settings(struct front *f, struct nat_settings *s, struct nat_rule **rp,
    char *err)
{
	size_t n = conf_nat_nrules(&f->conf), i;
	size_t cap = n + FRONT_HOST_RULES, nb = conf_nat_nbackends(&f->conf);
	struct nat_backend *bk;
	struct nat_rule *r;

	if ((r = calloc(1, cap * sizeof(*r) + nb * sizeof(*bk))) == NULL) {
		snprintf(err, ERRLEN, "no memory for %zu rules", n);
		return -1;
	}
	if (conf_nat_settings(&f->conf, s, r, &n, err) == -1) {
		goto fail;
	}
	front_host_rules(f, r, &n);
	s->nrules = n;
	/* both are 4-byte aligned structs: the backends may follow the rules */
	bk = (struct nat_backend *)(void *)(r + cap);
	if (conf_nat_backends(&f->conf, s, r, bk, &nb, err) == -1) {
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
		snprintf(err, ERRLEN, "getrandom: %s", strerror(errno));
		goto fail;
	}
	s->ttl_mode = NAT_TTL_RESTORE;
	*rp = r;
	return 0;
fail:
	free(r);
	return -1;
}
