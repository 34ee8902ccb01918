"""Integration tests of other kinds of death (issue 5, point 5): each test
really produces the situation under LD_PRELOAD=libbtcrash.so and checks the
report AND the exit status (and, where time is the point, the time from the
fault to the death, DESIGN §1/§5: at most BACKTRACE_TIMEOUT + 0.5 s).

  fork_child           a crash in a forked child (no exec): the child's pid
                       and the child's threads, none of the parent's
  pidns_init[segv]     PID 1 of a PID namespace (unshare -pf --mount-proc)
  pidns_init[abort]      writes through NULL / calls abort(): reported, dies
  pidns_init[endpoint]   as without btcrash, bounded time, no spinning;
                       endpoint: the report reaches a receiver
  handler_fault[segv]  btcrash's own handler faults (the program made the
  handler_fault[abort]   library's writable data read-only): the program
                       still dies of its original signal, in bounded time
  helper_crash         BACKTRACE_HELPER_PATH is a program that segfaults
  helper_hang          ... a script sleeping 30 s, BACKTRACE_TIMEOUT=1
  helper_missing       ... a nonexistent path
  helper_missing_lib   no BACKTRACE_HELPER_PATH and no btcrash next to the
                       library (a copy of it alone in a directory)
  deep_recursion[main]   20,000 frames deep on the main thread (RLIMIT_STACK
                       raised), then a NULL write: reported in time, walked
                       to its end, the innermost frames and the outermost
                       16 (main's among them) kept, the rest counted
  deep_recursion[thread] the same on a thread with a 1 GiB stack
  deep_recursion_limit   1,200,000 frames deep: the walk stops at its hard
                       limit (2^20 frames) or the capture deadline, in
                       bounded time, keeps head and tail and counts the rest
  deep_frameless       3000 levels of a function with neither CFI nor a
                       frame pointer: each caller found by scanning the
                       stack and marked guessed, walked down to main
  kill_segv            kill -SEGV from another process: classifier SIGSEGV,
                       the sender's pid in error.message and the "Crash"
                       annotation, death by SIGSEGV
"""

import copy
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import time

import pytest

from conftest import DEFAULT_TIMEOUT_S, GRACE_S, reports, run

pytestmark = pytest.mark.deaths

# Start-up of unshare + exec, for bounds measured from the start of a run
# rather than from a printed fault time.
START_SLACK_S = 1.0
# A process that spins (a handler looping on its own fault) burns CPU; a
# crash that is reported and then dies takes little CPU of its own.
SPIN_CPU_S = 1.0


def capture_define(build, name):
    """A number #defined in capture/capture.h (the documented frame cap)."""
    with open(os.path.join(build.source, "capture", "capture.h")) as f:
        m = re.search(r"^#define %s +(\d+)" % name, f.read(), re.M)
    assert m, "%s not found in capture/capture.h" % name
    return int(m.group(1))


def stderr_tokens(r, *names):
    out = {}
    for n in names:
        m = re.search(r"\b%s (-?\d+)" % n, r.err)
        if m:
            out[n] = int(m.group(1))
    return out


def funcs(thread):
    return [f.get("funcName") for f in (thread or {}).get("stack") or []]


def past_libc(thread):
    """(how many innermost frames are in libc, the function names after them)."""
    stack = (thread or {}).get("stack") or []
    n = 0
    while n < len(stack) and os.path.basename(stack[n].get("library") or "").startswith("libc."):
        n += 1
    return n, [f.get("funcName") for f in stack[n:]]


def bounded(check, r, timeout_s, what):
    """Fault -> death within @timeout_s + GRACE_S (from FAULT_MONO_NS)."""
    fault = r.fault_mono()
    if not check(fault is not None, "%s: no FAULT_MONO_NS on stderr:\n%s" % (what, r.err[-2000:])):
        return None
    took = r.death_mono - fault
    print("%s: fault -> death %.3f s (bound %.1f s)" % (what, took, timeout_s + GRACE_S))
    check(took <= timeout_s + GRACE_S, "%s: the crashed process died %.3f s after the fault; "
          "DESIGN §1/§5 bound is BACKTRACE_TIMEOUT %.1f s + 0.5 s" % (what, took, timeout_s))
    return took


def fate(check, r, sig, what):
    check.eq(r.termsig, sig, "%s: the signal it died of (as without btcrash); it %s; stderr:\n%s"
             % (what, r.describe(), r.err[-2500:]))


def no_lingering(check, r, what):
    check(not r.lingering, "%s: processes of its group still alive 5 s after it died: %r"
          % (what, r.lingering))


def one_report(check, db, what):
    reps = reports(db)
    if not check.eq(len(reps), 1, "%s: reports in %s (%r)" % (what, db, sorted(reps))):
        return None
    return next(iter(reps.values())).report


def no_report(check, db, what):
    check.eq(sorted(reports(db)), [], "%s: reports in %s" % (what, db))


def common(check, rep, sig, pid, what):
    """Fields every crash report must have, for a crash of @pid."""
    attrs = rep.get("attributes") or {}
    check.eq(rep.get("classifiers"), [sig.name], "%s: classifiers" % what)
    check.eq(attrs.get("error.type"), "Crash", "%s: attributes['error.type']" % what)
    check.eq(attrs.get("process.id"), pid, "%s: attributes['process.id']" % what)
    threads = rep.get("threads") or {}
    faulting = [k for k, t in threads.items() if t.get("fault") is True]
    check.eq(len(faulting), 1, "%s: number of threads with fault=true (%r)" % (what, faulting))
    if faulting:
        check.eq(rep.get("mainThread"), faulting[0], "%s: mainThread" % what)
    return attrs, threads


# ---------------------------------------------------------------------------
# A forked child


def test_fork_child(build, btc, check, db):
    """The parent has a thread "parent-park" and forks; the child (no exec)
    starts "child-park" and crashes on its main thread "child-main". The
    report is the child's: process.id, the thread keys (its tids), its
    thread names, none of the parent's; the parent sees SIGSEGV."""
    r = run([build.prog("fork_child")], btc.env(db, LD_PRELOAD=build.lib), btc.newdir("cwd"))
    no_lingering(check, r, "fork_child")
    check.eq(r.describe(), "exited 0", "the parent's fate; stderr:\n%s" % r.err[-2000:])
    ids = stderr_tokens(r, "PARENT_PID", "PARENT_PARK_TID", "CHILD_PID", "CHILD_MAIN_TID",
                        "CHILD_PARK_TID")
    m = re.search(r"^CHILD (\d+) STATUS (\d+) REAPED_MONO_NS (\d+)$", r.out, re.M)
    if not check(m and len(ids) == 5, "fork_child did not print its pids/tids; stdout %r, "
                 "stderr:\n%s" % (r.out, r.err[-2000:])):
        return
    child, status, reaped = int(m.group(1)), int(m.group(2)), int(m.group(3)) / 1e9
    check.eq(child, ids["CHILD_PID"], "the child's pid as the parent and the child saw it")
    check(os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSEGV,
          "the forked child died with status 0x%x, expected killed by SIGSEGV" % status)
    fault = r.fault_mono()
    if check(fault is not None, "the child printed no FAULT_MONO_NS:\n" + r.err[-2000:]):
        took = reaped - fault
        check(took <= DEFAULT_TIMEOUT_S + GRACE_S, "the child died %.3f s after its fault "
              "(bound %.1f s)" % (took, DEFAULT_TIMEOUT_S + GRACE_S))
    rep = one_report(check, db, "fork_child")
    if rep is None:
        return
    attrs, threads = common(check, rep, signal.SIGSEGV, child, "fork_child")
    main_tid, park_tid = str(ids["CHILD_MAIN_TID"]), str(ids["CHILD_PARK_TID"])
    names = {k: v.get("name") for k, v in threads.items()}
    check.eq(rep.get("mainThread"), main_tid, "mainThread (the child's main tid)")
    check.eq(sorted(threads), sorted([main_tid, park_tid]), "thread keys: the child's two tids")
    check.eq(names.get(main_tid), "child-main", "name of the faulting thread")
    check.eq(names.get(park_tid), "child-park", "name of the child's thread")
    for k in (str(ids["PARENT_PID"]), str(ids["PARENT_PARK_TID"])):
        check(k not in threads, "the parent's thread %s is in the child's report" % k)
    check("parent-park" not in names.values(), "the parent's thread name is in the report")
    check.eq(attrs.get("process.thread.count"), 2, "process.thread.count (the child's)")
    check.eq(funcs(threads.get(main_tid))[:2], ["child_crash", "main"],
             "the faulting thread's innermost frames")
    n, rest = past_libc(threads.get(park_tid))
    check(n >= 1 and rest[:2] == ["child_park", "park_thread"], "the child's thread: pause() "
          "in libc, then child_park, park_thread; got %r" % funcs(threads.get(park_tid))[:8])
    proc = (rep.get("annotations") or {}).get("Process") or {}
    check.eq(proc.get("pid"), child, "annotations.Process.pid")


# ---------------------------------------------------------------------------
# PID 1 of a PID namespace


# prog, the report's signal, how it dies (as without btcrash), its own frames
PIDNS = {
    "segv": ("timed_null", signal.SIGSEGV, signal.SIGSEGV, "SIGSEGV (SEGV_MAPERR) at 0x0"),
    # A namespace's init ignores signals it sends itself with the default
    # disposition: glibc's abort() then falls through to its last resort,
    # a faulting instruction, so even without btcrash PID 1 dies of SIGSEGV.
    # The report is of the SIGABRT, the first fatal signal.
    "abort": ("abort_call", signal.SIGABRT, signal.SIGSEGV,
              "SIGABRT (SI_TKILL) raised by the process itself"),
    "endpoint": ("timed_null", signal.SIGSEGV, signal.SIGSEGV, "SIGSEGV (SEGV_MAPERR) at 0x0"),
}


@pytest.mark.parametrize("kind", list(PIDNS))
def test_pidns_init(build, btc, check, db, receiver, kind):
    """The program runs as PID 1 of a new PID namespace and dies of a signal
    (the report's classifier). It must die as it does without btcrash,
    within the bound, without spinning; endpoint: the report is sent."""
    prog, sig, death_sig, message = PIDNS[kind]
    if os.geteuid() != 0:
        pytest.fail("unshare -pf needs root here (euid %d)" % os.geteuid())
    argv = [shutil.which("unshare") or "/usr/bin/unshare", "-pf", "--mount-proc", "--",
            build.prog(prog)]
    base = run(argv, btc.env(btc.newdir("db-none")), btc.newdir("cwd"))
    extra = {"BACKTRACE_TIMEOUT": "2"}
    rx = None
    if kind == "endpoint":
        rx = receiver("ok")
        extra.update(BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
    r = run(argv, btc.env(db, LD_PRELOAD=build.lib, **extra), btc.newdir("cwd"))
    print("as PID 1: without btcrash %s, with %s in %.3f s (cpu %.3f s)" % (
        base.describe(), r.describe(), r.death_mono - r.start_mono, r.cpu))
    check.eq(r.describe(), base.describe(), "termination of `unshare -pf %s` with btcrash vs "
             "without (stderr with btcrash:\n%s)" % (prog, r.err[-2000:]))
    check.eq(base.termsig, death_sig, "baseline: the signal `unshare -pf %s` died of without "
             "btcrash" % prog)
    check.eq(r.termsig, death_sig, "the signal `unshare -pf %s` died of" % prog)
    elapsed = r.death_mono - r.start_mono
    check(elapsed <= 2.0 + GRACE_S + START_SLACK_S, "PID 1 crash took %.3f s from start to "
          "death (bound: BACKTRACE_TIMEOUT 2 + 0.5 + %.1f s start-up)" % (elapsed, START_SLACK_S))
    if r.fault_mono() is not None:
        bounded(check, r, 2.0, "PID 1")
    check(r.cpu <= SPIN_CPU_S, "unshare and PID 1 used %.3f s of CPU (spinning?), bound %.1f s"
          % (r.cpu, SPIN_CPU_S))
    no_lingering(check, r, "unshare -pf")
    rep = one_report(check, db, "PID 1")
    if rep is not None:
        attrs, threads = common(check, rep, sig, 1, "PID 1")
        check.eq(attrs.get("error.message"), message, "PID 1: error.message")
        check.eq(list(threads), ["1"], "thread keys (PID 1's one thread, in its namespace)")
        if prog == "timed_null":
            check.eq(funcs(threads.get("1"))[:4], ["level3", "level2", "level1", "main"],
                     "PID 1's innermost frames")
        else:
            n, rest = past_libc(threads.get("1"))
            check(n >= 1 and rest[:2] == ["give_up", "main"], "PID 1's stack: abort() in libc, "
                  "then give_up, main; got %r" % funcs(threads.get("1"))[:8])
    if rx is not None:
        reqs = rx.snapshot()
        check.eq(len(reqs), 1, "requests the receiver got from PID 1's helper")
        if rep is not None and reqs:
            ups = [p for p in reqs[0].multipart() if p.name == "upload_file"]
            check(ups and json.loads(ups[0].data).get("uuid") == rep.get("uuid"),
                  "the receiver did not get the stored report")


# ---------------------------------------------------------------------------
# A fault inside btcrash's own handler


@pytest.mark.parametrize("mode,sig", [("segv", signal.SIGSEGV), ("abort", signal.SIGABRT)],
                         ids=["segv", "abort"])
def test_handler_fault(build, btc, check, db, mode, sig):
    """handler_fault makes libbtcrash.so's writable mappings read-only and
    gives itself its own alternate stack, so the handler faults on its first
    write to its own state. The program must still die of its original
    signal, within the timeout."""
    argv = [build.prog("handler_fault"), mode]
    base = run(argv, btc.env(btc.newdir("db-none")), btc.newdir("cwd"))
    check.eq(base.termsig, sig, "baseline: the signal handler_fault %s died of" % mode)
    r = run(argv, btc.env(db, LD_PRELOAD=build.lib), btc.newdir("cwd"))
    prot = stderr_tokens(r, "PROTECTED").get("PROTECTED")
    print("writable mappings of libbtcrash.so made read-only: %r" % prot)
    if not check(prot and prot >= 1, "handler_fault found no writable mapping of "
                 "libbtcrash.so to protect (PROTECTED %r); the situation was not produced" % prot):
        return
    fate(check, r, sig, "handler_fault %s (fault inside btcrash's handler)" % mode)
    bounded(check, r, DEFAULT_TIMEOUT_S, "handler_fault %s" % mode)
    no_lingering(check, r, "handler_fault")
    # No report can be written: the handler died before recording anything.
    no_report(check, db, "handler_fault %s" % mode)


# ---------------------------------------------------------------------------
# Helpers that crash, hang or are missing


def helper_case(btc, check, db, what, timeout_s, line, **env):
    """timed_null crashes with the helper set up by @env: SIGSEGV, fault ->
    death within @timeout_s + 0.5 s (btc.crash), and one btcrash line on
    stderr, @line (a string, or a function of it that says whether it is
    right). No report is made."""
    r = btc.crash(db, timeout_s=timeout_s, what=what, **env)
    lines = [ln for ln in r.err.splitlines() if ln.startswith("btcrash")]
    if callable(line):
        check(len(lines) == 1 and line(lines[0]), "%s: btcrash's lines on stderr: %r"
              % (what, lines))
    else:
        check.eq(lines, [line], "%s: btcrash's lines on stderr" % what)
    no_report(check, db, what)
    return r


def test_helper_crash(build, btc, check, db):
    """The helper is null_write: it dies of SIGSEGV at once. (It is not
    intercepted either: the helper never loads the handlers; had it loaded
    them, null_write would have reported itself.)"""
    r = helper_case(btc, check, db, "crash with a helper that segfaults", DEFAULT_TIMEOUT_S,
                    "btcrash: the helper was killed by signal 11",
                    BACKTRACE_HELPER_PATH=build.prog("null_write"))
    elapsed = r.death_mono - r.start_mono
    check(elapsed < 2.0, "a helper that dies at once should not cost the timeout: %.3f s"
          % elapsed)


def test_helper_hang(btc, check, db):
    d = btc.newdir("hanghelper")
    script = os.path.join(d, "hang-helper.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\necho $$ > '%s/helper.pid'\nexec sleep 30\n" % d)
    os.chmod(script, 0o755)
    r = helper_case(btc, check, db, "crash with a helper that sleeps 30 s (BACKTRACE_TIMEOUT=1)",
                    1.0, "btcrash: report lost: timeout too short (BACKTRACE_TIMEOUT=1000 ms): "
                    "the helper had kept nothing by the deadline; stopping it",
                    BACKTRACE_HELPER_PATH=script)
    if r.took is not None:
        check(r.took >= 0.9, "died %.3f s after the fault, before the 1 s timeout: the hanging "
              "helper was not waited for" % r.took)
    try:
        with open(os.path.join(d, "helper.pid")) as f:
            hp = int(f.read())
    except (OSError, ValueError):
        check.fail("the hanging helper never ran")
        return
    try:
        with open("/proc/%d/stat" % hp) as f:
            st = f.read().split(") ")[1].split()[0]
    except OSError:
        st = None
    check(st in (None, "Z", "X"), "the hanging helper %d is still alive (%s)" % (hp, st))


def test_helper_missing(btc, check, db, tmp_path):
    path = str(tmp_path / "no-such-dir" / "btcrash")
    r = helper_case(btc, check, db, "crash with BACKTRACE_HELPER_PATH=%s" % path,
                    DEFAULT_TIMEOUT_S, "btcrash: no helper could be started; tried " + path,
                    BACKTRACE_HELPER_PATH=path)
    elapsed = r.death_mono - r.start_mono
    check(elapsed < 2.0, "a missing helper should not cost the timeout: %.3f s" % elapsed)


def test_helper_missing_lib(build, btc, check, db):
    d = btc.newdir("lonely")
    lib = os.path.join(d, "lib", os.path.basename(build.lib))
    os.makedirs(os.path.dirname(lib))
    shutil.copy2(build.lib, lib)
    btc.build = copy.copy(build)  # this test's btc preloads the lonely copy
    btc.build.lib = lib
    # The one path tried is bin/btcrash next to the library's lib/.
    want = os.path.join(d, "bin", "btcrash")
    m = re.compile(r"^btcrash: no helper could be started; tried (\S+)$")
    r = helper_case(btc, check, db, "crash with the library alone (no btcrash next to it)",
                    DEFAULT_TIMEOUT_S, lambda ln: m.match(ln) and
                    os.path.normpath(m.match(ln).group(1)) == want, BACKTRACE_HELPER_PATH=None)
    elapsed = r.death_mono - r.start_mono
    check(elapsed < 2.0, "a missing helper should not cost the timeout: %.3f s" % elapsed)


# ---------------------------------------------------------------------------
# Deep recursion


@pytest.mark.parametrize("mode,thread_name", [("main", "deep_recursion"), ("thread", "deep-thr")],
                         ids=["main", "thread"])
def test_deep_recursion(build, btc, check, db, mode, thread_name):
    # Walked to its end within the unwind stage's share of the timeout also
    # by the sanitized helper, which walks some 13 times slower (100,000
    # frames took it 1.3 s; test_deep_recursion_limit goes past the time).
    depth = 20000
    cap = capture_define(build, "BTC_UNWIND_MAX_FRAMES")
    ntail = capture_define(build, "BTC_UNWIND_TAIL_FRAMES")
    argv = [build.prog("deep_recursion"), mode, str(depth)]
    # 1 GiB: the frames fit with room to spare; no stack overflow.
    big_stack = [(resource.RLIMIT_STACK, 1 << 30)]
    base = run(argv, btc.env(btc.newdir("db-none")), btc.newdir("cwd"), limits=big_stack)
    check.eq(base.termsig, signal.SIGSEGV, "baseline: the signal it died of (%s)"
             % base.describe())
    r = run(argv, btc.env(db, LD_PRELOAD=build.lib), btc.newdir("cwd"), limits=big_stack)
    fate(check, r, signal.SIGSEGV, "deep recursion")
    bounded(check, r, DEFAULT_TIMEOUT_S, "deep recursion, %d frames" % depth)
    no_lingering(check, r, "deep recursion")
    rep = one_report(check, db, "deep recursion")
    if rep is None:
        return
    attrs, threads = common(check, rep, signal.SIGSEGV, r.pid, "deep recursion")
    main = rep.get("mainThread")
    ft = threads.get(main) or {}
    check.eq(ft.get("name"), thread_name, "name of the faulting thread")
    fs = funcs(ft)
    # The walk goes to the stack's real end: it keeps the innermost
    # cap - tail frames and the outermost tail ones, and counts the rest.
    check.eq(len(fs), cap, "frames of the faulting thread (the cap BTC_UNWIND_MAX_FRAMES)")
    head, tail = fs[:cap - ntail], fs[cap - ntail:]
    check.eq(sorted(set(head)), ["recurse"], "functions of a %d-deep recursion's innermost %d "
             "frames" % (depth, cap - ntail))
    # Below the recursion: where it began, then the thread's start in libc.
    outer = {"main": ["main", "__libc_start_call_main", "__libc_start_main_impl", "_start"],
             "thread": ["deep_thread", "start_thread", "clone3"]}[mode]
    nrec = ntail - len(outer)
    check.eq(tail, ["recurse"] * nrec + outer, "the outermost %d frames: the recursion's "
             "first %d, then where it began" % (ntail, nrec))
    # recurse(depth) .. recurse(0): depth + 1 frames of it, and the outer ones.
    total = depth + 1 + len(outer)
    check.eq((ft.get("frames_omitted"), ft.get("frames_omitted_at")), (total - cap, cap - ntail),
             "threads[%s].frames_omitted and frames_omitted_at: the frames between the "
             "innermost %d and the outermost %d of %d" % (main, cap - ntail, ntail, total))
    for k, th in threads.items():
        if isinstance(th, dict) and k != main:
            check("frames_omitted" not in th, "threads[%s] (%s) has frames_omitted=%r, though "
                  "its stack is short" % (k, th.get("name"), th.get("frames_omitted")))
    unwind = ((rep.get("annotations") or {}).get("Crash") or {}).get("unwind")
    check.eq(unwind, {main: "%d frames left out after the innermost %d: a stack deeper than %d "
                            "frames keeps its innermost and its %d outermost"
                            % (total - cap, cap - ntail, cap, ntail)},
             "annotations.Crash.unwind (the faulting thread's frames left out, and no other "
             "thread's; no thread stopped early)")
    # The summary counts the frames that are not in the report too.
    more = "  ... %d more frames, %d of them left out of the report\n" % (
        total - 5, total - cap)
    check(more in r.err, "the stderr summary lacks %r:\n%s" % (more, r.err[-1500:]))


def test_deep_recursion_limit(build, btc, check, db):
    """Deeper than the walk's hard limit: the walk ends there, or at the
    capture deadline on a slow machine, and says which; the report keeps
    the cap's frames and counts the others walked."""
    depth = 1200000
    cap = capture_define(build, "BTC_UNWIND_MAX_FRAMES")
    ntail = capture_define(build, "BTC_UNWIND_TAIL_FRAMES")
    limit = 1 << 20  # BTC_UNWIND_WALK_LIMIT
    argv = [build.prog("deep_recursion"), "main", str(depth)]
    r = run(argv, btc.env(db, LD_PRELOAD=build.lib), btc.newdir("cwd"),
            limits=[(resource.RLIMIT_STACK, 1 << 30)])
    fate(check, r, signal.SIGSEGV, "deeper than the walk's limit")
    bounded(check, r, DEFAULT_TIMEOUT_S, "deep recursion, %d frames" % depth)
    rep = one_report(check, db, "deeper than the walk's limit")
    if rep is None:
        return
    attrs, threads = common(check, rep, signal.SIGSEGV, r.pid, "deeper than the walk's limit")
    main = rep.get("mainThread")
    ft = threads.get(main) or {}
    fs = funcs(ft)
    check.eq(len(fs), cap, "frames of the faulting thread (the cap BTC_UNWIND_MAX_FRAMES)")
    check.eq(sorted(set(fs)), ["recurse"], "a walk cut inside the recursion keeps recurse "
             "frames alone")
    omitted = ft.get("frames_omitted")
    note = ((rep.get("annotations") or {}).get("Crash") or {}).get("unwind", {}).get(main, "")
    if note.startswith("stopped at the frame limit; "):
        check.eq(omitted, limit - cap, "frames_omitted: the frames walked (the hard limit %d) "
                 "less those kept" % limit)
    else:
        check(note.startswith("stopped at the capture deadline; ") and isinstance(omitted, int)
              and 0 < omitted < limit - cap, "annotations.Crash.unwind[%s] = %r, "
              "frames_omitted = %r: the walk should stop at the hard limit, or before it at "
              "the deadline" % (main, note, omitted))
    check("%d frames left out after the innermost %d" % (omitted or 0, cap - ntail) in note,
          "annotations.Crash.unwind[%s] = %r does not count the frames left out" % (main, note))


def test_deep_frameless(build, btc, check, db):
    """A recursion 3000 deep through fl_recurse, which has neither CFI nor a
    frame pointer (progs/frameless_fns.c): every frame but the faulting one
    is found by a scan of the stack, and marked so, down to main."""
    depth = 3000
    cap = capture_define(build, "BTC_UNWIND_MAX_FRAMES")
    ntail = capture_define(build, "BTC_UNWIND_TAIL_FRAMES")
    argv = [build.prog("frameless"), "deep", str(depth)]
    r = run(argv, btc.env(db, LD_PRELOAD=build.lib), btc.newdir("cwd"))
    fate(check, r, signal.SIGSEGV, "deep frameless recursion")
    bounded(check, r, DEFAULT_TIMEOUT_S, "deep frameless recursion, %d frames" % depth)
    no_lingering(check, r, "deep frameless recursion")
    rep = one_report(check, db, "deep frameless recursion")
    if rep is None:
        return
    attrs, threads = common(check, rep, signal.SIGSEGV, r.pid, "deep frameless recursion")
    main = rep.get("mainThread")
    ft = threads.get(main) or {}
    stack = ft.get("stack") or []
    fs = funcs(ft)
    # fl_recurse(depth) .. fl_recurse(0), level1 (the caller of the first,
    # found by a scan too), main and libc's start, which have CFI.
    outer = ["level1", "main", "__libc_start_call_main", "__libc_start_main_impl", "_start"]
    total = depth + 1 + len(outer)
    check.eq(len(fs), cap, "frames of the faulting thread (the cap BTC_UNWIND_MAX_FRAMES)")
    check.eq(fs[:cap - ntail], ["fl_recurse"] * (cap - ntail), "the innermost %d frames"
             % (cap - ntail))
    check.eq(fs[cap - ntail:], ["fl_recurse"] * (ntail - len(outer)) + outer,
             "the outermost %d frames" % ntail)
    check.eq((ft.get("frames_omitted"), ft.get("frames_omitted_at")), (total - cap, cap - ntail),
             "frames_omitted and frames_omitted_at of %d frames" % total)
    guessed = [i for i, f in enumerate(stack) if f.get("guessed_frame")]
    check.eq(guessed, list(range(1, cap - len(outer) + 1)), "frames marked guessed_frame: each "
             "fl_recurse caller and level1, found by scanning; not the faulting frame, nor main "
             "and below, which CFI found")


# ---------------------------------------------------------------------------
# kill -SEGV from outside


def test_kill_segv(build, btc, check, db):
    killer = {}
    kill_bin = shutil.which("kill") or "/bin/kill"

    def on_start(p, out):
        end = time.monotonic() + 10
        while True:
            out.seek(0)
            if out.read().startswith(b"READY"):
                break
            if time.monotonic() > end:
                pytest.fail("wait_kill never printed READY")
            time.sleep(0.01)
        time.sleep(0.05)
        k = subprocess.Popen([kill_bin, "-SEGV", str(p.pid)], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        killer.update(pid=k.pid, mono=time.monotonic())  # the sender: the kill process itself
        try:
            killer["rc"] = k.wait(timeout=10)
        except subprocess.TimeoutExpired:
            k.kill()
            k.wait()
            pytest.fail("%s -SEGV %d hung" % (kill_bin, p.pid))

    r = run([build.prog("wait_kill")], btc.env(db, LD_PRELOAD=build.lib), btc.newdir("cwd"),
               on_start=on_start)
    check.eq(killer.get("rc"), 0, "exit status of %s -SEGV" % kill_bin)
    check.eq(r.out, "READY %d\n" % r.pid, "wait_kill's stdout")
    fate(check, r, signal.SIGSEGV, "kill -SEGV")
    took = r.death_mono - killer["mono"]
    check(took <= DEFAULT_TIMEOUT_S + GRACE_S, "died %.3f s after kill (bound %.1f s)"
          % (took, DEFAULT_TIMEOUT_S + GRACE_S))
    no_lingering(check, r, "kill -SEGV")
    rep = one_report(check, db, "kill -SEGV")
    if rep is None:
        return
    sender = killer["pid"]
    attrs, threads = common(check, rep, signal.SIGSEGV, r.pid, "kill -SEGV")
    crash = (rep.get("annotations") or {}).get("Crash") or {}
    said = "SIGSEGV (SI_USER) sent by pid %d, uid %d" % (sender, os.geteuid())
    check.eq(attrs.get("error.message"), said, "error.message (the sender and the code)")
    check.eq(attrs.get("signal.code"), "SI_USER", "attributes['signal.code']")
    check.eq(crash.get("description"), said, "annotations.Crash.description")
    check.eq(crash.get("sender.pid"), sender, "annotations.Crash['sender.pid']")
    check.eq(crash.get("sender.uid"), os.geteuid(), "annotations.Crash['sender.uid']")
    check("fault.address" not in attrs, "a sent signal has no fault address, but "
          "attributes['fault.address'] = %r" % attrs.get("fault.address"))
    ft = threads.get(rep.get("mainThread"))
    n, rest = past_libc(ft)
    check(n >= 1 and rest[:2] == ["wait_here", "main"], "the killed thread's stack: usleep() "
          "in libc, then wait_here, main; got %r" % funcs(ft)[:10])
