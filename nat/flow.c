/*
 * flow.c - the flow table: flows in an indexed pool, both keys of each in the
 * pre-sized flow index (fidx.c), every flow on a list in creation order,
 * the unassured list for eviction, lazy expiry and the bounded sweep.
 */
#include <stddef.h>

#include "nat/nat_int.h"

/*
 * Whether a flow's key in direction dir is k. Keys are built with zeroes
 * past an IPv4 address (flow_key_from_pkt, icmp_key, the normalised rules
 * and mappings), so the stored address bytes are the whole comparison.
 */
static bool
flow_match(const struct nat_flow *f, int dir, const struct nat_key *k)
{
	if (f->port[2 * dir] != k->sport || f->port[2 * dir + 1] != k->dport ||
	    f->proto != k->proto || flow_family(f) != k->family)
		return false;
	/* constant lengths: the compiler compares in place, no libc call */
	if (flow_alen(f) == 4)
		return memcmp(flow_src(f, dir), k->src, 4) == 0 &&
		    memcmp(flow_dst(f, dir), k->dst, 4) == 0;
	return memcmp(flow_src(f, dir), k->src, 16) == 0 &&
	    memcmp(flow_dst(f, dir), k->dst, 16) == 0;
}

/* Rebuild a flow's key in direction dir (0 original, 1 reply). */
void
flow_key(const struct nat_flow *f, int dir, struct nat_key *k)
{
	size_t alen = flow_alen(f);

	memset(k, 0, sizeof(*k));
	memcpy(k->src, flow_src(f, dir), alen);
	memcpy(k->dst, flow_dst(f, dir), alen);
	k->sport = f->port[2 * dir];
	k->dport = f->port[2 * dir + 1];
	k->proto = f->proto;
	k->family = flow_family(f);
	k->dir = (uint8_t)dir;
}

/*
 * An IPv4 flow fills one 96-byte pool object (slab.c rounds to 16): with
 * its two index entries that is the <= 128 bytes per flow of
 * docs/performance.md. A field more needs a field less.
 */
_Static_assert(offsetof(struct nat_flow, addr) + FLOW_ADDRS * 4 <= 96,
    "an IPv4 flow outgrows 96 bytes");

/* Object size of a flow with addresses of alen bytes (no tail padding). */
static size_t
flow_size(size_t alen)
{
	return offsetof(struct nat_flow, addr) + FLOW_ADDRS * alen;
}

/*
 * Make the table: the flow pools (grown in chunks as flows come) and the
 * index, sized at once for both keys of max_flows flows.
 */
int
flow_init(struct nat *nat, char *err)
{
	/* small chunks: a growth on the packet path touches a few pages only */
	size_t chunk = nat->set.max_flows < 64 ? nat->set.max_flows : 64;

	nat->ahead = nat->atail = FLOW_NONE;
	nat->uhead = nat->utail = FLOW_NONE;
	nat->chead = nat->ctail = FLOW_NONE;
	nat->rhead = nat->rtail = FLOW_NONE;
	nat->sweep = FLOW_NONE;
	if (slab_iinit(&nat->flow_slab, flow_size(4), chunk,
	    nat->set.max_flows) == -1 ||
	    slab_iinit(&nat->flow6_slab, flow_size(16), chunk,
	    nat->set.max_flows) == -1 ||
	    fidx_init(&nat->index, 2 * (size_t)nat->set.max_flows) == -1) {
		snprintf(err, ERRLEN, "no memory for a table of %u flows",
		    nat->set.max_flows);
		return -1;
	}
	return 0;
}

/* Free the table and every flow. */
void
flow_fini(struct nat *nat)
{
	fidx_fini(&nat->index);
	slab_destroy(&nat->flow_slab);
	slab_destroy(&nat->flow6_slab);
}

/* Build the lookup key of a packet (no padding garbage). */
void
flow_key_from_pkt(struct nat_key *k, const struct pkt_info *pi)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->src, pi->src, pi->alen);
	memcpy(k->dst, pi->dst, pi->alen);
	k->sport = pi->sport;
	k->dport = pi->dport;
	k->proto = pi->proto;
	k->family = pi->family;
}

/* The index hash of a key: keyed, so that nobody can aim at one slot. */
static uint32_t
flow_hash(const struct nat *nat, const struct nat_key *k)
{
	return (uint32_t)sip_hash(nat->hash_key, k, KEYLEN);
}

/* The index reference of a flow's key in direction dir. */
static uint32_t
flow_ref(uint32_t id, int dir)
{
	return (id << 1 | (uint32_t)dir) + 1;
}

/* Find the flow with a key, and which of its keys (0 original, 1 reply). */
struct nat_flow *
flow_lookup(struct nat *nat, const struct nat_key *k, int *dir)
{
	uint32_t h = flow_hash(nat, k), pos = fidx_home(&nat->index, h), ref;
	struct nat_flow *f;

	while ((ref = fidx_scan(&nat->index, h, &pos)) != 0) {
		f = flow_at(nat, (ref - 1) >> 1);
		if (!flow_match(f, (int)((ref - 1) & 1), k))
			continue;
		if (dir != NULL)
			*dir = (int)((ref - 1) & 1);
		return f;
	}
	return NULL;
}

/* A flow's link on the list whose links sit at offset off. */
static struct flow_link *
flow_link(const struct nat *nat, uint32_t id, size_t off)
{
	return (struct flow_link *)(void *)((uint8_t *)flow_at(nat, id) + off);
}

/* Append a flow to a list (all, unassured or closing), oldest first. */
static void
flow_list_add(struct nat *nat, uint32_t *head, uint32_t *tail,
    struct nat_flow *f, size_t off)
{
	struct flow_link *l = flow_link(nat, f->id, off);

	l->next = FLOW_NONE;
	l->prev = *tail;
	if (*tail != FLOW_NONE)
		flow_link(nat, *tail, off)->next = f->id;
	else
		*head = f->id;
	*tail = f->id;
}

/* Take a flow off a list. */
static void
flow_list_del(struct nat *nat, uint32_t *head, uint32_t *tail,
    struct nat_flow *f, size_t off)
{
	struct flow_link *l = flow_link(nat, f->id, off);

	if (l->prev != FLOW_NONE)
		flow_link(nat, l->prev, off)->next = l->next;
	else
		*head = l->next;
	if (l->next != FLOW_NONE)
		flow_link(nat, l->next, off)->prev = l->prev;
	else
		*tail = l->prev;
	l->prev = l->next = FLOW_NONE;
}

/* offsets of the two lists' links in a flow */
#define FLOW_ALL	offsetof(struct nat_flow, all)
#define FLOW_EVICT	offsetof(struct nat_flow, evict)

/* Store a new flow's keys; the reply destination comes from its mapping. */
static void
flow_set_keys(struct nat_flow *f, const struct nat_key *k0,
    const struct nat_key *k1, struct nat_mapping *m)
{
	size_t alen = k0->family == 4 ? 4 : 16;

	f->proto = k0->proto;
	f->map = m;
	memcpy(f->addr, k0->src, alen);
	memcpy(f->addr + alen, k0->dst, alen);
	memcpy(f->addr + 2 * alen, k1->src, alen);
	f->port[0] = k0->sport;
	f->port[1] = k0->dport;
	f->port[2] = k1->sport;
	f->port[3] = k1->dport;
}

/* Take a flow object of the key's family and its id; NULL at the limit. */
static struct nat_flow *
flow_alloc(struct nat *nat, uint8_t family, uint32_t *id)
{
	struct nat_flow *f;

	if (family == 4)
		return slab_ialloc(&nat->flow_slab, id);
	f = slab_ialloc(&nat->flow6_slab, id);
	*id |= FLOW_V6;
	return f;
}

/* Give a flow object back to its pool. */
static void
flow_free(struct nat *nat, struct nat_flow *f)
{
	if (f->id & FLOW_V6)
		slab_ifree(&nat->flow6_slab, f, f->id & ~FLOW_V6);
	else
		slab_ifree(&nat->flow_slab, f, f->id);
}

/*
 * Insert a flow with its original and reply keys and its mapping (or NULL);
 * NULL at the limit. The reply key must end at the mapping's relay endpoint,
 * or at the client when the source is kept: that part is not stored.
 */
struct nat_flow *
flow_insert(struct nat *nat, const struct nat_key *k0, const struct nat_key *k1,
    struct nat_mapping *m)
{
	struct nat_flow *f;
	uint32_t id, h0 = flow_hash(nat, k0), h1 = flow_hash(nat, k1);

	if (nat->nflows >= nat->set.max_flows ||
	    (f = flow_alloc(nat, k0->family, &id)) == NULL)
		return NULL;
	memset(f, 0, flow_size(k0->family == 4 ? 4 : 16));
	f->id = id;
	flow_set_keys(f, k0, k1, m);
	/* the index holds 2 * max_flows entries: a refusal is a bug, kept safe */
	if (fidx_add(&nat->index, h0, flow_ref(id, 0)) == -1) {
		flow_free(nat, f);
		return NULL;
	}
	if (fidx_add(&nat->index, h1, flow_ref(id, 1)) == -1) {
		fidx_del(&nat->index, h0, flow_ref(id, 0));
		flow_free(nat, f);
		return NULL;
	}
	flow_list_add(nat, &nat->ahead, &nat->atail, f, FLOW_ALL);
	f->evict.prev = f->evict.next = FLOW_NONE;
	nat->nflows++;
	nat->st.flows_active++;
	nat->st.flows_created++;
	return f;
}

/* Count a flow in or out of the per-protocol and per-state gauges. */
void
flow_gauge(struct nat *nat, const struct nat_flow *f, int64_t d)
{
	switch (f->proto) {
	case PROTO_TCP:
		nat->st.flows_by_state[f->state] += (uint64_t)d;
		break;
	case PROTO_UDP:
		nat->st.flows_udp += (uint64_t)d;
		break;
	default:
		nat->st.flows_icmp += (uint64_t)d;
		break;
	}
}

/* Whether a TCP state means the connection is over. */
static bool
flow_state_closing(uint8_t s)
{
	return s == NAT_TCP_TIME_WAIT || s == NAT_TCP_CLOSED;
}

/* The eviction lists of assured flows (the unassured list is apart). */
enum flow_list {
	FLOW_LIST_NONE = 0,	/* live and not rebuildable: never evicted */
	FLOW_LIST_CLOSING,	/* over: waits only for stray packets */
	FLOW_LIST_REBUILD,	/* keep mode: the rules rebuild it if it goes */
};

/* The list an assured flow's state and kind call for. */
static enum flow_list
flow_list_want(const struct nat_flow *f)
{
	if (f->proto == PROTO_TCP && flow_state_closing(f->state))
		return FLOW_LIST_CLOSING;
	return (f->flags & FLOW_REBUILD) ? FLOW_LIST_REBUILD : FLOW_LIST_NONE;
}

/* The list an assured flow is on now (FLOW_CLOSING marks the closing one). */
static enum flow_list
flow_list_now(const struct nat_flow *f)
{
	if (f->flags & FLOW_CLOSING)
		return FLOW_LIST_CLOSING;
	return (f->flags & FLOW_REBUILD) ? FLOW_LIST_REBUILD : FLOW_LIST_NONE;
}

/* Move an assured flow from one eviction list to another. */
static void
flow_list_move(struct nat *nat, struct nat_flow *f, enum flow_list from,
    enum flow_list to)
{
	if (from == to)
		return;
	if (from == FLOW_LIST_CLOSING)
		flow_list_del(nat, &nat->chead, &nat->ctail, f, FLOW_EVICT);
	else if (from == FLOW_LIST_REBUILD)
		flow_list_del(nat, &nat->rhead, &nat->rtail, f, FLOW_EVICT);
	if (to == FLOW_LIST_CLOSING)
		flow_list_add(nat, &nat->chead, &nat->ctail, f, FLOW_EVICT);
	else if (to == FLOW_LIST_REBUILD)
		flow_list_add(nat, &nat->rhead, &nat->rtail, f, FLOW_EVICT);
	if (to == FLOW_LIST_CLOSING)
		f->flags |= FLOW_CLOSING;
	else
		f->flags &= (uint8_t)~FLOW_CLOSING;
}

/*
 * Keep an assured flow on the list its state calls for: a connection that is
 * over waits out its timeout only for stray packets, and a flow the rules
 * rebuild costs nothing to lose, so both may make room when needed.
 */
static void
flow_evict_sync(struct nat *nat, struct nat_flow *f)
{
	if (f->flags & FLOW_ASSURED)
		flow_list_move(nat, f, flow_list_now(f), flow_list_want(f));
}

/* Set the TCP state (or initial state of any flow) and keep gauges right. */
void
flow_set_state(struct nat *nat, struct nat_flow *f, uint8_t s)
{
	flow_gauge(nat, f, -1);
	f->state = s;
	flow_gauge(nat, f, 1);
	flow_evict_sync(nat, f);
	state_note(nat, f);
}

/* Append a flow to the unassured list (the eviction order). */
void
flow_unassure(struct nat *nat, struct nat_flow *f)
{
	if (f->flags & FLOW_ASSURED) {
		flow_list_move(nat, f, flow_list_now(f), FLOW_LIST_NONE);
		f->flags &= (uint8_t)~FLOW_ASSURED;
	}
	flow_list_add(nat, &nat->uhead, &nat->utail, f, FLOW_EVICT);
	state_put(nat, f);	/* a new flow, or one started over */
}

/* Mark a flow assured: off the unassured list, onto the one it calls for. */
void
flow_assure(struct nat *nat, struct nat_flow *f)
{
	if (f->flags & FLOW_ASSURED)
		return;
	flow_list_del(nat, &nat->uhead, &nat->utail, f, FLOW_EVICT);
	f->flags |= FLOW_ASSURED;
	f->flags &= (uint8_t)~FLOW_CLOSING;
	flow_list_move(nat, f, FLOW_LIST_NONE, flow_list_want(f));
	state_note(nat, f);
}

/* Move a cursor off a flow about to go, to the flow after it. */
static void
flow_cursor_fix(uint32_t *c, const struct nat_flow *f)
{
	if (*c == f->id)
		*c = f->all.next;
}

/* Remove both of a flow's keys from the index. */
static void
flow_unindex(struct nat *nat, const struct nat_flow *f)
{
	struct nat_key k;
	int d;

	for (d = 0; d < 2; d++) {
		flow_key(f, d, &k);
		(void)fidx_del(&nat->index, flow_hash(nat, &k),
		    flow_ref(f->id, d));
	}
}

/* Remove a flow: both keys, its mapping, its place in the lists. */
void
flow_delete(struct nat *nat, struct nat_flow *f)
{
	int i;

	state_forget(nat, f);
	flow_cursor_fix(&nat->sweep, f);
	for (i = 0; i < NAT_CURSORS; i++)
		flow_cursor_fix(&nat->cursor[i], f);
	flow_unindex(nat, f);
	flow_list_del(nat, &nat->ahead, &nat->atail, f, FLOW_ALL);
	if (!(f->flags & FLOW_ASSURED))
		flow_list_del(nat, &nat->uhead, &nat->utail, f, FLOW_EVICT);
	else
		flow_list_move(nat, f, flow_list_now(f), FLOW_LIST_NONE);
	if (f->map)
		port_unmap(nat, f->map);
	limit_release(nat, f);
	flow_gauge(nat, f, -1);
	rule_stats_flow(nat, f->rule_id, -1, false);
	backend_flow(nat, f, -1, false);
	flow_free(nat, f);
	nat->nflows--;
	nat->st.flows_active--;
}

/* Remove a flow and tell the flow hook why. */
void
flow_remove(struct nat *nat, struct nat_flow *f, enum nat_flow_event ev)
{
	nat_flow_event(nat, f, ev);
	flow_delete(nat, f);
}

/*
 * Idle timeout of a flow in its current state, in seconds. An established
 * TCP flow gets the long timeout once it is assured: one picked up from a
 * single stray segment (a late packet after the close) waits no longer than
 * a closing one.
 */
uint32_t
flow_timeout(const struct nat *nat, const struct nat_flow *f)
{
	switch (f->proto) {
	case PROTO_TCP:
		return f->state == NAT_TCP_ESTABLISHED &&
		    (f->flags & FLOW_ASSURED) ?
		    nat->set.tcp_established : nat->set.tcp_transitory;
	case PROTO_UDP:
		return nat->set.udp_timeout;
	}
	return nat->set.icmp_timeout;
}

/*
 * Whether a flow has been idle longer than its timeout. Times are whole
 * seconds, so "longer than" keeps the real idle time at or above the timeout.
 */
bool
flow_expired(const struct nat *nat, const struct nat_flow *f)
{
	return nat->now - f->seen > flow_timeout(nat, f);
}

/*
 * Make room for one more flow when the table is full: evict the oldest
 * connection that is over (TIME_WAIT, CLOSED: it only waits for stray
 * packets), else the oldest unassured (half-open) flow, else the oldest
 * assured flow the rules rebuild (keep mode: its next packet from either side
 * opens it again). Assured live flows that cannot be rebuilt (full NAT,
 * hairpin) are never evicted. Finished connections go first so that a burst
 * of new clients into a full table does not evict its own handshakes.
 */
bool
flow_make_room(struct nat *nat)
{
	uint32_t victim;

	if (nat->nflows < nat->set.max_flows)
		return true;
	victim = nat->chead != FLOW_NONE ? nat->chead :
	    nat->uhead != FLOW_NONE ? nat->uhead : nat->rhead;
	if (victim == FLOW_NONE)
		return false;
	flow_remove(nat, flow_at(nat, victim), NAT_FLOW_EVICTED);
	nat->st.flows_evicted++;
	return true;
}

/*
 * Examine up to budget flows from the cursor, oldest first and round again;
 * remove the expired ones.
 */
size_t
flow_sweep(struct nat *nat, size_t budget)
{
	uint32_t id = nat->sweep;
	struct nat_flow *f;
	size_t seen, removed = 0;

	for (seen = 0; seen < budget && seen < nat->nflows; seen++) {
		if (id == FLOW_NONE)
			id = nat->ahead;
		f = flow_at(nat, id);
		id = f->all.next;
		if (flow_expired(nat, f)) {
			nat->sweep = id;
			flow_remove(nat, f, NAT_FLOW_EXPIRED);
			id = nat->sweep;
			nat->st.flows_expired++;
			removed++;
		}
	}
	nat->sweep = id;
	return removed;
}
