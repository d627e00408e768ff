/*
 * loop.h - the front's event loop: TUN devices to the engine and back, the
 * expiry sweep, signals, the control socket and service-manager notices.
 */
#ifndef TUNRELAY_LOOP_H
#define TUNRELAY_LOOP_H

#include <stdint.h>

struct conf;

/* Milliseconds of the monotonic clock (the engine's `now`). */
uint64_t loop_now(void);
/* Run the relay described by path until SIGTERM/SIGINT; returns the exit code. */
int loop_run(const char *path, struct conf *);

#endif
