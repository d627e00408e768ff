/*
 * test_nat_icmp.c - ICMP errors (RFC 5508): matched by their quoted packet,
 * the quote rewritten to exactly what its sender sent (checksums updated),
 * the outer header translated like a packet of that direction; errors never
 * open, refresh or remove a flow; one with a bad checksum is dropped
 * (RFC 5508 REQ-3).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"
#include "pktgen.h"

static struct nat_rule rules[4];

/* Keep rules to the backend; full NAT for public port 5300 (and P4B). */
static struct nat *
mk(void)
{
	rules[0] = fx_relay_rule(B4, NAT_P_TCP | NAT_P_UDP, 5300, 5300, 53, R4);
	rules[1] = fx_rule(B4, ALLP, 1, 65535, 0);
	rules[1].match_dst = true;
	rules[1].dst = pg_addr(P4B);
	rules[1].source = NAT_SOURCE_RELAY;
	rules[1].relay_src = pg_addr(R4);
	fx_keep_all(&rules[2]);
	return fx_engine(rules, 4);
}

static bool
csum_same(uint16_t a, uint16_t b)
{
	return a == b || (a == 0 && b == 0xffff) || (a == 0xffff && b == 0);
}

/*
 * The quote inside ICMP error x must be want[0..qlen), byte for byte, except
 * that checksums may differ by the representation of zero (0 vs 0xffff).
 */
static void
assert_quote_is(const struct pg_pkt *x, const struct pg_pkt *want, size_t qlen)
{
	struct pg_info pi, in;
	const uint8_t *q;
	size_t i, ipc = (size_t)-1, l4c = (size_t)-1;

	assert_parse(x, &pi);
	assert_true(pi.icmp_err);
	if (pi.inner_len != qlen)
		fail_msg("quote of %zu bytes, want %zu", pi.inner_len, qlen);
	q = x->data + pi.inner_off;
	assert_int_equal(pg_inner(x->data, &pi, &in), 0);
	if (in.family == 4)
		ipc = 10;
	if (in.proto == PKT_IPPROTO_TCP)
		l4c = in.l4_off + 16;
	else if (in.proto == PKT_IPPROTO_UDP)
		l4c = in.l4_off + 6;
	else if (in.proto == PKT_IPPROTO_ICMP || in.proto == PKT_IPPROTO_ICMPV6)
		l4c = in.l4_off + 2;
	for (i = 0; i < qlen; i++) {
		if ((i == ipc || i == l4c) && i + 1 == qlen)
			break;	/* half a checksum field: nothing to update */
		if (i == ipc || i == l4c) {
			uint16_t a = (uint16_t)(q[i] << 8 | q[i + 1]);
			uint16_t b = (uint16_t)(want->data[i] << 8 | want->data[i + 1]);

			if (!csum_same(a, b))
				fail_msg("quoted %s checksum 0x%04x, want 0x%04x",
				    i == ipc ? "IP" : "L4", a, b);
			i++;
			continue;
		}
		if (q[i] != want->data[i])
			fail_msg("quote differs at byte %zu: 0x%02x, want 0x%02x", i, q[i],
			    want->data[i]);
	}
}

/* Check outer addresses, type, code and MTU of a translated error. */
static void
assert_outer(const struct pg_pkt *x, const char *src, const char *dst, uint8_t type,
    uint8_t code, uint32_t mtu)
{
	struct pg_info pi;
	char a[64], b[64];

	assert_parse(x, &pi);
	if (!pg_addr_eq(&pi.src, src) || !pg_addr_eq(&pi.dst, dst))
		fail_msg("outer %s -> %s, want %s -> %s",
		    pg_addr_str(pi.family, &pi.src, a, sizeof(a)),
		    pg_addr_str(pi.family, &pi.dst, b, sizeof(b)), src, dst);
	assert_int_equal(pi.icmp_type, type);
	assert_int_equal(pi.icmp_code, code);
	assert_int_equal(pi.icmp_mtu, mtu);
}

/* Client opens a flow with o; t gets what the relay sent on. */
static void
open_flow(struct nat *n, struct pg_pkt *o, struct pg_pkt *t, uint64_t now)
{
	pg_copy(t, o);
	assert_forward(n, t, NAT_SIDE_PUBLIC, now);
}

/*
 * An error from the inside (from `from`) about the relay's orig-direction
 * packet: the client gets it from P, quoting exactly its own packet.
 */
static void
orig_dir(struct pg_pkt *o, const char *from, uint8_t type, uint8_t code, uint32_t mtu,
    size_t qlen)
{
	struct nat *n = mk();
	struct pg_pkt t, e;
	struct pg_info pi;
	bool v6 = (o->data[0] >> 4) == 6;
	struct nat_stats st;

	assert_non_null(n);
	open_flow(n, o, &t, T0);
	if (qlen == 0 || qlen > t.len)
		qlen = t.len;
	assert_parse(&t, &pi);
	pg_icmp_error(&e, from, pg_addr_str(pi.family, &pi.src, (char[64]){0}, 64),
	    type, code, mtu, t.data, qlen);
	assert_forward(n, &e, NAT_SIDE_INSIDE, T0 + 5);
	assert_parse(o, &pi);
	assert_outer(&e, v6 ? P6 : (pg_addr_eq(&pi.dst, P4B) ? P4B : P4),
	    v6 ? C6 : C4, type, code, mtu);
	assert_quote_is(&e, o, qlen);
	nat_get_stats(n, &st);
	assert_int_equal(st.icmp_translated, 1);
	fx_free(n);
}

static void
test_unreach_port_udp4(void **state)
{
	struct pg_pkt o;

	(void)state;
	pg_udp(&o, C4, 40000, P4, 53, 40);
	orig_dir(&o, B4, PKT_ICMP_UNREACH, PKT_ICMP_UNREACH_PORT, 0, 0);
}

static void
test_frag_needed_tcp4(void **state)
{
	struct pg_spec sp;
	struct pg_pkt o;

	(void)state;
	pg_spec_init(&sp, PKT_IPPROTO_TCP, C4, 40000, P4, 443);
	sp.tcp_flags = PKT_TCP_SYN;
	sp.mss = 1460;
	sp.df = true;
	pg_build(&sp, &o);
	orig_dir(&o, RTR4, PKT_ICMP_UNREACH, PKT_ICMP_UNREACH_NEEDFRAG, 1380, 0);
}

static void
test_time_exceeded_tcp4_options(void **state)
{
	static const uint8_t ipopts[4] = { 0x94, 0x04, 0, 0 };	/* router alert */
	struct pg_spec sp;
	struct pg_pkt o;

	(void)state;
	pg_spec_init(&sp, PKT_IPPROTO_TCP, C4, 40000, P4, 22);
	sp.tcp_flags = PKT_TCP_SYN;
	sp.ip_opts = ipopts;
	sp.ip_opts_len = sizeof(ipopts);
	sp.ttl = 1;
	pg_build(&sp, &o);
	orig_dir(&o, RTR4, PKT_ICMP_TIMXCEED, 0, 0, 0);
}

/* Quote cut to 8 bytes of TCP (no checksum in it): still translated. */
static void
test_quote_8_bytes_tcp4(void **state)
{
	struct pg_pkt o;

	(void)state;
	pg_tcp(&o, C4, 40000, P4, 443, PKT_TCP_SYN);
	orig_dir(&o, B4, PKT_ICMP_UNREACH, PKT_ICMP_UNREACH_HOST, 0, 28);
}

/* Quote cut to 8 bytes of UDP: the UDP checksum in it is updated. */
static void
test_quote_8_bytes_udp4(void **state)
{
	struct pg_pkt o;

	(void)state;
	pg_udp(&o, C4, 40000, P4, 53, 100);
	orig_dir(&o, B4, PKT_ICMP_UNREACH, PKT_ICMP_UNREACH_PORT, 0, 28);
}

static void
test_packet_too_big6(void **state)
{
	struct pg_pkt o;

	(void)state;
	pg_tcp(&o, C6, 40000, P6, 443, PKT_TCP_ACK);
	orig_dir(&o, RTR6, PKT_ICMP6_PACKET_TOO_BIG, 0, 1280, 0);
}

/* The first fragment of a client's UDP datagram (1000 bytes) in o. */
static void
first_frag(struct pg_pkt *o, const char *c, const char *p, uint16_t dport)
{
	struct pg_pkt full;

	pg_udp(&full, c, 40100, p, dport, 1000);
	memset(o, 0, sizeof(*o));
	o->len = pg_fragment(full.data, full.len, 0, 400, false, 0x4242,
	    o->data, PKT_CAP);
}

/*
 * A router beyond the front (a smaller MTU ahead) answers the first fragment
 * of a relayed datagram: the quote carries the ports, the error reaches the
 * client quoting its own fragment, keep-source and full NAT, IPv4 and IPv6.
 */
static void
test_too_big_first_fragment(void **state)
{
	struct pg_pkt o;

	(void)state;
	first_frag(&o, C4, P4, 53);
	orig_dir(&o, RTR4, PKT_ICMP_UNREACH, PKT_ICMP_UNREACH_NEEDFRAG, 1280, 0);
	first_frag(&o, C4, P4, 5300);
	orig_dir(&o, RTR4, PKT_ICMP_UNREACH, PKT_ICMP_UNREACH_NEEDFRAG, 1280, 0);
	first_frag(&o, C6, P6, 53);
	orig_dir(&o, RTR6, PKT_ICMP6_PACKET_TOO_BIG, 0, 1280, 0);
}

/*
 * An error quoting a later fragment (no ports) names no flow: dropped as a
 * bad quote, never handed to the host as if it were its own.
 */
static void
test_error_about_later_fragment(void **state)
{
	struct nat *n = mk();
	struct pg_pkt full, f, t, e;
	struct pg_info pi;
	enum nat_verdict v;

	(void)state;
	assert_non_null(n);
	pg_udp(&full, C6, 40100, P6, 53, 1000);
	memset(&f, 0, sizeof(f));
	f.len = pg_fragment(full.data, full.len, 0, 400, false, 7, f.data, PKT_CAP);
	open_flow(n, &f, &t, T0);
	f.len = pg_fragment(full.data, full.len, 400, full.len - 440, true, 7,
	    f.data, PKT_CAP);
	pg_copy(&t, &f);
	assert_forward(n, &t, NAT_SIDE_PUBLIC, T0 + 1);
	assert_parse(&t, &pi);
	pg_icmp_error(&e, RTR6, C6, PKT_ICMP6_PACKET_TOO_BIG, 0, 1280, t.data,
	    t.len);
	v = pg_run(n, &e, NAT_SIDE_INSIDE, T0 + 2, NULL);
	assert_int_not_equal(v, NAT_FORWARD);
	assert_int_not_equal(v, NAT_NOT_OURS);
	fx_free(n);
}

static void
test_unreach6_ext_headers(void **state)
{
	struct pg_spec sp;
	struct pg_pkt o;

	(void)state;
	pg_spec_init(&sp, PKT_IPPROTO_UDP, C6, 40000, P6, 53);
	sp.ext[0].type = PKT_IPPROTO_HOPOPTS;
	sp.ext[1].type = PKT_IPPROTO_DSTOPTS;
	sp.n_ext = 2;
	sp.payload_len = 30;
	pg_build(&sp, &o);
	orig_dir(&o, B6, PKT_ICMP6_UNREACH, 4, 0, 0);
}

static void
test_time_exceeded6_truncated(void **state)
{
	struct pg_pkt o;

	(void)state;
	pg_udp(&o, C6, 40000, P6, 53, 100);
	orig_dir(&o, RTR6, PKT_ICMP6_TIME_EXCEEDED, 0, 0, 48);
}

/* An ICMPv6 error handed out with a partial checksum (NEEDS_CSUM). */
static void
test_packet_too_big6_partial(void **state)
{
	struct nat *n = mk();
	struct pg_spec sp;
	struct pg_pkt o, t, e;

	(void)state;
	assert_non_null(n);
	pg_udp(&o, C6, 40000, P6, 53, 100);
	open_flow(n, &o, &t, T0);
	pg_spec_init(&sp, PKT_IPPROTO_ICMPV6, RTR6, 0, C6, 0);
	sp.icmp_type = PKT_ICMP6_PACKET_TOO_BIG;
	sp.icmp_mtu = 1280;
	sp.quote = t.data;
	sp.quote_len = t.len;
	sp.partial = true;
	pg_build(&sp, &e);
	assert_true(e.has_vnet);
	assert_int_equal(e.vnet.csum_offset, 2);
	assert_forward(n, &e, NAT_SIDE_INSIDE, T0 + 1);
	assert_outer(&e, P6, C6, PKT_ICMP6_PACKET_TOO_BIG, 0, 1280);
	if (e.has_vnet && (e.vnet.flags & NAT_VNET_NEEDS_CSUM))
		assert_int_equal(pg_complete_partial(e.data, e.len, &e.vnet), 0);
	e.has_vnet = false;
	assert_pkt_csums(&e);
	assert_quote_is(&e, &o, o.len);
	fx_free(n);
}

/* Full NAT: the error reaches R; the client gets it quoting its own packet. */
static void
test_fullnat_orig_dir(void **state)
{
	struct pg_pkt o;

	(void)state;
	pg_udp(&o, C4, 40000, P4, 5300, 20);
	orig_dir(&o, B4, PKT_ICMP_UNREACH, PKT_ICMP_UNREACH_PORT, 0, 0);
	pg_tcp(&o, C4, 40000, P4, 5300, PKT_TCP_SYN);
	orig_dir(&o, RTR4, PKT_ICMP_UNREACH, PKT_ICMP_UNREACH_NEEDFRAG, 1400, 28);
}

/* An error about a ping: the quoted echo (and its identifier) restored. */
static void
test_quoted_echo(void **state)
{
	struct pg_pkt o;

	(void)state;
	pg_echo(&o, C4, P4, 0x77, false);
	orig_dir(&o, RTR4, PKT_ICMP_TIMXCEED, 0, 0, 0);
	pg_echo(&o, C4, P4B, 0x77, false);		/* full NAT: id rewritten */
	orig_dir(&o, RTR4, PKT_ICMP_TIMXCEED, 0, 0, 0);
	pg_echo(&o, C6, P6, 0x78, false);
	orig_dir(&o, RTR6, PKT_ICMP6_TIME_EXCEEDED, 0, 0, 0);
}

/*
 * From the public side about a reply-direction packet: the error goes to the
 * backend, quoting exactly what the backend sent.
 */
static void
reply_dir(const char *c, const char *p, uint16_t pport, const char *b, uint16_t bport,
    const char *from, const char *want_src, uint8_t type, uint8_t code, size_t qlen)
{
	struct nat *n = mk();
	struct pg_pkt o, t, r, e;
	struct pg_info pi;

	assert_non_null(n);
	pg_udp(&o, c, 40000, p, pport, 20);
	open_flow(n, &o, &t, T0);
	assert_parse(&t, &pi);
	/* the backend answers the translated source */
	pg_udp(&r, b, bport, pg_addr_str(pi.family, &pi.src, (char[64]){0}, 64), pi.sport, 50);
	pg_copy(&o, &r);
	assert_forward(n, &r, NAT_SIDE_INSIDE, T0 + 1);
	if (qlen == 0)
		qlen = r.len;
	pg_icmp_error(&e, from, p, type, code, 0, r.data, qlen);
	assert_forward(n, &e, NAT_SIDE_PUBLIC, T0 + 2);
	assert_outer(&e, want_src, b, type, code, 0);
	assert_quote_is(&e, &o, qlen);
	fx_free(n);
}

static void
test_reply_dir_keep4(void **state)
{
	(void)state;
	reply_dir(C4, P4, 53, B4, 53, C4, C4, PKT_ICMP_UNREACH, PKT_ICMP_UNREACH_PORT, 0);
}

static void
test_reply_dir_keep6(void **state)
{
	(void)state;
	reply_dir(C6, P6, 53, B6, 53, C6, C6, PKT_ICMP6_UNREACH, 4, 0);
}

static void
test_reply_dir_fullnat(void **state)
{
	(void)state;
	reply_dir(C4, P4, 5300, B4, 53, C4, R4, PKT_ICMP_UNREACH, PKT_ICMP_UNREACH_PORT, 28);
}

/* A router on the client's path: keep mode leaves the outer source alone. */
static void
test_reply_dir_router(void **state)
{
	(void)state;
	reply_dir(C4, P4, 53, B4, 53, CRTR4, CRTR4, PKT_ICMP_TIMXCEED, 0, 0);
}

/*
 * An error quoting a flow we do not have, from either side, is about the
 * host's own (or routed) traffic: NAT_NOT_OURS, untouched, for the host.
 */
static void
test_unknown_flow(void **state)
{
	struct nat *n = mk();
	struct pg_pkt q, e, copy;
	struct nat_stats st;

	(void)state;
	assert_non_null(n);
	pg_udp(&q, C4, 40000, P4, 53, 20);
	assert_forward(n, &q, NAT_SIDE_PUBLIC, T0);
	/* quoted: another client port */
	pg_udp(&q, C4, 40001, B4, 53, 20);
	pg_icmp_error(&e, B4, C4, PKT_ICMP_UNREACH, PKT_ICMP_UNREACH_PORT, 0, q.data, q.len);
	copy = e;
	assert_int_equal(pg_run(n, &e, NAT_SIDE_INSIDE, T0, NULL), NAT_NOT_OURS);
	assert_memory_equal(e.data, copy.data, copy.len);
	/* from a router on the tunnel path, about the host's own traffic */
	pg_udp(&q, B4, 40002, "10.22.22.50", 53, 20);
	pg_icmp_error(&e, RTR4, B4, PKT_ICMP_UNREACH, PKT_ICMP_UNREACH_HOST, 0, q.data, q.len);
	assert_int_equal(pg_run(n, &e, NAT_SIDE_INSIDE, T0, NULL), NAT_NOT_OURS);
	/* quoted: the reverse of nothing we sent, from the public side */
	pg_udp(&q, P4, 80, C4, 40000, 20);
	pg_icmp_error(&e, C4, P4, PKT_ICMP_UNREACH, PKT_ICMP_UNREACH_PORT, 0, q.data, q.len);
	assert_int_equal(pg_run(n, &e, NAT_SIDE_PUBLIC, T0, NULL), NAT_NOT_OURS);
	/* v6 */
	pg_tcp(&q, C6, 1, B6, 2, PKT_TCP_SYN);
	pg_icmp_error(&e, B6, C6, PKT_ICMP6_PACKET_TOO_BIG, 0, 1280, q.data, q.len);
	assert_int_equal(pg_run(n, &e, NAT_SIDE_INSIDE, T0, NULL), NAT_NOT_OURS);
	nat_get_stats(n, &st);
	assert_int_equal(st.drops[NAT_DROP_ICMP_NO_FLOW], 0);
	assert_int_equal(st.not_ours, 4);
	assert_int_equal(st.icmp_translated, 0);
	assert_int_equal(st.flows_created, 1);
	fx_free(n);
}

/*
 * ICMP echo from the inside with no flow is the host's own (its ping to a
 * target, a target's ping to it) or routed: NAT_NOT_OURS. A reply to a
 * relay address is never taken for a client's (no reply-side pickup),
 * while the same reply to a client's address is picked up.
 */
static void
test_inside_echo_not_ours(void **state)
{
	struct nat_rule r[2];
	struct pg_pkt p, copy;
	enum nat_drop_reason why;
	struct nat *n;

	(void)state;
	r[0] = fx_relay_rule(B4, NAT_P_UDP, 5300, 5300, 53, R4);
	r[1] = fx_rule(B4, ALLP, 1, 65535, 0);
	r[1].pub = pg_addr(P4);
	n = fx_engine(r, 2);
	assert_non_null(n);
	pg_echo(&p, B4, R4, 777, false);
	copy = p;
	assert_int_equal(pg_run(n, &p, NAT_SIDE_INSIDE, T0, NULL), NAT_NOT_OURS);
	assert_memory_equal(p.data, copy.data, copy.len);
	pg_echo(&p, B4, R4, 778, true);
	assert_int_equal(pg_run(n, &p, NAT_SIDE_INSIDE, T0, NULL), NAT_NOT_OURS);
	/* a target's ping toward the internet: routed or dropped by the front */
	pg_echo(&p, B4, "192.0.2.200", 779, false);
	assert_int_equal(pg_run(n, &p, NAT_SIDE_INSIDE, T0, NULL), NAT_NOT_OURS);
	/* TCP and UDP to a relay address with no flow stay dropped */
	pg_udp(&p, B4, 53, R4, 45000, 20);
	assert_drop(pg_run(n, &p, NAT_SIDE_INSIDE, T0, &why), why, NAT_DROP_NO_FLOW);
	assert_int_equal(pg_flow_count(n, T0), 0);
	/* control: the same echo reply to a client is picked up */
	pg_echo(&p, B4, C4, 778, true);
	assert_forward(n, &p, NAT_SIDE_INSIDE, T0);
	assert_int_equal(pg_flow_count(n, T0), 1);
	fx_free(n);
}

/*
 * On the LAN side, a packet to the relay's hairpin address is the host's
 * (a LAN host pinging the gateway), never a hairpin client's: the backend
 * rule does not take it; the same ping to the public address is relayed.
 */
static void
test_lan_hairpin_addr_not_ours(void **state)
{
	struct nat_rule r = fx_rule(B4, ALLP, 1, 65535, 0);
	struct nat_settings s;
	struct pg_pkt p;
	struct nat *n;

	(void)state;
	fx_settings(&s, &r, 1);
	s.hairpin4 = true;
	s.hairpin_src4 = pg_addr(H4);
	n = fx_nat(&s);
	assert_non_null(n);
	pg_echo(&p, LANC4, H4, 900, false);
	assert_int_equal(pg_run(n, &p, NAT_SIDE_LAN, T0, NULL), NAT_NOT_OURS);
	pg_udp(&p, LANC4, 40000, H4, 53, 20);
	assert_int_equal(pg_run(n, &p, NAT_SIDE_LAN, T0, NULL), NAT_NOT_OURS);
	assert_int_equal(pg_flow_count(n, T0), 0);
	pg_echo(&p, LANC4, P4, 900, false);
	assert_forward(n, &p, NAT_SIDE_LAN, T0);
	assert_int_equal(pg_flow_count(n, T0), 1);
	fx_free(n);
}

/* Errors neither refresh nor remove a flow (idle time unchanged). */
static void
test_error_never_touches_flow(void **state)
{
	struct nat *n = mk();
	struct pg_pkt o, t, e;
	struct nat_flow_info fi;
	struct nat_stats st;
	int i;

	(void)state;
	assert_non_null(n);
	pg_udp(&o, C4, 40000, P4, 53, 20);
	open_flow(n, &o, &t, T0);
	for (i = 1; i <= 3; i++) {
		pg_icmp_error(&e, B4, C4, PKT_ICMP_UNREACH, PKT_ICMP_UNREACH_PORT, 0,
		    t.data, t.len);
		assert_forward(n, &e, NAT_SIDE_INSIDE, T0 + SEC(50) * (uint64_t)(i + 1));
	}
	assert_true(pg_find_flow(n, T0 + SEC(250), PKT_IPPROTO_UDP, C4, 40000, &fi));
	assert_int_equal(fi.idle, 250);
	assert_int_equal(fi.packets[0], 1);
	assert_int_equal(fi.packets[1], 0);
	assert_false(fi.assured);
	pg_sweep_all(n, T0 + SEC(299));
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_active, 1);
	pg_sweep_all(n, T0 + SEC(301));
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_active, 0);

	/* a TCP flow keeps its state through an RST-like error storm */
	pg_tcp(&o, C4, 40001, P4, 80, PKT_TCP_SYN);
	open_flow(n, &o, &t, T0 + SEC(400));
	pg_tcp(&e, B4, 80, C4, 40001, PKT_TCP_SYN | PKT_TCP_ACK);
	assert_forward(n, &e, NAT_SIDE_INSIDE, T0 + SEC(400));
	pg_icmp_error(&e, B4, C4, PKT_ICMP_UNREACH, PKT_ICMP_UNREACH_PORT, 0, t.data, t.len);
	assert_forward(n, &e, NAT_SIDE_INSIDE, T0 + SEC(401));
	assert_true(pg_find_flow(n, T0 + SEC(401), PKT_IPPROTO_TCP, C4, 40001, &fi));
	assert_string_equal(fi.state, nat_tcp_state_name(NAT_TCP_SYN_RECV));
	assert_int_equal(fi.idle, 1);
	fx_free(n);
}

/* Quote lengths: below IP header + 4 dropped; from + 8 on translated. */
static void
test_quote_lengths(void **state)
{
	struct nat *n = mk();
	struct pg_pkt o, t, e;
	enum nat_drop_reason why;
	enum nat_verdict v;
	size_t q;

	(void)state;
	assert_non_null(n);
	pg_tcp(&o, C4, 40000, P4, 443, PKT_TCP_ACK);
	open_flow(n, &o, &t, T0);
	for (q = 0; q <= t.len; q++) {
		pg_icmp_error(&e, B4, C4, PKT_ICMP_UNREACH, PKT_ICMP_UNREACH_HOST, 0,
		    t.data, q);
		v = pg_run(n, &e, NAT_SIDE_INSIDE, T0, &why);
		if (q >= 28) {
			assert_verdict(v, NAT_FORWARD, why);
			assert_pkt_csums(&e);
			assert_quote_is(&e, &o, q);
		} else if (q < 24) {
			if (v != NAT_DROP || (why != NAT_DROP_ICMP_BAD &&
			    why != NAT_DROP_TRUNCATED))
				fail_msg("quote of %zu bytes: verdict %d, want drop icmp_bad",
				    q, v);
		}
	}
	fx_free(n);
}

/* A redirect quoting a flow is not one of the relayed error types. */
static void
test_redirect_not_relayed(void **state)
{
	struct nat *n = mk();
	struct pg_pkt o, t, e;
	enum nat_drop_reason why;
	enum nat_verdict v;

	(void)state;
	assert_non_null(n);
	pg_udp(&o, C4, 40000, P4, 53, 20);
	open_flow(n, &o, &t, T0);
	/* redirect (type 5) quoting the flow: not a relayed type */
	pg_icmp_error(&e, B4, C4, 5, 0, 0, t.data, t.len);
	v = pg_run(n, &e, NAT_SIDE_INSIDE, T0, &why);
	assert_int_not_equal(v, NAT_FORWARD);
	fx_free(n);
}

/* Spoil the checksum of ICMP message e (its field, not the quote). */
static void
spoil_csum(struct pg_pkt *e)
{
	struct pg_info pi;

	assert_parse(e, &pi);
	e->data[pi.l4_off + 2] ^= 0x5a;
	assert_false(pg_check_l4_csum(e->data, e->len));
}

/*
 * Error e (from side) with a spoiled checksum is dropped untouched as
 * bad_checksum and counted; the same error whole is translated, every
 * checksum right and the quote as want (qlen bytes).
 */
static void
bad_csum_case(struct nat *n, const struct pg_pkt *e, enum nat_side side,
    const char *src, const char *dst, const struct pg_pkt *want, size_t qlen)
{
	struct pg_pkt x, copy;
	struct pg_info pi;
	struct nat_stats st0, st;
	enum nat_drop_reason why;

	nat_get_stats(n, &st0);
	pg_copy(&x, e);
	spoil_csum(&x);
	pg_copy(&copy, &x);
	assert_drop(pg_run(n, &x, side, T0 + 5, &why), why, NAT_DROP_BAD_CSUM);
	assert_int_equal(x.len, copy.len);
	assert_memory_equal(x.data, copy.data, copy.len);
	nat_get_stats(n, &st);
	assert_int_equal(st.drops[NAT_DROP_BAD_CSUM],
	    st0.drops[NAT_DROP_BAD_CSUM] + 1);
	assert_int_equal(st.icmp_translated, st0.icmp_translated);

	pg_copy(&x, e);
	assert_forward(n, &x, side, T0 + 6);
	assert_parse(&x, &pi);
	assert_outer(&x, src, dst, pi.icmp_type, pi.icmp_code, pi.icmp_mtu);
	assert_quote_is(&x, want, qlen);
	nat_get_stats(n, &st);
	assert_int_equal(st.icmp_translated, st0.icmp_translated + 1);
	assert_int_equal(st.drops[NAT_DROP_BAD_CSUM],
	    st0.drops[NAT_DROP_BAD_CSUM] + 1);
}

/*
 * RFC 5508 REQ-3: an error with a bad checksum is dropped, both ways, IPv4
 * and IPv6; with its checksum right the same error passes.
 */
static void
bad_csum_family(bool v6)
{
	const char *c = v6 ? C6 : C4, *p = v6 ? P6 : P4, *b = v6 ? B6 : B4;
	const char *rtr = v6 ? RTR6 : RTR4;
	struct nat *n = mk();
	struct pg_pkt o, t, r, e, q;

	assert_non_null(n);
	pg_udp(&o, c, 40000, p, 53, 100);
	open_flow(n, &o, &t, T0);
	/* towards the client: a router on the tunnel path, quote cut short */
	if (v6)
		pg_icmp_error(&e, rtr, c, PKT_ICMP6_PACKET_TOO_BIG, 0, 1280,
		    t.data, 60);
	else
		pg_icmp_error(&e, rtr, c, PKT_ICMP_UNREACH,
		    PKT_ICMP_UNREACH_NEEDFRAG, 1280, t.data, 36);
	bad_csum_case(n, &e, NAT_SIDE_INSIDE, p, c, &o, v6 ? 60 : 36);
	/* towards the backend: the client refuses the backend's reply */
	pg_udp(&r, b, 53, c, 40000, 50);
	pg_copy(&o, &r);
	assert_forward(n, &r, NAT_SIDE_INSIDE, T0 + 1);
	if (v6)
		pg_icmp_error(&e, c, p, PKT_ICMP6_UNREACH, 4, 0, r.data, r.len);
	else
		pg_icmp_error(&e, c, p, PKT_ICMP_UNREACH,
		    PKT_ICMP_UNREACH_PORT, 0, r.data, r.len);
	bad_csum_case(n, &e, NAT_SIDE_PUBLIC, c, b, &o, o.len);
	/* about no flow of ours: still the host's, whose stack judges it */
	pg_udp(&q, c, 40001, b, 53, 20);
	pg_icmp_error(&e, b, c, v6 ? PKT_ICMP6_UNREACH : PKT_ICMP_UNREACH,
	    v6 ? 4 : PKT_ICMP_UNREACH_PORT, 0, q.data, q.len);
	spoil_csum(&e);
	pg_copy(&q, &e);
	assert_int_equal(pg_run(n, &e, NAT_SIDE_INSIDE, T0 + 7, NULL),
	    NAT_NOT_OURS);
	assert_memory_equal(e.data, q.data, q.len);
	fx_free(n);
}

static void
test_bad_csum4(void **state)
{
	(void)state;
	bad_csum_family(false);
}

static void
test_bad_csum6(void **state)
{
	(void)state;
	bad_csum_family(true);
}

/*
 * A bad sum the kernel vouched for (DATA_VALID) is taken as it is; the
 * quoted packet's own checksum is never judged, only the outer one.
 */
static void
test_csum_data_valid_and_quote(void **state)
{
	struct nat *n = mk();
	struct pg_pkt o, t, e;
	struct pg_info pi;
	struct nat_stats st;
	int v6;

	(void)state;
	assert_non_null(n);
	for (v6 = 0; v6 < 2; v6++) {
		pg_udp(&o, v6 ? C6 : C4, 40000, v6 ? P6 : P4, 53, 100);
		open_flow(n, &o, &t, T0);
		pg_icmp_error(&e, v6 ? B6 : B4, v6 ? C6 : C4,
		    v6 ? PKT_ICMP6_UNREACH : PKT_ICMP_UNREACH,
		    v6 ? 4 : PKT_ICMP_UNREACH_PORT, 0, t.data, t.len);
		spoil_csum(&e);
		e.has_vnet = true;
		memset(&e.vnet, 0, sizeof(e.vnet));
		e.vnet.flags = NAT_VNET_DATA_VALID;
		assert_verdict(pg_run(n, &e, NAT_SIDE_INSIDE, T0 + 1, NULL),
		    NAT_FORWARD, NAT_DROP_MAX);
		assert_outer(&e, v6 ? P6 : P4, v6 ? C6 : C4,
		    v6 ? PKT_ICMP6_UNREACH : PKT_ICMP_UNREACH,
		    v6 ? 4 : PKT_ICMP_UNREACH_PORT, 0);

		/* a quote with a wrong UDP checksum, the outer sum right */
		assert_parse(&t, &pi);
		t.data[pi.l4_off + 6] ^= 0x33;
		pg_icmp_error(&e, v6 ? B6 : B4, v6 ? C6 : C4,
		    v6 ? PKT_ICMP6_UNREACH : PKT_ICMP_UNREACH,
		    v6 ? 4 : PKT_ICMP_UNREACH_PORT, 0, t.data, t.len);
		assert_verdict(pg_run(n, &e, NAT_SIDE_INSIDE, T0 + 2, NULL),
		    NAT_FORWARD, NAT_DROP_MAX);
		assert_true(pg_check_ip_csum(e.data, e.len));
		assert_true(pg_check_l4_csum(e.data, e.len));
	}
	nat_get_stats(n, &st);
	assert_int_equal(st.drops[NAT_DROP_BAD_CSUM], 0);
	assert_int_equal(st.icmp_translated, 4);
	fx_free(n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_unreach_port_udp4),
		FX_TEST(test_frag_needed_tcp4),
		FX_TEST(test_time_exceeded_tcp4_options),
		FX_TEST(test_quote_8_bytes_tcp4),
		FX_TEST(test_quote_8_bytes_udp4),
		FX_TEST(test_packet_too_big6),
		FX_TEST(test_packet_too_big6_partial),
		FX_TEST(test_unreach6_ext_headers),
		FX_TEST(test_too_big_first_fragment),
		FX_TEST(test_error_about_later_fragment),
		FX_TEST(test_time_exceeded6_truncated),
		FX_TEST(test_fullnat_orig_dir),
		FX_TEST(test_quoted_echo),
		FX_TEST(test_reply_dir_keep4),
		FX_TEST(test_reply_dir_keep6),
		FX_TEST(test_reply_dir_fullnat),
		FX_TEST(test_reply_dir_router),
		FX_TEST(test_unknown_flow),
		FX_TEST(test_inside_echo_not_ours),
		FX_TEST(test_lan_hairpin_addr_not_ours),
		FX_TEST(test_error_never_touches_flow),
		FX_TEST(test_quote_lengths),
		FX_TEST(test_redirect_not_relayed),
		FX_TEST(test_bad_csum4),
		FX_TEST(test_bad_csum6),
		FX_TEST(test_csum_data_valid_and_quote),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
