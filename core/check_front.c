/*
 * check_front.c - the findings of `tunrelay check` for a [front]: first what
 * run needs to start (the TUN device, the interfaces, the public
 * addresses, the backends' routes, the engine settings; run stops on these
 * too), then the host's state: the source articles' troubleshooting list
 * (forwarding, rp_filter, MSS clamping, the tunnel up and the peer
 * answering) and more (MTUs, the running front's sysctls drifting). Ports
 * and policy rules: check_front_rules.c. It reads the host and never
 * changes it.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/check.h"
#include "core/check_front.h"
#include "core/check_host.h"
#include "core/check_net.h"
#include "core/front.h"
#include "core/front_host.h"
#include "core/front_kernel.h"
#include "core/tunio.h"
#include "tun/nl.h"
#include "tun/steer.h"
#include "tun/sysctl.h"

#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000	/* linux/if.h: the link has a carrier */
#endif

#define CHECK_PING_MS 1000	/* how long a peer has to answer a ping */

/* The name of the interface that holds address a of this host, or NULL. */
static const char *
check_front_local_dev(struct front *f, uint8_t family,
    const struct nat_addr *a, char *name, size_t len)
{
	struct nl_ifaddr *ad = NULL;
	struct nl_link l;
	size_t n = 0, i;
	char e[ERRLEN];
	int ifindex = 0;

	if (nl_addr_list(&f->nl, 0, conf_af(family), &ad, &n, e) == -1)
		return NULL;
	for (i = 0; i < n && ifindex == 0; i++)
		if (memcmp(ad[i].addr, a->b, family == 4 ? 4 : 16) == 0)
			ifindex = ad[i].ifindex;
	free(ad);
	if (ifindex == 0 || nl_link_get(&f->nl, NULL, ifindex, &l, e) == -1)
		return NULL;
	snprintf(name, len, "%s", l.name);
	return name;
}

/* Check that a backend address is reached through the tunnel interface. */
static int
check_front_backend_route(struct front *f, const struct conf_addr *b)
{
	struct nl_route rt;
	struct nl_link l;
	struct nat_addr to = b->addr;
	char err[ERRLEN], e[ERRLEN], a[64], dev[IFNAMSIZ + 1];
	const char *tif = f->conf.front.tunnel_interface;

	conf_ntop(b->family, &to, a, sizeof(a));
	if (check_front_local_dev(f, b->family, &to, dev, sizeof(dev)) != NULL)
		return check_say(&f->conf, CHECK_ERROR, "[front] backend = %s "
		    "is an address of this host (on %s); backend is the "
		    "backend's address at the far end of the tunnel (fix: "
		    "backend = the peer's tunnel address, see ip addr show %s "
		    "and the tunnel's peer configuration)", a, dev,
		    tif != NULL ? tif : dev);
	if (front_egress(f, b->family, &to, &rt, err) == -1)
		return check_say(&f->conf, CHECK_ERROR, "[front] backend = %s: "
		    "%s (fix: ip %sroute add %s dev %s)", a, err,
		    b->family == 6 ? "-6 " : "", a, tif != NULL ? tif :
		    "TUNNEL-INTERFACE");
	if (tif == NULL)
		return 0;
	if (nl_link_get(&f->nl, NULL, rt.oif, &l, e) == -1 ||
	    strcmp(l.name, tif) != 0)
		return check_say(&f->conf, CHECK_ERROR, "[front] backend = %s "
		    "is reached through %s, not tunnel_interface %s (fix: ip "
		    "%sroute add %s dev %s, or give %s an address in the "
		    "backend's subnet)", a, l.name[0] != '\0' ? l.name : "?",
		    tif, b->family == 6 ? "-6 " : "", a, tif, tif);
	return 0;
}

/* Check that one configured interface exists. */
static int
check_front_link_exists(struct front *f, const char *key, const char *name)
{
	struct nl_link l;
	char e[ERRLEN];

	if (nl_link_get(&f->nl, name, 0, &l, e) == 0)
		return 0;
	return check_say(&f->conf, CHECK_ERROR, "%s %s: %s (fix: create it or "
	    "bring it up first, e.g. ip link show; or name an existing "
	    "interface in %s)", key, name, e, key);
}

/* Every configured interface, each problem reported. */
static int
check_front_links_exist(struct front *f)
{
	const struct conf_front *cf = &f->conf.front;
	size_t i;
	int bad;

	bad = check_front_link_exists(f, "[front] public_interface",
	    cf->public_interface);
	if (cf->tunnel_interface != NULL)
		bad += check_front_link_exists(f, "[front] tunnel_interface",
		    cf->tunnel_interface);
	for (i = 0; i < cf->nhairpin; i++)
		bad += check_front_link_exists(f, "[hairpin] interfaces",
		    cf->hairpin[i]);
	return bad;
}

/* The public interface's addresses, "198.51.100.1, 2001:db8::1". */
static void
check_front_pub_list(const struct front *f, char *buf, size_t len)
{
	char a[64];
	size_t i, o = 0;
	int n;

	buf[0] = '\0';
	for (i = 0; i < f->host.npub_all; i++) {
		n = snprintf(buf + o, len - o, "%s%s", i ? ", " : "",
		    conf_ntop(f->host.pub_all_family[i], &f->host.pub_all[i],
		    a, sizeof(a)));
		if (n < 0 || (size_t)n >= len - o)
			return;
		o += (size_t)n;
	}
}

/* A forward's listen address must be one of the public interface's. */
static int
check_front_listen(struct front *f, const struct conf_forward *fw)
{
	const char *pub = f->conf.front.public_interface;
	char a[64], have[512];
	size_t i;

	if (!fw->match_dst)
		return 0;
	for (i = 0; i < f->host.npub_all; i++)
		if (f->host.pub_all_family[i] == fw->family &&
		    memcmp(&f->host.pub_all[i], &fw->listen_addr,
		    sizeof(fw->listen_addr)) == 0)
			return 0;
	conf_ntop(fw->family, &fw->listen_addr, a, sizeof(a));
	check_front_pub_list(f, have, sizeof(have));
	return check_say(&f->conf, CHECK_ERROR, "[forward.%s] listen: %s is "
	    "not an address of public_interface %s (it has %s): no client "
	    "packet to it reaches the relay (fix: ip %saddr add %s/%d dev %s, "
	    "or listen on one of its addresses, or on a port alone)", fw->name,
	    a, pub, have[0] ? have : "none", fw->family == 6 ? "-6 " : "", a,
	    fw->family == 6 ? 128 : 32, pub);
}

/* Forwards listening on port 65535 alone, which no rule can capture. */
static size_t
check_front_top_port(const struct conf *c)
{
	size_t i, n = 0;

	for (i = 0; i < c->front.nforward; i++)
		if (c->front.forward[i].listen_lo == 65535)
			n += (size_t)check_say(c, CHECK_ERROR, "[forward.%s] "
			    "listen = 65535: Linux's rule port ranges end at "
			    "65534, so port 65535 cannot be captured (fix: listen "
			    "on another port)", c->front.forward[i].name);
	return n;
}

/* The host checks that need the links: addresses, routes, settings. */
static int
check_front_host(struct front *f)
{
	const struct conf *c = &f->conf;
	char err[ERRLEN];
	size_t i;
	int bad = 0;

	if (front_host(f, err) == -1)
		return check_say(c, CHECK_ERROR, "[front] %s (fix: ip addr add "
		    "ADDRESS/PREFIX dev %s; the relay answers on the public "
		    "interface's global addresses)", err,
		    c->front.public_interface);
	for (i = 0; i < c->front.nforward; i++)
		bad += check_front_listen(f, &c->front.forward[i]);
	for (i = 0; i < c->front.nbackends; i++)
		bad += check_front_backend_route(f, &c->front.backends[i].a);
	if (front_settings(f, &f->set, &f->rules, err) == -1)
		bad += check_say(c, CHECK_ERROR, "%s", err);
	else if (check_front_full_nat(&f->conf.front) && f->set.nat_port_lo <= f->host.eph_hi &&
	    f->set.nat_port_hi >= f->host.eph_lo)
		bad += check_say(c, CHECK_ERROR, "[front] nat_ports %u-%u overlap "
		    "the kernel's ephemeral ports %d-%d (fix: choose nat_ports "
		    "outside them, or change net.ipv4.ip_local_port_range)",
		    f->set.nat_port_lo, f->set.nat_port_hi, f->host.eph_lo,
		    f->host.eph_hi);
	return bad;
}

/* What run needs of the host for a front config; the number of errors. */
static int
check_front_start(const struct conf *c)
{
	struct front f;
	char e[ERRLEN];
	int bad = 0, links;

	memset(&f, 0, sizeof(f));
	f.conf = *c;
	if (access("/dev/net/tun", R_OK | W_OK) == -1)
		bad += check_say(c, CHECK_ERROR, "/dev/net/tun: %s (fix: "
		    "modprobe tun, or give the container the device)",
		    strerror(errno));
	if (nl_open(&f.nl, e) == -1)
		return bad + check_say(c, CHECK_ERROR, "netlink: %s", e);
	/* every missing interface is named, then what needs them all */
	links = check_front_links_exist(&f);
	bad += links;
	if (links == 0)
		bad += check_front_host(&f);
	bad += (int)check_front_top_port(c);
	free(f.rules);
	nl_close(&f.nl);
	return bad;
}

/* The address families the front relays. */
static void
check_families(struct check_front *k)
{
	size_t i;

	for (i = 0; i < k->cf->nbackend; i++)
		k->fam[k->cf->backend[i].family == 6] = true;
	for (i = 0; i < k->cf->nforward; i++)
		k->fam[k->cf->forward[i].family == 6] = true;
}

/* The tunnel interface is up, has a carrier, and an MTU IPv6 can use. */
static int
check_tunnel(struct check_front *k)
{
	const char *n = k->tun.name;
	int bad = 0;

	if (!(k->tun.flags & IFF_UP))
		return check_say(k->c, CHECK_ERROR, "[front] tunnel_interface "
		    "%s is down (fix: ip link set %s up)", n, n);
	if (!(k->tun.flags & IFF_LOWER_UP))
		bad += check_say(k->c, CHECK_ERROR, "[front] tunnel_interface "
		    "%s is up but has no carrier: the tunnel is not connected "
		    "(fix: bring the tunnel up at both ends; check its state "
		    "with ip link show %s, or wg show %s for WireGuard)", n, n,
		    n);
	if (k->fam[1] && k->tun.mtu < 1280)
		bad += check_say(k->c, CHECK_ERROR, "[front] tunnel_interface "
		    "%s has MTU %u, below IPv6's minimum of 1280, and IPv6 is "
		    "relayed (fix: ip link set %s mtu 1280, or relay IPv4 only)",
		    n, k->tun.mtu, n);
	return bad;
}

/* Whether a packet read from a raw socket is our echo reply from the peer. */
static bool
check_is_reply(int family, const uint8_t *p, ssize_t n, uint16_t id)
{
	const struct icmphdr *ic;
	size_t hl;

	if (family == AF_INET6)
		return n >= 8 && p[0] == ICMP6_ECHO_REPLY &&
		    memcmp(p + 4, &id, 2) == 0;
	if (n < 20 || (size_t)n < (hl = (size_t)(p[0] & 0xf) * 4) + 8)
		return false;
	ic = (const struct icmphdr *)(p + hl);
	return ic->type == ICMP_ECHOREPLY && ic->un.echo.id == id;
}

/* Milliseconds of the monotonic clock. */
static long long
check_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Ping a peer once and wait up to CHECK_PING_MS for the answer: 1 answered,
 * 0 silent, -1 could not ping (no raw socket).
 */
static int
check_ping(const struct conf_addr *a)
{
	struct sockaddr_storage ss;
	uint8_t pkt[64], buf[1500];
	struct icmphdr *ic = (struct icmphdr *)pkt;
	int family = a->family == 4 ? AF_INET : AF_INET6, fd, got = 0;
	uint16_t id = htons((uint16_t)getpid());
	long long end = check_monotonic_ms() + CHECK_PING_MS, left;
	struct pollfd p;
	socklen_t sl;
	ssize_t n;

	fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, family == AF_INET ?
	    IPPROTO_ICMP : IPPROTO_ICMPV6);
	if (fd == -1)
		return -1;
	memset(&ss, 0, sizeof(ss));
	memset(pkt, 0, sizeof(pkt));
	ic->type = family == AF_INET ? ICMP_ECHO : ICMP6_ECHO_REQUEST;
	ic->un.echo.id = id;
	ic->un.echo.sequence = htons(1);
	memcpy(pkt + 8, "tunrelay check", 14);
	if (family == AF_INET) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		memcpy(&((struct sockaddr_in *)&ss)->sin_addr, a->addr.b, 4);
		ic->checksum = htons(nat_checksum(pkt, sizeof(pkt)));
		sl = sizeof(struct sockaddr_in);
	} else {
		/* the kernel fills in the ICMPv6 checksum */
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		memcpy(&((struct sockaddr_in6 *)&ss)->sin6_addr, a->addr.b, 16);
		sl = sizeof(struct sockaddr_in6);
	}
	if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&ss, sl) == -1) {
		close(fd);
		return 0;
	}
	p.fd = fd;
	p.events = POLLIN;
	while (!got && (left = end - check_monotonic_ms()) > 0 && poll(&p, 1,
	    (int)left) > 0) {
		n = recv(fd, buf, sizeof(buf), 0);
		got = n > 0 && check_is_reply(family, buf, n, id);
	}
	close(fd);
	return got;
}

/* Each backend answers a ping (keep-client-ip: "ping 10.22.22.1" from the front). */
static void
check_backends(struct check_front *k)
{
	char a[INET6_ADDRSTRLEN];
	size_t i;
	int r;

	for (i = 0; i < k->cf->nbackends; i++) {
		const struct conf_addr *b = &k->cf->backends[i].a;

		conf_addr_str(b, a, sizeof(a));
		r = check_ping(b);
		if (r == -1) {
			check_say(k->c, CHECK_NOTE, "cannot ping backend %s "
			    "(no raw socket: run check as root to test it)", a);
			return;
		}
		if (r == 0)
			check_say(k->c, CHECK_WARNING, "backend %s did not "
			    "answer a ping within %d ms: the tunnel may be down "
			    "at the other end, or the backend drops ICMP echo "
			    "(test: ping -c 3 %s; on the backend: ip addr show; "
			    "nft list ruleset)", a, CHECK_PING_MS, a);
	}
}

/* ip_forward: tunrelay run turns it on; a running front needs it on. */
static int
check_forwarding(struct check_front *k)
{
	static const char *const key[2] = {
		"net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"
	};
	char se[ERRLEN];
	int i, v, bad = 0;

	for (i = 0; i < 2; i++) {
		if (!k->fam[i] || sysctl_forwarding_get(i ? AF_INET6 : AF_INET,
		    &v, se) == -1 || v != 0)
			continue;
		if (k->running)
			bad += check_say(k->c, CHECK_ERROR, "%s is 0 while "
			    "tunrelay runs: nothing is relayed (fix: sysctl -w "
			    "%s=1; to keep it across reboots: echo '%s = 1' > "
			    "/etc/sysctl.d/90-tunrelay.conf)", key[i], key[i],
			    key[i]);
		else
			check_say(k->c, CHECK_NOTE, "%s is 0; tunrelay run "
			    "sets it to 1 (to keep it across reboots: echo "
			    "'%s = 1' > /etc/sysctl.d/90-tunrelay.conf)", key[i],
			    key[i]);
	}
	return bad;
}

/*
 * proxy_ndp: with IPv6 relayed, run turns it on so that ICMPv6 to the
 * front's addresses can be captured (echo, packet too big) while neighbour
 * discovery stays with the host; where it cannot (a read-only /proc/sys),
 * run only warns, and so does check. A running front needs proxy entries.
 */
static void
check_proxy_ndp(struct check_front *k)
{
	static const char key[] = "/proc/sys/net/ipv6/conf/all/proxy_ndp";
	char v = '0';
	FILE *fp;

	if (!k->fam[1])
		return;
	if ((fp = fopen(key, "r")) != NULL) {
		if (fread(&v, 1, 1, fp) != 1)
			v = '0';
		fclose(fp);
	}
	if (v == '1' || access(key, W_OK) == 0)
		return;
	check_say(k->c, CHECK_WARNING, "%s is %c and not writable (%s): ICMPv6 "
	    "to the front's addresses (IPv6 echo, packet too big) stays with "
	    "the host (fix: set it to 1 before tunrelay starts)", key, v,
	    strerror(errno));
}

/*
 * rp_filter: the TUN devices have no address, so any reverse-path check on
 * them drops every relayed packet. run sets them (and all) to 0.
 */
static int
check_rp_filter(struct check_front *k)
{
	char se[ERRLEN];
	int all, v, i, bad = 0;

	if (!k->fam[0] || sysctl_rp_filter_get("all", &all, se) == -1)
		return 0;
	if (!k->running) {
		if (all != 0)
			check_say(k->c, CHECK_NOTE, "net.ipv4.conf.all.rp_filter "
			    "is %d; tunrelay run copies it onto each interface "
			    "and sets all to 0, so that its TUN devices do no "
			    "reverse-path check", all);
		return 0;
	}
	if (all != 0)
		bad += check_say(k->c, CHECK_ERROR, "net.ipv4.conf.all.rp_filter "
		    "is %d while tunrelay runs: the kernel drops relayed packets "
		    "on its TUN devices (fix: sysctl -w net.ipv4.conf.all."
		    "rp_filter=0, after setting the value you want on each "
		    "interface, e.g. sysctl -w net.ipv4.conf.%s.rp_filter=%d)",
		    all, k->cf->public_interface, all);
	for (i = 0; i < NAT_SIDE_MAX; i++) {
		if (sysctl_rp_filter_get(front_devname[i], &v, se) == -1 || v == 0)
			continue;
		bad += check_say(k->c, CHECK_ERROR, "net.ipv4.conf.%s.rp_filter "
		    "is %d: the kernel drops the packets tunrelay relays "
		    "through %s (fix: sysctl -w net.ipv4.conf.%s.rp_filter=0)",
		    front_devname[i], v, front_devname[i], front_devname[i]);
	}
	return bad;
}

/* MSS clamping against the tunnel's MTU. */
static void
check_mss(struct check_front *k)
{
	unsigned int pm = k->pub.mtu, tm = k->tun.mtu;
	unsigned int room = tm > 60 ? tm - (k->fam[1] ? 60 : 40) : 0;

	if (k->cf->mss_mode == CONF_MSS_OFF && tm < pm)
		check_say(k->c, CHECK_WARNING, "mss_clamp = off and the tunnel "
		    "%s (MTU %u) is smaller than %s (MTU %u): TCP segments sized "
		    "for the public side do not fit the tunnel, and connections "
		    "stall once data flows (fix: mss_clamp = pmtu)",
		    k->tun.name, tm, k->pub.name, pm);
	if (k->cf->mss_mode == CONF_MSS_FIXED && k->cf->mss > room)
		check_say(k->c, CHECK_WARNING, "mss_clamp = %u does not fit the "
		    "tunnel %s (MTU %u leaves %u bytes for TCP data%s) (fix: "
		    "mss_clamp = pmtu, or mss_clamp = %u)", k->cf->mss,
		    k->tun.name, tm, room, k->fam[1] ? " over IPv6" : "", room);
}

/* The tunnel's MTU against the public interface's. */
static void
check_mtu(struct check_front *k)
{
	if (k->tun.mtu >= k->pub.mtu || k->cf->mss_mode == CONF_MSS_OFF)
		return;
	check_say(k->c, CHECK_NOTE, "the tunnel %s (MTU %u) is smaller than "
	    "%s (MTU %u): TCP is clamped (mss_clamp); UDP datagrams and pings "
	    "over %u bytes marked don't-fragment are answered with "
	    "\"fragmentation needed\" from the address they were sent to, "
	    "and senders that ignore it lose them (to avoid the smaller path "
	    "MTU where the tunnel allows: ip link set %s mtu %u)",
	    k->tun.name, k->tun.mtu, k->pub.name, k->pub.mtu, k->tun.mtu,
	    k->tun.name, k->pub.mtu);
}

/* The interfaces whose traffic is a front's. */
static void
check_front_ifs(const struct conf_front *cf, struct nft_read_ifs *ifs)
{
	size_t i;

	ifs->n = 0;
	ifs->names[ifs->n++] = cf->public_interface;
	if (cf->tunnel_interface != NULL)
		ifs->names[ifs->n++] = cf->tunnel_interface;
	for (i = 0; i < cf->nhairpin && ifs->n < 13; i++)
		ifs->names[ifs->n++] = cf->hairpin[i];
	for (i = 0; i < NAT_SIDE_MAX; i++)
		ifs->names[ifs->n++] = front_devname[i];
}

/* Read the links a front uses; false when the public one is missing. */
static bool
check_read_links(struct check_front *k)
{
	char e[ERRLEN], se[ERRLEN];

	k->has_pub = nl_link_get(&k->nl, k->cf->public_interface, 0, &k->pub,
	    e) == 0;
	k->has_tun = k->cf->tunnel_interface != NULL && nl_link_get(&k->nl,
	    k->cf->tunnel_interface, 0, &k->tun, e) == 0;
	if (sysctl_local_port_range(&k->eph_lo, &k->eph_hi, se) == -1) {
		k->eph_lo = 32768;
		k->eph_hi = 60999;
	}
	return k->has_pub;
}

/* Which TUN I/O path `run` takes here: io_uring, or read/write and why. */
static void
check_tun_io(const struct conf *c)
{
	char why[ERRLEN];

	if (c->front.tun_io_rw)
		check_say(c, CHECK_NOTE, "TUN I/O: read/write, one system call "
		    "per packet each way (tun_io = readwrite)");
	else if (tunio_probe(why) == -1)
		check_say(c, CHECK_NOTE, "TUN I/O: read/write, one system call "
		    "per packet each way: io_uring is unavailable (%s)", why);
	else
		check_say(c, CHECK_NOTE, "TUN I/O: io_uring, reads and writes "
		    "batched (tun_io = readwrite turns it off)");
}

/*
 * How packets will reach their engine shard's queue: eBPF steering, or the
 * kernel's own spreading and why (a note; run falls back the same way).
 */
static void
check_steer(const struct conf *c)
{
	char why[ERRLEN];

	if (front_queues(&c->front) < 2 || c->front.shards == 1)
		check_say(c, CHECK_NOTE, "engine: one shard behind one lock "
		    "(%s)", c->front.shards == 1 ? "shards = 1" : "one queue");
	else if (steer_probe(why) == -1)
		check_say(c, CHECK_NOTE, "TUN queue steering: the kernel's own "
		    "spreading by flow hash, so most packets cross to another "
		    "queue's engine shard: eBPF steering is unavailable (%s)",
		    why);
	else
		check_say(c, CHECK_NOTE, "TUN queue steering: eBPF is allowed "
		    "here: with one engine shard per queue, each packet is read "
		    "by the queue of its shard (the start log says whether the "
		    "engine runs as shards)");
}

/* The host findings for a front config (beyond what run needs). */
static int
check_front_findings(const struct conf *c)
{
	struct check_front k;
	struct nft_read_ifs ifs;
	char e[ERRLEN];
	int bad = 0;

	memset(&k, 0, sizeof(k));
	k.c = c;
	k.cf = &c->front;
	k.running = check_host_running("front");
	check_families(&k);
	if (k.running)
		check_say(c, CHECK_NOTE, "a tunrelay front runs in this network "
		    "namespace: its rules and settings are checked too");
	if (nl_open(&k.nl, e) == -1)
		return check_say(c, CHECK_ERROR, "netlink: %s", e);
	if (check_read_links(&k)) {
		if (k.has_tun) {
			bad += check_tunnel(&k);
			check_mss(&k);
			check_mtu(&k);
		}
		bad += check_forwarding(&k);
		check_proxy_ndp(&k);
		bad += check_rp_filter(&k);
		bad += check_front_rules(&k);
		check_front_ports(&k);
		check_front_listeners(&k);
	}
	if (k.has_tun && (k.tun.flags & IFF_LOWER_UP))
		check_backends(&k);
	check_tun_io(c);
	check_steer(c);
	check_front_ifs(k.cf, &ifs);
	bad += check_net_netfilter(c, &ifs, true);
	check_net_conntrack(c);
	nl_close(&k.nl);
	return bad;
}

/* Findings for a front config as far as scope says; the number of errors. */
int
check_front(const struct conf *c, enum check_scope scope)
{
	int bad;

	bad = check_front_start(c);
	if (scope == CHECK_SCOPE_ALL)
		bad += check_front_findings(c);
	return bad;
}
