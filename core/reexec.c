/*
 * reexec.c - execute the binary again for a restart that keeps connections
 * (SIGUSR2, `tunrelay restart`). What the new image needs from the old one
 * it finds in the kernel (our tagged rules and routes, the nftables table),
 * in the state file, and in two environment variables: the sysctl values
 * to put back at the final stop (tun/sysctl.h), and the TUN devices' queues,
 * left open across exec so that the devices, their routes and the packets
 * waiting in them survive the restart.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/reexec.h"
#include "tun/sysctl.h"
#include "tun/tundev.h"

#define REEXEC_TUN_MAX	8	/* devices handed over (a front has 3) */

/* TUN queues handed over by the previous image, until a device takes them. */
struct reexec_tun {
	char name[IFNAMSIZ];
	int fds[TUNDEV_MAXQUEUES];
	unsigned int n;
};

static struct {
	char exe[PATH_MAX];
	char config[PATH_MAX];
	bool verbose;
	char hand[1024];		/* REEXEC_TUN_ENV for the next image */
	struct reexec_tun got[REEXEC_TUN_MAX];	/* from the previous one */
	size_t ngot;
} reexec;

/* Close the queues a malformed item named before its fault (checked to be
 * ours); -1. */
static int
reexec_tun_drop(struct reexec_tun *t)
{
	unsigned int i;

	for (i = 0; i < t->n; i++)
		close(t->fds[i]);
	t->n = 0;
	return -1;
}

/* Parse one "NAME=FD,FD" item of REEXEC_TUN_ENV into t; -1 if malformed. */
static int
reexec_tun_item(const char *item, struct reexec_tun *t)
{
	const char *eq = strchr(item, '=');
	const char *p;
	char *end, dev[IFNAMSIZ];
	long fd;

	memset(t, 0, sizeof(*t));
	if (eq == NULL || eq == item || (size_t)(eq - item) >= IFNAMSIZ)
		return -1;
	memcpy(t->name, item, (size_t)(eq - item));
	for (p = eq + 1; *p != '\0' && *p != ';'; p = end + (*end == ',')) {
		fd = strtol(p, &end, 10);
		/* only a queue of the device named is ours to take (or close) */
		if (end == p || fd < 3 || fd > INT_MAX ||
		    t->n == TUNDEV_MAXQUEUES || fcntl((int)fd, F_GETFD) < 0 ||
		    tundev_queue_name((int)fd, dev) == -1 ||
		    strcmp(dev, t->name) != 0)
			return reexec_tun_drop(t);
		/* ours now: never into a child */
		(void)fcntl((int)fd, F_SETFD, FD_CLOEXEC);
		t->fds[t->n++] = (int)fd;
		if (*end != ',' && *end != ';' && *end != '\0')
			return reexec_tun_drop(t);
	}
	return t->n > 0 ? 0 : -1;
}

/* Read (once) the TUN queues the previous image handed over. */
static void
reexec_tun_import(void)
{
	const char *h = getenv(REEXEC_TUN_ENV);
	const char *p;

	for (p = h; p != NULL && *p != '\0' && reexec.ngot < REEXEC_TUN_MAX;) {
		if (reexec_tun_item(p, &reexec.got[reexec.ngot]) == 0)
			reexec.ngot++;
		else
			log_warnx("%s: ignoring a malformed item", REEXEC_TUN_ENV);
		p = strchr(p, ';');
		p = p != NULL ? p + 1 : NULL;
	}
	unsetenv(REEXEC_TUN_ENV);
}

/* Remember the binary's path and the run arguments. */
void
reexec_init(const char *config, bool verbose)
{
	ssize_t n;

	/* the path, not the file: an upgrade replaces the file behind it */
	n = readlink("/proc/self/exe", reexec.exe, sizeof(reexec.exe) - 1);
	reexec.exe[n > 0 ? n : 0] = '\0';
	snprintf(reexec.config, sizeof(reexec.config), "%s", config);
	reexec.verbose = verbose;
	reexec_tun_import();
}

/* Hand the sysctl undo log to the next image through the environment. */
static int
reexec_env(char err[ERRLEN])
{
	char buf[8192];

	if (sysctl_undo_export(buf, sizeof(buf)) == -1) {
		snprintf(err, ERRLEN, "too many sysctl changes to hand "
		    "over");
		return -1;
	}
	if (setenv(SYSCTL_UNDO_ENV, buf, 1) == -1 || (reexec.hand[0] != '\0' &&
	    setenv(REEXEC_TUN_ENV, reexec.hand, 1) == -1)) {
		snprintf(err, ERRLEN, "setenv: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Keep a TUN device's queues open for the next image (see reexec.h). */
int
reexec_hand_tun(struct tundev *d)
{
	char item[TUNDEV_MAXQUEUES * 12 + IFNAMSIZ + 2];
	size_t off, len = strlen(reexec.hand);
	unsigned int i;
	int n;

	n = snprintf(item, sizeof(item), "%s%s=", len ? ";" : "", d->name);
	for (i = 0, off = (size_t)n; i < d->nfds && off < sizeof(item); i++) {
		n = snprintf(item + off, sizeof(item) - off, "%s%d",
		    i ? "," : "", d->fds[i]);
		off += (size_t)n;
	}
	if (d->nfds == 0 || off >= sizeof(item) ||
	    len + off >= sizeof(reexec.hand)) {
		tundev_close(d);
		return -1;
	}
	for (i = 0; i < d->nfds; i++)
		if (fcntl(d->fds[i], F_SETFD, 0) < 0) {
			tundev_close(d);
			return -1;
		}
	memcpy(reexec.hand + len, item, off + 1);
	/* the fds stay open for exec; this image forgets them */
	memset(d, 0, sizeof(*d));
	return 0;
}

/* The queues of device name handed over by the previous image. */
unsigned int
reexec_take_tun(const char *name, int *fds, unsigned int max)
{
	unsigned int n;
	size_t i;

	for (i = 0; i < reexec.ngot; i++) {
		struct reexec_tun *t = &reexec.got[i];

		if (t->n == 0 || strcmp(t->name, name) != 0 || t->n > max)
			continue;
		memcpy(fds, t->fds, t->n * sizeof(int));
		n = t->n;
		t->n = 0;
		return n;
	}
	return 0;
}

/* Close the handed-over queues no device took. */
void
reexec_close_untaken(void)
{
	unsigned int j;
	size_t i;

	for (i = 0; i < reexec.ngot; i++) {
		for (j = 0; j < reexec.got[i].n; j++)
			close(reexec.got[i].fds[j]);
		if (reexec.got[i].n > 0)
			log_info("closed %s: handed over, not used any more",
			    reexec.got[i].name);
		reexec.got[i].n = 0;
	}
	reexec.ngot = 0;
}

/* Whether the binary can be executed again; err says why not. */
int
reexec_ready(char err[ERRLEN])
{
	if (reexec.exe[0] != '/') {
		snprintf(err, ERRLEN, "the binary's path is not known");
		return -1;
	}
	if (access(reexec.exe, X_OK) == -1) {
		snprintf(err, ERRLEN, "%.180s: %.60s", reexec.exe,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Execute the binary again as `tunrelay run -c CONFIG [-v]`. */
int
reexec_exec(char err[ERRLEN])
{
	char *argv[6];
	int i = 0;

	if (reexec_ready(err) == -1 || reexec_env(err) == -1)
		return -1;
	argv[i++] = reexec.exe;
	argv[i++] = (char *)"run";
	argv[i++] = (char *)"-c";
	argv[i++] = reexec.config;
	if (reexec.verbose)
		argv[i++] = (char *)"-v";
	argv[i] = NULL;
	log_info("restarting: executing %s run -c %s", reexec.exe,
	    reexec.config);
	execv(reexec.exe, argv);
	snprintf(err, ERRLEN, "execv %.180s: %.60s", reexec.exe,
	    strerror(errno));
	unsetenv(SYSCTL_UNDO_ENV);
	unsetenv(REEXEC_TUN_ENV);
	return -1;
}
