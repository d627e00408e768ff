/*
 * test_conf_ops.c - the operator keys of [front]: metrics, flow_log and
 * flow_log_rate; defaults, every accepted form, and the exact messages for
 * bad values.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <arpa/inet.h>

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
	char	want[CONF_ERRLEN * 2];

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_metrics_port),
		cmocka_unit_test(test_metrics_forms),
		cmocka_unit_test(test_metrics_bad),
		cmocka_unit_test(test_flow_log_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
