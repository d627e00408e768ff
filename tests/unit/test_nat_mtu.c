/*
 * test_nat_mtu.c - packets over the MTU toward their target: a client packet
 * that may not be fragmented (IPv4 with DF, any IPv6) is answered with ICMP
 * "fragmentation needed" / "packet too big" from the address the client
 * used, quoting the packet as the client sent it, and opens no flow; packets
 * that may be fragmented, GSO superpackets, replies and rules without an MTU
 * pass as before.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"
#include "pktgen.h"

#define MTU 1420

static struct nat_rule rules[2];

/* An engine relaying everything to B4/B6 through a link of MTU mtu. */
static struct nat *
mk(uint16_t mtu)
{
	struct nat_settings s;

	fx_keep_all(rules);
	rules[0].mtu = rules[1].mtu = mtu;
	fx_settings(&s, rules, 2);
	s.ttl_mode = NAT_TTL_RESTORE;
	return fx_nat(&s);
}

/* A UDP datagram of total length len from the client, DF as asked (v4). */
static void
big_udp(struct pg_pkt *x, bool v6, uint16_t sport, size_t len, bool df)
{
	struct pg_spec sp;

	pg_spec_init(&sp, PKT_IPPROTO_UDP, v6 ? C6 : C4, sport, v6 ? P6 : P4, 53);
	sp.payload_len = len - (v6 ? 48 : 28);
	sp.df = df;
	pg_build(&sp, x);
	assert_int_equal(x->len, len);
}

/*
 * x must come back as "too big" for its sender: from the address it was
 * sent to, the MTU in the right field, the packet quoted as it was sent.
 */
static void
expect_too_big(struct nat *n, struct pg_pkt *x, uint16_t mtu)
{
	struct pg_pkt o;
	struct pg_info pi;
	struct nat_stats st0, st;
	enum nat_drop_reason why;
	enum nat_verdict v;
	bool v6 = (x->data[0] >> 4) == 6;
	size_t maxq = v6 ? 1280 - 48 : 576 - 28;

	pg_copy(&o, x);
	nat_get_stats(n, &st0);
	v = pg_run(n, x, NAT_SIDE_PUBLIC, T0 + 1, &why);
	assert_verdict(v, NAT_REPLY, why);
	assert_pkt_csums(x);
	assert_parse(x, &pi);
	assert_true(pi.icmp_err);
	assert_true(pg_addr_eq(&pi.src, v6 ? P6 : P4));
	assert_true(pg_addr_eq(&pi.dst, v6 ? C6 : C4));
	assert_int_equal(pi.proto, v6 ? PKT_IPPROTO_ICMPV6 : PKT_IPPROTO_ICMP);
	assert_int_equal(pi.icmp_type, v6 ? PKT_ICMP6_PACKET_TOO_BIG :
	    PKT_ICMP_UNREACH);
	assert_int_equal(pi.icmp_code, v6 ? 0 : PKT_ICMP_UNREACH_NEEDFRAG);
	assert_int_equal(pi.icmp_mtu, mtu);
	assert_true(x->len <= (v6 ? 1280u : 576u));
	assert_int_equal(pi.inner_len, o.len < maxq ? o.len : maxq);
	assert_memory_equal(x->data + pi.inner_off, o.data, pi.inner_len);
	nat_get_stats(n, &st);
	assert_int_equal(st.too_big, st0.too_big + 1);
	assert_int_equal(st.replies, st0.replies + 1);
}

/* IPv4 with DF over the MTU: too big, and no flow is left behind. */
static void
test_v4_df(void **state)
{
	struct nat *n = mk(MTU);
	struct pg_pkt x;

	(void)state;
	assert_non_null(n);
	big_udp(&x, false, 40000, MTU + 1, true);
	expect_too_big(n, &x, MTU);
	assert_int_equal(pg_flow_count(n, T0 + 1), 0);
	/* at the MTU exactly: forwarded */
	big_udp(&x, false, 40000, MTU, true);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0 + 2);
	assert_int_equal(pg_flow_count(n, T0 + 2), 1);
	fx_free(n);
}

/* IPv4 without DF: the kernel fragments it on the way; forwarded. */
static void
test_v4_no_df(void **state)
{
	struct nat *n = mk(MTU);
	struct pg_pkt x;

	(void)state;
	assert_non_null(n);
	big_udp(&x, false, 40000, 1500, false);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	fx_free(n);
}

/* IPv6 is never fragmented on the way: too big whatever the flags. */
static void
test_v6(void **state)
{
	struct nat *n = mk(MTU);
	struct pg_pkt x;

	(void)state;
	assert_non_null(n);
	big_udp(&x, true, 40000, 1500, false);
	expect_too_big(n, &x, MTU);
	big_udp(&x, true, 40000, MTU, false);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0 + 2);
	fx_free(n);
}

/* A flow that exists: its big packet is refused, the flow stays. */
static void
test_existing_flow(void **state)
{
	struct nat *n = mk(MTU);
	struct pg_pkt x;
	struct pg_spec sp;

	(void)state;
	assert_non_null(n);
	pg_tcp(&x, C4, 40000, P4, 80, PKT_TCP_SYN);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	pg_spec_init(&sp, PKT_IPPROTO_TCP, C4, 40000, P4, 80);
	sp.tcp_flags = PKT_TCP_ACK;
	sp.payload_len = 1460;
	sp.df = true;
	pg_build(&sp, &x);
	expect_too_big(n, &x, MTU);
	assert_int_equal(pg_flow_count(n, T0 + 1), 1);
	/* the reply direction is not checked (the public side's MTU applies) */
	big_udp(&x, false, 40001, 100, true);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0 + 2);
	pg_spec_init(&sp, PKT_IPPROTO_UDP, B4, 53, C4, 40001);
	sp.payload_len = 1472;
	sp.df = true;
	pg_build(&sp, &x);
	assert_forward(n, &x, NAT_SIDE_INSIDE, T0 + 3);
	fx_free(n);
}

/* ICMP echo with DF (ping -M do): too big, quoting the echo. */
static void
test_echo(void **state)
{
	struct nat *n = mk(MTU);
	struct pg_pkt x;
	struct pg_spec sp;

	(void)state;
	assert_non_null(n);
	pg_spec_init(&sp, PKT_IPPROTO_ICMP, C4, 7, P4, 0);
	sp.icmp_type = 8;
	sp.payload_len = 1450;
	sp.df = true;
	pg_build(&sp, &x);
	expect_too_big(n, &x, MTU);
	fx_free(n);
}

/* GSO superpackets are cut to size by the kernel: forwarded whole. */
static void
test_gso(void **state)
{
	struct nat *n = mk(MTU);
	struct pg_spec sp;
	struct pg_pkt x;

	(void)state;
	assert_non_null(n);
	pg_tcp(&x, C4, 40000, P4, 80, PKT_TCP_SYN);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	pg_spec_init(&sp, PKT_IPPROTO_TCP, C4, 40000, P4, 80);
	sp.tcp_flags = PKT_TCP_ACK | PKT_TCP_PSH;
	sp.payload_len = 3000;
	sp.partial = true;
	sp.df = true;
	pg_build(&sp, &x);
	x.vnet.gso_type = 1;	/* VIRTIO_NET_HDR_GSO_TCPV4 */
	x.vnet.gso_size = 1368;
	x.vnet.hdr_len = 40;
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0 + 1);
	fx_free(n);
}

/* A rule without an MTU checks nothing. */
static void
test_unchecked(void **state)
{
	struct nat *n = mk(0);
	struct pg_pkt x;

	(void)state;
	assert_non_null(n);
	big_udp(&x, false, 40000, 3000, true);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	big_udp(&x, true, 40000, 3000, false);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	fx_free(n);
}

/* An MTU below the family's minimum is refused at creation. */
static void
test_bad_mtu(void **state)
{
	struct nat_settings s;
	char err[ERRLEN];

	(void)state;
	fx_keep_all(rules);
	rules[0].mtu = 1500;
	rules[1].mtu = 1000;
	fx_settings(&s, rules, 2);
	assert_null(nat_create(&s, err));
	assert_non_null(strstr(err, "below the IPv6 minimum"));
	rules[1].mtu = 1280;
	rules[0].mtu = 575;
	assert_null(nat_create(&s, err));
	assert_non_null(strstr(err, "below the IPv4 minimum"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_v4_df, fx_teardown),
		cmocka_unit_test_teardown(test_v4_no_df, fx_teardown),
		cmocka_unit_test_teardown(test_v6, fx_teardown),
		cmocka_unit_test_teardown(test_existing_flow, fx_teardown),
		cmocka_unit_test_teardown(test_echo, fx_teardown),
		cmocka_unit_test_teardown(test_gso, fx_teardown),
		cmocka_unit_test_teardown(test_unchecked, fx_teardown),
		cmocka_unit_test(test_bad_mtu),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
