/*
 * nl_rule.c - ip rules over rtnetlink: parse (table-driven, like a netlink
 * attribute policy), build, add, delete, list and print them.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>

#include "tun/nl.h"
#include "tun/nl_int.h"

/* Newer than some headers (Linux 6.15); the values are the kernel ABI. */
#define NL_FRA_SPORT_MASK 28
#define NL_FRA_DPORT_MASK 29
#define NL_FRA_MAX_KNOWN NL_FRA_DPORT_MASK

/* How the value of one rule attribute is checked and where it goes. */
enum nl_rule_kind {
	NL_RULE_U8,		/* u8 into a uint8_t field */
	NL_RULE_U32,		/* u32 into a uint32_t field */
	NL_RULE_IFNAME,		/* interface name into a char[IFNAMSIZ] field */
	NL_RULE_PORTS,		/* fib_rule_port_range into a lo and a hi field */
	NL_RULE_PORT_MASK,	/* u16 port mask of the range in lo and hi */
	NL_RULE_UNSET,		/* u32 that should hold -1 ("not set") */
	NL_RULE_UNKNOWN,	/* a selector nl_rule cannot express */
};

/* One entry of the rule attribute policy: type, kind, field(s). */
struct nl_rule_attr {
	uint16_t type;		/* FRA_* */
	uint8_t kind;		/* enum nl_rule_kind */
	size_t off, off2;	/* offsets in struct nl_rule (off2: hi port) */
};

#define NL_RULE_AT(f) offsetof(struct nl_rule, f)

/*
 * The rule attribute policy, applied in this order: the port masks look at
 * the port ranges, so they come after them. An attribute that fails its
 * check makes the message malformed.
 */
static const struct nl_rule_attr nl_rule_policy[] = {
	{ FRA_PRIORITY, NL_RULE_U32, NL_RULE_AT(priority), 0 },
	{ FRA_TABLE, NL_RULE_U32, NL_RULE_AT(table), 0 },
	{ FRA_FWMARK, NL_RULE_U32, NL_RULE_AT(fwmark), 0 },
	{ FRA_FWMASK, NL_RULE_U32, NL_RULE_AT(fwmask), 0 },
	{ FRA_PROTOCOL, NL_RULE_U8, NL_RULE_AT(protocol), 0 },
	{ FRA_IP_PROTO, NL_RULE_U8, NL_RULE_AT(ip_proto), 0 },
	{ FRA_IIFNAME, NL_RULE_IFNAME, NL_RULE_AT(iif), 0 },
	{ FRA_OIFNAME, NL_RULE_IFNAME, NL_RULE_AT(oif), 0 },
	{ FRA_SPORT_RANGE, NL_RULE_PORTS, NL_RULE_AT(sport_lo),
	    NL_RULE_AT(sport_hi) },
	{ FRA_DPORT_RANGE, NL_RULE_PORTS, NL_RULE_AT(dport_lo),
	    NL_RULE_AT(dport_hi) },
	{ FRA_GOTO, NL_RULE_U32, NL_RULE_AT(goto_prio), 0 },
	{ FRA_FLOW, NL_RULE_UNKNOWN, 0, 0 },
	{ FRA_TUN_ID, NL_RULE_UNKNOWN, 0, 0 },
	{ FRA_L3MDEV, NL_RULE_UNKNOWN, 0, 0 },
	{ FRA_UID_RANGE, NL_RULE_UNKNOWN, 0, 0 },
	/* Linux >= 6.15 sends a full mask with a single port: no news. */
	{ NL_FRA_SPORT_MASK, NL_RULE_PORT_MASK, NL_RULE_AT(sport_lo),
	    NL_RULE_AT(sport_hi) },
	{ NL_FRA_DPORT_MASK, NL_RULE_PORT_MASK, NL_RULE_AT(dport_lo),
	    NL_RULE_AT(dport_hi) },
	/* The kernel always sends the suppressors; -1 means "not set". */
	{ FRA_SUPPRESS_PREFIXLEN, NL_RULE_UNSET, 0, 0 },
	{ FRA_SUPPRESS_IFGROUP, NL_RULE_UNSET, 0, 0 },
};

/* A u32 attribute that should hold -1 ("unset"); anything else is unknown. */
static int
nl_rule_unset_u32(const struct nlattr *a, bool *unknown)
{
	const uint32_t *u32;

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

	if ((u16 = nl_attr_fixed(a, MNL_TYPE_U16, 2)) == NULL)
		return -1;
	if (*u16 != 0xffff || lo != hi)
		*unknown = true;
	return 0;
}

/* Check one attribute against its policy entry and file its value in r. */
static int
nl_rule_apply(const struct nl_rule_attr *p, const struct nlattr *a,
    struct nl_rule *r)
{
	const struct fib_rule_port_range *pr;
	char *field = (char *)r + p->off;
	char *field2 = (char *)r + p->off2;
	const void *v;
	uint16_t lo, hi;

	switch (p->kind) {
	case NL_RULE_U8:
	case NL_RULE_U32:
		v = p->kind == NL_RULE_U8 ? nl_attr_fixed(a, MNL_TYPE_U8, 1) :
		    nl_attr_fixed(a, MNL_TYPE_U32, 4);
		if (v == NULL)
			return -1;
		memcpy(field, v, p->kind == NL_RULE_U8 ? 1 : 4);
		return 0;
	case NL_RULE_IFNAME:
		return nl_attr_ifname(a, field);
	case NL_RULE_PORTS:
		if ((pr = nl_attr_fixed(a, MNL_TYPE_UNSPEC, sizeof(*pr))) == NULL)
			return -1;
		memcpy(field, &pr->start, sizeof(pr->start));
		memcpy(field2, &pr->end, sizeof(pr->end));
		return 0;
	case NL_RULE_PORT_MASK:
		memcpy(&lo, field, sizeof(lo));
		memcpy(&hi, field2, sizeof(hi));
		return nl_rule_port_mask(a, lo, hi, &r->unknown);
	case NL_RULE_UNSET:
		return nl_rule_unset_u32(a, &r->unknown);
	default:
		r->unknown = true;
		return 0;
	}
}

/* Parse one RTM_NEWRULE message into an nl_rule, attribute by policy. */
int
nl_rule_parse(const void *buf, size_t len, struct nl_rule *r, char err[ERRLEN])
{
	const struct nlmsghdr *nlh;
	const struct fib_rule_hdr *frh;
	const struct nl_rule_attr *p;
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
	/* A mark without a mask matches the whole mark. */
	if (t.tb[FRA_FWMARK] != NULL || t.tb[FRA_FWMASK] != NULL) {
		r->has_fwmark = true;
		r->fwmask = 0xffffffff;
	}
	for (p = nl_rule_policy; p < nl_rule_policy +
	    sizeof(nl_rule_policy) / sizeof(nl_rule_policy[0]); p++)
		if (t.tb[p->type] != NULL && nl_rule_apply(p, t.tb[p->type], r) < 0)
			goto bad;
	if (nl_prefix_from(&r->src, r->family, frh->src_len, t.tb[FRA_SRC]) < 0 ||
	    nl_prefix_from(&r->dst, r->family, frh->dst_len, t.tb[FRA_DST]) < 0)
		goto bad;
	/* Attributes between FRA_MAX of our headers and the masks. */
	for (unsigned int i = FRA_MAX + 1; i < NL_FRA_SPORT_MASK; i++)
		if (t.tb[i] != NULL)
			r->unknown = true;
	return 1;
bad:
	snprintf(err, ERRLEN, "malformed rule message");
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
nl_rule_check(const struct nl_rule *r, char err[ERRLEN])
{
	size_t alen = nl_addrlen(r->family);

	if (alen == 0) {
		snprintf(err, ERRLEN, "rule: family must be AF_INET or AF_INET6");
		return -1;
	}
	if ((r->src.len && (r->src.family != r->family || r->src.len > alen * 8)) ||
	    (r->dst.len && (r->dst.family != r->family || r->dst.len > alen * 8))) {
		snprintf(err, ERRLEN, "rule: prefix of the wrong family or length");
		return -1;
	}
	if ((r->sport_hi && r->sport_hi < r->sport_lo) ||
	    (r->dport_hi && r->dport_hi < r->dport_lo)) {
		snprintf(err, ERRLEN, "rule: port range ends before it starts");
		return -1;
	}
	/* The kernel refuses port 0 and port 65535 in rule port ranges. */
	if (((r->sport_lo || r->sport_hi) && (r->sport_lo == 0 ||
	    r->sport_lo > NL_RULE_PORT_MAX || r->sport_hi > NL_RULE_PORT_MAX)) ||
	    ((r->dport_lo || r->dport_hi) && (r->dport_lo == 0 ||
	    r->dport_lo > NL_RULE_PORT_MAX || r->dport_hi > NL_RULE_PORT_MAX))) {
		snprintf(err, ERRLEN, "rule: port ranges must lie within 1-%d "
		    "(the kernel cannot match port 65535 in a rule)", NL_RULE_PORT_MAX);
		return -1;
	}
	return 0;
}

/* Send a rule request; what names it in err. */
static int
nl_rule_send(struct nl *nl, uint16_t type, uint16_t flags, const struct nl_rule *r,
    const char *verb, char err[ERRLEN])
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
nl_rule_add(struct nl *nl, const struct nl_rule *r, char err[ERRLEN])
{
	return nl_rule_send(nl, RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, r,
	    "add", err);
}

/* Delete the first rule matching every field given (tag included). */
int
nl_rule_del(struct nl *nl, const struct nl_rule *r, char err[ERRLEN])
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
    char err[ERRLEN])
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
