/*
 * loop.h - the front's event loop: TUN devices to the engine and back, the
 * expiry sweep, signals, the control socket and service-manager notices.
 */
#ifndef TUNRELAY_LOOP_H
#define TUNRELAY_LOOP_H

#include <stdint.h>

#include "core/front.h"

/* Counters of the loop itself (the engine keeps its own); one set per queue. */
struct loop_stats {
	uint64_t rx_packets;
	uint64_t rx_bytes;
	uint64_t tx_packets;
	uint64_t tx_bytes;
	uint64_t rx_errors;
	uint64_t tx_errors;		/* writes refused (queue full, device gone) */
	uint64_t bad_vnet;		/* virtio-net headers a TUN never sends */
	uint64_t not_ours_dropped;	/* left alone by the engine, not the host's:
					 * dropped (other_traffic = drop) */
	uint64_t io_submits;		/* io_uring submissions (system calls) */
	uint64_t lock_waits;		/* packet path found the engine lock taken */
	uint64_t reloads;
	uint64_t reload_errors;
};

/* Milliseconds of the monotonic clock (the engine's `now`). */
uint64_t loop_now(void);
/* Run the relay described by path until SIGTERM/SIGINT; returns the exit code. */
int loop_run(const char *path, struct conf *);

#endif
