/*
 * conf_back.c - [back] and [back.NAME]: the backend's side of the tunnels.
 *
 * A backend behind one front names its tunnel in [back] (tunnel_interface,
 * front, service_addresses). Behind several fronts, each further tunnel is
 * a [back.NAME] section with the same three keys; [back] keeps the keys of
 * the whole host (mark, mss_clamp, control_*) and may name a tunnel of its
 * own too, which then comes first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf_int.h"

static const char *const conf_back_keys[] = {
	"tunnel_interface", "front", "mark", "mss_clamp", "service_addresses",
	CONF_COMMON_KEYS, NULL
};

static const char *const conf_back_tunnel_keys[] = {
	"tunnel_interface", "front", "service_addresses", NULL
};

/* tunnel_interface and front of section sec, both required. */
static void
conf_back_link(struct conf_ctx *ctx, size_t sec, struct conf_back_tunnel *t)
{
	const struct conf_ent	*e;

	if ((e = conf_find(ctx, sec, "tunnel_interface")) == NULL)
		conf_missing(ctx, sec, "tunnel_interface", "the interface "
		    "toward the front, e.g. wg0");
	else
		conf_key_ifname(ctx, e, &t->tunnel_interface);
	if ((e = conf_find(ctx, sec, "front")) == NULL)
		conf_missing(ctx, sec, "front", "the front's tunnel addresses, "
		    "one IPv4 and/or one IPv6, e.g. 10.22.22.2");
	else
		conf_key_addr_pair(ctx, e, t->front, &t->nfront);
}

/* service_addresses of section sec (mark must be known already). */
static void
conf_back_services(struct conf_ctx *ctx, size_t sec, uint8_t mark,
    struct conf_back_tunnel *t)
{
	const struct conf_ent	*e;

	if ((e = conf_find(ctx, sec, "service_addresses")) == NULL)
		return;
	if (conf_key_addr_list(ctx, e, &t->service, &t->nservice) == 0 &&
	    mark == CONF_MARK_CONNMARK)
		/* connmark routes by mark alone: the list would do nothing. */
		conf_bad(ctx, e, e->value, "is only used with mark = source or "
		    "auto", "no service_addresses with mark = connmark");
}

/* Append a tunnel to b; NULL (reported) when out of memory or too many. */
static struct conf_back_tunnel *
conf_back_add(struct conf_ctx *ctx, size_t sec, struct conf_back *b)
{
	struct conf_back_tunnel	*l;
	int			 line = ctx->sec[sec].line;

	if (b->ntunnel == CONF_BACK_TUNNELS_MAX) {
		conf_error(ctx, line, "[%s]: one tunnel too many (allowed: up "
		    "to %d tunnels, [back]'s own and [back.NAME] sections)",
		    ctx->sec[sec].name, CONF_BACK_TUNNELS_MAX);
		return NULL;
	}
	if ((l = conf_grow(ctx, b->tunnel, b->ntunnel, sizeof(*l), line)) ==
	    NULL)
		return NULL;
	b->tunnel = l;
	l = &b->tunnel[b->ntunnel++];
	memset(l, 0, sizeof(*l));
	l->line = line;
	l->name = conf_strdup(ctx, ctx->sec[sec].name, line);
	return l;
}

/* Whether the file has a [back.NAME] section. */
static bool
conf_back_has_sections(struct conf_ctx *ctx)
{
	size_t	i;

	for (i = 0; i < ctx->nsec; i++)
		if (ctx->sec[i].kind == CONF_SEC_BACK_TUNNEL &&
		    !ctx->sec[i].dup)
			return true;
	return false;
}

/*
 * [back]'s own tunnel: required without [back.NAME] sections (the
 * single-tunnel file), optional with them, but then all or nothing.
 */
static void
conf_back_own(struct conf_ctx *ctx, size_t sec, struct conf_back *b)
{
	struct conf_back_tunnel	*t;
	const struct conf_ent	*e;

	if (conf_back_has_sections(ctx) &&
	    !conf_present(ctx, sec, "tunnel_interface") &&
	    !conf_present(ctx, sec, "front")) {
		if ((e = conf_find(ctx, sec, "service_addresses")) != NULL)
			conf_bad(ctx, e, e->value, "belongs to a tunnel, and "
			    "[back] names none", "service_addresses in the "
			    "[back.NAME] section of the tunnel they are "
			    "reached through");
		return;
	}
	if ((t = conf_back_add(ctx, sec, b)) == NULL)
		return;
	conf_back_link(ctx, sec, t);
	conf_back_services(ctx, sec, b->mark, t);
}

/* Report tunnel n's interface when an earlier tunnel has it too. */
static void
conf_back_clash_if(struct conf_ctx *ctx, size_t sec, const struct conf_back *b,
    size_t n)
{
	const struct conf_back_tunnel	*t = &b->tunnel[n], *o;
	const struct conf_ent		*e;
	char				 why[160];
	size_t				 i;

	if (t->tunnel_interface == NULL ||
	    (e = conf_find(ctx, sec, "tunnel_interface")) == NULL)
		return;
	for (i = 0; i < n; i++) {
		o = &b->tunnel[i];
		if (o->tunnel_interface == NULL ||
		    strcmp(t->tunnel_interface, o->tunnel_interface) != 0)
			continue;
		snprintf(why, sizeof(why), "is also the tunnel of [%s] on line "
		    "%d", o->name, o->line);
		conf_bad(ctx, e, e->value, why, "one section per tunnel "
		    "interface");
	}
}

/* Report tunnel n's service addresses that an earlier tunnel lists. */
static void
conf_back_clash_services(struct conf_ctx *ctx, size_t sec,
    const struct conf_back *b, size_t n)
{
	const struct conf_back_tunnel	*t = &b->tunnel[n], *o;
	const struct conf_ent		*e;
	char				 a[64], why[160];
	size_t				 i, j, k;

	if ((e = conf_find(ctx, sec, "service_addresses")) == NULL)
		return;
	for (i = 0; i < n; i++) {
		o = &b->tunnel[i];
		for (j = 0; j < t->nservice; j++)
			for (k = 0; k < o->nservice; k++) {
				if (memcmp(&t->service[j], &o->service[k],
				    sizeof(t->service[j])) != 0)
					continue;
				snprintf(why, sizeof(why), "is also listed in "
				    "[%s] on line %d: replies from it cannot "
				    "be told apart by source address", o->name,
				    o->line);
				conf_bad(ctx, e, conf_addr_str(
				    &t->service[j], a, sizeof(a)), why,
				    "each address in one tunnel's list");
			}
	}
}

/* Every [back.NAME] section, in file order. */
static void
conf_back_sections(struct conf_ctx *ctx, struct conf_back *b)
{
	struct conf_back_tunnel	*t;
	size_t			 i;

	for (i = 0; i < ctx->nsec; i++) {
		if (ctx->sec[i].kind != CONF_SEC_BACK_TUNNEL || ctx->sec[i].dup)
			continue;
		conf_check_keys(ctx, i, conf_back_tunnel_keys);
		if (conf_sec_name(ctx, i, "tunnel") == -1 ||
		    (t = conf_back_add(ctx, i, b)) == NULL)
			continue;
		conf_back_link(ctx, i, t);
		conf_back_services(ctx, i, b->mark, t);
		conf_back_clash_if(ctx, i, b, b->ntunnel - 1);
		conf_back_clash_services(ctx, i, b, b->ntunnel - 1);
	}
}

/* mark and mss_clamp of [back]. */
static void
conf_back_options(struct conf_ctx *ctx, size_t sec, struct conf_back *b)
{
	static const char *const	 marks[] = { "auto", "connmark",
	    "source", NULL };
	const struct conf_ent		*e;
	int				 i;

	b->mark = CONF_MARK_AUTO;
	b->mss_mode = CONF_MSS_PMTU;
	if ((e = conf_find(ctx, sec, "mark")) != NULL &&
	    conf_key_word(ctx, e, marks, &i) == 0)
		b->mark = (uint8_t)(i == 0 ? CONF_MARK_AUTO : i == 1 ?
		    CONF_MARK_CONNMARK : CONF_MARK_SOURCE);
	if ((e = conf_find(ctx, sec, "mss_clamp")) != NULL)
		conf_key_mss(ctx, e, &b->mss_mode, &b->mss);
}

/* Parse [back] (section sec) and its [back.NAME] sections into c->back. */
void
conf_back_load(struct conf_ctx *ctx, size_t sec, struct conf *c)
{
	conf_check_keys(ctx, sec, conf_back_keys);
	conf_back_options(ctx, sec, &c->back);
	conf_back_own(ctx, sec, &c->back);
	conf_back_sections(ctx, &c->back);
}

/* Free a back config. */
void
conf_back_free(struct conf_back *b)
{
	size_t	i;

	for (i = 0; i < b->ntunnel; i++) {
		free(b->tunnel[i].name);
		free(b->tunnel[i].tunnel_interface);
		free(b->tunnel[i].service);
	}
	free(b->tunnel);
	memset(b, 0, sizeof(*b));
}
