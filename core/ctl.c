/*
 * ctl.c - the control socket. The daemon listens on a Unix socket (mode 0600,
 * or 0660 with control_group) and answers one command per connection;
 * `tunrelay flows` and `tunrelay stats` are its clients.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/bufferevent.h>

#include "core/ctl.h"
#include "core/ctl_status.h"
#include "core/filter.h"
#include "core/front.h"
#include "core/json.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/stats.h"


/* Make the socket's directory when it is missing. */
static int
ctl_mkdir(const char *path, char *err)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];

	snprintf(dir, sizeof(dir), "%s", path);
	if (mkdir(dirname(dir), 0755) == -1 && errno != EEXIST) {
		snprintf(err, ERRLEN, "mkdir %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* Remove a socket left by a dead instance; fail if one still answers. */
static int
ctl_stale(const struct sockaddr_un *sun, char *err)
{
	struct stat st;
	int fd;

	if (lstat(sun->sun_path, &st) == -1)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, ERRLEN, "%s exists and is not a socket; "
		    "remove it or choose another control_socket",
		    sun->sun_path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0) {
		close(fd);
		snprintf(err, ERRLEN, "%s: another tunrelay is running "
		    "with this control socket", sun->sun_path);
		return -1;
	}
	close(fd);
	unlink(sun->sun_path);
	return 0;
}

/* Whether a connected peer may ask: root, our own user, or the group. */
static bool
ctl_allowed(const struct ctl *c, int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1)
		return false;
	/* with control_group the socket's mode (0660) already admits the
	 * group, supplementary members included: SO_PEERCRED shows only
	 * the primary group */
	return cr.uid == 0 || cr.uid == geteuid() || c->has_gid;
}

/* One connected client. */
struct ctl_client {
	struct ctl *c;
	struct bufferevent *bev;
	int cursor;			/* flow walk in progress, or -1 */
	size_t n;			/* flows written so far */
	bool json;			/* answer in JSON */
	struct filter filter;	/* flows shown */
};

static void ctl_stats(const struct ctl *, bool, struct evbuffer *);
static int ctl_flow(const struct nat_flow_info *, void *);

/* Drop a client and whatever it holds. */
static void
ctl_client_free(struct ctl_client *cl)
{
	if (cl->cursor >= 0) {
		front_lock(cl->c->front);
		engine_cursor_close(cl->c->front->eng, cl->cursor);
		front_unlock(cl->c->front);
	}
	bufferevent_free(cl->bev);
	cl->c->nclients--;
	free(cl);
}

/* Output drained: write the next flows, or finish. */
static void
ctl_written(struct bufferevent *bev, void *arg)
{
	struct ctl_client *cl = arg;
	struct evbuffer *out = bufferevent_get_output(bev);
	struct front *f = cl->c->front;
	int more;

	if (evbuffer_get_length(out) != 0)
		return;
	if (cl->cursor < 0) {
		ctl_client_free(cl);
		return;
	}
	/* the engine lock per chunk: the flows go to the output buffer,
	 * the socket is written after the lock is dropped */
	do {
		/* a filter may pass no flow of a chunk: then nothing drains
		 * and this callback would not run again; take the next one */
		front_lock(f);
		more = engine_cursor_next(f->eng, cl->cursor, loop_now(),
		    CTL_CHUNK, ctl_flow, cl);
		if (more == 0)
			engine_cursor_close(f->eng, cl->cursor);
		front_unlock(f);
	} while (more != 0 && evbuffer_get_length(out) == 0);
	if (more == 0) {
		if (cl->json)
			evbuffer_add_printf(out, "],\"count\":%zu}\n", cl->n);
		else
			evbuffer_add_printf(out, "# %zu flows\n", cl->n);
		cl->cursor = -1;
	}
}

/* A client went away or timed out. */
static void
ctl_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	ctl_client_free(arg);
}

/* Start a flow listing (under the engine lock); -1 when all are taken. */
static int
ctl_cursor_open(struct front *f)
{
	int cursor;

	front_lock(f);
	cursor = engine_cursor_open(f->eng);
	front_unlock(f);
	return cursor;
}

/* A delete's match: the filter, with rule names from the config. */
struct ctl_del {
	const struct filter *f;
	const struct conf *conf;
};

/* Whether a flow matches a delete's filter. */
static int
ctl_del_match(const struct nat_flow_info *fi, void *arg)
{
	const struct ctl_del *d = arg;
	char rule[128];

	return filter_match(d->f, fi, conf_nat_rule_name(d->conf,
	    fi->rule_id, rule, sizeof(rule)));
}

/* Delete the flows a filter matches. */
static void
ctl_delete(struct ctl_client *cl, struct evbuffer *out)
{
	struct front *f = cl->c->front;
	struct ctl_del d = { &cl->filter, &f->conf };
	size_t n;

	if (filter_empty(&cl->filter)) {
		evbuffer_add_printf(out, "error: delete needs a filter (proto, "
		    "addr, port, state or rule)\n");
		return;
	}
	front_lock(f);
	n = engine_flows_delete(f->eng, loop_now(), ctl_del_match, &d);
	front_unlock(f);
	log_info("control socket: deleted %zu flow%s", n, n == 1 ? "" : "s");
	if (cl->json)
		evbuffer_add_printf(out, "{\"deleted\":%zu}\n", n);
	else
		evbuffer_add_printf(out, "deleted %zu flow%s\n", n, n == 1 ? "" :
		    "s");
}

/* Microseconds of the monotonic clock: tells one start from the next. */
static unsigned long long
ctl_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000 +
	    (unsigned long long)ts.tv_nsec / 1000;
}

/* tunrelay status. */
static void
ctl_status(struct ctl_client *cl, struct evbuffer *out)
{
	struct ctl *c = cl->c;
	struct stats_rule *r = NULL;
	struct stats_backend *b = NULL;
	size_t nr = 0, nb = 0;

	if (c->front != NULL &&
	    (r = calloc(STATS_MAX_RULES, sizeof(*r))) != NULL &&
	    (b = calloc(STATS_MAX_BACKENDS, sizeof(*b))) != NULL) {
		front_lock(c->front);
		nr = stats_rules(c->front->eng, &c->front->conf, r,
		    STATS_MAX_RULES);
		nb = stats_backends(c->front->eng, &c->front->conf, b,
		    STATS_MAX_BACKENDS);
		front_unlock(c->front);
	}
	if (cl->json)
		ctl_status_json(c, r, nr, b, nb, out);
	else {
		ctl_status_text(c, r, nr, out);
		ctl_status_backends(b, nb, out);
	}
	free(r);
	free(b);
}

/*
 * Split a command line "CMD[\tjson][\tkey=value...]" into the client's
 * options; the command word, or NULL with an error written to out.
 */
static const char *
ctl_parse(struct ctl_client *cl, char *line, struct evbuffer *out)
{
	char err[ERRLEN], *save = NULL, *tok, *cmd, *eq;

	memset(&cl->filter, 0, sizeof(cl->filter));
	if ((cmd = strtok_r(line, "\t", &save)) == NULL)
		cmd = line;
	while ((tok = strtok_r(NULL, "\t", &save)) != NULL) {
		if (strcmp(tok, "json") == 0) {
			cl->json = true;
			continue;
		}
		if ((eq = strchr(tok, '=')) == NULL) {
			evbuffer_add_printf(out, "error: \"%.32s\" is not "
			    "key=value\n", tok);
			return NULL;
		}
		*eq = '\0';
		if (filter_set(&cl->filter, tok, eq + 1, err) == -1) {
			evbuffer_add_printf(out, "error: %s\n", err);
			return NULL;
		}
	}
	return cmd;
}

/* Start answering a command. */
static void
ctl_answer(struct ctl_client *cl, char *line, struct evbuffer *out)
{
	const char *cmd = ctl_parse(cl, line, out);
	bool flows;

	if (cmd == NULL)
		return;
	flows = strcmp(cmd, "flows") == 0;
	if (strcmp(cmd, "stats") == 0 && cl->c->text != NULL && !cl->json)
		cl->c->text(out, cl->c->text_arg);
	else if (strcmp(cmd, "stats") == 0 && cl->c->text != NULL)
		evbuffer_add_printf(out, "error: the back half's stats have no "
		    "JSON form; use tunrelay status -j\n");
	else if (strcmp(cmd, "stats") == 0)
		ctl_stats(cl->c, cl->json, out);
	else if (strcmp(cmd, "status") == 0)
		ctl_status(cl, out);
	else if ((flows || strcmp(cmd, "delete") == 0) && cl->c->front == NULL)
		evbuffer_add_printf(out, "error: the back half tracks no flows "
		    "(ask the front)\n");
	else if (strcmp(cmd, "delete") == 0)
		ctl_delete(cl, out);
	else if (!flows)
		evbuffer_add_printf(out, "error: unknown command \"%.32s\" "
		    "(allowed: flows, delete, stats, status)\n", cmd);
	else if ((cl->cursor = ctl_cursor_open(cl->c->front)) == -1)
		evbuffer_add_printf(out, "error: %d flow listings are running; "
		    "try again\n", NAT_CURSORS);
	else if (cl->json)
		evbuffer_add_printf(out, "{\"flows\":[");
}

/* Read the client's one-line command and answer it. */
static void
ctl_read(struct bufferevent *bev, void *arg)
{
	struct ctl_client *cl = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;

	line = evbuffer_readln(in, NULL, EVBUFFER_EOL_LF);
	if (line == NULL) {
		if (evbuffer_get_length(in) > CTL_LINE_MAX)
			ctl_client_free(cl);
		return;
	}
	bufferevent_disable(bev, EV_READ);
	ctl_answer(cl, line, bufferevent_get_output(bev));
	free(line);
	bufferevent_setcb(bev, NULL, ctl_written, ctl_event, cl);
	bufferevent_enable(bev, EV_WRITE);
	ctl_written(bev, cl);		/* flows: the first chunk */
}

/* Accept a client on the listening socket. */
static void
ctl_accept(evutil_socket_t fd, short what, void *arg)
{
	struct ctl *c = arg;
	struct ctl_client *cl;
	struct timeval tv = { CTL_TIMEOUT, 0 };
	int cfd;

	(void)what;
	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd == -1)
		return;
	if (c->nclients >= CTL_MAX_CLIENTS) {
		close(cfd);
		return;
	}
	if (!ctl_allowed(c, cfd)) {
		log_warnx("control socket: refused a client that is neither "
		    "root, our user nor in the control group");
		close(cfd);
		return;
	}
	if ((cl = calloc(1, sizeof(*cl))) == NULL) {
		close(cfd);
		return;
	}
	cl->c = c;
	cl->cursor = -1;
	cl->bev = bufferevent_socket_new(c->base, cfd, BEV_OPT_CLOSE_ON_FREE);
	if (cl->bev == NULL) {
		close(cfd);
		free(cl);
		return;
	}
	c->nclients++;
	bufferevent_setcb(cl->bev, ctl_read, NULL, ctl_event, cl);
	bufferevent_set_timeouts(cl->bev, &tv, &tv);
	bufferevent_enable(cl->bev, EV_READ);
}

/* Give the socket its owner group and mode. */
static int
ctl_perms(struct ctl *c, const char *group, char *err)
{
	struct group *gr;

	if (group == NULL)
		return chmod(c->path, 0600) == 0 ? 0 :
		    (snprintf(err, ERRLEN, "chmod %s: %s", c->path,
		    strerror(errno)), -1);
	if ((gr = getgrnam(group)) == NULL) {
		snprintf(err, ERRLEN, "control_group \"%s\": no such group",
		    group);
		return -1;
	}
	c->gid = gr->gr_gid;
	c->has_gid = true;
	if (chown(c->path, (uid_t)-1, gr->gr_gid) == -1) {
		/* without CAP_CHOWN a process may only pick its own groups */
		snprintf(err, ERRLEN, "%s: cannot give it group %s: %s%s",
		    c->path, group, strerror(errno), errno == EPERM ?
		    " (the relay must be a member of that group, e.g. "
		    "SupplementaryGroups= in its unit, or hold CAP_CHOWN)" : "");
		return -1;
	}
	if (chmod(c->path, 0660) == -1) {
		snprintf(err, ERRLEN, "chmod %s: %s", c->path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Listen on the control socket. */
int
ctl_listen(struct ctl *c, struct event_base *base, const char *path,
    const char *group, struct front *front, const struct loop_stats *ls,
    char err[ERRLEN])
{
	struct sockaddr_un sun;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->started = ctl_status_now();
	c->started_usec = ctl_usec();
	c->role = front != NULL ? "front" : "back";
	c->conf_path = "";
	err[0] = '\0';		/* empty unless a step below says why */
	if (ctl_addr(&sun, path, err) == -1 || ctl_mkdir(path, err) == -1 ||
	    ctl_stale(&sun, err) == -1)
		return -1;
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1 || bind(c->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		snprintf(err, ERRLEN, "%s: %s", path, strerror(errno));
		ctl_close(c);
		return -1;
	}
	if (ctl_perms(c, group, err) == -1 || listen(c->fd, 16) == -1) {
		if (err[0] == '\0')
			snprintf(err, ERRLEN, "listen: %s", strerror(errno));
		ctl_close(c);
		return -1;
	}
	c->base = base;
	c->front = front;
	c->ls = ls;
	c->ev = event_new(base, c->fd, EV_READ | EV_PERSIST, ctl_accept, c);
	if (c->ev == NULL || event_add(c->ev, NULL) == -1) {
		snprintf(err, ERRLEN, "cannot watch the control socket");
		ctl_close(c);
		return -1;
	}
	return 0;
}

/* Stop listening and remove the socket. */
void
ctl_close(struct ctl *c)
{
	if (c->ev != NULL)
		event_free(c->ev);
	if (c->fd != -1 && c->fd != 0) {
		close(c->fd);
		unlink(c->path);
	}
	c->ev = NULL;
	c->fd = -1;
}

/* One tuple, conntrack style. */
static void
ctl_tuple(struct evbuffer *out, const struct nat_flow_info *fi,
    const struct nat_addr *src, const struct nat_addr *dst, uint16_t sport,
    uint16_t dport)
{
	char a[64], b[64];

	evbuffer_add_printf(out, " src=%s dst=%s",
	    conf_ntop(fi->family, src, a, sizeof(a)),
	    conf_ntop(fi->family, dst, b, sizeof(b)));
	if (fi->proto == 6 || fi->proto == 17)
		evbuffer_add_printf(out, " sport=%u dport=%u", sport, dport);
	else
		evbuffer_add_printf(out, " id=%u", sport);
}

/* One tuple as a JSON object. */
static void
ctl_tuple_json(struct evbuffer *out, const struct nat_flow_info *fi,
    const struct nat_addr *src, const struct nat_addr *dst, uint16_t sport,
    uint16_t dport)
{
	char a[64], b[64];

	evbuffer_add_printf(out, "{\"src\":\"%s\",\"dst\":\"%s\"",
	    conf_ntop(fi->family, src, a, sizeof(a)),
	    conf_ntop(fi->family, dst, b, sizeof(b)));
	if (fi->proto == 6 || fi->proto == 17)
		evbuffer_add_printf(out, ",\"sport\":%u,\"dport\":%u}", sport,
		    dport);
	else
		evbuffer_add_printf(out, ",\"id\":%u}", sport);
}

/* One flow as a JSON object (docs/json.md). */
static void
ctl_flow_json(struct evbuffer *out, const struct nat_flow_info *fi,
    const char *rule, const char *backend, bool first)
{
	evbuffer_add_printf(out, "%s{\"proto\":\"%s\",\"family\":%u,"
	    "\"state\":\"%s\",\"assured\":%s,\"orig\":", first ? "" : ",",
	    nat_proto_name(fi->proto), fi->family, fi->state, fi->assured ?
	    "true" : "false");
	ctl_tuple_json(out, fi, &fi->orig_src, &fi->orig_dst, fi->orig_sport,
	    fi->orig_dport);
	evbuffer_add_printf(out, ",\"reply\":");
	ctl_tuple_json(out, fi, &fi->reply_src, &fi->reply_dst, fi->reply_sport,
	    fi->reply_dport);
	evbuffer_add_printf(out, ",\"age\":%u,\"idle\":%u,\"expires\":%u,"
	    "\"packets\":{\"orig\":%llu,\"reply\":%llu},\"bytes\":"
	    "{\"orig\":%llu,\"reply\":%llu},\"rule\":", fi->age, fi->idle,
	    fi->expires, (unsigned long long)fi->packets[0],
	    (unsigned long long)fi->packets[1], (unsigned long long)fi->bytes[0],
	    (unsigned long long)fi->bytes[1]);
	json_evstr(out, rule);
	if (backend != NULL) {
		evbuffer_add_printf(out, ",\"backend\":");
		json_evstr(out, backend);
	}
	evbuffer_add_printf(out, "}\n");
}

/* One flow line: both tuples, state, age, counters, rule (and backend). */
static int
ctl_flow(const struct nat_flow_info *fi, void *arg)
{
	struct ctl_client *cl = arg;
	struct evbuffer *out = bufferevent_get_output(cl->bev);
	char rule[128], backend[128];
	const char *bk = NULL;

	conf_nat_rule_name(&cl->c->front->conf, fi->rule_id, rule,
	    sizeof(rule));
	if (!filter_match(&cl->filter, fi, rule))
		return 0;
	if (fi->has_backend)
		bk = conf_nat_backend_name(&cl->c->front->conf, fi->backend_id,
		    backend, sizeof(backend));
	if (cl->json) {
		ctl_flow_json(out, fi, rule, bk, cl->n == 0);
		cl->n++;
		return 0;
	}
	evbuffer_add_printf(out, "%-6s %-11s", nat_proto_name(fi->proto), fi->state);
	ctl_tuple(out, fi, &fi->orig_src, &fi->orig_dst, fi->orig_sport,
	    fi->orig_dport);
	ctl_tuple(out, fi, &fi->reply_src, &fi->reply_dst, fi->reply_sport,
	    fi->reply_dport);
	evbuffer_add_printf(out, "%s age=%us idle=%us expires=%us "
	    "packets=%llu/%llu bytes=%llu/%llu rule=\"%s\"",
	    fi->assured ? " [ASSURED]" : "", fi->age, fi->idle, fi->expires,
	    (unsigned long long)fi->packets[0], (unsigned long long)fi->packets[1],
	    (unsigned long long)fi->bytes[0], (unsigned long long)fi->bytes[1],
	    rule);
	if (bk != NULL)
		evbuffer_add_printf(out, " backend=\"%s\"", bk);
	evbuffer_add_printf(out, "\n");
	cl->n++;
	return 0;
}

/* Counters, one "name value" per line (or JSON), from the counter table. */
static void
ctl_stats(const struct ctl *c, bool json, struct evbuffer *out)
{
	struct stats_snap snap;

	if (c->fill != NULL)
		c->fill(&snap, c->fill_arg);	/* locks what it reads */
	else {
		front_lock(c->front);
		stats_fill(&snap, c->front->eng, c->ls, NULL);
		front_unlock(c->front);
	}
	if (json)
		stats_json(stats_table, stats_table_len, &snap, out);
	else
		stats_text(stats_table, stats_table_len, &snap, out);
}
