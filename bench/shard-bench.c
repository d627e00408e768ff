/*
 * shard-bench.c - what the engine's lock costs when several queue threads
 * translate at once: the front's packet path without its TUN I/O
 * (engine_enter, nat_process, engine_leave of core/engine.c), driven by T
 * threads, in four setups measured one after the other in one run:
 *
 *   1 thread, one shard          the engine alone
 *   T threads, one shard         one lock for every thread (shards = 1)
 *   T threads, T shards, steered each thread's flows are its own shard's
 *                                (what eBPF steering gives)
 *   T threads, T shards, spread  flows spread over the threads whatever
 *                                their shard (the kernel's own hash):
 *                                packets cross to another thread's shard
 *
 *   bench/shard-bench [-t THREADS] [-k FLOWS] [-d SECONDS]
 *
 * Each thread sends IPv4 TCP ACK+PSH segments with 64 bytes of payload over
 * its own FLOWS flows (default 1000), client to backend and back,
 * through a keep-source rule. Packets per second over all threads, the
 * packets that found their shard's lock taken and those that crossed. Not a
 * test: it prints figures and exits 0. On a machine with fewer free CPUs
 * than threads the threads also take turns on the CPUs, which no lock
 * design removes: compare setups of one run, not runs of two machines.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/benchpkt.h"
#include "core/engine.h"
#include "nat/nat.h"

#define PUBLIC BP_IP(203, 0, 113, 1)
#define BACKEND BP_IP(10, 22, 22, 1)
#define CLIENT BP_IP(198, 51, 100, 10)
#define MAXTHREADS 16

struct run;

/* One packet thread and its flows' client ports. */
struct worker {
	struct run *r;
	unsigned int idx;
	pthread_t thread;
	uint16_t *ports;
	uint64_t pkts, waits, crossed;
	uint8_t buf[2048];
};

/* One setup: its engine, its threads, how long. */
struct run {
	struct engine *eng;
	struct worker w[MAXTHREADS];
	unsigned int nthreads;
	uint32_t nflows;		/* per thread */
	double secs;
	atomic_bool go, stop;
	uint64_t t0_ns;
};

/* Nanoseconds of the monotonic clock. */
static uint64_t
sb_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The engine's clock: milliseconds since the setup started. */
static uint64_t
sb_now(const struct run *r)
{
	return (sb_ns() - r->t0_ns) / 1000000 + 1000;
}

/* Translate the packet in w->buf as a queue thread would; abort on a drop. */
static void
sb_process(struct worker *w, size_t len, enum nat_side side, uint64_t now)
{
	struct nat_pkt pkt = { w->buf, len, sizeof(w->buf), NULL };
	enum nat_drop_reason why = NAT_DROP_MAX;
	enum nat_verdict v;
	bool crossed, waited;
	unsigned int s;

	s = engine_enter(w->r->eng, w->idx, w->buf, len, side, &crossed,
	    &waited);
	v = nat_process(engine_nat(w->r->eng, s), &pkt, side, now, &why);
	engine_leave(w->r->eng, s);
	w->crossed += crossed;
	w->waits += waited;
	if (v != NAT_FORWARD) {
		fprintf(stderr, "shard-bench: packet not forwarded (verdict %d, "
		    "%s)\n", (int)v, why < NAT_DROP_MAX ? nat_drop_name(why) :
		    "-");
		exit(1);
	}
}

/* Open every flow of a worker with a three-way handshake. */
static void
sb_open(struct worker *w)
{
	uint64_t now = sb_now(w->r);
	uint32_t i;
	uint16_t cp;
	size_t n;

	for (i = 0; i < w->r->nflows; i++) {
		cp = w->ports[i];
		n = bp_tcp4(w->buf, CLIENT, cp, PUBLIC, 80, BP_SYN, 999, 0,
		    1460, NULL, 0);
		sb_process(w, n, NAT_SIDE_PUBLIC, now);
		n = bp_tcp4(w->buf, BACKEND, 80, CLIENT, cp, BP_SYN | BP_ACK,
		    1999, 1000, 1460, NULL, 0);
		sb_process(w, n, NAT_SIDE_INSIDE, now);
		n = bp_tcp4(w->buf, CLIENT, cp, PUBLIC, 80, BP_ACK, 1000, 2000,
		    0, NULL, 0);
		sb_process(w, n, NAT_SIDE_PUBLIC, now);
	}
	w->pkts = w->waits = w->crossed = 0;
}

/* A worker: data both ways over its flows, round robin, until told. */
static void *
sb_worker(void *arg)
{
	struct worker *w = arg;
	struct bp_tmpl t;
	uint64_t now = sb_now(w->r);
	uint32_t i = 0;
	uint16_t cp;

	bp_tmpl_init(&t);
	while (!atomic_load(&w->r->go))
		;
	while ((w->pkts & 1023) != 0 || !atomic_load(&w->r->stop)) {
		if ((w->pkts & 1023) == 0)
			now = sb_now(w->r);
		cp = w->ports[i];
		bp_tmpl_build(&t, w->buf, CLIENT, cp, PUBLIC, 80);
		sb_process(w, BP_TMPL_LEN, NAT_SIDE_PUBLIC, now);
		bp_tmpl_build(&t, w->buf, BACKEND, 80, CLIENT, cp);
		sb_process(w, BP_TMPL_LEN, NAT_SIDE_INSIDE, now);
		w->pkts += 2;
		if (++i == w->r->nflows)
			i = 0;
	}
	return NULL;
}

/*
 * The client ports of every worker: steered, worker t gets ports of its
 * own shard (nat_port_shard, as eBPF steering delivers them); else
 * consecutive blocks, whatever their shard (the kernel's hash).
 */
static void
sb_ports(struct run *r, bool steered)
{
	unsigned int t, n = r->nthreads;
	uint32_t i, p = 1024;

	for (t = 0; t < n; t++)
		for (i = 0; i < r->nflows; i++)
			r->w[t].ports[i] = (uint16_t)(1024 + t * r->nflows + i);
	if (!steered)
		return;
	for (t = 0; t < n; t++)
		for (i = 0, p = 1024; i < r->nflows; i++, p++) {
			while (nat_port_shard(p, n) != t)
				p++;
			r->w[t].ports[i] = (uint16_t)p;
		}
}

/* One setup: threads, shards, steered or spread; prints its line and
 * returns its packets per second (-1 on error). */
static double
sb_setup(struct run *r, unsigned int nthreads, unsigned int nshards,
    bool steered, const char *name, double base)
{
	struct nat_settings s;
	struct nat_rule rule;
	char err[ERRLEN];
	uint64_t pkts = 0, waits = 0, crossed = 0, t;
	unsigned int i;
	double mpps;

	memset(&rule, 0, sizeof(rule));
	rule.family = 4;
	rule.protos = NAT_P_TCP | NAT_P_UDP | NAT_P_ICMP;
	rule.port_hi = 65535;
	bp_put32(rule.to.b, BACKEND);
	memset(&s, 0, sizeof(s));
	s.max_flows = 1 << 18;
	s.hash_key[0] = 0x6a09e667f3bcc908ULL;
	s.hash_key[1] = 0xbb67ae8584caa73bULL;
	s.port_seed = 0x3c6ef372fe94f82bULL;
	s.ttl_mode = NAT_TTL_RESTORE;
	s.rules = &rule;
	s.nrules = 1;
	r->nthreads = nthreads;
	r->t0_ns = sb_ns();
	if ((r->eng = engine_create(&s, nshards, err)) == NULL) {
		fprintf(stderr, "shard-bench: %s\n", err);
		return -1;
	}
	if (engine_shards(r->eng) != nshards) {
		fprintf(stderr, "shard-bench: %u shards, not %u: %s\n",
		    engine_shards(r->eng), nshards, r->eng->why);
		engine_destroy(r->eng);
		return -1;
	}
	sb_ports(r, steered);
	atomic_store(&r->go, false);
	atomic_store(&r->stop, false);
	for (i = 0; i < nthreads; i++) {
		r->w[i].r = r;
		r->w[i].idx = i;
		sb_open(&r->w[i]);
		pthread_create(&r->w[i].thread, NULL, sb_worker, &r->w[i]);
	}
	t = sb_ns();
	atomic_store(&r->go, true);
	usleep((useconds_t)(r->secs * 1e6));
	atomic_store(&r->stop, true);
	for (i = 0; i < nthreads; i++) {
		pthread_join(r->w[i].thread, NULL);
		pkts += r->w[i].pkts;
		waits += r->w[i].waits;
		crossed += r->w[i].crossed;
	}
	t = sb_ns() - t;
	engine_destroy(r->eng);
	mpps = (double)pkts / ((double)t / 1e9) / 1e6;
	printf("%-34s %8.2f %8.2fx %11.3f%% %9.1f%%\n", name, mpps,
	    base > 0 ? mpps / base : 1.0, pkts ? 100.0 * (double)waits /
	    (double)pkts : 0.0, pkts ? 100.0 * (double)crossed / (double)pkts :
	    0.0);
	return mpps;
}

/* Usage, then exit 2. */
static void
sb_usage(void)
{
	fprintf(stderr, "usage: shard-bench [-t THREADS] [-k FLOWS] "
	    "[-d SECONDS]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static struct run r;
	char name[64];
	unsigned int nt = 2, i;
	double base;
	int ch;

	r.nflows = 1000;
	r.secs = 3;
	while ((ch = getopt(argc, argv, "t:k:d:")) != -1) {
		switch (ch) {
		case 't': nt = (unsigned int)strtoul(optarg, NULL, 10); break;
		case 'k': r.nflows = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'd': r.secs = strtod(optarg, NULL); break;
		default: sb_usage();
		}
	}
	if (optind != argc || nt < 2 || nt > MAXTHREADS || r.nflows < 1 ||
	    (uint64_t)r.nflows * nt > 60000 || r.secs <= 0 || r.secs > 600)
		sb_usage();
	for (i = 0; i < nt; i++)
		if ((r.w[i].ports = calloc(r.nflows, sizeof(uint16_t))) == NULL)
			return 1;
	printf("shard-bench: %u threads, %u flows each, %.1f s per setup, "
	    "%ld CPUs online\n\n", nt, r.nflows, r.secs,
	    sysconf(_SC_NPROCESSORS_ONLN));
	printf("%-34s %8s %9s %12s %10s\n", "setup", "Mpps", "vs 1 thr",
	    "lock waits", "crossed");
	if ((base = sb_setup(&r, 1, 1, false, "1 thread, one shard", 0)) < 0)
		return 1;
	snprintf(name, sizeof(name), "%u threads, one shard (one lock)", nt);
	sb_setup(&r, nt, 1, false, name, base);
	snprintf(name, sizeof(name), "%u threads, %u shards, steered", nt, nt);
	sb_setup(&r, nt, nt, true, name, base);
	snprintf(name, sizeof(name), "%u threads, %u shards, spread", nt, nt);
	sb_setup(&r, nt, nt, false, name, base);
	return 0;
}
