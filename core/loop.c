/*
 * loop.c - the front's event loop (libevent): read a bounded batch from each
 * TUN device, let the engine translate, write back; sweep expired flows once
 * a second; SIGHUP reloads, SIGTERM/SIGINT stop. No allocation per packet:
 * one buffer serves every read.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/alarm.h"
#include "core/ctl.h"
#include "core/flowlog.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/metrics.h"
#include "core/notify.h"
#include "core/watch.h"

#define LOOP_BATCH 64
#define LOOP_BUFSIZE (65536 + TUNDEV_VNET_HDR_MRG_LEN)

struct loop;

struct loop_dev {
	struct loop *l;
	enum nat_side side;
	int fd;
	unsigned int hdrlen;
	struct event *ev;
};

struct loop {
	const char *path;
	struct event_base *base;
	struct front front;
	struct loop_dev dev[NAT_SIDE_MAX];
	struct event *sig[3];
	struct event *sweep, *watchdog;
	struct ctl ctl;
	struct metrics metrics;
	struct flowlog flowlog;
	struct loop_stats st;
	struct alarm alarm;
	struct watch watch;
	uint8_t *buf;
	bool failed;		/* stopped by an error, not a signal */
};

/* Milliseconds of the monotonic clock. */
uint64_t
loop_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Write one packet (with its virtio-net header) back into a TUN device. */
static void
loop_write(struct loop *l, const struct loop_dev *d, struct nat_pkt *pkt)
{
	static const struct nat_vnet none;
	uint8_t *start = pkt->data - d->hdrlen;
	ssize_t n;

	if (d->hdrlen > 0) {
		memset(start, 0, d->hdrlen);
		tundev_vnet_build(pkt->vnet ? pkt->vnet : &none, start);
	}
	n = write(d->fd, start, d->hdrlen + pkt->len);
	if (n == -1) {
		l->st.tx_errors++;
		return;
	}
	l->st.tx_packets++;
	l->st.tx_bytes += pkt->len;
}

/* Send on fragments the engine kept until their first fragment came. */
static void
loop_pending(struct loop *l, const struct loop_dev *d)
{
	struct nat_pkt pkt;
	enum nat_side side;

	int r;

	pkt.data = l->buf + d->hdrlen;
	pkt.cap = LOOP_BUFSIZE - d->hdrlen;
	pkt.vnet = NULL;
	pkt.len = 0;
	while ((r = nat_pending(l->front.nat, &pkt, &side)) != 0) {
		if (r == 1)
			loop_write(l, d, &pkt);
		pkt.len = 0;
	}
}

/*
 * Whether a packet is the TUN link's own IPv6 chatter (multicast listener
 * reports, router solicitations): link-local or multicast, never relayed
 * and not worth handing back to the kernel.
 */
static bool
loop_link_local(const struct nat_pkt *pkt)
{
	const uint8_t *p = pkt->data;

	return pkt->len >= 40 && (p[0] >> 4) == 6 &&
	    (p[24] == 0xff || (p[8] == 0xfe && (p[9] & 0xc0) == 0x80));
}

/* One packet read from a TUN device. */
static void
loop_packet(struct loop *l, const struct loop_dev *d, size_t n, uint64_t now)
{
	struct nat_vnet vnet;
	struct nat_pkt pkt;
	enum nat_verdict v;

	if (n < d->hdrlen) {
		l->st.rx_errors++;
		return;
	}
	pkt.data = l->buf + d->hdrlen;
	pkt.len = n - d->hdrlen;
	pkt.cap = LOOP_BUFSIZE - d->hdrlen;
	pkt.vnet = NULL;
	if (d->hdrlen > 0) {
		if (tundev_vnet_parse(l->buf, &vnet) == -1) {
			l->st.bad_vnet++;
			return;
		}
		pkt.vnet = &vnet;
	}
	l->st.rx_packets++;
	l->st.rx_bytes += pkt.len;
	v = nat_process(l->front.nat, &pkt, d->side, now, NULL);
	if (v == NAT_FORWARD || v == NAT_REPLY ||
	    (v == NAT_NOT_OURS && !loop_link_local(&pkt)))
		loop_write(l, d, &pkt);
	loop_pending(l, d);
}

/* A TUN device is readable: drain a bounded batch. */
static void
loop_tun(evutil_socket_t fd, short what, void *arg)
{
	struct loop_dev *d = arg;
	struct loop *l = d->l;
	uint64_t now = loop_now();
	ssize_t n;
	int i;

	(void)what;
	for (i = 0; i < LOOP_BATCH; i++) {
		n = read(fd, l->buf, LOOP_BUFSIZE);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			/* the device is gone (deleted under us): a level-
			 * triggered event would spin; let the supervisor
			 * restart the relay */
			l->st.rx_errors++;
			log_warn("reading %s", l->front.side[d->side].dev.name);
			log_warnx("stopping: the TUN device cannot be read");
			l->failed = true;
			event_base_loopbreak(l->base);
			break;
		}
		loop_packet(l, d, (size_t)n, now);
	}
}

/* Once a second: expire idle flows, a slice of the table at a time. */
static void
loop_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct loop *l = arg;
	struct nat_stats st;

	(void)fd;
	(void)what;
	nat_get_stats(l->front.nat, &st);
	nat_sweep(l->front.nat, loop_now(), (size_t)(st.flows_active / 4) + 1024);
	alarm_check(&l->alarm, &st, loop_now());
	flowlog_flush(&l->flowlog);
}

/* Write one flow log line. */
static void
loop_flowlog_emit(const char *line, void *arg)
{
	(void)arg;
	log_info("%s", line);
}

/* Apply flow_log and flow_log_rate of the running config. */
static void
loop_flowlog_conf(struct loop *l)
{
	const struct conf_front *cf = &l->front.conf.front;

	flowlog_set(&l->flowlog, cf->flow_log, cf->flow_log_rate);
	/* no hook when off: a new flow then costs nothing extra */
	nat_set_flow_hook(l->front.nat, cf->flow_log ? flowlog_hook : NULL,
	    &l->flowlog);
}

/* The snapshot behind `tunrelay stats` and the metrics endpoint. */
static void
loop_fill(struct stats_snap *snap, void *arg)
{
	struct loop *l = arg;

	stats_fill(snap, l->front.nat, &l->st, &l->flowlog);
}

/* Start the metrics endpoint when the config asks for one. */
static int
loop_metrics(struct loop *l)
{
	char err[METRICS_ERRLEN];

	l->ctl.fill = loop_fill;
	l->ctl.fill_arg = l;
	if (metrics_listen(&l->metrics, l->base, &l->front.conf.front.metrics,
	    l->front.conf.control_group, loop_fill, l, err) == -1) {
		log_warnx("%s", err);
		return -1;
	}
	if (l->front.conf.front.metrics.on)
		log_info("metrics on http://%s/metrics", l->metrics.where);
	return 0;
}

/* A reload cannot move the metrics endpoint: say so when it would. */
static void
loop_metrics_keep(const struct conf_metrics *o, const struct conf_metrics *n)
{
	if (o->on == n->on && o->port == n->port &&
	    memcmp(&o->addr, &n->addr, sizeof(o->addr)) == 0 &&
	    (o->path == NULL) == (n->path == NULL) &&
	    (o->path == NULL || strcmp(o->path, n->path) == 0))
		return;
	log_warnx("reload: metrics needs a restart; the endpoint stays as "
	    "it was");
}

/* Tell the service manager we are alive. */
static void
loop_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	notify_send("WATCHDOG=1");
}

/* (Re)attach read events to the devices of every used side. */
static int
loop_attach(struct loop *l)
{
	struct loop_dev *d;
	int i;

	for (i = 0; i < NAT_SIDE_MAX; i++) {
		d = &l->dev[i];
		if (!l->front.side[i].used || d->ev != NULL)
			continue;
		d->l = l;
		d->side = (enum nat_side)i;
		d->fd = l->front.side[i].dev.fds[0];
		d->hdrlen = l->front.side[i].dev.vnet_hdr_len;
		d->ev = event_new(l->base, d->fd, EV_READ | EV_PERSIST, loop_tun, d);
		if (d->ev == NULL || event_add(d->ev, NULL) == -1)
			return -1;
	}
	return 0;
}

/* SIGHUP: read the file again; a bad file keeps the running config. */
static void
loop_reload(struct loop *l)
{
	struct conf_errors errs;
	struct conf c;
	char err[FRONT_ERRLEN];
	size_t i;

	log_info("reloading %s", l->path);
	if (conf_load(l->path, &c, &errs) == -1) {
		for (i = 0; i < errs.n; i++)
			log_warnx("reload: %s", errs.e[i].msg);
		log_warnx("reload: %s has errors; keeping the running "
		    "configuration", l->path);
		l->st.reload_errors++;
		return;
	}
	if (c.role != CONF_ROLE_FRONT) {
		log_warnx("reload: %s is no longer a [front] configuration; "
		    "keeping the running one", l->path);
		conf_free(&c);
		l->st.reload_errors++;
		return;
	}
	loop_metrics_keep(&l->front.conf.front.metrics, &c.front.metrics);
	if (front_reload(&l->front, &c, err) == -1) {
		log_warnx("reload: %s; keeping the running configuration", err);
		conf_free(&c);
		l->st.reload_errors++;
		return;
	}
	if (loop_attach(l) == -1)
		log_warnx("reload: cannot watch a new TUN device");
	loop_flowlog_conf(l);
	l->st.reloads++;
	log_info("reloaded %s", l->path);
}

/* The host changed under the relay (core/watch.c): re-read it like SIGHUP. */
static void
loop_reread(void *arg)
{
	loop_reload(arg);
}

/* Signals: TERM/INT stop the loop, HUP reloads. */
static void
loop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct loop *l = arg;

	(void)what;
	if (sig == SIGHUP) {
		char msg[64];

		snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		    (unsigned long long)loop_now() * 1000);
		notify_send(msg);
		loop_reload(l);
		notify_send("READY=1");
		return;
	}
	log_info("%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	event_base_loopbreak(l->base);
}

/* Timers and signals. */
static int
loop_events(struct loop *l)
{
	static const int sigs[3] = { SIGTERM, SIGINT, SIGHUP };
	struct timeval one = { 1, 0 }, wd;
	unsigned long long usec = notify_watchdog_usec();
	int i;

	for (i = 0; i < 3; i++) {
		l->sig[i] = evsignal_new(l->base, sigs[i], loop_signal, l);
		if (l->sig[i] == NULL || evsignal_add(l->sig[i], NULL) == -1)
			return -1;
	}
	l->sweep = event_new(l->base, -1, EV_PERSIST, loop_sweep, l);
	if (l->sweep == NULL || event_add(l->sweep, &one) == -1)
		return -1;
	if (usec == 0)
		return 0;
	wd.tv_sec = (time_t)(usec / 2000000);
	wd.tv_usec = (suseconds_t)(usec / 2 % 1000000);
	l->watchdog = event_new(l->base, -1, EV_PERSIST, loop_watchdog, l);
	if (l->watchdog == NULL || event_add(l->watchdog, &wd) == -1)
		return -1;
	log_info("watchdog every %llu ms", usec / 2000);
	return 0;
}

/* Free the loop's events. */
static void
loop_free(struct loop *l)
{
	int i;

	for (i = 0; i < NAT_SIDE_MAX; i++)
		if (l->dev[i].ev)
			event_free(l->dev[i].ev);
	for (i = 0; i < 3; i++)
		if (l->sig[i])
			event_free(l->sig[i]);
	if (l->sweep)
		event_free(l->sweep);
	if (l->watchdog)
		event_free(l->watchdog);
	ctl_close(&l->ctl);
	metrics_close(&l->metrics);
	watch_close(&l->watch);
	if (l->base)
		event_base_free(l->base);
	free(l->buf);
}

/* Run the front until told to stop. */
int
loop_run(const char *path, struct conf *c)
{
	struct loop *l;
	char err[FRONT_ERRLEN];
	int rc = 1;

	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->buf = malloc(LOOP_BUFSIZE)) == NULL)
		fatal("loop");
	l->path = path;
	l->metrics.fd = -1;
	flowlog_init(&l->flowlog, &l->front.conf, loop_now, loop_flowlog_emit,
	    NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((l->base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	if (front_start(&l->front, c, err) == -1) {
		log_warnx("%s", err);
		goto out;
	}
	if (loop_attach(l) == -1 || loop_events(l) == -1) {
		log_warnx("cannot set up the event loop");
		goto stop;
	}
	if (watch_open(&l->watch, l->base, &l->front, loop_reread, l,
	    err) == -1) {
		log_warnx("%s", err);
		goto stop;
	}
	if (ctl_listen(&l->ctl, l->base, l->front.conf.control_socket,
	    l->front.conf.control_group, &l->front, &l->st, err) == -1) {
		log_warnx("control socket: %s", err);
		goto stop;
	}
	if (loop_metrics(l) == -1)
		goto stop;
	loop_flowlog_conf(l);
	log_info("ready: relaying (control socket %s)",
	    l->front.conf.control_socket);
	notify_send("READY=1\nSTATUS=relaying");
	event_base_dispatch(l->base);
	rc = l->failed ? 1 : 0;
	notify_send("STOPPING=1");
stop:
	front_stop(&l->front);
out:
	loop_free(l);
	free(l);
	return rc;
}
