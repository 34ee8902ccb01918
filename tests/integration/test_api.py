"""Integration tests of the C API (include/btcrash.h, DESIGN.md §8).

Small programs in progs/ (api_values, api_stack, api_threads, api_modes) call
the API, each built twice: linked with -lbtcrash (<name>) and with weak
symbols (<name>_weak, run under LD_PRELOAD=libbtcrash.so or without btcrash).
They print "RC <name> <value>" for every checked call; this file knows what
each value must be, and checks what a local receiver (receiver.py) got, what
the crash database holds, what `btcrash show` prints, and how the reports'
stacks compare with gdb's. The examples api-demo and api-demo-weak are run
from the build tree's bin/.
"""

import collections
import errno
import json
import os
import platform
import re
import shutil
import signal
import socket
import time

import pytest

import receiver as rxmod
from conftest import backoff_over, base_env, reports, run, uploads
from frames import format_stacks, is_int, is_own, marker_line, norm, parse_gdb_bt, report_frames

pytestmark = pytest.mark.api

RUN_TIMEOUT = 60        # any one run of a test program or of the command
THREADS_TIMEOUT = 540   # the 8 x 50 reports run
GDB_TIMEOUT = 120
SEND_TIMEOUT = "20"     # BACKTRACE_TIMEOUT for runs against the receiver

UUID4_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")
EINVAL, EALREADY, ETIMEDOUT, ENOMEM = -errno.EINVAL, -errno.EALREADY, -errno.ETIMEDOUT, \
    -errno.ENOMEM
BTCRASH_SENT, BTCRASH_PENDING, BTCRASH_STORED = 0, 1, 2
EREJECTED, EHELPER, ERUNTIME, ENOTPRIMITIVE, EUTF8 = -1001, -1002, -1003, -1004, -1005
CODE_NAMES = {0: "BTCRASH_SENT", 1: "BTCRASH_PENDING", 2: "BTCRASH_STORED",
              EREJECTED: "BTCRASH_EREJECTED", EHELPER: "BTCRASH_EHELPER",
              ERUNTIME: "BTCRASH_ERUNTIME", ENOTPRIMITIVE: "BTCRASH_ENOTPRIMITIVE",
              EUTF8: "BTCRASH_EUTF8", EINVAL: "-EINVAL", EALREADY: "-EALREADY",
              ETIMEDOUT: "-ETIMEDOUT", ENOMEM: "-ENOMEM", -errno.ENOENT: "-ENOENT"}


def code_name(v):
    return "%s (%s)" % (v, CODE_NAMES[v]) if v in CODE_NAMES else repr(v)


def same_typed(got, want):
    """Equal, and the same JSON type: 2.0 is not 2, True is not 1."""
    if isinstance(want, bool) or isinstance(got, bool):
        return isinstance(want, bool) and isinstance(got, bool) and got == want
    if isinstance(want, float):
        return isinstance(got, float) and got == want
    if isinstance(want, int):
        return is_int(got) and got == want
    return type(got) is type(want) and got == want


def project_version(build):
    """project(btcrash VERSION x.y.z) of the source tree."""
    with open(os.path.join(build.source, "CMakeLists.txt")) as f:
        return re.search(r"project\(btcrash VERSION (\S+)", f.read()).group(1)


# ---------------------------------------------------------------------------
# Runs and what the receiver got


class Prog:
    """A test program's run: conftest's Result, and its "RC name value"
    lines."""

    def __init__(self, res, what, t0, t1):
        self.res, self.what, self.t0, self.t1 = res, what, t0, t1
        self.out, self.pid = res.out, res.pid
        self.lines = self.out.splitlines()
        self.rcs = {}
        for ln in self.lines:
            m = re.match(r"^RC (\S+) (-?\d+)$", ln)
            if m:
                self.rcs[m.group(1)] = int(m.group(2))

    def __getattr__(self, name):
        return getattr(self.res, name)

    def value(self, prefix):
        """The rest of the first stdout line starting with @prefix + ' '."""
        for ln in self.lines:
            if ln.startswith(prefix + " "):
                return ln[len(prefix) + 1:]
        return None


def start(build, exe, args, env, cwd, preload=False, timeout=RUN_TIMEOUT, what=None):
    """Runs @exe; @preload True preloads the library, a path that copy."""
    env = dict(env)
    env.pop("LD_PRELOAD", None)
    if preload:
        env["LD_PRELOAD"] = preload if isinstance(preload, str) else build.lib
    what = what or " ".join([os.path.basename(exe)] + list(args))
    t0 = time.time()
    res = run([exe] + list(args), env, cwd, timeout=timeout)
    r = Prog(res, what, t0, time.time())
    print("%s: %s in %.2f s" % (what, r.describe(), r.death_mono - r.start_mono))
    return r


def prog(btc, name, args, env, weak=False, preload=None, timeout=RUN_TIMEOUT, what=None):
    """Runs a test program: linked (@weak False) or its -DBTCRASH_WEAK
    build; @preload None preloads the library for weak builds only."""
    exe = btc.build.prog(name + ("_weak" if weak else ""))
    r = start(btc.build, exe, args, env, btc.newdir("cwd"), weak if preload is None else preload,
              timeout, what)
    btc.check(not r.lingering, "%s: processes of its group still alive after it ended: %r"
              % (r.what, r.lingering))
    return r


def exit0(check, r):
    return check(r.exitcode == 0, "%s: %s, expected exit 0\n--- stdout:\n%s\n--- stderr:\n%s"
                 % (r.what, r.describe(), r.out[-3000:], r.err[-3000:]))


def rc(check, r, names, expected):
    """RC line of each of @names (a name or a tuple) equals @expected (a
    value or a tuple of allowed ones)."""
    allowed = expected if isinstance(expected, tuple) else (expected,)
    for name in (names,) if isinstance(names, str) else names:
        got = r.rcs.get(name)
        check(got in allowed, "%s: %s returned %s, expected %s" % (
            r.what, name, "nothing (no RC line)" if got is None else code_name(got),
            " or ".join(code_name(v) for v in allowed)))


class Upload:
    """One request to the receiver, with its parts and its report."""

    def __init__(self, req, parts):
        self.req, self.parts = req, parts
        self.names = sorted(p.name for p in req.multipart())  # duplicates kept
        self.raw = parts.get("upload_file", b"")
        try:
            rep = json.loads(self.raw)
        except ValueError:
            rep = None
        self.report = rep if isinstance(rep, dict) else {}
        a, n = self.report.get("attributes"), self.report.get("annotations")
        self.attrs = a if isinstance(a, dict) else {}
        self.ann = n if isinstance(n, dict) else {}
        self.uuid = self.report.get("uuid")


def received(check, rx, n, what, timeout=10.0, reqs=None):
    """Waits for @n requests (or takes @reqs); returns them as Uploads."""
    reqs = rx.wait_requests(n, timeout) if reqs is None else reqs
    out = []
    for q, parts in uploads(check, reqs, what).values():
        up = Upload(q, parts)
        if check(up.names.count("upload_file") == 1 and up.report, "%s: a request without "
                 "one upload_file part holding a JSON object: %r" % (what, up.names)):
            out.append(up)
    return out


def stored_same(check, up, db, what, state="sent"):
    """The upload is the stored report, byte for byte, in state @state."""
    rep = reports(db).get(up.uuid)
    if not check(rep is not None, "%s: report %s is not in the database %s (holds %r)"
                 % (what, up.uuid, db, sorted(reports(db)))):
        return None
    check(rep.raw == up.raw, "%s: upload_file (%d bytes) differs from the stored %s (%d bytes)"
          % (what, len(up.raw), rep.json_path, len(rep.raw)))
    check.eq(rep.state_name, state, "%s: state of %s (%s)" % (what, rep.uuid, rep.state))
    if state == "sent" and up.req.rxid:
        check.eq((rep.state or {}).get("rxid"), up.req.rxid, "%s: rxid in %s.state"
                 % (what, rep.uuid))
    return rep


def check_common(check, build, up, r, what, prog_name, message, classifiers,
                 error_type="Exception", tid=None, hostname=None):
    """What every API report holds: the Backtrace JSON fields of a report of
    @r's process (pid, time, main thread @tid or the main thread), its
    error.type, error.message and classifiers (None: absent)."""
    rep, a = up.report, up.attrs
    check(isinstance(up.uuid, str) and UUID4_RE.match(up.uuid), "%s: uuid %r" % (what, up.uuid))
    for key, typ in (("threads", dict), ("attributes", dict), ("annotations", dict),
                     ("mainThread", str)):
        check(isinstance(rep.get(key), typ), "%s: %s missing or not a %s: %r"
              % (what, key, typ.__name__, str(rep.get(key))[:200]))
    ts = rep.get("timestamp")
    check(is_int(ts) and int(r.t0) <= ts <= r.t1 + 1, "%s: timestamp %r is not the time of the "
          "run (%d..%d)" % (what, ts, r.t0, r.t1))
    check.eq(rep.get("agent"), "btcrash", "%s: agent" % what)
    check.eq(rep.get("agentVersion"), project_version(build), "%s: agentVersion" % what)
    check.eq(rep.get("lang"), "c", "%s: lang" % what)
    check.eq(a.get("error.type"), error_type, "%s: attributes['error.type']" % what)
    check.eq(a.get("error.message"), message, "%s: attributes['error.message']" % what)
    check.eq(rep.get("classifiers"), classifiers, "%s: classifiers" % what)
    check.eq(a.get("application"), prog_name, "%s: attributes['application'] (automatic)" % what)
    for k, v in (("process.id", r.pid), ("hostname", hostname or socket.gethostname()),
                 ("uname.sysname", os.uname().sysname), ("cpu.arch", platform.machine())):
        check.eq(a.get(k), v, "%s: automatic attribute %s" % (what, k))
    for k in ("signal", "signal.code", "fault.address"):
        check(k not in a, "%s: attribute %s=%r in a report that is not a crash"
              % (what, k, a.get(k)))
    bad = {k: v for k, v in a.items() if not isinstance(v, (str, int, float, bool))}
    check(not bad, "%s: attributes that are not primitives: %r" % (what, bad))
    th = rep.get("threads") if isinstance(rep.get("threads"), dict) else {}
    check.eq(rep.get("mainThread"), tid or str(r.pid), "%s: mainThread (the calling thread)"
             % what)
    check(rep.get("mainThread") in th, "%s: mainThread %r not in threads %r"
          % (what, rep.get("mainThread"), list(th)))


def main_frames(up):
    th = (up.report.get("threads") or {}).get(up.report.get("mainThread"))
    return report_frames(up.report, th) if isinstance(th, dict) else []


def check_no_btcrash_frames(check, up, what):
    th = (up.report.get("threads") or {}).get(up.report.get("mainThread"))
    stack = th.get("stack") if isinstance(th, dict) else None
    if not check(isinstance(stack, list) and stack, "%s: the calling thread has no frames"
                 % what):
        return
    bad = [f for f in stack if isinstance(f, dict) and (
        "btcrash" in os.path.basename(str(f.get("library", ""))) or
        str(f.get("funcName", "")).startswith(("btcrash_", "btc_")))]
    check(not bad, "%s: the calling thread's stack holds btcrash frames: %s"
          % (what, json.dumps(bad)[:1500]))


def check_first_frame(check, build, up, what, func, file, marker):
    """The calling thread's first frame is @func at @file's @marker line."""
    frames = main_frames(up)
    if not check(frames, "%s: calling thread has no frames" % what):
        return
    src = os.path.join(build.src, file)
    want = (func, src, marker_line(src, marker))
    check((frames[0].func, norm(frames[0].file), frames[0].line) == want,
          "%s: the calling thread's first frame is %r, expected %s at %s:%s (the function that "
          "called the API)\nstack:\n    %s" % (what, frames[0], func, file, want[2],
                                               "\n    ".join(repr(x) for x in frames[:12])))


def strerror_texts(btc, codes):
    """btcrash_strerror(code) for each of @codes, from api_values."""
    s = prog(btc, "api_values", ["strerror"] + [str(c) for c in codes], btc.env(btc.newdir("db")))
    exit0(btc.check, s)
    return {int(m.group(1)): m.group(2) for m in
            (re.match(r"^STR (-?\d+) (.*)$", ln) for ln in s.lines) if m}


def log_msgs(log):
    return [e.get("msg") if isinstance(e, dict) else e for e in log] \
        if isinstance(log, list) else log


# ---------------------------------------------------------------------------
# values


VALUES_ENV_ATTRS = {"env.kept": "env", "env.overridden": "env",
                    "envnest": {"a": 1, "b": "env"}, "env.num": 2.5}

VALUES_EXPECT = {
    "v.str": 'hello "world" \u00e9', "v.int": -42, "v.int_big": 1234567890123,
    "v.int_min": -2 ** 63, "v.double": 3.25, "v.double_whole": 2.0, "v.double_tenth": 0.1,
    "v.double_huge": 1e300, "v.double_tiny": 5e-324, "v.double_neg": -1.5e-7,
    "v.int_max": 2 ** 63 - 1, "v.bool_true": True, "v.bool_seven": True, "v.bool_false": False,
    "v.str_numeric": "17", "v.retyped": "now a string", "outer.inner.deep": 1,
    "outer.inner.s": "x", "outer.flag": True, "top": "t", "pi": 3.5, "neg": -7, "f": False,
    "hostname": "api-override-host", "env.kept": "env", "env.overridden": "from-report",
    "env.num": 2.5, "envnest.a": 1, "envnest.b": "from-report",
}


def check_values_attrs(check, attrs, what, expect):
    for k, v in expect.items():
        if check(k in attrs, "%s: attribute %r missing" % (what, k)):
            check(same_typed(attrs[k], v), "%s: attribute %r = %s (%s), expected %s (%s)" % (
                what, k, json.dumps(attrs[k]), type(attrs[k]).__name__, json.dumps(v),
                type(v).__name__))
    for k in ("outer", "outer.inner", "envnest"):
        check(k not in attrs, "%s: nested object kept as attribute %r = %r (must be "
              "flattened with dots)" % (what, k, attrs.get(k)))


def parse_attrs(check, r, name, what):
    """The JSON object of the program's "ATTRS @name" line (get_attributes)."""
    text = r.value("ATTRS " + name)
    try:
        got = json.loads(text) if text is not None else None
    except ValueError as e:
        got = None
        check.fail("%s: get_attributes gave no JSON: %s: %r" % (what, e, text))
    return got if check(isinstance(got, dict), "%s: get_attributes: %r" % (what, text)) else None


@pytest.mark.parametrize("weak", [False, True], ids=["linked", "weak"])
def test_values(btc, check, receiver, db, weak):
    """Attribute types (string, integer, double, bool) survive the trip as
    JSON types; nested dict attributes are flattened with dots; the report's
    attributes override automatic ones (hostname) and BACKTRACE_ATTRIBUTES;
    get_attributes gives the same, without the automatic ones. Linked, and
    weak under LD_PRELOAD."""
    how = "weak build under LD_PRELOAD" if weak else "linked build"
    rx = receiver("ok")
    env = btc.env(db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TIMEOUT=SEND_TIMEOUT,
                  BACKTRACE_ATTRIBUTES=json.dumps(VALUES_ENV_ATTRS))
    r = prog(btc, "api_values", ["values"], env, weak=weak, what="api_values values (%s)" % how)
    exit0(check, r)
    rc(check, r, ("str", "int", "int_big", "int_min", "double", "double_int", "double_tenth",
                   "double_huge", "double_tiny", "double_neg", "int_max", "bool_true",
                   "bool_seven", "bool_false", "str_numeric", "retype1", "retype2", "dict",
                   "hostname", "env_override", "env_override_dict", "capture"), 0)
    rc(check, r, "send", BTCRASH_SENT)
    # get_attributes: what was set, over BACKTRACE_ATTRIBUTES; flat; no
    # automatic attributes (header: they are added when it is sent).
    got = parse_attrs(check, r, "values", how)
    if got is not None:
        check_values_attrs(check, got, "%s: get_attributes" % how, VALUES_EXPECT)
        check.eq(sorted(got), sorted(VALUES_EXPECT), "%s: get_attributes' names" % how)
    ups = received(check, rx, 1, how)
    check.eq(len(rx.snapshot()), 1, "%s: requests to the receiver" % how)
    if not ups:
        return check.fail("%s: the receiver got no report\n--- stderr:\n%s" % (how, r.err[-2000:]))
    up = ups[0]
    check_common(check, btc.build, up, r, how, "api_values" + ("_weak" if weak else ""), None,
                 None, hostname="api-override-host")
    check_values_attrs(check, up.attrs, "%s: sent report" % how, VALUES_EXPECT)
    check_first_frame(check, btc.build, up, how, "detect_error", "api_values.c",
                      "@values_capture")
    stored_same(check, up, db, how)


# ---------------------------------------------------------------------------
# bad input

BAD_EXPECT = {
    "init_bad_timeout": EINVAL, "init_bad_attributes": EINVAL,
    "init_bad_attributes_json": EINVAL, "init_bad_endpoint": EINVAL,
    "attr_null_r": EINVAL, "attr_null_key": EINVAL, "attr_null_value": EINVAL,
    "attr_empty_key": EINVAL, "attr_bad_utf8_value": EUTF8, "attr_bad_utf8_key": EUTF8,
    "int_null_r": EINVAL, "int_null_key": EINVAL, "int_empty_key": EINVAL,
    "double_null_r": EINVAL, "double_null_key": EINVAL, "double_nan": EINVAL,
    "double_inf": EINVAL, "double_neg_inf": EINVAL, "bool_null_r": EINVAL,
    "bool_null_key": EINVAL, "dict_null_r": EINVAL, "dict_null_json": EINVAL,
    "dict_invalid_json": EINVAL, "dict_trailing_garbage": EINVAL, "dict_empty_text": EINVAL,
    "dict_not_object": EINVAL, "dict_string": EINVAL, "dict_array": ENOTPRIMITIVE,
    "dict_null": ENOTPRIMITIVE, "dict_nested_array": ENOTPRIMITIVE,
    "dict_nested_null": ENOTPRIMITIVE, "dict_partial": ENOTPRIMITIVE,
    "dict_bad_utf8": (EINVAL, EUTF8),  # invalid JSON text, or a bad string in it
    "get_attributes_null_r_is_null": 1,
    "ann_null_r": EINVAL, "ann_null_key": EINVAL, "ann_null_value": EINVAL,
    "ann_invalid_json": EINVAL, "ann_bare_word": EINVAL, "anndict_null_r": EINVAL,
    "anndict_null_json": EINVAL, "anndict_invalid_json": EINVAL, "anndict_not_object": EINVAL,
    "attach_null_r": EINVAL, "attach_null_path": EINVAL, "attach_empty_path": EINVAL,
    "get_attachments_null_r": 0,
    "get_attachments_null_out": 0,  # header: "@paths may be NULL"; no attachment yet
    "get_attachments_none": 0,
    "error_null_r": EINVAL, "error_both_null": EINVAL, "error_bad_utf8_type": EUTF8,
    "error_bad_utf8_message": EUTF8, "capture_null_r": EINVAL, "log_null_r": EINVAL,
    "log_null_fmt": EINVAL, "log_bad_utf8": EUTF8, "send_null_r": EINVAL, "free_null_ok": 1,
    "last_bad_attr_json": EINVAL, "last_attr_not_object": EINVAL,
    "last_attr_array_value": ENOTPRIMITIVE, "last_attr_null_value": ENOTPRIMITIVE,
    "last_bad_ann_json": EINVAL, "last_ann_not_object": EINVAL,
    "good_attr": 0, "capture": 0, "send": BTCRASH_SENT, "send_again": EALREADY,
}

# Codes whose explanation must be specific (not the generic text for
# unknown codes) and distinct from each other.
STRERROR_CODES = [BTCRASH_SENT, BTCRASH_PENDING, BTCRASH_STORED, EREJECTED, EHELPER, ERUNTIME,
                  ENOTPRIMITIVE, EUTF8, EINVAL, EALREADY, ETIMEDOUT, ENOMEM, -errno.ENOENT]
UNKNOWN_CODES = [-987654, 987654, -1099]


@pytest.fixture(scope="module")
def bad_run(build, tmp_path_factory):
    """`api_values bad` against a receiver, once for all the bad-call tests:
    (the run, the requests the receiver got, the database)."""
    rx = rxmod.Receiver(mode="ok").start()
    try:
        tmp = tmp_path_factory.mktemp("bad")
        db = str(tmp / "db")
        env = dict(base_env(), BACKTRACE_DATABASE_PATH=db, BACKTRACE_ENDPOINT=rx.url,
                   BACKTRACE_TIMEOUT=SEND_TIMEOUT)
        (tmp / "cwd").mkdir()
        r = start(build, build.prog("api_values"), ["bad"], env, str(tmp / "cwd"))
        # Exactly the one good report arrives: none of the failed
        # send_last_exception calls, and the endpoint of the failed
        # initialize is not applied.
        rx.wait_requests(1, 10)
        time.sleep(0.5)
        yield r, rx.snapshot(), db
    finally:
        rx.stop()


@pytest.mark.parametrize("name", list(BAD_EXPECT))
def test_bad_call(bad_run, check, name):
    """Each bad argument gives its documented code, never a crash (NULL for
    every pointer, invalid JSON, non-primitive attribute values, invalid
    UTF-8, NaN); the report is sent once."""
    rc(check, bad_run[0], name, BAD_EXPECT[name])


def test_bad(bad_run, build, check):
    """After every bad call the program keeps running; failed calls set
    nothing and send nothing: the one report holds only the good attribute."""
    r, reqs, db = bad_run
    exit0(check, r)
    check(not r.lingering, "%s: its process group outlived it: %r" % (r.what, r.lingering))
    check("ALIVE" in r.lines, "api_values bad did not get to its end (no ALIVE line)")
    ups = received(check, None, 1, "bad", reqs=reqs)
    check.eq(len(reqs), 1, "requests to the receiver (only the good report; failed "
             "send_last_exception calls send nothing)")
    check.eq(sorted(reports(db)), [u.uuid for u in ups], "reports in the database")
    got = parse_attrs(check, r, "bad", "get_attributes after the bad calls")
    check.eq(got, {"bad.case": "survived"}, "get_attributes after the bad calls (failed calls, "
             "a failing set_dict_attributes too, set nothing)")
    if not ups:
        return
    up = ups[0]
    check_common(check, build, up, r, "bad", "api_values", None, None)
    leaked = sorted(k for k in up.attrs if k in ("k", "a", "a.b", "partial.good", "partial.bad"))
    check.eq(leaked, [], "sent attributes set by failed calls")
    check.eq(up.attrs.get("bad.case"), "survived", "sent attributes['bad.case']")
    check.eq(sorted(up.ann), ["Memory Maps", "Process"], "sent annotations (none from the "
             "failed set_annotation and btcrash_report_log calls)")
    check.eq(up.names, ["upload_file"], "parts (no attachment from the failed calls)")
    stored_same(check, up, db, "bad")


def test_strerror(bad_run, btc, check):
    """btcrash_strerror: a specific text for every code seen and documented,
    one text for each; unknown codes get the one generic text; other errno
    values strerror's."""
    seen = sorted({v for v in bad_run[0].rcs.values() if v < 0})
    codes = sorted(set(STRERROR_CODES) | set(seen))
    texts = strerror_texts(btc, codes + UNKNOWN_CODES)

    def canon(code, text):  # a generic text may name the code
        return text.replace(str(code), "#").replace(str(abs(code)), "#")

    generic = {canon(c, texts.get(c) or "") for c in UNKNOWN_CODES}
    print("generic text(s) for unknown codes: %r" % sorted(generic))
    check(len(generic) == 1 and "" not in generic, "btcrash_strerror of the unknown codes %r: "
          "one generic text, got %r" % (UNKNOWN_CODES, generic))
    check.eq(texts.get(-errno.ENOENT), os.strerror(errno.ENOENT), "btcrash_strerror(-ENOENT)")
    by_text = {}
    for c in codes:
        txt = texts.get(c)
        print("  strerror(%s) = %r" % (code_name(c), txt))
        if check(txt, "btcrash_strerror(%s) is empty or missing" % code_name(c)):
            check(canon(c, txt) not in generic, "btcrash_strerror(%s) = %r is the generic text for "
                  "unknown codes" % (code_name(c), txt))
            by_text.setdefault(txt, []).append(c)
    dups = {k: v for k, v in by_text.items() if len(v) > 1}
    check(not dups, "btcrash_strerror gives one text for several codes: %r" % dups)


# ---------------------------------------------------------------------------
# content


CONTENT_LOG = ["first line", "step 2 of three: 0.50",
               'quotes "q" backslash \\ tab\t newline\n end', "unicode na\u00efve \u2713",
               "x" * 3000, ""]
CONTENT_ANN = {
    "ann.array": [1, 2, {"x": None}], "ann.string": "just text", "ann.number": 3.5,
    "ann.int": -12, "ann.null": None, "ann.bool": True,
    "Settings": {"nested": {"deep": [True, False, None]}, "s": "\u00e9"},
    "Dict one": {"a": 1}, "Dict two": [1, "two", []], "Dict three": {},
}
AUTO_ANN = ["Memory Maps", "Process"]


def test_content(btc, check, receiver, db):
    """The "Log" annotation holds the lines with numeric timestamps of now;
    attachments arrive as parts byte for byte (with BACKTRACE_ATTACHMENTS);
    set_error gives the classifier and error.message, a NULL type a
    "Message" report; annotations with any JSON value arrive intact;
    send_last_exception carries its message, attributes and annotations."""
    d = btc.newdir("files")
    a_txt, b_bin, e_log = (os.path.join(d, n) for n in ("a.txt", "b.bin", "env.log"))
    a_data = b"first attachment\nsecond line\n"
    b_data = bytes(range(256)) + b"\r\n--\r\n--boundary\r\n\r\n" + bytes(range(255, -1, -1)) * 300
    e_data = b"from BACKTRACE_ATTACHMENTS\n"
    for p, data in ((a_txt, a_data), (b_bin, b_data), (e_log, e_data)):
        with open(p, "wb") as f:
            f.write(data)
    rx = receiver("ok")
    env = btc.env(db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TIMEOUT=SEND_TIMEOUT,
                  BACKTRACE_ATTACHMENTS=e_log)
    r = prog(btc, "api_values", ["content", a_txt, b_bin], env)
    exit0(check, r)
    rc(check, r, ("log1", "log2", "log3", "log4", "log5", "log6", "error", "ann_array",
                   "ann_string", "ann_number", "ann_int", "ann_null", "ann_bool", "ann_object",
                   "ann_dict", "capture", "msg_error", "msg_capture"), 0)
    rc(check, r, ("send", "msg_send", "last"), BTCRASH_SENT)
    rc(check, r, "attachments", 2)
    check.eq([ln for ln in r.lines if ln.startswith("ATTACHMENT ")],
             ["ATTACHMENT 0 " + a_txt, "ATTACHMENT 1 " + b_bin],
             "btcrash_report_get_attachments: the paths in order")
    ups = received(check, rx, 3, "content")
    check.eq(len(rx.snapshot()), 3, "requests (report, message report, send_last_exception)")
    by_msg = {u.attrs.get("error.message"): u for u in ups}
    start_s, end_s = int(r.value("LOG_START") or 0), int(r.value("LOG_END") or 0)

    up = by_msg.get("key 'port' is missing")
    what = "content report"
    if check(up is not None, "no report with error.message \"key 'port' is missing\"; got %r"
             % list(by_msg)):
        check_common(check, btc.build, up, r, what, "api_values", "key 'port' is missing",
                     ["ConfigError"])
        log = up.ann.get("Log")
        if check(isinstance(log, list), "%s: annotations['Log'] is %r, expected a list"
                 % (what, log)):
            check.eq(log_msgs(log), CONTENT_LOG, "%s: Log messages" % what)
            prev = None
            for i, e in enumerate(log):
                if not check(isinstance(e, dict) and sorted(e) == ["msg", "ts"],
                             "%s: Log[%d] = %r, expected {ts, msg}" % (what, i, e)):
                    continue
                ts = e["ts"]
                if not check(isinstance(ts, (int, float)) and not isinstance(ts, bool),
                             "%s: Log[%d].ts = %r is not a number" % (what, i, ts)):
                    continue
                check(start_s - 1 <= ts <= end_s + 1, "%s: Log[%d].ts = %r is not the time of "
                      "the call (between %d and %d)" % (what, i, ts, start_s, end_s))
                check(prev is None or ts >= prev, "%s: Log timestamps go back: %r then %r"
                      % (what, prev, ts))
                prev = ts
        # Annotations, any JSON, and no others.
        for k, v in CONTENT_ANN.items():
            if check(k in up.ann, "%s: annotation %r missing (have %r)" % (what, k,
                                                                          sorted(up.ann))):
                check(up.ann[k] == v and json.dumps(up.ann[k]) == json.dumps(v),
                      "%s: annotation %r = %s, expected %s" % (
                          what, k, json.dumps(up.ann[k]), json.dumps(v)))
        check.eq(sorted(up.ann), sorted(list(CONTENT_ANN) + ["Log"] + AUTO_ANN),
                 "%s: annotation names" % what)
        # Attachments, byte for byte
        check.eq(up.names, sorted(["upload_file", "attachment_a.txt", "attachment_b.bin",
                                   "attachment_env.log"]),
                 "%s: part names (the report's two attachments and BACKTRACE_ATTACHMENTS')"
                 % what)
        for name, data in (("attachment_a.txt", a_data), ("attachment_b.bin", b_data),
                           ("attachment_env.log", e_data)):
            p = up.parts.get(name)
            if p is not None:
                check(p == data, "%s: part %s: %d bytes, differs from the file (%d bytes)"
                      % (what, name, len(p), len(data)))
        check_first_frame(check, btc.build, up, what, "detect_error", "api_values.c",
                          "@values_capture")
        check_no_btcrash_frames(check, up, what)
        stored_same(check, up, db, what)

    up = by_msg.get("only a message")
    if check(up is not None, "no report with error.message 'only a message'"):
        check_common(check, btc.build, up, r, "message report", "api_values", "only a message",
                     None, error_type="Message")
        check.eq(up.names, ["attachment_env.log", "upload_file"], "message report: part names "
                 "(BACKTRACE_ATTACHMENTS' only, not the previous report's attachments)")

    up = by_msg.get("last exception message")
    what = "send_last_exception report"
    if check(up is not None, "no report from send_last_exception"):
        check_common(check, btc.build, up, r, what, "api_values", "last exception message", None)
        check.eq(up.attrs.get("last.attr"), "yes", "%s: attributes['last.attr']" % what)
        check(same_typed(up.attrs.get("last.n"), 5), "%s: attributes['last.n'] = %r, expected 5 "
              "(nested, flattened)" % (what, up.attrs.get("last.n")))
        check.eq(up.ann.get("Last annotation"), {"list": [1, "two", None, {"k": False}]},
                 "%s: annotations['Last annotation']" % what)
        # At the call's first line (its @last_call marker is on its last).
        check_first_frame(check, btc.build, up, what, "report_last_exception", "api_values.c",
                          "return btcrash_send_last_exception(")
        check_no_btcrash_frames(check, up, what)
        stored_same(check, up, db, what)


# ---------------------------------------------------------------------------
# stack vs gdb


def need_gdb():
    gdb = shutil.which("gdb")
    if not gdb:
        pytest.skip("gdb not found")
    return gdb


def gdb_api_stacks(gdb, src, exe, args, env, cwd, names=("capture", "last")):
    """gdb's `bt` at each API call of @names (capture: the first call of
    btcrash_report_capture_stack, last: of btcrash_send_last_exception), in
    that order: (gdb's frames inside btcrash, our own frames from the caller
    on, all frames)."""
    funcs = {"capture": "btcrash_report_capture_stack", "last": "btcrash_send_last_exception"}
    argv = [gdb, "-batch", "-nx", "-iex", "set debuginfod enabled off",
            "-ex", "set filename-display absolute", "-ex", "set pagination off",
            "-ex", "set width 0", "-ex", "set breakpoint pending on"]
    for name in names:
        argv += ["-ex", "break " + funcs[name]]
    argv += ["-ex", "run"]
    for i, name in enumerate(names):
        argv += (["-ex", "continue"] if i else []) + [
            "-ex", "echo ==== bt %s\\n" % name, "-ex", "bt", "-ex", "echo ==== end\\n"]
    argv += ["-ex", "kill", "--args", exe] + list(args)
    out = run(argv, env, cwd, timeout=GDB_TIMEOUT, linger_wait=2.0).out
    stacks = {}
    for name in names:
        m = re.search(r"==== bt %s\n(.*?)==== end" % name, out, re.S)
        frames = parse_gdb_bt(m.group(1)) if m else []
        i = 0
        while i < len(frames) and not is_own(frames[i].file, src):
            i += 1
        stacks[name] = (frames[:i], [f for f in frames[i:] if is_own(f.file, src)], frames)
    return stacks, out


@pytest.mark.parametrize("mode", ["main", "thread"])
def test_stack(btc, check, receiver, db, mode):
    """btcrash_report_capture_stack and btcrash_send_last_exception: the
    calling thread is mainThread, its first frame is the function that called
    the API (no btcrash frames), and its frames equal gdb's from the caller
    on; from the main thread and from a worker thread, whose report also
    holds the other thread."""
    gdb = need_gdb()
    src = os.path.join(btc.build.src, "api_stack.c")
    exe = btc.build.prog("api_stack")
    stacks, out = gdb_api_stacks(gdb, btc.build.src, exe, [mode], btc.env(btc.newdir("db-gdb")),
                                 btc.newdir("gdb"))
    for name, marker in (("capture", "@capture"), ("last", "@last")):
        inside, own, _ = stacks[name]
        print("gdb %s/%s: %d frame(s) in btcrash, own: %r" % (mode, name, len(inside), own))
        want0 = ("load_settings" if name == "capture" else "handle_failure", src,
                 marker_line(src, marker))
        if not check(own and (own[0].func, norm(own[0].file), own[0].line) == want0,
                     "[harness self-check] gdb's first own frame at %s (%s) is %r, expected %r\n%s"
                     % (name, mode, own[0] if own else None, want0, out[-3000:])):
            return
    rx = receiver("ok")
    env = btc.env(db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TIMEOUT=SEND_TIMEOUT)
    r = prog(btc, "api_stack", [mode], env, what="api_stack %s" % mode)
    exit0(check, r)
    rc(check, r, "capture", 0)
    rc(check, r, ("send", "last"), BTCRASH_SENT)
    caller, main_tid = r.value("CALLER_TID"), r.value("MAIN_TID")
    check.eq(main_tid, str(r.pid), "MAIN_TID (the process's pid)")
    ups = received(check, rx, 2, mode)
    check.eq(len(rx.snapshot()), 2, "%s: requests (report and send_last_exception)" % mode)
    by_msg = {u.attrs.get("error.message"): u for u in ups}
    for name, msg, cls in (("capture", "stack test", ["StackError"]),
                           ("last", "handled failure", None)):
        up = by_msg.get(msg)
        what = "%s thread, %s" % (mode, "capture_stack" if name == "capture"
                                  else "send_last_exception")
        if not check(up is not None, "%s: no report with error.message %r" % (what, msg)):
            continue
        check_common(check, btc.build, up, r, what, "api_stack", msg, cls, tid=caller)
        threads = up.report.get("threads") or {}
        ct = threads.get(caller) if isinstance(threads.get(caller), dict) else {}
        if mode == "thread":
            check.eq(ct.get("name"), "api-caller", "%s: the calling thread's name" % what)
            mt = threads.get(main_tid)
            if check(isinstance(mt, dict), "%s: the other thread (main, tid %s) is not in the "
                     "report: %r" % (what, main_tid, list(threads))):
                mframes = report_frames(up.report, mt)
                want = ("main", src, marker_line(src, "@main_join"))
                check(any((f.func, norm(f.file), f.line) == want for f in mframes),
                      "%s: the main thread has no frame main at api_stack.c:%d (pthread_join); "
                      "stack:\n    %s" % (what, want[2], "\n    ".join(map(repr, mframes))))
            check.eq(len(threads), 2, "%s: threads in the report (%r)" % (
                what, {k: v.get("name") for k, v in threads.items() if isinstance(v, dict)}))
        else:
            check.eq(len(threads), 1, "%s: threads in the report" % what)
        check_no_btcrash_frames(check, up, what)
        rframes = main_frames(up)
        gown = stacks[name][1]
        rown = [f for f in rframes if is_own(f.file, btc.build.src)]
        check(rframes and gown and rframes[0].key() == gown[0].key(),
              "%s: the first frame is %r, gdb's caller frame is %r" % (
                  what, rframes[0] if rframes else None, gown[0] if gown else None))
        problems = []
        for i in range(max(len(gown), len(rown))):
            g, f = (gown[i] if i < len(gown) else None), (rown[i] if i < len(rown) else None)
            if g is None or f is None or g.key() != f.key():
                problems.append("own frame %d: gdb %r, report %r" % (i, g, f))
        check(not problems, "%s: the calling thread's frames differ from gdb's:\n  %s\nfull "
              "stacks (gdb | report):\n%s" % (what, "\n  ".join(problems),
                                              format_stacks("gdb", stacks[name][2], "report",
                                                            rframes)))
        stored_same(check, up, db, what)


def test_stack_inline(btc, check, receiver, db):
    """The caller of btcrash_report_capture_stack inlined at -O2: the report's
    first frame is the inlined function (inlined), then the function it is
    inlined into, as gdb shows them."""
    gdb = need_gdb()
    src = os.path.join(btc.build.src, "api_inline.c")
    exe = btc.build.prog("api_inline")
    stacks, out = gdb_api_stacks(gdb, btc.build.src, exe, [], btc.env(btc.newdir("db-gdb")),
                                 btc.newdir("gdb"), names=("capture",))
    _, gown, gall = stacks["capture"]
    want = [("inner_check", src, marker_line(src, "@capture"), True),
            ("validate", src, marker_line(src, "@inline_call"), False),
            ("main", src, marker_line(src, "@main"), None)]  # outermost: gdb cannot tell

    def same(frames, wanted):
        return len(frames) == len(wanted) and all(
            f[:3] == w[:3] and (w[3] is None or f[3] == w[3]) for f, w in zip(frames, wanted))

    got = [(f.func, norm(f.file), f.line, f.inlined) for f in gown]
    if not check(same(got, want), "[harness self-check] gdb's own frames %r, expected %r\n%s"
                 % (got, want, out[-3000:])):
        return
    rx = receiver("ok")
    r = prog(btc, "api_inline", [], btc.env(db, BACKTRACE_ENDPOINT=rx.url,
                                            BACKTRACE_TIMEOUT=SEND_TIMEOUT))
    exit0(check, r)
    rc(check, r, "capture", 0)
    rc(check, r, "send", BTCRASH_SENT)
    ups = received(check, rx, 1, "inline")
    if not check(ups, "no report received"):
        return
    up = ups[0]
    check_common(check, btc.build, up, r, "inline", "api_inline",
                 "captured in an inlined function", ["InlineError"])
    check_no_btcrash_frames(check, up, "inline")
    rframes = main_frames(up)
    rown = [(f.func, norm(f.file), f.line, f.inlined) for f in rframes
            if is_own(f.file, btc.build.src)]
    check(rframes and (rframes[0].func, norm(rframes[0].file), rframes[0].line) == want[0][:3],
          "the first frame is %r, expected the inlined caller %s at %s:%d"
          % (rframes[0] if rframes else None, want[0][0], "api_inline.c", want[0][2]))
    check(same(rown, want), "own frames (function, file, line, inlined) differ from gdb's:\n"
          "  report %r\n  gdb    %r\nfull stacks (gdb | report):\n%s" % (
              rown, want, format_stacks("gdb", gall, "report", rframes)))


# ---------------------------------------------------------------------------
# attachments, flush, fork


def test_attach(btc, check, receiver, db):
    """An attachment is read when the report is sent, not when it is added;
    a missing one does not stop the report, which then carries the others
    and a note naming the missing one."""
    d = btc.newdir("files")
    path, missing = os.path.join(d, "late.txt"), os.path.join(d, "missing.bin")
    with open(path, "wb") as f:
        f.write(b"content at add\n")
    rx = receiver("ok")
    r = prog(btc, "api_modes", ["attach", path, missing, "attach"],
             btc.env(db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TIMEOUT=SEND_TIMEOUT))
    exit0(check, r)
    rc(check, r, ("attach", "attach_missing"), 0)
    rc(check, r, "send", BTCRASH_SENT)
    ups = received(check, rx, 1, "attach")
    if not check(ups, "no report received"):
        return
    up = ups[0]
    check.eq(up.names, ["attachment_late.txt", "upload_file"],
             "part names (the missing attachment skipped)")
    check.eq(up.parts.get("attachment_late.txt"), b"content at send\n",
             "attachment_late.txt: the file's content when the report was sent")
    check.eq(up.ann.get("btcrash"), {"attachments": [
        "attachment %s skipped: No such file or directory" % missing]},
        "annotations['btcrash']: the note on the missing attachment")


def test_flush_pending(btc, check, receiver, db):
    """An API report the server did not accept (HTTP 500) stays pending with
    a copy of its attachment, and `btcrash flush` sends it later, byte for
    byte, with the attachment as it was when the report was sent."""
    d = btc.newdir("files")
    path = os.path.join(d, "late.txt")
    with open(path, "wb") as f:
        f.write(b"content at add\n")
    rx = receiver(500)
    env = dict(BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TIMEOUT=SEND_TIMEOUT)
    r = prog(btc, "api_modes", ["attach", path, os.path.join(d, "none"), "flush"],
             btc.env(db, **env))
    exit0(check, r)
    rc(check, r, "send", BTCRASH_PENDING)
    stored = reports(db)
    if not check(len(stored) == 1, "reports stored: %r" % sorted(stored)):
        return
    rep = list(stored.values())[0]
    check.eq(rep.state_name, "pending", "state after HTTP 500 (%s)" % rep.state)
    with open(path, "wb") as f:
        f.write(b"changed after the send\n")
    rx.set_mode("ok")
    # Later, once the 500's backoff is over.
    backoff_over(db)
    n0 = len(rx.snapshot())
    fr = btc.cmd(["flush"], db, **env)
    print("flush: %s" % (fr.out + fr.err).strip())
    check.eq(fr.exitcode, 0, "exit status of `btcrash flush`")
    ups = received(check, rx, n0 + 1, "flush", reqs=rx.wait_requests(n0 + 1, 10)[n0:])
    if not check(len(ups) == 1, "requests during flush: %d" % len(ups)):
        return
    up = ups[0]
    check.eq(up.uuid, rep.uuid, "uuid of the flushed report")
    check(up.raw == rep.raw, "flushed upload_file differs from the stored report")
    check.eq(up.parts.get("attachment_late.txt"), b"content at send\n",
             "flushed attachment: the content when the report was sent")
    check.eq(reports(db)[rep.uuid].state_name, "sent", "state after flush")


def test_fork(btc, check, receiver, db):
    """The API works in a child after fork and in the parent afterwards:
    three reports, each with its own process's pid and thread."""
    rx = receiver("ok")
    r = prog(btc, "api_modes", ["fork"], btc.env(db, BACKTRACE_ENDPOINT=rx.url,
                                                 BACKTRACE_TIMEOUT=SEND_TIMEOUT))
    exit0(check, r)
    rc(check, r, ("send_parent_before", "send_child", "send_parent_after"), BTCRASH_SENT)
    rc(check, r, "child_status", 0)
    child = r.value("CHILD_PID")
    ups = received(check, rx, 3, "fork")
    check.eq(len(rx.snapshot()), 3, "requests (before fork, child, after)")
    by_tag = {u.attrs.get("mode.tag"): u for u in ups}
    for tag, pid in (("parent-before", r.pid), ("child", int(child) if child else None),
                     ("parent-after", r.pid)):
        u = by_tag.get(tag)
        if not check(u is not None, "no report tagged %s (got %r)" % (tag, list(by_tag))):
            continue
        check.eq(u.attrs.get("process.id"), pid, "%s: attributes['process.id']" % tag)
        check.eq(u.report.get("mainThread"), str(pid), "%s: mainThread" % tag)
        fr = main_frames(u)
        check.eq(fr[0].func if fr else None, "send_tagged", "%s: first frame" % tag)
    check(child is not None and int(child) != r.pid, "CHILD_PID %r: not the parent's" % child)


# ---------------------------------------------------------------------------
# threads


def test_threads(btc, check, receiver, db):
    """8 threads send 50 reports each at once against the receiver: every
    send returns BTCRASH_SENT, all 400 arrive, with 400 distinct uuids, each
    once with its own attributes; the report every thread wrote into at once
    holds every thread's attributes and log lines, in each thread's order."""
    nthreads, per = 8, 50
    total = nthreads * per
    rx = receiver("ok")
    env = btc.env(db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TIMEOUT=SEND_TIMEOUT)
    r = prog(btc, "api_threads", [str(nthreads), str(per)], env, timeout=THREADS_TIMEOUT)
    exit0(check, r)
    check.eq(r.value("RESULT"), "sent=%d other=0" % total, "api_threads result (sends that "
             "returned BTCRASH_SENT)")
    bad = collections.Counter(" ".join(ln.split(" ", 4)[3:]) for ln in r.lines
                              if ln.startswith("BADRC "))
    check(not bad, "sends that did not return BTCRASH_SENT, by code: %r" % dict(bad))
    rc(check, r, "shared_send", BTCRASH_SENT)
    ups = received(check, rx, total + 1, "threads", timeout=30)
    print("receiver got %d requests" % len(rx.snapshot()))
    check.eq(len(rx.snapshot()), total + 1, "requests (%d reports + the shared one)" % total)
    check.eq(len(ups), total + 1, "distinct uuids among the reports received")
    grid, shared = {}, []
    for u in ups:
        a = u.attrs
        if a.get("error.message") == "written by every thread":
            shared.append(u)
            continue
        key = (a.get("thread.index"), a.get("thread.seq"))
        grid.setdefault(key, []).append(u)
        log = u.ann.get("Log")
        if log_msgs(log) != ["thread %s report %s" % key]:
            check.fail("report %s (thread %s seq %s): Log %r, expected its one line"
                       % (u.uuid, key[0], key[1], log))
        fr = main_frames(u)
        if not fr or fr[0].func != "send_one":
            check.fail("report %s: first frame %r, expected send_one"
                       % (u.uuid, fr[0] if fr else None))
    want = {(i, j) for i in range(nthreads) for j in range(per)}
    missing = sorted(want - set(grid))
    check.eq(missing[:20], [], "(thread, seq) reports that never arrived (%d in all)"
             % len(missing))
    check.eq(sorted(k for k, v in grid.items() if len(v) > 1)[:20], [],
             "(thread, seq) reports that arrived more than once")
    check.eq(sorted(set(grid) - want, key=repr)[:20], [],
             "reports with unexpected thread.index/seq")
    if check(len(shared) == 1, "shared reports received: %d" % len(shared)):
        s = shared[0]
        for i in range(nthreads):
            check(same_typed(s.attrs.get("shared.t%d" % i), per - 1), "shared report: attributes"
                  "['shared.t%d'] = %r, expected %d (the last value that thread set)"
                  % (i, s.attrs.get("shared.t%d" % i), per - 1))
        msgs = log_msgs(s.ann.get("Log")) or []
        check.eq(len(msgs), total, "shared report: Log lines")
        for i in range(nthreads):
            mine = [m for m in msgs if m.startswith("t%d " % i)]
            check.eq(mine, ["t%d %d" % (i, j) for j in range(per)],
                     "shared report: thread %d's log lines, all there in order" % i)


# ---------------------------------------------------------------------------
# modes: no global handler, linked vs weak

MODE_TAG = "mode-check"


@pytest.fixture(scope="module")
def baseline(build, tmp_path_factory):
    """api_modes_weak send-crash without btcrash: how the program dies
    without it."""
    tmp = tmp_path_factory.mktemp("baseline")
    env = dict(base_env(), BACKTRACE_DATABASE_PATH=str(tmp / "db"))
    return start(build, build.prog("api_modes_weak"), ["send-crash", MODE_TAG], env, str(tmp),
                 what="api_modes_weak send-crash without btcrash (baseline)")


@pytest.mark.parametrize("weak,preload,disabled", [
    (False, False, True), (True, True, True), (False, False, False), (True, True, False),
    (False, True, True)], ids=["linked-disabled", "weak-disabled", "linked-handler",
                               "weak-handler", "linked+preload-disabled"])
def test_modes(btc, check, receiver, db, baseline, weak, preload, disabled):
    """BACKTRACE_DISABLE_GLOBAL_HANDLER=1: a crash gives no report (nothing
    stored, nothing sent) and the program dies as without btcrash (SIGSEGV,
    same core-dump bit), while the API report sent before it arrives. The
    program works linked with -lbtcrash and unlinked (weak) under
    LD_PRELOAD; with the handler on (control), the crash is reported too."""
    how = "%s%s, %s" % ("weak under LD_PRELOAD" if weak else "linked",
                        " + LD_PRELOAD" if preload and not weak else "",
                        "BACKTRACE_DISABLE_GLOBAL_HANDLER=1" if disabled else
                        "global handler on (control)")
    if not check.eq(baseline.termsig, signal.SIGSEGV, "[harness self-check] the baseline's "
                    "signal (%s)" % baseline.describe()):
        return
    rx = receiver("ok")
    env = btc.env(db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TIMEOUT=SEND_TIMEOUT,
                  BACKTRACE_DISABLE_GLOBAL_HANDLER="1" if disabled else None)
    r = prog(btc, "api_modes", ["send-crash", MODE_TAG], env, weak=weak, preload=preload,
             what="api_modes send-crash (%s)" % how)
    rc(check, r, "send", BTCRASH_SENT)
    check.eq(r.lines, ["RC send 0", "CRASHING"], "%s: stdout (the send, then the crash)" % how)
    check.eq(r.termsig, signal.SIGSEGV, "%s: the signal the program died of (%s); stderr:\n%s"
             % (how, r.describe(), r.err[-2000:]))
    check.eq(bool(os.WCOREDUMP(r.status)), bool(os.WCOREDUMP(baseline.status)),
             "%s: core-dump bit vs without btcrash" % how)
    want = ["Exception"] if disabled else ["Crash", "Exception"]
    rx.wait_requests(len(want), 15)
    time.sleep(1.0)  # a late crash report would show up here
    ups = received(check, rx, 0, how)
    kinds = sorted(str(u.attrs.get("error.type")) for u in ups)
    print("%s: receiver got %r" % (how, kinds))
    check.eq(kinds, want, "%s: error.type of the reports received" % how)
    check.eq(sorted(str(x.report.get("attributes", {}).get("error.type"))
                    for x in reports(db).values()), want,
             "%s: error.type of the reports in the database" % how)
    api = [u for u in ups if u.attrs.get("error.type") == "Exception"]
    if api:
        check_common(check, btc.build, api[0], r, how, "api_modes" + ("_weak" if weak else ""),
                     MODE_TAG, ["ModeCheck"])
        check.eq(api[0].attrs.get("mode.tag"), MODE_TAG, "%s: attributes['mode.tag']" % how)
    if disabled:
        check.eq(r.err, "", "%s: stderr (no crash summary: the handler is disabled)" % how)


def test_weak_unloaded(btc, check, receiver, baseline):
    """The weak build without btcrash says "not loaded", and runs as without
    it: it crashes where the program crashes, and with an endpoint set it
    sends nothing."""
    check(not baseline.lingering, "baseline: its process group outlived it: %r"
          % baseline.lingering)
    check.eq(baseline.lines, ["api_modes: btcrash is not loaded", "CRASHING"],
             "stdout of the weak build without btcrash, send-crash")
    check.eq(baseline.termsig, signal.SIGSEGV, "the weak build without btcrash, send-crash: "
             "its signal (%s)" % baseline.describe())
    rx = receiver("ok")
    r = prog(btc, "api_modes", ["send", MODE_TAG], btc.env(btc.newdir("db"),
                                                           BACKTRACE_ENDPOINT=rx.url),
             weak=True, preload=False, what="api_modes_weak send without btcrash")
    exit0(check, r)
    check.eq(r.lines, ["api_modes: btcrash is not loaded", "DONE"],
             "stdout of the weak build without btcrash, send")
    time.sleep(0.5)
    check.eq(len(rx.snapshot()), 0, "requests from the weak build without btcrash")


def test_initialize(btc, check, receiver, db):
    """btcrash_initialize overrides the environment for reports sent from
    then on, API reports and crashes alike: its endpoint and attributes;
    initialize(NULL) goes back to the environment alone."""
    rx_env, rx_init = receiver("ok"), receiver("ok")
    env = btc.env(db, BACKTRACE_ENDPOINT=rx_env.url, BACKTRACE_TIMEOUT=SEND_TIMEOUT,
                  BACKTRACE_ATTRIBUTES='{"env.attr": "e"}')
    r = prog(btc, "api_modes", ["init", rx_init.url, "init"], env)
    rc(check, r, ("init_endpoint", "init_null", "init_endpoint_again"), 0)
    rc(check, r, ("send_init", "send_env"), BTCRASH_SENT)
    check.eq(r.termsig, signal.SIGSEGV, "the signal the program died of (%s)" % r.describe())
    rx_init.wait_requests(2, 15)
    rx_env.wait_requests(1, 10)
    time.sleep(0.5)
    ups_init = received(check, rx_init, 0, "initialize's endpoint")
    ups_env = received(check, rx_env, 0, "the environment's endpoint")
    check.eq(sorted((u.attrs.get("error.type"), u.attrs.get("mode.tag")) for u in ups_init),
             [("Crash", None), ("Exception", "init-endpoint")],
             "reports at initialize's endpoint (the API report, then the crash after "
             "initialize again)")
    check.eq([(u.attrs.get("error.type"), u.attrs.get("mode.tag")) for u in ups_env],
             [("Exception", "env-endpoint")],
             "reports at the environment's endpoint (after initialize(NULL))")
    for u in ups_init:
        if u.attrs.get("mode.tag") == "init-endpoint":
            check.eq(u.attrs.get("init.attr"), "yes", "initialize's attributes in its report")
            check("env.attr" not in u.attrs, "the options' attributes field replaces "
                  "BACKTRACE_ATTRIBUTES (field by field), but env.attr=%r is there"
                  % u.attrs.get("env.attr"))
    for u in ups_env:
        check.eq(u.attrs.get("env.attr"), "e", "BACKTRACE_ATTRIBUTES after initialize(NULL)")
        check("init.attr" not in u.attrs, "initialize(NULL) kept the earlier options' "
              "attributes (init.attr=%r)" % u.attrs.get("init.attr"))


# The header's outcomes: a hung server is "time ran out" (BTCRASH_PENDING),
# or the helper killed at the deadline (-ETIMEDOUT, the report stored).
@pytest.mark.parametrize("mode,want,state", [
    (400, EREJECTED, "rejected"), (500, BTCRASH_PENDING, "pending"),
    ("hang", (BTCRASH_PENDING, ETIMEDOUT), "pending")], ids=["http400", "http500", "hang"])
def test_outcome(btc, check, receiver, db, mode, want, state):
    """btcrash_report_send's outcome for each server answer: HTTP 400 ->
    BTCRASH_EREJECTED (kept as rejected), 500 -> BTCRASH_PENDING (kept as
    pending), a hung server -> pending (or -ETIMEDOUT) within
    BACKTRACE_TIMEOUT."""
    rx = receiver(mode)
    tmo = 2.0
    env = btc.env(db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TIMEOUT="%g" % tmo)
    r = prog(btc, "api_modes", ["send", "outcome"], env, what="api_modes send (HTTP %s)" % mode)
    exit0(check, r)
    rc(check, r, "send", want)
    took = r.death_mono - r.start_mono
    check(took <= tmo + 1.5, "HTTP %s: the program took %.2f s; send blocks at most "
          "BACKTRACE_TIMEOUT (%.1f s)" % (mode, took, tmo))
    check.eq(len(rx.snapshot()), 1, "HTTP %s: requests" % mode)
    stored = reports(db)
    if check(len(stored) == 1, "HTTP %s: reports stored: %r" % (mode, sorted(stored))):
        rep = list(stored.values())[0]
        check.eq(rep.state_name, state, "HTTP %s: state (%s)" % (mode, rep.state))


def test_outcome_no_helper(btc, check, receiver, db, tmp_path):
    """A missing helper: BTCRASH_EHELPER, and (header) nothing stored."""
    rx = receiver("ok")
    env = btc.env(db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TIMEOUT="5",
                  BACKTRACE_HELPER_PATH=str(tmp_path / "no-such-dir" / "btcrash"))
    r = prog(btc, "api_modes", ["send", "nohelper"], env, what="api_modes send (no helper)")
    exit0(check, r)
    rc(check, r, "send", EHELPER)
    check.eq(len(rx.snapshot()), 0, "requests without a helper")
    check.eq(sorted(reports(db)), [], "reports stored without a helper")


def test_runtime(btc, check, receiver, db):
    """libbtcrash.so without libbtcrash-api.so beside it: btcrash_report_new
    returns NULL, every int function BTCRASH_ERUNTIME (the header), one line
    on stderr says why; strerror and version work; nothing crashes."""
    d = btc.newdir("lonely-lib")
    lib = os.path.join(d, "libbtcrash.so")
    shutil.copy2(os.path.realpath(btc.build.lib), lib)
    rx = receiver("ok")
    r = prog(btc, "api_modes", ["runtime"], btc.env(db, BACKTRACE_ENDPOINT=rx.url), weak=True,
             preload=lib, what="api_modes_weak runtime (no libbtcrash-api.so)")
    exit0(check, r)
    check("DONE" in r.lines, "the program did not get to its end")
    rc(check, r, "report_new_is_null", 1)
    rc(check, r, ("last", "send_null", "initialize"), ERUNTIME)
    check.eq(r.value("VERSION"), project_version(btc.build), "btcrash_version without the "
             "runtime")
    check.eq(r.value("STR %d" % ERUNTIME), strerror_texts(btc, [ERUNTIME]).get(ERUNTIME),
             "btcrash_strerror(BTCRASH_ERUNTIME) without the runtime (as with it)")
    why = re.escape("btcrash: the C API is unavailable: %s/libbtcrash-api.so: " % d)
    check(re.fullmatch(why + r"[^\n]+\n", r.err), "stderr: one line on the missing "
          "libbtcrash-api.so, once:\n%s" % r.err[-1000:])
    check.eq(len(rx.snapshot()), 0, "requests without the runtime")


# ---------------------------------------------------------------------------
# local mode and `btcrash show`


def test_local(btc, check, db):
    """No endpoint: send returns BTCRASH_STORED, the report is in the
    database, and `btcrash show <uuid>` (or a prefix) shows it: frames with
    file:line, the Log lines, the error; `btcrash list` lists it."""
    r = prog(btc, "api_values", ["local"], btc.env(db))
    exit0(check, r)
    rc(check, r, ("error", "log1", "log2", "capture"), 0)
    rc(check, r, "send", BTCRASH_STORED)
    stored = reports(db)
    if not check(len(stored) == 1, "reports in the database: %r\n--- stderr:\n%s"
                 % (sorted(stored), r.err[-2000:])):
        return
    rep = list(stored.values())[0]
    print("stored %s, state %s" % (rep.uuid, rep.state))
    check.eq((rep.state_name, (rep.state or {}).get("mode")), ("pending", "local"),
             "state of the stored report (pending, made in local mode)")
    a = rep.report.get("attributes") or {}
    check.eq(a.get("error.type"), "Exception", "stored attributes['error.type']")
    check.eq(a.get("error.message"), "stored, not sent", "stored attributes['error.message']")
    check.eq(rep.report.get("classifiers"), ["LocalError"], "stored classifiers")
    check.eq(log_msgs((rep.report.get("annotations") or {}).get("Log")),
             ["local line one", "local line 2"], "stored Log messages")
    src = os.path.join(btc.build.src, "api_values.c")
    line = marker_line(src, "@values_capture")
    shown = {}
    for arg in (rep.uuid, rep.uuid[:8]):
        s = btc.cmd(["show", arg], db)
        text = shown[arg] = ANSI_RE.sub("", s.out)
        what = "`btcrash show %s`" % arg
        check.eq(s.exitcode, 0, "exit status of " + what)
        for pat, desc in (
                (r"  %s reported Exception: stored, not sent" % re.escape(
                    btc.build.prog("api_values")), "the error line"),
                (r"\s+#0\s+0x[0-9a-f]+ detect_error at %s:%d" % (re.escape(src), line),
                 "frame #0 detect_error at api_values.c:%d" % line),
                (r"\s+#\d+\s+0x[0-9a-f]+ main at %s:\d+" % re.escape(src),
                 "a frame main at api_values.c:LINE"),
                (r'\s+\{"ts":\d+(\.\d+)?,"msg":"local line one"\}', "Log line 1"),
                (r'\s+\{"ts":\d+(\.\d+)?,"msg":"local line 2"\}', "Log line 2")):
            check(re.search("^" + pat + "$", text, re.M), "%s: no line of %s:\n%s"
                  % (what, desc, text[:3000]))
    check.eq(shown[rep.uuid[:8]], shown[rep.uuid], "`btcrash show` of a prefix vs of the uuid")
    ls = btc.cmd(["list"], db)
    check.eq(ls.exitcode, 0, "exit status of `btcrash list`")
    check(re.search(r"^%s\s+pending\s+.*\bapi_values\s+LocalError\s+detect_error at %s:%d$"
                    % (rep.uuid, re.escape(src), line), ls.out, re.M),
          "`btcrash list` has no row for %s (pending, api_values, LocalError, its top frame):\n%s"
          % (rep.uuid, ls.out))


# ---------------------------------------------------------------------------
# the example


DEMO_ATTRS = (("settings.format", "ini"), ("settings.size", 42), ("load.seconds", 0.25),
              ("settings.default", False), ("user.name", "ada"), ("user.id", 7),
              ("application.version", "1.2.3"), ("demo", True))


@pytest.mark.parametrize("name", ["api-demo", "api-demo-weak"])
def test_demo(btc, check, receiver, db, name):
    """examples/api_demo.c runs and exits 0 against the receiver: linked, and
    weak under LD_PRELOAD; both its reports arrive as it made them."""
    exe = os.path.join(btc.build.root, "bin", name)
    if not check(os.path.exists(exe), "example not built: %r" % exe):
        return
    weak = name.endswith("-weak")
    how = "%s%s" % (name, " under LD_PRELOAD" if weak else "")
    rx = receiver("ok")
    env = btc.env(db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TIMEOUT=SEND_TIMEOUT,
                  TMPDIR=btc.newdir("tmp"))
    r = start(btc.build, exe, [], env, btc.newdir("cwd"), preload=weak, what=how)
    check(not r.lingering, "%s: its process group outlived it: %r" % (how, r.lingering))
    exit0(check, r)
    ups = received(check, rx, 2, how)
    check.eq(len(rx.snapshot()), 2, "%s: requests (the report and send_last_exception)" % how)
    by_msg = {u.attrs.get("error.message"): u for u in ups}
    u = by_msg.get("settings: key 'port' is missing")
    if check(u is not None, "%s: no report with the error message: %r" % (how, list(by_msg))):
        check_common(check, btc.build, u, r, how, name, "settings: key 'port' is missing",
                     ["ConfigError"])
        for k, v in DEMO_ATTRS:
            check(same_typed(u.attrs.get(k), v), "%s: attributes[%r] = %r, expected %r"
                  % (how, k, u.attrs.get(k), v))
        att = r.value("  attachment 0:")
        check.eq(u.names, ["attachment_" + os.path.basename(str(att)), "upload_file"],
                 "%s: part names (the report's attachment, %s)" % (how, att))
        check.eq(u.parts.get("attachment_" + os.path.basename(str(att))),
                 b"# settings\nname = demo\n# port is missing\n", "%s: the attachment" % how)
        fr = main_frames(u)
        check.eq(fr[0].func if fr else None, "load_settings", "%s: first frame" % how)
    u = by_msg.get("api-demo: retry failed too")
    if check(u is not None, "%s: no send_last_exception report: %r" % (how, list(by_msg))):
        check_common(check, btc.build, u, r, how + " (send_last_exception)", name,
                     "api-demo: retry failed too", None)
        check(same_typed(u.attrs.get("attempt"), 2), "%s: attributes['attempt'] = %r, "
              "expected 2" % (how, u.attrs.get("attempt")))
        check.eq(u.ann.get("Retry"), {"delay.ms": 500}, "%s: annotations['Retry']" % how)
    sent = strerror_texts(btc, [BTCRASH_SENT]).get(BTCRASH_SENT)
    for line in ("api-demo: report: %s" % sent, "api-demo: send_last_exception: %s" % sent):
        check(line in r.lines, "%s: no outcome line %r on stdout:\n%s" % (how, line, r.out))


def test_demo_unloaded(btc, check, receiver):
    """api-demo-weak without btcrash says it is not loaded and exits 0
    without sending anything."""
    exe = os.path.join(btc.build.root, "bin", "api-demo-weak")
    if not check(os.path.exists(exe), "example not built: %r" % exe):
        return
    rx = receiver("ok")
    r = start(btc.build, exe, [], btc.env(btc.newdir("db"), BACKTRACE_ENDPOINT=rx.url),
              btc.newdir("cwd"), what="api-demo-weak without btcrash")
    check(not r.lingering, "its process group outlived it: %r" % r.lingering)
    exit0(check, r)
    check.eq(r.lines, ["api-demo: btcrash is not loaded; nothing to report"],
             "stdout of api-demo-weak without btcrash")
    time.sleep(0.3)
    check.eq(len(rx.snapshot()), 0, "requests from api-demo-weak without btcrash")
