/*
 * flowgen.c - traffic helper of bench/relay-bench: the backend's servers,
 * a new-connection load generator, a request/response latency probe and a
 * UDP flow creator.
 *
 *   flowgen serve ECHO_PORT CLOSE_PORT
 *       TCP servers on every address: ECHO_PORT echoes what it reads;
 *       CLOSE_PORT answers the first request with "peer=ADDRESS\n" (the
 *       address the backend saw) and closes first, as an HTTP/1.0 server.
 *   flowgen conn HOST PORT SECONDS [CONCURRENCY]
 *       opens, uses (one request, the answer until end of file) and closes
 *       TCP connections for SECONDS; prints conns= rate= errors= peer=.
 *   flowgen rr HOST PORT SECONDS [SIZE]
 *       ping-pong of SIZE bytes over one TCP connection for SECONDS;
 *       prints count= p50_us= p99_us=.
 *   flowgen mix HOST PORT SECONDS CONNS [SIZE]
 *       CONNS TCP connections at once to an echo server, each sending
 *       SIZE bytes (default 64) and waiting for them back, again and again,
 *       for SECONDS; prints conns= count= rate= p50_us= p99_us=.
 *   flowgen udpmany HOST PORT SECONDS FLOWS [SIZE]
 *       FLOWS UDP sockets (so FLOWS source ports) sending SIZE-byte
 *       datagrams (default 64) in turn, as fast as they go, for SECONDS;
 *       prints sent= seconds=.
 *   flowgen udpsink PORT SECONDS
 *       counts the UDP datagrams arriving at PORT for SECONDS from the
 *       first one; prints received= flows= kpps=.
 *   flowgen udpflood SRC DST PORT COUNT [PPS]
 *       COUNT UDP packets, each from another source port (1024..60999) and
 *       then another address counting up from SRC, to DST:PORT through a
 *       raw socket (root), paced to PPS (0: as fast as possible); each
 *       packet makes one new flow on a relay. Prints sent= seconds=.
 *
 * Every figure is printed as key=value on one line; errors go to stderr
 * with exit status 1.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/csum_full.h"

#define FLOWGEN_MAXCONC 1024
#define FLOWGEN_REQ "GET / HTTP/1.0\r\nConnection: close\r\n\r\n"
#define FLOWGEN_PORTS (61000 - 1024)	/* below tunrelay's nat_ports */
#define FLOWGEN_MAXMIX 4096	/* mix: connections; udpmany: sockets */

/* One in-flight connection of the conn load generator. */
struct flowgen_conn {
	int fd;
	int sent;
};

/* Print an error with the system's reason and exit 1. */
static void
flowgen_die(const char *what)
{
	fprintf(stderr, "flowgen: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Seconds since an arbitrary start, monotonic. */
static double
flowgen_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Parse a positive number argument or exit with a message. */
static long
flowgen_num(const char *s, const char *name)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 0) {
		fprintf(stderr, "flowgen: %s: \"%s\" is not a number\n", name, s);
		exit(2);
	}
	return v;
}

/* Parse an IPv4 address and port into a socket address or exit. */
static void
flowgen_addr(const char *host, const char *port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)flowgen_num(port, "port"));
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
		fprintf(stderr, "flowgen: \"%s\" is not an IPv4 address\n", host);
		exit(2);
	}
}

/* Make a file descriptor non-blocking. */
static void
flowgen_nonblock(int fd)
{
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1)
		flowgen_die("fcntl");
}

/* A listening TCP socket on every IPv4 address at PORT. */
static int
flowgen_listen(const char *port)
{
	struct sockaddr_in sa;
	int fd, one = 1;

	flowgen_addr("0.0.0.0", port, &sa);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		flowgen_die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
		flowgen_die("bind");
	if (listen(fd, 4096) == -1)
		flowgen_die("listen");
	flowgen_nonblock(fd);
	return fd;
}

/* Register fd with epoll; the tag rides in the upper half of the data. */
static void
flowgen_watch(int ep, int fd, uint32_t events, uint32_t tag)
{
	struct epoll_event ev = { .events = events };

	ev.data.u64 = ((uint64_t)tag << 32) | (uint32_t)fd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1)
		flowgen_die("epoll_ctl");
}

/* Accept every pending connection of a listener; tag 0 echo, 1 close. */
static void
flowgen_serve_accept(int ep, int lfd, uint32_t tag)
{
	int fd, one = 1;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) != -1) {
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		flowgen_watch(ep, fd, EPOLLIN, tag + 2);
	}
}

/* Answer a close-port request with the peer's address, then close. */
static void
flowgen_serve_reply(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	char buf[512], ip[INET_ADDRSTRLEN] = "?";
	int n;

	if (read(fd, buf, sizeof(buf)) > 0) {
		if (getpeername(fd, (struct sockaddr *)&sa, &len) == 0)
			inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip));
		n = snprintf(buf, sizeof(buf), "peer=%s\n", ip);
		if (write(fd, buf, (size_t)n) < 0) {
			/* the client went away: nothing to do */
		}
	}
	close(fd);
}

/* Echo what an echo-port connection sent; close it at end of file. */
static void
flowgen_serve_echo(int fd)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (write(fd, buf, (size_t)n) != n) {
			close(fd);
			return;
		}
	}
	if (n == 0 || errno != EAGAIN)
		close(fd);
}

/* The backend's servers: echo and reply-then-close, forever. */
static int
flowgen_serve(int argc, char **argv)
{
	struct epoll_event evs[256];
	int ep, lecho, lclose, i, n;

	if (argc != 2) {
		fprintf(stderr, "usage: flowgen serve ECHO_PORT CLOSE_PORT\n");
		return 2;
	}
	if ((ep = epoll_create1(0)) == -1)
		flowgen_die("epoll_create1");
	lecho = flowgen_listen(argv[0]);
	lclose = flowgen_listen(argv[1]);
	flowgen_watch(ep, lecho, EPOLLIN, 0);
	flowgen_watch(ep, lclose, EPOLLIN, 1);
	for (;;) {
		if ((n = epoll_wait(ep, evs, 256, -1)) == -1 && errno != EINTR)
			flowgen_die("epoll_wait");
		for (i = 0; i < n; i++) {
			int fd = (int)(uint32_t)evs[i].data.u64;
			uint32_t tag = (uint32_t)(evs[i].data.u64 >> 32);

			if (tag < 2)
				flowgen_serve_accept(ep, fd, tag);
			else if (tag == 2)
				flowgen_serve_echo(fd);
			else
				flowgen_serve_reply(fd);
		}
	}
}

/* Start one non-blocking connection into slot c; 0 or -1. */
static int
flowgen_conn_start(int ep, const struct sockaddr_in *sa, struct flowgen_conn *c,
    uint32_t slot)
{
	c->sent = 0;
	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		return -1;
	if (connect(c->fd, (const struct sockaddr *)sa, sizeof(*sa)) == -1 &&
	    errno != EINPROGRESS) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	flowgen_watch(ep, c->fd, EPOLLOUT | EPOLLIN | EPOLLET, slot);
	return 0;
}

/* Advance one connection; 1 when it finished well, -1 failed, 0 not yet. */
static int
flowgen_conn_step(struct flowgen_conn *c, uint32_t events, char *peer, size_t len)
{
	char buf[512];
	size_t k;
	ssize_t n;

	if (events & EPOLLERR)
		return -1;
	if (!c->sent && (events & EPOLLOUT)) {
		if (write(c->fd, FLOWGEN_REQ, strlen(FLOWGEN_REQ)) < 0)
			return -1;
		c->sent = 1;
	}
	while ((n = read(c->fd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		if (strncmp(buf, "peer=", 5) == 0) {
			buf[strcspn(buf, "\n")] = '\0';
			k = strlen(buf + 5) < len ? strlen(buf + 5) : len - 1;
			memcpy(peer, buf + 5, k);
			peer[k] = '\0';
		}
	}
	if (n == 0)
		return c->sent ? 1 : -1;
	return errno == EAGAIN ? 0 : -1;
}

/* Close a connection's socket (epoll forgets it with the descriptor). */
static void
flowgen_conn_close(struct flowgen_conn *c)
{
	close(c->fd);
	c->fd = -1;
}

/* New connections per second, CONCURRENCY at a time, for SECONDS. */
static int
flowgen_conn(int argc, char **argv)
{
	static struct flowgen_conn conns[FLOWGEN_MAXCONC];
	struct epoll_event evs[FLOWGEN_MAXCONC];
	struct sockaddr_in sa;
	char peer[64] = "none";
	long secs, conc, done = 0, errs = 0, live = 0;
	double t0, end, stop;
	int ep, i, n, r;

	if (argc < 3) {
		fprintf(stderr, "usage: flowgen conn HOST PORT SECONDS [CONCURRENCY]\n");
		return 2;
	}
	flowgen_addr(argv[0], argv[1], &sa);
	secs = flowgen_num(argv[2], "seconds");
	conc = argc > 3 ? flowgen_num(argv[3], "concurrency") : 32;
	if (conc < 1 || conc > FLOWGEN_MAXCONC)
		conc = 32;
	if ((ep = epoll_create1(0)) == -1)
		flowgen_die("epoll_create1");
	t0 = flowgen_now();
	end = t0 + secs;
	stop = end + 3;		/* stragglers get 3 s, then are abandoned */
	for (i = 0; i < conc; i++)
		live += flowgen_conn_start(ep, &sa, &conns[i], (uint32_t)i) == 0;
	while (live > 0 && flowgen_now() < stop) {
		if ((n = epoll_wait(ep, evs, FLOWGEN_MAXCONC, 100)) == -1 && errno != EINTR)
			flowgen_die("epoll_wait");
		for (i = 0; i < n; i++) {
			struct flowgen_conn *c = &conns[evs[i].data.u64 >> 32];

			if (c->fd == -1 ||
			    (r = flowgen_conn_step(c, evs[i].events, peer, sizeof(peer))) == 0)
				continue;
			done += r == 1;
			errs += r == -1;
			flowgen_conn_close(c);
			live--;
			if (flowgen_now() < end &&
			    flowgen_conn_start(ep, &sa, c, (uint32_t)(c - conns)) == 0)
				live++;
		}
	}
	printf("conns=%ld seconds=%.3f rate=%.0f errors=%ld unfinished=%ld peer=%s\n",
	    done, flowgen_now() - t0, done / (flowgen_now() - t0), errs, live, peer);
	return done > 0 ? 0 : 1;
}

/* Connect a blocking TCP socket with TCP_NODELAY, or exit. */
static int
flowgen_connect(const struct sockaddr_in *sa)
{
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		flowgen_die("socket");
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == -1)
		flowgen_die("connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Send size bytes and read them back; 0 or -1. */
static int
flowgen_rr_once(int fd, char *buf, size_t size)
{
	size_t got = 0;
	ssize_t n;

	if (write(fd, buf, size) != (ssize_t)size)
		return -1;
	while (got < size) {
		if ((n = read(fd, buf + got, size - got)) <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/* Order two doubles for qsort. */
static int
flowgen_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Ping-pong latency over one TCP connection: p50 and p99 in microseconds. */
static int
flowgen_rr(int argc, char **argv)
{
	struct sockaddr_in sa;
	char buf[1024];
	double *rtt, end, t;
	size_t n = 0, cap = 1 << 16, size;
	int fd;

	if (argc < 3) {
		fprintf(stderr, "usage: flowgen rr HOST PORT SECONDS [SIZE]\n");
		return 2;
	}
	flowgen_addr(argv[0], argv[1], &sa);
	end = flowgen_now() + flowgen_num(argv[2], "seconds");
	size = argc > 3 ? (size_t)flowgen_num(argv[3], "size") : 64;
	if (size < 1 || size > sizeof(buf))
		size = 64;
	memset(buf, 'x', sizeof(buf));
	if ((rtt = malloc(cap * sizeof(*rtt))) == NULL)
		flowgen_die("malloc");
	fd = flowgen_connect(&sa);
	while ((t = flowgen_now()) < end) {
		if (flowgen_rr_once(fd, buf, size) == -1)
			flowgen_die("ping-pong");
		if (n == cap && (rtt = realloc(rtt, (cap *= 2) * sizeof(*rtt))) == NULL)
			flowgen_die("realloc");
		rtt[n++] = (flowgen_now() - t) * 1e6;
	}
	close(fd);
	if (n == 0) {
		fprintf(stderr, "flowgen: rr: no round trip completed\n");
		return 1;
	}
	qsort(rtt, n, sizeof(*rtt), flowgen_cmp);
	printf("count=%zu p50_us=%.1f p99_us=%.1f\n", n, rtt[n / 2], rtt[n * 99 / 100]);
	free(rtt);
	return 0;
}

/* One connection of the mixed load. */
struct flowgen_mix {
	int fd;
	size_t got;		/* bytes of the answer read so far */
	double sent;		/* when its request left */
};

/* Send a mix connection's next request; -1 when the write fails. */
static int
flowgen_mix_send(struct flowgen_mix *m, const char *buf, size_t size)
{
	m->got = 0;
	m->sent = flowgen_now();
	return write(m->fd, buf, size) == (ssize_t)size ? 0 : -1;
}

/*
 * Read what a mix connection has; when its whole answer is in, record the
 * round trip (in *rtt, growing it) and send the next request.
 */
static void
flowgen_mix_step(struct flowgen_mix *m, char *buf, size_t size, double **rtt,
    size_t *n, size_t *cap)
{
	char in[4096];
	ssize_t r;

	while ((r = read(m->fd, in, sizeof(in))) > 0)
		m->got += (size_t)r;
	if (r == 0 || (r == -1 && errno != EAGAIN))
		flowgen_die("mix: connection lost");
	if (m->got < size)
		return;
	if (*n == *cap && (*rtt = realloc(*rtt, (*cap *= 2) * sizeof(**rtt))) == NULL)
		flowgen_die("realloc");
	(*rtt)[(*n)++] = (flowgen_now() - m->sent) * 1e6;
	if (flowgen_mix_send(m, buf, size) == -1)
		flowgen_die("mix: write");
}

/* Many connections at once doing small request/response. */
static int
flowgen_mix(int argc, char **argv)
{
	struct sockaddr_in sa;
	struct epoll_event ev[256];
	struct flowgen_mix *m;
	char buf[1024];
	double *rtt, start, end;
	size_t n = 0, cap = 1 << 16, size, conns, i;
	int ep, k, j;

	if (argc < 4) {
		fprintf(stderr, "usage: flowgen mix HOST PORT SECONDS CONNS [SIZE]\n");
		return 2;
	}
	flowgen_addr(argv[0], argv[1], &sa);
	conns = (size_t)flowgen_num(argv[3], "conns");
	size = argc > 4 ? (size_t)flowgen_num(argv[4], "size") : 64;
	if (conns < 1 || conns > FLOWGEN_MAXMIX || size < 1 || size > sizeof(buf)) {
		fprintf(stderr, "flowgen: mix: CONNS 1..%d, SIZE 1..%zu\n",
		    FLOWGEN_MAXMIX, sizeof(buf));
		return 2;
	}
	memset(buf, 'x', sizeof(buf));
	if ((m = calloc(conns, sizeof(*m))) == NULL ||
	    (rtt = malloc(cap * sizeof(*rtt))) == NULL)
		flowgen_die("malloc");
	if ((ep = epoll_create1(0)) == -1)
		flowgen_die("epoll_create1");
	/* all connected first: the timed part is request/response only */
	for (i = 0; i < conns; i++) {
		m[i].fd = flowgen_connect(&sa);
		flowgen_nonblock(m[i].fd);
		flowgen_watch(ep, m[i].fd, EPOLLIN, (uint32_t)i);
	}
	start = flowgen_now();
	end = start + flowgen_num(argv[2], "seconds");
	for (i = 0; i < conns; i++)
		if (flowgen_mix_send(&m[i], buf, size) == -1)
			flowgen_die("mix: write");
	while (flowgen_now() < end) {
		if ((k = epoll_wait(ep, ev, 256, 100)) == -1 && errno != EINTR)
			flowgen_die("epoll_wait");
		for (j = 0; j < k; j++)
			flowgen_mix_step(&m[ev[j].data.u64 >> 32], buf, size,
			    &rtt, &n, &cap);
	}
	if (n == 0) {
		fprintf(stderr, "flowgen: mix: no round trip completed\n");
		return 1;
	}
	qsort(rtt, n, sizeof(*rtt), flowgen_cmp);
	printf("conns=%zu count=%zu rate=%.0f p50_us=%.1f p99_us=%.1f\n", conns,
	    n, n / (flowgen_now() - start), rtt[n / 2], rtt[n * 99 / 100]);
	for (i = 0; i < conns; i++)
		close(m[i].fd);
	free(m);
	free(rtt);
	return 0;
}

/* UDP datagrams from many sockets (source ports) in turn, flat out. */
static int
flowgen_udpmany(int argc, char **argv)
{
	struct sockaddr_in sa;
	char buf[1500];
	double start, end;
	size_t flows, size, i;
	long sent = 0;
	int *fd;

	if (argc < 4) {
		fprintf(stderr, "usage: flowgen udpmany HOST PORT SECONDS FLOWS [SIZE]\n");
		return 2;
	}
	flowgen_addr(argv[0], argv[1], &sa);
	flows = (size_t)flowgen_num(argv[3], "flows");
	size = argc > 4 ? (size_t)flowgen_num(argv[4], "size") : 64;
	if (flows < 1 || flows > FLOWGEN_MAXMIX || size < 1 || size > sizeof(buf)) {
		fprintf(stderr, "flowgen: udpmany: FLOWS 1..%d, SIZE 1..%zu\n",
		    FLOWGEN_MAXMIX, sizeof(buf));
		return 2;
	}
	memset(buf, 'x', sizeof(buf));
	if ((fd = calloc(flows, sizeof(*fd))) == NULL)
		flowgen_die("malloc");
	for (i = 0; i < flows; i++) {
		if ((fd[i] = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
			flowgen_die("socket");
		if (connect(fd[i], (struct sockaddr *)&sa, sizeof(sa)) == -1)
			flowgen_die("connect");
	}
	start = flowgen_now();
	end = start + flowgen_num(argv[2], "seconds");
	while (flowgen_now() < end)
		for (i = 0; i < flows; i++)
			/* a full queue drops, as iperf3 -b 0 would */
			if (send(fd[i], buf, size, MSG_DONTWAIT) == (ssize_t)size)
				sent++;
	printf("sent=%ld seconds=%.3f\n", sent, flowgen_now() - start);
	for (i = 0; i < flows; i++)
		close(fd[i]);
	free(fd);
	return 0;
}

/* Count the UDP datagrams reaching PORT for SECONDS from the first. */
static int
flowgen_udpsink(int argc, char **argv)
{
	struct sockaddr_in sa, from;
	struct timeval tv = { 0, 100000 };
	static uint8_t seen[65536];
	socklen_t fl;
	char buf[2048];
	double end = 0, secs;
	long got = 0, flows = 0;
	int fd, rcv = 4 << 20;

	if (argc < 2) {
		fprintf(stderr, "usage: flowgen udpsink PORT SECONDS\n");
		return 2;
	}
	flowgen_addr("0.0.0.0", argv[0], &sa);
	secs = flowgen_num(argv[1], "seconds");
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		flowgen_die("socket");
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
		flowgen_die("bind");
	/* waits up to 30 s for the first datagram, then counts for secs */
	for (end = flowgen_now() + 30; flowgen_now() < end;) {
		fl = sizeof(from);
		if (recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from,
		    &fl) < 0)
			continue;
		if (got++ == 0)
			end = flowgen_now() + secs;
		/* distinct source ports: the flows that got through */
		if (!seen[ntohs(from.sin_port)]) {
			seen[ntohs(from.sin_port)] = 1;
			flows++;
		}
	}
	printf("received=%ld flows=%ld kpps=%.1f\n", got, flows, got / secs / 1e3);
	close(fd);
	return 0;
}

/* Fold a checksum sum to 16 bits, complemented, in network order. */
static uint16_t
flowgen_fold(uint32_t sum)
{
	return htons((uint16_t)~csum_full_fold(sum));
}

/* Fill an IPv4 + UDP packet (8 bytes of payload) for flow number i. */
static size_t
flowgen_udp_packet(uint8_t *pkt, uint32_t src, uint32_t dst, uint16_t dport, long i)
{
	struct iphdr *ip = (struct iphdr *)pkt;
	struct udphdr *udp = (struct udphdr *)(pkt + sizeof(*ip));
	uint32_t sum;
	size_t len = sizeof(*ip) + sizeof(*udp) + 8;

	memset(pkt, 0, len);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->tot_len = htons((uint16_t)len);
	ip->saddr = htonl(src + (uint32_t)(i / FLOWGEN_PORTS));
	ip->daddr = dst;
	ip->check = flowgen_fold(csum_full_sum(ip, sizeof(*ip), 0));
	udp->source = htons((uint16_t)(1024 + i % FLOWGEN_PORTS));
	udp->dest = htons(dport);
	udp->len = htons((uint16_t)(len - sizeof(*ip)));
	/* pseudo-header: addresses, protocol, UDP length */
	sum = csum_full_sum(&ip->saddr, 8, IPPROTO_UDP + (uint32_t)(len - sizeof(*ip)));
	udp->check = flowgen_fold(csum_full_sum(udp, len - sizeof(*ip), sum));
	if (udp->check == 0)
		udp->check = 0xffff;
	return len;
}

/* Send one raw packet, waiting a little while the socket buffer is full. */
static void
flowgen_send_raw(int fd, const uint8_t *pkt, size_t len, const struct sockaddr_in *sa)
{
	struct timespec pause = { 0, 50000 };

	while (sendto(fd, pkt, len, 0, (const struct sockaddr *)sa, sizeof(*sa)) == -1) {
		if (errno != ENOBUFS && errno != EAGAIN)
			flowgen_die("sendto");
		nanosleep(&pause, NULL);
	}
}

/* COUNT UDP packets, one per new flow, paced to PPS packets per second. */
static int
flowgen_udpflood(int argc, char **argv)
{
	struct sockaddr_in sa;
	struct in_addr src;
	uint8_t pkt[64];
	long count, pps, i;
	double t0, ahead;
	size_t len;
	int fd;

	if (argc < 4) {
		fprintf(stderr, "usage: flowgen udpflood SRC DST PORT COUNT [PPS]\n");
		return 2;
	}
	if (inet_pton(AF_INET, argv[0], &src) != 1) {
		fprintf(stderr, "flowgen: \"%s\" is not an IPv4 address\n", argv[0]);
		return 2;
	}
	flowgen_addr(argv[1], argv[2], &sa);
	count = flowgen_num(argv[3], "count");
	pps = argc > 4 ? flowgen_num(argv[4], "pps") : 0;
	if ((fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW)) == -1)
		flowgen_die("raw socket (needs root)");
	t0 = flowgen_now();
	for (i = 0; i < count; i++) {
		len = flowgen_udp_packet(pkt, ntohl(src.s_addr), sa.sin_addr.s_addr,
		    ntohs(sa.sin_port), i);
		flowgen_send_raw(fd, pkt, len, &sa);
		if (pps > 0 && i % 256 == 255 &&
		    (ahead = (double)(i + 1) / pps - (flowgen_now() - t0)) > 0)
			usleep((useconds_t)(ahead * 1e6));
	}
	close(fd);
	printf("sent=%ld seconds=%.3f\n", count, flowgen_now() - t0);
	return 0;
}

/* Dispatch to the subcommand named first. */
int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "serve") == 0)
		return flowgen_serve(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "conn") == 0)
		return flowgen_conn(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "rr") == 0)
		return flowgen_rr(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "udpflood") == 0)
		return flowgen_udpflood(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "mix") == 0)
		return flowgen_mix(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "udpmany") == 0)
		return flowgen_udpmany(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "udpsink") == 0)
		return flowgen_udpsink(argc - 2, argv + 2);
	fprintf(stderr, "usage: flowgen serve|conn|rr|mix|udpmany|udpsink|udpflood ... (see bench/flowgen.c)\n");
	return 2;
}
