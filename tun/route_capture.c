/*
 * route_capture.c - the rules of the common capture cases (see route.h):
 * link exclusions, exclusions and capture rules for route_capture_rules.
 */
#include <stdio.h>
#include <string.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <linux/rtnetlink.h>

#include "tun/route.h"

/* Append one rule to out, checking room. */
static int
route_push(struct nl_rule *out, size_t max, size_t *n, const struct nl_rule *r,
    uint32_t *prio, char *err)
{
	if (*n >= max) {
		snprintf(err, ERRLEN, "too many rules for the buffer (%zu)", max);
		return -1;
	}
	out[*n] = *r;
	out[*n].priority = (*prio)++;
	(*n)++;
	return 0;
}

/* A rule from a match; ports need TCP or UDP. */
static int
route_from_match(const struct route_capture *cap, const struct route_match *m,
    uint32_t table, struct nl_rule *r, char *err)
{
	memset(r, 0, sizeof(*r));
	r->family = cap->family;
	r->table = table;
	snprintf(r->iif, sizeof(r->iif), "%s", cap->iif);
	r->ip_proto = m->ip_proto;
	if (m->dport_lo || m->dport_hi) {
		if (m->ip_proto != IPPROTO_TCP && m->ip_proto != IPPROTO_UDP) {
			snprintf(err, ERRLEN, "a port range needs tcp or udp");
			return -1;
		}
		r->dport_lo = m->dport_lo;
		r->dport_hi = m->dport_hi ? m->dport_hi : m->dport_lo;
		if (r->dport_lo == 0 || r->dport_hi < r->dport_lo ||
		    r->dport_hi > NL_RULE_PORT_MAX) {
			snprintf(err, ERRLEN, "port range %u-%u: a rule can "
			    "match ports 1-%d only (not 65535)", m->dport_lo,
			    m->dport_hi, NL_RULE_PORT_MAX);
			return -1;
		}
	}
	if (m->dst.len) {
		if (m->dst.family != cap->family) {
			snprintf(err, ERRLEN, "destination of the other family");
			return -1;
		}
		r->dst = m->dst;
	}
	return 0;
}

/* Build link exclusions, exclusions and capture rules. */
int
route_capture_rules(const struct route_capture *cap, uint32_t table,
    uint32_t *prio, struct nl_rule *out, size_t max, size_t *n,
    char err[ERRLEN])
{
	/*
	 * Strictly scoped lookups already skip a "default dev tun" route for
	 * these; the rules make link traffic independent of that detail.
	 */
	static const struct { uint8_t len; uint8_t b0, b1; } link6[] = {
		{ 8, 0xff, 0x00 },	/* ff00::/8 multicast: ND, MLD, DHCPv6 */
		{ 10, 0xfe, 0x80 },	/* fe80::/10 link-local: ND, router traffic */
	};
	struct route_match m;
	struct nl_rule r;
	size_t i;

	if (cap->iif == NULL || cap->iif[0] == '\0' || strlen(cap->iif) >= IFNAMSIZ ||
	    (cap->family != AF_INET && cap->family != AF_INET6)) {
		snprintf(err, ERRLEN, "capture needs an interface name and a family");
		return -1;
	}
	if (cap->nonly == 0 && (cap->protos & (ROUTE_P_TCP | ROUTE_P_UDP | ROUTE_P_ICMP)) == 0) {
		snprintf(err, ERRLEN, "capture on %s names no protocol", cap->iif);
		return -1;
	}
	for (i = 0; cap->family == AF_INET6 && i < sizeof(link6) / sizeof(link6[0]); i++) {
		memset(&m, 0, sizeof(m));
		m.dst.family = AF_INET6;
		m.dst.len = link6[i].len;
		m.dst.addr[0] = link6[i].b0;
		m.dst.addr[1] = link6[i].b1;
		if (route_from_match(cap, &m, RT_TABLE_LOCAL, &r, err) < 0 ||
		    route_push(out, max, n, &r, prio, err) < 0)
			return -1;
	}
	for (i = 0; cap->family == AF_INET6 && i < cap->nown; i++) {
		memset(&m, 0, sizeof(m));
		m.ip_proto = IPPROTO_ICMPV6;
		m.dst = cap->own[i];
		m.dst.len = 128;
		if (route_from_match(cap, &m, RT_TABLE_LOCAL, &r, err) < 0 ||
		    route_push(out, max, n, &r, prio, err) < 0)
			return -1;
	}
	for (i = 0; i < cap->nexclude; i++) {
		if (cap->exclude[i].ip_proto == 0 && cap->exclude[i].dst.len == 0) {
			snprintf(err, ERRLEN, "exclusion %zu on %s matches "
			    "everything (and ARP)", i, cap->iif);
			return -1;
		}
		if (route_from_match(cap, &cap->exclude[i], RT_TABLE_LOCAL, &r, err) < 0 ||
		    route_push(out, max, n, &r, prio, err) < 0)
			return -1;
	}
	for (i = 0; i < cap->nonly; i++) {
		if (cap->only[i].ip_proto == 0) {
			snprintf(err, ERRLEN, "capture %zu on %s names no "
			    "protocol (a catch-all rule breaks ARP)", i, cap->iif);
			return -1;
		}
		if (route_from_match(cap, &cap->only[i], table, &r, err) < 0 ||
		    route_push(out, max, n, &r, prio, err) < 0)
			return -1;
	}
	if (cap->nonly != 0)
		return 0;
	memset(&m, 0, sizeof(m));
	if (cap->protos & ROUTE_P_TCP) {
		m.ip_proto = IPPROTO_TCP;
		if (route_from_match(cap, &m, table, &r, err) < 0 ||
		    route_push(out, max, n, &r, prio, err) < 0)
			return -1;
	}
	if (cap->protos & ROUTE_P_UDP) {
		m.ip_proto = IPPROTO_UDP;
		if (route_from_match(cap, &m, table, &r, err) < 0 ||
		    route_push(out, max, n, &r, prio, err) < 0)
			return -1;
	}
	if (cap->protos & ROUTE_P_ICMP) {
		m.ip_proto = cap->family == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
		if (route_from_match(cap, &m, table, &r, err) < 0 ||
		    route_push(out, max, n, &r, prio, err) < 0)
			return -1;
	}
	return 0;
}
