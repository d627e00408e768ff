/*
 * state.c - the state region: a crash-proof copy of the flows the rules
 * cannot rebuild (full NAT and hairpin: the engine chose their relay port),
 * kept in memory the caller supplies (a shared file mapping in the daemon),
 * and their adoption by a new engine after a restart.
 *
 * Layout: a header (struct state_hdr), then one fixed-size record per
 * possible flow id, the IPv4 ids first, then the IPv6 ones (flow_at()). A
 * record is written whole when its flow is made (the valid word last), its
 * state word when the TCP state or the assurance changes (one aligned 32-bit
 * store that carries its own complement), and its valid word cleared first
 * when the flow goes. Whenever the writer dies, every record is whole,
 * invalid, or fails its check. Nothing is written per packet: counters and
 * the idle time are not saved. Host byte order: a region is only read on the
 * machine that wrote it.
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/nat_int.h"

#define STATE_MAGIC	"TRLYSTAT"	/* 8 bytes, no NUL in the region */
#define STATE_LIVE	0x4556494cU	/* a record's valid word: "LIVE" */
#define STATE_HDR_SIZE	64
#define STATE_ID_ROUND	64		/* flow ids: max_flows rounded up to this */

/* The region's header; magic is written last, after the check value. */
struct state_hdr {
	char magic[8];
	uint32_t version;		/* NAT_STATE_VERSION */
	uint32_t hdr_size;		/* STATE_HDR_SIZE */
	uint32_t rec_size;		/* sizeof(struct state_rec) */
	uint32_t slots;			/* records per family */
	uint32_t max_flows;		/* settings the records depend on */
	uint16_t port_lo, port_hi;	/* nat_ports */
	uint32_t check;			/* of the fields from version on */
	uint8_t pad[28];
};

/* How a saved flow's relay endpoint was mapped. */
enum state_map {
	STATE_MAP_NONE = 0,		/* source kept: no mapping */
	STATE_MAP_SHARED,		/* the client endpoint's shared mapping */
	STATE_MAP_PRIVATE,		/* a mapping of its own (a clash) */
};

/* One saved flow: what re-creating it needs, nothing that changes per packet. */
struct state_rec {
	uint32_t valid;			/* STATE_LIVE, written last; 0 first on delete */
	uint32_t word;			/* state | flags << 8, complement << 16 */
	uint32_t check;			/* of the bytes from rule_id to the end */
	uint32_t rule_id;
	uint32_t created;		/* engine seconds */
	uint16_t port[4];		/* original sport, dport; reply sport, dport */
	uint16_t map_port;		/* the relay port (0 without a mapping) */
	uint16_t mtu;
	uint8_t family, proto, side, map;	/* map: enum state_map */
	uint8_t addr[4][16];		/* original src, dst; reply src, dst */
	uint32_t rule_key;		/* low half of the rule's key
					 * (nat_rule.key): the rule even when a
					 * config edit moved its id; 0: by id */
};

_Static_assert(sizeof(struct state_hdr) == STATE_HDR_SIZE,
    "state header size");
_Static_assert(sizeof(struct state_rec) == 104, "state record size");

/* The flags a record keeps (FLOW_CLOSING follows from them, REBUILD never saved). */
#define STATE_FLAGS (FLOW_SNAT | FLOW_REPLIED | FLOW_ASSURED | FLOW_FIN0 | \
	FLOW_FIN1 | FLOW_PICKUP)

static const char *const state_drop_names[NAT_STATE_DROP_MAX] = {
	"corrupt", "bad_field", "no_rule", "bad_relay", "clash", "full",
};

/* Name of a drop reason, for logs. */
const char *
nat_state_drop_name(enum nat_state_drop r)
{
	return (unsigned)r < NAT_STATE_DROP_MAX ? state_drop_names[r] :
	    "unknown";
}

/* FNV-1a of n bytes: cheap, and enough to catch torn or flipped bytes. */
static uint32_t
state_fnv(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t h = 2166136261U;

	while (n-- > 0)
		h = (h ^ *b++) * 16777619U;
	return h;
}

/* The check value of a record (over its fixed part). */
static uint32_t
state_rec_check(const struct state_rec *r)
{
	return state_fnv(&r->rule_id,
	    sizeof(*r) - offsetof(struct state_rec, rule_id));
}

/* The check value of a header. */
static uint32_t
state_hdr_check(const struct state_hdr *h)
{
	return state_fnv(&h->version,
	    offsetof(struct state_hdr, check) - offsetof(struct state_hdr, version));
}

/* The state word of a flow: state and flags, then their complement. */
static uint32_t
state_word(const struct nat_flow *f)
{
	uint32_t v = f->state | (uint32_t)(f->flags & STATE_FLAGS) << 8;

	return v | (~v & 0xffffU) << 16;
}

/* Order the stores before it ahead of those after it, for a reader after a crash. */
static void
state_fence(void)
{
	atomic_thread_fence(memory_order_release);
}

/* Records per family for max_flows: every id a flow pool can hand out. */
static size_t
state_slots(uint32_t max_flows)
{
	/* pool chunks are powers of two up to 64 flows: all divide 64 */
	return ((size_t)max_flows + STATE_ID_ROUND - 1) / STATE_ID_ROUND *
	    STATE_ID_ROUND;
}

/* Bytes of a region for max_flows flows. */
size_t
nat_state_size(uint32_t max_flows)
{
	if (max_flows == 0 || max_flows > (1U << 24))
		return 0;
	return STATE_HDR_SIZE + 2 * state_slots(max_flows) *
	    sizeof(struct state_rec);
}

/* A flow's record in the engine's region, or NULL when none is attached. */
static struct state_rec *
state_at(const struct nat *nat, const struct nat_flow *f)
{
	uint32_t i = f->id & ~FLOW_V6;

	if (nat->state.rec == NULL || i >= nat->state.slots)
		return NULL;
	return &nat->state.rec[(f->id & FLOW_V6) ? nat->state.slots + i : i];
}

/* Fill a record (valid word 0) from a flow. */
static void
state_fill(struct nat *nat, struct state_rec *r, const struct nat_flow *f)
{
	const struct nat_rule_stats *rs = rule_stats_find(nat, f->rule_id);
	struct nat_key k0, k1;

	flow_key(f, 0, &k0);
	flow_key(f, 1, &k1);
	memset(r, 0, sizeof(*r));
	r->rule_id = f->rule_id;
	r->rule_key = rs != NULL ? (uint32_t)rs->key : 0;
	r->created = f->created;
	r->port[0] = k0.sport;
	r->port[1] = k0.dport;
	r->port[2] = k1.sport;
	r->port[3] = k1.dport;
	r->mtu = f->mtu;
	r->family = flow_family(f);
	r->proto = f->proto;
	r->side = f->side;
	if (f->map != NULL) {
		r->map = f->map->hashed ? STATE_MAP_SHARED : STATE_MAP_PRIVATE;
		r->map_port = f->map->ext_port;
	}
	memcpy(r->addr[0], k0.src, 16);
	memcpy(r->addr[1], k0.dst, 16);
	memcpy(r->addr[2], k1.src, 16);
	memcpy(r->addr[3], k1.dst, 16);
	r->word = state_word(f);
	r->check = state_rec_check(r);
}

/*
 * Write a flow's whole record (a new flow, or one started over); a flow the
 * rules rebuild has none.
 */
void
state_put(struct nat *nat, const struct nat_flow *f)
{
	struct state_rec *r = state_at(nat, f), t;

	if (r == NULL)
		return;
	if (f->flags & FLOW_REBUILD) {
		if (r->valid != 0)
			r->valid = 0;
		return;
	}
	state_fill(nat, &t, f);
	r->valid = 0;
	state_fence();
	memcpy(r, &t, sizeof(t));
	state_fence();
	r->valid = STATE_LIVE;
}

/* Save a flow's new TCP state or flags (one store; the record stays whole). */
void
state_note(struct nat *nat, const struct nat_flow *f)
{
	struct state_rec *r = state_at(nat, f);

	if (r != NULL && r->valid == STATE_LIVE && !(f->flags & FLOW_REBUILD))
		r->word = state_word(f);
}

/* A flow goes: its record is no longer valid. */
void
state_forget(struct nat *nat, const struct nat_flow *f)
{
	struct state_rec *r = state_at(nat, f);

	if (r != NULL && r->valid != 0)
		r->valid = 0;
}

/* Write the region's header for this engine (magic last). */
static void
state_hdr_write(struct nat *nat, void *region)
{
	struct state_hdr *h = region;

	memset(h->magic, 0, sizeof(h->magic));
	state_fence();
	h->version = NAT_STATE_VERSION;
	h->hdr_size = STATE_HDR_SIZE;
	h->rec_size = sizeof(struct state_rec);
	h->slots = (uint32_t)state_slots(nat->set.max_flows);
	h->max_flows = nat->set.max_flows;
	h->port_lo = nat->set.nat_port_lo;
	h->port_hi = nat->set.nat_port_hi;
	memset(h->pad, 0, sizeof(h->pad));
	h->check = state_hdr_check(h);
	state_fence();
	memcpy(h->magic, STATE_MAGIC, sizeof(h->magic));
}

/* Write the engine's records into a region from now on. */
int
nat_state_attach(struct nat *nat, void *region, size_t len,
    char err[ERRLEN])
{
	size_t need = nat_state_size(nat->set.max_flows);
	size_t ids = nat->flow_slab.maxchunks * nat->flow_slab.per_chunk;
	uint32_t id;

	if (region == NULL) {
		nat->state.rec = NULL;
		nat->state.slots = 0;
		return 0;
	}
	if (len < need) {
		snprintf(err, ERRLEN, "state region of %zu bytes is too "
		    "small: %u flows need %zu", len, nat->set.max_flows, need);
		return -1;
	}
	if ((uintptr_t)region % 8 != 0 ||
	    ids > state_slots(nat->set.max_flows)) {
		snprintf(err, ERRLEN, "state region not 8-byte aligned, "
		    "or flow ids beyond its records");
		return -1;
	}
	state_hdr_write(nat, region);
	nat->state.rec = (struct state_rec *)(void *)((uint8_t *)region +
	    STATE_HDR_SIZE);
	nat->state.slots = (uint32_t)state_slots(nat->set.max_flows);
	for (id = nat->ahead; id != FLOW_NONE; id = flow_at(nat, id)->all.next)
		state_put(nat, flow_at(nat, id));
	return 0;
}

/* Check a saved header against the engine; -1 with why it cannot be used. */
static int
state_hdr_ok(const struct nat *nat, const void *old, size_t len, char *err)
{
	struct state_hdr h;
	size_t need;

	if (old == NULL || len < STATE_HDR_SIZE) {
		snprintf(err, ERRLEN, "truncated: %zu bytes, shorter than "
		    "the %d-byte header", old == NULL ? 0 : len, STATE_HDR_SIZE);
		return -1;
	}
	memcpy(&h, old, sizeof(h));
	if ((uintptr_t)old % 8 != 0)
		snprintf(err, ERRLEN, "not 8-byte aligned");
	else if (memcmp(h.magic, STATE_MAGIC, sizeof(h.magic)) != 0)
		snprintf(err, ERRLEN, "not a tunrelay state file (bad "
		    "magic)");
	else if (h.version != NAT_STATE_VERSION)
		snprintf(err, ERRLEN, "format version %u, this tunrelay "
		    "reads version %u", h.version, NAT_STATE_VERSION);
	else if (h.check != state_hdr_check(&h))
		snprintf(err, ERRLEN, "damaged header (check value)");
	else if (h.hdr_size != STATE_HDR_SIZE ||
	    h.rec_size != sizeof(struct state_rec))
		snprintf(err, ERRLEN, "header of %u and records of %u "
		    "bytes, this tunrelay's are %d and %zu", h.hdr_size,
		    h.rec_size, STATE_HDR_SIZE, sizeof(struct state_rec));
	else if (h.max_flows != nat->set.max_flows)
		snprintf(err, ERRLEN, "written with max_flows %u, now %u",
		    h.max_flows, nat->set.max_flows);
	else if (h.port_lo != nat->set.nat_port_lo ||
	    h.port_hi != nat->set.nat_port_hi)
		snprintf(err, ERRLEN, "written with nat_ports %u-%u, now "
		    "%u-%u", h.port_lo, h.port_hi, nat->set.nat_port_lo,
		    nat->set.nat_port_hi);
	else if (h.slots != state_slots(h.max_flows))
		snprintf(err, ERRLEN, "damaged header (%u records for "
		    "max_flows %u)", h.slots, h.max_flows);
	else if (len < (need = nat_state_size(h.max_flows)))
		snprintf(err, ERRLEN, "truncated: %zu bytes, its %u flows "
		    "need %zu", len, h.max_flows, need);
	else
		return 0;
	return -1;
}

/* Whether the first IPv4 address bytes are followed by zeroes only. */
static bool
state_v4_clean(const uint8_t a[16])
{
	static const uint8_t zero[12];

	return memcmp(a + 4, zero, sizeof(zero)) == 0;
}

/* Whether a record's protocol, family, state, side and flags fit together. */
static bool
state_kinds_ok(const struct state_rec *r, uint8_t state, uint8_t flags)
{
	bool icmp = r->family == 4 ? r->proto == PROTO_ICMP :
	    r->proto == PROTO_ICMPV6;

	if (r->family != 4 && r->family != 6)
		return false;
	if (r->proto != PROTO_TCP && r->proto != PROTO_UDP && !icmp)
		return false;
	if (state >= NAT_TCP_STATE_MAX ||
	    (r->proto != PROTO_TCP && state != NAT_TCP_NONE))
		return false;
	if ((r->side != NAT_SIDE_PUBLIC && r->side != NAT_SIDE_LAN) ||
	    r->map > STATE_MAP_PRIVATE || (flags & ~STATE_FLAGS) != 0)
		return false;
	/* every LAN-side flow has its source rewritten, and only those mapped */
	if (((flags & FLOW_SNAT) != 0) != (r->map != STATE_MAP_NONE) ||
	    (r->side == NAT_SIDE_LAN && r->map == STATE_MAP_NONE))
		return false;
	return true;
}

/* Whether a record's addresses and ports are consistent with its kind. */
static bool
state_tuples_ok(const struct state_rec *r)
{
	bool ports = r->proto == PROTO_TCP || r->proto == PROTO_UDP;
	int i;

	for (i = 0; r->family == 4 && i < 4; i++)
		if (!state_v4_clean(r->addr[i]))
			return false;
	/* an echo flow's identifier stands in the source port, dport is 0 */
	if (!ports && (r->port[1] != 0 || r->port[3] != 0))
		return false;
	if (r->map == STATE_MAP_NONE)
		/* the source kept: the reply goes to the client itself */
		return r->map_port == 0 &&
		    memcmp(r->addr[3], r->addr[0], 16) == 0;
	return r->map_port != 0 && r->map_port == r->port[ports ? 3 : 2];
}

/*
 * The rule a record names (by its key when it was saved with one, else by
 * id), if it still exists and fits the flow.
 */
static const struct nat_rule *
state_rule(const struct nat *nat, const struct state_rec *r)
{
	uint8_t bit = r->proto == PROTO_TCP ? NAT_P_TCP :
	    r->proto == PROTO_UDP ? NAT_P_UDP : NAT_P_ICMP;
	size_t i;

	for (i = 0; i < nat->set.nrules; i++)
		if ((r->rule_key != 0 ?
		    (uint32_t)nat->rules[i].key == r->rule_key :
		    nat->rules[i].id == r->rule_id) &&
		    nat->rules[i].action == NAT_RULE_DNAT &&
		    nat->rules[i].family == r->family &&
		    (nat->rules[i].protos & bit))
			return &nat->rules[i];
	return NULL;
}

/*
 * Whether a mapped record's relay endpoint is one the engine hands out now:
 * a port of nat_ports on the hairpin source (LAN side) or on a full NAT
 * rule's relay_src (public side).
 */
static bool
state_relay_ok(const struct nat *nat, const struct state_rec *r)
{
	const struct nat_rule *x;
	size_t i;

	if (r->map_port < nat->set.nat_port_lo ||
	    r->map_port > nat->set.nat_port_hi || !port_mine(nat, r->map_port))
		return false;
	if (r->side == NAT_SIDE_LAN) {
		if (r->family == 4)
			return nat->set.hairpin4 &&
			    memcmp(nat->set.hairpin_src4.b, r->addr[3], 16) == 0;
		return nat->set.hairpin6 &&
		    memcmp(nat->set.hairpin_src6.b, r->addr[3], 16) == 0;
	}
	for (i = 0; i < nat->set.nrules; i++) {
		x = &nat->rules[i];
		if (x->action == NAT_RULE_DNAT &&
		    x->source == NAT_SOURCE_RELAY && x->family == r->family &&
		    memcmp(x->relay_src.b, r->addr[3], 16) == 0)
			return true;
	}
	return false;
}

/* A record's original (k0) and reply (k1) keys. */
static void
state_keys(const struct state_rec *r, struct nat_key *k0, struct nat_key *k1)
{
	memset(k0, 0, sizeof(*k0));
	memset(k1, 0, sizeof(*k1));
	memcpy(k0->src, r->addr[0], 16);
	memcpy(k0->dst, r->addr[1], 16);
	memcpy(k1->src, r->addr[2], 16);
	memcpy(k1->dst, r->addr[3], 16);
	k0->sport = r->port[0];
	k0->dport = r->port[1];
	k1->sport = r->port[2];
	k1->dport = r->port[3];
	k0->proto = k1->proto = r->proto;
	k0->family = k1->family = r->family;
	k1->dir = 1;
}

/*
 * Give an adopted flow its saved rule, side, state and flags, and put it on
 * the lists they call for; its idle time starts now. A kept-source flow that
 * the current rules rebuild (reply-side pickup) needs no record any more.
 */
static void
state_flow_init(struct nat *nat, struct nat_flow *f, const struct state_rec *r,
    const struct nat_rule *rule, uint8_t state, uint8_t flags)
{
	struct nat_key k0, k1, k;

	f->side = r->side;
	f->simopen = 0;		/* not saved: the client's ACK still opens */
	f->rule_id = rule->id;		/* the rule's id now */
	rule_stats_flow(nat, f->rule_id, 1, false);
	backend_flow(nat, f, 1, false);
	f->mtu = r->mtu;
	f->created = r->created <= nat->now ? r->created : nat->now;
	f->seen = nat->now;
	f->flags = flags & (uint8_t)~FLOW_ASSURED;
	if (r->map == STATE_MAP_NONE) {
		state_keys(r, &k0, &k1);
		if (rule_reverse(nat, &k1, &k) == rule &&
		    memcmp(&k, &k0, KEYLEN) == 0)
			f->flags |= FLOW_REBUILD;
	}
	f->state = state;
	flow_gauge(nat, f, 1);
	flow_unassure(nat, f);
	if (flags & FLOW_ASSURED)
		flow_assure(nat, f);
}

/* Re-create the flow of a checked record; its relay port is claimed again. */
static int
state_insert(struct nat *nat, const struct state_rec *r,
    const struct nat_rule *rule, uint8_t state, uint8_t flags)
{
	struct nat_mapping *m = NULL;
	struct nat_key k0, k1;
	struct nat_addr ext;
	struct nat_flow *f;
	bool clash;

	state_keys(r, &k0, &k1);
	if (r->map == STATE_MAP_NONE && !port_mine(nat,
	    k1.proto == PROTO_TCP || k1.proto == PROTO_UDP ? k1.dport : k1.sport))
		return NAT_STATE_BAD_RELAY;	/* another shard's client port */
	if (flow_lookup(nat, &k0, NULL) != NULL ||
	    flow_lookup(nat, &k1, NULL) != NULL)
		return NAT_STATE_CLASH;
	if (nat->nflows >= nat->set.max_flows)
		return NAT_STATE_FULL;
	if (r->map != STATE_MAP_NONE) {
		memcpy(ext.b, r->addr[3], 16);
		m = port_claim(nat, &k0, &ext, r->map_port,
		    r->map == STATE_MAP_SHARED, &clash);
		if (m == NULL)
			return clash ? NAT_STATE_CLASH : NAT_STATE_FULL;
	}
	if ((f = flow_insert(nat, &k0, &k1, m)) == NULL) {
		if (m != NULL)
			port_unmap(nat, m);
		return NAT_STATE_FULL;
	}
	state_flow_init(nat, f, r, rule, state, flags);
	return -1;
}

/* Check one live record and adopt its flow: -1, or why it was dropped. */
static int
state_adopt_one(struct nat *nat, const struct state_rec *r)
{
	const struct nat_rule *rule;
	uint32_t w = r->word;
	uint8_t state = (uint8_t)(w & 0xff), flags = (uint8_t)(w >> 8 & 0xff);

	if (r->valid != STATE_LIVE || r->check != state_rec_check(r) ||
	    (w >> 16) != (~w & 0xffffU))
		return NAT_STATE_CORRUPT;
	if (!state_kinds_ok(r, state, flags) || !state_tuples_ok(r))
		return NAT_STATE_BAD_FIELD;
	if ((rule = state_rule(nat, r)) == NULL)
		return NAT_STATE_NO_RULE;
	if (r->map != STATE_MAP_NONE && !state_relay_ok(nat, r))
		return NAT_STATE_BAD_RELAY;
	return state_insert(nat, r, rule, state, flags);
}

/* Whether a saved region as a whole can be trusted (nat.h). */
int
nat_state_check(const struct nat *nat, const void *old, size_t len,
    char err[ERRLEN])
{
	return state_hdr_ok(nat, old, len, err);
}

/* Take over the flows of a saved region. */
int
nat_state_adopt(struct nat *nat, const void *old, size_t len, uint64_t now,
    struct nat_state_report *rep, char err[ERRLEN])
{
	const struct state_rec *recs;
	struct state_rec r;
	size_t i, n;
	int why;

	memset(rep, 0, sizeof(*rep));
	if (state_hdr_ok(nat, old, len, err) == -1)
		return -1;
	nat_clock(nat, now);
	n = 2 * state_slots(nat->set.max_flows);
	recs = (const struct state_rec *)(const void *)((const uint8_t *)old +
	    STATE_HDR_SIZE);
	for (i = 0; i < n; i++) {
		/* one copy: the checks and the flow see the same bytes */
		memcpy(&r, &recs[i], sizeof(r));
		if (r.valid == 0)
			continue;
		rep->records++;
		if ((why = state_adopt_one(nat, &r)) < 0) {
			rep->adopted++;
			continue;
		}
		rep->dropped[why]++;
		rep->dropped_total++;
	}
	return 0;
}
