"""BACKTRACE_FORMAT=minidump (issue 12, minidump/): the minidumps btcrash
writes, read back by readers that know nothing of btcrash, as a server
reads them:

- Breakpad's own processor, from the npm package `minidump` (prebuilt
  minidump_stackwalk, minidump_dump and dump_syms; .ci/test-tools unpacks
  it into .test-tools/): symbol files made by dump_syms of the unstripped
  build, and minidump_stackwalk walks every thread of the dump;
- lldb (Debian package lldb), with the unstripped binary;
- minidump_dump's print of every stream, checked field by field against
  the format (Breakpad's minidump_format.h).

The crashing thread's frames in the program's own sources are compared
with gdb's on the same (unstripped) build: function, file and line, inline
frames included (dump_syms -d writes Breakpad's INLINE records). gdb stops
at main; Breakpad's stack scan may find more past _start, so only the
frames gdb has are compared, in order, and the others must be outside the
program's sources. lldb prints file basenames, so its files are compared
by basename."""
import glob
import json
import os
import re
import shutil
import signal
import subprocess

import pytest

from conftest import base_env, reports, run
from frames import is_own, norm, run_gdb, strip_params

GDB = shutil.which("gdb")
LLDB = shutil.which("lldb")
TOOL_TIMEOUT = 120
TOOLS_HINT = "run .ci/test-tools (npm pack minidump), or set BTCRASH_MINIDUMP_TOOLS"


# ---------------------------------------------------------------------------
# The tools


@pytest.fixture(scope="session")
def tools(build):
    d = os.environ.get("BTCRASH_MINIDUMP_TOOLS") or os.path.join(
        build.source, ".test-tools", "minidump", "bin", "linux-x64")
    paths = {n: os.path.join(d, n) for n in ("minidump_stackwalk", "minidump_dump", "dump_syms")}
    for n, p in paths.items():
        if not os.access(p, os.X_OK):
            pytest.fail("Breakpad's %s is not at %s: %s" % (n, p, TOOLS_HINT))
    return paths


def tool(argv):
    r = subprocess.run(argv, capture_output=True, timeout=TOOL_TIMEOUT)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def libc_debug_dir():
    """The directory of libc6-dbg's debug file for this libc, by build-id."""
    out = subprocess.run(["readelf", "-n", "/lib/x86_64-linux-gnu/libc.so.6"],
                         capture_output=True, text=True, check=True).stdout
    bid = re.search(r"Build ID: ([0-9a-f]+)", out).group(1)
    return os.path.join("/usr/lib/debug/.build-id", bid[:2])


def add_symbols(tools, symdir, binary, *debug_dirs):
    """dump_syms -d @binary into @symdir as Breakpad's symbol supplier looks
    it up: SYMDIR/<name>/<debug id>/<name>.sym. Returns the debug id."""
    code, out, err = tool([tools["dump_syms"], "-d", binary] + list(debug_dirs))
    if code != 0 or not out.startswith("MODULE "):
        raise RuntimeError("dump_syms %s failed (%d): %s" % (binary, code, err[-2000:]))
    _, _, _, debug_id, name = out.split("\n", 1)[0].split(" ", 4)
    d = os.path.join(symdir, name, debug_id)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name + ".sym"), "w") as f:
        f.write(out)
    return debug_id


@pytest.fixture(scope="session")
def libc_symbols(tools, tmp_path_factory):
    """libc's symbols from libc6-dbg, made once: copied into each test's
    symbol directory."""
    d = str(tmp_path_factory.mktemp("libc-sym"))
    add_symbols(tools, d, "/lib/x86_64-linux-gnu/libc.so.6", libc_debug_dir())
    return d


def symbols_for(tools, libc_symbols, tmp_path, binary):
    d = str(tmp_path / "sym")
    shutil.copytree(libc_symbols, d, dirs_exist_ok=True)
    add_symbols(tools, d, binary)
    return d


# ---------------------------------------------------------------------------
# The readers' output


class Walk:
    """minidump_stackwalk -m: the crash, the crashing thread's index, and
    each thread's frames as (module, function, file, line)."""

    def __init__(self, text):
        self.text = text
        self.crash = None
        self.crash_thread = None
        self.threads = {}
        self.modules = []
        for line in text.splitlines():
            f = line.split("|")
            if f[0] == "Crash" and len(f) >= 4:
                self.crash = f[1]
                self.crash_thread = int(f[3]) if f[3].isdigit() else None
            elif f[0] == "Module" and len(f) >= 5:
                self.modules.append((f[1], f[4]))
            elif f[0].isdigit() and len(f) >= 7:
                self.threads.setdefault(int(f[0]), []).append(
                    (f[2], f[3], f[4], int(f[5]) if f[5].isdigit() else None))


def stackwalk(tools, dmp, symdir):
    code, out, err = tool([tools["minidump_stackwalk"], "-m", dmp, symdir])
    return code, Walk(out), err


LLDB_THREAD = re.compile(r"^\s*\*?\s*thread #(\d+): tid = (\d+)")
LLDB_FRAME = re.compile(r"^\s*\*?\s*frame #(\d+): 0x[0-9a-f]+ ([^`\s]+)`(.*?)(?: at (\S+?):(\d+)"
                        r"(?::\d+)?)?(?: \+ \d+)?$")


def lldb_read(dmp, exe):
    """lldb -c DMP EXE: {tid: [(module, function, file basename, line)]}
    and the tid of the thread lldb stops in (the exception's)."""
    r = run([LLDB, "-b", "-c", dmp, exe, "-o", "thread list", "-o", "bt all"], base_env(),
            os.path.dirname(dmp), timeout=TOOL_TIMEOUT)
    tids, stacks, current, selected = {}, {}, None, None
    for line in r.out.splitlines():
        m = LLDB_THREAD.match(line)
        if m:
            tids[int(m.group(1))] = int(m.group(2))
            if line.lstrip().startswith("*"):
                selected = int(m.group(2))
            continue
        m = re.match(r"^\s*\*?\s*thread #(\d+)(?:,|$)", line)
        if m:
            current = tids.get(int(m.group(1)))
            stacks.setdefault(current, [])
            continue
        m = LLDB_FRAME.match(line)
        if m and current is not None:
            func = m.group(3)
            if " [inlined] " in func:
                func = func.split(" [inlined] ")[-1]
            stacks[current].append((m.group(2), strip_params(func.strip()), m.group(4),
                                    int(m.group(5)) if m.group(5) else None))
    return tids, stacks, selected, r


def dump_fields(text):
    """minidump_dump's print: [(section, {field: value})], in order. A
    section begins at an unindented line; its fields are the "name = value"
    lines under it."""
    sections = []
    for line in text.splitlines():
        if line and not line.startswith(" "):
            sections.append((line.strip(), {}))
        elif sections and " = " in line:
            k, v = line.strip().split(" = ", 1)
            sections[-1][1][k.strip()] = v.strip()
    return sections


def section(sections, name):
    return [f for n, f in sections if n == name]


# ---------------------------------------------------------------------------
# Crashes


def crash(build, tmp_path, exe, args=(), name="crash", **env):
    cwd = tmp_path / ("cwd-" + name)
    cwd.mkdir()
    db = str(tmp_path / ("db-" + name))
    e = dict(base_env(), LD_PRELOAD=build.lib, BACKTRACE_DATABASE_PATH=db,
             BACKTRACE_FORMAT="minidump")
    e.pop("DEBUGINFOD_URLS", None)
    e.update(env)
    return run([exe] + list(args), e, str(cwd)), db


def one_dump(check, db, what):
    """The one report of @db and its minidump's path."""
    reps = list(reports(db).values())
    if not check.eq(len(reps), 1, "%s: reports stored in %s" % (what, db)):
        return None, None
    dmp = os.path.join(db, reps[0].uuid + ".dmp")
    if not check(os.path.isfile(dmp), "%s: no minidump %s beside the report; the database "
                 "holds %r" % (what, dmp, sorted(os.listdir(db)))):
        return reps[0].report, None
    check.eq(os.stat(dmp).st_mode & 0o777, 0o600, "%s: the minidump's mode" % what)
    return reps[0].report, dmp


def gdb_own(build, exe, args, cwd):
    """gdb's crashing-thread frames in the program's sources: (function,
    file, line)."""
    _, frames, out = run_gdb(GDB, [exe] + list(args), base_env(), cwd, 0)
    return [f.key() for f in frames if is_own(f.file, build.src)], out


def compare_own(check, got, want, what, full):
    """@got's frames in the program's sources equal @want, in order."""
    problems = []
    for i in range(max(len(got), len(want))):
        g = got[i] if i < len(got) else None
        w = want[i] if i < len(want) else None
        if g != w:
            problems.append("own frame %d: %s %r, gdb %r" % (i, what, g, w))
    check(not problems, "%s: the crashing thread's frames differ from gdb's on the unstripped "
          "build:\n  %s\n%s's whole stack:\n  %s" % (what, "\n  ".join(problems), what,
                                                      "\n  ".join(map(repr, full))))


# (program, arguments, stripped): threads crashes in a worker with three
# other threads; inline_fault (-O2) in three levels inlined into one
# function; the stripped copy of inline_fault is the production case, read
# with the symbols of the unstripped build (same build-id); maps_null
# undumpable cannot be traced nor read, so its dump is made of the crash
# record alone (registers, stack snapshot, maps).
CASES = [("threads", ["worker"], False), ("inline_fault", [], False),
         ("inline_fault", [], True), ("cxx_method", [], False),
         ("maps_null", ["undumpable"], False)]


@pytest.mark.parametrize("prog,args,strip", CASES,
                         ids=["threads", "inline_fault", "inline_fault_stripped", "cxx_method",
                              "undumpable"])
def test_read_back(build, check, tmp_path, tools, libc_symbols, prog, args, strip):
    """minidump_stackwalk with dump_syms' symbols and lldb with the
    unstripped binary: every thread of the report is in the dump, the
    crash is the signal, the crashing thread is the report's, and its
    frames in the program's sources equal gdb's."""
    if not GDB or not LLDB:
        pytest.fail("needs gdb and lldb (Debian packages gdb, lldb)")
    full = build.prog(prog)
    exe = full
    if strip:
        # Under its own name, as in production: a server finds the symbol
        # file by the module's name and debug identifier.
        (tmp_path / "stripped").mkdir()
        exe = str(tmp_path / "stripped" / prog)
        subprocess.run(["strip", "--strip-all", "-o", exe, full], check=True)
    r, db = crash(build, tmp_path, exe, args)
    check.eq(r.termsig, signal.SIGSEGV, "%s: the signal it died of" % prog)
    report, dmp = one_dump(check, db, prog)
    if dmp is None:
        return
    want, gout = gdb_own(build, full, args, str(tmp_path))
    if not check(len(want) >= 2, "[harness] gdb's own frames: %r\n%s" % (want, gout[-2000:])):
        return
    tids = sorted(int(t) for t in report["threads"])
    fault_tid = int(report["mainThread"])

    symdir = symbols_for(tools, libc_symbols, tmp_path, full)
    code, walk, err = stackwalk(tools, dmp, symdir)
    check.eq(code, 0, "minidump_stackwalk's exit status (stderr: %s)" % err[-1500:])
    check.eq(walk.crash, "SIGSEGV /SEGV_MAPERR", "minidump_stackwalk: the crash reason")
    check.eq(len(walk.threads), len(tids), "minidump_stackwalk: threads (the report has %r)"
             % tids)
    fault = walk.threads.get(walk.crash_thread, [])
    # The dump's module for the program is the file that ran (the stripped
    # copy): its symbols are found by build-id all the same.
    own = [(strip_params(fn), norm(f), ln) for m, fn, f, ln in fault if is_own(f, build.src)]
    compare_own(check, own, want, "minidump_stackwalk", fault)
    check(fault and fault[0][0] == os.path.basename(exe),
          "minidump_stackwalk: frame 0 is not in %s: %r" % (os.path.basename(exe), fault[:1]))

    ltids, stacks, selected, lr = lldb_read(dmp, full)
    check.eq(sorted(ltids.values()), tids, "lldb: the threads' tids (vs the report's)")
    check.eq(selected, fault_tid, "lldb: the thread it stops in (the exception's)")
    lown = [(fn, f, ln) for m, fn, f, ln in stacks.get(fault_tid, [])
            if m == os.path.basename(full) and f]
    compare_own(check, lown, [(fn, os.path.basename(f), ln) for fn, f, ln in want], "lldb",
                stacks.get(fault_tid, []) or [lr.out[-3000:]])
    check("signal SIGSEGV" in lr.out, "lldb: no 'stop reason = signal SIGSEGV':\n%s"
          % lr.out[-2000:])


def test_streams(build, check, tmp_path, tools):
    """minidump_dump's print of a crash of threads (worker), field by field:
    header, directory, thread list (every thread, its context and its stack
    in the memory list), module list (CodeView records with each module's
    build-id), exception, system and misc info, Breakpad info and the Linux
    streams; no environment unless asked for."""
    exe = build.prog("threads")
    r, db = crash(build, tmp_path, exe, ["worker"], BTC_PLANTED_SECRET="hunter2")
    check.eq(r.termsig, signal.SIGSEGV, "threads: the signal it died of")
    report, dmp = one_dump(check, db, "threads")
    if dmp is None:
        return
    code, out, err = tool([tools["minidump_dump"], dmp])
    check.eq(code, 0, "minidump_dump's exit status (stderr: %s)" % err[-1500:])
    s = dump_fields(out)
    hdr = (section(s, "MDRawHeader") or [{}])[0]
    check.eq(hdr.get("signature"), "0x504d444d", "header: signature (MDMP)")
    check.eq(hdr.get("version"), "0xa793", "header: version")
    stamp = int(hdr.get("time_date_stamp", "0").split()[0], 16)
    check(abs(stamp - report["timestamp"]) <= 1, "header: time_date_stamp %d, the report's "
          "timestamp %r" % (stamp, report.get("timestamp")))
    types = [d.get("stream_type", "").split()[0] for d in section(s, "MDRawDirectory")]
    check.eq(int(hdr.get("stream_count", "0")), len(types), "header: stream_count")
    want_types = {"0x3", "0x4", "0x5", "0x6", "0x7", "0xf", "0x18", "0x10", "0x47670001", "0x47670003",
                  "0x47670004", "0x47670006", "0x47670008", "0x47670009"}
    check.eq(set(types), want_types, "the streams")
    check.eq(len(types), len(set(types)), "streams listed once each")

    threads = section(s, "MDRawThread")
    tids = sorted(int(t) for t in report["threads"])
    check.eq(sorted(int(t["thread_id"], 16) for t in threads), tids, "thread list: the tids")
    contexts = section(s, "MDRawContextAMD64")
    check.eq(len(contexts), len(threads) + 1, "contexts (one per thread, the exception's)")
    regions = [(int(m["start_of_memory_range"], 16), int(m["memory.data_size"], 16))
               for m in section(s, "MDMemoryDescriptor")]
    mem_list = regions  # only the memory list's are printed as MDMemoryDescriptor
    for t, c in zip(threads, contexts):
        tid = int(t["thread_id"], 16)
        start = int(t["stack.start_of_memory_range"], 16)
        size = int(t["stack.memory.data_size"], 16)
        rsp = int(c["rsp"], 16)
        check(int(c["context_flags"], 16) & 0x100007 == 0x100007,
              "thread %d: context_flags %s lack AMD64 control|integer|segments"
              % (tid, c["context_flags"]))
        check.eq(c.get("cs"), "0x33", "thread %d: cs" % tid)
        check(size > 0 and start <= rsp < start + size,
              "thread %d: its stack copy %#x+%#x does not hold rsp %#x" % (tid, start, size, rsp))
        check(any(a <= start and start + size <= a + n for a, n in mem_list),
              "thread %d: its stack %#x+%#x is not in the memory list %r" % (tid, start, size,
                                                                             mem_list))
    check.eq(int(threads[0]["thread_id"], 16), int(report["mainThread"]),
             "thread list: the crashing thread first")
    ends = sorted(mem_list)
    check(all(a + n <= b for (a, n), (b, _) in zip(ends, ends[1:])),
          "memory list: ranges overlap (readers refuse the list): %r" % ends)

    exc = (section(s, "MDException") or [{}])[0]
    check.eq(int(exc.get("thread_id", "0"), 16), int(report["mainThread"]),
             "exception: thread_id")
    check.eq(exc.get("exception_record.exception_code"), "0xb", "exception: code (SIGSEGV)")
    check.eq(exc.get("exception_record.exception_flags"), "0x1",
             "exception: flags (si_code SEGV_MAPERR)")
    check.eq(exc.get("exception_record.exception_address"), "0x0", "exception: address")
    check.eq(exc.get("thread_context.rva"), threads[0].get("thread_context.rva"),
             "exception: its context is the crashing thread's")

    mods = section(s, "MDRawModule")
    by_file = {m.get("(code_file)", "").strip('"'): m for m in mods}
    want_bid = subprocess.run(["readelf", "-n", exe], capture_output=True, text=True,
                              check=True).stdout
    want_bid = re.search(r"Build ID: ([0-9a-f]+)", want_bid).group(1)
    prog_mod = by_file.get(os.path.realpath(exe), {})
    check.eq(prog_mod.get("(cv_record).cv_signature"), "0x4270454c",
             "the program's module: CodeView signature (BpEL)")
    check.eq(prog_mod.get("(cv_record).build_id"), want_bid, "the program's module: build-id")
    rep_mods = {m.get("code_file"): m.get("debug_identifier") for m in report.get("modules", [])
                if isinstance(m, dict)}
    for f, m in by_file.items():
        if f in rep_mods and rep_mods[f]:
            check.eq(m.get("(cv_record).build_id"), rep_mods[f].lower(),
                     "module %s: build-id vs the report's debug_identifier" % f)
    bases = sorted((int(m["base_of_image"], 16), int(m["size_of_image"], 16)) for m in mods)
    check(all(a + n <= b for (a, n), (b, _) in zip(bases, bases[1:])),
          "module list: modules overlap (readers refuse the list): %r" % bases)

    si = (section(s, "MDRawSystemInfo") or [{}])[0]
    check.eq(si.get("processor_architecture"), "0x9 (x86-64)", "system info: AMD64")
    check.eq(si.get("platform_id"), "0x8201 (linux)", "system info: Linux")
    check.eq(int(si.get("number_of_processors", "0")), os.cpu_count(),
             "system info: number_of_processors")
    misc = (section(s, "MDRawMiscInfo") or [{}])[0]
    check.eq(misc.get("process_id"), str(r.pid), "misc info: process_id")
    bp = (section(s, "MDRawBreakpadInfo") or [{}])[0]
    check.eq(int(bp.get("requesting_thread_id", "0"), 16), int(report["mainThread"]),
             "breakpad info: requesting_thread_id")
    with open(dmp, "rb") as f:
        data = f.read()
    # Not in the stream, nor in the main thread's stack copy, whose top
    # holds the environment strings.
    check(b"hunter2" not in data, "the environment is in the minidump without "
          "BACKTRACE_MINIDUMP_ENVIRONMENT")
    check(b"/threads\0worker\0" in data, "the command line is not in the minidump")


def test_environment_opt_in(build, check, tmp_path, tools):
    """BACKTRACE_MINIDUMP_ENVIRONMENT=1: the environment stream is there,
    and holds the process's environment."""
    r, db = crash(build, tmp_path, build.prog("null_write"), [],
                  BACKTRACE_MINIDUMP_ENVIRONMENT="1", BTC_PLANTED_SECRET="hunter2")
    check.eq(r.termsig, signal.SIGSEGV, "null_write: the signal it died of")
    _, dmp = one_dump(check, db, "null_write")
    if dmp is None:
        return
    code, out, err = tool([tools["minidump_dump"], dmp])
    check.eq(code, 0, "minidump_dump's exit status (stderr: %s)" % err[-1500:])
    types = [d.get("stream_type", "").split()[0]
             for d in section(dump_fields(out), "MDRawDirectory")]
    check("0x47670007" in types, "no environment stream (MD_LINUX_ENVIRON): %r" % types)
    with open(dmp, "rb") as f:
        check(b"BTC_PLANTED_SECRET=hunter2\0" in f.read(), "the environment stream lacks the "
              "process's BTC_PLANTED_SECRET")


def test_api_report_is_dump_requested(build, check, tmp_path, tools):
    """A C API report (btcrash_report_capture_stack), not a crash: its
    minidump's exception code is Breakpad's "dump requested" (0xffffffff),
    and the calling thread is the exception's."""
    exe = build.prog("api_stack")
    r, db = crash(build, tmp_path, exe, ["main"])
    check.eq(r.exitcode, 0, "api_stack: exit status\n%s" % r.err[-2000:])
    dumps = sorted(glob.glob(os.path.join(db, "*.dmp")))
    check.eq(len(dumps), len(reports(db)), "minidumps, one per report")
    for dmp in dumps:
        code, out, err = tool([tools["minidump_dump"], dmp])
        check.eq(code, 0, "minidump_dump's exit status (stderr: %s)" % err[-1500:])
        s = dump_fields(out)
        exc = (section(s, "MDException") or [{}])[0]
        check.eq(exc.get("exception_record.exception_code"), "0xffffffff",
                 "%s: exception code" % dmp)
        check.eq(int(exc.get("thread_id", "0"), 16), r.pid, "%s: the calling (main) thread"
                 % dmp)


def test_upload(build, check, tmp_path, tools, receiver):
    """The minidump request against the local receiver: POST
    ENDPOINT/post?token=T&format=minidump, multipart with the stored dump
    byte for byte in upload_file_minidump, every attribute of the report as
    a form field of the same value, and the attachment as
    attachment_<name>; the report is then marked sent. Then the same crash
    at a submit.backtrace.io-style URL path ending in /json: the request
    goes to the URL ending in /minidump instead, with no token added."""
    rx = receiver("ok")
    att = tmp_path / "notes.txt"
    att.write_bytes(b"attached at crash time\n")
    r, db = crash(build, tmp_path, build.prog("null_write"), [], BACKTRACE_ENDPOINT=rx.url,
                  BACKTRACE_TOKEN="tok en/1", BACKTRACE_ATTACHMENTS=str(att),
                  BACKTRACE_ATTRIBUTES='{"app.flavor":"blue","build.number":42}')
    check.eq(r.termsig, signal.SIGSEGV, "null_write: the signal it died of")
    reps = list(reports(db).values())
    if not check.eq(len(reps), 1, "reports stored"):
        return
    rep = reps[0]
    dmp = os.path.join(db, rep.uuid + ".dmp")
    reqs = rx.snapshot()
    if not check.eq(len(reqs), 1, "requests the receiver got"):
        return
    q = reqs[0]
    check.eq(q.method, "POST", "the request's method")
    check.eq(q.url_path, "/post", "the request's path")
    check.eq(q.query, {"token": ["tok en/1"], "format": ["minidump"]}, "the query")
    try:
        parts = q.multipart()
    except ValueError as e:
        check.fail("the request is not multipart: %s" % e)
        return
    names = [p.name for p in parts]
    by_name = {p.name: p for p in parts}
    check("upload_file" not in by_name, "the JSON report is sent too (parts %r)" % names)
    md = by_name.get("upload_file_minidump")
    if check(md is not None, "no upload_file_minidump part: %r" % names):
        with open(dmp, "rb") as f:
            check(md.data == f.read(), "upload_file_minidump is not the stored %s" % dmp)
        check(md.data[:4] == b"MDMP", "upload_file_minidump does not start with MDMP")
    attrs = rep.report.get("attributes", {})
    for k, v in attrs.items():
        # As the JSON report writes them: a string as is, others as JSON.
        want = v if isinstance(v, str) else json.dumps(v)
        p = by_name.get(k)
        if check(p is not None, "attribute %s is not a form field (parts %r)" % (k, names)):
            check.eq(p.data.decode("utf-8", "replace"), want, "form field %s" % k)
            check(p.filename is None, "form field %s has a filename" % k)
    check.eq(by_name.get("app.flavor") and by_name["app.flavor"].data, b"blue",
             "form field app.flavor (BACKTRACE_ATTRIBUTES)")
    a = by_name.get("attachment_notes.txt")
    if check(a is not None, "no attachment_notes.txt part: %r" % names):
        check.eq(a.data, b"attached at crash time\n", "attachment_notes.txt's bytes")
    check.eq(reports(db)[rep.uuid].state_name, "sent", "the report's state")

    # A submit.backtrace.io URL carries its token in its path: the minidump
    # goes to the same URL ending in /minidump. The receiver stands in for
    # it under the same path (the rule is the URL's, not the host's name).
    rx2 = receiver("ok")
    url = rx2.url + "/submit.backtrace.io/universe/0123456789abcdef/json"
    r2, db2 = crash(build, tmp_path, build.prog("null_write"), [], name="submit",
                    BACKTRACE_ENDPOINT=url)
    check.eq(r2.termsig, signal.SIGSEGV, "submit URL: the signal it died of")
    reqs2 = rx2.snapshot()
    if check.eq(len(reqs2), 1, "submit URL: requests the receiver got"):
        check.eq(reqs2[0].url_path, "/submit.backtrace.io/universe/0123456789abcdef/minidump",
                 "submit URL: the request's path")
        check.eq(reqs2[0].query, {}, "submit URL: the query")


def test_show_names_the_minidump(build, check, tmp_path):
    """Local mode says where the minidump is stored, after the report's
    line; `btcrash show` of the report names the dump, its size, and that
    it is what is sent."""
    r, db = crash(build, tmp_path, build.prog("null_write"))
    check.eq(r.termsig, signal.SIGSEGV, "null_write: the signal it died of")
    _, dmp = one_dump(check, db, "show")
    if dmp is None:
        return
    check("btcrash: minidump stored in %s" % dmp in r.err.splitlines(), "local mode: no line "
          "saying where the minidump is:\n%s" % r.err[-2000:])
    uuid = os.path.basename(dmp)[:-len(".dmp")]
    e = dict(base_env(), BACKTRACE_DATABASE_PATH=db)
    s = run([build.helper, "show", uuid], e, str(tmp_path))
    check.eq(s.exitcode, 0, "exit status of btcrash show; stderr: %s" % s.err)
    want = "  minidump: %s (%d bytes; sent instead of the JSON report)" % (dmp, os.path.getsize(dmp))
    check(want in s.out.splitlines(), "btcrash show has no line %r:\n%s" % (want, s.out))


def test_unstored_dump_is_sent_from_memory(build, check, tmp_path, receiver):
    """A database that cannot be made (its path is a regular file): the
    report is not stored, and the minidump goes from memory all the same,
    with the attributes as fields."""
    rx = receiver("ok")
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the database would be\n")
    r, _ = crash(build, tmp_path, build.prog("null_write"), [], name="unstored",
                 BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="t",
                 BACKTRACE_DATABASE_PATH=str(blocked), BACKTRACE_ATTRIBUTES='{"app.flavor":"red"}')
    check.eq(r.termsig, signal.SIGSEGV, "null_write: the signal it died of")
    check("could not store the report" in r.err, "the helper does not say the report could not "
          "be stored:\n%s" % r.err[-2000:])
    reqs = rx.snapshot()
    if not check.eq(len(reqs), 1, "requests the receiver got; stderr:\n%s" % r.err[-2000:]):
        return
    check.eq(reqs[0].query, {"token": ["t"], "format": ["minidump"]}, "the query")
    by_name = {p.name: p for p in reqs[0].multipart()}
    md = by_name.get("upload_file_minidump")
    if check(md is not None, "no upload_file_minidump part: %r" % sorted(by_name)):
        check(md.data[:4] == b"MDMP", "upload_file_minidump does not start with MDMP")
        check(len(md.data) > 4096, "a minidump of %d bytes" % len(md.data))
    check.eq(by_name.get("app.flavor") and by_name["app.flavor"].data, b"red",
             "form field app.flavor")
    check("upload_file" not in by_name, "the JSON report is sent too")
