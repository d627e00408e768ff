/*
 * main.c - the tunrelay command: run, check, flows, stats, cleanup.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "core/back.h"
#include "core/check.h"
#include "core/ctl.h"
#include "core/front.h"
#include "core/log.h"
#include "core/loop.h"

#define CAP_NET_ADMIN_BIT 12

/* Print usage and exit. */
static void __attribute__((noreturn))
main_usage(int rc)
{
	fprintf(rc ? stderr : stdout,
	    "usage: tunrelay run     -c FILE [-v]  run in the foreground\n"
	    "       tunrelay check   -c FILE       validate the file and the host\n"
	    "       tunrelay flows   -c FILE       tracked flows of the running instance\n"
	    "       tunrelay stats   -c FILE       counters of the running instance\n"
	    "       tunrelay cleanup -c FILE       remove what a killed instance left\n"
	    "       tunrelay --version\n");
	exit(rc);
}

/* Whether this process holds CAP_NET_ADMIN (effective set). */
static int
main_net_admin(void)
{
	char line[256];
	unsigned long long caps;
	FILE *fp = fopen("/proc/self/status", "r");
	int ok = -1;

	if (fp == NULL)
		return geteuid() == 0;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "CapEff: %llx", &caps) == 1)
			ok = (caps >> CAP_NET_ADMIN_BIT) & 1;
	fclose(fp);
	return ok == -1 ? geteuid() == 0 : ok;
}

/*
 * Load a file, printing every error; exits 1 when it has any (with a
 * "fatal:" log line for run, whose output is a log).
 */
static void
main_load(const char *path, struct conf *c, bool run)
{
	struct conf_errors errs;
	size_t i;

	if (conf_load(path, c, &errs) == 0)
		return;
	for (i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.e[i].msg);
	if (errs.lost)
		fprintf(stderr, "%s: %zu more errors not shown\n", path, errs.lost);
	if (run)
		fatalx("%s: %zu error%s in the file (printed above); nothing "
		    "was changed", path, errs.n + errs.lost, errs.n + errs.lost
		    == 1 ? "" : "s");
	exit(1);
}

/*
 * Hold the one-instance lock of a role ("front" or "back") in this network
 * namespace: an abstract Unix socket, gone with the process however it ends.
 * The tables, rule priorities and device names of a role are fixed, so two
 * instances of one role in a namespace would tear down each other's rules
 * (a front and a back may share one). -1 when one runs already.
 */
static int
main_lock(const char *role)
{
	struct sockaddr_un sun;
	socklen_t len;
	int fd, n;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	/* sun_path[0] stays 0: the abstract namespace */
	n = snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1, "tunrelay.%s",
	    role);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	if (bind(fd, (struct sockaddr *)&sun, len) == -1) {
		if (errno != EADDRINUSE)
			fatal("bind");
		close(fd);
		return -1;
	}
	return fd;
}

/* tunrelay check. */
static int
main_check(const char *path)
{
	struct conf c;
	int bad;

	main_load(path, &c, false);
	bad = check_start(&c);
	if (c.role == CONF_ROLE_BACK)
		bad += back_check(&c) + check_back(&c);
	else
		bad += front_check(&c) + check_front(&c);
	conf_free(&c);
	if (bad)
		return 1;
	printf("configuration OK\n");
	return 0;
}

/* tunrelay run. */
static int
main_run(const char *path, int verbose)
{
	struct conf c;
	int rc;

	log_init(verbose ? LOG_DEBUG : LOG_INFO);
	main_load(path, &c, true);
	if (!main_net_admin())
		fatalx("tunrelay run needs CAP_NET_ADMIN (run as root, or "
		    "grant AmbientCapabilities=CAP_NET_ADMIN in the unit)");
	if (main_lock(c.role == CONF_ROLE_BACK ? "back" : "front") == -1)
		fatalx("another tunrelay %s runs in this network namespace; "
		    "stop it first (nothing was changed)",
		    c.role == CONF_ROLE_BACK ? "back" : "front");
	/* the same start checks as `tunrelay check`: never start half-right */
	check_mode(CHECK_MODE_RUN);
	if (check_start(&c) + (c.role == CONF_ROLE_BACK ? back_check(&c) :
	    front_check(&c)) > 0)
		fatalx("%s: host checks failed (logged above; tunrelay check -c "
		    "%s shows them too); nothing was changed", path, path);
	check_mode(CHECK_MODE_PRINT);
	if (c.role == CONF_ROLE_BACK) {
		rc = back_run(path, &c);
		conf_free(&c);
		return rc;
	}
	rc = loop_run(path, &c);
	conf_free(&c);
	return rc;
}

/* tunrelay flows / stats: ask the running instance. */
static int
main_ask(const char *path, const char *cmd)
{
	struct conf c;
	char err[CTL_ERRLEN];
	int rc;

	main_load(path, &c, false);
	if (c.role == CONF_ROLE_BACK && strcmp(cmd, "flows") == 0) {
		fprintf(stderr, "tunrelay flows: %s is a [back] config; the back "
		    "half tracks no flows (ask the front: tunrelay flows -c "
		    "FRONT-FILE)\n", path);
		conf_free(&c);
		return 1;
	}
	rc = ctl_request(c.control_socket, cmd, stdout, err);
	if (rc == -1)
		fprintf(stderr, "tunrelay %s: %s\n", cmd, err);
	conf_free(&c);
	return rc == -1 ? 1 : 0;
}

/*
 * Clean one role's objects unless an instance of it runs; 0 ok, 1 not. With
 * the front's config c, also its state file.
 */
static int
main_cleanup_role(const char *role, const struct conf *c)
{
	char err[FRONT_ERRLEN > BACK_ERRLEN ? FRONT_ERRLEN : BACK_ERRLEN];
	int lock, rc;

	if ((lock = main_lock(role)) == -1) {
		fprintf(stderr, "tunrelay cleanup: a tunrelay %s is running in "
		    "this network namespace; stop it first\n", role);
		return 1;
	}
	rc = strcmp(role, "back") == 0 ? back_cleanup(err) : front_cleanup(err);
	if (rc == 0 && c != NULL && strcmp(role, "front") == 0)
		rc = front_cleanup_state(c, err);
	close(lock);
	if (rc == -1) {
		fprintf(stderr, "tunrelay cleanup: %s: %s\n", role, err);
		return 1;
	}
	return 0;
}

/*
 * tunrelay cleanup: remove what a killed instance left. Our objects are
 * found by their tags, so a broken file is no obstacle: when its role cannot
 * be read, both roles' objects go (each only if no instance of it runs).
 */
static int
main_cleanup(const char *path)
{
	struct conf_errors errs;
	struct conf c;
	int bad = 0;

	memset(&c, 0, sizeof(c));
	if (conf_load(path, &c, &errs) == -1) {
		/* the objects go all the same, but the file is wrong: say so
		 * in the status too (a unit names a file it cannot read) */
		fprintf(stderr, "tunrelay cleanup: %s\ntunrelay cleanup: %s "
		    "has errors (tunrelay check -c %s lists them); removing "
		    "tunrelay's objects of both roles anyway\n", errs.n > 0 ?
		    errs.e[0].msg : path, path, path);
		bad = 1;
		bad |= main_cleanup_role("front", NULL);
		bad |= main_cleanup_role("back", NULL);
	} else
		bad = main_cleanup_role(c.role == CONF_ROLE_BACK ? "back" :
		    "front", &c);
	if (!bad && c.control_socket && unlink(c.control_socket) == -1 &&
	    errno != ENOENT) {
		fprintf(stderr, "tunrelay cleanup: %s: %s\n", c.control_socket,
		    strerror(errno));
		bad = 1;
	}
	conf_free(&c);
	return bad;
}

int
main(int argc, char *argv[])
{
	const char *cmd, *path = NULL;
	int ch, verbose = 0;

	if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		printf("tunrelay %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (argc < 2 || argv[1][0] == '-')
		main_usage(argc >= 2 && strcmp(argv[1], "-h") == 0 ? 0 : 2);
	cmd = argv[1];
	optind = 2;
	while ((ch = getopt(argc, argv, "c:hv")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			main_usage(0);
		default:
			main_usage(2);
		}
	}
	if (path == NULL || optind != argc)
		main_usage(2);
	if (strcmp(cmd, "run") == 0)
		return main_run(path, verbose);
	if (strcmp(cmd, "check") == 0)
		return main_check(path);
	if (strcmp(cmd, "flows") == 0 || strcmp(cmd, "stats") == 0)
		return main_ask(path, cmd);
	if (strcmp(cmd, "cleanup") == 0)
		return main_cleanup(path);
	fprintf(stderr, "tunrelay: unknown command \"%s\" (allowed: run, "
	    "check, flows, stats, cleanup)\n", cmd);
	return 2;
}
