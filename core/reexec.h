/*
 * reexec.h - a restart that keeps connections: the running instance
 * executes its binary again (the one now installed at the same path) in the
 * same process, leaving its rules, routes and state file in place for the
 * new image to take over; the pid stays, so a service manager sees a reload.
 */
#ifndef TUNRELAY_REEXEC_H
#define TUNRELAY_REEXEC_H

#include <stdbool.h>

#include "nat/errlen.h"

struct tundev;

/* The TUN queues handed to the next image: "NAME=FD,FD;NAME=FD". */
#define REEXEC_TUN_ENV "TUNRELAY_TUN_FDS"

/* Remember how this instance was started (before any chdir or fork). */
void reexec_init(const char *config, bool verbose);
/* Whether the binary can be executed again; err says why not. */
int reexec_ready(char err[ERRLEN]);
/* Execute the binary again; returns only on failure, err filled. */
int reexec_exec(char err[ERRLEN]);
/*
 * Keep a TUN device's queues open for the next image (the stopping side of
 * a restart, instead of tundev_close): packets wait in the device's queues
 * while the binary is executed again, and its routes stay. -1 when it does
 * not fit (the device is closed then, as before handovers existed).
 */
int reexec_hand_tun(struct tundev *);
/*
 * The queues of device name that the previous image handed over, at most
 * max, into fds (they are this caller's from now on); 0 if none.
 */
unsigned int reexec_take_tun(const char *name, int *fds, unsigned int max);
/* Close the handed-over queues that no device took (the config changed). */
void reexec_close_untaken(void);

#endif
