/*
 * rule.c - rule validation and matching.
 */
#include <stdio.h>

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
		snprintf(err, NAT_ERRLEN, "rule %zu: family %u (allowed: 4, 6)",
		    i, r->family);
	else if (r->action != NAT_RULE_DNAT && r->action != NAT_RULE_PASS)
		snprintf(err, NAT_ERRLEN, "rule %zu: unknown action %u", i,
		    r->action);
	else if (r->protos == 0 ||
	    (r->protos & ~(NAT_P_TCP | NAT_P_UDP | NAT_P_ICMP)))
		snprintf(err, NAT_ERRLEN, "rule %zu: protocol mask 0x%x", i,
		    r->protos);
	else if (r->port_lo > r->port_hi)
		snprintf(err, NAT_ERRLEN, "rule %zu: port range %u-%u is reversed",
		    i, r->port_lo, r->port_hi);
	else if (r->action == NAT_RULE_DNAT && r->to_port != 0 &&
	    (uint32_t)r->to_port + (r->port_hi - r->port_lo) > 65535)
		snprintf(err, NAT_ERRLEN, "rule %zu: target ports %u-%u run "
		    "past 65535", i, r->to_port,
		    (unsigned)r->to_port + (r->port_hi - r->port_lo));
	else if (r->action == NAT_RULE_DNAT && rule_addr_zero(&r->to))
		snprintf(err, NAT_ERRLEN, "rule %zu: no target address", i);
	else if (r->action == NAT_RULE_DNAT && r->source == NAT_SOURCE_RELAY &&
	    rule_addr_zero(&r->relay_src))
		snprintf(err, NAT_ERRLEN, "rule %zu: full NAT without a relay "
		    "source address", i);
	else if (r->source != NAT_SOURCE_KEEP && r->source != NAT_SOURCE_RELAY)
		snprintf(err, NAT_ERRLEN, "rule %zu: unknown source mode %u", i,
		    r->source);
	else if (r->mtu != 0 && r->mtu < (r->family == 4 ? 576 : 1280))
		snprintf(err, NAT_ERRLEN, "rule %zu: MTU %u is below the IPv%u "
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
	if (r->to_port == 0)
		return port;
	return (uint16_t)(r->to_port + (port - r->port_lo));
}
