/*
 * nft.c - the back half's nftables table through libnftnl (see nft.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <net/if.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "core/nft.h"
#include "tun/nl.h"

#define NFT_BUFSIZE	(256 * 1024)	/* 16 tunnels of rules fit */
#define NFT_PRIO_MANGLE	(-150)
#define NFT_TYPE_BITS	6		/* nft's concatenated type ids */
#define NFT_TYPE_IPADDR	7
#define NFT_TYPE_IP6ADDR 8
#define NFT_TYPE_SERVICE 13
#define NFT_TCPOPT_MAXSEG 2

/* A batch being built, with the socket it goes to. */
struct nft_batch {
	struct mnl_socket *sock;
	struct mnl_nlmsg_batch *b;
	char *buf;
	uint32_t seq;
	unsigned int nmsg;	/* messages that expect an answer */
	char *err;
};

/* Open a NETLINK_NETFILTER socket. */
static struct mnl_socket *
nft_open(char *err)
{
	struct mnl_socket *s;

	if ((s = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC)) == NULL) {
		snprintf(err, NFT_ERRLEN, "netlink (netfilter): %s", strerror(errno));
		return NULL;
	}
	if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) == -1) {
		snprintf(err, NFT_ERRLEN, "netlink bind: %s", strerror(errno));
		mnl_socket_close(s);
		return NULL;
	}
	return s;
}

/* Start a batch. */
static int
nft_batch_start(struct nft_batch *nb, char *err)
{
	memset(nb, 0, sizeof(*nb));
	nb->err = err;
	nb->seq = (uint32_t)time(NULL);
	if ((nb->buf = malloc(NFT_BUFSIZE)) == NULL) {
		snprintf(err, NFT_ERRLEN, "out of memory");
		return -1;
	}
	if ((nb->sock = nft_open(err)) == NULL) {
		free(nb->buf);
		return -1;
	}
	nb->b = mnl_nlmsg_batch_start(nb->buf, NFT_BUFSIZE);
	nftnl_batch_begin(mnl_nlmsg_batch_current(nb->b), nb->seq++);
	mnl_nlmsg_batch_next(nb->b);
	return 0;
}

/* Free a batch and its socket. */
static void
nft_batch_free(struct nft_batch *nb)
{
	if (nb->b != NULL)
		mnl_nlmsg_batch_stop(nb->b);
	if (nb->sock != NULL)
		mnl_socket_close(nb->sock);
	free(nb->buf);
	memset(nb, 0, sizeof(*nb));
}

/* A message header for the next batch entry. */
static struct nlmsghdr *
nft_batch_hdr(struct nft_batch *nb, uint16_t type, uint16_t flags)
{
	nb->nmsg++;
	return nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(nb->b), type,
	    NFPROTO_INET, flags | NLM_F_ACK, nb->seq++);
}

/* Count answers in one buffer; the first error goes into err. */
static int
nft_batch_answers(struct nft_batch *nb, const char *buf, size_t len,
    unsigned int *seen, int *first)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
	int n = (int)len, code;
	char msg[200];

	for (; mnl_nlmsg_ok(nlh, n); nlh = mnl_nlmsg_next(nlh, &n)) {
		if (nlh->nlmsg_type != NLMSG_ERROR)
			continue;
		(*seen)++;
		code = nl_error_parse(nlh, nlh->nlmsg_len, msg, sizeof(msg));
		if (code < 0 && *first == 0) {
			*first = -code;
			snprintf(nb->err, NFT_ERRLEN, "nftables: %s%s%s",
			    strerror(-code), msg[0] ? ": " : "", msg);
		}
	}
	return 0;
}

/* Close, send and wait (bounded) for every answer. */
static int
nft_batch_send(struct nft_batch *nb)
{
	struct pollfd p;
	unsigned int seen = 0;
	int first = 0;
	ssize_t n;

	nftnl_batch_end(mnl_nlmsg_batch_current(nb->b), nb->seq++);
	mnl_nlmsg_batch_next(nb->b);
	if (mnl_socket_sendto(nb->sock, mnl_nlmsg_batch_head(nb->b),
	    mnl_nlmsg_batch_size(nb->b)) == -1) {
		snprintf(nb->err, NFT_ERRLEN, "nftables: send: %s", strerror(errno));
		return -1;
	}
	p.fd = mnl_socket_get_fd(nb->sock);
	p.events = POLLIN;
	while (seen < nb->nmsg && poll(&p, 1, 1000) == 1) {
		n = mnl_socket_recvfrom(nb->sock, nb->buf, NFT_BUFSIZE);
		if (n <= 0)
			break;
		nft_batch_answers(nb, nb->buf, (size_t)n, &seen, &first);
		if (first != 0)
			break;
	}
	if (first != 0) {
		errno = first;
		return -1;
	}
	if (seen < nb->nmsg) {
		snprintf(nb->err, NFT_ERRLEN, "nftables: no answer from the kernel");
		return -1;
	}
	return 0;
}

/* Add a table message (NFT_MSG_NEWTABLE or NFT_MSG_DELTABLE). */
static int
nft_table_msg(struct nft_batch *nb, const char *name, uint16_t type)
{
	struct nftnl_table *t;
	struct nlmsghdr *nlh;

	if ((t = nftnl_table_alloc()) == NULL)
		return -1;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, name);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nlh = nft_batch_hdr(nb, type, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	mnl_nlmsg_batch_next(nb->b);
	return 0;
}

/* Add a base chain. */
static int
nft_chain_msg(struct nft_batch *nb, const char *name, const char *type,
    uint32_t hook)
{
	struct nftnl_chain *c;
	struct nlmsghdr *nlh;

	if ((c = nftnl_chain_alloc()) == NULL)
		return -1;
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NFT_BACK_TABLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, NFT_PRIO_MANGLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, type);
	nlh = nft_batch_hdr(nb, NFT_MSG_NEWCHAIN, NLM_F_CREATE);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	mnl_nlmsg_batch_next(nb->b);
	return 0;
}

/* Add a dynamic map addr . port . port : addr with a timeout. */
static int
nft_map_msg(struct nft_batch *nb, const char *name, uint32_t id, bool v6)
{
	uint32_t at = v6 ? NFT_TYPE_IP6ADDR : NFT_TYPE_IPADDR;
	uint32_t alen = v6 ? 16 : 4;
	struct nftnl_set *s;
	struct nlmsghdr *nlh;

	if ((s = nftnl_set_alloc()) == NULL)
		return -1;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_BACK_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(s, NFTNL_SET_ID, id);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_MAP | NFT_SET_TIMEOUT |
	    NFT_SET_EVAL);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, (((at << NFT_TYPE_BITS) |
	    NFT_TYPE_SERVICE) << NFT_TYPE_BITS) | NFT_TYPE_SERVICE);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, alen + 8);
	nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, at);
	nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, alen);
	nftnl_set_set_u64(s, NFTNL_SET_TIMEOUT, NFT_UDP_TIMEOUT_MS);
	nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, 65535);
	nlh = nft_batch_hdr(nb, NFT_MSG_NEWSET, NLM_F_CREATE);
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	mnl_nlmsg_batch_next(nb->b);
	return 0;
}

/* Append an expression; false when out of memory. */
static bool
nft_x(struct nftnl_rule *r, struct nftnl_expr *e)
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
	return nft_x(r, e);
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
	return nft_x(r, e);
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
	return nft_x(r, e);
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
	return nft_x(r, e);
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
	return nft_x(r, e);
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
	return nft_x(r, e);
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
	return nft_x(r, e);
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
	return nft_x(r, e);
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
	return nft_x(r, e);
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
	return nft_x(r, e) && nft_write_addr(r, v6, NFT_REG_3) &&
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
		nft_x(r, e);
		if ((e = nftnl_expr_alloc("byteorder")) == NULL)
			return false;
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_OP, NFT_BYTEORDER_HTON);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_LEN, 2);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SIZE, 2);
		nft_x(r, e);
	}
	if ((e = nftnl_expr_alloc("exthdr")) == NULL)
		return false;
	nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_OP, NFT_EXTHDR_OP_TCPOPT);
	nftnl_expr_set_u8(e, NFTNL_EXPR_EXTHDR_TYPE, NFT_TCPOPT_MAXSEG);
	nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_OFFSET, 2);
	nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_LEN, 2);
	nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_SREG, NFT_REG_1);
	return nft_x(r, e);
}

/* The name and set id of tunnel n's map of a family ("udp4", "udp6_2"). */
static uint32_t
nft_map_name(size_t n, bool v6, char *name, size_t len)
{
	if (n == 0)
		snprintf(name, len, "udp%d", v6 ? 6 : 4);
	else
		snprintf(name, len, "udp%d_%zu", v6 ? 6 : 4, n);
	return (uint32_t)(1 + 2 * n + v6);
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
static int
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

/* Chains nft_apply creates for a spec. */
int
nft_chains_wanted(const struct nft_back *s)
{
	return s->mss ? 3 : 2;
}

/* Flush (NFT_MSG_DELRULE) or delete (NFT_MSG_DELCHAIN) one of our chains. */
static int
nft_chain_op(struct nft_batch *nb, const char *chain, uint16_t type)
{
	struct nftnl_chain *c;
	struct nftnl_rule *r;
	struct nlmsghdr *nlh;

	nlh = NULL;
	if (type == NFT_MSG_DELRULE) {
		if ((r = nftnl_rule_alloc()) == NULL)
			return -1;
		nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NFT_BACK_TABLE);
		nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
		nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
		nlh = nft_batch_hdr(nb, type, 0);
		nftnl_rule_nlmsg_build_payload(nlh, r);
		nftnl_rule_free(r);
	} else {
		if ((c = nftnl_chain_alloc()) == NULL)
			return -1;
		nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NFT_BACK_TABLE);
		nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, chain);
		nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
		nlh = nft_batch_hdr(nb, type, 0);
		nftnl_chain_nlmsg_build_payload(nlh, c);
		nftnl_chain_free(c);
	}
	mnl_nlmsg_batch_next(nb->b);
	return 0;
}

/* Delete one of our sets by name. */
static int
nft_set_del(struct nft_batch *nb, const char *name)
{
	struct nftnl_set *st;
	struct nlmsghdr *nlh;

	if ((st = nftnl_set_alloc()) == NULL)
		return -1;
	nftnl_set_set_str(st, NFTNL_SET_TABLE, NFT_BACK_TABLE);
	nftnl_set_set_str(st, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(st, NFTNL_SET_FAMILY, NFPROTO_INET);
	nlh = nft_batch_hdr(nb, NFT_MSG_DELSET, 0);
	nftnl_set_nlmsg_build_payload(nlh, st);
	nftnl_set_free(st);
	mnl_nlmsg_batch_next(nb->b);
	return 0;
}

/* The maps of tunnel numbers no tunnel uses now: made if missing, deleted. */
static int
nft_maps_unused(struct nft_batch *nb, const struct nft_back *s)
{
	char map[32];
	unsigned int num;
	uint32_t id;
	size_t t;
	int v6;

	for (num = 0; num < NFT_TUNNELS_MAX; num++) {
		for (t = 0; t < s->ntunnel && s->tunnel[t].num != num; t++)
			;
		if (t < s->ntunnel)
			continue;
		for (v6 = 0; v6 < 2; v6++) {
			id = nft_map_name(num, v6, map, sizeof(map));
			if (nft_map_msg(nb, map, id, v6) == -1 ||
			    nft_set_del(nb, map) == -1)
				return -1;
		}
	}
	return 0;
}

/*
 * Our chains and rules replaced in one batch, the maps of the tunnels that
 * stay kept with what they learnt (a reload or a restart must not make the
 * replies of running UDP flows lose their way until the client sends again).
 */
static int
nft_apply_keep(const struct nft_back *s, char err[NFT_ERRLEN])
{
	static const char *const chains[] = { "pre", "out", "post" };
	struct nft_batch nb;
	size_t i;
	int rc = -1;

	if (nft_batch_start(&nb, err) == -1)
		return -1;
	if (nft_table_msg(&nb, NFT_BACK_TABLE, NFT_MSG_NEWTABLE) == -1 ||
	    nft_chain_msg(&nb, "pre", "filter", NF_INET_PRE_ROUTING) == -1 ||
	    nft_chain_msg(&nb, "out", "route", NF_INET_LOCAL_OUT) == -1 ||
	    nft_chain_msg(&nb, "post", "filter", NF_INET_POST_ROUTING) == -1)
		goto nomem;
	for (i = 0; i < 3; i++)
		if (nft_chain_op(&nb, chains[i], NFT_MSG_DELRULE) == -1)
			goto nomem;
	if ((!s->mss && nft_chain_op(&nb, "post", NFT_MSG_DELCHAIN) == -1) ||
	    nft_maps_unused(&nb, s) == -1 || nft_rules(&nb, s) == -1)
		goto nomem;
	rc = nft_batch_send(&nb);
	goto out;
nomem:
	snprintf(err, NFT_ERRLEN, "nftables: out of memory");
out:
	nft_batch_free(&nb);
	return rc;
}

/* Replace our table, maps included, in one batch. */
static int
nft_apply_fresh(const struct nft_back *s, char err[NFT_ERRLEN])
{
	struct nft_batch nb;
	int rc = -1;

	if (nft_batch_start(&nb, err) == -1)
		return -1;
	/* create-if-missing, delete, create: one atomic replace */
	if (nft_table_msg(&nb, NFT_BACK_TABLE, NFT_MSG_NEWTABLE) == -1 ||
	    nft_table_msg(&nb, NFT_BACK_TABLE, NFT_MSG_DELTABLE) == -1 ||
	    nft_table_msg(&nb, NFT_BACK_TABLE, NFT_MSG_NEWTABLE) == -1 ||
	    nft_chain_msg(&nb, "pre", "filter", NF_INET_PRE_ROUTING) == -1 ||
	    nft_chain_msg(&nb, "out", "route", NF_INET_LOCAL_OUT) == -1 ||
	    (s->mss && nft_chain_msg(&nb, "post", "filter",
	    NF_INET_POST_ROUTING) == -1) || nft_rules(&nb, s) == -1) {
		snprintf(err, NFT_ERRLEN, "nftables: out of memory");
		goto out;
	}
	rc = nft_batch_send(&nb);
out:
	nft_batch_free(&nb);
	return rc;
}

/*
 * Make our table what s says, in one atomic batch: in place, keeping the
 * UDP maps' entries, or (when the table holds what an in-place update
 * cannot change, such as a map of another definition) replaced whole.
 */
int
nft_apply(const struct nft_back *s, char err[NFT_ERRLEN])
{
	if (nft_apply_keep(s, err) == 0)
		return 0;
	return nft_apply_fresh(s, err);
}

/* Create (if missing) and delete a table in one batch. */
static int
nft_drop(const char *name, char *err)
{
	struct nft_batch nb;
	int rc = -1;

	if (nft_batch_start(&nb, err) == -1)
		return -1;
	if (nft_table_msg(&nb, name, NFT_MSG_NEWTABLE) == -1 ||
	    nft_table_msg(&nb, name, NFT_MSG_DELTABLE) == -1) {
		snprintf(err, NFT_ERRLEN, "nftables: out of memory");
		goto out;
	}
	rc = nft_batch_send(&nb);
out:
	nft_batch_free(&nb);
	return rc;
}

/* Whether nftables is usable: create and delete a probe table. */
int
nft_probe(char err[NFT_ERRLEN])
{
	return nft_drop("tunrelay_probe", err);
}

/* Delete our table if it exists. */
int
nft_remove(char err[NFT_ERRLEN])
{
	return nft_drop(NFT_BACK_TABLE, err);
}

/* Count a dumped chain when it is in our table. */
static int
nft_chain_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	const char *t;
	int *n = arg;

	if (c == NULL)
		return MNL_CB_ERROR;
	if (nftnl_chain_nlmsg_parse(nlh, c) == 0 &&
	    (t = nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE)) != NULL &&
	    strcmp(t, NFT_BACK_TABLE) == 0)
		(*n)++;
	nftnl_chain_free(c);
	return MNL_CB_OK;
}

/*
 * Dump the objects of one kind (NFT_MSG_GETCHAIN, NFT_MSG_GETRULE) of the
 * inet family through cb; rules of our table only.
 */
static int
nft_dump(uint16_t type, mnl_cb_t cb, void *arg, const char *what, char *err)
{
	struct mnl_socket *s;
	struct nftnl_rule *r;
	struct nlmsghdr *nlh;
	char *buf;
	uint32_t seq = (uint32_t)time(NULL), portid;
	ssize_t len;
	int rc = -1;

	if ((buf = malloc(NFT_BUFSIZE)) == NULL) {
		snprintf(err, NFT_ERRLEN, "out of memory");
		return -1;
	}
	if ((s = nft_open(err)) == NULL) {
		free(buf);
		return -1;
	}
	portid = mnl_socket_get_portid(s);
	nlh = nftnl_nlmsg_build_hdr(buf, type, NFPROTO_INET, NLM_F_DUMP, seq);
	if (type == NFT_MSG_GETRULE && (r = nftnl_rule_alloc()) != NULL) {
		nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NFT_BACK_TABLE);
		nftnl_rule_nlmsg_build_payload(nlh, r);
		nftnl_rule_free(r);
	}
	if (mnl_socket_sendto(s, nlh, nlh->nlmsg_len) == -1)
		goto fail;
	while ((len = mnl_socket_recvfrom(s, buf, NFT_BUFSIZE)) > 0) {
		rc = mnl_cb_run(buf, (size_t)len, seq, portid, cb, arg);
		if (rc <= MNL_CB_STOP)
			break;
	}
	/* no table of ours: nothing to list */
	if (rc == -1 && errno != ENOENT)
		goto fail;
	rc = 0;
	goto out;
fail:
	snprintf(err, NFT_ERRLEN, "nftables: list %s: %s", what,
	    strerror(errno));
	rc = -1;
out:
	mnl_socket_close(s);
	free(buf);
	return rc;
}

/* Number of chains in our table (0: no table). */
int
nft_chains(int *n, char err[NFT_ERRLEN])
{
	*n = 0;
	return nft_dump(NFT_MSG_GETCHAIN, nft_chain_cb, n, "chains", err);
}

/* Where nft_marks puts what it finds. */
struct nft_scan {
	struct nft_found *out;
	size_t max, n;
	bool iif;		/* the last expression loaded iifname */
	bool named, marked, set;
	struct nft_found f;
};

/* Note what one expression of a rule says (see nft_marks). */
static void
nft_scan_expr(struct nft_scan *sc, struct nftnl_expr *e)
{
	const char *x = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
	const void *d;
	uint32_t len = 0;
	bool iif = false;

	if (strcmp(x, "meta") == 0)
		iif = nftnl_expr_is_set(e, NFTNL_EXPR_META_DREG) &&
		    nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY) ==
		    NFT_META_IIFNAME;
	else if (strcmp(x, "cmp") == 0 && sc->iif &&
	    nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP) == NFT_CMP_EQ &&
	    (d = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len)) != NULL &&
	    len <= sizeof(sc->f.name)) {
		memset(sc->f.name, 0, sizeof(sc->f.name));
		memcpy(sc->f.name, d, len);
		sc->f.name[sizeof(sc->f.name) - 1] = '\0';
		sc->named = true;
	} else if (strcmp(x, "immediate") == 0 &&
	    (d = nftnl_expr_get(e, NFTNL_EXPR_IMM_DATA, &len)) != NULL &&
	    len == 4) {
		memcpy(&sc->f.mark, d, 4);
		sc->marked = true;
	} else if (strcmp(x, "ct") == 0 &&
	    nftnl_expr_is_set(e, NFTNL_EXPR_CT_SREG) &&
	    nftnl_expr_get_u32(e, NFTNL_EXPR_CT_KEY) == NFT_CT_MARK)
		sc->set = true;
	sc->iif = iif;
}

/* A dumped rule: keep it when it is "iifname TUN ct mark set MARK" of ours. */
static int
nft_rule_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct nft_scan *sc = arg;
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nftnl_expr_iter *it;
	struct nftnl_expr *e;
	const char *t, *c;

	if (r == NULL)
		return MNL_CB_ERROR;
	sc->iif = sc->named = sc->marked = sc->set = false;
	if (nftnl_rule_nlmsg_parse(nlh, r) == 0 &&
	    (t = nftnl_rule_get_str(r, NFTNL_RULE_TABLE)) != NULL &&
	    (c = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN)) != NULL &&
	    strcmp(t, NFT_BACK_TABLE) == 0 && strcmp(c, "pre") == 0 &&
	    (it = nftnl_expr_iter_create(r)) != NULL) {
		while ((e = nftnl_expr_iter_next(it)) != NULL)
			nft_scan_expr(sc, e);
		nftnl_expr_iter_destroy(it);
	}
	if (sc->named && sc->marked && sc->set && sc->n < sc->max)
		sc->out[sc->n++] = sc->f;
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

/* The marks our table gives to the flows of each tunnel interface. */
int
nft_marks(struct nft_found *out, size_t max, size_t *n,
    char err[NFT_ERRLEN])
{
	struct nft_scan sc;

	memset(&sc, 0, sizeof(sc));
	sc.out = out;
	sc.max = max;
	*n = 0;
	if (nft_dump(NFT_MSG_GETRULE, nft_rule_cb, &sc, "rules", err) == -1)
		return -1;
	*n = sc.n;
	return 0;
}

/* A non-blocking socket subscribed to nftables change events. */
struct mnl_socket *
nft_watch_open(char err[NFT_ERRLEN])
{
	struct mnl_socket *s;
	int g = NFNLGRP_NFTABLES;

	s = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (s == NULL || mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) == -1 ||
	    mnl_socket_setsockopt(s, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)) == -1) {
		snprintf(err, NFT_ERRLEN, "nftables events: %s", strerror(errno));
		if (s != NULL)
			mnl_socket_close(s);
		return NULL;
	}
	return s;
}
