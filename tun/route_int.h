/*
 * route_int.h - what tun/route.c and tun/route_same.c share (not for users
 * of tun/).
 */
#ifndef TUNRELAY_ROUTE_INT_H
#define TUNRELAY_ROUTE_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "tun/nl.h"

/* A rule that only says "lookup local" (the kernel's priority-0 rule). */
bool route_rule_plain_local(const struct nl_rule *);
/* Same rule as the kernel would see it (after its defaults). */
bool route_rule_same(const struct nl_rule *, const struct nl_rule *);
/* Same route; want's metric 0 and (not unicast) oif 0 match any. */
bool route_route_same(const struct nl_route *want, const struct nl_route *have);
/* Whether a rule of want[0..nwant) is among have[0..nhave) (one side: 1). */
bool route_rules_meet(const struct nl_rule *want, size_t nwant,
    const struct nl_rule *have, size_t nhave);
/* Whether a route of have[0..nhave) is one of want[0..nwant) describes. */
bool route_routes_meet(const struct nl_route *want, size_t nwant,
    const struct nl_route *have, size_t nhave);

#endif
