/*
 * conf_parse.c - one small typed parser per kind of value.
 *
 * Pure functions: a string in, a typed value out. Each returns NULL on
 * success or a short reason ("is not a number") that conf_key.c puts after
 * the quoted value; the allowed values are the caller's to state.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/conf_int.h"

/* ASCII whitespace, as isspace() in the C locale. */
static int
conf_parse_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' ||
	    c == '\f' || c == '\r';
}

/* Parse a decimal number in lo..hi: digits only, no sign. */
const char *
conf_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
	const char	*p;
	uint64_t	 v = 0;
	int		 big = 0;

	if (*s == '\0')
		return "is not a number";
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return "is not a number";
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX) {
			big = 1;
			v = UINT32_MAX;
		}
	}
	if (big || v < lo || v > hi)
		return "is out of range";
	*out = (uint32_t)v;
	return NULL;
}

/* Parse one port in min..65535. */
static const char *
conf_parse_port(const char *s, uint16_t min, uint16_t *out)
{
	uint32_t	v;

	if (*s == '\0' || strspn(s, "0123456789") != strlen(s))
		return "is not a port or port range";
	if (conf_parse_u32(s, min, 65535, &v) != NULL)
		return "has a port out of range";
	*out = (uint16_t)v;
	return NULL;
}

/* Parse "PORT" or "LO-HI" with min <= LO <= HI <= 65535. */
const char *
conf_parse_range(const char *s, uint16_t min, uint16_t *lo, uint16_t *hi)
{
	char		 buf[16];
	const char	*dash, *why;
	size_t		 n;

	if ((dash = strchr(s, '-')) == NULL) {
		if ((why = conf_parse_port(s, min, lo)) != NULL)
			return why;
		*hi = *lo;
		return NULL;
	}
	n = (size_t)(dash - s);
	if (n == 0 || n >= sizeof(buf))
		return "is not a port or port range";
	memcpy(buf, s, n);
	buf[n] = '\0';
	if ((why = conf_parse_port(buf, min, lo)) != NULL ||
	    (why = conf_parse_port(dash + 1, min, hi)) != NULL)
		return why;
	if (*lo > *hi)
		return "has its first port above its last";
	return NULL;
}

/* Parse an IPv4 or IPv6 address (no brackets, no zone, no prefix). */
const char *
conf_parse_addr(const char *s, struct conf_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->addr.b) == 1) {
		a->family = 4;
		return NULL;
	}
	if (inet_pton(AF_INET6, s, a->addr.b) == 1) {
		a->family = 6;
		return NULL;
	}
	memset(a, 0, sizeof(*a));
	return "is not an IPv4 or IPv6 address";
}

/* Refuse addresses that cannot be a unicast peer across a network. */
static const char *
conf_parse_unicast4(const uint8_t *b)
{
	if (b[0] == 0)
		return "is in 0.0.0.0/8, not a unicast address";
	if (b[0] == 127)
		return "is a loopback address";
	if (b[0] >= 224 && b[0] <= 239)
		return "is a multicast address";
	if (b[0] >= 240)
		return "is a reserved or broadcast address";
	return NULL;
}

/* Refuse IPv6 addresses that cannot be a unicast peer across a network. */
static const char *
conf_parse_unicast6(const uint8_t *b)
{
	static const uint8_t	zero[16];
	static const uint8_t	mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (b[0] == 0xff)
		return "is a multicast address";
	if (memcmp(b, zero, 15) == 0 && b[15] == 0)
		return "is the unspecified address";
	if (memcmp(b, zero, 15) == 0 && b[15] == 1)
		return "is a loopback address";
	if (memcmp(b, mapped, 12) == 0)
		return "is an IPv4-mapped address (write the IPv4 address)";
	return NULL;
}

/* Check that a parsed address is a usable unicast address. */
const char *
conf_parse_unicast(const struct conf_addr *a)
{
	if (a->family == 4)
		return conf_parse_unicast4(a->addr.b);
	return conf_parse_unicast6(a->addr.b);
}

/*
 * Split "[V6]:PORT", "[V6]", "ADDR:PORT" or "ADDR" into the address text
 * (host) and the port text (*port, NULL when none). A bare IPv6 address
 * (two colons or more) has no port.
 */
static const char *
conf_parse_hostport(const char *s, char *host, size_t hlen, const char **port)
{
	const char	*end, *colon;
	size_t		 n;

	*port = NULL;
	if (*s == '[') {
		if ((end = strchr(s, ']')) == NULL)
			return "has '[' without ']'";
		if (end[1] != '\0' && end[1] != ':')
			return "has text after ']' that is not :PORT";
		if (end[1] == ':')
			*port = end + 2;
		s++;
	} else if ((colon = strchr(s, ':')) != NULL &&
	    strchr(colon + 1, ':') == NULL) {
		end = colon;
		*port = colon + 1;
	} else
		end = s + strlen(s);
	n = (size_t)(end - s);
	if (n >= hlen)
		return "is not an IPv4 or IPv6 address";
	memcpy(host, s, n);
	host[n] = '\0';
	return NULL;
}

/* Parse an address that must be unicast. */
static const char *
conf_parse_peer(const char *s, struct conf_addr *a)
{
	const char	*why;

	if ((why = conf_parse_addr(s, a)) != NULL)
		return why;
	return conf_parse_unicast(a);
}

/*
 * Parse a listen value: "PORT", "LO-HI", "ADDR:PORT[-HI]" or
 * "[V6]:PORT[-HI]". *has_addr tells whether an address was given.
 */
const char *
conf_parse_listen(const char *s, bool *has_addr, struct conf_addr *a,
    uint16_t *lo, uint16_t *hi)
{
	char		 host[64];
	const char	*port, *why;

	memset(a, 0, sizeof(*a));
	*has_addr = false;
	if (*s != '[' && strchr(s, ':') == NULL)
		return conf_parse_range(s, 1, lo, hi);
	if ((why = conf_parse_hostport(s, host, sizeof(host), &port)) != NULL)
		return why;
	if (port == NULL && *s == '[')
		return "has no port after the address";
	if (port == NULL)
		return conf_parse_addr(host, a) == NULL ?
		    "is an IPv6 address without brackets and port" :
		    "is not a port, a range or an address with a port";
	if ((why = conf_parse_peer(host, a)) != NULL)
		return why;
	if (*s != '[' && a->family == 6)
		return "is an IPv6 address without brackets and port";
	*has_addr = true;
	return conf_parse_range(port, 1, lo, hi);
}

/*
 * Parse a target: "ADDR", "ADDR:PORT[-HI]", "V6", "[V6]" or "[V6]:PORT[-HI]".
 * *lo and *hi are 0 when no port was given.
 */
const char *
conf_parse_target(const char *s, struct conf_addr *a, uint16_t *lo,
    uint16_t *hi)
{
	char		 host[64];
	const char	*port, *why;

	*lo = *hi = 0;
	memset(a, 0, sizeof(*a));
	if ((why = conf_parse_hostport(s, host, sizeof(host), &port)) != NULL)
		return why;
	if ((why = conf_parse_peer(host, a)) != NULL)
		return why;
	if (*s != '[' && port != NULL && a->family == 6)
		return "is an IPv6 address with a port but without brackets";
	if (port == NULL)
		return NULL;
	return conf_parse_range(port, 1, lo, hi);
}

/*
 * Whether a bare IPv6 target ("2001:db8:1::5:80") also reads as an address
 * and a port: its last group is a decimal number 1..65535 and what comes
 * before ":GROUP" is itself an IPv6 address. Then addr gets that shorter
 * address and *port the number. "2001:db8::1" is not ambiguous: without
 * ":1" it is no address.
 */
bool
conf_parse_v6_ambiguous(const char *s, char *addr, size_t len, long *port)
{
	struct conf_addr	 a;
	const char		*colon;
	char			*end;
	size_t			 n;
	long			 p;

	if (*s == '[' || (colon = strrchr(s, ':')) == NULL ||
	    strchr(s, ':') == colon || colon[1] == '\0' ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
	    strlen(colon + 1) > 5)
		return false;
	p = strtol(colon + 1, &end, 10);
	if (p < 1 || p > 65535 || (n = (size_t)(colon - s)) >= len)
		return false;
	memcpy(addr, s, n);
	addr[n] = '\0';
	if (conf_parse_addr(addr, &a) != NULL || a.family != 6)
		return false;
	*port = p;
	return true;
}

/* Check an interface name as Linux does (dev_valid_name), ASCII only. */
const char *
conf_parse_ifname(const char *s)
{
	const char	*p;

	if (strlen(s) > CONF_IFNAME_MAX)
		return "is longer than 15 characters";
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return "is not an interface name";
	for (p = s; *p != '\0'; p++)
		if (*p <= ' ' || *p > '~' || *p == '/' || *p == ':')
			return "has a character not allowed in an interface "
			    "name";
	return NULL;
}

/* Check a group name: portable characters, not starting with '-'. */
const char *
conf_parse_group(const char *s)
{
	const char	*p;

	if (strlen(s) > CONF_GROUP_MAX)
		return "is longer than 32 characters";
	if (*s == '-')
		return "starts with '-'";
	for (p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' ||
		    *p == '.'))
			return "has a character not allowed in a group name";
	return NULL;
}

/* Check a Unix socket path: absolute, printable, fits sun_path. */
const char *
conf_parse_path(const char *s)
{
	const char	*p;
	size_t		 n = strlen(s);

	if (*s != '/')
		return "is not an absolute path";
	if (n > CONF_SOCKET_MAX)
		return "is longer than 107 bytes (the limit of a socket "
		    "path)";
	if (s[n - 1] == '/')
		return "names a directory, not a socket";
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			return "has a control character";
	return NULL;
}

/* Match one of words (case-insensitive); *idx is its index. */
const char *
conf_parse_word(const char *s, const char *const *words, int *idx)
{
	int	i;

	for (i = 0; words[i] != NULL; i++)
		if (strcasecmp(s, words[i]) == 0) {
			*idx = i;
			return NULL;
		}
	return "is not an allowed value";
}

/* Parse yes or no. */
const char *
conf_parse_bool(const char *s, bool *out)
{
	static const char *const	words[] = { "no", "yes", NULL };
	int				i;

	if (conf_parse_word(s, words, &i) != NULL)
		return "is not yes or no";
	*out = i == 1;
	return NULL;
}

/* Map a protocol word to its engine bit; 0 for none. */
static uint8_t
conf_parse_proto(const char *s)
{
	if (strcasecmp(s, "tcp") == 0)
		return NAT_P_TCP;
	if (strcasecmp(s, "udp") == 0)
		return NAT_P_UDP;
	return 0;
}

/* Parse "tcp", "udp" or "tcp,udp" into NAT_P_* bits. */
const char *
conf_parse_protos(const char *s, uint8_t *out)
{
	char		item[CONF_ITEM_MAX];
	uint8_t		p;

	*out = 0;
	while (conf_parse_item(&s, item, sizeof(item))) {
		if ((p = conf_parse_proto(item)) == 0)
			return "is not tcp, udp or tcp,udp";
		if (*out & p)
			return "names a protocol twice";
		*out |= p;
	}
	return *out == 0 ? "is not tcp, udp or tcp,udp" : NULL;
}

/* Parse one exclude item: "tcp/PORT", "udp/LO-HI". */
const char *
conf_parse_exclude(const char *s, struct conf_exclude *x)
{
	char		 proto[8];
	const char	*slash;
	size_t		 n;

	memset(x, 0, sizeof(*x));
	if ((slash = strchr(s, '/')) == NULL ||
	    (n = (size_t)(slash - s)) >= sizeof(proto))
		return "is not PROTO/PORT or PROTO/LO-HI";
	memcpy(proto, s, n);
	proto[n] = '\0';
	if (strcasecmp(proto, "icmp") == 0 || strcasecmp(proto, "icmpv6") == 0)
		return "excludes ICMP, which cannot be excluded";
	if ((x->protos = conf_parse_proto(proto)) == 0)
		return "has a protocol other than tcp or udp";
	return conf_parse_range(slash + 1, 1, &x->port_lo, &x->port_hi);
}

/*
 * Take the next comma-separated item of *cur into buf, blanks trimmed.
 * Returns 0 when none is left; "a,,b" and "a," give an empty item.
 */
int
conf_parse_item(const char **cur, char *buf, size_t len)
{
	const char	*s = *cur, *comma, *end;
	size_t		 n;

	if (s == NULL)
		return 0;
	comma = strchr(s, ',');
	end = comma != NULL ? comma : s + strlen(s);
	*cur = comma != NULL ? comma + 1 : NULL;
	while (s < end && conf_parse_space(*s))
		s++;
	while (end > s && conf_parse_space(end[-1]))
		end--;
	n = (size_t)(end - s);
	if (n >= len)
		n = len - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return 1;
}
