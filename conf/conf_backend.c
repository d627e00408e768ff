/*
 * conf_backend.c - backend lists ("10.22.22.1:80 weight=2, 10.22.22.3:80")
 * and their health checks ("check = tcp interval=5 fall=3" in
 * [forward.NAME], backend_check in [front]). Their view as the engine's
 * backends is in conf_nat.c.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/conf_int.h"

/*
 * Split a list item "TARGET [weight=N]" into the target and its weight
 * (1 when not given); NULL, or why the item is bad.
 */
const char *
conf_backend_split(const char *item, char *target, size_t len,
    uint16_t *weight)
{
	const char	*sp = item + strcspn(item, " \t"), *w = sp;
	uint32_t	 n;
	size_t		 tl = (size_t)(sp - item);

	*weight = 1;
	if (tl == 0)
		return "is an empty item";
	if (tl >= len)
		return "is too long";
	memcpy(target, item, tl);
	target[tl] = '\0';
	w += strspn(w, " \t");
	if (*w == '\0')
		return NULL;
	if (strncasecmp(w, "weight=", 7) != 0)
		return "has something other than weight=N after the address";
	if (conf_parse_u32(w + 7, 1, NAT_WEIGHT_MAX, &n) != NULL)
		return "has a weight that is not a number 1..10000";
	*weight = (uint16_t)n;
	return NULL;
}

/* Whether two targets are the same address and port. */
bool
conf_backend_same(const struct conf_target *a, const struct conf_target *b)
{
	return a->a.family == b->a.family && a->port == b->port &&
	    memcmp(&a->a.addr, &b->a.addr, sizeof(a->a.addr)) == 0;
}

/* Append t to the list *l of *n; -1 (reported) when full or no memory. */
int
conf_backend_push(struct conf_ctx *ctx, const struct conf_ent *e,
    const char *item, struct conf_target **l, size_t *n,
    const struct conf_target *t)
{
	struct conf_target	*nl;
	size_t			 i;
	char			 allowed[64];

	for (i = 0; i < *n; i++)
		if (conf_backend_same(&(*l)[i], t)) {
			conf_bad(ctx, e, item, "is listed twice", "each "
			    "address (and port) once");
			return -1;
		}
	if (*n == CONF_TARGETS_MAX) {
		snprintf(allowed, sizeof(allowed), "at most %d backends",
		    CONF_TARGETS_MAX);
		conf_bad(ctx, e, item, "is one backend too many", allowed);
		return -1;
	}
	if ((nl = conf_grow(ctx, *l, *n, sizeof(*nl), e->line)) == NULL)
		return -1;
	nl[(*n)++] = *t;
	*l = nl;
	return 0;
}

/* [front] backend: addresses with optional weights, any families. */
int
conf_backend_addrs(struct conf_ctx *ctx, const struct conf_ent *e,
    struct conf_front *f)
{
	static const char	*allowed = "IPv4 and/or IPv6 unicast addresses "
	    "separated by commas, each with an optional weight=1..10000, e.g. "
	    "\"10.22.22.1 weight=2, 10.22.22.3, fd00::1\"";
	struct conf_target	 t;
	char			 item[CONF_ITEM_MAX], addr[CONF_ITEM_MAX];
	const char		*cur = e->value, *why;
	int			 bad = 0;

	if (*cur == '\0') {
		conf_bad(ctx, e, "", "is empty", allowed);
		return -1;
	}
	while (conf_parse_item(&cur, item, sizeof(item))) {
		memset(&t, 0, sizeof(t));
		if ((why = conf_backend_split(item, addr, sizeof(addr),
		    &t.weight)) == NULL &&
		    (why = conf_parse_addr(addr, &t.a)) == NULL)
			why = conf_parse_unicast(&t.a);
		if (why != NULL) {
			conf_bad(ctx, e, item, why, allowed);
			bad = 1;
		} else if (conf_backend_push(ctx, e, item, &f->backends,
		    &f->nbackends, &t) == -1)
			bad = 1;
	}
	return bad ? -1 : 0;
}

/* The first backend of each family, in the order of the list. */
void
conf_backend_firsts(struct conf_front *f)
{
	size_t	i;

	f->nbackend = 0;
	for (i = 0; i < f->nbackends; i++)
		if (f->nbackend == 0 || (f->nbackend == 1 &&
		    f->backend[0].family != f->backends[i].a.family))
			f->backend[f->nbackend++] = f->backends[i].a;
}

/* Parse a check kind: none, tcp, tcp:PORT, icmp. */
static const char *
conf_backend_check_kind(const char *v, struct conf_health *h)
{
	uint32_t	n;

	h->port = 0;
	if (strcasecmp(v, "none") == 0)
		h->kind = CONF_CHECK_NONE;
	else if (strcasecmp(v, "icmp") == 0)
		h->kind = CONF_CHECK_ICMP;
	else if (strcasecmp(v, "tcp") == 0)
		h->kind = CONF_CHECK_TCP;
	else if (strncasecmp(v, "tcp:", 4) == 0) {
		if (conf_parse_u32(v + 4, 1, 65535, &n) != NULL)
			return "has a port that is not a number 1..65535";
		h->kind = CONF_CHECK_TCP;
		h->port = (uint16_t)n;
	} else
		return "is not none, tcp, tcp:PORT or icmp";
	return NULL;
}

/* Parse one option "NAME=N" of a check into h; NULL, or why it is bad. */
static const char *
conf_backend_check_opt(const char *w, struct conf_health *h)
{
	static const struct {
		const char	*name;
		uint32_t	 lo, hi;
		size_t		 off;
	} opts[] = {
		{ "interval=", 1, CONF_CHECK_INTERVAL_MAX,
		    offsetof(struct conf_health, interval) },
		{ "timeout=", 1, CONF_CHECK_TIMEOUT_MAX,
		    offsetof(struct conf_health, timeout) },
		{ "rise=", 1, CONF_CHECK_COUNT_MAX,
		    offsetof(struct conf_health, rise) },
		{ "fall=", 1, CONF_CHECK_COUNT_MAX,
		    offsetof(struct conf_health, fall) },
	};
	size_t	i, n;

	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		n = strlen(opts[i].name);
		if (strncasecmp(w, opts[i].name, n) != 0)
			continue;
		if (conf_parse_u32(w + n, opts[i].lo, opts[i].hi,
		    (uint32_t *)(void *)((char *)h + opts[i].off)) != NULL)
			return "is out of range or not a number";
		return NULL;
	}
	return "is not interval=, timeout=, rise= or fall=";
}

/* Parse a whole check value: the kind, then options; NULL or why. */
static const char *
conf_backend_check_parse(const char *v, struct conf_health *h, char *word,
    size_t len)
{
	const char	*why;
	size_t		 n;
	bool		 first = true;

	while (*v != '\0') {
		v += strspn(v, " \t");
		n = strcspn(v, " \t");
		if (n == 0)
			break;
		snprintf(word, len, "%.*s", (int)n, v);
		why = first ? conf_backend_check_kind(word, h) :
		    conf_backend_check_opt(word, h);
		if (why != NULL)
			return why;
		first = false;
		v += n;
	}
	if (first) {
		snprintf(word, len, "%s", v);
		return "is empty";
	}
	if (h->timeout > h->interval) {
		snprintf(word, len, "timeout=%u", h->timeout);
		return "is longer than the interval";
	}
	return NULL;
}

/*
 * The health check key of a section ("check" in [forward.NAME],
 * "backend_check" in [front]): "KIND [interval=S] [timeout=S] [rise=N]
 * [fall=N]". need_port: tcp must name a port (the backends keep the
 * public port, so there is none to take).
 */
void
conf_backend_health(struct conf_ctx *ctx, size_t sec, const char *key,
    struct conf_health *h, bool need_port)
{
	static const char	*allowed = "none, or tcp, tcp:PORT or icmp "
	    "followed by any of interval=1..3600 timeout=1..60 (seconds, at "
	    "most the interval) rise=1..100 fall=1..100";
	const struct conf_ent	*e;
	const char		*why;
	char			 word[CONF_ITEM_MAX];

	memset(h, 0, sizeof(*h));
	h->interval = CONF_CHECK_INTERVAL;
	h->timeout = CONF_CHECK_TIMEOUT;
	h->rise = CONF_CHECK_RISE;
	h->fall = CONF_CHECK_FALL;
	if ((e = conf_find(ctx, sec, key)) == NULL)
		return;
	if ((why = conf_backend_check_parse(e->value, h, word,
	    sizeof(word))) != NULL)
		conf_bad(ctx, e, word, why, allowed);
	else if (need_port && h->kind == CONF_CHECK_TCP && h->port == 0)
		conf_bad(ctx, e, e->value, "names no port, and the backends "
		    "keep the public port", "tcp:PORT, icmp or none");
}
