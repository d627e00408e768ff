/*
 * test_nat_frag.c - fragments: the first fragment is translated with its
 * flow and later fragments follow it; early fragments are queued (bounded by
 * max_frag_bytes), released through nat_pending() once the first fragment
 * passes, or dropped and counted after frag_timeout.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"
#include "pktgen.h"

static struct nat_rule rules[3];

static struct nat *
mk(uint32_t frag_timeout, uint32_t max_frag_bytes)
{
	struct nat_settings s;

	rules[0] = fx_relay_rule(B4, NAT_P_UDP, 5300, 5300, 53, R4);
	fx_keep_all(&rules[1]);
	fx_settings(&s, rules, 3);
	s.frag_timeout = frag_timeout;
	s.max_frag_bytes = max_frag_bytes;
	return fx_nat(&s);
}

/* A datagram and its three fragments (0..400, 400..800, 800..end). */
struct dgram {
	struct pg_pkt full;
	struct pg_pkt f[3];
};

static void
make_dgram(struct dgram *d, const char *src, uint16_t sp, const char *dst, uint16_t dp,
    uint32_t id)
{
	size_t hl = pg_addr_family(src) == 6 ? 40 : 20;
	int i;

	pg_udp(&d->full, src, sp, dst, dp, 1000);
	for (i = 0; i < 3; i++) {
		memset(&d->f[i], 0, sizeof(d->f[i]));
		d->f[i].len = pg_fragment(d->full.data, d->full.len, (size_t)i * 400,
		    i < 2 ? 400 : d->full.len - hl - 800, i == 2, id, d->f[i].data, PKT_CAP);
	}
}

/* Reassemble three translated fragments and check the whole datagram. */
static void
assert_reassembles(struct pg_pkt f[3], const struct pg_pkt *orig, const char *src,
    uint16_t sp, const char *dst, uint16_t dp)
{
	const uint8_t *fp[3] = { f[0].data, f[1].data, f[2].data };
	size_t fl[3] = { f[0].len, f[1].len, f[2].len };
	struct pg_pkt r;
	struct pg_info pi;

	memset(&r, 0, sizeof(r));
	r.len = pg_reassemble(fp, fl, 3, r.data, PKT_CAP);
	assert_int_equal(r.len, orig->len);
	assert_pkt_csums(&r);
	assert_parse(&r, &pi);
	assert_pkt_tuple(&pi, src, sp, dst, dp);
	if (orig->data[0] >> 4 == 4) {
		/* the fragments carry another id than the unfragmented original */
		r.data[4] = orig->data[4];
		r.data[5] = orig->data[5];
	}
	assert_same_xlate(orig, &r, true, false);
}

/* Check a translated fragment's addresses and header checksum. */
static void
assert_frag_addrs(const struct pg_pkt *f, const char *src, const char *dst, uint16_t off)
{
	struct pg_info pi;

	assert_parse(f, &pi);
	assert_true(pi.is_frag);
	assert_int_equal(pi.frag_off, off);
	assert_true(pg_addr_eq(&pi.src, src));
	assert_true(pg_addr_eq(&pi.dst, dst));
	assert_true(pg_check_ip_csum(f->data, f->len));
}

static void
in_order(const char *c, const char *p, const char *b)
{
	struct nat *n = mk(0, 0);
	struct dgram d;
	struct pg_pkt o[3];
	int i;

	assert_non_null(n);
	make_dgram(&d, c, 40000, p, 53, 0x4321);
	for (i = 0; i < 3; i++) {
		pg_copy(&o[i], &d.f[i]);
		assert_forward(n, &d.f[i], NAT_SIDE_PUBLIC, T0);
		assert_frag_addrs(&d.f[i], c, b, (uint16_t)(i * 400));
		if (i > 0)
			assert_same_xlate(&o[i], &d.f[i], false, false);
	}
	assert_reassembles(d.f, &d.full, c, 40000, b, 53);

	/* the reply, fragmented by the backend */
	make_dgram(&d, b, 53, c, 40000, 0x99);
	for (i = 0; i < 3; i++) {
		assert_forward(n, &d.f[i], NAT_SIDE_INSIDE, T0 + 1);
		assert_frag_addrs(&d.f[i], p, c, (uint16_t)(i * 400));
	}
	assert_reassembles(d.f, &d.full, p, 53, c, 40000);
	fx_free(n);
}

static void test_in_order4(void **s) { (void)s; in_order(C4, P4, B4); }
static void test_in_order6(void **s) { (void)s; in_order(C6, P6, B6); }

/* Full NAT: later fragments get the relay's address too. */
static void
test_in_order_fullnat(void **state)
{
	struct nat *n = mk(0, 0);
	struct dgram d;
	struct pg_info pi;
	uint16_t rp;
	int i;

	(void)state;
	assert_non_null(n);
	make_dgram(&d, C4, 40000, P4, 5300, 0x4321);
	assert_forward(n, &d.f[0], NAT_SIDE_PUBLIC, T0);
	assert_parse(&d.f[0], &pi);
	rp = pi.sport;
	assert_int_not_equal(rp, 40000);
	for (i = 1; i < 3; i++) {
		assert_forward(n, &d.f[i], NAT_SIDE_PUBLIC, T0);
		assert_frag_addrs(&d.f[i], R4, B4, (uint16_t)(i * 400));
	}
	assert_reassembles(d.f, &d.full, R4, rp, B4, 53);
	fx_free(n);
}

/* Take every released packet; returns how many. */
static int
drain(struct nat *n, struct pg_pkt *out, int max, enum nat_side want_side)
{
	struct nat_pkt np;
	enum nat_side side;
	int k = 0, rc;

	for (;;) {
		struct pg_pkt tmp;

		memset(&tmp, 0, sizeof(tmp));
		np.data = tmp.data;
		np.len = 0;
		np.cap = PKT_CAP;
		np.vnet = NULL;
		rc = nat_pending(n, &np, &side);
		assert_true(rc == 0 || rc == 1);
		if (rc == 0)
			return k;
		tmp.len = np.len;
		assert_int_equal(side, want_side);
		if (k < max)
			pg_copy(&out[k], &tmp);
		k++;
		assert_true(k < 100);
	}
}

static void
out_of_order(const char *c, const char *p, const char *b)
{
	struct nat *n = mk(0, 0);
	struct nat_stats st;
	struct dgram d;
	struct pg_pkt rel[4], got[3];
	struct pg_info pi;
	enum nat_drop_reason why;
	int i, k;

	assert_non_null(n);
	make_dgram(&d, c, 40000, p, 53, 0x777);
	assert_verdict(pg_run(n, &d.f[2], NAT_SIDE_PUBLIC, T0, &why), NAT_QUEUED, why);
	assert_verdict(pg_run(n, &d.f[1], NAT_SIDE_PUBLIC, T0 + 1, &why), NAT_QUEUED, why);
	assert_int_equal(drain(n, rel, 4, NAT_SIDE_PUBLIC), 0);
	nat_get_stats(n, &st);
	assert_int_equal(st.frags_queued, 2);
	assert_forward(n, &d.f[0], NAT_SIDE_PUBLIC, T0 + 2);
	assert_frag_addrs(&d.f[0], c, b, 0);
	k = drain(n, rel, 4, NAT_SIDE_PUBLIC);
	assert_int_equal(k, 2);
	pg_copy(&got[0], &d.f[0]);
	for (i = 0; i < 2; i++) {
		assert_parse(&rel[i], &pi);
		assert_true(pi.frag_off == 400 || pi.frag_off == 800);
		assert_frag_addrs(&rel[i], c, b, pi.frag_off);
		pg_copy(&got[pi.frag_off / 400], &rel[i]);
	}
	assert_reassembles(got, &d.full, c, 40000, b, 53);
	assert_int_equal(drain(n, rel, 4, NAT_SIDE_PUBLIC), 0);
	nat_get_stats(n, &st);
	assert_int_equal(st.drops[NAT_DROP_FRAG_TIMEOUT], 0);
	fx_free(n);
}

static void test_out_of_order4(void **s) { (void)s; out_of_order(C4, P4, B4); }
static void test_out_of_order6(void **s) { (void)s; out_of_order(C6, P6, B6); }

/* Full NAT, out of order: queued fragments leave from the relay address. */
static void
test_out_of_order_fullnat(void **state)
{
	struct nat *n = mk(0, 0);
	struct dgram d;
	struct pg_pkt rel[4], got[3];
	struct pg_info pi;
	enum nat_drop_reason why;
	int i;

	(void)state;
	assert_non_null(n);
	make_dgram(&d, C4, 40000, P4, 5300, 0x999);
	assert_verdict(pg_run(n, &d.f[2], NAT_SIDE_PUBLIC, T0, &why), NAT_QUEUED, why);
	assert_verdict(pg_run(n, &d.f[1], NAT_SIDE_PUBLIC, T0, &why), NAT_QUEUED, why);
	assert_forward(n, &d.f[0], NAT_SIDE_PUBLIC, T0);
	assert_parse(&d.f[0], &pi);
	pg_copy(&got[0], &d.f[0]);
	assert_int_equal(drain(n, rel, 4, NAT_SIDE_PUBLIC), 2);
	for (i = 0; i < 2; i++) {
		struct pg_info ri;

		assert_parse(&rel[i], &ri);
		assert_frag_addrs(&rel[i], R4, B4, ri.frag_off);
		pg_copy(&got[ri.frag_off / 400], &rel[i]);
	}
	assert_reassembles(got, &d.full, R4, pi.sport, B4, 53);
	fx_free(n);
}

/* Reply fragments out of order: released on the side they came from. */
static void
test_out_of_order_reply(void **state)
{
	struct nat *n = mk(0, 0);
	struct dgram d;
	struct pg_pkt x, rel[4];
	enum nat_drop_reason why;

	(void)state;
	assert_non_null(n);
	pg_udp(&x, C4, 40000, P4, 53, 10);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	make_dgram(&d, B4, 53, C4, 40000, 0x888);
	assert_verdict(pg_run(n, &d.f[1], NAT_SIDE_INSIDE, T0, &why), NAT_QUEUED, why);
	assert_forward(n, &d.f[0], NAT_SIDE_INSIDE, T0);
	assert_frag_addrs(&d.f[0], P4, C4, 0);
	assert_int_equal(drain(n, rel, 4, NAT_SIDE_INSIDE), 1);
	assert_frag_addrs(&rel[0], P4, C4, 400);
	assert_forward(n, &d.f[2], NAT_SIDE_INSIDE, T0);
	pg_copy(&d.f[1], &rel[0]);
	assert_reassembles(d.f, &d.full, P4, 53, C4, 40000);
	fx_free(n);
}

/* A queued fragment whose first never comes: dropped after frag_timeout. */
static void
test_queued_timeout(void **state)
{
	struct nat *n = mk(0, 0);
	struct nat_stats st;
	struct dgram d;
	struct pg_pkt rel[2];
	enum nat_drop_reason why;

	(void)state;
	assert_non_null(n);
	make_dgram(&d, C4, 40000, P4, 53, 0x1111);
	assert_verdict(pg_run(n, &d.f[1], NAT_SIDE_PUBLIC, T0, &why), NAT_QUEUED, why);
	pg_sweep_all(n, T0 + SEC(29));
	nat_get_stats(n, &st);
	assert_int_equal(st.drops[NAT_DROP_FRAG_TIMEOUT], 0);
	pg_sweep_all(n, T0 + SEC(31));
	nat_get_stats(n, &st);
	assert_int_equal(st.drops[NAT_DROP_FRAG_TIMEOUT], 1);
	assert_int_equal(drain(n, rel, 2, NAT_SIDE_PUBLIC), 0);
	/* the first fragment comes late: it passes, nothing is released */
	assert_forward(n, &d.f[0], NAT_SIDE_PUBLIC, T0 + SEC(32));
	assert_int_equal(drain(n, rel, 2, NAT_SIDE_PUBLIC), 0);
	fx_free(n);
}

/* A configured frag_timeout is used. */
static void
test_queued_timeout_configured(void **state)
{
	struct nat *n = mk(5, 0);
	struct nat_stats st;
	struct dgram d;
	enum nat_drop_reason why;

	(void)state;
	assert_non_null(n);
	make_dgram(&d, C6, 40000, P6, 53, 0x2222);
	assert_verdict(pg_run(n, &d.f[2], NAT_SIDE_PUBLIC, T0, &why), NAT_QUEUED, why);
	pg_sweep_all(n, T0 + SEC(4));
	nat_get_stats(n, &st);
	assert_int_equal(st.drops[NAT_DROP_FRAG_TIMEOUT], 0);
	pg_sweep_all(n, T0 + SEC(6));
	nat_get_stats(n, &st);
	assert_int_equal(st.drops[NAT_DROP_FRAG_TIMEOUT], 1);
	fx_free(n);
}

/* Early fragments never hold more than max_frag_bytes. */
static void
test_memory_bound(void **state)
{
	struct nat *n = mk(0, 2000);
	struct nat_stats st;
	struct pg_pkt rel[8];
	enum nat_drop_reason why;
	enum nat_verdict v;
	int i, queued = 0, released = 0;
	uint64_t drops;

	(void)state;
	assert_non_null(n);
	for (i = 0; i < 4; i++) {
		struct pg_pkt full, f;

		pg_udp(&full, C4, (uint16_t)(42000 + i), P4, 53, 1600);
		memset(&f, 0, sizeof(f));
		f.len = pg_fragment(full.data, full.len, 8, 800, false,
		    (uint32_t)(0x300 + i), f.data, PKT_CAP);
		v = pg_run(n, &f, NAT_SIDE_PUBLIC, T0, &why);
		if (v == NAT_QUEUED)
			queued++;
		else
			assert_drop(v, why, NAT_DROP_FRAG);
		nat_get_stats(n, &st);
		/* what is queued is bounded: at most 2 of 800+ bytes in 2000 */
		assert_true(st.frags_queued <= 2);
	}
	nat_get_stats(n, &st);
	drops = st.drops[NAT_DROP_FRAG];
	assert_true(drops >= 2);
	/* the first fragments arrive: at most two middles are released */
	for (i = 0; i < 4; i++) {
		struct pg_pkt full, f;

		pg_udp(&full, C4, (uint16_t)(42000 + i), P4, 53, 1600);
		memset(&f, 0, sizeof(f));
		f.len = pg_fragment(full.data, full.len, 0, 8, false,
		    (uint32_t)(0x300 + i), f.data, PKT_CAP);
		assert_forward(n, &f, NAT_SIDE_PUBLIC, T0 + 1);
		released += drain(n, rel, 8, NAT_SIDE_PUBLIC);
	}
	assert_in_range(released, 1, 2);
	fx_free(n);
}

/* nat_pending() with too small a buffer: -1, the packet dropped and counted. */
static void
test_pending_small_cap(void **state)
{
	struct nat *n = mk(0, 0);
	struct nat_stats st0, st;
	struct dgram d;
	struct nat_pkt np;
	enum nat_side side;
	enum nat_drop_reason why;
	uint8_t small[64];
	uint64_t a = 0, b = 0;
	int i;

	(void)state;
	assert_non_null(n);
	make_dgram(&d, C4, 40000, P4, 53, 0x5555);
	assert_verdict(pg_run(n, &d.f[1], NAT_SIDE_PUBLIC, T0, &why), NAT_QUEUED, why);
	assert_forward(n, &d.f[0], NAT_SIDE_PUBLIC, T0);
	nat_get_stats(n, &st0);
	np.data = small;
	np.len = 0;
	np.cap = sizeof(small);
	np.vnet = NULL;
	assert_int_equal(nat_pending(n, &np, &side), -1);
	nat_get_stats(n, &st);
	for (i = 0; i < NAT_DROP_MAX; i++) {
		a += st0.drops[i];
		b += st.drops[i];
	}
	assert_int_equal(b, a + 1);
	np.cap = sizeof(small);
	assert_int_equal(nat_pending(n, &np, &side), 0);
	fx_free(n);
}

/*
 * Fragments of a reply without a flow are never translated: not ours, left
 * as they came (the front decides; to a client's address it drops them).
 */
static void
test_later_fragment_of_reply_without_flow(void **state)
{
	struct nat *n = mk(0, 0);
	struct dgram d;
	struct pg_pkt copy;
	enum nat_verdict v;

	(void)state;
	assert_non_null(n);
	make_dgram(&d, B4, 53, C4, 40000, 0x6666);
	copy = d.f[0];
	v = pg_run(n, &d.f[0], NAT_SIDE_INSIDE, T0, NULL);
	assert_int_equal(v, NAT_NOT_OURS);
	assert_memory_equal(d.f[0].data, copy.data, copy.len);
	v = pg_run(n, &d.f[1], NAT_SIDE_INSIDE, T0, NULL);
	assert_int_equal(v, NAT_NOT_OURS);
	fx_free(n);
}

/* An engine that forwards public UDP port 5300 only (keep mode). */
static struct nat *
mk_fwd(void)
{
	rules[0] = fx_rule(B4, NAT_P_UDP, 5300, 5300, 53);
	rules[1] = fx_relay_rule(B4, NAT_P_UDP, 5400, 5400, 53, R4);
	return fx_engine(rules, 2);
}

/*
 * Run the fragments of d in the given order on side; every one must come
 * back NAT_NOT_OURS or be queued and released untouched (nat_pending 2),
 * byte for byte as sent.
 */
static void
assert_passes(struct nat *n, struct dgram *d, const int order[3],
    enum nat_side side)
{
	struct pg_pkt copy[3], out;
	struct nat_pkt np;
	enum nat_side ps;
	enum nat_verdict v;
	int i, j, seen = 0, rc;

	for (i = 0; i < 3; i++)
		copy[i] = d->f[i];
	for (i = 0; i < 3; i++) {
		j = order[i];
		v = pg_run(n, &d->f[j], side, T0, NULL);
		if (v == NAT_QUEUED)
			continue;
		assert_int_equal(v, NAT_NOT_OURS);
		assert_int_equal(d->f[j].len, copy[j].len);
		assert_memory_equal(d->f[j].data, copy[j].data, copy[j].len);
		seen |= 1 << j;
	}
	for (;;) {
		np.data = out.data;
		np.cap = sizeof(out.data);
		np.len = 0;
		np.vnet = NULL;
		if ((rc = nat_pending(n, &np, &ps)) == 0)
			break;
		assert_int_equal(rc, 2);
		for (j = 0; j < 3; j++)
			if (np.len == copy[j].len &&
			    memcmp(np.data, copy[j].data, np.len) == 0)
				break;
		assert_true(j < 3);
		seen |= 1 << j;
	}
	assert_int_equal(seen, 7);
}

/*
 * The host's own fragmented datagrams (no rule claims the port, or they go
 * to a relay address from the inside): every fragment comes back untouched,
 * in order and reversed, so that the host reassembles them. A forwarded
 * port in the same engine is still translated.
 */
static void
test_host_fragments_pass(void **state)
{
	static const int fwd[3] = { 0, 1, 2 }, rev[3] = { 2, 1, 0 };
	struct nat *n = mk_fwd();
	struct dgram d;
	struct nat_stats st;

	(void)state;
	assert_non_null(n);
	make_dgram(&d, C4, 40000, P4, 9999, 0x1001);
	assert_passes(n, &d, fwd, NAT_SIDE_PUBLIC);
	make_dgram(&d, C4, 40000, P4, 9999, 0x1002);
	assert_passes(n, &d, rev, NAT_SIDE_PUBLIC);
	make_dgram(&d, C6, 40000, P6, 9999, 0x1003);
	assert_passes(n, &d, rev, NAT_SIDE_PUBLIC);
	/* the host's own conversation with the target, on the relay address */
	make_dgram(&d, B4, 53, R4, 45000, 0x1004);
	assert_passes(n, &d, fwd, NAT_SIDE_INSIDE);
	make_dgram(&d, B4, 53, R4, 45000, 0x1005);
	assert_passes(n, &d, rev, NAT_SIDE_INSIDE);
	/* a forwarded port still opens its flow, fragmented */
	make_dgram(&d, C4, 40001, P4, 5300, 0x1006);
	assert_forward(n, &d.f[0], NAT_SIDE_PUBLIC, T0);
	assert_forward(n, &d.f[1], NAT_SIDE_PUBLIC, T0);
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_created, 1);
	assert_int_equal(st.drops[NAT_DROP_FRAG_TIMEOUT], 0);
	/* nothing waits for a first fragment that went by */
	pg_sweep_all(n, T0 + SEC(60));
	nat_get_stats(n, &st);
	assert_int_equal(st.drops[NAT_DROP_FRAG_TIMEOUT], 0);
	fx_free(n);
}

/* A first fragment too short for the TCP header (RFC 1858): not forwarded. */
static void
test_tiny_first_fragment(void **state)
{
	struct nat *n = mk(0, 0);
	struct pg_pkt full, f;
	enum nat_drop_reason why;
	enum nat_verdict v;
	struct nat_stats st;

	(void)state;
	assert_non_null(n);
	pg_tcp(&full, C4, 40000, P4, 80, PKT_TCP_SYN);
	memset(&f, 0, sizeof(f));
	f.len = pg_fragment(full.data, full.len, 0, 8, false, 0x77, f.data, PKT_CAP);
	v = pg_run(n, &f, NAT_SIDE_PUBLIC, T0, &why);
	assert_int_equal(v, NAT_DROP);
	nat_get_stats(n, &st);
	assert_int_equal(st.flows_created, 0);
	fx_free(n);
}

/* Set an IPv4 fragment's flags/offset field and cut its payload to n bytes. */
static void
wr_frag4(struct pg_pkt *x, uint16_t field, size_t n)
{
	x->data[2] = (uint8_t)((20 + n) >> 8);
	x->data[3] = (uint8_t)(20 + n);
	x->data[6] = (uint8_t)(field >> 8);
	x->data[7] = (uint8_t)field;
	x->len = 20 + n;
	pg_fix_ip_csum(x->data, x->len);
}

/* The same for an IPv6 fragment header right after the fixed header. */
static void
wr_frag6(struct pg_pkt *x, uint16_t field, size_t n)
{
	x->data[4] = (uint8_t)((8 + n) >> 8);
	x->data[5] = (uint8_t)(8 + n);
	x->data[42] = (uint8_t)(field >> 8);
	x->data[43] = (uint8_t)field;
	x->len = 48 + n;
}

/* Fragments that reach past 65535 bytes or leave a gap are dropped. */
static void
test_frag_malformed(void **state)
{
	struct nat_rule r = fx_rule(B4, NAT_P_UDP, 1, 65535, 0);
	struct nat_rule r6 = fx_rule(B6, NAT_P_UDP, 1, 65535, 0);
	struct nat_rule rs[2] = { r, r6 };
	struct nat *n;
	struct pg_pkt full, x;
	enum nat_drop_reason why;
	const char *src[2] = { "198.51.100.70", "2001:db8:100::70" };
	const char *dst[2] = { P4, P6 };
	int i;

	(void)state;
	n = fx_engine(rs, 2);
	for (i = 0; i < 2; i++) {
		pg_udp(&full, src[i], 4000, dst[i], 53, 64);
		/* a middle fragment of 20 bytes: not a multiple of 8 */
		x.len = pg_fragment(full.data, full.len, 0, 24, true, 77,
		    x.data, sizeof(x.data));
		x.has_vnet = false;
		if (i == 0)
			wr_frag4(&x, 0x2000 | 1, 20);
		else
			wr_frag6(&x, 8 | 1, 20);
		assert_drop(pg_run(n, &x, NAT_SIDE_PUBLIC, T0, &why), why,
		    NAT_DROP_FRAG);
		/* the last fragment at offset 65528 with 16 bytes: too big */
		x.len = pg_fragment(full.data, full.len, 0, 24, true, 78,
		    x.data, sizeof(x.data));
		if (i == 0)
			wr_frag4(&x, 65528 / 8, 16);
		else
			wr_frag6(&x, 65528, 16);
		assert_drop(pg_run(n, &x, NAT_SIDE_PUBLIC, T0, &why), why,
		    NAT_DROP_FRAG);
	}
	fx_free(n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_in_order4),
		FX_TEST(test_in_order6),
		FX_TEST(test_in_order_fullnat),
		FX_TEST(test_out_of_order4),
		FX_TEST(test_out_of_order6),
		FX_TEST(test_out_of_order_fullnat),
		FX_TEST(test_out_of_order_reply),
		FX_TEST(test_queued_timeout),
		FX_TEST(test_queued_timeout_configured),
		FX_TEST(test_memory_bound),
		FX_TEST(test_pending_small_cap),
		FX_TEST(test_tiny_first_fragment),
		FX_TEST(test_later_fragment_of_reply_without_flow),
		FX_TEST(test_host_fragments_pass),
		FX_TEST(test_frag_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
