/*
 * statefile.c - the front's state file (docs/how-it-works.md, "What a
 * restart keeps").
 *
 * At start: the old file, if any, is mapped read-only and handed to the new
 * engine (nat_state_adopt), which checks it and takes its flows over; the new
 * engine writes its own records into FILE.new, a sparse file of
 * nat_state_size() bytes mapped MAP_SHARED, which is then renamed over FILE
 * (atomically: at every instant FILE is one instance's whole region). A
 * SIGKILL leaves the mapping's pages in the page cache for the next start. A
 * clean stop removes the file; `tunrelay cleanup` removes a stale one.
 *
 * The file starts with a page of the daemon's own (struct statefile_hdr):
 * the boot and the network namespace it belongs to. The engine's times are
 * those of the monotonic clock, meaningless after a reboot, and a relay of
 * another namespace has other flows: such a file is ignored.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/engine.h"
#include "core/log.h"
#include "core/statefile.h"

#define STATEFILE_MAGIC	"TRLYFILE"
#define STATEFILE_VERSION 1
#define STATEFILE_OFF	4096		/* the engine's region starts here */

/* The daemon's page at the start of the file. */
struct statefile_hdr {
	char magic[8];
	uint32_t version;
	uint32_t region_off;		/* STATEFILE_OFF */
	uint64_t netns_dev, netns_ino;	/* the network namespace */
	char boot_id[40];		/* /proc/sys/kernel/random/boot_id */
};

/* Who writes a state file: this boot, this network namespace. */
static void
statefile_owner(struct statefile_hdr *h)
{
	struct stat st;
	FILE *fp;

	memset(h, 0, sizeof(*h));
	memcpy(h->magic, STATEFILE_MAGIC, sizeof(h->magic));
	h->version = STATEFILE_VERSION;
	h->region_off = STATEFILE_OFF;
	if (stat("/proc/self/ns/net", &st) == 0) {
		h->netns_dev = (uint64_t)st.st_dev;
		h->netns_ino = (uint64_t)st.st_ino;
	}
	if ((fp = fopen("/proc/sys/kernel/random/boot_id", "re")) != NULL) {
		if (fgets(h->boot_id, sizeof(h->boot_id), fp) == NULL)
			h->boot_id[0] = '\0';
		h->boot_id[strcspn(h->boot_id, "\n")] = '\0';
		fclose(fp);
	}
}

/* Why a saved file's page does not belong to us, or NULL when it does. */
static const char *
statefile_foreign(const void *map, size_t len)
{
	struct statefile_hdr h, me;

	if (len < STATEFILE_OFF)
		return "truncated: shorter than its first page";
	memcpy(&h, map, sizeof(h));
	statefile_owner(&me);
	if (memcmp(h.magic, me.magic, sizeof(h.magic)) != 0)
		return "not a tunrelay state file (bad magic)";
	if (h.version != me.version || h.region_off != me.region_off)
		return "another file format version";
	if (memchr(h.boot_id, '\0', sizeof(h.boot_id)) == NULL ||
	    strcmp(h.boot_id, me.boot_id) != 0)
		return "written before the last reboot";
	if (h.netns_dev != me.netns_dev || h.netns_ino != me.netns_ino)
		return "written by a relay of another network namespace";
	return NULL;
}

/* FILE.new of a state file path. */
static void
statefile_newpath(const char *path, char *buf, size_t len)
{
	snprintf(buf, len, "%s.new", path);
}

/*
 * Make the file's directory when it is missing (one level: /run/tunrelay).
 * 0755 like the control socket's, which shares it; the file itself is 0600.
 */
static int
statefile_mkdir(const char *path)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", path);
	if (mkdir(dirname(dir), 0755) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

/* Create FILE.new, map it shared and attach the engine to it. */
static int
statefile_create(struct statefile *sf, struct engine *eng)
{
	char np[PATH_MAX], err[ERRLEN];
	size_t len = STATEFILE_OFF + engine_state_size(eng);
	struct statefile_hdr h;
	void *map;
	int fd;

	statefile_newpath(sf->path, np, sizeof(np));
	if (statefile_mkdir(sf->path) == -1) {
		log_warn("state file %s: cannot make its directory", sf->path);
		return -1;
	}
	/* a FILE.new of a start that died half-way: never reuse its bytes */
	if (unlink(np) == -1 && errno != ENOENT) {
		log_warn("state file %s", np);
		return -1;
	}
	fd = open(np, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1 || ftruncate(fd, (off_t)len) == -1 ||
	    (map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	    0)) == MAP_FAILED) {
		log_warn("state file %s", np);
		if (fd != -1) {
			close(fd);
			unlink(np);
		}
		return -1;
	}
	close(fd);
	statefile_owner(&h);
	memcpy(map, &h, sizeof(h));
	if (engine_state_attach(eng, (uint8_t *)map + STATEFILE_OFF,
	    len - STATEFILE_OFF, err) == -1) {
		log_warnx("state file %s: %s", np, err);
		munmap(map, len);
		unlink(np);
		return -1;
	}
	sf->map = map;
	sf->len = len;
	return 0;
}

/* Log what an adoption did: one line. */
static void
statefile_report(const char *path, const struct nat_state_report *r)
{
	char why[256];
	size_t n = 0;
	int i;

	why[0] = '\0';
	for (i = 0; i < NAT_STATE_DROP_MAX && n < sizeof(why); i++) {
		if (r->dropped[i] == 0)
			continue;
		n += (size_t)snprintf(why + n, sizeof(why) - n, "%s%s %u",
		    n == 0 ? " (" : ", ",
		    nat_state_drop_name((enum nat_state_drop)i), r->dropped[i]);
	}
	if (n > 0 && n < sizeof(why) - 1)
		strcat(why, ")");
	log_info("state file %s: adopted %u flow%s, dropped %u%s", path,
	    r->adopted, r->adopted == 1 ? "" : "s", r->dropped_total, why);
}

/* Take over the flows of the old file, if there is one. */
static void
statefile_adopt(const char *path, struct engine *eng, uint64_t now)
{
	struct nat_state_report rep;
	char err[ERRLEN];
	const char *why;
	struct stat st;
	void *old;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			log_info("state file %s: none, no flows to take over",
			    path);
		else
			log_warnx("state file %s: ignored: %s", path,
			    strerror(errno));
		return;
	}
	if (fstat(fd, &st) == -1) {
		log_warn("state file %s: ignored", path);
		close(fd);
		return;
	}
	if (!S_ISREG(st.st_mode) || st.st_size == 0) {
		log_warnx("state file %s: ignored: %s", path,
		    !S_ISREG(st.st_mode) ? "not a regular file" :
		    "empty (truncated)");
		close(fd);
		return;
	}
	old = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (old == MAP_FAILED) {
		log_warn("state file %s: ignored", path);
		return;
	}
	if ((why = statefile_foreign(old, (size_t)st.st_size)) != NULL)
		log_warnx("state file %s: ignored: %s", path, why);
	else if (engine_state_adopt(eng, (const uint8_t *)old + STATEFILE_OFF,
	    (size_t)st.st_size - STATEFILE_OFF, now, &rep, err) == -1)
		log_warnx("state file %s: ignored: %s", path, err);
	else
		statefile_report(path, &rep);
	munmap(old, (size_t)st.st_size);
}

/* Adopt the old file's flows and put this instance's file in its place. */
void
statefile_open(struct statefile *sf, const char *path, struct engine *eng,
    uint64_t now)
{
	char np[PATH_MAX];

	memset(sf, 0, sizeof(*sf));
	if (path == NULL) {
		log_info("state_file = off: full NAT and hairpin flows do not "
		    "survive a restart");
		return;
	}
	if ((sf->path = strdup(path)) == NULL)
		fatal("state file");
	(void)statefile_create(sf, eng);
	/* the engine records the flows it adopts in its own region */
	statefile_adopt(path, eng, now);
	if (sf->map == NULL) {
		/* no region: an old file would bring back flows long gone */
		if (unlink(path) == -1 && errno != ENOENT)
			log_warn("state file %s", path);
		log_warnx("state file %s: not written; full NAT and hairpin "
		    "flows will not survive a restart", path);
		return;
	}
	statefile_newpath(path, np, sizeof(np));
	if (rename(np, path) == -1)
		log_warn("state file %s: rename from %s; flows will not "
		    "survive a restart", path, np);
}

/*
 * Write the engine's header and every record again: the header names the
 * nat_ports the records depend on, and a reload may have changed them.
 */
void
statefile_refresh(struct statefile *sf, struct engine *eng)
{
	char err[ERRLEN];

	if (sf->map != NULL && engine_state_attach(eng,
	    (uint8_t *)sf->map + STATEFILE_OFF, sf->len - STATEFILE_OFF,
	    err) == -1)
		log_warnx("state file %s: %s", sf->path, err);
}

/* Unmap the region; remove the file on a clean stop. */
void
statefile_close(struct statefile *sf, bool remove)
{
	if (sf->map != NULL)
		munmap(sf->map, sf->len);
	if (remove && sf->path != NULL && statefile_remove(sf->path) == -1)
		log_warn("state file %s", sf->path);
	free(sf->path);
	memset(sf, 0, sizeof(*sf));
}

/* Remove a state file and a left-over FILE.new. */
int
statefile_remove(const char *path)
{
	char np[PATH_MAX];
	int rc = 0;

	statefile_newpath(path, np, sizeof(np));
	if (unlink(path) == -1 && errno != ENOENT)
		rc = -1;
	if (unlink(np) == -1 && errno != ENOENT)
		rc = -1;
	return rc;
}
