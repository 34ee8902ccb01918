#!/usr/bin/env python3
"""Integration tests of the C API (include/btcrash.h, DESIGN.md §8).

Small programs in progs/ (api_values, api_stack, api_threads, api_modes) call
the API, each built twice: linked with -lbtcrash (<name>) and with weak
symbols (<name>_weak, run under LD_PRELOAD=libbtcrash.so or without btcrash).
They print "RC <name> <value>" for every checked call; this script knows what
each value must be, and checks what a local receiver (receiver.py) got, what
the crash database holds, what `btcrash show` prints, and how the reports'
stacks compare with gdb's.

All failures of a case are collected and printed, then the exit status is 1.
Every subprocess has a timeout: a hang fails the case instead of blocking.
Python 3 standard library only.

Usage: test_api.py --lib L --helper H --progs DIR --src DIR [--gdb GDB]
                   [--demo EXE --demo-weak EXE] CASE
       test_api.py --list
"""

import argparse
import errno
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import receiver as rxmod  # noqa: E402
from run_crash import (Checker, base_env, format_stacks, is_own, marker_line,  # noqa: E402
                       norm, parse_gdb_bt, report_frames)
from test_delivery import ANSI_RE, UUID_RE, HarnessError, reports, run  # noqa: E402

RUN_TIMEOUT = 60        # any one run of a test program or of the command
THREADS_TIMEOUT = 540   # the 8 x 50 reports run
GDB_TIMEOUT = 120
SEND_TIMEOUT = "20"     # BACKTRACE_TIMEOUT for runs against the receiver

EINVAL = -errno.EINVAL
EALREADY = -errno.EALREADY
ETIMEDOUT = -errno.ETIMEDOUT
ENOMEM = -errno.ENOMEM
BTCRASH_SENT, BTCRASH_PENDING, BTCRASH_STORED = 0, 1, 2
EREJECTED, EHELPER, ERUNTIME, ENOTPRIMITIVE, EUTF8 = -1001, -1002, -1003, -1004, -1005
CODE_NAMES = {0: "BTCRASH_SENT", 1: "BTCRASH_PENDING", 2: "BTCRASH_STORED",
              EREJECTED: "BTCRASH_EREJECTED", EHELPER: "BTCRASH_EHELPER",
              ERUNTIME: "BTCRASH_ERUNTIME", ENOTPRIMITIVE: "BTCRASH_ENOTPRIMITIVE",
              EUTF8: "BTCRASH_EUTF8", EINVAL: "-EINVAL", EALREADY: "-EALREADY",
              ETIMEDOUT: "-ETIMEDOUT", ENOMEM: "-ENOMEM", -errno.ENOENT: "-ENOENT"}


def code_name(v):
    return "%s (%s)" % (v, CODE_NAMES[v]) if v in CODE_NAMES else repr(v)


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# ---------------------------------------------------------------------------
# Runs and what the receiver got


class ProgRun:
    """A test program's run: the Proc plus its "RC name value" lines."""

    def __init__(self, proc):
        self.proc = proc
        self.rcs = {}
        self.lines = proc.out.splitlines()
        for ln in self.lines:
            m = re.match(r"^RC (\S+) (-?\d+)$", ln)
            if m:
                self.rcs[m.group(1)] = int(m.group(2))

    def __getattr__(self, name):
        return getattr(self.proc, name)

    def value(self, prefix):
        """The rest of the first stdout line starting with @prefix + ' '."""
        for ln in self.lines:
            if ln.startswith(prefix + " "):
                return ln[len(prefix) + 1:]
        return None


class Upload:
    """One request to the receiver, with its parts and its report."""

    def __init__(self, req, parts, report, raw):
        self.req = req
        self.parts = parts
        self.by_name = {p.name: p for p in parts}
        self.report = report
        self.raw = raw

    @property
    def attrs(self):
        a = self.report.get("attributes")
        return a if isinstance(a, dict) else {}

    @property
    def ann(self):
        a = self.report.get("annotations")
        return a if isinstance(a, dict) else {}

    @property
    def uuid(self):
        return self.report.get("uuid")


class T:
    def __init__(self, args, case):
        self.a = args
        self.case = case
        self.c = Checker()
        self.tmp = tempfile.mkdtemp(prefix="btcrash-api-%s-" % case)
        self.lib = os.path.abspath(args.lib)
        self.helper = os.path.abspath(args.helper)
        self.progs = os.path.abspath(args.progs)
        self.src = norm(os.path.abspath(args.src))
        self.receivers = []
        self.n = 0

    def say(self, msg):
        print(msg, flush=True)

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def newdir(self, name):
        self.n += 1
        p = self.path("%s-%d" % (name, self.n))
        os.makedirs(p)
        return p

    def receiver(self, mode="ok", delay=0.0):
        rx = rxmod.Receiver(mode=mode, delay=delay).start()
        self.receivers.append(rx)
        return rx

    def close(self):
        for rx in self.receivers:
            rx.stop()

    def env(self, db, **extra):
        env = base_env()
        env["BACKTRACE_DATABASE_PATH"] = db
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def exe(self, prog, weak=False):
        return os.path.join(self.progs, prog + ("_weak" if weak else ""))

    def prog(self, prog, args, env, weak=False, preload=None, timeout=RUN_TIMEOUT, what=None):
        """Runs a test program: linked (@weak False) or its -DBTCRASH_WEAK
        build; @preload None preloads the library for weak builds only."""
        env = dict(env)
        if preload is None:
            preload = weak
        if isinstance(preload, str):
            env["LD_PRELOAD"] = preload  # another copy of the library
        elif preload:
            env["LD_PRELOAD"] = self.lib
        else:
            env.pop("LD_PRELOAD", None)
        argv = [self.exe(prog, weak)] + list(args)
        return self.run_argv(argv, env, timeout, what)

    def run_argv(self, argv, env, timeout=RUN_TIMEOUT, what=None):
        what = what or " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(argv))
        r = ProgRun(run(argv, env, self.newdir("cwd"), timeout=timeout))
        r.what = what
        self.say("%s: %s in %.2f s" % (what, r.describe(), r.death_mono - r.start_mono))
        if self.a.verbose:
            print("--- stdout:\n%s--- stderr:\n%s" % (r.out[-6000:], r.err[-6000:]))
        self.c.check(not r.lingering, "%s: processes of its group still alive after it ended: %r"
                     % (what, r.lingering))
        return r

    def cmd(self, args, db, **env_extra):
        env = self.env(db, **env_extra)
        return self.run_argv([self.helper] + list(args), env, what="btcrash " + " ".join(args))

    # -- checks
    def exit0(self, r):
        return self.c.check(r.exitcode == 0, "%s: %s, expected exit 0\n--- stdout:\n%s\n--- "
                            "stderr:\n%s" % (r.what, r.describe(), r.out[-3000:], r.err[-3000:]))

    def rc(self, r, name, expected):
        """RC line @name equals @expected (a value or a tuple of allowed ones)."""
        got = r.rcs.get(name)
        allowed = expected if isinstance(expected, tuple) else (expected,)
        return self.c.check(got in allowed, "%s: %s returned %s, expected %s" % (
            r.what, name, "nothing (no RC line)" if got is None else code_name(got),
            " or ".join(code_name(v) for v in allowed)))

    def uploads(self, rx, n, what, timeout=10.0):
        """Waits for @n requests; returns them all as Uploads (failures
        recorded for unparseable ones)."""
        reqs = rx.wait_requests(n, timeout)
        out = []
        for i, q in enumerate(reqs):
            w = "%s: request %d" % (what, i)
            try:
                parts = q.multipart()
            except ValueError as e:
                self.c.fail("%s is not valid multipart/form-data: %s" % (w, e))
                continue
            ups = [p for p in parts if p.name == "upload_file"]
            if not self.c.check(len(ups) == 1, "%s: expected one upload_file part: %r"
                                % (w, parts)):
                continue
            try:
                rep = json.loads(ups[0].data)
            except ValueError as e:
                self.c.fail("%s: upload_file is not JSON: %s" % (w, e))
                continue
            if not self.c.check(isinstance(rep, dict), "%s: report is not an object" % w):
                continue
            out.append(Upload(q, parts, rep, ups[0].data))
        return out

    def stored_same(self, up, db, what, state="sent"):
        """The upload is the stored report, byte for byte, in state @state."""
        reps = reports(db)
        rep = reps.get(up.uuid)
        if not self.c.check(rep is not None, "%s: report %s is not in the database %s (holds %r)"
                            % (what, up.uuid, db, sorted(reps))):
            return None
        self.c.check(rep.raw == up.raw, "%s: upload_file (%d bytes) differs from the stored "
                     "%s (%d bytes)" % (what, len(up.raw), rep.json_path, len(rep.raw)))
        if state:
            self.c.eq(rep.state_name, state, "%s: state of %s (%s)" % (what, rep.uuid,
                                                                      rep.state_raw))
            if state == "sent" and up.req.rxid:
                self.c.eq((rep.state or {}).get("rxid"), up.req.rxid,
                          "%s: rxid in %s.state" % (what, rep.uuid))
        return rep

    def check_common(self, up, what, prog, error_type="Exception", classifier=None,
                     message=None):
        """What every API report holds: the Backtrace JSON fields of a crash
        report, error.type/message and the classifier."""
        rep = up.report
        self.c.check(isinstance(up.uuid, str) and UUID_RE.match(up.uuid),
                     "%s: uuid %r" % (what, up.uuid))
        for key, typ in (("threads", dict), ("attributes", dict), ("annotations", dict),
                         ("mainThread", str)):
            self.c.check(isinstance(rep.get(key), typ), "%s: %s missing or not a %s: %r"
                         % (what, key, typ.__name__, str(rep.get(key))[:200]))
        self.c.check(is_int(rep.get("timestamp")) and abs(rep["timestamp"] - time.time()) < 600,
                     "%s: timestamp %r is not now" % (what, rep.get("timestamp")))
        self.c.eq(rep.get("agent"), "btcrash", "%s: agent" % what)
        self.c.eq(rep.get("lang"), "c", "%s: lang" % what)
        a = up.attrs
        self.c.eq(a.get("error.type"), error_type, "%s: attributes['error.type']" % what)
        if message is not None:
            self.c.eq(a.get("error.message"), message, "%s: attributes['error.message']" % what)
        if classifier is not None:
            self.c.eq(rep.get("classifiers"), [classifier], "%s: classifiers" % what)
        self.c.eq(a.get("application"), prog, "%s: attributes['application'] (automatic)" % what)
        for k in ("process.id", "hostname", "uname.sysname", "cpu.arch"):
            self.c.check(k in a, "%s: automatic attribute %s missing" % (what, k))
        for k in ("signal", "signal.code", "fault.address"):
            self.c.check(k not in a, "%s: attribute %s=%r in a report that is not a crash"
                         % (what, k, a.get(k)))
        bad = {k: v for k, v in a.items() if not isinstance(v, (str, int, float, bool))}
        self.c.check(not bad, "%s: attributes that are not primitives: %r" % (what, bad))
        mt = rep.get("mainThread")
        th = rep.get("threads") if isinstance(rep.get("threads"), dict) else {}
        self.c.check(mt in th, "%s: mainThread %r not in threads %r" % (what, mt, list(th)))

    def main_frames(self, up):
        th = (up.report.get("threads") or {}).get(up.report.get("mainThread"))
        return report_frames(up.report, th) if isinstance(th, dict) else []

    def check_no_btcrash_frames(self, up, what):
        th = (up.report.get("threads") or {}).get(up.report.get("mainThread"))
        stack = th.get("stack") if isinstance(th, dict) else None
        if not self.c.check(isinstance(stack, list) and stack, "%s: the calling thread has no "
                            "frames" % what):
            return
        bad = [f for f in stack if isinstance(f, dict) and (
            "btcrash" in os.path.basename(str(f.get("library", ""))) or
            str(f.get("funcName", "")).startswith("btcrash_") or
            str(f.get("funcName", "")).startswith("btc_"))]
        self.c.check(not bad, "%s: the calling thread's stack holds btcrash frames: %s" % (
            what, json.dumps(bad)[:1500]))

    def check_first_frame(self, up, what, func, file, marker):
        frames = self.main_frames(up)
        if not self.c.check(frames, "%s: calling thread has no frames" % what):
            return
        f = frames[0]
        line = marker_line(os.path.join(self.src, file), marker) if marker else None
        want = (func, os.path.join(self.src, file), line)
        got = (f.func, norm(f.file), f.line if line else None)
        self.c.check(got == want, "%s: the calling thread's first frame is %r, expected %s at "
                     "%s:%s (the function that called the API)\nstack:\n    %s" % (
                         what, f, func, file, line,
                         "\n    ".join(repr(x) for x in frames[:12])))


def strings_with(lines, prefix):
    return [ln[len(prefix):] for ln in lines if ln.startswith(prefix)]


# ---------------------------------------------------------------------------
# values


VALUES_ENV_ATTRS = {"env.kept": "env", "env.overridden": "env",
                    "envnest": {"a": 1, "b": "env"}, "env.num": 2.5}

VALUES_EXPECT = {
    "v.str": 'hello "world" \u00e9',
    "v.int": -42,
    "v.int_big": 1234567890123,
    "v.int_min": -2 ** 63,
    "v.double": 3.25,
    "v.double_whole": 2.0,
    "v.double_tenth": 0.1,
    "v.double_huge": 1e300,
    "v.double_tiny": 5e-324,
    "v.double_neg": -1.5e-7,
    "v.int_max": 2 ** 63 - 1,
    "v.bool_true": True,
    "v.bool_seven": True,
    "v.bool_false": False,
    "v.str_numeric": "17",
    "v.retyped": "now a string",
    "outer.inner.deep": 1,
    "outer.inner.s": "x",
    "outer.flag": True,
    "top": "t",
    "pi": 3.5,
    "neg": -7,
    "f": False,
    "hostname": "api-override-host",
    "env.kept": "env",
    "env.overridden": "from-report",
    "env.num": 2.5,
    "envnest.a": 1,
    "envnest.b": "from-report",
}


def same_typed(got, want):
    """Equal, and the same JSON type: 2.0 is not 2, True is not 1."""
    if isinstance(want, bool) or isinstance(got, bool):
        return isinstance(want, bool) and isinstance(got, bool) and got == want
    if isinstance(want, float):
        return isinstance(got, float) and got == want
    if isinstance(want, int):
        return is_int(got) and got == want
    return type(got) is type(want) and got == want


def check_values_attrs(t, attrs, what, expect, absent=("outer", "outer.inner", "envnest")):
    for k, v in expect.items():
        if not t.c.check(k in attrs, "%s: attribute %r missing" % (what, k)):
            continue
        t.c.check(same_typed(attrs[k], v), "%s: attribute %r = %s (%s), expected %s (%s)" % (
            what, k, json.dumps(attrs[k]), type(attrs[k]).__name__, json.dumps(v),
            type(v).__name__))
    for k in absent:
        t.c.check(k not in attrs, "%s: nested object kept as attribute %r = %r (must be "
                  "flattened with dots)" % (what, k, attrs.get(k)))


def case_values(t):
    """Attribute types (string, integer, double, bool) survive the trip as
    JSON types; nested dict attributes are flattened with dots; the report's
    attributes override automatic ones (hostname) and BACKTRACE_ATTRIBUTES;
    get_attributes gives the same, without the automatic ones. Linked, and
    weak under LD_PRELOAD."""
    for weak in (False, True):
        how = "weak build under LD_PRELOAD" if weak else "linked build"
        rx = t.receiver("ok")
        db = t.path("db-%s" % ("weak" if weak else "linked"))
        env = t.env(db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TIMEOUT=SEND_TIMEOUT,
                    BACKTRACE_ATTRIBUTES=json.dumps(VALUES_ENV_ATTRS))
        r = t.prog("api_values", ["values"], env, weak=weak, what="api_values values (%s)" % how)
        t.exit0(r)
        for name in ("str", "int", "int_big", "int_min", "double", "double_int", "double_tenth",
                     "double_huge", "double_tiny", "double_neg", "int_max", "bool_true",
                     "bool_seven", "bool_false", "str_numeric", "retype1", "retype2", "dict",
                     "hostname", "env_override", "env_override_dict", "capture"):
            t.rc(r, name, 0)
        t.rc(r, "send", BTCRASH_SENT)
        # get_attributes: what was set, over BACKTRACE_ATTRIBUTES; flat.
        text = r.value("ATTRS values")
        try:
            got = json.loads(text) if text is not None else None
        except ValueError as e:
            got = None
            t.c.fail("%s: get_attributes gave no JSON: %s: %r" % (how, e, text))
        if t.c.check(isinstance(got, dict), "%s: get_attributes: %r" % (how, text)):
            check_values_attrs(t, got, "%s: get_attributes" % how, VALUES_EXPECT)
            auto = [k for k in ("process.id", "uname.sysname", "cpu.arch") if k in got]
            t.c.check(not auto, "%s: get_attributes holds automatic attributes %r (header: "
                      "they are added when it is sent)" % (how, auto))
        ups = t.uploads(rx, 1, how)
        t.c.eq(len(rx.snapshot()), 1, "%s: requests to the receiver" % how)
        if not ups:
            t.c.fail("%s: the receiver got no report\n--- stderr:\n%s" % (how, r.err[-2000:]))
            continue
        up = ups[0]
        t.check_common(up, how, "api_values" + ("_weak" if weak else ""))
        check_values_attrs(t, up.attrs, "%s: sent report" % how, VALUES_EXPECT)
        t.c.eq(up.attrs.get("process.id"), r.pid, "%s: attributes['process.id']" % how)
        t.check_first_frame(up, how, "detect_error", "api_values.c", "@values_capture")
        t.stored_same(up, db, how)
        if t.a.verbose:
            print(json.dumps(up.attrs, indent=1, sort_keys=True)[:5000])


# ---------------------------------------------------------------------------
# bad input

BAD_EXPECT = {
    "init_bad_timeout": EINVAL,
    "init_bad_attributes": EINVAL,
    "init_bad_attributes_json": EINVAL,
    "init_bad_endpoint": EINVAL,
    "attr_null_r": EINVAL,
    "attr_null_key": EINVAL,
    "attr_null_value": EINVAL,
    "attr_empty_key": EINVAL,
    "attr_bad_utf8_value": EUTF8,
    "attr_bad_utf8_key": EUTF8,
    "int_null_r": EINVAL,
    "int_null_key": EINVAL,
    "int_empty_key": EINVAL,
    "double_null_r": EINVAL,
    "double_null_key": EINVAL,
    "double_nan": EINVAL,
    "double_inf": EINVAL,
    "double_neg_inf": EINVAL,
    "bool_null_r": EINVAL,
    "bool_null_key": EINVAL,
    "dict_null_r": EINVAL,
    "dict_null_json": EINVAL,
    "dict_invalid_json": EINVAL,
    "dict_trailing_garbage": EINVAL,
    "dict_empty_text": EINVAL,
    "dict_not_object": EINVAL,
    "dict_string": EINVAL,
    "dict_array": ENOTPRIMITIVE,
    "dict_null": ENOTPRIMITIVE,
    "dict_nested_array": ENOTPRIMITIVE,
    "dict_nested_null": ENOTPRIMITIVE,
    "dict_partial": ENOTPRIMITIVE,
    "dict_bad_utf8": (EINVAL, EUTF8),  # invalid JSON text, or a bad string in it
    "get_attributes_null_r_is_null": 1,
    "ann_null_r": EINVAL,
    "ann_null_key": EINVAL,
    "ann_null_value": EINVAL,
    "ann_invalid_json": EINVAL,
    "ann_bare_word": EINVAL,
    "anndict_null_r": EINVAL,
    "anndict_null_json": EINVAL,
    "anndict_invalid_json": EINVAL,
    "anndict_not_object": EINVAL,
    "attach_null_r": EINVAL,
    "attach_null_path": EINVAL,
    "attach_empty_path": EINVAL,
    "get_attachments_null_r": 0,
    "get_attachments_none": 0,
    "error_null_r": EINVAL,
    "error_both_null": EINVAL,
    "error_bad_utf8_type": EUTF8,
    "error_bad_utf8_message": EUTF8,
    "capture_null_r": EINVAL,
    "log_null_r": EINVAL,
    "log_null_fmt": EINVAL,
    "log_bad_utf8": EUTF8,
    "send_null_r": EINVAL,
    "free_null_ok": 1,
    "last_bad_attr_json": EINVAL,
    "last_attr_not_object": EINVAL,
    "last_attr_array_value": ENOTPRIMITIVE,
    "last_attr_null_value": ENOTPRIMITIVE,
    "last_bad_ann_json": EINVAL,
    "last_ann_not_object": EINVAL,
    "good_attr": 0,
    "capture": 0,
    "send": BTCRASH_SENT,
    "send_again": EALREADY,
}

# Codes whose explanation must be specific (not the generic text for
# unknown codes) and distinct from each other.
STRERROR_CODES = [BTCRASH_SENT, BTCRASH_PENDING, BTCRASH_STORED, EREJECTED, EHELPER, ERUNTIME,
                  ENOTPRIMITIVE, EUTF8, EINVAL, EALREADY, ETIMEDOUT, ENOMEM, -errno.ENOENT]
UNKNOWN_CODES = [-987654, 987654, -1099]


def case_bad(t):
    """Bad arguments give the documented negative codes, never a crash: NULL
    for every pointer, invalid JSON, non-primitive attribute values (array,
    null, nested array), invalid UTF-8, NaN; btcrash_strerror explains each
    specifically; the program keeps running; failed calls set nothing and
    send nothing; a report is sent once."""
    rx = t.receiver("ok")
    db = t.path("db")
    env = t.env(db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TIMEOUT=SEND_TIMEOUT)
    r = t.prog("api_values", ["bad"], env)
    t.exit0(r)
    t.c.check("ALIVE" in r.lines, "api_values bad did not get to its end (no ALIVE line)")
    for name, want in BAD_EXPECT.items():
        t.rc(r, name, want)
    t.say("get_attachments(r, NULL) returned %s (undocumented; it did not crash)"
          % r.rcs.get("get_attachments_null_out"))
    # Exactly the one good report arrived: none of the failed
    # send_last_exception calls, and the endpoint of the failed
    # initialize was not applied.
    time.sleep(0.5)
    ups = t.uploads(rx, 1, "bad")
    t.c.eq(len(rx.snapshot()), 1, "requests to the receiver (only the good report; failed "
           "send_last_exception calls send nothing)")
    t.c.eq(len(reports(db)), 1, "reports in the database (%r)" % sorted(reports(db)))
    text = r.value("ATTRS bad")
    try:
        got = json.loads(text) if text else None
    except ValueError:
        got = None
    if t.c.check(isinstance(got, dict), "get_attributes after the bad calls: %r" % text):
        t.c.eq(got.get("bad.case"), "survived", "get_attributes['bad.case']")
        leaked = sorted(k for k in got if k in ("k", "a", "a.b", "partial.good", "partial.bad"))
        t.c.eq(leaked, [], "attributes set by failed calls (get_attributes); a failing "
               "set_dict_attributes must set nothing")
    if ups:
        up = ups[0]
        t.check_common(up, "bad", "api_values", error_type="Exception")
        t.c.eq(up.attrs.get("bad.case"), "survived", "sent attributes['bad.case']")
        leaked = sorted(k for k in up.attrs if k in ("k", "a", "a.b", "partial.good",
                                                      "partial.bad"))
        t.c.eq(leaked, [], "sent attributes set by failed calls")
        t.c.check("k" not in up.ann, "annotation 'k' from a failed set_annotation: %r"
                  % up.ann.get("k"))
        log = up.ann.get("Log")
        t.c.check(not log, "Log annotation holds lines from failed btcrash_report_log calls: "
                  "%r" % (log,))
        t.c.check(up.report.get("classifiers") in (None, [], ["Exception"]),
                  "classifiers %r after only failed set_error calls" % (
                      up.report.get("classifiers"),))
        t.stored_same(up, db, "bad")

    # btcrash_strerror: a specific text for every code seen and documented.
    seen = sorted({v for k, v in r.rcs.items() if v < 0})
    codes = sorted(set(STRERROR_CODES) | set(seen))
    s = t.prog("api_values", ["strerror"] + [str(c) for c in codes + UNKNOWN_CODES],
               t.env(db))
    t.exit0(s)
    texts = {}
    for ln in s.lines:
        m = re.match(r"^STR (-?\d+) (.*)$", ln)
        if m:
            texts[int(m.group(1))] = m.group(2)

    def canon(code, text):
        return text.replace(str(code), "#").replace(str(abs(code)), "#")

    generic = {canon(c, texts.get(c, "")) for c in UNKNOWN_CODES}
    t.say("generic text(s) for unknown codes: %r" % sorted(generic))
    for c in UNKNOWN_CODES:
        t.c.check(texts.get(c), "btcrash_strerror(%d) (unknown) is empty" % c)
    by_text = {}
    for c in codes:
        txt = texts.get(c)
        t.say("  strerror(%s) = %r" % (code_name(c), txt))
        if not t.c.check(txt, "btcrash_strerror(%s) is empty or missing" % code_name(c)):
            continue
        t.c.check(canon(c, txt) not in generic, "btcrash_strerror(%s) = %r is the generic "
                  "text for unknown codes" % (code_name(c), txt))
        by_text.setdefault(txt, []).append(c)
    dups = {k: v for k, v in by_text.items() if len(v) > 1}
    t.c.check(not dups, "btcrash_strerror gives one text for several codes: %r" % dups)


# ---------------------------------------------------------------------------
# content


CONTENT_LOG = ["first line", "step 2 of three: 0.50",
               'quotes "q" backslash \\ tab\t newline\n end', "unicode na\u00efve \u2713",
               "x" * 3000, ""]


def case_content(t):
    """The "Log" annotation holds the lines with numeric timestamps of now;
    attachments arrive as parts byte for byte (with BACKTRACE_ATTACHMENTS);
    set_error gives the classifier and error.message, a NULL type a
    "Message" report; annotations with any JSON value arrive intact;
    send_last_exception carries its message, attributes and annotations."""
    d = t.newdir("files")
    a_txt = os.path.join(d, "a.txt")
    b_bin = os.path.join(d, "b.bin")
    e_log = os.path.join(d, "env.log")
    a_data = b"first attachment\nsecond line\n"
    b_data = bytes(range(256)) + b"\r\n--\r\n--boundary\r\n\r\n" + bytes(range(255, -1, -1)) * 300
    e_data = b"from BACKTRACE_ATTACHMENTS\n"
    for p, data in ((a_txt, a_data), (b_bin, b_data), (e_log, e_data)):
        with open(p, "wb") as f:
            f.write(data)
    rx = t.receiver("ok")
    db = t.path("db")
    env = t.env(db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TIMEOUT=SEND_TIMEOUT,
                BACKTRACE_ATTACHMENTS=e_log)
    r = t.prog("api_values", ["content", a_txt, b_bin], env)
    t.exit0(r)
    for name in ("log1", "log2", "log3", "log4", "log5", "log6", "error", "ann_array",
                 "ann_string", "ann_number", "ann_int", "ann_null", "ann_bool", "ann_object",
                 "ann_dict", "capture", "msg_error", "msg_capture"):
        t.rc(r, name, 0)
    for name in ("send", "msg_send", "last"):
        t.rc(r, name, BTCRASH_SENT)
    t.rc(r, "attachments", 2)
    t.c.eq(strings_with(r.lines, "ATTACHMENT "), ["0 " + a_txt, "1 " + b_bin],
           "btcrash_report_get_attachments: the paths in order")
    ups = t.uploads(rx, 3, "content")
    t.c.eq(len(rx.snapshot()), 3, "requests (report, message report, send_last_exception)")
    by_msg = {u.attrs.get("error.message"): u for u in ups}
    start = int(r.value("LOG_START") or 0)
    end = int(r.value("LOG_END") or 0)

    up = by_msg.get("key 'port' is missing")
    if t.c.check(up is not None, "no report with error.message \"key 'port' is missing\"; "
                 "got %r" % list(by_msg)):
        what = "content report"
        t.check_common(up, what, "api_values", classifier="ConfigError",
                       message="key 'port' is missing")
        # Log
        log = up.ann.get("Log")
        if t.c.check(isinstance(log, list), "%s: annotations['Log'] is %r, expected a list"
                     % (what, log)):
            t.c.eq([e.get("msg") if isinstance(e, dict) else e for e in log], CONTENT_LOG,
                   "%s: Log messages" % what)
            prev = None
            for i, e in enumerate(log):
                if not t.c.check(isinstance(e, dict) and sorted(e) == ["msg", "ts"],
                                 "%s: Log[%d] = %r, expected {ts, msg}" % (what, i, e)):
                    continue
                ts = e["ts"]
                if not t.c.check(is_num(ts), "%s: Log[%d].ts = %r is not a number" % (
                        what, i, ts)):
                    continue
                t.c.check(start - 1 <= ts <= end + 1, "%s: Log[%d].ts = %r is not the time "
                          "of the call (between %d and %d)" % (what, i, ts, start, end))
                t.c.check(prev is None or ts >= prev, "%s: Log timestamps go back: %r then %r"
                          % (what, prev, ts))
                prev = ts
        # Annotations, any JSON
        want_ann = {
            "ann.array": [1, 2, {"x": None}],
            "ann.string": "just text",
            "ann.number": 3.5,
            "ann.int": -12,
            "ann.null": None,
            "ann.bool": True,
            "Settings": {"nested": {"deep": [True, False, None]}, "s": "\u00e9"},
            "Dict one": {"a": 1},
            "Dict two": [1, "two", []],
            "Dict three": {},
        }
        for k, v in want_ann.items():
            if t.c.check(k in up.ann, "%s: annotation %r missing (have %r)" % (
                    what, k, sorted(up.ann))):
                t.c.check(up.ann[k] == v and json.dumps(up.ann[k]) == json.dumps(v),
                          "%s: annotation %r = %s, expected %s" % (
                              what, k, json.dumps(up.ann[k]), json.dumps(v)))
        # Attachments, byte for byte
        names = [p.name for p in up.parts]
        t.c.eq(sorted(names), sorted(["upload_file", "attachment_a.txt", "attachment_b.bin",
                                      "attachment_env.log"]),
               "%s: part names (the report's two attachments and BACKTRACE_ATTACHMENTS')"
               % what)
        for name, data in (("attachment_a.txt", a_data), ("attachment_b.bin", b_data),
                           ("attachment_env.log", e_data)):
            p = up.by_name.get(name)
            if p is not None:
                t.c.check(p.data == data, "%s: part %s: %d bytes, differs from the file (%d "
                          "bytes)" % (what, name, len(p.data), len(data)))
        t.check_first_frame(up, what, "detect_error", "api_values.c", "@values_capture")
        t.check_no_btcrash_frames(up, what)
        t.stored_same(up, db, what)

    up = by_msg.get("only a message")
    if t.c.check(up is not None, "no report with error.message 'only a message'"):
        t.check_common(up, "message report", "api_values", error_type="Message",
                       message="only a message")
        t.say("message report classifiers: %r" % (up.report.get("classifiers"),))
        t.c.check(not [p for p in up.parts if p.name.startswith("attachment_")
                       and p.name != "attachment_env.log"],
                  "message report carries the previous report's attachments: %r" % up.parts)

    up = by_msg.get("last exception message")
    if t.c.check(up is not None, "no report from send_last_exception"):
        what = "send_last_exception report"
        t.check_common(up, what, "api_values", message="last exception message")
        t.c.eq(up.attrs.get("last.attr"), "yes", "%s: attributes['last.attr']" % what)
        t.c.check(same_typed(up.attrs.get("last.n"), 5), "%s: attributes['last.n'] = %r, "
                  "expected 5 (nested, flattened)" % (what, up.attrs.get("last.n")))
        t.c.eq(up.ann.get("Last annotation"), {"list": [1, "two", None, {"k": False}]},
               "%s: annotations['Last annotation']" % what)
        frames = t.main_frames(up)
        t.c.eq(frames[0].func if frames else None, "report_last_exception",
               "%s: first frame (the caller of btcrash_send_last_exception)" % what)
        t.check_no_btcrash_frames(up, what)
        t.stored_same(up, db, what)


# ---------------------------------------------------------------------------
# stack vs gdb


def gdb_api_stacks(t, gdb, exe, args, env, cwd, names=("capture", "last")):
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
        if i:
            argv += ["-ex", "continue"]
        argv += ["-ex", "echo ==== bt %s\\n" % name, "-ex", "bt", "-ex", "echo ==== end\\n"]
    argv += ["-ex", "kill", "--args", exe] + list(args)
    r = run(argv, env, cwd, timeout=GDB_TIMEOUT, linger_wait=2.0)
    out = r.stdout.decode("utf-8", "replace")
    stacks = {}
    for name in names:
        m = re.search(r"==== bt %s\n(.*?)==== end" % name, out, re.S)
        frames = parse_gdb_bt(m.group(1)) if m else []
        i = 0
        while i < len(frames) and not is_own(frames[i].file, t.src):
            i += 1
        stacks[name] = (frames[:i], [f for f in frames[i:] if is_own(f.file, t.src)], frames)
    return stacks, out


def case_stack(t):
    """btcrash_report_capture_stack and btcrash_send_last_exception: the
    calling thread is mainThread, its first frame is the function that called
    the API (no btcrash frames), and its frames equal gdb's from the caller
    on; from the main thread and from a worker thread, whose report also
    holds the other thread."""
    if not t.a.gdb or not shutil.which(t.a.gdb):
        t.c.fail("gdb not found: %r" % t.a.gdb)
        return
    src = os.path.join(t.src, "api_stack.c")
    for mode in ("main", "thread"):
        exe = t.exe("api_stack")
        gdb_env = t.env(t.path("db-gdb-%s" % mode))
        stacks, out = gdb_api_stacks(t, t.a.gdb, exe, [mode], gdb_env, t.newdir("gdb"))
        for name, marker in (("capture", "@capture"), ("last", "@last")):
            inside, own, _ = stacks[name]
            t.say("gdb %s/%s: %d frame(s) in btcrash, own: %r" % (mode, name, len(inside), own))
            want0 = ("load_settings" if name == "capture" else "handle_failure", src,
                     marker_line(src, marker))
            if not t.c.check(own and (own[0].func, norm(own[0].file), own[0].line) == want0,
                             "[harness self-check] gdb's first own frame at %s (%s) is %r, "
                             "expected %r\n%s" % (name, mode, own[0] if own else None, want0,
                                                  out[-3000:])):
                return
        rx = t.receiver("ok")
        db = t.path("db-%s" % mode)
        env = t.env(db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TIMEOUT=SEND_TIMEOUT)
        r = t.prog("api_stack", [mode], env, what="api_stack %s" % mode)
        t.exit0(r)
        t.rc(r, "capture", 0)
        t.rc(r, "send", BTCRASH_SENT)
        t.rc(r, "last", BTCRASH_SENT)
        caller = r.value("CALLER_TID")
        main_tid = r.value("MAIN_TID")
        ups = t.uploads(rx, 2, mode)
        t.c.eq(len(rx.snapshot()), 2, "%s: requests (report and send_last_exception)" % mode)
        by_msg = {u.attrs.get("error.message"): u for u in ups}
        for name, msg in (("capture", "stack test"), ("last", "handled failure")):
            up = by_msg.get(msg)
            what = "%s thread, %s" % (mode, "capture_stack" if name == "capture"
                                      else "send_last_exception")
            if not t.c.check(up is not None, "%s: no report with error.message %r" % (
                    what, msg)):
                continue
            t.check_common(up, what, "api_stack",
                           classifier="StackError" if name == "capture" else None)
            t.c.eq(up.report.get("mainThread"), caller, "%s: mainThread (the calling thread's "
                   "tid)" % what)
            threads = up.report.get("threads") or {}
            ct = threads.get(caller) if isinstance(threads.get(caller), dict) else {}
            if mode == "thread":
                t.c.eq(ct.get("name"), "api-caller", "%s: the calling thread's name" % what)
                mt = threads.get(main_tid)
                if t.c.check(isinstance(mt, dict), "%s: the other thread (main, tid %s) is not "
                             "in the report: %r" % (what, main_tid, list(threads))):
                    mframes = report_frames(up.report, mt)
                    want = ("main", src, marker_line(src, "@main_join"))
                    t.c.check(any((f.func, norm(f.file), f.line) == want for f in mframes),
                              "%s: the main thread has no frame main at api_stack.c:%d "
                              "(pthread_join); stack:\n    %s" % (
                                  what, want[2], "\n    ".join(repr(f) for f in mframes)))
                t.c.eq(len(threads), 2, "%s: threads in the report (%r)" % (
                    what, {k: v.get("name") for k, v in threads.items()
                           if isinstance(v, dict)}))
            else:
                t.c.eq(len(threads), 1, "%s: threads in the report" % what)
            t.check_no_btcrash_frames(up, what)
            rframes = t.main_frames(up)
            gown = stacks[name][1]
            rown = [f for f in rframes if is_own(f.file, t.src)]
            t.c.check(rframes and gown and rframes[0].key() == gown[0].key(),
                      "%s: the first frame is %r, gdb's caller frame is %r" % (
                          what, rframes[0] if rframes else None, gown[0] if gown else None))
            problems = []
            for i in range(max(len(gown), len(rown))):
                g = gown[i] if i < len(gown) else None
                f = rown[i] if i < len(rown) else None
                if g is None or f is None or g.key() != f.key():
                    problems.append("own frame %d: gdb %r, report %r" % (i, g, f))
            t.c.check(not problems, "%s: the calling thread's frames differ from gdb's:\n  %s"
                      "\nfull stacks (gdb | report):\n%s" % (
                          what, "\n  ".join(problems),
                          format_stacks("gdb", stacks[name][2], "report", rframes)))
            if t.a.verbose:
                print(format_stacks("gdb", stacks[name][2], "report", rframes))
            t.stored_same(up, db, what)


def case_stack_inline(t):
    """The caller of btcrash_report_capture_stack inlined at -O2: the report's
    first frame is the inlined function (inlined), then the function it is
    inlined into, as gdb shows them."""
    if not t.a.gdb or not shutil.which(t.a.gdb):
        t.c.fail("gdb not found: %r" % t.a.gdb)
        return
    src = os.path.join(t.src, "api_inline.c")
    exe = t.exe("api_inline")
    stacks, out = gdb_api_stacks(t, t.a.gdb, exe, [], t.env(t.path("db-gdb")), t.newdir("gdb"),
                                 names=("capture",))
    inside, gown, gall = stacks["capture"]
    want = [("inner_check", src, marker_line(src, "@capture"), True),
            ("validate", src, marker_line(src, "@inline_call"), False),
            ("main", src, marker_line(src, "@main"), None)]  # outermost: gdb cannot tell

    def same(frames, wanted):
        return len(frames) == len(wanted) and all(
            f[:3] == w[:3] and (w[3] is None or f[3] == w[3]) for f, w in zip(frames, wanted))

    got = [(f.func, norm(f.file), f.line, f.inlined) for f in gown]
    if not t.c.check(same(got, want), "[harness self-check] gdb's own frames %r, expected %r\n%s"
                     % (got, want, out[-3000:])):
        return
    rx = t.receiver("ok")
    db = t.path("db")
    r = t.prog("api_inline", [], t.env(db, BACKTRACE_ENDPOINT=rx.url,
                                       BACKTRACE_TIMEOUT=SEND_TIMEOUT))
    t.exit0(r)
    t.rc(r, "capture", 0)
    t.rc(r, "send", BTCRASH_SENT)
    ups = t.uploads(rx, 1, "inline")
    if not t.c.check(ups, "no report received"):
        return
    up = ups[0]
    t.check_common(up, "inline", "api_inline", classifier="InlineError")
    t.check_no_btcrash_frames(up, "inline")
    rframes = t.main_frames(up)
    rown = [(f.func, norm(f.file), f.line, f.inlined) for f in rframes
            if is_own(f.file, t.src)]
    t.c.check(rframes and (rframes[0].func, norm(rframes[0].file), rframes[0].line) ==
              want[0][:3], "the first frame is %r, expected the inlined caller %s at %s:%d"
              % (rframes[0] if rframes else None, want[0][0], "api_inline.c", want[0][2]))
    t.c.check(same(rown, want), "own frames (function, file, line, inlined) differ from gdb's:\n"
              "  report %r\n  gdb    %r\nfull stacks (gdb | report):\n%s" % (
                  rown, want, format_stacks("gdb", gall, "report", rframes)))


def case_attach(t):
    """An attachment is read when the report is sent, not when it is added;
    a missing one does not stop the report, which then carries the others."""
    d = t.newdir("files")
    path = os.path.join(d, "late.txt")
    missing = os.path.join(d, "missing.bin")
    with open(path, "wb") as f:
        f.write(b"content at add\n")
    rx = t.receiver("ok")
    db = t.path("db")
    r = t.prog("api_modes", ["attach", path, missing, "attach"],
               t.env(db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TIMEOUT=SEND_TIMEOUT))
    t.exit0(r)
    t.rc(r, "attach", 0)
    t.rc(r, "attach_missing", 0)
    t.rc(r, "send", BTCRASH_SENT)
    ups = t.uploads(rx, 1, "attach")
    if not t.c.check(ups, "no report received"):
        return
    up = ups[0]
    t.c.eq(sorted(p.name for p in up.parts), ["attachment_late.txt", "upload_file"],
           "part names (the missing attachment skipped)")
    p = up.by_name.get("attachment_late.txt")
    if p is not None:
        t.c.eq(p.data, b"content at send\n", "attachment_late.txt: the file's content when "
               "the report was sent")
    blob = json.dumps(up.report)
    t.c.check("missing.bin" in blob, "the report does not note the missing attachment %s"
              % missing)


def case_flush_pending(t):
    """An API report the server did not accept (HTTP 500) stays pending with
    a copy of its attachment, and `btcrash flush` sends it later, byte for
    byte, with the attachment as it was when the report was sent."""
    d = t.newdir("files")
    path = os.path.join(d, "late.txt")
    with open(path, "wb") as f:
        f.write(b"content at add\n")
    rx = t.receiver(500)
    db = t.path("db")
    env = dict(BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TIMEOUT=SEND_TIMEOUT)
    r = t.prog("api_modes", ["attach", path, os.path.join(d, "none"), "flush"],
               t.env(db, **env))
    t.exit0(r)
    t.rc(r, "send", BTCRASH_PENDING)
    stored = reports(db)
    if not t.c.check(len(stored) == 1, "reports stored: %r" % sorted(stored)):
        return
    rep = list(stored.values())[0]
    t.c.eq(rep.state_name, "pending", "state after HTTP 500 (%s)" % rep.state_raw)
    with open(path, "wb") as f:
        f.write(b"changed after the send\n")
    rx.set_mode("ok")
    n0 = len(rx.snapshot())
    fr = t.cmd(["flush"], db, **env)
    t.say("flush: %s" % (fr.out + fr.err).strip())
    t.c.eq(fr.exitcode, 0, "exit status of `btcrash flush`")
    ups = t.uploads(rx, n0 + 1, "flush")[n0:]
    if not t.c.check(len(ups) == 1, "requests during flush: %d" % len(ups)):
        return
    up = ups[0]
    t.c.eq(up.uuid, rep.uuid, "uuid of the flushed report")
    t.c.check(up.raw == rep.raw, "flushed upload_file differs from the stored report")
    p = up.by_name.get("attachment_late.txt")
    if t.c.check(p is not None, "flush sent no attachment_late.txt: %r" % up.parts):
        t.c.eq(p.data, b"content at send\n", "flushed attachment: the content when the "
               "report was sent")
    t.c.eq(reports(db)[rep.uuid].state_name, "sent", "state after flush")


def case_fork(t):
    """The API works in a child after fork and in the parent afterwards:
    three reports, each with its own process's pid and thread."""
    rx = t.receiver("ok")
    db = t.path("db")
    r = t.prog("api_modes", ["fork"], t.env(db, BACKTRACE_ENDPOINT=rx.url,
                                            BACKTRACE_TIMEOUT=SEND_TIMEOUT))
    t.exit0(r)
    for name in ("send_parent_before", "send_child", "send_parent_after"):
        t.rc(r, name, BTCRASH_SENT)
    t.rc(r, "child_status", 0)
    child = r.value("CHILD_PID")
    ups = t.uploads(rx, 3, "fork")
    t.c.eq(len(rx.snapshot()), 3, "requests (before fork, child, after)")
    by_tag = {u.attrs.get("mode.tag"): u for u in ups}
    for tag, pid in (("parent-before", r.pid), ("child", int(child) if child else None),
                     ("parent-after", r.pid)):
        u = by_tag.get(tag)
        if not t.c.check(u is not None, "no report tagged %s (got %r)" % (tag, list(by_tag))):
            continue
        t.c.eq(u.attrs.get("process.id"), pid, "%s: attributes['process.id']" % tag)
        t.c.eq(u.report.get("mainThread"), str(pid), "%s: mainThread" % tag)
        fr = t.main_frames(u)
        t.c.eq(fr[0].func if fr else None, "send_tagged", "%s: first frame" % tag)


# ---------------------------------------------------------------------------
# threads


def case_threads(t):
    """8 threads send 50 reports each at once against the receiver: every
    send returns BTCRASH_SENT, all 400 arrive, with 400 distinct uuids, each
    once with its own attributes; the report every thread wrote into at once
    holds every thread's attributes and log lines, in each thread's order."""
    nthreads, per = 8, 50
    rx = t.receiver("ok")
    db = t.path("db")
    env = t.env(db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TIMEOUT=SEND_TIMEOUT)
    r = t.prog("api_threads", [str(nthreads), str(per)], env, timeout=THREADS_TIMEOUT)
    t.exit0(r)
    total = nthreads * per
    res = r.value("RESULT")
    t.c.eq(res, "sent=%d other=0" % total, "api_threads result (sends that returned "
           "BTCRASH_SENT)")
    bad = strings_with(r.lines, "BADRC ")
    if bad:
        codes = {}
        for b in bad:
            parts = b.split(" ", 3)
            codes[parts[2] + " " + (parts[3] if len(parts) > 3 else "")] = codes.get(
                parts[2] + " " + (parts[3] if len(parts) > 3 else ""), 0) + 1
        t.c.fail("sends that did not return BTCRASH_SENT, by code: %r (first: %r)" % (
            codes, bad[:5]))
    t.rc(r, "shared_send", BTCRASH_SENT)
    ups = t.uploads(rx, total + 1, "threads", timeout=30)
    t.say("receiver got %d requests" % len(rx.snapshot()))
    t.c.eq(len(rx.snapshot()), total + 1, "requests (%d reports + the shared one)" % total)
    uuids = [u.uuid for u in ups]
    t.c.eq(len(set(uuids)), len(uuids), "distinct uuids among the %d reports received"
           % len(uuids))
    grid = {}
    shared = []
    for u in ups:
        a = u.attrs
        if a.get("error.message") == "written by every thread":
            shared.append(u)
            continue
        key = (a.get("thread.index"), a.get("thread.seq"))
        grid.setdefault(key, []).append(u)
        log = u.ann.get("Log")
        msgs = [e.get("msg") for e in log if isinstance(e, dict)] if isinstance(log, list) \
            else None
        if msgs != ["thread %s report %s" % key]:
            t.c.fail("report %s (thread %s seq %s): Log %r, expected its one line" % (
                u.uuid, key[0], key[1], log))
        fr = t.main_frames(u)
        if not fr or fr[0].func != "send_one":
            t.c.fail("report %s: first frame %r, expected send_one" % (
                u.uuid, fr[0] if fr else None))
    want = {(i, j) for i in range(nthreads) for j in range(per)}
    missing = sorted(want - set(grid))
    dup = sorted(k for k, v in grid.items() if len(v) > 1)
    extra = sorted(set(grid) - want, key=repr)
    t.c.eq(missing[:20], [], "(thread, seq) reports that never arrived (%d in all)"
           % len(missing))
    t.c.eq(dup[:20], [], "(thread, seq) reports that arrived more than once")
    t.c.eq(extra[:20], [], "reports with unexpected thread.index/seq")
    if t.c.check(len(shared) == 1, "shared reports received: %d" % len(shared)):
        s = shared[0]
        for i in range(nthreads):
            t.c.check(same_typed(s.attrs.get("shared.t%d" % i), per - 1),
                      "shared report: attributes['shared.t%d'] = %r, expected %d (the last "
                      "value that thread set)" % (i, s.attrs.get("shared.t%d" % i), per - 1))
        log = s.ann.get("Log")
        msgs = [e.get("msg") for e in log if isinstance(e, dict)] if isinstance(log, list) \
            else []
        t.c.eq(len(msgs), total, "shared report: Log lines")
        for i in range(nthreads):
            mine = [m for m in msgs if m.startswith("t%d " % i)]
            t.c.check(mine == ["t%d %d" % (i, j) for j in range(per)],
                      "shared report: thread %d's log lines are not all there in order: %r"
                      % (i, mine[:10]))


# ---------------------------------------------------------------------------
# modes: no global handler, linked vs weak


def case_modes(t):
    """BACKTRACE_DISABLE_GLOBAL_HANDLER=1: a crash gives no report (nothing
    stored, nothing sent) and the program dies as without btcrash (SIGSEGV,
    same core-dump bit), while the API report sent before it arrives. The
    program works linked with -lbtcrash and unlinked (weak) under
    LD_PRELOAD; the weak build without btcrash says "not loaded"."""
    tag = "mode-check"
    base = t.prog("api_modes", ["send-crash", tag], t.env(t.path("db-none")), weak=True,
                  preload=False, what="api_modes_weak send-crash without btcrash (baseline)")
    t.c.check(base.termsig == signal.SIGSEGV, "[harness self-check] baseline %s, expected "
              "SIGSEGV" % base.describe())
    t.c.check("btcrash is not loaded" in base.out, "weak build without btcrash: no \"btcrash "
              "is not loaded\" on stdout: %r" % base.out)
    base_core = bool(os.WCOREDUMP(base.status)) if base.signaled else None
    for weak, preload, disabled in ((False, False, True), (True, True, True),
                                    (False, False, False), (True, True, False),
                                    (False, True, True)):
        how = "%s%s, %s" % ("weak under LD_PRELOAD" if weak else "linked",
                            " + LD_PRELOAD" if preload and not weak else "",
                            "BACKTRACE_DISABLE_GLOBAL_HANDLER=1" if disabled else
                            "global handler on (control)")
        rx = t.receiver("ok")
        db = t.path("db-%d" % len(t.receivers))
        env = t.env(db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TIMEOUT=SEND_TIMEOUT,
                    BACKTRACE_DISABLE_GLOBAL_HANDLER="1" if disabled else None)
        r = t.prog("api_modes", ["send-crash", tag], env, weak=weak, preload=preload,
                   what="api_modes send-crash (%s)" % how)
        t.rc(r, "send", BTCRASH_SENT)
        t.c.check("CRASHING" in r.lines, "%s: the program did not get to its crash" % how)
        t.c.check(r.termsig == signal.SIGSEGV, "%s: the program %s, expected killed by "
                  "SIGSEGV\n--- stderr:\n%s" % (how, r.describe(), r.err[-2000:]))
        if r.signaled and base_core is not None:
            t.c.eq(bool(os.WCOREDUMP(r.status)), base_core, "%s: core-dump bit vs without "
                   "btcrash" % how)
        want = 1 if disabled else 2
        t.uploads(rx, want, how, timeout=15)
        time.sleep(1.0)  # a late crash report would show up here
        ups = t.uploads(rx, 0, how)
        kinds = [u.attrs.get("error.type") for u in ups]
        t.say("%s: receiver got %r" % (how, kinds))
        t.c.eq(sorted(str(k) for k in kinds), sorted(["Exception"] if disabled else
                                                     ["Crash", "Exception"]),
               "%s: error.type of the reports received" % how)
        stored = reports(db)
        stored_types = sorted(str(((x.report.get("attributes") or {}).get("error.type")))
                              for x in stored.values())
        t.c.eq(stored_types, sorted(["Exception"] if disabled else ["Crash", "Exception"]),
               "%s: error.type of the reports in the database" % how)
        api = [u for u in ups if u.attrs.get("error.type") == "Exception"]
        if api:
            t.check_common(api[0], how, "api_modes" + ("_weak" if weak else ""),
                           classifier="ModeCheck", message=tag)
            t.c.eq(api[0].attrs.get("mode.tag"), tag, "%s: attributes['mode.tag']" % how)
        if disabled:
            t.c.check("crashed" not in r.err and "report stored" not in r.err,
                      "%s: btcrash's crash summary on stderr though the handler is disabled:"
                      "\n%s" % (how, r.err[-1500:]))

    # The weak build without btcrash, endpoint set: runs, says so, sends
    # nothing.
    rx = t.receiver("ok")
    env = t.env(t.path("db-unloaded"), BACKTRACE_ENDPOINT=rx.url)
    r = t.prog("api_modes", ["send", tag], env, weak=True, preload=False,
               what="api_modes_weak send without btcrash")
    t.exit0(r)
    t.c.check("btcrash is not loaded" in r.out and "DONE" in r.lines,
              "weak build without btcrash: expected \"btcrash is not loaded\" and DONE: %r"
              % r.out)
    time.sleep(0.5)
    t.c.eq(len(rx.snapshot()), 0, "requests from the weak build without btcrash")


def case_initialize(t):
    """btcrash_initialize overrides the environment for reports sent from
    then on, API reports and crashes alike: its endpoint and attributes;
    initialize(NULL) goes back to the environment alone."""
    rx_env = t.receiver("ok")
    rx_init = t.receiver("ok")
    db = t.path("db")
    env = t.env(db, BACKTRACE_ENDPOINT=rx_env.url, BACKTRACE_TIMEOUT=SEND_TIMEOUT,
                BACKTRACE_ATTRIBUTES='{"env.attr": "e"}')
    r = t.prog("api_modes", ["init", rx_init.url, "init"], env)
    for name in ("init_endpoint", "init_null", "init_endpoint_again"):
        t.rc(r, name, 0)
    t.rc(r, "send_init", BTCRASH_SENT)
    t.rc(r, "send_env", BTCRASH_SENT)
    t.c.check(r.termsig == signal.SIGSEGV, "the program %s, expected SIGSEGV" % r.describe())
    ups_init = t.uploads(rx_init, 2, "initialize's endpoint", timeout=15)
    ups_env = t.uploads(rx_env, 1, "the environment's endpoint")
    time.sleep(0.5)
    got_init = sorted((u.attrs.get("error.type"), u.attrs.get("mode.tag")) for u in
                      t.uploads(rx_init, 0, "init"))
    got_env = sorted((u.attrs.get("error.type"), u.attrs.get("mode.tag")) for u in
                     t.uploads(rx_env, 0, "env"))
    t.c.eq(got_init, [("Crash", None), ("Exception", "init-endpoint")],
           "reports at initialize's endpoint (the API report, then the crash after "
           "initialize again)")
    t.c.eq(got_env, [("Exception", "env-endpoint")],
           "reports at the environment's endpoint (after initialize(NULL))")
    for u in ups_init:
        if u.attrs.get("mode.tag") == "init-endpoint":
            t.c.eq(u.attrs.get("init.attr"), "yes", "initialize's attributes in its report")
            t.c.check("env.attr" not in u.attrs, "the options' attributes field replaces "
                      "BACKTRACE_ATTRIBUTES (field by field), but env.attr=%r is there"
                      % u.attrs.get("env.attr"))
    for u in ups_env:
        t.c.eq(u.attrs.get("env.attr"), "e", "BACKTRACE_ATTRIBUTES after initialize(NULL)")
        t.c.check("init.attr" not in u.attrs, "initialize(NULL) kept the earlier options' "
                  "attributes (init.attr=%r)" % u.attrs.get("init.attr"))


def case_outcomes(t):
    """btcrash_report_send's outcome for each server answer: HTTP 400 ->
    BTCRASH_EREJECTED (kept as rejected), 500 -> BTCRASH_PENDING (kept as
    pending), a hung server -> pending (or -ETIMEDOUT) within
    BACKTRACE_TIMEOUT, a missing helper -> BTCRASH_EHELPER."""
    for mode, want, state in ((400, EREJECTED, "rejected"), (500, BTCRASH_PENDING, "pending"),
                              ("hang", (BTCRASH_PENDING, ETIMEDOUT), None)):
        rx = t.receiver(mode)
        db = t.path("db-%s" % mode)
        tmo = 2.0
        env = t.env(db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TIMEOUT="%g" % tmo)
        r = t.prog("api_modes", ["send", "outcome"], env, what="api_modes send (HTTP %s)" % mode)
        t.exit0(r)
        t.rc(r, "send", want)
        took = r.death_mono - r.start_mono
        t.c.check(took <= tmo + 1.5, "HTTP %s: the program took %.2f s; send blocks at most "
                  "BACKTRACE_TIMEOUT (%.1f s)" % (mode, took, tmo))
        t.c.eq(len(rx.snapshot()), 1, "HTTP %s: requests" % mode)
        stored = reports(db)
        if t.c.check(len(stored) == 1, "HTTP %s: reports stored: %r" % (mode, sorted(stored))):
            rep = list(stored.values())[0]
            if state:
                t.c.eq(rep.state_name, state, "HTTP %s: state (%s)" % (mode, rep.state_raw))
            else:
                t.c.eq(rep.state_name, "pending", "hung server: state (%s)" % rep.state_raw)
    db = t.path("db-nohelper")
    rx = t.receiver("ok")
    env = t.env(db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TIMEOUT="5",
                BACKTRACE_HELPER_PATH=t.path("no-such-dir", "btcrash"))
    r = t.prog("api_modes", ["send", "nohelper"], env, what="api_modes send (no helper)")
    t.exit0(r)
    t.rc(r, "send", EHELPER)


def case_runtime(t):
    """libbtcrash.so without libbtcrash-api.so beside it: btcrash_report_new
    returns NULL, send_last_exception BTCRASH_ERUNTIME, a NULL report still
    -EINVAL; strerror and version work; nothing crashes."""
    d = t.newdir("lonely-lib")
    lib = os.path.join(d, "libbtcrash.so")
    shutil.copy2(os.path.realpath(t.lib), lib)
    rx = t.receiver("ok")
    env = t.env(t.path("db"), BACKTRACE_ENDPOINT=rx.url)
    r = t.prog("api_modes", ["runtime"], env, weak=True, preload=lib,
               what="api_modes_weak runtime (no libbtcrash-api.so)")
    t.exit0(r)
    t.c.check("DONE" in r.lines, "the program did not get to its end")
    t.rc(r, "report_new_is_null", 1)
    t.rc(r, "last", ERUNTIME)
    t.rc(r, "send_null", (EINVAL, ERUNTIME))
    t.rc(r, "initialize", (0, ERUNTIME))
    t.say("initialize without the runtime: %s" % code_name(r.rcs.get("initialize")))
    t.c.check(r.value("VERSION"), "btcrash_version without the runtime: %r" % r.value("VERSION"))
    t.c.check("libbtcrash-api.so" in r.err, "no word on stderr about the missing "
              "libbtcrash-api.so:\n%s" % r.err[-1000:])
    t.c.eq(len(rx.snapshot()), 0, "requests without the runtime")


# ---------------------------------------------------------------------------
# local mode and `btcrash show`


def case_local(t):
    """No endpoint: send returns BTCRASH_STORED, the report is in the
    database, and `btcrash show <uuid>` shows it: frames with file:line,
    the Log lines, the error."""
    db = t.path("db")
    r = t.prog("api_values", ["local"], t.env(db))
    t.exit0(r)
    for name in ("error", "log1", "log2", "capture"):
        t.rc(r, name, 0)
    t.rc(r, "send", BTCRASH_STORED)
    stored = reports(db)
    if not t.c.check(len(stored) == 1, "reports in the database: %r\n--- stderr:\n%s" % (
            sorted(stored), r.err[-2000:])):
        return
    rep = list(stored.values())[0]
    t.say("stored %s, state %s" % (rep.uuid, rep.state_raw))
    a = rep.report.get("attributes") or {}
    t.c.eq(a.get("error.type"), "Exception", "stored attributes['error.type']")
    t.c.eq(a.get("error.message"), "stored, not sent", "stored attributes['error.message']")
    t.c.eq(rep.report.get("classifiers"), ["LocalError"], "stored classifiers")
    log = (rep.report.get("annotations") or {}).get("Log")
    t.c.eq([e.get("msg") for e in log] if isinstance(log, list) else log,
           ["local line one", "local line 2"], "stored Log messages")
    src = os.path.join(t.src, "api_values.c")
    line = marker_line(src, "@values_capture")
    for arg in (rep.uuid, rep.uuid[:8]):
        s = t.cmd(["show", arg], db)
        text = ANSI_RE.sub("", s.out)
        what = "`btcrash show %s`" % arg
        t.c.eq(s.exitcode, 0, "exit status of " + what)
        if t.a.verbose:
            print(text[:6000])
        t.c.check(re.search(r"\bdetect_error\b.*api_values\.c:%d\b" % line, text),
                  "%s: no frame detect_error at api_values.c:%d:\n%s" % (what, line, text[:3000]))
        t.c.check(re.search(r"\bmain\b.*api_values\.c:\d+", text),
                  "%s: no frame main with api_values.c:LINE" % what)
        for want in ("local line one", "local line 2", "stored, not sent"):
            t.c.check(want in text, "%s: %r not shown" % (what, want))
    ls = t.cmd(["list"], db)
    t.c.eq(ls.exitcode, 0, "exit status of `btcrash list`")
    t.c.check(rep.uuid in ls.out or rep.uuid[:8] in ls.out,
              "`btcrash list` does not list %s:\n%s" % (rep.uuid, ls.out))


# ---------------------------------------------------------------------------
# the example


def case_demo(t):
    """examples/api_demo.c runs and exits 0 against the receiver: linked, and
    weak under LD_PRELOAD; the weak build without btcrash says it is not
    loaded and exits 0 without sending anything."""
    for exe, preload in ((t.a.demo, False), (t.a.demo_weak, True)):
        if not t.c.check(exe and os.path.exists(exe), "example not built: %r" % exe):
            continue
        how = "%s%s" % (os.path.basename(exe), " under LD_PRELOAD" if preload else "")
        rx = t.receiver("ok")
        db = t.path("db-%d" % len(t.receivers))
        env = t.env(db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TIMEOUT=SEND_TIMEOUT,
                    TMPDIR=t.newdir("tmp"))
        if preload:
            env["LD_PRELOAD"] = t.lib
        r = t.run_argv([exe], env, what=how)
        t.exit0(r)
        ups = t.uploads(rx, 2, how)
        t.c.eq(len(rx.snapshot()), 2, "%s: requests (the report and send_last_exception)" % how)
        rep = [u for u in ups if u.report.get("classifiers") == ["ConfigError"]]
        if t.c.check(rep, "%s: no report with classifiers [ConfigError]: %r" % (
                how, [u.report.get("classifiers") for u in ups])):
            u = rep[0]
            t.check_common(u, how, os.path.basename(exe), classifier="ConfigError",
                           message="settings: key 'port' is missing")
            for k, v in (("settings.format", "ini"), ("settings.size", 42),
                         ("load.seconds", 0.25), ("settings.default", False),
                         ("user.name", "ada"), ("user.id", 7),
                         ("application.version", "1.2.3"), ("demo", True)):
                t.c.check(same_typed(u.attrs.get(k), v), "%s: attributes[%r] = %r, expected "
                          "%r" % (how, k, u.attrs.get(k), v))
            att = [p.name for p in u.parts if p.name.startswith("attachment_api-demo-")]
            t.c.check(att, "%s: no attachment part: %r" % (how, u.parts))
            fr = t.main_frames(u)
            t.c.eq(fr[0].func if fr else None, "load_settings", "%s: first frame" % how)
        t.c.check("api-demo: report:" in r.out, "%s: no outcome line on stdout" % how)
    exe = t.a.demo_weak
    if exe and os.path.exists(exe):
        rx = t.receiver("ok")
        env = t.env(t.path("db-unloaded"), BACKTRACE_ENDPOINT=rx.url)
        r = t.run_argv([exe], env, what="api-demo-weak without btcrash")
        t.exit0(r)
        t.c.check("not loaded" in r.out, "api-demo-weak without btcrash: %r" % r.out)
        time.sleep(0.3)
        t.c.eq(len(rx.snapshot()), 0, "requests from api-demo-weak without btcrash")


CASES = {
    "values": case_values,
    "bad": case_bad,
    "content": case_content,
    "stack": case_stack,
    "stack_inline": case_stack_inline,
    "attach": case_attach,
    "flush_pending": case_flush_pending,
    "fork": case_fork,
    "threads": case_threads,
    "modes": case_modes,
    "initialize": case_initialize,
    "outcomes": case_outcomes,
    "runtime": case_runtime,
    "local": case_local,
    "demo": case_demo,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib")
    ap.add_argument("--helper")
    ap.add_argument("--progs")
    ap.add_argument("--src")
    ap.add_argument("--gdb", default="gdb")
    ap.add_argument("--demo")
    ap.add_argument("--demo-weak", dest="demo_weak")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--verbose", "-v", action="store_true")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("case", nargs="?")
    a = ap.parse_args()
    if a.list:
        print("\n".join(CASES))
        return 0
    if a.case not in CASES:
        ap.error("case must be one of: " + ", ".join(CASES))
    for opt in ("lib", "helper", "progs", "src"):
        if not getattr(a, opt):
            ap.error("--%s is required" % opt)
    t = T(a, a.case)
    print("case %s (tmp %s)" % (a.case, t.tmp), flush=True)
    try:
        for p in (t.lib, t.helper):
            if not os.path.exists(p):
                t.c.fail("%s does not exist (is the product built?)" % p)
        if not t.c.failures:
            CASES[a.case](t)
    except HarnessError as e:
        t.c.fail(str(e))
    finally:
        t.close()
        if a.keep or os.environ.get("BTCRASH_TEST_KEEP"):
            print("kept %s" % t.tmp)
        else:
            shutil.rmtree(t.tmp, ignore_errors=True)
    for n in t.c.notes:
        print("note: " + n)
    if t.c.failures:
        print("\n%d FAILURE(S):" % len(t.c.failures))
        for i, f in enumerate(t.c.failures, 1):
            print("%d. %s" % (i, f))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
