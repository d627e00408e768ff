/*
 * main.c - the tunrelay command: run, check, flows, stats, status, reload,
 * cleanup, show-rules (the command line itself: core/cli.c).
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <signal.h>
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
#include "core/check_host.h"
#include "core/cli.h"
#include "core/ctl.h"
#include "core/front.h"
#include "core/log.h"
#include "core/reexec.h"
#include "core/loop.h"

#define CAP_NET_ADMIN_BIT 12

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
main_check(const char *path, bool json)
{
	struct conf c;
	int bad;

	if (json)
		return check_config_json(path);
	main_load(path, &c, false);
	bad = check_config(&c, CHECK_SCOPE_ALL);
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
	reexec_init(path, verbose != 0);
	/* a restart asked for before the loop listens must not kill us */
	signal(SIGUSR2, SIG_IGN);
	main_load(path, &c, true);
	if (!check_host_cap(CAP_NET_ADMIN_BIT))
		fatalx("tunrelay run needs CAP_NET_ADMIN (run as root, or "
		    "grant AmbientCapabilities=CAP_NET_ADMIN in the unit)");
	if (main_lock(c.role == CONF_ROLE_BACK ? "back" : "front") == -1)
		fatalx("another tunrelay %s runs in this network namespace; "
		    "stop it first (nothing was changed)",
		    c.role == CONF_ROLE_BACK ? "back" : "front");
	/* the same start checks as `tunrelay check`: never start half-right */
	check_mode(CHECK_MODE_RUN);
	if (check_config(&c, CHECK_SCOPE_START) > 0)
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

/* tunrelay flows / stats / status: ask the running instance. */
static int
main_ask(const char *path, const char *cmd, bool json,
    const struct filter *flt)
{
	struct conf c;
	char err[ERRLEN], line[CTL_LINE_MAX], fs[CTL_LINE_MAX];
	const char *word = strcmp(cmd, "delete") == 0 ? "flows --delete" : cmd;
	int rc;

	main_load(path, &c, false);
	if (c.role == CONF_ROLE_BACK && (strcmp(cmd, "flows") == 0 ||
	    strcmp(cmd, "delete") == 0)) {
		fprintf(stderr, "tunrelay %s: %s is a [back] config; the back "
		    "half tracks no flows (ask the front: tunrelay flows -c "
		    "FRONT-FILE)\n", word, path);
		conf_free(&c);
		return 1;
	}
	fs[0] = '\0';
	if (flt != NULL)
		filter_str(flt, fs, sizeof(fs));
	snprintf(line, sizeof(line), "%s%s%s", cmd, json ? "\tjson" : "", fs);
	rc = ctl_request(c.control_socket, line, stdout, err);
	if (rc == -1)
		fprintf(stderr, "tunrelay %s: %s\n", word, err);
	conf_free(&c);
	return rc == -1 ? 1 : 0;
}

/* One value of the running instance's answer to cmd, or -1. */
static long long
main_value(const char *sock, const char *cmd, const char *name)
{
	char err[ERRLEN], *buf = NULL, *p;
	size_t len = 0, n = strlen(name);
	long long v = -1;
	FILE *mem;

	if ((mem = open_memstream(&buf, &len)) == NULL)
		return -1;
	if (ctl_request(sock, cmd, mem, err) == -1) {
		fclose(mem);
		free(buf);
		return -1;
	}
	fclose(mem);
	for (p = buf; p != NULL && *p != '\0'; p = strchr(p, '\n'), p += p != NULL) {
		if (strncmp(p, name, n) == 0 && p[n] == ' ') {
			v = strtoll(p + n + 1, NULL, 10);
			break;
		}
	}
	free(buf);
	return v;
}

/*
 * tunrelay reload: SIGHUP to the instance that answers on the control
 * socket (its pid from the socket itself), then wait for the outcome in its
 * reloads and reload_errors counters.
 */
static int
main_reload(const char *path)
{
	struct conf c;
	char err[ERRLEN];
	long long ok0, bad0, ok, bad;
	pid_t pid;
	int i, rc = 1;

	main_load(path, &c, false);
	if (ctl_peer_pid(c.control_socket, &pid, err) == -1) {
		fprintf(stderr, "tunrelay reload: %s\n", err);
		goto out;
	}
	ok0 = main_value(c.control_socket, "stats", "reloads");
	bad0 = main_value(c.control_socket, "stats", "reload_errors");
	if (kill(pid, SIGHUP) == -1) {
		fprintf(stderr, "tunrelay reload: kill -HUP %ld: %s\n",
		    (long)pid, strerror(errno));
		goto out;
	}
	if (ok0 < 0 || bad0 < 0) {	/* no counters to watch */
		printf("sent SIGHUP to tunrelay (pid %ld)\n", (long)pid);
		rc = 0;
		goto out;
	}
	for (i = 0; i < 100; i++) {	/* 10 s */
		usleep(100000);
		ok = main_value(c.control_socket, "stats", "reloads");
		bad = main_value(c.control_socket, "stats", "reload_errors");
		if (ok > ok0) {
			printf("reloaded %s (pid %ld)\n", path, (long)pid);
			rc = 0;
			goto out;
		}
		if (bad > bad0) {
			fprintf(stderr, "tunrelay reload: the new file was "
			    "refused; the running configuration is kept (the "
			    "reasons are in the log; tunrelay check -c %s)\n",
			    path);
			goto out;
		}
	}
	fprintf(stderr, "tunrelay reload: no outcome within 10 s (pid %ld)\n",
	    (long)pid);
out:
	conf_free(&c);
	return rc;
}

/*
 * tunrelay restart: SIGUSR2 to the instance on the control socket, which
 * executes the installed binary again in the same process, then wait until
 * the control socket answers for a new start (status started_usec).
 */
static int
main_restart(const char *path)
{
	struct conf c;
	char err[ERRLEN];
	long long s0, s;
	pid_t pid;
	int i, rc = 1;

	main_load(path, &c, false);
	if (ctl_peer_pid(c.control_socket, &pid, err) == -1) {
		fprintf(stderr, "tunrelay restart: %s\n", err);
		goto out;
	}
	s0 = main_value(c.control_socket, "status", "started_usec");
	if (kill(pid, SIGUSR2) == -1) {
		fprintf(stderr, "tunrelay restart: kill -USR2 %ld: %s\n",
		    (long)pid, strerror(errno));
		goto out;
	}
	for (i = 0; i < 300; i++) {	/* 30 s */
		usleep(100000);
		if (kill(pid, 0) == -1) {
			fprintf(stderr, "tunrelay restart: the instance (pid "
			    "%ld) exited while restarting; its log says why "
			    "(tunrelay check -c %s)\n", (long)pid, path);
			goto out;
		}
		s = main_value(c.control_socket, "status", "started_usec");
		if (s >= 0 && s != s0) {
			printf("restarted %s (pid %ld), connections kept\n",
			    path, (long)pid);
			rc = 0;
			goto out;
		}
	}
	fprintf(stderr, "tunrelay restart: no new start within 30 s (pid "
	    "%ld); its log says why\n", (long)pid);
out:
	conf_free(&c);
	return rc;
}

/* tunrelay show-rules: what run would install, installing nothing. */
static int
main_show_rules(const char *path)
{
	struct conf c;
	char err[ERRLEN];
	int rc;

	main_load(path, &c, false);
	if (c.role == CONF_ROLE_BACK) {
		fprintf(stderr, "tunrelay show-rules: %s is a [back] config; "
		    "show-rules covers [front] files for now (the back's objects "
		    "are listed in tunrelay(8), KERNEL OBJECTS)\n", path);
		conf_free(&c);
		return 1;
	}
	rc = front_show(&c, stdout, err);
	if (rc == -1)
		fprintf(stderr, "tunrelay show-rules: %s: %s\n", path, err);
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
	char err[ERRLEN > ERRLEN ? ERRLEN : ERRLEN];
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
	struct cli cl;
	char err[ERRLEN];
	const char *confdir = getenv("TUNRELAY_CONFDIR");

	if (confdir == NULL || *confdir == '\0')
		confdir = TUNRELAY_CONFDIR;
	if (cli_parse(argc, argv, confdir, &cl, err) == -1) {
		fprintf(stderr, "tunrelay: %s\n(tunrelay --help shows the "
		    "usage)\n", err);
		return 2;
	}
	switch (cl.cmd) {
	case CLI_HELP:
		cli_usage(stdout);
		return 0;
	case CLI_VERSION:
		printf("tunrelay %s\n", PACKAGE_VERSION);
		return 0;
	case CLI_RUN:
		return main_run(cl.config, cl.verbose);
	case CLI_CHECK:
		return main_check(cl.config, cl.json);
	case CLI_FLOWS:
		return main_ask(cl.config, cl.del ? "delete" : "flows", cl.json,
		    &cl.filter);
	case CLI_STATS:
	case CLI_STATUS:
		return main_ask(cl.config, cli_cmd_name(cl.cmd), cl.json, NULL);
	case CLI_RELOAD:
		return main_reload(cl.config);
	case CLI_RESTART:
		return main_restart(cl.config);
	case CLI_CLEANUP:
		return main_cleanup(cl.config);
	case CLI_SHOW_RULES:
		return main_show_rules(cl.config);
	default:
		return 2;
	}
}
