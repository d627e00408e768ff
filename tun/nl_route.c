/*
 * nl_route.c - routes over rtnetlink: parse, build, add, delete, list,
 * look up ("ip route get") and print them.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <libmnl/libmnl.h>
#include <net/if.h>

#include <linux/rtnetlink.h>

#include "tun/nl.h"
#include "tun/nl_int.h"

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
nl_route_parse(const void *buf, size_t len, struct nl_route *r, char err[ERRLEN])
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
	snprintf(err, ERRLEN, "malformed route message");
	return -1;
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
nl_route_check(const struct nl_route *r, char err[ERRLEN])
{
	size_t alen = nl_addrlen(r->family);

	if (alen == 0) {
		snprintf(err, ERRLEN, "route: family must be AF_INET or AF_INET6");
		return -1;
	}
	if ((r->dst.len && (r->dst.family != r->family || r->dst.len > alen * 8)) ||
	    (r->gw.family && r->gw.family != r->family) ||
	    (r->prefsrc.family && r->prefsrc.family != r->family)) {
		snprintf(err, ERRLEN, "route: address of the wrong family or length");
		return -1;
	}
	return 0;
}

/* Send a route request; verb names it in err. */
static int
nl_route_send(struct nl *nl, uint16_t type, uint16_t flags, const struct nl_route *r,
    const char *verb, char err[ERRLEN])
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
nl_route_add(struct nl *nl, const struct nl_route *r, char err[ERRLEN])
{
	return nl_route_send(nl, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, r,
	    "add", err);
}

/* Delete a route matching the fields given (tag included). */
int
nl_route_del(struct nl *nl, const struct nl_route *r, char err[ERRLEN])
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
    size_t *n, char err[ERRLEN])
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

/* Ask the kernel which route a packet would take. */
int
nl_route_get(struct nl *nl, const struct nl_route_query *q, struct nl_route *r,
    char err[ERRLEN])
{
	char buf[NL_REQSIZE] __attribute__((aligned(8)));
	char what[INET6_ADDRSTRLEN + 32];
	char dst[INET6_ADDRSTRLEN];
	struct nl_one o = { .parse = nl_route_parse_any, .obj = r };
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	size_t alen = nl_addrlen(q->family);

	if (alen == 0) {
		snprintf(err, ERRLEN, "route lookup: family must be AF_INET or AF_INET6");
		return -1;
	}
	snprintf(what, sizeof(what), "route lookup %s",
	    nl_ntop(q->family, q->dst, dst, sizeof(dst)));
	if (q->iif && !q->has_src) {
		snprintf(err, ERRLEN, "%s: an input lookup needs a source", what);
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
