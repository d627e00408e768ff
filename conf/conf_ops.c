/*
 * conf_ops.c - the operator keys of [front]: metrics (the Prometheus
 * endpoint), flow_log, flow_log_rate and state_file.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf_int.h"

#define CONF_ALLOWED_STATE	"off, or an absolute file path of up to 250 " \
	"bytes"
#define CONF_ALLOWED_METRICS	"off, PORT (on 127.0.0.1), ADDRESS:PORT, " \
	"[IPV6]:PORT or unix:/ABSOLUTE/PATH"

/* A port 1..65535. */
static const char *
conf_ops_port(const char *s, uint16_t *port)
{
	uint32_t	v;

	if (conf_parse_u32(s, 1, 65535, &v) != NULL)
		return "has no valid port (1..65535)";
	*port = (uint16_t)v;
	return NULL;
}

/* "ADDRESS:PORT" or "[IPV6]:PORT" into m. */
static const char *
conf_ops_hostport(const char *s, struct conf_metrics *m)
{
	char		 host[64];
	const char	*port, *end;
	size_t		 n;
	bool		 bracket = *s == '[';

	if (bracket) {
		if ((end = strchr(s, ']')) == NULL || end[1] != ':')
			return "is not [IPV6]:PORT";
		s++;
		port = end + 2;
	} else {
		if ((end = strchr(s, ':')) == NULL || strchr(end + 1, ':'))
			return "is not ADDRESS:PORT (an IPv6 address needs "
			    "brackets)";
		port = end + 1;
	}
	n = (size_t)(end - s);
	if (n == 0 || n >= sizeof(host))
		return "has no address before the port";
	memcpy(host, s, n);
	host[n] = '\0';
	if (conf_parse_addr(host, &m->addr) != NULL ||
	    (m->addr.family == 4) == bracket)
		return "is not an IPv4 or [IPv6] address with a port";
	return conf_ops_port(port, &m->port);
}

/*
 * Parse a metrics value into m; a unix path goes to path[0..len). NULL on
 * success, else why the value is bad.
 */
const char *
conf_ops_metrics(const char *s, struct conf_metrics *m, char *path, size_t len)
{
	const char	*why;

	memset(m, 0, sizeof(*m));
	path[0] = '\0';
	if (strcmp(s, "off") == 0)
		return NULL;
	m->on = true;
	if (strncmp(s, "unix:", 5) == 0) {
		if ((why = conf_parse_path(s + 5)) != NULL)
			return why;
		if (strlen(s + 5) >= len)
			return "is too long";
		memcpy(path, s + 5, strlen(s + 5) + 1);
		return NULL;
	}
	if (strchr(s, ':') == NULL) {
		/* a port alone: loopback, never a public address */
		m->addr.family = 4;
		inet_pton(AF_INET, "127.0.0.1", m->addr.addr.b);
		return conf_ops_port(s, &m->port);
	}
	return conf_ops_hostport(s, m);
}

/* The metrics key. */
static void
conf_ops_metrics_key(struct conf_ctx *ctx, const struct conf_ent *e,
    struct conf_front *f)
{
	struct conf_metrics	 m;
	char			 path[CONF_SOCKET_MAX + 1];
	const char		*why;

	if (e->value[0] == '\0') {
		conf_bad(ctx, e, "", "is empty", CONF_ALLOWED_METRICS);
		return;
	}
	if ((why = conf_ops_metrics(e->value, &m, path, sizeof(path))) != NULL) {
		conf_bad(ctx, e, e->value, why, CONF_ALLOWED_METRICS);
		return;
	}
	if (path[0] != '\0' &&
	    (m.path = conf_strdup(ctx, path, e->line)) == NULL)
		return;
	free(f->metrics.path);
	f->metrics = m;
}

/*
 * Check a state file path: absolute, a file (not a directory), printable,
 * short enough for "FILE.new". NULL when it is good, else why not.
 */
const char *
conf_ops_state_path(const char *s)
{
	const char	*p, *base;
	size_t		 n = strlen(s);

	if (n == 0)
		return "is empty";
	if (*s != '/')
		return "is not an absolute path";
	if (n > CONF_STATE_PATH_MAX)
		return "is longer than 250 bytes";
	base = strrchr(s, '/') + 1;
	if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return "names a directory, not a file";
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			return "has a control character";
	return NULL;
}

/* state_file: off, or a path; the default is /run/tunrelay/NAME.state. */
static void
conf_ops_state_file(struct conf_ctx *ctx, size_t sec, struct conf_front *f)
{
	const struct conf_ent	*e = conf_find(ctx, sec, "state_file");
	char			 path[512];
	const char		*why;

	if (e == NULL) {
		if (conf_default_path(ctx, "state", path, sizeof(path)) == -1 ||
		    conf_ops_state_path(path) != NULL)
			conf_error(ctx, 0, "the default state file \"%s\" is "
			    "not usable (allowed: set state_file, %s)", path,
			    CONF_ALLOWED_STATE);
		else
			f->state_file = conf_strdup(ctx, path, 0);
		return;
	}
	if (strcmp(e->value, "off") == 0)
		return;
	if ((why = conf_ops_state_path(e->value)) != NULL) {
		conf_bad(ctx, e, e->value, why, CONF_ALLOWED_STATE);
		return;
	}
	f->state_file = conf_strdup(ctx, e->value, e->line);
}

/* Read metrics, flow_log, flow_log_rate and state_file of [front] (section sec). */
void
conf_ops_load(struct conf_ctx *ctx, size_t sec, struct conf_front *f)
{
	const struct conf_ent	*e;

	f->flow_log_rate = CONF_FLOW_LOG_RATE;
	if ((e = conf_find(ctx, sec, "metrics")) != NULL)
		conf_ops_metrics_key(ctx, e, f);
	if ((e = conf_find(ctx, sec, "flow_log")) != NULL)
		conf_key_bool(ctx, e, &f->flow_log);
	if ((e = conf_find(ctx, sec, "flow_log_rate")) != NULL)
		conf_key_u32(ctx, e, 1, CONF_FLOW_LOG_RATE_MAX,
		    " lines per second", &f->flow_log_rate);
	conf_ops_state_file(ctx, sec, f);
}
