/*
 * flow.c - the flow table: two keys per flow in one pre-sized uthash table,
 * the unassured list for eviction, lazy expiry and the bounded sweep.
 */
#include "nat/nat_int.h"

/* The flow a table node belongs to. */
struct nat_flow *
flow_of(struct flow_node *n)
{
	return (struct nat_flow *)(n - n->key.dir);
}

/* Smallest power-of-two exponent with 2^e >= n, at least 5. */
static unsigned
flow_log2(size_t n)
{
	unsigned e = 5;

	while (((size_t)1 << e) < n && e < 30)
		e++;
	return e;
}

/*
 * Make the table: one bucket per flow (two nodes each), created around a
 * permanent sentinel node so the bucket array is never freed or regrown.
 */
int
flow_init(struct nat *nat, char *err)
{
	/* small chunks: a growth on the packet path touches a few pages only */
	size_t chunk = nat->set.max_flows < 64 ? nat->set.max_flows : 64;

	if (slab_init(&nat->flow_slab, sizeof(struct nat_flow), chunk,
	    nat->set.max_flows) == -1)
		goto oom;
	nat->ht_log2 = flow_log2(nat->set.max_flows);
	memset(&nat->sentinel, 0, sizeof(nat->sentinel));
	nat->sentinel.key.dir = 2;
	nat->flows = NULL;
	HASH_ADD(hh, nat->flows, key, KEYLEN, &nat->sentinel);
	if (nat->flows == NULL)
		goto oom;
	nat->flows->hh.tbl->noexpand = 1;
	nat->flow_buckets = (size_t)1 << nat->ht_log2;
	return 0;
oom:
	snprintf(err, NAT_ERRLEN, "no memory for a table of %u flows",
	    nat->set.max_flows);
	return -1;
}

/* Free the table and every flow. */
void
flow_fini(struct nat *nat)
{
	if (nat->flows != NULL)
		HASH_CLEAR(hh, nat->flows);
	slab_destroy(&nat->flow_slab);
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

/* Find the node matching a key. */
struct flow_node *
flow_lookup(struct nat *nat, const struct nat_key *k)
{
	struct flow_node *n = NULL;

	HASH_FIND(hh, nat->flows, k, KEYLEN, n);
	return n;
}

/* Insert a flow with its original and reply keys; NULL at the limit. */
struct nat_flow *
flow_insert(struct nat *nat, const struct nat_key *k0, const struct nat_key *k1)
{
	struct nat_flow *f;

	f = slab_alloc(&nat->flow_slab);
	if (f == NULL)
		return NULL;
	memset(f, 0, sizeof(*f));
	f->node[0].key = *k0;
	f->node[0].key.dir = 0;
	f->node[1].key = *k1;
	f->node[1].key.dir = 1;
	HASH_ADD(hh, nat->flows, key, KEYLEN, &f->node[0]);
	HASH_ADD(hh, nat->flows, key, KEYLEN, &f->node[1]);
	nat->nflows++;
	nat->st.flows_active++;
	nat->st.flows_created++;
	return f;
}

/* Count a flow in or out of the per-protocol and per-state gauges. */
void
flow_gauge(struct nat *nat, const struct nat_flow *f, int64_t d)
{
	switch (f->node[0].key.proto) {
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

/* Append a flow to a list (unassured or closing), oldest first. */
static void
flow_list_add(struct nat_flow **head, struct nat_flow **tail,
    struct nat_flow *f)
{
	f->unext = NULL;
	f->uprev = *tail;
	if (*tail)
		(*tail)->unext = f;
	else
		*head = f;
	*tail = f;
}

/* Take a flow off a list. */
static void
flow_list_del(struct nat_flow **head, struct nat_flow **tail,
    struct nat_flow *f)
{
	if (f->uprev)
		f->uprev->unext = f->unext;
	else
		*head = f->unext;
	if (f->unext)
		f->unext->uprev = f->uprev;
	else
		*tail = f->uprev;
	f->uprev = f->unext = NULL;
}

/* Whether a TCP state means the connection is over. */
static bool
flow_state_closing(uint8_t s)
{
	return s == NAT_TCP_TIME_WAIT || s == NAT_TCP_CLOSED;
}

/*
 * Keep an assured flow on the closing list exactly while its connection is
 * over: such flows wait out their timeout only for stray packets, and may
 * make room when no half-open flow is left to evict.
 */
static void
flow_closing_sync(struct nat *nat, struct nat_flow *f)
{
	bool want = (f->flags & FLOW_ASSURED) &&
	    f->node[0].key.proto == PROTO_TCP && flow_state_closing(f->state);

	if (want && !(f->flags & FLOW_CLOSING)) {
		flow_list_add(&nat->chead, &nat->ctail, f);
		f->flags |= FLOW_CLOSING;
	} else if (!want && (f->flags & FLOW_CLOSING)) {
		flow_list_del(&nat->chead, &nat->ctail, f);
		f->flags &= (uint8_t)~FLOW_CLOSING;
	}
}

/* Set the TCP state (or initial state of any flow) and keep gauges right. */
void
flow_set_state(struct nat *nat, struct nat_flow *f, uint8_t s)
{
	flow_gauge(nat, f, -1);
	f->state = s;
	flow_gauge(nat, f, 1);
	flow_closing_sync(nat, f);
}

/* Append a flow to the unassured list (the eviction order). */
void
flow_unassure(struct nat *nat, struct nat_flow *f)
{
	f->flags &= (uint8_t)~FLOW_ASSURED;
	flow_closing_sync(nat, f);
	flow_list_add(&nat->uhead, &nat->utail, f);
}

/* Mark a flow assured: it is no longer a candidate for early eviction. */
void
flow_assure(struct nat *nat, struct nat_flow *f)
{
	if (f->flags & FLOW_ASSURED)
		return;
	flow_list_del(&nat->uhead, &nat->utail, f);
	f->flags |= FLOW_ASSURED;
	flow_closing_sync(nat, f);
}

/* Move a cursor off a flow about to go. */
static void
flow_cursor_fix(struct nat *nat, struct flow_node **c, struct nat_flow *f)
{
	while (*c != NULL && *c != &nat->sentinel && flow_of(*c) == f)
		*c = (*c)->hh.next;
}

/* Remove a flow: both nodes, its mapping, its place in the lists. */
void
flow_delete(struct nat *nat, struct nat_flow *f)
{
	int i;

	flow_cursor_fix(nat, &nat->sweep, f);
	for (i = 0; i < NAT_CURSORS; i++)
		flow_cursor_fix(nat, &nat->cursor[i], f);
	HASH_DELETE(hh, nat->flows, &f->node[0]);
	HASH_DELETE(hh, nat->flows, &f->node[1]);
	if (!(f->flags & FLOW_ASSURED))
		flow_list_del(&nat->uhead, &nat->utail, f);
	else if (f->flags & FLOW_CLOSING)
		flow_list_del(&nat->chead, &nat->ctail, f);
	if (f->map)
		port_unmap(nat, f->map);
	limit_release(nat, f);
	flow_gauge(nat, f, -1);
	slab_free(&nat->flow_slab, f);
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

/* Idle timeout of a flow in its current state, in seconds. */
uint32_t
flow_timeout(const struct nat *nat, const struct nat_flow *f)
{
	switch (f->node[0].key.proto) {
	case PROTO_TCP:
		return f->state == NAT_TCP_ESTABLISHED ?
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
 * packets), else the oldest unassured (half-open) flow. Assured live flows
 * are never evicted. Finished connections go first so that a burst of new
 * clients into a full table does not evict its own handshakes.
 */
bool
flow_make_room(struct nat *nat)
{
	struct nat_flow *victim;

	if (nat->nflows < nat->set.max_flows)
		return true;
	victim = nat->chead != NULL ? nat->chead : nat->uhead;
	if (victim == NULL)
		return false;
	flow_remove(nat, victim, NAT_FLOW_EVICTED);
	nat->st.flows_evicted++;
	return true;
}

/* Examine up to budget table nodes from the cursor; remove expired flows. */
size_t
flow_sweep(struct nat *nat, size_t budget)
{
	struct flow_node *n = nat->sweep ? nat->sweep : nat->flows, *next;
	struct nat_flow *f;
	size_t seen, removed = 0;

	for (seen = 0; seen < budget && seen <= 2 * nat->nflows; seen++) {
		if (n == NULL)
			n = nat->flows;
		next = n->hh.next;
		if (n->key.dir == 0) {
			f = flow_of(n);
			if (flow_expired(nat, f)) {
				nat->sweep = next;
				flow_remove(nat, f, NAT_FLOW_EXPIRED);
				next = nat->sweep;
				nat->st.flows_expired++;
				removed++;
			}
		}
		n = next;
	}
	nat->sweep = n;
	return removed;
}
