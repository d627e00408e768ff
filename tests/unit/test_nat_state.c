/*
 * test_nat_state.c - the state region (nat/state.c): full NAT and hairpin
 * flows, TCP, UDP and ICMP echo, IPv4 and IPv6, written by engine A into its
 * region, the region copied as a crash leaves it, taken over by engine B
 * (another hash key and port seed); then every packet of the flow translates
 * in B byte for byte as in A (same relay port, checksums recomputed in full),
 * the relay port is claimed again, state changes carry over, deleted flows do
 * not come back, and damaged, truncated, foreign or mismatched regions and
 * records are refused and counted.
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

#define MAXF 1024
#define LANS6 "fd00:1::32"
#define LANC6 "fd00:1::50"
#define H6 "fd00:1::1"
#define R4B "192.0.2.2"

/* Regions: A's, the crash copy, B's, C's (8-byte aligned, zeroed per test). */
#define REGION_WORDS (256 * 1024 / 8)
static uint64_t reg[4][REGION_WORDS];
static size_t reg_len;

static struct nat_rule rules[6];

/* How an engine of a test is made. */
struct mkopt {
	uint64_t seed;			/* hash key and port seed */
	uint32_t max_flows;		/* 0: MAXF */
	uint16_t port_lo, port_hi;	/* 0: default */
	const char *relay4;		/* full NAT source; NULL: R4 */
	bool no_relay_rules;		/* without rules 1 and 2 */
	uint32_t id_shift;		/* added to every rule id (a config
					 * edit moved them); keys stay */
};

/*
 * Rules: 1, 2 full NAT to B4/B6 ports 80-81; 3, 4 keep-mode forwards
 * P:8080 -> LAN server :80 (hairpinned from the LAN); 5 a keep-mode forward
 * to B4:90 with a public address (rebuilt by the rules); hairpin both families.
 */
static struct nat *
mk(const struct mkopt *o)
{
	struct nat_settings s;
	size_t n = 0, i;

	if (!o->no_relay_rules) {
		rules[n] = fx_relay_rule(B4, ALLP, 80, 81, 0,
		    o->relay4 ? o->relay4 : R4);
		rules[n++].id = 1;
		rules[n] = fx_relay_rule(B6, ALLP, 80, 81, 0, R6);
		rules[n++].id = 2;
	}
	rules[n] = fx_rule(LANS4, NAT_P_TCP | NAT_P_UDP, 8080, 8080, 80);
	rules[n++].id = 3;
	rules[n] = fx_rule(LANS6, NAT_P_TCP | NAT_P_UDP, 8080, 8080, 80);
	rules[n++].id = 4;
	rules[n] = fx_rule(B4, NAT_P_TCP | NAT_P_UDP, 90, 90, 0);
	rules[n].pub = pg_addr(P4);
	rules[n++].id = 5;
	for (i = 0; i < n; i++) {
		rules[i].key = 0xc0de0000U | rules[i].id;
		rules[i].id += o->id_shift;
	}
	fx_settings(&s, rules, n);
	s.hash_key[0] ^= o->seed;
	s.port_seed ^= o->seed * 7919;
	s.max_flows = o->max_flows ? o->max_flows : MAXF;
	s.nat_port_lo = o->port_lo;
	s.nat_port_hi = o->port_hi;
	s.hairpin4 = s.hairpin6 = true;
	s.hairpin_src4 = pg_addr(H4);
	s.hairpin_src6 = pg_addr(H6);
	return fx_nat(&s);
}

/* An engine with default options but this seed. */
static struct nat *
mk_seed(uint64_t seed)
{
	struct mkopt o;

	memset(&o, 0, sizeof(o));
	o.seed = seed;
	return mk(&o);
}

/* Attach engine n to region i (zeroed first). */
static void
attach(struct nat *n, int i)
{
	char err[ERRLEN] = "";

	reg_len = nat_state_size(MAXF);
	assert_true(reg_len > 0 && reg_len <= sizeof(reg[i]));
	memset(reg[i], 0, reg_len);
	if (nat_state_attach(n, reg[i], reg_len, err) != 0)
		fail_msg("attach: %s", err);
}

/* Copy region from into region to, as a SIGKILL leaves it. */
static void
crash_copy(int from, int to)
{
	memcpy(reg[to], reg[from], reg_len);
}

/* Adopt region i into n; the header must be accepted. */
static struct nat_state_report
adopt(struct nat *n, int i, uint64_t now)
{
	struct nat_state_report rep;
	char err[ERRLEN] = "";

	if (nat_state_adopt(n, reg[i], reg_len, now, &rep, err) != 0)
		fail_msg("adopt refused: %s", err);
	return rep;
}

/* Flows the engine holds now. */
static uint64_t
flows_of(const struct nat *n)
{
	struct nat_stats st;

	nat_get_stats(n, &st);
	return st.flows_active;
}

/* Adopt must refuse region i (len bytes) with a message containing want. */
static void
adopt_refused(struct nat *n, int i, size_t len, const char *want)
{
	struct nat_state_report rep;
	char err[ERRLEN] = "";

	assert_int_equal(nat_state_adopt(n, reg[i], len, T0, &rep, err), -1);
	if (strstr(err, want) == NULL)
		fail_msg("refused with \"%s\", want \"%s\"", err, want);
	assert_int_equal(rep.adopted, 0);
	assert_int_equal(flows_of(n), 0);
}

/* One flow's endpoints in a test. */
struct ends {
	uint8_t proto;
	const char *c, *pub, *tgt, *relay;
	uint16_t cp, pport, tport;
	enum nat_side cside, rside;
};

/* The endpoints of a full NAT (hairpin false) or hairpin flow. */
static struct ends
ends(uint8_t proto, bool v6, bool hairpin)
{
	struct ends e;

	memset(&e, 0, sizeof(e));
	e.proto = proto;
	e.cp = 40000;
	e.pub = v6 ? P6 : P4;
	if (hairpin) {
		e.c = v6 ? LANC6 : LANC4;
		e.tgt = v6 ? LANS6 : LANS4;
		e.relay = v6 ? H6 : H4;
		e.pport = 8080;
		e.tport = 80;
		e.cside = e.rside = NAT_SIDE_LAN;
	} else {
		e.c = v6 ? C6 : C4;
		e.tgt = v6 ? B6 : B4;
		e.relay = v6 ? R6 : R4;
		e.pport = e.tport = 80;
		e.cside = NAT_SIDE_PUBLIC;
		e.rside = NAT_SIDE_INSIDE;
	}
	if (proto != PKT_IPPROTO_TCP && proto != PKT_IPPROTO_UDP) {
		e.pport = e.tport = 0;
		e.proto = v6 ? PKT_IPPROTO_ICMPV6 : PKT_IPPROTO_ICMP;
	}
	return e;
}

/* A client packet (reply false) or a target's packet to relay port rp. */
static void
mkpkt(struct pg_pkt *p, const struct ends *e, bool reply, uint16_t rp,
    uint8_t flags)
{
	if (e->proto == PKT_IPPROTO_TCP)
		reply ? pg_tcp(p, e->tgt, e->tport, e->relay, rp, flags) :
		    pg_tcp(p, e->c, e->cp, e->pub, e->pport, flags);
	else if (e->proto == PKT_IPPROTO_UDP)
		reply ? pg_udp(p, e->tgt, e->tport, e->relay, rp, 64) :
		    pg_udp(p, e->c, e->cp, e->pub, e->pport, 64);
	else
		reply ? pg_echo(p, e->tgt, e->relay, rp, true) :
		    pg_echo(p, e->c, e->pub, e->cp, false);
}

/* Run a client packet through n; returns the relay port it left with. */
static uint16_t
client(struct nat *n, const struct ends *e, uint8_t flags, uint64_t now)
{
	struct pg_pkt x;
	struct pg_info pi;

	mkpkt(&x, e, false, 0, flags);
	assert_forward(n, &x, e->cside, now);
	assert_parse(&x, &pi);
	assert_true(pg_addr_eq(&pi.src, e->relay));
	assert_true(pg_addr_eq(&pi.dst, e->tgt));
	assert_int_equal(pi.dport, e->tport);
	return pi.sport;
}

/* Run the target's packet to relay port rp through n; it reaches the client. */
static void
reply(struct nat *n, const struct ends *e, uint16_t rp, uint8_t flags,
    uint64_t now)
{
	struct pg_pkt x;
	struct pg_info pi;

	mkpkt(&x, e, true, rp, flags);
	assert_forward(n, &x, e->rside, now);
	assert_parse(&x, &pi);
	if (e->proto == PKT_IPPROTO_TCP || e->proto == PKT_IPPROTO_UDP)
		assert_pkt_tuple(&pi, e->pub, e->pport, e->c, e->cp);
	else	/* an echo reply: the client's identifier back */
		assert_pkt_tuple(&pi, e->pub, e->cp, e->c, 0);
}

/* Open and confirm a flow (handshake, or a two-way exchange); its relay port. */
static uint16_t
open_flow(struct nat *n, const struct ends *e, uint64_t now)
{
	uint16_t rp;

	if (e->proto == PKT_IPPROTO_TCP) {
		rp = client(n, e, PKT_TCP_SYN, now);
		reply(n, e, rp, PKT_TCP_SYN | PKT_TCP_ACK, now);
		assert_int_equal(client(n, e, PKT_TCP_ACK, now), rp);
		return rp;
	}
	rp = client(n, e, 0, now);
	reply(n, e, rp, 0, now);
	assert_int_equal(client(n, e, 0, now), rp);
	reply(n, e, rp, 0, now);
	return rp;
}

/*
 * The same packet through engines a and b must be forwarded alike, byte for
 * byte, every checksum valid.
 */
static void
same_in_both(struct nat *a, struct nat *b, const struct ends *e, bool rep,
    uint16_t rp, uint8_t flags, uint64_t now)
{
	struct pg_pkt x, y;

	mkpkt(&x, e, rep, rp, flags);
	pg_copy(&y, &x);
	assert_forward(a, &x, rep ? e->rside : e->cside, now);
	assert_forward(b, &y, rep ? e->rside : e->cside, now);
	assert_int_equal(x.len, y.len);
	if (memcmp(x.data, y.data, x.len) != 0)
		fail_msg("engine B translates the %s packet unlike engine A",
		    rep ? "target's" : "client's");
}

/*
 * The whole round: A opens the flow, crashes (its region copied), B adopts
 * the copy, and both translate the flow's next packets alike; B's own region
 * then carries the flow on to C.
 */
static void
survive(uint8_t proto, bool v6, bool hairpin)
{
	struct ends e = ends(proto, v6, hairpin);
	struct nat *a = mk_seed(0), *b = mk_seed(0x1234567), *c;
	struct nat_state_report rep;
	struct nat_flow_info fa, fb;
	uint16_t rp;

	assert_non_null(a);
	assert_non_null(b);
	attach(a, 0);
	rp = open_flow(a, &e, T0);
	crash_copy(0, 1);
	attach(b, 2);
	rep = adopt(b, 1, T0 + SEC(5));
	assert_int_equal(rep.records, 1);
	assert_int_equal(rep.adopted, 1);
	assert_int_equal(rep.dropped_total, 0);
	assert_true(pg_find_flow(a, T0 + SEC(5), e.proto, e.c, e.cp, &fa));
	assert_true(pg_find_flow(b, T0 + SEC(5), e.proto, e.c, e.cp, &fb));
	assert_true(pg_addr_eq(&fb.reply_dst, e.relay));
	assert_int_equal(fb.reply_sport, fa.reply_sport);
	assert_int_equal(fb.reply_dport, fa.reply_dport);
	assert_string_equal(fb.state, fa.state);
	assert_int_equal(fb.assured, fa.assured);
	assert_int_equal(fb.rule_id, fa.rule_id);
	assert_int_equal(fb.age, 5);	/* created kept; idle from adoption */
	assert_int_equal(fb.idle, 0);

	/* the target's packets first: a download resumes */
	same_in_both(a, b, &e, true, rp, PKT_TCP_ACK, T0 + SEC(6));
	same_in_both(a, b, &e, false, 0, PKT_TCP_ACK, T0 + SEC(6));
	same_in_both(a, b, &e, true, rp, PKT_TCP_ACK | PKT_TCP_PSH, T0 + SEC(7));

	/* B wrote the adopted flow into its own region: it survives again */
	crash_copy(2, 1);
	c = mk_seed(0x7654321);
	assert_non_null(c);
	rep = adopt(c, 1, T0 + SEC(8));
	assert_int_equal(rep.adopted, 1);
	same_in_both(a, c, &e, true, rp, PKT_TCP_ACK, T0 + SEC(8));
	fx_free(a);
	fx_free(b);
	fx_free(c);
}

static void test_fullnat_tcp4(void **s) { (void)s; survive(PKT_IPPROTO_TCP, false, false); }
static void test_fullnat_tcp6(void **s) { (void)s; survive(PKT_IPPROTO_TCP, true, false); }
static void test_fullnat_udp4(void **s) { (void)s; survive(PKT_IPPROTO_UDP, false, false); }
static void test_fullnat_udp6(void **s) { (void)s; survive(PKT_IPPROTO_UDP, true, false); }
static void test_fullnat_echo4(void **s) { (void)s; survive(PKT_IPPROTO_ICMP, false, false); }
static void test_fullnat_echo6(void **s) { (void)s; survive(PKT_IPPROTO_ICMPV6, true, false); }
static void test_hairpin_tcp4(void **s) { (void)s; survive(PKT_IPPROTO_TCP, false, true); }
static void test_hairpin_tcp6(void **s) { (void)s; survive(PKT_IPPROTO_TCP, true, true); }
static void test_hairpin_udp4(void **s) { (void)s; survive(PKT_IPPROTO_UDP, false, true); }
static void test_hairpin_udp6(void **s) { (void)s; survive(PKT_IPPROTO_UDP, true, true); }

/*
 * The relay port is claimed again: with nat_ports of two ports, A's flow
 * holds one; in B a new client gets the other, and a third finds none.
 * The client's shared mapping is kept: its flow to another port reuses it.
 */
static void
test_port_claimed(void **state)
{
	struct mkopt o = { .port_lo = 61000, .port_hi = 61001 };
	struct ends e = ends(PKT_IPPROTO_TCP, false, false), e2 = e, e3 = e;
	struct nat *a, *b;
	struct nat_state_report rep;
	struct nat_stats st;
	struct pg_pkt x;
	enum nat_drop_reason why;
	uint16_t rp;

	(void)state;
	a = mk(&o);
	o.seed = 99;
	b = mk(&o);
	assert_non_null(a);
	assert_non_null(b);
	attach(a, 0);
	rp = open_flow(a, &e, T0);
	crash_copy(0, 1);
	rep = adopt(b, 1, T0);
	assert_int_equal(rep.adopted, 1);
	e2.cp = 40002;
	assert_int_equal(client(b, &e2, PKT_TCP_SYN, T0), rp == 61000 ? 61001 : 61000);
	e3.cp = 40004;
	mkpkt(&x, &e3, false, 0, PKT_TCP_SYN);
	assert_drop(pg_run(b, &x, NAT_SIDE_PUBLIC, T0, &why), why, NAT_DROP_NO_PORT);
	/* endpoint-independent: the adopted client's next flow, same relay port */
	e.pport = e.tport = 81;
	assert_int_equal(client(b, &e, PKT_TCP_SYN, T0), rp);
	nat_get_stats(b, &st);
	assert_int_equal(st.mappings, 2);
	fx_free(a);
	fx_free(b);
}

/* Two flows of one client endpoint share a mapping; both come back, on it. */
static void
test_shared_mapping(void **state)
{
	struct ends e = ends(PKT_IPPROTO_UDP, false, false), e81 = e;
	struct nat *a = mk_seed(0), *b = mk_seed(5);
	struct nat_state_report rep;
	struct nat_stats st;
	uint16_t rp;

	(void)state;
	attach(a, 0);
	rp = open_flow(a, &e, T0);
	e81.pport = e81.tport = 81;
	assert_int_equal(open_flow(a, &e81, T0), rp);
	crash_copy(0, 1);
	rep = adopt(b, 1, T0);
	assert_int_equal(rep.adopted, 2);
	nat_get_stats(b, &st);
	assert_int_equal(st.mappings, 1);
	same_in_both(a, b, &e, true, rp, 0, T0 + 1);
	same_in_both(a, b, &e81, true, rp, 0, T0 + 1);
	fx_free(a);
	fx_free(b);
}

/* Bytes per record and the header's size, from nat_state_size(). */
static void
layout(size_t *hdr, size_t *rec)
{
	*rec = (nat_state_size(128) - nat_state_size(64)) / 128;
	*hdr = nat_state_size(64) - 128 * *rec;
}

/* The offset of the n-th live record of region i (0-based), or 0. */
static size_t
live_record(int i, int n)
{
	size_t hdr, rec, off;
	uint32_t v;

	layout(&hdr, &rec);
	for (off = hdr; off + rec <= reg_len; off += rec) {
		memcpy(&v, (uint8_t *)reg[i] + off, 4);
		if (v != 0 && n-- == 0)
			return off;
	}
	return 0;
}

/* Flip bit `bit` of byte `at` of region i. */
static void
flip(int i, size_t at, int bit)
{
	((uint8_t *)reg[i])[at] ^= (uint8_t)(1U << bit);
}

/*
 * A flipped bit anywhere in a record (address, port, state word) or a torn
 * one (check value not matching) is dropped as corrupt; the others come.
 */
static void
test_corrupt_record(void **state)
{
	struct ends e = ends(PKT_IPPROTO_TCP, false, false);
	struct nat *a = mk_seed(0), *b;
	struct nat_state_report rep;
	size_t off[4], hdr, rec;
	uint16_t rp[4];
	int i;

	(void)state;
	layout(&hdr, &rec);
	attach(a, 0);
	for (i = 0; i < 4; i++) {
		e.cp = (uint16_t)(41000 + i);
		rp[i] = open_flow(a, &e, T0);
	}
	crash_copy(0, 1);
	for (i = 0; i < 4; i++)
		assert_true((off[i] = live_record(1, i)) != 0);
	flip(1, off[0] + rec - 20, 3);		/* an address byte */
	flip(1, off[1] + 4, 1);			/* the state word */
	flip(1, off[2] + 8, 0);			/* the check value */
	b = mk_seed(3);
	rep = adopt(b, 1, T0);
	assert_int_equal(rep.records, 4);
	assert_int_equal(rep.adopted, 1);
	assert_int_equal(rep.dropped[NAT_STATE_CORRUPT], 3);
	assert_int_equal(rep.dropped_total, 3);
	assert_int_equal(flows_of(b), 1);
	assert_string_equal(nat_state_drop_name(NAT_STATE_CORRUPT), "corrupt");
	/* the intact one is whichever record was not touched */
	e.cp = 41003;
	same_in_both(a, b, &e, true, rp[3], PKT_TCP_ACK, T0 + 1);
	fx_free(a);
	fx_free(b);
}

/*
 * A config edit before the restart moved every rule's id (a section
 * inserted before them): the saved flow finds its rule by key, takes the
 * rule's new id and translates as before.
 */
static void
test_moved_rules(void **state)
{
	struct ends e = ends(PKT_IPPROTO_TCP, false, false);
	struct nat *a = mk_seed(0), *b;
	struct nat_state_report rep;
	struct nat_flow_info fa, fb;
	struct mkopt o;
	uint16_t rp;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.seed = 0x1234567;
	o.id_shift = 10;
	assert_non_null(a);
	assert_non_null(b = mk(&o));
	attach(a, 0);
	rp = open_flow(a, &e, T0);
	crash_copy(0, 1);
	rep = adopt(b, 1, T0 + SEC(5));
	assert_int_equal(rep.adopted, 1);
	assert_int_equal(rep.dropped_total, 0);
	assert_true(pg_find_flow(a, T0 + SEC(5), e.proto, e.c, e.cp, &fa));
	assert_true(pg_find_flow(b, T0 + SEC(5), e.proto, e.c, e.cp, &fb));
	assert_int_equal(fb.rule_id, fa.rule_id + 10);
	same_in_both(a, b, &e, true, rp, PKT_TCP_ACK, T0 + SEC(6));
	same_in_both(a, b, &e, false, 0, PKT_TCP_ACK, T0 + SEC(6));
	fx_free(a);
	fx_free(b);
}

/* Regions that cannot be trusted as a whole are refused with a reason. */
static void
test_refused(void **state)
{
	struct ends e = ends(PKT_IPPROTO_UDP, false, false);
	struct mkopt o;
	struct nat *a = mk_seed(0), *b = mk_seed(1), *c;
	uint32_t v;

	(void)state;
	attach(a, 0);
	open_flow(a, &e, T0);
	crash_copy(0, 1);
	adopt_refused(b, 1, reg_len - 1, "truncated");
	adopt_refused(b, 1, 10, "truncated");
	adopt_refused(b, 1, 0, "truncated");
	flip(1, 0, 5);
	adopt_refused(b, 1, reg_len, "bad magic");
	crash_copy(0, 1);
	memcpy(&v, (uint8_t *)reg[1] + 8, 4);
	v++;
	memcpy((uint8_t *)reg[1] + 8, &v, 4);
	adopt_refused(b, 1, reg_len, "format version 2");
	crash_copy(0, 1);
	flip(1, 24, 2);		/* a header field: its check value fails */
	adopt_refused(b, 1, reg_len, "damaged header");
	crash_copy(0, 1);
	memset(&o, 0, sizeof(o));
	o.max_flows = 2048;
	c = mk(&o);
	adopt_refused(c, 1, reg_len, "max_flows 1024, now 2048");
	fx_free(c);
	o.max_flows = 0;
	o.port_lo = 50000;
	o.port_hi = 50999;
	c = mk(&o);
	adopt_refused(c, 1, reg_len, "nat_ports 61000-65534, now 50000-50999");
	fx_free(c);
	/* the same region, whole, is fine */
	assert_int_equal(adopt(b, 1, T0).adopted, 1);
	fx_free(a);
	fx_free(b);
}

/* An engine's region refuses to be too small. */
static void
test_attach_small(void **state)
{
	struct nat *a = mk_seed(0);
	char err[ERRLEN] = "";

	(void)state;
	assert_int_equal(nat_state_attach(a, reg[0], nat_state_size(MAXF) - 1,
	    err), -1);
	assert_non_null(strstr(err, "too small"));
	assert_int_equal(nat_state_size(0), 0);
	assert_true(nat_state_size(1) < nat_state_size(MAXF));
	fx_free(a);
}

/* A flow that went (expired, swept) is not in the region any more. */
static void
test_deleted_not_adopted(void **state)
{
	struct ends e = ends(PKT_IPPROTO_UDP, false, false), t = ends(PKT_IPPROTO_TCP, false, false);
	struct nat *a = mk_seed(0), *b = mk_seed(2);
	struct nat_state_report rep;
	struct nat_flow_info fi;

	(void)state;
	attach(a, 0);
	open_flow(a, &e, T0);
	/* the TCP flow stays; the UDP flow expires (300 s) and is swept */
	open_flow(a, &t, T0 + SEC(200));
	pg_sweep_all(a, T0 + SEC(302));
	assert_int_equal(flows_of(a), 1);
	crash_copy(0, 1);
	rep = adopt(b, 1, T0 + SEC(303));
	assert_int_equal(rep.records, 1);
	assert_int_equal(rep.adopted, 1);
	assert_false(pg_find_flow(b, T0 + SEC(303), PKT_IPPROTO_UDP, e.c, e.cp, &fi));
	assert_true(pg_find_flow(b, T0 + SEC(303), PKT_IPPROTO_TCP, t.c, t.cp, &fi));
	fx_free(a);
	fx_free(b);
}

/* TCP state changes reach the record: FIN both ways, RST. */
static void
test_state_carried(void **state)
{
	struct ends e = ends(PKT_IPPROTO_TCP, false, false), r = e, f = e;
	struct nat *a = mk_seed(0), *b = mk_seed(4);
	struct nat_state_report rep;
	struct nat_flow_info fi;
	uint16_t rp, rr, rf;

	(void)state;
	attach(a, 0);
	rp = open_flow(a, &e, T0);
	r.cp = 40010;
	rr = open_flow(a, &r, T0);
	f.cp = 40020;
	rf = open_flow(a, &f, T0);
	/* e: FIN from the client (fin_wait); f: FIN both ways; r: RST */
	assert_int_equal(client(a, &e, PKT_TCP_FIN | PKT_TCP_ACK, T0 + 1), rp);
	assert_int_equal(client(a, &f, PKT_TCP_FIN | PKT_TCP_ACK, T0 + 1), rf);
	reply(a, &f, rf, PKT_TCP_FIN | PKT_TCP_ACK, T0 + 1);
	reply(a, &r, rr, PKT_TCP_RST, T0 + 1);
	crash_copy(0, 1);
	rep = adopt(b, 1, T0 + 2);
	assert_int_equal(rep.adopted, 3);
	assert_true(pg_find_flow(b, T0 + 2, PKT_IPPROTO_TCP, e.c, e.cp, &fi));
	assert_string_equal(fi.state, "fin_wait");
	assert_true(fi.assured);
	assert_true(pg_find_flow(b, T0 + 2, PKT_IPPROTO_TCP, f.c, f.cp, &fi));
	assert_string_equal(fi.state, "time_wait");
	assert_true(pg_find_flow(b, T0 + 2, PKT_IPPROTO_TCP, r.c, r.cp, &fi));
	assert_string_equal(fi.state, "closed");
	/* the half-closed flow finishes in B as it would in A */
	same_in_both(a, b, &e, true, rp, PKT_TCP_FIN | PKT_TCP_ACK, T0 + 3);
	assert_true(pg_find_flow(b, T0 + 3, PKT_IPPROTO_TCP, e.c, e.cp, &fi));
	assert_string_equal(fi.state, "time_wait");
	/* a closed flow waits the transitory timeout only, in B too */
	pg_sweep_all(b, T0 + 2 + SEC(241));
	assert_false(pg_find_flow(b, T0 + 2 + SEC(241), PKT_IPPROTO_TCP, r.c, r.cp, &fi));
	fx_free(a);
	fx_free(b);
}

/*
 * Records that do not fit the new engine: a rule gone, a relay address no
 * longer used; and flows that clash with flows the engine has.
 */
static void
test_record_checks(void **state)
{
	struct ends e = ends(PKT_IPPROTO_TCP, false, false), h = ends(PKT_IPPROTO_TCP, false, true);
	struct mkopt o;
	struct nat *a = mk_seed(0), *b;
	struct nat_state_report rep;

	(void)state;
	attach(a, 0);
	open_flow(a, &e, T0);
	open_flow(a, &h, T0);
	crash_copy(0, 1);
	memset(&o, 0, sizeof(o));
	o.no_relay_rules = true;	/* rules 1, 2 gone: no rule, no relay */
	b = mk(&o);
	rep = adopt(b, 1, T0);
	assert_int_equal(rep.adopted, 1);	/* the hairpin flow (rule 3) */
	assert_int_equal(rep.dropped[NAT_STATE_NO_RULE], 1);
	/* adopting the same records again: every one clashes */
	rep = adopt(b, 1, T0);
	assert_int_equal(rep.adopted, 0);
	assert_int_equal(rep.dropped[NAT_STATE_CLASH], 1);
	assert_int_equal(rep.dropped[NAT_STATE_NO_RULE], 1);
	fx_free(b);
	memset(&o, 0, sizeof(o));
	o.relay4 = R4B;			/* the relay's address changed */
	b = mk(&o);
	rep = adopt(b, 1, T0);
	assert_int_equal(rep.adopted, 1);
	assert_int_equal(rep.dropped[NAT_STATE_BAD_RELAY], 1);
	fx_free(b);
	fx_free(a);
}

/*
 * A keep-mode flow the rules rebuild (reply-side pickup) has no record; one
 * they cannot (a forward without a public address) has, and comes back.
 */
static void
test_rebuildable_not_saved(void **state)
{
	struct nat *a = mk_seed(0), *b = mk_seed(6);
	struct nat_state_report rep;
	struct nat_flow_info fi;
	struct pg_pkt x;

	(void)state;
	attach(a, 0);
	pg_tcp(&x, C4, 40000, P4, 90, PKT_TCP_SYN);	/* rule 5: rebuildable */
	assert_forward(a, &x, NAT_SIDE_PUBLIC, T0);
	pg_tcp(&x, C4B, 40000, P4, 8080, PKT_TCP_SYN);	/* rule 3: no pub */
	assert_forward(a, &x, NAT_SIDE_PUBLIC, T0);
	assert_int_equal(flows_of(a), 2);
	crash_copy(0, 1);
	rep = adopt(b, 1, T0);
	assert_int_equal(rep.records, 1);
	assert_int_equal(rep.adopted, 1);
	assert_true(pg_find_flow(b, T0, PKT_IPPROTO_TCP, C4B, 40000, &fi));
	assert_true(pg_addr_eq(&fi.reply_dst, C4B));
	assert_false(pg_find_flow(b, T0, PKT_IPPROTO_TCP, C4, 40000, &fi));
	fx_free(a);
	fx_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_fullnat_tcp4),
		FX_TEST(test_fullnat_tcp6),
		FX_TEST(test_moved_rules),
		FX_TEST(test_fullnat_udp4),
		FX_TEST(test_fullnat_udp6),
		FX_TEST(test_fullnat_echo4),
		FX_TEST(test_fullnat_echo6),
		FX_TEST(test_hairpin_tcp4),
		FX_TEST(test_hairpin_tcp6),
		FX_TEST(test_hairpin_udp4),
		FX_TEST(test_hairpin_udp6),
		FX_TEST(test_port_claimed),
		FX_TEST(test_shared_mapping),
		FX_TEST(test_corrupt_record),
		FX_TEST(test_refused),
		FX_TEST(test_attach_small),
		FX_TEST(test_deleted_not_adopted),
		FX_TEST(test_state_carried),
		FX_TEST(test_record_checks),
		FX_TEST(test_rebuildable_not_saved),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
