/*
 * test_nat_shard.c - a relay served by N engines (shards): every packet
 * dispatched to the shard nat_shard() names must get the verdict and the
 * client-facing bytes one unsharded engine gives it; every packet of a flow
 * (both ways, its ICMP errors) names the same shard; relay ports of shard i
 * are i mod N; fragments, per-source limits and state survive the split.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdatomic.h>

#include <cmocka.h>

#include "fixture.h"
#include "pktgen.h"

#define MAXF (4 * NAT_SHARD_MIN_FLOWS)
#define NMAX 4

/* The shared-table lock: counts, and insists on being a leaf (no nesting). */
struct lockc {
	int depth;
	long locks, unlocks;
};

static void
lk_lock(void *arg)
{
	struct lockc *l = arg;

	if (l->depth != 0)
		fail_msg("shared lock taken twice (depth %d)", l->depth);
	l->depth++;
	l->locks++;
}

static void
lk_unlock(void *arg)
{
	struct lockc *l = arg;

	if (l->depth != 1)
		fail_msg("shared lock released while not held");
	l->depth--;
	l->unlocks++;
}

/* N shards of a relay and one unsharded engine over the same settings. */
struct set {
	unsigned n;
	struct nat *sh[NMAX];
	struct nat *ref;
	struct lockc lk;
	struct nat_share_ops ops;
};

static struct set S;
static enum nat_verdict last_v;		/* of the last xrun() */
static struct nat_rule rules[4];

/* Make shard i of n of settings s (max_flows split). */
static struct nat *
mk_shard(const struct nat_settings *s, unsigned i, unsigned n, struct nat *first,
    struct nat_share_ops *ops)
{
	struct nat_settings t = *s;
	char err[ERRLEN] = "";
	struct nat *x;

	t.shard = (uint16_t)i;
	t.nshards = (uint16_t)n;
	t.max_flows = s->max_flows / n;
	x = nat_create_shard(&t, first, ops, err);
	if (x == NULL)
		fail_msg("nat_create_shard %u/%u: %s", i, n, err);
	return x;
}

/* Make the set for settings s with n shards. */
static void
set_make(const struct nat_settings *s, unsigned n)
{
	char err[ERRLEN] = "";
	unsigned i;

	memset(&S, 0, sizeof(S));
	S.n = n;
	S.ops.lock = lk_lock;
	S.ops.unlock = lk_unlock;
	S.ops.arg = &S.lk;
	if (nat_shards_fit(s, n, err) != 0)
		fail_msg("nat_shards_fit: %s", err);
	S.ref = fx_nat(s);
	assert_non_null(S.ref);
	for (i = 0; i < n; i++)
		S.sh[i] = mk_shard(s, i, n, i ? S.sh[0] : NULL, &S.ops);
}

/* Free the set: shard 0 last. */
static void
set_free(void)
{
	unsigned i;

	assert_int_equal(S.lk.depth, 0);
	assert_int_equal(S.lk.locks, S.lk.unlocks);
	for (i = S.n; i-- > 0;)
		nat_destroy(S.sh[i]);
	assert_int_equal(S.lk.depth, 0);
	assert_int_equal(S.lk.locks, S.lk.unlocks);
	fx_free(S.ref);
	memset(&S, 0, sizeof(S));
}

/* The first port from `from` on that nat_port_shard() gives to shard k of n. */
static uint16_t
port_in(unsigned int k, unsigned int n, uint32_t from)
{
	while (nat_port_shard(from, n) != k)
		from++;
	return (uint16_t)from;
}

/* The shard a packet goes to (0 when any may); checks nat_shard() keeps
 * the packet as it was. */
static int
shard_of(const struct pg_pkt *p, enum nat_side side)
{
	struct pg_pkt c;
	int s;

	pg_copy(&c, p);
	s = nat_shard(S.sh[S.n - 1], p->data, p->len, side);
	assert_memory_equal(c.data, p->data, p->len);
	assert_true(s >= -1 && s < (int)S.n);
	return s;
}

/* Run p through the set as the front would; returns the shard named. */
static int
set_run(struct pg_pkt *p, enum nat_side side, uint64_t now,
    enum nat_verdict *v, enum nat_drop_reason *why)
{
	int s = shard_of(p, side);

	*v = pg_run(S.sh[s < 0 ? 0 : s], p, side, now, why);
	return s;
}

/*
 * Run r through the reference and p through the set: same verdict; the
 * outputs equal byte for byte when exact, else equal but for ports and
 * checksums. Returns the shard named (every packet of one flow must name
 * the same: *flow_shard, -2 before the first).
 */
static int
xrun(struct pg_pkt *r, struct pg_pkt *p, enum nat_side side, uint64_t now,
    bool exact, int *flow_shard)
{
	enum nat_drop_reason wr = NAT_DROP_MAX, ws = NAT_DROP_MAX;
	enum nat_verdict vr, vs;
	struct pg_info a, b, ia, ib;
	int s;

	vr = pg_run(S.ref, r, side, now, &wr);
	s = set_run(p, side, now, &vs, &ws);
	last_v = vs;
	if (vr != vs || (vr == NAT_DROP && wr != ws))
		fail_msg("verdict %d (%s) sharded, %d (%s) unsharded", vs,
		    nat_drop_name(ws), vr, nat_drop_name(wr));
	if (flow_shard != NULL) {
		if (*flow_shard == -2)
			*flow_shard = s;
		else if (*flow_shard != s)
			fail_msg("packet of a flow of shard %d names shard %d",
			    *flow_shard, s);
	}
	if (vr == NAT_DROP || vr == NAT_QUEUED)
		return s;
	assert_pkt_csums(p);
	if (exact) {
		assert_int_equal(r->len, p->len);
		assert_memory_equal(r->data, p->data, r->len);
		return s;
	}
	assert_parse(r, &a);
	assert_parse(p, &b);
	assert_memory_equal(&a.src, &b.src, sizeof(a.src));
	assert_memory_equal(&a.dst, &b.dst, sizeof(a.dst));
	if (!a.icmp_err) {
		assert_same_xlate(r, p, true, false);
		return s;
	}
	/* an error toward the target quotes the relay port: the rest agrees */
	assert_int_equal(r->len, p->len);
	assert_int_equal(pg_inner(r->data, &a, &ia), 0);
	assert_int_equal(pg_inner(p->data, &b, &ib), 0);
	assert_memory_equal(&ia.src, &ib.src, sizeof(ia.src));
	assert_memory_equal(&ia.dst, &ib.dst, sizeof(ia.dst));
	assert_int_equal(ia.proto, ib.proto);
	return s;
}

/* Settings over rules[0..nr), a bigger table. */
static void
settings(struct nat_settings *s, size_t nr)
{
	fx_settings(s, rules, nr);
	s->max_flows = MAXF;
}

/* Build a TCP/UDP packet (or an echo when proto is ICMP). */
static void
mk(struct pg_pkt *p, uint8_t proto, const char *src, uint16_t sp,
    const char *dst, uint16_t dp, uint8_t flags)
{
	if (proto == PKT_IPPROTO_TCP)
		pg_tcp(p, src, sp, dst, dp, flags);
	else if (proto == PKT_IPPROTO_UDP)
		pg_udp(p, src, sp, dst, dp, 24);
	else
		pg_echo(p, src, dst, sp, flags != 0);
}

/* Wrap q (a packet as it travels) in an ICMP error from router `from`. */
static void
mk_err(struct pg_pkt *e, const char *from, const char *to,
    const struct pg_pkt *q)
{
	bool v6 = pg_addr_family(from) == 6;

	pg_icmp_error(e, from, to, v6 ? PKT_ICMP6_UNREACH : PKT_ICMP_UNREACH,
	    v6 ? 0 : PKT_ICMP_UNREACH_HOST, 0, q->data, q->len);
}

/* The source port (echo: identifier) of a packet. */
static uint16_t
sport_of(const struct pg_pkt *p)
{
	struct pg_info pi;

	assert_parse(p, &pi);
	return pi.sport;
}

/*
 * One flow of client c:cp to pub:dp (proto; echo: cp is the identifier)
 * through a rule toward `to`, translated to source `src` (relay or hairpin
 * address, or NULL: kept). Its replies come from side rside; with `cli_side`
 * the client side (PUBLIC or LAN). Also ICMP errors of both directions.
 */
struct flow_case {
	uint8_t proto;
	const char *c, *pub, *to, *src, *rtr, *crtr;
	uint16_t cp, dp, tp;
	enum nat_side cli_side, rside;
};

static void
run_flow(const struct flow_case *fc, uint64_t now)
{
	uint8_t syn = fc->proto == PKT_IPPROTO_TCP ? PKT_TCP_SYN : 0;
	uint8_t sa = fc->proto == PKT_IPPROTO_TCP ? PKT_TCP_SYN | PKT_TCP_ACK : 1;
	uint8_t ack = fc->proto == PKT_IPPROTO_TCP ? PKT_TCP_ACK : 0;
	bool echo = fc->proto != PKT_IPPROTO_TCP && fc->proto != PKT_IPPROTO_UDP;
	struct pg_pkt r, p, qr, qp;
	uint16_t rpr, rps, tp = echo ? 0 : fc->tp;
	const char *rs = fc->src ? fc->src : fc->c;
	int fs = -2, s;

	/* the opening packet */
	mk(&r, fc->proto, fc->c, fc->cp, fc->pub, fc->dp, syn);
	pg_copy(&p, &r);
	s = xrun(&r, &p, fc->cli_side, now, fc->src == NULL, &fs);
	assert_verdict(last_v, NAT_FORWARD, NAT_DROP_MAX);
	assert_true(s >= 0);
	assert_int_equal(s, (int)nat_port_shard(fc->cp, S.n));
	pg_copy(&qr, &r);		/* as it went to the target */
	pg_copy(&qp, &p);
	rpr = fc->src ? sport_of(&r) : fc->cp;
	rps = fc->src ? sport_of(&p) : fc->cp;
	if (fc->src != NULL && (int)nat_port_shard(rps, S.n) != s)
		fail_msg("relay port %u of shard %d (of %u)", rps, s, S.n);

	/* the reply, on the reply side: the client-facing bytes are equal */
	if (echo) {
		pg_echo(&r, fc->to, rs, rpr, true);
		pg_echo(&p, fc->to, rs, rps, true);
	} else {
		mk(&r, fc->proto, fc->to, tp, rs, rpr, sa);
		mk(&p, fc->proto, fc->to, tp, rs, rps, sa);
	}
	xrun(&r, &p, fc->rside, now + 1, true, &fs);
	assert_verdict(last_v, NAT_FORWARD, NAT_DROP_MAX);

	/* the client goes on */
	mk(&r, fc->proto, fc->c, fc->cp, fc->pub, fc->dp, ack);
	if (echo)
		pg_echo(&r, fc->c, fc->pub, fc->cp, false);
	pg_copy(&p, &r);
	xrun(&r, &p, fc->cli_side, now + 2, fc->src == NULL, &fs);
	assert_verdict(last_v, NAT_FORWARD, NAT_DROP_MAX);

	/* a router on the target's path answers a packet toward the target */
	mk_err(&r, fc->rtr, rs, &qr);
	mk_err(&p, fc->rtr, rs, &qp);
	xrun(&r, &p, fc->rside, now + 3, true, &fs);
	assert_verdict(last_v, NAT_FORWARD, NAT_DROP_MAX);

	/* a router on the client's path answers a reply toward the client */
	if (echo)
		pg_echo(&qr, fc->pub, fc->c, fc->cp, true);
	else
		mk(&qr, fc->proto, fc->pub, fc->dp, fc->c, fc->cp, sa);
	mk_err(&r, fc->crtr, fc->pub, &qr);
	pg_copy(&p, &r);
	xrun(&r, &p, fc->cli_side, now + 4, fc->src == NULL, &fs);
	assert_verdict(last_v, NAT_FORWARD, NAT_DROP_MAX);
	if (fc->src != NULL && !echo) {
		struct pg_info o, in;

		assert_parse(&p, &o);
		assert_int_equal(pg_inner(p.data, &o, &in), 0);
		assert_int_equal(in.dport, rps);
	}
}

/* Run a case for many client ports: every shard gets flows. */
static void
run_ports(struct flow_case fc, uint64_t now)
{
	unsigned i;

	for (i = 0; i < 9; i++) {
		fc.cp = (uint16_t)(40000 + i * 7);
		run_flow(&fc, now + i * 10);
	}
}

static const uint8_t protos[3] = { PKT_IPPROTO_TCP, PKT_IPPROTO_UDP,
    PKT_IPPROTO_ICMP };

/*
 * A public client's flow of family f (0 IPv4, 1 IPv6) and protocol i of
 * protos[] to the backend B, to public and target port port; the routers
 * that send its ICMP errors; replies from the inside.
 */
static void
fc_public(struct flow_case *fc, int f, int i, uint16_t port)
{
	memset(fc, 0, sizeof(*fc));
	fc->proto = protos[i];
	if (f == 1 && fc->proto == PKT_IPPROTO_ICMP)
		fc->proto = PKT_IPPROTO_ICMPV6;
	fc->c = f ? C6 : C4;
	fc->pub = f ? P6 : P4;
	fc->to = f ? B6 : B4;
	fc->rtr = f ? RTR6 : RTR4;
	fc->crtr = f ? "2001:db8:1::fe" : CRTR4;
	fc->dp = port;
	fc->tp = port;
	fc->cli_side = NAT_SIDE_PUBLIC;
	fc->rside = NAT_SIDE_INSIDE;
}

/* Keep mode, both families, TCP, UDP and echo, against one engine. */
static void
keep_mode(unsigned n)
{
	struct nat_settings s;
	struct flow_case fc;
	int i, f;

	settings(&s, fx_keep_all(rules));
	set_make(&s, n);
	for (f = 0; f < 2; f++)
		for (i = 0; i < 3; i++) {
			fc_public(&fc, f, i, 80);
			run_ports(fc, T0 + (uint64_t)(f * 3 + i) * 1000);
		}
	set_free();
}

static void test_keep2(void **st) { (void)st; keep_mode(2); }
static void test_keep4(void **st) { (void)st; keep_mode(4); }

/* Full NAT, replies on the inside and on the public side (one NIC). */
static void
full_nat(unsigned n)
{
	struct nat_settings s;
	struct flow_case fc;
	int i, f, side;

	rules[0] = fx_relay_rule(B4, ALLP, 1, 19999, 0, R4);
	rules[1] = fx_relay_rule(B6, ALLP, 1, 19999, 0, R6);
	settings(&s, 2);
	for (side = 0; side < 2; side++) {
		set_make(&s, n);
		for (f = 0; f < 2; f++)
			for (i = 0; i < 3; i++) {
				fc_public(&fc, f, i, 443);
				fc.src = f ? R6 : R4;
				fc.rside = side ? NAT_SIDE_PUBLIC :
				    NAT_SIDE_INSIDE;
				run_ports(fc, T0 + (uint64_t)(f * 3 + i) * 1000);
			}
		set_free();
	}
}

static void test_full2(void **st) { (void)st; full_nat(2); }
static void test_full4(void **st) { (void)st; full_nat(4); }

/* Hairpin: LAN clients to a LAN server through the public address. */
static void
hairpin(unsigned n)
{
	struct nat_settings s;
	struct flow_case fc;
	int i, side;

	rules[0] = fx_rule(LANS4, NAT_P_TCP | NAT_P_UDP, 81, 81, 80);
	settings(&s, 1);
	s.hairpin4 = true;
	s.hairpin_src4 = pg_addr(H4);
	for (side = 0; side < 2; side++) {
		set_make(&s, n);
		for (i = 0; i < 2; i++) {
			memset(&fc, 0, sizeof(fc));
			fc.proto = protos[i];
			fc.c = LANC4;
			fc.pub = P4;
			fc.to = LANS4;
			fc.src = H4;
			fc.rtr = "192.168.1.254";
			fc.crtr = "192.168.1.253";
			fc.dp = 81;
			fc.tp = 80;
			fc.cli_side = NAT_SIDE_LAN;
			fc.rside = side ? NAT_SIDE_LAN : NAT_SIDE_INSIDE;
			run_ports(fc, T0 + (uint64_t)i * 1000);
		}
		set_free();
	}
}

static void test_hairpin2(void **st) { (void)st; hairpin(2); }
static void test_hairpin4(void **st) { (void)st; hairpin(4); }

/* Three fragments of a UDP datagram c:cp -> P4:53. */
static void
frags(struct pg_pkt f[3], uint16_t cp, uint32_t id)
{
	struct pg_pkt full;
	int i;

	pg_udp(&full, C4, cp, P4, 53, 1000);
	for (i = 0; i < 3; i++) {
		memset(&f[i], 0, sizeof(f[i]));
		f[i].len = pg_fragment(full.data, full.len, (size_t)i * 400,
		    i < 2 ? 400 : full.len - 20 - 800, i == 2, id, f[i].data,
		    PKT_CAP);
		assert_true(f[i].len > 0);
	}
}

/* A later fragment is translated by another shard than its first; an
 * early one queued by one shard is released when the first comes to another. */
static void
test_frag_cross(void **st)
{
	struct nat_settings s;
	struct pg_pkt f[3], out;
	struct pg_info pi;
	enum nat_drop_reason why;
	enum nat_side side;
	struct nat_pkt np;
	struct nat_stats ns;
	int a, b;

	(void)st;
	settings(&s, fx_keep_all(rules));
	set_make(&s, 2);

	frags(f, 40001, 0x1234);
	a = shard_of(&f[0], NAT_SIDE_PUBLIC);
	assert_int_equal(a, 1);
	assert_int_equal(shard_of(&f[1], NAT_SIDE_PUBLIC), -1);
	b = 1 - a;
	assert_forward(S.sh[a], &f[0], NAT_SIDE_PUBLIC, T0);
	assert_forward(S.sh[b], &f[1], NAT_SIDE_PUBLIC, T0);
	assert_parse(&f[1], &pi);
	assert_true(pg_addr_eq(&pi.dst, B4));
	assert_forward(S.sh[a], &f[2], NAT_SIDE_PUBLIC, T0);

	/* early: the last fragment first, through the other shard */
	frags(f, 40001, 0x1235);
	assert_int_equal(pg_run(S.sh[b], &f[2], NAT_SIDE_PUBLIC, T0, &why),
	    NAT_QUEUED);
	nat_get_stats(S.sh[0], &ns);
	assert_int_equal(ns.frags_tracked, 2);
	nat_get_stats(S.sh[1], &ns);
	assert_int_equal(ns.frags_tracked, 0);
	assert_forward(S.sh[a], &f[0], NAT_SIDE_PUBLIC, T0 + 1);
	np.data = out.data;
	np.cap = sizeof(out.data);
	np.len = 0;
	np.vnet = NULL;
	/* released through either shard's nat_pending() */
	assert_int_equal(nat_pending(S.sh[b], &np, &side), 1);
	out.len = np.len;
	out.has_vnet = false;
	assert_parse(&out, &pi);
	assert_true(pg_addr_eq(&pi.dst, B4));
	assert_int_equal(side, NAT_SIDE_PUBLIC);
	assert_int_equal(nat_pending(S.sh[a], &np, &side), 0);
	assert_true(S.lk.locks > 0);

	/* expiry from any shard */
	assert_true(pg_sweep_all(S.sh[b], T0 + SEC(600)) >= 2);
	nat_get_stats(S.sh[0], &ns);
	assert_int_equal(ns.frags_tracked, 0);
	set_free();
}

/* src_max_flows counts the flows of a source in every shard together. */
static void
test_src_limit(void **st)
{
	struct nat_settings s;
	struct pg_pkt p;
	struct nat_stats ns;
	enum nat_drop_reason why;
	enum nat_verdict v;
	int i, ok = 0, shards = 0;

	(void)st;
	settings(&s, fx_keep_all(rules));
	s.src_max_flows = 5;
	set_make(&s, 4);
	/* flows 0..4 (forwarded) in shards 0, 1, 2, 3, 0; then refused */
	for (i = 0; i < 12; i++) {
		pg_udp(&p, C4, port_in((unsigned int)i % 4, 4,
		    (uint32_t)(30000 + 100 * i)), P4, 53, 10);
		shards |= 1 << set_run(&p, NAT_SIDE_PUBLIC, T0, &v, &why);
		if (v == NAT_FORWARD)
			ok++;
		else
			assert_drop(v, why, NAT_DROP_SRC_FLOWS);
	}
	assert_int_equal(ok, 5);
	assert_int_equal(shards, 0xf);
	nat_get_stats(S.sh[0], &ns);
	assert_int_equal(ns.sources_tracked, 1);
	for (i = 1; i < 4; i++) {
		nat_get_stats(S.sh[i], &ns);
		assert_int_equal(ns.sources_tracked, 0);
		assert_int_equal(ns.sources_reclaimed, 0);
	}
	/* a shard that goes gives its flows back to their sources */
	nat_destroy(S.sh[1]);
	S.sh[1] = mk_shard(&s, 1, 4, S.sh[0], &S.ops);
	pg_udp(&p, C4, port_in(1, 4, 32000), P4, 53, 10);
	assert_int_equal(set_run(&p, NAT_SIDE_PUBLIC, T0, &v, &why), 1);
	assert_verdict(v, NAT_FORWARD, why);
	pg_udp(&p, C4, port_in(1, 4, 33000), P4, 53, 10);
	set_run(&p, NAT_SIDE_PUBLIC, T0, &v, &why);
	assert_drop(v, why, NAT_DROP_SRC_FLOWS);

	/* flows that expire give their source room again, in any shard */
	for (i = 0; i < 4; i++)
		pg_sweep_all(S.sh[i], T0 + SEC(1000));
	pg_udp(&p, C4, port_in(3, 4, 34000), P4, 53, 10);
	set_run(&p, NAT_SIDE_PUBLIC, T0 + SEC(1000), &v, &why);
	assert_verdict(v, NAT_FORWARD, why);
	set_free();
}

/* A shard hands out only its own ports, and runs out of them alone. */
static void
test_port_exhaustion(void **st)
{
	struct nat_settings s;
	struct pg_pkt p;
	struct pg_info pi;
	enum nat_drop_reason why;
	enum nat_verdict v;
	int i, ok = 0, own = 0;
	uint32_t cp = 30000, port;

	(void)st;
	rules[0] = fx_relay_rule(B4, ALLP, 1, 19999, 0, R4);
	settings(&s, 1);
	s.nat_port_lo = 20000;
	s.nat_port_hi = 20000 + 2 * NAT_SHARD_MIN_PORTS - 1;
	set_make(&s, 2);
	for (port = 20000; port <= s.nat_port_hi; port++)
		own += nat_port_shard(port, 2) == 0;
	for (i = 0; i < own + 40; i++) {
		cp = port_in(0, 2, cp + 1);
		pg_udp(&p, C4, (uint16_t)cp, P4, 53, 10);
		assert_int_equal(set_run(&p, NAT_SIDE_PUBLIC, T0, &v, &why), 0);
		if (v != NAT_FORWARD) {
			assert_drop(v, why, NAT_DROP_NO_PORT);
			continue;
		}
		assert_parse(&p, &pi);
		assert_int_equal(nat_port_shard(pi.sport, 2), 0);
		assert_in_range(pi.sport, 20000, s.nat_port_hi);
		ok++;
	}
	assert_int_equal(ok, own);
	/* shard 1 still has all of its ports */
	pg_udp(&p, C4, port_in(1, 2, 30000), P4, 53, 10);
	assert_int_equal(set_run(&p, NAT_SIDE_PUBLIC, T0, &v, &why), 1);
	assert_verdict(v, NAT_FORWARD, why);
	assert_parse(&p, &pi);
	assert_int_equal(nat_port_shard(pi.sport, 2), 1);
	set_free();
}

/* Which settings can be sharded. */
static void
test_fit(void **st)
{
	struct nat_settings s;
	char err[ERRLEN];

	(void)st;
	settings(&s, fx_keep_all(rules));
	assert_int_equal(nat_shards_fit(&s, 4, err), 0);
	assert_int_equal(nat_shards_fit(&s, 1, err), 0);
	assert_int_equal(nat_shards_fit(&s, NAT_SHARDS_MAX + 1, err), -1);
	s.max_flows = NAT_SHARD_MIN_FLOWS * 4 - 1;
	assert_int_equal(nat_shards_fit(&s, 4, err), -1);
	assert_non_null(strstr(err, "max_flows"));
	s.max_flows = MAXF;
	s.nat_port_lo = 61000;
	s.nat_port_hi = 61000 + NAT_SHARD_MIN_PORTS * 4 - 2;
	/* keep mode alone hands out no relay port: the range does not count */
	assert_int_equal(nat_shards_fit(&s, 4, err), 0);
	s.hairpin4 = true;
	s.hairpin_src4 = pg_addr(H4);
	assert_int_equal(nat_shards_fit(&s, 4, err), -1);
	assert_non_null(strstr(err, "NAT port range"));
	s.nat_port_hi++;
	assert_int_equal(nat_shards_fit(&s, 4, err), 0);
	s.hairpin4 = false;

	/* keep-all over every port while v4 has a relay address: refused */
	s.nat_port_lo = s.nat_port_hi = 0;
	rules[2] = fx_relay_rule(B4, NAT_P_UDP, 53, 53, 0, R4);
	s.nrules = 3;
	assert_int_equal(nat_shards_fit(&s, 2, err), -1);
	/* ... unless it only matches another public address */
	rules[0].match_dst = true;
	rules[0].dst = pg_addr(P4);
	assert_int_equal(nat_shards_fit(&s, 2, err), 0);
	rules[0].dst = pg_addr(R4);
	assert_int_equal(nat_shards_fit(&s, 2, err), -1);
	/* or its ports stay below the NAT range */
	rules[0].match_dst = false;
	rules[0].port_hi = 60999;
	assert_int_equal(nat_shards_fit(&s, 2, err), 0);
	/* an ICMP-only rule has no ports */
	rules[0].port_hi = 65535;
	rules[0].protos = NAT_P_ICMP;
	assert_int_equal(nat_shards_fit(&s, 2, err), 0);
	/* hairpin addresses do not: no client's packet is captured to the
	 * relay's LAN address, and one that is not a reply is the host's */
	settings(&s, fx_keep_all(rules));
	s.hairpin6 = true;
	s.hairpin_src6 = pg_addr("fd00:1::1");
	assert_int_equal(nat_shards_fit(&s, 2, err), 0);
}

/* Creation errors: a sharded engine needs a lock and shard 0. */
static void
test_create_errors(void **st)
{
	struct nat_settings s;
	struct nat_share_ops ops = { lk_lock, lk_unlock, &S.lk };
	char err[ERRLEN];
	struct nat *a, *b;

	(void)st;
	memset(&S, 0, sizeof(S));
	settings(&s, fx_keep_all(rules));
	s.nshards = 2;
	assert_null(nat_create(&s, err));
	assert_null(nat_create_shard(&s, NULL, NULL, err));
	s.shard = 1;
	assert_null(nat_create_shard(&s, NULL, &ops, err));
	s.shard = 2;
	assert_null(nat_create_shard(&s, NULL, &ops, err));
	s.shard = 0;
	a = nat_create_shard(&s, NULL, &ops, err);
	assert_non_null(a);
	s.shard = 1;
	s.hash_key[0]++;
	assert_null(nat_create_shard(&s, a, &ops, err));
	s.hash_key[0]--;
	b = nat_create_shard(&s, a, &ops, err);
	assert_non_null(b);
	/* reconfigure keeps the shard, whatever the new settings say */
	s.shard = 0;
	s.nshards = 0;
	assert_int_equal(nat_reconfigure(b, &s, err), 0);
	s.nshards = 1;
	s.shard = 0;
	nat_destroy(b);
	nat_destroy(a);
	assert_int_equal(S.lk.locks, S.lk.unlocks);
}

/* Every truncation of real packets and garbage: -1, nothing read beyond. */
static void
test_shard_hostile(void **st)
{
	struct nat_settings s;
	struct pg_pkt p[6], q;
	uint8_t *buf;
	size_t i, len;
	unsigned seed = 1;
	int k, r;

	(void)st;
	rules[0] = fx_relay_rule(B4, ALLP, 1, 19999, 0, R4);
	rules[1] = fx_relay_rule(B6, ALLP, 1, 19999, 0, R6);
	settings(&s, 2);
	set_make(&s, 4);
	pg_tcp(&p[0], C4, 40000, P4, 80, PKT_TCP_SYN);
	pg_udp(&p[1], C6, 40000, P6, 80, 30);
	pg_echo(&p[2], C4, P4, 77, false);
	pg_udp(&q, R4, 61001, B4, 80, 30);
	mk_err(&p[3], RTR4, R4, &q);
	pg_udp(&q, R6, 61001, B6, 80, 30);
	mk_err(&p[4], RTR6, R6, &q);
	pg_echo(&q, R6, B6, 61001, false);
	mk_err(&p[5], RTR6, R6, &q);
	for (k = 0; k < 6; k++) {
		r = nat_shard(S.sh[0], p[k].data, p[k].len, NAT_SIDE_INSIDE);
		assert_true(r >= 0);
		if (k >= 3)
			assert_int_equal(r, (int)nat_port_shard(61001, 4));
		for (len = 0; len < p[k].len; len++) {
			buf = malloc(len ? len : 1);
			assert_non_null(buf);
			memcpy(buf, p[k].data, len);
			assert_int_equal(nat_shard(S.sh[1], buf, len,
			    NAT_SIDE_PUBLIC), -1);
			free(buf);
		}
	}
	assert_int_equal(nat_shard(S.sh[0], NULL, 0, NAT_SIDE_PUBLIC), -1);
	for (i = 0; i < 20000; i++) {
		len = (size_t)(rand_r(&seed) % 120);
		buf = malloc(len ? len : 1);
		assert_non_null(buf);
		for (k = 0; k < (int)len; k++)
			buf[k] = (uint8_t)rand_r(&seed);
		if (len > 0)
			buf[0] = (uint8_t)((i & 1 ? 0x45 : 0x60) | (buf[0] & 3));
		r = nat_shard(S.sh[0], buf, len, (enum nat_side)(i % 3));
		assert_true(r >= -1 && r < 4);
		free(buf);
	}
	set_free();
}

/* Unsharded, every packet is shard 0. */
static void
test_unsharded(void **st)
{
	struct pg_pkt p;
	struct nat *n = fx_engine(rules, fx_keep_all(rules));

	(void)st;
	assert_non_null(n);
	pg_udp(&p, C4, 40001, P4, 53, 10);
	assert_int_equal(nat_shard(n, p.data, p.len, NAT_SIDE_PUBLIC), 0);
	assert_int_equal(nat_shard(n, p.data, 3, NAT_SIDE_PUBLIC), 0);
	fx_free(n);
}

/* Regions for the state round trip (8-byte aligned). */
static uint64_t *region[2];

/* Open full NAT UDP flows of shard 1 of 2; a new shard 1 adopting its
 * region keeps them, a shard 0 refuses them. */
static void
test_state_round_trip(void **st)
{
	struct nat_settings s;
	struct nat_state_report rep;
	struct nat *old0, *old1, *n0, *n1, *x0, *x1;
	struct pg_pkt p;
	struct pg_info pi;
	uint16_t rp[8], cp[8];
	char err[ERRLEN];
	size_t len;
	int i;

	(void)st;
	rules[0] = fx_relay_rule(B4, ALLP, 1, 19999, 0, R4);
	settings(&s, 1);
	set_make(&s, 2);
	old0 = S.sh[0];
	old1 = S.sh[1];
	len = nat_state_size(MAXF / 2);
	for (i = 0; i < 2; i++) {
		region[i] = calloc(1, len);
		assert_non_null(region[i]);
	}
	assert_int_equal(nat_state_attach(old1, region[1], len, err), 0);
	for (i = 0; i < 8; i++) {
		cp[i] = port_in(1, 2, i ? cp[i - 1] + 1U : 40001U);
		pg_udp(&p, C4, cp[i], P4, 53, 10);
		assert_int_equal(shard_of(&p, NAT_SIDE_PUBLIC), 1);
		assert_forward(old1, &p, NAT_SIDE_PUBLIC, T0);
		rp[i] = sport_of(&p);
		assert_int_equal(nat_port_shard(rp[i], 2), 1);
	}
	nat_state_attach(old1, NULL, 0, err);

	/* the restarted relay: its shard 1 takes the flows over */
	n0 = mk_shard(&s, 0, 2, NULL, &S.ops);
	n1 = mk_shard(&s, 1, 2, n0, &S.ops);
	assert_int_equal(nat_state_adopt(n1, region[1], len, T0 + 5, &rep, err), 0);
	assert_int_equal(rep.adopted, 8);
	for (i = 0; i < 8; i++) {
		pg_udp(&p, B4, 53, R4, rp[i], 10);
		assert_int_equal(nat_shard(n0, p.data, p.len, NAT_SIDE_INSIDE), 1);
		assert_forward(n1, &p, NAT_SIDE_INSIDE, T0 + 6);
		assert_parse(&p, &pi);
		assert_pkt_tuple(&pi, P4, 53, C4, cp[i]);
	}
	/* a shard of another index refuses them: their ports are not its */
	x0 = mk_shard(&s, 0, 2, NULL, &S.ops);
	x1 = mk_shard(&s, 1, 2, x0, &S.ops);
	assert_int_equal(nat_state_adopt(x0, region[1], len, T0 + 5, &rep, err), 0);
	assert_int_equal(rep.adopted, 0);
	assert_int_equal(rep.dropped[NAT_STATE_BAD_RELAY], 8);
	nat_destroy(x1);
	nat_destroy(x0);
	nat_destroy(n1);
	nat_destroy(n0);
	set_free();
	(void)old0;
	for (i = 0; i < 2; i++)
		free(region[i]);
}

/*
 * Threads: two queues translating at once, each packet under the lock of
 * the shard nat_shard() names, the shared tables under their own mutex (run
 * it under -fsanitize=thread to see that nothing else is shared).
 */
#define TH_N 2
#define TH_ITER 1500

static pthread_mutex_t th_mx[TH_N], th_share = PTHREAD_MUTEX_INITIALIZER;
static struct nat *th_sh[TH_N];
static atomic_long th_errors, th_queued, th_released, th_opened;

static void th_lock(void *a) { pthread_mutex_lock(a); }
static void th_unlock(void *a) { pthread_mutex_unlock(a); }

/* Run p through shard s (the named one when s < 0) under its lock. */
static enum nat_verdict
th_run(struct pg_pkt *p, enum nat_side side, int s)
{
	enum nat_drop_reason why;
	enum nat_verdict v;

	if (s < 0)
		s = nat_shard(th_sh[0], p->data, p->len, side);
	if (s < 0)
		s = 0;
	pthread_mutex_lock(&th_mx[s]);
	v = pg_run(th_sh[s], p, side, T0 + SEC(1), &why);
	pthread_mutex_unlock(&th_mx[s]);
	return v;
}

/* Take what any shard released. */
static void
th_drain(int s)
{
	struct pg_pkt out;
	struct nat_pkt np = { out.data, 0, sizeof(out.data), NULL };
	int rc;

	do {
		pthread_mutex_lock(&th_mx[s]);
		rc = nat_pending(th_sh[s], &np, NULL);
		pthread_mutex_unlock(&th_mx[s]);
		if (rc == 1)
			atomic_fetch_add(&th_released, 1);
		else if (rc != 0)
			atomic_fetch_add(&th_errors, 1);
	} while (rc != 0);
}

/* One fragmented datagram: the last fragment first, anywhere. */
static void
th_frags(unsigned *seed, const char *c, uint16_t cp, uint32_t id)
{
	struct pg_pkt f[3], full;
	int i;

	pg_udp(&full, c, cp, P4, 80, 1000);
	for (i = 0; i < 3; i++) {
		memset(&f[i], 0, sizeof(f[i]));
		f[i].len = pg_fragment(full.data, full.len, (size_t)i * 400,
		    i < 2 ? 400 : full.len - 20 - 800, i == 2, id, f[i].data,
		    PKT_CAP);
	}
	if (th_run(&f[2], NAT_SIDE_PUBLIC, (int)(rand_r(seed) % TH_N)) !=
	    NAT_QUEUED)
		return;
	/* a first fragment refused (source over its limit) releases nothing */
	if (th_run(&f[0], NAT_SIDE_PUBLIC, -1) != NAT_FORWARD)
		return;
	atomic_fetch_add(&th_queued, 1);
	if (th_run(&f[1], NAT_SIDE_PUBLIC, (int)(rand_r(seed) % TH_N)) !=
	    NAT_FORWARD)
		atomic_fetch_add(&th_errors, 1);
	th_drain((int)(rand_r(seed) % TH_N));
}

/* A queue's thread: flows of many clients, keep mode and full NAT. */
static void *
th_main(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg, i;
	struct nat_stats st;
	struct pg_pkt p;
	struct pg_info pi;
	char c[32];
	uint16_t cp, dp;

	for (i = 0; i < TH_ITER; i++) {
		snprintf(c, sizeof(c), "198.51.100.%u", 1 + rand_r(&seed) % 64);
		cp = (uint16_t)(1024 + rand_r(&seed) % 59000);
		dp = i % 2 ? 53 : 80;
		if (i % 8 == 0) {
			th_frags(&seed, c, cp, (uint32_t)(seed & 0xffff));
			continue;
		}
		pg_udp(&p, c, cp, P4, dp, 20);
		if (th_run(&p, NAT_SIDE_PUBLIC, -1) != NAT_FORWARD)
			continue;
		atomic_fetch_add(&th_opened, 1);
		assert_parse(&p, &pi);
		pg_udp(&p, B4, dp, dp == 53 ? R4 : c, pi.sport, 20);
		if (th_run(&p, NAT_SIDE_INSIDE, -1) != NAT_FORWARD)
			atomic_fetch_add(&th_errors, 1);
		if (i % 64 == 0) {
			pthread_mutex_lock(&th_mx[0]);
			nat_get_stats(th_sh[0], &st);
			nat_sweep(th_sh[0], T0 + SEC(1), 64);
			pthread_mutex_unlock(&th_mx[0]);
		}
	}
	return NULL;
}

static void
test_threads(void **st)
{
	struct nat_share_ops ops = { th_lock, th_unlock, &th_share };
	struct nat_settings s;
	pthread_t t[TH_N];
	int i;

	(void)st;
	rules[0] = fx_relay_rule(B4, NAT_P_UDP, 53, 53, 0, R4);
	rules[1] = fx_rule(B4, ALLP, 1, 60999, 0);
	settings(&s, 2);
	s.src_max_flows = 50;
	for (i = 0; i < TH_N; i++) {
		pthread_mutex_init(&th_mx[i], NULL);
		th_sh[i] = mk_shard(&s, (unsigned)i, TH_N, i ? th_sh[0] : NULL,
		    &ops);
	}
	for (i = 0; i < TH_N; i++)
		assert_int_equal(pthread_create(&t[i], NULL, th_main,
		    (void *)(uintptr_t)(i + 7)), 0);
	for (i = 0; i < TH_N; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < TH_N; i++)
		th_drain(i);
	assert_int_equal(atomic_load(&th_errors), 0);
	assert_int_equal(atomic_load(&th_queued), atomic_load(&th_released));
	assert_true(atomic_load(&th_opened) > TH_ITER);
	for (i = TH_N; i-- > 0;) {
		nat_destroy(th_sh[i]);
		pthread_mutex_destroy(&th_mx[i]);
	}
}

/* A keep-mode flow of proto whose target answers on side rside. */
static void
keep_replies(uint8_t proto, enum nat_side rside)
{
	struct nat_settings s;
	struct flow_case fc;

	settings(&s, fx_keep_all(rules));
	set_make(&s, 2);
	fc_public(&fc, 0, 0, 80);
	fc.proto = proto;
	fc.rside = rside;
	run_ports(fc, T0);
	set_free();
}

/*
 * Keep mode whose target answers on the public side (its route goes out the
 * public NIC): the replies name the client's port, as from the inside.
 */
static void
test_keep_replies_public(void **st)
{
	(void)st;
	keep_replies(PKT_IPPROTO_TCP, NAT_SIDE_PUBLIC);
}

/* Keep mode whose target answers on the LAN side (the example hairpin's
 * outside clients). */
static void
test_keep_replies_lan(void **st)
{
	(void)st;
	keep_replies(PKT_IPPROTO_UDP, NAT_SIDE_LAN);
}

/*
 * A client that is a keep target itself (C4B, a target of rule 0 over every
 * port), from one of its target ports, sends to the shard of its
 * destination port: reply-side pickup of such a flow, from the reply's
 * shard, would build a flow its client never finds; it is refused.
 */
static void
test_pickup_other_shard(void **st)
{
	struct nat_settings s;
	struct pg_pkt p;
	enum nat_drop_reason why;
	enum nat_verdict v;
	uint32_t cp = 40000;

	(void)st;
	rules[0] = fx_rule(C4B, NAT_P_TCP, 1024, 65535, 0);
	rules[0].match_dst = true;
	rules[0].dst = pg_addr(P4);
	rules[1] = fx_rule(B4, NAT_P_TCP, 443, 443, 0);
	rules[1].match_dst = true;
	rules[1].dst = pg_addr(P4B);
	settings(&s, 2);
	s.tcp_no_pickup = false;
	set_make(&s, 2);
	while (nat_port_shard(cp, 2) == nat_port_shard(443, 2))
		cp++;
	/* the target's ACK to the client: its shard is the client port's */
	pg_tcp(&p, B4, 443, C4B, (uint16_t)cp, PKT_TCP_ACK);
	assert_int_equal(set_run(&p, NAT_SIDE_INSIDE, T0, &v, &why),
	    (int)nat_port_shard(cp, 2));
	assert_drop(v, why, NAT_DROP_NO_FLOW);
	assert_int_equal(pg_flow_count(S.sh[nat_port_shard(cp, 2)], T0), 0);
	/* the client's packets go to the shard of port 443 */
	pg_tcp(&p, C4B, (uint16_t)cp, P4B, 443, PKT_TCP_ACK);
	assert_int_equal(shard_of(&p, NAT_SIDE_PUBLIC),
	    (int)nat_port_shard(443, 2));
	set_free();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_keep_replies_public),
		FX_TEST(test_pickup_other_shard),
		FX_TEST(test_keep_replies_lan),
		FX_TEST(test_keep2),
		FX_TEST(test_keep4),
		FX_TEST(test_full2),
		FX_TEST(test_full4),
		FX_TEST(test_hairpin2),
		FX_TEST(test_hairpin4),
		FX_TEST(test_frag_cross),
		FX_TEST(test_src_limit),
		FX_TEST(test_port_exhaustion),
		FX_TEST(test_fit),
		FX_TEST(test_create_errors),
		FX_TEST(test_shard_hostile),
		FX_TEST(test_unsharded),
		FX_TEST(test_state_round_trip),
		FX_TEST(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
