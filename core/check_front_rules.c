/*
 * check_front_rules.c - the findings of `tunrelay check` about what a
 * [front] captures: port ranges that collide with the kernel's ephemeral
 * ports or nat_ports, the host's own services on relayed ports, and the
 * policy rules (others' rules before tunrelay's; with a front running, its
 * own rules present and in order: the SSH exception before the capture).
 * It reads the host and never changes it.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/rtnetlink.h>

#include "core/check.h"
#include "core/check_front.h"
#include "core/check_sock.h"
#include "core/front.h"
#include "tun/nl.h"

/* Whether [lo, hi] and [a, b] overlap. */
static bool
check_overlap(int lo, int hi, int a, int b)
{
	return lo <= b && a <= hi;
}

/*
 * An ephemeral range that keeps clear of [lo, hi]: above it when at least
 * 1000 ports are left there, else below it.
 */
static void
check_eph_fix(const struct check_front *k, int lo, int hi, int *a, int *b)
{
	if (hi + 1000 <= k->eph_hi) {
		*a = hi + 1;
		*b = k->eph_hi;
	} else {
		*a = k->eph_lo;
		*b = lo - 1;
	}
	if (*b < *a) {		/* the forward covers the range: go below it */
		*a = 1024;
		*b = lo > 1025 ? lo - 1 : 1024;
	}
}

/* Whether the config rewrites sources (full NAT or hairpin); see check_front.h. */
bool
check_front_full_nat(const struct conf_front *cf)
{
	size_t i;

	for (i = 0; i < cf->nforward; i++)
		if (cf->forward[i].source == NAT_SOURCE_RELAY)
			return true;
	return cf->nhairpin > 0;
}

/* Port ranges that collide with the kernel's ephemeral ports or nat_ports. */
void
check_front_ports(struct check_front *k)
{
	const struct conf_front *cf = k->cf;
	char ex[32];
	size_t i;

	for (i = 0; i < cf->nforward; i++) {
		const struct conf_forward *fw = &cf->forward[i];
		int a, b;

		if (!check_overlap(fw->listen_lo, fw->listen_hi, k->eph_lo,
		    k->eph_hi))
			continue;
		check_eph_fix(k, fw->listen_lo, fw->listen_hi, &a, &b);
		check_say(k->c, CHECK_WARNING, "[forward.%s] listen %u-%u "
		    "overlaps the kernel's ephemeral ports %d-%d: the forward "
		    "takes those ports, so the front's own connections that pick "
		    "them lose their replies (fix: move the forward, or narrow "
		    "the range: sysctl -w net.ipv4.ip_local_port_range='%d %d')",
		    fw->name, fw->listen_lo, fw->listen_hi, k->eph_lo, k->eph_hi,
		    a, b);
	}
	for (i = 0; check_front_full_nat(cf) && i < cf->nexclude; i++)
		if (check_overlap(cf->exclude[i].port_lo, cf->exclude[i].port_hi,
		    cf->nat_port_lo, cf->nat_port_hi))
			check_say(k->c, CHECK_WARNING, "exclude %s overlaps "
			    "nat_ports %u-%u: full-NAT replies to those ports "
			    "stay with the host (fix: choose nat_ports outside "
			    "the excluded ports)", conf_exclude_str(
			    &cf->exclude[i], ex, sizeof(ex)), cf->nat_port_lo,
			    cf->nat_port_hi);
	if (cf->nbackend > 0)
		check_say(k->c, CHECK_NOTE, "ports %d-%d (ip_local_port_range) "
		    "stay with the front so its own connections work; clients "
		    "reach the backend on them only through a [forward] (or "
		    "narrow the range: sysctl -w net.ipv4.ip_local_port_range="
		    "'%d %d')", k->eph_lo, k->eph_hi, k->eph_hi - 4999 > k->eph_lo ?
		    k->eph_hi - 4999 : k->eph_lo, k->eph_hi);
}

/* The public interface's global addresses (at most max); their count. */
static size_t
check_pub_addrs(struct check_front *k, struct nat_addr *pub, uint8_t *fam,
    size_t max)
{
	struct nl_ifaddr *a = NULL;
	char e[ERRLEN];
	size_t n = 0, i, np = 0;

	if (nl_addr_list(&k->nl, k->pub.ifindex, 0, &a, &n, e) == -1)
		return 0;
	for (i = 0; i < n && np < max; i++) {
		if (a[i].scope != RT_SCOPE_UNIVERSE)
			continue;
		memset(&pub[np], 0, sizeof(pub[np]));
		fam[np] = a[i].family == AF_INET ? 4 : 6;
		memcpy(pub[np].b, a[i].addr, fam[np] == 4 ? 4 : 16);
		np++;
	}
	free(a);
	return np;
}

/* Whether an earlier socket in s[0..i) had the same protocol and port. */
static bool
check_front_sock_seen(const struct check_sock *s, size_t i)
{
	size_t j;

	for (j = 0; j < i; j++)
		if (s[j].proto == s[i].proto && s[j].port == s[i].port)
			return true;
	return false;
}

/*
 * The host's own services on ports the front relays: their clients would
 * reach the backend instead (an SSH server without its exclude, the
 * tunnel's own UDP port when the tunnel runs over the public interface).
 */
void
check_front_listeners(struct check_front *k)
{
	struct nat_addr pub[16];
	uint8_t fam[16];
	struct check_sock *s;
	char e[ERRLEN], who[96];
	size_t n, i, np;

	np = check_pub_addrs(k, pub, fam, 16);
	if (np == 0 || check_sock_list(&s, &n, e) == -1)
		return;
	for (i = 0; i < n; i++) {
		const char *p = s[i].proto == NAT_P_TCP ? "tcp" : "udp";

		if (check_front_sock_seen(s, i) || !check_sock_relayed(k->cf,
		    k->eph_lo, k->eph_hi, &s[i], pub, fam, np))
			continue;
		check_say(k->c, CHECK_WARNING, "%s/%u on %s is relayed, but "
		    "%s %s on it here: its clients reach the backend instead "
		    "(if it is the relay's own service or its tunnel, fix: "
		    "exclude = %s/%u)", p, s[i].port, k->cf->public_interface,
		    check_sock_owner(s[i].inode, who, sizeof(who)),
		    s[i].proto == NAT_P_TCP ? "listens" : "receives", p,
		    s[i].port);
	}
	free(s);
}

/* Whether rule r is one of a front's public capture rules. */
static bool
check_is_capture(const struct nl_rule *r, const char *pub)
{
	return r->protocol == NL_PROTO_TUNRELAY && r->table == FRONT_TABLE_BASE &&
	    strcmp(r->iif, pub) == 0;
}

/* The running front's lookup-local rule for one exclude item, or NULL. */
static const struct nl_rule *
check_exclude_rule(const struct nl_rule *r, size_t n, const char *pub,
    const struct conf_exclude *x)
{
	uint8_t proto = x->protos == NAT_P_TCP ? IPPROTO_TCP : IPPROTO_UDP;
	size_t i;

	for (i = 0; i < n; i++)
		if (r[i].protocol == NL_PROTO_TUNRELAY &&
		    r[i].table == RT_TABLE_LOCAL && strcmp(r[i].iif, pub) == 0 &&
		    r[i].ip_proto == proto && r[i].dport_lo == x->port_lo &&
		    r[i].dport_hi == x->port_hi)
			return &r[i];
	return NULL;
}

/*
 * The running front's rules of one family: present, each exclusion before
 * the first capture rule (keep-client-ip: the SSH RETURN before the DNAT), the
 * kernel's priority-0 local rule moved away.
 */
static int
check_live_rules(struct check_front *k, int family, const struct nl_rule *r,
    size_t n)
{
	const char *pub = k->cf->public_interface, *ip = family == AF_INET6 ?
	    "ip -6" : "ip";
	const struct nl_rule *x;
	uint32_t first = UINT32_MAX;
	char ex[32];
	size_t i, ours = 0;
	int bad = 0;

	for (i = 0; i < n; i++) {
		ours += r[i].protocol == NL_PROTO_TUNRELAY;
		if (check_is_capture(&r[i], pub) && r[i].priority < first)
			first = r[i].priority;
		if (r[i].priority == 0 && r[i].table == RT_TABLE_LOCAL &&
		    r[i].protocol != NL_PROTO_TUNRELAY)
			bad += check_say(k->c, CHECK_ERROR, "%s rule 0 (lookup "
			    "local) is back in first place: packets to the "
			    "front's addresses are delivered before tunrelay's "
			    "rules see them (fix: %s rule del pref 0 lookup "
			    "local; tunrelay keeps its own copy at %d)", ip, ip,
			    FRONT_PRIO_LOCAL);
	}
	if (ours == 0)
		return bad + check_say(k->c, CHECK_ERROR, "tunrelay runs but "
		    "none of its %s rules (proto %d) are installed: something "
		    "removed them (fix: systemctl reload tunrelay, or kill -HUP "
		    "the relay, to install them again)", ip, NL_PROTO_TUNRELAY);
	for (i = 0; first != UINT32_MAX && i < k->cf->nexclude; i++) {
		x = check_exclude_rule(r, n, pub, &k->cf->exclude[i]);
		if (x != NULL && x->priority < first)
			continue;
		bad += check_say(k->c, CHECK_ERROR, "exclude %s: %s; the "
		    "port goes to the backend (fix: systemctl reload tunrelay, or "
		    "kill -HUP the relay, to put the rules back in order)",
		    conf_exclude_str(&k->cf->exclude[i], ex, sizeof(ex)),
		    x == NULL ? "its lookup-local rule is missing" :
		    "its lookup-local rule comes after the capture rules");
	}
	return bad;
}

/* Rules of others placed before tunrelay's capture rules. */
static void
check_foreign_rules(struct check_front *k, int family, const struct nl_rule *r,
    size_t n)
{
	char s[256];
	size_t i;

	for (i = 0; i < n; i++) {
		if (r[i].protocol == NL_PROTO_TUNRELAY || r[i].priority == 0 ||
		    r[i].priority >= FRONT_PRIO_LOCAL || r[i].has_fwmark ||
		    (r[i].iif[0] != '\0' && strcmp(r[i].iif,
		    k->cf->public_interface) != 0))
			continue;
		nl_rule_str(&r[i], s, sizeof(s));
		check_say(k->c, CHECK_WARNING, "%s rule \"%s\" comes before "
		    "tunrelay's rules (%d-%d) and may take client traffic "
		    "from it (fix: move it after %d: %s rule del pref %u, then "
		    "add it again with a priority above %d)",
		    family == AF_INET ? "ip" : "ip -6", s, FRONT_PRIO_BASE,
		    FRONT_PRIO_LOCAL, FRONT_PRIO_LOCAL, family == AF_INET ? "ip" :
		    "ip -6", r[i].priority, FRONT_PRIO_LOCAL);
	}
}

/* Policy routing findings, per family relayed. */
int
check_front_rules(struct check_front *k)
{
	struct nl_rule *r;
	char e[ERRLEN];
	size_t n;
	int i, bad = 0;

	for (i = 0; i < 2; i++) {
		if (!k->fam[i])
			continue;
		if (nl_rule_list(&k->nl, i ? AF_INET6 : AF_INET, &r, &n, e) == -1) {
			check_say(k->c, CHECK_NOTE, "cannot read the ip rules: %s",
			    e);
			continue;
		}
		check_foreign_rules(k, i ? AF_INET6 : AF_INET, r, n);
		if (k->running)
			bad += check_live_rules(k, i ? AF_INET6 : AF_INET, r, n);
		free(r);
	}
	return bad;
}
