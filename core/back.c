/*
 * back.c - the back half: reply routing without SNAT on the backend (see
 * back.h), the running daemon. A small libevent loop: signals and the
 * watchdog (core/daemon.c), a 200 ms debounced rtnetlink and nftables watch
 * (core/watch.c) that restores what a link flap or an operator removed,
 * SIGHUP reload, sd_notify. The setup is in back_setup.c and
 * back_recover.c, the control socket's answers in back_ctl.c.
 */
#include <arpa/inet.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/back.h"
#include "core/back_int.h"
#include "core/back_slot.h"
#include "core/check.h"
#include "core/ctl.h"
#include "core/json.h"
#include "core/log.h"
#include "core/notify.h"
#include "core/reexec.h"
#include "core/watch.h"
#include "tun/nft.h"
#include "tun/nl_watch.h"
#include "tun/route.h"
#include "tun/sysctl.h"

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
back_reload(void *arg)
{
	struct back *b = arg;
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

/* Signals and the watchdog (core/daemon.c), and the debounce timer. */
static int
back_events(struct back *b)
{
	if (daemon_start(&b->daemon, b->base, back_reload, b,
	    "replies still routed") == -1)
		return -1;
	if ((b->debounce = evtimer_new(b->base, back_reconcile, b)) == NULL)
		return -1;
	return 0;
}

/* Free the loop's events and sockets. */
static void
back_free(struct back *b)
{
	back_watch_close(b);
	ctl_close(&b->ctl);
	daemon_free(&b->daemon);
	if (b->debounce != NULL)
		event_free(b->debounce);
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
	if ((restart = b->daemon.restart))
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
