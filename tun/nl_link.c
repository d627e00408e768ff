/*
 * nl_link.c - links, interface addresses and IPv6 proxy neighbour entries
 * over rtnetlink: parse, look up, set and list them.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "tun/nl.h"
#include "tun/nl_int.h"

/* Parse one RTM_NEWLINK message into an nl_link. */
int
nl_link_parse(const void *buf, size_t len, struct nl_link *l, char err[ERRLEN])
{
	const struct nlmsghdr *nlh;
	const struct ifinfomsg *ifi;
	const uint32_t *u32;
	const uint8_t *u8;
	struct nl_tb t = { .max = IFLA_MAX };
	int skip;

	nlh = nl_msg_check(buf, len, RTM_NEWLINK, sizeof(*ifi), &skip, err);
	if (nlh == NULL)
		return skip ? 0 : -1;
	ifi = mnl_nlmsg_get_payload(nlh);
	memset(l, 0, sizeof(*l));
	l->ifindex = ifi->ifi_index;
	l->flags = ifi->ifi_flags;
	l->type = ifi->ifi_type;
	if (mnl_attr_parse(nlh, sizeof(*ifi), nl_tb_cb, &t) < 0)
		goto bad;
	if (t.tb[IFLA_IFNAME] != NULL && nl_attr_ifname(t.tb[IFLA_IFNAME], l->name) < 0)
		goto bad;
	if (t.tb[IFLA_MTU] != NULL) {
		if ((u32 = nl_attr_fixed(t.tb[IFLA_MTU], MNL_TYPE_U32, 4)) == NULL)
			goto bad;
		l->mtu = *u32;
	}
	if (t.tb[IFLA_OPERSTATE] != NULL) {
		if ((u8 = nl_attr_fixed(t.tb[IFLA_OPERSTATE], MNL_TYPE_U8, 1)) == NULL)
			goto bad;
		l->operstate = *u8;
	}
	return 1;
bad:
	snprintf(err, ERRLEN, "malformed link message");
	return -1;
}

/* Parse one RTM_NEWADDR message into an nl_ifaddr. */
int
nl_addr_parse(const void *buf, size_t len, struct nl_ifaddr *a, char err[ERRLEN])
{
	const struct nlmsghdr *nlh;
	const struct ifaddrmsg *ifa;
	const struct nlattr *at;
	const uint32_t *u32;
	struct nl_tb t = { .max = IFA_MAX };
	int skip;

	nlh = nl_msg_check(buf, len, RTM_NEWADDR, sizeof(*ifa), &skip, err);
	if (nlh == NULL)
		return skip ? 0 : -1;
	ifa = mnl_nlmsg_get_payload(nlh);
	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return 0;
	memset(a, 0, sizeof(*a));
	a->ifindex = (int)ifa->ifa_index;
	a->family = ifa->ifa_family;
	a->prefixlen = ifa->ifa_prefixlen;
	a->scope = ifa->ifa_scope;
	a->flags = ifa->ifa_flags;
	if (mnl_attr_parse(nlh, sizeof(*ifa), nl_tb_cb, &t) < 0)
		goto bad;
	if (a->prefixlen > nl_addrlen(a->family) * 8 || a->ifindex < 0)
		goto bad;
	/* IFA_LOCAL is our end of a point-to-point link; IFA_ADDRESS the peer. */
	at = t.tb[IFA_LOCAL] != NULL ? t.tb[IFA_LOCAL] : t.tb[IFA_ADDRESS];
	if (at == NULL || nl_attr_addr(at, a->family, a->addr) < 0)
		goto bad;
	if (t.tb[IFA_FLAGS] != NULL) {
		if ((u32 = nl_attr_fixed(t.tb[IFA_FLAGS], MNL_TYPE_U32, 4)) == NULL)
			goto bad;
		a->flags = *u32;
	}
	return 1;
bad:
	snprintf(err, ERRLEN, "malformed address message");
	return -1;
}

/* Parse one RTM_NEWNEIGH message; only proxy entries are returned. */
int
nl_proxy_parse(const void *buf, size_t len, struct nl_proxy *p, char err[ERRLEN])
{
	const struct nlmsghdr *nlh;
	const struct ndmsg *nd;
	const uint8_t *u8;
	struct nl_tb t = { .max = NDA_MAX };
	int skip;

	nlh = nl_msg_check(buf, len, RTM_NEWNEIGH, sizeof(*nd), &skip, err);
	if (nlh == NULL)
		return skip ? 0 : -1;
	nd = mnl_nlmsg_get_payload(nlh);
	if ((nd->ndm_family != AF_INET && nd->ndm_family != AF_INET6) ||
	    !(nd->ndm_flags & NTF_PROXY))
		return 0;
	memset(p, 0, sizeof(*p));
	p->ifindex = nd->ndm_ifindex;
	p->family = nd->ndm_family;
	if (mnl_attr_parse(nlh, sizeof(*nd), nl_tb_cb, &t) < 0 ||
	    p->ifindex < 0 || t.tb[NDA_DST] == NULL ||
	    nl_attr_addr(t.tb[NDA_DST], p->family, p->addr) < 0)
		goto bad;
	if (t.tb[NDA_PROTOCOL] != NULL) {
		if ((u8 = nl_attr_fixed(t.tb[NDA_PROTOCOL], MNL_TYPE_U8, 1)) == NULL)
			goto bad;
		p->protocol = *u8;
	}
	return 1;
bad:
	snprintf(err, ERRLEN, "malformed neighbour message");
	return -1;
}

/* nl_link_parse with an untyped object, for nl_one. */
static int
nl_link_parse_any(const void *buf, size_t len, void *obj, char *err)
{
	return nl_link_parse(buf, len, obj, err);
}

/* Look up one link by name or index. */
int
nl_link_get(struct nl *nl, const char *name, int ifindex, struct nl_link *l,
    char err[ERRLEN])
{
	char buf[NL_REQSIZE] __attribute__((aligned(8)));
	char what[IFNAMSIZ + 32];
	struct nl_one o = { .parse = nl_link_parse_any, .obj = l };
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;

	if (name != NULL && (name[0] == '\0' || strlen(name) >= IFNAMSIZ)) {
		snprintf(err, ERRLEN, "interface name \"%.*s\" is empty or too long",
		    IFNAMSIZ * 2, name);
		return -1;
	}
	if (name != NULL)
		snprintf(what, sizeof(what), "interface %s", name);
	else
		snprintf(what, sizeof(what), "interface #%d", ifindex);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	if (name != NULL)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	else
		ifi->ifi_index = ifindex;
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	if (nl_talk(nl, nlh, nl_one_cb, &o, NULL, what, err) < 0)
		return -1;
	return nl_one_result(&o, what, err);
}

/* Set a link up or down and optionally its MTU. */
int
nl_link_set(struct nl *nl, int ifindex, bool up, unsigned int mtu,
    char err[ERRLEN])
{
	char buf[NL_REQSIZE] __attribute__((aligned(8)));
	char what[64];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;

	snprintf(what, sizeof(what), "set interface #%d %s", ifindex,
	    up ? "up" : "down");
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_change = IFF_UP;
	ifi->ifi_flags = up ? IFF_UP : 0;
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return nl_talk(nl, nlh, NULL, NULL, NULL, what, err);
}

/* Build an RTM_NEWNEIGH/RTM_DELNEIGH request for a proxy entry into buf. */
static struct nlmsghdr *
nl_proxy_msg(char *buf, uint16_t type, uint16_t flags, const struct nl_proxy *p)
{
	struct nlmsghdr *nlh;
	struct ndmsg *nd;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));
	nd->ndm_family = p->family;
	nd->ndm_ifindex = p->ifindex;
	nd->ndm_flags = NTF_PROXY;
	nd->ndm_state = NUD_PERMANENT;
	mnl_attr_put(nlh, NDA_DST, nl_addrlen(p->family), p->addr);
	if (p->protocol && type == RTM_NEWNEIGH)
		mnl_attr_put_u8(nlh, NDA_PROTOCOL, p->protocol);
	return nlh;
}

/* Send a proxy entry request; verb names it in err. */
static int
nl_proxy_send(struct nl *nl, uint16_t type, uint16_t flags,
    const struct nl_proxy *p, const char *verb, char err[ERRLEN])
{
	char buf[NL_REQSIZE] __attribute__((aligned(8)));
	char what[96], a[INET6_ADDRSTRLEN];

	if (nl_addrlen(p->family) == 0 || p->ifindex <= 0) {
		snprintf(err, ERRLEN, "proxy entry: needs a family and a device");
		return -1;
	}
	snprintf(what, sizeof(what), "%s proxy entry %s on interface #%d", verb,
	    nl_ntop(p->family, p->addr, a, sizeof(a)), p->ifindex);
	return nl_talk(nl, nl_proxy_msg(buf, type, flags, p), NULL, NULL, NULL,
	    what, err);
}

/* Add a proxy neighbour entry (tagged with its protocol). */
int
nl_proxy_add(struct nl *nl, const struct nl_proxy *p, char err[ERRLEN])
{
	return nl_proxy_send(nl, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, p,
	    "add", err);
}

/* Delete a proxy neighbour entry. */
int
nl_proxy_del(struct nl *nl, const struct nl_proxy *p, char err[ERRLEN])
{
	return nl_proxy_send(nl, RTM_DELNEIGH, 0, p, "delete", err);
}

/* nl_proxy_parse with an untyped object, for nl_collect. */
static int
nl_proxy_parse_any(const void *buf, size_t len, void *obj, char *err)
{
	return nl_proxy_parse(buf, len, obj, err);
}

/* Dump the proxy neighbour entries of a family. */
int
nl_proxy_list(struct nl *nl, int family, struct nl_proxy **out, size_t *n,
    char err[ERRLEN])
{
	char buf[NL_REQSIZE] __attribute__((aligned(8)));
	struct nl_collect c = { .parse = nl_proxy_parse_any,
	    .size = sizeof(struct nl_proxy) };
	struct nlmsghdr *nlh;
	struct ndmsg *nd;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));
	nd->ndm_family = (uint8_t)family;
	nd->ndm_flags = NTF_PROXY;	/* the kernel dumps the proxy table */
	if (nl_dump(nl, nlh, &c, "list proxy entries", err) < 0)
		return -1;
	*out = (struct nl_proxy *)c.arr;
	*n = c.n;
	return 0;
}

/* nl_addr_parse with an untyped object, for nl_collect. */
static int
nl_addr_parse_any(const void *buf, size_t len, void *obj, char *err)
{
	return nl_addr_parse(buf, len, obj, err);
}

/* Keep addresses of the wanted interface. */
static bool
nl_addr_keep(const void *obj, const void *karg)
{
	const struct nl_ifaddr *a = obj;
	const int *ifindex = karg;

	return *ifindex == 0 || a->ifindex == *ifindex;
}

/* Dump interface addresses of one family (0 = both). */
int
nl_addr_list(struct nl *nl, int ifindex, int family, struct nl_ifaddr **out,
    size_t *n, char err[ERRLEN])
{
	char buf[NL_REQSIZE] __attribute__((aligned(8)));
	struct nl_collect c = { .parse = nl_addr_parse_any, .keep = nl_addr_keep,
	    .karg = &ifindex, .size = sizeof(struct nl_ifaddr) };
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)family;
	if (nl_dump(nl, nlh, &c, "list addresses", err) < 0)
		return -1;
	*out = (struct nl_ifaddr *)c.arr;
	*n = c.n;
	return 0;
}
