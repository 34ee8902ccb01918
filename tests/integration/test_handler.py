"""The crash handler in the crashed process (preload/crash_*.c): each test
really produces the situation under LD_PRELOAD=libbtcrash.so and checks the
report (or the record the handler hands over), the process's fate, and the
time from the fault to its death (DESIGN §1: at most BACKTRACE_TIMEOUT +
0.5 s).

  vfork_after          a vfork() child crashes before it execs, then the
                       parent: two reports, one per pid, each correct
  vfork_handler        a vfork child's signal(SIGSEGV, SIG_DFL) leaves the
                       parent's own handler in place
  vfork_during         the same child crash, and a second thread of the
                       parent crashes while the child is being reported:
                       the thread waits for the child, then reports
  soft_nofile[soft4]   RLIMIT_NOFILE soft 4 (hard as it was): the handler
                       raises it; the report is kept
  soft_nofile[both13]  `prlimit --nofile=13`: soft and hard 13, enough
  soft_fsize           RLIMIT_FSIZE soft 4 KiB, hard unlimited: the same
  record[plain]        a stand-in helper saves the record: the memory map
  record[undumpable]     after the stack copy, whole lines, the uids, the
  record[many]           flags (not dumpable; a map over 1 MiB cut)
  lost_line            a stand-in helper that never says it kept a report
                       and sleeps: one "report lost: timeout too short"
                       line, death by SIGSEGV by timeout + 0.5 s
  kept_line            one that says so ('S') and sleeps: no such line
  lost_line_racing     eight threads crash at once with that helper: still
                       one line, one owner
"""

import os
import re
import resource
import signal
import struct
import sys

import pytest

from conftest import DEFAULT_TIMEOUT_S, GRACE_S, reports, run

pytestmark = pytest.mark.handler

# Offsets in struct btc_crash_record (protocol/crash_record.h, x86_64).
OFF_FLAGS, OFF_PID, OFF_TID = 12, 16, 20
OFF_STACK_LEN, OFF_MAPS_LEN, OFF_UID = 776, 784, 792
RECORD_VERSION, HEADER_SIZE = 3, 944
F_MAPS_CUT, F_NOT_DUMPABLE = 1 << 2, 1 << 3
MAPS_MAX = 1024 * 1024
LOST = "report lost: timeout too short"
# A line of /proc/PID/maps: range, perms, offset, device, inode, [path].
MAPS_LINE = re.compile(r"^[0-9a-f]+-[0-9a-f]+ [r-][w-][x-][ps] [0-9a-f]+ [0-9a-f]+:[0-9a-f]+ "
                       r"\d+ *(?:\S.*)?$")


def tokens(text, *names):
    """name -> int for each "NAME <int>" in @text (the last one)."""
    out = {}
    for n in names:
        found = re.findall(r"\b%s (-?\d+)" % n, text)
        if found:
            out[n] = int(found[-1])
    return out


def bounded(check, took, timeout_s, what):
    print("%s: fault -> death %.3f s (bound %.1f s)" % (what, took, timeout_s + GRACE_S))
    check(took <= timeout_s + GRACE_S, "%s: died %.3f s after the fault; DESIGN §1 bound is "
          "BACKTRACE_TIMEOUT %.1f s + 0.5 s" % (what, took, timeout_s))


def top_funcs(rep, tid, n=2):
    stack = (((rep or {}).get("threads") or {}).get(str(tid)) or {}).get("stack") or []
    return [f.get("funcName") for f in stack[:n]]


def btc_lines(r):
    return [ln for ln in r.err.splitlines() if ln.startswith("btcrash")]


def by_pid(db):
    """process.id -> report for every report in @db."""
    out = {}
    for rep in reports(db).values():
        out.setdefault(rep.report.get("attributes", {}).get("process.id"), []).append(rep.report)
    return out


def check_report(check, rep, pid, tid, func, what):
    attrs = rep.get("attributes") or {}
    check.eq(rep.get("classifiers"), ["SIGSEGV"], "%s: classifiers" % what)
    check.eq(attrs.get("process.id"), pid, "%s: process.id" % what)
    check.eq(rep.get("mainThread"), str(tid), "%s: mainThread" % what)
    check.eq(top_funcs(rep, tid, 1), [func], "%s: the faulting thread's top frame" % what)
    check.eq([k for k, t in (rep.get("threads") or {}).items() if t.get("fault")], [str(tid)],
             "%s: the threads marked fault" % what)


# ---------------------------------------------------------------------------
# vfork


def test_vfork_after(build, btc, check, db):
    """The child of vfork() writes through NULL before it execs: it runs in
    its parent's memory, so its claim on the crash stays in the library's
    statics when it dies. The parent, once vfork() returned, reaps it
    (SIGSEGV) and crashes in turn: its crash is reported too, in its own
    report, within its own time bound."""
    r = run([build.prog("vfork_crash"), "after"], btc.env(db, LD_PRELOAD=build.lib),
            btc.newdir("cwd"))
    ids = tokens(r.err, "PARENT_PID", "CHILD_PID", "CHILD_FAULT_MONO_NS", "FAULT_MONO_NS")
    m = re.search(r"^CHILD (\d+) STATUS (\d+) REAPED_MONO_NS (\d+)$", r.out, re.M)
    if not check(m and len(ids) == 4, "vfork_crash did not print its pids and times; stdout "
                 "%r, stderr:\n%s" % (r.out, r.err[-3000:])):
        return
    child, status, reaped = int(m.group(1)), int(m.group(2)), int(m.group(3)) / 1e9
    check.eq(child, ids["CHILD_PID"], "the child's pid as the parent and the child saw it")
    check(os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSEGV,
          "the child's fate: raw wait status %d, expected death by SIGSEGV" % status)
    bounded(check, reaped - ids["CHILD_FAULT_MONO_NS"] / 1e9, DEFAULT_TIMEOUT_S,
            "the vfork child (fault -> reaped)")
    check.eq(r.termsig, signal.SIGSEGV, "the parent's fate (%s); stderr:\n%s"
             % (r.describe(), r.err[-3000:]))
    bounded(check, r.death_mono - ids["FAULT_MONO_NS"] / 1e9, DEFAULT_TIMEOUT_S, "the parent")
    check(not r.lingering, "processes of its group still alive: %r" % r.lingering)
    check.eq(len([ln for ln in btc_lines(r) if "report stored" in ln]), 2,
             "'report stored' lines on stderr:\n%s" % r.err[-3000:])
    reps = by_pid(db)
    check.eq(sorted(reps), sorted([child, ids["PARENT_PID"]]), "process.id of the reports")
    for pid, tid, func, what in ((child, child, "child_crash", "the child's report"),
                                 (ids["PARENT_PID"], ids["PARENT_PID"], "parent_crash",
                                  "the parent's report")):
        got = reps.get(pid) or []
        if check.eq(len(got), 1, "%s: reports with process.id %d" % (what, pid)):
            check_report(check, got[0], pid, tid, func, what)


def test_vfork_during(build, btc, check, db):
    """The vfork child crashes; 300 ms later a second thread of the parent
    ("parent-late") crashes while the child is still being reported (the
    main thread is suspended in vfork). Two reports in this one memory at
    once would share the library's record; the late thread waits until the
    child is gone, then reports its own crash, still within its own time
    bound: two reports, each of its own process and thread."""
    r = run([build.prog("vfork_crash"), "during"], btc.env(db, LD_PRELOAD=build.lib),
            btc.newdir("cwd"))
    ids = tokens(r.err, "PARENT_PID", "CHILD_PID", "CHILD_FAULT_MONO_NS", "LATE_TID",
                 "FAULT_MONO_NS")
    if not check(len(ids) == 5, "vfork_crash did not print its pids and times; stderr:\n%s"
                 % r.err[-3000:]):
        return
    check.eq(r.termsig, signal.SIGSEGV, "the parent's fate (%s); stderr:\n%s"
             % (r.describe(), r.err[-3000:]))
    bounded(check, r.death_mono - ids["FAULT_MONO_NS"] / 1e9, DEFAULT_TIMEOUT_S,
            "the parent (the late thread's fault -> death)")
    check(not r.lingering, "processes of its group still alive: %r" % r.lingering)
    reps = by_pid(db)
    check.eq(sorted(reps), sorted([ids["CHILD_PID"], ids["PARENT_PID"]]),
             "process.id of the reports")
    child = reps.get(ids["CHILD_PID"]) or []
    if check.eq(len(child), 1, "reports of the child"):
        check_report(check, child[0], ids["CHILD_PID"], ids["CHILD_PID"], "child_crash",
                     "the child's report")
    parent = reps.get(ids["PARENT_PID"]) or []
    if check.eq(len(parent), 1, "reports of the parent"):
        check_report(check, parent[0], ids["PARENT_PID"], ids["LATE_TID"], "late_crash",
                     "the parent's report")
        name = ((parent[0].get("threads") or {}).get(str(ids["LATE_TID"])) or {}).get("name")
        check.eq(name, "parent-late", "the name of the parent's faulting thread")


def test_vfork_handler(build, btc, check, db):
    """The parent installs a SIGSEGV handler (it prints PARENT_HANDLER and
    exits 3); its vfork child resets SIGSEGV with signal(SIG_DFL) and exits.
    The kernel reset the child's disposition only; so must btcrash, whose
    record of the program's handlers lives in the memory they share: the
    parent's NULL write then runs the parent's handler, as without btcrash
    (exit 3, no report)."""
    r = run([build.prog("vfork_crash"), "handler"], btc.env(db, LD_PRELOAD=build.lib),
            btc.newdir("cwd"))
    base = run([build.prog("vfork_crash"), "handler"], btc.env(btc.newdir("db-none")),
               btc.newdir("cwd"))
    check.eq(base.describe(), "exited 3", "without btcrash: the parent's fate")
    check.eq(r.describe(), "exited 3", "the parent's fate (its own handler); stderr:\n%s"
             % r.err[-3000:])
    check("PARENT_HANDLER" in r.err, "the parent's handler did not run; stderr:\n%s"
          % r.err[-3000:])
    check.eq(sorted(reports(db)), [], "reports")


# ---------------------------------------------------------------------------
# Resource limits


def crash_with_limits(build, btc, check, db, limits, what):
    """timed_null under @limits: dies of SIGSEGV within the bound, one
    stored report, no complaint from btcrash."""
    r = run([build.prog("timed_null")], btc.env(db, LD_PRELOAD=build.lib), btc.newdir("cwd"),
            limits=limits)
    fault = r.fault_mono()
    check.eq(r.termsig, signal.SIGSEGV, "%s: the signal it died of (%s); stderr:\n%s"
             % (what, r.describe(), r.err[-3000:]))
    if check(fault is not None, "%s: no FAULT_MONO_NS:\n%s" % (what, r.err[-2000:])):
        bounded(check, r.death_mono - fault, DEFAULT_TIMEOUT_S, what)
        btc.wait_helpers(db, fault + DEFAULT_TIMEOUT_S, what)
    check(not r.lingering, "%s: processes of its group still alive: %r" % (what, r.lingering))
    lines = btc_lines(r)
    check([ln for ln in lines if "report stored in" in ln],
          "%s: no 'report stored' line; btcrash said: %r" % (what, lines))
    check(not [ln for ln in lines if "could not" in ln or LOST in ln],
          "%s: btcrash complained: %r" % (what, lines))
    reps = list(reports(db).values())
    if check.eq(len(reps), 1, "%s: reports stored" % what):
        rep = reps[0].report
        check.eq(rep.get("attributes", {}).get("process.id"), r.pid, "%s: process.id" % what)
        check.eq(top_funcs(rep, r.pid, 3), ["level3", "level2", "level1"],
                 "%s: the top frames" % what)
    return r


@pytest.mark.parametrize("soft,hard", [(4, None), (13, 13)], ids=["soft4", "both13"])
def test_soft_nofile(build, btc, check, db, soft, hard):
    """A low RLIMIT_NOFILE. soft4: below the descriptor (10) the record goes
    to, with the hard limit as it was: the handler raises the soft limit
    before it records, and the helper inherits it. both13: `prlimit
    --nofile=13`, which cannot be raised, leaves enough room (descriptors
    10, 11 and 12). The report is kept either way."""
    cur_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard is None:
        if cur_hard != resource.RLIM_INFINITY and cur_hard < 64:
            pytest.skip("the hard RLIMIT_NOFILE (%d) is too low to test a raise" % cur_hard)
        hard = cur_hard
    crash_with_limits(build, btc, check, db, [(resource.RLIMIT_NOFILE, (soft, hard))],
                      "RLIMIT_NOFILE %d:%d" % (soft, hard))


def test_soft_fsize(build, btc, check, db):
    """RLIMIT_FSIZE soft 4 KiB (room for the program's own lines on stderr,
    a file here), hard unlimited: the record (header, stack copy, map) is
    larger, and its writes would fail with EFBIG and SIGXFSZ; the handler
    raises the soft limit, the helper inherits it and writes the database.
    The program still dies of its SIGSEGV, not of a SIGXFSZ."""
    if resource.getrlimit(resource.RLIMIT_FSIZE)[1] != resource.RLIM_INFINITY:
        pytest.skip("the hard RLIMIT_FSIZE is not unlimited here")
    crash_with_limits(build, btc, check, db,
                      [(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))],
                      "RLIMIT_FSIZE 4096:unlimited")


# ---------------------------------------------------------------------------
# The record, as a stand-in helper receives it

SAVE_RECORD = """#!%(python)s
# Stand-in helper: saves the record, says done, exits.
import os, shutil
out = %(out)r
shutil.copyfile("/proc/self/fd/3", out + "/record.tmp")
os.rename(out + "/record.tmp", out + "/record")
os.write(4, b"D")
"""


def stand_in(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize("mode", ["plain", "undumpable", "many"])
def test_record(build, btc, check, db, tmp_path, mode):
    """The record the handler writes for the helper: the header (version 3),
    the stack copy, then /proc/self/maps as the crashed process read it:
    whole lines, the program's own mappings among them, maps_len bytes,
    the file ending there. uid and euid are the process's. undumpable
    (prctl(PR_SET_DUMPABLE, 0)) sets BTC_RECORD_F_NOT_DUMPABLE, and the map
    is there all the same. many: 30,000 mappings, more than 1 MiB of text,
    which is cut at the last whole line below 1 MiB (BTC_RECORD_F_MAPS_CUT)."""
    out = tmp_path / "saved"
    out.mkdir()
    helper = stand_in(tmp_path, "save-record", SAVE_RECORD % {"python": sys.executable,
                                                              "out": str(out)})
    argv = [build.prog("maps_null"), mode] + (["30000"] if mode == "many" else [])
    r = run(argv, btc.env(db, LD_PRELOAD=build.lib, BACKTRACE_HELPER_PATH=helper),
            btc.newdir("cwd"))
    fault = r.fault_mono()
    check.eq(r.termsig, signal.SIGSEGV, "%s: the signal it died of (%s); stderr:\n%s"
             % (mode, r.describe(), r.err[-3000:]))
    if fault is not None:
        bounded(check, r.death_mono - fault, DEFAULT_TIMEOUT_S, "%s: crash" % mode)
    check.eq(btc_lines(r), [], "%s: btcrash's lines on stderr" % mode)
    if not check((out / "record").exists(), "%s: the stand-in helper saved no record; "
                 "stderr:\n%s" % (mode, r.err[-3000:])):
        return
    rec = (out / "record").read_bytes()
    magic, version, header, flags, pid, tid = struct.unpack_from("<IIIIii", rec, 0)
    stack_len, maps_len = struct.unpack_from("<QQ", rec, OFF_STACK_LEN)
    uid, euid = struct.unpack_from("<II", rec, OFF_UID)
    check.eq((magic, version, header), (0x42544352, RECORD_VERSION, HEADER_SIZE),
             "%s: record magic/version/header size" % mode)
    check.eq((pid, tid), (r.pid, r.pid), "%s: record pid and tid" % mode)
    check.eq((uid, euid), (os.getuid(), os.geteuid()), "%s: record uid and euid" % mode)
    check.eq(len(rec), HEADER_SIZE + stack_len + maps_len,
             "%s: the record's length (header, %d bytes of stack, %d of map)"
             % (mode, stack_len, maps_len))
    check.eq(bool(flags & F_NOT_DUMPABLE), mode == "undumpable",
             "%s: BTC_RECORD_F_NOT_DUMPABLE in flags 0x%x" % (mode, flags))
    check.eq(bool(flags & F_MAPS_CUT), mode == "many",
             "%s: BTC_RECORD_F_MAPS_CUT in flags 0x%x" % (mode, flags))
    text = rec[HEADER_SIZE + stack_len:HEADER_SIZE + stack_len + maps_len]
    check(0 < maps_len <= MAPS_MAX, "%s: maps_len %d" % (mode, maps_len))
    check(text.endswith(b"\n"), "%s: the map does not end with a whole line: %r"
          % (mode, text[-80:]))
    lines = text.decode("utf-8", "replace").splitlines()
    bad = [ln for ln in lines if not MAPS_LINE.match(ln)]
    check.eq(bad[:3], [], "%s: lines of the map that are not maps lines" % mode)
    paths = {ln.split(None, 5)[5] for ln in lines if len(ln.split(None, 5)) == 6}
    check(os.path.realpath(build.prog("maps_null")) in paths, "%s: the program is not in its "
          "map (paths: %r)" % (mode, sorted(paths)[:10]))
    check("[stack]" in paths or mode == "many", "%s: no [stack] in the map" % mode)
    check(any(os.path.basename(p).startswith("libbtcrash.so") for p in paths) or mode == "many",
          "%s: the library is not in the map" % mode)
    n = tokens(r.err, "MAPPINGS").get("MAPPINGS")
    if mode == "many":
        check(maps_len > MAPS_MAX - 200, "many: the map was cut at %d bytes, more than a line "
              "below the 1 MiB limit" % maps_len)
        check(n is not None and n > len(lines), "many: %r mappings, %d lines kept"
              % (n, len(lines)))
    else:
        # A few mappings may come or go between the program's count and
        # the handler's read (the handler's own work maps nothing).
        check(n is not None and abs(len(lines) - n) <= 3, "%s: %d lines in the record, %r "
              "in the program's own count" % (mode, len(lines), n))


# ---------------------------------------------------------------------------
# "report lost: timeout too short"


def sleeping_helper(btc, say):
    d = btc.newdir("helper")
    path = os.path.join(d, "sleep-helper.sh")
    with open(path, "w") as f:
        f.write("#!/bin/sh\n%sexec sleep 30\n" % ("printf %s >&4\n" % say if say else ""))
    os.chmod(path, 0o755)
    return path


def test_lost_line(btc, check, db):
    """A helper that never writes BTC_NOTIFY_STORED and sleeps, with
    BACKTRACE_TIMEOUT=1: the handler kills it at the deadline and says, in
    one line, that the report is lost and the timeout too short (with the
    timeout); the process dies of its SIGSEGV by 1.5 s after the fault."""
    r = btc.crash(db, timeout_s=1.0, what="a helper that kept nothing",
                  BACKTRACE_HELPER_PATH=sleeping_helper(btc, None))
    check.eq(btc_lines(r), ["btcrash: report lost: timeout too short (BACKTRACE_TIMEOUT=1000 "
                            "ms): the helper had kept nothing by the deadline; stopping it"],
             "btcrash's lines on stderr")
    if r.took is not None:
        print("fault -> death %.3f s" % r.took)
        check(r.took >= 0.9, "died %.3f s after the fault, before the deadline" % r.took)


def test_kept_line(btc, check, db):
    """A helper that writes BTC_NOTIFY_STORED ('S'), then sleeps: killed at
    the deadline all the same, but the report was kept: no "report lost"
    line, the line about stopping the helper says so."""
    r = btc.crash(db, timeout_s=1.0, what="a helper that kept a report",
                  BACKTRACE_HELPER_PATH=sleeping_helper(btc, "S"))
    check.eq(btc_lines(r), ["btcrash: the helper did not finish within BACKTRACE_TIMEOUT; "
                            "stopping it (the report was kept)"], "btcrash's lines on stderr")
    if r.took is not None:
        print("fault -> death %.3f s" % r.took)
        check(r.took >= 0.9, "died %.3f s after the fault, before the deadline" % r.took)


def test_lost_line_racing(build, btc, check, db):
    """threads8: eight threads write through NULL at the same moment, with
    the helper that keeps nothing. One thread reports, the others wait for
    its published deadline: one "report lost" line, death by SIGSEGV within
    timeout + 0.5 s (measured from the start: threads8 prints no time)."""
    env = btc.env(db, LD_PRELOAD=build.lib, BACKTRACE_TIMEOUT="1",
                  BACKTRACE_HELPER_PATH=sleeping_helper(btc, None))
    r = run([build.prog("threads8")], env, btc.newdir("cwd"))
    check.eq(r.termsig, signal.SIGSEGV, "the signal it died of (%s); stderr:\n%s"
             % (r.describe(), r.err[-3000:]))
    lines = btc_lines(r)
    check.eq(len(lines), 1, "btcrash's lines on stderr: %r" % lines)
    check(lines and LOST in lines[0], "no '%s' line: %r" % (LOST, lines))
    took = r.death_mono - r.start_mono
    print("start -> death %.3f s" % took)
    # Start-up (exec, eight threads, a barrier) takes a few ms.
    check(took <= 1.0 + GRACE_S + 0.2, "died %.3f s after its start; the bound is 1 s + 0.5 s "
          "after the fault" % took)
    check(not r.lingering, "processes of its group still alive: %r" % r.lingering)
