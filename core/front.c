/*
 * front.c - the front relay's life: start (the engine's settings, the TUN
 * devices, one per side so the engine knows where a packet came from, and
 * the policy routing that steers traffic into them), reload, stop and the
 * cleanup after a killed instance. The rules are built in
 * core/front_rules.c, the host facts gathered in core/front_host.c, the
 * kernel objects installed by core/front_kernel.c.
 */
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/front.h"
#include "core/front_host.h"
#include "core/front_kernel.h"
#include "core/front_rules.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/reexec.h"
#include "tun/sysctl.h"

/* Whether the config sends every port of a family to a backend. */
static bool
front_has_backend(const struct front *f, uint8_t family)
{
	size_t i;

	for (i = 0; i < f->set.nrules; i++)
		if (CONF_RULE_KIND(f->rules[i].id) == CONF_RULE_BACKEND &&
		    f->rules[i].family == family)
			return true;
	return false;
}

/* Log what the relay captures, once. */
static void
front_describe(const struct front *f)
{
	char a[64], buf[128];
	size_t i;

	for (i = 0; i < f->host.npub_all; i++)
		log_info("public address %s",
		    conf_ntop(f->host.pub_all_family[i], &f->host.pub_all[i],
		    a, sizeof(a)));
	if (front_has_backend(f, 4) || front_has_backend(f, 6))
		log_info("ports %d-%d stay with the host (ip_local_port_range) "
		    "so its own connections keep working", f->host.eph_lo,
		    f->host.eph_hi);
	for (i = 0; i < f->set.nrules; i++)
		log_info("rule: %s", conf_nat_rule_name(&f->conf,
		    f->rules[i].id, buf, sizeof(buf)));
}

/* Whether addr (of engine family fam) is one of the front's own addresses. */
static bool
front_own_addr(const struct front *f, uint8_t fam, const uint8_t *addr)
{
	size_t alen = fam == 4 ? 4 : 16, i;
	const struct nat_rule *r;

	for (i = 0; i < f->host.npub_all; i++)
		if (f->host.pub_all_family[i] == fam &&
		    memcmp(f->host.pub_all[i].b, addr, alen) == 0)
			return true;
	for (i = 0; i < f->set.nrules; i++) {
		r = &f->rules[i];
		if (r->family == fam && r->action == NAT_RULE_DNAT &&
		    r->source == NAT_SOURCE_RELAY &&
		    memcmp(r->relay_src.b, addr, alen) == 0)
			return true;
	}
	if (fam == 4)
		return f->set.hairpin4 &&
		    memcmp(f->set.hairpin_src4.b, addr, 4) == 0;
	return f->set.hairpin6 && memcmp(f->set.hairpin_src6.b, addr, 16) == 0;
}

/*
 * Whether an IP packet goes to one of the front's own addresses (the
 * public ones, the relay and hairpin sources): the only destinations of
 * the captures that come before "lookup local".
 */
bool
front_own_dst(const struct front *f, const uint8_t *p, size_t len)
{
	if (len >= 20 && (p[0] >> 4) == 4)
		return front_own_addr(f, 4, p + 16);
	if (len >= 40 && (p[0] >> 4) == 6)
		return front_own_addr(f, 6, p + 24);
	return false;
}

/* The number of queues of a [front]: auto (0) = online CPUs, capped. */
unsigned int
front_queues(const struct conf_front *cf)
{
	long n = cf->queues;

	if (n == 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;		/* sysconf failed: one queue works everywhere */
	return n > TUNDEV_MAXQUEUES ? TUNDEV_MAXQUEUES : (unsigned int)n;
}

/* Take every shard's lock. */
void
front_lock(struct front *f)
{
	engine_lock_all(f->eng);
}

/* Release every shard's lock. */
void
front_unlock(struct front *f)
{
	engine_unlock_all(f->eng);
}

/* Make the engine: one shard per queue where the settings allow it. */
static int
front_engine(struct front *f, char err[ERRLEN])
{
	unsigned int want = f->conf.front.shards == 1 ? 1 : f->nqueues;

	if ((f->eng = engine_create(&f->set, want, err)) == NULL) {
		err_prefix(err, "engine");
		return -1;
	}
	if (engine_shards(f->eng) > 1)
		log_info("engine: %u shards, one per queue: the queues "
		    "translate in parallel", engine_shards(f->eng));
	else if (want > 1)
		log_info("engine: one shard behind one lock (%s)",
		    f->eng->why);
	else if (f->nqueues > 1)
		log_info("engine: one shard behind one lock (shards = 1)");
	return 0;
}

/* Set up the engine, devices and routes; takes ownership of *c on success. */
int
front_start(struct front *f, struct conf *c, char err[ERRLEN])
{
	int i;

	memset(f, 0, sizeof(*f));
	f->conf = *c;
	f->nqueues = front_queues(&c->front);
	log_info("%u queue%s per TUN device%s", f->nqueues,
	    f->nqueues == 1 ? "" : "s",
	    c->front.queues == 0 ? " (queues = auto: one per online CPU)" : "");
	sysctl_undo_start();	/* what we change is put back by front_stop */
	if (nl_open(&f->nl, err) == -1) {
		err_prefix(err, "netlink");
		return -1;
	}
	if (front_host(f, err) == -1 ||
	    front_settings(f, &f->set, &f->rules, err) == -1)
		goto fail;
	if (front_engine(f, err) == -1)
		goto fail;
	/* before any device exists: the first packet read finds its flow */
	statefile_open(&f->state, f->conf.front.state_file, f->eng, loop_now());
	front_ndp_on(f);
	if (front_rules(f, err) == -1 || front_forwarding(f, err) == -1)
		goto fail;
	for (i = 0; i < NAT_SIDE_MAX; i++)
		f->side[i].used = f->side[i].nrules > 0;
	front_unroute_unused(f);	/* leftovers of an earlier instance */
	for (i = 0; i < NAT_SIDE_MAX; i++) {
		if (f->side[i].used &&
		    front_open_dev(f, (enum nat_side)i, true, err) == -1)
			goto fail;
	}
	if (front_apply(f, err) == -1)
		goto fail;
	front_steer(f);
	front_describe(f);
	memset(c, 0, sizeof(*c));	/* the front owns the config now */
	return 0;
fail:
	memset(c, 0, sizeof(*c));
	*c = f->conf;
	memset(&f->conf, 0, sizeof(f->conf));
	front_stop(f);
	return -1;
}

/* Tear down: routes first (traffic falls back to the host), then devices. */
void
front_stop(struct front *f)
{
	char e[ERRLEN];
	int i;

	/* a restart leaves the rules to the next image: it reconciles them */
	if (!f->handover && f->nl.sock != NULL && front_unroute(&f->nl, e) == -1)
		log_warnx("removing routing rules: %s", e);
	for (i = 0; i < NAT_SIDE_MAX; i++) {
		if (f->side[i].dev.nfds == 0)
			continue;
		/* a restart keeps the device, its routes and queued packets */
		if (f->handover && reexec_hand_tun(&f->side[i].dev) == -1)
			log_warnx("restart: %s closed, not handed over (too "
			    "many queues)", front_devname[i]);
		if (!f->handover)
			tundev_close(&f->side[i].dev);
	}
	if (f->nl.sock != NULL)
		nl_close(&f->nl);
	if (!f->handover && sysctl_undo_restore(log_note, NULL) > 0)
		log_warnx("some sysctls could not be put back (logged above)");
	engine_destroy(f->eng);
	statefile_close(&f->state, f->clean_stop && !f->handover);
	free(f->rules);
	conf_free(&f->conf);
	memset(f, 0, sizeof(*f));
}

/*
 * The control socket is made once, at start: a reload keeps its path and
 * group (the new file's values are logged, and apply after a restart).
 */
static void
front_keep_ctl(struct conf *nc, struct conf *oc)
{
	char *t;

	if (strcmp(nc->control_socket, oc->control_socket) != 0 ||
	    (nc->control_group == NULL) != (oc->control_group == NULL) ||
	    (nc->control_group != NULL &&
	    strcmp(nc->control_group, oc->control_group) != 0))
		log_warnx("reload: control_socket and control_group need a "
		    "restart; keeping %s", oc->control_socket);
	t = nc->control_socket;
	nc->control_socket = oc->control_socket;
	oc->control_socket = t;
	t = nc->control_group;
	nc->control_group = oc->control_group;
	oc->control_group = t;
}

/* The state file is opened once, at start: a reload keeps it. */
static void
front_keep_state(const struct conf *nc, const struct conf *oc)
{
	const char *n = nc->front.state_file, *o = oc->front.state_file;

	if ((n == NULL) != (o == NULL) || (n != NULL && strcmp(n, o) != 0))
		log_warnx("reload: state_file needs a restart; keeping %s",
		    o != NULL ? o : "off");
}

/*
 * Apply a new config: new engine settings (flows kept), new devices where a
 * side appears, new rules. The old config stays when anything fails.
 */
int
front_reload(struct front *f, struct conf *c, char err[ERRLEN])
{
	struct front old = *f;
	struct nat_settings s;
	struct nat_rule *r = NULL;
	char ne[ERRLEN], re[ERRLEN];
	bool reapply = false;
	int i;

	f->conf = *c;
	if (front_host(f, err) == -1 || front_settings(f, &s, &r, err) == -1)
		goto fail;
	if (s.max_flows != old.set.max_flows)
		log_warnx("reload: max_flows %u needs a restart; keeping %u",
		    s.max_flows, old.set.max_flows);
	s.max_flows = old.set.max_flows;
	if (front_queues(&c->front) != f->nqueues)
		log_warnx("reload: queues %u needs a restart; keeping %u",
		    front_queues(&c->front), f->nqueues);
	memcpy(s.hash_key, old.set.hash_key, sizeof(s.hash_key));
	f->set = s;
	f->rules = r;
	front_ndp_on(f);
	if (front_rules(f, err) == -1 || front_forwarding(f, err) == -1)
		goto fail;
	for (i = 0; i < NAT_SIDE_MAX; i++) {
		if (f->side[i].nrules > 0 && !f->side[i].used) {
			if (front_open_dev(f, (enum nat_side)i, false, err) == -1)
				goto fail;
			f->side[i].used = true;
		}
	}
	if (engine_reconfigure(f->eng, &f->set, &old.set, err) == -1) {
		err_prefix(err, "engine");
		goto fail;
	}
	if (front_apply(f, err) == -1) {
		engine_reconfigure(f->eng, &old.set, &f->set, ne);
		reapply = true;
		goto fail;
	}
	front_steer(f);	/* nat_ports, or a new side's device */
	front_keep_ctl(&f->conf, &old.conf);
	front_keep_state(&f->conf, &old.conf);
	if (f->set.nat_port_lo != old.set.nat_port_lo ||
	    f->set.nat_port_hi != old.set.nat_port_hi)
		statefile_refresh(&f->state, f->eng);
	free(old.rules);
	conf_free(&old.conf);
	memset(c, 0, sizeof(*c));
	front_describe(f);
	return 0;
fail:
	free(r);
	for (i = 0; i < NAT_SIDE_MAX; i++)
		if (f->side[i].used && !old.side[i].used)
			tundev_close(&f->side[i].dev);
	*c = f->conf;
	memcpy(f->side, old.side, sizeof(f->side));
	f->conf = old.conf;
	f->set = old.set;
	f->rules = old.rules;
	f->host = old.host;
	f->icmp6 = old.icmp6;
	for (i = 0; i < NAT_SIDE_MAX; i++)
		front_spec(&f->side[i], (enum nat_side)i, f->side[i].dev.ifindex);
	/* sides applied before the failure carry new rules: put the old back */
	if (reapply && front_apply(f, re) == -1)
		log_warnx("reload: restoring the running rules: %s", re);
	return -1;
}

/* Remove what a killed instance left: our rules and routes. */
int
front_cleanup(char err[ERRLEN])
{
	struct nl nl;
	int rc;

	if (nl_open(&nl, err) == -1) {
		err_prefix(err, "netlink");
		return -1;
	}
	rc = front_unroute(&nl, err);
	nl_close(&nl);
	return rc;
}

/* Remove a killed instance's state file unless a restart will take it over. */
int
front_cleanup_state(const struct conf *c, char err[ERRLEN])
{
	const char *result = getenv("SERVICE_RESULT");

	if (c->front.state_file == NULL)
		return 0;
	/* systemd runs ExecStopPost before Restart=on-failure starts again */
	if (result != NULL && strcmp(result, "success") != 0) {
		log_info("cleanup: keeping %s (service result %s: a restart "
		    "takes its flows over)", c->front.state_file, result);
		return 0;
	}
	if (statefile_remove(c->front.state_file) == -1) {
		snprintf(err, ERRLEN, "%s: %s", c->front.state_file,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Count our rules and routes. */
int
front_count(struct nl *nl, size_t *rules, size_t *routes,
    char err[ERRLEN])
{
	struct front_side sd;
	size_t r, t;
	int i;

	*rules = *routes = 0;
	for (i = 0; i < NAT_SIDE_MAX; i++) {
		memset(&sd, 0, sizeof(sd));
		front_spec(&sd, (enum nat_side)i, 0);
		sd.spec.local_prio = FRONT_PRIO_LOCAL;
		if (route_count(nl, &sd.spec, &r, &t, err) == -1) {
			return -1;
		}
		*rules += r;
		*routes += t;
	}
	return 0;
}

/*
 * tunrelay show-rules: the policy rules and routes run would install for
 * a [front], computed as run does (from the host's interfaces and
 * addresses) and printed in ip(8) syntax; nothing is installed. 0, or -1
 * with a message.
 */
int
front_show(const struct conf *c, FILE *out, char err[ERRLEN])
{
	struct front f;
	char buf[256];
	size_t i, j;
	int rc = -1;

	memset(&f, 0, sizeof(f));
	f.conf = *c;
	if (nl_open(&f.nl, err) == -1) {
		err_prefix(err, "netlink");
		return -1;
	}
	if (front_host(&f, err) == -1 ||
	    front_settings(&f, &f.set, &f.rules, err) == -1 ||
	    front_rules(&f, err) == -1)
		goto out;
	for (i = 0; i < NAT_SIDE_MAX; i++) {
		if (f.side[i].nrules == 0)
			continue;
		front_spec(&f.side[i], (enum nat_side)i, 0);
		fprintf(out, "# TUN device %s: table %u, rule priorities %u-%u, "
		    "tagged proto %d\n", front_devname[i], f.side[i].spec.table,
		    f.side[i].spec.prio_lo, f.side[i].spec.prio_hi,
		    NL_PROTO_TUNRELAY);
		fprintf(out, "route default dev %s table %u (IPv4 and IPv6 as "
		    "relayed)\n", front_devname[i], f.side[i].spec.table);
		for (j = 0; j < f.side[i].nrules; j++)
			fprintf(out, "%s rule %s\n", f.side[i].rules[j].family ==
			    AF_INET6 ? "ip -6" : "ip", nl_rule_str(
			    &f.side[i].rules[j], buf, sizeof(buf)));
	}
	if (f.side[NAT_SIDE_PUBLIC].nrules > 0)
		fprintf(out, "# the kernel's priority-0 \"lookup local\" rule "
		    "moves to priority %d\n", FRONT_PRIO_LOCAL);
	for (i = 0; i < f.set.nrules; i++)
		fprintf(out, "# engine rule: %s\n", conf_nat_rule_name(&f.conf,
		    f.rules[i].id, buf, sizeof(buf)));
	rc = 0;
out:
	free(f.rules);
	nl_close(&f.nl);
	return rc;
}
