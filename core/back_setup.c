/*
 * back_setup.c - the back half's setup (see back.h): the rules and routes
 * of every tunnel that is there and up, the nftables table of connmark
 * mode, rp_filter on the tunnels, all installed in one go and logged.
 */
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/back_int.h"
#include "core/log.h"
#include "tun/sysctl.h"

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
uint32_t
back_table(const struct back *b, size_t t)
{
	return BACK_TABLE + (uint32_t)b->slot[t];
}

/* Tunnel t's connection mark. */
uint32_t
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
void
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
int
back_tun_addrs(struct back *b, size_t t, struct nl_ifaddr *out, size_t *n,
    char *err)
{
	const char *name = b->conf.back.tunnel[t].tunnel_interface;
	struct nl_ifaddr *a = NULL;
	struct nl_link l;
	size_t na = 0, i;

	*n = 0;
	b->tun[t].ifindex = 0;
	b->tun[t].up = false;
	if (nl_link_get(&b->nl, name, 0, &l, err) == -1) {
		err_prefix(err, "tunnel_interface %s", name);
		return errno == ENODEV ? 0 : -1;
	}
	b->tun[t].ifindex = l.ifindex;
	b->tun[t].up = (l.flags & IFF_UP) != 0;
	if (nl_addr_list(&b->nl, l.ifindex, 0, &a, &na, err) == -1) {
		err_prefix(err, "addresses of %s", name);
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
void
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
enum back_state
back_tun_state(const struct back *b, size_t t)
{
	if (b->tun[t].ifindex == 0)
		return BACK_MISSING;
	return b->tun[t].up ? BACK_UP : BACK_DOWN;
}

/* A state's name, as status and the log show it. */
const char *
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
		snprintf(why, ERRLEN, "%s", err);
		return 1;
	}
	if (!b->tun[t].up) {
		/* the kernel takes no route through a down interface */
		snprintf(why, ERRLEN, "tunnel_interface %s is down",
		    ct->tunnel_interface);
		return 1;
	}
	for (i = 0; i < ct->nfront; i++) {
		if (!back_has_family(b, t, a, na, ct->front[i].family))
			continue;
		if (!back_build_family(b, t, &ct->front[i], a, na)) {
			snprintf(err, ERRLEN, "more than %d rules or %d "
			    "routes needed", BACK_MAX_RULES, BACK_MAX_ROUTES);
			return -1;
		}
	}
	if (b->mode == CONF_MARK_SOURCE && na == 0 && ct->nservice == 0) {
		snprintf(why, ERRLEN, "tunnel_interface %s has no global "
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
	char why[ERRLEN], first[ERRLEN];
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
		snprintf(err, ERRLEN, "%s", first);
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

	if (back_build(b, err) == -1)
		return -1;
	if (route_apply(&b->nl, &b->spec, &res, err) == -1) {
		err_prefix(err, "reply routing");
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
	char e[ERRLEN];
	size_t t;
	int n = 0;

	back_nft_spec(b, &s);
	if (!force && nft_chains(&n, e) == 0 && n == nft_chains_wanted(&s))
		return 0;
	if (nft_apply(&s, err) == -1) {
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
	char se[ERRLEN];		/* the best-effort per-interface steps */
	int all, v, old;

	if (sysctl_rp_filter_get("all", &all, err) == -1)
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
		if (sysctl_rp_filter("all", 0, &old, err) == -1)
			goto fail;
		log_info("net.ipv4.conf.all.rp_filter was 1: set it on each "
		    "interface instead and set all to 0");
	}
	if (sysctl_rp_filter_get(tun, &v, err) == -1)
		goto fail;
	if (v == 1) {
		if (sysctl_rp_filter(tun, 2, &old, err) == -1)
			goto fail;
		log_info("net.ipv4.conf.%s.rp_filter: 1 -> 2 (loose)", tun);
	}
	return 0;
fail:
	err_prefix(err, "rp_filter");
	return -1;
}

/* Resolve mark = auto: connmark when nftables works, else source. */
void
back_mode(struct back *b)
{
	char e[ERRLEN];

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
int
back_install(struct back *b, bool force_nft, char *err)
{
	char se[ERRLEN], e[ERRLEN];
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
void
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

/*
 * For `tunrelay check` (core/check_back.c): tunnel t's interface (p) and
 * global addresses (out), read as run reads them (back_tun_addrs).
 */
int
back_probe_tunnel(const struct conf *c, struct nl *nl, size_t t,
    struct back_probe *p, struct nl_ifaddr *out, size_t *n,
    char err[ERRLEN])
{
	struct back *b;
	int rc;

	*n = 0;
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		snprintf(err, ERRLEN, "out of memory");
		return -1;
	}
	b->conf = *c;
	b->nl = *nl;
	rc = back_tun_addrs(b, t, out, n, err);
	*nl = b->nl;	/* its sequence numbers moved on */
	p->ifindex = b->tun[t].ifindex;
	p->up = b->tun[t].up;
	free(b);
	return rc;
}
