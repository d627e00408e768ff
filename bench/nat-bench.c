/*
 * nat-bench.c - throughput, flow setup rate, memory and worst-case latency
 * of the NAT engine on one core.
 *
 *   bench/nat-bench [-n FLOWS] [-d SECONDS] [-k SMALL]
 *
 *   -n  flows in the big table (default 1000000; also max_flows)
 *   -d  seconds per throughput measurement (default 2)
 *   -k  flows in the small round-robin set (default 1000)
 *
 * Packets are IPv4 TCP ACK+PSH segments with 64 bytes of payload, client to
 * backend and back, alternating, through a keep-source rule (the keep-client-ip
 * relay). Each packet is rebuilt from a template (memcpy + addresses, ports,
 * checksums) before nat_process() translates it in place; the same loop
 * without nat_process() is timed too and subtracted, so "engine" figures
 * are the engine's own cost. Not a test: it prints figures next to the
 * engine's performance targets (established flows: 5 Mpps round robin,
 * 1.5 Mpps random; 128 bytes per flow; no packet over 1 ms), and exits 0.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* sched_setaffinity, clock_gettime */
#endif
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nat/nat.h"
#include "bench/benchpkt.h"

#define PUBLIC BP_IP(203, 0, 113, 1)
#define BACKEND BP_IP(10, 22, 22, 1)
#define CLIENT_BASE BP_IP(100, 64, 0, 1)
#define PAYLOAD BP_TMPL_PAYLOAD
#define PKTLEN BP_TMPL_LEN
#define PORTS_PER_CLIENT 60000

struct bench {
	struct nat *nat;
	struct bp_tmpl tmpl;
	uint64_t t0_ns;
	uint8_t buf[2048];
	uint64_t rng;
};

static uint64_t
bench_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The engine's clock: milliseconds since the bench started. */
static uint64_t
bench_now(const struct bench *b)
{
	return (bench_ns() - b->t0_ns) / 1000000 + 1000;
}

static uint64_t
bench_rand(struct bench *b)
{
	b->rng ^= b->rng << 13;
	b->rng ^= b->rng >> 7;
	b->rng ^= b->rng << 17;
	return b->rng;
}

/* Flow i's client endpoint. */
static void
bench_client(uint32_t i, uint32_t *addr, uint16_t *port)
{
	*addr = CLIENT_BASE + i / PORTS_PER_CLIENT;
	*port = (uint16_t)(1024 + i % PORTS_PER_CLIENT);
}

/* Rebuild a data packet of flow i, one direction, from the template. */
static inline void
bench_build(struct bench *b, uint32_t i, bool reply)
{
	uint32_t c;
	uint16_t cp;

	bench_client(i, &c, &cp);
	if (reply)
		bp_tmpl_build(&b->tmpl, b->buf, BACKEND, 80, c, cp);
	else
		bp_tmpl_build(&b->tmpl, b->buf, c, cp, PUBLIC, 80);
}

/* Process the packet in b->buf; abort the bench if it is not forwarded. */
static inline void
bench_process(struct bench *b, size_t len, enum nat_side side, uint64_t now)
{
	struct nat_pkt pkt = { b->buf, len, sizeof(b->buf), NULL };
	enum nat_drop_reason why;
	enum nat_verdict v;

	v = nat_process(b->nat, &pkt, side, now, &why);
	if (v != NAT_FORWARD) {
		fprintf(stderr, "nat-bench: packet not forwarded (verdict %d, "
		    "%s)\n", (int)v, v == NAT_DROP ? nat_drop_name(why) : "-");
		exit(1);
	}
}

/* A log2 histogram of per-packet times. */
struct lat {
	uint64_t bucket[64];
	uint64_t n, max_ns;
	uint64_t over_100us, over_1ms;
	uint64_t max_at;	/* packet number of the worst one */
};

static void
lat_add(struct lat *l, uint64_t ns)
{
	int i = 0;

	if (ns > 100000)
		l->over_100us++;
	if (ns > 1000000)
		l->over_1ms++;
	if (ns > l->max_ns)
		l->max_at = l->n;

	while (i < 63 && (1ULL << (i + 1)) <= ns)
		i++;
	l->bucket[i]++;
	l->n++;
	if (ns > l->max_ns)
		l->max_ns = ns;
}

/* Upper bound of the q-quantile (0 < q < 1), from the histogram. */
static uint64_t
lat_quantile(const struct lat *l, double q)
{
	uint64_t want = (uint64_t)(q * (double)l->n), seen = 0;
	int i;

	for (i = 0; i < 64; i++) {
		seen += l->bucket[i];
		if (seen > want)
			return 2ULL << i;
	}
	return l->max_ns;
}

/*
 * Open flows [from, to) with a timed three-way handshake each; returns the
 * elapsed nanoseconds (clock reads included).
 */
static uint64_t
bench_open(struct bench *b, uint32_t from, uint32_t to, struct lat *lat)
{
	uint64_t start = bench_ns(), t, now = bench_now(b);
	uint32_t i, c;
	uint16_t cp;
	size_t n;

	for (i = from; i < to; i++) {
		bench_client(i, &c, &cp);
		if ((i & 1023) == 0)
			now = bench_now(b);
		n = bp_tcp4(b->buf, c, cp, PUBLIC, 80, BP_SYN, 999, 0, 1460,
		    NULL, 0);
		t = bench_ns();
		bench_process(b, n, NAT_SIDE_PUBLIC, now);
		lat_add(lat, bench_ns() - t);
		n = bp_tcp4(b->buf, BACKEND, 80, c, cp, BP_SYN | BP_ACK, 1999,
		    1000, 1460, NULL, 0);
		t = bench_ns();
		bench_process(b, n, NAT_SIDE_INSIDE, now);
		lat_add(lat, bench_ns() - t);
		n = bp_tcp4(b->buf, c, cp, PUBLIC, 80, BP_ACK, 1000, 2000, 0,
		    NULL, 0);
		t = bench_ns();
		bench_process(b, n, NAT_SIDE_PUBLIC, now);
		lat_add(lat, bench_ns() - t);
	}
	return bench_ns() - start;
}

/*
 * Established traffic over flows [0, nflows) for about secs seconds, round
 * robin or random; with engine false only the packets are built. Returns
 * packets/s over count packets (count fixed by the first, engine, run).
 */
static double
bench_traffic(struct bench *b, uint32_t nflows, bool random, bool engine,
    double secs, uint64_t *count)
{
	uint64_t start = bench_ns(), deadline = start + (uint64_t)(secs * 1e9);
	uint64_t now = bench_now(b), pkts = 0, elapsed;
	uint32_t i = 0;
	bool reply = false;

	b->rng = 0x9e3779b97f4a7c15ULL;
	for (;;) {
		if ((pkts & 4095) == 0) {
			if (*count == 0 ? bench_ns() >= deadline :
			    pkts >= *count)
				break;
			now = bench_now(b);
		}
		/* a flow's two directions back to back, like a reply */
		if (!reply)
			i = random ? (uint32_t)(bench_rand(b) % nflows) :
			    (i + 1 == nflows ? 0 : i + 1);
		bench_build(b, i, reply);
		if (engine)
			bench_process(b, PKTLEN, reply ? NAT_SIDE_INSIDE :
			    NAT_SIDE_PUBLIC, now);
		reply = !reply;
		pkts++;
	}
	elapsed = bench_ns() - start;
	if (*count == 0)
		*count = pkts;
	return (double)pkts / ((double)elapsed / 1e9);
}

/* Engine-only rate: the packets, minus the cost of building them. */
static void
bench_rate(struct bench *b, uint32_t nflows, bool random, double secs,
    double *raw, double *net)
{
	uint64_t count = 0;
	double build, t_all, t_build;

	*raw = bench_traffic(b, nflows, random, true, secs, &count);
	build = bench_traffic(b, nflows, random, false, secs, &count);
	t_all = (double)count / *raw;
	t_build = (double)count / build;
	*net = t_all > t_build ? (double)count / (t_all - t_build) : *raw;
}

/* Resident set size in bytes, from /proc/self/statm. */
static uint64_t
bench_rss(void)
{
	unsigned long size, resident;
	FILE *f = fopen("/proc/self/statm", "r");
	int ok;

	if (f == NULL)
		return 0;
	ok = fscanf(f, "%lu %lu", &size, &resident) == 2;
	fclose(f);
	return ok ? (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

static void
bench_usage(void)
{
	fprintf(stderr, "usage: nat-bench [-n FLOWS] [-d SECONDS] [-k SMALL]\n"
	    "  -n  flows in the big table, also max_flows (default 1000000)\n"
	    "  -d  seconds per throughput measurement (default 2)\n"
	    "  -k  flows in the round-robin set (default 1000)\n");
	exit(2);
}

/* A positive number option, or the usage. */
static unsigned long
bench_arg(const char *s, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v > max || *s == '-')
		bench_usage();
	return v;
}

static const char *
bench_yes(bool ok)
{
	return ok ? "yes" : "NO";
}

int
main(int argc, char **argv)
{
	struct nat_rule rule;
	struct nat_settings s;
	struct bench b;
	struct lat lat;
	char err[ERRLEN];
	uint32_t nflows = 1000000, small = 1000;
	double secs = 2, rr_raw, rr_net, rnd_raw, rnd_net, setup;
	uint64_t rss0, rss1, mem, fill_ns, sweep_ns, t;
	cpu_set_t cpus;
	size_t swept;
	int ch, cpu;

	while ((ch = getopt(argc, argv, "n:d:k:")) != -1) {
		switch (ch) {
		case 'n': nflows = (uint32_t)bench_arg(optarg, 50000000); break;
		case 'd': secs = (double)bench_arg(optarg, 3600); break;
		case 'k': small = (uint32_t)bench_arg(optarg, 50000000); break;
		default: bench_usage();
		}
	}
	if (optind != argc)
		bench_usage();
	if (small > nflows)
		small = nflows;

	/* one core: stay where we are */
	cpu = sched_getcpu();
	if (cpu >= 0) {
		CPU_ZERO(&cpus);
		CPU_SET(cpu, &cpus);
		(void)sched_setaffinity(0, sizeof(cpus), &cpus);
	}

	memset(&b, 0, sizeof(b));
	memset(&rule, 0, sizeof(rule));
	rule.family = 4;
	rule.protos = NAT_P_TCP | NAT_P_UDP | NAT_P_ICMP;
	rule.port_lo = 0;
	rule.port_hi = 65535;
	bp_put32(rule.to.b, BACKEND);
	rule.source = NAT_SOURCE_KEEP;
	memset(&s, 0, sizeof(s));
	s.max_flows = nflows;
	s.hash_key[0] = 0x6a09e667f3bcc908ULL;
	s.hash_key[1] = 0xbb67ae8584caa73bULL;
	s.port_seed = 0x3c6ef372fe94f82bULL;
	s.mtu = 1420;
	s.ttl_mode = NAT_TTL_RESTORE;
	s.rules = &rule;
	s.nrules = 1;
	bp_tmpl_init(&b.tmpl);
	b.t0_ns = bench_ns();

	rss0 = bench_rss();
	t = bench_ns();
	b.nat = nat_create(&s, err);
	t = bench_ns() - t;
	if (b.nat == NULL) {
		fprintf(stderr, "nat-bench: nat_create: %s\n", err);
		return 1;
	}
	printf("nat-bench: one core (cpu %d), IPv4 TCP ACK + %d bytes payload, "
	    "both directions, keep-source rule\n", cpu, PAYLOAD);
	printf("max_flows %" PRIu32 ", %.0f s per throughput figure; "
	    "nat_create %.1f ms\n\n", nflows, secs, (double)t / 1e6);

	/* established flows, round robin over a small set */
	memset(&lat, 0, sizeof(lat));
	bench_open(&b, 0, small, &lat);
	bench_rate(&b, small, false, secs, &rr_raw, &rr_net);

	/* fill the table to nflows, every packet timed */
	fill_ns = bench_open(&b, small, nflows, &lat);
	setup = (double)(nflows - small) / ((double)fill_ns / 1e9);
	mem = nat_memory(b.nat);
	rss1 = bench_rss();

	/* established flows, random access over the full table */
	bench_rate(&b, nflows, true, secs, &rnd_raw, &rnd_net);

	t = bench_ns();
	swept = nat_sweep(b.nat, bench_now(&b), 1024);
	sweep_ns = bench_ns() - t;

	printf("%-44s %14s %14s  %s\n", "measurement", "result", "target",
	    "met");
	printf("%-44s %9.2f Mpps %14s  %s\n", "established, round robin, "
	    "engine only", rr_net / 1e6, ">= 5 Mpps", bench_yes(rr_net >= 5e6));
	printf("%-44s %9.2f Mpps\n", "  with packet rebuild", rr_raw / 1e6);
	printf("  (%" PRIu32 " flows)\n", small);
	printf("%-44s %9.2f Mpps %14s  %s\n", "established, random, engine only",
	    rnd_net / 1e6, ">= 1.5 Mpps", bench_yes(rnd_net >= 1.5e6));
	printf("%-44s %9.2f Mpps\n", "  with packet rebuild", rnd_raw / 1e6);
	printf("  (%" PRIu32 " flows)\n", nflows);
	printf("%-44s %9.0f /s\n", "new flows (3-packet handshake each)", setup);
	printf("%-44s %9.1f B %16s  %s\n", "memory per flow (nat_memory / flows)",
	    (double)mem / nflows, "<= 128 B",
	    bench_yes((double)mem / nflows <= 128));
	printf("%-44s %9.1f B\n", "memory per flow (RSS delta / flows)",
	    (double)(rss1 - rss0) / nflows);
	printf("%-44s %9.1f us %14s  %s\n", "worst packet while filling",
	    (double)lat.max_ns / 1e3, "< 1000 us",
	    bench_yes(lat.max_ns < 1000000));
	printf("%-44s %9.1f us\n", "  99.99th percentile (upper bound)",
	    (double)lat_quantile(&lat, 0.9999) / 1e3);
	printf("%-44s %9.1f us\n", "  median (upper bound)",
	    (double)lat_quantile(&lat, 0.5) / 1e3);
	printf("  (%" PRIu64 " packets timed with clock_gettime; %" PRIu64
	    " over 100 us, %" PRIu64 " over 1 ms;\n   the worst was the %s of "
	    "flow %" PRIu64 ")\n", lat.n, lat.over_100us, lat.over_1ms,
	    lat.max_at % 3 == 0 ? "SYN" : lat.max_at % 3 == 1 ? "SYN+ACK" :
	    "ACK", lat.max_at / 3);
	printf("%-44s %9.1f us  (%zu removed)\n", "nat_sweep, budget 1024",
	    (double)sweep_ns / 1e3, swept);
	printf("\nengine memory %.1f MiB (nat_memory), RSS grew %.1f MiB\n",
	    (double)mem / 1048576, (double)(rss1 - rss0) / 1048576);
	nat_destroy(b.nat);
	return 0;
}
