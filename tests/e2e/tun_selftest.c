/*
 * tun_selftest.c - end-to-end test of tun/ (TUN device, rtnetlink, routing
 * reconciliation, sysctls) inside network namespaces made by
 * tun_selftest.sh; see the topology there. Needs root.
 *
 *   tun_selftest crash PEER_NETNS   apply rule set A, then exit without cleanup
 *   tun_selftest main PEER_NETNS    everything else (reconcile A into B, ...)
 *
 * Prints "ok N - ..." / "not ok N - ..." lines; exits 1 on any failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>

#include "tun/nl.h"
#include "tun/route.h"
#include "tun/sysctl.h"
#include "tun/tundev.h"

#define TABLE 100
#define PRIO_LO 1000
#define PRIO_HI 1099
#define LOCAL_PRIO 1100
#define MAXRULES 64

static int testno, failures;

static void
check(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", ok ? "" : "not ", ++testno);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		failures++;
}

static void
diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void
fatal(const char *what, const char *err)
{
	printf("Bail out! %s: %s\n", what, err);
	exit(1);
}

static void
note(void *arg, const char *msg)
{
	(void)arg;
	diag("route: %s", msg);
}

static struct nl_prefix
pfx(const char *s)
{
	char err[ERRLEN];
	struct nl_prefix p;

	if (nl_prefix_parse(s, &p, err) < 0)
		fatal("prefix", err);
	return p;
}

/*
 * Rule set A (the "crashed" instance) or B (the running one). Both capture
 * tcp/udp/icmp on pub0 for IPv4 and IPv6 with tcp/22 excluded, and replies
 * on tnl0; A also excludes tcp/8080 and captures only tcp on tnl0.
 */
static size_t
build_rules(bool set_a, struct nl_rule *rules)
{
	struct route_match ex4[2] = {
		{ .ip_proto = IPPROTO_TCP, .dport_lo = 22 },
		{ .ip_proto = IPPROTO_TCP, .dport_lo = 8080 },
	};
	struct route_match ex6[1] = { { .ip_proto = IPPROTO_TCP, .dport_lo = 22 } };
	struct nl_prefix own6 = pfx("fd99::1");
	struct route_capture caps[3] = {
		{ .iif = "pub0", .family = AF_INET,
		    .protos = ROUTE_P_TCP | ROUTE_P_UDP | ROUTE_P_ICMP,
		    .exclude = ex4, .nexclude = set_a ? 2 : 1 },
		{ .iif = "pub0", .family = AF_INET6,
		    .protos = ROUTE_P_TCP | ROUTE_P_UDP | ROUTE_P_ICMP,
		    .exclude = ex6, .nexclude = 1, .own = &own6, .nown = 1 },
		{ .iif = "tnl0", .family = AF_INET,
		    .protos = set_a ? ROUTE_P_TCP : ROUTE_P_TCP | ROUTE_P_UDP | ROUTE_P_ICMP },
	};
	char err[ERRLEN];
	uint32_t prio = PRIO_LO;
	size_t i, n = 0;

	for (i = 0; i < 3; i++)
		if (route_capture_rules(&caps[i], TABLE, &prio, rules, MAXRULES,
		    &n, err) < 0)
			fatal("route_capture_rules", err);
	return n;
}

static void
make_spec(struct route_spec *s, int tun_ifindex, const struct nl_rule *rules,
    size_t n)
{
	memset(s, 0, sizeof(*s));
	s->tun_ifindex = tun_ifindex;
	s->table = TABLE;
	s->prio_lo = PRIO_LO;
	s->prio_hi = PRIO_HI;
	s->local_prio = LOCAL_PRIO;
	s->rules = rules;
	s->nrules = n;
	s->note = note;
}

static void
open_tun(struct tundev *d, unsigned int queues)
{
	struct tundev_opts o = { .name = "trtun%d", .vnet_hdr = true,
	    .vnet_hdr_len = 12, .queues = queues, .mtu = 1400 };
	char err[ERRLEN], off[64];

	if (tundev_open(d, &o, err) < 0)
		fatal("tundev_open", err);
	diag("TUN %s ifindex %d queues %u vnet_hdr %u offloads: %s", d->name,
	    d->ifindex, d->nfds, d->vnet_hdr_len,
	    tundev_offload_str(d->offloads, off, sizeof(off)));
}

/* How many priority-0 "lookup local" rules a family has, and tagged rules. */
static void
rule_census(struct nl *nl, int family, int *local0, int *tagged_local)
{
	char err[ERRLEN];
	struct nl_rule *r;
	size_t n, i;

	if (nl_rule_list(nl, family, &r, &n, err) < 0)
		fatal("nl_rule_list", err);
	*local0 = *tagged_local = 0;
	for (i = 0; i < n; i++) {
		if (r[i].table != RT_TABLE_LOCAL || r[i].iif[0] || r[i].ip_proto ||
		    r[i].dst.len)
			continue;
		if (r[i].priority == 0)
			(*local0)++;
		if (r[i].priority == LOCAL_PRIO && r[i].protocol == NL_PROTO_TUNRELAY)
			(*tagged_local)++;
	}
	free(r);
}

static int
cmd_crash(void)
{
	struct nl_rule rules[MAXRULES];
	struct route_result res;
	struct route_spec spec;
	struct tundev d;
	struct nl nl;
	char err[ERRLEN];
	size_t n, nr, nrt;

	if (nl_open(&nl, err) < 0)
		fatal("nl_open", err);
	open_tun(&d, 1);
	n = build_rules(true, rules);
	make_spec(&spec, d.ifindex, rules, n);
	if (route_apply(&nl, &spec, &res, err) < 0)
		fatal("route_apply (set A)", err);
	if (route_count(&nl, &spec, &nr, &nrt, err) < 0)
		fatal("route_count", err);
	check(nr == n + 2 && nrt == 2, "crash run: set A applied (%zu rules, "
	    "%zu routes tagged)", nr, nrt);
	diag("simulating a crash: exiting without route_remove");
	_exit(failures ? 1 : 0);
}

static void
test_vnet(void)
{
	struct nat_vnet v = { .flags = NAT_VNET_NEEDS_CSUM, .gso_type = 1,
	    .hdr_len = 54, .gso_size = 1448, .csum_start = 20, .csum_offset = 16 };
	struct nat_vnet w;
	uint8_t buf[12] = { 0 };
	static const uint8_t wire[10] = { 1, 1, 54, 0, 0xa8, 0x05, 20, 0, 16, 0 };

	tundev_vnet_build(&v, buf);
	check(memcmp(buf, wire, sizeof(wire)) == 0, "vnet build: little-endian wire layout");
	check(tundev_vnet_parse(buf, &w) == 0 && memcmp(&v, &w, sizeof(v)) == 0,
	    "vnet parse(build(x)) == x");
	buf[0] = 4;	/* RSC_INFO: never from a TUN device */
	check(tundev_vnet_parse(buf, &w) < 0, "vnet parse rejects unknown flags");
	buf[0] = 0;
	buf[1] = 0x80;	/* ECN without GSO */
	check(tundev_vnet_parse(buf, &w) < 0, "vnet parse rejects ECN without GSO");
}

/* Whether fd is open. */
static bool
fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/*
 * tundev_inherit (a restart's handover): the queues of an open device taken
 * over as they are, with a queue more or fewer, and refused (all closed)
 * for another name or other flags.
 */
static void
test_inherit(void)
{
	struct tundev_opts o = { .name = "trkeep0", .vnet_hdr = true,
	    .queues = 2, .mtu = 1400 };
	struct tundev d, e;
	char err[ERRLEN];
	int fds[TUNDEV_MAXQUEUES], idx, rc, pfd[2];

	if (tundev_open(&d, &o, err) < 0)
		fatal("tundev_open trkeep0", err);
	idx = d.ifindex;
	memcpy(fds, d.fds, sizeof(int) * d.nfds);
	rc = tundev_inherit(&e, &o, fds, 2, err);
	check(rc == 0 && e.ifindex == idx && e.nfds == 2 && e.fds[0] == fds[0] &&
	    (e.offloads & TUNDEV_F_CSUM),
	    "inherit: the same device, its 2 queues and offloads (%s)",
	    rc == 0 ? "ok" : err);
	check((fcntl(e.fds[0], F_GETFD) & FD_CLOEXEC) &&
	    (fcntl(e.fds[1], F_GETFL) & O_NONBLOCK),
	    "inherit: queues close-on-exec and non-blocking again");

	o.queues = 3;
	memcpy(fds, e.fds, sizeof(int) * 2);
	rc = tundev_inherit(&d, &o, fds, 2, err);
	check(rc == 0 && d.nfds == 3 && d.ifindex == idx,
	    "inherit with queues = 3: one queue attached (%s)",
	    rc == 0 ? "ok" : err);
	o.queues = 2;
	memcpy(fds, d.fds, sizeof(int) * 3);
	check(tundev_inherit(&e, &o, fds, 3, err) == 0 && e.nfds == 2 &&
	    !fd_open(fds[2]) && e.ifindex == idx,
	    "inherit with queues = 2 of 3: the extra queue closed");

	o.name = "trkeep1";
	memcpy(fds, e.fds, sizeof(int) * 2);
	check(tundev_inherit(&d, &o, fds, 2, err) == -1 && !fd_open(fds[0]) &&
	    !fd_open(fds[1]) && d.nfds == 0,
	    "inherit under another name: refused, every fd closed (%s)", err);

	o.name = "trkeep2";
	o.queues = 1;
	if (tundev_open(&d, &(struct tundev_opts){ .name = "trkeep2",
	    .queues = 1 }, err) < 0)
		fatal("tundev_open trkeep2 without vnet", err);
	fds[0] = d.fds[0];
	check(tundev_inherit(&e, &o, fds, 1, err) == -1 && !fd_open(fds[0]),
	    "inherit a device without the virtio-net header: refused (%s)", err);
	if (pipe(pfd) < 0)
		fatal("pipe", strerror(errno));
	check(tundev_inherit(&e, &o, pfd, 1, err) == -1 && !fd_open(pfd[0]),
	    "inherit a pipe (not a TUN queue): refused, closed (%s)", err);
	close(pfd[1]);
}

static void
test_link(struct nl *nl, const struct tundev *d)
{
	char err[ERRLEN];
	struct nl_link l;
	struct nl_ifaddr *a;
	size_t n, i;
	bool v4 = false, v6 = false;
	struct nl_prefix p4 = pfx("10.99.0.1"), p6 = pfx("fd99::1");

	int ret;

	ret = nl_link_get(nl, d->name, 0, &l, err);
	check(ret == 0 && l.ifindex == d->ifindex && (l.flags & IFF_UP) &&
	    l.mtu == 1400, "TUN link by name: index %d, up, mtu %u", l.ifindex, l.mtu);
	ret = nl_link_get(nl, NULL, d->ifindex, &l, err);
	check(ret == 0 && strcmp(l.name, d->name) == 0, "TUN link by index: %s", l.name);
	ret = nl_link_get(nl, "nonexistent0", 0, &l, err);
	check(ret < 0, "missing link is an error: %s", err);
	if (nl_link_get(nl, "pub0", 0, &l, err) < 0)
		fatal("nl_link_get pub0", err);
	if (nl_addr_list(nl, l.ifindex, 0, &a, &n, err) < 0)
		fatal("nl_addr_list", err);
	for (i = 0; i < n; i++) {
		if (a[i].family == AF_INET && a[i].prefixlen == 26 &&
		    memcmp(a[i].addr, p4.addr, 4) == 0)
			v4 = true;
		if (a[i].family == AF_INET6 && a[i].prefixlen == 64 &&
		    memcmp(a[i].addr, p6.addr, 16) == 0)
			v6 = true;
	}
	free(a);
	check(v4 && v6, "addresses of pub0: 10.99.0.1/26 and fd99::1/64 (%zu listed)", n);
}

static void
test_sysctl(const struct tundev *d)
{
	int ok;
	char err[ERRLEN];
	int old, v, lo, hi, ret;

	ret = sysctl_forwarding(AF_INET, 1, &old, err);
	ok = ret >= 0 && sysctl_forwarding_get(AF_INET, &v, err) == 0 && v == 1;
	check(ok, "ip_forward set to 1 (was %d, changed %d)", old, ret);
	ok = sysctl_forwarding(AF_INET, 1, &old, err) == 0 && old == 1;
	check(ok, "ip_forward set again: no change reported");
	ret = sysctl_forwarding(AF_INET6, 1, &old, err);
	check(ret >= 0, "IPv6 forwarding set to 1 (was %d)", old);
	ret = sysctl_rp_filter(d->name, 2, &old, err);
	ok = ret >= 0 && sysctl_rp_filter_get(d->name, &v, err) == 0 && v == 2;
	check(ok, "rp_filter on %s = 2 (was %d)", d->name, old);
	ok = sysctl_accept_local(d->name, 1, &old, err) >= 0;
	check(ok, "accept_local on %s = 1 (was %d)", d->name, old);
	ok = sysctl_src_valid_mark(1, &old, err) >= 0;
	check(ok, "src_valid_mark = 1 (was %d)", old);
	lo = hi = 0;
	ret = sysctl_local_port_range(&lo, &hi, err);
	check(ret == 0 && lo > 0 && hi >= lo, "ip_local_port_range %d-%d", lo, hi);
	ret = sysctl_rp_filter("../x", 0, &old, err);
	check(ret < 0, "bad interface refused: %s", err);
}

/* Lookup helper: input (iif set) or output route for dst. */
static int
lookup(struct nl *nl, const char *dst, const char *src, int iif, uint8_t proto,
    uint16_t sport, uint16_t dport, struct nl_route *r)
{
	struct nl_route_query q;
	struct nl_prefix d = pfx(dst), s;
	char err[ERRLEN];

	memset(&q, 0, sizeof(q));
	q.family = d.family;
	memcpy(q.dst, d.addr, 16);
	if (src != NULL) {
		s = pfx(src);
		q.has_src = true;
		memcpy(q.src, s.addr, 16);
	}
	q.iif = iif;
	q.ip_proto = proto;
	q.sport = sport;
	q.dport = dport;
	if (nl_route_get(nl, &q, r, err) < 0) {
		diag("lookup %s: %s", dst, err);
		return -1;
	}
	return 0;
}

static int
ifindex_of(struct nl *nl, const char *name)
{
	char err[ERRLEN];
	struct nl_link l;

	if (nl_link_get(nl, name, 0, &l, err) < 0)
		fatal("nl_link_get", err);
	return l.ifindex;
}

static void
test_lookups(struct nl *nl, const struct tundev *d)
{
	int ok;
	int pub = ifindex_of(nl, "pub0"), tnl = ifindex_of(nl, "tnl0");

	/*
	 * The kernel's route lookup cannot ask "no protocol" (IPv4 defaults
	 * to udp) or resolve multicast (EMSGSIZE): ARP and neighbour
	 * discovery are checked with real traffic in test_traffic.
	 */
	char s[64], desc[160];
	struct nl_route r;

	ok = lookup(nl, "10.99.0.1", "10.99.0.2", pub, IPPROTO_TCP, 40000, 80, &r) == 0 &&
	    r.oif == d->ifindex && r.table == TABLE;
	check(ok,
	    "tcp to own address port 80 from pub0 -> %s", nl_route_str(&r, desc, sizeof(desc)));
	ok = lookup(nl, "10.99.0.1", "10.99.0.2", pub, IPPROTO_TCP, 40000, 22, &r) == 0 &&
	    r.type == RTN_LOCAL;
	check(ok, "tcp/22 excluded -> local (type %u)", r.type);
	ok = lookup(nl, "10.99.0.1", "10.99.0.2", pub, IPPROTO_UDP, 40000, 53, &r) == 0 &&
	    r.oif == d->ifindex;
	check(ok, "udp/53 -> TUN");
	ok = lookup(nl, "10.99.0.1", "10.99.0.2", pub, IPPROTO_ICMP, 0, 0, &r) == 0 &&
	    r.oif == d->ifindex;
	check(ok, "icmp -> TUN");
	ok = lookup(nl, "198.51.100.7", "10.99.0.2", pub, IPPROTO_TCP, 40000, 443, &r) == 0 &&
	    r.oif == d->ifindex;
	check(ok, "tcp through the relay -> TUN");
	ok = lookup(nl, "fd99::1", "fd99::2", pub, IPPROTO_TCP, 40000, 80, &r) == 0 &&
	    r.oif == d->ifindex;
	check(ok, "IPv6 tcp to own address -> TUN (%s)",
	    nl_route_str(&r, desc, sizeof(desc)));
	ok = lookup(nl, "fd99::1", "fd99::2", pub, IPPROTO_TCP, 40000, 22, &r) == 0 &&
	    r.type == RTN_LOCAL;
	check(ok, "IPv6 tcp/22 -> local (type %u)", r.type);
	ok = lookup(nl, "fd99::1", "fd99::2", pub, IPPROTO_ICMPV6, 0, 0, &r) == 0 &&
	    r.type == RTN_LOCAL;
	check(ok, "IPv6 icmp to the relay's own address stays local (NUD)");
	ok = lookup(nl, "fd99::99", "fd99::2", pub, IPPROTO_ICMPV6, 0, 0, &r) == 0 &&
	    r.oif == d->ifindex;
	check(ok, "IPv6 icmp through the relay -> TUN");
	ok = lookup(nl, "fe80::1", "fe80::2", pub, IPPROTO_ICMPV6, 0, 0, &r) == 0 &&
	    r.oif != d->ifindex;
	check(ok, "IPv6 link-local icmp stays local (%s)",
	    nl_route_str(&r, desc, sizeof(desc)));
	ok = lookup(nl, "10.99.0.2", "10.99.0.66", tnl, IPPROTO_TCP, 80, 40000, &r) == 0 &&
	    r.oif == d->ifindex;
	check(ok, "reply from tnl0 -> TUN");
	ok = lookup(nl, "10.99.0.66", NULL, 0, 0, 0, 0, &r) == 0 && r.oif == tnl &&
	    r.prefsrc.family == AF_INET;
	check(ok, "output route to the backend: dev tnl0 src %s",
	    nl_prefix_str(&r.prefsrc, s, sizeof(s)));
	ok = lookup(nl, "fd99:1::2", NULL, 0, 0, 0, 0, &r) == 0 && r.oif == tnl;
	check(ok, "IPv6 output route to the backend: dev tnl0 src %s",
	    nl_prefix_str(&r.prefsrc, s, sizeof(s)));
}

/* In the peer namespace: connect to addr:port, return errno (0 = connected). */
static int
peer_connect(const char *addr, uint16_t port, int wait_ms)
{
	struct sockaddr_storage ss;
	struct pollfd p;
	socklen_t len;
	int fd, e = 0;

	memset(&ss, 0, sizeof(ss));
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		inet_pton(AF_INET6, addr, &s6->sin6_addr);
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		inet_pton(AF_INET, addr, &s4->sin_addr);
		len = sizeof(*s4);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return errno;
	if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) {
		e = errno;
		goto out;
	}
	p.fd = fd;
	p.events = POLLOUT;
	if (poll(&p, 1, wait_ms) == 0) {
		e = ETIMEDOUT;
		goto out;
	}
	len = sizeof(e);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len);
out:
	close(fd);
	return e;
}

/*
 * Child in the peer namespace. Exit code: 0 when excluded ports were refused
 * by the relay's own stack (so ARP/ND and the exclusion work) and captured
 * ports timed out (their SYNs went into the TUN).
 */
static void
peer_child(const char *peer)
{
	char path[128];
	int fd, e, bad = 0;

	snprintf(path, sizeof(path), "/run/netns/%s", peer);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
		printf("# peer: %s: %s\n", path, strerror(errno));
		_exit(2);
	}
	e = peer_connect("10.99.0.1", 22, 3000);
	printf("# peer: 10.99.0.1:22 -> %s\n", strerror(e));
	bad |= e != ECONNREFUSED;
	e = peer_connect("fd99::1", 22, 3000);
	printf("# peer: [fd99::1]:22 -> %s\n", strerror(e));
	bad |= (e != ECONNREFUSED) << 1;
	e = peer_connect("10.99.0.1", 80, 1500);
	printf("# peer: 10.99.0.1:80 -> %s\n", strerror(e));
	bad |= (e != ETIMEDOUT) << 2;
	e = peer_connect("fd99::1", 80, 1500);
	printf("# peer: [fd99::1]:80 -> %s\n", strerror(e));
	bad |= (e != ETIMEDOUT) << 3;
	fflush(stdout);
	_exit(bad);
}

/* Read packets from the TUN until deadline; note TCP SYNs to port 80. */
static void
read_tun(const struct tundev *d, int ms, bool *syn4, bool *syn6)
{
	static uint8_t buf[65536 + 64];
	struct pollfd p[TUNDEV_MAXQUEUES];
	struct timespec t0, t;
	struct nat_vnet v;
	unsigned int i;
	ssize_t n;
	long el;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < d->nfds; i++) {
		p[i].fd = d->fds[i];
		p[i].events = POLLIN;
	}
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		el = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (el >= ms || (*syn4 && *syn6))
			return;
		if (poll(p, d->nfds, (int)(ms - el)) <= 0)
			continue;
		for (i = 0; i < d->nfds; i++) {
			if (!(p[i].revents & POLLIN))
				continue;
			n = read(d->fds[i], buf, sizeof(buf));
			if (n < (ssize_t)d->vnet_hdr_len + 20)
				continue;
			const uint8_t *ip = buf + d->vnet_hdr_len;
			size_t len = (size_t)n - d->vnet_hdr_len;
			int ok = tundev_vnet_parse(buf, &v);
			const uint8_t *l4 = NULL;
			if ((ip[0] >> 4) == 4 && ip[9] == IPPROTO_TCP)
				l4 = ip + (ip[0] & 15) * 4;
			else if ((ip[0] >> 4) == 6 && len >= 60 && ip[6] == IPPROTO_TCP)
				l4 = ip + 40;
			if (l4 == NULL || l4 + 20 > ip + len)
				continue;
			if (((l4[2] << 8) | l4[3]) != 80 || !(l4[13] & 0x02))
				continue;
			diag("queue %u: IPv%d SYN to port 80, %zu bytes, vnet %s "
			    "flags %u gso %u csum_start %u csum_offset %u", i,
			    ip[0] >> 4, len, ok == 0 ? "ok" : "BAD", v.flags,
			    v.gso_type, v.csum_start, v.csum_offset);
			if ((ip[0] >> 4) == 4)
				*syn4 = ok == 0;
			else
				*syn6 = ok == 0;
		}
	}
}

static void
test_traffic(const struct tundev *d, const char *peer)
{
	bool syn4 = false, syn6 = false;
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		fatal("fork", strerror(errno));
	if (pid == 0)
		peer_child(peer);
	read_tun(d, 9000, &syn4, &syn6);
	if (waitpid(pid, &status, 0) < 0)
		fatal("waitpid", strerror(errno));
	check(WIFEXITED(status) && (WEXITSTATUS(status) & 3) == 0,
	    "excluded tcp/22 answered by the relay itself over IPv4 and IPv6 "
	    "(ARP and ND work)");
	check(WIFEXITED(status) && (WEXITSTATUS(status) & 12) == 0,
	    "captured tcp/80 not answered by the relay's stack");
	check(syn4, "IPv4 SYN to port 80 read from the TUN with a valid vnet header");
	check(syn6, "IPv6 SYN to port 80 read from the TUN with a valid vnet header");
}

/* Is there an untagged rule at priority prio (the foreign one from the script)? */
static bool
foreign_rule_present(struct nl *nl, uint32_t prio)
{
	char err[ERRLEN];
	struct nl_rule *r;
	size_t n, i;
	bool found = false;

	if (nl_rule_list(nl, AF_INET, &r, &n, err) < 0)
		fatal("nl_rule_list", err);
	for (i = 0; i < n; i++)
		if (r[i].priority == prio && r[i].protocol != NL_PROTO_TUNRELAY)
			found = true;
	free(r);
	return found;
}

static bool
foreign_route_present(struct nl *nl)
{
	char err[ERRLEN];
	struct nl_route *r;
	size_t n, i;
	bool found = false;

	if (nl_route_list(nl, AF_INET, TABLE, &r, &n, err) < 0)
		fatal("nl_route_list", err);
	for (i = 0; i < n; i++)
		if (r[i].dst.len == 24 && r[i].protocol != NL_PROTO_TUNRELAY)
			found = true;
	free(r);
	return found;
}

static void
test_rollback(struct nl *nl, const struct tundev *d)
{
	int ok;
	struct nl_rule rules[MAXRULES];
	struct route_result res;
	struct route_spec spec;
	char err[ERRLEN];
	size_t n, nr, nrt;
	int l0, tl;

	n = build_rules(false, rules);
	/* The kernel refuses a goto without a target: the last add fails. */
	memset(&rules[n], 0, sizeof(rules[n]));
	rules[n].family = AF_INET;
	rules[n].priority = PRIO_HI;
	rules[n].table = TABLE;
	rules[n].action = FR_ACT_GOTO;
	n++;
	make_spec(&spec, d->ifindex, rules, n);
	spec.note = NULL;
	ok = route_apply(nl, &spec, &res, err) < 0;
	check(ok, "failing apply reports: %s", err);
	if (route_count(nl, &spec, &nr, &nrt, err) < 0)
		fatal("route_count", err);
	rule_census(nl, AF_INET, &l0, &tl);
	check(nr == 0 && nrt == 0 && l0 == 1,
	    "failing apply rolled back (%zu rules, %zu routes left, local rule at 0: %d)",
	    nr, nrt, l0);
}

static int
cmd_main(const char *peer)
{
	struct nl_rule rules[MAXRULES];
	struct route_result res;
	struct route_spec spec;
	struct tundev d;
	struct nl nl;
	char err[ERRLEN], desc[160];
	size_t n, nr, nrt, before;
	int l0, tl, l06, tl6;

	if (nl_open(&nl, err) < 0)
		fatal("nl_open", err);
	open_tun(&d, 2);
	check(d.nfds == 2 && d.ifindex > 0 && d.vnet_hdr_len == 12,
	    "TUN %s: 2 queues, ifindex %d", d.name, d.ifindex);
	check(d.offloads & TUNDEV_F_CSUM, "checksum offload accepted");
	test_vnet();
	test_inherit();
	test_link(&nl, &d);
	test_sysctl(&d);

	n = build_rules(false, rules);
	diag("rule set B (%zu rules), e.g. %s", n, nl_rule_str(&rules[n - 1], desc,
	    sizeof(desc)));
	make_spec(&spec, d.ifindex, rules, n);
	if (route_count(&nl, &spec, &before, &nrt, err) < 0)
		fatal("route_count", err);
	rule_census(&nl, AF_INET, &l0, &tl);
	check(before > 0 && l0 == 0 && tl == 1, "leftovers of the crashed run: %zu "
	    "tagged rules, %zu routes, local rule moved (%d at 0)", before, nrt, l0);

	if (route_apply(&nl, &spec, &res, err) < 0)
		fatal("route_apply", err);
	diag("apply 1: rules +%u -%u =%u, routes +%u -%u =%u", res.rules_added,
	    res.rules_removed, res.rules_kept, res.routes_added,
	    res.routes_removed, res.routes_kept);
	check(res.rules_removed > 0 && res.rules_added > 0,
	    "apply over leftovers: removed %u, added %u", res.rules_removed,
	    res.rules_added);
	if (route_count(&nl, &spec, &nr, &nrt, err) < 0)
		fatal("route_count", err);
	check(nr == n + 2 && nrt == 2, "tagged after apply: %zu rules (want %zu), "
	    "%zu routes (want 2)", nr, n + 2, nrt);

	if (route_apply(&nl, &spec, &res, err) < 0)
		fatal("route_apply again", err);
	if (route_count(&nl, &spec, &nr, &nrt, err) < 0)
		fatal("route_count", err);
	check(res.rules_added == 0 && res.rules_removed == 0 && res.routes_added == 0 &&
	    res.routes_removed == 0 && nr == n + 2 && nrt == 2,
	    "apply twice: no change, no duplicates (%zu rules)", nr);

	rule_census(&nl, AF_INET, &l0, &tl);
	rule_census(&nl, AF_INET6, &l06, &tl6);
	check(l0 == 0 && tl == 1 && l06 == 0 && tl6 == 1,
	    "local rule moved to %d for IPv4 and IPv6", LOCAL_PRIO);
	check(foreign_rule_present(&nl, 1050) && foreign_route_present(&nl),
	    "untagged rule and route in our range and table left alone");

	test_lookups(&nl, &d);
	test_traffic(&d, peer);

	if (route_remove(&nl, &spec, &res, err) < 0)
		fatal("route_remove", err);
	if (route_count(&nl, &spec, &nr, &nrt, err) < 0)
		fatal("route_count", err);
	rule_census(&nl, AF_INET, &l0, &tl);
	rule_census(&nl, AF_INET6, &l06, &tl6);
	check(nr == 0 && nrt == 0, "remove: nothing tagged left (removed %u rules, "
	    "%u routes)", res.rules_removed, res.routes_removed);
	check(l0 == 1 && l06 == 1 && res.local_restored == 2,
	    "remove: priority-0 local rule restored for IPv4 and IPv6");
	check(foreign_rule_present(&nl, 1050) && foreign_route_present(&nl),
	    "remove: untagged rule and route still there");
	if (route_remove(&nl, &spec, &res, err) < 0)
		fatal("route_remove again", err);
	check(res.rules_removed == 0 && res.local_restored == 0, "remove twice: no-op");
	{
		struct nl_route r;
		int pub = ifindex_of(&nl, "pub0");
		check(lookup(&nl, "10.99.0.1", "10.99.0.2", pub, IPPROTO_TCP, 40000, 80,
		    &r) == 0 && r.type == RTN_LOCAL, "after remove: tcp/80 is local again");
	}
	test_rollback(&nl, &d);

	tundev_close(&d);
	nl_close(&nl);
	printf("1..%d\n", testno);
	return failures ? 1 : 0;
}

int
main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && strcmp(argv[1], "crash") == 0)
		return cmd_crash();
	if (argc == 3 && strcmp(argv[1], "main") == 0)
		return cmd_main(argv[2]);
	fprintf(stderr, "usage: tun_selftest crash|main PEER_NETNS\n");
	return 2;
}
