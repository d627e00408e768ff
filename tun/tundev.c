/*
 * tundev.c - the relay's TUN device: IFF_TUN | IFF_NO_PI, optionally with a
 * virtio-net header (checksum and GSO offloads) and several queues, and the
 * conversion between the wire virtio_net_hdr and struct nat_vnet.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/virtio_net.h>

#include "tun/tundev.h"

/* Older headers lack these; the values are the kernel ABI. */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif
#ifndef TUNSETVNETLE
#define TUNSETVNETLE _IOW('T', 220, int)
#endif
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

_Static_assert(TUNDEV_F_CSUM == TUN_F_CSUM && TUNDEV_F_TSO4 == TUN_F_TSO4 &&
    TUNDEV_F_TSO6 == TUN_F_TSO6 && TUNDEV_F_TSO_ECN == TUN_F_TSO_ECN &&
    TUNDEV_F_USO4 == TUN_F_USO4 && TUNDEV_F_USO6 == TUN_F_USO6,
    "TUNDEV_F_* must be the kernel's TUN_F_* values");
_Static_assert(sizeof(struct virtio_net_hdr) == TUNDEV_VNET_HDR_LEN,
    "virtio_net_hdr is 10 bytes");
_Static_assert(NAT_VNET_NEEDS_CSUM == VIRTIO_NET_HDR_F_NEEDS_CSUM &&
    NAT_VNET_DATA_VALID == VIRTIO_NET_HDR_F_DATA_VALID,
    "nat_vnet flags are the virtio flags");

#define TUNDEV_ALL_OFFLOADS (TUNDEV_F_CSUM | TUNDEV_F_TSO4 | TUNDEV_F_TSO6 | \
	TUNDEV_F_TSO_ECN | TUNDEV_F_USO4 | TUNDEV_F_USO6)

/* A socket for interface ioctls (MTU, flags, index). */
static int
tundev_ctl_socket(char err[ERRLEN])
{
	int s;

	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		snprintf(err, ERRLEN, "socket for interface ioctls: %s",
		    strerror(errno));
	return s;
}

/* Set MTU (when not 0) and up/down of the named interface; read MTU back. */
static int
tundev_ifconfig(struct tundev *d, unsigned int mtu, bool up, char err[ERRLEN])
{
	struct ifreq ifr;
	int s, ret = -1;

	if ((s = tundev_ctl_socket(err)) < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", d->name);
	if (mtu) {
		ifr.ifr_mtu = (int)mtu;
		if (ioctl(s, SIOCSIFMTU, &ifr) < 0) {
			snprintf(err, ERRLEN, "%s: set MTU %u: %s", d->name,
			    mtu, strerror(errno));
			goto out;
		}
	}
	if (ioctl(s, SIOCGIFMTU, &ifr) < 0) {
		snprintf(err, ERRLEN, "%s: get MTU: %s", d->name, strerror(errno));
		goto out;
	}
	d->mtu = (unsigned int)ifr.ifr_mtu;
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		snprintf(err, ERRLEN, "%s: get flags: %s", d->name, strerror(errno));
		goto out;
	}
	if (up != !!(ifr.ifr_flags & IFF_UP)) {
		if (up)
			ifr.ifr_flags |= IFF_UP;
		else
			ifr.ifr_flags &= ~IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
			snprintf(err, ERRLEN, "%s: set %s: %s", d->name,
			    up ? "up" : "down", strerror(errno));
			goto out;
		}
	}
	if (ioctl(s, SIOCGIFINDEX, &ifr) < 0) {
		snprintf(err, ERRLEN, "%s: get index: %s", d->name, strerror(errno));
		goto out;
	}
	d->ifindex = ifr.ifr_ifindex;
	ret = 0;
out:
	close(s);
	return ret;
}

/*
 * Ask for offloads, dropping groups the kernel refuses (EINVAL means "a bit
 * I do not know"): first USO (Linux >= 6.2), then TSO, then checksum.
 */
static int
tundev_offload(struct tundev *d, int fd, unsigned int want, char err[ERRLEN])
{
	static const unsigned int drop[] = {
		TUNDEV_F_USO4 | TUNDEV_F_USO6,
		TUNDEV_F_TSO4 | TUNDEV_F_TSO6 | TUNDEV_F_TSO_ECN,
		TUNDEV_ALL_OFFLOADS,
	};
	size_t i;

	want &= TUNDEV_ALL_OFFLOADS;
	/* The kernel ignores TSO/USO bits without TUN_F_CSUM. */
	if (!(want & TUNDEV_F_CSUM))
		want = 0;
	for (i = 0;; i++) {
		if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)want) == 0) {
			d->offloads = want;
			return 0;
		}
		if (errno != EINVAL || want == 0 || i == sizeof(drop) / sizeof(drop[0])) {
			snprintf(err, ERRLEN, "%s: TUNSETOFFLOAD %#x: %s",
			    d->name, want, strerror(errno));
			return -1;
		}
		want &= ~drop[i];
	}
}

/* Header size, byte order and offloads of a device with IFF_VNET_HDR. */
static int
tundev_vnet_setup(struct tundev *d, int fd, const struct tundev_opts *o,
    char err[ERRLEN])
{
	int sz = (int)d->vnet_hdr_len;
	int le = 1;

	if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) {
		snprintf(err, ERRLEN, "%s: TUNSETVNETHDRSZ %d: %s", d->name,
		    sz, strerror(errno));
		return -1;
	}
	/*
	 * Little-endian header fields on every host (virtio 1.0). Kernels
	 * without TUNSETVNETLE use native order, which is the same on
	 * little-endian hosts.
	 */
	if (ioctl(fd, TUNSETVNETLE, &le) < 0 && BYTE_ORDER != LITTLE_ENDIAN) {
		snprintf(err, ERRLEN, "%s: TUNSETVNETLE: %s", d->name,
		    strerror(errno));
		return -1;
	}
	return tundev_offload(d, fd, o->offloads ? o->offloads : TUNDEV_F_DEFAULT,
	    err);
}

/* Open one queue of the device; the first one names it. */
static int
tundev_attach(struct tundev *d, const char *name, short flags, char err[ERRLEN])
{
	struct ifreq ifr;
	int fd;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, ERRLEN, "/dev/net/tun: %s", strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = flags;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		snprintf(err, ERRLEN, "TUNSETIFF %s: %s%s", name, strerror(errno),
		    errno == EBUSY || errno == EINVAL ?
		    " (a device of that name exists with other flags?)" : "");
		close(fd);
		return -1;
	}
	if (d->nfds == 0)
		snprintf(d->name, sizeof(d->name), "%s", ifr.ifr_name);
	d->fds[d->nfds++] = fd;
	return fd;
}

/* The TUNSETIFF flags a device with options o has. */
static short
tundev_flags(const struct tundev_opts *o)
{
	short flags = IFF_TUN | IFF_NO_PI;

	if (o->vnet_hdr)
		flags |= IFF_VNET_HDR;
	if ((o->queues ? o->queues : 1) > 1)
		flags |= IFF_MULTI_QUEUE;
	return flags;
}

/* Create the TUN device, open its queues, set MTU and up. */
int
tundev_open(struct tundev *d, const struct tundev_opts *o, char err[ERRLEN])
{
	const char *name = o->name ? o->name : "tunrelay%d";
	unsigned int queues = o->queues ? o->queues : 1;
	short flags = tundev_flags(o);
	unsigned int i;
	int fd;

	memset(d, 0, sizeof(*d));
	for (i = 0; i < TUNDEV_MAXQUEUES; i++)
		d->fds[i] = -1;
	if (name[0] == '\0' || strlen(name) >= IFNAMSIZ) {
		snprintf(err, ERRLEN, "TUN device name \"%.32s\" is empty or "
		    "longer than %d characters", name, IFNAMSIZ - 1);
		return -1;
	}
	if (queues > TUNDEV_MAXQUEUES) {
		snprintf(err, ERRLEN, "TUN queues: %u is more than %d",
		    queues, TUNDEV_MAXQUEUES);
		return -1;
	}
	if (o->vnet_hdr) {
		d->vnet_hdr = true;
		d->vnet_hdr_len = o->vnet_hdr_len ? o->vnet_hdr_len : TUNDEV_VNET_HDR_LEN;
		if (d->vnet_hdr_len != TUNDEV_VNET_HDR_LEN &&
		    d->vnet_hdr_len != TUNDEV_VNET_HDR_MRG_LEN) {
			snprintf(err, ERRLEN, "virtio-net header length %u: "
			    "must be 10 or 12", o->vnet_hdr_len);
			return -1;
		}
	}
	for (i = 0; i < queues; i++) {
		fd = tundev_attach(d, i == 0 ? name : d->name, flags, err);
		if (fd < 0)
			goto fail;
		/* Header size and offloads belong to the device, not the queue. */
		if (i == 0 && d->vnet_hdr && tundev_vnet_setup(d, fd, o, err) < 0)
			goto fail;
	}
	if (tundev_ifconfig(d, o->mtu, !o->down, err) < 0)
		goto fail;
	return 0;
fail:
	tundev_close(d);
	return -1;
}

/* Whether fd is a queue of the device name with flags; err says why not. */
static int
tundev_is_queue(int fd, const char *name, short flags, char err[ERRLEN])
{
	const short mask = IFF_TUN | IFF_TAP | IFF_NO_PI | IFF_VNET_HDR |
	    IFF_MULTI_QUEUE;
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
		snprintf(err, ERRLEN, "fd %d is not a TUN queue: %s", fd,
		    strerror(errno));
		return -1;
	}
	if (strncmp(ifr.ifr_name, name, IFNAMSIZ) != 0 ||
	    (ifr.ifr_flags & mask) != flags) {
		snprintf(err, ERRLEN, "fd %d is a queue of %.16s with "
		    "flags %#x, wanted %.16s with %#x", fd, ifr.ifr_name,
		    (unsigned int)(ifr.ifr_flags & mask), name,
		    (unsigned int)flags);
		return -1;
	}
	return 0;
}

/* Whether fd is a TUN queue, and of which device; 0 when it is. */
int
tundev_queue_name(int fd, char name[IFNAMSIZ])
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return -1;
	snprintf(name, IFNAMSIZ, "%.*s", IFNAMSIZ - 1, ifr.ifr_name);
	return 0;
}

/* Make an inherited fd non-blocking and close-on-exec. */
static int
tundev_fd_mode(int fd, char err[ERRLEN])
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		snprintf(err, ERRLEN, "fd %d: fcntl: %s", fd,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Take over the queues a previous image left open (see tundev.h). */
int
tundev_inherit(struct tundev *d, const struct tundev_opts *o, const int *fds,
    unsigned int n, char err[ERRLEN])
{
	unsigned int queues = o->queues ? o->queues : 1, i;
	short flags = tundev_flags(o);

	memset(d, 0, sizeof(*d));
	for (i = 0; i < TUNDEV_MAXQUEUES; i++)
		d->fds[i] = -1;
	if (o->name == NULL || n == 0 || n > TUNDEV_MAXQUEUES ||
	    queues > TUNDEV_MAXQUEUES) {
		snprintf(err, ERRLEN, "%u queues handed over", n);
		goto fail;
	}
	snprintf(d->name, sizeof(d->name), "%s", o->name);
	for (i = 0; i < n; i++)
		if (tundev_is_queue(fds[i], o->name, flags, err) < 0 ||
		    tundev_fd_mode(fds[i], err) < 0)
			goto fail;
	/* more queues than now wanted: a closed queue only detaches */
	for (i = 0; i < n; i++) {
		if (i < queues)
			d->fds[d->nfds++] = fds[i];
		else
			close(fds[i]);
	}
	n = d->nfds;
	while (d->nfds < queues)
		if (tundev_attach(d, d->name, flags, err) < 0)
			goto fail_dev;
	d->vnet_hdr = o->vnet_hdr;
	if (d->vnet_hdr) {
		d->vnet_hdr_len = o->vnet_hdr_len ? o->vnet_hdr_len :
		    TUNDEV_VNET_HDR_LEN;
		if (tundev_vnet_setup(d, d->fds[0], o, err) < 0)
			goto fail_dev;
	}
	if (tundev_ifconfig(d, o->mtu, !o->down, err) < 0)
		goto fail_dev;
	return 0;
fail:
	for (i = 0; i < n; i++)
		close(fds[i]);
	memset(d, 0, sizeof(*d));
	return -1;
fail_dev:
	tundev_close(d);
	return -1;
}

/* Close every queue of the device. */
void
tundev_close(struct tundev *d)
{
	unsigned int i;

	for (i = 0; i < d->nfds && i < TUNDEV_MAXQUEUES; i++)
		if (d->fds[i] >= 0)
			close(d->fds[i]);
	memset(d, 0, sizeof(*d));
	for (i = 0; i < TUNDEV_MAXQUEUES; i++)
		d->fds[i] = -1;
}

/* Change the MTU of an open device. */
int
tundev_set_mtu(struct tundev *d, unsigned int mtu, char err[ERRLEN])
{
	if (d->nfds == 0) {
		snprintf(err, ERRLEN, "TUN device not open");
		return -1;
	}
	return tundev_ifconfig(d, mtu, true, err);
}

/* Names of offload bits, for logs. */
const char *
tundev_offload_str(unsigned int offloads, char *buf, size_t len)
{
	static const struct {
		unsigned int bit;
		const char *name;
	} names[] = {
		{ TUNDEV_F_CSUM, "csum" }, { TUNDEV_F_TSO4, "tso4" },
		{ TUNDEV_F_TSO6, "tso6" }, { TUNDEV_F_TSO_ECN, "tso-ecn" },
		{ TUNDEV_F_USO4, "uso4" }, { TUNDEV_F_USO6, "uso6" },
	};
	size_t i, off = 0;
	int n;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(offloads & names[i].bit) || off >= len)
			continue;
		n = snprintf(buf + off, len - off, "%s%s", off ? " " : "", names[i].name);
		if (n > 0)
			off += (size_t)n;
	}
	if (buf[0] == '\0')
		snprintf(buf, len, "none");
	return buf;
}

/* Wire virtio_net_hdr to struct nat_vnet. */
int
tundev_vnet_parse(const void *buf, struct nat_vnet *vnet)
{
	struct virtio_net_hdr h;
	uint8_t gso;

	memcpy(&h, buf, sizeof(h));
	memset(vnet, 0, sizeof(*vnet));
	if (h.flags & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID))
		return -1;
	gso = h.gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
	switch (gso) {
	case VIRTIO_NET_HDR_GSO_NONE:
		if (h.gso_type & VIRTIO_NET_HDR_GSO_ECN)
			return -1;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV4:
	case VIRTIO_NET_HDR_GSO_TCPV6:
		break;
	case VIRTIO_NET_HDR_GSO_UDP:
	case VIRTIO_NET_HDR_GSO_UDP_L4:
		if (h.gso_type & VIRTIO_NET_HDR_GSO_ECN)
			return -1;
		break;
	default:
		return -1;
	}
	vnet->flags = h.flags;
	vnet->gso_type = h.gso_type;
	vnet->hdr_len = le16toh(h.hdr_len);
	vnet->gso_size = le16toh(h.gso_size);
	vnet->csum_start = le16toh(h.csum_start);
	vnet->csum_offset = le16toh(h.csum_offset);
	return 0;
}

/* struct nat_vnet to wire virtio_net_hdr. */
void
tundev_vnet_build(const struct nat_vnet *vnet, void *buf)
{
	struct virtio_net_hdr h;

	memset(&h, 0, sizeof(h));
	h.flags = vnet->flags;
	h.gso_type = vnet->gso_type;
	h.hdr_len = htole16(vnet->hdr_len);
	h.gso_size = htole16(vnet->gso_size);
	h.csum_start = htole16(vnet->csum_start);
	h.csum_offset = htole16(vnet->csum_offset);
	memcpy(buf, &h, sizeof(h));
}
