/*
 * sysctl.c - read and write /proc/sys knobs (forwarding, rp_filter,
 * accept_local, src_valid_mark, local port range) reporting old values.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <net/if.h>
#include <sys/socket.h>

#include "tun/sysctl.h"

#define SYSCTL_ROOT "/proc/sys/"

/* Build /proc/sys/KEY; refuse keys that could leave /proc/sys. */
static int
sysctl_path(const char *key, char *path, size_t len, char err[ERRLEN])
{
	int n;

	if (key[0] == '\0' || key[0] == '/' || strstr(key, "..") != NULL) {
		snprintf(err, ERRLEN, "sysctl key \"%.64s\" is not valid", key);
		return -1;
	}
	n = snprintf(path, len, "%s%s", SYSCTL_ROOT, key);
	if (n < 0 || (size_t)n >= len) {
		snprintf(err, ERRLEN, "sysctl key \"%.64s\" is too long", key);
		return -1;
	}
	return 0;
}

/* Read the whole (small) value of a knob as a string, without the newline. */
static int
sysctl_read(const char *key, char *val, size_t len, char err[ERRLEN])
{
	char path[160];
	ssize_t n;
	int fd;

	if (sysctl_path(key, path, sizeof(path), err) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, ERRLEN, "%.128s: %.100s", path, strerror(errno));
		return -1;
	}
	do
		n = read(fd, val, len - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0) {
		snprintf(err, ERRLEN, "%.128s: read: %.100s", path, strerror(errno));
		return -1;
	}
	val[n] = '\0';
	val[strcspn(val, "\n")] = '\0';
	return 0;
}

/* Parse one or more whitespace-separated integers. */
static int
sysctl_ints(const char *key, const char *s, int *v, size_t n, char err[ERRLEN])
{
	const char *p = s;
	char *end;
	long x;
	size_t i;

	for (i = 0; i < n; i++) {
		errno = 0;
		x = strtol(p, &end, 10);
		if (errno || end == p || x < INT_MIN || x > INT_MAX) {
			snprintf(err, ERRLEN, "%s: unexpected value \"%.32s\"",
			    key, s);
			return -1;
		}
		v[i] = (int)x;
		p = end;
	}
	return 0;
}

/* Read an integer knob. */
int
sysctl_get_int(const char *key, int *val, char err[ERRLEN])
{
	char buf[64];

	if (sysctl_read(key, buf, sizeof(buf), err) < 0)
		return -1;
	return sysctl_ints(key, buf, val, 1, err);
}

/*
 * What this process changed, to put back at exit: one record per knob, the
 * value found before the first change and the value we wrote. Process-wide
 * on purpose: a process runs one front or one back, and every change goes
 * through sysctl_set_int.
 */
#define SYSCTL_UNDO_MAX 128
static struct {
	bool on;
	size_t n;
	struct {
		char key[96];
		int old, ours;
	} e[SYSCTL_UNDO_MAX];
} sysctl_undo;

/* Record a change (the first old value of a knob is the one kept). */
static void
sysctl_undo_note(const char *key, int old, int ours)
{
	size_t i;

	if (!sysctl_undo.on || strlen(key) >= sizeof(sysctl_undo.e[0].key))
		return;
	for (i = 0; i < sysctl_undo.n; i++)
		if (strcmp(sysctl_undo.e[i].key, key) == 0) {
			sysctl_undo.e[i].ours = ours;
			return;
		}
	if (sysctl_undo.n == SYSCTL_UNDO_MAX)
		return;
	snprintf(sysctl_undo.e[sysctl_undo.n].key, sizeof(sysctl_undo.e[0].key),
	    "%s", key);
	sysctl_undo.e[sysctl_undo.n].old = old;
	sysctl_undo.e[sysctl_undo.n].ours = ours;
	sysctl_undo.n++;
}

/*
 * Take over the undo records a predecessor handed over (sysctl_undo_export
 * before it executed this process): "KEY=OLD" items separated by ','. The
 * value found now is the one that predecessor wrote.
 */
static void
sysctl_undo_import(const char *list)
{
	char item[128], key[96], err[ERRLEN];
	const char *p = list, *end;
	int old, cur;
	size_t n;

	while (*p != '\0') {
		end = strchr(p, ',');
		n = end != NULL ? (size_t)(end - p) : strlen(p);
		if (n < sizeof(item)) {
			memcpy(item, p, n);
			item[n] = '\0';
			if (sscanf(item, "%95[^=]=%d", key, &old) == 2 &&
			    sysctl_get_int(key, &cur, err) == 0)
				sysctl_undo_note(key, old, cur);
		}
		p += n + (end != NULL);
	}
}

/* Start recording changes for sysctl_undo_restore. */
void
sysctl_undo_start(void)
{
	const char *h = getenv(SYSCTL_UNDO_ENV);

	sysctl_undo.on = true;
	sysctl_undo.n = 0;
	if (h != NULL) {
		sysctl_undo_import(h);
		unsetenv(SYSCTL_UNDO_ENV);	/* once: not for a child */
	}
}

/*
 * The undo records as "KEY=OLD,..." for a successor (a restart that
 * executes the binary again): it puts the values back that were there
 * before the first instance changed them. -1 when they do not fit.
 */
int
sysctl_undo_export(char *buf, size_t len)
{
	size_t i, off = 0;
	int n;

	if (len == 0)
		return -1;
	buf[0] = '\0';
	for (i = 0; i < sysctl_undo.n; i++) {
		n = snprintf(buf + off, len - off, "%s%s=%d", i ? "," : "",
		    sysctl_undo.e[i].key, sysctl_undo.e[i].old);
		if (n < 0 || (size_t)n >= len - off)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

/*
 * Put back, newest first, each knob still at the value we wrote (one someone
 * changed since is theirs now; one whose interface is gone needs nothing).
 * note gets a line per knob put back or failed; returns how many failed.
 */
int
sysctl_undo_restore(void (*note)(void *, const char *), void *arg)
{
	char err[ERRLEN], msg[ERRLEN + 160];
	size_t i;
	int cur, bad = 0;

	sysctl_undo.on = false;
	for (i = sysctl_undo.n; i-- > 0;) {
		const char *key = sysctl_undo.e[i].key;

		if (sysctl_get_int(key, &cur, err) == -1 ||
		    cur != sysctl_undo.e[i].ours)
			continue;
		if (sysctl_set_int(key, sysctl_undo.e[i].old, NULL, err) == -1) {
			snprintf(msg, sizeof(msg), "could not put back %s: %s",
			    key, err);
			bad++;
		} else
			snprintf(msg, sizeof(msg), "put back %s = %d", key,
			    sysctl_undo.e[i].old);
		if (note != NULL)
			note(arg, msg);
	}
	sysctl_undo.n = 0;
	return bad;
}

/* Write an integer knob when it differs, reporting the old value. */
int
sysctl_set_int(const char *key, int val, int *old, char err[ERRLEN])
{
	char path[160], buf[32];
	int cur, fd, n;
	ssize_t w;

	if (sysctl_get_int(key, &cur, err) < 0)
		return -1;
	if (old != NULL)
		*old = cur;
	if (cur == val)
		return 0;
	if (sysctl_path(key, path, sizeof(path), err) < 0)
		return -1;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, ERRLEN, "%.128s: %.100s", path, strerror(errno));
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%d\n", val);
	do
		w = write(fd, buf, (size_t)n);
	while (w < 0 && errno == EINTR);
	if (w != n) {
		snprintf(err, ERRLEN, "%.128s: write %d: %.100s", path, val,
		    w < 0 ? strerror(errno) : "short write");
		close(fd);
		return -1;
	}
	if (close(fd) < 0) {
		snprintf(err, ERRLEN, "%.128s: write %d: %.100s", path, val,
		    strerror(errno));
		return -1;
	}
	sysctl_undo_note(key, cur, val);
	return 1;
}

/* Key of a per-interface IPv4 knob; the name must be a plain interface name. */
static int
sysctl_ifkey(const char *ifname, const char *knob, char *key, size_t len,
    char err[ERRLEN])
{
	if (ifname == NULL || ifname[0] == '\0' || strlen(ifname) >= IFNAMSIZ ||
	    strchr(ifname, '/') != NULL || strcmp(ifname, ".") == 0 ||
	    strcmp(ifname, "..") == 0) {
		snprintf(err, ERRLEN, "interface name \"%.32s\" is not valid",
		    ifname ? ifname : "");
		return -1;
	}
	snprintf(key, len, "net/ipv4/conf/%s/%s", ifname, knob);
	return 0;
}

/* Forwarding knob of a family. */
static const char *
sysctl_fwd_key(int family)
{
	return family == AF_INET6 ? "net/ipv6/conf/all/forwarding" : "net/ipv4/ip_forward";
}

/* Set forwarding for a family. */
int
sysctl_forwarding(int family, int val, int *old, char err[ERRLEN])
{
	return sysctl_set_int(sysctl_fwd_key(family), val, old, err);
}

/* Set net.ipv6.conf.all.proxy_ndp. */
int
sysctl_proxy_ndp(int val, int *old, char err[ERRLEN])
{
	return sysctl_set_int("net/ipv6/conf/all/proxy_ndp", val, old, err);
}

/* Read forwarding for a family. */
int
sysctl_forwarding_get(int family, int *val, char err[ERRLEN])
{
	return sysctl_get_int(sysctl_fwd_key(family), val, err);
}

/* Set rp_filter (0 off, 1 strict, 2 loose) of an interface. */
int
sysctl_rp_filter(const char *ifname, int val, int *old, char err[ERRLEN])
{
	char key[64];

	if (val < 0 || val > 2) {
		snprintf(err, ERRLEN, "rp_filter %d: must be 0, 1 or 2", val);
		return -1;
	}
	if (sysctl_ifkey(ifname, "rp_filter", key, sizeof(key), err) < 0)
		return -1;
	return sysctl_set_int(key, val, old, err);
}

/* Read rp_filter of an interface. */
int
sysctl_rp_filter_get(const char *ifname, int *val, char err[ERRLEN])
{
	char key[64];

	if (sysctl_ifkey(ifname, "rp_filter", key, sizeof(key), err) < 0)
		return -1;
	return sysctl_get_int(key, val, err);
}

/* Set accept_local of an interface. */
int
sysctl_accept_local(const char *ifname, int val, int *old, char err[ERRLEN])
{
	char key[64];

	if (sysctl_ifkey(ifname, "accept_local", key, sizeof(key), err) < 0)
		return -1;
	return sysctl_set_int(key, val, old, err);
}

/* Set net.ipv4.conf.all.src_valid_mark. */
int
sysctl_src_valid_mark(int val, int *old, char err[ERRLEN])
{
	return sysctl_set_int("net/ipv4/conf/all/src_valid_mark", val, old, err);
}

/* Read the ephemeral port range. */
int
sysctl_local_port_range(int *lo, int *hi, char err[ERRLEN])
{
	const char *key = "net/ipv4/ip_local_port_range";
	char buf[64];
	int v[2];

	if (sysctl_read(key, buf, sizeof(buf), err) < 0 ||
	    sysctl_ints(key, buf, v, 2, err) < 0)
		return -1;
	if (v[0] < 1 || v[1] > 65535 || v[0] > v[1]) {
		snprintf(err, ERRLEN, "%s: unexpected range %d-%d", key,
		    v[0], v[1]);
		return -1;
	}
	*lo = v[0];
	*hi = v[1];
	return 0;
}
