/*
 * fuzz_conf.c - libFuzzer harness: the input as a configuration file.
 *
 * The bytes are written to a memory file and loaded with conf_load(). Checks:
 * success comes without messages and failure with at least one, each
 * message NUL-terminated and naming the file; a loaded front config gives
 * engine settings that conf_nat_settings() and the engine itself accept
 * (what conf/ validates must not be refused later); every rule has a name.
 *
 * Built with -DFUZZ_REPLAY it exports fuzz_conf_one() for tests/fuzz/replay.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf/conf.h"
#include "tests/fuzz/fuzz_parsers.h"

/* The input in a memory file; its /proc path in path. -1 when it fails. */
static int
fc_file(const uint8_t *data, size_t size, char *path, size_t len)
{
	int fd = memfd_create("tunrelay-fuzz.ini", MFD_CLOEXEC);

	if (fd == -1)
		return -1;
	if (size > 0 && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return -1;
	}
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return fd;
}

/* Every message is a terminated string that starts with the file name. */
static void
fc_messages(const struct conf_errors *e, const char *path)
{
	size_t i;

	if (e->n > CONF_ERRORS_MAX)
		FZP_OOPS("%zu messages, at most %d kept", e->n,
		    CONF_ERRORS_MAX);
	for (i = 0; i < e->n; i++) {
		if (memchr(e->e[i].msg, '\0', ERRLEN) == NULL)
			FZP_OOPS("message %zu not terminated", i);
		if (strncmp(e->e[i].msg, path, strlen(path)) != 0)
			FZP_OOPS("message %zu does not name the file: %s", i,
			    e->e[i].msg);
	}
}

/* A front config must make an engine: conf's checks are the engine's. */
static void
fc_engine(const struct conf *c)
{
	struct nat_settings s;
	struct nat_rule *r;
	struct nat_backend *bk;
	struct nat *nat;
	char err[ERRLEN], name[128];
	size_t n = conf_nat_nrules(c), nb = conf_nat_nbackends(c), i;

	r = calloc(n ? n : 1, sizeof(*r));
	bk = calloc(nb ? nb : 1, sizeof(*bk));
	if (r == NULL || bk == NULL) {
		free(r);
		free(bk);
		return;
	}
	if (conf_nat_settings(c, &s, r, &n, err) == -1)
		FZP_OOPS("conf_nat_settings refused a loaded config: %s", err);
	if (conf_nat_backends(c, &s, r, bk, &nb, err) == -1)
		FZP_OOPS("conf_nat_backends refused a loaded config: %s", err);
	for (i = 0; i < nb; i++)
		if (conf_nat_backend_name(c, bk[i].id, name, sizeof(name)) ==
		    NULL || memchr(name, '\0', sizeof(name)) == NULL)
			FZP_OOPS("backend %zu has no name", i);
	for (i = 0; i < n; i++) {
		/* what the daemon fills in from the host */
		if (r[i].source == NAT_SOURCE_RELAY)
			r[i].relay_src.b[0] = r[i].family == 4 ? 198 : 0x20;
		if (conf_nat_rule_name(c, r[i].id, name, sizeof(name)) == NULL ||
		    memchr(name, '\0', sizeof(name)) == NULL)
			FZP_OOPS("rule %zu has no name", i);
	}
	s.hash_key[0] = 1;
	if ((nat = nat_create(&s, err)) == NULL)
		FZP_OOPS("the engine refused a loaded config: %s", err);
	nat_destroy(nat);
	free(r);
	free(bk);
}

int
fuzz_conf_one(const uint8_t *data, size_t size)
{
	static struct conf_errors errs;
	struct conf c;
	char path[64];
	int fd, rc;

	if (size > CONF_FILE_MAX + 16)
		return 0;
	if ((fd = fc_file(data, size, path, sizeof(path))) == -1)
		return 0;
	memset(&c, 0, sizeof(c));
	memset(&errs, 0, sizeof(errs));
	rc = conf_load(path, &c, &errs);
	close(fd);
	if (rc == 0 && errs.n != 0)
		FZP_OOPS("loaded with %zu messages", errs.n);
	if (rc == -1 && errs.n == 0 && errs.lost == 0)
		FZP_OOPS("refused without a message");
	if (rc == -1) {
		fc_messages(&errs, path);
		return 0;
	}
	if (c.role == CONF_ROLE_FRONT)
		fc_engine(&c);
	conf_free(&c);
	return 0;
}

#ifndef FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_conf_one(data, size);
}
#endif
