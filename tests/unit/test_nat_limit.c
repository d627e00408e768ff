/*
 * test_nat_limit.c - admission of new flows: per-source limits (concurrent
 * flows and new-flow rate per IPv4 address or IPv6 /64; drops before any
 * state, other sources unaffected, release on expiry, the source table when
 * full, limits turned on by nat_reconfigure()) and the L4 checksum check of
 * flow-opening packets.
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

#define FWD(V, W) assert_verdict((V), NAT_FORWARD, (W))
#define SYN 0x02

static struct nat_rule rules[2];

/* Settings with a backend rule per family and the given limits. */
static void
settings(struct nat_settings *s, uint32_t max_flows, uint32_t flows,
    uint32_t rate, uint32_t burst)
{
	fx_keep_all(rules);
	fx_settings(s, rules, 2);
	s->max_flows = max_flows;
	s->src_max_flows = flows;
	s->src_rate = rate;
	s->src_burst = burst;
}

static struct nat *
mk(uint32_t max_flows, uint32_t flows, uint32_t rate, uint32_t burst)
{
	struct nat_settings s;

	settings(&s, max_flows, flows, rate, burst);
	return fx_nat(&s);
}

/* A SYN from src:sport to the public address of its family. */
static enum nat_verdict
syn(struct nat *n, const char *src, uint16_t sport, uint64_t now,
    enum nat_drop_reason *why)
{
	struct pg_pkt x;

	pg_tcp(&x, src, sport, strchr(src, ':') ? P6 : P4, 80, SYN);
	return pg_run(n, &x, NAT_SIDE_PUBLIC, now, why);
}

/* A UDP datagram from src:sport. */
static enum nat_verdict
udp(struct nat *n, const char *src, uint16_t sport, uint64_t now,
    enum nat_drop_reason *why)
{
	struct pg_pkt x;

	pg_udp(&x, src, sport, strchr(src, ':') ? P6 : P4, 53, 8);
	return pg_run(n, &x, NAT_SIDE_PUBLIC, now, why);
}

static uint64_t
stat_drop(struct nat *n, enum nat_drop_reason r)
{
	struct nat_stats st;

	nat_get_stats(n, &st);
	return st.drops[r];
}

/* A source at its flow limit is refused; another source is not. */
static void
test_flows_per_source(void **state)
{
	struct nat *n = mk(100, 3, 0, 0);
	enum nat_drop_reason why;
	struct nat_stats st;
	int i;

	(void)state;
	assert_non_null(n);
	for (i = 0; i < 3; i++)
		FWD(syn(n, "198.51.100.7", (uint16_t)(40000 + i), T0, &why), why);
	assert_drop(syn(n, "198.51.100.7", 40003, T0, &why), why,
	    NAT_DROP_SRC_FLOWS);
	assert_drop(udp(n, "198.51.100.7", 40004, T0, &why), why,
	    NAT_DROP_SRC_FLOWS);
	/* the refused packets cost no flow */
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_active, 3);
	assert_int_equal(st.flows_created, 3);
	assert_int_equal(st.drops[NAT_DROP_SRC_FLOWS], 2);
	for (i = 0; i < 3; i++)
		FWD(syn(n, "198.51.100.8", (uint16_t)(40000 + i), T0, &why), why);
	/* packets of flows the source already has still pass */
	FWD(syn(n, "198.51.100.7", 40000, T0 + 1, &why), why);
	fx_free(n);
}

/* A flow that expires gives its place back to its source. */
static void
test_release_on_expiry(void **state)
{
	struct nat *n = mk(100, 2, 0, 0);
	enum nat_drop_reason why;

	(void)state;
	FWD(udp(n, "198.51.100.9", 1000, T0, &why), why);
	FWD(udp(n, "198.51.100.9", 1001, T0, &why), why);
	assert_drop(udp(n, "198.51.100.9", 1002, T0 + SEC(1), &why), why,
	    NAT_DROP_SRC_FLOWS);
	/* UDP idles out after 300 s */
	pg_sweep_all(n, T0 + SEC(302));
	assert_int_equal(pg_flow_count(n, T0 + SEC(302)), 0);
	FWD(udp(n, "198.51.100.9", 1002, T0 + SEC(302), &why), why);
	FWD(udp(n, "198.51.100.9", 1003, T0 + SEC(302), &why), why);
	assert_drop(udp(n, "198.51.100.9", 1004, T0 + SEC(302), &why), why,
	    NAT_DROP_SRC_FLOWS);
	fx_free(n);
}

/* The token bucket: a burst at once, then rate per second. */
static void
test_rate_per_source(void **state)
{
	struct nat *n = mk(1000, 0, 10, 5);
	enum nat_drop_reason why;
	uint16_t p = 2000;
	int i;

	(void)state;
	for (i = 0; i < 5; i++)
		FWD(syn(n, "198.51.100.20", p++, T0, &why), why);
	assert_drop(syn(n, "198.51.100.20", p++, T0, &why), why,
	    NAT_DROP_SRC_RATE);
	/* another source has its own bucket */
	FWD(syn(n, "198.51.100.21", 2000, T0, &why), why);
	/* 10 per second: 100 ms earns one new flow, 99 ms does not */
	assert_drop(syn(n, "198.51.100.20", p++, T0 + 99, &why), why,
	    NAT_DROP_SRC_RATE);
	FWD(syn(n, "198.51.100.20", p++, T0 + 100, &why), why);
	assert_drop(syn(n, "198.51.100.20", p++, T0 + 100, &why), why,
	    NAT_DROP_SRC_RATE);
	/* a long pause refills to the burst, not beyond */
	for (i = 0; i < 5; i++)
		FWD(syn(n, "198.51.100.20", p++, T0 + SEC(60), &why), why);
	assert_drop(syn(n, "198.51.100.20", p++, T0 + SEC(60), &why), why,
	    NAT_DROP_SRC_RATE);
	assert_int_equal(stat_drop(n, NAT_DROP_SRC_RATE), 4);
	fx_free(n);
}

/* Over one simulated minute a flooding source gets rate * 60 + burst. */
static void
test_rate_sustained(void **state)
{
	struct nat *n = mk(100000, 0, 50, 50);
	enum nat_drop_reason why;
	uint64_t t;
	int ok = 0;
	uint16_t p = 1024;

	(void)state;
	for (t = 0; t <= SEC(60); t += 5)
		if (syn(n, "198.51.100.30", p++, T0 + t, &why) == NAT_FORWARD)
			ok++;
	assert_int_equal(ok, 50 + 50 * 60);
	fx_free(n);
}

/* IPv6 sources count by /64: another address in the /64 shares the limit. */
static void
test_ipv6_prefix(void **state)
{
	struct nat *n = mk(100, 2, 0, 0);
	enum nat_drop_reason why;

	(void)state;
	FWD(syn(n, "2001:db8:100::10", 3000, T0, &why), why);
	FWD(syn(n, "2001:db8:100::11", 3000, T0, &why), why);
	assert_drop(syn(n, "2001:db8:100:0:ffff::1", 3000, T0, &why), why,
	    NAT_DROP_SRC_FLOWS);
	FWD(syn(n, "2001:db8:100:1::10", 3000, T0, &why), why);
	fx_free(n);
}

/* Replies and other sides are not limited; flows from the inside never open. */
static void
test_replies_unlimited(void **state)
{
	struct nat *n = mk(100, 1, 1, 1);
	enum nat_drop_reason why;
	struct pg_pkt x;
	int i;

	(void)state;
	FWD(udp(n, "198.51.100.40", 5000, T0, &why), why);
	for (i = 0; i < 100; i++) {
		pg_udp(&x, B4, 53, "198.51.100.40", 5000, 8);
		FWD(pg_run(n, &x, NAT_SIDE_INSIDE, T0, &why), why);
		FWD(udp(n, "198.51.100.40", 5000, T0, &why), why);
	}
	fx_free(n);
}

/*
 * A table full of sources that each hold a flow: a new source evicts the
 * oldest half-open flow (its source becomes idle and is reused), and with
 * every flow assured the new source is dropped as table_full.
 */
static void
test_source_table_full(void **state)
{
	struct nat *n = mk(4, 2, 0, 0);
	enum nat_drop_reason why;
	struct nat_stats st;
	struct pg_pkt x;
	char a[32];
	int i;

	(void)state;
	for (i = 1; i <= 4; i++) {
		snprintf(a, sizeof(a), "198.51.100.%d", i);
		FWD(udp(n, a, 6000, T0 + SEC(i), &why), why);
	}
	FWD(udp(n, "198.51.100.5", 6000, T0 + SEC(5), &why), why);
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_evicted, 1);
	assert_int_equal(st.flows_active, 4);
	assert_int_equal(st.sources_tracked, 4);
	assert_int_equal(st.sources_reclaimed, 1);
	/* assure all four: a reply and traffic after it */
	for (i = 2; i <= 5; i++) {
		snprintf(a, sizeof(a), "198.51.100.%d", i);
		pg_udp(&x, B4, 53, a, 6000, 8);
		FWD(pg_run(n, &x, NAT_SIDE_INSIDE, T0 + SEC(6), &why), why);
		FWD(udp(n, a, 6000, T0 + SEC(6), &why), why);
	}
	assert_drop(udp(n, "198.51.100.6", 6000, T0 + SEC(7), &why), why,
	    NAT_DROP_TABLE_FULL);
	/* packets of existing flows still pass */
	FWD(udp(n, "198.51.100.2", 6000, T0 + SEC(7), &why), why);
	fx_free(n);
}

/* Many spoofed sources against a small table: bounded, no crash, counted. */
static void
test_spoofed_flood(void **state)
{
	struct nat *n = mk(64, 4, 5, 5);
	enum nat_drop_reason why;
	struct nat_stats st;
	char a[48];
	int i;

	(void)state;
	for (i = 0; i < 20000; i++) {
		snprintf(a, sizeof(a), "198.51.%d.%d", 100 + (i >> 8 & 1),
		    i & 0xff);
		(void)syn(n, a, (uint16_t)(1024 + i % 50000), T0 + (uint64_t)i,
		    &why);
	}
	nat_get_stats(n, &st);
	assert_true(st.flows_active <= 64);
	assert_true(st.sources_tracked <= 64);
	assert_true(nat_memory(n) < 4 * 1024 * 1024);
	fx_free(n);
}

/* A reload turns limits on; flows from before do not count. */
static void
test_reconfigure_turns_on(void **state)
{
	struct nat_settings s;
	char err[ERRLEN];
	enum nat_drop_reason why;
	struct nat *n = mk(100, 0, 0, 0);
	int i;

	(void)state;
	for (i = 0; i < 5; i++)
		FWD(udp(n, "198.51.100.50", (uint16_t)(7000 + i), T0, &why), why);
	settings(&s, 100, 2, 0, 0);
	assert_int_equal(nat_reconfigure(n, &s, err), 0);
	FWD(udp(n, "198.51.100.50", 7100, T0 + 1, &why), why);
	FWD(udp(n, "198.51.100.50", 7101, T0 + 1, &why), why);
	assert_drop(udp(n, "198.51.100.50", 7102, T0 + 1, &why), why,
	    NAT_DROP_SRC_FLOWS);
	settings(&s, 100, 0, 2000000, 0);
	assert_int_equal(nat_reconfigure(n, &s, err), -1);
	assert_non_null(strstr(err, "rate"));
	fx_free(n);
}

/* Corrupt the L4 checksum of a built packet (IPv4: header of 20 bytes). */
static void
corrupt(struct pg_pkt *x, size_t csum_at)
{
	x->data[csum_at] ^= 0x5a;
}

/* A flow-opening packet with a wrong checksum opens nothing. */
static void
test_bad_csum(void **state)
{
	struct nat *n = mk(100, 0, 0, 0);
	enum nat_drop_reason why;
	struct nat_stats st;
	struct pg_pkt x;

	(void)state;
	pg_udp(&x, "198.51.100.60", 1000, P4, 53, 8);
	corrupt(&x, 20 + 6);
	assert_drop(pg_run(n, &x, NAT_SIDE_PUBLIC, T0, &why), why,
	    NAT_DROP_BAD_CSUM);
	pg_tcp(&x, "198.51.100.60", 1001, P4, 80, SYN);
	corrupt(&x, 20 + 16);
	assert_drop(pg_run(n, &x, NAT_SIDE_PUBLIC, T0, &why), why,
	    NAT_DROP_BAD_CSUM);
	pg_udp(&x, "2001:db8:100::60", 1000, P6, 53, 8);
	corrupt(&x, 40 + 6);
	assert_drop(pg_run(n, &x, NAT_SIDE_PUBLIC, T0, &why), why,
	    NAT_DROP_BAD_CSUM);
	pg_echo(&x, "198.51.100.60", P4, 7, false);
	corrupt(&x, 20 + 2);
	assert_drop(pg_run(n, &x, NAT_SIDE_PUBLIC, T0, &why), why,
	    NAT_DROP_BAD_CSUM);
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_created, 0);
	assert_int_equal(st.drops[NAT_DROP_BAD_CSUM], 4);
	/* IPv4 UDP without a checksum is fine */
	pg_udp(&x, "198.51.100.60", 1002, P4, 53, 8);
	x.data[26] = x.data[27] = 0;
	FWD(pg_run(n, &x, NAT_SIDE_PUBLIC, T0, &why), why);
	/* the kernel vouched for it: not summed again */
	pg_udp(&x, "198.51.100.60", 1003, P4, 53, 8);
	corrupt(&x, 26);
	x.has_vnet = true;
	memset(&x.vnet, 0, sizeof(x.vnet));
	x.vnet.flags = NAT_VNET_DATA_VALID;
	FWD(pg_run(n, &x, NAT_SIDE_PUBLIC, T0, &why), why);
	/* a packet of an existing flow is left to the endpoint to check */
	pg_udp(&x, "198.51.100.60", 1002, P4, 53, 8);
	corrupt(&x, 26);
	FWD(pg_run(n, &x, NAT_SIDE_PUBLIC, T0, &why), why);
	fx_free(n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flows_per_source),
		cmocka_unit_test(test_release_on_expiry),
		cmocka_unit_test(test_rate_per_source),
		cmocka_unit_test(test_rate_sustained),
		cmocka_unit_test(test_ipv6_prefix),
		cmocka_unit_test(test_replies_unlimited),
		cmocka_unit_test(test_source_table_full),
		cmocka_unit_test(test_spoofed_flood),
		cmocka_unit_test(test_reconfigure_turns_on),
		cmocka_unit_test(test_bad_csum),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
