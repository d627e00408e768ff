/*
 * route_same.c - when a rule or route in the kernel is the one the spec
 * wants (see route.h): equal as the kernel sees them, after its defaults.
 */
#include <string.h>

#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>

#include "tun/route.h"
#include "tun/route_int.h"

/* A rule that only says "lookup local" (the kernel's priority-0 rule). */
bool
route_rule_plain_local(const struct nl_rule *r)
{
	return (r->action == 0 || r->action == FR_ACT_TO_TBL) &&
	    r->table == RT_TABLE_LOCAL && !r->unknown &&
	    !(r->flags & FIB_RULE_INVERT) && r->iif[0] == '\0' &&
	    r->oif[0] == '\0' && r->ip_proto == 0 && r->sport_lo == 0 &&
	    r->sport_hi == 0 && r->dport_lo == 0 && r->dport_hi == 0 &&
	    r->src.len == 0 && r->dst.len == 0 && !r->has_fwmark;
}

/* Prefixes equal in family, length and the masked address. */
static bool
route_prefix_same(const struct nl_prefix *a, const struct nl_prefix *b)
{
	unsigned int i, bits;

	if (a->len != b->len)
		return false;
	if (a->len == 0)
		return true;
	if (a->family != b->family)
		return false;
	for (i = 0; i < 16 && i * 8 < a->len; i++) {
		bits = a->len - i * 8 >= 8 ? 8 : a->len - i * 8;
		uint8_t mask = (uint8_t)(0xff << (8 - bits));
		if ((a->addr[i] & mask) != (b->addr[i] & mask))
			return false;
	}
	return true;
}

/* Addresses (gateway, prefsrc) equal, both absent counting as equal. */
static bool
route_addr_same(const struct nl_prefix *a, const struct nl_prefix *b)
{
	if (a->family != b->family)
		return false;
	return a->family == 0 || memcmp(a->addr, b->addr, 16) == 0;
}

/* A port range with hi 0 meaning "just lo". */
static void
route_port_norm(uint16_t lo, uint16_t hi, uint16_t *nlo, uint16_t *nhi)
{
	*nlo = lo;
	*nhi = hi ? hi : lo;
}

/* Same rule as the kernel would see it (after its defaults). */
bool
route_rule_same(const struct nl_rule *a, const struct nl_rule *b)
{
	uint16_t al, ah, bl, bh;

	if (a->family != b->family || a->priority != b->priority ||
	    a->table != b->table || a->protocol != b->protocol ||
	    (a->action ? a->action : FR_ACT_TO_TBL) !=
	    (b->action ? b->action : FR_ACT_TO_TBL) ||
	    (a->flags & FIB_RULE_INVERT) != (b->flags & FIB_RULE_INVERT) ||
	    a->unknown || b->unknown || a->ip_proto != b->ip_proto ||
	    strcmp(a->iif, b->iif) != 0 || strcmp(a->oif, b->oif) != 0 ||
	    !route_prefix_same(&a->src, &b->src) ||
	    !route_prefix_same(&a->dst, &b->dst) || a->has_fwmark != b->has_fwmark ||
	    (a->action == FR_ACT_GOTO && a->goto_prio != b->goto_prio))
		return false;
	if (a->has_fwmark && (a->fwmark != b->fwmark ||
	    (a->fwmask ? a->fwmask : 0xffffffff) != (b->fwmask ? b->fwmask : 0xffffffff)))
		return false;
	route_port_norm(a->sport_lo, a->sport_hi, &al, &ah);
	route_port_norm(b->sport_lo, b->sport_hi, &bl, &bh);
	if (al != bl || ah != bh)
		return false;
	route_port_norm(a->dport_lo, a->dport_hi, &al, &ah);
	route_port_norm(b->dport_lo, b->dport_hi, &bl, &bh);
	return al == bl && ah == bh;
}

/*
 * Same route; want's metric 0 matches any metric (IPv6 picks 1024), and a
 * route that is not unicast wanted without a device matches any device
 * (IPv6 puts blackhole routes on lo).
 */
bool
route_route_same(const struct nl_route *want, const struct nl_route *have)
{
	uint8_t type = want->type ? want->type : RTN_UNICAST;

	return want->family == have->family && want->table == have->table &&
	    want->protocol == have->protocol && type == have->type &&
	    route_prefix_same(&want->dst, &have->dst) &&
	    route_addr_same(&want->gw, &have->gw) &&
	    (want->prefsrc.family == 0 || route_addr_same(&want->prefsrc, &have->prefsrc)) &&
	    (want->oif == have->oif ||
	    (want->oif == 0 && type != RTN_UNICAST)) &&
	    (want->metric == 0 || want->metric == have->metric);
}

/* Is one of want[0..nwant) the same rule as one of have[0..nhave)? */
bool
route_rules_meet(const struct nl_rule *want, size_t nwant,
    const struct nl_rule *have, size_t nhave)
{
	size_t i, j;

	for (i = 0; i < nwant; i++)
		for (j = 0; j < nhave; j++)
			if (route_rule_same(&want[i], &have[j]))
				return true;
	return false;
}

/* Is one of have[0..nhave) a route one of want[0..nwant) describes? */
bool
route_routes_meet(const struct nl_route *want, size_t nwant,
    const struct nl_route *have, size_t nhave)
{
	size_t i, j;

	for (i = 0; i < nwant; i++)
		for (j = 0; j < nhave; j++)
			if (route_route_same(&want[i], &have[j]))
				return true;
	return false;
}
