/* signals: name tables. Values are spelled as numbers from the Linux UAPI
 * <asm-generic/siginfo.h> rather than with libc macros, because older libcs
 * lack the newer codes (SEGV_CPERR, FPE_CONDTRAP...) and the kernel may
 * send them anyway. */
#include "signals.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>

static const char *const g_signal_names[] = {
    [SIGHUP] = "SIGHUP",       [SIGINT] = "SIGINT",       [SIGQUIT] = "SIGQUIT",
    [SIGILL] = "SIGILL",       [SIGTRAP] = "SIGTRAP",     [SIGABRT] = "SIGABRT",
    [SIGBUS] = "SIGBUS",       [SIGFPE] = "SIGFPE",       [SIGKILL] = "SIGKILL",
    [SIGUSR1] = "SIGUSR1",     [SIGSEGV] = "SIGSEGV",     [SIGUSR2] = "SIGUSR2",
    [SIGPIPE] = "SIGPIPE",     [SIGALRM] = "SIGALRM",     [SIGTERM] = "SIGTERM",
    [SIGSTKFLT] = "SIGSTKFLT", [SIGCHLD] = "SIGCHLD",     [SIGCONT] = "SIGCONT",
    [SIGSTOP] = "SIGSTOP",     [SIGTSTP] = "SIGTSTP",     [SIGTTIN] = "SIGTTIN",
    [SIGTTOU] = "SIGTTOU",     [SIGURG] = "SIGURG",       [SIGXCPU] = "SIGXCPU",
    [SIGXFSZ] = "SIGXFSZ",     [SIGVTALRM] = "SIGVTALRM", [SIGPROF] = "SIGPROF",
    [SIGWINCH] = "SIGWINCH",   [SIGIO] = "SIGIO",         [SIGPWR] = "SIGPWR",
    [SIGSYS] = "SIGSYS",
};

struct code_name {
    int code;
    const char *name;
};

static const struct code_name g_ill_codes[] = {
    {1, "ILL_ILLOPC"}, {2, "ILL_ILLOPN"}, {3, "ILL_ILLADR"}, {4, "ILL_ILLTRP"},   {5, "ILL_PRVOPC"},
    {6, "ILL_PRVREG"}, {7, "ILL_COPROC"}, {8, "ILL_BADSTK"}, {9, "ILL_BADIADDR"}, {0, NULL},
};

static const struct code_name g_fpe_codes[] = {
    {1, "FPE_INTDIV"},  {2, "FPE_INTOVF"},    {3, "FPE_FLTDIV"}, {4, "FPE_FLTOVF"},
    {5, "FPE_FLTUND"},  {6, "FPE_FLTRES"},    {7, "FPE_FLTINV"}, {8, "FPE_FLTSUB"},
    {14, "FPE_FLTUNK"}, {15, "FPE_CONDTRAP"}, {0, NULL},
};

static const struct code_name g_segv_codes[] = {
    {1, "SEGV_MAPERR"},  {2, "SEGV_ACCERR"},  {3, "SEGV_BNDERR"},  {4, "SEGV_PKUERR"},
    {5, "SEGV_ACCADI"},  {6, "SEGV_ADIDERR"}, {7, "SEGV_ADIPERR"}, {8, "SEGV_MTEAERR"},
    {9, "SEGV_MTESERR"}, {10, "SEGV_CPERR"},  {0, NULL},
};

static const struct code_name g_bus_codes[] = {
    {1, "BUS_ADRALN"},    {2, "BUS_ADRERR"},    {3, "BUS_OBJERR"},
    {4, "BUS_MCEERR_AR"}, {5, "BUS_MCEERR_AO"}, {0, NULL},
};

static const struct code_name g_trap_codes[] = {
    {1, "TRAP_BRKPT"}, {2, "TRAP_TRACE"}, {3, "TRAP_BRANCH"}, {4, "TRAP_HWBKPT"},
    {5, "TRAP_UNK"},   {6, "TRAP_PERF"},  {0, NULL},
};

/* Codes any signal can carry. */
static const struct code_name g_generic_codes[] = {
    {0, "SI_USER"},      {0x80, "SI_KERNEL"}, {-1, "SI_QUEUE"}, {-2, "SI_TIMER"},
    {-3, "SI_MESGQ"},    {-4, "SI_ASYNCIO"},  {-5, "SI_SIGIO"}, {-6, "SI_TKILL"},
    {-7, "SI_DETHREAD"}, {-60, "SI_ASYNCNL"}, {0, NULL},
};

const char *
btc_sig_name(int signo)
{
    if (signo > 0 && (size_t)signo < sizeof(g_signal_names) / sizeof(g_signal_names[0]))
        return g_signal_names[signo];
    return NULL;
}

static const char *
lookup(const struct code_name *table, int code)
{
    for (; table->name; table++)
        if (table->code == code)
            return table->name;
    return NULL;
}

const char *
btc_sig_code_name(int signo, int code)
{
    const struct code_name *table = NULL;

    /* Positive codes below SI_KERNEL are per-signal; the rest are shared. */
    if (code > 0 && code < 0x80) {
        switch (signo) {
        case SIGILL:
            table = g_ill_codes;
            break;
        case SIGFPE:
            table = g_fpe_codes;
            break;
        case SIGSEGV:
            table = g_segv_codes;
            break;
        case SIGBUS:
            table = g_bus_codes;
            break;
        case SIGTRAP:
            table = g_trap_codes;
            break;
        default:
            return NULL;
        }
        return lookup(table, code);
    }
    return lookup(g_generic_codes, code);
}

bool
btc_sig_is_sent(int code)
{
    return code == 0 /* SI_USER */ || code == -1 /* SI_QUEUE */ || code == -6 /* SI_TKILL */;
}

bool
btc_sig_has_address(int signo, int code)
{
    if (code <= 0 || code >= 0x80)
        return false;
    return signo == SIGSEGV || signo == SIGBUS || signo == SIGILL || signo == SIGFPE ||
           signo == SIGTRAP;
}

int
btc_sig_describe(const struct btc_crash_record *rec, char *buf, size_t size)
{
    const char *sig = btc_sig_name(rec->signo), *code = btc_sig_code_name(rec->signo, rec->si_code);
    char signum[32], codenum[32];

    if (!sig) {
        snprintf(signum, sizeof(signum), "signal %d", rec->signo);
        sig = signum;
    }
    if (!code) {
        snprintf(codenum, sizeof(codenum), "code %d", rec->si_code);
        code = codenum;
    }
    if (btc_sig_has_address(rec->signo, rec->si_code))
        return snprintf(buf, size, "%s (%s) at 0x%" PRIx64, sig, code, rec->fault_address);
    if (btc_sig_is_sent(rec->si_code)) {
        /* abort() and raise() send the signal to their own thread. */
        if (rec->sender_pid == rec->pid)
            return snprintf(buf, size, "%s (%s) raised by the process itself", sig, code);
        return snprintf(buf, size, "%s (%s) sent by pid %d, uid %d", sig, code,
                        (int)rec->sender_pid, (int)rec->sender_uid);
    }
    return snprintf(buf, size, "%s (%s)", sig, code);
}
