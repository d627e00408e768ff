/*
 * nl.c - rtnetlink through libmnl: ip rules, routes, links, addresses and
 * route lookups for IPv4 and IPv6.
 *
 * Every request is answered before the next one is sent (one socket, one
 * sequence number at a time). Reply callbacks never abort a dump half-way:
 * they record the first problem and let the dump drain, so that no stale
 * message is left in the socket for the next request.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "tun/nl.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif
#ifndef NLM_F_ACK_TLVS
#define NLM_F_ACK_TLVS 0x200
#endif
#ifndef NLM_F_CAPPED
#define NLM_F_CAPPED 0x100
#endif

/* Newer than some headers (Linux 6.15); the values are the kernel ABI. */
#define NL_FRA_SPORT_MASK 28
#define NL_FRA_DPORT_MASK 29
#define NL_FRA_MAX_KNOWN NL_FRA_DPORT_MASK

/* Large enough for any request built here (a rule with every attribute). */
#define NL_REQSIZE 1024
/* How often a dump interrupted by a concurrent change is restarted. */
#define NL_DUMP_RETRIES 5

/* State shared by the receive loop and the reply callbacks of one request. */
struct nl_ctx {
	mnl_cb_t fn;		/* data message callback, may be NULL */
	void *arg;
	bool intr;		/* a dump message carried NLM_F_DUMP_INTR */
	char ackmsg[128];	/* the kernel's extended ack text */
};

/* A growing array of parsed objects, filled by a dump. */
struct nl_collect {
	int (*parse)(const void *, size_t, void *, char *);
	bool (*keep)(const void *obj, const void *karg);
	const void *karg;
	size_t size;		/* of one object */
	char *arr;
	size_t n, cap;
	int bad;		/* -1 after a malformed message or no memory */
	char err[NL_ERRLEN];
};

/* Address length in bytes of a family, 0 for others. */
static size_t
nl_addrlen(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

/* Payload of an attribute as a fixed-size value, or NULL when too short. */
static const void *
nl_attr_fixed(const struct nlattr *a, enum mnl_attr_data_type type, size_t len)
{
	if (mnl_attr_validate2(a, type, len) < 0 ||
	    mnl_attr_get_payload_len(a) < len)
		return NULL;
	return mnl_attr_get_payload(a);
}

/* Copy an address attribute of exactly the family's length into dst. */
static int
nl_attr_addr(const struct nlattr *a, int family, uint8_t *dst)
{
	size_t alen = nl_addrlen(family);

	if (alen == 0 || mnl_attr_get_payload_len(a) != alen)
		return -1;
	memcpy(dst, mnl_attr_get_payload(a), alen);
	return 0;
}

/* Copy a NUL-terminated interface name attribute into dst[IFNAMSIZ]. */
static int
nl_attr_ifname(const struct nlattr *a, char *dst)
{
	const char *s;

	if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
		return -1;
	s = mnl_attr_get_str(a);
	if (strnlen(s, mnl_attr_get_payload_len(a)) >= IFNAMSIZ)
		return -1;
	snprintf(dst, IFNAMSIZ, "%s", s);
	return 0;
}

/* Attribute table for mnl_attr_parse: keeps the last of each type. */
struct nl_tb {
	const struct nlattr *tb[64];
	size_t max;		/* highest type stored */
	bool unknown;		/* an attribute above max was seen */
};

/* mnl_attr_parse callback: file each attribute under its type. */
static int
nl_tb_cb(const struct nlattr *a, void *data)
{
	struct nl_tb *t = data;
	uint16_t type = mnl_attr_get_type(a);

	if (type > t->max || type >= sizeof(t->tb) / sizeof(t->tb[0]))
		t->unknown = true;
	else
		t->tb[type] = a;
	return MNL_CB_OK;
}

/*
 * Is buf[0..len) one whole message? libmnl walks attributes up to the
 * aligned end of nlmsg_len and mnl_nlmsg_ok() compares nlmsg_len as an int,
 * so the aligned length must fit in the buffer, compared unsigned.
 */
static bool
nl_msg_complete(const void *buf, size_t len)
{
	const struct nlmsghdr *nlh = buf;

	return buf != NULL && len >= sizeof(*nlh) && len <= INT32_MAX &&
	    nlh->nlmsg_len >= sizeof(*nlh) && nlh->nlmsg_len <= len &&
	    MNL_ALIGN((size_t)nlh->nlmsg_len) <= len &&
	    mnl_nlmsg_ok(nlh, (int)len);
}

/* Common checks on one message: complete, of the wanted type, payload size. */
static const struct nlmsghdr *
nl_msg_check(const void *buf, size_t len, uint16_t type, size_t hdrlen,
    int *skip, char err[NL_ERRLEN])
{
	const struct nlmsghdr *nlh = buf;

	*skip = 0;
	if (!nl_msg_complete(buf, len)) {
		snprintf(err, NL_ERRLEN, "truncated netlink message");
		return NULL;
	}
	if (nlh->nlmsg_type != type) {
		*skip = 1;
		return NULL;
	}
	if (mnl_nlmsg_get_payload_len(nlh) < hdrlen) {
		snprintf(err, NL_ERRLEN, "netlink message type %u too short",
		    (unsigned int)type);
		return NULL;
	}
	return nlh;
}

/* Fill a prefix from a length and an optional address attribute. */
static int
nl_prefix_from(struct nl_prefix *p, int family, unsigned int len,
    const struct nlattr *a)
{
	memset(p, 0, sizeof(*p));
	if (len == 0 && a == NULL)
		return 0;
	if (len > nl_addrlen(family) * 8 || a == NULL)
		return -1;
	p->family = (uint8_t)family;
	p->len = (uint8_t)len;
	return nl_attr_addr(a, family, p->addr);
}

/* A u32 attribute that should hold -1 ("unset"); anything else is unknown. */
static int
nl_rule_unset_u32(const struct nlattr *a, bool *unknown)
{
	const uint32_t *u32;

	if (a == NULL)
		return 0;
	if ((u32 = nl_attr_fixed(a, MNL_TYPE_U32, 4)) == NULL)
		return -1;
	if (*u32 != 0xffffffff)
		*unknown = true;
	return 0;
}

/* A port mask attribute: only a full mask on a single port says nothing new. */
static int
nl_rule_port_mask(const struct nlattr *a, uint16_t lo, uint16_t hi, bool *unknown)
{
	const uint16_t *u16;

	if (a == NULL)
		return 0;
	if ((u16 = nl_attr_fixed(a, MNL_TYPE_U16, 2)) == NULL)
		return -1;
	if (*u16 != 0xffff || lo != hi)
		*unknown = true;
	return 0;
}

/* Parse one RTM_NEWRULE message into an nl_rule. */
int
nl_rule_parse(const void *buf, size_t len, struct nl_rule *r, char err[NL_ERRLEN])
{
	const struct nlmsghdr *nlh;
	const struct fib_rule_hdr *frh;
	const struct fib_rule_port_range *pr;
	const uint32_t *u32;
	const uint8_t *u8;
	struct nl_tb t = { .max = NL_FRA_MAX_KNOWN };
	int skip;

	nlh = nl_msg_check(buf, len, RTM_NEWRULE, sizeof(*frh), &skip, err);
	if (nlh == NULL)
		return skip ? 0 : -1;
	frh = mnl_nlmsg_get_payload(nlh);
	if (frh->family != AF_INET && frh->family != AF_INET6)
		return 0;
	memset(r, 0, sizeof(*r));
	r->family = frh->family;
	r->action = frh->action;
	r->table = frh->table;
	r->flags = frh->flags;
	if (mnl_attr_parse(nlh, sizeof(*frh), nl_tb_cb, &t) < 0)
		goto bad;
	r->unknown = t.unknown || frh->tos != 0;

	if (t.tb[FRA_PRIORITY] != NULL) {
		if ((u32 = nl_attr_fixed(t.tb[FRA_PRIORITY], MNL_TYPE_U32, 4)) == NULL)
			goto bad;
		r->priority = *u32;
	}
	if (t.tb[FRA_TABLE] != NULL) {
		if ((u32 = nl_attr_fixed(t.tb[FRA_TABLE], MNL_TYPE_U32, 4)) == NULL)
			goto bad;
		r->table = *u32;
	}
	if (t.tb[FRA_FWMARK] != NULL || t.tb[FRA_FWMASK] != NULL) {
		r->has_fwmark = true;
		r->fwmask = 0xffffffff;
		if (t.tb[FRA_FWMARK] != NULL) {
			if ((u32 = nl_attr_fixed(t.tb[FRA_FWMARK], MNL_TYPE_U32, 4)) == NULL)
				goto bad;
			r->fwmark = *u32;
		}
		if (t.tb[FRA_FWMASK] != NULL) {
			if ((u32 = nl_attr_fixed(t.tb[FRA_FWMASK], MNL_TYPE_U32, 4)) == NULL)
				goto bad;
			r->fwmask = *u32;
		}
	}
	if (t.tb[FRA_PROTOCOL] != NULL) {
		if ((u8 = nl_attr_fixed(t.tb[FRA_PROTOCOL], MNL_TYPE_U8, 1)) == NULL)
			goto bad;
		r->protocol = *u8;
	}
	if (t.tb[FRA_IP_PROTO] != NULL) {
		if ((u8 = nl_attr_fixed(t.tb[FRA_IP_PROTO], MNL_TYPE_U8, 1)) == NULL)
			goto bad;
		r->ip_proto = *u8;
	}
	if (t.tb[FRA_IIFNAME] != NULL && nl_attr_ifname(t.tb[FRA_IIFNAME], r->iif) < 0)
		goto bad;
	if (t.tb[FRA_OIFNAME] != NULL && nl_attr_ifname(t.tb[FRA_OIFNAME], r->oif) < 0)
		goto bad;
	if (t.tb[FRA_SPORT_RANGE] != NULL) {
		if ((pr = nl_attr_fixed(t.tb[FRA_SPORT_RANGE], MNL_TYPE_UNSPEC,
		    sizeof(*pr))) == NULL)
			goto bad;
		r->sport_lo = pr->start;
		r->sport_hi = pr->end;
	}
	if (t.tb[FRA_DPORT_RANGE] != NULL) {
		if ((pr = nl_attr_fixed(t.tb[FRA_DPORT_RANGE], MNL_TYPE_UNSPEC,
		    sizeof(*pr))) == NULL)
			goto bad;
		r->dport_lo = pr->start;
		r->dport_hi = pr->end;
	}
	if (nl_prefix_from(&r->src, r->family, frh->src_len, t.tb[FRA_SRC]) < 0 ||
	    nl_prefix_from(&r->dst, r->family, frh->dst_len, t.tb[FRA_DST]) < 0)
		goto bad;
	if (t.tb[FRA_GOTO] != NULL) {
		if ((u32 = nl_attr_fixed(t.tb[FRA_GOTO], MNL_TYPE_U32, 4)) == NULL)
			goto bad;
		r->goto_prio = *u32;
	}
	/* Selectors nl_rule cannot express make the rule "unknown". */
	if (t.tb[FRA_FLOW] || t.tb[FRA_TUN_ID] ||
	    t.tb[FRA_L3MDEV] || t.tb[FRA_UID_RANGE])
		r->unknown = true;
	/* Linux >= 6.15 sends a full mask with a single port: no news. */
	if (nl_rule_port_mask(t.tb[NL_FRA_SPORT_MASK], r->sport_lo, r->sport_hi,
	    &r->unknown) < 0 ||
	    nl_rule_port_mask(t.tb[NL_FRA_DPORT_MASK], r->dport_lo, r->dport_hi,
	    &r->unknown) < 0)
		goto bad;
	/* Attributes between FRA_MAX of our headers and the masks. */
	for (unsigned int i = FRA_MAX + 1; i < NL_FRA_SPORT_MASK; i++)
		if (t.tb[i] != NULL)
			r->unknown = true;
	/* The kernel always sends the suppressors; -1 means "not set". */
	if (nl_rule_unset_u32(t.tb[FRA_SUPPRESS_PREFIXLEN], &r->unknown) < 0 ||
	    nl_rule_unset_u32(t.tb[FRA_SUPPRESS_IFGROUP], &r->unknown) < 0)
		goto bad;
	return 1;
bad:
	snprintf(err, NL_ERRLEN, "malformed rule message");
	return -1;
}

/* Take oif and gateway from the first next hop of an RTA_MULTIPATH. */
static int
nl_route_multipath(const struct nlattr *a, struct nl_route *r)
{
	const struct rtnexthop *nh = mnl_attr_get_payload(a);
	size_t plen = mnl_attr_get_payload_len(a);
	struct nl_tb t = { .max = RTA_MAX };

	r->multipath = true;
	if (plen < sizeof(*nh) || nh->rtnh_len < sizeof(*nh) || nh->rtnh_len > plen)
		return -1;
	r->oif = nh->rtnh_ifindex;
	if (mnl_attr_parse_payload((const char *)nh + RTNH_ALIGN(sizeof(*nh)),
	    nh->rtnh_len - RTNH_ALIGN(sizeof(*nh)), nl_tb_cb, &t) < 0)
		return -1;
	if (t.tb[RTA_GATEWAY] != NULL) {
		r->gw.family = r->family;
		r->gw.len = (uint8_t)(nl_addrlen(r->family) * 8);
		if (nl_attr_addr(t.tb[RTA_GATEWAY], r->family, r->gw.addr) < 0)
			return -1;
	}
	return 0;
}

/* Parse one RTM_NEWROUTE message into an nl_route. */
int
nl_route_parse(const void *buf, size_t len, struct nl_route *r, char err[NL_ERRLEN])
{
	const struct nlmsghdr *nlh;
	const struct rtmsg *rtm;
	const uint32_t *u32;
	struct nl_tb t = { .max = RTA_MAX };
	int skip;

	nlh = nl_msg_check(buf, len, RTM_NEWROUTE, sizeof(*rtm), &skip, err);
	if (nlh == NULL)
		return skip ? 0 : -1;
	rtm = mnl_nlmsg_get_payload(nlh);
	if (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6)
		return 0;
	memset(r, 0, sizeof(*r));
	r->family = rtm->rtm_family;
	r->type = rtm->rtm_type;
	r->protocol = rtm->rtm_protocol;
	r->scope = rtm->rtm_scope;
	r->table = rtm->rtm_table;
	r->flags = rtm->rtm_flags;
	if (mnl_attr_parse(nlh, sizeof(*rtm), nl_tb_cb, &t) < 0)
		goto bad;
	if (t.tb[RTA_TABLE] != NULL) {
		if ((u32 = nl_attr_fixed(t.tb[RTA_TABLE], MNL_TYPE_U32, 4)) == NULL)
			goto bad;
		r->table = *u32;
	}
	if (t.tb[RTA_PRIORITY] != NULL) {
		if ((u32 = nl_attr_fixed(t.tb[RTA_PRIORITY], MNL_TYPE_U32, 4)) == NULL)
			goto bad;
		r->metric = *u32;
	}
	if (t.tb[RTA_OIF] != NULL) {
		if ((u32 = nl_attr_fixed(t.tb[RTA_OIF], MNL_TYPE_U32, 4)) == NULL ||
		    *u32 > INT32_MAX)
			goto bad;
		r->oif = (int)*u32;
	}
	if (nl_prefix_from(&r->dst, r->family, rtm->rtm_dst_len, t.tb[RTA_DST]) < 0)
		goto bad;
	if (t.tb[RTA_GATEWAY] != NULL) {
		r->gw.family = r->family;
		r->gw.len = (uint8_t)(nl_addrlen(r->family) * 8);
		if (nl_attr_addr(t.tb[RTA_GATEWAY], r->family, r->gw.addr) < 0)
			goto bad;
	}
	if (t.tb[RTA_PREFSRC] != NULL) {
		r->prefsrc.family = r->family;
		r->prefsrc.len = (uint8_t)(nl_addrlen(r->family) * 8);
		if (nl_attr_addr(t.tb[RTA_PREFSRC], r->family, r->prefsrc.addr) < 0)
			goto bad;
	}
	if (t.tb[RTA_MULTIPATH] != NULL && r->oif == 0 &&
	    nl_route_multipath(t.tb[RTA_MULTIPATH], r) < 0)
		goto bad;
	return 1;
bad:
	snprintf(err, NL_ERRLEN, "malformed route message");
	return -1;
}

/* Parse one RTM_NEWLINK message into an nl_link. */
int
nl_link_parse(const void *buf, size_t len, struct nl_link *l, char err[NL_ERRLEN])
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
	snprintf(err, NL_ERRLEN, "malformed link message");
	return -1;
}

/* Parse one RTM_NEWADDR message into an nl_ifaddr. */
int
nl_addr_parse(const void *buf, size_t len, struct nl_ifaddr *a, char err[NL_ERRLEN])
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
	snprintf(err, NL_ERRLEN, "malformed address message");
	return -1;
}

/* Parse one RTM_NEWNEIGH message; only proxy entries are returned. */
int
nl_proxy_parse(const void *buf, size_t len, struct nl_proxy *p, char err[NL_ERRLEN])
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
	snprintf(err, NL_ERRLEN, "malformed neighbour message");
	return -1;
}

/* Find NLMSGERR_ATTR_MSG among the extended ack attributes. */
static int
nl_ack_cb(const struct nlattr *a, void *data)
{
	const char **msg = data;

	if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
		*msg = mnl_attr_get_str(a);
	return MNL_CB_OK;
}

/* Error code and extended-ack text of an NLMSG_ERROR message. */
int
nl_error_parse(const void *buf, size_t len, char *msg, size_t msglen)
{
	const struct nlmsghdr *nlh = buf;
	const struct nlmsgerr *e;
	const char *text = NULL;
	size_t off, plen;

	if (msglen > 0)
		msg[0] = '\0';
	if (!nl_msg_complete(buf, len) || nlh->nlmsg_type != NLMSG_ERROR)
		return 1;
	plen = mnl_nlmsg_get_payload_len(nlh);
	if (plen < sizeof(*e))
		return 1;
	e = mnl_nlmsg_get_payload(nlh);
	if (e->error > 0 || e->error < -4095)
		return 1;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS) || msglen == 0)
		return e->error;
	/* The attributes follow the quoted request unless it was capped. */
	off = sizeof(*e);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
		if (e->msg.nlmsg_len < sizeof(struct nlmsghdr))
			return e->error;
		off += MNL_ALIGN(e->msg.nlmsg_len - sizeof(struct nlmsghdr));
	}
	if (off >= plen)
		return e->error;
	mnl_attr_parse(nlh, (unsigned int)off, nl_ack_cb, &text);
	if (text != NULL)
		snprintf(msg, msglen, "%s", text);
	return e->error;
}

/* NLMSG_NOOP: nothing to do. */
static int
nl_cb_noop(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return MNL_CB_OK;
}

/* NLMSG_ERROR: an ack (stop) or an error (fail with errno set). */
static int
nl_cb_error(const struct nlmsghdr *nlh, void *data)
{
	struct nl_ctx *ctx = data;
	int e;

	e = nl_error_parse(nlh, nlh->nlmsg_len, ctx->ackmsg, sizeof(ctx->ackmsg));
	if (e == 0)
		return MNL_CB_STOP;
	errno = e < 0 ? -e : EPROTO;
	return MNL_CB_ERROR;
}

/* NLMSG_DONE ends a dump; newer kernels put the dump's error code in it. */
static int
nl_cb_done(const struct nlmsghdr *nlh, void *data)
{
	struct nl_ctx *ctx = data;
	int e;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		ctx->intr = true;
	if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int)) {
		memcpy(&e, mnl_nlmsg_get_payload(nlh), sizeof(e));
		if (e < 0 && e >= -4095) {
			errno = -e;
			return MNL_CB_ERROR;
		}
	}
	return MNL_CB_STOP;
}

/* NLMSG_OVERRUN: messages were lost. */
static int
nl_cb_overrun(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	errno = ENOSPC;
	return MNL_CB_ERROR;
}

/* Data messages: note interrupted dumps and pass them on. */
static int
nl_cb_data(const struct nlmsghdr *nlh, void *data)
{
	struct nl_ctx *ctx = data;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		ctx->intr = true;
	if (ctx->fn != NULL)
		ctx->fn(nlh, ctx->arg);
	/* Never stop early: the rest of the reply must be drained. */
	return MNL_CB_OK;
}

static mnl_cb_t nl_ctl_cbs[NLMSG_MIN_TYPE] = {
	[NLMSG_NOOP] = nl_cb_noop,
	[NLMSG_ERROR] = nl_cb_error,
	[NLMSG_DONE] = nl_cb_done,
	[NLMSG_OVERRUN] = nl_cb_overrun,
};

/*
 * Send one request and read replies until its ack or NLMSG_DONE, calling fn
 * for each data message. what names the request in err.
 */
static int
nl_talk(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t fn, void *arg,
    bool *intr, const char *what, char err[NL_ERRLEN])
{
	struct nl_ctx ctx = { .fn = fn, .arg = arg };
	ssize_t n;
	int ret;

	if (nl->sock == NULL) {
		snprintf(err, NL_ERRLEN, "%s: netlink socket not open", what);
		return -1;
	}
	if (++nl->seq == 0)
		nl->seq = 1;
	nlh->nlmsg_seq = nl->seq;
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0) {
		snprintf(err, NL_ERRLEN, "%s: netlink send: %s", what, strerror(errno));
		return -1;
	}
	do {
		n = mnl_socket_recvfrom(nl->sock, nl->buf, NL_BUFSIZE);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, NL_ERRLEN, "%s: netlink receive: %s", what,
			    strerror(errno));
			return -1;
		}
		ret = mnl_cb_run2(nl->buf, (size_t)n, nl->seq, nl->portid,
		    nl_cb_data, &ctx, nl_ctl_cbs, NLMSG_MIN_TYPE);
	} while (ret > MNL_CB_STOP);
	if (intr != NULL)
		*intr = ctx.intr;
	if (ret < 0) {
		int e = errno;

		snprintf(err, NL_ERRLEN, "%s: %s%s%s%s", what, strerror(e),
		    ctx.ackmsg[0] ? " (kernel: " : "", ctx.ackmsg,
		    ctx.ackmsg[0] ? ")" : "");
		/* Callers look at errno (EEXIST, ENOENT, EAFNOSUPPORT). */
		errno = e;
		return -1;
	}
	return 0;
}

/* Open and bind a NETLINK_ROUTE socket with a receive buffer. */
int
nl_open(struct nl *nl, char err[NL_ERRLEN])
{
	struct timeval tv = { .tv_sec = 10 };
	int one = 1;
	int fd;

	memset(nl, 0, sizeof(*nl));
	nl->buf = malloc(NL_BUFSIZE);
	if (nl->buf == NULL) {
		snprintf(err, NL_ERRLEN, "netlink buffer: %s", strerror(errno));
		return -1;
	}
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (nl->sock == NULL) {
		snprintf(err, NL_ERRLEN, "netlink socket: %s", strerror(errno));
		goto fail;
	}
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		snprintf(err, NL_ERRLEN, "netlink bind: %s", strerror(errno));
		goto fail;
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (unsigned int)time(NULL);
	fd = mnl_socket_get_fd(nl->sock);
	/* Optional: kernels without them just give plainer errors. */
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	/* The kernel always answers; the timeout only bounds the unexpected. */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return 0;
fail:
	nl_close(nl);
	return -1;
}

/* Close the socket and free the buffer. */
void
nl_close(struct nl *nl)
{
	if (nl->sock != NULL)
		mnl_socket_close(nl->sock);
	free(nl->buf);
	memset(nl, 0, sizeof(*nl));
}

/* Data callback of a dump: parse and keep one object. */
static int
nl_collect_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_collect *c = data;
	_Alignas(max_align_t) char obj[256];
	char perr[NL_ERRLEN];
	void *grown;
	int ret;

	if (c->bad)
		return MNL_CB_OK;
	ret = c->parse(nlh, nlh->nlmsg_len, obj, perr);
	if (ret < 0) {
		c->bad = -1;
		snprintf(c->err, sizeof(c->err), "%s", perr);
		return MNL_CB_OK;
	}
	if (ret == 0 || (c->keep != NULL && !c->keep(obj, c->karg)))
		return MNL_CB_OK;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;

		grown = realloc(c->arr, cap * c->size);
		if (grown == NULL) {
			c->bad = -1;
			snprintf(c->err, sizeof(c->err), "out of memory");
			return MNL_CB_OK;
		}
		c->arr = grown;
		c->cap = cap;
	}
	memcpy(c->arr + c->n * c->size, obj, c->size);
	c->n++;
	return MNL_CB_OK;
}

/* Run a dump request, restarting it when the kernel says it was interrupted. */
static int
nl_dump(struct nl *nl, struct nlmsghdr *nlh, struct nl_collect *c,
    const char *what, char err[NL_ERRLEN])
{
	bool intr;
	int i;

	for (i = 0; i < NL_DUMP_RETRIES; i++) {
		c->n = 0;
		c->bad = 0;
		if (nl_talk(nl, nlh, nl_collect_cb, c, &intr, what, err) < 0)
			goto fail;
		if (c->bad) {
			snprintf(err, NL_ERRLEN, "%.80s: %.170s", what, c->err);
			goto fail;
		}
		if (!intr)
			return 0;
	}
	snprintf(err, NL_ERRLEN, "%s: dump kept being interrupted by changes", what);
fail:
	free(c->arr);
	c->arr = NULL;
	c->n = 0;
	return -1;
}

/* Build an RTM_NEWRULE/RTM_DELRULE request for r into buf. */
static struct nlmsghdr *
nl_rule_msg(char *buf, uint16_t type, uint16_t flags, const struct nl_rule *r)
{
	struct nlmsghdr *nlh;
	struct fib_rule_hdr *frh;
	struct fib_rule_port_range pr;
	size_t alen = nl_addrlen(r->family);

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = r->family;
	frh->action = r->action ? r->action : FR_ACT_TO_TBL;
	frh->table = r->table < 256 ? (uint8_t)r->table : RT_TABLE_UNSPEC;
	frh->flags = r->flags & FIB_RULE_INVERT;
	mnl_attr_put_u32(nlh, FRA_PRIORITY, r->priority);
	if (r->table)
		mnl_attr_put_u32(nlh, FRA_TABLE, r->table);
	if (r->protocol)
		mnl_attr_put_u8(nlh, FRA_PROTOCOL, r->protocol);
	if (r->ip_proto)
		mnl_attr_put_u8(nlh, FRA_IP_PROTO, r->ip_proto);
	if (r->iif[0])
		mnl_attr_put_strz(nlh, FRA_IIFNAME, r->iif);
	if (r->oif[0])
		mnl_attr_put_strz(nlh, FRA_OIFNAME, r->oif);
	if (r->sport_lo || r->sport_hi) {
		pr.start = r->sport_lo;
		pr.end = r->sport_hi ? r->sport_hi : r->sport_lo;
		mnl_attr_put(nlh, FRA_SPORT_RANGE, sizeof(pr), &pr);
	}
	if (r->dport_lo || r->dport_hi) {
		pr.start = r->dport_lo;
		pr.end = r->dport_hi ? r->dport_hi : r->dport_lo;
		mnl_attr_put(nlh, FRA_DPORT_RANGE, sizeof(pr), &pr);
	}
	if (r->src.len) {
		frh->src_len = r->src.len;
		mnl_attr_put(nlh, FRA_SRC, alen, r->src.addr);
	}
	if (r->dst.len) {
		frh->dst_len = r->dst.len;
		mnl_attr_put(nlh, FRA_DST, alen, r->dst.addr);
	}
	if (r->has_fwmark) {
		mnl_attr_put_u32(nlh, FRA_FWMARK, r->fwmark);
		mnl_attr_put_u32(nlh, FRA_FWMASK, r->fwmask ? r->fwmask : 0xffffffff);
	}
	if (r->action == FR_ACT_GOTO)
		mnl_attr_put_u32(nlh, FRA_GOTO, r->goto_prio);
	return nlh;
}

/* Reject what the kernel would reject less clearly. */
static int
nl_rule_check(const struct nl_rule *r, char err[NL_ERRLEN])
{
	size_t alen = nl_addrlen(r->family);

	if (alen == 0) {
		snprintf(err, NL_ERRLEN, "rule: family must be AF_INET or AF_INET6");
		return -1;
	}
	if ((r->src.len && (r->src.family != r->family || r->src.len > alen * 8)) ||
	    (r->dst.len && (r->dst.family != r->family || r->dst.len > alen * 8))) {
		snprintf(err, NL_ERRLEN, "rule: prefix of the wrong family or length");
		return -1;
	}
	if ((r->sport_hi && r->sport_hi < r->sport_lo) ||
	    (r->dport_hi && r->dport_hi < r->dport_lo)) {
		snprintf(err, NL_ERRLEN, "rule: port range ends before it starts");
		return -1;
	}
	/* The kernel refuses port 0 and port 65535 in rule port ranges. */
	if (((r->sport_lo || r->sport_hi) && (r->sport_lo == 0 ||
	    r->sport_lo > NL_RULE_PORT_MAX || r->sport_hi > NL_RULE_PORT_MAX)) ||
	    ((r->dport_lo || r->dport_hi) && (r->dport_lo == 0 ||
	    r->dport_lo > NL_RULE_PORT_MAX || r->dport_hi > NL_RULE_PORT_MAX))) {
		snprintf(err, NL_ERRLEN, "rule: port ranges must lie within 1-%d "
		    "(the kernel cannot match port 65535 in a rule)", NL_RULE_PORT_MAX);
		return -1;
	}
	return 0;
}

/* Send a rule request; what names it in err. */
static int
nl_rule_send(struct nl *nl, uint16_t type, uint16_t flags, const struct nl_rule *r,
    const char *verb, char err[NL_ERRLEN])
{
	char buf[NL_REQSIZE] __attribute__((aligned(8)));
	char what[160], desc[128];

	if (nl_rule_check(r, err) < 0)
		return -1;
	snprintf(what, sizeof(what), "%s rule %s", verb,
	    nl_rule_str(r, desc, sizeof(desc)));
	return nl_talk(nl, nl_rule_msg(buf, type, flags, r), NULL, NULL, NULL,
	    what, err);
}

/* Add a rule; an identical rule (tag included) gives EEXIST. */
int
nl_rule_add(struct nl *nl, const struct nl_rule *r, char err[NL_ERRLEN])
{
	return nl_rule_send(nl, RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, r,
	    "add", err);
}

/* Delete the first rule matching every field given (tag included). */
int
nl_rule_del(struct nl *nl, const struct nl_rule *r, char err[NL_ERRLEN])
{
	return nl_rule_send(nl, RTM_DELRULE, 0, r, "delete", err);
}

/* nl_rule_parse with an untyped object, for nl_collect. */
static int
nl_rule_parse_any(const void *buf, size_t len, void *obj, char *err)
{
	return nl_rule_parse(buf, len, obj, err);
}

/* Dump the rules of one family. */
int
nl_rule_list(struct nl *nl, int family, struct nl_rule **out, size_t *n,
    char err[NL_ERRLEN])
{
	char buf[NL_REQSIZE] __attribute__((aligned(8)));
	struct nl_collect c = { .parse = nl_rule_parse_any,
	    .size = sizeof(struct nl_rule) };
	struct nlmsghdr *nlh;
	struct fib_rule_hdr *frh;

	_Static_assert(sizeof(struct nl_rule) <= 256, "nl_collect_cb buffer");
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETRULE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = (uint8_t)family;
	if (nl_dump(nl, nlh, &c, family == AF_INET6 ? "list IPv6 rules" :
	    "list IPv4 rules", err) < 0)
		return -1;
	*out = (struct nl_rule *)c.arr;
	*n = c.n;
	return 0;
}

/* Scope the kernel expects for a route we add (what "ip route" picks). */
static uint8_t
nl_route_scope(const struct nl_route *r)
{
	switch (r->type) {
	case RTN_LOCAL:
	case RTN_NAT:
		return RT_SCOPE_HOST;
	case RTN_BROADCAST:
	case RTN_MULTICAST:
	case RTN_ANYCAST:
		return RT_SCOPE_LINK;
	case RTN_UNSPEC:
	case RTN_UNICAST:
		return r->gw.family ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	default:
		return RT_SCOPE_UNIVERSE;
	}
}

/* Build an RTM_NEWROUTE/RTM_DELROUTE request for r into buf. */
static struct nlmsghdr *
nl_route_msg(char *buf, uint16_t type, uint16_t flags, const struct nl_route *r,
    bool del)
{
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	size_t alen = nl_addrlen(r->family);

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = r->family;
	rtm->rtm_dst_len = r->dst.len;
	rtm->rtm_table = r->table < 256 ? (uint8_t)r->table : RT_TABLE_UNSPEC;
	rtm->rtm_protocol = r->protocol;
	rtm->rtm_type = r->type ? r->type : RTN_UNICAST;
	/* RT_SCOPE_NOWHERE on delete matches any scope, as "ip route del" does. */
	rtm->rtm_scope = del ? RT_SCOPE_NOWHERE : nl_route_scope(r);
	if (r->table)
		mnl_attr_put_u32(nlh, RTA_TABLE, r->table);
	if (r->dst.len)
		mnl_attr_put(nlh, RTA_DST, alen, r->dst.addr);
	if (r->gw.family)
		mnl_attr_put(nlh, RTA_GATEWAY, alen, r->gw.addr);
	if (r->prefsrc.family)
		mnl_attr_put(nlh, RTA_PREFSRC, alen, r->prefsrc.addr);
	if (r->oif)
		mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)r->oif);
	if (r->metric)
		mnl_attr_put_u32(nlh, RTA_PRIORITY, r->metric);
	return nlh;
}

/* Reject routes with addresses of the wrong family or length. */
static int
nl_route_check(const struct nl_route *r, char err[NL_ERRLEN])
{
	size_t alen = nl_addrlen(r->family);

	if (alen == 0) {
		snprintf(err, NL_ERRLEN, "route: family must be AF_INET or AF_INET6");
		return -1;
	}
	if ((r->dst.len && (r->dst.family != r->family || r->dst.len > alen * 8)) ||
	    (r->gw.family && r->gw.family != r->family) ||
	    (r->prefsrc.family && r->prefsrc.family != r->family)) {
		snprintf(err, NL_ERRLEN, "route: address of the wrong family or length");
		return -1;
	}
	return 0;
}

/* Send a route request; verb names it in err. */
static int
nl_route_send(struct nl *nl, uint16_t type, uint16_t flags, const struct nl_route *r,
    const char *verb, char err[NL_ERRLEN])
{
	char buf[NL_REQSIZE] __attribute__((aligned(8)));
	char what[160], desc[128];

	if (nl_route_check(r, err) < 0)
		return -1;
	snprintf(what, sizeof(what), "%s route %s", verb,
	    nl_route_str(r, desc, sizeof(desc)));
	return nl_talk(nl, nl_route_msg(buf, type, flags, r, type == RTM_DELROUTE),
	    NULL, NULL, NULL, what, err);
}

/* Add a route; an existing identical route gives EEXIST. */
int
nl_route_add(struct nl *nl, const struct nl_route *r, char err[NL_ERRLEN])
{
	return nl_route_send(nl, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, r,
	    "add", err);
}

/* Delete a route matching the fields given (tag included). */
int
nl_route_del(struct nl *nl, const struct nl_route *r, char err[NL_ERRLEN])
{
	return nl_route_send(nl, RTM_DELROUTE, 0, r, "delete", err);
}

/* nl_route_parse with an untyped object, for nl_collect. */
static int
nl_route_parse_any(const void *buf, size_t len, void *obj, char *err)
{
	return nl_route_parse(buf, len, obj, err);
}

/* Keep routes of the wanted table that are not cached clones. */
static bool
nl_route_keep(const void *obj, const void *karg)
{
	const struct nl_route *r = obj;
	const uint32_t *table = karg;

	if (r->flags & RTM_F_CLONED)
		return false;
	return *table == 0 || r->table == *table;
}

/* Dump the routes of one family, optionally of one table. */
int
nl_route_list(struct nl *nl, int family, uint32_t table, struct nl_route **out,
    size_t *n, char err[NL_ERRLEN])
{
	char buf[NL_REQSIZE] __attribute__((aligned(8)));
	struct nl_collect c = { .parse = nl_route_parse_any, .keep = nl_route_keep,
	    .karg = &table, .size = sizeof(struct nl_route) };
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;

	_Static_assert(sizeof(struct nl_route) <= 256, "nl_collect_cb buffer");
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	if (nl_dump(nl, nlh, &c, family == AF_INET6 ? "list IPv6 routes" :
	    "list IPv4 routes", err) < 0)
		return -1;
	*out = (struct nl_route *)c.arr;
	*n = c.n;
	return 0;
}

/* Data callback of a single-object request: parse the first match. */
struct nl_one {
	int (*parse)(const void *, size_t, void *, char *);
	void *obj;
	int found;		/* 1 found, -1 malformed */
	char err[NL_ERRLEN];
};

/* Data callback of a single-object request: keep the first parsed. */
static int
nl_one_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_one *o = data;
	int ret;

	if (o->found)
		return MNL_CB_OK;
	ret = o->parse(nlh, nlh->nlmsg_len, o->obj, o->err);
	if (ret != 0)
		o->found = ret;
	return MNL_CB_OK;
}

/* Turn a single-object request's outcome into 0/-1 and err. */
static int
nl_one_result(struct nl_one *o, const char *what, char err[NL_ERRLEN])
{
	if (o->found < 0) {
		snprintf(err, NL_ERRLEN, "%.80s: %.170s", what, o->err);
		return -1;
	}
	if (o->found == 0) {
		snprintf(err, NL_ERRLEN, "%s: no answer from the kernel", what);
		return -1;
	}
	return 0;
}

/* Ask the kernel which route a packet would take. */
int
nl_route_get(struct nl *nl, const struct nl_route_query *q, struct nl_route *r,
    char err[NL_ERRLEN])
{
	char buf[NL_REQSIZE] __attribute__((aligned(8)));
	char what[INET6_ADDRSTRLEN + 32];
	char dst[INET6_ADDRSTRLEN];
	struct nl_one o = { .parse = nl_route_parse_any, .obj = r };
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	size_t alen = nl_addrlen(q->family);

	if (alen == 0) {
		snprintf(err, NL_ERRLEN, "route lookup: family must be AF_INET or AF_INET6");
		return -1;
	}
	if (inet_ntop(q->family, q->dst, dst, sizeof(dst)) == NULL)
		snprintf(dst, sizeof(dst), "?");
	snprintf(what, sizeof(what), "route lookup %s", dst);
	if (q->iif && !q->has_src) {
		snprintf(err, NL_ERRLEN, "%s: an input lookup needs a source", what);
		return -1;
	}
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = q->family;
	/* Without it IPv4 answers report table main whatever matched. */
	rtm->rtm_flags = RTM_F_LOOKUP_TABLE;
	rtm->rtm_dst_len = (uint8_t)(alen * 8);
	mnl_attr_put(nlh, RTA_DST, alen, q->dst);
	if (q->has_src) {
		rtm->rtm_src_len = (uint8_t)(alen * 8);
		mnl_attr_put(nlh, RTA_SRC, alen, q->src);
	}
	if (q->iif)
		mnl_attr_put_u32(nlh, RTA_IIF, (uint32_t)q->iif);
	if (q->oif)
		mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)q->oif);
	if (q->mark)
		mnl_attr_put_u32(nlh, RTA_MARK, q->mark);
	if (q->ip_proto)
		mnl_attr_put_u8(nlh, RTA_IP_PROTO, q->ip_proto);
	if (q->sport)
		mnl_attr_put_u16(nlh, RTA_SPORT, htons(q->sport));
	if (q->dport)
		mnl_attr_put_u16(nlh, RTA_DPORT, htons(q->dport));
	if (nl_talk(nl, nlh, nl_one_cb, &o, NULL, what, err) < 0)
		return -1;
	return nl_one_result(&o, what, err);
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
    char err[NL_ERRLEN])
{
	char buf[NL_REQSIZE] __attribute__((aligned(8)));
	char what[IFNAMSIZ + 32];
	struct nl_one o = { .parse = nl_link_parse_any, .obj = l };
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;

	if (name != NULL && (name[0] == '\0' || strlen(name) >= IFNAMSIZ)) {
		snprintf(err, NL_ERRLEN, "interface name \"%.*s\" is empty or too long",
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
    char err[NL_ERRLEN])
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
    const struct nl_proxy *p, const char *verb, char err[NL_ERRLEN])
{
	char buf[NL_REQSIZE] __attribute__((aligned(8)));
	char what[96], a[INET6_ADDRSTRLEN];

	if (nl_addrlen(p->family) == 0 || p->ifindex <= 0) {
		snprintf(err, NL_ERRLEN, "proxy entry: needs a family and a device");
		return -1;
	}
	if (inet_ntop(p->family, p->addr, a, sizeof(a)) == NULL)
		snprintf(a, sizeof(a), "?");
	snprintf(what, sizeof(what), "%s proxy entry %s on interface #%d", verb,
	    a, p->ifindex);
	return nl_talk(nl, nl_proxy_msg(buf, type, flags, p), NULL, NULL, NULL,
	    what, err);
}

/* Add a proxy neighbour entry (tagged with its protocol). */
int
nl_proxy_add(struct nl *nl, const struct nl_proxy *p, char err[NL_ERRLEN])
{
	return nl_proxy_send(nl, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, p,
	    "add", err);
}

/* Delete a proxy neighbour entry. */
int
nl_proxy_del(struct nl *nl, const struct nl_proxy *p, char err[NL_ERRLEN])
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
    char err[NL_ERRLEN])
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
    size_t *n, char err[NL_ERRLEN])
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

/* Parse an address with an optional prefix length. */
int
nl_prefix_parse(const char *s, struct nl_prefix *p, char err[NL_ERRLEN])
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash;
	char *end;
	size_t hlen;
	unsigned long len;
	int family;

	memset(p, 0, sizeof(*p));
	slash = strchr(s, '/');
	hlen = slash ? (size_t)(slash - s) : strlen(s);
	if (hlen == 0 || hlen >= sizeof(host))
		goto bad;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	family = strchr(host, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(family, host, p->addr) != 1)
		goto bad;
	p->family = (uint8_t)family;
	len = nl_addrlen(family) * 8;
	if (slash != NULL) {
		errno = 0;
		if (slash[1] < '0' || slash[1] > '9')
			goto bad;
		len = strtoul(slash + 1, &end, 10);
		if (errno || *end != '\0' || len > nl_addrlen(family) * 8)
			goto bad;
	}
	p->len = (uint8_t)len;
	return 0;
bad:
	snprintf(err, NL_ERRLEN, "\"%.64s\" is not an address or prefix "
	    "(like 10.0.0.0/8 or 2001:db8::/32)", s);
	memset(p, 0, sizeof(*p));
	return -1;
}

/* Format a prefix; host prefixes without their length. */
const char *
nl_prefix_str(const struct nl_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (p->family == 0 || inet_ntop(p->family, p->addr, a, sizeof(a)) == NULL) {
		snprintf(buf, len, "any");
		return buf;
	}
	if (p->len == nl_addrlen(p->family) * 8)
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, "%s/%u", a, (unsigned int)p->len);
	return buf;
}

static void
nl_cat(char *buf, size_t len, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Append to buf at *off, never past len. */
static void
nl_cat(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off += (size_t)n;
}

/* Name of a routing table as "ip" prints it. */
static const char *
nl_table_name(uint32_t table, char *buf, size_t len)
{
	switch (table) {
	case RT_TABLE_LOCAL:
		return "local";
	case RT_TABLE_MAIN:
		return "main";
	case RT_TABLE_DEFAULT:
		return "default";
	default:
		snprintf(buf, len, "%u", table);
		return buf;
	}
}

/* Name of an IP protocol as "ip rule" prints it. */
static const char *
nl_proto_name(uint8_t p, char *buf, size_t len)
{
	switch (p) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "ipv6-icmp";
	default:
		snprintf(buf, len, "%u", (unsigned int)p);
		return buf;
	}
}

static const char *nl_rtproto_name(uint8_t, char *, size_t);

/* Format a rule in "ip rule" syntax. */
const char *
nl_rule_str(const struct nl_rule *r, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN + 8], t[16];
	size_t off = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	nl_cat(buf, len, &off, "%s%u:", r->family == AF_INET6 ? "-6 " : "",
	    r->priority);
	if (r->flags & FIB_RULE_INVERT)
		nl_cat(buf, len, &off, " not");
	if (r->src.len)
		nl_cat(buf, len, &off, " from %s", nl_prefix_str(&r->src, a, sizeof(a)));
	else
		nl_cat(buf, len, &off, " from all");
	if (r->dst.len)
		nl_cat(buf, len, &off, " to %s", nl_prefix_str(&r->dst, a, sizeof(a)));
	if (r->has_fwmark)
		nl_cat(buf, len, &off, " fwmark %#x/%#x", r->fwmark,
		    r->fwmask ? r->fwmask : 0xffffffff);
	if (r->iif[0])
		nl_cat(buf, len, &off, " iif %s", r->iif);
	if (r->oif[0])
		nl_cat(buf, len, &off, " oif %s", r->oif);
	if (r->ip_proto)
		nl_cat(buf, len, &off, " ipproto %s",
		    nl_proto_name(r->ip_proto, t, sizeof(t)));
	if (r->sport_lo || r->sport_hi) {
		if (r->sport_hi > r->sport_lo)
			nl_cat(buf, len, &off, " sport %u-%u", r->sport_lo, r->sport_hi);
		else
			nl_cat(buf, len, &off, " sport %u", r->sport_lo);
	}
	if (r->dport_lo || r->dport_hi) {
		if (r->dport_hi > r->dport_lo)
			nl_cat(buf, len, &off, " dport %u-%u", r->dport_lo, r->dport_hi);
		else
			nl_cat(buf, len, &off, " dport %u", r->dport_lo);
	}
	if (r->action == 0 || r->action == FR_ACT_TO_TBL)
		nl_cat(buf, len, &off, " lookup %s",
		    nl_table_name(r->table, t, sizeof(t)));
	else if (r->action == FR_ACT_BLACKHOLE)
		nl_cat(buf, len, &off, " blackhole");
	else if (r->action == FR_ACT_GOTO)
		nl_cat(buf, len, &off, " goto %u", r->goto_prio);
	else
		nl_cat(buf, len, &off, " action %u", (unsigned int)r->action);
	if (r->protocol)
		nl_cat(buf, len, &off, " proto %s", nl_rtproto_name(r->protocol,
		    t, sizeof(t)));
	return buf;
}

/*
 * A route type in ip(8) words ("blackhole", not "type 6"); NULL for
 * unicast, which ip does not print.
 */
static const char *
nl_rtype_name(uint8_t type, char *buf, size_t len)
{
	static const char *const names[] = {
		[RTN_LOCAL] = "local", [RTN_BROADCAST] = "broadcast",
		[RTN_ANYCAST] = "anycast", [RTN_MULTICAST] = "multicast",
		[RTN_BLACKHOLE] = "blackhole", [RTN_UNREACHABLE] = "unreachable",
		[RTN_PROHIBIT] = "prohibit", [RTN_THROW] = "throw",
		[RTN_NAT] = "nat",
	};

	if (type == 0 || type == RTN_UNICAST)
		return NULL;
	if (type < sizeof(names) / sizeof(names[0]) && names[type] != NULL)
		return names[type];
	snprintf(buf, len, "type %u", (unsigned int)type);
	return buf;
}

/*
 * A routing protocol tag in ip(8) words ("kernel", not "2"); ours and
 * other unnamed ones stay numbers, as ip prints them.
 */
static const char *
nl_rtproto_name(uint8_t p, char *buf, size_t len)
{
	static const char *const names[] = {
		[RTPROT_REDIRECT] = "redirect", [RTPROT_KERNEL] = "kernel",
		[RTPROT_BOOT] = "boot", [RTPROT_STATIC] = "static",
		[RTPROT_RA] = "ra", [RTPROT_DHCP] = "dhcp",
	};

	if (p < sizeof(names) / sizeof(names[0]) && names[p] != NULL)
		return names[p];
	snprintf(buf, len, "%u", (unsigned int)p);
	return buf;
}

/* Format a route in "ip route" syntax. */
const char *
nl_route_str(const struct nl_route *r, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN + 8], t[16], ifn[IF_NAMESIZE];
	size_t off = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	if (r->family == AF_INET6)
		nl_cat(buf, len, &off, "-6 ");
	if (nl_rtype_name(r->type, t, sizeof(t)) != NULL)
		nl_cat(buf, len, &off, "%s ", nl_rtype_name(r->type, t,
		    sizeof(t)));
	nl_cat(buf, len, &off, "%s", r->dst.len ?
	    nl_prefix_str(&r->dst, a, sizeof(a)) : "default");
	if (r->gw.family)
		nl_cat(buf, len, &off, " via %s", nl_prefix_str(&r->gw, a, sizeof(a)));
	if (r->oif) {
		if (if_indextoname((unsigned int)r->oif, ifn) != NULL)
			nl_cat(buf, len, &off, " dev %s", ifn);
		else
			nl_cat(buf, len, &off, " dev #%d", r->oif);
	}
	nl_cat(buf, len, &off, " table %s", nl_table_name(r->table, t, sizeof(t)));
	if (r->protocol)
		nl_cat(buf, len, &off, " proto %s", nl_rtproto_name(r->protocol,
		    t, sizeof(t)));
	if (r->prefsrc.family)
		nl_cat(buf, len, &off, " src %s",
		    nl_prefix_str(&r->prefsrc, a, sizeof(a)));
	if (r->metric)
		nl_cat(buf, len, &off, " metric %u", r->metric);
	return buf;
}
