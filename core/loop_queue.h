/*
 * loop_queue.h - the event loop's structures, shared by the loop's setup
 * and reload (core/loop.c) and its packet path (core/loop_packet.c): one
 * struct loop, one struct loop_q per queue index, one struct loop_dev per
 * side's device queue.
 */
#ifndef TUNRELAY_LOOP_QUEUE_H
#define TUNRELAY_LOOP_QUEUE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "core/alarm.h"
#include "core/ctl.h"
#include "core/daemon.h"
#include "core/flowlog.h"
#include "core/front.h"
#include "core/health.h"
#include "core/metrics.h"
#include "core/stats.h"
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
	struct daemon daemon;		/* signals, watchdog, restart */
	struct event *sweep;
	struct event *fail;		/* activated by a queue that cannot read */
	struct ctl ctl;
	struct metrics metrics;
	struct flowlog flowlog;		/* touched under flowlog_lock only */
	pthread_mutex_t flowlog_lock;	/* a leaf: taken under shard locks */
	struct loop_stats st;		/* main thread: reloads, reload_errors */
	struct alarm alarm;
	struct watch watch;
	struct health health;		/* backend checks (main thread) */
	atomic_bool failed;		/* stopped by an error, not a signal */
	bool uring;			/* TUN I/O through io_uring */
	uint32_t busy_poll;		/* microseconds to spin on an empty queue */
};

/* A TUN device is readable: drain a bounded batch (the packet path's entry). */
void loop_tun(evutil_socket_t, short, void *);

#endif
