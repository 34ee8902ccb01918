"""The crash helper on its own (cli/crash_helper.c, `btcrash __crash-helper`).

A crash is made with BACKTRACE_HELPER_PATH set to a stand-in helper that
saves what the library handed over (the crash record on descriptor 3, its
environment and open descriptors) and then only waits, so the crashed
process stays in its signal handler. The test then runs the real helper
itself on that record, with descriptors it chose, and checks what the
helper does with good and bad input: the report it stores, the byte it
writes on the notify descriptor, its exit status and messages.

The real helper attaches to the crashed process with ptrace: it is not the
ptracer the library named (PR_SET_PTRACER), so this needs root or Yama's
ptrace_scope 0.
"""

import os
import signal
import struct
import subprocess
import sys
import time

import pytest

from conftest import RUN_TIMEOUT, base_env, reports

pytestmark = pytest.mark.helper

RECORD_FD, NOTIFY_FD = 3, 4  # preload/crash_record.h
NOTIFY_DONE = b"D"
# A report was kept ('S'), then the crashed process may go ('D').
NOTIFY_KEPT_DONE = b"SD"
# Offsets in struct btc_crash_record (protocol/crash_record.h, x86_64).
OFF_MAGIC, OFF_VERSION, OFF_PID, OFF_STACK_LEN, OFF_MAPS_LEN = 0, 4, 16, 776, 784
HEADER_SIZE = 944
RECORD_VERSION = 3
BAD_RECORD = "no valid crash record on descriptor 3"

STAND_IN = """#!%(python)s
# Stand-in helper: saves what the library handed over, then waits.
import os, shutil, sys, time
out = %(out)r
shutil.copyfile("/proc/self/fd/3", out + "/record.tmp")
os.rename(out + "/record.tmp", out + "/record")
fds = [fd for fd in range(256) if os.path.exists("/proc/self/fd/%%d" %% fd)]
with open(out + "/fds", "w") as f:
    f.write(" ".join(map(str, fds)))
with open(out + "/env", "wb") as f:
    f.write(open("/proc/self/environ", "rb").read())
with open(out + "/argv", "w") as f:
    f.write("\\0".join(sys.argv))
with open(out + "/pid", "w") as f:
    f.write(str(os.getpid()))
open(out + "/ready", "w").close()
time.sleep(60)
"""


def can_ptrace_others():
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope") as f:
            scope = int(f.read())
    except OSError:
        scope = 0
    return os.geteuid() == 0 or scope == 0


class Held:
    """A timed_null crash held in its signal handler by the stand-in."""

    def __init__(self, build, tmp_path):
        self.out = tmp_path / "handed-over"
        self.out.mkdir()
        script = tmp_path / "stand-in-helper"
        script.write_text(STAND_IN % {"python": sys.executable, "out": str(self.out)})
        script.chmod(0o755)
        env = dict(base_env(), LD_PRELOAD=build.lib, BACKTRACE_HELPER_PATH=str(script),
                   BACKTRACE_TIMEOUT="30", BACKTRACE_DATABASE_PATH=str(tmp_path / "unused"),
                   BACKTRACE_ATTRIBUTES='{"held": "yes"}')
        self.proc = subprocess.Popen([build.prog("timed_null")], env=env, cwd=str(tmp_path),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        end = time.monotonic() + RUN_TIMEOUT
        while not (self.out / "ready").exists():
            if self.proc.poll() is not None or time.monotonic() > end:
                self.release()
                pytest.fail("the stand-in helper never ran; the program %s" % (
                    "exited %r" % self.proc.returncode if self.proc.poll() is not None
                    else "hung"))
            time.sleep(0.01)
        self.record = (self.out / "record").read_bytes()

    def release(self):
        """Ends the stand-in: the crashed process stops waiting, re-raises
        its signal and dies of it."""
        try:
            os.kill(int((self.out / "pid").read_text()), signal.SIGKILL)
        except (OSError, ValueError):
            pass
        try:
            self.proc.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def held(build, tmp_path):
    if not can_ptrace_others():
        pytest.skip("needs root or ptrace_scope 0: the helper run by the test is not the "
                    "ptracer the library named")
    h = Held(build, tmp_path)
    yield h
    h.release()


def run_helper(build, tmp_path, record, db, **env):
    """The real helper on @record (bytes, as a file on descriptor 3; None:
    no descriptor 3), with a file on descriptor 4 for what it notifies.
    Returns (exit status, stderr, what it wrote on descriptor 4)."""
    path, notified = tmp_path / "record-given", tmp_path / "notified"
    notified.write_bytes(b"")
    redirect = "4>\"$2\""
    if record is not None:
        path.write_bytes(record)
        redirect += " 3<\"$1\""
    # sh places the descriptors; exec keeps them, and nothing else above 2.
    argv = ["/bin/sh", "-c", 'exec "$0" __crash-helper ' + redirect, build.helper, str(path),
            str(notified)]
    try:
        p = subprocess.run(argv, env=dict(base_env(), BACKTRACE_DATABASE_PATH=db, **env),
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail("HANG: the helper did not exit within %d s" % RUN_TIMEOUT)
    return p.returncode, p.stderr.decode("utf-8", "replace"), notified.read_bytes()


def patched(record, offset, fmt, value):
    return record[:offset] + struct.pack(fmt, value) + record[offset + struct.calcsize(fmt):]


def test_what_the_library_hands_over(held, check):
    """The helper's descriptors and environment (DESIGN §1: the helper is
    never intercepted; preload/helper_env.c): descriptors 0 to 4 only, no
    LD_PRELOAD, the BACKTRACE_* variables, and a well-formed record of the
    crashing thread."""
    fds = (held.out / "fds").read_text().split()
    check.eq(fds, ["0", "1", "2", "3", "4"], "descriptors open in the helper")
    env = dict(kv.split(b"=", 1) for kv in (held.out / "env").read_bytes().split(b"\0") if kv)
    check(b"LD_PRELOAD" not in env, "the helper inherits LD_PRELOAD: %r" % env.get(b"LD_PRELOAD"))
    check.eq(env.get(b"BACKTRACE_ATTRIBUTES"), b'{"held": "yes"}', "BACKTRACE_ATTRIBUTES")
    check.eq(env.get(b"BACKTRACE_TIMEOUT"), b"30", "BACKTRACE_TIMEOUT")
    check.eq((held.out / "argv").read_text().split("\0")[1:], ["__crash-helper"],
             "the helper's arguments")
    rec = held.record
    magic, version, header = struct.unpack_from("<III", rec, OFF_MAGIC)
    pid, tid = struct.unpack_from("<ii", rec, OFF_PID)
    (stack_len,) = struct.unpack_from("<Q", rec, OFF_STACK_LEN)
    (maps_len,) = struct.unpack_from("<Q", rec, OFF_MAPS_LEN)
    check.eq((magic, version, header), (0x42544352, RECORD_VERSION, HEADER_SIZE),
             "record magic/version/size")
    check.eq(pid, held.proc.pid, "record pid")
    check.eq(tid, held.proc.pid, "record tid (timed_null faults on its main thread)")
    check.eq(len(rec), HEADER_SIZE + stack_len + maps_len,
             "record length: the header, the stack copy and the memory map")
    check(0 < stack_len <= 256 * 1024, "stack copy of %d bytes" % stack_len)
    check(0 < maps_len <= 1024 * 1024, "memory map of %d bytes" % maps_len)


def test_record_becomes_a_report(held, build, tmp_path, db, check):
    """The real helper, given the record, stores the report of the held
    process (its pid, its crashing thread, timed_null's frames) with the
    configuration of its own environment, tells the process it may go (the
    notify bytes: a report is kept, then the process may go), and exits 0;
    the process then dies of its SIGSEGV."""
    status, err, said = run_helper(build, tmp_path, held.record, db,
                                   BACKTRACE_ATTRIBUTES='{"given": "to the helper"}')
    check.eq(status, 0, "the helper's exit status (stderr: %s)" % err)
    check.eq(said, NOTIFY_KEPT_DONE, "what the helper wrote on the notify descriptor")
    reps = list(reports(db).values())
    if check.eq(len(reps), 1, "reports stored"):
        rep = reps[0].report
        pid = str(held.proc.pid)
        check.eq(rep["attributes"]["process.id"], held.proc.pid, "process.id")
        check.eq(rep["mainThread"], pid, "mainThread")
        # The configuration is the helper's own environment's.
        check.eq(rep["attributes"].get("given"), "to the helper", "the user's attribute")
        check("held" not in rep["attributes"], "an attribute of the crashed process's "
              "environment, not the helper's")
        funcs = [f.get("funcName") for f in rep["threads"][pid]["stack"][:4]]
        check.eq(funcs, ["level3", "level2", "level1", "main"], "the crashing thread's frames")
        check.eq(reps[0].state["mode"], "local", "the stored state's mode")
    held.release()
    check.eq(held.proc.returncode, -signal.SIGSEGV, "the held process's death")


@pytest.mark.parametrize("mutation", [
    "none", "empty", "half_header", "magic", "version", "stack_len", "truncated_stack",
    "maps_len", "truncated_maps"])
def test_bad_record_is_refused(held, build, tmp_path, db, check, mutation):
    """A missing, empty, cut or inconsistent record: the helper says so in
    one line, exits 2, writes nothing on the notify descriptor (the process
    waits out its deadline), and stores nothing."""
    rec = held.record
    (stack_len,) = struct.unpack_from("<Q", rec, OFF_STACK_LEN)
    given = {
        "none": None,
        "empty": b"",
        "half_header": rec[:HEADER_SIZE // 2],
        "magic": patched(rec, OFF_MAGIC, "<I", 0x52435442),
        "version": patched(rec, OFF_VERSION, "<I", RECORD_VERSION + 1),
        "stack_len": patched(rec, OFF_STACK_LEN, "<Q", 256 * 1024 + 1),
        "truncated_stack": rec[:HEADER_SIZE + stack_len - 1],
        "maps_len": patched(rec, OFF_MAPS_LEN, "<Q", 1024 * 1024 + 1),
        "truncated_maps": rec[:len(rec) - 1],
    }[mutation]
    status, err, said = run_helper(build, tmp_path, given, db)
    check.eq(status, 2, "exit status for a %s record" % mutation)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    check(len(lines) == 1 and BAD_RECORD in lines[0],
          "one line saying the record is not valid, got: %r" % lines)
    check.eq(said, b"", "what the helper wrote on the notify descriptor")
    check(not os.path.exists(db), "the helper made a database for a bad record")


def test_record_of_a_process_that_is_gone(held, build, tmp_path, db, check):
    """A record whose process is not there (pid of an exited process): the
    helper still keeps a report of what the record says (the signal, and the
    crashing thread's frames when the record's stack copy and memory map
    give them, else why they are missing), releases the waiting side, and
    does not hang."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    rec = patched(patched(held.record, OFF_PID, "<i", gone.pid), OFF_PID + 4, "<i", gone.pid)
    status, err, said = run_helper(build, tmp_path, rec, db)
    check.eq(said, NOTIFY_KEPT_DONE, "what the helper wrote on the notify descriptor")
    check.eq(status, 0, "the helper's exit status: a report was kept (stderr: %s)" % err)
    reps = list(reports(db).values())
    if check.eq(len(reps), 1, "reports kept for a process that is gone"):
        rep = reps[0].report
        check.eq(rep["attributes"].get("signal"), "SIGSEGV", "the record's signal")
        stack = rep["threads"][str(gone.pid)]["stack"]
        note = rep["annotations"]["Crash"].get("note.capture", "")
        check(stack or ("could not capture the crashed process %d" % gone.pid in err and note),
              "no frames, and no word why: note.capture %r; stderr %r" % (note, err))
