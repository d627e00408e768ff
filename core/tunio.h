/*
 * tunio.h - batched TUN I/O for one queue with io_uring: a pool of packet
 * buffers ("slots"); the loop queues a batch of non-blocking reads
 * (RWF_NOWAIT) when a device is readable, and the writes of the packets they
 * brought together with the next batch of reads: one system call per batch
 * instead of one read and one write per packet. Built only with liburing
 * (HAVE_LIBURING); without it tunio_probe() says so and the loop reads and
 * writes per packet.
 */
#ifndef TUNRELAY_TUNIO_H
#define TUNRELAY_TUNIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/errlen.h"

struct tunio;

/* What one completion was. */
enum tunio_kind {
	TUNIO_READ,		/* res = bytes read into the slot's buffer, or -errno */
	TUNIO_WRITE,		/* res = bytes written, or -errno; the slot is free */
};

/* One completion taken from the ring. */
struct tunio_done {
	enum tunio_kind kind;
	int res;
	unsigned int slot;
	unsigned int dev;	/* the dev given to tunio_read() */
	uint8_t *buf;		/* the slot's buffer */
};

/*
 * Whether io_uring can run TUN I/O here: 0 yes; -1 no (not built in,
 * disabled by kernel.io_uring_disabled, refused by a seccomp filter, or
 * missing read/write operations), with the reason in why.
 */
int tunio_probe(char why[ERRLEN]);
/* A ring with nslots buffers of bufsize bytes. */
struct tunio *tunio_new(unsigned int nslots, size_t bufsize,
    char err[ERRLEN]);
/* Free the ring (operations in flight are cancelled) and its buffers. */
void tunio_free(struct tunio *);
/* Queue a non-blocking read of fd into a free slot; 0, or -1 when none is free. */
int tunio_read(struct tunio *, int fd, unsigned int dev);
/* Take the next completion: 1 with *d filled, 0 when none waits. */
int tunio_next(struct tunio *, struct tunio_done *d);
/* Queue a write of len bytes at p (inside the slot's buffer) to its fd. */
void tunio_write(struct tunio *, unsigned int slot, const uint8_t *p, size_t len);
/* Give a slot whose packet is dropped back to the pool. */
void tunio_release(struct tunio *, unsigned int slot);
/*
 * Submit everything queued since the last call: 1 after one system call,
 * 0 when nothing was queued (no call), -1 on error.
 */
int tunio_submit(struct tunio *);
/* Submit, and wait until at least one operation has finished. */
int tunio_wait(struct tunio *);

#endif
