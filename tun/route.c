/*
 * route.c - the relay's policy routing as one idempotent, tagged,
 * reconcilable unit (see route.h).
 *
 * Order of work in route_apply, chosen so that traffic is never left
 * without a local rule and an error leaves the previous state:
 *   1. add missing routes, then the tagged "lookup local" at local_prio,
 *      then the missing rules (kernel objects are only added);
 *   2. delete the priority-0 "lookup local" (now a copy sits below ours);
 *   3. delete tagged leftovers that the spec does not want.
 * A failure in 1 or 2 takes back what this call added.
 *
 * Which rules and routes are the same is decided in route_same.c; the
 * capture rules of route_capture_rules are built in route_capture.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>

#include <linux/rtnetlink.h>

#include "tun/route.h"
#include "tun/route_int.h"

#define ROUTE_NFAM 2

/* The kernel's state and our bookkeeping for one apply/remove/count. */
struct route_ctx {
	struct nl *nl;
	const struct route_spec *spec;
	struct route_result *res;
	char *err;
	uint8_t tag;
	bool fam_used[ROUTE_NFAM];	/* families the spec's rules use */
	struct nl_rule *rules[ROUTE_NFAM];	/* all rules, per family */
	size_t nrules[ROUTE_NFAM];
	struct nl_route *routes[ROUTE_NFAM];	/* all routes, per family */
	size_t nroutes[ROUTE_NFAM];
	struct nl_rule *want;		/* desired rules, in the order to add */
	size_t nwant;
	struct nl_route *wantr;		/* desired routes */
	size_t nwantr;
	struct nl_rule *added;		/* added by this call, for rollback */
	size_t nadded;
	struct nl_route *addedr;
	size_t naddedr;
	struct nl_rule *unlocal;	/* priority-0 local rules deleted by this call */
	size_t nunlocal;
};

static const int route_fams[ROUTE_NFAM] = { AF_INET, AF_INET6 };

/* Index of a family in the per-family arrays. */
static int
route_fi(int family)
{
	return family == AF_INET6 ? 1 : 0;
}

/* Tell the caller about a change. */
static void
route_note(struct route_ctx *c, const char *verb, const struct nl_rule *r,
    const struct nl_route *rt)
{
	char desc[160], msg[200];

	if (c->spec->note == NULL)
		return;
	if (r != NULL)
		snprintf(msg, sizeof(msg), "%s rule %s", verb,
		    nl_rule_str(r, desc, sizeof(desc)));
	else
		snprintf(msg, sizeof(msg), "%s route %s", verb,
		    nl_route_str(rt, desc, sizeof(desc)));
	c->spec->note(c->spec->note_arg, msg);
}

/* Is the table the spec's own, in its scope range or one of its routes'? */
static bool
route_table_ours(const struct route_ctx *c, uint32_t table)
{
	size_t i;

	if (table == c->spec->table)
		return true;
	if (c->spec->scope_lo != 0 && table >= c->spec->scope_lo &&
	    table <= c->spec->scope_hi)
		return true;
	for (i = 0; i < c->spec->nroutes; i++)
		if (c->spec->routes[i].table == table)
			return true;
	return false;
}

/* Is the rule tagged ours and in our priority range? */
static bool
route_rule_in_scope(const struct route_ctx *c, const struct nl_rule *r)
{
	const struct route_spec *s = c->spec;

	if (r->protocol != c->tag)
		return false;
	return (r->priority >= s->prio_lo && r->priority <= s->prio_hi) ||
	    (s->local_prio != 0 && r->priority == s->local_prio);
}

/* Is the route tagged ours and in one of our tables? */
static bool
route_route_in_scope(const struct route_ctx *c, const struct nl_route *r)
{
	return r->protocol == c->tag && route_table_ours(c, r->table);
}

/* Free everything the context holds. */
static void
route_ctx_free(struct route_ctx *c)
{
	int i;

	for (i = 0; i < ROUTE_NFAM; i++) {
		free(c->rules[i]);
		free(c->routes[i]);
	}
	free(c->want);
	free(c->wantr);
	free(c->added);
	free(c->addedr);
	free(c->unlocal);
}

/* Read all rules and routes of both families from the kernel. */
static int
route_load(struct route_ctx *c)
{
	int i, f;

	for (i = 0; i < ROUTE_NFAM; i++) {
		f = route_fams[i];
		if (nl_rule_list(c->nl, f, &c->rules[i], &c->nrules[i], c->err) < 0 ||
		    nl_route_list(c->nl, f, 0, &c->routes[i], &c->nroutes[i],
		    c->err) < 0) {
			/* A kernel without IPv6 has nothing of ours there. */
			if (f == AF_INET6 && errno == EAFNOSUPPORT && !c->fam_used[i])
				continue;
			return -1;
		}
	}
	return 0;
}

/* Set up a context for one apply/remove/count. */
static void
route_ctx_init(struct route_ctx *c, struct nl *nl, const struct route_spec *s,
    struct route_result *res, struct route_result *dummy, char *err)
{
	size_t i;

	memset(c, 0, sizeof(*c));
	c->nl = nl;
	c->spec = s;
	c->res = res != NULL ? res : dummy;
	memset(c->res, 0, sizeof(*c->res));
	c->err = err;
	c->tag = s->protocol ? s->protocol : NL_PROTO_TUNRELAY;
	for (i = 0; i < s->nrules; i++)
		if (s->rules[i].family == AF_INET || s->rules[i].family == AF_INET6)
			c->fam_used[route_fi(s->rules[i].family)] = true;
}

/* Tables we must never put routes of our own into. */
static bool
route_table_reserved(uint32_t t)
{
	return t == RT_TABLE_UNSPEC || t == RT_TABLE_DEFAULT ||
	    t == RT_TABLE_MAIN || t == RT_TABLE_LOCAL;
}

/* Check the spec before touching the kernel. */
static int
route_validate(const struct route_spec *s, bool need_rules, char *err)
{
	char desc[160];
	size_t i;

	if (s->prio_lo == 0 || s->prio_hi < s->prio_lo) {
		snprintf(err, ERRLEN, "rule priorities %u-%u: need 1 <= low <= high",
		    s->prio_lo, s->prio_hi);
		return -1;
	}
	if (s->local_prio != 0 && (s->local_prio <= s->prio_hi ||
	    s->local_prio > ROUTE_LOCAL_PRIO_MAX)) {
		snprintf(err, ERRLEN, "local rule priority %u: must be above "
		    "our rules (%u) and below main (%d)", s->local_prio, s->prio_hi,
		    ROUTE_LOCAL_PRIO_MAX + 1);
		return -1;
	}
	if (route_table_reserved(s->table)) {
		snprintf(err, ERRLEN, "route table %u: use a table of our own, "
		    "not 0, default, main or local", s->table);
		return -1;
	}
	if (s->scope_lo != 0 && (s->scope_hi < s->scope_lo ||
	    (s->scope_lo <= RT_TABLE_LOCAL && s->scope_hi >= RT_TABLE_DEFAULT))) {
		snprintf(err, ERRLEN, "route tables %u-%u: need low <= high "
		    "and none of default, main or local", s->scope_lo, s->scope_hi);
		return -1;
	}
	if (!need_rules)
		return 0;
	for (i = 0; i < s->nrules; i++) {
		const struct nl_rule *r = &s->rules[i];

		if ((r->family != AF_INET && r->family != AF_INET6) || r->unknown ||
		    r->table == 0 || r->priority < s->prio_lo ||
		    r->priority > s->prio_hi) {
			snprintf(err, ERRLEN, "rule %zu (%s): needs a family, a "
			    "table and a priority in %u-%u", i,
			    nl_rule_str(r, desc, sizeof(desc)), s->prio_lo, s->prio_hi);
			return -1;
		}
		if (r->table == s->table && s->tun_ifindex <= 0) {
			snprintf(err, ERRLEN, "rule %zu looks up table %u but no "
			    "TUN device is given", i, s->table);
			return -1;
		}
	}
	for (i = 0; i < s->nroutes; i++) {
		if (route_table_reserved(s->routes[i].table) ||
		    (s->routes[i].family != AF_INET && s->routes[i].family != AF_INET6)) {
			snprintf(err, ERRLEN, "route %zu: needs a family and a "
			    "table of our own (not 0, default, main or local)", i);
			return -1;
		}
	}
	return 0;
}

/* Build the desired rules (local rules first) and routes. */
static int
route_desired(struct route_ctx *c)
{
	const struct route_spec *s = c->spec;
	bool deflt[ROUTE_NFAM] = { false, false };
	size_t i;
	int f;

	c->want = calloc(s->nrules + ROUTE_NFAM + 1, sizeof(*c->want));
	c->wantr = calloc(s->nroutes + ROUTE_NFAM + 1, sizeof(*c->wantr));
	if (c->want == NULL || c->wantr == NULL) {
		snprintf(c->err, ERRLEN, "out of memory");
		return -1;
	}
	for (f = 0; f < ROUTE_NFAM && s->local_prio != 0; f++) {
		if (!c->fam_used[f])
			continue;
		struct nl_rule *l = &c->want[c->nwant++];
		l->family = (uint8_t)route_fams[f];
		l->priority = s->local_prio;
		l->table = RT_TABLE_LOCAL;
		l->protocol = c->tag;
	}
	for (i = 0; i < s->nrules; i++) {
		c->want[c->nwant] = s->rules[i];
		c->want[c->nwant].protocol = c->tag;
		if (c->want[c->nwant].table == s->table)
			deflt[route_fi(s->rules[i].family)] = true;
		c->nwant++;
	}
	for (f = 0; f < ROUTE_NFAM; f++) {
		if (!deflt[f])
			continue;
		struct nl_route *r = &c->wantr[c->nwantr++];
		r->family = (uint8_t)route_fams[f];
		r->type = RTN_UNICAST;
		r->table = s->table;
		r->oif = s->tun_ifindex;
		r->protocol = c->tag;
	}
	for (i = 0; i < s->nroutes; i++) {
		c->wantr[c->nwantr] = s->routes[i];
		c->wantr[c->nwantr].protocol = c->tag;
		c->nwantr++;
	}
	return 0;
}

/* Does the kernel already have the wanted rule? */
static bool
route_rule_present(const struct route_ctx *c, const struct nl_rule *want)
{
	int f = route_fi(want->family);

	return route_rules_meet(want, 1, c->rules[f], c->nrules[f]);
}

/* Does the spec want a rule the kernel has? */
static bool
route_rule_wanted(const struct route_ctx *c, const struct nl_rule *have)
{
	return route_rules_meet(c->want, c->nwant, have, 1);
}

/* Does the kernel already have the wanted route? */
static bool
route_route_present(const struct route_ctx *c, const struct nl_route *want)
{
	int f = route_fi(want->family);

	return route_routes_meet(want, 1, c->routes[f], c->nroutes[f]);
}

/* Does the spec want a route the kernel has? */
static bool
route_route_wanted(const struct route_ctx *c, const struct nl_route *have)
{
	return route_routes_meet(c->wantr, c->nwantr, have, 1);
}

/* Was an identical rule already added by this call (a duplicate in the spec)? */
static bool
route_rule_added(const struct route_ctx *c, const struct nl_rule *want)
{
	return route_rules_meet(want, 1, c->added, c->nadded);
}

/* Take back what this call added and re-add local rules it deleted. */
static void
route_rollback(struct route_ctx *c)
{
	char ignore[ERRLEN];
	size_t i;

	for (i = 0; i < c->nunlocal; i++)
		(void)nl_rule_add(c->nl, &c->unlocal[i], ignore);
	for (i = c->nadded; i > 0; i--)
		(void)nl_rule_del(c->nl, &c->added[i - 1], ignore);
	for (i = c->naddedr; i > 0; i--)
		(void)nl_route_del(c->nl, &c->addedr[i - 1], ignore);
}

/* Step 1: add missing routes, then missing rules (local rule first). */
static int
route_add_missing(struct route_ctx *c)
{
	size_t i;

	c->added = calloc(c->nwant + 1, sizeof(*c->added));
	c->addedr = calloc(c->nwantr + 1, sizeof(*c->addedr));
	c->unlocal = calloc(ROUTE_NFAM * 4 + 1, sizeof(*c->unlocal));
	if (c->added == NULL || c->addedr == NULL || c->unlocal == NULL) {
		snprintf(c->err, ERRLEN, "out of memory");
		return -1;
	}
	for (i = 0; i < c->nwantr; i++) {
		if (route_route_present(c, &c->wantr[i])) {
			c->res->routes_kept++;
			continue;
		}
		if (nl_route_add(c->nl, &c->wantr[i], c->err) < 0)
			return -1;
		c->addedr[c->naddedr++] = c->wantr[i];
		c->res->routes_added++;
		route_note(c, "added", NULL, &c->wantr[i]);
	}
	for (i = 0; i < c->nwant; i++) {
		if (route_rule_present(c, &c->want[i]) ||
		    route_rule_added(c, &c->want[i])) {
			c->res->rules_kept++;
			continue;
		}
		if (nl_rule_add(c->nl, &c->want[i], c->err) < 0) {
			if (errno == EEXIST) {
				size_t l = strlen(c->err);
				snprintf(c->err + l, ERRLEN - l, ": an identical "
				    "rule not tagged %u exists", (unsigned int)c->tag);
			}
			return -1;
		}
		c->added[c->nadded++] = c->want[i];
		c->res->rules_added++;
		route_note(c, "added", &c->want[i], NULL);
	}
	return 0;
}

/* Warn about untagged local rules ahead of ours: local traffic escapes capture. */
static void
route_warn_local(struct route_ctx *c, int f)
{
	char desc[160], msg[240];
	size_t i;

	for (i = 0; i < c->nrules[f]; i++) {
		const struct nl_rule *r = &c->rules[f][i];

		if (r->priority == 0 || r->priority > c->spec->prio_hi ||
		    route_rule_in_scope(c, r) || !route_rule_plain_local(r) ||
		    c->spec->note == NULL)
			continue;
		snprintf(msg, sizeof(msg), "warning: rule %s comes before ours: "
		    "traffic to local addresses is not captured",
		    nl_rule_str(r, desc, sizeof(desc)));
		c->spec->note(c->spec->note_arg, msg);
	}
}

/* Step 2: delete the priority-0 local rules of the families we moved. */
static int
route_move_local(struct route_ctx *c)
{
	size_t i;
	int f;

	if (c->spec->local_prio == 0)
		return 0;
	for (f = 0; f < ROUTE_NFAM; f++) {
		if (!c->fam_used[f])
			continue;
		for (i = 0; i < c->nrules[f]; i++) {
			const struct nl_rule *r = &c->rules[f][i];

			if (r->priority != 0 || !route_rule_plain_local(r))
				continue;
			if (nl_rule_del(c->nl, r, c->err) < 0) {
				if (errno == ENOENT)
					continue;
				return -1;
			}
			if (c->nunlocal < ROUTE_NFAM * 4)
				c->unlocal[c->nunlocal++] = *r;
			c->res->local_moved++;
			route_note(c, "moved below ours: deleted", r, NULL);
		}
		route_warn_local(c, f);
	}
	return 0;
}

/*
 * Put "0: from all lookup local" back in family f unless a plain local rule
 * that is not ours (in scope) is still there.
 */
static int
route_restore_local(struct route_ctx *c, int f)
{
	struct nl_rule l;
	size_t i;

	for (i = 0; i < c->nrules[f]; i++)
		if (route_rule_plain_local(&c->rules[f][i]) &&
		    !route_rule_in_scope(c, &c->rules[f][i]))
			return 0;
	memset(&l, 0, sizeof(l));
	l.family = (uint8_t)route_fams[f];
	l.priority = 0;
	l.table = RT_TABLE_LOCAL;
	l.protocol = RTPROT_KERNEL;	/* as the kernel's own default rule */
	if (nl_rule_add(c->nl, &l, c->err) < 0 && errno != EEXIST)
		return -1;
	c->res->local_restored++;
	route_note(c, "restored", &l, NULL);
	return 0;
}

/*
 * Delete tagged rules in scope (all of them, or those not wanted); plain
 * local rules last, each family's priority-0 rule restored before its last
 * local rule goes.
 */
static int
route_delete_rules(struct route_ctx *c, bool all)
{
	size_t i;
	int f, pass;

	for (f = 0; f < ROUTE_NFAM; f++) {
		bool keep_local = !all && c->spec->local_prio != 0 && c->fam_used[f];
		bool restored = false;

		for (pass = 0; pass < 2; pass++) {
			for (i = 0; i < c->nrules[f]; i++) {
				const struct nl_rule *r = &c->rules[f][i];
				bool local = route_rule_plain_local(r);

				if (!route_rule_in_scope(c, r) || local != (pass == 1))
					continue;
				if (!all && route_rule_wanted(c, r))
					continue;
				if (local && !keep_local && !restored) {
					if (route_restore_local(c, f) < 0)
						return -1;
					restored = true;
				}
				if (nl_rule_del(c->nl, r, c->err) < 0 && errno != ENOENT)
					return -1;
				c->res->rules_removed++;
				route_note(c, all ? "removed" : "removed leftover", r, NULL);
			}
		}
	}
	return 0;
}

/* Delete tagged routes in our tables (all, or those not wanted). */
static int
route_delete_routes(struct route_ctx *c, bool all)
{
	size_t i;
	int f;

	for (f = 0; f < ROUTE_NFAM; f++) {
		for (i = 0; i < c->nroutes[f]; i++) {
			const struct nl_route *r = &c->routes[f][i];

			if (!route_route_in_scope(c, r))
				continue;
			if (!all && route_route_wanted(c, r))
				continue;
			if (nl_route_del(c->nl, r, c->err) < 0 && errno != ENOENT &&
			    errno != ESRCH)
				return -1;
			c->res->routes_removed++;
			route_note(c, all ? "removed" : "removed leftover", NULL, r);
		}
	}
	return 0;
}

/* Reconcile the kernel with the spec (see the top of this file). */
int
route_apply(struct nl *nl, const struct route_spec *s, struct route_result *res,
    char err[ERRLEN])
{
	struct route_result dummy;
	struct route_ctx c;
	int ret = -1;

	route_ctx_init(&c, nl, s, res, &dummy, err);
	if (route_validate(s, true, err) < 0)
		goto out;
	if (route_desired(&c) < 0 || route_load(&c) < 0)
		goto out;
	if (route_add_missing(&c) < 0 || route_move_local(&c) < 0) {
		route_rollback(&c);
		goto out;
	}
	/* From here on the new state is in place; leftovers go. */
	if (route_delete_rules(&c, false) < 0 || route_delete_routes(&c, false) < 0)
		goto out;
	ret = 0;
out:
	route_ctx_free(&c);
	return ret;
}

/* Remove everything tagged in the spec's scope. */
int
route_remove(struct nl *nl, const struct route_spec *s, struct route_result *res,
    char err[ERRLEN])
{
	struct route_result dummy;
	struct route_ctx c;
	int ret = -1;

	route_ctx_init(&c, nl, s, res, &dummy, err);
	/* Families the kernel may hold ours in, whatever the spec lists now. */
	c.fam_used[0] = true;
	/* route_delete_rules puts the priority-0 local rule back first. */
	if (route_validate(s, false, err) < 0 || route_load(&c) < 0)
		goto out;
	if (route_delete_rules(&c, true) < 0 || route_delete_routes(&c, true) < 0)
		goto out;
	ret = 0;
out:
	route_ctx_free(&c);
	return ret;
}

/* Count tagged rules and routes in the spec's scope. */
int
route_count(struct nl *nl, const struct route_spec *s, size_t *rules,
    size_t *routes, char err[ERRLEN])
{
	struct route_result dummy;
	struct route_ctx c;
	size_t i;
	int f, ret = -1;

	*rules = *routes = 0;
	route_ctx_init(&c, nl, s, NULL, &dummy, err);
	c.fam_used[0] = true;
	if (route_validate(s, false, err) < 0 || route_load(&c) < 0)
		goto out;
	for (f = 0; f < ROUTE_NFAM; f++) {
		for (i = 0; i < c.nrules[f]; i++)
			if (route_rule_in_scope(&c, &c.rules[f][i]))
				(*rules)++;
		for (i = 0; i < c.nroutes[f]; i++)
			if (route_route_in_scope(&c, &c.routes[f][i]))
				(*routes)++;
	}
	ret = 0;
out:
	route_ctx_free(&c);
	return ret;
}
