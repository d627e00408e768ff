/*
 * check_host.c - host findings of `tunrelay check` for either role: the
 * capabilities and groups of the user run runs as, the control socket and
 * metrics address run will bind, and instances already running. It reads
 * the host and never changes it.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "core/check_host.h"

/*
 * Whether an instance of a role ("front", "back") runs in this network
 * namespace: its one-instance lock (an abstract socket, core/main.c) cannot
 * be bound.
 */
bool
check_host_running(const char *role)
{
	struct sockaddr_un sun;
	int fd, rc, n;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	n = snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1, "tunrelay.%s",
	    role);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return false;
	rc = bind(fd, (struct sockaddr *)&sun, (socklen_t)(offsetof(struct
	    sockaddr_un, sun_path) + 1 + (size_t)n));
	close(fd);
	return rc == -1 && errno == EADDRINUSE;
}

/* Whether this process holds a capability (effective set). */
bool
check_host_cap(int bit)
{
	char line[256];
	unsigned long long caps;
	FILE *fp = fopen("/proc/self/status", "r");
	int ok = -1;

	if (fp == NULL)
		return geteuid() == 0;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "CapEff: %llx", &caps) == 1)
			ok = (int)((caps >> bit) & 1);
	fclose(fp);
	return ok == -1 ? geteuid() == 0 : ok == 1;
}

/* Whether this process is in group gid (primary or supplementary). */
static bool
check_in_group(gid_t gid)
{
	gid_t g[256];
	int n, i;

	if (getegid() == gid)
		return true;
	if ((n = getgroups(256, g)) == -1)
		return false;
	for (i = 0; i < n; i++)
		if (g[i] == gid)
			return true;
	return false;
}

/* control_group: it exists, and the relay may give its sockets to it. */
static int
check_start_group(const struct conf *c)
{
	const char *g = c->control_group;
	struct group *gr;

	if (g == NULL)
		return 0;
	if ((gr = getgrnam(g)) == NULL)
		return check_say(c, CHECK_ERROR, "control_group = %s: no such "
		    "group, so run cannot give the control socket to it (fix: "
		    "groupadd %s, or name an existing group: getent group)", g,
		    g);
	/* chown to a group needs CAP_CHOWN or membership (check runs as
	 * the user run runs as to see this) */
	if (!check_host_cap(0) && !check_in_group(gr->gr_gid))
		return check_say(c, CHECK_ERROR, "control_group = %s: this "
		    "user (uid %u) is not in the group and lacks CAP_CHOWN, so "
		    "run cannot give the control socket to it (fix: "
		    "SupplementaryGroups=%s in the unit, or usermod -aG %s "
		    "USER)", g, (unsigned int)geteuid(), g, g);
	return 0;
}

/* A Unix socket path run will bind: free or a stale socket, dir makeable. */
static int
check_start_sock(const struct conf *c, const char *what, const char *path,
    bool ours)
{
	struct sockaddr_un sun;
	struct stat st;
	char dir[sizeof(sun.sun_path)], up[sizeof(sun.sun_path)];
	int fd, rc;

	if (strlen(path) >= sizeof(sun.sun_path))
		return check_say(c, CHECK_ERROR, "%s %s: longer than %zu bytes "
		    "(fix: a shorter path)", what, path, sizeof(sun.sun_path) -
		    1);
	snprintf(dir, sizeof(dir), "%s", path);
	snprintf(up, sizeof(up), "%s", dirname(dir));
	if (stat(up, &st) == -1 && stat(dirname(up), &st) == -1)
		return check_say(c, CHECK_ERROR, "%s %s: neither its directory "
		    "nor the one above exists; run makes only the last one "
		    "(fix: mkdir -p %s)", what, path, dirname(strcpy(dir, path)));
	if (lstat(path, &st) == -1)
		return 0;
	if (!S_ISSOCK(st.st_mode))
		return check_say(c, CHECK_ERROR, "%s %s exists and is not a "
		    "socket (fix: remove it, or choose another path)", what,
		    path);
	if (ours)	/* the running instance's own socket */
		return 0;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (rc == 0)
		return check_say(c, CHECK_ERROR, "%s %s: another process "
		    "listens on it (fix: stop it, or choose another path)", what,
		    path);
	return 0;
}

/* The metrics TCP address: free, and an address of this host. */
static int
check_start_metrics(const struct conf *c, bool ours)
{
	const struct conf_metrics *m = &c->front.metrics;
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	char a[INET6_ADDRSTRLEN];
	int fd, rc, err, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (m->addr.family == 4) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(m->port);
		memcpy(&s4->sin_addr, m->addr.addr.b, 4);
	} else {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(m->port);
		memcpy(&s6->sin6_addr, m->addr.addr.b, 16);
	}
	conf_addr_str(&m->addr, a, sizeof(a));
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	rc = bind(fd, (struct sockaddr *)&ss, m->addr.family == 4 ?
	    sizeof(*s4) : sizeof(*s6));
	err = errno;
	close(fd);
	if (rc == 0 || (ours && err == EADDRINUSE))
		return 0;
	return check_say(c, CHECK_ERROR, "[front] metrics %s%s%s:%u: %s (fix: %s)",
	    m->addr.family == 6 ? "[" : "", a, m->addr.family == 6 ? "]" : "",
	    m->port, strerror(err), err == EADDRINUSE ? "stop what listens "
	    "there (ss -ltnp), or choose another port" : "an address of this "
	    "host, or a port alone for 127.0.0.1");
}

/* Host problems that stop run before it is ready; the number of errors. */
int
check_host_start(const struct conf *c)
{
	bool front = c->role != CONF_ROLE_BACK;
	bool ours = check_host_running(front ? "front" : "back");
	int bad;

	bad = check_start_group(c);
	bad += check_start_sock(c, "control_socket", c->control_socket, ours);
	if (front && c->front.metrics.on && c->front.metrics.path != NULL)
		bad += check_start_sock(c, "[front] metrics", c->front.metrics.path,
		    ours);
	else if (front && c->front.metrics.on)
		bad += check_start_metrics(c, ours);
	return bad;
}
