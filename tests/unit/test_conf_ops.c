/*
 * test_conf_ops.c - the operator keys of [front]: metrics, flow_log,
 * flow_log_rate and state_file; defaults, every accepted form, and the exact
 * messages for bad values.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <arpa/inet.h>
#include <fcntl.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf/conf.h"

#define HEAD "[front]\npublic_interface = eth0\ntunnel_interface = wg0\n" \
	"backend = 10.22.22.1\n"

struct loaded {
	char			path[512];
	int			rc;
	struct conf		c;
	struct conf_errors	errs;
};

/* Load HEAD followed by extra lines from a temporary file. */
static struct loaded *
load(const char *extra)
{
	const char	*dir = getenv("TMPDIR");
	struct loaded	*l = calloc(1, sizeof(*l));
	char		 text[1024];
	int		 fd, n;

	assert_non_null(l);
	n = snprintf(text, sizeof(text), "%s%s", HEAD, extra);
	snprintf(l->path, sizeof(l->path), "%s/tunrelay-ops-XXXXXX",
	    dir != NULL && *dir != '\0' ? dir : "/tmp");
	assert_true((fd = mkstemp(l->path)) >= 0);
	assert_int_equal(write(fd, text, (size_t)n), n);
	close(fd);
	l->rc = conf_load(l->path, &l->c, &l->errs);
	unlink(l->path);
	return l;
}

/* Free a loaded file. */
static void
done(struct loaded *l)
{
	conf_free(&l->c);
	free(l);
}

/* The one error must be "PATH:5: [front] KEY: TAIL". */
static void
assert_one_error(const struct loaded *l, const char *tail)
{
	char	want[ERRLEN * 2];

	snprintf(want, sizeof(want), "%s:5: [front] %s", l->path, tail);
	assert_int_equal(l->rc, -1);
	assert_int_equal(l->errs.n, 1);
	assert_string_equal(l->errs.e[0].msg, want);
}

/* Without the keys: metrics off, flow log off at 100 lines per second. */
static void
test_defaults(void **state)
{
	struct loaded	*l = load("");

	(void)state;
	assert_int_equal(l->rc, 0);
	assert_false(l->c.front.metrics.on);
	assert_null(l->c.front.metrics.path);
	assert_false(l->c.front.flow_log);
	assert_int_equal(l->c.front.flow_log_rate, 100);
	done(l);
}

/* A port alone listens on 127.0.0.1. */
static void
test_metrics_port(void **state)
{
	struct loaded	*l = load("metrics = 9731\n");
	uint8_t		 lo[4] = { 127, 0, 0, 1 };

	(void)state;
	assert_int_equal(l->rc, 0);
	assert_true(l->c.front.metrics.on);
	assert_int_equal(l->c.front.metrics.addr.family, 4);
	assert_memory_equal(l->c.front.metrics.addr.addr.b, lo, 4);
	assert_int_equal(l->c.front.metrics.port, 9731);
	done(l);
}

/* ADDRESS:PORT, [IPV6]:PORT, unix:PATH and off. */
static void
test_metrics_forms(void **state)
{
	struct loaded	*l;
	uint8_t		 v6[16];

	(void)state;
	l = load("metrics = 10.0.0.5:9100\n");
	assert_int_equal(l->rc, 0);
	assert_int_equal(l->c.front.metrics.addr.family, 4);
	assert_int_equal(l->c.front.metrics.port, 9100);
	done(l);
	l = load("metrics = [::1]:9731\n");
	assert_int_equal(l->rc, 0);
	inet_pton(AF_INET6, "::1", v6);
	assert_int_equal(l->c.front.metrics.addr.family, 6);
	assert_memory_equal(l->c.front.metrics.addr.addr.b, v6, 16);
	done(l);
	l = load("metrics = unix:/run/tunrelay/metrics.sock\n");
	assert_int_equal(l->rc, 0);
	assert_true(l->c.front.metrics.on);
	assert_string_equal(l->c.front.metrics.path,
	    "/run/tunrelay/metrics.sock");
	done(l);
	l = load("metrics = off\nflow_log = yes\nflow_log_rate = 5\n");
	assert_int_equal(l->rc, 0);
	assert_false(l->c.front.metrics.on);
	assert_true(l->c.front.flow_log);
	assert_int_equal(l->c.front.flow_log_rate, 5);
	done(l);
}

#define ALLOWED "(allowed: off, PORT (on 127.0.0.1), ADDRESS:PORT, " \
	"[IPV6]:PORT or unix:/ABSOLUTE/PATH)"

/* Bad metrics values: each message quotes the value and the forms. */
static void
test_metrics_bad(void **state)
{
	static const struct {
		const char *value, *why;
	} bad[] = {
		{ "0", "has no valid port (1..65535)" },
		{ "70000", "has no valid port (1..65535)" },
		{ "on", "has no valid port (1..65535)" },
		{ "::1:9731", "is not ADDRESS:PORT (an IPv6 address needs "
		    "brackets)" },
		{ "[::1]9731", "is not [IPV6]:PORT" },
		{ "[10.0.0.1]:80", "is not an IPv4 or [IPv6] address with a "
		    "port" },
		{ "host:80", "is not an IPv4 or [IPv6] address with a port" },
		{ "127.0.0.1:", "has no valid port (1..65535)" },
		{ "unix:relative.sock", "is not an absolute path" },
	};
	char	line[256], tail[512];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct loaded	*l;

		snprintf(line, sizeof(line), "metrics = %s\n", bad[i].value);
		l = load(line);
		snprintf(tail, sizeof(tail), "metrics: \"%s\" %s %s",
		    bad[i].value, bad[i].why, ALLOWED);
		assert_one_error(l, tail);
		done(l);
	}
}

/* Bad flow_log and flow_log_rate values. */
static void
test_flow_log_bad(void **state)
{
	struct loaded	*l;

	(void)state;
	l = load("flow_log = sometimes\n");
	assert_one_error(l, "flow_log: \"sometimes\" is not yes or no "
	    "(allowed: yes, no)");
	done(l);
	l = load("flow_log_rate = 0\n");
	assert_int_equal(l->rc, -1);
	assert_int_equal(l->errs.n, 1);
	assert_non_null(strstr(l->errs.e[0].msg, "flow_log_rate: \"0\""));
	assert_non_null(strstr(l->errs.e[0].msg, "1..100000"));
	done(l);
}

/* Load HEAD + extra from DIR/relay.ini; the state file it names, or NULL. */
static char *
load_ini_state(const char *extra)
{
	const char	*tmp = getenv("TMPDIR");
	struct conf_errors *errs = calloc(1, sizeof(*errs));
	struct conf	 c;
	char		 dir[512], path[600], text[1024], *st;
	int		 fd, n, rc;

	assert_non_null(errs);
	snprintf(dir, sizeof(dir), "%s/tunrelay-ops-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/relay.ini", dir);
	n = snprintf(text, sizeof(text), "%s%s", HEAD, extra);
	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0);
	assert_int_equal(write(fd, text, (size_t)n), n);
	close(fd);
	rc = conf_load(path, &c, errs);
	unlink(path);
	rmdir(dir);
	free(errs);
	assert_int_equal(rc, 0);
	st = c.front.state_file ? strdup(c.front.state_file) : NULL;
	conf_free(&c);
	return st;
}

/* state_file: default from the file's name, off, a path. */
static void
test_state_file(void **state)
{
	struct loaded	*l = load("");
	char		 want[600], *st;
	const char	*base = strrchr(l->path, '/') + 1;

	(void)state;
	/* a name without .ini is taken whole */
	snprintf(want, sizeof(want), "/run/tunrelay/%s.state", base);
	assert_int_equal(l->rc, 0);
	assert_string_equal(l->c.front.state_file, want);
	done(l);
	st = load_ini_state("");
	assert_string_equal(st, "/run/tunrelay/relay.state");
	free(st);
	assert_null(load_ini_state("state_file = off\n"));
	st = load_ini_state("state_file = /var/lib/tunrelay/flows\n");
	assert_string_equal(st, "/var/lib/tunrelay/flows");
	free(st);
}

/* Bad state_file values: the exact messages. */
static void
test_state_file_bad(void **state)
{
	static const char *const bad[][2] = {
		{ "state_file = relay.state\n", "state_file: \"relay.state\" "
		    "is not an absolute path (allowed: off, or an absolute file "
		    "path of up to 250 bytes)" },
		{ "state_file = /run/tunrelay/\n", "state_file: "
		    "\"/run/tunrelay/\" names a directory, not a file "
		    "(allowed: off, or an absolute file path of up to 250 "
		    "bytes)" },
		{ "state_file = /run/..\n", "state_file: \"/run/..\" names a "
		    "directory, not a file (allowed: off, or an absolute file "
		    "path of up to 250 bytes)" },
		{ "state_file =\n", "state_file: \"\" is empty (allowed: off, "
		    "or an absolute file path of up to 250 bytes)" },
		{ "state_file = OFF\n", "state_file: \"OFF\" is not an "
		    "absolute path (allowed: off, or an absolute file path of "
		    "up to 250 bytes)" },
	};
	char		 line[400], p[300];
	struct loaded	*l;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		l = load(bad[i][0]);
		assert_one_error(l, bad[i][1]);
		done(l);
	}
	memset(p, 'a', sizeof(p));
	p[0] = '/';
	p[251] = '\0';
	snprintf(line, sizeof(line), "state_file = %s\n", p);
	l = load(line);
	assert_int_equal(l->rc, -1);
	assert_int_equal(l->errs.n, 1);
	assert_non_null(strstr(l->errs.e[0].msg, "is longer than 250 bytes"));
	done(l);
	p[250] = '\0';
	snprintf(line, sizeof(line), "state_file = %s\n", p);
	l = load(line);
	assert_int_equal(l->rc, 0);
	assert_string_equal(l->c.front.state_file, p);
	done(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_metrics_port),
		cmocka_unit_test(test_metrics_forms),
		cmocka_unit_test(test_metrics_bad),
		cmocka_unit_test(test_flow_log_bad),
		cmocka_unit_test(test_state_file),
		cmocka_unit_test(test_state_file_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
