"""Stacks as gdb and as btcrash's reports show them, for comparing one
with the other (test_crashes.py, test_api.py).

gdb runs the program itself (no LD_PRELOAD), in batch mode, with
debuginfod off and absolute file names; frames are compared by function,
file and line, and by whether they are inlined.
"""

import os
import re

from conftest import run

GDB_TIMEOUT = 120


def is_int(v):
    """A JSON integer (bool is an int to Python, not to JSON)."""
    return isinstance(v, int) and not isinstance(v, bool)


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
    return {name: parse_gdb_bt("\n".join(lines)) for name, lines in chunks.items()}


def run_gdb(gdb, argv, env, cwd, bt_limit, all_threads=False):
    bt = "bt %d" % bt_limit if bt_limit else "bt"
    cmd = [gdb, "-batch", "-nx", "-iex", "set debuginfod enabled off",
           "-ex", "set filename-display absolute", "-ex", "set pagination off",
           "-ex", "set width 0", "-ex", "run", "-ex", bt]
    if all_threads:
        cmd += ["-ex", "echo ==== all threads\\n", "-ex", "thread apply all bt"]
    r = run(cmd + ["--args"] + argv, env, cwd, timeout=GDB_TIMEOUT, linger_wait=2.0)
    m = re.search(r"received signal (SIG[A-Z0-9]+)", r.out)
    return (m.group(1) if m else None), parse_gdb_bt(r.out), r.out


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


def as_dict(v):
    return v if isinstance(v, dict) else {}


def report_frames(report, thread):
    """The report's frames of @thread as Frames (file from sourceCode)."""
    out = []
    sc = as_dict(report.get("sourceCode"))
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
    w = 80
    lines.append("  %-4s %-*s | %s" % ("#", w, title_a, title_b))
    for i in range(max(len(a), len(b))):
        sa = repr(a[i]) if i < len(a) else "-"
        sb = repr(b[i]) if i < len(b) else "-"
        mark = "  " if (i < len(a) and i < len(b) and a[i].key() == b[i].key()) else "!!"
        lines.append("%s%-4d %-*s | %s" % (mark, i, w, sa[:w], sb))
    return "\n".join(lines)
