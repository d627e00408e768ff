/*
 * shard.c - the shard function (which of a relay's shards handles a
 * packet) and whether settings can be sharded at all. docs/engine.md,
 * "Shards", explains why the function keeps every packet of a flow, both
 * ways and its ICMP errors, in one shard.
 */
#include <stdio.h>

#include "nat/nat_int.h"

/*
 * The number a TCP/UDP packet is sharded by, from side side with the given
 * addresses and ports: replies to a relay port name it, replies of a target
 * that keeps the client's address the client's port (their destination:
 * such a target may answer on the public or LAN side too, when its route
 * goes there), everything else the client's port (its source).
 */
static uint32_t
shard_ports(const struct nat *nat, enum nat_side side, uint8_t family,
    uint8_t proto, const uint8_t *src, const uint8_t *dst, uint16_t sport,
    uint16_t dport)
{
	if (side == NAT_SIDE_INSIDE)
		return dport;
	if (dport >= nat->set.nat_port_lo && dport <= nat->set.nat_port_hi &&
	    rule_relay_addr(nat, family, dst))	/* relay or hairpin address */
		return dport;
	/* a target that is a client too, from one of its target ports, is
	 * taken for a reply: the flow it opens then moves its port to the
	 * shard's residue (nat_open), so its replies agree */
	if (rule_keep_target(nat, family, proto, src, sport))
		return dport;
	return sport;
}

/*
 * The number of the packet an ICMP error quotes, seen the way its flow's
 * own packets travel (source and destination swapped); -1 when it has none.
 */
static int64_t
shard_quoted(const struct nat *nat, const struct pkt_info *pi,
    enum nat_side side)
{
	struct pkt_info in;
	enum nat_drop_reason why;

	if (pi->frag || pi->l4len < 8 ||
	    pkt_parse(&in, pi->ip + pi->l4off + 8, pi->l4len - 8, true,
	    &why) == -1 || in.l4off == 0 || in.family != pi->family)
		return -1;
	if (in.proto == PROTO_TCP || in.proto == PROTO_UDP)
		return shard_ports(nat, side, in.family, in.proto, in.dst,
		    in.src, in.dport, in.sport);
	if (in.icmp_echo)
		return in.sport;
	return -1;
}

/* The shard that handles a packet, or -1 when any may. */
int
nat_shard(const struct nat *nat, const uint8_t *data, size_t len,
    enum nat_side side)
{
	struct pkt_info pi;
	enum nat_drop_reason why;
	int64_t x = -1;

	if (!nat_sharded(nat))
		return 0;
	/* the parser only reads: the pointers it keeps are never written */
	if (data == NULL || pkt_parse(&pi, (uint8_t *)(uintptr_t)data, len,
	    false, &why) == -1 || pi.l4off == 0)
		return -1;
	if (pi.proto == PROTO_TCP || pi.proto == PROTO_UDP)
		x = shard_ports(nat, side, pi.family, pi.proto, pi.src, pi.dst,
		    pi.sport, pi.dport);
	else if (pi.icmp_echo)
		x = pi.sport;
	else if (pi.icmp_error)
		x = shard_quoted(nat, &pi, side);
	return x < 0 ? -1 : (int)nat_port_shard((uint32_t)x, nat->set.nshards);
}

/*
 * Whether an address is among a family's relay addresses (full NAT
 * sources). Hairpin addresses are not: the relay's LAN address is never a
 * public address a client's packet is captured to, and a packet to it that
 * is not a reply is the host's own (NAT_NOT_OURS), never a new flow.
 */
static bool
shard_relay(const struct nat_settings *s, uint8_t family, const uint8_t *a)
{
	size_t alen = family == 4 ? 4 : 16, i;
	const struct nat_rule *r;

	for (i = 0; i < s->nrules; i++) {
		r = &s->rules[i];
		if (r->family == family && r->action == NAT_RULE_DNAT &&
		    r->source == NAT_SOURCE_RELAY &&
		    memcmp(r->relay_src.b, a, alen) == 0)
			return true;
	}
	return false;
}

/* Whether a family has any relay address (see shard_relay). */
static bool
shard_any_relay(const struct nat_settings *s, uint8_t family)
{
	size_t i;

	for (i = 0; i < s->nrules; i++)
		if (s->rules[i].family == family &&
		    s->rules[i].action == NAT_RULE_DNAT &&
		    s->rules[i].source == NAT_SOURCE_RELAY)
			return true;
	return false;
}

/*
 * Whether a rule takes client packets to a relay port of a relay address:
 * those would be sharded by their destination port, their flow's replies by
 * the client's.
 */
static bool
shard_rule_clash(const struct nat_settings *s, const struct nat_rule *r,
    uint16_t lo, uint16_t hi)
{
	if (r->action != NAT_RULE_DNAT ||
	    !(r->protos & (NAT_P_TCP | NAT_P_UDP)) ||
	    r->port_hi < lo || r->port_lo > hi)
		return false;
	if (r->match_dst)
		return shard_relay(s, r->family, r->dst.b);
	return shard_any_relay(s, r->family);
}

/*
 * Whether a flow's original key, as its client's packet from side would
 * come, names this shard (reply-side pickup rebuilds a flow from its reply:
 * the client's next packet must find it here).
 */
bool
shard_key_mine(const struct nat *nat, const struct nat_key *k0,
    enum nat_side side)
{
	uint32_t x = k0->sport;		/* ICMP echo: the identifier */

	if (!nat_sharded(nat))
		return true;
	if (k0->proto == PROTO_TCP || k0->proto == PROTO_UDP)
		x = shard_ports(nat, side, k0->family, k0->proto, k0->src,
		    k0->dst, k0->sport, k0->dport);
	return nat_port_shard(x, nat->set.nshards) == nat->set.shard;
}

/* Whether settings hand out relay ports: a full-NAT rule, or hairpin. */
static bool
shard_hands_ports(const struct nat_settings *s)
{
	return s->hairpin4 || s->hairpin6 || shard_any_relay(s, 4) ||
	    shard_any_relay(s, 6);
}

/* Whether settings can run as n shards. */
int
nat_shards_fit(const struct nat_settings *s, unsigned n, char err[ERRLEN])
{
	uint16_t lo = s->nat_port_lo, hi = s->nat_port_hi;
	size_t i;

	if (lo == 0 && hi == 0) {	/* the default of nat_create() */
		lo = 61000;
		hi = 65534;
	}
	if (n > NAT_SHARDS_MAX) {
		snprintf(err, ERRLEN, "%u shards: at most %u", n,
		    NAT_SHARDS_MAX);
		return -1;
	}
	if (n <= 1)
		return 0;
	/* each shard holds its share of the table and of the ports: a
	 * small table or range, split, would fill one shard while another
	 * has room, where one engine would not be full yet */
	if (s->max_flows < NAT_SHARD_MIN_FLOWS * n) {
		snprintf(err, ERRLEN, "max_flows %u is under %u per shard "
		    "for %u shards", s->max_flows, NAT_SHARD_MIN_FLOWS, n);
		return -1;
	}
	/* the ports count only where the relay hands them out: full NAT,
	 * hairpin (keep mode moves a client's port only on a clash, over
	 * 1024..65535) */
	if (shard_hands_ports(s) && (lo > hi ||
	    (uint32_t)(hi - lo) + 1 < NAT_SHARD_MIN_PORTS * n)) {
		snprintf(err, ERRLEN, "NAT port range %u-%u has under %u "
		    "ports per shard for %u shards", lo, hi,
		    NAT_SHARD_MIN_PORTS, n);
		return -1;
	}
	for (i = 0; i < s->nrules && s->rules != NULL; i++)
		if (shard_rule_clash(s, &s->rules[i], lo, hi)) {
			snprintf(err, ERRLEN, "rule %u forwards public ports "
			    "%u-%u of a relay address, which overlap the NAT "
			    "port range %u-%u", s->rules[i].id,
			    s->rules[i].port_lo, s->rules[i].port_hi, lo, hi);
			return -1;
		}
	return 0;
}
