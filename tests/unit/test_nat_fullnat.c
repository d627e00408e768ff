/*
 * test_nat_fullnat.c - full NAT (NAT_SOURCE_RELAY, port forward) and hairpin
 * (NAT_SIDE_LAN, hairpin): source rewritten to the relay's address with a
 * port from nat_port_lo..hi, endpoint-independent mapping (RFC 4787 REQ-1),
 * no port overloading, parity, the CVE-2021-3773 pattern, exhaustion, release.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"
#include "pktgen.h"

#define DEF_LO 61000
#define DEF_HI 65534

static struct nat_rule rules[4];

/* Rules: v4 and v6 full NAT of everything to the backend; their number. */
static size_t
relay_rules(void)
{
	rules[0] = fx_relay_rule(B4, ALLP, 1, 65535, 0, R4);
	rules[1] = fx_relay_rule(B6, ALLP, 1, 65535, 0, R6);
	return 2;
}

static struct nat *
mk_relay(uint16_t lo, uint16_t hi, uint64_t seed)
{
	struct nat_settings s;

	fx_settings(&s, rules, relay_rules());
	s.nat_port_lo = lo;
	s.nat_port_hi = hi;
	if (seed != 0)
		s.port_seed = seed;
	return fx_nat(&s);
}

/* Send c:cp -> P:dport (UDP), expect R:rp -> B:dport; returns rp. */
static uint16_t
open_udp(struct nat *n, const char *c, uint16_t cp, uint16_t dport, uint64_t now)
{
	struct pg_pkt x;
	struct pg_info pi;
	bool v6 = pg_addr_family(c) == 6;

	pg_udp(&x, c, cp, v6 ? P6 : P4, dport, 20);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, now);
	assert_parse(&x, &pi);
	assert_true(pg_addr_eq(&pi.src, v6 ? R6 : R4));
	assert_true(pg_addr_eq(&pi.dst, v6 ? B6 : B4));
	assert_int_equal(pi.dport, dport);
	if (pi.sport == cp)
		fail_msg("client %s:%u got relay port %u: its own port reused as is "
		    "(CVE-2021-3773 pattern)", c, cp, pi.sport);
	return pi.sport;
}

/* The backend answers B:dport -> R:rp; it must reach c:cp from P:dport. */
static void
answer_udp(struct nat *n, const char *c, uint16_t cp, uint16_t rp, uint16_t dport,
    enum nat_side side, uint64_t now)
{
	struct pg_pkt x;
	struct pg_info pi;
	bool v6 = pg_addr_family(c) == 6;

	pg_udp(&x, v6 ? B6 : B4, dport, v6 ? R6 : R4, rp, 30);
	assert_forward(n, &x, side, now);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, v6 ? P6 : P4, dport, c, cp);
}

/* TCP both ways with complete or partial checksums, v4 or v6. */
static void
relay_tcp(bool v6, bool partial)
{
	struct nat *n = mk_relay(0, 0, 0);
	const char *c = v6 ? C6 : C4, *p = v6 ? P6 : P4, *b = v6 ? B6 : B4, *r = v6 ? R6 : R4;
	struct pg_pkt o, x;
	struct pg_info pi;
	struct nat_flow_info fi;
	struct nat_stats st;
	uint16_t rp;

	assert_non_null(n);
	pg_tcp(&o, c, 40000, p, 80, PKT_TCP_SYN);
	if (partial)
		pg_make_partial(&o);
	pg_copy(&x, &o);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_parse(&x, &pi);
	rp = pi.sport;
	assert_pkt_tuple(&pi, r, rp, b, 80);
	assert_in_range(rp, DEF_LO, DEF_HI);
	assert_int_equal(rp % 2, 0);		/* parity of 40000 */
	assert_same_xlate(&o, &x, true, false);

	pg_tcp(&o, b, 80, r, rp, PKT_TCP_SYN | PKT_TCP_ACK);
	if (partial)
		pg_make_partial(&o);
	pg_copy(&x, &o);
	assert_forward(n, &x, NAT_SIDE_INSIDE, T0 + 1);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, p, 80, c, 40000);
	assert_same_xlate(&o, &x, true, false);

	pg_tcp(&o, c, 40000, p, 80, PKT_TCP_ACK);
	if (partial)
		pg_make_partial(&o);
	pg_copy(&x, &o);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0 + 2);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, r, rp, b, 80);
	assert_same_xlate(&o, &x, true, false);

	assert_true(pg_find_flow(n, T0 + 2, PKT_IPPROTO_TCP, c, 40000, &fi));
	assert_true(pg_addr_eq(&fi.reply_src, b));
	assert_true(pg_addr_eq(&fi.reply_dst, r));
	assert_int_equal(fi.reply_sport, 80);
	assert_int_equal(fi.reply_dport, rp);
	nat_get_stats(n, &st);
	assert_int_equal(st.mappings, 1);
	fx_free(n);
}

static void test_relay_tcp4(void **s) { (void)s; relay_tcp(false, false); }
static void test_relay_tcp4_partial(void **s) { (void)s; relay_tcp(false, true); }
static void test_relay_tcp6(void **s) { (void)s; relay_tcp(true, false); }
static void test_relay_tcp6_partial(void **s) { (void)s; relay_tcp(true, true); }

/* UDP, partial checksums, replies on the public side (port forward, one NIC). */
static void
test_relay_udp_single_nic(void **state)
{
	struct nat *n = mk_relay(0, 0, 0);
	struct pg_spec sp;
	struct pg_pkt o, x;
	struct pg_info pi;
	uint16_t rp;

	(void)state;
	assert_non_null(n);
	pg_spec_init(&sp, PKT_IPPROTO_UDP, C4, 40001, P4, 53);
	sp.payload_len = 77;
	sp.partial = true;
	pg_build(&sp, &o);
	pg_copy(&x, &o);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_parse(&x, &pi);
	rp = pi.sport;
	assert_pkt_tuple(&pi, R4, rp, B4, 53);
	assert_int_equal(rp % 2, 1);
	assert_same_xlate(&o, &x, true, false);

	pg_spec_init(&sp, PKT_IPPROTO_UDP, B4, 53, R4, rp);
	sp.payload_len = 501;
	sp.partial = true;
	pg_build(&sp, &o);
	pg_copy(&x, &o);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0 + 1);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, P4, 53, C4, 40001);
	assert_same_xlate(&o, &x, true, false);
	answer_udp(n, C4, 40001, rp, 53, NAT_SIDE_INSIDE, T0 + 2);
	fx_free(n);
}

/* Echo in full NAT: the identifier is the port; restored on the reply. */
static void
test_relay_echo(void **state)
{
	const char *cs[2] = { C4, C6 }, *ps[2] = { P4, P6 }, *bs[2] = { B4, B6 };
	const char *rs[2] = { R4, R6 };
	struct nat *n = mk_relay(0, 0, 0);
	struct pg_pkt o, x;
	struct pg_info pi;
	uint16_t rid;
	int k;

	(void)state;
	assert_non_null(n);
	for (k = 0; k < 2; k++) {
		pg_echo(&o, cs[k], ps[k], 0x1234, false);
		pg_copy(&x, &o);
		assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
		assert_parse(&x, &pi);
		rid = pi.sport;
		assert_pkt_tuple(&pi, rs[k], rid, bs[k], 0);
		assert_same_xlate(&o, &x, true, false);

		pg_echo(&o, bs[k], rs[k], rid, true);
		pg_copy(&x, &o);
		assert_forward(n, &x, NAT_SIDE_INSIDE, T0);
		assert_parse(&x, &pi);
		assert_pkt_tuple(&pi, ps[k], 0x1234, cs[k], 0);
		assert_same_xlate(&o, &x, true, false);
	}
	fx_free(n);
}

/* Two clients pinging with the same identifier: distinct relay identifiers. */
static void
test_relay_echo_same_id(void **state)
{
	struct nat *n = mk_relay(0, 0, 0);
	struct pg_pkt x;
	struct pg_info pi;
	uint16_t id1, id2;

	(void)state;
	assert_non_null(n);
	pg_echo(&x, C4, P4, 7, false);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_parse(&x, &pi);
	id1 = pi.sport;
	pg_echo(&x, C4B, P4, 7, false);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_parse(&x, &pi);
	id2 = pi.sport;
	assert_int_not_equal(id1, id2);
	pg_echo(&x, B4, R4, id2, true);
	assert_forward(n, &x, NAT_SIDE_INSIDE, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, P4, 7, C4B, 0);
	pg_echo(&x, B4, R4, id1, true);
	assert_forward(n, &x, NAT_SIDE_INSIDE, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, P4, 7, C4, 0);
	fx_free(n);
}

/* One client endpoint, two destinations: one relay port (RFC 4787 REQ-1). */
static void
test_endpoint_independent(void **state)
{
	struct nat *n;
	struct pg_pkt x;
	struct pg_info pi;
	struct nat_stats st;
	uint16_t rp1, rp2;

	(void)state;
	rules[0] = fx_rule(B4, NAT_P_UDP | NAT_P_TCP, 81, 81, 80);
	rules[1] = fx_rule("10.22.22.2", NAT_P_UDP | NAT_P_TCP, 82, 82, 8080);
	rules[0].source = rules[1].source = NAT_SOURCE_RELAY;
	rules[0].relay_src = rules[1].relay_src = pg_addr(R4);
	n = fx_engine(rules, 2);
	assert_non_null(n);

	pg_udp(&x, C4, 5000, P4, 81, 10);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_parse(&x, &pi);
	rp1 = pi.sport;
	assert_pkt_tuple(&pi, R4, rp1, B4, 80);
	pg_udp(&x, C4, 5000, P4, 82, 10);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_parse(&x, &pi);
	rp2 = pi.sport;
	assert_pkt_tuple(&pi, R4, rp2, "10.22.22.2", 8080);
	assert_int_equal(rp1, rp2);
	nat_get_stats(n, &st);
	assert_int_equal(st.mappings, 1);
	assert_int_equal(st.flows_active, 2);

	/* both answers come back to the same client endpoint */
	pg_udp(&x, "10.22.22.2", 8080, R4, rp1, 10);
	assert_forward(n, &x, NAT_SIDE_INSIDE, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, P4, 82, C4, 5000);
	pg_udp(&x, B4, 80, R4, rp1, 10);
	assert_forward(n, &x, NAT_SIDE_INSIDE, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, P4, 81, C4, 5000);
	fx_free(n);
}

/*
 * One client endpoint reaching one target through two public ports: the two
 * flows need two reply keys, so two relay ports; replies find their flow.
 */
static void
test_same_target_two_public_ports(void **state)
{
	struct nat *n;
	struct pg_pkt x;
	struct pg_info pi;
	uint16_t rp1, rp2;

	(void)state;
	rules[0] = fx_rule(B4, NAT_P_UDP, 81, 81, 80);
	rules[1] = fx_rule(B4, NAT_P_UDP, 82, 82, 80);
	rules[0].source = rules[1].source = NAT_SOURCE_RELAY;
	rules[0].relay_src = rules[1].relay_src = pg_addr(R4);
	n = fx_engine(rules, 2);
	assert_non_null(n);
	pg_udp(&x, C4, 5000, P4, 81, 10);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_parse(&x, &pi);
	rp1 = pi.sport;
	assert_pkt_tuple(&pi, R4, rp1, B4, 80);
	pg_udp(&x, C4, 5000, P4, 82, 10);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_parse(&x, &pi);
	rp2 = pi.sport;
	assert_pkt_tuple(&pi, R4, rp2, B4, 80);
	assert_int_not_equal(rp1, rp2);
	pg_udp(&x, B4, 80, R4, rp2, 10);
	assert_forward(n, &x, NAT_SIDE_INSIDE, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, P4, 82, C4, 5000);
	pg_udp(&x, B4, 80, R4, rp1, 10);
	assert_forward(n, &x, NAT_SIDE_INSIDE, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, P4, 81, C4, 5000);
	fx_free(n);
}

/* Many clients with the same source port: all distinct relay ports. */
static void
test_no_overloading(void **state)
{
	struct nat *n = mk_relay(0, 0, 0);
	static uint8_t seen[65536];
	char c[32];
	uint16_t rp[200];
	struct nat_stats st;
	int i;

	(void)state;
	assert_non_null(n);
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < 200; i++) {
		snprintf(c, sizeof(c), "198.51.100.%d", i + 1);
		rp[i] = open_udp(n, c, 5000, 53, T0);
		assert_in_range(rp[i], DEF_LO, DEF_HI);
		assert_int_equal(rp[i] % 2, 0);
		if (seen[rp[i]])
			fail_msg("relay port %u given twice (client %d)", rp[i], i);
		seen[rp[i]] = 1;
	}
	for (i = 199; i >= 0; i--) {
		snprintf(c, sizeof(c), "198.51.100.%d", i + 1);
		answer_udp(n, c, 5000, rp[i], 53, NAT_SIDE_INSIDE, T0 + 1);
	}
	/* two ports of one client: two mappings, different relay ports */
	assert_int_not_equal(open_udp(n, C6, 5000, 53, T0), open_udp(n, C6, 5001, 53, T0));
	nat_get_stats(n, &st);
	assert_int_equal(st.mappings, 202);
	fx_free(n);
}

/* The client's port parity is kept. */
static void
test_parity(void **state)
{
	struct nat *n = mk_relay(0, 0, 0);
	uint16_t cp, rp;

	(void)state;
	assert_non_null(n);
	for (cp = 1024; cp < 1100; cp++) {
		rp = open_udp(n, C4, cp, 443, T0);
		assert_int_equal(rp % 2, cp % 2);
		assert_in_range(rp, DEF_LO, DEF_HI);
	}
	fx_free(n);
}

/* A client's source port is never used as is (CVE-2021-3773 pattern). */
static void
test_client_port_never_reused(void **state)
{
	struct nat *n;
	uint64_t seed;
	uint16_t rp;

	(void)state;
	for (seed = 1; seed <= 64; seed++) {
		n = mk_relay(20, 30, seed * 0x9e3779b97f4a7c15ULL);
		assert_non_null(n);
		rp = open_udp(n, C4, 22, 53, T0);
		assert_in_range(rp, 20, 30);
		assert_int_not_equal(rp, 22);
		assert_int_equal(rp % 2, 0);
		/* and a second client on port 22 neither */
		rp = open_udp(n, C4B, 22, 53, T0);
		assert_int_not_equal(rp, 22);
		assert_in_range(rp, 20, 30);
		fx_free(n);

		n = mk_relay(0, 0, seed * 0x9e3779b97f4a7c15ULL);
		assert_non_null(n);
		rp = open_udp(n, C4, 61234, 53, T0);
		assert_int_not_equal(rp, 61234);
		assert_in_range(rp, DEF_LO, DEF_HI);
		fx_free(n);
	}
}

/* The search starts at a keyed point: two seeds do not give the same ports. */
static void
test_port_seed_matters(void **state)
{
	struct nat *a, *b;
	int i, same = 0;
	char c[32];

	(void)state;
	a = mk_relay(0, 0, 1111);
	b = mk_relay(0, 0, 2222);
	assert_non_null(a);
	assert_non_null(b);
	for (i = 0; i < 8; i++) {
		snprintf(c, sizeof(c), "198.51.100.%d", i + 1);
		if (open_udp(a, c, 5000, 53, T0) == open_udp(b, c, 5000, 53, T0))
			same++;
	}
	assert_true(same < 8);
	fx_free(a);
	fx_free(b);
}

/* A tiny range runs out: no_port, counted; the existing mappings still work. */
static void
test_port_exhaustion(void **state)
{
	struct nat *n = mk_relay(61000, 61003, 0);
	struct nat_stats st;
	struct pg_pkt x;
	enum nat_drop_reason why;
	uint16_t rp[4];
	char c[32];
	int i, j;

	(void)state;
	assert_non_null(n);
	for (i = 0; i < 4; i++) {
		snprintf(c, sizeof(c), "198.51.100.%d", i + 1);
		rp[i] = open_udp(n, c, 40000, 53, T0);
		assert_in_range(rp[i], 61000, 61003);
		for (j = 0; j < i; j++)
			assert_int_not_equal(rp[i], rp[j]);
	}
	pg_udp(&x, "198.51.100.99", 40000, P4, 53, 10);
	assert_drop(pg_run(n, &x, NAT_SIDE_PUBLIC, T0, &why), why, NAT_DROP_NO_PORT);
	pg_udp(&x, "198.51.100.99", 40001, P4, 53, 10);
	assert_drop(pg_run(n, &x, NAT_SIDE_PUBLIC, T0, &why), why, NAT_DROP_NO_PORT);
	nat_get_stats(n, &st);
	assert_int_equal(st.drops[NAT_DROP_NO_PORT], 2);
	assert_int_equal(st.flows_active, 4);
	assert_int_equal(st.mappings, 4);
	assert_int_equal(pg_flow_count(n, T0), 4);
	/* TCP ports are another space: (R, rp, proto) */
	pg_tcp(&x, "198.51.100.99", 40000, P4, 80, PKT_TCP_SYN);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	/* a mapped endpoint opens another flow on its mapping */
	assert_int_equal(open_udp(n, "198.51.100.1", 40000, 54, T0), rp[0]);
	fx_free(n);
}

/* A mapping lives while any of its flows does, then its port is free again. */
static void
test_mapping_release(void **state)
{
	struct nat *n = mk_relay(61000, 61003, 0);
	struct nat_stats st;
	struct pg_pkt x;
	enum nat_drop_reason why;
	uint16_t rp0, rp;
	char c[32];
	int i;

	(void)state;
	assert_non_null(n);
	rp0 = open_udp(n, "198.51.100.1", 40000, 53, T0);
	for (i = 1; i < 4; i++) {
		snprintf(c, sizeof(c), "198.51.100.%d", i + 1);
		open_udp(n, c, 40000, 53, T0);
	}
	/* client 1 opens a second flow later: its mapping outlives the first */
	assert_int_equal(open_udp(n, "198.51.100.1", 40000, 54, T0 + SEC(200)), rp0);
	pg_udp(&x, "198.51.100.99", 40000, P4, 53, 10);
	assert_drop(pg_run(n, &x, NAT_SIDE_PUBLIC, T0 + SEC(200), &why), why,
	    NAT_DROP_NO_PORT);

	/* at 301 s the four first flows are gone; client 1's mapping stays */
	pg_sweep_all(n, T0 + SEC(301));
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_active, 1);
	assert_int_equal(st.mappings, 1);
	assert_int_equal(open_udp(n, "198.51.100.1", 40000, 55, T0 + SEC(310)), rp0);

	/* a new client gets one of the three released ports */
	rp = open_udp(n, "198.51.100.99", 40000, 53, T0 + SEC(310));
	assert_in_range(rp, 61000, 61003);
	assert_int_not_equal(rp, rp0);

	/* all expire: no mappings left, every port free */
	pg_sweep_all(n, T0 + SEC(1000));
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_active, 0);
	assert_int_equal(st.mappings, 0);
	for (i = 0; i < 4; i++) {
		snprintf(c, sizeof(c), "198.51.100.%d", i + 101);
		open_udp(n, c, 40000, 53, T0 + SEC(1001));
	}
	fx_free(n);
}

/* A reply to a relay port nobody holds is dropped. */
static void
test_relay_unknown_port(void **state)
{
	struct nat *n = mk_relay(0, 0, 0);
	struct pg_pkt x;
	enum nat_drop_reason why;
	uint16_t rp;

	(void)state;
	assert_non_null(n);
	rp = open_udp(n, C4, 40000, 53, T0);
	pg_udp(&x, B4, 53, R4, (uint16_t)(rp == DEF_HI ? rp - 2 : rp + 2), 10);
	assert_drop(pg_run(n, &x, NAT_SIDE_INSIDE, T0, &why), why, NAT_DROP_NO_FLOW);
	fx_free(n);
}

static struct nat *
mk_hairpin(uint8_t source)
{
	struct nat_settings s;

	rules[0] = fx_rule(LANS4, NAT_P_TCP | NAT_P_UDP, 81, 81, 80);
	rules[0].source = source;
	rules[0].relay_src = pg_addr(R4);
	fx_settings(&s, rules, 1);
	s.hairpin4 = true;
	s.hairpin_src4 = pg_addr(H4);
	return fx_nat(&s);
}

/* Hairpin: a LAN client reaching a LAN server via the public address. */
static void
hairpin(uint8_t source, bool partial)
{
	struct nat *n = mk_hairpin(source);
	struct pg_pkt o, x;
	struct pg_info pi;
	uint16_t hp;

	assert_non_null(n);
	pg_tcp(&o, LANC4, 40000, P4, 81, PKT_TCP_SYN);
	if (partial)
		pg_make_partial(&o);
	pg_copy(&x, &o);
	assert_forward(n, &x, NAT_SIDE_LAN, T0);
	assert_parse(&x, &pi);
	hp = pi.sport;
	assert_pkt_tuple(&pi, H4, hp, LANS4, 80);
	assert_in_range(hp, DEF_LO, DEF_HI);
	assert_int_equal(hp % 2, 0);
	assert_same_xlate(&o, &x, true, false);

	/* the LAN server answers the relay, which answers the client */
	pg_tcp(&o, LANS4, 80, H4, hp, PKT_TCP_SYN | PKT_TCP_ACK);
	if (partial)
		pg_make_partial(&o);
	pg_copy(&x, &o);
	assert_forward(n, &x, NAT_SIDE_LAN, T0 + 1);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, P4, 81, LANC4, 40000);
	assert_same_xlate(&o, &x, true, false);

	pg_tcp(&o, LANC4, 40000, P4, 81, PKT_TCP_ACK);
	pg_copy(&x, &o);
	assert_forward(n, &x, NAT_SIDE_LAN, T0 + 2);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, H4, hp, LANS4, 80);

	/* a public client of the same forward keeps its address (keep rule) */
	pg_tcp(&x, C4, 40000, P4, 81, PKT_TCP_SYN);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0 + 3);
	assert_parse(&x, &pi);
	if (source == NAT_SOURCE_KEEP)
		assert_pkt_tuple(&pi, C4, 40000, LANS4, 80);
	else
		assert_true(pg_addr_eq(&pi.src, R4));
	fx_free(n);
}

static void test_hairpin_keep(void **s) { (void)s; hairpin(NAT_SOURCE_KEEP, false); }
static void test_hairpin_keep_partial(void **s) { (void)s; hairpin(NAT_SOURCE_KEEP, true); }
static void test_hairpin_relay_rule(void **s) { (void)s; hairpin(NAT_SOURCE_RELAY, false); }

/* The LAN reply arriving through the tunnel side is translated as well. */
static void
test_hairpin_reply_any_side(void **state)
{
	struct nat *n = mk_hairpin(NAT_SOURCE_KEEP);
	struct pg_pkt x;
	struct pg_info pi;
	uint16_t hp;

	(void)state;
	assert_non_null(n);
	pg_udp(&x, LANC4, 5353, P4, 81, 12);
	assert_forward(n, &x, NAT_SIDE_LAN, T0);
	assert_parse(&x, &pi);
	hp = pi.sport;
	assert_pkt_tuple(&pi, H4, hp, LANS4, 80);
	pg_udp(&x, LANS4, 80, H4, hp, 12);
	assert_forward(n, &x, NAT_SIDE_INSIDE, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, P4, 81, LANC4, 5353);
	fx_free(n);
}

/* Hairpin for IPv6: the LAN client's source becomes hairpin_src6. */
static void
test_hairpin6(void **state)
{
	struct nat_settings s;
	struct nat *n;
	struct pg_pkt x;
	struct pg_info pi;
	uint16_t hp;

	(void)state;
	rules[0] = fx_rule("fd00:1::32", NAT_P_TCP | NAT_P_UDP, 81, 81, 80);
	fx_settings(&s, rules, 1);
	s.hairpin6 = true;
	s.hairpin_src6 = pg_addr("fd00:1::1");
	n = fx_nat(&s);
	assert_non_null(n);
	pg_udp(&x, "fd00:1::50", 5000, P6, 81, 10);
	pg_make_partial(&x);
	assert_forward(n, &x, NAT_SIDE_LAN, T0);
	assert_parse(&x, &pi);
	hp = pi.sport;
	assert_pkt_tuple(&pi, "fd00:1::1", hp, "fd00:1::32", 80);
	assert_in_range(hp, DEF_LO, DEF_HI);
	pg_udp(&x, "fd00:1::32", 80, "fd00:1::1", hp, 10);
	assert_forward(n, &x, NAT_SIDE_LAN, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, P6, 81, "fd00:1::50", 5000);
	fx_free(n);
}

/* A LAN-opened flow's client packet arriving on the public side: wrong_side. */
static void
test_hairpin_wrong_side(void **state)
{
	struct nat *n = mk_hairpin(NAT_SOURCE_KEEP);
	struct pg_pkt x;
	enum nat_drop_reason why;

	(void)state;
	assert_non_null(n);
	pg_udp(&x, LANC4, 5353, P4, 81, 12);
	assert_forward(n, &x, NAT_SIDE_LAN, T0);
	pg_udp(&x, LANC4, 5353, P4, 81, 12);
	assert_drop(pg_run(n, &x, NAT_SIDE_PUBLIC, T0, &why), why, NAT_DROP_WRONG_SIDE);
	fx_free(n);
}

/* Evicting a full-NAT flow releases its mapping and port. */
static void
test_eviction_releases_mapping(void **state)
{
	struct nat_settings s;
	struct nat *n;
	struct nat_stats st;
	char c[32];
	int i;

	(void)state;
	fx_settings(&s, rules, relay_rules());
	s.max_flows = 2;
	s.nat_port_lo = 61000;
	s.nat_port_hi = 61001;
	n = fx_nat(&s);
	assert_non_null(n);
	for (i = 1; i <= 6; i++) {
		snprintf(c, sizeof(c), "198.51.100.%d", i);
		open_udp(n, c, 40000, 53, T0 + SEC(i));
	}
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_evicted, 4);
	assert_int_equal(st.mappings, 2);
	assert_int_equal(st.drops[NAT_DROP_NO_PORT], 0);
	fx_free(n);
}

/* Mid-stream pickup in full NAT gets a mapping like a SYN would. */
static void
test_relay_pickup(void **state)
{
	struct nat *n = mk_relay(0, 0, 0);
	struct pg_pkt x;
	struct pg_info pi;
	uint16_t rp;

	(void)state;
	assert_non_null(n);
	pg_tcp(&x, C4, 40000, P4, 80, PKT_TCP_ACK);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_parse(&x, &pi);
	rp = pi.sport;
	assert_pkt_tuple(&pi, R4, rp, B4, 80);
	pg_tcp(&x, B4, 80, R4, rp, PKT_TCP_ACK);
	assert_forward(n, &x, NAT_SIDE_INSIDE, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, P4, 80, C4, 40000);
	fx_free(n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_relay_tcp4),
		FX_TEST(test_relay_tcp4_partial),
		FX_TEST(test_relay_tcp6),
		FX_TEST(test_relay_tcp6_partial),
		FX_TEST(test_relay_udp_single_nic),
		FX_TEST(test_relay_echo),
		FX_TEST(test_relay_echo_same_id),
		FX_TEST(test_endpoint_independent),
		FX_TEST(test_same_target_two_public_ports),
		FX_TEST(test_no_overloading),
		FX_TEST(test_parity),
		FX_TEST(test_client_port_never_reused),
		FX_TEST(test_port_seed_matters),
		FX_TEST(test_port_exhaustion),
		FX_TEST(test_mapping_release),
		FX_TEST(test_relay_unknown_port),
		FX_TEST(test_hairpin_keep),
		FX_TEST(test_hairpin_keep_partial),
		FX_TEST(test_hairpin_relay_rule),
		FX_TEST(test_hairpin_reply_any_side),
		FX_TEST(test_hairpin6),
		FX_TEST(test_hairpin_wrong_side),
		FX_TEST(test_eviction_releases_mapping),
		FX_TEST(test_relay_pickup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
