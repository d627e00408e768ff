/*
 * deny.c - run a command on a host that lacks something, by a seccomp
 * filter that lets every other call through:
 *
 *   deny nft COMMAND [ARG]...       socket(AF_NETLINK, *, NETLINK_NETFILTER)
 *                                   fails with EPROTONOSUPPORT, as on a
 *                                   kernel built without nfnetlink
 *   deny io_uring COMMAND [ARG]...  io_uring_setup fails with EPERM, as the
 *                                   default seccomp profiles of container
 *                                   runtimes make it
 *   deny bpf COMMAND [ARG]...       bpf fails with EPERM, as those profiles
 *                                   make it too
 *
 * Exits 77 (a skip for the test harness) where the filter cannot be set.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define DENY_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define DENY_ARCH AUDIT_ARCH_AARCH64
#endif

#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425	/* the same number on every architecture */
#endif

/* Low 32 bits of syscall argument n (little-endian layout). */
#define DENY_ARG(n) (offsetof(struct seccomp_data, args) + (n) * 8)
/* Jump over the next instruction unless the loaded word is k. */
#define DENY_IS(k) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), 1, 0)
#define DENY_ALLOW BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)
#define DENY_LOAD(off) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define DENY_FAIL(e) BPF_STMT(BPF_RET | BPF_K, \
	SECCOMP_RET_ERRNO | ((e) & SECCOMP_RET_DATA))

/* Install a filter program of n instructions. */
static int
deny_install(struct sock_filter *f, unsigned short n)
{
	struct sock_fprog prog = { n, f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

/* The filter for what: "nft", "io_uring" or "bpf"; -1 (errno set) otherwise. */
static int
deny_filter(const char *what)
{
#ifdef DENY_ARCH
	struct sock_filter nft[] = {
		DENY_LOAD(offsetof(struct seccomp_data, arch)),
		DENY_IS(DENY_ARCH), DENY_ALLOW,
		DENY_LOAD(offsetof(struct seccomp_data, nr)),
		DENY_IS(__NR_socket), DENY_ALLOW,
		DENY_LOAD(DENY_ARG(0)),
		DENY_IS(AF_NETLINK), DENY_ALLOW,
		DENY_LOAD(DENY_ARG(2)),
		DENY_IS(NETLINK_NETFILTER), DENY_ALLOW,
		DENY_FAIL(EPROTONOSUPPORT),
	};
	struct sock_filter uring[] = {
		DENY_LOAD(offsetof(struct seccomp_data, arch)),
		DENY_IS(DENY_ARCH), DENY_ALLOW,
		DENY_LOAD(offsetof(struct seccomp_data, nr)),
		DENY_IS(__NR_io_uring_setup), DENY_ALLOW,
		DENY_FAIL(EPERM),
	};
	struct sock_filter bpf[] = {
		DENY_LOAD(offsetof(struct seccomp_data, arch)),
		DENY_IS(DENY_ARCH), DENY_ALLOW,
		DENY_LOAD(offsetof(struct seccomp_data, nr)),
		DENY_IS(__NR_bpf), DENY_ALLOW,
		DENY_FAIL(EPERM),
	};

	if (strcmp(what, "nft") == 0)
		return deny_install(nft, sizeof(nft) / sizeof(nft[0]));
	if (strcmp(what, "io_uring") == 0)
		return deny_install(uring, sizeof(uring) / sizeof(uring[0]));
	if (strcmp(what, "bpf") == 0)
		return deny_install(bpf, sizeof(bpf) / sizeof(bpf[0]));
	errno = EINVAL;
	return -1;
#else
	(void)what;
	errno = ENOSYS;
	return -1;
#endif
}

/* Install the filter and run the command. */
int
main(int argc, char *argv[])
{
	if (argc < 3 || (strcmp(argv[1], "nft") != 0 &&
	    strcmp(argv[1], "io_uring") != 0 && strcmp(argv[1], "bpf") != 0)) {
		fprintf(stderr, "usage: deny nft|io_uring|bpf COMMAND "
		    "[ARG]...\n");
		return 2;
	}
	if (deny_filter(argv[1]) == -1) {
		fprintf(stderr, "deny: cannot install the seccomp filter: %s\n",
		    strerror(errno));
		return 77;
	}
	execvp(argv[2], argv + 2);
	fprintf(stderr, "deny: %s: %s\n", argv[2], strerror(errno));
	return 127;
}
