/*
 * nft.c - the back half's nftables table through libnftnl (see nft.h): the
 * socket, atomic batches, the table, chains and maps, apply/remove, and the
 * read-back of our own table (chains, marks). The rules are in nft_rules.c.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "tun/nft.h"
#include "tun/nft_int.h"
#include "tun/nl.h"

#define NFT_BUFSIZE	(256 * 1024)	/* 16 tunnels of rules fit */
#define NFT_PRIO_MANGLE	(-150)
#define NFT_TYPE_BITS	6		/* nft's concatenated type ids */
#define NFT_TYPE_IPADDR	7
#define NFT_TYPE_IP6ADDR 8
#define NFT_TYPE_SERVICE 13

/* Open a NETLINK_NETFILTER socket. */
static struct mnl_socket *
nft_open(char *err)
{
	struct mnl_socket *s;

	if ((s = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC)) == NULL) {
		snprintf(err, ERRLEN, "netlink (netfilter): %s", strerror(errno));
		return NULL;
	}
	if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) == -1) {
		snprintf(err, ERRLEN, "netlink bind: %s", strerror(errno));
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
		snprintf(err, ERRLEN, "out of memory");
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
struct nlmsghdr *
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
			snprintf(nb->err, ERRLEN, "nftables: %s%s%s",
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
		snprintf(nb->err, ERRLEN, "nftables: send: %s", strerror(errno));
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
		snprintf(nb->err, ERRLEN, "nftables: no answer from the kernel");
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
int
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

/* The name and set id of tunnel n's map of a family ("udp4", "udp6_2"). */
uint32_t
nft_map_name(size_t n, bool v6, char *name, size_t len)
{
	if (n == 0)
		snprintf(name, len, "udp%d", v6 ? 6 : 4);
	else
		snprintf(name, len, "udp%d_%zu", v6 ? 6 : 4, n);
	return (uint32_t)(1 + 2 * n + v6);
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
nft_apply_keep(const struct nft_back *s, char err[ERRLEN])
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
	snprintf(err, ERRLEN, "nftables: out of memory");
out:
	nft_batch_free(&nb);
	return rc;
}

/* Replace our table, maps included, in one batch. */
static int
nft_apply_fresh(const struct nft_back *s, char err[ERRLEN])
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
		snprintf(err, ERRLEN, "nftables: out of memory");
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
nft_apply(const struct nft_back *s, char err[ERRLEN])
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
		snprintf(err, ERRLEN, "nftables: out of memory");
		goto out;
	}
	rc = nft_batch_send(&nb);
out:
	nft_batch_free(&nb);
	return rc;
}

/* Whether nftables is usable: create and delete a probe table. */
int
nft_probe(char err[ERRLEN])
{
	return nft_drop("tunrelay_probe", err);
}

/* Delete our table if it exists. */
int
nft_remove(char err[ERRLEN])
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
		snprintf(err, ERRLEN, "out of memory");
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
	snprintf(err, ERRLEN, "nftables: list %s: %s", what,
	    strerror(errno));
	rc = -1;
out:
	mnl_socket_close(s);
	free(buf);
	return rc;
}

/* Number of chains in our table (0: no table). */
int
nft_chains(int *n, char err[ERRLEN])
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
    char err[ERRLEN])
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
nft_watch_open(char err[ERRLEN])
{
	struct mnl_socket *s;
	int g = NFNLGRP_NFTABLES;

	s = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (s == NULL || mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) == -1 ||
	    mnl_socket_setsockopt(s, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)) == -1) {
		snprintf(err, ERRLEN, "nftables events: %s", strerror(errno));
		if (s != NULL)
			mnl_socket_close(s);
		return NULL;
	}
	return s;
}
