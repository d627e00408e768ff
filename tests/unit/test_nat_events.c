/*
 * test_nat_events.c - the flow event hook (flow logging): a new flow is
 * reported once with both tuples after its first packet, a flow that goes is
 * reported once with why (expired by the sweep or by a late packet, evicted
 * to make room), and no hook means no events.
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

#define MAXEV 16

struct rec {
	size_t n;
	enum nat_flow_event ev[MAXEV];
	struct nat_flow_info fi[MAXEV];
};

static struct nat_rule rules[1];

/* Keep every event. */
static void
record(const struct nat_flow_info *fi, enum nat_flow_event ev, void *arg)
{
	struct rec *r = arg;

	assert_true(r->n < MAXEV);
	r->ev[r->n] = ev;
	r->fi[r->n] = *fi;
	r->n++;
}

/* An engine with one backend rule and the recorder as hook. */
static struct nat *
mk(uint32_t max_flows, struct rec *r)
{
	struct nat_settings s;
	struct nat *n;

	rules[0] = fx_rule(B4, ALLP, 1, 65535, 0);
	fx_settings(&s, rules, 1);
	s.max_flows = max_flows;
	n = fx_nat(&s);
	assert_non_null(n);
	memset(r, 0, sizeof(*r));
	nat_set_flow_hook(n, record, r);
	return n;
}

/* Client i (198.51.100.i:40000) sends UDP to P4:53. */
static enum nat_verdict
cli(struct nat *n, int i, uint64_t now)
{
	struct pg_pkt x;
	char c[32];

	snprintf(c, sizeof(c), "198.51.100.%d", i);
	pg_udp(&x, c, 40000, P4, 53, 10);
	return pg_run(n, &x, NAT_SIDE_PUBLIC, now, NULL);
}

/* A new flow: one event with both tuples, after translation. */
static void
test_new_flow(void **state)
{
	struct rec r;
	struct nat *n = mk(16, &r);
	struct pg_pkt x;

	(void)state;
	pg_tcp(&x, C4, 41828, P4, 80, PKT_TCP_SYN);
	assert_int_equal(pg_run(n, &x, NAT_SIDE_PUBLIC, T0, NULL), NAT_FORWARD);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.ev[0], NAT_FLOW_NEW);
	assert_int_equal(r.fi[0].proto, PKT_IPPROTO_TCP);
	assert_true(pg_addr_eq(&r.fi[0].orig_src, C4));
	assert_true(pg_addr_eq(&r.fi[0].orig_dst, P4));
	assert_int_equal(r.fi[0].orig_sport, 41828);
	assert_int_equal(r.fi[0].orig_dport, 80);
	assert_true(pg_addr_eq(&r.fi[0].reply_src, B4));
	assert_true(pg_addr_eq(&r.fi[0].reply_dst, C4));
	assert_int_equal(r.fi[0].reply_sport, 80);
	assert_string_equal(r.fi[0].state, "syn_sent");
	assert_int_equal(r.fi[0].packets[0], 1);
	/* more packets of the flow: no more events */
	pg_tcp(&x, C4, 41828, P4, 80, PKT_TCP_SYN);
	pg_run(n, &x, NAT_SIDE_PUBLIC, T0 + 1, NULL);
	assert_int_equal(r.n, 1);
	fx_free(n);
}

/* Packets the engine does not track make no event. */
static void
test_no_event_for_drops(void **state)
{
	struct rec r;
	struct nat *n = mk(16, &r);
	struct pg_pkt x;

	(void)state;
	/* a reply without a flow, and a packet no rule claims */
	pg_udp(&x, B4, 53, C4, 40000, 10);
	assert_int_equal(pg_run(n, &x, NAT_SIDE_INSIDE, T0, NULL), NAT_DROP);
	pg_udp(&x, C6, 40000, P6, 53, 10);
	pg_run(n, &x, NAT_SIDE_PUBLIC, T0, NULL);
	assert_int_equal(r.n, 0);
	fx_free(n);
}

/* The sweep expires an idle flow: one "expired" event with its tuples. */
static void
test_expired_by_sweep(void **state)
{
	struct rec r;
	struct nat *n = mk(16, &r);

	(void)state;
	assert_int_equal(cli(n, 7, T0), NAT_FORWARD);
	assert_int_equal(pg_sweep_all(n, T0 + SEC(100)), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(pg_sweep_all(n, T0 + SEC(302)), 1);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.ev[1], NAT_FLOW_EXPIRED);
	assert_true(pg_addr_eq(&r.fi[1].orig_src, "198.51.100.7"));
	assert_int_equal(r.fi[1].idle, 302);
	assert_string_equal(nat_flow_event_name(r.ev[1]), "expired");
	fx_free(n);
}

/* A packet on an expired flow: "expired" for the old one, "new" after. */
static void
test_expired_by_packet(void **state)
{
	struct rec r;
	struct nat *n = mk(16, &r);

	(void)state;
	assert_int_equal(cli(n, 7, T0), NAT_FORWARD);
	assert_int_equal(cli(n, 7, T0 + SEC(400)), NAT_FORWARD);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.ev[0], NAT_FLOW_NEW);
	assert_int_equal(r.ev[1], NAT_FLOW_EXPIRED);
	assert_int_equal(r.ev[2], NAT_FLOW_NEW);
	assert_int_equal(r.fi[2].age, 0);
	fx_free(n);
}

/* A full table evicts the oldest unassured flow: "evicted", then "new". */
static void
test_evicted(void **state)
{
	struct rec r;
	struct nat *n = mk(2, &r);

	(void)state;
	assert_int_equal(cli(n, 1, T0), NAT_FORWARD);
	assert_int_equal(cli(n, 2, T0 + SEC(1)), NAT_FORWARD);
	assert_int_equal(cli(n, 3, T0 + SEC(2)), NAT_FORWARD);
	assert_int_equal(r.n, 4);
	assert_int_equal(r.ev[2], NAT_FLOW_EVICTED);
	assert_true(pg_addr_eq(&r.fi[2].orig_src, "198.51.100.1"));
	assert_int_equal(r.ev[3], NAT_FLOW_NEW);
	assert_true(pg_addr_eq(&r.fi[3].orig_src, "198.51.100.3"));
	assert_string_equal(nat_flow_event_name(NAT_FLOW_EVICTED), "evicted");
	assert_string_equal(nat_flow_event_name(NAT_FLOW_EVENT_MAX), "?");
	fx_free(n);
}

/* Clearing the hook stops events; flows are tracked as before. */
static void
test_hook_cleared(void **state)
{
	struct rec r;
	struct nat *n = mk(16, &r);
	struct nat_stats st;

	(void)state;
	nat_set_flow_hook(n, NULL, NULL);
	assert_int_equal(cli(n, 1, T0), NAT_FORWARD);
	assert_int_equal(pg_sweep_all(n, T0 + SEC(400)), 1);
	assert_int_equal(r.n, 0);
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_created, 1);
	assert_int_equal(st.flows_expired, 1);
	fx_free(n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_flow),
		cmocka_unit_test(test_no_event_for_drops),
		cmocka_unit_test(test_expired_by_sweep),
		cmocka_unit_test(test_expired_by_packet),
		cmocka_unit_test(test_evicted),
		cmocka_unit_test(test_hook_cleared),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
