/*
 * reexec.c - execute the binary again for a restart that keeps connections
 * (SIGUSR2, `tunrelay restart`). What the new image needs from the old one
 * it finds in the kernel (our tagged rules and routes, the nftables table),
 * in the state file, and in one environment variable: the sysctl values to
 * put back at the final stop (tun/sysctl.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/reexec.h"
#include "tun/sysctl.h"

static struct {
	char exe[PATH_MAX];
	char config[PATH_MAX];
	bool verbose;
} reexec;

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
}

/* Hand the sysctl undo log to the next image through the environment. */
static int
reexec_env(char err[REEXEC_ERRLEN])
{
	char buf[8192];

	if (sysctl_undo_export(buf, sizeof(buf)) == -1) {
		snprintf(err, REEXEC_ERRLEN, "too many sysctl changes to hand "
		    "over");
		return -1;
	}
	if (setenv(SYSCTL_UNDO_ENV, buf, 1) == -1) {
		snprintf(err, REEXEC_ERRLEN, "setenv: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Whether the binary can be executed again; err says why not. */
int
reexec_ready(char err[REEXEC_ERRLEN])
{
	if (reexec.exe[0] != '/') {
		snprintf(err, REEXEC_ERRLEN, "the binary's path is not known");
		return -1;
	}
	if (access(reexec.exe, X_OK) == -1) {
		snprintf(err, REEXEC_ERRLEN, "%.180s: %.60s", reexec.exe,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Execute the binary again as `tunrelay run -c CONFIG [-v]`. */
int
reexec_exec(char err[REEXEC_ERRLEN])
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
	snprintf(err, REEXEC_ERRLEN, "execv %.180s: %.60s", reexec.exe,
	    strerror(errno));
	unsetenv(SYSCTL_UNDO_ENV);
	return -1;
}
