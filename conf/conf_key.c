/*
 * conf_key.c - one key's value through its typed parser.
 *
 * Each function parses the value of one entry, reports a bad value with
 * the file, line, section, key, the quoted value and what is allowed, and
 * returns 0 or -1. Outputs are written only on success.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf_int.h"

#define CONF_ALLOWED_IFNAME	"an interface name of 1 to 15 characters " \
	"without '/', ':' or blanks"
#define CONF_ALLOWED_ADDRS	"IPv4 or IPv6 unicast addresses separated by " \
	"commas, e.g. \"10.22.22.1, fd00::1\""

/* The value of e, or NULL after reporting an empty one. */
static const char *
conf_key_value(struct conf_ctx *ctx, const struct conf_ent *e,
    const char *allowed)
{
	if (e->value[0] == '\0') {
		conf_bad(ctx, e, "", "is empty", allowed);
		return NULL;
	}
	return e->value;
}

/* An interface name. */
int
conf_key_ifname(struct conf_ctx *ctx, const struct conf_ent *e, char **out)
{
	const char	*v, *why;
	char		*d;

	if ((v = conf_key_value(ctx, e, CONF_ALLOWED_IFNAME)) == NULL)
		return -1;
	if ((why = conf_parse_ifname(v)) != NULL) {
		conf_bad(ctx, e, v, why, CONF_ALLOWED_IFNAME);
		return -1;
	}
	if ((d = conf_strdup(ctx, v, e->line)) == NULL)
		return -1;
	free(*out);
	*out = d;
	return 0;
}

/* Append a copy of name to the list *names. */
static int
conf_key_push(struct conf_ctx *ctx, const struct conf_ent *e, char ***names,
    size_t *n, const char *name)
{
	char	**l, *d;

	if ((d = conf_strdup(ctx, name, e->line)) == NULL)
		return -1;
	if ((l = conf_grow(ctx, *names, *n, sizeof(*l), e->line)) == NULL) {
		free(d);
		return -1;
	}
	l[(*n)++] = d;
	*names = l;
	return 0;
}

/* Free a list of names. */
static void
conf_key_free_names(char **names, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Check one item of an interface list; 0 when it may be added. */
static int
conf_key_ifitem(struct conf_ctx *ctx, const struct conf_ent *e,
    const char *item, char **names, size_t n)
{
	const char	*why;
	size_t		 i;

	if (*item == '\0')
		why = "is an empty item";
	else if ((why = conf_parse_ifname(item)) == NULL) {
		for (i = 0; i < n; i++)
			if (strcmp(names[i], item) == 0)
				why = "is listed twice";
	}
	if (why != NULL) {
		conf_bad(ctx, e, item, why, "interface names separated by "
		    "commas, each once");
		return -1;
	}
	return 0;
}

/* A comma-separated list of interface names, each once. */
int
conf_key_ifnames(struct conf_ctx *ctx, const struct conf_ent *e,
    char ***out, size_t *nout)
{
	char		 item[CONF_ITEM_MAX], **names = NULL;
	const char	*cur;
	size_t		 n = 0;
	int		 bad = 0;

	if ((cur = conf_key_value(ctx, e, "interface names separated by "
	    "commas")) == NULL)
		return -1;
	while (conf_parse_item(&cur, item, sizeof(item))) {
		if (conf_key_ifitem(ctx, e, item, names, n) == -1)
			bad = 1;
		else if (conf_key_push(ctx, e, &names, &n, item) == -1)
			bad = 1;
	}
	if (bad) {
		conf_key_free_names(names, n);
		return -1;
	}
	*out = names;
	*nout = n;
	return 0;
}

/* A number in lo..hi; unit ("", " seconds") goes into the message. */
int
conf_key_u32(struct conf_ctx *ctx, const struct conf_ent *e, uint32_t lo,
    uint32_t hi, const char *unit, uint32_t *out)
{
	char		 allowed[64];
	const char	*v, *why;

	snprintf(allowed, sizeof(allowed), "%u..%u%s", lo, hi, unit);
	if ((v = conf_key_value(ctx, e, allowed)) == NULL)
		return -1;
	if ((why = conf_parse_u32(v, lo, hi, out)) != NULL) {
		conf_bad(ctx, e, v, why, allowed);
		return -1;
	}
	return 0;
}

/* A port or port range within min..65535. */
int
conf_key_range(struct conf_ctx *ctx, const struct conf_ent *e, uint16_t min,
    uint16_t *lo, uint16_t *hi)
{
	char		 allowed[80];
	const char	*v, *why;
	uint16_t	 l, h;

	snprintf(allowed, sizeof(allowed), "PORT or LO-HI within %u..65535",
	    min);
	if ((v = conf_key_value(ctx, e, allowed)) == NULL)
		return -1;
	if ((why = conf_parse_range(v, min, &l, &h)) != NULL) {
		conf_bad(ctx, e, v, why, allowed);
		return -1;
	}
	*lo = l;
	*hi = h;
	return 0;
}

/* yes or no. */
int
conf_key_bool(struct conf_ctx *ctx, const struct conf_ent *e, bool *out)
{
	const char	*v, *why;

	if ((v = conf_key_value(ctx, e, "yes, no")) == NULL)
		return -1;
	if ((why = conf_parse_bool(v, out)) != NULL) {
		conf_bad(ctx, e, v, why, "yes, no");
		return -1;
	}
	return 0;
}

/* One of words; *idx is its index. */
int
conf_key_word(struct conf_ctx *ctx, const struct conf_ent *e,
    const char *const *words, int *idx)
{
	char		 allowed[128];
	const char	*v;

	conf_join(words, allowed, sizeof(allowed));
	if ((v = conf_key_value(ctx, e, allowed)) == NULL)
		return -1;
	if (conf_parse_word(v, words, idx) != NULL) {
		conf_bad(ctx, e, v, "is not an allowed value", allowed);
		return -1;
	}
	return 0;
}

/* mss_clamp: pmtu, off or a number. */
int
conf_key_mss(struct conf_ctx *ctx, const struct conf_ent *e, uint8_t *mode,
    uint16_t *mss)
{
	static const char *const	 words[] = { "pmtu", "off", NULL };
	char				 allowed[64];
	const char			*v;
	uint32_t			 n;
	int				 i;

	snprintf(allowed, sizeof(allowed), "pmtu, off, or a number %d..%d",
	    CONF_MSS_MIN, CONF_MSS_MAX);
	if ((v = conf_key_value(ctx, e, allowed)) == NULL)
		return -1;
	if (conf_parse_word(v, words, &i) == NULL) {
		*mode = i == 0 ? CONF_MSS_PMTU : CONF_MSS_OFF;
		*mss = 0;
		return 0;
	}
	if (strspn(v, "0123456789") != strlen(v)) {
		conf_bad(ctx, e, v, "is not pmtu, off or a number", allowed);
		return -1;
	}
	if (conf_parse_u32(v, CONF_MSS_MIN, CONF_MSS_MAX, &n) != NULL) {
		conf_bad(ctx, e, v, "is out of range", allowed);
		return -1;
	}
	*mode = CONF_MSS_FIXED;
	*mss = (uint16_t)n;
	return 0;
}

/* Parse one address item; reports and returns -1 when bad. */
static int
conf_key_addr_item(struct conf_ctx *ctx, const struct conf_ent *e,
    const char *item, struct conf_addr *a, const char *allowed)
{
	const char	*why;

	if (*item == '\0')
		why = "is an empty item";
	else if ((why = conf_parse_addr(item, a)) == NULL)
		why = conf_parse_unicast(a);
	if (why != NULL) {
		conf_bad(ctx, e, item, why, allowed);
		return -1;
	}
	return 0;
}

/* At most one IPv4 and one IPv6 unicast address. */
int
conf_key_addr_pair(struct conf_ctx *ctx, const struct conf_ent *e,
    struct conf_addr *out, size_t *nout)
{
	static const char	*allowed = "one IPv4 and/or one IPv6 unicast "
	    "address, e.g. \"10.22.22.1, fd00::1\"";
	struct conf_addr	 a[2], x;
	char			 item[CONF_ITEM_MAX];
	const char		*cur;
	size_t			 n = 0;
	int			 bad = 0;

	if ((cur = conf_key_value(ctx, e, allowed)) == NULL)
		return -1;
	while (conf_parse_item(&cur, item, sizeof(item))) {
		if (conf_key_addr_item(ctx, e, item, &x, allowed) == -1)
			bad = 1;
		else if ((n > 0 && a[0].family == x.family) || n == 2) {
			conf_bad(ctx, e, item, x.family == 4 ?
			    "is a second IPv4 address" :
			    "is a second IPv6 address", allowed);
			bad = 1;
		} else
			a[n++] = x;
	}
	if (bad)
		return -1;
	memcpy(out, a, n * sizeof(a[0]));
	*nout = n;
	return 0;
}

/* A list of unicast addresses, each once. */
int
conf_key_addr_list(struct conf_ctx *ctx, const struct conf_ent *e,
    struct conf_addr **out, size_t *nout)
{
	struct conf_addr	*l = NULL, *nl, x;
	char			 item[CONF_ITEM_MAX];
	const char		*cur;
	size_t			 n = 0, i;
	int			 bad = 0;

	if ((cur = conf_key_value(ctx, e, CONF_ALLOWED_ADDRS)) == NULL)
		return -1;
	while (conf_parse_item(&cur, item, sizeof(item))) {
		if (conf_key_addr_item(ctx, e, item, &x, CONF_ALLOWED_ADDRS)
		    == -1) {
			bad = 1;
			continue;
		}
		for (i = 0; i < n; i++)
			if (memcmp(&l[i], &x, sizeof(x)) == 0)
				break;
		if (i < n) {
			conf_bad(ctx, e, item, "is listed twice",
			    CONF_ALLOWED_ADDRS);
			bad = 1;
		} else if ((nl = conf_grow(ctx, l, n, sizeof(*l), e->line)) ==
		    NULL)
			bad = 1;
		else {
			l = nl;
			l[n++] = x;
		}
	}
	if (bad) {
		free(l);
		return -1;
	}
	*out = l;
	*nout = n;
	return 0;
}

/* An absolute socket path. */
int
conf_key_path(struct conf_ctx *ctx, const struct conf_ent *e, char **out)
{
	static const char	*allowed =
	    "an absolute path of up to 107 bytes";
	const char		*v, *why;

	if ((v = conf_key_value(ctx, e, allowed)) == NULL)
		return -1;
	if ((why = conf_parse_path(v)) != NULL) {
		conf_bad(ctx, e, v, why, allowed);
		return -1;
	}
	return (*out = conf_strdup(ctx, v, e->line)) == NULL ? -1 : 0;
}

/* A group name (whether it exists is a host check). */
int
conf_key_group(struct conf_ctx *ctx, const struct conf_ent *e, char **out)
{
	static const char	*allowed = "a group name of 1 to 32 letters, "
	    "digits, '.', '_' or '-'";
	const char		*v, *why;

	if ((v = conf_key_value(ctx, e, allowed)) == NULL)
		return -1;
	if ((why = conf_parse_group(v)) != NULL) {
		conf_bad(ctx, e, v, why, allowed);
		return -1;
	}
	return (*out = conf_strdup(ctx, v, e->line)) == NULL ? -1 : 0;
}
