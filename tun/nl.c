/*
 * nl.c - rtnetlink through libmnl, the part every object shares: the
 * socket, one request and its acks, dumps into arrays, attribute helpers
 * and prefixes. Rules, routes and links live in nl_rule.c, nl_route.c and
 * nl_link.c.
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

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "tun/nl.h"
#include "tun/nl_int.h"

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

/* How often a dump interrupted by a concurrent change is restarted. */
#define NL_DUMP_RETRIES 5

/* State shared by the receive loop and the reply callbacks of one request. */
struct nl_ctx {
	mnl_cb_t fn;		/* data message callback, may be NULL */
	void *arg;
	bool intr;		/* a dump message carried NLM_F_DUMP_INTR */
	char ackmsg[128];	/* the kernel's extended ack text */
};

/* Address length in bytes of a family, 0 for others. */
size_t
nl_addrlen(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

/* Payload of an attribute as a fixed-size value, or NULL when too short. */
const void *
nl_attr_fixed(const struct nlattr *a, enum mnl_attr_data_type type, size_t len)
{
	if (mnl_attr_validate2(a, type, len) < 0 ||
	    mnl_attr_get_payload_len(a) < len)
		return NULL;
	return mnl_attr_get_payload(a);
}

/* Copy an address attribute of exactly the family's length into dst. */
int
nl_attr_addr(const struct nlattr *a, int family, uint8_t *dst)
{
	size_t alen = nl_addrlen(family);

	if (alen == 0 || mnl_attr_get_payload_len(a) != alen)
		return -1;
	memcpy(dst, mnl_attr_get_payload(a), alen);
	return 0;
}

/* Copy a NUL-terminated interface name attribute into dst[IFNAMSIZ]. */
int
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

/* mnl_attr_parse callback: file each attribute under its type. */
int
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
const struct nlmsghdr *
nl_msg_check(const void *buf, size_t len, uint16_t type, size_t hdrlen,
    int *skip, char err[ERRLEN])
{
	const struct nlmsghdr *nlh = buf;

	*skip = 0;
	if (!nl_msg_complete(buf, len)) {
		snprintf(err, ERRLEN, "truncated netlink message");
		return NULL;
	}
	if (nlh->nlmsg_type != type) {
		*skip = 1;
		return NULL;
	}
	if (mnl_nlmsg_get_payload_len(nlh) < hdrlen) {
		snprintf(err, ERRLEN, "netlink message type %u too short",
		    (unsigned int)type);
		return NULL;
	}
	return nlh;
}

/* Fill a prefix from a length and an optional address attribute. */
int
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
int
nl_talk(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t fn, void *arg,
    bool *intr, const char *what, char err[ERRLEN])
{
	struct nl_ctx ctx = { .fn = fn, .arg = arg };
	ssize_t n;
	int ret;

	if (nl->sock == NULL) {
		snprintf(err, ERRLEN, "%s: netlink socket not open", what);
		return -1;
	}
	if (++nl->seq == 0)
		nl->seq = 1;
	nlh->nlmsg_seq = nl->seq;
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0) {
		snprintf(err, ERRLEN, "%s: netlink send: %s", what, strerror(errno));
		return -1;
	}
	do {
		n = mnl_socket_recvfrom(nl->sock, nl->buf, NL_BUFSIZE);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, ERRLEN, "%s: netlink receive: %s", what,
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

		snprintf(err, ERRLEN, "%s: %s%s%s%s", what, strerror(e),
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
nl_open(struct nl *nl, char err[ERRLEN])
{
	struct timeval tv = { .tv_sec = 10 };
	int one = 1;
	int fd;

	memset(nl, 0, sizeof(*nl));
	nl->buf = malloc(NL_BUFSIZE);
	if (nl->buf == NULL) {
		snprintf(err, ERRLEN, "netlink buffer: %s", strerror(errno));
		return -1;
	}
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (nl->sock == NULL) {
		snprintf(err, ERRLEN, "netlink socket: %s", strerror(errno));
		goto fail;
	}
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		snprintf(err, ERRLEN, "netlink bind: %s", strerror(errno));
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
	char perr[ERRLEN];
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
int
nl_dump(struct nl *nl, struct nlmsghdr *nlh, struct nl_collect *c,
    const char *what, char err[ERRLEN])
{
	bool intr;
	int i;

	for (i = 0; i < NL_DUMP_RETRIES; i++) {
		c->n = 0;
		c->bad = 0;
		if (nl_talk(nl, nlh, nl_collect_cb, c, &intr, what, err) < 0)
			goto fail;
		if (c->bad) {
			snprintf(err, ERRLEN, "%.80s: %.170s", what, c->err);
			goto fail;
		}
		if (!intr)
			return 0;
	}
	snprintf(err, ERRLEN, "%s: dump kept being interrupted by changes", what);
fail:
	free(c->arr);
	c->arr = NULL;
	c->n = 0;
	return -1;
}

/* Data callback of a single-object request: keep the first parsed. */
int
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
int
nl_one_result(struct nl_one *o, const char *what, char err[ERRLEN])
{
	if (o->found < 0) {
		snprintf(err, ERRLEN, "%.80s: %.170s", what, o->err);
		return -1;
	}
	if (o->found == 0) {
		snprintf(err, ERRLEN, "%s: no answer from the kernel", what);
		return -1;
	}
	return 0;
}

/* Parse an address with an optional prefix length. */
int
nl_prefix_parse(const char *s, struct nl_prefix *p, char err[ERRLEN])
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
	snprintf(err, ERRLEN, "\"%.64s\" is not an address or prefix "
	    "(like 10.0.0.0/8 or 2001:db8::/32)", s);
	memset(p, 0, sizeof(*p));
	return -1;
}

/* Print an address of family af (AF_INET, AF_INET6); "?" when it cannot be. */
const char *
nl_ntop(int af, const void *addr, char *buf, size_t len)
{
	if (inet_ntop(af, addr, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
	return buf;
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

/* Append to buf at *off, never past len. */
void
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
const char *
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

/*
 * A routing protocol tag in ip(8) words ("kernel", not "2"); ours and
 * other unnamed ones stay numbers, as ip prints them.
 */
const char *
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
