/*
 * test_nat_rulestats.c - per-rule counters (nat_rule_stats: packets, bytes,
 * flows created and tracked, per rule id; kept across a reload) and
 * deleting flows by a caller's filter (nat_flows_delete: gone from the
 * table, the counters, and the lookup).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"
#include "pktgen.h"

/* A forward of tcp/80 (id 7) before a default destination (ids 1 and 2). */
static struct nat_rule rs_rules[3];

/* An engine with the three rules. */
static struct nat *
rs_engine(void)
{
	rs_rules[0] = fx_rule(B4, NAT_P_TCP, 80, 80, 8080);
	rs_rules[0].id = 7;
	fx_keep_all(&rs_rules[1]);
	rs_rules[1].id = 1;
	rs_rules[2].id = 1;	/* one config rule, two engine rules */
	return fx_engine(rs_rules, 3);
}

/* The counters of one id, failing the test when it has none. */
static struct nat_rule_stats
rs_of(const struct nat *n, uint32_t id)
{
	struct nat_rule_stats st[8];
	size_t k, i;

	k = nat_rule_stats(n, st, 8);
	for (i = 0; i < k && i < 8; i++)
		if (st[i].id == id)
			return st[i];
	fail_msg("no counters for rule id %u", id);
	return st[0];
}

/* A UDP packet from a client port to the public address, forwarded. */
static size_t
rs_udp(struct nat *n, const char *c, const char *p, uint16_t cport,
    uint16_t pport, uint64_t now)
{
	struct pg_pkt x;
	size_t len;

	len = pg_udp(&x, c, cport, p, pport, 100);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, now);
	return len;
}

/* Counters per id: distinct ids in order, packets and bytes both ways. */
static void
test_counts(void **state)
{
	struct nat *n = rs_engine();
	struct nat_rule_stats st[8], a;
	struct pg_pkt x;
	size_t len, b = 0;

	(void)state;
	assert_int_equal(nat_rule_stats(n, st, 8), 2);	/* ids 1 and 7 */
	assert_int_equal(st[0].id, 1);
	assert_int_equal(st[1].id, 7);
	assert_int_equal(st[0].packets + st[1].packets, 0);
	/* one TCP flow on the forward: SYN, SYN+ACK */
	len = pg_tcp(&x, C4, 40000, P4, 80, PKT_TCP_SYN);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	b += len;
	len = pg_tcp(&x, B4, 8080, C4, 40000, PKT_TCP_SYN | PKT_TCP_ACK);
	assert_forward(n, &x, NAT_SIDE_INSIDE, T0);
	b += len;
	a = rs_of(n, 7);
	assert_int_equal(a.packets, 2);
	assert_int_equal(a.bytes, b);
	assert_int_equal(a.flows_created, 1);
	assert_int_equal(a.flows_active, 1);
	/* two UDP flows on the default, one v4, one v6: both count for id 1 */
	b = rs_udp(n, C4, P4, 5000, 53, T0);
	b += rs_udp(n, C6, P6, 5000, 53, T0);
	b += rs_udp(n, C6, P6, 5000, 53, T0 + 10);
	a = rs_of(n, 1);
	assert_int_equal(a.packets, 3);
	assert_int_equal(a.bytes, b);
	assert_int_equal(a.flows_created, 2);
	assert_int_equal(a.flows_active, 2);
	assert_int_equal(rs_of(n, 7).packets, 2);	/* untouched */
	/* expiry takes flows out of the active count, not the total */
	pg_sweep_all(n, T0 + 3600 * 1000ULL);
	assert_int_equal(rs_of(n, 1).flows_active, 0);
	assert_int_equal(rs_of(n, 1).flows_created, 2);
	/* max smaller than the count: the count still says how many */
	assert_int_equal(nat_rule_stats(n, st, 1), 2);
}

/* A reload keeps the totals of the ids it keeps and recounts the flows. */
static void
test_reload(void **state)
{
	struct nat *n = rs_engine();
	struct nat_settings s;
	struct nat_rule r[2];
	char err[ERRLEN];

	(void)state;
	rs_udp(n, C4, P4, 5000, 53, T0);
	rs_udp(n, C4, P4, 5001, 53, T0);
	r[0] = fx_rule(B4, NAT_P_UDP, 9000, 9000, 0);
	r[0].id = 9;		/* new id; id 7 is gone */
	r[1] = fx_rule(B4, ALLP, 1, 65535, 0);
	r[1].id = 1;
	fx_settings(&s, r, 2);
	assert_int_equal(nat_reconfigure(n, &s, err), 0);
	assert_int_equal(rs_of(n, 1).packets, 2);
	assert_int_equal(rs_of(n, 1).flows_created, 2);
	assert_int_equal(rs_of(n, 1).flows_active, 2);
	assert_int_equal(rs_of(n, 9).packets, 0);
	rs_udp(n, C4, P4, 5002, 9000, T0);
	assert_int_equal(rs_of(n, 9).flows_active, 1);
}

/* Match flows whose original source port is *arg. */
static int
rs_match_sport(const struct nat_flow_info *fi, void *arg)
{
	return fi->orig_sport == *(const uint16_t *)arg;
}

/* Match UDP flows. */
static int
rs_match_udp(const struct nat_flow_info *fi, void *arg)
{
	(void)arg;
	return fi->proto == PKT_IPPROTO_UDP;
}

/* Deleting flows: only those matched, counted out, and a new packet opens
 * a new flow. */
static void
test_delete(void **state)
{
	struct nat *n = rs_engine();
	struct nat_flow_info fi;
	struct nat_stats st;
	struct pg_pkt x;
	uint16_t port = 5001;

	(void)state;
	rs_udp(n, C4, P4, 5000, 53, T0);
	rs_udp(n, C4, P4, 5001, 53, T0);
	rs_udp(n, C6, P6, 5001, 53, T0);
	pg_tcp(&x, C4, 40000, P4, 80, PKT_TCP_SYN);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_int_equal(pg_flow_count(n, T0), 4);
	assert_int_equal(nat_flows_delete(n, T0, rs_match_sport, &port), 2);
	assert_int_equal(pg_flow_count(n, T0), 2);
	assert_false(pg_find_flow(n, T0, PKT_IPPROTO_UDP, C4, 5001, &fi));
	assert_true(pg_find_flow(n, T0, PKT_IPPROTO_UDP, C4, 5000, &fi));
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_active, 2);
	assert_int_equal(rs_of(n, 1).flows_active, 1);
	assert_int_equal(rs_of(n, 7).flows_active, 1);
	/* nothing matches twice */
	assert_int_equal(nat_flows_delete(n, T0, rs_match_sport, &port), 0);
	/* the deleted flow's next packet makes a new one */
	rs_udp(n, C4, P4, 5001, 53, T0 + 1000);
	assert_true(pg_find_flow(n, T0 + 1000, PKT_IPPROTO_UDP, C4, 5001, &fi));
	assert_int_equal(rs_of(n, 1).flows_created, 4);
	assert_int_equal(nat_flows_delete(n, T0, rs_match_udp, NULL), 2);
	assert_int_equal(pg_flow_count(n, T0), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_counts),
		FX_TEST(test_reload),
		FX_TEST(test_delete),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
