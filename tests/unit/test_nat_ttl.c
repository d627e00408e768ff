/*
 * test_nat_ttl.c - TTL / hop limit modes: RESTORE gives back the hop the
 * kernel's second routing took; DECREMENT acts as a router and answers an
 * expiring packet with ICMP time exceeded (v4 type 11, v6 type 3).
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
mk(uint8_t mode)
{
	struct nat_settings s;

	fx_keep_all(rules);
	fx_settings(&s, rules, 2);
	s.ttl_mode = mode;
	return fx_nat(&s);
}

/* Send p with TTL ttl from side; expect it forwarded with TTL want. */
static void
ttl_fwd(struct nat *n, struct pg_pkt *p, enum nat_side side, uint8_t ttl, uint8_t want)
{
	struct pg_pkt o;
	struct pg_info pi;

	pg_set_ttl(p, ttl);
	pg_copy(&o, p);
	assert_forward(n, p, side, T0);
	assert_parse(p, &pi);
	if (pi.ttl != want)
		fail_msg("TTL %u forwarded as %u, want %u", ttl, pi.ttl, want);
	if (!pi.icmp_err)
		assert_same_xlate(&o, p, false, true);
}

static void
restore(bool v6, bool partial)
{
	struct nat *n = mk(NAT_TTL_RESTORE);
	const char *c = v6 ? C6 : C4, *p = v6 ? P6 : P4, *b = v6 ? B6 : B4;
	struct pg_pkt x, t, e;

	assert_non_null(n);
	pg_tcp(&x, c, 40000, p, 80, PKT_TCP_SYN);
	if (partial)
		pg_make_partial(&x);
	ttl_fwd(n, &x, NAT_SIDE_PUBLIC, 63, 64);
	pg_copy(&t, &x);
	/* on the wire (and so in a quote) the checksum is complete */
	assert_int_equal(pg_complete_partial(t.data, t.len, t.has_vnet ? &t.vnet : NULL), 0);
	pg_tcp(&x, b, 80, c, 40000, PKT_TCP_SYN | PKT_TCP_ACK);
	if (partial)
		pg_make_partial(&x);
	ttl_fwd(n, &x, NAT_SIDE_INSIDE, 50, 51);
	pg_tcp(&x, c, 40000, p, 80, PKT_TCP_ACK);
	ttl_fwd(n, &x, NAT_SIDE_PUBLIC, 1, 2);
	pg_tcp(&x, c, 40000, p, 80, PKT_TCP_ACK);
	ttl_fwd(n, &x, NAT_SIDE_PUBLIC, 254, 255);
	pg_udp(&x, c, 40001, p, 53, 10);
	ttl_fwd(n, &x, NAT_SIDE_PUBLIC, 127, 128);
	pg_echo(&x, c, p, 5, false);
	ttl_fwd(n, &x, NAT_SIDE_PUBLIC, 9, 10);
	/* a translated ICMP error is a packet like any other */
	pg_icmp_error(&e, b, c, v6 ? PKT_ICMP6_UNREACH : PKT_ICMP_UNREACH,
	    v6 ? 4 : PKT_ICMP_UNREACH_PORT, 0, t.data, t.len);
	ttl_fwd(n, &e, NAT_SIDE_INSIDE, 62, 63);
	fx_free(n);
}

static void test_restore4(void **s) { (void)s; restore(false, false); }
static void test_restore4_partial(void **s) { (void)s; restore(false, true); }
static void test_restore6(void **s) { (void)s; restore(true, false); }
static void test_restore6_partial(void **s) { (void)s; restore(true, true); }

/* RESTORE never wraps 255 to 0. */
static void
test_restore_255(void **state)
{
	struct nat *n = mk(NAT_TTL_RESTORE);
	struct pg_pkt x;
	struct pg_info pi;

	(void)state;
	assert_non_null(n);
	pg_udp(&x, C4, 40000, P4, 53, 10);
	pg_set_ttl(&x, 255);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_parse(&x, &pi);
	assert_int_equal(pi.ttl, 255);
	fx_free(n);
}

/* DECREMENT: one less each way, checksums valid. */
static void
test_decrement(void **state)
{
	struct nat *n = mk(NAT_TTL_DECREMENT);
	struct pg_pkt x;

	(void)state;
	assert_non_null(n);
	pg_tcp(&x, C4, 40000, P4, 80, PKT_TCP_SYN);
	pg_make_partial(&x);
	ttl_fwd(n, &x, NAT_SIDE_PUBLIC, 64, 63);
	pg_tcp(&x, B4, 80, C4, 40000, PKT_TCP_SYN | PKT_TCP_ACK);
	ttl_fwd(n, &x, NAT_SIDE_INSIDE, 2, 1);
	pg_udp(&x, C6, 40000, P6, 53, 10);
	ttl_fwd(n, &x, NAT_SIDE_PUBLIC, 255, 254);
	pg_udp(&x, B6, 53, C6, 40000, 10);
	ttl_fwd(n, &x, NAT_SIDE_INSIDE, 2, 1);
	fx_free(n);
}

/* KEEP: untouched. */
static void
test_keep(void **state)
{
	struct nat *n = mk(NAT_TTL_KEEP);
	struct pg_pkt x;

	(void)state;
	assert_non_null(n);
	pg_udp(&x, C4, 40000, P4, 53, 10);
	ttl_fwd(n, &x, NAT_SIDE_PUBLIC, 1, 1);
	pg_udp(&x, C6, 40000, P6, 53, 10);
	ttl_fwd(n, &x, NAT_SIDE_PUBLIC, 0, 0);
	fx_free(n);
}

/*
 * A packet with TTL 1 in DECREMENT mode: replaced by time exceeded for its
 * sender, from the flow's public address, quoting the packet as received.
 */
static void
expire(struct nat *n, struct pg_pkt *x, enum nat_side side, const char *from,
    const char *to)
{
	struct pg_pkt o;
	struct pg_info pi, in;
	struct nat_stats st0, st;
	enum nat_drop_reason why;
	enum nat_verdict v;
	size_t maxq;
	bool v6 = (x->data[0] >> 4) == 6, partial = x->has_vnet;

	pg_set_ttl(x, 1);
	pg_copy(&o, x);
	/* the quote carries the checksum completed, as the kernel would send it */
	if (partial)
		assert_int_equal(pg_complete_partial(o.data, o.len, &o.vnet), 0);
	nat_get_stats(n, &st0);
	v = pg_run(n, x, side, T0 + 5, &why);
	assert_verdict(v, NAT_REPLY, why);
	if (partial) {
		/* the quote's L4 sum is completed; check the outer packet */
		assert_int_equal(x->vnet.flags & NAT_VNET_NEEDS_CSUM, 0);
		assert_true(pg_check_ip_csum(x->data, x->len));
		assert_true(pg_check_l4_csum(x->data, x->len));
	} else
		assert_pkt_csums(x);
	assert_parse(x, &pi);
	assert_true(pg_addr_eq(&pi.src, from));
	assert_true(pg_addr_eq(&pi.dst, to));
	assert_true(pi.ttl > 1);
	assert_int_equal(pi.proto, v6 ? PKT_IPPROTO_ICMPV6 : PKT_IPPROTO_ICMP);
	assert_int_equal(pi.icmp_type, v6 ? PKT_ICMP6_TIME_EXCEEDED : PKT_ICMP_TIMXCEED);
	assert_int_equal(pi.icmp_code, 0);
	assert_true(pi.icmp_err);
	/* as much as fits: 576 bytes (v4, RFC 1812), 1280 (v6, RFC 4443) */
	maxq = v6 ? 1280 - 48 : 576 - 28;
	assert_true(x->len <= (v6 ? 1280u : 576u));
	assert_int_equal(pi.inner_len, o.len < maxq ? o.len : maxq);
	assert_memory_equal(x->data + pi.inner_off, o.data, pi.inner_len);
	assert_int_equal(pg_inner(x->data, &pi, &in), 0);
	assert_true(pg_check_ip_csum(x->data + pi.inner_off, pi.inner_len));
	assert_int_equal(in.ttl, 1);
	nat_get_stats(n, &st);
	assert_int_equal(st.replies, st0.replies + 1);
}

static void
test_ttl1_reply4(void **state)
{
	struct nat *n = mk(NAT_TTL_DECREMENT);
	struct pg_pkt x;

	(void)state;
	assert_non_null(n);
	pg_tcp(&x, C4, 40000, P4, 80, PKT_TCP_SYN);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	pg_tcp(&x, C4, 40000, P4, 80, PKT_TCP_ACK);
	expire(n, &x, NAT_SIDE_PUBLIC, P4, C4);
	/* a partial packet: the reply is complete, vnet cleared */
	pg_tcp(&x, C4, 40000, P4, 80, PKT_TCP_ACK);
	pg_make_partial(&x);
	expire(n, &x, NAT_SIDE_PUBLIC, P4, C4);
	/* a big datagram: the quote is cut to fit 576 bytes */
	pg_udp(&x, C4, 40001, P4, 53, 1200);
	expire(n, &x, NAT_SIDE_PUBLIC, P4, C4);
	fx_free(n);
}

static void
test_ttl1_reply6(void **state)
{
	struct nat *n = mk(NAT_TTL_DECREMENT);
	struct pg_pkt x;

	(void)state;
	assert_non_null(n);
	pg_udp(&x, C6, 40000, P6, 53, 10);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	pg_udp(&x, C6, 40000, P6, 53, 100);
	expire(n, &x, NAT_SIDE_PUBLIC, P6, C6);
	pg_udp(&x, C6, 40000, P6, 53, 1400);
	expire(n, &x, NAT_SIDE_PUBLIC, P6, C6);
	pg_echo(&x, C6, P6, 3, false);
	expire(n, &x, NAT_SIDE_PUBLIC, P6, C6);
	fx_free(n);
}

/* The reply direction: the backend is told, from the flow's public address. */
static void
test_ttl1_reply_direction(void **state)
{
	struct nat *n = mk(NAT_TTL_DECREMENT);
	struct pg_pkt x;

	(void)state;
	assert_non_null(n);
	pg_udp(&x, C4, 40000, P4, 53, 10);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	pg_udp(&x, B4, 53, C4, 40000, 10);
	expire(n, &x, NAT_SIDE_INSIDE, P4, B4);
	fx_free(n);
}

/* No ICMP error about an ICMP error (RFC 1812 4.3.2.7): dropped as ttl. */
static void
test_ttl1_icmp_error_no_reply(void **state)
{
	struct nat *n = mk(NAT_TTL_DECREMENT);
	struct pg_pkt x, t, e;
	struct nat_stats st;
	enum nat_drop_reason why;

	(void)state;
	assert_non_null(n);
	pg_udp(&x, C4, 40000, P4, 53, 10);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	pg_copy(&t, &x);
	pg_icmp_error(&e, B4, C4, PKT_ICMP_UNREACH, PKT_ICMP_UNREACH_PORT, 0, t.data, t.len);
	pg_set_ttl(&e, 1);
	assert_drop(pg_run(n, &e, NAT_SIDE_INSIDE, T0, &why), why, NAT_DROP_TTL);
	nat_get_stats(n, &st);
	assert_int_equal(st.replies, 0);
	assert_int_equal(st.drops[NAT_DROP_TTL], 1);
	fx_free(n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_restore4),
		FX_TEST(test_restore4_partial),
		FX_TEST(test_restore6),
		FX_TEST(test_restore6_partial),
		FX_TEST(test_restore_255),
		FX_TEST(test_decrement),
		FX_TEST(test_keep),
		FX_TEST(test_ttl1_reply4),
		FX_TEST(test_ttl1_reply6),
		FX_TEST(test_ttl1_reply_direction),
		FX_TEST(test_ttl1_icmp_error_no_reply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
