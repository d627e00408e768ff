/*
 * front_kernel.c - what the front puts in the kernel: its TUN devices (or
 * those a restart hands over), their routes and policy rules, proxy
 * neighbour entries and the sysctls it needs.
 */
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/front.h"
#include "core/front_host.h"
#include "core/front_kernel.h"
#include "core/log.h"
#include "core/reexec.h"
#include "tun/ndp.h"
#include "tun/steer.h"
#include "tun/sysctl.h"

const char *const front_devname[NAT_SIDE_MAX] = {
	"trl-pub", "trl-in", "trl-lan"
};

/* Log a routing change. */
static void
front_log_route_change(void *arg, const char *msg)
{
	(void)arg;
	log_info("%s", msg);
}

/*
 * Each table also gets a blackhole default below the TUN route. While the
 * relay is down between a crash and its restart its TUN devices are gone
 * with their routes, and the captured traffic would otherwise fall through
 * to the host: the host's stack would answer clients with resets (nothing
 * listens there) and route the backend's replies to them untranslated. Held
 * in the blackhole, the packets are lost instead, and the endpoints'
 * retransmissions reach the restarted relay, which picks the flows up.
 */
static void
front_hold_routes(struct front_side *sd)
{
	int i;

	for (i = 0; i < 2; i++) {
		memset(&sd->hold[i], 0, sizeof(sd->hold[i]));
		sd->hold[i].family = i == 0 ? AF_INET : AF_INET6;
		sd->hold[i].type = RTN_BLACKHOLE;
		sd->hold[i].table = sd->spec.table;
		sd->hold[i].metric = FRONT_HOLD_METRIC;
	}
	sd->spec.routes = sd->hold;
	sd->spec.nroutes = 2;
}

/* The route spec of a side (scope only when rules is false). */
void
front_spec(struct front_side *sd, enum nat_side side, int ifindex)
{
	struct route_spec *s = &sd->spec;

	memset(s, 0, sizeof(*s));
	s->tun_ifindex = ifindex;
	s->table = FRONT_TABLE_BASE + (uint32_t)side;
	s->prio_lo = FRONT_PRIO_BASE + (uint32_t)side * 100;
	s->prio_hi = s->prio_lo + 99;
	s->local_prio = side == NAT_SIDE_PUBLIC ? FRONT_PRIO_LOCAL : 0;
	s->protocol = NL_PROTO_TUNRELAY;
	s->rules = sd->rules;
	s->nrules = sd->nrules;
	s->note = front_log_route_change;
	front_hold_routes(sd);
}

/*
 * The kernel applies max(all, interface) for rp_filter, so a non-zero "all"
 * would override the TUN's 0. Move its value onto every interface that has a
 * lower one (their filtering stays the same), then set "all" to 0.
 */
static int
front_rp_filter_all(char *err)
{
	char se[ERRLEN];
	struct if_nameindex *ifs, *i;
	int all, v, old;

	if (sysctl_rp_filter_get("all", &all, err) == -1) {
		err_prefix(err, "rp_filter");
		return -1;
	}
	if (all == 0)
		return 0;
	if ((ifs = if_nameindex()) == NULL) {
		snprintf(err, ERRLEN, "if_nameindex: %s", strerror(errno));
		return -1;
	}
	for (i = ifs; i->if_index != 0; i++) {
		if (strncmp(i->if_name, "trl-", 4) == 0 ||
		    sysctl_rp_filter_get(i->if_name, &v, se) == -1 || v >= all)
			continue;
		if (sysctl_rp_filter(i->if_name, all, &old, se) == -1)
			log_warnx("rp_filter of %s: %s", i->if_name, se);
	}
	if_freenameindex(ifs);
	/* interfaces made later (container veths) start from "default" */
	if (sysctl_rp_filter_get("default", &v, se) == 0 && v < all)
		sysctl_rp_filter("default", all, &old, se);
	if (sysctl_rp_filter("all", 0, &old, err) == -1) {
		err_prefix(err, "rp_filter");
		return -1;
	}
	log_info("net.ipv4.conf.all.rp_filter was %d: set it on each interface "
	    "instead and set all to 0, so that the TUN devices need none", all);
	return 0;
}

/*
 * Take over the side's device from the image that executed this one (a
 * restart): the same device, its routes and the packets queued in it while
 * the binary was executed again. 0 when taken over.
 */
static int
front_inherit_dev(struct front_side *sd, const struct tundev_opts *o)
{
	int fds[TUNDEV_MAXQUEUES];
	char e[ERRLEN];
	unsigned int n;

	n = reexec_take_tun(o->name, fds, TUNDEV_MAXQUEUES);
	if (n == 0)
		return -1;
	if (tundev_inherit(&sd->dev, o, fds, n, e) == -1) {
		log_warnx("TUN device %s not taken over (%s): opening it again",
		    o->name, e);
		return -1;
	}
	log_info("took over %s from the previous image (%u queues handed "
	    "over)", sd->dev.name, n);
	return 0;
}

/* Open a side's TUN device and set the sysctls it needs. */
int
front_open_dev(struct front *f, enum nat_side side, bool wait, char *err)
{
	struct front_side *sd = &f->side[side];
	struct tundev_opts o;
	char off[64];
	int old, tries;

	memset(&o, 0, sizeof(o));
	o.name = front_devname[side];
	o.vnet_hdr = true;
	o.queues = f->nqueues;
	o.mtu = f->host.pub_mtu > f->host.tun_mtu ? f->host.pub_mtu :
	    f->host.tun_mtu;
	if (front_inherit_dev(sd, &o) == 0)
		goto opened;
	/* a killed instance's device goes away asynchronously: at start, wait
	 * for it (never in a reload, the packet loop would stall) */
	for (tries = 0; tundev_open(&sd->dev, &o, err) == -1; tries++) {
		if (!wait || tries == 20) {
			err_prefix(err, "TUN device %s", o.name);
			return -1;
		}
		usleep(100 * 1000);
	}
opened:
	/*
	 * rewritten packets re-enter from the TUN with a remote or the relay's
	 * own source; the TUN has no IPv4 address, and the kernel's
	 * reverse-path check (even loose) rejects every source on such a
	 * device: no check there, local sources accepted
	 */
	if (front_rp_filter_all(err) == -1) {
		tundev_close(&sd->dev);
		return -1;
	}
	if (sysctl_rp_filter(sd->dev.name, 0, &old, err) == -1 ||
	    sysctl_accept_local(sd->dev.name, 1, &old, err) == -1) {
		err_prefix(err, "%s", sd->dev.name);
		tundev_close(&sd->dev);
		return -1;
	}
	log_info("opened %s (offloads: %s, queues: %u)", sd->dev.name,
	    tundev_offload_str(sd->dev.offloads, off, sizeof(off)),
	    sd->dev.nfds);
	return 0;
}

/* Turn on forwarding for the families in use, saying so. */
int
front_forwarding(const struct front *f, char *err)
{
	bool fam[2] = { false, false };
	size_t i;
	int old, fi;

	for (i = 0; i < f->set.nrules; i++)
		fam[front_family_index(f->rules[i].family)] = true;
	for (fi = 0; fi < 2; fi++) {
		if (!fam[fi])
			continue;
		if (sysctl_forwarding(fi ? AF_INET6 : AF_INET, 1, &old, err) == -1) {
			err_prefix(err, "forwarding");
			return -1;
		}
		if (old != 1)
			log_info("enabled IPv%d forwarding (was %d)", fi ? 6 : 4, old);
	}
	return 0;
}

/*
 * IPv6 neighbour discovery to the front's own addresses must stay with the
 * host while ICMPv6 to them is captured (tun/ndp.h): proxy_ndp on, when any
 * rule is IPv6. Without it (a read-only /proc/sys), ICMPv6 to those
 * addresses is not captured at all.
 */
void
front_ndp_on(struct front *f)
{
	char se[ERRLEN];
	size_t i;
	int old;

	f->icmp6 = false;
	for (i = 0; i < f->set.nrules && !f->icmp6; i++)
		f->icmp6 = f->rules[i].family == 6 &&
		    f->rules[i].action == NAT_RULE_DNAT;
	if (!f->icmp6)
		return;
	if (sysctl_proxy_ndp(1, &old, se) == -1) {
		log_warnx("%s: ICMPv6 to the front's addresses stays with the "
		    "host (no IPv6 ping to targets, no packet too big relayed)",
		    se);
		f->icmp6 = false;
	} else if (old != 1)
		log_info("enabled net.ipv6.conf.all.proxy_ndp (was %d): "
		    "neighbour discovery stays with the host", old);
}

/*
 * The proxy entries the rules need: one per captured ICMPv6 destination of
 * the front's own (a host prefix) on the interface it is captured on.
 */
static size_t
front_proxies(const struct front *f, struct nl_proxy *out, size_t max)
{
	const struct nl_rule *r;
	size_t n = 0, i;
	unsigned int ifx;
	int s;

	for (s = 0; s < NAT_SIDE_MAX; s++) {
		for (i = 0; i < f->side[s].nrules && n < max; i++) {
			r = &f->side[s].rules[i];
			if (r->family != AF_INET6 || r->ip_proto != IPPROTO_ICMPV6 ||
			    r->action != 0 || r->dst.len != 128 ||
			    r->table != FRONT_TABLE_BASE + (uint32_t)s ||
			    (ifx = if_nametoindex(r->iif)) == 0)
				continue;
			memset(&out[n], 0, sizeof(out[n]));
			out[n].family = AF_INET6;
			out[n].ifindex = (int)ifx;
			memcpy(out[n].addr, r->dst.addr, 16);
			n++;
		}
	}
	return n;
}

/*
 * Install the proxy entries and rules of every side (entries first, so
 * that neighbour discovery never meets a capture rule alone); on error take
 * back what was added. Entries no rule needs go last.
 */
int
front_apply(struct front *f, char *err)
{
	struct nl_proxy px[NAT_SIDE_MAX * FRONT_MAX_RULES];
	struct route_result res;
	char e[ERRLEN];
	size_t npx;
	int i;

	npx = front_proxies(f, px, sizeof(px) / sizeof(px[0]));
	if (ndp_sync(&f->nl, px, npx, false, front_log_route_change, NULL,
	    err) == -1) {
		err_prefix(err, "proxy neighbour entries");
		return -1;
	}
	for (i = 0; i < NAT_SIDE_MAX; i++) {
		front_spec(&f->side[i], (enum nat_side)i, f->side[i].dev.ifindex);
		if (!f->side[i].used)
			continue;
		if (route_apply(&f->nl, &f->side[i].spec, &res, err) == -1) {
			err_prefix(err, "routing for %s", front_devname[i]);
			return -1;
		}
	}
	if (ndp_sync(&f->nl, px, npx, true, front_log_route_change, NULL,
	    e) == -1)
		log_warnx("removing proxy neighbour entries: %s", e);
	return 0;
}

/* Remove our rules and routes of every side (scope only: no config needed). */
int
front_unroute(struct nl *nl, char *err)
{
	struct front_side sd;
	struct route_result res;
	char e[ERRLEN];		/* a success may leave a note there: not err */
	int i, rc = 0;

	for (i = NAT_SIDE_MAX - 1; i >= 0; i--) {
		memset(&sd, 0, sizeof(sd));
		front_spec(&sd, (enum nat_side)i, 0);
		sd.spec.local_prio = FRONT_PRIO_LOCAL;
		if (route_remove(nl, &sd.spec, &res, e) == -1) {
			memcpy(err, e, ERRLEN);
			rc = -1;
		}
	}
	/* after the rules: no capture rule is left without its entry */
	if (ndp_remove(nl, front_log_route_change, NULL, e) == -1) {
		memcpy(err, e, ERRLEN);
		err_prefix(err, "proxy neighbour entries");
		rc = -1;
	}
	return rc;
}

/*
 * At start, remove an earlier instance's rules and routes of the sides this
 * one does not use. The sides it uses are reconciled by front_apply, which
 * adds before it removes: a packet that arrives in between meets the old
 * rules (and the blackhole route of a side whose device is gone), never the
 * host's own stack, which would answer a relayed connection with a reset.
 */
void
front_unroute_unused(struct front *f)
{
	struct front_side sd;
	struct route_result res;
	char e[ERRLEN];
	int i;

	for (i = NAT_SIDE_MAX - 1; i >= 0; i--) {
		if (f->side[i].used)
			continue;
		/* the moved local rule belongs to the public side's scope */
		memset(&sd, 0, sizeof(sd));
		front_spec(&sd, (enum nat_side)i, 0);
		if (route_remove(&f->nl, &sd.spec, &res, e) == -1)
			log_warnx("removing leftover rules of %s: %s",
			    front_devname[i], e);
	}
}

/*
 * Ask the kernel to put each packet on the queue of its flow's shard
 * (tun/steer.c), on every device. Without it (eBPF refused here) the
 * kernel spreads packets by its own hash and most of them cross to
 * another queue's shard: still correct, only slower. Said once, and again
 * when it changes.
 */
void
front_steer(struct front *f)
{
	unsigned int n = engine_shards(f->eng);
	char err[ERRLEN], ne[ERRLEN];
	bool ok = true;
	int i;

	if (n < 2 || n != f->nqueues) {
		/* a device a restart handed over may carry the program of
		 * an image that had shards: the kernel's hash again */
		for (i = 0; i < NAT_SIDE_MAX; i++)
			if (f->side[i].dev.nfds > 1)
				(void)steer_detach(f->side[i].dev.fds[0], err);
		return;
	}
	for (i = 0; i < NAT_SIDE_MAX && ok; i++) {
		if (f->side[i].dev.nfds == 0)
			continue;
		if (steer_attach(f->side[i].dev.fds[0], (enum steer_side)i, n,
		    f->set.nat_port_lo, f->set.nat_port_hi, err) == -1) {
			err_prefix(err, "%s", front_devname[i]);
			ok = false;
		}
	}
	/* all or none: status says one way for every device */
	for (i = 0; i < NAT_SIDE_MAX && !ok; i++)
		if (f->side[i].dev.nfds > 0)
			(void)steer_detach(f->side[i].dev.fds[0], ne);
	if (ok && f->steer != FRONT_STEER_EBPF)
		log_info("queue steering: eBPF: the kernel puts both "
		    "directions of a flow on its shard's queue");
	else if (!ok && f->steer != FRONT_STEER_KERNEL)
		log_info("queue steering: the kernel's own hash (%s): "
		    "packets read on another queue than their shard's are "
		    "translated under that shard's lock", err);
	f->steer = ok ? FRONT_STEER_EBPF : FRONT_STEER_KERNEL;
}
