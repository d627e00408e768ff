/*
 * test_nat_basic.c - DNAT keeping the client's address (keep-client-ip): TCP, UDP
 * and ICMP echo both ways, v4 and v6, complete and partial checksums; rules
 * (default destination, forwards, port ranges, exclusions, order); sides;
 * nat_flows() and the counters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"
#include "pktgen.h"

struct fam {
	const char *c, *p, *b;
};

static const struct fam F4 = { C4, P4, B4 };
static const struct fam F6 = { C6, P6, B6 };

/* Default destination for both families (rule ids 1 and 2). */
static struct nat_rule default_rules[2];

static struct nat *
mk_default(void)
{
	fx_keep_all(default_rules);
	default_rules[0].id = 1;
	default_rules[1].id = 2;
	return fx_engine(default_rules, 2);
}

/* The client's first packet of proto (TCP SYN, UDP, echo request). */
static void
first_packet(struct pg_pkt *p, const struct fam *f, uint8_t proto, uint16_t cp,
    uint16_t pp, bool partial)
{
	if (proto == PKT_IPPROTO_TCP)
		pg_tcp(p, f->c, cp, f->p, pp, PKT_TCP_SYN);
	else if (proto == PKT_IPPROTO_UDP)
		pg_udp(p, f->c, cp, f->p, pp, 100);
	else
		pg_echo(p, f->c, f->p, cp, false);
	if (partial && proto != PKT_IPPROTO_ICMP)
		pg_make_partial(p);
}

/* The target's answer (SYN+ACK, UDP, echo reply) from `from`:fp to `to`:tp. */
static void
answer_packet(struct pg_pkt *p, const char *from, uint16_t fp, const char *to, uint16_t tp,
    uint8_t proto, bool partial)
{
	if (proto == PKT_IPPROTO_TCP)
		pg_tcp(p, from, fp, to, tp, PKT_TCP_SYN | PKT_TCP_ACK);
	else if (proto == PKT_IPPROTO_UDP)
		pg_udp(p, from, fp, to, tp, 60);
	else
		pg_echo(p, from, to, tp, true);
	if (partial && proto != PKT_IPPROTO_ICMP)
		pg_make_partial(p);
}

/* A partial packet must stay partial with the same offsets. */
static void
assert_vnet_kept(const struct pg_pkt *in, const struct pg_pkt *out)
{
	if (!in->has_vnet)
		return;
	assert_int_equal(out->vnet.flags & NAT_VNET_NEEDS_CSUM, NAT_VNET_NEEDS_CSUM);
	assert_int_equal(out->vnet.csum_start, in->vnet.csum_start);
	assert_int_equal(out->vnet.csum_offset, in->vnet.csum_offset);
}

/* One flow both ways: c:40000 -> P:pp leaves as c:40000 -> B:pp and back. */
static void
roundtrip(const struct fam *f, uint8_t proto, bool partial)
{
	struct nat *n = mk_default();
	struct pg_pkt o, x;
	struct pg_info pi;
	bool echo = proto == PKT_IPPROTO_ICMP;
	uint16_t cp = 40000, pp = echo ? 0 : 443;

	assert_non_null(n);
	first_packet(&o, f, proto, cp, pp, partial);
	pg_copy(&x, &o);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_vnet_kept(&o, &x);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, f->c, cp, f->b, pp);
	assert_same_xlate(&o, &x, false, false);

	/* echo replies carry the identifier where the source port would be */
	answer_packet(&o, f->b, echo ? 0 : pp, f->c, cp, proto, partial);
	pg_copy(&x, &o);
	assert_forward(n, &x, NAT_SIDE_INSIDE, T0 + 10);
	assert_vnet_kept(&o, &x);
	assert_parse(&x, &pi);
	if (echo)
		assert_pkt_tuple(&pi, f->p, cp, f->c, 0);
	else
		assert_pkt_tuple(&pi, f->p, pp, f->c, cp);
	assert_same_xlate(&o, &x, false, false);
	fx_free(n);
}

static void test_keep_tcp4(void **s) { (void)s; roundtrip(&F4, PKT_IPPROTO_TCP, false); }
static void test_keep_tcp4_partial(void **s) { (void)s; roundtrip(&F4, PKT_IPPROTO_TCP, true); }
static void test_keep_tcp6(void **s) { (void)s; roundtrip(&F6, PKT_IPPROTO_TCP, false); }
static void test_keep_tcp6_partial(void **s) { (void)s; roundtrip(&F6, PKT_IPPROTO_TCP, true); }
static void test_keep_udp4(void **s) { (void)s; roundtrip(&F4, PKT_IPPROTO_UDP, false); }
static void test_keep_udp4_partial(void **s) { (void)s; roundtrip(&F4, PKT_IPPROTO_UDP, true); }
static void test_keep_udp6(void **s) { (void)s; roundtrip(&F6, PKT_IPPROTO_UDP, false); }
static void test_keep_udp6_partial(void **s) { (void)s; roundtrip(&F6, PKT_IPPROTO_UDP, true); }
static void test_keep_echo4(void **s) { (void)s; roundtrip(&F4, PKT_IPPROTO_ICMP, false); }
static void test_keep_echo6(void **s) { (void)s; roundtrip(&F6, PKT_IPPROTO_ICMP, false); }

/* A full TCP exchange with payload: data bytes untouched, seq/ack untouched. */
static void
test_keep_tcp_data(void **state)
{
	struct nat *n = mk_default();
	struct pg_spec sp;
	struct pg_pkt o, x;
	struct pg_info pi;
	int i;

	(void)state;
	assert_non_null(n);
	pg_tcp(&x, C4, 40000, P4, 80, PKT_TCP_SYN);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	pg_tcp(&x, B4, 80, C4, 40000, PKT_TCP_SYN | PKT_TCP_ACK);
	assert_forward(n, &x, NAT_SIDE_INSIDE, T0);
	for (i = 0; i < 4; i++) {
		pg_spec_init(&sp, PKT_IPPROTO_TCP, C4, 40000, P4, 80);
		sp.tcp_flags = PKT_TCP_ACK | PKT_TCP_PSH;
		sp.seq = 0xfffffff0u + (uint32_t)i * 1000;
		sp.ack = 0x7fffffffu;
		sp.payload_len = 1 + (size_t)i * 333;	/* odd and even lengths */
		sp.partial = i & 1;
		pg_build(&sp, &o);
		pg_copy(&x, &o);
		assert_forward(n, &x, NAT_SIDE_PUBLIC, T0 + 1);
		assert_parse(&x, &pi);
		assert_pkt_tuple(&pi, C4, 40000, B4, 80);
		assert_int_equal(pi.seq, sp.seq);
		assert_int_equal(pi.ack, sp.ack);
		assert_same_xlate(&o, &x, false, false);

		pg_spec_init(&sp, PKT_IPPROTO_TCP, B4, 80, C4, 40000);
		sp.tcp_flags = PKT_TCP_ACK;
		sp.payload_len = 1400 + (size_t)i;
		sp.partial = !(i & 1);
		pg_build(&sp, &o);
		pg_copy(&x, &o);
		assert_forward(n, &x, NAT_SIDE_INSIDE, T0 + 2);
		assert_parse(&x, &pi);
		assert_pkt_tuple(&pi, P4, 80, C4, 40000);
		assert_same_xlate(&o, &x, false, false);
	}
	fx_free(n);
}

/* IPv4 options and IPv6 extension headers: translated, checksums valid. */
static void
test_options_and_ext_headers(void **state)
{
	static const uint8_t ipopts[8] = { 0x94, 0x04, 0, 0, 1, 1, 1, 0 };
	struct nat *n = mk_default();
	struct pg_spec sp;
	struct pg_pkt o, x;
	struct pg_info pi;
	int partial;

	(void)state;
	assert_non_null(n);
	for (partial = 0; partial < 2; partial++) {
		pg_spec_init(&sp, PKT_IPPROTO_TCP, C4, (uint16_t)(40000 + partial), P4, 80);
		sp.tcp_flags = PKT_TCP_SYN;
		sp.mss = 1460;
		sp.ip_opts = ipopts;
		sp.ip_opts_len = sizeof(ipopts);
		sp.partial = partial;
		pg_build(&sp, &o);
		pg_copy(&x, &o);
		assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
		assert_vnet_kept(&o, &x);
		assert_parse(&x, &pi);
		assert_int_equal(pi.ip_hlen, 28);
		assert_pkt_tuple(&pi, C4, (uint16_t)(40000 + partial), B4, 80);
		assert_same_xlate(&o, &x, false, false);

		pg_spec_init(&sp, PKT_IPPROTO_UDP, C6, (uint16_t)(40000 + partial), P6, 53);
		sp.payload_len = 21;
		sp.ext[0].type = PKT_IPPROTO_HOPOPTS;
		sp.ext[1].type = PKT_IPPROTO_DSTOPTS;
		sp.ext[1].len8 = 2;
		sp.ext[2].type = PKT_IPPROTO_ROUTING;
		sp.ext[2].rt_type = 253;
		sp.ext[3].type = PKT_IPPROTO_DSTOPTS;
		sp.n_ext = 4;
		sp.partial = partial;
		pg_build(&sp, &o);
		pg_copy(&x, &o);
		assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
		assert_vnet_kept(&o, &x);
		assert_parse(&x, &pi);
		assert_pkt_tuple(&pi, C6, (uint16_t)(40000 + partial), B6, 53);
		assert_same_xlate(&o, &x, false, false);

		/* the reply with extension headers too */
		pg_spec_init(&sp, PKT_IPPROTO_UDP, B6, 53, C6, (uint16_t)(40000 + partial));
		sp.payload_len = 99;
		sp.ext[0].type = PKT_IPPROTO_DSTOPTS;
		sp.n_ext = 1;
		sp.partial = partial;
		pg_build(&sp, &o);
		pg_copy(&x, &o);
		assert_forward(n, &x, NAT_SIDE_INSIDE, T0);
		assert_parse(&x, &pi);
		assert_pkt_tuple(&pi, P6, 53, C6, (uint16_t)(40000 + partial));
		assert_same_xlate(&o, &x, false, false);
	}
	fx_free(n);
}

/* IPv6 atomic fragment (offset 0, M clear, RFC 6946): a whole packet. */
static void
test_atomic_fragment6(void **state)
{
	struct nat *n = mk_default();
	struct pg_spec sp;
	struct pg_pkt o, x;
	struct pg_info pi;

	(void)state;
	assert_non_null(n);
	pg_spec_init(&sp, PKT_IPPROTO_UDP, C6, 40000, P6, 53);
	sp.payload_len = 30;
	sp.ext[0].type = PKT_IPPROTO_FRAGMENT;
	sp.ext[0].frag_id = 0xabcd;
	sp.n_ext = 1;
	pg_build(&sp, &o);
	pg_copy(&x, &o);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, C6, 40000, B6, 53);
	/* pktgen treats it as a fragment: check the UDP sum by hand */
	assert_int_equal(csum_full_fold(csum_full_sum(x.data + pi.l4_off, pi.l4_len,
	    pg_pseudo_sum(x.data, x.len, PKT_IPPROTO_UDP, pi.l4_len))), 0xffff);
	assert_same_xlate(&o, &x, false, false);
	fx_free(n);
}

/* A GSO super-packet (TUN with offloads): translated, vnet GSO state kept. */
static void
test_gso_superpacket(void **state)
{
	struct nat *n = mk_default();
	struct pg_spec sp;
	struct pg_pkt o, x;
	struct pg_info pi;
	int v6;

	(void)state;
	assert_non_null(n);
	for (v6 = 0; v6 < 2; v6++) {
		pg_spec_init(&sp, PKT_IPPROTO_TCP, v6 ? C6 : C4, 40000, v6 ? P6 : P4, 80);
		sp.tcp_flags = PKT_TCP_ACK | PKT_TCP_PSH;
		sp.payload_len = 3000;
		sp.partial = true;
		pg_build(&sp, &o);
		o.vnet.gso_type = v6 ? 4 : 1;	/* VIRTIO_NET_HDR_GSO_TCPV6 / TCPV4 */
		o.vnet.gso_size = 1448;
		o.vnet.hdr_len = (uint16_t)(v6 ? 60 : 40);
		pg_copy(&x, &o);
		assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
		assert_vnet_kept(&o, &x);
		assert_int_equal(x.vnet.gso_type, o.vnet.gso_type);
		assert_int_equal(x.vnet.gso_size, 1448);
		assert_int_equal(x.vnet.hdr_len, o.vnet.hdr_len);
		assert_parse(&x, &pi);
		assert_pkt_tuple(&pi, v6 ? C6 : C4, 40000, v6 ? B6 : B4, 80);
		assert_same_xlate(&o, &x, false, false);
	}
	fx_free(n);
}

/* A UDP checksum of 0 (IPv4: none) stays 0 both ways. */
static void
test_udp_csum_zero(void **state)
{
	struct nat *n = mk_default();
	struct pg_spec sp;
	struct pg_pkt x;
	struct pg_info pi;

	(void)state;
	assert_non_null(n);
	pg_spec_init(&sp, PKT_IPPROTO_UDP, C4, 5353, P4, 53);
	sp.payload_len = 31;
	sp.udp_csum_zero = true;
	pg_build(&sp, &x);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, C4, 5353, B4, 53);
	assert_int_equal(pi.l4_csum, 0);

	pg_spec_init(&sp, PKT_IPPROTO_UDP, B4, 53, C4, 5353);
	sp.payload_len = 80;
	sp.udp_csum_zero = true;
	pg_build(&sp, &x);
	assert_forward(n, &x, NAT_SIDE_INSIDE, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, P4, 53, C4, 5353);
	assert_int_equal(pi.l4_csum, 0);
	fx_free(n);
}

/* Forward rules before the default: port and port-range mapping one to one. */
static void
test_forward_rules(void **state)
{
	struct nat_rule r[4];
	struct nat *n;
	struct pg_pkt x;
	struct pg_info pi;
	enum nat_drop_reason why;
	uint16_t ports[3] = { 8000, 8050, 8100 };
	int i;

	(void)state;
	r[0] = fx_rule(LANS4, NAT_P_TCP, 81, 81, 80);		/* A:81 -> 192.168.1.32:80 */
	r[1] = fx_rule(B4, NAT_P_TCP | NAT_P_UDP, 8000, 8100, 9000);
	r[2] = fx_rule("10.22.22.2", NAT_P_UDP, 5000, 5010, 0);	/* keeps the port */
	n = fx_engine(r, 3);
	assert_non_null(n);

	pg_tcp(&x, C4, 40000, P4, 81, PKT_TCP_SYN);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, C4, 40000, LANS4, 80);
	pg_tcp(&x, LANS4, 80, C4, 40000, PKT_TCP_SYN | PKT_TCP_ACK);
	assert_forward(n, &x, NAT_SIDE_INSIDE, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, P4, 81, C4, 40000);

	for (i = 0; i < 3; i++) {
		pg_udp(&x, C4, 40001, P4, ports[i], 10);
		assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
		assert_parse(&x, &pi);
		assert_pkt_tuple(&pi, C4, 40001, B4, (uint16_t)(9000 + ports[i] - 8000));
		pg_udp(&x, B4, (uint16_t)(9000 + ports[i] - 8000), C4, 40001, 10);
		assert_forward(n, &x, NAT_SIDE_INSIDE, T0);
		assert_parse(&x, &pi);
		assert_pkt_tuple(&pi, P4, ports[i], C4, 40001);
	}
	pg_udp(&x, C4, 40002, P4, 5005, 10);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, C4, 40002, "10.22.22.2", 5005);

	/* outside every range, wrong protocol, other family: not ours */
	pg_tcp(&x, C4, 40003, P4, 8101, PKT_TCP_SYN);
	assert_verdict(pg_run(n, &x, NAT_SIDE_PUBLIC, T0, &why), NAT_NOT_OURS, why);
	pg_tcp(&x, C4, 40003, P4, 7999, PKT_TCP_SYN);
	assert_verdict(pg_run(n, &x, NAT_SIDE_PUBLIC, T0, &why), NAT_NOT_OURS, why);
	pg_udp(&x, C4, 40003, P4, 81, 10);
	assert_verdict(pg_run(n, &x, NAT_SIDE_PUBLIC, T0, &why), NAT_NOT_OURS, why);
	pg_tcp(&x, C4, 40003, P4, 5005, PKT_TCP_SYN);
	assert_verdict(pg_run(n, &x, NAT_SIDE_PUBLIC, T0, &why), NAT_NOT_OURS, why);
	pg_tcp(&x, C6, 40003, P6, 81, PKT_TCP_SYN);
	assert_verdict(pg_run(n, &x, NAT_SIDE_PUBLIC, T0, &why), NAT_NOT_OURS, why);
	pg_echo(&x, C4, P4, 9, false);
	assert_verdict(pg_run(n, &x, NAT_SIDE_PUBLIC, T0, &why), NAT_NOT_OURS, why);
	fx_free(n);
}

/*
 * Source kept, one client endpoint reaching one target through two public
 * ports: the reply keys would clash. Both flows must work and their replies
 * must come back from the public port each one used.
 */
static void
test_keep_reply_key_clash(void **state)
{
	struct nat_rule r[2];
	struct nat *n;
	struct pg_pkt x;
	struct pg_info pi;
	uint16_t p1, p2;

	(void)state;
	r[0] = fx_rule(B4, NAT_P_UDP, 81, 81, 80);
	r[1] = fx_rule(B4, NAT_P_UDP, 82, 82, 80);
	n = fx_engine(r, 2);
	assert_non_null(n);
	pg_udp(&x, C4, 5000, P4, 81, 10);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_parse(&x, &pi);
	p1 = pi.sport;
	assert_pkt_tuple(&pi, C4, p1, B4, 80);
	pg_udp(&x, C4, 5000, P4, 82, 10);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_parse(&x, &pi);
	p2 = pi.sport;
	assert_pkt_tuple(&pi, C4, p2, B4, 80);
	assert_int_not_equal(p1, p2);
	pg_udp(&x, B4, 80, C4, p2, 10);
	assert_forward(n, &x, NAT_SIDE_INSIDE, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, P4, 82, C4, 5000);
	pg_udp(&x, B4, 80, C4, p1, 10);
	assert_forward(n, &x, NAT_SIDE_INSIDE, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, P4, 81, C4, 5000);
	fx_free(n);
}

/* Forwards first, the default destination (all ports) last. */
static void
test_default_vs_forward(void **state)
{
	struct nat_rule r[2];
	struct nat *n;
	struct pg_pkt x;
	struct pg_info pi;

	(void)state;
	r[0] = fx_rule(LANS4, NAT_P_TCP, 81, 81, 80);
	r[1] = fx_rule(B4, ALLP, 1, 65535, 0);
	n = fx_engine(r, 2);
	assert_non_null(n);
	pg_tcp(&x, C4, 40000, P4, 81, PKT_TCP_SYN);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, C4, 40000, LANS4, 80);
	pg_tcp(&x, C4, 40000, P4, 443, PKT_TCP_SYN);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, C4, 40000, B4, 443);
	pg_udp(&x, C4, 40000, P4, 81, 5);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, C4, 40000, B4, 81);
	pg_udp(&x, C4, 40000, P4, 65535, 5);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, C4, 40000, B4, 65535);
	fx_free(n);
}

/* Exclusions (tcp/22, udp/53-54) are NOT_OURS, untouched, open no flow. */
static void
test_exclusions(void **state)
{
	struct nat_rule r[3];
	struct nat *n;
	struct nat_stats st;
	struct pg_pkt o, x;
	struct pg_info pi;
	enum nat_drop_reason why;

	(void)state;
	r[0] = fx_rule(B4, NAT_P_TCP, 22, 22, 0);
	r[0].action = NAT_RULE_PASS;
	r[1] = fx_rule(B4, NAT_P_UDP, 53, 54, 0);
	r[1].action = NAT_RULE_PASS;
	r[2] = fx_rule(B4, ALLP, 1, 65535, 0);
	n = fx_engine(r, 3);
	assert_non_null(n);

	pg_tcp(&o, C4, 40000, P4, 22, PKT_TCP_SYN);
	pg_copy(&x, &o);
	assert_verdict(pg_run(n, &x, NAT_SIDE_PUBLIC, T0, &why), NAT_NOT_OURS, why);
	assert_int_equal(x.len, o.len);
	assert_memory_equal(x.data, o.data, o.len);
	pg_udp(&o, C4, 40000, P4, 54, 8);
	pg_copy(&x, &o);
	assert_verdict(pg_run(n, &x, NAT_SIDE_PUBLIC, T0, &why), NAT_NOT_OURS, why);
	assert_memory_equal(x.data, o.data, o.len);
	assert_int_equal(pg_flow_count(n, T0), 0);

	/* udp/22 and tcp/53 are not excluded */
	pg_udp(&x, C4, 40000, P4, 22, 8);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, C4, 40000, B4, 22);
	pg_tcp(&x, C4, 40000, P4, 53, PKT_TCP_SYN);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	nat_get_stats(n, &st);
	assert_int_equal(st.not_ours, 2);
	assert_int_equal(st.forwarded, 2);
	assert_int_equal(st.flows_created, 2);
	fx_free(n);
}

/* First match wins: overlapping rules, and an exclusion after the default. */
static void
test_rule_order(void **state)
{
	struct nat_rule r[3];
	struct nat *n;
	struct pg_pkt x;
	struct pg_info pi;

	(void)state;
	r[0] = fx_rule(B4, NAT_P_TCP, 80, 90, 0);
	r[1] = fx_rule("10.22.22.9", NAT_P_TCP, 85, 85, 0);
	r[2] = fx_rule(B4, NAT_P_TCP, 22, 22, 0);
	r[2].action = NAT_RULE_PASS;
	n = fx_engine(r, 3);
	assert_non_null(n);
	pg_tcp(&x, C4, 40000, P4, 85, PKT_TCP_SYN);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, C4, 40000, B4, 85);
	fx_free(n);

	/* swapped: the single port now wins */
	r[0] = fx_rule("10.22.22.9", NAT_P_TCP, 85, 85, 0);
	r[1] = fx_rule(B4, NAT_P_TCP, 80, 90, 0);
	n = fx_engine(r, 2);
	assert_non_null(n);
	pg_tcp(&x, C4, 40000, P4, 85, PKT_TCP_SYN);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, C4, 40000, "10.22.22.9", 85);
	pg_tcp(&x, C4, 40000, P4, 86, PKT_TCP_SYN);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, C4, 40000, B4, 86);
	fx_free(n);

	/* the default before the exclusion: the exclusion never matches */
	r[0] = fx_rule(B4, ALLP, 1, 65535, 0);
	r[1] = fx_rule(B4, NAT_P_TCP, 22, 22, 0);
	r[1].action = NAT_RULE_PASS;
	n = fx_engine(r, 2);
	assert_non_null(n);
	pg_tcp(&x, C4, 40000, P4, 22, PKT_TCP_SYN);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, C4, 40000, B4, 22);
	fx_free(n);
}

/* match_dst: a rule for one public address only. */
static void
test_match_dst(void **state)
{
	struct nat_rule r[2];
	struct nat *n;
	struct pg_pkt x;
	struct pg_info pi;

	(void)state;
	r[0] = fx_rule("10.22.22.9", NAT_P_TCP, 80, 80, 8080);
	r[0].match_dst = true;
	r[0].dst = pg_addr(P4B);
	r[1] = fx_rule(B4, ALLP, 1, 65535, 0);
	n = fx_engine(r, 2);
	assert_non_null(n);
	pg_tcp(&x, C4, 40000, P4B, 80, PKT_TCP_SYN);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, C4, 40000, "10.22.22.9", 8080);
	pg_tcp(&x, "10.22.22.9", 8080, C4, 40000, PKT_TCP_SYN | PKT_TCP_ACK);
	assert_forward(n, &x, NAT_SIDE_INSIDE, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, P4B, 80, C4, 40000);
	pg_tcp(&x, C4, 40000, P4, 80, PKT_TCP_SYN);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, C4, 40000, B4, 80);
	fx_free(n);
}

/* The inside never opens flows: SYN, UDP, echo from there are not forwarded. */
static void
test_inside_never_opens(void **state)
{
	struct nat *n = mk_default();
	struct nat_stats st;
	struct pg_pkt x;
	enum nat_drop_reason why;
	enum nat_verdict v;
	int i;

	(void)state;
	assert_non_null(n);
	for (i = 0; i < 4; i++) {
		if (i == 0)
			pg_tcp(&x, B4, 5555, C4, 80, PKT_TCP_SYN);
		else if (i == 1)
			pg_udp(&x, B4, 5555, C4, 53, 10);
		else if (i == 2)
			pg_echo(&x, B6, C6, 77, false);
		else
			pg_tcp(&x, C4, 40000, P4, 80, PKT_TCP_SYN);	/* even to P */
		v = pg_run(n, &x, NAT_SIDE_INSIDE, T0, &why);
		if (v != NAT_NOT_OURS)
			assert_drop(v, why, NAT_DROP_NO_FLOW);
	}
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_created, 0);
	assert_int_equal(st.flows_active, 0);
	assert_int_equal(st.forwarded, 0);
	assert_int_equal(st.packets[NAT_SIDE_INSIDE], 4);
	assert_int_equal(pg_flow_count(n, T0), 0);
	fx_free(n);
}

/* An orphan reply (no flow) from the inside is dropped as no_flow. */
static void
test_orphan_reply(void **state)
{
	struct nat *n = mk_default();
	struct nat_stats st;
	struct pg_pkt x;
	enum nat_drop_reason why;

	(void)state;
	assert_non_null(n);
	pg_udp(&x, C4, 40000, P4, 53, 10);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	/* the reply from a different port does not match */
	pg_udp(&x, B4, 54, C4, 40000, 10);
	assert_drop(pg_run(n, &x, NAT_SIDE_INSIDE, T0, &why), why, NAT_DROP_NO_FLOW);
	/* nor to a different client port */
	pg_udp(&x, B4, 53, C4, 40001, 10);
	assert_drop(pg_run(n, &x, NAT_SIDE_INSIDE, T0, &why), why, NAT_DROP_NO_FLOW);
	nat_get_stats(n, &st);
	assert_int_equal(st.drops[NAT_DROP_NO_FLOW], 2);
	fx_free(n);
}

/* An echo request from the inside is not a reply to an echo flow. */
static void
test_echo_reply_must_be_reply(void **state)
{
	struct nat *n = mk_default();
	struct pg_pkt x;
	struct pg_info pi;
	enum nat_drop_reason why;

	(void)state;
	assert_non_null(n);
	pg_echo(&x, C4, P4, 77, false);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	pg_echo(&x, B4, C4, 77, false);
	assert_int_equal(pg_run(n, &x, NAT_SIDE_INSIDE, T0, &why), NAT_DROP);
	pg_echo(&x, B4, C4, 77, true);
	assert_forward(n, &x, NAT_SIDE_INSIDE, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, P4, 77, C4, 0);
	assert_int_equal(pi.icmp_type, PKT_ICMP_ECHOREPLY);
	fx_free(n);
}

/* A flow's original-direction packet from another side: wrong_side. */
static void
test_wrong_side(void **state)
{
	struct nat *n = mk_default();
	struct nat_stats st;
	struct pg_pkt x;
	enum nat_drop_reason why;

	(void)state;
	assert_non_null(n);
	pg_udp(&x, C4, 40000, P4, 53, 10);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	pg_udp(&x, C4, 40000, P4, 53, 10);
	assert_drop(pg_run(n, &x, NAT_SIDE_INSIDE, T0, &why), why, NAT_DROP_WRONG_SIDE);
	nat_get_stats(n, &st);
	assert_int_equal(st.drops[NAT_DROP_WRONG_SIDE], 1);
	fx_free(n);
}

struct all_flows {
	struct nat_flow_info f[8];
	int n;
};

static int
collect(const struct nat_flow_info *fi, void *arg)
{
	struct all_flows *a = arg;

	if (a->n < 8)
		a->f[a->n] = *fi;
	a->n++;
	return 0;
}

/* nat_flows() lists both tuples, state, assured, counters, timing. */
static void
test_flows_list(void **state)
{
	struct nat_rule r[1];
	struct nat *n;
	struct nat_flow_info fi;
	struct all_flows all;
	struct pg_pkt x;
	size_t l1, l2, l3;

	(void)state;
	r[0] = fx_rule(B4, ALLP, 1, 65535, 9000);
	r[0].port_lo = 8000;
	r[0].port_hi = 8999;
	r[0].id = 7;
	n = fx_engine(r, 1);
	assert_non_null(n);
	l1 = pg_tcp(&x, C4, 40000, P4, 8001, PKT_TCP_SYN);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	l2 = pg_tcp(&x, B4, 9001, C4, 40000, PKT_TCP_SYN | PKT_TCP_ACK);
	assert_forward(n, &x, NAT_SIDE_INSIDE, T0 + 100);
	l3 = pg_tcp(&x, C4, 40000, P4, 8001, PKT_TCP_ACK);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0 + 200);

	assert_true(pg_find_flow(n, T0 + SEC(5) + 200, PKT_IPPROTO_TCP, C4, 40000, &fi));
	assert_int_equal(fi.family, 4);
	assert_int_equal(fi.proto, PKT_IPPROTO_TCP);
	assert_true(pg_addr_eq(&fi.orig_src, C4));
	assert_true(pg_addr_eq(&fi.orig_dst, P4));
	assert_int_equal(fi.orig_sport, 40000);
	assert_int_equal(fi.orig_dport, 8001);
	assert_true(pg_addr_eq(&fi.reply_src, B4));
	assert_true(pg_addr_eq(&fi.reply_dst, C4));
	assert_int_equal(fi.reply_sport, 9001);
	assert_int_equal(fi.reply_dport, 40000);
	assert_non_null(fi.state);
	assert_string_equal(fi.state, nat_tcp_state_name(NAT_TCP_ESTABLISHED));
	assert_true(fi.assured);
	assert_int_equal(fi.rule_id, 7);
	assert_int_equal(fi.packets[0], 2);
	assert_int_equal(fi.packets[1], 1);
	assert_int_equal(fi.bytes[0], l1 + l3);
	assert_int_equal(fi.bytes[1], l2);
	assert_int_equal(fi.age, 5);
	assert_int_equal(fi.idle, 5);
	assert_in_range(fi.expires, 7434, 7435);

	/* a UDP and an echo flow next to it */
	pg_udp(&x, C6, 5000, P6, 8002, 10);
	assert_verdict(pg_run(n, &x, NAT_SIDE_PUBLIC, T0 + SEC(10), NULL), NAT_NOT_OURS, 0);
	pg_udp(&x, C4, 5000, P4, 8002, 10);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0 + SEC(10));
	pg_echo(&x, C4, P4, 99, false);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0 + SEC(10));
	assert_true(pg_find_flow(n, T0 + SEC(20), PKT_IPPROTO_UDP, C4, 5000, &fi));
	assert_true(pg_addr_eq(&fi.reply_src, B4));
	assert_int_equal(fi.reply_sport, 9002);
	assert_false(fi.assured);
	assert_int_equal(fi.idle, 10);
	assert_in_range(fi.expires, 289, 290);
	assert_true(pg_find_flow(n, T0 + SEC(20), PKT_IPPROTO_ICMP, C4, 99, &fi));
	assert_int_equal(fi.orig_dport, 0);
	assert_true(pg_addr_eq(&fi.reply_src, B4));
	assert_in_range(fi.expires, 49, 50);

	memset(&all, 0, sizeof(all));
	assert_int_equal(nat_flows(n, T0 + SEC(20), collect, &all), 0);
	assert_int_equal(all.n, 3);
	fx_free(n);
}

static int
stop_first(const struct nat_flow_info *fi, void *arg)
{
	(void)fi;
	(*(int *)arg)++;
	return 1;
}

/* nat_flows() stops when the callback says so. */
static void
test_flows_stop(void **state)
{
	struct nat *n = mk_default();
	struct pg_pkt x;
	int calls = 0, i;

	(void)state;
	assert_non_null(n);
	for (i = 0; i < 5; i++) {
		pg_udp(&x, C4, (uint16_t)(40000 + i), P4, 53, 10);
		assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	}
	assert_int_equal(pg_flow_count(n, T0), 5);
	assert_int_not_equal(nat_flows(n, T0, stop_first, &calls), 0);
	assert_int_equal(calls, 1);
	fx_free(n);
}

/* Every drop reason and TCP state has a distinct name. */
static void
test_names(void **state)
{
	int i, j;

	(void)state;
	for (i = 0; i < NAT_DROP_MAX; i++) {
		assert_non_null(nat_drop_name((enum nat_drop_reason)i));
		assert_true(nat_drop_name((enum nat_drop_reason)i)[0] != 0);
		for (j = 0; j < i; j++)
			assert_string_not_equal(nat_drop_name((enum nat_drop_reason)i),
			    nat_drop_name((enum nat_drop_reason)j));
	}
	for (i = 0; i < NAT_TCP_STATE_MAX; i++) {
		assert_non_null(nat_tcp_state_name((enum nat_tcp_state)i));
		for (j = 0; j < i; j++)
			assert_string_not_equal(nat_tcp_state_name((enum nat_tcp_state)i),
			    nat_tcp_state_name((enum nat_tcp_state)j));
	}
	/* out of range: a name, not a crash */
	assert_non_null(nat_drop_name(NAT_DROP_MAX));
	assert_non_null(nat_tcp_state_name(NAT_TCP_STATE_MAX));
}

/* The counters follow what happened. */
static void
test_stats(void **state)
{
	struct nat_rule r[2];
	struct nat *n;
	struct nat_stats st;
	struct pg_pkt x;
	enum nat_drop_reason why;

	(void)state;
	r[0] = fx_rule(B4, NAT_P_TCP, 22, 22, 0);
	r[0].action = NAT_RULE_PASS;
	r[1] = fx_rule(B4, ALLP, 1, 65535, 0);
	n = fx_engine(r, 2);
	assert_non_null(n);

	pg_tcp(&x, C4, 40000, P4, 80, PKT_TCP_SYN);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	pg_tcp(&x, B4, 80, C4, 40000, PKT_TCP_SYN | PKT_TCP_ACK);
	assert_forward(n, &x, NAT_SIDE_INSIDE, T0);
	pg_tcp(&x, C4, 40000, P4, 80, PKT_TCP_ACK);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	pg_udp(&x, C4, 40000, P4, 53, 10);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	pg_echo(&x, C4, P4, 1, false);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	pg_tcp(&x, C4, 40001, P4, 22, PKT_TCP_SYN);
	assert_verdict(pg_run(n, &x, NAT_SIDE_PUBLIC, T0, &why), NAT_NOT_OURS, why);
	pg_udp(&x, B4, 9, C4, 9, 10);
	assert_drop(pg_run(n, &x, NAT_SIDE_INSIDE, T0, &why), why, NAT_DROP_NO_FLOW);

	nat_get_stats(n, &st);
	assert_int_equal(st.packets[NAT_SIDE_PUBLIC], 5);
	assert_int_equal(st.packets[NAT_SIDE_INSIDE], 2);
	assert_int_equal(st.packets[NAT_SIDE_LAN], 0);
	assert_int_equal(st.forwarded, 5);
	assert_int_equal(st.not_ours, 1);
	assert_int_equal(st.drops[NAT_DROP_NO_FLOW], 1);
	assert_int_equal(st.replies, 0);
	assert_int_equal(st.flows_created, 3);
	assert_int_equal(st.flows_active, 3);
	assert_int_equal(st.flows_by_state[NAT_TCP_ESTABLISHED], 1);
	assert_int_equal(st.flows_by_state[NAT_TCP_SYN_SENT], 0);
	assert_int_equal(st.flows_udp, 1);
	assert_int_equal(st.flows_icmp, 1);
	assert_int_equal(st.flows_expired, 0);
	assert_int_equal(st.mappings, 0);
	assert_int_equal(st.max_flows, 1024);
	assert_string_equal(nat_drop_name(NAT_DROP_NO_FLOW), nat_drop_name(why));
	assert_string_not_equal(nat_drop_name(NAT_DROP_NO_FLOW),
	    nat_drop_name(NAT_DROP_TABLE_FULL));
	fx_free(n);
}

/* The engine copies the rules: the caller may free or reuse its array. */
static void
test_rules_copied(void **state)
{
	struct nat_rule r[1];
	struct nat *n;
	struct pg_pkt x;
	struct pg_info pi;

	(void)state;
	r[0] = fx_rule(B4, ALLP, 1, 65535, 0);
	n = fx_engine(r, 1);
	assert_non_null(n);
	r[0].to = pg_addr("10.9.9.9");
	r[0].port_lo = 100;
	pg_tcp(&x, C4, 40000, P4, 80, PKT_TCP_SYN);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, C4, 40000, B4, 80);
	fx_free(n);
}

/* Bad settings are refused with a message. */
static void
test_bad_settings(void **state)
{
	struct nat_rule r[1];
	struct nat_settings s;
	char err[ERRLEN];

	(void)state;
	r[0] = fx_rule(B4, ALLP, 100, 10, 0);	/* lo > hi */
	fx_settings(&s, r, 1);
	err[0] = 0;
	assert_null(nat_create(&s, err));
	assert_true(err[0] != 0);

	r[0] = fx_rule(B4, ALLP, 1, 65535, 0);
	r[0].family = 5;
	fx_settings(&s, r, 1);
	err[0] = 0;
	assert_null(nat_create(&s, err));
	assert_true(err[0] != 0);
	r[0].family = 4;

	/* a port range mapped past 65535 */
	r[0] = fx_rule(B4, NAT_P_TCP, 1000, 2000, 65000);
	fx_settings(&s, r, 1);
	err[0] = 0;
	assert_null(nat_create(&s, err));
	assert_true(err[0] != 0);

	r[0] = fx_rule(B4, ALLP, 1, 65535, 0);
	fx_settings(&s, r, 1);
	s.nat_port_lo = 65000;
	s.nat_port_hi = 64000;
	err[0] = 0;
	assert_null(nat_create(&s, err));
	assert_true(err[0] != 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_keep_tcp4),
		FX_TEST(test_keep_tcp4_partial),
		FX_TEST(test_keep_tcp6),
		FX_TEST(test_keep_tcp6_partial),
		FX_TEST(test_keep_udp4),
		FX_TEST(test_keep_udp4_partial),
		FX_TEST(test_keep_udp6),
		FX_TEST(test_keep_udp6_partial),
		FX_TEST(test_keep_echo4),
		FX_TEST(test_keep_echo6),
		FX_TEST(test_keep_tcp_data),
		FX_TEST(test_options_and_ext_headers),
		FX_TEST(test_atomic_fragment6),
		FX_TEST(test_gso_superpacket),
		FX_TEST(test_udp_csum_zero),
		FX_TEST(test_forward_rules),
		FX_TEST(test_keep_reply_key_clash),
		FX_TEST(test_default_vs_forward),
		FX_TEST(test_exclusions),
		FX_TEST(test_rule_order),
		FX_TEST(test_match_dst),
		FX_TEST(test_inside_never_opens),
		FX_TEST(test_orphan_reply),
		FX_TEST(test_echo_reply_must_be_reply),
		FX_TEST(test_wrong_side),
		FX_TEST(test_flows_list),
		FX_TEST(test_flows_stop),
		FX_TEST(test_names),
		FX_TEST(test_stats),
		FX_TEST(test_rules_copied),
		FX_TEST(test_bad_settings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
