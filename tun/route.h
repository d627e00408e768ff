/*
 * route.h - the relay's policy routing as one idempotent, tagged,
 * reconcilable unit.
 *
 * Everything route.c installs carries a protocol tag (NL_PROTO_TUNRELAY by
 * default) and lives in the caller's priority range and tables; objects
 * without the tag are never touched. route_apply() makes the kernel match a
 * spec (adding first, then removing leftovers, so capture never lapses);
 * route_remove() takes everything of the spec's scope away again. The
 * "lookup local" rule is moved below ours and back without ever leaving a
 * moment with no local rule.
 *
 * route.c knows nothing about configuration files: the daemon passes rule
 * specs, which route_capture_rules() can build for the common cases.
 */
#ifndef TUNRELAY_ROUTE_H
#define TUNRELAY_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/errlen.h"
#include "tun/nl.h"

/* Highest priority the moved local rule may take: it must come before main. */
#define ROUTE_LOCAL_PRIO_MAX 32765

struct route_spec {
	int tun_ifindex;	/* "default dev tun" goes into table, per family used */
	uint32_t table;		/* our table (not 0, default, main or local) */
	uint32_t scope_lo;	/* further tables of ours, scope_lo..scope_hi (0-0: */
	uint32_t scope_hi;	/* none): their tagged routes are leftovers unless listed */
	uint32_t prio_lo;	/* our rules' priorities: prio_lo..prio_hi, prio_lo > 0 */
	uint32_t prio_hi;
	uint32_t local_prio;	/* move "lookup local" here (> prio_hi); 0 = leave it */
	uint8_t protocol;	/* tag; 0 = NL_PROTO_TUNRELAY */
	const struct nl_rule *rules;	/* in order; priority and table set, protocol ignored */
	size_t nrules;
	const struct nl_route *routes;	/* extra routes (own tables only); protocol ignored */
	size_t nroutes;
	/* Told about every change ("added rule ...", "removed leftover ..."). */
	void (*note)(void *arg, const char *msg);
	void *note_arg;
};

struct route_result {
	unsigned int rules_added, rules_removed, rules_kept;
	unsigned int routes_added, routes_removed, routes_kept;
	unsigned int local_moved;	/* families whose priority-0 local rule we removed */
	unsigned int local_restored;	/* families whose priority-0 local rule we put back */
};

/*
 * Make the kernel match the spec. On error the objects added by this call
 * are taken away again (leaving the previous state) and err says why.
 */
int route_apply(struct nl *, const struct route_spec *, struct route_result *,
    char err[ERRLEN]);
/*
 * Remove every tagged rule and route in the spec's scope (its priority range,
 * local_prio, its tables and scope_lo..scope_hi; rules and routes lists are
 * not needed). Puts the
 * priority-0 "lookup local" rule back first where we had moved it.
 */
int route_remove(struct nl *, const struct route_spec *, struct route_result *,
    char err[ERRLEN]);
/* Count tagged rules and routes in the spec's scope. */
int route_count(struct nl *, const struct route_spec *, size_t *rules,
    size_t *routes, char err[ERRLEN]);

/* A traffic selector for route_capture_rules. */
struct route_match {
	uint8_t ip_proto;	/* IPPROTO_TCP, _UDP, _ICMP, _ICMPV6; 0 = any */
	uint16_t dport_lo, dport_hi;	/* 0-0 = any; hi 0 = lo */
	struct nl_prefix dst;	/* len 0 = any */
};

#define ROUTE_P_TCP 1
#define ROUTE_P_UDP 2
#define ROUTE_P_ICMP 4		/* icmp (IPv4) or ipv6-icmp (IPv6) */

/* What to capture arriving on one interface, for one family. */
struct route_capture {
	const char *iif;	/* interface the traffic arrives on */
	uint8_t family;		/* AF_INET or AF_INET6 */
	unsigned int protos;	/* ROUTE_P_*: one capture rule each (no catch-all) */
	const struct route_match *only;	/* capture just these instead; ip_proto required */
	size_t nonly;
	const struct route_match *exclude;	/* "lookup local" first, e.g. tcp/22 */
	size_t nexclude;
	/*
	 * IPv6: the interface's own addresses. ipv6-icmp to them stays local,
	 * or unicast neighbour solicitations (unreachability detection) are
	 * captured and neighbours mark the relay FAILED whenever an entry
	 * goes stale.
	 */
	const struct nl_prefix *own;
	size_t nown;
};

/*
 * Append the rules for one capture to out[*n..max), priorities from *prio
 * upwards: for IPv6 "to ff00::/8", "to fe80::/10" and "ipproto ipv6-icmp to
 * OWN" lookup local (neighbour discovery and other link traffic stay local),
 * then the exclusions (lookup local), then one rule per protocol or match
 * (lookup table).
 * Capture rules always name a protocol so that the kernel's ARP lookup of a
 * local address never matches them (BRIEF section 4).
 */
int route_capture_rules(const struct route_capture *, uint32_t table,
    uint32_t *prio, struct nl_rule *out, size_t max, size_t *n,
    char err[ERRLEN]);

#endif
