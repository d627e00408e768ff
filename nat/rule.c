/*
 * rule.c - rule validation and matching.
 */
#include <stdio.h>
#include <stdlib.h>

#include "nat/nat_int.h"

/* Whether an address is all zeroes. */
static bool
rule_addr_zero(const struct nat_addr *a)
{
	static const struct nat_addr zero;

	return memcmp(a, &zero, sizeof(zero)) == 0;
}

/* Validate one rule; fills err and returns -1 when it is unusable. */
static int
rule_check_one(const struct nat_rule *r, size_t i, char *err)
{
	if (r->family != 4 && r->family != 6)
		snprintf(err, ERRLEN, "rule %zu: family %u (allowed: 4, 6)",
		    i, r->family);
	else if (r->action != NAT_RULE_DNAT && r->action != NAT_RULE_PASS)
		snprintf(err, ERRLEN, "rule %zu: unknown action %u", i,
		    r->action);
	else if (r->protos == 0 ||
	    (r->protos & ~(NAT_P_TCP | NAT_P_UDP | NAT_P_ICMP)))
		snprintf(err, ERRLEN, "rule %zu: protocol mask 0x%x", i,
		    r->protos);
	else if (r->port_lo > r->port_hi)
		snprintf(err, ERRLEN, "rule %zu: port range %u-%u is reversed",
		    i, r->port_lo, r->port_hi);
	else if (r->action == NAT_RULE_DNAT && r->to_port != 0 &&
	    (uint32_t)r->to_port + (r->port_hi - r->port_lo) > 65535)
		snprintf(err, ERRLEN, "rule %zu: target ports %u-%u run "
		    "past 65535", i, r->to_port,
		    (unsigned)r->to_port + (r->port_hi - r->port_lo));
	else if (r->action == NAT_RULE_DNAT && r->backend_count == 0 &&
	    rule_addr_zero(&r->to))
		snprintf(err, ERRLEN, "rule %zu: no target address", i);
	else if (r->action == NAT_RULE_DNAT && r->source == NAT_SOURCE_RELAY &&
	    rule_addr_zero(&r->relay_src))
		snprintf(err, ERRLEN, "rule %zu: full NAT without a relay "
		    "source address", i);
	else if (r->source != NAT_SOURCE_KEEP && r->source != NAT_SOURCE_RELAY)
		snprintf(err, ERRLEN, "rule %zu: unknown source mode %u", i,
		    r->source);
	else if (r->mtu != 0 && r->mtu < (r->family == 4 ? 576 : 1280))
		snprintf(err, ERRLEN, "rule %zu: MTU %u is below the IPv%u "
		    "minimum %u", i, r->mtu, r->family, r->family == 4 ? 576 :
		    1280);
	else
		return 0;
	return -1;
}

/* Validate a rule list. */
int
rule_check(const struct nat_rule *r, size_t n, char *err)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (rule_check_one(&r[i], i, err) == -1)
			return -1;
	return 0;
}

/* The protocol bit a packet would match, or 0. */
static uint8_t
rule_proto_bit(const struct pkt_info *pi)
{
	if (pi->proto == PROTO_TCP)
		return NAT_P_TCP;
	if (pi->proto == PROTO_UDP)
		return NAT_P_UDP;
	if (pi->icmp_echo && pi->icmp_request)
		return NAT_P_ICMP;
	return 0;
}

/* First rule matching a packet that would open a flow, or NULL. */
const struct nat_rule *
rule_match(const struct nat *nat, const struct pkt_info *pi)
{
	const struct nat_rule *r;
	uint8_t bit = rule_proto_bit(pi);
	size_t i;

	if (bit == 0)
		return NULL;
	for (i = 0; i < nat->set.nrules; i++) {
		r = &nat->rules[i];
		if (r->family != pi->family || !(r->protos & bit))
			continue;
		if (bit != NAT_P_ICMP &&
		    (pi->dport < r->port_lo || pi->dport > r->port_hi))
			continue;
		if (r->match_dst && memcmp(r->dst.b, pi->dst, pi->alen) != 0)
			continue;
		return r;
	}
	return NULL;
}

/* The target port for a public port under a rule (one-to-one ranges). */
uint16_t
rule_target_port(const struct nat_rule *r, uint16_t port)
{
	return rule_port_at(r, r->to_port, port);
}

/* The target port for a public port with a target's first port to_port. */
uint16_t
rule_port_at(const struct nat_rule *r, uint16_t to_port, uint16_t port)
{
	if (to_port == 0)
		return port;
	return (uint16_t)(to_port + (port - r->port_lo));
}

/* The public address a keep-mode rule's replies answer, or NULL. */
static const uint8_t *
rule_public(const struct nat_rule *r)
{
	if (r->match_dst)
		return r->dst.b;
	return rule_addr_zero(&r->pub) ? NULL : r->pub.b;
}

/*
 * The public port a keep-mode rule's target answers from port tport; -1 when
 * tport is outside the rule's target range.
 */
static int32_t
rule_public_port(const struct nat_rule *r, uint16_t to_port, uint16_t tport)
{
	uint16_t base = to_port ? to_port : r->port_lo;

	if (tport < base || tport - base > r->port_hi - r->port_lo)
		return -1;
	return r->port_lo + (tport - base);
}

/*
 * The original key, in k0, of a flow of keep-mode rule r whose target
 * (address to, first port to_port) sent a reply with key k1; false when the
 * reply is not from that target's ports or the rule has no public address.
 */
static bool
rule_reverse_to(const struct nat_rule *r, const struct nat_addr *to,
    uint16_t to_port, const struct nat_key *k1, struct nat_key *k0)
{
	bool ports = k1->proto == PROTO_TCP || k1->proto == PROTO_UDP;
	size_t alen = k1->family == 4 ? 4 : 16;
	const uint8_t *pub;
	int32_t pport = 0;

	if (memcmp(to->b, k1->src, alen) != 0 ||
	    (pub = rule_public(r)) == NULL)
		return false;
	if (ports && (pport = rule_public_port(r, to_port, k1->sport)) == -1)
		return false;
	memset(k0, 0, sizeof(*k0));
	memcpy(k0->src, k1->dst, alen);
	memcpy(k0->dst, pub, alen);
	k0->sport = ports ? k1->dport : k1->sport;
	k0->dport = ports ? (uint16_t)pport : 0;
	k0->proto = k1->proto;
	k0->family = k1->family;
	return true;
}

/* Whether address a, port port is a target of r answering from its range. */
static bool
rule_target_is(const struct nat *nat, const struct nat_rule *r,
    const uint8_t *a, size_t alen, uint16_t port)
{
	const struct nat_bk *b;
	uint32_t i;

	if (r->backend_count == 0)
		return memcmp(r->to.b, a, alen) == 0 &&
		    rule_public_port(r, r->to_port, port) != -1;
	for (i = 0; i < r->backend_count; i++) {
		b = &nat->bk[r->backend_first + i];
		if (memcmp(b->st.addr.b, a, alen) == 0 &&
		    rule_public_port(r, b->st.port, port) != -1)
			return true;
	}
	return false;
}

/* The filter bit of an address: its last byte, 6 bits of it. */
static uint64_t
rule_keep_bit(const uint8_t *a, size_t alen)
{
	return 1ULL << (a[alen - 1] & 63);
}

/*
 * Note the address of every target of a rule that keeps the client's
 * address in a 64-bit filter, so that rule_keep_target() looks through the
 * rules only for packets from an address that may be one: it runs for
 * every client packet of a sharded engine.
 */
void
rule_keep_index(struct nat *nat)
{
	const struct nat_rule *r;
	size_t i, alen;
	uint32_t j;

	nat->keep_bloom = 0;
	for (i = 0; i < nat->set.nrules; i++) {
		r = &nat->rules[i];
		if (r->action != NAT_RULE_DNAT || r->source != NAT_SOURCE_KEEP)
			continue;
		alen = r->family == 4 ? 4 : 16;
		if (r->backend_count == 0)
			nat->keep_bloom |= rule_keep_bit(r->to.b, alen);
		for (j = 0; j < r->backend_count; j++)
			nat->keep_bloom |= rule_keep_bit(
			    nat->bk[r->backend_first + j].st.addr.b, alen);
	}
}

/*
 * Whether a TCP or UDP packet from src:sport comes from a target of a rule
 * that keeps the client's address, answering from its ports: a reply of
 * such a flow, whichever side it comes back on.
 */
bool
rule_keep_target(const struct nat *nat, uint8_t family, uint8_t proto,
    const uint8_t *src, uint16_t sport)
{
	uint8_t bit = proto == PROTO_TCP ? NAT_P_TCP : NAT_P_UDP;
	size_t alen = family == 4 ? 4 : 16, i;
	const struct nat_rule *r;

	if (!(nat->keep_bloom & rule_keep_bit(src, alen)))
		return false;
	for (i = 0; i < nat->set.nrules; i++) {
		r = &nat->rules[i];
		if (r->family == family && r->action == NAT_RULE_DNAT &&
		    r->source == NAT_SOURCE_KEEP && (r->protos & bit) &&
		    rule_target_is(nat, r, src, alen, sport))
			return true;
	}
	return false;
}

/* Whether rule r has a target that sent k1; the original key in k0. */
static bool
rule_reverse_any(const struct nat *nat, const struct nat_rule *r,
    const struct nat_key *k1, struct nat_key *k0)
{
	const struct nat_bk *b;
	uint32_t i;

	if (r->backend_count == 0)
		return rule_reverse_to(r, &r->to, r->to_port, k1, k0);
	for (i = 0; i < r->backend_count; i++) {
		b = &nat->bk[r->backend_first + i];
		if (rule_reverse_to(r, &b->st.addr, b->st.port, k1, k0))
			return true;
	}
	return false;
}

/*
 * Reply-side pickup: the keep-mode rule whose target sent a reply with key
 * k1, and the original key of the flow it belongs to, in k0; NULL when no
 * rule rebuilds it. The rule must also be the one the client's packet would
 * match first: an earlier rule (an exclusion, another target) owns it else.
 * With several backends, the flow goes back to the one that replied.
 */
const struct nat_rule *
rule_reverse(const struct nat *nat, const struct nat_key *k1,
    struct nat_key *k0)
{
	bool ports = k1->proto == PROTO_TCP || k1->proto == PROTO_UDP;
	uint8_t bit = k1->proto == PROTO_TCP ? NAT_P_TCP :
	    k1->proto == PROTO_UDP ? NAT_P_UDP : NAT_P_ICMP;
	const struct nat_rule *r;
	struct pkt_info pi;
	size_t i;

	for (i = 0; i < nat->set.nrules; i++) {
		r = &nat->rules[i];
		if (r->family != k1->family || r->action != NAT_RULE_DNAT ||
		    r->source != NAT_SOURCE_KEEP || !(r->protos & bit) ||
		    !rule_reverse_any(nat, r, k1, k0))
			continue;
		/* the client's packet as rule_match() sees it */
		memset(&pi, 0, sizeof(pi));
		pi.family = k0->family;
		pi.proto = k0->proto;
		pi.alen = k1->family == 4 ? 4 : 16;
		pi.dst = k0->dst;
		pi.dport = k0->dport;
		pi.icmp_echo = pi.icmp_request = !ports;
		if (rule_match(nat, &pi) == r)
			return r;
	}
	return NULL;
}

/*
 * Whether addr is one of the relay's own source addresses: a full-NAT
 * rule's relay_src or a hairpin address. A packet to one is a reply to the
 * relay or traffic of the host itself, never a client's.
 */
bool
rule_relay_addr(const struct nat *nat, uint8_t family, const uint8_t *addr)
{
	size_t alen = family == 4 ? 4 : 16, i;
	const struct nat_rule *r;

	if (rule_hairpin_addr(nat, family, addr))
		return true;
	for (i = 0; i < nat->set.nrules; i++) {
		r = &nat->rules[i];
		if (r->family == family && r->action == NAT_RULE_DNAT &&
		    r->source == NAT_SOURCE_RELAY &&
		    memcmp(r->relay_src.b, addr, alen) == 0)
			return true;
	}
	return false;
}

/* Whether addr is the relay's hairpin (LAN) address of its family. */
bool
rule_hairpin_addr(const struct nat *nat, uint8_t family, const uint8_t *addr)
{
	if (family == 4)
		return nat->set.hairpin4 &&
		    memcmp(nat->set.hairpin_src4.b, addr, 4) == 0;
	return nat->set.hairpin6 && memcmp(nat->set.hairpin_src6.b, addr, 16) == 0;
}

/* Zeroed counters for the distinct ids of a rule list, sorted; NULL: memory. */
struct nat_rule_stats *
rule_stats_new(const struct nat_rule *r, size_t nr, size_t *n)
{
	struct nat_rule_stats *s;
	size_t i, o = 0;

	if ((s = calloc(nr ? nr : 1, sizeof(*s))) == NULL)
		return NULL;
	/* insertion sort: rule lists are short, and the engine has no qsort */
	for (i = 0; i < nr; i++) {
		uint32_t id = r[i].id;
		size_t j = i;

		for (; j > 0 && s[j - 1].id > id; j--)
			s[j] = s[j - 1];
		s[j].id = id;
		s[j].key = r[i].key;
	}
	for (i = 0; i < nr; i++)
		if (o == 0 || s[o - 1].id != s[i].id)
			s[o++] = s[i];
	*n = o;
	return s;
}

/* The counters of a rule id, or NULL when no rule has it. */
struct nat_rule_stats *
rule_stats_find(struct nat *nat, uint32_t id)
{
	size_t lo = 0, hi = nat->nrstats, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (nat->rstats[mid].id == id)
			return &nat->rstats[mid];
		if (nat->rstats[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The entry of s[0..n) for the rule old had: same key, or same id if none. */
static struct nat_rule_stats *
rule_stats_match(struct nat_rule_stats *s, size_t n,
    const struct nat_rule_stats *old)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (old->key != 0 ? s[i].key == old->key :
		    s[i].key == 0 && s[i].id == old->id)
			return &s[i];
	return NULL;
}

/*
 * Give every flow the new id of its rule: a rule keeps its key across a
 * reload while its id (its place in the config) may change. A flow of a
 * removed keyed rule gets NAT_RULE_GONE; one of a removed rule without a
 * key keeps its old id.
 */
static void
rule_stats_renumber(struct nat *nat, struct nat_rule_stats *s, size_t n)
{
	const struct nat_rule_stats *o;
	struct nat_rule_stats *m;
	struct nat_flow *f;
	uint32_t *to, id;
	size_t i;

	if (nat->nrstats == 0 || (to = calloc(nat->nrstats,
	    sizeof(*to))) == NULL)
		return;
	for (i = 0; i < nat->nrstats; i++) {
		m = rule_stats_match(s, n, &nat->rstats[i]);
		/* a keyed rule that is gone: its id may be another's now */
		to[i] = m != NULL ? m->id : nat->rstats[i].key != 0 ?
		    NAT_RULE_GONE : nat->rstats[i].id;
	}
	for (id = nat->ahead; id != FLOW_NONE; id = f->all.next) {
		f = flow_at(nat, id);
		if ((o = rule_stats_find(nat, f->rule_id)) != NULL)
			f->rule_id = to[o - nat->rstats];
	}
	free(to);
}

/*
 * Put new counters in place: a rule kept (same key, or same id when it
 * has none) keeps its totals; its flows take its new id, and the flows
 * tracked now are counted again, since flows of a removed rule may stay.
 */
void
rule_stats_take(struct nat *nat, struct nat_rule_stats *s, size_t n)
{
	const struct nat_rule_stats *o;
	const struct nat_flow *f;
	uint64_t key;
	size_t i, j;
	uint32_t id;

	rule_stats_renumber(nat, s, n);
	for (i = 0; i < n; i++) {
		o = NULL;
		for (j = 0; j < nat->nrstats && o == NULL; j++)
			if (rule_stats_match(&s[i], 1, &nat->rstats[j]) != NULL)
				o = &nat->rstats[j];
		if (o != NULL) {
			id = s[i].id;
			key = s[i].key;
			s[i] = *o;
			s[i].id = id;
			s[i].key = key;
		}
		s[i].flows_active = 0;
	}
	free(nat->rstats);
	nat->rstats = s;
	nat->nrstats = n;
	for (id = nat->ahead; id != FLOW_NONE; id = f->all.next) {
		f = flow_at(nat, id);
		rule_stats_flow(nat, f->rule_id, 1, false);
	}
}

/* Count a flow of a rule id in (delta 1; created: a new one) or out (-1). */
void
rule_stats_flow(struct nat *nat, uint32_t id, int delta, bool created)
{
	struct nat_rule_stats *s = rule_stats_find(nat, id);

	if (s == NULL)
		return;
	if (delta > 0)
		s->flows_active++;
	else if (s->flows_active > 0)
		s->flows_active--;
	if (created)
		s->flows_created++;
}

/* Copy the counters of each rule id; the number of ids. */
size_t
nat_rule_stats(const struct nat *nat, struct nat_rule_stats *out, size_t max)
{
	size_t i;

	for (i = 0; i < nat->nrstats && i < max; i++)
		out[i] = nat->rstats[i];
	return nat->nrstats;
}
