#!/usr/bin/env python3
"""Integration test for one crashing program under LD_PRELOAD=libbtcrash.so.

For one case it:
  1. runs the program without the library (baseline: termination signal and
     core-dump bit);
  2. runs it under gdb (same environment, no LD_PRELOAD) and parses `bt`;
  3. runs it with the library and a fresh BACKTRACE_DATABASE_PATH, then checks
     the stored report field by field, compares the crashing thread's stack
     with gdb's frame by frame, and checks the stderr summary and the fate;
  4. runs it again with BACKTRACE_DEBUG_BACKTRACE=1 and checks the full
     readable report on stderr.

All failures of a case are collected and printed, then the exit status is 1.
Python 3 standard library only.

Usage: run_crash.py --lib L --helper H --progs DIR --src DIR [--gdb GDB] CASE
       run_crash.py ... --gdb-only CASE   (baseline + gdb only: checks the
                                           programs and the gdb parser)
"""

import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time

RUN_TIMEOUT = 30  # seconds for any one run of a crashing program
GDB_TIMEOUT = 120
BT_TIMEOUT_S = 4.0  # BACKTRACE_TIMEOUT default (DESIGN §2)

SIGNAMES = {
    signal.SIGSEGV: "SIGSEGV",
    signal.SIGABRT: "SIGABRT",
    signal.SIGFPE: "SIGFPE",
    signal.SIGILL: "SIGILL",
    signal.SIGBUS: "SIGBUS",
    signal.SIGTRAP: "SIGTRAP",
}


# ---------------------------------------------------------------------------
# Cases


class Case:
    def __init__(self, prog, args=(), sig=signal.SIGSEGV, message=None, expect=(),
                 fault_thread_name=None, thread_count=1, report_threads=None,
                 parked=None, libc_top=False, bt_limit=None, no_ptrace=False,
                 extra_modules=(), fault_addr="zero", abort_text=None, cxx_type=None,
                 cxx_what=None, nameless_in=()):
        self.prog = prog
        self.args = list(args)
        self.sig = sig
        # error.message must match this regex (DESIGN §3 example:
        # "SIGSEGV (SEGV_MAPERR) at 0x0").
        self.message = message
        # Our own frames of the crashing thread, innermost first, as
        # (function, source file, marker or None, inlined): a self-check of
        # the programs and of the gdb parser.
        self.expect = list(expect)
        self.fault_thread_name = fault_thread_name or prog[:15]
        self.thread_count = thread_count  # process.thread.count
        # threads the report must hold (None: thread_count)
        self.report_threads = thread_count if report_threads is None else report_threads
        # thread name -> (function, file, marker): where a parked thread waits
        self.parked = parked or {}
        self.libc_top = libc_top  # also compare gdb's frame #0 (in glibc)
        self.bt_limit = bt_limit  # compare only the innermost N frames
        self.no_ptrace = no_ptrace
        self.extra_modules = list(extra_modules)  # files in --progs dir
        # fault.address: "zero" (a NULL access), "pc" (the faulting
        # instruction: SIGFPE, SIGILL), "any" (overflow: somewhere below the
        # stack), None (a signal sent by kill/abort: no fault address)
        self.fault_addr = fault_addr
        # A regex that the text glibc prints before it aborts (the program's
        # whole stderr without btcrash, less its newline) must match: a
        # self-check. The report's error.message and annotations.Crash
        # ["abort.message"] must then equal that text exactly. None: the
        # Crash annotation must have no "abort.message".
        self.abort_text = abort_text
        # An uncaught C++ exception: its demangled type is the classifier and
        # annotations.Crash["exception.type"], "type: what()" (or the type)
        # error.message, what() annotations.Crash["exception.what"]. None: the
        # Crash annotation must have neither, and the classifier is the signal.
        self.cxx_type = cxx_type
        self.cxx_what = cxx_what
        # Libraries (base name prefixes) whose frames may lack funcName: their
        # local functions have no symbol (Debian's libstdc++ without its
        # debug package; gdb shows "??" for them too).
        self.nameless_in = tuple(nameless_in)


SEGV0 = r"^SIGSEGV \(SEGV_MAPERR\) at 0x0$"

CASES = {
    "null_write": Case(
        "null_write", message=SEGV0,
        expect=[("level3", "null_write.c", "@fault", False),
                ("level2", "null_write.c", "@call2", False),
                ("level1", "null_write.c", "@call1", False),
                ("main", "null_write.c", "@main", False)]),
    "inline_fault": Case(
        "inline_fault", message=SEGV0,
        expect=[("inner_store", "inline_fault.c", "@fault", True),
                ("outer_store", "inline_fault.c", "@outer", True),
                ("crash_here", "inline_fault.c", "@crash_here", False),
                ("main", "inline_fault.c", "@main", False)]),
    "abort_call": Case(
        "abort_call", sig=signal.SIGABRT, message=r"^SIGABRT\b", fault_addr=None,
        expect=[("give_up", "abort_call.c", "@fault", False),
                ("main", "abort_call.c", "@main", False)]),
    "div_zero": Case(
        "div_zero", sig=signal.SIGFPE, message=r"^SIGFPE \(FPE_INTDIV\)", fault_addr="pc",
        expect=[("divide", "div_zero.c", "@fault", False),
                ("main", "div_zero.c", "@main", False)]),
    "builtin_trap": Case(
        "builtin_trap", sig=signal.SIGILL, message=r"^SIGILL \(ILL_ILLOPN\)", fault_addr="pc",
        expect=[("trap_now", "builtin_trap.c", "@fault", False),
                ("main", "builtin_trap.c", "@main", False)]),
    "threads_main": Case(
        "threads", args=["main"], message=SEGV0, fault_thread_name="thr-main",
        thread_count=3,
        parked={"thr-park-a": ("park_a", "threads.c", "@park_a"),
                "thr-park-b": ("park_b", "threads.c", "@park_b")},
        expect=[("main_crash", "threads.c", "@fault_main", False),
                ("main", "threads.c", "@main_call", False)]),
    "threads_worker": Case(
        "threads", args=["worker"], message=SEGV0, fault_thread_name="thr-faulter",
        thread_count=4,
        parked={"thr-park-a": ("park_a", "threads.c", "@park_a"),
                "thr-park-b": ("park_b", "threads.c", "@park_b"),
                "thr-main": ("main", "threads.c", "@main_join")},
        expect=[("worker_crash", "threads.c", "@fault_worker", False),
                ("faulter", "threads.c", "@faulter", False)]),
    "dlopen_fault": Case(
        "dlopen_fault", message=SEGV0, extra_modules=["libfaulty.so"],
        expect=[("faulty_inner", "libfaulty.c", "@fault", False),
                ("faulty_entry", "libfaulty.c", "@entry", False),
                ("main", "dlopen_fault.c", "@main", False)]),
    "cxx_method": Case(
        "cxx_method", message=SEGV0,
        expect=[("shapes::Canvas::paint", "cxx_method.cpp", "@fault", False),
                ("shapes::Canvas::fill", "cxx_method.cpp", "@fill", False),
                ("main", "cxx_method.cpp", "@main", False)]),
    "stack_overflow": Case(
        "stack_overflow", message=r"^SIGSEGV \(SEGV_(MAPERR|ACCERR)\)", bt_limit=32,
        fault_addr="any",
        expect=[("recurse", "stack_overflow.c", None, False),  # the prologue's spill
                ("recurse", "stack_overflow.c", "@recurse", False),
                ("recurse", "stack_overflow.c", "@recurse", False)]),
    "thread_overflow": Case(
        "thread_overflow", message=r"^SIGSEGV \(SEGV_(MAPERR|ACCERR)\)", bt_limit=32,
        fault_addr="any", fault_thread_name="ovf-worker", thread_count=2,
        expect=[("t_recurse", "thread_overflow.c", None, False),  # the prologue's spill
                ("t_recurse", "thread_overflow.c", "@recurse", False),
                ("t_recurse", "thread_overflow.c", "@recurse", False)]),
    "threads8": Case(
        "threads8", message=SEGV0, fault_thread_name=r"re:^racer-[0-7]$", thread_count=9,
        expect=[("crash_now", "threads8.c", "@fault", False),
                ("racer", "threads8.c", "@racer", False)]),
    "libc_strlen": Case(
        "libc_strlen", message=SEGV0, libc_top=True,
        expect=[("measure", "libc_strlen.c", "@call", False),
                ("main", "libc_strlen.c", "@main", False)]),
    "seccomp_null": Case(
        "seccomp_null", message=SEGV0, thread_count=2, report_threads=None,
        no_ptrace=True,
        expect=[("sc_level3", "seccomp_null.c", "@fault", False),
                ("sc_level2", "seccomp_null.c", "@call2", False),
                ("sc_level1", "seccomp_null.c", "@call1", False),
                ("main", "seccomp_null.c", "@main", False)]),
    # glibc's abort messages (issue 5, point 3), from __abort_msg.
    "abort_assert": Case(
        "abort_assert", sig=signal.SIGABRT, fault_addr=None,
        message=r"Assertion `count == 0' failed\.$",
        abort_text=r"^abort_assert: /\S+/abort_assert\.c:\d+: check_count: "
                   r"Assertion `count == 0' failed\.$",
        expect=[("check_count", "abort_assert.c", "@fault", False),
                ("run_checks", "abort_assert.c", "@call", False),
                ("main", "abort_assert.c", "@main", False)]),
    "abort_assert_noptrace": Case(
        "abort_assert", args=["noptrace"], sig=signal.SIGABRT, fault_addr=None, no_ptrace=True,
        message=r"Assertion `count == 0' failed\.$",
        abort_text=r"^abort_assert: /\S+/abort_assert\.c:\d+: check_count: "
                   r"Assertion `count == 0' failed\.$",
        expect=[("check_count", "abort_assert.c", "@fault", False),
                ("run_checks", "abort_assert.c", "@call", False),
                ("main", "abort_assert.c", "@main", False)]),
    # process_vm_readv denied: the message comes from PTRACE_PEEKDATA.
    "abort_assert_novmread": Case(
        "abort_assert", args=["novmread"], sig=signal.SIGABRT, fault_addr=None,
        message=r"Assertion `count == 0' failed\.$",
        abort_text=r"^abort_assert: /\S+/abort_assert\.c:\d+: check_count: "
                   r"Assertion `count == 0' failed\.$",
        expect=[("check_count", "abort_assert.c", "@fault", False),
                ("run_checks", "abort_assert.c", "@call", False),
                ("main", "abort_assert.c", "@main", False)]),
    "abort_double_free": Case(
        "abort_double_free", sig=signal.SIGABRT, fault_addr=None,
        message=r"^free\(\): double free detected in tcache 2$",
        abort_text=r"^free\(\): double free detected in tcache 2$",
        expect=[("release", "abort_double_free.c", "@fault", False),
                ("main", "abort_double_free.c", "@main", False)]),
    "abort_fortify": Case(
        "abort_fortify", sig=signal.SIGABRT, fault_addr=None,
        message=r"^\*\*\* buffer overflow detected \*\*\*: terminated$",
        abort_text=r"^\*\*\* buffer overflow detected \*\*\*: terminated$",
        expect=[("copy_name", "abort_fortify.c", "@fault", False),
                ("main", "abort_fortify.c", "@main", False)]),
    "abort_stack_smash": Case(
        "abort_stack_smash", sig=signal.SIGABRT, fault_addr=None,
        message=r"^\*\*\* stack smashing detected \*\*\*: terminated$",
        abort_text=r"^\*\*\* stack smashing detected \*\*\*: terminated$",
        expect=[("smash", "abort_stack_smash.c", "@fault", False),
                ("main", "abort_stack_smash.c", "@main", False)]),
    # Uncaught C++ exceptions (issue 5, point 4), named by the interposed
    # __cxa_throw's note. gdb's frames in libstdc++ are not compared.
    "cxx_uncaught_main": Case(
        "cxx_uncaught", args=["main"], sig=signal.SIGABRT, fault_addr=None,
        nameless_in=["libstdc++.so"],
        message=r"^std::runtime_error: boom$", cxx_type="std::runtime_error", cxx_what="boom",
        expect=[("fail_hard", "cxx_uncaught.cpp", "@fault", False),
                ("main", "cxx_uncaught.cpp", "@call_main", False)]),
    "cxx_uncaught_thread": Case(
        "cxx_uncaught", args=["thread"], sig=signal.SIGABRT, fault_addr=None, thread_count=2,
        nameless_in=["libstdc++.so"],
        message=r"^std::runtime_error: boom$", cxx_type="std::runtime_error", cxx_what="boom",
        expect=[("fail_hard", "cxx_uncaught.cpp", "@fault", False),
                ("worker", "cxx_uncaught.cpp", "@worker", False)]),
    "cxx_uncaught_custom": Case(
        "cxx_uncaught", args=["custom"], sig=signal.SIGABRT, fault_addr=None,
        nameless_in=["libstdc++.so"],
        message=r"^app::config_error: bad config$", cxx_type="app::config_error",
        cxx_what="bad config",
        expect=[("fail_hard", "cxx_uncaught.cpp", "@custom", False),
                ("main", "cxx_uncaught.cpp", "@call_custom", False)]),
    "cxx_uncaught_stale": Case(
        "cxx_uncaught", args=["stale"], sig=signal.SIGABRT, fault_addr=None,
        message=r"^SIGABRT\b",
        expect=[("caught_then_abort", "cxx_uncaught.cpp", "@stale", False),
                ("main", "cxx_uncaught.cpp", "@call_stale", False)]),
}


# ---------------------------------------------------------------------------
# Failure collection


class Checker:
    def __init__(self):
        self.failures = []
        self.notes = []

    def fail(self, msg):
        self.failures.append(msg)

    def check(self, cond, msg):
        if not cond:
            self.fail(msg)
        return bool(cond)

    def eq(self, got, expected, what):
        if got != expected:
            self.fail("%s: expected %r, got %r" % (what, expected, got))
            return False
        return True

    def note(self, msg):
        self.notes.append(msg)


# ---------------------------------------------------------------------------
# Running programs


class Run:
    def __init__(self, status, stdout, stderr, elapsed, pid, lingering):
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
        self.elapsed = elapsed
        self.pid = pid
        self.lingering = lingering  # processes of its group still alive after it died

    def describe(self):
        if os.WIFSIGNALED(self.status):
            return "killed by %s%s" % (signal.Signals(os.WTERMSIG(self.status)).name,
                                       " (core dumped)" if os.WCOREDUMP(self.status) else "")
        return "exited %d" % os.WEXITSTATUS(self.status)


class RunTimeout(Exception):
    pass


def _child_setup():
    # Core dumps on (core_pattern here is "core": written to the cwd).
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))


def _group_alive(pgid):
    """Pids of live (non-zombie) processes in process group @pgid."""
    alive = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
        except OSError:
            continue
        rest = s[s.rfind(")") + 2:].split()
        # rest[0] = state, rest[1] = ppid, rest[2] = pgrp
        if len(rest) > 2 and int(rest[2]) == pgid and rest[0] not in ("Z", "X"):
            alive.append(int(d))
    return alive


def run(argv, env, cwd, timeout=RUN_TIMEOUT, linger_wait=10.0):
    """Runs @argv in its own process group; returns a Run with the raw wait
    status (for WCOREDUMP). A run that outlives @timeout is killed and raises
    RunTimeout, so a hang fails the test rather than blocking it."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        p = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=err, preexec_fn=_child_setup, start_new_session=True)
        deadline = t0 + timeout
        status = None
        while True:
            pid, st, _ = os.wait4(p.pid, os.WNOHANG)
            if pid:
                status = st
                break
            if time.monotonic() > deadline:
                os.killpg(p.pid, signal.SIGKILL)
                os.waitpid(p.pid, 0)
                p.returncode = -9
                out.seek(0)
                err.seek(0)
                raise RunTimeout("%s did not finish within %d s (killed)\n--- stderr:\n%s" % (
                    " ".join(argv), timeout, err.read().decode("utf-8", "replace")[-4000:]))
            time.sleep(0.005)
        elapsed = time.monotonic() - t0
        p.returncode = -1  # reaped above; keep Popen from waiting again
        # Whatever the program spawned (the helper) must be gone soon too.
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
        return Run(status, out.read(), err.read(), elapsed, p.pid, lingering)


def base_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("BACKTRACE_") and k != "LD_PRELOAD"}
    env["LC_ALL"] = "C"
    return env


# ---------------------------------------------------------------------------
# gdb


GDB_FRAME = re.compile(r"^#(\d+)\s+(0x[0-9a-fA-F]+ in )?(.*)$")


class Frame:
    def __init__(self, func, file, line, inlined, raw=""):
        self.func = func
        self.file = file
        self.line = line
        self.inlined = inlined  # None: unknown
        self.raw = raw

    def key(self):
        return (self.func, self.file, self.line)

    def __repr__(self):
        return "%s at %s:%s%s" % (self.func, self.file, self.line,
                                  " [inlined]" if self.inlined else "")


def parse_gdb_bt(text):
    """Parses gdb `bt` lines: "#N  [0xADDR in ]FUNC (ARGS) [at FILE:LINE | from LIB]".
    gdb prints the caller of an inlined call without an address (its pc is
    the inline frame's), so frame N is inlined iff frame N+1 has no address."""
    rows = []
    for line in text.splitlines():
        m = GDB_FRAME.match(line)
        if not m:
            continue
        rest = m.group(3)
        file = lineno = None
        loc = re.match(r"^(.*) at (.+?):(\d+)$", rest)
        if loc:
            rest, file, lineno = loc.group(1), loc.group(2), int(loc.group(3))
        else:
            lib = re.match(r"^(.*) from (\S+)$", rest)
            if lib:
                rest = lib.group(1)
        func = rest.split(" (", 1)[0].strip()
        rows.append((int(m.group(1)), m.group(2) is not None, func, file, lineno, line))
    frames = []
    for i, (num, has_addr, func, file, lineno, raw) in enumerate(rows):
        if num != i:
            break  # a second backtrace (should not happen)
        inlined = None
        if i + 1 < len(rows) and rows[i + 1][0] == i + 1:
            inlined = not rows[i + 1][1]
        frames.append(Frame(func, file, lineno, inlined, raw))
    return frames


def parse_gdb_all_threads(text):
    """Parses `thread apply all bt`: {thread name: [Frame]}."""
    out = {}
    head = re.compile(r'^Thread \d+ \(Thread 0x[0-9a-f]+ \(LWP (\d+)\) "([^"]*)"\):')
    cur = None
    chunks = {}
    for line in text.splitlines():
        m = head.match(line)
        if m:
            cur = m.group(2)
            chunks[cur] = []
        elif cur is not None and line.startswith("#"):
            chunks[cur].append(line)
    for name, lines in chunks.items():
        out[name] = parse_gdb_bt("\n".join(lines))
    return out


def run_gdb(gdb, exe, args, env, cwd, bt_limit, all_threads=False):
    bt = "bt %d" % bt_limit if bt_limit else "bt"
    argv = [gdb, "-batch", "-nx", "-iex", "set debuginfod enabled off",
            "-ex", "set filename-display absolute", "-ex", "set pagination off",
            "-ex", "set width 0", "-ex", "run", "-ex", bt]
    if all_threads:
        argv += ["-ex", "echo ==== all threads\\n", "-ex", "thread apply all bt"]
    argv += ["--args", exe] + args
    r = run(argv, env, cwd, timeout=GDB_TIMEOUT, linger_wait=2.0)
    out = r.stdout.decode("utf-8", "replace")
    m = re.search(r"received signal (SIG[A-Z0-9]+)", out)
    return (m.group(1) if m else None), parse_gdb_bt(out), out


# ---------------------------------------------------------------------------
# Helpers


def marker_line(path, marker):
    pat = re.compile(re.escape(marker) + r"(?![\w])")
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if pat.search(line):
                return n
    raise RuntimeError("marker %s not found in %s" % (marker, path))


def strip_params(name):
    """'ns::C::m(int) const' -> 'ns::C::m'; 'main' -> 'main'."""
    if not isinstance(name, str):
        return name
    s = name.strip()
    for q in (" const", " volatile", " &&", " &", " noexcept"):
        while s.endswith(q):
            s = s[: -len(q)].rstrip()
    if not s.endswith(")"):
        return s
    depth = 0
    for i in range(len(s) - 1, -1, -1):
        if s[i] == ")":
            depth += 1
        elif s[i] == "(":
            depth -= 1
            if depth == 0:
                return s[:i].rstrip() if i > 0 else s
    return s


def norm(path):
    return os.path.normpath(path) if path else path


def is_own(path, src):
    return bool(path) and os.path.isabs(path) and norm(path).startswith(src + os.sep)


def foreign_path_matches(got, expected):
    """Paths of glibc frames: the debug information names them relative to a
    relative comp_dir ("./string/../sysdeps/..."), and gdb's "absolute" display
    joins them as it can. Equal after normalisation, leading ./ and ../
    dropped, or one a component-wise suffix of the other (same file name)."""
    def parts(p):
        ps = [x for x in norm(p).split(os.sep) if x not in ("", ".")]
        while ps and ps[0] == "..":
            ps.pop(0)
        return ps
    if not got or not expected:
        return False
    g, e = parts(got), parts(expected)
    n = min(len(g), len(e))
    return n > 0 and g[-n:] == e[-n:]


def gnu_build_id(path):
    """The GNU build-id of an ELF64 file, in lowercase hex, or None."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return None
    e_shoff, = struct.unpack_from("<Q", data, 0x28)
    e_shentsize, e_shnum = struct.unpack_from("<HH", data, 0x3A)
    for i in range(e_shnum):
        off = e_shoff + i * e_shentsize
        sh_type, = struct.unpack_from("<I", data, off + 4)
        if sh_type != 7:  # SHT_NOTE
            continue
        sh_offset, sh_size = struct.unpack_from("<QQ", data, off + 0x18)
        p, end = sh_offset, sh_offset + sh_size
        while p + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", data, p)
            name = data[p + 12:p + 12 + namesz]
            dp = p + 12 + ((namesz + 3) & ~3)
            if ntype == 3 and name.rstrip(b"\0") == b"GNU":
                return data[dp:dp + descsz].hex()
            p = dp + ((descsz + 3) & ~3)
    return None


def walk_strings(obj, path="$"):
    """Yields (json path, string) for every key and string value."""
    if isinstance(obj, str):
        yield path, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield path + "{key}", k
            yield from walk_strings(v, "%s.%s" % (path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from walk_strings(v, "%s[%d]" % (path, i))


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


HEX = re.compile(r"^0x[0-9a-f]+$")
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def report_frames(report, thread):
    """The report's frames of @thread as Frames (file from sourceCode)."""
    out = []
    sc = report.get("sourceCode") if isinstance(report.get("sourceCode"), dict) else {}
    for fr in thread.get("stack", []) if isinstance(thread, dict) else []:
        if not isinstance(fr, dict):
            out.append(Frame(None, None, None, None, repr(fr)))
            continue
        file = None
        sid = fr.get("sourceCode")
        if sid is not None and isinstance(sc.get(str(sid)), dict):
            file = sc[str(sid)].get("path")
        line = fr.get("line") if is_int(fr.get("line")) and fr.get("line") > 0 else None
        out.append(Frame(strip_params(fr.get("funcName")), file, line,
                         bool(fr.get("inlined", False)),
                         "%s %s" % (fr.get("address"), fr.get("library"))))
    return out


def format_stacks(title_a, a, title_b, b):
    lines = []
    n = max(len(a), len(b))
    w = 80
    lines.append("  %-4s %-*s | %s" % ("#", w, title_a, title_b))
    for i in range(n):
        sa = repr(a[i]) if i < len(a) else "-"
        sb = repr(b[i]) if i < len(b) else "-"
        mark = "  " if (i < len(a) and i < len(b) and a[i].key() == b[i].key()) else "!!"
        lines.append("%s%-4d %-*s | %s" % (mark, i, w, sa[:w], sb))
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Checks


def check_gdb_side(c, case, src, gdb_sig, gframes, gdb_out):
    """Self-check: gdb saw the intended signal and the frames the program's
    markers name. A failure here is a test bug, not a product bug."""
    c.check(gdb_sig == SIGNAMES[case.sig],
            "[harness self-check] gdb saw signal %r, expected %s" % (gdb_sig, SIGNAMES[case.sig]))
    own = [f for f in gframes if is_own(f.file, src)]
    if not c.check(len(own) >= len(case.expect),
                   "[harness self-check] gdb shows %d own frames, expected >= %d\n%s" % (
                       len(own), len(case.expect), gdb_out[-3000:])):
        return
    for i, (func, file, marker, inlined) in enumerate(case.expect):
        f = own[i]
        want_line = marker_line(os.path.join(src, file), marker) if marker else f.line
        ok = (f.func == func and norm(f.file) == os.path.join(src, file) and f.line == want_line
              and (f.inlined is None or f.inlined == inlined))
        c.check(ok, "[harness self-check] gdb own frame %d: got %r, expected %s at %s:%s%s" % (
            i, f, func, file, want_line, " [inlined]" if inlined else ""))


def compare_stacks(c, case, src, gframes, rframes, what="crashing thread"):
    """The crashing thread's frames in our own code (plus glibc's frame #0 for
    libc_strlen) must equal gdb's, one for one, in order."""
    if case.bt_limit:
        rframes = rframes[:len(gframes)]

    def select(frames):
        sel = []
        for i, f in enumerate(frames):
            if is_own(f.file, src) or (case.libc_top and i == 0):
                sel.append(f)
        return sel

    g = select(gframes)
    r = select(rframes)
    problems = []
    for i in range(max(len(g), len(r))):
        if i >= len(g) or i >= len(r):
            problems.append("frame %d: gdb %r, report %r" % (
                i, g[i] if i < len(g) else None, r[i] if i < len(r) else None))
            continue
        gf, rf = g[i], r[i]
        own = is_own(gf.file, src)
        file_ok = norm(rf.file) == norm(gf.file) if own else foreign_path_matches(rf.file, gf.file)
        if gf.func != rf.func or not file_ok or gf.line != rf.line:
            problems.append("frame %d: gdb %r, report %r" % (i, gf, rf))
        elif gf.inlined is not None and gf.inlined != rf.inlined:
            problems.append("frame %d (%s): gdb says inlined=%s, report says inlined=%s" % (
                i, gf.func, gf.inlined, rf.inlined))
    if problems:
        c.fail(what + "'s stack differs from gdb's:\n  " + "\n  ".join(problems) +
               "\nfull stacks (gdb | report):\n" + format_stacks("gdb", gframes, "report", rframes))
    return not problems


def check_db(c, db, report_path_expected=None):
    """Exactly one report, <uuid>.json with its <uuid>.state; 0700/0600."""
    if not c.check(os.path.isdir(db), "crash database %s was not created" % db):
        return None, None
    mode = stat.S_IMODE(os.stat(db).st_mode)
    c.eq(oct(mode), oct(0o700), "database directory mode (DESIGN §6)")
    entries = sorted(os.listdir(db))
    reports = [e for e in entries if e.endswith(".json")]
    if not c.check(len(reports) == 1, "expected exactly one report in the database, found %d: %r"
                   % (len(reports), entries)):
        if not reports:
            return None, None
    path = os.path.join(db, reports[0])
    fmode = stat.S_IMODE(os.stat(path).st_mode)
    c.eq(oct(fmode), oct(0o600), "report file mode (DESIGN §6)")
    uuid = reports[0][:-5]
    c.check(os.path.exists(os.path.join(db, uuid + ".state")),
            "no %s.state next to the report; database holds %r" % (uuid, entries))
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        c.fail("report is not valid UTF-8: %s" % e)
        text = raw.decode("utf-8", "replace")
    try:
        report = json.loads(text)
    except ValueError as e:
        c.fail("report is not valid JSON: %s" % e)
        return None, path
    if not c.check(isinstance(report, dict), "report is not a JSON object"):
        return None, path
    c.eq(report.get("uuid"), uuid, "report uuid vs file name")
    return report, path


def check_report(c, case, src, progs, report, pid, cwd, started):
    signame = SIGNAMES[case.sig]
    exe = os.path.join(progs, case.prog)

    # -- required top-level fields and types (DESIGN §3)
    uuid = report.get("uuid")
    c.check(isinstance(uuid, str) and UUID4.match(uuid), "uuid %r is not a random (v4) UUID" % uuid)
    ts = report.get("timestamp")
    if c.check(is_int(ts), "timestamp %r is not an integer" % (ts,)):
        c.check(started - 5 <= ts <= time.time() + 5,
                "timestamp %d is not the crash time (now %d)" % (ts, time.time()))
    c.eq(report.get("lang"), "c", "lang")
    c.check(isinstance(report.get("langVersion"), str), "langVersion missing or not a string: %r"
            % (report.get("langVersion"),))
    c.eq(report.get("agent"), "btcrash", "agent")
    c.check(isinstance(report.get("agentVersion"), str) and report.get("agentVersion"),
            "agentVersion missing or empty: %r" % (report.get("agentVersion"),))
    c.eq(report.get("classifiers"), [case.cxx_type or signame], "classifiers")
    c.check("arch" in report and report["arch"], "top-level arch missing (DESIGN §3)")
    for key, typ in (("threads", dict), ("attributes", dict), ("annotations", dict),
                     ("sourceCode", dict), ("modules", list), ("mainThread", str)):
        c.check(isinstance(report.get(key), typ), "%s missing or not a %s: %r" % (
            key, typ.__name__, type(report.get(key)).__name__))

    # -- every string valid UTF-8
    for where, s in walk_strings(report):
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:
            c.fail("string at %s is not valid UTF-8 (lone surrogate escape): %r" % (where, s[:80]))

    # -- attributes
    attrs = report.get("attributes") if isinstance(report.get("attributes"), dict) else {}
    for k, v in attrs.items():
        c.check(v is None or isinstance(v, (str, int, float, bool)),
                "attribute %s is not a primitive: %r" % (k, v))
    required = ["error.type", "error.message", "application", "process.id", "process.cwd",
                "process.thread.count", "hostname", "uname.sysname", "uname.release",
                "uname.machine", "cpu.arch", "cpu.count", "backtrace.agent", "backtrace.version",
                "signal", "signal.code"]
    if case.fault_addr:
        required.append("fault.address")  # si_addr means something for this signal
    missing = [k for k in required if k not in attrs]
    c.check(not missing, "attributes missing (DESIGN §3): %s" % ", ".join(missing))
    c.eq(attrs.get("error.type"), "Crash", "attributes['error.type']")
    msg = attrs.get("error.message")
    c.check(isinstance(msg, str) and re.search(case.message, msg),
            "attributes['error.message'] = %r does not match %r" % (msg, case.message))
    sigattr = attrs.get("signal")
    c.check(sigattr in (signame, int(case.sig), str(int(case.sig))),
            "attributes['signal'] = %r, expected %s or %d" % (sigattr, signame, case.sig))
    pidattr = attrs.get("process.id")
    c.check(pidattr in (pid, str(pid)), "attributes['process.id'] = %r, expected %d" % (pidattr, pid))
    c.eq(attrs.get("application"), case.prog, "attributes['application']")
    tc = attrs.get("process.thread.count")
    c.check(tc in (case.thread_count, str(case.thread_count)),
            "attributes['process.thread.count'] = %r, expected %d" % (tc, case.thread_count))
    if "process.cwd" in attrs:
        c.eq(attrs.get("process.cwd"), os.path.realpath(cwd), "attributes['process.cwd']")
    if "hostname" in attrs:
        c.eq(attrs.get("hostname"), socket.gethostname(), "attributes['hostname']")

    # -- annotations
    ann = report.get("annotations") if isinstance(report.get("annotations"), dict) else {}
    c.check(isinstance(ann.get("Crash"), dict), "annotations.Crash missing or not an object")
    proc = ann.get("Process")
    if c.check(isinstance(proc, dict), "annotations.Process missing or not an object"):
        text = json.dumps(proc)
        c.check(case.prog in text, "annotations.Process does not mention the executable: %s"
                % text[:300])
        for a in case.args:
            c.check(a in text, "annotations.Process does not hold argv %r: %s" % (a, text[:300]))

    # -- threads
    threads = report.get("threads") if isinstance(report.get("threads"), dict) else {}
    main_tid = report.get("mainThread")
    faulting = [k for k, t in threads.items() if isinstance(t, dict) and t.get("fault") is True]
    c.check(len(faulting) == 1, "exactly one thread must have fault=true, found %r" % faulting)
    c.check(main_tid in threads, "mainThread %r is not a key of threads %r" % (
        main_tid, list(threads)))
    if faulting:
        c.eq(main_tid, faulting[0], "mainThread vs the thread with fault=true")
    for k, t in threads.items():
        c.check(k.isdigit(), "thread key %r is not a decimal tid" % k)
        if not c.check(isinstance(t, dict), "thread %s is not an object" % k):
            continue
        c.check(isinstance(t.get("name"), str), "thread %s: name missing" % k)
        c.check(isinstance(t.get("fault"), bool), "thread %s: fault missing or not a bool" % k)
        c.check(isinstance(t.get("stack"), list), "thread %s: stack missing or not a list" % k)
        if os.path.isdir("/proc/%s/task/%s" % (pid, k)):
            c.fail("thread %s: the crashed process still exists" % k)
    if case.thread_count == 1:
        c.eq(main_tid, str(pid), "mainThread of a single-threaded program (its pid)")
    if case.no_ptrace:
        c.check(len(threads) >= 1, "no thread in the report")
    else:
        c.eq(len(threads), case.report_threads, "number of threads in the report")
    ft = threads.get(main_tid) if isinstance(threads.get(main_tid), dict) else {}
    name = ft.get("name")
    if case.fault_thread_name.startswith("re:"):
        c.check(isinstance(name, str) and re.match(case.fault_thread_name[3:], name),
                "faulting thread name %r does not match %s" % (name, case.fault_thread_name[3:]))
    else:
        c.eq(name, case.fault_thread_name, "faulting thread name")

    # -- frames: fields and types
    sc = report.get("sourceCode") if isinstance(report.get("sourceCode"), dict) else {}
    for k, t in threads.items():
        if not isinstance(t, dict) or not isinstance(t.get("stack"), list):
            continue
        if not case.no_ptrace or k == main_tid:
            c.check(len(t["stack"]) > 0, "thread %s (%s) has an empty stack" % (k, t.get("name")))
        for i, fr in enumerate(t["stack"]):
            where = "thread %s frame %d" % (k, i)
            if not c.check(isinstance(fr, dict), "%s is not an object" % where):
                continue
            nameless_ok = (bool(case.nameless_in) and isinstance(fr.get("library"), str) and
                           os.path.basename(fr["library"]).startswith(case.nameless_in))
            c.check(isinstance(fr.get("funcName"), str) or nameless_ok,
                    "%s: funcName missing: %r" % (where, fr))
            addr = fr.get("address")
            c.check(isinstance(addr, str) and HEX.match(addr),
                    "%s: address %r is not a \"0x...\" string" % (where, addr))
            c.check(isinstance(fr.get("library"), str), "%s: library missing: %r" % (where, fr))
            for f in ("line", "column"):
                if f in fr:
                    c.check(is_int(fr[f]) and fr[f] >= 0, "%s: %s %r is not an integer" % (
                        where, f, fr[f]))
            if "inlined" in fr:
                c.check(isinstance(fr["inlined"], bool), "%s: inlined %r is not a bool" % (
                    where, fr["inlined"]))
            if is_int(fr.get("line")) and fr["line"] > 0:
                c.check("sourceCode" in fr,
                        "%s (%s line %s): no sourceCode id though the line is known" % (
                            where, fr.get("funcName"), fr.get("line")))
            if "sourceCode" in fr:
                e = sc.get(str(fr["sourceCode"]))
                if c.check(isinstance(e, dict), "%s: sourceCode id %r not in sourceCode" % (
                        where, fr["sourceCode"])):
                    c.check(isinstance(e.get("path"), str) and e["path"],
                            "%s: sourceCode entry %r has no path" % (where, fr["sourceCode"]))

    # -- the top frame carries the registers
    stack = ft.get("stack") if isinstance(ft.get("stack"), list) else []
    if c.check(stack and isinstance(stack[0], dict), "faulting thread has no frames"):
        top = stack[0]
        regs = top.get("registers")
        if c.check(isinstance(regs, dict) and regs, "top frame of the faulting thread has no "
                   "registers (DESIGN §3)"):
            bad = {k: v for k, v in regs.items() if not (isinstance(v, str) and HEX.match(v))}
            c.check(not bad, "registers that are not hex strings: %r" % bad)
            for r in ("rip", "rsp"):
                c.check(r in regs, "registers lack %s: %r" % (r, sorted(regs)))
            if isinstance(regs.get("rip"), str) and isinstance(top.get("address"), str):
                try:
                    c.eq(int(regs["rip"], 16), int(top["address"], 16),
                         "top frame address vs its rip register")
                except ValueError:
                    pass
        for i, fr in enumerate(stack[1:], 1):
            if isinstance(fr, dict) and "registers" in fr and not fr.get("inlined"):
                c.note("frame %d also carries registers" % i)

    # -- fault.address
    fa = attrs.get("fault.address")
    want_fa = None
    if case.fault_addr == "zero":
        want_fa = 0
    elif case.fault_addr == "pc" and stack and isinstance(stack[0], dict):
        want_fa = stack[0].get("address")
        want_fa = int(want_fa, 16) if isinstance(want_fa, str) and HEX.match(want_fa) else None
    if want_fa is not None and fa is not None:
        got_fa = fa if is_int(fa) else (int(fa, 16) if isinstance(fa, str) and HEX.match(fa)
                                        else fa)
        c.check(got_fa == want_fa, "attributes['fault.address'] = %r, expected %s" % (
            fa, hex(want_fa)))

    # -- sourceCode text for the faulting thread's frames in readable files
    for i, fr in enumerate(stack):
        if not isinstance(fr, dict) or "sourceCode" not in fr or not is_int(fr.get("line")):
            continue
        e = sc.get(str(fr["sourceCode"]))
        if not isinstance(e, dict) or not isinstance(e.get("path"), str):
            continue
        p = e["path"]
        if not (os.path.isabs(p) and os.path.isfile(p) and os.access(p, os.R_OK)):
            continue
        where = "faulting thread frame %d (%s:%d)" % (i, p, fr["line"])
        if not c.check(isinstance(e.get("text"), str) and is_int(e.get("startLine")),
                       "%s: sourceCode entry lacks text/startLine though the file is readable"
                       % where):
            continue
        with open(p, encoding="utf-8", errors="replace") as f:
            file_lines = f.read().splitlines()
        text_lines = e["text"].splitlines()
        idx = fr["line"] - e["startLine"]
        want = file_lines[fr["line"] - 1] if 0 < fr["line"] <= len(file_lines) else None
        got = text_lines[idx] if 0 <= idx < len(text_lines) else None
        c.check(got is not None and want is not None and got.rstrip() == want.rstrip(),
                "%s: sourceCode text (startLine %d, %d lines) does not hold the frame's line: "
                "got %r, file has %r" % (where, e["startLine"], len(text_lines), got, want))

    # -- modules with build-ids
    mods = report.get("modules") if isinstance(report.get("modules"), list) else []
    by_file = {}
    for m in mods:
        if not c.check(isinstance(m, dict), "module entry %r is not an object" % (m,)):
            continue
        for f in ("start", "size", "code_file", "debug_identifier", "debug_file",
                  "debug_file_exists"):
            if f not in m:
                c.fail("module %r lacks %s" % (m.get("code_file"), f))
        if isinstance(m.get("code_file"), str):
            by_file[os.path.realpath(m["code_file"])] = m
    for f in [case.prog] + case.extra_modules:
        path = os.path.realpath(os.path.join(progs, f))
        m = by_file.get(path)
        if c.check(m is not None, "modules lack %s (have %r)" % (path, sorted(by_file))):
            c.eq(m.get("debug_identifier"), gnu_build_id(path),
                 "debug_identifier (GNU build-id) of %s" % f)
    libc = [m for p, m in by_file.items() if re.search(r"/libc\.so\.6$", p)]
    if c.check(libc, "modules lack libc.so.6"):
        c.eq(libc[0].get("debug_identifier"), gnu_build_id(libc[0]["code_file"]),
             "debug_identifier of libc.so.6")

    # -- no ptrace: the report says other threads could not be captured
    if case.no_ptrace:
        crash = ann.get("Crash") if isinstance(ann.get("Crash"), dict) else {}
        blob = json.dumps(crash) + json.dumps(attrs)
        c.check(re.search(r"ptrace|not permitted|EPERM|could not|couldn't|not captured|"
                          r"unavailable|only the crashing", blob, re.I),
                "neither annotations.Crash nor attributes note that the other threads could "
                "not be captured (ptrace denied); Crash annotation: %s" % json.dumps(crash)[:600])

    # -- parked threads wait where the program parked them
    by_name = {}
    for k, t in threads.items():
        if isinstance(t, dict):
            by_name.setdefault(t.get("name"), []).append((k, t))
    for tname, (func, file, marker) in case.parked.items():
        if not c.check(tname in by_name, "no thread named %r (names: %r)" % (
                tname, sorted(str(n) for n in by_name))):
            continue
        k, t = by_name[tname][0]
        c.check(t.get("fault") is False, "parked thread %r has fault=%r" % (tname, t.get("fault")))
        want = (func, os.path.join(src, file), marker_line(os.path.join(src, file), marker))
        frames = report_frames(report, t)
        c.check(any((f.func, norm(f.file), f.line) == want for f in frames),
                "parked thread %s (%s): no frame %s at %s:%d; stack:\n    %s" % (
                    k, tname, want[0], file, want[2],
                    "\n    ".join(repr(f) for f in frames) or "(empty)"))


def glibc_abort_text(c, case, stderr):
    """The text glibc printed before aborting: the program's whole stderr
    without btcrash, less the newline. A self-check against the case's regex."""
    text = stderr.decode("utf-8", "replace")
    if text.endswith("\n"):
        text = text[:-1]
    c.check(re.search(case.abort_text, text),
            "[harness self-check] without btcrash the program printed %r on stderr, expected "
            "glibc's abort message matching %r" % (text, case.abort_text))
    return text


def check_abort_message(c, case, report, expected, stderr):
    """error.message and annotations.Crash["abort.message"] are glibc's text,
    which the summary shows after the signal; a plain abort() has none."""
    attrs = report.get("attributes") if isinstance(report.get("attributes"), dict) else {}
    ann = report.get("annotations") if isinstance(report.get("annotations"), dict) else {}
    crash = ann.get("Crash") if isinstance(ann.get("Crash"), dict) else {}
    if expected is None:
        c.check("abort.message" not in crash, "annotations.Crash has abort.message %r, but glibc "
                "left no message" % crash.get("abort.message"))
        return
    c.eq(attrs.get("error.message"), expected, "attributes['error.message'] (glibc's abort text)")
    c.eq(crash.get("abort.message"), expected, "annotations.Crash['abort.message']")
    desc = crash.get("description")
    c.check(isinstance(desc, str) and desc.startswith(SIGNAMES[case.sig] + " "),
            "annotations.Crash['description'] = %r should still describe the signal" % desc)
    line = "crashed with %s: %s\n" % (SIGNAMES[case.sig], expected)
    text = stderr.decode("utf-8", "replace")
    c.check(line in text, "stderr summary lacks %r:\n%s" % (line, text[-2000:]))


def check_cxx_exception(c, case, report, stderr):
    """An uncaught exception's type and what() in annotations.Crash, and in
    the summary after the signal; none for any other crash."""
    ann = report.get("annotations") if isinstance(report.get("annotations"), dict) else {}
    crash = ann.get("Crash") if isinstance(ann.get("Crash"), dict) else {}
    c.eq(crash.get("exception.type"), case.cxx_type, "annotations.Crash['exception.type']")
    c.eq(crash.get("exception.what"), case.cxx_what, "annotations.Crash['exception.what']")
    if case.cxx_type:
        msg = case.cxx_type + (": " + case.cxx_what if case.cxx_what else "")
        line = "crashed with %s: %s\n" % (SIGNAMES[case.sig], msg)
        text = stderr.decode("utf-8", "replace")
        c.check(line in text, "stderr summary lacks %r:\n%s" % (line, text[-2000:]))


def check_summary(c, case, stderr, report_path, gtop):
    text = stderr.decode("utf-8", "replace")
    signame = SIGNAMES[case.sig]
    c.check(signame in text, "stderr summary does not mention %s:\n%s" % (signame, text[-2000:]))
    if gtop is not None and gtop.file:
        loc = "%s:%d" % (os.path.basename(gtop.file), gtop.line)
        c.check(loc in text, "stderr summary does not show the top frame's file:line %r:\n%s"
                % (loc, text[-2000:]))
    paths = set(re.findall(r"/\S+\.json\b", text))
    c.check(len(paths) <= 1, "stderr names more than one report: %r" % sorted(paths))
    if report_path:
        c.check(report_path in text, "stderr summary does not give the report's path %s:\n%s"
                % (report_path, text[-2000:]))


def check_debug_output(c, report, stderr):
    """With BACKTRACE_DEBUG_BACKTRACE=1 the whole readable report is printed:
    every thread (tid and name) and its top function."""
    text = stderr.decode("utf-8", "replace")
    threads = report.get("threads") if isinstance(report.get("threads"), dict) else {}
    for k, t in threads.items():
        if not isinstance(t, dict):
            continue
        c.check(re.search(r"\b%s\b" % re.escape(k), text),
                "debug output does not show thread %s (%s)" % (k, t.get("name")))
        if t.get("name"):
            c.check(t["name"] in text, "debug output does not show thread name %r" % t["name"])
        st = t.get("stack") or []
        if st and isinstance(st[0], dict) and st[0].get("funcName"):
            fn = strip_params(st[0]["funcName"])
            c.check(fn in text, "debug output does not show thread %s's top function %r" % (k, fn))
    if not c.failures:
        return
    c.note("debug stderr (tail):\n" + text[-3000:])


# ---------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--helper", required=True)
    ap.add_argument("--progs", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--gdb", default="gdb")
    ap.add_argument("--gdb-only", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--verbose", "-v", action="store_true")
    ap.add_argument("case", choices=sorted(CASES))
    a = ap.parse_args()

    case = CASES[a.case]
    src = norm(os.path.abspath(a.src))
    progs = os.path.abspath(a.progs)
    exe = os.path.join(progs, case.prog)
    c = Checker()
    tmp = tempfile.mkdtemp(prefix="btcrash-it-%s-" % a.case)
    print("case %s: %s %s (tmp %s)" % (a.case, exe, " ".join(case.args), tmp))
    try:
        if not os.path.isfile(exe):
            print("FAIL: %s not built" % exe)
            return 1

        # 1. Baseline: no library.
        cwd0 = os.path.join(tmp, "plain")
        os.mkdir(cwd0)
        env0 = base_env()
        r0 = run([exe] + case.args, env0, cwd0)
        print("without btcrash: %s" % r0.describe())
        c.check(os.WIFSIGNALED(r0.status) and os.WTERMSIG(r0.status) == case.sig,
                "[harness self-check] without btcrash the program %s, expected %s" % (
                    r0.describe(), SIGNAMES[case.sig]))
        abort_text = glibc_abort_text(c, case, r0.stderr) if case.abort_text else None

        # 2. gdb.
        cwdg = os.path.join(tmp, "gdb")
        os.mkdir(cwdg)
        gdb_sig, gframes, gdb_out = run_gdb(a.gdb, exe, case.args, env0, cwdg, case.bt_limit,
                                            all_threads=bool(case.parked))
        gdb_threads = {}
        if case.parked:
            gdb_threads = parse_gdb_all_threads(gdb_out.split("==== all threads", 1)[-1])
            for tname in case.parked:
                c.check(tname in gdb_threads, "[harness self-check] gdb shows no thread %r: %r"
                        % (tname, sorted(gdb_threads)))
        check_gdb_side(c, case, src, gdb_sig, gframes, gdb_out)
        if a.verbose or a.gdb_only:
            print("gdb (%s):" % gdb_sig)
            for i, f in enumerate(gframes):
                print("  #%-3d %r" % (i, f))
        if a.gdb_only:
            return report(c)

        for p in (a.lib, a.helper):
            if not os.path.exists(p):
                c.fail("%s does not exist (is the product built?)" % p)
        if c.failures:
            return report(c)

        # 3. With the library.
        cwd1 = os.path.join(tmp, "btcrash")
        os.mkdir(cwd1)
        db = os.path.join(tmp, "db")
        env1 = dict(env0, LD_PRELOAD=a.lib, BACKTRACE_DATABASE_PATH=db)
        started = time.time()
        r1 = run([exe] + case.args, env1, cwd1)
        print("with btcrash:    %s in %.2f s" % (r1.describe(), r1.elapsed))
        if a.verbose:
            print("stderr:\n" + r1.stderr.decode("utf-8", "replace"))
        # Fate unchanged: termination signal and core-dump bit.
        c.eq((os.WIFSIGNALED(r1.status), os.WIFSIGNALED(r1.status) and os.WTERMSIG(r1.status)),
             (os.WIFSIGNALED(r0.status), os.WIFSIGNALED(r0.status) and os.WTERMSIG(r0.status)),
             "termination (signaled, signal) with btcrash vs without")
        if os.WIFSIGNALED(r1.status) and os.WIFSIGNALED(r0.status):
            c.eq(bool(os.WCOREDUMP(r1.status)), bool(os.WCOREDUMP(r0.status)),
                 "core-dump bit with btcrash vs without")
        c.check(r1.elapsed <= BT_TIMEOUT_S + 0.5 + 1.5,
                "the crashed process took %.2f s to die (timeout %.1f s + 0.5 s, DESIGN §1)" % (
                    r1.elapsed, BT_TIMEOUT_S))
        c.check(not r1.lingering, "processes of the run still alive 10 s after the crash: %r" %
                r1.lingering)
        rep, rpath = check_db(c, db)
        if rep is not None:
            check_report(c, case, src, progs, rep, r1.pid, cwd1, started)
            check_abort_message(c, case, rep, abort_text, r1.stderr)
            check_cxx_exception(c, case, rep, r1.stderr)
            rthread = rep.get("threads", {}).get(rep.get("mainThread"), {})
            rframes = report_frames(rep, rthread)
            if gframes:
                # The faulting thread's first frame is gdb's #0.
                c.eq(rframes[0].func if rframes else None, gframes[0].func,
                     "faulting thread's first frame (function)")
                compare_stacks(c, case, src, gframes, rframes)
            # The parked threads, too: their own frames equal gdb's.
            for tname, gt in gdb_threads.items():
                if tname not in case.parked:
                    continue
                rts = [t for t in rep.get("threads", {}).values()
                       if isinstance(t, dict) and t.get("name") == tname]
                if rts:
                    compare_stacks(c, case, src, gt, report_frames(rep, rts[0]),
                                   what="parked thread %r" % tname)
                    if a.verbose:
                        print("parked %s: gdb %r\n  report %r" % (
                            tname, gt, report_frames(rep, rts[0])))
            if a.verbose:
                print("report stack:")
                for i, f in enumerate(rframes):
                    print("  #%-3d %r" % (i, f))
        check_summary(c, case, r1.stderr, rpath, gframes[0] if gframes else None)
        bad_stderr = r1.stderr.decode("utf-8", "replace")
        if "ignoring BACKTRACE_" in bad_stderr:
            c.fail("configuration warnings with a clean environment:\n" + bad_stderr[-1000:])

        # 4. Debug output: the full readable report.
        cwd2 = os.path.join(tmp, "debug")
        os.mkdir(cwd2)
        db2 = os.path.join(tmp, "db-debug")
        env2 = dict(env1, BACKTRACE_DATABASE_PATH=db2, BACKTRACE_DEBUG_BACKTRACE="1")
        r2 = run([exe] + case.args, env2, cwd2)
        c.eq(os.WIFSIGNALED(r2.status) and os.WTERMSIG(r2.status), case.sig,
             "termination signal in debug mode")
        dc = Checker()
        rep2, _ = check_db(dc, db2)
        if rep2 is not None:
            check_debug_output(dc, rep2, r2.stderr)
            if abort_text is not None:
                text2 = r2.stderr.decode("utf-8", "replace")
                line = "crashed with %s: %s\n" % (SIGNAMES[case.sig], abort_text)
                dc.check(line in text2, "debug output lacks %r" % line)
                dc.check("abort.message: " + abort_text + "\n" in text2,
                         "debug output does not show annotations.Crash abort.message")
        else:
            dc.fail("debug run stored no usable report")
        for f in dc.failures:
            c.fail("[debug run] " + f)
        c.notes.extend(dc.notes)
        if c.failures:
            c.note("stderr of the run with btcrash:\n" + r1.stderr.decode("utf-8", "replace")[-3000:])
        return report(c)
    except RunTimeout as e:
        c.fail("HANG: %s" % e)
        return report(c)
    finally:
        if a.keep or os.environ.get("BTCRASH_TEST_KEEP"):
            print("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def report(c):
    for n in c.notes:
        print("note: " + n)
    if c.failures:
        print("\n%d FAILURE(S):" % len(c.failures))
        for i, f in enumerate(c.failures, 1):
            print("%d. %s" % (i, f))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
