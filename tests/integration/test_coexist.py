#!/usr/bin/env python3
"""Integration tests: btcrash alongside programs' own signal handlers and
threads (README, "Programs with their own signal handlers" and "Threads").

Each case runs a real program (progs/coexist.c, python3) with and without
LD_PRELOAD=libbtcrash.so and checks the fate (exit status or signal, the same
as without btcrash) and the number of reports in a fresh crash database.

Usage: test_coexist.py --lib L --helper H --progs DIR CASE
       test_coexist.py --list
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

TIMEOUT = 60


def base_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("BACKTRACE_") and k != "LD_PRELOAD"}
    env["LC_ALL"] = "C"
    return env


def run(argv, env, cwd):
    p = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=TIMEOUT)
    return p


def fate(rc):
    return "killed by %s" % signal.Signals(-rc).name if rc < 0 else "exited %d" % rc


def reports(db):
    if not os.path.isdir(db):
        return []
    out = []
    for e in sorted(os.listdir(db)):
        if e.endswith(".json"):
            with open(os.path.join(db, e)) as f:
                out.append(json.load(f))
    return out


class Ctx:
    def __init__(self, a, tmp):
        self.a = a
        self.tmp = tmp
        self.failures = []
        self.n = 0

    def fail(self, msg):
        self.failures.append(msg)

    def check(self, cond, msg):
        if not cond:
            self.fail(msg)
        return cond

    def prog(self, name):
        return os.path.join(self.a.progs, name)

    def both(self, argv, extra_env=None):
        """Run without and with btcrash; returns (plain, preloaded, reports)."""
        self.n += 1
        env0 = dict(base_env(), **(extra_env or {}))
        cwd = os.path.join(self.tmp, "run%d" % self.n)
        os.mkdir(cwd)
        r0 = run(argv, env0, cwd)
        db = os.path.join(self.tmp, "db%d" % self.n)
        env1 = dict(env0, LD_PRELOAD=self.a.lib, BACKTRACE_DATABASE_PATH=db)
        r1 = run(argv, env1, cwd)
        reps = reports(db)
        print("%s: without btcrash %s, with btcrash %s, %d report(s)"
              % (" ".join(os.path.basename(x) for x in argv[:3]), fate(r0.returncode),
                 fate(r1.returncode), len(reps)))
        for r, what in ((r0, "without"), (r1, "with")):
            out = r.stdout.decode("utf-8", "replace").strip()
            if out:
                print("  stdout %s: %s" % (what, out.replace("\n", " | ")))
        err = r1.stderr.decode("utf-8", "replace").strip()
        if err:
            print("  stderr with: %s" % err[:2000].replace("\n", "\n    "))
        self.check(r0.returncode == r1.returncode,
                   "fate changed: without btcrash %s, with %s"
                   % (fate(r0.returncode), fate(r1.returncode)))
        return r0, r1, reps

    def expect(self, argv, rc, nreports, extra_env=None, stdout_has=()):
        r0, r1, reps = self.both(argv, extra_env)
        self.check(r0.returncode == rc, "expected %s without btcrash, got %s"
                   % (fate(rc), fate(r0.returncode)))
        self.check(r1.returncode == rc, "expected %s with btcrash, got %s"
                   % (fate(rc), fate(r1.returncode)))
        self.check(len(reps) == nreports, "expected %d report(s), found %d"
                   % (nreports, len(reps)))
        out = r1.stdout.decode("utf-8", "replace")
        for s in stdout_has:
            self.check(s in out, "stdout with btcrash lacks %r: %r" % (s, out))
        return r1, reps

    def crash_report(self, rep, func_in_top=None, frames=8):
        """The report is a SIGSEGV at 0x0 whose faulting thread shows
        @func_in_top among its innermost frames (not a raise() inside a
        handler)."""
        attrs = rep.get("attributes", {})
        self.check(rep.get("classifiers") == ["SIGSEGV"],
                   "classifiers: %r" % rep.get("classifiers"))
        msg = attrs.get("error.message", "")
        self.check(msg.startswith("SIGSEGV (SEGV_MAPERR) at 0x0"),
                   "error.message %r: not the original fault" % msg)
        if func_in_top:
            th = rep["threads"][rep["mainThread"]]
            names = [f.get("funcName", "") for f in th["stack"][:frames]]
            self.check(any(func_in_top in n for n in names),
                       "%s not among the top frames %r" % (func_in_top, names))


def case_recover(c):
    """1,000 SIGSEGVs recovered by a sigaction handler with siglongjmp: no
    report, exit 0."""
    c.expect([c.prog("coexist"), "recover", "1000"], 0, 0,
             stdout_has=("previous SIG_DFL", "recovered 1000"))


def case_recover_then_crash(c):
    """After the recovery loop the program restores the previous disposition
    and faults for real: exactly one report, of the real fault."""
    _, reps = c.expect([c.prog("coexist"), "recover-then-crash", "1000"], -signal.SIGSEGV, 1,
                       stdout_has=("recovered 1000",))
    if reps:
        c.crash_report(reps[0], "fault_null")


def case_signal_recover(c):
    """The same with a handler installed by signal()."""
    c.expect([c.prog("coexist"), "signal-recover", "1000"], 0, 0,
             stdout_has=("recovered 1000",))


def case_signal_recover_then_crash(c):
    _, reps = c.expect([c.prog("coexist"), "signal-recover-then-crash", "1000"],
                       -signal.SIGSEGV, 1, stdout_has=("recovered 1000",))
    if reps:
        c.crash_report(reps[0], "fault_null")


def case_die_return(c):
    """Replace-then-die: the program's handler sets SIG_DFL and returns; the
    fault repeats and kills: one report."""
    _, reps = c.expect([c.prog("coexist"), "die", "return"], -signal.SIGSEGV, 1,
                       stdout_has=("handler: resetting and returning",))
    if reps:
        c.crash_report(reps[0], "fault_null")


def case_die_raise(c):
    """The program's handler sets SIG_DFL and raises (signal blocked: the
    signal() handler's own): one report."""
    _, reps = c.expect([c.prog("coexist"), "die", "raise"], -signal.SIGSEGV, 1,
                       stdout_has=("handler: resetting and raising",))
    if reps:
        # Raised by the handler, delivered when it returns: classified
        # SIGSEGV, stack at the fault; the siginfo is the raise's.
        rep = reps[0]
        c.check(rep.get("classifiers") == ["SIGSEGV"], "classifiers: %r" % rep.get("classifiers"))
        th = rep["threads"][rep["mainThread"]]
        names = [f.get("funcName", "") for f in th["stack"][:8]]
        c.check(any("fault_null" in n for n in names), "fault_null not in %r" % names)


def case_die_resethand(c):
    """SA_RESETHAND: the handler runs once, the repeated fault kills: one
    report."""
    _, reps = c.expect([c.prog("coexist"), "die", "resethand"], -signal.SIGSEGV, 1,
                       stdout_has=("handler: once",))
    if reps:
        c.crash_report(reps[0], "fault_null")


def case_die_exit(c):
    """The program's handler decides the fate itself (_exit(3)): no report,
    by policy; the process does not die of a signal."""
    c.expect([c.prog("coexist"), "die", "exit"], 3, 0, stdout_has=("handler: exiting 3",))


def case_faulthandler(c):
    """python3 -X faulthandler: faulthandler prints its traceback, restores
    the previous disposition and raises again; exactly one report, of the
    original fault, and the same exit signal as without btcrash."""
    py = shutil.which("python3")
    if not py:
        print("SKIP: no python3")
        return
    r1, reps = c.expect([py, "-X", "faulthandler", "-c", "import ctypes; ctypes.string_at(0)"],
                        -signal.SIGSEGV, 1)
    c.check(b"Fatal Python error" in r1.stderr,
            "faulthandler's traceback missing from stderr: %r" % r1.stderr[:500])
    if reps:
        rep = reps[0]
        c.check(rep.get("classifiers") == ["SIGSEGV"], "classifiers: %r" % rep.get("classifiers"))
        msg = rep.get("attributes", {}).get("error.message", "")
        c.check(msg.startswith("SIGSEGV (SEGV_MAPERR) at 0x0"),
                "error.message %r: not the original fault" % msg)
        th = rep["threads"][rep["mainThread"]]
        names = [f.get("funcName", "") for f in th["stack"][:3]]
        c.check(not any("faulthandler" in n or n in ("raise", "__pthread_kill_implementation")
                        for n in names),
                "the report starts in the handler, not at the fault: %r" % names)


def case_faulthandler_env(c):
    """The same with PYTHONFAULTHANDLER=1 and a plain SIGSEGV from os.kill:
    one report, same fate."""
    py = shutil.which("python3")
    if not py:
        print("SKIP: no python3")
        return
    c.expect([py, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"],
             -signal.SIGSEGV, 1, extra_env={"PYTHONFAULTHANDLER": "1"})


def case_onstack(c):
    """A Go-style handler with SA_ONSTACK catches a stack overflow in a
    thread and recovers: it ran on an alternate stack, its flags read back
    unchanged, no report."""
    r1, _ = c.expect([c.prog("coexist"), "onstack"], 0, 0,
                     stdout_has=("recovered on altstack 1, flags keep SA_ONSTACK 1, "
                                 "handler kept 1",))


def case_altstack(c):
    """A thread that sets its own alternate stack keeps it; a plain thread
    has one only with btcrash."""
    r0, r1, reps = c.both([c.prog("coexist"), "altstack"])
    out0 = r0.stdout.decode()
    out1 = r1.stdout.decode()
    c.check(r1.returncode == 0 and "own altstack kept" in out1, "own altstack: %r" % out1)
    c.check("plain thread altstack yes size 65536" in out1, "plain thread: %r" % out1)
    c.check("plain thread altstack no" in out0, "without btcrash: %r" % out0)
    c.check(not reps, "%d report(s)" % len(reps))


def parse_mem(out):
    vals = {}
    for line in out.splitlines():
        p = line.split()
        if p and p[0] in ("before", "after"):
            vals[p[0]] = {p[i]: int(p[i + 1]) for i in range(1, len(p) - 1, 2)}
    return vals


def case_churn_memory(c):
    """10,000 create/join cycles (half of them ending in pthread_exit) do not
    grow the process: alternate stacks are released (or reused)."""
    r0, r1, reps = c.both([c.prog("coexist"), "churn", "10000"])
    c.check(r1.returncode == 0, "churn failed: %s" % fate(r1.returncode))
    m = parse_mem(r1.stdout.decode())
    if c.check("before" in m and "after" in m, "no memory figures: %r" % r1.stdout):
        b, a = m["before"], m["after"]
        c.check(a["size_kb"] - b["size_kb"] <= 1024,
                "VmSize grew by %d kB" % (a["size_kb"] - b["size_kb"]))
        c.check(a["rss_kb"] - b["rss_kb"] <= 1024,
                "VmRSS grew by %d kB" % (a["rss_kb"] - b["rss_kb"]))
        c.check(a["maps"] - b["maps"] <= 4, "maps grew by %d" % (a["maps"] - b["maps"]))
    c.check(not reps, "%d report(s)" % len(reps))


CASES = {
    "recover": case_recover,
    "recover_then_crash": case_recover_then_crash,
    "signal_recover": case_signal_recover,
    "signal_recover_then_crash": case_signal_recover_then_crash,
    "die_return": case_die_return,
    "die_raise": case_die_raise,
    "die_resethand": case_die_resethand,
    "die_exit": case_die_exit,
    "faulthandler": case_faulthandler,
    "faulthandler_kill": case_faulthandler_env,
    "onstack": case_onstack,
    "altstack": case_altstack,
    "churn_memory": case_churn_memory,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib")
    ap.add_argument("--helper")
    ap.add_argument("--progs")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("case", nargs="?")
    a = ap.parse_args()
    if a.list:
        print("\n".join(CASES))
        return 0
    if a.case not in CASES:
        print("unknown case %r" % a.case)
        return 2
    tmp = tempfile.mkdtemp(prefix="btc-coexist-")
    try:
        c = Ctx(a, tmp)
        CASES[a.case](c)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if c.failures:
        print("FAIL %s:" % a.case)
        for f in c.failures:
            print("  - " + f)
        return 1
    print("ok %s" % a.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
