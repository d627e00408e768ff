/*
 * test_nat_table.c - the flow table: max_flows with early eviction of the
 * oldest unassured flow, table_full when every flow is assured, bounded
 * sweeps, memory accounting, and nat_reconfigure() under live flows.
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

static struct nat_rule rules[2];

static void
settings(struct nat_settings *s, uint32_t max_flows)
{
	fx_keep_all(rules);
	fx_settings(s, rules, 2);
	s->max_flows = max_flows;
}

static struct nat *
mk(uint32_t max_flows)
{
	struct nat_settings s;

	settings(&s, max_flows);
	return fx_nat(&s);
}

/* Client i (198.51.100.i:40000) sends UDP to P4:53. */
static enum nat_verdict
cli(struct nat *n, int i, uint64_t now, enum nat_drop_reason *why)
{
	struct pg_pkt x;
	char c[32];

	snprintf(c, sizeof(c), "198.51.100.%d", i);
	pg_udp(&x, c, 40000, P4, 53, 10);
	return pg_run(n, &x, NAT_SIDE_PUBLIC, now, why);
}

/* The backend answers client i. */
static enum nat_verdict
srv(struct nat *n, int i, uint64_t now, enum nat_drop_reason *why)
{
	struct pg_pkt x;
	char c[32];

	snprintf(c, sizeof(c), "198.51.100.%d", i);
	pg_udp(&x, B4, 53, c, 40000, 10);
	return pg_run(n, &x, NAT_SIDE_INSIDE, now, why);
}

#define FWD(V, W) assert_verdict((V), NAT_FORWARD, (W))

/* Full of unassured flows: the oldest one makes room. */
static void
test_evict_oldest_unassured(void **state)
{
	struct nat *n = mk(4);
	struct nat_stats st;
	enum nat_drop_reason why;
	int i;

	(void)state;
	assert_non_null(n);
	for (i = 1; i <= 4; i++)
		FWD(cli(n, i, T0 + SEC(i), &why), why);
	FWD(cli(n, 5, T0 + SEC(5), &why), why);
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_evicted, 1);
	assert_int_equal(st.flows_active, 4);
	assert_int_equal(pg_flow_count(n, T0 + SEC(5)), 4);
	/* flow 1 is gone, 2..5 are there */
	assert_drop(srv(n, 1, T0 + SEC(6), &why), why, NAT_DROP_NO_FLOW);
	for (i = 2; i <= 5; i++)
		FWD(srv(n, i, T0 + SEC(6), &why), why);
	fx_free(n);
}

/* Every flow assured: the new one is dropped as table_full. */
static void
test_all_assured_table_full(void **state)
{
	struct nat *n = mk(4);
	struct nat_stats st;
	enum nat_drop_reason why;
	int i;

	(void)state;
	assert_non_null(n);
	for (i = 1; i <= 4; i++) {
		FWD(cli(n, i, T0, &why), why);
		FWD(srv(n, i, T0, &why), why);
		FWD(cli(n, i, T0, &why), why);
	}
	assert_drop(cli(n, 5, T0 + 1, &why), why, NAT_DROP_TABLE_FULL);
	assert_drop(cli(n, 6, T0 + 2, &why), why, NAT_DROP_TABLE_FULL);
	nat_get_stats(n, &st);
	assert_int_equal(st.drops[NAT_DROP_TABLE_FULL], 2);
	assert_int_equal(st.flows_evicted, 0);
	assert_int_equal(st.flows_active, 4);
	for (i = 1; i <= 4; i++)
		FWD(srv(n, i, T0 + 3, &why), why);
	fx_free(n);
}

/* The only unassured flow is evicted even when it is the newest. */
static void
test_evict_skips_assured(void **state)
{
	struct nat *n = mk(4);
	enum nat_drop_reason why;
	int i;

	(void)state;
	assert_non_null(n);
	for (i = 1; i <= 3; i++) {
		FWD(cli(n, i, T0 + SEC(i), &why), why);
		FWD(srv(n, i, T0 + SEC(i), &why), why);
		FWD(cli(n, i, T0 + SEC(i), &why), why);
	}
	FWD(cli(n, 4, T0 + SEC(10), &why), why);
	FWD(cli(n, 5, T0 + SEC(11), &why), why);
	assert_drop(srv(n, 4, T0 + SEC(12), &why), why, NAT_DROP_NO_FLOW);
	for (i = 1; i <= 3; i++)
		FWD(srv(n, i, T0 + SEC(12), &why), why);
	FWD(srv(n, 5, T0 + SEC(12), &why), why);
	fx_free(n);
}

/* TCP in the handshake is not assured even with traffic both ways. */
static void
test_tcp_handshake_not_assured(void **state)
{
	struct nat *n = mk(2);
	struct pg_pkt x;
	enum nat_drop_reason why;

	(void)state;
	assert_non_null(n);
	pg_tcp(&x, C4, 40000, P4, 80, PKT_TCP_SYN);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	pg_tcp(&x, B4, 80, C4, 40000, PKT_TCP_SYN | PKT_TCP_ACK);
	assert_forward(n, &x, NAT_SIDE_INSIDE, T0);
	FWD(cli(n, 1, T0 + 1, &why), why);
	FWD(srv(n, 1, T0 + 1, &why), why);
	/* full: the SYN_RECV flow goes */
	FWD(cli(n, 2, T0 + 2, &why), why);
	pg_tcp(&x, B4, 80, C4, 40000, PKT_TCP_ACK);
	assert_drop(pg_run(n, &x, NAT_SIDE_INSIDE, T0 + 3, &why), why, NAT_DROP_NO_FLOW);
	FWD(srv(n, 1, T0 + 3, &why), why);
	fx_free(n);
}

/* Traffic either way keeps a flow alive (idle counts from the last packet). */
static void
test_refresh_both_ways(void **state)
{
	struct nat *n = mk(16);
	struct nat_stats st;
	enum nat_drop_reason why;

	(void)state;
	assert_non_null(n);
	FWD(cli(n, 1, T0, &why), why);
	FWD(srv(n, 1, T0 + SEC(200), &why), why);
	FWD(cli(n, 2, T0, &why), why);
	FWD(cli(n, 2, T0 + SEC(200), &why), why);
	pg_sweep_all(n, T0 + SEC(301));
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_active, 2);
	pg_sweep_all(n, T0 + SEC(501));
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_active, 0);
	assert_int_equal(st.flows_udp, 0);
	fx_free(n);
}

/* nat_sweep() removes expired flows, never more than its budget per call. */
static void
test_sweep_budget(void **state)
{
	struct nat *n = mk(64);
	struct nat_stats st;
	enum nat_drop_reason why;
	size_t r, total = 0;
	int i;

	(void)state;
	assert_non_null(n);
	for (i = 1; i <= 20; i++)
		FWD(cli(n, i, T0, &why), why);
	for (i = 21; i <= 25; i++)
		FWD(cli(n, i, T0 + SEC(200), &why), why);
	assert_int_equal(nat_sweep(n, T0 + SEC(299), 100), 0);
	for (i = 0; i < 200 && total < 20; i++) {
		r = nat_sweep(n, T0 + SEC(301), 3);
		assert_true(r <= 3);
		total += r;
	}
	assert_int_equal(total, 20);
	assert_int_equal(pg_sweep_all(n, T0 + SEC(301)), 0);
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_active, 5);
	assert_int_equal(st.flows_expired, 20);
	assert_int_equal(pg_flow_count(n, T0 + SEC(301)), 5);
	assert_int_equal(nat_sweep(n, T0 + SEC(1000), 0), 0);
	assert_int_equal(pg_sweep_all(n, T0 + SEC(1000)), 5);
	fx_free(n);
}

/* Memory: the table is sized up front; each flow costs a bounded amount. */
static void
test_memory(void **state)
{
	struct nat *small = mk(1024), *big = mk(65536);
	enum nat_drop_reason why;
	size_t m0, m1, m2, m3, mb;
	int i;

	(void)state;
	assert_non_null(small);
	assert_non_null(big);
	m0 = nat_memory(small);
	mb = nat_memory(big);
	assert_true(m0 > 0);
	assert_true(mb > m0);			/* sized for max_flows */
	assert_true(mb < (size_t)65536 * 1024);	/* but not absurdly */
	for (i = 0; i < 500; i++) {
		struct pg_pkt x;
		char c[64];

		snprintf(c, sizeof(c), "2001:db8:1::%x", i + 1);
		pg_udp(&x, c, 40000, P6, 53, 10);
		FWD(pg_run(small, &x, NAT_SIDE_PUBLIC, T0, &why), why);
	}
	m1 = nat_memory(small);
	assert_true(m1 >= m0);
	assert_true(m1 - m0 <= 500 * 1024);
	for (i = 500; i < 1000; i++) {
		struct pg_pkt x;
		char c[64];

		snprintf(c, sizeof(c), "2001:db8:1::%x", i + 1);
		pg_udp(&x, c, 40000, P6, 53, 10);
		FWD(pg_run(small, &x, NAT_SIDE_PUBLIC, T0, &why), why);
	}
	m2 = nat_memory(small);
	/* no worse than linear: the second 500 cost about what the first did */
	assert_true(m2 - m1 <= (m1 - m0) + 64 * 1024);
	/* expire all, open again: memory is reused, not grown */
	pg_sweep_all(small, T0 + SEC(400));
	for (i = 0; i < 1000; i++) {
		struct pg_pkt x;
		char c[64];

		snprintf(c, sizeof(c), "2001:db8:1::%x", i + 1);
		pg_udp(&x, c, 40001, P6, 53, 10);
		FWD(pg_run(small, &x, NAT_SIDE_PUBLIC, T0 + SEC(401), &why), why);
	}
	m3 = nat_memory(small);
	assert_true(m3 <= m2 + 4096);
	fx_free(small);
	fx_free(big);
}

/* Rules change under a live flow; the flow keeps its translation. */
static void
test_reconfigure(void **state)
{
	struct nat_settings s;
	struct nat_rule nr[1];
	struct nat *n;
	struct pg_pkt x;
	struct pg_info pi;
	char err[ERRLEN];

	(void)state;
	settings(&s, 16);
	n = fx_nat(&s);
	assert_non_null(n);
	pg_tcp(&x, C4, 40000, P4, 80, PKT_TCP_SYN);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	pg_tcp(&x, B4, 80, C4, 40000, PKT_TCP_SYN | PKT_TCP_ACK);
	assert_forward(n, &x, NAT_SIDE_INSIDE, T0);

	nr[0] = fx_rule("10.22.22.9", NAT_P_TCP, 80, 80, 8080);
	s.rules = nr;
	s.nrules = 1;
	err[0] = 0;
	assert_int_equal(nat_reconfigure(n, &s, err), 0);

	/* the live flow: unchanged both ways */
	pg_tcp(&x, C4, 40000, P4, 80, PKT_TCP_ACK);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0 + 1);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, C4, 40000, B4, 80);
	pg_tcp(&x, B4, 80, C4, 40000, PKT_TCP_ACK);
	assert_forward(n, &x, NAT_SIDE_INSIDE, T0 + 1);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, P4, 80, C4, 40000);
	/* a new flow follows the new rules */
	pg_tcp(&x, C4, 40001, P4, 80, PKT_TCP_SYN);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0 + 2);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, C4, 40001, "10.22.22.9", 8080);
	pg_udp(&x, C4, 40001, P4, 53, 10);
	assert_verdict(pg_run(n, &x, NAT_SIDE_PUBLIC, T0 + 2, NULL), NAT_NOT_OURS, 0);

	/* max_flows and the hash key cannot change; nothing changes then */
	s.max_flows = 32;
	nr[0] = fx_rule("10.22.22.7", NAT_P_TCP, 80, 80, 0);
	err[0] = 0;
	assert_int_equal(nat_reconfigure(n, &s, err), -1);
	assert_true(err[0] != 0);
	s.max_flows = 16;
	/* a bad rule neither */
	nr[0].port_lo = 90;
	err[0] = 0;
	assert_int_equal(nat_reconfigure(n, &s, err), -1);
	assert_true(err[0] != 0);
	pg_tcp(&x, C4, 40002, P4, 80, PKT_TCP_SYN);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0 + 3);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, C4, 40002, "10.22.22.9", 8080);
	fx_free(n);
}

/* nat.h: the hash key cannot change; a reload with another key is refused. */
static void
test_reconfigure_hash_key(void **state)
{
	struct nat_settings s;
	struct nat *n;
	char err[ERRLEN];

	(void)state;
	settings(&s, 16);
	n = fx_nat(&s);
	assert_non_null(n);
	s.hash_key[0] ^= 1;
	err[0] = 0;
	if (nat_reconfigure(n, &s, err) != -1 || err[0] == 0)
		fail_msg("nat_reconfigure accepted a new hash_key (nat.h: cannot change)");
	fx_free(n);
}

/* Timeouts changed by reconfigure apply to live flows. */
static void
test_reconfigure_timeouts(void **state)
{
	struct nat_settings s;
	struct nat *n;
	struct nat_stats st;
	enum nat_drop_reason why;
	char err[ERRLEN];

	(void)state;
	settings(&s, 16);
	n = fx_nat(&s);
	assert_non_null(n);
	FWD(cli(n, 1, T0, &why), why);
	s.udp_timeout = 150;
	assert_int_equal(nat_reconfigure(n, &s, err), 0);
	pg_sweep_all(n, T0 + SEC(149));
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_active, 1);
	pg_sweep_all(n, T0 + SEC(151));
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_active, 0);
	fx_free(n);
}

struct walk {
	int seen[64];
	size_t n;
};

/* Record which client a listed flow belongs to. */
static int
walk_fn(const struct nat_flow_info *fi, void *arg)
{
	struct walk *w = arg;

	assert_int_equal(fi->orig_src.b[0], 198);
	w->seen[fi->orig_src.b[3]]++;
	w->n++;
	return 0;
}

/*
 * A listing walk resumes where it stopped, survives flows being removed
 * under it (eviction, expiry), lists every surviving flow once, and the
 * engine lends at most NAT_CURSORS walks at a time.
 */
static void
test_cursor_walk(void **state)
{
	struct nat *n = mk(32);
	struct walk w;
	enum nat_drop_reason why;
	int c, i, busy[NAT_CURSORS];
	size_t got;

	(void)state;
	assert_non_null(n);
	memset(&w, 0, sizeof(w));
	for (i = 1; i <= 32; i++)
		FWD(cli(n, i, T0, &why), why);
	c = nat_cursor_open(n);
	assert_true(c >= 0);
	got = nat_cursor_next(n, c, T0, 5, walk_fn, &w);
	assert_int_equal(got, 5);
	/* clients 33..40 evict the 8 oldest (1..8), some already listed */
	for (i = 33; i <= 40; i++)
		FWD(cli(n, i, T0, &why), why);
	while ((got = nat_cursor_next(n, c, T0, 7, walk_fn, &w)) > 0)
		assert_true(got <= 7);
	nat_cursor_close(n, c);
	for (i = 1; i <= 40; i++)
		assert_true(w.seen[i] <= 1);
	for (i = 9; i <= 40; i++)
		assert_int_equal(w.seen[i], 1);
	/* expiry during a walk: every flow idle past its timeout goes */
	memset(&w, 0, sizeof(w));
	c = nat_cursor_open(n);
	assert_int_equal(nat_cursor_next(n, c, T0, 3, walk_fn, &w), 3);
	assert_true(nat_sweep(n, T0 + SEC(301), 1000) > 0);
	assert_int_equal(nat_cursor_next(n, c, T0 + SEC(301), 100, walk_fn, &w), 0);
	nat_cursor_close(n, c);
	/* at most NAT_CURSORS at once; a closed one can be had again */
	for (i = 0; i < NAT_CURSORS; i++)
		assert_true((busy[i] = nat_cursor_open(n)) >= 0);
	assert_int_equal(nat_cursor_open(n), -1);
	nat_cursor_close(n, busy[0]);
	assert_true(nat_cursor_open(n) >= 0);
	fx_free(n);
}

/* TCP from 198.51.100.i:40000 to P4:80 with flags, from the client (dir 0) or back. */
static enum nat_verdict
tcpx(struct nat *n, int i, int dir, uint8_t flags, uint64_t now,
    enum nat_drop_reason *why)
{
	struct pg_pkt x;
	char c[32];

	snprintf(c, sizeof(c), "198.51.100.%d", i);
	if (dir == 0)
		pg_tcp(&x, c, 40000, P4, 80, flags);
	else
		pg_tcp(&x, B4, 80, c, 40000, flags);
	return pg_run(n, &x, dir == 0 ? NAT_SIDE_PUBLIC : NAT_SIDE_INSIDE,
	    now, why);
}

/* A full handshake for client i: established and assured. */
static void
tcp_open(struct nat *n, int i, uint64_t now)
{
	enum nat_drop_reason why;

	FWD(tcpx(n, i, 0, PKT_TCP_SYN, now, &why), why);
	FWD(tcpx(n, i, 1, PKT_TCP_SYN | PKT_TCP_ACK, now, &why), why);
	FWD(tcpx(n, i, 0, PKT_TCP_ACK, now, &why), why);
}

/*
 * When full, finished connections (TIME_WAIT) make room first, oldest
 * first, then half-open flows; established flows never do.
 */
static void
test_evict_closed_first(void **state)
{
	struct nat *n = mk(4);
	struct nat_stats st;
	enum nat_drop_reason why;

	(void)state;
	tcp_open(n, 1, T0);		/* stays established */
	tcp_open(n, 2, T0);		/* closes first */
	tcp_open(n, 3, T0);		/* closes second */
	FWD(tcpx(n, 2, 0, PKT_TCP_FIN | PKT_TCP_ACK, T0 + 1, &why), why);
	FWD(tcpx(n, 2, 1, PKT_TCP_FIN | PKT_TCP_ACK, T0 + 1, &why), why);
	FWD(tcpx(n, 3, 0, PKT_TCP_FIN | PKT_TCP_ACK, T0 + 2, &why), why);
	FWD(tcpx(n, 3, 1, PKT_TCP_FIN | PKT_TCP_ACK, T0 + 2, &why), why);
	FWD(tcpx(n, 4, 0, PKT_TCP_SYN, T0 + 3, &why), why);	/* half-open */
	/* full: the oldest finished connection (2) goes, then 3 */
	FWD(tcpx(n, 5, 0, PKT_TCP_SYN, T0 + 4, &why), why);
	assert_drop(tcpx(n, 2, 1, PKT_TCP_ACK, T0 + 5, &why), why,
	    NAT_DROP_NO_FLOW);
	FWD(tcpx(n, 3, 1, PKT_TCP_ACK, T0 + 5, &why), why);
	FWD(tcpx(n, 6, 0, PKT_TCP_SYN, T0 + 6, &why), why);
	assert_drop(tcpx(n, 3, 1, PKT_TCP_ACK, T0 + 7, &why), why,
	    NAT_DROP_NO_FLOW);
	/* none finished left: the oldest half-open flow (4) */
	FWD(tcpx(n, 7, 0, PKT_TCP_SYN, T0 + 8, &why), why);
	assert_drop(tcpx(n, 4, 1, PKT_TCP_SYN | PKT_TCP_ACK, T0 + 9, &why),
	    why, NAT_DROP_NO_FLOW);
	tcp_open(n, 5, T0 + 9);
	tcp_open(n, 6, T0 + 9);
	tcp_open(n, 7, T0 + 9);
	/* all established now: nothing to evict */
	assert_drop(tcpx(n, 8, 0, PKT_TCP_SYN, T0 + 10, &why), why,
	    NAT_DROP_TABLE_FULL);
	FWD(tcpx(n, 1, 1, PKT_TCP_ACK, T0 + 10, &why), why);
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_evicted, 3);
	assert_int_equal(st.flows_active, 4);
	fx_free(n);
}

/*
 * A half-open flow reset and opened again by a new SYN stays on the
 * eviction list once (the list must stay sound through evictions).
 */
static void
test_reopen_half_open(void **state)
{
	struct nat *n = mk(3);
	struct nat_stats st;
	enum nat_drop_reason why;
	int i;

	(void)state;
	FWD(tcpx(n, 1, 0, PKT_TCP_SYN, T0, &why), why);
	FWD(tcpx(n, 2, 0, PKT_TCP_SYN, T0, &why), why);
	FWD(tcpx(n, 1, 0, PKT_TCP_RST, T0, &why), why);
	FWD(tcpx(n, 1, 0, PKT_TCP_SYN, T0 + 1, &why), why);
	/* eviction order now 2, 1, then the newcomers */
	for (i = 10; i < 40; i++)
		FWD(tcpx(n, i, 0, PKT_TCP_SYN, T0 + 2 + (uint64_t)i, &why), why);
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_active, 3);
	assert_int_equal(st.flows_evicted, 29);
	assert_int_equal(pg_flow_count(n, T0 + 50), 3);
	/* the three newest are left; 1 and 2 went first */
	for (i = 37; i < 40; i++)
		FWD(tcpx(n, i, 1, PKT_TCP_SYN | PKT_TCP_ACK, T0 + 50, &why),
		    why);
	assert_drop(tcpx(n, 1, 1, PKT_TCP_SYN | PKT_TCP_ACK, T0 + 50, &why),
	    why, NAT_DROP_NO_FLOW);
	assert_drop(tcpx(n, 2, 1, PKT_TCP_SYN | PKT_TCP_ACK, T0 + 50, &why),
	    why, NAT_DROP_NO_FLOW);
	fx_free(n);
}

/*
 * Queues on several threads read the clock before they take turns with the
 * engine, so a packet can come with a time older than the last one: the
 * engine's clock must not go back, or the flow seen "later" looks idle for
 * 2^32 seconds and is expired under a live connection.
 */
static void
test_clock_never_goes_back(void **state)
{
	struct nat *n = mk(16);
	struct nat_stats st;
	enum nat_drop_reason why;

	(void)state;
	assert_non_null(n);
	FWD(cli(n, 1, T0 + SEC(2) + 1, &why), why);
	/* a second boundary older: the reply must still find its flow */
	FWD(srv(n, 1, T0 + SEC(1) + 999, &why), why);
	FWD(cli(n, 1, T0 + SEC(1), &why), why);
	assert_int_equal(pg_sweep_all(n, T0 + SEC(1)), 0);
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_created, 1);
	assert_int_equal(st.flows_expired, 0);
	assert_int_equal(st.drops[NAT_DROP_NO_FLOW], 0);
	assert_int_equal(pg_flow_count(n, T0), 1);
	fx_free(n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_evict_oldest_unassured),
		FX_TEST(test_all_assured_table_full),
		FX_TEST(test_evict_skips_assured),
		FX_TEST(test_tcp_handshake_not_assured),
		FX_TEST(test_refresh_both_ways),
		FX_TEST(test_sweep_budget),
		FX_TEST(test_memory),
		FX_TEST(test_reconfigure),
		FX_TEST(test_reconfigure_hash_key),
		FX_TEST(test_reconfigure_timeouts),
		FX_TEST(test_cursor_walk),
		FX_TEST(test_evict_closed_first),
		FX_TEST(test_reopen_half_open),
		FX_TEST(test_clock_never_goes_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
