/* abort_assert: a failed assert() two calls deep. With "noptrace", a
 * seccomp filter first makes ptrace() fail with EPERM (inherited by the
 * helper), so the message must come from process_vm_readv alone; with
 * "novmread" it makes process_vm_readv fail instead, so the message must
 * come from PTRACE_PEEKDATA. */
#undef NDEBUG /* the build type may define it; this program needs assert */
#include <assert.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

void check_count(int count);
void run_checks(int count);

void
check_count(int count)
{
    assert(count == 0); /* @fault */
}

void
run_checks(int count)
{
    check_count(count); /* @call */
}

/* Make the system call @nr fail with EPERM in this process and its
 * children, the helper among them. */
static int
deny_syscall(long nr)
{
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned int)nr, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) {
        perror("abort_assert: seccomp");
        return -1;
    }
    /* Check that the filter denies the call: without it, these arguments
     * fail with ESRCH (PTRACE_CONT of pid 0) or read nothing. */
    errno = 0;
    if (syscall(nr, nr == SYS_ptrace ? 7 /* PTRACE_CONT */ : getpid(), 0, 0, 0, 0, 0) != -1 ||
        errno != EPERM) {
        fprintf(stderr, "abort_assert: syscall %ld was not denied (errno %d)\n", nr, errno);
        return -1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1 && strcmp(argv[1], "noptrace") == 0 && deny_syscall(SYS_ptrace) != 0)
        return 2;
    if (argc > 1 && strcmp(argv[1], "novmread") == 0 && deny_syscall(SYS_process_vm_readv) != 0)
        return 2;
    puts("abort_assert: about to fail an assertion");
    run_checks(argc); /* @main */
    return 0;
}
