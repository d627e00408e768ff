/*
 * test_nat_retarget.c - a flow that never had a reply follows the rules: a
 * client retrying (TCP SYN, UDP, echo) after a reload changed the rule's
 * target, removed the rule or moved the relay address reaches what the
 * rules say now, from the next second of the clock on; an answered flow,
 * a non-SYN segment and a retry within the same second stay where they are.
 * Every translated packet is checked by a full checksum recompute.
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

#define B4B "10.22.22.2"		/* the target after the reload */
#define B6B "fd00:22::2"
#define R4B "192.0.2.2"			/* the relay address after the reload */

struct rt_events {
	unsigned n[NAT_FLOW_EVENT_MAX];
};

static struct nat_rule rt_rules[1];

/* Count flow events by kind. */
static void
rt_record(const struct nat_flow_info *fi, enum nat_flow_event ev, void *arg)
{
	struct rt_events *r = arg;

	(void)fi;
	assert_true((unsigned)ev < NAT_FLOW_EVENT_MAX);
	r->n[ev]++;
}

/* An engine with one rule r, events counted in ev (may be NULL). */
static struct nat *
rt_engine(struct nat_rule r, struct rt_events *ev)
{
	struct nat_settings s;
	struct nat *e;

	rt_rules[0] = r;
	fx_settings(&s, rt_rules, 1);
	e = fx_nat(&s);
	assert_non_null(e);
	if (ev != NULL) {
		memset(ev, 0, sizeof(*ev));
		nat_set_flow_hook(e, rt_record, ev);
	}
	return e;
}

/* Reload e with rule r alone. */
static void
rt_reload(struct nat *e, struct nat_rule r)
{
	struct nat_settings s;
	char err[ERRLEN] = "";

	rt_rules[0] = r;
	fx_settings(&s, rt_rules, 1);
	if (nat_reconfigure(e, &s, err) != 0)
		fail_msg("nat_reconfigure: %s", err);
}

/* Run x from the public side; it must leave from src:sport to dst:dport. */
static void
rt_out(struct nat *e, struct pg_pkt *x, uint64_t now, const char *src,
    uint16_t sport, const char *dst, uint16_t dport)
{
	struct pg_info pi;

	assert_forward(e, x, NAT_SIDE_PUBLIC, now);
	assert_parse(x, &pi);
	assert_pkt_tuple(&pi, src, sport, dst, dport);
}

/* A client SYN from C4:40000 to P4:80. */
static void
rt_syn(struct pg_pkt *x)
{
	pg_tcp(x, C4, 40000, P4, 80, PKT_TCP_SYN);
}

/* The engine's counters. */
static struct nat_stats
rt_stats(const struct nat *e)
{
	struct nat_stats st;

	nat_get_stats(e, &st);
	return st;
}

/*
 * A SYN unanswered at the old target: after a reload, the retransmit a
 * second later goes to the new target, and its answer reaches the client.
 */
static void
test_syn_follows_reload(void **state)
{
	struct rt_events ev;
	struct nat *e = rt_engine(fx_rule(B4, NAT_P_TCP, 80, 80, 80), &ev);
	struct pg_pkt x;
	struct pg_info pi;

	(void)state;
	rt_syn(&x);
	rt_out(e, &x, T0, C4, 40000, B4, 80);
	rt_reload(e, fx_rule(B4B, NAT_P_TCP, 80, 80, 80));
	rt_syn(&x);
	rt_out(e, &x, T0 + SEC(1), C4, 40000, B4B, 80);
	assert_int_equal(rt_stats(e).flows_retargeted, 1);
	assert_int_equal(rt_stats(e).flows_active, 1);
	assert_int_equal(ev.n[NAT_FLOW_RETARGETED], 1);
	assert_int_equal(ev.n[NAT_FLOW_NEW], 2);
	assert_string_equal(nat_flow_event_name(NAT_FLOW_RETARGETED),
	    "retargeted");
	/* the new target answers; the old one is no longer a flow's */
	pg_tcp(&x, B4B, 80, C4, 40000, PKT_TCP_SYN | PKT_TCP_ACK);
	assert_forward(e, &x, NAT_SIDE_INSIDE, T0 + SEC(1));
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, P4, 80, C4, 40000);
	/* answered: the flow keeps its target through the next reload */
	rt_reload(e, fx_rule(B4, NAT_P_TCP, 80, 80, 80));
	pg_tcp(&x, C4, 40000, P4, 80, PKT_TCP_ACK);
	rt_out(e, &x, T0 + SEC(5), C4, 40000, B4B, 80);
	assert_int_equal(rt_stats(e).flows_retargeted, 1);
}

/*
 * Not due: a retransmit within the second, and a segment that is not a
 * bare SYN, keep the old target; the next SYN a second on moves.
 */
static void
test_not_due(void **state)
{
	struct nat *e = rt_engine(fx_rule(B4, NAT_P_TCP, 80, 80, 80), NULL);
	struct pg_pkt x;

	(void)state;
	rt_syn(&x);
	rt_out(e, &x, T0, C4, 40000, B4, 80);
	rt_reload(e, fx_rule(B4B, NAT_P_TCP, 80, 80, 80));
	rt_syn(&x);
	rt_out(e, &x, T0 + 500, C4, 40000, B4, 80);
	pg_tcp(&x, C4, 40000, P4, 80, PKT_TCP_ACK);
	rt_out(e, &x, T0 + SEC(2), C4, 40000, B4, 80);
	assert_int_equal(rt_stats(e).flows_retargeted, 0);
	rt_syn(&x);
	rt_out(e, &x, T0 + SEC(4), C4, 40000, B4B, 80);
	assert_int_equal(rt_stats(e).flows_retargeted, 1);
}

/*
 * A one-way UDP stream without a pause: its packets within the second stay
 * (the rules are not asked per packet); its first in the next second moves.
 */
static void
test_udp_stream(void **state)
{
	struct nat *e = rt_engine(fx_rule(B4, NAT_P_UDP, 514, 514, 514), NULL);
	struct pg_pkt x;
	int i;

	(void)state;
	pg_udp(&x, C4, 40000, P4, 514, 100);
	rt_out(e, &x, T0, C4, 40000, B4, 514);
	rt_reload(e, fx_rule(B4B, NAT_P_UDP, 514, 514, 514));
	for (i = 0; i < 1000; i++) {
		pg_udp(&x, C4, 40000, P4, 514, 100);
		rt_out(e, &x, T0 + (uint64_t)i, C4, 40000, B4, 514);
	}
	assert_int_equal(rt_stats(e).flows_retargeted, 0);
	pg_udp(&x, C4, 40000, P4, 514, 100);
	rt_out(e, &x, T0 + SEC(1), C4, 40000, B4B, 514);
	assert_int_equal(rt_stats(e).flows_retargeted, 1);
}

/* An answered UDP flow keeps its target across a reload. */
static void
test_answered_stays(void **state)
{
	struct nat *e = rt_engine(fx_rule(B4, NAT_P_UDP, 53, 53, 53), NULL);
	struct pg_pkt x;

	(void)state;
	pg_udp(&x, C4, 40000, P4, 53, 40);
	rt_out(e, &x, T0, C4, 40000, B4, 53);
	pg_udp(&x, B4, 53, C4, 40000, 80);
	assert_forward(e, &x, NAT_SIDE_INSIDE, T0);
	rt_reload(e, fx_rule(B4B, NAT_P_UDP, 53, 53, 53));
	pg_udp(&x, C4, 40000, P4, 53, 40);
	rt_out(e, &x, T0 + SEC(10), C4, 40000, B4, 53);
	assert_int_equal(rt_stats(e).flows_retargeted, 0);
}

/*
 * A new connection on a closed flow's tuple (the old target reset it, then
 * a reload) goes where the rules say now, at once; with the same target it
 * reopens the flow in place.
 */
static void
test_reopen(void **state)
{
	struct nat *e = rt_engine(fx_rule(B4, NAT_P_TCP, 80, 80, 80), NULL);
	struct pg_pkt x;

	(void)state;
	rt_syn(&x);
	rt_out(e, &x, T0, C4, 40000, B4, 80);
	pg_tcp(&x, B4, 80, C4, 40000, PKT_TCP_RST | PKT_TCP_ACK);
	assert_forward(e, &x, NAT_SIDE_INSIDE, T0);
	rt_syn(&x);
	rt_out(e, &x, T0, C4, 40000, B4, 80);	/* same target: reopened */
	assert_int_equal(rt_stats(e).flows_retargeted, 0);
	pg_tcp(&x, B4, 80, C4, 40000, PKT_TCP_RST | PKT_TCP_ACK);
	assert_forward(e, &x, NAT_SIDE_INSIDE, T0);
	rt_reload(e, fx_rule(B4B, NAT_P_TCP, 80, 80, 80));
	rt_syn(&x);
	rt_out(e, &x, T0, C4, 40000, B4B, 80);
	assert_int_equal(rt_stats(e).flows_retargeted, 1);
	assert_int_equal(rt_stats(e).flows_active, 1);
}

/* A rule that is gone: the unanswered flow goes, the retry is not ours. */
static void
test_rule_gone(void **state)
{
	struct nat *e = rt_engine(fx_rule(B4, NAT_P_TCP, 80, 80, 80), NULL);
	enum nat_drop_reason why;
	struct pg_pkt x;

	(void)state;
	rt_syn(&x);
	rt_out(e, &x, T0, C4, 40000, B4, 80);
	rt_reload(e, fx_rule(B4, NAT_P_TCP, 81, 81, 81));
	rt_syn(&x);
	assert_int_equal(pg_run(e, &x, NAT_SIDE_PUBLIC, T0 + SEC(1), &why),
	    NAT_NOT_OURS);
	assert_int_equal(pg_flow_count(e, T0 + SEC(1)), 0);
	assert_int_equal(rt_stats(e).flows_retargeted, 1);
}

/*
 * Full NAT: a new target, then a new relay address; each retry leaves
 * from the relay address the rules name, and the answer comes back.
 */
static void
test_full_nat(void **state)
{
	struct nat *e = rt_engine(fx_relay_rule(B4, NAT_P_TCP, 80, 80, 80, R4),
	    NULL);
	struct pg_pkt x;
	struct pg_info pi;
	uint16_t rp;

	(void)state;
	rt_syn(&x);
	assert_forward(e, &x, NAT_SIDE_PUBLIC, T0);
	assert_parse(&x, &pi);
	assert_true(pg_addr_eq(&pi.src, R4) && pg_addr_eq(&pi.dst, B4));
	rt_reload(e, fx_relay_rule(B4B, NAT_P_TCP, 80, 80, 80, R4));
	rt_syn(&x);
	assert_forward(e, &x, NAT_SIDE_PUBLIC, T0 + SEC(1));
	assert_parse(&x, &pi);
	assert_true(pg_addr_eq(&pi.src, R4) && pg_addr_eq(&pi.dst, B4B));
	rt_reload(e, fx_relay_rule(B4B, NAT_P_TCP, 80, 80, 80, R4B));
	rt_syn(&x);
	assert_forward(e, &x, NAT_SIDE_PUBLIC, T0 + SEC(3));
	assert_parse(&x, &pi);
	assert_true(pg_addr_eq(&pi.src, R4B) && pg_addr_eq(&pi.dst, B4B));
	rp = pi.sport;
	assert_int_equal(rt_stats(e).flows_retargeted, 2);
	assert_int_equal(rt_stats(e).mappings, 1);
	pg_tcp(&x, B4B, 80, R4B, rp, PKT_TCP_SYN | PKT_TCP_ACK);
	assert_forward(e, &x, NAT_SIDE_INSIDE, T0 + SEC(3));
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, P4, 80, C4, 40000);
}

/* IPv6 UDP and an IPv4 echo follow a new target too. */
static void
test_udp6_echo(void **state)
{
	struct nat *e = rt_engine(fx_rule(B6, NAT_P_UDP, 53, 53, 53), NULL);
	struct pg_pkt x;
	struct pg_info pi;

	(void)state;
	pg_udp(&x, C6, 40000, P6, 53, 40);
	rt_out(e, &x, T0, C6, 40000, B6, 53);
	rt_reload(e, fx_rule(B6B, NAT_P_UDP, 53, 53, 53));
	pg_udp(&x, C6, 40000, P6, 53, 40);
	rt_out(e, &x, T0 + SEC(2), C6, 40000, B6B, 53);
	fx_free(e);

	e = rt_engine(fx_rule(B4, NAT_P_ICMP, 1, 65535, 0), NULL);
	pg_echo(&x, C4, P4, 77, false);
	assert_forward(e, &x, NAT_SIDE_PUBLIC, T0);
	assert_parse(&x, &pi);
	assert_true(pg_addr_eq(&pi.dst, B4));
	rt_reload(e, fx_rule(B4B, NAT_P_ICMP, 1, 65535, 0));
	pg_echo(&x, C4, P4, 77, false);
	assert_forward(e, &x, NAT_SIDE_PUBLIC, T0 + SEC(1));
	assert_parse(&x, &pi);
	assert_true(pg_addr_eq(&pi.dst, B4B));
	assert_int_equal(rt_stats(e).flows_retargeted, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_syn_follows_reload),
		FX_TEST(test_not_due),
		FX_TEST(test_udp_stream),
		FX_TEST(test_answered_stays),
		FX_TEST(test_reopen),
		FX_TEST(test_rule_gone),
		FX_TEST(test_full_nat),
		FX_TEST(test_udp6_echo),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
