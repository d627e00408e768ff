/*
 * nat_int.h - internals shared by the engine's files. Not installed.
 */
#ifndef TUNRELAY_NAT_INT_H
#define TUNRELAY_NAT_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nat/nat.h"

#define PROTO_ICMP	1
#define PROTO_TCP	6
#define PROTO_UDP	17
#define PROTO_ICMPV6	58

#define TCP_FIN	0x01
#define TCP_SYN	0x02
#define TCP_RST	0x04
#define TCP_ACK	0x10

/* siphash (sip.c) */
uint64_t sip_hash(const uint64_t key[2], const void *, size_t);

/*
 * uthash configuration (mappings and fragment trackers; flows have their own
 * index, fidx.c). The hash is keyed with the instance's secret, so every
 * function that uses a HASH_* macro must have `struct nat *nat` in scope.
 * Tables are made once, pre-sized to 2^nat->ht_log2 buckets around a sentinel, and
 * never expand (noexpand), so no insert ever rehashes or allocates.
 */
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) do { } while (0)
#define HASH_FUNCTION(keyptr, keylen, hashv) \
	((hashv) = (uint32_t)sip_hash(nat->hash_key, (keyptr), (keylen)))
#include <uthash.h>
#undef HASH_INITIAL_NUM_BUCKETS
#undef HASH_INITIAL_NUM_BUCKETS_LOG2
#define HASH_INITIAL_NUM_BUCKETS (1U << nat->ht_log2)
#define HASH_INITIAL_NUM_BUCKETS_LOG2 (nat->ht_log2)

/* checksums (csum.c); words are big-endian 16-bit, sums unfolded */
uint32_t csum_add(uint32_t, const void *, size_t);
uint16_t csum_fold(uint32_t);
uint32_t csum_diff(uint32_t, const void *, const void *, size_t);
uint32_t csum_diff16(uint32_t, uint16_t, uint16_t);
void csum_apply(uint8_t *, uint32_t, bool);
uint16_t rd16(const uint8_t *);
void wr16(uint8_t *, uint16_t);
uint32_t rd32(const uint8_t *);

/* fixed-size object pool, grown in chunks up to a maximum (slab.c) */
struct slab {
	size_t size;
	size_t per_chunk;
	size_t max;
	size_t live;
	size_t nchunks;
	size_t maxchunks;
	void **chunks;
	void *free;
	uint32_t ifree;			/* indexed pools: first free object */
	unsigned shift;			/* indexed pools: per_chunk is 1 << shift */
};
int slab_init(struct slab *, size_t, size_t, size_t);
void *slab_alloc(struct slab *);
void slab_free(struct slab *, void *);
void slab_destroy(struct slab *);
size_t slab_bytes(const struct slab *);
int slab_iinit(struct slab *, size_t, size_t, size_t);
void *slab_ialloc(struct slab *, uint32_t *);
void slab_ifree(struct slab *, void *, uint32_t);

/* Object i of an indexed pool (it must be allocated). */
static inline void *
slab_at(const struct slab *s, uint32_t i)
{
	return (uint8_t *)s->chunks[i >> s->shift] +
	    (size_t)(i & (s->per_chunk - 1)) * s->size;
}

/* a parsed packet (pkt.c) */
struct pkt_info {
	uint8_t *ip;
	size_t len;		/* datagram length from the IP header */
	uint8_t family;		/* 4 or 6 */
	uint8_t proto;		/* upper-layer protocol */
	uint8_t *src, *dst;	/* into the header */
	uint8_t alen;		/* 4 or 16 */
	uint8_t *ttl;		/* TTL or hop limit byte */
	uint16_t l4off;		/* 0 for a non-first fragment */
	size_t l4len;		/* upper-layer bytes in this packet */
	bool frag, first_frag;
	uint32_t frag_id;
	uint32_t frag_off;	/* bytes */
	uint16_t sport, dport;	/* host order; ICMP echo: id, 0 */
	uint8_t tcp_flags;
	uint8_t icmp_type;
	bool icmp_echo;		/* echo request or reply */
	bool icmp_request;
	bool icmp_error;
};

int pkt_parse(struct pkt_info *, uint8_t *, size_t, bool, enum nat_drop_reason *);
int pkt_csum_offset(uint8_t);
bool pkt_icmp_is_error(uint8_t, uint8_t);
bool pkt_l4_valid(const struct pkt_info *);
bool pkt_csum_ok(const struct pkt_info *, const struct nat_pkt *, bool);

/* flow table keys: no padding; KEYLEN bytes are hashed and compared */
struct nat_key {
	uint8_t src[16];
	uint8_t dst[16];
	uint16_t sport;
	uint16_t dport;
	uint8_t proto;
	uint8_t family;
	uint8_t dir;		/* not part of the key: 0 original, 1 reply */
	uint8_t pad;
};
#define KEYLEN 38

/*
 * The flow index (fidx.c): open addressing over (reference, hash) entries,
 * made once for a fixed capacity. A reference is (flow id << 1 | dir) + 1;
 * 0 marks an empty slot.
 */
#define FIDX_LOAD_NUM	7	/* at most 70 % of the slots in use */
#define FIDX_LOAD_DEN	10
struct fidx_ent {
	uint32_t ref;
	uint32_t hash;
};

struct fidx {
	struct fidx_ent *ent;
	uint32_t size;		/* slots */
	uint32_t cap;		/* entries allowed */
	uint32_t used;
};

int fidx_init(struct fidx *, size_t);
void fidx_fini(struct fidx *);
size_t fidx_bytes(const struct fidx *);
int fidx_add(struct fidx *, uint32_t, uint32_t);
int64_t fidx_find(const struct fidx *, uint32_t, uint32_t);
int fidx_del(struct fidx *, uint32_t, uint32_t);
void fidx_del_at(struct fidx *, uint32_t);

/* Home slot of a hash: multiply-shift maps it onto any table size. */
static inline uint32_t
fidx_home(const struct fidx *x, uint32_t hash)
{
	return (uint32_t)(((uint64_t)hash * x->size) >> 32);
}

/*
 * Next reference with this hash from slot *pos on, moving *pos past it; 0 at
 * the empty slot that ends the probe. Inline: it is the packet path.
 */
static inline uint32_t
fidx_scan(const struct fidx *x, uint32_t hash, uint32_t *pos)
{
	uint32_t i = *pos, ref;

	while ((ref = x->ent[i].ref) != 0) {
		bool hit = x->ent[i].hash == hash;

		i = i + 1 == x->size ? 0 : i + 1;
		if (hit) {
			*pos = i;
			return ref;
		}
	}
	*pos = i;
	return 0;
}

#define FLOW_NONE	UINT32_MAX	/* no flow: list ends, cursors at the end */

/* flow flags */
#define FLOW_SNAT	0x01	/* source rewritten (full NAT or hairpin) */
#define FLOW_REPLIED	0x02	/* a packet went the reply way */
#define FLOW_ASSURED	0x04	/* not evictable */
#define FLOW_FIN0	0x08
#define FLOW_FIN1	0x10
#define FLOW_PICKUP	0x20	/* opened mid-stream */
#define FLOW_CLOSING	0x40	/* assured, over, on the closing list */
#define FLOW_REBUILD	0x80	/* keep mode: the rules rebuild it (reply-side pickup) */

struct nat_mapping;

/*
 * Bytes of a flow's TCP window record: per direction 28 bits, the end of its
 * sequence numbers seen (in 4 KiB units), the window scale it announced and
 * a class of the largest window it advertised (tcp.c, "Window tracking").
 */
#define TCP_TW_BYTES	7

/* a place on a list of flows, by id */
struct flow_link {
	uint32_t prev, next;
};

/*
 * A flow. Its two keys are not stored whole: the original key is
 * (addr 0, port 0) -> (addr 1, port 1), the reply key (addr 2, port 2) ->
 * (the mapping's relay address, or addr 0 when the source is kept, port 3).
 * Addresses take 4 bytes in IPv4 flows and 16 in IPv6 ones, which come from
 * a pool of their own (flow_at()); flow_key() rebuilds a key.
 */
struct nat_flow {
	struct flow_link all;		/* every flow, oldest first (walks, sweep) */
	struct flow_link evict;		/* unassured or closing list */
	struct nat_mapping *map;
	uint32_t id;			/* FLOW_V6 | place in its pool */
	uint32_t created, seen;		/* seconds */
	uint32_t rule_id;
	uint32_t pkts[2];
	uint32_t src;			/* per-source limit entry, 1-based; 0 none */
	uint32_t bytes_lo[2];		/* 48-bit byte counters (flow_bytes()) */
	uint16_t bytes_hi[2];
	uint16_t port[4];		/* original src, dst; reply src, dst */
	uint16_t mtu;			/* the rule's MTU toward the target */
	uint8_t proto;
	uint8_t state : 4;		/* enum nat_tcp_state for TCP */
	uint8_t side : 3;
	uint8_t simopen : 1;		/* TCP: the target sent a bare SYN (a
					 * simultaneous open; tcp.c) */
	uint8_t flags;
	uint8_t tw[TCP_TW_BYTES];	/* TCP sequence/window tracking (tcp.c) */
	uint8_t addr[];			/* original src, dst; reply src */
};
#define FLOW_V6		(1U << 30)	/* id bit: the IPv6 pool */
#define FLOW_ADDRS	3		/* addresses stored per flow */

/* full NAT port pools, one per (family, protocol, relay address) */
struct port_pool {
	struct nat_addr addr;
	uint8_t family, proto;
	uint32_t used;
	uint64_t bits[65536 / 64];
};

struct map_key {
	uint8_t int_addr[16];
	uint8_t ext_addr[16];
	uint16_t int_port;
	uint8_t proto;
	uint8_t family;
};
#define MAPKEYLEN sizeof(struct map_key)

struct nat_mapping {
	UT_hash_handle hh;
	struct map_key key;
	struct port_pool *pool;
	uint32_t refs;
	uint16_t ext_port;
	bool hashed;			/* false: private to one flow (clash) */
};

/* fragment trackers */
struct frag_key {
	uint8_t src[16];
	uint8_t dst[16];
	uint32_t id;
	uint8_t proto;
	uint8_t family;
	uint8_t pad[2];
};
#define FRAGKEYLEN 38

struct frag_buf {
	struct frag_buf *next;
	size_t len;
	uint8_t side;
	bool untouched;			/* released as it came (NAT_NOT_OURS) */
	uint8_t data[];
};

struct frag {
	UT_hash_handle hh;
	struct frag_key key;
	uint8_t nsrc[16], ndst[16];	/* translated addresses */
	uint32_t expires;
	bool resolved;
	bool pass;			/* left alone (NAT_NOT_OURS): so are the rest */
	struct frag_buf *queue;
};

/* per-source limits (limit.c): entries and chains by 1-based index */
#define LIMIT_RATE_MAX 1000000
struct limit_src {
	uint8_t addr[16];		/* IPv4 address, or IPv6 /64 prefix */
	uint8_t family;
	uint32_t flows;			/* flows held now */
	uint32_t next;			/* hash chain */
	uint32_t iprev, inext;		/* idle list (flows == 0), oldest first */
	uint64_t tokens;		/* thousandths of a new flow */
	uint64_t last;			/* ms of the last refill */
};

struct limit {
	struct limit_src *ent;		/* cap entries, made once */
	uint32_t *bucket;		/* mask + 1 chain heads */
	uint32_t cap, used, mask;
	uint32_t idle_head, idle_tail;
	uint64_t reclaimed;
};

/* the caller's region of flow records (state.c) */
struct state_rec;
struct state_region {
	struct state_rec *rec;		/* 2 * slots records; NULL: not attached */
	uint32_t slots;			/* records per family (IPv4, IPv6) */
};

/* a token bucket (icmp.c): tokens in thousandths, refilled from now */
struct icmp_bucket {
	uint64_t tokens;
	uint64_t last;			/* ms of the last refill */
};
#define ICMP_TABLE_FULL_RATE	10	/* default errors per second */
#define ICMP_RATE_MAX		100000

#define NAT_MAX_POOLS 64
#define SCRATCH 1280

struct nat {
	struct nat_settings set;
	struct nat_rule *rules;
	struct nat_rule_stats *rstats;	/* one per distinct rule id, by id */
	size_t nrstats;
	struct nat_bk *bk;		/* backends of the rules, in rule order */
	size_t nbk;
	struct nat_bk_range *rbk;	/* per rstats entry: its backends */
	uint64_t hash_key[2];
	struct nat_stats st;
	uint32_t now;			/* seconds, of the packet being processed */
	uint64_t now_ms;		/* the same in milliseconds */
	unsigned ht_log2;		/* bucket count of the uthash table being made */

	struct fidx index;		/* both keys of every flow */
	struct slab flow_slab;		/* IPv4 flows, by id */
	struct slab flow6_slab;		/* IPv6 flows, by id without FLOW_V6 */
	size_t nflows;
	uint32_t ahead, atail;		/* every flow, oldest first */
	uint32_t uhead, utail;		/* unassured, oldest first */
	uint32_t chead, ctail;		/* assured but over, oldest first */
	uint32_t rhead, rtail;		/* assured, live, rebuildable, oldest first */
	uint32_t sweep;			/* sweep cursor */
	uint32_t cursor[NAT_CURSORS];	/* listing walks */
	bool cursor_busy[NAT_CURSORS];

	struct nat_mapping *maps;
	struct nat_mapping map_sentinel;
	struct slab map_slab;
	struct port_pool *pools[NAT_MAX_POOLS];
	size_t npools;

	struct frag *frags;
	struct frag frag_sentinel;
	struct slab frag_slab;
	size_t nfrags;
	size_t frag_bytes;
	struct frag_buf *ready, *ready_tail;
	uint8_t ready_sides;

	nat_flow_hook *hook;		/* flow events, or NULL */
	void *hook_arg;
	struct limit limit;
	struct state_region state;	/* crash-proof flow records, or none */
	struct icmp_bucket full_icmp;	/* table-full errors */

	/*
	 * Sharding: first owns the fragment table, ready list, source table
	 * and full_icmp of every shard (itself when not sharded or shard 0);
	 * they are used only between share_lock() and share_unlock().
	 */
	struct nat *first;
	struct nat_share_ops share;	/* zero when not sharded */
	uint64_t keep_bloom;		/* keep-mode targets: bit (last address
					 * byte & 63) set (rule_keep_target) */

	uint8_t scratch[SCRATCH];
};

/* Take the lock of the shared tables (none when not sharded). */
static inline void
share_lock(const struct nat *nat)
{
	if (nat->share.lock != NULL)
		nat->share.lock(nat->share.arg);
}

/* Release the lock of the shared tables. */
static inline void
share_unlock(const struct nat *nat)
{
	if (nat->share.unlock != NULL)
		nat->share.unlock(nat->share.arg);
}

/* Whether the engine is one shard of several. */
static inline bool
nat_sharded(const struct nat *nat)
{
	return nat->set.nshards > 1;
}

/* Whether a relay port or ICMP identifier belongs to this shard. */
static inline bool
port_mine(const struct nat *nat, uint32_t port)
{
	return !nat_sharded(nat) ||
	    nat_port_shard(port, nat->set.nshards) == nat->set.shard;
}

/* flow table (flow.c) */
int flow_init(struct nat *, char *);
void flow_fini(struct nat *);
void flow_key_from_pkt(struct nat_key *, const struct pkt_info *);
struct nat_flow *flow_lookup(struct nat *, const struct nat_key *, int *);
void flow_key(const struct nat_flow *, int, struct nat_key *);

/* The flow with this id (it must be live). Inline: the packet path. */
static inline struct nat_flow *
flow_at(const struct nat *nat, uint32_t id)
{
	if (id & FLOW_V6)
		return slab_at(&nat->flow6_slab, id & ~FLOW_V6);
	return slab_at(&nat->flow_slab, id);
}

/* Address family of a flow (4 or 6): its pool says. */
static inline uint8_t
flow_family(const struct nat_flow *f)
{
	return (f->id & FLOW_V6) ? 6 : 4;
}

/* Bytes of one address of a flow. */
static inline size_t
flow_alen(const struct nat_flow *f)
{
	return (f->id & FLOW_V6) ? 16 : 4;
}

/* Bytes a flow carried in direction dir. */
static inline uint64_t
flow_bytes(const struct nat_flow *f, int dir)
{
	return (uint64_t)f->bytes_hi[dir] << 32 | f->bytes_lo[dir];
}

/* Count len bytes in direction dir (modulo 2^48: 256 TiB). */
static inline void
flow_count(struct nat_flow *f, int dir, size_t len)
{
	uint64_t v = flow_bytes(f, dir) + len;

	f->bytes_lo[dir] = (uint32_t)v;
	f->bytes_hi[dir] = (uint16_t)(v >> 32);
}

/* Stored address i of a flow: 0 original source, 1 destination, 2 reply source. */
static inline const uint8_t *
flow_addr(const struct nat_flow *f, int i)
{
	return f->addr + (size_t)i * flow_alen(f);
}

/* The reply key's destination: the relay endpoint, or the kept client. */
static inline const uint8_t *
flow_reply_dst(const struct nat_flow *f)
{
	return f->map != NULL ? f->map->key.ext_addr : flow_addr(f, 0);
}

/* Source address of a flow's key in direction dir (0 original, 1 reply). */
static inline const uint8_t *
flow_src(const struct nat_flow *f, int dir)
{
	return flow_addr(f, dir ? 2 : 0);
}

/* Destination address of a flow's key in direction dir. */
static inline const uint8_t *
flow_dst(const struct nat_flow *f, int dir)
{
	return dir ? flow_reply_dst(f) : flow_addr(f, 1);
}
struct nat_flow *flow_insert(struct nat *, const struct nat_key *,
    const struct nat_key *, struct nat_mapping *);
void flow_delete(struct nat *, struct nat_flow *);
void flow_remove(struct nat *, struct nat_flow *, enum nat_flow_event);
bool flow_expired(const struct nat *, const struct nat_flow *);
uint32_t flow_timeout(const struct nat *, const struct nat_flow *);
void flow_set_state(struct nat *, struct nat_flow *, uint8_t);
void flow_gauge(struct nat *, const struct nat_flow *, int64_t);
void flow_assure(struct nat *, struct nat_flow *);
void flow_unassure(struct nat *, struct nat_flow *);
bool flow_make_room(struct nat *);
size_t flow_sweep(struct nat *, size_t);

/* per-source limits (limit.c) */
int limit_check(const struct nat_settings *, char *);
int limit_init(struct nat *, char *);
void limit_fini(struct nat *);
uint32_t limit_burst(const struct nat_settings *);
int limit_admit(struct nat *, const struct pkt_info *, uint32_t *,
    enum nat_drop_reason *);
void limit_attach(struct nat *, struct nat_flow *, uint32_t);
void limit_cancel(struct nat *, uint32_t);
void limit_release(struct nat *, struct nat_flow *);
size_t limit_tracked(const struct nat *);
uint64_t limit_reclaimed(const struct nat *);
size_t limit_memory(const struct nat *);

/* rules (rule.c) */
int rule_check(const struct nat_rule *, size_t, char *);
struct nat_rule_stats *rule_stats_new(const struct nat_rule *, size_t,
    size_t *n);
void rule_stats_take(struct nat *, struct nat_rule_stats *, size_t);
struct nat_rule_stats *rule_stats_find(struct nat *, uint32_t id);
void rule_stats_flow(struct nat *, uint32_t id, int delta, bool created);
const struct nat_rule *rule_match(const struct nat *, const struct pkt_info *);
uint16_t rule_target_port(const struct nat_rule *, uint16_t);
uint16_t rule_port_at(const struct nat_rule *, uint16_t, uint16_t);
bool rule_relay_addr(const struct nat *, uint8_t, const uint8_t *);
bool rule_keep_target(const struct nat *, uint8_t, uint8_t, const uint8_t *,
    uint16_t);
void rule_keep_index(struct nat *);

/* shards (shard.c) */
bool shard_key_mine(const struct nat *, const struct nat_key *,
    enum nat_side);
bool rule_hairpin_addr(const struct nat *, uint8_t, const uint8_t *);
const struct nat_rule *rule_reverse(const struct nat *, const struct nat_key *,
    struct nat_key *);

/* a backend of a rule with several (backend.c) */
struct nat_bk {
	struct nat_backend_stats st;	/* id, rule, address, state, counters */
	uint64_t rule_key;		/* the rule's key (nat_rule.key) */
	uint16_t span;			/* the rule's port_hi - port_lo */
};

/* where the backends of a rule id are in nat->bk (parallel to rstats) */
struct nat_bk_range {
	uint32_t first, count;
};

int backend_check(const struct nat_settings *, char *);
int backend_make(const struct nat_settings *, struct nat_rule *,
    struct nat_bk **, size_t *);
void backend_take(struct nat *, struct nat_bk *, size_t);
void backend_index(struct nat *, struct nat_bk_range *);
struct nat_bk_range *backend_ranges_new(size_t);
const struct nat_bk *backend_pick(const struct nat *, const struct nat_rule *,
    const uint8_t *);
struct nat_bk *backend_of(const struct nat *, const struct nat_flow *);
void backend_flow(struct nat *, const struct nat_flow *, int, bool);
void backend_count(struct nat *, const struct nat_bk_range *,
    const struct nat_flow *, size_t);

/* full NAT mappings and ports (port.c) */
int port_init(struct nat *, char *);
void port_fini(struct nat *);
struct nat_mapping *port_map(struct nat *, const struct nat_key *, const struct nat_addr *);
struct nat_mapping *port_map_private(struct nat *, const struct nat_key *, const struct nat_addr *);
void port_unmap(struct nat *, struct nat_mapping *);
int port_pick_free(struct nat *, struct nat_key *);
struct nat_mapping *port_claim(struct nat *, const struct nat_key *,
    const struct nat_addr *, uint16_t, bool, bool *);

/* TCP (tcp.c) */
int tcp_open_state(const struct nat *, uint8_t, enum nat_drop_reason *);
int tcp_pickup_state(const struct nat *, uint8_t, enum nat_drop_reason *);
void tcp_track(struct nat *, struct nat_flow *, int, const struct pkt_info *);
bool tcp_rst_ok(const struct nat_flow *, int, const struct pkt_info *);
void tcp_tw_reset(struct nat_flow *);
bool tcp_reopens(const struct nat_flow *, int, uint8_t);
void tcp_mss_clamp(struct nat *, struct pkt_info *, bool);

/* ICMP (icmp.c) */
enum nat_verdict icmp_error(struct nat *, struct pkt_info *, struct nat_pkt *,
    enum nat_side, enum nat_drop_reason *);
enum nat_verdict icmp_time_exceeded(struct nat *, struct pkt_info *,
    struct nat_pkt *, const uint8_t *, enum nat_drop_reason *);
bool icmp_too_big(const struct pkt_info *, const struct nat_pkt *, uint16_t);
bool icmp_bucket_take(struct icmp_bucket *, uint32_t, uint64_t);
enum nat_verdict icmp_refused(struct nat *, struct pkt_info *,
    struct nat_pkt *, enum nat_drop_reason, enum nat_drop_reason *);
enum nat_verdict icmp_frag_needed(struct nat *, struct pkt_info *,
    struct nat_pkt *, const uint8_t *, uint16_t, enum nat_drop_reason *);

/* fragments (frag.c) */
int frag_init(struct nat *, char *);
void frag_fini(struct nat *);
void frag_pass(struct nat *, const struct pkt_info *);
void frag_note(struct nat *, const struct pkt_info *, const uint8_t *,
    const uint8_t *, const uint8_t *, const uint8_t *);
enum nat_verdict frag_follow(struct nat *, struct pkt_info *, struct nat_pkt *,
    enum nat_side, enum nat_drop_reason *);
int frag_pending(struct nat *, struct nat_pkt *, enum nat_side *);
size_t frag_sweep(struct nat *, size_t);
size_t frag_memory(const struct nat *);
size_t frag_tracked(const struct nat *);

/* the state region (state.c): hooks of the flow table */
void state_put(struct nat *, const struct nat_flow *);
void state_note(struct nat *, const struct nat_flow *);
void state_forget(struct nat *, const struct nat_flow *);

/* the packet path (process.c), used by icmp.c, frag.c and friends */
void nat_clock(struct nat *, uint64_t);
void nat_rewrite(struct nat *, struct pkt_info *, bool, const uint8_t *,
    uint16_t, const uint8_t *, uint16_t);
int nat_ttl(struct nat *, struct pkt_info *);
void nat_ttl_adjust(struct nat *, struct pkt_info *);

/* the flow event hook (list.c) */
void nat_flow_event(struct nat *, const struct nat_flow *, enum nat_flow_event);

#endif
