/*
 * conf_front.c - [front], [forward.NAME] and [hairpin], and the checks
 * between them.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf_int.h"

static const char *const conf_front_keys[] = {
	"public_interface", "tunnel_interface", "backend", "exclude",
	"mss_clamp", "max_flows", "tcp_established_timeout",
	"tcp_transitory_timeout", "udp_timeout", "icmp_timeout", "tcp_pickup",
	"nat_ports", "queues", "per_source_flows", "per_source_rate",
	"per_source_burst", "other_traffic", "table_full_icmp",
	"table_full_icmp_rate", "tun_io", "busy_poll", "shards", CONF_OPS_KEYS,
	CONF_COMMON_KEYS, "backend_check", NULL
};

static const char *const conf_front_forward_keys[] = {
	"proto", "listen", "to", "source", "check", NULL
};

static const char *const conf_front_hairpin_keys[] = {
	"interfaces", NULL
};

#define CONF_ALLOWED_LISTEN	"PORT, LO-HI, ADDR:PORT, ADDR:LO-HI or " \
	"[IPV6]:PORT, ports 1..65535"
#define CONF_ALLOWED_TO		"ADDR, ADDR:PORT or [IPV6]:PORT, a unicast " \
	"address"
#define CONF_ALLOWED_TO_LIST	"backends separated by commas, each ADDR, " \
	"ADDR:PORT or [IPV6]:PORT with an optional weight=1..10000, e.g. " \
	"\"10.22.22.1:80 weight=2, 10.22.22.3:80\""

/* Defaults of every optional [front] key. */
static void
conf_front_defaults(struct conf_front *f)
{
	f->mss_mode = CONF_MSS_PMTU;
	f->max_flows = CONF_MAX_FLOWS;
	f->tcp_established_timeout = CONF_TCP_ESTABLISHED;
	f->tcp_transitory_timeout = CONF_TCP_TRANSITORY;
	f->udp_timeout = CONF_UDP_TIMEOUT;
	f->icmp_timeout = CONF_ICMP_TIMEOUT;
	f->tcp_pickup = true;
	f->table_full_icmp = true;
	f->table_full_icmp_rate = CONF_TABLE_FULL_ICMP_RATE;
	f->nat_port_lo = CONF_NAT_PORT_LO;
	f->nat_port_hi = CONF_NAT_PORT_HI;
	f->queues = 0;		/* auto: one per online CPU */
}

/* public_interface (required) and tunnel_interface. */
static void
conf_front_interfaces(struct conf_ctx *ctx, size_t sec, struct conf_front *f)
{
	const struct conf_ent	*e;

	if ((e = conf_find(ctx, sec, "public_interface")) == NULL)
		conf_missing(ctx, sec, "public_interface", "the interface "
		    "clients arrive on, e.g. eth0");
	else
		conf_key_ifname(ctx, e, &f->public_interface);
	if ((e = conf_find(ctx, sec, "tunnel_interface")) != NULL)
		conf_key_ifname(ctx, e, &f->tunnel_interface);
}

/* True when exclude items a and b share a protocol and a port. */
static bool
conf_front_ex_overlap(const struct conf_exclude *a,
    const struct conf_exclude *b)
{
	return (a->protos & b->protos) && a->port_lo <= b->port_hi &&
	    b->port_lo <= a->port_hi;
}

/* Check one exclude item against the earlier ones; 0 when it may be added. */
static int
conf_front_ex_item(struct conf_ctx *ctx, const struct conf_ent *e,
    const char *item, const struct conf_exclude *l, size_t n,
    struct conf_exclude *x)
{
	static const char	*allowed = "tcp/PORT, udp/PORT, tcp/LO-HI, "
	    "udp/LO-HI, ports 1..65535, separated by commas";
	char			 why[96], s[32];
	const char		*r;
	size_t			 i;

	if (*item == '\0')
		r = "is an empty item";
	else
		r = conf_parse_exclude(item, x);
	if (r != NULL) {
		conf_bad(ctx, e, item, r, allowed);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (conf_front_ex_overlap(&l[i], x)) {
			snprintf(why, sizeof(why), "overlaps %s in the same "
			    "list", conf_exclude_str(&l[i], s, sizeof(s)));
			conf_bad(ctx, e, item, why,
			    "items that do not overlap");
			return -1;
		}
	return 0;
}

/* exclude: a list of tcp/PORT[-HI] and udp/PORT[-HI]. */
static void
conf_front_exclude(struct conf_ctx *ctx, size_t sec, struct conf_front *f)
{
	const struct conf_ent	*e;
	struct conf_exclude	*l = NULL, *nl, x;
	char			 item[CONF_ITEM_MAX];
	const char		*cur;
	size_t			 n = 0;

	if ((e = conf_find(ctx, sec, "exclude")) == NULL)
		return;
	cur = e->value;
	while (conf_parse_item(&cur, item, sizeof(item))) {
		if (conf_front_ex_item(ctx, e, item, l, n, &x) == -1)
			continue;
		if ((nl = conf_grow(ctx, l, n, sizeof(*l), e->line)) == NULL)
			break;
		l = nl;
		l[n++] = x;
	}
	f->exclude = l;
	f->nexclude = n;
}

/*
 * per_source_flows, per_source_rate and per_source_burst (0 = no limit),
 * and other_traffic.
 */
static void
conf_front_per_source(struct conf_ctx *ctx, size_t sec, struct conf_front *f)
{
	static const char *const other[] = { "drop", "route", NULL };
	const struct conf_ent	*e;
	int			 i;

	if ((e = conf_find(ctx, sec, "other_traffic")) != NULL &&
	    conf_key_word(ctx, e, other, &i) == 0)
		f->route_other = i == 1;
	if ((e = conf_find(ctx, sec, "per_source_flows")) != NULL)
		conf_key_u32(ctx, e, 0, CONF_MAX_FLOWS_MAX, " flows, 0 = no "
		    "limit", &f->per_source_flows);
	if ((e = conf_find(ctx, sec, "per_source_rate")) != NULL)
		conf_key_u32(ctx, e, 0, CONF_PER_SOURCE_RATE_MAX, " new flows "
		    "per second, 0 = no limit", &f->per_source_rate);
	if ((e = conf_find(ctx, sec, "per_source_burst")) != NULL)
		conf_key_u32(ctx, e, 0, CONF_PER_SOURCE_RATE_MAX, " new flows, "
		    "0 = per_source_rate", &f->per_source_burst);
}

/*
 * tun_io (auto | readwrite), busy_poll (microseconds, 0 = off) and shards
 * (auto | 1).
 */
static void
conf_front_io(struct conf_ctx *ctx, size_t sec, struct conf_front *f)
{
	static const char *const io[] = { "auto", "readwrite", NULL };
	static const char *const shards[] = { "auto", "1", NULL };
	const struct conf_ent	*e;
	int			 i;

	if ((e = conf_find(ctx, sec, "tun_io")) != NULL &&
	    conf_key_word(ctx, e, io, &i) == 0)
		f->tun_io_rw = i == 1;
	if ((e = conf_find(ctx, sec, "busy_poll")) != NULL)
		conf_key_u32(ctx, e, 0, CONF_BUSY_POLL_MAX, " microseconds, 0 "
		    "= off", &f->busy_poll);
	if ((e = conf_find(ctx, sec, "shards")) != NULL &&
	    conf_key_word(ctx, e, shards, &i) == 0)
		f->shards = i == 1 ? 1 : 0;
}

/* The numeric and keyword keys of [front]. */
static void
conf_front_limits(struct conf_ctx *ctx, size_t sec, struct conf_front *f)
{
	static const char *const	 queue_words[] = { "auto", NULL };
	const struct conf_ent		*e;
	const char			*s = " seconds", *why;
	uint32_t			 q;
	int				 i;

	if ((e = conf_find(ctx, sec, "mss_clamp")) != NULL)
		conf_key_mss(ctx, e, &f->mss_mode, &f->mss);
	if ((e = conf_find(ctx, sec, "max_flows")) != NULL)
		conf_key_u32(ctx, e, 1, CONF_MAX_FLOWS_MAX, "", &f->max_flows);
	if ((e = conf_find(ctx, sec, "tcp_established_timeout")) != NULL)
		conf_key_u32(ctx, e, CONF_TCP_ESTABLISHED, CONF_TIMEOUT_MAX, s,
		    &f->tcp_established_timeout);
	if ((e = conf_find(ctx, sec, "tcp_transitory_timeout")) != NULL)
		conf_key_u32(ctx, e, CONF_TCP_TRANSITORY, CONF_TIMEOUT_MAX, s,
		    &f->tcp_transitory_timeout);
	if ((e = conf_find(ctx, sec, "udp_timeout")) != NULL)
		conf_key_u32(ctx, e, CONF_UDP_TIMEOUT_MIN, CONF_TIMEOUT_MAX, s,
		    &f->udp_timeout);
	if ((e = conf_find(ctx, sec, "icmp_timeout")) != NULL)
		conf_key_u32(ctx, e, CONF_ICMP_TIMEOUT, CONF_TIMEOUT_MAX, s,
		    &f->icmp_timeout);
	if ((e = conf_find(ctx, sec, "tcp_pickup")) != NULL)
		conf_key_bool(ctx, e, &f->tcp_pickup);
	if ((e = conf_find(ctx, sec, "table_full_icmp")) != NULL)
		conf_key_bool(ctx, e, &f->table_full_icmp);
	if ((e = conf_find(ctx, sec, "table_full_icmp_rate")) != NULL)
		conf_key_u32(ctx, e, 1, CONF_TABLE_FULL_ICMP_RATE_MAX,
		    " ICMP errors per second", &f->table_full_icmp_rate);
	if ((e = conf_find(ctx, sec, "nat_ports")) != NULL)
		conf_key_range(ctx, e, 1024, &f->nat_port_lo, &f->nat_port_hi);
	conf_front_per_source(ctx, sec, f);
	conf_front_io(ctx, sec, f);
	if ((e = conf_find(ctx, sec, "queues")) == NULL)
		return;
	if (conf_parse_word(e->value, queue_words, &i) == NULL)
		f->queues = 0;
	else if ((why = conf_parse_u32(e->value, 1, CONF_QUEUES_MAX, &q)) ==
	    NULL)
		f->queues = q;
	else
		conf_bad(ctx, e, e->value, strcmp(why, "is out of range") == 0 ?
		    why : "is not auto or a number", "auto, or a number 1..64");
}

/* proto (required). */
static void
conf_front_forward_proto(struct conf_ctx *ctx, size_t sec,
    struct conf_forward *fw)
{
	const struct conf_ent	*e;
	const char		*why;

	if ((e = conf_find(ctx, sec, "proto")) == NULL) {
		conf_missing(ctx, sec, "proto", "tcp, udp, tcp,udp");
		return;
	}
	if ((why = conf_parse_protos(e->value, &fw->protos)) != NULL)
		conf_bad(ctx, e, e->value, why, "tcp, udp, tcp,udp");
}

/* listen (required). */
static void
conf_front_forward_listen(struct conf_ctx *ctx, size_t sec,
    struct conf_forward *fw, struct conf_addr *addr)
{
	const struct conf_ent	*e;
	const char		*why;

	if ((e = conf_find(ctx, sec, "listen")) == NULL) {
		conf_missing(ctx, sec, "listen", CONF_ALLOWED_LISTEN);
		return;
	}
	fw->listen_line = e->line;
	why = conf_parse_listen(e->value, &fw->match_dst, addr, &fw->listen_lo,
	    &fw->listen_hi);
	if (why != NULL)
		conf_bad(ctx, e, e->value, why, CONF_ALLOWED_LISTEN);
	else
		fw->listen_addr = addr->addr;
}

/*
 * Check that a target port range fits the listen range one to one; -1
 * (reported) when it does not.
 */
static int
conf_front_forward_fit(struct conf_ctx *ctx, const struct conf_ent *e,
    const char *item, const struct conf_forward *fw, uint16_t lo, uint16_t hi)
{
	char		allowed[96];
	uint32_t	span = (uint32_t)fw->listen_hi - fw->listen_lo;

	if (hi != lo && (uint32_t)hi - lo != span) {
		snprintf(allowed, sizeof(allowed), "one port, or a range of "
		    "%u ports like listen", span + 1);
		conf_bad(ctx, e, item, "has a port range of another size "
		    "than listen", allowed);
	} else if ((uint32_t)lo + span > 65535) {
		snprintf(allowed, sizeof(allowed), "a first port of at most "
		    "%u, so that listen %u-%u maps one to one", 65535 - span,
		    fw->listen_lo, fw->listen_hi);
		conf_bad(ctx, e, item, "runs past port 65535", allowed);
	} else
		return 0;
	return -1;
}

/*
 * One backend of to (item, its family to match fam when not 0); -1 after
 * reporting it.
 */
static int
conf_front_forward_target(struct conf_ctx *ctx, const struct conf_ent *e,
    const char *item, const struct conf_forward *fw,
    const struct conf_addr *laddr, struct conf_target *t, uint8_t fam)
{
	const char	*why, *allowed = strchr(e->value, ',') != NULL ||
	    strchr(item, '=') != NULL ? CONF_ALLOWED_TO_LIST : CONF_ALLOWED_TO;
	char		 v6[64], target[CONF_ITEM_MAX];
	long		 port;
	uint16_t	 lo, hi;

	memset(t, 0, sizeof(*t));
	if ((why = conf_backend_split(item, target, sizeof(target),
	    &t->weight)) != NULL ||
	    (why = conf_parse_target(target, &t->a, &lo, &hi)) != NULL) {
		conf_bad(ctx, e, item, why, allowed);
		return -1;
	}
	if (conf_parse_v6_ambiguous(target, v6, sizeof(v6), &port)) {
		conf_error(ctx, e->line, "[%s] to: \"%s\" reads as an IPv6 "
		    "address or as address %s with port %ld (allowed: "
		    "[%s]:%ld for that address and port, or [%s] for the "
		    "address alone)", ctx->sec[e->sec].name, target, v6, port,
		    v6, port, target);
		return -1;
	}
	if (fw->match_dst && laddr->family != t->a.family) {
		conf_bad(ctx, e, item, t->a.family == 4 ? "is IPv4 but listen "
		    "is IPv6" : "is IPv6 but listen is IPv4", "an address of "
		    "the family of the listen address");
		return -1;
	}
	if (fam != 0 && t->a.family != fam) {
		conf_bad(ctx, e, item, "is of another family than the first "
		    "backend", "backends of one family");
		return -1;
	}
	if (lo != 0 && fw->listen_lo != 0 &&
	    conf_front_forward_fit(ctx, e, item, fw, lo, hi) == -1)
		return -1;
	t->port = lo;
	return 0;
}

/* to (required): one backend or several; listen must have been parsed. */
static void
conf_front_forward_to(struct conf_ctx *ctx, size_t sec,
    struct conf_forward *fw, const struct conf_addr *laddr)
{
	const struct conf_ent	*e;
	struct conf_target	 t;
	char			 item[CONF_ITEM_MAX];
	const char		*cur;
	int			 bad = 0;

	if ((e = conf_find(ctx, sec, "to")) == NULL) {
		conf_missing(ctx, sec, "to", CONF_ALLOWED_TO);
		return;
	}
	cur = e->value;
	while (conf_parse_item(&cur, item, sizeof(item))) {
		if (conf_front_forward_target(ctx, e, item, fw, laddr, &t,
		    fw->ntargets ? fw->targets[0].a.family : 0) == -1 ||
		    conf_backend_push(ctx, e, item, &fw->targets, &fw->ntargets,
		    &t) == -1)
			bad = 1;
	}
	if (bad || fw->ntargets == 0)
		return;
	fw->family = fw->targets[0].a.family;
	fw->to = fw->targets[0].a.addr;
	fw->to_port = fw->targets[0].port;
}

/* source: keep (default) or relay. */
static void
conf_front_forward_source(struct conf_ctx *ctx, size_t sec,
    struct conf_forward *fw)
{
	static const char *const	 words[] = { "keep", "relay", NULL };
	const struct conf_ent		*e;
	int				 i;

	fw->source = NAT_SOURCE_KEEP;
	if ((e = conf_find(ctx, sec, "source")) != NULL &&
	    conf_key_word(ctx, e, words, &i) == 0)
		fw->source = i == 0 ? NAT_SOURCE_KEEP : NAT_SOURCE_RELAY;
}

/* Parse [forward.NAME] into fw; 0 when it is free of errors. */
static int
conf_front_forward(struct conf_ctx *ctx, size_t sec, struct conf_forward *fw)
{
	struct conf_addr	laddr;
	size_t			before = ctx->nerr;

	memset(fw, 0, sizeof(*fw));
	memset(&laddr, 0, sizeof(laddr));
	fw->line = ctx->sec[sec].line;
	conf_sec_name(ctx, sec, "forward");
	conf_check_keys(ctx, sec, conf_front_forward_keys);
	conf_front_forward_proto(ctx, sec, fw);
	conf_front_forward_listen(ctx, sec, fw, &laddr);
	conf_front_forward_to(ctx, sec, fw, &laddr);
	conf_front_forward_source(ctx, sec, fw);
	conf_backend_health(ctx, sec, "check", &fw->health, false);
	if (ctx->nerr != before) {
		free(fw->targets);
		return -1;
	}
	fw->name = conf_strdup(ctx, ctx->sec[sec].name + 8, fw->line);
	if (fw->name == NULL)
		free(fw->targets);
	return fw->name == NULL ? -1 : 0;
}

/* Parse every [forward.NAME]; keep those without errors, in file order. */
static void
conf_front_forwards(struct conf_ctx *ctx, struct conf_front *f)
{
	struct conf_forward	 fw, *l;
	size_t			 i;

	for (i = 0; i < ctx->nsec; i++) {
		if (ctx->sec[i].kind != CONF_SEC_FORWARD || ctx->sec[i].dup)
			continue;
		if (conf_front_forward(ctx, i, &fw) == -1)
			continue;
		if ((l = conf_grow(ctx, f->forward, f->nforward, sizeof(*l),
		    fw.line)) == NULL) {
			free(fw.name);
			free(fw.targets);
			return;
		}
		f->forward = l;
		f->forward[f->nforward++] = fw;
	}
}

/* [hairpin] interfaces (required in the section). */
static void
conf_front_hairpin(struct conf_ctx *ctx, struct conf_front *f)
{
	const struct conf_ent	*e;
	size_t			 i;

	for (i = 0; i < ctx->nsec; i++) {
		if (ctx->sec[i].kind != CONF_SEC_HAIRPIN || ctx->sec[i].dup)
			continue;
		conf_check_keys(ctx, i, conf_front_hairpin_keys);
		if ((e = conf_find(ctx, i, "interfaces")) == NULL)
			conf_missing(ctx, i, "interfaces", "LAN interface "
			    "names separated by commas, e.g. br0");
		else
			conf_key_ifnames(ctx, e, &f->hairpin, &f->nhairpin);
	}
}

/* The listen entry of forward fw. */
static const struct conf_ent *
conf_front_listen_ent(struct conf_ctx *ctx, const struct conf_forward *fw)
{
	return conf_at_line(ctx, fw->listen_line);
}

/* Report an earlier forward that claims the same packets as forward n. */
static void
conf_front_forward_overlaps(struct conf_ctx *ctx, const struct conf_front *f,
    size_t n)
{
	const struct conf_forward	*a = &f->forward[n], *b;
	const struct conf_ent		*e = conf_front_listen_ent(ctx, a);
	char				 why[96];
	size_t				 i;

	/* no usable listen line: that forward has its own error already */
	if (e == NULL || a->listen_lo == 0)
		return;
	for (i = 0; i < n; i++) {
		b = &f->forward[i];
		if (b->listen_lo == 0)
			continue;
		if (a->family != b->family || !(a->protos & b->protos) ||
		    a->listen_lo > b->listen_hi || b->listen_lo > a->listen_hi)
			continue;
		if (a->match_dst && b->match_dst &&
		    memcmp(&a->listen_addr, &b->listen_addr,
		    sizeof(a->listen_addr)) != 0)
			continue;
		snprintf(why, sizeof(why), "overlaps [forward.%s] listen on "
		    "line %d", b->name, b->listen_line);
		conf_bad(ctx, e, e->value, why, "ports that no other forward "
		    "of the same protocol and family uses");
		return;
	}
}

/* Report an exclude item that covers part of forward fw. */
static void
conf_front_forward_excluded(struct conf_ctx *ctx, const struct conf_front *f,
    const struct conf_forward *fw, int exline)
{
	const struct conf_ent	*e = conf_front_listen_ent(ctx, fw);
	struct conf_exclude	 x;
	char			 why[96], xs[32];
	size_t			 i;

	if (e == NULL || fw->listen_lo == 0)
		return;
	x.protos = fw->protos;
	x.port_lo = fw->listen_lo;
	x.port_hi = fw->listen_hi;
	for (i = 0; i < f->nexclude; i++) {
		if (!conf_front_ex_overlap(&f->exclude[i], &x))
			continue;
		snprintf(why, sizeof(why), "overlaps exclude %s on line %d",
		    conf_exclude_str(&f->exclude[i], xs, sizeof(xs)), exline);
		conf_bad(ctx, e, e->value, why, "ports that [front] exclude "
		    "does not name");
		return;
	}
}

/* True when some flows get full NAT: a source = relay forward, or [hairpin]. */
static bool
conf_front_full_nat(const struct conf_front *f)
{
	size_t	i;

	for (i = 0; i < f->nforward; i++)
		if (f->forward[i].source == NAT_SOURCE_RELAY)
			return true;
	return f->nhairpin > 0;
}

/* Full NAT takes nat_ports for its mappings: no exclude item may be there. */
static void
conf_front_nat_ports(struct conf_ctx *ctx, size_t sec,
    const struct conf_front *f)
{
	const struct conf_ent	*e = conf_find(ctx, sec, "exclude");
	char			 xs[32];
	size_t			 i;

	if (e == NULL || !conf_front_full_nat(f))
		return;
	for (i = 0; i < f->nexclude; i++)
		if (f->exclude[i].port_hi >= f->nat_port_lo &&
		    f->exclude[i].port_lo <= f->nat_port_hi) {
			conf_bad(ctx, e, conf_exclude_str(&f->exclude[i], xs,
			    sizeof(xs)), "is inside nat_ports, where full NAT "
			    "(source = relay, [hairpin]) maps its flows",
			    "ports outside nat_ports");
			return;
		}
}

/* The interfaces entry of [hairpin], or NULL. */
static const struct conf_ent *
conf_front_hairpin_ent(struct conf_ctx *ctx)
{
	size_t	i;

	for (i = 0; i < ctx->nsec; i++)
		if (ctx->sec[i].kind == CONF_SEC_HAIRPIN && !ctx->sec[i].dup)
			return conf_find(ctx, i, "interfaces");
	return NULL;
}

/* An interface may play one part only. */
static void
conf_front_ifaces_differ(struct conf_ctx *ctx, size_t sec,
    const struct conf_front *f)
{
	const struct conf_ent	*e;
	const char		*h;
	size_t			 i;

	if (f->public_interface != NULL && f->tunnel_interface != NULL &&
	    strcmp(f->public_interface, f->tunnel_interface) == 0) {
		e = conf_find(ctx, sec, "tunnel_interface");
		conf_bad(ctx, e, e->value, "is also public_interface",
		    "an interface other than public_interface");
	}
	for (i = 0; i < f->nhairpin; i++) {
		h = f->hairpin[i];
		if (f->public_interface != NULL &&
		    strcmp(h, f->public_interface) == 0)
			conf_bad(ctx, conf_front_hairpin_ent(ctx), h,
			    "is also [front] public_interface", "LAN "
			    "interfaces other than public_interface and "
			    "tunnel_interface");
		else if (f->tunnel_interface != NULL &&
		    strcmp(h, f->tunnel_interface) == 0)
			conf_bad(ctx, conf_front_hairpin_ent(ctx), h,
			    "is also [front] tunnel_interface", "LAN "
			    "interfaces other than public_interface and "
			    "tunnel_interface");
	}
}

/* What [front] needs: a destination, and a tunnel with a backend. */
static void
conf_front_needs(struct conf_ctx *ctx, size_t sec)
{
	size_t	i, nfw = 0;

	for (i = 0; i < ctx->nsec; i++)
		if (ctx->sec[i].kind == CONF_SEC_FORWARD)
			nfw++;
	if (!conf_present(ctx, sec, "backend") && nfw == 0)
		conf_error(ctx, ctx->sec[sec].line, "[front] backend: missing, "
		    "and there is no [forward.NAME] section (allowed: a "
		    "backend address, or forwards, or both)");
	if (conf_find(ctx, sec, "backend") != NULL &&
	    !conf_present(ctx, sec, "tunnel_interface"))
		conf_error(ctx, ctx->sec[sec].line, "[front] tunnel_interface: "
		    "missing, required with backend (allowed: the interface "
		    "toward the backend, e.g. wg0)");
}

/* Checks across keys and sections, on the values that parsed. */
static void
conf_front_cross(struct conf_ctx *ctx, size_t sec, struct conf_front *f)
{
	const struct conf_ent	*ex = conf_find(ctx, sec, "exclude");
	size_t			 i;

	conf_front_needs(ctx, sec);
	conf_front_ifaces_differ(ctx, sec, f);
	for (i = 0; i < f->nforward; i++) {
		conf_front_forward_overlaps(ctx, f, i);
		if (ex != NULL)
			conf_front_forward_excluded(ctx, f, &f->forward[i],
			    ex->line);
	}
	conf_front_nat_ports(ctx, sec, f);
}

/* Parse [front] (section sec), the forwards and [hairpin] into c->front. */
void
conf_front_load(struct conf_ctx *ctx, size_t sec, struct conf *c)
{
	struct conf_front	*f = &c->front;
	const struct conf_ent	*e;

	conf_front_defaults(f);
	conf_check_keys(ctx, sec, conf_front_keys);
	conf_front_interfaces(ctx, sec, f);
	if ((e = conf_find(ctx, sec, "backend")) != NULL &&
	    conf_backend_addrs(ctx, e, f) == 0)
		conf_backend_firsts(f);
	conf_backend_health(ctx, sec, "backend_check", &f->backend_health,
	    true);
	conf_front_exclude(ctx, sec, f);
	conf_front_limits(ctx, sec, f);
	conf_ops_load(ctx, sec, f);
	conf_front_forwards(ctx, f);
	conf_front_hairpin(ctx, f);
	conf_front_cross(ctx, sec, f);
}

/* Free a front config. */
void
conf_front_free(struct conf_front *f)
{
	size_t	i;

	free(f->public_interface);
	free(f->tunnel_interface);
	free(f->exclude);
	for (i = 0; i < f->nforward; i++) {
		free(f->forward[i].name);
		free(f->forward[i].targets);
	}
	free(f->forward);
	free(f->backends);
	for (i = 0; i < f->nhairpin; i++)
		free(f->hairpin[i]);
	free(f->hairpin);
	free(f->metrics.path);
	free(f->state_file);
	memset(f, 0, sizeof(*f));
}
