/*
 * nonft.c - run a command on a host "without nftables": a seccomp filter
 * makes socket(AF_NETLINK, *, NETLINK_NETFILTER) fail with EPROTONOSUPPORT,
 * as on a kernel built without nfnetlink, and lets every other call through.
 *
 *   nonft COMMAND [ARG]...
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
#define NONFT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NONFT_ARCH AUDIT_ARCH_AARCH64
#endif

/* Low 32 bits of syscall argument n (little-endian layout). */
#define NONFT_ARG(n) (offsetof(struct seccomp_data, args) + (n) * 8)

/* Install the filter; -1 with errno when the kernel refuses it. */
static int
nonft_filter(void)
{
#ifdef NONFT_ARCH
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NONFT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NONFT_ARG(0)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_NETLINK, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NONFT_ARG(2)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NETLINK_NETFILTER, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K,
		    SECCOMP_RET_ERRNO | (EPROTONOSUPPORT & SECCOMP_RET_DATA)),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
#else
	errno = ENOSYS;
	return -1;
#endif
}

int
main(int argc, char *argv[])
{
	if (argc < 2) {
		fprintf(stderr, "usage: nonft COMMAND [ARG]...\n");
		return 2;
	}
	if (nonft_filter() == -1) {
		fprintf(stderr, "nonft: cannot install the seccomp filter: %s\n",
		    strerror(errno));
		return 77;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "nonft: %s: %s\n", argv[1], strerror(errno));
	return 127;
}
