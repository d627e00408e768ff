/*
 * conf_nat.c - a front config as the NAT engine's settings and rules.
 *
 * Rule order (first match wins, docs/engine.md): exclude items as pass
 * rules, then the forwards in file order, then the backend as the default
 * destination. Lists of several backends (or checked ones) become the
 * engine's backends of their rule (conf_nat_backends()).
 */
#include <stdio.h>
#include <string.h>

#include "conf/conf_int.h"

#define CONF_NAT_V4	1
#define CONF_NAT_V6	2

/* The families (CONF_NAT_V4/V6 bits) that forwards and the backend use. */
static unsigned int
conf_nat_families(const struct conf_front *f)
{
	unsigned int	fam = 0;
	size_t		i;

	for (i = 0; i < f->nforward; i++)
		fam |= f->forward[i].family == 4 ? CONF_NAT_V4 : CONF_NAT_V6;
	for (i = 0; i < f->nbackend; i++)
		fam |= f->backend[i].family == 4 ? CONF_NAT_V4 : CONF_NAT_V6;
	return fam;
}

/* Rules conf_nat_settings() writes for c. */
size_t
conf_nat_nrules(const struct conf *c)
{
	const struct conf_front	*f = &c->front;
	unsigned int		 fam;
	size_t			 nfam;

	if (c->role != CONF_ROLE_FRONT)
		return 0;
	fam = conf_nat_families(f);
	nfam = (size_t)((fam & CONF_NAT_V4) != 0) + ((fam & CONF_NAT_V6) != 0);
	return f->nexclude * nfam + f->nforward + f->nbackend;
}

/* The timeouts, limits and options of [front]. */
static void
conf_nat_options(const struct conf_front *f, struct nat_settings *s)
{
	s->max_flows = f->max_flows;
	s->tcp_established = f->tcp_established_timeout;
	s->tcp_transitory = f->tcp_transitory_timeout;
	s->udp_timeout = f->udp_timeout;
	s->icmp_timeout = f->icmp_timeout;
	s->tcp_no_pickup = !f->tcp_pickup;
	s->table_full_icmp_off = !f->table_full_icmp;
	s->table_full_icmp_rate = f->table_full_icmp_rate;
	s->mss_clamp = f->mss_mode == CONF_MSS_FIXED ? f->mss : 0;
	s->mtu = 0;
	s->ttl_mode = NAT_TTL_RESTORE;
	s->nat_port_lo = f->nat_port_lo;
	s->nat_port_hi = f->nat_port_hi;
	s->src_max_flows = f->per_source_flows;
	s->src_rate = f->per_source_rate;
	s->src_burst = f->per_source_burst;
}

/* Write the pass rules of the exclude items; returns the next free slot. */
static size_t
conf_nat_excludes(const struct conf_front *f, struct nat_rule *r, size_t n)
{
	unsigned int	fam = conf_nat_families(f), bit;
	size_t		i;

	for (i = 0; i < f->nexclude; i++)
		for (bit = CONF_NAT_V4; bit <= CONF_NAT_V6; bit <<= 1) {
			if (!(fam & bit))
				continue;
			memset(&r[n], 0, sizeof(r[n]));
			r[n].family = bit == CONF_NAT_V4 ? 4 : 6;
			r[n].action = NAT_RULE_PASS;
			r[n].protos = f->exclude[i].protos;
			r[n].port_lo = f->exclude[i].port_lo;
			r[n].port_hi = f->exclude[i].port_hi;
			r[n].id = CONF_RULE_EXCLUDE | (uint32_t)i;
			n++;
		}
	return n;
}

/*
 * A forward's key for the engine: FNV-1a of its section name, never 0. The
 * rule id is the section's place and moves when a section is inserted
 * before it; the key stays, so a reload keeps its flows, counters and
 * backend state with it.
 */
static uint64_t
conf_nat_key(const char *name)
{
	uint64_t	 h = 14695981039346656037ULL;
	const char	*p;

	for (p = "forward."; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ULL;
	for (p = name; p != NULL && *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ULL;
	return h != 0 ? h : 1;
}

/* Write one DNAT rule per forward; returns the next free slot. */
static size_t
conf_nat_forwards(const struct conf_front *f, struct nat_rule *r, size_t n)
{
	const struct conf_forward	*fw;
	size_t				 i;

	for (i = 0; i < f->nforward; i++, n++) {
		fw = &f->forward[i];
		memset(&r[n], 0, sizeof(r[n]));
		r[n].family = fw->family;
		r[n].action = NAT_RULE_DNAT;
		r[n].protos = fw->protos;
		r[n].source = fw->source;
		r[n].port_lo = fw->listen_lo;
		r[n].port_hi = fw->listen_hi;
		r[n].match_dst = fw->match_dst;
		r[n].dst = fw->listen_addr;
		r[n].to = fw->to;
		r[n].to_port = fw->to_port;
		r[n].id = CONF_RULE_FORWARD | (uint32_t)i;
		r[n].key = conf_nat_key(fw->name);
	}
	return n;
}

/* Write the default rule of each backend address; returns the next slot. */
static size_t
conf_nat_defaults(const struct conf_front *f, struct nat_rule *r, size_t n)
{
	size_t	i;

	for (i = 0; i < f->nbackend; i++, n++) {
		memset(&r[n], 0, sizeof(r[n]));
		r[n].family = f->backend[i].family;
		r[n].action = NAT_RULE_DNAT;
		r[n].protos = NAT_P_TCP | NAT_P_UDP | NAT_P_ICMP;
		r[n].source = NAT_SOURCE_KEEP;
		r[n].port_lo = 1;
		r[n].port_hi = 65535;
		r[n].to = f->backend[i].addr;
		r[n].id = CONF_RULE_BACKEND | (uint32_t)i;
	}
	return n;
}

/* The engine's settings and rules for a front config; see conf.h. */
int
conf_nat_settings(const struct conf *c, struct nat_settings *s,
    struct nat_rule *rules, size_t *nrules, char err[ERRLEN])
{
	size_t	need, n;

	if (c->role != CONF_ROLE_FRONT) {
		snprintf(err, ERRLEN, "%s: not a [front] configuration",
		    c->path != NULL ? c->path : "configuration");
		return -1;
	}
	if ((need = conf_nat_nrules(c)) > *nrules) {
		snprintf(err, ERRLEN, "room for %zu NAT rules, %zu needed",
		    *nrules, need);
		return -1;
	}
	memset(s, 0, sizeof(*s));
	conf_nat_options(&c->front, s);
	n = conf_nat_excludes(&c->front, rules, 0);
	n = conf_nat_forwards(&c->front, rules, n);
	n = conf_nat_defaults(&c->front, rules, n);
	s->rules = rules;
	s->nrules = n;
	*nrules = n;
	return 0;
}

/* Describe rule id of c for flow listings. */
const char *
conf_nat_rule_name(const struct conf *c, uint32_t id, char *buf, size_t len)
{
	const struct conf_front	*f = &c->front;
	size_t			 i = CONF_RULE_INDEX(id);
	char			 a[48];

	if (CONF_RULE_KIND(id) == CONF_RULE_EXCLUDE && i < f->nexclude)
		snprintf(buf, len, "exclude %s", conf_exclude_str(
		    &f->exclude[i], a, sizeof(a)));
	else if (CONF_RULE_KIND(id) == CONF_RULE_FORWARD && i < f->nforward)
		snprintf(buf, len, "forward.%s", f->forward[i].name);
	else if (CONF_RULE_KIND(id) == CONF_RULE_BACKEND && i < f->nbackend)
		snprintf(buf, len, "backend %s", conf_addr_str(
		    &f->backend[i], a, sizeof(a)));
	else if (CONF_RULE_KIND(id) == CONF_RULE_HOST)
		snprintf(buf, len, "host ports (ephemeral, DHCP client)");
	else if (id == NAT_RULE_GONE)
		snprintf(buf, len, "a rule the last reload removed");
	else
		snprintf(buf, len, "rule %u", id);
	return buf;
}

/* Whether a list goes to the engine as backends: several, or checked. */
static bool
conf_nat_listed(size_t n, const struct conf_health *h)
{
	return n > 1 || (n == 1 && h->kind != CONF_CHECK_NONE);
}

/* Backends of family fam in [front] backend. */
static size_t
conf_nat_of_family(const struct conf_front *f, uint8_t fam)
{
	size_t	i, n = 0;

	for (i = 0; i < f->nbackends; i++)
		n += f->backends[i].a.family == fam;
	return n;
}

/* Backends conf_nat_backends() writes for c. */
size_t
conf_nat_nbackends(const struct conf *c)
{
	const struct conf_front	*f = &c->front;
	size_t			 i, n = 0;

	if (c->role != CONF_ROLE_FRONT)
		return 0;
	for (i = 0; i < f->nforward; i++)
		if (conf_nat_listed(f->forward[i].ntargets,
		    &f->forward[i].health))
			n += f->forward[i].ntargets;
	for (i = 0; i < f->nbackend; i++)
		if (conf_nat_listed(conf_nat_of_family(f,
		    f->backend[i].family), &f->backend_health))
			n += conf_nat_of_family(f, f->backend[i].family);
	return n;
}

/* Append the targets of family fam of l[0..n) for rule r; -1: no room. */
static int
conf_nat_bk_rule(struct nat_rule *r, const struct conf_target *l, size_t n,
    uint8_t fam, struct nat_backend *bk, size_t *o, size_t cap)
{
	size_t	i;

	r->backend_first = (uint32_t)*o;
	r->backend_count = 0;
	for (i = 0; i < n; i++) {
		if (l[i].a.family != fam)
			continue;
		if (*o == cap)
			return -1;
		memset(&bk[*o], 0, sizeof(bk[*o]));
		bk[*o].addr = l[i].a.addr;
		bk[*o].port = l[i].port;
		bk[*o].weight = l[i].weight;
		bk[*o].id = CONF_BACKEND_ID(r->id, i);
		(*o)++;
		r->backend_count++;
	}
	return 0;
}

/* The engine's backends of c's lists; see conf.h. */
int
conf_nat_backends(const struct conf *c, struct nat_settings *s,
    struct nat_rule *rules, struct nat_backend *bk, size_t *nbk,
    char err[ERRLEN])
{
	const struct conf_front		*f = &c->front;
	const struct conf_forward	*fw;
	struct nat_rule			*r;
	size_t				 i, o = 0, idx;
	int				 rc = 0;

	for (i = 0; i < s->nrules && rc == 0; i++) {
		r = &rules[i];
		idx = CONF_RULE_INDEX(r->id);
		if (CONF_RULE_KIND(r->id) == CONF_RULE_FORWARD &&
		    idx < f->nforward) {
			fw = &f->forward[idx];
			if (conf_nat_listed(fw->ntargets, &fw->health))
				rc = conf_nat_bk_rule(r, fw->targets,
				    fw->ntargets, r->family, bk, &o, *nbk);
		} else if (CONF_RULE_KIND(r->id) == CONF_RULE_BACKEND &&
		    conf_nat_listed(conf_nat_of_family(f, r->family),
		    &f->backend_health))
			rc = conf_nat_bk_rule(r, f->backends, f->nbackends,
			    r->family, bk, &o, *nbk);
	}
	if (rc == -1) {
		snprintf(err, ERRLEN, "room for %zu backends, more needed",
		    *nbk);
		return -1;
	}
	s->backends = bk;
	s->nbackends = o;
	*nbk = o;
	return 0;
}

/* The list, health and name of the rule a backend id belongs to. */
static const struct conf_target *
conf_nat_list_of(const struct conf *c, uint32_t id, size_t *n,
    const struct conf_health **h, const char **name)
{
	const struct conf_front	*f = &c->front;
	uint32_t		 rule = CONF_BACKEND_RULE(id);
	size_t			 i = CONF_RULE_INDEX(rule);

	if (CONF_RULE_KIND(rule) == CONF_RULE_FORWARD && i < f->nforward) {
		*n = f->forward[i].ntargets;
		*h = &f->forward[i].health;
		*name = f->forward[i].name;
		return f->forward[i].targets;
	}
	if (CONF_RULE_KIND(rule) == CONF_RULE_BACKEND && i < f->nbackend) {
		*n = f->nbackends;
		*h = &f->backend_health;
		*name = NULL;
		return f->backends;
	}
	return NULL;
}

/* Describe a backend by its id; see conf.h. */
const char *
conf_nat_backend_name(const struct conf *c, uint32_t id, char *buf,
    size_t len)
{
	const struct conf_target	*l;
	const struct conf_health	*h;
	const char			*name;
	size_t				 n, j = CONF_BACKEND_PLACE(id);
	char				 a[64];

	if ((l = conf_nat_list_of(c, id, &n, &h, &name)) == NULL ||
	    j >= n) {
		snprintf(buf, len, "backend %u", id);
		return buf;
	}
	conf_addr_str(&l[j].a, a, sizeof(a));
	if (name == NULL)
		snprintf(buf, len, "backend %s", a);
	else if (l[j].port == 0)
		snprintf(buf, len, "forward.%s %s", name, a);
	else if (l[j].a.family == 6)
		snprintf(buf, len, "forward.%s [%s]:%u", name, a, l[j].port);
	else
		snprintf(buf, len, "forward.%s %s:%u", name, a, l[j].port);
	return buf;
}

/* Add the checked targets of one list (rule id rule) to out. */
static size_t
conf_nat_bk_checks(const struct conf_target *l, size_t n,
    const struct conf_health *h, uint32_t rule, uint16_t dport,
    struct conf_check *out, size_t o, size_t max)
{
	size_t	i;

	if (h->kind == CONF_CHECK_NONE || !conf_nat_listed(n, h))
		return o;
	for (i = 0; i < n; i++, o++) {
		if (o >= max)
			continue;
		out[o].id = CONF_BACKEND_ID(rule, i);
		out[o].a = l[i].a;
		out[o].port = h->port ? h->port : l[i].port ? l[i].port : dport;
		out[o].health = h;
	}
	return o;
}

/* Every backend with checks; see conf.h. */
size_t
conf_nat_checks(const struct conf *c, struct conf_check *out, size_t max)
{
	const struct conf_front		*f = &c->front;
	const struct conf_forward	*fw;
	size_t				 i, o = 0;

	if (c->role != CONF_ROLE_FRONT)
		return 0;
	for (i = 0; i < f->nforward; i++) {
		fw = &f->forward[i];
		o = conf_nat_bk_checks(fw->targets, fw->ntargets, &fw->health,
		    CONF_RULE_FORWARD | (uint32_t)i, fw->listen_lo, out, o, max);
	}
	/* one check per address: the ids name each family's rule */
	for (i = 0; i < f->nbackends; i++) {
		if (f->backend_health.kind == CONF_CHECK_NONE ||
		    !conf_nat_listed(conf_nat_of_family(f,
		    f->backends[i].a.family), &f->backend_health))
			continue;
		if (o < max) {
			out[o].id = CONF_BACKEND_ID(CONF_RULE_BACKEND |
			    (uint32_t)(f->backend[0].family ==
			    f->backends[i].a.family ? 0 : 1), i);
			out[o].a = f->backends[i].a;
			out[o].port = f->backend_health.port;
			out[o].health = &f->backend_health;
		}
		o++;
	}
	return o;
}
