/*
 * check_sock.c - the host's own listening sockets, read from /proc/net (the
 * reader's network namespace) and matched to their processes through
 * /proc/PID/fd. `tunrelay check` warns about those on ports the front
 * relays: their clients would reach the backend instead.
 */
#include <sys/types.h>

#include <ctype.h>
#include <stdbool.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "core/check_sock.h"
#include "nat/nat.h"

#define CHECK_SOCK_LISTEN	0x0A	/* TCP_LISTEN in /proc/net/tcp */

/* The files to read: protocol, family, path. */
static const struct {
	uint8_t proto, family;
	const char *path;
} check_sock_files[] = {
	{ NAT_P_TCP, 4, "/proc/net/tcp" },
	{ NAT_P_TCP, 6, "/proc/net/tcp6" },
	{ NAT_P_UDP, 4, "/proc/net/udp" },
	{ NAT_P_UDP, 6, "/proc/net/udp6" },
};

/*
 * Decode an address as /proc/net prints it: 32-bit words in hexadecimal,
 * each the word's value in host byte order. 0 on success.
 */
static int
check_sock_addr(const char *hex, size_t words, uint8_t *out)
{
	size_t i, j;

	for (i = 0; i < words; i++) {
		uint32_t w = 0;

		for (j = 0; j < 8; j++) {
			int c = hex[i * 8 + j];

			if (!isxdigit(c))
				return -1;
			w = w << 4 | (uint32_t)(isdigit(c) ? c - '0' :
			    tolower(c) - 'a' + 10);
		}
		/* the kernel printed the word as it sits in memory */
		memcpy(out + i * 4, &w, 4);
	}
	return 0;
}

/* Parse one line of /proc/net/{tcp,udp}[6]; 1 when it is a socket we list. */
int
check_sock_parse(const char *line, uint8_t proto, uint8_t family,
    struct check_sock *s)
{
	char local[40], remote[40];
	unsigned int port, st, uid;
	unsigned long inode;
	size_t words = family == 4 ? 1 : 4;

	if (sscanf(line, " %*u: %39[0-9A-Fa-f]:%x %39[0-9A-Fa-f]:%*x %x "
	    "%*x:%*x %*x:%*x %*x %u %*d %lu", local, &port, remote, &st,
	    &uid, &inode) != 6)
		return 0;
	if (strlen(local) != words * 8 || port == 0 || port > 65535)
		return 0;
	/* TCP: listeners only; UDP: every bound socket receives */
	if (proto == NAT_P_TCP && st != CHECK_SOCK_LISTEN)
		return 0;
	memset(s, 0, sizeof(*s));
	if (check_sock_addr(local, words, s->addr) == -1)
		return 0;
	s->proto = proto;
	s->family = family;
	s->port = (uint16_t)port;
	s->inode = inode;
	return 1;
}

/* Append the sockets of one /proc/net file; a missing file adds none. */
static int
check_sock_file(size_t k, struct check_sock **out, size_t *n, size_t *cap,
    char err[ERRLEN])
{
	char line[512];
	FILE *fp;

	if ((fp = fopen(check_sock_files[k].path, "re")) == NULL) {
		if (errno == ENOENT)	/* IPv6 off */
			return 0;
		snprintf(err, ERRLEN, "%s: %s",
		    check_sock_files[k].path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		struct check_sock s;

		if (!check_sock_parse(line, check_sock_files[k].proto,
		    check_sock_files[k].family, &s))
			continue;
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 32;
			struct check_sock *p = realloc(*out, nc * sizeof(*p));

			if (p == NULL) {
				fclose(fp);
				snprintf(err, ERRLEN, "out of memory");
				return -1;
			}
			*out = p;
			*cap = nc;
		}
		(*out)[(*n)++] = s;
	}
	fclose(fp);
	return 0;
}

/* Every listening TCP and bound UDP socket of this network namespace. */
int
check_sock_list(struct check_sock **out, size_t *n,
    char err[ERRLEN])
{
	size_t k, cap = 0;

	*out = NULL;
	*n = 0;
	for (k = 0; k < sizeof(check_sock_files) / sizeof(check_sock_files[0]);
	    k++)
		if (check_sock_file(k, out, n, &cap, err) == -1) {
			free(*out);
			*out = NULL;
			*n = 0;
			return -1;
		}
	return 0;
}

/* Whether process pid holds an fd on socket inode want. */
static int
check_sock_held(const char *pid, unsigned long want)
{
	char dir[64], path[384], link[64], sock[48];
	struct dirent *d;
	DIR *fds;
	int found = 0;

	snprintf(dir, sizeof(dir), "/proc/%.20s/fd", pid);
	snprintf(sock, sizeof(sock), "socket:[%lu]", want);
	if ((fds = opendir(dir)) == NULL)
		return 0;
	while (!found && (d = readdir(fds)) != NULL) {
		ssize_t l;

		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		l = readlink(path, link, sizeof(link) - 1);
		if (l <= 0)
			continue;
		link[l] = '\0';
		found = strcmp(link, sock) == 0;
	}
	closedir(fds);
	return found;
}

/* "NAME (pid N)" of the process holding socket inode, or what it is instead. */
const char *
check_sock_owner(unsigned long inode, char *buf, size_t len)
{
	char comm[64] = "", path[64];
	struct dirent *d;
	DIR *proc;
	FILE *fp;

	snprintf(buf, len, "%s", inode == 0 ? "a kernel socket" :
	    "an unknown process");
	if (inode == 0 || (proc = opendir("/proc")) == NULL)
		return buf;
	while ((d = readdir(proc)) != NULL) {
		if (!isdigit((unsigned char)d->d_name[0]) ||
		    !check_sock_held(d->d_name, inode))
			continue;
		snprintf(path, sizeof(path), "/proc/%.20s/comm", d->d_name);
		if ((fp = fopen(path, "re")) != NULL) {
			if (fgets(comm, sizeof(comm), fp) != NULL)
				comm[strcspn(comm, "\n")] = '\0';
			fclose(fp);
		}
		snprintf(buf, len, "%s (pid %s)", comm[0] ? comm : "?",
		    d->d_name);
		break;
	}
	closedir(proc);
	return buf;
}

/* Whether a (family, proto, port) is kept by the host: excluded or DHCP. */
static bool
check_sock_kept(const struct conf_front *cf, uint8_t family, uint8_t proto,
    uint16_t port)
{
	size_t i;

	for (i = 0; i < cf->nexclude; i++)
		if (cf->exclude[i].protos == proto &&
		    port >= cf->exclude[i].port_lo &&
		    port <= cf->exclude[i].port_hi)
			return true;
	return proto == NAT_P_UDP && port == (family == 4 ? 68 : 546);
}

/* Whether a forward takes (family, proto, port) to the public address a. */
static bool
check_sock_forwarded(const struct conf_front *cf, uint8_t family,
    uint8_t proto, uint16_t port, const struct nat_addr *a)
{
	size_t i;

	for (i = 0; i < cf->nforward; i++) {
		const struct conf_forward *fw = &cf->forward[i];

		if (fw->family == family && (fw->protos & proto) &&
		    port >= fw->listen_lo && port <= fw->listen_hi &&
		    (!fw->match_dst || memcmp(fw->listen_addr.b, a->b,
		    family == 4 ? 4 : 16) == 0))
			return true;
	}
	return false;
}

/* Whether the backend catch-all of a family is configured. */
static bool
check_sock_backend(const struct conf_front *cf, uint8_t family)
{
	size_t i;

	for (i = 0; i < cf->nbackend; i++)
		if (cf->backend[i].family == family)
			return true;
	return false;
}

/* Whether the front relays (family, proto, port) sent to public address a. */
static bool
check_sock_relayed_to(const struct conf_front *cf, int eph_lo, int eph_hi,
    uint8_t family, uint8_t proto, uint16_t port, const struct nat_addr *a)
{
	/* the order of the capture rules (core/front.c) */
	if (check_sock_kept(cf, family, proto, port))
		return false;
	if (check_sock_forwarded(cf, family, proto, port, a))
		return true;
	if (port >= eph_lo && port <= eph_hi)
		return false;
	return check_sock_backend(cf, family);
}

/*
 * Whether packets that socket s would receive on one of the public addresses
 * pub[] (families in fam[]) are relayed instead. A socket on the IPv6 "any"
 * address counts for IPv4 too (dual stack, the kernel's default).
 */
bool
check_sock_relayed(const struct conf_front *cf, int eph_lo, int eph_hi,
    const struct check_sock *s, const struct nat_addr *pub,
    const uint8_t *fam, size_t npub)
{
	static const uint8_t zero[16];
	bool any = memcmp(s->addr, zero, s->family == 4 ? 4 : 16) == 0;
	size_t i;

	for (i = 0; i < npub; i++) {
		if (any ? (fam[i] != s->family && s->family == 4) :
		    (fam[i] != s->family || memcmp(pub[i].b, s->addr,
		    s->family == 4 ? 4 : 16) != 0))
			continue;
		if (check_sock_relayed_to(cf, eph_lo, eph_hi, fam[i], s->proto,
		    s->port, &pub[i]))
			return true;
	}
	return false;
}
