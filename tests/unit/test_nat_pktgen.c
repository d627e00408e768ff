/*
 * test_nat_pktgen.c - the packet generator and its verifiers, tested on their
 * own: known checksum vectors, and every verifier must reject a broken packet
 * (so that the engine tests built on them can fail).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pktgen.h"

/* The classic IPv4 header example: checksum 0xb861. */
static void
test_ip_csum_vector(void **state)
{
	static const uint8_t h[20] = {
		0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
		0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
	};
	uint8_t b[20];

	(void)state;
	memcpy(b, h, sizeof(b));
	pg_fix_ip_csum(b, sizeof(b));
	assert_int_equal(b[10], 0xb8);
	assert_int_equal(b[11], 0x61);
	assert_true(pg_check_ip_csum(b, sizeof(b)));
	b[8]--;
	assert_false(pg_check_ip_csum(b, sizeof(b)));
}

/* Pseudo-header + UDP by hand: 1.2.3.4:1 -> 5.6.7.8:2, payload "ab". */
static void
test_udp_csum_vector(void **state)
{
	struct pg_spec sp;
	struct pg_pkt p;
	struct pg_info pi;
	uint32_t s;

	(void)state;
	pg_spec_init(&sp, PKT_IPPROTO_UDP, "1.2.3.4", 1, "5.6.7.8", 2);
	sp.payload = (const uint8_t *)"ab";
	sp.payload_len = 2;
	pg_build(&sp, &p);
	assert_parse(&p, &pi);
	/* 0x0102+0x0304+0x0506+0x0708+17+10 + 1+2+10+0x6162 */
	s = 0x0102 + 0x0304 + 0x0506 + 0x0708 + 17 + 10 + 1 + 2 + 10 + 0x6162;
	assert_int_equal(pi.l4_csum, (uint16_t)~csum_full_fold(s));
	assert_true(pg_check_l4_csum(p.data, p.len));
}

/* Every byte of a TCP segment and its addresses is covered by the check. */
static void
test_l4_csum_detects(void **state)
{
	struct pg_pkt p, q;
	size_t i;

	(void)state;
	pg_tcp(&p, C4, 40000, P4, 443, PKT_TCP_ACK);
	assert_pkt_csums(&p);
	for (i = 12; i < p.len; i++) {
		if (i == 10 || i == 11)
			continue;
		pg_copy(&q, &p);
		q.data[i] ^= 0x10;
		assert_false(pg_check_l4_csum(q.data, q.len));
	}
	pg_tcp(&p, C6, 40000, P6, 443, PKT_TCP_ACK);
	for (i = 8; i < p.len; i++) {
		pg_copy(&q, &p);
		q.data[i] ^= 0x01;
		assert_false(pg_check_l4_csum(q.data, q.len));
	}
}

/* A partial packet completed as the kernel does equals the complete one. */
static void
test_partial_equals_complete(void **state)
{
	struct pg_spec sp;
	struct pg_pkt full, part;
	const char *src[2] = { C4, C6 }, *dst[2] = { P4, P6 };
	uint8_t protos[2] = { PKT_IPPROTO_TCP, PKT_IPPROTO_UDP };
	int f, k;

	(void)state;
	for (f = 0; f < 2; f++)
		for (k = 0; k < 2; k++) {
			pg_spec_init(&sp, protos[k], src[f], 40000, dst[f], 53);
			sp.payload_len = 33;
			sp.tcp_flags = PKT_TCP_ACK;
			pg_build(&sp, &full);
			sp.partial = true;
			pg_build(&sp, &part);
			assert_true(part.has_vnet);
			assert_int_equal(part.vnet.flags, NAT_VNET_NEEDS_CSUM);
			assert_int_equal(part.vnet.csum_offset, k == 0 ? 16 : 6);
			assert_int_equal(part.vnet.csum_start, f == 0 ? 20 : 40);
			assert_false(pg_check_l4_csum(part.data, part.len));
			assert_pkt_csums(&part);
			assert_int_equal(pg_complete_partial(part.data, part.len, &part.vnet), 0);
			assert_memory_equal(part.data, full.data, full.len);
			/* a wrong pseudo-header sum is caught after completion */
			pg_build(&sp, &part);
			part.data[part.vnet.csum_start + part.vnet.csum_offset] ^= 1;
			{
				char why[128];

				assert_false(pg_check_all(part.data, part.len, &part.vnet,
				    why, sizeof(why)));
			}
		}
}

/* IPv6 extension headers, IPv4 options: parsed and checksummed. */
static void
test_ext_headers_and_options(void **state)
{
	static const uint8_t ipopts[8] = { 0x94, 0x04, 0, 0, 1, 1, 1, 0 };
	struct pg_spec sp;
	struct pg_pkt p;
	struct pg_info pi;

	(void)state;
	pg_spec_init(&sp, PKT_IPPROTO_UDP, C6, 1000, P6, 53);
	sp.ext[0].type = PKT_IPPROTO_HOPOPTS;
	sp.ext[1].type = PKT_IPPROTO_DSTOPTS;
	sp.ext[1].len8 = 1;
	sp.ext[2].type = PKT_IPPROTO_ROUTING;
	sp.ext[2].rt_type = 253;
	sp.ext[3].type = PKT_IPPROTO_DSTOPTS;
	sp.n_ext = 4;
	sp.payload_len = 10;
	pg_build(&sp, &p);
	assert_parse(&p, &pi);
	assert_int_equal(pi.proto, PKT_IPPROTO_UDP);
	assert_int_equal(pi.l4_off, 40 + 8 + 16 + 8 + 8);
	assert_int_equal(pi.sport, 1000);
	assert_int_equal(pi.dport, 53);
	assert_pkt_csums(&p);

	pg_spec_init(&sp, PKT_IPPROTO_TCP, C4, 1000, P4, 80);
	sp.ip_opts = ipopts;
	sp.ip_opts_len = sizeof(ipopts);
	sp.tcp_flags = PKT_TCP_SYN;
	sp.mss = 1460;
	pg_build(&sp, &p);
	assert_parse(&p, &pi);
	assert_int_equal(pi.ip_hlen, 28);
	assert_int_equal(pi.mss, 1460);
	assert_int_equal(pi.mss_off, 28 + 22);
	assert_pkt_csums(&p);
}

/* MSS option after a NOP sits at an odd offset. */
static void
test_mss_odd_offset(void **state)
{
	static const uint8_t opts[8] = { 1, 2, 4, 0x05, 0xb4, 1, 1, 0 };
	struct pg_spec sp;
	struct pg_pkt p;
	struct pg_info pi;

	(void)state;
	pg_spec_init(&sp, PKT_IPPROTO_TCP, C4, 1000, P4, 80);
	sp.tcp_flags = PKT_TCP_SYN;
	sp.tcp_opts = opts;
	sp.tcp_opts_len = sizeof(opts);
	pg_build(&sp, &p);
	assert_parse(&p, &pi);
	assert_int_equal(pi.mss, 1460);
	assert_int_equal(pi.mss_off, 20 + 20 + 3);
	assert_pkt_csums(&p);
}

/* Fragments put back together give the original datagram. */
static void
test_fragment_reassemble(void **state)
{
	const char *src[2] = { C4, C6 }, *dst[2] = { P4, P6 };
	struct pg_pkt full;
	uint8_t f[3][1600], out[PKT_CAP];
	const uint8_t *fp[3];
	size_t fl[3], hl, n;
	struct pg_info pi;
	int k;

	(void)state;
	for (k = 0; k < 2; k++) {
		pg_udp(&full, src[k], 5000, dst[k], 6000, 1000);
		hl = k == 0 ? 20 : 40;
		fl[0] = pg_fragment(full.data, full.len, 0, 400, false, 77, f[0], 1600);
		fl[1] = pg_fragment(full.data, full.len, 400, 400, false, 77, f[1], 1600);
		fl[2] = pg_fragment(full.data, full.len, 800, full.len - hl - 800, true, 77,
		    f[2], 1600);
		for (n = 0; n < 3; n++) {
			fp[n] = f[n];
			assert_int_equal(pg_parse(f[n], fl[n], &pi), 0);
			assert_true(pi.is_frag);
			assert_int_equal(pi.frag_off, n * 400);
			assert_int_equal(pi.mf, n < 2);
			assert_true(pg_check_ip_csum(f[n], fl[n]));
		}
		n = pg_reassemble(fp, fl, 3, out, sizeof(out));
		assert_int_equal(n, full.len);
		if (k == 0) {
			/* the id was replaced by 77 */
			assert_int_equal(out[4] << 8 | out[5], 77);
			memcpy(out + 4, full.data + 4, 2);
			pg_fix_ip_csum(out, n);
		}
		assert_memory_equal(out, full.data, full.len);
	}
}

/* ICMP errors: the quoted header and quoted L4 checksums are verified. */
static void
test_icmp_error_quote_checked(void **state)
{
	struct pg_pkt inner, err;
	struct pg_info pi, in;
	char why[128];

	(void)state;
	pg_udp(&inner, C4, 5000, B4, 53, 20);
	pg_icmp_error(&err, B4, C4, PKT_ICMP_UNREACH, PKT_ICMP_UNREACH_PORT, 0,
	    inner.data, inner.len);
	assert_pkt_csums(&err);
	assert_parse(&err, &pi);
	assert_true(pi.icmp_err);
	assert_int_equal(pi.inner_len, inner.len);
	assert_int_equal(pg_inner(err.data, &pi, &in), 0);
	assert_pkt_tuple(&in, C4, 5000, B4, 53);

	/* a bad quoted UDP checksum: the ICMP checksum is fixed, still caught */
	err.data[pi.inner_off + 20 + 6] ^= 0x40;
	pg_fix_l4_csum(err.data, err.len);
	assert_false(pg_check_all(err.data, err.len, NULL, why, sizeof(why)));
	/* a bad quoted IP checksum */
	pg_icmp_error(&err, B4, C4, PKT_ICMP_UNREACH, PKT_ICMP_UNREACH_PORT, 0,
	    inner.data, inner.len);
	err.data[pi.inner_off + 10] ^= 0x40;
	pg_fix_l4_csum(err.data, err.len);
	assert_false(pg_check_all(err.data, err.len, NULL, why, sizeof(why)));

	/* truncated quote of 28 bytes: parses, ports readable */
	pg_tcp(&inner, C6, 5000, B6, 80, PKT_TCP_ACK);
	pg_icmp_error(&err, B6, C6, PKT_ICMP6_PACKET_TOO_BIG, 0, 1280, inner.data, 48);
	assert_pkt_csums(&err);
	assert_parse(&err, &pi);
	assert_int_equal(pi.icmp_mtu, 1280);
	assert_int_equal(pg_inner(err.data, &pi, &in), 0);
	assert_pkt_tuple(&in, C6, 5000, B6, 80);
	/* the ICMPv6 checksum covers the pseudo-header */
	err.data[39] ^= 1;
	assert_false(pg_check_all(err.data, err.len, NULL, why, sizeof(why)));
}

/* Echo identifier reads back as the source port. */
static void
test_echo_fields(void **state)
{
	struct pg_pkt p;
	struct pg_info pi;

	(void)state;
	pg_echo(&p, C6, P6, 0x4242, false);
	assert_parse(&p, &pi);
	assert_int_equal(pi.icmp_type, PKT_ICMP6_ECHO_REQUEST);
	assert_false(pi.icmp_err);
	assert_int_equal(pi.sport, 0x4242);
	assert_pkt_csums(&p);
	pg_echo(&p, C4, P4, 0x4242, true);
	assert_parse(&p, &pi);
	assert_int_equal(pi.icmp_type, PKT_ICMP_ECHOREPLY);
	assert_pkt_csums(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ip_csum_vector),
		cmocka_unit_test(test_udp_csum_vector),
		cmocka_unit_test(test_l4_csum_detects),
		cmocka_unit_test(test_partial_equals_complete),
		cmocka_unit_test(test_ext_headers_and_options),
		cmocka_unit_test(test_mss_odd_offset),
		cmocka_unit_test(test_fragment_reassemble),
		cmocka_unit_test(test_icmp_error_quote_checked),
		cmocka_unit_test(test_echo_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
