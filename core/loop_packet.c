/*
 * loop_packet.c - the packet path of a queue: read a bounded batch from
 * each TUN device (io_uring rounds or read/write), let the engine translate,
 * write back or hand back to the host; busy polling. Entry: loop_tun.
 */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/loop_queue.h"
#include "core/tunio.h"

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

/*
 * Lock the shard of a queue's packet (data[0..len) from side), counting
 * when it is not the queue's own or another thread holds it.
 */
static unsigned int
loop_lock(struct loop_q *q, const uint8_t *data, size_t len,
    enum nat_side side)
{
	bool crossed, waited;
	unsigned int s;

	s = engine_enter(q->l->front.eng, q->idx, data, len, side, &crossed,
	    &waited);
	if (crossed)
		loop_count(&q->st.shard_crossed, 1);
	if (waited)
		loop_count(&q->st.lock_waits, 1);
	return s;
}

/*
 * Whether a packet may release fragments the engine holds: only a
 * fragment can (its first brings the rest), so the others skip the look.
 * IPv6 extension headers before a fragment header count as one.
 */
static bool
loop_fragment(const struct nat_pkt *pkt)
{
	const uint8_t *p = pkt->data;

	if (pkt->len >= 20 && (p[0] >> 4) == 4)
		return (p[6] & 0x3f) != 0 || p[7] != 0;
	if (pkt->len >= 40 && (p[0] >> 4) == 6)
		return p[6] == 44 || p[6] == 0 || p[6] == 43 || p[6] == 60;
	return false;
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

/*
 * The queue's device of a side into *w, where a released fragment goes
 * back (the side its datagram came from: another queue may have read it,
 * and the shared table hands it to whichever drains it). Under a shard's
 * lock: a reload opens devices with every shard locked. False when the
 * side has no device.
 */
static bool
loop_side_dev(const struct loop_q *q, enum nat_side side, struct loop_dev *w)
{
	const struct front *f = &q->l->front;
	const struct tundev *dev;

	if ((unsigned int)side >= NAT_SIDE_MAX || !f->side[side].used)
		return false;
	dev = &f->side[side].dev;
	if (q->idx >= dev->nfds)
		return false;
	memset(w, 0, sizeof(*w));	/* loop_write needs fd and hdrlen */
	w->side = side;
	w->fd = dev->fds[q->idx];
	w->hdrlen = dev->vnet_hdr_len;
	return true;
}

/* Send on fragments the engine kept until their first fragment came. */
static void
loop_pending(struct loop_q *q)
{
	struct front *f = &q->l->front;
	struct loop_dev w;
	struct nat_pkt pkt;
	enum nat_side side;
	unsigned int s;
	int r;

	/* room before it for the virtio-net header of any device */
	pkt.data = q->buf + TUNDEV_VNET_HDR_MRG_LEN;
	pkt.cap = LOOP_BUFSIZE - TUNDEV_VNET_HDR_MRG_LEN;
	pkt.vnet = NULL;
	pkt.len = 0;
	for (;;) {
		/* the lock is dropped before each write: a system call
		 * under it would stall every other queue */
		/* the held fragments are in a table every shard shares:
		 * the queue's own shard takes them out */
		s = engine_lock(f->eng, q->idx);
		r = nat_pending(engine_nat(f->eng, s), &pkt, &side);
		if (r == 2)	/* untouched: the rest of a datagram not ours */
			r = loop_hand_back(q, &pkt) ? 1 : -1;
		if (r == 1 && !loop_side_dev(q, side, &w)) {
			loop_count(&q->st.tx_errors, 1);
			r = -1;
		}
		engine_leave(f->eng, s);
		if (r == 0)
			break;
		if (r == 1)
			loop_write(q, &w, &pkt);
		pkt.len = 0;
	}
}

/*
 * Translate one packet of n bytes read into buf (vnet header first);
 * whether it goes back out, as *pkt (its vnet pointing at *vnet). *frag
 * says whether it was a fragment (held ones may be free now).
 */
static bool
loop_translate(struct loop_q *q, const struct loop_dev *d, uint8_t *buf,
    size_t n, uint64_t now, struct nat_pkt *pkt, struct nat_vnet *vnet,
    bool *frag)
{
	struct front *f = &q->l->front;
	enum nat_verdict v;
	unsigned int s;
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
	*frag = loop_fragment(pkt);
	/* per packet, not per batch: a batch would hold its shard across
	 * up to LOOP_BATCH reads and writes, and a packet of another
	 * queue's shard would wait for all of them */
	s = loop_lock(q, pkt->data, pkt->len, d->side);
	v = nat_process(engine_nat(f->eng, s), pkt, d->side, now, NULL);
	back = v == NAT_NOT_OURS && loop_hand_back(q, pkt);
	engine_leave(f->eng, s);
	return v == NAT_FORWARD || v == NAT_REPLY || back;
}

/* One packet read from a TUN device (read/write path). */
static void
loop_packet(struct loop_q *q, const struct loop_dev *d, size_t n, uint64_t now)
{
	struct nat_vnet vnet;
	struct nat_pkt pkt;
	bool frag = false;

	if (loop_translate(q, d, q->buf, n, now, &pkt, &vnet, &frag))
		loop_write(q, d, &pkt);
	if (frag)
		loop_pending(q);
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

/* Nanoseconds of the monotonic clock (busy-poll deadlines). */
static uint64_t
loop_now_ns(void)
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
	bool frag = false;

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
	if (loop_translate(q, d, c->buf, (size_t)c->res, now, &pkt, &vnet,
	    &frag))
		tunio_write(q->io, c->slot, loop_frame(d, &pkt),
		    d->hdrlen + pkt.len);
	else
		tunio_release(q->io, c->slot);
	/* rare (fragments held for their first): written at once */
	if (frag)
		loop_pending(q);
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
	uint64_t now = loop_now_ns(), until = now + span;
	/* back to the event loop within 2 spans: its timers (sweep,
	 * watchdog), signals and the stop event must not wait for a pause
	 * in the traffic; a device still readable calls us again at once */
	uint64_t cap = now + 2 * span;
	struct loop_dev *d;
	int i;

	while ((now = loop_now_ns()) < until && now < cap) {
		for (i = 0; i < NAT_SIDE_MAX; i++) {
			d = &q->dev[i];
			/* only devices whose events this thread has had: the
			 * main thread fills a new one in (a reload) unlocked */
			if (!d->seen || d->failed)
				continue;
			if (loop_drain(q, d) > 0)
				until = loop_now_ns() + span;
		}
		/* a CPU shared with the traffic's own processes (the
		 * client, the server, the kernel's softirq work) goes to
		 * them first: spinning must not delay the answer it waits for */
		sched_yield();
	}
}

/* A TUN device is readable: drain a bounded batch. */
void
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
