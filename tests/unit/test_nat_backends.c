/*
 * test_nat_backends.c - rules with several backends: new flows spread by
 * weight over a keyed rendezvous hash of the client address, a client
 * sticking to its backend, minimal movement when one is removed or taken
 * down, existing flows untouched by removal, state changes and reloads
 * (a rule that moves in the config keeps its state by key), placement
 * that only the placement key decides,
 * per-backend counters, reply-side pickup, and bad backend lists refused.
 * Every translated packet is checked by a full checksum recompute.
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

#define NBK	3
#define NCLI	3000		/* clients in the distribution tests */
#define NONE	(-1)

static const char *const bk_addr[NBK] = {
	"10.22.22.1", "10.22.22.2", "10.22.22.3"
};
static const uint16_t bk_port[NBK] = { 8080, 8081, 80 };

/* Settings with one rule, udp+tcp port 80, over backends[0..n). */
static void
bk_settings(struct nat_settings *s, struct nat_rule *r,
    struct nat_backend *b, const int *which, size_t n, const uint16_t *w)
{
	size_t i;

	*r = fx_rule(bk_addr[which[0]], NAT_P_TCP | NAT_P_UDP, 80, 80,
	    bk_port[which[0]]);
	r->id = 5;
	r->backend_first = 0;
	r->backend_count = (uint32_t)n;
	memset(b, 0, n * sizeof(*b));
	for (i = 0; i < n; i++) {
		b[i].addr = pg_addr(bk_addr[which[i]]);
		b[i].port = bk_port[which[i]];
		b[i].weight = w != NULL ? w[i] : 1;
		b[i].id = 100 + (uint32_t)which[i];
	}
	fx_settings(s, r, 1);
	s->max_flows = 4 * NCLI + 64;
	s->backends = b;
	s->nbackends = n;
}

/* An engine over the backends which[0..n) with weights w (NULL: all 1). */
static struct nat *
bk_engine(const int *which, size_t n, const uint16_t *w)
{
	struct nat_settings s;
	struct nat_rule r;
	struct nat_backend b[NBK];
	struct nat *e;

	bk_settings(&s, &r, b, which, n, w);
	e = fx_nat(&s);
	assert_non_null(e);
	return e;
}

/* Reload an engine with the backends which[0..n). */
static void
bk_reload(struct nat *e, const int *which, size_t n)
{
	struct nat_settings s;
	struct nat_rule r;
	struct nat_backend b[NBK];
	char err[ERRLEN] = "";

	bk_settings(&s, &r, b, which, n, NULL);
	if (nat_reconfigure(e, &s, err) != 0)
		fail_msg("nat_reconfigure: %s", err);
}

/* Client number i as an address (172.16.0.0/12, one address each). */
static const char *
bk_client(int i, char *buf, size_t len)
{
	snprintf(buf, len, "172.16.%d.%d", i / 250, 1 + i % 250);
	return buf;
}

/*
 * Send a UDP packet from client i's port sport to the public port 80; it
 * must be forwarded with valid checksums to a backend at its own port.
 * Returns the backend's index.
 */
static int
bk_send(struct nat *e, int i, uint16_t sport, uint64_t now)
{
	struct pg_pkt x;
	struct pg_info pi;
	char c[32];
	int k;

	pg_udp(&x, bk_client(i, c, sizeof(c)), sport, P4, 80, 64);
	assert_forward(e, &x, NAT_SIDE_PUBLIC, now);
	assert_parse(&x, &pi);
	assert_true(pg_addr_eq(&pi.src, c));	/* the client's address kept */
	assert_int_equal(pi.sport, sport);
	for (k = 0; k < NBK; k++)
		if (pg_addr_eq(&pi.dst, bk_addr[k])) {
			assert_int_equal(pi.dport, bk_port[k]);
			return k;
		}
	fail_msg("client %s went to no backend", c);
	return NONE;
}

/* Backend k answers client i's flow from port sport: back to the client. */
static void
bk_answer(struct nat *e, int i, uint16_t sport, int k, uint64_t now)
{
	struct pg_pkt x;
	struct pg_info pi;
	char c[32];

	pg_udp(&x, bk_addr[k], bk_port[k], bk_client(i, c, sizeof(c)), sport,
	    32);
	assert_forward(e, &x, NAT_SIDE_INSIDE, now);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, P4, 80, c, sport);
}

/* Every client's flow from port 40000, answered: its backend's index. */
static void
bk_open_answered(struct nat *e, int *before, uint64_t now)
{
	int i;

	for (i = 0; i < NCLI; i++) {
		before[i] = bk_send(e, i, 40000, now);
		bk_answer(e, i, 40000, before[i], now);
	}
}

/* The stats of the backend with id, failing when there is none. */
static struct nat_backend_stats
bk_stats(const struct nat *e, uint32_t id)
{
	struct nat_backend_stats st[8];
	size_t n = nat_backend_stats(e, st, 8), i;

	for (i = 0; i < n && i < 8; i++)
		if (st[i].id == id)
			return st[i];
	fail_msg("no backend %u", id);
	return st[0];
}

/* Weights 2:1:1 give shares near 1/2, 1/4, 1/4; counters agree. */
static void
test_weights(void **state)
{
	static const int all[NBK] = { 0, 1, 2 };
	static const uint16_t w[NBK] = { 2, 1, 1 };
	struct nat *e = bk_engine(all, NBK, w);
	int cnt[NBK] = { 0 }, i, k;

	(void)state;
	for (i = 0; i < NCLI; i++)
		cnt[bk_send(e, i, 40000, T0)]++;
	/* expected 1500, 750, 750; the bounds are over 5 standard deviations */
	assert_in_range(cnt[0], 1350, 1650);
	assert_in_range(cnt[1], 620, 880);
	assert_in_range(cnt[2], 620, 880);
	for (k = 0; k < NBK; k++) {
		assert_int_equal(bk_stats(e, 100 + k).flows_created, cnt[k]);
		assert_int_equal(bk_stats(e, 100 + k).flows_active, cnt[k]);
		assert_int_equal(bk_stats(e, 100 + k).packets, cnt[k]);
		assert_true(bk_stats(e, 100 + k).up);
	}
}

/* Equal weights give equal shares; a weight of 0 is refused elsewhere. */
static void
test_equal(void **state)
{
	static const int all[NBK] = { 0, 1, 2 };
	struct nat *e = bk_engine(all, NBK, NULL);
	int cnt[NBK] = { 0 }, i;

	(void)state;
	for (i = 0; i < NCLI; i++)
		cnt[bk_send(e, i, 40000, T0)]++;
	for (i = 0; i < NBK; i++)
		assert_in_range(cnt[i], 870, 1130);
}

/* A client's further flows (other ports, TCP too) go to its backend. */
static void
test_sticky(void **state)
{
	static const int all[NBK] = { 0, 1, 2 };
	struct nat *e = bk_engine(all, NBK, NULL);
	struct pg_pkt x;
	struct pg_info pi;
	char c[32];
	int i, k;

	(void)state;
	for (i = 0; i < 200; i++) {
		k = bk_send(e, i, 40000, T0);
		assert_int_equal(bk_send(e, i, 40001, T0), k);
		assert_int_equal(bk_send(e, i, 50000, T0 + 5000), k);
		pg_tcp(&x, bk_client(i, c, sizeof(c)), 41000, P4, 80,
		    PKT_TCP_SYN);
		assert_forward(e, &x, NAT_SIDE_PUBLIC, T0);
		assert_parse(&x, &pi);
		assert_true(pg_addr_eq(&pi.dst, bk_addr[k]));
		assert_int_equal(pi.dport, bk_port[k]);
	}
}

/*
 * Removing a backend by reload moves only its clients; the (answered) flows
 * it had stay on it, both ways, and the others' flows are untouched.
 */
static void
test_remove(void **state)
{
	static const int all[NBK] = { 0, 1, 2 }, two[2] = { 0, 2 };
	struct nat *e = bk_engine(all, NBK, NULL);
	int before[NCLI], i, k, moved = 0;
	struct pg_pkt x;
	struct pg_info pi;
	char c[32];

	(void)state;
	bk_open_answered(e, before, T0);
	bk_reload(e, two, 2);
	for (i = 0; i < NCLI; i++) {
		/* the existing flow keeps its backend */
		assert_int_equal(bk_send(e, i, 40000, T0 + 1000), before[i]);
		/* a new flow: only backend 1's clients move */
		k = bk_send(e, i, 40001, T0 + 1000);
		if (before[i] == 1) {
			assert_int_not_equal(k, 1);
			moved++;
		} else
			assert_int_equal(k, before[i]);
	}
	assert_true(moved > NCLI / 4);
	/* a reply of a removed backend's flow still goes back to its client */
	for (i = 0; before[i] != 1; i++)
		;
	pg_udp(&x, bk_addr[1], bk_port[1], bk_client(i, c, sizeof(c)), 40000,
	    32);
	assert_forward(e, &x, NAT_SIDE_INSIDE, T0 + 2000);
	assert_parse(&x, &pi);
	assert_pkt_tuple(&pi, P4, 80, c, 40000);
	/* the removed backend is no longer listed; the kept ones keep totals */
	assert_int_equal(nat_backend_stats(e, NULL, 0), 2);
	assert_int_equal(bk_stats(e, 100).flows_created,
	    bk_stats(e, 100).flows_active);
	/*
	 * backend 2: three packets of each old flow (two out, one answer),
	 * one of each new one (its own clients' and the movers'); moved
	 * counts those sent elsewhere
	 */
	for (i = 0, k = 0; i < NCLI; i++)
		k += before[i] == 2;
	assert_int_equal(bk_stats(e, 102).packets, 3 * (uint64_t)k +
	    (uint64_t)(bk_stats(e, 102).flows_created - (uint64_t)k));
	assert_int_equal(bk_stats(e, 102).flows_active,
	    bk_stats(e, 102).flows_created);
	assert_int_equal(bk_stats(e, 100).flows_created +
	    bk_stats(e, 102).flows_created, NCLI + (uint64_t)NCLI - (uint64_t)moved);
}

/*
 * A backend taken down gets no new flows, its clients move to the others
 * and its flows continue; put back up it gets its clients' new flows again.
 */
static void
test_down(void **state)
{
	static const int all[NBK] = { 0, 1, 2 };
	struct nat *e = bk_engine(all, NBK, NULL);
	int before[NCLI], i, k;
	struct nat_backend_stats st;

	(void)state;
	bk_open_answered(e, before, T0);
	assert_int_equal(nat_backend_set(e, 101, false), 1);
	assert_int_equal(nat_backend_set(e, 101, false), 0);	/* no change */
	assert_int_equal(nat_backend_set(e, 999, false), -1);	/* no such id */
	for (i = 0; i < NCLI; i++) {
		assert_int_equal(bk_send(e, i, 40000, T0 + 10), before[i]);
		k = bk_send(e, i, 40001, T0 + 10);
		assert_int_not_equal(k, 1);
		if (before[i] != 1)
			assert_int_equal(k, before[i]);
	}
	st = bk_stats(e, 101);
	assert_false(st.up);
	assert_int_equal(st.downs, 1);
	assert_int_equal(st.flows_created, st.flows_active);
	assert_int_equal(nat_backend_set(e, 101, true), 1);
	for (i = 0; i < NCLI; i++)
		assert_int_equal(bk_send(e, i, 40002, T0 + 20), before[i]);
	st = bk_stats(e, 101);
	assert_true(st.up);
	assert_int_equal(st.ups, 1);
	/* all down: spread over all, as if all were up */
	for (k = 0; k < NBK; k++)
		assert_int_equal(nat_backend_set(e, 100 + (uint32_t)k, false), 1);
	for (i = 0; i < NCLI; i++)
		assert_int_equal(bk_send(e, i, 40003, T0 + 30), before[i]);
}

/*
 * Flows nobody answered follow health: a backend taken down loses its
 * unanswered flows to the others at the client's next packet a second on,
 * as new flows would go; the other backends' flows do not move.
 */
static void
test_down_unanswered(void **state)
{
	static const int all[NBK] = { 0, 1, 2 };
	struct nat *e = bk_engine(all, NBK, NULL);
	int before[NCLI], i, k, moved = 0;
	struct nat_stats st;

	(void)state;
	for (i = 0; i < NCLI; i++)
		before[i] = bk_send(e, i, 40000, T0);
	assert_int_equal(nat_backend_set(e, 101, false), 1);
	for (i = 0; i < NCLI; i++) {
		k = bk_send(e, i, 40000, T0 + SEC(1));
		if (before[i] == 1) {
			assert_int_not_equal(k, 1);
			assert_int_equal(bk_send(e, i, 40001, T0 + SEC(1)), k);
			moved++;
		} else
			assert_int_equal(k, before[i]);
	}
	assert_true(moved > NCLI / 4);
	nat_get_stats(e, &st);
	assert_int_equal(st.flows_retargeted, (uint64_t)moved);
	assert_int_equal(bk_stats(e, 101).flows_active, 0);
	assert_int_equal(bk_stats(e, 100).flows_active +
	    bk_stats(e, 102).flows_active, NCLI + (uint64_t)moved);
}

/*
 * A reload that adds a backend keeps every flow where it is, keeps a
 * down backend down and the totals of the kept ones; flows of an idle
 * client that goes away are counted out of their backend.
 */
static void
test_reload(void **state)
{
	static const int two[2] = { 0, 1 }, all[NBK] = { 0, 1, 2 };
	struct nat *e = bk_engine(two, 2, NULL);
	int before[NCLI], i, k, moved = 0;
	uint64_t created0;

	(void)state;
	bk_open_answered(e, before, T0);
	assert_int_equal(nat_backend_set(e, 101, false), 1);
	created0 = bk_stats(e, 100).flows_created;
	bk_reload(e, all, NBK);
	assert_false(bk_stats(e, 101).up);
	assert_true(bk_stats(e, 102).up);
	assert_int_equal(bk_stats(e, 100).flows_created, created0);
	assert_int_equal(bk_stats(e, 100).flows_active, created0);
	for (i = 0; i < NCLI; i++) {
		assert_int_equal(bk_send(e, i, 40000, T0 + 10), before[i]);
		k = bk_send(e, i, 40001, T0 + 10);
		assert_int_not_equal(k, 1);
		/* the new backend takes a share; nobody moves between the old */
		if (k != 2 && before[i] != 1)
			assert_int_equal(k, before[i]);
		moved += k == 2;
	}
	assert_true(moved > NCLI / 5);
	pg_sweep_all(e, T0 + 3600 * 1000ULL);
	for (k = 0; k < NBK; k++)
		assert_int_equal(bk_stats(e, 100 + (uint32_t)k).flows_active, 0);
}

/* Flow listings name the backend; single-target rules name none. */
static void
test_info(void **state)
{
	static const int all[NBK] = { 0, 1, 2 };
	struct nat *e = bk_engine(all, NBK, NULL);
	struct nat_flow_info fi;
	char c[32];
	int k;

	(void)state;
	k = bk_send(e, 7, 40000, T0);
	assert_true(pg_find_flow(e, T0, PKT_IPPROTO_UDP, bk_client(7, c,
	    sizeof(c)), 40000, &fi));
	assert_true(fi.has_backend);
	assert_int_equal(fi.backend_id, 100 + k);
	assert_true(pg_addr_eq(&fi.reply_src, bk_addr[k]));
}

/* A reply with no flow from any backend rebuilds the flow to that one. */
static void
test_pickup(void **state)
{
	static const int all[NBK] = { 0, 1, 2 };
	struct nat *e;
	struct nat_settings s;
	struct nat_rule r;
	struct nat_backend b[NBK];
	struct nat_flow_info fi;
	struct pg_pkt x;
	struct pg_info pi;
	int k;

	(void)state;
	bk_settings(&s, &r, b, all, NBK, NULL);
	r.pub = pg_addr(P4);
	e = fx_nat(&s);
	assert_non_null(e);
	for (k = 0; k < NBK; k++) {
		pg_udp(&x, bk_addr[k], bk_port[k], C4, (uint16_t)(30000 + k), 16);
		assert_forward(e, &x, NAT_SIDE_INSIDE, T0);
		assert_parse(&x, &pi);
		assert_pkt_tuple(&pi, P4, 80, C4, 30000 + k);
		assert_true(pg_find_flow(e, T0, PKT_IPPROTO_UDP, C4,
		    (uint16_t)(30000 + k), &fi));
		assert_int_equal(fi.backend_id, 100 + k);
		/* the client's next packet goes to the backend that replied */
		pg_udp(&x, C4, (uint16_t)(30000 + k), P4, 80, 16);
		assert_forward(e, &x, NAT_SIDE_PUBLIC, T0);
		assert_parse(&x, &pi);
		assert_pkt_tuple(&pi, C4, 30000 + k, bk_addr[k], bk_port[k]);
	}
}

/* A port range maps one to one onto each backend's own first port. */
static void
test_range(void **state)
{
	struct nat_settings s;
	struct nat_rule r;
	struct nat_backend b[2];
	struct pg_pkt x;
	struct pg_info pi;
	struct nat *e;
	char c[32];
	int i, hits[2] = { 0, 0 };

	(void)state;
	r = fx_rule("10.22.22.1", NAT_P_UDP, 1000, 1009, 2000);
	r.backend_count = 2;
	memset(b, 0, sizeof(b));
	b[0].addr = pg_addr("10.22.22.1");
	b[0].port = 2000;
	b[1].addr = pg_addr("10.22.22.1");	/* same address, other ports */
	b[1].port = 3000;
	b[0].weight = b[1].weight = 1;
	b[1].id = 1;
	fx_settings(&s, &r, 1);
	s.backends = b;
	s.nbackends = 2;
	e = fx_nat(&s);
	assert_non_null(e);
	for (i = 0; i < 200; i++) {
		pg_udp(&x, bk_client(i, c, sizeof(c)), 5000, P4, 1007, 8);
		assert_forward(e, &x, NAT_SIDE_PUBLIC, T0);
		assert_parse(&x, &pi);
		assert_true(pi.dport == 2007 || pi.dport == 3007);
		hits[pi.dport == 3007]++;
	}
	assert_true(hits[0] > 50 && hits[1] > 50);
	assert_int_equal(bk_stats(e, 0).flows_active, hits[0]);
	assert_int_equal(bk_stats(e, 1).flows_active, hits[1]);
}

/* Bad backend lists are refused with a message, and nothing changes. */
static void
test_bad(void **state)
{
	static const int all[NBK] = { 0, 1, 2 };
	static const uint16_t zero[NBK] = { 1, 0, 1 };
	struct nat_settings s;
	struct nat_rule r;
	struct nat_backend b[NBK];
	char err[ERRLEN] = "";
	struct nat *e;

	(void)state;
	bk_settings(&s, &r, b, all, NBK, zero);
	assert_null(nat_create(&s, err));
	assert_non_null(strstr(err, "weight 0"));
	bk_settings(&s, &r, b, all, NBK, NULL);
	b[2] = b[0];
	assert_null(nat_create(&s, err));
	assert_non_null(strstr(err, "same address and port"));
	bk_settings(&s, &r, b, all, NBK, NULL);
	r.backend_count = 4;
	assert_null(nat_create(&s, err));
	assert_non_null(strstr(err, "outside"));
	bk_settings(&s, &r, b, all, NBK, NULL);
	b[1].port = 65535;
	r.port_hi = 81;
	assert_null(nat_create(&s, err));
	assert_non_null(strstr(err, "past 65535"));
	/* a bad reload keeps the old list */
	e = bk_engine(all, 2, NULL);
	bk_settings(&s, &r, b, all, NBK, zero);
	assert_int_equal(nat_reconfigure(e, &s, err), -1);
	assert_int_equal(nat_backend_stats(e, NULL, 0), 2);
}

/*
 * Settings with the backend rule (port 80 over backends 0 and 1, key
 * 0xb0) and a one-target rule (port 81, key 0xa0) in the order given:
 * ids follow the order as a config's do, keys follow the rule.
 */
static void
bk_two_rules(struct nat_settings *s, struct nat_rule *r,
    struct nat_backend *b, bool backend_first)
{
	size_t k = backend_first ? 0 : 1, o = 1 - k;

	r[k] = fx_rule(bk_addr[0], NAT_P_TCP | NAT_P_UDP, 80, 80, bk_port[0]);
	r[k].key = 0xb0;
	r[k].backend_count = 2;
	r[o] = fx_rule("10.22.22.9", NAT_P_TCP | NAT_P_UDP, 81, 81, 81);
	r[o].key = 0xa0;
	r[0].id = 5;
	r[1].id = 6;
	memset(b, 0, 2 * sizeof(*b));
	b[0].addr = pg_addr(bk_addr[0]);
	b[0].port = bk_port[0];
	b[1].addr = pg_addr(bk_addr[1]);
	b[1].port = bk_port[1];
	b[0].weight = b[1].weight = 1;
	/* backend ids carry the rule's place, as the config's do */
	b[0].id = 100 * (uint32_t)(k + 1);
	b[1].id = 100 * (uint32_t)(k + 1) + 1;
	fx_settings(s, r, 2);
	s->max_flows = 4 * NCLI + 64;
	s->backends = b;
	s->nbackends = 2;
}

/* The counters of rule id, failing when there is none. */
static struct nat_rule_stats
bk_rule(const struct nat *e, uint32_t id)
{
	struct nat_rule_stats st[4];
	size_t n = nat_rule_stats(e, st, 4), i;

	for (i = 0; i < n && i < 4; i++)
		if (st[i].id == id)
			return st[i];
	fail_msg("no rule %u", id);
	return st[0];
}

/*
 * A rule that moves in the config (a section inserted before it: new id,
 * same key) keeps its backends' state and totals, its counters and its
 * flows, which now show its new id.
 */
static void
test_moved_rule(void **state)
{
	struct nat_settings s;
	struct nat_rule r[2];
	struct nat_backend b[2];
	char err[ERRLEN] = "", c[32];
	struct pg_pkt x;
	struct nat *e;
	int before[NCLI / 10], i;
	struct nat_rule_stats r80;

	(void)state;
	bk_two_rules(&s, r, b, true);
	assert_non_null(e = fx_nat(&s));
	for (i = 0; i < NCLI / 10; i++)
		before[i] = bk_send(e, i, 40000, T0);
	pg_udp(&x, bk_client(1, c, sizeof(c)), 40000, P4, 81, 64);
	assert_forward(e, &x, NAT_SIDE_PUBLIC, T0);
	assert_int_equal(nat_backend_set(e, 101, false), 1);
	r80 = bk_rule(e, 5);
	assert_int_equal(r80.flows_active, NCLI / 10);

	bk_two_rules(&s, r, b, false);		/* the port-81 rule first now */
	if (nat_reconfigure(e, &s, err) != 0)
		fail_msg("nat_reconfigure: %s", err);
	assert_false(bk_stats(e, 201).up);
	assert_true(bk_stats(e, 200).up);
	assert_int_equal(bk_stats(e, 200).flows_created +
	    bk_stats(e, 201).flows_created, NCLI / 10);
	assert_int_equal(bk_rule(e, 6).flows_active, NCLI / 10);
	assert_int_equal(bk_rule(e, 6).flows_created, r80.flows_created);
	assert_int_equal(bk_rule(e, 6).packets, r80.packets);
	assert_int_equal(bk_rule(e, 5).flows_active, 1);
	for (i = 0; i < NCLI / 10; i++)
		assert_int_equal(bk_send(e, i, 40000, T0 + 10), before[i]);
	assert_int_equal(bk_rule(e, 6).packets, r80.packets + NCLI / 10);
	pg_sweep_all(e, T0 + 3600 * 1000ULL);
	assert_int_equal(bk_rule(e, 6).flows_active, 0);
	assert_int_equal(bk_stats(e, 200).flows_active, 0);
	fx_free(e);
}

/*
 * A keyed rule that a reload removes leaves its flows to no rule: the
 * rule that takes its id has only its own flows in its counters.
 */
static void
test_removed_rule(void **state)
{
	struct nat_settings s;
	struct nat_rule r[2];
	struct nat_backend b[2];
	char err[ERRLEN] = "", c[32];
	struct pg_pkt x;
	struct nat *e;
	int i;

	(void)state;
	bk_two_rules(&s, r, b, true);
	assert_non_null(e = fx_nat(&s));
	for (i = 0; i < 10; i++)
		bk_send(e, i, 40000, T0);
	pg_udp(&x, bk_client(1, c, sizeof(c)), 40000, P4, 81, 64);
	assert_forward(e, &x, NAT_SIDE_PUBLIC, T0);

	bk_two_rules(&s, r, b, false);
	r[0].id = 5;			/* the port-81 rule alone, at id 5 */
	s.nrules = 1;
	s.nbackends = 0;
	if (nat_reconfigure(e, &s, err) != 0)
		fail_msg("nat_reconfigure: %s", err);
	assert_int_equal(nat_rule_stats(e, NULL, 0), 1);
	assert_int_equal(bk_rule(e, 5).flows_active, 1);
	assert_int_equal(bk_rule(e, 5).flows_created, 1);
	pg_sweep_all(e, T0 + 3600 * 1000ULL);
	assert_int_equal(bk_rule(e, 5).flows_active, 0);
	fx_free(e);
}

/*
 * Placement depends on the placement key only: two engines with other
 * flow-hash secrets (two fronts, or one after a restart) send a client
 * to the same backend; another placement key moves some clients.
 */
static void
test_placement_key(void **state)
{
	static const int all[NBK] = { 0, 1, 2 };
	struct nat_settings s;
	struct nat_rule r;
	struct nat_backend b[NBK];
	struct nat *e1, *e2, *e3;
	int i, other = 0;

	(void)state;
	bk_settings(&s, &r, b, all, NBK, NULL);
	assert_non_null(e1 = fx_nat(&s));
	s.hash_key[0] ^= 0x5555;
	s.hash_key[1] ^= 0xaaaa;
	assert_non_null(e2 = fx_nat(&s));
	s.placement_key[0] = 7;
	assert_non_null(e3 = fx_nat(&s));
	for (i = 0; i < NCLI / 10; i++) {
		int k = bk_send(e1, i, 40000, T0);

		assert_int_equal(bk_send(e2, i, 40000, T0), k);
		other += bk_send(e3, i, 40000, T0) != k;
	}
	assert_true(other > NCLI / 10 / 4);
	fx_free(e1);
	fx_free(e2);
	fx_free(e3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_weights),
		FX_TEST(test_equal),
		FX_TEST(test_sticky),
		FX_TEST(test_remove),
		FX_TEST(test_down),
		FX_TEST(test_down_unanswered),
		FX_TEST(test_reload),
		FX_TEST(test_info),
		FX_TEST(test_pickup),
		FX_TEST(test_range),
		FX_TEST(test_bad),
		FX_TEST(test_moved_rule),
		FX_TEST(test_removed_rule),
		FX_TEST(test_placement_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
