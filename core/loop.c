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
 * thread, as before), queue q >= 1 by thread trl-qN with its own base. The engine is shared: one lock (front_lock)
 * around every nat_* call, taken per packet, never across a system call.
 *
 * TUN I/O takes one of two paths, chosen at start and logged: io_uring
 * (core/tunio.c: when a device is readable, rounds of non-blocking reads,
 * each round submitted together with the writes of the last one, one
 * system call per round), or, where io_uring is missing or refused and
 * with tun_io = readwrite, one read() and one write() per packet. With
 * busy_poll = N either path keeps reading the queue's devices until none
 * has had a packet for N microseconds before it sleeps again.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "core/alarm.h"
#include "core/ctl.h"
#include "core/flowlog.h"
#include "core/health.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/metrics.h"
#include "core/notify.h"
#include "core/reexec.h"
#include "core/tunio.h"
#include "core/watch.h"

#define LOOP_BATCH 64
#define LOOP_BUFSIZE (65536 + TUNDEV_VNET_HDR_MRG_LEN)
#define LOOP_RING_SLOTS 64	/* io_uring: packet buffers per queue */
#define LOOP_RING_MAX 32	/* io_uring: most reads in one submission */

#define LOOP_CACHELINE 64

struct loop;
struct loop_q;

/* One queue of one side's TUN device. */
struct loop_dev {
	struct loop_q *q;
	enum nat_side side;
	int fd;				/* the device's fds[q] */
	unsigned int hdrlen;
	char name[IFNAMSIZ];		/* for the log: the front's may change */
	struct event *ev;
	bool failed;			/* said once that it cannot be read */
	bool seen;			/* its queue thread has had an event for it */
};

/*
 * One queue index: fds[q] of every used device, with its own buffer and
 * counters. Aligned so that two threads' counters never share a cache line.
 */
struct loop_q {
	struct loop *l;
	unsigned int idx;
	struct event_base *base;	/* queue 0: the main thread's */
	struct loop_dev dev[NAT_SIDE_MAX];
	struct event *stop;		/* q >= 1: the main thread ends the loop */
	pthread_t thread;
	bool running;
	uint8_t *buf;			/* reads (read/write path), pending fragments */
	struct tunio *io;		/* io_uring path, else NULL */
	bool ring_off;			/* its reads refused: read/write instead */
	/* written by this queue's thread only, read with relaxed atomics */
	_Alignas(LOOP_CACHELINE) struct loop_stats st;
};

struct loop {
	const char *path;
	struct event_base *base;
	struct front front;
	struct loop_q *q;		/* front.nqueues of them */
	unsigned int nq;
	struct event *sig[4];
	struct event *sweep, *watchdog;
	struct event *fail;		/* activated by a queue that cannot read */
	struct ctl ctl;
	struct metrics metrics;
	struct flowlog flowlog;		/* touched under the engine lock only */
	struct loop_stats st;		/* main thread: reloads, reload_errors */
	struct alarm alarm;
	struct watch watch;
	struct health health;		/* backend checks (main thread) */
	atomic_bool failed;		/* stopped by an error, not a signal */
	bool uring;			/* TUN I/O through io_uring */
	uint32_t busy_poll;		/* microseconds to spin on an empty queue */
	bool restart;			/* SIGUSR2: execute the binary again */
};

/* Milliseconds of the monotonic clock. */
uint64_t
loop_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Add n to a counter its queue's thread alone writes (readers: loop_sum). */
static inline void
loop_count(uint64_t *c, uint64_t n)
{
	/* one writer: a relaxed load and store, no locked instruction */
	atomic_store_explicit((_Atomic uint64_t *)c, atomic_load_explicit(
	    (_Atomic uint64_t *)c, memory_order_relaxed) + n,
	    memory_order_relaxed);
}

/* Put the virtio-net header before a packet; where the frame starts. */
static uint8_t *
loop_frame(const struct loop_dev *d, struct nat_pkt *pkt)
{
	static const struct nat_vnet none;
	uint8_t *start = pkt->data - d->hdrlen;

	if (d->hdrlen > 0) {
		memset(start, 0, d->hdrlen);
		tundev_vnet_build(pkt->vnet ? pkt->vnet : &none, start);
	}
	return start;
}

/* Take the engine lock for a queue's packet, counting when it must wait. */
static void
loop_lock(struct loop_q *q)
{
	struct front *f = &q->l->front;

	if (front_trylock(f) == 0)
		return;
	loop_count(&q->st.lock_waits, 1);
	front_lock(f);
}

/* Write one packet (with its virtio-net header) back into a TUN device. */
static void
loop_write(struct loop_q *q, const struct loop_dev *d, struct nat_pkt *pkt)
{
	uint8_t *start = loop_frame(d, pkt);
	ssize_t n;

	n = write(d->fd, start, d->hdrlen + pkt->len);
	if (n == -1) {
		loop_count(&q->st.tx_errors, 1);
		return;
	}
	loop_count(&q->st.tx_packets, 1);
	loop_count(&q->st.tx_bytes, pkt->len);
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

/*
 * Whether a packet the engine left alone (NAT_NOT_OURS) goes back to the
 * kernel (engine locked: the front's addresses change on reload). The
 * host's own traffic does (to one of the front's addresses); so does
 * anything else with other_traffic = route, and the kernel routes it.
 * With other_traffic = drop it is dropped, as the blackhole rules would
 * have dropped it had it not been captured (ICMP and fragments are
 * captured by protocol, whatever their destination). The TUN link's own
 * IPv6 chatter never goes back.
 */
static bool
loop_hand_back(struct loop_q *q, const struct nat_pkt *pkt)
{
	struct front *f = &q->l->front;

	if (loop_link_local(pkt))
		return false;
	if (f->conf.front.route_other || front_own_dst(f, pkt->data, pkt->len))
		return true;
	loop_count(&q->st.not_ours_dropped, 1);
	return false;
}

/* Send on fragments the engine kept until their first fragment came. */
static void
loop_pending(struct loop_q *q, const struct loop_dev *d)
{
	struct front *f = &q->l->front;
	struct nat_pkt pkt;
	enum nat_side side;
	int r;

	pkt.data = q->buf + d->hdrlen;
	pkt.cap = LOOP_BUFSIZE - d->hdrlen;
	pkt.vnet = NULL;
	pkt.len = 0;
	for (;;) {
		/* the lock is dropped before each write: a system call
		 * under it would stall every other queue */
		loop_lock(q);
		r = nat_pending(f->nat, &pkt, &side);
		if (r == 2)	/* untouched: the rest of a datagram not ours */
			r = loop_hand_back(q, &pkt) ? 1 : -1;
		front_unlock(f);
		if (r == 0)
			break;
		if (r == 1)
			loop_write(q, d, &pkt);
		pkt.len = 0;
	}
}

/*
 * Translate one packet of n bytes read into buf (vnet header first);
 * whether it goes back out, as *pkt (its vnet pointing at *vnet).
 */
static bool
loop_translate(struct loop_q *q, const struct loop_dev *d, uint8_t *buf,
    size_t n, uint64_t now, struct nat_pkt *pkt, struct nat_vnet *vnet)
{
	struct front *f = &q->l->front;
	enum nat_verdict v;
	bool back;

	if (n < d->hdrlen) {
		loop_count(&q->st.rx_errors, 1);
		return false;
	}
	pkt->data = buf + d->hdrlen;
	pkt->len = n - d->hdrlen;
	pkt->cap = LOOP_BUFSIZE - d->hdrlen;
	pkt->vnet = NULL;
	if (d->hdrlen > 0) {
		if (tundev_vnet_parse(buf, vnet) == -1) {
			loop_count(&q->st.bad_vnet, 1);
			return false;
		}
		pkt->vnet = vnet;
	}
	loop_count(&q->st.rx_packets, 1);
	loop_count(&q->st.rx_bytes, pkt->len);
	/* per packet, not per batch: a batch would hold the lock across
	 * up to LOOP_BATCH reads and writes and serialise the queues */
	loop_lock(q);
	v = nat_process(f->nat, pkt, d->side, now, NULL);
	back = v == NAT_NOT_OURS && loop_hand_back(q, pkt);
	front_unlock(f);
	return v == NAT_FORWARD || v == NAT_REPLY || back;
}

/* One packet read from a TUN device (read/write path). */
static void
loop_packet(struct loop_q *q, const struct loop_dev *d, size_t n, uint64_t now)
{
	struct nat_vnet vnet;
	struct nat_pkt pkt;

	if (loop_translate(q, d, q->buf, n, now, &pkt, &vnet))
		loop_write(q, d, &pkt);
	loop_pending(q, d);
}

/*
 * A queue cannot read its device (deleted under us): stop the whole relay
 * the way a signal would, from whichever thread; the supervisor restarts it.
 */
static void
loop_failing(struct loop_q *q, struct loop_dev *d)
{
	struct loop *l = q->l;

	loop_count(&q->st.rx_errors, 1);
	if (d->failed)
		return;		/* the ring's other reads fail alike */
	d->failed = true;
	log_warn("reading %s (queue %u)", d->name, q->idx);
	/* a level-triggered event would spin on the error */
	if (d->ev != NULL)
		event_del(d->ev);
	if (atomic_exchange(&l->failed, true))
		return;		/* another queue said it already */
	log_warnx("stopping: the TUN device cannot be read");
	/* thread-safe (evthread_use_pthreads): the main loop breaks */
	event_active(l->fail, EV_TIMEOUT, 0);
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

/* Nanoseconds of the monotonic clock (busy-poll deadlines). */
static uint64_t
loop_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* Read and handle a bounded batch (read/write path); packets handled. */
static unsigned int
loop_rw_drain(struct loop_q *q, struct loop_dev *d)
{
	uint64_t now = loop_now();
	unsigned int got;
	ssize_t n;

	for (got = 0; got < LOOP_BATCH; got++) {
		n = read(d->fd, q->buf, LOOP_BUFSIZE);
		if (n == -1) {
			if (errno != EAGAIN && errno != EINTR)
				loop_failing(q, d);
			break;
		}
		loop_packet(q, d, (size_t)n, now);
	}
	return got;
}

/*
 * The kernel refuses the ring's non-blocking reads of a TUN device (a
 * kernel whose TUN lacks RWF_NOWAIT support): the queue goes on with
 * read/write. The ring stays, for writes still in flight.
 */
static void
loop_ring_off(struct loop_q *q, int err)
{
	if (q->ring_off)
		return;
	q->ring_off = true;
	log_warnx("queue %u: io_uring reads of the TUN device refused (%s): "
	    "read/write per packet from now on", q->idx, strerror(err));
}

/*
 * A read finished on the ring: translate, queue the write back (or give
 * the buffer back). Whether it brought a packet.
 */
static bool
loop_ring_read(struct loop_q *q, const struct tunio_done *c, uint64_t now)
{
	struct loop_dev *d = &q->dev[c->dev];
	struct nat_vnet vnet;
	struct nat_pkt pkt;

	if (c->res < 0) {
		tunio_release(q->io, c->slot);
		if (c->res == -EOPNOTSUPP || c->res == -EINVAL)
			loop_ring_off(q, -c->res);
		else if (c->res != -EAGAIN && c->res != -EINTR) {
			errno = -c->res;
			loop_failing(q, d);
		}
		return false;
	}
	if (loop_translate(q, d, c->buf, (size_t)c->res, now, &pkt, &vnet))
		tunio_write(q->io, c->slot, loop_frame(d, &pkt),
		    d->hdrlen + pkt.len);
	else
		tunio_release(q->io, c->slot);
	/* rare (fragments held for their first): written at once */
	loop_pending(q, d);
	return true;
}

/* A write finished on the ring (its slot is free again). */
static void
loop_ring_wrote(struct loop_q *q, const struct tunio_done *c)
{
	const struct loop_dev *d = &q->dev[c->dev];

	if (c->res < 0) {
		loop_count(&q->st.tx_errors, 1);
		return;
	}
	loop_count(&q->st.tx_packets, 1);
	loop_count(&q->st.tx_bytes, (uint64_t)c->res - d->hdrlen);
}

/*
 * Handle every completion waiting on the ring; the packets read. *empty
 * is set when a read found its device empty (or failing).
 */
static unsigned int
loop_ring_reap(struct loop_q *q, uint64_t now, bool *empty)
{
	struct tunio_done c;
	unsigned int got = 0;

	while (tunio_next(q->io, &c) == 1) {
		if (c.kind == TUNIO_WRITE)
			loop_ring_wrote(q, &c);
		else if (loop_ring_read(q, &c, now))
			got++;
		else
			*empty = true;
	}
	return got;
}

/* Queue up to want reads of d; how many (0: every buffer is busy). */
static unsigned int
loop_ring_reads(struct loop_q *q, const struct loop_dev *d, unsigned int want)
{
	unsigned int n;

	for (n = 0; n < want; n++)
		if (tunio_read(q->io, d->fd, (unsigned int)d->side) == -1)
			break;
	return n;
}

/* Submit what the ring has queued, counting the system call; false on error. */
static bool
loop_ring_submit(struct loop_q *q)
{
	switch (tunio_submit(q->io)) {
	case 1:
		loop_count(&q->st.io_submits, 1);
		return true;
	case 0:
		return true;
	default:
		log_warn("io_uring submit (queue %u)", q->idx);
		return false;
	}
}

/*
 * Read and handle a bounded batch through the ring; packets handled. Each
 * round submits the writes of the last one with the next reads (one
 * system call), twice as many reads as the last round while the device
 * keeps them all busy.
 */
static unsigned int
loop_ring_drain(struct loop_q *q, struct loop_dev *d)
{
	uint64_t now = loop_now();
	unsigned int want = 1, got = 0, n;
	bool empty = false, waited = false;

	while (got < LOOP_BATCH && !empty && !d->failed) {
		if ((n = loop_ring_reads(q, d, want)) == 0) {
			/* all buffers wait for writes: let one finish */
			if (waited || tunio_wait(q->io) == -1)
				break;
			waited = true;
			loop_count(&q->st.io_submits, 1);
		} else if (!loop_ring_submit(q))
			break;
		got += loop_ring_reap(q, now, &empty);
		if (want < LOOP_RING_MAX)
			want *= 2;
	}
	/* the last rounds' writes (they finish inside the call), again while
	 * a reap queued more: nothing may wait for the next readable event */
	do {
		if (!loop_ring_submit(q))
			break;
		empty = false;
		n = loop_ring_reap(q, now, &empty);
		got += n;
	} while (n > 0);
	return got;
}

/* Read and handle a bounded batch from one device, by the running path. */
static unsigned int
loop_drain(struct loop_q *q, struct loop_dev *d)
{
	if (q->io != NULL && !q->ring_off)
		return loop_ring_drain(q, d);
	return loop_rw_drain(q, d);
}

/*
 * busy_poll: keep reading every device of the queue until none has had a
 * packet for busy_poll microseconds, instead of going back to sleep; a
 * packet that comes meanwhile costs no wake-up.
 */
static void
loop_busy(struct loop_q *q)
{
	uint64_t span = (uint64_t)q->l->busy_poll * 1000;
	uint64_t now = loop_ns(), until = now + span;
	/* back to the event loop within 2 spans: its timers (sweep,
	 * watchdog), signals and the stop event must not wait for a pause
	 * in the traffic; a device still readable calls us again at once */
	uint64_t cap = now + 2 * span;
	struct loop_dev *d;
	int i;

	while ((now = loop_ns()) < until && now < cap) {
		for (i = 0; i < NAT_SIDE_MAX; i++) {
			d = &q->dev[i];
			/* only devices whose events this thread has had: the
			 * main thread fills a new one in (a reload) unlocked */
			if (!d->seen || d->failed)
				continue;
			if (loop_drain(q, d) > 0)
				until = loop_ns() + span;
		}
		/* a CPU shared with the traffic's own processes (the
		 * client, the server, the kernel's softirq work) goes to
		 * them first: spinning must not delay the answer it waits for */
		sched_yield();
	}
}

/* A TUN device is readable: drain a bounded batch. */
static void
loop_tun(evutil_socket_t fd, short what, void *arg)
{
	struct loop_dev *d = arg;
	struct loop_q *q = d->q;

	(void)fd;
	(void)what;
	d->seen = true;
	if (loop_drain(q, d) > 0 && q->l->busy_poll > 0)
		loop_busy(q);
}

/* Once a second: expire idle flows, a slice of the table at a time. */
static void
loop_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct loop *l = arg;
	struct nat_stats st;

	(void)fd;
	(void)what;
	/* the flow log is the engine's hook: flushed under the same lock */
	front_lock(&l->front);
	nat_get_stats(l->front.nat, &st);
	nat_sweep(l->front.nat, loop_now(), (size_t)(st.flows_active / 4) + 1024);
	alarm_check(&l->alarm, &st, loop_now());
	flowlog_flush(&l->flowlog);
	front_unlock(&l->front);
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

	flowlog_set(&l->flowlog, cf->flow_log, cf->flow_log_rate);
	/* no hook when off: a new flow then costs nothing extra */
	nat_set_flow_hook(l->front.nat, cf->flow_log ? flowlog_hook : NULL,
	    &l->flowlog);
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
			o[i] += atomic_load_explicit((_Atomic uint64_t *)
			    &c[i], memory_order_relaxed);
	}
}

/* The snapshot behind `tunrelay stats` and the metrics endpoint. */
static void
loop_fill(struct stats_snap *snap, void *arg)
{
	struct loop *l = arg;

	front_lock(&l->front);
	stats_fill(snap, l->front.nat, NULL, &l->flowlog);
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
	n = stats_rules(l->front.nat, &l->front.conf, r, STATS_MAX_RULES);
	nb = stats_backends(l->front.nat, &l->front.conf, b,
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
	char err[METRICS_ERRLEN];

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

/* Tell the service manager we are alive. */
static void
loop_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	notify_send("WATCHDOG=1");
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

/* A reload cannot change tun_io or busy_poll: say so when it would. */
static void
loop_io_keep(const struct conf_front *o, const struct conf_front *n)
{
	if (o->tun_io_rw != n->tun_io_rw || o->busy_poll != n->busy_poll)
		log_warnx("reload: tun_io and busy_poll need a restart; the "
		    "running values stay");
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

/* SIGUSR2: stop the loop for a restart, if the binary can be executed. */
static void
loop_restart(struct loop *l)
{
	char err[REEXEC_ERRLEN], msg[64];

	if (reexec_ready(err) == -1) {
		log_warnx("SIGUSR2: cannot restart (%s); still running", err);
		return;
	}
	log_info("SIGUSR2: restarting, connections kept");
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)loop_now() * 1000);
	notify_send(msg);
	l->restart = true;
	event_base_loopbreak(l->base);
}

/* Signals: TERM/INT stop the loop, HUP reloads, USR2 restarts. */
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
	if (sig == SIGUSR2) {
		loop_restart(l);
		return;
	}
	log_info("%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	event_base_loopbreak(l->base);
}

/* Timers and signals. */
static int
loop_events(struct loop *l)
{
	static const int sigs[4] = { SIGTERM, SIGINT, SIGHUP, SIGUSR2 };
	struct timeval one = { 1, 0 }, wd;
	unsigned long long usec = notify_watchdog_usec();
	int i;

	for (i = 0; i < 4; i++) {
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

/* A queue thread: run queue q's event loop until the main thread stops it. */
static void *
loop_q_main(void *arg)
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
loop_q_stop(evutil_socket_t fd, short what, void *arg)
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
	char why[TUNIO_ERRLEN];

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
	char err[TUNIO_ERRLEN];

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
		    (q->stop = event_new(q->base, -1, 0, loop_q_stop, q)) == NULL)
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
		if ((e = pthread_create(&l->q[i].thread, NULL, loop_q_main,
		    &l->q[i])) != 0) {
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
	int i;

	loop_queues_free(l);
	for (i = 0; i < 4; i++)
		if (l->sig[i])
			event_free(l->sig[i]);
	if (l->sweep)
		event_free(l->sweep);
	if (l->watchdog)
		event_free(l->watchdog);
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
	char err[FRONT_ERRLEN > REEXEC_ERRLEN ? FRONT_ERRLEN : REEXEC_ERRLEN];
	bool restart = false;
	int rc = 1;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		fatal("loop");
	l->path = path;
	l->metrics.fd = -1;
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
	l->front.handover = restart = rc == 0 && l->restart;
	if (!restart)
		notify_send("STOPPING=1");
threads:
	loop_threads_stop(l);
	loop_rings_free(l);
stop:
	front_stop(&l->front);
out:
	loop_free(l);
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
