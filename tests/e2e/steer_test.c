/*
 * steer_test.c - test of tun/steer.c, run by steer.sh inside a namespace of
 * its own. Needs root.
 *
 *   steer_test prog      the verifier accepts every program (sides, 1..16
 *                        queues, range edges), and BPF_PROG_TEST_RUN of
 *                        generated packets agrees with steer_ref() below
 *   steer_test real DEV  DEV: a 4-queue TUN the script made, with
 *                        10.98.16.0/20 and fd00:98:1::/64 routed into it;
 *                        packets the kernel sends there are read from the
 *                        queue the program names (then detach, re-attach)
 *
 * Prints "ok N - ..." / "not ok N - ..." lines; exits 1 on any failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>

#include <linux/if_tun.h>

#include "nat/nat.h"
#include "tun/steer.h"

#define NQ 4
#define LO 40000	/* the NAT range of the real test */
#define HI 40099

static int testno, failures;

/* One TAP line; counts failures. */
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

static unsigned
get16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static void
put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * The reference: the queue tun/steer.c's program must name for an IP packet
 * p of len bytes, written from the spec, not from the program.
 */
static unsigned
steer_ref(const uint8_t *p, size_t len, int side, unsigned nq, unsigned lo,
    unsigned hi)
{
	unsigned proto, l4, sp, dp, x;
	bool v4;

	if (nq <= 1 || len < 1)
		return 0;
	v4 = p[0] >> 4 == 4;
	if (v4) {
		if (len < 8 || (get16(p + 6) & 0x1fff) != 0)
			return 0;	/* later fragment: any queue */
		l4 = (p[0] & 0xfu) * 4;
		if (l4 < 20 || len < 10)
			return 0;
		proto = p[9];
	} else if (p[0] >> 4 == 6) {
		if (len < 7)
			return 0;
		l4 = 40;
		proto = p[6];
	} else
		return 0;
	if (proto == 6 || proto == 17) {
		if (len < l4 + 4)
			return 0;
		sp = get16(p + l4);
		dp = get16(p + l4 + 2);
		x = side == STEER_INSIDE || (dp >= lo && dp <= hi) ? dp : sp;
	} else if (proto == (v4 ? 1u : 58u)) {
		if (len < l4 + 1)
			return 0;
		if (v4 ? p[l4] != 8 && p[l4] != 0 : p[l4] != 128 && p[l4] != 129)
			return 0;
		if (len < l4 + 6)
			return 0;
		x = get16(p + l4 + 4);
	} else
		return 0;
	return nat_port_shard(x, nq);
}

/* ---- part 1: verifier and BPF_PROG_TEST_RUN ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

/* xorshift64: deterministic packets, the same on every run */
static unsigned
rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n != 0 ? (unsigned)(rng % n) : 0;
}

/* A port near the edges of [lo, hi] half of the time, else any. */
static unsigned
gen_port(unsigned lo, unsigned hi)
{
	static const int d[] = { -1, 0, 1 };

	switch (rnd(4)) {
	case 0:
		return (lo + (unsigned)d[rnd(3)]) & 0xffff;
	case 1:
		return (hi + (unsigned)d[rnd(3)]) & 0xffff;
	default:
		return rnd(65536);
	}
}

/* An L4 header at p: ports or an ICMP type and identifier. */
static size_t
gen_l4(uint8_t *p, unsigned proto, bool v4, unsigned lo, unsigned hi)
{
	static const uint8_t t4[] = { 8, 0, 8, 0, 3, 11, 5, 12, 13, 4 };
	static const uint8_t t6[] = { 128, 129, 128, 129, 1, 2, 3, 4, 133, 135 };
	size_t k, n = 8 + rnd(24);

	for (k = 0; k < n; k++)
		p[k] = (uint8_t)rnd(256);
	if (proto == 6 || proto == 17) {
		put16(p, gen_port(lo, hi));
		put16(p + 2, gen_port(lo, hi));
	} else if (proto == 1 || proto == 58) {
		p[0] = v4 ? t4[rnd(10)] : t6[rnd(10)];
		p[1] = 0;
	}
	return n;
}

/* One generated IPv4 packet of some kind; its length. */
static size_t
gen_v4(uint8_t *p, unsigned kind, unsigned lo, unsigned hi)
{
	static const uint8_t protos[] = { 6, 17, 1, 1, 47, 50, 132, 0 };
	unsigned ihl = 5, proto = protos[rnd(8)];
	size_t k;

	if (kind == 1)
		ihl = 6 + rnd(10);	/* options */
	else if (kind == 2)
		ihl = rnd(5);		/* broken */
	for (k = 0; k < 60; k++)
		p[k] = (uint8_t)rnd(256);
	p[0] = (uint8_t)(0x40 | ihl);
	put16(p + 6, 0);
	if (kind == 3)		/* later fragment: edges of the offset too */
		put16(p + 6, (rnd(2) ? 1u << rnd(13) : 1 + rnd(0x1fff)) |
		    rnd(4) << 13);
	else if (kind == 4)	/* first fragment, MF, maybe DF */
		put16(p + 6, 0x2000 | rnd(2) << 14);
	p[9] = (uint8_t)proto;
	k = ihl < 5 ? 20 : ihl * 4;
	return k + gen_l4(p + k, proto, true, lo, hi);
}

/* One generated IPv6 packet of some kind; its length. */
static size_t
gen_v6(uint8_t *p, unsigned kind, unsigned lo, unsigned hi)
{
	static const uint8_t protos[] = { 6, 17, 58, 58, 0, 43, 44, 60, 1, 47 };
	unsigned proto = kind == 1 ? protos[4 + rnd(6)] : protos[rnd(4)];
	size_t k;

	for (k = 0; k < 40; k++)
		p[k] = (uint8_t)rnd(256);
	p[0] = (uint8_t)(0x60 | (p[0] & 0xf));
	p[6] = (uint8_t)proto;
	return 40 + gen_l4(p + 40, proto, false, lo, hi);
}

/* Any packet: v4 or v6 of every kind, other versions, truncated ones. */
static size_t
gen_packet(uint8_t *p, unsigned lo, unsigned hi)
{
	unsigned kind = rnd(16);
	size_t len, k;

	if (kind < 8)
		len = gen_v4(p, kind < 5 ? kind : 0, lo, hi);
	else if (kind < 14)
		len = gen_v6(p, kind < 10 ? kind - 8 : 0, lo, hi);
	else {
		len = rnd(80);
		for (k = 0; k < len; k++)
			p[k] = (uint8_t)rnd(256);
		if (kind == 15)
			p[0] = (uint8_t)(rnd(16) << 4);
	}
	if (rnd(4) == 0)
		len = rnd((unsigned)len + 1);	/* truncated */
	return len;
}

/* bpf(BPF_PROG_TEST_RUN) of prog on Ethernet + the packet: its return value. */
static int
test_run(int prog, const uint8_t *ip, size_t len, uint32_t *ret)
{
	uint8_t frame[14 + 256];
	union bpf_attr at;

	memset(frame, 0, 14);
	frame[0] = 0x02;	/* a locally administered unicast MAC */
	/* the kernel refuses an IP ethertype on less than an IP header:
	 * shorter packets go as a local experimental type, which the
	 * program never looks at */
	if (len >= 40 && ip[0] >> 4 == 6)
		put16(frame + 12, 0x86dd);
	else if (len >= 20 && ip[0] >> 4 != 6)
		put16(frame + 12, 0x0800);
	else
		put16(frame + 12, 0x88b5);
	memcpy(frame + 14, ip, len);
	memset(&at, 0, sizeof(at));
	at.test.prog_fd = (uint32_t)prog;
	at.test.data_in = (uint64_t)(uintptr_t)frame;
	at.test.data_size_in = (uint32_t)(14 + len);
	at.test.repeat = 1;
	if (syscall(__NR_bpf, BPF_PROG_TEST_RUN, &at, sizeof(at)) == -1)
		return -1;
	*ret = at.test.retval;
	return 0;
}

/* The verifier accepts every program; its length fits STEER_MAX_INSNS. */
static void
test_verifier(void)
{
	static const unsigned r[][2] = { { 61000, 65534 }, { 5000, 5000 },
	    { 0, 0 }, { 65535, 65535 }, { 1, 65535 } };
	struct bpf_insn prog[STEER_MAX_INSNS];
	char err[ERRLEN] = "";
	unsigned side, nq, k, loaded = 0, tried = 0, longest = 0;
	size_t n;
	int fd;

	for (side = 0; side < 3; side++)
		for (nq = 1; nq <= 16; nq++)
			for (k = 0; k < 5; k++) {
				n = steer_build(prog, side, nq, (uint16_t)r[k][0],
				    (uint16_t)r[k][1]);
				tried++;
				if (n > longest)
					longest = (unsigned)n;
				if (n > STEER_MAX_INSNS)
					continue;
				if ((fd = steer_load(prog, n, err)) == -1) {
					printf("# side %u nq %u %u-%u: %s\n", side,
					    nq, r[k][0], r[k][1], err);
					continue;
				}
				close(fd);
				loaded++;
			}
	check(loaded == tried, "verifier accepts %u/%u programs (3 sides, "
	    "1..16 queues, 5 ranges; longest %u instructions)", loaded, tried,
	    longest);
}

/* Generated packets through every program agree with steer_ref(). */
static void
test_prog_run(void)
{
	struct bpf_insn prog[STEER_MAX_INSNS];
	unsigned ranges[4][2] = { { 61000, 65534 }, { 40000, 40000 },
	    { 1, 65535 }, { 0, 0 } };
	uint8_t pkt[256];
	char err[ERRLEN];
	unsigned side, nq, k, i, want, runs = 0, bad = 0, nonzero = 0;
	uint32_t got;
	size_t len;
	int fd;

	ranges[3][0] = 1024 + rnd(30000);
	ranges[3][1] = ranges[3][0] + rnd(30000);
	for (side = 0; side < 3; side++)
		for (nq = 1; nq <= 8; nq++)
			for (k = 0; k < 4; k++) {
				fd = steer_load(prog, steer_build(prog, side, nq,
				    (uint16_t)ranges[k][0], (uint16_t)ranges[k][1]),
				    err);
				if (fd == -1) {
					check(0, "load: %s", err);
					return;
				}
				for (i = 0; i < 2000; i++) {
					len = gen_packet(pkt, ranges[k][0],
					    ranges[k][1]);
					want = steer_ref(pkt, len, (int)side, nq,
					    ranges[k][0], ranges[k][1]);
					if (test_run(fd, pkt, len, &got) == -1) {
						check(0, "BPF_PROG_TEST_RUN (%zu bytes): "
						    "%s", len, strerror(errno));
						close(fd);
						return;
					}
					runs++;
					nonzero += want != 0;
					if (got % (nq ? nq : 1) != want || (nq > 1 &&
					    got >= nq)) {
						if (bad++ < 10)
							printf("# side %u nq %u "
							    "%u-%u len %zu: got %u "
							    "want %u\n", side, nq,
							    ranges[k][0],
							    ranges[k][1], len, got,
							    want);
					}
				}
				close(fd);
			}
	check(bad == 0, "BPF_PROG_TEST_RUN: %u packets, %u disagree with the "
	    "reference (%u expected a queue other than 0)", runs, bad, nonzero);
}

/* ---- part 2: real steering of a 4-queue TUN device ---- */

struct pkt {
	int q;
	size_t len;
	uint8_t b[2048];
};

#define BACKLOG 64
static struct pkt backlog[BACKLOG];
static unsigned nback;
static int qfd[NQ];
static unsigned seen[NQ];
static unsigned seq = 1;	/* the next destination's number */

/* The number of a packet's destination (its last two address bytes). */
static int
pkt_dst(const struct pkt *k, bool *v4, bool *later)
{
	if (k->len >= 20 && k->b[0] >> 4 == 4) {
		*v4 = true;
		*later = (get16(k->b + 6) & 0x1fff) != 0;
		return (int)(get16(k->b + 18) & 0xfff);	/* 10.98.16.0 + n */
	}
	if (k->len >= 40 && k->b[0] >> 4 == 6) {
		*v4 = false;
		*later = false;
		return (int)get16(k->b + 38);
	}
	return -1;
}

/* Take a packet to destination dst from the backlog into out. */
static bool
take(bool v4, int dst, bool later, struct pkt *out)
{
	unsigned k;
	bool kv4 = false, kl = false;

	for (k = 0; k < nback; k++)
		if (pkt_dst(&backlog[k], &kv4, &kl) == dst && kv4 == v4 &&
		    kl == later) {
			*out = backlog[k];
			backlog[k] = backlog[--nback];
			return true;
		}
	return false;
}

/* Read what the queues hold into the backlog (the oldest go when full). */
static void
drain(void)
{
	struct pkt *k;
	ssize_t n;
	int q;

	for (q = 0; q < NQ; q++)
		for (;;) {
			if (nback == BACKLOG) {
				memmove(backlog, backlog + 1, sizeof(backlog[0]) *
				    (BACKLOG - 1));
				nback--;
			}
			k = &backlog[nback];
			if ((n = read(qfd[q], k->b, sizeof(k->b))) <= 0)
				break;
			k->len = (size_t)n;
			k->q = q;
			nback++;
		}
}

/* Wait up to a second for the packet to destination dst: its queue or -1. */
static int
await(bool v4, int dst, bool later, struct pkt *out)
{
	struct pollfd pfd[NQ];
	int q, tries;

	for (tries = 0; tries < 20; tries++) {
		drain();
		if (take(v4, dst, later, out)) {
			seen[out->q]++;
			return out->q;
		}
		for (q = 0; q < NQ; q++) {
			pfd[q].fd = qfd[q];
			pfd[q].events = POLLIN;
		}
		poll(pfd, NQ, 50);
	}
	return -1;
}

/* A destination address of the routed prefixes, number n. */
static socklen_t
dst_addr(bool v4, unsigned n, unsigned port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (v4) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		s4->sin_addr.s_addr = htonl(0x0a621000u + n);	/* 10.98.16.0/20 */
		return sizeof(*s4);
	}
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons((uint16_t)port);
	inet_pton(AF_INET6, "fd00:98:1::", &s6->sin6_addr);
	put16(s6->sin6_addr.s6_addr + 14, n);
	return sizeof(*s6);
}

/* A socket of the family bound to a source port (0: any). */
static int
bound(bool v4, int type, int proto, unsigned port)
{
	struct sockaddr_storage ss;
	int fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = v4 ? AF_INET : AF_INET6;
	((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
	if ((fd = socket(ss.ss_family, type | SOCK_NONBLOCK, proto)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (port != 0 && bind(fd, (struct sockaddr *)&ss, v4 ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send one packet of a kind; the number of its destination, or -1. */
static int
send_kind(bool v4, const char *kind, unsigned sp, unsigned dp, size_t size)
{
	struct sockaddr_storage ss;
	uint8_t b[4096];
	unsigned n = seq++;
	socklen_t sl = dst_addr(v4, n, dp, &ss);
	int fd, rc, off = IP_PMTUDISC_DONT;

	memset(b, 0x5a, sizeof(b));
	if (strcmp(kind, "udp") == 0) {
		if ((fd = bound(v4, SOCK_DGRAM, 0, sp)) == -1)
			return -1;
		if (v4)
			setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &off,
			    sizeof(off));
		rc = (int)sendto(fd, b, size, 0, (struct sockaddr *)&ss, sl);
	} else if (strcmp(kind, "tcp") == 0) {
		if ((fd = bound(v4, SOCK_STREAM, 0, sp)) == -1)
			return -1;
		rc = connect(fd, (struct sockaddr *)&ss, sl);
		rc = rc == -1 && errno == EINPROGRESS ? 0 : -1;
		usleep(20000);	/* the SYN leaves before close aborts */
	} else {
		/* "echo": sp is the identifier; "error": an unreachable */
		if ((fd = socket(v4 ? AF_INET : AF_INET6, SOCK_RAW,
		    v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6)) == -1)
			return -1;
		((struct sockaddr_in *)&ss)->sin_port = 0;
		b[0] = strcmp(kind, "echo") == 0 ? (v4 ? 8 : 128) : (v4 ? 3 : 1);
		b[1] = 1;
		put16(b + 2, 0);
		put16(b + 4, sp);
		put16(b + 6, n);
		rc = (int)sendto(fd, b, 36, 0, (struct sockaddr *)&ss, sl);
	}
	close(fd);
	return rc == -1 ? -1 : (int)n;
}

/* Send a packet of a kind and check the queue it is read from. */
static void
real_one(bool v4, const char *kind, unsigned sp, unsigned dp, unsigned want)
{
	struct pkt k;
	int n = send_kind(v4, kind, sp, dp, 64), q;

	if (n == -1) {
		check(0, "send %s%s %u->%u: %s", kind, v4 ? "" : "6", sp, dp,
		    strerror(errno));
		return;
	}
	q = await(v4, n, false, &k);
	check(q == (int)want && (q == -1 || steer_ref(k.b, k.len, STEER_PUBLIC,
	    NQ, LO, HI) == want), "%s%s %u -> %u: queue %d (want %u)", kind,
	    v4 ? "" : "6", sp, dp, q, want);
}

/* Open the NQ queues of the device. */
static int
open_queues(const char *dev)
{
	struct ifreq ifr;
	int q;

	for (q = 0; q < NQ; q++) {
		if ((qfd[q] = open("/dev/net/tun", O_RDWR | O_NONBLOCK |
		    O_CLOEXEC)) == -1)
			return -1;
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, IFNAMSIZ, "%s", dev);
		ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE;
		if (ioctl(qfd[q], TUNSETIFF, &ifr) == -1)
			return -1;
	}
	return 0;
}

/* TCP, UDP, echo and errors, v4 and v6, in and out of the NAT range. */
static void
real_kinds(void)
{
	static const unsigned sports[] = { 1024, 5001, 33334, 61003, 40001 };
	static const unsigned dports[] = { 53, 39999, LO, 40050, HI, 40100 };
	static const char *kinds[] = { "udp", "tcp" };
	unsigned a, b, f, k;
	bool v4;

	for (f = 0; f < 2; f++)
		for (k = 0; k < 2; k++)
			for (a = 0; a < 5; a++)
				for (b = 0; b < 6; b++) {
					v4 = f == 0;
					real_one(v4, kinds[k], sports[a] + b,
					    dports[b], nat_port_shard(dports[b] >= LO &&
					    dports[b] <= HI ? dports[b] :
					    sports[a] + b, NQ));
				}
	for (f = 0; f < 2; f++) {
		for (a = 0; a < 8; a++)
			real_one(f == 0, "echo", 700 + a, 0,
			    nat_port_shard(700 + a, NQ));
		real_one(f == 0, "error", 703, 0, 0);
	}
}

/* Kernel-made fragments: v4 first by its ports, later ones and v6 on 0. */
static void
real_frags(void)
{
	struct pkt k;
	int n, q, later = 0, v;
	bool v4;

	for (v = 0; v < 2; v++) {
		v4 = v == 0;
		if ((n = send_kind(v4, "udp", 5003, 9, 3000)) == -1) {
			check(0, "send a fragmented datagram: %s", strerror(errno));
			return;
		}
		/* an IPv6 fragment header hides the ports: queue 0 */
		q = await(v4, n, false, &k);
		check(q == (v4 ? (int)nat_port_shard(5003, NQ) : 0), "fragmented udp%s: the first "
		    "fragment on queue %d", v4 ? "" : "6", q);
		while (v4 && (q = await(v4, n, true, &k)) != -1) {
			later++;
			check(q == 0, "fragmented udp: a later fragment on "
			    "queue %d", q);
		}
		if (v4)
			check(later >= 2, "fragmented udp: %d later fragments",
			    later);
	}
}

/* A raw IPv4 packet of len bytes (header included) to destination n. */
static int
send_raw4(uint8_t *b, size_t len, unsigned n)
{
	struct sockaddr_storage ss;
	socklen_t sl = dst_addr(true, n, 0, &ss);
	int fd, rc;

	if ((fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW)) == -1)
		return -1;
	b[0] = b[0] ? b[0] : 0x45;
	inet_pton(AF_INET, "10.98.0.1", b + 12);
	memcpy(b + 16, &((struct sockaddr_in *)&ss)->sin_addr, 4);
	b[8] = 64;
	put16(b + 2, (unsigned)len);	/* the kernel fills it only for IHL >= 5 */
	rc = (int)sendto(fd, b, len, 0, (struct sockaddr *)&ss, sl);
	close(fd);
	return rc;
}

/* Truncated and odd packets land on queue 0 (or their right one) and harm nothing. */
static void
real_malformed(void)
{
	static const struct {
		const char *what;
		uint8_t ver_ihl, proto;
		size_t len;
		unsigned frag, want;
	} c[] = {
		{ "tcp with 2 bytes of header", 0x45, 6, 22, 0, 0 },
		{ "udp with no header", 0x45, 17, 20, 0, 0 },
		{ "echo with 5 bytes", 0x45, 1, 25, 0, 0 },
		{ "later fragment of tcp", 0x45, 6, 40, 100, 0 },
		{ "options (IHL 6), udp", 0x46, 17, 40, 0, 0 },
		{ "IHL 4", 0x44, 17, 40, 0, 0 },
	};
	struct pkt k;
	uint8_t b[64];
	unsigned i, n, c_want;
	int q;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		memset(b, 0, sizeof(b));
		b[0] = c[i].ver_ihl;
		b[9] = c[i].proto;
		put16(b + 6, c[i].frag);
		/* ports 5003 -> 9 where IHL says, and where 20 bytes would */
		put16(b + (c[i].ver_ihl & 0xf) * 4, 5003);
		put16(b + (c[i].ver_ihl & 0xf) * 4 + 2, 9);
		b[20] = c[i].proto == 1 ? 8 : b[20];
		n = seq++;
		if (send_raw4(b, c[i].len, n) == -1) {
			printf("# %s: the kernel would not send it: %s\n",
			    c[i].what, strerror(errno));
			continue;
		}
		q = await(true, (int)n, (c[i].frag & 0x1fff) != 0, &k);
		if (c[i].ver_ihl == 0x46)	/* steered by its ports */
			c_want = nat_port_shard(5003, NQ);
		else
			c_want = c[i].want;
		check(q == (int)c_want, "malformed: %s: queue %d (want %u)",
		    c[i].what, q, c_want);
	}
	real_one(true, "udp", 5002, 9, nat_port_shard(5002, NQ));	/* still steering */
}

/* After detach every packet still arrives, on whatever queue. */
static void
real_detach(void)
{
	char err[ERRLEN];
	struct pkt k;
	unsigned a, got = 0, q0[NQ] = { 0 };
	int n, q;

	check(steer_detach(qfd[2], err) == 0, "steer_detach");
	for (a = 0; a < 16; a++) {
		if ((n = send_kind(true, "udp", 6000 + a * 7, 9, 64)) == -1)
			continue;
		if ((q = await(true, n, false, &k)) != -1) {
			got++;
			q0[q]++;
		}
	}
	check(got == 16, "after detach: %u/16 packets read (queues %u %u %u "
	    "%u: the kernel's spreading)", got, q0[0], q0[1], q0[2], q0[3]);
	check(steer_detach(qfd[0], err) == 0, "steer_detach when none is "
	    "attached");
}

/*
 * Wait until the device passes packets. The first queue's attach turns the
 * carrier on, but the kernel swaps the device's noop qdisc (which drops
 * everything, silently) for a real one only later, from its link-watch
 * work: a packet sent at once can vanish. Probes to their own destinations
 * until one is read, for up to 10 s (link-watch waits for the rtnl lock,
 * which another namespace's teardown may hold); not counted in seen[].
 */
static bool
real_ready(void)
{
	struct pkt k;
	struct pollfd pfd[NQ];
	int n, q, tries;

	for (tries = 0; tries < 200; tries++) {
		if ((n = send_kind(true, "udp", 5000, 9, 64)) == -1)
			return false;
		for (q = 0; q < NQ; q++) {
			pfd[q].fd = qfd[q];
			pfd[q].events = POLLIN;
		}
		poll(pfd, NQ, 50);
		drain();
		if (take(true, n, false, &k))
			return true;
	}
	return false;
}

/* The real test: attach, kinds, fragments, malformed, detach, inside side. */
static void
test_real(const char *dev)
{
	char err[ERRLEN];
	unsigned a;
	int rc;

	if (open_queues(dev) == -1) {
		check(0, "open %d queues of %s: %s", NQ, dev, strerror(errno));
		return;
	}
	rc = steer_attach(qfd[1], STEER_PUBLIC, NQ, LO, HI, err);
	check(rc == 0, "steer_attach public %d queues %d-%d%s%s", NQ, LO, HI,
	    rc ? ": " : "", rc ? err : "");
	if (rc != 0)
		return;
	/* a socket is no TUN device: a failure with a reason, no harm */
	err[0] = '\0';
	rc = socket(AF_INET, SOCK_DGRAM, 0);
	check(steer_attach(rc, STEER_PUBLIC, NQ, LO, HI, err) == -1 &&
	    err[0] != '\0', "steer_attach on a socket fails: %s", err);
	close(rc);
	check(real_ready(), "%s passes packets", dev);
	real_kinds();
	real_frags();
	real_malformed();
	real_detach();
	/* replace: inside, X = dport always; attach over attach too */
	rc = steer_attach(qfd[3], STEER_PUBLIC, NQ, 1, 1, err);
	rc |= steer_attach(qfd[3], STEER_INSIDE, NQ, LO, HI, err);
	check(rc == 0, "steer_attach inside (over another)%s%s", rc ? ": " : "",
	    rc ? err : "");
	for (a = 0; a < 8; a++) {
		struct pkt k;
		int n = send_kind(a % 2 == 0, "udp", 7001, 1000 + a, 64);
		int q = await(a % 2 == 0, n, false, &k);

		check(q == (int)nat_port_shard(1000 + a, NQ), "inside udp%s 7001 -> %u: "
		    "queue %d", a % 2 ? "6" : "", 1000 + a, q);
	}
	printf("# queues observed: %u %u %u %u\n", seen[0], seen[1], seen[2],
	    seen[3]);
	check(seen[0] && seen[1] && seen[2] && seen[3], "every queue was used");
}

int
main(int argc, char **argv)
{
	char err[ERRLEN];

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && strcmp(argv[1], "prog") == 0) {
		if (steer_probe(err) == -1) {
			printf("# SKIP: cannot load eBPF programs here: %s\n", err);
			return 77;
		}
		test_verifier();
		test_prog_run();
	} else if (argc >= 3 && strcmp(argv[1], "real") == 0)
		test_real(argv[2]);
	else {
		fprintf(stderr, "usage: steer_test prog | real DEV\n");
		return 2;
	}
	printf("# %d tests, %d failed\n", testno, failures);
	return failures ? 1 : 0;
}
