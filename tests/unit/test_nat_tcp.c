/*
 * test_nat_tcp.c - TCP tracking: the state machine, RST handling, timeouts
 * (RFC 5382: established >= 2 h 4 min, transitory >= 4 min), mid-stream
 * pickup, invalid openers, simultaneous open (RFC 5382 REQ-2), MSS clamping
 * (fixed, from the MTU, odd offsets).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"
#include "pktgen.h"

static struct nat_rule rules[2];

static struct nat *
mk(bool no_pickup, uint16_t mss_clamp, uint16_t mtu)
{
	struct nat_settings s;

	fx_keep_all(rules);
	fx_settings(&s, rules, 2);
	s.tcp_no_pickup = no_pickup;
	s.mss_clamp = mss_clamp;
	s.mtu = mtu;
	return fx_nat(&s);
}

/* The client C4:40000 -> P4:80 sends flags; checked when forwarded. */
static enum nat_verdict
cli(struct nat *n, uint8_t flags, uint64_t now, enum nat_drop_reason *why)
{
	struct pg_pkt x;
	struct pg_info pi;
	enum nat_verdict v;

	pg_tcp(&x, C4, 40000, P4, 80, flags);
	v = pg_run(n, &x, NAT_SIDE_PUBLIC, now, why);
	if (v == NAT_FORWARD) {
		assert_pkt_csums(&x);
		assert_parse(&x, &pi);
		assert_pkt_tuple(&pi, C4, 40000, B4, 80);
		assert_int_equal(pi.tcp_flags, flags);
	}
	return v;
}

/* The backend B4:80 -> C4:40000 sends flags; checked when forwarded. */
static enum nat_verdict
srv(struct nat *n, uint8_t flags, uint64_t now, enum nat_drop_reason *why)
{
	struct pg_pkt x;
	struct pg_info pi;
	enum nat_verdict v;

	pg_tcp(&x, B4, 80, C4, 40000, flags);
	v = pg_run(n, &x, NAT_SIDE_INSIDE, now, why);
	if (v == NAT_FORWARD) {
		assert_pkt_csums(&x);
		assert_parse(&x, &pi);
		assert_pkt_tuple(&pi, P4, 80, C4, 40000);
		assert_int_equal(pi.tcp_flags, flags);
	}
	return v;
}

#define CLI(N, F, T) do {						\
	enum nat_drop_reason w__;					\
	assert_verdict(cli((N), (F), (T), &w__), NAT_FORWARD, w__);	\
} while (0)
#define SRV(N, F, T) do {						\
	enum nat_drop_reason w__;					\
	assert_verdict(srv((N), (F), (T), &w__), NAT_FORWARD, w__);	\
} while (0)

/* State name of the flow of C4:40000 (NULL: no flow). */
static const char *
state_of(struct nat *n, uint64_t now, struct nat_flow_info *fi)
{
	if (!pg_find_flow(n, now, PKT_IPPROTO_TCP, C4, 40000, fi))
		return NULL;
	return fi->state;
}

#define assert_state(N, T, ST) do {					\
	struct nat_flow_info fi_;					\
	const char *s_ = state_of((N), (T), &fi_);			\
	if (s_ == NULL)							\
		fail_msg("%s:%d: no flow, want %s", __FILE__, __LINE__,	\
		    nat_tcp_state_name(ST));				\
	if (strcmp(s_, nat_tcp_state_name(ST)) != 0)			\
		fail_msg("%s:%d: state %s, want %s", __FILE__, __LINE__,	\
		    s_, nat_tcp_state_name(ST));			\
} while (0)

/* SYN, SYN+ACK, ACK, FIN, FIN: the states in order, with their timeouts. */
static void
test_state_machine(void **state)
{
	struct nat *n = mk(false, 0, 0);
	struct nat_flow_info fi;
	struct nat_stats st;

	(void)state;
	assert_non_null(n);
	CLI(n, PKT_TCP_SYN, T0);
	assert_state(n, T0, NAT_TCP_SYN_SENT);
	state_of(n, T0, &fi);
	assert_false(fi.assured);
	assert_in_range(fi.expires, 239, 240);
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_by_state[NAT_TCP_SYN_SENT], 1);

	SRV(n, PKT_TCP_SYN | PKT_TCP_ACK, T0 + 10);
	assert_state(n, T0 + 10, NAT_TCP_SYN_RECV);
	state_of(n, T0 + 10, &fi);
	assert_in_range(fi.expires, 239, 240);

	CLI(n, PKT_TCP_ACK, T0 + 20);
	assert_state(n, T0 + 20, NAT_TCP_ESTABLISHED);
	state_of(n, T0 + 20, &fi);
	assert_true(fi.assured);
	assert_in_range(fi.expires, 7439, 7440);
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_by_state[NAT_TCP_ESTABLISHED], 1);
	assert_int_equal(st.flows_by_state[NAT_TCP_SYN_SENT], 0);
	assert_int_equal(st.flows_by_state[NAT_TCP_SYN_RECV], 0);

	SRV(n, PKT_TCP_ACK | PKT_TCP_PSH, T0 + 30);
	CLI(n, PKT_TCP_ACK, T0 + 40);
	assert_state(n, T0 + 40, NAT_TCP_ESTABLISHED);

	CLI(n, PKT_TCP_FIN | PKT_TCP_ACK, T0 + 50);
	assert_state(n, T0 + 50, NAT_TCP_FIN_WAIT);
	state_of(n, T0 + 50, &fi);
	assert_in_range(fi.expires, 239, 240);
	SRV(n, PKT_TCP_ACK, T0 + 60);
	assert_state(n, T0 + 60, NAT_TCP_FIN_WAIT);
	SRV(n, PKT_TCP_FIN | PKT_TCP_ACK, T0 + 70);
	assert_state(n, T0 + 70, NAT_TCP_TIME_WAIT);
	CLI(n, PKT_TCP_ACK, T0 + 80);
	assert_state(n, T0 + 80, NAT_TCP_TIME_WAIT);
	state_of(n, T0 + 80, &fi);
	assert_in_range(fi.expires, 239, 240);
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_by_state[NAT_TCP_TIME_WAIT], 1);
	assert_int_equal(st.flows_by_state[NAT_TCP_ESTABLISHED], 0);

	/* TIME_WAIT lasts the transitory timeout */
	pg_sweep_all(n, T0 + 80 + SEC(239));
	assert_state(n, T0 + 80 + SEC(239), NAT_TCP_TIME_WAIT);
	pg_sweep_all(n, T0 + 80 + SEC(241));
	assert_null(state_of(n, T0 + 80 + SEC(241), &fi));
	fx_free(n);
}

/* The backend closes first: FIN from the inside, then from the client. */
static void
test_server_closes_first(void **state)
{
	struct nat *n = mk(false, 0, 0);

	(void)state;
	assert_non_null(n);
	CLI(n, PKT_TCP_SYN, T0);
	SRV(n, PKT_TCP_SYN | PKT_TCP_ACK, T0);
	CLI(n, PKT_TCP_ACK, T0);
	SRV(n, PKT_TCP_FIN | PKT_TCP_ACK, T0 + 1);
	assert_state(n, T0 + 1, NAT_TCP_FIN_WAIT);
	CLI(n, PKT_TCP_FIN | PKT_TCP_ACK, T0 + 2);
	assert_state(n, T0 + 2, NAT_TCP_TIME_WAIT);
	fx_free(n);
}

/* RST: CLOSED, the flow kept with the transitory timeout. */
static void
test_rst_keeps_flow(void **state)
{
	struct nat *n = mk(false, 0, 0);
	struct nat_flow_info fi;
	struct nat_stats st;

	(void)state;
	assert_non_null(n);
	CLI(n, PKT_TCP_SYN, T0);
	SRV(n, PKT_TCP_SYN | PKT_TCP_ACK, T0);
	CLI(n, PKT_TCP_ACK, T0);
	SRV(n, PKT_TCP_RST, T0 + SEC(1));
	assert_state(n, T0 + SEC(1), NAT_TCP_CLOSED);
	state_of(n, T0 + SEC(1), &fi);
	assert_in_range(fi.expires, 239, 240);
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_active, 1);
	assert_int_equal(st.flows_by_state[NAT_TCP_CLOSED], 1);

	/* a second RST (either way) still passes: the mapping is still there */
	CLI(n, PKT_TCP_RST, T0 + SEC(2));
	assert_state(n, T0 + SEC(2), NAT_TCP_CLOSED);
	pg_sweep_all(n, T0 + SEC(2) + SEC(239));
	assert_state(n, T0 + SEC(2) + SEC(239), NAT_TCP_CLOSED);
	pg_sweep_all(n, T0 + SEC(2) + SEC(241));
	assert_null(state_of(n, T0 + SEC(2) + SEC(241), &fi));
	fx_free(n);
}

/* A new SYN on a CLOSED or TIME_WAIT flow reopens it. */
static void
test_syn_reopens(void **state)
{
	struct nat *n = mk(false, 0, 0);
	struct nat_stats st;

	(void)state;
	assert_non_null(n);
	CLI(n, PKT_TCP_SYN, T0);
	SRV(n, PKT_TCP_SYN | PKT_TCP_ACK, T0);
	CLI(n, PKT_TCP_ACK, T0);
	CLI(n, PKT_TCP_RST, T0 + 1);
	assert_state(n, T0 + 1, NAT_TCP_CLOSED);
	CLI(n, PKT_TCP_SYN, T0 + 2);
	assert_state(n, T0 + 2, NAT_TCP_SYN_SENT);
	SRV(n, PKT_TCP_SYN | PKT_TCP_ACK, T0 + 3);
	CLI(n, PKT_TCP_ACK, T0 + 4);
	assert_state(n, T0 + 4, NAT_TCP_ESTABLISHED);
	CLI(n, PKT_TCP_FIN | PKT_TCP_ACK, T0 + 5);
	SRV(n, PKT_TCP_FIN | PKT_TCP_ACK, T0 + 6);
	CLI(n, PKT_TCP_ACK, T0 + 7);
	assert_state(n, T0 + 7, NAT_TCP_TIME_WAIT);
	CLI(n, PKT_TCP_SYN, T0 + 8);
	assert_state(n, T0 + 8, NAT_TCP_SYN_SENT);
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_active, 1);
	assert_int_equal(st.flows_by_state[NAT_TCP_TIME_WAIT], 0);
	assert_int_equal(st.flows_by_state[NAT_TCP_CLOSED], 0);
	assert_int_equal(st.flows_by_state[NAT_TCP_SYN_SENT], 1);
	assert_int_equal(pg_flow_count(n, T0 + 8), 1);
	fx_free(n);
}

/* Established: alive at 7439 s idle, gone after 7441 s (sweep and lookup). */
static void
test_established_timeout(void **state)
{
	struct nat *n = mk(true, 0, 0);
	struct nat_flow_info fi;
	struct nat_stats st;
	enum nat_drop_reason why;
	uint64_t t;

	(void)state;
	assert_non_null(n);
	CLI(n, PKT_TCP_SYN, T0);
	SRV(n, PKT_TCP_SYN | PKT_TCP_ACK, T0);
	CLI(n, PKT_TCP_ACK, T0);

	pg_sweep_all(n, T0 + SEC(7439));
	assert_state(n, T0 + SEC(7439), NAT_TCP_ESTABLISHED);
	/* a packet at 7439 s passes and refreshes */
	t = T0 + SEC(7439);
	SRV(n, PKT_TCP_ACK, t);
	state_of(n, t, &fi);
	assert_int_equal(fi.idle, 0);
	pg_sweep_all(n, t + SEC(7439));
	assert_state(n, t + SEC(7439), NAT_TCP_ESTABLISHED);
	pg_sweep_all(n, t + SEC(7441));
	assert_null(state_of(n, t + SEC(7441), &fi));
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_active, 0);
	assert_int_equal(st.flows_expired, 1);
	assert_int_equal(st.flows_by_state[NAT_TCP_ESTABLISHED], 0);
	assert_drop(srv(n, PKT_TCP_ACK, t + SEC(7441), &why), why, NAT_DROP_NO_FLOW);

	/* without a sweep: found expired on lookup */
	CLI(n, PKT_TCP_SYN, T0 + SEC(20000));
	SRV(n, PKT_TCP_SYN | PKT_TCP_ACK, T0 + SEC(20000));
	CLI(n, PKT_TCP_ACK, T0 + SEC(20000));
	SRV(n, PKT_TCP_ACK, T0 + SEC(20000 + 7439));
	assert_drop(srv(n, PKT_TCP_ACK, T0 + SEC(20000 + 7439 + 7441), &why), why,
	    NAT_DROP_NO_FLOW);
	/* tcp_no_pickup: the client's next segment cannot reopen it either */
	assert_int_equal(cli(n, PKT_TCP_ACK, T0 + SEC(20000 + 7439 + 7441), &why), NAT_DROP);
	fx_free(n);
}

/* Every state but ESTABLISHED: 240 s. */
static void
test_transitory_timeout(void **state)
{
	struct nat *n = mk(false, 0, 0);
	struct nat_flow_info fi;

	(void)state;
	assert_non_null(n);
	CLI(n, PKT_TCP_SYN, T0);
	pg_sweep_all(n, T0 + SEC(239));
	assert_state(n, T0 + SEC(239), NAT_TCP_SYN_SENT);
	pg_sweep_all(n, T0 + SEC(241));
	assert_null(state_of(n, T0 + SEC(241), &fi));

	CLI(n, PKT_TCP_SYN, T0 + SEC(1000));
	SRV(n, PKT_TCP_SYN | PKT_TCP_ACK, T0 + SEC(1000));
	pg_sweep_all(n, T0 + SEC(1239));
	assert_state(n, T0 + SEC(1239), NAT_TCP_SYN_RECV);
	pg_sweep_all(n, T0 + SEC(1241));
	assert_null(state_of(n, T0 + SEC(1241), &fi));
	fx_free(n);
}

/* Configured timeouts are used. */
static void
test_configured_timeouts(void **state)
{
	struct nat_settings s;
	struct nat *n;
	struct nat_flow_info fi;

	(void)state;
	rules[0] = fx_rule(B4, ALLP, 1, 65535, 0);
	fx_settings(&s, rules, 1);
	s.tcp_established = 10000;
	s.tcp_transitory = 300;
	n = fx_nat(&s);
	assert_non_null(n);
	CLI(n, PKT_TCP_SYN, T0);
	state_of(n, T0, &fi);
	assert_in_range(fi.expires, 299, 300);
	SRV(n, PKT_TCP_SYN | PKT_TCP_ACK, T0);
	CLI(n, PKT_TCP_ACK, T0);
	state_of(n, T0, &fi);
	assert_in_range(fi.expires, 9999, 10000);
	pg_sweep_all(n, T0 + SEC(9999));
	assert_state(n, T0 + SEC(9999), NAT_TCP_ESTABLISHED);
	fx_free(n);
}

/* Mid-stream pickup: an ACK without a flow opens ESTABLISHED, unassured. */
static void
test_pickup(void **state)
{
	struct nat *n = mk(false, 0, 0);
	struct nat_flow_info fi;

	(void)state;
	assert_non_null(n);
	CLI(n, PKT_TCP_ACK | PKT_TCP_PSH, T0);
	assert_state(n, T0, NAT_TCP_ESTABLISHED);
	state_of(n, T0, &fi);
	assert_false(fi.assured);
	SRV(n, PKT_TCP_ACK, T0 + 1);
	state_of(n, T0 + 1, &fi);
	assert_true(fi.assured);
	assert_state(n, T0 + 1, NAT_TCP_ESTABLISHED);
	fx_free(n);
}

/* tcp_no_pickup: the ACK is refused, no flow; a SYN still opens. */
static void
test_no_pickup(void **state)
{
	struct nat *n = mk(true, 0, 0);
	struct nat_stats st;
	enum nat_drop_reason why;
	enum nat_verdict v;

	(void)state;
	assert_non_null(n);
	v = cli(n, PKT_TCP_ACK | PKT_TCP_PSH, T0, &why);
	assert_int_equal(v, NAT_DROP);
	assert_true(why == NAT_DROP_NO_FLOW || why == NAT_DROP_TCP_STATE);
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_created, 0);
	assert_int_equal(st.drops[why], 1);
	CLI(n, PKT_TCP_SYN, T0);
	assert_state(n, T0, NAT_TCP_SYN_SENT);
	fx_free(n);
}

/* Packets that cannot open a flow: dropped, nothing created. */
static void
test_invalid_openers(void **state)
{
	static const uint8_t bad[] = {
		PKT_TCP_RST, PKT_TCP_RST | PKT_TCP_ACK, PKT_TCP_FIN, 0,
		PKT_TCP_SYN | PKT_TCP_ACK, PKT_TCP_SYN | PKT_TCP_RST,
		PKT_TCP_SYN | PKT_TCP_FIN,
	};
	struct nat *n = mk(false, 0, 0);
	struct nat_stats st;
	enum nat_drop_reason why;
	enum nat_verdict v;
	size_t i;

	(void)state;
	assert_non_null(n);
	for (i = 0; i < sizeof(bad); i++) {
		v = cli(n, bad[i], T0, &why);
		if (v != NAT_DROP || (why != NAT_DROP_NO_FLOW && why != NAT_DROP_TCP_STATE))
			fail_msg("flags 0x%02x without a flow: verdict %d (%s), want a drop",
			    bad[i], v, v == NAT_DROP ? nat_drop_name(why) : "-");
	}
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_created, 0);
	assert_int_equal(pg_flow_count(n, T0), 0);
	fx_free(n);
}

/* A non-SYN reply (or a SYN+ACK) from the inside without a flow: no_flow. */
static void
test_reply_without_flow(void **state)
{
	static const uint8_t fl[] = {
		PKT_TCP_ACK, PKT_TCP_SYN | PKT_TCP_ACK, PKT_TCP_RST, PKT_TCP_FIN | PKT_TCP_ACK,
	};
	struct nat *n = mk(false, 0, 0);
	struct nat_stats st;
	enum nat_drop_reason why;
	size_t i;

	(void)state;
	assert_non_null(n);
	for (i = 0; i < sizeof(fl); i++)
		assert_drop(srv(n, fl[i], T0, &why), why, NAT_DROP_NO_FLOW);
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_created, 0);
	assert_int_equal(st.drops[NAT_DROP_NO_FLOW], sizeof(fl));
	fx_free(n);
}

/* The client's sequence numbers start at CISN, the backend's at SISN. */
#define CISN 1000U
#define SISN 900000U

/*
 * A segment of the test connection with sequence number seq (dir 0: the
 * client, 1: the backend), acknowledging the other side's SYN, checked when
 * forwarded.
 */
static enum nat_verdict
seg(struct nat *n, int dir, uint8_t flags, uint32_t seq, uint64_t now,
    enum nat_drop_reason *why)
{
	struct pg_spec sp;
	struct pg_pkt x;
	struct pg_info pi;
	enum nat_verdict v;

	if (dir == 0)
		pg_spec_init(&sp, PKT_IPPROTO_TCP, C4, 40000, P4, 80);
	else
		pg_spec_init(&sp, PKT_IPPROTO_TCP, B4, 80, C4, 40000);
	sp.tcp_flags = flags;
	sp.seq = seq;
	sp.ack = (flags & PKT_TCP_ACK) ? (dir == 0 ? SISN : CISN) + 1 : 0;
	if (!(flags & (PKT_TCP_SYN | PKT_TCP_RST)))
		sp.payload_len = 100;
	pg_build(&sp, &x);
	v = pg_run(n, &x, dir ? NAT_SIDE_INSIDE : NAT_SIDE_PUBLIC, now, why);
	if (v == NAT_FORWARD) {
		assert_pkt_csums(&x);
		assert_parse(&x, &pi);
		if (dir == 0)
			assert_pkt_tuple(&pi, C4, 40000, B4, 80);
		else
			assert_pkt_tuple(&pi, P4, 80, C4, 40000);
		assert_int_equal(pi.tcp_flags, flags);
	}
	return v;
}

#define SEG(N, D, F, S, T) do {						\
	enum nat_drop_reason w__;					\
	assert_verdict(seg((N), (D), (F), (S), (T), &w__), NAT_FORWARD,	\
	    w__);							\
} while (0)

#define SA (PKT_TCP_SYN | PKT_TCP_ACK)


/* The flow is established, assured, with the established timeout. */
static void
assert_open(struct nat *n, uint64_t now)
{
	struct nat_flow_info fi;
	struct nat_stats st;

	assert_state(n, now, NAT_TCP_ESTABLISHED);
	state_of(n, now, &fi);
	assert_true(fi.assured);
	assert_in_range(fi.expires, 7439, 7440);
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_by_state[NAT_TCP_ESTABLISHED], 1);
	assert_int_equal(st.flows_by_state[NAT_TCP_SYN_SENT], 0);
	assert_int_equal(st.flows_by_state[NAT_TCP_SYN_RECV], 0);
	/* idle past the transitory timeout: still there */
	pg_sweep_all(n, now + SEC(300));
	assert_state(n, now + SEC(300), NAT_TCP_ESTABLISHED);
}

/* Both SYNs cross: SYN_SENT stays, unassured, with the transitory timeout. */
static void
syns_cross(struct nat *n)
{
	struct nat_flow_info fi;

	SEG(n, 0, PKT_TCP_SYN, CISN, T0);
	SEG(n, 1, PKT_TCP_SYN, SISN, T0 + 1);
	assert_state(n, T0 + 1, NAT_TCP_SYN_SENT);
	state_of(n, T0 + 1, &fi);
	assert_false(fi.assured);
	assert_in_range(fi.expires, 239, 240);
}

/*
 * Simultaneous open (RFC 793 figure 8, RFC 5382 REQ-2): the SYNs cross, the
 * SYN+ACK of direction first, then the other's, then data from the backend
 * only: established and assured.
 */
static void
simultaneous_open(int first)
{
	struct nat *n = mk(false, 0, 0);

	assert_non_null(n);
	syns_cross(n);
	SEG(n, first, SA, first ? SISN : CISN, T0 + 2);
	assert_state(n, T0 + 2, NAT_TCP_SYN_RECV);
	SEG(n, !first, SA, first ? CISN : SISN, T0 + 3);
	assert_state(n, T0 + 3, NAT_TCP_SYN_RECV);
	SEG(n, 1, PKT_TCP_ACK | PKT_TCP_PSH, SISN + 1, T0 + 4);
	assert_open(n, T0 + 4);
	fx_free(n);
}

/* Simultaneous open, the client's SYN+ACK first. */
static void
test_simultaneous_open_client_first(void **state)
{
	(void)state;
	simultaneous_open(0);
}

/* Simultaneous open, the backend's SYN+ACK first. */
static void
test_simultaneous_open_target_first(void **state)
{
	(void)state;
	simultaneous_open(1);
}

/* Simultaneous open completed by the client's data instead. */
static void
test_simultaneous_open_client_ack(void **state)
{
	struct nat *n = mk(false, 0, 0);

	(void)state;
	assert_non_null(n);
	syns_cross(n);
	SEG(n, 0, SA, CISN, T0 + 2);
	assert_state(n, T0 + 2, NAT_TCP_SYN_RECV);
	SEG(n, 1, SA, SISN, T0 + 3);
	SEG(n, 0, PKT_TCP_ACK | PKT_TCP_PSH, CISN + 1, T0 + 4);
	assert_open(n, T0 + 4);
	fx_free(n);
}

/*
 * After a simultaneous open both directions' windows are known: an RST far
 * out of the backend's sequence space is dropped, one at its next number
 * closes the flow.
 */
static void
test_simultaneous_open_rst_window(void **state)
{
	struct nat *n = mk(false, 0, 0);
	enum nat_drop_reason why;

	(void)state;
	assert_non_null(n);
	syns_cross(n);
	SEG(n, 0, SA, CISN, T0 + 2);
	SEG(n, 1, SA, SISN, T0 + 3);
	SEG(n, 1, PKT_TCP_ACK | PKT_TCP_PSH, SISN + 1, T0 + 4);
	assert_drop(seg(n, 1, PKT_TCP_RST, SISN + 0x40000000U, T0 + 5, &why),
	    why, NAT_DROP_TCP_RST_WINDOW);
	assert_drop(seg(n, 0, PKT_TCP_RST, CISN + 0x40000000U, T0 + 5, &why),
	    why, NAT_DROP_TCP_RST_WINDOW);
	assert_state(n, T0 + 5, NAT_TCP_ESTABLISHED);
	SEG(n, 1, PKT_TCP_RST, SISN + 101, T0 + 6);
	assert_state(n, T0 + 6, NAT_TCP_CLOSED);
	fx_free(n);
}

/*
 * The normal handshake keeps its rules: a client SYN+ACK that answers no
 * SYN of the backend changes nothing, a resent SYN+ACK of the backend does
 * not complete the open, the client's ACK does.
 */
static void
test_handshake_unchanged(void **state)
{
	struct nat *n = mk(false, 0, 0);
	struct nat_flow_info fi;

	(void)state;
	assert_non_null(n);
	SEG(n, 0, PKT_TCP_SYN, CISN, T0);
	SEG(n, 0, SA, CISN, T0 + 1);
	assert_state(n, T0 + 1, NAT_TCP_SYN_SENT);
	SEG(n, 1, SA, SISN, T0 + 2);
	assert_state(n, T0 + 2, NAT_TCP_SYN_RECV);
	SEG(n, 1, SA, SISN, T0 + 3);
	SEG(n, 0, SA, CISN, T0 + 3);
	assert_state(n, T0 + 3, NAT_TCP_SYN_RECV);
	state_of(n, T0 + 3, &fi);
	assert_false(fi.assured);
	assert_in_range(fi.expires, 239, 240);
	SEG(n, 0, PKT_TCP_ACK, CISN + 1, T0 + 4);
	assert_open(n, T0 + 4);
	fx_free(n);
}

/*
 * What a blind spoofer on the client's side can do does not open the flow:
 * an ACK whose number does not acknowledge the backend's SYN+ACK, nor a
 * bare ACK of the backend (its answer to an out-of-window SYN) after a
 * normal SYN+ACK. Both leave it unassured, with the transitory timeout.
 */
static void
test_blind_open(void **state)
{
	struct nat *n = mk(false, 0, 0);
	struct pg_spec sp;
	struct pg_pkt x;
	struct nat_flow_info fi;
	enum nat_drop_reason why;

	(void)state;
	assert_non_null(n);
	SEG(n, 0, PKT_TCP_SYN, CISN, T0);
	SEG(n, 1, SA, SISN, T0 + 1);
	/* an ACK guessed wrong: forwarded (the backend answers it) only */
	pg_spec_init(&sp, PKT_IPPROTO_TCP, C4, 40000, P4, 80);
	sp.tcp_flags = PKT_TCP_ACK;
	sp.seq = CISN + 1;
	sp.ack = SISN + 0x40000000U;
	pg_build(&sp, &x);
	assert_verdict(pg_run(n, &x, NAT_SIDE_PUBLIC, T0 + 2, &why),
	    NAT_FORWARD, why);
	assert_state(n, T0 + 2, NAT_TCP_SYN_RECV);
	/* the backend's bare ACK after its own SYN+ACK */
	SEG(n, 1, PKT_TCP_ACK, SISN + 1, T0 + 3);
	assert_state(n, T0 + 3, NAT_TCP_SYN_RECV);
	state_of(n, T0 + 3, &fi);
	assert_false(fi.assured);
	assert_in_range(fi.expires, 239, 240);
	/* the real client's ACK opens it */
	SEG(n, 0, PKT_TCP_ACK, CISN + 1, T0 + 4);
	assert_open(n, T0 + 4);
	fx_free(n);
}

/* Send a SYN (or SYN+ACK) with options; return the translated packet. */
static void
mss_pkt(struct nat *n, bool v6, bool reply, const uint8_t *opts, size_t optlen,
    bool partial, struct pg_pkt *o, struct pg_pkt *x)
{
	struct pg_spec sp;

	if (!reply)
		pg_spec_init(&sp, PKT_IPPROTO_TCP, v6 ? C6 : C4, 40000, v6 ? P6 : P4, 443);
	else
		pg_spec_init(&sp, PKT_IPPROTO_TCP, v6 ? B6 : B4, 443, v6 ? C6 : C4, 40000);
	sp.tcp_flags = reply ? PKT_TCP_SYN | PKT_TCP_ACK : PKT_TCP_SYN;
	sp.tcp_opts = opts;
	sp.tcp_opts_len = optlen;
	sp.partial = partial;
	pg_build(&sp, o);
	pg_copy(x, o);
	assert_forward(n, x, reply ? NAT_SIDE_INSIDE : NAT_SIDE_PUBLIC, T0);
}

/* MSS 1460 clamped to `want` on SYN and SYN+ACK; everything else untouched. */
static void
clamp_check(struct nat *n, bool v6, uint16_t want, bool partial)
{
	static const uint8_t opts[20] = {
		2, 4, 0x05, 0xb4,		/* MSS 1460 */
		4, 2,				/* SACK permitted */
		8, 10, 1, 2, 3, 4, 5, 6, 7, 8,	/* timestamps */
		1, 3, 3, 7,			/* NOP, window scale 7 */
	};
	struct pg_pkt o, x;
	struct pg_info pi, po;
	int reply;

	for (reply = 0; reply < 2; reply++) {
		mss_pkt(n, v6, reply, opts, sizeof(opts), partial, &o, &x);
		assert_parse(&x, &pi);
		assert_parse(&o, &po);
		assert_int_equal(pi.mss, want);
		assert_int_equal(pi.mss_off, po.mss_off);
		/* only the MSS value may differ besides NAT fields */
		x.data[pi.mss_off] = o.data[po.mss_off];
		x.data[pi.mss_off + 1] = o.data[po.mss_off + 1];
		assert_same_xlate(&o, &x, false, false);
	}
}

static void
test_mss_clamp_fixed(void **state)
{
	struct nat *n = mk(false, 1400, 0);
	struct nat_stats st;

	(void)state;
	assert_non_null(n);
	clamp_check(n, false, 1400, false);
	fx_free(n);
	n = mk(false, 1400, 0);
	clamp_check(n, false, 1400, true);
	fx_free(n);
	n = mk(false, 1400, 0);
	clamp_check(n, true, 1400, false);
	fx_free(n);
	n = mk(false, 1400, 0);
	clamp_check(n, true, 1400, true);
	nat_get_stats(n, &st);
	assert_int_equal(st.mss_clamped, 2);
	fx_free(n);
}

static void
test_mss_clamp_mtu(void **state)
{
	struct nat *n;

	(void)state;
	n = mk(false, 0, 1420);
	assert_non_null(n);
	clamp_check(n, false, 1380, false);
	fx_free(n);
	n = mk(false, 0, 1420);
	clamp_check(n, true, 1360, true);
	fx_free(n);
	n = mk(false, 0, 1500);
	clamp_check(n, false, 1460, false);	/* equal: nothing to lower */
	fx_free(n);
}

/* An MSS already below the clamp is left alone; no clamp configured: alone. */
static void
test_mss_below_clamp(void **state)
{
	static const uint8_t opts[4] = { 2, 4, 0x04, 0xb0 };	/* 1200 */
	static const uint8_t big[4] = { 2, 4, 0x23, 0x28 };	/* 9000 */
	struct nat *n = mk(false, 1400, 0);
	struct nat_stats st;
	struct pg_pkt o, x;
	struct pg_info pi;

	(void)state;
	assert_non_null(n);
	mss_pkt(n, false, false, opts, sizeof(opts), false, &o, &x);
	assert_parse(&x, &pi);
	assert_int_equal(pi.mss, 1200);
	assert_same_xlate(&o, &x, false, false);
	nat_get_stats(n, &st);
	assert_int_equal(st.mss_clamped, 0);
	fx_free(n);

	n = mk(false, 0, 0);
	assert_non_null(n);
	mss_pkt(n, true, false, big, sizeof(big), true, &o, &x);
	assert_parse(&x, &pi);
	assert_int_equal(pi.mss, 9000);
	assert_same_xlate(&o, &x, false, false);
	fx_free(n);
}

/* The MSS value at an odd offset (after one NOP): the checksum still verifies. */
static void
test_mss_odd_offset(void **state)
{
	static const uint8_t opts[8] = { 1, 2, 4, 0x05, 0xb4, 1, 1, 0 };
	static const uint8_t opts2[12] = { 1, 1, 1, 2, 4, 0x23, 0x28, 4, 2, 1, 1, 0 };
	struct nat *n;
	struct pg_pkt o, x;
	struct pg_info pi;
	int k;

	(void)state;
	for (k = 0; k < 4; k++) {
		n = mk(false, 1400, 0);
		assert_non_null(n);
		mss_pkt(n, k & 1, false, (k & 2) ? opts2 : opts, (k & 2) ? 12 : 8,
		    false, &o, &x);
		assert_parse(&x, &pi);
		assert_int_equal(pi.mss_off % 2, 1);
		assert_int_equal(pi.mss, 1400);
		mss_pkt(n, k & 1, true, (k & 2) ? opts2 : opts, (k & 2) ? 12 : 8,
		    true, &o, &x);
		assert_parse(&x, &pi);
		assert_int_equal(pi.mss, 1400);
		fx_free(n);
	}
}

/* A bad option length must not send the clamp past the header. */
static void
test_mss_bad_options(void **state)
{
	static const uint8_t runaway[8] = { 1, 8, 40, 0, 0, 0, 2, 4 };	/* len past end */
	static const uint8_t zero[8] = { 3, 0, 2, 4, 0x05, 0xb4, 0, 0 };	/* len 0 */
	static const uint8_t cut[4] = { 1, 1, 1, 2 };			/* kind, no len */
	const uint8_t *o[3] = { runaway, zero, cut };
	size_t l[3] = { 8, 8, 4 };
	struct nat *n = mk(false, 1000, 0);
	struct pg_spec sp;
	struct pg_pkt x;
	enum nat_drop_reason why;
	enum nat_verdict v;
	int i;

	(void)state;
	assert_non_null(n);
	for (i = 0; i < 3; i++) {
		pg_spec_init(&sp, PKT_IPPROTO_TCP, C4, (uint16_t)(41000 + i), P4, 443);
		sp.tcp_flags = PKT_TCP_SYN;
		sp.tcp_opts = o[i];
		sp.tcp_opts_len = l[i];
		pg_build(&sp, &x);
		v = pg_run(n, &x, NAT_SIDE_PUBLIC, T0, &why);
		if (v == NAT_FORWARD)
			assert_pkt_csums(&x);
		else
			assert_int_equal(v, NAT_DROP);
	}
	fx_free(n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_state_machine),
		FX_TEST(test_server_closes_first),
		FX_TEST(test_rst_keeps_flow),
		FX_TEST(test_syn_reopens),
		FX_TEST(test_established_timeout),
		FX_TEST(test_transitory_timeout),
		FX_TEST(test_configured_timeouts),
		FX_TEST(test_pickup),
		FX_TEST(test_no_pickup),
		FX_TEST(test_invalid_openers),
		FX_TEST(test_reply_without_flow),
		FX_TEST(test_simultaneous_open_client_first),
		FX_TEST(test_simultaneous_open_target_first),
		FX_TEST(test_simultaneous_open_client_ack),
		FX_TEST(test_simultaneous_open_rst_window),
		FX_TEST(test_handshake_unchanged),
		FX_TEST(test_blind_open),
		FX_TEST(test_mss_clamp_fixed),
		FX_TEST(test_mss_clamp_mtu),
		FX_TEST(test_mss_below_clamp),
		FX_TEST(test_mss_odd_offset),
		FX_TEST(test_mss_bad_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
