/*
 * front_kernel.h - what the front puts in the kernel: TUN devices, routes,
 * policy rules, proxy neighbour entries, sysctls (core/front_kernel.c).
 */
#ifndef TUNRELAY_FRONT_KERNEL_H
#define TUNRELAY_FRONT_KERNEL_H

#include <stdbool.h>

#include "core/front.h"

/* The TUN device name of each side. */
extern const char *const front_devname[NAT_SIDE_MAX];

/* The route spec of a side (scope only when rules is false). */
void front_spec(struct front_side *, enum nat_side, int ifindex);
/* Open a side's TUN device (or take it over) and set the sysctls it needs. */
int front_open_dev(struct front *, enum nat_side, bool wait, char *err);
/* Turn on forwarding for the families in use, saying so. */
int front_forwarding(const struct front *, char *err);
/* proxy_ndp on when any rule is IPv6, so ICMPv6 to own addresses is caught. */
void front_ndp_on(struct front *);
/* Install the proxy entries and rules of every side; on error undo them. */
int front_apply(struct front *, char *err);
/* Steer packets to their shard's queue (eBPF), or say why not. */
void front_steer(struct front *);
/* Remove our rules and routes of every side (no config needed). */
int front_unroute(struct nl *, char *err);
/* Remove an earlier instance's rules and routes of the sides not used. */
void front_unroute_unused(struct front *);

#endif
