/*
 * sysctl.h - read and write the /proc/sys knobs the relay depends on,
 * reporting the old values so that the daemon can log what it changed.
 */
#ifndef TUNRELAY_SYSCTL_H
#define TUNRELAY_SYSCTL_H

#include <stddef.h>

#include "nat/errlen.h"

/* Read an integer knob; key is relative to /proc/sys ("net/ipv4/ip_forward"). */
int sysctl_get_int(const char *key, int *val, char err[ERRLEN]);
/*
 * Set an integer knob; *old (may be NULL) gets the value before. Writes only
 * when the value differs. Returns 1 when it changed the value, 0 when it was
 * already set, -1 on error.
 */
int sysctl_set_int(const char *key, int val, int *old, char err[ERRLEN]);

/* net.ipv4.ip_forward (AF_INET) or net.ipv6.conf.all.forwarding (AF_INET6). */
int sysctl_forwarding(int family, int val, int *old, char err[ERRLEN]);
int sysctl_forwarding_get(int family, int *val, char err[ERRLEN]);
/* net.ipv4.conf.IFNAME.rp_filter; IFNAME may be "all" or "default".
 * The kernel applies max(conf.all, conf.IFNAME). */
int sysctl_rp_filter(const char *ifname, int val, int *old, char err[ERRLEN]);
int sysctl_rp_filter_get(const char *ifname, int *val, char err[ERRLEN]);
/* net.ipv4.conf.IFNAME.accept_local: a TUN that writes back packets whose
 * source is a local address (un-NATed replies from the public address) needs 1. */
int sysctl_accept_local(const char *ifname, int val, int *old, char err[ERRLEN]);
/*
 * net.ipv6.conf.all.proxy_ndp: the kernel reads the "all" value only, before
 * it forwards a packet to an address with a proxy entry (tun/nl.h).
 */
int sysctl_proxy_ndp(int val, int *old, char err[ERRLEN]);
/* net.ipv4.conf.all.src_valid_mark. */
int sysctl_src_valid_mark(int val, int *old, char err[ERRLEN]);
/*
 * Undo log: after sysctl_undo_start, every change made through this module
 * is recorded; sysctl_undo_restore puts back (newest first) each knob still
 * at the value written, passing a line per knob to note; the failure count.
 */
void sysctl_undo_start(void);
int sysctl_undo_restore(void (*note)(void *, const char *), void *arg);
/*
 * Handing the undo log to the same binary executed again (a restart):
 * sysctl_undo_export writes it for the environment variable SYSCTL_UNDO_ENV,
 * which sysctl_undo_start of the new process reads and clears.
 */
#define SYSCTL_UNDO_ENV "TUNRELAY_SYSCTL_UNDO"
int sysctl_undo_export(char *buf, size_t len);

/* net.ipv4.ip_local_port_range, the relay's own ephemeral ports. */
int sysctl_local_port_range(int *lo, int *hi, char err[ERRLEN]);

#endif
