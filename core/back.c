/*
 * back.c - the back half: reply routing without SNAT on the backend (see
 * back.h). A small libevent loop: signals, a 200 ms debounced rtnetlink and
 * nftables watch that restores what a link flap or an operator removed,
 * SIGHUP reload, sd_notify.
 */
#include <arpa/inet.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/back.h"
#include "core/back_slot.h"
#include "core/check.h"
#include "core/ctl.h"
#include "core/json.h"
#include "core/log.h"
#include "tun/nft.h"
#include "core/notify.h"
#include "core/reexec.h"
#include "core/watch.h"
#include "tun/nl_watch.h"
#include "tun/route.h"
#include "tun/sysctl.h"

#define BACK_MAX_RULES (BACK_PRIO_HI - BACK_PRIO_LO + 1)
#define BACK_MAX_ROUTES (8 * BACK_TUNNELS)	/* prefixes and defaults */
#define BACK_MAX_ADDRS 16
#define BACK_FOUND_MAX (4 * BACK_TUNNELS)	/* findings at start */

_Static_assert(BACK_TUNNELS <= NFT_TUNNELS_MAX, "a tunnel without nft rules");
#define BACK_RETRY_MS 1000	/* while the tunnel is down or gone */

/* What `tunrelay stats` shows for the back half. */
struct back_stats {
	uint64_t repairs;		/* reconciles that put something back */
	uint64_t repair_errors;		/* reconciles that failed (retried) */
	uint64_t rules_restored;
	uint64_t routes_restored;
	uint64_t nft_restored;		/* nftables table recreated */
	uint64_t reloads;
	uint64_t reload_errors;
};

/* A tunnel as the last reconcile found it. */
enum back_state {
	BACK_UP = 0,		/* there and up: routed */
	BACK_DOWN,		/* there, but down: left out */
	BACK_MISSING,		/* no such interface: left out */
};

/* What a reconcile found about one tunnel. */
struct back_tun {
	int ifindex;		/* 0: the interface is missing */
	bool up;		/* IFF_UP */
	uint8_t said;		/* enum back_state last logged */
	bool no_family[2];	/* IPv4/IPv6 left out: the tunnel has no address */
	size_t nrules;		/* rules installed for it */
};

struct back {
	const char *path;
	struct conf conf;
	struct nl nl;
	uint8_t mode;		/* CONF_MARK_CONNMARK or CONF_MARK_SOURCE */
	struct back_tun tun[BACK_TUNNELS];
	uint8_t slot[BACK_TUNNELS];	/* tunnel t's number (back_slot.h) */
	struct nl_rule rules[BACK_MAX_RULES];
	size_t nrules;
	struct nl_route routes[BACK_MAX_ROUTES];
	size_t nroutes;
	struct route_spec spec;
	bool restoring;		/* changes now are repairs: log them so */
	char last_err[BACK_ERRLEN];	/* last failure logged (no repeats) */
	struct event_base *base;
	struct watch_feed watch[2];	/* rtnetlink, nftables events */
	struct event *debounce, *sig[4], *watchdog;
	bool restart;			/* SIGUSR2: execute the binary again */
	struct ctl ctl;			/* answers tunrelay stats */
	struct back_stats st;
};

/* A host prefix for a config address. */
static struct nl_prefix
back_host(const struct conf_addr *a)
{
	struct nl_prefix p;

	memset(&p, 0, sizeof(p));
	p.family = conf_af(a->family);
	p.len = a->family == 4 ? 32 : 128;
	memcpy(p.addr, a->addr.b, a->family == 4 ? 4 : 16);
	return p;
}

/* Tunnel t's routing table. */
static uint32_t
back_table(const struct back *b, size_t t)
{
	return BACK_TABLE + (uint32_t)b->slot[t];
}

/* Tunnel t's connection mark. */
static uint32_t
back_mark(const struct back *b, size_t t)
{
	return BACK_MARK + (uint32_t)b->slot[t];
}

/* Log a routing change (a repair when restoring). */
static void
back_note(void *arg, const char *msg)
{
	struct back *b = arg;

	log_info("%s%s", b->restoring ? "restored: " : "", msg);
}

/* Log a failure once until it changes or clears. */
static void
back_fail(struct back *b, const char *msg)
{
	if (strcmp(b->last_err, msg) == 0)
		return;
	snprintf(b->last_err, sizeof(b->last_err), "%s", msg);
	log_warnx("%s", msg);
}

/* Append a rule "RULE lookup BACK_TABLE + t" for tunnel t. */
static bool
back_rule(struct back *b, size_t t, uint8_t af, const struct nl_prefix *from,
    bool fwmark)
{
	struct nl_rule *r;

	if (b->nrules == BACK_MAX_RULES)
		return false;
	r = &b->rules[b->nrules];
	memset(r, 0, sizeof(*r));
	r->family = af;
	r->table = back_table(b, t);
	r->priority = BACK_PRIO_LO + (uint32_t)b->nrules;
	if (from != NULL)
		r->src = *from;
	if (fwmark) {
		r->has_fwmark = true;
		r->fwmark = back_mark(b, t);
		r->fwmask = 0xffffffff;
	}
	b->nrules++;
	b->tun[t].nrules++;
	return true;
}

/*
 * Append a route in tunnel t's table: to dst (len 0: default) via gw (or
 * on-link).
 */
static bool
back_route(struct back *b, size_t t, uint8_t af, const struct nl_prefix *dst,
    const struct conf_addr *gw)
{
	struct nl_route *r;

	if (b->nroutes == BACK_MAX_ROUTES)
		return false;
	r = &b->routes[b->nroutes];
	memset(r, 0, sizeof(*r));
	r->family = af;
	r->type = RTN_UNICAST;
	r->table = back_table(b, t);
	r->oif = b->tun[t].ifindex;
	if (dst != NULL)
		r->dst = *dst;
	if (gw != NULL)
		r->gw = back_host(gw);
	b->nroutes++;
	return true;
}

/* A prefix with its host bits cleared (the kernel wants them so). */
static struct nl_prefix
back_net(const struct nl_ifaddr *a)
{
	struct nl_prefix p;
	unsigned int i, bits;

	memset(&p, 0, sizeof(p));
	p.family = a->family;
	p.len = a->prefixlen;
	for (i = 0; i < 16 && i * 8 < p.len; i++) {
		bits = p.len - i * 8 >= 8 ? 8 : p.len - i * 8;
		p.addr[i] = a->addr[i] & (uint8_t)(0xff << (8 - bits));
	}
	return p;
}

/*
 * Tunnel t's global addresses into out. A missing interface is no error
 * (ifindex 0, no addresses, why in err): with several fronts one tunnel may
 * be gone while the others carry on. -1 only when netlink fails.
 */
static int
back_tun_addrs(struct back *b, size_t t, struct nl_ifaddr *out, size_t *n,
    char *err)
{
	const char *name = b->conf.back.tunnel[t].tunnel_interface;
	struct nl_ifaddr *a = NULL;
	struct nl_link l;
	char e[NL_ERRLEN];
	size_t na = 0, i;

	*n = 0;
	b->tun[t].ifindex = 0;
	b->tun[t].up = false;
	if (nl_link_get(&b->nl, name, 0, &l, e) == -1) {
		snprintf(err, BACK_ERRLEN, "tunnel_interface %s: %s", name, e);
		return errno == ENODEV ? 0 : -1;
	}
	b->tun[t].ifindex = l.ifindex;
	b->tun[t].up = (l.flags & IFF_UP) != 0;
	if (nl_addr_list(&b->nl, l.ifindex, 0, &a, &na, e) == -1) {
		snprintf(err, BACK_ERRLEN, "addresses of %s: %s", name, e);
		return -1;
	}
	for (i = 0; i < na && *n < BACK_MAX_ADDRS; i++)
		if (a[i].scope == RT_SCOPE_UNIVERSE)
			out[(*n)++] = a[i];
	free(a);
	return 0;
}

/* Tunnel t's rules and routes of one family with a front address. */
static bool
back_build_family(struct back *b, size_t t, const struct conf_addr *front,
    const struct nl_ifaddr *a, size_t na)
{
	const struct conf_back_tunnel *ct = &b->conf.back.tunnel[t];
	uint8_t af = conf_af(front->family);
	struct nl_prefix p;
	size_t i;

	/* the tunnel's own prefixes, so that its other peers stay on-link */
	for (i = 0; i < na; i++) {
		p = back_net(&a[i]);
		if (a[i].family == af && !back_route(b, t, af, &p, NULL))
			return false;
	}
	if (!back_route(b, t, af, NULL, front))
		return false;
	if (b->mode == CONF_MARK_CONNMARK)
		return back_rule(b, t, af, NULL, true);
	for (i = 0; i < na; i++) {
		memset(&p, 0, sizeof(p));
		p.family = af;
		p.len = af == AF_INET ? 32 : 128;
		memcpy(p.addr, a[i].addr, 16);
		if (a[i].family == af && !back_rule(b, t, af, &p, false))
			return false;
	}
	for (i = 0; i < ct->nservice; i++) {
		p = back_host(&ct->service[i]);
		if (p.family == af && !back_rule(b, t, af, &p, false))
			return false;
	}
	return true;
}

/* The spec route_apply works on (also the scope route_remove clears). */
static void
back_spec(struct back *b)
{
	struct route_spec *s = &b->spec;

	memset(s, 0, sizeof(*s));
	/*
	 * route.c puts "default dev TUN" (no gateway) into the spec's own table
	 * for rules that look it up; ours need a gateway, so the rules look up
	 * the tunnels' tables, extra-routes tables, and the spec's own table is
	 * spare. Every tunnel's table is in scope, present or not, so that a
	 * tunnel gone from the file leaves nothing behind.
	 */
	s->table = BACK_TABLE_SPARE;
	s->scope_lo = BACK_TABLE;
	s->scope_hi = BACK_TABLE + BACK_TUNNELS - 1;
	s->prio_lo = BACK_PRIO_LO;
	s->prio_hi = BACK_PRIO_HI;
	s->protocol = NL_PROTO_TUNRELAY;
	s->rules = b->rules;
	s->nrules = b->nrules;
	s->routes = b->routes;
	s->nroutes = b->nroutes;
	s->note = back_note;
	s->note_arg = b;
}

/*
 * Whether tunnel t has an address of a family. Without one (IPv6 addresses
 * go when a link goes down) no gateway of that family can be reached: that
 * family is left out, and said once, until it comes back.
 */
static bool
back_has_family(struct back *b, size_t t, const struct nl_ifaddr *a,
    size_t na, uint8_t family)
{
	const char *name = b->conf.back.tunnel[t].tunnel_interface;
	bool *warned = &b->tun[t].no_family[family == 4 ? 0 : 1];
	size_t i;

	for (i = 0; i < na; i++)
		if (a[i].family == conf_af(family)) {
			if (*warned)
				log_info("%s has an IPv%d address again", name,
				    family);
			*warned = false;
			return true;
		}
	if (!*warned)
		log_warnx("%s has no IPv%d address: IPv%d replies are not "
		    "routed back until it has one", name, family, family);
	*warned = true;
	return false;
}

/* Tunnel t's state from what back_tun_addrs found. */
static enum back_state
back_tun_state(const struct back *b, size_t t)
{
	if (b->tun[t].ifindex == 0)
		return BACK_MISSING;
	return b->tun[t].up ? BACK_UP : BACK_DOWN;
}

/* A state's name, as status and the log show it. */
static const char *
back_state_name(enum back_state st)
{
	return st == BACK_UP ? "up" : st == BACK_DOWN ? "down" : "missing";
}

/*
 * With several tunnels, say once that tunnel t went down or missing, and
 * once that it is back (one tunnel: the failure itself is the message).
 */
static void
back_tun_presence(struct back *b, size_t t)
{
	const struct conf_back_tunnel *ct = &b->conf.back.tunnel[t];
	enum back_state now = back_tun_state(b, t);

	if (now == b->tun[t].said)
		return;
	if (now != BACK_UP && b->conf.back.ntunnel > 1)
		log_warnx("[%s] tunnel_interface %s is %s: replies of its "
		    "flows are not routed back until it is up again (the "
		    "other tunnels are not affected)", ct->name,
		    ct->tunnel_interface, back_state_name(now));
	else if (now == BACK_UP && b->conf.back.ntunnel > 1)
		log_info("[%s] tunnel_interface %s is back", ct->name,
		    ct->tunnel_interface);
	b->tun[t].said = (uint8_t)now;
}

/*
 * Tunnel t's rules and routes; 1 when it routes nothing (why in why),
 * -1 when the tables are full.
 */
static int
back_build_tunnel(struct back *b, size_t t, char *why, char *err)
{
	const struct conf_back_tunnel *ct = &b->conf.back.tunnel[t];
	struct nl_ifaddr a[BACK_MAX_ADDRS];
	size_t na, i;

	b->tun[t].nrules = 0;
	if (back_tun_addrs(b, t, a, &na, err) == -1)
		return -1;
	back_tun_presence(b, t);
	if (b->tun[t].ifindex == 0) {
		snprintf(why, BACK_ERRLEN, "%s", err);
		return 1;
	}
	if (!b->tun[t].up) {
		/* the kernel takes no route through a down interface */
		snprintf(why, BACK_ERRLEN, "tunnel_interface %s is down",
		    ct->tunnel_interface);
		return 1;
	}
	for (i = 0; i < ct->nfront; i++) {
		if (!back_has_family(b, t, a, na, ct->front[i].family))
			continue;
		if (!back_build_family(b, t, &ct->front[i], a, na)) {
			snprintf(err, BACK_ERRLEN, "more than %d rules or %d "
			    "routes needed", BACK_MAX_RULES, BACK_MAX_ROUTES);
			return -1;
		}
	}
	if (b->mode == CONF_MARK_SOURCE && na == 0 && ct->nservice == 0) {
		snprintf(why, BACK_ERRLEN, "tunnel_interface %s has no global "
		    "address (mark = source routes replies by source address)",
		    ct->tunnel_interface);
		return 1;
	}
	return 0;
}

/*
 * Build the rules and routes from the config and the tunnels' addresses.
 * A tunnel that routes nothing (missing, no address) is left out; only
 * when no tunnel can be routed is that an error (the first one's reason).
 */
static int
back_build(struct back *b, char *err)
{
	char why[BACK_ERRLEN], first[BACK_ERRLEN];
	size_t t, usable = 0;
	int rc;

	b->nrules = b->nroutes = 0;
	first[0] = '\0';
	for (t = 0; t < b->conf.back.ntunnel; t++) {
		if ((rc = back_build_tunnel(b, t, why, err)) == -1)
			return -1;
		if (rc == 0)
			usable++;
		else if (first[0] == '\0')
			snprintf(first, sizeof(first), "%s", why);
	}
	if (usable == 0) {
		snprintf(err, BACK_ERRLEN, "%s", first);
		return -1;
	}
	back_spec(b);
	return 0;
}

/* Build and reconcile the rules and routes. */
static int
back_routes(struct back *b, char *err)
{
	struct route_result res;
	char e[ROUTE_ERRLEN];

	if (back_build(b, err) == -1)
		return -1;
	if (route_apply(&b->nl, &b->spec, &res, e) == -1) {
		snprintf(err, BACK_ERRLEN, "reply routing: %s", e);
		return -1;
	}
	if (b->restoring && (res.rules_added || res.routes_added)) {
		b->st.repairs++;
		b->st.rules_restored += res.rules_added;
		b->st.routes_restored += res.routes_added;
	}
	if (b->restoring && (res.rules_added || res.routes_added))
		log_info("restored %u rules and %u routes", res.rules_added,
		    res.routes_added);
	return 0;
}

/* Our nftables spec from the config: every tunnel, present or not. */
static void
back_nft_spec(const struct back *b, struct nft_back *s)
{
	size_t t;

	memset(s, 0, sizeof(*s));
	for (t = 0; t < b->conf.back.ntunnel && t < NFT_TUNNELS_MAX; t++) {
		s->tunnel[t].name = b->conf.back.tunnel[t].tunnel_interface;
		s->tunnel[t].mark = back_mark(b, t);
		s->tunnel[t].num = b->slot[t];
	}
	s->ntunnel = t;
	s->mss = b->conf.back.mss_mode != CONF_MSS_OFF;
	s->mss_fixed = b->conf.back.mss_mode == CONF_MSS_FIXED ?
	    b->conf.back.mss : 0;
}

/* Connmark mode: (re)create the table when it is missing or incomplete. */
static int
back_nft(struct back *b, bool force, char *err)
{
	struct nft_back s;
	char e[NFT_ERRLEN];
	size_t t;
	int n = 0;

	back_nft_spec(b, &s);
	if (!force && nft_chains(&n, e) == 0 && n == nft_chains_wanted(&s))
		return 0;
	if (nft_apply(&s, e) == -1) {
		snprintf(err, BACK_ERRLEN, "%s", e);
		return -1;
	}
	if (b->restoring) {
		b->st.repairs++;
		b->st.nft_restored++;
	}
	if (b->restoring)
		log_info("restored: nftables table inet %s (found %d of %d "
		    "chains)", NFT_BACK_TABLE, n, nft_chains_wanted(&s));
	else
		for (t = 0; t < s.ntunnel; t++)
			log_info("nftables table inet %s: connmark 0x%x on %s%s",
			    NFT_BACK_TABLE, s.tunnel[t].mark, s.tunnel[t].name,
			    s.mss ? ", MSS clamping" : "");
	return 0;
}

/*
 * rp_filter: replies of tunnel flows leave by the tunnel but their sources
 * route elsewhere, so the tunnel needs loose mode (2). The kernel applies
 * max(all, interface): a strict "all" moves onto every interface with a
 * lower value (their filtering stays the same) and becomes 0.
 */
static int
back_rp_filter(const char *tun, char *err)
{
	struct if_nameindex *ifs, *i;
	char se[SYSCTL_ERRLEN];
	int all, v, old;

	if (sysctl_rp_filter_get("all", &all, se) == -1)
		goto fail;
	if (all == 1) {
		if ((ifs = if_nameindex()) != NULL) {
			for (i = ifs; i->if_index != 0; i++)
				if (strcmp(i->if_name, tun) != 0 &&
				    sysctl_rp_filter_get(i->if_name, &v, se) == 0 &&
				    v < 1)
					(void)sysctl_rp_filter(i->if_name, 1, &old, se);
			if_freenameindex(ifs);
		}
		if (sysctl_rp_filter("all", 0, &old, se) == -1)
			goto fail;
		log_info("net.ipv4.conf.all.rp_filter was 1: set it on each "
		    "interface instead and set all to 0");
	}
	if (sysctl_rp_filter_get(tun, &v, se) == -1)
		goto fail;
	if (v == 1) {
		if (sysctl_rp_filter(tun, 2, &old, se) == -1)
			goto fail;
		log_info("net.ipv4.conf.%s.rp_filter: 1 -> 2 (loose)", tun);
	}
	return 0;
fail:
	snprintf(err, BACK_ERRLEN, "rp_filter: %s", se);
	return -1;
}

/* Resolve mark = auto: connmark when nftables works, else source. */
static void
back_mode(struct back *b)
{
	char e[NFT_ERRLEN];

	b->mode = b->conf.back.mark;
	if (b->mode != CONF_MARK_AUTO)
		return;
	if (nft_probe(e) == 0) {
		b->mode = CONF_MARK_CONNMARK;
		log_info("mark = auto: nftables is usable: using connmark");
	} else {
		b->mode = CONF_MARK_SOURCE;
		log_info("mark = auto: nftables is not usable (%s): using "
		    "source-address rules", e);
	}
}

/* rp_filter of every tunnel that is there. */
static int
back_rp_filters(struct back *b, char *err)
{
	size_t t;

	for (t = 0; t < b->conf.back.ntunnel; t++)
		if (b->tun[t].ifindex != 0 && back_rp_filter(
		    b->conf.back.tunnel[t].tunnel_interface, err) == -1)
			return -1;
	return 0;
}

/* Everything for the current mode; err says what failed. */
static int
back_install(struct back *b, bool force_nft, char *err)
{
	char se[SYSCTL_ERRLEN], e[NFT_ERRLEN];
	int old;

	if (b->mode == CONF_MARK_CONNMARK) {
		if (back_nft(b, force_nft, err) == -1)
			return -1;
		if (sysctl_src_valid_mark(1, &old, se) == 1)
			log_info("net.ipv4.conf.all.src_valid_mark: %d -> 1", old);
	} else if (force_nft)
		(void)nft_remove(e);	/* a connmark instance's leftovers */
	if (back_routes(b, err) == -1)
		return -1;
	return back_rp_filters(b, err);
}

/* Log what runs, once. */
static void
back_describe(const struct back *b)
{
	const struct conf_back *cb = &b->conf.back;
	const struct conf_back_tunnel *ct;
	char a[64];
	size_t t, i;

	for (t = 0; t < cb->ntunnel; t++) {
		ct = &cb->tunnel[t];
		for (i = 0; i < ct->nfront; i++)
			log_info("replies of %s flows go via %s dev %s (table "
			    "%u, mark 0x%x)", ct->tunnel_interface,
			    conf_addr_str(&ct->front[i], a, sizeof(a)),
			    ct->tunnel_interface, back_table(b, t),
			    back_mark(b, t));
	}
	if (b->mode == CONF_MARK_SOURCE) {
		log_info("mark = source: replies are routed by source address "
		    "(the tunnels' addresses and service_addresses); UDP "
		    "services bound to 0.0.0.0 or :: need mark = connmark");
		if (cb->mss_mode != CONF_MSS_OFF)
			log_info("mss_clamp: MSS clamping needs nftables "
			    "(mark = connmark); not clamping");
	}
}

/* Point the spec at our tables alone: the scope that removal clears. */
static void
back_scope(struct back *b)
{
	b->nrules = b->nroutes = 0;
	back_spec(b);
}

/* Remove our rules, routes and table. */
static void
back_remove(struct back *b)
{
	struct route_result res;
	char e[ROUTE_ERRLEN], ne[NFT_ERRLEN];

	back_scope(b);
	b->restoring = false;
	if (route_remove(&b->nl, &b->spec, &res, e) == -1)
		log_warnx("removing reply routing: %s", e);
	if (nft_remove(ne) == -1 && b->mode == CONF_MARK_CONNMARK)
		log_warnx("removing nftables table: %s", ne);
}

/* Remove what a killed back left: our rules, routes and nftables table. */
int
back_cleanup(char err[BACK_ERRLEN])
{
	struct back *b;
	struct route_result res;
	char e[ROUTE_ERRLEN], ne[NFT_ERRLEN];
	int rc = 0;

	if ((b = calloc(1, sizeof(*b))) == NULL) {
		snprintf(err, BACK_ERRLEN, "out of memory");
		return -1;
	}
	if (nl_open(&b->nl, e) == -1) {
		snprintf(err, BACK_ERRLEN, "netlink: %s", e);
		free(b);
		return -1;
	}
	back_scope(b);
	if (route_remove(&b->nl, &b->spec, &res, e) == -1) {
		snprintf(err, BACK_ERRLEN, "reply routing: %s", e);
		rc = -1;
	}
	/* without nftables there can be no table of ours to remove */
	if (nft_remove(ne) == -1 && nft_probe(e) == 0) {
		snprintf(err, BACK_ERRLEN, "nftables table inet %s: %s",
		    NFT_BACK_TABLE, ne);
		rc = -1;
	}
	nl_close(&b->nl);
	free(b);
	return rc;
}

/* Debounced: put back whatever went missing. */
static void
back_reconcile(evutil_socket_t fd, short what, void *arg)
{
	struct back *b = arg;
	struct timeval retry = { 0, BACK_RETRY_MS * 1000 };
	char err[BACK_ERRLEN];

	(void)fd;
	(void)what;
	b->restoring = true;
	if (back_install(b, false, err) == -1) {
		b->st.repair_errors++;
		back_fail(b, err);
		evtimer_add(b->debounce, &retry);
	} else if (b->last_err[0] != '\0') {
		log_info("reply routing is complete again");
		b->last_err[0] = '\0';
	}
	b->restoring = false;
}

/* Open the watch sockets and attach them to the loop. */
static int
back_watch_open(struct back *b, char *err)
{
	struct mnl_socket *s[2] = { NULL, NULL };
	char e[NFT_ERRLEN];
	int i;

	if ((s[0] = nl_watch_open(NL_WATCH_LINK | NL_WATCH_ADDR |
	    NL_WATCH_ROUTE | NL_WATCH_RULE, e)) == NULL) {
		snprintf(err, BACK_ERRLEN, "%s", e);
		return -1;
	}
	if (b->mode == CONF_MARK_CONNMARK && (s[1] = nft_watch_open(e)) == NULL) {
		snprintf(err, BACK_ERRLEN, "%s", e);
		nl_watch_close(s[0]);
		return -1;
	}
	for (i = 0; i < 2; i++) {
		if (s[i] == NULL)
			continue;
		if (watch_feed_open(&b->watch[i], b->base, s[i], b->debounce,
		    BACK_DEBOUNCE_MS) == -1) {
			if (i == 0)
				nl_watch_close(s[1]);
			snprintf(err, BACK_ERRLEN, "cannot watch netlink events");
			return -1;
		}
	}
	return 0;
}

/* Close the watch sockets. */
static void
back_watch_close(struct back *b)
{
	int i;

	for (i = 0; i < 2; i++)
		watch_feed_close(&b->watch[i]);
}

/*
 * After a reload: number the new config's tunnels from the old one's (a
 * section keeps its number, back_slot.h), and carry what was found and
 * said about each kept tunnel along to its new place in the file.
 */
static void
back_renumber(struct back *b, const struct back *old)
{
	const struct conf_back *cb = &b->conf.back, *ob = &old->conf.back;
	struct back_slot_prev prev[BACK_TUNNELS];
	size_t t, o;

	for (o = 0; o < ob->ntunnel; o++) {
		prev[o].name = ob->tunnel[o].name;
		prev[o].ifname = ob->tunnel[o].tunnel_interface;
		prev[o].slot = old->slot[o];
	}
	back_slot_assign(prev, ob->ntunnel, cb->tunnel, cb->ntunnel,
	    BACK_TUNNELS, b->slot);
	for (t = 0; t < cb->ntunnel; t++) {
		memset(&b->tun[t], 0, sizeof(b->tun[t]));
		for (o = 0; o < ob->ntunnel; o++)
			if (old->slot[o] == b->slot[t] &&
			    strcmp(ob->tunnel[o].tunnel_interface,
			    cb->tunnel[t].tunnel_interface) == 0)
				b->tun[t] = old->tun[o];
	}
}

/* Install a new config, or put the old one back and return -1. */
static int
back_switch(struct back *b, struct conf *c, char *err)
{
	struct back old = *b;
	char e[BACK_ERRLEN], ne[NFT_ERRLEN];

	b->conf = *c;
	back_renumber(b, &old);
	back_mode(b);
	if (old.mode == CONF_MARK_CONNMARK && b->mode != CONF_MARK_CONNMARK)
		(void)nft_remove(ne);
	back_watch_close(b);
	if (back_install(b, true, err) == 0 && back_watch_open(b, err) == 0) {
		conf_free(&old.conf);
		memset(c, 0, sizeof(*c));
		return 0;
	}
	/* back to the running configuration */
	*c = b->conf;
	b->conf = old.conf;
	b->mode = old.mode;
	memcpy(b->slot, old.slot, sizeof(b->slot));
	memcpy(b->tun, old.tun, sizeof(b->tun));
	back_watch_close(b);
	if (b->mode != CONF_MARK_CONNMARK)
		(void)nft_remove(ne);
	if (back_install(b, true, e) == -1 || back_watch_open(b, e) == -1)
		log_warnx("reload: restoring the running configuration: %s", e);
	return -1;
}

/* SIGHUP: read the file again; a bad file keeps the running config. */
static void
back_reload(struct back *b)
{
	struct conf_errors *errs;
	struct conf c;
	char err[BACK_ERRLEN];
	size_t i;

	log_info("reloading %s", b->path);
	if ((errs = malloc(sizeof(*errs))) == NULL) {
		log_warnx("reload: out of memory");
		return;
	}
	if (conf_load(b->path, &c, errs) == -1) {
		for (i = 0; i < errs->n; i++)
			log_warnx("reload: %s", errs->e[i].msg);
		log_warnx("reload: %s has errors; keeping the running "
		    "configuration", b->path);
		b->st.reload_errors++;
	} else if (c.role != CONF_ROLE_BACK) {
		log_warnx("reload: %s is no longer a [back] configuration; "
		    "keeping the running one", b->path);
		conf_free(&c);
		b->st.reload_errors++;
	} else if (back_switch(b, &c, err) == -1) {
		log_warnx("reload: %s; keeping the running configuration", err);
		conf_free(&c);
		b->st.reload_errors++;
	} else {
		b->st.reloads++;
		back_describe(b);
		log_info("reloaded %s", b->path);
	}
	free(errs);
}

/* Signals: TERM/INT stop, HUP reloads, USR2 restarts. */
static void
back_signal(evutil_socket_t sig, short what, void *arg)
{
	struct back *b = arg;
	char err[REEXEC_ERRLEN];

	(void)what;
	if (sig == SIGHUP) {
		notify_send("RELOADING=1");
		back_reload(b);
		notify_send("READY=1");
		return;
	}
	if (sig == SIGUSR2) {
		if (reexec_ready(err) == -1) {
			log_warnx("SIGUSR2: cannot restart (%s); still running",
			    err);
			return;
		}
		log_info("SIGUSR2: restarting, replies still routed");
		notify_send("RELOADING=1");
		b->restart = true;
		event_base_loopbreak(b->base);
		return;
	}
	log_info("%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	event_base_loopbreak(b->base);
}

/* Tell the service manager we are alive. */
static void
back_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	notify_send("WATCHDOG=1");
}

/* Signals, the debounce timer and the watchdog. */
static int
back_events(struct back *b)
{
	static const int sigs[4] = { SIGTERM, SIGINT, SIGHUP, SIGUSR2 };
	unsigned long long usec = notify_watchdog_usec();
	struct timeval wd;
	int i;

	for (i = 0; i < 4; i++) {
		b->sig[i] = evsignal_new(b->base, sigs[i], back_signal, b);
		if (b->sig[i] == NULL || evsignal_add(b->sig[i], NULL) == -1)
			return -1;
	}
	if ((b->debounce = evtimer_new(b->base, back_reconcile, b)) == NULL)
		return -1;
	if (usec == 0)
		return 0;
	wd.tv_sec = (time_t)(usec / 2000000);
	wd.tv_usec = (suseconds_t)(usec / 2 % 1000000);
	b->watchdog = event_new(b->base, -1, EV_PERSIST, back_watchdog, b);
	if (b->watchdog == NULL || event_add(b->watchdog, &wd) == -1)
		return -1;
	return 0;
}

/* `tunrelay stats` of the back half: its mode and the repairs it made. */
static void
back_stats(struct evbuffer *out, void *arg)
{
	const struct back *b = arg;

#define S(name, v) evbuffer_add_printf(out, "%s %llu\n", name, \
	    (unsigned long long)(v))
	evbuffer_add_printf(out, "mode %s\n", b->mode == CONF_MARK_CONNMARK ?
	    "connmark" : "source");
	S("rules", b->nrules);
	S("repairs", b->st.repairs);
	S("repair_errors", b->st.repair_errors);
	S("rules_restored", b->st.rules_restored);
	S("routes_restored", b->st.routes_restored);
	S("nft_restored", b->st.nft_restored);
	S("reloads", b->st.reloads);
	S("reload_errors", b->st.reload_errors);
#undef S
}

/* One tunnel's front addresses, joined with ',' (JSON: quoted). */
static void
back_status_fronts(struct evbuffer *out, const struct conf_back_tunnel *ct,
    bool json)
{
	char a[64];
	size_t i;

	for (i = 0; i < ct->nfront; i++)
		evbuffer_add_printf(out, json ? "%s\"%s\"" : "%s%s",
		    i ? "," : "", conf_addr_str(&ct->front[i], a, sizeof(a)));
}

/* Tunnel t as one status line. */
static void
back_status_text(struct evbuffer *out, const struct back *b, size_t t)
{
	const struct conf_back_tunnel *ct = &b->conf.back.tunnel[t];

	evbuffer_add_printf(out, "tunnel %s interface=%s table=%u mark=0x%x "
	    "state=%s rules=%zu front=", ct->name, ct->tunnel_interface,
	    back_table(b, t), back_mark(b, t),
	    back_state_name(back_tun_state(b, t)), b->tun[t].nrules);
	back_status_fronts(out, ct, false);
	evbuffer_add_printf(out, "\n");
}

/* Tunnel t as one JSON object (docs/json.md). */
static void
back_status_json(struct evbuffer *out, const struct back *b, size_t t)
{
	const struct conf_back_tunnel *ct = &b->conf.back.tunnel[t];

	evbuffer_add_printf(out, "%s{\"section\":", t ? "," : "");
	json_evstr(out, ct->name);
	evbuffer_add_printf(out, ",\"interface\":");
	json_evstr(out, ct->tunnel_interface);
	evbuffer_add_printf(out, ",\"table\":%u,\"mark\":%u,\"state\":\"%s\","
	    "\"rules\":%zu,\"front\":[", back_table(b, t), back_mark(b, t),
	    back_state_name(back_tun_state(b, t)),
	    b->tun[t].nrules);
	back_status_fronts(out, ct, true);
	evbuffer_add_printf(out, "]}");
}

/* `tunrelay status` of the back half: its mode and every tunnel. */
static void
back_status(struct evbuffer *out, bool json, void *arg)
{
	const struct back *b = arg;
	const char *mode = b->mode == CONF_MARK_CONNMARK ? "connmark" :
	    "source";
	size_t t;

	if (json)
		evbuffer_add_printf(out, ",\"mode\":\"%s\",\"tunnels\":[",
		    mode);
	else
		evbuffer_add_printf(out, "mode %s\n", mode);
	for (t = 0; t < b->conf.back.ntunnel; t++) {
		if (json)
			back_status_json(out, b, t);
		else
			back_status_text(out, b, t);
	}
	if (json)
		evbuffer_add_printf(out, "]");
}

/* The control socket, for tunrelay stats. */
static int
back_ctl(struct back *b)
{
	char err[CTL_ERRLEN];

	if (ctl_listen(&b->ctl, b->base, b->conf.control_socket,
	    b->conf.control_group, NULL, NULL, err) == -1) {
		log_msg(LOG_CRIT, "not started: control socket: %s", err);
		return -1;
	}
	b->ctl.text = back_stats;
	b->ctl.text_arg = b;
	b->ctl.status = back_status;
	b->ctl.status_arg = b;
	b->ctl.conf_path = b->path;
	return 0;
}

/* Free the loop's events and sockets. */
static void
back_free(struct back *b)
{
	int i;

	back_watch_close(b);
	ctl_close(&b->ctl);
	for (i = 0; i < 4; i++)
		if (b->sig[i] != NULL)
			event_free(b->sig[i]);
	if (b->debounce != NULL)
		event_free(b->debounce);
	if (b->watchdog != NULL)
		event_free(b->watchdog);
	if (b->base != NULL)
		event_base_free(b->base);
	if (b->nl.sock != NULL)
		nl_close(&b->nl);
	conf_free(&b->conf);
}

/* The tunnel interfaces, joined with ", ". */
static const char *
back_names(const struct back *b, char *buf, size_t len)
{
	size_t t, o = 0;

	buf[0] = '\0';
	for (t = 0; t < b->conf.back.ntunnel && o < len; t++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", t ? ", " : "",
		    b->conf.back.tunnel[t].tunnel_interface);
	return buf;
}

/* Numbers found in the kernel at start (back_recover). */
struct back_found {
	struct back_slot_prev prev[BACK_FOUND_MAX];
	char ifname[BACK_FOUND_MAX][IFNAMSIZ];
	const char *from[BACK_FOUND_MAX];	/* where: for the log */
	size_t n;
};

/* Note that interface ifname had number slot (the first finding wins). */
static void
back_found_add(struct back_found *f, const char *ifname, uint32_t slot,
    const char *from)
{
	size_t i;

	if (slot >= BACK_TUNNELS || f->n == BACK_FOUND_MAX)
		return;
	for (i = 0; i < f->n; i++)
		if (strcmp(f->ifname[i], ifname) == 0 ||
		    f->prev[i].slot == slot)
			return;
	snprintf(f->ifname[f->n], IFNAMSIZ, "%s", ifname);
	f->prev[f->n].name = NULL;
	f->prev[f->n].ifname = f->ifname[f->n];
	f->prev[f->n].slot = (uint8_t)slot;
	f->from[f->n] = from;
	f->n++;
}

/*
 * The numbers in our nftables table: "iifname TUN ct mark set MARK" says
 * which mark the connections of each tunnel carry in conntrack, and it
 * names the interface even while it is down or gone.
 */
static void
back_found_nft(struct back_found *f)
{
	struct nft_found nf[BACK_FOUND_MAX];
	char e[NFT_ERRLEN];
	size_t n, i;

	if (nft_marks(nf, BACK_FOUND_MAX, &n, e) == -1)
		return;		/* no nftables: no table of ours either */
	for (i = 0; i < n; i++)
		if (nf[i].mark >= BACK_MARK)
			back_found_add(f, nf[i].name, nf[i].mark - BACK_MARK,
			    "nftables");
}

/*
 * The numbers in our routing tables: tunnel n's table routes through its
 * interface (while it is up). The only finding with mark = source.
 */
static void
back_found_routes(struct back *b, struct back_found *f, int af)
{
	struct nl_route *r;
	char e[NL_ERRLEN], name[IF_NAMESIZE];
	size_t n, i;

	if (nl_route_list(&b->nl, af, 0, &r, &n, e) == -1)
		return;		/* no IPv6: no routes of ours there */
	for (i = 0; i < n; i++)
		if (r[i].protocol == NL_PROTO_TUNRELAY && r[i].oif != 0 &&
		    r[i].table >= BACK_TABLE &&
		    r[i].table < BACK_TABLE + BACK_TUNNELS &&
		    if_indextoname((unsigned int)r[i].oif, name) != NULL)
			back_found_add(f, name, r[i].table - BACK_TABLE,
			    "routes");
	free(r);
}

/*
 * At start (a first start, tunrelay restart, or after a SIGKILL): number
 * the tunnels, keeping the numbers that our objects in the kernel give the
 * tunnels of the previous instance, so that its connections keep their
 * marks; new tunnels take the lowest free numbers.
 */
static void
back_recover(struct back *b)
{
	const struct conf_back *cb = &b->conf.back;
	struct back_found *f;
	size_t t, i;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		fatal("back");
	back_found_nft(f);
	back_found_routes(b, f, AF_INET);
	back_found_routes(b, f, AF_INET6);
	back_slot_assign(f->prev, f->n, cb->tunnel, cb->ntunnel, BACK_TUNNELS,
	    b->slot);
	for (t = 0; t < cb->ntunnel; t++)
		for (i = 0; i < f->n; i++)
			if (f->prev[i].slot == b->slot[t] &&
			    strcmp(f->ifname[i], cb->tunnel[t].tunnel_interface)
			    == 0)
				log_info("[%s] %s keeps table %u, mark 0x%x "
				    "(found in %s)", cb->tunnel[t].name,
				    f->ifname[i], back_table(b, t),
				    back_mark(b, t), f->from[i]);
	free(f);
}

/* Run the back half until told to stop. */
int
back_run(const char *path, struct conf *c)
{
	struct back *b;
	char err[BACK_ERRLEN], e[NL_ERRLEN], re[REEXEC_ERRLEN];
	char names[CONF_BACK_TUNNELS_MAX * IFNAMSIZ];
	bool restart = false;
	int rc = 1;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		fatal("back");
	b->path = path;
	b->conf = *c;
	b->ctl.fd = -1;
	memset(c, 0, sizeof(*c));	/* ours now */
	signal(SIGPIPE, SIG_IGN);
	if ((b->base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	if (nl_open(&b->nl, e) == -1) {
		log_msg(LOG_CRIT, "not started: netlink: %s", e);
		goto out;
	}
	back_mode(b);
	back_recover(b);
	sysctl_undo_start();	/* what we change is put back at the end */
	snprintf(err, sizeof(err), "cannot set up the event loop");
	if (back_events(b) == -1 || back_install(b, true, err) == -1 ||
	    back_watch_open(b, err) == -1) {
		log_msg(LOG_CRIT, "not started: %s (what was installed is "
		    "removed)", err);
		goto stop;
	}
	if (back_ctl(b) == -1)
		goto stop;
	back_describe(b);
	log_info("ready: routing replies of %s flows back through the "
	    "tunnel they arrived on", back_names(b, names, sizeof(names)));
	notify_send("READY=1\nSTATUS=routing replies through the tunnel");
	event_base_dispatch(b->base);
	rc = 0;
	if ((restart = b->restart))
		goto out;	/* the next image reconciles what is installed */
	notify_send("STOPPING=1");
stop:
	back_remove(b);
	if (sysctl_undo_restore(log_note, NULL) > 0)
		log_warnx("some sysctls could not be put back (logged above)");
out:
	back_free(b);
	free(b);
	if (restart) {
		if (reexec_exec(re) == -1)
			log_msg(LOG_CRIT, "restart failed: %s (run again, or "
			    "tunrelay cleanup)", re);
		rc = 1;
	}
	return rc;
}

/* Report one host finding at a level; 1 when it fails the check. */
static int
back_say(const struct conf *c, enum check_level lvl, const char *fmt, ...)
    __attribute__((__format__(__printf__, 3, 4)));

static int
back_say(const struct conf *c, enum check_level lvl, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return check_say(c, lvl, "%s", msg);
}

/* Report one host finding ("note:" when it does not fail the check). */
#define back_problem(c, counts, ...) \
	back_say((c), (counts) ? CHECK_ERROR : CHECK_NOTE, __VA_ARGS__)

/* The front's address must be reached through tunnel t's interface. */
static int
back_check_front(struct back *b, size_t t, const struct conf_addr *f,
    const struct nl_ifaddr *a, size_t na)
{
	const struct conf_back_tunnel *ct = &b->conf.back.tunnel[t];
	const char *tif = ct->tunnel_interface;
	struct nl_route_query q;
	struct nl_route rt;
	char e[NL_ERRLEN], s[64];
	size_t i;
	bool addressed = false;

	conf_addr_str(f, s, sizeof(s));
	for (i = 0; i < na; i++)
		addressed |= a[i].family == conf_af(f->family);
	if (!addressed)
		return back_problem(&b->conf, true, "[%s] tunnel_interface %s "
		    "has no IPv%d address (fix: ip addr add ADDRESS/PREFIX dev %s)",
		    ct->name, tif, f->family, tif);
	memset(&q, 0, sizeof(q));
	q.family = conf_af(f->family);
	memcpy(q.dst, f->addr.b, 16);
	if (nl_route_get(&b->nl, &q, &rt, e) == -1 ||
	    rt.oif != b->tun[t].ifindex)
		return back_problem(&b->conf, true, "[%s] front: %s is not "
		    "reached through %s (fix: ip route add %s dev %s, or give %s "
		    "an address in the front's subnet)", ct->name, s, tif, s,
		    tif, tif);
	return 0;
}

/* rp_filter findings (the daemon sets loose mode itself). */
static void
back_check_rp(const struct conf *c, const char *tif)
{
	char se[SYSCTL_ERRLEN];
	int all, v;

	if (sysctl_rp_filter_get("all", &all, se) == -1 ||
	    sysctl_rp_filter_get(tif, &v, se) == -1)
		return;
	if ((all > v ? all : v) == 1)
		back_problem(c, false, "rp_filter of %s is strict (1); tunrelay "
		    "run sets loose mode (or: sysctl -w net.ipv4.conf.all."
		    "rp_filter=0 net.ipv4.conf.%s.rp_filter=2)", tif, tif);
}

/*
 * Rules of others that come before ours (1..BACK_PRIO_LO-1) and send packets
 * to a table other than local: they may catch the replies of tunnel flows
 * before ours do (a leftover of an old policy-routing script, typically).
 */
static void
back_check_rules(struct back *b)
{
	static const int fams[] = { AF_INET, AF_INET6 };
	struct nl_rule *r;
	char e[NL_ERRLEN], s[256];
	size_t n, i;
	int f;

	for (f = 0; f < 2; f++) {
		if (nl_rule_list(&b->nl, fams[f], &r, &n, e) == -1)
			continue;	/* no IPv6: nothing there to conflict */
		for (i = 0; i < n; i++) {
			if (r[i].protocol == NL_PROTO_TUNRELAY ||
			    r[i].priority == 0 || r[i].priority >= BACK_PRIO_LO ||
			    (r[i].action != 0 && r[i].action != FR_ACT_TO_TBL) ||
			    r[i].table == RT_TABLE_LOCAL)
				continue;
			back_problem(&b->conf, false, "rule \"%s\" is not "
			    "tunrelay's and comes before its rules (%d..%d): it "
			    "may send replies of tunnel flows elsewhere (if it is "
			    "left from an old script: ip %srule del priority %u)",
			    nl_rule_str(&r[i], s, sizeof(s)), BACK_PRIO_LO,
			    BACK_PRIO_HI, fams[f] == AF_INET6 ? "-6 " : "",
			    r[i].priority);
		}
		free(r);
	}
}

/* The mark mode's findings. */
static int
back_check_mode(const struct conf *c)
{
	const struct conf_back *cb = &c->back;
	char e[NFT_ERRLEN];
	bool nft = nft_probe(e) == 0;
	int bad = 0;

	if (cb->mark == CONF_MARK_CONNMARK && !nft)
		bad += back_problem(c, true, "[back] mark = connmark needs "
		    "nftables (%s); fix: modprobe nf_tables, or use mark = "
		    "source", e);
	if (cb->mark == CONF_MARK_AUTO)
		back_problem(c, false, "mark = auto will use %s", nft ?
		    "connmark (nftables is usable)" : "source (nftables is not "
		    "usable)");
	if (cb->mark == CONF_MARK_SOURCE || (cb->mark == CONF_MARK_AUTO && !nft)) {
		back_problem(c, false, "mark = source: UDP services bound to "
		    "0.0.0.0 or :: that answer without IP_PKTINFO reply from the "
		    "uplink's address and their replies do not go back through "
		    "the tunnel; bind them to the tunnel address or use mark = "
		    "connmark");
		back_problem(c, false, "mark = source: services behind this "
		    "host reached through a forwarded port (containers, "
		    "namespaces) reply from their own address; list it in "
		    "service_addresses (then all its traffic leaves by the "
		    "tunnel) or use mark = connmark");
		if (cb->mss_mode != CONF_MSS_OFF)
			back_problem(c, false, "mss_clamp needs nftables "
			    "(mark = connmark); it is not applied with source "
			    "rules");
	}
	return bad;
}

/*
 * mark = source with several tunnels: two tunnels that carry the same
 * address cannot be told apart by the replies' source address.
 */
static int
back_check_shared(struct back *b, size_t t, const struct nl_ifaddr *a,
    size_t na, struct nl_ifaddr seen[][BACK_MAX_ADDRS], const size_t *nseen)
{
	const struct conf_back *cb = &b->conf.back;
	char s[INET6_ADDRSTRLEN];
	size_t o, i, j;
	int bad = 0;

	for (o = 0; o < t; o++)
		for (i = 0; i < na; i++)
			for (j = 0; j < nseen[o]; j++) {
				if (a[i].family != seen[o][j].family ||
				    memcmp(a[i].addr, seen[o][j].addr, 16) != 0)
					continue;
				inet_ntop(a[i].family, a[i].addr, s, sizeof(s));
				bad += back_problem(&b->conf, cb->mark ==
				    CONF_MARK_SOURCE, "[%s] and [%s]: both "
				    "tunnels carry %s; mark = source picks a "
				    "reply's tunnel by its source address and "
				    "cannot tell them apart: its replies all "
				    "leave through %s (fix: give each tunnel "
				    "its own address, or use mark = connmark)",
				    cb->tunnel[o].name, cb->tunnel[t].name, s,
				    cb->tunnel[o].tunnel_interface);
			}
	return bad;
}

/* Tunnels that are there and up (run routes them). */
static size_t
back_check_usable(struct back *b)
{
	struct nl_ifaddr a[BACK_MAX_ADDRS];
	char err[BACK_ERRLEN];
	size_t t, na, n = 0;

	for (t = 0; t < b->conf.back.ntunnel; t++)
		if (back_tun_addrs(b, t, a, &na, err) == 0 &&
		    back_tun_state(b, t) == BACK_UP)
			n++;
	return n;
}

/*
 * The findings of one tunnel; its addresses go into a/na. A tunnel that is
 * missing or down fails the check only when no tunnel is usable: run starts
 * with the others and leaves it out until it is up.
 */
static int
back_check_tunnel(struct back *b, size_t t, size_t usable,
    struct nl_ifaddr *a, size_t *na)
{
	const struct conf_back_tunnel *ct = &b->conf.back.tunnel[t];
	enum check_level lvl = usable > 0 ? CHECK_WARNING : CHECK_ERROR;
	const char *later = usable > 0 ? "; tunrelay run leaves it out until "
	    "it is up" : "";
	char err[BACK_ERRLEN];
	size_t i;
	int bad = 0;

	if (back_tun_addrs(b, t, a, na, err) == -1)
		return back_problem(&b->conf, true, "[%s] %s", ct->name, err);
	if (b->tun[t].ifindex == 0)
		return back_say(&b->conf, lvl, "[%s] %s%s (fix: bring the "
		    "tunnel up first, e.g. wg-quick up %s)", ct->name, err,
		    later, ct->tunnel_interface);
	if (!b->tun[t].up)
		return back_say(&b->conf, lvl, "[%s] tunnel_interface %s is "
		    "down%s (fix: ip link set %s up)", ct->name,
		    ct->tunnel_interface, later, ct->tunnel_interface);
	for (i = 0; i < ct->nfront; i++)
		bad += back_check_front(b, t, &ct->front[i], a, *na);
	back_check_rp(&b->conf, ct->tunnel_interface);
	return bad;
}

/* What several fronts mean for the mark mode. */
static void
back_check_fronts(const struct conf *c, bool nft)
{
	const struct conf_back *cb = &c->back;

	if (cb->ntunnel < 2)
		return;
	if (cb->mark == CONF_MARK_SOURCE || (cb->mark == CONF_MARK_AUTO &&
	    !nft))
		back_problem(c, false, "mark = source with %zu tunnels: a "
		    "reply's tunnel is picked by its source address alone (the "
		    "tunnel's own addresses and its section's "
		    "service_addresses); each front must send its clients to "
		    "an address of its own tunnel. An address reached through "
		    "two fronts (the same client through both, or an anycast "
		    "service address) cannot be told apart: its replies leave "
		    "through one tunnel only; use mark = connmark, which "
		    "follows each connection", cb->ntunnel);
	else
		back_problem(c, false, "mark = connmark with %zu tunnels: each "
		    "connection's replies leave through the tunnel it arrived "
		    "on (each its own mark and table, from 0x%x and %d; a "
		    "tunnel keeps its number while its section is there: "
		    "tunrelay status shows them)", cb->ntunnel, BACK_MARK,
		    BACK_TABLE);
}

/* Host checks for a back config; the number of problems. */
int
back_check(const struct conf *c)
{
	struct back *b;
	struct nl_ifaddr a[BACK_TUNNELS][BACK_MAX_ADDRS];
	size_t na[BACK_TUNNELS], t, usable;
	char e[NFT_ERRLEN];
	int bad = 0;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return back_problem(c, true, "out of memory");
	b->conf = *c;
	if (nl_open(&b->nl, e) == -1) {
		free(b);
		return back_problem(c, true, "netlink: %s", e);
	}
	usable = back_check_usable(b);
	for (t = 0; t < c->back.ntunnel; t++) {
		na[t] = 0;
		bad += back_check_tunnel(b, t, usable, a[t], &na[t]);
		bad += back_check_shared(b, t, a[t], na[t], a, na);
	}
	back_check_rules(b);
	bad += back_check_mode(c);
	back_check_fronts(c, nft_probe(e) == 0);
	nl_close(&b->nl);
	free(b);
	return bad;
}
