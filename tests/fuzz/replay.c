/*
 * replay.c - feed saved inputs to a fuzz harness without libFuzzer.
 *
 *   replay packet|sequence|conf|nl PATH...
 *
 * Each PATH is a file or a directory whose files (except README* and dot
 * files) are each passed once to the harness, in name order. make check
 * runs it over tests/fuzz/corpus/ and tests/fuzz/regress/ (see replay.sh);
 * a crash or a failed output check aborts, so the test fails.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz_common.h"
#include "tests/fuzz/fuzz_parsers.h"

#define REPLAY_MAX (1024 * 1024)

typedef int (*replay_fn)(const uint8_t *, size_t);

/* Read a whole file; NULL with errno on failure. */
static uint8_t *
replay_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;

	if (f == NULL)
		return NULL;
	buf = malloc(REPLAY_MAX);
	if (buf == NULL) {
		fclose(f);
		return NULL;
	}
	*len = fread(buf, 1, REPLAY_MAX, f);
	if (ferror(f)) {
		free(buf);
		fclose(f);
		errno = EIO;
		return NULL;
	}
	fclose(f);
	return buf;
}

/* Run one file through the harness; -1 if it cannot be read. */
static int
replay_file(replay_fn fn, const char *path)
{
	size_t len;
	uint8_t *buf = replay_read(path, &len);
	uint8_t *exact;

	if (buf == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	/* an exact-size copy, so that ASan sees reads past the input */
	exact = malloc(len ? len : 1);
	if (exact == NULL) {
		free(buf);
		return -1;
	}
	memcpy(exact, buf, len);
	free(buf);
	fn(exact, len);
	free(exact);
	return 0;
}

static int
replay_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run every file of a directory, in name order; returns files run or -1. */
static int
replay_dir(replay_fn fn, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL, **grown, path[4096];
	size_t n = 0, i;
	int run = 0, failed = 0;

	if (d == NULL) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    strncmp(de->d_name, "README", 6) == 0)
			continue;
		grown = realloc(names, (n + 1) * sizeof(*names));
		if (grown == NULL || (grown[n] = strdup(de->d_name)) == NULL) {
			fprintf(stderr, "replay: out of memory\n");
			exit(2);
		}
		names = grown;
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), replay_cmp);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (replay_file(fn, path) == 0)
			run++;
		else
			failed = 1;
		free(names[i]);
	}
	free(names);
	return failed ? -1 : run;
}

int
main(int argc, char **argv)
{
	replay_fn fn;
	struct stat st;
	int i, r, total = 0, bad = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: replay packet|sequence|conf|nl "
		    "PATH...\n");
		return 2;
	}
	if (strcmp(argv[1], "packet") == 0)
		fn = fuzz_packet_one;
	else if (strcmp(argv[1], "sequence") == 0)
		fn = fuzz_sequence_one;
	else if (strcmp(argv[1], "conf") == 0)
		fn = fuzz_conf_one;
	else if (strcmp(argv[1], "nl") == 0)
		fn = fuzz_nl_one;
	else {
		fprintf(stderr, "replay: unknown harness '%s' (packet, "
		    "sequence, conf, nl)\n", argv[1]);
		return 2;
	}
	for (i = 2; i < argc; i++) {
		if (stat(argv[i], &st) == -1) {
			fprintf(stderr, "replay: %s: %s\n", argv[i],
			    strerror(errno));
			bad++;
			continue;
		}
		r = S_ISDIR(st.st_mode) ? replay_dir(fn, argv[i]) :
		    replay_file(fn, argv[i]) == 0 ? 1 : -1;
		if (r < 0)
			bad++;
		else
			total += r;
	}
	printf("replay %s: %d inputs run, %d unreadable paths\n", argv[1],
	    total, bad);
	return bad || total == 0 ? 1 : 0;
}
