/*
 * test_nat_trunc.c - bad input: every prefix of valid packets (v4/v6,
 * TCP/UDP/ICMP, ICMP errors, options, extension headers, fragments) in a
 * buffer of exactly that size (so ASan sees any over-read or over-write), and
 * malformed headers. Each must be dropped with a counter or left NOT_OURS,
 * never forwarded, never crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"
#include "pktgen.h"

static struct nat_rule rules[3];

/* An engine with live flows for every packet of the corpus. */
static struct nat *
mk(void)
{
	struct nat_settings s;
	struct nat *n;
	struct pg_pkt x;

	rules[0] = fx_relay_rule(B4, NAT_P_TCP | NAT_P_UDP, 5300, 5300, 53, R4);
	fx_keep_all(&rules[1]);
	fx_settings(&s, rules, 3);
	s.mss_clamp = 1300;
	s.ttl_mode = NAT_TTL_DECREMENT;
	n = fx_nat(&s);
	assert_non_null(n);
	pg_tcp(&x, C4, 40000, P4, 80, PKT_TCP_SYN);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	pg_tcp(&x, B4, 80, C4, 40000, PKT_TCP_SYN | PKT_TCP_ACK);
	assert_forward(n, &x, NAT_SIDE_INSIDE, T0);
	pg_tcp(&x, C6, 40000, P6, 80, PKT_TCP_SYN);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	pg_udp(&x, C4, 40000, P4, 5300, 10);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	pg_udp(&x, C6, 40000, P6, 53, 10);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	pg_echo(&x, C4, P4, 9, false);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	pg_echo(&x, C6, P6, 9, false);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	return n;
}

/* Sum of all drop counters and not_ours. */
static uint64_t
refused(const struct nat *n)
{
	struct nat_stats st;
	uint64_t t;
	int i;

	nat_get_stats(n, &st);
	t = st.not_ours;
	for (i = 0; i < NAT_DROP_MAX; i++)
		t += st.drops[i];
	return t;
}

/*
 * Run len bytes of p in a heap buffer of exactly len bytes; it must be
 * dropped (counted) or NOT_OURS. vnet, when given, is copied.
 */
static void
must_refuse(struct nat *n, const uint8_t *p, size_t len, enum nat_side side,
    const struct nat_vnet *vnet, const char *what)
{
	uint8_t *buf = malloc(len ? len : 1);
	struct nat_pkt np;
	struct nat_vnet vn;
	enum nat_drop_reason why = NAT_DROP_MAX;
	enum nat_verdict v;
	uint64_t before = refused(n);

	assert_non_null(buf);
	memcpy(buf, p, len);
	np.data = buf;
	np.len = len;
	np.cap = len;
	np.vnet = NULL;
	if (vnet != NULL) {
		vn = *vnet;
		np.vnet = &vn;
	}
	v = nat_process(n, &np, side, T0 + 1, &why);
	free(buf);
	if (v != NAT_DROP && v != NAT_NOT_OURS)
		fail_msg("%s, %zu bytes: verdict %d, want drop or not_ours", what, len, v);
	if (v == NAT_DROP && (why < 0 || why >= NAT_DROP_MAX))
		fail_msg("%s, %zu bytes: dropped with reason %d", what, len, (int)why);
	if (refused(n) != before + 1)
		fail_msg("%s, %zu bytes: %s not counted", what, len,
		    v == NAT_DROP ? nat_drop_name(why) : "not_ours");
}

/* Run a consistent (lengths fixed up) prefix: anything but a crash is fine. */
static void
may_pass(struct nat *n, const uint8_t *p, size_t len, enum nat_side side)
{
	uint8_t *buf = malloc(len ? len : 1);
	struct nat_pkt np;
	enum nat_drop_reason why;
	enum nat_verdict v;

	assert_non_null(buf);
	memcpy(buf, p, len);
	if (len >= 20 && buf[0] >> 4 == 4) {
		buf[2] = (uint8_t)(len >> 8);
		buf[3] = (uint8_t)len;
		pg_fix_ip_csum(buf, len);
	} else if (len >= 40 && buf[0] >> 4 == 6) {
		buf[4] = (uint8_t)((len - 40) >> 8);
		buf[5] = (uint8_t)(len - 40);
	}
	np.data = buf;
	np.len = len;
	np.cap = len;
	np.vnet = NULL;
	v = nat_process(n, &np, side, T0 + 1, &why);
	assert_true(np.len <= len || v == NAT_REPLY);
	assert_true(v != NAT_REPLY);	/* cap is len: no room for an error */
	free(buf);
}

struct sample {
	const char *what;
	struct pg_pkt p;
	enum nat_side side;
};

static struct sample corpus[20];
static int ncorpus;

static struct pg_pkt *
add(const char *what, enum nat_side side)
{
	struct sample *s = &corpus[ncorpus++];

	s->what = what;
	s->side = side;
	return &s->p;
}

/* Valid packets, each of which the engine (made by mk) forwards. */
static void
build_corpus(void)
{
	static const uint8_t ipopts[8] = { 0x94, 0x04, 0, 0, 1, 1, 1, 0 };
	static const uint8_t tcpopts[12] = { 1, 2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 0 };
	struct pg_spec sp;
	struct pg_pkt q, *p;

	ncorpus = 0;
	pg_spec_init(&sp, PKT_IPPROTO_TCP, C4, 40000, P4, 80);
	sp.tcp_flags = PKT_TCP_SYN;
	sp.ip_opts = ipopts;
	sp.ip_opts_len = sizeof(ipopts);
	sp.tcp_opts = tcpopts;
	sp.tcp_opts_len = sizeof(tcpopts);
	pg_build(&sp, add("v4 TCP SYN, IP and TCP options", NAT_SIDE_PUBLIC));

	pg_spec_init(&sp, PKT_IPPROTO_TCP, C6, 40000, P6, 80);
	sp.tcp_flags = PKT_TCP_SYN;
	sp.tcp_opts = tcpopts;
	sp.tcp_opts_len = sizeof(tcpopts);
	sp.ext[0].type = PKT_IPPROTO_HOPOPTS;
	sp.ext[1].type = PKT_IPPROTO_DSTOPTS;
	sp.ext[1].len8 = 1;
	sp.ext[2].type = PKT_IPPROTO_ROUTING;
	sp.ext[2].rt_type = 253;
	sp.ext[3].type = PKT_IPPROTO_DSTOPTS;
	sp.n_ext = 4;
	pg_build(&sp, add("v6 TCP SYN, extension headers", NAT_SIDE_PUBLIC));

	pg_tcp(add("v4 TCP reply", NAT_SIDE_INSIDE), B4, 80, C4, 40000, PKT_TCP_ACK);
	p = add("v4 TCP partial", NAT_SIDE_PUBLIC);
	pg_tcp(p, C4, 40000, P4, 80, PKT_TCP_ACK);
	pg_make_partial(p);
	pg_udp(add("v4 UDP full NAT", NAT_SIDE_PUBLIC), C4, 40000, P4, 5300, 30);

	pg_spec_init(&sp, PKT_IPPROTO_UDP, C6, 40000, P6, 53);
	sp.payload_len = 17;
	sp.ext[0].type = PKT_IPPROTO_DSTOPTS;
	sp.n_ext = 1;
	sp.partial = true;
	pg_build(&sp, add("v6 UDP partial, dest options", NAT_SIDE_PUBLIC));

	pg_echo(add("v4 echo", NAT_SIDE_PUBLIC), C4, P4, 9, false);
	pg_echo(add("v6 echo", NAT_SIDE_PUBLIC), C6, P6, 9, false);
	pg_echo(add("v4 echo reply", NAT_SIDE_INSIDE), B4, C4, 9, true);

	pg_tcp(&q, C4, 40000, B4, 80, PKT_TCP_SYN);
	pg_icmp_error(add("v4 ICMP frag needed quoting TCP", NAT_SIDE_INSIDE), RTR4, C4,
	    PKT_ICMP_UNREACH, PKT_ICMP_UNREACH_NEEDFRAG, 1400, q.data, q.len);
	pg_tcp(&q, C6, 40000, B6, 80, PKT_TCP_SYN);
	pg_icmp_error(add("v6 packet too big quoting TCP", NAT_SIDE_INSIDE), RTR6, C6,
	    PKT_ICMP6_PACKET_TOO_BIG, 0, 1280, q.data, q.len);
	pg_echo(&q, C4, B4, 9, false);
	pg_icmp_error(add("v4 time exceeded quoting echo", NAT_SIDE_INSIDE), RTR4, C4,
	    PKT_ICMP_TIMXCEED, 0, 0, q.data, 28);

	{
		struct pg_pkt full;

		pg_udp(&full, C4, 40000, P4, 80, 600);
		p = add("v4 first fragment", NAT_SIDE_PUBLIC);
		memset(p, 0, sizeof(*p));
		p->len = pg_fragment(full.data, full.len, 0, 304, false, 0x42, p->data,
		    PKT_CAP);
		pg_udp(&full, C6, 40000, P6, 53, 600);
		p = add("v6 first fragment", NAT_SIDE_PUBLIC);
		memset(p, 0, sizeof(*p));
		p->len = pg_fragment(full.data, full.len, 0, 304, false, 0x43, p->data,
		    PKT_CAP);
	}
}

/* Every corpus packet is forwarded whole (so the prefixes test real paths). */
static void
test_corpus_valid(void **state)
{
	struct nat *n = mk();
	struct pg_pkt x;
	int i;

	(void)state;
	build_corpus();
	for (i = 0; i < ncorpus; i++) {
		enum nat_drop_reason why;
		enum nat_verdict v;

		pg_copy(&x, &corpus[i].p);
		v = pg_run(n, &x, corpus[i].side, T0 + 1, &why);
		if (v != NAT_FORWARD)
			fail_msg("%s: verdict %d (%s)", corpus[i].what, v,
			    v == NAT_DROP ? nat_drop_name(why) : "-");
		assert_pkt_csums(&x);
	}
	fx_free(n);
}

/* Every prefix, total length still claiming the whole packet: refused. */
static void
test_prefixes(void **state)
{
	struct nat *n = mk();
	size_t l;
	int i;

	(void)state;
	build_corpus();
	for (i = 0; i < ncorpus; i++) {
		const struct pg_pkt *p = &corpus[i].p;

		for (l = 0; l < p->len; l++)
			must_refuse(n, p->data, l, corpus[i].side,
			    p->has_vnet ? &p->vnet : NULL, corpus[i].what);
	}
	fx_free(n);
}

/* Every prefix with its length fields fixed up: no crash, no over-read. */
static void
test_prefixes_consistent(void **state)
{
	struct nat *n = mk();
	size_t l;
	int i;

	(void)state;
	build_corpus();
	for (i = 0; i < ncorpus; i++)
		for (l = 0; l < corpus[i].p.len; l++)
			may_pass(n, corpus[i].p.data, l, corpus[i].side);
	fx_free(n);
}

/* Malformed IP headers. */
static void
test_bad_ip_headers(void **state)
{
	struct nat *n = mk();
	struct pg_pkt x, y;

	(void)state;
	pg_tcp(&x, C4, 40000, P4, 80, PKT_TCP_ACK);

	pg_copy(&y, &x);
	y.data[0] = 0x44;			/* IHL 4 */
	pg_fix_ip_csum(y.data, y.len);
	must_refuse(n, y.data, y.len, NAT_SIDE_PUBLIC, NULL, "IHL 4");
	pg_copy(&y, &x);
	y.data[0] = 0x4f;			/* IHL 15: 60 bytes, options garbage */
	pg_fix_ip_csum(y.data, y.len);
	must_refuse(n, y.data, 40, NAT_SIDE_PUBLIC, NULL, "IHL 15 in 40 bytes");
	pg_copy(&y, &x);
	y.data[0] = 0x55;			/* version 5 */
	must_refuse(n, y.data, y.len, NAT_SIDE_PUBLIC, NULL, "version 5");
	y.data[0] = 0x05;			/* version 0 */
	must_refuse(n, y.data, y.len, NAT_SIDE_PUBLIC, NULL, "version 0");
	pg_copy(&y, &x);
	y.data[2] = (uint8_t)((y.len + 1) >> 8);	/* total length > buffer */
	y.data[3] = (uint8_t)(y.len + 1);
	pg_fix_ip_csum(y.data, y.len);
	must_refuse(n, y.data, y.len, NAT_SIDE_PUBLIC, NULL, "total length > buffer");
	pg_copy(&y, &x);
	y.data[2] = 0;
	y.data[3] = 12;				/* total length < header */
	pg_fix_ip_csum(y.data, y.len);
	must_refuse(n, y.data, y.len, NAT_SIDE_PUBLIC, NULL, "total length < IHL");

	pg_tcp(&x, C6, 40000, P6, 80, PKT_TCP_ACK);
	pg_copy(&y, &x);
	y.data[4] = 0x10;			/* payload length 4096 */
	must_refuse(n, y.data, y.len, NAT_SIDE_PUBLIC, NULL, "v6 payload length > buffer");
	fx_free(n);
}

/* Malformed IPv6 extension header chains. */
static void
test_bad_ext_headers(void **state)
{
	struct nat *n = mk();
	struct pg_spec sp;
	struct pg_pkt x;
	int i;

	(void)state;
	/* two fragment headers */
	pg_spec_init(&sp, PKT_IPPROTO_UDP, C6, 40000, P6, 53);
	sp.payload_len = 8;
	sp.ext[0].type = PKT_IPPROTO_FRAGMENT;
	sp.ext[0].frag_more = true;
	sp.ext[0].frag_id = 1;
	sp.ext[1].type = PKT_IPPROTO_FRAGMENT;
	sp.ext[1].frag_more = true;
	sp.ext[1].frag_id = 2;
	sp.n_ext = 2;
	pg_build(&sp, &x);
	must_refuse(n, x.data, x.len, NAT_SIDE_PUBLIC, NULL, "two fragment headers");

	/* a destination options header claiming more than the packet holds */
	pg_spec_init(&sp, PKT_IPPROTO_UDP, C6, 40000, P6, 53);
	sp.payload_len = 8;
	sp.ext[0].type = PKT_IPPROTO_DSTOPTS;
	sp.n_ext = 1;
	pg_build(&sp, &x);
	x.data[41] = 200;
	must_refuse(n, x.data, x.len, NAT_SIDE_PUBLIC, NULL, "ext header past the end");

	/* a chain of 30 destination options headers */
	pg_spec_init(&sp, PKT_IPPROTO_UDP, C6, 40000, P6, 53);
	sp.payload_len = 8;
	for (i = 0; i < PKT_MAX_EXT; i++)
		sp.ext[i].type = PKT_IPPROTO_DSTOPTS;
	sp.n_ext = PKT_MAX_EXT;
	pg_build(&sp, &x);
	{
		uint8_t big[PKT_CAP];
		size_t l = 40, k;

		memcpy(big, x.data, 40);
		big[6] = PKT_IPPROTO_DSTOPTS;
		for (k = 0; k < 30; k++, l += 8) {
			memset(big + l, 0, 8);
			big[l] = k + 1 < 30 ? PKT_IPPROTO_DSTOPTS : PKT_IPPROTO_NONE;
			big[l + 2] = 1;
			big[l + 3] = 4;
		}
		big[4] = (uint8_t)((l - 40) >> 8);
		big[5] = (uint8_t)(l - 40);
		must_refuse(n, big, l, NAT_SIDE_PUBLIC, NULL, "30 extension headers");
	}
	/* hop-by-hop not first */
	pg_spec_init(&sp, PKT_IPPROTO_UDP, C6, 40000, P6, 53);
	sp.payload_len = 8;
	sp.ext[0].type = PKT_IPPROTO_DSTOPTS;
	sp.ext[1].type = PKT_IPPROTO_HOPOPTS;
	sp.n_ext = 2;
	pg_build(&sp, &x);
	must_refuse(n, x.data, x.len, NAT_SIDE_PUBLIC, NULL, "hop-by-hop not first");
	fx_free(n);
}

/* Malformed L4 headers and ICMP errors. */
static void
test_bad_l4(void **state)
{
	struct nat *n = mk();
	struct pg_pkt x, q;

	(void)state;
	pg_tcp(&x, C4, 40000, P4, 80, PKT_TCP_ACK);
	x.data[32] = 0x40;			/* data offset 4 */
	must_refuse(n, x.data, x.len, NAT_SIDE_PUBLIC, NULL, "TCP doff 4");
	pg_tcp(&x, C4, 40000, P4, 80, PKT_TCP_SYN);
	x.data[32] = 0xf0;			/* data offset 60 > segment */
	must_refuse(n, x.data, x.len, NAT_SIDE_PUBLIC, NULL, "TCP doff 15");
	pg_udp(&x, C4, 40000, P4, 53, 10);
	x.data[24] = 0;
	x.data[25] = 4;				/* UDP length 4 */
	must_refuse(n, x.data, x.len, NAT_SIDE_PUBLIC, NULL, "UDP length 4");
	pg_udp(&x, C4, 40000, P4, 53, 10);
	x.data[25] = 200;			/* UDP length past the datagram */
	must_refuse(n, x.data, x.len, NAT_SIDE_PUBLIC, NULL, "UDP length 200");

	/* an ICMP error quoting an ICMP error */
	pg_tcp(&q, C4, 40000, B4, 80, PKT_TCP_SYN);
	pg_icmp_error(&x, RTR4, C4, PKT_ICMP_UNREACH, 1, 0, q.data, q.len);
	memcpy(q.data, x.data, x.len);
	q.len = x.len;
	pg_icmp_error(&x, RTR4, C4, PKT_ICMP_UNREACH, 1, 0, q.data, q.len);
	must_refuse(n, x.data, x.len, NAT_SIDE_INSIDE, NULL, "ICMP error in ICMP error");
	/* an IPv6 packet quoted in an ICMPv4 error */
	pg_tcp(&q, C6, 40000, B6, 80, PKT_TCP_SYN);
	pg_icmp_error(&x, RTR4, C4, PKT_ICMP_UNREACH, 1, 0, q.data, q.len);
	must_refuse(n, x.data, x.len, NAT_SIDE_INSIDE, NULL, "v6 quoted in ICMPv4");
	/* a quote with IHL 15 but 28 bytes */
	pg_tcp(&q, C4, 40000, B4, 80, PKT_TCP_SYN);
	q.data[0] = 0x4f;
	pg_icmp_error(&x, RTR4, C4, PKT_ICMP_UNREACH, 1, 0, q.data, 28);
	must_refuse(n, x.data, x.len, NAT_SIDE_INSIDE, NULL, "quote IHL 15");
	fx_free(n);
}

/* virtio-net state that does not fit the packet: bad_vnet. */
static void
test_bad_vnet(void **state)
{
	struct nat *n = mk();
	struct pg_pkt x;
	struct nat_vnet v;
	enum nat_drop_reason why;
	enum nat_verdict r;

	(void)state;
	pg_tcp(&x, C4, 40000, P4, 80, PKT_TCP_ACK);
	pg_make_partial(&x);
	v = x.vnet;
	v.csum_start = (uint16_t)(x.len + 10);
	must_refuse(n, x.data, x.len, NAT_SIDE_PUBLIC, &v, "csum_start past the end");
	v = x.vnet;
	v.csum_offset = (uint16_t)(x.len);
	must_refuse(n, x.data, x.len, NAT_SIDE_PUBLIC, &v, "csum_offset past the end");
	v = x.vnet;
	v.csum_start = 10;			/* inside the IP header */
	v.csum_offset = 6;
	x.has_vnet = true;
	x.vnet = v;
	r = pg_run(n, &x, NAT_SIDE_PUBLIC, T0 + 1, &why);
	assert_drop(r, why, NAT_DROP_BAD_VNET);
	fx_free(n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_corpus_valid),
		FX_TEST(test_prefixes),
		FX_TEST(test_prefixes_consistent),
		FX_TEST(test_bad_ip_headers),
		FX_TEST(test_bad_ext_headers),
		FX_TEST(test_bad_l4),
		FX_TEST(test_bad_vnet),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
