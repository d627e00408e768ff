/*
 * fixture.c - engines for the NAT unit tests: default settings, the common
 * rules, creation, and freeing at teardown.
 */
#include <stdio.h>
#include <string.h>

#include "fixture.h"

/*
 * Settings for tests over rules[0..nrules): a small table, fixed keys,
 * defaults elsewhere.
 */
void
fx_settings(struct nat_settings *s, const struct nat_rule *rules,
    size_t nrules)
{
	memset(s, 0, sizeof(*s));
	s->rules = rules;
	s->nrules = nrules;
	s->max_flows = 1024;
	s->hash_key[0] = 0x0123456789abcdefULL;
	s->hash_key[1] = 0xfedcba9876543210ULL;
	s->port_seed = 0x5eed;
	/* tests of a full table look at the drop; test_nat_full turns it on */
	s->table_full_icmp_off = true;
}

/*
 * A DNAT rule keeping the source: ports lo..hi of protos to `to` (to_port 0
 * keeps the port).
 */
struct nat_rule
fx_rule(const char *to, uint8_t protos, uint16_t lo, uint16_t hi,
    uint16_t to_port)
{
	struct nat_rule r;

	memset(&r, 0, sizeof(r));
	r.family = (uint8_t)pg_addr_family(to);
	r.action = NAT_RULE_DNAT;
	r.protos = protos;
	r.source = NAT_SOURCE_KEEP;
	r.port_lo = lo;
	r.port_hi = hi;
	r.to = pg_addr(to);
	r.to_port = to_port;
	return r;
}

/* A full NAT rule: as fx_rule(), the source rewritten to relay_src. */
struct nat_rule
fx_relay_rule(const char *to, uint8_t protos, uint16_t lo, uint16_t hi,
    uint16_t to_port, const char *relay_src)
{
	struct nat_rule r = fx_rule(to, protos, lo, hi, to_port);

	r.source = NAT_SOURCE_RELAY;
	r.relay_src = pg_addr(relay_src);
	return r;
}

/*
 * The keep-client-ip catch-all of both families: every port and protocol
 * to the backend B4 (r[0]) and B6 (r[1]). Returns the number of rules, 2.
 */
size_t
fx_keep_all(struct nat_rule r[2])
{
	r[0] = fx_rule(B4, ALLP, 1, 65535, 0);
	r[1] = fx_rule(B6, ALLP, 1, 65535, 0);
	return 2;
}

/* Engines made by fx_nat() and not yet freed (a failed test leaves some). */
static struct nat *live[256];
static size_t nlive;

/* Create an engine, printing the error on failure. */
struct nat *
fx_nat(const struct nat_settings *s)
{
	char err[ERRLEN] = "";
	struct nat *n = nat_create(s, err);

	if (n == NULL)
		fprintf(stderr, "nat_create: %s\n", err);
	else if (nlive < sizeof(live) / sizeof(live[0]))
		live[nlive++] = n;
	return n;
}

/* An engine with the default settings over rules[0..nrules). */
struct nat *
fx_engine(const struct nat_rule *rules, size_t nrules)
{
	struct nat_settings s;

	fx_settings(&s, rules, nrules);
	return fx_nat(&s);
}

/* Destroy an engine made by fx_nat(). */
void
fx_free(struct nat *n)
{
	size_t i;

	for (i = 0; i < nlive; i++)
		if (live[i] == n) {
			live[i] = live[--nlive];
			break;
		}
	nat_destroy(n);
}

/* cmocka teardown: destroy the engines a failed test left behind. */
int
fx_teardown(void **state)
{
	(void)state;
	while (nlive > 0)
		nat_destroy(live[--nlive]);
	return 0;
}

