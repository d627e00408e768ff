/*
 * nat.c - the engine's life: create, reconfigure and destroy it, the names
 * of its enums, counters and memory. The packet path is in process.c, the
 * flow listing and event hook in list.c.
 */
#include <stdio.h>

#include "nat/nat_int.h"

static const char *const nat_drop_names[NAT_DROP_MAX] = {
	"truncated", "bad_header", "bad_vnet", "unsupported", "no_flow",
	"tcp_state", "wrong_side", "table_full", "no_port", "icmp_no_flow",
	"icmp_bad", "ttl", "frag", "frag_timeout", "too_big", "bad_checksum",
	"source_flows", "source_rate", "tcp_rst_window",
};

static const char *const nat_state_names[NAT_TCP_STATE_MAX] = {
	"none", "syn_sent", "syn_recv", "established", "fin_wait",
	"time_wait", "closed",
};

/* Name of a flow's protocol. */
const char *
nat_proto_name(uint8_t proto)
{
	switch (proto) {
	case PROTO_TCP:
		return "tcp";
	case PROTO_UDP:
		return "udp";
	case PROTO_ICMP:
		return "icmp";
	}
	return "icmpv6";
}

/* Name of a drop reason, for counters and logs. */
const char *
nat_drop_name(enum nat_drop_reason r)
{
	return (unsigned)r < NAT_DROP_MAX ? nat_drop_names[r] : "unknown";
}

/* Name of a TCP state. */
const char *
nat_tcp_state_name(enum nat_tcp_state s)
{
	return (unsigned)s < NAT_TCP_STATE_MAX ? nat_state_names[s] : "unknown";
}

/* Fill zero settings with defaults. */
static void
nat_settings_defaults(struct nat_settings *s)
{
	if (s->tcp_established == 0)
		s->tcp_established = 7440;
	if (s->tcp_transitory == 0)
		s->tcp_transitory = 240;
	if (s->udp_timeout == 0)
		s->udp_timeout = 300;
	if (s->icmp_timeout == 0)
		s->icmp_timeout = 60;
	if (s->frag_timeout == 0)
		s->frag_timeout = 30;
	if (s->max_frags == 0)
		s->max_frags = 1024;
	if (s->max_frag_bytes == 0)
		s->max_frag_bytes = 256 * 1024;
	if (s->nat_port_lo == 0 && s->nat_port_hi == 0) {
		s->nat_port_lo = 61000;
		s->nat_port_hi = 65534;
	}
}

/* Validate settings that do not depend on an existing instance. */
static int
nat_settings_check(const struct nat_settings *s, char *err)
{
	if (s->max_flows == 0 || s->max_flows > (1U << 24))
		snprintf(err, ERRLEN, "max_flows %u out of range "
		    "(allowed: 1..16777216)", s->max_flows);
	else if (s->nat_port_lo == 0 || s->nat_port_lo > s->nat_port_hi)
		snprintf(err, ERRLEN, "NAT port range %u-%u is not valid",
		    s->nat_port_lo, s->nat_port_hi);
	else if (s->ttl_mode > NAT_TTL_RESTORE)
		snprintf(err, ERRLEN, "unknown TTL mode %u", s->ttl_mode);
	else if (s->max_frags > (1U << 20))
		snprintf(err, ERRLEN, "max_frags %u out of range "
		    "(allowed: 1..1048576)", s->max_frags);
	else if (s->table_full_icmp_rate > ICMP_RATE_MAX)
		snprintf(err, ERRLEN, "table_full_icmp_rate %u out of "
		    "range (allowed: 0..%u)", s->table_full_icmp_rate,
		    ICMP_RATE_MAX);
	else if (limit_check(s, err) == -1)
		return -1;
	else if (s->nshards > NAT_SHARDS_MAX ||
	    (s->nshards > 1 && s->shard >= s->nshards))
		snprintf(err, ERRLEN, "shard %u of %u is not valid (at most "
		    "%u shards)", s->shard, s->nshards, NAT_SHARDS_MAX);
	else if (s->nrules > 0 && s->rules == NULL)
		snprintf(err, ERRLEN, "%zu rules but no rule array",
		    s->nrules);
	else if (rule_check(s->rules, s->nrules, err) == -1)
		return -1;
	else
		return backend_check(s, err);
	return -1;
}

/* Clear the unused bytes of an IPv4 address so keys compare exactly. */
static void
nat_addr_norm(struct nat_addr *a, uint8_t family)
{
	if (family == 4)
		memset(a->b + 4, 0, 12);
}

/* Copy rules into the engine, normalising addresses. */
static struct nat_rule *
nat_copy_rules(const struct nat_settings *s)
{
	struct nat_rule *r;
	size_t i;

	r = calloc(s->nrules ? s->nrules : 1, sizeof(*r));
	if (r == NULL)
		return NULL;
	for (i = 0; i < s->nrules; i++) {
		r[i] = s->rules[i];
		nat_addr_norm(&r[i].dst, r[i].family);
		nat_addr_norm(&r[i].to, r[i].family);
		nat_addr_norm(&r[i].relay_src, r[i].family);
	}
	return r;
}

/* Rules, rule counters and backends made for new settings. */
struct nat_ruleset {
	struct nat_rule *r;
	struct nat_rule_stats *rs;
	size_t nrs;
	struct nat_bk *bk;
	size_t nbk;
	struct nat_bk_range *rbk;
};

/* Free what nat_ruleset_make() made. */
static void
nat_ruleset_free(struct nat_ruleset *nr)
{
	free(nr->r);
	free(nr->rs);
	free(nr->bk);
	free(nr->rbk);
}

/* Make the rules, counters and backends of settings; -1: no memory. */
static int
nat_ruleset_make(const struct nat_settings *s, struct nat_ruleset *nr)
{
	memset(nr, 0, sizeof(*nr));
	nr->r = nat_copy_rules(s);
	nr->rs = rule_stats_new(s->rules, s->nrules, &nr->nrs);
	if (nr->r == NULL || nr->rs == NULL ||
	    (nr->rbk = backend_ranges_new(nr->nrs)) == NULL ||
	    backend_make(s, nr->r, &nr->bk, &nr->nbk) == -1) {
		nat_ruleset_free(nr);
		return -1;
	}
	return 0;
}

/* Take validated settings, rules, counters and backends into the instance. */
static void
nat_take_settings(struct nat *nat, const struct nat_settings *s,
    struct nat_ruleset *nr)
{
	free(nat->rules);
	nat->set = *s;
	nat->rules = nr->r;
	nat->set.rules = nr->r;
	nat->set.backends = NULL;	/* the engine's own copy is nat->bk */
	nat_addr_norm(&nat->set.hairpin_src4, 4);
	nat->st.max_flows = s->max_flows;
	rule_stats_take(nat, nr->rs, nr->nrs);
	free(nat->rbk);
	nat->rbk = nr->rbk;
	backend_take(nat, nr->bk, nr->nbk);
	rule_keep_index(nat);
}

/*
 * Check how a shard joins its relay: shard 0 comes alone, the others with
 * shard 0's engine; both with a lock when sharded.
 */
static int
nat_shard_check(const struct nat_settings *s, const struct nat *first,
    const struct nat_share_ops *ops, char *err)
{
	if (s->nshards <= 1) {
		if (first == NULL)
			return 0;
		snprintf(err, ERRLEN, "an engine that is not sharded has no "
		    "first shard");
	} else if (ops == NULL || ops->lock == NULL || ops->unlock == NULL)
		snprintf(err, ERRLEN, "a sharded engine needs a lock");
	else if ((s->shard == 0) != (first == NULL))
		snprintf(err, ERRLEN, "shard %u: only shard 0 comes without "
		    "a first shard", s->shard);
	else if (first != NULL && (first->set.nshards != s->nshards ||
	    first->set.shard != 0 || first->first != first))
		snprintf(err, ERRLEN, "shard %u of %u: the first shard given "
		    "is not shard 0 of %u", s->shard, s->nshards, s->nshards);
	else if (first != NULL && (first->hash_key[0] != s->hash_key[0] ||
	    first->hash_key[1] != s->hash_key[1] ||
	    first->set.max_frags != s->max_frags))
		snprintf(err, ERRLEN, "shard %u: hash key and max_frags must "
		    "be those of shard 0", s->shard);
	else
		return 0;
	return -1;
}

/* Create an engine from settings. */
struct nat *
nat_create(const struct nat_settings *in, char err[ERRLEN])
{
	return nat_create_shard(in, NULL, NULL, err);
}

/* Create one shard of a relay (or, not sharded, a whole engine). */
struct nat *
nat_create_shard(const struct nat_settings *in, struct nat *first,
    const struct nat_share_ops *ops, char err[ERRLEN])
{
	struct nat_settings s = *in;
	struct nat_ruleset nr;
	struct nat *nat;

	nat_settings_defaults(&s);
	if (nat_settings_check(&s, err) == -1 ||
	    nat_shard_check(&s, first, ops, err) == -1)
		return NULL;
	nat = calloc(1, sizeof(*nat));
	if (nat == NULL || nat_ruleset_make(&s, &nr) == -1) {
		free(nat);
		snprintf(err, ERRLEN, "no memory for the engine");
		return NULL;
	}
	nat->ahead = FLOW_NONE;		/* no flow yet for the counts below */
	nat->first = first != NULL ? first : nat;
	if (s.nshards > 1)
		nat->share = *ops;
	nat_take_settings(nat, &s, &nr);
	nat->hash_key[0] = s.hash_key[0];
	nat->hash_key[1] = s.hash_key[1];
	if (flow_init(nat, err) == -1 || port_init(nat, err) == -1 ||
	    frag_init(nat, err) == -1 || limit_init(nat, err) == -1) {
		nat_destroy(nat);
		return NULL;
	}
	return nat;
}

/*
 * A shard other than the first goes: its flows leave the shared source
 * table (shard 0, which holds the table, goes last and frees it whole).
 */
static void
nat_shard_leave(struct nat *nat)
{
	struct nat_flow *f;
	uint32_t id;

	if (nat->first == nat)
		return;
	for (id = nat->ahead; id != FLOW_NONE; id = f->all.next) {
		f = flow_at(nat, id);
		limit_release(nat, f);
	}
}

/* Free an engine and everything it holds. */
void
nat_destroy(struct nat *nat)
{
	if (nat == NULL)
		return;
	nat_shard_leave(nat);
	frag_fini(nat);
	flow_fini(nat);
	port_fini(nat);
	limit_fini(nat);
	free(nat->rules);
	free(nat->rstats);
	free(nat->bk);
	free(nat->rbk);
	free(nat);
}

/*
 * Make the source table when a reload turns per-source limits on (flows
 * opened before then do not count against their source).
 */
static int
nat_reconf_limits(struct nat *nat, const struct nat_settings *s, char *err)
{
	struct nat_settings old = nat->set;

	nat->set.src_max_flows = s->src_max_flows;
	nat->set.src_rate = s->src_rate;
	if (limit_init(nat, err) == -1) {
		nat->set = old;
		return -1;
	}
	return 0;
}

/* Replace rules and timeouts; flows stay. */
int
nat_reconfigure(struct nat *nat, const struct nat_settings *in,
    char err[ERRLEN])
{
	struct nat_settings s = *in;
	struct nat_ruleset nr;

	/* a shard stays the shard it was made (the new values are ignored) */
	s.shard = nat->set.shard;
	s.nshards = nat->set.nshards;
	nat_settings_defaults(&s);
	if (nat_settings_check(&s, err) == -1)
		return -1;
	if (s.max_flows != nat->set.max_flows ||
	    s.max_frags != nat->set.max_frags ||
	    s.hash_key[0] != nat->hash_key[0] ||
	    s.hash_key[1] != nat->hash_key[1]) {
		snprintf(err, ERRLEN, "max_flows, max_frags and the hash "
		    "key cannot change without a restart");
		return -1;
	}
	if (nat_ruleset_make(&s, &nr) == -1) {
		snprintf(err, ERRLEN, "no memory for %zu rules", s.nrules);
		return -1;
	}
	if (nat_reconf_limits(nat, &s, err) == -1) {
		nat_ruleset_free(&nr);
		return -1;
	}
	nat_take_settings(nat, &s, &nr);
	return 0;
}

/* Copy the counters. */
void
nat_get_stats(const struct nat *nat, struct nat_stats *st)
{
	/* gauges of the shared tables: the first shard's only */
	*st = nat->st;
	st->frags_tracked = frag_tracked(nat);
	st->sources_tracked = limit_tracked(nat);
	st->sources_reclaimed = limit_reclaimed(nat);
}

/* Bytes of memory held by the engine. */
size_t
nat_memory(const struct nat *nat)
{
	return sizeof(*nat) + nat->set.nrules * sizeof(struct nat_rule) +
	    fidx_bytes(&nat->index) + slab_bytes(&nat->flow_slab) +
	    slab_bytes(&nat->flow6_slab) + slab_bytes(&nat->map_slab) +
	    nat->npools * sizeof(struct port_pool) + frag_memory(nat) +
	    limit_memory(nat) + nat->nbk * sizeof(struct nat_bk) +
	    nat->nrstats * sizeof(struct nat_bk_range);
}
