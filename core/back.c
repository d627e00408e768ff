/*
 * back.c - the back half: reply routing without SNAT on the backend (see
 * back.h), the running daemon. A small libevent loop: signals and the
 * watchdog (core/daemon.c), a 200 ms debounced rtnetlink and nftables watch
 * (core/watch.c) that restores what a link flap or an operator removed,
 * SIGHUP reload, sd_notify. The setup is in back_setup.c and
 * back_recover.c, the control socket's answers in back_ctl.c.
 */
#include <arpa/inet.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/back.h"
#include "core/back_int.h"
#include "core/back_slot.h"
#include "core/check.h"
#include "core/ctl.h"
#include "core/json.h"
#include "core/log.h"
#include "core/notify.h"
#include "core/reexec.h"
#include "core/watch.h"
#include "tun/nft.h"
#include "tun/nl_watch.h"
#include "tun/route.h"
#include "tun/sysctl.h"

/* Debounced: put back whatever went missing. */
static void
back_reconcile(evutil_socket_t fd, short what, void *arg)
{
	struct back *b = arg;
	struct timeval retry = { 0, BACK_RETRY_MS * 1000 };
	char err[ERRLEN];

	(void)fd;
	(void)what;
	b->restoring = true;
	if (back_install(b, false, err) == -1) {
		b->st.repair_errors++;
		back_fail(b, err);
		evtimer_add(b->debounce, &retry);
	} else if (b->last_err[0] != '\0') {
		log_info("reply routing is complete again");
		b->last_err[0] = '\0';
	}
	b->restoring = false;
}

/* Open the watch sockets and attach them to the loop. */
static int
back_watch_open(struct back *b, char *err)
{
	struct mnl_socket *s[2] = { NULL, NULL };
	int i;

	if ((s[0] = nl_watch_open(NL_WATCH_LINK | NL_WATCH_ADDR |
	    NL_WATCH_ROUTE | NL_WATCH_RULE, err)) == NULL) {
		return -1;
	}
	if (b->mode == CONF_MARK_CONNMARK && (s[1] = nft_watch_open(err)) == NULL) {
		nl_watch_close(s[0]);
		return -1;
	}
	for (i = 0; i < 2; i++) {
		if (s[i] == NULL)
			continue;
		if (watch_feed_open(&b->watch[i], b->base, s[i], b->debounce,
		    BACK_DEBOUNCE_MS) == -1) {
			if (i == 0)
				nl_watch_close(s[1]);
			snprintf(err, ERRLEN, "cannot watch netlink events");
			return -1;
		}
	}
	return 0;
}

/* Close the watch sockets. */
static void
back_watch_close(struct back *b)
{
	int i;

	for (i = 0; i < 2; i++)
		watch_feed_close(&b->watch[i]);
}

/*
 * After a reload: number the new config's tunnels from the old one's (a
 * section keeps its number, back_slot.h), and carry what was found and
 * said about each kept tunnel along to its new place in the file.
 */
static void
back_renumber(struct back *b, const struct back *old)
{
	const struct conf_back *cb = &b->conf.back, *ob = &old->conf.back;
	struct back_slot_prev prev[BACK_TUNNELS];
	size_t t, o;

	for (o = 0; o < ob->ntunnel; o++) {
		prev[o].name = ob->tunnel[o].name;
		prev[o].ifname = ob->tunnel[o].tunnel_interface;
		prev[o].slot = old->slot[o];
	}
	back_slot_assign(prev, ob->ntunnel, cb->tunnel, cb->ntunnel,
	    BACK_TUNNELS, b->slot);
	for (t = 0; t < cb->ntunnel; t++) {
		memset(&b->tun[t], 0, sizeof(b->tun[t]));
		for (o = 0; o < ob->ntunnel; o++)
			if (old->slot[o] == b->slot[t] &&
			    strcmp(ob->tunnel[o].tunnel_interface,
			    cb->tunnel[t].tunnel_interface) == 0)
				b->tun[t] = old->tun[o];
	}
}

/* Install a new config, or put the old one back and return -1. */
static int
back_switch(struct back *b, struct conf *c, char *err)
{
	struct back old = *b;
	char e[ERRLEN], ne[ERRLEN];

	b->conf = *c;
	back_renumber(b, &old);
	back_mode(b);
	if (old.mode == CONF_MARK_CONNMARK && b->mode != CONF_MARK_CONNMARK)
		(void)nft_remove(ne);
	back_watch_close(b);
	if (back_install(b, true, err) == 0 && back_watch_open(b, err) == 0) {
		conf_free(&old.conf);
		memset(c, 0, sizeof(*c));
		return 0;
	}
	/* back to the running configuration */
	*c = b->conf;
	b->conf = old.conf;
	b->mode = old.mode;
	memcpy(b->slot, old.slot, sizeof(b->slot));
	memcpy(b->tun, old.tun, sizeof(b->tun));
	back_watch_close(b);
	if (b->mode != CONF_MARK_CONNMARK)
		(void)nft_remove(ne);
	if (back_install(b, true, e) == -1 || back_watch_open(b, e) == -1)
		log_warnx("reload: restoring the running configuration: %s", e);
	return -1;
}

/* SIGHUP: read the file again; a bad file keeps the running config. */
static void
back_reload(void *arg)
{
	struct back *b = arg;
	struct conf_errors *errs;
	struct conf c;
	char err[ERRLEN];
	size_t i;

	log_info("reloading %s", b->path);
	if ((errs = malloc(sizeof(*errs))) == NULL) {
		log_warnx("reload: out of memory");
		return;
	}
	if (conf_load(b->path, &c, errs) == -1) {
		for (i = 0; i < errs->n; i++)
			log_warnx("reload: %s", errs->e[i].msg);
		log_warnx("reload: %s has errors; keeping the running "
		    "configuration", b->path);
		b->st.reload_errors++;
	} else if (c.role != CONF_ROLE_BACK) {
		log_warnx("reload: %s is no longer a [back] configuration; "
		    "keeping the running one", b->path);
		conf_free(&c);
		b->st.reload_errors++;
	} else if (back_switch(b, &c, err) == -1) {
		log_warnx("reload: %s; keeping the running configuration", err);
		conf_free(&c);
		b->st.reload_errors++;
	} else {
		b->st.reloads++;
		back_describe(b);
		log_info("reloaded %s", b->path);
	}
	free(errs);
}

/* Signals and the watchdog (core/daemon.c), and the debounce timer. */
static int
back_events(struct back *b)
{
	if (daemon_start(&b->daemon, b->base, back_reload, b,
	    "replies still routed") == -1)
		return -1;
	if ((b->debounce = evtimer_new(b->base, back_reconcile, b)) == NULL)
		return -1;
	return 0;
}

/* Free the loop's events and sockets. */
static void
back_free(struct back *b)
{
	back_watch_close(b);
	ctl_close(&b->ctl);
	daemon_free(&b->daemon);
	if (b->debounce != NULL)
		event_free(b->debounce);
	if (b->base != NULL)
		event_base_free(b->base);
	if (b->nl.sock != NULL)
		nl_close(&b->nl);
	conf_free(&b->conf);
}

/* The tunnel interfaces, joined with ", ". */
static const char *
back_names(const struct back *b, char *buf, size_t len)
{
	size_t t, o = 0;

	buf[0] = '\0';
	for (t = 0; t < b->conf.back.ntunnel && o < len; t++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", t ? ", " : "",
		    b->conf.back.tunnel[t].tunnel_interface);
	return buf;
}

/* Run the back half until told to stop. */
int
back_run(const char *path, struct conf *c)
{
	struct back *b;
	char err[ERRLEN], e[ERRLEN], re[ERRLEN];
	char names[CONF_BACK_TUNNELS_MAX * IFNAMSIZ];
	bool restart = false;
	int rc = 1;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		fatal("back");
	b->path = path;
	b->conf = *c;
	b->ctl.fd = -1;
	memset(c, 0, sizeof(*c));	/* ours now */
	signal(SIGPIPE, SIG_IGN);
	if ((b->base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	if (nl_open(&b->nl, e) == -1) {
		log_msg(LOG_CRIT, "not started: netlink: %s", e);
		goto out;
	}
	back_mode(b);
	back_recover(b);
	sysctl_undo_start();	/* what we change is put back at the end */
	snprintf(err, sizeof(err), "cannot set up the event loop");
	if (back_events(b) == -1 || back_install(b, true, err) == -1 ||
	    back_watch_open(b, err) == -1) {
		log_msg(LOG_CRIT, "not started: %s (what was installed is "
		    "removed)", err);
		goto stop;
	}
	if (back_ctl(b) == -1)
		goto stop;
	back_describe(b);
	log_info("ready: routing replies of %s flows back through the "
	    "tunnel they arrived on", back_names(b, names, sizeof(names)));
	notify_send("READY=1\nSTATUS=routing replies through the tunnel");
	event_base_dispatch(b->base);
	rc = 0;
	if ((restart = b->daemon.restart))
		goto out;	/* the next image reconciles what is installed */
	notify_send("STOPPING=1");
stop:
	back_remove(b);
	if (sysctl_undo_restore(log_note, NULL) > 0)
		log_warnx("some sysctls could not be put back (logged above)");
out:
	back_free(b);
	free(b);
	if (restart) {
		if (reexec_exec(re) == -1)
			log_msg(LOG_CRIT, "restart failed: %s (run again, or "
			    "tunrelay cleanup)", re);
		rc = 1;
	}
	return rc;
}
