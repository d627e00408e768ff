/*
 * check.c - host findings of `tunrelay check`: the source articles'
 * troubleshooting list (forwarding, rp_filter, the SSH exception before the capture, MSS
 * clamping, the tunnel up and the peer answering, a forward chain that
 * drops) and more (MTUs, NAT rules left by an old script in nftables or
 * legacy iptables, port ranges that collide, the running front's own rules
 * and sysctls drifting). It reads the host and never changes it.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/fib_rules.h>
#include <linux/netfilter.h>
#include <linux/rtnetlink.h>

#include "core/back.h"
#include "core/check.h"
#include "core/check_nft.h"
#include "core/check_sock.h"
#include "core/json.h"
#include "core/log.h"
#include "core/front.h"
#include "core/tunio.h"
#include "tun/nl.h"
#include "tun/sysctl.h"

#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000	/* linux/if.h: the link has a carrier */
#endif

/* The TUN devices of a running front (core/front.c names them). */
static const char *const check_devs[NAT_SIDE_MAX] = {
	"trl-pub", "trl-in", "trl-lan"
};

/* What a front check looks at. */
struct check_front {
	const struct conf *c;
	const struct conf_front *cf;
	struct nl nl;
	bool running;		/* a front runs in this network namespace */
	bool fam[2];		/* IPv4, IPv6 relayed */
	struct nl_link pub, tun;
	bool has_pub, has_tun;
	int eph_lo, eph_hi;
};

/* Findings kept for check_json(). */
static struct {
	enum check_mode mode;
	char **msg;
	enum check_level *lvl;
	size_t n;
} check_kept;

/* Keep one finding's text; dropped quietly when memory runs out. */
static void
check_keep(enum check_level lvl, const char *msg)
{
	char **m;
	enum check_level *l;
	char *d;

	m = realloc(check_kept.msg, (check_kept.n + 1) * sizeof(*m));
	if (m != NULL)
		check_kept.msg = m;
	l = realloc(check_kept.lvl, (check_kept.n + 1) * sizeof(*l));
	if (l != NULL)
		check_kept.lvl = l;
	if (m == NULL || l == NULL || (d = strdup(msg)) == NULL)
		return;
	check_kept.msg[check_kept.n] = d;
	check_kept.lvl[check_kept.n++] = lvl;
}

/* Where findings go from now on. */
void
check_mode(enum check_mode mode)
{
	check_kept.mode = mode;
}

/* Print one finding, or keep it; 1 for an error, else 0. */
int
check_say(const struct conf *c, enum check_level lvl, const char *fmt, ...)
{
	static const char *const words[] = { "error: ", "warning: ", "note: " };
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (check_kept.mode == CHECK_MODE_KEEP)
		check_keep(lvl, msg);
	else if (check_kept.mode == CHECK_MODE_RUN) {
		if (lvl == CHECK_ERROR)
			log_msg(LOG_ERR, "%s: %s", c->path, msg);
	} else {
		/* errors go where the file's errors go; the rest to stdout */
		fprintf(lvl == CHECK_ERROR ? stderr : stdout, "%s: %s%s\n",
		    c->path, words[lvl], msg);
		fflush(lvl == CHECK_ERROR ? stderr : stdout);
	}
	return lvl == CHECK_ERROR;
}

/* Print {"config":..,"ok":..,"errors":N,"findings":[...]} and forget them. */
void
check_json(FILE *out, const char *path, bool ok)
{
	static const char *const words[] = { "error", "warning", "note" };
	size_t i, nerr = 0;

	for (i = 0; i < check_kept.n; i++)
		nerr += check_kept.lvl[i] == CHECK_ERROR;
	fprintf(out, "{\"config\":");
	json_str(out, path);
	fprintf(out, ",\"ok\":%s,\"errors\":%zu,\"findings\":[",
	    ok ? "true" : "false", nerr);
	for (i = 0; i < check_kept.n; i++) {
		fprintf(out, "%s{\"level\":\"%s\",\"message\":", i ? "," : "",
		    words[check_kept.lvl[i]]);
		json_str(out, check_kept.msg[i]);
		fprintf(out, "}");
		free(check_kept.msg[i]);
	}
	fprintf(out, "]}\n");
	free(check_kept.msg);
	free(check_kept.lvl);
	check_kept.msg = NULL;
	check_kept.lvl = NULL;
	check_kept.n = 0;
}

/*
 * Whether an instance of a role ("front", "back") runs in this network
 * namespace: its one-instance lock (an abstract socket, core/main.c) cannot
 * be bound.
 */
static bool
check_running(const char *role)
{
	struct sockaddr_un sun;
	int fd, rc, n;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	n = snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1, "tunrelay.%s",
	    role);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return false;
	rc = bind(fd, (struct sockaddr *)&sun, (socklen_t)(offsetof(struct
	    sockaddr_un, sun_path) + 1 + (size_t)n));
	close(fd);
	return rc == -1 && errno == EADDRINUSE;
}

/* Whether a front runs in this network namespace. */
static bool
check_front_running(void)
{
	return check_running("front");
}

/* Whether this process holds a capability (effective set). */
bool
check_cap(int bit)
{
	char line[256];
	unsigned long long caps;
	FILE *fp = fopen("/proc/self/status", "r");
	int ok = -1;

	if (fp == NULL)
		return geteuid() == 0;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "CapEff: %llx", &caps) == 1)
			ok = (int)((caps >> bit) & 1);
	fclose(fp);
	return ok == -1 ? geteuid() == 0 : ok == 1;
}

/* Whether this process is in group gid (primary or supplementary). */
static bool
check_in_group(gid_t gid)
{
	gid_t g[256];
	int n, i;

	if (getegid() == gid)
		return true;
	if ((n = getgroups(256, g)) == -1)
		return false;
	for (i = 0; i < n; i++)
		if (g[i] == gid)
			return true;
	return false;
}

/* control_group: it exists, and the relay may give its sockets to it. */
static int
check_start_group(const struct conf *c)
{
	const char *g = c->control_group;
	struct group *gr;

	if (g == NULL)
		return 0;
	if ((gr = getgrnam(g)) == NULL)
		return check_say(c, CHECK_ERROR, "control_group = %s: no such "
		    "group, so run cannot give the control socket to it (fix: "
		    "groupadd %s, or name an existing group: getent group)", g,
		    g);
	/* chown to a group needs CAP_CHOWN or membership (check runs as
	 * the user run runs as to see this) */
	if (!check_cap(0) && !check_in_group(gr->gr_gid))
		return check_say(c, CHECK_ERROR, "control_group = %s: this "
		    "user (uid %u) is not in the group and lacks CAP_CHOWN, so "
		    "run cannot give the control socket to it (fix: "
		    "SupplementaryGroups=%s in the unit, or usermod -aG %s "
		    "USER)", g, (unsigned int)geteuid(), g, g);
	return 0;
}

/* A Unix socket path run will bind: free or a stale socket, dir makeable. */
static int
check_start_sock(const struct conf *c, const char *what, const char *path,
    bool ours)
{
	struct sockaddr_un sun;
	struct stat st;
	char dir[sizeof(sun.sun_path)], up[sizeof(sun.sun_path)];
	int fd, rc;

	if (strlen(path) >= sizeof(sun.sun_path))
		return check_say(c, CHECK_ERROR, "%s %s: longer than %zu bytes "
		    "(fix: a shorter path)", what, path, sizeof(sun.sun_path) -
		    1);
	snprintf(dir, sizeof(dir), "%s", path);
	snprintf(up, sizeof(up), "%s", dirname(dir));
	if (stat(up, &st) == -1 && stat(dirname(up), &st) == -1)
		return check_say(c, CHECK_ERROR, "%s %s: neither its directory "
		    "nor the one above exists; run makes only the last one "
		    "(fix: mkdir -p %s)", what, path, dirname(strcpy(dir, path)));
	if (lstat(path, &st) == -1)
		return 0;
	if (!S_ISSOCK(st.st_mode))
		return check_say(c, CHECK_ERROR, "%s %s exists and is not a "
		    "socket (fix: remove it, or choose another path)", what,
		    path);
	if (ours)	/* the running instance's own socket */
		return 0;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (rc == 0)
		return check_say(c, CHECK_ERROR, "%s %s: another process "
		    "listens on it (fix: stop it, or choose another path)", what,
		    path);
	return 0;
}

/* The metrics TCP address: free, and an address of this host. */
static int
check_start_metrics(const struct conf *c, bool ours)
{
	const struct conf_metrics *m = &c->front.metrics;
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	char a[INET6_ADDRSTRLEN];
	int fd, rc, err, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (m->addr.family == 4) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(m->port);
		memcpy(&s4->sin_addr, m->addr.addr.b, 4);
	} else {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(m->port);
		memcpy(&s6->sin6_addr, m->addr.addr.b, 16);
	}
	inet_ntop(ss.ss_family, m->addr.addr.b, a, sizeof(a));
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	rc = bind(fd, (struct sockaddr *)&ss, m->addr.family == 4 ?
	    sizeof(*s4) : sizeof(*s6));
	err = errno;
	close(fd);
	if (rc == 0 || (ours && err == EADDRINUSE))
		return 0;
	return check_say(c, CHECK_ERROR, "[front] metrics %s%s%s:%u: %s (fix: %s)",
	    m->addr.family == 6 ? "[" : "", a, m->addr.family == 6 ? "]" : "",
	    m->port, strerror(err), err == EADDRINUSE ? "stop what listens "
	    "there (ss -ltnp), or choose another port" : "an address of this "
	    "host, or a port alone for 127.0.0.1");
}

/* Host problems that stop run before it is ready; the number of errors. */
int
check_start(const struct conf *c)
{
	bool front = c->role != CONF_ROLE_BACK;
	bool ours = check_running(front ? "front" : "back");
	int bad;

	bad = check_start_group(c);
	bad += check_start_sock(c, "control_socket", c->control_socket, ours);
	if (front && c->front.metrics.on && c->front.metrics.path != NULL)
		bad += check_start_sock(c, "[front] metrics", c->front.metrics.path,
		    ours);
	else if (front && c->front.metrics.on)
		bad += check_start_metrics(c, ours);
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

/* Internet checksum of an ICMP message. */
static uint16_t
check_csum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t s = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		s += (uint32_t)(b[len - 1] << 8);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return htons((uint16_t)~s);
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
check_ms(void)
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
	long long end = check_ms() + CHECK_PING_MS, left;
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
		ic->checksum = check_csum(pkt, sizeof(pkt));
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
	while (!got && (left = end - check_ms()) > 0 && poll(&p, 1,
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

		inet_ntop(b->family == 4 ? AF_INET : AF_INET6, b->addr.b, a,
		    sizeof(a));
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
	char se[SYSCTL_ERRLEN];
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
	char se[SYSCTL_ERRLEN];
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
		if (sysctl_rp_filter_get(check_devs[i], &v, se) == -1 || v == 0)
			continue;
		bad += check_say(k->c, CHECK_ERROR, "net.ipv4.conf.%s.rp_filter "
		    "is %d: the kernel drops the packets tunrelay relays "
		    "through %s (fix: sysctl -w net.ipv4.conf.%s.rp_filter=0)",
		    check_devs[i], v, check_devs[i], check_devs[i]);
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

/* Whether [lo, hi] and [a, b] overlap. */
static bool
check_overlap(int lo, int hi, int a, int b)
{
	return lo <= b && a <= hi;
}

/* An exclude item as written: "tcp/22", "udp/8000-8100". */
static const char *
check_ex_str(const struct conf_exclude *x, char *buf, size_t len)
{
	const char *p = x->protos == NAT_P_TCP ? "tcp" : "udp";

	if (x->port_lo == x->port_hi)
		snprintf(buf, len, "%s/%u", p, x->port_lo);
	else
		snprintf(buf, len, "%s/%u-%u", p, x->port_lo, x->port_hi);
	return buf;
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

/* Whether the config rewrites sources (full NAT or hairpin). */
static bool
check_full_nat(const struct conf_front *cf)
{
	size_t i;

	for (i = 0; i < cf->nforward; i++)
		if (cf->forward[i].source == NAT_SOURCE_RELAY)
			return true;
	return cf->nhairpin > 0;
}

/* Port ranges that collide with the kernel's ephemeral ports or nat_ports. */
static void
check_ports(struct check_front *k)
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
	for (i = 0; check_full_nat(cf) && i < cf->nexclude; i++)
		if (check_overlap(cf->exclude[i].port_lo, cf->exclude[i].port_hi,
		    cf->nat_port_lo, cf->nat_port_hi))
			check_say(k->c, CHECK_WARNING, "exclude %s overlaps "
			    "nat_ports %u-%u: full-NAT replies to those ports "
			    "stay with the host (fix: choose nat_ports outside "
			    "the excluded ports)", check_ex_str(
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
	char e[NL_ERRLEN];
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
check_sock_seen(const struct check_sock *s, size_t i)
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
static void
check_listeners(struct check_front *k)
{
	struct nat_addr pub[16];
	uint8_t fam[16];
	struct check_sock *s;
	char e[CHECK_SOCK_ERRLEN], who[96];
	size_t n, i, np;

	np = check_pub_addrs(k, pub, fam, 16);
	if (np == 0 || check_sock_list(&s, &n, e) == -1)
		return;
	for (i = 0; i < n; i++) {
		const char *p = s[i].proto == NAT_P_TCP ? "tcp" : "udp";

		if (check_sock_seen(s, i) || !check_sock_relayed(k->cf,
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
		    check_ex_str(&k->cf->exclude[i], ex, sizeof(ex)),
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
static int
check_rules(struct check_front *k)
{
	struct nl_rule *r;
	char e[NL_ERRLEN];
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

/* "nft delete rule ..." commands for the first handles of a chain. */
static void
check_nft_fix(const struct check_nft_chain *ch, char *buf, size_t len)
{
	size_t i, off = 0;
	int m;

	buf[0] = '\0';
	for (i = 0; i < ch->nat_rules && i < CHECK_NFT_HANDLES; i++) {
		m = snprintf(buf + off, len - off, "%snft delete rule %s %s %s "
		    "handle %llu", i ? "; " : "", check_nft_family(ch->family),
		    ch->table, ch->name, (unsigned long long)ch->handles[i]);
		if (m < 0 || (size_t)m >= len - off)
			return;
		off += (size_t)m;
	}
}

/* One nftables chain with NAT rules that touch the relay's traffic. */
static int
check_nft_nat(const struct conf *c, enum check_level lvl,
    const struct check_nft_chain *ch)
{
	char fix[512];

	check_nft_fix(ch, fix, sizeof(fix));
	return check_say(c, lvl, "nftables chain %s %s %s (%s%s) holds %zu "
	    "%s rule%s for the relay's interfaces or for all, left by an old "
	    "netfilter script? They rewrite packets before tunrelay sees them "
	    "or hide the client's address from the backend (inspect: nft -a "
	    "list chain %s %s %s; remove: %s%s)", check_nft_family(ch->family),
	    ch->table, ch->name, ch->base ? "hook " : "regular chain",
	    ch->base ? check_nft_hook(ch->hook) : "", ch->nat_rules, ch->verbs,
	    ch->nat_rules > 1 ? "s" : "", check_nft_family(ch->family),
	    ch->table, ch->name, fix, ch->nat_rules > CHECK_NFT_HANDLES ?
	    "; ..." : "");
}

/* A forward chain that drops by default (keep-client-ip: "FORWARD policy"). */
static void
check_nft_forward(const struct conf *c, const struct check_nft_chain *ch)
{
	const char *f = check_nft_family(ch->family);

	check_say(c, CHECK_WARNING, "nftables chain %s %s %s (hook forward) "
	    "drops by default; every relayed packet is forwarded twice, through "
	    "tunrelay's TUN devices, so the chain must accept them (fix: nft "
	    "insert rule %s %s %s iifname \"trl-*\" accept; nft insert rule %s "
	    "%s %s oifname \"trl-*\" accept)", f, ch->table, ch->name, f,
	    ch->table, ch->name, f, ch->table, ch->name);
}

/* Legacy iptables tables, as far as they can be seen. */
static void
check_xt(const struct conf *c, bool front)
{
	struct check_xt x[4];
	char e[CHECK_NFT_ERRLEN];
	const char *cmd;
	size_t n, i;

	if (check_xt_scan(x, 4, &n, e) == -1) {
		check_say(c, CHECK_NOTE, "%s; legacy iptables rules are not "
		    "checked", e);
		return;
	}
	for (i = 0; i < n; i++) {
		cmd = x[i].family == 4 ? "iptables-legacy" : "ip6tables-legacy";
		if (strcmp(x[i].table, "nat") == 0 && x[i].entries > 0)
			check_say(c, CHECK_WARNING, "the legacy iptables nat table "
			    "(IPv%d) holds %u entries (rules or chains); tunrelay cannot "
			    "tell which interfaces they match, and DNAT, SNAT or "
			    "MASQUERADE rules left by an old script would compete "
			    "with the relay (inspect: %s -t nat -S; remove: %s "
			    "-t nat -D CHAIN RULE-NUMBER, or %s -t nat -F to "
			    "remove them all)", x[i].family, x[i].entries, cmd,
			    cmd, cmd);
		if (front && x[i].forward_drop)
			check_say(c, CHECK_WARNING, "the legacy iptables FORWARD "
			    "policy is DROP; every relayed packet is forwarded "
			    "twice, through tunrelay's TUN devices (fix: %s -I "
			    "FORWARD -i trl-+ -j ACCEPT; %s -I FORWARD -o trl-+ "
			    "-j ACCEPT)", cmd, cmd);
	}
}

/* netfilter: NAT rules of an old script, forward chains that drop. */
static int
check_netfilter(const struct conf *c, const struct check_nft_ifs *ifs,
    bool front)
{
	struct check_nft_chain *ch;
	char e[CHECK_NFT_ERRLEN];
	size_t n, i;
	int bad = 0;

	if ((ch = calloc(CHECK_NFT_MAX_CHAINS, sizeof(*ch))) == NULL)
		return 0;
	if (check_nft_scan(ifs, ch, CHECK_NFT_MAX_CHAINS, &n, e) == -1) {
		check_say(c, CHECK_NOTE, "cannot read nftables (%s); NAT rules "
		    "of other tools are not checked", e);
		n = 0;
	}
	for (i = 0; i < n; i++) {
		if (ch[i].nat_rules > 0)
			bad += check_nft_nat(c, front ? CHECK_ERROR :
			    CHECK_WARNING, &ch[i]);
		if (front && ch[i].base && ch[i].hook == NF_INET_FORWARD &&
		    ch[i].drop_policy)
			check_nft_forward(c, &ch[i]);
	}
	free(ch);
	check_xt(c, front);
	return bad;
}

/* The kernel's connection table, when loaded, must not run full. */
static void
check_conntrack(const struct conf *c)
{
	char se[SYSCTL_ERRLEN];
	int count, max;

	if (sysctl_get_int("net/netfilter/nf_conntrack_count", &count, se) == -1 ||
	    sysctl_get_int("net/netfilter/nf_conntrack_max", &max, se) == -1 ||
	    max <= 0 || count < max / 10 * 8)
		return;
	check_say(c, CHECK_WARNING, "the kernel's conntrack table is %d%% "
	    "full (%d of %d); when it is full the kernel drops new "
	    "connections, relayed ones too (fix: sysctl -w "
	    "net.netfilter.nf_conntrack_max=%d, or remove the rules that "
	    "load conntrack if nothing needs it)", count * 100 / max, count,
	    max, max * 2);
}

/* The interfaces whose traffic is a front's. */
static void
check_front_ifs(const struct conf_front *cf, struct check_nft_ifs *ifs)
{
	size_t i;

	ifs->n = 0;
	ifs->names[ifs->n++] = cf->public_interface;
	if (cf->tunnel_interface != NULL)
		ifs->names[ifs->n++] = cf->tunnel_interface;
	for (i = 0; i < cf->nhairpin && ifs->n < 13; i++)
		ifs->names[ifs->n++] = cf->hairpin[i];
	for (i = 0; i < NAT_SIDE_MAX; i++)
		ifs->names[ifs->n++] = check_devs[i];
}

/* Read the links a front uses; false when the public one is missing. */
static bool
check_links(struct check_front *k)
{
	char e[NL_ERRLEN], se[SYSCTL_ERRLEN];

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
	char why[TUNIO_ERRLEN];

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

/* Findings for a front config. */
int
check_front(const struct conf *c)
{
	struct check_front k;
	struct check_nft_ifs ifs;
	char e[NL_ERRLEN];
	int bad = 0;

	memset(&k, 0, sizeof(k));
	k.c = c;
	k.cf = &c->front;
	k.running = check_front_running();
	check_families(&k);
	if (k.running)
		check_say(c, CHECK_NOTE, "a tunrelay front runs in this network "
		    "namespace: its rules and settings are checked too");
	if (nl_open(&k.nl, e) == -1)
		return check_say(c, CHECK_ERROR, "netlink: %s", e);
	if (check_links(&k)) {
		if (k.has_tun) {
			bad += check_tunnel(&k);
			check_mss(&k);
			check_mtu(&k);
		}
		bad += check_forwarding(&k);
		check_proxy_ndp(&k);
		bad += check_rp_filter(&k);
		bad += check_rules(&k);
		check_ports(&k);
		check_listeners(&k);
	}
	if (k.has_tun && (k.tun.flags & IFF_LOWER_UP))
		check_backends(&k);
	check_tun_io(c);
	check_front_ifs(k.cf, &ifs);
	bad += check_netfilter(c, &ifs, true);
	check_conntrack(c);
	nl_close(&k.nl);
	return bad;
}

/* Rules of an old manual keep-client-ip recipe (fwmark) on the backend. */
static void
check_back_rules(const struct conf *c)
{
	struct nl nl;
	struct nl_rule *r;
	char e[NL_ERRLEN], s[256];
	size_t n, i;
	int f;

	if (nl_open(&nl, e) == -1)
		return;
	for (f = 0; f < 2; f++) {
		if (nl_rule_list(&nl, f ? AF_INET6 : AF_INET, &r, &n, e) == -1)
			continue;
		for (i = 0; i < n; i++) {
			if (r[i].protocol == NL_PROTO_TUNRELAY ||
			    !r[i].has_fwmark || r[i].table == RT_TABLE_MAIN ||
			    r[i].table == RT_TABLE_LOCAL)
				continue;
			nl_rule_str(&r[i], s, sizeof(s));
			check_say(c, CHECK_WARNING, "%s rule \"%s\" looks like "
			    "the manual keep-client-ip recipe (fwmark rule and "
			    "CONNMARK); tunrelay's back half does the same with "
			    "its own mark 0x%x, and two recipes at once fight "
			    "over the marks (fix: %s rule del pref %u, and remove "
			    "the old CONNMARK rules)", f ? "ip -6" : "ip", s,
			    BACK_MARK, f ? "ip -6" : "ip", r[i].priority);
		}
		free(r);
	}
	nl_close(&nl);
}

/* Findings for a back config. */
int
check_back(const struct conf *c)
{
	struct check_nft_ifs ifs;
	int bad;

	for (ifs.n = 0; ifs.n < c->back.ntunnel &&
	    ifs.n < sizeof(ifs.names) / sizeof(ifs.names[0]); ifs.n++)
		ifs.names[ifs.n] = c->back.tunnel[ifs.n].tunnel_interface;
	check_back_rules(c);
	bad = check_netfilter(c, &ifs, false);
	check_conntrack(c);
	return bad;
}
