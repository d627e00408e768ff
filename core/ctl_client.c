/*
 * ctl_client.c - the client side of the control socket: `tunrelay flows`,
 * `stats`, `status` and the rest send one command and print the answer.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/ctl.h"

/* Fill a Unix socket address; -1 when the path does not fit. */
int
ctl_addr(struct sockaddr_un *sun, const char *path, char *err)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		snprintf(err, ERRLEN, "%s: path longer than %zu bytes",
		    path, sizeof(sun->sun_path) - 1);
		return -1;
	}
	memcpy(sun->sun_path, path, strlen(path));
	return 0;
}

/* Read the whole answer, bounded in time. */
static int
ctl_drain(int fd, FILE *out, char *err)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char buf[8192];
	size_t total = 0;
	ssize_t n;

	for (;;) {
		if (poll(&p, 1, CTL_TIMEOUT * 1000) <= 0) {
			snprintf(err, ERRLEN, "no answer within %d s",
			    CTL_TIMEOUT);
			return -1;
		}
		n = read(fd, buf, sizeof(buf));
		if (n == 0 && total == 0) {
			snprintf(err, ERRLEN, "the running instance closed "
			    "the connection without answering (refused: not "
			    "root, not its user, not in control_group?)");
			return -1;
		}
		if (n == 0)
			return 0;
		if (n == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, ERRLEN, "read: %s", strerror(errno));
			return -1;
		}
		if (total == 0 && n > 7 && memcmp(buf, "error: ", 7) == 0) {
			/* the instance refused the command: the caller fails */
			const char *nl = memchr(buf + 7, '\n', (size_t)n - 7);

			snprintf(err, ERRLEN, "%.*s", (int)(nl != NULL ?
			    nl - (buf + 7) : n - 7), buf + 7);
			return -1;
		}
		fwrite(buf, 1, (size_t)n, out);
		total += (size_t)n;
	}
}

/* Connect to the socket at path; -1 with a message. */
static int
ctl_connect(const char *path, char err[ERRLEN])
{
	struct sockaddr_un sun;
	int fd;

	if (ctl_addr(&sun, path, err) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, ERRLEN, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			snprintf(err, ERRLEN, "no running tunrelay answers "
			    "on %s", path);
		else if (errno == EACCES)
			snprintf(err, ERRLEN, "%s: permission denied (run "
			    "as root or as a member of control_group)", path);
		else
			snprintf(err, ERRLEN, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* The pid of the process that listens on the socket at path. */
int
ctl_peer_pid(const char *path, pid_t *pid, char err[ERRLEN])
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	int fd;

	if ((fd = ctl_connect(path, err)) == -1)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1 ||
	    cr.pid <= 0) {
		snprintf(err, ERRLEN, "%s: cannot tell the instance's pid: "
		    "%s", path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	*pid = cr.pid;
	return 0;
}

/* Ask the running instance. */
int
ctl_request(const char *path, const char *cmd, FILE *out, char err[ERRLEN])
{
	int fd, rc;

	if ((fd = ctl_connect(path, err)) == -1)
		return -1;
	rc = 0;
	if (dprintf(fd, "%s\n", cmd) < 0) {
		snprintf(err, ERRLEN, "write: %s", strerror(errno));
		rc = -1;
	}
	if (rc == 0)
		rc = ctl_drain(fd, out, err);
	close(fd);
	return rc;
}
