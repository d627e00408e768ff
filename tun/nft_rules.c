/*
 * nft_rules.c - the rules of the back half's nftables table (see nft.h),
 * expression by expression through libnftnl, for every tunnel.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <net/if.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>

#include <libmnl/libmnl.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>

#include "tun/nft.h"
#include "tun/nft_int.h"

#define NFT_TCPOPT_MAXSEG 2

/* Append an expression; false when out of memory. */
static bool
nft_expr_append(struct nftnl_rule *r, struct nftnl_expr *e)
{
	if (e == NULL)
		return false;
	nftnl_rule_add_expr(r, e);
	return true;
}

/* meta KEY => dreg. */
static bool
nft_meta_load(struct nftnl_rule *r, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
	}
	return nft_expr_append(r, e);
}

/* meta set KEY with sreg. */
static bool
nft_meta_set(struct nftnl_rule *r, uint32_t key, uint32_t sreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, sreg);
	}
	return nft_expr_append(r, e);
}

/* cmp OP sreg, data. */
static bool
nft_cmp(struct nftnl_rule *r, uint32_t sreg, uint32_t op, const void *d,
    uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, d, len);
	}
	return nft_expr_append(r, e);
}

/* ct KEY => dreg, or ct set KEY with sreg (set true). */
static bool
nft_ct(struct nftnl_rule *r, uint32_t key, uint32_t reg, bool set)
{
	struct nftnl_expr *e = nftnl_expr_alloc("ct");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
		nftnl_expr_set_u32(e, set ? NFTNL_EXPR_CT_SREG : NFTNL_EXPR_CT_DREG,
		    reg);
	}
	return nft_expr_append(r, e);
}

/* immediate data => dreg. */
static bool
nft_imm(struct nftnl_rule *r, uint32_t dreg, const void *d, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, dreg);
		nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, d, len);
	}
	return nft_expr_append(r, e);
}

/* payload load base+off, len => dreg. */
static bool
nft_load(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len,
    uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
	}
	return nft_expr_append(r, e);
}

/* Write an address (network header) from sreg, fixing the checksums. */
static bool
nft_write_addr(struct nftnl_rule *r, bool v6, uint32_t sreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE,
		    NFT_PAYLOAD_NETWORK_HEADER);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, v6 ? 8 : 12);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, v6 ? 16 : 4);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_SREG, sreg);
		/* IPv4 has a header checksum; both have the L4 pseudo-header */
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_CSUM_TYPE,
		    v6 ? NFT_PAYLOAD_CSUM_NONE : NFT_PAYLOAD_CSUM_INET);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_CSUM_OFFSET, v6 ? 0 : 10);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_FLAGS,
		    NFT_PAYLOAD_L4CSUM_PSEUDOHDR);
	}
	return nft_expr_append(r, e);
}

/* reg = (reg & mask) ^ 0 over len bytes. */
static bool
nft_and(struct nftnl_rule *r, uint32_t reg, uint32_t len, uint32_t mask)
{
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");
	uint32_t zero = 0;

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, reg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, reg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, len);
	}
	return nft_expr_append(r, e);
}

/* Compare an interface name (iifname/oifname) with OP. */
static bool
nft_ifname(struct nftnl_rule *r, uint32_t key, uint32_t op, const char *name)
{
	char pad[IFNAMSIZ];

	memset(pad, 0, sizeof(pad));
	snprintf(pad, sizeof(pad), "%s", name);
	return nft_meta_load(r, key, NFT_REG_1) &&
	    nft_cmp(r, NFT_REG_1, op, pad, sizeof(pad));
}

/* meta nfproto FAMILY meta l4proto PROTO. */
static bool
nft_l3l4(struct nftnl_rule *r, uint8_t nfproto, uint8_t l4)
{
	return (nfproto == 0 || (nft_meta_load(r, NFT_META_NFPROTO, NFT_REG_1) &&
	    nft_cmp(r, NFT_REG_1, NFT_CMP_EQ, &nfproto, 1))) &&
	    nft_meta_load(r, NFT_META_L4PROTO, NFT_REG_1) &&
	    nft_cmp(r, NFT_REG_1, NFT_CMP_EQ, &l4, 1);
}

/* ct mark MARK meta mark set ct mark. */
static bool
nft_restore(struct nftnl_rule *r, uint32_t mark)
{
	return nft_ct(r, NFT_CT_MARK, NFT_REG_1, false) &&
	    nft_cmp(r, NFT_REG_1, NFT_CMP_EQ, &mark, 4) &&
	    nft_meta_set(r, NFT_META_MARK, NFT_REG_1);
}

/*
 * Load addr . port . port into registers from NFT_REG32_00: the address at
 * aoff, then the ports at th+p1 and th+p2.
 */
static bool
nft_key(struct nftnl_rule *r, bool v6, uint32_t aoff, uint32_t p1, uint32_t p2)
{
	uint32_t preg = v6 ? NFT_REG32_04 : NFT_REG32_01;

	return nft_load(r, NFT_PAYLOAD_NETWORK_HEADER, aoff, v6 ? 16 : 4,
	    NFT_REG32_00) &&
	    nft_load(r, NFT_PAYLOAD_TRANSPORT_HEADER, p1, 2, preg) &&
	    nft_load(r, NFT_PAYLOAD_TRANSPORT_HEADER, p2, 2, preg + 1);
}

/* Learn a UDP flow from the tunnel: update @map { saddr . sport . dport : daddr }. */
static bool
nft_udp_learn(struct nftnl_rule *r, const struct nft_tunnel *t, bool v6,
    const char *map, uint32_t id)
{
	struct nftnl_expr *e;

	if (!nft_ifname(r, NFT_META_IIFNAME, NFT_CMP_EQ, t->name) ||
	    !nft_l3l4(r, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4, IPPROTO_UDP) ||
	    !nft_key(r, v6, v6 ? 8 : 12, 0, 2) ||
	    !nft_load(r, NFT_PAYLOAD_NETWORK_HEADER, v6 ? 24 : 16, v6 ? 16 : 4,
	    NFT_REG_3))
		return false;
	if ((e = nftnl_expr_alloc("dynset")) == NULL)
		return false;
	nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG32_00);
	nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_DATA, NFT_REG_3);
	nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
	nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, map);
	nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SET_ID, id);
	nftnl_expr_set_u64(e, NFTNL_EXPR_DYNSET_TIMEOUT, NFT_UDP_TIMEOUT_MS);
	return nft_expr_append(r, e);
}

/*
 * A new UDP flow answering a learned one (daddr . dport . sport in @map):
 * source set to the address the request went to, packet marked.
 */
static bool
nft_udp_fix(struct nftnl_rule *r, const struct nft_tunnel *t, bool v6,
    const char *map, uint32_t id)
{
	uint32_t newbit = NF_CT_STATE_BIT(IP_CT_NEW), zero = 0;
	struct nftnl_expr *e;

	if (!nft_l3l4(r, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4, IPPROTO_UDP) ||
	    !nft_ct(r, NFT_CT_STATE, NFT_REG_1, false) ||
	    !nft_and(r, NFT_REG_1, 4, newbit) ||
	    !nft_cmp(r, NFT_REG_1, NFT_CMP_NEQ, &zero, 4) ||
	    !nft_key(r, v6, v6 ? 24 : 16, 2, 0))
		return false;
	if ((e = nftnl_expr_alloc("lookup")) == NULL)
		return false;
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG32_00);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_3);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, map);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, id);
	return nft_expr_append(r, e) && nft_write_addr(r, v6, NFT_REG_3) &&
	    nft_imm(r, NFT_REG_1, &t->mark, 4) &&
	    nft_meta_set(r, NFT_META_MARK, NFT_REG_1);
}

/* tcp flags & (syn|rst) == syn tcp option maxseg size set rt mtu | N. */
static bool
nft_mss(struct nftnl_rule *r, const struct nft_back *s,
    const struct nft_tunnel *t)
{
	uint8_t syn = 0x02;
	uint16_t v = htons(s->mss_fixed);
	struct nftnl_expr *e;

	if (!nft_ifname(r, NFT_META_OIFNAME, NFT_CMP_EQ, t->name) ||
	    !nft_l3l4(r, 0, IPPROTO_TCP) ||
	    !nft_load(r, NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1, NFT_REG_1) ||
	    !nft_and(r, NFT_REG_1, 1, 0x06) ||
	    !nft_cmp(r, NFT_REG_1, NFT_CMP_EQ, &syn, 1))
		return false;
	if (s->mss_fixed != 0) {
		if (!nft_imm(r, NFT_REG_1, &v, 2))
			return false;
	} else {
		if ((e = nftnl_expr_alloc("rt")) == NULL)
			return false;
		nftnl_expr_set_u32(e, NFTNL_EXPR_RT_KEY, NFT_RT_TCPMSS);
		nftnl_expr_set_u32(e, NFTNL_EXPR_RT_DREG, NFT_REG_1);
		nft_expr_append(r, e);
		if ((e = nftnl_expr_alloc("byteorder")) == NULL)
			return false;
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_OP, NFT_BYTEORDER_HTON);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_LEN, 2);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SIZE, 2);
		nft_expr_append(r, e);
	}
	if ((e = nftnl_expr_alloc("exthdr")) == NULL)
		return false;
	nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_OP, NFT_EXTHDR_OP_TCPOPT);
	nftnl_expr_set_u8(e, NFTNL_EXPR_EXTHDR_TYPE, NFT_TCPOPT_MAXSEG);
	nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_OFFSET, 2);
	nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_LEN, 2);
	nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_SREG, NFT_REG_1);
	return nft_expr_append(r, e);
}

/* A rule on a map of tunnel n: learn (in pre) or fix (in out). */
static bool
nft_udp_rule(struct nftnl_rule *r, const struct nft_back *s, size_t n,
    bool v6, bool learn)
{
	char map[32];
	uint32_t id = nft_map_name(s->tunnel[n].num, v6, map, sizeof(map));

	return learn ? nft_udp_learn(r, &s->tunnel[n], v6, map, id) :
	    nft_udp_fix(r, &s->tunnel[n], v6, map, id);
}

/* Tunnel n's rules, one at a time (which: 0.. until false). */
static bool
nft_rule_fill(struct nftnl_rule *r, const struct nft_back *s, size_t n,
    int which, const char **chain)
{
	const struct nft_tunnel *t = &s->tunnel[n];

	*chain = which < 4 ? "pre" : which < 7 ? "out" : "post";
	switch (which) {
	case 0:
		return nft_ifname(r, NFT_META_IIFNAME, NFT_CMP_EQ, t->name) &&
		    nft_imm(r, NFT_REG_1, &t->mark, 4) &&
		    nft_ct(r, NFT_CT_MARK, NFT_REG_1, true);
	case 1:
	case 2:
		return nft_udp_rule(r, s, n, which == 2, true);
	case 3:
		return nft_ifname(r, NFT_META_IIFNAME, NFT_CMP_NEQ, t->name) &&
		    nft_restore(r, t->mark);
	case 4:
	case 5:
		return nft_udp_rule(r, s, n, which == 5, false);
	case 6:
		return nft_restore(r, t->mark);
	case 7:
		return nft_mss(r, s, t);
	}
	return false;
}

/* Number of rules nft_rule_fill knows per tunnel. */
#define NFT_NRULES 8

/* Add one rule of tunnel n. */
static int
nft_rule_add(struct nft_batch *nb, const struct nft_back *s, size_t n,
    int which)
{
	struct nftnl_rule *r;
	struct nlmsghdr *nlh;
	const char *chain = NULL;

	if ((r = nftnl_rule_alloc()) == NULL)
		return -1;
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NFT_BACK_TABLE);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	if (!nft_rule_fill(r, s, n, which, &chain)) {
		nftnl_rule_free(r);
		return -1;
	}
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nlh = nft_batch_hdr(nb, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	mnl_nlmsg_batch_next(nb->b);
	return 0;
}

/* Add every tunnel's maps and rules. */
int
nft_rules(struct nft_batch *nb, const struct nft_back *s)
{
	char map[32];
	uint32_t id;
	size_t n;
	int i;

	for (n = 0; n < s->ntunnel; n++)
		for (i = 0; i < 2; i++) {
			id = nft_map_name(s->tunnel[n].num, i == 1, map,
			    sizeof(map));
			if (nft_map_msg(nb, map, id, i == 1) == -1)
				return -1;
		}
	for (n = 0; n < s->ntunnel; n++)
		for (i = 0; i < NFT_NRULES; i++)
			if ((i != 7 || s->mss) && nft_rule_add(nb, s, n, i) == -1)
				return -1;
	return 0;
}
