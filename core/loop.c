/*
 * loop.c - the front's event loop (libevent): read a bounded batch from each
 * TUN device, let the engine translate, write back; sweep expired flows once
 * a second; SIGHUP reloads, SIGTERM/SIGINT stop. No allocation per packet:
 * each queue has one buffer that serves every read.
 *
 * With queues > 1 every TUN device has that many queues (IFF_MULTI_QUEUE)
 * and queue q of every device is served by one event loop: queue 0 by the
 * main thread's loop (which also keeps signals, the sweep, the control
 * socket, metrics, the interface watch and reload; so queues = 1 runs one
 * thread, as before), queue q >= 1 by thread trl-qN with its own base. The engine has one
 * shard per queue (core/engine.h): a packet locks its flow's shard only,
 * never across a system call; everything else here takes every shard
 * (front_lock).
 *
 * TUN I/O takes one of two paths, chosen at start and logged: io_uring
 * (core/tunio.c: when a device is readable, rounds of non-blocking reads,
 * each round submitted together with the writes of the last one, one
 * system call per round), or, where io_uring is missing or refused and
 * with tun_io = readwrite, one read() and one write() per packet. With
 * busy_poll = N either path keeps reading the queue's devices until none
 * has had a packet for N microseconds before it sleeps again. The packet
 * path itself is core/loop_packet.c; this file sets the loop up, reloads,
 * restarts and stops it.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "core/alarm.h"
#include "core/ctl.h"
#include "core/flowlog.h"
#include "core/front.h"
#include "core/health.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/loop_queue.h"
#include "core/metrics.h"
#include "core/notify.h"
#include "core/reexec.h"
#include "core/stats.h"
#include "core/tunio.h"
#include "core/watch.h"

/* Milliseconds of the monotonic clock. */
uint64_t
loop_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A queue failed: end the main loop (main thread). */
static void
loop_failed(evutil_socket_t fd, short what, void *arg)
{
	struct loop *l = arg;

	(void)fd;
	(void)what;
	event_base_loopbreak(l->base);
}

/* Once a second: expire idle flows, a slice of the table at a time. */
static void
loop_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct loop *l = arg;
	struct nat_stats st;

	(void)fd;
	(void)what;
	front_lock(&l->front);
	engine_get_stats(l->front.eng, &st);
	front_unlock(&l->front);
	/* shard by shard: the other queues translate meanwhile */
	engine_sweep(l->front.eng, loop_now(),
	    (size_t)(st.flows_active / 4) + 1024);
	alarm_check(&l->alarm, &st, loop_now());
	pthread_mutex_lock(&l->flowlog_lock);
	flowlog_flush(&l->flowlog);
	pthread_mutex_unlock(&l->flowlog_lock);
}

/* The engine's flow hook: shards call it under their own locks, so the
 * flow log takes its own. */
static void
loop_flowlog_hook(const struct nat_flow_info *fi, enum nat_flow_event ev,
    void *arg)
{
	struct loop *l = arg;

	pthread_mutex_lock(&l->flowlog_lock);
	flowlog_hook(fi, ev, &l->flowlog);
	pthread_mutex_unlock(&l->flowlog_lock);
}

/* Write one flow log line. */
static void
loop_flowlog_emit(const char *line, void *arg)
{
	(void)arg;
	log_info("%s", line);
}

/* Apply flow_log and flow_log_rate of the running config (engine locked). */
static void
loop_flowlog_conf(struct loop *l)
{
	const struct conf_front *cf = &l->front.conf.front;

	pthread_mutex_lock(&l->flowlog_lock);
	flowlog_set(&l->flowlog, cf->flow_log, cf->flow_log_rate);
	pthread_mutex_unlock(&l->flowlog_lock);
	/* no hook when off: a new flow then costs nothing extra */
	engine_set_flow_hook(l->front.eng, cf->flow_log ? loop_flowlog_hook :
	    NULL, l);
}

/* Sum the loop counters: the main thread's and every queue's. */
static void
loop_sum(const struct loop *l, struct loop_stats *out)
{
	/* struct loop_stats is uint64_t fields only: add them as an array */
	const size_t n = sizeof(*out) / sizeof(uint64_t);
	uint64_t *o = (uint64_t *)out;
	const uint64_t *c;
	unsigned int q;
	size_t i;

	*out = l->st;
	for (q = 0; q < l->nq; q++) {
		c = (const uint64_t *)&l->q[q].st;
		for (i = 0; i < n; i++)
			o[i] += atomic_load_explicit((const _Atomic uint64_t *)
			    &c[i], memory_order_relaxed);
	}
}

/* The snapshot behind `tunrelay stats` and the metrics endpoint. */
static void
loop_fill(struct stats_snap *snap, void *arg)
{
	struct loop *l = arg;

	front_lock(&l->front);
	pthread_mutex_lock(&l->flowlog_lock);
	stats_fill(snap, l->front.eng, NULL, &l->flowlog);
	pthread_mutex_unlock(&l->flowlog_lock);
	front_unlock(&l->front);
	loop_sum(l, &snap->loop);
}

/* The per-rule and per-backend samples of a scrape. */
static void
loop_prom_rules(struct evbuffer *out, void *arg)
{
	struct loop *l = arg;
	struct stats_rule *r;
	struct stats_backend *b;
	size_t n, nb = 0;

	r = calloc(STATS_MAX_RULES, sizeof(*r));
	b = calloc(STATS_MAX_BACKENDS, sizeof(*b));
	if (r == NULL || b == NULL) {
		free(r);
		free(b);
		return;
	}
	front_lock(&l->front);
	n = stats_rules(l->front.eng, &l->front.conf, r, STATS_MAX_RULES);
	nb = stats_backends(l->front.eng, &l->front.conf, b,
	    STATS_MAX_BACKENDS);
	front_unlock(&l->front);
	stats_prom_rules(r, n, out);
	stats_prom_backends(b, nb, out);
	free(r);
	free(b);
}

/* Start the metrics endpoint when the config asks for one. */
static int
loop_metrics(struct loop *l)
{
	char err[ERRLEN];

	l->ctl.fill = loop_fill;
	l->ctl.fill_arg = l;
	if (metrics_listen(&l->metrics, l->base, &l->front.conf.front.metrics,
	    l->front.conf.control_group, loop_fill, l, err) == -1) {
		log_msg(LOG_CRIT, "not started: %s", err);
		return -1;
	}
	l->metrics.extra = loop_prom_rules;
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

/*
 * (Re)attach read events to queue q of every used side's device. Safe while
 * the queue's thread runs: event_add on another thread's base takes its
 * lock and wakes it (evthread_use_pthreads), which also publishes *d.
 */
static int
loop_attach_q(struct loop *l, struct loop_q *q)
{
	const struct tundev *dev;
	struct loop_dev *d;
	int i;

	for (i = 0; i < NAT_SIDE_MAX; i++) {
		d = &q->dev[i];
		dev = &l->front.side[i].dev;
		if (!l->front.side[i].used || d->ev != NULL ||
		    q->idx >= dev->nfds)
			continue;
		d->q = q;
		d->side = (enum nat_side)i;
		d->fd = dev->fds[q->idx];
		d->hdrlen = dev->vnet_hdr_len;
		snprintf(d->name, sizeof(d->name), "%s", dev->name);
		d->ev = event_new(q->base, d->fd, EV_READ | EV_PERSIST, loop_tun, d);
		if (d->ev == NULL || event_add(d->ev, NULL) == -1)
			return -1;
	}
	return 0;
}

/* (Re)attach read events to every queue of every used side. */
static int
loop_attach(struct loop *l)
{
	unsigned int q;

	for (q = 0; q < l->nq; q++)
		if (loop_attach_q(l, &l->q[q]) == -1)
			return -1;
	return 0;
}

/* A reload cannot change tun_io, busy_poll or shards: say so when it would. */
static void
loop_io_keep(const struct conf_front *o, const struct conf_front *n)
{
	if (o->tun_io_rw != n->tun_io_rw || o->busy_poll != n->busy_poll ||
	    o->shards != n->shards)
		log_warnx("reload: tun_io, busy_poll and shards need a "
		    "restart; the running values stay");
}

/* SIGHUP: read the file again; a bad file keeps the running config. */
static void
loop_reload(struct loop *l)
{
	struct conf_errors errs;
	struct conf c;
	char err[ERRLEN];
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
	loop_io_keep(&l->front.conf.front, &c.front);
	/*
	 * the whole reload under the engine lock: it changes the engine, the
	 * config the flow log names rules from, and the flow hook; the queue
	 * threads wait (as the one loop did before there were threads)
	 */
	front_lock(&l->front);
	if (front_reload(&l->front, &c, err) == -1) {
		front_unlock(&l->front);
		log_warnx("reload: %s; keeping the running configuration", err);
		conf_free(&c);
		l->st.reload_errors++;
		return;
	}
	loop_flowlog_conf(l);
	front_unlock(&l->front);
	if (loop_attach(l) == -1)
		log_warnx("reload: cannot watch a new TUN device");
	health_reload(&l->health);
	l->st.reloads++;
	log_info("reloaded %s", l->path);
}

/* The host changed under the relay (core/watch.c): re-read it like SIGHUP. */
static void
loop_reread(void *arg)
{
	loop_reload(arg);
}

/* Timers and signals. */
static int
loop_events(struct loop *l)
{
	struct timeval one = { 1, 0 };

	/* SIGHUP re-reads like a host change (loop_reread) */
	if (daemon_start(&l->daemon, l->base, loop_reread, l,
	    "connections kept") == -1)
		return -1;
	l->sweep = event_new(l->base, -1, EV_PERSIST, loop_sweep, l);
	if (l->sweep == NULL || event_add(l->sweep, &one) == -1)
		return -1;
	return 0;
}

/* A queue thread: run queue q's event loop until the main thread stops it. */
static void *
loop_queue_thread(void *arg)
{
	struct loop_q *q = arg;
	char name[16];

	snprintf(name, sizeof(name), "trl-q%u", q->idx);
	pthread_setname_np(pthread_self(), name);
	event_base_dispatch(q->base);
	return NULL;
}

/* The main thread asks a queue thread to end its loop (its own base). */
static void
loop_queue_stop(evutil_socket_t fd, short what, void *arg)
{
	struct loop_q *q = arg;

	(void)fd;
	(void)what;
	event_base_loopbreak(q->base);
}

/* Choose the TUN I/O path (io_uring when it works) and say which runs. */
static void
loop_io_mode(struct loop *l)
{
	const struct conf_front *cf = &l->front.conf.front;
	char why[ERRLEN];

	l->busy_poll = cf->busy_poll;
	if (cf->tun_io_rw)
		log_info("TUN I/O: read/write per packet (tun_io = readwrite)");
	else if (tunio_probe(why) == -1)
		log_info("TUN I/O: read/write per packet (io_uring "
		    "unavailable: %s)", why);
	else {
		l->uring = true;
		log_info("TUN I/O: io_uring, up to %d reads and their writes "
		    "per system call", LOOP_RING_MAX);
	}
	if (l->busy_poll > 0)
		log_info("busy poll: up to %u us on an empty queue (one CPU "
		    "busy per active queue meanwhile)", l->busy_poll);
}

/* Queue q's ring (io_uring path); without one it reads and writes. */
static int
loop_ring_new(struct loop_q *q)
{
	char err[ERRLEN];

	/* the probe's small ring worked; a later one can still fail (the
	 * locked-memory limit of older kernels): that queue reads and writes */
	if ((q->io = tunio_new(LOOP_RING_SLOTS, LOOP_BUFSIZE, err)) == NULL)
		log_warnx("queue %u: %s; this queue uses read/write", q->idx,
		    err);
	return 0;
}

/* Set up the queues: buffers, and for q >= 1 a base and a stop event. */
static int
loop_queues(struct loop *l)
{
	struct loop_q *q;
	unsigned int i;

	l->nq = l->front.nqueues;
	/* aligned: each queue's counters on cache lines of their own */
	l->q = aligned_alloc(LOOP_CACHELINE, l->nq * sizeof(*l->q));
	if (l->q == NULL)
		fatal("loop");
	memset(l->q, 0, l->nq * sizeof(*l->q));
	for (i = 0; i < l->nq; i++) {
		q = &l->q[i];
		q->l = l;
		q->idx = i;
		if ((q->buf = malloc(LOOP_BUFSIZE)) == NULL)
			fatal("loop");
		if (i == 0)
			q->base = l->base;
		else if ((q->base = event_base_new()) == NULL ||
		    (q->stop = event_new(q->base, -1, 0, loop_queue_stop,
		    q)) == NULL)
			return -1;
		if (l->uring && loop_ring_new(q) == -1)
			return -1;
	}
	l->fail = event_new(l->base, -1, 0, loop_failed, l);
	return l->fail == NULL ? -1 : 0;
}

/* Start one thread per queue q >= 1, signals blocked (the main thread's). */
static int
loop_threads_start(struct loop *l)
{
	sigset_t all, old;
	unsigned int i;
	int e, rc = 0;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 1; i < l->nq; i++) {
		if ((e = pthread_create(&l->q[i].thread, NULL,
		    loop_queue_thread, &l->q[i])) != 0) {
			errno = e;
			log_warn("starting the thread of queue %u", i);
			rc = -1;
			break;
		}
		l->q[i].running = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* Stop and join the queue threads. */
static void
loop_threads_stop(struct loop *l)
{
	unsigned int i;

	for (i = 1; i < l->nq; i++) {
		if (!l->q[i].running)
			continue;
		/* an active event, not event_base_loopbreak: a break sent
		 * before the thread entered its loop would be forgotten */
		event_active(l->q[i].stop, EV_TIMEOUT, 0);
		pthread_join(l->q[i].thread, NULL);
		l->q[i].running = false;
	}
}

/*
 * Cancel and free the rings (threads joined) before the TUN devices
 * close: reads in flight would keep the devices a while after a stop.
 */
static void
loop_rings_free(struct loop *l)
{
	unsigned int i;

	for (i = 0; l->q != NULL && i < l->nq; i++) {
		tunio_free(l->q[i].io);
		l->q[i].io = NULL;
	}
}

/* Free the queues' events, bases and buffers (threads joined). */
static void
loop_queues_free(struct loop *l)
{
	struct loop_q *q;
	unsigned int i;
	int j;

	for (i = 0; l->q != NULL && i < l->nq; i++) {
		q = &l->q[i];
		for (j = 0; j < NAT_SIDE_MAX; j++)
			if (q->dev[j].ev)
				event_free(q->dev[j].ev);
		if (q->stop)
			event_free(q->stop);
		tunio_free(q->io);
		if (i > 0 && q->base)
			event_base_free(q->base);
		free(q->buf);
	}
	free(l->q);
}

/* Free the loop's events. */
static void
loop_free(struct loop *l)
{
	loop_queues_free(l);
	daemon_free(&l->daemon);
	if (l->sweep)
		event_free(l->sweep);
	if (l->fail)
		event_free(l->fail);
	ctl_close(&l->ctl);
	metrics_close(&l->metrics);
	watch_close(&l->watch);
	health_close(&l->health);
	if (l->base)
		event_base_free(l->base);
}

/* Run the front until told to stop. */
int
loop_run(const char *path, struct conf *c)
{
	struct loop *l;
	char err[ERRLEN > ERRLEN ? ERRLEN : ERRLEN];
	bool restart = false;
	int rc = 1;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		fatal("loop");
	l->path = path;
	l->metrics.fd = -1;
	pthread_mutex_init(&l->flowlog_lock, NULL);
	flowlog_init(&l->flowlog, &l->front.conf, loop_now, loop_flowlog_emit,
	    NULL);
	signal(SIGPIPE, SIG_IGN);
	/* before any base: the queue threads and the main thread call into
	 * each other's bases (event_add, event_active) */
	if (evthread_use_pthreads() == -1)
		fatalx("evthread_use_pthreads failed");
	if ((l->base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	if (front_start(&l->front, c, err) == -1) {
		log_msg(LOG_CRIT, "not started: %s (nothing is left installed)",
		    err);
		goto out;
	}
	reexec_close_untaken();
	loop_io_mode(l);
	if (loop_queues(l) == -1 || loop_attach(l) == -1 ||
	    loop_events(l) == -1) {
		log_msg(LOG_CRIT, "not started: cannot set up the event loop");
		goto stop;
	}
	if (watch_open(&l->watch, l->base, &l->front, loop_reread, l,
	    err) == -1) {
		log_msg(LOG_CRIT, "not started: %s", err);
		goto stop;
	}
	if (ctl_listen(&l->ctl, l->base, l->front.conf.control_socket,
	    l->front.conf.control_group, &l->front, &l->st, err) == -1) {
		log_msg(LOG_CRIT, "not started: control socket: %s", err);
		goto stop;
	}
	l->ctl.conf_path = path;
	if (loop_metrics(l) == -1)
		goto stop;
	health_open(&l->health, l->base, &l->front);
	front_lock(&l->front);
	loop_flowlog_conf(l);
	front_unlock(&l->front);
	if (loop_threads_start(l) == -1)
		goto threads;
	log_info("ready: relaying (control socket %s)",
	    l->front.conf.control_socket);
	notify_send("READY=1\nSTATUS=relaying");
	event_base_dispatch(l->base);
	rc = atomic_load(&l->failed) ? 1 : 0;
	/* a planned stop: no restart will take the saved flows over */
	l->front.clean_stop = rc == 0;
	l->front.handover = restart = rc == 0 && l->daemon.restart;
	if (!restart)
		notify_send("STOPPING=1");
threads:
	loop_threads_stop(l);
	loop_rings_free(l);
stop:
	front_stop(&l->front);
out:
	loop_free(l);
	pthread_mutex_destroy(&l->flowlog_lock);
	free(l);
	if (restart) {
		/* only on failure: the rules stay, as after a crash */
		if (reexec_exec(err) == -1)
			log_msg(LOG_CRIT, "restart failed: %s (run again, or "
			    "tunrelay cleanup)", err);
		rc = 1;
	}
	return rc;
}
