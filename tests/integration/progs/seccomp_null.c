/* seccomp_null: installs a seccomp filter that makes ptrace() fail with EPERM
 * (inherited by the helper), parks a worker thread, then writes to NULL
 * three calls deep. The crashing thread must still be reported in full. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int *volatile g_target; /* NULL */

void sc_level3(int *p);
void sc_level2(int *p);
void sc_level1(int *p);
void park(void);

void
sc_level3(int *p)
{
    *p = 42; /* @fault */
}

void
sc_level2(int *p)
{
    sc_level3(p); /* @call2 */
}

void
sc_level1(int *p)
{
    sc_level2(p); /* @call1 */
}

void
park(void)
{
    for (;;)
        pause(); /* @park */
}

static void *
worker(void *arg)
{
    (void)arg;
    park();
    return NULL;
}

static int
deny_ptrace(void)
{
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ptrace, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        perror("seccomp_null: PR_SET_NO_NEW_PRIVS");
        return -1;
    }
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) {
        perror("seccomp_null: PR_SET_SECCOMP");
        return -1;
    }
    return 0;
}

int
main(void)
{
    pthread_t t;

    setvbuf(stdout, NULL, _IONBF, 0);
    if (deny_ptrace() != 0)
        return 2;
    /* Check the filter works: PTRACE_CONT on pid 0 fails with ESRCH without
     * the filter, and with EPERM from the filter. */
    errno = 0;
    if (syscall(SYS_ptrace, 7 /* PTRACE_CONT */, 0, 0, 0) != -1 || errno != EPERM) {
        fprintf(stderr, "seccomp_null: ptrace was not denied (errno %d)\n", errno);
        return 2;
    }
    pthread_create(&t, NULL, worker, NULL);
    pthread_setname_np(t, "sc-parked");
    usleep(20000);
    puts("seccomp_null: about to crash");
    sc_level1(g_target); /* @main */
    return 0;
}
