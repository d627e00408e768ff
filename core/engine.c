/*
 * engine.c - the front's engine as shards (see engine.h): making them,
 * locking the one a packet belongs to, and summing them for everything
 * that is not the packet path.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"
#include "core/err.h"

/* Times a packet may find its shard changed under it (a reload) before it
 * is translated where it is: one is the rule, more are reloads racing it */
#define ENGINE_TRIES 3

/* The shared tables' lock, as the engine calls it. */
static void
engine_share_lock(void *arg)
{
	pthread_mutex_lock(arg);
}

/* Release the shared tables' lock. */
static void
engine_share_unlock(void *arg)
{
	pthread_mutex_unlock(arg);
}

/* Flows each shard holds: max_flows shared out, rounded up. */
static uint32_t
engine_shard_flows(const struct nat_settings *set, unsigned int n)
{
	return (uint32_t)(((uint64_t)set->max_flows + n - 1) / n);
}

/* The settings of shard k of n. */
static void
engine_shard_set(struct nat_settings *s, const struct nat_settings *set,
    unsigned int k, unsigned int n)
{
	*s = *set;
	s->shard = (uint16_t)k;
	s->nshards = n > 1 ? (uint16_t)n : 0;
	if (n > 1)
		s->max_flows = engine_shard_flows(set, n);
}

/* Make shard k (after shards 0..k-1). */
static int
engine_make(struct engine *e, const struct nat_settings *set, unsigned int k,
    char err[ERRLEN])
{
	struct nat_settings s;

	engine_shard_set(&s, set, k, e->n);
	if (e->n == 1)
		e->sh[k].nat = nat_create(&s, err);
	else
		e->sh[k].nat = nat_create_shard(&s, k > 0 ? e->sh[0].nat : NULL,
		    &e->ops, err);
	return e->sh[k].nat != NULL ? 0 : -1;
}

/* Make want shards, or one when the settings cannot be sharded. */
struct engine *
engine_create(const struct nat_settings *set, unsigned int want,
    char err[ERRLEN])
{
	struct engine *e;
	unsigned int k;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		goto oom;
	e->n = want < 1 ? 1 : want;
	if (e->n > NAT_SHARDS_MAX)
		e->n = NAT_SHARDS_MAX;
	if (e->n > 1 && nat_shards_fit(set, e->n, e->why) == -1)
		e->n = 1;
	e->sh = aligned_alloc(ENGINE_CACHELINE, sizeof(*e->sh) * e->n);
	if (e->sh == NULL) {
		free(e);
		goto oom;
	}
	memset(e->sh, 0, sizeof(*e->sh) * e->n);
	pthread_mutex_init(&e->share, NULL);
	e->ops.lock = engine_share_lock;
	e->ops.unlock = engine_share_unlock;
	e->ops.arg = &e->share;
	e->max_flows = set->max_flows;
	for (k = 0; k < NAT_CURSORS; k++)
		e->cur[k].cur = -1;
	for (k = 0; k < e->n; k++)
		pthread_mutex_init(&e->sh[k].lock, NULL);
	for (k = 0; k < e->n; k++) {
		if (engine_make(e, set, k, err) == -1) {
			engine_destroy(e);
			return NULL;
		}
	}
	return e;
oom:
	snprintf(err, ERRLEN, "no memory for the engine");
	return NULL;
}

/* Free the shards: the others before shard 0, whose tables they share. */
void
engine_destroy(struct engine *e)
{
	unsigned int k;

	if (e == NULL)
		return;
	for (k = e->n; k-- > 0;) {
		nat_destroy(e->sh[k].nat);
		pthread_mutex_destroy(&e->sh[k].lock);
	}
	pthread_mutex_destroy(&e->share);
	free(e->sh);
	free(e);
}

/* The number of shards. */
unsigned int
engine_shards(const struct engine *e)
{
	return e->n;
}

/* Take every shard's lock, in order. */
void
engine_lock_all(struct engine *e)
{
	unsigned int k;

	for (k = 0; k < e->n; k++)
		pthread_mutex_lock(&e->sh[k].lock);
}

/* Release every shard's lock. */
void
engine_unlock_all(struct engine *e)
{
	unsigned int k;

	for (k = e->n; k-- > 0;)
		pthread_mutex_unlock(&e->sh[k].lock);
}

/* Lock shard s, noting when another thread held it. */
static void
engine_take(struct engine *e, unsigned int s, bool *waited)
{
	if (pthread_mutex_trylock(&e->sh[s].lock) == 0)
		return;
	*waited = true;
	pthread_mutex_lock(&e->sh[s].lock);
}

/* Lock the shard of a packet, home first; see engine.h. */
unsigned int
engine_enter(struct engine *e, unsigned int home, const uint8_t *data,
    size_t len, enum nat_side side, bool *crossed, bool *waited)
{
	unsigned int s = home % e->n, i;
	int t;

	*crossed = false;
	*waited = false;
	engine_take(e, s, waited);
	if (e->n == 1)
		return s;
	/* the shard is read under a lock: a reload may change what it
	 * depends on (relay addresses, nat_ports) only with all of them */
	for (i = 0; i < ENGINE_TRIES; i++) {
		t = nat_shard(e->sh[s].nat, data, len, side);
		if (t < 0 || (unsigned int)t == s)
			return s;
		pthread_mutex_unlock(&e->sh[s].lock);
		s = (unsigned int)t % e->n;
		*crossed = true;
		engine_take(e, s, waited);
	}
	return s;
}

/* Lock a queue's own shard. */
unsigned int
engine_lock(struct engine *e, unsigned int home)
{
	unsigned int s = home % e->n;

	pthread_mutex_lock(&e->sh[s].lock);
	return s;
}

/* Release a shard. */
void
engine_leave(struct engine *e, unsigned int s)
{
	pthread_mutex_unlock(&e->sh[s].lock);
}

/* The engine of shard s. */
struct nat *
engine_nat(const struct engine *e, unsigned int s)
{
	return e->sh[s].nat;
}

/* New rules and timeouts in every shard, all or none. */
int
engine_reconfigure(struct engine *e, const struct nat_settings *set,
    const struct nat_settings *old, char err[ERRLEN])
{
	struct nat_settings s;
	char ne[ERRLEN];
	unsigned int k, j;

	if (e->n > 1 && nat_shards_fit(set, e->n, err) == -1) {
		/* flows live in the shard their ports name: the count is
		 * fixed for the life of the process */
		err_prefix(err, "cannot run as the %u shards running now "
		    "(restart to apply it)", e->n);
		return -1;
	}
	for (k = 0; k < e->n; k++) {
		engine_shard_set(&s, set, k, e->n);
		if (nat_reconfigure(e->sh[k].nat, &s, err) == 0)
			continue;
		for (j = 0; j < k; j++) {
			engine_shard_set(&s, old, j, e->n);
			/* out of memory twice: the shards now disagree on
			 * their rules, which the caller must hear of */
			if (nat_reconfigure(e->sh[j].nat, &s, ne) == -1)
				err_prefix(err, "shard %u kept the new rules "
				    "(%s), the others the old", j, ne);
		}
		return -1;
	}
	return 0;
}

/* Expire idle flows shard by shard. */
size_t
engine_sweep(struct engine *e, uint64_t now, size_t budget)
{
	size_t n = 0;
	unsigned int k;

	for (k = 0; k < e->n; k++) {
		pthread_mutex_lock(&e->sh[k].lock);
		n += nat_sweep(e->sh[k].nat, now, budget / e->n + 1);
		pthread_mutex_unlock(&e->sh[k].lock);
	}
	return n;
}

/* Add the uint64_t fields of b to a (structures of uint64_t only). */
static void
engine_add(uint64_t *a, const uint64_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		a[i] += b[i];
}

/* Counters of every shard, summed. */
void
engine_get_stats(const struct engine *e, struct nat_stats *st)
{
	struct nat_stats one;
	unsigned int k;

	nat_get_stats(e->sh[0].nat, st);
	for (k = 1; k < e->n; k++) {
		nat_get_stats(e->sh[k].nat, &one);
		engine_add((uint64_t *)st, (const uint64_t *)&one,
		    sizeof(one) / sizeof(uint64_t));
	}
	/* the configured size, not the shards' rounded-up shares */
	st->max_flows = e->max_flows;
}

/* Memory of every shard. */
size_t
engine_memory(const struct engine *e)
{
	size_t m = 0;
	unsigned int k;

	for (k = 0; k < e->n; k++)
		m += nat_memory(e->sh[k].nat);
	return m;
}

/* Per-rule counters, summed over the shards (they share their rules). */
size_t
engine_rule_stats(const struct engine *e, struct nat_rule_stats *out,
    size_t max)
{
	struct nat_rule_stats *one;
	size_t n, i;
	unsigned int k;

	n = nat_rule_stats(e->sh[0].nat, out, max);
	if (e->n == 1 || max == 0 || (one = calloc(max, sizeof(*one))) == NULL)
		return n;
	for (k = 1; k < e->n; k++) {
		(void)nat_rule_stats(e->sh[k].nat, one, max);
		for (i = 0; i < n && i < max; i++) {
			out[i].packets += one[i].packets;
			out[i].bytes += one[i].bytes;
			out[i].flows_created += one[i].flows_created;
			out[i].flows_active += one[i].flows_active;
		}
	}
	free(one);
	return n;
}

/* Per-backend counters, summed; state and its changes are shard 0's (the
 * same in every shard: nat_backend_set goes to all of them). */
size_t
engine_backend_stats(const struct engine *e, struct nat_backend_stats *out,
    size_t max)
{
	struct nat_backend_stats *one;
	size_t n, i;
	unsigned int k;

	n = nat_backend_stats(e->sh[0].nat, out, max);
	if (e->n == 1 || max == 0 || (one = calloc(max, sizeof(*one))) == NULL)
		return n;
	for (k = 1; k < e->n; k++) {
		(void)nat_backend_stats(e->sh[k].nat, one, max);
		for (i = 0; i < n && i < max; i++) {
			out[i].flows_created += one[i].flows_created;
			out[i].flows_active += one[i].flows_active;
			out[i].packets += one[i].packets;
			out[i].bytes += one[i].bytes;
		}
	}
	free(one);
	return n;
}

/* A backend up or down in every shard; shard 0's answer. */
int
engine_backend_set(struct engine *e, uint32_t id, bool up)
{
	int r = nat_backend_set(e->sh[0].nat, id, up);
	unsigned int k;

	for (k = 1; k < e->n; k++)
		(void)nat_backend_set(e->sh[k].nat, id, up);
	return r;
}

/* Delete matching flows in every shard. */
size_t
engine_flows_delete(struct engine *e, uint64_t now,
    int (*match)(const struct nat_flow_info *, void *), void *arg)
{
	size_t n = 0;
	unsigned int k;

	for (k = 0; k < e->n; k++)
		n += nat_flows_delete(e->sh[k].nat, now, match, arg);
	return n;
}

/* The flow hook of every shard (it runs under any one shard's lock). */
void
engine_set_flow_hook(struct engine *e, nat_flow_hook *fn, void *arg)
{
	unsigned int k;

	for (k = 0; k < e->n; k++)
		nat_set_flow_hook(e->sh[k].nat, fn, arg);
}

/* Start a listing across the shards; -1 when every cursor is busy. */
int
engine_cursor_open(struct engine *e)
{
	int i, c;

	for (i = 0; i < NAT_CURSORS; i++) {
		if (e->cur[i].busy)
			continue;
		if ((c = nat_cursor_open(e->sh[0].nat)) < 0)
			return -1;
		e->cur[i].busy = true;
		e->cur[i].shard = 0;
		e->cur[i].cur = c;
		return i;
	}
	return -1;
}

/* Up to max flows of a listing, shard after shard; 0 at the end. */
size_t
engine_cursor_next(struct engine *e, int i, uint64_t now, size_t max,
    int (*fn)(const struct nat_flow_info *, void *), void *arg)
{
	struct engine_cursor *ec;
	size_t seen = 0, got;

	if (i < 0 || i >= NAT_CURSORS || !e->cur[i].busy)
		return 0;
	ec = &e->cur[i];
	while (seen < max && ec->cur >= 0) {
		got = nat_cursor_next(e->sh[ec->shard].nat, ec->cur, now,
		    max - seen, fn, arg);
		seen += got;
		if (got > 0)
			continue;
		nat_cursor_close(e->sh[ec->shard].nat, ec->cur);
		ec->cur = -1;
		/* a shard with every cursor busy is skipped: the listing
		 * is then short, never stuck */
		while (ec->cur < 0 && ++ec->shard < e->n)
			ec->cur = nat_cursor_open(e->sh[ec->shard].nat);
	}
	return seen;
}

/* End a listing. */
void
engine_cursor_close(struct engine *e, int i)
{
	struct engine_cursor *ec;

	if (i < 0 || i >= NAT_CURSORS)
		return;
	ec = &e->cur[i];
	if (ec->busy && ec->cur >= 0)
		nat_cursor_close(e->sh[ec->shard].nat, ec->cur);
	ec->busy = false;
	ec->cur = -1;
}

/* Bytes of one shard's region, rounded to keep the next one aligned. */
static size_t
engine_state_stride(const struct engine *e)
{
	struct nat_stats st;

	nat_get_stats(e->sh[0].nat, &st);
	return (nat_state_size((uint32_t)st.max_flows) + 63) & ~(size_t)63;
}

/* Bytes of the state region of every shard. */
size_t
engine_state_size(const struct engine *e)
{
	if (e->n == 1) {
		struct nat_stats st;

		nat_get_stats(e->sh[0].nat, &st);
		return nat_state_size((uint32_t)st.max_flows);
	}
	return engine_state_stride(e) * e->n;
}

/* Attach every shard to its part of the region. */
int
engine_state_attach(struct engine *e, void *region, size_t len,
    char err[ERRLEN])
{
	size_t stride = e->n == 1 ? len : engine_state_stride(e);
	char ne[ERRLEN];
	unsigned int k;

	if (region != NULL && len < stride * e->n) {
		snprintf(err, ERRLEN, "state region too small for %u shards",
		    e->n);
		return -1;
	}
	for (k = 0; k < e->n; k++) {
		if (nat_state_attach(e->sh[k].nat, region == NULL ? NULL :
		    (uint8_t *)region + stride * k, region == NULL ? 0 :
		    stride, err) == 0)
			continue;
		/* none may keep writing into a region the caller drops */
		while (k-- > 0)
			(void)nat_state_attach(e->sh[k].nat, NULL, 0, ne);
		return -1;
	}
	return 0;
}

/* Add one shard's adoption report to the total. */
static void
engine_report_add(struct nat_state_report *t, const struct nat_state_report *r)
{
	int i;

	t->records += r->records;
	t->adopted += r->adopted;
	t->dropped_total += r->dropped_total;
	for (i = 0; i < NAT_STATE_DROP_MAX; i++)
		t->dropped[i] += r->dropped[i];
}

/*
 * Take over an old region: shard k adopts part k. Every part is checked
 * first: one that cannot be trusted (damaged, truncated, another version,
 * another max_flows per shard: another shard count) makes the whole file
 * untrusted, as nat_state_adopt() treats one region.
 */
int
engine_state_adopt(struct engine *e, const void *old, size_t len,
    uint64_t now, struct nat_state_report *rep, char err[ERRLEN])
{
	struct nat_state_report one;
	size_t stride, off;
	unsigned int k;

	if (e->n == 1)
		return nat_state_adopt(e->sh[0].nat, old, len, now, rep, err);
	stride = engine_state_stride(e);
	for (k = 0, off = 0; k < e->n; k++, off += stride)
		if (nat_state_check(e->sh[k].nat, len > off ?
		    (const uint8_t *)old + off : NULL, len > off ? len - off :
		    0, err) == -1) {
			snprintf(err + strlen(err), ERRLEN - strlen(err),
			    " (part %u of %u: one per shard)", k + 1, e->n);
			return -1;
		}
	if (len != stride * e->n) {
		snprintf(err, ERRLEN, "%zu bytes, not the %zu of %u shards",
		    len, stride * e->n, e->n);
		return -1;
	}
	memset(rep, 0, sizeof(*rep));
	err[0] = '\0';
	for (k = 0; k < e->n; k++) {
		if (nat_state_adopt(e->sh[k].nat, (const uint8_t *)old +
		    stride * k, stride, now, &one, err) == -1)
			return -1;	/* checked above: not reached */
		engine_report_add(rep, &one);
	}
	return 0;
}
