"""Integration tests: btcrash alongside programs' own signal handlers and
threads (README, "Programs with their own signal handlers" and "Threads").

Each test runs a real program (progs/coexist.c, python3) with and without
LD_PRELOAD=libbtcrash.so and checks the fate (exit status or signal, the same
as without btcrash), what it printed, and the reports in a fresh crash
database: for a crash, the faulting thread's innermost frames exactly.
"""

import os
import re
import shutil

import pytest

from conftest import reports, run

pytestmark = pytest.mark.coexist

TIMEOUT = 60
AT_0 = "SIGSEGV (SEGV_MAPERR) at 0x0"
SEGV = "killed by SIGSEGV"


def python3():
    py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else shutil.which("python3")
    if not py:
        pytest.skip("no python3")
    return py


def fate(r):
    """How it ended, without the core bit (r.status compares that)."""
    return r.describe().replace(" (core dumped)", "")


def marker_line(path, marker):
    with open(path) as f:
        return next(i for i, ln in enumerate(f, 1) if marker in ln)


def both(btc, db, argv, **env):
    """Runs @argv without and with btcrash, in one directory; the raw wait
    status (core bit included) must not change. Returns (without, with,
    [the reports' JSON])."""
    cwd = btc.newdir("run")
    r0 = run(argv, btc.env(db, **env), cwd, timeout=TIMEOUT)
    r1 = run(argv, btc.env(db, LD_PRELOAD=btc.build.lib, **env), cwd, timeout=TIMEOUT)
    reps = [rep.report for rep in reports(db).values()]
    print("%s: without btcrash %s, with btcrash %s, %d report(s)\nstdout with: %r\n"
          "stderr with:\n%s" % (" ".join(os.path.basename(x) for x in argv[:3]), r0.describe(),
                                r1.describe(), len(reps), r1.out, r1.err[:2000]))
    btc.check.eq(r1.describe(), r0.describe(), "the fate with btcrash (as without)")
    for r, what in ((r0, "without"), (r1, "with")):
        btc.check(not r.lingering, "%s btcrash: its process group outlived it: %r"
                  % (what, r.lingering))
    return r0, r1, reps


def expect(btc, db, argv, want, nreports, stdout=None, **env):
    """both(), and the fate is @want (as fate() says it) both times, with
    @nreports reports, and stdout exactly @stdout both times."""
    r0, r1, reps = both(btc, db, argv, **env)
    btc.check.eq(fate(r0), want, "fate without btcrash")
    btc.check.eq(fate(r1), want, "fate with btcrash")
    btc.check.eq(len(reps), nreports, "reports")
    if stdout is not None:
        btc.check.eq(r0.out, stdout, "stdout without btcrash")
        btc.check.eq(r1.out, stdout, "stdout with btcrash")
    return r1, reps


def crash_report(btc, rep, caller, message=AT_0):
    """The report is a SIGSEGV whose faulting thread's frames, innermost
    first, are exactly fault_null (at its @fault line), @caller, main: the
    original fault, not a raise() inside a handler, and no frame of
    btcrash's own handler."""
    c = btc.check
    c.eq(rep.get("classifiers"), ["SIGSEGV"], "classifiers")
    c.eq((rep.get("attributes") or {}).get("error.message"), message, "error.message")
    threads = rep.get("threads") or {}
    c.eq(len(threads), 1, "threads in the report (coexist's one)")
    stack = (threads.get(rep.get("mainThread")) or {}).get("stack") or [{}]
    c.eq([f.get("funcName") for f in stack[:3]], ["fault_null", caller, "main"],
         "the faulting thread's innermost frames")
    c.eq(stack[0].get("line"), marker_line(os.path.join(btc.build.src, "coexist.c"), "@fault"),
         "line of frame 0 (fault_null's @fault line in coexist.c)")


RECOVER = {
    # 1,000 SIGSEGVs recovered by a sigaction handler with siglongjmp: no
    # report, exit 0.
    "recover": "previous SIG_DFL\nrecovered 1000\n",
    # The same with a handler installed by signal().
    "signal-recover": "recovered 1000\n",
    # After the recovery loop the program restores the previous disposition
    # and faults for real: exactly one report, of the real fault.
    "recover-then-crash": "previous SIG_DFL\nrecovered 1000\n",
    "signal-recover-then-crash": "recovered 1000\n",
}


@pytest.mark.parametrize("mode", list(RECOVER))
def test_recover(btc, build, db, mode):
    crash = mode.endswith("-then-crash")
    _, reps = expect(btc, db, [build.prog("coexist"), mode, "1000"], SEGV if crash else "exited 0",
                     1 if crash else 0, stdout=RECOVER[mode])
    if crash and reps:
        crash_report(btc, reps[0], "mode_recover")


DIE = {
    # Replace-then-die: the program's handler sets SIG_DFL and returns; the
    # fault repeats and kills: one report.
    "return": ("handler: resetting and returning\n", SEGV, 1, AT_0),
    # The program's handler sets SIG_DFL and raises (signal blocked: the
    # signal() handler's own): one report. Raised by the handler, delivered
    # when it returns: classified SIGSEGV, stack at the fault; the siginfo is
    # the raise's.
    "raise": ("handler: resetting and raising\n", SEGV, 1,
              "SIGSEGV (SI_TKILL) raised by the process itself"),
    # SA_RESETHAND: the handler runs once, the repeated fault kills: one
    # report.
    "resethand": ("handler: once\n", SEGV, 1, AT_0),
    # The program's handler decides the fate itself (_exit(3)): no report,
    # by policy; the process does not die of a signal.
    "exit": ("handler: exiting 3\n", "exited 3", 0, None),
}


@pytest.mark.parametrize("how", list(DIE))
def test_die(btc, build, db, how):
    stdout, want, nreports, message = DIE[how]
    _, reps = expect(btc, db, [build.prog("coexist"), "die", how], want, nreports, stdout=stdout)
    if nreports and reps:
        crash_report(btc, reps[0], "mode_die", message)


def test_faulthandler(btc, check, db):
    """python3 -X faulthandler: faulthandler prints its traceback, restores
    the previous disposition and raises again; exactly one report, of the
    original fault (frame 0 is glibc's strlen, called by ctypes.string_at),
    and the same exit signal as without btcrash."""
    r1, reps = expect(btc, db, [python3(), "-X", "faulthandler", "-c",
                                "import ctypes; ctypes.string_at(0)"], SEGV, 1)
    check("Fatal Python error" in r1.err,
          "faulthandler's traceback missing from stderr: %r" % r1.err[:500])
    if reps:
        rep = reps[0]
        check.eq(rep.get("classifiers"), ["SIGSEGV"], "classifiers")
        check.eq(rep.get("attributes", {}).get("error.message"), AT_0,
                 "error.message (the original fault)")
        stack = rep["threads"][rep["mainThread"]]["stack"] + [{}, {}]
        where = [(f.get("funcName"), os.path.basename(f.get("library") or "")) for f in stack[:2]]
        check(re.match(r"^(__)?strlen(_\w+)?$", where[0][0] or "") and where[0][1] == "libc.so.6"
              and where[1][1].startswith("_ctypes."), "the innermost frames are not strlen in "
              "libc called from _ctypes (the fault; not the handler's raise): %r" % where)


def test_faulthandler_kill(btc, check, db):
    """The same with PYTHONFAULTHANDLER=1 and a plain SIGSEGV from os.kill:
    one report, of the kill (frame 0 is kill() in libc, not faulthandler's
    raise), same fate."""
    r1, reps = expect(btc, db, [python3(), "-c", "import os, signal; os.kill(os.getpid(), "
                                "signal.SIGSEGV)"], SEGV, 1, PYTHONFAULTHANDLER="1")
    check("Fatal Python error" in r1.err,
          "faulthandler's traceback missing from stderr: %r" % r1.err[:500])
    if reps:
        rep = reps[0]
        check.eq(rep.get("classifiers"), ["SIGSEGV"], "classifiers")
        check.eq(rep.get("attributes", {}).get("error.message"),
                 "SIGSEGV (SI_USER) raised by the process itself", "error.message")
        f0 = (rep["threads"][rep["mainThread"]]["stack"] or [{}])[0]
        where = (f0.get("funcName"), os.path.basename(f0.get("library") or ""))
        check(re.match(r"^(__GI_|__)?kill$", where[0] or "") and where[1] == "libc.so.6",
              "frame 0 is not kill() in libc: %r" % (where,))


def test_onstack(btc, build, db):
    """A Go-style handler with SA_ONSTACK catches a stack overflow in a
    thread and recovers: it ran on an alternate stack, its flags read back
    unchanged, no report."""
    expect(btc, db, [build.prog("coexist"), "onstack"], "exited 0", 0,
           stdout="recovered on altstack 1, flags keep SA_ONSTACK 1, handler kept 1\n")


def test_altstack(btc, build, check, db):
    """A thread that sets its own alternate stack keeps it; a plain thread
    has one (of 64 KiB) only with btcrash."""
    r0, r1, reps = both(btc, db, [build.prog("coexist"), "altstack"])
    check.eq(fate(r1), "exited 0", "fate with btcrash")
    check.eq(r1.out, "own altstack kept\nplain thread altstack yes size 65536\n",
             "stdout with btcrash")
    check.eq(r0.out, "own altstack kept\nplain thread altstack no size 0\n",
             "stdout without btcrash")
    check.eq(len(reps), 0, "reports")


def parse_mem(out):
    vals = {}
    for line in out.splitlines():
        p = line.split()
        if p and p[0] in ("before", "after"):
            vals[p[0]] = {p[i]: int(p[i + 1]) for i in range(1, len(p) - 1, 2)}
    return vals


def test_churn_memory(btc, build, check, db):
    """10,000 create/join cycles (half of them ending in pthread_exit) do not
    grow the process: alternate stacks are released (or reused)."""
    _, r1, reps = both(btc, db, [build.prog("coexist"), "churn", "10000"])
    check.eq(fate(r1), "exited 0", "fate of churn with btcrash")
    m = parse_mem(r1.out)
    if check("before" in m and "after" in m, "no memory figures: %r" % r1.out):
        b, a = m["before"], m["after"]
        check(a["size_kb"] - b["size_kb"] <= 1024,
              "VmSize grew by %d kB" % (a["size_kb"] - b["size_kb"]))
        check(a["rss_kb"] - b["rss_kb"] <= 1024,
              "VmRSS grew by %d kB" % (a["rss_kb"] - b["rss_kb"]))
        check(a["maps"] - b["maps"] <= 4, "maps grew by %d" % (a["maps"] - b["maps"]))
    check.eq(len(reps), 0, "reports")
