/*
 * conf_back.c - [back]: the backend's side of the tunnel.
 */
#include <stdlib.h>
#include <string.h>

#include "conf/conf_int.h"

static const char *const conf_back_keys[] = {
	"tunnel_interface", "front", "mark", "mss_clamp", "service_addresses",
	CONF_COMMON_KEYS, NULL
};

/* tunnel_interface and front, both required. */
static void
conf_back_tunnel(struct conf_ctx *ctx, size_t sec, struct conf_back *b)
{
	const struct conf_ent	*e;

	if ((e = conf_find(ctx, sec, "tunnel_interface")) == NULL)
		conf_missing(ctx, sec, "tunnel_interface", "the interface "
		    "toward the front, e.g. wg0");
	else
		conf_key_ifname(ctx, e, &b->tunnel_interface);
	if ((e = conf_find(ctx, sec, "front")) == NULL)
		conf_missing(ctx, sec, "front", "the front's tunnel addresses, "
		    "one IPv4 and/or one IPv6, e.g. 10.22.22.2");
	else
		conf_key_addr_pair(ctx, e, b->front, &b->nfront);
}

/* mark, mss_clamp and service_addresses. */
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
	if ((e = conf_find(ctx, sec, "service_addresses")) == NULL)
		return;
	if (conf_key_addr_list(ctx, e, &b->service, &b->nservice) == 0 &&
	    b->mark == CONF_MARK_CONNMARK)
		/* connmark routes by mark alone: the list would do nothing. */
		conf_bad(ctx, e, e->value, "is only used with mark = source or "
		    "auto", "no service_addresses with mark = connmark");
}

/* Parse [back] (section sec) into c->back. */
void
conf_back_load(struct conf_ctx *ctx, size_t sec, struct conf *c)
{
	conf_check_keys(ctx, sec, conf_back_keys);
	conf_back_tunnel(ctx, sec, &c->back);
	conf_back_options(ctx, sec, &c->back);
}

/* Free a back config. */
void
conf_back_free(struct conf_back *b)
{
	free(b->tunnel_interface);
	free(b->service);
	memset(b, 0, sizeof(*b));
}
