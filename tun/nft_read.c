/*
 * nft_read.c - read netfilter for `tunrelay check`: nftables chains and
 * rules through libnftnl dumps (read-only), and the entry counts and
 * built-in policies of legacy iptables tables through getsockopt.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter_ipv4/ip_tables.h>

#include "tun/nft_read.h"

#define NFT_READ_BUFSIZE (1 << 16)

/* State of one scan. */
struct nft_read_scan {
	const struct nft_read_ifs *ifs;
	struct nft_read_chain *c;
	size_t max, n;
	bool truncated;
};

/* Name of an nftables family. */
const char *
nft_read_family(uint32_t f)
{
	switch (f) {
	case NFPROTO_IPV4:
		return "ip";
	case NFPROTO_IPV6:
		return "ip6";
	case NFPROTO_INET:
		return "inet";
	case NFPROTO_ARP:
		return "arp";
	case NFPROTO_BRIDGE:
		return "bridge";
	case NFPROTO_NETDEV:
		return "netdev";
	}
	return "?";
}

/* Name of a hook. */
const char *
nft_read_hook(uint32_t h)
{
	static const char *const names[] = {
		"prerouting", "input", "forward", "output", "postrouting"
	};

	return h < 5 ? names[h] : "?";
}

/* Send a dump request and feed every answer to cb; bounded by a timeout. */
static int
nft_read_dump(uint16_t type, mnl_cb_t cb, void *arg, char *err)
{
	struct timeval tv = { 2, 0 };
	struct mnl_socket *s;
	struct nlmsghdr *nlh;
	unsigned int portid, seq = (unsigned int)time(NULL);
	char *buf;
	ssize_t n;
	int rc = -1;

	if ((buf = malloc(NFT_READ_BUFSIZE)) == NULL) {
		snprintf(err, ERRLEN, "no memory");
		return -1;
	}
	if ((s = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC)) == NULL ||
	    mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) == -1) {
		snprintf(err, ERRLEN, "nftables netlink: %s",
		    strerror(errno));
		goto out;
	}
	setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv));
	portid = mnl_socket_get_portid(s);
	nlh = nftnl_nlmsg_build_hdr(buf, type, NFPROTO_UNSPEC, NLM_F_DUMP, seq);
	if (mnl_socket_sendto(s, nlh, nlh->nlmsg_len) == -1) {
		snprintf(err, ERRLEN, "nftables netlink: %s",
		    strerror(errno));
		goto out;
	}
	while ((n = mnl_socket_recvfrom(s, buf, NFT_READ_BUFSIZE)) > 0) {
		if ((rc = mnl_cb_run(buf, (size_t)n, seq, portid, cb, arg)) <=
		    MNL_CB_STOP)
			break;
	}
	if (n == -1 || rc == MNL_CB_ERROR) {
		snprintf(err, ERRLEN, "nftables dump: %s",
		    strerror(errno));
		rc = -1;
	} else
		rc = 0;
out:
	if (s != NULL)
		mnl_socket_close(s);
	free(buf);
	return rc;
}

/* One chain of the dump. */
static int
nft_read_chain_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct nft_read_scan *sc = arg;
	struct nftnl_chain *c;
	struct nft_read_chain *o;
	const char *table, *type;

	if ((c = nftnl_chain_alloc()) == NULL)
		return MNL_CB_ERROR;
	if (nftnl_chain_nlmsg_parse(nlh, c) < 0 ||
	    (table = nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE)) == NULL ||
	    strncmp(table, "tunrelay", 8) == 0) {
		nftnl_chain_free(c);
		return MNL_CB_OK;
	}
	if (sc->n == sc->max) {
		sc->truncated = true;
		nftnl_chain_free(c);
		return MNL_CB_OK;
	}
	o = &sc->c[sc->n++];
	memset(o, 0, sizeof(*o));
	o->family = nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY);
	snprintf(o->table, sizeof(o->table), "%s", table);
	snprintf(o->name, sizeof(o->name), "%s",
	    nftnl_chain_get_str(c, NFTNL_CHAIN_NAME));
	if (nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM)) {
		o->base = true;
		o->hook = nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM);
		type = nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE);
		snprintf(o->type, sizeof(o->type), "%s", type ? type : "");
		o->drop_policy = nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY) &&
		    nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) == NF_DROP;
	}
	nftnl_chain_free(c);
	return MNL_CB_OK;
}

/* What a rule does and which interfaces it names. */
struct nft_read_rule {
	const struct nft_read_ifs *ifs;
	uint32_t reg_key[32];		/* meta key loaded into each register */
	bool names_if, names_ours;
	const char *verb;		/* the NAT statement, or NULL */
};

/*
 * Whether an interface name from a rule is ours. nft keeps a name as its
 * bytes with a NUL (exact match), and "pfx*" as the prefix alone.
 */
static bool
nft_read_ours(const struct nft_read_ifs *ifs, const char *d, uint32_t len)
{
	char name[IFNAMSIZ + 1];
	size_t i, n;
	bool exact;

	n = len < IFNAMSIZ ? len : IFNAMSIZ;
	memcpy(name, d, n);
	name[n] = '\0';
	exact = strlen(name) < len;
	for (i = 0; i < ifs->n; i++)
		if (exact ? strcmp(ifs->names[i], name) == 0 :
		    strncmp(ifs->names[i], name, strlen(name)) == 0)
			return true;
	return false;
}

/* Look at one expression of a rule. */
static int
nft_read_expr(struct nftnl_expr *e, void *arg)
{
	struct nft_read_rule *r = arg;
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
	uint32_t reg, key, len, idx;
	const void *d;
	char ifn[IF_NAMESIZE];

	if (strcmp(name, "meta") == 0 && nftnl_expr_is_set(e,
	    NFTNL_EXPR_META_DREG)) {
		reg = nftnl_expr_get_u32(e, NFTNL_EXPR_META_DREG);
		if (reg < 32)
			r->reg_key[reg] = nftnl_expr_get_u32(e,
			    NFTNL_EXPR_META_KEY);
	} else if (strcmp(name, "cmp") == 0) {
		reg = nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_SREG);
		key = reg < 32 ? r->reg_key[reg] : 0;
		d = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len);
		if (d == NULL || nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP) !=
		    NFT_CMP_EQ)
			return 0;
		if (key == NFT_META_IIFNAME || key == NFT_META_OIFNAME) {
			r->names_if = true;
			r->names_ours |= nft_read_ours(r->ifs, d, len);
		} else if ((key == NFT_META_IIF || key == NFT_META_OIF) &&
		    len == 4) {
			memcpy(&idx, d, 4);
			r->names_if = true;
			if (if_indextoname(idx, ifn) != NULL)
				r->names_ours |= nft_read_ours(r->ifs, ifn,
				    (uint32_t)strlen(ifn));
		}
	} else if (strcmp(name, "nat") == 0)
		r->verb = nftnl_expr_get_u32(e, NFTNL_EXPR_NAT_TYPE) ==
		    NFT_NAT_SNAT ? "snat" : "dnat";
	else if (strcmp(name, "masq") == 0)
		r->verb = "masquerade";
	else if (strcmp(name, "redir") == 0)
		r->verb = "redirect";
	return 0;
}

/* The chain a rule belongs to. */
static struct nft_read_chain *
nft_read_find(struct nft_read_scan *sc, uint32_t family, const char *table,
    const char *chain)
{
	size_t i;

	for (i = 0; i < sc->n; i++)
		if (sc->c[i].family == family &&
		    strcmp(sc->c[i].table, table) == 0 &&
		    strcmp(sc->c[i].name, chain) == 0)
			return &sc->c[i];
	return NULL;
}

/* Count a NAT rule in its chain. */
static void
nft_read_count(struct nft_read_chain *o, const struct nftnl_rule *nr,
    const char *verb)
{
	size_t len = strlen(o->verbs);

	if (o->nat_rules < NFT_READ_HANDLES)
		o->handles[o->nat_rules] = nftnl_rule_get_u64(nr,
		    NFTNL_RULE_HANDLE);
	o->nat_rules++;
	if (strstr(o->verbs, verb) == NULL)
		snprintf(o->verbs + len, sizeof(o->verbs) - len, "%s%s",
		    len ? "," : "", verb);
}

/* One rule of the dump. */
static int
nft_read_rule_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct nft_read_scan *sc = arg;
	struct nft_read_rule r;
	struct nft_read_chain *o;
	struct nftnl_rule *nr;
	const char *table, *chain;

	if ((nr = nftnl_rule_alloc()) == NULL)
		return MNL_CB_ERROR;
	memset(&r, 0, sizeof(r));
	r.ifs = sc->ifs;
	if (nftnl_rule_nlmsg_parse(nlh, nr) < 0 ||
	    (table = nftnl_rule_get_str(nr, NFTNL_RULE_TABLE)) == NULL ||
	    (chain = nftnl_rule_get_str(nr, NFTNL_RULE_CHAIN)) == NULL)
		goto out;
	nftnl_expr_foreach(nr, nft_read_expr, &r);
	/* a rule limited to other interfaces does not touch the relay */
	if (r.verb == NULL || (r.names_if && !r.names_ours))
		goto out;
	o = nft_read_find(sc, nftnl_rule_get_u32(nr, NFTNL_RULE_FAMILY),
	    table, chain);
	if (o != NULL)
		nft_read_count(o, nr, r.verb);
out:
	nftnl_rule_free(nr);
	return MNL_CB_OK;
}

/* Read every chain and rule of every table but ours. */
int
nft_read_scan(const struct nft_read_ifs *ifs, struct nft_read_chain *c,
    size_t max, size_t *n, char err[ERRLEN])
{
	struct nft_read_scan sc = { ifs, c, max, 0, false };

	*n = 0;
	if (nft_read_dump(NFT_MSG_GETCHAIN, nft_read_chain_cb, &sc, err) == -1 ||
	    nft_read_dump(NFT_MSG_GETRULE, nft_read_rule_cb, &sc, err) == -1)
		return -1;
	*n = sc.n;
	return 0;
}

/* Whether a legacy table is loaded (listed in /proc/net/ip*_tables_names). */
static bool
nft_read_xt_loaded(int family, const char *table)
{
	char line[64];
	bool found = false;
	FILE *fp = fopen(family == 4 ? "/proc/net/ip_tables_names" :
	    "/proc/net/ip6_tables_names", "r");

	if (fp == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		found = strcmp(line, table) == 0;
	}
	fclose(fp);
	return found;
}

/* Whether the FORWARD policy of the IPv4 filter table is DROP. */
static bool
nft_read_xt_forward_drop(int fd, const struct ipt_getinfo *gi)
{
	struct ipt_get_entries *ge;
	const struct ipt_entry *e;
	const struct xt_standard_target *t;
	socklen_t len = (socklen_t)(sizeof(*ge) + gi->size);
	unsigned int off = gi->underflow[NF_INET_FORWARD];
	bool drop = false;

	if (!(gi->valid_hooks & (1U << NF_INET_FORWARD)) ||
	    (ge = calloc(1, len)) == NULL)
		return false;
	snprintf(ge->name, sizeof(ge->name), "%s", gi->name);
	ge->size = gi->size;
	if (getsockopt(fd, IPPROTO_IP, IPT_SO_GET_ENTRIES, ge, &len) == 0 &&
	    off + sizeof(*e) <= gi->size) {
		e = (const struct ipt_entry *)((const char *)ge->entrytable + off);
		if (e->target_offset + sizeof(*t) <= gi->size - off) {
			t = (const struct xt_standard_target *)((const char *)e +
			    e->target_offset);
			drop = t->verdict == -NF_DROP - 1;
		}
	}
	free(ge);
	return drop;
}

/* Read one legacy table's counts; 1 when it is worth reporting. */
static int
nft_read_xt_table(int family, const char *table, struct nft_read_xt *o)
{
	struct ipt_getinfo gi;
	socklen_t len = sizeof(gi);
	unsigned int builtin;
	int fd, rc;

	/* the IPv6 getinfo has the same layout and option number */
	fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_RAW | SOCK_CLOEXEC,
	    IPPROTO_RAW);
	if (fd == -1)
		return -1;
	memset(&gi, 0, sizeof(gi));
	snprintf(gi.name, sizeof(gi.name), "%s", table);
	rc = getsockopt(fd, family == 4 ? IPPROTO_IP : IPPROTO_IPV6,
	    IPT_SO_GET_INFO, &gi, &len);
	if (rc == -1) {
		close(fd);
		return -1;
	}
	memset(o, 0, sizeof(*o));
	o->family = family;
	snprintf(o->table, sizeof(o->table), "%s", table);
	/* one policy entry per built-in chain, and a final error entry */
	builtin = (unsigned int)__builtin_popcount(gi.valid_hooks) + 1;
	o->entries = gi.num_entries > builtin ? gi.num_entries - builtin : 0;
	if (family == 4 && strcmp(table, "filter") == 0)
		o->forward_drop = nft_read_xt_forward_drop(fd, &gi);
	close(fd);
	return o->entries > 0 || o->forward_drop;
}

/* Read the loaded legacy nat and filter tables. */
int
nft_read_xt_scan(struct nft_read_xt *out, size_t max, size_t *n,
    char err[ERRLEN])
{
	static const char *const tables[] = { "nat", "filter" };
	int family, rc;
	size_t i;

	*n = 0;
	for (family = 4; family <= 6; family += 2) {
		for (i = 0; i < 2 && *n < max; i++) {
			if (!nft_read_xt_loaded(family, tables[i]))
				continue;
			rc = nft_read_xt_table(family, tables[i], &out[*n]);
			if (rc == -1) {
				snprintf(err, ERRLEN, "legacy iptables "
				    "table %s (IPv%d): %s", tables[i], family,
				    strerror(errno));
				return -1;
			}
			*n += (size_t)rc;
		}
	}
	return 0;
}
