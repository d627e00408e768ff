/*
 * filter.c - flow filters: `tunrelay flows --proto/--addr/--port/--state/
 * --rule` and `--delete` build one, the control socket applies it.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/filter.h"

/* The protocol numbers a filter accepts by name. */
static int
filter_proto(const char *v)
{
	static const struct { const char *n; int p; } t[] = {
		{ "tcp", 6 }, { "udp", 17 }, { "icmp", 1 }, { "icmpv6", 58 },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcasecmp(v, t[i].n) == 0)
			return t[i].p;
	return -1;
}

/* Set one filter field. */
int
filter_set(struct filter *f, const char *key, const char *v,
    char err[ERRLEN])
{
	char *end;
	long n;
	int p;

	if (strcmp(key, "proto") == 0) {
		if ((p = filter_proto(v)) == -1)
			goto bad;
		f->proto = (uint8_t)p;
	} else if (strcmp(key, "addr") == 0) {
		memset(&f->addr, 0, sizeof(f->addr));
		if (inet_pton(AF_INET, v, f->addr.b) == 1)
			f->family = 4;
		else if (inet_pton(AF_INET6, v, f->addr.b) == 1)
			f->family = 6;
		else
			goto bad;
	} else if (strcmp(key, "port") == 0) {
		n = strtol(v, &end, 10);
		if (*v == '\0' || *end != '\0' || n < 1 || n > 65535)
			goto bad;
		f->port = (uint16_t)n;
	} else if (strcmp(key, "state") == 0) {
		if (*v == '\0' || strlen(v) >= sizeof(f->state))
			goto bad;
		snprintf(f->state, sizeof(f->state), "%s", v);
	} else if (strcmp(key, "rule") == 0) {
		if (*v == '\0' || strlen(v) >= sizeof(f->rule) ||
		    strpbrk(v, "\t\n") != NULL)
			goto bad;
		snprintf(f->rule, sizeof(f->rule), "%s", v);
	} else {
		snprintf(err, ERRLEN, "unknown filter \"%.32s\" (allowed: "
		    "proto, addr, port, state, rule)", key);
		return -1;
	}
	return 0;
bad:
	snprintf(err, ERRLEN, "%s \"%.64s\" is not valid (allowed: proto "
	    "tcp|udp|icmp|icmpv6, addr an IPv4 or IPv6 address, port 1..65535, "
	    "state a state name such as established or replied, rule a rule "
	    "name as flows shows it)", key, v);
	return -1;
}

/* Whether no filter field is set. */
bool
filter_empty(const struct filter *f)
{
	return f->proto == 0 && f->family == 0 && f->port == 0 &&
	    f->state[0] == '\0' && f->rule[0] == '\0';
}

/* The wire form of a filter. */
void
filter_str(const struct filter *f, char *buf, size_t len)
{
	char a[64];
	size_t o;

	buf[0] = '\0';
	if (f->proto != 0)
		snprintf(buf, len, "\tproto=%s", nat_proto_name(f->proto));
	o = strlen(buf);
	if (f->family != 0 && inet_ntop(f->family == 4 ? AF_INET : AF_INET6,
	    f->addr.b, a, sizeof(a)) != NULL)
		snprintf(buf + o, len - o, "\taddr=%s", a);
	o = strlen(buf);
	if (f->port != 0)
		snprintf(buf + o, len - o, "\tport=%u", f->port);
	o = strlen(buf);
	if (f->state[0] != '\0')
		snprintf(buf + o, len - o, "\tstate=%s", f->state);
	o = strlen(buf);
	if (f->rule[0] != '\0')
		snprintf(buf + o, len - o, "\trule=%s", f->rule);
}

/* Whether a is one of a flow's addresses. */
static bool
filter_addr(const struct filter *f, const struct nat_flow_info *fi)
{
	size_t n = f->family == 4 ? 4 : 16;

	return f->family == fi->family &&
	    (memcmp(fi->orig_src.b, f->addr.b, n) == 0 ||
	    memcmp(fi->orig_dst.b, f->addr.b, n) == 0 ||
	    memcmp(fi->reply_src.b, f->addr.b, n) == 0 ||
	    memcmp(fi->reply_dst.b, f->addr.b, n) == 0);
}

/* Whether a rule name matches: the whole name, or its first word. */
static bool
filter_rule(const char *want, const char *rule)
{
	size_t n = strlen(want);

	return strcmp(want, rule) == 0 || (strncmp(want, rule, n) == 0 &&
	    rule[n] == ' ');
}

/* Whether a flow passes the filter. */
bool
filter_match(const struct filter *f, const struct nat_flow_info *fi,
    const char *rule)
{
	bool ports = fi->proto == 6 || fi->proto == 17;

	if (f->proto != 0 && f->proto != fi->proto)
		return false;
	if (f->family != 0 && !filter_addr(f, fi))
		return false;
	if (f->port != 0 && (!ports || (fi->orig_sport != f->port &&
	    fi->orig_dport != f->port && fi->reply_sport != f->port &&
	    fi->reply_dport != f->port)))
		return false;
	if (f->state[0] != '\0' && strcasecmp(f->state, fi->state) != 0)
		return false;
	return f->rule[0] == '\0' || filter_rule(f->rule, rule);
}

