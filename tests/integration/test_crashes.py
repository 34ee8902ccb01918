"""Integration tests of one crashing program per case under LD_PRELOAD=libbtcrash.so.

For one case it:
  1. runs the program without the library (baseline: termination signal and
     core-dump bit);
  2. runs it under gdb (same environment, no LD_PRELOAD) and parses `bt`;
  3. runs it with the library and a fresh BACKTRACE_DATABASE_PATH, then checks
     the stored report field by field, compares the crashing thread's stack
     with gdb's frame by frame, and checks the stderr summary and the fate;
  4. runs it again with BACKTRACE_DEBUG_BACKTRACE=1 and checks the full
     readable report on stderr.

Failures marked "[harness self-check]" (steps 1-2) are test bugs: the
program or the gdb parser, not the product. (run_crash.py's --gdb-only, steps
1-2 alone, is no test of its own: every case makes those checks first.)
"""

import json
import os
import re
import shutil
import signal
import socket
import stat
import struct
import subprocess
import time

import pytest

from conftest import base_env, run
from frames import (Frame, as_dict, format_stacks, is_int, is_own, marker_line, norm,
                    parse_gdb_all_threads, report_frames, run_gdb, strip_params)

pytestmark = pytest.mark.crash

BT_TIMEOUT_S = 4.0  # BACKTRACE_TIMEOUT default (DESIGN §2)

# signal -> its si_code in these programs; si_code name -> number
SIG_CODE = {signal.SIGSEGV: "SEGV_MAPERR", signal.SIGABRT: "SI_TKILL",
            signal.SIGFPE: "FPE_INTDIV", signal.SIGILL: "ILL_ILLOPN"}
CODE_NUMBER = {"SEGV_MAPERR": 1, "SEGV_ACCERR": 2, "SI_TKILL": -6, "FPE_INTDIV": 1,
               "ILL_ILLOPN": 2}
REGISTERS = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11",
             "r12", "r13", "r14", "r15", "rip", "eflags"}


# ---------------------------------------------------------------------------
# Cases


class Case:
    def __init__(self, prog, args=(), sig=signal.SIGSEGV, expect=(), fault_thread_name=None,
                 thread_count=1, worker=False, parked=None, libc_top=False, bt_limit=None,
                 no_ptrace=False, extra_modules=(), fault_addr="zero", codes=None,
                 abort_text=None, cxx_type=None, cxx_what=None, nameless_in=(),
                 guessed_caller=False, guessed=(), gdb_hides_inline=0,
                 gdb_truncated_call_lines=(), gdb_prog=None, generated=False, no_cfi=()):
        self.prog = prog
        # Where gdb is wrong (issue 11), the stack compared with the report
        # is the true one, which llvm-symbolizer --inlines confirms at the
        # report's frame 0 (check_truth):
        # - gdb_hides_inline=N: the faulting pc is the first instruction of
        #   N nested inline blocks, and gdb shows none of them (its frame #0
        #   is their outermost caller, at the outermost block's call line).
        #   expect names all frames, the N hidden ones first.
        # - gdb_truncated_call_lines: indexes into expect of the frames
        #   whose line is an inlined call's DW_AT_call_line above 65535,
        #   which gdb shows modulo 65536 (asserted, as a self-check).
        self.gdb_hides_inline = gdb_hides_inline
        self.gdb_truncated_call_lines = tuple(gdb_truncated_call_lines)
        # gdb runs this program instead (same code, byte for byte): gdb
        # cannot read prog's debug information.
        self.gdb_prog = gdb_prog
        # expect's files are generated at build time into the progs build
        # directory, not in the source tree.
        self.generated = generated
        self.args = list(args)
        # frame 0 is at pc 0 (a call through NULL) and frame 1, its caller,
        # was found at the stack pointer: "guessed_frame": true on it alone
        self.guessed_caller = guessed_caller
        # The crashing thread's frames (indices) found by scanning the stack
        # past a function without CFI: exactly these say "guessed_frame".
        self.guessed = list(guessed)
        # (gdb_prog, above, is also where gdb gets the CFI that prog lacks:
        # gdb's stack is then the truth, which its heuristics alone cannot
        # give.)
        # Functions that must have no CFI in prog (.eh_frame, .debug_frame)
        # and must have it in gdb_prog: a self-check that the case tests
        # what it says.
        self.no_cfi = list(no_cfi)
        self.sig = sig
        # Our own frames of the crashing thread, innermost first, as
        # (function, source file, marker or None, inlined): a self-check of
        # the programs and of the gdb parser.
        self.expect = list(expect)
        self.fault_thread_name = fault_thread_name or prog[:15]
        self.thread_count = thread_count  # process.thread.count
        self.worker = worker  # the faulting thread is not the main thread (tid != pid)
        # thread name -> (function, file, marker): where a parked thread waits
        self.parked = parked or {}
        self.libc_top = libc_top  # also compare gdb's frame #0 (in glibc)
        self.bt_limit = bt_limit  # compare only the innermost N frames
        # ptrace denied: the report holds the crashing thread alone
        self.no_ptrace = no_ptrace
        self.extra_modules = list(extra_modules)  # files in the progs dir
        # fault.address: "zero" (a NULL access), "pc" (the faulting
        # instruction: SIGFPE, SIGILL), "sp" (overflow: the prologue's spill,
        # next to the stack pointer), None (a signal sent by kill/abort: no
        # fault address)
        self.fault_addr = fault_addr
        self.codes = codes or (SIG_CODE[sig],)  # signal.code: one of these
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


def _frames(prog, *rows, ext=".c"):
    """(function, marker[, inlined][, file]) rows -> Case.expect."""
    out = []
    for r in rows:
        func, marker = r[0], r[1]
        inlined = r[2] if len(r) > 2 else False
        out.append((func, r[3] if len(r) > 3 else prog + ext, marker, inlined))
    return out


ASSERT_TEXT = (r"^abort_assert: /\S+/abort_assert\.c:\d+: check_count: "
               r"Assertion `count == 0' failed\.$")
ASSERT_FRAMES = _frames("abort_assert", ("check_count", "@fault"), ("run_checks", "@call"),
                        ("main", "@main"))
PARKED = {"thr-park-a": ("park_a", "threads.c", "@park_a"),
          "thr-park-b": ("park_b", "threads.c", "@park_b")}
OVERFLOW = dict(codes=("SEGV_MAPERR", "SEGV_ACCERR"), bt_limit=32, fault_addr="sp")
CXX = dict(sig=signal.SIGABRT, fault_addr=None, nameless_in=["libstdc++.so"])

RUST_O0 = _frames(
    "rust_fault", ("rust_fault::inner_store", "@fault", True),
    ("rust_fault::outer_store", "@outer", True), ("rust_fault::generic_level<i32>", "@generic"),
    ("rust_fault::with_closure::{closure#0}", "@closure"),
    ("rust_fault::call_with<rust_fault::with_closure::{closure_env#0}>", "@call_with"),
    ("rust_fault::with_closure", "@closure"), ("rust_fault::level1", "@level1"),
    ("rust_fault::main", "@main"), ext=".rs")

NULL_WRITE = _frames("null_write", ("level3", "@fault"), ("level2", "@call2"),
                     ("level1", "@call1"), ("main", "@main"))
NULL_WRITE_INLINED = _frames("null_write", ("level3", "@fault", True), ("level2", "@call2", True),
                             ("level1", "@call1", True), ("main", "@main"))
INLINE_FAULT = _frames("inline_fault", ("inner_store", "@fault", True),
                       ("outer_store", "@outer", True), ("crash_here", "@crash_here"),
                       ("main", "@main"))
# units_lto: main inlines handle() (lto_parse.c), parse_item inlines
# store_value() and its poke() (lto_store.c).
UNITS_LTO = _frames("lto", ("poke", "@fault", True, "lto_store.c"),
                    ("store_value", "@store", True, "lto_store.c"),
                    ("parse_item", "@parse", False, "lto_parse.c"),
                    ("handle", "@handle", True, "lto_parse.c"),
                    ("main", "@main", False, "lto_main.c"))
BIG_LINES = _frames("big_lines", ("inner_store", "@fault", True), ("outer_store", "@outer", True),
                    ("crash_here", "@crash_here"), ("main", "@main"))
LTO_CXX = _frames("lto_cxx", ("geo::Grid<int>::put", "@fault", True, "lto_cxx_grid.cpp"),
                  ("geo::Painter::stroke", "@stroke", True, "lto_cxx_paint.cpp"),
                  ("geo::run_scene", "@scene", False, "lto_cxx_paint.cpp"),
                  ("main", "@main", False, "lto_cxx_main.cpp"))
# The same units without LTO: only poke() is inlined.
SPLIT_UNITS = _frames("lto", ("poke", "@fault", True, "lto_store.c"),
                      ("store_value", "@store", False, "lto_store.c"),
                      ("parse_item", "@parse", False, "lto_parse.c"),
                      ("handle", "@handle", False, "lto_parse.c"),
                      ("main", "@main", False, "lto_main.c"))

CASES = {
    "null_write": Case("null_write", expect=_frames(
        "null_write", ("level3", "@fault"), ("level2", "@call2"), ("level1", "@call1"),
        ("main", "@main"))),
    "inline_fault": Case("inline_fault", expect=_frames(
        "inline_fault", ("inner_store", "@fault", True), ("outer_store", "@outer", True),
        ("crash_here", "@crash_here"), ("main", "@main"))),
    "abort_call": Case("abort_call", sig=signal.SIGABRT, fault_addr=None, expect=_frames(
        "abort_call", ("give_up", "@fault"), ("main", "@main"))),
    "div_zero": Case("div_zero", sig=signal.SIGFPE, fault_addr="pc", expect=_frames(
        "div_zero", ("divide", "@fault"), ("main", "@main"))),
    "builtin_trap": Case("builtin_trap", sig=signal.SIGILL, fault_addr="pc", expect=_frames(
        "builtin_trap", ("trap_now", "@fault"), ("main", "@main"))),
    "threads_main": Case(
        "threads", args=["main"], fault_thread_name="thr-main", thread_count=3, parked=PARKED,
        expect=_frames("threads", ("main_crash", "@fault_main"), ("main", "@main_call"))),
    "threads_worker": Case(
        "threads", args=["worker"], fault_thread_name="thr-faulter", thread_count=4,
        worker=True, parked=dict(PARKED, **{"thr-main": ("main", "threads.c", "@main_join")}),
        expect=_frames("threads", ("worker_crash", "@fault_worker"), ("faulter", "@faulter"))),
    "dlopen_fault": Case("dlopen_fault", extra_modules=["libfaulty.so"], expect=_frames(
        "libfaulty", ("faulty_inner", "@fault"), ("faulty_entry", "@entry"),
        ("main", "@main", False, "dlopen_fault.c"))),
    "cxx_method": Case("cxx_method", expect=_frames(
        "cxx_method", ("shapes::Canvas::paint", "@fault"), ("shapes::Canvas::fill", "@fill"),
        ("main", "@main"), ext=".cpp")),
    "stack_overflow": Case("stack_overflow", **OVERFLOW, expect=_frames(
        "stack_overflow", ("recurse", None),  # the prologue's spill
        ("recurse", "@recurse"), ("recurse", "@recurse"))),
    "thread_overflow": Case(
        "thread_overflow", **OVERFLOW, fault_thread_name="ovf-worker", thread_count=2,
        worker=True, expect=_frames("thread_overflow", ("t_recurse", None),  # the spill
                                    ("t_recurse", "@recurse"), ("t_recurse", "@recurse"))),
    "threads8": Case(
        "threads8", fault_thread_name=r"re:^racer-[0-7]$", thread_count=9, worker=True,
        expect=_frames("threads8", ("crash_now", "@fault"), ("racer", "@racer"))),
    # DWARF 4 (gcc's default is 5): .debug_ranges, .debug_loc, v4 line tables.
    "null_write_dwarf4": Case("null_write_dwarf4", expect=_frames(
        "null_write", ("level3", "@fault"), ("level2", "@call2"), ("level1", "@call1"),
        ("main", "@main"))),
    "inline_fault_dwarf4": Case("inline_fault_dwarf4", expect=_frames(
        "inline_fault", ("inner_store", "@fault", True), ("outer_store", "@outer", True),
        ("crash_here", "@crash_here"), ("main", "@main"))),
    # clang emits no .debug_aranges: the units are found by their ranges.
    "null_write_clang": Case("null_write_clang", fault_thread_name="null_write_clan",
                             expect=_frames("null_write", ("level3", "@fault"),
                                            ("level2", "@call2"), ("level1", "@call1"),
                                            ("main", "@main"))),
    "inline_fault_clang": Case("inline_fault_clang", expect=_frames(
        "inline_fault", ("inner_store", "@fault", True), ("outer_store", "@outer", True),
        ("crash_here", "@crash_here"), ("main", "@main"))),
    "call_null_clang": Case("call_null_clang", guessed_caller=True, expect=_frames(
        "call_null", ("dispatch", "@fault"), ("main", "@main"))),
    # clang at -O0 and -O2, DWARF 5 (its default) and 4 (.debug_ranges, v4
    # line tables). At -O0 the always_inline helpers are still inlined.
    "null_write_clang_dwarf4": Case("null_write_clang_dwarf4", expect=NULL_WRITE),
    "inline_fault_clang_o0": Case("inline_fault_clang_o0", expect=INLINE_FAULT),
    "inline_fault_clang_o0_dwarf4": Case("inline_fault_clang_o0_dwarf4", expect=INLINE_FAULT),
    "inline_fault_clang_dwarf4": Case("inline_fault_clang_dwarf4", expect=INLINE_FAULT),
    # At -O2 clang inlines level1 -> level2 -> level3 into main, and the
    # faulting store (main+0x2c) is the first instruction of all three
    # inline blocks (llvm-dwarfdump: DW_AT_low_pc of each is the pc). gdb
    # hides all three: its only frame is "main at null_write.c:33" (level1's
    # call line). The true stack, as llvm-symbolizer --inlines gives it:
    # level3 :13, level2 :19, level1 :25 (all inlined), main :33.
    "null_write_clang_o2": Case("null_write_clang_o2", gdb_hides_inline=3,
                                expect=NULL_WRITE_INLINED),
    "null_write_clang_o2_dwarf4": Case("null_write_clang_o2_dwarf4", gdb_hides_inline=3,
                                       expect=NULL_WRITE_INLINED),
    # The same with gcc -O2 (main+0x2c again); eu-addr2line -i, which
    # finds gcc's unit through its .debug_aranges, agrees with
    # llvm-symbolizer: level3 :13, level2 :19, level1 :25, main :33.
    "null_write_o2": Case("null_write_o2", gdb_hides_inline=3, expect=NULL_WRITE_INLINED),
    # gcc -O2 -flto over three units (lto_units.h): every inline frame's
    # DIE refers through DW_AT_abstract_origin into another unit.
    "units_lto": Case("units_lto", expect=UNITS_LTO),
    # -flto-partition=max: seven units, each function's code in its own.
    "units_lto_max": Case("units_lto_max", expect=UNITS_LTO),
    # The same in C++ (lto_cxx.h): a member of a class template,
    # instantiated in lto_cxx_grid.cpp, inlined into a method of a class in
    # namespace geo in lto_cxx_paint.cpp; names as gdb gives them.
    "lto_cxx": Case("lto_cxx", expect=LTO_CXX),
    "lto_cxx_dwarf4": Case("lto_cxx_dwarf4", expect=LTO_CXX),
    # -gsplit-dwarf (gcc -O2): the inline blocks are only in the .dwo that
    # the skeleton unit names (progs/<prog>.d/<unit>.dwo), DWARF 5
    # (DW_UT_skeleton, DW_AT_dwo_name) and 4 (GNU: DW_AT_GNU_dwo_name).
    "split_dwarf": Case("split_dwarf", expect=INLINE_FAULT),
    "split_dwarf4": Case("split_dwarf4", expect=INLINE_FAULT),
    "split_units": Case("split_units", expect=SPLIT_UNITS),
    # The .dwo files packed into split_dwp.dwp beside the executable and
    # deleted. binutils 2.40's dwp handles DWARF 4 only (it crashes on gcc's
    # DWARF 5 .dwo files), so split_dwp is DWARF 4 ...
    "split_dwp": Case("split_dwp", expect=SPLIT_UNITS),
    # ... and split_dwp5, DWARF 5, is packed by llvm-dwp. gdb 13 itself
    # crashes reading that .dwp (internal error, SIGSEGV), so gdb runs
    # split_units instead: the same objects linked the same way, whose
    # code is identical (only the skeletons' comp_dir differ).
    "split_dwp5": Case("split_dwp5", gdb_prog="split_units", expect=SPLIT_UNITS),
    # clang's .dwo (DWARF 5 and 4), and a .dwp of DWARF 5 by llvm-dwp,
    # which gdb 13 cannot read either (it crashes): gdb runs split_clang.
    "split_clang": Case("split_clang", expect=INLINE_FAULT),
    "split_clang_dwarf4": Case("split_clang_dwarf4", expect=INLINE_FAULT),
    "split_clang_dwp": Case("split_clang_dwp", gdb_prog="split_clang", expect=INLINE_FAULT),
    # Source lines above 65535 (gen_big_lines.py: inline_fault's program
    # after 70000 lines): gdb keeps only the low 16 bits of an inlined
    # call's DW_AT_call_line, so it shows outer_store at 70014 - 65536 =
    # 4478 and crash_here at 70022 - 65536 = 4486 (llvm-dwarfdump:
    # DW_AT_call_line 70014 and 70022; llvm-symbolizer agrees). Frame 0's
    # and main's lines come from the line table, which gdb reads right.
    "big_lines": Case("big_lines", generated=True, gdb_truncated_call_lines=(1, 2),
                      expect=BIG_LINES),
    # The same source built by clang (no .debug_aranges): gdb truncates
    # the same two call lines. clang, run in the build's tests/integration
    # directory, names the file in its DWARF 5 line table "big_lines.c" in
    # directory "progs", which is relative to DW_AT_comp_dir
    # (include_directories[0]): the path is comp_dir/progs/big_lines.c, as
    # gdb and llvm-symbolizer show it.
    "big_lines_clang": Case("big_lines_clang", generated=True, gdb_truncated_call_lines=(1, 2),
                            expect=BIG_LINES),
    # A call through NULL: frame 0 is at pc 0, in no module; its caller is
    # the return address at the stack pointer, marked guessed (issue 11).
    "call_null": Case("call_null", guessed_caller=True, expect=_frames(
        "call_null", ("dispatch", "@fault"), ("main", "@main"))),
    "call_null_o2": Case("call_null_o2", guessed_caller=True, expect=_frames(
        "call_null", ("dispatch", "@fault"), ("main", "@main"))),
    # Functions with neither CFI nor a frame pointer (issue 11), whose
    # locals lie between the stack pointer and the return address: the
    # stack is scanned for a return address after a call, into a function,
    # and the frame found is marked guessed. gdb on the stripped program
    # takes the word at the stack pointer for the return address (its
    # amd64 prologue analysis finds no push %rbp) and shows "??" or
    # frame_dummy; gdb on frameless_cfi, the same program with its
    # .debug_frame, is the reference.
    "frameless_self": Case(
        "frameless", args=["self"], gdb_prog="frameless_cfi", no_cfi=["fl_fault", "fl_call"],
        guessed=[1], expect=_frames("frameless", ("fl_fault", "@fl_fault", False,
                                                  "frameless_fns.c"),
                                    ("level1", "@call_self"), ("main", "@main"))),
    # The control: no CFI, but a frame pointer; libdwfl's frame-pointer
    # fallback unwinds it, and nothing is guessed.
    "frameless_fp": Case(
        "frameless", args=["fp"], gdb_prog="frameless_cfi", no_cfi=["fp_fault"],
        expect=_frames("frameless", ("fp_fault", "@fp_fault", False, "frameless_fp.c"),
                       ("level1", "@call_fp"), ("main", "@main"))),
    "frameless_callee": Case(
        "frameless", args=["callee"], gdb_prog="frameless_cfi", no_cfi=["fl_fault", "fl_call"],
        guessed=[2], expect=_frames("frameless", ("target", "@target"),
                                    ("fl_call", "@fl_call", False, "frameless_fns.c"),
                                    ("level1", "@call_callee"), ("main", "@main"))),
    # Rust (issue 11), built by Debian's rustc: names as gdb gives them,
    # the namespaces and DW_AT_name (generic arguments and {closure#0}
    # included). gdb's frame #0 at -O0 is core::ptr::write_volatile<i32>
    # (its file is rustc's library source, not ours: only its name is
    # compared). gdb stops at rust_fault::main; our frames below it
    # (std::rt::lang_start and its closures, in std's source files, then
    # the C main and libc) are not our source, so they are not compared,
    # as libc's frames below a C main are not.
    "rust_fault": Case("rust_fault", expect=RUST_O0),
    "rust_fault_v0": Case("rust_fault_v0", expect=RUST_O0),
    # At -O2 write_volatile's inline block starts at the faulting pc, which
    # gdb hides (frame #0 is inner_store at the block's call line, 11). The
    # true frame 0 is core::ptr::write_volatile<i32>, inlined, in rustc's
    # library source (llvm-symbolizer --inlines and eu-addr2line -i agree:
    # library/core/src/ptr/mod.rs:1574 with Debian's rustc 1.63; its file
    # and line are taken from llvm-symbolizer, not compared with a marker).
    # The tail calls level1 -> with_closure and call_with -> closure leave
    # no frame of their own.
    "rust_fault_o2": Case("rust_fault_o2", gdb_hides_inline=1, expect=_frames(
        "rust_fault", ("core::ptr::write_volatile<i32>", None, True, None),
        ("rust_fault::inner_store", "@fault", True),
        ("rust_fault::outer_store", "@outer", True),
        ("rust_fault::generic_level<i32>", "@generic"), ("rust_fault::with_closure", "@closure"),
        ("rust_fault::main", "@main"), ext=".rs")),
    "libc_strlen": Case("libc_strlen", libc_top=True, expect=_frames(
        "libc_strlen", ("measure", "@call"), ("main", "@main"))),
    "seccomp_null": Case("seccomp_null", thread_count=2, no_ptrace=True, expect=_frames(
        "seccomp_null", ("sc_level3", "@fault"), ("sc_level2", "@call2"),
        ("sc_level1", "@call1"), ("main", "@main"))),
    # glibc's abort messages (issue 5, point 3), from __abort_msg.
    "abort_assert": Case("abort_assert", sig=signal.SIGABRT, fault_addr=None,
                         abort_text=ASSERT_TEXT, expect=ASSERT_FRAMES),
    "abort_assert_noptrace": Case(
        "abort_assert", args=["noptrace"], sig=signal.SIGABRT, fault_addr=None, no_ptrace=True,
        abort_text=ASSERT_TEXT, expect=ASSERT_FRAMES),
    # process_vm_readv denied: the message comes from PTRACE_PEEKDATA.
    "abort_assert_novmread": Case(
        "abort_assert", args=["novmread"], sig=signal.SIGABRT, fault_addr=None,
        abort_text=ASSERT_TEXT, expect=ASSERT_FRAMES),
    "abort_double_free": Case(
        "abort_double_free", sig=signal.SIGABRT, fault_addr=None,
        abort_text=r"^free\(\): double free detected in tcache 2$",
        expect=_frames("abort_double_free", ("release", "@fault"), ("main", "@main"))),
    "abort_fortify": Case(
        "abort_fortify", sig=signal.SIGABRT, fault_addr=None,
        abort_text=r"^\*\*\* buffer overflow detected \*\*\*: terminated$",
        expect=_frames("abort_fortify", ("copy_name", "@fault"), ("main", "@main"))),
    "abort_stack_smash": Case(
        "abort_stack_smash", sig=signal.SIGABRT, fault_addr=None,
        abort_text=r"^\*\*\* stack smashing detected \*\*\*: terminated$",
        expect=_frames("abort_stack_smash", ("smash", "@fault"), ("main", "@main"))),
    # Uncaught C++ exceptions (issue 5, point 4), named by the interposed
    # __cxa_throw's note. gdb's frames in libstdc++ are not compared.
    "cxx_uncaught_main": Case(
        "cxx_uncaught", args=["main"], **CXX, cxx_type="std::runtime_error", cxx_what="boom",
        expect=_frames("cxx_uncaught", ("fail_hard", "@fault"), ("main", "@call_main"),
                       ext=".cpp")),
    "cxx_uncaught_thread": Case(
        "cxx_uncaught", args=["thread"], **CXX, thread_count=2, worker=True,
        cxx_type="std::runtime_error", cxx_what="boom",
        expect=_frames("cxx_uncaught", ("fail_hard", "@fault"), ("worker", "@worker"),
                       ext=".cpp")),
    "cxx_uncaught_custom": Case(
        "cxx_uncaught", args=["custom"], **CXX, cxx_type="app::config_error",
        cxx_what="bad config",
        expect=_frames("cxx_uncaught", ("fail_hard", "@custom"), ("main", "@call_custom"),
                       ext=".cpp")),
    "cxx_uncaught_stale": Case(
        "cxx_uncaught", args=["stale"], sig=signal.SIGABRT, fault_addr=None,
        expect=_frames("cxx_uncaught", ("caught_then_abort", "@stale"),
                       ("main", "@call_stale"), ext=".cpp")),
}


# ---------------------------------------------------------------------------
# Running programs


# ---------------------------------------------------------------------------
# gdb


# ---------------------------------------------------------------------------
# Helpers


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


def elf_section(path, name):
    """(sh_addr, contents) of the ELF64 section @name of @path, or None."""
    with open(path, "rb") as f:
        data = f.read()
    e_shoff, = struct.unpack_from("<Q", data, 0x28)
    e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def header(i):
        off = e_shoff + i * e_shentsize
        sh_name, = struct.unpack_from("<I", data, off)
        sh_addr, sh_offset, sh_size = struct.unpack_from("<QQQ", data, off + 0x10)
        return sh_name, sh_addr, sh_offset, sh_size
    strtab = header(e_shstrndx)[2]
    for i in range(e_shnum):
        sh_name, sh_addr, sh_offset, sh_size = header(i)
        end = data.index(b"\0", strtab + sh_name)
        if data[strtab + sh_name:end] == name.encode():
            return sh_addr, data[sh_offset:sh_offset + sh_size]
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


def hex_int(v):
    return int(v, 16) if isinstance(v, str) and HEX.match(v) else None


HEX = re.compile(r"^0x[0-9a-f]+$")
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def machine_facts(build):
    """The automatic attributes whose values the machine tells (sysinfo.c)."""
    u = os.uname()
    facts = {"hostname": socket.gethostname(), "uname.sysname": u.sysname,
             "uname.release": u.release, "uname.version": u.version,
             "uname.machine": u.machine, "cpu.arch": "x86_64", "cpu.count": os.cpu_count(),
             "backtrace.agent": "btcrash", "guid": None, "cpu.brand": None}
    # The machine id the way backtrace-python reads it: D-Bus's copy first.
    for p in ("/var/lib/dbus/machine-id", "/etc/machine-id"):
        if os.path.exists(p):
            with open(p) as f:
                facts["guid"] = "".join(f.read().split()).lower() or None
            if facts["guid"]:
                break
    with open("/proc/cpuinfo") as f:
        brands = re.findall(r"^model name[^:]*:[ \t]*(.*)$", f.read(), re.M)
    facts["cpu.brand"] = brands[0] if brands else None
    with open(os.path.join(build.root, "CMakeCache.txt")) as f:
        facts["backtrace.version"] = re.search(r"^CMAKE_PROJECT_VERSION:STATIC=(.*)$", f.read(),
                                               re.M).group(1)
    return facts


# ---------------------------------------------------------------------------
# Checks


def own_file(path, roots):
    return any(is_own(path, r) for r in roots)


def check_gdb_side(c, case, roots, gdb_sig, gframes, gdb_out):
    """Self-check: gdb saw the intended signal and the frames the program's
    markers name (less the inline frames it hides, with the call lines it
    truncates). A failure here is a test bug, not a product bug."""
    c.eq(gdb_sig, case.sig.name, "[harness self-check] the signal gdb saw")
    own = [f for f in gframes if own_file(f.file, roots)]
    shown = case.expect[case.gdb_hides_inline:]
    if not c(len(own) >= len(shown),
             "[harness self-check] gdb shows %d own frames, expected >= %d\n%s" % (
                 len(own), len(shown), gdb_out[-3000:])):
        return
    for i, (func, file, marker, inlined) in enumerate(shown):
        f = own[i]
        path = os.path.join(roots[-1], file)
        want_line = marker_line(path, marker) if marker else f.line
        if i + case.gdb_hides_inline in case.gdb_truncated_call_lines:
            c(want_line > 0xffff, "[harness self-check] expect[%d] (%s) is said to be "
              "truncated by gdb, but its line %d fits in 16 bits" % (
                  i + case.gdb_hides_inline, func, want_line))
            want_line &= 0xffff  # what gdb shows
        ok = (f.func == func and norm(f.file) == path and f.line == want_line
              and (f.inlined is None or f.inlined == inlined))
        c(ok, "[harness self-check] gdb own frame %d: got %r, expected %s at %s:%s%s" % (
            i, f, func, file, want_line, " [inlined]" if inlined else ""))


def true_stack(case, roots, gframes, chain):
    """gdb's frames made true where gdb is known to be wrong: the inline
    frames it hides put back on top, the call lines it truncates restored,
    from the program's markers (check_truth confirms them with @chain). A
    hidden frame in a file not ours (marker None: Rust's write_volatile in
    rustc's library) takes its file and line from @chain."""
    n = case.gdb_hides_inline
    hidden = []
    for i, (func, file, marker, inlined) in enumerate(case.expect[:n]):
        if marker is None:
            path, line = (chain[i][1], chain[i][2]) if chain and i < len(chain) else (None, None)
        else:
            path = os.path.join(roots[-1], file)
            line = marker_line(path, marker)
        hidden.append(Frame(func, path, line, inlined, "(hidden by gdb)"))
    out = hidden + list(gframes)
    own = [i for i, f in enumerate(out) if own_file(f.file, roots)]
    shift = sum(1 for f in hidden if not own_file(f.file, roots))
    for j in case.gdb_truncated_call_lines:
        func, file, marker, inlined = case.expect[j]
        k = own[j - shift]
        f = out[k]
        line = marker_line(os.path.join(roots[-1], file), marker)
        out[k] = Frame(f.func, f.file, line, f.inlined, f.raw + " (gdb truncates the call "
                       "line %d to %d)" % (line, f.line))
    if n and len(out) > n and out[n].inlined is None:
        out[n] = Frame(out[n].func, out[n].file, out[n].line, case.expect[n][3], out[n].raw)
    return out


def symbolizer_chain(exe, offset):
    """The inline chain at file offset @offset of @exe as llvm-symbolizer
    --inlines gives it (it reads every unit's ranges, .dwo and .dwp, and
    keeps 32-bit call lines): [(function, file, line)], innermost first."""
    tool = shutil.which("llvm-symbolizer")
    if not tool:
        return None
    r = subprocess.run([tool, "--inlines", "--demangle", "--obj=" + exe, "%#x" % offset],
                       capture_output=True, text=True, timeout=60)
    lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
    out = []
    for fn, loc in zip(lines[0::2], lines[1::2]):
        m = re.match(r"^(.*):(\d+):\d+$", loc)
        out.append((strip_params(fn), norm(m.group(1)) if m else loc,
                    int(m.group(2)) if m else None))
    return out


def report_chain(c, case, exe, rep):
    """Where gdb is wrong: the inline chain (symbolizer_chain) at the
    report's frame 0, placed by its offset in @exe's module. Else None."""
    if not (case.gdb_hides_inline or case.gdb_truncated_call_lines):
        return None
    stack = (as_dict(rep.get("threads")).get(rep.get("mainThread")) or {}).get("stack") or []
    top = as_dict(stack[0] if stack else None)
    mods = [m for m in rep.get("modules") or [] if isinstance(m, dict) and
            isinstance(m.get("code_file"), str) and
            os.path.realpath(m["code_file"]) == os.path.realpath(exe)]
    pc = hex_int(top.get("address"))
    if not c(mods and pc is not None and is_int(mods[0].get("start")),
             "[harness self-check] cannot place the report's frame 0 in %s" % exe):
        return None
    chain = symbolizer_chain(exe, pc - mods[0]["start"])
    c(chain, "[harness self-check] llvm-symbolizer (package llvm) gave no inline chain at "
      "%s+%#x" % (exe, pc - mods[0]["start"]))
    return chain


def plain_name(name):
    """A function's name without generic arguments nor Rust's hash, to
    compare llvm-symbolizer's (demangled linkage names) with gdb's (DWARF
    names): "core::ptr::write_volatile::h0123456789abcdef" and
    "core::ptr::write_volatile<i32>" are both "core::ptr::write_volatile"."""
    name = re.sub(r"::h[0-9a-f]{16}$", "", name or "")
    while True:
        shorter = re.sub(r"<[^<>]*>", "", name)
        if shorter == name:
            return name
        name = shorter


def check_truth(c, case, truth, chain):
    """Where gdb is wrong, the true stack's innermost frames are confirmed
    by llvm-symbolizer at the report's frame 0: the whole inline chain
    there, with 32-bit lines. (eu-addr2line -i would do for gcc's units
    with .debug_aranges, but not for clang's, which have none, nor for a
    .dwo's inline blocks.)"""
    if not chain:
        return
    want = [(plain_name(f.func), norm(f.file), f.line) for f in truth[:len(chain)]]
    got = [(plain_name(f), p, n) for f, p, n in chain]
    c.eq(got, want, "[harness self-check] the true stack's innermost frames (gdb corrected) "
         "vs llvm-symbolizer --inlines at the report's frame 0")


def check_guessed(c, case, rep):
    """Only a frame found by a heuristic says "guessed_frame": for a call
    through NULL, frame 1 (the return address at the stack pointer) after a
    frame 0 at address 0x0 in no module; past a function without CFI, the
    caller the scan found (case.guessed); elsewhere, no frame."""
    stack = (as_dict(rep.get("threads")).get(rep.get("mainThread")) or {}).get("stack") or []
    guessed = [i for i, f in enumerate(stack) if f.get("guessed_frame")]
    if not case.guessed_caller:
        c.eq(guessed, case.guessed, "frames marked guessed_frame (%s)" % (
            "the callers found by scanning past a function without CFI" if case.guessed
            else "all were found by CFI"))
        return
    c.eq(guessed, [1], "frames marked guessed_frame: the caller found at the stack pointer")
    if len(stack) >= 2:
        c.eq((stack[0].get("address"), stack[0].get("funcName"), stack[0].get("library")),
             ("0x0", None, None), "frame 0 of a call through NULL: address 0, no function, "
             "no module")
        c.eq(stack[1].get("funcName"), "dispatch", "frame 1: the caller of the NULL pointer")


def fde_ranges(path):
    """The [start, end) pc ranges of the FDEs in @path's .eh_frame and
    .debug_frame, as readelf lists them."""
    out = subprocess.run(["readelf", "--debug-dump=frames", path], capture_output=True,
                         text=True, check=True).stdout
    return [(int(a, 16), int(b, 16)) for a, b in
            re.findall(r"\bFDE\b.*\bpc=([0-9a-f]+)\.\.([0-9a-f]+)", out)]


def check_no_cfi(c, case, progs):
    """Self-check: case.no_cfi's functions have no FDE in the program, and
    have one in gdb's twin of it."""
    prog, twin = os.path.join(progs, case.prog), os.path.join(progs, case.gdb_prog)
    syms = subprocess.run(["nm", prog], capture_output=True, text=True, check=True).stdout
    addr = {m.group(2): int(m.group(1), 16)
            for m in re.finditer(r"^([0-9a-f]+) [Tt] (\w+)$", syms, re.M)}
    mine, theirs = fde_ranges(prog), fde_ranges(twin)
    for fn in case.no_cfi:
        if not c(fn in addr, "[harness self-check] %s has no symbol %s" % (case.prog, fn)):
            continue
        a = addr[fn]
        c(not any(lo <= a < hi for lo, hi in mine),
          "[harness self-check] %s has CFI for %s (%#x): the build did not strip it" % (
              case.prog, fn, a))
        c(any(lo <= a < hi for lo, hi in theirs),
          "[harness self-check] %s has no CFI for %s (%#x): gdb's reference would guess" % (
              case.gdb_prog, fn, a))


def compare_stacks(c, case, roots, gframes, rframes, what="crashing thread"):
    """The crashing thread's frames in our own code (plus glibc's frame #0 for
    libc_strlen) must equal gdb's, one for one, in order."""
    if case.bt_limit:
        rframes = rframes[:len(gframes)]

    def select(frames):
        return [f for i, f in enumerate(frames)
                if own_file(f.file, roots) or (case.libc_top and i == 0)]

    g = select(gframes)
    r = select(rframes)
    problems = []
    for i in range(max(len(g), len(r))):
        if i >= len(g) or i >= len(r):
            problems.append("frame %d: gdb %r, report %r" % (
                i, g[i] if i < len(g) else None, r[i] if i < len(r) else None))
            continue
        gf, rf = g[i], r[i]
        own = own_file(gf.file, roots)
        file_ok = norm(rf.file) == norm(gf.file) if own else foreign_path_matches(rf.file, gf.file)
        if gf.func != rf.func or not file_ok or gf.line != rf.line:
            problems.append("frame %d: gdb %r, report %r" % (i, gf, rf))
        elif gf.inlined is not None and gf.inlined != rf.inlined:
            problems.append("frame %d (%s): gdb says inlined=%s, report says inlined=%s" % (
                i, gf.func, gf.inlined, rf.inlined))
    wrong = case.gdb_hides_inline or case.gdb_truncated_call_lines
    title = "gdb, corrected" if wrong else "gdb"
    c(not problems, "%s's stack differs from %s's:\n  %s\nfull stacks (%s | report):\n%s" % (
        what, title, "\n  ".join(problems), title,
        format_stacks(title, gframes, "report", rframes)))


def check_db(c, db, what):
    """Exactly one report, <uuid>.json with its <uuid>.state; 0700/0600.
    Returns (report, path) or (None, path)."""
    if not c(os.path.isdir(db), "%scrash database %s was not created" % (what, db)):
        return None, None
    c.eq(oct(stat.S_IMODE(os.stat(db).st_mode)), oct(0o700),
         "%sdatabase directory mode (DESIGN §6)" % what)
    entries = sorted(os.listdir(db))
    jsons = [e for e in entries if e.endswith(".json")]
    if not c(len(jsons) == 1, "%sexpected exactly one report in the database, found %d: %r"
             % (what, len(jsons), entries)) and not jsons:
        return None, None
    path = os.path.join(db, jsons[0])
    c.eq(oct(stat.S_IMODE(os.stat(path).st_mode)), oct(0o600),
         "%sreport file mode (DESIGN §6)" % what)
    uuid = jsons[0][:-5]
    c(os.path.exists(os.path.join(db, uuid + ".state")),
      "%sno %s.state next to the report; database holds %r" % (what, uuid, entries))
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        c.fail("%sreport is not valid UTF-8: %s" % (what, e))
        text = raw.decode("utf-8", "replace")
    try:
        report = json.loads(text)
    except ValueError as e:
        c.fail("%sreport is not valid JSON: %s" % (what, e))
        return None, path
    if not c(isinstance(report, dict), "%sreport is not a JSON object" % what):
        return None, path
    c.eq(report.get("uuid"), uuid, "%sreport uuid vs file name" % what)
    return report, path


def expected_texts(c, case, attrs, top, abort_text):
    """(signal.code, the signal's description, error.message) that the report
    must hold; the fault address is checked here."""
    code = attrs.get("signal.code")
    c(code in case.codes, "attributes['signal.code'] = %r, expected one of %r" % (
        code, case.codes))
    code = code if code in case.codes else case.codes[0]
    regs = as_dict(top.get("registers"))
    fa = hex_int(attrs.get("fault.address"))
    if case.fault_addr is None:
        desc = "%s (%s) raised by the process itself" % (case.sig.name, code)
        c("fault.address" not in attrs, "attributes['fault.address'] = %r for a signal the "
          "process raised (no fault address)" % attrs.get("fault.address"))
    else:
        want = {"zero": 0, "pc": hex_int(top.get("address")), "sp": fa}[case.fault_addr]
        if case.fault_addr == "sp":
            # The overflowing frame's prologue spills next to the new stack pointer.
            sp = hex_int(regs.get("rsp"))
            c(fa is not None and sp is not None and abs(fa - sp) <= 4096,
              "attributes['fault.address'] = %r is not within a page of the top frame's rsp %r"
              % (attrs.get("fault.address"), regs.get("rsp")))
        want = "%#x" % want if want is not None else None
        c.eq(attrs.get("fault.address"), want, "attributes['fault.address']")
        desc = "%s (%s) at %s" % (case.sig.name, code, want)
    if case.cxx_type:
        msg = case.cxx_type + (": " + case.cxx_what if case.cxx_what else "")
    else:
        msg = abort_text if abort_text is not None else desc
    return code, desc, msg


def check_report(c, case, src, progs, report, r1, cwd, started, facts, abort_text):
    signame = case.sig.name
    pid = r1.pid

    # -- required top-level fields and types (DESIGN §3)
    uuid = report.get("uuid")
    c(isinstance(uuid, str) and UUID4.match(uuid), "uuid %r is not a random (v4) UUID" % uuid)
    ts = report.get("timestamp")
    if c(is_int(ts), "timestamp %r is not an integer" % (ts,)):
        c(started - 5 <= ts <= time.time() + 5,
          "timestamp %d is not the crash time (now %d)" % (ts, time.time()))
    c.eq(report.get("lang"), "c", "lang")
    c(isinstance(report.get("langVersion"), str) and report["langVersion"],
      "langVersion missing or not a string: %r" % (report.get("langVersion"),))
    c.eq(report.get("agent"), "btcrash", "agent")
    c.eq(report.get("agentVersion"), facts["backtrace.version"], "agentVersion")
    c.eq(report.get("classifiers"), [case.cxx_type or signame], "classifiers")
    for key, typ in (("threads", dict), ("attributes", dict), ("annotations", dict),
                     ("sourceCode", dict), ("modules", list), ("mainThread", str)):
        c(isinstance(report.get(key), typ), "%s missing or not a %s: %r" % (
            key, typ.__name__, type(report.get(key)).__name__))

    # -- every string valid UTF-8
    for where, s in walk_strings(report):
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:
            c.fail("string at %s is not valid UTF-8 (lone surrogate escape): %r" % (where, s[:80]))

    threads = as_dict(report.get("threads"))
    main_tid = report.get("mainThread")
    ft = as_dict(threads.get(main_tid))
    stack = ft.get("stack") if isinstance(ft.get("stack"), list) else []
    top = as_dict(stack[0] if stack else None)

    # -- attributes: present (DESIGN §3), primitive, and the values we know
    attrs = as_dict(report.get("attributes"))
    for k, v in attrs.items():
        c(v is None or isinstance(v, (str, int, float, bool)),
          "attribute %s is not a primitive: %r" % (k, v))
    required = ["error.type", "error.message", "application", "process.id", "process.cwd",
                "process.thread.count", "hostname", "uname.sysname", "uname.release",
                "uname.machine", "cpu.arch", "cpu.count", "backtrace.agent", "backtrace.version",
                "signal", "signal.code"]
    if case.fault_addr:
        required.append("fault.address")  # si_addr means something for this signal
    missing = [k for k in required if k not in attrs]
    c(not missing, "attributes missing (DESIGN §3): %s" % ", ".join(missing))
    code, desc, msg = expected_texts(c, case, attrs, top, abort_text)
    want = dict(facts, **{
        "error.type": "Crash", "error.message": msg, "signal": signame, "process.id": pid,
        "application": case.prog, "process.cwd": os.path.realpath(cwd),
        "process.thread.count": case.thread_count})
    for k, v in want.items():
        if v is None:
            c(k not in attrs, "attributes[%r] = %r: the machine has none" % (k, attrs.get(k)))
        else:
            c.eq(attrs.get(k), v, "attributes[%r]" % k)
    age = attrs.get("process.age")
    c(is_int(age) and 0 <= age <= r1.death_mono - r1.start_mono + 1,
      "attributes['process.age'] = %r: the process lived %.1f s" % (
          age, r1.death_mono - r1.start_mono))
    session = attrs.get("application.session")
    c(isinstance(session, str) and UUID4.match(session),
      "attributes['application.session'] = %r is not a v4 UUID" % (session,))

    # -- annotations
    ann = as_dict(report.get("annotations"))
    crash = ann.get("Crash")
    c(isinstance(crash, dict), "annotations.Crash missing or not an object")
    crash = as_dict(crash)
    want = {"description": desc, "signal": signame, "signal.number": int(case.sig),
            "code": code, "code.number": CODE_NUMBER[code]}
    if case.fault_addr:
        want["fault.address"] = attrs.get("fault.address")
    if code == "SI_TKILL":  # abort() sent it: the sender is the process itself
        want.update({"sender.pid": pid, "sender.uid": os.getuid()})
    for k, v in want.items():
        c.eq(crash.get(k), v, "annotations.Crash[%r]" % k)
    if not case.fault_addr:
        c("fault.address" not in crash, "annotations.Crash has a fault.address for a raised "
          "signal: %r" % crash.get("fault.address"))
    proc = ann.get("Process")
    if c(isinstance(proc, dict), "annotations.Process missing or not an object"):
        exe = os.path.join(progs, case.prog)
        for k, v in (("argv", [exe] + case.args), ("exe", os.path.realpath(exe)),
                     ("cwd", os.path.realpath(cwd)), ("pid", pid)):
            c.eq(proc.get(k), v, "annotations.Process[%r]" % k)

    # -- threads
    faulting = [k for k, t in threads.items() if isinstance(t, dict) and t.get("fault") is True]
    c(len(faulting) == 1, "exactly one thread must have fault=true, found %r" % faulting)
    c(main_tid in threads, "mainThread %r is not a key of threads %r" % (main_tid, list(threads)))
    if faulting:
        c.eq(main_tid, faulting[0], "mainThread vs the thread with fault=true")
    for k, t in threads.items():
        c(k.isdigit(), "thread key %r is not a decimal tid" % k)
        if not c(isinstance(t, dict), "thread %s is not an object" % k):
            continue
        c(isinstance(t.get("name"), str), "thread %s: name missing" % k)
        c(isinstance(t.get("fault"), bool), "thread %s: fault missing or not a bool" % k)
        c(isinstance(t.get("stack"), list), "thread %s: stack missing or not a list" % k)
        if os.path.isdir("/proc/%s/task/%s" % (pid, k)):
            c.fail("thread %s: the crashed process still exists" % k)
    if case.worker:
        c(main_tid != str(pid), "mainThread %r is the process's main thread; a worker "
          "thread crashed" % main_tid)
    else:
        c.eq(main_tid, str(pid), "mainThread of a crash in the main thread (its pid)")
    # ptrace denied: only the crashing thread can be captured.
    c.eq(len(threads), 1 if case.no_ptrace else case.thread_count,
         "number of threads in the report")
    name = ft.get("name")
    if case.fault_thread_name.startswith("re:"):
        c(isinstance(name, str) and re.match(case.fault_thread_name[3:], name),
          "faulting thread name %r does not match %s" % (name, case.fault_thread_name[3:]))
    else:
        c.eq(name, case.fault_thread_name, "faulting thread name")

    # -- frames: fields and types
    sc = as_dict(report.get("sourceCode"))
    for k, t in threads.items():
        if not isinstance(t, dict) or not isinstance(t.get("stack"), list):
            continue
        if not case.no_ptrace or k == main_tid:
            c(len(t["stack"]) > 0, "thread %s (%s) has an empty stack" % (k, t.get("name")))
        for i, fr in enumerate(t["stack"]):
            where = "thread %s frame %d" % (k, i)
            if not c(isinstance(fr, dict), "%s is not an object" % where):
                continue
            nameless_ok = (bool(case.nameless_in) and isinstance(fr.get("library"), str) and
                           os.path.basename(fr["library"]).startswith(case.nameless_in))
            # The pc 0 of a call through NULL is in no module: no name, no
            # library (check_guessed checks it is exactly that).
            unmapped = case.guessed_caller and k == main_tid and i == 0
            c(isinstance(fr.get("funcName"), str) or nameless_ok or unmapped,
              "%s: funcName missing: %r" % (where, fr))
            addr = fr.get("address")
            c(isinstance(addr, str) and HEX.match(addr),
              "%s: address %r is not a \"0x...\" string" % (where, addr))
            c(isinstance(fr.get("library"), str) or unmapped,
              "%s: library missing: %r" % (where, fr))
            for f in ("line", "column"):
                if f in fr:
                    c(is_int(fr[f]) and fr[f] >= 0, "%s: %s %r is not an integer" % (
                        where, f, fr[f]))
            if "inlined" in fr:
                c(isinstance(fr["inlined"], bool), "%s: inlined %r is not a bool" % (
                    where, fr["inlined"]))
            if is_int(fr.get("line")) and fr["line"] > 0:
                c("sourceCode" in fr, "%s (%s line %s): no sourceCode id though the line is "
                  "known" % (where, fr.get("funcName"), fr.get("line")))
            if "sourceCode" in fr:
                e = sc.get(str(fr["sourceCode"]))
                if c(isinstance(e, dict), "%s: sourceCode id %r not in sourceCode" % (
                        where, fr["sourceCode"])):
                    c(isinstance(e.get("path"), str) and e["path"],
                      "%s: sourceCode entry %r has no path" % (where, fr["sourceCode"]))
            # DESIGN §3: only the top frame of the faulting thread carries
            # the registers (and is the faulting instruction).
            if k != main_tid or i > 0:
                c("registers" not in fr, "%s (%s) carries registers; only the faulting "
                  "thread's top frame may" % (where, fr.get("funcName")))
                c("faulted" not in fr, "%s (%s) has faulted=%r; only the faulting thread's top "
                  "frame is the fault" % (where, fr.get("funcName"), fr.get("faulted")))

    # -- the top frame carries the registers
    if c(stack and isinstance(stack[0], dict), "faulting thread has no frames"):
        c.eq(top.get("faulted"), True, "the faulting thread's top frame's faulted")
        regs = top.get("registers")
        if c(isinstance(regs, dict) and regs, "top frame of the faulting thread has no "
             "registers (DESIGN §3)"):
            bad = {k: v for k, v in regs.items() if not (isinstance(v, str) and HEX.match(v))}
            c(not bad, "registers that are not hex strings: %r" % bad)
            c.eq(sorted(regs), sorted(REGISTERS), "the top frame's registers")
            c.eq(hex_int(regs.get("rip")), hex_int(top.get("address")),
                 "top frame address vs its rip register")
            c.eq(report.get("arch"), {"name": "x64", "registers": {r: "u64" for r in regs}},
                 "top-level arch (DESIGN §3): the registers' names and types")

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
        if not c(isinstance(e.get("text"), str) and is_int(e.get("startLine")),
                 "%s: sourceCode entry lacks text/startLine though the file is readable" % where):
            continue
        with open(p, encoding="utf-8", errors="replace") as f:
            file_lines = f.read().splitlines()
        text_lines = e["text"].splitlines()
        idx = fr["line"] - e["startLine"]
        want = file_lines[fr["line"] - 1] if 0 < fr["line"] <= len(file_lines) else None
        got = text_lines[idx] if 0 <= idx < len(text_lines) else None
        c(got is not None and want is not None and got.rstrip() == want.rstrip(),
          "%s: sourceCode text (startLine %d, %d lines) does not hold the frame's line: "
          "got %r, file has %r" % (where, e["startLine"], len(text_lines), got, want))

    # -- modules with build-ids
    mods = report.get("modules") if isinstance(report.get("modules"), list) else []
    by_file = {}
    for m in mods:
        if not c(isinstance(m, dict), "module entry %r is not an object" % (m,)):
            continue
        for f, typ in (("start", int), ("size", int), ("code_file", str),
                       ("debug_identifier", str), ("debug_file", str), ("debug_file_exists", bool)):
            if c(f in m, "module %r lacks %s" % (m.get("code_file"), f)) and m[f] is not None:
                c(isinstance(m[f], typ) and (typ is bool or not isinstance(m[f], bool)),
                  "module %r: %s %r is not a %s" % (m.get("code_file"), f, m[f], typ.__name__))
        if isinstance(m.get("code_file"), str):
            by_file[os.path.realpath(m["code_file"])] = m
    for f in [case.prog] + case.extra_modules:
        path = os.path.realpath(os.path.join(progs, f))
        m = by_file.get(path)
        if c(m is not None, "modules lack %s (have %r)" % (path, sorted(by_file))):
            c.eq(m.get("debug_identifier"), gnu_build_id(path),
                 "debug_identifier (GNU build-id) of %s" % f)
    libc = [m for p, m in by_file.items() if re.search(r"/libc\.so\.6$", p)]
    if c(libc, "modules lack libc.so.6"):
        c.eq(libc[0].get("debug_identifier"), gnu_build_id(libc[0]["code_file"]),
             "debug_identifier of libc.so.6")

    # -- no ptrace: the report says the other threads could not be captured
    note = crash.get("note.capture")
    if case.no_ptrace:
        c(isinstance(note, str) and re.match(
            r"^only the crashing thread was captured; other threads could not be stopped "
            r"\(ptrace\(\w+\): Operation not permitted\)$", note),
          "annotations.Crash['note.capture'] = %r should say that only the crashing thread "
          "was captured, ptrace being denied" % (note,))
    else:
        c(note is None, "annotations.Crash['note.capture'] = %r, though ptrace works" % note)

    # -- parked threads wait where the program parked them
    by_name = {}
    for k, t in threads.items():
        if isinstance(t, dict):
            by_name.setdefault(t.get("name"), []).append((k, t))
    for tname, (func, file, marker) in case.parked.items():
        if not c(tname in by_name, "no thread named %r (names: %r)" % (
                tname, sorted(str(n) for n in by_name))):
            continue
        k, t = by_name[tname][0]
        c(t.get("fault") is False, "parked thread %r has fault=%r" % (tname, t.get("fault")))
        want = (func, os.path.join(src, file), marker_line(os.path.join(src, file), marker))
        frames = report_frames(report, t)
        c(any((f.func, norm(f.file), f.line) == want for f in frames),
          "parked thread %s (%s): no frame %s at %s:%d; stack:\n    %s" % (
              k, tname, want[0], file, want[2],
              "\n    ".join(repr(f) for f in frames) or "(empty)"))
    return msg


def glibc_abort_text(c, case, text):
    """The text glibc printed before aborting: the program's whole stderr
    without btcrash, less the newline. A self-check against the case's regex."""
    if text.endswith("\n"):
        text = text[:-1]
    c(re.search(case.abort_text, text),
      "[harness self-check] without btcrash the program printed %r on stderr, expected "
      "glibc's abort message matching %r" % (text, case.abort_text))
    return text


def check_abort_cxx(c, case, report, abort_text):
    """annotations.Crash["abort.message"] is glibc's text (error.message is
    checked with the other attributes); a plain abort() has none. An
    uncaught exception's type and what() are there too; none for any other
    crash."""
    crash = as_dict(as_dict(report.get("annotations")).get("Crash"))
    c.eq(crash.get("abort.message"), abort_text, "annotations.Crash['abort.message']")
    c.eq(crash.get("exception.type"), case.cxx_type, "annotations.Crash['exception.type']")
    c.eq(crash.get("exception.what"), case.cxx_what, "annotations.Crash['exception.what']")


def summary_head(case, exe, msg):
    """The summary's first line: glibc's text or the exception take the
    signal's place after "crashed with SIG...: "."""
    if case.abort_text or case.cxx_type:
        return "btcrash: %s crashed with %s: %s\n" % (exe, case.sig.name, msg)
    return "btcrash: %s crashed: %s\n" % (exe, msg)


def check_summary(c, case, text, report_path, gtop, head):
    c(head in text, "stderr summary lacks the line %r:\n%s" % (head, text[-2000:]))
    if gtop is not None and gtop.file:
        # (?!\w), not \b: a Rust name may end in ">" ("write_volatile<i32>").
        loc = r"^  #0  %s(?!\w).* at \S*\b%s:%d%s$" % (
            re.escape(gtop.func), re.escape(os.path.basename(gtop.file)), gtop.line,
            r" \(inlined\)" if gtop.inlined else "")
        c(re.search(loc, text, re.M), "stderr summary does not show gdb's top frame %r as #0:"
          "\n%s" % (gtop, text[-2000:]))
    paths = set(re.findall(r"/\S+\.json\b", text))
    c(len(paths) <= 1, "stderr names more than one report: %r" % sorted(paths))
    if report_path:
        line = "btcrash: report stored in %s\n" % report_path
        c(line in text, "stderr summary lacks %r:\n%s" % (line, text[-2000:]))


def check_debug_output(c, report, text, head, abort_text):
    """With BACKTRACE_DEBUG_BACKTRACE=1 the whole readable report is printed:
    every thread (tid and name) and its top function."""
    tail = "\ndebug stderr (tail):\n" + text[-3000:]
    for k, t in as_dict(report.get("threads")).items():
        if not isinstance(t, dict):
            continue
        c(re.search(r"\b%s\b" % re.escape(k), text),
          "[debug run] debug output does not show thread %s (%s)%s" % (k, t.get("name"), tail))
        if t.get("name"):
            c(t["name"] in text, "[debug run] debug output does not show thread name %r%s" % (
                t["name"], tail))
        st = t.get("stack") or []
        if st and isinstance(st[0], dict) and st[0].get("funcName"):
            fn = strip_params(st[0]["funcName"])
            c(fn in text, "[debug run] debug output does not show thread %s's top function %r%s"
              % (k, fn, tail))
    if head is not None:
        c(head in text, "[debug run] debug output lacks %r" % head)
        c("abort.message: " + abort_text + "\n" in text,
          "[debug run] debug output does not show annotations.Crash abort.message")


# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_crash(build, check, tmp_path, name):
    gdb = shutil.which("gdb")
    if not gdb:
        pytest.skip("gdb is not installed: nothing to compare the stacks with")
    case = CASES[name]
    c = check
    src = norm(build.src)
    roots = (src, norm(build.progs)) if case.generated else (src,)
    argv = [build.prog(case.prog)] + case.args
    for m in case.extra_modules:
        build.prog(m)
    if case.no_cfi:
        check_no_cfi(c, case, build.progs)

    def newdir(n):
        (tmp_path / n).mkdir()
        return str(tmp_path / n)

    # 1. Baseline: no library.
    env0 = base_env()
    r0 = run(argv, env0, newdir("plain"))
    c.eq(r0.termsig, case.sig, "[harness self-check] without btcrash the program %s; its "
         "signal" % r0.describe())
    abort_text = glibc_abort_text(c, case, r0.err) if case.abort_text else None

    # 2. gdb.
    gdb_argv = [build.prog(case.gdb_prog)] + case.args if case.gdb_prog else argv
    if case.gdb_prog:
        text = elf_section(argv[0], ".text")
        c(text is not None and text == elf_section(gdb_argv[0], ".text"),
          "[harness self-check] %s, which gdb runs in %s's place, has other code (.text)" % (
              case.gdb_prog, case.prog))
    gdb_sig, gframes, gdb_out = run_gdb(gdb, gdb_argv, env0, newdir("gdb"), case.bt_limit,
                                        all_threads=bool(case.parked))
    gdb_threads = {}
    if case.parked:
        gdb_threads = parse_gdb_all_threads(gdb_out.split("==== all threads", 1)[-1])
        for tname in case.parked:
            c(tname in gdb_threads, "[harness self-check] gdb shows no thread %r: %r"
              % (tname, sorted(gdb_threads)))
    check_gdb_side(c, case, roots, gdb_sig, gframes, gdb_out)

    # 3. With the library.
    cwd1 = newdir("btcrash")
    db = str(tmp_path / "db")
    env1 = dict(env0, LD_PRELOAD=build.lib, BACKTRACE_DATABASE_PATH=db)
    started = time.time()
    r1 = run(argv, env1, cwd1, linger_wait=10.0)
    # Fate unchanged: termination signal and core-dump bit.
    c.eq((os.WIFSIGNALED(r1.status), r1.termsig), (os.WIFSIGNALED(r0.status), r0.termsig),
         "termination (signaled, signal) with btcrash vs without")
    if os.WIFSIGNALED(r1.status) and os.WIFSIGNALED(r0.status):
        c.eq(bool(os.WCOREDUMP(r1.status)), bool(os.WCOREDUMP(r0.status)),
             "core-dump bit with btcrash vs without")
    took = r1.death_mono - r1.start_mono
    c(took <= BT_TIMEOUT_S + 0.5 + 1.5, "the crashed process took %.2f s to die (timeout %.1f s "
      "+ 0.5 s, DESIGN §1)" % (took, BT_TIMEOUT_S))
    c(not r1.lingering, "processes of the run still alive 10 s after the crash: %r" % r1.lingering)
    head = None
    rep, rpath = check_db(c, db, "")
    if rep is not None:
        msg = check_report(c, case, src, build.progs, rep, r1, cwd1, started,
                           machine_facts(build), abort_text)
        head = summary_head(case, argv[0], msg)
        check_abort_cxx(c, case, rep, abort_text)
        rframes = report_frames(rep, as_dict(rep.get("threads")).get(rep.get("mainThread")))
        chain = report_chain(c, case, argv[0], rep)
        gframes = true_stack(case, roots, gframes, chain)
        if gframes:
            # The faulting thread's first frame is gdb's #0.
            # gdb names a pc in no module "??"; the report leaves it nameless.
            c.eq(rframes[0].func if rframes else None,
                 None if gframes[0].func == "??" else gframes[0].func,
                 "faulting thread's first frame (function)")
            compare_stacks(c, case, roots, gframes, rframes)
            check_truth(c, case, gframes, chain)
        check_guessed(c, case, rep)
        # The parked threads, too: their own frames equal gdb's.
        for tname, gt in gdb_threads.items():
            rts = [t for t in as_dict(rep.get("threads")).values()
                   if isinstance(t, dict) and t.get("name") == tname]
            if tname in case.parked and rts:
                compare_stacks(c, case, roots, gt, report_frames(rep, rts[0]),
                               what="parked thread %r" % tname)
        check_summary(c, case, r1.err, rpath, gframes[0] if gframes else None, head)
    c("ignoring BACKTRACE_" not in r1.err,
      "configuration warnings with a clean environment:\n" + r1.err[-1000:])

    # 4. Debug output: the full readable report.
    env2 = dict(env1, BACKTRACE_DATABASE_PATH=str(tmp_path / "db-debug"),
                BACKTRACE_DEBUG_BACKTRACE="1")
    r2 = run(argv, env2, newdir("debug"))
    c.eq(r2.termsig, case.sig, "termination signal in debug mode")
    rep2, _ = check_db(c, env2["BACKTRACE_DATABASE_PATH"], "[debug run] ")
    if c(rep2 is not None, "[debug run] debug run stored no usable report"):
        check_debug_output(c, rep2, r2.err, summary_head(case, argv[0], abort_text)
                           if abort_text is not None else None, abort_text)
    if c.failures:
        print("stderr of the run with btcrash:\n" + r1.err[-3000:])


def test_call_null_stripped(build, check, tmp_path):
    """A call through NULL in a program stripped of its symbol table: the
    scan still takes the return address at the stack pointer, which an FDE
    of .eh_frame places in a function (dispatch, nameless now), and the
    walk goes on to main."""
    c = check
    prog = str(tmp_path / "call_null_stripped")
    shutil.copy2(build.prog("call_null"), prog)
    syms = subprocess.run(["nm", prog], capture_output=True, text=True, check=True).stdout
    addr = {m.group(2): int(m.group(1), 16)
            for m in re.finditer(r"^([0-9a-f]+) [Tt] (\w+)$", syms, re.M)}
    subprocess.run(["strip", "--strip-all", prog], check=True)
    c.eq(subprocess.run(["nm", prog], capture_output=True, text=True).stdout, "",
         "[harness self-check] the stripped copy's symbols")
    (tmp_path / "cwd").mkdir()
    db = str(tmp_path / "db")
    r = run([prog], dict(base_env(), LD_PRELOAD=build.lib, BACKTRACE_DATABASE_PATH=db),
            str(tmp_path / "cwd"))
    c.eq(r.termsig, signal.SIGSEGV, "the signal it died of")
    rep, _ = check_db(c, db, "")
    if rep is None:
        return
    stack = (as_dict(rep.get("threads")).get(rep.get("mainThread")) or {}).get("stack") or []
    if not c(len(stack) >= 3, "only %d frames: %r" % (len(stack), stack)):
        return
    c.eq((stack[0].get("address"), stack[0].get("guessed_frame")), ("0x0", None), "frame 0")
    c.eq(stack[1].get("guessed_frame"), True, "frame 1, found at the stack pointer, is guessed")
    c.eq(stack[2].get("guessed_frame"), None, "frame 2, found by CFI, is not guessed")
    for i, fn, nxt in ((1, "dispatch", "main"), (2, "main", None)):
        off = hex_int(stack[i].get("module_offset"))
        end = min(a for a in addr.values() if a > addr[fn]) if nxt is None else addr[nxt]
        c(off is not None and addr[fn] < off <= end, "frame %d: module_offset %r is not a "
          "return address in %s [%#x, %#x)" % (i, stack[i].get("module_offset"), fn, addr[fn],
                                                end))
