/*
 * test_nat_pickup.c - a keep-mode flow is a cache the rules can rebuild:
 * a target's packet with no flow (the relay restarted, the flow was evicted)
 * is translated exactly as the lost flow would have translated it, and the
 * flow is opened again from that side; flows the rules cannot rebuild (full
 * NAT, no public address, an earlier rule owning the port) are not. Also
 * the eviction that follows from it: rebuildable flows make room whatever
 * their state, and a UDP flow answered once is not assured.
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

static struct nat_rule rules[4];

/* An engine over n rules with max_flows flows. */
static struct nat *
mk(size_t n, uint32_t max_flows)
{
	struct nat_settings s;

	fx_settings(&s, rules, n);
	s.max_flows = max_flows;
	return fx_nat(&s);
}

/* The keep-client-ip catch-all of both families, replies answering P4 / P6. */
static struct nat *
mk_backend(uint32_t max_flows)
{
	fx_keep_all(rules);
	rules[0].pub = pg_addr(P4);
	rules[0].id = 1;
	rules[1].pub = pg_addr(P6);
	rules[1].id = 2;
	return mk(2, max_flows);
}

/* A packet from src:sp to dst:dp of proto (TCP with flags, UDP, echo). */
static void
pkt(struct pg_pkt *p, uint8_t proto, const char *src, uint16_t sp,
    const char *dst, uint16_t dp, uint8_t flags, bool reply)
{
	if (proto == PKT_IPPROTO_TCP)
		pg_tcp(p, src, sp, dst, dp, flags);
	else if (proto == PKT_IPPROTO_UDP)
		pg_udp(p, src, sp, dst, dp, 200);
	else
		pg_echo(p, src, dst, sp, reply);
}

/* Run p through n; it must be forwarded, every checksum right. */
static void
fwd(struct nat *n, struct pg_pkt *p, enum nat_side side, uint64_t now)
{
	assert_forward(n, p, side, now);
}

/*
 * The property: a target's packet translated by an engine that lost the flow
 * (B, fresh) leaves byte for byte as from the engine that kept it (A); and
 * the client's next packet then finds the rebuilt flow and leaves the same
 * way too.
 */
static void
rebuild_case(const char *c, const char *p, const char *b, uint8_t proto,
    bool partial)
{
	struct nat *a = mk_backend(64), *n = mk_backend(64);
	struct pg_pkt x, y;
	struct nat_stats st;
	struct nat_flow_info fi;
	bool tcp = proto == PKT_IPPROTO_TCP;
	uint16_t pp = proto == PKT_IPPROTO_ICMP ? 0 : 443;

	assert_non_null(a);
	assert_non_null(n);
	/* engine A sees the connection open */
	pkt(&x, proto, c, 40000, p, pp, PKT_TCP_SYN, false);
	fwd(a, &x, NAT_SIDE_PUBLIC, T0);
	pkt(&x, proto, b, pp ? pp : 40000, c, pp ? 40000 : 0,
	    PKT_TCP_SYN | PKT_TCP_ACK, true);
	fwd(a, &x, NAT_SIDE_INSIDE, T0);
	if (tcp) {
		pkt(&x, proto, c, 40000, p, pp, PKT_TCP_ACK, false);
		fwd(a, &x, NAT_SIDE_PUBLIC, T0);
	}
	/* the target talks first after the loss: the same packet to both */
	pkt(&x, proto, b, pp ? pp : 40000, c, pp ? 40000 : 0,
	    PKT_TCP_ACK | PKT_TCP_PSH, true);
	if (partial && proto != PKT_IPPROTO_ICMP)
		pg_make_partial(&x);
	pg_copy(&y, &x);
	fwd(a, &x, NAT_SIDE_INSIDE, T0 + SEC(1));
	fwd(n, &y, NAT_SIDE_INSIDE, T0 + SEC(1));
	assert_int_equal(x.len, y.len);
	assert_memory_equal(x.data, y.data, x.len);
	/* the rebuilt flow has the original tuple of the lost one */
	assert_true(pg_find_flow(n, T0 + SEC(1), tcp ? PKT_IPPROTO_TCP :
	    proto == PKT_IPPROTO_UDP ? PKT_IPPROTO_UDP :
	    (pg_addr_family(c) == 4 ? PKT_IPPROTO_ICMP : PKT_IPPROTO_ICMPV6),
	    c, 40000, &fi));
	assert_true(pg_addr_eq(&fi.orig_dst, p));
	assert_int_equal(fi.orig_dport, pp);
	assert_true(pg_addr_eq(&fi.reply_src, b));
	if (tcp)
		assert_string_equal(fi.state, "established");
	/* the client answers: found, not opened again */
	pkt(&x, proto, c, 40000, p, pp, PKT_TCP_ACK, false);
	pg_copy(&y, &x);
	fwd(a, &x, NAT_SIDE_PUBLIC, T0 + SEC(2));
	fwd(n, &y, NAT_SIDE_PUBLIC, T0 + SEC(2));
	assert_memory_equal(x.data, y.data, x.len);
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_created, 1);
	assert_int_equal(st.flows_active, 1);
	assert_int_equal(st.drops[NAT_DROP_NO_FLOW], 0);
	fx_free(a);
	fx_free(n);
}

static void test_rebuild_tcp4(void **s) { (void)s; rebuild_case(C4, P4, B4, PKT_IPPROTO_TCP, false); }
static void test_rebuild_tcp4_partial(void **s) { (void)s; rebuild_case(C4, P4, B4, PKT_IPPROTO_TCP, true); }
static void test_rebuild_tcp6(void **s) { (void)s; rebuild_case(C6, P6, B6, PKT_IPPROTO_TCP, false); }
static void test_rebuild_udp4(void **s) { (void)s; rebuild_case(C4, P4, B4, PKT_IPPROTO_UDP, false); }
static void test_rebuild_udp6(void **s) { (void)s; rebuild_case(C6, P6, B6, PKT_IPPROTO_UDP, true); }
static void test_rebuild_echo4(void **s) { (void)s; rebuild_case(C4, P4, B4, PKT_IPPROTO_ICMP, false); }

/* A forward with a port map (P4B:81 -> B4:80): the reply leaves from :81. */
static void
test_pickup_port_map(void **state)
{
	struct nat *n;
	struct pg_pkt x;
	struct pg_info pi;
	enum nat_drop_reason why;

	(void)state;
	rules[0] = fx_rule(B4, NAT_P_TCP | NAT_P_UDP, 81, 81, 80);
	rules[0].match_dst = true;
	rules[0].dst = pg_addr(P4B);
	assert_non_null(n = mk(1, 64));
	pg_tcp(&x, B4, 80, C4, 40000, PKT_TCP_ACK);
	fwd(n, &x, NAT_SIDE_INSIDE, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, P4B, 81, C4, 40000);
	pg_tcp(&x, C4, 40000, P4B, 81, PKT_TCP_ACK);
	fwd(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, C4, 40000, B4, 80);
	/* outside the target's range: nothing to rebuild */
	pg_tcp(&x, B4, 81, C4, 40001, PKT_TCP_ACK);
	assert_drop(pg_run(n, &x, NAT_SIDE_INSIDE, T0, &why), why,
	    NAT_DROP_NO_FLOW);
	fx_free(n);
}

/* What the rules cannot rebuild stays dropped as no_flow. */
static void
test_pickup_refused(void **state)
{
	struct nat *n;
	struct pg_pkt x;
	enum nat_drop_reason why;
	struct nat_stats st;

	(void)state;
	/* port 22 excluded ahead of the catch-all; no public address for v6 */
	memset(&rules[0], 0, sizeof(rules[0]));
	rules[0].family = 4;
	rules[0].action = NAT_RULE_PASS;
	rules[0].protos = NAT_P_TCP;
	rules[0].port_lo = rules[0].port_hi = 22;
	fx_keep_all(&rules[1]);
	rules[1].pub = pg_addr(P4);
	assert_non_null(n = mk(3, 64));
	pg_tcp(&x, B4, 22, C4, 40000, PKT_TCP_ACK);
	assert_drop(pg_run(n, &x, NAT_SIDE_INSIDE, T0, &why), why, NAT_DROP_NO_FLOW);
	pg_tcp(&x, B6, 80, C6, 40000, PKT_TCP_ACK);
	assert_drop(pg_run(n, &x, NAT_SIDE_INSIDE, T0, &why), why, NAT_DROP_NO_FLOW);
	/* the inside opens nothing but lost flows: no SYN, no RST */
	pg_tcp(&x, B4, 80, C4, 40000, PKT_TCP_SYN);
	assert_drop(pg_run(n, &x, NAT_SIDE_INSIDE, T0, &why), why, NAT_DROP_NO_FLOW);
	pg_tcp(&x, B4, 80, C4, 40000, PKT_TCP_RST | PKT_TCP_ACK);
	assert_drop(pg_run(n, &x, NAT_SIDE_INSIDE, T0, &why), why, NAT_DROP_NO_FLOW);
	/* another source than the target */
	pg_tcp(&x, RTR4, 80, C4, 40000, PKT_TCP_ACK);
	assert_drop(pg_run(n, &x, NAT_SIDE_INSIDE, T0, &why), why, NAT_DROP_NO_FLOW);
	/* a bad checksum holds no slot */
	pg_udp(&x, B4, 53, C4, 40000, 20);
	x.data[x.len - 1] ^= 0xff;
	assert_drop(pg_run(n, &x, NAT_SIDE_INSIDE, T0, &why), why, NAT_DROP_BAD_CSUM);
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_created, 0);
	fx_free(n);

	/* full NAT: the relay port was the engine's choice, not the rules' */
	rules[0] = fx_rule(B4, ALLP, 1, 65535, 0);
	rules[0].pub = pg_addr(P4);
	rules[0].source = NAT_SOURCE_RELAY;
	rules[0].relay_src = pg_addr(R4);
	assert_non_null(n = mk(1, 64));
	pg_tcp(&x, B4, 80, R4, 61000, PKT_TCP_ACK);
	assert_drop(pg_run(n, &x, NAT_SIDE_INSIDE, T0, &why), why, NAT_DROP_NO_FLOW);
	fx_free(n);
}

/* tcp_no_pickup turns reply-side pickup off as well. */
static void
test_pickup_off(void **state)
{
	struct nat_settings s;
	struct nat *n;
	struct pg_pkt x;
	enum nat_drop_reason why;

	(void)state;
	rules[0] = fx_rule(B4, ALLP, 1, 65535, 0);
	rules[0].pub = pg_addr(P4);
	fx_settings(&s, rules, 1);
	s.tcp_no_pickup = true;
	assert_non_null(n = fx_nat(&s));
	pg_tcp(&x, B4, 80, C4, 40000, PKT_TCP_ACK);
	assert_drop(pg_run(n, &x, NAT_SIDE_INSIDE, T0, &why), why, NAT_DROP_NO_FLOW);
	/* UDP has no handshake to wait for: still rebuilt */
	pg_udp(&x, B4, 53, C4, 40000, 20);
	fwd(n, &x, NAT_SIDE_INSIDE, T0);
	fx_free(n);
}

/*
 * A segment picked up from one side only (a late packet after the close) is
 * neither assured nor kept for the established timeout; once both sides
 * talk it is.
 */
static void
test_pickup_one_sided(void **state)
{
	struct nat *n = mk_backend(64);
	struct nat_flow_info fi;
	struct pg_pkt x;

	(void)state;
	assert_non_null(n);
	pg_tcp(&x, B4, 80, C4, 40000, PKT_TCP_ACK);
	fwd(n, &x, NAT_SIDE_INSIDE, T0);
	pg_tcp(&x, B4, 80, C4, 40001, PKT_TCP_ACK);
	fwd(n, &x, NAT_SIDE_INSIDE, T0);
	pg_tcp(&x, C4, 40001, P4, 80, PKT_TCP_ACK);
	fwd(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_true(pg_find_flow(n, T0, PKT_IPPROTO_TCP, C4, 40000, &fi));
	assert_false(fi.assured);
	assert_true(fi.expires <= 240);
	assert_true(pg_find_flow(n, T0, PKT_IPPROTO_TCP, C4, 40001, &fi));
	assert_true(fi.assured);
	assert_true(fi.expires > 7000);
	assert_int_equal(pg_sweep_all(n, T0 + SEC(242)), 1);
	assert_false(pg_find_flow(n, T0 + SEC(242), PKT_IPPROTO_TCP, C4, 40000, &fi));
	assert_true(pg_find_flow(n, T0 + SEC(242), PKT_IPPROTO_TCP, C4, 40001, &fi));
	fx_free(n);
}

/* Open and assure a TCP flow from client port cp. */
static void
tcp_assured(struct nat *n, uint16_t cp, uint64_t now)
{
	struct pg_pkt x;

	pg_tcp(&x, C4, cp, P4, 80, PKT_TCP_SYN);
	fwd(n, &x, NAT_SIDE_PUBLIC, now);
	pg_tcp(&x, B4, 80, C4, cp, PKT_TCP_SYN | PKT_TCP_ACK);
	fwd(n, &x, NAT_SIDE_INSIDE, now);
	pg_tcp(&x, C4, cp, P4, 80, PKT_TCP_ACK);
	fwd(n, &x, NAT_SIDE_PUBLIC, now);
}

/*
 * A full table of assured keep-mode flows still takes a new one: the oldest
 * rebuildable flow makes room, and its next packet rebuilds it.
 */
static void
test_evict_rebuildable(void **state)
{
	struct nat *n = mk_backend(4);
	struct nat_stats st;
	struct pg_pkt x;
	uint16_t cp;

	(void)state;
	assert_non_null(n);
	for (cp = 1; cp <= 4; cp++)
		tcp_assured(n, (uint16_t)(40000 + cp), T0 + SEC(cp));
	pg_tcp(&x, C4, 50000, P4, 80, PKT_TCP_SYN);
	fwd(n, &x, NAT_SIDE_PUBLIC, T0 + SEC(5));
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_evicted, 1);
	assert_int_equal(st.flows_active, 4);
	/* the evicted one (the oldest) comes back with its server's data */
	pg_tcp(&x, B4, 80, C4, 40001, PKT_TCP_ACK);
	fwd(n, &x, NAT_SIDE_INSIDE, T0 + SEC(6));
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_evicted, 2);
	assert_int_equal(st.drops[NAT_DROP_TABLE_FULL], 0);
	fx_free(n);
}

/* Full NAT flows, assured, are never evicted: the new flow is refused. */
static void
test_no_evict_full_nat(void **state)
{
	struct nat *n;
	struct pg_pkt x;
	struct pg_info pi;
	enum nat_drop_reason why;
	uint16_t cp;

	(void)state;
	rules[0] = fx_relay_rule(B4, ALLP, 1, 65535, 0, R4);
	assert_non_null(n = mk(1, 2));
	for (cp = 1; cp <= 2; cp++) {
		pg_tcp(&x, C4, (uint16_t)(40000 + cp), P4, 80, PKT_TCP_SYN);
		fwd(n, &x, NAT_SIDE_PUBLIC, T0);
		assert_parse(&x, &pi);
		pg_tcp(&x, B4, 80, R4, pi.sport, PKT_TCP_SYN | PKT_TCP_ACK);
		fwd(n, &x, NAT_SIDE_INSIDE, T0);
		pg_tcp(&x, C4, (uint16_t)(40000 + cp), P4, 80, PKT_TCP_ACK);
		fwd(n, &x, NAT_SIDE_PUBLIC, T0);
	}
	pg_tcp(&x, C4, 50000, P4, 80, PKT_TCP_SYN);
	assert_drop(pg_run(n, &x, NAT_SIDE_PUBLIC, T0, &why), why,
	    NAT_DROP_TABLE_FULL);
	fx_free(n);
}

/*
 * Table pressure: UDP flows answered once each (one-shot queries) are not
 * assured, so a table full of them still takes a new TCP flow at once; a UDP
 * flow with traffic after its reply is assured.
 */
static void
test_udp_answered_once(void **state)
{
	struct nat *n;
	struct nat_flow_info fi;
	struct nat_stats st;
	struct pg_pkt x;
	int i;

	(void)state;
	/* no public address: nothing rebuildable, only assurance counts */
	rules[0] = fx_rule(B4, ALLP, 1, 65535, 0);
	assert_non_null(n = mk(1, 64));
	for (i = 0; i < 5000; i++) {
		pg_udp(&x, C4, (uint16_t)(10000 + i), P4, 53, 20);
		fwd(n, &x, NAT_SIDE_PUBLIC, T0 + (uint64_t)i);
		pg_udp(&x, B4, 53, C4, (uint16_t)(10000 + i), 40);
		fwd(n, &x, NAT_SIDE_INSIDE, T0 + (uint64_t)i);
	}
	pg_tcp(&x, C4B, 40000, P4, 80, PKT_TCP_SYN);
	fwd(n, &x, NAT_SIDE_PUBLIC, T0 + SEC(6));
	nat_get_stats(n, &st);
	assert_int_equal(st.drops[NAT_DROP_TABLE_FULL], 0);
	assert_int_equal(st.flows_active, 64);
	/* a two-way stream: reply, then more traffic */
	pg_udp(&x, C4B, 5000, P4, 53, 20);
	fwd(n, &x, NAT_SIDE_PUBLIC, T0 + SEC(7));
	pg_udp(&x, B4, 53, C4B, 5000, 20);
	fwd(n, &x, NAT_SIDE_INSIDE, T0 + SEC(7));
	assert_true(pg_find_flow(n, T0 + SEC(7), PKT_IPPROTO_UDP, C4B, 5000, &fi));
	assert_false(fi.assured);
	pg_udp(&x, C4B, 5000, P4, 53, 20);
	fwd(n, &x, NAT_SIDE_PUBLIC, T0 + SEC(7));
	assert_true(pg_find_flow(n, T0 + SEC(7), PKT_IPPROTO_UDP, C4B, 5000, &fi));
	assert_true(fi.assured);
	fx_free(n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_rebuild_tcp4),
		FX_TEST(test_rebuild_tcp4_partial),
		FX_TEST(test_rebuild_tcp6),
		FX_TEST(test_rebuild_udp4),
		FX_TEST(test_rebuild_udp6),
		FX_TEST(test_rebuild_echo4),
		FX_TEST(test_pickup_port_map),
		FX_TEST(test_pickup_refused),
		FX_TEST(test_pickup_off),
		FX_TEST(test_pickup_one_sided),
		FX_TEST(test_evict_rebuildable),
		FX_TEST(test_no_evict_full_nat),
		FX_TEST(test_udp_answered_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
