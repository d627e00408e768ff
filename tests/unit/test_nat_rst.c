/*
 * test_nat_rst.c - RST judged against the receiver's window (RFC 5961 for a
 * middlebox): in window it closes the flow, out of window it is dropped and
 * counted without touching state or timeout; both directions and families,
 * sequence numbers wrapping at 2^32, window scaling, mid-stream pickup.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"
#include "pktgen.h"

#define HALF 0x80000000U

static struct nat_rule rules[2];

/* An engine with the catch-all rule of both families. */
static struct nat *
mk(void)
{
	fx_keep_all(rules);
	return fx_engine(rules, 2);
}

/* One segment of the test connection: dir 0 client, 1 backend. */
struct seg {
	int fam;
	int dir;
	uint8_t flags;
	uint32_t seq;
	uint16_t win;
	int wscale;		/* -1: none */
	size_t len;
};

/* Each direction's next sequence number, as far as the test has sent. */
static uint32_t seg_next[2];

/*
 * Send a segment, acknowledging what the other direction sent; a forwarded
 * one has every checksum right.
 */
static enum nat_verdict
send_seg(struct nat *n, const struct seg *g, uint64_t now,
    enum nat_drop_reason *why)
{
	const char *c = g->fam == 4 ? C4 : C6, *p = g->fam == 4 ? P4 : P6;
	const char *b = g->fam == 4 ? B4 : B6;
	uint8_t opts[4] = { 1, 3, 3, 0 };
	struct pg_spec sp;
	struct pg_pkt x;
	enum nat_verdict v;

	if (g->dir == 0)
		pg_spec_init(&sp, PKT_IPPROTO_TCP, c, 40000, p, 80);
	else
		pg_spec_init(&sp, PKT_IPPROTO_TCP, b, 80, c, 40000);
	sp.tcp_flags = g->flags;
	sp.seq = g->seq;
	sp.ack = (g->flags & PKT_TCP_ACK) ? seg_next[!g->dir] : 0;
	sp.win = g->win;
	sp.payload_len = g->len;
	if (g->wscale >= 0) {
		opts[3] = (uint8_t)g->wscale;
		sp.tcp_opts = opts;
		sp.tcp_opts_len = 4;
	}
	pg_build(&sp, &x);
	v = pg_run(n, &x, g->dir ? NAT_SIDE_INSIDE : NAT_SIDE_PUBLIC, now, why);
	if (v == NAT_FORWARD) {
		assert_pkt_csums(&x);
		seg_next[g->dir] = g->seq + (uint32_t)g->len +
		    ((g->flags & PKT_TCP_SYN) != 0) + ((g->flags & PKT_TCP_FIN) != 0);
	}
	return v;
}

#define FWD(N, G, T) do {						\
	enum nat_drop_reason why_;					\
	assert_verdict(send_seg((N), (G), (T), &why_), NAT_FORWARD, why_); \
} while (0)

/* The client's flow, which must exist. */
static void
flow_of(struct nat *n, int fam, uint64_t now, struct nat_flow_info *fi)
{
	assert_true(pg_find_flow(n, now, PKT_IPPROTO_TCP, fam == 4 ? C4 : C6,
	    40000, fi));
}

/*
 * A handshake with window scale 7 both ways, then data: the client's next
 * number is cs + 1 + 100, the backend's ss + 1 + 200.
 */
static void
connect(struct nat *n, int fam, uint32_t cs, uint32_t ss)
{
	struct seg g[] = {
		{ fam, 0, PKT_TCP_SYN, cs, 65535, 7, 0 },
		{ fam, 1, PKT_TCP_SYN | PKT_TCP_ACK, ss, 65535, 7, 0 },
		{ fam, 0, PKT_TCP_ACK, cs + 1, 502, -1, 100 },
		{ fam, 1, PKT_TCP_ACK, ss + 1, 502, -1, 200 },
		{ fam, 0, PKT_TCP_ACK, cs + 101, 502, -1, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(g) / sizeof(g[0]); i++)
		FWD(n, &g[i], T0);
}

/* An RST at the next expected number closes the flow, either way. */
static void
rst_closes(int fam, int dir)
{
	struct nat *n = mk();
	struct nat_flow_info fi;
	struct seg r = { fam, dir, PKT_TCP_RST | PKT_TCP_ACK,
	    dir ? 5000 + 201 : 1000 + 101, 0, -1, 0 };

	connect(n, fam, 1000, 5000);
	flow_of(n, fam, T0, &fi);
	assert_string_equal(fi.state, "established");
	FWD(n, &r, T0 + SEC(1));
	flow_of(n, fam, T0 + SEC(1), &fi);
	assert_string_equal(fi.state, "closed");
	assert_in_range(fi.expires, 239, 240);
}

/* In-window RSTs: both directions, both families. */
static void
test_rst_in_window(void **state)
{
	(void)state;
	rst_closes(4, 0);
	rst_closes(4, 1);
	rst_closes(6, 0);
	rst_closes(6, 1);
}

/* An RST 2^31 away: dropped, counted, state and timeout unchanged. */
static void
rst_ignored(int fam, int dir)
{
	struct nat *n = mk();
	struct nat_flow_info a, b;
	struct nat_stats st;
	enum nat_drop_reason why;
	uint32_t next = dir ? 5000 + 201 : 1000 + 101;
	struct seg r = { fam, dir, PKT_TCP_RST, next + HALF, 0, -1, 0 };
	struct seg ok = { fam, dir, PKT_TCP_RST, next, 0, -1, 0 };

	connect(n, fam, 1000, 5000);
	flow_of(n, fam, T0 + SEC(10), &a);
	assert_drop(send_seg(n, &r, T0 + SEC(10), &why), why,
	    NAT_DROP_TCP_RST_WINDOW);
	/* a quarter of the space off is still far outside any window seen */
	r.seq = next - HALF / 2;
	assert_drop(send_seg(n, &r, T0 + SEC(10), &why), why,
	    NAT_DROP_TCP_RST_WINDOW);
	flow_of(n, fam, T0 + SEC(10), &b);
	assert_string_equal(b.state, "established");
	assert_true(b.assured);
	assert_int_equal(b.idle, a.idle);
	assert_int_equal(b.expires, a.expires);
	assert_int_equal(b.packets[0], a.packets[0]);
	assert_int_equal(b.packets[1], a.packets[1]);
	nat_get_stats(n, &st);
	assert_int_equal(st.drops[NAT_DROP_TCP_RST_WINDOW], 2);
	assert_int_equal(st.flows_by_state[NAT_TCP_ESTABLISHED], 1);
	assert_int_equal(st.flows_by_state[NAT_TCP_CLOSED], 0);
	/* the real one still closes it */
	FWD(n, &ok, T0 + SEC(11));
	flow_of(n, fam, T0 + SEC(11), &b);
	assert_string_equal(b.state, "closed");
}

/* Out-of-window RSTs: both directions, both families. */
static void
test_rst_out_of_window(void **state)
{
	(void)state;
	rst_ignored(4, 0);
	rst_ignored(4, 1);
	rst_ignored(6, 0);
	rst_ignored(6, 1);
}

/* A window of 502 << 7 (64 KiB): an RST 1 MiB past the end is out. */
static void
test_rst_window_edge(void **state)
{
	struct nat *n = mk();
	enum nat_drop_reason why;
	struct seg r = { 4, 0, PKT_TCP_RST, 1000 + 101 + (1U << 20), 0, -1, 0 };

	(void)state;
	connect(n, 4, 1000, 5000);
	assert_drop(send_seg(n, &r, T0, &why), why, NAT_DROP_TCP_RST_WINDOW);
	r.seq = 1000 + 101 - (1U << 20);
	assert_drop(send_seg(n, &r, T0, &why), why, NAT_DROP_TCP_RST_WINDOW);
	/* within the window ahead of the end (a later ACK number): accepted */
	r.seq = 1000 + 101 + 30000;
	FWD(n, &r, T0);
}

/* Sequence numbers that wrap at 2^32 are judged modulo 2^32. */
static void
test_rst_wrap(void **state)
{
	struct nat *n = mk();
	struct nat_flow_info fi;
	enum nat_drop_reason why;
	/* the client's data crosses 2^32: its next number is 0x100 - 0x65 */
	uint32_t cs = 0xffffff00U, next = cs + 101 + 0x100;
	struct seg more = { 4, 0, PKT_TCP_ACK, cs + 101, 502, -1, 0x100 };
	struct seg r = { 4, 0, PKT_TCP_RST, next + HALF, 0, -1, 0 };

	(void)state;
	connect(n, 4, cs, 0xfffffff0U);
	FWD(n, &more, T0);
	assert_true(next < 0x1000);
	assert_drop(send_seg(n, &r, T0, &why), why, NAT_DROP_TCP_RST_WINDOW);
	/* the backend's side wrapped in the handshake already */
	r.dir = 1;
	r.seq = 0xfffffff0U + 201 + HALF;
	assert_drop(send_seg(n, &r, T0, &why), why, NAT_DROP_TCP_RST_WINDOW);
	flow_of(n, 4, T0, &fi);
	assert_string_equal(fi.state, "established");
	/* just below 2^32, before the wrapped end: in window */
	r.dir = 0;
	r.seq = 0xfffffff0U;
	FWD(n, &r, T0);
	flow_of(n, 4, T0, &fi);
	assert_string_equal(fi.state, "closed");
}

/*
 * Picked up mid-stream: no SYN, so no window scale; judged as scale 14 (a
 * window up to 2^30), an RST 2^29 off passes, 2^31 off does not. With one
 * side unseen nothing can be judged: any RST passes.
 */
static void
test_rst_pickup(void **state)
{
	struct nat *n = mk();
	struct nat_flow_info fi;
	enum nat_drop_reason why;
	struct seg a = { 4, 0, PKT_TCP_ACK, 1000, 502, -1, 10 };
	struct seg b = { 4, 1, PKT_TCP_ACK, 9000, 65535, -1, 10 };
	struct seg r = { 4, 0, PKT_TCP_RST, 1010 + HALF, 0, -1, 0 };

	(void)state;
	FWD(n, &a, T0);
	/* the backend's window is unknown: even 2^31 away passes */
	FWD(n, &r, T0);
	flow_of(n, 4, T0, &fi);
	assert_string_equal(fi.state, "closed");
	fx_free(n);

	n = mk();
	FWD(n, &a, T0);
	FWD(n, &b, T0);
	a.seq = 1010;
	FWD(n, &a, T0);
	r.seq = 1020 + HALF;
	assert_drop(send_seg(n, &r, T0, &why), why, NAT_DROP_TCP_RST_WINDOW);
	r.seq = 1020 + (1U << 29);
	FWD(n, &r, T0);
	flow_of(n, 4, T0, &fi);
	assert_string_equal(fi.state, "closed");
}

/* A new SYN on a closed flow forgets the old connection's numbers. */
static void
test_rst_reopen(void **state)
{
	struct nat *n = mk();
	struct nat_flow_info fi;
	struct seg r = { 4, 1, PKT_TCP_RST, 5000 + 201, 0, -1, 0 };

	(void)state;
	connect(n, 4, 1000, 5000);
	FWD(n, &r, T0);
	connect(n, 4, 1000 + HALF, 5000 + HALF);
	flow_of(n, 4, T0, &fi);
	assert_string_equal(fi.state, "established");
	r.seq = 5000 + HALF + 201;
	FWD(n, &r, T0);
	flow_of(n, 4, T0, &fi);
	assert_string_equal(fi.state, "closed");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_rst_in_window),
		FX_TEST(test_rst_out_of_window),
		FX_TEST(test_rst_window_edge),
		FX_TEST(test_rst_wrap),
		FX_TEST(test_rst_pickup),
		FX_TEST(test_rst_reopen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
