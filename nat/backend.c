/*
 * backend.c - rules with several backends: weighted rendezvous hashing of
 * new flows by client address, backend state (up or down, set by the
 * caller's health checks) and per-backend counters.
 *
 * A flow does not record its backend: the backend's address is the flow's
 * reply source (and, with a port range, its port says which of two
 * backends on one address), so the flow record keeps its size.
 */
#include "nat/nat_int.h"

/* Whether an address is all zeroes. */
static bool
backend_zero(const struct nat_addr *a)
{
	static const struct nat_addr zero;

	return memcmp(a, &zero, sizeof(zero)) == 0;
}

/* Validate one backend b of rule r (rule number i). */
static int
backend_check_one(const struct nat_rule *r, size_t i,
    const struct nat_backend *b, char *err)
{
	uint32_t span = (uint32_t)r->port_hi - r->port_lo;

	if (backend_zero(&b->addr))
		snprintf(err, ERRLEN, "rule %zu: backend %u has no address",
		    i, b->id);
	else if (b->weight < 1 || b->weight > NAT_WEIGHT_MAX)
		snprintf(err, ERRLEN, "rule %zu: backend %u weight %u "
		    "(allowed: 1..%u)", i, b->id, b->weight, NAT_WEIGHT_MAX);
	else if (b->port != 0 && (uint32_t)b->port + span > 65535)
		snprintf(err, ERRLEN, "rule %zu: backend %u ports %u-%u run "
		    "past 65535", i, b->id, b->port, b->port + span);
	else
		return 0;
	return -1;
}

/* Whether two backends of a family are the same address and port. */
static bool
backend_same(const struct nat_backend *a, const struct nat_backend *b,
    uint8_t family)
{
	return a->port == b->port &&
	    memcmp(a->addr.b, b->addr.b, family == 4 ? 4 : 16) == 0;
}

/* Validate the backends of every rule that has several. */
int
backend_check(const struct nat_settings *s, char *err)
{
	const struct nat_rule *r;
	size_t i, j, k;

	for (i = 0; i < s->nrules; i++) {
		r = &s->rules[i];
		if (r->backend_count == 0)
			continue;
		if (r->action != NAT_RULE_DNAT || s->backends == NULL ||
		    r->backend_first > s->nbackends ||
		    r->backend_count > s->nbackends - r->backend_first) {
			snprintf(err, ERRLEN, "rule %zu: backends %u..+%u "
			    "outside the %zu given", i, r->backend_first,
			    r->backend_count, s->nbackends);
			return -1;
		}
		for (j = r->backend_first; j < r->backend_first +
		    r->backend_count; j++) {
			if (backend_check_one(r, i, &s->backends[j], err) == -1)
				return -1;
			for (k = r->backend_first; k < j; k++)
				if (backend_same(&s->backends[k],
				    &s->backends[j], r->family)) {
					snprintf(err, ERRLEN, "rule %zu: "
					    "backends %u and %u are the same "
					    "address and port", i,
					    s->backends[k].id, s->backends[j].id);
					return -1;
				}
		}
	}
	return 0;
}

/*
 * Copy the backends of every rule into one array, in rule order, and point
 * each rule (already the engine's copy) at its own entries. -1: no memory.
 */
int
backend_make(const struct nat_settings *s, struct nat_rule *rules,
    struct nat_bk **out, size_t *nout)
{
	struct nat_bk *bk;
	const struct nat_backend *b;
	size_t n = 0, i, j, o = 0;

	for (i = 0; i < s->nrules; i++)
		n += rules[i].backend_count;
	if ((bk = calloc(n ? n : 1, sizeof(*bk))) == NULL)
		return -1;
	for (i = 0; i < s->nrules; i++) {
		if (rules[i].backend_count == 0)
			continue;
		for (j = 0; j < rules[i].backend_count; j++) {
			b = &s->backends[rules[i].backend_first + j];
			bk[o + j].st.id = b->id;
			bk[o + j].st.rule_id = rules[i].id;
			bk[o + j].rule_key = rules[i].key;
			bk[o + j].st.family = rules[i].family;
			bk[o + j].st.addr = b->addr;
			if (rules[i].family == 4)
				memset(bk[o + j].st.addr.b + 4, 0, 12);
			bk[o + j].st.port = b->port;
			bk[o + j].st.weight = b->weight;
			bk[o + j].st.up = !b->down;
			bk[o + j].span = (uint16_t)(rules[i].port_hi -
			    rules[i].port_lo);
		}
		rules[i].backend_first = (uint32_t)o;
		o += rules[i].backend_count;
	}
	*out = bk;
	*nout = n;
	return 0;
}

/*
 * The entry of old[0..n) that is the same backend of the same rule as b:
 * the rule by its key when it has one (its id may have moved), else by id.
 */
static const struct nat_bk *
backend_find_old(const struct nat_bk *old, size_t n, const struct nat_bk *b)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((b->rule_key != 0 ? old[i].rule_key == b->rule_key :
		    old[i].rule_key == 0 && old[i].st.rule_id == b->st.rule_id) &&
		    old[i].st.family == b->st.family &&
		    old[i].st.port == b->st.port &&
		    memcmp(&old[i].st.addr, &b->st.addr, 16) == 0)
			return &old[i];
	return NULL;
}

/*
 * Put new backends in place (after the rules and rule counters): one a
 * reload keeps keeps its state and totals; the flows of each are counted
 * again, since flows stay whatever the list says now.
 */
void
backend_take(struct nat *nat, struct nat_bk *bk, size_t n)
{
	const struct nat_bk *o;
	const struct nat_flow *f;
	struct nat_backend_stats keep;
	size_t i;
	uint32_t id;

	for (i = 0; i < n; i++) {
		if ((o = backend_find_old(nat->bk, nat->nbk, &bk[i])) == NULL)
			continue;
		keep = o->st;
		/* the new list's id and weight, the old state and totals */
		keep.id = bk[i].st.id;
		keep.weight = bk[i].st.weight;
		bk[i].st = keep;
	}
	for (i = 0; i < n; i++)
		bk[i].st.flows_active = 0;
	free(nat->bk);
	nat->bk = bk;
	nat->nbk = n;
	backend_index(nat, nat->rbk);
	for (id = nat->ahead; id != FLOW_NONE; id = f->all.next) {
		f = flow_at(nat, id);
		backend_flow(nat, f, 1, false);
	}
}

/* An index of nrstats ranges (one per rule id); NULL: no memory. */
struct nat_bk_range *
backend_ranges_new(size_t nrstats)
{
	return calloc(nrstats ? nrstats : 1, sizeof(struct nat_bk_range));
}

/* Fill rbk (one per rule id of nat->rstats) with each id's backends. */
void
backend_index(struct nat *nat, struct nat_bk_range *rbk)
{
	const struct nat_rule *r;
	size_t i, j;

	for (i = 0; i < nat->nrstats; i++) {
		rbk[i].first = rbk[i].count = 0;
		for (j = 0; j < nat->set.nrules; j++) {
			r = &nat->rules[j];
			if (r->id == nat->rstats[i].id && r->backend_count > 0) {
				rbk[i].first = r->backend_first;
				rbk[i].count = r->backend_count;
				break;
			}
		}
	}
}

/* Floor of log2 of a non-zero value. */
static unsigned
backend_ilog2(uint64_t v)
{
	unsigned n = 0;

	while (v >>= 1)
		n++;
	return n;
}

/*
 * -log2(u) in 16.16 fixed point for a uniform u in (0, 1] made of the top
 * 53 bits of h; never 0. Integer only: the engine has no libm. The
 * fraction bits come from repeated squaring of the mantissa.
 */
static uint64_t
backend_neglog2(uint64_t h)
{
	uint64_t u = (h >> 11) + 1, x, l;
	unsigned n = backend_ilog2(u), k;

	x = n <= 31 ? u << (31 - n) : u >> (n - 31);	/* [2^31, 2^32) */
	l = (uint64_t)n << 16;
	for (k = 16; k-- > 0;) {
		x = (x * x) >> 31;
		if (x >= (1ULL << 32)) {
			x >>= 1;
			l |= 1ULL << k;
		}
	}
	l = (53ULL << 16) - l;
	return l ? l : 1;
}

/*
 * A backend's -log2 of its keyed hash with a client: the client's score
 * for it is weight / that, the highest score wins (weighted rendezvous
 * hashing: each backend gets its weight's share, and removing one moves
 * only the clients it had).
 */
static uint64_t
backend_draw(const struct nat *nat, const struct nat_bk *b,
    const uint8_t *client)
{
	uint8_t buf[16 + 16 + 2];
	size_t alen = b->st.family == 4 ? 4 : 16;

	memset(buf, 0, sizeof(buf));
	memcpy(buf, client, alen);
	memcpy(buf + 16, b->st.addr.b, alen);
	buf[32] = (uint8_t)(b->st.port >> 8);
	buf[33] = (uint8_t)b->st.port;
	return backend_neglog2(sip_hash(nat->set.placement_key, buf,
	    sizeof(buf)));
}

/*
 * The backend of rule r for a new flow from client: the best scoring one
 * that is up, or of all when none is (checks that fail everywhere say more
 * about the checks than the backends). NULL: r has a single target.
 */
const struct nat_bk *
backend_pick(const struct nat *nat, const struct nat_rule *r,
    const uint8_t *client)
{
	const struct nat_bk *b, *best = NULL;
	uint64_t d, bd = 0;
	uint32_t i;
	int pass;

	if (r->backend_count == 0)
		return NULL;
	for (pass = 0; pass < 2 && best == NULL; pass++)
		for (i = 0; i < r->backend_count; i++) {
			b = &nat->bk[r->backend_first + i];
			if (pass == 0 && !b->st.up)
				continue;
			d = backend_draw(nat, b, client);
			/* w/d > bw/bd, without division */
			if (best == NULL || (uint64_t)b->st.weight * bd >
			    (uint64_t)best->st.weight * d) {
				best = b;
				bd = d;
			}
		}
	return best;
}

/* The backends of a rule id: its range, or NULL when it has none. */
static const struct nat_bk_range *
backend_range(const struct nat *nat, uint32_t rule_id)
{
	size_t lo = 0, hi = nat->nrstats, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (nat->rstats[mid].id == rule_id)
			return nat->rbk[mid].count ? &nat->rbk[mid] : NULL;
		if (nat->rstats[mid].id < rule_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The backend of range rg a flow goes to, or NULL (no longer listed). */
static struct nat_bk *
backend_of_range(const struct nat *nat, const struct nat_bk_range *rg,
    const struct nat_flow *f)
{
	struct nat_bk *b, *any = NULL;
	bool ports = f->proto == PROTO_TCP || f->proto == PROTO_UDP;
	uint16_t port = f->port[2];
	uint32_t i;

	for (i = 0; i < rg->count; i++) {
		b = &nat->bk[rg->first + i];
		if (b->st.family != flow_family(f) ||
		    memcmp(b->st.addr.b, flow_addr(f, 2), flow_alen(f)) != 0)
			continue;
		/* ICMP has no ports: the address decides */
		if (!ports)
			return b;
		if (b->st.port != 0 && port >= b->st.port &&
		    port - b->st.port <= b->span)
			return b;
		/* a kept port says nothing: only when no port range matches */
		if (b->st.port == 0 && any == NULL)
			any = b;
	}
	return any;
}

/* The backend a flow goes to, or NULL (one target, or no longer listed). */
struct nat_bk *
backend_of(const struct nat *nat, const struct nat_flow *f)
{
	const struct nat_bk_range *rg;

	if (nat->nbk == 0 || (rg = backend_range(nat, f->rule_id)) == NULL)
		return NULL;
	return backend_of_range(nat, rg, f);
}

/* Count a flow of its backend in (delta 1; created: new) or out (-1). */
void
backend_flow(struct nat *nat, const struct nat_flow *f, int delta,
    bool created)
{
	struct nat_bk *b = backend_of(nat, f);

	if (b == NULL)
		return;
	if (delta > 0)
		b->st.flows_active++;
	else if (b->st.flows_active > 0)
		b->st.flows_active--;
	if (created)
		b->st.flows_created++;
}

/* Count a packet of len bytes of a flow (of a rule with backends rg). */
void
backend_count(struct nat *nat, const struct nat_bk_range *rg,
    const struct nat_flow *f, size_t len)
{
	struct nat_bk *b = backend_of_range(nat, rg, f);

	if (b != NULL) {
		b->st.packets++;
		b->st.bytes += len;
	}
}

/* Set every backend with an id up or down; see nat.h. */
int
nat_backend_set(struct nat *nat, uint32_t id, bool up)
{
	size_t i;
	int found = 0, changed = 0;

	for (i = 0; i < nat->nbk; i++) {
		if (nat->bk[i].st.id != id)
			continue;
		found = 1;
		if (nat->bk[i].st.up == up)
			continue;
		nat->bk[i].st.up = up;
		if (up)
			nat->bk[i].st.ups++;
		else
			nat->bk[i].st.downs++;
		changed++;
	}
	return found ? changed : -1;
}

/* Copy every backend's state and counters; their number. */
size_t
nat_backend_stats(const struct nat *nat, struct nat_backend_stats *out,
    size_t max)
{
	size_t i;

	for (i = 0; i < nat->nbk && i < max; i++)
		out[i] = nat->bk[i].st;
	return nat->nbk;
}
