/*
 * test_nat_full.c - a new flow refused for a full table is answered with
 * ICMP "administratively prohibited" (RFC 5508): type 3 code 13, ICMPv6 1/1,
 * quoting the client's packet with every checksum right; rate-limited by a
 * token bucket on the engine's clock; never for an ICMP error, a later
 * fragment or a multicast source; none at all when turned off. A flow
 * refused for want of a relay port is answered the same way.
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

/*
 * One flow of room, held by an assured full NAT flow (never evicted);
 * rate 0 takes the default, off turns the answers off.
 */
static struct nat *
mk(int fam, uint32_t rate, bool off)
{
	struct nat_settings s;
	struct nat *n;
	struct pg_pkt x;
	const char *c = fam == 4 ? C4 : C6, *p = fam == 4 ? P4 : P6;
	const char *b = fam == 4 ? B4 : B6;

	rules[0] = fx_relay_rule(B4, ALLP, 1, 65535, 0, R4);
	rules[1] = fx_relay_rule(B6, ALLP, 1, 65535, 0, R6);
	fx_settings(&s, rules, 2);
	s.max_flows = 1;
	s.table_full_icmp_rate = rate;
	s.table_full_icmp_off = off;
	n = fx_nat(&s);
	pg_udp(&x, c, 5000, p, 53, 10);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	pg_udp(&x, b, 53, fam == 4 ? R4 : R6, 61000, 10);
	/* the relay port is the engine's choice: answer the one it used */
	{
		struct nat_flow_info fi;

		assert_true(pg_find_flow(n, T0, PKT_IPPROTO_UDP, c, 5000, &fi));
		pg_udp(&x, b, 53, fam == 4 ? R4 : R6, fi.reply_dport, 10);
	}
	assert_forward(n, &x, NAT_SIDE_INSIDE, T0);
	pg_udp(&x, c, 5000, p, 53, 10);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	return n;
}

/* A new client's SYN; the verdict, the packet left in x. */
static enum nat_verdict
refused(struct nat *n, int fam, uint16_t sport, uint64_t now,
    struct pg_pkt *x, struct pg_pkt *orig)
{
	enum nat_drop_reason why;

	pg_tcp(x, fam == 4 ? C4B : C6B, sport, fam == 4 ? P4 : P6, 80,
	    PKT_TCP_SYN);
	pg_copy(orig, x);
	return pg_run(n, x, NAT_SIDE_PUBLIC, now, &why);
}

/* The answer: from the public address, type/code, the quote unchanged. */
static void
check_answer(int fam, const struct pg_pkt *x, const struct pg_pkt *orig)
{
	struct pg_info pi;

	assert_pkt_csums(x);
	assert_parse(x, &pi);
	assert_true(pg_addr_eq(&pi.src, fam == 4 ? P4 : P6));
	assert_true(pg_addr_eq(&pi.dst, fam == 4 ? C4B : C6B));
	assert_int_equal(pi.proto, fam == 4 ? PKT_IPPROTO_ICMP :
	    PKT_IPPROTO_ICMPV6);
	assert_int_equal(pi.icmp_type, fam == 4 ? 3 : 1);
	assert_int_equal(pi.icmp_code, fam == 4 ? 13 : 1);
	assert_true(pi.icmp_err);
	assert_int_equal(pi.inner_len, orig->len);
	assert_memory_equal(x->data + pi.inner_off, orig->data, orig->len);
}

/* Both families: answered, counted as a table_full drop and an answer. */
static void
test_full_answered(void **state)
{
	struct pg_pkt x, orig;
	struct nat_stats st;
	int fam;

	(void)state;
	for (fam = 4; fam <= 6; fam += 2) {
		struct nat *n = mk(fam, 0, false);

		assert_int_equal(refused(n, fam, 41000, T0 + 1, &x, &orig),
		    NAT_REPLY);
		check_answer(fam, &x, &orig);
		nat_get_stats(n, &st);
		assert_int_equal(st.table_full_icmp, 1);
		assert_int_equal(st.drops[NAT_DROP_TABLE_FULL], 1);
		assert_int_equal(st.replies, 1);
		assert_int_equal(st.flows_active, 1);
	}
}

/* The bucket: rate at once, then refusals, refilled as time passes. */
static void
test_full_rate(void **state)
{
	struct nat *n = mk(4, 3, false);
	struct pg_pkt x, orig;
	struct nat_stats st;
	int i;

	(void)state;
	for (i = 0; i < 3; i++)
		assert_int_equal(refused(n, 4, (uint16_t)(41000 + i), T0 + 1,
		    &x, &orig), NAT_REPLY);
	assert_int_equal(refused(n, 4, 41010, T0 + 1, &x, &orig), NAT_DROP);
	/* a third of a second brings one token back, not two */
	assert_int_equal(refused(n, 4, 41011, T0 + 335, &x, &orig), NAT_REPLY);
	check_answer(4, &x, &orig);
	assert_int_equal(refused(n, 4, 41012, T0 + 335, &x, &orig), NAT_DROP);
	/* a long quiet time refills only up to the burst */
	for (i = 0; i < 3; i++)
		assert_int_equal(refused(n, 4, (uint16_t)(41020 + i),
		    T0 + SEC(100), &x, &orig), NAT_REPLY);
	assert_int_equal(refused(n, 4, 41030, T0 + SEC(100), &x, &orig),
	    NAT_DROP);
	nat_get_stats(n, &st);
	assert_int_equal(st.table_full_icmp, 7);
	assert_int_equal(st.drops[NAT_DROP_TABLE_FULL], 10);
}

/* Off: a plain drop. */
static void
test_full_off(void **state)
{
	struct nat *n = mk(6, 0, true);
	struct pg_pkt x, orig;
	struct nat_stats st;

	(void)state;
	assert_int_equal(refused(n, 6, 41000, T0 + 1, &x, &orig), NAT_DROP);
	assert_memory_equal(x.data, orig.data, orig.len);
	nat_get_stats(n, &st);
	assert_int_equal(st.table_full_icmp, 0);
	assert_int_equal(st.replies, 0);
}

/* No answer to a multicast source or to an ICMP error. */
static void
test_full_never(void **state)
{
	struct nat *n = mk(4, 0, false);
	struct pg_pkt x, q;
	enum nat_drop_reason why;

	(void)state;
	pg_tcp(&x, "224.0.0.9", 41000, P4, 80, PKT_TCP_SYN);
	assert_drop(pg_run(n, &x, NAT_SIDE_PUBLIC, T0 + 1, &why), why,
	    NAT_DROP_TABLE_FULL);
	pg_tcp(&x, "0.0.0.0", 41000, P4, 80, PKT_TCP_SYN);
	assert_drop(pg_run(n, &x, NAT_SIDE_PUBLIC, T0 + 1, &why), why,
	    NAT_DROP_TABLE_FULL);
	/* an ICMP error opens no flow at all: never an error about it */
	pg_tcp(&q, P4, 80, C4B, 41000, PKT_TCP_SYN);
	pg_icmp_error(&x, C4B, P4, 3, 3, 0, q.data, q.len);
	assert_int_not_equal(pg_run(n, &x, NAT_SIDE_PUBLIC, T0 + 1, &why),
	    NAT_REPLY);
	fx_free(n);
	n = mk(6, 0, false);
	pg_tcp(&x, "ff02::1", 41000, P6, 80, PKT_TCP_SYN);
	assert_drop(pg_run(n, &x, NAT_SIDE_PUBLIC, T0 + 1, &why), why,
	    NAT_DROP_TABLE_FULL);
}

/*
 * No relay port free (RFC 5508 REQ-8, a resource limit too): answered in
 * both families like a full table, counted under no_port; none when off.
 */
static void
test_no_port_answered(void **state)
{
	struct nat_settings s;
	struct pg_pkt x, orig;
	struct nat_stats st;
	struct nat *n;
	int fam;

	(void)state;
	rules[0] = fx_relay_rule(B4, ALLP, 1, 65535, 0, R4);
	rules[1] = fx_relay_rule(B6, ALLP, 1, 65535, 0, R6);
	for (fam = 4; fam <= 6; fam += 2) {
		fx_settings(&s, rules, 2);
		s.nat_port_lo = s.nat_port_hi = 61000;
		s.table_full_icmp_off = false;
		n = fx_nat(&s);
		assert_non_null(n);
		/* the one TCP port goes to the first client's endpoint */
		pg_tcp(&x, fam == 4 ? C4 : C6, 5000, fam == 4 ? P4 : P6, 80,
		    PKT_TCP_SYN);
		assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
		assert_int_equal(refused(n, fam, 41000, T0 + 1, &x, &orig),
		    NAT_REPLY);
		check_answer(fam, &x, &orig);
		nat_get_stats(n, &st);
		assert_int_equal(st.drops[NAT_DROP_NO_PORT], 1);
		assert_int_equal(st.drops[NAT_DROP_TABLE_FULL], 0);
		assert_int_equal(st.table_full_icmp, 1);
		assert_int_equal(st.flows_active, 1);
		fx_free(n);
	}
	fx_settings(&s, rules, 2);
	s.nat_port_lo = s.nat_port_hi = 61000;
	n = fx_nat(&s);			/* fx_settings: answers off */
	pg_tcp(&x, C4, 5000, P4, 80, PKT_TCP_SYN);
	assert_forward(n, &x, NAT_SIDE_PUBLIC, T0);
	assert_int_equal(refused(n, 4, 41000, T0 + 1, &x, &orig), NAT_DROP);
	assert_memory_equal(x.data, orig.data, orig.len);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_full_answered),
		FX_TEST(test_full_rate),
		FX_TEST(test_full_off),
		FX_TEST(test_full_never),
		FX_TEST(test_no_port_answered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
