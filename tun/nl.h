/*
 * nl.h - rtnetlink through libmnl: ip rules, routes, links, addresses,
 * route lookups. IPv4 and IPv6.
 *
 * Requests go through a small socket wrapper (struct nl). Replies are
 * parsed by functions that take a buffer (nl_*_parse), so that they can be
 * fuzzed without a kernel. Functions return 0 or -1 and fill err.
 */
#ifndef TUNRELAY_NL_H
#define TUNRELAY_NL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <net/if.h>

#include "nat/errlen.h"

/* Rule port ranges: the kernel accepts 1..65534 only (not 0, not 65535). */
#define NL_RULE_PORT_MAX 65534

/* The route/rule protocol (originator) number tunrelay tags its objects with. */
#define NL_PROTO_TUNRELAY 222

struct mnl_socket;

struct nl {
	struct mnl_socket *sock;
	unsigned int portid;
	unsigned int seq;
	char *buf;		/* receive buffer, NL_BUFSIZE bytes */
};
#define NL_BUFSIZE 32768

/* An address of either family; len 0 = any (for prefixes) or none. */
struct nl_prefix {
	uint8_t family;		/* AF_INET, AF_INET6, or 0 = unset */
	uint8_t len;		/* prefix length in bits */
	uint8_t addr[16];	/* IPv4 in the first 4 bytes */
};

/* One ip rule. Zero fields are wildcards ("any"). */
struct nl_rule {
	uint8_t family;		/* AF_INET or AF_INET6 */
	uint8_t action;		/* FR_ACT_*; 0 = FR_ACT_TO_TBL */
	uint8_t protocol;	/* FRA_PROTOCOL: who installed it (RTPROT_*) */
	uint8_t ip_proto;	/* FRA_IP_PROTO; 0 = any */
	uint32_t priority;	/* FRA_PRIORITY; always sent (0 is a valid priority) */
	uint32_t table;		/* RT_TABLE_* or a number */
	uint32_t flags;		/* FIB_RULE_* (only FIB_RULE_INVERT is sent) */
	char iif[IFNAMSIZ];	/* FRA_IIFNAME; "" = any */
	char oif[IFNAMSIZ];	/* FRA_OIFNAME; "" = any */
	uint16_t sport_lo, sport_hi;	/* FRA_SPORT_RANGE; 0-0 = any */
	uint16_t dport_lo, dport_hi;	/* FRA_DPORT_RANGE; 0-0 = any */
	struct nl_prefix src, dst;	/* len 0 = any */
	bool has_fwmark;
	uint32_t fwmark, fwmask;	/* fwmask 0 is sent as 0xffffffff */
	uint32_t goto_prio;	/* FRA_GOTO: the target of action FR_ACT_GOTO */
	bool unknown;		/* parsed: carries attributes nl_rule cannot express */
};

/* One route. */
struct nl_route {
	uint8_t family;
	uint8_t type;		/* RTN_UNICAST, RTN_LOCAL, ...; 0 = RTN_UNICAST on add */
	uint8_t protocol;	/* RTPROT_* */
	uint8_t scope;		/* parsed only; add derives it from type and gateway */
	uint32_t table;
	uint32_t metric;	/* RTA_PRIORITY; 0 = kernel default */
	uint32_t flags;		/* rtm_flags, parsed only */
	struct nl_prefix dst;	/* len 0 = default */
	struct nl_prefix gw;	/* family 0 = none */
	struct nl_prefix prefsrc;	/* family 0 = none */
	int oif;		/* ifindex; 0 = none */
	bool multipath;		/* parsed: oif/gw are the first of several next hops */
};

/* What to look up with nl_route_get (like "ip route get"). */
struct nl_route_query {
	uint8_t family;
	uint8_t ip_proto;	/* tcp, udp, icmp/ipv6-icmp only; 0 = kernel default (udp) */
	uint16_t sport, dport;	/* 0 = none; with ip_proto tcp/udp */
	uint8_t dst[16];
	bool has_src;
	uint8_t src[16];
	int iif;		/* simulate input from this ifindex (needs src); 0 = output lookup */
	int oif;		/* 0 = none */
	uint32_t mark;
};

struct nl_link {
	int ifindex;
	char name[IFNAMSIZ];
	unsigned int flags;	/* IFF_* */
	unsigned int mtu;
	unsigned short type;	/* ARPHRD_* */
	uint8_t operstate;	/* IF_OPER_* */
};

struct nl_ifaddr {
	int ifindex;
	uint8_t family;
	uint8_t prefixlen;
	uint8_t scope;		/* RT_SCOPE_* */
	uint32_t flags;		/* IFA_F_* (tentative, deprecated, ...) */
	uint8_t addr[16];	/* the interface's own address (IFA_LOCAL, else IFA_ADDRESS) */
};

/* Open a NETLINK_ROUTE socket (close-on-exec, extended acks). */
int nl_open(struct nl *, char err[ERRLEN]);
void nl_close(struct nl *);

/* Rules */
int nl_rule_add(struct nl *, const struct nl_rule *, char err[ERRLEN]);
int nl_rule_del(struct nl *, const struct nl_rule *, char err[ERRLEN]);
/* All rules of a family (AF_INET, AF_INET6) in kernel order; free *out. */
int nl_rule_list(struct nl *, int family, struct nl_rule **out, size_t *n,
    char err[ERRLEN]);

/* Routes */
int nl_route_add(struct nl *, const struct nl_route *, char err[ERRLEN]);
int nl_route_del(struct nl *, const struct nl_route *, char err[ERRLEN]);
/* Routes of a family in one table (0 = all tables); free *out. */
int nl_route_list(struct nl *, int family, uint32_t table,
    struct nl_route **out, size_t *n, char err[ERRLEN]);
/* Resolve a destination like "ip route get": oif, gateway, prefsrc, table, type. */
int nl_route_get(struct nl *, const struct nl_route_query *, struct nl_route *,
    char err[ERRLEN]);

/* Links and addresses */
/* Look a link up by name (ifindex 0) or by ifindex (name NULL). */
int nl_link_get(struct nl *, const char *name, int ifindex, struct nl_link *,
    char err[ERRLEN]);
/* Set a link up or down and, when mtu is not 0, its MTU. */
int nl_link_set(struct nl *, int ifindex, bool up, unsigned int mtu,
    char err[ERRLEN]);
/* Addresses of one interface (ifindex 0 = all) and family (0 = both); free *out. */
int nl_addr_list(struct nl *, int ifindex, int family, struct nl_ifaddr **out,
    size_t *n, char err[ERRLEN]);

/*
 * Proxy neighbour entries (IPv6 "ip -6 neigh add proxy ADDR dev DEV"). With
 * net.ipv6.conf.all.proxy_ndp set, the kernel hands neighbour discovery to a
 * proxied address on that device to its own input path instead of forwarding
 * it, hop limit intact, even where a rule routes the address elsewhere.
 */
struct nl_proxy {
	int ifindex;
	uint8_t family;		/* AF_INET6 (AF_INET proxies are proxy ARP) */
	uint8_t protocol;	/* NDA_PROTOCOL: who installed it; 0 = none */
	uint8_t addr[16];
};
int nl_proxy_add(struct nl *, const struct nl_proxy *, char err[ERRLEN]);
int nl_proxy_del(struct nl *, const struct nl_proxy *, char err[ERRLEN]);
/* Every proxy entry of a family; free *out. */
int nl_proxy_list(struct nl *, int family, struct nl_proxy **out, size_t *n,
    char err[ERRLEN]);

/*
 * Parsers for one netlink message in buf[0..len) (fuzzed). Return 1 with a
 * parsed object, 0 for a well-formed message of another type or family that
 * is skipped, -1 for a malformed message (err says why).
 */
int nl_rule_parse(const void *buf, size_t len, struct nl_rule *, char err[ERRLEN]);
int nl_route_parse(const void *buf, size_t len, struct nl_route *, char err[ERRLEN]);
int nl_link_parse(const void *buf, size_t len, struct nl_link *, char err[ERRLEN]);
int nl_addr_parse(const void *buf, size_t len, struct nl_ifaddr *, char err[ERRLEN]);
/* A proxy neighbour entry (0 for ordinary neighbour entries). */
int nl_proxy_parse(const void *buf, size_t len, struct nl_proxy *, char err[ERRLEN]);
/*
 * Text of the extended ack in an NLMSG_ERROR message, "" when there is none.
 * Returns the (negative) error code, or 1 when buf is not a valid error message.
 */
int nl_error_parse(const void *buf, size_t len, char *msg, size_t msglen);

/* Helpers */
/* Parse "10.0.0.0/8", "2001:db8::1", "::/0" (no length = host prefix). */
int nl_prefix_parse(const char *, struct nl_prefix *, char err[ERRLEN]);
/* Print an address of family af (AF_INET, AF_INET6); "?" when it cannot be. */
const char *nl_ntop(int af, const void *addr, char *buf, size_t len);
/* "10.0.0.0/8" / "2001:db8::1" (host prefixes without length); "any" when unset. */
const char *nl_prefix_str(const struct nl_prefix *, char *buf, size_t len);
/* A rule in "ip rule" syntax, for logs: "1000: iif eth0 ipproto tcp lookup 100 proto 222". */
const char *nl_rule_str(const struct nl_rule *, char *buf, size_t len);
/* A route in "ip route" syntax, for logs. */
const char *nl_route_str(const struct nl_route *, char *buf, size_t len);

#endif
