"""A crash in Debian's LTO-built CPython, frame by frame against gdb.

/usr/bin/python3.11 (gcc -O3 -flto, non-PIE; its DWARF from the package
python3.11-dbg, found by build id under /usr/lib/debug) runs a script that
recurses through C three times (sorted(key=...) calling back into Python)
and then faults in ctypes.string_at(0), inside glibc's strlen. The
innermost GDB_FRAMES frames of gdb 13's `bt` and of the report must agree
one for one: function, source path, line, and whether the frame is an
inlined call. LTO makes the inlined calls' DIEs refer across units (into
the early-debug ones), which is what this exercises on a real program.

One difference is expected, and accepted only where the DWARF proves it:
PyObject_Vectorcall's tail call (a jmp) into _PyObject_MakeTpCall. The
stack has no return address for it; btcrash finds it from the call site
(DW_TAG_call_site with DW_AT_call_tail_call and DW_AT_call_return_pc just
past the jmp, in the inlined _PyObject_VectorcallTstate of
PyObject_Vectorcall) and shows a frame for it, named by the innermost
inlined call at the site, _PyObject_VectorcallTstate at pycore_call.h:90.
gdb 13 shows no frame there. The report does not mark tail-call frames, so
the test recognises this one by its name and line and checks with
llvm-dwarfdump that its address is that of such a call site.
"""

import os
import re
import shutil
import subprocess

import pytest

from conftest import base_env, run
from frames import format_stacks, norm, report_frames, run_gdb
from test_crashes import check_db

pytestmark = pytest.mark.crash

PYTHON = "/usr/bin/python3.11"
GDB_FRAMES = 40

SCRIPT = r'''
import ctypes


def key(x):
    if x == 3:
        ctypes.string_at(0)
    return x


def level(n):
    if n == 0:
        return sorted([1, 2, 3], key=key)
    return sorted([n], key=lambda v: level(n - 1))


level(3)
'''

# The tail-call frame gdb does not show: (function, file's basename, line).
TAIL_CALL_FRAME = ("_PyObject_VectorcallTstate", "pycore_call.h", 90)
TAIL_CALLER = "PyObject_Vectorcall"


def debug_file(path):
    """The separate debug file of @path, by its build id, or None."""
    out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", out)
    if not m:
        return None
    bid = m.group(1)
    p = "/usr/lib/debug/.build-id/%s/%s.debug" % (bid[:2], bid[2:])
    return p if os.path.exists(p) else None


def tail_call_site(dwarfdump, dbg, addr):
    """Whether @dbg's DWARF has, in a subprogram of TAIL_CALLER holding
    @addr - 1, a DW_TAG_call_site with DW_AT_call_tail_call whose
    DW_AT_call_return_pc is @addr. Returns (bool, what was found)."""
    look = subprocess.run([dwarfdump, "--lookup=0x%x" % (addr - 1), "-p", dbg],
                          capture_output=True, text=True, timeout=120).stdout
    sub = re.search(r"^(0x[0-9a-f]+):\s+DW_TAG_subprogram\n\s+DW_AT_abstract_origin\s+"
                    r"\(0x[0-9a-f]+ \"([^\"]+)\"\)", look, re.M)
    if not sub:
        return False, "no subprogram at 0x%x:\n%s" % (addr - 1, look[-2000:])
    if sub.group(2) != TAIL_CALLER:
        return False, "0x%x is in %s, not %s" % (addr - 1, sub.group(2), TAIL_CALLER)
    tree = subprocess.run([dwarfdump, "--debug-info=" + sub.group(1), "-c", "-r", "64", dbg],
                          capture_output=True, text=True, timeout=120).stdout
    for site in re.split(r"\n(?=0x[0-9a-f]+:\s+DW_TAG_)", tree):
        if not re.match(r"0x[0-9a-f]+:\s+DW_TAG_call_site\n", site):
            continue
        pc = re.search(r"DW_AT_call_return_pc\s+\((0x[0-9a-f]+)\)", site)
        if pc and int(pc.group(1), 16) == addr:
            return "DW_AT_call_tail_call\t(true)" in site, site
    return False, "no call site returning to 0x%x in %s" % (addr, sub.group(2))


def same_frame(g, r):
    """gdb's frame @g and the report's @r: function (gdb's "??" is the
    report's none), path, line, and the inline mark where gdb tells it."""
    gfunc = None if g.func == "??" else g.func
    if gfunc != r.func or norm(g.file) != norm(r.file) or g.line != r.line:
        return False
    return g.inlined is None or g.inlined == r.inlined


def is_tail_call_frame(r):
    return (r.func, os.path.basename(r.file or ""), r.line) == TAIL_CALL_FRAME and not r.inlined


def test_lto_python(build, check, tmp_path):
    gdb = shutil.which("gdb")
    dwarfdump = shutil.which("llvm-dwarfdump")
    if not os.path.exists(PYTHON):
        pytest.skip("%s is not installed (Debian package python3.11)" % PYTHON)
    if not gdb or not dwarfdump:
        pytest.skip("gdb or llvm-dwarfdump is not installed: nothing to compare with")
    dbg = debug_file(PYTHON)
    if dbg is None:
        pytest.fail("%s has no debug file under /usr/lib/debug: install python3.11-dbg "
                    "(.ci/packages lists it)" % PYTHON)
    script = tmp_path / "crash.py"
    script.write_text(SCRIPT)
    argv = [PYTHON, "-I", str(script)]
    env0 = base_env()

    def newdir(n):
        (tmp_path / n).mkdir()
        return str(tmp_path / n)

    gdb_sig, gframes, gdb_out = run_gdb(gdb, argv, env0, newdir("gdb"), GDB_FRAMES + 10)
    check.eq(gdb_sig, "SIGSEGV", "[harness self-check] the signal gdb saw; its output:\n%s"
             % gdb_out[-3000:])
    check(len(gframes) >= GDB_FRAMES, "[harness self-check] gdb shows %d frames, fewer than "
          "%d:\n%s" % (len(gframes), GDB_FRAMES, gdb_out[-3000:]))
    gframes = gframes[:GDB_FRAMES]

    db = str(tmp_path / "db")
    r1 = run(argv, dict(env0, LD_PRELOAD=build.lib, BACKTRACE_DATABASE_PATH=db),
             newdir("btcrash"), linger_wait=10.0)
    check.eq(r1.termsig, 11, "the signal python died of with btcrash; it %s; stderr:\n%s"
             % (r1.describe(), r1.err[-2000:]))
    rep, _ = check_db(check, db, "")
    if rep is None:
        return
    thread = rep.get("threads", {}).get(rep.get("mainThread"))
    rframes = report_frames(rep, thread)
    addrs = [f.get("address") for f in thread.get("stack", [])] if isinstance(thread, dict) else []

    # Walk both stacks: every gdb frame must be the report's next one, but
    # for the proven tail-call frames the report alone has.
    problems, tail_frames = [], []
    i = 0
    for gi, g in enumerate(gframes):
        if i < len(rframes) and not same_frame(g, rframes[i]) and is_tail_call_frame(rframes[i]):
            addr = addrs[i] if i < len(addrs) else None
            addr = int(addr, 16) if isinstance(addr, str) else addr
            ok, what = tail_call_site(dwarfdump, dbg, addr) if isinstance(addr, int) else (
                False, "no address %r" % addr)
            check(ok, "report frame %d %r at %r: not a tail call of %s by the DWARF: %s" % (
                i, rframes[i], addr, TAIL_CALLER, what))
            prev = rframes[i - 1].func if i > 0 else None
            check.eq(prev, "_PyObject_MakeTpCall", "the frame inside report frame %d, the "
                     "tail-call frame (the tail call's callee)" % i)
            tail_frames.append(i)
            i += 1
        if i >= len(rframes) or not same_frame(g, rframes[i]):
            problems.append("gdb #%d %r, report #%d %r" % (
                gi, g, i, rframes[i] if i < len(rframes) else None))
            break
        i += 1
    print("%d gdb frames compared with %d report frames, tail-call frames at %r" % (
        len(gframes), i, tail_frames))
    check(not problems, "the report's stack differs from gdb's: %s\nfull stacks:\n%s" % (
        "; ".join(problems), format_stacks("gdb", gframes, "report", rframes[:i + 5])))
    # The script takes the path through PyObject_Vectorcall's tail call
    # once, innermost: the frame must be there, not just be allowed.
    check.eq(len(tail_frames), 1, "tail-call frames (%s at %s:%d) in the report's first %d "
             "frames" % (TAIL_CALL_FRAME + (i,)))
