#!/usr/bin/env python3
"""Integration tests of other kinds of death (issue 5, point 5): each case
really produces the situation under LD_PRELOAD=libbtcrash.so and checks the
report AND the exit status (and, where time is the point, the time from the
fault to the death, DESIGN §1/§5: at most BACKTRACE_TIMEOUT + 0.5 s).

  fork_child           a crash in a forked child (no exec): the child's pid
                       and the child's threads, none of the parent's
  pidns_init_segv      PID 1 of a PID namespace (unshare -pf --mount-proc)
  pidns_init_abort       writes through NULL / calls abort(): reported, dies
  pidns_init_endpoint    as without btcrash, bounded time, no spinning;
                       _endpoint: the report reaches a receiver
  handler_fault_segv   btcrash's own handler faults (the program made the
  handler_fault_abort    library's writable data read-only): the program
                       still dies of its original signal, in bounded time
  helper_crash         BACKTRACE_HELPER_PATH is a program that segfaults
  helper_hang          ... a script sleeping 30 s, BACKTRACE_TIMEOUT=1
  helper_missing       ... a nonexistent path
  helper_missing_lib   no BACKTRACE_HELPER_PATH and no btcrash next to the
                       library (a copy of it alone in a directory)
  deep_recursion_main  100,000 frames deep on the main thread (RLIMIT_STACK
                       raised), then a NULL write: reported in time, the
                       frame cap applied, the thread marked truncated
  deep_recursion_thread  the same on a thread with a 1 GiB stack
  kill_segv            kill -SEGV from another process: classifier SIGSEGV,
                       the sender's pid in error.message and the "Crash"
                       annotation, death by SIGSEGV

All failures of a case are collected and printed, then the exit status is 1.
Every subprocess has a timeout: a hang fails the case instead of blocking.
Python 3 standard library only.

Usage: test_deaths.py --lib L --helper H --progs DIR --src DIR CASE
       test_deaths.py --list
"""

import argparse
import json
import os
import re
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import receiver as rxmod  # noqa: E402
from run_crash import Checker, _group_alive, base_env  # noqa: E402

RUN_TIMEOUT = 30        # any one run of a program
DEFAULT_TIMEOUT_S = 4.0  # BACKTRACE_TIMEOUT default (DESIGN §2)
GRACE_S = 0.5           # DESIGN §1: dead no later than timeout + 0.5 s
# Start-up of unshare + exec, for bounds measured from the start of a run
# rather than from a printed fault time.
START_SLACK_S = 1.0
# A process that spins (a handler looping on its own fault) burns CPU; a
# crash that is reported and then dies takes little CPU of its own.
SPIN_CPU_S = 1.0
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))


class HarnessError(Exception):
    pass


def frame_cap():
    """BTC_UNWIND_MAX_FRAMES from unwind/capture.h (the documented cap)."""
    with open(os.path.join(ROOT, "unwind", "capture.h")) as f:
        m = re.search(r"^#define BTC_UNWIND_MAX_FRAMES (\d+)", f.read(), re.M)
    if not m:
        raise HarnessError("BTC_UNWIND_MAX_FRAMES not found in unwind/capture.h")
    return int(m.group(1))


# ---------------------------------------------------------------------------
# Running things


class Proc:
    def __init__(self, argv, status, stdout, stderr, start, death, pid, lingering, rusage):
        self.argv = argv
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
        self.start = start
        self.death = death
        self.pid = pid
        self.lingering = lingering
        self.rusage = rusage

    @property
    def out(self):
        return self.stdout.decode("utf-8", "replace")

    @property
    def err(self):
        return self.stderr.decode("utf-8", "replace")

    @property
    def termsig(self):
        return os.WTERMSIG(self.status) if os.WIFSIGNALED(self.status) else None

    @property
    def elapsed(self):
        return self.death - self.start

    @property
    def cpu(self):
        return self.rusage.ru_utime + self.rusage.ru_stime

    def describe(self):
        return describe_status(self.status)

    def fault_mono(self):
        m = re.search(rb"^FAULT_MONO_NS (\d+)$", self.stderr, re.M)
        return int(m.group(1)) / 1e9 if m else None


def describe_status(status):
    if os.WIFSIGNALED(status):
        return "killed by %s%s" % (signal.Signals(os.WTERMSIG(status)).name,
                                   " (core dumped)" if os.WCOREDUMP(status) else "")
    if os.WIFEXITED(status):
        return "exited %d" % os.WEXITSTATUS(status)
    return "status 0x%x" % status


def _no_core():
    # No core files: these runs crash on purpose, many times.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _big_stack():
    _no_core()
    # 1 GiB: 100,000 frames fit with room to spare; no stack overflow.
    resource.setrlimit(resource.RLIMIT_STACK, (1 << 30, 1 << 30))


def start(argv, env, cwd, preexec=_no_core, stdout=None):
    return subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=stdout, stderr=subprocess.PIPE if stdout is None else None,
                            preexec_fn=preexec, start_new_session=True)


def run(argv, env, cwd, timeout=RUN_TIMEOUT, preexec=_no_core, linger_wait=5.0, on_start=None):
    """Runs @argv in its own session and process group. The moment of death
    comes from a pidfd; CPU time from wait4. A run that outlives @timeout is
    killed (the whole group) and raises HarnessError. @on_start(popen, out)
    is called once it runs (out: a file its stdout goes to)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        p = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=err, preexec_fn=preexec, start_new_session=True)
        pidfd = os.pidfd_open(p.pid)
        try:
            if on_start:
                on_start(p, out)
            left = t0 + timeout - time.monotonic()
            ready, _, _ = select.select([pidfd], [], [], max(left, 0))
            death = time.monotonic()
            if not ready:
                os.killpg(p.pid, signal.SIGKILL)
                os.waitpid(p.pid, 0)
                p.returncode = -9
                err.seek(0)
                raise HarnessError("HANG: %s did not finish within %d s (killed)\n--- stderr:\n%s"
                                   % (" ".join(argv), timeout,
                                      err.read().decode("utf-8", "replace")[-3000:]))
        except BaseException:
            if p.returncode is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                    os.waitpid(p.pid, 0)
                except OSError:
                    pass
                p.returncode = -9
            raise
        finally:
            os.close(pidfd)
        _, status, rus = os.wait4(p.pid, 0)
        p.returncode = -1
        lingering = []
        end = time.monotonic() + linger_wait
        while True:
            lingering = _group_alive(p.pid)
            if not lingering or time.monotonic() > end:
                break
            time.sleep(0.02)
        if lingering:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        out.seek(0)
        err.seek(0)
        return Proc(argv, status, out.read(), err.read(), t0, death, p.pid, lingering, rus)


def reports(db):
    """uuid -> parsed report for every <uuid>.json in @db."""
    out = {}
    if not os.path.isdir(db):
        return out
    for name in sorted(os.listdir(db)):
        if name.startswith(".") or not name.endswith(".json"):
            continue
        with open(os.path.join(db, name), "rb") as f:
            raw = f.read()
        try:
            out[name[:-5]] = json.loads(raw)
        except ValueError as e:
            raise HarnessError("%s/%s is not JSON: %s" % (db, name, e))
    return out


# ---------------------------------------------------------------------------
# The test context


class T:
    def __init__(self, args, case):
        self.a = args
        self.case = case
        self.c = Checker()
        self.tmp = tempfile.mkdtemp(prefix="btcrash-deaths-%s-" % case)
        os.chmod(self.tmp, 0o755)
        self.lib = os.path.abspath(args.lib)
        self.helper = os.path.abspath(args.helper)
        self.progs = os.path.abspath(args.progs)
        self.receivers = []
        self.n = 0

    def say(self, msg):
        print(msg, flush=True)

    def prog(self, name):
        return os.path.join(self.progs, name)

    def newdir(self, name):
        self.n += 1
        p = os.path.join(self.tmp, "%s-%d" % (name, self.n))
        os.makedirs(p)
        return p

    def receiver(self, mode="ok"):
        rx = rxmod.Receiver(mode=mode).start()
        self.receivers.append(rx)
        return rx

    def close(self):
        for rx in self.receivers:
            rx.stop()

    def env(self, db, preload=True, **extra):
        env = base_env()
        env["BACKTRACE_DATABASE_PATH"] = db
        if preload:
            env["LD_PRELOAD"] = self.lib
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def show(self, what, r):
        self.say("%s: %s in %.3f s (cpu %.3f s)" % (what, r.describe(), r.elapsed, r.cpu))
        if self.a.verbose:
            print("--- stdout:\n%s--- stderr:\n%s" % (r.out, r.err))

    # -- checks
    def fate(self, r, sig, what):
        return self.c.check(r.termsig == sig, "%s: the program %s, expected killed by %s (as "
                            "without btcrash)\n--- stderr:\n%s" % (
                                what, r.describe(), signal.Signals(sig).name, r.err[-2500:]))

    def bounded(self, r, timeout_s, what):
        """Fault -> death within @timeout_s + GRACE_S (from FAULT_MONO_NS)."""
        fault = r.fault_mono()
        if not self.c.check(fault is not None, "%s: no FAULT_MONO_NS on stderr:\n%s"
                            % (what, r.err[-2000:])):
            return None
        took = r.death - fault
        self.say("%s: fault -> death %.3f s (bound %.1f s)" % (what, took, timeout_s + GRACE_S))
        self.c.check(took <= timeout_s + GRACE_S,
                     "%s: the crashed process died %.3f s after the fault; DESIGN §1/§5 bound "
                     "is BACKTRACE_TIMEOUT %.1f s + 0.5 s" % (what, took, timeout_s))
        return took

    def no_lingering(self, r, what):
        self.c.check(not r.lingering, "%s: processes of its group still alive 5 s after it "
                     "died: %r" % (what, r.lingering))

    def one_report(self, db, what):
        reps = reports(db)
        if not self.c.check(len(reps) == 1, "%s: expected exactly one report in %s, found %d: "
                            "%r" % (what, db, len(reps), sorted(os.listdir(db))
                                    if os.path.isdir(db) else "no directory")):
            return None
        return next(iter(reps.values()))

    def no_report(self, db, what):
        reps = reports(db)
        self.c.check(not reps, "%s: expected no report in %s, found %r" % (what, db, list(reps)))

    def common(self, rep, sig, pid, what):
        """Fields every crash report must have, for a crash of @pid."""
        attrs = rep.get("attributes") or {}
        self.c.eq(rep.get("classifiers"), [signal.Signals(sig).name], "%s: classifiers" % what)
        self.c.eq(attrs.get("error.type"), "Crash", "%s: attributes['error.type']" % what)
        self.c.check(attrs.get("process.id") in (pid, str(pid)), "%s: attributes['process.id'] "
                     "= %r, expected %d" % (what, attrs.get("process.id"), pid))
        threads = rep.get("threads") or {}
        faulting = [k for k, t in threads.items() if t.get("fault") is True]
        self.c.eq(len(faulting), 1, "%s: number of threads with fault=true (%r)" % (
            what, faulting))
        if faulting:
            self.c.eq(rep.get("mainThread"), faulting[0], "%s: mainThread" % what)
        return attrs, threads

    def funcs(self, thread):
        return [f.get("funcName") for f in thread.get("stack") or []]

    def finish(self):
        for n in self.c.notes:
            print("note: " + n)
        if self.c.failures:
            print("\n%d FAILURE(S):" % len(self.c.failures))
            for i, f in enumerate(self.c.failures, 1):
                print("%d. %s" % (i, f))
            return 1
        print("PASS")
        return 0


def stderr_tokens(r, *names):
    out = {}
    for n in names:
        m = re.search(r"\b%s (-?\d+)" % n, r.err)
        if m:
            out[n] = int(m.group(1))
    return out


# ---------------------------------------------------------------------------
# A forked child


def case_fork_child(t):
    """The parent has a thread "parent-park" and forks; the child (no exec)
    starts "child-park" and crashes on its main thread "child-main". The
    report is the child's: process.id, the thread keys (its tids), its
    thread names, none of the parent's; the parent sees SIGSEGV."""
    db = os.path.join(t.tmp, "db")
    r = run([t.prog("fork_child")], t.env(db), t.newdir("cwd"))
    t.show("fork_child (parent)", r)
    t.no_lingering(r, "fork_child")
    t.c.check(os.WIFEXITED(r.status) and os.WEXITSTATUS(r.status) == 0,
              "the parent %s, expected exit 0\n%s" % (r.describe(), r.err[-2000:]))
    ids = stderr_tokens(r, "PARENT_PID", "PARENT_PARK_TID", "CHILD_PID", "CHILD_MAIN_TID",
                        "CHILD_PARK_TID")
    m = re.search(r"^CHILD (\d+) STATUS (\d+) REAPED_MONO_NS (\d+)$", r.out, re.M)
    if not t.c.check(m and len(ids) == 5, "fork_child did not print its pids/tids; stdout %r, "
                     "stderr:\n%s" % (r.out, r.err[-2000:])):
        return
    child, status, reaped = int(m.group(1)), int(m.group(2)), int(m.group(3)) / 1e9
    t.say("parent %d (thread %d), child %d (threads %d, %d): child %s" % (
        ids["PARENT_PID"], ids["PARENT_PARK_TID"], child, ids["CHILD_MAIN_TID"],
        ids["CHILD_PARK_TID"], describe_status(status)))
    t.c.eq(child, ids["CHILD_PID"], "the child's pid as the parent and the child saw it")
    t.c.check(os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSEGV,
              "the forked child %s, expected killed by SIGSEGV" % describe_status(status))
    fault = r.fault_mono()
    if fault is not None:
        took = reaped - fault
        t.say("child: fault -> reaped by the parent %.3f s" % took)
        t.c.check(took <= DEFAULT_TIMEOUT_S + GRACE_S, "the child died %.3f s after its fault "
                  "(bound %.1f s)" % (took, DEFAULT_TIMEOUT_S + GRACE_S))
    rep = t.one_report(db, "fork_child")
    if rep is None:
        return
    attrs, threads = t.common(rep, signal.SIGSEGV, child, "fork_child")
    names = {k: v.get("name") for k, v in threads.items()}
    t.say("report: process.id %r, mainThread %r, threads %r" % (
        attrs.get("process.id"), rep.get("mainThread"), names))
    t.c.eq(rep.get("mainThread"), str(ids["CHILD_MAIN_TID"]), "mainThread (the child's main tid)")
    t.c.eq(sorted(threads), sorted([str(ids["CHILD_MAIN_TID"]), str(ids["CHILD_PARK_TID"])]),
           "thread keys: the child's two tids")
    t.c.eq(names.get(str(ids["CHILD_MAIN_TID"])), "child-main", "name of the faulting thread")
    t.c.eq(names.get(str(ids["CHILD_PARK_TID"])), "child-park", "name of the child's thread")
    for k in (str(ids["PARENT_PID"]), str(ids["PARENT_PARK_TID"])):
        t.c.check(k not in threads, "the parent's thread %s is in the child's report" % k)
    t.c.check("parent-park" not in names.values(), "the parent's thread name is in the report")
    tc = attrs.get("process.thread.count")
    t.c.check(tc in (2, "2"), "process.thread.count = %r, expected 2 (the child's)" % (tc,))
    fault_thread = threads.get(str(ids["CHILD_MAIN_TID"])) or {}
    park_thread = threads.get(str(ids["CHILD_PARK_TID"])) or {}
    fs = t.funcs(fault_thread)
    t.c.check(fs[:3] == ["child_crash", "main"] or fs[:2] == ["child_crash", "main"],
              "the faulting thread's stack starts child_crash, main; got %r" % fs[:6])
    t.c.check("child_park" in t.funcs(park_thread), "the child's thread is not shown in "
              "child_park: %r" % t.funcs(park_thread)[:8])
    proc = json.dumps((rep.get("annotations") or {}).get("Process"))
    t.c.check(str(child) in proc, "annotations.Process does not name pid %d: %s" % (child, proc))


# ---------------------------------------------------------------------------
# PID 1 of a PID namespace


def unshare_argv(t, prog, *args):
    return [shutil.which("unshare") or "/usr/bin/unshare", "-pf", "--mount-proc", "--",
            t.prog(prog)] + list(args)


def pidns_case(t, prog, sig, endpoint=False, death_sig=None):
    """@prog runs as PID 1 of a new PID namespace and dies of @sig (the
    report's classifier). It must die as it does without btcrash, of
    @death_sig (default @sig), within the bound, without spinning."""
    death_sig = death_sig or sig
    if os.geteuid() != 0:
        t.c.fail("unshare -pf needs root here (euid %d)" % os.geteuid())
        return
    argv = unshare_argv(t, prog)
    # Baseline: the same, without btcrash.
    base = run(argv, t.env(os.path.join(t.tmp, "db-none"), preload=False), t.newdir("cwd"))
    t.show("without btcrash, as PID 1", base)
    db = os.path.join(t.tmp, "db")
    extra = {"BACKTRACE_TIMEOUT": "2"}
    rx = None
    if endpoint:
        rx = t.receiver("ok")
        extra.update(BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
    r = run(argv, t.env(db, **extra), t.newdir("cwd"))
    t.show("with btcrash, as PID 1", r)
    t.c.eq(r.describe(), base.describe(), "termination of `unshare -pf %s` with btcrash vs "
           "without (stderr with btcrash:\n%s)" % (prog, r.err[-2000:]))
    t.c.check(base.termsig == death_sig, "baseline: unshare -pf %s %s without btcrash, "
              "expected killed by %s" % (prog, base.describe(), signal.Signals(death_sig).name))
    t.c.check(r.termsig == death_sig, "unshare -pf %s %s, expected killed by %s" % (
        prog, r.describe(), signal.Signals(death_sig).name))
    bound = 2.0 + GRACE_S + START_SLACK_S
    t.c.check(r.elapsed <= bound, "PID 1 crash took %.3f s from start to death (bound: "
              "BACKTRACE_TIMEOUT 2 + 0.5 + %.1f s start-up)" % (r.elapsed, START_SLACK_S))
    took = t.bounded(r, 2.0, "PID 1") if r.fault_mono() is not None else None
    t.c.check(r.cpu <= SPIN_CPU_S, "unshare and PID 1 used %.3f s of CPU (spinning?), bound "
              "%.1f s" % (r.cpu, SPIN_CPU_S))
    t.no_lingering(r, "unshare -pf")
    rep = t.one_report(db, "PID 1")
    if rep is not None:
        attrs, threads = t.common(rep, sig, 1, "PID 1")
        t.say("report: classifiers %r, process.id %r, error.message %r, threads %r" % (
            rep.get("classifiers"), attrs.get("process.id"), attrs.get("error.message"),
            {k: v.get("name") for k, v in threads.items()}))
        t.c.eq(list(threads), ["1"], "thread keys (PID 1's one thread, in its namespace)")
        top = t.funcs(threads.get("1") or {})
        t.say("PID 1's stack: %r" % top[:6])
        t.c.check(len(top) >= 2, "PID 1's stack has %d frames: %r" % (len(top), top))
    if rx is not None:
        reqs = rx.snapshot()
        t.say("receiver got %d request(s)" % len(reqs))
        t.c.eq(len(reqs), 1, "requests the receiver got from PID 1's helper")
        if rep is not None and reqs:
            ups = [p for p in reqs[0].multipart() if p.name == "upload_file"]
            t.c.check(ups and json.loads(ups[0].data).get("uuid") == rep.get("uuid"),
                      "the receiver did not get the stored report")
    return took


def case_pidns_init_segv(t):
    pidns_case(t, "timed_null", signal.SIGSEGV)


def case_pidns_init_abort(t):
    # A namespace's init ignores signals it sends itself with the default
    # disposition: glibc's abort() then falls through to its last resort,
    # a faulting instruction, so even without btcrash PID 1 dies of SIGSEGV.
    # The report is of the SIGABRT, the first fatal signal.
    pidns_case(t, "abort_call", signal.SIGABRT, death_sig=signal.SIGSEGV)


def case_pidns_init_endpoint(t):
    pidns_case(t, "timed_null", signal.SIGSEGV, endpoint=True)


# ---------------------------------------------------------------------------
# A fault inside btcrash's own handler


def handler_fault_case(t, mode, sig):
    """handler_fault makes libbtcrash.so's writable mappings read-only and
    gives itself its own alternate stack, so the handler faults on its first
    write to its own state. The program must still die of @sig, its
    original signal, within the timeout."""
    prog = t.prog("handler_fault")
    base = run([prog, mode], t.env(os.path.join(t.tmp, "db-none"), preload=False),
               t.newdir("cwd"))
    t.show("without btcrash", base)
    t.c.check(base.termsig == sig, "baseline: handler_fault %s %s, expected %s" % (
        mode, base.describe(), signal.Signals(sig).name))
    db = os.path.join(t.tmp, "db")
    r = run([prog, mode], t.env(db), t.newdir("cwd"))
    t.show("with btcrash, handler faulting", r)
    prot = stderr_tokens(r, "PROTECTED").get("PROTECTED")
    t.say("writable mappings of libbtcrash.so made read-only: %r" % prot)
    if not t.c.check(prot and prot >= 1, "handler_fault found no writable mapping of "
                     "libbtcrash.so to protect (PROTECTED %r); the situation was not produced"
                     % prot):
        return
    t.fate(r, sig, "handler_fault %s (fault inside btcrash's handler)" % mode)
    t.bounded(r, DEFAULT_TIMEOUT_S, "handler_fault %s" % mode)
    t.no_lingering(r, "handler_fault")
    # No report can be written: the handler died before recording anything.
    t.no_report(db, "handler_fault %s" % mode)


def case_handler_fault_segv(t):
    handler_fault_case(t, "segv", signal.SIGSEGV)


def case_handler_fault_abort(t):
    handler_fault_case(t, "abort", signal.SIGABRT)


# ---------------------------------------------------------------------------
# Helpers that crash, hang or are missing


def helper_case(t, what, timeout_s, expect_line, lib=None, **env_extra):
    """timed_null crashes with the helper set up by @env_extra: SIGSEGV,
    fault -> death within @timeout_s + 0.5 s, one btcrash line on stderr
    matching @expect_line."""
    db = os.path.join(t.tmp, "db")
    env = t.env(db, BACKTRACE_TIMEOUT="%g" % timeout_s, **env_extra)
    if lib:
        env["LD_PRELOAD"] = lib
    r = run([t.prog("timed_null")], env, t.newdir("cwd"))
    t.show(what, r)
    t.fate(r, signal.SIGSEGV, what)
    took = t.bounded(r, timeout_s, what)
    t.no_lingering(r, what)
    lines = [ln for ln in r.err.splitlines() if ln.startswith("btcrash")]
    t.say("btcrash lines on stderr: %r" % lines)
    t.c.check(any(re.search(expect_line, ln) for ln in lines),
              "%s: no stderr line matching %r; stderr:\n%s" % (what, expect_line, r.err[-2000:]))
    return r, took, db


def case_helper_crash(t):
    """The helper is null_write: it dies of SIGSEGV at once. (It is not
    intercepted either: the helper never loads the handlers.)"""
    r, _, db = helper_case(t, "crash with a helper that segfaults", DEFAULT_TIMEOUT_S,
                           r"helper was killed by signal 11\b",
                           BACKTRACE_HELPER_PATH=t.prog("null_write"))
    # Had the helper loaded the handlers, null_write would have reported itself.
    t.no_report(db, "helper that segfaults")
    t.c.check(r.elapsed < 2.0, "a helper that dies at once should not cost the timeout: "
              "%.3f s" % r.elapsed)


def case_helper_hang(t):
    d = t.newdir("hanghelper")
    script = os.path.join(d, "hang-helper.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\necho $$ > '%s/helper.pid'\nexec sleep 30\n" % d)
    os.chmod(script, 0o755)
    r, took, db = helper_case(t, "crash with a helper that sleeps 30 s (BACKTRACE_TIMEOUT=1)",
                              1.0, r"did not finish within BACKTRACE_TIMEOUT",
                              BACKTRACE_HELPER_PATH=script)
    if took is not None:
        t.c.check(took >= 0.9, "died %.3f s after the fault, before the 1 s timeout: the "
                  "hanging helper was not waited for" % took)
    try:
        with open(os.path.join(d, "helper.pid")) as f:
            hp = int(f.read())
        st = None
        try:
            with open("/proc/%d/stat" % hp) as f:
                st = f.read().split(") ")[1].split()[0]
        except OSError:
            pass
        t.c.check(st in (None, "Z", "X"), "the hanging helper %d is still alive (%s)" % (hp, st))
    except (OSError, ValueError):
        t.c.fail("the hanging helper never ran")
    t.no_report(db, "hanging helper")


def case_helper_missing(t):
    path = os.path.join(t.tmp, "no-such-dir", "btcrash")
    r, _, db = helper_case(t, "crash with BACKTRACE_HELPER_PATH=%s" % path, DEFAULT_TIMEOUT_S,
                           r"no helper could be started.*%s" % re.escape(path),
                           BACKTRACE_HELPER_PATH=path)
    t.c.check(r.elapsed < 2.0, "a missing helper should not cost the timeout: %.3f s"
              % r.elapsed)
    t.no_report(db, "missing helper")


def case_helper_missing_lib(t):
    d = t.newdir("lonely")
    lib = os.path.join(d, "lib", os.path.basename(t.lib))
    os.makedirs(os.path.dirname(lib))
    shutil.copy2(t.lib, lib)
    r, _, db = helper_case(t, "crash with the library alone (no btcrash next to it)",
                           DEFAULT_TIMEOUT_S, r"no helper could be started", lib=lib,
                           BACKTRACE_HELPER_PATH=None)
    t.c.check(r.elapsed < 2.0, "a missing helper should not cost the timeout: %.3f s"
              % r.elapsed)
    t.no_report(db, "missing helper")


# ---------------------------------------------------------------------------
# Deep recursion


def deep_case(t, mode, thread_name):
    depth = 100000
    cap = frame_cap()
    db = os.path.join(t.tmp, "db")
    argv = [t.prog("deep_recursion"), mode, str(depth)]
    base = run(argv, t.env(os.path.join(t.tmp, "db-none"), preload=False), t.newdir("cwd"),
               preexec=_big_stack)
    t.show("without btcrash", base)
    t.c.check(base.termsig == signal.SIGSEGV, "baseline %s" % base.describe())
    r = run(argv, t.env(db), t.newdir("cwd"), preexec=_big_stack)
    t.show("with btcrash, %d frames deep (%s)" % (depth, mode), r)
    t.fate(r, signal.SIGSEGV, "deep recursion")
    took = t.bounded(r, DEFAULT_TIMEOUT_S, "deep recursion")
    t.no_lingering(r, "deep recursion")
    rep = t.one_report(db, "deep recursion")
    if rep is None:
        return
    attrs, threads = t.common(rep, signal.SIGSEGV, r.pid, "deep recursion")
    ft = threads.get(rep.get("mainThread")) or {}
    t.c.eq(ft.get("name"), thread_name, "name of the faulting thread")
    fs = t.funcs(ft)
    nrec = sum(1 for f in fs if f == "recurse")
    t.say("faulting thread: %d frames (%d in recurse), first %r, last %r; cap %d" % (
        len(fs), nrec, fs[:2], fs[-2:], cap))
    t.c.eq(len(fs), cap, "frames of the faulting thread (the cap BTC_UNWIND_MAX_FRAMES)")
    t.c.check(fs and all(f == "recurse" for f in fs), "a %d-deep recursion's innermost %d "
              "frames are all recurse; got %r" % (depth, cap, sorted(set(fs))))
    unwind = ((rep.get("annotations") or {}).get("Crash") or {}).get("unwind") or {}
    note = unwind.get(rep.get("mainThread"))
    t.say("annotations.Crash.unwind: %r" % unwind)
    t.c.check(isinstance(note, str) and "frame limit" in note,
              "the faulting thread is not marked truncated: annotations.Crash.unwind[%s] = %r"
              % (rep.get("mainThread"), note))
    for k, th in threads.items():
        if isinstance(th, dict) and "truncated" in th:
            t.c.eq(th["truncated"], k == rep.get("mainThread"), "threads[%s].truncated" % k)
    if took is not None:
        t.say("fault -> death %.3f s with a %d-frame stack" % (took, depth))


def case_deep_recursion_main(t):
    deep_case(t, "main", "deep_recursion")


def case_deep_recursion_thread(t):
    deep_case(t, "thread", "deep-thr")


# ---------------------------------------------------------------------------
# kill -SEGV from outside


def case_kill_segv(t):
    db = os.path.join(t.tmp, "db")
    killer = {}
    kill_bin = shutil.which("kill") or "/bin/kill"

    def on_start(p, out):
        end = time.monotonic() + 10
        while time.monotonic() < end:
            out.seek(0)
            if out.read().startswith(b"READY"):
                break
            time.sleep(0.01)
        else:
            raise HarnessError("wait_kill never printed READY")
        time.sleep(0.05)
        k = subprocess.Popen([kill_bin, "-SEGV", str(p.pid)], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        killer["pid"] = k.pid  # the sender: the kill process itself
        killer["mono"] = time.monotonic()
        try:
            killer["rc"] = k.wait(timeout=10)
        except subprocess.TimeoutExpired:
            k.kill()
            k.wait()
            raise HarnessError("%s -SEGV %d hung" % (kill_bin, p.pid))

    r = run([t.prog("wait_kill")], t.env(db), t.newdir("cwd"), on_start=on_start)
    t.show("wait_kill, sent SIGSEGV by %s (pid %r, exit %r)" % (kill_bin, killer.get("pid"),
                                                                 killer.get("rc")), r)
    t.c.eq(killer.get("rc"), 0, "exit status of %s -SEGV" % kill_bin)
    t.fate(r, signal.SIGSEGV, "kill -SEGV")
    if "mono" in killer:
        took = r.death - killer["mono"]
        t.say("kill -> death %.3f s (bound %.1f s)" % (took, DEFAULT_TIMEOUT_S + GRACE_S))
        t.c.check(took <= DEFAULT_TIMEOUT_S + GRACE_S, "died %.3f s after kill" % took)
    t.no_lingering(r, "kill -SEGV")
    rep = t.one_report(db, "kill -SEGV")
    sender = killer.get("pid")
    if rep is None or not sender:
        return
    attrs, threads = t.common(rep, signal.SIGSEGV, r.pid, "kill -SEGV")
    msg = attrs.get("error.message")
    crash = (rep.get("annotations") or {}).get("Crash") or {}
    t.say("error.message %r; signal.code %r; annotations.Crash %s" % (
        msg, attrs.get("signal.code"), json.dumps(crash)))
    t.c.check(isinstance(msg, str) and msg.startswith("SIGSEGV")
              and re.search(r"\bsent by pid %d\b" % sender, msg),
              "error.message %r does not say SIGSEGV sent by pid %d" % (msg, sender))
    t.c.check("SI_USER" in (msg or ""), "error.message %r does not give the code SI_USER"
              % (msg,))
    t.c.eq(crash.get("sender.pid"), sender, "annotations.Crash['sender.pid']")
    t.c.check(re.search(r"\bsent by pid %d\b" % sender, crash.get("description") or ""),
              "annotations.Crash.description %r does not mention pid %d" % (
                  crash.get("description"), sender))
    t.c.check("fault.address" not in attrs, "a sent signal has no fault address, but "
              "attributes['fault.address'] = %r" % attrs.get("fault.address"))
    fs = t.funcs(threads.get(rep.get("mainThread")) or {})
    t.say("stack: %r" % fs[:6])
    t.c.check("wait_here" in fs and "main" in fs, "the killed thread's stack does not show "
              "wait_here and main: %r" % fs[:10])


# ---------------------------------------------------------------------------

CASES = {
    "fork_child": case_fork_child,
    "pidns_init_segv": case_pidns_init_segv,
    "pidns_init_abort": case_pidns_init_abort,
    "pidns_init_endpoint": case_pidns_init_endpoint,
    "handler_fault_segv": case_handler_fault_segv,
    "handler_fault_abort": case_handler_fault_abort,
    "helper_crash": case_helper_crash,
    "helper_hang": case_helper_hang,
    "helper_missing": case_helper_missing,
    "helper_missing_lib": case_helper_missing_lib,
    "deep_recursion_main": case_deep_recursion_main,
    "deep_recursion_thread": case_deep_recursion_thread,
    "kill_segv": case_kill_segv,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib")
    ap.add_argument("--helper")
    ap.add_argument("--progs")
    ap.add_argument("--src")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--verbose", "-v", action="store_true")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("case", nargs="?")
    a = ap.parse_args()
    if a.list:
        print("\n".join(CASES))
        return 0
    if a.case not in CASES or not (a.lib and a.helper and a.progs):
        ap.error("--lib, --helper, --progs and a case (%s) are needed" % ", ".join(CASES))
    t = T(a, a.case)
    print("case %s (tmp %s)" % (a.case, t.tmp), flush=True)
    try:
        for p in (t.lib, t.helper, t.progs):
            if not os.path.exists(p):
                t.c.fail("%s does not exist (is the product built?)" % p)
        if not t.c.failures:
            CASES[a.case](t)
    except (HarnessError, subprocess.TimeoutExpired) as e:
        t.c.fail(str(e))
    finally:
        t.close()
        if a.keep or os.environ.get("BTCRASH_TEST_KEEP"):
            print("kept %s" % t.tmp)
        else:
            shutil.rmtree(t.tmp, ignore_errors=True)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
