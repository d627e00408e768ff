/*
 * steer.h - queue steering of a multi-queue TUN device by an eBPF program
 * (TUNSETSTEERINGEBPF): the kernel puts each packet it sends into the
 * device on the queue of the NAT shard that will handle it (the shard
 * function, nat_shard(), with the simplification described in
 * tun/steer.c).
 */
#ifndef TUNRELAY_STEER_H
#define TUNRELAY_STEER_H

#include <stddef.h>
#include <stdint.h>

#include <linux/bpf.h>

#include "nat/errlen.h"

#define STEER_MAX_INSNS 128

/* Which side a device serves, as the program needs to know it. */
enum steer_side { STEER_PUBLIC = 0, STEER_INSIDE = 1, STEER_LAN = 2 };	/* same numbers as enum nat_side */

/*
 * Write the steering program for a device of that side into out (at least
 * STEER_MAX_INSNS entries; pure, no system call): returns the number of
 * instructions.
 */
size_t steer_build(struct bpf_insn *out, enum steer_side, unsigned nqueues,
    uint16_t nat_lo, uint16_t nat_hi);
/*
 * Load the program and attach it to the device of tunfd (any of its queue
 * fds): 0, or -1 with the reason in err (errno kept: EPERM/ENOSYS/EINVAL
 * mean "not allowed here", the caller falls back to the kernel's own
 * spreading).
 */
int steer_attach(int tunfd, enum steer_side, unsigned nqueues,
    uint16_t nat_lo, uint16_t nat_hi, char err[ERRLEN]);
/* Remove the steering program of the device (the kernel's spreading again): 0 or -1 with err. */
int steer_detach(int tunfd, char err[ERRLEN]);
/*
 * Whether this process may load a steering program (for `tunrelay check`):
 * loads one and closes it. 0 yes, else -1 with the reason in err.
 */
int steer_probe(char err[ERRLEN]);
/*
 * Load a program of n instructions as a socket filter: its fd, or -1 with
 * the reason in err (the verifier's last words when it refuses; errno kept).
 * For tests (BPF_PROG_TEST_RUN) and steer_attach.
 */
int steer_load(const struct bpf_insn *prog, size_t n, char err[ERRLEN]);

#endif
