/*
 * tundev.h - the relay's TUN device: IFF_TUN | IFF_NO_PI, optionally with a
 * virtio-net header (checksum and GSO offloads) and several queues.
 */
#ifndef TUNRELAY_TUNDEV_H
#define TUNRELAY_TUNDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <net/if.h>

#include "nat/errlen.h"
#include "nat/nat.h"

#define TUNDEV_MAXQUEUES 64	/* conf's queues range is 1..64 */

/* Offload bits, the kernel's TUN_F_* values (USO needs Linux 6.2). */
#define TUNDEV_F_CSUM	0x01
#define TUNDEV_F_TSO4	0x02
#define TUNDEV_F_TSO6	0x04
#define TUNDEV_F_TSO_ECN 0x08
#define TUNDEV_F_USO4	0x20
#define TUNDEV_F_USO6	0x40
#define TUNDEV_F_DEFAULT (TUNDEV_F_CSUM | TUNDEV_F_TSO4 | TUNDEV_F_TSO6 | \
	TUNDEV_F_USO4 | TUNDEV_F_USO6)

/* The wire virtio_net_hdr (10 bytes; 12 with num_buffers). */
#define TUNDEV_VNET_HDR_LEN 10
#define TUNDEV_VNET_HDR_MRG_LEN 12

struct tundev_opts {
	const char *name;	/* name or pattern ("tr%d"); NULL = "tunrelay%d" */
	bool vnet_hdr;		/* IFF_VNET_HDR */
	unsigned int vnet_hdr_len;	/* 10 or 12; 0 = 10 */
	unsigned int offloads;	/* TUNDEV_F_* wanted; 0 = TUNDEV_F_DEFAULT */
	unsigned int queues;	/* > 1: IFF_MULTI_QUEUE with that many fds; 0 = 1 */
	unsigned int mtu;	/* 0 = leave the kernel's default */
	bool down;		/* leave the device down (default: set it up) */
};

struct tundev {
	char name[IFNAMSIZ];
	int ifindex;
	int fds[TUNDEV_MAXQUEUES];	/* non-blocking, close-on-exec */
	unsigned int nfds;
	bool vnet_hdr;
	unsigned int vnet_hdr_len;	/* bytes before each packet, 0 without */
	unsigned int offloads;		/* TUNDEV_F_* the kernel accepted */
	unsigned int mtu;
};

/*
 * Create the device and open its queues. Offloads the kernel refuses are
 * dropped one group at a time (USO, then TSO, then checksum); d->offloads
 * says what is on. On error nothing is left open.
 */
int tundev_open(struct tundev *d, const struct tundev_opts *, char err[ERRLEN]);
/*
 * Take over the open queues fds[0..n) of a device a previous image of this
 * process left open across exec: each must be a queue of o->name with the
 * flags o asks for. Extra queues are closed, missing ones attached; then
 * header size, offloads, MTU and up as tundev_open. On error every fd given
 * is closed (the device goes when its last queue does).
 */
int tundev_inherit(struct tundev *d, const struct tundev_opts *, const int *fds,
    unsigned int n, char err[ERRLEN]);
/* Whether fd is a TUN queue, and of which device (name); 0 when it is. */
int tundev_queue_name(int fd, char name[IFNAMSIZ]);
/* Close every queue (a non-persistent device disappears with its routes). */
void tundev_close(struct tundev *d);
/* Set the MTU (and up/down) of the device. */
int tundev_set_mtu(struct tundev *d, unsigned int mtu, char err[ERRLEN]);
/* "csum tso4 tso6 uso4 uso6", "none": the offloads in bits, for logs. */
const char *tundev_offload_str(unsigned int offloads, char *buf, size_t len);

/*
 * Convert the wire virtio_net_hdr at buf (little-endian, TUNSETVNETLE) to
 * the engine's struct nat_vnet. Returns -1 for flags or GSO types that a TUN
 * device never sends (the packet should be dropped).
 */
int tundev_vnet_parse(const void *buf, struct nat_vnet *vnet);
/*
 * Write the wire header for vnet into buf (TUNDEV_VNET_HDR_LEN bytes; with a
 * 12-byte header the kernel ignores the last two on write).
 */
void tundev_vnet_build(const struct nat_vnet *vnet, void *buf);

#endif
