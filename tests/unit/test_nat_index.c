/*
 * test_nat_index.c - the flow index (nat/fidx.c) on its own, through the
 * engine's internal API: colliding hashes, backward-shift deletion keeps
 * every other entry findable and leaves no tombstone, a full index refuses
 * instead of looping; then the engine with thousands of flows coming and
 * going, each still found by both of its keys, in both address families.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "nat/nat_int.h"
#include "fixture.h"
#include "pktgen.h"

/* A hash whose home slot is slot i of index x (multiply-shift inverted). */
static uint32_t
home_hash(const struct fidx *x, uint32_t i, uint32_t salt)
{
	/* the smallest hash of slot i: ceil(i * 2^32 / size) */
	uint64_t lo = (((uint64_t)i << 32) + x->size - 1) / x->size;

	/* lo maps to slot i; salt varies the hash within that slot's range */
	while ((uint32_t)(((lo + 1) * x->size) >> 32) == i && salt-- > 0)
		lo++;
	assert_int_equal(fidx_home(x, (uint32_t)lo), i);
	return (uint32_t)lo;
}

/* Every slot empty: what deletion must leave behind (no tombstones). */
static void
assert_empty(const struct fidx *x)
{
	uint32_t i;

	assert_int_equal(x->used, 0);
	for (i = 0; i < x->size; i++)
		assert_int_equal(x->ent[i].ref, 0);
}

/* Entries with one hash, and others homed in the same slot, all found. */
static void
test_index_collisions(void **state)
{
	struct fidx x;
	uint32_t h, pos, ref, seen = 0;
	int i;

	(void)state;
	assert_int_equal(fidx_init(&x, 20), 0);
	h = home_hash(&x, 3, 0);
	for (i = 1; i <= 10; i++)
		assert_int_equal(fidx_add(&x, h, (uint32_t)i), 0);
	for (i = 11; i <= 15; i++)
		assert_int_equal(fidx_add(&x, home_hash(&x, 3, (uint32_t)i),
		    (uint32_t)i), 0);
	for (i = 1; i <= 15; i++)
		assert_true(fidx_find(&x, i <= 10 ? h :
		    home_hash(&x, 3, (uint32_t)i), (uint32_t)i) >= 0);
	/* a scan yields exactly the entries of its hash */
	pos = fidx_home(&x, h);
	while ((ref = fidx_scan(&x, h, &pos)) != 0) {
		assert_true(ref >= 1 && ref <= 10);
		seen |= 1U << ref;
	}
	assert_int_equal(seen, 0x7fe);
	assert_int_equal(fidx_find(&x, h, 99), -1);
	fidx_fini(&x);
}

/*
 * A run that wraps past the end of the table: deleting any entry shifts
 * the rest back, each stays findable, and the table ends empty.
 */
static void
test_index_backward_shift(void **state)
{
	struct fidx x;
	uint32_t hash[24], order[24] = { 5, 0, 23, 12, 1, 7, 19, 2, 11, 3, 22,
	    8, 14, 4, 17, 9, 21, 6, 13, 16, 10, 20, 15, 18 };
	bool gone[24] = { false };
	int i, j;

	(void)state;
	assert_int_equal(fidx_init(&x, 24), 0);
	for (i = 0; i < 24; i++) {
		/* homes clustered on the last slots and the first ones */
		hash[i] = home_hash(&x, (x.size - 4 + (uint32_t)(i % 7)) %
		    x.size, (uint32_t)i);
		assert_int_equal(fidx_add(&x, hash[i], (uint32_t)i + 1), 0);
	}
	for (i = 0; i < 24; i++) {
		assert_int_equal(fidx_del(&x, hash[order[i]], order[i] + 1), 0);
		gone[order[i]] = true;
		for (j = 0; j < 24; j++)
			assert_true((fidx_find(&x, hash[j], (uint32_t)j + 1) >= 0)
			    == !gone[j]);
	}
	assert_int_equal(fidx_del(&x, hash[0], 1), -1);
	assert_empty(&x);
	fidx_fini(&x);
}

/* Random adds and deletes against a model: never a lost or stale entry. */
static void
test_index_random(void **state)
{
	enum { N = 3000 };
	static uint32_t hash[N];
	static bool in[N];
	struct fidx x;
	uint64_t r = 88172645463325252ULL;
	int i, k;

	(void)state;
	assert_int_equal(fidx_init(&x, N), 0);
	for (i = 0; i < 200000; i++) {
		r ^= r << 13;
		r ^= r >> 7;
		r ^= r << 17;
		k = (int)(r % N);
		if (in[k]) {
			assert_int_equal(fidx_del(&x, hash[k], (uint32_t)k + 1), 0);
			in[k] = false;
		} else {
			/* few distinct hashes: long runs, many collisions */
			hash[k] = (uint32_t)(r >> 32) & 0xfff0000fU;
			assert_int_equal(fidx_add(&x, hash[k], (uint32_t)k + 1), 0);
			in[k] = true;
		}
		if (i % 20000 == 0)
			for (k = 0; k < N; k++)
				assert_true((fidx_find(&x, hash[k],
				    (uint32_t)k + 1) >= 0) == in[k]);
	}
	for (k = 0; k < N; k++)
		if (in[k])
			assert_int_equal(fidx_del(&x, hash[k], (uint32_t)k + 1), 0);
	assert_empty(&x);
	fidx_fini(&x);
}

/* At capacity the index refuses an entry; lookups still end. */
static void
test_index_full(void **state)
{
	struct fidx x;
	uint32_t i, h;

	(void)state;
	assert_int_equal(fidx_init(&x, 8), 0);
	assert_true(x.size > x.cap);
	h = home_hash(&x, 0, 0);
	for (i = 1; i <= 8; i++)
		assert_int_equal(fidx_add(&x, h, i), 0);
	assert_int_equal(fidx_add(&x, h, 9), -1);
	assert_int_equal(fidx_add(&x, home_hash(&x, x.size - 1, 0), 10), -1);
	assert_int_equal(x.used, 8);
	assert_int_equal(fidx_find(&x, h, 9), -1);
	assert_int_equal(fidx_find(&x, home_hash(&x, x.size - 1, 0), 10), -1);
	assert_int_equal(fidx_del(&x, h, 4), 0);
	assert_int_equal(fidx_add(&x, h, 9), 0);
	for (i = 1; i <= 9; i++)
		assert_true((fidx_find(&x, h, i) >= 0) == (i != 4));
	fidx_fini(&x);
	/* the index is sized for both keys of max_flows flows, at <= 70 % */
	assert_int_equal(fidx_init(&x, 2 * 1000000), 0);
	assert_true((uint64_t)x.size * FIDX_LOAD_NUM >=
	    (uint64_t)x.cap * FIDX_LOAD_DEN);
	fidx_fini(&x);
}

/* UDP from 198.51.100.x:port (client i) to P4:53, or the answer. */
static enum nat_verdict
flow_pkt(struct nat *n, int i, bool reply, uint64_t now,
    enum nat_drop_reason *why)
{
	struct pg_pkt p;
	char c[32];

	snprintf(c, sizeof(c), "198.51.100.%d", 1 + i / 1000);
	if (reply)
		pg_udp(&p, B4, 53, c, (uint16_t)(20000 + i % 1000), 10);
	else
		pg_udp(&p, c, (uint16_t)(20000 + i % 1000), P4, 53, 10);
	return pg_run(n, &p, reply ? NAT_SIDE_INSIDE : NAT_SIDE_PUBLIC, now,
	    why);
}

/*
 * The engine with flows coming and going (half of them expire while the
 * rest are refreshed): every live flow is found by both keys, the expired
 * ones by neither, and a full table refuses with a counted table_full.
 */
static void
test_index_engine(void **state)
{
	enum { N = 4096 };
	struct nat_rule rule = fx_rule(B4, NAT_P_UDP, 1, 65535, 0);
	struct nat_settings s;
	struct nat_stats st;
	enum nat_drop_reason why;
	struct nat *n;
	int i;

	(void)state;
	fx_settings(&s, &rule, 1);
	s.max_flows = N;
	assert_non_null(n = fx_nat(&s));
	for (i = 0; i < N; i++)
		assert_verdict(flow_pkt(n, i, false, T0, &why), NAT_FORWARD, why);
	/* the odd flows are answered (assured) and refreshed later */
	for (i = 1; i < N; i += 2)
		assert_verdict(flow_pkt(n, i, true, T0 + SEC(200), &why),
		    NAT_FORWARD, why);
	assert_int_equal(pg_sweep_all(n, T0 + SEC(301)), N / 2);
	for (i = 0; i < N; i++) {
		if (i % 2 == 0)
			assert_drop(flow_pkt(n, i, true, T0 + SEC(302), &why), why,
			    NAT_DROP_NO_FLOW);
		else
			assert_verdict(flow_pkt(n, i, true, T0 + SEC(302), &why),
			    NAT_FORWARD, why);
	}
	/* refill: the new flows land in the freed places */
	for (i = N; i < N + N / 2; i++)
		assert_verdict(flow_pkt(n, i, false, T0 + SEC(303), &why),
		    NAT_FORWARD, why);
	/* a reply and traffic after it: a two-way stream, assured */
	for (i = N; i < N + N / 2; i++) {
		assert_verdict(flow_pkt(n, i, true, T0 + SEC(304), &why),
		    NAT_FORWARD, why);
		assert_verdict(flow_pkt(n, i, false, T0 + SEC(304), &why),
		    NAT_FORWARD, why);
	}
	for (i = 1; i < N; i += 2)
		assert_verdict(flow_pkt(n, i, false, T0 + SEC(304), &why),
		    NAT_FORWARD, why);
	/* every flow assured and live: one more is a counted refusal */
	assert_drop(flow_pkt(n, N + N, false, T0 + SEC(305), &why), why,
	    NAT_DROP_TABLE_FULL);
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_active, N);
	assert_int_equal(st.drops[NAT_DROP_TABLE_FULL], 1);
	assert_int_equal(pg_flow_count(n, T0 + SEC(305)), N);
	fx_free(n);
}

/* UDP of client i, IPv4 (even i) or IPv6 (odd i), to the public address. */
static enum nat_verdict
mixed_pkt(struct nat *n, int i, bool reply, uint64_t now,
    enum nat_drop_reason *why)
{
	struct pg_pkt p;
	char c[64];

	if (i % 2 == 0)
		snprintf(c, sizeof(c), "198.51.100.%d", i / 2 + 1);
	else
		snprintf(c, sizeof(c), "2001:db8:1::%x", i + 1);
	if (reply)
		pg_udp(&p, i % 2 ? B6 : B4, 53, c, 40000, 10);
	else
		pg_udp(&p, c, 40000, i % 2 ? P6 : P4, 53, 10);
	return pg_run(n, &p, reply ? NAT_SIDE_INSIDE : NAT_SIDE_PUBLIC, now,
	    why);
}

/*
 * IPv4 and IPv6 flows share max_flows, the lists and the index though they
 * come from two pools: eviction takes the oldest of either family, and the
 * listing and the sweep see both.
 */
static void
test_index_mixed_families(void **state)
{
	struct nat_rule rule[2] = { fx_rule(B4, NAT_P_UDP, 1, 65535, 0),
	    fx_rule(B6, NAT_P_UDP, 1, 65535, 0) };
	struct nat_settings s;
	struct nat_stats st;
	struct nat_flow_info fi;
	enum nat_drop_reason why;
	struct nat *n;
	int i;

	(void)state;
	fx_settings(&s, rule, 2);
	s.max_flows = 64;
	assert_non_null(n = fx_nat(&s));
	for (i = 0; i < 64; i++)
		assert_verdict(mixed_pkt(n, i, false, T0 + SEC(i), &why),
		    NAT_FORWARD, why);
	/* 16 more evict the 16 oldest, 8 of each family */
	for (i = 64; i < 80; i++)
		assert_verdict(mixed_pkt(n, i, false, T0 + SEC(i), &why),
		    NAT_FORWARD, why);
	for (i = 0; i < 80; i++) {
		if (i < 16)
			assert_drop(mixed_pkt(n, i, true, T0 + SEC(80), &why), why,
			    NAT_DROP_NO_FLOW);
		else
			assert_verdict(mixed_pkt(n, i, true, T0 + SEC(80), &why),
			    NAT_FORWARD, why);
	}
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_active, 64);
	assert_int_equal(st.flows_evicted, 16);
	assert_int_equal(pg_flow_count(n, T0 + SEC(80)), 64);
	/* both keys of each family come back whole from the compact record */
	assert_true(pg_find_flow(n, T0 + SEC(80), 17, "2001:db8:1::12", 40000,
	    &fi));
	assert_true(pg_addr_eq(&fi.orig_dst, P6) && pg_addr_eq(&fi.reply_src, B6));
	assert_true(pg_addr_eq(&fi.reply_dst, "2001:db8:1::12"));
	assert_true(pg_find_flow(n, T0 + SEC(80), 17, "198.51.100.40", 40000,
	    &fi));
	assert_true(pg_addr_eq(&fi.orig_dst, P4) && pg_addr_eq(&fi.reply_src, B4));
	assert_true(pg_addr_eq(&fi.reply_dst, "198.51.100.40"));
	assert_int_equal(fi.reply_sport, 53);
	assert_int_equal(fi.reply_dport, 40000);
	assert_int_equal(pg_sweep_all(n, T0 + SEC(1000)), 64);
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_active, 0);
	fx_free(n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_index_collisions),
		FX_TEST(test_index_backward_shift),
		FX_TEST(test_index_random),
		FX_TEST(test_index_full),
		FX_TEST(test_index_engine),
		FX_TEST(test_index_mixed_families),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
