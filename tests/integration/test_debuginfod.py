"""Stripped programs and DEBUGINFOD_URLS (capture/debuginfod.c): a real
elfutils debuginfod (Debian package debuginfod), started here on
127.0.0.1 and serving the unstripped builds, gives the stripped copies'
frames as gdb shows them on the unstripped build; the client cache it
fills answers the next crash of the same build without a request; a server
that accepts and never answers costs the crash no more than its deadline;
and without debug information anywhere every frame keeps its module,
address, offset and build-id."""
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from conftest import GRACE_S, base_env, reports, run
from frames import as_dict, is_own, report_frames, run_gdb

DEBUGINFOD = shutil.which("debuginfod")
GDB = shutil.which("gdb")
START_TIMEOUT_S = 30.0


def build_id(path):
    out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True,
                         check=True).stdout
    for line in out.splitlines():
        if "Build ID:" in line:
            return line.split()[-1]
    raise RuntimeError("no build-id in %s" % path)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """debuginfod -F over @root, on a port of its own."""

    def __init__(self, root, workdir):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = open(os.path.join(workdir, "debuginfod.log"), "wb")
        self.proc = subprocess.Popen(
            [DEBUGINFOD, "-F", "-p", str(self.port), "-d", os.path.join(workdir, "db.sqlite"),
             "-t", "1", root], stdout=self.log, stderr=subprocess.STDOUT)

    def wait_for(self, bid):
        """Until the server serves @bid's debuginfo (it scans in the background)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen("%s/buildid/%s/debuginfo" % (self.url, bid),
                                            timeout=2) as r:
                    if r.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(0.2)
        return False

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class Listener:
    """Accepts connections on @port, counts them, never answers."""

    def __init__(self, port=None):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port or 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.accepted = 0
        self.conns = []
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.conns.append(c)

    def stop(self):
        self.stopping = True
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.fixture
def stripped(build, tmp_path):
    """stripped(prog): (the unstripped copy in the served tree, the
    stripped copy to run), both of build.prog(prog)."""
    def make(prog):
        srv = tmp_path / "served"
        srv.mkdir(exist_ok=True)
        full = str(srv / prog)
        shutil.copy2(build.prog(prog), full)
        bare = str(tmp_path / (prog + ".stripped"))
        subprocess.run(["strip", "--strip-all", "-o", bare, full], check=True)
        return full, bare
    return make


def crash(build, tmp_path, exe, name, **env):
    cwd = tmp_path / ("cwd-" + name)
    cwd.mkdir()
    db = str(tmp_path / ("db-" + name))
    e = dict(base_env(), LD_PRELOAD=build.lib, BACKTRACE_DATABASE_PATH=db,
             DEBUGINFOD_CACHE_PATH=str(tmp_path / "cache"))
    e.pop("DEBUGINFOD_URLS", None)
    e.update(env)
    return run([exe], e, str(cwd)), db


def one_report(check, db, what):
    reps = list(reports(db).values())
    if not check.eq(len(reps), 1, "%s: reports stored in %s" % (what, db)):
        return None
    return reps[0].report


def main_stack(rep):
    return as_dict(as_dict(rep.get("threads")).get(rep.get("mainThread"))).get("stack") or []


def own_frames(rep, src, like):
    """The report's frames in the program's sources, as (func, file, line,
    inlined); inlined left None where gdb's frame in @like leaves it
    unknown (its outermost frame: gdb stops at main)."""
    thread = as_dict(rep.get("threads")).get(rep.get("mainThread"))
    got = [f.key() + (f.inlined,) for f in report_frames(rep, thread) if is_own(f.file, src)]
    return [g[:3] + (None,) if i < len(like) and like[i][3] is None else g
            for i, g in enumerate(got)]


def test_stripped_frames_from_debuginfod_then_from_the_cache(build, check, tmp_path, stripped):
    """inline_fault stripped of everything: its frames come from the
    server, equal to gdb's on the unstripped build (function, file, line,
    inline mark); a second crash, with the server replaced by a listener
    that counts connections, gets the same frames without one."""
    if not DEBUGINFOD or not GDB:
        pytest.fail("needs debuginfod and gdb (Debian packages debuginfod, gdb)")
    full, bare = stripped("inline_fault")
    bid = build_id(full)
    server = Server(str(tmp_path / "served"), str(tmp_path))
    try:
        if not check(server.wait_for(bid), "[harness] debuginfod never served %s" % bid):
            return
        r, db = crash(build, tmp_path, bare, "first", DEBUGINFOD_URLS=server.url)
    finally:
        server.stop()
    check.eq(r.termsig, signal.SIGSEGV, "first crash: the signal it died of")
    rep = one_report(check, db, "first crash")
    _, gframes, gout = run_gdb(GDB, [full], base_env(), str(tmp_path), 0)
    want = [f.key() + (f.inlined,) for f in gframes if is_own(f.file, build.src)]
    check(len(want) >= 3, "[harness] gdb's own frames: %r\n%s" % (want, gout[-2000:]))
    if rep is None:
        return
    check.eq(own_frames(rep, build.src, want), want, "first crash: the program's frames vs gdb's on "
             "the unstripped build")
    check(os.path.isdir(str(tmp_path / "cache" / bid)),
          "the client cache %s has no entry for %s" % (tmp_path / "cache", bid))

    listener = Listener(server.port)
    try:
        r2, db2 = crash(build, tmp_path, bare, "second", DEBUGINFOD_URLS=listener.url)
    finally:
        listener.stop()
    check.eq(r2.termsig, signal.SIGSEGV, "second crash: the signal it died of")
    check.eq(listener.accepted, 0, "second crash: connections to the server")
    rep2 = one_report(check, db2, "second crash")
    if rep2 is not None:
        check.eq(own_frames(rep2, build.src, want), want, "second crash (from the cache): the "
                 "program's frames vs gdb's")


def test_silent_server_costs_no_more_than_the_deadline(build, check, tmp_path, stripped):
    """A server that accepts and never answers: the program is still dead by
    BACKTRACE_TIMEOUT + 0.5 s, the report is kept with the raw frames, and
    it says which fetch the deadline cut short; no fetch outlives it."""
    _, bare = stripped("timed_null")
    timeout = 2.0
    listener = Listener()
    try:
        r, db = crash(build, tmp_path, bare, "silent", DEBUGINFOD_URLS=listener.url,
                      BACKTRACE_TIMEOUT="%g" % timeout)
        after = subprocess.run(["pgrep", "-f", "__debuginfod-fetch"], capture_output=True,
                               text=True).stdout.split()
    finally:
        listener.stop()
    check.eq(r.termsig, signal.SIGSEGV, "the signal it died of")
    fault = r.fault_mono()
    if check(fault is not None, "no FAULT_MONO_NS:\n%s" % r.err[-2000:]):
        check(r.death_mono - fault <= timeout + GRACE_S,
              "dead %.3f s after the fault; the bound is %.1f s"
              % (r.death_mono - fault, timeout + GRACE_S))
    check(listener.accepted >= 1, "[harness] the fetch never connected to the listener")
    check.eq(after, [], "fetch processes left running")
    rep = one_report(check, db, "silent server")
    if rep is None:
        return
    notes = str(as_dict(rep.get("annotations")))
    check("not fetched from DEBUGINFOD_URLS" in notes,
          "the report does not say that the fetch was cut short: %s" % notes[:2000])
    check(main_stack(rep) and main_stack(rep)[0].get("module_offset"),
          "frame 0 has no module_offset: %r" % main_stack(rep)[:1])


def test_no_debug_information_anywhere(build, check, tmp_path, stripped):
    """No symbols, no DWARF, no server: every frame of the program itself
    still has its module, address, module offset and the module's build-id,
    as in the report's module list."""
    full, bare = stripped("inline_fault")
    bid = build_id(full)
    r, db = crash(build, tmp_path, bare, "bare")
    check.eq(r.termsig, signal.SIGSEGV, "the signal it died of")
    rep = one_report(check, db, "no debug information")
    if rep is None:
        return
    own = [f for f in main_stack(rep) if f.get("library") == bare]
    if not check(len(own) >= 2, "frames in %s: %r" % (bare, main_stack(rep))):
        return
    for i, f in enumerate(own):
        check(f.get("address", "").startswith("0x"), "frame %d: address %r" % (i, f))
        check(f.get("module_offset", "").startswith("0x"), "frame %d: module_offset %r" % (i, f))
        check.eq(f.get("debug_identifier"), bid, "frame %d: debug_identifier" % i)
        check(not f.get("line"), "frame %d has a line without debug information: %r" % (i, f))
    mods = [m for m in rep.get("modules") or [] if isinstance(m, dict)]
    check(any(m.get("debug_identifier") == bid for m in mods) or
          any(bid in str(m) for m in mods), "the module list lacks build-id %s" % bid)


def check_named_without_dwarf(build, check, tmp_path, prog, source):
    """inline_fault's copy @prog, without DWARF, crashes: its frames are
    crash_here and main (the inlined calls have no frame without DWARF),
    named from @source, with module offsets and no line."""
    r, db = crash(build, tmp_path, prog, source.strip("."))
    check.eq(r.termsig, signal.SIGSEGV, "the signal it died of")
    rep = one_report(check, db, "names from %s" % source)
    if rep is None:
        return
    own = [f for f in main_stack(rep) if f.get("library") == prog]
    check.eq([f.get("funcName") for f in own][:2], ["crash_here", "main"],
             "the program's frames, named from %s" % source)
    check(all(not f.get("line") and f.get("module_offset") for f in own),
          "frames without DWARF have a line, or lack module_offset: %r" % own)


def test_symbol_table_only(build, check, tmp_path):
    """strip --strip-debug: no DWARF, no server, the symbol table kept."""
    prog = str(tmp_path / "inline_fault.nodebug")
    subprocess.run(["strip", "--strip-debug", "-o", prog, build.prog("inline_fault")],
                   check=True)
    check_named_without_dwarf(build, check, tmp_path, prog, ".symtab")


def test_minidebuginfo_only(build, check, tmp_path):
    """Stripped of everything, with the function symbols in MiniDebugInfo
    (.gnu_debugdata, an xz-compressed ELF file, as Fedora's find-debuginfo
    makes it): the frames are named from it."""
    src = build.prog("inline_fault")
    work = tmp_path / "mdi"
    work.mkdir()
    syms = subprocess.run(["nm", src, "--format=posix", "--defined-only"], capture_output=True,
                          text=True, check=True).stdout
    keep = sorted({ln.split()[0] for ln in syms.splitlines()
                   if len(ln.split()) > 1 and ln.split()[1] in ("T", "t")})
    (work / "keep").write_text("\n".join(keep) + "\n")
    for argv in (["objcopy", "--only-keep-debug", src, str(work / "debug")],
                 ["objcopy", "-S", "--keep-symbols=" + str(work / "keep"), str(work / "debug"),
                  str(work / "mini")],
                 ["xz", str(work / "mini")],
                 ["strip", "--strip-all", "-o", str(work / "prog"), src],
                 ["objcopy", "--add-section", ".gnu_debugdata=" + str(work / "mini.xz"),
                  str(work / "prog")]):
        subprocess.run(argv, check=True)
    prog = str(work / "prog")
    check.eq(subprocess.run(["nm", prog], capture_output=True, text=True).stdout, "",
             "[harness] the program's own symbol table")
    check_named_without_dwarf(build, check, tmp_path, prog, ".gnu_debugdata")
