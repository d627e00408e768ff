/*
 * steer.c - queue steering of a multi-queue TUN device by an eBPF socket
 * filter attached with TUNSETSTEERINGEBPF. The kernel runs it for every
 * packet it sends into the device and uses (return value % queues) as the
 * queue, so a packet is read by the queue of the NAT shard that handles
 * it (the shard function, nat_shard()) and shards rarely share locks.
 * The program sees the IP header at offset 0 and computes X: TCP/UDP of a
 * first or only fragment, X = dport on an inside device, and elsewhere
 * dport when it lies in the NAT port range (the range alone: unlike
 * nat_shard it does not check the destination address), else sport; ICMP
 * and ICMPv6 echo: X = the identifier; the queue is nat_port_shard(X).
 * Everything else (later fragments, ICMP errors, IPv6 extension headers,
 * other protocols, short packets) goes to queue 0: a hint only, the engine
 * locks the right shard anyway. Neither does it know the targets of rules
 * that keep the client's address, whose replies nat_shard() also steers by
 * their destination port on the public and LAN sides: those cross.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/if_tun.h>

#include "nat/nat.h"
#include "tun/steer.h"

/* Jump targets of the program. */
enum steer_label {
	STEER_L_RET0, STEER_L_V4, STEER_L_V6, STEER_L_PORTS, STEER_L_ECHO,
	STEER_L_SPORT, STEER_L_MOD, STEER_L_N
};

#define STEER_MAXFIX 32

/* The program being written: instructions, label positions, jumps to patch. */
struct steer_asm {
	struct bpf_insn *out;
	size_t n;
	size_t at[STEER_L_N];
	size_t fix[STEER_MAXFIX];
	enum steer_label fixto[STEER_MAXFIX];
	size_t nfix;
};

/* Append one instruction. */
static void
steer_emit(struct steer_asm *a, uint8_t code, uint8_t dst, uint8_t src,
    int16_t off, int32_t imm)
{
	struct bpf_insn *i = &a->out[a->n++];

	memset(i, 0, sizeof(*i));
	i->code = code;
	i->dst_reg = dst & 0xf;
	i->src_reg = src & 0xf;
	i->off = off;
	i->imm = imm;
}

/* Append a jump (op BPF_JEQ, BPF_JA, ...) on r0 against imm to a label. */
static void
steer_jump(struct steer_asm *a, uint8_t op, int32_t imm, enum steer_label to)
{
	a->fix[a->nfix] = a->n;
	a->fixto[a->nfix++] = to;
	steer_emit(a, BPF_JMP | op | BPF_K, BPF_REG_0, 0, 0, imm);
}

/* Place a label at the next instruction. */
static void
steer_label(struct steer_asm *a, enum steer_label l)
{
	a->at[l] = a->n;
}

/* Resolve the jumps: offsets count from the instruction after the jump. */
static void
steer_patch(struct steer_asm *a)
{
	size_t k;

	for (k = 0; k < a->nfix; k++)
		a->out[a->fix[k]].off = (int16_t)((long)a->at[a->fixto[k]] -
		    (long)a->fix[k] - 1);
}

/* r0 = the byte or half-word (host order) at offset imm, or at r7 + imm. */
static void
steer_ld(struct steer_asm *a, uint8_t size, bool ind, int32_t imm)
{
	steer_emit(a, BPF_LD | size | (ind ? BPF_IND : BPF_ABS), 0,
	    ind ? BPF_REG_7 : 0, 0, imm);
}

/* r0 op= imm, 64-bit. */
static void
steer_alu(struct steer_asm *a, uint8_t op, int32_t imm)
{
	steer_emit(a, BPF_ALU64 | op | BPF_K, BPF_REG_0, 0, 0, imm);
}

/* IPv4: no later fragment, a sane IHL (r7 = L4 offset), TCP/UDP/echo. */
static void
steer_build_v4(struct steer_asm *a)
{
	steer_label(a, STEER_L_V4);
	steer_ld(a, BPF_H, false, 6);
	steer_alu(a, BPF_AND, 0x1fff);
	steer_jump(a, BPF_JNE, 0, STEER_L_RET0);
	steer_ld(a, BPF_B, false, 0);
	steer_alu(a, BPF_AND, 0xf);
	steer_alu(a, BPF_LSH, 2);
	steer_jump(a, BPF_JLT, 20, STEER_L_RET0);
	steer_emit(a, BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_7, BPF_REG_0, 0, 0);
	steer_ld(a, BPF_B, false, 9);
	steer_jump(a, BPF_JEQ, 6, STEER_L_PORTS);
	steer_jump(a, BPF_JEQ, 17, STEER_L_PORTS);
	steer_jump(a, BPF_JNE, 1, STEER_L_RET0);
	steer_ld(a, BPF_B, true, 0);
	steer_jump(a, BPF_JEQ, 8, STEER_L_ECHO);
	steer_jump(a, BPF_JEQ, 0, STEER_L_ECHO);
	steer_jump(a, BPF_JA, 0, STEER_L_RET0);
}

/* IPv6: the fixed header only (r7 = 40), TCP/UDP/echo. */
static void
steer_build_v6(struct steer_asm *a)
{
	steer_label(a, STEER_L_V6);
	steer_emit(a, BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_7, 0, 0, 40);
	steer_ld(a, BPF_B, false, 6);
	steer_jump(a, BPF_JEQ, 6, STEER_L_PORTS);
	steer_jump(a, BPF_JEQ, 17, STEER_L_PORTS);
	steer_jump(a, BPF_JNE, 58, STEER_L_RET0);
	steer_ld(a, BPF_B, true, 0);
	steer_jump(a, BPF_JEQ, 128, STEER_L_ECHO);
	steer_jump(a, BPF_JEQ, 129, STEER_L_ECHO);
	steer_jump(a, BPF_JA, 0, STEER_L_RET0);
}

/* X from the ports (r7 = L4 offset), or the echo identifier; r0 = nat_port_shard(X, n). */
static void
steer_build_x(struct steer_asm *a, enum steer_side side, unsigned nqueues,
    uint16_t nat_lo, uint16_t nat_hi)
{
	steer_label(a, STEER_L_ECHO);
	steer_ld(a, BPF_H, true, 4);
	steer_jump(a, BPF_JA, 0, STEER_L_MOD);
	steer_label(a, STEER_L_PORTS);
	steer_ld(a, BPF_H, true, 2);
	if (side != STEER_INSIDE) {
		/* a reply to a relay port carries it as dport */
		steer_jump(a, BPF_JLT, nat_lo, STEER_L_SPORT);
		steer_jump(a, BPF_JGT, nat_hi, STEER_L_SPORT);
		steer_jump(a, BPF_JA, 0, STEER_L_MOD);
		steer_label(a, STEER_L_SPORT);
		steer_ld(a, BPF_H, true, 0);
	}
	steer_label(a, STEER_L_MOD);
	/* nat_port_shard(): bits 16..31 of the 32-bit product with the odd
	 * constant (32-bit ALU: the product wraps, the shift zero-fills) */
	steer_emit(a, BPF_ALU | BPF_MUL | BPF_K, BPF_REG_0, 0, 0,
	    (int32_t)NAT_SHARD_MIX);
	steer_emit(a, BPF_ALU | BPF_RSH | BPF_K, BPF_REG_0, 0, 0, 16);
	if ((nqueues & (nqueues - 1)) == 0)
		steer_alu(a, BPF_AND, (int32_t)nqueues - 1);
	else
		steer_alu(a, BPF_MOD, (int32_t)nqueues);
	steer_emit(a, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

/* Write the steering program of a device into out: its length. */
size_t
steer_build(struct bpf_insn *out, enum steer_side side, unsigned nqueues,
    uint16_t nat_lo, uint16_t nat_hi)
{
	struct steer_asm a;

	memset(&a, 0, sizeof(a));
	a.out = out;
	if (nqueues <= 1) {
		steer_emit(&a, BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
		steer_emit(&a, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
		return a.n;
	}
	/* loads of skb data take the context from r6 */
	steer_emit(&a, BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_6, BPF_REG_1, 0, 0);
	steer_ld(&a, BPF_B, false, 0);
	steer_alu(&a, BPF_RSH, 4);
	steer_jump(&a, BPF_JEQ, 4, STEER_L_V4);
	steer_jump(&a, BPF_JEQ, 6, STEER_L_V6);
	steer_label(&a, STEER_L_RET0);
	steer_emit(&a, BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
	steer_emit(&a, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	steer_build_v4(&a);
	steer_build_v6(&a);
	steer_build_x(&a, side, nqueues, nat_lo, nat_hi);
	steer_patch(&a);
	return a.n;
}

/* The last non-empty line of the verifier's log, for a message. */
static const char *
steer_log_tail(char *log)
{
	size_t n = strlen(log);
	char *p;

	while (n > 0 && (log[n - 1] == '\n' || log[n - 1] == ' '))
		log[--n] = '\0';
	p = strrchr(log, '\n');
	return p != NULL ? p + 1 : log;
}

/* bpf(BPF_PROG_LOAD) of a socket filter, with or without a verifier log. */
static int
steer_prog_load(const struct bpf_insn *prog, size_t n, char *log,
    size_t loglen)
{
	union bpf_attr at;

	memset(&at, 0, sizeof(at));
	at.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	at.insns = (uint64_t)(uintptr_t)prog;
	at.insn_cnt = (uint32_t)n;
	at.license = (uint64_t)(uintptr_t)"GPL";
	if (log != NULL) {
		log[0] = '\0';
		at.log_buf = (uint64_t)(uintptr_t)log;
		at.log_size = (uint32_t)loglen;
		at.log_level = 1;
	}
	return (int)syscall(__NR_bpf, BPF_PROG_LOAD, &at, sizeof(at));
}

/* Load a program as a socket filter: its fd, or -1 with err (errno kept). */
int
steer_load(const struct bpf_insn *prog, size_t n, char err[ERRLEN])
{
	char log[16384];
	int fd, saved;

	if ((fd = steer_prog_load(prog, n, NULL, 0)) != -1)
		return fd;
	saved = errno;
	if (saved == EINVAL || saved == EACCES) {
		/* ask again for the verifier's reason */
		fd = steer_prog_load(prog, n, log, sizeof(log));
		if (fd != -1)
			return fd;
		if (log[0] != '\0') {
			snprintf(err, ERRLEN, "bpf(BPF_PROG_LOAD): %s: verifier: "
			    "%s", strerror(saved), steer_log_tail(log));
			errno = saved;
			return -1;
		}
	}
	snprintf(err, ERRLEN, "bpf(BPF_PROG_LOAD): %s", strerror(saved));
	errno = saved;
	return -1;
}

/* Load the program of a device's side and attach it to the device. */
int
steer_attach(int tunfd, enum steer_side side, unsigned nqueues,
    uint16_t nat_lo, uint16_t nat_hi, char err[ERRLEN])
{
	struct bpf_insn prog[STEER_MAX_INSNS];
	size_t n = steer_build(prog, side, nqueues, nat_lo, nat_hi);
	int fd, rc, saved;

	if ((fd = steer_load(prog, n, err)) == -1)
		return -1;
	/* the device holds its own reference: our fd can go */
	rc = ioctl(tunfd, TUNSETSTEERINGEBPF, &fd);
	saved = errno;
	close(fd);
	if (rc == -1) {
		snprintf(err, ERRLEN, "ioctl(TUNSETSTEERINGEBPF): %s",
		    strerror(saved));
		errno = saved;
		return -1;
	}
	return 0;
}

/* Remove the steering program of the device. */
int
steer_detach(int tunfd, char err[ERRLEN])
{
	int fd = -1, saved;

	if (ioctl(tunfd, TUNSETSTEERINGEBPF, &fd) == -1) {
		saved = errno;
		snprintf(err, ERRLEN, "ioctl(TUNSETSTEERINGEBPF, -1): %s",
		    strerror(saved));
		errno = saved;
		return -1;
	}
	return 0;
}

/* Whether this process may load a steering program: load one, close it. */
int
steer_probe(char err[ERRLEN])
{
	struct bpf_insn prog[STEER_MAX_INSNS];
	size_t n = steer_build(prog, STEER_PUBLIC, 2, 61000, 65534);
	int fd;

	if ((fd = steer_load(prog, n, err)) == -1)
		return -1;
	close(fd);
	return 0;
}
