/*
 * limit.c - per-source limits: how many flows one source may hold at once
 * and how fast it may open new ones (a token bucket). IPv4 sources count by
 * address, IPv6 sources by /64 prefix (one host usually owns a whole /64).
 *
 * The source table is one array of max_flows entries and a bucket array,
 * both made once; entries are chained by index, so nothing is allocated on
 * the packet path. A source without flows stays on the idle list (keeping
 * its token count) until its slot is needed for another source.
 *
 * Shards of one relay share the first shard's table (sized for all their
 * flows), used between share_lock() and share_unlock(); `nat` is the engine
 * at work (its clock, settings and counters), nat->first the table owner,
 * whose key the table hashes with.
 */
#include "nat/nat_int.h"

/* Milli-tokens per new flow: the bucket counts in thousandths. */
#define LIMIT_ONE 1000

/* Whether any per-source limit is configured. */
static bool
limit_on(const struct nat_settings *s)
{
	return s->src_max_flows > 0 || s->src_rate > 0;
}

/* Check the limit settings. */
int
limit_check(const struct nat_settings *s, char *err)
{
	if (s->src_rate > LIMIT_RATE_MAX || s->src_burst > LIMIT_RATE_MAX) {
		snprintf(err, ERRLEN, "per-source rate %u or burst %u out "
		    "of range (allowed: 0..%u)", s->src_rate, s->src_burst,
		    LIMIT_RATE_MAX);
		return -1;
	}
	return 0;
}

/* Make the source table when limits are on and it does not exist yet. */
int
limit_init(struct nat *nat, char *err)
{
	struct limit *t = &nat->first->limit;
	uint32_t n = 32, cap = nat->set.max_flows;
	int rc = 0;

	if (!limit_on(&nat->set))
		return 0;
	if (nat_sharded(nat))
		cap *= nat->set.nshards;	/* a source may hold flows in each */
	share_lock(nat);
	if (t->ent != NULL)
		goto out;
	while (n < cap && n < (1U << 30))
		n <<= 1;
	t->ent = calloc(cap, sizeof(*t->ent));
	t->bucket = calloc(n, sizeof(*t->bucket));
	if (t->ent == NULL || t->bucket == NULL) {
		free(t->ent);
		free(t->bucket);
		t->ent = NULL;
		t->bucket = NULL;
		snprintf(err, ERRLEN, "no memory for a table of %u "
		    "sources", cap);
		rc = -1;
		goto out;
	}
	t->cap = cap;
	t->mask = n - 1;
out:
	share_unlock(nat);
	return rc;
}

/* Free the source table (the first shard's, at its end). */
void
limit_fini(struct nat *nat)
{
	if (nat->first != nat)
		return;
	free(nat->limit.ent);
	free(nat->limit.bucket);
	memset(&nat->limit, 0, sizeof(nat->limit));
}

/* The key of a packet's source: the address, or the /64 of an IPv6 one. */
static void
limit_key(const struct pkt_info *pi, uint8_t key[16])
{
	memset(key, 0, 16);
	memcpy(key, pi->src, pi->family == 4 ? 4 : 8);
}

/* Bucket of a key in the owner's table (keyed hash: sources cannot aim at
 * one chain). */
static uint32_t
limit_hash(const struct nat *own, const uint8_t key[16], uint8_t family)
{
	uint8_t buf[17];

	memcpy(buf, key, 16);
	buf[16] = family;
	return (uint32_t)sip_hash(own->hash_key, buf, sizeof(buf)) &
	    own->limit.mask;
}

/* Entry number (1-based) of a source, 0 when not tracked. */
static uint32_t
limit_find(const struct nat *own, const uint8_t key[16], uint8_t family)
{
	const struct limit *t = &own->limit;
	uint32_t i = t->bucket[limit_hash(own, key, family)];

	while (i != 0 && (t->ent[i - 1].family != family ||
	    memcmp(t->ent[i - 1].addr, key, 16) != 0))
		i = t->ent[i - 1].next;
	return i;
}

/* Append an entry to the idle list (sources without flows). */
static void
limit_idle_add(struct limit *t, uint32_t i)
{
	struct limit_src *e = &t->ent[i - 1];

	e->inext = 0;
	e->iprev = t->idle_tail;
	if (t->idle_tail)
		t->ent[t->idle_tail - 1].inext = i;
	else
		t->idle_head = i;
	t->idle_tail = i;
}

/* Take an entry off the idle list. */
static void
limit_idle_del(struct limit *t, uint32_t i)
{
	struct limit_src *e = &t->ent[i - 1];

	if (e->iprev)
		t->ent[e->iprev - 1].inext = e->inext;
	else
		t->idle_head = e->inext;
	if (e->inext)
		t->ent[e->inext - 1].iprev = e->iprev;
	else
		t->idle_tail = e->iprev;
	e->iprev = e->inext = 0;
}

/* Remove an entry from its hash chain. */
static void
limit_unhash(struct nat *own, uint32_t i)
{
	struct limit *t = &own->limit;
	struct limit_src *e = &t->ent[i - 1];
	uint32_t *p = &t->bucket[limit_hash(own, e->addr, e->family)];

	while (*p != 0 && *p != i)
		p = &t->ent[*p - 1].next;
	if (*p == i)
		*p = e->next;
	e->next = 0;
}

/* A free slot: a never-used one, else the idle source that has waited
 * longest; 0 when every source holds flows. */
static uint32_t
limit_slot(struct nat *own)
{
	struct limit *t = &own->limit;
	uint32_t i;

	if (t->used < t->cap)
		return ++t->used;
	if ((i = t->idle_head) == 0)
		return 0;
	limit_idle_del(t, i);
	limit_unhash(own, i);
	t->reclaimed++;
	return i;
}

/* Track a new source with a full bucket; it starts idle (no flow yet). */
static uint32_t
limit_new(struct nat *nat, const uint8_t key[16], uint8_t family)
{
	struct nat *own = nat->first;
	struct limit *t = &own->limit;
	struct limit_src *e;
	uint32_t i, h;

	if ((i = limit_slot(own)) == 0)
		return 0;
	e = &t->ent[i - 1];
	memset(e, 0, sizeof(*e));
	memcpy(e->addr, key, 16);
	e->family = family;
	e->tokens = (uint64_t)limit_burst(&nat->set) * LIMIT_ONE;
	e->last = nat->now_ms;
	h = limit_hash(own, key, family);
	e->next = t->bucket[h];
	t->bucket[h] = i;
	limit_idle_add(t, i);
	return i;
}

/* New flows a source may open at once. */
uint32_t
limit_burst(const struct nat_settings *s)
{
	if (s->src_burst > 0)
		return s->src_burst;
	return s->src_rate > 0 ? s->src_rate : 1;
}

/* Add the tokens earned since the last refill, up to the burst. */
static void
limit_refill(const struct nat *nat, struct limit_src *e)
{
	uint64_t cap = (uint64_t)limit_burst(&nat->set) * LIMIT_ONE;
	uint64_t dt = nat->now_ms > e->last ? nat->now_ms - e->last : 0;

	/* rate per second is rate thousandths per millisecond */
	if (dt > 3600000)
		dt = 3600000;
	e->tokens += dt * nat->set.src_rate;
	if (e->tokens > cap)
		e->tokens = cap;
	/* shards sharing the entry each have their own now: one a little
	 * behind must not move last back, or the next refill counts a span
	 * twice */
	if (nat->now_ms > e->last)
		e->last = nat->now_ms;
}

/*
 * The admission of limit_admit() with the table locked: 1 when the source
 * is new and no slot is free (room must be made first, unlocked), else as
 * limit_admit(). A shard reserves the flow at once, so that shards
 * admitting the same source together cannot pass src_max_flows.
 */
static int
limit_admit_locked(struct nat *nat, const struct pkt_info *pi, uint32_t *idx,
    bool full_ok, enum nat_drop_reason *why)
{
	struct limit *t = &nat->first->limit;
	struct limit_src *e;
	uint8_t key[16];
	uint32_t i;

	limit_key(pi, key);
	if ((i = limit_find(nat->first, key, pi->family)) == 0 &&
	    (i = limit_new(nat, key, pi->family)) == 0) {
		if (!full_ok)
			return 1;
		*why = NAT_DROP_TABLE_FULL;
		return -1;
	}
	e = &t->ent[i - 1];
	if (nat->set.src_max_flows > 0 && e->flows >= nat->set.src_max_flows) {
		*why = NAT_DROP_SRC_FLOWS;
		return -1;
	}
	if (nat->set.src_rate > 0) {
		limit_refill(nat, e);
		if (e->tokens < LIMIT_ONE) {
			*why = NAT_DROP_SRC_RATE;
			return -1;
		}
		e->tokens -= LIMIT_ONE;
	}
	if (nat_sharded(nat) && e->flows++ == 0)
		limit_idle_del(t, i);
	*idx = i;
	return 0;
}

/*
 * May the packet's source open a new flow? Sets *idx to its entry (0 when
 * limits are off) and takes a token. Checked before any flow state exists.
 * When every source holds flows the flow table is full as well (there are
 * as many slots as flows): evicting a half-open flow, with the table
 * unlocked (that frees a source of the shared table), may leave one idle.
 */
int
limit_admit(struct nat *nat, const struct pkt_info *pi, uint32_t *idx,
    enum nat_drop_reason *why)
{
	int rc;

	*idx = 0;
	if (!limit_on(&nat->set))
		return 0;
	share_lock(nat);
	if (nat->first->limit.ent == NULL)
		rc = 0;
	else if ((rc = limit_admit_locked(nat, pi, idx, false, why)) == 1) {
		share_unlock(nat);
		if (!flow_make_room(nat)) {
			*why = NAT_DROP_TABLE_FULL;
			return -1;
		}
		share_lock(nat);
		rc = limit_admit_locked(nat, pi, idx, true, why);
	}
	share_unlock(nat);
	return rc;
}

/* Count a new flow against its source (a shard reserved it already). */
void
limit_attach(struct nat *nat, struct nat_flow *f, uint32_t idx)
{
	struct limit_src *e;

	f->src = idx;
	if (idx == 0 || nat_sharded(nat))
		return;
	e = &nat->limit.ent[idx - 1];
	if (e->flows++ == 0)
		limit_idle_del(&nat->limit, idx);
}

/* Give back the flow a shard reserved when it is not opened after all. */
void
limit_cancel(struct nat *nat, uint32_t idx)
{
	struct limit *t = &nat->first->limit;
	struct limit_src *e;

	if (idx == 0 || !nat_sharded(nat))
		return;
	share_lock(nat);
	e = &t->ent[idx - 1];
	if (e->flows > 0 && --e->flows == 0)
		limit_idle_add(t, idx);
	share_unlock(nat);
}

/* A flow goes: its source holds one flow less. */
void
limit_release(struct nat *nat, struct nat_flow *f)
{
	struct limit *t = &nat->first->limit;
	struct limit_src *e;

	if (f->src == 0)
		return;
	share_lock(nat);
	if (t->ent != NULL) {
		e = &t->ent[f->src - 1];
		if (e->flows > 0 && --e->flows == 0)
			limit_idle_add(t, f->src);
	}
	share_unlock(nat);
	f->src = 0;
}

/* Sources tracked now (the first shard reports the shared table). */
size_t
limit_tracked(const struct nat *nat)
{
	size_t n;

	if (nat->first != nat)
		return 0;
	share_lock(nat);
	n = nat->limit.used;
	share_unlock(nat);
	return n;
}

/* Idle sources forgotten for new ones (the first shard reports them). */
uint64_t
limit_reclaimed(const struct nat *nat)
{
	uint64_t n;

	if (nat->first != nat)
		return 0;
	share_lock(nat);
	n = nat->limit.reclaimed;
	share_unlock(nat);
	return n;
}

/* Bytes the source table holds (the first shard counts it). */
size_t
limit_memory(const struct nat *nat)
{
	const struct limit *t = &nat->limit;
	size_t n = 0;

	if (nat->first != nat)
		return 0;
	share_lock(nat);
	if (t->ent != NULL)
		n = (size_t)t->cap * sizeof(*t->ent) +
		    ((size_t)t->mask + 1) * sizeof(*t->bucket);
	share_unlock(nat);
	return n;
}
