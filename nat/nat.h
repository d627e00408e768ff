/*
 * nat.h - the tunrelay NAT engine.
 *
 * A pure library: packets in, packets out, the time passed in by the caller.
 * It makes no system calls, keeps no globals and never reads a clock.
 * One instance (struct nat) serves one relay.
 */
#ifndef TUNRELAY_NAT_H
#define TUNRELAY_NAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/errlen.h"

/* Where a packet came from, as the caller's capture tells it. */
enum nat_side {
	NAT_SIDE_PUBLIC = 0,	/* clients: may open flows (DNAT, keep or full NAT) */
	NAT_SIDE_INSIDE = 1,	/* tunnel/backend side: replies only, never opens flows */
	NAT_SIDE_LAN = 2,	/* hairpin clients: open flows with SNAT to the LAN address */
	NAT_SIDE_MAX
};

enum nat_verdict {
	NAT_FORWARD = 0,	/* translated in place: send it on */
	NAT_DROP,		/* dropped, counted under a reason */
	NAT_NOT_OURS,		/* no rule or flow claims it (or it is excluded): untouched */
	NAT_REPLY,		/* replaced by an ICMP error for the sender: send it back */
	NAT_QUEUED,		/* kept by the engine (early fragment); see nat_pending() */
};

enum nat_drop_reason {
	NAT_DROP_TRUNCATED = 0,	/* shorter than its headers say */
	NAT_DROP_BAD_HEADER,	/* bad version, IHL, length, option or extension header */
	NAT_DROP_BAD_VNET,	/* virtio-net checksum state that does not fit the packet */
	NAT_DROP_UNSUPPORTED,	/* protocol or ICMP type the engine does not relay */
	NAT_DROP_NO_FLOW,	/* reply or mid-stream packet without a flow */
	NAT_DROP_TCP_STATE,	/* TCP flags not valid for opening or for the flow state */
	NAT_DROP_WRONG_SIDE,	/* a flow's packet arriving from a side it cannot come from */
	NAT_DROP_TABLE_FULL,	/* no room for a new flow, nothing evictable */
	NAT_DROP_NO_PORT,	/* full NAT: no free port for the mapping */
	NAT_DROP_ICMP_NO_FLOW,	/* ICMP error quoting a flow we do not have */
	NAT_DROP_ICMP_BAD,	/* ICMP error with an unusable quoted packet */
	NAT_DROP_TTL,		/* TTL/hop limit expired */
	NAT_DROP_FRAG,		/* fragment that cannot be matched or kept */
	NAT_DROP_FRAG_TIMEOUT,	/* queued fragment whose first fragment never came */
	NAT_DROP_TOO_BIG,	/* over the target's MTU, not fragmentable, no room to say so */
	NAT_DROP_BAD_CSUM,	/* flow-opening packet with a wrong L4 checksum */
	NAT_DROP_SRC_FLOWS,	/* new flow from a source at its src_max_flows */
	NAT_DROP_SRC_RATE,	/* new flow from a source over its src_rate */
	NAT_DROP_TCP_RST_WINDOW,	/* TCP RST outside the receiver's window */
	NAT_DROP_MAX
};

enum nat_proto_bit {
	NAT_P_TCP = 1,
	NAT_P_UDP = 2,
	NAT_P_ICMP = 4,		/* ICMP echo (v4) and ICMPv6 echo (v6) */
};

enum nat_source {
	NAT_SOURCE_KEEP = 0,	/* the client's address reaches the target (keep-client-ip) */
	NAT_SOURCE_RELAY,	/* full NAT: source rewritten to relay_src (port forward) */
};

enum nat_action {
	NAT_RULE_DNAT = 0,	/* translate to the target */
	NAT_RULE_PASS,		/* excluded: leave to the host (verdict NAT_NOT_OURS) */
};

enum nat_ttl_mode {
	NAT_TTL_KEEP = 0,	/* leave TTL/hop limit alone */
	NAT_TTL_DECREMENT,	/* act as a router: decrement once, ICMP time exceeded at 0 */
	NAT_TTL_RESTORE,	/* TUN relay: the kernel routes the packet twice, so give one back */
};

/* Addresses are 16 bytes; IPv4 uses the first 4, the rest zero. */
struct nat_addr {
	uint8_t b[16];
};

/* One rule. Rules are tried in order; the first match wins. */
struct nat_rule {
	uint8_t family;		/* 4 or 6 */
	uint8_t action;		/* enum nat_action */
	uint8_t protos;		/* enum nat_proto_bit mask */
	uint8_t source;		/* enum nat_source */
	uint16_t port_lo;	/* public port range; ICMP ignores it */
	uint16_t port_hi;
	bool match_dst;		/* only packets to this public address */
	struct nat_addr dst;
	struct nat_addr to;	/* target address */
	uint16_t to_port;	/* first target port; 0 keeps the public port */
	struct nat_addr relay_src;	/* full NAT source address (NAT_SOURCE_RELAY) */
	struct nat_addr pub;	/* keep mode without match_dst: the public address
				 * a reply with no flow answers (reply-side
				 * pickup); zero = such replies are dropped */
	uint16_t mtu;		/* MTU toward the target (>= 576; 0 = unchecked): a
				 * bigger client packet that may not be fragmented
				 * is answered with ICMP "too big" (NAT_REPLY) */
	uint32_t id;		/* the caller's rule number, shown with flows */
	uint64_t key;		/* the caller's name for the rule across reloads,
				 * where its id may change (a hash of its config
				 * section); 0 = the id names it. A reload moves
				 * flows, counters and backend state to the new
				 * id of the same key. */
	/*
	 * Several targets: backend_count entries of nat_settings.backends from
	 * backend_first on; new flows are spread over them by client address
	 * (weighted rendezvous hashing) and to/to_port are not used. 0 = the
	 * one target to/to_port.
	 */
	uint32_t backend_first;
	uint32_t backend_count;
};

#define NAT_WEIGHT_MAX 10000	/* largest backend weight */

/*
 * One backend of a rule with several. A rule's backends are of its family;
 * no two of them share an address and port. Ids are the caller's: they name
 * a backend in nat_backend_set() and the stats.
 */
struct nat_backend {
	struct nat_addr addr;
	uint16_t port;		/* first target port; 0 keeps the public port */
	uint16_t weight;	/* share of new flows, 1..NAT_WEIGHT_MAX */
	uint32_t id;
	bool down;		/* out of the hash from the start; a backend a
				 * reload keeps (same rule id, address and
				 * port) keeps its state instead */
};

/* Settings for nat_create(); zero timeouts take the defaults. */
struct nat_settings {
	uint32_t max_flows;		/* hard limit; the table is sized for it up front */
	uint64_t hash_key[2];		/* secret for the keyed flow hash */
	uint64_t placement_key[2];	/* key of the backend placement hash:
					 * the same on every front and across
					 * restarts keeps a client's backend
					 * (zero is a valid key) */
	uint64_t port_seed;		/* randomness for port allocation */

	uint32_t tcp_established;	/* seconds; default 7440 (RFC 5382: >= 7440) */
	uint32_t tcp_transitory;	/* seconds; default 240 (RFC 5382: >= 240) */
	uint32_t udp_timeout;		/* seconds; default 300 (RFC 4787: >= 120) */
	uint32_t icmp_timeout;		/* seconds; default 60 (RFC 5508: >= 60) */
	uint32_t frag_timeout;		/* seconds; default 30 */
	uint32_t max_frags;		/* fragment trackers; default 1024 */
	uint32_t max_frag_bytes;	/* bytes of early fragments kept; default 256 KiB */
	bool tcp_no_pickup;		/* refuse mid-stream TCP pickup (on by default) */

	/*
	 * Per-source limits on new flows from the public and LAN sides; a
	 * source is an IPv4 address or an IPv6 /64. 0 = no limit. The source
	 * table has max_flows entries, made when a limit is first set.
	 */
	uint32_t src_max_flows;		/* flows one source may hold at once */
	uint32_t src_rate;		/* new flows per second per source */
	uint32_t src_burst;		/* new flows at once; 0 = src_rate */

	/*
	 * A client's new flow refused because the table is full is answered
	 * with ICMP "administratively prohibited" (RFC 5508), at most
	 * table_full_icmp_rate a second (0 = 10; burst: the same number).
	 */
	bool table_full_icmp_off;
	uint32_t table_full_icmp_rate;

	uint16_t mss_clamp;		/* fixed MSS ceiling; 0 = derive from mtu */
	uint16_t mtu;			/* path MTU for MSS clamping; 0 with mss_clamp 0 = off */
	uint8_t ttl_mode;		/* enum nat_ttl_mode */

	uint16_t nat_port_lo;		/* full NAT port range; default 61000-65534 */
	uint16_t nat_port_hi;
	bool hairpin4, hairpin6;	/* LAN side SNAT address present */
	struct nat_addr hairpin_src4;	/* relay's LAN address for hairpinned flows */
	struct nat_addr hairpin_src6;

	const struct nat_rule *rules;
	size_t nrules;
	const struct nat_backend *backends;	/* of rules with several targets */
	size_t nbackends;

	/* Sharding (docs/engine.md, "Shards"); nat_reconfigure() keeps the
	 * engine's own values and ignores these. */
	uint16_t shard;			/* this engine's index among nshards */
	uint16_t nshards;		/* 0 or 1: not sharded */
};

/*
 * Checksum/GSO state of a packet read from a TUN device with IFF_VNET_HDR,
 * in host byte order; csum_start counts from the first byte of the IP header.
 */
struct nat_vnet {
	uint8_t flags;			/* NAT_VNET_* */
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
};
#define NAT_VNET_NEEDS_CSUM 1
#define NAT_VNET_DATA_VALID 2

/* A packet: an IP datagram in data[0..len), room up to cap for replies. */
struct nat_pkt {
	uint8_t *data;
	size_t len;
	size_t cap;
	struct nat_vnet *vnet;		/* NULL when the caller has none */
};

enum nat_tcp_state {
	NAT_TCP_NONE = 0,
	NAT_TCP_SYN_SENT,
	NAT_TCP_SYN_RECV,
	NAT_TCP_ESTABLISHED,
	NAT_TCP_FIN_WAIT,
	NAT_TCP_TIME_WAIT,
	NAT_TCP_CLOSED,
	NAT_TCP_STATE_MAX
};

/* One tracked flow, as nat_flows() shows it. */
struct nat_flow_info {
	uint8_t family;
	uint8_t proto;			/* IPPROTO_* number */
	struct nat_addr orig_src, orig_dst;	/* as the client sent it */
	uint16_t orig_sport, orig_dport;
	struct nat_addr reply_src, reply_dst;	/* as the target answers */
	uint16_t reply_sport, reply_dport;
	const char *state;
	bool assured;
	uint32_t age;			/* seconds since created */
	uint32_t idle;			/* seconds since last packet */
	uint32_t expires;		/* seconds until expiry if idle */
	uint32_t rule_id;
	bool has_backend;		/* the rule has several backends: */
	uint32_t backend_id;		/* the one the flow goes to */
	uint64_t packets[2];		/* [0] client to target, [1] back */
	uint64_t bytes[2];
};

struct nat_stats {
	uint64_t packets[NAT_SIDE_MAX];	/* processed, by side */
	uint64_t forwarded;
	uint64_t not_ours;
	uint64_t replies;		/* ICMP errors generated */
	uint64_t drops[NAT_DROP_MAX];
	uint64_t flows_created;
	uint64_t flows_expired;
	uint64_t flows_evicted;
	uint64_t flows_retargeted;	/* unreplied flows started over at the
					 * target the rules name now */
	uint64_t flows_active;
	uint64_t flows_by_state[NAT_TCP_STATE_MAX];	/* TCP flows */
	uint64_t flows_udp;
	uint64_t flows_icmp;
	uint64_t mappings;		/* full NAT endpoint mappings */
	uint64_t frags_tracked;		/* fragment trackers now (a gauge;
					 * sharded: shard 0's only) */
	uint64_t frags_queued;		/* early fragments kept (a running total) */
	uint64_t mss_clamped;
	uint64_t icmp_translated;
	uint64_t too_big;		/* ICMP "too big" sent for packets over a target's MTU */
	uint64_t table_full_icmp;	/* ICMP "prohibited" sent for flows refused
					 * (full table, no free port) */
	uint64_t max_flows;
	uint64_t sources_tracked;	/* per-source limit entries in use */
	uint64_t sources_reclaimed;	/* idle sources forgotten for new ones
					 * (both: sharded, shard 0's only) */
};

struct nat;

/* Create an engine; NULL with a message in err on bad settings or no memory
 * (or nshards > 1: shards are made with nat_create_shard()). */
struct nat *nat_create(const struct nat_settings *, char err[ERRLEN]);
/* Free an engine; a sharded relay's shard 0 only after all the others. */
void nat_destroy(struct nat *);

/*
 * Sharding: one relay served by nshards engines, each behind its own lock
 * of the caller's, every packet handled by the shard nat_shard() names
 * (docs/engine.md, "Shards").
 */
#define NAT_SHARDS_MAX 64

/* Lock of the tables the shards of one relay share (fragments, per-source
 * limits, the table-full ICMP bucket); the caller's mutex. */
struct nat_share_ops {
	void (*lock)(void *arg);
	void (*unlock)(void *arg);
	void *arg;
};

/*
 * Create shard settings->shard of a sharded relay. first == NULL for shard 0,
 * which owns the shared tables; every other shard is given shard 0's engine
 * (which must outlive it) and uses shard 0's fragment table, ready list,
 * per-source limit table and table-full ICMP bucket, always between
 * ops->lock and ops->unlock (for shard 0 too). ops may be NULL when nshards <= 1.
 * All shards get the same hash_key (the caller's job) and the same rules.
 */
struct nat *nat_create_shard(const struct nat_settings *, struct nat *first,
    const struct nat_share_ops *, char err[ERRLEN]);

/*
 * The shard of a port (or ICMP identifier) among n: the port times an odd
 * constant, bits 16..31 of the 32-bit product, modulo n. Not port % n: a
 * Linux client's connect() takes even ports first, so the low bit says
 * nothing. The TUN steering program (tun/steer.c) computes the same.
 */
#define NAT_SHARD_MIX 0x9e3779b1U
static inline unsigned int
nat_port_shard(uint32_t port, unsigned int n)
{
	return n > 1 ? ((uint32_t)(port * NAT_SHARD_MIX) >> 16) % n : 0;
}

/* Least flows (max_flows) and NAT ports a shard must have (nat_shards_fit). */
#define NAT_SHARD_MIN_FLOWS 8192U
#define NAT_SHARD_MIN_PORTS 1024U

/* The shard (0..nshards-1) that handles this packet, or -1 when any may
 * (see the shard function). Reads the engine's rules and settings only. */
int nat_shard(const struct nat *, const uint8_t *data, size_t len, enum nat_side side);

/* 0 when these settings can run as n shards; -1 with the reason in err:
 * n > NAT_SHARDS_MAX; max_flows < NAT_SHARD_MIN_FLOWS * n; fewer than
 * NAT_SHARD_MIN_PORTS * n ports in nat_port_lo..hi; or a DNAT rule whose
 * public port range overlaps the NAT port range while it can match a relay
 * address (match_dst with dst equal to one, or no match_dst and the family
 * has any relay address). The caller then runs one engine. */
int nat_shards_fit(const struct nat_settings *, unsigned n, char err[ERRLEN]);

/*
 * Replace rules and timeouts of a running engine; tracked flows are kept.
 * max_flows and the hash key cannot change; a shard keeps its shard and
 * nshards (the new settings' are ignored). On error nothing changes.
 */
int nat_reconfigure(struct nat *, const struct nat_settings *, char err[ERRLEN]);

/* Process one packet in place. now is a monotonic time in milliseconds. */
enum nat_verdict nat_process(struct nat *, struct nat_pkt *, enum nat_side,
    uint64_t now, enum nat_drop_reason *why);

/*
 * Take the next packet released by the engine (queued fragments whose first
 * fragment has now been translated). Copies it into pkt (data/cap given by
 * the caller, vnet left alone). Returns 1 with a translated packet, 2 with
 * one left as it came (a fragment of a datagram whose first fragment was
 * NAT_NOT_OURS), 0 when none is left, -1 when pkt->cap is too small (the
 * packet is dropped and counted).
 */
int nat_pending(struct nat *, struct nat_pkt *, enum nat_side *);

/* Expire up to budget idle flows and fragments; returns how many were removed. */
size_t nat_sweep(struct nat *, uint64_t now, size_t budget);

/* Call fn for every flow; stops early when fn returns non-zero. */
int nat_flows(const struct nat *, uint64_t now,
    int (*fn)(const struct nat_flow_info *, void *), void *arg);

/*
 * A resumable walk over the flows, for listings too long for one go: the
 * engine keeps the position valid while flows come and go. Up to
 * NAT_CURSORS walks at a time; nat_cursor_open() gives -1 when all are busy.
 * nat_cursor_next() calls fn for up to max flows and returns how many it
 * visited, 0 at the end.
 */
#define NAT_CURSORS 4
int nat_cursor_open(struct nat *);
size_t nat_cursor_next(struct nat *, int, uint64_t now, size_t max,
    int (*fn)(const struct nat_flow_info *, void *), void *arg);
void nat_cursor_close(struct nat *, int);

/*
 * Flow events, for flow logging: the hook is called when a flow opens (after
 * its first packet is translated) and when it goes (expired: idle past its
 * timeout; evicted: the oldest unassured flow, to make room). It must not
 * call back into the engine. NULL turns events off (the default).
 */
enum nat_flow_event {
	NAT_FLOW_NEW = 0,
	NAT_FLOW_EXPIRED,
	NAT_FLOW_EVICTED,
	NAT_FLOW_RETARGETED,	/* unreplied; the rules now send it elsewhere */
	NAT_FLOW_EVENT_MAX
};
typedef void nat_flow_hook(const struct nat_flow_info *, enum nat_flow_event,
    void *);
void nat_set_flow_hook(struct nat *, nat_flow_hook *, void *);
const char *nat_flow_event_name(enum nat_flow_event);

/*
 * Counters of one rule id (nat_rule.id; rules that share an id share them):
 * packets and bytes translated in both directions, flows it created, flows
 * of it tracked now. A reload keeps the counters of the ids it keeps.
 */
/* The rule id of flows whose rule a reload removed (no rule has it). */
#define NAT_RULE_GONE 0xffffffffU

struct nat_rule_stats {
	uint32_t id;
	uint64_t key;		/* the rules' key (nat_rule.key) */
	uint64_t packets;
	uint64_t bytes;
	uint64_t flows_created;
	uint64_t flows_active;
};
/* Fill out[0..max) with the counters of each rule id, in id order; returns
 * the number of ids (which may exceed max). */
size_t nat_rule_stats(const struct nat *, struct nat_rule_stats *out,
    size_t max);

/*
 * Take a backend out of the hash of new flows (up false) or put it back;
 * its flows stay where they are. Applies to every backend with that id;
 * returns how many changed state, -1 when no backend has the id.
 */
int nat_backend_set(struct nat *, uint32_t id, bool up);

/* The state and counters of one backend (of one rule). */
struct nat_backend_stats {
	uint32_t id;
	uint32_t rule_id;
	uint8_t family;
	struct nat_addr addr;
	uint16_t port;
	uint16_t weight;
	bool up;
	uint64_t flows_created;
	uint64_t flows_active;
	uint64_t packets;		/* both directions */
	uint64_t bytes;
	uint64_t ups, downs;		/* state changes by nat_backend_set() */
};
/* Fill out[0..max) with every backend in rule order; returns their number. */
size_t nat_backend_stats(const struct nat *, struct nat_backend_stats *out,
    size_t max);

/*
 * Delete every tracked flow that match() accepts (it sees the flow as
 * nat_flows() shows it and must not call into the engine); full NAT
 * mappings are released. Returns the number of flows deleted.
 */
size_t nat_flows_delete(struct nat *, uint64_t now,
    int (*match)(const struct nat_flow_info *, void *), void *arg);

void nat_get_stats(const struct nat *, struct nat_stats *);
const char *nat_drop_name(enum nat_drop_reason);
const char *nat_tcp_state_name(enum nat_tcp_state);
/* Name of a flow's protocol (nat_flow_info.proto): tcp, udp, icmp, icmpv6. */
const char *nat_proto_name(uint8_t proto);

/* Bytes of memory the engine holds now (tables, flows, pools; sharded, the
 * shared tables count in shard 0 only). */
size_t nat_memory(const struct nat *);

/*
 * Flow state that survives a crash of the caller (docs/engine.md, "The state
 * region"). Flows the rules cannot rebuild (full NAT, hairpin: their relay
 * port was the engine's choice) are written, one fixed-size record each, into
 * a memory region the caller supplies, typically a shared file mapping: at
 * flow creation, on a TCP state or assurance change and on deletion, never per
 * packet. A restarted caller hands the old region to a new engine, which
 * checks it and takes the flows over with their exact tuples and relay ports.
 */
#define NAT_STATE_VERSION 1

/* Why a saved record was not taken over. */
enum nat_state_drop {
	NAT_STATE_CORRUPT = 0,	/* check value or state word wrong: torn or damaged */
	NAT_STATE_BAD_FIELD,	/* family, protocol, state, side or addresses impossible */
	NAT_STATE_NO_RULE,	/* no rule of that id, family and protocol now */
	NAT_STATE_BAD_RELAY,	/* relay address unused now, or port outside nat_ports */
	NAT_STATE_CLASH,	/* a key or the relay endpoint is taken already */
	NAT_STATE_FULL,		/* no room for the flow or its mapping */
	NAT_STATE_DROP_MAX
};

/* What nat_state_adopt() did. */
struct nat_state_report {
	uint32_t records;		/* live records in the old region */
	uint32_t adopted;		/* flows taken over */
	uint32_t dropped[NAT_STATE_DROP_MAX];	/* records refused, by reason */
	uint32_t dropped_total;
};

/* Bytes of a region for an engine of max_flows flows (0: out of range). */
size_t nat_state_size(uint32_t max_flows);

/*
 * Write the engine's records into region[0..len) from now on (NULL detaches).
 * The region must be zero-filled (a new sparse file) or this engine's own
 * region again (after nat_reconfigure() changed nat_ports: the header is
 * rewritten), 8-byte aligned and at least nat_state_size(max_flows) long; it
 * must outlive the engine or be detached first. Flows the engine holds
 * already are written at once.
 */
int nat_state_attach(struct nat *, void *region, size_t len,
    char err[ERRLEN]);

/*
 * Take over the flows saved in another engine's region: -1 with a message
 * when the region as a whole cannot be trusted (truncated, not a state
 * region, another format version, other max_flows or nat_ports); else 0, and
 * every live record is checked and either adopted (its flow re-created, its
 * relay port claimed again, idle time starting at now) or dropped and counted
 * in *report. Adopted flows go into the engine's own region when attached.
 */
int nat_state_adopt(struct nat *, const void *old, size_t len, uint64_t now,
    struct nat_state_report *, char err[ERRLEN]);
/*
 * The whole-region checks of nat_state_adopt() alone, nothing taken over: 0,
 * or -1 with the same message (a caller with several regions checks them
 * all before it adopts any).
 */
int nat_state_check(const struct nat *, const void *old, size_t len,
    char err[ERRLEN]);
const char *nat_state_drop_name(enum nat_state_drop);

/*
 * The Internet checksum (RFC 1071) of len bytes, in host byte order: for
 * callers that build a small packet of their own (an ICMP echo).
 */
uint16_t nat_checksum(const void *data, size_t len);

#endif
