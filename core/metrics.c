/*
 * metrics.c - the Prometheus endpoint. libevent's evhttp serves GET (and
 * HEAD) /metrics on the socket the metrics key names; each scrape renders
 * the counter table (core/stats.c) over a fresh snapshot, the same one
 * `tunrelay stats` prints.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "core/metrics.h"
#include "core/stats.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Answer one request: /metrics, or 404. */
static void
metrics_request(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;
	struct evhttp_uri *u;
	struct stats_snap snap;
	struct evbuffer *b;
	const char *path;
	bool ok;

	u = evhttp_uri_parse(evhttp_request_get_uri(req));
	path = u != NULL ? evhttp_uri_get_path(u) : NULL;
	ok = path != NULL && strcmp(path, "/metrics") == 0;
	if (u != NULL)
		evhttp_uri_free(u);
	if ((b = evbuffer_new()) == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", METRICS_CONTENT_TYPE);
	if (!ok) {
		evbuffer_add_printf(b, "tunrelay: the counters are at /metrics\n");
		evhttp_send_reply(req, HTTP_NOTFOUND, "Not Found", b);
	} else {
		m->fill(&snap, m->arg);
		stats_prom(stats_table, stats_table_len, &snap, b);
		if (m->extra != NULL)
			m->extra(b, m->arg);
		stats_prom_build(b);
		evhttp_send_reply(req, HTTP_OK, "OK", b);
	}
	evbuffer_free(b);
}

/* A TCP socket bound to ADDRESS:PORT. */
static int
metrics_tcp(struct metrics *m, const struct conf_metrics *cm, char *err)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	char a[INET6_ADDRSTRLEN];
	int one = 1;

	memset(&ss, 0, sizeof(ss));
	if (cm->addr.family == 4) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(cm->port);
		memcpy(&s4->sin_addr, cm->addr.addr.b, 4);
		len = sizeof(*s4);
	} else {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(cm->port);
		memcpy(&s6->sin6_addr, cm->addr.addr.b, 16);
		len = sizeof(*s6);
	}
	inet_ntop(ss.ss_family, cm->addr.family == 4 ?
	    (const void *)&s4->sin_addr : (const void *)&s6->sin6_addr, a,
	    sizeof(a));
	snprintf(m->where, sizeof(m->where), cm->addr.family == 4 ? "%s:%u" :
	    "[%s]:%u", a, cm->port);
	m->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (m->fd == -1 || setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) == -1 || bind(m->fd, (struct sockaddr *)&ss, len) == -1) {
		snprintf(err, ERRLEN, "metrics %s: %s", m->where,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Remove a socket left by a dead instance; fail if one still answers. */
static int
metrics_stale(const struct sockaddr_un *sun, char *err)
{
	struct stat st;
	int fd, rc;

	if (lstat(sun->sun_path, &st) == -1)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, ERRLEN, "metrics %s exists and is not a "
		    "socket; remove it or choose another path", sun->sun_path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	if (rc == 0) {
		snprintf(err, ERRLEN, "metrics %s: another process "
		    "listens on it", sun->sun_path);
		return -1;
	}
	unlink(sun->sun_path);
	return 0;
}

/* Owner group and mode of the Unix socket. */
static int
metrics_perms(const char *path, const char *group, char *err)
{
	struct group *gr = NULL;

	if (group != NULL && (gr = getgrnam(group)) == NULL) {
		snprintf(err, ERRLEN, "control_group \"%s\": no such "
		    "group", group);
		return -1;
	}
	if ((gr != NULL && chown(path, (uid_t)-1, gr->gr_gid) == -1) ||
	    chmod(path, gr != NULL ? 0660 : 0600) == -1) {
		snprintf(err, ERRLEN, "metrics %s: %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* A Unix socket at path. */
static int
metrics_unix(struct metrics *m, const char *path, const char *group, char *err)
{
	struct sockaddr_un sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, ERRLEN, "metrics %s: path too long", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	snprintf(m->where, sizeof(m->where), "unix:%s", path);
	if (metrics_stale(&sun, err) == -1)
		return -1;
	m->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->fd == -1 || bind(m->fd, (struct sockaddr *)&sun,
	    sizeof(sun)) == -1) {
		snprintf(err, ERRLEN, "metrics %s: %s", path,
		    strerror(errno));
		return -1;
	}
	snprintf(m->path, sizeof(m->path), "%s", path);
	return metrics_perms(path, group, err);
}

/* Listen for scrapes. */
int
metrics_listen(struct metrics *m, struct event_base *base,
    const struct conf_metrics *cm, const char *group, metrics_fill_fn *fill,
    void *arg, char err[ERRLEN])
{
	memset(m, 0, sizeof(*m));
	err[0] = '\0';
	m->fd = -1;
	m->fill = fill;
	m->arg = arg;
	if (!cm->on)
		return 0;
	if ((cm->path != NULL ? metrics_unix(m, cm->path, group, err) :
	    metrics_tcp(m, cm, err)) == -1 || listen(m->fd, 16) == -1) {
		if (m->fd != -1 && err[0] == '\0')
			snprintf(err, ERRLEN, "metrics %s: listen: %s",
			    m->where, strerror(errno));
		metrics_close(m);
		return -1;
	}
	if ((m->http = evhttp_new(base)) == NULL) {
		snprintf(err, ERRLEN, "metrics: evhttp_new failed");
		metrics_close(m);
		return -1;
	}
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_timeout(m->http, METRICS_TIMEOUT);
	evhttp_set_max_headers_size(m->http, 8192);
	evhttp_set_max_body_size(m->http, 1024);
	evhttp_set_gencb(m->http, metrics_request, m);
	if (evhttp_accept_socket_with_handle(m->http, m->fd) == NULL) {
		snprintf(err, ERRLEN, "metrics %s: cannot accept",
		    m->where);
		metrics_close(m);
		return -1;
	}
	m->fd = -1;		/* the listener owns it now */
	return 0;
}

/* Stop listening and remove the Unix socket. */
void
metrics_close(struct metrics *m)
{
	if (m->http != NULL)
		evhttp_free(m->http);
	if (m->fd != -1)
		close(m->fd);
	if (m->path[0] != '\0')
		unlink(m->path);
	m->http = NULL;
	m->fd = -1;
	m->path[0] = '\0';
}
